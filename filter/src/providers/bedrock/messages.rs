//! OpenAI `messages` → Converse `system` and `messages`: turns merged by role, tool
//! results first in a user turn, content parts as text, image, document, reasoning,
//! `toolUse` and `toolResult` blocks.

use serde_json::{json, Map, Value};

use crate::error::GatewayError;
use crate::providers::present;
use crate::wire::anthropic::tool_input;
use crate::wire::openai::{invalid, parse_data_uri, tool_calls, CallIds};

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

pub(super) fn prompt_message(prompt: Option<&Value>) -> Result<Value, GatewayError> {
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
pub(super) fn messages_use_tools(messages: &[Value]) -> bool {
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
pub(super) fn merge_adjacent(messages: &mut Vec<Value>) {
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
pub(super) fn translate_messages(
    messages: &Value,
) -> Result<(Vec<Value>, Vec<Value>), GatewayError> {
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
