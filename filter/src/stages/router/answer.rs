//! The answer's content for the callbacks, from the router stage's side: with
//! callbacks and message logging on, each chunk of the answer the client gets is
//! read (a copy: the chunk goes on at once) by an `observe::answer` collector into
//! the request's details, in the client's format (OpenAI's, or Anthropic's on
//! `/v1/messages`). Without them this is one check per chunk.

use super::*;
use crate::observe::answer::{AnswerCollector, AnswerFormat};

impl RouterExchange {
    /// A chunk of the answer (`size` bytes, the last one when `end_of_stream`).
    pub fn on_response_body(&mut self, host: &mut dyn Host, size: usize, end_of_stream: bool) {
        let Some(details) = self.call.details.as_mut() else {
            return;
        };
        let Some(output) = details.output.as_mut() else {
            return;
        };
        let format = match self.api {
            ClientApi::Messages => AnswerFormat::Anthropic,
            ClientApi::OpenAi | ClientApi::CountTokens => AnswerFormat::OpenAi,
        };
        let collector = self
            .answer
            .get_or_insert_with(|| Box::new(AnswerCollector::new(format)));
        if size > 0 && !output.is_full() {
            if let Some(chunk) = host.response_body(size) {
                collector.feed(&chunk, output);
            }
        }
        if end_of_stream {
            self.finish_answer();
        }
    }

    /// The answer ended (or the request is logged without its end): what was read
    /// of it is complete.
    pub(super) fn finish_answer(&mut self) {
        let Some(mut collector) = self.answer.take() else {
            return;
        };
        if let Some(output) = self.call.details.as_mut().and_then(|d| d.output.as_mut()) {
            collector.finish(output);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::{CallbackKind, CallbackSink, CallbacksConfig};
    use crate::test_support::{group, router_config};

    /// A router of group `g` with the `generic_api` callback, message logging as
    /// given.
    fn router(message_logging: bool) -> Router {
        Router::new(&RouterConfig {
            callbacks: Some(CallbacksConfig {
                sinks: vec![CallbackSink {
                    kind: CallbackKind::GenericApi,
                    on_success: true,
                    on_failure: true,
                    cluster: "callback_generic_api".into(),
                    authority: "collector".into(),
                    path: "/".into(),
                    basic_auth: None,
                    headers: None,
                }],
                message_logging,
            }),
            ..router_config(vec![group("g")])
        })
        .unwrap()
    }

    /// A request to `path` whose answer passes the router stage in `chunks`; the
    /// `generic_api` event it ends in. `worker` is the previous request's host (one
    /// worker's metrics).
    fn answered(
        r: &Router,
        path: &str,
        chunks: &[&[u8]],
        worker: &mut Option<MockHost>,
    ) -> serde_json::Value {
        let body = serde_json::to_vec(&json!({"model": "g", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}))
        .unwrap();
        let mut host = MockHost::with_request(&[(":method", "POST"), (":path", path)], &body);
        if let Some(previous) = worker.as_ref() {
            host = host.on_worker_of(previous);
        }
        let mut ex = RouterExchange::default();
        ex.on_request_headers(r, &mut host, false);
        ex.on_request_body(r, &mut host, body.len(), true);
        host.response_headers = vec![(":status".into(), "200".into())];
        ex.on_response_headers(&mut host);
        for (i, chunk) in chunks.iter().enumerate() {
            host.response_body = chunk.to_vec();
            ex.on_response_body(&mut host, chunk.len(), i + 1 == chunks.len());
        }
        ex.on_response_end(&mut host);
        host.properties
            .insert("response.code".into(), 200i64.to_le_bytes().to_vec());
        ex.on_log(r, &mut host).expect("a record");
        let events = host.take_callback_events();
        assert_eq!(events.len(), 1);
        let event = serde_json::from_slice(&events[0].1).unwrap();
        *worker = Some(host);
        event
    }

    #[test]
    fn the_answer_the_client_gets_is_the_events_response() {
        let r = router(true);
        let mut worker = None;
        let whole = br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}]}"#;
        let event = answered(
            &r,
            "/v1/chat/completions",
            &[&whole[..20], &whole[20..]],
            &mut worker,
        );
        assert_eq!(
            event["response"]["choices"][0]["message"]["content"],
            "Paris."
        );
        assert_eq!(event["response"]["choices"][0]["finish_reason"], "stop");

        let stream: [&[u8]; 3] = [
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Pa\"}}]}\n\ndata: {\"choi",
            b"ces\":[{\"index\":0,\"delta\":{\"content\":\"ris.\"},\"finish_reason\":\"stop\"}]}\n\n",
            b"data: [DONE]\n\n",
        ];
        let event = answered(&r, "/v1/chat/completions", &stream, &mut worker);
        assert_eq!(
            event["response"]["choices"][0]["message"]["content"],
            "Paris."
        );

        let anthropic: [&[u8]; 2] = [
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
            b"\"delta\":{\"type\":\"text_delta\",\"text\":\"is.\"}}\n\n",
        ];
        let event = answered(&r, "/v1/messages", &anthropic, &mut worker);
        assert_eq!(
            event["response"]["choices"][0]["message"]["content"],
            "Paris."
        );
    }

    #[test]
    fn without_message_logging_the_answer_is_not_read() {
        let r = router(false);
        let whole =
            br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Paris."}}]}"#;
        let event = answered(&r, "/v1/chat/completions", &[whole], &mut None);
        assert_eq!(event["response"], serde_json::Value::Null);
        assert_eq!(event["messages"], serde_json::Value::Null);
    }
}
