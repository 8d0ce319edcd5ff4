//! Hugging Face text generation (TGI's native API): its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::OpenAiCompatible;
use crate::providers::provider::{strip_first_suffix, Answer, Attempt, Provider};
use crate::providers::{
    huggingface, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};

/// Hugging Face's OpenAI-compatible Messages API (TGI's `/v1/chat/completions`, Inference
/// Endpoints, the router): the OpenAI-compatible row with its own base.
pub(crate) static HUGGINGFACE: OpenAiCompatible = OpenAiCompatible {
    kind: ProviderKind::Huggingface,
    normalize: Some(huggingface_messages_base),
};

/// LiteLLM's `_build_chat_completion_url` for Hugging Face: `{base}/chat/completions`
/// for a base ending in `/v1`, `{base}/v1/chat/completions` otherwise, the base as
/// it is when it names the endpoint already.
fn huggingface_messages_base(path_prefix: &mut String) {
    strip_first_suffix(path_prefix, &["/chat/completions"]);
    if !path_prefix.ends_with("/v1") {
        path_prefix.push_str("/v1");
    }
}

/// Text Generation Inference's native `/generate`: a prompt built from the
/// messages, with the deployment's prompt template.
#[derive(Debug)]
pub struct HuggingfaceGenerate;

impl Provider for HuggingfaceGenerate {
    fn kind(&self) -> ProviderKind {
        ProviderKind::HuggingfaceGenerate
    }

    fn normalize_base(&self, path_prefix: &mut String) {
        // A TGI endpoint's root; a base naming the route is cut back to it.
        strip_first_suffix(path_prefix, &["/generate_stream", "/generate"]);
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(huggingface::supported_params(endpoint))
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        huggingface::translate_request(attempt.endpoint, request, attempt.prompt_template)
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        huggingface::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        Box::new(huggingface::StreamTranslator::new(answer.endpoint, ctx))
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        huggingface::translate_error(status, body)
    }
}
