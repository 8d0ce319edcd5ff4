use super::*;
use crate::host::tests::MockHost;
use crate::plugin_config::GroupConfig;

fn group(name: &str) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: None,
        endpoints: vec![],
    }
}

pub(super) fn router() -> Router {
    let mut mock = group("demo");
    mock.mock_response = Some("Hi from the mock".into());
    let mut emb = group("embedder");
    emb.endpoints = vec!["embeddings".into()];
    Router::new(&RouterConfig {
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
        groups: vec![
            group("gpt-4o"),
            group("openai/*"),
            group("*"),
            group("anthropic/claude-*"),
            mock,
            emb,
        ],
        aliases: [
            ("gpt-4".to_string(), "gpt-4o".to_string()),
            ("mini".to_string(), "openai/gpt-4o-mini".to_string()),
            ("secret".to_string(), "gpt-4o".to_string()),
        ]
        .into(),
        hidden_aliases: ["secret".to_string()].into(),
        max_request_body_bytes: 1000,
        error_fallbacks: [(
            "gpt-4o".to_string(),
            ErrorFallbacks {
                context_window: vec!["embedder".into(), "openai/*".into()],
                content_policy: vec![],
            },
        )]
        .into(),
    })
    .unwrap()
}

/// Runs one request through the stage, the body in one piece.
pub(super) fn run(path: &str, body: &str) -> MockHost {
    let r = router();
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", path),
            ("x-request-id", "rid-1"),
            ("x-switchyard-group", "evil"),
        ],
        body.as_bytes(),
    );
    let mut ex = RouterExchange::default();
    assert_eq!(ex.on_request_headers(&r, &mut host, false), Flow::Pause);
    if host.local_reply.is_none() {
        ex.on_request_body(&r, &mut host, body.len(), true);
    }
    host
}

pub(super) fn error_of(host: &MockHost) -> (u16, Value) {
    let reply = host.local_reply.as_ref().expect("a local reply");
    (reply.status, reply.json())
}

#[test]
fn resolution_order() {
    let r = router();
    assert_eq!(
        r.resolve("gpt-4o"),
        Some(Resolved {
            group: 0,
            wildcard: None
        })
    );
    assert_eq!(
        r.resolve("gpt-4"),
        Some(Resolved {
            group: 0,
            wildcard: None
        })
    );
    assert_eq!(
        r.resolve("openai/gpt-4o-mini"),
        Some(Resolved {
            group: 1,
            wildcard: Some("gpt-4o-mini")
        })
    );
    // The more specific pattern wins over `*` and over `openai/*`-style prefixes.
    assert_eq!(
        r.resolve("anthropic/claude-3-haiku"),
        Some(Resolved {
            group: 3,
            wildcard: Some("3-haiku")
        })
    );
    assert_eq!(
        r.resolve("llama3"),
        Some(Resolved {
            group: 2,
            wildcard: Some("llama3")
        })
    );
    // An alias may name a model that a wildcard group serves; hidden ones resolve.
    assert_eq!(
        r.resolve("mini"),
        Some(Resolved {
            group: 1,
            wildcard: Some("gpt-4o-mini")
        })
    );
    assert_eq!(r.resolve("secret").map(|r| r.group), Some(0));
}

