//! The request rewrite for an OpenAI-compatible provider (`apply`): parameters
//! dropped or renamed, tool choice, JSON mode through a tool, message fixes.

use super::*;

/// What a request's rewrite means for its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The answer's `json_tool_call` arguments become its content ([`json_tool_answer`]).
    pub json_tool: bool,
    /// The client asked for a stream that was sent as a plain request: the answer is
    /// replayed as a stream ([`fake_stream`]).
    pub fake_stream: bool,
}

/// The name of the tool a Groq `json_schema` request is forced to call.
pub const JSON_TOOL: &str = "json_tool_call";

/// Applies `quirks` to a request whose parameters were already checked.
pub fn apply(
    quirks: &Quirks,
    endpoint: Endpoint,
    request: &mut TopLevel<'_>,
    drop_params: bool,
) -> Result<Rewritten, GatewayError> {
    let mut rewritten = Rewritten::default();
    if quirks.stream_usage_always {
        request.remove("stream_options");
    }
    if endpoint != Endpoint::ChatCompletions {
        return Ok(rewritten);
    }
    if quirks.openrouter && !request.contains_key("usage") {
        request.insert("usage", json!({"include": true}));
    }
    if quirks.mistral_reasoning {
        let asked = request.contains_key("reasoning_effort") | request.contains_key("thinking");
        if asked {
            request.remove("reasoning_effort");
            request.remove("thinking");
            if let Some(Value::Array(mut messages)) = request.get_value("messages") {
                add_reasoning_prompt(&mut messages);
                request.insert("messages", Value::Array(messages));
            }
        }
    }
    if quirks.groq_json {
        json_mode_as_tool(request, &mut rewritten);
    }
    if quirks.max_completion_tokens_as_max_tokens {
        if let Some(v) = request.get_value("max_completion_tokens") {
            request.remove("max_completion_tokens");
            request.insert("max_tokens", v);
        }
    }
    if quirks.seed_as_random_seed {
        if let Some(v) = request.get_value("seed") {
            request.remove("seed");
            request.insert("random_seed", v);
        }
    }
    if quirks.tool_choice != ToolChoice::AsIs {
        rewrite_tool_choice(quirks, request, drop_params)?;
    }
    if quirks.wrap_bare_schema {
        if let Some(format) = request.get_value("response_format") {
            if format.get("type").and_then(Value::as_str) == Some("json_schema")
                && format.get("json_schema").is_none()
            {
                if let Some(schema) = format.get("schema") {
                    request.insert(
                        "response_format",
                        json!({"type": "json_schema", "json_schema": {"schema": schema}}),
                    );
                }
            }
        }
    }
    if quirks.json_schema_as_json_object {
        if let Some(format) = request.get_value("response_format") {
            if format.get("type").and_then(Value::as_str) == Some("json_schema") {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .cloned()
                    .unwrap_or(Value::Null);
                request.insert(
                    "response_format",
                    json!({"type": "json_object", "schema": schema}),
                );
            }
        }
    }
    if quirks.strip_tool_strict || quirks.strip_additional_properties {
        strip_tool_fields(quirks, request);
    }
    if quirks.mistral_messages {
        clean_mistral_messages(request);
    }
    Ok(rewritten)
}

/// Puts [`MISTRAL_REASONING_PROMPT`] before the first system message's content
/// (a string, or a list of parts), or adds a system message with it first.
pub(super) fn add_reasoning_prompt(messages: &mut Vec<Value>) {
    let system = messages
        .iter_mut()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(Value::as_object_mut);
    let Some(system) = system else {
        messages.insert(
            0,
            json!({"role": "system", "content": MISTRAL_REASONING_PROMPT}),
        );
        return;
    };
    let content = match system.remove("content") {
        Some(Value::Array(parts)) => {
            let mut with =
                vec![json!({"type": "text", "text": format!("{MISTRAL_REASONING_PROMPT}\n\n")})];
            with.extend(parts);
            Value::Array(with)
        }
        Some(Value::String(text)) => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n{text}")),
        Some(other) => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n{other}")),
        None => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n")),
    };
    system.insert("content".into(), content);
}
/// An assistant message with neither text nor tool calls (Mistral refuses them;
/// LiteLLM's `_is_empty_assistant_message` leaves them out).
pub(super) fn is_empty_assistant(m: &Value) -> bool {
    let empty_text = match m.get("content") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(parts)) => parts.is_empty(),
        Some(_) => false,
    };
    m.get("role").and_then(Value::as_str) == Some("assistant")
        && empty_text
        && m.get("tool_calls")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// Removes `additionalProperties: false` from a JSON schema at any depth (bounded:
