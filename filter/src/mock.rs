//! Answers for mock deployments (`litellm_params.mock_response`) and for a client's
//! own `mock_response` (when its key or team allows it, see `crate::stages::responder`).
//!
//! A group whose deployments carry `mock_response` is answered by the router stage
//! itself, in OpenAI format, streamed or not, with no upstream — so a config works
//! offline, as LiteLLM's mock deployments do. Token counts are estimates (about four
//! bytes a token), marked as such nowhere else: nobody is billed for a mock.
//!
//! As in LiteLLM's `mock_completion` (litellm/main.py), a non-streamed chat answer
//! carries the request's `mock_tool_calls` as the message's `tool_calls`, and three
//! texts are errors instead of answers ([`mock_error`]).

use serde_json::{json, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// What a mock answer needs to know about the request.
pub struct MockRequest<'a> {
    /// Which endpoint was called.
    pub endpoint: Endpoint,
    /// The model name the client asked for (reported back as `model`).
    pub model: &'a str,
    /// The configured answer text.
    pub text: &'a str,
    /// `stream: true` was asked.
    pub stream: bool,
    /// `stream_options.include_usage` was set.
    pub include_usage: bool,
    /// The response id (`chatcmpl-…`).
    pub id: &'a str,
    /// Unix seconds.
    pub created: u64,
    /// Size of the request body, for the prompt-token estimate.
    pub request_bytes: usize,
    /// `mock_tool_calls`: the answer's `tool_calls` (non-streamed chat answers).
    pub tool_calls: Option<&'a Value>,
}

/// The error a mock text stands for, as LiteLLM raises them
/// (`_handle_mock_potential_exceptions`, litellm/main.py): `litellm.RateLimitError`,
/// `litellm.ContextWindowExceededError`, `litellm.InternalServerError`.
pub fn mock_error(text: &str) -> Option<GatewayError> {
    let (status, message) = match text {
        "litellm.RateLimitError" => (429, "this is a mock rate limit error"),
        "litellm.ContextWindowExceededError" => {
            (400, "this is a mock context window exceeded error")
        }
        "litellm.InternalServerError" => (500, "this is a mock internal server error"),
        _ => return None,
    };
    Some(GatewayError::new(status, message))
}

/// A mock answer: content type and body.
pub struct MockAnswer {
    /// `application/json` or `text/event-stream`.
    pub content_type: &'static str,
    /// The full body.
    pub body: Vec<u8>,
}

fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

/// Builds the answer, or an error for endpoints a text mock cannot serve.
pub fn answer(req: &MockRequest<'_>) -> Result<MockAnswer, GatewayError> {
    let prompt_tokens = estimate_tokens(req.request_bytes);
    let completion_tokens = estimate_tokens(req.text.len());
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let chat = match req.endpoint {
        Endpoint::ChatCompletions => true,
        Endpoint::Completions => false,
        Endpoint::Embeddings => {
            return Err(GatewayError::bad_request(format!(
                "model {} is a mock deployment (mock_response) and answers only chat and text completions",
                req.model
            ))
            .with_param("model"))
        }
    };
    if !req.stream {
        let body = if chat {
            let mut message = serde_json::Map::new();
            message.insert("role".into(), json!("assistant"));
            message.insert("content".into(), json!(req.text));
            if let Some(calls) = req.tool_calls {
                message.insert("tool_calls".into(), calls.clone());
            }
            json!({
                "id": req.id, "object": "chat.completion", "created": req.created, "model": req.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            })
        } else {
            json!({
                "id": req.id, "object": "text_completion", "created": req.created, "model": req.model,
                "choices": [{"index": 0, "text": req.text, "logprobs": null, "finish_reason": "stop"}],
                "usage": usage,
            })
        };
        return Ok(MockAnswer {
            content_type: "application/json",
            body: serde_json::to_vec(&body).unwrap_or_default(),
        });
    }

    let object = if chat {
        "chat.completion.chunk"
    } else {
        "text_completion"
    };
    let mut out = Vec::with_capacity(req.text.len() * 4 + 512);
    let mut event = |choices: Value, extra: Option<(&str, Value)>| {
        let mut chunk = json!({
            "id": req.id, "object": object, "created": req.created, "model": req.model,
            "choices": choices,
        });
        if let (Some((k, v)), Some(map)) = (extra, chunk.as_object_mut()) {
            map.insert(k.to_string(), v);
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&serde_json::to_vec(&chunk).unwrap_or_default());
        out.extend_from_slice(b"\n\n");
    };
    if chat {
        event(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            None,
        );
    }
    for piece in req.text.split_inclusive(' ') {
        let choice = if chat {
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}])
        } else {
            json!([{"index": 0, "text": piece, "logprobs": null, "finish_reason": null}])
        };
        event(choice, None);
    }
    let last = if chat {
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    } else {
        json!([{"index": 0, "text": "", "logprobs": null, "finish_reason": "stop"}])
    };
    event(last, None);
    if req.include_usage {
        event(json!([]), Some(("usage", usage)));
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    Ok(MockAnswer {
        content_type: "text/event-stream",
        body: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(endpoint: Endpoint, stream: bool, include_usage: bool) -> MockRequest<'static> {
        MockRequest {
            endpoint,
            model: "demo",
            text: "Hello there friend",
            stream,
            include_usage,
            id: "chatcmpl-1",
            created: 7,
            request_bytes: 40,
            tool_calls: None,
        }
    }

    #[test]
    fn tool_calls_and_error_texts() {
        let calls = json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
        let mut r = req(Endpoint::ChatCompletions, false, false);
        r.tool_calls = Some(&calls);
        let v: Value = serde_json::from_slice(&answer(&r).unwrap().body).unwrap();
        assert_eq!(v["choices"][0]["message"]["tool_calls"], calls);
        assert_eq!(mock_error("litellm.RateLimitError").unwrap().status, 429);
        let cw = mock_error("litellm.ContextWindowExceededError").unwrap();
        assert_eq!(cw.status, 400);
        assert!(cw.message.contains("context window"));
        assert_eq!(
            mock_error("litellm.InternalServerError").unwrap().status,
            500
        );
        assert!(mock_error("hello").is_none());
    }

    #[test]
    fn chat_answer() {
        let a = answer(&req(Endpoint::ChatCompletions, false, false)).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(a.content_type, "application/json");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["message"]["content"], "Hello there friend");
        assert_eq!(v["usage"]["prompt_tokens"], 10);
        assert_eq!(v["usage"]["total_tokens"], 15);
    }

    #[test]
    fn chat_stream_reassembles_and_ends_with_done() {
        let a = answer(&req(Endpoint::ChatCompletions, true, true)).unwrap();
        let text = String::from_utf8(a.body).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"));
        let mut content = String::new();
        let mut saw_usage = false;
        for ev in text
            .split("\n\n")
            .filter(|e| !e.is_empty() && *e != "data: [DONE]")
        {
            let v: Value = serde_json::from_str(ev.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk");
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                content.push_str(c);
            }
            if v.get("usage").is_some() {
                saw_usage = true;
                assert_eq!(v["choices"].as_array().unwrap().len(), 0);
            }
        }
        assert_eq!(content, "Hello there friend");
        assert!(saw_usage);
    }

    #[test]
    fn text_completion_and_embeddings() {
        let a = answer(&req(Endpoint::Completions, false, false)).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], "Hello there friend");
        let e = answer(&req(Endpoint::Embeddings, false, false))
            .err()
            .unwrap();
        assert_eq!(e.status, 400);
    }
}
