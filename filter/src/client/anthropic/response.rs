//! A whole OpenAI chat answer → an Anthropic message: content blocks, stop reason
//! and usage.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::cost::Usage;
use crate::error::GatewayError;

/// What the answer translation needs besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesContext {
    /// The model to report when the answer names none.
    pub model: String,
    /// The message id when the answer has none (`msg_…`).
    pub id: String,
    /// The request's `stop_sequences`.
    pub stop_sequences: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl std::fmt::Debug for OpenAiUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "usage({} in, {} out)",
            self.prompt_tokens, self.completion_tokens
        )
    }
}

impl OpenAiUsage {
    /// The answer's usage for cost and spend.
    pub(super) fn to_cost(&self) -> Usage {
        let read = self
            .cache_read_input_tokens
            .or_else(|| {
                self.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens)
            })
            .unwrap_or(0);
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cache_read_tokens: read,
            cache_creation_tokens: self.cache_creation_input_tokens.unwrap_or(0),
        }
    }

    /// Anthropic's `usage`: `input_tokens` counts only the uncached prompt.
    pub(super) fn to_anthropic(&self) -> Value {
        let read = self
            .cache_read_input_tokens
            .or_else(|| {
                self.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens)
            })
            .unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let input = self
            .prompt_tokens
            .saturating_sub(read)
            .saturating_sub(created);
        json!({
            "input_tokens": input,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "output_tokens": self.completion_tokens,
        })
    }
}

/// A chat completion's text content: a string, or (some servers) text parts.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// OpenAI's `finish_reason` (and a server's matched stop string) → Anthropic's
/// `stop_reason` and `stop_sequence`.
pub(super) fn stop_reason(
    finish: Option<&str>,
    matched: Option<&str>,
    has_tools: bool,
    ctx: &MessagesContext,
) -> (&'static str, Option<String>) {
    if has_tools || matches!(finish, Some("tool_calls") | Some("function_call")) {
        return ("tool_use", None);
    }
    match finish {
        Some("length") => ("max_tokens", None),
        Some("content_filter") => ("refusal", None),
        _ => match matched.filter(|m| ctx.stop_sequences.iter().any(|s| s == m)) {
            Some(m) => ("stop_sequence", Some(m.to_string())),
            None => ("end_turn", None),
        },
    }
}

/// OpenAI chat completion → Anthropic Messages answer.
pub fn from_openai_response(body: &[u8], ctx: &MessagesContext) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("The provider's answer could not be parsed: {e}"),
        )
    })?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| err.as_str())
            .unwrap_or("The provider answered with an error");
        return Err(GatewayError::new(502, message));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut content = Vec::new();
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    if let Some(r) = reasoning {
        content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
    }
    let text = content_text(message.get("content"));
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    let calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for call in calls {
        let function = call.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err(GatewayError::new(
                        502,
                        format!("The provider's call of tool `{name}` has arguments that are not a JSON object: {arguments}"),
                    ))
                }
            }
        };
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
            "name": name,
            "input": input,
        }));
    }
    let (reason, sequence) = stop_reason(
        choice.get("finish_reason").and_then(Value::as_str),
        choice.get("stop_reason").and_then(Value::as_str),
        !calls.is_empty(),
        ctx,
    );
    let usage: OpenAiUsage = v
        .get("usage")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    let out = json!({
        "id": v.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(&ctx.id),
        "type": "message",
        "role": "assistant",
        "model": v.get("model").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(&ctx.model),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage.to_anthropic(),
    });
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize the answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::anthropic::test_helpers::*;

    use serde_json::{json, Value};

    #[test]
    fn answer_with_text_tools_reasoning_and_cache_usage() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "think",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "prompt_tokens_details": {"cached_tokens": 30}},
        });
        let out: Value = serde_json::from_slice(
            &from_openai_response(&serde_json::to_vec(&body).unwrap(), &ctx()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-4o",
                "content": [
                    {"type": "thinking", "thinking": "think", "signature": ""},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 70, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30, "output_tokens": 20},
            })
        );
    }

    fn answer(finish: &str, extra: Value) -> Value {
        let mut choice = json!({"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}});
        if let (Some(c), Some(e)) = (choice.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let body = json!({"id": "", "choices": [choice]});
        serde_json::from_slice(
            &from_openai_response(&serde_json::to_vec(&body).unwrap(), &ctx()).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(answer("stop", json!({}))["stop_reason"], "end_turn");
        assert_eq!(answer("length", json!({}))["stop_reason"], "max_tokens");
        assert_eq!(
            answer("content_filter", json!({}))["stop_reason"],
            "refusal"
        );
        let a = answer("stop", json!({"stop_reason": "END"}));
        assert_eq!(
            (a["stop_reason"].as_str(), a["stop_sequence"].as_str()),
            (Some("stop_sequence"), Some("END"))
        );
        // A matched string the client never asked for is not a stop sequence.
        assert_eq!(
            answer("stop", json!({"stop_reason": "OTHER"}))["stop_reason"],
            "end_turn"
        );
        // No id, no model, no usage: the fallbacks, zero counts.
        let a = answer("stop", json!({}));
        assert_eq!(
            (a["id"].as_str(), a["model"].as_str()),
            (Some("msg_rid"), Some("m"))
        );
        assert_eq!(a["usage"]["output_tokens"], 0);
    }

    #[test]
    fn bad_answers_are_errors() {
        assert_eq!(
            from_openai_response(b"nope", &ctx()).unwrap_err().status,
            502
        );
        let err = from_openai_response(br#"{"error":{"message":"boom"}}"#, &ctx()).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (502, "boom"));
        let bad_args = br#"{"choices":[{"finish_reason":"tool_calls","message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}}]}"#;
        assert!(from_openai_response(bad_args, &ctx())
            .unwrap_err()
            .message
            .contains("`f`"));
    }
}
