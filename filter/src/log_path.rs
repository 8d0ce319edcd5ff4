//! The request path as the access log prints it: never a key.
//!
//! Envoy's access log prints [`LOG_PATH_PROPERTY`] (filter state the router stage
//! sets on every request it sees) instead of the path itself. LiteLLM's key API
//! takes a key in the path (`POST /key/{key}/regenerate`) and in the query
//! (`/key/info?key=sk-…`); a client may also put one anywhere in a path by mistake.
//! [`redact`] drops the query and the fragment, and replaces with `{key}`:
//!
//! - a segment after a `key` segment that is not one of the key API's own words
//!   (`generate`, `info`, `regenerate`, …), as the keyservice's route
//!   `/key/{key}/regenerate` names it;
//! - any segment that holds `sk-` (the prefix of every LiteLLM key, virtual or
//!   master), after percent-decoding, in any case.
//!
//! A redaction may hide a harmless segment; it never leaves a key.

/// Filter state holding the redacted path, for the access log
/// (`%FILTER_STATE(wasm.switchyard_log_path:PLAIN)%`).
pub const LOG_PATH_PROPERTY: &str = "switchyard_log_path";

/// What a redacted segment becomes.
pub const REDACTED: &str = "{key}";

/// The words the key API uses after `/key/` (`keyservice/src/api.rs`): kept.
const KEY_ROUTE_WORDS: [&str; 9] = [
    "generate",
    "update",
    "delete",
    "info",
    "list",
    "regenerate",
    "block",
    "unblock",
    "health",
];

/// `%XX` escapes decoded (invalid ones kept as they are), for the checks only.
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path without query, fragment or anything that may be a key.
pub fn redact(path: &str) -> String {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = path.get(..end).unwrap_or_default();
    let mut after_key = false;
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            if segment.is_empty() {
                return String::new();
            }
            let decoded = percent_decoded(segment).to_ascii_lowercase();
            let secret = decoded.contains("sk-")
                || (after_key && !KEY_ROUTE_WORDS.contains(&decoded.as_str()));
            after_key = decoded == "key";
            if secret {
                REDACTED.to_string()
            } else {
                segment.to_string()
            }
        })
        .collect();
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_paths_are_redacted() {
        assert_eq!(redact("/key/sk-abc123/regenerate"), "/key/{key}/regenerate");
        assert_eq!(
            redact("/key/my-custom-name/regenerate?x=1"),
            "/key/{key}/regenerate"
        );
        assert_eq!(
            redact("/key//sk-abc/regenerate/"),
            "/key//{key}/regenerate/"
        );
        assert_eq!(redact("/key/%73k-abc/regenerate"), "/key/{key}/regenerate");
        assert_eq!(redact("/KEY/SK-ABC/regenerate"), "/KEY/{key}/regenerate");
        assert_eq!(redact("/v1/models/sk-oops"), "/v1/models/{key}");
        assert_eq!(redact("/key/info?key=sk-abc"), "/key/info");
        assert_eq!(redact("/spend/logs?api_key=sk-abc#f"), "/spend/logs");
    }

    #[test]
    fn ordinary_paths_are_kept() {
        for p in [
            "/v1/chat/completions",
            "/key/generate",
            "/key/regenerate",
            "/v1/messages/count_tokens",
            "/",
            "/switchyard-fallback/context_window/1/gpt-4o/v1/chat/completions",
        ] {
            assert_eq!(redact(p), p);
        }
        assert_eq!(redact(""), "");
    }
}
