//! OpenAI request → Cohere v2 `chat` / `embed` body: messages, documents,
//! tools, response format, thinking.

use super::*;

/// Translates an OpenAI request for Cohere's v2 API.
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<ProviderRequest, GatewayError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if endpoint == Endpoint::Embeddings {
        return embed_request(request, body);
    }
    let messages = match endpoint {
        Endpoint::Completions => {
            vec![json!({"role": "user", "content": completion_prompt(get(request, "prompt"))?})]
        }
        _ => {
            let list = get(request, "messages")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    invalid(
                        "messages",
                        "`messages` must be an array of message objects.",
                    )
                })?;
            if list.is_empty() {
                return Err(invalid("messages", "`messages` must not be empty."));
            }
            chat_messages(list)?
        }
    };
    body.insert("messages".into(), Value::Array(messages));
    let stream = match get(request, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };
    body.insert("stream".into(), json!(stream));

    if let Some(tools) = get(request, "tools") {
        let (mut tools, strict) = convert_tools(tools)?;
        if let Some(choice) = get(request, "tool_choice") {
            if let Some(mode) = tool_choice(choice, &mut tools)? {
                body.insert("tool_choice".into(), json!(mode));
            }
        }
        if !tools.is_empty() {
            body.insert("tools".into(), Value::Array(tools));
        }
        if strict {
            body.insert("strict_tools".into(), json!(true));
        }
    } else if let Some(choice) = get(request, "tool_choice") {
        // Without tools only `none`/`auto` make sense; Cohere wants tools for REQUIRED.
        if !matches!(choice.as_str(), Some("none" | "auto")) {
            return Err(invalid(
                "tool_choice",
                "`tool_choice` other than `auto` or `none` needs `tools`.",
            ));
        }
    }
    if let Some(rf) = response_format(get(request, "response_format"))? {
        body.insert("response_format".into(), rf);
    }
    if let Some(v) = get(request, "max_completion_tokens").or_else(|| get(request, "max_tokens")) {
        if !(v.is_u64()) {
            return Err(invalid(
                "max_tokens",
                "`max_tokens` must be a positive integer.",
            ));
        }
        body.insert("max_tokens".into(), v.clone());
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "p"),
        ("frequency_penalty", "frequency_penalty"),
        ("presence_penalty", "presence_penalty"),
    ] {
        if let Some(v) = get(request, from) {
            if !v.is_number() {
                return Err(invalid(from, format!("`{from}` must be a number.")));
            }
            body.insert(to.into(), v.clone());
        }
    }
    for (from, to) in [("seed", "seed"), ("top_k", "k")] {
        if let Some(v) = get(request, from) {
            if !(v.is_i64() || v.is_u64()) {
                return Err(invalid(from, format!("`{from}` must be an integer.")));
            }
            body.insert(to.into(), v.clone());
        }
    }
    match get(request, "stop") {
        None => {}
        Some(Value::String(s)) => {
            body.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            body.insert("stop_sequences".into(), Value::Array(list.clone()));
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "`stop` must be a string or a list of strings.",
            ))
        }
    }
    match get(request, "n") {
        None => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(_) => {
            return Err(invalid(
                "n",
                "Cohere's v2 Chat API generates one choice per request: `n` must be 1.",
            ))
        }
    }
    if let Some(thinking) = get(request, "thinking") {
        body.insert("thinking".into(), native_thinking(thinking)?);
    } else if let Some(effort) = get(request, "reasoning_effort") {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        let thinking = thinking_for_effort(effort).ok_or_else(|| {
            invalid(
                "reasoning_effort",
                format!("Unknown `reasoning_effort` {effort:?}: expected none, minimal, low, medium or high."),
            )
        })?;
        body.insert("thinking".into(), thinking);
    }
    for name in NATIVE {
        if let Some(v) = get(request, name) {
            body.insert((*name).to_string(), v.clone());
        }
    }
    Ok(ProviderRequest {
        path: "/v2/chat".into(),
        body: serialize(&Value::Object(body))?,
    })
}

pub(super) fn embed_request(
    request: &Map<String, Value>,
    mut body: Map<String, Value>,
) -> Result<ProviderRequest, GatewayError> {
    let texts = match get(request, "input") {
        Some(Value::String(s)) => vec![json!(s)],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.clone()
        }
        Some(Value::Array(_)) => {
            return Err(invalid(
                "input",
                "Cohere embeds text: `input` must be a string or a non-empty list of strings (token arrays are not supported).",
            ))
        }
        _ => {
            return Err(invalid(
                "input",
                "`input` is required: a string or a list of strings.",
            ))
        }
    };
    body.insert("texts".into(), Value::Array(texts));
    let input_type = match get(request, "input_type") {
        None => DEFAULT_INPUT_TYPE,
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("input_type", "`input_type` must be a string.")),
    };
    body.insert("input_type".into(), json!(input_type));
    body.insert("embedding_types".into(), json!(["float"]));
    match get(request, "encoding_format").map(Value::as_str) {
        None | Some(Some("float" | "base64")) => {}
        Some(_) => {
            return Err(invalid(
                "encoding_format",
                "`encoding_format` must be `float` or `base64`.",
            ))
        }
    }
    if let Some(v) = get(request, "dimensions") {
        if !v.is_u64() {
            return Err(invalid(
                "dimensions",
                "`dimensions` must be a positive integer.",
            ));
        }
        body.insert("output_dimension".into(), v.clone());
    }
    if let Some(v) = get(request, "truncate") {
        body.insert("truncate".into(), v.clone());
    }
    Ok(ProviderRequest {
        path: "/v2/embed".into(),
        body: serialize(&Value::Object(body))?,
    })
}

