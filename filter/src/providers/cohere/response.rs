//! Cohere v2 answer → OpenAI chat/text completion or embedding list.

use super::*;

/// LiteLLM's `map_finish_reason` for Cohere's values.
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some("TOOL_CALL") => "tool_calls",
        Some("ERROR_TOXIC") => "content_filter",
        _ => "stop",
    }
}

pub(super) fn count(v: Option<&Value>, key: &str) -> Option<u64> {
    let n = v?.get(key)?;
    // Cohere's SDK types these as floats; whole numbers either way.
    n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))
}

/// `(prompt, completion, cached)` from a `Usage` object: `tokens`, else `billed_units`.
pub(super) fn usage_counts(usage: Option<&Value>) -> (u64, u64, Option<u64>) {
    let tokens = usage.and_then(|u| u.get("tokens"));
    let billed = usage.and_then(|u| u.get("billed_units"));
    let from = if tokens.is_some() { tokens } else { billed };
    (
        count(from, "input_tokens").unwrap_or(0),
        count(from, "output_tokens").unwrap_or(0),
        count(usage, "cached_tokens"),
    )
}

pub(super) fn usage_value(prompt: u64, completion: u64, cached: Option<u64>) -> Value {
    let mut usage = json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    });
    if let (Some(cached), Some(o)) = (cached, usage.as_object_mut()) {
        o.insert(
            "prompt_tokens_details".into(),
            json!({"cached_tokens": cached}),
        );
    }
    usage
}

pub(super) fn bad_answer(what: &str) -> GatewayError {
    GatewayError::new(502, format!("Cohere returned {what}")).with_type("api_error")
}

/// Cohere tool calls → OpenAI's (`index` added for stream deltas).
pub(super) fn openai_tool_calls(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .map(|call| {
            let function = call.get("function");
            let arguments = match function.and_then(|f| f.get("arguments")) {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => "{}".to_string(),
            };
            json!({
                "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": function.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default(),
                    "arguments": arguments,
                },
            })
        })
        .collect()
}

/// Translates a complete (non-streamed) Cohere answer.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_answer(&format!("a body that is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad_answer("a body that is not a JSON object"));
    }
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
    let out = match endpoint {
        Endpoint::Embeddings => {
            let floats = v
                .get("embeddings")
                .and_then(|e| e.get("float"))
                .and_then(Value::as_array)
                .ok_or_else(|| bad_answer("an embedding answer without `embeddings.float`"))?;
            let data: Vec<Value> = floats
                .iter()
                .enumerate()
                .map(|(i, e)| wire::embedding(i, e))
                .collect();
            let meta = v.get("meta");
            let prompt = count(meta.and_then(|m| m.get("billed_units")), "input_tokens")
                .or_else(|| count(meta.and_then(|m| m.get("tokens")), "input_tokens"))
                .unwrap_or(0);
            wire::embedding_list(data, &ctx.model, prompt)
        }
        _ => {
            let message = v
                .get("message")
                .filter(|m| m.is_object())
                .ok_or_else(|| bad_answer("a chat answer without `message`"))?;
            let mut text = String::new();
            let mut thinking = String::new();
            for item in message
                .get("content")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice)
            {
                match item.get("type").and_then(Value::as_str) {
                    Some("thinking") => thinking.push_str(
                        item.get("thinking")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    _ => {
                        text.push_str(item.get("text").and_then(Value::as_str).unwrap_or_default())
                    }
                }
            }
            let calls = message
                .get("tool_calls")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let (prompt, completion, cached) = usage_counts(v.get("usage"));
            let reason = finish_reason(v.get("finish_reason").and_then(Value::as_str));
            if endpoint == Endpoint::Completions {
                wire::completion(
                    id,
                    wire::TEXT_COMPLETION,
                    ctx.created,
                    &ctx.model,
                    json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": reason}]),
                    Some(usage_value(prompt, completion, cached)),
                )
            } else {
                let mut m = Map::new();
                m.insert("role".into(), json!("assistant"));
                m.insert(
                    "content".into(),
                    if text.is_empty() && !calls.is_empty() {
                        Value::Null
                    } else {
                        json!(text)
                    },
                );
                if !thinking.is_empty() {
                    m.insert("reasoning_content".into(), json!(thinking));
                }
                if !calls.is_empty() {
                    m.insert("tool_calls".into(), Value::Array(openai_tool_calls(calls)));
                }
                if let Some(plan) = message
                    .get("tool_plan")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                {
                    m.insert("tool_plan".into(), json!(plan));
                }
                wire::completion(
                    id,
                    wire::CHAT_COMPLETION,
                    ctx.created,
                    &ctx.model,
                    json!([{"index": 0, "message": m, "logprobs": null, "finish_reason": reason}]),
                    Some(usage_value(prompt, completion, cached)),
                )
            }
        }
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}
