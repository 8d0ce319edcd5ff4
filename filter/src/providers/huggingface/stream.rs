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
        wire::write_error_and_done(out, &error);
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
                Some(wire::usage(prompt, completion, None)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::huggingface::fixtures::*;

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
        crate::test_support::sse_data_events(out.as_bytes())
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
        // Split in two at every byte, and byte by byte: the same output and usage.
        let (out, usage) = crate::test_support::assert_split_invariant(
            || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
            bytes,
        );
        assert_eq!((String::from_utf8(out).unwrap(), usage), whole);
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
}