pub(super) fn completion_prompt(prompt: Option<&Value>) -> Result<String, GatewayError> {
    match prompt {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => Ok(s.clone()),
            _ => Err(invalid(
                "prompt",
                "Cohere completes one prompt per request: send a string (or an array of one string).",
            )),
        },
        _ => Err(invalid("prompt", "`prompt` is required: a string.")),
    }
}

/// A `thinking` parameter in Cohere's shape (`{type, token_budget}`), or
/// Anthropic's (`budget_tokens`) as LiteLLM clients send it.
pub(super) fn native_thinking(v: &Value) -> Result<Value, GatewayError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("thinking", "`thinking` must be an object."))?;
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            "thinking.type",
            "`thinking.type` must be `enabled` or `disabled`.",
        )
    })?;
    if !matches!(kind, "enabled" | "disabled") {
        return Err(invalid(
            "thinking.type",
            "`thinking.type` must be `enabled` or `disabled`.",
        ));
    }
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    if let Some(budget) = obj
        .get("token_budget")
        .or_else(|| obj.get("budget_tokens"))
        .filter(|b| !b.is_null())
    {
        if !budget.is_u64() {
            return Err(invalid(
                "thinking.token_budget",
                "`thinking.token_budget` must be a positive integer.",
            ));
        }
        out.insert("token_budget".into(), budget.clone());
    }
    Ok(Value::Object(out))
}

/// `response_format` → Cohere's `ResponseFormatV2`.
pub(super) fn response_format(rf: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let Some(rf) = rf else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let schema = rf
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    invalid(
                        "response_format.json_schema.schema",
                        "`json_schema` response formats need a `json_schema.schema` object.",
                    )
                })?;
            Ok(Some(json!({"type": "json_object", "json_schema": schema})))
        }
        _ => Err(invalid(
            "response_format",
            "`response_format.type` must be `text`, `json_object` or `json_schema`.",
        )),
    }
}

/// OpenAI `tools` → Cohere's `ToolV2` list, and whether any asked for `strict`.
pub(super) fn convert_tools(tools: &Value) -> Result<(Vec<Value>, bool), GatewayError> {
    let list = tools
        .as_array()
        .ok_or_else(|| invalid("tools", "`tools` must be an array."))?;
    let mut out = Vec::with_capacity(list.len());
    let mut strict = false;
    for (i, tool) in list.iter().enumerate() {
        let at = |s: &str| format!("tools[{i}]{s}");
        match tool.get("type").and_then(Value::as_str) {
            Some("function") | None => {}
            Some(other) => {
                return Err(invalid(
                    at(".type"),
                    format!("Cohere takes function tools only, not `{other}`."),
                ))
            }
        }
        let view = wire::function_tool(tool, i)?;
        let mut f = Map::new();
        f.insert("name".into(), json!(view.name));
        if let Some(d) = view.description {
            f.insert("description".into(), json!(d));
        }
        let parameters = match view.parameters {
            None => json!({"type": "object", "properties": {}}),
            Some(p) => Value::Object(p.clone()),
        };
        f.insert("parameters".into(), parameters);
        if view.function.get("strict").and_then(Value::as_bool) == Some(true) {
            strict = true;
        }
        out.push(json!({"type": "function", "function": f}));
    }
    Ok((out, strict))
}

/// `tool_choice` → Cohere's `REQUIRED`/`NONE` (or nothing for `auto`); a named
/// function narrows `tools` to that function.
pub(super) fn tool_choice(
    choice: &Value,
    tools: &mut Vec<Value>,
) -> Result<Option<&'static str>, GatewayError> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(None),
            "none" => Ok(Some("NONE")),
            "required" => Ok(Some("REQUIRED")),
            other => Err(invalid(
                "tool_choice",
                format!(
                    "Unknown `tool_choice` {other:?}: expected auto, none, required or a function."
                ),
            )),
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        "tool_choice.function.name",
                        "A named `tool_choice` needs `function.name`.",
                    )
                })?;
            let named = |t: &Value| {
                t.get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    == Some(name)
            };
            if !tools.iter().any(named) {
                return Err(invalid(
                    "tool_choice.function.name",
                    format!("`tool_choice` names {name:?}, which is not in `tools`."),
                ));
            }
            tools.retain(named);
            Ok(Some("REQUIRED"))
        }
        _ => Err(invalid(
            "tool_choice",
            "`tool_choice` must be a string or an object.",
        )),
    }
}

