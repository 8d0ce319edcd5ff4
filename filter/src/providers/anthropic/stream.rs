//! Anthropic SSE → OpenAI `chat.completion.chunk` (or `text_completion`) SSE, one
//! chunk per meaningful event as soon as it is complete.

use super::error::{anthropic_error, status_for_error_type};
use super::JSON_TOOL;
use crate::codec::sse::SseDecoder;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::chunk_writer::ChunkWriter;
use crate::providers::{ResponseContext, StreamTranslate};
use crate::wire::anthropic::{finish_reason, opt_str, BlockStart, DeltaIn, StreamEvent, UsageIn};
use crate::wire::openai::DONE;

/// Everything but the decoder, so events borrowed from the decoder can be handled
/// while this is mutated.
#[derive(Debug)]
struct StreamState {
    include_usage: bool,
    chunks: ChunkWriter,
    finish_sent: bool,
    /// The terminator (`[DONE]`) has been written; later input is ignored.
    done: bool,
    /// Open blocks of the JSON-mode tool (by Anthropic index): their input is the
    /// answer's content.
    json_blocks: Vec<u64>,
    usage: UsageIn,
    /// The request asked for JSON through [`JSON_TOOL`]: that tool's input is
    /// streamed as content, and its `tool_use` stop is a plain `stop`.
    json_mode: bool,
}

/// Anthropic SSE → OpenAI `chat.completion.chunk` (or `text_completion`) SSE.
#[derive(Debug)]
pub struct StreamTranslator {
    decoder: SseDecoder,
    state: StreamState,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        StreamTranslator {
            decoder: SseDecoder::new(),
            state: StreamState {
                include_usage: ctx.include_usage,
                chunks: ChunkWriter::new(endpoint, ctx.created, String::new(), ctx.model),
                finish_sent: false,
                done: false,
                json_blocks: Vec::new(),
                usage: UsageIn::default(),
                json_mode: false,
            },
        }
    }

    /// A translator for the answer to a JSON-mode request ([`JSON_TOOL`]).
    pub fn json_mode(endpoint: Endpoint, ctx: ResponseContext) -> Self {
        let mut translator = StreamTranslator::new(endpoint, ctx);
        translator.state.json_mode = true;
        translator
    }
}

impl StreamTranslate for StreamTranslator {
    fn usage(&self) -> Option<crate::cost::Usage> {
        self.state.usage.to_cost()
    }

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
                GatewayError::new(502, format!("Anthropic stream: {e}")),
                out,
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = self.decoder.finish();
        if self.state.done {
            return;
        }
        let message = if partial {
            "The upstream Anthropic stream ended early, before message_stop (mid-event)."
        } else {
            "The upstream Anthropic stream ended early, before message_stop."
        };
        self.state.fail(GatewayError::new(502, message), out);
    }
}

impl StreamState {
    fn fail(&mut self, error: GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn handle(&mut self, data: &str, out: &mut Vec<u8>) {
        let event: StreamEvent<'_> = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => {
                self.fail(
                    GatewayError::new(
                        502,
                        format!("Anthropic sent a stream event that is not valid JSON: {e}"),
                    ),
                    out,
                );
                return;
            }
        };
        let index = event.index.unwrap_or(0);
        match event.kind.as_str() {
            "message_start" => self.message_start(&event, out),
            "content_block_start" => {
                if let Some(block) = &event.content_block {
                    self.block_start(index, block, out);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = &event.delta {
                    self.block_delta(index, delta, out);
                }
            }
            "content_block_stop" => {
                self.json_blocks.retain(|i| *i != index);
                self.chunks.block_stop(index, out);
            }
            "message_delta" => {
                if let Some(u) = &event.usage {
                    self.usage.merge(u);
                }
                if let Some(reason) = event.delta.as_ref().and_then(|d| opt_str(&d.stop_reason)) {
                    let finish = match finish_reason(Some(reason)) {
                        // Only the JSON tool was called: a plain answer.
                        "tool_calls" if self.json_mode && self.chunks.tool_calls() == 0 => "stop",
                        finish => finish,
                    };
                    self.finish_chunk(finish, out);
                }
            }
            "message_stop" => {
                if !self.finish_sent {
                    self.finish_chunk("stop", out);
                }
                if self.include_usage {
                    self.chunks.usage(self.usage.to_openai(), out);
                }
                out.extend_from_slice(DONE);
                self.done = true;
            }
            "error" => {
                let (kind, message) = match &event.error {
                    Some(e) => (opt_str(&e.kind), opt_str(&e.message)),
                    None => (None, None),
                };
                let status = kind.and_then(status_for_error_type).unwrap_or(500);
                let message = message.filter(|m| !m.is_empty()).map_or_else(
                    || "The upstream Anthropic stream reported an error.".to_string(),
                    str::to_string,
                );
                self.fail(anthropic_error(status, kind, message), out);
            }
            // ping, and event types Anthropic may add.
            _ => {}
        }
    }

