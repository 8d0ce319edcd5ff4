//! The request rewrite for an OpenAI-compatible provider (`apply`): parameters
//! dropped or renamed, tool choice, JSON mode through a tool, message fixes.

use super::*;

pub use crate::providers::quirks::Rewritten;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::openai_compat::fixtures::*;

    #[test]
    fn mistral_maps_tokens_tool_choice_and_seed() {
        let out = run(
            ProviderKind::Mistral,
            json!({"model": "m", "messages": [], "max_completion_tokens": 9, "seed": 4,
                   "tool_choice": "required", "stream": true, "stream_options": {"include_usage": true}}),
            false,
        )
        .unwrap();
        assert_eq!(out["max_tokens"], 9);
        assert!(out.get("max_completion_tokens").is_none());
        assert_eq!(out["random_seed"], 4);
        assert!(out.get("seed").is_none());
        assert_eq!(out["tool_choice"], "any");
        assert!(
            out.get("stream_options").is_none(),
            "Mistral streams carry usage unasked and reject the field"
        );
        let named = json!({"type": "function", "function": {"name": "f"}});
        let out = run(ProviderKind::Mistral, json!({"tool_choice": named}), false).unwrap();
        assert_eq!(out["tool_choice"], "any");
        let out = run(ProviderKind::Mistral, json!({"tool_choice": "none"}), false).unwrap();
        assert_eq!(out["tool_choice"], "none");
    }

    #[test]
    fn deepinfra_refuses_forced_tool_choice_unless_dropped() {
        let err = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "required"}),
            false,
        )
        .unwrap_err();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (400, Some("tool_choice"))
        );
        assert!(err.message.contains("drop_params"), "{}", err.message);
        let out = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "required"}),
            true,
        )
        .unwrap();
        assert!(out.get("tool_choice").is_none());
        let out = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "auto"}),
            false,
        )
        .unwrap();
        assert_eq!(out["tool_choice"], "auto");
    }

    #[test]
    fn fireworks_json_schema_and_required() {
        let out = run(
            ProviderKind::FireworksAi,
            json!({"tool_choice": "required", "response_format": {"type": "json_schema",
                   "json_schema": {"name": "x", "schema": {"type": "object"}}}}),
            false,
        )
        .unwrap();
        assert_eq!(out["tool_choice"], "any");
        assert_eq!(
            out["response_format"],
            json!({"type": "json_object", "schema": {"type": "object"}})
        );
        assert_eq!(
            provider_model(ProviderKind::FireworksAi, "llama-v3-8b"),
            "accounts/fireworks/models/llama-v3-8b"
        );
        assert_eq!(
            provider_model(ProviderKind::FireworksAi, "accounts/me/models/x"),
            "accounts/me/models/x"
        );
        assert_eq!(provider_model(ProviderKind::Groq, "llama"), "llama");
    }

    #[test]
    fn xai_strips_strict_and_tables_depend_on_the_model() {
        let out = run(
            ProviderKind::Xai,
            json!({"tools": [{"type": "function", "function": {"name": "f", "strict": true, "parameters": {}}}]}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["tools"][0],
            json!({"type": "function", "function": {"name": "f", "parameters": {}}})
        );
        let grok4 =
            supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-4").unwrap();
        assert!(!grok4.contains(&"stop") && !grok4.contains(&"frequency_penalty"));
        let grok2 =
            supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-2").unwrap();
        assert!(grok2.contains(&"stop") && grok2.contains(&"frequency_penalty"));
    }

    #[test]
    fn mistral_messages_and_vllm_schemas_are_cleaned() {
        let out = run(
            ProviderKind::Mistral,
            json!({"messages": [
                {"role": "system", "content": "s", "name": "sys"},
                {"role": "user", "content": "hi", "name": "bob"},
                {"role": "assistant", "content": null},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "name": "f", "content": "r"}
            ]}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "system", "content": "s"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "name": "f", "content": "r"}
            ])
        );
        let tool = json!({"type": "function", "function": {"name": "f", "strict": true, "parameters": {
            "type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "object", "additionalProperties": false}, "b": {"type": "object", "additionalProperties": true}}}}});
        let out = run(ProviderKind::HostedVllm, json!({"tools": [tool]}), false).unwrap();
        assert_eq!(
            out["tools"][0]["function"],
            json!({"name": "f", "parameters": {"type": "object",
                   "properties": {"a": {"type": "object"}, "b": {"type": "object", "additionalProperties": true}}}})
        );
        let out = run(
            ProviderKind::LmStudio,
            json!({"response_format": {"type": "json_schema", "schema": {"type": "object"}}}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["response_format"],
            json!({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}})
        );
        // Clean messages stay untouched.
        let body = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
        let mut top = TopLevel::parse(body).unwrap();
        apply(
            &quirks(ProviderKind::Mistral),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert!(!top.changed());
    }

    #[test]
    fn groq_json_schema_becomes_a_forced_tool_call_and_json_streams_are_faked() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let body = serde_json::to_vec(&json!({"model": "m", "messages": [], "stream": true,
            "stream_options": {"include_usage": true},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}})).unwrap();
        let mut top = TopLevel::parse(&body).unwrap();
        let r = apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert_eq!(
            r,
            Rewritten {
                json_tool: true,
                fake_stream: true
            }
        );
        let out: Value = serde_json::from_slice(&top.to_vec().unwrap()).unwrap();
        assert_eq!(out["stream"], false);
        assert!(out.get("stream_options").is_none() && out.get("response_format").is_none());
        assert_eq!(
            out["tools"][0]["function"],
            json!({"name": JSON_TOOL, "parameters": schema})
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "function", "function": {"name": JSON_TOOL}})
        );
        // json_object is Groq's own: sent as is (and not streamed).
        let body = br#"{"model":"m","messages":[],"response_format":{"type":"json_object"}}"#;
        let mut top = TopLevel::parse(body).unwrap();
        let r = apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert_eq!(r, Rewritten::default());
        assert!(!top.changed());

        let answer = br#"{"id":"c1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"json_tool_call","arguments":"{\"a\":\"b\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
        let converted = json_tool_answer(answer.to_vec());
        let v: Value = serde_json::from_slice(&converted).unwrap();
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": "{\"a\":\"b\"}"})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        let sse = String::from_utf8(fake_stream(&converted, true)).unwrap();
        let events: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 4, "{sse}");
        let first: Value = serde_json::from_str(events[0].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(
            first["choices"][0]["delta"],
            json!({"role": "assistant", "content": "{\"a\":\"b\"}"})
        );
        let usage: Value = serde_json::from_str(events[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(usage["usage"]["total_tokens"], 7);
        assert_eq!(events[3], "data: [DONE]");
        // Other answers are left alone.
        let plain = br#"{"choices":[{"message":{"content":"hi"}}]}"#.to_vec();
        assert_eq!(json_tool_answer(plain.clone()), plain);
    }

    #[test]
    fn untouched_without_quirks() {
        let body = br#"{"model":"m","messages":[],"max_completion_tokens":3}"#;
        let mut top = TopLevel::parse(body).unwrap();
        apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert!(!top.changed());
    }

    #[test]
    fn magistral_reasoning_becomes_litellms_system_prompt() {
        let magistral = quirks_for(ProviderKind::Mistral, "magistral-medium-2506");
        assert!(magistral.mistral_reasoning);
        assert!(!quirks_for(ProviderKind::Mistral, "mistral-small-latest").mistral_reasoning);
        // No system message: one is added first.
        let out = run_for(
            &magistral,
            json!({"model": "m", "reasoning_effort": "low",
                   "messages": [{"role": "user", "content": "2+2?"}]}),
        );
        assert!(out.get("reasoning_effort").is_none(), "{out}");
        assert_eq!(out["messages"][0]["role"], "system");
        assert_eq!(out["messages"][0]["content"], MISTRAL_REASONING_PROMPT);
        assert_eq!(out["messages"][1]["content"], "2+2?");
        assert!(MISTRAL_REASONING_PROMPT.contains("NEVER use \\boxed{} in your response."));
        // A system string: the prompt goes before it; `thinking` triggers it too.
        let out = run_for(
            &magistral,
            json!({"model": "m", "thinking": {"type": "enabled"},
                   "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "Be brief."}]}),
        );
        assert!(out.get("thinking").is_none());
        assert_eq!(out["messages"].as_array().unwrap().len(), 2);
        assert_eq!(
            out["messages"][1]["content"],
            format!("{MISTRAL_REASONING_PROMPT}\n\nBe brief.")
        );
        // A system part list: the prompt becomes the first part.
        let out = run_for(
            &magistral,
            json!({"model": "m", "reasoning_effort": "high",
                   "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]}),
        );
        assert_eq!(
            out["messages"][0]["content"][0]["text"],
            format!("{MISTRAL_REASONING_PROMPT}\n\n")
        );
        assert_eq!(out["messages"][0]["content"][1]["text"], "Be brief.");
        // Not asked: messages untouched.
        let out = run_for(
            &magistral,
            json!({"model": "m", "messages": [{"role": "user", "content": "a"}]}),
        );
        assert_eq!(out["messages"].as_array().unwrap().len(), 1);
        // Only Magistral takes the parameters.
        assert!(!unsupported_params(
            ProviderKind::Mistral,
            Endpoint::ChatCompletions,
            "magistral-small-2506"
        )
        .unwrap()
        .contains(&"reasoning_effort"));
        assert!(unsupported_params(
            ProviderKind::Mistral,
            Endpoint::ChatCompletions,
            "mistral-large-latest"
        )
        .unwrap()
        .contains(&"reasoning_effort"));
    }
}
