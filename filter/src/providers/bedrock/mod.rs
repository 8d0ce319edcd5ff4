//! Amazon Bedrock Runtime: `Converse` / `ConverseStream` for chat (and legacy
//! completions), `InvokeModel` for Titan and Cohere embeddings. OpenAI requests in,
//! OpenAI answers out.
//!
//! Field names follow AWS's Bedrock Runtime API reference (`Converse`,
//! `ConverseStream`, `Message`, `ContentBlock`, `SystemContentBlock`,
//! `InferenceConfiguration`, `ToolConfiguration`, `ToolChoice`, `TokenUsage`,
//! `ConverseStreamOutput`) and the model-parameter pages for Titan Text Embeddings
//! and Cohere Embed; where LiteLLM (`litellm/llms/bedrock/chat/converse_transformation.py`,
//! `…/bedrock/embed/`) has settled a mapping, its answer is kept.
//!
//! # Paths and authentication
//!
//! `POST {endpoint}/model/{modelId}/converse`, `/converse-stream`, and
//! `/model/{modelId}/invoke` for embeddings, the model id percent-encoded as one
//! path segment (`:` → `%3A`, an ARN's `/` → `%2F`), as the AWS SDKs and LiteLLM
//! send it ([`model_path`]). Requests are signed with SigV4 (service `bedrock`,
//! [`crate::sigv4`]) per attempt, over the final path and body ([`SigV4`]), or carry
//! a Bedrock API key as `Authorization: Bearer` (set with the other headers).
//!
//! # Requests (chat)
//!
//! * `system` and `developer` messages → `system: [{text}]` (a `cache_control` on
//!   one adds a `{cachePoint: {type: default}}` after it, as LiteLLM does).
//! * `user` → a `user` message; `assistant` → an `assistant` message; `tool` →
//!   a `toolResult {toolUseId, content: [{text}], status?}` block in a user message.
//!   Consecutive messages of one role are merged (Bedrock wants user/assistant
//!   alternating, and all results of one turn's calls in one message).
//! * Content parts: `text` → `{text}` (empty texts dropped: Bedrock refuses blank
//!   text); `image_url` with a `data:image/{png,jpeg,gif,webp};base64,` URI →
//!   `{image: {format, source: {bytes}}}`; an `http(s)` image URL is a 400 — Bedrock
//!   takes image bytes only and the gateway downloads nothing; `file` with a data URI
//!   of a document type Bedrock reads (pdf, csv, doc(x), xls(x), html, txt, md) →
//!   `{document: {format, name, source: {bytes}}}`. A part's `cache_control` adds a
//!   `cachePoint` block after it.
//! * Assistant `tool_calls` → `{toolUse: {toolUseId, name, input}}` (the `arguments`
//!   string parsed; bad JSON is a 400); `thinking_blocks` (LiteLLM's field, as this
//!   gateway returns them) → `{reasoningContent: {reasoningText: {text, signature}}}`
//!   before the text, so a multi-turn tool conversation with thinking keeps working.
//! * `inferenceConfig`: `max_completion_tokens` / `max_tokens` → `maxTokens`,
//!   `temperature`, `top_p` → `topP`, `stop` (string or list; empty strings dropped)
//!   → `stopSequences`.
//! * `tools` → `toolConfig.tools: [{toolSpec: {name, description?, inputSchema:
//!   {json}}}]`; `tool_choice` `auto` → `{auto: {}}`, `required` → `{any: {}}`, a named
//!   function → `{tool: {name}}`; `none` has no Bedrock equivalent: a 400, or
//!   dropped (tools still sent) with `drop_params`, as in LiteLLM. History with tool
//!   calls but no `tools` is a 400 (Bedrock requires a `toolConfig` then).
//! * `response_format` `json_object` / `json_schema` → a forced call of a
//!   `json_tool_call` tool whose input schema is the schema (LiteLLM's
//!   `_create_json_tool_call_for_response_format`); its arguments come back as the
//!   message content ([`crate::providers::openai_compat::json_tool_answer`]). A
//!   streamed JSON request is sent to `/converse` and replayed as a stream (LiteLLM's
//!   `fake_stream`). `text` is a no-op.
//! * Reasoning: `reasoning_effort` → `additionalModelRequestFields.thinking =
//!   {type: enabled, budget_tokens}` (`low` 1024, `medium` 2048, `high` 4096 —
//!   LiteLLM's Anthropic budgets; `none` sends nothing); for `gpt-oss` models it is
//!   passed as `reasoning_effort`, for Nova 2 Lite as `reasoningConfig {type:
//!   enabled, maxReasoningEffort}`. A client's own `thinking` object is passed as is,
//!   `budget_tokens` raised to Bedrock's minimum 1024. With thinking on and no
//!   `max_tokens`, `maxTokens` is the budget + 4096; a forced tool choice becomes
//!   `auto` (Claude refuses forced tool use while thinking).
//! * `service_tier` → `serviceTier: {type}` (`auto` → `default`).
//! * Everything else that is not an OpenAI parameter is model-specific and goes into
//!   `additionalModelRequestFields` (`top_k` for Anthropic and others; for Nova as
//!   `inferenceConfig.topK` there, as LiteLLM), except Converse's own top-level
//!   fields, passed as they are: `requestMetadata`, `guardrailConfig`,
//!   `performanceConfig`, `additionalModelResponseFieldPaths`.
//! * OpenAI parameters outside [`param_table`] (model-dependent, LiteLLM's
//!   `AmazonConverseConfig.get_supported_openai_params`) never reach here: the
//!   upstream stage refuses them with a 400 naming them, or drops them.
//!
//! Legacy `/completions` send the `prompt` as one user message and answer a
//! `text_completion`.
//!
//! # Responses
//!
//! `output.message.content`: `text` blocks joined into `content`, `toolUse` →
//! `tool_calls` (`input` serialized as `arguments`), `reasoningContent` →
//! `reasoning_content` plus `thinking_blocks` (`{type: thinking, thinking,
//! signature}`, or `{type: redacted_thinking, data}`). `stopReason`:
//!
//! | Bedrock | OpenAI |
//! |---|---|
//! | `end_turn`, `stop_sequence` | `stop` |
//! | `max_tokens`, `model_context_window_exceeded` | `length` |
//! | `tool_use` | `tool_calls` |
//! | `guardrail_intervened`, `content_filtered` | `content_filter` |
//! | anything else | `stop` |
//!
//! Usage: `prompt_tokens = inputTokens + cacheReadInputTokens +
//! cacheWriteInputTokens`, `completion_tokens = outputTokens`,
//! `prompt_tokens_details.cached_tokens = cacheReadInputTokens`, and
//! `cache_read_input_tokens` / `cache_creation_input_tokens` as LiteLLM reports them.
//! Converse answers carry no id: the answer's id is `chatcmpl-` + Bedrock's
//! `x-amzn-requestid`.
//!
//! # Streams
//!
//! `ConverseStream` answers `application/vnd.amazon.eventstream`: binary frames
//! decoded incrementally by [`EventStreamDecoder`](crate::codec::eventstream::EventStreamDecoder) (split anywhere; CRCs checked),
//! each an event named by its `:event-type` header whose payload is the event's
//! JSON. `messageStart` → the `role` chunk; `contentBlockStart` with `toolUse` →
//! a tool call chunk (`id`, `name`, `arguments: ""`); `contentBlockDelta` `text` →
//! `delta.content`, `toolUse.input` → `tool_calls[].function.arguments`,
//! `reasoningContent.text` → `delta.reasoning_content` (a `signature` →
//! `thinking_blocks`); `contentBlockStop` of a tool block that had no input →
//! `arguments: "{}"`; `messageStop` → the `finish_reason` chunk; `metadata` → the
//! usage (a `choices: []` usage chunk when `stream_options.include_usage` is set),
//! then `data: [DONE]`. An `exception` message (`throttlingException`,
//! `modelStreamErrorException`, …) becomes `data: {"error": …}` with the status
//! its type maps to, then `[DONE]`; so does a frame with a bad CRC, or a stream cut
//! before `messageStop` (502). A stream cut after `messageStop` but before
//! `metadata` ends with `[DONE]` and no usage.
//!
//! # Errors
//!
//! Bedrock errors are `{"message": "…"}` with the type in the `x-amzn-errortype`
//! header (`ValidationException:http://internal.amazon.com/…`). The message is kept;
//! the status is Bedrock's, except where OpenAI clients expect another
//! ([`status_for_exception`]): credential and signature errors → 401,
//! `ModelNotReadyException` → 503, `ModelErrorException` → 502,
//! `ServiceQuotaExceededException` → 429.
//!
//! # Embeddings
//!
//! `InvokeModel` with the model's native body. Titan Text Embeddings
//! (`amazon.titan-embed-text-v1`, `-v2:0`, `amazon.titan-embed-g1-text-02`) take one
//! text per call: `{"inputText", "dimensions"?, "normalize"?}` (`dimensions` and
//! `normalize` for v2 only). A list `input` is answered as LiteLLM answers it
//! (`litellm/llms/bedrock/embed/embedding.py`, one `InvokeModel` per input): one call
//! per input ([`titan_calls`], at most [`MAX_TITAN_INPUTS`]), made by the upstream
//! stage in parallel (`upstream::fanout`), merged in input order with the token
//! counts summed ([`titan_answer`], [`titan_embedding_list`]). Cohere Embed (`cohere.embed-*`) takes a list:
//! `{"texts", "input_type"}` (`input_type` from the request, default
//! `search_document` as LiteLLM), `truncate` passed, `dimensions` →
//! `output_dimension`. Answers become an OpenAI embedding list; usage from Titan's
//! `inputTextTokenCount`, for Cohere from Bedrock's `X-Amzn-Bedrock-Input-Token-Count`
//! header ([`embedding_usage_from_header`]).

