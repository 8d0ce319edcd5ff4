//! OpenAI-compatible servers and Azure OpenAI.
//!
//! Both speak OpenAI's own format, so the body only needs its `model` rewritten (done
//! by the caller) and successful responses pass through untouched. What differs is
//! the path: OpenAI-compatible servers take `/{endpoint}` after an `api_base` that
//! usually ends in `/v1`; Azure takes
//! `/openai/deployments/{deployment}/{endpoint}?api-version=V`.

use serde_json::{Map, Value};

use super::serialize_request as serialize;
use super::{ProviderRequest, StreamTranslate};
use crate::codec::sse::SseDecoder;
use crate::cost::{self, Usage};
use crate::endpoint::Endpoint;
use crate::error::{type_for_status, GatewayError};

/// The Azure `api-version` used when a deployment sets none: the newest GA
/// version of the data-plane inference API when this was written.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Most of a non-JSON error body kept in the message.
const MAX_ERROR_TEXT: usize = 2000;

/// The path of an OpenAI-compatible request: `/{endpoint}`.
pub fn request_path(endpoint: Endpoint) -> String {
    format!("/{}", endpoint.openai_path())
}

/// The path of an Azure OpenAI request for deployment `deployment`:
/// `/openai/deployments/{deployment}/{endpoint}?api-version=V`.
pub fn azure_request_path(
    endpoint: Endpoint,
    deployment: &str,
    api_version: Option<&str>,
) -> String {
    let version = api_version.unwrap_or(DEFAULT_AZURE_API_VERSION);
    format!(
        "/openai/deployments/{}/{}?api-version={}",
        percent_encode_segment(deployment),
        endpoint.openai_path(),
        percent_encode_segment(version)
    )
}

/// An OpenAI-compatible request: same body, path `/{endpoint}`.
pub fn translate_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
) -> Result<ProviderRequest, GatewayError> {
    Ok(ProviderRequest {
        path: request_path(endpoint),
        body: serialize(request)?,
    })
}

/// An Azure OpenAI request for deployment `deployment`.
pub fn translate_azure_request(
    endpoint: Endpoint,
    request: &Map<String, Value>,
    deployment: &str,
    api_version: Option<&str>,
) -> Result<ProviderRequest, GatewayError> {
    Ok(ProviderRequest {
        path: azure_request_path(endpoint, deployment, api_version),
        body: serialize(request)?,
    })
}

/// What a provider speaking OpenAI's SSE with additions does to each event on the
/// way back: Azure turns its content-filter annotations into chunks or drops them
/// (`azure::ContentFilterNormalizer`), a cloud with an answer fix rewrites chunks and
/// reports its own price (`openai_compat::AnswerFix`). Defined here so that
/// [`UsageTap`] knows no provider but OpenAI.
pub trait EventEdit {
    /// The event as it came, before the usage-only check: kept, dropped, or replaced.
    fn normalize(&mut self, _data: &str) -> Edited {
        Edited::Keep
    }
    /// The event as it goes out, if it is rewritten.
    fn fix_chunk(&self, _data: &str) -> Option<String> {
        None
    }
    /// The provider's own price of the answer, from an event that names usage.
    fn cost_of(&self, _data: &[u8]) -> Option<f64> {
        None
    }
}

/// An event's fate under an [`EventEdit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// On as it is.
    Keep,
    /// Not sent.
    Drop,
    /// This event's data instead.
    Replace(String),
}

/// Reads an OpenAI SSE stream for its usage chunk as it passes.
///
/// Without `strip_usage` the bytes pass untouched. With it (the gateway asked for
/// `include_usage`, the client did not), events are re-emitted one by one and the
/// usage-only chunk (`"choices": []`) is dropped, so the client sees the stream it
/// asked for.
pub struct UsageTap {
    decoder: SseDecoder,
    strip_usage: bool,
    usage: Option<Usage>,
    /// The provider's edit of its events ([`EventEdit`]); events are then written
    /// out again one by one.
    edit: Option<Box<dyn EventEdit>>,
    /// The provider's price of the answer, from its usage chunk.
    cost: Option<f64>,
}

impl UsageTap {
    /// A tap for one stream.
    pub fn new(strip_usage: bool) -> Self {
        UsageTap {
            decoder: SseDecoder::new(),
            strip_usage,
            usage: None,
            edit: None,
            cost: None,
        }
    }

    /// A tap whose events the provider edits on the way ([`EventEdit`]).
    pub fn with_edit(strip_usage: bool, edit: Box<dyn EventEdit>) -> Self {
        UsageTap {
            edit: Some(edit),
            ..UsageTap::new(strip_usage)
        }
    }
}

/// Whether an event's data may carry a usage object (`"usage":` then an object).
/// With `include_usage` on, OpenAI sends `"usage":null` in every chunk: those are not
/// worth a parse. One pass over the data: this runs on every event of a stream.
fn names_usage(data: &str) -> bool {
    const KEY: &str = "\"usage\":";
    let mut rest = data;
    while let Some(at) = rest.find(KEY) {
        let after = rest.get(at + KEY.len()..).unwrap_or_default();
        if after
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return true;
        }
        rest = after;
    }
    false
}

