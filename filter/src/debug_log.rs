//! The debug mode's request log: every upstream attempt written the way LiteLLM's
//! debug output shows a provider call, and the provider's status for it.
//!
//! LiteLLM 1.108.14 (`litellm/litellm_core_utils/litellm_logging.py`,
//! `Logging._get_request_curl_command`) prints, before each provider call:
//!
//! ```text
//! POST Request Sent from LiteLLM:
//! curl -X POST \
//! https://api.openai.com/v1/chat/completions \
//! -H 'Authorization: Be****45' -H 'Content-Type: application/json' \
//! -d '{...}'
//! ```
//!
//! with header values masked by `get_masked_values`: a value whose header name
//! contains `authorization`, `token`, `key`, `secret`, `credentials`, `password` or
//! `passwd` keeps its first two and last two characters around `****` (`*****` when
//! it has four characters or fewer); `mask_api_base_credentials` masks a `key=` in
//! the URL. Switchyard prints the same, and masks more, so that no credential can
//! appear in a log:
//!
//! - header names also count as sensitive when they contain `auth`, `cookie`,
//!   `signature` or `session`;
//! - URL query parameters with a sensitive name, and user information
//!   (`user:password@`), are masked;
//! - in the body (JSON, printed compactly so the command stays on its lines), string
//!   values under sensitive keys are masked, at any depth (LiteLLM prints the body
//!   as it is);
//! - every credential the attempt carries (the values of its sensitive headers, a
//!   bearer token without its scheme, the AWS key id, secret and session token the
//!   stage signs with) is then replaced wherever else it occurs in the text.
//!
//! The body is printed up to [`MAX_BODY_CHARS`] characters. The upstream stage calls
//! this only when the plugin config's `debug` is on (see `UpstreamConfig::debug`);
//! `switchyard up` prints the lines that start with a [`MARKERS`] entry.

use serde_json::Value;

pub use switchyard_contract::debug_log::{
    message_in_log_line, MARKERS, REQUEST_MARKER, STATUS_MARKER,
};

/// Parts of a header, query-parameter or JSON key name that make its value secret:
/// LiteLLM's list (`get_masked_values`) and a few more.
const SENSITIVE_WORDS: [&str; 11] = [
    "authorization",
    "token",
    "key",
    "secret",
    "credential",
    "password",
    "passwd",
    "auth",
    "cookie",
    "signature",
    "session",
];

/// Known credentials shorter than this are not searched for in the rest of the text
/// (they are still masked where they stand, under their sensitive name).
const MIN_SCRUBBED_LEN: usize = 6;

/// Longest body printed, in characters.
pub const MAX_BODY_CHARS: usize = 16 * 1024;

/// Whether a header, parameter or key name marks its value as a secret.
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
}

/// LiteLLM's mask: the first two and last two characters around `****`; `*****` for
/// four characters or fewer.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "*****".to_string();
    }
    let head: String = chars.iter().take(2).collect();
    let tail: String = chars.iter().skip(chars.len() - 2).collect();
    format!("{head}****{tail}")
}

/// The URL with user information and sensitive query parameters masked.
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => format!("{}@{host}", mask(userinfo)),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, value)) if is_sensitive(name) => {
                        format!("{name}={}", mask(value))
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// Masks string values under sensitive keys, at any depth.
fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if is_sensitive(k) => *s = mask(s),
                    _ => mask_json(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// The body as printed: JSON compactly with sensitive values masked, anything else
/// as (lossy) text with line breaks escaped.
fn body_text(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut json) => {
            mask_json(&mut json);
            serde_json::to_string(&json).unwrap_or_default()
        }
        Err(_) => String::from_utf8_lossy(body)
            .replace('\r', "\\r")
            .replace('\n', "\\n"),
    }
}

