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
//! decoded incrementally by [`EventStreamDecoder`] (split anywhere; CRCs checked),
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

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::openai_compat::{Rewritten, JSON_TOOL, OPENAI_CHAT_PARAMS};
use super::{present, serialize_request as serialize};
use super::{ParamTable, ProviderRequest, ResponseContext, StreamTranslate};
use crate::codec::eventstream::{EventStreamDecoder, Message};
use crate::endpoint::Endpoint;
use crate::error::{type_for_status, GatewayError};
use crate::request::CowStr;
use crate::sigv4;

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

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

pub use switchyard_contract::providers::bedrock::{
    base_model, embedding_model, may_fan_out, EmbeddingModel,
};

/// An ARN whose resource does not name a model (a provisioned or imported model):
/// LiteLLM then accepts every parameter.
fn opaque_arn(model: &str) -> bool {
    model.starts_with("arn:") && !base_model(model).contains('.')
}

fn is_nova(model: &str) -> bool {
    base_model(model).starts_with("amazon.nova")
}

fn is_nova_2_lite(model: &str) -> bool {
    base_model(model).contains("nova-2-lite")
}

fn is_gpt_oss(model: &str) -> bool {
    model.contains("gpt-oss")
}

/// Models Converse runs tools for (LiteLLM's prefix list and model-map entries).
fn supports_tools(model: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "anthropic.",
        "mistral.",
        "cohere.command-r",
        "meta.llama3-1",
        "meta.llama3-2",
        "meta.llama3-3",
        "meta.llama4",
        "amazon.nova",
        "ai21.jamba",
        "writer.",
        "openai.",
        "qwen.",
        "deepseek.v3",
    ];
    let base = base_model(model);
    opaque_arn(model) || PREFIXES.iter().any(|p| base.starts_with(p))
}

/// Models that take a `toolChoice` (AWS's `ToolChoice`: Anthropic Claude 3+,
/// Mistral Large, Amazon Nova).
fn supports_tool_choice(model: &str) -> bool {
    let base = base_model(model);
    opaque_arn(model)
        || base.starts_with("anthropic.")
        || base.starts_with("mistral.mistral-large")
        || base.starts_with("amazon.nova")
}

/// Models that reason on request (LiteLLM: claude-3-7 and the Claude 4 family,
/// DeepSeek R1, gpt-oss, Nova 2 Lite).
fn supports_reasoning(model: &str) -> bool {
    const MARKERS: &[&str] = &[
        "claude-3-7",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-haiku-4",
        "deepseek.r1",
        "gpt-oss",
        "nova-2-lite",
    ];
    opaque_arn(model) || MARKERS.iter().any(|m| model.contains(m))
}

/// The parameters a Bedrock deployment of `model` takes for `endpoint`: for chat,
/// OpenAI's parameters minus those LiteLLM's `AmazonConverseConfig` lacks for the
/// model (non-OpenAI parameters pass to `additionalModelRequestFields`); for
/// completions and embeddings, exactly what the translation reads.
pub fn param_table(endpoint: Endpoint, model: &str) -> ParamTable {
    match endpoint {
        Endpoint::ChatCompletions => {
            let mut supported: Vec<&str> = vec![
                "max_tokens",
                "max_completion_tokens",
                "stream",
                "stream_options",
                "stop",
                "temperature",
                "top_p",
                "response_format",
                "service_tier",
            ];
            if supports_tools(model) {
                supported.push("tools");
            }
            if supports_tool_choice(model) {
                supported.push("tool_choice");
            }
            if supports_reasoning(model) {
                supported.push("reasoning_effort");
            }
            ParamTable::Not(
                OPENAI_CHAT_PARAMS
                    .iter()
                    .filter(|p| !supported.contains(p))
                    .copied()
                    .collect(),
            )
        }
        Endpoint::Completions => ParamTable::Only(vec![
            "model",
            "prompt",
            "max_tokens",
            "stop",
            "temperature",
            "top_p",
            "stream",
            "stream_options",
        ]),
        Endpoint::Embeddings => ParamTable::Only(match embedding_model(model) {
            Some(EmbeddingModel::TitanV2) => {
                vec![
                    "model",
                    "input",
                    "encoding_format",
                    "dimensions",
                    "normalize",
                ]
            }
            Some(EmbeddingModel::Cohere) => vec![
                "model",
                "input",
                "encoding_format",
                "dimensions",
                "input_type",
                "truncate",
            ],
            _ => vec!["model", "input", "encoding_format"],
        }),
    }
}

/// A model id as one percent-encoded path segment (everything but RFC 3986's
/// unreserved characters encoded, as `urllib.parse.quote(model, safe="")`).
pub fn encode_model_id(model: &str) -> String {
    sigv4::uri_encode(model)
}

/// `/model/{modelId}/{operation}`.
pub fn model_path(model: &str, operation: &str) -> String {
    format!("/model/{}/{operation}", encode_model_id(model))
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// A deployment's SigV4 signing settings, resolved at configure time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    /// The AWS credentials.
    pub credentials: sigv4::Credentials,
    /// The region signed for (`us-east-1`).
    pub region: String,
}

impl SigV4 {
    /// The headers that sign one `POST` of `body` to `host` + `path`
    /// (`x-amz-date`, `x-amz-security-token`, `authorization`), at `unix_secs`.
    pub fn sign(
        &self,
        unix_secs: u64,
        host: &str,
        path: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        sigv4::sign(
            &self.credentials,
            &self.region,
            SERVICE,
            unix_secs,
            "POST",
            host,
            path,
            Some("application/json"),
            body,
        )
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Converse's own top-level request fields a client may send as they are.
const CONVERSE_TOP_LEVEL: &[&str] = &[
    "requestMetadata",
    "guardrailConfig",
    "performanceConfig",
    "additionalModelResponseFieldPaths",
];

/// Request fields read by the translation itself (never model-specific).
const HANDLED: &[&str] = &[
    "model",
    "messages",
    "prompt",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "response_format",
    "reasoning_effort",
    "thinking",
    "service_tier",
];

/// Image formats Converse reads (`ImageBlock.format`).
const IMAGE_FORMATS: &[&str] = &["png", "jpeg", "gif", "webp"];

/// Document formats Converse reads (`DocumentBlock.format`), by media type.
const DOCUMENT_FORMATS: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("text/csv", "csv"),
    ("application/msword", "doc"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("application/vnd.ms-excel", "xls"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("text/html", "html"),
    ("text/plain", "txt"),
    ("text/markdown", "md"),
];

fn invalid(param: impl AsRef<str>, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_param(param.as_ref(), message)
}

/// Translates an OpenAI request (defaults applied, parameters checked, `model` the
/// Bedrock model id) into a Bedrock request, and says what the answer will need
/// (`json_tool`: JSON mode through a forced tool; `fake_stream`: a stream asked as
/// a whole answer).
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
    drop_params: bool,
) -> Result<(ProviderRequest, Rewritten), GatewayError> {
    match endpoint {
        Endpoint::Embeddings => Ok((
            ProviderRequest {
                path: model_path(model, "invoke"),
                body: embedding_request(request, model)?,
            },
            Rewritten::default(),
        )),
        Endpoint::ChatCompletions | Endpoint::Completions => {
            converse_request(endpoint, request, model, drop_params)
        }
    }
}

fn converse_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
    drop_params: bool,
) -> Result<(ProviderRequest, Rewritten), GatewayError> {
    let mut rewritten = Rewritten::default();
    let stream = match present(request, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };

    let (system, mut messages) = if endpoint == Endpoint::Completions {
        (
            Vec::new(),
            vec![prompt_message(present(request, "prompt"))?],
        )
    } else {
        let messages = present(request, "messages")
            .ok_or_else(|| invalid("messages", "Missing required parameter: `messages`."))?;
        translate_messages(messages)?
    };

    let mut body = Map::new();
    let mut additional = Map::new();

    // inferenceConfig.
    let mut inference = Map::new();
    let mut max_tokens_set = false;
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(request, key) {
            match v.as_u64() {
                Some(n) if n > 0 => {
                    inference.insert("maxTokens".into(), json!(n));
                    max_tokens_set = true;
                    break;
                }
                _ => return Err(invalid(key, format!("`{key}` must be a positive integer."))),
            }
        }
    }
    for (key, native) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(v) = present(request, key) {
            if !v.is_number() {
                return Err(invalid(key, format!("`{key}` must be a number.")));
            }
            inference.insert(native.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(present(request, "stop"))? {
        inference.insert("stopSequences".into(), stop);
    }
    if let Some(top_k) = present(request, "top_k") {
        if top_k.as_u64().is_none() {
            return Err(invalid("top_k", "`top_k` must be a non-negative integer."));
        }
        if is_nova(model) {
            additional.insert("inferenceConfig".into(), json!({ "topK": top_k }));
        } else {
            additional.insert("top_k".into(), top_k.clone());
        }
    }

    // Reasoning.
    let mut thinking_budget: Option<u64> = None;
    if let Some(effort) = present(request, "reasoning_effort") {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        if is_gpt_oss(model) {
            additional.insert("reasoning_effort".into(), json!(effort));
        } else if is_nova_2_lite(model) {
            if !matches!(effort, "low" | "medium" | "high") {
                return Err(invalid(
                    "reasoning_effort",
                    format!("Invalid reasoning_effort value '{effort}' for Nova 2 models. Supported values: low, medium, high."),
                ));
            }
            additional.insert(
                "reasoningConfig".into(),
                json!({ "type": "enabled", "maxReasoningEffort": effort }),
            );
        } else {
            let budget = match effort {
                "none" | "disable" => None,
                "minimal" | "low" => Some(1024),
                "medium" => Some(2048),
                "high" => Some(4096),
                other => {
                    return Err(invalid(
                        "reasoning_effort",
                        format!("Invalid reasoning_effort `{other}`: expected none, minimal, low, medium or high."),
                    ))
                }
            };
            if let Some(budget) = budget {
                additional.insert(
                    "thinking".into(),
                    json!({ "type": "enabled", "budget_tokens": budget }),
                );
                thinking_budget = Some(budget);
            }
        }
    }
    if let Some(thinking) = present(request, "thinking") {
        let mut thinking = thinking
            .as_object()
            .cloned()
            .ok_or_else(|| invalid("thinking", "`thinking` must be an object."))?;
        if thinking.get("type").and_then(Value::as_str) == Some("enabled") {
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(MIN_THINKING_BUDGET)
                .max(MIN_THINKING_BUDGET);
            thinking.insert("budget_tokens".into(), json!(budget));
            thinking_budget = Some(budget);
        }
        additional.insert("thinking".into(), Value::Object(thinking));
    }
    if let (Some(budget), false) = (thinking_budget, max_tokens_set) {
        inference.insert(
            "maxTokens".into(),
            json!(budget.saturating_add(DEFAULT_MAX_TOKENS)),
        );
    }

    // Tools, tool choice and JSON mode.
    let mut tools = match present(request, "tools") {
        Some(tools) => translate_tools(tools)?,
        None => Vec::new(),
    };
    let mut tool_choice = match present(request, "tool_choice") {
        Some(choice) => translate_tool_choice(choice, drop_params)?,
        None => None,
    };
    if let Some(format) = present(request, "response_format") {
        let obj = format
            .as_object()
            .ok_or_else(|| invalid("response_format", "`response_format` must be an object."))?;
        match obj.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") | Some("json_schema") => {
                let schema = obj
                    .get("response_schema")
                    .or_else(|| obj.get("json_schema").and_then(|s| s.get("schema")))
                    .cloned()
                    .unwrap_or_else(
                        || json!({"type": "object", "additionalProperties": true, "properties": {}}),
                    );
                let mut spec = Map::new();
                spec.insert("name".into(), json!(JSON_TOOL));
                spec.insert("inputSchema".into(), json!({ "json": schema }));
                if let Some(d) = obj
                    .get("json_schema")
                    .and_then(|s| s.get("description"))
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                {
                    spec.insert("description".into(), json!(d));
                }
                tools.push(json!({ "toolSpec": spec }));
                if supports_tool_choice(model) && thinking_budget.is_none() {
                    tool_choice = Some(json!({ "tool": { "name": JSON_TOOL } }));
                }
                rewritten.json_tool = true;
                rewritten.fake_stream = stream;
            }
            _ => {
                return Err(invalid(
                    "response_format.type",
                    "`response_format.type` must be text, json_object or json_schema.",
                ))
            }
        }
    }
    if thinking_budget.is_some() {
        // Claude refuses forced tool use while thinking (LiteLLM switches to auto).
        if tool_choice
            .as_ref()
            .is_some_and(|c| c.get("any").is_some() || c.get("tool").is_some())
        {
            tool_choice = Some(json!({ "auto": {} }));
        }
    }
    if tools.is_empty() && messages_use_tools(&messages) {
        return Err(invalid(
            "tools",
            "Bedrock doesn't support tool calling without `tools=` param specified. Pass `tools=` with the tools the conversation used.",
        ));
    }