#[test]
fn a_forced_group_serves_every_model() {
    let config = |forced: &str| RouterConfig {
        defer_answers: false,
        spend_reporting: None,
        forced_group: Some(forced.into()),
        callbacks: None,
        groups: vec![group("gpt-4o"), group("ollama/llama3"), group("openai/*")],
        aliases: [("llama".to_string(), "ollama/llama3".to_string())].into(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 1000,
        error_fallbacks: Default::default(),
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
    };
    let r = Router::new(&config("ollama/llama3")).unwrap();
    for model in [
        "gpt-4o",
        "openai/gpt-4o-mini",
        "gpt-3.5-turbo",
        "llama",
        "x",
    ] {
        assert_eq!(
            r.resolve(model),
            Some(Resolved {
                group: 1,
                wildcard: None
            }),
            "{model}"
        );
    }
    // /models still lists every group and alias, as LiteLLM's does.
    let models: Value = serde_json::from_slice(r.models_body()).unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 4);
    let err = Router::new(&config("nope")).unwrap_err();
    assert!(
        err.contains("forced_group") && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn unknown_alias_target_is_a_config_error() {
    let err = Router::new(&RouterConfig {
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
        groups: vec![group("a")],
        aliases: [("x".to_string(), "nope".to_string())].into(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 10,
        error_fallbacks: Default::default(),
    })
    .unwrap_err();
    assert!(err.contains("aliases.x") && err.contains("nope"), "{err}");
}

pub(super) fn facts(host: &MockHost) -> RouteFacts {
    RouteFacts::decode(host.properties.get(ROUTE_PROPERTY).expect("route facts")).unwrap()
}

#[test]
fn routes_and_hands_facts_to_the_upstream_stage() {
    let host = run("/v1/chat/completions", r#"{"model":"gpt-4","messages":[]}"#);
    assert!(host.local_reply.is_none());
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
    assert_eq!(
        facts(&host),
        RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "gpt-4".into(),
            wildcard: None,
            error_fallback: None,
            request_fallbacks: None,
            // The call drawn for the request, as recorded for the access log.
            call_id: String::from_utf8(
                host.properties[crate::observe::call::CALL_ID_PROPERTY].clone()
            )
            .unwrap(),
            call_start_ms: 1_700_000_000_000,
        }
    );
    assert!(crate::observe::call::is_call_id(&facts(&host).call_id));
    assert_eq!(host.route_cache_cleared, 1);
    assert_eq!(
        host.properties.get(GROUP_PROPERTY).map(Vec::as_slice),
        Some(&b"gpt-4o"[..])
    );
    // Not a stream, no per-request settings: the route's own timeout and retries.
    for h in [TIMEOUT_HEADER, PER_TRY_TIMEOUT_HEADER, RETRIES_HEADER] {
        assert_eq!(host.req(h), None, "{h}");
    }
}

#[test]
fn facts_round_trip() {
    for f in [
        RouteFacts {
            endpoint: Endpoint::Embeddings,
            api: ClientApi::OpenAi,
            model: "m".into(),
            wildcard: None,
            error_fallback: None,
            request_fallbacks: None,
            call_id: String::new(),
            call_start_ms: 0,
        },
        RouteFacts {
            endpoint: Endpoint::Completions,
            api: ClientApi::OpenAi,
            model: "openai/x".into(),
            wildcard: Some("x".into()),
            error_fallback: None,
            request_fallbacks: None,
            call_id: "0000000a-0000-4000-8000-000000000000".into(),
            call_start_ms: 1_700_000_000_123,
        },
        RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "*".into(),
            wildcard: Some(String::new()),
            error_fallback: None,
            request_fallbacks: None,
            call_id: String::new(),
            call_start_ms: 0,
        },
        RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::Messages,
            model: "m".into(),
            wildcard: None,
            error_fallback: Some(ErrorFallbackStep {
                kind: ErrorKind::Request,
                origin: "g".into(),
                step: 1,
            }),
            request_fallbacks: Some(RequestFallbacks {
                len: 3,
                attempts: 2,
                from_list: false,
                retries: crate::plugin_config::GroupRetries {
                    num_retries: 1,
                    server_errors: false,
                    rate_limited: true,
                    statuses: vec![401, 400],
                },
            }),
            call_id: String::new(),
            call_start_ms: 0,
        },
    ] {
        assert_eq!(RouteFacts::decode(&f.encode()), Some(f));
    }
    assert_eq!(RouteFacts::decode(b"nonsense"), None);
}

#[test]
fn error_fallback_replay_routes_to_the_chain_step() {
    let path = "/switchyard-fallback/context_window/1/gpt-4o/v1/chat/completions";
    let (step, original) = parse_fallback_path(path).unwrap();
    assert_eq!(original, "/v1/chat/completions");
    assert_eq!(
        (step.kind, step.step, step.origin.as_str()),
        (ErrorKind::ContextWindow, 1, "gpt-4o")
    );
    assert!(parse_fallback_path("/switchyard-fallback/nope/1/g/v1/x").is_none());
    let (odd, _) =
        parse_fallback_path("/switchyard-fallback/content_policy/0/openai%2F%2A/v1/embeddings")
            .unwrap();
    assert_eq!(odd.origin, "openai/*");

    // Step 1 of gpt-4o's context-window chain is `openai/*`.
    let host = run(path, r#"{"model":"gpt-4o","messages":[]}"#);
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("openai/*"));
    let f = facts(&host);
    assert_eq!(f.error_fallback, Some(step));
    assert_eq!(RouteFacts::decode(&f.encode()), Some(f));

    // A step past the chain's end is refused, not guessed.
    let host = run(
        "/switchyard-fallback/context_window/5/gpt-4o/v1/chat/completions",
        r#"{"model":"gpt-4o","messages":[]}"#,
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
}

#[test]
fn wildcard_capture_is_forwarded() {
    let host = run(
        "/chat/completions",
        r#"{"model":"openai/gpt-4o-mini","messages":[]}"#,
    );
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("openai/*"));
    assert_eq!(facts(&host).wildcard.as_deref(), Some("gpt-4o-mini"));
}

#[test]
fn streams_take_the_stream_route_and_no_total_time() {
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","stream":true,"messages":[]}"#,
    );
    assert_eq!(host.req(TIMEOUT_HEADER).as_deref(), Some("0"));
    assert_eq!(host.req(STREAM_HEADER).as_deref(), Some("1"));
    // The stream route's per-try timeout (the first byte) applies.
    assert_eq!(host.req(PER_TRY_TIMEOUT_HEADER), None);
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","messages":[]}"#,
    );
    assert_eq!(host.req(STREAM_HEADER), None);
}

