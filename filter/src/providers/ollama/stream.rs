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
        wire::write_error_and_done(out, &error);
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
                    Some(wire::usage(prompt, completion, None)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ollama::fixtures::*;

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
        crate::test_support::sse_data_events(out.as_bytes())
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
        // Split in two at every byte, and byte by byte: the same output and usage.
        let (out, usage) = crate::test_support::assert_split_invariant(
            || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
            bytes,
        );
        assert_eq!((String::from_utf8(out).unwrap(), usage), whole);
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
}
