//! A whole OpenAI answer (`chat.completion`, or `text_completion` for
//! `/completions`) written from a content-block answer: what Anthropic's Messages
//! answer and Bedrock's Converse answer (modelled on it) have in common. The
//! translators walk their own blocks into a [`BlockAnswer`]; it writes the text
//! (`null` content when there is none), `reasoning_content`, `thinking_blocks` and
//! `tool_calls` in OpenAI's shape and key order (that of `wire::openai::completion`).

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::wire::openai::{CHAT_COMPLETION, TEXT_COMPLETION};

/// The parts of one answer, gathered from its content blocks.
#[derive(Debug, Default)]
pub(crate) struct BlockAnswer {
    /// Text blocks, joined.
    pub(crate) text: String,
    /// Reasoning text, joined (`reasoning_content`).
    pub(crate) reasoning: String,
    /// LiteLLM's `thinking_blocks` (signatures, redacted thinking).
    pub(crate) thinking_blocks: Vec<Value>,
    tool_calls: Vec<Value>,
}

impl BlockAnswer {
    /// A tool call; `arguments` is the input object serialized.
    pub(crate) fn tool_call(&mut self, id: &str, name: &str, arguments: String) {
        self.tool_calls.push(json!({
            "id": id,
            "type": "function",
            "function": { "name": name, "arguments": arguments }
        }));
    }

    /// The serialized OpenAI answer to `endpoint`.
    pub(crate) fn into_openai(
        self,
        endpoint: Endpoint,
        id: &str,
        created: u64,
        model: &str,
        finish: &str,
        usage: impl Serialize,
    ) -> Result<Vec<u8>, GatewayError> {
        // One `json!` for the whole answer: building `choices` apart and passing it
        // in would serialize it a second time (more allocations per answer).
        let out = match endpoint {
            Endpoint::Completions => json!({
                "id": id,
                "object": TEXT_COMPLETION,
                "created": created,
                "model": model,
                "choices": [{ "text": self.text, "index": 0, "logprobs": null, "finish_reason": finish }],
                "usage": usage,
            }),
            _ => {
                let message = self.message();
                json!({
                    "id": id,
                    "object": CHAT_COMPLETION,
                    "created": created,
                    "model": model,
                    "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }],
                    "usage": usage,
                })
            }
        };
        serde_json::to_vec(&out)
            .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
    }

    fn message(self) -> Map<String, Value> {
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert(
            "content".into(),
            if self.text.is_empty() {
                Value::Null
            } else {
                Value::String(self.text)
            },
        );
        if !self.reasoning.is_empty() {
            message.insert("reasoning_content".into(), Value::String(self.reasoning));
        }
        if !self.thinking_blocks.is_empty() {
            message.insert("thinking_blocks".into(), Value::Array(self.thinking_blocks));
        }
        if !self.tool_calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(self.tool_calls));
        }
        message
    }
}
