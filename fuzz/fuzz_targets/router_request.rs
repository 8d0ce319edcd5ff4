//! The router stage on its own, as Envoy drives it: method and path (fixed ones, or
//! the payload's first line), the body delivered in fuzzer-chosen pieces (Envoy
//! buffers; each call sees everything so far), a declared `content-length` or none,
//! a small or a large body limit, and answers sent at once or deferred to the
//! responder stage (virtual keys) which then sends them, narrowing `/models`.
//!
//! Input: `Framed` (see `src/lib.rs`). Flags: bit 0 defer answers, bit 1 a 256-byte
//! body limit, bit 2 the payload's first line is the path, bit 3 GET instead of
//! POST, bit 4 declare `content-length`, bit 5 the key may only use some models,
//! bit 6 a key alias sends the request to another model (the responder routes it
//! again), bits 8–11 pick the path.
//!
//! Checked: at most one local reply (`MockHost` asserts it), every error
//! OpenAI-shaped, a routed request carries route facts the upstream stage can read.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchyard_filter::host::tests::MockHost;
use switchyard_filter::host::Flow;
use switchyard_filter::stages::responder::{ResponderExchange, KEY_MODELS_HEADER};
use switchyard_filter::stages::router::{
    RouteFacts, Router, RouterExchange, ALIAS_TARGET_HEADER, REPLY_PROPERTY, ROUTE_PROPERTY,
};
use switchyard_fuzz::{check_local_reply, router_config, Framed};

const PATHS: [&str; 16] = [
    "/v1/chat/completions",
    "/chat/completions",
    "/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/embeddings?x=1",
    "/openai/deployments/claude/chat/completions?api-version=2024-06-01",
    "/openai/deployments/openai%2Fgpt-4o-mini/embeddings",
    "/v1/models",
    "/models",
    "/health/readiness",
    "/health/liveliness",
    "/switchyard-fallback/context_window/0/gpt-4o/v1/chat/completions",
    "/switchyard-fallback/content_policy/1/gpt-4o/v1/chat/completions",
    "/key/generate",
    "/v2/nothing",
];

fn routers() -> &'static [Router; 4] {
    static ROUTERS: OnceLock<[Router; 4]> = OnceLock::new();
    ROUTERS.get_or_init(|| {
        [(false, 1 << 20), (true, 1 << 20), (false, 256), (true, 256)]
            .map(|(defer, max)| Router::new(&router_config(defer, max)).expect("router config"))
    })
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let defer = input.bit(0);
    let router = &routers()[usize::from(defer) + 2 * usize::from(input.bit(1))];
    let mut payload = input.payload;
    let mut path = PATHS[usize::from(input.flags[1] & 0x0f)].to_string();
    if input.bit(2) {
        let end = payload
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(payload.len());
        path = String::from_utf8_lossy(&payload[..end]).into_owned();
        payload = payload.get(end + 1..).unwrap_or_default();
    }
    let chunks = input.with_payload(payload).chunks();
    let method = if input.bit(3) { "GET" } else { "POST" };
    let length = payload.len().to_string();
    let mut headers = vec![
        (":method", method),
        (":path", path.as_str()),
        ("x-request-id", "rid-1"),
        ("x-switchyard-group", "spoofed"),
    ];
    if input.bit(4) {
        headers.push(("content-length", &length));
    }
    let mut host = MockHost::with_request(&headers, b"");
    let mut ex = RouterExchange::default();
    let mut flow = ex.on_request_headers(router, &mut host, payload.is_empty());
    if flow == Flow::Pause && host.local_reply.is_none() {
        for (i, chunk) in chunks.iter().enumerate() {
            host.request_body.extend_from_slice(chunk);
            let size = host.request_body.len();
            flow = ex.on_request_body(router, &mut host, size, i + 1 == chunks.len());
            if host.local_reply.is_some() || flow == Flow::Continue {
                break;
            }
        }
    }
    check_local_reply(&host);
    if host.local_reply.is_some() {
        return;
    }
    if defer && flow == Flow::Continue && host.local_reply.is_none() && input.bit(6) {
        // A key's alias names another model: the responder routes the request
        // again from its body, and answers or lets it go on, never panicking.
        host.request_headers
            .push((ALIAS_TARGET_HEADER.into(), "claude".into()));
        let mut responder = ResponderExchange::default();
        if responder.on_request_headers(Some(router), &mut host) == Flow::Pause && host.local_reply.is_none() {
            let size = host.request_body.len();
            responder.on_request_body(Some(router), &mut host, size, true);
        }
        if host.local_reply.is_some() {
            check_local_reply(&host);
        }
        return;
    }
    if let Some(raw) = host.properties.get(ROUTE_PROPERTY) {
        assert!(
            RouteFacts::decode(raw).is_some(),
            "route facts the upstream stage cannot read: {:?}",
            String::from_utf8_lossy(raw)
        );
    }
    let deferred = host
        .properties
        .get(REPLY_PROPERTY)
        .is_some_and(|r| !r.is_empty());
    assert!(
        defer || !deferred,
        "an answer was deferred without keys being checked"
    );
    if deferred {
        assert_eq!(
            flow,
            Flow::Continue,
            "a deferred answer waits for ext_authz"
        );
        if input.bit(5) {
            host.request_headers
                .push((KEY_MODELS_HEADER.into(), "gpt-4o, claude".into()));
        }
        ResponderExchange::default().on_request_headers(Some(router), &mut host);
        let reply = host
            .local_reply
            .as_ref()
            .expect("the responder sends the deferred answer");
        assert!(reply.status >= 200);
        check_local_reply(&host);
    }
});
