//! A whole Anthropic Messages answer → OpenAI `chat.completion` (or
//! `text_completion`).

use super::error::{anthropic_error, status_for_error_type};
use super::no_embeddings;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::block_answer::BlockAnswer;
use crate::providers::ResponseContext;
use crate::wire::anthropic::{finish_reason, opt_str, MessageBody};

/// Anthropic Messages response → OpenAI response (`chat.completion`, or
/// `text_completion` for `/completions`).
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return Err(no_embeddings());
    }
    let msg: MessageBody<'_> = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Anthropic returned a response that could not be parsed: {e}"),
        )
    })?;
    if opt_str(&msg.kind) == Some("error") {
        let (kind, message) = match &msg.error {
            Some(e) => (opt_str(&e.kind), opt_str(&e.message)),
            None => (None, None),
        };
        let status = kind.and_then(status_for_error_type).unwrap_or(502);
        let message = message.map_or_else(
            || crate::providers::openai::fallback_message(status, body),
            str::to_string,
        );
        return Err(anthropic_error(status, kind, message));
    }

    let mut answer = BlockAnswer::default();
    for block in msg.content.iter().flatten() {
        match block.kind.as_str() {
            "text" => answer
                .text
                .push_str(opt_str(&block.text).unwrap_or_default()),
            "thinking" => answer
                .reasoning
                .push_str(opt_str(&block.thinking).unwrap_or_default()),
            "tool_use" => {
                let arguments = match &block.input {
                    Some(input) => input.to_string(),
                    None => "{}".to_string(),
                };
                answer.tool_call(
                    opt_str(&block.id).unwrap_or_default(),
                    opt_str(&block.name).unwrap_or_default(),
                    arguments,
                );
            }
            // redacted_thinking, server tool blocks, …: nothing OpenAI-shaped to say.
            _ => {}
        }
    }

    let model = opt_str(&msg.model)
        .filter(|m| !m.is_empty())
        .unwrap_or(&ctx.model);
    let finish = finish_reason(opt_str(&msg.stop_reason));
    let usage = msg.usage.unwrap_or_default().to_openai();
    let id = opt_str(&msg.id).unwrap_or_default();
    answer.into_openai(endpoint, id, ctx.created, model, finish, usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::anthropic::test_helpers::*;
    use serde_json::json;
    use serde_json::Value;

    // ----- responses ------------------------------------------------------

    /// Shaped like the API reference's tool-use response.
    const TOOL_RESPONSE: &str = r#"{
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "San Francisco, CA", "unit": "celsius"}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": 384, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": 92, "service_tier": "standard"}
    }"#;

    #[test]
    fn response_with_text_and_tool_use() {
        let out = translate_response(
            Endpoint::ChatCompletions,
            TOOL_RESPONSE.as_bytes(),
            &ctx(false),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_01Aq9w938a90dw8q",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "I'll check the current weather in San Francisco for you.",
                        "tool_calls": [{
                            "id": "toolu_01A09q90qw90lq917835lq9",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}
                        }]
                    },
                    "logprobs": null,
                    "finish_reason": "tool_calls"
                }],
                "usage": {
                    "prompt_tokens": 384, "completion_tokens": 92, "total_tokens": 476,
                    "prompt_tokens_details": {"cached_tokens": 0},
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0
                }
            })
        );
    }

    #[test]
    fn tool_only_response_has_null_content() {
        let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[
            {"type":"tool_use","id":"toolu_1","name":"f","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":3}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
        // No cache counts reported: none repeated at the top level.
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "prompt_tokens_details": {"cached_tokens": 0}})
        );
    }

    #[test]
    fn usage_counts_cache_tokens_as_prompt() {
        let body = r#"{"id":"msg_2","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Hi"},{"type":"text","text":" there"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":1000,"output_tokens":393}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi there");
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(
            v["usage"],
            json!({
                "prompt_tokens": 189_107, "completion_tokens": 393, "total_tokens": 189_500,
                "prompt_tokens_details": {"cached_tokens": 1000},
                "cache_creation_input_tokens": 188_086, "cache_read_input_tokens": 1000
            })
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("pause_turn", "stop"),
            ("refusal", "content_filter"),
            ("something_new", "stop"),
        ] {
            let body = format!(
                r#"{{"id":"m","type":"message","content":[{{"type":"text","text":"x"}}],"stop_reason":"{stop}"}}"#
            );
            let v: Value = serde_json::from_slice(
                &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false))
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(v["choices"][0]["finish_reason"], finish, "{stop}");
            assert_eq!(v["model"], "claude-from-config", "model falls back to ctx");
        }
    }

    #[test]
    fn thinking_becomes_reasoning_content() {
        let body = r#"{"id":"msg_3","type":"message","role":"assistant","model":"claude-x","content":[
            {"type":"thinking","thinking":"Let me analyze this step by step...","signature":"WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL...."},
            {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"},
            {"type":"text","text":"Based on my analysis..."}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["choices"][0]["message"]["reasoning_content"],
            "Let me analyze this step by step..."
        );
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Based on my analysis..."
        );
    }

    #[test]
    fn completions_response_is_text_completion() {
        let body = r#"{"id":"msg_4","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"This is a test."}],
            "stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":7}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::Completions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_4", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                "choices": [{"text": "This is a test.", "index": 0, "logprobs": null, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "prompt_tokens_details": {"cached_tokens": 0}}
            })
        );
    }

    #[test]
    fn unparsable_or_error_responses_fail() {
        let e = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
        assert_eq!(e.status, 502);
        let e = translate_response(
            Endpoint::ChatCompletions,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            &ctx(false),
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.kind.as_str(), e.message.as_str()),
            (503, "service_unavailable_error", "Overloaded")
        );
    }
}
