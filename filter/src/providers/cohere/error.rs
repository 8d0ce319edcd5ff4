//! Cohere error answer → OpenAI error.

use super::*;

/// Maps a Cohere error answer to an OpenAI error (see the module docs).
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    let mut err = crate::providers::openai::translate_error(status, body);
    if let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = root.get("data").and_then(Value::as_str) {
            if root.get("message").is_none() {
                err.message = m.to_string();
            }
        }
    }
    let lower = err.message.to_ascii_lowercase();
    // LiteLLM's Cohere mapping by message; only for client errors: a 5xx (or a
    // redirect) that quotes the phrase keeps its own status.
    if (400..500).contains(&status)
        && (lower.contains("invalid api token") || lower.contains("no api key provided"))
    {
        let message = std::mem::take(&mut err.message);
        return GatewayError::new(401, message);
    }
    if status == 498 {
        let message = std::mem::take(&mut err.message);
        return GatewayError::new(400, message);
    }
    err
}
