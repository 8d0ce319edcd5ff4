//! The upstream stage with Anthropic-format clients (`POST /v1/messages`,
//! `/v1/messages/count_tokens`): native for Anthropic deployments, translated through
//! OpenAI's format for every other provider.

use serde_json::{json, Value};

use super::tests::{cluster, config, env, send};
use super::*;
use crate::host::tests::MockHost;
use crate::plugin_config::Setting;

/// A request as the router stage hands it on for `api`.
fn anthropic_request(api: ClientApi, body: Value) -> MockHost {
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/messages"),
            ("x-request-id", "rid-7"),
            ("x-api-key", "sk-virtual-key"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "prompt-caching-2024-07-31"),
        ],
        &serde_json::to_vec(&body).unwrap(),
    );
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api,
        model: "claude-group".into(),
        wildcard: None,
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    host
}

/// Answers the attempt with `status` and `body` in one piece.
fn respond(
    up: &Upstream,
    host: &mut MockHost,
    ex: &mut UpstreamExchange,
    status: &str,
    ct: &str,
    body: &[u8],
) {
    host.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), ct.into()),
    ];
    host.response_body = body.to_vec();
    ex.on_response_headers(up, host, false);
    ex.on_response_body(up, host, body.len(), true);
}

fn message_body() -> Value {
    json!({
        "model": "claude-group", "max_tokens": 64, "num_retries": 1,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        ]}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "auto"},
    })
}

#[test]
fn anthropic_deployments_get_the_body_natively() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Anthropic, "claude-sonnet-4-5")]),
        &env,
    )
    .unwrap();
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    // api_base https://api.example.com:443/v1/ loses its /v1 for Anthropic.
    assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
    assert_eq!(
        host.req("x-api-key").as_deref(),
        Some("sk-secret"),
        "the deployment's key"
    );
    assert_eq!(host.req("anthropic-version").as_deref(), Some("2023-06-01"));
    assert_eq!(
        host.req("anthropic-beta").as_deref(),
        Some("prompt-caching-2024-07-31"),
        "the client's beta goes on"
    );
    let body = host.request_json();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(
        body.get("num_retries").is_none(),
        "gateway fields stay here"
    );
    assert_eq!(
        body["temperature"], 0.2,
        "a default that is a Messages parameter"
    );
    assert!(
        body.get("seed").is_none(),
        "a default that is not one is left out"
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "auto"}),
        "the rest untouched"
    );
    assert_eq!(body["messages"], message_body()["messages"]);

    let answer = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"A cat."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":20,"cache_read_input_tokens":10,"cache_creation_input_tokens":0,"output_tokens":5}}"#;
    respond(&up, &mut host, &mut ex, "200", "application/json", answer);
    assert_eq!(host.response_body, answer, "passed back untouched");
    let u = ex.usage().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
        (30, 5, 10)
    );
    assert!(host.resp("x-litellm-response-cost").is_some());

    // Anthropic's own errors too, status and all.
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    let (mut ex, _) = send(&up, &mut host);
    let overloaded = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
    respond(
        &up,
        &mut host,
        &mut ex,
        "529",
        "application/json",
        overloaded,
    );
    assert_eq!(host.resp(":status").as_deref(), Some("529"));
    assert_eq!(host.response_body, overloaded);
}

#[test]
fn native_anthropic_gets_no_litellm_field_and_only_the_metadata_user_id() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Anthropic, "claude-sonnet-4-5")]),
        &env,
    )
    .unwrap();
    let mut body = message_body();
    for f in crate::litellm_fields::LITELLM_ONLY_FIELDS {
        body[*f] = json!(["litellm"]);
    }
    body["metadata"] = json!({"user_id": "u-7", "spend_logs_metadata": {"team": "a"}});
    let mut host = anthropic_request(ClientApi::Messages, body);
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    let sent = host.request_json();
    let leaked: Vec<&String> = sent
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "metadata" && crate::litellm_fields::is_litellm_field(k))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    assert_eq!(
        sent["metadata"],
        json!({"user_id": "u-7"}),
        "Anthropic's metadata takes only user_id"
    );
    assert_eq!(sent["messages"], message_body()["messages"]);

    // Without a user_id, no metadata at all; count_tokens never gets one.
    for (api, metadata) in [
        (ClientApi::Messages, json!({"tags": ["a"]})),
        (ClientApi::CountTokens, json!({"user_id": "u-7"})),
    ] {
        let mut host = anthropic_request(
            api,
            json!({"model": "claude-group", "max_tokens": 5, "metadata": metadata,
                   "messages": [{"role": "user", "content": "Hi"}]}),
        );
        send(&up, &mut host);
        assert!(host.request_json().get("metadata").is_none(), "{api:?}");
    }
}

