//! Vertex AI (`vertex_ai/`): Google's models and Anthropic's Claude on Google Cloud.
//!
//! A Vertex deployment's `api_base` is its regional endpoint with project and
//! location, as the config compiler builds it:
//! `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}`
//! (`https://aiplatform.googleapis.com/…` for the `global` location). The path after
//! it depends on the model's family ([`family`]), as LiteLLM routes them
//! (`vertex_llm_base._get_token_and_url`, `vertex_ai_partner_models`):
//!
//! * **Gemini** (`gemini-…`, and anything not below):
//!   `/publishers/google/models/{m}:generateContent`, or
//!   `:streamGenerateContent?alt=sse`; the bodies are Gemini's (see
//!   [`super::gemini`]). A model id of digits only is a tuned model's endpoint:
//!   `/endpoints/{id}:…`.
//! * **Claude** (`claude-…`): `/publishers/anthropic/models/{m}:rawPredict`, or
//!   `:streamRawPredict`; the body is the Anthropic Messages body
//!   ([`super::anthropic`]) without `model` (it is in the URL) and with
//!   `"anthropic_version": "vertex-2023-10-16"`, as Anthropic's and Google's Vertex
//!   guides and LiteLLM's `VertexAIAnthropicConfig` have it; the answer is
//!   Anthropic's.
//! * **Embeddings** (`text-embedding-…`, `text-multilingual-embedding-…`,
//!   `textembedding-gecko…`, `gemini-embedding-…`): `/publishers/google/models/{m}:predict`
//!   with `{"instances": [{"content": text}, …], "parameters":
//!   {"outputDimensionality": N}}` → `predictions[].embeddings.{values,
//!   statistics.token_count}` (LiteLLM's `VertexAITextEmbeddingConfig`), the token
//!   counts summed as the prompt tokens.
//!
//! Errors come as Google's `{"error": {"code", "message", "status"}}` (auth,
//! quota, routing) or, from Claude, Anthropic's `{"type": "error", "error": {…}}`;
//! both keep their message.

mod claude;
mod embeddings;
mod provider;

use serde_json::{Map, Value};

use super::{anthropic, gemini, ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;

pub use claude::ANTHROPIC_VERTEX_VERSION;
pub use provider::*;

/// How a Vertex model is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Google's Gemini models (`generateContent`).
    Gemini,
    /// Anthropic's Claude (`rawPredict`, Messages bodies).
    Claude,
    /// Google's text embedding models (`predict`).
    Embedding,
}

/// The family of a Vertex model id.
pub fn family(model: &str) -> Family {
    let m = model.to_ascii_lowercase();
    if m.contains("claude") {
        Family::Claude
    } else if [
        "text-embedding",
        "text-multilingual-embedding",
        "textembedding-gecko",
        "gemini-embedding",
    ]
    .iter()
    .any(|p| m.starts_with(p))
    {
        Family::Embedding
    } else {
        Family::Gemini
    }
}

pub use switchyard_contract::providers::vertex::unsupported_model;

const EMBEDDING_PARAMS: &[&str] = &["model", "input", "dimensions", "encoding_format"];

/// Parameters the translation understands for `endpoint` with `model`.
pub fn supported_params(endpoint: Endpoint, model: &str) -> &'static [&'static str] {
    match (family(model), endpoint) {
        (_, Endpoint::Embeddings) => EMBEDDING_PARAMS,
        (Family::Claude, _) => anthropic::supported_params(endpoint),
        _ => gemini::supported_params(endpoint),
    }
}

