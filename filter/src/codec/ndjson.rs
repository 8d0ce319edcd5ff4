//! Incremental newline-delimited JSON decoding, sans-IO.
//!
//! Ollama's native API (and some Hugging Face endpoints) stream their
//! answers as NDJSON (`application/x-ndjson`): one JSON value per line. Envoy hands
//! the filter the body in chunks that may split anywhere — inside a line, inside a
//! UTF-8 sequence, between the `\r` and `\n` of a line ending — so the stream
//! translators feed every chunk to an [`NdjsonDecoder`] and take out whatever
//! complete lines it holds, parsing each with `serde_json::from_slice`:
//!
//! ```
//! use switchyard_filter::codec::ndjson::NdjsonDecoder;
//!
//! let mut decoder = NdjsonDecoder::new();
//! let mut lines = Vec::new();
//! for chunk in [&b"{\"a\":1}\r\n{\"b\""[..], b":2}\n\n{\"done\":", b"true}"] {
//!     decoder.push(chunk);
//!     while let Ok(Some(line)) = decoder.next_line() {
//!         lines.push(String::from_utf8_lossy(line).into_owned());
//!     }
//! }
//! // The stream ended: the last line had no newline.
//! while let Ok(Some(line)) = decoder.finish() {
//!     lines.push(String::from_utf8_lossy(line).into_owned());
//! }
//! assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}", "{\"done\":true}"]);
//! ```
//!
//! What it implements:
//!
//! * a line ends at `\n`; one `\r` right before it is dropped too (`\r\n`), even when
//!   the two arrive in different chunks. A lone `\r` is not a line ending (JSON
//!   cannot contain a raw one, so it only ever shows up before `\n`);
//! * blank lines — empty, or only spaces, tabs and `\r` — are skipped;
//! * a UTF-8 byte-order mark opening the stream is dropped;
//! * lines are handed out as bytes, not checked as UTF-8: `serde_json::from_slice`
//!   checks them while parsing, and a line split inside a UTF-8 sequence is whole
//!   again by the time it is handed out;
//! * [`NdjsonDecoder::finish`] hands out what is left when the stream ends,
//!   including a last line without a newline.
//!
//! Parsing is lazy: [`NdjsonDecoder::push`] only appends bytes, and
//! [`NdjsonDecoder::next_line`] finds the next line and lends it out, borrowing the
//! decoder's buffer. Call `next_line` until it returns `Ok(None)` after each `push`.
//! The decoder remembers how far it has looked for a newline, so a long line arriving
//! in many small chunks is scanned once, not once per chunk.
//!
//! **Growth is bounded.** One line may hold at most [`DEFAULT_MAX_LINE_BYTES`] (or the
//! limit given to [`NdjsonDecoder::with_max_line_bytes`]), line ending not counted.
//! Past that `next_line` returns [`NdjsonError::LineTooLarge`], drops what it holds
//! and stays failed: a peer that never ends a line cannot make the filter buffer
//! forever. (The check runs whenever `next_line` runs out of complete lines, so the
//! buffer never exceeds the limit by more than one pushed chunk.)

/// The default cap on one line: 8 MiB, far above any real provider chunk (Ollama's
/// are a few hundred bytes; a final `/api/generate` line carrying its `context`
/// token array is larger, but nowhere near this) yet small enough for a wasm VM's heap.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why the decoder gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdjsonError {
    /// One line grew past `limit` bytes without ending.
    LineTooLarge {
        /// The cap that was exceeded, in bytes.
        limit: usize,
    },
}

impl std::fmt::Display for NdjsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NdjsonError::LineTooLarge { limit } => {
                write!(f, "an NDJSON line exceeded {limit} bytes")
            }
        }
    }
}

impl std::error::Error for NdjsonError {}

