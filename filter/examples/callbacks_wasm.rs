//! A wasm micro-benchmark of the logging callbacks' per-request work in the filter
//! (everything but the hostcalls): the router stage's second parse of the request body
//! into [`RequestDetails`] (message logging on), the `langfuse` and `otel` encodings
//! of the request's record, and the queue's share (push, take_batch, ack_all, in
//! batches of `EVENTS_PER_BATCH`). `bench/bench.py`'s `sy-cb-ok` target is the same request
//! in Envoy.
//!
//! Runs one part or all of it N times (`details`, `langfuse`, `otel`, `queue`, `all`),
//! so each part's share can be read off:
//!
//! ```sh
//! cargo build --profile wasm --target wasm32-wasip1 -p switchyard-filter --example callbacks_wasm
//! node bench/wasm-cpu.mjs target/wasm32-wasip1/wasm/examples/callbacks_wasm.wasm 20000 all
//! ```
use switchyard_contract::plugin_config::CallbackKind;
use switchyard_filter::cost::Usage;
use switchyard_filter::observe::callbacks::{encode, envelope, EVENTS_PER_BATCH, MAX_BATCH_BYTES};
use switchyard_filter::observe::{AttemptRecord, KeyLabels, RequestDetails, RequestRecord};
use switchyard_filter::outbox::Outbox;

/// bench/payloads.py's `chat_request("bench-openai")`, as the client sends it.
const BODY: &[u8] = br#"{"model": "bench-openai", "messages": [{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": "In one sentence: why run an LLM gateway inside Envoy?"}], "max_tokens": 64, "temperature": 0.2}"#;

fn record(i: usize, details: Option<RequestDetails>) -> RequestRecord {
    let start = 1_796_647_936_000 + i as u64;
    RequestRecord {
        call_id: format!("0d2f6a1c-9b3e-4c5d-8e7f-{i:012x}"),
        route: "/v1/chat/completions".into(),
        call_type: "acompletion".into(),
        requested_model: "bench-openai".into(),
        status: 200,
        start_ms: start,
        end_ms: start + 3,
        key: KeyLabels::default(),
        attempts: vec![AttemptRecord {
            model_id: "bench-openai-0".into(),
            model: "openai/gpt-bench".into(),
            model_group: "bench-openai".into(),
            api_provider: "openai".into(),
            api_base: "http://127.0.0.1:8080/v1".into(),
            status: 200,
            start_ms: start + 1,
            end_ms: start + 2,
            usage: Some(Usage {
                prompt_tokens: 31,
                completion_tokens: 40,
                ..Default::default()
            }),
            spend: 0.00042,
            ..Default::default()
        }],
        details: details.map(Box::new),
        ..Default::default()
    }
}

fn details() -> Option<RequestDetails> {
    serde_json::from_slice::<serde_json::Value>(BODY)
        .ok()
        .map(|v| RequestDetails::from_request(&v, true))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let part = std::env::args().nth(2).unwrap_or_else(|| "all".into());
    let fixed = details();
    let mut total = 0usize;
    let mut queues = [Outbox::new(1000, Some(5)), Outbox::new(1000, Some(5))];
    let kinds = [CallbackKind::Langfuse, CallbackKind::Otel];
    for i in 0..n {
        match part.as_str() {
            "details" => total += details().map_or(0, |d| d.model_parameters.len()),
            "langfuse" => total += encode(kinds[0], &record(i, fixed.clone()), true).len(),
            "otel" => total += encode(kinds[1], &record(i, fixed.clone()), true).len(),
            "queue" => {
                for q in queues.iter_mut() {
                    q.push(vec![b'x'; 1500], i as u64);
                }
            }
            _ => {
                let r = record(i, details());
                for (q, kind) in queues.iter_mut().zip(kinds) {
                    q.push(encode(kind, &r, true), i as u64);
                }
            }
        }
        if (part == "queue" || part == "all") && (i + 1) % EVENTS_PER_BATCH == 0 {
            for (q, kind) in queues.iter_mut().zip(kinds) {
                let (open, close) = envelope(kind);
                let (ids, body) =
                    q.take_batch(i as u64, EVENTS_PER_BATCH, MAX_BATCH_BYTES, open, close);
                total += body.len();
                q.ack_all(&ids);
            }
        }
    }
    println!("{total}");
}
