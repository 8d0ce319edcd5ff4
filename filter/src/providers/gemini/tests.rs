//! Unit tests of the Gemini translation.

use super::*;

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn chat(v: Value) -> Value {
    let body = translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn chat_err(v: Value) -> GatewayError {
    translate_request(Endpoint::ChatCompletions, &map(v), "gemini-2.5-flash").unwrap_err()
}

fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "gemini-2.5-flash".to_string(),
        include_usage,
    }
}

fn response(body: &str) -> Value {
    let out = translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn paths_per_endpoint_and_encoded_model() {
    assert_eq!(
        request_path("gemini-2.5-flash", false, Endpoint::ChatCompletions),
        "/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        request_path("gemini-2.5-flash", true, Endpoint::ChatCompletions),
        "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        request_path("models/gemini-embedding-001", false, Endpoint::Embeddings),
        "/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(
        request_path("a/b c?x", false, Endpoint::ChatCompletions),
        "/models/a%2Fb%20c%3Fx:generateContent"
    );
    for (prefix, versioned) in [
        ("", false),
        ("/v1beta", true),
        ("/proxy/v1", true),
        ("/v1alpha", true),
        ("/gemini", false),
        ("/v", false),
        ("/very", false),
    ] {
        assert_eq!(has_version(prefix), versioned, "{prefix}");
    }
}

#[test]
fn supported_params_cover_everything_translated() {
    for p in [
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "response_format",
        "reasoning_effort",
        "tools",
        "tool_choice",
        "stream_options",
    ] {
        assert!(
            supported_params(Endpoint::ChatCompletions).contains(&p),
            "{p}"
        );
    }
    assert!(supported_params(Endpoint::Embeddings).contains(&"dimensions"));
    assert!(!supported_params(Endpoint::ChatCompletions).contains(&"logit_bias"));
}

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
    let e =
        chat_err(json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}));
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
        chat(json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort}))
            ["generationConfig"]["thinkingConfig"]
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
    let e =
        chat_err(json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
    let e = chat_err(json!({"messages": [{"role": "wizard", "content": "x"}]}));
    assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    let e = chat_err(json!({"model": "x"}));
    assert_eq!(e.param.as_deref(), Some("messages"));
}

#[test]
fn completions_are_refused() {
    let e =
        translate_request(Endpoint::Completions, &map(json!({"prompt": "x"})), "g").unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn text_response_with_usage() {
    // Google's generateContent response example.
    let v = response(
        r#"{"candidates":[{"content":{"parts":[{"text":"In a village nestled..."}],"role":"model"},"finishReason":"STOP","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_SEXUALLY_EXPLICIT","probability":"NEGLIGIBLE"}]}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":612,"totalTokenCount":620,"promptTokensDetails":[{"modality":"TEXT","tokenCount":8}]},"modelVersion":"gemini-2.0-flash","responseId":"mAitaLGXKr2Qz7IPpu6F6AY"}"#,
    );
    assert_eq!(
        v,
        json!({
            "id": "chatcmpl-mAitaLGXKr2Qz7IPpu6F6AY",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gemini-2.0-flash",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "In a village nestled..."}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 612, "total_tokens": 620,
                      "prompt_tokens_details": {"cached_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0}}
        })
    );
    assert_eq!(
        crate::cost::usage_of(&serde_json::to_vec(&v).unwrap())
            .unwrap()
            .completion_tokens,
        612
    );
}

#[test]
fn thoughts_and_usage_with_thoughts_and_cache() {
    let v = response(
        r#"{"candidates":[{"content":{"parts":[{"text":"**Considering the razor**\nIt favours simple","thought":true},{"text":"Occam's razor says..."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":50,"thoughtsTokenCount":300,"cachedContentTokenCount":1000,"totalTokenCount":1550},"modelVersion":"gemini-2.5-pro"}"#,
    );
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Occam's razor says...");
    assert_eq!(
        m["reasoning_content"],
        "**Considering the razor**\nIt favours simple"
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 1200, "completion_tokens": 350, "total_tokens": 1550,
               "prompt_tokens_details": {"cached_tokens": 1000},
               "completion_tokens_details": {"reasoning_tokens": 300}})
    );
    let u = crate::cost::usage_of(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
        (1200, 350, 1000)
    );
}

#[test]
fn thoughts_are_not_counted_twice() {
    // A usageMetadata whose candidates count already holds the thoughts.
    let v = response(
        r#"{"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":40}}"#,
    );
    assert_eq!(v["usage"]["completion_tokens"], 30);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        20
    );
}

