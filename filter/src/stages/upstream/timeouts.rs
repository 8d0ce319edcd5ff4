//! The upstream stage's part in cutting stalled streams (`crate::deadline`): the
//! silence a stream from the picked deployment may keep, the event its client gets
//! when it is cut, and the bookkeeping that makes writing that event possible.
//!
//! Why stream chunks are held for an instant: proxy-wasm can write response bytes
//! outside a body callback only into a body the filter is buffering (Envoy's
//! `Context::getBuffer` reaches the buffered body only while the filter's last body
//! callback returned `StopIterationAndBuffer`). So the glue hands each translated
//! chunk back paused and resumes the stream right away from the root context (one
//! turn of the worker's event loop later, through a shared queue; no timer). When
//! a stream then stalls, the empty buffer it left behind is where the error event
//! goes. A chunk that arrives before the previous one was resumed finds it still
//! in the buffer: [`UpstreamExchange::hold_stream`] says how many bytes of the
//! buffer are translated already.

use super::{ResponseMode, Upstream, UpstreamExchange};
use crate::error::GatewayError;

impl Upstream {
    /// Whether a deployment of this cluster has a `stream_timeout` to keep (only
    /// then does the worker need the deadline tick and its streams held).
    pub fn watches_streams(&self) -> bool {
        self.deployments
            .iter()
            .any(|d| d.stream_timeout_ms.is_some())
    }
}

impl UpstreamExchange {
    /// For an answer streamed chunk by chunk from a deployment with a
    /// `stream_timeout`: the longest silence allowed between two chunks
    /// (milliseconds) and the bytes its client gets when it is cut for it.
    pub fn stream_watch(&self, up: &Upstream) -> Option<(u64, Vec<u8>)> {
        if !self.is_streaming() {
            return None;
        }
        let dep = self.deployment(up)?;
        let idle = dep.stream_timeout_ms?;
        let err = stalled_error(&dep.deployment_id, &dep.group, idle);
        let event = if self.api.is_anthropic() {
            crate::client::anthropic::error_event(&err)
        } else {
            let mut event = err.to_sse_event();
            event.extend_from_slice(DONE_EVENT);
            event
        };
        Some((idle, event))
    }

    /// Whether the answer is a stream passed on chunk by chunk.
    pub fn is_streaming(&self) -> bool {
        matches!(self.response, ResponseMode::Stream(_))
    }

    /// Tells the exchange that the first `bytes` of the response buffer are
    /// translated bytes Envoy still holds (0 once they went on).
    pub fn hold_stream(&mut self, bytes: usize) {
        self.stream_held = bytes;
    }

    /// The length of the response buffer as the last stream chunk left it.
    pub fn stream_written(&self) -> usize {
        self.stream_written
    }
}

/// The end marker of an OpenAI stream.
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// The error a stalled stream ends with: a timeout (504 `timeout_error`, as
/// Envoy's own timeouts are mapped), naming the deployment and the limit.
fn stalled_error(deployment_id: &str, group: &str, idle_ms: u64) -> GatewayError {
    GatewayError::new(
        504,
        format!(
            "Request timed out: the stream from deployment {deployment_id} (model group {group}) sent nothing for {}s (stream_timeout) and was cut",
            idle_ms as f64 / 1000.0
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cluster, config, request, send};
    use super::*;
    use crate::endpoint::ClientApi;
    use crate::host::tests::MockHost;
    use crate::host::Flow;
    use crate::providers::ProviderKind;
    use crate::stages::router::{RouteFacts, ROUTE_PROPERTY};
    use serde_json::Value;

    fn upstream(provider: ProviderKind, stream_timeout_ms: Option<u64>) -> Upstream {
        let mut dep = config(provider, "some-model");
        dep.stream_timeout_ms = stream_timeout_ms;
        Upstream::new(&cluster(&[dep]), &super::super::tests::env).unwrap()
    }

    /// A streamed chat request through the stage, its answer's head in.
    fn streaming(up: &Upstream, anthropic_client: bool) -> (UpstreamExchange, MockHost) {
        let mut host = request(
            "chat_completions",
            serde_json::json!({"model": "g", "stream": true, "max_tokens": 10,
                               "messages": [{"role": "user", "content": "hi"}]}),
        );
        if anthropic_client {
            let facts = RouteFacts {
                endpoint: crate::endpoint::Endpoint::ChatCompletions,
                api: ClientApi::Messages,
                model: "client-model".into(),
                wildcard: None,
                error_fallback: None,
                request_fallbacks: None,
                call_id: String::new(),
                call_start_ms: 0,
            };
            host.properties
                .insert(ROUTE_PROPERTY.into(), facts.encode());
        }
        let (mut x, flow) = send(up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert!(x.stream_watch(up).is_none(), "no answer yet");
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "text/event-stream".into()),
        ];
        x.on_response_headers(up, &mut host, false);
        (x, host)
    }

    #[test]
    fn an_openai_client_gets_an_error_event_then_done() {
        let up = upstream(ProviderKind::Openai, Some(1_500));
        let (x, _) = streaming(&up, false);
        let (idle, event) = x.stream_watch(&up).unwrap();
        assert_eq!(idle, 1_500);
        let text = String::from_utf8(event).unwrap();
        let (error, done) = text.split_once("\n\n").unwrap();
        let v: Value = serde_json::from_str(error.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(v["error"]["type"], "timeout_error");
        assert_eq!(v["error"]["code"], "504");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("1.5s") && message.contains("dep-1"),
            "{message}"
        );
        assert_eq!(done, "data: [DONE]\n\n");
    }

    #[test]
    fn an_anthropic_client_gets_its_error_event() {
        let up = upstream(ProviderKind::Anthropic, Some(2_000));
        let (x, _) = streaming(&up, true);
        let (_, event) = x.stream_watch(&up).unwrap();
        let text = String::from_utf8(event).unwrap();
        let data = text
            .strip_prefix("event: error\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{text}"));
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "timeout_error");
    }

    #[test]
    fn streams_without_a_limit_and_whole_answers_are_not_watched() {
        let up = upstream(ProviderKind::Openai, None);
        assert!(streaming(&up, false).0.stream_watch(&up).is_none());
    }

    #[test]
    fn a_chunk_behind_a_held_one_is_translated_alone() {
        // Ollama rewrites its NDJSON into SSE: a held chunk translated twice would
        // show up twice (or break the decoder).
        let up = upstream(ProviderKind::OllamaChat, Some(1_000));
        let (mut x, mut host) = streaming(&up, false);
        let line = b"{\"model\":\"m\",\"created_at\":\"2024-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"a\"},\"done\":false}\n";
        host.response_body = line.to_vec();
        assert_eq!(
            x.on_response_body(&up, &mut host, line.len(), false),
            Flow::Continue
        );
        let first = host.response_body.clone();
        assert!(
            first.starts_with(b"data: {"),
            "{}",
            String::from_utf8_lossy(&first)
        );
        assert_eq!(x.stream_written(), first.len());
        // Envoy still holds the first translation when the second line arrives.
        x.hold_stream(first.len());
        host.response_body.extend_from_slice(line);
        let size = host.response_body.len();
        x.on_response_body(&up, &mut host, size, false);
        let both = host.response_body.clone();
        assert!(both.starts_with(&first), "the held bytes stay in front");
        let second = &both[first.len()..];
        assert_eq!(
            String::from_utf8_lossy(second).matches("data: ").count(),
            1,
            "only the new line was translated: {}",
            String::from_utf8_lossy(&both)
        );
        assert_eq!(x.stream_written(), both.len());
    }
}