#[test]
fn native_streams_pass_untouched_and_count() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Anthropic, "claude-x")]),
        &env,
    )
    .unwrap();
    let mut body = message_body();
    body["stream"] = json!(true);
    let mut host = anthropic_request(ClientApi::Messages, body);
    let (mut ex, _) = send(&up, &mut host);
    assert!(
        host.request_json().get("stream_options").is_none(),
        "an Anthropic body"
    );
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    assert_eq!(
        ex.on_response_headers(&up, &mut host, false),
        Flow::Continue
    );
    let mut seen = Vec::new();
    for piece in stream.as_bytes().chunks(9) {
        host.response_body = piece.to_vec();
        ex.on_response_body(&up, &mut host, piece.len(), false);
        seen.extend_from_slice(&host.response_body);
    }
    host.response_body.clear();
    ex.on_response_body(&up, &mut host, 0, true);
    seen.extend_from_slice(&host.response_body);
    assert_eq!(seen, stream.as_bytes());
    let u = ex.usage().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (12, 4));
}

#[test]
fn count_tokens_is_native_for_anthropic_and_refused_elsewhere() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Anthropic, "claude-x")]),
        &env,
    )
    .unwrap();
    let mut host = anthropic_request(
        ClientApi::CountTokens,
        json!({"model": "claude-group", "messages": [{"role": "user", "content": "Hi"}]}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/v1/messages/count_tokens")
    );
    let body = host.request_json();
    assert_eq!(body["model"], "claude-x");
    assert!(
        body.get("temperature").is_none(),
        "count_tokens takes no sampling defaults"
    );
    respond(
        &up,
        &mut host,
        &mut ex,
        "200",
        "application/json",
        br#"{"input_tokens":9}"#,
    );
    assert_eq!(host.response_body, br#"{"input_tokens":9}"#);

    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "gpt-4o")]), &env).unwrap();
    let mut host = anthropic_request(
        ClientApi::CountTokens,
        json!({"model": "claude-group", "messages": [{"role": "user", "content": "Hi"}]}),
    );
    send(&up, &mut host);
    let reply = host.local_reply.as_ref().expect("refused");
    assert_eq!(reply.status, 400);
    let v = reply.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("openai deployment"),
        "{v}"
    );
}

#[test]
fn openai_deployments_get_a_translated_chat_request_and_answer() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "gpt-4o")]), &env).unwrap();
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/v1/chat/completions"));
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer sk-secret")
    );
    assert_eq!(host.req("x-api-key"), None, "the client's key never leaves");
    let body = host.request_json();
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        body["messages"][1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}})
    );
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(
        (body["max_tokens"].clone(), body["seed"].clone()),
        (json!(64), json!(7)),
        "defaults apply as for chat"
    );
    assert!(body.get("num_retries").is_none());

    let answer = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":8,"total_tokens":38}}"#;
    respond(&up, &mut host, &mut ex, "200", "application/json", answer);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(
        v["content"],
        json!([{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}])
    );
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["usage"]["input_tokens"], 30);
    assert_eq!(host.resp("content-length"), None);
    assert!(host.resp("x-litellm-response-cost").is_some());
    assert_eq!(ex.usage().unwrap().completion_tokens, 8);

    // The provider's error, in Anthropic's shape with its status.
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    let (mut ex, _) = send(&up, &mut host);
    respond(&up, &mut host, &mut ex, "429", "application/json", br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#);
    assert_eq!(host.resp(":status").as_deref(), Some("429"));
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}})
    );

    // A translation error is a local reply in Anthropic's shape.
    let mut host = anthropic_request(ClientApi::Messages, json!({"model": "x", "messages": []}));
    send(&up, &mut host);
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(
        (reply.status, reply.json()["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
}

#[test]
fn openai_streams_become_anthropic_events_with_usage() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "gpt-4o")]), &env).unwrap();
    let mut body = message_body();
    body["stream"] = json!(true);
    let mut host = anthropic_request(ClientApi::Messages, body);
    let (mut ex, _) = send(&up, &mut host);
    assert_eq!(
        host.request_json()["stream_options"],
        json!({"include_usage": true}),
        "the gateway asks for usage"
    );
    let stream = concat!(
        "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}\n\n",
        "data: [DONE]\n\n",
    );
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    ex.on_response_headers(&up, &mut host, false);
    host.response_body = stream.as_bytes().to_vec();
    ex.on_response_body(&up, &mut host, stream.len(), true);
    let out = String::from_utf8(host.response_body.clone()).unwrap();
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(out.contains("\"usage\":{\"input_tokens\":11,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":2}"), "{out}");
    assert_eq!(ex.usage().unwrap().prompt_tokens, 11);
}

