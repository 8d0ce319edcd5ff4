//! Google AI Studio Gemini API (`generateContent`, `streamGenerateContent?alt=sse`,
//! `batchEmbedContents`): OpenAI requests in, OpenAI answers out.
//!
//! Field names follow Google's Gemini API REST reference (`GenerateContentRequest`,
//! `Content`/`Part`, `GenerationConfig`, `Tool`/`FunctionDeclaration`, `ToolConfig`,
//! `GenerateContentResponse`, `UsageMetadata`, `EmbedContentRequest`), in the
//! lowerCamelCase of its JSON representation (the API also takes proto field
//! names, `system_instruction`, but one spelling is used throughout); where LiteLLM
//! (`litellm/llms/vertex_ai/gemini/`, `litellm/llms/gemini/`) has settled a
//! mapping, its answer is kept. The same bodies serve Gemini on Vertex AI.
//!
//! # Requests
//!
//! * `system` and `developer` messages → `systemInstruction.parts` (one text part
//!   each). `user` → role `user`, `assistant` → role `model`, `tool` → a
//!   `functionResponse` part in a `user` turn. Consecutive turns of one role are
//!   merged (Gemini wants user/model alternating, and all responses to one model
//!   turn's calls in one turn).
//! * Parts: `text` → `{text}` (empty texts dropped); `image_url` with a `data:` URI →
//!   `inlineData {mimeType, data}`; an `http(s)` URL → `fileData {mimeType,
//!   fileUri}`: the Gemini API fetches public and signed HTTPS URLs itself (Google's
//!   "file input methods" guide and the "increased file size limits" announcement),
//!   so nothing is downloaded here; the MIME type is taken from the URL's extension
//!   and a URL without a known image extension is a 400 naming the part. `file` with
//!   a data URI → `inlineData`.
//! * Assistant `tool_calls` → `functionCall {name, args}` parts (the `arguments`
//!   string parsed; bad JSON is a 400). A tool call id of the form
//!   `<id>__thought__<signature>` (LiteLLM's `THOUGHT_SIGNATURE_SEPARATOR`) puts the
//!   signature back as the part's `thoughtSignature`, so multi-turn tool calls keep
//!   working with thinking models. A `tool` message's `functionResponse.name` comes
//!   from the earlier call with that id (or the message's `name`); its content is
//!   the `response` when it is a JSON object, else wrapped as `{"content": …}`.
//!   For `gemini-3` models, a model turn whose calls carry no signature gets
//!   Google's sentinel `skip_thought_signature_validator` on its first call
//!   ([`SKIP_SIGNATURE`]), since Gemini 3 refuses unsigned function calls.
//! * `tools` → `tools: [{functionDeclarations: [{name, description, parameters}]}]`
//!   with the JSON-schema keys Gemini's `Schema` refuses (`$schema`,
//!   `additionalProperties`, `strict`) removed at every depth, as LiteLLM does, and
//!   an object schema without properties left out (Gemini refuses an empty
//!   `properties`). `tool_choice` → `toolConfig.functionCallingConfig.mode`: `auto` →
//!   `AUTO`, `none` → `NONE`, `required` → `ANY`, a named function → `ANY` with
//!   `allowedFunctionNames`.
//! * `generationConfig`: `temperature`, `top_p` → `topP`, `max_completion_tokens` /
//!   `max_tokens` → `maxOutputTokens`, `stop` (string or list) → `stopSequences`,
//!   `n` → `candidateCount`, `presence_penalty` → `presencePenalty`,
//!   `frequency_penalty` → `frequencyPenalty`, `seed`, `top_k` → `topK`,
//!   `response_format` (`json_object` → `responseMimeType: application/json`;
//!   `json_schema` → that plus `responseJsonSchema`: Google's field that takes the
//!   client's JSON Schema as it is, where LiteLLM converts it to the OpenAPI subset
//!   of `responseSchema`), `reasoning_effort` → `thinkingConfig` as LiteLLM maps
//!   it ([`thinking_config`]: a `thinkingBudget`, or a `thinkingLevel` for Gemini
//!   3), Anthropic-style `thinking` → `thinkingConfig` likewise.
//! * `safety_settings` → `safetySettings` as given; `parallel_tool_calls: false`
//!   with several tools is a 400 (LiteLLM's rule: Gemini has no such switch).
//! * Embeddings: `input` (a string or a list of strings) → `batchEmbedContents`
//!   `{requests: [{model: "models/{m}", content: {parts: [{text}]}}]}`,
//!   `dimensions` → `outputDimensionality` on each request.
//! * Legacy `/completions` is not translated (400).
//!
//! # Responses
//!
//! One choice per candidate (`index` from the candidate). Text parts are joined into
//! `content`, `thought: true` parts into `reasoning_content`; `functionCall` parts
//! become `tool_calls` with ids `call_<responseId>_<n>` (plus
//! `__thought__<signature>` when the part had a `thoughtSignature`) and `args`
//! serialized as the `arguments` string. `finishReason` → `finish_reason` as
//! LiteLLM maps it (see [`finish_reason`]): `tool_calls` when the candidate called
//! tools, `MAX_TOKENS` → `length`, the safety and policy stops → `content_filter`,
//! anything else → `stop`. A prompt
//! blocked before any candidate (`promptFeedback.blockReason`) is one choice with
//! `content: null` and `finish_reason: content_filter`, as LiteLLM answers.
//!
//! Usage: `prompt_tokens = promptTokenCount`, `completion_tokens =
//! candidatesTokenCount + thoughtsTokenCount` (LiteLLM counts thoughts as
//! completion), `completion_tokens_details.reasoning_tokens = thoughtsTokenCount`,
//! `prompt_tokens_details.cached_tokens = cachedContentTokenCount`.
//!
//! # Streams
//!
//! With `alt=sse` every event is `data: <GenerateContentResponse>`; there is no
//! terminator, the stream just ends. [`StreamTranslator`] writes the role chunk with
//! the first delta, text/reasoning deltas, one `tool_calls` delta per `functionCall`
//! (Gemini sends each call whole), and a finish chunk when a candidate has a
//! `finishReason`. At the end of the stream it adds the usage chunk (from the last
//! `usageMetadata`, with `stream_options.include_usage`) and `data: [DONE]`. A
//! stream that ends before any `finishReason`, an event that is not JSON, or an
//! `error` event ends with an OpenAI-shaped error event and `[DONE]`.

