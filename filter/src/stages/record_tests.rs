//! One `RequestRecord` per client request, across the stages: the router stage
//! draws the call, the upstream stage leaves each attempt in the worker's ledger,
//! the router stage's `on_log` assembles the record and hands it to the observers.
//! Driven through one `MockHost` per pass, whose ledger plays the worker's.

use serde_json::json;

use crate::host::tests::MockHost;
use crate::host::{Flow, Host};
use crate::observe::call::{
    is_call_id, CALL_ID_CARRIER_HEADER, CALL_ID_PROPERTY, CALL_ID_RESPONSE_HEADER,
    OVERHEAD_DURATION_HEADER, RESPONSE_DURATION_HEADER,
};
use crate::observe::RequestRecord;
use crate::plugin_config::{
    DeploymentConfig, ErrorFallbacks, GroupConfig, Pricing, RouterConfig, Setting, UpstreamConfig,
};
use crate::providers::ProviderKind;
use crate::stages::router::{Router, RouterExchange};
use crate::stages::upstream::{Upstream, UpstreamExchange};
use switchyard_contract::filter_state::access_log as field;

const CONTEXT_ERROR: &[u8] = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

fn fallbacks() -> std::collections::BTreeMap<String, ErrorFallbacks> {
    [(
        "g".to_string(),
        ErrorFallbacks {
            context_window: vec!["big".into()],
            content_policy: vec![],
        },
    )]
    .into()
}

fn router(defer_answers: bool) -> Router {
    let group = |name: &str, mock: Option<&str>| GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: mock.map(str::to_string),
        endpoints: vec![],
    };
    Router::new(&RouterConfig {
        groups: vec![
            group("g", None),
            group("big", None),
            group("mock", Some("hi")),
        ],
        aliases: [("alias-of-g".to_string(), "g".to_string())].into(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 10_000,
        error_fallbacks: fallbacks(),
        defer_answers,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        metrics: Default::default(),
        info: Default::default(),
        retries: Default::default(),
    })
    .unwrap()
}

fn upstream(group: &str, keys: bool) -> Upstream {
    let deployment = DeploymentConfig {
        deployment_id: format!("{group}-dep"),
        group: group.into(),
        provider: ProviderKind::Openai,
        model: "gpt-4o".into(),
        api_base: Setting::Literal("https://api.example.com/v1".into()),
        api_key: Some(Setting::Literal("sk-provider".into())),
        api_version: None,
        headers: Default::default(),
        default_params: Default::default(),
        drop_params: false,
        fallback_index: 0,
        pricing: Some(Pricing {
            input_cost_per_token: 1e-6,
            output_cost_per_token: 2e-6,
            cache_read_input_token_cost: None,
            cache_creation_input_token_cost: None,
        }),
        model_prices: Default::default(),
        prompt_template: None,
        aws: None,
        google_auth: None,
        direct_cluster: None,
        stream_timeout_ms: None,
        forward_client_headers: Vec::new(),
    };
    Upstream::new(
        &UpstreamConfig {
            group: group.into(),
            deployments: vec![deployment],
            clear_headers: vec![],
            error_fallbacks: fallbacks(),
            keys,
            debug: false,
        },
        &|_| None,
    )
    .unwrap()
}

