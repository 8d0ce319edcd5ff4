//! Cohere v2 stream events → OpenAI chunks and `[DONE]`.

use super::*;

/// Cohere v2 SSE → OpenAI SSE, event by event (see the module docs).
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: State,
}

pub(super) struct State {
    ctx: ResponseContext,
    text_completion: bool,
    id: String,
    role_sent: bool,
    /// Cohere's tool-call index → (OpenAI index, arguments seen).
    calls: Vec<(u64, usize, bool)>,
    usage: Option<crate::cost::Usage>,
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: State {
                ctx,
                text_completion: endpoint == Endpoint::Completions,
                id: String::new(),
                role_sent: false,
                calls: Vec::new(),
                usage: None,
                ended: false,
            },
        }
    }
}

impl State {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.ended = true;
    }

    fn object(&self) -> &'static str {
        if self.text_completion {
            "text_completion"
        } else {
            "chat.completion.chunk"
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        let choice = if self.text_completion {
            let text = delta
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({"text": text, "index": 0, "logprobs": null, "finish_reason": finish})
        } else {
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
        };
        wire::completion(
            &self.id,
            self.object(),
            self.ctx.created,
            &self.ctx.model,
            json!([choice]),
            None,
        )
    }

    /// Emits a chat delta, the first one carrying `role`.
    fn delta(&mut self, mut delta: Map<String, Value>, out: &mut Vec<u8>) {
        if self.text_completion {
            if delta
                .get("content")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
            {
                let chunk = self.chunk(Value::Object(delta), None);
                write_data(out, &chunk);
            }
            return;
        }
        if !self.role_sent {
            delta.insert("role".into(), json!("assistant"));
            self.role_sent = true;
        }
        let chunk = self.chunk(Value::Object(delta), None);
        write_data(out, &chunk);
    }

    fn handle(&mut self, name: Option<&str>, data: &str, out: &mut Vec<u8>) {
        if data.trim() == "[DONE]" {
            return;
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let shown: String = data.chars().take(200).collect();
                self.fail(
                    bad_answer(&format!(
                        "a stream event that is not a JSON object: {shown}"
                    )),
                    out,
                );
                return;
            }
        };
        let kind = v.get("type").and_then(Value::as_str).or(name).unwrap_or("");
        let message = v.get("delta").and_then(|d| d.get("message"));
        match kind {
            "message-start" => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                if !self.text_completion {
                    let mut delta = Map::new();
                    delta.insert("content".into(), json!(""));
                    self.delta(delta, out);
                }
            }
            "content-delta" => {
                let content = message.and_then(|m| m.get("content"));
                let mut delta = Map::new();
                if let Some(t) = content.and_then(|c| c.get("text")).and_then(Value::as_str) {
                    delta.insert("content".into(), json!(t));
                }
                if let Some(t) = content
                    .and_then(|c| c.get("thinking"))
                    .and_then(Value::as_str)
                {
                    if self.text_completion {
                        return;
                    }
                    delta.insert("reasoning_content".into(), json!(t));
                }
                if !delta.is_empty() {
                    self.delta(delta, out);
                }
            }
            "tool-plan-delta" if !self.text_completion => {
                if let Some(p) = message
                    .and_then(|m| m.get("tool_plan"))
                    .and_then(Value::as_str)
                {
                    let mut delta = Map::new();
                    delta.insert("tool_plan".into(), json!(p));
                    self.delta(delta, out);
                }
            }
            "tool-call-start" if !self.text_completion => {
                self.tool_call_start(&v, message, out);
            }
            "tool-call-delta" if !self.text_completion => {
                self.tool_call_delta(&v, message, out);
            }
            "tool-call-end" if !self.text_completion => {
                self.tool_call_end(&v, out);
            }
            "message-end" => {
                self.message_end(&v, out);
            }
            // content-start/-end, citation-start/-end, debug, and unknown events add
            // nothing to an OpenAI stream.
            _ => {}
        }
    }

    /// A `tool-call-start` event: the first delta of a tool call (id, name, any arguments).
    fn tool_call_start(&mut self, v: &Value, message: Option<&Value>, out: &mut Vec<u8>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let call = message.and_then(|m| m.get("tool_calls"));
        let function = call.and_then(|c| c.get("function"));
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let n = self.calls.len();
        self.calls.push((index, n, !arguments.is_empty()));
        let mut delta = Map::new();
        delta.insert(
                "tool_calls".into(),
                json!([{
                    "index": n,
                    "id": call.and_then(|c| c.get("id")).and_then(Value::as_str).unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": function.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default(),
                        "arguments": arguments,
                    },
                }]),
            );
        self.delta(delta, out);
    }

    /// A `tool-call-delta` event: a piece of a started tool call's arguments.
    fn tool_call_delta(&mut self, v: &Value, message: Option<&Value>, out: &mut Vec<u8>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let fragment = message
            .and_then(|m| m.get("tool_calls"))
            .and_then(|c| c.get("function"))
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(slot) = self.calls.iter_mut().rev().find(|(i, _, _)| *i == index) else {
            self.fail(
                bad_answer("a tool-call-delta for a tool call that never started"),
                out,
            );
            return;
        };
        if fragment.is_empty() {
            return;
        }
        slot.2 = true;
        let n = slot.1;
        let mut delta = Map::new();
        delta.insert(
            "tool_calls".into(),
            json!([{"index": n, "function": {"arguments": fragment}}]),
        );
        self.delta(delta, out);
    }

    /// A `tool-call-end` event: `{}` as the arguments of a call that had none.
    fn tool_call_end(&mut self, v: &Value, out: &mut Vec<u8>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let pending = self
            .calls
            .iter()
            .rev()
            .find(|(i, _, _)| *i == index)
            .filter(|(_, _, seen)| !seen)
            .map(|(_, n, _)| *n);
        if let Some(n) = pending {
            let mut delta = Map::new();
            delta.insert(
                "tool_calls".into(),
                json!([{"index": n, "function": {"arguments": "{}"}}]),
            );
            self.delta(delta, out);
        }
    }

    /// A `message-end` event: usage, the finish chunk, the usage chunk and `[DONE]` (or the
    /// error it carries).
    fn message_end(&mut self, v: &Value, out: &mut Vec<u8>) {
        let d = v.get("delta");
        let (prompt, completion, cached) = usage_counts(d.and_then(|d| d.get("usage")));
        self.usage = Some(crate::cost::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cache_read_tokens: cached.unwrap_or(0),
            ..Default::default()
        });
        if let Some(error) = d
            .and_then(|d| d.get("error"))
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            self.fail(GatewayError::new(500, error.to_string()), out);
            return;
        }
        let mut reason = finish_reason(
            d.and_then(|d| d.get("finish_reason"))
                .and_then(Value::as_str),
        );
        if !self.calls.is_empty() && reason == "stop" {
            reason = "tool_calls";
        }
        if !self.role_sent && !self.text_completion {
            self.delta(Map::new(), out);
        }
        let finish = self.chunk(json!({}), Some(reason));
        write_data(out, &finish);
        if self.ctx.include_usage {
            let usage = wire::completion(
                &self.id,
                self.object(),
                self.ctx.created,
                &self.ctx.model,
                json!([]),
                Some(usage_value(prompt, completion, cached)),
            );
            write_data(out, &usage);
        }
        out.extend_from_slice(DONE);
        self.ended = true;
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.decoder.push(chunk);
        while !self.state.ended {
            match self.decoder.next_event() {
                Ok(Some(event)) => self.state.handle(event.event, event.data, out),
                Ok(None) => break,
                Err(e) => self.state.fail(
                    bad_answer(&format!("a stream that could not be read: {e}")),
                    out,
                ),
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.ended {
            return;
        }
        let message = if partial {
            "a stream that ended before its message-end event (mid-event)"
        } else {
            "a stream that ended before its message-end event"
        };
        self.state.fail(bad_answer(message), out);
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage
    }
}