#[test]
fn a_client_cannot_pick_the_stream_route_itself() {
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (STREAM_HEADER, "1"),
        ],
        br#"{"model":"gpt-4o","messages":[]}"#,
    );
    let router = router();
    let mut x = RouterExchange::default();
    x.on_request_headers(&router, &mut host, false);
    let size = host.request_body.len();
    x.on_request_body(&router, &mut host, size, true);
    assert_eq!(
        host.req(STREAM_HEADER),
        None,
        "a non-streamed call's header is removed"
    );
}

#[test]
fn per_request_retries_and_timeout_become_envoy_headers() {
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","num_retries":0,"timeout":2.5,"stream":true,"messages":[]}"#,
    );
    assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("0"));
    assert_eq!(
        host.req(TIMEOUT_HEADER).as_deref(),
        Some("2500"),
        "an explicit timeout wins, streams too"
    );
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","timeout":30,"messages":[]}"#,
    );
    assert_eq!(
        host.req(PER_TRY_TIMEOUT_HEADER).as_deref(),
        Some("30000"),
        "the request's timeout is each attempt's, over the deployments' own"
    );
    let (status, v) = error_of(&run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","timeout":-1}"#,
    ));
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("timeout"))
    );
    let (status, v) = error_of(&run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","num_retries":"x"}"#,
    ));
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("num_retries"))
    );
}

#[test]
fn client_cannot_set_envoy_retry_headers() {
    let r = router();
    let body = br#"{"model":"gpt-4o","messages":[]}"#;
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (RETRIES_HEADER, "9"),
            (TIMEOUT_HEADER, "1"),
            ("X-Envoy-Retry-On", "4xx"),
            ("x-envoy-retriable-status-codes", "400"),
            ("x-envoy-hedge-on-per-try-timeout", "true"),
        ],
        body,
    );
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, false);
    ex.on_request_body(&r, &mut host, body.len(), true);
    assert_eq!(host.req(RETRIES_HEADER), None);
    assert_eq!(host.req(TIMEOUT_HEADER), None);
    assert_eq!(host.req("x-envoy-retry-on"), None);
    assert_eq!(host.req("x-envoy-retriable-status-codes"), None);
    assert_eq!(host.req("x-envoy-hedge-on-per-try-timeout"), None);
}

#[test]
fn a_client_num_retries_never_raises_the_configs() {
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","num_retries":1000,"messages":[]}"#,
    );
    assert_eq!(
        host.req(RETRIES_HEADER),
        None,
        "over the config's: the route's own policy applies"
    );
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","num_retries":1,"messages":[]}"#,
    );
    assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("1"));
    let config = crate::plugin_config::GroupRetries::default();
    assert_eq!(client_retries(Some(2), &config), None);
    assert_eq!(client_retries(Some(u32::MAX), &config), None);
    assert_eq!(client_retries(Some(0), &config), Some(0));
    assert_eq!(client_retries(None, &config), None);
    assert!(is_internal_header("X-ENVOY-RETRY-ON"));
    assert!(!is_internal_header("x-envoy"));
    assert!(!is_internal_header("x-request-id"));
}

#[test]
fn client_cannot_pick_the_route_itself() {
    let host = run("/v1/models", "");
    assert_eq!(host.req(GROUP_HEADER), None);
}

#[test]
fn azure_style_path_supplies_the_model() {
    let host = run(
        "/openai/deployments/gpt-4o/chat/completions?api-version=1",
        r#"{"messages":[]}"#,
    );
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
}

