//! Gemini `streamGenerateContent?alt=sse` events → OpenAI chunks and `[DONE]`.

use super::*;

/// Per-candidate stream progress.
#[derive(Debug, Default)]
pub(super) struct CandidateState {
    role_sent: bool,
    tool_calls: usize,
    finished: bool,
}

#[derive(Debug)]
pub(super) struct StreamState {
    ctx: ResponseContext,
    id: String,
    response_id: String,
    model: String,
    /// By candidate index.
    candidates: std::collections::BTreeMap<u64, CandidateState>,
    /// The last `usageMetadata` (counts are cumulative).
    usage: Option<Value>,
    done: bool,
}

/// Gemini `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk` SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(_endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let model = ctx.model.clone();
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: StreamState {
                ctx,
                id: String::new(),
                response_id: String::new(),
                model,
                candidates: std::collections::BTreeMap::new(),
                usage: None,
                done: false,
            },
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.as_ref().map(usage_of_meta)
    }

    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        self.decoder.push(chunk);
        loop {
            match self.decoder.next_event() {
                Ok(Some(event)) => {
                    self.state.handle(event.data, out);
                    if self.state.done {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.state
                        .fail(GatewayError::new(502, format!("Gemini stream: {e}")), out);
                    return;
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.done {
            return;
        }
        let finished =
            !self.state.candidates.is_empty() && self.state.candidates.values().all(|c| c.finished);
        if partial || !finished {
            let message = if partial {
                "The upstream Gemini stream ended early, before a finishReason (mid-event)."
            } else {
                "The upstream Gemini stream ended early, before a finishReason."
            };
            self.state.fail(GatewayError::new(502, message), out);
            return;
        }
        if self.state.ctx.include_usage {
            let usage = usage_value(self.state.usage.as_ref().unwrap_or(&Value::Null));
            let chunk = self.state.chunk(json!([]), Some(usage));
            write_data(out, &chunk);
        }
        out.extend_from_slice(DONE);
        self.state.done = true;
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        wire::write_error_and_done(out, &error);
        self.done = true;
    }

    fn chunk(&self, choices: Value, usage: Option<Value>) -> Value {
        wire::completion(
            &self.id,
            wire::CHAT_COMPLETION_CHUNK,
            self.ctx.created,
            &self.model,
            choices,
            usage,
        )
    }

    fn candidate(&mut self, index: u64) -> &mut CandidateState {
        self.candidates.entry(index).or_default()
    }

    /// Writes one choice delta for candidate `index` (role first).
    fn delta(
        &mut self,
        index: u64,
        mut delta: Map<String, Value>,
        finish: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let cand = self.candidate(index);
        if !cand.role_sent {
            cand.role_sent = true;
            delta.insert("role".into(), Value::from("assistant"));
        }
        let choice = json!({
            "index": index,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish,
        });
        let chunk = self.chunk(json!([choice]), None);
        write_data(out, &chunk);
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Gemini sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        if let Some(e) = error_object(&v) {
            let err = error_from_object(None, e, data.as_bytes());
            self.fail(err, out);
            return;
        }
        if self.id.is_empty() {
            if let Some(rid) = v.get("responseId").and_then(Value::as_str) {
                self.response_id = rid.to_string();
                self.id = format!("chatcmpl-{rid}");
            }
        }
        if let Some(m) = v
            .get("modelVersion")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            if self.model != m {
                self.model = m.to_string();
            }
        }
        if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = Some(meta.clone());
        }
        let candidates = v.get("candidates").and_then(Value::as_array);
        if candidates.is_none_or(Vec::is_empty) {
            if v.get("promptFeedback")
                .and_then(|f| f.get("blockReason"))
                .is_some()
            {
                self.candidate(0).finished = true;
                self.delta(0, Map::new(), Some("content_filter"), out);
            }
            return;
        }
        for (pos, cand) in candidates.into_iter().flatten().enumerate() {
            let index = cand
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(pos as u64);
            for part in cand
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = self.candidate(index).tool_calls;
                if let Some(call) = tool_call_of(part, &self.response_id, index, n) {
                    self.candidate(index).tool_calls = n.saturating_add(1);
                    let mut call = call;
                    if let Some(obj) = call.as_object_mut() {
                        obj.insert("index".into(), Value::from(n));
                    }
                    let mut delta = Map::new();
                    delta.insert("tool_calls".into(), json!([call]));
                    self.delta(index, delta, None, out);
                } else if let Some(t) = part.get("text").and_then(Value::as_str) {
                    if t.is_empty() {
                        continue;
                    }
                    let key = if is_thought(part) {
                        "reasoning_content"
                    } else {
                        "content"
                    };
                    let mut delta = Map::new();
                    delta.insert(key.into(), Value::from(t));
                    self.delta(index, delta, None, out);
                }
            }
            if let Some(reason) = cand.get("finishReason").and_then(Value::as_str) {
                let cs = self.candidate(index);
                if !cs.finished {
                    cs.finished = true;
                    let called = cs.tool_calls > 0;
                    self.delta(
                        index,
                        Map::new(),
                        Some(finish_reason(Some(reason), called)),
                        out,
                    );
                }
            } else {
                self.candidate(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::gemini::fixtures::*;

    /// Google's streamGenerateContent?alt=sse example (CRLF line endings, as the
    /// API sends them), with a thought part and final usage.
    const STREAM: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking about skies\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The sky\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" appears blue \u{1F30D} because of Rayleigh scattering.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 20,\"thoughtsTokenCount\": 12,\"totalTokenCount\": 40},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Ra1\"}\r\n\r\n";

    fn run(include_usage: bool, chunks: &[&[u8]]) -> (Vec<u8>, Option<crate::cost::Usage>) {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(include_usage));
        let mut out = Vec::new();
        for c in chunks {
            t.push(c, &mut out);
        }
        t.finish(&mut out);
        (out, t.usage())
    }

    fn events(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").unwrap();
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn text_stream_translates_to_chunks() {
        let (out, usage) = run(true, &[STREAM.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 6, "{evs:#?}");
        assert_eq!(evs[0]["object"], "chat.completion.chunk");
        assert_eq!(evs[0]["id"], "chatcmpl-Ra1");
        assert_eq!(evs[0]["model"], "gemini-2.5-flash");
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "reasoning_content": "Thinking about skies"})
        );
        assert_eq!(evs[1]["choices"][0]["delta"], json!({"content": "The sky"}));
        assert_eq!(
            evs[2]["choices"][0]["delta"],
            json!({"content": " appears blue \u{1F30D} because of Rayleigh scattering."})
        );
        assert_eq!(evs[3]["choices"][0]["delta"], json!({}));
        assert_eq!(evs[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs[4]["choices"], json!([]));
        assert_eq!(
            evs[4]["usage"],
            json!({"prompt_tokens": 8, "completion_tokens": 32, "total_tokens": 40,
                   "prompt_tokens_details": {"cached_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 12}})
        );
        assert_eq!(evs[5], "[DONE]");
        let usage = usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 32));
        // Without include_usage: no usage chunk, but the usage is still known.
        let (out, usage) = run(false, &[STREAM.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 5);
        assert!(evs.iter().all(|e| e.get("usage").is_none()));
        assert_eq!(usage.unwrap().completion_tokens, 32);
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        let bytes = STREAM.as_bytes();
        // Whole, split in two at every byte, and byte by byte: same bytes, same usage.
        let (whole, usage) = crate::test_support::assert_split_invariant(
            || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
            bytes,
        );
        assert_eq!(whole, run(true, &[bytes]).0);
        assert_eq!(usage.unwrap().completion_tokens, 32);
    }

    #[test]
    fn tool_call_stream() {
        let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_current_weather\",\"args\": {\"location\": \"Boston, MA\"}},\"thoughtSignature\": \"c2lnMQ==\"},{\"functionCall\": {\"name\": \"get_time\",\"args\": {}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 70,\"candidatesTokenCount\": 25,\"totalTokenCount\": 95},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"T1\"}\r\n\r\n";
        let (out, _) = run(false, &[stream.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 4, "{evs:#?}");
        assert_eq!(
            evs[0]["choices"][0]["delta"],
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_T1_0__thought__c2lnMQ==", "type": "function",
                    "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Boston, MA\"}"}}]})
        );
        assert_eq!(
            evs[1]["choices"][0]["delta"]["tool_calls"][0],
            json!({"index": 1, "id": "call_T1_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}})
        );
        assert_eq!(evs[2]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(evs[3], "[DONE]");
        // The streamed id carries the signature back on the next request.
        let id = evs[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
            .as_str()
            .unwrap();
        assert_eq!(split_tool_call_id(id), ("call_T1_0", Some("c2lnMQ==")));
    }

    #[test]
    fn cut_short_stream_ends_with_error() {
        let first_event_end = STREAM.find("\r\n\r\n").unwrap() + 4;
        let (out, usage) = run(true, &[&STREAM.as_bytes()[..first_event_end]]);
        let evs = events(&out);
        assert_eq!(
            evs[0]["choices"][0]["delta"]["reasoning_content"],
            "Thinking about skies"
        );
        let err = &evs[evs.len() - 2]["error"];
        assert_eq!(err["code"], "502");
        assert!(err["message"].as_str().unwrap().contains("ended early"));
        assert_eq!(evs[evs.len() - 1], "[DONE]");
        assert_eq!(usage.unwrap().prompt_tokens, 8);
        // Cut mid-event.
        let (out, _) = run(false, &[&STREAM.as_bytes()[..first_event_end + 10]]);
        assert!(String::from_utf8(out).unwrap().contains("mid-event"));
        // Nothing at all.
        let evs = events(&run(false, &[]).0);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["code"], "502");
    }

    #[test]
    fn error_and_garbage_events_end_the_stream() {
        let stream = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\ndata: {\"error\": {\"code\": 503,\"message\": \"The model is overloaded. Please try again later.\",\"status\": \"UNAVAILABLE\"}}\r\n\r\ndata: {\"candidates\": []}\r\n\r\n";
        let evs = events(&run(false, &[stream.as_bytes()]).0);
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[1]["error"]["code"], "503");
        assert_eq!(evs[1]["error"]["type"], "service_unavailable_error");
        assert_eq!(evs[2], "[DONE]");
        let evs = events(&run(false, &[b"data: {oops\n\n"]).0);
        assert_eq!(evs[0]["error"]["code"], "502");
    }

    #[test]
    fn blocked_prompt_stream_is_content_filter() {
        let stream = "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"},\"usageMetadata\": {\"promptTokenCount\": 5,\"totalTokenCount\": 5},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";
        let evs = events(&run(true, &[stream.as_bytes()]).0);
        assert_eq!(evs[0]["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(evs[1]["usage"]["prompt_tokens"], 5);
        assert_eq!(evs[2], "[DONE]");
    }
}
