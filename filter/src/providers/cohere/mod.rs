//! Cohere's v2 API: `cohere/` and `cohere_chat/` → `POST /v2/chat` (chat and legacy
//! completions) and `POST /v2/embed` (embeddings).
//!
//! Field names and event names follow Cohere's v2 API reference (`POST /v2/chat`,
//! "Chat with Streaming", `POST /v2/embed`; the same types as the `cohere` Python
//! SDK's `ClientV2`: `ChatMessageV2`, `ToolV2`, `ResponseFormatV2`, `Thinking`,
//! `V2ChatResponse`, `V2ChatStreamResponse`, `EmbedByTypeResponse`). Where LiteLLM
//! (`litellm/llms/cohere/chat/v2_transformation.py`, `…/cohere/common_utils.py`,
//! `…/cohere/embed/transformation.py`) has settled a mapping, its answer is kept.
//!
//! # Requests
//!
//! * `messages`: `system` and `developer` → `system`; `user` content is a string or
//!   parts (`text` → `{type: text}`, `image_url` → `{type: image_url, image_url:
//!   {url, detail}}`: Cohere takes data URIs and web URLs itself); `assistant`
//!   keeps `content` (text), `tool_calls` (`{id, type: function, function: {name,
//!   arguments}}`, arguments as a JSON string) and Cohere's own `tool_plan` when the
//!   client echoes it back; its `reasoning_content` becomes a leading `thinking`
//!   content item; `tool` messages keep `tool_call_id` and `content` (string or
//!   text parts). `name` fields are dropped (Cohere has none).
//! * `tools` in OpenAI's function format (v2 takes it; a missing `parameters` becomes
//!   an empty object schema, `strict: true` on any function sets `strict_tools`).
//!   `tool_choice`: `auto` → not sent, `none` → `NONE`, `required` → `REQUIRED`, a
//!   named function → `REQUIRED` with `tools` narrowed to that function.
//! * `response_format`: `json_object` → `{"type": "json_object"}`, `json_schema` →
//!   `{"type": "json_object", "json_schema": <schema>}`, `text` → not sent.
//! * `max_completion_tokens` (preferred) / `max_tokens` → `max_tokens`; `top_p` →
//!   `p`; `top_k` → `k`; `stop` → `stop_sequences` (a string becomes a list);
//!   `temperature`, `seed`, `frequency_penalty`, `presence_penalty` as they are;
//!   `n` must be 1 (v2 has no `num_generations`).
//! * Reasoning: `reasoning_effort` → `thinking` (`none`/`disable` → `{"type":
//!   "disabled"}`, else `{"type": "enabled", "token_budget": N}` with LiteLLM's
//!   budgets: minimal 128, low 1024, medium 2048, high 4096); a `thinking` parameter
//!   in Cohere's shape passes, Anthropic's `budget_tokens` becomes `token_budget`.
//! * Cohere's own parameters pass as they are ([`NATIVE`]): `k`, `p`,
//!   `safety_mode`, `documents`, `citation_options`, `strict_tools`, `priority`.
//! * `stream` is always sent.
//! * `/completions`: the `prompt` becomes one user message.
//! * `/v2/embed`: `input` (a string or a list of strings) → `texts`, `input_type`
//!   (default `search_document`, LiteLLM's `COHERE_DEFAULT_EMBEDDING_INPUT_TYPE`;
//!   a client or deployment may set it), `embedding_types: ["float"]` always
//!   (`encoding_format: "base64"` is answered by converting the floats, see
//!   [`super::embeddings_to_base64`]), `dimensions` → `output_dimension`,
//!   `truncate` as it is.
//!
//! # Responses
//!
//! `message.content[]` `text` items → `content`, `thinking` items →
//! `reasoning_content`; `message.tool_calls` → OpenAI tool calls; a non-empty
//! `tool_plan` is kept on the message as `tool_plan` (so a client that sends the
//! message back gives it to Cohere again). `finish_reason` (LiteLLM's
//! `map_finish_reason`): `COMPLETE`, `STOP_SEQUENCE`, `ERROR`, `TIMEOUT` → `stop`,
//! `MAX_TOKENS` → `length`, `TOOL_CALL` → `tool_calls`, `ERROR_TOXIC` →
//! `content_filter`. `usage.tokens.input_tokens` / `output_tokens` → usage (as
//! LiteLLM; `usage.billed_units` when `tokens` is absent), `usage.cached_tokens` →
//! `prompt_tokens_details.cached_tokens`. Embeddings: `embeddings.float` → an
//! OpenAI list, `meta.billed_units.input_tokens` → `usage.prompt_tokens`.
//! Citations are not carried over.
//!
//! # Streams
//!
//! SSE (`event: <type>` / `data: {"type": …}`), translated event by event:
//! `message-start` → the first chunk (`role: assistant`, id from the event),
//! `content-delta` → `delta.content` (or `delta.reasoning_content` for thinking),
//! `tool-plan-delta` → `delta.tool_plan`, `tool-call-start` → a tool call delta
//! with `id`, `type`, `function.name`, `tool-call-delta` → argument fragments,
//! `tool-call-end` → `"{}"` for a call that streamed no arguments (as LiteLLM),
//! `message-end` → the `finish_reason` chunk, the usage chunk (when the client set
//! `stream_options.include_usage`) and `data: [DONE]`; `content-start`,
//! `content-end`, `citation-*`, `debug` add nothing. A `message-end` carrying an
//! `error` becomes `data: {"error": …}` then `[DONE]`; so does a stream that ends
//! before `message-end` (502).
//!
//! # Errors
//!
//! Cohere answers errors as `{"id": …, "message": …}` (its reference also shows
//! `{"data": …}`); the message is kept. As LiteLLM's `_map_cohere_exception`:
//! "invalid api token" / "No API key provided." in a 4xx → 401, 498 (a deny-listed token in
//! the request or answer) → 400.

