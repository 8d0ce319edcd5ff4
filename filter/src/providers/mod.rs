//! Provider translations: OpenAI-format requests to each provider's native API and
//! back.
//!
//! Every translation here is sans-IO: bytes (or a parsed request) in, bytes out, with
//! time passed in through [`ResponseContext`]. The upstream stage
//! ([`crate::upstream`]) does what is common to all providers — parsing the body once,
//! applying deployment defaults, `drop_params`, the model id — and then calls the
//! provider's functions through [`ProviderKind`].

pub mod anthropic;
pub mod openai;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// The wire format a deployment speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI and every OpenAI-compatible server (`openai/`, `hosted_vllm/`, any `api_base`).
    Openai,
    /// Azure OpenAI: deployment in the path, `api-version` query, `api-key` header.
    Azure,
    /// Anthropic Messages API.
    Anthropic,
}

impl ProviderKind {
    /// Maps a LiteLLM provider prefix (`openai`, `azure`, `anthropic`, …) to the wire
    /// format, or `None` when Switchyard does not translate for it yet.
    pub fn from_litellm_prefix(prefix: &str) -> Option<ProviderKind> {
        match prefix {
            "openai"
            | "hosted_vllm"
            | "custom_openai"
            | "openai_like"
            | "text-completion-openai" => Some(ProviderKind::Openai),
            "azure" | "azure_text" => Some(ProviderKind::Azure),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    /// The lower-case name used in logs, headers and `owned_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    /// The request parameters the provider accepts for `endpoint`, or `None` when it
    /// accepts anything (OpenAI-compatible servers get every parameter as sent).
    pub fn supported_params(self, endpoint: Endpoint) -> Option<&'static [&'static str]> {
        match self {
            ProviderKind::Openai | ProviderKind::Azure => None,
            ProviderKind::Anthropic => Some(anthropic::supported_params(endpoint)),
        }
    }
}

/// The provider LiteLLM assigns to a bare model name (no `provider/` prefix), e.g.
/// `gpt-4o` → `openai`, `claude-3-5-sonnet-20240620` → `anthropic`.
pub fn infer_provider(model: &str) -> Option<&'static str> {
    const OPENAI_PREFIXES: &[&str] = &[
        "gpt-",
        "chatgpt-",
        "o1",
        "o3",
        "o4",
        "text-embedding-",
        "text-davinci",
        "davinci",
        "babbage",
        "text-moderation",
        "omni-moderation",
        "dall-e",
        "whisper",
        "tts-",
        "ft:gpt-",
        "codex-",
    ];
    if model.starts_with("claude") {
        return Some("anthropic");
    }
    if OPENAI_PREFIXES.iter().any(|p| model.starts_with(p)) {
        return Some("openai");
    }
    None
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
/// already the provider's id) for `provider`.
pub fn translate_request(
    provider: ProviderKind,
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
    api_version: Option<&str>,
) -> Result<ProviderRequest, GatewayError> {
    match provider {
        ProviderKind::Openai => openai::translate_request(endpoint, request),
        ProviderKind::Azure => {
            openai::translate_azure_request(endpoint, request, model, api_version)
        }
        ProviderKind::Anthropic => Ok(ProviderRequest {
            path: "/v1/messages".to_string(),
            body: anthropic::translate_request(endpoint, request, model)?,
        }),
    }
}

/// Translates a complete (non-streamed) successful response body.
pub fn translate_response(
    provider: ProviderKind,
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    match provider {
        ProviderKind::Openai | ProviderKind::Azure => Ok(body.to_vec()),
        ProviderKind::Anthropic => anthropic::translate_response(endpoint, body, ctx),
    }
}

/// Whether a successful response body must be rewritten (else it passes untouched).
pub fn rewrites_response(provider: ProviderKind) -> bool {
    matches!(provider, ProviderKind::Anthropic)
}

/// The stream translator for `provider`, or `None` when the provider already speaks
/// OpenAI SSE and chunks pass through untouched.
pub fn stream_translator(
    provider: ProviderKind,
    endpoint: Endpoint,
    ctx: ResponseContext,
) -> Box<dyn StreamTranslate> {
    match provider {
        // Already OpenAI SSE: read for usage; the usage chunk is dropped when the
        // gateway asked for it and the client did not.
        ProviderKind::Openai | ProviderKind::Azure => {
            Box::new(openai::UsageTap::new(!ctx.include_usage))
        }
        ProviderKind::Anthropic => Box::new(anthropic::StreamTranslator::new(endpoint, ctx)),
    }
}

/// Whether a streamed request to `provider` should ask for the usage chunk
/// (`stream_options.include_usage`) so the gateway learns the tokens.
pub fn asks_stream_usage(provider: ProviderKind, endpoint: Endpoint) -> bool {
    matches!(provider, ProviderKind::Openai | ProviderKind::Azure)
        && endpoint != Endpoint::Embeddings
}

/// Maps a provider's error response (any status ≥ 400) to an OpenAI-shaped error,
/// keeping the provider's message.
pub fn translate_error(provider: ProviderKind, status: u16, body: &[u8]) -> GatewayError {
    match provider {
        ProviderKind::Openai | ProviderKind::Azure => openai::translate_error(status, body),
        ProviderKind::Anthropic => anthropic::translate_error(status, body),
    }
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
        let plain = br#"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error"}}"#;
        assert_eq!(
            classify_error(400, plain),
            None,
            "a plain 400 is just a 400"
        );
        assert_eq!(classify_error(500, openai), None, "only client errors");
    }

    #[test]
    fn bare_names_get_litellm_providers() {
        assert_eq!(infer_provider("gpt-3.5-turbo"), Some("openai"));
        assert_eq!(infer_provider("gpt-4o"), Some("openai"));
        assert_eq!(infer_provider("text-embedding-3-small"), Some("openai"));
        assert_eq!(infer_provider("o3-mini"), Some("openai"));
        assert_eq!(
            infer_provider("claude-3-5-sonnet-20240620"),
            Some("anthropic")
        );
        assert_eq!(infer_provider("llama3"), None);
    }

    #[test]
    fn prefixes_map_to_wire_formats() {
        assert_eq!(
            ProviderKind::from_litellm_prefix("hosted_vllm"),
            Some(ProviderKind::Openai)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("azure"),
            Some(ProviderKind::Azure)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("anthropic"),
            Some(ProviderKind::Anthropic)
        );
        assert_eq!(ProviderKind::from_litellm_prefix("gemini"), None);
    }
}
