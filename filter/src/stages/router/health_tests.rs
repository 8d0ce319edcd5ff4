use super::*;
use crate::host::tests::MockHost;
use crate::host::Flow;
use crate::plugin_config::{GroupConfig, RouterConfig};
use crate::stages::responder::ResponderExchange;
use crate::stages::router::{Router, RouterExchange};
use switchyard_contract::headers::KEY_MODELS_HEADER;

fn probe(id: &str, group: &str, mode: &str, cluster: Option<&str>) -> HealthProbe {
    HealthProbe {
        deployment_id: id.into(),
        cluster: cluster.map(str::to_string),
        model: group.into(),
        mode: mode.into(),
        timeout_ms: 5_000,
        endpoint: json!({"model": format!("openai/{id}"), "model_id": id}),
    }
}

fn info() -> ModelInfoConfig {
    ModelInfoConfig {
        deployments: vec![
            json!({"model_name": "a", "litellm_params": {"model": "openai/a"}, "model_info": {"id": "a1"}}),
            json!({"model_name": "b", "litellm_params": {"model": "openai/b"}, "model_info": {"id": "b1"}}),
        ],
        groups: vec![
            json!({"model_group": "a", "providers": ["openai"]}),
            json!({"model_group": "b", "providers": ["openai"]}),
        ],
        probes: vec![
            probe("a1", "a", "chat", Some("health_a1")),
            probe("a2", "a", "chat", Some("health_a2")),
            probe("e1", "b", "embedding", Some("health_e1")),
            probe("m1", "demo", "chat", None),
        ],
    }
}

fn router(keys: bool) -> Router {
    let group = |name: &str| GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: None,
        endpoints: vec![],
    };
    Router::new(&RouterConfig {
        groups: vec![group("a"), group("b")],
        aliases: Default::default(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 1000,
        error_fallbacks: Default::default(),
        defer_answers: keys,
        spend_reporting: None,
        forced_group: None,
        retries: Default::default(),
        callbacks: None,
        metrics: Default::default(),
        info: info(),
    })
    .unwrap()
}

fn get(path: &str, extra: &[(&str, &str)]) -> MockHost {
    let mut headers = vec![(":method", "GET"), (":path", path)];
    headers.extend_from_slice(extra);
    MockHost::with_request(&headers, b"")
}

fn answer(status: u16, body: &str) -> CallAnswer {
    CallAnswer {
        status,
        headers: vec![(":status".into(), status.to_string())],
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn probes_are_litellms_minimal_requests() {
    let (path, body) = probe_request(&probe("a1", "a", "chat", None));
    assert_eq!(path, "/v1/chat/completions");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"model": "a", "messages": [{"role": "user", "content": "test from litellm"}], "max_tokens": 16})
    );
    let (path, body) = probe_request(&probe("e1", "b", "embedding", None));
    assert_eq!(path, "/v1/embeddings");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"model": "b", "input": ["test from litellm"]})
    );
    let (path, _) = probe_request(&probe("c1", "c", "completion", None));
    assert_eq!(path, "/v1/completions");
}

/// Keys off: the router stage probes every deployment at once and answers when
/// the last probe answered, in LiteLLM's shape.
#[test]
fn health_probes_every_deployment_and_lists_both_kinds() {
    let r = router(false);
    let mut host = get("/health", &[]);
    let mut ex = RouterExchange::default();
    assert_eq!(ex.on_request_headers(&r, &mut host, true), Flow::Pause);
    assert!(host.local_reply.is_none(), "waits for the probes");
    assert_eq!(host.calls.len(), 3, "the mock deployment needs no call");
    let call = &host.calls[0];
    assert_eq!(call.cluster, "health_a1");
    assert_eq!(call.header(HEALTH_PROBE_HEADER), Some("a1"));
    assert_eq!(call.header(":path"), Some("/v1/chat/completions"));
    assert_eq!(call.timeout_ms, 5_000);
    assert_eq!(host.calls[2].header(":path"), Some("/v1/embeddings"));

    let tokens: Vec<u32> = host.calls.iter().map(|c| c.token).collect();
    // Out of order, one unknown token ignored.
    ex.on_http_call_response(&r, &mut host, 99, &answer(200, "{}"));
    ex.on_http_call_response(&r, &mut host, tokens[2], &answer(200, "{}"));
    ex.on_http_call_response(
        &r,
        &mut host,
        tokens[1],
        &answer(0, ""), // no answer: timed out, or the connection failed
    );
    assert!(host.local_reply.is_none());
    ex.on_http_call_response(
        &r,
        &mut host,
        tokens[0],
        &answer(
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        ),
    );
    let reply = host
        .local_reply
        .as_ref()
        .expect("answered after the last probe");
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["healthy_count"], 2);
    assert_eq!(body["unhealthy_count"], 2);
    let ids = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["model_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("healthy_endpoints"), ["e1", "m1"]);
    assert_eq!(ids("unhealthy_endpoints"), ["a1", "a2"]);
    let errors: Vec<&str> = body["unhealthy_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors[0], "401: Incorrect API key provided");
    assert!(errors[1].contains("no answer within 5 s"), "{}", errors[1]);
    assert!(body["healthy_endpoints"][0].get("error").is_none());
}

#[test]
fn a_refused_callout_is_an_unhealthy_endpoint_at_once() {
    let r = router(false);
    let mut host = get("/health", &[]);
    host.refuse_cluster = Some("health_a2".into());
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, true);
    assert_eq!(host.calls.len(), 2);
    for token in [1, 2] {
        ex.on_http_call_response(&r, &mut host, token, &answer(200, "{}"));
    }
    let body = host.local_reply.as_ref().unwrap().json();
    assert_eq!(body["unhealthy_count"], 1);
    assert!(body["unhealthy_endpoints"][0]["error"]
        .as_str()
        .unwrap()
        .contains("could not be sent"));
}

