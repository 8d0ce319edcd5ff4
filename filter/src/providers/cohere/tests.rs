//! Unit tests of the Cohere translation.

use super::*;

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn chat(v: Value) -> Value {
    let out = translate_request(Endpoint::ChatCompletions, &map(v), "command-a-03-2025").unwrap();
    assert_eq!(out.path, "/v2/chat");
    serde_json::from_slice(&out.body).unwrap()
}

fn chat_err(v: Value) -> GatewayError {
    translate_request(Endpoint::ChatCompletions, &map(v), "m").unwrap_err()
}

#[test]
fn chat_request_maps_parameters() {
    let body = chat(json!({
        "model": "x",
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi", "name": "bob"}],
        "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9,
        "top_k": 40, "seed": 3, "frequency_penalty": 0.1, "presence_penalty": 0.2,
        "stop": "END", "n": 1, "stream": true, "stream_options": {"include_usage": true},
        "safety_mode": "STRICT", "response_format": {"type": "json_object"},
    }));
    assert_eq!(
        body,
        json!({
            "model": "command-a-03-2025",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "stream": true,
            "response_format": {"type": "json_object"},
            "max_tokens": 20, "temperature": 0.5, "p": 0.9, "frequency_penalty": 0.1,
            "presence_penalty": 0.2, "seed": 3, "k": 40, "stop_sequences": ["END"],
            "safety_mode": "STRICT",
        })
    );
    let body = chat(
        json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5,
        "stop": ["a", "b"], "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}}),
    );
    assert_eq!(body["stream"], false, "always sent");
    assert_eq!(body["max_tokens"], 5);
    assert_eq!(body["stop_sequences"], json!(["a", "b"]));
    assert_eq!(
        body["response_format"],
        json!({"type": "json_object", "json_schema": {"type": "object"}})
    );
    let body = chat(
        json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
    );
    assert!(body.get("response_format").is_none());
}

#[test]
fn reasoning_maps_to_thinking() {
    let think = |v: Value| chat(v)["thinking"].clone();
    let m = json!([{"role": "user", "content": "x"}]);
    assert_eq!(
        think(json!({"messages": m, "reasoning_effort": "low"})),
        json!({"type": "enabled", "token_budget": 1024})
    );
    assert_eq!(
        think(json!({"messages": m, "reasoning_effort": "none"})),
        json!({"type": "disabled"})
    );
    assert_eq!(
        think(
            json!({"messages": m, "thinking": {"type": "enabled", "budget_tokens": 99}, "reasoning_effort": "high"})
        ),
        json!({"type": "enabled", "token_budget": 99}),
        "an explicit `thinking` wins"
    );
    assert_eq!(
        chat_err(json!({"messages": m, "reasoning_effort": "extreme"}))
            .param
            .as_deref(),
        Some("reasoning_effort")
    );
    assert_eq!(
        chat_err(json!({"messages": m, "thinking": {"type": "on"}}))
            .param
            .as_deref(),
        Some("thinking.type")
    );
}

const PIXEL: &str = "data:image/png;base64,iVBORw0KGgo=";

