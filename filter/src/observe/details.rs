//! What the logging callbacks say about a request beyond the record's facts: the
//! client's `metadata` keys LiteLLM's Langfuse logger reads (trace and generation
//! names, session, user, tags, a trace id), the model parameters, and — only when
//! message logging is on — the message content (the request's messages, the answer's
//! text). Every part is bounded: it comes from the client or the provider.
//!
//! The router stage builds it from the parsed request body
//! ([`RequestDetails::from_request`]) when callbacks are configured, and the answer
//! ([`AnswerOutput`]: text, tool calls, finish reason) is filled in as it passes the
//! router stage (`super::answer`), whole answers and streams alike, up to
//! [`MAX_CONTENT_BYTES`]. Without callbacks there is none: the default costs nothing.

use serde_json::{Map, Value};

/// Longest string kept from a client's metadata value (a name, an id, a tag).
pub const MAX_METADATA_CHARS: usize = 200;
/// Most tags kept.
pub const MAX_TAGS: usize = 32;
/// Most bytes of message content kept, for the input and the output each.
pub const MAX_CONTENT_BYTES: usize = 32 * 1024;
/// The request parameters passed on as model parameters (scalars only).
const MODEL_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stream",
    "reasoning_effort",
];

/// The request's `metadata` keys LiteLLM's Langfuse logger reads
/// (`litellm/integrations/langfuse/langfuse.py`, `_log_langfuse_v2`), bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackMetadata {
    /// `trace_name`: the trace's name (default `litellm-{call_type}`).
    pub trace_name: Option<String>,
    /// `generation_name`: the generation's name (default `litellm:{key_alias}` or
    /// `litellm-{call_type}`).
    pub generation_name: Option<String>,
    /// `trace_id` (or `existing_trace_id`): the Langfuse trace the generation joins,
    /// so several calls share a trace. Never the generation's id.
    pub trace_id: Option<String>,
    /// `session_id`.
    pub session_id: Option<String>,
    /// `trace_user_id`: the trace's user (default the request's `user`).
    pub trace_user_id: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
}

/// The request facts the callbacks carry beyond [`super::RequestRecord`]'s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestDetails {
    /// The client's metadata keys.
    pub metadata: CallbackMetadata,
    /// Scalar request parameters (`temperature`, `max_tokens`, …), in a fixed order.
    pub model_parameters: Vec<(&'static str, Value)>,
    /// The request's messages (`messages`, or `input`/`prompt`), when message logging
    /// is on: the JSON value itself when its text fits [`MAX_CONTENT_BYTES`], else its
    /// text cut to fit.
    pub input: Option<Value>,
    /// The answer (its text and tool calls), when message logging is on, up to
    /// [`MAX_CONTENT_BYTES`] in all.
    pub output: Option<AnswerOutput>,
}

/// Most tool calls kept of one answer.
pub const MAX_TOOL_CALLS: usize = 64;

/// The assistant message of an answer, as the client got it: whole, or accumulated
/// from a stream's deltas (`observe::answer`). Its text, tool calls' ids, names and
/// arguments together stay within [`MAX_CONTENT_BYTES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerOutput {
    /// The message's text (OpenAI's `content`, Anthropic's text blocks).
    pub text: String,
    /// The tool calls, in the order they came.
    pub tool_calls: Vec<ToolCallOutput>,
    /// Why the answer ended, as its format says it (`stop`, `tool_calls`,
    /// `end_turn`, …), bounded.
    pub finish_reason: Option<String>,
    /// Bytes kept so far (text, ids, names, arguments).
    used: usize,
}

/// One tool call of an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallOutput {
    /// Which call a stream's delta continues: OpenAI's `tool_calls[].index`,
    /// Anthropic's content block index.
    pub index: u64,
    /// The call's id.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments' JSON text, as the model wrote it.
    pub arguments: String,
}

impl AnswerOutput {
    /// An answer of `text` alone (tests, whole answers).
    pub fn from_text(text: &str) -> AnswerOutput {
        let mut out = AnswerOutput::default();
        out.push_text(text);
        out
    }

