//! TGI answer → OpenAI chat or text completion.

use super::*;

/// LiteLLM's `output_parser`: chat-template tokens at the start (after leading
/// whitespace) or the very end of the text are removed once each.
pub fn output_parser(text: &str) -> String {
    const TOKENS: [&str; 5] = ["<|assistant|>", "<|system|>", "<|user|>", "<s>", "</s>"];
    let mut out = text.to_string();
    for token in TOKENS {
        if out.trim().starts_with(token) {
            out = out.replacen(token, "", 1);
        }
        if let Some(stripped) = out.strip_suffix(token) {
            out = stripped.to_string();
        }
    }
    out
}

/// TGI's finish reasons → OpenAI's (LiteLLM's `map_finish_reason`).
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("length") => "length",
        _ => "stop",
    }
}

pub(super) fn usage_value(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

pub(super) fn bad_answer(what: &str) -> GatewayError {
    GatewayError::new(502, format!("Text Generation Inference returned {what}"))
        .with_type("api_error")
}

/// FNV-1a of the answer, for a response id (TGI's answers have none).
pub(super) fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Translates a complete `/generate` answer.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad_answer(&format!("a body that is not JSON: {e}")))?;
    // The compatibility route `/` answers a list of one.
    let v = match v {
        Value::Array(mut list) if list.len() == 1 => list.swap_remove(0),
        other => other,
    };
    if let Some(message) = v.get("error").and_then(Value::as_str) {
        return Err(GatewayError::new(500, message.to_string()));
    }
    let text = v
        .get("generated_text")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_answer("an answer without `generated_text`"))?;
    let text = output_parser(text);
    let details = v.get("details");
    let prompt = details
        .and_then(|d| d.get("prefill"))
        .and_then(Value::as_array)
        .map_or(0, |p| p.len() as u64);
    let completion = details
        .and_then(|d| d.get("generated_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let reason = finish_reason(
        details
            .and_then(|d| d.get("finish_reason"))
            .and_then(Value::as_str),
    );
    let seed = fnv(body);
    let out = if endpoint == Endpoint::Completions {
        wire::completion(
            format!("cmpl-{seed:016x}"),
            wire::TEXT_COMPLETION,
            ctx.created,
            &ctx.model,
            json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": reason}]),
            Some(usage_value(prompt, completion)),
        )
    } else {
        wire::completion(
            format!("chatcmpl-{seed:016x}"),
            wire::CHAT_COMPLETION,
            ctx.created,
            &ctx.model,
            json!([{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": null, "finish_reason": reason}]),
            Some(usage_value(prompt, completion)),
        )
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}
