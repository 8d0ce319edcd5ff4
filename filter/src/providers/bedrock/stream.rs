//! `ConverseStream` (AWS event stream) → OpenAI `chat.completion.chunk` (or
//! `text_completion`) SSE.

use serde::Deserialize;

use super::error::bedrock_error;
use super::response::UsageIn;
use super::{finish_reason, response_id, status_for_exception};
use crate::codec::eventstream::{EventStreamDecoder, Message};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::chunk_writer::ChunkWriter;
use crate::providers::{ResponseContext, StreamTranslate};
use crate::request::CowStr;
use crate::wire::anthropic::opt_str;
use crate::wire::openai::{ThinkingDelta, DONE};

/// One `ConverseStream` event payload; every field any event type uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventIn<'a> {
    #[serde(default)]
    content_block_index: Option<u64>,
    #[serde(default, borrow)]
    start: Option<StartIn<'a>>,
    #[serde(default, borrow)]
    delta: Option<DeltaIn<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<CowStr<'a>>,
    #[serde(default)]
    usage: Option<UsageIn>,
    #[serde(default, borrow)]
    message: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartIn<'a> {
    #[serde(default, borrow)]
    tool_use: Option<ToolStartIn<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolStartIn<'a> {
    #[serde(default, borrow)]
    tool_use_id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaIn<'a> {
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    tool_use: Option<ToolDeltaIn<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<ReasoningDeltaIn<'a>>,
}

#[derive(Debug, Deserialize)]
struct ToolDeltaIn<'a> {
    #[serde(default, borrow)]
    input: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDeltaIn<'a> {
    #[serde(default, borrow)]
    text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    signature: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    redacted_content: Option<CowStr<'a>>,
}

/// Everything but the decoder, so messages borrowed from it can be handled while
/// this changes.
#[derive(Debug)]
struct StreamState {
    include_usage: bool,
    chunks: ChunkWriter,
    /// `messageStop` has been seen (the answer is complete but for its usage).
    stopped: bool,
    /// `[DONE]` has been written; later input is ignored.
    done: bool,
    usage: Option<UsageIn>,
}

