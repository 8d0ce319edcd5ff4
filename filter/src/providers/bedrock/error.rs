//! Bedrock errors (`{"message"}` with the type in `x-amzn-errortype`, or stream
//! exceptions) → OpenAI errors.

use serde_json::Value;

use crate::error::{type_for_status, GatewayError};

/// The exception name of an `x-amzn-errortype` value or a body `__type`:
/// `ValidationException:http://…` and `com.amazon.coral#ValidationException` →
/// `ValidationException`.
fn exception_name(raw: &str) -> &str {
    let raw = raw.split(':').next().unwrap_or(raw);
    raw.rsplit('#').next().unwrap_or(raw).trim()
}

/// The status an OpenAI client gets for a Bedrock exception (matched without
/// regard to the first letter's case: streams name them `throttlingException`).
pub fn status_for_exception(name: &str, upstream_status: u16) -> u16 {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "validationexception" => 400,
        "accessdeniedexception" => 403,
        "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "incompletesignature"
        | "missingauthenticationtokenexception"
        | "missingauthenticationtoken"
        | "expiredtokenexception"
        | "invalidclienttokenid" => 401,
        "resourcenotfoundexception" => 404,
        "modeltimeoutexception" => 408,
        "throttlingexception" | "servicequotaexceededexception" | "toomanyrequestsexception" => 429,
        "modelnotreadyexception" | "serviceunavailableexception" => 503,
        "modelerrorexception" | "modelstreamerrorexception" => 502,
        "internalserverexception" | "internalfailure" => 500,
        _ if upstream_status >= 400 => upstream_status,
        _ => 500,
    }
}

pub(super) fn bedrock_error(status: u16, message: String) -> GatewayError {
    GatewayError::new(status, message).with_type(type_for_status(status))
}

/// A Bedrock error answer → an OpenAI error. `error_type` is the
/// `x-amzn-errortype` header, when the caller has it.
pub fn translate_error(status: u16, body: &[u8], error_type: Option<&str>) -> GatewayError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let message = field("message").or_else(|| field("Message")).map_or_else(
        || crate::providers::openai::fallback_message(status, body),
        str::to_string,
    );
    let name = error_type
        .filter(|t| !t.is_empty())
        .or_else(|| field("__type"))
        .or_else(|| field("code"))
        .map(exception_name);
    let mapped = match name {
        Some(name) => status_for_exception(name, status),
        None => status,
    };
    bedrock_error(mapped, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_message_and_map_the_type() {
        let body = br#"{"message":"The security token included in the request is invalid."}"#;
        let e = translate_error(403, body, Some("UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/"));
        assert_eq!((e.status, e.kind.as_str()), (401, "authentication_error"));
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
        let e = translate_error(403, br#"{"message":"The request signature we calculated does not match the signature you provided."}"#, Some("InvalidSignatureException"));
        assert_eq!(e.status, 401);
        let e = translate_error(
            403,
            br#"{"message":"You don't have access to the model with the specified model ID."}"#,
            Some("AccessDeniedException"),
        );
        assert_eq!((e.status, e.kind.as_str()), (403, "permission_error"));
        let e = translate_error(
            429,
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            Some("ThrottlingException"),
        );
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
        let e = translate_error(
            429,
            br#"{"message":"Model is not ready"}"#,
            Some("ModelNotReadyException"),
        );
        assert_eq!(e.status, 503);
        let e = translate_error(
            400,
            br#"{"message":"Malformed input request: extraneous key [foo] is not permitted"}"#,
            Some("ValidationException"),
        );
        assert_eq!((e.status, e.param), (400, None));
        // The type from the body when the header is missing; the status else.
        let e = translate_error(
            400,
            br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}"#,
            None,
        );
        assert_eq!((e.status, e.message.as_str()), (400, "bad"));
        assert_eq!(translate_error(418, b"teapot", None).status, 418);
    }
}
