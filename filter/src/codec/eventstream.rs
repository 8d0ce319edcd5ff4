//! Incremental AWS event-stream decoding, sans-IO.
//!
//! AWS Bedrock's `ConverseStream` (and every other AWS streaming API) answers with
//! `application/vnd.amazon.eventstream`: a sequence of binary, length-prefixed,
//! CRC-checked messages. Envoy hands the filter the body in chunks that may split
//! anywhere — inside the prelude, inside a header, inside a CRC — so the stream
//! translator feeds every chunk to an [`EventStreamDecoder`] and takes out whatever
//! complete messages it holds:
//!
//! ```
//! use switchyard_filter::codec::eventstream::EventStreamDecoder;
//!
//! // A message with no headers and the payload `{'foo':'bar'}`.
//! let frame = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfd\x52\x8c\x5a{'foo':'bar'}\xc3\x65\x39\x36";
//! let mut decoder = EventStreamDecoder::new();
//! let mut payloads = Vec::new();
//! for chunk in frame.chunks(5) {
//!     decoder.push(chunk);
//!     while let Ok(Some(message)) = decoder.next_message() {
//!         payloads.push(message.payload.to_vec());
//!     }
//! }
//! assert_eq!(payloads, [b"{'foo':'bar'}".to_vec()]);
//! assert!(decoder.finish().is_ok());
//! ```
//!
//! One message on the wire (all integers big-endian):
//!
//! ```text
//! total length (u32) | headers length (u32) | prelude CRC (u32)    <- the 12-byte prelude
//! headers (headers length bytes) | payload | message CRC (u32)
//! ```
//!
//! * the prelude CRC covers the first 8 bytes, the message CRC everything before it;
//!   both are the IEEE/zlib CRC32 (the one `binascii.crc32` computes);
//! * a header is a name length (u8), the name (UTF-8), a value type (u8) and the value:
//!   `0` true, `1` false (no value bytes), `2` byte, `3` i16, `4` i32, `5` i64,
//!   `6` byte array and `7` string (each a u16 length then the bytes), `8` timestamp
//!   (i64 milliseconds since the epoch), `9` UUID (16 bytes);
//! * the payload is whatever is left; for Bedrock a JSON object, whose meaning the
//!   `:message-type` (`event`, `exception`, `error`), `:event-type`,
//!   `:exception-type` and `:content-type` headers give.
//!
//! Parsing is lazy: [`EventStreamDecoder::push`] only appends bytes, and
//! [`EventStreamDecoder::next_message`] checks the next message once it is whole and
//! lends it out as a [`Message`] borrowing the decoder's buffer (its headers are read
//! in place, nothing is copied). Call `next_message` until it returns `Ok(None)` after
//! each `push`.
//!
//! **Growth is bounded and garbage is caught early.** The prelude is checked as soon
//! as its 12 bytes are in: a wrong prelude CRC (say, an HTML error page where
//! messages were expected), a total length under 16 bytes, a headers length that does
//! not fit, or a total length above [`MAX_MESSAGE_BYTES`] (AWS's own cap of 16 MiB,
//! or the limit given to [`EventStreamDecoder::with_max_message_bytes`]) fails the
//! stream before the message body is buffered. After an error the decoder drops what
//! it holds and stays failed.

use std::fmt;
use std::ops::Range;

/// AWS's cap on one message, prelude and CRCs included: 16 MiB.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Total length, headers length and prelude CRC.
pub const PRELUDE_BYTES: usize = 12;
/// The smallest possible message: a prelude and a message CRC, nothing between.
pub const MIN_MESSAGE_BYTES: usize = PRELUDE_BYTES + CRC_BYTES;
const CRC_BYTES: usize = 4;

/// The value types of the header encoding.
const TYPE_TRUE: u8 = 0;
const TYPE_FALSE: u8 = 1;
const TYPE_BYTE: u8 = 2;
const TYPE_INT16: u8 = 3;
const TYPE_INT32: u8 = 4;
const TYPE_INT64: u8 = 5;
const TYPE_BYTE_ARRAY: u8 = 6;
const TYPE_STRING: u8 = 7;
const TYPE_TIMESTAMP: u8 = 8;
const TYPE_UUID: u8 = 9;

/// One header value, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Int16(i16),
    /// Type 4.
    Int32(i32),
    /// Type 5.
    Int64(i64),
    /// Type 6.
    ByteArray(&'a [u8]),
    /// Type 7.
    String(&'a str),
    /// Type 8: milliseconds since the Unix epoch.
    Timestamp(i64),
    /// Type 9: the UUID's 16 bytes, in wire order.
    Uuid([u8; 16]),
}

/// One header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header's name, e.g. `:event-type`.
    pub name: &'a str,
    /// Its value.
    pub value: HeaderValue<'a>,
}

