//! OpenAI request → Ollama `/api/chat`, `/api/generate` or `/api/embed` body.

use super::*;

/// Translates an OpenAI request for Ollama (`chat`: `ollama_chat/`).
pub fn translate_request(
    chat: bool,
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<ProviderRequest, GatewayError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(keep_alive) = request.get("keep_alive").filter(|v| !v.is_null()) {
        body.insert("keep_alive".into(), keep_alive.clone());
    }
    if endpoint == Endpoint::Embeddings {
        let input = match request.get("input") {
            Some(Value::String(s)) => json!(s),
            Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
                Value::Array(items.clone())
            }
            Some(Value::Array(_)) => {
                return Err(invalid(
                    "input",
                    "Ollama embeds text: `input` must be a string or a non-empty list of strings (token arrays are not supported).",
                ))
            }
            _ => {
                return Err(invalid(
                    "input",
                    "`input` is required: a string or a list of strings.",
                ))
            }
        };
        body.insert("input".into(), input);
        let options = options(request, false)?;
        if !options.is_empty() {
            body.insert("options".into(), Value::Object(options));
        }
        return Ok(ProviderRequest {
            path: "/api/embed".into(),
            body: serialize(&Value::Object(body))?,
        });
    }

    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };
    let path = if endpoint == Endpoint::Completions {
        body.insert(
            "prompt".into(),
            json!(completion_prompt(request.get("prompt"))?),
        );
        "/api/generate"
    } else {
        let messages = request
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                invalid(
                    "messages",
                    "`messages` must be an array of message objects.",
                )
            })?;
        if messages.is_empty() {
            return Err(invalid("messages", "`messages` must not be empty."));
        }
        if chat {
            body.insert("messages".into(), Value::Array(chat_messages(messages)?));
            if let Some(tools) = request.get("tools").filter(|v| !v.is_null()) {
                if !tools.is_array() {
                    return Err(invalid("tools", "`tools` must be an array."));
                }
                body.insert("tools".into(), tools.clone());
            }
            "/api/chat"
        } else {
            let (prompt, images) = generate_prompt(messages)?;
            body.insert("prompt".into(), json!(prompt));
            if !images.is_empty() {
                body.insert("images".into(), Value::Array(images));
            }
            "/api/generate"
        }
    };
    body.insert("stream".into(), json!(stream));
    let options = options(request, chat)?;
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    if let Some(format) = format(request.get("response_format"))? {
        body.insert("format".into(), format);
    }
    if let Some(effort) = request.get("reasoning_effort").filter(|v| !v.is_null()) {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        let think = if model.starts_with("gpt-oss") {
            json!(effort)
        } else {
            json!(matches!(effort, "low" | "medium" | "high"))
        };
        body.insert("think".into(), think);
    }
    Ok(ProviderRequest {
        path: path.into(),
        body: serialize(&Value::Object(body))?,
    })
}

/// `options`: OpenAI sampling parameters under Ollama's names, then native ones.
pub(super) fn options(
    request: &Map<String, Value>,
    chat: bool,
) -> Result<Map<String, Value>, GatewayError> {
    let mut options = Map::new();
    for name in NATIVE_OPTIONS {
        if let Some(v) = request.get(*name).filter(|v| !v.is_null()) {
            options.insert((*name).to_string(), v.clone());
        }
    }
    let get = |k: &str| request.get(k).filter(|v| !v.is_null());
    if let Some(v) = get("max_completion_tokens").or_else(|| get("max_tokens")) {
        if !(v.is_i64() || v.is_u64()) {
            return Err(invalid("max_tokens", "`max_tokens` must be an integer."));
        }
        options.insert("num_predict".into(), v.clone());
    }
    for name in ["temperature", "top_p"] {
        if let Some(v) = get(name) {
            if !v.is_number() {
                return Err(invalid(name, format!("`{name}` must be a number.")));
            }
            options.insert(name.into(), v.clone());
        }
    }
    if let Some(v) = get("seed") {
        if !(v.is_i64() || v.is_u64()) {
            return Err(invalid("seed", "`seed` must be an integer."));
        }
        options.insert("seed".into(), v.clone());
    }
    if let Some(v) = get("frequency_penalty") {
        if !v.is_number() {
            return Err(invalid(
                "frequency_penalty",
                "`frequency_penalty` must be a number.",
            ));
        }
        let name = if chat {
            "repeat_penalty"
        } else {
            "frequency_penalty"
        };
        options.insert(name.into(), v.clone());
    }
    match get("stop") {
        None => {}
        Some(Value::String(s)) => {
            options.insert("stop".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            options.insert("stop".into(), Value::Array(list.clone()));
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "`stop` must be a string or a list of strings.",
            ))
        }
    }
    Ok(options)
}

