//! A `ServiceEntry` and, for `https` hosts, a `DestinationRule` per provider host
//! (and per host the filter calls itself: token endpoints, logging collectors).
//!
//! The gateway's own clusters (the `EnvoyFilter`'s) connect to the provider and
//! originate TLS themselves, with SNI and the host's certificate checked. These
//! objects make the hosts part of the mesh's registry, after Istio's egress TLS
//! origination pattern (istio.io, "Egress TLS Origination"):
//!
//! - the `ServiceEntry` (`MESH_EXTERNAL`, DNS) lists the provider's TLS port as
//!   `HTTPS` (what the gateway's clusters send, passed through by SNI) and, for `https`
//!   hosts, port 80 as `HTTP` with `targetPort` the TLS port, so that meshes with
//!   `outboundTrafficPolicy: REGISTRY_ONLY` or an egress gateway know the host;
//! - the `DestinationRule` originates TLS (`SIMPLE`, SNI the host) for port 80: a mesh
//!   workload may call `http://host` and reach the provider over TLS.
//!
//! IP addresses and loopback names get none (a local model server is no mesh host).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{dns_label, IstioOptions};
use crate::plan::{Plan, UpstreamAddress};

/// The plain port a mesh workload calls for TLS origination.
const ORIGINATION_PORT: u16 = 80;

/// Whether `host` gets mesh objects: a DNS name that is not loopback.
fn is_mesh_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_err()
        && bare != "localhost"
        && !bare.ends_with(".localhost")
}

/// Every external host the gateway reaches, once per `(host, port, tls)`.
fn provider_hosts(plan: &Plan) -> BTreeSet<(String, u16, bool)> {
    plan.deployments
        .iter()
        .map(|d| &d.address)
        .chain(plan.token_clusters.values())
        .chain(plan.callback_clusters.values())
        .filter(|a| is_mesh_host(&a.host))
        .map(
            |UpstreamAddress {
                 host, port, tls, ..
             }| (host.clone(), *port, *tls),
        )
        .collect()
}

/// The `ServiceEntry` and `DestinationRule` objects of `plan`'s provider hosts.
pub fn provider_objects(plan: &Plan, opts: &IstioOptions) -> Vec<Value> {
    let mut objects = Vec::new();
    for (host, port, tls) in provider_hosts(plan) {
        let name = dns_label(&format!("switchyard-{host}-{port}"));
        let mut ports = vec![json!({
            "number": port,
            "name": format!("{}-{port}", if tls { "https" } else { "http" }),
            "protocol": if tls { "HTTPS" } else { "HTTP" },
        })];
        if tls && port != ORIGINATION_PORT {
            ports.push(json!({
                "number": ORIGINATION_PORT,
                "name": format!("http-{ORIGINATION_PORT}"),
                "protocol": "HTTP",
                "targetPort": port,
            }));
        }
        objects.push(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": opts.namespace},
            "spec": {
                "hosts": [host],
                "location": "MESH_EXTERNAL",
                "resolution": "DNS",
                "ports": ports,
            },
        }));
        if tls && port != ORIGINATION_PORT {
            objects.push(json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": name, "namespace": opts.namespace},
                "spec": {
                    "host": host,
                    "trafficPolicy": {"portLevelSettings": [{
                        "port": {"number": ORIGINATION_PORT},
                        "tls": {"mode": "SIMPLE", "sni": host},
                    }]},
                },
            }));
        }
    }
    objects
}
