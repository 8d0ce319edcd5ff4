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