/// A client request's first pass through the router stage.
fn arrive(
    r: &Router,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> (MockHost, RouterExchange) {
    let body = serde_json::to_vec(body).unwrap();
    let mut headers = vec![(":method", "POST"), (":path", path)];
    headers.extend_from_slice(extra_headers);
    let mut host = MockHost::with_request(&headers, &body);
    // One worker's randomness: every request draws anew.
    static DRAWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    host.random_draws
        .set(DRAWS.fetch_add(1_000, std::sync::atomic::Ordering::Relaxed));
    let mut ex = RouterExchange::default();
    if ex.on_request_headers(r, &mut host, false) == Flow::Pause && host.local_reply.is_none() {
        ex.on_request_body(r, &mut host, body.len(), true);
    }
    (host, ex)
}

/// One upstream attempt on the pass's host: the provider answers `status` with
/// `body` (a stream when `chunks` has more than one piece), `secs` seconds later.
fn attempt(up: &Upstream, host: &mut MockHost, status: u16, chunks: &[&[u8]], secs: u64) {
    let mut ex = UpstreamExchange::default();
    // Envoy numbers the attempts of one request; the header map is shared.
    let n = host
        .req("x-envoy-attempt-count")
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(1, |n| n + 1);
    host.set_request_header("x-envoy-attempt-count", Some(&n.to_string()));
    ex.on_request_headers(up, host, false);
    let size = host.request_body.len();
    ex.on_request_body(up, host, size, true);
    host.now += secs;
    host.response_headers = vec![(":status".into(), status.to_string())];
    ex.on_response_headers(up, host, false);
    for (i, chunk) in chunks.iter().enumerate() {
        host.response_body = chunk.to_vec();
        ex.on_response_body(up, host, chunk.len(), i + 1 == chunks.len());
        host.now += 1;
    }
    ex.on_done(up, host);
}

/// The request ends: response headers and the body's end pass the router stage,
/// then Envoy logs it with `code` (and `details`).
fn end(
    r: &Router,
    host: &mut MockHost,
    ex: &mut RouterExchange,
    code: u16,
    details: &str,
) -> Option<RequestRecord> {
    if details != "internal_redirect" {
        ex.on_response_headers(host);
        ex.on_response_end(host);
    }
    host.properties.insert(
        "response.code".into(),
        i64::from(code).to_le_bytes().to_vec(),
    );
    host.properties
        .insert("response.code_details".into(), details.as_bytes().to_vec());
    ex.on_log(r, host)
}

fn property(host: &MockHost, name: &str) -> Option<String> {
    host.properties
        .get(name)
        .map(|v| String::from_utf8(v.clone()).unwrap())
}

const ANSWER: &[u8] = br#"{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#;

#[test]
fn a_success_ends_in_one_record_with_its_attempt_and_headers() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "alias-of-g", "messages": [], "user": "end-user-7"}),
    );
    let call_id = ex.call_id().to_string();
    assert!(is_call_id(&call_id));
    assert_eq!(
        property(&host, CALL_ID_PROPERTY).as_deref(),
        Some(call_id.as_str())
    );
    attempt(&up, &mut host, 200, &[ANSWER], 2);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").expect("a record");

    assert_eq!(record.call_id, call_id);
    assert_eq!(record.route, "/v1/chat/completions");
    assert_eq!(record.call_type, "acompletion");
    assert_eq!(
        record.requested_model, "alias-of-g",
        "the client's name, before aliases"
    );
    assert!(!record.stream);
    assert_eq!((record.status, record.error.as_deref()), (200, None));
    assert_eq!(record.end_user, "end-user-7");
    assert_eq!(record.start_ms, 1_700_000_000_000);
    assert_eq!(record.end_ms, 1_700_000_003_000);
    assert_eq!(record.attempts.len(), 1);
    let a = &record.attempts[0];
    assert_eq!(
        (
            a.model_id.as_str(),
            a.model.as_str(),
            a.model_group.as_str()
        ),
        ("g-dep", "openai/gpt-4o", "g")
    );
    assert_eq!((a.api_provider.as_str(), a.status), ("openai", 200));
    assert_eq!(
        (a.start_ms, a.end_ms),
        (1_700_000_000_000, 1_700_000_002_000)
    );
    assert_eq!(a.first_token_ms, Some(1_700_000_002_000));
    assert_eq!(
        a.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((10, 5))
    );
    assert!((a.spend - 2e-5).abs() < 1e-12, "{}", a.spend);
    assert_eq!(a.error, None);
    // Handed to the observers, exactly once; the ledger keeps nothing.
    assert_eq!(*r.observers().seen.borrow(), vec![record.clone()]);
    assert!(host.ledger.borrow().is_empty());

    // The answer's headers: the call id and timings (3 s in all, 2 s of them the
    // provider's, as the router stage saw the headers after the held answer).
    assert_eq!(
        host.resp(CALL_ID_RESPONSE_HEADER).as_deref(),
        Some(call_id.as_str())
    );
    assert_eq!(
        host.resp(RESPONSE_DURATION_HEADER).as_deref(),
        Some("3000.0")
    );
    assert_eq!(
        host.resp(OVERHEAD_DURATION_HEADER).as_deref(),
        Some("1000.0")
    );
    // The access log's fields.
    for (name, value) in [
        (field::PROMPT_TOKENS, "10"),
        (field::COMPLETION_TOKENS, "5"),
        (field::TOTAL_TOKENS, "15"),
        (field::MODEL_ID, "g-dep"),
        (field::REQUESTED_MODEL, "alias-of-g"),
        (field::END_USER, "end-user-7"),
        (field::TIME_TO_FIRST_TOKEN_MS, "2000"),
        (field::CACHE_HIT, "false"),
    ] {
        assert_eq!(property(&host, name).as_deref(), Some(value), "{name}");
    }
    assert_eq!(
        property(&host, field::SPEND)
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        a.spend
    );
}

