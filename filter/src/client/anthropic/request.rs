//! Anthropic Messages request → OpenAI chat request: system, turns, content
//! blocks, tools, tool choice and thinking.

use serde_json::{json, Map, Value};

use crate::error::GatewayError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::anthropic::test_helpers::*;

    use serde_json::{json, Value};

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
}
