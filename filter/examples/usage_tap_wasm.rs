//! A wasm micro-benchmark of the OpenAI `UsageTap` (the stream passthrough's per-event
//! work): N passes over a 43-event OpenAI stream with `"usage":null` in every chunk and
//! a usage-only chunk at the end, either hiding that chunk (`strip`, the client did not
//! ask for usage) or passing the bytes (`pass`).
//!
//! Host micro-benchmarks (`bench/micro`) can mislead about the filter as it ships: on
//! x86-64, std's `str::contains` takes an SSE2 path that wasm32 does not have. This
//! runs the code compiled as shipped (wasm32-wasip1, the `wasm` profile) in V8 and
//! prints CPU time; `bench/README.md` ("wasm micro-benchmarks") says how to A/B two
//! commits with it:
//!
//! ```sh
//! cargo build --profile wasm --target wasm32-wasip1 -p switchyard-filter --example usage_tap_wasm
//! node bench/wasm-cpu.mjs target/wasm32-wasip1/wasm/examples/usage_tap_wasm.wasm 20000 strip
//! ```
use switchyard_filter::providers::openai::UsageTap;
use switchyard_filter::providers::StreamTranslate;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let strip = std::env::args().nth(2).as_deref() != Some("pass");
    let mut events = Vec::new();
    events.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#.to_string());
    for i in 0..40 {
        events.push(format!(r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{{"index":0,"delta":{{"content":"word{i} "}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#));
    }
    events.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#.to_string());
    events.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":40,"total_tokens":52}}"#.to_string());
    let mut stream = String::new();
    for e in &events {
        stream.push_str("data: ");
        stream.push_str(e);
        stream.push_str("\n\n");
    }
    stream.push_str("data: [DONE]\n\n");
    let chunks: Vec<&[u8]> = stream.as_bytes().chunks(512).collect();
    let mut total = 0usize;
    for _ in 0..n {
        let mut tap = UsageTap::new(strip);
        let mut out = Vec::with_capacity(stream.len());
        for c in &chunks {
            tap.push(c, &mut out);
        }
        tap.finish(&mut out);
        total += out.len() + tap.usage().map_or(0, |u| u.completion_tokens as usize);
    }
    println!("{total}");
}
