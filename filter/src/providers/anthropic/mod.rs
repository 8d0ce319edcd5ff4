//! Anthropic Messages API (`POST /v1/messages`): OpenAI requests in, OpenAI answers
//! out.
//!
//! Field names and the stream's event sequence follow Anthropic's API reference
//! (Messages, Streaming Messages, Tool use, Vision, Errors, Handling stop reasons);
//! where LiteLLM has settled a question of mapping, its answer is kept.
//!
//! # Requests
//!
//! * `system` and `developer` messages, wherever they appear, become the top-level
//!   `system`: a string, several texts joined with a blank line (`"\n\n"`). When a
//!   system part carries a LiteLLM-style `cache_control`, `system` is sent as an
//!   array of text blocks instead so the cache breakpoint survives.
//! * `max_completion_tokens` (preferred) or `max_tokens` → `max_tokens`, which
//!   Anthropic requires: [`DEFAULT_MAX_TOKENS`] when the client sets neither.
//! * `stop` (string or array) → `stop_sequences`; `temperature`, `top_p`, `top_k`
//!   pass through unchanged (Anthropic's own range checks apply); `user` →
//!   `metadata.user_id`; `stream` → `stream`. `stream_options` is accepted and read
//!   by the caller (`include_usage`), never forwarded. `n` is accepted only as 1.
//! * Function `tools` → `{name, description, input_schema}` (an empty object schema
//!   when `parameters` is absent). `tool_choice`: `auto`→`{type:auto}`,
//!   `required`→`{type:any}`, `none`→`{type:none}`, a named function →
//!   `{type:tool,name}`. `parallel_tool_calls: false` sets
//!   `disable_parallel_tool_use: true` on the tool choice (creating `{type:auto}`
//!   when there is none; never on `{type:none}`, which has no such field, and only
//!   when tools are sent).
//! * Turns: assistant `tool_calls` become `tool_use` blocks (the `arguments` string
//!   parsed to the `input` object; empty arguments mean `{}`); a `tool` message
//!   becomes a `tool_result` block in a user turn. Consecutive turns of one role are
//!   merged into one turn (Anthropic wants them alternating), and inside a user turn
//!   the `tool_result` blocks are moved first, as Anthropic's tool-use guide
//!   requires. A turn that is one plain text block is sent as a string.
//! * Content parts: `text` → text block (empty texts are dropped: Anthropic rejects
//!   empty text blocks); `image_url` with a `data:image/…;base64,` URI → a `base64`
//!   image source; an `http(s)` URL → a `url` image source; `file` with a base64 PDF
//!   data URI → a `document` block. A `cache_control` on a part (or on a whole
//!   message, applied to its last block) is copied, as LiteLLM does.
//! * Legacy `/completions`: `prompt` (a string, or an array holding one string) is
//!   sent as one user turn and the answer comes back as a `text_completion`.
//! * Embeddings: Anthropic has none; the request is refused with a 400.
//!
//! * JSON output (LiteLLM's way): `response_format` `json_object`/`json_schema` adds
//!   a [`JSON_TOOL`] tool whose `input_schema` is the wanted schema, forced with
//!   `tool_choice` unless thinking is on; the answer's tool input comes back as the
//!   content (whole answers: `openai_compat::json_tool_answer`; streams:
//!   [`StreamTranslator::json_mode`]).
//! * `reasoning_effort` `low`/`medium`/`high` → `thinking` with LiteLLM's budgets
//!   1024/2048/4096 tokens (`thinking` itself passes as written); without a client
//!   `max_tokens` the request gets the budget plus [`DEFAULT_MAX_TOKENS`].
//!
//! Parameters outside [`supported_params`] (`seed`, `logprobs`,
//! …) never reach this module: the upstream stage rejects them, or drops them under
//! `drop_params`. Malformed input is a 400 naming the field (`messages[2].content`).
//!
//! # Responses
//!
//! Text blocks are concatenated into `message.content` (`null` when there is no
//! text, as for a pure tool call); `tool_use` blocks become `tool_calls` with the
//! `input` object serialized as the `arguments` string; `thinking` blocks are exposed
//! as `reasoning_content`, like LiteLLM. `stop_reason` → `finish_reason`:
//!
//! | Anthropic | OpenAI | why |
//! |---|---|---|
//! | `end_turn`, `stop_sequence` | `stop` | |
//! | `max_tokens`, `model_context_window_exceeded` | `length` | output cut by a token limit |
//! | `tool_use` | `tool_calls` | |
//! | `pause_turn` | `stop` | a server tool paused the turn; the client may continue it |
//! | `refusal` | `content_filter` | the model declined for safety reasons |
//! | missing or unknown | `stop` | |
//!
//! Usage: `prompt_tokens = input_tokens + cache_read_input_tokens +
//! cache_creation_input_tokens`, `completion_tokens = output_tokens`,
//! `prompt_tokens_details.cached_tokens = cache_read_input_tokens`, and the two cache
//! counts are repeated at the top level of `usage` when Anthropic reports them, as
//! LiteLLM does.
//!
//! # Streams
//!
//! [`StreamTranslator`] decodes Anthropic's SSE with [`SseDecoder`](crate::codec::sse::SseDecoder) and writes one
//! OpenAI chunk per meaningful event as soon as the event is complete; nothing waits
//! for the end of the stream. Every chunk carries the `id` and `model` from
//! `message_start`. `message_start` yields the `delta.role:"assistant"` chunk;
//! `text_delta` → `delta.content`; `thinking_delta` → `delta.reasoning_content`; a
//! `tool_use` block start → `tool_calls[{index,id,type,function:{name,arguments:""}}]`
//! and each `input_json_delta` → `tool_calls[{index,function:{arguments}}]`, where
//! `index` counts tool calls (not Anthropic's block index). A tool block that closes
//! with no argument text gets `arguments: "{}"` so the joined arguments always parse.
//! `message_delta` → the chunk with `finish_reason`; `message_stop` → (with
//! `stream_options.include_usage`) a `choices: []` usage chunk, then `data: [DONE]`.
//! `ping`, `signature_delta`, `citations_delta` and event types Anthropic may add
//! later produce nothing.
//!
//! **Errors mid-stream.** An Anthropic `error` event (e.g. `overloaded_error`, which
//! would have been an HTTP 529) becomes one OpenAI-shaped
//! `data: {"error":{…}}` event — the form LiteLLM sends — followed by
//! `data: [DONE]` so clients that wait for the terminator stop cleanly; the status in
//! `code` comes from the Anthropic error type (`overloaded_error` → 503). A stream
//! that ends before `message_stop`, an event that is not JSON, or an event larger
//! than the decoder's cap ends the same way with a 502. Anything after the terminator
//! is ignored.