#[test]
fn messages_tools_and_tool_round_trip() {
    let tool = json!({"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}});
    let body = chat(json!({
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Sys"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
                {"type": "image_url", "image_url": "https://example.com/cat.png"}
            ]},
            {"role": "assistant", "content": null, "tool_plan": "I will look it up.",
             "tool_calls": [{"id": "get_weather_1", "type": "function",
                             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "get_weather_1", "content": "18C"},
            {"role": "assistant", "content": "It is 18C.", "reasoning_content": "easy"},
            {"role": "assistant", "content": null}
        ],
        "tools": [tool, {"type": "function", "function": {"name": "noop"}}],
        "tool_choice": "required"
    }));
    let m = &body["messages"];
    assert_eq!(
        m[0],
        json!({"role": "system", "content": [{"type": "text", "text": "Sys"}]})
    );
    assert_eq!(
        m[1]["content"],
        json!([{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])
    );
    assert_eq!(
        m[2],
        json!({"role": "assistant", "tool_plan": "I will look it up.",
               "tool_calls": [{"id": "get_weather_1", "type": "function",
                               "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "get_weather_1", "content": "18C"})
    );
    assert_eq!(
        m[4]["content"],
        json!([{"type": "thinking", "thinking": "easy"}, {"type": "text", "text": "It is 18C."}])
    );
    assert_eq!(m[5], json!({"role": "assistant", "content": ""}));
    assert_eq!(body["tool_choice"], "REQUIRED");
    assert_eq!(body["strict_tools"], true);
    assert_eq!(
        body["tools"][0],
        json!({"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
    );
    assert_eq!(
        body["tools"][1]["function"]["parameters"],
        json!({"type": "object", "properties": {}}),
        "v2 requires parameters"
    );

    let named = chat(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}],
        "tool_choice": {"type": "function", "function": {"name": "b"}}}));
    assert_eq!(named["tool_choice"], "REQUIRED");
    assert_eq!(named["tools"].as_array().unwrap().len(), 1);
    assert_eq!(named["tools"][0]["function"]["name"], "b");
    let none = chat(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "a"}}], "tool_choice": "none"}));
    assert_eq!(none["tool_choice"], "NONE");
    let auto = chat(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "a"}}], "tool_choice": "auto"}));
    assert!(auto.get("tool_choice").is_none());
}

#[test]
fn bad_requests_name_the_field() {
    let cases = [
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "function", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
            "n",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "stop": [1]}),
            "stop",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "zz"}}}),
            "tool_choice.function.name",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}),
            "response_format.json_schema.schema",
        ),
    ];
    for (req, param) in cases {
        let err = chat_err(req.clone());
        assert_eq!(
            (err.status, err.param.as_deref()),
            (400, Some(param)),
            "{req}"
        );
    }
}

#[test]
fn completions_and_embeddings_requests() {
    let out = translate_request(
        Endpoint::Completions,
        &map(json!({"prompt": ["Say hi"], "max_tokens": 3})),
        "command-r",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(out.path, "/v2/chat");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Say hi"}])
    );
    assert_eq!(body["max_tokens"], 3);

    let out = translate_request(
        Endpoint::Embeddings,
        &map(json!({"input": ["a", "b"], "encoding_format": "base64", "dimensions": 256})),
        "embed-v4.0",
    )
    .unwrap();
    assert_eq!(out.path, "/v2/embed");
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document",
               "embedding_types": ["float"], "output_dimension": 256})
    );
    let out = translate_request(
        Endpoint::Embeddings,
        &map(json!({"input": "q", "input_type": "search_query"})),
        "embed-english-v3.0",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        (body["texts"].clone(), body["input_type"].clone()),
        (json!(["q"]), json!("search_query"))
    );
    for bad in [
        json!({"input": [[1, 2]]}),
        json!({}),
        json!({"input": "x", "encoding_format": "int8"}),
    ] {
        assert!(translate_request(Endpoint::Embeddings, &map(bad), "e").is_err());
    }
    assert!(supported_params(Endpoint::Embeddings).contains(&"input_type"));
    assert!(!supported_params(Endpoint::ChatCompletions).contains(&"logit_bias"));
}

fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "command-a-03-2025".into(),
        include_usage,
    }
}

fn answer(endpoint: Endpoint, body: &str) -> Value {
    serde_json::from_slice(&translate_response(endpoint, body.as_bytes(), &ctx(false)).unwrap())
        .unwrap()
}

/// Shaped as the non-streamed example of Cohere's `POST /v2/chat` reference.
const CHAT_ANSWER: &str = r#"{"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"thinking","thinking":"Greet back."},{"type":"text","text":"Hello! How can I help?"}]},"usage":{"billed_units":{"input_tokens":5,"output_tokens":418},"tokens":{"input_tokens":71,"output_tokens":420},"cached_tokens":64}}"#;

