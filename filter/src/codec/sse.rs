//! Incremental Server-Sent Events decoding, sans-IO.
//!
//! Providers that do not speak OpenAI's wire format (Anthropic first) stream their
//! answers as `text/event-stream`. Envoy hands the filter the body in chunks that may
//! split anywhere — inside a field name, inside a UTF-8 sequence, between the `\r`
//! and `\n` of a line ending — so the stream translators feed every chunk to an
//! [`SseDecoder`] and take out whatever complete events it holds:
//!
//! ```
//! use switchyard_filter::codec::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! let mut seen = Vec::new();
//! for chunk in [&b"event: ping\nda"[..], b"ta: {}\n", b"\n"] {
//!     decoder.push(chunk);
//!     while let Ok(Some(event)) = decoder.next_event() {
//!         seen.push((event.event.map(str::to_string), event.data.to_string()));
//!     }
//! }
//! assert_eq!(seen, [(Some("ping".to_string()), "{}".to_string())]);
//! assert!(!decoder.finish());
//! ```
//!
//! What it implements, following the WHATWG "event stream interpretation" rules:
//!
//! * lines end in `\n`, `\r\n` or a lone `\r`; a `\r` at the end of a chunk ends its
//!   line at once, and a `\n` opening the next chunk is then skipped;
//! * `event:` sets the event name, `data:` lines are joined with `\n`, one space after
//!   the colon is dropped, a line with no colon is a field with an empty value;
//! * comments (`:` first) and the `id:` and `retry:` fields (and unknown fields) are
//!   ignored — the gateway neither reconnects nor resumes;
//! * a blank line dispatches the event, unless it had no `data` line at all;
//! * a UTF-8 byte-order mark opening the stream is dropped; invalid UTF-8 inside a
//!   line is replaced with U+FFFD rather than failing the stream.
//!
//! Parsing is lazy: [`SseDecoder::push`] only appends bytes, and
//! [`SseDecoder::next_event`] parses lines until it has a whole event, which it lends
//! out as an [`SseEvent`] borrowing the decoder's own buffers. Draining therefore
//! allocates nothing per event once the buffers have grown to the stream's event size.
//! Call `next_event` until it returns `Ok(None)` after each `push`.
//!
//! **Growth is bounded.** One event — the fields gathered so far plus its unfinished
//! line — may hold at most [`DEFAULT_MAX_EVENT_BYTES`] (or the limit given to
//! [`SseDecoder::with_max_event_bytes`]). Past that `next_event` returns
//! [`SseError::EventTooLarge`], drops what it holds and stays failed: a peer that
//! never ends an event cannot make the filter buffer forever. (The check runs as
//! lines are parsed and whenever `next_event` runs out of complete lines, so the
//! buffer never exceeds the limit by more than one pushed chunk.)

use std::borrow::Cow;

/// The default cap on one pending event: 8 MiB, far above any real provider event
/// (Anthropic's are a few hundred bytes) yet small enough for a wasm VM's heap.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One dispatched event, borrowed from the decoder until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` name, or `None` when the event had none (SSE calls that
    /// `message`).
    pub event: Option<&'a str>,
    /// The `data:` lines joined with `\n` (no trailing newline).
    pub data: &'a str,
}

/// Why the decoder gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseError {
    /// One event grew past `limit` bytes without ending.
    EventTooLarge {
        /// The cap that was exceeded, in bytes.
        limit: usize,
    },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => {
                write!(
                    f,
                    "a server-sent event exceeded {limit} bytes without ending"
                )
            }
        }
    }
}

impl std::error::Error for SseError {}