mod error;
mod provider;
mod request;
mod response;
mod stream;

pub use error::translate_error;
pub use provider::*;
pub use request::translate_request;
pub use response::translate_response;
pub use stream::StreamTranslator;

use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// `max_tokens` sent when the client sets neither `max_tokens` nor
/// `max_completion_tokens`. Anthropic requires the field; 4096 is LiteLLM's default
/// and fits the output limit of every current Claude model.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

const CHAT_PARAMS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "n",
    "response_format",
    "reasoning_effort",
    "thinking",
];

/// The tool a JSON-mode request is forced to call (LiteLLM's
/// `RESPONSE_FORMAT_TOOL_NAME`); its input comes back as the answer's content.
pub const JSON_TOOL: &str = "json_tool_call";

/// Whether a chat request asks for JSON output (`response_format` `json_object`
/// or `json_schema`), which goes through [`JSON_TOOL`].
pub fn wants_json(request_format: Option<&Value>) -> bool {
    request_format
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_object" || t == "json_schema")
}

/// LiteLLM's `reasoning_effort` → `thinking.budget_tokens`
/// (`DEFAULT_REASONING_EFFORT_{LOW,MEDIUM,HIGH}_THINKING_BUDGET`).
fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

const COMPLETION_PARAMS: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "stream",
    "stream_options",
    "user",
    "n",
];

const EMBEDDING_PARAMS: &[&str] = &["model", "input"];

/// Parameters the translation understands, per endpoint.
pub fn supported_params(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::ChatCompletions => CHAT_PARAMS,
        Endpoint::Completions => COMPLETION_PARAMS,
        Endpoint::Embeddings => EMBEDDING_PARAMS,
    }
}

fn no_embeddings() -> GatewayError {
    GatewayError::bad_request(
        "Anthropic has no embeddings API; route embedding requests to a deployment of a provider that offers one.",
    )
    .with_param("model")
}

#[cfg(test)]
mod tests {
    use super::*;

    // ----- requests -------------------------------------------------------

    #[test]
    fn supported_params_cover_everything_translated() {
        let chat = supported_params(Endpoint::ChatCompletions);
        for p in [
            "model",
            "messages",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "temperature",
            "top_p",
            "top_k",
            "stream",
            "stream_options",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "user",
            "n",
            "response_format",
            "reasoning_effort",
            "thinking",
        ] {
            assert!(chat.contains(&p), "{p}");
        }
        for p in ["seed", "logprobs", "metadata", "frequency_penalty"] {
            assert!(!chat.contains(&p), "{p}");
        }
        let completions = supported_params(Endpoint::Completions);
        assert!(completions.contains(&"prompt") && !completions.contains(&"messages"));
        assert!(!completions.contains(&"tools"));
        assert_eq!(supported_params(Endpoint::Embeddings), ["model", "input"]);
    }
}

/// Request and answer builders the provider's unit tests share.
#[cfg(test)]
pub(crate) mod test_helpers {
    use serde_json::{Map, Value};

    use super::translate_request;
    use crate::endpoint::Endpoint;
    use crate::error::GatewayError;
    use crate::providers::ResponseContext;

    pub(crate) fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    pub(crate) fn chat(v: Value) -> Value {
        let body =
            translate_request(Endpoint::ChatCompletions, &map(v), "claude-sonnet-4-5").unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    pub(crate) fn chat_err(v: Value) -> GatewayError {
        translate_request(Endpoint::ChatCompletions, &map(v), "claude-sonnet-4-5").unwrap_err()
    }

    pub(crate) fn ctx(include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: "claude-from-config".to_string(),
            include_usage,
        }
    }
}
