//! Ollama answer → OpenAI chat/text completion or embedding list.

use super::*;

/// FNV-1a, for ids derived from the answer (unique enough: Ollama's `created_at`
/// has nanoseconds).
pub(super) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

pub(super) fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub(super) fn usage_value(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

/// Ollama tool calls (arguments objects) → OpenAI tool calls; `index` added for
/// stream deltas, counting from `first`.
pub(super) fn openai_tool_calls(
    calls: &[Value],
    id_seed: u64,
    first: usize,
    with_index: bool,
) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(k, call)| {
            let n = first + k;
            let function = call.get("function").cloned().unwrap_or(Value::Null);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let arguments = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => "{}".to_string(),
            };
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(
                    || {
                        format!(
                            "call_{:016x}",
                            fnv(&[&id_seed.to_le_bytes(), &n.to_le_bytes()])
                        )
                    },
                    str::to_string,
                );
            let mut out = json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            });
            if with_index {
                if let Some(o) = out.as_object_mut() {
                    o.insert("index".into(), json!(n));
                }
            }
            out
        })
        .collect()
}

pub(super) fn finish_reason(line: &Value, tool_calls: bool) -> &'static str {
    if tool_calls {
        return "tool_calls";
    }
    match line.get("done_reason").and_then(Value::as_str) {
        Some("length") => "length",
        _ => "stop",
    }
}

/// The text, thinking and tool calls of one `/api/chat` or `/api/generate` object.
pub(super) fn parts(v: &Value) -> (&str, &str, &[Value]) {
    let (content, thinking, calls) = match v.get("message") {
        Some(m) => (m.get("content"), m.get("thinking"), m.get("tool_calls")),
        None => (v.get("response"), v.get("thinking"), None),
    };
    (
        content.and_then(Value::as_str).unwrap_or_default(),
        thinking.and_then(Value::as_str).unwrap_or_default(),
        calls
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
    )
}

pub(super) fn bad_answer(what: &str) -> GatewayError {
    GatewayError::new(502, format!("Ollama returned {what}")).with_type("api_error")
}

/// Translates a complete (non-streamed) Ollama answer.
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
    if let Some(message) = v.get("error").and_then(Value::as_str) {
        return Err(GatewayError::new(500, message.to_string()));
    }
    let model = v.get("model").and_then(Value::as_str).unwrap_or(&ctx.model);
    let seed = fnv(&[body]);
    let prompt = count(&v, "prompt_eval_count");
    let out = match endpoint {
        Endpoint::Embeddings => {
            let embeddings = v
                .get("embeddings")
                .and_then(Value::as_array)
                .ok_or_else(|| bad_answer("an embedding answer without `embeddings`"))?;
            let data: Vec<Value> = embeddings
                .iter()
                .enumerate()
                .map(|(i, e)| wire::embedding(i, e))
                .collect();
            wire::embedding_list(data, model, prompt)
        }
        Endpoint::Completions => {
            let (text, _, _) = parts(&v);
            wire::completion(
                format!("cmpl-{seed:016x}"),
                wire::TEXT_COMPLETION,
                ctx.created,
                model,
                json!([{"text": text, "index": 0, "logprobs": null,
                             "finish_reason": finish_reason(&v, false)}]),
                Some(usage_value(prompt, count(&v, "eval_count"))),
            )
        }
        Endpoint::ChatCompletions => {
            let (text, thinking, calls) = parts(&v);
            let mut message = Map::new();
            message.insert("role".into(), json!("assistant"));
            message.insert(
                "content".into(),
                if text.is_empty() && !calls.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                },
            );
            if !thinking.is_empty() {
                message.insert("reasoning_content".into(), json!(thinking));
            }
            if !calls.is_empty() {
                message.insert(
                    "tool_calls".into(),
                    Value::Array(openai_tool_calls(calls, seed, 0, false)),
                );
            }
            wire::completion(
                format!("chatcmpl-{seed:016x}"),
                wire::CHAT_COMPLETION,
                ctx.created,
                model,
                json!([{"index": 0, "message": message, "logprobs": null,
                             "finish_reason": finish_reason(&v, !calls.is_empty())}]),
                Some(usage_value(prompt, count(&v, "eval_count"))),
            )
        }
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}
