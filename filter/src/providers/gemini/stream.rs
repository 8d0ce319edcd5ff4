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
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
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
