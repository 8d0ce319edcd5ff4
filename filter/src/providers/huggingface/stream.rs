//! TGI `generate_stream` events → OpenAI chunks and `[DONE]`.

use super::*;

/// TGI SSE → OpenAI SSE, event by event (see the module docs).
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: State,
}

pub(super) struct State {
    ctx: ResponseContext,
    text_completion: bool,
    id: String,
    role_sent: bool,
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

    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> Value {
        let choice = if self.text_completion {
            json!({"text": text.unwrap_or_default(), "index": 0, "logprobs": null, "finish_reason": finish})
        } else {
            let mut delta = Map::new();
            if !self.role_sent {
                delta.insert("role".into(), json!("assistant"));
            }
            if let Some(t) = text {
                delta.insert("content".into(), json!(t));
            }
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

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
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
        if let Some(err) = v.get("error") {
            let message = err.as_str().map_or_else(|| err.to_string(), str::to_string);
            self.fail(GatewayError::new(500, message), out);
            return;
        }
        if self.id.is_empty() {
            let prefix = if self.text_completion {
                "cmpl"
            } else {
                "chatcmpl"
            };
            self.id = format!("{prefix}-{:016x}", fnv(data.as_bytes()));
        }
        let token = v.get("token");
        let special = token
            .and_then(|t| t.get("special"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let text = token
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str)
            .filter(|t| !special && !t.is_empty());
        if let Some(t) = text {
            let chunk = self.chunk(Some(t), None);
            write_data(out, &chunk);
            self.role_sent = true;
        }
        let Some(details) = v.get("details").filter(|d| d.is_object()) else {
            return;
        };
        let prompt = details
            .get("input_length")
            .or_else(|| details.get("prompt_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let completion = details
            .get("generated_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.usage = Some(crate::cost::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            ..Default::default()
        });
        let reason = finish_reason(details.get("finish_reason").and_then(Value::as_str));
        let finish = self.chunk(None, Some(reason));
        write_data(out, &finish);
        if self.ctx.include_usage {
            let usage = wire::completion(
                &self.id,
                self.object(),
                self.ctx.created,
                &self.ctx.model,
                json!([]),
                Some(usage_value(prompt, completion)),
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
                Ok(Some(event)) => self.state.handle(event.data, out),
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
            "a stream that ended before its final (`details`) event (mid-event)"
        } else {
            "a stream that ended before its final (`details`) event"
        };
        self.state.fail(bad_answer(message), out);
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage
    }
}
