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

use serde_json::{json, Map, Value};

use super::serialize_request as serialize;
use super::{anthropic, gemini, ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// The `anthropic_version` Claude on Vertex wants in the body.
pub const ANTHROPIC_VERTEX_VERSION: &str = "vertex-2023-10-16";

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
        return embeddings_request(request, model);
    }
    match family(model) {
        Family::Claude => {
            let body = anthropic::translate_request(endpoint, request, model)?;
            let mut v: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
                GatewayError::internal(format!("could not re-read the Anthropic body: {e}"))
            })?;
            v.remove("model");
            v.insert(
                "anthropic_version".into(),
                Value::from(ANTHROPIC_VERTEX_VERSION),
            );
            serialize(&Value::Object(v))
        }
        Family::Embedding => Err(GatewayError::bad_request(format!(
            "{model} is an embedding model: use /embeddings for this deployment."
        ))),
        Family::Gemini => gemini::translate_request(endpoint, request, model),
    }
}

fn embeddings_request(request: &Map<String, Value>, model: &str) -> Result<Vec<u8>, GatewayError> {
    if family(model) == Family::Claude {
        return Err(GatewayError::bad_request(
            "Claude has no embeddings API; route embedding requests to a Google embedding model.",
        )
        .with_param("model"));
    }
    let bad =
        || GatewayError::invalid_param("input", "`input` must be a string or an array of strings.");
    let texts: Vec<&str> = match request.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let instances: Vec<Value> = texts.iter().map(|t| json!({ "content": t })).collect();
    let mut body = Map::new();
    body.insert("instances".into(), Value::Array(instances));
    match request.get("dimensions").filter(|v| !v.is_null()) {
        None => {}
        Some(d) => {
            let d = d.as_u64().filter(|d| *d > 0).ok_or_else(|| {
                GatewayError::invalid_param(
                    "dimensions",
                    "`dimensions` must be a positive integer.",
                )
            })?;
            body.insert("parameters".into(), json!({ "outputDimensionality": d }));
        }
    }
    serialize(&Value::Object(body))
}

/// A complete Vertex answer → OpenAI.
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return embeddings_response(body, ctx);
    }
    match family(&ctx.model) {
        Family::Claude => anthropic::translate_response(endpoint, body, ctx),
        _ => gemini::translate_response(endpoint, body, ctx),
    }
}

fn embeddings_response(body: &[u8], ctx: &ResponseContext) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Vertex AI returned a response that could not be parsed: {e}"),
        )
    })?;
    let mut tokens = 0u64;
    let mut data = Vec::new();
    for (i, p) in v
        .get("predictions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let e = p.get("embeddings");
        tokens = tokens.saturating_add(
            e.and_then(|e| e.get("statistics"))
                .and_then(|s| s.get("token_count"))
                .and_then(Value::as_f64)
                .map_or(0, |n| n as u64),
        );
        data.push(json!({
            "object": "embedding",
            "index": i,
            "embedding": e.and_then(|e| e.get("values")).cloned().unwrap_or_else(|| json!([])),
        }));
    }
    let out = json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    });
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
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
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn ctx(model: &str) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: model.into(),
            include_usage: true,
        }
    }

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
    fn claude_bodies_carry_the_vertex_version_and_no_model() {
        let body = translate_request(
            Endpoint::ChatCompletions,
            &map(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true})),
            "claude-sonnet-4@20250514",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v.get("model").is_none(), "{v}");
        assert_eq!(v["anthropic_version"], ANTHROPIC_VERTEX_VERSION);
        assert_eq!(v["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(v["max_tokens"], 4096, "LiteLLM's default");
        assert_eq!(v["stream"], true);
        // The answer is Anthropic's Messages answer.
        let out = translate_response(
            Endpoint::ChatCompletions,
            br#"{"id":"msg_vrtx_01","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}"#,
            &ctx("claude-sonnet-4@20250514"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi!");
        assert_eq!(v["usage"]["prompt_tokens"], 3);
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
    fn embeddings_go_through_predict() {
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": ["a", "b"], "dimensions": 256})),
            "text-embedding-005",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 256}})
        );
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": "a"})),
            "text-embedding-005",
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"instances": [{"content": "a"}]})
        );
        let e = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": 1})),
            "text-embedding-005",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": "a"})),
            "claude-3",
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        // Google's predict answer (text-embeddings-api reference).
        let out = translate_response(
            Endpoint::Embeddings,
            br#"{"predictions":[{"embeddings":{"statistics":{"truncated":false,"token_count":6},"values":[0.1,-0.2]}},{"embeddings":{"statistics":{"truncated":false,"token_count":4},"values":[0.3,0.4]}}],"metadata":{"billableCharacterCount":30}}"#,
            &ctx("text-embedding-005"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][1]["embedding"], json!([0.3, 0.4]));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["usage"], json!({"prompt_tokens": 10, "total_tokens": 10}));
        assert_eq!(
            translate_response(Endpoint::Embeddings, b"<html>", &ctx("text-embedding-005"))
                .unwrap_err()
                .status,
            502
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
