//! Claude on Vertex: the Anthropic Messages body without `model` (it is in the
//! URL) and with Vertex's `anthropic_version`; answers, streams and errors are
//! Anthropic's.

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::anthropic;
use crate::providers::serialize_request as serialize;

/// The `anthropic_version` Claude on Vertex wants in the body.
pub const ANTHROPIC_VERTEX_VERSION: &str = "vertex-2023-10-16";

/// OpenAI request → the body `rawPredict` / `streamRawPredict` take for Claude.
pub(super) fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let body = anthropic::translate_request(endpoint, request, model)?;
    let mut v: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
        GatewayError::internal(format!("could not re-read the Anthropic body: {e}"))
    })?;
    v.remove("model");
    v.insert(
        "anthropic_version".into(),
        Value::from(ANTHROPIC_VERTEX_VERSION),
    );
    serialize(&Value::Object(v))
}

#[cfg(test)]
mod tests {
    use crate::endpoint::Endpoint;
    use crate::providers::vertex::test_helpers::*;
    use crate::providers::vertex::*;
    use serde_json::{json, Value};

    #[test]
    fn claude_bodies_carry_the_vertex_version_and_no_model() {
        let body = translate_request(
            Endpoint::ChatCompletions,
            &map(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true})),
            "claude-sonnet-4@20250514",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v.get("model").is_none(), "{v}");
        assert_eq!(v["anthropic_version"], ANTHROPIC_VERTEX_VERSION);
        assert_eq!(v["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(v["max_tokens"], 4096, "LiteLLM's default");
        assert_eq!(v["stream"], true);
        // The answer is Anthropic's Messages answer.
        let out = translate_response(
            Endpoint::ChatCompletions,
            br#"{"id":"msg_vrtx_01","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}"#,
            &ctx("claude-sonnet-4@20250514"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi!");
        assert_eq!(v["usage"]["prompt_tokens"], 3);
    }
}
