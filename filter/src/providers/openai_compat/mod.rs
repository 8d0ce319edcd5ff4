//! The OpenAI-compatible clouds and servers: `mistral/`, `groq/`, `deepseek/`,
//! `together_ai/`, `openrouter/`, `xai/`, `fireworks_ai/`, `perplexity/`,
//! `cerebras/`, `deepinfra/`, `hosted_vllm/`, `lm_studio/`, `llamafile/`.
//!
//! They speak OpenAI's wire format at `{api_base}/chat/completions` (and
//! `/completions`, `/embeddings`), so bodies pass through as the client sent them.
//! What differs is LiteLLM's per-provider table of accepted OpenAI parameters
//! (`get_supported_openai_params` in `litellm/llms/<provider>/chat/transformation.py`)
//! and a few rewrites LiteLLM makes there (`map_openai_params`). Both are taken from
//! LiteLLM's source and resolved once per deployment at configure time; at request
//! time only the top-level fields a quirk names are touched.
//!
//! | provider | parameters (chat) | rewrites (LiteLLM's `map_openai_params`) |
//! |---|---|---|
//! | mistral | `MistralConfig`: stream, temperature, top_p, max_tokens, max_completion_tokens, tools, tool_choice, seed, stop, response_format, parallel_tool_calls (+ reasoning_effort, thinking for Magistral models: LiteLLM's reasoning system prompt is injected and both are removed) | `max_completion_tokens`→`max_tokens`; `tool_choice` `required` or a named function → `"any"`; `seed`→`random_seed`; messages: `name` dropped (not from tool results), null fields dropped, empty assistant messages left out; streams always end with usage, `stream_options` is not sent |
//! | perplexity | `PerplexityChatConfig`: frequency_penalty, max_tokens, max_completion_tokens, presence_penalty, response_format, stream, temperature, top_p (+ reasoning_effort) | no tools; streams carry usage, `stream_options` is not sent |
//! | cerebras | `CerebrasConfig`: max_tokens, max_completion_tokens, response_format, seed, stop, stream, temperature, top_p, tool_choice, tools, user (+ reasoning_effort) | `max_completion_tokens`→`max_tokens`; `stream_options` is not sent |
//! | deepinfra | `DeepInfraConfig`: stream, frequency_penalty, function_call, functions, logit_bias, max_tokens, max_completion_tokens, n, presence_penalty, stop, temperature, top_p, response_format, tools, tool_choice | `max_completion_tokens`→`max_tokens`; `tool_choice` other than `auto`/`none` is refused (400 naming it) or dropped with `drop_params` |
//! | xai | `XAIChatConfig`: logit_bias, logprobs, max_completion_tokens, max_tokens, n, parallel_tool_calls, presence_penalty, response_format, seed, stream, stream_options, temperature, tool_choice, tools, top_logprobs, top_p, user, web_search_options; `stop` except grok-3-mini, grok-4, grok-code-fast; `frequency_penalty` except grok-4, grok-code-fast (+ reasoning_effort) | `max_completion_tokens`→`max_tokens`; `strict` removed from tools |
//! | fireworks_ai | `FireworksAIConfig`: stream, tools, tool_choice, max_completion_tokens, max_tokens, temperature, top_p, top_k, frequency_penalty, presence_penalty, n, stop, response_format, user, logprobs, prompt_truncate_length, context_length_exceeded_behavior | `tool_choice: required`→`"any"`; `json_schema`→`{"type":"json_object","schema":…}`; `max_completion_tokens`→`max_tokens`; model ids get `accounts/fireworks/models/` unless they start with `accounts/` (configure time); `stream_options` is not sent |
//! | hosted_vllm | OpenAI's whole set | `strict` and `additionalProperties: false` removed from tools (`HostedVLLMChatConfig.map_openai_params`) |
//! | lm_studio | OpenAI's whole set | a `json_schema` response format with a bare `schema` is wrapped in `json_schema` (`LMStudioChatConfig.map_openai_params`) |
//! | groq | OpenAI's whole set (`GroqChatConfig` extends `OpenAILikeChatConfig`) | `json_schema` through a forced `json_tool_call`; JSON-mode streams faked (below) |
//! | openrouter | OpenAI's whole set | `usage: {"include": true}` added; answers: `reasoning` → `reasoning_content`, `usage.cost` is the spend |
//! | deepseek, together_ai, llamafile | OpenAI's whole set (their LiteLLM configs extend `OpenAIGPTConfig`'s list) | none here; the body passes untouched |
//!
//! LiteLLM adds `reasoning_effort` only for models its price map flags as
//! reasoning-capable; the gateway has no such list per model, so the tables accept
//! it where the provider has reasoning models at all (Perplexity's sonar-reasoning,
//! Cerebras, xAI).
//!
//! `model`, `messages`/`prompt`/`input` and `stream_options` (the gateway's own:
//! read for the client, removed or set as the provider needs) are always accepted.
//!
//! Groq (`GroqChatConfig`): a `json_schema` response format becomes a forced call of
//! a `json_tool_call` tool (its arguments come back as the content), and a stream
//! with any `response_format` is asked whole and replayed as a stream.
//!
//! Mistral's reasoning models (Magistral): `reasoning_effort`/`thinking` become
//! LiteLLM's reasoning system prompt, and answers' `thinking` chunks come back as
//! `reasoning_content` ([`AnswerFix`]). OpenRouter: every chat request asks
//! `usage: {"include": true}`; the answer's `usage.cost` is the request's spend
//! (as LiteLLM takes it for its response cost), and `reasoning` is also given as
//! `reasoning_content`.
//!
//! Not reproduced (LiteLLM does it, Switchyard does not yet): Mistral flattening
//! text-only content lists in requests (Mistral takes lists now).