/// Quotes `text` for a POSIX shell's single quotes.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The credentials to search for: the values of the sensitive headers, a bearer
/// (or other scheme's) token without its scheme, and `extra` (AWS keys).
fn secrets_of<'a>(headers: &'a [(String, String)], extra: &[&'a str]) -> Vec<&'a str> {
    let mut secrets: Vec<&str> = Vec::new();
    // Pseudo-headers (`:authority`) are the URL's, never credentials.
    for (name, value) in headers.iter().filter(|(n, _)| !n.starts_with(':')) {
        if is_sensitive(name) {
            secrets.push(value.as_str());
            if let Some((_, token)) = value.split_once(' ') {
                secrets.push(token.trim());
            }
        }
    }
    secrets.extend(extra.iter().copied());
    secrets.retain(|s| s.chars().count() >= MIN_SCRUBBED_LEN);
    // Longest first, so a token inside a longer value is not replaced first.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// Replaces each secret wherever it occurs in `text`.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, &mask(secret));
        }
    }
    out
}

/// The message for one attempt: `<METHOD> Request Sent from LiteLLM:` and a curl
/// command (URL, every non-pseudo header, body), all credentials masked. `secrets`
/// are credentials that do not travel in a header (the AWS secret the request is
/// signed with, …) and must not appear either.
pub fn request_message(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    secrets: &[&str],
) -> String {
    let known = secrets_of(headers, secrets);
    let header_args: Vec<String> = headers
        .iter()
        .filter(|(name, _)| !name.starts_with(':'))
        .map(|(name, value)| {
            let shown = if is_sensitive(name) {
                mask(value)
            } else {
                scrub(value, &known)
            };
            format!("-H {}", shell_quote(&format!("{name}: {shown}")))
        })
        .collect();
    let mut body = scrub(&body_text(body), &known);
    let total = body.chars().count();
    if total > MAX_BODY_CHARS {
        body = body.chars().take(MAX_BODY_CHARS).collect::<String>()
            + &format!("…[{} more characters]", total - MAX_BODY_CHARS);
    }
    let mut message = format!(
        "{method} {REQUEST_MARKER}\ncurl -X {method} \\\n{} \\\n",
        scrub(&mask_url(url), &known)
    );
    if !header_args.is_empty() {
        message.push_str(&header_args.join(" "));
        message.push_str(" \\\n");
    }
    message.push_str(&format!("-d {}", shell_quote(&body)));
    message
}

