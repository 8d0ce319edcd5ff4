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
