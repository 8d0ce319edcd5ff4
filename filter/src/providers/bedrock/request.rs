//! OpenAI chat and completion requests → `Converse` bodies (the mapping is in the
//! provider's module docs).

use serde_json::{json, Map, Value};

use super::embeddings::embedding_request;
use super::models::*;
use super::*;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::{Rewritten, JSON_TOOL};
use crate::providers::ProviderRequest;
use crate::providers::{present, serialize_request as serialize};
use crate::wire::anthropic::tool_input;
use crate::wire::openai::{invalid, parse_data_uri, tool_calls, CallIds};

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
    let (mut inference, max_tokens_set) = inference_config(request, model, &mut additional)?;
    let thinking_budget = reasoning(request, model, &mut additional)?;
    if let (Some(budget), false) = (thinking_budget, max_tokens_set) {
        inference.insert(
            "maxTokens".into(),
            json!(budget.saturating_add(DEFAULT_MAX_TOKENS)),
        );
    }
    let (tools, tool_choice) = tool_config(
        request,
        model,
        drop_params,
        thinking_budget,
        stream,
        &mut rewritten,
    )?;
    if tools.is_empty() && messages_use_tools(&messages) {
        return Err(invalid(
            "tools",
            "Bedrock doesn't support tool calling without `tools=` param specified. Pass `tools=` with the tools the conversation used.",
        ));
    }
    other_fields(request, &mut body, &mut additional)?;

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

/// `inferenceConfig` (`maxTokens`, `temperature`, `topP`, `stopSequences`) and
/// whether the client set the maximum; `top_k` goes to `additional` (for Nova as
/// its `inferenceConfig.topK`).
fn inference_config(
    request: &Map<String, Value>,
    model: &str,
    additional: &mut Map<String, Value>,
) -> Result<(Map<String, Value>, bool), GatewayError> {
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
    Ok((inference, max_tokens_set))
}

/// `reasoning_effort` and `thinking` into `additional`, per model family; the
/// thinking budget when thinking is on.
fn reasoning(
    request: &Map<String, Value>,
    model: &str,
    additional: &mut Map<String, Value>,
) -> Result<Option<u64>, GatewayError> {
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
    Ok(thinking_budget)
}

/// The tools and tool choice, with JSON mode's forced tool added (and noted in
/// `rewritten`); a forced choice becomes `auto` while thinking.
fn tool_config(
    request: &Map<String, Value>,
    model: &str,
    drop_params: bool,
    thinking_budget: Option<u64>,
    stream: bool,
    rewritten: &mut Rewritten,
) -> Result<(Vec<Value>, Option<Value>), GatewayError> {
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
                tools.push(json_tool(obj));
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
    Ok((tools, tool_choice))
}

/// The [`JSON_TOOL`] tool spec for a `json_object` / `json_schema` response format.
fn json_tool(format: &Map<String, Value>) -> Value {
    let schema = format
        .get("response_schema")
        .or_else(|| format.get("json_schema").and_then(|s| s.get("schema")))
        .cloned()
        .unwrap_or_else(
            || json!({"type": "object", "additionalProperties": true, "properties": {}}),
        );
    let mut spec = Map::new();
    spec.insert("name".into(), json!(JSON_TOOL));
    spec.insert("inputSchema".into(), json!({ "json": schema }));
    if let Some(d) = format
        .get("json_schema")
        .and_then(|s| s.get("description"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        spec.insert("description".into(), json!(d));
    }
    json!({ "toolSpec": spec })
}

/// Fields not translated above: Converse's own top-level ones into `body`, the
/// rest (model-specific) into `additional`; `service_tier` → `serviceTier`.
fn other_fields(
    request: &Map<String, Value>,
    body: &mut Map<String, Value>,
    additional: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
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
    Ok(())
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
            let (media_type, bytes) = media_and_bytes(data).ok_or_else(|| {
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

/// `data:<media>;base64,<data>` → (media type, data), both non-empty: Bedrock
/// takes no empty image or document.
fn media_and_bytes(uri: &str) -> Option<(&str, &str)> {
    parse_data_uri(uri)
        .map(|d| (d.media_type(), d.data))
        .filter(|(media, data)| !media.is_empty() && !data.is_empty())
}

fn image_block(url: &str) -> Result<Value, String> {
    if let Some((media, data)) = media_and_bytes(url) {
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
    for call in tool_calls(calls, i, CallIds::Required)? {
        let input = tool_input(&call)?;
        let id = call.id.unwrap_or_default();
        blocks.push(json!({ "toolUse": { "toolUseId": id, "name": call.name, "input": input } }));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::test_helpers::*;

    use serde_json::json;

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
}