    // Other fields: Converse's own top-level ones, else model-specific.
    for (key, value) in request {
        if HANDLED.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        if CONVERSE_TOP_LEVEL.contains(&key.as_str()) {
            body.insert(key.clone(), value.clone());
        } else {
            additional.insert(key.clone(), value.clone());
        }
    }
    if let Some(tier) = present(request, "service_tier") {
        let tier = match tier.as_str() {
            Some("auto") | Some("default") => "default",
            Some("flex") => "flex",
            Some("priority") => "priority",
            _ => {
                return Err(invalid(
                    "service_tier",
                    "`service_tier` must be auto, default, flex or priority for Bedrock.",
                ))
            }
        };
        body.insert("serviceTier".into(), json!({ "type": tier }));
    }

    merge_adjacent(&mut messages);
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if !tools.is_empty() {
        let mut config = Map::new();
        config.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice {
            config.insert("toolChoice".into(), choice);
        }
        body.insert("toolConfig".into(), Value::Object(config));
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }

    let operation = if stream && !rewritten.fake_stream {
        "converse-stream"
    } else {
        "converse"
    };
    Ok((
        ProviderRequest {
            path: model_path(model, operation),
            body: serialize(&Value::Object(body))?,
        },
        rewritten,
    ))
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let bad = || invalid("stop", "`stop` must be a string or an array of strings.");
    let list: Vec<Value> = match stop {
        None => return Ok(None),
        Some(Value::String(s)) => vec![json!(s)],
        Some(Value::Array(list)) => {
            if list.iter().any(|s| !s.is_string()) {
                return Err(bad());
            }
            list.clone()
        }
        Some(_) => return Err(bad()),
    };
    // Converse refuses empty stop strings (LiteLLM drops them).
    let list: Vec<Value> = list
        .into_iter()
        .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

fn prompt_message(prompt: Option<&Value>) -> Result<Value, GatewayError> {
    let text = match prompt {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => s.as_str(),
            _ => {
                return Err(invalid(
                    "prompt",
                    "Bedrock completes one prompt per request: send a string (or an array of one string).",
                ))
            }
        },
        None => return Err(invalid("prompt", "Missing required parameter: `prompt`.")),
        Some(_) => return Err(invalid("prompt", "`prompt` must be a string.")),
    };
    if text.is_empty() {
        return Err(invalid("prompt", "`prompt` must not be empty."));
    }
    Ok(json!({ "role": "user", "content": [{ "text": text }] }))
}

/// Whether any message carries a `toolUse` or `toolResult` block.
fn messages_use_tools(messages: &[Value]) -> bool {
    messages.iter().any(|m| {
        m.get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| {
                blocks
                    .iter()
                    .any(|b| b.get("toolUse").is_some() || b.get("toolResult").is_some())
            })
    })
}

/// Merges consecutive messages of one role; in a user message, tool results first.
fn merge_adjacent(messages: &mut Vec<Value>) {
    let mut merged: Vec<Value> = Vec::with_capacity(messages.len());
    for message in messages.drain(..) {
        let same_role = merged
            .last()
            .and_then(|last| last.get("role"))
            .is_some_and(|r| Some(r) == message.get("role"));
        if same_role {
            if let (Some(Value::Array(into)), Some(Value::Array(from))) = (
                merged.last_mut().and_then(|m| m.get_mut("content")),
                message.get("content"),
            ) {
                into.extend(from.iter().cloned());
            }
        } else {
            merged.push(message);
        }
    }
    for message in &mut merged {
        if message.get("role").and_then(Value::as_str) == Some("user") {
            if let Some(Value::Array(blocks)) = message.get_mut("content") {
                // Stable: results first (Bedrock wants them to open the turn).
                blocks.sort_by_key(|b| b.get("toolResult").is_none());
            }
        }
    }
    *messages = merged;
}

/// OpenAI `messages` → (Converse `system` blocks, Converse `messages`), unmerged.
fn translate_messages(messages: &Value) -> Result<(Vec<Value>, Vec<Value>), GatewayError> {
    let list = messages.as_array().ok_or_else(|| {
        invalid(
            "messages",
            "`messages` must be an array of message objects.",
        )
    })?;
    let mut system = Vec::new();
    let mut out = Vec::new();
    for (i, message) in list.iter().enumerate() {
        let at = |suffix: &str| format!("messages[{i}]{suffix}");
        let obj = message
            .as_object()
            .ok_or_else(|| invalid(at(""), "Each message must be an object."))?;
        let role = obj
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(at(".role"), "Each message needs a string `role`."))?;
        let cache = obj.get("cache_control").is_some_and(Value::is_object);
        match role {
            "system" | "developer" => {
                let mut blocks = match present(obj, "content") {
                    None => Vec::new(),
                    Some(content) => content_blocks(content, i, false)?,
                };
                if cache && !blocks.is_empty() {
                    blocks.push(json!({ "cachePoint": { "type": "default" } }));
                }
                system.extend(blocks);
            }
            "user" => {
                let content = present(obj, "content")
                    .ok_or_else(|| invalid(at(".content"), "User messages need `content`."))?;
                let mut blocks = content_blocks(content, i, true)?;
                if cache && !blocks.is_empty() {
                    blocks.push(json!({ "cachePoint": { "type": "default" } }));
                }
                if !blocks.is_empty() {
                    out.push(json!({ "role": "user", "content": blocks }));
                }
            }
            "assistant" => {
                let mut blocks = Vec::new();
                if let Some(thinking) = present(obj, "thinking_blocks") {
                    reasoning_blocks(thinking, i, &mut blocks)?;
                }
                if let Some(content) = present(obj, "content") {
                    blocks.extend(content_blocks(content, i, false)?);
                }
                if let Some(calls) = present(obj, "tool_calls") {
                    tool_use_blocks(calls, i, &mut blocks)?;
                }
                if !blocks.is_empty() {
                    out.push(json!({ "role": "assistant", "content": blocks }));
                }
            }
            "tool" => {
                let id = obj
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            at(".tool_call_id"),
                            "Tool messages need a string `tool_call_id`.",
                        )
                    })?;
                let content = match present(obj, "content") {
                    None => Vec::new(),
                    Some(c) => content_blocks(c, i, true)?,
                };
                // toolResult.content may not be empty: Bedrock needs one block.
                let content = if content.is_empty() {
                    vec![json!({ "text": "." })]
                } else {
                    content
                };
                out.push(json!({
                    "role": "user",
                    "content": [{ "toolResult": { "toolUseId": id, "content": content } }]
                }));
            }
            "function" => return Err(invalid(
                at(".role"),
                "Legacy `function` messages are not supported for Bedrock; use `tool` messages.",
            )),
            other => {
                return Err(invalid(
                    at(".role"),
                    format!(
                    "Unknown role `{other}`: expected system, developer, user, assistant or tool."
                ),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "messages",
            "`messages` must include at least one user or assistant message with content.",
        ));
    }
    Ok((system, out))
}

