//! Anthropic: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::Rewritten;
use crate::providers::provider::{
    into_map, strip_first_suffix, Answer, Attempt, Provider, Translated,
};
use crate::providers::{
    anthropic, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::request::TopLevel;

/// The Anthropic API version sent unless the deployment's `headers` name another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The header it goes in.
pub const ANTHROPIC_VERSION_HEADER: &str = "anthropic-version";

/// Anthropic's Messages API.
#[derive(Debug)]
pub struct Anthropic;

/// A chat request asking for JSON, answered through Anthropic's forced tool (its
/// input is the answer): the rewrite the answer needs.
pub(crate) fn anthropic_json_mode(endpoint: Endpoint, request: &TopLevel<'_>) -> Rewritten {
    Rewritten {
        json_tool: endpoint == Endpoint::ChatCompletions
            && anthropic::wants_json(request.get_value("response_format").as_ref()),
        ..Rewritten::default()
    }
}

impl Provider for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn normalize_base(&self, path_prefix: &mut String) {
        // LiteLLM accepts Anthropic bases with or without `/v1` or `/v1/messages`.
        strip_first_suffix(path_prefix, &["/v1/messages", "/v1"]);
    }

    fn auth_header(&self, key: String) -> (String, String) {
        ("x-api-key".into(), key)
    }

    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[(ANTHROPIC_VERSION_HEADER, ANTHROPIC_VERSION)]
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(anthropic::supported_params(endpoint).to_vec())
    }

    fn speaks_messages_api(&self) -> bool {
        true
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        Ok(ProviderRequest {
            path: "/v1/messages".to_string(),
            body: anthropic::translate_request(attempt.endpoint, request, attempt.model)?,
        })
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let rewritten = anthropic_json_mode(attempt.endpoint, &request);
        let request = into_map(request)?;
        Ok(Translated {
            rewritten,
            ..Translated::replaced(self.translate(attempt, &request)?)
        })
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        anthropic::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        if answer.rewritten.json_tool {
            Box::new(anthropic::StreamTranslator::json_mode(answer.endpoint, ctx))
        } else {
            Box::new(anthropic::StreamTranslator::new(answer.endpoint, ctx))
        }
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        anthropic::translate_error(status, body)
    }
}
