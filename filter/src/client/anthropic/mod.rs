//! Anthropic-format clients: `POST /v1/messages` and `/v1/messages/count_tokens`,
//! served by every provider, as LiteLLM's proxy serves them.
//!
//! An Anthropic deployment gets the body natively (only `model` rewritten; the
//! upstream stage sets `x-api-key` and `anthropic-version`) and its answer goes back
//! untouched, streams too; [`NativeTap`] and [`native_usage`] only read the usage for
//! spend. Every other deployment is reached through OpenAI's format, which every
//! provider translation already speaks:
//!
//! ```text
//! Anthropic request ──to_openai_request──▶ OpenAI chat request ──providers::translate_request──▶ provider
//! provider answer ──providers::translate_response──▶ OpenAI answer ──from_openai_response──▶ Anthropic answer
//! provider stream ──providers::stream_translator──▶ OpenAI SSE ──StreamToMessages──▶ Anthropic SSE   (Chain)
//! ```
//!
//! so a provider added later works here without changes. The mapping is LiteLLM's
//! "experimental pass-through" adapter (`litellm/llms/anthropic/experimental_pass_through/adapters/transformation.py`
//! and `streaming_iterator.py`), checked against Anthropic's API reference (Messages,
//! Streaming Messages, Errors):
//!
//! # Requests (Anthropic → OpenAI)
//!
//! * `system` (a string, or text blocks) → a first `system` message (one block: a
//!   string; several: text parts);
//! * user turns: `text` → text parts, `image` (`base64` or `url` source) →
//!   `image_url` parts (a data URI for base64), a base64 PDF `document` → a `file`
//!   part with `file_data`, a plain-text `document` → a text part; each `tool_result`
//!   block → a `tool` message (before the turn's other content, in order) whose
//!   content is the result's text (or its parts, images included);
//! * assistant turns: text blocks joined into `content`, `tool_use` blocks →
//!   `tool_calls` (the `input` object serialized as `arguments`); `thinking` and
//!   `redacted_thinking` blocks are dropped (they only mean something to Claude);
//! * `tools` (`{name, description, input_schema}`) → function tools; Anthropic's
//!   server tools (`web_search_…`, `bash_…`, …) cannot be translated: 400 naming them;
//! * `tool_choice` `auto`/`any`/`tool`/`none` → `"auto"`/`"required"`/named
//!   function/`"none"`; `disable_parallel_tool_use: true` → `parallel_tool_calls: false`;
//! * `stop_sequences` → `stop`; `max_tokens`, `temperature`, `top_p`, `top_k`, `stream`
//!   as they are; `metadata.user_id` → `user`;
//! * `thinking` → `reasoning_effort` by LiteLLM's budget thresholds (`budget_tokens`
//!   ≥ 4096 `high`, ≥ 2048 `medium`, ≥ 1024 `low`, else `minimal`; `adaptive` →
//!   `output_config.effort` or `medium`; `disabled` → nothing);
//! * anything else (`service_tier`, LiteLLM's `num_retries`, …) is passed on as it
//!   is, as LiteLLM does, so the deployment's parameter table decides (a 400 naming
//!   it, or dropped with `drop_params`). `cache_control` marks (top-level and on
//!   blocks) are dropped: prompt caching is Anthropic's.
//!
//! # Answers (OpenAI → Anthropic)
//!
//! `{id, type: "message", role: "assistant", model, content, stop_reason,
//! stop_sequence, usage}` with `content` = a `thinking` block (from
//! `reasoning_content`), a `text` block, then one `tool_use` block per tool call.
//! `finish_reason` → `stop_reason`: `stop` → `end_turn` (or `stop_sequence` when the
//! server names the stop string it matched, as vLLM does in `stop_reason`, and it is
//! one the client asked for), `length` → `max_tokens`, `tool_calls` (or any answer
//! with tool calls) → `tool_use`, `content_filter` → `refusal`. Usage:
//! `input_tokens = prompt_tokens − cached − cache writes`, `output_tokens =
//! completion_tokens`, `cache_read_input_tokens` / `cache_creation_input_tokens`.
//!
//! # Streams
//!
//! [`StreamToMessages`] turns OpenAI SSE into Anthropic's event sequence, event by
//! event as chunks arrive: `message_start` (on the first chunk, usage zero: OpenAI
//! streams count tokens only at the end), then per block `content_block_start`
//! (the first one followed by a `ping`, as Anthropic sends it), `content_block_delta`
//! (`text_delta`, `thinking_delta`, `input_json_delta`) and `content_block_stop`; a
//! new block opens whenever the kind of delta changes or the first tool call starts;
//! the calls after the first are held and written whole, each its own block, when
//! the answer finishes (OpenAI may send a call's arguments after the next call
//! began; an Anthropic block must be whole before the next one starts);
//! then `message_delta` (`stop_reason`, `stop_sequence`, full usage) and
//! `message_stop` at the stream's `[DONE]`. Every event carries its `event:` line
//! (Anthropic clients dispatch on it). An OpenAI error event mid-stream, or a stream
//! cut before it finished, ends with an Anthropic `event: error`.
//!
//! # Errors
//!
//! Every error on these routes is `{"type":"error","error":{"type","message"}}` with
//! the status kept; [`error_type`] names the type for a status as LiteLLM's
//! `AnthropicExceptionMapping` does (plus Anthropic's `billing_error`,
//! `timeout_error` and `overloaded_error` for 503).
//!
//! # Token counting
//!
//! `/v1/messages/count_tokens` is answered by Anthropic deployments (their own
//! `/v1/messages/count_tokens`). Other providers have no counting API and the
//! gateway carries no tokenizer (LiteLLM counts locally with tiktoken, an estimate
//! for non-OpenAI models): they answer a 400 saying so ([`count_tokens_unsupported`]).

mod error;
mod native;
mod request;
mod response;
mod stream;

pub use error::{count_tokens_unsupported, error_body, error_event, error_type, error_value};
pub use native::{native_error_body, native_usage, NativeTap, NATIVE_PARAMS};
pub use request::{to_openai_request, Translated};
pub use response::{from_openai_response, MessagesContext};
pub use stream::{Chain, StreamToMessages};

/// Request and answer builders the client side's unit tests share.
#[cfg(test)]
pub(crate) mod test_helpers {
    use serde_json::{Map, Value};

    use super::{to_openai_request, MessagesContext};
    use crate::error::GatewayError;

    pub(crate) fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    pub(crate) fn openai(v: Value) -> Value {
        Value::Object(to_openai_request(&map(v)).unwrap().request)
    }

    pub(crate) fn refused(v: Value) -> GatewayError {
        to_openai_request(&map(v)).unwrap_err()
    }

    pub(crate) fn ctx() -> MessagesContext {
        MessagesContext {
            model: "m".into(),
            id: "msg_rid".into(),
            stop_sequences: vec!["END".into()],
        }
    }
}