/// A message's `content` (string or parts) as Converse content blocks. `media`:
/// images and documents are allowed (user and tool messages).
fn content_blocks(content: &Value, i: usize, media: bool) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({ "text": s })]),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                part_blocks(part, i, j, media, &mut blocks)?;
            }
            Ok(blocks)
        }
        _ => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

fn part_blocks(
    part: &Value,
    i: usize,
    j: usize,
    media: bool,
    blocks: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let at = |suffix: &str| format!("messages[{i}].content[{j}]{suffix}");
    let obj = part
        .as_object()
        .ok_or_else(|| invalid(at(""), "Each content part must be an object."))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at(".type"), "Each content part needs a string `type`."))?;
    let block = match (kind, media) {
        ("text", _) => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(at(".text"), "Text parts need a string `text`."))?;
            if text.is_empty() {
                return Ok(());
            }
            json!({ "text": text })
        }
        ("image_url", true) => {
            let url = match obj.get("image_url") {
                Some(Value::String(url)) => url.as_str(),
                Some(Value::Object(o)) => {
                    o.get("url").and_then(Value::as_str).ok_or_else(|| {
                        invalid(at(".image_url.url"), "`image_url.url` must be a string.")
                    })?
                }
                _ => {
                    return Err(invalid(
                        at(".image_url"),
                        "Image parts need `image_url` with a `url`.",
                    ))
                }
            };
            image_block(url).map_err(|m| invalid(at(".image_url.url"), m))?
        }
        ("file", true) => {
            let data = obj
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        at(".file.file_data"),
                        "Bedrock takes files inline only: send `file.file_data` as a base64 data URI.",
                    )
                })?;
            let (media_type, bytes) = parse_data_uri(data).ok_or_else(|| {
                invalid(
                    at(".file.file_data"),
                    "`file_data` must be a `data:<media type>;base64,…` URI.",
                )
            })?;
            let format = DOCUMENT_FORMATS
                .iter()
                .find(|(m, _)| *m == media_type)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    invalid(
                        at(".file.file_data"),
                        format!("Bedrock does not read `{media_type}` documents (pdf, csv, doc, docx, xls, xlsx, html, txt, md)."),
                    )
                })?;
            // DocumentBlock.name: letters, digits, spaces, hyphens, parentheses, brackets.
            json!({ "document": {
                "format": format,
                "name": format!("document {i}-{j}"),
                "source": { "bytes": bytes }
            }})
        }
        (other, _) => {
            return Err(invalid(
                at(".type"),
                format!("Content parts of type `{other}` are not supported here by Bedrock."),
            ))
        }
    };
    blocks.push(block);
    if obj.get("cache_control").is_some_and(Value::is_object) {
        blocks.push(json!({ "cachePoint": { "type": "default" } }));
    }
    Ok(())
}

/// `data:<media>;base64,<data>` → (media type, data).
fn parse_data_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let media = header.strip_suffix(";base64")?;
    let media = media.split(';').next().unwrap_or(media);
    (!media.is_empty() && !data.is_empty()).then_some((media, data))
}

fn image_block(url: &str) -> Result<Value, String> {
    if let Some((media, data)) = parse_data_uri(url) {
        let format = media
            .strip_prefix("image/")
            .map(|f| if f == "jpg" { "jpeg" } else { f });
        return match format {
            Some(f) if IMAGE_FORMATS.contains(&f) => {
                Ok(json!({ "image": { "format": f, "source": { "bytes": data } } }))
            }
            _ => Err(format!(
                "Bedrock reads png, jpeg, gif and webp images; `{media}` is not one of them."
            )),
        };
    }
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err("Bedrock takes image bytes only and the gateway does not download URLs: send the image as a base64 data URI (`data:image/png;base64,…`).".to_string());
    }
    Err("Image URLs must be base64 data URIs (`data:image/png;base64,…`).".to_string())
}

fn reasoning_blocks(
    thinking: &Value,
    i: usize,
    blocks: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let list = thinking.as_array().ok_or_else(|| {
        invalid(
            format!("messages[{i}].thinking_blocks"),
            "`thinking_blocks` must be an array.",
        )
    })?;
    for block in list {
        match block.get("type").and_then(Value::as_str) {
            Some("thinking") => {
                let mut text = Map::new();
                text.insert(
                    "text".into(),
                    json!(block
                        .get("thinking")
                        .and_then(Value::as_str)
                        .unwrap_or_default()),
                );
                if let Some(sig) = block.get("signature").and_then(Value::as_str) {
                    text.insert("signature".into(), json!(sig));
                }
                blocks.push(json!({ "reasoningContent": { "reasoningText": text } }));
            }
            Some("redacted_thinking") => {
                if let Some(data) = block.get("data").and_then(Value::as_str) {
                    blocks.push(json!({ "reasoningContent": { "redactedContent": data } }));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn tool_use_blocks(calls: &Value, i: usize, blocks: &mut Vec<Value>) -> Result<(), GatewayError> {
    let list = calls.as_array().ok_or_else(|| {
        invalid(
            format!("messages[{i}].tool_calls"),
            "`tool_calls` must be an array.",
        )
    })?;
    for (j, call) in list.iter().enumerate() {
        let at = |suffix: &str| format!("messages[{i}].tool_calls[{j}]{suffix}");
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(at(".id"), "Each tool call needs a string `id`."))?;
        let function = call
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at(".function"), "Each tool call needs a `function` object."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(
                    at(".function.name"),
                    "Each tool call needs a string `function.name`.",
                )
            })?;
        let input = match function.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(
                    at(".function.arguments"),
                    format!("`function.arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(other) => other.clone(),
        };
        if !input.is_object() {
            return Err(invalid(
                at(".function.arguments"),
                "`function.arguments` must encode a JSON object.",
            ));
        }
        blocks.push(json!({ "toolUse": { "toolUseId": id, "name": name, "input": input } }));
    }
    Ok(())
}

fn translate_tools(tools: &Value) -> Result<Vec<Value>, GatewayError> {
    let list = tools
        .as_array()
        .ok_or_else(|| invalid("tools", "`tools` must be an array."))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let at = |suffix: &str| format!("tools[{i}]{suffix}");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                at(".type"),
                "Only `function` tools are supported for Bedrock.",
            ));
        }
        let function = tool
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at(".function"), "Each tool needs a `function` object."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid(at(".function.name"), "Each tool needs a `function.name`."))?;
        let schema = match function.get("parameters") {
            None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
            Some(p) if p.is_object() => p.clone(),
            Some(_) => {
                return Err(invalid(
                    at(".function.parameters"),
                    "`function.parameters` must be a JSON schema object.",
                ))
            }
        };
        let mut spec = Map::new();
        spec.insert("name".into(), json!(name));
        if let Some(d) = function
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            spec.insert("description".into(), json!(d));
        }
        spec.insert("inputSchema".into(), json!({ "json": schema }));
        out.push(json!({ "toolSpec": spec }));
    }
    Ok(out)
}

fn translate_tool_choice(choice: &Value, drop_params: bool) -> Result<Option<Value>, GatewayError> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Some(json!({ "auto": {} }))),
            "required" => Ok(Some(json!({ "any": {} }))),
            "none" if drop_params => Ok(None),
            "none" => Err(invalid(
                "tool_choice",
                "Bedrock doesn't support tool_choice=none. To drop it from the call, set `drop_params: true` in litellm_settings or the deployment's litellm_params.",
            )),
            other => Err(invalid(
                "tool_choice",
                format!("Bedrock doesn't support tool_choice={other}. Supported: auto, required, or a named function."),
            )),
        },
        Value::Object(obj) => {
            let name = obj
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid("tool_choice.function.name", "A named tool choice needs `function.name`.")
                })?;
            Ok(Some(json!({ "tool": { "name": name } })))
        }
        _ => Err(invalid("tool_choice", "`tool_choice` must be a string or an object.")),
    }
}

// ---------------------------------------------------------------------------
// Embedding requests
// ---------------------------------------------------------------------------

fn embedding_inputs(request: &Map<String, Value>) -> Result<Vec<&str>, GatewayError> {
    match present(request, "input") {
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    invalid(
                        "input",
                        "Bedrock embeds text: `input` must be a string or a list of strings (token arrays are not supported).",
                    )
                })
            })
            .collect(),
        Some(Value::Array(_)) => Err(invalid("input", "`input` must not be empty.")),
        None => Err(invalid("input", "Missing required parameter: `input`.")),
        Some(_) => Err(invalid("input", "`input` must be a string or a list of strings.")),
    }
}

