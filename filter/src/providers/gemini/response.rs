//! Gemini answer → OpenAI chat completion or embedding list.

use super::*;

/// Gemini `finishReason` → OpenAI `finish_reason`, as LiteLLM's
/// `VertexGeminiConfig._check_finish_reason`: a candidate that called tools is
/// `tool_calls`; `MAX_TOKENS` → `length`; the safety and policy stops (`SAFETY`,
/// `RECITATION`, `LANGUAGE`, `OTHER`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
/// `IMAGE_SAFETY`, and the image variants) → `content_filter`; everything else
/// (`STOP`, `MALFORMED_FUNCTION_CALL`, `FINISH_REASON_UNSPECIFIED`, …) → `stop`.
pub(super) fn finish_reason(reason: Option<&str>, called_tools: bool) -> &'static str {
    match reason {
        _ if called_tools => "tool_calls",
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY"
            | "RECITATION"
            | "LANGUAGE"
            | "OTHER"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => "content_filter",
        _ => "stop",
    }
}

pub(super) fn count(meta: &Value, key: &str) -> u64 {
    meta.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Completion tokens of a `usageMetadata`: `candidatesTokenCount` plus
/// `thoughtsTokenCount`, unless the candidates count already holds the thoughts
/// (`promptTokenCount + candidatesTokenCount == totalTokenCount`), as LiteLLM's
/// `is_candidate_token_count_inclusive` decides.
pub(super) fn completion_count(meta: &Value) -> u64 {
    let prompt = count(meta, "promptTokenCount");
    let candidates = count(meta, "candidatesTokenCount");
    let thoughts = count(meta, "thoughtsTokenCount");
    let total = meta.get("totalTokenCount").and_then(Value::as_u64);
    if thoughts > 0 && total == Some(prompt.saturating_add(candidates)) {
        candidates
    } else {
        candidates.saturating_add(thoughts)
    }
}

/// `usageMetadata` → OpenAI `usage`. `promptTokenCount` already includes the
/// cached tokens (`cachedContentTokenCount`), as OpenAI's `prompt_tokens` does.
pub(super) fn usage_value(meta: &Value) -> Value {
    let prompt = count(meta, "promptTokenCount");
    let thoughts = count(meta, "thoughtsTokenCount");
    let completion = completion_count(meta);
    let cached = count(meta, "cachedContentTokenCount");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": { "cached_tokens": cached },
        "completion_tokens_details": { "reasoning_tokens": thoughts },
    })
}

pub(super) fn usage_of_meta(meta: &Value) -> crate::cost::Usage {
    crate::cost::Usage {
        prompt_tokens: count(meta, "promptTokenCount"),
        completion_tokens: completion_count(meta),
        cache_read_tokens: count(meta, "cachedContentTokenCount"),
        cache_creation_tokens: 0,
    }
}

pub(super) fn tool_call_id(
    response_id: &str,
    candidate: u64,
    n: usize,
    signature: Option<&str>,
) -> String {
    let mut id = if candidate == 0 {
        format!("call_{response_id}_{n}")
    } else {
        format!("call_{response_id}_{candidate}_{n}")
    };
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        id.push_str(THOUGHT_SIGNATURE_SEPARATOR);
        id.push_str(sig);
    }
    id
}

pub(super) fn tool_call_of(
    part: &Value,
    response_id: &str,
    candidate: u64,
    n: usize,
) -> Option<Value> {
    let call = part.get("functionCall")?;
    let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
    let arguments = match call.get("args").filter(|a| !a.is_null()) {
        Some(args) => args.to_string(),
        None => "{}".to_string(),
    };
    let signature = part.get("thoughtSignature").and_then(Value::as_str);
    Some(json!({
        "id": tool_call_id(response_id, candidate, n, signature),
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    }))
}

pub(super) fn is_thought(part: &Value) -> bool {
    part.get("thought").and_then(Value::as_bool) == Some(true)
}

