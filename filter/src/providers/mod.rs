//! Provider translations: OpenAI-format requests to each provider's native API and
//! back.
//!
//! Every translation here is sans-IO: bytes (or a parsed request) in, bytes out, with
//! time passed in through [`ResponseContext`]. The upstream stage does what is
//! common to all providers — parsing the body once, applying deployment defaults,
//! `drop_params`, the model id — and then asks the deployment's [`Provider`]
//! ([`provider`]: the trait; [`registry`]: one row per provider) to translate.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub(crate) mod block_answer;
pub(crate) mod chunk_writer;
pub mod cohere;
pub mod gemini;
pub mod huggingface;
pub mod ollama;
pub mod openai;
pub mod openai_compat;
pub mod provider;
pub mod quirks;
pub mod registry;
pub mod vertex;

pub use provider::{Answer, Attempt, OutgoingBody, Provider, ResponseFormat, Translated};
pub use registry::provider;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;

pub use switchyard_contract::providers::{infer_provider, ProviderKind};

/// The parameters a provider takes, as the upstream stage checks them (a parameter
/// outside is a 400 naming it, or dropped with `drop_params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamTable {
    /// Anything (sent as the client wrote it).
    Any,
    /// Only these: the translation knows every field it sends.
    Only(Vec<&'static str>),
    /// Anything but these OpenAI parameters. OpenAI-compatible clouds get the body
    /// as sent, so, as in LiteLLM, only OpenAI's own parameters that the provider's
    /// table lacks are refused; provider-specific ones (Perplexity's
    /// `search_domain_filter`, Mistral's `safe_prompt`, …) pass.
    Not(Vec<&'static str>),
}

impl ParamTable {
    /// Whether `param` is refused.
    pub fn refuses(&self, param: &str) -> bool {
        match self {
            ParamTable::Any => false,
            ParamTable::Only(allowed) => !allowed.contains(&param),
            ParamTable::Not(refused) => refused.contains(&param),
        }
    }
}

/// A request field, treating an explicit `null` as absent (every translator reads
/// fields this way).
pub(crate) fn present<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    request.get(key).filter(|v| !v.is_null())
}

/// A translated request body as bytes (a failure is the gateway's own 500).
pub(crate) fn serialize_request<T: Serialize + ?Sized>(body: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(body)
        .map_err(|e| GatewayError::internal(format!("could not serialize request: {e}")))
}

/// Per-response facts a translator needs but cannot read from the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseContext {
    /// Unix seconds for `created`.
    pub created: u64,
    /// The model name to report when the provider does not name one.
    pub model: String,
    /// `stream_options.include_usage` was set: end the stream with a usage chunk.
    pub include_usage: bool,
}

/// Turns a provider's stream into OpenAI SSE, one chunk at a time.
///
/// `push` is called with each body chunk as it arrives (events may be split
/// anywhere, even inside a UTF-8 sequence) and appends whatever complete OpenAI SSE
/// events it can to `out`. `finish` is called once at end of stream.
pub trait StreamTranslate {
    /// Translates one chunk.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);
    /// Flushes at end of stream (a stream cut short ends with an error event).
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The answer's token usage, once the stream reported it.
    fn usage(&self) -> Option<crate::cost::Usage> {
        None
    }
    /// The provider's own price of the answer (USD), for providers that report
    /// one (OpenRouter's `usage.cost`); it is then the request's spend.
    fn provider_cost(&self) -> Option<f64> {
        None
    }
}

/// A request ready for the provider: path (joined onto the `api_base` prefix by the
/// caller, query included) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    /// Path after the `api_base` prefix, starting with `/`.
    pub path: String,
    /// The serialized body.
    pub body: Vec<u8>,
}

/// Translates a parsed OpenAI request (defaults applied, parameters checked, `model`
/// already the provider's id) for `provider`, with the deployment defaults
/// ([`Attempt::plain`]). The stages go through [`Provider::translate_request`].
pub fn translate_request(
    provider: ProviderKind,
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
    api_version: Option<&str>,
) -> Result<ProviderRequest, GatewayError> {
    registry::provider(provider).translate(&Attempt::plain(endpoint, model, api_version), request)
}

/// Answer facts for the free functions below: no rewrite, no quirks, no headers.
fn plain_answer(endpoint: Endpoint) -> Answer<'static> {
    Answer {
        endpoint,
        rewritten: openai_compat::Rewritten::default(),
        quirks: openai_compat::quirks(ProviderKind::Openai),
        client_include_usage: false,
        header: &|_| None,
    }
}

/// Translates a complete (non-streamed) successful response body.
pub fn translate_response(
    provider: ProviderKind,
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    registry::provider(provider).translate_response(&plain_answer(endpoint), ctx, body)
}