    /// Whether no more content fits.
    pub fn is_full(&self) -> bool {
        self.used >= MAX_CONTENT_BYTES
    }

    /// Whether nothing was collected (no text, no tool call).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.tool_calls.is_empty()
    }

    /// What of `text` still fits, counted as kept.
    fn take<'t>(&mut self, text: &'t str) -> &'t str {
        let kept = cut(text, MAX_CONTENT_BYTES.saturating_sub(self.used));
        self.used = self.used.saturating_add(kept.len());
        kept
    }

    /// Appends answer text.
    pub fn push_text(&mut self, text: &str) {
        let kept = self.take(text);
        self.text.push_str(kept);
    }

    /// The tool call `index`, started (with `id` and `name` when given) if it is new
    /// and fits; id and name fill in when a later delta brings them.
    pub fn tool_call(&mut self, index: u64, id: Option<&str>, name: Option<&str>) {
        let position = match self.tool_calls.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                if self.tool_calls.len() >= MAX_TOOL_CALLS || self.is_full() {
                    return;
                }
                self.tool_calls.push(ToolCallOutput {
                    index,
                    ..Default::default()
                });
                self.tool_calls.len() - 1
            }
        };
        let id = id.map(|id| self.take(id).to_string());
        let name = name.map(|name| self.take(name).to_string());
        let Some(call) = self.tool_calls.get_mut(position) else {
            return;
        };
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            call.id = id;
        }
        if let Some(name) = name {
            call.name.push_str(&name);
        }
    }

    /// Appends to tool call `index`'s arguments (started if new).
    pub fn push_arguments(&mut self, index: u64, arguments: &str) {
        if !self.tool_calls.iter().any(|c| c.index == index) {
            self.tool_call(index, None, None);
        }
        let kept = self.take(arguments).to_string();
        if let Some(call) = self.tool_calls.iter_mut().find(|c| c.index == index) {
            call.arguments.push_str(&kept);
        }
    }

    /// Sets why the answer ended.
    pub fn finish(&mut self, reason: &str) {
        self.finish_reason = Some(reason.chars().take(MAX_METADATA_CHARS).collect());
    }

    /// The finish reason as the GenAI semantic conventions name it
    /// (`gen-ai-output-messages.json`'s `FinishReason`: `stop`, `length`,
    /// `content_filter`, `tool_call`, `error`); `stop` when the answer said none.
    pub fn semconv_finish_reason(&self) -> &str {
        match self.finish_reason.as_deref() {
            None | Some("stop" | "end_turn" | "stop_sequence") => "stop",
            Some("length" | "max_tokens") => "length",
            Some("tool_calls" | "function_call" | "tool_use") => "tool_call",
            Some("content_filter" | "refusal") => "content_filter",
            Some(other) => other,
        }
    }

    /// The message as OpenAI's chat completion carries it (`choices[0].message`):
    /// `role`, `content` (`null` without text), and `tool_calls` when there are any.
    pub fn openai_message(&self) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), Value::from("assistant"));
        message.insert(
            "content".into(),
            if self.text.is_empty() && !self.tool_calls.is_empty() {
                Value::Null
            } else {
                Value::from(self.text.clone())
            },
        );
        if !self.tool_calls.is_empty() {
            let calls = self
                .tool_calls
                .iter()
                .map(|c| {
                    serde_json::json!({"id": c.id, "type": "function",
                                       "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        Value::Object(message)
    }
}

/// A client's string, kept when it is one and cut to [`MAX_METADATA_CHARS`]
/// characters.
fn bounded_str(value: Option<&Value>) -> Option<String> {
    let s = value?.as_str()?;
    Some(s.chars().take(MAX_METADATA_CHARS).collect())
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// Whether `id` may name a Langfuse trace: 1 to [`MAX_METADATA_CHARS`] of
/// `[A-Za-z0-9._:-]`.
fn valid_trace_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_METADATA_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl CallbackMetadata {
    /// The keys of a request's `metadata` object; anything else is ignored. A
    /// `trace_id` that is not a plain id is dropped (the call id names the trace).
    pub fn from_metadata(metadata: &Map<String, Value>) -> CallbackMetadata {
        let trace_id = bounded_str(metadata.get("existing_trace_id"))
            .or_else(|| bounded_str(metadata.get("trace_id")))
            .filter(|id| valid_trace_id(id));
        let tags = match metadata.get("tags") {
            Some(Value::Array(tags)) => tags
                .iter()
                .filter_map(|t| bounded_str(Some(t)))
                .take(MAX_TAGS)
                .collect(),
            _ => Vec::new(),
        };
        CallbackMetadata {
            trace_name: bounded_str(metadata.get("trace_name")),
            generation_name: bounded_str(metadata.get("generation_name")),
            trace_id,
            session_id: bounded_str(metadata.get("session_id")),
            trace_user_id: bounded_str(metadata.get("trace_user_id")),
            tags,
        }
    }
}

impl RequestDetails {
    /// The details of a parsed request body; the messages only when
    /// `message_logging`.
    pub fn from_request(body: &Value, message_logging: bool) -> RequestDetails {
        let metadata = match body.get("metadata") {
            Some(Value::Object(m)) => CallbackMetadata::from_metadata(m),
            _ => CallbackMetadata::default(),
        };
        let model_parameters = MODEL_PARAMETERS
            .iter()
            .filter_map(|name| {
                let value = body.get(*name)?;
                let scalar = match value {
                    Value::Number(_) | Value::Bool(_) => value.clone(),
                    Value::String(s) => Value::String(s.chars().take(MAX_METADATA_CHARS).collect()),
                    _ => return None,
                };
                Some((*name, scalar))
            })
            .collect();
        let input = message_logging
            .then(|| {
                ["messages", "input", "prompt"]
                    .iter()
                    .find_map(|k| body.get(*k))
                    .map(bounded_value)
            })
            .flatten();
        RequestDetails {
            metadata,
            model_parameters,
            input,
            output: message_logging.then(AnswerOutput::default),
        }
    }

    /// Appends answer text (a whole answer, or a stream's chunk), up to
    /// [`MAX_CONTENT_BYTES`] in all; nothing when message logging is off.
    pub fn push_output(&mut self, text: &str) {
        if let Some(output) = self.output.as_mut() {
            output.push_text(text);
        }
    }

    /// Whether the answer is to be collected (message logging is on).
    pub fn wants_output(&self) -> bool {
        self.output.is_some()
    }

    /// The model parameters the request set, as a JSON object (what the callbacks
    /// report as `modelParameters` / `model_parameters`).
    pub fn parameters_object(&self) -> serde_json::Map<String, Value> {
        self.model_parameters
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    /// A model parameter, when the request set it.
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.model_parameters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// `value` itself when its JSON text fits [`MAX_CONTENT_BYTES`], else that text cut
/// to fit, as a string.
fn bounded_value(value: &Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_CONTENT_BYTES {
        value.clone()
    } else {
        Value::String(cut(&text, MAX_CONTENT_BYTES).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_metadata_keys_langfuse_reads() {
        let body = json!({
            "model": "m", "temperature": 0.2, "max_tokens": 5, "stop": ["x"],
            "messages": [{"role": "user", "content": "hi"}],
            "metadata": {"trace_name": "t", "generation_name": "g", "trace_id": "tr-1",
                         "session_id": "s", "trace_user_id": "u", "tags": ["a", 1, "b"],
                         "other": "ignored"}
        });
        let d = RequestDetails::from_request(&body, true);
        assert_eq!(
            d.metadata,
            CallbackMetadata {
                trace_name: Some("t".into()),
                generation_name: Some("g".into()),
                trace_id: Some("tr-1".into()),
                session_id: Some("s".into()),
                trace_user_id: Some("u".into()),
                tags: vec!["a".into(), "b".into()],
            }
        );
        assert_eq!(d.parameter("temperature"), Some(&json!(0.2)));
        assert_eq!(d.parameter("max_tokens"), Some(&json!(5)));
        assert_eq!(d.parameter("stop"), None, "not a scalar parameter");
        assert_eq!(d.input, Some(json!([{"role": "user", "content": "hi"}])));
        assert_eq!(d.output, Some(AnswerOutput::default()));
    }

    #[test]
    fn no_content_without_message_logging() {
        let body = json!({"messages": [{"role": "user", "content": "secret"}]});
        let mut d = RequestDetails::from_request(&body, false);
        d.push_output("the answer");
        assert_eq!((d.input, d.output), (None, None));
    }

    #[test]
    fn hostile_metadata_is_bounded() {
        let huge = "x".repeat(100_000);
        let tags: Vec<String> = (0..10_000).map(|i| format!("{i}{huge}")).collect();
        let body = json!({"metadata": {"trace_name": huge, "session_id": {"nested": 1},
                                       "tags": tags, "trace_id": "a/../b"},
                          "temperature": "y".repeat(10_000)});
        let d = RequestDetails::from_request(&body, false);
        assert_eq!(
            d.metadata.trace_name.as_ref().unwrap().len(),
            MAX_METADATA_CHARS
        );
        assert_eq!(d.metadata.session_id, None, "not a string");
        assert_eq!(d.metadata.tags.len(), MAX_TAGS);
        assert!(d
            .metadata
            .tags
            .iter()
            .all(|t| t.len() == MAX_METADATA_CHARS));
        assert_eq!(d.metadata.trace_id, None, "not a plain id");
        let long_id = json!({"metadata": {"trace_id": "a".repeat(MAX_METADATA_CHARS + 1)}});
        let cut_id = RequestDetails::from_request(&long_id, false)
            .metadata
            .trace_id;
        assert_eq!(
            cut_id.map(|s| s.len()),
            Some(MAX_METADATA_CHARS),
            "cut, still an id"
        );
        assert_eq!(
            d.parameter("temperature").unwrap().as_str().unwrap().len(),
            MAX_METADATA_CHARS
        );
    }

    #[test]
    fn content_is_bounded_on_a_character_boundary() {
        let long = "é".repeat(MAX_CONTENT_BYTES);
        let body = json!({"messages": [{"role": "user", "content": long}]});
        let mut d = RequestDetails::from_request(&body, true);
        let Some(Value::String(input)) = &d.input else {
            panic!("a long input is cut text: {:?}", d.input);
        };
        assert!(input.len() <= MAX_CONTENT_BYTES && input.len() > MAX_CONTENT_BYTES - 4);
        for _ in 0..3 {
            d.push_output(&long);
        }
        let output = d.output.unwrap();
        assert!(output.is_full());
        let text = output.text;
        assert!(text.len() <= MAX_CONTENT_BYTES && text.len() > MAX_CONTENT_BYTES - 2);
        assert!(text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn tool_calls_share_the_bound_and_fill_in_by_index() {
        let mut out = AnswerOutput::default();
        out.push_text("Let me look.");
        out.tool_call(0, Some("call_1"), Some("get_"));
        out.tool_call(0, None, Some("weather"));
        out.push_arguments(0, "{\"city\":");
        out.push_arguments(0, "\"Paris\"}");
        out.push_arguments(3, "{}");
        out.finish("tool_calls");
        assert_eq!(out.tool_calls.len(), 2);
        let first = &out.tool_calls[0];
        assert_eq!(
            (
                first.id.as_str(),
                first.name.as_str(),
                first.arguments.as_str()
            ),
            ("call_1", "get_weather", "{\"city\":\"Paris\"}")
        );
        assert_eq!(out.semconv_finish_reason(), "tool_call");
        assert_eq!(
            out.openai_message()["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        // Arguments count against the same bound as the text.
        let huge = "a".repeat(MAX_CONTENT_BYTES);
        out.push_arguments(0, &huge);
        assert!(out.is_full());
        let kept: usize = out.text.len()
            + out
                .tool_calls
                .iter()
                .map(|c| c.id.len() + c.name.len() + c.arguments.len())
                .sum::<usize>();
        assert_eq!(kept, MAX_CONTENT_BYTES);
        // Past the bound no new call starts.
        out.tool_call(9, Some("x"), Some("y"));
        assert_eq!(out.tool_calls.len(), 2);
        // Only text and no calls: content is the text.
        assert_eq!(
            AnswerOutput::from_text("hi").openai_message(),
            serde_json::json!({"role": "assistant", "content": "hi"})
        );
    }
}