#[test]
fn finish_reasons_map() {
    for (gemini, openai) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "content_filter"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("UNEXPECTED_TOOL_CALL", "stop"),
    ] {
        let v = response(&format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}],"role":"model"}},"finishReason":"{gemini}","index":0}}]}}"#
        ));
        assert_eq!(v["choices"][0]["finish_reason"], openai, "{gemini}");
    }
    // A safety stop with no content at all.
    let v = response(
        r#"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}]}"#,
    );
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
}

#[test]
fn blocked_prompt_is_content_filter() {
    let v = response(
        r#"{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}"#,
    );
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(v["usage"]["prompt_tokens"], 9);
}

#[test]
fn several_candidates_and_parallel_calls() {
    let v = response(
        r#"{"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"finishReason":"STOP","index":0},{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}},{"functionCall":{"name":"g"}}],"role":"model"},"finishReason":"STOP","index":1}],"responseId":"r"}"#,
    );
    assert_eq!(v["choices"][0]["message"]["content"], "A");
    assert_eq!(v["choices"][1]["index"], 1);
    let calls = &v["choices"][1]["message"]["tool_calls"];
    assert_eq!(calls[0]["id"], "call_r_1_0");
    assert_eq!(calls[1]["id"], "call_r_1_1");
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(v["choices"][1]["finish_reason"], "tool_calls");
}

#[test]
fn unparsable_or_error_responses_fail() {
    let e = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
    assert_eq!(e.status, 502);
    let e = translate_response(
        Endpoint::ChatCompletions,
        br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#,
        &ctx(false),
    )
    .unwrap_err();
    assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
}

#[test]
fn embeddings_request_and_response() {
    let body = translate_request(
        Endpoint::Embeddings,
        &map(json!({"model": "x", "input": ["What is the meaning of life?", "How much wood?"], "dimensions": 768})),
        "gemini-embedding-001",
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "What is the meaning of life?"}]}, "outputDimensionality": 768},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "How much wood?"}]}, "outputDimensionality": 768}
        ]})
    );
    let body = translate_request(
        Endpoint::Embeddings,
        &map(json!({"input": "hi"})),
        "models/text-embedding-004",
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["requests"][0],
        json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}})
    );
    for bad in [json!({"input": [1, 2]}), json!({"input": []}), json!({})] {
        let e = translate_request(Endpoint::Embeddings, &map(bad), "m").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
    }
    let out = translate_response(
        Endpoint::Embeddings,
        br#"{"embeddings":[{"values":[0.1,-0.2]},{"values":[0.3,0.4]}]}"#,
        &ctx(false),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        json!({"object": "list", "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}
        ], "model": "gemini-2.5-flash", "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    );
}

#[test]
fn error_bodies_keep_message_and_map_type() {
    let e = translate_error(
        400,
        br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
    );
    assert_eq!(e.status, 400);
    assert_eq!(e.kind, "invalid_request_error");
    assert_eq!(e.message, "API key not valid. Please pass a valid API key.");
    let e = translate_error(503, br#"[{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}]"#);
    assert_eq!(
        (e.status, e.kind.as_str()),
        (503, "service_unavailable_error")
    );
    assert!(e.message.contains("overloaded"));
    let e = translate_error(404, br#"{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}"#);
    assert_eq!(e.kind, "not_found_error");
    let e = translate_error(502, b"Bad Gateway");
    assert_eq!(e.status, 502);
    assert!(e.message.contains("Bad Gateway"));
    assert_eq!(error_status(None, Some("RESOURCE_EXHAUSTED")), 429);
}

// -- streams ----------------------------------------------------------------

/// Google's streamGenerateContent?alt=sse example (CRLF line endings, as the
/// API sends them), with a thought part and final usage.
const STREAM: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking about skies\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The sky\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" appears blue \u{1F30D} because of Rayleigh scattering.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 20,\"thoughtsTokenCount\": 12,\"totalTokenCount\": 40},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\n";

fn run(include_usage: bool, chunks: &[&[u8]]) -> (Vec<u8>, Option<crate::cost::Usage>) {
    let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(include_usage));
    let mut out = Vec::new();
    for c in chunks {
        t.push(c, &mut out);
    }
    t.finish(&mut out);
    (out, t.usage())
}

fn events(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).unwrap();
    assert!(text.ends_with("\n\n"), "{text}");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data: ").unwrap();
            if data == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(data).unwrap()
            }
        })
        .collect()
}