/// Text parts (and, where `images` is set, image parts) of one message.
pub(super) fn content_parts(
    content: &Value,
    i: usize,
    images: bool,
) -> Result<Value, GatewayError> {
    match content {
        Value::String(s) => Ok(json!(s)),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let at = |s: &str| format!("messages[{i}].content[{j}]{s}");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = part.get("text").and_then(Value::as_str).ok_or_else(|| {
                            invalid(at(".text"), "Text parts need a string `text`.")
                        })?;
                        out.push(json!({"type": "text", "text": t}));
                    }
                    Some("image_url") if images => {
                        let (url, detail) = match part.get("image_url") {
                            Some(Value::String(u)) => (Some(u.as_str()), None),
                            Some(o) => (
                                o.get("url").and_then(Value::as_str),
                                o.get("detail").and_then(Value::as_str),
                            ),
                            None => (None, None),
                        };
                        let url = url.filter(|u| !u.is_empty()).ok_or_else(|| {
                            invalid(at(".image_url"), "Image parts need `image_url.url`.")
                        })?;
                        let mut image = Map::new();
                        image.insert("url".into(), json!(url));
                        if let Some(d) = detail {
                            image.insert("detail".into(), json!(d));
                        }
                        out.push(json!({"type": "image_url", "image_url": image}));
                    }
                    Some(other) => {
                        return Err(invalid(
                            at(".type"),
                            format!(
                                "Content parts of type `{other}` are not supported by Cohere in this message."
                            ),
                        ))
                    }
                    None => {
                        return Err(invalid(
                            at(".type"),
                            "Each content part needs a string `type`.",
                        ))
                    }
                }
            }
            Ok(Value::Array(out))
        }
        _ => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

/// Assistant `tool_calls` → Cohere's `ToolCallV2` (arguments as a JSON string).
pub(super) fn tool_calls(calls: &Value, i: usize) -> Result<Vec<Value>, GatewayError> {
    let views = wire::tool_calls(calls, i, wire::CallIds::Required)?;
    let mut out = Vec::with_capacity(views.len());
    for call in views {
        let arguments = match call.arguments {
            None => "{}".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(_) => {
                return Err(invalid(
                    format!("{}.function.arguments", call.at),
                    "`function.arguments` must be a JSON string.",
                ))
            }
        };
        out.push(json!({
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": arguments},
        }));
    }
    Ok(out)
}

/// OpenAI messages → Cohere's `ChatMessageV2` list.
pub(super) fn chat_messages(messages: &[Value]) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("messages[{i}].role"),
                "Each message needs a string `role`.",
            )
        })?;
        let content = message.get("content").filter(|c| !c.is_null());
        let mut m = Map::new();
        match role {
            "system" | "developer" => {
                m.insert("role".into(), json!("system"));
                let content = content.ok_or_else(|| {
                    invalid(
                        format!("messages[{i}].content"),
                        "System messages need `content`.",
                    )
                })?;
                m.insert("content".into(), content_parts(content, i, false)?);
            }
            "user" => {
                m.insert("role".into(), json!("user"));
                let content = content.ok_or_else(|| {
                    invalid(
                        format!("messages[{i}].content"),
                        "User messages need `content`.",
                    )
                })?;
                m.insert("content".into(), content_parts(content, i, true)?);
            }
            "assistant" => {
                m.insert("role".into(), json!("assistant"));
                let calls = match message.get("tool_calls").filter(|c| !c.is_null()) {
                    Some(c) => tool_calls(c, i)?,
                    None => Vec::new(),
                };
                let thinking = message
                    .get("reasoning_content")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty());
                let text = match content {
                    Some(c) => Some(content_parts(c, i, false)?),
                    None => None,
                };
                let text = text.filter(|t| match t {
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                });
                let content = match (thinking, text) {
                    (Some(th), text) => {
                        let mut items = vec![json!({"type": "thinking", "thinking": th})];
                        match text {
                            Some(Value::String(s)) => {
                                items.push(json!({"type": "text", "text": s}));
                            }
                            Some(Value::Array(a)) => items.extend(a),
                            _ => {}
                        }
                        Some(Value::Array(items))
                    }
                    (None, text) => text,
                };
                match content {
                    Some(c) => {
                        m.insert("content".into(), c);
                    }
                    None if calls.is_empty() => {
                        m.insert("content".into(), json!(""));
                    }
                    None => {}
                }
                if let Some(plan) = message
                    .get("tool_plan")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                {
                    m.insert("tool_plan".into(), json!(plan));
                }
                if !calls.is_empty() {
                    m.insert("tool_calls".into(), Value::Array(calls));
                }
            }
            "tool" => {
                m.insert("role".into(), json!("tool"));
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            format!("messages[{i}].tool_call_id"),
                            "Tool messages need a string `tool_call_id`.",
                        )
                    })?;
                m.insert("tool_call_id".into(), json!(id));
                let content = match content {
                    Some(c) => content_parts(c, i, false)?,
                    None => json!(""),
                };
                m.insert("content".into(), content);
            }
            other => {
                return Err(invalid(
                    format!("messages[{i}].role"),
                    format!(
                    "Unknown role `{other}`: expected system, developer, user, assistant or tool."
                ),
                ))
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}
