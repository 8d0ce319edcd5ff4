//! Micro-benchmarks of the filter's per-request work: ns and allocations per
//! operation. Run through `bench/micro` (or `cargo bench -p switchyard-filter --bench
//! translate`); see `bench/MICRO.md` for the numbers and where the time goes.
//!
//! Payloads are shaped like the unit tests' fixtures and the integration tests' mock
//! providers (`integration-tests/mocks/providers.py`): OpenAI chat requests (small,
//! with tools, tool results and an image, and a ~50 KB conversation), Anthropic
//! answers and streams as the Messages API sends them, OpenAI chunk streams.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/alloc_count.rs"]
mod alloc_count;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use alloc_count::{count, Allocs, Suite};
use switchyard_filter::codec::sse::SseDecoder;
use switchyard_filter::cost;
use switchyard_filter::endpoint::{ClientApi, Endpoint};
use switchyard_filter::host::tests::MockHost;
use switchyard_filter::host::{decode_header_pairs, Host, Level};
use switchyard_filter::observe::AttemptRecord;
use switchyard_filter::plugin_config::{
    DeploymentConfig, GroupConfig, Pricing, RouterConfig, Setting, UpstreamConfig,
    ENDPOINT_METADATA_KEY, ENDPOINT_METADATA_NAMESPACE,
};
use switchyard_filter::providers::{self, openai, ProviderKind, ResponseContext, StreamTranslate};
use switchyard_filter::request::TopLevel;
use switchyard_filter::stages::router::{RouteFacts, Router, RouterExchange, ROUTE_PROPERTY};
use switchyard_filter::stages::upstream::{Upstream, UpstreamExchange};

// ---------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------

/// A deterministic word stream (xorshift over a small vocabulary).
fn prose(seed: u64, bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "gateway",
        "request",
        "model",
        "answer",
        "stream",
        "token",
        "Envoy",
        "provider",
        "deployment",
        "routes",
        "each",
        "attempt",
        "and",
        "translates",
        "it",
        "for",
        "a",
        "cluster",
        "with",
        "retries",
        "failover",
        "latency",
        "budget",
        "key",
        "report",
        "usage",
        "cost",
        "of",
        "in",
        "JSON",
        "chunk",
        "event",
        "is",
        "not",
        "buffered",
        "whole",
        "when",
        "client",
        "asks",
        "Anthropic",
        "OpenAI",
        "Azure",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(bytes + 16);
    let mut sentence = 0;
    while out.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word = WORDS[(x % WORDS.len() as u64) as usize];
        if sentence == 0 && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        sentence += 1;
        if sentence == 12 {
            out.push('.');
            sentence = 0;
        } else {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// Two messages: a system prompt and a question.
fn small_chat() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            {"role": "user", "content": "What is the capital of France, and what is it known for?"}
        ],
        "temperature": 0.7,
        "max_tokens": 256
    })
}

/// A tool round trip (two calls, two results, one with content parts) and a user
/// turn with an image as a data URI (6 KB of PNG bytes, 8 KB of base64).
fn tools_chat() -> Value {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut x: u32 = 0x1234_5678;
    while png.len() < 6 * 1024 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        png.push((x >> 24) as u8);
    }
    let image = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a travel assistant. Use the tools to answer."},
            {"role": "user", "content": "What's the weather in San Francisco and New York right now?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_01A09q90qw90lq917835lq9", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}},
                {"id": "call_01B7n2kd93kdl20dk3kd920", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"location\":\"New York, NY\",\"unit\":\"celsius\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_01A09q90qw90lq917835lq9", "content": "15 degrees, fog"},
            {"role": "tool", "tool_call_id": "call_01B7n2kd93kdl20dk3kd920",
             "content": [{"type": "text", "text": "22 degrees, clear skies"}]},
            {"role": "assistant", "content": "San Francisco is 15 °C and foggy; New York is 22 °C and clear."},
            {"role": "user", "content": [
                {"type": "text", "text": "Here is the view from my window. Which of the two cities is it?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "auto"}}
            ]}
        ],
        "tools": [
            {"type": "function", "function": {
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "parameters": {"type": "object", "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
                }, "required": ["location"]}
            }},
            {"type": "function", "function": {
                "name": "get_local_time",
                "description": "Get the local time in a given city",
                "parameters": {"type": "object", "properties": {
                    "city": {"type": "string"}
                }, "required": ["city"]}
            }}
        ],
        "tool_choice": "auto",
        "temperature": 0.2,
        "max_tokens": 1024
    })
}

