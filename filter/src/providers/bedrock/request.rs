//! OpenAI chat and completion requests → `Converse` bodies (the mapping is in the
//! provider's module docs).

use serde_json::{json, Map, Value};

use super::embeddings::embedding_request;
use super::messages::{merge_adjacent, messages_use_tools, prompt_message, translate_messages};
use super::models::{is_gpt_oss, is_nova, is_nova_2_lite, model_path, supports_tool_choice};
use super::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::{Rewritten, JSON_TOOL};
use crate::providers::ProviderRequest;
use crate::providers::{present, serialize_request as serialize};
use crate::wire::openai::invalid;

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
