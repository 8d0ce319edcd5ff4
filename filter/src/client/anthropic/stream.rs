//! OpenAI SSE → Anthropic's stream event sequence, event by event as chunks
//! arrive ([`StreamToMessages`]), and [`Chain`], a provider's translator followed
//! by it.

use serde::Deserialize;
use serde_json::{json, Value};

use super::response::{stop_reason, OpenAiUsage};
use super::*;
use crate::codec::sse::SseDecoder;
use crate::cost::Usage;
use crate::error::GatewayError;
use crate::providers::StreamTranslate;
use crate::request::CowStr;

/// One OpenAI stream chunk, as far as it is read here.
#[derive(Deserialize)]
struct ChunkIn<'a> {
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    model: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    choices: Vec<ChoiceIn<'a>>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceIn<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<DeltaIn<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<CowStr<'a>>,
    /// vLLM: the stop string that ended the answer (or a token id).
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaIn<'a> {
    #[serde(default, borrow)]
    content: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    tool_calls: Vec<ToolDeltaIn<'a>>,
}

#[derive(Deserialize)]
struct ToolDeltaIn<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionDeltaIn<'a>>,
}

#[derive(Deserialize)]
struct FunctionDeltaIn<'a> {
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    arguments: Option<CowStr<'a>>,
}

fn text<'s>(v: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    v.as_ref().map(CowStr::as_str).filter(|s| !s.is_empty())
}

/// The kind of the Anthropic content block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call: OpenAI's `tool_calls[].index`.
    Tool(u64),
}

/// Writes one Anthropic event: `event: <type>` and its `data:` line.
fn write_event(out: &mut Vec<u8>, value: &Value) {
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    let data_start = out.len();
    crate::wire::openai::write_data(out, value);
    if out.len() == data_start {
        out.truncate(start); // not serializable: no half event
    }
}

