//! Test fixtures shared by the unit tests of the cohere modules.

use super::*;

pub(super) fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

pub(super) fn chat(v: Value) -> Value {
    let out = translate_request(Endpoint::ChatCompletions, &map(v), "command-a-03-2025").unwrap();
    assert_eq!(out.path, "/v2/chat");
    serde_json::from_slice(&out.body).unwrap()
}

pub(super) fn chat_err(v: Value) -> GatewayError {
    translate_request(Endpoint::ChatCompletions, &map(v), "m").unwrap_err()
}

pub(super) fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "command-a-03-2025".into(),
        include_usage,
    }
}
