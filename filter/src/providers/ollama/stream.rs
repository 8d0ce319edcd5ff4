//! Ollama NDJSON stream → OpenAI chunks and `[DONE]`.

use super::*;

/// Ollama NDJSON → OpenAI SSE, line by line (see the module docs).
pub struct StreamTranslator {
    decoder: NdjsonDecoder,
    state: State,
}

pub(super) struct State {
    ctx: ResponseContext,
    text_completion: bool,
    /// Set from the first line: the chunk id and the id seed of tool calls.
    id: String,
    seed: u64,
    model: String,
    role_sent: bool,
    tool_calls: usize,
    usage: Option<crate::cost::Usage>,
    /// `[DONE]` written; later input is ignored.
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let model = ctx.model.clone();
        StreamTranslator {
            decoder: NdjsonDecoder::new(),
            state: State {
                ctx,
                text_completion: endpoint == Endpoint::Completions,
                id: String::new(),
                seed: 0,
                model,
                role_sent: false,
                tool_calls: 0,
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

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        if self.text_completion {
            let text = delta
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            wire::completion(
                &self.id,
                wire::TEXT_COMPLETION,
                self.ctx.created,
                &self.model,
                json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]),
                None,
            )
        } else {
            wire::completion(
                &self.id,
                wire::CHAT_COMPLETION_CHUNK,
                self.ctx.created,
                &self.model,
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
                None,
            )
        }
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let shown = String::from_utf8_lossy(raw.get(..200).unwrap_or(raw)).into_owned();
                self.fail(
                    bad_answer(&format!("a stream line that is not a JSON object: {shown}")),
                    out,
                );
                return;
            }
        };
        if let Some(err) = v.get("error") {
            let message = err
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    err.get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| err.to_string());
            self.fail(GatewayError::new(500, message), out);
            return;
        }
        if self.id.is_empty() {
            self.seed = fnv(&[raw]);
            let prefix = if self.text_completion {
                "cmpl"
            } else {
                "chatcmpl"
            };
            self.id = format!("{prefix}-{:016x}", self.seed);
            if let Some(m) = v.get("model").and_then(Value::as_str) {
                self.model = m.to_string();
            }
        }
        let (text, thinking, calls) = parts(&v);
        let first = !self.role_sent && !self.text_completion;
        let mut delta = Map::new();
        if first {
            delta.insert("role".into(), json!("assistant"));
        }
        if !text.is_empty() || (first && calls.is_empty()) {
            delta.insert("content".into(), json!(text));
        }
        if !thinking.is_empty() {
            delta.insert("reasoning_content".into(), json!(thinking));
        }
        if !calls.is_empty() && !self.text_completion {
            let first_index = self.tool_calls;
            self.tool_calls += calls.len();
            delta.insert(
                "tool_calls".into(),
                Value::Array(openai_tool_calls(calls, self.seed, first_index, true)),
            );
        }
        let emit = if self.text_completion {
            !text.is_empty()
        } else {
            first || !text.is_empty() || !thinking.is_empty() || !calls.is_empty()
        };
        if emit {
            let chunk = self.chunk(Value::Object(delta), None);
            write_data(out, &chunk);
            self.role_sent = true;
        }
        if v.get("done").and_then(Value::as_bool) == Some(true) {
            let prompt = count(&v, "prompt_eval_count");
            let completion = count(&v, "eval_count");
            self.usage = Some(crate::cost::Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                ..Default::default()
            });
            let reason = finish_reason(&v, self.tool_calls > 0);
            let finish = self.chunk(json!({}), Some(reason));
            write_data(out, &finish);
            if self.ctx.include_usage {
                let usage = wire::completion(
                    &self.id,
                    if self.text_completion {
                        "text_completion"
                    } else {
                        "chat.completion.chunk"
                    },
                    self.ctx.created,
                    &self.model,
                    json!([]),
                    Some(usage_value(prompt, completion)),
                );
                write_data(out, &usage);
            }
            out.extend_from_slice(DONE);
            self.ended = true;
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.decoder.push(chunk);
        while !self.state.ended {
            match self.decoder.next_line() {
                Ok(Some(line)) => self.state.line(line, out),
                Ok(None) => break,
                Err(e) => {
                    self.state.fail(
                        bad_answer(&format!("a stream that could not be read: {e}")),
                        out,
                    );
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        while !self.state.ended {
            match self.decoder.finish() {
                Ok(Some(line)) => self.state.line(line, out),
                Ok(None) => break,
                Err(e) => {
                    self.state.fail(
                        bad_answer(&format!("a stream that could not be read: {e}")),
                        out,
                    );
                }
            }
        }
        if !self.state.ended {
            self.state.fail(
                bad_answer("a stream that ended before its final (`\"done\": true`) line"),
                out,
            );
        }
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage
    }
}
