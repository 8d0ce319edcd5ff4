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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::gemini::fixtures::*;

    #[test]
    fn text_and_system_messages() {
        let v = chat(json!({
            "model": "x",
            "messages": [
                {"role": "system", "content": "You are a cat."},
                {"role": "developer", "content": [{"type": "text", "text": "Your name is Neko."}]},
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Great to meet you. What would you like to know?"},
                {"role": "user", "content": "I have two dogs in my house."},
                {"role": "user", "content": "How many paws are in my house?"}
            ]
        }));
        assert_eq!(
            v,
            json!({
                "systemInstruction": {"parts": [{"text": "You are a cat."}, {"text": "Your name is Neko."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "Hello there"}]},
                    {"role": "model", "parts": [{"text": "Great to meet you. What would you like to know?"}]},
                    {"role": "user", "parts": [{"text": "I have two dogs in my house."}, {"text": "How many paws are in my house?"}]}
                ]
            })
        );
    }

    #[test]
    fn generation_config_fields() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.7, "top_p": 0.9, "max_tokens": 100, "max_completion_tokens": 200,
            "stop": "END", "n": 2, "presence_penalty": 0.5, "frequency_penalty": -0.5, "seed": 42
        }));
        assert_eq!(
            v["generationConfig"],
            json!({
                "temperature": 0.7, "topP": 0.9, "maxOutputTokens": 200,
                "stopSequences": ["END"], "candidateCount": 2,
                "presencePenalty": 0.5, "frequencyPenalty": -0.5, "seed": 42
            })
        );
        let v = chat(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "stop": ["a", "b"], "max_tokens": 5
        }));
        assert_eq!(v["generationConfig"]["stopSequences"], json!(["a", "b"]));
        assert_eq!(v["generationConfig"]["maxOutputTokens"], 5);
        let e = chat_err(json!({"messages": [{"role": "user", "content": "hi"}], "stop": 3}));
        assert_eq!(e.param.as_deref(), Some("stop"));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
        );
        assert_eq!((e.status, e.param.as_deref()), (400, Some("temperature")));
        // Nothing set: no generationConfig at all.
        let v = chat(json!({"messages": [{"role": "user", "content": "hi"}]}));
        assert!(v.get("generationConfig").is_none());
    }

    #[test]
    fn images_data_uri_url_and_unknown_url() {
        let v = chat(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Caption this image."},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.PNG?size=2"}}
        ]}]}));
        assert_eq!(
            v["contents"][0]["parts"],
            json!([
                {"text": "Caption this image."},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.PNG?size=2"}}
            ])
        );
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"},
            {"type": "image_url", "image_url": {"url": "http://example.com/render?id=3"}}
        ]}]}));
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1].image_url"));
        assert!(e.message.contains("data URI"), "{}", e.message);
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}
        ]}]}));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].image_url"));
        let e = chat_err(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}
        ]}]}));
        assert_eq!(e.status, 400);
    }

    fn weather_tool() -> Value {
        json!({"type": "function", "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "strict": true,
            "parameters": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "unit": {"type": "object", "properties": {"v": {"type": "string"}}, "additionalProperties": false}
                },
                "required": ["location"],
                "additionalProperties": false
            }
        }})
    }

    #[test]
    fn tools_are_declarations_with_cleaned_schemas() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [weather_tool(), {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]
        }));
        assert_eq!(
            v["tools"],
            json!([{"functionDeclarations": [
                {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                            "unit": {"type": "object", "properties": {"v": {"type": "string"}}}
                        },
                        "required": ["location"]
                    }
                },
                {"name": "now"}
            ]}])
        );
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[0]"));
    }

    #[test]
    fn tool_choice_variants() {
        let base = |choice: Value| {
            chat(json!({
                "messages": [{"role": "user", "content": "x"}],
                "tools": [weather_tool()],
                "tool_choice": choice
            }))["toolConfig"]
                .clone()
        };
        assert_eq!(
            base(json!("auto")),
            json!({"functionCallingConfig": {"mode": "AUTO"}})
        );
        assert_eq!(
            base(json!("none")),
            json!({"functionCallingConfig": {"mode": "NONE"}})
        );
        assert_eq!(
            base(json!("required")),
            json!({"functionCallingConfig": {"mode": "ANY"}})
        );
        assert_eq!(
            base(json!({"type": "function", "function": {"name": "get_current_weather"}})),
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_current_weather"]}})
        );
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
        );
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
    }

    #[test]
    fn json_mode_both_kinds() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_object"}
        }));
        assert_eq!(
            v["generationConfig"],
            json!({"responseMimeType": "application/json"})
        );
        let schema = json!({"type": "object", "properties": {"recipe_name": {"type": "string"}}, "required": ["recipe_name"], "additionalProperties": false});
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "recipe", "strict": true, "schema": schema}}
        }));
        assert_eq!(
            v["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
        );
        let v = chat(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
        );
        assert!(v.get("generationConfig").is_none());
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}),
        );
        assert_eq!(e.param.as_deref(), Some("response_format"));
    }

    #[test]
    fn reasoning_effort_becomes_thinking_config() {
        let cfg = |effort: &str| {
            chat(
                json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}),
            )["generationConfig"]["thinkingConfig"]
                .clone()
        };
        assert_eq!(
            cfg("low"),
            json!({"thinkingBudget": 1024, "includeThoughts": true})
        );
        assert_eq!(
            cfg("medium"),
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
        assert_eq!(
            cfg("high"),
            json!({"thinkingBudget": 4096, "includeThoughts": true})
        );
        // `minimal`: the smallest budget of each 2.5 model (LiteLLM's per-model
        // DEFAULT_REASONING_EFFORT_MINIMAL_THINKING_BUDGET_GEMINI_2_5_* constants).
        assert_eq!(
            cfg("minimal"),
            json!({"thinkingBudget": 1, "includeThoughts": true})
        );
        for (model, budget) in [
            ("gemini-2.5-pro", 128),
            ("gemini-2.5-flash-lite", 512),
            ("gemini-2.0-flash-thinking-exp", 128),
        ] {
            assert_eq!(
                thinking_config("minimal", model),
                Some(json!({"thinkingBudget": budget, "includeThoughts": true})),
                "{model}"
            );
        }
        assert_eq!(
            cfg("none"),
            json!({"thinkingBudget": 0, "includeThoughts": false})
        );
        assert_eq!(cfg("disable"), cfg("none"));
        // Gemini 3 takes a thinking level and cannot stop thinking.
        for (effort, level, include) in [
            ("minimal", "low", true),
            ("low", "low", true),
            ("medium", "high", true),
            ("high", "high", true),
            ("none", "low", false),
        ] {
            assert_eq!(
                thinking_config(effort, "gemini-3-pro-preview"),
                Some(json!({"thinkingLevel": level, "includeThoughts": include})),
                "{effort}"
            );
        }
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}),
        );
        assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
        // Anthropic's `thinking` as LiteLLM maps it.
        let thinking = |t: Value| {
            chat(json!({"messages": [{"role": "user", "content": "x"}], "thinking": t}))
                ["generationConfig"]["thinkingConfig"]
                .clone()
        };
        assert_eq!(
            thinking(json!({"type": "enabled", "budget_tokens": 2000})),
            json!({"includeThoughts": true, "thinkingBudget": 2000})
        );
        assert_eq!(
            thinking(json!({"type": "enabled", "budget_tokens": 0})),
            json!({"thinkingBudget": 0})
        );
        assert_eq!(thinking(json!({"type": "disabled"})), json!({}));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "on"}}),
        );
        assert_eq!(e.param.as_deref(), Some("thinking"));
    }

    #[test]
    fn top_k_safety_settings_and_parallel_tool_calls() {
        let v = chat(json!({
            "messages": [{"role": "user", "content": "x"}],
            "top_k": 40,
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
            "tools": [weather_tool()],
            "parallel_tool_calls": false
        }));
        assert_eq!(v["generationConfig"]["topK"], 40);
        assert_eq!(
            v["safetySettings"],
            json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}])
        );
        assert!(v.get("parallel_tool_calls").is_none());
        let e = chat_err(json!({
            "messages": [{"role": "user", "content": "x"}],
            "tools": [weather_tool(), weather_tool()],
            "parallel_tool_calls": false
        }));
        assert_eq!(e.param.as_deref(), Some("parallel_tool_calls"));
        let e = chat_err(
            json!({"messages": [{"role": "user", "content": "x"}], "safety_settings": "none"}),
        );
        assert_eq!(e.param.as_deref(), Some("safety_settings"));
        let e = chat_err(json!({"messages": [{"role": "user", "content": "x"}], "top_k": -1}));
        assert_eq!(e.param.as_deref(), Some("top_k"));
    }

    #[test]
    fn tool_round_trip_keeps_thought_signature() {
        // Turn 1: Gemini answers with a signed functionCall (Google's thought-signature
        // example shape).
        let answer = response(
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_current_weather","args":{"location":"Boston, MA"}},"thoughtSignature":"CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":70,"candidatesTokenCount":18,"totalTokenCount":128,"thoughtsTokenCount":40},"modelVersion":"gemini-2.5-flash","responseId":"abc123"}"#,
        );
        let call = answer["choices"][0]["message"]["tool_calls"][0].clone();
        assert_eq!(
            call,
            json!({"id": "call_abc123_0__thought__CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl", "type": "function",
                   "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}})
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(answer["choices"][0]["message"]["content"], Value::Null);
        // Turn 2: the client sends the call and its result back.
        let v = chat(json!({"messages": [
            {"role": "user", "content": "What's the weather in Boston?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc123_0__thought__CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl", "content": "{\"temperature\": 22, \"unit\": \"celsius\"}"},
            {"role": "tool", "tool_call_id": "call_abc123_0", "content": "sunny"}
        ], "tools": [weather_tool()]}));
        assert_eq!(
            v["contents"],
            json!([
                {"role": "user", "parts": [{"text": "What's the weather in Boston?"}]},
                {"role": "model", "parts": [{
                    "functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA"}},
                    "thoughtSignature": "CiwBVKhc7nRyTi3HmggPD9iQjRPtkPl"
                }]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_current_weather", "response": {"temperature": 22, "unit": "celsius"}}},
                    {"functionResponse": {"name": "get_current_weather", "response": {"content": "sunny"}}}
                ]}
            ])
        );
        // A plain id (no signature) sends no thoughtSignature.
        let v = chat(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_unknown", "name": "f", "content": "[1,2]"}
        ]}));
        assert_eq!(
            v["contents"],
            json!([
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"content": "[1,2]"}}}]}
            ])
        );
    }

    #[test]
    fn gemini_3_turns_without_signature_get_the_sentinel() {
        let msgs = json!({"messages": [
            {"role": "user", "content": "weather in Paris and London?"},
            {"role": "assistant", "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Paris\"}"}},
                {"id": "b", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"London\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "a", "content": "15C"},
            {"role": "tool", "tool_call_id": "b", "content": "12C"},
            {"role": "assistant", "tool_calls": [
                {"id": "c__thought__REAL", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "c__thought__REAL", "content": "x"}
        ]});
        let body = translate_request(
            Endpoint::ChatCompletions,
            &map(msgs.clone()),
            "gemini-3-pro-preview",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let parts = &v["contents"][1]["parts"];
        assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
        assert!(
            parts[1].get("thoughtSignature").is_none(),
            "only the first parallel call"
        );
        assert_eq!(v["contents"][3]["parts"][0]["thoughtSignature"], "REAL");
        // Older models are left alone.
        let v = chat(msgs);
        assert!(v["contents"][1]["parts"][0]
            .get("thoughtSignature")
            .is_none());
    }

    #[test]
    fn bad_tool_arguments_and_unknown_tool_results_are_400() {
        let e = chat_err(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
        ]}));
        assert_eq!(e.status, 400);
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        let e = chat_err(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
        ]}));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        let e = chat_err(
            json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
        let e = chat_err(json!({"messages": [{"role": "wizard", "content": "x"}]}));
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = chat_err(json!({"model": "x"}));
        assert_eq!(e.param.as_deref(), Some("messages"));
    }

    #[test]
    fn completions_are_refused() {
        let e = translate_request(Endpoint::Completions, &map(json!({"prompt": "x"})), "g")
            .unwrap_err();
        assert_eq!(e.status, 400);
    }
}
