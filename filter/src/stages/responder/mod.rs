//! The responder stage: the filter instance after Envoy's ext_authz in the listener.
//!
//! When keys are checked, the router stage does not answer anything itself (but
//! health): it keeps its answer — a mock completion, `/models`, a client error — in
//! filter state, ext_authz checks the caller's key (and the model group the router
//! stage resolved), and only then does this stage send the answer. `/models` is
//! narrowed to the models the key may use, which the keyservice passes back through
//! ext_authz as a request header.
//!
//! A client's own `mock_response` is answered here too, but only when the keyservice
//! says the key or its team allows it ([`CLIENT_MOCK_HEADER`]); else the request goes
//! on to the provider, which never sees the field. An LLM call answered here is
//! reported like any other (a spend-log row, no spend).
//!
//! This stage also sees every admitted request end ([`ResponderExchange::on_log`]):
//! that is where its parallel-request slot is freed (see `spend`).

use serde_json::Value;

use crate::endpoint::{classify, Route};
use crate::error::GatewayError;
use crate::host::{header_in, Flow, Host};
use crate::spend::{self, Answered, KeyFacts, SpendLabels, KEY_PROPERTY};
use crate::stages::router::health;
use crate::stages::router::{
    decode_reply, parse_fallback_path, reroute, DeferredReply, Router, ALIAS_TARGET_HEADER,
    CLIENT_MOCK_PROPERTY, GROUP_HEADER, LABELS_PROPERTY, MODELS_LIST_MARKER, REPLY_PROPERTY,
};

// The headers the keyservice adds (through ext_authz) that this stage reads: a
// client's own `mock_response` allowed, the key's model groups (each documented in
// `switchyard_contract::headers`).
pub use switchyard_contract::headers::{
    CLIENT_MOCK_ALLOWED, CLIENT_MOCK_HEADER, KEY_MODELS_HEADER,
};

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
pub struct ResponderExchange {
    /// Set when the keyservice named a key alias's target ([`ALIAS_TARGET_HEADER`]):
    /// the request is routed again, once its body is here.
    alias_target: Option<String>,
    /// A `GET /metrics` answer (the key checked) waiting for Envoy's admin.
    scrape: crate::observe::metrics::scrape::Scrape,
    /// `/health`: the probes in flight.
    health: Option<health::HealthRun>,
}

impl ResponderExchange {
    /// `GET /health` once the key is checked: probes every deployment when the key
    /// is the master key (the keyservice says so), else 403. `None` for every other
    /// request.
    fn health_request(
        &mut self,
        router: Option<&Router>,
        host: &mut dyn Host,
        request_headers: &[(String, String)],
    ) -> Option<Flow> {
        let method = header_in(request_headers, ":method").unwrap_or_default();
        let path = header_in(request_headers, ":path").unwrap_or_default();
        if classify(method, path) != Route::Health {
            return None;
        }
        let refusal = if header_in(request_headers, health::KEY_ADMIN_HEADER)
            != Some(health::KEY_ADMIN_MASTER)
        {
            Some(health::admin_only_error())
        } else if router.is_none() {
            Some(GatewayError::internal(
                "/health needs the router stage in this Envoy's wasm VM",
            ))
        } else {
            None
        };
        if let Some(err) = refusal {
            host.send_local_reply(
                err.status,
                &[("content-type", "application/json")],
                &err.to_body(),
            );
            return Some(Flow::Pause);
        }
        if let Some(router) = router {
            self.health = health::start_health(router.info(), path, host);
        }
        Some(Flow::Pause)
    }

    /// A callout of this request answered: a `/health` probe, or Envoy's admin stats
    /// for `/metrics`.
    pub fn on_http_call_response(
        &mut self,
        router: Option<&Router>,
        host: &mut dyn Host,
        token: u32,
        answer: &crate::host::CallAnswer,
    ) {
        let Some(router) = router else { return };
        if let Some(run) = self.health.take() {
            self.health = health::health_answer(run, router.info(), host, token, answer);
            return;
        }
        router.on_scrape_answer(&mut self.scrape, host, token, answer);
    }

