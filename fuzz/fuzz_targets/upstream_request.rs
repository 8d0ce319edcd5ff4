//! The real per-request entry points, request side: the fuzz input is the body a
//! client POSTs to each endpoint. It goes through the router stage
//! (`RouterExchange`: parse `model`/`stream`, resolve the group, mock answers,
//! client errors) and, when routed, through the upstream stage (`UpstreamExchange`:
//! defaults, `drop_params`, model id, translation) as each deployment of a cluster
//! holding every provider — all on the in-memory `MockHost`.
//!
//! Checked: every local reply is an OpenAI-shaped error (or a mock answer), a
//! translated request is a JSON object with a path, the client's key never reaches
//! the provider.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{gateway, paths, send_request, DEPLOYMENTS, ENDPOINTS};

fuzz_target!(|data: &[u8]| {
    let gw = gateway();
    for endpoint in ENDPOINTS {
        for path in paths(endpoint) {
            for deployment in DEPLOYMENTS {
                let (host, upstream) = send_request(gw, path, data, deployment);
                if upstream.is_none() {
                    // Answered (or refused) by the router stage: the same for every
                    // deployment.
                    assert!(host.local_reply.is_some());
                    break;
                }
            }
        }
    }
});
