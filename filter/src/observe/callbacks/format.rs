//! What the callbacks' wire formats share: ISO 8601 times (Langfuse), and the
//! OpenTelemetry trace and span ids a call id stands for.

use sha2::{Digest, Sha256};

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix milliseconds as ISO 8601 in UTC with milliseconds
/// (`2026-12-07T12:52:16.123Z`), as Langfuse's API takes date-times.
pub fn iso8601(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000) as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        unix_ms % 1000
    )
}

/// Lower-case hex of `bytes` (a table, not a `format!` per byte: the ids are made
/// for every request).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// The OpenTelemetry trace id (32 lower-case hex digits) of a call: the call id's
/// own 128 bits when it is a UUID, else the first 16 bytes of its SHA-256. Never all
/// zeros (invalid in OTLP).
pub fn trace_id(call_id: &str) -> String {
    let plain: String = call_id.chars().filter(|c| *c != '-').collect();
    if plain.len() == 32 && plain.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = plain.to_ascii_lowercase();
        if lower.bytes().any(|b| b != b'0') {
            return lower;
        }
    }
    let digest = Sha256::digest(call_id.as_bytes());
    hex(digest.get(..16).unwrap_or_default())
}

/// The OpenTelemetry span id (16 lower-case hex digits) of a call's span: 8 bytes of
/// the SHA-256 of its call id, the lowest bit set so it is never all zeros.
pub fn span_id(call_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"span:")
        .chain_update(call_id.as_bytes())
        .finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(digest.get(16..24).unwrap_or(&[0; 8]));
    id[7] |= 1;
    hex(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_hand_checked_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1796647936` → Mon Dec  7 12:52:16 UTC 2026.
        assert_eq!(iso8601(1_796_647_936_123), "2026-12-07T12:52:16.123Z");
        // A leap day, and the last millisecond of a year.
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_704_067_199_999), "2023-12-31T23:59:59.999Z");
    }

    #[test]
    fn ids_are_otlp_hex_of_the_right_length_and_stable() {
        let uuid = "0D2F6A1C-9B3E-4C5D-8E7F-A1B2C3D4E5F6";
        assert_eq!(trace_id(uuid), "0d2f6a1c9b3e4c5d8e7fa1b2c3d4e5f6");
        for call in [
            uuid,
            "chatcmpl-x",
            "",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let (t, s) = (trace_id(call), span_id(call));
            assert_eq!((t.len(), s.len()), (32, 16), "{call}");
            assert!(t
                .bytes()
                .chain(s.bytes())
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(t.bytes().any(|b| b != b'0') && s.bytes().any(|b| b != b'0'));
            assert_eq!((trace_id(call), span_id(call)), (t, s), "deterministic");
        }
        assert_ne!(trace_id("a"), trace_id("b"));
        assert_ne!(span_id("a"), span_id("b"));
    }
}
