//! The responder stage: the filter instance after Envoy's ext_authz in the listener.
//!
//! When keys are checked, the router stage does not answer anything itself (but
//! health): it keeps its answer — a mock completion, `/models`, a client error — in
//! filter state, ext_authz checks the caller's key (and the model group the router
//! stage resolved), and only then does this stage send the answer. `/models` is
//! narrowed to the models the key may use, which the keyservice passes back through
//! ext_authz as a request header.

use serde_json::Value;

use crate::host::{header_in, Flow, Host};
use crate::router::{decode_reply, DeferredReply, MODELS_LIST_MARKER, REPLY_PROPERTY};
use crate::spend::{KeyFacts, KEY_PROPERTY};

/// Request header the keyservice adds (through ext_authz): the model groups the key
/// may use, comma-separated; absent when it may use all.
pub const KEY_MODELS_HEADER: &str = "x-switchyard-key-models";

/// Keeps only the `/models` entries whose id is in `allowed`.
fn narrow_models(body: &[u8], allowed: &str) -> Vec<u8> {
    let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
    let Ok(mut list) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    if let Some(data) = list.get_mut("data").and_then(Value::as_array_mut) {
        data.retain(|m| {
            m.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| allowed.contains(&id))
        });
    }
    serde_json::to_vec(&list).unwrap_or_else(|_| body.to_vec())
}

/// One request in the responder stage.
#[derive(Debug, Default)]
pub struct ResponderExchange;

impl ResponderExchange {
    /// Request headers (the key has been checked): send a deferred answer, if any.
    pub fn on_request_headers(&mut self, host: &mut dyn Host) -> Flow {
        // Who the keyservice admitted, for the spend report (the headers themselves
        // never reach a provider: the upstream stage removes them).
        // One hostcall for every header, instead of one per header read.
        let request_headers = host.request_headers();
        let header = |name: &str| {
            header_in(&request_headers, name)
                .unwrap_or_default()
                .to_string()
        };
        let facts = KeyFacts {
            key_hash: header("x-switchyard-key-hash"),
            user_id: header("x-switchyard-user-id"),
            team_id: header("x-switchyard-team-id"),
            lease: header("x-switchyard-lease"),
        };
        host.set_property(&[KEY_PROPERTY], &facts.encode());
        let Some(raw) = host.property(&[REPLY_PROPERTY]).filter(|r| !r.is_empty()) else {
            return Flow::Continue;
        };
        let Some(DeferredReply {
            status,
            headers,
            mut body,
        }) = decode_reply(&raw)
        else {
            return Flow::Continue;
        };
        if headers.iter().any(|(k, _)| k == MODELS_LIST_MARKER) {
            if let Some(allowed) = header_in(&request_headers, KEY_MODELS_HEADER) {
                body = narrow_models(&body, allowed);
            }
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| k != MODELS_LIST_MARKER)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        host.send_local_reply(status, &headers, &body);
        Flow::Pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::{GroupConfig, RouterConfig};
    use crate::router::{Router, RouterExchange, GROUP_HEADER};

    fn router() -> Router {
        let group = |name: &str, mock: Option<&str>| GroupConfig {
            name: name.into(),
            route_key: name.into(),
            mock_response: mock.map(str::to_string),
            endpoints: vec![],
        };
        Router::new(&RouterConfig {
            groups: vec![
                group("a", None),
                group("b", None),
                group("demo", Some("hello")),
            ],
            aliases: Default::default(),
            hidden_aliases: Default::default(),
            max_request_body_bytes: 1000,
            error_fallbacks: Default::default(),
            defer_answers: true,
            spend_reporting: None,
            forced_group: None,
        })
        .unwrap()
    }

    /// The router stage, then (ext_authz having added `key_models`) the responder.
    fn through(method: &str, path: &str, body: &str, key_models: Option<&str>) -> MockHost {
        let r = router();
        let mut host =
            MockHost::with_request(&[(":method", method), (":path", path)], body.as_bytes());
        let mut ex = RouterExchange::default();
        let mut flow = ex.on_request_headers(&r, &mut host, body.is_empty());
        if flow == Flow::Pause && host.local_reply.is_none() {
            flow = ex.on_request_body(&r, &mut host, body.len(), true);
        }
        assert!(
            host.local_reply.is_none(),
            "nothing is answered before the key check"
        );
        assert_eq!(flow, Flow::Continue, "the request goes on to ext_authz");
        if let Some(models) = key_models {
            host.request_headers
                .push((KEY_MODELS_HEADER.into(), models.into()));
        }
        ResponderExchange.on_request_headers(&mut host);
        host
    }

    #[test]
    fn models_are_narrowed_to_the_key() {
        let host = through("GET", "/v1/models", "", Some("a, demo"));
        let reply = host.local_reply.as_ref().unwrap();
        let ids: Vec<String> = reply.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["a", "demo"]);
        assert!(
            reply.header(MODELS_LIST_MARKER).is_none(),
            "the marker never leaves"
        );
        let all = through("GET", "/v1/models", "", None);
        assert_eq!(
            all.local_reply.as_ref().unwrap().json()["data"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn errors_and_mocks_wait_for_the_key_check() {
        let host = through("POST", "/v1/chat/completions", r#"{"model":"nope"}"#, None);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 400);
        let host = through(
            "POST",
            "/v1/chat/completions",
            r#"{"model":"demo","messages":[]}"#,
            None,
        );
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.json()["choices"][0]["message"]["content"], "hello");
        assert_eq!(
            host.req(GROUP_HEADER).as_deref(),
            Some("demo"),
            "ext_authz sees the group"
        );
    }

    #[test]
    fn routed_requests_pass_through() {
        let r = router();
        let body = br#"{"model":"a","messages":[]}"#;
        let mut host = MockHost::with_request(
            &[(":method", "POST"), (":path", "/v1/chat/completions")],
            body,
        );
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        assert_eq!(
            ex.on_request_body(&r, &mut host, body.len(), true),
            Flow::Continue
        );
        assert_eq!(
            ResponderExchange.on_request_headers(&mut host),
            Flow::Continue
        );
        assert!(host.local_reply.is_none());
    }

    #[test]
    fn key_management_goes_to_the_keyservice() {
        let r = router();
        let mut host =
            MockHost::with_request(&[(":method", "POST"), (":path", "/key/generate")], b"{}");
        assert_eq!(
            RouterExchange::default().on_request_headers(&r, &mut host, false),
            Flow::Continue
        );
        assert_eq!(
            ResponderExchange.on_request_headers(&mut host),
            Flow::Continue
        );
        assert!(host.local_reply.is_none());
    }

    #[test]
    fn health_is_never_deferred() {
        let r = router();
        let mut host =
            MockHost::with_request(&[(":method", "GET"), (":path", "/health/liveliness")], b"");
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 200);
    }

    #[test]
    fn readiness_is_the_keyservices_to_answer() {
        // With keys on, readiness goes on (to the keyservice's route): only the
        // keyservice knows whether its database is connected.
        let r = router();
        let mut host =
            MockHost::with_request(&[(":method", "GET"), (":path", "/health/readiness")], b"");
        assert_eq!(
            RouterExchange::default().on_request_headers(&r, &mut host, true),
            Flow::Continue
        );
        assert!(host.local_reply.is_none());
    }
}
