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
//! [`StreamTranslator`] decodes Anthropic's SSE with [`SseDecoder`] and writes one
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

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::present;
use super::{ResponseContext, StreamTranslate};
use crate::codec::sse::SseDecoder;
use crate::endpoint::Endpoint;
use crate::error::{type_for_status, GatewayError};
use crate::request::CowStr;

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

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// OpenAI request → Anthropic Messages request body.
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let (system, messages) = match endpoint {
        Endpoint::Embeddings => return Err(no_embeddings()),
        Endpoint::ChatCompletions => {
            let messages = present(request, "messages").ok_or_else(|| {
                GatewayError::invalid_param("messages", "Missing required parameter: `messages`.")
            })?;
            translate_messages(messages)?
        }
        Endpoint::Completions => (None, vec![prompt_turn(present(request, "prompt"))?]),
    };

    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_string()));
    if let Some(system) = system {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), Value::Array(messages));
    let thinking = thinking(request)?;
    let mut max_tokens = max_tokens(request)?;
    if let Some(budget) = thinking
        .as_ref()
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64)
    {
        // LiteLLM (`update_optional_params_with_thinking_tokens`): without a client
        // limit the answer gets the thinking budget on top of the default, as
        // Anthropic wants `max_tokens` above `budget_tokens`.
        if present(request, "max_tokens").is_none()
            && present(request, "max_completion_tokens").is_none()
        {
            max_tokens = budget.saturating_add(DEFAULT_MAX_TOKENS);
        }
    }
    body.insert("max_tokens".into(), Value::from(max_tokens));
    if let Some(stop) = stop_sequences(present(request, "stop"))? {
        body.insert("stop_sequences".into(), stop);
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = present(request, key) {
            if !v.is_number() {
                return Err(GatewayError::invalid_param(
                    key,
                    format!("`{key}` must be a number."),
                ));
            }
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = present(request, "top_k") {
        if v.as_u64().is_none() {
            return Err(GatewayError::invalid_param(
                "top_k",
                "`top_k` must be a non-negative integer.",
            ));
        }
        body.insert("top_k".into(), v.clone());
    }
    if let Some(n) = present(request, "n") {
        if n.as_u64() != Some(1) {
            return Err(GatewayError::invalid_param(
                "n",
                "Anthropic returns one choice per request: `n` must be 1.",
            ));
        }
    }
    if let Some(user) = present(request, "user") {
        let user = user
            .as_str()
            .ok_or_else(|| GatewayError::invalid_param("user", "`user` must be a string."))?;
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(stream) = present(request, "stream") {
        if !stream.is_boolean() {
            return Err(GatewayError::invalid_param(
                "stream",
                "`stream` must be a boolean.",
            ));
        }
        body.insert("stream".into(), stream.clone());
    }
    if endpoint == Endpoint::ChatCompletions {
        let tools = translate_tools(present(request, "tools"))?;
        let mut choice = translate_tool_choice(present(request, "tool_choice"))?;
        let parallel = match present(request, "parallel_tool_calls") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(GatewayError::invalid_param(
                    "parallel_tool_calls",
                    "`parallel_tool_calls` must be a boolean.",
                ))
            }
        };
        if !parallel && tools.is_some() {
            let choice = choice.get_or_insert_with(|| {
                let mut m = Map::new();
                m.insert("type".into(), Value::from("auto"));
                m
            });
            if choice.get("type").and_then(Value::as_str) != Some("none") {
                choice.insert("disable_parallel_tool_use".into(), Value::Bool(true));
            }
        }
        let mut tools = tools;
        if let Some(format) = present(request, "response_format") {
            if !format.is_object() {
                return Err(GatewayError::invalid_param(
                    "response_format",
                    "`response_format` must be an object.",
                ));
            }
            if wants_json(Some(format)) {
                // LiteLLM's JSON mode for Anthropic: a tool whose input schema is the
                // wanted one, forced unless thinking is on (Anthropic refuses forced
                // tools with thinking).
                let schema = format
                    .get("response_schema")
                    .or_else(|| format.get("json_schema").and_then(|s| s.get("schema")));
                let mut input_schema = Map::new();
                input_schema.insert("type".into(), json!("object"));
                match schema.and_then(Value::as_object) {
                    Some(schema) => {
                        for (k, v) in schema {
                            input_schema.insert(k.clone(), v.clone());
                        }
                    }
                    None => {
                        input_schema.insert("additionalProperties".into(), json!(true));
                        input_schema.insert("properties".into(), json!({}));
                    }
                }
                tools
                    .get_or_insert_with(Vec::new)
                    .push(json!({"name": JSON_TOOL, "input_schema": Value::Object(input_schema)}));
                if thinking.is_none() {
                    let mut forced = Map::new();
                    forced.insert("name".into(), json!(JSON_TOOL));
                    forced.insert("type".into(), json!("tool"));
                    choice = Some(forced);
                }
            }
        }
        if let Some(tools) = tools {
            body.insert("tools".into(), Value::Array(tools));
        }
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), Value::Object(choice));
        }
        if let Some(thinking) = thinking {
            body.insert("thinking".into(), thinking);
        }
    }

    super::serialize_request(&Value::Object(body))
}

/// `thinking` as the client sent it (an object), or the budget LiteLLM gives a
/// `reasoning_effort`.
fn thinking(request: &Map<String, Value>) -> Result<Option<Value>, GatewayError> {
    if let Some(thinking) = present(request, "thinking") {
        if !thinking.is_object() {
            return Err(GatewayError::invalid_param(
                "thinking",
                "`thinking` must be an object such as {\"type\": \"enabled\", \"budget_tokens\": 1024}.",
            ));
        }
        return Ok(Some(thinking.clone()));
    }
    let Some(effort) = present(request, "reasoning_effort") else {
        return Ok(None);
    };
    let budget = effort.as_str().and_then(thinking_budget).ok_or_else(|| {
        GatewayError::invalid_param(
            "reasoning_effort",
            format!("Unsupported `reasoning_effort` {effort}: use low, medium or high."),
        )
    })?;
    Ok(Some(json!({"type": "enabled", "budget_tokens": budget})))
}

fn max_tokens(request: &Map<String, Value>) -> Result<u64, GatewayError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(request, key) {
            return match v.as_u64() {
                Some(n) if n > 0 => Ok(n),
                _ => Err(GatewayError::invalid_param(
                    key,
                    format!("`{key}` must be a positive integer."),
                )),
            };
        }
    }
    Ok(DEFAULT_MAX_TOKENS)
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let bad =
        || GatewayError::invalid_param("stop", "`stop` must be a string or an array of strings.");
    match stop {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(json!([s]))),
        Some(Value::Array(list)) => {
            if list.iter().any(|s| !s.is_string()) {
                return Err(bad());
            }
            Ok((!list.is_empty()).then(|| Value::Array(list.clone())))
        }
        Some(_) => Err(bad()),
    }
}

