//! Unit tests of the Hugging Face translation.

use super::*;
use crate::plugin_config::RoleTemplate;

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn chatml() -> PromptTemplate {
    let role = |pre: &str, post: &str| RoleTemplate {
        pre_message: pre.into(),
        post_message: post.into(),
    };
    PromptTemplate {
        initial_prompt_value: "<start>".into(),
        roles: [
            (
                "system".to_string(),
                role("<|im_start|>system\n", "<|im_end|>\n"),
            ),
            (
                "user".to_string(),
                role("<|im_start|>user\n", "<|im_end|>\n"),
            ),
            (
                "assistant".to_string(),
                role("<|im_start|>assistant\n", "<|im_end|>\n"),
            ),
            ("tool".to_string(), role("[TOOL]", "")),
        ]
        .into(),
        final_prompt_value: "<|im_start|>assistant\n".into(),
        bos_token: "<s>".into(),
        eos_token: "</s>".into(),
    }
}

/// The expected string is what LiteLLM's own `custom_prompt` returns for these
/// arguments (run on its source): bos reopened before a system message after an
/// assistant one, eos after each assistant message, a content-less assistant
/// message adding its eos only, an unlisted role (`developer`) its bare content.
#[test]
fn custom_prompt_is_litellms() {
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "assistant", "content": null, "tool_calls": []},
        {"role": "system", "content": "Again."},
        {"role": "tool", "content": "42", "tool_call_id": "c"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "Bye"}
    ]);
    assert_eq!(
        custom_prompt(&chatml(), messages.as_array().unwrap()),
        "<s><start><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n</s></s><s><|im_start|>system\nAgain.<|im_end|>\n[TOOL]42dev<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(
        custom_prompt(
            &PromptTemplate::default(),
            &[json!({"role": "user", "content": "x"})]
        ),
        "x"
    );
    assert_eq!(
        default_prompt(&[
            json!({"role": "system", "content": "a"}),
            json!({"role": "user", "content": "b c"})
        ]),
        "a b c"
    );
}

#[test]
fn generate_request_maps_parameters() {
    let out = translate_request(
        Endpoint::ChatCompletions,
        &map(json!({
            "model": "x", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 0, "temperature": 0, "top_p": 0.9, "seed": 3, "stop": "END",
            "n": 1, "top_k": 40, "repetition_penalty": 1.1,
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}
        })),
        Some(&chatml()),
    )
    .unwrap();
    assert_eq!(out.path, "/generate");
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        body,
        json!({
            "inputs": "<s><start><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            "parameters": {
                "details": true, "return_full_text": false, "decoder_input_details": true,
                "max_new_tokens": 1, "temperature": 0.01, "top_p": 0.9, "seed": 3,
                "stop": ["END"], "grammar": {"type": "json", "value": {"type": "object"}},
                "top_k": 40, "repetition_penalty": 1.1,
            }
        })
    );
    let out = translate_request(
        Endpoint::Completions,
        &map(json!({"prompt": "raw", "stream": true, "max_tokens": 5})),
        Some(&chatml()),
    )
    .unwrap();
    assert_eq!(out.path, "/generate_stream");
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"inputs": "raw", "parameters": {"details": true, "return_full_text": false, "max_new_tokens": 5}}),
        "the prompt as it is; no decoder_input_details on a stream (TGI refuses it)"
    );
    for (req, param) in [
        (
            json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
            "n",
        ),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": [{"role": "user", "content": ""}]}),
            "messages",
        ),
    ] {
        let err =
            translate_request(Endpoint::ChatCompletions, &map(req.clone()), None).unwrap_err();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (400, Some(param)),
            "{req}"
        );
    }
    assert_eq!(
        translate_request(Endpoint::Embeddings, &map(json!({"input": "x"})), None)
            .unwrap_err()
            .status,
        400
    );
    assert!(!supported_params(Endpoint::ChatCompletions).contains(&"tools"));
}

fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "tgi-model".into(),
        include_usage,
    }
}