/// Whether a successful response body must be rewritten (else it passes untouched).
pub fn rewrites_response(provider: ProviderKind) -> bool {
    registry::provider(provider).response_format() == ResponseFormat::Native
}

/// The stream translator for `provider` (OpenAI SSE passes through, read for usage).
pub fn stream_translator(
    provider: ProviderKind,
    endpoint: Endpoint,
    ctx: ResponseContext,
) -> Box<dyn StreamTranslate> {
    registry::provider(provider).stream_translator(&plain_answer(endpoint), ctx)
}

/// Maps a provider's error response (any status ≥ 400) to an OpenAI-shaped error,
/// keeping the provider's message (no response headers: see
/// [`Provider::translate_error`]).
pub fn translate_error(provider: ProviderKind, status: u16, body: &[u8]) -> GatewayError {
    registry::provider(provider).translate_error(status, body, &|_| None)
}

/// An OpenAI embedding list whose vectors are number arrays, with each vector
/// turned into base64 of its little-endian `f32`s (OpenAI's `encoding_format:
/// "base64"`), for providers that only answer with numbers. Anything else is
/// returned unchanged.
pub fn embeddings_to_base64(body: Vec<u8>) -> Vec<u8> {
    use base64::Engine as _;
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let Some(data) = v.get_mut("data").and_then(Value::as_array_mut) else {
        return body;
    };
    for item in data {
        let Some(slot) = item.get_mut("embedding") else {
            continue;
        };
        let Some(numbers) = slot.as_array() else {
            continue;
        };
        let mut bytes = Vec::with_capacity(numbers.len() * 4);
        for n in numbers {
            // f64 → f32 is the precision OpenAI's base64 form carries.
            bytes.extend_from_slice(&(n.as_f64().unwrap_or(0.0) as f32).to_le_bytes());
        }
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    serde_json::to_vec(&v).unwrap_or(body)
}

/// Recognises the provider errors that have fallbacks of their own: a prompt too
/// long for the model's context window, and a content-policy refusal. `body` is the
/// provider's raw error body; the phrases are the ones LiteLLM matches (OpenAI,
/// Azure, Anthropic and OpenAI-compatible servers).
pub fn classify_error(status: u16, body: &[u8]) -> Option<crate::plugin_config::ErrorKind> {
    use crate::plugin_config::ErrorKind;
    const CONTEXT_WINDOW: &[&str] = &[
        "context_length_exceeded",
        "maximum context length",
        "context length",
        "context window",
        "prompt is too long",
        "input is too long",
        "too many tokens",
        "reduce the length of the messages",
        // Gemini / Vertex: "The input token count (N) exceeds the maximum number of
        // tokens allowed (M)."
        "exceeds the maximum number of tokens",
    ];
    const CONTENT_POLICY: &[&str] = &[
        "content_policy_violation",
        "content management policy",
        "content_filter",
        "responsibleaipolicyviolation",
        "content filtering policy",
        "safety system",
    ];
    if !matches!(status, 400 | 413 | 422) {
        return None;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    if CONTEXT_WINDOW.iter().any(|p| text.contains(p)) {
        Some(ErrorKind::ContextWindow)
    } else if CONTENT_POLICY.iter().any(|p| text.contains(p)) {
        Some(ErrorKind::ContentPolicy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_config::ErrorKind;

    #[test]
    fn error_kinds_are_recognised_as_litellm_does() {
        let openai = br#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        assert_eq!(classify_error(400, openai), Some(ErrorKind::ContextWindow));
        let anthropic = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210517 tokens > 200000 maximum"}}"#;
        assert_eq!(
            classify_error(400, anthropic),
            Some(ErrorKind::ContextWindow)
        );
        let policy = br#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}"#;
        assert_eq!(classify_error(400, policy), Some(ErrorKind::ContentPolicy));
        let azure = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}"#;
        assert_eq!(classify_error(400, azure), Some(ErrorKind::ContentPolicy));
        let gemini = br#"{"error":{"code":400,"message":"The input token count (1196265) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(classify_error(400, gemini), Some(ErrorKind::ContextWindow));
        let plain = br#"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error"}}"#;
        assert_eq!(
            classify_error(400, plain),
            None,
            "a plain 400 is just a 400"
        );
        assert_eq!(classify_error(500, openai), None, "only client errors");
    }

    #[test]
    fn embeddings_become_base64_floats() {
        use base64::Engine as _;
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1.0]}],"model":"m"}"#;
        let out: Value = serde_json::from_slice(&embeddings_to_base64(body.to_vec())).unwrap();
        let b64 = out["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, [0.5, -1.0]);
        assert_eq!(out["model"], "m");
        assert_eq!(embeddings_to_base64(b"nope".to_vec()), b"nope");
    }
}