#[test]
fn models_and_health_are_local() {
    let r = router();
    let mut host = MockHost::with_request(&[(":method", "GET"), (":path", "/v1/models")], b"");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    let v = host.local_reply.as_ref().unwrap().json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "gpt-4o",
            "openai/*",
            "*",
            "anthropic/claude-*",
            "demo",
            "embedder",
            "gpt-4",
            "mini" // `secret` is a hidden alias
        ]
    );
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["created"], MODELS_CREATED);

    let mut host =
        MockHost::with_request(&[(":method", "GET"), (":path", "/health/liveliness")], b"");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(
        host.local_reply.as_ref().unwrap().json(),
        json!("I'm alive!")
    );
    let mut host =
        MockHost::with_request(&[(":method", "GET"), (":path", "/health/readiness")], b"");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(
        host.local_reply.as_ref().unwrap().json()["status"],
        "healthy"
    );
}

#[test]
fn bad_inputs_get_openai_errors() {
    let (status, v) = error_of(&run(
        "/v1/chat/completions",
        r#"{"model": "gpt-4o", "messages": ["#,
    ));
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(v["error"]["code"], "400");

    let (status, v) = error_of(&run("/v1/chat/completions", r#"{"model": 5}"#));
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("model")));

    let (status, v) = error_of(&run(
        "/v1/chat/completions",
        r#"{"model": "gpt-4o", "stream": "yes"}"#,
    ));
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("stream"))
    );

    let (status, v) = error_of(&run("/v1/chat/completions", r#"{"messages": []}"#));
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("model")));

    let (status, v) = error_of(&run("/v1/chat/completions", r#"[1,2]"#));
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("JSON object"));

    // `*` catches every model, so use a router without it for the unknown case.
    let r = Router::new(&RouterConfig {
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
        groups: vec![group("a")],
        aliases: Default::default(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 100,
        error_fallbacks: Default::default(),
    })
    .unwrap();
    let body = br#"{"model":"gpt-9"}"#;
    let mut host =
        MockHost::with_request(&[(":method", "POST"), (":path", "/v1/embeddings")], body);
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, false);
    ex.on_request_body(&r, &mut host, body.len(), true);
    let (status, v) = error_of(&host);
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("model=gpt-9"));

    let (status, _) = error_of(&run("/v1/embeddings", r#"{"model":"demo","input":"x"}"#));
    assert_eq!(status, 400);
    let (status, v) = error_of(&run(
        "/v1/chat/completions",
        r#"{"model":"embedder","messages":[]}"#,
    ));
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("model_info.mode"));
}

#[test]
fn oversized_bodies_get_413() {
    let big = format!(r#"{{"model":"gpt-4o","pad":"{}"}}"#, "x".repeat(2000));
    let (status, v) = error_of(&run("/v1/chat/completions", &big));
    assert_eq!(status, 413);
    assert_eq!(v["error"]["code"], "413");

    // Declared up front: refused before any body is read.
    let r = router();
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("content-length", "5000"),
        ],
        b"",
    );
    RouterExchange::default().on_request_headers(&r, &mut host, false);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 413);
}

#[test]
fn body_arriving_in_pieces_waits_for_the_end() {
    let r = router();
    let body = br#"{"model":"gpt-4o","messages":[]}"#;
    let mut host = MockHost::with_request(
        &[(":method", "POST"), (":path", "/v1/chat/completions")],
        body,
    );
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, false);
    assert_eq!(ex.on_request_body(&r, &mut host, 10, false), Flow::Pause);
    assert_eq!(host.req(GROUP_HEADER), None);
    assert_eq!(
        ex.on_request_body(&r, &mut host, body.len(), true),
        Flow::Continue
    );
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
}

#[test]
fn mock_groups_answer_locally() {
    let host = run(
        "/v1/chat/completions",
        r#"{"model":"demo","messages":[{"role":"user","content":"hi"}]}"#,
    );
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["choices"][0]["message"]["content"], "Hi from the mock");
    assert_eq!(v["id"], "chatcmpl-rid-1");
    assert_eq!(v["model"], "demo");

    let host = run(
        "/v1/chat/completions",
        r#"{"model":"demo","stream":true,"messages":[]}"#,
    );
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert!(String::from_utf8_lossy(&reply.body).ends_with("data: [DONE]\n\n"));
}

#[test]
fn missing_body_and_wrong_method() {
    let r = router();
    let mut host = MockHost::with_request(
        &[(":method", "POST"), (":path", "/v1/chat/completions")],
        b"",
    );
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 400);
    let mut host = MockHost::with_request(
        &[(":method", "GET"), (":path", "/v1/chat/completions")],
        b"",
    );
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 405);
    let mut host = MockHost::with_request(&[(":method", "GET"), (":path", "/nope")], b"");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 404);
}