pub(super) fn error_status(code: Option<u64>, status: Option<&str>) -> u16 {
    if let Some(c) = code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
    {
        return c;
    }
    match status {
        Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => 400,
        Some("UNAUTHENTICATED") => 401,
        Some("PERMISSION_DENIED") => 403,
        Some("NOT_FOUND") => 404,
        Some("RESOURCE_EXHAUSTED") => 429,
        Some("UNAVAILABLE") => 503,
        Some("DEADLINE_EXCEEDED") => 504,
        _ => 500,
    }
}

/// The `error` object of a Gemini error body (`{"error":{…}}`, or that inside a
/// one-element array as streams sometimes send it).
pub(super) fn error_object(v: &Value) -> Option<&Value> {
    v.get("error")
        .or_else(|| {
            v.as_array()
                .and_then(|a| a.first())
                .and_then(|e| e.get("error"))
        })
        .filter(|e| e.is_object())
}

pub(super) fn error_from_object(http_status: Option<u16>, e: &Value, body: &[u8]) -> GatewayError {
    let status = http_status.unwrap_or_else(|| {
        error_status(
            e.get("code").and_then(Value::as_u64),
            e.get("status").and_then(Value::as_str),
        )
    });
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map_or_else(
            || crate::providers::openai::fallback_message(status, body),
            str::to_string,
        );
    GatewayError::new(status, message)
}

pub(super) fn parse_body(body: &[u8]) -> Result<Value, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Gemini returned a response that could not be parsed: {e}"),
        )
    })?;
    if let Some(e) = error_object(&v) {
        return Err(error_from_object(None, e, body));
    }
    Ok(v)
}

/// Gemini response → OpenAI response: `GenerateContentResponse` →
/// `chat.completion`, `batchEmbedContents` → an embedding list.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v = parse_body(body)?;
    let out = match endpoint {
        Endpoint::Embeddings => embeddings_response(&v, ctx),
        Endpoint::Completions => {
            return Err(GatewayError::bad_request(
                "The Gemini translation serves /chat/completions and /embeddings.",
            ))
        }
        Endpoint::ChatCompletions => chat_response(&v, ctx),
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

pub(super) fn embeddings_response(v: &Value, ctx: &ResponseContext) -> Value {
    let data: Vec<Value> = v
        .get("embeddings")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, e)| {
                    wire::embedding(i, e.get("values").cloned().unwrap_or_else(|| json!([])))
                })
                .collect()
        })
        .unwrap_or_default();
    let prompt = v
        .get("usageMetadata")
        .map(|m| count(m, "promptTokenCount"))
        .unwrap_or(0);
    wire::embedding_list(data, &ctx.model, prompt)
}

pub(super) fn chat_response(v: &Value, ctx: &ResponseContext) -> Value {
    let response_id = v.get("responseId").and_then(Value::as_str).unwrap_or("");
    let mut choices = Vec::new();
    for (pos, cand) in v
        .get("candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = cand
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(pos as u64);
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut calls = Vec::new();
        for part in cand
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(call) = tool_call_of(part, response_id, index, calls.len()) {
                calls.push(call);
            } else if let Some(t) = part.get("text").and_then(Value::as_str) {
                if is_thought(part) {
                    reasoning.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
        let finish = finish_reason(
            cand.get("finishReason").and_then(Value::as_str),
            !calls.is_empty(),
        );
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert(
            "content".into(),
            if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            },
        );
        if !reasoning.is_empty() {
            message.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        choices.push(json!({
            "index": index,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }));
    }
    if choices.is_empty() {
        // A prompt blocked before any candidate (promptFeedback.blockReason), or an
        // answer with no candidates at all.
        let blocked = v
            .get("promptFeedback")
            .and_then(|f| f.get("blockReason"))
            .is_some();
        choices.push(json!({
            "index": 0,
            "message": { "role": "assistant", "content": null },
            "logprobs": null,
            "finish_reason": if blocked { "content_filter" } else { "stop" },
        }));
    }
    let model = v
        .get("modelVersion")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(&ctx.model);
    let usage = usage_value(v.get("usageMetadata").unwrap_or(&Value::Null));
    wire::completion(
        format!("chatcmpl-{response_id}"),
        wire::CHAT_COMPLETION,
        ctx.created,
        model,
        choices,
        Some(usage),
    )
}