#[test]
fn a_provider_error_is_a_failed_record_with_the_providers_message() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    attempt(
        &up,
        &mut host,
        429,
        &[br#"{"error":{"message":"Rate limit reached for gpt-4o"}}"#],
        1,
    );
    let record = end(&r, &mut host, &mut ex, 429, "via_upstream").unwrap();
    assert_eq!(record.status, 429);
    assert!(record.failed());
    assert!(
        record
            .error
            .as_deref()
            .unwrap()
            .contains("Rate limit reached"),
        "{:?}",
        record.error
    );
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].status, 429);
    assert!(record.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("Rate limit reached"));
    assert_eq!(record.attempts[0].usage, None);
}

#[test]
fn a_stream_records_its_first_token_time_and_usage() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": [], "stream": true}),
    );
    let chunks: [&[u8]; 3] = [
        b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n",
        b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n",
        b"data: [DONE]\n\n",
    ];
    // Headers after 1 s, then one chunk a second.
    attempt(&up, &mut host, 200, &chunks, 1);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").unwrap();
    assert!(record.stream);
    let a = &record.attempts[0];
    assert_eq!(a.first_token_ms, Some(1_700_000_001_000));
    assert_eq!(a.end_ms, 1_700_000_003_000);
    assert_eq!(a.usage.map(|u| u.completion_tokens), Some(1));
    assert_eq!(
        property(&host, field::TIME_TO_FIRST_TOKEN_MS).as_deref(),
        Some("1000")
    );
}

#[test]
fn a_retry_is_one_record_with_both_attempts() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    attempt(
        &up,
        &mut host,
        503,
        &[br#"{"error":{"message":"overloaded"}}"#],
        1,
    );
    attempt(&up, &mut host, 200, &[ANSWER], 1);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").unwrap();
    assert_eq!(
        record.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [503, 200]
    );
    assert!(record.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("overloaded"));
    assert_eq!(record.final_attempt().unwrap().status, 200);
    assert_eq!(r.observers().seen.borrow().len(), 1);
}

#[test]
fn an_error_fallback_is_one_record_across_the_redirect() {
    let r = router(false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    let call_id = ex.call_id().to_string();
    // Envoy replays the body the router saw, not the attempt's translation.
    let body = host.request_body.clone();
    attempt(&upstream("g", false), &mut host, 400, &[CONTEXT_ERROR], 1);
    assert_eq!(host.resp(":status").as_deref(), Some("307"));
    let carried = host
        .resp(CALL_ID_CARRIER_HEADER)
        .expect("the redirect carries the call");
    // The first pass ends by the internal redirect: no record yet.
    assert_eq!(end(&r, &mut host, &mut ex, 307, "internal_redirect"), None);
    assert!(r.observers().seen.borrow().is_empty());

    // Envoy replays the request on the location, with the copied headers.
    let location = host.resp("location").unwrap();
    let path = location
        .strip_prefix("http://switchyard.internal")
        .unwrap()
        .to_string();
    let mut replay = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", &path),
            (CALL_ID_CARRIER_HEADER, &carried),
        ],
        &body,
    );
    replay.now = host.now;
    replay.ledger = std::mem::take(&mut host.ledger);
    let mut ex2 = RouterExchange::default();
    ex2.on_request_headers(&r, &mut replay, false);
    ex2.on_request_body(&r, &mut replay, body.len(), true);
    assert_eq!(ex2.call_id(), call_id, "the replay continues the call");
    assert_eq!(
        replay.req(CALL_ID_CARRIER_HEADER),
        None,
        "the carrier goes no further"
    );
    attempt(&upstream("big", false), &mut replay, 200, &[ANSWER], 1);
    let record = end(&r, &mut replay, &mut ex2, 200, "via_upstream").unwrap();

    assert_eq!(record.call_id, call_id);
    assert_eq!(record.requested_model, "g");
    assert_eq!(
        record.start_ms, 1_700_000_000_000,
        "from the first pass's start"
    );
    assert_eq!(
        record
            .attempts
            .iter()
            .map(|a| (a.model_group.as_str(), a.status, a.fallback_index))
            .collect::<Vec<_>>(),
        [("g", 400, 0), ("big", 200, 1)]
    );
    assert_eq!(*r.observers().seen.borrow(), vec![record]);
}