    /// The downstream request is over (Envoy logs it), however it ended: frees its
    /// parallel-request slot ([`spend::lease_at_end`]), once per request — not when
    /// it ended by an internal redirect, whose replay goes on with the admission.
    pub fn on_log(&mut self, host: &mut dyn Host) {
        let details = host
            .property(&["response", "code_details"])
            .and_then(|raw| String::from_utf8(raw).ok());
        let facts = host
            .property(&[KEY_PROPERTY])
            .filter(|raw| !raw.is_empty())
            .and_then(|raw| KeyFacts::decode(&raw));
        let carried = host.request_header(spend::ADMISSION_HEADER);
        host.log(
            crate::host::Level::Debug,
            &format!(
                "switchyard responder: request ended ({})",
                details.as_deref().unwrap_or("-")
            ),
        );
        if let Some(lease) =
            spend::lease_at_end(details.as_deref(), facts.as_ref(), carried.as_deref())
        {
            host.queue_spend_report(spend::release(&lease), host.now_unix_millis());
        }
    }

    /// Request headers (the key has been checked): answer `GET /metrics` (with the
    /// router stage's tables, `router`), or send a deferred answer, if any.
    pub fn on_request_headers(&mut self, router: Option<&Router>, host: &mut dyn Host) -> Flow {
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
            key_hash: header(switchyard_contract::headers::KEY_HASH_HEADER),
            user_id: header(switchyard_contract::headers::USER_ID_HEADER),
            team_id: header(switchyard_contract::headers::TEAM_ID_HEADER),
            lease: header(switchyard_contract::headers::LEASE_HEADER),
            admission: header(spend::ADMISSION_HEADER),
            key_alias: crate::observe::bounded(&header(
                switchyard_contract::headers::KEY_ALIAS_HEADER,
            )),
            team_alias: crate::observe::bounded(&header(
                switchyard_contract::headers::TEAM_ALIAS_HEADER,
            )),
        };
        host.set_property(&[KEY_PROPERTY], &facts.encode());
        let budgets = crate::observe::record::AdmissionBudgets::from_headers(
            header_in(
                &request_headers,
                switchyard_contract::headers::KEY_SPEND_HEADER,
            ),
            header_in(
                &request_headers,
                switchyard_contract::headers::KEY_MAX_BUDGET_HEADER,
            ),
            header_in(
                &request_headers,
                switchyard_contract::headers::TEAM_SPEND_HEADER,
            ),
            header_in(
                &request_headers,
                switchyard_contract::headers::TEAM_MAX_BUDGET_HEADER,
            ),
        );
        host.set_property(
            &[crate::observe::record::BUDGETS_PROPERTY],
            &budgets.encode(),
        );
        let method = header_in(&request_headers, ":method").unwrap_or_default();
        let path = header_in(&request_headers, ":path").unwrap_or_default();
        if classify(method, path) == Route::Metrics {
            if let Some(router) = router {
                return router.scrape_metrics(&mut self.scrape, host);
            }
        }
        if let Some(flow) = self.health_request(router, host, &request_headers) {
            return flow;
        }
        if let Some(target) = header_in(&request_headers, ALIAS_TARGET_HEADER) {
            // One of the key's aliases applied: the key was checked for `target`, so
            // the request goes there (routed again from its body, see `reroute`).
            let path = header_in(&request_headers, ":path").unwrap_or_default();
            if matches!(classify("POST", path), Route::Llm { .. }) {
                self.alias_target = Some(target.to_string());
                return Flow::Pause;
            }
        }
        send_deferred(host, &request_headers, &facts)
    }

    /// Request body: route a key alias's request to its target (the whole body is
    /// buffered: the router stage waited for it), then send what that routing
    /// answers locally (a mock group), or let the request go on.
    pub fn on_request_body(
        &mut self,
        router: Option<&Router>,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        if self.alias_target.is_none() {
            return Flow::Continue;
        }
        if !end_of_stream {
            return Flow::Pause;
        }
        let target = self.alias_target.take().unwrap_or_default();
        let request_headers = host.request_headers();
        let facts = host
            .property(&[KEY_PROPERTY])
            .and_then(|raw| KeyFacts::decode(&raw))
            .unwrap_or_default();
        let path = header_in(&request_headers, ":path")
            .unwrap_or_default()
            .to_string();
        let routed = match router {
            Some(router) => reroute(router, host, &path, &target, size),
            None => Err(GatewayError::internal(
                "a key alias needs the router stage in this Envoy's wasm VM",
            )),
        };
        match routed {
            Ok(_) => {
                let request_headers = host.request_headers();
                send_deferred(host, &request_headers, &facts)
            }
            Err(err) => {
                let anthropic =
                    matches!(classify("POST", &path), Route::Llm { api, .. } if api.is_anthropic());
                let body = if anthropic {
                    crate::client::anthropic::error_body(&err)
                } else {
                    err.to_body()
                };
                report_local_answer(host, &request_headers, &facts, err.status, &body);
                let call = crate::observe::call::answer_headers(host);
                let headers: Vec<(&str, &str)> =
                    std::iter::once(("content-type", "application/json"))
                        .chain(call.iter().map(|(k, v)| (*k, v.as_str())))
                        .collect();
                host.send_local_reply(err.status, &headers, &body);
                Flow::Pause
            }
        }
    }
}

