//! Unit tests of the Ollama translation.

use super::*;

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn chat(v: Value) -> (String, Value) {
    let out = translate_request(true, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
    (out.path, serde_json::from_slice(&out.body).unwrap())
}

fn generate(v: Value) -> (String, Value) {
    let out = translate_request(false, Endpoint::ChatCompletions, &map(v), "llama3.1").unwrap();
    (out.path, serde_json::from_slice(&out.body).unwrap())
}

const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

#[test]
fn chat_request_maps_options_format_and_think() {
    let (path, body) = chat(json!({
        "model": "x",
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 10, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9,
        "seed": 3, "frequency_penalty": 1.1, "stop": "END", "top_k": 40,
        "response_format": {"type": "json_object"}, "reasoning_effort": "low",
        "keep_alive": "5m", "tool_choice": "auto", "stream": true
    }));
    assert_eq!(path, "/api/chat");
    assert_eq!(body["model"], "llama3.1");
    assert_eq!(body["stream"], true);
    assert_eq!(body["keep_alive"], "5m");
    assert_eq!(body["format"], "json");
    assert_eq!(body["think"], true);
    assert!(
        body.get("tool_choice").is_none(),
        "LiteLLM drops it: it hangs Ollama"
    );
    assert_eq!(
        body["options"],
        json!({"top_k": 40, "num_predict": 20, "temperature": 0.5, "top_p": 0.9,
               "seed": 3, "repeat_penalty": 1.1, "stop": ["END"]})
    );
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );

    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let (_, body) = chat(json!({
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
    }));
    assert_eq!(body["format"], schema);
    assert_eq!(body["stream"], false, "always said");
    assert!(body.get("options").is_none());
    let out = translate_request(
        true,
        Endpoint::ChatCompletions,
        &map(json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high"})),
        "gpt-oss:20b",
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap()["think"],
        "high"
    );
}

#[test]
fn chat_messages_images_and_tool_round_trip() {
    let tool = json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}});
    let (_, body) = chat(json!({
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is "}, {"type": "text", "text": "this?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PIXEL}")}}
            ]},
            {"role": "assistant", "content": null, "reasoning_content": "hmm",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
        ],
        "tools": [tool.clone()]
    }));
    let m = &body["messages"];
    assert_eq!(
        m[0],
        json!({"role": "user", "content": "what is this?", "images": [PIXEL]})
    );
    assert_eq!(
        m[1],
        json!({"role": "assistant", "content": "", "thinking": "hmm",
               "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]})
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "content": "18C", "tool_name": "get_weather"})
    );
    assert_eq!(body["tools"], json!([tool]));
}

#[test]
fn bad_input_is_a_400_naming_the_field() {
    let err = translate_request(
        true,
        Endpoint::ChatCompletions,
        &map(json!({
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]
        })),
        "m",
    )
    .unwrap_err();
    assert_eq!(
        (err.status, err.param.as_deref()),
        (400, Some("messages[0].content[0].image_url"))
    );
    assert!(err.message.contains("base64"), "{}", err.message);
    let err = translate_request(true, Endpoint::ChatCompletions, &map(json!({
        "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{nope"}}]}]
    })), "m").unwrap_err();
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].tool_calls[0].function.arguments")
    );
    let err = translate_request(
        true,
        Endpoint::Embeddings,
        &map(json!({"input": [[1, 2]]})),
        "m",
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("input"));
    let err = translate_request(
        true,
        Endpoint::ChatCompletions,
        &map(json!({"messages": []})),
        "m",
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("messages"));
}