    /// `message_start`: the answer's id, model and first usage; the role chunk.
    fn message_start(&mut self, event: &StreamEvent<'_>, out: &mut Vec<u8>) {
        if let Some(m) = &event.message {
            if let Some(id) = opt_str(&m.id) {
                self.chunks.id.clear();
                self.chunks.id.push_str(id);
            }
            if let Some(model) = opt_str(&m.model).filter(|m| !m.is_empty()) {
                self.chunks.model.clear();
                self.chunks.model.push_str(model);
            }
            if let Some(u) = &m.usage {
                self.usage.merge(u);
            }
        }
        self.chunks.start(out);
    }

    /// `content_block_start`: text and thinking may come with their first text; a
    /// tool call is announced (the JSON-mode tool is not: its input is content).
    fn block_start(&mut self, index: u64, block: &BlockStart<'_>, out: &mut Vec<u8>) {
        self.json_blocks.retain(|i| *i != index);
        match block.kind.as_str() {
            "tool_use" if self.json_mode && opt_str(&block.name) == Some(JSON_TOOL) => {
                self.chunks.block_start(index);
                self.json_blocks.push(index);
            }
            "tool_use" => self.chunks.tool_start(
                index,
                opt_str(&block.id).unwrap_or_default(),
                opt_str(&block.name).unwrap_or_default(),
                out,
            ),
            kind => {
                self.chunks.block_start(index);
                match kind {
                    "text" => {
                        if let Some(t) = opt_str(&block.text).filter(|t| !t.is_empty()) {
                            self.chunks.content(t, out);
                        }
                    }
                    "thinking" => {
                        if let Some(t) = opt_str(&block.thinking).filter(|t| !t.is_empty()) {
                            self.chunks.reasoning(t, out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// `content_block_delta`: text, thinking, or a tool's argument text.
    fn block_delta(&mut self, index: u64, delta: &DeltaIn<'_>, out: &mut Vec<u8>) {
        match opt_str(&delta.kind) {
            Some("text_delta") => {
                if let Some(t) = opt_str(&delta.text).filter(|t| !t.is_empty()) {
                    self.chunks.content(t, out);
                }
            }
            Some("thinking_delta") => {
                if let Some(t) = opt_str(&delta.thinking).filter(|t| !t.is_empty()) {
                    self.chunks.reasoning(t, out);
                }
            }
            Some("input_json_delta") => {
                let Some(args) = opt_str(&delta.partial_json).filter(|a| !a.is_empty()) else {
                    return;
                };
                if self.json_blocks.contains(&index) {
                    self.chunks.content(args, out);
                } else {
                    self.chunks.tool_arguments(index, args, out);
                }
            }
            // signature_delta, citations_delta, future delta types.
            _ => {}
        }
    }

    fn finish_chunk(&mut self, reason: &str, out: &mut Vec<u8>) {
        self.finish_sent = true;
        self.chunks.finish(reason, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::anthropic::test_helpers::*;
    use crate::providers::anthropic::*;
    use crate::test_support::{assert_split_invariant, run_stream};
    use serde_json::json;

    // ----- streams --------------------------------------------------------

    /// The API reference's streaming example with a tool call (text block, ping,
    /// tool_use block with input_json_delta pieces).
    const TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-6\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", let me check the weather for San Francisco, CA:\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\", \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"unit\\\": \\\"fahrenheit\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    /// The extended-thinking streaming example shape (thinking, signature, text).
    const THINKING_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_01DXKdEbK3ir8FFfmF2P4Xxe\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-sonnet-4-5\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 20, \"cache_creation_input_tokens\": 0, \"cache_read_input_tokens\": 10, \"output_tokens\": 1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"thinking\", \"thinking\": \"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"thinking_delta\", \"thinking\": \"Let me solve this step by step:\\n\\n1. First break down 27 * 453\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"signature_delta\", \"signature\": \"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\": \"content_block_stop\", \"index\": 0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\": \"content_block_start\", \"index\": 1, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\": \"content_block_delta\", \"index\": 1, \"delta\": {\"type\": \"text_delta\", \"text\": \"27 * 453 = 12,231 \u{2014} \u{1F9EE}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\": \"content_block_stop\", \"index\": 1}\n\n",
        "event: message_delta\n",
        "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\": null}, \"usage\": {\"output_tokens\": 30}}\n\n",
        "event: message_stop\n",
        "data: {\"type\": \"message_stop\"}\n\n",
    );

    /// Found by the fuzz target `stream_translate` (numbers moved next to
    /// u64::MAX): the stream's prompt-token sum overflowed — a panic in debug builds,
    /// a wrapped count (and a wrong cost) in the shipped filter.
    #[test]
    fn stream_usage_near_u64_max_saturates() {
        let stream = "\ndata:{\"type\": \"message_start\", \"message\": {\"i\":null, \"usage\": {\"input_tokens\":18446744073709551615, \"cache_creation_input_tokens\":18446744073709551614}}}\n\n";
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(true));
        let mut out = Vec::new();
        t.push(stream.as_bytes(), &mut out);
        t.finish(&mut out);
        let usage = t.usage().unwrap();
        assert_eq!(usage.prompt_tokens, u64::MAX);
        assert_eq!(usage.cache_creation_tokens, u64::MAX - 1);
    }

    fn run(endpoint: Endpoint, include_usage: bool, chunks: &[&[u8]]) -> Vec<u8> {
        run_stream(StreamTranslator::new(endpoint, ctx(include_usage)), chunks).0
    }

    /// The `data:` payloads of an OpenAI SSE body (`[DONE]` as a string).
    fn events(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {e:?}"));
                assert!(!data.contains('\n'));
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    fn deltas(evs: &[Value]) -> Vec<Value> {
        evs.iter()
            .filter_map(|e| {
                e.get("choices")
                    .and_then(|c| c.get(0))
                    .map(|c| c["delta"].clone())
            })
            .collect()
    }

    #[test]
    fn tool_stream_translates_to_chunks() {
        let out = run(Endpoint::ChatCompletions, true, &[TOOL_STREAM.as_bytes()]);
        let evs = events(&out);
        for e in &evs[..evs.len() - 1] {
            assert_eq!(e["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["created"], 1_700_000_000);
            assert_eq!(e["model"], "claude-opus-4-6");
        }
        assert_eq!(
            deltas(&evs),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"content": "Okay"}),
                json!({"content": ", let me check the weather for San Francisco, CA:"}),
                json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\", "}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"unit\": \"fahrenheit\"}"}}]}),
                json!({}),
            ]
        );
        let finishes: Vec<&Value> = evs
            .iter()
            .filter_map(|e| e["choices"].get(0))
            .map(|c| &c["finish_reason"])
            .collect();
        assert!(finishes[..finishes.len() - 1].iter().all(|f| f.is_null()));
        assert_eq!(*finishes.last().unwrap(), "tool_calls");
        // Final usage chunk, then [DONE].
        let usage = &evs[evs.len() - 2];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["prompt_tokens"], 472);
        assert_eq!(usage["usage"]["completion_tokens"], 89);
        assert_eq!(usage["usage"]["total_tokens"], 561);
        assert_eq!(evs.last().unwrap(), "[DONE]");
        // The arguments join into the tool input.
        let args: String = deltas(&evs)
            .iter()
            .filter_map(|d| {
                d.get("tool_calls")
                    .map(|t| t[0]["function"]["arguments"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
        );
    }

    /// A JSON-mode answer: the forced tool's input streams as content.
    const JSON_TOOL_STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_j\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_j\",\"name\":\"json_tool_call\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Z\u{fc}rich\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn json_mode_stream_gives_content_at_every_split() {
        let mut whole: Option<Vec<u8>> = None;
        for split in 0..=JSON_TOOL_STREAM.len() {
            let (a, b) = JSON_TOOL_STREAM.as_bytes().split_at(split);
            let mut t = StreamTranslator::json_mode(Endpoint::ChatCompletions, ctx(true));
            let mut out = Vec::new();
            t.push(a, &mut out);
            t.push(b, &mut out);
            t.finish(&mut out);
            match &whole {
                None => whole = Some(out),
                Some(w) => assert_eq!(&out, w, "split at {split}"),
            }
        }
        let evs = events(whole.as_deref().unwrap());
        let content: String = deltas(&evs)
            .iter()
            .filter_map(|d| d["content"].as_str().map(str::to_string))
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&content).unwrap(),
            json!({"city": "Z\u{fc}rich"})
        );
        assert!(deltas(&evs).iter().all(|d| d.get("tool_calls").is_none()));
        let finish: Vec<&Value> = evs
            .iter()
            .filter_map(|e| {
                e.get("choices")
                    .and_then(|c| c.get(0))
                    .map(|c| &c["finish_reason"])
            })
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finish, [&json!("stop")]);
        // Without JSON mode the same stream is a tool call.
        let plain = run(
            Endpoint::ChatCompletions,
            false,
            &[JSON_TOOL_STREAM.as_bytes()],
        );
        assert!(String::from_utf8(plain)
            .unwrap()
            .contains("\"finish_reason\":\"tool_calls\""));
    }

    #[test]
    fn every_split_point_gives_identical_output() {
        for stream in [TOOL_STREAM, THINKING_STREAM] {
            assert_split_invariant(
                || StreamTranslator::new(Endpoint::ChatCompletions, ctx(true)),
                stream.as_bytes(),
            );
        }
    }

    #[test]
    fn crlf_and_cr_streams_give_identical_output() {
        let whole = run(Endpoint::ChatCompletions, false, &[TOOL_STREAM.as_bytes()]);
        for ending in ["\r\n", "\r"] {
            let text = TOOL_STREAM.replace('\n', ending);
            let bytes = text.as_bytes();
            for cut in (0..=bytes.len()).step_by(3) {
                let split = run(
                    Endpoint::ChatCompletions,
                    false,
                    &[&bytes[..cut], &bytes[cut..]],
                );
                assert_eq!(split, whole, "{ending:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn events_are_translated_as_soon_as_complete() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        let first_event_end = TOOL_STREAM.find("\n\n").unwrap() + 2;
        t.push(&TOOL_STREAM.as_bytes()[..first_event_end - 1], &mut out);
        assert!(out.is_empty(), "event not complete yet");
        t.push(
            &TOOL_STREAM.as_bytes()[first_event_end - 1..first_event_end],
            &mut out,
        );
        let evs = events(&out);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0]["choices"][0]["delta"]["role"], "assistant");
    }

    #[test]
    fn thinking_stream_and_no_usage_chunk_without_include_usage() {
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[THINKING_STREAM.as_bytes()],
        );
        let evs = events(&out);
        assert_eq!(
            deltas(&evs),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"reasoning_content": "Let me solve this step by step:\n\n1. First break down 27 * 453"}),
                json!({"content": "27 * 453 = 12,231 \u{2014} \u{1F9EE}"}),
                json!({}),
            ]
        );
        assert!(evs.iter().all(|e| e.get("usage").is_none()));
        assert_eq!(evs[evs.len() - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(evs.last().unwrap(), "[DONE]");
    }

    #[test]
    fn include_usage_chunk_counts_cache_tokens() {
        let out = run(
            Endpoint::ChatCompletions,
            true,
            &[THINKING_STREAM.as_bytes()],
        );
        let evs = events(&out);
        let usage = &evs[evs.len() - 2];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["id"], "msg_01DXKdEbK3ir8FFfmF2P4Xxe");
        assert_eq!(
            usage["usage"],
            json!({
                "prompt_tokens": 30, "completion_tokens": 30, "total_tokens": 60,
                "prompt_tokens_details": {"cached_tokens": 10},
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10
            })
        );
    }

    #[test]
    fn parallel_tool_calls_get_ordinal_indexes_and_empty_args_become_braces() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_p\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Two calls.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"get_time\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::ChatCompletions, false, &[stream.as_bytes()]));
        let calls: Vec<Value> = deltas(&evs)
            .into_iter()
            .filter_map(|d| d.get("tool_calls").cloned())
            .collect();
        assert_eq!(
            calls,
            vec![
                json!([{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "get_time", "arguments": ""}}]),
                json!([{"index": 0, "function": {"arguments": "{}"}}]),
                json!([{"index": 1, "id": "toolu_b", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]),
                json!([{"index": 1, "function": {"arguments": "{\"city\":\"Paris\"}"}}]),
            ]
        );
    }

    #[test]
    fn error_event_becomes_openai_error_then_done() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ignored\"}}\n\n",
        );
        let out = run(Endpoint::ChatCompletions, true, &[stream.as_bytes()]);
        let evs = events(&out);
        assert_eq!(evs.len(), 4, "{evs:?}");
        assert_eq!(evs[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(
            evs[2],
            json!({"error": {"message": "Overloaded", "type": "service_unavailable_error", "param": null, "code": "503"}})
        );
        assert_eq!(evs[3], "[DONE]");
    }

    #[test]
    fn stream_cut_short_ends_with_502_error_event() {
        let cut = TOOL_STREAM.find("event: message_delta").unwrap();
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[&TOOL_STREAM.as_bytes()[..cut]],
        );
        let evs = events(&out);
        let n = evs.len();
        assert_eq!(evs[n - 1], "[DONE]");
        assert_eq!(evs[n - 2]["error"]["code"], "502");
        assert!(evs[n - 2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended early"));
        assert_eq!(
            evs[n - 3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "\"unit\": \"fahrenheit\"}"
        );

        // Cut in the middle of an event, and an empty stream.
        let out = run(
            Endpoint::ChatCompletions,
            false,
            &[&TOOL_STREAM.as_bytes()[..cut + 30]],
        );
        let evs = events(&out);
        assert!(evs[evs.len() - 2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mid-event"));
        let evs = events(&run(Endpoint::ChatCompletions, false, &[]));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["type"], "service_unavailable_error");
    }

    #[test]
    fn nothing_after_done_and_finish_is_idempotent() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        t.push(TOOL_STREAM.as_bytes(), &mut out);
        let len = out.len();
        assert!(out.ends_with(DONE));
        t.push(b"event: ping\ndata: {\"type\":\"ping\"}\n\n", &mut out);
        t.finish(&mut out);
        t.finish(&mut out);
        assert_eq!(out.len(), len);
    }

    #[test]
    fn invalid_json_event_is_an_error() {
        let evs = events(&run(
            Endpoint::ChatCompletions,
            false,
            &[b"event: message_start\ndata: {not json\n\n"],
        ));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0]["error"]["code"], "502");
        assert!(evs[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
    }

    #[test]
    fn oversized_event_is_an_error_not_growth() {
        let mut t = StreamTranslator::new(Endpoint::ChatCompletions, ctx(false));
        let mut out = Vec::new();
        t.push(b"event: content_block_delta\ndata: {\"text\":\"", &mut out);
        let block = vec![b'a'; 1 << 20];
        for _ in 0..9 {
            t.push(&block, &mut out);
        }
        let evs = events(&out);
        assert_eq!(evs.len(), 2);
        assert!(evs[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded"));
        assert_eq!(t.decoder.pending_bytes(), 0);
    }

    #[test]
    fn completions_stream_yields_text_completion_chunks() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_c\",\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"This is\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" a test.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\\n\"},\"usage\":{\"output_tokens\":6}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::Completions, true, &[stream.as_bytes()]));
        assert_eq!(
            evs,
            vec![
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": "This is", "index": 0, "logprobs": null, "finish_reason": null}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": " a test.", "index": 0, "logprobs": null, "finish_reason": null}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [{"text": "", "index": 0, "logprobs": null, "finish_reason": "stop"}]}),
                json!({"id": "msg_c", "object": "text_completion", "created": 1_700_000_000, "model": "claude-haiku-4-5",
                       "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10, "prompt_tokens_details": {"cached_tokens": 0}}}),
                json!("[DONE]"),
            ]
        );
    }

    #[test]
    fn max_tokens_stop_and_missing_message_delta() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_m\",\"model\":\"\"}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let evs = events(&run(Endpoint::ChatCompletions, false, &[stream.as_bytes()]));
        assert_eq!(
            evs[0]["model"], "claude-from-config",
            "empty model falls back to ctx"
        );
        assert_eq!(
            evs[1]["choices"][0]["finish_reason"], "stop",
            "a finish chunk is always sent"
        );
        assert_eq!(evs[2], "[DONE]");
    }
}
