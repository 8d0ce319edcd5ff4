//! Answer fixes on the way back (`AnswerFix`): whole answers and stream chunks,
//! and JSON mode's tool call turned back into content.

use super::*;

/// How an OpenAI-compatible provider's answers are rewritten on the way back
/// (non-streamed answers whole, stream chunks one event at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerFix {
    /// Mistral reasoning models: a `content` list of `thinking` and `text` chunks
    /// becomes `content` (the text) and `reasoning_content` (the thinking), and an
    /// empty `content` becomes `null` (`MistralConfig.transform_response`,
    /// `MistralChatResponseIterator`).
    content_chunks: bool,
    /// OpenRouter: `reasoning` is also given as `reasoning_content`.
    reasoning_field: bool,
    /// The answer's `usage.cost` (USD) is the provider's price of it.
    pub provider_cost: bool,
}

impl Quirks {
    /// How this deployment's answers are rewritten, or `None` when they pass as
    /// they come.
    pub fn answer_fix(&self) -> Option<AnswerFix> {
        let fix = AnswerFix {
            content_chunks: self.mistral_reasoning,
            reasoning_field: self.openrouter,
            provider_cost: self.openrouter,
        };
        (fix.content_chunks || fix.reasoning_field).then_some(fix)
    }
}

impl crate::providers::openai::EventEdit for AnswerFix {
    fn fix_chunk(&self, data: &str) -> Option<String> {
        AnswerFix::fix_chunk(self, data)
    }

    fn cost_of(&self, data: &[u8]) -> Option<f64> {
        AnswerFix::cost_of(self, data)
    }
}

impl AnswerFix {
    /// Rewrites a whole chat answer (anything else comes back unchanged).
    pub fn fix_answer(&self, body: Vec<u8>) -> Vec<u8> {
        let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
            return body;
        };
        if self.fix_choices(&mut v, "message") {
            serde_json::to_vec(&v).unwrap_or(body)
        } else {
            body
        }
    }

    /// Rewrites one stream event's data, or `None` when it stays as it is. Only
    /// events that can need it are parsed.
    pub fn fix_chunk(&self, data: &str) -> Option<String> {
        let may = (self.content_chunks
            && (data.contains("\"content\":[") || data.contains("\"content\": [")))
            || (self.reasoning_field
                && (data.contains("\"reasoning\":\"") || data.contains("\"reasoning\": \"")));
        if !may {
            return None;
        }
        let mut v: Value = serde_json::from_str(data).ok()?;
        if self.fix_choices(&mut v, "delta") {
            serde_json::to_string(&v).ok()
        } else {
            None
        }
    }

    fn fix_choices(&self, v: &mut Value, field: &str) -> bool {
        let mut changed = false;
        for choice in v
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(message) = choice.get_mut(field).and_then(Value::as_object_mut) else {
                continue;
            };
            if self.content_chunks {
                match message.get("content") {
                    Some(Value::Array(chunks)) => {
                        let (text, thinking) = flatten_chunks(chunks);
                        message.insert("content".into(), text.map_or(Value::Null, Value::String));
                        if let Some(thinking) = thinking {
                            message.insert("reasoning_content".into(), Value::String(thinking));
                        }
                        changed = true;
                    }
                    Some(Value::String(s)) if s.is_empty() && field == "message" => {
                        message.insert("content".into(), Value::Null);
                        changed = true;
                    }
                    _ => {}
                }
            }
            if self.reasoning_field && !message.contains_key("reasoning_content") {
                if let Some(reasoning) = message.get("reasoning").filter(|r| r.is_string()) {
                    let reasoning = reasoning.clone();
                    message.insert("reasoning_content".into(), reasoning);
                    changed = true;
                }
            }
        }
        changed
    }

    /// The provider's price of the answer (`usage.cost`), when it reports one.
    pub fn cost_of(&self, body: &[u8]) -> Option<f64> {
        if !self.provider_cost {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct WithUsage {
            usage: Option<CostOnly>,
        }
        #[derive(serde::Deserialize)]
        struct CostOnly {
            cost: Option<f64>,
        }
        let parsed: WithUsage = serde_json::from_slice(body).ok()?;
        parsed.usage?.cost.filter(|c| c.is_finite() && *c >= 0.0)
    }
}

/// Mistral's content chunks → (the text, the thinking): text chunks joined, each
/// `thinking` chunk's text parts joined, thinking chunks separated by newlines.
pub(super) fn flatten_chunks(chunks: &[Value]) -> (Option<String>, Option<String>) {
    let mut text: Option<String> = None;
    let mut thinking: Vec<String> = Vec::new();
    for chunk in chunks {
        match chunk.get("type").and_then(Value::as_str) {
            Some("text") => {
                let part = chunk.get("text").and_then(Value::as_str).unwrap_or("");
                text.get_or_insert_with(String::new).push_str(part);
            }
            Some("thinking") => {
                let joined: String = chunk
                    .get("thinking")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|t| t.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|t| t.get("text").and_then(Value::as_str))
                    .collect();
                if !joined.is_empty() {
                    thinking.push(joined);
                }
            }
            _ => {}
        }
    }
    let thinking = (!thinking.is_empty()).then(|| thinking.join("\n"));
    (text, thinking)
}

/// A chat answer whose `json_tool_call` arguments become the message content
/// (LiteLLM's json_mode: content = the arguments, no tool calls, `finish_reason`
/// `stop`). Anything else is returned unchanged.
pub fn json_tool_answer(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let mut changed = false;
    for choice in v
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            continue;
        };
        let arguments = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .and_then(|calls| calls.first())
            .and_then(|call| call.get("function"))
            .filter(|f| f.get("name").and_then(Value::as_str) == Some(JSON_TOOL))
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(arguments) = arguments {
            message.insert("content".into(), Value::String(arguments));
            message.remove("tool_calls");
            if let Some(c) = choice.as_object_mut() {
                c.insert("finish_reason".into(), json!("stop"));
            }
            changed = true;
        }
    }
    if changed {
        serde_json::to_vec(&v).unwrap_or(body)
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::openai_compat::fixtures::*;

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
}
