//! The router stage with Anthropic-format clients (`POST /v1/messages`,
//! `/v1/messages/count_tokens`): routed as chat completions, every error in
//! Anthropic's shape, mock groups answering in Anthropic's format.

use serde_json::{json, Value};

use super::tests::{error_of, facts, router, run};
use super::*;
use crate::host::tests::MockHost;

/// An Anthropic error: `{"type":"error","error":{"type","message"}}`.
fn anthropic_error(host: &MockHost) -> (u16, String, String) {
    let (status, v) = error_of(host);
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v.get("code").is_none() && v["error"].get("param").is_none(),
        "{v}"
    );
    (
        status,
        v["error"]["type"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn messages_route_as_chat_completions_with_the_api_in_the_facts() {
    let host = run(
        "/v1/messages",
        r#"{"model":"gpt-4","max_tokens":5,"stream":true,"messages":[]}"#,
    );
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
    let f = facts(&host);
    assert_eq!(
        (f.endpoint, f.api),
        (Endpoint::ChatCompletions, ClientApi::Messages)
    );
    assert_eq!(host.req(TIMEOUT_HEADER).as_deref(), Some("0"), "a stream");
    // Envoy's own error replies take Anthropic's shape for it (config/src/render/).
    assert_eq!(
        host.properties.get(API_PROPERTY).map(Vec::as_slice),
        Some(&b"anthropic"[..])
    );
    let openai = run(
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","messages":[]}"#,
    );
    assert_eq!(openai.properties.get(API_PROPERTY), None);

    let host = run(
        "/v1/messages/count_tokens",
        r#"{"model":"gpt-4o","messages":[]}"#,
    );
    assert_eq!(facts(&host).api, ClientApi::CountTokens);

    for api in [
        ClientApi::Messages,
        ClientApi::CountTokens,
        ClientApi::OpenAi,
    ] {
        let f = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api,
            model: "m".into(),
            wildcard: Some("x".into()),
            error_fallback: None,
            request_fallbacks: None,
            call_id: String::new(),
            call_start_ms: 0,
        };
        assert_eq!(RouteFacts::decode(&f.encode()), Some(f));
    }
}

#[test]
fn gateway_errors_take_anthropics_shape() {
    let (status, kind, message) =
        anthropic_error(&run("/v1/messages", r#"{"model": "gpt-4o", "messages": ["#));
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
    assert!(message.contains("not valid JSON"), "{message}");

    let (status, kind, _) = anthropic_error(&run("/v1/messages", r#"{"max_tokens": 5}"#));
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));

    let big = format!(r#"{{"model":"gpt-4o","pad":"{}"}}"#, "x".repeat(2000));
    let (status, kind, _) = anthropic_error(&run("/v1/messages", &big));
    assert_eq!((status, kind.as_str()), (413, "request_too_large"));

    // An unknown model is LiteLLM's 400 (no `*` group in this router).
    let r = Router::new(&RouterConfig {
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
        groups: vec![crate::plugin_config::GroupConfig {
            name: "a".into(),
            route_key: "a".into(),
            mock_response: None,
            endpoints: vec![],
        }],
        aliases: Default::default(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 100,
        error_fallbacks: Default::default(),
    })
    .unwrap();
    let body = br#"{"model":"claude-9","max_tokens":1,"messages":[]}"#;
    let mut host = MockHost::with_request(&[(":method", "POST"), (":path", "/v1/messages")], body);
    let mut ex = RouterExchange::default();
    ex.on_request_headers(&r, &mut host, false);
    ex.on_request_body(&r, &mut host, body.len(), true);
    let (status, kind, message) = anthropic_error(&host);
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
    assert!(message.contains("model=claude-9"), "{message}");

    // Wrong method on the route.
    let mut host = MockHost::with_request(&[(":method", "GET"), (":path", "/v1/messages")], b"");
    RouterExchange::default().on_request_headers(&router(), &mut host, true);
    let (status, kind, _) = anthropic_error(&host);
    assert_eq!((status, kind.as_str()), (405, "invalid_request_error"));

    // The OpenAI routes keep OpenAI's shape.
    let (_, v) = error_of(&run("/v1/chat/completions", r#"{"model": 5}"#));
    assert_eq!(v["error"]["param"], "model");
}

#[test]
fn mock_groups_answer_in_anthropics_format() {
    let host = run(
        "/v1/messages",
        r#"{"model":"demo","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["id"], "msg_rid-1");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hi from the mock"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let host = run(
        "/v1/messages",
        r#"{"model":"demo","max_tokens":50,"stream":true,"messages":[]}"#,
    );
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8_lossy(&reply.body).to_string();
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(
        text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    let said: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(said, "Hi from the mock");

    let (status, kind, _) = anthropic_error(&run(
        "/v1/messages/count_tokens",
        r#"{"model":"demo","messages":[]}"#,
    ));
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
}
