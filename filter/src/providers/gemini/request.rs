//! OpenAI request → Gemini `generateContent` / `batchEmbedContents` body:
//! messages and parts, tools and tool choice, generation config, thinking.

use super::*;

/// OpenAI request → Gemini request body (`GenerateContentRequest`, or
/// `batchEmbedContents` for embeddings).
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    match endpoint {
        Endpoint::Embeddings => embeddings_request(request, model),
        Endpoint::Completions => Err(GatewayError::bad_request(
            "The Gemini translation serves /chat/completions and /embeddings; use /chat/completions for this deployment.",
        )),
        Endpoint::ChatCompletions => chat_request(request, model),
    }
}

pub(super) fn embeddings_request(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let bad = || invalid("input", "`input` must be a string or an array of strings.");
    let texts: Vec<&str> = match present(request, "input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let dims =
        match present(request, "dimensions") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                invalid("dimensions", "`dimensions` must be a positive integer.")
            })?),
        };
    let model = model.strip_prefix("models/").unwrap_or(model);
    let requests: Vec<Value> = texts
        .into_iter()
        .map(|text| {
            let mut r = json!({
                "model": format!("models/{model}"),
                "content": { "parts": [{ "text": text }] },
            });
            if let (Some(d), Some(obj)) = (dims, r.as_object_mut()) {
                obj.insert("outputDimensionality".into(), Value::from(d));
            }
            r
        })
        .collect();
    serialize(&json!({ "requests": requests }))
}

pub(super) fn chat_request(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let messages = present(request, "messages")
        .ok_or_else(|| invalid("messages", "Missing required parameter: `messages`."))?;
    let (system, mut contents) = translate_messages(messages)?;
    if model.contains("gemini-3") {
        sign_unsigned_calls(&mut contents);
    }

    let mut body = Map::new();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    body.insert("contents".into(), Value::Array(contents));
    if let Some(tools) = translate_tools(present(request, "tools"))? {
        if present(request, "parallel_tool_calls") == Some(&Value::Bool(false)) && tools.len() > 1 {
            // LiteLLM's validate_parallel_tool_calls: Gemini has no switch for it.
            return Err(invalid(
                "parallel_tool_calls",
                "`parallel_tool_calls=false` is not supported by Gemini when several tools are given: give one tool, or set `parallel_tool_calls=true`.",
            ));
        }
        body.insert("tools".into(), json!([{ "functionDeclarations": tools }]));
    }
    if let Some(settings) = present(request, "safety_settings") {
        // LiteLLM passes `safety_settings` on as `safetySettings`
        // ([{category, threshold}], Google's `SafetySetting`).
        let ok = settings
            .as_array()
            .is_some_and(|list| list.iter().all(Value::is_object));
        if !ok {
            return Err(invalid(
                "safety_settings",
                "`safety_settings` must be a list of {\"category\": …, \"threshold\": …} objects.",
            ));
        }
        body.insert("safetySettings".into(), settings.clone());
    }
    if let Some(config) = translate_tool_choice(present(request, "tool_choice"))? {
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
    let config = generation_config(request, model)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    serialize(&Value::Object(body))
}

pub(super) fn generation_config(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Map<String, Value>, GatewayError> {
    let mut config = Map::new();
    for (key, to) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(v) = present(request, key) {
            if !v.is_number() {
                return Err(invalid(key, format!("`{key}` must be a number.")));
            }
            config.insert(to.into(), v.clone());
        }
    }
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(request, key) {
            let n = v
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(key, format!("`{key}` must be a positive integer.")))?;
            config.insert("maxOutputTokens".into(), Value::from(n));
            break;
        }
    }
    if let Some(v) = present(request, "n") {
        let n = v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("n", "`n` must be a positive integer."))?;
        config.insert("candidateCount".into(), Value::from(n));
    }
    if let Some(v) = present(request, "seed") {
        if v.as_i64().is_none() {
            return Err(invalid("seed", "`seed` must be an integer."));
        }
        config.insert("seed".into(), v.clone());
    }
    let bad_stop = || invalid("stop", "`stop` must be a string or an array of strings.");
    match present(request, "stop") {
        None => {}
        Some(Value::String(s)) => {
            config.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(list)) => {
            if list.iter().any(|s| !s.is_string()) {
                return Err(bad_stop());
            }
            if !list.is_empty() {
                config.insert("stopSequences".into(), Value::Array(list.clone()));
            }
        }
        Some(_) => return Err(bad_stop()),
    }
    if let Some(format) = present(request, "response_format") {
        let bad = |m: &str| invalid("response_format", m.to_string());
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                config.insert("responseMimeType".into(), Value::from("application/json"));
            }
            Some("json_schema") => {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .filter(|s| s.is_object())
                    .ok_or_else(|| {
                        bad("`response_format.json_schema.schema` must be a JSON Schema object.")
                    })?;
                config.insert("responseMimeType".into(), Value::from("application/json"));
                let mut schema = schema.clone();
                if let Some(obj) = schema.as_object_mut() {
                    obj.remove("$schema");
                }
                config.insert("responseJsonSchema".into(), schema);
            }
            _ => {
                return Err(bad(
                    "`response_format.type` must be `text`, `json_object` or `json_schema`.",
                ))
            }
        }
    }
    if let Some(k) = present(request, "top_k") {
        if k.as_u64().is_none() {
            return Err(invalid("top_k", "`top_k` must be a non-negative integer."));
        }
        config.insert("topK".into(), k.clone());
    }
    if let Some(effort) = present(request, "reasoning_effort") {
        let effort = effort
            .as_str()
            .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string."))?;
        let thinking = thinking_config(effort, model).ok_or_else(|| {
            invalid(
                "reasoning_effort",
                format!("Unsupported `reasoning_effort` {effort:?}: use none, disable, minimal, low, medium or high."),
            )
        })?;
        config.insert("thinkingConfig".into(), thinking);
    } else if let Some(thinking) = present(request, "thinking") {
        config.insert("thinkingConfig".into(), anthropic_thinking(thinking)?);
    }
    Ok(config)
}