#[test]
fn local_answers_end_in_a_record_with_the_call_headers() {
    let r = router(false);
    // A mock group's answer, a malformed body, an unknown model, an unknown route.
    for (path, body, status) in [
        (
            "/v1/chat/completions",
            json!({"model": "mock", "messages": []}),
            200,
        ),
        ("/v1/chat/completions", json!({"model": 7}), 400),
        (
            "/v1/chat/completions",
            json!({"model": "nope", "messages": []}),
            400,
        ),
        ("/v1/nothing-here", json!({}), 404),
    ] {
        let (mut host, mut ex) = arrive(&r, path, &[], &body);
        let reply = host.local_reply.clone().expect("a local answer");
        assert_eq!(reply.status, status, "{path} {body}");
        assert_eq!(reply.header(CALL_ID_RESPONSE_HEADER), Some(ex.call_id()));
        assert_eq!(reply.header(RESPONSE_DURATION_HEADER), Some("0.0"));
        assert_eq!(reply.header(OVERHEAD_DURATION_HEADER), Some("0.0"));
        let record = end(&r, &mut host, &mut ex, status, "direct_response").unwrap();
        assert_eq!(record.status, status);
        assert!(record.attempts.is_empty());
        assert_eq!(record.failed(), status != 200);
        if status != 200 {
            let error = record.error.unwrap();
            assert!(!error.is_empty() && error.len() <= crate::observe::MAX_LABEL_BYTES);
        }
    }
    assert_eq!(r.observers().seen.borrow().len(), 4);
}

#[test]
fn a_key_check_refusal_and_a_deferred_answer_end_in_a_record() {
    let r = router(true);
    // Refused by ext_authz (401): Envoy's answer, no attempt.
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    let record = end(&r, &mut host, &mut ex, 401, "ext_authz_denied").unwrap();
    assert_eq!(
        (record.status, record.error.as_deref()),
        (401, Some("ext_authz_denied"))
    );
    assert_eq!(
        host.resp(CALL_ID_RESPONSE_HEADER).as_deref(),
        Some(record.call_id.as_str())
    );

    // Admitted, answered by a mock group through the responder stage: the key's
    // labels (aliases included) come from the responder's facts.
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "mock", "messages": []}),
    );
    for (name, value) in [
        (switchyard_contract::headers::KEY_HASH_HEADER, "hash-1"),
        (switchyard_contract::headers::USER_ID_HEADER, "user-1"),
        (switchyard_contract::headers::TEAM_ID_HEADER, "team-1"),
        (switchyard_contract::headers::KEY_ALIAS_HEADER, "prod-key"),
        (switchyard_contract::headers::TEAM_ALIAS_HEADER, "Team One"),
    ] {
        host.set_request_header(name, Some(value));
    }
    let mut responder = crate::stages::responder::ResponderExchange::default();
    responder.on_request_headers(Some(&r), &mut host);
    let reply = host.local_reply.clone().expect("the deferred mock answer");
    assert_eq!(reply.header(CALL_ID_RESPONSE_HEADER), Some(ex.call_id()));
    let record = end(&r, &mut host, &mut ex, 200, "direct_response").unwrap();
    assert_eq!(record.key.hashed_api_key, "hash-1");
    assert_eq!(record.key.api_key_alias, "prod-key");
    assert_eq!(
        (record.key.team.as_str(), record.key.team_alias.as_str()),
        ("team-1", "Team One")
    );
    assert_eq!(record.key.user, "user-1");
    assert_eq!(
        property(&host, field::KEY_ALIAS).as_deref(),
        Some("prod-key")
    );
    assert_eq!(property(&host, field::TEAM).as_deref(), Some("team-1"));
    assert_eq!(property(&host, field::USER).as_deref(), Some("user-1"));
}