/// A tool call held for its own block at the end of the answer.
#[derive(Debug, Default)]
struct PendingTool {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// Everything but the decoder (events are borrowed from it while this changes).
#[derive(Debug, Default)]
struct StreamState {
    ctx: MessagesContext,
    started: bool,
    pinged: bool,
    /// The open block: its kind and Anthropic index.
    open: Option<(Open, u64)>,
    /// Blocks opened so far (the next block's index).
    blocks: u64,
    /// OpenAI tool-call index → Anthropic block index.
    tools: Vec<(u64, u64)>,
    /// Tool calls after the first, held until the answer finishes: OpenAI may send
    /// a call's arguments after the next call began, while an Anthropic block must
    /// be whole before the next one starts.
    pending: Vec<PendingTool>,
    finish: Option<(&'static str, Option<String>)>,
    matched_stop: Option<String>,
    usage: Option<OpenAiUsage>,
    done: bool,
}

/// OpenAI chat-completion SSE → Anthropic Messages SSE (see the module docs).
#[derive(Debug)]
pub struct StreamToMessages {
    decoder: SseDecoder,
    state: StreamState,
}

impl StreamToMessages {
    /// A translator for one answer.
    pub fn new(ctx: MessagesContext) -> Self {
        StreamToMessages {
            decoder: SseDecoder::new(),
            state: StreamState {
                ctx,
                ..StreamState::default()
            },
        }
    }
}

impl StreamTranslate for StreamToMessages {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.state.done {
            return;
        }
        let state = &mut self.state;
        let fed = self.decoder.feed(chunk, |data| {
            state.handle(data, out);
            !state.done
        });
        if let Err(e) = fed {
            state.fail(
                &GatewayError::new(502, format!("provider stream: {e}")),
                out,
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.decoder.finish();
        if self.state.done {
            return;
        }
        if self.state.finish.is_some() {
            // Finished but never said `[DONE]`: the answer is whole.
            self.state.end(out);
        } else {
            self.state.fail(
                &GatewayError::new(
                    502,
                    "The provider's stream ended before the answer was finished.",
                ),
                out,
            );
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage.as_ref().map(OpenAiUsage::to_cost)
    }
}

impl StreamState {
    fn fail(&mut self, err: &GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error_event(err));
        self.done = true;
    }

    fn start(&mut self, id: Option<&str>, model: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = id.unwrap_or(&self.ctx.id).to_string();
        if let Some(model) = model {
            self.ctx.model = model.to_string();
        }
        write_event(
            out,
            &json!({
                "type": "message_start",
                "message": {
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.ctx.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    // OpenAI streams count tokens only at the end (message_delta).
                    "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
                },
            }),
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write_event(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// Makes a block of `kind` the open one (closing another), announced with
    /// `block`; returns its index.
    fn open(&mut self, kind: Open, block: Value, out: &mut Vec<u8>) -> u64 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((kind, index));
        write_event(
            out,
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        if !self.pinged {
            self.pinged = true;
            write_event(out, &json!({"type": "ping"}));
        }
        index
    }

    fn delta(out: &mut Vec<u8>, index: u64, delta: Value) {
        write_event(
            out,
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        if data.trim() == "[DONE]" {
            self.end(out);
            return;
        }
        let chunk: ChunkIn<'_> = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                self.fail(
                    &GatewayError::new(
                        502,
                        format!("The provider sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            let status = err
                .get("code")
                .and_then(|c| {
                    c.as_str()
                        .and_then(|s| s.parse().ok())
                        .or_else(|| c.as_u64().and_then(|n| u16::try_from(n).ok()))
                })
                .filter(|s| (400..600).contains(s))
                .unwrap_or(500);
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| err.as_str())
                .unwrap_or("The provider's stream reported an error.");
            self.fail(&GatewayError::new(status, message), out);
            return;
        }
        self.start(text(&chunk.id), text(&chunk.model), out);
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(delta) = &choice.delta {
                if let Some(r) = text(&delta.reasoning_content).or_else(|| text(&delta.reasoning)) {
                    let index = self.open(
                        Open::Thinking,
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                        out,
                    );
                    Self::delta(out, index, json!({"type": "thinking_delta", "thinking": r}));
                }
                if let Some(t) = text(&delta.content) {
                    let index = self.open(Open::Text, json!({"type": "text", "text": ""}), out);
                    Self::delta(out, index, json!({"type": "text_delta", "text": t}));
                }
                for call in &delta.tool_calls {
                    self.tool_delta(call, out);
                }
            }
            if let Some(Value::String(s)) = &choice.stop_reason {
                self.matched_stop = Some(s.clone());
            }
            if let Some(reason) = text(&choice.finish_reason) {
                self.close(out);
                self.flush_pending(out);
                let has_tools = !self.tools.is_empty();
                let (r, s) = stop_reason(
                    Some(reason),
                    self.matched_stop.as_deref(),
                    has_tools,
                    &self.ctx,
                );
                self.finish = Some((r, s));
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
    }

    fn tool_delta(&mut self, call: &ToolDeltaIn<'_>, out: &mut Vec<u8>) {
        let function = call.function.as_ref();
        let name = function.and_then(|f| text(&f.name));
        let arguments = function.and_then(|f| text(&f.arguments));
        if let Some(held) = self.pending.iter_mut().find(|p| p.index == call.index) {
            held.arguments.push_str(arguments.unwrap_or_default());
            return;
        }
        let first_call = self.tools.is_empty();
        let live = self.tools.iter().any(|(i, _)| *i == call.index);
        if !first_call && !live {
            // A second (third, …) call: its block is written whole at the end, so
            // a late piece of an earlier call's arguments still lands in its block.
            self.pending.push(PendingTool {
                index: call.index,
                id: text(&call.id).unwrap_or_default().to_string(),
                name: name.unwrap_or_default().to_string(),
                arguments: arguments.unwrap_or_default().to_string(),
            });
            return;
        }
        let known = self
            .tools
            .iter()
            .find(|(i, _)| *i == call.index)
            .map(|(_, b)| *b);
        let index = match known {
            Some(index) => index,
            None => {
                // A new call (one that names itself, or arguments for a call never
                // announced): a new tool_use block.
                let block = json!({
                    "type": "tool_use",
                    "id": text(&call.id).unwrap_or_default(),
                    "name": name.unwrap_or_default(),
                    "input": {},
                });
                let index = self.open(Open::Tool(call.index), block, out);
                self.tools.push((call.index, index));
                index
            }
        };
        if let Some(args) = function.and_then(|f| text(&f.arguments)) {
            Self::delta(
                out,
                index,
                json!({"type": "input_json_delta", "partial_json": args}),
            );
        }
    }

    /// Writes the held tool calls, each a whole `tool_use` block, in the order
    /// they began.
    fn flush_pending(&mut self, out: &mut Vec<u8>) {
        for held in std::mem::take(&mut self.pending) {
            let block = json!({"type": "tool_use", "id": held.id, "name": held.name, "input": {}});
            let index = self.open(Open::Tool(held.index), block, out);
            self.tools.push((held.index, index));
            if !held.arguments.is_empty() {
                Self::delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": held.arguments}),
                );
            }
            self.close(out);
        }
    }

    /// `message_delta` and `message_stop`, once.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(None, None, out);
        self.close(out);
        self.flush_pending(out);
        let (reason, sequence) = self.finish.take().unwrap_or(("end_turn", None));
        let usage = self
            .usage
            .as_ref()
            .map(OpenAiUsage::to_anthropic)
            .unwrap_or_else(|| OpenAiUsage::default().to_anthropic());
        write_event(
            out,
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": usage,
            }),
        );
        write_event(out, &json!({"type": "message_stop"}));
        self.done = true;
    }
}

/// A provider's own stream translator followed by [`StreamToMessages`]: provider
/// native → OpenAI SSE → Anthropic SSE, chunk by chunk.
pub struct Chain {
    inner: Box<dyn StreamTranslate>,
    outer: StreamToMessages,
    buf: Vec<u8>,
}

impl Chain {
    /// `inner` must emit OpenAI SSE with the usage chunk (build it with
    /// `include_usage` set).
    pub fn new(inner: Box<dyn StreamTranslate>, ctx: MessagesContext) -> Self {
        Chain {
            inner,
            outer: StreamToMessages::new(ctx),
            buf: Vec::new(),
        }
    }
}

impl StreamTranslate for Chain {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.buf.clear();
        self.inner.push(chunk, &mut self.buf);
        self.outer.push(&self.buf, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.buf.clear();
        self.inner.finish(&mut self.buf);
        self.outer.push(&self.buf, out);
        self.outer.finish(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().or_else(|| self.outer.usage())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::anthropic::test_helpers::*;
    use crate::test_support::{assert_split_invariant, run_stream};

    use serde_json::{json, Value};

    use crate::cost::Usage;
    use crate::providers::StreamTranslate;

    // -- streams ------------------------------------------------------------

    /// An OpenAI stream (gpt-4o shape, `include_usage` set): text, then two
    /// parallel tool calls whose first argument pieces arrive with their names,
    /// then the finish chunk and the usage chunk.
    const OPENAI_STREAM: &str = concat!(
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Let me think\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo \"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"wörld\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":12,\"total_tokens\":62,\"prompt_tokens_details\":{\"cached_tokens\":10}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Option<Usage>) {
        run_stream(StreamToMessages::new(ctx()), chunks)
    }

    /// (event name, data) of each event.
    fn events(out: &[u8]) -> Vec<(String, Value)> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_string();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], name.as_str(), "event name = data type");
                (name, data)
            })
            .collect()
    }