#[test]
fn generate_prompt_is_litellms_ollama_pt() {
    let (path, body) = generate(json!({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Look: "},
                {"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{PIXEL}")}}]},
            {"role": "user", "content": "and answer"},
            {"role": "assistant", "content": "Sure.",
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"}
        ],
        "max_completion_tokens": 5, "frequency_penalty": 0.5
    }));
    assert_eq!(path, "/api/generate");
    let expected = "### System:\nBe brief.\n\n### User:\nLook: and answer\n\n### Assistant:\nSure.Tool Calls: [\n  {\n    \"id\": \"c1\",\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"f\",\n      \"arguments\": {\n        \"a\": 1\n      }\n    }\n  }\n]\n\n### User:\ndone\n\n";
    assert_eq!(body["prompt"], expected);
    assert_eq!(body["images"], json!([PIXEL]));
    assert_eq!(
        body["options"],
        json!({"num_predict": 5, "frequency_penalty": 0.5})
    );
    assert!(body.get("messages").is_none());

    let out = translate_request(
        false,
        Endpoint::Completions,
        &map(json!({"prompt": ["Say hi"], "stream": true})),
        "m",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        (
            out.path.as_str(),
            body["prompt"].as_str(),
            body["stream"].as_bool()
        ),
        ("/api/generate", Some("Say hi"), Some(true))
    );
    let out = translate_request(
        true,
        Endpoint::Embeddings,
        &map(json!({"input": "a", "num_ctx": 4})),
        "e",
    )
    .unwrap();
    assert_eq!(out.path, "/api/embed");
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"model": "e", "input": "a", "options": {"num_ctx": 4}})
    );
}

fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "fallback".into(),
        include_usage,
    }
}

fn answer(endpoint: Endpoint, body: &str) -> Value {
    serde_json::from_slice(&translate_response(endpoint, body.as_bytes(), &ctx(false)).unwrap())
        .unwrap()
}

#[test]
fn responses_become_openai() {
    let v = answer(
        Endpoint::ChatCompletions,
        r#"{"model":"llama3.1","created_at":"2024-07-22T20:33:28Z","message":{"role":"assistant","content":"Hi!","thinking":"greet"},"done_reason":"stop","done":true,"total_duration":1,"prompt_eval_count":26,"eval_count":3}"#,
    );
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(v["model"], "llama3.1");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": "Hi!", "reasoning_content": "greet"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29})
    );

    let v = answer(
        Endpoint::ChatCompletions,
        r#"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done_reason":"stop","done":true,"eval_count":9}"#,
    );
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens"], 0, "absent for a cached prompt");

    let v = answer(
        Endpoint::ChatCompletions,
        r#"{"model":"m","response":"cut","done":true,"done_reason":"length","prompt_eval_count":1,"eval_count":1}"#,
    );
    assert_eq!(
        (
            v["choices"][0]["message"]["content"].as_str(),
            v["choices"][0]["finish_reason"].as_str()
        ),
        (Some("cut"), Some("length"))
    );
    let v = answer(
        Endpoint::Completions,
        r#"{"model":"m","response":"hello","done":true,"done_reason":"stop"}"#,
    );
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "hello");
    let v = answer(
        Endpoint::Embeddings,
        r#"{"model":"all-minilm","embeddings":[[0.1,0.2],[0.3,0.4]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#,
    );
    assert_eq!(v["object"], "list");
    assert_eq!(
        v["data"][1],
        json!({"object": "embedding", "index": 1, "embedding": [0.3, 0.4]})
    );
    assert_eq!(v["usage"], json!({"prompt_tokens": 8, "total_tokens": 8}));
    let err = translate_response(Endpoint::ChatCompletions, b"<html>", &ctx(false)).unwrap_err();
    assert_eq!(err.status, 502);
}