/// LiteLLM's `reasoning_effort` → `thinkingConfig`
/// (`VertexGeminiConfig._map_reasoning_effort_to_thinking_budget` and
/// `…_to_thinking_level`): Gemini 3 models get a `thinkingLevel` (`low`/`high`;
/// thinking cannot be turned off there, so `none`/`disable` only hide the
/// thoughts), the others a `thinkingBudget` (LiteLLM's
/// `DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET` constants, `minimal` per model:
/// the smallest budget each 2.5 model takes). `none`/`disable` turn thinking off,
/// every other effort asks for thought summaries (`includeThoughts`).
pub fn thinking_config(effort: &str, model: &str) -> Option<Value> {
    if model.contains("gemini-3") {
        let (level, include) = match effort {
            "minimal" | "low" => ("low", true),
            "medium" | "high" => ("high", true),
            "none" | "disable" => ("low", false),
            _ => return None,
        };
        return Some(json!({ "thinkingLevel": level, "includeThoughts": include }));
    }
    let budget: u64 = match effort {
        "none" | "disable" => 0,
        "minimal" if model.contains("gemini-2.5-flash-lite") => 512,
        "minimal" if model.contains("gemini-2.5-pro") => 128,
        "minimal" if model.contains("gemini-2.5-flash") => 1,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => return None,
    };
    Some(json!({ "thinkingBudget": budget, "includeThoughts": budget > 0 }))
}