/// An incremental NDJSON splitter: bytes in, lines out.
#[derive(Debug, Clone)]
pub struct NdjsonDecoder {
    /// Bytes pushed but not yet handed out; `buf[pos..]` is unread.
    buf: Vec<u8>,
    pos: usize,
    /// `buf[pos..scan]` is known to hold no `\n` (so the search resumes at `scan`).
    scan: usize,
    /// Nothing has been handed out yet (a leading BOM is still to be dropped).
    at_start: bool,
    max_line_bytes: usize,
    failed: Option<NdjsonError>,
}

impl Default for NdjsonDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NdjsonDecoder {
    /// A decoder with the [`DEFAULT_MAX_LINE_BYTES`] cap.
    pub fn new() -> Self {
        Self::with_max_line_bytes(DEFAULT_MAX_LINE_BYTES)
    }

    /// A decoder that fails once one line exceeds `max_line_bytes` (its `\n` or
    /// `\r\n` not counted).
    pub fn with_max_line_bytes(max_line_bytes: usize) -> Self {
        NdjsonDecoder {
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            at_start: true,
            max_line_bytes,
            failed: None,
        }
    }

    /// Appends one chunk of the stream. Nothing is parsed until [`Self::next_line`].
    /// Ignored once the decoder has failed.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() || chunk.is_empty() {
            return;
        }
        if self.pos > 0 {
            // Only the unfinished line (and any undrained lines) is kept.
            self.buf.drain(..self.pos);
            self.scan = self.scan.saturating_sub(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete, non-blank line, without its line ending.
    ///
    /// `Ok(None)` means more bytes are needed. After an error every call returns the
    /// same error.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, NdjsonError> {
        self.next(false)
    }

    /// Ends the stream: the next line still held, the last one possibly without a
    /// newline. Call it until it returns `Ok(None)`; the decoder is then reset for
    /// reuse. If the decoder had failed, returns that error once and resets.
    pub fn finish(&mut self) -> Result<Option<&[u8]>, NdjsonError> {
        self.next(true)
    }

    /// Bytes held and not yet handed out.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The error the decoder stopped on, if any.
    pub fn error(&self) -> Option<NdjsonError> {
        self.failed
    }

    fn reset(&mut self) {
        *self = Self::with_max_line_bytes(self.max_line_bytes);
    }

    fn fail(&mut self) -> NdjsonError {
        let e = NdjsonError::LineTooLarge {
            limit: self.max_line_bytes,
        };
        self.failed = Some(e);
        self.buf = Vec::new();
        self.pos = 0;
        self.scan = 0;
        e
    }

    /// Lines out of `buf[pos..]`; at the end of the stream (`eof`) the rest is the
    /// last line, and once nothing is left the decoder resets.
    fn next(&mut self, eof: bool) -> Result<Option<&[u8]>, NdjsonError> {
        if let Some(e) = self.failed {
            if eof {
                self.reset();
            }
            return Err(e);
        }
        loop {
            if self.at_start {
                let rest = self.buf.get(self.pos..).unwrap_or_default();
                // The BOM may itself arrive split; wait until it can be told apart.
                if !eof && rest.len() < BOM.len() && BOM.starts_with(rest) {
                    return Ok(None);
                }
                if rest.starts_with(BOM) {
                    self.pos = self.pos.saturating_add(BOM.len());
                }
                self.at_start = false;
            }
            let from = self.scan.max(self.pos);
            let found = self
                .buf
                .get(from..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'));
            let (start, end, next) = match found {
                Some(offset) => {
                    let end = from.saturating_add(offset);
                    (self.pos, end, end.saturating_add(1))
                }
                None => {
                    self.scan = self.buf.len();
                    if !eof {
                        if self.content_len(self.pos, self.buf.len()) > self.max_line_bytes {
                            return Err(self.fail());
                        }
                        return Ok(None);
                    }
                    if self.pos >= self.buf.len() {
                        self.reset();
                        return Ok(None);
                    }
                    (self.pos, self.buf.len(), self.buf.len())
                }
            };
            let end = if self.buf.get(start..end).is_some_and(|l| l.ends_with(b"\r")) {
                end.saturating_sub(1)
            } else {
                end
            };
            if end.saturating_sub(start) > self.max_line_bytes {
                let e = self.fail();
                if eof {
                    // `finish` ends the stream whatever it reports.
                    self.reset();
                }
                return Err(e);
            }
            self.pos = next;
            let blank = self
                .buf
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r'));
            if blank {
                continue;
            }
            return Ok(self.buf.get(start..end));
        }
    }

    /// The length of the unfinished line `buf[start..end]`, not counting a `\r` at its
    /// end (which may be the first half of its `\r\n`).
    fn content_len(&self, start: usize, end: usize) -> usize {
        let len = end.saturating_sub(start);
        if self.buf.get(start..end).is_some_and(|l| l.ends_with(b"\r")) {
            len.saturating_sub(1)
        } else {
            len
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut NdjsonDecoder, into: &mut Vec<String>) {
        while let Some(line) = d.next_line().unwrap() {
            into.push(String::from_utf8(line.to_vec()).unwrap());
        }
    }

    fn finish(d: &mut NdjsonDecoder, into: &mut Vec<String>) {
        while let Some(line) = d.finish().unwrap() {
            into.push(String::from_utf8(line.to_vec()).unwrap());
        }
    }

    /// Decodes the chunks: the lines before the end, and those `finish` handed out.
    fn decode_chunks(chunks: &[&[u8]]) -> (Vec<String>, Vec<String>) {
        let mut d = NdjsonDecoder::new();
        let mut lines = Vec::new();
        for c in chunks {
            d.push(c);
            drain(&mut d, &mut lines);
        }
        let mut last = Vec::new();
        finish(&mut d, &mut last);
        (lines, last)
    }

    fn all_lines(chunks: &[&[u8]]) -> Vec<String> {
        let (mut lines, last) = decode_chunks(chunks);
        lines.extend(last);
        lines
    }

    /// Shaped like Ollama's `/api/chat` stream (with a blank line and multi-byte text).
    const OLLAMA: &str = concat!(
        "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"H\u{e9}\"},\"done\":false}\n",
        "\n",
        "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"llo \u{1F600}\"},\"done\":false}\n",
        "   \n",
        "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"eval_count\":7}\n",
    );

    fn expected_ollama() -> Vec<String> {
        OLLAMA
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn whole_stream_yields_lines_and_skips_blank_ones() {
        let (lines, last) = decode_chunks(&[OLLAMA.as_bytes()]);
        assert_eq!(lines, expected_ollama());
        assert_eq!(lines.len(), 3);
        assert!(last.is_empty());
        for l in &lines {
            let _: serde_json::Value = serde_json::from_str(l).unwrap();
        }
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        for ending in ["\n", "\r\n"] {
            let text = OLLAMA.replace('\n', ending);
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                let (a, b) = bytes.split_at(cut);
                let (lines, last) = decode_chunks(&[a, b]);
                assert_eq!(lines, expected_ollama(), "ending {ending:?} cut {cut}");
                assert!(last.is_empty(), "ending {ending:?} cut {cut}");
            }
        }
    }

    #[test]
    fn byte_at_a_time_and_three_way_splits() {
        let text = OLLAMA.replace('\n', "\r\n");
        let bytes = text.as_bytes();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all_lines(&singles), expected_ollama());
        for i in (0..bytes.len()).step_by(7) {
            for j in i..bytes.len() {
                let lines = all_lines(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(lines, expected_ollama(), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn finish_yields_the_unterminated_last_line() {
        let text = OLLAMA.trim_end_matches('\n');
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let (lines, last) = decode_chunks(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(lines, expected_ollama()[..2].to_vec(), "cut {cut}");
            assert_eq!(last, expected_ollama()[2..].to_vec(), "cut {cut}");
        }
        // A trailing `\r` is a line ending's first half, dropped.
        assert_eq!(decode_chunks(&[b"{}\r"]).1, vec!["{}"]);
        // Blank leftovers are not lines.
        assert!(decode_chunks(&[b"{}\n  \r"]).1.is_empty());
        assert_eq!(decode_chunks(&[]), (vec![], vec![]));
    }

    #[test]
    fn finish_hands_out_undrained_lines_then_resets() {
        let mut d = NdjsonDecoder::new();
        d.push(b"{\"a\":1}\n{\"b\":2}\n{\"c\":");
        d.push(b"3}");
        let mut out = Vec::new();
        finish(&mut d, &mut out);
        assert_eq!(out, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert_eq!(d.pending_bytes(), 0);
        // Reset: the BOM rule applies again, nothing stale is left.
        d.push(b"\xEF\xBB\xBF{\"d\":4}\n");
        assert_eq!(d.next_line().unwrap(), Some(&b"{\"d\":4}"[..]));
        assert_eq!(d.next_line().unwrap(), None);
    }

    #[test]
    fn cr_lf_split_across_chunks() {
        let lines = all_lines(&[b"{\"a\":1}\r", b"\n{\"b\":2}\r", b"\n\r", b"\n"]);
        assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}"]);
        // Only one `\r` belongs to the ending; a lone `\r` inside stays.
        assert_eq!(all_lines(&[b"a\r\r\nb\rc\n"]), ["a\r", "b\rc"]);
    }

    #[test]
    fn utf8_split_inside_a_sequence() {
        let text = "{\"t\":\"\u{1F600}\u{e9}\"}\n";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let lines = all_lines(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(lines, ["{\"t\":\"\u{1F600}\u{e9}\"}"], "cut {cut}");
        }
    }

    #[test]
    fn invalid_utf8_is_handed_on_for_the_json_parser_to_reject() {
        let mut d = NdjsonDecoder::new();
        d.push(b"{\"a\":\"\xff\"}\n{}\n");
        let line = d.next_line().unwrap().unwrap();
        assert_eq!(line, b"{\"a\":\"\xff\"}");
        assert!(serde_json::from_slice::<serde_json::Value>(line).is_err());
        assert_eq!(d.next_line().unwrap(), Some(&b"{}"[..]));
    }

    #[test]
    fn leading_bom_is_dropped_even_split() {
        let text = b"\xEF\xBB\xBF{\"a\":1}\n";
        for cut in 0..text.len() {
            assert_eq!(
                all_lines(&[&text[..cut], &text[cut..]]),
                ["{\"a\":1}"],
                "cut {cut}"
            );
        }
        // A BOM later in the stream is part of its line.
        assert_eq!(all_lines(&[b"{}\n\xEF\xBB\xBF{}\n"]), ["{}", "\u{feff}{}"]);
        // A lone BOM prefix at the end is handed out as what it is.
        let mut d = NdjsonDecoder::new();
        d.push(b"\xEF\xBB");
        assert_eq!(d.next_line(), Ok(None));
        assert_eq!(d.finish(), Ok(Some(&b"\xEF\xBB"[..])));
        assert_eq!(d.finish(), Ok(None));
    }

    #[test]
    fn oversized_complete_line_fails() {
        let mut d = NdjsonDecoder::with_max_line_bytes(8);
        d.push(b"12345678\r\n123456789\n");
        assert_eq!(d.next_line(), Ok(Some(&b"12345678"[..])), "exactly the cap");
        assert_eq!(d.next_line(), Err(NdjsonError::LineTooLarge { limit: 8 }));
    }

    #[test]
    fn oversized_unterminated_line_fails_and_stays_failed() {
        let mut d = NdjsonDecoder::with_max_line_bytes(64);
        d.push(b"{}\n{\"x\":\"");
        assert_eq!(d.next_line(), Ok(Some(&b"{}"[..])));
        assert_eq!(d.next_line(), Ok(None));
        let mut failed_after = None;
        for i in 0..20 {
            d.push(&[b'x'; 10]);
            if d.next_line().is_err() {
                failed_after = Some(i);
                break;
            }
        }
        // 6 bytes + 6 chunks = 66 bytes > 64: fails on the sixth chunk, not later.
        assert_eq!(failed_after, Some(5));
        assert_eq!(d.next_line(), Err(NdjsonError::LineTooLarge { limit: 64 }));
        assert_eq!(d.error(), Some(NdjsonError::LineTooLarge { limit: 64 }));
        d.push(b"\"}\n{}\n");
        assert!(d.next_line().is_err(), "pushes are ignored once failed");
        assert_eq!(d.pending_bytes(), 0, "buffer released");
        assert_eq!(d.finish(), Err(NdjsonError::LineTooLarge { limit: 64 }));
        // `finish` reset it.
        assert_eq!(d.error(), None);
        d.push(b"{}\n");
        assert_eq!(d.next_line(), Ok(Some(&b"{}"[..])));
    }

    #[test]
    fn cap_does_not_count_a_pending_cr() {
        let mut d = NdjsonDecoder::with_max_line_bytes(4);
        d.push(b"abcd\r");
        assert_eq!(d.next_line(), Ok(None));
        d.push(b"\n");
        assert_eq!(d.next_line(), Ok(Some(&b"abcd"[..])));
        d.push(b"abcde");
        assert!(d.next_line().is_err());
    }

    #[test]
    fn oversized_last_line_fails_at_finish() {
        let mut d = NdjsonDecoder::with_max_line_bytes(4);
        d.push(b"abcd");
        assert_eq!(d.next_line(), Ok(None));
        let mut e = d.clone();
        assert_eq!(d.finish(), Ok(Some(&b"abcd"[..])));
        e.push(b"e");
        assert_eq!(e.finish(), Err(NdjsonError::LineTooLarge { limit: 4 }));
    }

    /// Found by the fuzz target `ndjson_decoder`: a last line over the cap failed at
    /// `finish` but left the decoder failed, not reset as `finish` promises.
    #[test]
    fn a_last_line_over_the_cap_fails_finish_and_resets() {
        let mut d = NdjsonDecoder::with_max_line_bytes(1);
        // Half a BOM: `next_line` waits for the rest, so only `finish` sees the line.
        d.push(b"\xEF\xBB");
        assert_eq!(d.next_line(), Ok(None));
        assert_eq!(d.finish(), Err(NdjsonError::LineTooLarge { limit: 1 }));
        assert_eq!(d.error(), None);
        assert_eq!(d.pending_bytes(), 0);
        d.push(b"1\n");
        assert_eq!(d.next_line(), Ok(Some(&b"1"[..])));
    }

    #[test]
    fn many_small_lines_in_one_big_chunk_are_fine() {
        let mut d = NdjsonDecoder::with_max_line_bytes(16);
        let mut chunk = Vec::new();
        for i in 0..1000 {
            chunk.extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
        }
        d.push(&chunk);
        let mut n = 0;
        while let Some(line) = d.next_line().unwrap() {
            assert_eq!(line, format!("{{\"i\":{n}}}").as_bytes());
            n += 1;
        }
        assert_eq!(n, 1000);
    }

    #[test]
    fn a_long_line_in_small_chunks_is_scanned_once() {
        let mut d = NdjsonDecoder::new();
        d.push(b"{}\n");
        assert!(d.next_line().unwrap().is_some());
        let mut line = b"{\"s\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'x', 200_000));
        line.extend_from_slice(b"\"}");
        for chunk in line.chunks(3) {
            d.push(chunk);
            assert_eq!(d.next_line(), Ok(None));
            // The search resumes where it stopped: everything held has been looked at.
            assert_eq!(d.scan, d.buf.len());
            assert_eq!(d.pos, 0);
        }
        d.push(b"\n");
        assert_eq!(d.next_line().unwrap().map(<[u8]>::len), Some(line.len()));
    }

    #[test]
    fn error_displays_limit() {
        let e = NdjsonError::LineTooLarge { limit: 8 };
        assert!(e.to_string().contains("8 bytes"));
    }
}
