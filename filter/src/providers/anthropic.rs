//! Anthropic Messages API. (Being written: see the module's tests for the contract.)

use serde_json::{Map, Value};

use super::{ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// Parameters the translation understands, per endpoint.
pub fn supported_params(_endpoint: Endpoint) -> &'static [&'static str] {
    &["model", "messages", "max_tokens", "stream"]
}

/// OpenAI request → Anthropic Messages request body.
pub fn translate_request(
    _endpoint: Endpoint,
    _request: &Map<String, Value>,
    _model: &str,
) -> Result<Vec<u8>, GatewayError> {
    Err(GatewayError::internal("anthropic translation not built yet"))
}

/// Anthropic Messages response → OpenAI response.
pub fn translate_response(
    _endpoint: Endpoint,
    _body: &[u8],
    _ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    Err(GatewayError::internal("anthropic translation not built yet"))
}

/// Anthropic error body → OpenAI error.
pub fn translate_error(status: u16, body: &[u8]) -> GatewayError {
    super::openai::translate_error(status, body)
}

/// Anthropic SSE → OpenAI `chat.completion.chunk` SSE.
pub struct StreamTranslator {
    _ctx: ResponseContext,
}

impl StreamTranslator {
    /// A translator for one response.
    pub fn new(_endpoint: Endpoint, ctx: ResponseContext) -> Self {
        StreamTranslator { _ctx: ctx }
    }
}

impl StreamTranslate for StreamTranslator {
    fn push(&mut self, _chunk: &[u8], _out: &mut Vec<u8>) {}
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}