/// A system prompt and 99 alternating turns of ~500 bytes: ~50 KB.
fn long_chat() -> Value {
    let mut messages = vec![json!({"role": "system", "content": prose(0, 400)})];
    for i in 1..100u64 {
        let role = if i % 2 == 1 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": prose(i, 480)}));
    }
    json!({"model": "gpt-4o", "messages": messages, "temperature": 0.5, "max_tokens": 2048})
}

fn as_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A parsed request as the upstream stage hands it to a translation: `model`
/// already the provider's id.
fn prepared(v: &Value, model: &str) -> Map<String, Value> {
    let mut map = as_map(v);
    map.insert("model".into(), Value::String(model.into()));
    map
}

/// An Anthropic text answer (`providers.py`'s non-stream shape).
fn anthropic_text_answer() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": prose(7, 900)}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 2095, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 503, "service_tier": "standard"}
    }))
    .unwrap_or_default()
}

/// The API reference's tool-use answer (the unit tests' `TOOL_RESPONSE`).
const ANTHROPIC_TOOL_ANSWER: &str = r#"{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"I'll check the current weather in San Francisco for you."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":384,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":92,"service_tier":"standard"}}"#;

const ANTHROPIC_RATE_LIMIT: &[u8] = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#;

const OPENAI_RATE_LIMIT: &[u8] = br#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29876, Requested 512. Please try again in 1.2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;

/// An OpenAI chat completion answer as the mock provider sends it.
fn openai_answer() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1_741_569_952,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": prose(3, 900),
                      "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2095, "completion_tokens": 203, "total_tokens": 2298,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_f9f4fb6dbf"
    }))
    .unwrap_or_default()
}

