//! The Anthropic error body, its `type` per status and its stream event, for every
//! error on the Anthropic-format routes.

use serde_json::Value;

use crate::error::GatewayError;

/// The Anthropic error `type` for an HTTP status (LiteLLM's
/// `ANTHROPIC_ERROR_TYPE_MAP`, completed from Anthropic's Errors reference).
pub fn error_type(status: u16) -> &'static str {
    crate::wire::anthropic::error_type_for_status(status)
}

/// `{"type":"error","error":{"type","message"}}` for `err` (the contract's body).
pub fn error_value(err: &GatewayError) -> Value {
    err.to_anthropic_value()
}

/// The serialized Anthropic error body for `err`.
pub fn error_body(err: &GatewayError) -> Vec<u8> {
    serde_json::to_vec(&error_value(err)).unwrap_or_default()
}

/// `err` as one Anthropic stream event (`event: error`).
pub fn error_event(err: &GatewayError) -> Vec<u8> {
    let mut out = b"event: error\ndata: ".to_vec();
    out.extend_from_slice(&error_body(err));
    out.extend_from_slice(b"\n\n");
    out
}

/// The answer to `/v1/messages/count_tokens` for a deployment that cannot count.
pub fn count_tokens_unsupported(provider: &str, model: &str) -> GatewayError {
    GatewayError::bad_request(format!(
        "/v1/messages/count_tokens is answered only by Anthropic deployments (their own token counting API); model {model} is served by a {provider} deployment, and the gateway carries no tokenizer to count for it exactly."
    ))
    .with_param("model")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::error::GatewayError;
    use serde_json::Value;

    #[test]
    fn error_types_follow_litellm_and_anthropic() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
            (405, "invalid_request_error"),
        ] {
            assert_eq!(error_type(status), kind, "{status}");
        }
        let body: Value =
            serde_json::from_slice(&error_body(&GatewayError::unknown_model("x"))).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model=x"));
        let event = String::from_utf8(error_event(&GatewayError::new(529, "busy"))).unwrap();
        assert!(event.starts_with("event: error\ndata: {"), "{event}");
        assert!(event.ends_with("\n\n") && event.contains("overloaded_error"));
    }
}
