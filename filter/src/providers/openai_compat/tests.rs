//! Unit tests of the OpenAI-compatible providers' translation.

use super::*;

fn run(provider: ProviderKind, body: Value, drop: bool) -> Result<Value, GatewayError> {
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut top = TopLevel::parse(&bytes).unwrap();
    apply(&quirks(provider), Endpoint::ChatCompletions, &mut top, drop)?;
    Ok(serde_json::from_slice(&top.to_vec().unwrap()).unwrap())
}

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
    let grok4 = supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-4").unwrap();
    assert!(!grok4.contains(&"stop") && !grok4.contains(&"frequency_penalty"));
    let grok2 = supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-2").unwrap();
    assert!(grok2.contains(&"stop") && grok2.contains(&"frequency_penalty"));
}

#[test]
fn tables_follow_litellm() {
    let chat = |p| supported_params(p, Endpoint::ChatCompletions, "m");
    let perplexity = chat(ProviderKind::Perplexity).unwrap();
    assert!(!perplexity.contains(&"tools"), "Perplexity has no tools");
    assert!(perplexity.contains(&"messages") && perplexity.contains(&"stream_options"));
    let mistral = chat(ProviderKind::Mistral).unwrap();
    assert!(mistral.contains(&"tools") && !mistral.contains(&"logit_bias"));
    assert!(!chat(ProviderKind::Cerebras).unwrap().contains(&"n"));
    for open in [
        ProviderKind::Groq,
        ProviderKind::Deepseek,
        ProviderKind::TogetherAi,
        ProviderKind::Openrouter,
        ProviderKind::HostedVllm,
        ProviderKind::LmStudio,
        ProviderKind::Llamafile,
    ] {
        assert_eq!(chat(open), None, "{open:?}");
        assert_eq!(
            quirks(open).any(),
            matches!(
                open,
                ProviderKind::HostedVllm
                    | ProviderKind::LmStudio
                    | ProviderKind::Groq
                    | ProviderKind::Openrouter
            ),
            "only vLLM's tool schemas, LM Studio's bare schemas, Groq's JSON mode and OpenRouter's usage are rewritten: {open:?}"
        );
    }
    assert_eq!(
        supported_params(ProviderKind::Mistral, Endpoint::Embeddings, "m"),
        None
    );
}

#[test]
fn only_openai_parameters_are_refused() {
    let not =
        unsupported_params(ProviderKind::Perplexity, Endpoint::ChatCompletions, "sonar").unwrap();
    assert!(not.contains(&"tools") && not.contains(&"seed"));
    assert!(!not.contains(&"temperature") && !not.contains(&"stream_options"));
    assert!(
        !not.contains(&"search_domain_filter"),
        "provider-specific parameters pass, as in LiteLLM"
    );
    assert_eq!(
        unsupported_params(ProviderKind::Groq, Endpoint::ChatCompletions, "m"),
        None
    );
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

fn run_for(quirks: &Quirks, body: Value) -> Value {
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut top = TopLevel::parse(&bytes).unwrap();
    apply(quirks, Endpoint::ChatCompletions, &mut top, false).unwrap();
    serde_json::from_slice(&top.to_vec().unwrap()).unwrap()
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

/// A Magistral answer as Mistral's chat API returns it (content chunks; docs.mistral.ai
/// "Reasoning": `thinking` chunks hold text parts).
const MAGISTRAL_ANSWER: &str = r#"{"id":"a1","object":"chat.completion","created":1,"model":"magistral-medium-2506","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"2 and 2 "},{"type":"text","text":"make 4."}]},{"type":"text","text":"4"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}}"#;

#[test]
fn magistral_content_chunks_become_reasoning_content() {
    let fix = quirks_for(ProviderKind::Mistral, "magistral-medium-2506")
        .answer_fix()
        .unwrap();
    let out: Value =
        serde_json::from_slice(&fix.fix_answer(MAGISTRAL_ANSWER.as_bytes().to_vec())).unwrap();
    let message = &out["choices"][0]["message"];
    assert_eq!(message["content"], "4");
    assert_eq!(message["reasoning_content"], "2 and 2 make 4.");
    assert_eq!(out["usage"]["total_tokens"], 17);
    assert_eq!(fix.cost_of(MAGISTRAL_ANSWER.as_bytes()), None);
    // Empty content is null (Mistral's `_handle_empty_content_response`).
    let empty =
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[]}}]}"#;
    let out: Value = serde_json::from_slice(&fix.fix_answer(empty.to_vec())).unwrap();
    assert!(out["choices"][0]["message"]["content"].is_null());
    // Plain chunks are not even parsed; a chunk delta list is flattened.
    assert_eq!(
        fix.fix_chunk(r#"{"choices":[{"index":0,"delta":{"content":"4"}}]}"#),
        None
    );
    let fixed = fix
        .fix_chunk(r#"{"choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]}]}}]}"#)
        .unwrap();
    let v: Value = serde_json::from_str(&fixed).unwrap();
    assert!(v["choices"][0]["delta"]["content"].is_null());
    assert_eq!(v["choices"][0]["delta"]["reasoning_content"], "hm");
    // Other Mistral models keep their answers as they come.
    assert_eq!(
        quirks_for(ProviderKind::Mistral, "mistral-large").answer_fix(),
        None
    );
}

#[test]
fn openrouter_asks_for_cost_and_reports_reasoning() {
    let q = quirks_for(ProviderKind::Openrouter, "anthropic/claude-3.5-sonnet");
    let out = run_for(&q, json!({"model": "m", "messages": []}));
    assert_eq!(out["usage"], json!({"include": true}));
    let out = run_for(
        &q,
        json!({"model": "m", "messages": [], "usage": {"include": false}}),
    );
    assert_eq!(
        out["usage"],
        json!({"include": false}),
        "the client's own choice stays"
    );
    let fix = q.answer_fix().unwrap();
    let answer = br#"{"id":"gen-1","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning":"2+2=4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"cost":0.000123}}"#;
    assert_eq!(fix.cost_of(answer), Some(0.000123));
    let out: Value = serde_json::from_slice(&fix.fix_answer(answer.to_vec())).unwrap();
    assert_eq!(out["choices"][0]["message"]["reasoning_content"], "2+2=4");
    assert_eq!(out["choices"][0]["message"]["content"], "4");
    let chunk = fix
        .fix_chunk(r#"{"choices":[{"index":0,"delta":{"reasoning":"thinking"}}]}"#)
        .unwrap();
    assert!(
        chunk.contains(r#""reasoning_content":"thinking""#),
        "{chunk}"
    );
    assert_eq!(
        fix.fix_chunk(r#"{"choices":[{"index":0,"delta":{"reasoning":null,"content":"x"}}]}"#),
        None
    );
    assert_eq!(fix.cost_of(br#"{"usage":{"cost":-1}}"#), None);
}