fn sse(event: Option<&str>, data: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(name) = event {
        out.extend_from_slice(format!("event: {name}\n").as_bytes());
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&serde_json::to_vec(data).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
    out
}

/// An Anthropic text stream, one element per event, as `providers.py` streams it:
/// message_start, content_block_start, ping, two-word text deltas, content_block_stop,
/// message_delta, message_stop.
fn anthropic_text_stream() -> Vec<Vec<u8>> {
    let text = prose(11, 500);
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let ev = |v: Value| {
        let name = v["type"].as_str().unwrap_or_default().to_string();
        sse(Some(&name), &v)
    };
    let mut events = vec![
        ev(json!({"type": "message_start", "message": {
            "id": "msg_mock000001", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"}}})),
        ev(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ev(json!({"type": "ping"})),
    ];
    for pair in words.chunks(2) {
        events.push(ev(json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": pair.concat()}})));
    }
    events.push(ev(json!({"type": "content_block_stop", "index": 0})));
    events.push(ev(json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 89}})));
    events.push(ev(json!({"type": "message_stop"})));
    events
}

/// An OpenAI chunk stream (`providers.py`'s `_chat_stream` with the usage chunk the
/// gateway asks for), one element per event.
fn openai_stream() -> Vec<Vec<u8>> {
    let text = prose(13, 500);
    let chunk = |delta: Value, finish: Value| {
        sse(
            None,
            &json!({"id": "chatcmpl-mock000001", "object": "chat.completion.chunk",
                "created": 1_741_569_952, "model": "gpt-4o-2024-08-06",
                "system_fingerprint": "fp_mock",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                "usage": null}),
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for pair in words.chunks(2) {
        events.push(chunk(json!({"content": pair.concat()}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push(sse(
        None,
        &json!({"id": "chatcmpl-mock000001", "object": "chat.completion.chunk",
            "created": 1_741_569_952, "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_mock",
            "choices": [], "usage": {"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561,
            "prompt_tokens_details": {"cached_tokens": 0}}}),
    ));
    events.push(b"data: [DONE]\n\n".to_vec());
    events
}

fn ctx(model: &str, include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_741_569_952,
        model: model.to_string(),
        include_usage,
    }
}

// ---------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------

fn env(name: &str) -> Option<String> {
    name.ends_with("_API_KEY")
        .then(|| format!("sk-{}-0123456789abcdefghijklmnopqrstuvwxyz", name.len()))
}

fn pricing() -> Option<Pricing> {
    Some(Pricing {
        input_cost_per_token: 2.5e-6,
        output_cost_per_token: 1e-5,
        cache_read_input_token_cost: Some(1.25e-6),
        cache_creation_input_token_cost: None,
    })
}

fn deployment(
    id: &str,
    group: &str,
    provider: ProviderKind,
    model: &str,
    base: &str,
) -> DeploymentConfig {
    let key = match provider {
        ProviderKind::Openai => "OPENAI_API_KEY",
        ProviderKind::Azure => "AZURE_API_KEY",
        ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        other => panic!("no benchmark deployment for {other:?}"),
    };
    DeploymentConfig {
        deployment_id: id.into(),
        group: group.into(),
        provider,
        model: model.into(),
        api_base: Setting::Literal(base.into()),
        api_key: Some(Setting::Env { env: key.into() }),
        api_version: (provider == ProviderKind::Azure)
            .then(|| Setting::Literal("2024-10-21".into())),
        headers: BTreeMap::new(),
        default_params: Map::new(),
        drop_params: false,
        fallback_index: 0,
        pricing: pricing(),
        model_prices: Default::default(),
        prompt_template: None,
        aws: None,
        google_auth: None,
        direct_cluster: None,
        stream_timeout_ms: None,
        forward_client_headers: Vec::new(),
    }
}

/// A route cluster as `switchyard render` writes it for a group of two deployments
/// with one fallback group: three deployments, the picked one named by metadata.
fn cluster(primary: ProviderKind) -> Upstream {
    let mut deployments = match primary {
        ProviderKind::Anthropic => vec![
            deployment(
                "claude-a",
                "claude-sonnet",
                primary,
                "claude-sonnet-4-5-20250929",
                "https://api.anthropic.com",
            ),
            deployment(
                "claude-b",
                "claude-sonnet",
                primary,
                "claude-sonnet-4-5-20250929",
                "https://anthropic-proxy.internal.example:8443/v1",
            ),
        ],
        _ => vec![
            deployment(
                "gpt4o-a",
                "gpt-4o",
                primary,
                "gpt-4o-2024-08-06",
                "https://api.openai.com/v1",
            ),
            deployment(
                "gpt4o-b",
                "gpt-4o",
                primary,
                "gpt-4o-2024-08-06",
                "https://openai-proxy.internal.example:8443/v1",
            ),
        ],
    };
    let mut fallback = deployment(
        "azure-fb",
        "gpt-4o-azure",
        ProviderKind::Azure,
        "gpt-4o-eu",
        "https://eu-res.openai.azure.com",
    );
    fallback.fallback_index = 1;
    deployments.push(fallback);
    let config = UpstreamConfig {
        group: deployments[0].group.clone(),
        deployments,
        clear_headers: vec!["x-tenant".into()],
        error_fallbacks: BTreeMap::new(),
        keys: false,
        debug: false,
    };
    Upstream::new(&config, &env).unwrap_or_else(|e| panic!("bench cluster: {e}"))
}

const HOST_DEPLOYMENT_PROPERTY: &str = "xds.upstream_host_metadata.filter_metadata";

/// One upstream attempt as Envoy hands it to the upstream stage: the client's
/// headers (after the router stage), the route facts in filter state, the picked
/// endpoint's metadata, and the provider's answer ready for the response phase.
fn attempt(body: &[u8], model: &str, picked: &str, status: &str, answer: &[u8]) -> MockHost {
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (":authority", "gateway.example.com"),
            (":scheme", "https"),
            ("content-type", "application/json"),
            ("content-length", &body.len().to_string()),
            ("authorization", "Bearer sk-virtual-0123456789"),
            ("accept-encoding", "gzip, deflate, br"),
            ("user-agent", "OpenAI/Python 1.54.0"),
            ("x-request-id", "4c1f6a3e-9d0b-4b8e-8f0a-2d5e7c9b1a34"),
            ("x-forwarded-proto", "https"),
            ("x-switchyard-group", "gpt-4o"),
            ("x-envoy-attempt-count", "1"),
        ],
        body,
    );
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: model.into(),
        wildcard: None,
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    host.properties.insert(
        format!("{HOST_DEPLOYMENT_PROPERTY}.{ENDPOINT_METADATA_NAMESPACE}.{ENDPOINT_METADATA_KEY}"),
        picked.as_bytes().to_vec(),
    );
    host.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), answer.len().to_string()),
        ("x-request-id".into(), "req_upstream_1".into()),
    ];
    host.response_body = answer.to_vec();
    host
}

/// The proxy-wasm header-map serialization (what `host::decode_header_pairs` reads):
/// a `u32` count, each pair's key and value sizes, then each key and value NUL-ended.
fn encode_header_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Body sizes of an attempt, read from the mock host before it is driven (reading
/// them through `Host` would copy the bodies once more).
#[derive(Clone, Copy)]
struct Sizes {
    request: usize,
    response: usize,
}

impl Sizes {
    fn of(host: &MockHost) -> Sizes {
        Sizes {
            request: host.request_body.len(),
            response: host.response_body.len(),
        }
    }
}

/// The phases of a non-streamed attempt, each delivered whole: request headers,
/// request body, response headers, response body.
const PHASES: [&str; 4] = [
    "on_request_headers",
    "on_request_body",
    "on_response_headers",
    "on_response_body",
];

fn phase(ex: &mut UpstreamExchange, up: &Upstream, host: &mut dyn Host, n: usize, sizes: Sizes) {
    match n {
        0 => ex.on_request_headers(up, host, false),
        1 => ex.on_request_body(up, host, sizes.request, true),
        2 => ex.on_response_headers(up, host, false),
        _ => ex.on_response_body(up, host, sizes.response, true),
    };
}

/// A whole non-streamed attempt.
fn exchange(up: &Upstream, host: &mut dyn Host, sizes: Sizes) -> UpstreamExchange {
    let mut ex = UpstreamExchange::default();
    for n in 0..PHASES.len() {
        phase(&mut ex, up, host, n, sizes);
    }
    ex
}

/// A router config of 100 groups, a wildcard, and aliases, as `render` writes it.
fn router() -> Router {
    let mut groups: Vec<GroupConfig> = (0..100)
        .map(|i| GroupConfig {
            name: format!("team-{i:03}-model"),
            route_key: format!("team-{i:03}-model"),
            mock_response: None,
            endpoints: vec!["chat_completions".into(), "completions".into()],
        })
        .collect();
    for name in ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "openai/*"] {
        groups.push(GroupConfig {
            name: name.into(),
            route_key: name.into(),
            mock_response: None,
            endpoints: vec![],
        });
    }
    Router::new(&RouterConfig {
        groups,
        aliases: [("gpt-4".to_string(), "gpt-4o".to_string())].into(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 10 << 20,
        error_fallbacks: Default::default(),
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
    })
    .unwrap_or_else(|e| panic!("bench router: {e}"))
}

fn client_request(body: &[u8]) -> MockHost {
    MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (":authority", "gateway.example.com"),
            ("content-type", "application/json"),
            ("content-length", &body.len().to_string()),
            ("authorization", "Bearer sk-virtual-0123456789"),
            ("x-request-id", "4c1f6a3e-9d0b-4b8e-8f0a-2d5e7c9b1a34"),
        ],
        body,
    )
}

fn route(router: &Router, host: &mut dyn Host, size: usize) {
    let mut ex = RouterExchange::default();
    ex.on_request_headers(router, host, false);
    ex.on_request_body(router, host, size, true);
}

/// A host wrapper that counts the host calls a stage makes and what the wrapped
/// mock host allocates serving them, so the stage's own allocations can be told from
/// the mock's.
struct Metered<'h> {
    inner: &'h mut MockHost,
    host_side: Cell<Allocs>,
    calls: RefCell<BTreeMap<&'static str, u32>>,
}

impl Metered<'_> {
    fn call<O>(&self, name: &'static str, f: impl FnOnce() -> O) -> O {
        *self.calls.borrow_mut().entry(name).or_default() += 1;
        let (out, a) = count(f);
        let mut total = self.host_side.get();
        total += a;
        self.host_side.set(total);
        out
    }
}

impl Host for Metered<'_> {
    fn request_header(&self, name: &str) -> Option<String> {
        self.call("request_header", || self.inner.request_header(name))
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        self.call("request_headers", || self.inner.request_headers())
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.set_request_header(name, value));
        self.note("set_request_header", a);
    }
    fn response_header(&self, name: &str) -> Option<String> {
        self.call("response_header", || self.inner.response_header(name))
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.set_response_header(name, value));
        self.note("set_response_header", a);
    }
    fn request_body(&self, len: usize) -> Option<Vec<u8>> {
        self.call("request_body", || self.inner.request_body(len))
    }
    fn replace_request_body(&mut self, len: usize, body: &[u8]) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.replace_request_body(len, body));
        self.note("replace_request_body", a);
    }
    fn response_body(&self, len: usize) -> Option<Vec<u8>> {
        self.call("response_body", || self.inner.response_body(len))
    }
    fn replace_response_body(&mut self, len: usize, body: &[u8]) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.replace_response_body(len, body));
        self.note("replace_response_body", a);
    }
    fn send_local_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.send_local_reply(status, headers, body));
        self.note("send_local_reply", a);
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.call("property", || self.inner.property(path))
    }
    fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let inner = &mut *self.inner;
        let (_, a) = count(|| inner.set_property(path, value));
        self.note("set_property", a);
    }
    fn clear_route_cache(&mut self) {
        self.note("clear_route_cache", Allocs::default());
        self.inner.clear_route_cache()
    }
    fn log(&self, level: Level, message: &str) {
        self.call("log", || self.inner.log(level, message))
    }
    fn now_unix_secs(&self) -> u64 {
        self.call("now", || self.inner.now_unix_secs())
    }
    fn queue_spend_report(&self, report: Vec<u8>, now_ms: u64) {
        self.call("queue_spend_report", || {
            self.inner.queue_spend_report(report, now_ms)
        })
    }
    fn queue_callback_event(&self, callback: usize, event: Vec<u8>, now_ms: u64) {
        self.call("queue_callback_event", || {
            self.inner.queue_callback_event(callback, event, now_ms)
        })
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        self.call("random_bytes", || self.inner.random_bytes(buf))
    }
    fn leave_attempt(&self, call_id: &str, attempt: u64, record: AttemptRecord) {
        self.call("leave_attempt", || {
            self.inner.leave_attempt(call_id, attempt, record)
        })
    }
    fn take_attempts(&self, call_id: &str) -> Vec<AttemptRecord> {
        self.call("take_attempts", || self.inner.take_attempts(call_id))
    }
    fn peek_attempts(&self, call_id: &str) -> Vec<AttemptRecord> {
        self.call("peek_attempts", || self.inner.peek_attempts(call_id))
    }
}