/// Anthropic's `thinking` (`{"type": "enabled", "budget_tokens": N}`) →
/// `thinkingConfig`, as LiteLLM's `_map_thinking_param`: thoughts included when
/// enabled with a non-zero budget, the budget as given.
pub(super) fn anthropic_thinking(thinking: &Value) -> Result<Value, GatewayError> {
    let bad = || {
        invalid(
            "thinking",
            "`thinking` must be {\"type\": \"enabled\" | \"disabled\", \"budget_tokens\": N}.",
        )
    };
    let obj = thinking.as_object().ok_or_else(bad)?;
    let enabled = match obj.get("type").and_then(Value::as_str) {
        Some("enabled") => true,
        Some("disabled") => false,
        _ => return Err(bad()),
    };
    let budget = match obj.get("budget_tokens").filter(|b| !b.is_null()) {
        None => None,
        Some(b) => Some(b.as_u64().ok_or_else(bad)?),
    };
    let mut out = Map::new();
    if enabled && budget != Some(0) {
        out.insert("includeThoughts".into(), Value::Bool(true));
    }
    if let Some(b) = budget {
        out.insert("thinkingBudget".into(), Value::from(b));
    }
    Ok(Value::Object(out))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    User,
    Model,
}

pub(super) fn push_turn(turns: &mut Vec<(Role, Vec<Value>)>, role: Role, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(parts),
        _ => turns.push((role, parts)),
    }
}

/// `(system parts, contents)`.
pub(super) fn translate_messages(
    messages: &Value,
) -> Result<(Vec<Value>, Vec<Value>), GatewayError> {
    let list = messages
        .as_array()
        .ok_or_else(|| invalid("messages", "`messages` must be an array."))?;
    let mut system = Vec::new();
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    // Tool call id (as the client sent it) → function name.
    let mut call_names: Vec<(String, String)> = Vec::new();
    for (i, msg) in list.iter().enumerate() {
        let obj = msg
            .as_object()
            .ok_or_else(|| invalid(format!("messages[{i}]"), "Each message must be an object."))?;
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                format!("messages[{i}].role"),
                "Each message needs a `role`.",
            )
        })?;
        let content = obj.get("content").filter(|v| !v.is_null());
        match role {
            "system" | "developer" => {
                if let Some(content) = content {
                    system.extend(content_parts(content, i, true)?);
                }
            }
            "user" => {
                let parts = match content {
                    Some(c) => content_parts(c, i, false)?,
                    None => Vec::new(),
                };
                push_turn(&mut turns, Role::User, parts);
            }
            "assistant" => {
                let mut parts = match content {
                    Some(c) => content_parts(c, i, true)?,
                    None => Vec::new(),
                };
                if let Some(calls) = obj.get("tool_calls").filter(|v| !v.is_null()) {
                    function_call_parts(calls, i, &mut parts, &mut call_names)?;
                }
                push_turn(&mut turns, Role::Model, parts);
            }
            "tool" | "function" => {
                let part = function_response_part(obj, i, &call_names)?;
                push_turn(&mut turns, Role::User, vec![part]);
            }
            other => {
                return Err(invalid(
                    format!("messages[{i}].role"),
                    format!("Unsupported message role {other:?}."),
                ))
            }
        }
    }
    let contents = turns
        .into_iter()
        .map(|(role, parts)| {
            json!({
                "role": if role == Role::User { "user" } else { "model" },
                "parts": parts,
            })
        })
        .collect();
    Ok((system, contents))
}

pub(super) fn content_parts(
    content: &Value,
    i: usize,
    text_only: bool,
) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({ "text": s })]),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                if let Some(p) = content_part(part, i, j, text_only)? {
                    out.push(p);
                }
            }
            Ok(out)
        }
        _ => Err(invalid(
            format!("messages[{i}].content"),
            "`content` must be a string or an array of content parts.",
        )),
    }
}

