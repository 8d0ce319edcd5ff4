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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_cohere_messages() {
        let e = translate_error(400, br#"{"id":"6f7b","message":"invalid request: message must be at least 1 token long or tool results must be specified."}"#);
        assert_eq!((e.status, e.kind.as_str()), (400, "invalid_request_error"));
        assert!(
            e.message.starts_with("invalid request: message"),
            "{}",
            e.message
        );
        let e = translate_error(401, br#"{"message":"invalid api token"}"#);
        assert_eq!((e.status, e.message.as_str()), (401, "invalid api token"));
        let e = translate_error(400, br#"{"message":"No API key provided."}"#);
        assert_eq!(e.status, 401);
        // Found by the fuzz target translate_response: a 5xx (or a status that did
        // not parse) quoting the phrase keeps its status.
        let e = translate_error(500, br#"{"message":"upstream said: No API key provided."}"#);
        assert_eq!(e.status, 500);
        assert_eq!(
            translate_error(0, br#"{"message":"no api key provided"}"#).status,
            0
        );
        let e = translate_error(
            429,
            br#"{"data":"You are using a Trial key, which is limited to 10 API calls / minute."}"#,
        );
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
        assert!(e.message.starts_with("You are using a Trial key"));
        let e = translate_error(498, br#"{"message":"blocked output"}"#);
        assert_eq!(e.status, 400);
        assert_eq!(translate_error(503, b"").status, 503);
        let too_long = br#"{"id":"a","message":"too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4292"}"#;
        assert_eq!(
            crate::providers::classify_error(400, too_long),
            Some(crate::plugin_config::ErrorKind::ContextWindow)
        );
    }
}