impl Metered<'_> {
    fn note(&self, name: &'static str, a: Allocs) {
        *self.calls.borrow_mut().entry(name).or_default() += 1;
        let mut total = self.host_side.get();
        total += a;
        self.host_side.set(total);
    }
}

/// What driving a stage through `host` allocated in all, what of it the mock host
/// allocated, and the host calls made, as a table note.
fn attribution(id: &str, host: &mut MockHost, f: impl FnOnce(&mut dyn Host)) -> String {
    let mut metered = Metered {
        inner: host,
        host_side: Cell::new(Allocs::default()),
        calls: RefCell::new(BTreeMap::new()),
    };
    let (_, total) = count(|| f(&mut metered));
    let mock = metered.host_side.get();
    let calls = metered.calls.into_inner();
    let n: u32 = calls.values().sum();
    let list: Vec<String> = calls.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "`{id}`: {} B in {} allocations, of which the MockHost's own (header strings, body copies) {} B in {}: the stage itself allocates {} B in {}. {n} host calls ({}).",
        total.bytes,
        total.count,
        mock.bytes,
        mock.count,
        total.bytes - mock.bytes,
        total.count - mock.count,
        list.join(", ")
    )
}

// ---------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------

/// One whole upstream attempt: the cluster, the client's body, the picked
/// deployment and the provider's answer.
struct StageCase {
    id: &'static str,
    label: &'static str,
    up: std::rc::Rc<Upstream>,
    body: Vec<u8>,
    picked: &'static str,
    answer: Vec<u8>,
}

