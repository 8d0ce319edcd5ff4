//! Azure OpenAI: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::openai_format_request;
use crate::providers::provider::{Answer, Attempt, Provider, ResponseFormat, Translated};
use crate::providers::{
    azure, openai, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::request::TopLevel;

/// Azure OpenAI: OpenAI's format, the deployment in the path, `api-version` in the
/// query, the key in `api-key`.
#[derive(Debug)]
pub struct Azure;

impl Provider for Azure {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Azure
    }

    fn auth_header(&self, key: String) -> (String, String) {
        ("api-key".into(), key)
    }

    fn param_table(&self, _endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Any
    }

    fn response_format(&self) -> ResponseFormat {
        ResponseFormat::OpenAi
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        openai::translate_azure_request(
            attempt.endpoint,
            request,
            attempt.model,
            attempt.api_version,
        )
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let path = openai::azure_request_path(attempt.endpoint, attempt.model, attempt.api_version);
        openai_format_request(attempt, request, path, true)
    }

    fn translate_response(
        &self,
        _answer: &Answer<'_>,
        _ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        Ok(body.to_vec())
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        // OpenAI SSE with Azure's content-filter annotations, normalized.
        Box::new(openai::UsageTap::with_edit(
            !ctx.include_usage,
            Box::new(azure::ContentFilterNormalizer::for_endpoint(
                answer.endpoint,
                ctx.created,
                &ctx.model,
            )),
        ))
    }
}
