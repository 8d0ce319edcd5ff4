//! Gemini error answer → OpenAI error.

use super::*;

/// Gemini error body (`{"error":{"code","message","status"}}`) → OpenAI error with
/// Gemini's message and the type LiteLLM gives the status; a body that is not
/// Gemini's error JSON keeps its text as the message.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match error_object(&v) {
            Some(e) => error_from_object(Some(status), e, body),
            None => GatewayError::new(
                status,
                crate::providers::openai::fallback_message(status, body),
            ),
        },
        Err(_) => GatewayError::new(
            status,
            crate::providers::openai::fallback_message(status, body),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_message_and_map_type() {
        let e = translate_error(
            400,
            br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
        );
        assert_eq!(e.status, 400);
        assert_eq!(e.kind, "invalid_request_error");
        assert_eq!(e.message, "API key not valid. Please pass a valid API key.");
        let e = translate_error(503, br#"[{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}]"#);
        assert_eq!(
            (e.status, e.kind.as_str()),
            (503, "service_unavailable_error")
        );
        assert!(e.message.contains("overloaded"));
        let e = translate_error(404, br#"{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}"#);
        assert_eq!(e.kind, "not_found_error");
        let e = translate_error(502, b"Bad Gateway");
        assert_eq!(e.status, 502);
        assert!(e.message.contains("Bad Gateway"));
        assert_eq!(error_status(None, Some("RESOURCE_EXHAUSTED")), 429);
    }

    // -- streams ----------------------------------------------------------------
}