/// Sends the answer the router stage deferred until the key was checked, if any
/// (a client's own mock only when the keyservice allows it).
fn send_deferred(
    host: &mut dyn Host,
    request_headers: &[(String, String)],
    facts: &KeyFacts,
) -> Flow {
    let non_empty = |raw: Option<Vec<u8>>| raw.filter(|r| !r.is_empty());
    let client_mock = if header_in(request_headers, CLIENT_MOCK_HEADER) == Some(CLIENT_MOCK_ALLOWED)
    {
        non_empty(host.property(&[CLIENT_MOCK_PROPERTY]))
    } else {
        None
    };
    let Some(raw) = client_mock.or_else(|| non_empty(host.property(&[REPLY_PROPERTY]))) else {
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
        if let Some(allowed) = header_in(request_headers, KEY_MODELS_HEADER) {
            body = narrow_models(&body, allowed);
        }
    }
    let call = crate::observe::call::answer_headers(host);
    if let Some((_, field)) = headers.iter().find(|(k, _)| k == health::NARROW_MARKER) {
        if let Some(allowed) = header_in(request_headers, KEY_MODELS_HEADER) {
            body = health::narrow_data(&body, field, allowed);
        }
    }
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k != MODELS_LIST_MARKER && k != health::NARROW_MARKER)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(call.iter().map(|(k, v)| (*k, v.as_str())))
        .collect();
    report_local_answer(host, request_headers, facts, status, &body);
    host.send_local_reply(status, &headers, &body);
    Flow::Pause
}

