//! The answer's content for the logging callbacks: the assistant message of the
//! answer the client gets, read as its bytes pass the router stage (the listener's
//! filter, after the upstream stage translated them), only when callbacks are
//! configured and message logging is on.
//!
//! * a whole answer (JSON) is copied as it passes, up to [`MAX_ANSWER_COPY`] bytes,
//!   and read at its end: OpenAI's `choices[0].message` (`content`, `tool_calls`,
//!   `finish_reason`; a text completion's `choices[0].text`), or Anthropic's
//!   `content` blocks (`text`, `tool_use`) and `stop_reason` on `/v1/messages`;
//! * a stream (SSE) is read event by event as its chunks pass, split anywhere: only
//!   an unfinished line is kept (at most [`MAX_LINE`] bytes), each `data:` event's
//!   delta is added to the [`AnswerOutput`]: OpenAI's `choices[0].delta` (`content`,
//!   `tool_calls[].function`), Anthropic's `content_block_start` /
//!   `content_block_delta` (`text_delta`, `input_json_delta`) / `message_delta`.
//!
//! Nothing here holds a chunk back: the collector reads a copy. What it keeps is
//! bounded by [`super::details::MAX_CONTENT_BYTES`]; once that is full it reads no
//! further. The shapes are OpenAI's chat completion and chunk objects
//! (platform.openai.com/docs/api-reference/chat/object) and Anthropic's Messages
//! API (docs.anthropic.com/en/api/messages, "Streaming messages").

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::details::{AnswerOutput, MAX_CONTENT_BYTES};

/// Most bytes of a whole (non-stream) answer copied to be read at its end. A longer
/// answer's content is not collected (its output stays empty).
pub const MAX_ANSWER_COPY: usize = 8 * MAX_CONTENT_BYTES;
/// Longest SSE line kept while it is unfinished; a longer event is skipped.
pub const MAX_LINE: usize = 2 * MAX_CONTENT_BYTES + 4096;

