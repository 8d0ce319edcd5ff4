//! Ollama's native API: `ollama_chat/` → `POST /api/chat`, `ollama/` → `POST
//! /api/generate` (a prompt built from the messages), embeddings → `POST /api/embed`.
//!
//! Fields follow Ollama's API reference (`docs/api.md` in ollama/ollama); where
//! LiteLLM has settled a mapping (`litellm/llms/ollama/chat/transformation.py`,
//! `…/ollama/completion/transformation.py`, `ollama_pt` in
//! `litellm_core_utils/prompt_templates/factory.py`), its answer is kept.
//!
//! # Requests
//!
//! * `stream` is always sent: Ollama streams unless told `"stream": false`.
//! * `options`: `max_completion_tokens` (preferred) or `max_tokens` → `num_predict`;
//!   `temperature`, `top_p`, `seed` as they are; `stop` → `stop` (a string becomes a
//!   one-element list: Ollama's `stop` is a list); `frequency_penalty` →
//!   `repeat_penalty` for `/api/chat` and `frequency_penalty` for `/api/generate`
//!   (LiteLLM's `OllamaChatConfig` and `OllamaConfig` map it so). Ollama's own option
//!   names (`num_ctx`, `top_k`, `mirostat`, `repeat_penalty`, … see
//!   [`NATIVE_OPTIONS`]), typically deployment defaults in `litellm_params`, go into
//!   `options` as they are; `keep_alive` is sent at the top level.
//! * `response_format`: `json_object` → `"format": "json"`, `json_schema` → `format`
//!   set to the schema (`json_schema.schema`), `text` → nothing.
//! * `reasoning_effort` → `think`: the effort string for `gpt-oss` models (which
//!   take `low`/`medium`/`high`), else `true` for `low`/`medium`/`high` and `false`
//!   otherwise (LiteLLM's `OllamaConfig`).
//! * `/api/chat` messages: `developer` → `system`; content parts → one string (the
//!   texts concatenated, as LiteLLM's `convert_content_list_to_str`), `image_url`
//!   parts → the message's `images` as plain base64 (the `data:…;base64,` prefix
//!   stripped; an http(s) URL is refused with a 400: the gateway does not download);
//!   assistant `tool_calls` → `[{"function": {"name", "arguments": {…}}}]`
//!   (`arguments` parsed from the JSON string: Ollama wants an object);
//!   `reasoning_content` → `thinking`; a `tool` message keeps its content and gets
//!   `tool_name`, looked up from the assistant call its `tool_call_id` answers.
//!   `tools` are sent as they are (OpenAI's function format is Ollama's);
//!   `tool_choice` is accepted and not sent (LiteLLM drops it: it hangs Ollama).
//! * `/api/generate` (`ollama/` chat requests): LiteLLM's `ollama_pt` prompt — runs of
//!   user and tool messages as `### User:\n{text}\n\n`, system runs as
//!   `### System:\n{text}\n\n`, assistant runs as `### Assistant:\n{text}\n\n` (tool
//!   calls appended as `Tool Calls: <JSON, indent 2>`) — with every image of the
//!   user turns in the top-level `images`. `/completions` sends the `prompt` as is.
//! * `/api/embed`: `input` (a string or a list of strings) as is; `encoding_format`
//!   is the gateway's (answers are converted to base64 when asked).
//!
//! # Responses
//!
//! `/api/chat` and `/api/generate` answers become `chat.completion` (or
//! `text_completion` for `/completions`): `message.content` / `response` → content,
//! `thinking` → `reasoning_content`, `tool_calls` → OpenAI tool calls (arguments
//! serialized to a string, ids `call_…` made up when Ollama gives none);
//! `finish_reason`: `tool_calls` when there are tool calls, `length` for
//! `done_reason: "length"`, else `stop`; `usage`: `prompt_eval_count` →
//! `prompt_tokens`, `eval_count` → `completion_tokens` (0 when absent, as Ollama
//! omits `prompt_eval_count` for a fully cached prompt). `/api/embed`'s
//! `embeddings` → an OpenAI embedding list, `usage.prompt_tokens` from
//! `prompt_eval_count`. Errors (`{"error": "…"}`) keep their message and status.
//!
//! # Streams
//!
//! NDJSON (`application/x-ndjson`), one object per line, decoded with
//! [`NdjsonDecoder`] and translated line by line as lines complete: the first chunk
//! carries `delta.role`, each line's text its `delta.content` (or
//! `reasoning_content`), tool calls arrive whole in one line and become one
//! `delta.tool_calls` entry each; the final line (`"done": true`) gives the
//! `finish_reason` chunk and the usage (a `choices: []` usage chunk when the client
//! set `stream_options.include_usage`), then `data: [DONE]`. An `{"error": …}` line
//! becomes `data: {"error": {…}}` then `[DONE]`; a stream that ends before its
//! `done` line, or a line that is not JSON, ends the same way with a 502.

use serde_json::{json, Map, Value};

use super::serialize_request as serialize;
use super::{ProviderRequest, ResponseContext, StreamTranslate};
use crate::codec::ndjson::NdjsonDecoder;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::wire::openai::{self as wire, invalid, write_data, DONE};

mod request;
mod response;
mod stream;

pub use request::*;
pub use response::*;
pub use stream::*;

#[cfg(test)]
mod tests;

/// Ollama's own option names (its `api.Options`, the Modelfile parameters), passed
/// into `options` as they are.
pub const NATIVE_OPTIONS: &[&str] = &[
    "num_keep",
    "num_predict",
    "top_k",
    "min_p",
    "typical_p",
    "repeat_last_n",
    "repeat_penalty",
    "presence_penalty",
    "penalize_newline",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
    "tfs_z",
    "num_gqa",
];

/// OpenAI parameters (LiteLLM's `OllamaChatConfig.get_supported_openai_params`).
const CHAT_OPENAI: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "reasoning_effort",
    "keep_alive",
];

/// `OllamaConfig.get_supported_openai_params`: no tools on `/api/generate`.
const GENERATE_OPENAI: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "response_format",
    "reasoning_effort",
    "keep_alive",
];

const COMPLETION_OPENAI: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "stream",
    "stream_options",
    "top_p",
    "temperature",
    "seed",
    "frequency_penalty",
    "stop",
    "keep_alive",
];

const EMBEDDING_OPENAI: &[&str] = &["model", "input", "encoding_format", "keep_alive"];

/// The parameters accepted for `endpoint` (`chat`: `ollama_chat/`, else `ollama/`),
/// native option names included.
pub fn supported_params(chat: bool, endpoint: Endpoint) -> Vec<&'static str> {
    let openai = match endpoint {
        Endpoint::ChatCompletions if chat => CHAT_OPENAI,
        Endpoint::ChatCompletions => GENERATE_OPENAI,
        Endpoint::Completions => COMPLETION_OPENAI,
        Endpoint::Embeddings => EMBEDDING_OPENAI,
    };
    openai.iter().chain(NATIVE_OPTIONS).copied().collect()
}
