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
                Some(wire::usage(prompt, completion, cached)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::cohere::fixtures::*;

    /// A text stream as Cohere's "Chat with Streaming" reference shows it (ids and
    /// text shortened), with a thinking block first as `command-a-reasoning` sends.
    const TEXT_STREAM: &str = concat!(
        "event: message-start\n",
        "data: {\"id\":\"29f14a5a-11de-4cae-9800-25e4747408ea\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
        "event: content-start\n",
        "data: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
        "event: content-delta\n",
        "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"Say hi.\"}}}}\n\n",
        "event: content-end\n",
        "data: {\"type\":\"content-end\",\"index\":0}\n\n",
        "event: content-start\n",
        "data: {\"type\":\"content-start\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n",
        "event: content-delta\n",
        "data: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\"Hello\"}}}}\n\n",
        "event: content-delta\r\n",
        "data: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\" wörld\"}}}}\r\n\r\n",
        "event: content-end\n",
        "data: {\"type\":\"content-end\",\"index\":1}\n\n",
        "event: message-end\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":9},\"tokens\":{\"input_tokens\":69,\"output_tokens\":9}}}}\n\n",
    );

    /// A tool-call stream as the streaming guide's "Tool Use Stream Events" show it.
    const TOOL_STREAM: &str = concat!(
        "event: message-start\n",
        "data: {\"id\":\"93b3f521\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
        "event: tool-plan-delta\n",
        "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will\"}}}\n\n",
        "event: tool-call-start\n",
        "data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_weather_nsz5zm3w56q3\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}\n\n",
        "event: tool-call-delta\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"location\\\":\"}}}}}\n\n",
        "event: tool-call-delta\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\" \\\"Toronto\\\"}\"}}}}}\n\n",
        "event: tool-call-end\n",
        "data: {\"type\":\"tool-call-end\",\"index\":0}\n\n",
        "event: tool-call-start\n",
        "data: {\"type\":\"tool-call-start\",\"index\":1,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_time_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}}}}\n\n",
        "event: tool-call-end\n",
        "data: {\"type\":\"tool-call-end\",\"index\":1}\n\n",
        "event: message-end\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},\"tokens\":{\"input_tokens\":1000,\"output_tokens\":60}}}}\n\n",
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
    fn text_stream_at_every_split_point() {
        let bytes = TEXT_STREAM.as_bytes();
        let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
        let evs = events(&whole.0);
        assert_eq!(evs.len(), 7, "{}", whole.0);
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(evs[0]["id"], "29f14a5a-11de-4cae-9800-25e4747408ea");
        assert_eq!(evs[0]["object"], "chat.completion.chunk");
        assert_eq!(
            evs[1]["choices"][0]["delta"],
            json!({"reasoning_content": "Say hi."})
        );
        assert_eq!(evs[2]["choices"][0]["delta"], json!({"content": "Hello"}));
        assert_eq!(evs[3]["choices"][0]["delta"], json!({"content": " wörld"}));
        assert_eq!(evs[4]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs[5]["choices"], json!([]));
        assert_eq!(
            evs[5]["usage"],
            json!({"prompt_tokens": 69, "completion_tokens": 9, "total_tokens": 78})
        );
        assert_eq!(evs[6], json!("[DONE]"));
        assert!(
            evs[..6].iter().all(|e| e["id"] == evs[0]["id"]),
            "one id per stream"
        );
        assert_eq!(
            whole.1.map(|u| (u.prompt_tokens, u.completion_tokens)),
            Some((69, 9))
        );
        // Split in two at every byte, and byte by byte: the same output and usage.
        let (out, usage) = crate::test_support::assert_split_invariant(
            || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
            bytes,
        );
        assert_eq!((String::from_utf8(out).unwrap(), usage), whole);
        // Without include_usage: no usage chunk, usage still known.
        let (out, usage) = run(Endpoint::ChatCompletions, bytes, &[], false);
        assert_eq!(events(&out).len(), 6);
        assert_eq!(usage.map(|u| u.completion_tokens), Some(9));
        // As a legacy completion: text chunks only.
        let (out, _) = run(Endpoint::Completions, bytes, &[], true);
        let evs = events(&out);
        assert_eq!(evs[0]["object"], "text_completion");
        assert_eq!(evs[0]["choices"][0]["text"], "Hello");
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs[3]["usage"]["completion_tokens"], 9);
        assert_eq!(evs.len(), 5);
    }

    #[test]
    fn tool_stream_at_every_split_point() {
        let bytes = TOOL_STREAM.as_bytes();
        let whole = run(Endpoint::ChatCompletions, bytes, &[], true);
        let evs = events(&whole.0);
        assert_eq!(evs.len(), 10, "{}", whole.0);
        assert_eq!(
            evs[1]["choices"][0]["delta"],
            json!({"tool_plan": "I will"})
        );
        assert_eq!(
            evs[2]["choices"][0]["delta"]["tool_calls"],
            json!([{"index": 0, "id": "get_weather_nsz5zm3w56q3", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}])
        );
        assert_eq!(
            evs[3]["choices"][0]["delta"]["tool_calls"],
            json!([{"index": 0, "function": {"arguments": "{\"location\":"}}])
        );
        assert_eq!(
            evs[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            " \"Toronto\"}"
        );
        assert_eq!(evs[5]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(
            evs[6]["choices"][0]["delta"]["tool_calls"],
            json!([{"index": 1, "function": {"arguments": "{}"}}]),
            "a call without arguments gets {{}}"
        );
        assert_eq!(evs[7]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(evs[8]["usage"]["prompt_tokens"], 1000);
        for split in 0..=bytes.len() {
            assert_eq!(
                run(Endpoint::ChatCompletions, bytes, &[split], true),
                whole,
                "split at {split}"
            );
        }
    }

    #[test]
    fn stream_errors_and_cuts_end_with_an_error_event() {
        let failed = concat!(
            "event: message-start\ndata: {\"id\":\"a\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\"}}}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"error\":\"internal server error\",\"finish_reason\":\"ERROR\",\"usage\":{\"tokens\":{\"input_tokens\":4,\"output_tokens\":1}}}}\n\n",
        );
        let (out, usage) = run(Endpoint::ChatCompletions, failed.as_bytes(), &[], true);
        let evs = events(&out);
        assert_eq!(evs[1]["error"]["message"], "internal server error");
        assert_eq!(evs[1]["error"]["code"], "500");
        assert_eq!(evs.last().unwrap(), &json!("[DONE]"));
        assert_eq!(usage.map(|u| u.prompt_tokens), Some(4));

        let cut = &TEXT_STREAM[..TEXT_STREAM.find("event: message-end").unwrap()];
        let (out, _) = run(Endpoint::ChatCompletions, cut.as_bytes(), &[], false);
        let evs = events(&out);
        assert_eq!(evs[evs.len() - 2]["error"]["code"], "502", "{out}");
        assert_eq!(out.matches("[DONE]").count(), 1);

        let (out, _) = run(Endpoint::ChatCompletions, b"data: not json\n\n", &[], false);
        assert!(
            out.contains("\"code\":\"502\"") && out.ends_with("data: [DONE]\n\n"),
            "{out}"
        );
        // Cohere's `[DONE]` (where it sends one) is not an error.
        let with_done = format!("{TEXT_STREAM}data: [DONE]\n\n");
        assert_eq!(
            run(Endpoint::ChatCompletions, with_done.as_bytes(), &[], true),
            run(Endpoint::ChatCompletions, TEXT_STREAM.as_bytes(), &[], true)
        );
        let orphan = "data: {\"type\":\"tool-call-delta\",\"index\":3,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"x\"}}}}}\n\n";
        let (out, _) = run(Endpoint::ChatCompletions, orphan.as_bytes(), &[], false);
        assert!(out.contains("never started"), "{out}");
    }
}