fn embedding_request(request: &Map<String, Value>, model: &str) -> Result<Vec<u8>, GatewayError> {
    let family = embedding_model(model).ok_or_else(|| {
        invalid(
            "model",
            format!("Switchyard embeds on Bedrock with Titan Text Embeddings (amazon.titan-embed-text-*) and Cohere Embed (cohere.embed-*), not `{model}`."),
        )
    })?;
    let inputs = embedding_inputs(request)?;
    let mut body = Map::new();
    match family {
        EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2 => {
            let [text] = inputs.as_slice() else {
                return Err(invalid(
                    "input",
                    format!("Titan embeddings take one text per call: the {} inputs are sent as one call each (titan_calls), not as one request.", inputs.len()),
                ));
            };
            body = titan_body(text, request, family)?;
        }
        EmbeddingModel::Cohere => {
            body.insert("texts".into(), json!(inputs));
            let input_type = match present(request, "input_type") {
                Some(Value::String(s)) => s.as_str(),
                None => "search_document",
                Some(_) => return Err(invalid("input_type", "`input_type` must be a string.")),
            };
            body.insert("input_type".into(), json!(input_type));
            if let Some(t) = present(request, "truncate") {
                body.insert("truncate".into(), t.clone());
            }
            if let Some(d) = present(request, "dimensions") {
                body.insert("output_dimension".into(), d.clone());
            }
        }
    }
    serialize(&Value::Object(body))
}

/// The body of one Titan call: `{"inputText", "dimensions"?, "normalize"?}`.
fn titan_body(
    text: &str,
    request: &Map<String, Value>,
    family: EmbeddingModel,
) -> Result<Map<String, Value>, GatewayError> {
    let mut body = Map::new();
    body.insert("inputText".into(), json!(text));
    if family == EmbeddingModel::TitanV2 {
        if let Some(d) = present(request, "dimensions") {
            if d.as_u64().is_none() {
                return Err(invalid(
                    "dimensions",
                    "`dimensions` must be a positive integer (256, 512 or 1024).",
                ));
            }
            body.insert("dimensions".into(), d.clone());
        }
        if let Some(n) = present(request, "normalize") {
            if !n.is_boolean() {
                return Err(invalid("normalize", "`normalize` must be a boolean."));
            }
            body.insert("normalize".into(), n.clone());
        }
    }
    Ok(body)
}

/// Most inputs one Titan embedding request may have: each is a call of its own.
/// OpenAI's own limit for an embeddings `input` list.
pub const MAX_TITAN_INPUTS: usize = 2048;

/// The calls that answer a Titan embedding request whose `input` is a list of more
/// than one text: one `InvokeModel` per input, in order. `Ok(None)` for any other
/// request (one text, another model), which goes as one call. More than
/// [`MAX_TITAN_INPUTS`] inputs is a 400 naming `input`.
pub fn titan_calls(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Option<Vec<ProviderRequest>>, GatewayError> {
    let Some(family @ (EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2)) = embedding_model(model)
    else {
        return Ok(None);
    };
    if !matches!(present(request, "input"), Some(Value::Array(items)) if items.len() > 1) {
        return Ok(None);
    }
    let inputs = embedding_inputs(request)?;
    if inputs.len() > MAX_TITAN_INPUTS {
        return Err(invalid(
            "input",
            format!("Titan embeddings take one text per call, and the gateway makes at most {MAX_TITAN_INPUTS} calls for one request (OpenAI's limit for `input`): this request has {} inputs. Send them in smaller batches.", inputs.len()),
        ));
    }
    let path = model_path(model, "invoke");
    inputs
        .iter()
        .map(|text| {
            Ok(ProviderRequest {
                path: path.clone(),
                body: serialize(&Value::Object(titan_body(text, request, family)?))?,
            })
        })
        .collect::<Result<Vec<_>, GatewayError>>()
        .map(Some)
}

/// One Titan answer: the vector (`embedding`, else `embeddingsByType.float`) and
/// `inputTextTokenCount`.
pub fn titan_answer(body: &[u8]) -> Result<(Vec<f64>, u64), GatewayError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ByType {
        #[serde(default)]
        float: Option<Vec<f64>>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        #[serde(default)]
        embedding: Option<Vec<f64>>,
        #[serde(default)]
        embeddings_by_type: Option<ByType>,
        #[serde(default)]
        input_text_token_count: Option<u64>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an embedding answer that could not be parsed: {e}"),
        )
    })?;
    let vector = answer
        .embedding
        .or_else(|| answer.embeddings_by_type.and_then(|b| b.float))
        .ok_or_else(|| GatewayError::new(502, "Bedrock's embedding answer has no embeddings."))?;
    Ok((vector, answer.input_text_token_count.unwrap_or(0)))
}

/// The OpenAI embedding list of Titan's answers, in input order, with their token
/// counts summed (`tokens`); each vector as base64 of its little-endian `f32`s when
/// the client asked for `encoding_format: "base64"`.
pub fn titan_embedding_list(
    vectors: &[Vec<f64>],
    tokens: u64,
    model: &str,
    base64: bool,
) -> Result<Vec<u8>, GatewayError> {
    use base64::Engine as _;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|n| (*n as f32).to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    serde_json::to_vec(&json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// `TokenUsage` (Converse answers and the stream's `metadata` event).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageIn {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_write_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

impl UsageIn {
    fn to_openai(self) -> UsageOut {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_write_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(read)
            .saturating_add(write);
        let completion = self.output_tokens.unwrap_or(0);
        UsageOut {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: PromptDetails {
                cached_tokens: read,
            },
            cache_read_input_tokens: read,
            cache_creation_input_tokens: write,
        }
    }

    fn to_cost(self) -> crate::cost::Usage {
        let u = self.to_openai();
        crate::cost::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cache_read_tokens: u.cache_read_input_tokens,
            cache_creation_tokens: u.cache_creation_input_tokens,
        }
    }
}

/// Bedrock `stopReason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened") | Some("content_filtered") => "content_filter",
        _ => "stop",
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseOut {
    #[serde(default)]
    output: Option<OutputIn>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Debug, Deserialize)]
struct OutputIn {
    #[serde(default)]
    message: Option<MessageIn>,
}

#[derive(Debug, Deserialize)]
struct MessageIn {
    #[serde(default)]
    content: Vec<Value>,
}

/// The id of an answer: `chatcmpl-` + Bedrock's request id (else a made-up one).
pub fn response_id(request_id: Option<&str>, created: u64) -> String {
    match request_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-bedrock-{created}"),
    }
}

/// A successful Bedrock answer → OpenAI. `request_id` is Bedrock's
/// `x-amzn-requestid` (for the answer's id).
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
    request_id: Option<&str>,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return embedding_response(body, ctx);
    }
    let answer: ConverseOut = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an answer that could not be parsed: {e}"),
        )
    })?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in answer
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default()
    {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
            tool_calls.push(json!({
                "id": tool.get("toolUseId").and_then(Value::as_str).unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": tool.get("name").and_then(Value::as_str).unwrap_or_default(),
                    "arguments": input.to_string(),
                }
            }));
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                let t = rt.get("text").and_then(Value::as_str).unwrap_or_default();
                reasoning.push_str(t);
                let mut tb = Map::new();
                tb.insert("type".into(), json!("thinking"));
                tb.insert("thinking".into(), json!(t));
                if let Some(sig) = rt.get("signature").and_then(Value::as_str) {
                    tb.insert("signature".into(), json!(sig));
                }
                thinking_blocks.push(Value::Object(tb));
            } else if let Some(data) = r.get("redactedContent").and_then(Value::as_str) {
                thinking_blocks.push(json!({ "type": "redacted_thinking", "data": data }));
            }
        }
        // image, document, citationsContent, guardContent: nothing OpenAI-shaped.
    }
    let finish = finish_reason(answer.stop_reason.as_deref());
    let usage = answer.usage.unwrap_or_default().to_openai();
    let id = response_id(request_id, ctx.created);
    let out = if endpoint == Endpoint::Completions {
        json!({
            "id": id,
            "object": "text_completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }],
            "usage": usage,
        })
    } else {
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        message.insert(
            "content".into(),
            if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            },
        );
        if !reasoning.is_empty() {
            message.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if !thinking_blocks.is_empty() {
            message.insert("thinking_blocks".into(), Value::Array(thinking_blocks));
        }
        if !tool_calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        json!({
            "id": id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
            "usage": usage,
        })
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

fn embedding_response(body: &[u8], ctx: &ResponseContext) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an embedding answer that could not be parsed: {e}"),
        )
    })?;
    let bad = || GatewayError::new(502, "Bedrock's embedding answer has no embeddings.");
    let (vectors, tokens): (Vec<Value>, u64) = match embedding_model(&ctx.model) {
        Some(EmbeddingModel::Cohere) => {
            // `embeddings` is a list of vectors, or `{float: [...]}` when
            // `embedding_types` was given.
            let list = match v.get("embeddings") {
                Some(Value::Array(list)) => list.clone(),
                Some(Value::Object(by_type)) => by_type
                    .get("float")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(bad)?,
                _ => return Err(bad()),
            };
            (list, 0)
        }
        _ => {
            let vector = v
                .get("embedding")
                .or_else(|| v.get("embeddingsByType").and_then(|b| b.get("float")))
                .cloned()
                .ok_or_else(bad)?;
            let tokens = v
                .get("inputTextTokenCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            (vec![vector], tokens)
        }
    };
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({ "object": "embedding", "index": i, "embedding": e }))
        .collect();
    serde_json::to_vec(&json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

/// Sets an embedding answer's usage from Bedrock's `X-Amzn-Bedrock-Input-Token-Count`
/// header when the body had none (Cohere's answers carry no token count).
pub fn embedding_usage_from_header(body: Vec<u8>, header: Option<&str>) -> Vec<u8> {
    let Some(tokens) = header.and_then(|h| h.trim().parse::<u64>().ok()) else {
        return body;
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let counted = v
        .get("usage")
        .and_then(|u| u.get("prompt_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if counted != 0 {
        return body;
    }
    let Some(obj) = v.as_object_mut() else {
        return body;
    };
    obj.insert(
        "usage".into(),
        json!({ "prompt_tokens": tokens, "total_tokens": tokens }),
    );
    serde_json::to_vec(&v).unwrap_or(body)
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The exception name of an `x-amzn-errortype` value or a body `__type`:
/// `ValidationException:http://…` and `com.amazon.coral#ValidationException` →
/// `ValidationException`.
fn exception_name(raw: &str) -> &str {
    let raw = raw.split(':').next().unwrap_or(raw);
    raw.rsplit('#').next().unwrap_or(raw).trim()
}

/// The status an OpenAI client gets for a Bedrock exception (matched without
/// regard to the first letter's case: streams name them `throttlingException`).
pub fn status_for_exception(name: &str, upstream_status: u16) -> u16 {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "validationexception" => 400,
        "accessdeniedexception" => 403,
        "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "incompletesignature"
        | "missingauthenticationtokenexception"
        | "missingauthenticationtoken"
        | "expiredtokenexception"
        | "invalidclienttokenid" => 401,
        "resourcenotfoundexception" => 404,
        "modeltimeoutexception" => 408,
        "throttlingexception" | "servicequotaexceededexception" | "toomanyrequestsexception" => 429,
        "modelnotreadyexception" | "serviceunavailableexception" => 503,
        "modelerrorexception" | "modelstreamerrorexception" => 502,
        "internalserverexception" | "internalfailure" => 500,
        _ if upstream_status >= 400 => upstream_status,
        _ => 500,
    }
}

fn bedrock_error(status: u16, message: String) -> GatewayError {
    GatewayError::new(status, message).with_type(type_for_status(status))
}

/// A Bedrock error answer → an OpenAI error. `error_type` is the
/// `x-amzn-errortype` header, when the caller has it.
pub fn translate_error(status: u16, body: &[u8], error_type: Option<&str>) -> GatewayError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let message = field("message").or_else(|| field("Message")).map_or_else(
        || super::openai::fallback_message(status, body),
        str::to_string,
    );
    let name = error_type
        .filter(|t| !t.is_empty())
        .or_else(|| field("__type"))
        .or_else(|| field("code"))
        .map(exception_name);
    let mapped = match name {
        Some(name) => status_for_exception(name, status),
        None => status,
    };
    bedrock_error(mapped, message)
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// One `ConverseStream` event payload; every field any event type uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventIn<'a> {
    #[serde(default)]
    content_block_index: Option<u64>,
    #[serde(default, borrow)]
    start: Option<StartIn<'a>>,
    #[serde(default, borrow)]
    delta: Option<DeltaIn<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<CowStr<'a>>,
    #[serde(default)]
    usage: Option<UsageIn>,
    #[serde(default, borrow)]
    message: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartIn<'a> {
    #[serde(default, borrow)]
    tool_use: Option<ToolStartIn<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolStartIn<'a> {
    #[serde(default, borrow)]
    tool_use_id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaIn<'a> {
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    tool_use: Option<ToolDeltaIn<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<ReasoningDeltaIn<'a>>,
}

#[derive(Debug, Deserialize)]
struct ToolDeltaIn<'a> {
    #[serde(default, borrow)]
    input: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDeltaIn<'a> {
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    signature: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    redacted_content: Option<CowStr<'a>>,
}

fn opt_str<'s>(v: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    v.as_ref().map(CowStr::as_str)
}