fn prompt_turn(prompt: Option<&Value>) -> Result<Value, GatewayError> {
    let text = match prompt {
        None => {
            return Err(GatewayError::invalid_param(
                "prompt",
                "Missing required parameter: `prompt`.",
            ))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => s.as_str(),
            [] => {
                return Err(GatewayError::invalid_param(
                    "prompt",
                    "`prompt` must not be empty.",
                ))
            }
            [Value::String(_), ..] => {
                return Err(GatewayError::invalid_param(
                    "prompt",
                    "Anthropic completes one prompt per request: send an array of one string.",
                ))
            }
            _ => return Err(GatewayError::invalid_param(
                "prompt",
                "Token-id prompts are not supported for Anthropic: send the prompt as a string.",
            )),
        },
        Some(_) => {
            return Err(GatewayError::invalid_param(
                "prompt",
                "`prompt` must be a string or an array of one string.",
            ))
        }
    };
    Ok(json!({ "role": "user", "content": text }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// Which content parts a message may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parts {
    /// Text only (system and assistant messages).
    Text,
    /// Text, images and documents (user and tool messages).
    Media,
}

fn invalid_at(param: impl AsRef<str>, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_param(param.as_ref(), message)
}

/// OpenAI `messages` → (Anthropic `system`, Anthropic `messages`).
fn translate_messages(messages: &Value) -> Result<(Option<Value>, Vec<Value>), GatewayError> {
    let list = messages.as_array().ok_or_else(|| {
        GatewayError::invalid_param(
            "messages",
            "`messages` must be an array of message objects.",
        )
    })?;
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();

    for (i, message) in list.iter().enumerate() {
        let obj = message.as_object().ok_or_else(|| {
            invalid_at(format!("messages[{i}]"), "Each message must be an object.")
        })?;
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid_at(
                format!("messages[{i}].role"),
                "Each message needs a string `role`.",
            )
        })?;
        let cache_control = obj.get("cache_control").filter(|v| v.is_object());
        match role {
            "system" | "developer" => {
                let mut blocks = match obj.get("content") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(content) => content_blocks(content, i, Parts::Text)?,
                };
                mark_last(&mut blocks, cache_control);
                system.extend(blocks);
            }
            "user" => {
                let content = obj.get("content").filter(|v| !v.is_null()).ok_or_else(|| {
                    invalid_at(
                        format!("messages[{i}].content"),
                        "User messages need `content`.",
                    )
                })?;
                let mut blocks = content_blocks(content, i, Parts::Media)?;
                mark_last(&mut blocks, cache_control);
                push_turn(&mut turns, Role::User, blocks);
            }
            "assistant" => {
                let mut blocks = match obj.get("content") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(content) => content_blocks(content, i, Parts::Text)?,
                };
                if let Some(calls) = obj.get("tool_calls").filter(|v| !v.is_null()) {
                    tool_use_blocks(calls, i, &mut blocks)?;
                }
                mark_last(&mut blocks, cache_control);
                push_turn(&mut turns, Role::Assistant, blocks);
            }
            "tool" => {
                let mut blocks = vec![tool_result_block(obj, i)?];
                mark_last(&mut blocks, cache_control);
                push_turn(&mut turns, Role::User, blocks);
            }
            "function" => return Err(invalid_at(
                format!("messages[{i}].role"),
                "Legacy `function` messages are not supported for Anthropic; use `tool` messages.",
            )),
            other => {
                return Err(invalid_at(
                    format!("messages[{i}].role"),
                    format!(
                    "Unknown role `{other}`: expected system, developer, user, assistant or tool."
                ),
                ))
            }
        }
    }

    if turns.is_empty() {
        return Err(GatewayError::invalid_param(
            "messages",
            "`messages` must include at least one user or assistant message with content.",
        ));
    }

    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            if role == Role::User {
                // Stable: tool results first, everything else after, order kept.
                blocks.sort_by_key(|b| block_type(b) != Some("tool_result"));
            }
            json!({ "role": role.as_str(), "content": collapse(blocks) })
        })
        .collect();
    Ok((system_value(system), messages))
}

fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// Appends a turn, merging it into the previous one when the role repeats. Empty
/// turns are dropped.
fn push_turn(turns: &mut Vec<(Role, Vec<Value>)>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// A message-level `cache_control` applies to the message's last block.
fn mark_last(blocks: &mut [Value], cache_control: Option<&Value>) {
    if let (Some(cc), Some(Value::Object(last))) = (cache_control, blocks.last_mut()) {
        last.insert("cache_control".into(), cc.clone());
    }
}

/// One plain text block is sent as a string; anything else as a block array.
fn collapse(mut blocks: Vec<Value>) -> Value {
    if let [Value::Object(only)] = blocks.as_mut_slice() {
        if only.len() == 2 && only.get("type").and_then(Value::as_str) == Some("text") {
            if let Some(Value::String(text)) = only.remove("text") {
                return Value::String(text);
            }
        }
    }
    Value::Array(blocks)
}

/// The system text blocks as Anthropic's `system`: one string, or blocks when a
/// `cache_control` must be kept.
fn system_value(blocks: Vec<Value>) -> Option<Value> {
    if blocks.is_empty() {
        return None;
    }
    if blocks.iter().any(|b| b.get("cache_control").is_some()) {
        return Some(Value::Array(blocks));
    }
    let mut text = String::new();
    for block in &blocks {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(t);
        }
    }
    Some(Value::String(text))
}

/// A message's `content` (string or part array) as Anthropic blocks.
fn content_blocks(content: &Value, i: usize, parts: Parts) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({ "type": "text", "text": s })]),
        Value::Array(list) => {
            let mut blocks = Vec::with_capacity(list.len());
            for (j, part) in list.iter().enumerate() {
                if let Some(block) = part_block(part, i, j, parts)? {
                    blocks.push(block);
                }
            }
            Ok(blocks)
        }
        _ => Err(invalid_at(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

fn part_block(
    part: &Value,
    i: usize,
    j: usize,
    parts: Parts,
) -> Result<Option<Value>, GatewayError> {
    let at = |suffix: &str| format!("messages[{i}].content[{j}]{suffix}");
    let obj = part
        .as_object()
        .ok_or_else(|| invalid_at(at(""), "Each content part must be an object."))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_at(at(".type"), "Each content part needs a string `type`."))?;
    let mut block = match (kind, parts) {
        ("text", _) => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid_at(at(".text"), "Text parts need a string `text`."))?;
            if text.is_empty() {
                return Ok(None);
            }
            json!({ "type": "text", "text": text })
        }
        ("image_url", Parts::Media) => {
            let url = match obj.get("image_url") {
                Some(Value::String(url)) => url.as_str(),
                Some(Value::Object(o)) => {
                    o.get("url").and_then(Value::as_str).ok_or_else(|| {
                        invalid_at(at(".image_url.url"), "`image_url.url` must be a string.")
                    })?
                }
                _ => {
                    return Err(invalid_at(
                        at(".image_url"),
                        "Image parts need `image_url` with a `url`.",
                    ))
                }
            };
            image_block(url).map_err(|msg| invalid_at(at(".image_url"), msg))?
        }
        ("file", Parts::Media) => {
            let data = obj
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid_at(
                        at(".file"),
                        "Only files sent inline as `file.file_data` (a base64 PDF data URI) are supported for Anthropic.",
                    )
                })?;
            match parse_data_uri(data) {
                Some(("application/pdf", data)) => json!({
                    "type": "document",
                    "source": { "type": "base64", "media_type": "application/pdf", "data": data }
                }),
                _ => {
                    return Err(invalid_at(
                        at(".file.file_data"),
                        "`file_data` must be a `data:application/pdf;base64,` URI.",
                    ))
                }
            }
        }
        (other, _) => {
            return Err(invalid_at(
                at(".type"),
                format!("Content parts of type `{other}` are not supported here by Anthropic."),
            ))
        }
    };
    if let (Some(cc), Value::Object(b)) = (
        obj.get("cache_control").filter(|v| v.is_object()),
        &mut block,
    ) {
        b.insert("cache_control".into(), cc.clone());
    }
    Ok(Some(block))
}

/// `data:<media>;base64,<data>` → (media type, data).
fn parse_data_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let media = header.strip_suffix(";base64")?;
    let media = media.split(';').next().unwrap_or(media);
    (!media.is_empty()).then_some((media, data))
}

fn image_block(url: &str) -> Result<Value, String> {
    if url.starts_with("data:") {
        return match parse_data_uri(url) {
            Some((media, data)) if media.starts_with("image/") => Ok(json!({
                "type": "image",
                "source": { "type": "base64", "media_type": media, "data": data }
            })),
            _ => Err("Image data URIs must look like `data:image/png;base64,…`.".to_string()),
        };
    }
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err("Image URLs must be http(s) URLs or base64 data URIs.".to_string())
}

fn tool_use_blocks(calls: &Value, i: usize, blocks: &mut Vec<Value>) -> Result<(), GatewayError> {
    let list = calls.as_array().ok_or_else(|| {
        invalid_at(
            format!("messages[{i}].tool_calls"),
            "`tool_calls` must be an array.",
        )
    })?;
    for (j, call) in list.iter().enumerate() {
        let at = |suffix: &str| format!("messages[{i}].tool_calls[{j}]{suffix}");
        let obj = call
            .as_object()
            .ok_or_else(|| invalid_at(at(""), "Each tool call must be an object."))?;
        if let Some(t) = obj.get("type").filter(|t| !t.is_null()) {
            if t.as_str() != Some("function") {
                return Err(invalid_at(
                    at(".type"),
                    "Only `function` tool calls are supported.",
                ));
            }
        }
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_at(at(".id"), "Each tool call needs a string `id`."))?;
        let function = obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                invalid_at(at(".function"), "Each tool call needs a `function` object.")
            })?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid_at(
                    at(".function.name"),
                    "Each tool call needs a string `function.name`.",
                )
            })?;
        let input = match function.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid_at(
                    at(".function.arguments"),
                    format!("`function.arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(other) => other.clone(),
        };
        if !input.is_object() {
            return Err(invalid_at(
                at(".function.arguments"),
                "`function.arguments` must encode a JSON object.",
            ));
        }
        blocks.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
    }
    Ok(())
}

