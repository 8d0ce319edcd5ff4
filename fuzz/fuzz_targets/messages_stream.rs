//! The Anthropic-format stream of `/v1/messages` for non-Anthropic deployments:
//! `client::anthropic::StreamToMessages` fed an OpenAI SSE stream, and `client::anthropic::Chain` (each
//! provider's own stream translator, then `StreamToMessages`) fed that provider's
//! native stream, both in fuzzer-chosen chunks, then finished.
//!
//! Input: `Framed` (see `src/lib.rs`); bit 0 of the flags: a stop sequence (`END`)
//! was asked for.
//!
//! Checked, differentially: output and usage do not depend on where the stream was
//! cut. And the output is always Anthropic's event grammar: each event an `event:
//! NAME` line and one `data:` line of JSON whose `type` is NAME; it starts with
//! `message_start` (or is one `error`), content blocks are started, stopped and
//! indexed in order, and it ends with exactly one terminal event — `message_stop`
//! after a `message_delta`, or `error`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_filter::cost::Usage;
use switchyard_filter::endpoint::Endpoint;
use switchyard_filter::client::anthropic::{Chain, MessagesContext, StreamToMessages};
use switchyard_filter::providers::{
    stream_translator, ProviderKind, ResponseContext, StreamTranslate,
};
use switchyard_fuzz::{Framed, PROVIDERS};

fn translator(provider: Option<ProviderKind>, stops: bool) -> Box<dyn StreamTranslate> {
    let ctx = MessagesContext {
        model: "m".into(),
        id: "msg_1".into(),
        stop_sequences: if stops { vec!["END".into()] } else { vec![] },
    };
    match provider {
        None => Box::new(StreamToMessages::new(ctx)),
        Some(p) => {
            let inner = stream_translator(
                p,
                Endpoint::ChatCompletions,
                ResponseContext {
                    created: 1_700_000_000,
                    model: "m".into(),
                    include_usage: true,
                },
            );
            Box::new(Chain::new(inner, ctx))
        }
    }
}

fn run(provider: Option<ProviderKind>, stops: bool, chunks: &[&[u8]]) -> (Vec<u8>, Option<Usage>) {
    let mut t = translator(provider, stops);
    let mut out = Vec::new();
    for chunk in chunks {
        t.push(chunk, &mut out);
    }
    t.finish(&mut out);
    (out, t.usage())
}

/// Panics unless `out` follows Anthropic's stream grammar (see the module docs).
fn check_grammar(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("UTF-8 output");
    assert!(text.ends_with("\n\n"), "ends mid-event: {text:?}");
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e
                .split_once('\n')
                .unwrap_or_else(|| panic!("one line: {e:?}"));
            let name = name
                .strip_prefix("event: ")
                .unwrap_or_else(|| panic!("no event line: {e:?}"));
            let data = data
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("no data line: {e:?}"));
            assert!(!data.contains('\n'), "two data lines: {e:?}");
            let v: Value = serde_json::from_str(data)
                .unwrap_or_else(|err| panic!("data not JSON ({err}): {data:?}"));
            assert_eq!(v["type"], name, "type differs from the event name: {e:?}");
            (name, v)
        })
        .collect();
    let (last, _) = events.last().expect("never silent");
    assert!(
        matches!(*last, "message_stop" | "error"),
        "ends with {last}: {text:?}"
    );
    let terminals = events
        .iter()
        .filter(|(n, _)| matches!(*n, "message_stop" | "error"))
        .count();
    assert_eq!(terminals, 1, "one terminal event: {text:?}");
    if *last == "message_stop" {
        assert_eq!(events.first().map(|(n, _)| *n), Some("message_start"));
        assert_eq!(
            events.get(events.len() - 2).map(|(n, _)| *n),
            Some("message_delta")
        );
    }
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for (name, v) in &events {
        match *name {
            "content_block_start" => {
                assert_eq!(open, None, "a block started inside another: {text:?}");
                assert_eq!(v["index"].as_u64(), Some(next), "blocks indexed in order");
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => {
                assert!(
                    v["index"].as_u64().is_some_and(|i| i < next),
                    "delta of an unknown block"
                );
            }
            "content_block_stop" => {
                assert_eq!(v["index"].as_u64(), open, "stops the open block");
                open = None;
            }
            "message_delta" => assert_eq!(open, None, "message_delta with a block open"),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let stops = input.bit(0);
    let chunks = input.chunks();
    let providers = std::iter::once(None).chain(
        PROVIDERS
            .into_iter()
            .filter(|p| *p != ProviderKind::Anthropic)
            .map(Some),
    );
    for provider in providers {
        let (out, usage) = run(provider, stops, &chunks);
        let whole = run(provider, stops, &[input.payload]);
        assert!(
            out == whole.0,
            "{provider:?}: output depends on chunking\nchunked: {:?}\nwhole:   {:?}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole.0)
        );
        assert_eq!(usage, whole.1, "{provider:?}: usage depends on chunking");
        check_grammar(&out);
    }
});