    #[test]
    fn stream_has_anthropics_event_sequence() {
        let (out, usage) = run(&[OPENAI_STREAM.as_bytes()]);
        let evs = events(&out);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(
            evs[0].1["message"],
            json!({"id": "chatcmpl-9", "type": "message", "role": "assistant", "model": "gpt-4o", "content": [],
                   "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}})
        );
        assert_eq!(
            evs[1].1,
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
        );
        assert_eq!(
            evs[3].1,
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}})
        );
        assert_eq!(
            evs[5].1["content_block"],
            json!({"type": "text", "text": ""})
        );
        assert_eq!(
            evs[6].1["delta"],
            json!({"type": "text_delta", "text": "Héllo "})
        );
        assert_eq!(
            evs[9].1,
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}})
        );
        let args: String = [&evs[10].1, &evs[11].1]
            .iter()
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        assert_eq!(evs[13].1["content_block"]["name"], "get_time");
        assert_eq!(
            evs[14].1,
            json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}})
        );
        assert_eq!(
            evs[16].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10, "output_tokens": 12}})
        );
        let u = usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
            (50, 12, 10)
        );
    }

    /// OpenAI may send a call's arguments after the next call began; each
    /// Anthropic block must still be whole before the next starts.
    #[test]
    fn interleaved_tool_call_arguments_stay_in_their_blocks() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"b\",\"arguments\":\"{\\\"y\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}},{\"index\":1,\"function\":{\"arguments\":\"2}\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let (out, _) = run(&[stream.as_bytes()]);
        let evs = events(&out);
        // Per block: start, deltas, stop — no event for a block after its stop.
        let mut stopped: Vec<u64> = Vec::new();
        let mut args: std::collections::BTreeMap<u64, String> = Default::default();
        let mut names: Vec<String> = Vec::new();
        for (name, data) in &evs {
            let Some(index) = data["index"].as_u64() else {
                continue;
            };
            assert!(
                !stopped.contains(&index),
                "{name} for block {index} after its stop: {evs:?}"
            );
            match name.as_str() {
                "content_block_start" => {
                    assert!(
                        stopped.len() as u64 == index,
                        "block {index} opened before the last closed"
                    );
                    names.push(data["content_block"]["name"].as_str().unwrap().to_string());
                }
                "content_block_delta" => args
                    .entry(index)
                    .or_default()
                    .push_str(data["delta"]["partial_json"].as_str().unwrap()),
                "content_block_stop" => stopped.push(index),
                _ => {}
            }
        }
        assert_eq!(names, ["a", "b"]);
        assert_eq!(args[&0], "{\"x\":1}");
        assert_eq!(args[&1], "{\"y\":2}");
        assert_eq!(evs.last().unwrap().0, "message_stop");
        let stop = evs.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        // At every split point and byte by byte, too.
        assert_split_invariant(|| StreamToMessages::new(ctx()), OPENAI_STREAM.as_bytes());
    }

    #[test]
    fn events_are_written_as_soon_as_complete() {
        let first_two: String = OPENAI_STREAM.split_inclusive("\n\n").take(3).collect();
        let mut t = StreamToMessages::new(ctx());
        let mut out = Vec::new();
        t.push(first_two.as_bytes(), &mut out);
        let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta"
            ]
        );
    }

    #[test]
    fn stop_sequence_and_length_in_streams() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        let evs = events(&run(&[stream.as_bytes()]).0);
        let delta = &evs.iter().find(|(n, _)| n == "message_delta").unwrap().1;
        assert_eq!(
            delta["delta"],
            json!({"stop_reason": "stop_sequence", "stop_sequence": "END"})
        );
        let stream = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"length\"}]}\n\n";
        // No [DONE]: the finish reason makes the answer whole at the end.
        let evs = events(&run(&[stream.as_bytes()]).0);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(evs[5].1["delta"]["stop_reason"], "max_tokens");
    }

    #[test]
    fn errors_and_cut_streams_end_with_an_error_event() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"service_unavailable_error\",\"param\":null,\"code\":\"503\"}}\n\n",
            "data: [DONE]\n\n"
        );
        let evs = events(&run(&[stream.as_bytes()]).0);
        let (name, last) = evs.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(
            last["error"],
            json!({"type": "overloaded_error", "message": "Overloaded"})
        );
        assert!(!evs.iter().any(|(n, _)| n == "message_stop"));

        let cut = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"id\"";
        let evs = events(&run(&[cut.as_bytes()]).0);
        assert_eq!(evs.last().unwrap().1["error"]["type"], "api_error");

        let evs = events(&run(&[b"data: not json\n\n"]).0);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].0, "error");
        // An empty stream still ends in an error, never silence.
        assert_eq!(events(&run(&[]).0)[0].0, "error");
    }

    #[test]
    fn chain_runs_a_provider_translator_first() {
        // The OpenAI usage tap with the usage chunk kept, as the upstream stage
        // builds it for Anthropic-format clients.
        let inner = Box::new(crate::providers::openai::UsageTap::new(false));
        let mut chain = Chain::new(inner, ctx());
        let mut out = Vec::new();
        for piece in OPENAI_STREAM.as_bytes().chunks(7) {
            chain.push(piece, &mut out);
        }
        chain.finish(&mut out);
        assert_eq!(out, run(&[OPENAI_STREAM.as_bytes()]).0);
        assert_eq!(chain.usage().unwrap().prompt_tokens, 50);
    }
}
