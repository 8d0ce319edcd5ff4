//! Vertex AI: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::anthropic::anthropic_json_mode;
use crate::providers::openai_compat::Rewritten;
use crate::providers::provider::{into_map, streamed, Answer, Attempt, Provider, Translated};
use crate::providers::{
    anthropic, vertex, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::request::TopLevel;

/// Vertex AI: Gemini, Claude (`rawPredict`, Anthropic's format) and Google's
/// embeddings, with a service account's OAuth token.
#[derive(Debug)]
pub struct VertexAi;

impl Provider for VertexAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::VertexAi
    }

    fn param_table(&self, endpoint: Endpoint, model: &str) -> ParamTable {
        ParamTable::Only(vertex::supported_params(endpoint, model).to_vec())
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        Ok(ProviderRequest {
            path: vertex::request_path(attempt.model, streamed(request), attempt.endpoint),
            body: vertex::translate_request(attempt.endpoint, request, attempt.model)?,
        })
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let rewritten = if vertex::family(attempt.model) == vertex::Family::Claude {
            anthropic_json_mode(attempt.endpoint, &request)
        } else {
            Rewritten::default()
        };
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
        vertex::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        if answer.rewritten.json_tool && vertex::family(&ctx.model) == vertex::Family::Claude {
            Box::new(anthropic::StreamTranslator::json_mode(answer.endpoint, ctx))
        } else {
            vertex::stream_translator(answer.endpoint, ctx)
        }
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        vertex::translate_error(status, body)
    }
}
