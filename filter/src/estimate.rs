//! Token estimates for answers that do not finish (issue 12, point 4).
//!
//! A provider bills what it produced, whether or not the answer reached its end: a
//! client that reads a stream up to its last chunk and then closes, a provider that
//! cuts its stream midway, an answer larger than Envoy's buffer (Envoy's 502). The
//! usage a provider reports comes at the end of an answer, so for such attempts the
//! upstream stage charges an estimate:
//!
//! - **Prompt**: the provider's own count where it gave one early (Anthropic's
//!   `message_start`, Bedrock's first event), else [`prompt_tokens`] of the request
//!   body the client sent.
//! - **Output**: the larger of the provider's count so far and [`OutputCounter`]'s
//!   count of the text streamed so far (an answer held whole: [`bytes_to_tokens`] of
//!   the bytes received, or of `content-length` when larger).
//!
//! The estimate is conservative: **one token per 3 bytes of UTF-8 text, rounded
//! up**. Tokenizers of the common models (`cl100k`, `o200k`, Claude's) average about
//! 4 bytes of English per token and about one token per CJK character (3 bytes), so
//! bytes/3 is at or above a tokenizer's count in the common case; text that
//! tokenizes worse than 3 bytes a token (long runs of digits, random strings) is
//! under-counted. The prompt estimate counts every JSON string of the request body
//! (keys too, which only adds) plus [`PER_MESSAGE_TOKENS`] per message, and skips
//! `data:` URLs (inline images and files, which providers bill by their own rules
//! and would otherwise count at their base64 length).
//!
//! Everything here is sans-IO and never panics: bytes in, counts out.

use serde::Deserialize;

/// Bytes of UTF-8 text counted as one token (see the module docs).
pub const BYTES_PER_TOKEN: u64 = 3;
/// Tokens added per chat message (OpenAI counts 3–4 per message for its framing).
pub const PER_MESSAGE_TOKENS: u64 = 4;
/// The longest SSE line [`OutputCounter`] keeps while waiting for its end; a longer
/// one is counted by its bytes (a conservative over-count) and not parsed.
const MAX_LINE: usize = 1 << 20;

/// Tokens in `bytes` bytes of text: `ceil(bytes / 3)`.
pub fn bytes_to_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(BYTES_PER_TOKEN)
}

/// Estimated prompt tokens of a request body (JSON, any API's shape): the bytes of
/// its strings (escapes counted as the characters they stand for, roughly), `data:`
/// URLs skipped, plus [`PER_MESSAGE_TOKENS`] per `"role"` seen. A body that is not
/// JSON is counted by its length.
pub fn prompt_tokens(body: &[u8]) -> u64 {
    let mut text: u64 = 0;
    let mut roles: u64 = 0;
    let mut i = 0;
    let n = body.len();
    while i < n {
        let Some(&b) = body.get(i) else { break };
        if b != b'"' {
            i += 1;
            continue;
        }
        // A string: find its end, honouring escapes.
        let start = i + 1;
        let mut j = start;
        let mut escapes: u64 = 0;
        while j < n {
            match body.get(j) {
                Some(b'\\') => {
                    escapes += 1;
                    j += 2;
                }
                Some(b'"') => break,
                Some(_) => j += 1,
                None => break,
            }
        }
        let end = j.min(n);
        let s = body.get(start..end).unwrap_or_default();
        if s == b"role" {
            roles += 1;
        }
        if !s.starts_with(b"data:") {
            // An escape (`\n`, `\"`, `\u00e9`) stands for one character or so.
            text = text.saturating_add((s.len() as u64).saturating_sub(escapes));
        }
        i = end + 1;
    }
    bytes_to_tokens(text).saturating_add(roles.saturating_mul(PER_MESSAGE_TOKENS))
}

/// Counts the text an answer's stream carried to the client, in OpenAI's chunk
/// shape (`choices[].delta.content`, `reasoning_content`, tool-call arguments,
/// `choices[].text`) or Anthropic's events (`delta.text`, `partial_json`,
/// `thinking`). Fed the stream's bytes in any split; lines are joined across
/// chunks. Also notes the first `model` an event names (the model that served it).
#[derive(Debug, Default)]
pub struct OutputCounter {
    /// Bytes of an incomplete line carried to the next chunk.
    partial: Vec<u8>,
    /// Bytes of text counted so far.
    text_bytes: u64,
    /// The first non-empty `model` of an event.
    model: Option<String>,
}

#[derive(Deserialize, Default)]
struct Event {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize, Default)]
struct Message {
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize, Default)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<serde_json::Value>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
    #[serde(default)]
    function_call: Option<Function>,
    // Anthropic's content_block_delta.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

#[derive(Deserialize, Default)]
struct ToolCall {
    #[serde(default)]
    function: Option<Function>,
}

#[derive(Deserialize, Default)]
struct Function {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

fn len(s: &Option<String>) -> u64 {
    s.as_ref().map_or(0, |s| s.len() as u64)
}

impl Delta {
    fn text_bytes(&self) -> u64 {
        let content = match &self.content {
            Some(serde_json::Value::String(s)) => s.len() as u64,
            // A list of parts: count their JSON (text and framing) — an over-count.
            Some(v) if !v.is_null() => v.to_string().len() as u64,
            _ => 0,
        };
        let tools: u64 = self
            .tool_calls
            .iter()
            .filter_map(|t| t.function.as_ref())
            .chain(self.function_call.as_ref())
            .map(|f| len(&f.name) + len(&f.arguments))
            .sum();
        content
            + tools
            + len(&self.reasoning_content)
            + len(&self.text)
            + len(&self.partial_json)
            + len(&self.thinking)
    }
}

impl OutputCounter {
    /// A counter with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts the complete lines of `chunk` (with what an earlier chunk left).
    pub fn push(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(pos);
            rest = after.get(1..).unwrap_or_default();
            if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(line);
                self.line(&joined);
            }
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            // Never parsed: counted by its bytes.
            self.text_bytes = self
                .text_bytes
                .saturating_add((self.partial.len() + rest.len()) as u64);
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data.is_empty() || data == b"[DONE]" {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Event>(data) else {
            return;
        };
        let mut bytes = event.delta.as_ref().map_or(0, Delta::text_bytes);
        for choice in &event.choices {
            bytes += choice.delta.as_ref().map_or(0, Delta::text_bytes) + len(&choice.text);
        }
        self.text_bytes = self.text_bytes.saturating_add(bytes);
        if self.model.is_none() {
            self.model = event
                .model
                .or(event.message.and_then(|m| m.model))
                .filter(|m| !m.is_empty());
        }
    }