/// An event's data, which names a usage object ([`names_usage`]), is a usage-only
/// chunk (no choices).
fn is_usage_only(data: &str) -> bool {
    serde_json::from_str::<Value>(data).is_ok_and(|v| {
        v.get("usage").is_some_and(Value::is_object)
            && v.get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
    })
}

impl StreamTranslate for UsageTap {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let rewrite = self.strip_usage || self.edit.is_some();
        if !rewrite {
            out.extend_from_slice(chunk);
        }
        self.decoder.push(chunk);
        while let Ok(Some(event)) = self.decoder.next_event() {
            // Only the rare event that names usage is parsed.
            let usage_named = names_usage(event.data);
            if usage_named {
                if let Some(u) = cost::usage_of(event.data.as_bytes()) {
                    self.usage = Some(u);
                }
                if let Some(c) = self
                    .edit
                    .as_ref()
                    .and_then(|e| e.cost_of(event.data.as_bytes()))
                {
                    self.cost = Some(c);
                }
            }
            if !rewrite {
                continue;
            }
            let normalized = match self.edit.as_mut().map(|e| e.normalize(event.data)) {
                Some(Edited::Drop) => continue,
                Some(Edited::Replace(chunk)) => Some(chunk),
                Some(Edited::Keep) | None => None,
            };
            let data = normalized.as_deref().unwrap_or(event.data);
            let usage_named = match normalized {
                Some(ref replaced) => names_usage(replaced),
                None => usage_named,
            };
            if self.strip_usage && usage_named && is_usage_only(data) {
                continue;
            }
            let fixed = self.edit.as_ref().and_then(|e| e.fix_chunk(data));
            let data = fixed.as_deref().unwrap_or(data);
            if let Some(name) = event.event {
                out.extend_from_slice(b"event: ");
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
            }
            for line in data.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn provider_cost(&self) -> Option<f64> {
        self.cost
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An OpenAI-style error body (`{"error":{"message",…}}`) mapped to ours; anything
/// else keeps its text as the message.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    let mut err = GatewayError::new(status, fallback_message(status, body));
    if let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) {
        let inner = root.get("error");
        let message = inner
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .or_else(|| inner.and_then(Value::as_str))
            .or_else(|| root.get("message").and_then(Value::as_str))
            .or_else(|| root.get("detail").and_then(Value::as_str));
        if let Some(m) = message {
            err.message = m.to_string();
        }
        // `type` follows the status, as LiteLLM maps provider errors (a 429 is a
        // `rate_limit_error` whatever the provider called it); the message is kept.
        if let Some(p) = inner.and_then(|e| e.get("param")).and_then(Value::as_str) {
            err.param = Some(p.to_string());
        }
    }
    err
}

/// The message for an error body that is not JSON we understand.
pub fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!(
            "upstream returned HTTP {status} ({})",
            type_for_status(status)
        )
    } else {
        let mut cut = text.len().min(MAX_ERROR_TEXT);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.get(..cut).unwrap_or_default().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{openai_compat, ProviderKind, StreamTranslate};

    /// A Magistral stream (OpenAI SSE whose deltas carry Mistral content chunks),
    /// usage in its last chunk as Mistral sends it unasked.
    const MAGISTRAL_STREAM: &str = concat!(
        "data: {\"id\":\"s\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\",\"text\":\"h\u{e9}m\"}]}]}}]}\n\n",
        "data: {\"id\":\"s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"4\"}}]}\n\n",
        "data: {\"id\":\"s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn an_event_names_usage_only_with_a_usage_object() {
        for named in [
            r#"{"choices":[],"usage":{"prompt_tokens":1}}"#,
            r#"{"choices":[], "usage": {"prompt_tokens":1}}"#,
            "{\"usage\":\n  {\"prompt_tokens\":1}}",
            r#"{"usage":null,"x":{"usage":{"a":1}}}"#,
        ] {
            assert!(super::names_usage(named), "{named}");
        }
        for unnamed in [
            r#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#,
            r#"{"choices":[{"delta":{"content":"\"usage\":{"}}]}"#,
            r#"{"usage":"#,
            "",
        ] {
            assert!(!super::names_usage(unnamed), "{unnamed}");
        }
    }

    #[test]
    fn a_fixing_tap_rewrites_thinking_chunks_at_every_split() {
        let fix = openai_compat::quirks_for(ProviderKind::Mistral, "magistral-small")
            .answer_fix()
            .unwrap();
        let mut whole = None;
        for split in 0..=MAGISTRAL_STREAM.len() {
            let mut tap = super::UsageTap::with_edit(false, Box::new(fix));
            let mut out = Vec::new();
            let (a, b) = MAGISTRAL_STREAM.as_bytes().split_at(split);
            tap.push(a, &mut out);
            tap.push(b, &mut out);
            tap.finish(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(tap.usage().unwrap().completion_tokens, 2);
            assert_eq!(tap.provider_cost(), None);
            match &whole {
                None => whole = Some(text),
                Some(w) => assert_eq!(&text, w, "split at {split}"),
            }
        }
        let whole = whole.unwrap();
        assert!(whole.contains("\"reasoning_content\":\"hém\""), "{whole}");
        assert!(whole.contains("\"content\":\"4\""), "{whole}");
        assert!(whole.ends_with("data: [DONE]\n\n"), "{whole}");
        assert_eq!(whole.matches("data: ").count(), 4);
    }

    #[test]
    fn a_fixing_tap_reads_openrouters_cost() {
        let fix = openai_compat::quirks(ProviderKind::Openrouter)
            .answer_fix()
            .unwrap();
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2,\"cost\":0.5}}\n\ndata: [DONE]\n\n";
        let mut tap = super::UsageTap::with_edit(true, Box::new(fix));
        let mut out = Vec::new();
        tap.push(stream.as_bytes(), &mut out);
        assert_eq!(tap.provider_cost(), Some(0.5));
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("usage"),
            "the usage chunk the client did not ask for is dropped: {text}"
        );
        assert!(text.contains("\"content\":\"hi\""));
    }

    #[test]
    fn only_chunks_with_a_usage_object_count_as_usage_only() {
        assert!(super::is_usage_only(
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#
        ));
        assert!(super::is_usage_only(
            r#"{"choices": [], "usage": {"total_tokens": 3}}"#
        ));
        // `"usage":null` rides on every chunk once include_usage is on.
        assert!(!super::is_usage_only(
            r#"{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}"#
        ));
        assert!(!super::is_usage_only(r#"{"choices":[],"usage":null}"#));
        assert!(!super::is_usage_only(
            r#"{"choices":[{"index":0,"delta":{}}],"usage":{"total_tokens":3}}"#
        ));
    }

    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const STREAM: &str = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\ndata: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n";

    fn tap(strip: bool, split: usize) -> (String, Option<Usage>) {
        let mut t = UsageTap::new(strip);
        let mut out = Vec::new();
        let (a, b) = STREAM.as_bytes().split_at(split);
        t.push(a, &mut out);
        t.push(b, &mut out);
        t.finish(&mut out);
        (String::from_utf8(out).unwrap(), t.usage())
    }

    #[test]
    fn usage_tap_passes_bytes_and_reads_usage() {
        for split in 0..STREAM.len() {
            let (out, usage) = tap(false, split);
            assert_eq!(out, STREAM, "untouched at split {split}");
            let u = usage.unwrap();
            assert_eq!((u.prompt_tokens, u.completion_tokens), (9, 2));
        }
    }

    #[test]
    fn usage_tap_drops_the_usage_chunk_the_client_did_not_ask_for() {
        for split in 0..STREAM.len() {
            let (out, usage) = tap(true, split);
            assert!(!out.contains("\"choices\":[]"), "{out}");
            assert!(out.contains("\"content\":\"Hi\""));
            assert!(out.ends_with("data: [DONE]\n\n"));
            assert_eq!(out.matches("\n\n").count(), 3, "{out}");
            assert_eq!(usage.unwrap().prompt_tokens, 9);
        }
    }

    #[test]
    fn openai_path_and_body() {
        let req = map(json!({"model": "m", "messages": [], "seed": 3}));
        let out = translate_request(Endpoint::ChatCompletions, &req).unwrap();
        assert_eq!(out.path, "/chat/completions");
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["seed"], 3);
        // Field order is kept (serde_json preserve_order).
        assert!(String::from_utf8(out.body)
            .unwrap()
            .starts_with("{\"model\""));
    }

    #[test]
    fn azure_path() {
        let req = map(json!({"model": "x", "input": "hi"}));
        let out = translate_azure_request(Endpoint::Embeddings, &req, "my emb", Some("2024-06-01"))
            .unwrap();
        assert_eq!(
            out.path,
            "/openai/deployments/my%20emb/embeddings?api-version=2024-06-01"
        );
        let out = translate_azure_request(Endpoint::ChatCompletions, &req, "d", None).unwrap();
        assert_eq!(
            out.path,
            format!(
                "/openai/deployments/d/chat/completions?api-version={DEFAULT_AZURE_API_VERSION}"
            )
        );
    }

    #[test]
    fn openai_errors_keep_message_and_type() {
        let body = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let e = translate_error(400, body);
        assert_eq!(e.status, 400);
        assert!(e.message.starts_with("This model's maximum context length"));
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert_eq!(e.to_value()["error"]["code"], "400");

        let e = translate_error(429, br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":null}}"#);
        assert_eq!(
            e.kind, "rate_limit_error",
            "typed by status, not the provider's `requests`"
        );
        assert_eq!(e.message, "Rate limit reached");
    }

    #[test]
    fn non_json_errors_keep_text() {
        let e = translate_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        assert_eq!(e.kind, "service_unavailable_error");
        let e = translate_error(500, b"");
        assert!(e.message.contains("HTTP 500"));
        let long = "é".repeat(3000);
        let e = translate_error(500, long.as_bytes());
        assert!(e.message.len() <= MAX_ERROR_TEXT);
    }
}