#[test]
fn a_client_cannot_choose_or_reuse_the_call_id() {
    let r = router(false);
    let up = upstream("g", false);
    // A first call, still in flight: its id is live in the worker's ledger.
    let (mut first, first_ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    let live = first_ex.call_id().to_string();
    attempt(&up, &mut first, 503, &[b"{}"], 0);
    let chosen = "12345678-1234-4234-8234-123456789012";
    let forged = [
        ("x-litellm-call-id", chosen.to_string()),
        ("x-request-id", chosen.to_string()),
        (CALL_ID_CARRIER_HEADER, format!("{live} 1 0123")),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for path in [
        "/v1/chat/completions",
        // Calling an error fallback's replay path directly.
        "/switchyard-fallback/context_window/0/g/v1/chat/completions",
    ] {
        let (mut host, ex) = arrive(&r, path, &forged, &json!({"model": "g", "messages": []}));
        // No redirect token, no call: a fresh id.
        assert!(is_call_id(ex.call_id()));
        assert_ne!(ex.call_id(), chosen);
        assert_ne!(ex.call_id(), live);
        assert_eq!(host.req(CALL_ID_CARRIER_HEADER), None);
        // On the live call's own worker too (a first pass here; a replay path is
        // refused the same, as the token is not the redirect's).
        host.ledger = std::mem::take(&mut first.ledger);
        let mut again = RouterExchange::default();
        host.set_request_header(":path", Some("/v1/chat/completions"));
        host.set_request_header(CALL_ID_CARRIER_HEADER, Some(&format!("{live} 1 0123")));
        again.on_request_headers(&r, &mut host, false);
        assert_ne!(again.call_id(), live);
        first.ledger = std::mem::take(&mut host.ledger);
    }
}

#[test]
fn a_body_over_the_limit_is_a_413_record() {
    let r = router(false);
    let big = json!({"model": "g", "messages": [], "pad": "x".repeat(20_000)});
    let (mut host, mut ex) = arrive(&r, "/v1/chat/completions", &[], &big);
    assert_eq!(host.local_reply.as_ref().map(|l| l.status), Some(413));
    let record = end(&r, &mut host, &mut ex, 413, "direct_response").unwrap();
    assert_eq!(record.status, 413);
    assert!(record.error.is_some());
    assert_eq!(record.requested_model, "", "the body was never read");
}

#[test]
fn a_client_gone_mid_stream_ends_in_one_record_with_the_attempt_so_far() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": [], "stream": true}),
    );
    let mut attempt_ex = UpstreamExchange::default();
    attempt_ex.on_request_headers(&up, &mut host, false);
    let size = host.request_body.len();
    attempt_ex.on_request_body(&up, &mut host, size, true);
    host.now += 1;
    host.response_headers = vec![(":status".into(), "200".into())];
    attempt_ex.on_response_headers(&up, &mut host, false);
    let chunk = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
    host.response_body = chunk.to_vec();
    attempt_ex.on_response_body(&up, &mut host, chunk.len(), false);
    ex.on_response_headers(&mut host);
    // The client leaves: Envoy logs the request before it ends the attempt.
    host.properties
        .insert("response.code".into(), 200i64.to_le_bytes().to_vec());
    host.properties.insert(
        "response.code_details".into(),
        b"downstream_remote_disconnect".to_vec(),
    );
    let record = ex.on_log(&r, &mut host).expect("a record");
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].status, 200);
    assert_eq!(record.attempts[0].model_id, "g-dep");
    // The attempt's own end comes later: dropped, never a second record.
    attempt_ex.on_done(&up, &host);
    assert!(host.ledger.borrow().is_empty());
    assert_eq!(host.ledger.borrow().late(), 1);
    assert_eq!(r.observers().seen.borrow().len(), 1);
}

#[test]
fn a_requests_own_fallbacks_are_one_record_with_every_attempt() {
    let r = router(false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": [], "fallbacks": ["big"], "num_retries": 1}),
    );
    let call_id = ex.call_id().to_string();
    let body = host.request_body.clone();
    let overloaded: &[u8] = br#"{"error":{"message":"overloaded"}}"#;
    // Two attempts on `g` (one retry), the second's error is final: on to `big`.
    attempt(&upstream("g", false), &mut host, 503, &[overloaded], 1);
    attempt(&upstream("g", false), &mut host, 503, &[overloaded], 1);
    assert_eq!(host.resp(":status").as_deref(), Some("307"));
    let carried = host.resp(CALL_ID_CARRIER_HEADER).unwrap();
    assert_eq!(end(&r, &mut host, &mut ex, 307, "internal_redirect"), None);
    let location = host.resp("location").unwrap();
    let path = location
        .strip_prefix("http://switchyard.internal")
        .unwrap()
        .to_string();
    let mut replay = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", &path),
            (CALL_ID_CARRIER_HEADER, &carried),
        ],
        &body,
    );
    replay.now = host.now;
    replay.random_draws.set(host.random_draws.get());
    replay.ledger = std::mem::take(&mut host.ledger);
    let mut ex2 = RouterExchange::default();
    ex2.on_request_headers(&r, &mut replay, false);
    ex2.on_request_body(&r, &mut replay, body.len(), true);
    assert_eq!(ex2.call_id(), call_id);
    attempt(&upstream("big", false), &mut replay, 200, &[ANSWER], 1);
    let record = end(&r, &mut replay, &mut ex2, 200, "via_upstream").unwrap();
    assert_eq!(
        record
            .attempts
            .iter()
            .map(|a| (a.model_group.as_str(), a.status))
            .collect::<Vec<_>>(),
        [("g", 503), ("g", 503), ("big", 200)]
    );
    assert_eq!(r.observers().seen.borrow().len(), 1);
}

