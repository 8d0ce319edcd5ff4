//! The AWS event-stream decoder (`codec::eventstream::EventStreamDecoder`) under arbitrary
//! chunking. Random bytes almost never pass a CRC, so by default the payload
//! *describes* messages and the target encodes them with correct lengths and CRCs:
//! repeatedly a header-block length byte, that many header-block bytes, a payload
//! length byte, that many payload bytes. The header blocks are taken as given, so
//! they may be malformed.
//!
//! Flags: bit 0 the payload is the wire bytes themselves (no encoding); bit 1 a
//! small message cap (16 + 4·`flags[1]` bytes); bit 2 the encoded stream loses its
//! last `flags[1] % 16 + 1` bytes; bit 3 one encoded byte is flipped.
//!
//! Checked: the chunked run and the run with the stream pushed whole agree
//! (messages, error, `finish`); every decoded message is one that was encoded — its
//! payload, and its headers encode back to its header block — in order, and when
//! nothing was corrupted, truncated or capped every message comes out unless a
//! header block is malformed (then decoding stops there with `InvalidHeader`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_filter::codec::eventstream::{
    crc32, EventStreamDecoder, EventStreamError, HeaderValue, MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES,
};
use switchyard_fuzz::Framed;

/// One message as (header block re-encoded from the parsed headers, payload).
type Owned = (Vec<u8>, Vec<u8>);

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<Owned>,
    error: Option<EventStreamError>,
    finish: Result<(), EventStreamError>,
}

fn encode_header(out: &mut Vec<u8>, name: &str, value: HeaderValue<'_>) {
    out.push(u8::try_from(name.len()).expect("names are at most 255 bytes"));
    out.extend_from_slice(name.as_bytes());
    match value {
        HeaderValue::Bool(true) => out.push(0),
        HeaderValue::Bool(false) => out.push(1),
        HeaderValue::Byte(v) => {
            out.push(2);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int16(v) => {
            out.push(3);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int32(v) => {
            out.push(4);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int64(v) => {
            out.push(5);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::ByteArray(v) => {
            out.push(6);
            out.extend_from_slice(&u16::try_from(v.len()).expect("u16 length").to_be_bytes());
            out.extend_from_slice(v);
        }
        HeaderValue::String(v) => {
            out.push(7);
            out.extend_from_slice(&u16::try_from(v.len()).expect("u16 length").to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        HeaderValue::Timestamp(v) => {
            out.push(8);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Uuid(v) => {
            out.push(9);
            out.extend_from_slice(&v);
        }
    }
}

fn encode_message(out: &mut Vec<u8>, headers: &[u8], payload: &[u8]) {
    let start = out.len();
    let total = MIN_MESSAGE_BYTES + headers.len() + payload.len();
    out.extend_from_slice(&u32::try_from(total).expect("small").to_be_bytes());
    out.extend_from_slice(&u32::try_from(headers.len()).expect("small").to_be_bytes());
    let prelude_crc = crc32(&out[start..]);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out[start..]);
    out.extend_from_slice(&message_crc.to_be_bytes());
}

/// The messages the payload describes.
fn describe(mut bytes: &[u8]) -> Vec<Owned> {
    let mut messages = Vec::new();
    while let Some((&h, rest)) = bytes.split_first() {
        let (headers, rest) = rest.split_at(usize::from(h).min(rest.len()));
        let (p, rest) = match rest.split_first() {
            Some((&p, rest)) => (p, rest),
            None => (0, rest),
        };
        let (payload, rest) = rest.split_at(usize::from(p).min(rest.len()));
        bytes = rest;
        messages.push((headers.to_vec(), payload.to_vec()));
    }
    messages
}

fn decode(max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut d = EventStreamDecoder::with_max_message_bytes(max);
    let mut messages = Vec::new();
    let mut error = None;
    for chunk in chunks {
        d.push(chunk);
        while error.is_none() {
            match d.next_message() {
                Ok(Some(m)) => {
                    let mut headers = Vec::new();
                    for h in m.headers() {
                        encode_header(&mut headers, h.name, h.value);
                    }
                    // The accessors must not trip over any header block.
                    let _ = (m.message_type(), m.event_type(), m.exception_type());
                    let _ = (m.content_type(), m.error_code(), m.error_message());
                    messages.push((headers, m.payload.to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    assert_eq!(d.pending_bytes(), 0, "a failed decoder holds nothing");
                    assert_eq!(
                        d.next_message().err(),
                        Some(e),
                        "a failed decoder stays failed"
                    );
                }
            }
        }
    }
    let finish = d.finish();
    if let Some(e) = error {
        assert_eq!(finish, Err(e), "finish reports the failure");
    }
    assert_eq!(d.pending_bytes(), 0, "finish resets the decoder");
    Outcome {
        messages,
        error,
        finish,
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let raw = input.bit(0);
    let max = if input.bit(1) {
        16 + 4 * usize::from(input.flags[1])
    } else {
        MAX_MESSAGE_BYTES
    };
    let described = if raw {
        Vec::new()
    } else {
        describe(input.payload)
    };
    let mut wire = if raw {
        input.payload.to_vec()
    } else {
        let mut out = Vec::new();
        for (headers, payload) in &described {
            encode_message(&mut out, headers, payload);
        }
        out
    };
    let truncated = input.bit(2) && !wire.is_empty();
    if truncated {
        let cut = usize::from(input.flags[1] % 16) + 1;
        wire.truncate(wire.len().saturating_sub(cut));
    }
    let flipped = input.bit(3) && !wire.is_empty();
    if flipped {
        let at = usize::from(input.flags[1]).wrapping_mul(7) % wire.len();
        wire[at] ^= 0x01;
    }

    let chunked = decode(max, &input.with_payload(&wire).chunks());
    let whole = decode(max, &[&wire]);
    assert_eq!(chunked, whole, "decoding depends on the chunking");
    if raw {
        return;
    }
    // Decoded messages are the encoded ones, in order (a flipped bit can only make
    // its message fail, never turn it into another: CRC32 catches every one-bit
    // error).
    assert!(whole.messages.len() <= described.len());
    assert_eq!(whole.messages[..], described[..whole.messages.len()]);
    if !flipped && !truncated && !input.bit(1) {
        match whole.error {
            None => {
                assert_eq!(
                    whole.messages.len(),
                    described.len(),
                    "every message decodes"
                );
                assert_eq!(whole.finish, Ok(()));
            }
            Some(EventStreamError::InvalidHeader { .. }) => {
                assert!(whole.messages.len() < described.len());
            }
            Some(e) => panic!("a well-formed stream failed: {e}"),
        }
    }
});