/// One decoded message, borrowed from the decoder until the next call. Its CRCs
/// have been verified and its headers are known to be well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The encoded header block (checked when the message was decoded).
    headers: &'a [u8],
    /// The message's payload (for Bedrock, a JSON object).
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The headers, in wire order.
    pub fn headers(&self) -> Headers<'a> {
        Headers { rest: self.headers }
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<HeaderValue<'a>> {
        self.headers().find(|h| h.name == name).map(|h| h.value)
    }

    /// The value of the first header called `name`, if that is a string.
    pub fn str_header(&self, name: &str) -> Option<&'a str> {
        match self.header(name)? {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// `:message-type`: `event`, `exception` or `error`.
    pub fn message_type(&self) -> Option<&'a str> {
        self.str_header(":message-type")
    }

    /// `:event-type`, e.g. `contentBlockDelta` (for `event` messages).
    pub fn event_type(&self) -> Option<&'a str> {
        self.str_header(":event-type")
    }

    /// `:exception-type`, e.g. `throttlingException` (for `exception` messages).
    pub fn exception_type(&self) -> Option<&'a str> {
        self.str_header(":exception-type")
    }

    /// `:content-type` of the payload, e.g. `application/json`.
    pub fn content_type(&self) -> Option<&'a str> {
        self.str_header(":content-type")
    }

    /// `:error-code` (for `error` messages).
    pub fn error_code(&self) -> Option<&'a str> {
        self.str_header(":error-code")
    }

    /// `:error-message` (for `error` messages).
    pub fn error_message(&self) -> Option<&'a str> {
        self.str_header(":error-message")
    }
}

/// The headers of a [`Message`], in wire order.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        // The block was validated when the message was decoded; should it somehow
        // not parse, iteration just ends.
        let (header, rest) = parse_header(self.rest).ok()?;
        self.rest = rest;
        Some(header)
    }
}

/// Why the decoder gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStreamError {
    /// The prelude CRC did not match its first 8 bytes: corruption, or not an
    /// event stream at all.
    PreludeCrcMismatch {
        /// The CRC the message carries.
        expected: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// The message CRC did not match the message's bytes.
    MessageCrcMismatch {
        /// The CRC the message carries.
        expected: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// The prelude's total length is under [`MIN_MESSAGE_BYTES`].
    MessageTooShort {
        /// The total length the prelude gave.
        total_length: u32,
    },
    /// The prelude's total length is over the decoder's limit.
    MessageTooLarge {
        /// The total length the prelude gave.
        total_length: u32,
        /// The cap that was exceeded, in bytes.
        limit: usize,
    },
    /// The headers length does not fit in the total length.
    HeadersTooLong {
        /// The headers length the prelude gave.
        headers_length: u32,
        /// The total length the prelude gave.
        total_length: u32,
    },
    /// A header in the header block is malformed.
    InvalidHeader {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stream ended inside a message.
    Truncated {
        /// The bytes of the unfinished message.
        buffered: usize,
    },
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventStreamError::PreludeCrcMismatch { expected, computed } => write!(
                f,
                "event-stream prelude CRC mismatch: the message carries {expected:#010x}, \
                 its bytes give {computed:#010x}"
            ),
            EventStreamError::MessageCrcMismatch { expected, computed } => write!(
                f,
                "event-stream message CRC mismatch: the message carries {expected:#010x}, \
                 its bytes give {computed:#010x}"
            ),
            EventStreamError::MessageTooShort { total_length } => write!(
                f,
                "event-stream message length {total_length} is under the minimum of \
                 {MIN_MESSAGE_BYTES} bytes"
            ),
            EventStreamError::MessageTooLarge {
                total_length,
                limit,
            } => write!(
                f,
                "event-stream message length {total_length} exceeds the limit of {limit} bytes"
            ),
            EventStreamError::HeadersTooLong {
                headers_length,
                total_length,
            } => write!(
                f,
                "event-stream headers length {headers_length} does not fit in a message of \
                 {total_length} bytes"
            ),
            EventStreamError::InvalidHeader { reason } => {
                write!(f, "invalid event-stream header: {reason}")
            }
            EventStreamError::Truncated { buffered } => write!(
                f,
                "the event stream ended inside a message ({buffered} bytes buffered)"
            ),
        }
    }
}

impl std::error::Error for EventStreamError {}

/// An incremental event-stream parser: bytes in, messages out.
#[derive(Debug, Clone)]
pub struct EventStreamDecoder {
    /// Bytes pushed but not yet decoded; `buf[pos..]` is unread.
    buf: Vec<u8>,
    pos: usize,
    max_message_bytes: usize,
    failed: Option<EventStreamError>,
}

impl Default for EventStreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStreamDecoder {
    /// A decoder with AWS's [`MAX_MESSAGE_BYTES`] cap.
    pub fn new() -> Self {
        Self::with_max_message_bytes(MAX_MESSAGE_BYTES)
    }

    /// A decoder that fails on a message whose total length exceeds
    /// `max_message_bytes`.
    pub fn with_max_message_bytes(max_message_bytes: usize) -> Self {
        EventStreamDecoder {
            buf: Vec::new(),
            pos: 0,
            max_message_bytes,
            failed: None,
        }
    }

