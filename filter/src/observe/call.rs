//! The call: the gateway's id of one client request (LiteLLM's `litellm_call_id`)
//! and the `x-litellm-*` timing headers every answer carries.
//!
//! The router stage draws the id from its host's randomness (a UUID v4 in text, as
//! LiteLLM's `str(uuid.uuid4())`) when a request's headers come. It is never a
//! client's value: LiteLLM takes a client's `x-litellm-call-id`
//! (`litellm/proxy/common_request_processing.py`, `litellm_call_id =
//! request.headers.get("x-litellm-call-id", str(uuid.uuid4()))`); Switchyard keys
//! its attempt ledger and its logs on the id, so a client must not be able to name
//! another request's. An error fallback's replay (an internal redirect) continues
//! the call: the redirect carries the id with a random token
//! ([`CALL_ID_CARRIER_HEADER`]) and the router stage takes it only on a replay path
//! and only when the last attempt of that call in this worker's ledger is the
//! redirected one, holding that token (it was left there before the replay began).
//! A client never sees the token, so it cannot continue a call, not even its own.

use crate::host::Host;

pub use switchyard_contract::filter_state::{CALL_ID_PROPERTY, CALL_START_PROPERTY};
pub use switchyard_contract::headers::{
    CALL_ID_CARRIER_HEADER, CALL_ID_RESPONSE_HEADER, OVERHEAD_DURATION_HEADER,
    RESPONSE_DURATION_HEADER,
};

/// A UUID v4 in its text form (lower-case hex, 8-4-4-4-12) from 16 random bytes:
/// the version and variant bits are set as RFC 9562 says.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// A fresh call id from the host's randomness.
pub fn draw(host: &dyn Host) -> String {
    let mut bytes = [0u8; 16];
    host.random_bytes(&mut bytes);
    uuid_v4(bytes)
}

/// Whether `text` is a call id as [`uuid_v4`] writes them.
pub fn is_call_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
        && bytes.get(14) == Some(&b'4')
}

/// The call of a request: its id and when it came (Unix milliseconds). On a
/// replay, the call its redirect carried ([`carrier`]), when the last attempt of
/// that call in this worker's ledger ended in the redirect whose token is carried.
/// Else a fresh id, starting `now_ms`.
pub fn for_request(
    host: &dyn Host,
    replay: bool,
    carried: Option<&str>,
    now_ms: u64,
) -> (String, u64) {
    if replay {
        let parsed = carried.and_then(|c| {
            let mut parts = c.split(' ');
            let (id, start, token) = (parts.next()?, parts.next()?, parts.next()?);
            let start: u64 = start.parse().ok()?;
            (is_call_id(id) && start <= now_ms && !token.is_empty() && parts.next().is_none())
                .then_some((id, start, token))
        });
        if let Some((id, start, token)) = parsed {
            let attempts = host.peek_attempts(id);
            let last_token = attempts.last().and_then(|a| a.redirect_token.as_deref());
            if last_token == Some(token) {
                return (id.to_string(), start);
            }
        }
    }
    (draw(host), now_ms)
}

/// The value of [`CALL_ID_CARRIER_HEADER`] on an error fallback's redirect: the
/// call id, its start and the redirect's token, which [`for_request`] reads on the
/// replay.
pub fn carrier(call_id: &str, start_ms: u64, token: &str) -> String {
    format!("{call_id} {start_ms} {token}")
}