/// The format of the answer the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// OpenAI's chat completion (or text completion).
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`).
    Anthropic,
}

/// How the answer is being read.
#[derive(Debug)]
enum Mode {
    /// No byte yet: the first one says whole answer or stream.
    Unknown,
    /// A whole answer, copied (`None` once it outgrew [`MAX_ANSWER_COPY`]).
    Whole(Option<Vec<u8>>),
    /// A stream: the unfinished line, and whether the current line is being skipped
    /// (too long).
    Stream { line: Vec<u8>, skipping: bool },
}

/// Reads one answer's content as its chunks pass.
#[derive(Debug)]
pub struct AnswerCollector {
    format: AnswerFormat,
    mode: Mode,
}

impl AnswerCollector {
    /// A collector for an answer in `format`.
    pub fn new(format: AnswerFormat) -> AnswerCollector {
        AnswerCollector {
            format,
            mode: Mode::Unknown,
        }
    }

    /// One chunk of the answer, as the client gets it.
    pub fn feed(&mut self, chunk: &[u8], out: &mut AnswerOutput) {
        if out.is_full() {
            // Nothing more fits: stop reading (and drop what was kept to read).
            self.mode = Mode::Whole(None);
            return;
        }
        if let Mode::Unknown = self.mode {
            let Some(first) = chunk.iter().find(|b| !b.is_ascii_whitespace()) else {
                return;
            };
            self.mode = if matches!(first, b'{' | b'[') {
                Mode::Whole(Some(Vec::new()))
            } else {
                Mode::Stream {
                    line: Vec::new(),
                    skipping: false,
                }
            };
        }
        let format = self.format;
        match &mut self.mode {
            Mode::Unknown | Mode::Whole(None) => {}
            Mode::Whole(Some(copy)) => {
                if copy.len().saturating_add(chunk.len()) > MAX_ANSWER_COPY {
                    self.mode = Mode::Whole(None);
                } else {
                    copy.extend_from_slice(chunk);
                }
            }
            Mode::Stream { line, skipping } => {
                let mut rest = chunk;
                while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                    let (head, tail) = rest.split_at(end);
                    if !*skipping && line.len().saturating_add(head.len()) <= MAX_LINE {
                        line.extend_from_slice(head);
                        stream_line(format, line, out);
                    }
                    line.clear();
                    *skipping = false;
                    rest = tail.get(1..).unwrap_or_default();
                }
                if !*skipping {
                    if line.len().saturating_add(rest.len()) > MAX_LINE {
                        line.clear();
                        *skipping = true;
                    } else {
                        line.extend_from_slice(rest);
                    }
                }
            }
        }
    }

    /// The answer ended: a whole answer is read now; a stream's last line (one
    /// without its newline) too.
    pub fn finish(&mut self, out: &mut AnswerOutput) {
        let format = self.format;
        match std::mem::replace(&mut self.mode, Mode::Whole(None)) {
            Mode::Whole(Some(copy)) => {
                if let Ok(answer) = serde_json::from_slice::<Value>(&copy) {
                    whole_answer(format, &answer, out);
                }
            }
            Mode::Stream { line, skipping } if !skipping && !line.is_empty() => {
                stream_line(format, &line, out);
            }
            _ => {}
        }
    }
}

/// One SSE line: a `data:` event's delta is added; anything else is ignored.
fn stream_line(format: AnswerFormat, line: &[u8], out: &mut AnswerOutput) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(data) = line.strip_prefix(b"data:") else {
        return;
    };
    let data = data.trim_ascii();
    if data.is_empty() || data == b"[DONE]" {
        return;
    }
    match format {
        AnswerFormat::OpenAi => {
            // Typed, borrowing, every other field skipped: the hot path of a stream.
            if let Ok(chunk) = serde_json::from_slice::<OpenAiChunk<'_>>(data) {
                openai_chunk(chunk, out);
            }
        }
        AnswerFormat::Anthropic => {
            if let Ok(event) = serde_json::from_slice::<Value>(data) {
                anthropic_event(&event, out);
            }
        }
    }
}

/// What is read of an OpenAI chat completion chunk (or text completion chunk).
#[derive(Deserialize)]
struct OpenAiChunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<ChunkDelta<'a>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChunkDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// The first choice (`index` 0) of an OpenAI object.
fn first_choice(object: &Value) -> Option<&Value> {
    let choices = object.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

fn str_of<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// An OpenAI chat completion chunk's (or text completion chunk's) first choice.
fn openai_chunk(chunk: OpenAiChunk<'_>, out: &mut AnswerOutput) {
    let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
        return;
    };
    if let Some(delta) = choice.delta {
        if let Some(text) = delta.content {
            out.push_text(&text);
        }
        for call in delta.tool_calls.unwrap_or_default() {
            let function = call.function.as_ref();
            out.tool_call(
                call.index,
                call.id.as_deref(),
                function.and_then(|f| f.name.as_deref()),
            );
            if let Some(arguments) = function.and_then(|f| f.arguments.as_deref()) {
                out.push_arguments(call.index, arguments);
            }
        }
    } else if let Some(text) = choice.text {
        out.push_text(&text);
    }
    if let Some(reason) = choice.finish_reason {
        out.finish(&reason);
    }
}

/// An OpenAI message: its `content` and `tool_calls` (each named by its position).
fn openai_message(message: &Value, out: &mut AnswerOutput) {
    if let Some(text) = str_of(message, "content") {
        out.push_text(text);
    }
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return;
    };
    for (position, call) in calls.iter().enumerate() {
        let index = position as u64;
        let function = call.get("function");
        out.tool_call(
            index,
            str_of(call, "id"),
            function.and_then(|f| str_of(f, "name")),
        );
        if let Some(arguments) = function.and_then(|f| str_of(f, "arguments")) {
            out.push_arguments(index, arguments);
        }
    }
}

/// An Anthropic Messages stream event.
fn anthropic_event(event: &Value, out: &mut AnswerOutput) {
    let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
    match str_of(event, "type") {
        Some("content_block_start") => {
            if let Some(block) = event.get("content_block") {
                anthropic_block(index, block, out);
            }
        }
        Some("content_block_delta") => {
            let Some(delta) = event.get("delta") else {
                return;
            };
            match str_of(delta, "type") {
                Some("text_delta") => {
                    if let Some(text) = str_of(delta, "text") {
                        out.push_text(text);
                    }
                }
                Some("input_json_delta") => {
                    if let Some(json) = str_of(delta, "partial_json") {
                        out.push_arguments(index, json);
                    }
                }
                _ => {}
            }
        }
        Some("message_delta") => {
            if let Some(reason) = event.get("delta").and_then(|d| str_of(d, "stop_reason")) {
                out.finish(reason);
            }
        }
        _ => {}
    }
}

/// An Anthropic content block (whole, or a stream's `content_block_start`): text,
/// or a tool use (whose `input`, when not empty, is its arguments).
fn anthropic_block(index: u64, block: &Value, out: &mut AnswerOutput) {
    match str_of(block, "type") {
        Some("text") => {
            if let Some(text) = str_of(block, "text") {
                out.push_text(text);
            }
        }
        Some("tool_use") => {
            out.tool_call(index, str_of(block, "id"), str_of(block, "name"));
            match block.get("input") {
                Some(Value::Object(input)) if !input.is_empty() => {
                    out.push_arguments(index, &Value::Object(input.clone()).to_string());
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// A whole answer.
fn whole_answer(format: AnswerFormat, answer: &Value, out: &mut AnswerOutput) {
    match format {
        AnswerFormat::OpenAi => {
            let Some(choice) = first_choice(answer) else {
                return;
            };
            if let Some(message) = choice.get("message") {
                openai_message(message, out);
            } else if let Some(text) = str_of(choice, "text") {
                out.push_text(text);
            }
            if let Some(reason) = str_of(choice, "finish_reason") {
                out.finish(reason);
            }
        }
        AnswerFormat::Anthropic => {
            if let Some(blocks) = answer.get("content").and_then(Value::as_array) {
                for (index, block) in blocks.iter().enumerate() {
                    anthropic_block(index as u64, block, out);
                }
            }
            if let Some(reason) = str_of(answer, "stop_reason") {
                out.finish(reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `body` fed whole, then cut at every byte offset, then byte by byte: the
    /// output must be the same each time.
    fn collect_every_way(format: AnswerFormat, body: &[u8]) -> AnswerOutput {
        let run = |pieces: Vec<&[u8]>| {
            let mut out = AnswerOutput::default();
            let mut c = AnswerCollector::new(format);
            for p in pieces {
                c.feed(p, &mut out);
            }
            c.finish(&mut out);
            out
        };
        let whole = run(vec![body]);
        for cut in 0..=body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(run(vec![a, b]), whole, "cut at {cut}");
        }
        assert_eq!(run(body.chunks(1).collect()), whole, "byte by byte");
        whole
    }

    #[test]
    fn a_whole_openai_answer_its_message_and_tool_calls() {
        // OpenAI's chat completion object (API reference example, with a tool call).
        let body = br#"{"id":"chatcmpl-123","object":"chat.completion","created":1677652288,
            "model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant",
            "content":"Checking.","tool_calls":[{"id":"call_abc","type":"function",
            "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#;
        let out = collect_every_way(AnswerFormat::OpenAi, body);
        assert_eq!(out.text, "Checking.");
        assert_eq!(out.tool_calls.len(), 1);
        assert_eq!(out.tool_calls[0].id, "call_abc");
        assert_eq!(out.tool_calls[0].name, "get_weather");
        assert_eq!(out.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn an_openai_stream_accumulates_its_deltas() {
        let body = concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\r\n\r\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo é!\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n",
            "data: [DONE]\n\n",
        );
        let out = collect_every_way(AnswerFormat::OpenAi, body.as_bytes());
        assert_eq!(out.text, "Hello é!");
        assert_eq!(out.tool_calls.len(), 1);
        assert_eq!(
            (
                out.tool_calls[0].id.as_str(),
                out.tool_calls[0].name.as_str()
            ),
            ("call_1", "f")
        );
        assert_eq!(out.tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn an_anthropic_answer_whole_and_streamed() {
        // Anthropic Messages API reference: a message, and its stream's events.
        let whole = br#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
            "content":[{"type":"text","text":"Sure."},{"type":"tool_use","id":"toolu_01","name":"get_weather",
            "input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":10,"output_tokens":20}}"#;
        let out = collect_every_way(AnswerFormat::Anthropic, whole);
        assert_eq!(out.text, "Sure.");
        assert_eq!(out.tool_calls[0].id, "toolu_01");
        assert_eq!(out.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(out.finish_reason.as_deref(), Some("tool_use"));

        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"f\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"2}\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let out = collect_every_way(AnswerFormat::Anthropic, stream.as_bytes());
        assert_eq!(out.text, "Hello!");
        assert_eq!(out.tool_calls[0].id, "toolu_2");
        assert_eq!(out.tool_calls[0].arguments, r#"{"a":2}"#);
        assert_eq!(out.finish_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn what_is_kept_is_bounded() {
        // A stream far longer than the bound: the text stops at it, no line buffer
        // grows past MAX_LINE.
        let event = format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n",
            "x".repeat(1000)
        );
        let mut out = AnswerOutput::default();
        let mut c = AnswerCollector::new(AnswerFormat::OpenAi);
        for _ in 0..100 {
            c.feed(event.as_bytes(), &mut out);
        }
        assert_eq!(out.text.len(), MAX_CONTENT_BYTES);
        // An overlong line is skipped, the next one is read.
        let mut out = AnswerOutput::default();
        let mut c = AnswerCollector::new(AnswerFormat::OpenAi);
        let long = format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}]}}\n",
            "y".repeat(MAX_LINE)
        );
        for piece in long.as_bytes().chunks(4096) {
            c.feed(piece, &mut out);
            if let Mode::Stream { line, .. } = &c.mode {
                assert!(line.len() <= MAX_LINE);
            }
        }
        c.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n",
            &mut out,
        );
        c.finish(&mut out);
        assert!(out.text == "ok", "kept {} bytes", out.text.len());
        // A whole answer beyond the copy's bound is not read.
        let mut out = AnswerOutput::default();
        let mut c = AnswerCollector::new(AnswerFormat::OpenAi);
        c.feed(b"{\"choices\":[{\"message\":{\"content\":\"", &mut out);
        c.feed(&vec![b'z'; MAX_ANSWER_COPY], &mut out);
        c.feed(b"\"}}]}", &mut out);
        c.finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn not_an_answer_collects_nothing() {
        for body in [
            &b"{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}"[..],
            b"{\"object\":\"list\",\"data\":[{\"embedding\":[0.1]}]}",
            b"not json",
            b"",
        ] {
            assert!(collect_every_way(AnswerFormat::OpenAi, body).is_empty());
        }
    }
}