use serde_json::{json, Map, Value};

use super::{present, serialize_request as serialize};
use super::{ResponseContext, StreamTranslate};
use crate::codec::sse::SseDecoder;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::wire::openai::{self as wire, invalid, parse_data_uri, write_data, DONE};

mod error;
mod request;
mod response;
mod stream;

pub use error::*;
pub use request::*;
pub use response::*;
pub use stream::*;

#[cfg(test)]
mod tests;

/// The separator LiteLLM puts between a tool call id and the Gemini thought
/// signature it carries (`litellm_core_utils/prompt_templates/factory.py`).
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

/// The OpenAI parameters of LiteLLM's `GoogleAIStudioGeminiConfig` /
/// `VertexGeminiConfig.get_supported_openai_params` that this translation maps,
/// plus `seed` and `presence_penalty` (LiteLLM's AI Studio table lacks them, but
/// Google's `GenerationConfig` reference documents both, as its Vertex table does),
/// and the provider-specific `top_k`, `safety_settings` and `thinking` LiteLLM also
/// passes on. `logprobs`, `top_logprobs`, `modalities`, `audio`, `functions` and
/// `web_search_options` are not translated (a 400 naming them, or dropped with
/// `drop_params`).
const CHAT_PARAMS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "thinking",
    "safety_settings",
];

const COMPLETION_PARAMS: &[&str] = &["model", "prompt"];

/// `batchEmbedContents` takes the texts and `outputDimensionality`;
/// `encoding_format` is handled on the way back (base64 from the numbers).
const EMBEDDING_PARAMS: &[&str] = &["model", "input", "dimensions", "encoding_format"];

/// Parameters the translation understands, per endpoint.
pub fn supported_params(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::ChatCompletions => CHAT_PARAMS,
        Endpoint::Completions => COMPLETION_PARAMS,
        Endpoint::Embeddings => EMBEDDING_PARAMS,
    }
}

/// The REST method for an endpoint: `generateContent`,
/// `streamGenerateContent?alt=sse` (server-sent events; without `alt=sse` Google
/// streams one JSON array) or `batchEmbedContents`.
pub fn method(stream: bool, endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Embeddings => "batchEmbedContents",
        _ if stream => "streamGenerateContent?alt=sse",
        _ => "generateContent",
    }
}

/// The model id as one percent-encoded path segment (a leading `models/` dropped).
pub fn model_segment(model: &str) -> String {
    encode_segment(model.strip_prefix("models/").unwrap_or(model))
}

/// The path after the versioned AI Studio base (`…/v1beta`):
/// `/models/{model}:{method}` (`models.generateContent`,
/// `models.streamGenerateContent`, `models.batchEmbedContents` in Google's REST
/// reference).
pub fn request_path(model: &str, stream: bool, endpoint: Endpoint) -> String {
    format!(
        "/models/{}:{}",
        model_segment(model),
        method(stream, endpoint)
    )
}

/// The API version AI Studio paths need when the `api_base` names none
/// (`GEMINI_API_BASE` and LiteLLM's default are the bare host).
pub const DEFAULT_API_VERSION: &str = "/v1beta";

/// Whether an `api_base` path prefix already ends in an API version segment
/// (`/v1beta`, `/v1`, `/v1alpha`): LiteLLM's custom Gemini bases include it
/// (`{api_base}/models/{model}:…`), its default host does not.
pub fn has_version(path_prefix: &str) -> bool {
    path_prefix
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix('v'))
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
