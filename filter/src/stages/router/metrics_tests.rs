//! `GET /metrics` through the listener's stages: who answers it, when the key is
//! checked, and Envoy's own stats appended.

use super::*;
use crate::host::tests::MockHost;
use crate::host::CallAnswer;
use crate::observe::metrics::scrape::{ADMIN_STATS_PATH, CONTENT_TYPE};
use crate::observe::{AttemptRecord, RequestRecord};
use crate::stages::responder::ResponderExchange;
use switchyard_contract::metrics::MetricsConfig;

const ADMIN: &str = "switchyard_admin";

fn router(defer_answers: bool, require_auth: bool, admin: bool) -> Router {
    Router::new(&RouterConfig {
        groups: vec![serde_json::from_value(
            serde_json::json!({"name": "gpt-4o", "route_key": "gpt-4o"}),
        )
        .unwrap()],
        aliases: Default::default(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 1000,
        error_fallbacks: Default::default(),
        defer_answers,
        spend_reporting: None,
        forced_group: None,
        retries: Default::default(),
        callbacks: None,
        info: Default::default(),
        metrics: MetricsConfig {
            require_auth,
            admin_cluster: admin.then(|| ADMIN.to_string()),
            ..MetricsConfig::default()
        },
    })
    .unwrap()
}

fn get(path: &str) -> MockHost {
    MockHost::with_request(&[(":method", "GET"), (":path", path)], b"")
}

fn counted(router: &Router, host: &mut MockHost) {
    let record = RequestRecord {
        route: "/v1/chat/completions".into(),
        requested_model: "gpt-4o".into(),
        status: 200,
        attempts: vec![AttemptRecord {
            model_group: "gpt-4o".into(),
            status: 200,
            ..AttemptRecord::default()
        }],
        ..RequestRecord::default()
    };
    router.observers().finish(host, &record);
}

#[test]
fn without_keys_the_router_stage_answers_with_ours_and_envoys_stats() {
    let r = router(false, true, true);
    // One worker: its VM's metric ids stay valid from request to request.
    let worker = MockHost::default();
    for path in ["/metrics", "/metrics/", "/metrics?name[]=x"] {
        let mut host = get(path).on_worker_of(&worker);
        counted(&r, &mut host);
        let mut ex = RouterExchange::default();
        assert_eq!(
            ex.on_request_headers(&r, &mut host, true),
            Flow::Pause,
            "{path}"
        );
        assert!(
            host.local_reply.is_none(),
            "{path}: answered before Envoy's stats"
        );
        let call = host.calls.last().unwrap().clone();
        assert_eq!(call.cluster, ADMIN);
        assert_eq!(call.header(":path"), Some(ADMIN_STATS_PATH));
        assert_eq!(call.header(":method"), Some("GET"));
        let envoy = "# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\nenvoy_wasmcustom_switchyard_series_0011223344556677 1\n";
        ex.on_http_call_response(
            &r,
            &mut host,
            call.token,
            &CallAnswer {
                status: 200,
                headers: vec![],
                body: envoy.as_bytes().to_vec(),
            },
        );
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));
        let text = String::from_utf8(reply.body.clone()).unwrap();
        assert!(
            text.contains("litellm_proxy_total_requests_metric_total{"),
            "{text}"
        );
        assert!(text.contains("envoy_server_live{} 1\n"), "{text}");
        assert!(!text.contains("switchyard_series_"), "{text}");
    }
    // `/v1/metrics` is not LiteLLM's.
    assert_eq!(classify("GET", "/v1/metrics"), Route::NotFound);
    assert_eq!(
        classify("POST", "/metrics"),
        Route::MethodNotAllowed { allowed: "GET" }
    );
}

#[test]
fn a_failed_or_refused_admin_call_still_answers_ours() {
    let r = router(false, true, true);
    // The admin does not answer (timeout: status 0).
    let mut host = get("/metrics");
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, true);
    let token = host.calls[0].token;
    // Someone else's callout answer is not this scrape's.
    ex.on_http_call_response(&r, &mut host, token + 7, &CallAnswer::default());
    assert!(host.local_reply.is_none());
    ex.on_http_call_response(&r, &mut host, token, &CallAnswer::default());
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("# TYPE litellm_spend_metric_total counter")
    );
    // Envoy refuses the callout (no such cluster).
    let mut host = get("/metrics");
    host.refuse_cluster = Some(ADMIN.into());
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 200);
    // No admin cluster rendered: ours at once.
    let r = router(false, true, false);
    let mut host = get("/metrics");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert!(host.calls.is_empty());
    assert_eq!(host.local_reply.as_ref().unwrap().status, 200);
}

#[test]
fn with_keys_the_answer_waits_for_the_key_check_unless_auth_is_off() {
    // Auth required (LiteLLM's default): the router stage lets it on to ext_authz,
    // and the responder stage answers once the key was checked.
    let r = router(true, true, false);
    let mut host = get("/metrics");
    assert_eq!(
        RouterExchange::default().on_request_headers(&r, &mut host, true),
        Flow::Continue
    );
    assert!(host.local_reply.is_none());
    let flow = ResponderExchange::default().on_request_headers(Some(&r), &mut host);
    assert_eq!(flow, Flow::Pause);
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));
    // `require_auth_for_metrics_endpoint: false`: the router stage answers (the
    // rendered route turns ext_authz off).
    let r = router(true, false, false);
    let mut host = get("/metrics");
    assert_eq!(
        RouterExchange::default().on_request_headers(&r, &mut host, true),
        Flow::Pause
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 200);
}
