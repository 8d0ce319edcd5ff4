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
            Some(wire::usage(prompt, completion, None)),
        )
    } else {
        wire::completion(
            format!("chatcmpl-{seed:016x}"),
            wire::CHAT_COMPLETION,
            ctx.created,
            &ctx.model,
            json!([{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": null, "finish_reason": reason}]),
            Some(wire::usage(prompt, completion, None)),
        )
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::huggingface::fixtures::*;

    #[test]
    fn generate_answers_become_openai() {
        // `GenerateResponse` as TGI's reference shows it, with `decoder_input_details`.
        let body = r#"{"generated_text":"<|assistant|> Deep learning is a subset.</s>","details":{"finish_reason":"eos_token","generated_tokens":7,"seed":null,"prefill":[{"id":1,"text":"<s>","logprob":null},{"id":1724,"text":"What","logprob":-7.6},{"id":338,"text":" is","logprob":-1.4}],"tokens":[{"id":1,"text":"Deep","logprob":-0.1,"special":false}]}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "tgi-model");
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": " Deep learning is a subset."}),
            "LiteLLM's output_parser strips chat-template tokens"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10})
        );
        let v: Value = serde_json::from_slice(
            &translate_response(
                Endpoint::Completions,
                br#"[{"generated_text":"cut","details":{"finish_reason":"length","generated_tokens":1,"prefill":[],"tokens":[]}}]"#,
                &ctx(false),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(
            (
                v["choices"][0]["text"].as_str(),
                v["choices"][0]["finish_reason"].as_str()
            ),
            (Some("cut"), Some("length"))
        );
        assert_eq!(
            translate_response(Endpoint::ChatCompletions, b"{}", &ctx(false))
                .unwrap_err()
                .status,
            502
        );
    }
}
