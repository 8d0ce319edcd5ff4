//! OpenAI-shaped errors, as LiteLLM sends them.
//!
//! Every refusal — by the check or by the management API — is
//! `{"error":{"message","type","param","code"}}` with `code` the HTTP status as a
//! string. Messages never contain a key or a token hash.

use serde_json::Value;
use switchyard_contract::error_body::openai_error_value;

/// One error on its way to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// The human-readable `message` (never a key or a token hash).
    pub message: String,
    /// The OpenAI/LiteLLM error `type` (`auth_error`, `budget_exceeded`, …).
    pub kind: String,
    /// The request field at fault (`param`), when one is.
    pub param: Option<String>,
    /// Seconds for a `retry-after` header (429s).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and type.
    pub fn new(status: u16, kind: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind: kind.to_string(),
            param: None,
            retry_after: None,
        }
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// 400 `bad_request_error` for a management request that makes no sense.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request_error", message)
    }

    /// 401 `auth_error`.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(401, "auth_error", message)
    }

    /// 404 `not_found_error`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }

    /// 500 `internal_server_error`, with a message that reveals nothing stored.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal_server_error", message)
    }

    /// 503 `no_db_connection`: the store cannot be reached.
    pub fn db_unavailable() -> Self {
        Self::new(
            503,
            "no_db_connection",
            "The keyservice cannot reach its database. Try again shortly.",
        )
    }

    /// The JSON body ([`openai_error_value`]).
    pub fn body(&self) -> Value {
        openai_error_value(
            self.status,
            &self.kind,
            &self.message,
            self.param.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_has_openai_shape_with_string_code() {
        let e = ApiError::auth("nope").with_param("key");
        assert_eq!(
            e.body(),
            json!({"error": {"message": "nope", "type": "auth_error", "param": "key", "code": "401"}})
        );
    }
}