/// A fresh redirect token (128 random bits, hex).
pub fn redirect_token(host: &dyn Host) -> String {
    let mut bytes = [0u8; 16];
    host.random_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The call of the request at hand, as the router stage recorded it in filter
/// state ([`CALL_ID_PROPERTY`], [`CALL_START_PROPERTY`]); `None` before that.
pub fn current(host: &dyn Host) -> Option<(String, u64)> {
    let id = host
        .property(&[CALL_ID_PROPERTY])
        .and_then(|raw| String::from_utf8(raw).ok())
        .filter(|id| !id.is_empty())?;
    let start = host
        .property(&[CALL_START_PROPERTY])
        .and_then(|raw| std::str::from_utf8(&raw).ok()?.parse().ok())
        .unwrap_or_else(|| host.now_unix_millis());
    Some((id, start))
}

/// `x-litellm-call-id` and the timing headers for an answer sent now by a stage
/// that knows the call only from filter state (a local answer, the responder's).
pub fn answer_headers(host: &dyn Host) -> Vec<(&'static str, String)> {
    let Some((id, start)) = current(host) else {
        return Vec::new();
    };
    let provider = provider_ms(&host.peek_attempts(&id));
    let [duration, overhead] = timing_headers(start, host.now_unix_millis(), provider);
    vec![(CALL_ID_RESPONSE_HEADER, id), duration, overhead]
}

/// A duration in milliseconds as LiteLLM prints it: Python's `str()` of a float
/// (`(end_time - start_time).total_seconds() * 1000`), so a whole number keeps its
/// `.0`.
pub fn python_ms(ms: f64) -> String {
    if ms.is_finite() && ms.fract() == 0.0 && ms.abs() < 1e16 {
        format!("{ms:.1}")
    } else {
        format!("{ms}")
    }
}

/// The timing headers of an answer sent at `now_ms` for a request that came at
/// `start_ms` and spent `provider_ms` waiting for providers:
/// `x-litellm-response-duration-ms` (request start to response headers) and
/// `x-litellm-overhead-duration-ms` (the gateway's own part of it, never negative).
pub fn timing_headers(start_ms: u64, now_ms: u64, provider_ms: u64) -> [(&'static str, String); 2] {
    let total = now_ms.saturating_sub(start_ms);
    let overhead = total.saturating_sub(provider_ms);
    [
        (RESPONSE_DURATION_HEADER, python_ms(total as f64)),
        (OVERHEAD_DURATION_HEADER, python_ms(overhead as f64)),
    ]
}

/// The time the attempts of a call so far spent with providers (an attempt still
/// going counts up to its last record: its response headers).
pub fn provider_ms(attempts: &[super::AttemptRecord]) -> u64 {
    attempts
        .iter()
        .map(|a| a.end_ms.saturating_sub(a.start_ms))
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::observe::AttemptRecord;

    #[test]
    fn ids_are_uuid_v4_text_and_distinct() {
        let host = MockHost::default();
        let a = draw(&host);
        let b = draw(&host);
        assert!(is_call_id(&a), "{a}");
        assert!(is_call_id(&b), "{b}");
        assert_ne!(a, b);
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn recognizes_only_its_own_form() {
        for bad in [
            "",
            "not-a-uuid",
            "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF",
            "ffffffff-ffff-1fff-bfff-ffffffffffff",
            "ffffffff-ffff-4fff-bfff-ffffffffffff0",
            "ffffffffxffffx4fffxbfffxffffffffffff",
        ] {
            assert!(!is_call_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_replay_continues_only_the_call_its_redirect_named() {
        let host = MockHost::default();
        let live = "0000000a-0000-4000-8000-000000000000";
        let redirected = AttemptRecord {
            redirect_token: Some("tok".into()),
            ..Default::default()
        };
        host.leave_attempt(live, 1, redirected);
        let carried = carrier(live, 900, "tok");
        // The replay of a redirect this worker made: the call goes on, from its start.
        assert_eq!(
            for_request(&host, true, Some(&carried), 1_000),
            (live.to_string(), 900)
        );
        // The carrier on a first pass, even naming the live call: a fresh call.
        let (fresh, start) = for_request(&host, false, Some(&carried), 1_000);
        assert_ne!(fresh, live);
        assert!(is_call_id(&fresh));
        assert_eq!(start, 1_000);
        // Forged replays: a call no redirect named, a start in the future, a guessed
        // or missing token, extra parts, garbage, a huge value, nothing.
        let chosen = carrier("12345678-1234-4234-8234-123456789012", 900, "tok");
        let future = carrier(live, 5_000, "tok");
        let guessed = carrier(live, 900, "guess");
        let no_token = format!("{live} 900");
        let extra = format!("{carried} more");
        let huge = "a".repeat(1 << 20);
        for forged in [
            Some(chosen.as_str()),
            Some(&future),
            Some(&guessed),
            Some(&no_token),
            Some(&extra),
            Some("x\ny"),
            Some(&huge),
            Some(live),
            None,
        ] {
            let (id, start) = for_request(&host, true, forged, 1_000);
            assert!(is_call_id(&id));
            assert_ne!(id, live, "{forged:?}");
            assert_ne!(id, "12345678-1234-4234-8234-123456789012");
            assert_eq!(start, 1_000);
        }
        // Once an attempt of the replay is left, the token is spent.
        host.leave_attempt(live, 2, AttemptRecord::default());
        assert_ne!(for_request(&host, true, Some(&carried), 1_000).0, live);
    }

    #[test]
    fn answer_headers_read_the_call_from_filter_state() {
        let mut host = MockHost::default();
        assert!(answer_headers(&host).is_empty());
        host.now = 10;
        let id = "0000000b-0000-4000-8000-000000000000";
        host.properties.insert(CALL_ID_PROPERTY.into(), id.into());
        host.properties
            .insert(CALL_START_PROPERTY.into(), b"9000".to_vec());
        host.leave_attempt(
            id,
            1,
            AttemptRecord {
                start_ms: 9_100,
                end_ms: 9_600,
                ..Default::default()
            },
        );
        assert_eq!(
            answer_headers(&host),
            vec![
                (CALL_ID_RESPONSE_HEADER, id.to_string()),
                (RESPONSE_DURATION_HEADER, "1000.0".to_string()),
                (OVERHEAD_DURATION_HEADER, "500.0".to_string()),
            ]
        );
    }

    #[test]
    fn durations_print_as_python_floats() {
        assert_eq!(python_ms(12.0), "12.0");
        assert_eq!(python_ms(0.0), "0.0");
        assert_eq!(python_ms(1.5), "1.5");
        let [total, overhead] = timing_headers(1_000, 1_250, 200);
        assert_eq!(total, (RESPONSE_DURATION_HEADER, "250.0".to_string()));
        assert_eq!(overhead, (OVERHEAD_DURATION_HEADER, "50.0".to_string()));
        // Clocks that disagree never make a negative overhead or duration.
        let [total, overhead] = timing_headers(1_000, 900, 500);
        assert_eq!(total.1, "0.0");
        assert_eq!(overhead.1, "0.0");
    }
}
