//! Gemini (Google AI Studio): its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::provider::{streamed, Answer, Attempt, Provider};
use crate::providers::{
    gemini, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};

/// Google AI Studio's Gemini API: `generateContent`.
#[derive(Debug)]
pub struct Gemini;

impl Provider for Gemini {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    fn normalize_base(&self, path_prefix: &mut String) {
        if !gemini::has_version(path_prefix) {
            // LiteLLM's default (and GEMINI_API_BASE) is the bare host; its custom
            // bases carry the version.
            path_prefix.push_str(gemini::DEFAULT_API_VERSION);
        }
    }

    fn auth_header(&self, key: String) -> (String, String) {
        ("x-goog-api-key".into(), key)
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(gemini::supported_params(endpoint).to_vec())
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        Ok(ProviderRequest {
            // The stream flag is the request's own (parsed once, upstream stage).
            path: gemini::request_path(attempt.model, streamed(request), attempt.endpoint),
            body: gemini::translate_request(attempt.endpoint, request, attempt.model)?,
        })
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        gemini::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        Box::new(gemini::StreamTranslator::new(answer.endpoint, ctx))
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        gemini::translate_error(status, body)
    }
}
