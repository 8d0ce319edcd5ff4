//! The SSE decoder (`codec::sse::SseDecoder`) under arbitrary chunking, with the default
//! event cap and with a small one (flag bit 0; the cap is 1–256 bytes, from the
//! second flag byte).
//!
//! Checked, differentially: the events (and whether `finish` reports a partial
//! event) do not depend on the chunking, as long as neither run hit the cap; the
//! pending buffer never grows past the cap by more than one chunk; a failed decoder
//! stays failed and holds nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_filter::codec::sse::{SseDecoder, DEFAULT_MAX_EVENT_BYTES};
use switchyard_fuzz::Framed;

type Owned = (Option<String>, String);

struct Outcome {
    events: Vec<Owned>,
    failed: bool,
    partial: bool,
}

fn decode(max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut d = SseDecoder::with_max_event_bytes(max);
    let mut events = Vec::new();
    let mut failed = false;
    for chunk in chunks {
        d.push(chunk);
        assert!(
            d.pending_bytes() <= max.saturating_add(chunk.len()) || d.error().is_some(),
            "pending {} bytes with a cap of {max} after a {}-byte chunk",
            d.pending_bytes(),
            chunk.len()
        );
        loop {
            match d.next_event() {
                Ok(Some(e)) => {
                    assert!(e.data.len() + e.event.map_or(0, str::len) <= max);
                    events.push((e.event.map(str::to_string), e.data.to_string()));
                }
                Ok(None) => break,
                Err(e) => {
                    failed = true;
                    assert_eq!(d.error(), Some(e));
                    assert_eq!(d.pending_bytes(), 0, "a failed decoder holds nothing");
                    assert_eq!(d.next_event(), Err(e), "a failed decoder stays failed");
                    break;
                }
            }
        }
        assert!(d.pending_bytes() <= max || failed);
    }
    let partial = d.finish();
    assert!(
        !(failed && partial),
        "a failed decoder reports no partial event"
    );
    assert_eq!(d.pending_bytes(), 0, "finish resets the decoder");
    Outcome {
        events,
        failed,
        partial,
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let max = if input.bit(0) {
        usize::from(input.flags[1]) + 1
    } else {
        DEFAULT_MAX_EVENT_BYTES
    };
    let chunked = decode(max, &input.chunks());
    let whole = decode(max, &[input.payload]);
    if !chunked.failed && !whole.failed {
        assert_eq!(chunked.events, whole.events, "events depend on chunking");
        assert_eq!(chunked.partial, whole.partial, "finish depends on chunking");
    } else {
        // Up to the failure, the events are the same.
        let n = chunked.events.len().min(whole.events.len());
        assert_eq!(chunked.events[..n], whole.events[..n]);
    }
});
