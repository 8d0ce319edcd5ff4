//! Test fixtures shared by the unit tests of the gemini modules.

use super::*;

pub(super) fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

pub(super) fn chat(v: Value) -> Value {
    let body = translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap();
    serde_json::from_slice(&body).unwrap()
}

pub(super) fn chat_err(v: Value) -> GatewayError {
    translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap_err()
}

pub(super) fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "gemini-2.5-flash".to_string(),
        include_usage,
    }
}

pub(super) fn response(body: &str) -> Value {
    let out = translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap();
    serde_json::from_slice(&out).unwrap()
}
