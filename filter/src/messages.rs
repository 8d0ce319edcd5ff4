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

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::cost::Usage;
use crate::error::GatewayError;
use crate::providers::StreamTranslate;
use crate::request::CowStr;
use crate::sse::SseDecoder;
use crate::wire::anthropic::UsageIn;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The Anthropic error `type` for an HTTP status (LiteLLM's
/// `ANTHROPIC_ERROR_TYPE_MAP`, completed from Anthropic's Errors reference).
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ if status < 500 => "invalid_request_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type","message"}}` for `err`.
pub fn error_value(err: &GatewayError) -> Value {
    json!({
        "type": "error",
        "error": {"type": error_type(err.status), "message": err.message},
    })
}

/// The serialized Anthropic error body for `err`.
pub fn error_body(err: &GatewayError) -> Vec<u8> {
    serde_json::to_vec(&error_value(err)).unwrap_or_default()
}

/// `err` as one Anthropic stream event (`event: error`).
pub fn error_event(err: &GatewayError) -> Vec<u8> {
    let mut out = b"event: error\ndata: ".to_vec();
    out.extend_from_slice(&error_body(err));
    out.extend_from_slice(b"\n\n");
    out
}

/// A provider error on its way to an Anthropic-format client: an Anthropic
/// deployment's own error body (`{"type":"error",…}`) goes back untouched; anything
/// else (a proxy's HTML page, an empty body) becomes one, keeping the status.
pub fn native_error_body(status: u16, body: &[u8]) -> Vec<u8> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(rename = "type", borrow)]
        kind: CowStr<'a>,
        error: Map<String, Value>,
    }
    match serde_json::from_slice::<Shape<'_>>(body) {
        Ok(shape) if shape.kind.as_str() == "error" && shape.error.contains_key("type") => {
            body.to_vec()
        }
        _ => error_body(&crate::providers::anthropic::translate_error(status, body)),
    }
}

/// The answer to `/v1/messages/count_tokens` for a deployment that cannot count.
pub fn count_tokens_unsupported(provider: &str, model: &str) -> GatewayError {
    GatewayError::bad_request(format!(
        "/v1/messages/count_tokens is answered only by Anthropic deployments (their own token counting API); model {model} is served by a {provider} deployment, and the gateway carries no tokenizer to count for it exactly."
    ))
    .with_param("model")
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Request fields translated (or, for `cache_control`, dropped) here; any other
/// field passes on as it is.
const TRANSLATED: [&str; 10] = [
    "cache_control",
    "messages",
    "system",
    "stop_sequences",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    "model",
];

/// Fields of an Anthropic Messages request an Anthropic deployment's
/// `litellm_params` defaults may add (LiteLLM forwards only these natively:
/// `get_supported_anthropic_messages_params`).
pub const NATIVE_PARAMS: [&str; 12] = [
    "max_tokens",
    "metadata",
    "stop_sequences",
    "system",
    "temperature",
    "thinking",
    "tool_choice",
    "tools",
    "top_k",
    "top_p",
    "service_tier",
    "stream",
];

/// An Anthropic request as an OpenAI chat request, with the stop sequences the
/// answer's `stop_sequence` is matched against.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// The OpenAI chat request body.
    pub request: Map<String, Value>,
    /// `stop_sequences` of the request.
    pub stop_sequences: Vec<String>,
}

fn invalid(param: impl Into<String>, message: impl Into<String>) -> GatewayError {
    let param = param.into();
    GatewayError::bad_request(format!("{param}: {}", message.into())).with_param(param)
}

/// Anthropic Messages request → OpenAI chat completions request.
pub fn to_openai_request(request: &Map<String, Value>) -> Result<Translated, GatewayError> {
    let present = |key: &str| request.get(key).filter(|v| !v.is_null());
    let mut out = Map::new();
    if let Some(model) = present("model") {
        out.insert("model".into(), model.clone());
    }
    if present("max_tokens").is_none() {
        return Err(invalid("max_tokens", "Field required"));
    }

    let mut messages = Vec::new();
    if let Some(system) = present("system") {
        if let Some(m) = system_message(system)? {
            messages.push(m);
        }
    }
    let list = present("messages")
        .ok_or_else(|| invalid("messages", "Field required"))?
        .as_array()
        .ok_or_else(|| invalid("messages", "Input should be a valid list"))?;
    for (i, message) in list.iter().enumerate() {
        translate_message(message, i, &mut messages)?;
    }
    out.insert("messages".into(), Value::Array(messages));

    let mut stop_sequences = Vec::new();
    if let Some(stops) = present("stop_sequences") {
        let bad = || invalid("stop_sequences", "Input should be a valid list of strings");
        for s in stops.as_array().ok_or_else(bad)? {
            stop_sequences.push(s.as_str().ok_or_else(bad)?.to_string());
        }
        if !stop_sequences.is_empty() {
            out.insert("stop".into(), json!(stop_sequences));
        }
    }
    if let Some(meta) = present("metadata") {
        let meta = meta
            .as_object()
            .ok_or_else(|| invalid("metadata", "Input should be a valid dictionary"))?;
        match meta.get("user_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(user)) => {
                out.insert("user".into(), Value::String(user.clone()));
            }
            Some(_) => {
                return Err(invalid(
                    "metadata.user_id",
                    "Input should be a valid string",
                ))
            }
        }
    }
    let tools = match present("tools") {
        Some(tools) => translate_tools(tools)?,
        None => Vec::new(),
    };
    if let Some(choice) = present("tool_choice") {
        let (choice, parallel) = translate_tool_choice(choice)?;
        out.insert("tool_choice".into(), choice);
        if parallel == Some(false) && !tools.is_empty() {
            out.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(effort) = present("thinking")
        .map(|t| reasoning_effort(t, present("output_config")))
        .transpose()?
        .flatten()
    {
        out.insert("reasoning_effort".into(), Value::from(effort));
    }
    // `output_config` only steers thinking here (its `effort`); anything else in it
    // has no OpenAI counterpart and passes on for the parameter table to judge.
    if let Some(config) = present("output_config").and_then(Value::as_object) {
        if config.keys().any(|k| k != "effort") {
            out.insert("output_config".into(), Value::Object(config.clone()));
        }
    }
    for (key, value) in request {
        if !TRANSLATED.contains(&key.as_str()) && !value.is_null() {
            out.insert(key.clone(), value.clone());
        }
    }
    Ok(Translated {
        request: out,
        stop_sequences,
    })
}

fn system_message(system: &Value) -> Result<Option<Value>, GatewayError> {
    match system {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(json!({"role": "system", "content": s}))),
        Value::Array(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, block) in blocks.iter().enumerate() {
                let at = format!("system[{k}]");
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(invalid(format!("{at}.type"), "Input should be 'text'"));
                }
                let text = block
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("{at}.text"), "Field required"))?;
                parts.push(json!({"type": "text", "text": text}));
            }
            Ok(match parts.len() {
                0 => None,
                1 => parts
                    .pop()
                    .and_then(|p| p.get("text").cloned())
                    .map(|text| json!({"role": "system", "content": text})),
                _ => Some(json!({"role": "system", "content": parts})),
            })
        }
        _ => Err(invalid("system", "Input should be a valid string or list")),
    }
}

/// One Anthropic turn → its OpenAI messages (tool results first, then the turn).
fn translate_message(message: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    let at = format!("messages[{i}]");
    let obj = message
        .as_object()
        .ok_or_else(|| invalid(&at, "Input should be a valid dictionary"))?;
    let role = obj
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at}.role"), "Field required"))?;
    let content = obj
        .get("content")
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(format!("{at}.content"), "Field required"))?;
    match role {
        "user" => user_turn(content, &at, out),
        "assistant" => assistant_turn(content, &at, out),
        _ => Err(invalid(
            format!("{at}.role"),
            "Input should be 'user' or 'assistant'",
        )),
    }
}

fn blocks<'v>(content: &'v Value, at: &str) -> Result<&'v Vec<Value>, GatewayError> {
    content.as_array().ok_or_else(|| {
        invalid(
            format!("{at}.content"),
            "Input should be a valid string or list",
        )
    })
}

fn block_kind<'v>(block: &'v Value, at: &str) -> Result<&'v str, GatewayError> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at}.type"), "Field required"))
}

fn str_field<'v>(block: &'v Value, field: &str, at: &str) -> Result<&'v str, GatewayError> {
    block
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at}.{field}"), "Field required"))
}

fn user_turn(content: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    if let Value::String(text) = content {
        if !text.is_empty() {
            out.push(json!({"role": "user", "content": text}));
        }
        return Ok(());
    }
    let mut parts = Vec::new();
    for (k, block) in blocks(content, at)?.iter().enumerate() {
        let at = format!("{at}.content[{k}]");
        match block_kind(block, &at)? {
            "tool_result" => out.push(tool_message(block, &at)?),
            _ => parts.push(media_part(block, &at)?),
        }
    }
    if let Some(content) = collapse(parts) {
        out.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

/// Parts as OpenAI content: one text part as a plain string, none as nothing.
fn collapse(mut parts: Vec<Value>) -> Option<Value> {
    if parts.len() == 1 && parts.first().and_then(|p| p.get("type")) == Some(&json!("text")) {
        return parts.pop().and_then(|p| p.get("text").cloned());
    }
    (!parts.is_empty()).then_some(Value::Array(parts))
}

/// A text, image or document block as an OpenAI content part.
fn media_part(block: &Value, at: &str) -> Result<Value, GatewayError> {
    match block_kind(block, at)? {
        "text" => Ok(json!({"type": "text", "text": str_field(block, "text", at)?})),
        "image" => {
            let source = block
                .get("source")
                .ok_or_else(|| invalid(format!("{at}.source"), "Field required"))?;
            let url = match source.get("type").and_then(Value::as_str) {
                Some("base64") => format!(
                    "data:{};base64,{}",
                    str_field(source, "media_type", &format!("{at}.source"))?,
                    str_field(source, "data", &format!("{at}.source"))?
                ),
                Some("url") => str_field(source, "url", &format!("{at}.source"))?.to_string(),
                other => {
                    return Err(invalid(
                        format!("{at}.source.type"),
                        format!("image source {other:?} cannot be sent to a non-Anthropic deployment: use a `base64` or `url` source"),
                    ))
                }
            };
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        "document" => {
            let source = block
                .get("source")
                .ok_or_else(|| invalid(format!("{at}.source"), "Field required"))?;
            let src_at = format!("{at}.source");
            match (
                source.get("type").and_then(Value::as_str),
                source.get("media_type").and_then(Value::as_str),
            ) {
                (Some("base64"), Some("application/pdf")) => {
                    let mut file = Map::new();
                    file.insert(
                        "file_data".into(),
                        Value::String(format!(
                            "data:application/pdf;base64,{}",
                            str_field(source, "data", &src_at)?
                        )),
                    );
                    if let Some(title) = block.get("title").and_then(Value::as_str) {
                        file.insert("filename".into(), Value::from(title));
                    }
                    Ok(json!({"type": "file", "file": file}))
                }
                (Some("text"), _) => {
                    Ok(json!({"type": "text", "text": str_field(source, "data", &src_at)?}))
                }
                _ => Err(invalid(
                    format!("{src_at}.type"),
                    "documents reach non-Anthropic deployments only as base64 PDFs or plain text",
                )),
            }
        }
        other => Err(invalid(
            format!("{at}.type"),
            format!(
                "content blocks of type `{other}` cannot be sent to a non-Anthropic deployment"
            ),
        )),
    }
}

fn tool_message(block: &Value, at: &str) -> Result<Value, GatewayError> {
    let id = str_field(block, "tool_use_id", at)?;
    let content = match block.get("content") {
        None | Some(Value::Null) => Value::from(""),
        Some(Value::String(s)) => Value::from(s.as_str()),
        Some(Value::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for (k, item) in items.iter().enumerate() {
                parts.push(media_part(item, &format!("{at}.content[{k}]"))?);
            }
            collapse(parts).unwrap_or_else(|| Value::from(""))
        }
        Some(_) => {
            return Err(invalid(
                format!("{at}.content"),
                "Input should be a valid string or list",
            ))
        }
    };
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

fn assistant_turn(content: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    if let Value::String(text) = content {
        if !text.is_empty() {
            out.push(json!({"role": "assistant", "content": text}));
        }
        return Ok(());
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for (k, block) in blocks(content, at)?.iter().enumerate() {
        let at = format!("{at}.content[{k}]");
        match block_kind(block, &at)? {
            "text" => text.push_str(str_field(block, "text", &at)?),
            "tool_use" => {
                let input = block
                    .get("input")
                    .filter(|v| v.is_object())
                    .ok_or_else(|| invalid(format!("{at}.input"), "Input should be a valid dictionary"))?;
                calls.push(json!({
                    "id": str_field(block, "id", &at)?,
                    "type": "function",
                    "function": {"name": str_field(block, "name", &at)?, "arguments": input.to_string()},
                }));
            }
            // Claude's own reasoning, signed for Claude: meaningless elsewhere.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(invalid(
                    format!("{at}.type"),
                    format!("assistant content blocks of type `{other}` cannot be sent to a non-Anthropic deployment"),
                ))
            }
        }
    }
    if text.is_empty() && calls.is_empty() {
        return Ok(());
    }
    let content = (!text.is_empty()).then_some(text);
    out.push(if calls.is_empty() {
        json!({"role": "assistant", "content": content})
    } else {
        json!({"role": "assistant", "content": content, "tool_calls": calls})
    });
    Ok(())
}

fn translate_tools(tools: &Value) -> Result<Vec<Value>, GatewayError> {
    let list = tools
        .as_array()
        .ok_or_else(|| invalid("tools", "Input should be a valid list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let at = format!("tools[{i}]");
        if !tool.is_object() {
            return Err(invalid(&at, "Input should be a valid dictionary"));
        }
        match tool.get("type").and_then(Value::as_str) {
            None | Some("custom") => {}
            Some(server) => {
                return Err(invalid(
                    format!("{at}.type"),
                    format!("Anthropic server tool `{server}` runs only on Anthropic deployments; it cannot be translated for this deployment"),
                ))
            }
        }
        let mut function = Map::new();
        function.insert("name".into(), Value::from(str_field(tool, "name", &at)?));
        if let Some(d) = tool.get("description").filter(|d| !d.is_null()) {
            function.insert("description".into(), d.clone());
        }
        let schema = tool
            .get("input_schema")
            .filter(|s| s.is_object())
            .ok_or_else(|| invalid(format!("{at}.input_schema"), "Field required"))?;
        function.insert("parameters".into(), schema.clone());
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// `tool_choice` → (OpenAI `tool_choice`, `disable_parallel_tool_use` negated).
fn translate_tool_choice(choice: &Value) -> Result<(Value, Option<bool>), GatewayError> {
    let kind = choice
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("tool_choice.type", "Field required"))?;
    let openai = match kind {
        "auto" => Value::from("auto"),
        "any" => Value::from("required"),
        "none" => Value::from("none"),
        "tool" => {
            json!({"type": "function", "function": {"name": str_field(choice, "name", "tool_choice")?}})
        }
        _ => {
            return Err(invalid(
                "tool_choice.type",
                "Input should be 'auto', 'any', 'tool' or 'none'",
            ))
        }
    };
    let parallel = match choice.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(disable)) => Some(!disable),
        Some(_) => {
            return Err(invalid(
                "tool_choice.disable_parallel_tool_use",
                "Input should be a valid boolean",
            ))
        }
    };
    Ok((openai, parallel))
}

/// `thinking` → OpenAI's `reasoning_effort` (LiteLLM's
/// `reasoning_effort_from_thinking_budget`, thresholds from `litellm/constants.py`).
fn reasoning_effort(
    thinking: &Value,
    output_config: Option<&Value>,
) -> Result<Option<String>, GatewayError> {
    const LOW: u64 = 1024;
    const MEDIUM: u64 = 2048;
    const HIGH: u64 = 4096;
    match thinking.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(None),
        Some("enabled") => {
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            Ok(Some(
                match budget {
                    b if b >= HIGH => "high",
                    b if b >= MEDIUM => "medium",
                    b if b >= LOW => "low",
                    _ => "minimal",
                }
                .to_string(),
            ))
        }
        Some("adaptive") => Ok(Some(
            output_config
                .and_then(|c| c.get("effort"))
                .and_then(Value::as_str)
                .unwrap_or("medium")
                .to_string(),
        )),
        _ => Err(invalid(
            "thinking.type",
            "Input should be 'enabled', 'disabled' or 'adaptive'",
        )),
    }
}

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/// What the answer translation needs besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesContext {
    /// The model to report when the answer names none.
    pub model: String,
    /// The message id when the answer has none (`msg_…`).
    pub id: String,
    /// The request's `stop_sequences`.
    pub stop_sequences: Vec<String>,
}

#[derive(Deserialize, Default)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl OpenAiUsage {
    /// Anthropic's `usage`: `input_tokens` counts only the uncached prompt.
    fn to_anthropic(&self) -> Value {
        let read = self
            .cache_read_input_tokens
            .or_else(|| {
                self.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens)
            })
            .unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let input = self
            .prompt_tokens
            .saturating_sub(read)
            .saturating_sub(created);
        json!({
            "input_tokens": input,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "output_tokens": self.completion_tokens,
        })
    }
}

/// A chat completion's text content: a string, or (some servers) text parts.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// OpenAI's `finish_reason` (and a server's matched stop string) → Anthropic's
/// `stop_reason` and `stop_sequence`.
fn stop_reason(
    finish: Option<&str>,
    matched: Option<&str>,
    has_tools: bool,
    ctx: &MessagesContext,
) -> (&'static str, Option<String>) {
    if has_tools || matches!(finish, Some("tool_calls") | Some("function_call")) {
        return ("tool_use", None);
    }
    match finish {
        Some("length") => ("max_tokens", None),
        Some("content_filter") => ("refusal", None),
        _ => match matched.filter(|m| ctx.stop_sequences.iter().any(|s| s == m)) {
            Some(m) => ("stop_sequence", Some(m.to_string())),
            None => ("end_turn", None),
        },
    }
}

/// OpenAI chat completion → Anthropic Messages answer.
pub fn from_openai_response(body: &[u8], ctx: &MessagesContext) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("The provider's answer could not be parsed: {e}"),
        )
    })?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| err.as_str())
            .unwrap_or("The provider answered with an error");
        return Err(GatewayError::new(502, message));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut content = Vec::new();
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    if let Some(r) = reasoning {
        content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
    }
    let text = content_text(message.get("content"));
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    let calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for call in calls {
        let function = call.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err(GatewayError::new(
                        502,
                        format!("The provider's call of tool `{name}` has arguments that are not a JSON object: {arguments}"),
                    ))
                }
            }
        };
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or_default(),
            "name": name,
            "input": input,
        }));
    }
    let (reason, sequence) = stop_reason(
        choice.get("finish_reason").and_then(Value::as_str),
        choice.get("stop_reason").and_then(Value::as_str),
        !calls.is_empty(),
        ctx,
    );
    let usage: OpenAiUsage = v
        .get("usage")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    let out = json!({
        "id": v.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(&ctx.id),
        "type": "message",
        "role": "assistant",
        "model": v.get("model").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(&ctx.model),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage.to_anthropic(),
    });
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize the answer: {e}")))
}

/// The usage of an Anthropic answer passed back untouched (for spend).
pub fn native_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct WithUsage {
        #[serde(default)]
        usage: Option<UsageIn>,
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()?
        .usage?
        .to_cost()
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// One OpenAI stream chunk, as far as it is read here.
#[derive(Deserialize)]
struct ChunkIn<'a> {
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    model: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    choices: Vec<ChoiceIn<'a>>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceIn<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<DeltaIn<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<CowStr<'a>>,
    /// vLLM: the stop string that ended the answer (or a token id).
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaIn<'a> {
    #[serde(default, borrow)]
    content: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    tool_calls: Vec<ToolDeltaIn<'a>>,
}

#[derive(Deserialize)]
struct ToolDeltaIn<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionDeltaIn<'a>>,
}

#[derive(Deserialize)]
struct FunctionDeltaIn<'a> {
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    arguments: Option<CowStr<'a>>,
}

fn text<'s>(v: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    v.as_ref().map(CowStr::as_str).filter(|s| !s.is_empty())
}

/// The kind of the Anthropic content block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call: OpenAI's `tool_calls[].index`.
    Tool(u64),
}

/// Writes one Anthropic event: `event: <type>` and its `data:` line.
fn write_event(out: &mut Vec<u8>, value: &Value) {
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    let data_start = out.len();
    crate::providers::anthropic::write_data(out, value);
    if out.len() == data_start {
        out.truncate(start); // not serializable: no half event
    }
}

/// A tool call held for its own block at the end of the answer.
#[derive(Debug, Default)]
struct PendingTool {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// Everything but the decoder (events are borrowed from it while this changes).
#[derive(Debug, Default)]
struct StreamState {
    ctx: MessagesContext,
    started: bool,
    pinged: bool,
    /// The open block: its kind and Anthropic index.
    open: Option<(Open, u64)>,
    /// Blocks opened so far (the next block's index).
    blocks: u64,
    /// OpenAI tool-call index → Anthropic block index.
    tools: Vec<(u64, u64)>,
    /// Tool calls after the first, held until the answer finishes: OpenAI may send
    /// a call's arguments after the next call began, while an Anthropic block must
    /// be whole before the next one starts.
    pending: Vec<PendingTool>,
    finish: Option<(&'static str, Option<String>)>,
    matched_stop: Option<String>,
    usage: Option<OpenAiUsage>,
    done: bool,
}

/// OpenAI chat-completion SSE → Anthropic Messages SSE (see the module docs).
#[derive(Debug)]
pub struct StreamToMessages {
    decoder: SseDecoder,
    state: StreamState,
}

impl std::fmt::Debug for OpenAiUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "usage({} in, {} out)",
            self.prompt_tokens, self.completion_tokens
        )
    }
}

impl StreamToMessages {
    /// A translator for one answer.
    pub fn new(ctx: MessagesContext) -> Self {
        StreamToMessages {
            decoder: SseDecoder::new(),
            state: StreamState {
                ctx,
                ..StreamState::default()
            },
        }
    }
}

impl StreamTranslate for StreamToMessages {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        let state = &mut self.state;
        let fed = self.decoder.feed(chunk, |data| {
            state.handle(data, out);
            !state.done
        });
        if let Err(e) = fed {
            state.fail(
                &GatewayError::new(502, format!("provider stream: {e}")),
                out,
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.decoder.finish();
        if self.state.done {
            return;
        }
        if self.state.finish.is_some() {
            // Finished but never said `[DONE]`: the answer is whole.
            self.state.end(out);
        } else {
            self.state.fail(
                &GatewayError::new(
                    502,
                    "The provider's stream ended before the answer was finished.",
                ),
                out,
            );
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage.as_ref().map(|u| {
            let read = u
                .cache_read_input_tokens
                .or_else(|| {
                    u.prompt_tokens_details
                        .as_ref()
                        .and_then(|d| d.cached_tokens)
                })
                .unwrap_or(0);
            Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                cache_read_tokens: read,
                cache_creation_tokens: u.cache_creation_input_tokens.unwrap_or(0),
            }
        })
    }
}

impl StreamState {
    fn fail(&mut self, err: &GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error_event(err));
        self.done = true;
    }

    fn start(&mut self, id: Option<&str>, model: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = id.unwrap_or(&self.ctx.id).to_string();
        if let Some(model) = model {
            self.ctx.model = model.to_string();
        }
        write_event(
            out,
            &json!({
                "type": "message_start",
                "message": {
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.ctx.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    // OpenAI streams count tokens only at the end (message_delta).
                    "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
                },
            }),
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write_event(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// Makes a block of `kind` the open one (closing another), announced with
    /// `block`; returns its index.
    fn open(&mut self, kind: Open, block: Value, out: &mut Vec<u8>) -> u64 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((kind, index));
        write_event(
            out,
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        if !self.pinged {
            self.pinged = true;
            write_event(out, &json!({"type": "ping"}));
        }
        index
    }

    fn delta(out: &mut Vec<u8>, index: u64, delta: Value) {
        write_event(
            out,
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        if data.trim() == "[DONE]" {
            self.end(out);
            return;
        }
        let chunk: ChunkIn<'_> = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                self.fail(
                    &GatewayError::new(
                        502,
                        format!("The provider sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            let status = err
                .get("code")
                .and_then(|c| {
                    c.as_str()
                        .and_then(|s| s.parse().ok())
                        .or_else(|| c.as_u64().and_then(|n| u16::try_from(n).ok()))
                })
                .filter(|s| (400..600).contains(s))
                .unwrap_or(500);
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| err.as_str())
                .unwrap_or("The provider's stream reported an error.");
            self.fail(&GatewayError::new(status, message), out);
            return;
        }
        self.start(text(&chunk.id), text(&chunk.model), out);
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(delta) = &choice.delta {
                if let Some(r) = text(&delta.reasoning_content).or_else(|| text(&delta.reasoning)) {
                    let index = self.open(
                        Open::Thinking,
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                        out,
                    );
                    Self::delta(out, index, json!({"type": "thinking_delta", "thinking": r}));
                }
                if let Some(t) = text(&delta.content) {
                    let index = self.open(Open::Text, json!({"type": "text", "text": ""}), out);
                    Self::delta(out, index, json!({"type": "text_delta", "text": t}));
                }
                for call in &delta.tool_calls {
                    self.tool_delta(call, out);
                }
            }
            if let Some(Value::String(s)) = &choice.stop_reason {
                self.matched_stop = Some(s.clone());
            }
            if let Some(reason) = text(&choice.finish_reason) {
                self.close(out);
                self.flush_pending(out);
                let has_tools = !self.tools.is_empty();
                let (r, s) = stop_reason(
                    Some(reason),
                    self.matched_stop.as_deref(),
                    has_tools,
                    &self.ctx,
                );
                self.finish = Some((r, s));
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
    }

    fn tool_delta(&mut self, call: &ToolDeltaIn<'_>, out: &mut Vec<u8>) {
        let function = call.function.as_ref();
        let name = function.and_then(|f| text(&f.name));
        let arguments = function.and_then(|f| text(&f.arguments));
        if let Some(held) = self.pending.iter_mut().find(|p| p.index == call.index) {
            held.arguments.push_str(arguments.unwrap_or_default());
            return;
        }
        let first_call = self.tools.is_empty();
        let live = self.tools.iter().any(|(i, _)| *i == call.index);
        if !first_call && !live {
            // A second (third, …) call: its block is written whole at the end, so
            // a late piece of an earlier call's arguments still lands in its block.
            self.pending.push(PendingTool {
                index: call.index,
                id: text(&call.id).unwrap_or_default().to_string(),
                name: name.unwrap_or_default().to_string(),
                arguments: arguments.unwrap_or_default().to_string(),
            });
            return;
        }
        let known = self
            .tools
            .iter()
            .find(|(i, _)| *i == call.index)
            .map(|(_, b)| *b);
        let index = match known {
            Some(index) => index,
            None => {
                // A new call (one that names itself, or arguments for a call never
                // announced): a new tool_use block.
                let block = json!({
                    "type": "tool_use",
                    "id": text(&call.id).unwrap_or_default(),
                    "name": name.unwrap_or_default(),
                    "input": {},
                });
                let index = self.open(Open::Tool(call.index), block, out);
                self.tools.push((call.index, index));
                index
            }
        };
        if let Some(args) = function.and_then(|f| text(&f.arguments)) {
            Self::delta(
                out,
                index,
                json!({"type": "input_json_delta", "partial_json": args}),
            );
        }
    }

    /// Writes the held tool calls, each a whole `tool_use` block, in the order
    /// they began.
    fn flush_pending(&mut self, out: &mut Vec<u8>) {
        for held in std::mem::take(&mut self.pending) {
            let block = json!({"type": "tool_use", "id": held.id, "name": held.name, "input": {}});
            let index = self.open(Open::Tool(held.index), block, out);
            self.tools.push((held.index, index));
            if !held.arguments.is_empty() {
                Self::delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": held.arguments}),
                );
            }
            self.close(out);
        }
    }

    /// `message_delta` and `message_stop`, once.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(None, None, out);
        self.close(out);
        self.flush_pending(out);
        let (reason, sequence) = self.finish.take().unwrap_or(("end_turn", None));
        let usage = self
            .usage
            .as_ref()
            .map(OpenAiUsage::to_anthropic)
            .unwrap_or_else(|| OpenAiUsage::default().to_anthropic());
        write_event(
            out,
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": usage,
            }),
        );
        write_event(out, &json!({"type": "message_stop"}));
        self.done = true;
    }
}

/// A provider's own stream translator followed by [`StreamToMessages`]: provider
/// native → OpenAI SSE → Anthropic SSE, chunk by chunk.
pub struct Chain {
    inner: Box<dyn StreamTranslate>,
    outer: StreamToMessages,
    buf: Vec<u8>,
}

impl Chain {
    /// `inner` must emit OpenAI SSE with the usage chunk (build it with
    /// `include_usage` set).
    pub fn new(inner: Box<dyn StreamTranslate>, ctx: MessagesContext) -> Self {
        Chain {
            inner,
            outer: StreamToMessages::new(ctx),
            buf: Vec::new(),
        }
    }
}

impl StreamTranslate for Chain {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.buf.clear();
        self.inner.push(chunk, &mut self.buf);
        self.outer.push(&self.buf, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.buf.clear();
        self.inner.finish(&mut self.buf);
        self.outer.push(&self.buf, out);
        self.outer.finish(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().or_else(|| self.outer.usage())
    }
}

/// An Anthropic deployment's stream, passed through untouched and read for its
/// usage (`message_start.message.usage`, then each `message_delta.usage`). A stream
/// that ends before `message_stop` (or an `error` event) gets an `event: error`
/// appended, so the client does not take half an answer for a whole one.
#[derive(Debug, Default)]
pub struct NativeTap {
    decoder: SseDecoder,
    usage: UsageIn,
    ended: bool,
}

#[derive(Deserialize)]
struct NativeEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: CowStr<'a>,
    #[serde(default)]
    message: Option<NativeMessage>,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Deserialize)]
struct NativeMessage {
    #[serde(default)]
    usage: Option<UsageIn>,
}

impl NativeTap {
    /// A tap for one stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamTranslate for NativeTap {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(chunk);
        let (usage, ended) = (&mut self.usage, &mut self.ended);
        // An event too large to read passes all the same; only its usage is lost.
        let _ = self.decoder.feed(chunk, |data| {
            if let Ok(e) = serde_json::from_str::<NativeEvent<'_>>(data) {
                if let Some(u) = e.message.as_ref().and_then(|m| m.usage.as_ref()) {
                    usage.merge(u);
                }
                if let Some(u) = &e.usage {
                    usage.merge(u);
                }
                if matches!(e.kind.as_str(), "message_stop" | "error") {
                    *ended = true;
                }
            }
            true
        });
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.decoder.finish();
        if !self.ended {
            self.ended = true;
            out.extend_from_slice(&error_event(&GatewayError::new(
                502,
                "The upstream Anthropic stream ended early, before message_stop.",
            )));
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.to_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn openai(v: Value) -> Value {
        Value::Object(to_openai_request(&map(v)).unwrap().request)
    }

    fn refused(v: Value) -> GatewayError {
        to_openai_request(&map(v)).unwrap_err()
    }

    fn ctx() -> MessagesContext {
        MessagesContext {
            model: "m".into(),
            id: "msg_rid".into(),
            stop_sequences: vec!["END".into()],
        }
    }

    #[test]
    fn error_types_follow_litellm_and_anthropic() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
            (405, "invalid_request_error"),
        ] {
            assert_eq!(error_type(status), kind, "{status}");
        }
        let body: Value =
            serde_json::from_slice(&error_body(&GatewayError::unknown_model("x"))).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model=x"));
        let event = String::from_utf8(error_event(&GatewayError::new(529, "busy"))).unwrap();
        assert!(event.starts_with("event: error\ndata: {"), "{event}");
        assert!(event.ends_with("\n\n") && event.contains("overloaded_error"));
    }

    #[test]
    fn native_errors_pass_untouched_or_get_wrapped() {
        let anthropic = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}"#;
        assert_eq!(native_error_body(429, anthropic), anthropic.to_vec());
        let wrapped: Value =
            serde_json::from_slice(&native_error_body(502, b"<html>bad gateway</html>")).unwrap();
        assert_eq!(wrapped["type"], "error");
        assert_eq!(wrapped["error"]["type"], "api_error");
        assert!(wrapped["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad gateway"));
    }

    #[test]
    fn simple_request_with_system_and_sampling() {
        let v = openai(json!({
            "model": "claude-x", "max_tokens": 100, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.5, "top_p": 0.9, "top_k": 5, "stream": true,
            "stop_sequences": ["END", "STOP"], "metadata": {"user_id": "u-1"},
        }));
        assert_eq!(
            v,
            json!({
                "model": "claude-x",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                "stop": ["END", "STOP"], "user": "u-1",
                "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "top_k": 5, "stream": true,
            })
        );
        let t = to_openai_request(&map(
            json!({"max_tokens": 1, "messages": [], "stop_sequences": ["a"]}),
        ))
        .unwrap();
        assert_eq!(t.stop_sequences, ["a"]);
    }

    #[test]
    fn system_blocks_become_parts() {
        let v = openai(json!({
            "max_tokens": 1, "messages": [{"role": "user", "content": "x"}],
            "system": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "B"}],
        }));
        assert_eq!(
            v["messages"][0],
            json!({"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]})
        );
        let v = openai(
            json!({"max_tokens": 1, "messages": [], "system": [{"type": "text", "text": "only"}]}),
        );
        assert_eq!(
            v["messages"][0],
            json!({"role": "system", "content": "only"})
        );
    }

    #[test]
    fn images_documents_and_text_parts() {
        let v = openai(
            json!({"max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": "a.pdf"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
            ]}]}),
        );
        assert_eq!(
            v["messages"][0]["content"],
            json!([
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
                {"type": "text", "text": "plain"},
            ])
        );
        let err = refused(
            json!({"max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
        );
        assert_eq!(
            err.param.as_deref(),
            Some("messages[0].content[0].source.type")
        );
        let err = refused(
            json!({"max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "search_result", "source": "x"}]}]}),
        );
        assert_eq!(err.param.as_deref(), Some("messages[0].content[0].type"));
    }

    #[test]
    fn tool_round_trip_turns() {
        let v = openai(json!({"max_tokens": 1, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "noon"}], "is_error": false},
                {"type": "text", "text": "And tomorrow?"},
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_3", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3"}]},
        ]}));
        assert_eq!(
            v["messages"],
            json!([
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "15C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "noon"},
                {"role": "user", "content": "And tomorrow?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_3", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "toolu_3", "content": ""},
            ])
        );
    }

    #[test]
    fn tools_and_tool_choice() {
        let tools = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}}]);
        let v = openai(json!({"max_tokens": 1, "messages": [], "tools": tools,
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}));
        assert_eq!(
            v["tools"],
            json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
        );
        assert_eq!(v["tool_choice"], "required");
        assert_eq!(v["parallel_tool_calls"], false);
        for (choice, expected) in [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "none"}), json!("none")),
            (
                json!({"type": "tool", "name": "get_weather"}),
                json!({"type": "function", "function": {"name": "get_weather"}}),
            ),
        ] {
            let v = openai(
                json!({"max_tokens": 1, "messages": [], "tools": tools, "tool_choice": choice}),
            );
            assert_eq!(v["tool_choice"], expected);
            assert!(v.get("parallel_tool_calls").is_none());
        }
        let err = refused(
            json!({"max_tokens": 1, "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        );
        assert_eq!(err.param.as_deref(), Some("tools[0].type"));
        assert!(err.message.contains("web_search_20250305"));
        let err = refused(
            json!({"max_tokens": 1, "messages": [], "tools": tools, "tool_choice": {"type": "sometimes"}}),
        );
        assert_eq!(err.param.as_deref(), Some("tool_choice.type"));
    }

    #[test]
    fn thinking_becomes_reasoning_effort() {
        for (thinking, effort) in [
            (
                json!({"type": "enabled", "budget_tokens": 1024}),
                Some("low"),
            ),
            (
                json!({"type": "enabled", "budget_tokens": 2048}),
                Some("medium"),
            ),
            (
                json!({"type": "enabled", "budget_tokens": 10000}),
                Some("high"),
            ),
            (
                json!({"type": "enabled", "budget_tokens": 100}),
                Some("minimal"),
            ),
            (json!({"type": "adaptive"}), Some("medium")),
            (json!({"type": "disabled"}), None),
        ] {
            let v = openai(json!({"max_tokens": 1, "messages": [], "thinking": thinking}));
            assert_eq!(
                v.get("reasoning_effort").and_then(Value::as_str),
                effort,
                "{thinking}"
            );
            assert!(v.get("thinking").is_none());
        }
        let v = openai(
            json!({"max_tokens": 1, "messages": [], "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
        );
        assert_eq!(v["reasoning_effort"], "high");
        assert!(v.get("output_config").is_none());
    }

    #[test]
    fn unknown_fields_pass_for_the_parameter_table() {
        let v = openai(
            json!({"max_tokens": 1, "messages": [], "service_tier": "auto", "num_retries": 1}),
        );
        assert_eq!(v["service_tier"], "auto");
        assert_eq!(v["num_retries"], 1);
    }

    #[test]
    fn malformed_requests_name_the_field() {
        for (body, param) in [
            (json!({"messages": []}), "max_tokens"),
            (json!({"max_tokens": 1}), "messages"),
            (json!({"max_tokens": 1, "messages": "hi"}), "messages"),
            (
                json!({"max_tokens": 1, "messages": [{"role": "system", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"max_tokens": 1, "messages": [{"role": "user"}]}),
                "messages[0].content",
            ),
            (
                json!({"max_tokens": 1, "messages": [{"role": "user", "content": [{"text": "x"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"max_tokens": 1, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": "x"}]}]}),
                "messages[0].content[0].input",
            ),
            (
                json!({"max_tokens": 1, "messages": [], "stop_sequences": [1]}),
                "stop_sequences",
            ),
            (
                json!({"max_tokens": 1, "messages": [], "metadata": {"user_id": 5}}),
                "metadata.user_id",
            ),
            (
                json!({"max_tokens": 1, "messages": [], "system": 5}),
                "system",
            ),
            (
                json!({"max_tokens": 1, "messages": [], "thinking": {"type": "maybe"}}),
                "thinking.type",
            ),
        ] {
            let err = refused(body.clone());
            assert_eq!(
                (err.status, err.param.as_deref()),
                (400, Some(param)),
                "{body}"
            );
        }
    }

    #[test]
    fn answer_with_text_tools_reasoning_and_cache_usage() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "think",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "prompt_tokens_details": {"cached_tokens": 30}},
        });
        let out: Value = serde_json::from_slice(
            &from_openai_response(&serde_json::to_vec(&body).unwrap(), &ctx()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-4o",
                "content": [
                    {"type": "thinking", "thinking": "think", "signature": ""},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 70, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30, "output_tokens": 20},
            })
        );
    }

    fn answer(finish: &str, extra: Value) -> Value {
        let mut choice = json!({"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}});
        if let (Some(c), Some(e)) = (choice.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let body = json!({"id": "", "choices": [choice]});
        serde_json::from_slice(
            &from_openai_response(&serde_json::to_vec(&body).unwrap(), &ctx()).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(answer("stop", json!({}))["stop_reason"], "end_turn");
        assert_eq!(answer("length", json!({}))["stop_reason"], "max_tokens");
        assert_eq!(
            answer("content_filter", json!({}))["stop_reason"],
            "refusal"
        );
        let a = answer("stop", json!({"stop_reason": "END"}));
        assert_eq!(
            (a["stop_reason"].as_str(), a["stop_sequence"].as_str()),
            (Some("stop_sequence"), Some("END"))
        );
        // A matched string the client never asked for is not a stop sequence.
        assert_eq!(
            answer("stop", json!({"stop_reason": "OTHER"}))["stop_reason"],
            "end_turn"
        );
        // No id, no model, no usage: the fallbacks, zero counts.
        let a = answer("stop", json!({}));
        assert_eq!(
            (a["id"].as_str(), a["model"].as_str()),
            (Some("msg_rid"), Some("m"))
        );
        assert_eq!(a["usage"]["output_tokens"], 0);
    }

    #[test]
    fn bad_answers_are_errors() {
        assert_eq!(
            from_openai_response(b"nope", &ctx()).unwrap_err().status,
            502
        );
        let err = from_openai_response(br#"{"error":{"message":"boom"}}"#, &ctx()).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (502, "boom"));
        let bad_args = br#"{"choices":[{"finish_reason":"tool_calls","message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}}]}"#;
        assert!(from_openai_response(bad_args, &ctx())
            .unwrap_err()
            .message
            .contains("`f`"));
    }

    #[test]
    fn native_usage_counts_cache_into_the_prompt() {
        let u = native_usage(br#"{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":7}}"#).unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cache_read_tokens,
                u.cache_creation_tokens
            ),
            (17, 7, 5, 2)
        );
        assert_eq!(native_usage(b"{}"), None);
    }

    // -- streams ------------------------------------------------------------

    /// An OpenAI stream (gpt-4o shape, `include_usage` set): text, then two
    /// parallel tool calls whose first argument pieces arrive with their names,
    /// then the finish chunk and the usage chunk.
    const OPENAI_STREAM: &str = concat!(
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Let me think\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo \"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"wörld\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":12,\"total_tokens\":62,\"prompt_tokens_details\":{\"cached_tokens\":10}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Option<Usage>) {
        let mut t = StreamToMessages::new(ctx());
        let mut out = Vec::new();
        for c in chunks {
            t.push(c, &mut out);
        }
        t.finish(&mut out);
        (out, t.usage())
    }

    /// (event name, data) of each event.
    fn events(out: &[u8]) -> Vec<(String, Value)> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_string();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], name.as_str(), "event name = data type");
                (name, data)
            })
            .collect()
    }

    #[test]
    fn stream_has_anthropics_event_sequence() {
        let (out, usage) = run(&[OPENAI_STREAM.as_bytes()]);
        let evs = events(&out);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(
            evs[0].1["message"],
            json!({"id": "chatcmpl-9", "type": "message", "role": "assistant", "model": "gpt-4o", "content": [],
                   "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}})
        );
        assert_eq!(
            evs[1].1,
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
        );
        assert_eq!(
            evs[3].1,
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}})
        );
        assert_eq!(
            evs[5].1["content_block"],
            json!({"type": "text", "text": ""})
        );
        assert_eq!(
            evs[6].1["delta"],
            json!({"type": "text_delta", "text": "Héllo "})
        );
        assert_eq!(
            evs[9].1,
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}})
        );
        let args: String = [&evs[10].1, &evs[11].1]
            .iter()
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        assert_eq!(evs[13].1["content_block"]["name"], "get_time");
        assert_eq!(
            evs[14].1,
            json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}})
        );
        assert_eq!(
            evs[16].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10, "output_tokens": 12}})
        );
        let u = usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
            (50, 12, 10)
        );
    }

    /// OpenAI may send a call's arguments after the next call began; each
    /// Anthropic block must still be whole before the next starts.
    #[test]
    fn interleaved_tool_call_arguments_stay_in_their_blocks() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"b\",\"arguments\":\"{\\\"y\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}},{\"index\":1,\"function\":{\"arguments\":\"2}\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let (out, _) = run(&[stream.as_bytes()]);
        let evs = events(&out);
        // Per block: start, deltas, stop — no event for a block after its stop.
        let mut stopped: Vec<u64> = Vec::new();
        let mut args: std::collections::BTreeMap<u64, String> = Default::default();
        let mut names: Vec<String> = Vec::new();
        for (name, data) in &evs {
            let Some(index) = data["index"].as_u64() else {
                continue;
            };
            assert!(
                !stopped.contains(&index),
                "{name} for block {index} after its stop: {evs:?}"
            );
            match name.as_str() {
                "content_block_start" => {
                    assert!(
                        stopped.len() as u64 == index,
                        "block {index} opened before the last closed"
                    );
                    names.push(data["content_block"]["name"].as_str().unwrap().to_string());
                }
                "content_block_delta" => args
                    .entry(index)
                    .or_default()
                    .push_str(data["delta"]["partial_json"].as_str().unwrap()),
                "content_block_stop" => stopped.push(index),
                _ => {}
            }
        }
        assert_eq!(names, ["a", "b"]);
        assert_eq!(args[&0], "{\"x\":1}");
        assert_eq!(args[&1], "{\"y\":2}");
        assert_eq!(evs.last().unwrap().0, "message_stop");
        let stop = evs.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        let bytes = OPENAI_STREAM.as_bytes();
        let (whole, _) = run(&[bytes]);
        for cut in 0..=bytes.len() {
            let (split, _) = run(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(split, whole, "split at byte {cut}");
        }
        // Byte by byte, too.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&singles).0, whole);
    }

    #[test]
    fn events_are_written_as_soon_as_complete() {
        let first_two: String = OPENAI_STREAM.split_inclusive("\n\n").take(3).collect();
        let mut t = StreamToMessages::new(ctx());
        let mut out = Vec::new();
        t.push(first_two.as_bytes(), &mut out);
        let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta"
            ]
        );
    }

    #[test]
    fn stop_sequence_and_length_in_streams() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        let evs = events(&run(&[stream.as_bytes()]).0);
        let delta = &evs.iter().find(|(n, _)| n == "message_delta").unwrap().1;
        assert_eq!(
            delta["delta"],
            json!({"stop_reason": "stop_sequence", "stop_sequence": "END"})
        );
        let stream = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"length\"}]}\n\n";
        // No [DONE]: the finish reason makes the answer whole at the end.
        let evs = events(&run(&[stream.as_bytes()]).0);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(evs[5].1["delta"]["stop_reason"], "max_tokens");
    }

    #[test]
    fn errors_and_cut_streams_end_with_an_error_event() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"service_unavailable_error\",\"param\":null,\"code\":\"503\"}}\n\n",
            "data: [DONE]\n\n"
        );
        let evs = events(&run(&[stream.as_bytes()]).0);
        let (name, last) = evs.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(
            last["error"],
            json!({"type": "overloaded_error", "message": "Overloaded"})
        );
        assert!(!evs.iter().any(|(n, _)| n == "message_stop"));

        let cut = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"id\"";
        let evs = events(&run(&[cut.as_bytes()]).0);
        assert_eq!(evs.last().unwrap().1["error"]["type"], "api_error");

        let evs = events(&run(&[b"data: not json\n\n"]).0);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].0, "error");
        // An empty stream still ends in an error, never silence.
        assert_eq!(events(&run(&[]).0)[0].0, "error");
    }

    #[test]
    fn chain_runs_a_provider_translator_first() {
        // The OpenAI usage tap with the usage chunk kept, as the upstream stage
        // builds it for Anthropic-format clients.
        let inner = Box::new(crate::providers::openai::UsageTap::new(false));
        let mut chain = Chain::new(inner, ctx());
        let mut out = Vec::new();
        for piece in OPENAI_STREAM.as_bytes().chunks(7) {
            chain.push(piece, &mut out);
        }
        chain.finish(&mut out);
        assert_eq!(out, run(&[OPENAI_STREAM.as_bytes()]).0);
        assert_eq!(chain.usage().unwrap().prompt_tokens, 50);
    }

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn native_tap_passes_bytes_and_reads_usage() {
        let bytes = ANTHROPIC_STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            let mut tap = NativeTap::new();
            let mut out = Vec::new();
            tap.push(&bytes[..cut], &mut out);
            tap.push(&bytes[cut..], &mut out);
            tap.finish(&mut out);
            assert_eq!(out, bytes, "split at {cut}");
            let u = tap.usage().unwrap();
            assert_eq!(
                (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
                (30, 15, 5)
            );
        }
        // Cut before message_stop: an error event is appended.
        let head = &bytes[..bytes.len() - 50];
        let mut tap = NativeTap::new();
        let mut out = Vec::new();
        tap.push(head, &mut out);
        tap.finish(&mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("\"type\":\"api_error\",\"message\":\"The upstream Anthropic stream ended early, before message_stop.\"}}\n\n"));
    }
}