    /// Bytes of text counted so far (a line still incomplete is not).
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes
    }

    /// Estimated tokens of the text counted so far.
    pub fn tokens(&self) -> u64 {
        bytes_to_tokens(self.text_bytes)
    }

    /// The first model an event named.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &str = concat!(
        "data: {\"id\":\"c\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello, \"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\u{f6}rld\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    // "Hello, " (7) + "wörld" (6 bytes) + "f" (1) + {"a":1} (7) = 21 bytes.
    const OPENAI_TEXT: u64 = 21;

    const ANTHROPIC: &str = concat!(
        "event: message_start\r\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\r\n\r\n",
        "event: content_block_delta\r\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\r\n\r\n",
        "event: content_block_delta\r\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\r\n\r\n",
        "event: content_block_delta\r\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\"\"}}\r\n\r\n",
    );
    // "hmm" (3) + "Hi there" (8) + {"q" (4) = 15 bytes.
    const ANTHROPIC_TEXT: u64 = 15;

    fn count_split(stream: &str, split: usize) -> OutputCounter {
        let bytes = stream.as_bytes();
        let mut c = OutputCounter::new();
        let (a, b) = bytes.split_at(split);
        c.push(a);
        c.push(b);
        c
    }

    #[test]
    fn counts_openai_text_at_every_split_point() {
        for split in 0..=OPENAI.len() {
            let c = count_split(OPENAI, split);
            assert_eq!(c.text_bytes(), OPENAI_TEXT, "split at {split}");
            assert_eq!(c.model(), Some("gpt-4o-mini-2024-07-18"), "split {split}");
            assert_eq!(c.tokens(), 7);
        }
    }

    #[test]
    fn counts_anthropic_text_at_every_split_point() {
        for split in 0..=ANTHROPIC.len() {
            let c = count_split(ANTHROPIC, split);
            assert_eq!(c.text_bytes(), ANTHROPIC_TEXT, "split at {split}");
            assert_eq!(c.model(), Some("claude-x"));
        }
    }

    #[test]
    fn byte_by_byte_and_a_cut_line_is_not_counted() {
        let mut c = OutputCounter::new();
        for b in OPENAI.as_bytes() {
            c.push(std::slice::from_ref(b));
        }
        assert_eq!(c.text_bytes(), OPENAI_TEXT);
        // A stream cut inside an event: the half event is not counted.
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"abc\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"de";
        let mut c = OutputCounter::new();
        c.push(cut.as_bytes());
        assert_eq!(c.text_bytes(), 3);
    }

    #[test]
    fn completions_and_garbage() {
        let mut c = OutputCounter::new();
        c.push(b"data: {\"choices\":[{\"text\":\"four\"}]}\n\ndata: not json\n\n: comment\n\ndata: 12\n\n");
        assert_eq!(c.text_bytes(), 4);
        assert_eq!(c.tokens(), 2);
    }

    #[test]
    fn an_endless_line_is_counted_by_its_bytes() {
        let mut c = OutputCounter::new();
        let big = vec![b'x'; MAX_LINE + 10];
        c.push(&big);
        assert!(c.text_bytes() >= big.len() as u64);
        assert!(c.partial.is_empty());
    }

    #[test]
    fn bytes_over_three_rounded_up() {
        assert_eq!(bytes_to_tokens(0), 0);
        assert_eq!(bytes_to_tokens(1), 1);
        assert_eq!(bytes_to_tokens(3), 1);
        assert_eq!(bytes_to_tokens(4), 2);
    }

    #[test]
    fn prompt_estimate_counts_strings_and_messages() {
        let body = br#"{"model":"gpt","messages":[{"role":"user","content":"Hello there"}]}"#;
        // Strings: model(5) gpt(3) messages(8) role(4) user(4) content(7) Hello there(11)
        // = 42 bytes -> 14 tokens, + 4 for one message.
        assert_eq!(prompt_tokens(body), 14 + 4);
        let image = br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}]}]}"#;
        let without = br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":""}}]}]}"#;
        assert_eq!(prompt_tokens(image), prompt_tokens(without));
        // Escapes count as one character; an unterminated string does not panic.
        assert_eq!(prompt_tokens(br#"{"a":"x\"y"}"#), bytes_to_tokens(1 + 3));
        assert_eq!(prompt_tokens(b"{\"abc"), 1);
        assert_eq!(prompt_tokens(b"\"\\"), 0);
        assert_eq!(prompt_tokens(b""), 0);
    }

    #[test]
    fn prompt_estimate_is_not_below_a_tokenizer_for_english() {
        // 4.3 bytes per token is typical English for cl100k/o200k; bytes/3 is above.
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        let body = serde_json::json!({"messages":[{"role":"user","content":text}]}).to_string();
        let tokenizer_like = text.len() as u64 / 4;
        assert!(prompt_tokens(body.as_bytes()) > tokenizer_like);
    }
}
