//! What the logging callbacks say about a request beyond the record's facts: the
//! client's `metadata` keys LiteLLM's Langfuse logger reads (trace and generation
//! names, session, user, tags, a trace id), the model parameters, and — only when
//! message logging is on — the message content (the request's messages, the answer's
//! text). Every part is bounded: it comes from the client or the provider.
//!
//! The router stage builds it from the parsed request body
//! ([`RequestDetails::from_request`]) when callbacks are configured, and the answer's
//! text is appended as it passes ([`RequestDetails::push_output`]), whole answers and
//! streams alike, up to [`MAX_CONTENT_BYTES`]. Without callbacks there is none: the
//! default costs nothing.

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
    /// The answer's text, when message logging is on, up to [`MAX_CONTENT_BYTES`].
    pub output: Option<String>,
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
            output: message_logging.then(String::new),
        }
    }

    /// Appends answer text (a whole answer, or a stream's chunk), up to
    /// [`MAX_CONTENT_BYTES`] in all; nothing when message logging is off.
    pub fn push_output(&mut self, text: &str) {
        let Some(output) = self.output.as_mut() else {
            return;
        };
        let room = MAX_CONTENT_BYTES.saturating_sub(output.len());
        output.push_str(cut(text, room));
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
        assert_eq!(d.output.as_deref(), Some(""));
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
        assert!(output.len() <= MAX_CONTENT_BYTES && output.len() > MAX_CONTENT_BYTES - 2);
        assert!(output.chars().all(|c| c == 'é'));
    }
}
