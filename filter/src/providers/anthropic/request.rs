//! OpenAI request → Anthropic Messages request body: turns, content parts, tools,
//! JSON mode and thinking (the mapping is in the provider's module docs).

use serde_json::{json, Map, Value};

use super::{no_embeddings, thinking_budget, wants_json, DEFAULT_MAX_TOKENS, JSON_TOOL};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::present;
use crate::wire::anthropic::tool_input;
use crate::wire::openai::{invalid, parse_data_uri, tool_calls, CallIds};

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
    sampling(request, &mut body)?;
    if endpoint == Endpoint::ChatCompletions {
        tools_and_thinking(request, thinking, &mut body)?;
    }

    crate::providers::serialize_request(&Value::Object(body))
}

/// `stop`, `temperature`, `top_p`, `top_k`, `n`, `user` and `stream`, checked and
/// written to `body` as Anthropic names them.
fn sampling(
    request: &Map<String, Value>,
    body: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
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
    Ok(())
}

/// Chat only: `tools`, `tool_choice` (with `parallel_tool_calls` and JSON mode's
/// forced tool) and `thinking`, written to `body`.
fn tools_and_thinking(
    request: &Map<String, Value>,
    thinking: Option<Value>,
    body: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
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
            let input_schema = json_tool_schema(format);
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
    Ok(())
}

/// The input schema of the JSON-mode tool: the wanted schema (as an object type),
/// or any object when the request names none.
fn json_tool_schema(format: &Value) -> Map<String, Value> {
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
    input_schema
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
        let obj = message
            .as_object()
            .ok_or_else(|| invalid(format!("messages[{i}]"), "Each message must be an object."))?;
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
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
                    invalid(
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
            "function" => return Err(invalid(
                format!("messages[{i}].role"),
                "Legacy `function` messages are not supported for Anthropic; use `tool` messages.",
            )),
            other => {
                return Err(invalid(
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
        _ => Err(invalid(
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
        .ok_or_else(|| invalid(at(""), "Each content part must be an object."))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at(".type"), "Each content part needs a string `type`."))?;
    let mut block = match (kind, parts) {
        ("text", _) => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(at(".text"), "Text parts need a string `text`."))?;
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
            image_block(url).map_err(|msg| invalid(at(".image_url"), msg))?
        }
        ("file", Parts::Media) => {
            let data = obj
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        at(".file"),
                        "Only files sent inline as `file.file_data` (a base64 PDF data URI) are supported for Anthropic.",
                    )
                })?;
            match media_and_data(data) {
                Some(("application/pdf", data)) => json!({
                    "type": "document",
                    "source": { "type": "base64", "media_type": "application/pdf", "data": data }
                }),
                _ => {
                    return Err(invalid(
                        at(".file.file_data"),
                        "`file_data` must be a `data:application/pdf;base64,` URI.",
                    ))
                }
            }
        }
        (other, _) => {
            return Err(invalid(
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
fn media_and_data(uri: &str) -> Option<(&str, &str)> {
    parse_data_uri(uri).map(|d| (d.media_type(), d.data))
}

fn image_block(url: &str) -> Result<Value, String> {
    if url.starts_with("data:") {
        return match media_and_data(url) {
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
    if let Some(list) = calls.as_array() {
        for (j, call) in list.iter().enumerate() {
            let at = |suffix: &str| format!("messages[{i}].tool_calls[{j}]{suffix}");
            let obj = call
                .as_object()
                .ok_or_else(|| invalid(at(""), "Each tool call must be an object."))?;
            if let Some(t) = obj.get("type").filter(|t| !t.is_null()) {
                if t.as_str() != Some("function") {
                    return Err(invalid(
                        at(".type"),
                        "Only `function` tool calls are supported.",
                    ));
                }
            }
        }
    }
    for call in tool_calls(calls, i, CallIds::Required)? {
        let input = tool_input(&call)?;
        let id = call.id.unwrap_or_default();
        blocks.push(json!({ "type": "tool_use", "id": id, "name": call.name, "input": input }));
    }
    Ok(())
}

fn tool_result_block(obj: &Map<String, Value>, i: usize) -> Result<Value, GatewayError> {
    let id = obj
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
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
            return Err(invalid(
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
            .ok_or_else(|| invalid(at(""), "Each tool must be an object."))?;
        if obj.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                at(".type"),
                "Only tools of type `function` are supported for Anthropic.",
            ));
        }
        let function = obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at(".function"), "Each tool needs a `function` object."))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid(at(".function.name"), "Each tool needs a `function.name`."))?;
        let mut t = Map::new();
        t.insert("name".into(), Value::from(name));
        match function.get("description") {
            None | Some(Value::Null) => {}
            Some(Value::String(d)) => {
                t.insert("description".into(), Value::from(d.as_str()));
            }
            Some(_) => {
                return Err(invalid(
                    at(".function.description"),
                    "`function.description` must be a string.",
                ))
            }
        }
        let schema = match function.get("parameters") {
            None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => {
                return Err(invalid(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::anthropic::test_helpers::*;
    use crate::providers::anthropic::*;
    use serde_json::json;

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
}
