//! Byte-stream framing of provider answers, sans-IO: Server-Sent Events
//! ([`sse`]), newline-delimited JSON ([`ndjson`]) and AWS event-stream
//! ([`eventstream`]). Envoy hands the filter a body in chunks split anywhere; a
//! decoder buffers them and hands out whole frames.
//!
//! All three have one shape, the [`Decoder`] trait: `push` a chunk, take
//! `next_frame` until `Ok(None)`, and after an error the decoder stays failed
//! (`error`). How a stream *ends* differs by format (an SSE event without its
//! blank line is dropped, an NDJSON line without its newline is still a line, an
//! event-stream message cut short is an error), so each keeps its own `finish`.

use std::fmt::{Debug, Display};

pub mod eventstream;
pub mod ndjson;
pub mod sse;

/// An incremental decoder of one framing format.
pub trait Decoder {
    /// One decoded frame, borrowed from the decoder until the next call.
    type Frame<'a>
    where
        Self: 'a;
    /// Why the decoder gave up.
    type Error: Copy + Debug + Display + PartialEq;

    /// Appends a chunk of the stream.
    fn push(&mut self, chunk: &[u8]);
    /// The next complete frame, `Ok(None)` when more bytes are needed; once it
    /// returned an error it returns the same error.
    fn next_frame(&mut self) -> Result<Option<Self::Frame<'_>>, Self::Error>;
    /// Bytes held and not yet handed out.
    fn pending_bytes(&self) -> usize;
    /// The error the decoder stopped on, if any.
    fn error(&self) -> Option<Self::Error>;
}

impl Decoder for sse::SseDecoder {
    type Frame<'a> = sse::SseEvent<'a>;
    type Error = sse::SseError;

    fn push(&mut self, chunk: &[u8]) {
        sse::SseDecoder::push(self, chunk);
    }
    fn next_frame(&mut self) -> Result<Option<sse::SseEvent<'_>>, sse::SseError> {
        self.next_event()
    }
    fn pending_bytes(&self) -> usize {
        sse::SseDecoder::pending_bytes(self)
    }
    fn error(&self) -> Option<sse::SseError> {
        sse::SseDecoder::error(self)
    }
}

impl Decoder for ndjson::NdjsonDecoder {
    type Frame<'a> = &'a [u8];
    type Error = ndjson::NdjsonError;

    fn push(&mut self, chunk: &[u8]) {
        ndjson::NdjsonDecoder::push(self, chunk);
    }
    fn next_frame(&mut self) -> Result<Option<&[u8]>, ndjson::NdjsonError> {
        self.next_line()
    }
    fn pending_bytes(&self) -> usize {
        ndjson::NdjsonDecoder::pending_bytes(self)
    }
    fn error(&self) -> Option<ndjson::NdjsonError> {
        ndjson::NdjsonDecoder::error(self)
    }
}

impl Decoder for eventstream::EventStreamDecoder {
    type Frame<'a> = eventstream::Message<'a>;
    type Error = eventstream::EventStreamError;

    fn push(&mut self, chunk: &[u8]) {
        eventstream::EventStreamDecoder::push(self, chunk);
    }
    fn next_frame(
        &mut self,
    ) -> Result<Option<eventstream::Message<'_>>, eventstream::EventStreamError> {
        self.next_message()
    }
    fn pending_bytes(&self) -> usize {
        eventstream::EventStreamDecoder::pending_bytes(self)
    }
    fn error(&self) -> Option<eventstream::EventStreamError> {
        eventstream::EventStreamDecoder::error(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `stream` in pieces cut at `cuts` and maps every frame with `own`.
    fn frames<D: Decoder, T>(
        mut decoder: D,
        stream: &[u8],
        cuts: &[usize],
        own: impl Fn(D::Frame<'_>) -> T,
    ) -> Vec<T> {
        let mut out = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            decoder.push(&stream[last..cut]);
            last = cut;
            while let Ok(Some(frame)) = decoder.next_frame() {
                out.push(own(frame));
            }
        }
        assert_eq!(decoder.error(), None);
        out
    }

    /// Every decoder gives the same frames whole and split at every byte.
    fn split_invariant<D: Decoder, T: PartialEq + Debug>(
        make: impl Fn() -> D,
        stream: &[u8],
        own: impl Fn(D::Frame<'_>) -> T + Copy,
    ) -> Vec<T> {
        let whole = frames(make(), stream, &[], own);
        for cut in 0..=stream.len() {
            assert_eq!(frames(make(), stream, &[cut], own), whole, "cut at {cut}");
        }
        whole
    }

    #[test]
    fn one_shape_for_all_three_formats() {
        let sse = split_invariant(
            sse::SseDecoder::new,
            b"event: a\r\ndata: 1\r\n\r\ndata: 2\n\n",
            |e: sse::SseEvent<'_>| (e.event.map(str::to_string), e.data.to_string()),
        );
        assert_eq!(sse, [(Some("a".into()), "1".into()), (None, "2".into())]);

        let lines = split_invariant(
            ndjson::NdjsonDecoder::new,
            b"{\"a\":1}\r\n\n{}\n",
            |l: &[u8]| l.to_vec(),
        );
        assert_eq!(lines, [b"{\"a\":1}".to_vec(), b"{}".to_vec()]);

        let mut wire = eventstream::encode(&[], b"{\"x\":1}");
        wire.extend(eventstream::encode(&[], b"{}"));
        let payloads = split_invariant(eventstream::EventStreamDecoder::new, &wire, |m| {
            m.payload.to_vec()
        });
        assert_eq!(payloads, [b"{\"x\":1}".to_vec(), b"{}".to_vec()]);
    }
}