fn main() {
    let mut suite = Suite::new(
        "translate",
        "filter (`cargo bench -p switchyard-filter --bench translate`)",
    );

    let payloads = [
        ("small", "small chat (2 messages)", small_chat()),
        (
            "tools",
            "tools + tool results + image (8 KB data URI)",
            tools_chat(),
        ),
        ("long", "long conversation (100 messages)", long_chat()),
    ];
    let sizes: Vec<(String, usize)> = payloads
        .iter()
        .map(|(k, _, v)| (k.to_string(), serde_json::to_vec(v).map_or(0, |b| b.len())))
        .collect();

    // ----- request translations (parsed request in, provider body out) -------------
    suite.section("request translation: `providers::translate_request` (parsed, prepared request → path + body)");
    for (key, label, body) in &payloads {
        for (provider, name, model, version) in [
            (
                ProviderKind::Openai,
                "OpenAI passthrough",
                "gpt-4o-2024-08-06",
                None,
            ),
            (
                ProviderKind::Azure,
                "Azure",
                "my-gpt-4o-deployment",
                Some("2024-10-21"),
            ),
            (
                ProviderKind::Anthropic,
                "Anthropic",
                "claude-sonnet-4-5-20250929",
                None,
            ),
        ] {
            let request = prepared(body, model);
            suite.case(
                &format!("req_{}_{key}", provider.as_str()),
                &format!("{name}, {label}"),
                move || {
                    providers::translate_request(
                        provider,
                        Endpoint::ChatCompletions,
                        &request,
                        model,
                        version,
                    )
                },
            );
        }
    }

    // ----- the upstream stage, one whole non-streamed attempt ----------------------
    suite.section("upstream stage per request: `UpstreamExchange` headers + body + response headers + response body (MockHost)");
    let openai_up = std::rc::Rc::new(cluster(ProviderKind::Openai));
    let anthropic_up = std::rc::Rc::new(cluster(ProviderKind::Anthropic));
    let openai_answer = openai_answer();
    let anthropic_answer = anthropic_text_answer();
    let small = serde_json::to_vec(&payloads[0].2).unwrap_or_default();
    let stage_cases = [
        StageCase {
            id: "stage_openai_small",
            label: "OpenAI passthrough, small chat, 200 (1.3 KB answer)",
            up: openai_up.clone(),
            body: small.clone(),
            picked: "gpt4o-b",
            answer: openai_answer.clone(),
        },
        StageCase {
            id: "stage_openai_long",
            label: "OpenAI passthrough, long conversation, 200",
            up: openai_up.clone(),
            body: serde_json::to_vec(&payloads[2].2).unwrap_or_default(),
            picked: "gpt4o-b",
            answer: openai_answer.clone(),
        },
        StageCase {
            id: "stage_anthropic_small",
            label: "Anthropic translation, small chat, 200 (1.2 KB answer)",
            up: anthropic_up.clone(),
            body: small,
            picked: "claude-b",
            answer: anthropic_answer.clone(),
        },
        StageCase {
            id: "stage_anthropic_tools",
            label: "Anthropic translation, tools + image, 200 (tool-use answer)",
            up: anthropic_up.clone(),
            body: serde_json::to_vec(&payloads[1].2).unwrap_or_default(),
            picked: "claude-b",
            answer: ANTHROPIC_TOOL_ANSWER.as_bytes().to_vec(),
        },
    ];
    for StageCase {
        id,
        label,
        up,
        body,
        picked,
        answer,
    } in stage_cases
    {
        // Where the allocations go: the stage itself vs. the mock host's copies.
        let mut host = attempt(&body, "gpt-4o", picked, "200", &answer);
        let sizes = Sizes::of(&host);
        let note = attribution(id, &mut host, |h| {
            exchange(&up, h, sizes);
        });
        assert_eq!(
            host.local_reply, None,
            "{id}: the stage refused the request"
        );
        suite.note(note);
        let phases = id == "stage_openai_small" || id == "stage_openai_long";
        let (up2, body2, answer2) = (up.clone(), body.clone(), answer.clone());
        suite.batched(
            id,
            label,
            move || attempt(&body, "gpt-4o", picked, "200", &answer),
            move |mut host| {
                exchange(&up, &mut host, sizes);
                host
            },
        );
        if phases {
            // The same attempt phase by phase: earlier phases run in the setup.
            for (n, name) in PHASES.iter().enumerate() {
                let (up, body, answer) = (up2.clone(), body2.clone(), answer2.clone());
                suite.batched(
                    &format!("{id}_{name}"),
                    &format!("&nbsp;&nbsp;↳ `{name}` alone"),
                    move || {
                        let mut host = attempt(&body, "gpt-4o", picked, "200", &answer);
                        let mut ex = UpstreamExchange::default();
                        for earlier in 0..n {
                            phase(&mut ex, &up, &mut host, earlier, sizes);
                        }
                        (ex, host, up.clone())
                    },
                    move |(mut ex, mut host, up)| {
                        phase(&mut ex, &up, &mut host, n, sizes);
                        (ex, host)
                    },
                );
            }
        }
    }

    // ----- the metrics observer per request ------------------------------------------
    suite.section(
        "metrics observer: `Observers::finish` of one successful LLM call, its series already known (MockHost stats)",
    );
    {
        use switchyard_filter::observe::{AttemptRecord, RequestRecord};
        let r = std::rc::Rc::new(router());
        let worker = MockHost::default();
        r.observers().metrics.prepare(&worker);
        let record = RequestRecord {
            route: "/v1/chat/completions".into(),
            call_type: "acompletion".into(),
            requested_model: "gpt-4o".into(),
            status: 200,
            start_ms: 1_000,
            end_ms: 1_450,
            attempts: vec![AttemptRecord {
                model_id: "gpt-4o-1".into(),
                model: "openai/gpt-4o".into(),
                model_group: "gpt-4o".into(),
                api_provider: "openai".into(),
                api_base: "https://api.openai.com/v1".into(),
                status: 200,
                start_ms: 1_010,
                end_ms: 1_440,
                usage: Some(cost::Usage {
                    prompt_tokens: 12,
                    completion_tokens: 30,
                    ..Default::default()
                }),
                spend: 0.000_33,
                ..Default::default()
            }],
            ..Default::default()
        };
        // First sight: the series enter the catalog (not measured).
        let mut first = MockHost::default().on_worker_of(&worker);
        r.observers().finish(&mut first, &record);
        suite.batched(
            "metrics_observe_known",
            "count a success (9 families, 5 histograms) whose series the worker knows",
            move || MockHost::default().on_worker_of(&worker),
            move |mut host| {
                r.observers().finish(&mut host, &record);
                host
            },
        );
    }

    // ----- the router stage per request ----------------------------------------------
    suite.section(
        "router stage per request: `RouterExchange` headers + body (104 groups, MockHost)",
    );
    let router = std::rc::Rc::new(router());
    for (key, label, body) in [&payloads[0], &payloads[2]] {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let r = router.clone();
        let mut host = client_request(&body);
        let size = body.len();
        let note = attribution(&format!("router_{key}"), &mut host, |h| route(&r, h, size));
        assert!(
            host.local_reply.is_none(),
            "router refused the bench request"
        );
        suite.note(note);
        suite.batched(
            &format!("router_{key}"),
            &format!("route a {label}"),
            move || client_request(&body),
            move |mut host| {
                route(&r, &mut host, size);
                host
            },
        );
    }

    // ----- pieces of the passthrough path, for "where the time goes" -----------------
    suite.section("pieces of the OpenAI passthrough path");
    for (i, (key, label, body)) in payloads.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let b = bytes.clone();
        suite.case(
            &format!("toplevel_{key}"),
            &format!(
                "`request::TopLevel::parse` (one level deep), {label} ({} B)",
                bytes.len()
            ),
            move || TopLevel::parse(&b).map(|t| t.keys().count()).ok(),
        );
        let b = bytes.clone();
        suite.case(
            &format!("toplevel_rename_{key}"),
            &format!("`TopLevel` parse + `model` renamed + `to_vec`, {label}"),
            move || {
                let mut t = TopLevel::parse(&b).ok()?;
                t.insert("model", Value::String("gpt-4o-2024-08-06".into()));
                t.to_vec().ok()
            },
        );
        let b = bytes.clone();
        suite.case(
            &format!("skim_{key}"),
            &format!("skim body for `model` only (`IgnoredAny`, as the router does), {label}"),
            move || {
                #[derive(serde::Deserialize)]
                struct Head<'a> {
                    #[serde(borrow)]
                    model: Option<std::borrow::Cow<'a, str>>,
                }
                serde_json::from_slice::<Head<'_>>(&b).map(|h| h.model.map(|m| m.len()))
            },
        );
        let b = bytes.clone();
        suite.case(
            &format!("parse_{key}"),
            &format!("whole tree: parse into `Map<String, Value>`, {label}"),
            move || serde_json::from_slice::<Map<String, Value>>(&b).map(|m| m.len()),
        );
        let map = as_map(body);
        suite.case(
            &format!("serialize_{key}"),
            &format!("whole tree: serialize the `Map` back, {label}"),
            move || serde_json::to_vec(&map),
        );
    }
    // The glue's `request_headers`: Envoy's header-map serialization decoded into
    // owned pairs (the MockHost's clone allocates the same way).
    let pairs = attempt(b"{}", "gpt-4o", "gpt4o-a", "200", b"").request_headers;
    let raw = encode_header_pairs(&pairs);
    let n = pairs.len();
    suite.case(
        "decode_header_pairs",
        &format!("`host::decode_header_pairs`, {n} request headers (one `request_headers` call)"),
        move || decode_header_pairs(&raw).map(|p| p.len()),
    );
    let answer = openai_answer.clone();
    suite.case(
        "usage_of_answer",
        "`cost::usage_of` on the 1.3 KB OpenAI answer",
        move || cost::usage_of(&answer),
    );
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: "gpt-4o".into(),
        wildcard: None,
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    }
    .encode();
    suite.case(
        "route_facts_decode",
        "`RouteFacts::decode` (filter state → facts)",
        move || RouteFacts::decode(&facts),
    );
    // What `UsageTap` does to every chunk that mentions `"usage"` — and with the
    // usage chunk asked for, OpenAI sends `"usage":null` in every chunk.
    let chunk = openai_stream()
        .get(5)
        .and_then(|e| e.strip_prefix(b"data: ").map(<[u8]>::to_vec))
        .unwrap_or_default();
    let chunk = String::from_utf8(chunk).unwrap_or_default();
    suite.case(
        "parse_openai_chunk",
        &format!(
            "parse one OpenAI stream chunk into a `Value` ({} B)",
            chunk.trim_end().len()
        ),
        move || serde_json::from_str::<Value>(chunk.trim_end()).is_ok(),
    );

    // ----- response translations -------------------------------------------------------
    suite.section("response translation (non-stream)");
    let text_answer = anthropic_answer.clone();
    suite.case(
        "resp_anthropic_text",
        &format!("Anthropic → OpenAI, text answer ({} B)", text_answer.len()),
        move || {
            providers::translate_response(
                ProviderKind::Anthropic,
                Endpoint::ChatCompletions,
                &text_answer,
                &ctx("claude-sonnet-4-5", false),
            )
        },
    );
    suite.case(
        "resp_anthropic_tool",
        &format!(
            "Anthropic → OpenAI, tool-use answer ({} B)",
            ANTHROPIC_TOOL_ANSWER.len()
        ),
        || {
            providers::translate_response(
                ProviderKind::Anthropic,
                Endpoint::ChatCompletions,
                ANTHROPIC_TOOL_ANSWER.as_bytes(),
                &ctx("claude-sonnet-4-5", false),
            )
        },
    );
    suite.case(
        "err_anthropic_429",
        "Anthropic 429 error → OpenAI error body",
        || providers::translate_error(ProviderKind::Anthropic, 429, ANTHROPIC_RATE_LIMIT).to_body(),
    );
    suite.case(
        "err_openai_429",
        "OpenAI 429 error → OpenAI error body",
        || providers::translate_error(ProviderKind::Openai, 429, OPENAI_RATE_LIMIT).to_body(),
    );

    // ----- streams, per event -------------------------------------------------------
    suite.section("streams, per event (one event per push; translator setup and finish included)");
    let anthropic_events = anthropic_text_stream();
    let n = anthropic_events.len() as u64;
    let events = anthropic_events.clone();
    suite
        .case(
            "sse_anthropic_text",
            &format!("Anthropic stream → OpenAI chunks, text ({n} events)"),
            move || {
                let mut t = providers::stream_translator(
                    ProviderKind::Anthropic,
                    Endpoint::ChatCompletions,
                    ctx("claude-sonnet-4-5", false),
                );
                let mut out = Vec::with_capacity(1024);
                for e in &events {
                    out.clear();
                    t.push(e, &mut out);
                }
                t.finish(&mut out);
                t.usage()
            },
        )
        .per(n);
    let openai_events = openai_stream();
    let n = openai_events.len() as u64;
    for (strip, id, label) in [
        (
            true,
            "sse_openai_tap_strip",
            "OpenAI `UsageTap`, usage chunk hidden (client did not ask): events re-emitted",
        ),
        (
            false,
            "sse_openai_tap_pass",
            "OpenAI `UsageTap`, client asked for usage: bytes pass",
        ),
    ] {
        let events = openai_events.clone();
        suite
            .case(id, &format!("{label} ({n} events)"), move || {
                let mut t = openai::UsageTap::new(strip);
                let mut out = Vec::with_capacity(1024);
                for e in &events {
                    out.clear();
                    t.push(e, &mut out);
                }
                t.finish(&mut out);
                t.usage()
            })
            .per(n);
    }
    let events = anthropic_events;
    let n = events.len() as u64;
    suite
        .case(
            "sse_decoder",
            &format!("raw `SseDecoder`, Anthropic events ({n} events)"),
            move || {
                let mut d = SseDecoder::new();
                let mut seen = 0usize;
                for e in &events {
                    d.push(e);
                    while let Ok(Some(ev)) = d.next_event() {
                        seen += ev.data.len();
                    }
                }
                seen
            },
        )
        .per(n);

    // The upstream stage around a stream: the OpenAI stream through `on_response_body`,
    // one event per call; the client did not ask for usage (the gateway did: the usage
    // chunk is hidden) or did (bytes pass).
    for (client_asked, id, what) in [
        (false, "stage_openai_stream", "usage hidden"),
        (true, "stage_openai_stream_usage", "client asked for usage"),
    ] {
        let up = openai_up.clone();
        let mut request =
            json!({"model": "gpt-4o", "stream": true, "messages": payloads[0].2["messages"]});
        if client_asked {
            request["stream_options"] = json!({"include_usage": true});
        }
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let events = openai_stream();
        let n = events.len() as u64;
        suite
            .batched(
                id,
                &format!(
                    "upstream stage, OpenAI stream through `on_response_body` ({n} events, {what})"
                ),
                move || {
                    let mut host = attempt(&body, "gpt-4o", "gpt4o-a", "200", b"");
                    host.response_headers.retain(|(k, _)| k != "content-length");
                    let mut ex = UpstreamExchange::default();
                    ex.on_request_headers(&up, &mut host, false);
                    let size = host.request_body.len();
                    ex.on_request_body(&up, &mut host, size, true);
                    ex.on_response_headers(&up, &mut host, false);
                    (ex, host, up.clone(), events.clone())
                },
                |(mut ex, mut host, up, events)| {
                    let last = events.len().saturating_sub(1);
                    for (i, e) in events.into_iter().enumerate() {
                        host.response_body = e;
                        let size = host.response_body.len();
                        ex.on_response_body(&up, &mut host, size, i == last);
                    }
                    (ex, host)
                },
            )
            .per(n);
    }

    for (key, size) in sizes {
        suite.note(format!("request body `{key}`: {size} B of JSON"));
    }
    suite.run();
}
