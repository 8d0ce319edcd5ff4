//! OpenAI and the OpenAI-compatible clouds: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::openai_compat::{self, Rewritten};
use crate::providers::provider::{
    Answer, Attempt, OutgoingBody, Provider, ResponseFormat, Translated,
};
use crate::providers::quirks::Quirks;
use crate::providers::{
    openai, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::request::TopLevel;

/// A provider speaking OpenAI's own wire format at `{api_base}/{endpoint}`: the
/// body goes out as the client sent it, its quirks aside, and the answer comes back
/// as it is, read for its usage.
#[derive(Debug)]
pub struct OpenAiCompatible {
    pub(crate) kind: ProviderKind,
    /// Normalizes the base (Hugging Face's Messages API).
    pub(crate) normalize: Option<fn(&mut String)>,
}

pub(crate) const fn compatible(kind: ProviderKind) -> OpenAiCompatible {
    OpenAiCompatible {
        kind,
        normalize: None,
    }
}

pub(crate) static OPENAI_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Openai);
pub(crate) static MISTRAL_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Mistral);
pub(crate) static GROQ_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Groq);
pub(crate) static DEEPSEEK_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Deepseek);
pub(crate) static TOGETHER_AI_PROVIDER: OpenAiCompatible = compatible(ProviderKind::TogetherAi);
pub(crate) static OPENROUTER_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Openrouter);
pub(crate) static XAI_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Xai);
pub(crate) static FIREWORKS_AI_PROVIDER: OpenAiCompatible = compatible(ProviderKind::FireworksAi);
pub(crate) static PERPLEXITY_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Perplexity);
pub(crate) static CEREBRAS_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Cerebras);
pub(crate) static DEEPINFRA_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Deepinfra);
pub(crate) static HOSTED_VLLM_PROVIDER: OpenAiCompatible = compatible(ProviderKind::HostedVllm);
pub(crate) static LM_STUDIO_PROVIDER: OpenAiCompatible = compatible(ProviderKind::LmStudio);
pub(crate) static LLAMAFILE_PROVIDER: OpenAiCompatible = compatible(ProviderKind::Llamafile);
/// The OpenAI-format request of one attempt, parsed one level deep: `quirks`
/// applied, the usage chunk asked for when `asks_usage` (the gateway needs the
/// tokens of every answer; dropped again on the way back when the client did not
/// ask), and the client's bytes kept when nothing changed.
pub(crate) fn openai_format_request(
    attempt: &Attempt<'_>,
    mut request: TopLevel<'_>,
    path: String,
    asks_usage: bool,
) -> Result<Translated, GatewayError> {
    let rewritten = if attempt.quirks.any() {
        openai_compat::apply(
            &attempt.quirks,
            attempt.endpoint,
            &mut request,
            attempt.drop_params,
        )?
    } else {
        Rewritten::default()
    };
    if attempt.stream
        && !rewritten.fake_stream
        && !attempt.include_usage
        && asks_usage
        && attempt.endpoint != Endpoint::Embeddings
    {
        request.insert("stream_options", serde_json::json!({"include_usage": true}));
    }
    let body = if request.changed() {
        OutgoingBody::Replaced(
            request
                .to_vec()
                .map_err(|e| GatewayError::internal(format!("could not serialize request: {e}")))?,
        )
    } else {
        OutgoingBody::Unchanged
    };
    Ok(Translated {
        path,
        body,
        rewritten,
        content_length: false,
        fan_out: None,
    })
}

impl Provider for OpenAiCompatible {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn quirks(&self, model: &str) -> Quirks {
        openai_compat::quirks_for(self.kind, model)
    }

    fn normalize_base(&self, path_prefix: &mut String) {
        if let Some(normalize) = self.normalize {
            normalize(path_prefix);
        }
    }

    fn model_id(&self, model: &str) -> String {
        openai_compat::provider_model(self.kind, model)
    }

    fn param_table(&self, endpoint: Endpoint, model: &str) -> ParamTable {
        match openai_compat::unsupported_params(self.kind, endpoint, model) {
            Some(not) => ParamTable::Not(not),
            None => ParamTable::Any,
        }
    }

    fn response_format(&self) -> ResponseFormat {
        ResponseFormat::OpenAi
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        openai::translate_request(attempt.endpoint, request)
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        // Providers that report usage in every stream unasked (Mistral, Perplexity,
        // …) are not asked: they do not accept the field.
        let asks_usage = !attempt.quirks.stream_usage_always;
        let path = openai::request_path(attempt.endpoint);
        openai_format_request(attempt, request, path, asks_usage)
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
        match answer.quirks.answer_fix() {
            Some(fix) if answer.endpoint == Endpoint::ChatCompletions => Box::new(
                openai::UsageTap::with_edit(!answer.client_include_usage, Box::new(fix)),
            ),
            // Already OpenAI SSE: read for usage; the usage chunk is dropped when
            // the gateway asked for it and the client did not.
            _ => Box::new(openai::UsageTap::new(!ctx.include_usage)),
        }
    }
}
