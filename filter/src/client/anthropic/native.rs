//! Anthropic deployments serving Anthropic-format clients natively: the fields
//! passed on, errors passed back, and the usage read from answers and streams that
//! go back untouched.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::*;
use crate::codec::sse::SseDecoder;
use crate::cost::Usage;
use crate::error::GatewayError;
use crate::providers::StreamTranslate;
use crate::request::CowStr;
use crate::wire::anthropic::UsageIn;

/// Fields of an Anthropic Messages request an Anthropic deployment's
/// `litellm_params` defaults may add (LiteLLM forwards only these natively:
/// `get_supported_anthropic_messages_params`).
pub const NATIVE_PARAMS: [&str; 12] = [
    "max_tokens",
    "metadata",
    "stop_sequences",
    "system",
    "temperature",
    "thinking",
    "tool_choice",
    "tools",
    "top_k",
    "top_p",
    "service_tier",
    "stream",
];

/// A provider error on its way to an Anthropic-format client: an Anthropic
/// deployment's own error body (`{"type":"error",…}`) goes back untouched; anything
/// else (a proxy's HTML page, an empty body) becomes one, keeping the status.
pub fn native_error_body(status: u16, body: &[u8]) -> Vec<u8> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(rename = "type", borrow)]
        kind: CowStr<'a>,
        error: Map<String, Value>,
    }
    match serde_json::from_slice::<Shape<'_>>(body) {
        Ok(shape) if shape.kind.as_str() == "error" && shape.error.contains_key("type") => {
            body.to_vec()
        }
        _ => error_body(&crate::providers::anthropic::translate_error(status, body)),
    }
}

/// The usage of an Anthropic answer passed back untouched (for spend).
pub fn native_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct WithUsage {
        #[serde(default)]
        usage: Option<UsageIn>,
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()?
        .usage?
        .to_cost()
}

/// An Anthropic deployment's stream, passed through untouched and read for its
/// usage (`message_start.message.usage`, then each `message_delta.usage`). A stream
/// that ends before `message_stop` (or an `error` event) gets an `event: error`
/// appended, so the client does not take half an answer for a whole one.
#[derive(Debug, Default)]
pub struct NativeTap {
    decoder: SseDecoder,
    usage: UsageIn,
    ended: bool,
}

#[derive(Deserialize)]
struct NativeEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: CowStr<'a>,
    #[serde(default)]
    message: Option<NativeMessage>,
    #[serde(default)]
    usage: Option<UsageIn>,
}

#[derive(Deserialize)]
struct NativeMessage {
    #[serde(default)]
    usage: Option<UsageIn>,
}

impl NativeTap {
    /// A tap for one stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamTranslate for NativeTap {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(chunk);
        let (usage, ended) = (&mut self.usage, &mut self.ended);
        // An event too large to read passes all the same; only its usage is lost.
        let _ = self.decoder.feed(chunk, |data| {
            if let Ok(e) = serde_json::from_str::<NativeEvent<'_>>(data) {
                if let Some(u) = e.message.as_ref().and_then(|m| m.usage.as_ref()) {
                    usage.merge(u);
                }
                if let Some(u) = &e.usage {
                    usage.merge(u);
                }
                if matches!(e.kind.as_str(), "message_stop" | "error") {
                    *ended = true;
                }
            }
            true
        });
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.decoder.finish();
        if !self.ended {
            self.ended = true;
            out.extend_from_slice(&error_event(&GatewayError::new(
                502,
                "The upstream Anthropic stream ended early, before message_stop.",
            )));
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.to_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    use crate::providers::StreamTranslate;

    #[test]
    fn native_errors_pass_untouched_or_get_wrapped() {
        let anthropic = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}"#;
        assert_eq!(native_error_body(429, anthropic), anthropic.to_vec());
        let wrapped: Value =
            serde_json::from_slice(&native_error_body(502, b"<html>bad gateway</html>")).unwrap();
        assert_eq!(wrapped["type"], "error");
        assert_eq!(wrapped["error"]["type"], "api_error");
        assert!(wrapped["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad gateway"));
    }

    #[test]
    fn native_usage_counts_cache_into_the_prompt() {
        let u = native_usage(br#"{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":7}}"#).unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cache_read_tokens,
                u.cache_creation_tokens
            ),
            (17, 7, 5, 2)
        );
        assert_eq!(native_usage(b"{}"), None);
    }

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn native_tap_passes_bytes_and_reads_usage() {
        let bytes = ANTHROPIC_STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            let mut tap = NativeTap::new();
            let mut out = Vec::new();
            tap.push(&bytes[..cut], &mut out);
            tap.push(&bytes[cut..], &mut out);
            tap.finish(&mut out);
            assert_eq!(out, bytes, "split at {cut}");
            let u = tap.usage().unwrap();
            assert_eq!(
                (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
                (30, 15, 5)
            );
        }
        // Cut before message_stop: an error event is appended.
        let head = &bytes[..bytes.len() - 50];
        let mut tap = NativeTap::new();
        let mut out = Vec::new();
        tap.push(head, &mut out);
        tap.finish(&mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("\"type\":\"api_error\",\"message\":\"The upstream Anthropic stream ended early, before message_stop.\"}}\n\n"));
    }
}