/// Queues the spend report of an LLM call answered here (a mock, or an error the
/// router stage found): no spend, the mock's usage, `failure` for an error.
fn report_local_answer(
    host: &dyn Host,
    request_headers: &[(String, String)],
    key: &KeyFacts,
    status: u16,
    body: &[u8],
) {
    let path = header_in(request_headers, ":path").unwrap_or_default();
    let path = parse_fallback_path(path).map_or_else(|| path.to_string(), |(_, p)| p);
    let Route::Llm { endpoint, api, .. } = classify("POST", &path) else {
        return;
    };
    let success = (200..300).contains(&status);
    let now = host.now_unix_millis();
    let client_request_id = header_in(request_headers, "x-request-id").unwrap_or_default();
    let request_id = key.spend_key(client_request_id, now);
    let request_id = if success {
        request_id
    } else {
        format!("{request_id}:local:failed")
    };
    let group = header_in(request_headers, GROUP_HEADER).unwrap_or_default();
    let labels = host
        .property(&[LABELS_PROPERTY])
        .map(|raw| SpendLabels::decode(&raw))
        .unwrap_or_default();
    let report = spend::report(
        key,
        &Answered {
            request_id: &request_id,
            client_request_id,
            call_type: spend::call_type(api, endpoint),
            model: group,
            model_id: "",
            model_group: group,
            provider: "",
            api_base: "",
            usage: if success {
                crate::cost::usage_of(body).unwrap_or_default()
            } else {
                Default::default()
            },
            spend: 0.0,
            start_ms: now,
            end_ms: now,
            status: if success { "success" } else { "failure" },
            labels: &labels,
            marks: &serde_json::Map::new(),
        },
    );
    host.queue_spend_report(report, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::{GroupConfig, RouterConfig};
    use crate::stages::router::{Router, RouterExchange, GROUP_HEADER};

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
            callbacks: None,
            retries: Default::default(),
            metrics: Default::default(),
            info: Default::default(),
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
        ResponderExchange::default().on_request_headers(None, &mut host);
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
            ResponderExchange::default().on_request_headers(None, &mut host),
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
            ResponderExchange::default().on_request_headers(None, &mut host),
            Flow::Continue
        );
        assert!(host.local_reply.is_none());
    }

    /// The router stage, then the keyservice naming a key alias's `target`, then the
    /// responder (headers, then the buffered body).
    fn aliased(model: &str, target: &str) -> (MockHost, Flow, Flow) {
        let r = router();
        let body = format!(r#"{{"model":"{model}","messages":[]}}"#);
        let mut host = MockHost::with_request(
            &[(":method", "POST"), (":path", "/v1/chat/completions")],
            body.as_bytes(),
        );
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        assert_eq!(
            ex.on_request_body(&r, &mut host, body.len(), true),
            Flow::Continue
        );
        assert_eq!(
            host.req(crate::stages::router::REQUESTED_MODEL_HEADER)
                .as_deref(),
            Some(model),
            "the keyservice learns the name the client used"
        );
        host.request_headers
            .push((ALIAS_TARGET_HEADER.into(), target.into()));
        let mut responder = ResponderExchange::default();
        let headers = responder.on_request_headers(None, &mut host);
        let body_flow = responder.on_request_body(Some(&r), &mut host, body.len(), true);
        (host, headers, body_flow)
    }

    /// Issue 12: the group the key was checked for is the group routed.
    #[test]
    fn a_key_alias_routes_the_request_to_its_target() {
        let (host, headers, body) = aliased("a", "b");
        assert_eq!(headers, Flow::Pause, "the body is needed to route again");
        assert_eq!(body, Flow::Continue);
        assert!(host.local_reply.is_none());
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("b"));
        let facts = crate::stages::router::RouteFacts::decode(
            host.properties
                .get(crate::stages::router::ROUTE_PROPERTY)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(facts.model, "b");
        assert!(host.route_cache_cleared >= 2, "the route is chosen again");
        // The alias may name what the config does not know by the client's name.
        let (host, _, body) = aliased("not-in-config", "b");
        assert_eq!(body, Flow::Continue);
        assert!(
            host.local_reply.is_none(),
            "the deferred 400 was for the alias"
        );
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("b"));
    }

    #[test]
    fn a_key_alias_to_or_from_a_mock_group() {
        // To a mock group: its answer, not the provider.
        let (host, _, body) = aliased("a", "demo");
        assert_eq!(body, Flow::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.json()["choices"][0]["message"]["content"], "hello");
        // From one: the mock answered for the alias is dropped, the target served.
        let (host, _, body) = aliased("demo", "a");
        assert_eq!(body, Flow::Continue);
        assert!(host.local_reply.is_none());
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("a"));
        // To a model nobody serves: the client's error, OpenAI-shaped.
        let (host, _, body) = aliased("a", "nope");
        assert_eq!(body, Flow::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 400);
        assert!(reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"));
    }

    /// The router stage, then the responder with ext_authz's headers added.
    fn through_with(body: &str, added: &[(&str, &str)]) -> MockHost {
        let r = router();
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                ("x-request-id", "rid-3"),
            ],
            body.as_bytes(),
        );
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        ex.on_request_body(&r, &mut host, body.len(), true);
        for (k, v) in added {
            host.request_headers.push((k.to_string(), v.to_string()));
        }
        ResponderExchange::default().on_request_headers(None, &mut host);
        host
    }

    #[test]
    fn a_client_mock_is_answered_only_when_the_keyservice_allows_it() {
        let body = r#"{"model":"a","messages":[],"mock_response":"Mocked!"}"#;
        let allowed = [(CLIENT_MOCK_HEADER, CLIENT_MOCK_ALLOWED)];
        let host = through_with(body, &allowed);
        let reply = host.local_reply.as_ref().expect("the mock");
        assert_eq!(reply.json()["choices"][0]["message"]["content"], "Mocked!");

        // Not allowed (or any other value): on to the provider, nothing answered.
        for added in [&[][..], &[(CLIENT_MOCK_HEADER, "yes")][..]] {
            let host = through_with(body, added);
            assert!(host.local_reply.is_none());
        }
        // Allowed, but the request has no mock: on to the provider.
        let host = through_with(r#"{"model":"a","messages":[]}"#, &allowed);
        assert!(host.local_reply.is_none());

        // On a mock group, the client's own mock wins when allowed (LiteLLM's request
        // parameters override the deployment's), the group's answers otherwise.
        let body = r#"{"model":"demo","messages":[],"mock_response":"mine"}"#;
        let content = |host: &MockHost| {
            host.local_reply.as_ref().unwrap().json()["choices"][0]["message"]["content"].clone()
        };
        assert_eq!(content(&through_with(body, &allowed)), "mine");
        assert_eq!(content(&through_with(body, &[])), "hello");
    }

    #[test]
    fn local_answers_to_llm_calls_are_reported() {
        // A mock answered here is a spend-log row (no spend), keyed on the admission;
        // so is an error the router stage found.
        let take = |host: &MockHost| host.take_spend_reports();
        let host = through_with(
            r#"{"model":"a","mock_response":"hi","tags":["t1"],"metadata":{"env":"ci"}}"#,
            &[
                (CLIENT_MOCK_HEADER, CLIENT_MOCK_ALLOWED),
                ("x-switchyard-key-hash", "kh"),
                ("x-switchyard-lease", "lease-1"),
                (crate::spend::ADMISSION_HEADER, "lease-1"),
            ],
        );
        let due = take(&host);
        let row: Value = serde_json::from_slice(due.last().unwrap()).unwrap();
        assert_eq!(row["request_id"], "lease-1");
        assert_eq!(row["metadata"]["client_request_id"], "rid-3");
        assert_eq!(row["status"], "success");
        assert_eq!(row["call_type"], "acompletion");
        assert_eq!(row["model_group"], "a");
        assert_eq!(row["api_key"], "kh");
        assert_eq!(row["spend"], 0.0);
        assert_eq!(row["request_tags"], serde_json::json!(["t1"]));
        assert_eq!(
            row["metadata"]["requester_metadata"],
            serde_json::json!({"env": "ci"})
        );

        let host = through_with(
            r#"{"model":"nope"}"#,
            &[
                ("x-switchyard-lease", "lease-2"),
                (crate::spend::ADMISSION_HEADER, "lease-2"),
            ],
        );
        let due = take(&host);
        let row: Value = serde_json::from_slice(due.last().unwrap()).unwrap();
        assert_eq!(row["status"], "failure");
        assert_eq!(row["request_id"], "lease-2:local:failed");

        // /models is not an LLM call: no row.
        let host = through("GET", "/v1/models", "", None);
        assert!(take(&host).is_empty());
    }

    #[test]
    fn the_end_of_a_request_frees_its_slot_once() {
        let take = |host: &MockHost| host.take_spend_reports();
        let releases = |due: Vec<Vec<u8>>| -> Vec<Value> {
            due.iter()
                .map(|b| serde_json::from_slice::<Value>(b).unwrap())
                .filter(|v| v.get("release_lease").is_some())
                .collect()
        };
        // /models answered here: its slot is freed when Envoy logs the request.
        let mut host = through("GET", "/v1/models", "", None);
        assert!(host.local_reply.is_some());
        // What the responder kept of the admission (the keyservice's headers).
        let facts = KeyFacts {
            lease: "L1".into(),
            admission: "L1".into(),
            ..Default::default()
        };
        host.properties.insert(KEY_PROPERTY.into(), facts.encode());
        host.properties
            .insert("response.code_details".into(), b"via_upstream".to_vec());
        ResponderExchange::default().on_log(&mut host);
        assert_eq!(
            releases(take(&host)),
            vec![serde_json::json!({"release_lease": "L1"})]
        );
        // Ended by an internal redirect: the replay goes on with the slot.
        host.properties.insert(
            "response.code_details".into(),
            b"internal_redirect".to_vec(),
        );
        ResponderExchange::default().on_log(&mut host);
        assert!(releases(take(&host)).is_empty());
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
