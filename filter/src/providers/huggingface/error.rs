//! TGI error answer → OpenAI error.

use super::*;

/// Maps a TGI error answer (`{"error", "error_type"}`) to an OpenAI error.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    let err = crate::providers::openai::translate_error(status, body);
    if status == 424 {
        // TGI's "failed dependency": the generation itself failed.
        return GatewayError::new(500, err.message);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tgi_errors_keep_their_message() {
        let e = translate_error(
            422,
            br#"{"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"}"#,
        );
        assert_eq!((e.status, e.kind.as_str()), (422, "invalid_request_error"));
        assert_eq!(
            e.message,
            "Input validation error: `temperature` must be strictly positive"
        );
        let e = translate_error(424, br#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#);
        assert_eq!(e.status, 500);
        assert!(e.message.starts_with("Request failed during generation"));
        let e = translate_error(
            429,
            br#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
        );
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
    }
}