#[test]
fn ollama_streams_chain_through_both_translators() {
    let mut cfg = config(ProviderKind::OllamaChat, "llama3.1");
    cfg.api_base = Setting::Literal("http://127.0.0.1:11434".into());
    cfg.api_key = None;
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = anthropic_request(
        ClientApi::Messages,
        json!({"model": "x", "max_tokens": 5, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/api/chat"));
    assert_eq!(host.request_json()["options"]["num_predict"], 5);
    let ndjson = concat!(
        "{\"model\":\"llama3.1\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n",
        "{\"model\":\"llama3.1\",\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}\n",
        "{\"model\":\"llama3.1\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"length\",\"done\":true,\"prompt_eval_count\":26,\"eval_count\":5}\n",
    );
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/x-ndjson".into()),
    ];
    ex.on_response_headers(&up, &mut host, false);
    assert_eq!(
        host.resp("content-type").as_deref(),
        Some("text/event-stream")
    );
    let mut out = Vec::new();
    for piece in ndjson.as_bytes().chunks(13) {
        host.response_body = piece.to_vec();
        ex.on_response_body(&up, &mut host, piece.len(), false);
        out.extend_from_slice(&host.response_body);
    }
    host.response_body.clear();
    ex.on_response_body(&up, &mut host, 0, true);
    out.extend_from_slice(&host.response_body);
    let out = String::from_utf8(out).unwrap();
    let text: String = out
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello");
    assert!(out.contains("\"stop_reason\":\"max_tokens\""), "{out}");
    assert!(
        out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{out}"
    );
    let u = ex.usage().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (26, 5));
}

#[test]
fn spend_is_recorded_as_anthropic_messages() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Anthropic, "claude-x")]),
        &env,
    )
    .unwrap();
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    host.properties.insert(
        crate::spend::KEY_PROPERTY.into(),
        crate::spend::KeyFacts {
            key_hash: "kh-messages".into(),
            ..Default::default()
        }
        .encode(),
    );
    let (mut ex, _) = send(&up, &mut host);
    respond(
        &up,
        &mut host,
        &mut ex,
        "200",
        "application/json",
        br#"{"type":"message","usage":{"input_tokens":100,"output_tokens":50}}"#,
    );
    let due = host.take_spend_reports();
    let row: Value = due
        .iter()
        .filter_map(|body| serde_json::from_slice::<Value>(body).ok())
        .find(|v| v["api_key"] == "kh-messages")
        .expect("a spend report");
    assert_eq!(row["call_type"], "anthropic_messages");
    assert_eq!(
        (
            row["prompt_tokens"].as_u64(),
            row["completion_tokens"].as_u64()
        ),
        (Some(100), Some(50))
    );
    assert!((row["spend"].as_f64().unwrap() - (100.0 * 1e-6 + 50.0 * 2e-6)).abs() < 1e-12);
}

#[test]
fn context_window_errors_replay_on_the_messages_path() {
    let mut cfg = cluster(&[config(ProviderKind::Openai, "small")]);
    cfg.error_fallbacks = [(
        "g".to_string(),
        crate::plugin_config::ErrorFallbacks {
            context_window: vec!["big".into()],
            content_policy: vec![],
        },
    )]
    .into();
    let up = Upstream::new(&cfg, &env).unwrap();
    let mut host = anthropic_request(ClientApi::Messages, message_body());
    let (mut ex, _) = send(&up, &mut host);
    respond(&up, &mut host, &mut ex, "400", "application/json", br#"{"error":{"message":"maximum context length is 10 tokens","code":"context_length_exceeded"}}"#);
    assert_eq!(
        host.resp("location").as_deref(),
        Some("http://switchyard.internal/switchyard-fallback/context_window/0/g/v1/messages")
    );
}