/// An incremental SSE parser: bytes in, events out.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    /// Bytes pushed but not yet parsed; `buf[pos..]` is unread.
    buf: Vec<u8>,
    pos: usize,
    /// The pending event's name (valid when `has_event`).
    event: String,
    has_event: bool,
    /// The pending event's data, each line followed by `\n`.
    data: String,
    has_data: bool,
    /// The last line ended in `\r`: a `\n` right after it belongs to that ending.
    skip_lf: bool,
    /// Nothing has been parsed yet (a leading BOM is still to be dropped).
    at_start: bool,
    /// The event lent out by the last `next_event` must be cleared first.
    lent: bool,
    max_event_bytes: usize,
    failed: Option<SseError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the [`DEFAULT_MAX_EVENT_BYTES`] cap.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder that fails once one event exceeds `max_event_bytes`.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        SseDecoder {
            buf: Vec::new(),
            pos: 0,
            event: String::new(),
            has_event: false,
            data: String::new(),
            has_data: false,
            skip_lf: false,
            at_start: true,
            lent: false,
            max_event_bytes,
            failed: None,
        }
    }

    /// Appends one chunk of the stream. Nothing is parsed until [`Self::next_event`].
    /// Ignored once the decoder has failed.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() || chunk.is_empty() {
            return;
        }
        if self.pos > 0 {
            // Only the unfinished line (and any undrained events) is kept.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if the pushed bytes hold one.
    ///
    /// `Ok(None)` means more bytes are needed. After an error every call returns the
    /// same error.
    pub fn next_event(&mut self) -> Result<Option<SseEvent<'_>>, SseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.lent {
            self.lent = false;
            self.clear_event();
        }
        loop {
            let Some((start, end, next)) = self.next_line() else {
                let pending = self.pending_bytes();
                if pending > self.max_event_bytes {
                    return Err(self.fail());
                }
                return Ok(None);
            };
            self.pos = next;
            if start == end {
                // Blank line: dispatch (an event without data is dropped, per spec).
                if self.has_data {
                    self.lent = true;
                    let data = self.data.strip_suffix('\n').unwrap_or(&self.data);
                    let event = if self.has_event {
                        Some(self.event.as_str())
                    } else {
                        None
                    };
                    return Ok(Some(SseEvent { event, data }));
                }
                self.clear_event();
                continue;
            }
            self.process_line(start, end);
            if self.data.len() + self.event.len() > self.max_event_bytes {
                return Err(self.fail());
            }
        }
    }

    /// Pushes `chunk` and hands the data of each complete event to `on_event`, until
    /// it returns `false` (the stream is over; what follows stays unread). Returns the
    /// decoder's error when it gave up (see [`Self::next_event`]).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&str) -> bool,
    ) -> Result<(), SseError> {
        self.push(chunk);
        while let Some(event) = self.next_event()? {
            if !on_event(event.data) {
                break;
            }
        }
        Ok(())
    }

    /// Ends the stream: drops whatever is pending and reports whether an event was
    /// left unterminated (an unfinished line, or fields not yet closed by a blank
    /// line). Per SSE such an event is never dispatched. The decoder is then reset.
    pub fn finish(&mut self) -> bool {
        if self.lent {
            self.lent = false;
            self.clear_event();
        }
        let partial =
            self.failed.is_none() && (self.has_data || self.has_event || self.buf.len() > self.pos);
        *self = Self::with_max_event_bytes(self.max_event_bytes);
        partial
    }

    /// Bytes held for the event being assembled (its fields plus the unfinished line).
    pub fn pending_bytes(&self) -> usize {
        self.data.len() + self.event.len() + self.buf.len().saturating_sub(self.pos)
    }

    /// The error the decoder stopped on, if any.
    pub fn error(&self) -> Option<SseError> {
        self.failed
    }

    fn fail(&mut self) -> SseError {
        let e = SseError::EventTooLarge {
            limit: self.max_event_bytes,
        };
        self.failed = Some(e);
        self.buf = Vec::new();
        self.pos = 0;
        self.data = String::new();
        self.event = String::new();
        self.has_data = false;
        self.has_event = false;
        e
    }

    fn clear_event(&mut self) {
        self.event.clear();
        self.data.clear();
        self.has_event = false;
        self.has_data = false;
    }

    /// Finds the next complete line in `buf[pos..]`: its content range and the index
    /// after its ending. Handles a `\n` left over from a `\r` that ended a chunk.
    fn next_line(&mut self) -> Option<(usize, usize, usize)> {
        let mut start = self.pos;
        if self.skip_lf {
            match self.buf.get(start) {
                None => return None,
                Some(b'\n') => start += 1,
                Some(_) => {}
            }
            self.skip_lf = false;
            self.pos = start;
        }
        if self.at_start {
            // The BOM may itself arrive split; wait until it can be told apart.
            let rest = self.buf.get(start..).unwrap_or_default();
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if rest.len() < BOM.len() && BOM.starts_with(rest) {
                return None;
            }
            if rest.starts_with(BOM) {
                start += BOM.len();
                self.pos = start;
            }
            self.at_start = false;
        }
        let rest = self.buf.get(start..)?;
        let offset = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
        let end = start + offset;
        if self.buf.get(end) == Some(&b'\r') {
            match self.buf.get(end + 1) {
                Some(b'\n') => Some((start, end, end + 2)),
                Some(_) => Some((start, end, end + 1)),
                None => {
                    // The `\n` of a `\r\n` may be in the next chunk.
                    self.skip_lf = true;
                    Some((start, end, end + 1))
                }
            }
        } else {
            Some((start, end, end + 1))
        }
    }

    fn process_line(&mut self, start: usize, end: usize) {
        let Some(line) = self.buf.get(start..end) else {
            return;
        };
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let field = line.get(..colon).unwrap_or_default();
                let value = line.get(colon + 1..).unwrap_or_default();
                (field, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.data.push_str(&utf8(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&utf8(value));
                self.has_event = true;
            }
            // `id`, `retry` and unknown fields: nothing to do for the gateway.
            _ => {}
        }
    }
}

fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (Option<String>, String);

    fn drain(d: &mut SseDecoder, into: &mut Vec<Owned>) {
        while let Some(e) = d.next_event().unwrap() {
            into.push((e.event.map(str::to_string), e.data.to_string()));
        }
    }

    fn decode_chunks(chunks: &[&[u8]]) -> (Vec<Owned>, bool) {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            drain(&mut d, &mut out);
        }
        let partial = d.finish();
        (out, partial)
    }

    fn ev(name: Option<&str>, data: &str) -> Owned {
        (name.map(str::to_string), data.to_string())
    }

    const ANTHROPIC: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n: keep-alive comment\nid: 7\nretry: 1000\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"h\u{e9}llo \u{1F600}\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    fn expected_anthropic() -> Vec<Owned> {
        vec![
            ev(Some("message_start"), "{\"type\":\"message_start\"}"),
            ev(Some("ping"), "{\"type\": \"ping\"}"),
            ev(
                Some("content_block_delta"),
                "{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"h\u{e9}llo \u{1F600}\"}}",
            ),
            ev(Some("message_stop"), "{\"type\":\"message_stop\"}"),
        ]
    }

    #[test]
    fn whole_stream_yields_events_and_skips_comments_id_retry() {
        let (events, partial) = decode_chunks(&[ANTHROPIC.as_bytes()]);
        assert_eq!(events, expected_anthropic());
        assert!(!partial);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        for ending in ["\n", "\r\n", "\r"] {
            let text = ANTHROPIC.replace('\n', ending);
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                let (a, b) = bytes.split_at(cut);
                let (events, partial) = decode_chunks(&[a, b]);
                assert_eq!(events, expected_anthropic(), "ending {ending:?} cut {cut}");
                assert!(!partial, "ending {ending:?} cut {cut}");
            }
        }
    }

    #[test]
    fn byte_at_a_time_and_three_way_splits() {
        let text = ANTHROPIC.replace('\n', "\r\n");
        let bytes = text.as_bytes();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_chunks(&singles).0, expected_anthropic());
        for i in (0..bytes.len()).step_by(7) {
            for j in i..bytes.len() {
                let (events, _) = decode_chunks(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(events, expected_anthropic(), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn multi_line_data_and_space_rules() {
        let (events, _) = decode_chunks(&[b"data:a\ndata:  b\ndata\ndata: c\n\n"]);
        assert_eq!(events, vec![ev(None, "a\n b\n\nc")]);
    }

    #[test]
    fn empty_data_is_dispatched_but_no_data_is_not() {
        let (events, _) = decode_chunks(&[b"event: x\n\ndata:\n\nevent: y\ndata\n\n"]);
        assert_eq!(events, vec![ev(None, ""), ev(Some("y"), "")]);
    }

    #[test]
    fn event_name_resets_between_events() {
        let (events, _) = decode_chunks(&[b"event: a\ndata: 1\n\ndata: 2\n\n"]);
        assert_eq!(events, vec![ev(Some("a"), "1"), ev(None, "2")]);
    }

    #[test]
    fn mixed_line_endings() {
        let (events, _) = decode_chunks(&[b"data: 1\r\rdata: 2\r\n\ndata: 3\n\r\n"]);
        assert_eq!(events, vec![ev(None, "1"), ev(None, "2"), ev(None, "3")]);
    }

    #[test]
    fn cr_at_chunk_end_then_data() {
        // `\r` ends the line; the next chunk starts a new line, not a `\n`.
        let (events, _) = decode_chunks(&[b"data: 1\r", b"\r", b"data: 2\r", b"\n\r", b"\n"]);
        assert_eq!(events, vec![ev(None, "1"), ev(None, "2")]);
    }

    #[test]
    fn utf8_split_inside_a_sequence() {
        let text = "data: \u{1F600}\u{e9}\n\n";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let (events, _) = decode_chunks(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(events, vec![ev(None, "\u{1F600}\u{e9}")], "cut {cut}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (events, _) = decode_chunks(&[b"data: a\xffb\n\n"]);
        assert_eq!(events, vec![ev(None, "a\u{FFFD}b")]);
    }

    #[test]
    fn leading_bom_is_dropped_even_split() {
        let text = b"\xEF\xBB\xBFdata: x\n\n";
        for cut in 0..text.len() {
            let (events, _) = decode_chunks(&[&text[..cut], &text[cut..]]);
            assert_eq!(events, vec![ev(None, "x")], "cut {cut}");
        }
        // A BOM later in the stream is data, not dropped.
        let (events, _) = decode_chunks(&[b"data: x\n\n\xEF\xBB\xBFdata: y\n\n"]);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn finish_reports_unterminated_events() {
        assert!(
            decode_chunks(&[b"data: x\n"]).1,
            "fields without blank line"
        );
        assert!(decode_chunks(&[b"data: x"]).1, "unfinished line");
        assert!(decode_chunks(&[b"event: x\n"]).1, "event name only");
        assert!(!decode_chunks(&[b"data: x\n\n"]).1);
        assert!(!decode_chunks(&[b""]).1);
        let (events, partial) = decode_chunks(&[b"data: 1\n\ndata: 2"]);
        assert_eq!(events, vec![ev(None, "1")]);
        assert!(partial);
    }

    #[test]
    fn finish_resets_for_reuse() {
        let mut d = SseDecoder::new();
        d.push(b"data: stale");
        assert!(d.finish());
        d.push(b"data: fresh\n\n");
        let e = d.next_event().unwrap().unwrap();
        assert_eq!(e.data, "fresh");
    }

    #[test]
    fn oversized_event_fails_and_stays_failed() {
        let mut d = SseDecoder::with_max_event_bytes(64);
        d.push(b"data: ");
        assert_eq!(d.next_event(), Ok(None));
        for _ in 0..10 {
            d.push(&[b'x'; 10]);
            if d.next_event().is_err() {
                break;
            }
        }
        assert_eq!(d.next_event(), Err(SseError::EventTooLarge { limit: 64 }));
        assert_eq!(d.error(), Some(SseError::EventTooLarge { limit: 64 }));
        d.push(b"\n\ndata: later\n\n");
        assert!(d.next_event().is_err());
        assert!(d.pending_bytes() == 0, "buffers released");
        assert!(!d.finish(), "nothing partial once failed");
    }

    #[test]
    fn many_data_lines_count_toward_the_cap() {
        let mut d = SseDecoder::with_max_event_bytes(100);
        let mut chunk = Vec::new();
        for _ in 0..20 {
            chunk.extend_from_slice(b"data: 0123456789\n");
        }
        d.push(&chunk);
        assert!(matches!(
            d.next_event(),
            Err(SseError::EventTooLarge { .. })
        ));
    }

    #[test]
    fn many_small_events_in_one_big_chunk_are_fine() {
        let mut d = SseDecoder::with_max_event_bytes(64);
        let mut chunk = Vec::new();
        for i in 0..100 {
            chunk.extend_from_slice(format!("data: {i}\n\n").as_bytes());
        }
        d.push(&chunk);
        let mut n = 0;
        while let Some(e) = d.next_event().unwrap() {
            assert_eq!(e.data, n.to_string());
            n += 1;
        }
        assert_eq!(n, 100);
    }

    #[test]
    fn error_displays_limit() {
        let e = SseError::EventTooLarge { limit: 8 };
        assert!(e.to_string().contains("8 bytes"));
    }
}
