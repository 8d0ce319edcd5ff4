//! Hugging Face text-generation endpoints (Text Generation Inference's native API):
//! `huggingface/` deployments in text-generation mode → `POST /generate` and
//! `POST /generate_stream` with a prompt built from the messages.
//!
//! (`huggingface/` deployments in chat mode speak TGI's and the Hugging Face router's
//! OpenAI-compatible Messages API, `{api_base}/v1/chat/completions`, and go through
//! the OpenAI-compatible path untouched; the config compiler picks the mode, see
//! `switchyard::plan`.)
//!
//! Fields follow TGI's router (`GenerateRequest`, `GenerateParameters`,
//! `GenerateResponse`, `Details`, `StreamResponse`, `StreamDetails`, `ErrorResponse`
//! in `router/src/lib.rs` of huggingface/text-generation-inference; the same as the
//! `text-generation` Python client's `types.py`). The mapping is LiteLLM's
//! `HuggingfaceChatConfig` from the releases that served TGI natively
//! (`litellm/llms/huggingface/chat/transformation.py`, task
//! `text-generation-inference`), and the prompt is LiteLLM's `custom_prompt`
//! (`litellm_core_utils/prompt_templates/factory.py`), reproduced in
//! [`custom_prompt`].
//!
//! # Requests
//!
//! * Body `{"inputs": <prompt>, "parameters": {…}}`; a stream goes to
//!   `/generate_stream`, else `/generate`.
//! * The prompt: the deployment's template through [`custom_prompt`]; without one,
//!   LiteLLM's fallback `default_pt` (the messages' contents joined with spaces;
//!   LiteLLM would first try the model's chat template from the Hub, which the
//!   gateway does not fetch). `/completions` sends the `prompt` as it is.
//! * `parameters` (LiteLLM's `map_openai_params` and config defaults): `details:
//!   true`, `return_full_text: false`; `max_completion_tokens` / `max_tokens` →
//!   `max_new_tokens` (0 becomes 1: TGI wants it positive); `temperature` (0
//!   becomes 0.01, as LiteLLM: TGI wants it positive), `top_p`, `seed`; `stop` → a
//!   list; `n` must be 1; `response_format` → TGI's `grammar` (`json_schema` →
//!   `{"type": "json", "value": <schema>}`, `json_object` → the schema `{"type":
//!   "object"}`). TGI's own parameters pass into `parameters` as they are
//!   ([`NATIVE`]). Non-streamed requests also ask `decoder_input_details: true`, so
//!   that the answer lists the prompt's tokens (`details.prefill`): that list's
//!   length is the prompt token count (TGI's `/generate` reports it nowhere else).
//!
//! # Responses
//!
//! `generated_text` (with LiteLLM's `output_parser`: a leading or trailing
//! `<|assistant|>`, `<|system|>`, `<|user|>`, `<s>`, `</s>` removed) → `content`;
//! `details.finish_reason` `length` → `length`, `eos_token` and `stop_sequence` →
//! `stop`; usage: `details.prefill` length → `prompt_tokens`,
//! `details.generated_tokens` → `completion_tokens`.
//!
//! # Streams
//!
//! TGI's SSE (`data:{"index":…,"token":{"id","text","logprob","special"},
//! "generated_text":null,"details":null}`): each token's `text` becomes a
//! `delta.content` (special tokens are skipped, as LiteLLM does); the last event
//! (`generated_text` and `details` set) gives the `finish_reason` chunk, the usage
//! (`details.generated_tokens`, and `details.input_length` — `prompt_tokens` in some
//! TGI versions — for the prompt; 0 from a TGI that reports neither), the usage
//! chunk when the client asked for it, and `data: [DONE]`. An `{"error": …}` event
//! becomes `data: {"error": …}` then `[DONE]`; so does a stream that ends before
//! its `details` (502).
//!
//! # Errors
//!
//! TGI answers `{"error": "…", "error_type": "validation" | "generation" |
//! "overloaded" | "incomplete_generation" | "tokenizer"}`; the message is kept with
//! the status, except TGI's 424 (a failed generation), which becomes a 500.

use serde_json::{json, Map, Value};

use super::{ProviderRequest, ResponseContext, StreamTranslate};
use crate::codec::sse::SseDecoder;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::plugin_config::PromptTemplate;
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

/// TGI's own generation parameters (`GenerateParameters`), passed into
/// `parameters` as they are.
pub const NATIVE: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "frequency_penalty",
    "typical_p",
    "truncate",
    "watermark",
    "do_sample",
    "grammar",
    "return_full_text",
    "top_n_tokens",
];

/// LiteLLM's `HuggingfaceChatConfig.get_supported_openai_params` (without `echo`),
/// plus `seed` and `response_format` (mapped here) and `stream_options` (the
/// gateway's).
const CHAT: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "stop",
    "n",
    "seed",
    "response_format",
];

const COMPLETION: &[&str] = &[
    "model",
    "prompt",
    "stream",
    "stream_options",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "n",
    "seed",
];

/// The parameters accepted for `endpoint` (embeddings: none beyond the request's
/// own, and the request is refused).
pub fn supported_params(endpoint: Endpoint) -> Vec<&'static str> {
    match endpoint {
        Endpoint::ChatCompletions => CHAT.iter().chain(NATIVE).copied().collect(),
        Endpoint::Completions => COMPLETION.iter().chain(NATIVE).copied().collect(),
        Endpoint::Embeddings => vec!["model", "input", "encoding_format"],
    }
}

fn get<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    request.get(key).filter(|v| !v.is_null())
}

/// A message's text: a string, or its `text` parts concatenated (LiteLLM's
/// `custom_prompt` reads parts so); `None` for no content.
fn message_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        _ => None,
    }
}

/// LiteLLM's `custom_prompt`, exactly: `bos_token` + `initial_prompt_value`; then
/// per message its role's `pre_message` + content + `post_message` (a message
/// whose content is neither a string nor a list adds nothing, not even its pre and
/// post texts), `eos_token` after each assistant message, `bos_token` again before a
/// `system` or `human` message that follows an assistant one; then
/// `final_prompt_value`. Roles are looked up as the messages name them.
pub fn custom_prompt(template: &PromptTemplate, messages: &[Value]) -> String {
    let mut prompt = template.bos_token.clone();
    prompt.push_str(&template.initial_prompt_value);
    let mut bos_open = true;
    for message in messages {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if matches!(role, "system" | "human") && !bos_open {
            prompt.push_str(&template.bos_token);
            bos_open = true;
        }
        let (pre, post) = template.roles.get(role).map_or(("", ""), |r| {
            (r.pre_message.as_str(), r.post_message.as_str())
        });
        if let Some(text) = message_text(message.get("content")) {
            prompt.push_str(pre);
            prompt.push_str(&text);
            prompt.push_str(post);
        }
        if role == "assistant" {
            prompt.push_str(&template.eos_token);
            bos_open = false;
        }
    }
    prompt.push_str(&template.final_prompt_value);
    prompt
}

/// LiteLLM's `default_pt`: the contents joined with single spaces.
pub fn default_prompt(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| message_text(m.get("content")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}
