//! Cohere: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::provider::{strip_first_suffix, Answer, Attempt, Provider};
use crate::providers::{
    cohere, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};

/// Cohere's v2 API.
#[derive(Debug)]
pub struct Cohere;

impl Provider for Cohere {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cohere
    }

    fn normalize_base(&self, path_prefix: &mut String) {
        // LiteLLM's Cohere `api_base` (and COHERE_API_BASE) is the whole endpoint
        // URL (`…/v2/chat`, `…/v2/embed`); one deployment serves both, so the base
        // is the part before it.
        strip_first_suffix(
            path_prefix,
            &[
                "/v2/chat",
                "/v2/embed",
                "/v1/chat",
                "/v1/embed",
                "/v2",
                "/v1",
            ],
        );
    }

    fn model_id(&self, model: &str) -> String {
        // LiteLLM's `cohere_chat/v2/<model>` names the v2 route, not the model.
        model.strip_prefix("v2/").unwrap_or(model).to_string()
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(cohere::supported_params(endpoint))
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        cohere::translate_request(attempt.endpoint, request, attempt.model)
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        cohere::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        Box::new(cohere::StreamTranslator::new(answer.endpoint, ctx))
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        cohere::translate_error(status, body)
    }
}