fn tool_result_block(obj: &Map<String, Value>, i: usize) -> Result<Value, GatewayError> {
    let id = obj
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid_at(
                format!("messages[{i}].tool_call_id"),
                "Tool messages need a string `tool_call_id`.",
            )
        })?;
    let mut block = Map::new();
    block.insert("type".into(), Value::from("tool_result"));
    block.insert("tool_use_id".into(), Value::from(id));
    match obj.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if !s.is_empty() {
                block.insert("content".into(), Value::from(s.as_str()));
            }
        }
        Some(content @ Value::Array(_)) => {
            let blocks = content_blocks(content, i, Parts::Media)?;
            if !blocks.is_empty() {
                block.insert("content".into(), Value::Array(blocks));
            }
        }
        Some(_) => {
            return Err(invalid_at(
                format!("messages[{i}].content"),
                "`content` must be a string or an array of content parts.",
            ))
        }
    }
    Ok(Value::Object(block))
}

fn translate_tools(tools: Option<&Value>) -> Result<Option<Vec<Value>>, GatewayError> {
    let Some(tools) = tools else {
        return Ok(None);
    };
    let list = tools
        .as_array()
        .ok_or_else(|| GatewayError::invalid_param("tools", "`tools` must be an array."))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let at = |suffix: &str| format!("tools[{i}]{suffix}");
        let obj = tool
            .as_object()
            .ok_or_else(|| invalid_at(at(""), "Each tool must be an object."))?;
        if obj.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid_at(
                at(".type"),
                "Only tools of type `function` are supported for Anthropic.",
            ));
        }
        let function = obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid_at(at(".function"), "Each tool needs a `function` object."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                invalid_at(at(".function.name"), "Each tool needs a `function.name`.")
            })?;
        let mut t = Map::new();
        t.insert("name".into(), Value::from(name));
        match function.get("description") {
            None | Some(Value::Null) => {}
            Some(Value::String(d)) => {
                t.insert("description".into(), Value::from(d.as_str()));
            }
            Some(_) => {
                return Err(invalid_at(
                    at(".function.description"),
                    "`function.description` must be a string.",
                ))
            }
        }
        let schema = match function.get("parameters") {
            None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => {
                return Err(invalid_at(
                    at(".function.parameters"),
                    "`function.parameters` must be a JSON Schema object.",
                ))
            }
        };
        t.insert("input_schema".into(), schema);
        if let Some(cc) = obj.get("cache_control").filter(|v| v.is_object()) {
            t.insert("cache_control".into(), cc.clone());
        }
        out.push(Value::Object(t));
    }
    Ok((!out.is_empty()).then_some(out))
}

fn translate_tool_choice(
    choice: Option<&Value>,
) -> Result<Option<Map<String, Value>>, GatewayError> {
    let bad = || {
        GatewayError::invalid_param(
            "tool_choice",
            "`tool_choice` must be \"auto\", \"required\", \"none\" or {\"type\":\"function\",\"function\":{\"name\":…}}.",
        )
    };
    let mut out = Map::new();
    match choice {
        None => return Ok(None),
        Some(Value::String(s)) => {
            let kind = match s.as_str() {
                "auto" => "auto",
                "required" => "any",
                "none" => "none",
                _ => return Err(bad()),
            };
            out.insert("type".into(), Value::from(kind));
        }
        Some(Value::Object(o)) => {
            if o.get("type").and_then(Value::as_str) != Some("function") {
                return Err(bad());
            }
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            out.insert("type".into(), Value::from("tool"));
            out.insert("name".into(), Value::from(name));
        }
        Some(_) => return Err(bad()),
    }
    Ok(Some(out))
}

// ---------------------------------------------------------------------------
// Shared response pieces
// ---------------------------------------------------------------------------

fn opt_str<'s>(v: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    v.as_ref().map(CowStr::as_str)
}

/// Anthropic's `usage` (message and `message_delta` alike). Also read by
/// [`crate::messages`] for answers passed back to Anthropic-format clients untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct UsageIn {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl UsageIn {
    /// Counts in `newer` replace ours (`message_delta` counts are cumulative).
    pub(crate) fn merge(&mut self, newer: &UsageIn) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    /// The answer's usage for cost and spend (cache reads and writes counted into
    /// the prompt, as LiteLLM does), or `None` before any count was seen.
    pub(crate) fn to_cost(self) -> Option<crate::cost::Usage> {
        if self.input_tokens.is_none() && self.output_tokens.is_none() {
            return None;
        }
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        Some(crate::cost::Usage {
            // Saturating, as `to_openai` counts: the numbers are the provider's, and
            // a sum past u64::MAX must not wrap (or panic).
            prompt_tokens: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(created),
            completion_tokens: self.output_tokens.unwrap_or(0),
            cache_read_tokens: read,
            cache_creation_tokens: created,
        })
    }

    fn to_openai(self) -> UsageOut {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_creation = self.cache_creation_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(cache_read)
            .saturating_add(cache_creation);
        let completion = self.output_tokens.unwrap_or(0);
        UsageOut {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: cache_read,
            },
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptTokensDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_creation_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct PromptTokensDetails {
    cached_tokens: u64,
}

/// Anthropic `stop_reason` → OpenAI `finish_reason` (table in the module docs).
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, and anything new.
        _ => "stop",
    }
}

/// The status Anthropic gives an error type (for errors that arrive without one:
/// stream `error` events, error bodies on a 200).
fn status_for_error_type(kind: &str) -> Option<u16> {
    Some(match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 503,
        _ => return None,
    })
}

/// Anthropic error type → OpenAI error type.
fn openai_error_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "invalid_request_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" => "rate_limit_error",
        "api_error" => "internal_server_error",
        "overloaded_error" => "service_unavailable_error",
        "timeout_error" => "timeout_error",
        _ => return None,
    })
}

/// An error from Anthropic's `{type, message}`; `status` is already mapped.
fn anthropic_error(status: u16, kind: Option<&str>, message: String) -> GatewayError {
    let mut status = if status == 529 { 503 } else { status };
    if kind == Some("request_too_large") {
        status = 413;
    }
    let openai_type = kind
        .and_then(openai_error_type)
        .unwrap_or_else(|| type_for_status(status));
    GatewayError::new(status, message).with_type(openai_type)
}

#[derive(Debug, Deserialize)]
struct ErrorIn<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    message: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow)]
    error: ErrorIn<'a>,
}

/// Anthropic error body → OpenAI error. Status 529 (overloaded) becomes 503, a
/// `request_too_large` becomes 413; a body that is not Anthropic's error JSON keeps
/// its text as the message.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<ErrorBody<'_>>(body) {
        Ok(ErrorBody { error }) => {
            let message = match opt_str(&error.message) {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => super::openai::fallback_message(status, body),
            };
            anthropic_error(status, opt_str(&error.kind), message)
        }
        Err(_) => anthropic_error(status, None, super::openai::fallback_message(status, body)),
    }
}

// ---------------------------------------------------------------------------
// Non-streamed responses
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct MessageBody<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    model: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    content: Option<Vec<BlockOut<'a>>>,
    #[serde(default, borrow)]
    stop_reason: Option<CowStr<'a>>,
    #[serde(default)]
    usage: Option<UsageIn>,
    #[serde(default, borrow)]
    error: Option<ErrorIn<'a>>,
}

#[derive(Debug, Deserialize)]
struct BlockOut<'a> {
    #[serde(rename = "type", borrow)]
    kind: CowStr<'a>,
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
    #[serde(default)]
    input: Option<Value>,
}

