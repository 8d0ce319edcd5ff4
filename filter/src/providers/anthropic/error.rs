//! Anthropic errors → OpenAI errors: error bodies, `error` stream events and error
//! answers on a 200.

use crate::error::{type_for_status, GatewayError};
use crate::wire::anthropic::{opt_str, ErrorBody};

/// The status Anthropic gives an error type (for errors that arrive without one:
/// stream `error` events, error bodies on a 200).
pub(super) fn status_for_error_type(kind: &str) -> Option<u16> {
    crate::wire::anthropic::error_status(kind)
}

/// Anthropic error type → OpenAI error type.
fn openai_error_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "invalid_request_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" => "rate_limit_error",
        "api_error" => "internal_server_error",
        "overloaded_error" => "service_unavailable_error",
        "timeout_error" => "timeout_error",
        _ => return None,
    })
}

/// An error from Anthropic's `{type, message}`; `status` is already mapped.
pub(super) fn anthropic_error(status: u16, kind: Option<&str>, message: String) -> GatewayError {
    let mut status = if status == 529 { 503 } else { status };
    if kind == Some("request_too_large") {
        status = 413;
    }
    let openai_type = kind
        .and_then(openai_error_type)
        .unwrap_or_else(|| type_for_status(status));
    GatewayError::new(status, message).with_type(openai_type)
}

/// Anthropic error body → OpenAI error. Status 529 (overloaded) becomes 503, a
/// `request_too_large` becomes 413; a body that is not Anthropic's error JSON keeps
/// its text as the message.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<ErrorBody<'_>>(body) {
        Ok(ErrorBody { error }) => {
            let message = match opt_str(&error.message) {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => crate::providers::openai::fallback_message(status, body),
            };
            anthropic_error(status, opt_str(&error.kind), message)
        }
        Err(_) => anthropic_error(
            status,
            None,
            crate::providers::openai::fallback_message(status, body),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ----- errors ---------------------------------------------------------

    #[test]
    fn error_bodies_map_types_and_statuses() {
        let cases = [
            (400, "invalid_request_error", 400, "invalid_request_error"),
            (401, "authentication_error", 401, "authentication_error"),
            (403, "permission_error", 403, "permission_error"),
            (404, "not_found_error", 404, "not_found_error"),
            (413, "request_too_large", 413, "invalid_request_error"),
            (429, "rate_limit_error", 429, "rate_limit_error"),
            (500, "api_error", 500, "internal_server_error"),
            (529, "overloaded_error", 503, "service_unavailable_error"),
            (402, "billing_error", 402, "invalid_request_error"),
        ];
        for (status, anthropic_type, want_status, want_type) in cases {
            let body = format!(
                r#"{{"type":"error","error":{{"type":"{anthropic_type}","message":"msg for {anthropic_type}"}},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}}"#
            );
            let e = translate_error(status, body.as_bytes());
            assert_eq!(e.status, want_status, "{anthropic_type}");
            assert_eq!(e.kind, want_type, "{anthropic_type}");
            assert_eq!(e.message, format!("msg for {anthropic_type}"));
            assert_eq!(e.to_value()["error"]["code"], want_status.to_string());
        }
    }

    #[test]
    fn non_json_error_bodies_keep_text() {
        let e = translate_error(529, b"overloaded, try later");
        assert_eq!(
            (e.status, e.kind.as_str()),
            (503, "service_unavailable_error")
        );
        assert_eq!(e.message, "overloaded, try later");
        let e = translate_error(
            413,
            b"<html><body>413 Request Entity Too Large</body></html>",
        );
        assert_eq!(e.status, 413);
        assert!(e.message.contains("Request Entity Too Large"));
        let e = translate_error(500, b"");
        assert!(e.message.contains("HTTP 500"));
        let e = translate_error(400, br#"{"error":{"message":""}}"#);
        assert_eq!(e.status, 400);
        assert!(!e.message.is_empty());
    }
}
