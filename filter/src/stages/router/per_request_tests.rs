//! The router stage with LiteLLM's per-request controls (`per_request`): fallbacks,
//! a client's own mock_response, metadata types, the refused mock-testing fields.

use serde_json::{json, Value};

use super::*;
use crate::host::tests::MockHost;
use crate::plugin_config::{GroupConfig, GroupRetries, RouterConfig};
use crate::stages::responder::CLIENT_MOCK_HEADER;

fn group(name: &str) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: None,
        endpoints: vec![],
    }
}

/// Groups a, b, c, d, e, f, g; `emb` serves embeddings only; `openai/*`; alias `bee` → b.
fn router(defer_answers: bool) -> Router {
    let mut emb = group("emb");
    emb.endpoints = vec!["embeddings".into()];
    let mut groups: Vec<GroupConfig> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|n| group(n))
        .collect();
    groups.push(emb);
    groups.push(group("openai/*"));
    let mut mocked = group("mocked");
    mocked.mock_response = Some("from the config".into());
    groups.push(mocked);
    Router::new(&RouterConfig {
        groups,
        aliases: [("bee".to_string(), "b".to_string())].into(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 1 << 20,
        error_fallbacks: Default::default(),
        defer_answers,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: GroupRetries::default(),
        metrics: Default::default(),
        info: Default::default(),
    })
    .unwrap()
}

fn run_on(r: &Router, path: &str, headers: &[(&str, &str)], body: Value) -> MockHost {
    let body = serde_json::to_vec(&body).unwrap();
    let mut all = vec![
        (":method", "POST"),
        (":path", path),
        ("x-request-id", "rid-9"),
    ];
    all.extend_from_slice(headers);
    let mut host = MockHost::with_request(&all, &body);
    let mut ex = RouterExchange::default();
    ex.on_request_headers(r, &mut host, false);
    if host.local_reply.is_none() {
        ex.on_request_body(r, &mut host, body.len(), true);
    }
    host
}

fn chat(body: Value) -> MockHost {
    run_on(&router(false), "/v1/chat/completions", &[], body)
}

fn refusal(host: &MockHost) -> (u16, Value) {
    let reply = host.local_reply.as_ref().expect("a refusal");
    (reply.status, reply.json())
}

fn facts(host: &MockHost) -> RouteFacts {
    RouteFacts::decode(host.properties.get(ROUTE_PROPERTY).expect("routed")).unwrap()
}

#[test]
fn a_list_of_groups_becomes_the_request_chain() {
    let host = chat(json!({"model": "a", "messages": [], "fallbacks": ["b", "bee", "a", "c"]}));
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("a"));
    // The group asked for and repeats are left out (LiteLLM never retries them).
    assert_eq!(host.req(FALLBACK_GROUPS_HEADER).as_deref(), Some("b,c"));
    let f = facts(&host).request_fallbacks.expect("a chain");
    assert_eq!((f.len, f.attempts, f.from_list), (2, 3, true));
    assert_eq!(f.retries, GroupRetries::default());
    // Envoy retries within the group only: the config's own fallbacks are replaced.
    assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("2"));

    // The client's num_retries counts, never beyond the config's (which bounds the
    // attempts Envoy keeps on the group's own priority).
    let host = chat(json!({"model": "a", "num_retries": 0, "fallbacks": ["b"]}));
    assert_eq!(facts(&host).request_fallbacks.unwrap().attempts, 1);
    assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("0"));
    let host = chat(json!({"model": "a", "num_retries": 9, "fallbacks": ["b"]}));
    assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("2"));

    // None, empty, or only the group itself: no chain, no header.
    for fallbacks in [json!(null), json!([]), json!(["a"])] {
        let host = chat(json!({"model": "a", "fallbacks": fallbacks}));
        assert!(host.local_reply.is_none());
        assert!(facts(&host).request_fallbacks.is_none(), "{fallbacks}");
        assert_eq!(host.req(FALLBACK_GROUPS_HEADER), None);
    }
    // A wildcard group is a group like any other; {"model": name} is a name.
    let host = chat(json!({"model": "a", "fallbacks": [{"model": "openai/gpt-4o-mini"}]}));
    assert_eq!(
        host.req(FALLBACK_GROUPS_HEADER).as_deref(),
        Some("openai/*")
    );
}

#[test]
fn litellm_mapping_form_picks_the_groups_entry() {
    let host = chat(json!({"model": "a", "fallbacks": [{"b": ["d"]}, {"a": ["c", "e"]}]}));
    let f = facts(&host).request_fallbacks.unwrap();
    assert_eq!((f.len, f.from_list), (2, false));
    assert_eq!(host.req(FALLBACK_GROUPS_HEADER).as_deref(), Some("c,e"));
    // The generic `*` entry, else nothing for this group.
    let host = chat(json!({"model": "a", "fallbacks": [{"b": ["d"]}, {"*": ["f"]}]}));
    assert_eq!(host.req(FALLBACK_GROUPS_HEADER).as_deref(), Some("f"));
    let host = chat(json!({"model": "a", "fallbacks": [{"b": ["d"]}]}));
    assert!(host.local_reply.is_none());
    assert!(facts(&host).request_fallbacks.is_none());
}