/// `response_format` → Ollama's `format`.
pub(super) fn format(response_format: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let Some(rf) = response_format.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("json_object") => Ok(Some(json!("json"))),
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
            Ok(Some(schema.clone()))
        }
        Some("text") => Ok(None),
        _ => Err(invalid(
            "response_format",
            "`response_format.type` must be `text`, `json_object` or `json_schema`.",
        )),
    }
}

pub(super) fn completion_prompt(prompt: Option<&Value>) -> Result<String, GatewayError> {
    match prompt {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => Ok(s.clone()),
            _ => Err(invalid(
                "prompt",
                "Ollama completes one prompt per request: send a string (or an array of one string).",
            )),
        },
        _ => Err(invalid("prompt", "`prompt` is required: a string.")),
    }
}

/// A message's text: a string, or its text parts concatenated; images collected
/// into `images` (plain base64) when `images` is given, refused otherwise.
pub(super) fn text_and_images(
    content: Option<&Value>,
    i: usize,
    mut images: Option<&mut Vec<Value>>,
) -> Result<String, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let at = |s: &str| format!("messages[{i}].content[{j}]{s}");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = part.get("text").and_then(Value::as_str).ok_or_else(|| {
                            invalid(at(".text"), "Text parts need a string `text`.")
                        })?;
                        text.push_str(t);
                    }
                    Some("image_url") => {
                        let url = match part.get("image_url") {
                            Some(Value::String(u)) => Some(u.as_str()),
                            Some(o) => o.get("url").and_then(Value::as_str),
                            None => None,
                        }
                        .ok_or_else(|| {
                            invalid(at(".image_url"), "Image parts need `image_url.url`.")
                        })?;
                        let Some(images) = images.as_deref_mut() else {
                            return Err(invalid(
                                at(".type"),
                                "Ollama takes images in user messages only.",
                            ));
                        };
                        images.push(json!(
                            plain_base64(url).map_err(|m| invalid(at(".image_url"), m))?
                        ));
                    }
                    Some(other) => {
                        return Err(invalid(
                            at(".type"),
                            format!("Content parts of type `{other}` are not supported by Ollama."),
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
            Ok(text)
        }
        Some(_) => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

/// An `image_url` as Ollama's plain base64: a data URI loses its prefix; http(s)
/// URLs are refused (the gateway downloads nothing).
pub(super) fn plain_base64(url: &str) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        return match rest.split_once(";base64,") {
            Some((_, data)) if !data.is_empty() => Ok(data.to_string()),
            _ => Err("Image data URIs must look like `data:image/png;base64,…`.".into()),
        };
    }
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err("Ollama takes images as base64 only and the gateway does not download image URLs: send the image as a `data:image/…;base64,` URI.".into());
    }
    if url.is_empty() {
        return Err("The image URL is empty.".into());
    }
    // Already plain base64, as LiteLLM accepts it.
    Ok(url.to_string())
}