#[test]
fn text_stream_translates_to_chunks() {
    let (out, usage) = run(true, &[STREAM.as_bytes()]);
    let evs = events(&out);
    assert_eq!(evs.len(), 6, "{evs:#?}");
    assert_eq!(evs[0]["object"], "chat.completion.chunk");
    assert_eq!(evs[0]["id"], "chatcmpl-Ra1");
    assert_eq!(evs[0]["model"], "gemini-2.5-flash");
    assert_eq!(
        evs[0]["choices"][0]["delta"],
        json!({"role": "assistant", "reasoning_content": "Thinking about skies"})
    );
    assert_eq!(evs[1]["choices"][0]["delta"], json!({"content": "The sky"}));
    assert_eq!(
        evs[2]["choices"][0]["delta"],
        json!({"content": " appears blue \u{1F30D} because of Rayleigh scattering."})
    );
    assert_eq!(evs[3]["choices"][0]["delta"], json!({}));
    assert_eq!(evs[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(evs[4]["choices"], json!([]));
    assert_eq!(
        evs[4]["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 32, "total_tokens": 40,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 12}})
    );
    assert_eq!(evs[5], "[DONE]");
    let usage = usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 32));
    // Without include_usage: no usage chunk, but the usage is still known.
    let (out, usage) = run(false, &[STREAM.as_bytes()]);
    let evs = events(&out);
    assert_eq!(evs.len(), 5);
    assert!(evs.iter().all(|e| e.get("usage").is_none()));
    assert_eq!(usage.unwrap().completion_tokens, 32);
}

#[test]
fn every_split_point_gives_identical_output() {
    let bytes = STREAM.as_bytes();
    // Whole, split in two at every byte, and byte by byte: same bytes, same usage.
    let (whole, usage) = crate::test_support::assert_split_invariant(
        || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
        bytes,
    );
    assert_eq!(whole, run(true, &[bytes]).0);
    assert_eq!(usage.unwrap().completion_tokens, 32);
}

#[test]
fn tool_call_stream() {
    let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_current_weather\",\"args\": {\"location\": \"Boston, MA\"}},\"thoughtSignature\": \"c2lnMQ==\"},{\"functionCall\": {\"name\": \"get_time\",\"args\": {}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 70,\"candidatesTokenCount\": 25,\"totalTokenCount\": 95},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"T1\"}\r\n\r\n";
    let (out, _) = run(false, &[stream.as_bytes()]);
    let evs = events(&out);
    assert_eq!(evs.len(), 4, "{evs:#?}");
    assert_eq!(
        evs[0]["choices"][0]["delta"],
        json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_T1_0__thought__c2lnMQ==", "type": "function",
                "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}}]})
    );
    assert_eq!(
        evs[1]["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 1, "id": "call_T1_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}})
    );
    assert_eq!(evs[2]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(evs[3], "[DONE]");
    // The streamed id carries the signature back on the next request.
    let id = evs[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
        .as_str()
        .unwrap();
    assert_eq!(split_tool_call_id(id), ("call_T1_0", Some("c2lnMQ==")));
}

#[test]
fn cut_short_stream_ends_with_error() {
    let first_event_end = STREAM.find("\r\n\r\n").unwrap() + 4;
    let (out, usage) = run(true, &[&STREAM.as_bytes()[..first_event_end]]);
    let evs = events(&out);
    assert_eq!(
        evs[0]["choices"][0]["delta"]["reasoning_content"],
        "Thinking about skies"
    );
    let err = &evs[evs.len() - 2]["error"];
    assert_eq!(err["code"], "502");
    assert!(err["message"].as_str().unwrap().contains("ended early"));
    assert_eq!(evs[evs.len() - 1], "[DONE]");
    assert_eq!(usage.unwrap().prompt_tokens, 8);
    // Cut mid-event.
    let (out, _) = run(false, &[&STREAM.as_bytes()[..first_event_end + 10]]);
    assert!(String::from_utf8(out).unwrap().contains("mid-event"));
    // Nothing at all.
    let evs = events(&run(false, &[]).0);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0]["error"]["code"], "502");
}

#[test]
fn error_and_garbage_events_end_the_stream() {
    let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\ndata: {\"error\": {\"code\": 503,\"message\": \"The model is overloaded. Please try again later.\",\"status\": \"UNAVAILABLE\"}}\r\n\r\ndata: {\"candidates\": []}\r\n\r\n";
    let evs = events(&run(false, &[stream.as_bytes()]).0);
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[1]["error"]["code"], "503");
    assert_eq!(evs[1]["error"]["type"], "service_unavailable_error");
    assert_eq!(evs[2], "[DONE]");
    let evs = events(&run(false, &[b"data: {oops\n\n"]).0);
    assert_eq!(evs[0]["error"]["code"], "502");
}

#[test]
fn blocked_prompt_stream_is_content_filter() {
    let stream = "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"},\"usageMetadata\": {\"promptTokenCount\": 5,\"totalTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";
    let evs = events(&run(true, &[stream.as_bytes()]).0);
    assert_eq!(evs[0]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(evs[1]["usage"]["prompt_tokens"], 5);
    assert_eq!(evs[2], "[DONE]");
}