use serde_json::{json, Map, Value};

use super::serialize_request as serialize;
use super::{ProviderRequest, ResponseContext, StreamTranslate};
use crate::codec::sse::SseDecoder;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::wire::openai::{self as wire, invalid, write_data, DONE};

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

/// Cohere's own request parameters, passed as they are.
pub const NATIVE: &[&str] = &[
    "k",
    "p",
    "safety_mode",
    "documents",
    "citation_options",
    "strict_tools",
    "priority",
];

/// `CohereV2ChatConfig.get_supported_openai_params`, plus `response_format`,
/// `reasoning_effort`, `thinking` and `top_k` (mapped here), and `stream_options`
/// (the gateway's).
const CHAT: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "n",
    "tools",
    "tool_choice",
    "seed",
    "response_format",
    "reasoning_effort",
    "thinking",
];

const COMPLETION: &[&str] = &[
    "model",
    "prompt",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "n",
    "seed",
];

/// `CohereEmbeddingConfig.get_supported_openai_params` (`encoding_format`,
/// `dimensions`) and Cohere's `input_type` and `truncate`.
const EMBEDDING: &[&str] = &[
    "model",
    "input",
    "encoding_format",
    "dimensions",
    "input_type",
    "truncate",
];

/// LiteLLM's `COHERE_DEFAULT_EMBEDDING_INPUT_TYPE`.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

/// The parameters accepted for `endpoint`.
pub fn supported_params(endpoint: Endpoint) -> Vec<&'static str> {
    match endpoint {
        Endpoint::ChatCompletions => CHAT.iter().chain(NATIVE).copied().collect(),
        Endpoint::Completions => COMPLETION.iter().chain(NATIVE).copied().collect(),
        Endpoint::Embeddings => EMBEDDING.to_vec(),
    }
}

fn get<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    request.get(key).filter(|v| !v.is_null())
}

/// LiteLLM's `reasoning_effort` budgets (`DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET`).
fn thinking_for_effort(effort: &str) -> Option<Value> {
    let budget = match effort {
        "none" | "disable" => return Some(json!({"type": "disabled"})),
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => return None,
    };
    Some(json!({"type": "enabled", "token_budget": budget}))
}