/// schemas deeper than 64 levels are left as they are below that).
pub(super) fn strip_additional_properties(schema: &mut Value, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let mut changed = false;
    match schema {
        Value::Object(map) => {
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
                changed = true;
            }
            for v in map.values_mut() {
                changed |= strip_additional_properties(v, depth + 1);
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= strip_additional_properties(v, depth + 1);
            }
        }
        _ => {}
    }
    changed
}

/// Groq's JSON mode: the schema becomes a forced `json_tool_call` tool (and a
/// stream is asked whole, to be replayed).
fn json_mode_as_tool(request: &mut TopLevel<'_>, rewritten: &mut Rewritten) {
    if let Some(format) = request
        .get_value("response_format")
        .filter(Value::is_object)
    {
        if request.get_bool("stream") == Some(true) {
            request.insert("stream", json!(false));
            request.remove("stream_options");
            rewritten.fake_stream = true;
        }
        let schema = format
            .get("response_schema")
            .or_else(|| format.get("json_schema").and_then(|s| s.get("schema")))
            .cloned();
        if let Some(schema) = schema {
            request.insert(
                "tools",
                json!([{"type": "function", "function": {"name": JSON_TOOL, "parameters": schema}}]),
            );
            request.insert(
                "tool_choice",
                json!({"type": "function", "function": {"name": JSON_TOOL}}),
            );
            request.remove("response_format");
            rewritten.json_tool = true;
        }
    }
}

/// `tool_choice` in the provider's dialect (`any`, or only `auto`/`none`).
fn rewrite_tool_choice(
    quirks: &Quirks,
    request: &mut TopLevel<'_>,
    drop_params: bool,
) -> Result<(), GatewayError> {
    if let Some(choice) = request.get_value("tool_choice") {
        let as_str = choice.as_str();
        match quirks.tool_choice {
            ToolChoice::MistralAny => {
                if !matches!(as_str, Some("auto" | "none")) {
                    request.insert("tool_choice", json!("any"));
                }
            }
            ToolChoice::RequiredAsAny => {
                if as_str == Some("required") {
                    request.insert("tool_choice", json!("any"));
                }
            }
            ToolChoice::AutoOrNone => {
                if !matches!(as_str, Some("auto" | "none")) {
                    if drop_params {
                        request.remove("tool_choice");
                    } else {
                        return Err(GatewayError::bad_request(format!(
                            "deepinfra does not support tool_choice={choice}: only \"auto\" and \"none\". To drop it, set `drop_params: true` in litellm_settings or the deployment's litellm_params."
                        ))
                        .with_param("tool_choice"));
                    }
                }
            }
            ToolChoice::AsIs => {}
        }
    }
    Ok(())
}

/// Removes the tool fields the provider refuses (`strict`, `additionalProperties`).
fn strip_tool_fields(quirks: &Quirks, request: &mut TopLevel<'_>) {
    if let Some(Value::Array(mut tools)) = request.get_value("tools") {
        let mut changed = false;
        for tool in &mut tools {
            if quirks.strip_tool_strict {
                if let Some(f) = tool.get_mut("function").and_then(Value::as_object_mut) {
                    changed |= f.remove("strict").is_some();
                }
                if let Some(t) = tool.as_object_mut() {
                    changed |= t.remove("strict").is_some();
                }
            }
            if quirks.strip_additional_properties {
                if let Some(schema) = tool
                    .get_mut("function")
                    .and_then(|f| f.get_mut("parameters"))
                {
                    changed |= strip_additional_properties(schema, 0);
                }
            }
        }
        if changed {
            request.insert("tools", Value::Array(tools));
        }
    }
}

/// Mistral's message rules: no empty assistant messages, `name` only on tool
/// messages, no null fields.
fn clean_mistral_messages(request: &mut TopLevel<'_>) {
    if let Some(Value::Array(mut messages)) = request.get_value("messages") {
        let before = messages.len();
        messages.retain(|m| !is_empty_assistant(m));
        let mut changed = messages.len() != before;
        for message in &mut messages {
            let Some(m) = message.as_object_mut() else {
                continue;
            };
            if m.get("role").and_then(Value::as_str) != Some("tool") {
                changed |= m.remove("name").is_some();
            }
            let before = m.len();
            m.retain(|_, v| !v.is_null());
            changed |= m.len() != before;
        }
        if changed {
            request.insert("messages", Value::Array(messages));
        }
    }
}