pub(super) fn content_part(
    part: &Value,
    i: usize,
    j: usize,
    text_only: bool,
) -> Result<Option<Value>, GatewayError> {
    let at = format!("messages[{i}].content[{j}]");
    let kind = part
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&at, "Each content part needs a `type`."))?;
    match kind {
        "text" => {
            let text = part
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{at}.text"), "`text` must be a string."))?;
            Ok((!text.is_empty()).then(|| json!({ "text": text })))
        }
        "image_url" if !text_only => {
            let url = part
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        format!("{at}.image_url"),
                        "`image_url.url` must be a string.",
                    )
                })?;
            image_part(url, &format!("{at}.image_url")).map(Some)
        }
        "file" if !text_only => {
            let data = part
                .get("file")
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        format!("{at}.file"),
                        "Only `file.file_data` with a base64 data URI is supported for Gemini.",
                    )
                })?;
            let (mime, b64) = base64_data_uri(data).ok_or_else(|| {
                invalid(
                    format!("{at}.file.file_data"),
                    "`file_data` must be a base64 data URI.",
                )
            })?;
            Ok(Some(
                json!({ "inlineData": { "mimeType": mime, "data": b64 } }),
            ))
        }
        other => Err(invalid(
            &at,
            format!("Content part type {other:?} is not supported here for Gemini."),
        )),
    }
}

/// `data:<mime>;base64,<data>` → (mime with any parameters, data).
pub(super) fn base64_data_uri(uri: &str) -> Option<(&str, &str)> {
    parse_data_uri(uri)
        .filter(|d| !d.header.is_empty())
        .map(|d| (d.header, d.data))
}

/// The image MIME types Gemini takes, by file extension.
pub(super) fn image_mime_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "gif" => "image/gif",
        _ => return None,
    })
}

pub(super) fn image_part(url: &str, at: &str) -> Result<Value, GatewayError> {
    if url.starts_with("data:") {
        let (mime, data) = base64_data_uri(url).ok_or_else(|| {
            invalid(
                at,
                "An image data URI must look like `data:image/png;base64,...`.",
            )
        })?;
        return Ok(json!({ "inlineData": { "mimeType": mime, "data": data } }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        let mime = image_mime_from_url(url).ok_or_else(|| {
            invalid(
                at,
                "Gemini fetches image URLs itself but needs their MIME type: use a URL ending in .png, .jpg, .jpeg, .webp, .heic, .heif or .gif, or send the image as a base64 data URI.",
            )
        })?;
        return Ok(json!({ "fileData": { "mimeType": mime, "fileUri": url } }));
    }
    Err(invalid(
        at,
        "`image_url.url` must be a base64 data URI or an http(s) URL.",
    ))
}

/// Google's documented sentinel for a function call that has no real thought
/// signature (history from another model, or a client that dropped the id suffix).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gemini 3 refuses a model turn whose function calls carry no thought signature:
/// such a turn gets [`SKIP_SIGNATURE`] on its first call (where Gemini puts the
/// signature of parallel calls), as LiteLLM and Google's SDKs do. Real signatures
/// are never replaced.
pub(super) fn sign_unsigned_calls(contents: &mut [Value]) {
    for turn in contents {
        if turn.get("role").and_then(Value::as_str) != Some("model") {
            continue;
        }
        let Some(parts) = turn.get_mut("parts").and_then(Value::as_array_mut) else {
            continue;
        };
        let calls = || parts.iter().filter(|p| p.get("functionCall").is_some());
        if calls().any(|p| p.get("thoughtSignature").is_some()) {
            continue;
        }
        if let Some(first) = parts
            .iter_mut()
            .find(|p| p.get("functionCall").is_some())
            .and_then(Value::as_object_mut)
        {
            first.insert("thoughtSignature".into(), Value::from(SKIP_SIGNATURE));
        }
    }
}

/// `call_x__thought__SIG` → (`call_x`, `Some("SIG")`).
pub fn split_tool_call_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
        Some((base, sig)) if !sig.is_empty() => (base, Some(sig)),
        _ => (id, None),
    }
}