/// Assistant `tool_calls` → Ollama's (`arguments` as an object); also records each
/// call's id → name for the `tool` messages that answer it.
pub(super) fn tool_calls(
    calls: &Value,
    i: usize,
    names: &mut Vec<(String, String)>,
) -> Result<Vec<Value>, GatewayError> {
    let views = wire::tool_calls(calls, i, wire::CallIds::Optional)?;
    let mut out = Vec::with_capacity(views.len());
    for call in views {
        let arguments = match call.arguments {
            None => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(
                    format!("{}.function.arguments", call.at),
                    format!("`function.arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => {
                return Err(invalid(
                    format!("{}.function.arguments", call.at),
                    "`function.arguments` must be a JSON string.",
                ))
            }
        };
        if let Some(id) = call.id {
            names.push((id.to_string(), call.name.to_string()));
        }
        out.push(json!({"function": {"name": call.name, "arguments": arguments}}));
    }
    Ok(out)
}

/// OpenAI messages → `/api/chat` messages.
pub(super) fn chat_messages(messages: &[Value]) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::with_capacity(messages.len());
    let mut names: Vec<(String, String)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("messages[{i}].role"),
                "Each message needs a string `role`.",
            )
        })?;
        let mut m = Map::new();
        let role = match role {
            "system" | "developer" => "system",
            "user" | "assistant" | "tool" => role,
            other => {
                return Err(invalid(
                    format!("messages[{i}].role"),
                    format!(
                    "Unknown role `{other}`: expected system, developer, user, assistant or tool."
                ),
                ))
            }
        };
        m.insert("role".into(), json!(role));
        let mut images = Vec::new();
        let content = text_and_images(
            message.get("content"),
            i,
            (role == "user").then_some(&mut images),
        )?;
        m.insert("content".into(), json!(content));
        if !images.is_empty() {
            m.insert("images".into(), Value::Array(images));
        }
        if role == "assistant" {
            if let Some(thinking) = message.get("reasoning_content").and_then(Value::as_str) {
                m.insert("thinking".into(), json!(thinking));
            }
            if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                m.insert(
                    "tool_calls".into(),
                    Value::Array(tool_calls(calls, i, &mut names)?),
                );
            }
        }
        if role == "tool" {
            let id = message.get("tool_call_id").and_then(Value::as_str);
            if let Some((_, name)) = names.iter().rev().find(|(k, _)| Some(k.as_str()) == id) {
                m.insert("tool_name".into(), json!(name));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

/// LiteLLM's `ollama_pt`: the `/api/generate` prompt and images of a chat.
pub(super) fn generate_prompt(messages: &[Value]) -> Result<(String, Vec<Value>), GatewayError> {
    fn role_of(m: &Value) -> &str {
        m.get("role").and_then(Value::as_str).unwrap_or("")
    }
    for (i, m) in messages.iter().enumerate() {
        if !matches!(
            role_of(m),
            "user" | "tool" | "function" | "system" | "developer" | "assistant"
        ) {
            return Err(invalid(
                format!("messages[{i}].role"),
                "Each message needs a role: system, developer, user, assistant or tool.",
            ));
        }
    }
    let mut prompt = String::new();
    let mut images = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let start = i;
        let mut user = String::new();
        while let Some(m) = messages
            .get(i)
            .filter(|m| matches!(role_of(m), "user" | "tool" | "function"))
        {
            let allow_images = role_of(m) == "user";
            user.push_str(&text_and_images(
                m.get("content"),
                i,
                if allow_images {
                    Some(&mut images)
                } else {
                    None
                },
            )?);
            i += 1;
        }
        if !user.is_empty() {
            prompt.push_str(&format!("### User:\n{user}\n\n"));
        }
        let mut system = String::new();
        while let Some(m) = messages
            .get(i)
            .filter(|m| matches!(role_of(m), "system" | "developer"))
        {
            system.push_str(&text_and_images(m.get("content"), i, None)?);
            i += 1;
        }
        if !system.is_empty() {
            prompt.push_str(&format!("### System:\n{system}\n\n"));
        }
        let mut assistant = String::new();
        while let Some(m) = messages.get(i).filter(|m| role_of(m) == "assistant") {
            assistant.push_str(&text_and_images(m.get("content"), i, None)?);
            if let Some(calls) = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty())
            {
                let mut listed = Vec::with_capacity(calls.len());
                for (j, call) in calls.iter().enumerate() {
                    let mut ignored = Vec::new();
                    let converted = tool_calls(&json!([call]), i, &mut ignored)?;
                    let function = converted
                        .first()
                        .and_then(|c| c.get("function"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    listed.push(json!({
                        "id": call.get("id").and_then(Value::as_str).map_or_else(|| format!("call_{j}"), str::to_string),
                        "type": "function",
                        "function": function,
                    }));
                }
                let text = serde_json::to_string_pretty(&listed).unwrap_or_default();
                assistant.push_str(&format!("Tool Calls: {text}"));
            }
            i += 1;
        }
        if !assistant.is_empty() {
            prompt.push_str(&format!("### Assistant:\n{assistant}\n\n"));
        }
        if i == start {
            // Unreachable with the roles checked above; never loop forever.
            return Err(invalid(format!("messages[{i}]"), "Unexpected message."));
        }
    }
    Ok((prompt, images))
}