/// `ConverseStream` (AWS event stream) → OpenAI `chat.completion.chunk` (or
/// `text_completion`) SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: EventStreamDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one answer; `request_id` is Bedrock's `x-amzn-requestid`.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext, request_id: Option<&str>) -> Self {
        let id = response_id(request_id, ctx.created);
        StreamTranslator {
            decoder: EventStreamDecoder::new(),
            state: StreamState {
                include_usage: ctx.include_usage,
                chunks: ChunkWriter::new(endpoint, ctx.created, id, ctx.model),
                stopped: false,
                done: false,
                usage: None,
            },
        }
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        self.decoder.push(chunk);
        loop {
            match self.decoder.next_message() {
                Ok(Some(message)) => {
                    self.state.handle(&message, out);
                    if self.state.done {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.state.fail(
                        GatewayError::new(502, format!("Bedrock event stream: {e}")),
                        out,
                    );
                    return;
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let tail = self.decoder.finish();
        if self.state.done {
            return;
        }
        if self.state.stopped && tail.is_ok() {
            // Complete but for the metadata event: end without usage.
            out.extend_from_slice(DONE);
            self.state.done = true;
            return;
        }
        let message = match tail {
            Err(e) => format!("The Bedrock stream ended early, before messageStop ({e})."),
            Ok(()) => "The Bedrock stream ended early, before messageStop.".to_string(),
        };
        self.state.fail(GatewayError::new(502, message), out);
    }

    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.map(UsageIn::to_cost)
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn handle(&mut self, message: &Message<'_>, out: &mut Vec<u8>) {
        match message.message_type() {
            Some("event") | None => {}
            Some("exception") => {
                let name = message
                    .exception_type()
                    .unwrap_or("internalServerException");
                let text = serde_json::from_slice::<EventIn<'_>>(message.payload)
                    .ok()
                    .and_then(|e| opt_str(&e.message).map(str::to_string))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("Bedrock stream exception: {name}"));
                let status = status_for_exception(name, 500);
                self.fail(bedrock_error(status, text), out);
                return;
            }
            Some(_) => {
                // `error` messages: `:error-code` and `:error-message` headers.
                let code = message.error_code().unwrap_or("InternalFailure");
                let text = message
                    .error_message()
                    .filter(|m| !m.is_empty())
                    .map_or_else(|| format!("Bedrock stream error: {code}"), str::to_string);
                self.fail(bedrock_error(status_for_exception(code, 500), text), out);
                return;
            }
        }
        let event_type = message.event_type().unwrap_or_default();
        let event: EventIn<'_> = match serde_json::from_slice(message.payload) {
            Ok(e) => e,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Bedrock sent a `{event_type}` event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        let index = event.content_block_index.unwrap_or(0);
        match event_type {
            "messageStart" => self.chunks.start(out),
            "contentBlockStart" => {
                // Only tool blocks are announced; text and reasoning start with a delta.
                if let Some(tool) = event.start.as_ref().and_then(|s| s.tool_use.as_ref()) {
                    self.chunks.tool_start(
                        index,
                        opt_str(&tool.tool_use_id).unwrap_or_default(),
                        opt_str(&tool.name).unwrap_or_default(),
                        out,
                    );
                }
            }
            "contentBlockDelta" => {
                if let Some(delta) = &event.delta {
                    self.block_delta(index, delta, out);
                }
            }
            "contentBlockStop" => self.chunks.block_stop(index, out),
            "messageStop" if !self.stopped => {
                self.stopped = true;
                let finish = finish_reason(opt_str(&event.stop_reason));
                self.chunks.finish(finish, out);
            }
            "metadata" => {
                if let Some(usage) = event.usage {
                    self.usage = Some(usage);
                }
                if !self.stopped {
                    // Metadata closes the stream; a messageStop must come first.
                    return;
                }
                if self.include_usage {
                    self.chunks
                        .usage(self.usage.unwrap_or_default().to_openai(), out);
                }
                out.extend_from_slice(DONE);
                self.done = true;
            }
            // Event types Bedrock may add.
            _ => {}
        }
    }

    /// `contentBlockDelta`: text, a tool's input text, or reasoning (text, a
    /// signature or redacted content).
    fn block_delta(&mut self, index: u64, delta: &DeltaIn<'_>, out: &mut Vec<u8>) {
        if let Some(text) = opt_str(&delta.text).filter(|t| !t.is_empty()) {
            self.chunks.content(text, out);
        } else if let Some(input) = delta
            .tool_use
            .as_ref()
            .and_then(|t| opt_str(&t.input))
            .filter(|i| !i.is_empty())
        {
            self.chunks.tool_arguments(index, input, out);
        } else if let Some(r) = &delta.reasoning_content {
            if let Some(text) = opt_str(&r.text).filter(|t| !t.is_empty()) {
                self.chunks.reasoning(text, out);
            } else if let Some(sig) = opt_str(&r.signature) {
                let block = ThinkingDelta {
                    kind: "thinking",
                    thinking: Some(""),
                    signature: Some(sig),
                    data: None,
                };
                self.chunks.thinking_block(block, out);
            } else if let Some(data) = opt_str(&r.redacted_content) {
                let block = ThinkingDelta {
                    kind: "redacted_thinking",
                    thinking: None,
                    signature: None,
                    data: Some(data),
                };
                self.chunks.thinking_block(block, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::test_helpers::*;
    use crate::test_support::{assert_split_invariant, run_stream};
    use serde_json::Value;

    use crate::codec::eventstream::{encode, Header, HeaderValue};
    use serde_json::json;

    // ----- streams -----------------------------------------------------------

    fn event(kind: &str, payload: Value) -> Vec<u8> {
        encode(
            &[
                Header {
                    name: ":event-type",
                    value: HeaderValue::String(kind),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("event"),
                },
            ],
            payload.to_string().as_bytes(),
        )
    }

    fn exception(kind: &str, message: &str) -> Vec<u8> {
        encode(
            &[
                Header {
                    name: ":exception-type",
                    value: HeaderValue::String(kind),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("exception"),
                },
            ],
            json!({ "message": message }).to_string().as_bytes(),
        )
    }

    /// A ConverseStream answer in the order AWS documents (ConverseStreamOutput):
    /// messageStart, reasoning, text, a tool block, messageStop, metadata — with the
    /// `p` padding field real events carry.
    fn fixture() -> Vec<u8> {
        [
            event("messageStart", json!({"role": "assistant", "p": "abcd"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Thinking…"}}, "p": "ab"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}})),
            event("contentBlockStop", json!({"contentBlockIndex": 0})),
            event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "Hello "}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "wörld"}})),
            event("contentBlockStop", json!({"contentBlockIndex": 1})),
            event("contentBlockStart", json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_9", "name": "get_weather"}}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\":"}}})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "\"Paris\"}"}}})),
            event("contentBlockStop", json!({"contentBlockIndex": 2})),
            event("messageStop", json!({"stopReason": "tool_use"})),
            event("metadata", json!({"usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19, "cacheReadInputTokens": 2}, "metrics": {"latencyMs": 5}})),
        ]
        .concat()
    }

    fn translator(include_usage: bool) -> StreamTranslator {
        StreamTranslator::new(
            Endpoint::ChatCompletions,
            ctx(CLAUDE, include_usage),
            Some("rq"),
        )
    }

    fn run(chunks: &[&[u8]], include_usage: bool) -> (String, Option<crate::cost::Usage>) {
        let (out, usage) = run_stream(translator(include_usage), chunks);
        (String::from_utf8(out).unwrap(), usage)
    }

    fn events(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
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
    fn stream_translates_at_every_split() {
        let bytes = fixture();
        let (whole, usage) = assert_split_invariant(|| translator(true), &bytes);
        let whole = String::from_utf8(whole).unwrap();

        let ev = events(&whole);
        assert_eq!(
            ev[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert!(ev.iter().all(|e| e == "[DONE]"
            || (e["id"] == "chatcmpl-rq" && e["object"] == "chat.completion.chunk")));
        let reasoning: String = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["reasoning_content"].as_str())
            .collect();
        assert_eq!(reasoning, "Thinking…");
        assert!(ev
            .iter()
            .any(|e| e["choices"][0]["delta"]["thinking_blocks"][0]["signature"] == "c2ln"));
        let text: String = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello wörld");
        let calls: Vec<&Value> = ev
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        assert_eq!(
            calls[0],
            &json!({"index": 0, "id": "tooluse_9", "type": "function", "function": {"name": "get_weather", "arguments": ""}})
        );
        let args: String = calls
            .iter()
            .filter_map(|c| c["function"]["arguments"].as_str())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        let n = ev.len();
        assert_eq!(ev[n - 3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(ev[n - 2]["choices"], json!([]));
        assert_eq!(ev[n - 2]["usage"]["prompt_tokens"], 14);
        assert_eq!(
            ev[n - 2]["usage"]["prompt_tokens_details"]["cached_tokens"],
            2
        );
        assert_eq!(ev[n - 1], "[DONE]");
        let usage = usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cache_read_tokens
            ),
            (14, 7, 2)
        );

        // Without include_usage: no usage chunk, but the gateway still learns it.
        let (plain, usage) = run(&[&bytes], false);
        assert!(!plain.contains("\"usage\""), "{plain}");
        assert_eq!(usage.map(|u| u.completion_tokens), Some(7));
    }

    #[test]
    fn stream_errors_end_the_stream() {
        let start = event("messageStart", json!({"role": "assistant"}));
        let bytes = [
            start.clone(),
            exception(
                "throttlingException",
                "Too many tokens, please wait before trying again.",
            ),
        ]
        .concat();
        let (sse, _) = run(&[&bytes], true);
        let ev = events(&sse);
        assert_eq!(ev[1]["error"]["code"], "429");
        assert_eq!(
            ev[1]["error"]["message"],
            "Too many tokens, please wait before trying again."
        );
        assert_eq!(ev.last().unwrap(), "[DONE]");
        // A stream cut before messageStop: a 502 error event.
        let (sse, usage) = run(&[&start], true);
        assert!(
            sse.contains("\"code\":\"502\"") && sse.ends_with("data: [DONE]\n\n"),
            "{sse}"
        );
        assert!(usage.is_none());
        // A frame with a bad CRC.
        let mut bad = event("messageStart", json!({"role": "assistant"}));
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let (sse, _) = run(&[&bad], true);
        assert!(sse.contains("\"code\":\"502\""), "{sse}");
        // Complete but for the metadata: [DONE] without usage.
        let stop = event("messageStop", json!({"stopReason": "end_turn"}));
        let (sse, _) = run(&[&start, &stop], true);
        let ev = events(&sse);
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(ev.last().unwrap(), "[DONE]");
        assert!(!sse.contains("error"));
    }

    #[test]
    fn completion_streams_are_text_completions() {
        let bytes = [
            event("messageStart", json!({"role": "assistant"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
            ),
            event("messageStop", json!({"stopReason": "max_tokens"})),
            event(
                "metadata",
                json!({"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}),
            ),
        ]
        .concat();
        let mut t = StreamTranslator::new(Endpoint::Completions, ctx(CLAUDE, true), None);
        let mut out = Vec::new();
        t.push(&bytes, &mut out);
        t.finish(&mut out);
        let ev = events(&String::from_utf8(out).unwrap());
        assert_eq!(ev[0]["choices"][0]["text"], "Hi");
        assert_eq!(ev[0]["object"], "text_completion");
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(ev[2]["usage"]["total_tokens"], 2);
    }
}