#[test]
fn responses_become_openai() {
    let v = answer(Endpoint::ChatCompletions, CHAT_ANSWER);
    assert_eq!(v["id"], "c14c80c3-18eb-4519-9460-6c92edd8cfb4");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(v["model"], "command-a-03-2025");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": "Hello! How can I help?", "reasoning_content": "Greet back."})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 71, "completion_tokens": 420, "total_tokens": 491,
               "prompt_tokens_details": {"cached_tokens": 64}})
    );

    // The tool-use example of Cohere's tool use guide.
    let v = answer(
        Endpoint::ChatCompletions,
        r#"{"id":"9a3d6b8e","finish_reason":"TOOL_CALL","message":{"role":"assistant","tool_plan":"I will search for the weather in Toronto.","tool_calls":[{"id":"get_weather_1byjy32y4hvq","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}}]},"usage":{"billed_units":{"input_tokens":37,"output_tokens":28}}}"#,
    );
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(
        msg["tool_plan"],
        "I will search for the weather in Toronto."
    );
    assert_eq!(
        msg["tool_calls"],
        json!([{"id": "get_weather_1byjy32y4hvq", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Toronto\"}"}}])
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 37, "completion_tokens": 28, "total_tokens": 65}),
        "billed_units when tokens is absent"
    );
    for (reason, mapped) in [
        ("MAX_TOKENS", "length"),
        ("STOP_SEQUENCE", "stop"),
        ("ERROR", "stop"),
        ("TIMEOUT", "stop"),
        ("ERROR_TOXIC", "content_filter"),
    ] {
        let body = format!(
            r#"{{"id":"x","finish_reason":"{reason}","message":{{"role":"assistant","content":[{{"type":"text","text":"t"}}]}}}}"#
        );
        assert_eq!(
            answer(Endpoint::ChatCompletions, &body)["choices"][0]["finish_reason"],
            mapped
        );
    }
    let v = answer(Endpoint::Completions, CHAT_ANSWER);
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Hello! How can I help?");

    // `POST /v2/embed` reference example, trimmed.
    let v = answer(
        Endpoint::Embeddings,
        r#"{"id":"da6e531f","embeddings":{"float":[[0.016296387,-0.008354187],[0.5,0.25]]},"texts":["hello","goodbye"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}"#,
    );
    assert_eq!(v["object"], "list");
    assert_eq!(
        v["data"][1],
        json!({"object": "embedding", "index": 1, "embedding": [0.5, 0.25]})
    );
    assert_eq!(v["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
    assert_eq!(v["model"], "command-a-03-2025");
    let err = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
    assert_eq!(err.status, 502);
    let err = translate_response(
        Endpoint::Embeddings,
        br#"{"id":"x","embeddings":{"int8":[[1]]}}"#,
        &ctx(false),
    )
    .unwrap_err();
    assert_eq!(err.status, 502);
}

#[test]
fn errors_keep_cohere_messages() {
    let e = translate_error(400, br#"{"id":"6f7b","message":"invalid request: message must be at least 1 token long or tool results must be specified."}"#);
    assert_eq!((e.status, e.kind.as_str()), (400, "invalid_request_error"));
    assert!(
        e.message.starts_with("invalid request: message"),
        "{}",
        e.message
    );
    let e = translate_error(401, br#"{"message":"invalid api token"}"#);
    assert_eq!((e.status, e.message.as_str()), (401, "invalid api token"));
    let e = translate_error(400, br#"{"message":"No API key provided."}"#);
    assert_eq!(e.status, 401);
    // Found by the fuzz target translate_response: a 5xx (or a status that did
    // not parse) quoting the phrase keeps its status.
    let e = translate_error(500, br#"{"message":"upstream said: No API key provided."}"#);
    assert_eq!(e.status, 500);
    assert_eq!(
        translate_error(0, br#"{"message":"no api key provided"}"#).status,
        0
    );
    let e = translate_error(
        429,
        br#"{"data":"You are using a Trial key, which is limited to 10 API calls / minute."}"#,
    );
    assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
    assert!(e.message.starts_with("You are using a Trial key"));
    let e = translate_error(498, br#"{"message":"blocked output"}"#);
    assert_eq!(e.status, 400);
    assert_eq!(translate_error(503, b"").status, 503);
    let too_long = br#"{"id":"a","message":"too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4292"}"#;
    assert_eq!(
        super::super::classify_error(400, too_long),
        Some(crate::plugin_config::ErrorKind::ContextWindow)
    );
}

/// A text stream as Cohere's "Chat with Streaming" reference shows it (ids and
/// text shortened), with a thinking block first as `command-a-reasoning` sends.
const TEXT_STREAM: &str = concat!(
    "event: message-start\n",
    "data: {\"id\":\"29f14a5a-11de-4cae-9800-25e4747408ea\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
    "event: content-start\n",
    "data: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
    "event: content-delta\n",
    "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"Say hi.\"}}}}\n\n",
    "event: content-end\n",
    "data: {\"type\":\"content-end\",\"index\":0}\n\n",
    "event: content-start\n",
    "data: {\"type\":\"content-start\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n",
    "event: content-delta\n",
    "data: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\"Hello\"}}}}\n\n",
    "event: content-delta\r\n",
    "data: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\" wörld\"}}}}\r\n\r\n",
    "event: content-end\n",
    "data: {\"type\":\"content-end\",\"index\":1}\n\n",
    "event: message-end\n",
    "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":9},\"tokens\":{\"input_tokens\":69,\"output_tokens\":9}}}}\n\n",
);

/// A tool-call stream as the streaming guide's "Tool Use Stream Events" show it.
const TOOL_STREAM: &str = concat!(
    "event: message-start\n",
    "data: {\"id\":\"93b3f521\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
    "event: tool-plan-delta\n",
    "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will\"}}}\n\n",
    "event: tool-call-start\n",
    "data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_weather_nsz5zm3w56q3\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}\n\n",
    "event: tool-call-delta\n",
    "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"location\\\":\"}}}}}\n\n",
    "event: tool-call-delta\n",
    "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\" \\\"Toronto\\\"}\"}}}}}\n\n",
    "event: tool-call-end\n",
    "data: {\"type\":\"tool-call-end\",\"index\":0}\n\n",
    "event: tool-call-start\n",
    "data: {\"type\":\"tool-call-start\",\"index\":1,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_time_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}}}}\n\n",
    "event: tool-call-end\n",
    "data: {\"type\":\"tool-call-end\",\"index\":1}\n\n",
    "event: message-end\n",
    "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},\"tokens\":{\"input_tokens\":1000,\"output_tokens\":60}}}}\n\n",
);

fn run(
    endpoint: Endpoint,
    stream: &[u8],
    splits: &[usize],
    include_usage: bool,
) -> (String, Option<crate::cost::Usage>) {
    let mut t = StreamTranslator::new(endpoint, ctx(include_usage));
    let mut out = Vec::new();
    let mut last = 0;
    for &s in splits {
        t.push(&stream[last..s], &mut out);
        last = s;
    }
    t.push(&stream[last..], &mut out);
    t.finish(&mut out);
    (String::from_utf8(out).unwrap(), t.usage())
}

fn events(out: &str) -> Vec<Value> {
    out.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data: ").expect("data events only");
            serde_json::from_str(data).unwrap_or_else(|_| json!(data))
        })
        .collect()
}

#[test]
fn text_stream_at_every_split_point() {
    let bytes = TEXT_STREAM.as_bytes();
    let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
    let evs = events(&whole.0);
    assert_eq!(evs.len(), 7, "{}", whole.0);
    assert_eq!(
        evs[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(evs[0]["id"], "29f14a5a-11de-4cae-9800-25e4747408ea");
    assert_eq!(evs[0]["object"], "chat.completion.chunk");
    assert_eq!(
        evs[1]["choices"][0]["delta"],
        json!({"reasoning_content": "Say hi."})
    );
    assert_eq!(evs[2]["choices"][0]["delta"], json!({"content": "Hello"}));
    assert_eq!(evs[3]["choices"][0]["delta"], json!({"content": " wörld"}));
    assert_eq!(evs[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(evs[5]["choices"], json!([]));
    assert_eq!(
        evs[5]["usage"],
        json!({"prompt_tokens": 69, "completion_tokens": 9, "total_tokens": 78})
    );
    assert_eq!(evs[6], json!("[DONE]"));
    assert!(
        evs[..6].iter().all(|e| e["id"] == evs[0]["id"]),
        "one id per stream"
    );
    assert_eq!(
        whole.1.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((69, 9))
    );
    for split in 0..=bytes.len() {
        assert_eq!(
            run(Endpoint::ChatCompletions, bytes, &[split], true),
            whole,
            "split at {split}"
        );
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(run(Endpoint::ChatCompletions, bytes, &every, true), whole);
    // Without include_usage: no usage chunk, usage still known.
    let (out, usage) = run(Endpoint::ChatCompletions, bytes, &[], false);
    assert_eq!(events(&out).len(), 6);
    assert_eq!(usage.map(|u| u.completion_tokens), Some(9));
    // As a legacy completion: text chunks only.
    let (out, _) = run(Endpoint::Completions, bytes, &[], true);
    let evs = events(&out);
    assert_eq!(evs[0]["object"], "text_completion");
    assert_eq!(evs[0]["choices"][0]["text"], "Hello");
    assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(evs[3]["usage"]["completion_tokens"], 9);
    assert_eq!(evs.len(), 5);
}

#[test]
fn tool_stream_at_every_split_point() {
    let bytes = TOOL_STREAM.as_bytes();
    let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
    let evs = events(&whole.0);
    assert_eq!(evs.len(), 10, "{}", whole.0);
    assert_eq!(
        evs[1]["choices"][0]["delta"],
        json!({"tool_plan": "I will"})
    );
    assert_eq!(
        evs[2]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "get_weather_nsz5zm3w56q3", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}])
    );
    assert_eq!(
        evs[3]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "function": {"arguments": "{\"location\":"}}])
    );
    assert_eq!(
        evs[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        " \"Toronto\"}"
    );
    assert_eq!(evs[5]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
    assert_eq!(
        evs[6]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 1, "function": {"arguments": "{}"}}]),
        "a call without arguments gets {{}}"
    );
    assert_eq!(evs[7]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(evs[8]["usage"]["prompt_tokens"], 1000);
    for split in 0..=bytes.len() {
        assert_eq!(
            run(Endpoint::ChatCompletions, bytes, &[split], true),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn stream_errors_and_cuts_end_with_an_error_event() {
    let failed = concat!(
        "event: message-start\ndata: {\"id\":\"a\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\"}}}\n\n",
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"error\":\"internal server error\",\"finish_reason\":\"ERROR\",\"usage\":{\"tokens\":{\"input_tokens\":4,\"output_tokens\":1}}}}\n\n",
    );
    let (out, usage) = run(Endpoint::ChatCompletions, failed.as_bytes(), &[], true);
    let evs = events(&out);
    assert_eq!(evs[1]["error"]["message"], "internal server error");
    assert_eq!(evs[1]["error"]["code"], "500");
    assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
    assert_eq!(usage.map(|u| u.prompt_tokens), Some(4));

    let cut = &TEXT_STREAM[..TEXT_STREAM.find("event: message-end").unwrap()];
    let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
    let evs = events(&out);
    assert_eq!(evs[evs.len() - 2]["error"]["code"], "502", "{out}");
    assert_eq!(out.matches("[DONE]").count(), 1);

    let (out, _) = run(Endpoint::ChatCompletions, b"data: not json\n\n", &[], false);
    assert!(
        out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
        "{out}"
    );
    // Cohere's `[DONE]` (where it sends one) is not an error.
    let with_done = format!("{TEXT_STREAM}data: [DONE]\n\n");
    assert_eq!(
        run(Endpoint::ChatCompletions, with_done.as_bytes(), &[], true),
        run(Endpoint::ChatCompletions, TEXT_STREAM.as_bytes(), &[], true)
    );
    let orphan = "data: {\"type\":\"tool-call-delta\",\"index\":3,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"x\"}}}}}\n\n";
    let (out, _) = run(Endpoint::ChatCompletions, orphan.as_bytes(), &[], false);
    assert!(out.contains("never started"), "{out}");
}
