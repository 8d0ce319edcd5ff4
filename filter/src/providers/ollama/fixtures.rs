//! Test fixtures shared by the unit tests of the ollama modules.

use super::*;

pub(super) fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

pub(super) fn chat(v: Value) -> (String, Value) {
    let out = translate_request(true, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
    (out.path, serde_json::from_slice(&out.body).unwrap())
}

pub(super) fn generate(v: Value) -> (String, Value) {
    let out = translate_request(false, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
    (out.path, serde_json::from_slice(&out.body).unwrap())
}

pub(super) const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

pub(super) fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "fallback".into(),
        include_usage,
    }
}
