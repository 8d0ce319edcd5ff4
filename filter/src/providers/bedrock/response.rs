//! A whole `Converse` answer → OpenAI `chat.completion` (or `text_completion`):
//! content blocks, stop reasons, usage and the answer's id.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::embeddings::embedding_response;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::block_answer::BlockAnswer;
use crate::providers::ResponseContext;
use crate::wire::anthropic::UsageOut;

/// `TokenUsage` (Converse answers and the stream's `metadata` event).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageIn {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_write_input_tokens: Option<u64>,
}

impl UsageIn {
    /// OpenAI's `usage`; both cache counts are always reported (0 when absent), as
    /// LiteLLM reports them.
    pub(super) fn to_openai(self) -> UsageOut {
        UsageOut::from_counts(
            self.input_tokens,
            self.output_tokens,
            Some(self.cache_read_input_tokens.unwrap_or(0)),
            Some(self.cache_write_input_tokens.unwrap_or(0)),
        )
    }

    /// The usage for cost and spend.
    pub(super) fn to_cost(self) -> crate::cost::Usage {
        self.to_openai().to_cost()
    }
}

/// Bedrock `stopReason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened") | Some("content_filtered") => "content_filter",
        _ => "stop",
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseOut {
    #[serde(default)]
    output: Option<OutputIn>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Debug, Deserialize)]
struct OutputIn {
    #[serde(default)]
    message: Option<MessageIn>,
}

#[derive(Debug, Deserialize)]
struct MessageIn {
    #[serde(default)]
    content: Vec<Value>,
}

/// The id of an answer: `chatcmpl-` + Bedrock's request id (else a made-up one).
pub fn response_id(request_id: Option<&str>, created: u64) -> String {
    match request_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-bedrock-{created}"),
    }
}

/// A successful Bedrock answer → OpenAI. `request_id` is Bedrock's
/// `x-amzn-requestid` (for the answer's id).
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
    request_id: Option<&str>,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return embedding_response(body, ctx);
    }
    let answer: ConverseOut = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an answer that could not be parsed: {e}"),
        )
    })?;
    let mut parts = BlockAnswer::default();
    for block in answer
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default()
    {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            parts.text.push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
            parts.tool_call(
                tool.get("toolUseId")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                tool.get("name").and_then(Value::as_str).unwrap_or_default(),
                input.to_string(),
            );
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                let t = rt.get("text").and_then(Value::as_str).unwrap_or_default();
                parts.reasoning.push_str(t);
                let mut tb = Map::new();
                tb.insert("type".into(), json!("thinking"));
                tb.insert("thinking".into(), json!(t));
                if let Some(sig) = rt.get("signature").and_then(Value::as_str) {
                    tb.insert("signature".into(), json!(sig));
                }
                parts.thinking_blocks.push(Value::Object(tb));
            } else if let Some(data) = r.get("redactedContent").and_then(Value::as_str) {
                parts
                    .thinking_blocks
                    .push(json!({ "type": "redacted_thinking", "data": data }));
            }
        }
        // image, document, citationsContent, guardContent: nothing OpenAI-shaped.
    }
    let finish = finish_reason(answer.stop_reason.as_deref());
    let usage = answer.usage.unwrap_or_default().to_openai();
    let id = response_id(request_id, ctx.created);
    parts.into_openai(endpoint, &id, ctx.created, &ctx.model, finish, usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::test_helpers::*;

    use serde_json::json;

    #[test]
    fn converse_answers_become_openai() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[
            {"reasoningContent":{"reasoningText":{"text":"Let me think.","signature":"c2ln"}}},
            {"text":"Calling."},
            {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},
            "stopReason":"tool_use",
            "usage":{"inputTokens":10,"outputTokens":20,"totalTokens":45,"cacheReadInputTokens":5,"cacheWriteInputTokens":10},
            "metrics":{"latencyMs":300}}"#;
        let out = translate_response(
            Endpoint::ChatCompletions,
            body,
            &ctx(CLAUDE, false),
            Some("req-1"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "chatcmpl-req-1");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], CLAUDE);
        let m = &v["choices"][0]["message"];
        assert_eq!(m["content"], "Calling.");
        assert_eq!(m["reasoning_content"], "Let me think.");
        assert_eq!(
            m["thinking_blocks"],
            json!([{"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"}])
        );
        assert_eq!(
            m["tool_calls"],
            json!([{"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 25, "completion_tokens": 20, "total_tokens": 45,
            "prompt_tokens_details": {"cached_tokens": 5}, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 10})
        );
        let cost = crate::cost::usage_of(&out).unwrap();
        assert_eq!(
            (
                cost.prompt_tokens,
                cost.cache_read_tokens,
                cost.cache_creation_tokens
            ),
            (25, 5, 10)
        );
        for (reason, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("model_context_window_exceeded", "length"),
            ("malformed_model_output", "stop"),
        ] {
            assert_eq!(finish_reason(Some(reason)), finish, "{reason}");
        }
        let text = translate_response(Endpoint::Completions, br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#, &ctx(CLAUDE, false), None).unwrap();
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            (v["object"].as_str(), v["choices"][0]["text"].as_str()),
            (Some("text_completion"), Some("Hi"))
        );
        assert_eq!(
            translate_response(
                Endpoint::ChatCompletions,
                b"<html>",
                &ctx(CLAUDE, false),
                None
            )
            .unwrap_err()
            .status,
            502
        );
    }
}
