//! The NDJSON decoder (`codec::ndjson::NdjsonDecoder`) under arbitrary chunking, with the
//! default line cap and with a small one (flag bit 0; the cap is 1–256 bytes, from
//! the second flag byte).
//!
//! Checked against a model (the payload split at `\n`, a leading BOM and one `\r`
//! before each `\n` dropped, blank lines skipped, a line over the cap failing the
//! stream): the chunked run, the run with the payload pushed whole and the model
//! agree on the lines and on the failure; the buffer never holds more than the cap
//! plus one chunk; `finish` leaves the decoder empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_filter::codec::ndjson::{NdjsonDecoder, NdjsonError, DEFAULT_MAX_LINE_BYTES};
use switchyard_fuzz::Framed;

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    lines: Vec<Vec<u8>>,
    error: Option<NdjsonError>,
}

fn decode(max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut d = NdjsonDecoder::with_max_line_bytes(max);
    let mut lines = Vec::new();
    let mut error = None;
    for chunk in chunks {
        d.push(chunk);
        if error.is_none() {
            assert!(
                d.pending_bytes() <= max.saturating_add(chunk.len()).saturating_add(2),
                "pending {} bytes with a cap of {max} after a {}-byte chunk",
                d.pending_bytes(),
                chunk.len()
            );
        }
        loop {
            match d.next_line() {
                Ok(Some(line)) => lines.push(line.to_vec()),
                Ok(None) => break,
                Err(e) => {
                    if let Some(first) = error {
                        assert_eq!(e, first, "a failed decoder stays failed");
                    }
                    error = Some(e);
                    assert_eq!(d.pending_bytes(), 0, "a failed decoder holds nothing");
                    break;
                }
            }
        }
    }
    loop {
        match d.finish() {
            Ok(Some(line)) => lines.push(line.to_vec()),
            Ok(None) => break,
            Err(e) => {
                // The decoder's own failure, or the last line over the cap (found
                // only now when it was a split BOM, which `next_line` waits on).
                if let Some(first) = error {
                    assert_eq!(e, first, "finish reports the failure the decoder had");
                }
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(d.pending_bytes(), 0, "finish empties the decoder");
    assert_eq!(d.error(), None, "finish resets the decoder");
    Outcome { lines, error }
}

/// What the decoder must hand out, computed the obvious way.
fn model(max: usize, payload: &[u8]) -> Outcome {
    let text = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    let mut lines = Vec::new();
    for raw in text.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > max {
            return Outcome {
                lines,
                error: Some(NdjsonError::LineTooLarge { limit: max }),
            };
        }
        if !line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            lines.push(line.to_vec());
        }
    }
    Outcome { lines, error: None }
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let max = if input.bit(0) {
        usize::from(input.flags[1]) + 1
    } else {
        DEFAULT_MAX_LINE_BYTES
    };
    let chunked = decode(max, &input.chunks());
    for line in &chunked.lines {
        assert!(!line.contains(&b'\n') && line.len() <= max);
    }
    let whole = decode(max, &[input.payload]);
    assert_eq!(chunked, whole, "the lines depend on the chunking");
    assert_eq!(
        whole,
        model(max, input.payload),
        "the decoder disagrees with the model"
    );
});