/// The path after the deployment's `…/projects/{p}/locations/{l}` base.
pub fn request_path(model: &str, stream: bool, endpoint: Endpoint) -> String {
    let model = model.strip_prefix("gemini/").unwrap_or(model);
    let segment = gemini::model_segment(model);
    if endpoint == Endpoint::Embeddings {
        return format!("/publishers/google/models/{segment}:predict");
    }
    match family(model) {
        Family::Claude => {
            let method = if stream {
                "streamRawPredict"
            } else {
                "rawPredict"
            };
            format!("/publishers/anthropic/models/{segment}:{method}")
        }
        _ if !model.is_empty() && model.bytes().all(|b| b.is_ascii_digit()) => {
            format!("/endpoints/{segment}:{}", gemini::method(stream, endpoint))
        }
        _ => format!(
            "/publishers/google/models/{segment}:{}",
            gemini::method(stream, endpoint)
        ),
    }
}
/// OpenAI request → the Vertex body for the model's family.
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let model = model.strip_prefix("gemini/").unwrap_or(model);
    if endpoint == Endpoint::Embeddings {
        return embeddings::embeddings_request(request, model);
    }
    match family(model) {
        Family::Claude => claude::translate_request(endpoint, request, model),
        Family::Embedding => Err(GatewayError::bad_request(format!(
            "{model} is an embedding model: use /embeddings for this deployment."
        ))),
        Family::Gemini => gemini::translate_request(endpoint, request, model),
    }
}
/// A complete Vertex answer → OpenAI.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return embeddings::embeddings_response(body, ctx);
    }
    match family(&ctx.model) {
        Family::Claude => anthropic::translate_response(endpoint, body, ctx),
        _ => gemini::translate_response(endpoint, body, ctx),
    }
}
/// The stream translator for the model's family.
pub fn stream_translator(endpoint: Endpoint, ctx: ResponseContext) -> Box<dyn StreamTranslate> {
    match family(&ctx.model) {
        Family::Claude => Box::new(anthropic::StreamTranslator::new(endpoint, ctx)),
        _ => Box::new(gemini::StreamTranslator::new(endpoint, ctx)),
    }
}

/// A Vertex error (Google's or, from Claude, Anthropic's body) → OpenAI error.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    // Both shapes hold an `error` object with a `message`.
    gemini::translate_error(status, body)
}

#[cfg(test)]
mod tests {
    use super::test_helpers::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn families_and_paths() {
        assert_eq!(family("gemini-2.5-pro"), Family::Gemini);
        assert_eq!(family("claude-sonnet-4@20250514"), Family::Claude);
        assert_eq!(family("text-embedding-005"), Family::Embedding);
        assert_eq!(family("gemini-embedding-001"), Family::Embedding);
        assert_eq!(
            request_path("gemini-2.5-pro", false, Endpoint::ChatCompletions),
            "/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(
            request_path("gemini-2.5-pro", true, Endpoint::ChatCompletions),
            "/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            request_path("claude-sonnet-4@20250514", false, Endpoint::ChatCompletions),
            "/publishers/anthropic/models/claude-sonnet-4%4020250514:rawPredict"
        );
        assert_eq!(
            request_path("claude-3-5-haiku", true, Endpoint::ChatCompletions),
            "/publishers/anthropic/models/claude-3-5-haiku:streamRawPredict"
        );
        assert_eq!(
            request_path("text-embedding-005", false, Endpoint::Embeddings),
            "/publishers/google/models/text-embedding-005:predict"
        );
        assert_eq!(
            request_path("4965075652664360960", true, Endpoint::ChatCompletions),
            "/endpoints/4965075652664360960:streamGenerateContent?alt=sse"
        );
        assert!(unsupported_model("meta/llama-3.1-405b-instruct-maas").is_some());
        assert!(unsupported_model("mistral-large@2407").is_some());
        assert!(unsupported_model("gemini-2.5-flash").is_none());
        assert!(unsupported_model("claude-opus-4").is_none());
    }

    #[test]
    fn gemini_bodies_are_geminis() {
        let body = translate_request(
            Endpoint::ChatCompletions,
            &map(json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})),
            "gemini-2.5-flash",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 3}})
        );
    }

    #[test]
    fn errors_of_both_shapes_keep_their_message() {
        let e = translate_error(
            401,
            br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        );
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "Request had invalid authentication credentials.")
        );
        let e = translate_error(
            429,
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"Too many tokens"}}"#,
        );
        assert_eq!((e.status, e.message.as_str()), (429, "Too many tokens"));
    }
}

/// Request and answer builders the provider's unit tests share.
#[cfg(test)]
pub(crate) mod test_helpers {
    use serde_json::{Map, Value};

    use crate::providers::ResponseContext;

    pub(crate) fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    pub(crate) fn ctx(model: &str) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: model.into(),
            include_usage: true,
        }
    }
}