#[test]
fn huge_error_bodies_are_cut() {
    let p = probe("a1", "a", "chat", None);
    let Err(error) = outcome(&answer(502, &"x".repeat(100_000)), &p) else {
        panic!("a 502 is unhealthy")
    };
    assert!(error.len() < 600, "{}", error.len());
}

/// With keys, `/health` waits for the key check; only the master key gets it.
#[test]
fn with_keys_health_is_for_the_master_key_only() {
    let r = router(true);
    for (admin, expected) in [
        (None, 403),
        (Some("yes"), 403),
        (Some(KEY_ADMIN_MASTER), 200),
    ] {
        let mut host = get("/health", &[]);
        let mut ex = RouterExchange::default();
        assert_eq!(ex.on_request_headers(&r, &mut host, true), Flow::Continue);
        assert!(host.calls.is_empty() && host.local_reply.is_none());
        // ext_authz admitted the key; the keyservice marks the master key.
        if let Some(value) = admin {
            host.request_headers
                .push((KEY_ADMIN_HEADER.into(), value.into()));
        }
        let mut responder = ResponderExchange::default();
        assert_eq!(
            responder.on_request_headers(Some(&r), &mut host),
            Flow::Pause
        );
        if expected == 403 {
            let reply = host.local_reply.as_ref().unwrap();
            assert_eq!(reply.status, 403);
            assert_eq!(reply.json()["error"]["type"], "auth_error");
            assert!(host.calls.is_empty(), "no probe for a virtual key");
            continue;
        }
        assert_eq!(host.calls.len(), 3);
        for token in 1..=3 {
            responder.on_http_call_response(Some(&r), &mut host, token, &answer(200, "{}"));
        }
        assert_eq!(
            host.local_reply.as_ref().unwrap().json()["healthy_count"],
            4
        );
    }
    // Without the router stage's tables in the VM: an error, never a probe.
    let mut host = get("/health", &[(KEY_ADMIN_HEADER, KEY_ADMIN_MASTER)]);
    ResponderExchange::default().on_request_headers(None, &mut host);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
}

/// A client's own admin or probe header never survives the router stage.
#[test]
fn clients_cannot_forge_the_admin_or_probe_headers() {
    let r = router(true);
    let mut host = get(
        "/health",
        &[
            (KEY_ADMIN_HEADER, KEY_ADMIN_MASTER),
            (HEALTH_PROBE_HEADER, "a1"),
        ],
    );
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.req(KEY_ADMIN_HEADER), None);
    assert_eq!(host.req(HEALTH_PROBE_HEADER), None);
    ResponderExchange::default().on_request_headers(Some(&r), &mut host);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 403);
}

fn ids_of(reply: &crate::host::tests::LocalReply, field: &str) -> Vec<String> {
    reply.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn model_info_without_keys_is_answered_at_once() {
    let r = router(false);
    for (path, field) in [
        ("/model/info", "model_name"),
        ("/v1/model/info", "model_name"),
        ("/model_group/info", "model_group"),
    ] {
        let mut host = get(path, &[]);
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(ids_of(reply, field), ["a", "b"], "{path}");
        assert!(reply.header(NARROW_MARKER).is_none());
    }
    let mut host = MockHost::with_request(&[(":method", "POST"), (":path", "/model/info")], b"");
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 405);
}

