//! The error bodies a client sees, each written once: OpenAI's
//! `{"error":{"message","type","param","code"}}` (the filter's errors, the
//! keyservice's refusals, Envoy's own replies as the config compiler renders its
//! `local_reply_config`) and Anthropic's `{"type":"error","error":{"type","message"}}`
//! (the same on Anthropic-format routes).
//!
//! Every failure a client can see — a malformed body, an unknown model, a provider's
//! 429 — leaves the gateway as one of these with a fitting HTTP status, the shape
//! LiteLLM and the SDKs expect. `code` is the status as a string, as LiteLLM sends it.

use serde_json::{json, Value};

/// OpenAI's error body: `{"error":{"message","type","param","code"}}`, `code` the
/// status as a string (LiteLLM's way).
pub fn openai_error_value(status: u16, kind: &str, message: &str, param: Option<&str>) -> Value {
    json!({
        "error": {
            "message": message,
            "type": kind,
            "param": param,
            "code": status.to_string(),
        }
    })
}

/// Anthropic's error body: `{"type":"error","error":{"type","message"}}`.
pub fn anthropic_error_value(kind: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
    })
}

/// The Anthropic error `type` for an HTTP status (LiteLLM's
/// `ANTHROPIC_ERROR_TYPE_MAP`, completed from Anthropic's Errors reference).
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ if status < 500 => "invalid_request_error",
        _ => "api_error",
    }
}

/// One error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// HTTP status sent to the client.
    pub status: u16,
    /// Human-readable message (kept verbatim from the provider where there is one).
    pub message: String,
    /// OpenAI error `type`, e.g. `invalid_request_error`.
    pub kind: String,
    /// The request field at fault, if any.
    pub param: Option<String>,
}

/// The OpenAI error `type` LiteLLM uses for a provider status.
pub fn type_for_status(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 | 504 => "timeout_error",
        429 => "rate_limit_error",
        502 | 503 | 529 => "service_unavailable_error",
        _ if status >= 500 => "internal_server_error",
        _ => "invalid_request_error",
    }
}

impl GatewayError {
    /// An error with the type LiteLLM would give for `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        GatewayError {
            status,
            message: message.into(),
            kind: type_for_status(status).to_string(),
            param: None,
        }
    }

    /// Overrides the error `type`.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 `invalid_request_error`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 400 for a field with the wrong type or value.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::new(400, message).with_param(param)
    }

    /// 400 for a model no group, alias or wildcard matches (LiteLLM's wording).
    pub fn unknown_model(model: &str) -> Self {
        Self::new(
            400,
            format!(
                "Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
            ),
        )
        .with_param("model")
    }

    /// 413 for a body over the configured limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            413,
            format!("Request body is larger than the gateway's limit of {limit_bytes} bytes (general_settings.max_request_size_mb)."),
        )
    }

    /// 500 for a gateway fault; the message says what went wrong inside.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The JSON value of the body ([`openai_error_value`]).
    pub fn to_value(&self) -> Value {
        openai_error_value(
            self.status,
            &self.kind,
            &self.message,
            self.param.as_deref(),
        )
    }

    /// The body in Anthropic's shape ([`anthropic_error_value`]), the type named
    /// for the status ([`anthropic_error_type`]).
    pub fn to_anthropic_value(&self) -> Value {
        anthropic_error_value(anthropic_error_type(self.status), &self.message)
    }

    /// The serialized body.
    pub fn to_body(&self) -> Vec<u8> {
        // Serializing a `Value` built from strings cannot fail.
        serde_json::to_vec(&self.to_value()).unwrap_or_default()
    }

    /// The body as one SSE event, for a stream that fails midway.
    pub fn to_sse_event(&self) -> Vec<u8> {
        let mut out = b"data: ".to_vec();
        out.extend_from_slice(&self.to_body());
        out.extend_from_slice(b"\n\n");
        out
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_openai_shape_with_string_code() {
        let e = GatewayError::unknown_model("gpt-9");
        let v: Value = serde_json::from_slice(&e.to_body()).unwrap();
        assert_eq!(v["error"]["code"], "400");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model=gpt-9"));
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/models"));
    }

    #[test]
    fn types_follow_status() {
        assert_eq!(type_for_status(401), "authentication_error");
        assert_eq!(type_for_status(429), "rate_limit_error");
        assert_eq!(type_for_status(500), "internal_server_error");
        assert_eq!(type_for_status(529), "service_unavailable_error");
        let e = GatewayError::new(404, "x");
        assert_eq!(e.to_value()["error"]["param"], Value::Null);
    }

    #[test]
    fn sse_error_event_is_one_data_line() {
        let e = GatewayError::new(502, "gone");
        let s = String::from_utf8(e.to_sse_event()).unwrap();
        assert!(s.starts_with("data: {\"error\":"));
        assert!(s.ends_with("\n\n"));
    }

    #[test]
    fn the_two_shapes() {
        assert_eq!(
            openai_error_value(429, "rate_limit_error", "slow", Some("model")),
            json!({"error": {"message": "slow", "type": "rate_limit_error", "param": "model", "code": "429"}})
        );
        assert_eq!(
            GatewayError::new(529, "busy").to_anthropic_value(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
        );
    }
}