    /// Appends one chunk of the stream. Nothing is decoded until
    /// [`Self::next_message`]. Ignored once the decoder has failed.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() || chunk.is_empty() {
            return;
        }
        if self.pos > 0 {
            // Only the unfinished message (and any undrained ones) is kept.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message, if the pushed bytes hold one.
    ///
    /// `Ok(None)` means more bytes are needed. After an error every call returns the
    /// same error.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, EventStreamError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let Located {
            headers,
            payload,
            end,
        } = match self.locate() {
            Ok(Some(located)) => located,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        };
        self.pos = end;
        let headers = self.buf.get(headers).unwrap_or_default();
        let payload = self.buf.get(payload).unwrap_or_default();
        Ok(Some(Message { headers, payload }))
    }

    /// Ends the stream and resets the decoder for reuse. An error if bytes of an
    /// unfinished message are left (call it once `next_message` returns `Ok(None)`),
    /// or the error the decoder had failed with.
    pub fn finish(&mut self) -> Result<(), EventStreamError> {
        let result = match self.failed {
            Some(e) => Err(e),
            None => match self.pending_bytes() {
                0 => Ok(()),
                buffered => Err(EventStreamError::Truncated { buffered }),
            },
        };
        *self = Self::with_max_message_bytes(self.max_message_bytes);
        result
    }

    /// Bytes held and not yet returned as messages.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The error the decoder stopped on, if any.
    pub fn error(&self) -> Option<EventStreamError> {
        self.failed
    }

    fn fail(&mut self, e: EventStreamError) -> EventStreamError {
        self.failed = Some(e);
        self.buf = Vec::new();
        self.pos = 0;
        e
    }

    /// Checks the message at `buf[pos..]`: where its parts are in `buf`, or `None` if
    /// it is not all in yet.
    fn locate(&self) -> Result<Option<Located>, EventStreamError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let (Some(total_length), Some(headers_length), Some(prelude_crc)) =
            (be_u32(rest, 0), be_u32(rest, 4), be_u32(rest, 8))
        else {
            return Ok(None);
        };
        let computed = crc32(rest.get(..8).unwrap_or_default());
        if computed != prelude_crc {
            return Err(EventStreamError::PreludeCrcMismatch {
                expected: prelude_crc,
                computed,
            });
        }
        let total = usize::try_from(total_length).unwrap_or(usize::MAX);
        if total < MIN_MESSAGE_BYTES {
            return Err(EventStreamError::MessageTooShort { total_length });
        }
        if total > self.max_message_bytes {
            return Err(EventStreamError::MessageTooLarge {
                total_length,
                limit: self.max_message_bytes,
            });
        }
        let headers_len = usize::try_from(headers_length).unwrap_or(usize::MAX);
        let too_long = EventStreamError::HeadersTooLong {
            headers_length,
            total_length,
        };
        let headers_end = PRELUDE_BYTES.checked_add(headers_len).ok_or(too_long)?;
        let payload_end = total.checked_sub(CRC_BYTES).ok_or(too_long)?;
        if headers_end > payload_end {
            return Err(too_long);
        }
        let (Some(body), Some(message_crc)) = (rest.get(..payload_end), be_u32(rest, payload_end))
        else {
            return Ok(None);
        };
        let computed = crc32(body);
        if computed != message_crc {
            return Err(EventStreamError::MessageCrcMismatch {
                expected: message_crc,
                computed,
            });
        }
        let mut block = body.get(PRELUDE_BYTES..headers_end).unwrap_or_default();
        while !block.is_empty() {
            let (_, rest) =
                parse_header(block).map_err(|reason| EventStreamError::InvalidHeader { reason })?;
            block = rest;
        }
        let start = self.pos;
        Ok(Some(Located {
            headers: start + PRELUDE_BYTES..start + headers_end,
            payload: start + headers_end..start + payload_end,
            end: start + total,
        }))
    }
}

/// Where a complete, checked message lies in the decoder's buffer.
struct Located {
    headers: Range<usize>,
    payload: Range<usize>,
    /// The index just after the message.
    end: usize,
}

/// Reads the big-endian u32 at `at` in `bytes`, if all four bytes are there.
fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(raw))
}

/// Splits `n` bytes off the front of `bytes`.
fn take(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    if bytes.len() < n {
        return None;
    }
    Some(bytes.split_at(n))
}

/// Splits a fixed-size array off the front of `bytes`.
fn take_array<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = take(bytes, N)?;
    Some((head.try_into().ok()?, rest))
}

/// Parses the header at the front of `block`: the header and what follows it.
fn parse_header(block: &[u8]) -> Result<(Header<'_>, &[u8]), &'static str> {
    let (&name_len, rest) = block.split_first().ok_or("empty header")?;
    let (name, rest) = take(rest, usize::from(name_len)).ok_or("header name cut off")?;
    let name = std::str::from_utf8(name).map_err(|_| "header name is not UTF-8")?;
    let (&value_type, rest) = rest.split_first().ok_or("header value type missing")?;
    let cut = "header value cut off";
    let (value, rest) = match value_type {
        TYPE_TRUE => (HeaderValue::Bool(true), rest),
        TYPE_FALSE => (HeaderValue::Bool(false), rest),
        TYPE_BYTE => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Byte(i8::from_be_bytes(v)), rest)
        }
        TYPE_INT16 => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Int16(i16::from_be_bytes(v)), rest)
        }
        TYPE_INT32 => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Int32(i32::from_be_bytes(v)), rest)
        }
        TYPE_INT64 => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Int64(i64::from_be_bytes(v)), rest)
        }
        TYPE_BYTE_ARRAY | TYPE_STRING => {
            let (len, rest) = take_array(rest).ok_or(cut)?;
            let (bytes, rest) = take(rest, usize::from(u16::from_be_bytes(len))).ok_or(cut)?;
            if value_type == TYPE_STRING {
                let s =
                    std::str::from_utf8(bytes).map_err(|_| "string header value is not UTF-8")?;
                (HeaderValue::String(s), rest)
            } else {
                (HeaderValue::ByteArray(bytes), rest)
            }
        }
        TYPE_TIMESTAMP => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Timestamp(i64::from_be_bytes(v)), rest)
        }
        TYPE_UUID => {
            let (v, rest) = take_array(rest).ok_or(cut)?;
            (HeaderValue::Uuid(v), rest)
        }
        _ => return Err("unknown header value type"),
    };
    Ok((Header { name, value }, rest))
}