mod auth;
mod embeddings;
mod error;
mod messages;
mod models;
mod provider;
mod request;
mod response;
mod stream;

pub use auth::SigV4;
pub use embeddings::{
    embedding_usage_from_header, may_fan_out, titan_answer, titan_calls, titan_embedding_list,
    MAX_TITAN_INPUTS,
};
pub use error::{status_for_exception, translate_error};
pub use models::{
    base_model, embedding_model, encode_model_id, model_path, param_table, EmbeddingModel,
};
pub use provider::*;
pub use request::translate_request;
pub use response::{finish_reason, response_id, translate_response};
pub use stream::StreamTranslator;

/// The SigV4 service name of Bedrock Runtime.
pub const SERVICE: &str = "bedrock";

/// `maxTokens` added to a thinking budget when the client set no limit (LiteLLM's
/// `DEFAULT_MAX_TOKENS`).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Bedrock's smallest `thinking.budget_tokens` (LiteLLM's
/// `BEDROCK_MIN_THINKING_BUDGET_TOKENS`): smaller budgets are raised to it.
pub const MIN_THINKING_BUDGET: u64 = 1024;

/// Headers the upstream stage sets when it signs, removed at the start of every
/// attempt (the header map is shared by retries).
pub const SIGNED_HEADERS: [&str; 2] = ["x-amz-date", "x-amz-security-token"];

/// Request and answer builders the provider's unit tests share.
#[cfg(test)]
pub(crate) mod test_helpers {
    use serde_json::{Map, Value};

    use super::translate_request;
    use crate::endpoint::Endpoint;
    use crate::error::GatewayError;
    use crate::providers::openai_compat::Rewritten;
    use crate::providers::ResponseContext;

    pub(crate) const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

    pub(crate) fn req(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    pub(crate) fn chat(v: Value, model: &str) -> (String, Value, Rewritten) {
        let (r, rw) = translate_request(Endpoint::ChatCompletions, &req(v), model, false).unwrap();
        (r.path, serde_json::from_slice(&r.body).unwrap(), rw)
    }

    pub(crate) fn chat_err(v: Value, model: &str, drop: bool) -> GatewayError {
        translate_request(Endpoint::ChatCompletions, &req(v), model, drop).unwrap_err()
    }

    pub(crate) fn ctx(model: &str, include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: model.into(),
            include_usage,
        }
    }
}