use serde_json::{json, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::ProviderKind;
use crate::request::TopLevel;

mod quirks;
mod request;
mod response;
mod stream;

pub use quirks::*;
pub use request::*;
pub use response::*;
pub use stream::*;

#[cfg(test)]
mod tests;

/// Fields every table accepts (the request's subject and the gateway's own).
const ALWAYS: &[&str] = &["model", "messages", "stream_options"];

/// OpenAI's chat parameters: the ones LiteLLM checks against a provider's table
/// (its `DEFAULT_CHAT_COMPLETION_PARAM_VALUES`, plus the newer OpenAI fields).
/// Anything else is provider-specific and passes to the provider, as in LiteLLM.
pub const OPENAI_CHAT_PARAMS: &[&str] = &[
    "functions",
    "function_call",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "modalities",
    "prediction",
    "audio",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "response_format",
    "seed",
    "tools",
    "tool_choice",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "reasoning_effort",
    "verbosity",
    "web_search_options",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "metadata",
    "store",
];

const MISTRAL: &[&str] = &[
    "stream",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "tools",
    "tool_choice",
    "seed",
    "stop",
    "response_format",
    "parallel_tool_calls",
];

const PERPLEXITY: &[&str] = &[
    "frequency_penalty",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "response_format",
    "stream",
    "temperature",
    "top_p",
    "reasoning_effort",
];

const CEREBRAS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "response_format",
    "seed",
    "stop",
    "stream",
    "temperature",
    "top_p",
    "tool_choice",
    "tools",
    "user",
    "reasoning_effort",
];

const DEEPINFRA: &[&str] = &[
    "stream",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "stop",
    "temperature",
    "top_p",
    "response_format",
    "tools",
    "tool_choice",
];

const XAI: &[&str] = &[
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "n",
    "parallel_tool_calls",
    "presence_penalty",
    "response_format",
    "seed",
    "stream",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "web_search_options",
    "reasoning_effort",
];

const FIREWORKS: &[&str] = &[
    "stream",
    "tools",
    "tool_choice",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "stop",
    "response_format",
    "user",
    "logprobs",
    "prompt_truncate_length",
    "context_length_exceeded_behavior",
];