/// A router with the logging callbacks `langfuse` (successes) and `generic_api`
/// (both), message logging as given.
fn router_with_callbacks(message_logging: bool) -> Router {
    use crate::plugin_config::{CallbackKind, CallbackSink, CallbacksConfig};
    let sink = |kind: CallbackKind, on_failure: bool| CallbackSink {
        kind,
        on_success: true,
        on_failure,
        cluster: format!("callback_{}", kind.as_str()),
        authority: "collector".into(),
        path: "/".into(),
        basic_auth: None,
        headers: None,
    };
    Router::new(&RouterConfig {
        callbacks: Some(CallbacksConfig {
            sinks: vec![
                sink(CallbackKind::Langfuse, false),
                sink(CallbackKind::GenericApi, true),
            ],
            message_logging,
        }),
        ..crate::test_support::router_config(vec![crate::test_support::group("g")])
    })
    .unwrap()
}

#[test]
fn with_callbacks_the_record_carries_the_bounded_details_and_each_callback_gets_its_event() {
    let r = router_with_callbacks(false);
    let up = upstream("g", false);
    let huge = "x".repeat(100_000);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "temperature": 0.3,
                "messages": [{"role": "user", "content": "private"}],
                "metadata": {"trace_name": huge, "trace_id": "../../other", "session_id": "s",
                             "tags": (0..1000).map(|i| i.to_string()).collect::<Vec<_>>()}}),
    );
    attempt(&up, &mut host, 200, &[ANSWER], 1);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").expect("a record");
    let details = record.details.as_deref().expect("details with callbacks");
    assert_eq!(details.metadata.trace_name.as_ref().unwrap().len(), 200);
    assert_eq!(
        details.metadata.trace_id, None,
        "not a plain id: the call id names the trace"
    );
    assert_eq!(details.metadata.tags.len(), 32);
    assert_eq!(details.input, None, "message logging off");
    let events = host.take_callback_events();
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), [0, 1]);
    let langfuse: serde_json::Value =
        serde_json::from_slice(&[b"[".as_slice(), &events[0].1, b"]"].concat()).unwrap();
    assert_eq!(langfuse[0]["body"]["id"], record.call_id.as_str());
    assert_eq!(
        langfuse[1]["body"]["modelParameters"],
        json!({"temperature": 0.3})
    );
    assert!(!String::from_utf8_lossy(&events[1].1).contains("private"));

    // A failure goes to the callbacks that want failures only (the next request on
    // the same worker: the router's metrics know that worker's stat ids).
    let first = host;
    let (host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": []}),
    );
    let mut host = host.on_worker_of(&first);
    attempt(
        &up,
        &mut host,
        500,
        &[br#"{"error":{"message":"boom"}}"#],
        1,
    );
    end(&r, &mut host, &mut ex, 500, "via_upstream").expect("a record");
    assert_eq!(
        host.take_callback_events()
            .iter()
            .map(|e| e.0)
            .collect::<Vec<_>>(),
        [1]
    );

    // Message logging on: the messages go with the record.
    let r = router_with_callbacks(true);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": [{"role": "user", "content": "shared"}]}),
    );
    attempt(&up, &mut host, 200, &[ANSWER], 1);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").expect("a record");
    assert_eq!(
        record.details.unwrap().input,
        Some(json!([{"role": "user", "content": "shared"}]))
    );
}

#[test]
fn without_callbacks_nothing_is_collected_or_queued() {
    let r = router(false);
    let up = upstream("g", false);
    let (mut host, mut ex) = arrive(
        &r,
        "/v1/chat/completions",
        &[],
        &json!({"model": "g", "messages": [], "metadata": {"trace_name": "t"}}),
    );
    attempt(&up, &mut host, 200, &[ANSWER], 1);
    let record = end(&r, &mut host, &mut ex, 200, "via_upstream").expect("a record");
    assert_eq!(record.details, None);
    assert!(host.take_callback_events().is_empty());
}
