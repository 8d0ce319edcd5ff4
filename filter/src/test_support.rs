//! Test helpers shared by the provider unit tests (compiled for tests only):
//! feed a whole stream to a [`StreamTranslate`] at once, at every split point and
//! byte by byte, and check the output does not depend on how the bytes arrived;
//! read the written SSE `data:` events back as JSON; build a router stage's config.

use serde_json::{json, Value};

use crate::cost::Usage;
use crate::plugin_config::{GroupConfig, RouterConfig};
use crate::providers::StreamTranslate;

/// A model group `name` with no endpoint and no mock answer (its route key is its
/// name).
pub fn group(name: &str) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: None,
        endpoints: vec![],
    }
}

/// A router stage's config serving `groups` and nothing else: no alias, a 1 MiB body
/// limit, no keys, metrics as configured by default, no callbacks. Tests change the
/// fields they are about with `RouterConfig { field, ..router_config(groups) }`.
pub fn router_config(groups: Vec<GroupConfig>) -> RouterConfig {
    RouterConfig {
        groups,
        aliases: Default::default(),
        hidden_aliases: Default::default(),
        max_request_body_bytes: 1 << 20,
        error_fallbacks: Default::default(),
        defer_answers: false,
        spend_reporting: None,
        forced_group: None,
        metrics: Default::default(),
        info: Default::default(),
        callbacks: None,
        retries: Default::default(),
    }
}

/// Feeds `chunks` in order, then finishes; returns the output and the usage.
pub fn run_stream<T: StreamTranslate>(
    mut translator: T,
    chunks: &[&[u8]],
) -> (Vec<u8>, Option<Usage>) {
    let mut out = Vec::new();
    for chunk in chunks {
        translator.push(chunk, &mut out);
    }
    translator.finish(&mut out);
    let usage = translator.usage();
    (out, usage)
}

/// Feeds `stream` whole, then split in two at every byte position, then byte by
/// byte, each time into a fresh translator from `make`; asserts every run writes
/// the same bytes and reports the same usage. Returns the whole-stream output and usage.
pub fn assert_split_invariant<T, F>(make: F, stream: &[u8]) -> (Vec<u8>, Option<Usage>)
where
    T: StreamTranslate,
    F: Fn() -> T,
{
    let whole = run_stream(make(), &[stream]);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        let split = run_stream(make(), &[a, b]);
        assert_eq!(
            String::from_utf8_lossy(&split.0),
            String::from_utf8_lossy(&whole.0),
            "split at {cut}"
        );
        assert_eq!(split.1, whole.1, "usage, split at {cut}");
    }
    let singles: Vec<&[u8]> = stream.chunks(1).collect();
    let bytewise = run_stream(make(), &singles);
    assert_eq!(bytewise.0, whole.0, "byte by byte");
    assert_eq!(bytewise.1, whole.1, "usage, byte by byte");
    whole
}

/// The `data:` events of an SSE output, parsed as JSON; `[DONE]` (or any data
/// that is not JSON) as a JSON string. Panics on an event without `data: `.
pub fn sse_data_events(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).expect("UTF-8 output");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data: ").expect("data events only");
            serde_json::from_str(data).unwrap_or_else(|_| json!(data))
        })
        .collect()
}
