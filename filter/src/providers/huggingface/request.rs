//! OpenAI request → TGI `/generate` body (prompt from the template, parameters).

use super::*;

/// Translates an OpenAI request for TGI's `/generate` (`template`: the deployment's
/// prompt template, if any).
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    template: Option<&PromptTemplate>,
) -> Result<ProviderRequest, GatewayError> {
    let inputs = prompt_inputs(endpoint, request, template)?;
    if inputs.is_empty() {
        return Err(invalid(
            if endpoint == Endpoint::Completions {
                "prompt"
            } else {
                "messages"
            },
            "The prompt is empty (TGI refuses empty `inputs`).",
        ));
    }
    let stream = match get(request, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean.")),
    };

    let params = generation_parameters(request, stream)?;
    let body = json!({"inputs": inputs, "parameters": params});
    Ok(ProviderRequest {
        path: if stream {
            "/generate_stream"
        } else {
            "/generate"
        }
        .into(),
        body: crate::providers::serialize_request(&body)?,
    })
}

/// The `inputs` prompt: the completion prompt, or the chat messages (text parts
/// only) through the deployment's template or LiteLLM's default.
fn prompt_inputs(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    template: Option<&PromptTemplate>,
) -> Result<String, GatewayError> {
    Ok(match endpoint {
        Endpoint::Embeddings => {
            return Err(GatewayError::bad_request(
                "Hugging Face text-generation endpoints do not embed: use a deployment of the embedding model (its OpenAI-compatible /v1/embeddings).",
            ))
        }
        Endpoint::Completions => match get(request, "prompt") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(list)) => match list.as_slice() {
                [Value::String(s)] => s.clone(),
                _ => {
                    return Err(invalid(
                        "prompt",
                        "TGI completes one prompt per request: send a string (or an array of one string).",
                    ))
                }
            },
            _ => return Err(invalid("prompt", "`prompt` is required: a string.")),
        },
        Endpoint::ChatCompletions => {
            let messages = get(request, "messages")
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
            for (i, m) in messages.iter().enumerate() {
                if !m.get("role").is_some_and(Value::is_string) {
                    return Err(invalid(
                        format!("messages[{i}].role"),
                        "Each message needs a string `role`.",
                    ));
                }
                if let Some(Value::Array(parts)) = m.get("content") {
                    for (j, part) in parts.iter().enumerate() {
                        let kind = part.get("type").and_then(Value::as_str);
                        if kind != Some("text") {
                            return Err(invalid(
                                format!("messages[{i}].content[{j}].type"),
                                format!(
                                    "A text-generation prompt takes text only, not `{}` parts.",
                                    kind.unwrap_or("untyped")
                                ),
                            ));
                        }
                    }
                }
            }
            match template {
                Some(t) => custom_prompt(t, messages),
                None => default_prompt(messages),
            }
        }
    })
}

/// TGI `parameters` from the OpenAI sampling parameters, `stop`, `n`,
/// `response_format` (as a grammar) and TGI's own parameters.
fn generation_parameters(
    request: &Map<String, Value>,
    stream: bool,
) -> Result<Map<String, Value>, GatewayError> {
    let mut params = Map::new();
    params.insert("details".into(), json!(true));
    params.insert("return_full_text".into(), json!(false));
    if !stream {
        params.insert("decoder_input_details".into(), json!(true));
    }
    if let Some(v) = get(request, "max_completion_tokens").or_else(|| get(request, "max_tokens")) {
        let n = v
            .as_u64()
            .ok_or_else(|| invalid("max_tokens", "`max_tokens` must be a positive integer."))?;
        params.insert("max_new_tokens".into(), json!(n.max(1)));
    }
    if let Some(v) = get(request, "temperature") {
        let t = v
            .as_f64()
            .ok_or_else(|| invalid("temperature", "`temperature` must be a number."))?;
        params.insert(
            "temperature".into(),
            if t == 0.0 { json!(0.01) } else { v.clone() },
        );
    }
    if let Some(v) = get(request, "top_p") {
        if !v.is_number() {
            return Err(invalid("top_p", "`top_p` must be a number."));
        }
        params.insert("top_p".into(), v.clone());
    }
    if let Some(v) = get(request, "seed") {
        if !v.is_u64() {
            return Err(invalid("seed", "`seed` must be a non-negative integer."));
        }
        params.insert("seed".into(), v.clone());
    }
    match get(request, "stop") {
        None => {}
        Some(Value::String(s)) => {
            params.insert("stop".into(), json!([s]));
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            params.insert("stop".into(), Value::Array(list.clone()));
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
                "TGI's /generate answers one choice per request here: `n` must be 1.",
            ))
        }
    }
    if let Some(rf) = get(request, "response_format") {
        match rf.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                params.insert(
                    "grammar".into(),
                    json!({"type": "json", "value": {"type": "object"}}),
                );
            }
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
                params.insert("grammar".into(), json!({"type": "json", "value": schema}));
            }
            _ => {
                return Err(invalid(
                    "response_format",
                    "`response_format.type` must be `text`, `json_object` or `json_schema`.",
                ))
            }
        }
    }
    for name in NATIVE {
        if let Some(v) = get(request, name) {
            params.insert((*name).to_string(), v.clone());
        }
    }
    Ok(params)
}