#[test]
fn bad_fallbacks_are_a_clear_400() {
    let cases = [
        (json!(["nope"]), "nope"),
        (json!(["b", "not-a-group"]), "not-a-group"),
        (json!(["emb"]), "does not serve"),
        (json!("b"), "must be a list"),
        (json!([1]), "must be a list"),
        (json!(["b", {"a": ["c"]}]), "mixes"),
        (
            json!([{"model": "b", "temperature": 0}]),
            "parameter overrides",
        ),
        (json!([{"a": "c"}]), "must be a list"),
        (json!(["b", "c", "d", "e", "f", "g"]), "at most 5"),
    ];
    for (fallbacks, says) in cases {
        let (status, v) = refusal(&chat(
            json!({"model": "a", "messages": [], "fallbacks": fallbacks}),
        ));
        assert_eq!(status, 400, "{fallbacks}");
        assert_eq!(v["error"]["param"], "fallbacks", "{fallbacks}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{fallbacks}: {message}");
    }
    // An unknown model is reported as such, not as a fallback problem.
    let (status, v) = refusal(&chat(json!({"model": "zzz", "fallbacks": ["b"]})));
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("model")));
}

#[test]
fn a_replay_along_the_request_chain_routes_to_its_step() {
    let r = router(false);
    let body = json!({"model": "a", "messages": [], "fallbacks": ["b", "openai/gpt-x"]});
    let host = run_on(
        &r,
        "/switchyard-fallback/request/1/a/v1/chat/completions",
        &[],
        body.clone(),
    );
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("openai/*"));
    let f = facts(&host);
    assert_eq!(f.wildcard.as_deref(), Some("gpt-x"));
    assert_eq!(
        f.error_fallback,
        Some(ErrorFallbackStep {
            kind: ErrorKind::Request,
            origin: "a".into(),
            step: 1
        })
    );
    // The chain is the body's, checked again: the key check sees it on every replay.
    assert_eq!(
        host.req(FALLBACK_GROUPS_HEADER).as_deref(),
        Some("b,openai/*")
    );
    // A step the body's chain does not have (a client forging the path) is refused.
    let host = run_on(
        &r,
        "/switchyard-fallback/request/2/a/v1/chat/completions",
        &[],
        body,
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    let host = run_on(
        &r,
        "/switchyard-fallback/request/0/a/v1/chat/completions",
        &[],
        json!({"model": "a"}),
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
}

#[test]
fn litellm_mock_testing_fields_are_refused_as_litellm_does() {
    for field in crate::litellm_fields::REFUSED_MOCK_TESTING_FIELDS {
        for value in [json!(true), json!(null), json!(0.5)] {
            let mut body = json!({"model": "a", "messages": []});
            body[field] = value;
            let (status, v) = refusal(&chat(body));
            assert_eq!((status, v["error"]["param"].as_str()), (400, Some(field)));
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Mock testing request params are disabled on this proxy"));
        }
    }
}

#[test]
fn metadata_must_be_an_object_as_in_litellm() {
    for (field, value, got) in [
        ("metadata", json!([1]), "an array"),
        ("metadata", json!("text"), "a string"),
        ("metadata", json!(true), "a boolean"),
        ("litellm_metadata", json!(5), "an integer"),
        ("litellm_metadata", json!(2.5), "a number"),
    ] {
        let mut body = json!({"model": "a", "messages": []});
        body[field] = value;
        let (status, v) = refusal(&chat(body));
        assert_eq!((status, v["error"]["param"].as_str()), (400, Some(field)));
        assert_eq!(
            v["error"]["message"],
            format!("Invalid type for '{field}': expected an object, but got {got} instead.")
        );
    }
    for ok in [json!({"a": 1}), json!("{\"a\": 1}"), json!(null)] {
        let host = chat(json!({"model": "a", "metadata": ok, "litellm_metadata": ok}));
        assert!(host.local_reply.is_none(), "{ok}: {:?}", host.local_reply);
    }
}

/// The client-mock answer the router stage kept for the responder.
fn client_mock(host: &MockHost) -> Option<DeferredReply> {
    host.properties
        .get(CLIENT_MOCK_PROPERTY)
        .filter(|raw| !raw.is_empty())
        .map(|raw| decode_reply(raw).unwrap())
}

#[test]
fn a_client_mock_is_prepared_only_when_keys_are_checked() {
    // Without keys LiteLLM has no key metadata to allow it: the provider is called.
    let host = chat(json!({"model": "a", "messages": [], "mock_response": "hi"}));
    assert!(host.local_reply.is_none());
    assert!(client_mock(&host).is_none());
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("a"));

    // With keys: kept for the responder, the request routed as usual meanwhile.
    let r = router(true);
    let host = run_on(
        &r,
        "/v1/chat/completions",
        &[],
        json!({"model": "a", "messages": [], "mock_response": "Mocked!",
               "mock_tool_calls": [{"id": "call_1", "type": "function",
                                    "function": {"name": "f", "arguments": "{}"}}]}),
    );
    assert!(host.local_reply.is_none());
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("a"));
    let reply = client_mock(&host).expect("a client mock");
    assert_eq!(reply.status, 200);
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["id"], "chatcmpl-rid-9");
    assert_eq!(v["choices"][0]["message"]["content"], "Mocked!");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "f"
    );

    // Streamed; in Anthropic's shape on /v1/messages.
    let host = run_on(
        &r,
        "/v1/chat/completions",
        &[],
        json!({"model": "a", "stream": true, "mock_response": "one two"}),
    );
    let reply = client_mock(&host).unwrap();
    let text = String::from_utf8(reply.body).unwrap();
    assert!(text.contains("\"content\":\"two\"") && text.ends_with("data: [DONE]\n\n"));
    let host = run_on(
        &r,
        "/v1/messages",
        &[],
        json!({"model": "a", "max_tokens": 5, "mock_response": "hello",
               "messages": [{"role": "user", "content": "x"}]}),
    );
    let v: Value = serde_json::from_slice(&client_mock(&host).unwrap().body).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["content"][0]["text"].as_str()),
        (Some("message"), Some("hello"))
    );

    // LiteLLM's error texts, and what a text mock cannot be, are errors to send.
    for (mock, status) in [
        (json!("litellm.RateLimitError"), 429),
        (json!("litellm.InternalServerError"), 500),
        (json!({"choices": []}), 400),
    ] {
        let host = run_on(
            &r,
            "/v1/chat/completions",
            &[],
            json!({"model": "a", "mock_response": mock}),
        );
        assert_eq!(client_mock(&host).unwrap().status, status, "{mock}");
    }
    let host = run_on(
        &r,
        "/v1/chat/completions",
        &[],
        json!({"model": "a", "mock_response": "x", "mock_tool_calls": "nope"}),
    );
    let reply = client_mock(&host).unwrap();
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("mock_tool_calls"));
}