/// With keys, the info answers are narrowed to the key's models (LiteLLM's
/// `model_info_v1` and `model_group_info`); the master key sees all.
#[test]
fn model_info_is_narrowed_to_the_keys_models() {
    let r = router(true);
    for (path, field) in [
        ("/model/info", "model_name"),
        ("/model_group/info", "model_group"),
    ] {
        for (models, expected) in [
            (Some("b"), vec!["b"]),
            (Some("zzz, "), vec![]),
            (None, vec!["a", "b"]),
        ] {
            let mut host = get(path, &[]);
            assert_eq!(
                RouterExchange::default().on_request_headers(&r, &mut host, true),
                Flow::Continue
            );
            assert!(host.local_reply.is_none(), "waits for the key check");
            if let Some(m) = models {
                host.request_headers
                    .push((KEY_MODELS_HEADER.into(), m.into()));
            }
            ResponderExchange::default().on_request_headers(Some(&r), &mut host);
            let reply = host.local_reply.as_ref().unwrap();
            assert_eq!(ids_of(reply, field), expected, "{path} {models:?}");
            assert!(
                reply.header(NARROW_MARKER).is_none(),
                "the marker never leaves"
            );
        }
    }
}

#[test]
fn targets_come_from_the_query() {
    assert_eq!(Target::from_path("/health"), Target::default());
    assert_eq!(
        Target::from_path("/health?model=gpt%2D4o+mini&x=1"),
        Target {
            model: Some("gpt-4o mini".into()),
            model_id: None
        }
    );
    assert_eq!(
        Target::from_path("/health?model_id=a&model_id=b#frag")
            .model_id
            .as_deref(),
        Some("b"),
        "the last one wins"
    );
    // Bad escapes, empty and huge values are ignored, not errors.
    let huge = format!("/health?model={}", "m".repeat(10_000));
    for path in [
        "/health?model=%zz",
        "/health?model=",
        "/health?model",
        huge.as_str(),
    ] {
        assert_eq!(Target::from_path(path), Target::default(), "{path}");
    }
}

#[test]
fn a_target_narrows_the_probes_like_litellm() {
    let probes = info().probes;
    let select = |path: &str| Target::from_path(path).select(&probes);
    assert_eq!(select("/health"), [0, 1, 2, 3]);
    assert_eq!(select("/health?model=a"), [0, 1], "by group");
    assert_eq!(
        select("/health?model=openai/e1"),
        [2],
        "by litellm_params.model"
    );
    assert_eq!(select("/health?model=nope"), Vec::<usize>::new());
    assert_eq!(select("/health?model_id=a2"), [1]);
    assert_eq!(
        select("/health?model_id=nope"),
        [0, 1, 2, 3],
        "LiteLLM keeps all"
    );
}

#[test]
fn a_targeted_call_without_a_healthy_endpoint_is_a_503() {
    let r = router(false);
    let mut host = get("/health?model=a", &[]);
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, true);
    assert_eq!(host.calls.len(), 2, "only group a's deployments");
    for token in [1, 2] {
        ex.on_http_call_response(&r, &mut host, token, &answer(500, "{}"));
    }
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["unhealthy_count"], 2);
    assert_eq!(reply.json()["healthy_count"], 0);
    // An unknown model: nothing to check, answered at once.
    let mut host = get("/health?model=nope", &[]);
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 503);
    assert!(host.calls.is_empty());
}

#[test]
fn one_deployment_or_one_group_by_query() {
    let r = router(false);
    let mut host = get("/model/info?litellm_model_id=b1", &[]);
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(
        ids_of(host.local_reply.as_ref().unwrap(), "model_name"),
        ["b"]
    );
    let mut host = get("/model/info?litellm_model_id=nope", &[]);
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"]["message"],
        "Model id = nope not found on litellm proxy"
    );
    let mut host = get("/model_group/info?model_group=a", &[]);
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(
        ids_of(host.local_reply.as_ref().unwrap(), "model_group"),
        ["a"]
    );
    let mut host = get("/model_group/info?model_group=%zz", &[]);
    RouterExchange::default().on_request_headers(&r, &mut host, true);
    assert_eq!(
        ids_of(host.local_reply.as_ref().unwrap(), "model_group"),
        ["a", "b"],
        "an undecodable value selects nothing"
    );
}