/// The provider's status for one attempt (`0`: no answer — connection failure,
/// reset or timeout); `target` is `<METHOD> <masked URL>`.
pub fn status_message(
    status: u16,
    target: &str,
    group: &str,
    deployment: &str,
    attempt: u32,
) -> String {
    let status = if status == 0 {
        "none (no answer: connection failure, reset or timeout)".to_string()
    } else {
        status.to_string()
    };
    format!(
        "{STATUS_MARKER} {status} for {target} (model group {group}, deployment {deployment}, attempt {attempt})"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn masks_as_litellm_does() {
        // get_masked_values(unmasked_length=4, number_of_asterisks=4).
        assert_eq!(mask("Bearer sk-1234567890"), "Be****90");
        assert_eq!(mask("abcd"), "*****");
        assert_eq!(mask("abcde"), "ab****de");
        assert_eq!(mask("ключ-секрет"), "кл****ет");
        for name in [
            "Authorization",
            "api-key",
            "x-api-key",
            "x-goog-api-key",
            "x-amz-security-token",
            "proxy-authorization",
            "cookie",
            "x-custom-auth",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in [
            "content-type",
            "anthropic-version",
            "x-amz-date",
            "user-agent",
        ] {
            assert!(!is_sensitive(name), "{name}");
        }
    }

    #[test]
    fn the_curl_line_has_litellms_shape_and_no_secret() {
        let secret = "sk-provider-secret-0123456789";
        let hs = headers(&[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (":authority", "api.example.com"),
            ("authorization", &format!("Bearer {secret}")),
            ("content-type", "application/json"),
            ("x-echo", &format!("copy {secret} here")),
        ]);
        let body = format!(
            "{{\n \"model\": \"m\", \"api_key\": \"{secret}\", \"max_tokens\": 5,\n \"messages\": [{{\"role\": \"user\", \"content\": \"it's {secret}\"}}]}}"
        );
        let text = request_message(
            "POST",
            "https://api.example.com/v1/chat/completions?key=AIzaSECRETSECRET&alt=sse",
            &hs,
            body.as_bytes(),
            &[],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "POST Request Sent from LiteLLM:");
        assert_eq!(lines[1], "curl -X POST \\");
        assert_eq!(
            lines[2],
            "https://api.example.com/v1/chat/completions?key=AI****ET&alt=sse \\"
        );
        assert!(lines[3].starts_with("-H 'authorization: Be****89' -H 'content-type: application/json' -H 'x-echo: copy sk****89 here'"), "{}", lines[3]);
        assert!(lines[3].ends_with(" \\"));
        assert!(
            lines[4].starts_with("-d '{\"model\":\"m\",\"api_key\":\"sk****89\",\"max_tokens\":5,"),
            "{}",
            lines[4]
        );
        // A quote in the body stays shell-safe.
        assert!(lines[4].contains("it'\\''s sk****89"), "{}", lines[4]);
        assert_eq!(lines.len(), 5);
        assert!(!text.contains(secret));
        assert!(!text.contains("AIzaSECRETSECRET"));
        assert!(!text.contains(":path"), "pseudo-headers are in the URL");
    }

    #[test]
    fn aws_credentials_never_appear() {
        let signature = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIAMOCK0001/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={signature}");
        let hs = headers(&[
            ("authorization", &auth),
            ("x-amz-security-token", "FwoGZXIvYXdzEXAMPLETOKEN"),
            ("x-amz-date", "20240101T000000Z"),
        ]);
        let text = request_message(
            "POST",
            "http://127.0.0.1:9/model/m/converse",
            &hs,
            b"{}",
            &["AKIAMOCK0001", "secret/Key+AWS0000"],
        );
        for secret in [
            signature,
            "FwoGZXIvYXdzEXAMPLETOKEN",
            "AKIAMOCK0001",
            auth.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("x-amz-date: 20240101T000000Z"));
    }

    #[test]
    fn urls_lose_userinfo_and_secret_parameters() {
        assert_eq!(
            mask_url("https://user:hunter2@h.example/p?api-version=1&sig=x&token=abcdef"),
            "https://us****r2@h.example/p?api-version=1&sig=x&token=ab****ef"
        );
        assert_eq!(mask_url("http://h:1/a"), "http://h:1/a");
    }

    #[test]
    fn long_bodies_are_cut_after_masking() {
        let big = format!("{{\"input\": \"{}\"}}", "x".repeat(MAX_BODY_CHARS * 2));
        let text = request_message("POST", "http://h/e", &[], big.as_bytes(), &[]);
        assert!(text.contains("more characters]"));
        assert!(text.len() < MAX_BODY_CHARS + 200);
        assert!(!text.contains("-H"), "no headers, no -H");
    }

    #[test]
    fn status_lines_and_log_line_parsing() {
        let line = status_message(429, "POST http://h/v1", "g", "d1", 2);
        assert_eq!(
            line,
            "Provider status: 429 for POST http://h/v1 (model group g, deployment d1, attempt 2)"
        );
        assert!(status_message(0, "POST x", "g", "d", 1).contains("none (no answer"));
        let envoy = "[2025-01-01 00:00:00.000][12][info][wasm] [source/extensions/common/wasm/context.cc:1195] wasm log switchyard route_0: POST Request Sent from LiteLLM:";
        assert_eq!(
            message_in_log_line(envoy),
            Some("POST Request Sent from LiteLLM:")
        );
        let envoy = format!("[x][info][wasm] wasm log a b: {line}");
        assert_eq!(message_in_log_line(&envoy), Some(line.as_str()));
        assert_eq!(message_in_log_line("[x][warn][main] something"), None);
    }
}