/// The IEEE 802.3 / zlib CRC32 lookup table (reflected polynomial 0xEDB88320).
const CRC_TABLE: [u32; 256] = crc_table();

// Evaluated at compile time: an index out of bounds would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// The CRC32 of `bytes`, as zlib's `crc32` and Python's `binascii.crc32` compute it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        let index = usize::from((crc as u8) ^ b);
        crc = CRC_TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8);
    }
    !crc
}

/// Encodes one message; only the tests build fixtures with it.
#[cfg(test)]
pub(crate) fn encode(headers: &[Header<'_>], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for h in headers {
        block.push(u8::try_from(h.name.len()).unwrap());
        block.extend_from_slice(h.name.as_bytes());
        match h.value {
            HeaderValue::Bool(true) => block.push(TYPE_TRUE),
            HeaderValue::Bool(false) => block.push(TYPE_FALSE),
            HeaderValue::Byte(v) => {
                block.push(TYPE_BYTE);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int16(v) => {
                block.push(TYPE_INT16);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int32(v) => {
                block.push(TYPE_INT32);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Int64(v) => {
                block.push(TYPE_INT64);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::ByteArray(v) => {
                block.push(TYPE_BYTE_ARRAY);
                block.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
                block.extend_from_slice(v);
            }
            HeaderValue::String(v) => {
                block.push(TYPE_STRING);
                block.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
                block.extend_from_slice(v.as_bytes());
            }
            HeaderValue::Timestamp(v) => {
                block.push(TYPE_TIMESTAMP);
                block.extend_from_slice(&v.to_be_bytes());
            }
            HeaderValue::Uuid(v) => {
                block.push(TYPE_UUID);
                block.extend_from_slice(&v);
            }
        }
    }
    encode_raw(&block, payload)
}

/// Frames an already-encoded header block (well formed or not) with correct CRCs.
#[cfg(test)]
pub(crate) fn encode_raw(header_block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = PRELUDE_BYTES + header_block.len() + payload.len() + CRC_BYTES;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    out.extend_from_slice(&u32::try_from(header_block.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(header_block);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message copied out of the decoder: headers as (name, value) with owned data.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        headers: Vec<(String, OwnedValue)>,
        payload: Vec<u8>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum OwnedValue {
        Bool(bool),
        Byte(i8),
        Int16(i16),
        Int32(i32),
        Int64(i64),
        Bytes(Vec<u8>),
        Str(String),
        Timestamp(i64),
        Uuid([u8; 16]),
    }

    fn own(m: &Message<'_>) -> Owned {
        let headers = m
            .headers()
            .map(|h| {
                let v = match h.value {
                    HeaderValue::Bool(b) => OwnedValue::Bool(b),
                    HeaderValue::Byte(v) => OwnedValue::Byte(v),
                    HeaderValue::Int16(v) => OwnedValue::Int16(v),
                    HeaderValue::Int32(v) => OwnedValue::Int32(v),
                    HeaderValue::Int64(v) => OwnedValue::Int64(v),
                    HeaderValue::ByteArray(v) => OwnedValue::Bytes(v.to_vec()),
                    HeaderValue::String(v) => OwnedValue::Str(v.to_string()),
                    HeaderValue::Timestamp(v) => OwnedValue::Timestamp(v),
                    HeaderValue::Uuid(v) => OwnedValue::Uuid(v),
                };
                (h.name.to_string(), v)
            })
            .collect();
        Owned {
            headers,
            payload: m.payload.to_vec(),
        }
    }

    fn drain(d: &mut EventStreamDecoder, into: &mut Vec<Owned>) -> Result<(), EventStreamError> {
        while let Some(m) = d.next_message()? {
            into.push(own(&m));
        }
        Ok(())
    }

    /// Decodes the chunks in order; the messages and the first error (or `finish`'s).
    fn decode_chunks(chunks: &[&[u8]]) -> (Vec<Owned>, Result<(), EventStreamError>) {
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            if let Err(e) = drain(&mut d, &mut out) {
                return (out, Err(e));
            }
        }
        let end = d.finish();
        (out, end)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn s(name: &str, value: &str) -> (String, OwnedValue) {
        (name.to_string(), OwnedValue::Str(value.to_string()))
    }

    // --- Known-good frames NOT produced by this module's encoder. ---

    /// From awslabs/aws-c-event-stream `tests/message_deserializer_test.c` (the AWS
    /// CRT's decoder tests; smithy-rs's `aws-smithy-eventstream` quotes the same
    /// bytes): no headers, payload `{'foo':'bar'}`.
    const CRT_NO_HEADERS: &[u8] = &[
        0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
        0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36,
    ];

    /// Same source: one string header `content-type: application/json`, payload
    /// `{'foo':'bar'}`.
    const CRT_ONE_HEADER: &str = "0000003d0000002007fd83960c636f6e74656e742d74797065070010
        6170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1";

    /// Computed independently with Python's `struct` and `binascii.crc32` (not with
    /// [`encode`]): a Bedrock-style `contentBlockDelta` event carrying one header of
    /// every value type. The script:
    ///
    /// ```text
    /// import binascii, struct
    /// def s(name, v): b=v.encode(); return bytes([len(name)])+name.encode()+b'\x07'+struct.pack('>H',len(b))+b
    /// def h(name, t, raw): return bytes([len(name)])+name.encode()+bytes([t])+raw
    /// hdr = (s(':message-type','event') + s(':event-type','contentBlockDelta') + s(':content-type','application/json')
    ///   + h('t',0,b'') + h('f',1,b'') + h('byte',2,struct.pack('>b',-7)) + h('short',3,struct.pack('>h',-20000))
    ///   + h('int',4,struct.pack('>i',500000)) + h('long',5,struct.pack('>q',-50000000000))
    ///   + h('bytes',6,struct.pack('>H',4)+b'\x00\xffab') + h('time',8,struct.pack('>q',1700000000123))
    ///   + h('uuid',9,bytes.fromhex('b79bc914de214e13b8b2bc47e85b7f0b')))
    /// payload = '{"contentBlockIndex":0,"delta":{"text":"H\u00e9"},"p":"abcd"}'.encode()
    /// total = 12+len(hdr)+len(payload)+4
    /// pre = struct.pack('>II', total, len(hdr)); pre += struct.pack('>I', binascii.crc32(pre))
    /// msg = pre+hdr+payload; msg += struct.pack('>I', binascii.crc32(msg))
    /// print(msg.hex())   # total 254, headers 181, prelude CRC 0x292d7656, message CRC 0x7bfdf056
    /// ```
    const PYTHON_ALL_TYPES: &str = "
        000000fe000000b5292d76560d3a6d6573736167652d74797065070005657665
        6e740b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c
        74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a
        736f6e017400016601046279746502f90573686f727403b1e003696e74040007
        a120046c6f6e6705fffffff45bc48c0005627974657306000400ff6162047469
        6d65080000018bcfe5687b047575696409b79bc914de214e13b8b2bc47e85b7f
        0b7b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a
        7b2274657874223a2248c3a9227d2c2270223a2261626364227d7bfdf056";

    /// The empty message (no headers, no payload), from Python:
    /// `e=struct.pack('>II',16,0); p=e+struct.pack('>I',binascii.crc32(e));
    /// (p+struct.pack('>I',binascii.crc32(p))).hex()`.
    const PYTHON_EMPTY: &str = "000000100000000005c248eb7d98c8ff";

    const UUID: [u8; 16] = [
        0xb7, 0x9b, 0xc9, 0x14, 0xde, 0x21, 0x4e, 0x13, 0xb8, 0xb2, 0xbc, 0x47, 0xe8, 0x5b, 0x7f,
        0x0b,
    ];
    const ALL_TYPES_PAYLOAD: &str =
        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"H\u{e9}\"},\"p\":\"abcd\"}";

    fn all_types_headers() -> Vec<Header<'static>> {
        vec![
            Header {
                name: ":message-type",
                value: HeaderValue::String("event"),
            },
            Header {
                name: ":event-type",
                value: HeaderValue::String("contentBlockDelta"),
            },
            Header {
                name: ":content-type",
                value: HeaderValue::String("application/json"),
            },
            Header {
                name: "t",
                value: HeaderValue::Bool(true),
            },
            Header {
                name: "f",
                value: HeaderValue::Bool(false),
            },
            Header {
                name: "byte",
                value: HeaderValue::Byte(-7),
            },
            Header {
                name: "short",
                value: HeaderValue::Int16(-20000),
            },
            Header {
                name: "int",
                value: HeaderValue::Int32(500_000),
            },
            Header {
                name: "long",
                value: HeaderValue::Int64(-50_000_000_000),
            },
            Header {
                name: "bytes",
                value: HeaderValue::ByteArray(b"\x00\xffab"),
            },
            Header {
                name: "time",
                value: HeaderValue::Timestamp(1_700_000_000_123),
            },
            Header {
                name: "uuid",
                value: HeaderValue::Uuid(UUID),
            },
        ]
    }

    fn bedrock_event(event_type: &str, payload: &str) -> Vec<u8> {
        encode(
            &[
                Header {
                    name: ":event-type",
                    value: HeaderValue::String(event_type),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("event"),
                },
            ],
            payload.as_bytes(),
        )
    }

    /// A ConverseStream-shaped stream mixed with the independent fixtures.
    fn stream() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(bedrock_event(
            "messageStart",
            r#"{"p":"abcdefghijkl","role":"assistant"}"#,
        ));
        out.extend(CRT_NO_HEADERS);
        out.extend(bedrock_event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Hi \u00e9"},"p":"ab"}"#,
        ));
        out.extend(hex(PYTHON_EMPTY));
        out.extend(hex(CRT_ONE_HEADER));
        out.extend(hex(PYTHON_ALL_TYPES));
        out.extend(bedrock_event("messageStop", r#"{"stopReason":"end_turn"}"#));
        out.extend(encode(
            &[
                Header {
                    name: ":exception-type",
                    value: HeaderValue::String("throttlingException"),
                },
                Header {
                    name: ":content-type",
                    value: HeaderValue::String("application/json"),
                },
                Header {
                    name: ":message-type",
                    value: HeaderValue::String("exception"),
                },
            ],
            br#"{"message":"Too many requests"}"#,
        ));
        out
    }

    fn expected_stream() -> Vec<Owned> {
        let bedrock = |event: &str, payload: &str| Owned {
            headers: vec![
                s(":event-type", event),
                s(":content-type", "application/json"),
                s(":message-type", "event"),
            ],
            payload: payload.as_bytes().to_vec(),
        };
        vec![
            bedrock("messageStart", r#"{"p":"abcdefghijkl","role":"assistant"}"#),
            Owned {
                headers: vec![],
                payload: b"{'foo':'bar'}".to_vec(),
            },
            bedrock(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"Hi \u00e9"},"p":"ab"}"#,
            ),
            Owned {
                headers: vec![],
                payload: vec![],
            },
            Owned {
                headers: vec![s("content-type", "application/json")],
                payload: b"{'foo':'bar'}".to_vec(),
            },
            expected_all_types(),
            bedrock("messageStop", r#"{"stopReason":"end_turn"}"#),
            Owned {
                headers: vec![
                    s(":exception-type", "throttlingException"),
                    s(":content-type", "application/json"),
                    s(":message-type", "exception"),
                ],
                payload: br#"{"message":"Too many requests"}"#.to_vec(),
            },
        ]
    }

    /// Written out by hand, not derived from `all_types_headers`.
    fn expected_all_types() -> Owned {
        Owned {
            headers: vec![
                s(":message-type", "event"),
                s(":event-type", "contentBlockDelta"),
                s(":content-type", "application/json"),
                ("t".into(), OwnedValue::Bool(true)),
                ("f".into(), OwnedValue::Bool(false)),
                ("byte".into(), OwnedValue::Byte(-7)),
                ("short".into(), OwnedValue::Int16(-20000)),
                ("int".into(), OwnedValue::Int32(500_000)),
                ("long".into(), OwnedValue::Int64(-50_000_000_000)),
                ("bytes".into(), OwnedValue::Bytes(vec![0, 0xff, b'a', b'b'])),
                ("time".into(), OwnedValue::Timestamp(1_700_000_000_123)),
                ("uuid".into(), OwnedValue::Uuid(UUID)),
            ],
            payload: ALL_TYPES_PAYLOAD.as_bytes().to_vec(),
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn crt_vector_without_headers() {
        let (msgs, end) = decode_chunks(&[CRT_NO_HEADERS]);
        assert_eq!(end, Ok(()));
        assert_eq!(
            msgs,
            vec![Owned {
                headers: vec![],
                payload: b"{'foo':'bar'}".to_vec()
            }]
        );
        // The CRCs named in the CRT's test, read straight off the frame.
        assert_eq!(crc32(&CRT_NO_HEADERS[..8]), 0xfd52_8c5a);
        assert_eq!(crc32(&CRT_NO_HEADERS[..25]), 0xc365_3936);
    }

    #[test]
    fn crt_vector_with_one_string_header() {
        let frame = hex(CRT_ONE_HEADER);
        assert_eq!(frame.len(), 61);
        let mut d = EventStreamDecoder::new();
        d.push(&frame);
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.str_header("content-type"), Some("application/json"));
        assert_eq!(
            m.content_type(),
            None,
            "`content-type` is not `:content-type`"
        );
        assert_eq!(m.payload, b"{'foo':'bar'}");
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn python_vector_with_every_header_type() {
        let frame = hex(PYTHON_ALL_TYPES);
        let (msgs, end) = decode_chunks(&[&frame]);
        assert_eq!(end, Ok(()));
        assert_eq!(msgs, vec![expected_all_types()]);

        let mut d = EventStreamDecoder::new();
        d.push(&frame);
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.message_type(), Some("event"));
        assert_eq!(m.event_type(), Some("contentBlockDelta"));
        assert_eq!(m.content_type(), Some("application/json"));
        assert_eq!(m.exception_type(), None);
        assert_eq!(m.header("int"), Some(HeaderValue::Int32(500_000)));
        assert_eq!(m.str_header("int"), None, "not a string");
        assert_eq!(m.headers().count(), 12);
        let v: serde_json::Value = serde_json::from_slice(m.payload).unwrap();
        assert_eq!(v["delta"]["text"], "H\u{e9}");
    }

    #[test]
    fn encoder_reproduces_the_independent_vectors() {
        // The test encoder agrees byte for byte with the CRT and with Python, so the
        // fixtures it builds below are real event-stream frames.
        assert_eq!(encode(&[], b"{'foo':'bar'}"), CRT_NO_HEADERS);
        assert_eq!(
            encode(
                &[Header {
                    name: "content-type",
                    value: HeaderValue::String("application/json"),
                }],
                b"{'foo':'bar'}"
            ),
            hex(CRT_ONE_HEADER)
        );
        assert_eq!(encode(&[], b""), hex(PYTHON_EMPTY));
        assert_eq!(
            encode(&all_types_headers(), ALL_TYPES_PAYLOAD.as_bytes()),
            hex(PYTHON_ALL_TYPES)
        );
    }

    #[test]
    fn whole_stream_in_one_chunk() {
        let (msgs, end) = decode_chunks(&[&stream()]);
        assert_eq!(end, Ok(()));
        assert_eq!(msgs, expected_stream());
    }

    #[test]
    fn every_split_point_gives_the_same_messages() {
        let bytes = stream();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            let (msgs, end) = decode_chunks(&[a, b]);
            assert_eq!(msgs, expected_stream(), "cut {cut}");
            assert_eq!(end, Ok(()), "cut {cut}");
        }
    }

    #[test]
    fn byte_at_a_time_and_three_way_splits() {
        let bytes = stream();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let (msgs, end) = decode_chunks(&singles);
        assert_eq!(msgs, expected_stream());
        assert_eq!(end, Ok(()));
        for size in [2, 3, 5, 7, 11, 13, 64] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(decode_chunks(&chunks).0, expected_stream(), "size {size}");
        }
        for i in (0..bytes.len()).step_by(23) {
            for j in (i..bytes.len()).step_by(3) {
                let (msgs, end) = decode_chunks(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(msgs, expected_stream(), "cuts {i} {j}");
                assert_eq!(end, Ok(()), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn no_message_until_the_last_byte() {
        let frame = hex(PYTHON_ALL_TYPES);
        let mut d = EventStreamDecoder::new();
        for (i, b) in frame.iter().enumerate() {
            d.push(std::slice::from_ref(b));
            let got = d.next_message().unwrap();
            assert_eq!(got.is_some(), i + 1 == frame.len(), "byte {i}");
        }
    }

    #[test]
    fn bad_prelude_crc_is_named() {
        let mut frame = CRT_NO_HEADERS.to_vec();
        frame[11] ^= 0x01;
        let (msgs, end) = decode_chunks(&[&frame]);
        assert!(msgs.is_empty());
        let e = end.unwrap_err();
        assert_eq!(
            e,
            EventStreamError::PreludeCrcMismatch {
                expected: 0xfd52_8c5b,
                computed: 0xfd52_8c5a
            }
        );
        assert!(e.to_string().contains("prelude CRC"), "{e}");
        // A corrupted length is caught by the prelude CRC, not trusted.
        let mut frame = CRT_NO_HEADERS.to_vec();
        frame[3] = 0xff;
        assert!(matches!(
            decode_chunks(&[&frame]).1,
            Err(EventStreamError::PreludeCrcMismatch { .. })
        ));
    }

    #[test]
    fn bad_message_crc_is_named() {
        let mut frame = CRT_NO_HEADERS.to_vec();
        frame[14] = b'F'; // payload byte
        let (msgs, end) = decode_chunks(&[&frame]);
        assert!(msgs.is_empty());
        let e = end.unwrap_err();
        assert!(
            matches!(e, EventStreamError::MessageCrcMismatch { expected: 0xc365_3936, computed } if computed != 0xc365_3936),
            "{e:?}"
        );
        assert!(e.to_string().contains("message CRC"), "{e}");
        let mut frame = CRT_NO_HEADERS.to_vec();
        *frame.last_mut().unwrap() ^= 0x80;
        assert!(matches!(
            decode_chunks(&[&frame]).1,
            Err(EventStreamError::MessageCrcMismatch { .. })
        ));
    }

    #[test]
    fn messages_before_a_corrupt_one_are_delivered() {
        let mut bytes = stream();
        let first = bedrock_event("messageStart", r#"{"p":"abcdefghijkl","role":"assistant"}"#);
        let corrupt_at = first.len() + CRT_NO_HEADERS.len() + 20;
        bytes[corrupt_at] ^= 0xff;
        let (msgs, end) = decode_chunks(&[&bytes]);
        assert_eq!(msgs, expected_stream()[..2].to_vec());
        assert!(matches!(
            end,
            Err(EventStreamError::MessageCrcMismatch { .. })
        ));
    }

    /// A prelude with a correct CRC announcing `total` bytes and `headers` header bytes.
    fn prelude(total: u32, headers: u32) -> Vec<u8> {
        let mut p = total.to_be_bytes().to_vec();
        p.extend_from_slice(&headers.to_be_bytes());
        let crc = crc32(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        p
    }

    #[test]
    fn oversized_message_fails_on_its_prelude() {
        let total = u32::try_from(MAX_MESSAGE_BYTES).unwrap() + 1;
        let mut d = EventStreamDecoder::new();
        d.push(&prelude(total, 0));
        let e = d.next_message().unwrap_err();
        assert_eq!(
            e,
            EventStreamError::MessageTooLarge {
                total_length: total,
                limit: MAX_MESSAGE_BYTES
            }
        );
        assert!(e.to_string().contains("16777216"), "{e}");
        // Exactly the cap is allowed (and simply waits for the rest).
        let mut d = EventStreamDecoder::new();
        d.push(&prelude(total - 1, 0));
        assert_eq!(d.next_message(), Ok(None));
        // u32::MAX too, and a custom cap.
        let mut d = EventStreamDecoder::new();
        d.push(&prelude(u32::MAX, 0));
        assert!(matches!(
            d.next_message(),
            Err(EventStreamError::MessageTooLarge { .. })
        ));
        let mut d = EventStreamDecoder::with_max_message_bytes(32);
        d.push(&hex(PYTHON_ALL_TYPES));
        assert_eq!(
            d.next_message(),
            Err(EventStreamError::MessageTooLarge {
                total_length: 254,
                limit: 32
            })
        );
    }

    #[test]
    fn impossible_lengths_fail() {
        for total in [0, 1, 12, 15] {
            let mut d = EventStreamDecoder::new();
            d.push(&prelude(total, 0));
            assert_eq!(
                d.next_message(),
                Err(EventStreamError::MessageTooShort {
                    total_length: total
                }),
                "total {total}"
            );
        }
        for (total, headers) in [(16, 1), (20, 5), (100, u32::MAX)] {
            let mut d = EventStreamDecoder::new();
            d.push(&prelude(total, headers));
            assert_eq!(
                d.next_message(),
                Err(EventStreamError::HeadersTooLong {
                    headers_length: headers,
                    total_length: total
                })
            );
        }
        // Headers filling everything between prelude and CRC are fine.
        let frame = encode(
            &[Header {
                name: "a",
                value: HeaderValue::Bool(true),
            }],
            b"",
        );
        assert_eq!(decode_chunks(&[&frame]).1, Ok(()));
    }

    #[test]
    fn malformed_headers_fail_even_with_good_crcs() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x01", "header name cut off"),
            (b"\x05ab", "header name cut off"),
            (b"\x01a", "header value type missing"),
            (b"\x01a\x0a", "unknown header value type"),
            (b"\x01a\x60", "unknown header value type"),
            (b"\x01a\x04\x00\x00\x01", "header value cut off"),
            (b"\x01a\x07\x00\x05abc", "header value cut off"),
            (b"\x01a\x07\x00", "header value cut off"),
            (b"\x01a\x09\x00", "header value cut off"),
            (b"\x02\xff\xfe\x00", "header name is not UTF-8"),
            (
                b"\x01a\x07\x00\x02\xc3\x28",
                "string header value is not UTF-8",
            ),
            // A good header followed by a bad one.
            (b"\x01a\x00\x01b\x05\x00", "header value cut off"),
        ];
        for (block, reason) in cases {
            let frame = encode_raw(block, b"{}");
            let (msgs, end) = decode_chunks(&[&frame]);
            assert!(msgs.is_empty());
            assert_eq!(
                end,
                Err(EventStreamError::InvalidHeader { reason }),
                "block {block:?}"
            );
        }
        // Byte arrays need not be UTF-8, and an empty name is accepted (as the SDKs do).
        let frame = encode_raw(b"\x01a\x06\x00\x02\xc3\x28\x00\x00", b"");
        let (msgs, end) = decode_chunks(&[&frame]);
        assert_eq!(end, Ok(()));
        assert_eq!(
            msgs[0].headers,
            vec![
                ("a".into(), OwnedValue::Bytes(vec![0xc3, 0x28])),
                (String::new(), OwnedValue::Bool(true))
            ]
        );
    }

    #[test]
    fn garbage_fails_fast() {
        let (msgs, end) = decode_chunks(&[b"<html><body>502 Bad Gateway</body></html>"]);
        assert!(msgs.is_empty());
        assert!(matches!(
            end,
            Err(EventStreamError::PreludeCrcMismatch { .. })
        ));
        let (_, end) = decode_chunks(&[&[0u8; 64]]);
        assert!(matches!(
            end,
            Err(EventStreamError::PreludeCrcMismatch { .. })
        ));
        // Garbage after a good message.
        let mut bytes = CRT_NO_HEADERS.to_vec();
        bytes.extend_from_slice(b"{\"message\":\"oops\"}");
        let (msgs, end) = decode_chunks(&[&bytes]);
        assert_eq!(msgs.len(), 1);
        assert!(end.is_err());
    }

    #[test]
    fn truncated_stream_fails_at_finish() {
        let bytes = stream();
        for cut in [1, 11, 12, 13, 40, bytes.len() - 1] {
            let (_, end) = decode_chunks(&[&bytes[..cut]]);
            assert!(
                matches!(end, Err(EventStreamError::Truncated { buffered }) if buffered > 0),
                "cut {cut}: {end:?}"
            );
        }
        let (_, end) = decode_chunks(&[&CRT_NO_HEADERS[..20]]);
        assert_eq!(end, Err(EventStreamError::Truncated { buffered: 20 }));
        assert!(end.unwrap_err().to_string().contains("20 bytes"));
        assert_eq!(decode_chunks(&[]).1, Ok(()), "an empty stream is fine");
    }

    #[test]
    fn fails_and_stays_failed_then_finish_resets() {
        let mut d = EventStreamDecoder::new();
        d.push(b"not an event stream at all");
        let e = d.next_message().unwrap_err();
        assert_eq!(d.next_message(), Err(e));
        assert_eq!(d.error(), Some(e));
        d.push(CRT_NO_HEADERS);
        assert_eq!(d.next_message(), Err(e), "pushes are ignored once failed");
        assert_eq!(d.pending_bytes(), 0, "buffer released");
        assert_eq!(d.finish(), Err(e));
        // Reset: a fresh stream decodes.
        assert_eq!(d.error(), None);
        d.push(CRT_NO_HEADERS);
        assert_eq!(d.next_message().unwrap().unwrap().payload, b"{'foo':'bar'}");
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn pending_bytes_tracks_the_unfinished_message() {
        let mut d = EventStreamDecoder::new();
        let mut bytes = CRT_NO_HEADERS.to_vec();
        bytes.extend_from_slice(&CRT_NO_HEADERS[..10]);
        d.push(&bytes);
        assert_eq!(d.pending_bytes(), bytes.len());
        assert!(d.next_message().unwrap().is_some());
        assert_eq!(d.pending_bytes(), 10);
        assert_eq!(d.next_message(), Ok(None));
        d.push(&CRT_NO_HEADERS[10..]);
        assert_eq!(d.pending_bytes(), CRT_NO_HEADERS.len());
        assert!(d.next_message().unwrap().is_some());
        assert_eq!(d.pending_bytes(), 0);
    }

    #[test]
    fn error_messages_name_what_went_wrong() {
        let cases = [
            (
                EventStreamError::MessageTooShort { total_length: 3 },
                "minimum",
            ),
            (
                EventStreamError::HeadersTooLong {
                    headers_length: 9,
                    total_length: 20,
                },
                "headers length 9",
            ),
            (
                EventStreamError::InvalidHeader { reason: "x y" },
                "header: x y",
            ),
        ];
        for (e, needle) in cases {
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