/// Anthropic Messages response → OpenAI response (`chat.completion`, or
/// `text_completion` for `/completions`).
pub fn translate_response(
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    if endpoint == Endpoint::Embeddings {
        return Err(no_embeddings());
    }
    let msg: MessageBody<'_> = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Anthropic returned a response that could not be parsed: {e}"),
        )
    })?;
    if opt_str(&msg.kind) == Some("error") {
        let (kind, message) = match &msg.error {
            Some(e) => (opt_str(&e.kind), opt_str(&e.message)),
            None => (None, None),
        };
        let status = kind.and_then(status_for_error_type).unwrap_or(502);
        let message = message.map_or_else(
            || super::openai::fallback_message(status, body),
            str::to_string,
        );
        return Err(anthropic_error(status, kind, message));
    }

    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in msg.content.iter().flatten() {
        match block.kind.as_str() {
            "text" => text.push_str(opt_str(&block.text).unwrap_or_default()),
            "thinking" => reasoning.push_str(opt_str(&block.thinking).unwrap_or_default()),
            "tool_use" => {
                let arguments = match &block.input {
                    Some(input) => input.to_string(),
                    None => "{}".to_string(),
                };
                tool_calls.push(json!({
                    "id": opt_str(&block.id).unwrap_or_default(),
                    "type": "function",
                    "function": { "name": opt_str(&block.name).unwrap_or_default(), "arguments": arguments }
                }));
            }
            // redacted_thinking, server tool blocks, …: nothing OpenAI-shaped to say.
            _ => {}
        }
    }

    let model = opt_str(&msg.model)
        .filter(|m| !m.is_empty())
        .unwrap_or(&ctx.model);
    let finish = finish_reason(opt_str(&msg.stop_reason));
    let usage = msg.usage.unwrap_or_default().to_openai();
    let id = opt_str(&msg.id).unwrap_or_default();

    let out = match endpoint {
        Endpoint::Completions => json!({
            "id": id,
            "object": "text_completion",
            "created": ctx.created,
            "model": model,
            "choices": [{ "text": text, "index": 0, "logprobs": null, "finish_reason": finish }],
            "usage": usage,
        }),
        _ => {
            let mut message = Map::new();
            message.insert("role".into(), Value::from("assistant"));
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
            if !tool_calls.is_empty() {
                message.insert("tool_calls".into(), Value::Array(tool_calls));
            }
            json!({
                "id": id,
                "object": "chat.completion",
                "created": ctx.created,
                "model": model,
                "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
                "usage": usage,
            })
        }
    };
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// One Anthropic stream event; every field any event type uses, all optional.
#[derive(Debug, Deserialize)]
struct StreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: CowStr<'a>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    message: Option<StartMessage<'a>>,
    #[serde(default, borrow)]
    content_block: Option<BlockStart<'a>>,
    #[serde(default, borrow)]
    delta: Option<DeltaIn<'a>>,
    #[serde(default)]
    usage: Option<UsageIn>,
    #[serde(default, borrow)]
    error: Option<ErrorIn<'a>>,
}

#[derive(Debug, Deserialize)]
struct StartMessage<'a> {
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    model: Option<CowStr<'a>>,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Debug, Deserialize)]
struct BlockStart<'a> {
    #[serde(rename = "type", borrow)]
    kind: CowStr<'a>,
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
}

/// `content_block_delta.delta` and `message_delta.delta` in one shape.
#[derive(Debug, Deserialize)]
struct DeltaIn<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    partial_json: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<CowStr<'a>>,
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
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
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

/// Writes `data: <json>\n\n`, or nothing if serialization fails.
pub(crate) fn write_data<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    Tool {
        ordinal: usize,
        has_arguments: bool,
    },
    /// The JSON-mode tool: its input is the answer's content.
    JsonTool,
    Other,
}

/// Everything but the decoder, so events borrowed from the decoder can be handled
/// while this is mutated.
#[derive(Debug)]
struct StreamState {
    text_completion: bool,
    ctx: ResponseContext,
    id: String,
    model: String,
    role_sent: bool,
    finish_sent: bool,
    /// The terminator (`[DONE]`) has been written; later input is ignored.
    done: bool,
    tool_calls: usize,
    /// Open content blocks: (Anthropic index, kind).
    blocks: Vec<(u64, BlockKind)>,
    usage: UsageIn,
    /// The request asked for JSON through [`JSON_TOOL`]: that tool's input is
    /// streamed as content, and its `tool_use` stop is a plain `stop`.
    json_mode: bool,
}

/// Anthropic SSE → OpenAI `chat.completion.chunk` (or `text_completion`) SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let model = ctx.model.clone();
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: StreamState {
                text_completion: endpoint == Endpoint::Completions,
                ctx,
                id: String::new(),
                model,
                role_sent: false,
                finish_sent: false,
                done: false,
                tool_calls: 0,
                blocks: Vec::new(),
                usage: UsageIn::default(),
                json_mode: false,
            },
        }
    }

    /// A translator for the answer to a JSON-mode request ([`JSON_TOOL`]).
    pub fn json_mode(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let mut translator = StreamTranslator::new(endpoint, ctx);
        translator.state.json_mode = true;
        translator
    }
}