#[derive(Serialize)]
struct Chunk<'a, C> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [C],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    delta: ChatDelta<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct ChatDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_blocks: Option<[ThinkingDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ThinkingDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

const DONE: &[u8] = b"data: [DONE]\n\n";

/// Writes `data: <json>\n\n`, or nothing if serialization fails.
fn write_data<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

/// Everything but the decoder, so messages borrowed from it can be handled while
/// this changes.
#[derive(Debug)]
struct StreamState {
    text_completion: bool,
    ctx: ResponseContext,
    id: String,
    role_sent: bool,
    /// `messageStop` has been seen (the answer is complete but for its usage).
    stopped: bool,
    /// `[DONE]` has been written; later input is ignored.
    done: bool,
    tool_calls: usize,
    /// Open tool blocks: (Bedrock block index, tool-call ordinal, had input).
    tools: Vec<(u64, usize, bool)>,
    usage: Option<UsageIn>,
}

/// `ConverseStream` (AWS event stream) → OpenAI `chat.completion.chunk` (or
/// `text_completion`) SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: EventStreamDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one answer; `request_id` is Bedrock's `x-amzn-requestid`.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext, request_id: Option<&str>) -> Self {
        let id = response_id(request_id, ctx.created);
        StreamTranslator {
            decoder: EventStreamDecoder::new(),
            state: StreamState {
                text_completion: endpoint == Endpoint::Completions,
                ctx,
                id,
                role_sent: false,
                stopped: false,
                done: false,
                tool_calls: 0,
                tools: Vec::new(),
                usage: None,
            },
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        self.decoder.push(chunk);
        loop {
            match self.decoder.next_message() {
                Ok(Some(message)) => {
                    self.state.handle(&message, out);
                    if self.state.done {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.state.fail(
                        GatewayError::new(502, format!("Bedrock event stream: {e}")),
                        out,
                    );
                    return;
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let tail = self.decoder.finish();
        if self.state.done {
            return;
        }
        if self.state.stopped && tail.is_ok() {
            // Complete but for the metadata event: end without usage.
            out.extend_from_slice(DONE);
            self.state.done = true;
            return;
        }
        let message = match tail {
            Err(e) => format!("The Bedrock stream ended early, before messageStop ({e})."),
            Ok(()) => "The Bedrock stream ended early, before messageStop.".to_string(),
        };
        self.state.fail(GatewayError::new(502, message), out);
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.map(UsageIn::to_cost)
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn handle(&mut self, message: &Message<'_>, out: &mut Vec<u8>) {
        match message.message_type() {
            Some("event") | None => {}
            Some("exception") => {
                let name = message
                    .exception_type()
                    .unwrap_or("internalServerException");
                let text = serde_json::from_slice::<EventIn<'_>>(message.payload)
                    .ok()
                    .and_then(|e| opt_str(&e.message).map(str::to_string))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("Bedrock stream exception: {name}"));
                let status = status_for_exception(name, 500);
                self.fail(bedrock_error(status, text), out);
                return;
            }
            Some(_) => {
                // `error` messages: `:error-code` and `:error-message` headers.
                let code = message.error_code().unwrap_or("InternalFailure");
                let text = message
                    .error_message()
                    .filter(|m| !m.is_empty())
                    .map_or_else(|| format!("Bedrock stream error: {code}"), str::to_string);
                self.fail(bedrock_error(status_for_exception(code, 500), text), out);
                return;
            }
        }
        let event_type = message.event_type().unwrap_or_default();
        let event: EventIn<'_> = match serde_json::from_slice(message.payload) {
            Ok(e) => e,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Bedrock sent a `{event_type}` event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        match event_type {
            "messageStart" if !self.text_completion && !self.role_sent => {
                self.chat(
                    ChatDelta {
                        content: Some(""),
                        ..ChatDelta::default()
                    },
                    None,
                    out,
                );
            }
            "contentBlockStart" => {
                let index = event.content_block_index.unwrap_or(0);
                let Some(tool) = event.start.as_ref().and_then(|s| s.tool_use.as_ref()) else {
                    return;
                };
                let ordinal = self.tool_calls;
                self.tool_calls += 1;
                self.tools.retain(|(i, _, _)| *i != index);
                self.tools.push((index, ordinal, false));
                if !self.text_completion {
                    let call = ToolCallDelta {
                        index: ordinal,
                        id: Some(opt_str(&tool.tool_use_id).unwrap_or_default()),
                        kind: Some("function"),
                        function: FunctionDelta {
                            name: Some(opt_str(&tool.name).unwrap_or_default()),
                            arguments: "",
                        },
                    };
                    self.chat(
                        ChatDelta {
                            tool_calls: Some([call]),
                            ..ChatDelta::default()
                        },
                        None,
                        out,
                    );
                }
            }
            "contentBlockDelta" => {
                let index = event.content_block_index.unwrap_or(0);
                let Some(delta) = &event.delta else {
                    return;
                };
                if let Some(text) = opt_str(&delta.text).filter(|t| !t.is_empty()) {
                    self.content(text, out);
                } else if let Some(input) = delta
                    .tool_use
                    .as_ref()
                    .and_then(|t| opt_str(&t.input))
                    .filter(|i| !i.is_empty())
                {
                    let Some(ordinal) = self.mark_input(index) else {
                        return;
                    };
                    self.tool_arguments(ordinal, input, out);
                } else if let Some(r) = &delta.reasoning_content {
                    if self.text_completion {
                        return;
                    }
                    if let Some(text) = opt_str(&r.text).filter(|t| !t.is_empty()) {
                        self.chat(
                            ChatDelta {
                                reasoning_content: Some(text),
                                ..ChatDelta::default()
                            },
                            None,
                            out,
                        );
                    } else if let Some(sig) = opt_str(&r.signature) {
                        let block = ThinkingDelta {
                            kind: "thinking",
                            thinking: Some(""),
                            signature: Some(sig),
                            data: None,
                        };
                        self.chat(
                            ChatDelta {
                                thinking_blocks: Some([block]),
                                ..ChatDelta::default()
                            },
                            None,
                            out,
                        );
                    } else if let Some(data) = opt_str(&r.redacted_content) {
                        let block = ThinkingDelta {
                            kind: "redacted_thinking",
                            thinking: None,
                            signature: None,
                            data: Some(data),
                        };
                        self.chat(
                            ChatDelta {
                                thinking_blocks: Some([block]),
                                ..ChatDelta::default()
                            },
                            None,
                            out,
                        );
                    }
                }
            }
            "contentBlockStop" => {
                let index = event.content_block_index.unwrap_or(0);
                if let Some(pos) = self.tools.iter().position(|(i, _, _)| *i == index) {
                    let (_, ordinal, had_input) = self.tools.swap_remove(pos);
                    if !had_input {
                        self.tool_arguments(ordinal, "{}", out);
                    }
                }
            }
            "messageStop" if !self.stopped => {
                self.stopped = true;
                let finish = finish_reason(opt_str(&event.stop_reason));
                if self.text_completion {
                    self.text("", Some(finish), out);
                } else {
                    self.chat(ChatDelta::default(), Some(finish), out);
                }
            }
            "metadata" => {
                if let Some(usage) = event.usage {
                    self.usage = Some(usage);
                }
                if !self.stopped {
                    // Metadata closes the stream; a messageStop must come first.
                    return;
                }
                if self.ctx.include_usage {
                    let usage = Some(self.usage.unwrap_or_default().to_openai());
                    if self.text_completion {
                        self.write(&[] as &[TextChoice<'_>], usage, out);
                    } else {
                        self.write(&[] as &[ChatChoice<'_>], usage, out);
                    }
                }
                out.extend_from_slice(DONE);
                self.done = true;
            }
            // Event types Bedrock may add.
            _ => {}
        }
    }

    /// Marks the tool block at `index` as having input; its ordinal.
    fn mark_input(&mut self, index: u64) -> Option<usize> {
        self.tools.iter_mut().find_map(|(i, ordinal, had)| {
            (*i == index).then(|| {
                *had = true;
                *ordinal
            })
        })
    }

    fn write<C: Serialize>(&self, choices: &[C], usage: Option<UsageOut>, out: &mut Vec<u8>) {
        let chunk = Chunk {
            id: &self.id,
            object: if self.text_completion {
                "text_completion"
            } else {
                "chat.completion.chunk"
            },
            created: self.ctx.created,
            model: &self.ctx.model,
            choices,
            usage,
        };
        write_data(out, &chunk);
    }

    fn chat(&mut self, mut delta: ChatDelta<'_>, finish: Option<&str>, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        let choice = ChatChoice {
            index: 0,
            delta,
            finish_reason: finish,
        };
        self.write(std::slice::from_ref(&choice), None, out);
    }

    fn text(&self, text: &str, finish: Option<&str>, out: &mut Vec<u8>) {
        let choice = TextChoice {
            text,
            index: 0,
            logprobs: None,
            finish_reason: finish,
        };
        self.write(std::slice::from_ref(&choice), None, out);
    }

    fn content(&mut self, text: &str, out: &mut Vec<u8>) {
        if self.text_completion {
            self.text(text, None, out);
        } else {
            self.chat(
                ChatDelta {
                    content: Some(text),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    fn tool_arguments(&mut self, ordinal: usize, arguments: &str, out: &mut Vec<u8>) {
        if self.text_completion {
            return;
        }
        let call = ToolCallDelta {
            index: ordinal,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments,
            },
        };
        self.chat(
            ChatDelta {
                tool_calls: Some([call]),
                ..ChatDelta::default()
            },
            None,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::eventstream::{encode, Header, HeaderValue};

    const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

    fn req(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn chat(v: Value, model: &str) -> (String, Value, Rewritten) {
        let (r, rw) = translate_request(Endpoint::ChatCompletions, &req(v), model, false).unwrap();
        (r.path, serde_json::from_slice(&r.body).unwrap(), rw)
    }

    fn chat_err(v: Value, model: &str, drop: bool) -> GatewayError {
        translate_request(Endpoint::ChatCompletions, &req(v), model, drop).unwrap_err()
    }

    fn ctx(model: &str, include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: model.into(),
            include_usage,
        }
    }

    #[test]
    fn model_ids_become_one_encoded_path_segment() {
        assert_eq!(
            model_path(CLAUDE, "converse"),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0";
        assert_eq!(
            model_path(arn, "converse-stream"),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        assert_eq!(base_model(arn), "anthropic.claude-3-haiku-20240307-v1:0");
        assert_eq!(
            base_model("us.amazon.nova-pro-v1:0"),
            "amazon.nova-pro-v1:0"
        );
        assert_eq!(
            base_model("global.anthropic.claude-sonnet-4-5"),
            "anthropic.claude-sonnet-4-5"
        );
    }

    #[test]
    fn parameter_tables_follow_litellm() {
        let t = param_table(Endpoint::ChatCompletions, CLAUDE);
        for ok in [
            "max_tokens",
            "temperature",
            "tools",
            "tool_choice",
            "response_format",
            "stop",
            "top_k",
            "thinking",
        ] {
            assert!(!t.refuses(ok), "{ok}");
        }
        for no in [
            "user",
            "n",
            "logit_bias",
            "parallel_tool_calls",
            "seed",
            "reasoning_effort",
            "frequency_penalty",
        ] {
            assert!(t.refuses(no), "{no}");
        }
        assert!(!param_table(
            Endpoint::ChatCompletions,
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
        )
        .refuses("reasoning_effort"));
        let titan = param_table(Endpoint::ChatCompletions, "amazon.titan-text-express-v1");
        assert!(titan.refuses("tools") && titan.refuses("tool_choice"));
        let llama = param_table(Endpoint::ChatCompletions, "meta.llama3-1-70b-instruct-v1:0");
        assert!(!llama.refuses("tools") && llama.refuses("tool_choice"));
        let opaque = param_table(
            Endpoint::ChatCompletions,
            "arn:aws:bedrock:us-east-1:1:provisioned-model/abc123",
        );
        assert!(!opaque.refuses("tools") && !opaque.refuses("reasoning_effort"));
        let v1 = param_table(Endpoint::Embeddings, "amazon.titan-embed-text-v1");
        assert!(v1.refuses("dimensions") && !v1.refuses("encoding_format"));
        assert!(
            !param_table(Endpoint::Embeddings, "amazon.titan-embed-text-v2:0")
                .refuses("dimensions")
        );
        assert!(
            !param_table(Endpoint::Embeddings, "cohere.embed-english-v3").refuses("input_type")
        );
    }

    #[test]
    fn chat_requests_become_converse() {
        let (path, body, rw) = chat(
            json!({
                "model": CLAUDE,
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "developer", "content": [{"type": "text", "text": "Rule two.", "cache_control": {"type": "ephemeral"}}]},
                    {"role": "user", "content": "Hi"},
                    {"role": "user", "content": [{"type": "text", "text": "there"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
                ],
                "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": ["END", ""],
                "top_k": 40, "requestMetadata": {"team": "a"}, "anthropic_beta": ["x"],
                "stream": false
            }),
            CLAUDE,
        );
        assert_eq!(
            path,
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        assert_eq!(rw, Rewritten::default());
        assert_eq!(
            body,
            json!({
                "messages": [{"role": "user", "content": [
                    {"text": "Hi"}, {"text": "there"},
                    {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
                ]}],
                "system": [{"text": "Be brief."}, {"text": "Rule two."}, {"cachePoint": {"type": "default"}}],
                "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
                "requestMetadata": {"team": "a"},
                "additionalModelRequestFields": {"top_k": 40, "anthropic_beta": ["x"]},
            })
        );
        // A stream goes to converse-stream; Nova's top_k goes into its inferenceConfig.
        let (path, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "stream": true, "top_k": 5}),
            "us.amazon.nova-lite-v1:0",
        );
        assert!(path.ends_with("/converse-stream"), "{path}");
        assert_eq!(
            body["additionalModelRequestFields"],
            json!({"inferenceConfig": {"topK": 5}})
        );
    }

    #[test]
    fn tool_round_trips_become_tool_use_and_results() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                           {"type": "function", "function": {"name": "noargs"}}]);
        let (_, body, _) = chat(
            json!({
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "t2", "type": "function", "function": {"name": "noargs", "arguments": ""}}]},
                    {"role": "tool", "tool_call_id": "t1", "content": "18C"},
                    {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "ok"}]},
                    {"role": "user", "content": "Thanks"}
                ],
                "tools": tools, "tool_choice": "required"
            }),
            CLAUDE,
        );
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"text": "Weather?"}]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "t2", "name": "noargs", "input": {}}}]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                    {"toolResult": {"toolUseId": "t2", "content": [{"text": "ok"}]}},
                    {"text": "Thanks"}]}
            ])
        );
        assert_eq!(
            body["toolConfig"],
            json!({
                "tools": [
                    {"toolSpec": {"name": "get_weather", "description": "Weather", "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}},
                    {"toolSpec": {"name": "noargs", "inputSchema": {"json": {"type": "object", "properties": {}}}}}],
                "toolChoice": {"any": {}}
            })
        );
        let named = chat(json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": {"type": "function", "function": {"name": "noargs"}}}), CLAUDE).1;
        assert_eq!(
            named["toolConfig"]["toolChoice"],
            json!({"tool": {"name": "noargs"}})
        );
        // tool_choice none: a 400 naming it, dropped (tools kept) with drop_params.
        let none = json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": "none"});
        assert_eq!(
            chat_err(none.clone(), CLAUDE, false).param.as_deref(),
            Some("tool_choice")
        );
        let (r, _) =
            translate_request(Endpoint::ChatCompletions, &req(none), CLAUDE, true).unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["toolConfig"].get("toolChoice").is_none() && v["toolConfig"]["tools"].is_array());
        // History with tool calls but no tools: Bedrock needs a toolConfig.
        let e = chat_err(
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "a", "content": "r"}]}),
            CLAUDE,
            false,
        );
        assert_eq!(e.param.as_deref(), Some("tools"));
        let e = chat_err(
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}),
            CLAUDE,
            false,
        );
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
    }

    #[test]
    fn images_need_bytes() {
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
            CLAUDE,
            false,
        );
        assert_eq!(e.status, 400);
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].image_url.url")
        );
        assert!(e.message.contains("does not download"), "{}", e.message);
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}]}]}),
            CLAUDE,
            false,
        );
        assert!(e.message.contains("image/bmp"), "{}", e.message);
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/"}}, {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]}]}),
            CLAUDE,
        );
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"image": {"format": "jpeg", "source": {"bytes": "/9j/"}}},
                {"document": {"format": "pdf", "name": "document 0-1", "source": {"bytes": "JVBERi0="}}}
            ])
        );
    }

    #[test]
    fn json_mode_forces_a_tool_and_fakes_streams() {
        let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
        let (path, body, rw) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "stream": true,
                   "response_format": {"type": "json_schema", "json_schema": {"name": "out", "description": "The answer", "schema": schema}}}),
            CLAUDE,
        );
        assert!(
            path.ends_with("/converse"),
            "a JSON stream is asked whole: {path}"
        );
        assert_eq!(
            rw,
            Rewritten {
                json_tool: true,
                fake_stream: true
            }
        );
        assert_eq!(
            body["toolConfig"],
            json!({
                "tools": [{"toolSpec": {"name": "json_tool_call", "inputSchema": {"json": schema}, "description": "The answer"}}],
                "toolChoice": {"tool": {"name": "json_tool_call"}}
            })
        );
        let (_, body, rw) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}),
            CLAUDE,
        );
        assert_eq!(
            rw,
            Rewritten {
                json_tool: true,
                fake_stream: false
            }
        );
        assert_eq!(
            body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"],
            json!({"type": "object", "additionalProperties": true, "properties": {}})
        );
        let (_, body, rw) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
            CLAUDE,
        );
        assert!(body.get("toolConfig").is_none() && rw == Rewritten::default());
    }

    #[test]
    fn reasoning_maps_per_model_family() {
        let sonnet = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low",
                                       "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}),
            sonnet,
        );
        assert_eq!(
            body["additionalModelRequestFields"],
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})
        );
        assert_eq!(
            body["inferenceConfig"]["maxTokens"],
            1024 + DEFAULT_MAX_TOKENS
        );
        assert_eq!(
            body["toolConfig"]["toolChoice"],
            json!({"auto": {}}),
            "no forced tools while thinking"
        );
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "enabled", "budget_tokens": 10}, "max_tokens": 3000}),
            sonnet,
        );
        assert_eq!(
            body["additionalModelRequestFields"]["thinking"]["budget_tokens"],
            1024
        );
        assert_eq!(body["inferenceConfig"]["maxTokens"], 3000);
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high"}),
            "openai.gpt-oss-120b-1:0",
        );
        assert_eq!(
            body["additionalModelRequestFields"],
            json!({"reasoning_effort": "high"})
        );
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "medium"}),
            "us.amazon.nova-2-lite-v1:0",
        );
        assert_eq!(
            body["additionalModelRequestFields"],
            json!({"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}})
        );
        // Thinking blocks of an earlier turn go back as reasoningContent.
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"},
            {"role": "assistant", "content": "y", "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]}]}),
            sonnet,
        );
        assert_eq!(
            body["messages"][1]["content"],
            json!([
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}}, {"text": "y"}])
        );
    }

    #[test]
    fn completions_and_service_tier() {
        let (r, _) = translate_request(
            Endpoint::Completions,
            &req(json!({"prompt": "Say hi", "max_tokens": 5})),
            CLAUDE,
            false,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v["messages"],
            json!([{"role": "user", "content": [{"text": "Say hi"}]}])
        );
        let (_, body, _) = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "service_tier": "auto"}),
            CLAUDE,
        );
        assert_eq!(body["serviceTier"], json!({"type": "default"}));
    }

    #[test]
    fn converse_answers_become_openai() {
        let body = br#"{"output":{"message":{"role":"assistant","content":[
            {"reasoningContent":{"reasoningText":{"text":"Let me think.","signature":"c2ln"}}},
            {"text":"Calling."},
            {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},
            "stopReason":"tool_use",
            "usage":{"inputTokens":10,"outputTokens":20,"totalTokens":45,"cacheReadInputTokens":5,"cacheWriteInputTokens":10},
            "metrics":{"latencyMs":300}}"#;
        let out = translate_response(
            Endpoint::ChatCompletions,
            body,
            &ctx(CLAUDE, false),
            Some("req-1"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "chatcmpl-req-1");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], CLAUDE);
        let m = &v["choices"][0]["message"];
        assert_eq!(m["content"], "Calling.");
        assert_eq!(m["reasoning_content"], "Let me think.");
        assert_eq!(
            m["thinking_blocks"],
            json!([{"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"}])
        );
        assert_eq!(
            m["tool_calls"],
            json!([{"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 25, "completion_tokens": 20, "total_tokens": 45,
            "prompt_tokens_details": {"cached_tokens": 5}, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 10})
        );
        let cost = crate::cost::usage_of(&out).unwrap();
        assert_eq!(
            (
                cost.prompt_tokens,
                cost.cache_read_tokens,
                cost.cache_creation_tokens
            ),
            (25, 5, 10)
        );
        for (reason, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("model_context_window_exceeded", "length"),
            ("malformed_model_output", "stop"),
        ] {
            assert_eq!(finish_reason(Some(reason)), finish, "{reason}");
        }
        let text = translate_response(Endpoint::Completions, br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#, &ctx(CLAUDE, false), None).unwrap();
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            (v["object"].as_str(), v["choices"][0]["text"].as_str()),
            (Some("text_completion"), Some("Hi"))
        );
        assert_eq!(
            translate_response(
                Endpoint::ChatCompletions,
                b"<html>",
                &ctx(CLAUDE, false),
                None
            )
            .unwrap_err()
            .status,
            502
        );
    }

    #[test]
    fn errors_keep_the_message_and_map_the_type() {
        let body = br#"{"message":"The security token included in the request is invalid."}"#;
        let e = translate_error(403, body, Some("UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/"));
        assert_eq!((e.status, e.kind.as_str()), (401, "authentication_error"));
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
        let e = translate_error(403, br#"{"message":"The request signature we calculated does not match the signature you provided."}"#, Some("InvalidSignatureException"));
        assert_eq!(e.status, 401);
        let e = translate_error(
            403,
            br#"{"message":"You don't have access to the model with the specified model ID."}"#,
            Some("AccessDeniedException"),
        );
        assert_eq!((e.status, e.kind.as_str()), (403, "permission_error"));
        let e = translate_error(
            429,
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            Some("ThrottlingException"),
        );
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
        let e = translate_error(
            429,
            br#"{"message":"Model is not ready"}"#,
            Some("ModelNotReadyException"),
        );
        assert_eq!(e.status, 503);
        let e = translate_error(
            400,
            br#"{"message":"Malformed input request: extraneous key [foo] is not permitted"}"#,
            Some("ValidationException"),
        );
        assert_eq!((e.status, e.param), (400, None));
        // The type from the body when the header is missing; the status else.
        let e = translate_error(
            400,
            br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}"#,
            None,
        );
        assert_eq!((e.status, e.message.as_str()), (400, "bad"));
        assert_eq!(translate_error(418, b"teapot", None).status, 418);
    }

    #[test]
    fn titan_lists_become_one_call_per_input() {
        assert!(may_fan_out("amazon.titan-embed-text-v1"));
        assert!(may_fan_out("amazon.titan-embed-text-v2:0"));
        assert!(may_fan_out("*"), "a wildcard may name a Titan model");
        assert!(!may_fan_out("cohere.embed-english-v3"));
        assert!(!may_fan_out("anthropic.claude-3-haiku-20240307-v1:0"));

        let v2 = "amazon.titan-embed-text-v2:0";
        let calls = titan_calls(
            &req(json!({"input": ["a", "b"], "dimensions": 256, "user": "u"})),
            v2,
        )
        .unwrap()
        .unwrap();
        let bodies: Vec<Value> = calls
            .iter()
            .map(|c| serde_json::from_slice(&c.body).unwrap())
            .collect();
        assert_eq!(
            bodies,
            vec![
                json!({"inputText": "a", "dimensions": 256}),
                json!({"inputText": "b", "dimensions": 256})
            ]
        );
        assert!(calls
            .iter()
            .all(|c| c.path == "/model/amazon.titan-embed-text-v2%3A0/invoke"));
        // v1 takes no dimensions; one text, or another family, is one call.
        let v1 = titan_calls(
            &req(json!({"input": ["a", "b"]})),
            "amazon.titan-embed-text-v1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&v1[1].body).unwrap(),
            json!({"inputText": "b"})
        );
        assert!(titan_calls(&req(json!({"input": ["a"]})), v2)
            .unwrap()
            .is_none());
        assert!(titan_calls(&req(json!({"input": "a"})), v2)
            .unwrap()
            .is_none());
        assert!(titan_calls(
            &req(json!({"input": ["a", "b"]})),
            "cohere.embed-english-v3"
        )
        .unwrap()
        .is_none());
        // Hostile lists: token arrays, non-strings, too many.
        let e = titan_calls(&req(json!({"input": [[1, 2], [3]]})), v2).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = titan_calls(&req(json!({"input": ["a", 5]})), v2).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let many = vec!["x"; MAX_TITAN_INPUTS + 1];
        let e = titan_calls(&req(json!({"input": many})), v2).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("input")));
        assert!(
            e.message.contains("2048") && e.message.contains("2049"),
            "{}",
            e.message
        );

        // Answers: the vector (or embeddingsByType.float) and the token count; merged
        // in order, as floats or base64 of little-endian f32s.
        assert_eq!(
            titan_answer(br#"{"embedding":[0.5],"inputTextTokenCount":2}"#).unwrap(),
            (vec![0.5], 2)
        );
        assert_eq!(
            titan_answer(br#"{"embeddingsByType":{"float":[0.25]},"inputTextTokenCount":1}"#)
                .unwrap(),
            (vec![0.25], 1)
        );
        assert_eq!(
            titan_answer(br#"{"inputTextTokenCount":1}"#)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(titan_answer(b"not json").unwrap_err().status, 502);
        let list: Value = serde_json::from_slice(
            &titan_embedding_list(&[vec![1.0], vec![-2.0]], 5, v2, false).unwrap(),
        )
        .unwrap();
        assert_eq!(
            list["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [-2.0]})
        );
        assert_eq!(
            list["usage"],
            json!({"prompt_tokens": 5, "total_tokens": 5})
        );
        let b64: Value =
            serde_json::from_slice(&titan_embedding_list(&[vec![1.0]], 1, v2, true).unwrap())
                .unwrap();
        assert_eq!(
            b64["data"][0]["embedding"], "AACAPw==",
            "1.0f32, little-endian"
        );
    }

    #[test]
    fn embeddings_titan_and_cohere() {
        let titan = "amazon.titan-embed-text-v2:0";
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["hello"], "dimensions": 256, "normalize": true})),
            titan,
            false,
        )
        .unwrap();
        assert_eq!(r.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"inputText": "hello", "dimensions": 256, "normalize": true})
        );
        let e = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["a", "b"]})),
            titan,
            false,
        )
        .unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("input")));
        assert!(e.message.contains("one text per call"), "{}", e.message);
        let out = translate_response(Endpoint::Embeddings, br#"{"embedding":[0.5,-0.25],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,-0.25]}}"#, &ctx(titan, false), None).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({
            "object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
            "model": titan, "usage": {"prompt_tokens": 3, "total_tokens": 3}})
        );

        let cohere = "cohere.embed-english-v3";
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["a", "b"], "input_type": "search_query"})),
            cohere,
            false,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"texts": ["a", "b"], "input_type": "search_query"})
        );
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": "a"})),
            cohere,
            false,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap()["input_type"],
            "search_document"
        );
        let out = translate_response(Endpoint::Embeddings, br#"{"embeddings":[[0.1],[0.2]],"id":"x","response_type":"embeddings_floats","texts":["a","b"]}"#, &ctx(cohere, false), None).unwrap();
        let out = embedding_usage_from_header(out, Some("4"));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [0.2]})
        );
        assert_eq!(v["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
        let e = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": "a"})),
            "amazon.nova-2-multimodal-embeddings-v1:0",
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
    }

    // ----- streams -----------------------------------------------------------

    fn event(kind: &str, payload: Value) -> Vec<u8> {
        encode(
            &[
                Header {
                    name: ":event-type",
                    value: HeaderValue::String(kind),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("event"),
                },
            ],
            payload.to_string().as_bytes(),
        )
    }

    fn exception(kind: &str, message: &str) -> Vec<u8> {
        encode(
            &[
                Header {
                    name: ":exception-type",
                    value: HeaderValue::String(kind),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("exception"),
                },
            ],
            json!({ "message": message }).to_string().as_bytes(),
        )
    }

    /// A ConverseStream answer in the order AWS documents (ConverseStreamOutput):
    /// messageStart, reasoning, text, a tool block, messageStop, metadata — with the
    /// `p` padding field real events carry.
    fn fixture() -> Vec<u8> {
        [
            event("messageStart", json!({"role": "assistant", "p": "abcd"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Thinking…"}}, "p": "ab"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}})),
            event("contentBlockStop", json!({"contentBlockIndex": 0})),
            event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "Hello "}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "wörld"}})),
            event("contentBlockStop", json!({"contentBlockIndex": 1})),
            event("contentBlockStart", json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_9", "name": "get_weather"}}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\":"}}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "\"Paris\"}"}}})),
            event("contentBlockStop", json!({"contentBlockIndex": 2})),
            event("messageStop", json!({"stopReason": "tool_use"})),
            event("metadata", json!({"usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19, "cacheReadInputTokens": 2}, "metrics": {"latencyMs": 5}})),
        ]
        .concat()
    }

    fn run(chunks: &[&[u8]], include_usage: bool) -> (String, Option<crate::cost::Usage>) {
        let mut t = StreamTranslator::new(
            Endpoint::ChatCompletions,
            ctx(CLAUDE, include_usage),
            Some("rq"),
        );
        let mut out = Vec::new();
        for c in chunks {
            t.push(c, &mut out);
        }
        t.finish(&mut out);
        (String::from_utf8(out).unwrap(), t.usage())
    }

    fn events(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").unwrap();
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn stream_translates_at_every_split() {
        let bytes = fixture();
        let (whole, usage) = run(&[&bytes], true);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(run(&[a, b], true).0, whole, "split at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&one_by_one, true).0, whole);

        let ev = events(&whole);
        assert_eq!(
            ev[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert!(ev.iter().all(|e| e == "[DONE]"
            || (e["id"] == "chatcmpl-rq" && e["object"] == "chat.completion.chunk")));
        let reasoning: String = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["reasoning_content"].as_str())
            .collect();
        assert_eq!(reasoning, "Thinking…");
        assert!(ev
            .iter()
            .any(|e| e["choices"][0]["delta"]["thinking_blocks"][0]["signature"] == "c2ln"));
        let text: String = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello wörld");
        let calls: Vec<&Value> = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        assert_eq!(
            calls[0],
            &json!({"index": 0, "id": "tooluse_9", "type": "function", "function": {"name": "get_weather", "arguments": ""}})
        );
        let args: String = calls
            .iter()
            .filter_map(|c| c["function"]["arguments"].as_str())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        let n = ev.len();
        assert_eq!(ev[n - 3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(ev[n - 2]["choices"], json!([]));
        assert_eq!(ev[n - 2]["usage"]["prompt_tokens"], 14);
        assert_eq!(
            ev[n - 2]["usage"]["prompt_tokens_details"]["cached_tokens"],
            2
        );
        assert_eq!(ev[n - 1], "[DONE]");
        let usage = usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cache_read_tokens
            ),
            (14, 7, 2)
        );

        // Without include_usage: no usage chunk, but the gateway still learns it.
        let (plain, usage) = run(&[&bytes], false);
        assert!(!plain.contains("\"usage\""), "{plain}");
        assert_eq!(usage.map(|u| u.completion_tokens), Some(7));
    }

    #[test]
    fn stream_errors_end_the_stream() {
        let start = event("messageStart", json!({"role": "assistant"}));
        let bytes = [
            start.clone(),
            exception(
                "throttlingException",
                "Too many tokens, please wait before trying again.",
            ),
        ]
        .concat();
        let (sse, _) = run(&[&bytes], true);
        let ev = events(&sse);
        assert_eq!(ev[1]["error"]["code"], "429");
        assert_eq!(
            ev[1]["error"]["message"],
            "Too many tokens, please wait before trying again."
        );
        assert_eq!(ev.last().unwrap(), "[DONE]");
        // A stream cut before messageStop: a 502 error event.
        let (sse, usage) = run(&[&start], true);
        assert!(
            sse.contains("\"code\":\"502\"") && sse.ends_with("data: [DONE]\n\n"),
            "{sse}"
        );
        assert!(usage.is_none());
        // A frame with a bad CRC.
        let mut bad = event("messageStart", json!({"role": "assistant"}));
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let (sse, _) = run(&[&bad], true);
        assert!(sse.contains("\"code\":\"502\""), "{sse}");
        // Complete but for the metadata: [DONE] without usage.
        let stop = event("messageStop", json!({"stopReason": "end_turn"}));
        let (sse, _) = run(&[&start, &stop], true);
        let ev = events(&sse);
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(ev.last().unwrap(), "[DONE]");
        assert!(!sse.contains("error"));
    }

    #[test]
    fn completion_streams_are_text_completions() {
        let bytes = [
            event("messageStart", json!({"role": "assistant"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
            ),
            event("messageStop", json!({"stopReason": "max_tokens"})),
            event(
                "metadata",
                json!({"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}),
            ),
        ]
        .concat();
        let mut t = StreamTranslator::new(Endpoint::Completions, ctx(CLAUDE, true), None);
        let mut out = Vec::new();
        t.push(&bytes, &mut out);
        t.finish(&mut out);
        let ev = events(&String::from_utf8(out).unwrap());
        assert_eq!(ev[0]["choices"][0]["text"], "Hi");
        assert_eq!(ev[0]["object"], "text_completion");
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(ev[2]["usage"]["total_tokens"], 2);
    }

    #[test]
    fn signing_uses_the_bedrock_service() {
        let s = SigV4 {
            credentials: sigv4::Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: Some("tok".into()),
            },
            region: "eu-west-1".into(),
        };
        let headers = s.sign(
            1_700_000_000,
            "bedrock-runtime.eu-west-1.amazonaws.com",
            "/model/m/converse",
            b"{}",
        );
        let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["x-amz-date", "x-amz-security-token", "authorization"]
        );
        assert!(headers[2].1.contains("/eu-west-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"), "{}", headers[2].1);
    }
}