#[test]
fn clients_cannot_send_the_internal_headers_themselves() {
    // The keyservice's allow header and the router's own fallback-groups header,
    // forged by a client, are gone before ext_authz and the responder see the request.
    let r = router(true);
    let host = run_on(
        &r,
        "/v1/chat/completions",
        &[
            (
                CLIENT_MOCK_HEADER,
                crate::stages::responder::CLIENT_MOCK_ALLOWED,
            ),
            (FALLBACK_GROUPS_HEADER, "a"),
        ],
        json!({"model": "a", "messages": [], "mock_response": "x"}),
    );
    assert_eq!(host.req(CLIENT_MOCK_HEADER), None);
    assert_eq!(host.req(FALLBACK_GROUPS_HEADER), None);
}

#[test]
fn every_header_the_keyservice_writes_is_removed_from_a_clients_request() {
    use switchyard_contract::headers as h;
    for name in h::KEY_HEADERS {
        assert!(
            is_internal_header(name),
            "{name} is not removed from a client"
        );
    }
    // A client's forged budget never reaches the responder (which sets the gauges'
    // inputs from these headers).
    let budget = [
        h::KEY_SPEND_HEADER,
        h::KEY_MAX_BUDGET_HEADER,
        h::TEAM_SPEND_HEADER,
        h::TEAM_MAX_BUDGET_HEADER,
    ];
    let forged: Vec<(&str, &str)> = budget.iter().map(|name| (*name, "1000000")).collect();
    let host = run_on(
        &router(true),
        "/v1/chat/completions",
        &forged,
        json!({"model": "a", "messages": []}),
    );
    for name in budget {
        assert_eq!(host.req(name), None, "{name}");
    }
}

#[test]
fn a_clients_admission_id_is_removed_but_a_replays_is_kept() {
    // The admission id keys the spend rows and continues an admission on a replay:
    // a client's own never reaches the key check on an ordinary request…
    let r = router(true);
    let adm = crate::spend::ADMISSION_HEADER;
    let host = run_on(
        &r,
        "/v1/chat/completions",
        &[(adm, "3f2b1c4d-0000-4000-8000-000000000000")],
        json!({"model": "a", "messages": []}),
    );
    assert_eq!(host.req(adm), None);
    // …while an error fallback's replay keeps the one its redirect carried (the
    // keyservice honours it only when live for the same key).
    let host = run_on(
        &r,
        "/switchyard-fallback/request/1/a/v1/chat/completions",
        &[(adm, "from-the-redirect")],
        json!({"model": "a", "messages": [], "fallbacks": ["b"]}),
    );
    assert_eq!(host.req(adm).as_deref(), Some("from-the-redirect"));
}