impl StreamTranslate for StreamTranslator {
    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.to_cost()
    }

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
                GatewayError::new(502, format!("Anthropic stream: {e}")),
                out,
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.done {
            return;
        }
        let message = if partial {
            "The upstream Anthropic stream ended early, before message_stop (mid-event)."
        } else {
            "The upstream Anthropic stream ended early, before message_stop."
        };
        self.state.fail(GatewayError::new(502, message), out);
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        let event: StreamEvent<'_> = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Anthropic sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        match event.kind.as_str() {
            "message_start" => {
                if let Some(m) = &event.message {
                    if let Some(id) = opt_str(&m.id) {
                        self.id.clear();
                        self.id.push_str(id);
                    }
                    if let Some(model) = opt_str(&m.model).filter(|m| !m.is_empty()) {
                        self.model.clear();
                        self.model.push_str(model);
                    }
                    if let Some(u) = &m.usage {
                        self.usage.merge(u);
                    }
                }
                if !self.text_completion && !self.role_sent {
                    self.chat(
                        ChatDelta {
                            content: Some(""),
                            ..ChatDelta::default()
                        },
                        None,
                        out,
                    );
                }
            }
            "content_block_start" => {
                let index = event.index.unwrap_or(0);
                let Some(block) = &event.content_block else {
                    return;
                };
                let kind = match block.kind.as_str() {
                    "text" => {
                        if let Some(t) = opt_str(&block.text).filter(|t| !t.is_empty()) {
                            self.content(t, out);
                        }
                        BlockKind::Text
                    }
                    "thinking" => {
                        if let Some(t) = opt_str(&block.thinking).filter(|t| !t.is_empty()) {
                            self.reasoning(t, out);
                        }
                        BlockKind::Thinking
                    }
                    "tool_use" if self.json_mode && opt_str(&block.name) == Some(JSON_TOOL) => {
                        BlockKind::JsonTool
                    }
                    "tool_use" => {
                        let ordinal = self.tool_calls;
                        self.tool_calls += 1;
                        if !self.text_completion {
                            let call = ToolCallDelta {
                                index: ordinal,
                                id: Some(opt_str(&block.id).unwrap_or_default()),
                                kind: Some("function"),
                                function: FunctionDelta {
                                    name: Some(opt_str(&block.name).unwrap_or_default()),
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
                        BlockKind::Tool {
                            ordinal,
                            has_arguments: false,
                        }
                    }
                    _ => BlockKind::Other,
                };
                self.blocks.retain(|(i, _)| *i != index);
                self.blocks.push((index, kind));
            }
            "content_block_delta" => {
                let index = event.index.unwrap_or(0);
                let Some(delta) = &event.delta else {
                    return;
                };
                match opt_str(&delta.kind) {
                    Some("text_delta") => {
                        if let Some(t) = opt_str(&delta.text).filter(|t| !t.is_empty()) {
                            self.content(t, out);
                        }
                    }
                    Some("thinking_delta") => {
                        if let Some(t) = opt_str(&delta.thinking).filter(|t| !t.is_empty()) {
                            self.reasoning(t, out);
                        }
                    }
                    Some("input_json_delta") => {
                        let Some(args) = opt_str(&delta.partial_json).filter(|a| !a.is_empty())
                        else {
                            return;
                        };
                        let json_block = self
                            .blocks
                            .iter()
                            .any(|(i, k)| *i == index && matches!(k, BlockKind::JsonTool));
                        if json_block {
                            self.content(args, out);
                            return;
                        }
                        let Some(ordinal) = self.mark_arguments(index) else {
                            return;
                        };
                        self.tool_arguments(ordinal, args, out);
                    }
                    // signature_delta, citations_delta, future delta types.
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = event.index.unwrap_or(0);
                if let Some(pos) = self.blocks.iter().position(|(i, _)| *i == index) {
                    let (_, kind) = self.blocks.swap_remove(pos);
                    if let BlockKind::Tool {
                        ordinal,
                        has_arguments: false,
                    } = kind
                    {
                        self.tool_arguments(ordinal, "{}", out);
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = &event.usage {
                    self.usage.merge(u);
                }
                if let Some(reason) = event.delta.as_ref().and_then(|d| opt_str(&d.stop_reason)) {
                    let finish = match finish_reason(Some(reason)) {
                        // Only the JSON tool was called: a plain answer.
                        "tool_calls" if self.json_mode && self.tool_calls == 0 => "stop",
                        finish => finish,
                    };
                    self.finish_chunk(finish, out);
                }
            }
            "message_stop" => {
                if !self.finish_sent {
                    self.finish_chunk("stop", out);
                }
                if self.ctx.include_usage {
                    let usage = Some(self.usage.to_openai());
                    if self.text_completion {
                        self.write(&[] as &[TextChoice<'_>], usage, out);
                    } else {
                        self.write(&[] as &[ChatChoice<'_>], usage, out);
                    }
                }
                out.extend_from_slice(DONE);
                self.done = true;
            }
            "error" => {
                let (kind, message) = match &event.error {
                    Some(e) => (opt_str(&e.kind), opt_str(&e.message)),
                    None => (None, None),
                };
                let status = kind.and_then(status_for_error_type).unwrap_or(500);
                let message = message.filter(|m| !m.is_empty()).map_or_else(
                    || "The upstream Anthropic stream reported an error.".to_string(),
                    str::to_string,
                );
                self.fail(anthropic_error(status, kind, message), out);
            }
            // ping, and event types Anthropic may add.
            _ => {}
        }
    }

    /// Marks the tool block at `index` as having argument text; its ordinal.
    fn mark_arguments(&mut self, index: u64) -> Option<usize> {
        self.blocks.iter_mut().find_map(|(i, kind)| match kind {
            BlockKind::Tool {
                ordinal,
                has_arguments,
            } if *i == index => {
                *has_arguments = true;
                Some(*ordinal)
            }
            _ => None,
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
            model: &self.model,
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

    fn reasoning(&mut self, text: &str, out: &mut Vec<u8>) {
        if !self.text_completion {
            self.chat(
                ChatDelta {
                    reasoning_content: Some(text),
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

    fn finish_chunk(&mut self, reason: &str, out: &mut Vec<u8>) {
        self.finish_sent = true;
        if self.text_completion {
            self.text("", Some(reason), out);
        } else {
            self.chat(ChatDelta::default(), Some(reason), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn chat(v: Value) -> Value {
        let body =
            translate_request(Endpoint::ChatCompletions, &map(v), "claude-sonnet-4-5").unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn chat_err(v: Value) -> GatewayError {
        translate_request(Endpoint::ChatCompletions, &map(v), "claude-sonnet-4-5").unwrap_err()
    }

    fn ctx(include_usage: bool) -> ResponseContext {
        ResponseContext {
            created: 1_700_000_000,
            model: "claude-from-config".to_string(),
            include_usage,
        }
    }

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

    #[test]
    fn json_mode_is_a_forced_tool() {
        let out = chat(json!({"messages": [{"role": "user", "content": "j"}],
                              "response_format": {"type": "json_object"}}));
        assert_eq!(
            out["tools"],
            json!([{"name": JSON_TOOL, "input_schema": {"type": "object", "additionalProperties": true, "properties": {}}}])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"name": JSON_TOOL, "type": "tool"})
        );
        assert!(out.get("response_format").is_none());
        // json_schema: the schema is the tool's input schema; the client's tools stay first.
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
        let out = chat(json!({"messages": [{"role": "user", "content": "j"}],
                              "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                              "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}));
        assert_eq!(out["tools"][0]["name"], "f");
        assert_eq!(
            out["tools"][1],
            json!({"name": JSON_TOOL, "input_schema": schema})
        );
        // With thinking the tool is offered, not forced (Anthropic refuses forced tools then).
        let out = chat(
            json!({"messages": [{"role": "user", "content": "j"}], "reasoning_effort": "low",
                              "response_format": {"type": "json_object"}}),
        );
        assert!(out.get("tool_choice").is_none(), "{out}");
        // `text` asks for nothing.
        let out = chat(json!({"messages": [{"role": "user", "content": "j"}],
                              "response_format": {"type": "text"}}));
        assert!(out.get("tools").is_none());
        assert_eq!(
            chat_err(
                json!({"messages": [{"role": "user", "content": "j"}], "response_format": "json"})
            )
            .param
            .as_deref(),
            Some("response_format")
        );
        assert!(wants_json(Some(&json!({"type": "json_schema"}))));
        assert!(!wants_json(Some(&json!({"type": "text"}))) && !wants_json(None));
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget() {
        for (effort, budget) in [("low", 1024), ("medium", 2048), ("high", 4096)] {
            let out = chat(
                json!({"messages": [{"role": "user", "content": "t"}], "reasoning_effort": effort}),
            );
            assert_eq!(
                out["thinking"],
                json!({"type": "enabled", "budget_tokens": budget})
            );
            assert_eq!(out["max_tokens"], budget + DEFAULT_MAX_TOKENS);
        }
        let out = chat(
            json!({"messages": [{"role": "user", "content": "t"}], "reasoning_effort": "low", "max_tokens": 3000}),
        );
        assert_eq!(out["max_tokens"], 3000, "the client's limit stays");
        // `thinking` passes as written and wins.
        let out = chat(
            json!({"messages": [{"role": "user", "content": "t"}], "reasoning_effort": "low",
                              "thinking": {"type": "enabled", "budget_tokens": 5000}}),
        );
        assert_eq!(out["thinking"]["budget_tokens"], 5000);
        assert_eq!(out["max_tokens"], 5000 + DEFAULT_MAX_TOKENS);
        for bad in [
            json!({"reasoning_effort": "max"}),
            json!({"thinking": true}),
        ] {
            let mut req = map(json!({"messages": [{"role": "user", "content": "t"}]}));
            req.extend(map(bad));
            let err = translate_request(Endpoint::ChatCompletions, &req, "c").unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.param.is_some());
        }
    }

    #[test]
    fn simple_chat_with_defaults() {
        let out =
            chat(json!({"model": "x", "messages": [{"role": "user", "content": "Hello, Claude"}]}));
        assert_eq!(
            out,
            json!({
                "model": "claude-sonnet-4-5",
                "messages": [{"role": "user", "content": "Hello, Claude"}],
                "max_tokens": DEFAULT_MAX_TOKENS,
            })
        );
    }

    #[test]
    fn system_and_developer_messages_become_system() {
        let out = chat(json!({"messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        ]}));
        assert_eq!(out["system"], "You are terse.\n\nAnswer in French.");
        assert_eq!(out["messages"], json!([{"role": "user", "content": "hi"}]));
    }

    #[test]
    fn system_cache_control_keeps_blocks() {
        let out = chat(json!({"messages": [
            {"role": "system", "content": [{"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "q", "cache_control": {"type": "ephemeral"}},
        ]}));
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}}])
        );
        assert_eq!(
            out["messages"][0]["content"],
            json!([{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}])
        );
    }

    #[test]
    fn sampling_params_stop_user_stream() {
        let out = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
            "stop": "END", "user": "user-42", "stream": true,
            "stream_options": {"include_usage": true}, "n": 1,
        }));
        assert_eq!(out["max_tokens"], 100);
        assert_eq!(out["temperature"], 0.2);
        assert_eq!(out["top_p"], 0.9);
        assert_eq!(out["top_k"], 40);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["metadata"], json!({"user_id": "user-42"}));
        assert_eq!(out["stream"], true);
        assert!(out.get("stream_options").is_none());
        assert!(out.get("n").is_none());
        assert!(out.get("user").is_none() && out.get("stop").is_none());
    }

    #[test]
    fn stop_array_and_max_completion_tokens_win() {
        let out = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "stop": ["\n\nHuman:", "###"], "max_tokens": 10, "max_completion_tokens": 20,
        }));
        assert_eq!(out["stop_sequences"], json!(["\n\nHuman:", "###"]));
        assert_eq!(out["max_tokens"], 20);
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "stop": [], "max_tokens": null}),
        );
        assert!(out.get("stop_sequences").is_none());
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn bad_scalar_params_are_400_with_param() {
        let base = || json!({"messages": [{"role": "user", "content": "hi"}]});
        for (key, value) in [
            ("max_tokens", json!(0)),
            ("max_tokens", json!("10")),
            ("max_completion_tokens", json!(-1)),
            ("stop", json!(5)),
            ("stop", json!(["ok", 1])),
            ("temperature", json!("hot")),
            ("top_k", json!(1.5)),
            ("n", json!(2)),
            ("user", json!(7)),
            ("stream", json!("yes")),
            ("parallel_tool_calls", json!("no")),
            ("tool_choice", json!("sometimes")),
            ("tools", json!({})),
        ] {
            let mut req = base();
            req[key] = value;
            let e = chat_err(req);
            assert_eq!(e.status, 400, "{key}");
            assert_eq!(e.param.as_deref(), Some(key), "{key}");
            assert_eq!(e.kind, "invalid_request_error");
        }
    }

    #[test]
    fn malformed_messages_name_the_field() {
        let cases = [
            (json!({}), "messages"),
            (json!({"messages": "hi"}), "messages"),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "system", "content": "only system"}]}),
                "messages",
            ),
            (json!({"messages": ["hi"]}), "messages[0]"),
            (json!({"messages": [{"content": "hi"}]}), "messages[0].role"),
            (
                json!({"messages": [{"role": "wizard", "content": "hi"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "function", "name": "f", "content": "hi"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": 42}]}),
                "messages[2].content",
            ),
            (
                json!({"messages": [{"role": "user"}]}),
                "messages[0].content",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"text": "x"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
                "messages[0].content[0].text",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
                "messages[0].content[0].image_url",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]}),
                "messages[0].content[0].image_url",
            ),
            (
                json!({"messages": [{"role": "assistant", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "42"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": {}}]}),
                "messages[0].tool_calls",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
                "messages[0].tool_calls[0].id",
            ),
            (
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "retrieval"}]}),
                "tools[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"description": "no name"}}]}),
                "tools[0].function.name",
            ),
        ];
        for (req, param) in cases {
            let e = chat_err(req.clone());
            assert_eq!(e.status, 400, "{req}");
            assert_eq!(e.param.as_deref(), Some(param), "{req}");
        }
    }

    #[test]
    fn invalid_tool_arguments_are_400() {
        let e = chat_err(json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": "}}
            ]},
        ]}));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[1].tool_calls[0].function.arguments")
        );
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        let e = chat_err(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1,2]"}}]},
        ]}));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
    }

    #[test]
    fn multi_turn_tool_round_trip() {
        let out = chat(json!({
            "messages": [
                {"role": "system", "content": "Use tools."},
                {"role": "user", "content": "What's the weather in SF and NYC?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\"}"}},
                    {"id": "toolu_01B", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
                ]},
                {"role": "tool", "tool_call_id": "toolu_01A", "content": "15 degrees"},
                {"role": "tool", "tool_call_id": "toolu_01B", "content": [{"type": "text", "text": "22 degrees"}]},
                {"role": "user", "content": "Which is warmer?"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
            }}],
        }));
        assert_eq!(out["system"], "Use tools.");
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": "What's the weather in SF and NYC?"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "15 degrees"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": "22 degrees"}]},
                    {"type": "text", "text": "Which is warmer?"},
                ]},
            ])
        );
        assert_eq!(
            out["tools"],
            json!([{
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
            }])
        );
        assert!(out.get("tool_choice").is_none());
    }

    #[test]
    fn tool_results_move_before_text_in_a_user_turn() {
        let out = chat(json!({"messages": [
            {"role": "assistant", "content": "calling", "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": "by the way"},
            {"role": "tool", "tool_call_id": "t1", "content": "done"},
        ]}));
        let types: Vec<&str> = out["messages"][1]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["tool_result", "text"]);
        assert_eq!(
            out["messages"][0]["content"],
            json!([{"type": "text", "text": "calling"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}])
        );
    }

    #[test]
    fn same_role_turns_merge() {
        let out = chat(json!({"messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five"},
        ]}));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
                {"role": "user", "content": "five"},
            ])
        );
    }

    #[test]
    fn images_data_uri_and_url() {
        let out = chat(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in these images?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg==", "detail": "high"}},
            {"type": "image_url", "image_url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"},
        ]}]}));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "text", "text": "What is in these images?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
                {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"}},
            ])
        );
    }

    #[test]
    fn pdf_file_part_becomes_document() {
        let out = chat(json!({"messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}},
        ]}]}));
        assert_eq!(
            out["messages"][0]["content"],
            json!([{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}])
        );
    }

    #[test]
    fn tool_choice_variants() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let cases = [
            (json!("auto"), json!({"type": "auto"})),
            (json!("required"), json!({"type": "any"})),
            (json!("none"), json!({"type": "none"})),
            (
                json!({"type": "function", "function": {"name": "get_weather"}}),
                json!({"type": "tool", "name": "get_weather"}),
            ),
        ];
        for (choice, expected) in cases {
            let out = chat(
                json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "tool_choice": choice}),
            );
            assert_eq!(out["tool_choice"], expected);
        }
        // parameters default to an empty object schema
        let out = chat(json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools}));
        assert_eq!(
            out["tools"][0],
            json!({"name": "get_weather", "input_schema": {"type": "object", "properties": {}}})
        );
    }

    #[test]
    fn parallel_tool_calls_false() {
        let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "parallel_tool_calls": false}),
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "parallel_tool_calls": false, "tool_choice": "required"}),
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "parallel_tool_calls": false, "tool_choice": "none"}),
        );
        assert_eq!(out["tool_choice"], json!({"type": "none"}));
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "parallel_tool_calls": true}),
        );
        assert!(out.get("tool_choice").is_none());
        let out = chat(
            json!({"messages": [{"role": "user", "content": "hi"}], "parallel_tool_calls": false}),
        );
        assert!(out.get("tool_choice").is_none() && out.get("tools").is_none());
    }

    #[test]
    fn completions_prompt_becomes_one_user_turn() {
        let req = map(
            json!({"model": "m", "prompt": ["Say this is a test"], "max_tokens": 7, "stop": "\n"}),
        );
        let body = translate_request(Endpoint::Completions, &req, "claude-haiku-4-5").unwrap();
        let out: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            out,
            json!({
                "model": "claude-haiku-4-5",
                "messages": [{"role": "user", "content": "Say this is a test"}],
                "max_tokens": 7,
                "stop_sequences": ["\n"],
            })
        );
        for prompt in [json!(["a", "b"]), json!([1, 2, 3]), json!([]), json!(3)] {
            let e = translate_request(Endpoint::Completions, &map(json!({"prompt": prompt})), "m")
                .unwrap_err();
            assert_eq!(e.param.as_deref(), Some("prompt"));
        }
        let e = translate_request(Endpoint::Completions, &Map::new(), "m").unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("prompt")));
    }

    #[test]
    fn embeddings_are_refused() {
        let e =
            translate_request(Endpoint::Embeddings, &map(json!({"input": "hi"})), "m").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("no embeddings API"));
        let e = translate_response(Endpoint::Embeddings, b"{}", &ctx(false)).unwrap_err();
        assert_eq!(e.status, 400);
    }

    // ----- responses ------------------------------------------------------

    /// Shaped like the API reference's tool-use response.
    const TOOL_RESPONSE: &str = r#"{
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "San Francisco, CA", "unit": "celsius"}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": 384, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": 92, "service_tier": "standard"}
    }"#;

    #[test]
    fn response_with_text_and_tool_use() {
        let out = translate_response(
            Endpoint::ChatCompletions,
            TOOL_RESPONSE.as_bytes(),
            &ctx(false),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_01Aq9w938a90dw8q",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "I'll check the current weather in San Francisco for you.",
                        "tool_calls": [{
                            "id": "toolu_01A09q90qw90lq917835lq9",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}
                        }]
                    },
                    "logprobs": null,
                    "finish_reason": "tool_calls"
                }],
                "usage": {
                    "prompt_tokens": 384, "completion_tokens": 92, "total_tokens": 476,
                    "prompt_tokens_details": {"cached_tokens": 0},
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0
                }
            })
        );
    }

    #[test]
    fn tool_only_response_has_null_content() {
        let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[
            {"type":"tool_use","id":"toolu_1","name":"f","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":3}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
        // No cache counts reported: none repeated at the top level.
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "prompt_tokens_details": {"cached_tokens": 0}})
        );
    }

    #[test]
    fn usage_counts_cache_tokens_as_prompt() {
        let body = r#"{"id":"msg_2","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Hi"},{"type":"text","text":" there"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":1000,"output_tokens":393}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi there");
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(
            v["usage"],
            json!({
                "prompt_tokens": 189_107, "completion_tokens": 393, "total_tokens": 189_500,
                "prompt_tokens_details": {"cached_tokens": 1000},
                "cache_creation_input_tokens": 188_086, "cache_read_input_tokens": 1000
            })
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("pause_turn", "stop"),
            ("refusal", "content_filter"),
            ("something_new", "stop"),
        ] {
            let body = format!(
                r#"{{"id":"m","type":"message","content":[{{"type":"text","text":"x"}}],"stop_reason":"{stop}"}}"#
            );
            let v: Value = serde_json::from_slice(
                &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false))
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(v["choices"][0]["finish_reason"], finish, "{stop}");
            assert_eq!(v["model"], "claude-from-config", "model falls back to ctx");
        }
    }

    #[test]
    fn thinking_becomes_reasoning_content() {
        let body = r#"{"id":"msg_3","type":"message","role":"assistant","model":"claude-x","content":[
            {"type":"thinking","thinking":"Let me analyze this step by step...","signature":"WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL...."},
            {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"},
            {"type":"text","text":"Based on my analysis..."}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["choices"][0]["message"]["reasoning_content"],
            "Let me analyze this step by step..."
        );
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Based on my analysis..."
        );
    }

    #[test]
    fn completions_response_is_text_completion() {
        let body = r#"{"id":"msg_4","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"This is a test."}],
            "stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":7}}"#;
        let v: Value = serde_json::from_slice(
            &translate_response(Endpoint::Completions, body.as_bytes(), &ctx(false)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_4", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                "choices": [{"text": "This is a test.", "index": 0, "logprobs": null, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "prompt_tokens_details": {"cached_tokens": 0}}
            })
        );
    }

    #[test]
    fn unparsable_or_error_responses_fail() {
        let e = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
        assert_eq!(e.status, 502);
        let e = translate_response(
            Endpoint::ChatCompletions,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            &ctx(false),
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.kind.as_str(), e.message.as_str()),
            (503, "service_unavailable_error", "Overloaded")
        );
    }

    // ----- errors ---------------------------------------------------------

    #[test]
    fn error_bodies_map_types_and_statuses() {
        let cases = [
            (400, "invalid_request_error", 400, "invalid_request_error"),
            (401, "authentication_error", 401, "authentication_error"),
            (403, "permission_error", 403, "permission_error"),
            (404, "not_found_error", 404, "not_found_error"),
            (413, "request_too_large", 413, "invalid_request_error"),
            (429, "rate_limit_error", 429, "rate_limit_error"),
            (500, "api_error", 500, "internal_server_error"),
            (529, "overloaded_error", 503, "service_unavailable_error"),
            (402, "billing_error", 402, "invalid_request_error"),
        ];
        for (status, anthropic_type, want_status, want_type) in cases {
            let body = format!(
                r#"{{"type":"error","error":{{"type":"{anthropic_type}","message":"msg for {anthropic_type}"}},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}}"#
            );
            let e = translate_error(status, body.as_bytes());
            assert_eq!(e.status, want_status, "{anthropic_type}");
            assert_eq!(e.kind, want_type, "{anthropic_type}");
            assert_eq!(e.message, format!("msg for {anthropic_type}"));
            assert_eq!(e.to_value()["error"]["code"], want_status.to_string());
        }
    }

    #[test]
    fn non_json_error_bodies_keep_text() {
        let e = translate_error(529, b"overloaded, try later");
        assert_eq!(
            (e.status, e.kind.as_str()),
            (503, "service_unavailable_error")
        );
        assert_eq!(e.message, "overloaded, try later");
        let e = translate_error(
            413,
            b"<html><body>413 Request Entity Too Large</body></html>",
        );
        assert_eq!(e.status, 413);
        assert!(e.message.contains("Request Entity Too Large"));
        let e = translate_error(500, b"");
        assert!(e.message.contains("HTTP 500"));
        let e = translate_error(400, br#"{"error":{"message":""}}"#);
        assert_eq!(e.status, 400);
        assert!(!e.message.is_empty());
    }

    // ----- streams --------------------------------------------------------

    /// The API reference's streaming example with a tool call (text block, ping,
    /// tool_use block with input_json_delta pieces).
    const TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-6\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", let me check the weather for San Francisco, CA:\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\", \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"unit\\\": \\\"fahrenheit\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    /// The extended-thinking streaming example shape (thinking, signature, text).
    const THINKING_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_01DXKdEbK3ir8FFfmF2P4Xxe\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-sonnet-4-5\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 20, \"cache_creation_input_tokens\": 0, \"cache_read_input_tokens\": 10, \"output_tokens\": 1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"thinking\", \"thinking\": \"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"thinking_delta\", \"thinking\": \"Let me solve this step by step:\\n\\n1. First break down 27 * 453\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"signature_delta\", \"signature\": \"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\": \"content_block_stop\", \"index\": 0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\": \"content_block_start\", \"index\": 1, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 1, \"delta\": {\"type\": \"text_delta\", \"text\": \"27 * 453 = 12,231 \u{2014} \u{1F9EE}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\": \"content_block_stop\", \"index\": 1}\n\n",
        "event: message_delta\n",
        "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\": null}, \"usage\": {\"output_tokens\": 30}}\n\n",
        "event: message_stop\n",
        "data: {\"type\": \"message_stop\"}\n\n",
    );

    /// Found by the fuzz target `stream_translate` (numbers moved next to
    /// u64::MAX): the stream's prompt-token sum overflowed — a panic in debug builds,
    /// a wrapped count (and a wrong cost) in the shipped filter.
    #[test]
    fn stream_usage_near_u64_max_saturates() {
        let stream = "\ndata:{\"type\": \"message_start\", \"message\": {\"i\":null, \"usage\": {\"input_tokens\":18446744073709551615, \"cache_creation_input_tokens\":18446744073709551614}}}\n\n";
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(true));
        let mut out = Vec::new();
        t.push(stream.as_bytes(), &mut out);
        t.finish(&mut out);
        let usage = t.usage().unwrap();
        assert_eq!(usage.prompt_tokens, u64::MAX);
        assert_eq!(usage.cache_creation_tokens, u64::MAX - 1);
    }

    fn run(endpoint: Endpoint, include_usage: bool, chunks: &[&[u8]]) -> Vec<u8> {
        let mut t = StreamTranslator::new(endpoint, ctx(include_usage));
        let mut out = Vec::new();
        for c in chunks {
            t.push(c, &mut out);
        }
        t.finish(&mut out);
        out
    }

    /// The `data:` payloads of an OpenAI SSE body (`[DONE]` as a string).
    fn events(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {e:?}"));
                assert!(!data.contains('\n'));
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    fn deltas(evs: &[Value]) -> Vec<Value> {
        evs.iter()
            .filter_map(|e| {
                e.get("choices")
                    .and_then(|c| c.get(0))
                    .map(|c| c["delta"].clone())
            })
            .collect()
    }

    #[test]
    fn tool_stream_translates_to_chunks() {
        let out = run(Endpoint::ChatCompletions, true, &[TOOL_STREAM.as_bytes()]);
        let evs = events(&out);
        for e in &evs[..evs.len() - 1] {
            assert_eq!(e["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["created"], 1_700_000_000);
            assert_eq!(e["model"], "claude-opus-4-6");
        }
        assert_eq!(
            deltas(&evs),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"content": "Okay"}),
                json!({"content": ", let me check the weather for San Francisco, CA:"}),
                json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\", "}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"unit\": \"fahrenheit\"}"}}]}),
                json!({}),
            ]
        );
        let finishes: Vec<&Value> = evs
            .iter()
            .filter_map(|e| e["choices"].get(0))
            .map(|c| &c["finish_reason"])
            .collect();
        assert!(finishes[..finishes.len() - 1].iter().all(|f| f.is_null()));
        assert_eq!(*finishes.last().unwrap(), "tool_calls");
        // Final usage chunk, then [DONE].
        let usage = &evs[evs.len() - 2];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["prompt_tokens"], 472);
        assert_eq!(usage["usage"]["completion_tokens"], 89);
        assert_eq!(usage["usage"]["total_tokens"], 561);
        assert_eq!(evs.last().unwrap(), "[DONE]");
        // The arguments join into the tool input.
        let args: String = deltas(&evs)
            .iter()
            .filter_map(|d| {
                d.get("tool_calls")
                    .map(|t| t[0]["function"]["arguments"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
        );
    }

    /// A JSON-mode answer: the forced tool's input streams as content.
    const JSON_TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_j\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_j\",\"name\":\"json_tool_call\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Z\u{fc}rich\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn json_mode_stream_gives_content_at_every_split() {
        let mut whole: Option<Vec<u8>> = None;
        for split in 0..=JSON_TOOL_STREAM.len() {
            let (a, b) = JSON_TOOL_STREAM.as_bytes().split_at(split);
            let mut t = StreamTranslator::json_mode(Endpoint::ChatCompletions, ctx(true));
            let mut out = Vec::new();
            t.push(a, &mut out);
            t.push(b, &mut out);
            t.finish(&mut out);
            match &whole {
                None => whole = Some(out),
                Some(w) => assert_eq!(&out, w, "split at {split}"),
            }
        }
        let evs = events(whole.as_deref().unwrap());
        let content: String = deltas(&evs)
            .iter()
            .filter_map(|d| d["content"].as_str().map(str::to_string))
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&content).unwrap(),
            json!({"city": "Z\u{fc}rich"})
        );
        assert!(deltas(&evs).iter().all(|d| d.get("tool_calls").is_none()));
        let finish: Vec<&Value> = evs
            .iter()
            .filter_map(|e| {
                e.get("choices")
                    .and_then(|c| c.get(0))
                    .map(|c| &c["finish_reason"])
            })
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finish, [&json!("stop")]);
        // Without JSON mode the same stream is a tool call.
        let plain = run(
            Endpoint::ChatCompletions,
            false,
            &[JSON_TOOL_STREAM.as_bytes()],
        );
        assert!(String::from_utf8(plain)
            .unwrap()
            .contains("\"finish_reason\":\"tool_calls\""));
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        for stream in [TOOL_STREAM, THINKING_STREAM] {
            let whole = run(Endpoint::ChatCompletions, true, &[stream.as_bytes()]);
            let bytes = stream.as_bytes();
            for cut in 0..=bytes.len() {
                let split = run(
                    Endpoint::ChatCompletions,
                    true,
                    &[&bytes[..cut], &bytes[cut..]],
                );
                assert_eq!(split, whole, "cut at {cut}");
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(Endpoint::ChatCompletions, true, &singles), whole);
        }
    }

    #[test]
    fn crlf_and_cr_streams_give_identical_output() {
        let whole = run(Endpoint::ChatCompletions, false, &[TOOL_STREAM.as_bytes()]);
        for ending in ["\r\n", "\r"] {
            let text = TOOL_STREAM.replace('\n', ending);
            let bytes = text.as_bytes();
            for cut in (0..=bytes.len()).step_by(3) {
                let split = run(
                    Endpoint::ChatCompletions,
                    false,
                    &[&bytes[..cut], &bytes[cut..]],
                );
                assert_eq!(split, whole, "{ending:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn events_are_translated_as_soon_as_complete() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        let first_event_end = TOOL_STREAM.find("\n\n").unwrap() + 2;
        t.push(&TOOL_STREAM.as_bytes()[..first_event_end - 1], &mut out);
        assert!(out.is_empty(), "event not complete yet");
        t.push(
            &TOOL_STREAM.as_bytes()[first_event_end - 1..first_event_end],
            &mut out,
        );
        let evs = events(&out);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
    }

    #[test]
    fn thinking_stream_and_no_usage_chunk_without_include_usage() {
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[THINKING_STREAM.as_bytes()],
        );
        let evs = events(&out);
        assert_eq!(
            deltas(&evs),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"reasoning_content": "Let me solve this step by step:\n\n1. First break down 27 * 453"}),
                json!({"content": "27 * 453 = 12,231 \u{2014} \u{1F9EE}"}),
                json!({}),
            ]
        );
        assert!(evs.iter().all(|e| e.get("usage").is_none()));
        assert_eq!(evs[evs.len() - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs.last().unwrap(), "[DONE]");
    }

    #[test]
    fn include_usage_chunk_counts_cache_tokens() {
        let out = run(
            Endpoint::ChatCompletions,
            true,
            &[THINKING_STREAM.as_bytes()],
        );
        let evs = events(&out);
        let usage = &evs[evs.len() - 2];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["id"], "msg_01DXKdEbK3ir8FFfmF2P4Xxe");
        assert_eq!(
            usage["usage"],
            json!({
                "prompt_tokens": 30, "completion_tokens": 30, "total_tokens": 60,
                "prompt_tokens_details": {"cached_tokens": 10},
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10
            })
        );
    }

    #[test]
    fn parallel_tool_calls_get_ordinal_indexes_and_empty_args_become_braces() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_p\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Two calls.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"get_time\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::ChatCompletions, false, &[stream.as_bytes()]));
        let calls: Vec<Value> = deltas(&evs)
            .into_iter()
            .filter_map(|d| d.get("tool_calls").cloned())
            .collect();
        assert_eq!(
            calls,
            vec![
                json!([{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "get_time", "arguments": ""}}]),
                json!([{"index": 0, "function": {"arguments": "{}"}}]),
                json!([{"index": 1, "id": "toolu_b", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]),
                json!([{"index": 1, "function": {"arguments": "{\"city\":\"Paris\"}"}}]),
            ]
        );
    }

    #[test]
    fn error_event_becomes_openai_error_then_done() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ignored\"}}\n\n",
        );
        let out = run(Endpoint::ChatCompletions, true, &[stream.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 4, "{evs:?}");
        assert_eq!(evs[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(
            evs[2],
            json!({"error": {"message": "Overloaded", "type": "service_unavailable_error", "param": null, "code": "503"}})
        );
        assert_eq!(evs[3], "[DONE]");
    }

    #[test]
    fn stream_cut_short_ends_with_502_error_event() {
        let cut = TOOL_STREAM.find("event: message_delta").unwrap();
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[&TOOL_STREAM.as_bytes()[..cut]],
        );
        let evs = events(&out);
        let n = evs.len();
        assert_eq!(evs[n - 1], "[DONE]");
        assert_eq!(evs[n - 2]["error"]["code"], "502");
        assert!(evs[n - 2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended early"));
        assert_eq!(
            evs[n - 3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "\"unit\": \"fahrenheit\"}"
        );

        // Cut in the middle of an event, and an empty stream.
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[&TOOL_STREAM.as_bytes()[..cut + 30]],
        );
        let evs = events(&out);
        assert!(evs[evs.len() - 2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mid-event"));
        let evs = events(&run(Endpoint::ChatCompletions, false, &[]));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["type"], "service_unavailable_error");
    }

    #[test]
    fn nothing_after_done_and_finish_is_idempotent() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        t.push(TOOL_STREAM.as_bytes(), &mut out);
        let len = out.len();
        assert!(out.ends_with(DONE));
        t.push(b"event: ping\ndata: {\"type\":\"ping\"}\n\n", &mut out);
        t.finish(&mut out);
        t.finish(&mut out);
        assert_eq!(out.len(), len);
    }

    #[test]
    fn invalid_json_event_is_an_error() {
        let evs = events(&run(
            Endpoint::ChatCompletions,
            false,
            &[b"event: message_start\ndata: {not json\n\n"],
        ));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["code"], "502");
        assert!(evs[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
    }

    #[test]
    fn oversized_event_is_an_error_not_growth() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        t.push(b"event: content_block_delta\ndata: {\"text\":\"", &mut out);
        let block = vec![b'a'; 1 << 20];
        for _ in 0..9 {
            t.push(&block, &mut out);
        }
        let evs = events(&out);
        assert_eq!(evs.len(), 2);
        assert!(evs[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded"));
        assert_eq!(t.decoder.pending_bytes(), 0);
    }

    #[test]
    fn completions_stream_yields_text_completion_chunks() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_c\",\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"This is\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" a test.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\\n\"},\"usage\":{\"output_tokens\":6}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::Completions, true, &[stream.as_bytes()]));
        assert_eq!(
            evs,
            vec![
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": "This is", "index": 0, "logprobs": null, "finish_reason": null}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": " a test.", "index": 0, "logprobs": null, "finish_reason": null}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": "", "index": 0, "logprobs": null, "finish_reason": "stop"}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10, "prompt_tokens_details": {"cached_tokens": 0}}}),
                json!("[DONE]"),
            ]
        );
    }

    #[test]
    fn max_tokens_stop_and_missing_message_delta() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_m\",\"model\":\"\"}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::ChatCompletions, false, &[stream.as_bytes()]));
        assert_eq!(
            evs[0]["model"], "claude-from-config",
            "empty model falls back to ctx"
        );
        assert_eq!(
            evs[1]["choices"][0]["finish_reason"], "stop",
            "a finish chunk is always sent"
        );
        assert_eq!(evs[2], "[DONE]");
    }

    #[test]
    fn cow_str_borrows_unescaped_and_owns_escaped() {
        let d: DeltaIn<'_> =
            serde_json::from_str(r#"{"type":"text_delta","text":"plain"}"#).unwrap();
        assert!(matches!(
            d.text,
            Some(CowStr(std::borrow::Cow::Borrowed("plain")))
        ));
        let d: DeltaIn<'_> = serde_json::from_str(r#"{"text":"a\nb"}"#).unwrap();
        assert_eq!(opt_str(&d.text), Some("a\nb"));
    }
}