/// `/api/chat` streamed, as Ollama's API reference shows it.
const CHAT_STREAM: &str = concat!(
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n",
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.4Z\",\"message\":{\"role\":\"assistant\",\"content\":\" sky é\"},\"done\":false}\r\n",
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n",
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
fn chat_stream_at_every_split_point() {
    let whole = run(Endpoint::ChatCompletions, CHAT_STREAM.as_bytes(), &[], true);
    let evs = events(&whole.0);
    assert_eq!(evs.len(), 5, "{}", whole.0);
    assert_eq!(
        evs[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "The"})
    );
    assert_eq!(evs[0]["object"], "chat.completion.chunk");
    assert_eq!(evs[0]["model"], "llama3.2");
    assert_eq!(evs[1]["choices"][0]["delta"], json!({"content": " sky é"}));
    assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(evs[3]["choices"], json!([]));
    assert_eq!(
        evs[3]["usage"],
        json!({"prompt_tokens": 26, "completion_tokens": 282, "total_tokens": 308})
    );
    assert_eq!(evs[4], json!("[DONE]"));
    let ids: Vec<_> = evs[..4].iter().map(|e| e["id"].clone()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one id per stream");
    assert_eq!(
        whole.1.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((26, 282))
    );
    let bytes = CHAT_STREAM.as_bytes();
    for split in 0..=bytes.len() {
        assert_eq!(
            run(Endpoint::ChatCompletions, bytes, &[split], true),
            whole,
            "split at {split}"
        );
    }
    // Byte by byte.
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(run(Endpoint::ChatCompletions, bytes, &every, true), whole);
    // Without include_usage: no usage chunk, usage still known.
    let (out, usage) = run(Endpoint::ChatCompletions, bytes, &[], false);
    assert_eq!(events(&out).len(), 4);
    assert_eq!(usage.map(|u| u.completion_tokens), Some(282));
}

#[test]
fn streamed_tool_calls_and_generate_streams() {
    let stream = concat!(
        "{\"model\":\"m\",\"created_at\":\"t1\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}},{\"function\":{\"name\":\"get_time\",\"arguments\":{}}}]},\"done\":false}\n",
        "{\"model\":\"m\",\"created_at\":\"t2\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":7}\n",
    );
    let (out, _) = run(Endpoint::ChatCompletions, stream.as_bytes(), &[], false);
    let evs = events(&out);
    let calls = &evs[0]["choices"][0]["delta"]["tool_calls"];
    assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[1]["index"], 1);
    assert_eq!(
        calls[0]["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert!(calls[1]["id"].as_str().unwrap().starts_with("call_"));
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(evs[1]["choices"][0]["finish_reason"], "tool_calls");

    let gen = concat!(
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"response\":\"The\",\"done\":false}\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.5Z\",\"response\":\"\",\"thinking\":\"hm\",\"done\":false}\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"context\":[1,2,3],\"prompt_eval_count\":3,\"eval_count\":4}\n",
    );
    let (out, usage) = run(Endpoint::ChatCompletions, gen.as_bytes(), &[], false);
    let evs = events(&out);
    assert_eq!(evs[0]["choices"][0]["delta"]["content"], "The");
    assert_eq!(
        evs[1]["choices"][0]["delta"],
        json!({"reasoning_content": "hm"})
    );
    assert_eq!(evs[2]["choices"][0]["finish_reason"], "length");
    assert_eq!(usage.map(|u| u.prompt_tokens), Some(3));
    let (out, _) = run(Endpoint::Completions, gen.as_bytes(), &[7], true);
    let evs = events(&out);
    assert_eq!(evs[0]["object"], "text_completion");
    assert_eq!(evs[0]["choices"][0]["text"], "The");
    assert_eq!(evs[1]["choices"][0]["finish_reason"], "length");
    assert_eq!(evs[2]["usage"]["completion_tokens"], 4);
    assert_eq!(evs[3], json!("[DONE]"));
}

#[test]
fn stream_errors_and_cuts_end_with_an_error_event() {
    let stream = "{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model\"}\n{\"model\":\"m\",\"done\":true}\n";
    let (out, usage) = run(Endpoint::ChatCompletions, stream.as_bytes(), &[], false);
    let evs = events(&out);
    assert_eq!(evs.len(), 3, "{out}");
    assert_eq!(
        evs[1]["error"]["message"],
        "an error was encountered while running the model"
    );
    assert_eq!(evs[1]["error"]["code"], "500");
    assert_eq!(evs[2], json!("[DONE]"));
    assert_eq!(usage, None);

    let cut = "{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"model\":\"m\",\"mess";
    let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
    let evs = events(&out);
    assert_eq!(evs[1]["error"]["code"], "502", "{out}");
    assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
    assert_eq!(out.matches("[DONE]").count(), 1);

    let (out, _) = run(Endpoint::ChatCompletions, b"not json\n", &[], false);
    assert!(
        out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
        "{out}"
    );
    // A final line without a newline still counts.
    let (out, usage) = run(
        Endpoint::ChatCompletions,
        CHAT_STREAM.trim_end().as_bytes(),
        &[],
        false,
    );
    assert!(
        out.ends_with("data: [DONE]\n\n") && !out.contains("error"),
        "{out}"
    );
    assert!(usage.is_some());
}