pub(super) fn function_call_parts(
    calls: &Value,
    i: usize,
    parts: &mut Vec<Value>,
    names: &mut Vec<(String, String)>,
) -> Result<(), GatewayError> {
    for call in wire::tool_calls(calls, i, wire::CallIds::Optional)? {
        let at = &call.at;
        let name = call.name;
        let args = match call.arguments {
            None => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(
                    format!("{at}.function.arguments"),
                    format!("`arguments` is not valid JSON: {e}"),
                )
            })?,
            Some(_) => {
                return Err(invalid(
                    format!("{at}.function.arguments"),
                    "`arguments` must be a JSON string.",
                ))
            }
        };
        if !args.is_object() {
            return Err(invalid(
                format!("{at}.function.arguments"),
                "`arguments` must encode a JSON object.",
            ));
        }
        let mut part = json!({ "functionCall": { "name": name, "args": args } });
        if let Some(id) = call.id {
            names.push((id.to_string(), name.to_string()));
            if let (Some(sig), Some(obj)) = (split_tool_call_id(id).1, part.as_object_mut()) {
                obj.insert("thoughtSignature".into(), Value::from(sig));
            }
        }
        parts.push(part);
    }
    Ok(())
}

pub(super) fn function_response_part(
    obj: &Map<String, Value>,
    i: usize,
    names: &[(String, String)],
) -> Result<Value, GatewayError> {
    let id = obj.get("tool_call_id").and_then(Value::as_str);
    let name = id
        .and_then(|id| {
            names
                .iter()
                .rev()
                .find(|(known, _)| {
                    known == id || split_tool_call_id(known).0 == split_tool_call_id(id).0
                })
                .map(|(_, n)| n.as_str())
        })
        .or_else(|| obj.get("name").and_then(Value::as_str))
        .ok_or_else(|| {
            invalid(
                format!("messages[{i}].tool_call_id"),
                "No earlier assistant tool call has this `tool_call_id`; Gemini needs the function name for a tool result.",
            )
        })?;
    let text = match obj.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(_) => {
            return Err(invalid(
                format!("messages[{i}].content"),
                "A tool message's `content` must be a string or text parts.",
            ))
        }
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    Ok(json!({ "functionResponse": { "name": name, "response": response } }))
}

/// Removes the JSON-schema keys Gemini's `Schema` refuses, at every depth.
pub(super) fn clean_schema(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for key in ["$schema", "additionalProperties", "strict"] {
                obj.remove(key);
            }
            for (_, child) in obj.iter_mut() {
                clean_schema(child);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(clean_schema),
        _ => {}
    }
}

pub(super) fn translate_tools(tools: Option<&Value>) -> Result<Option<Vec<Value>>, GatewayError> {
    let Some(tools) = tools else {
        return Ok(None);
    };
    let list = tools
        .as_array()
        .ok_or_else(|| invalid("tools", "`tools` must be an array."))?;
    let mut out = Vec::new();
    for (k, tool) in list.iter().enumerate() {
        let at = format!("tools[{k}]");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                &at,
                "Only `function` tools are supported for Gemini.",
            ));
        }
        let function = wire::function_tool(tool, k)?;
        let mut decl = Map::new();
        decl.insert("name".into(), Value::from(function.name));
        if let Some(d) = function.description {
            decl.insert("description".into(), Value::from(d));
        }
        if let Some(params) = function.parameters {
            let empty_object = params
                .get("properties")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && params
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("object")
                    == "object";
            if !empty_object {
                let mut params = Value::Object(params.clone());
                clean_schema(&mut params);
                decl.insert("parameters".into(), params);
            }
        }
        out.push(Value::Object(decl));
    }
    Ok((!out.is_empty()).then_some(out))
}

pub(super) fn translate_tool_choice(choice: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let bad = || {
        invalid(
            "tool_choice",
            "`tool_choice` must be `auto`, `none`, `required` or {\"type\":\"function\",\"function\":{\"name\":…}}.",
        )
    };
    Ok(match choice {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({ "mode": "AUTO" }),
            "none" => json!({ "mode": "NONE" }),
            "required" => json!({ "mode": "ANY" }),
            _ => return Err(bad()),
        }),
        Some(v) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            Some(json!({ "mode": "ANY", "allowedFunctionNames": [name] }))
        }
    })
}