#[test]
fn generate_answers_become_openai() {
    // `GenerateResponse` as TGI's reference shows it, with `decoder_input_details`.
    let body = r#"{"generated_text":"<|assistant|> Deep learning is a subset.</s>","details":{"finish_reason":"eos_token","generated_tokens":7,"seed":null,"prefill":[{"id":1,"text":"<s>","logprob":null},{"id":1724,"text":"What","logprob":-7.6},{"id":338,"text":" is","logprob":-1.4}],"tokens":[{"id":1,"text":"Deep","logprob":-0.1,"special":false}]}}"#;
    let v: Value = serde_json::from_slice(
        &translate_response(Endpoint::ChatCompletions, body.as_bytes(), &ctx(false)).unwrap(),
    )
    .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "tgi-model");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role": "assistant", "content": " Deep learning is a subset."}),
        "LiteLLM's output_parser strips chat-template tokens"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10})
    );
    let v: Value = serde_json::from_slice(
        &translate_response(
            Endpoint::Completions,
            br#"[{"generated_text":"cut","details":{"finish_reason":"length","generated_tokens":1,"prefill":[],"tokens":[]}}]"#,
            &ctx(false),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(
        (
            v["choices"][0]["text"].as_str(),
            v["choices"][0]["finish_reason"].as_str()
        ),
        (Some("cut"), Some("length"))
    );
    assert_eq!(
        translate_response(Endpoint::ChatCompletions, b"{}", &ctx(false))
            .unwrap_err()
            .status,
        502
    );
}

#[test]
fn tgi_errors_keep_their_message() {
    let e = translate_error(
        422,
        br#"{"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"}"#,
    );
    assert_eq!((e.status, e.kind.as_str()), (422, "invalid_request_error"));
    assert_eq!(
        e.message,
        "Input validation error: `temperature` must be strictly positive"
    );
    let e = translate_error(424, br#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#);
    assert_eq!(e.status, 500);
    assert!(e.message.starts_with("Request failed during generation"));
    let e = translate_error(
        429,
        br#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
    );
    assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
}

/// `/generate_stream` as TGI sends it (`data:` without a space, the `index`
/// field of TGI 2+, `input_length` in the final `details`), with a special end
/// token and a multi-byte character.
const STREAM: &str = concat!(
    "data:{\"index\":1,\"token\":{\"id\":10,\"text\":\"Hel\",\"logprob\":-0.2,\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
    "data:{\"index\":2,\"token\":{\"id\":11,\"text\":\"lo wörld\",\"logprob\":-0.3,\"special\":false},\"generated_text\":null,\"details\":null}\r\n\r\n",
    "data:{\"index\":3,\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":-0.1,\"special\":true},\"generated_text\":\"Hello wörld\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":3,\"seed\":null,\"input_length\":12}}\n\n",
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
fn stream_at_every_split_point() {
    let bytes = STREAM.as_bytes();
    let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
    let evs = events(&whole.0);
    assert_eq!(evs.len(), 5, "{}", whole.0);
    assert_eq!(
        evs[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "Hel"})
    );
    assert_eq!(
        evs[1]["choices"][0]["delta"],
        json!({"content": "lo wörld"})
    );
    assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        evs[3]["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
    );
    assert_eq!(evs[4], json!("[DONE]"));
    assert!(evs[..4].iter().all(|e| e["id"] == evs[0]["id"]));
    for split in 0..=bytes.len() {
        assert_eq!(
            run(Endpoint::ChatCompletions, bytes, &[split], true),
            whole,
            "split at {split}"
        );
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(run(Endpoint::ChatCompletions, bytes, &every, true), whole);
    let (out, usage) = run(Endpoint::Completions, bytes, &[], false);
    let evs = events(&out);
    assert_eq!(evs[0]["object"], "text_completion");
    assert_eq!(evs[1]["choices"][0]["text"], "lo wörld");
    assert_eq!(evs.len(), 4, "no usage chunk unasked");
    assert_eq!(
        usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((12, 3))
    );
    // Older TGI: `prompt_tokens` in the details.
    let older = STREAM.replace("\"input_length\"", "\"prompt_tokens\"");
    assert_eq!(
        run(Endpoint::ChatCompletions, older.as_bytes(), &[], false)
            .1
            .map(|u| u.prompt_tokens),
        Some(12)
    );
}

#[test]
fn stream_errors_and_cuts_end_with_an_error_event() {
    let failed = "data:{\"index\":1,\"token\":{\"id\":10,\"text\":\"Hi\",\"logprob\":-0.2,\"special\":false},\"generated_text\":null,\"details\":null}\n\ndata:{\"error\":\"Request failed during generation: Server error: out of memory\",\"error_type\":\"generation\"}\n\n";
    let (out, usage) = run(Endpoint::ChatCompletions, failed.as_bytes(), &[], false);
    let evs = events(&out);
    assert_eq!(
        evs[1]["error"]["message"],
        "Request failed during generation: Server error: out of memory"
    );
    assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
    assert_eq!(usage, None);
    let cut = &STREAM[..STREAM.rfind("data:").unwrap()];
    let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
    assert!(
        out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
        "{out}"
    );
    let (out, _) = run(Endpoint::ChatCompletions, b"data:nope\n\n", &[], false);
    assert!(out.contains("\"code\":\"502\""), "{out}");
}
