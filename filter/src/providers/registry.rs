//! One row per provider: [`provider`] maps a [`ProviderKind`] to its
//! [`Provider`] implementation — the only `match` on a provider kind outside the
//! providers' own code.
//!
//! Each implementation below sits in a section of its own and calls the functions
//! of its provider's module (`anthropic::translate_request`, …); it is what the
//! stages know of the provider. The thirteen OpenAI-compatible clouds share one
//! implementation, [`OpenAiCompatible`], parametrized by their quirks.

use serde_json::{Map, Value};

use super::openai_compat::{self, Rewritten};
use super::provider::{
    into_map, streamed, strip_first_suffix, Answer, Attempt, Provider, Translated,
};
use super::{
    anthropic, azure, bedrock, cohere, gemini, huggingface, ollama, vertex, ParamTable,
    ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::request::TopLevel;

/// The implementation of `kind`.
pub fn provider(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Openai => &openai_compat::OPENAI_PROVIDER,
        ProviderKind::Azure => &azure::Azure,
        ProviderKind::Anthropic => &Anthropic,
        ProviderKind::Mistral => &openai_compat::MISTRAL_PROVIDER,
        ProviderKind::Groq => &openai_compat::GROQ_PROVIDER,
        ProviderKind::Deepseek => &openai_compat::DEEPSEEK_PROVIDER,
        ProviderKind::TogetherAi => &openai_compat::TOGETHER_AI_PROVIDER,
        ProviderKind::Openrouter => &openai_compat::OPENROUTER_PROVIDER,
        ProviderKind::Xai => &openai_compat::XAI_PROVIDER,
        ProviderKind::FireworksAi => &openai_compat::FIREWORKS_AI_PROVIDER,
        ProviderKind::Perplexity => &openai_compat::PERPLEXITY_PROVIDER,
        ProviderKind::Cerebras => &openai_compat::CEREBRAS_PROVIDER,
        ProviderKind::Deepinfra => &openai_compat::DEEPINFRA_PROVIDER,
        ProviderKind::HostedVllm => &openai_compat::HOSTED_VLLM_PROVIDER,
        ProviderKind::LmStudio => &openai_compat::LM_STUDIO_PROVIDER,
        ProviderKind::Llamafile => &openai_compat::LLAMAFILE_PROVIDER,
        ProviderKind::Ollama => &ollama::OLLAMA,
        ProviderKind::OllamaChat => &ollama::OLLAMA_CHAT,
        ProviderKind::Gemini => &gemini::Gemini,
        ProviderKind::Cohere => &cohere::Cohere,
        ProviderKind::Huggingface => &huggingface::HUGGINGFACE,
        ProviderKind::HuggingfaceGenerate => &huggingface::HuggingfaceGenerate,
        ProviderKind::Bedrock => &Bedrock,
        ProviderKind::VertexAi => &VertexAi,
    }
}

/// Headers some attempts set besides each deployment's own (Bedrock's signature,
/// `anthropic-version`): the upstream stage clears them at the start of every
/// attempt, so none is left for another provider.
pub fn attempt_headers() -> impl Iterator<Item = &'static str> {
    bedrock::SIGNED_HEADERS
        .iter()
        .copied()
        .chain([ANTHROPIC_VERSION_HEADER])
}

// ===== Anthropic =================================================================

/// The Anthropic API version sent unless the deployment's `headers` name another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The header it goes in.
pub const ANTHROPIC_VERSION_HEADER: &str = "anthropic-version";

/// Anthropic's Messages API.
#[derive(Debug)]
pub struct Anthropic;

/// A chat request asking for JSON, answered through Anthropic's forced tool (its
/// input is the answer): the rewrite the answer needs.
fn anthropic_json_mode(endpoint: Endpoint, request: &TopLevel<'_>) -> Rewritten {
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

// ===== Amazon Bedrock ============================================================

/// Amazon Bedrock Runtime: Converse, ConverseStream, InvokeModel embeddings.
#[derive(Debug)]
pub struct Bedrock;

/// The header naming a Bedrock request (the answer's id).
const BEDROCK_REQUEST_ID: &str = "x-amzn-requestid";

impl Provider for Bedrock {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    fn param_table(&self, endpoint: Endpoint, model: &str) -> ParamTable {
        bedrock::param_table(endpoint, model)
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        bedrock::translate_request(
            attempt.endpoint,
            request,
            attempt.model,
            attempt.drop_params,
        )
        .map(|(r, _)| r)
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let request = into_map(request)?;
        // AWS's SDKs send the length; so does the gateway (the body is whole).
        if attempt.endpoint == Endpoint::Embeddings {
            if let Some(calls) = bedrock::titan_calls(&request, attempt.model)? {
                // Titan, a list `input`: this request carries the first input, the
                // others are calls of the stage's own.
                let mut calls = calls.into_iter();
                if let Some(first) = calls.next() {
                    return Ok(Translated {
                        content_length: true,
                        fan_out: Some(calls.collect()),
                        ..Translated::replaced(first)
                    });
                }
            }
        }
        let (translated, rewritten) = bedrock::translate_request(
            attempt.endpoint,
            &request,
            attempt.model,
            attempt.drop_params,
        )?;
        Ok(Translated {
            rewritten,
            content_length: true,
            ..Translated::replaced(translated)
        })
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        let request_id = (answer.header)(BEDROCK_REQUEST_ID);
        let out = bedrock::translate_response(answer.endpoint, body, ctx, request_id.as_deref())?;
        Ok(if answer.endpoint == Endpoint::Embeddings {
            let tokens = (answer.header)("x-amzn-bedrock-input-token-count");
            bedrock::embedding_usage_from_header(out, tokens.as_deref())
        } else {
            out
        })
    }

    fn fan_out_embedding(&self, body: &[u8]) -> Result<(Vec<f64>, u64), GatewayError> {
        bedrock::titan_answer(body)
    }

    fn fan_out_list(
        &self,
        vectors: &[Vec<f64>],
        tokens: u64,
        model: &str,
        base64: bool,
    ) -> Result<Vec<u8>, GatewayError> {
        bedrock::titan_embedding_list(vectors, tokens, model, base64)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        let request_id = (answer.header)(BEDROCK_REQUEST_ID);
        Box::new(bedrock::StreamTranslator::new(
            answer.endpoint,
            ctx,
            request_id.as_deref(),
        ))
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        // Bedrock names the error's type in a header.
        let error_type = header("x-amzn-errortype");
        bedrock::translate_error(status, body, error_type.as_deref())
    }
}

// ===== Vertex AI =================================================================

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::provider::OutgoingBody;

    #[test]
    fn every_kind_has_its_own_row() {
        for prefix in [
            "openai",
            "azure",
            "anthropic",
            "mistral",
            "groq",
            "deepseek",
            "together_ai",
            "openrouter",
            "xai",
            "fireworks_ai",
            "perplexity",
            "cerebras",
            "deepinfra",
            "hosted_vllm",
            "lm_studio",
            "llamafile",
            "ollama",
            "ollama_chat",
            "gemini",
            "cohere",
            "huggingface",
            "bedrock",
            "vertex_ai",
        ] {
            let kind = ProviderKind::from_litellm_prefix(prefix).unwrap();
            assert_eq!(provider(kind).kind(), kind, "{prefix}");
        }
        assert_eq!(
            provider(ProviderKind::HuggingfaceGenerate).kind(),
            ProviderKind::HuggingfaceGenerate
        );
    }

    /// `kind`'s translation of `body` as a streamed chat request.
    fn streamed_chat(kind: ProviderKind, body: &[u8]) -> Translated {
        let provider = provider(kind);
        let attempt = Attempt {
            stream: true,
            quirks: provider.quirks("m"),
            ..Attempt::plain(Endpoint::ChatCompletions, "m", None)
        };
        provider
            .translate_request(&attempt, TopLevel::parse(body).unwrap())
            .unwrap()
    }

    #[test]
    fn openai_format_bodies_go_on_untouched_unless_usage_must_be_asked() {
        let body =
            br#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
        let asked = Attempt {
            stream: true,
            include_usage: true,
            ..Attempt::plain(Endpoint::ChatCompletions, "m", None)
        };
        let out = provider(ProviderKind::Openai)
            .translate_request(&asked, TopLevel::parse(body).unwrap())
            .unwrap();
        assert_eq!(out.body, OutgoingBody::Unchanged);
        assert_eq!(out.path, "/chat/completions");

        let plain = br#"{"model":"m","messages":[],"stream":true}"#;
        for kind in [
            ProviderKind::Openai,
            ProviderKind::Azure,
            ProviderKind::Groq,
        ] {
            let OutgoingBody::Replaced(sent) = streamed_chat(kind, plain).body else {
                panic!("{kind:?}: the usage chunk is asked for");
            };
            let sent: Value = serde_json::from_slice(&sent).unwrap();
            assert_eq!(sent["stream_options"]["include_usage"], true, "{kind:?}");
        }
        // Mistral reports usage unasked and refuses the field.
        assert_eq!(
            streamed_chat(ProviderKind::Mistral, plain).body,
            OutgoingBody::Unchanged
        );
    }

    #[test]
    fn native_providers_replace_the_body_and_say_what_the_answer_needs() {
        let json = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"response_format":{"type":"json_object"}}"#;
        let anthropic = streamed_chat(ProviderKind::Anthropic, json);
        assert_eq!(anthropic.path, "/v1/messages");
        assert!(matches!(anthropic.body, OutgoingBody::Replaced(_)));
        assert!(
            anthropic.rewritten.json_tool,
            "JSON through the forced tool"
        );
        assert!(!anthropic.content_length);
        let bedrock = streamed_chat(ProviderKind::Bedrock, json);
        assert!(
            bedrock.content_length,
            "Bedrock requests carry their length"
        );
        assert!(bedrock.fan_out.is_none());
    }

    #[test]
    fn bases_are_normalized_per_provider() {
        let normalized = |kind: ProviderKind, base: &str| {
            let mut base = base.to_string();
            provider(kind).normalize_base(&mut base);
            base
        };
        assert_eq!(normalized(ProviderKind::Anthropic, "/x/v1/messages"), "/x");
        assert_eq!(normalized(ProviderKind::Anthropic, "/v1"), "");
        assert_eq!(normalized(ProviderKind::Gemini, ""), "/v1beta");
        assert_eq!(normalized(ProviderKind::Gemini, "/v1"), "/v1");
        assert_eq!(normalized(ProviderKind::Cohere, "/v2/chat"), "");
        assert_eq!(
            normalized(ProviderKind::Huggingface, "/x/chat/completions"),
            "/x/v1"
        );
        assert_eq!(normalized(ProviderKind::Huggingface, "/v1"), "/v1");
        assert_eq!(
            normalized(ProviderKind::HuggingfaceGenerate, "/generate"),
            ""
        );
        assert_eq!(normalized(ProviderKind::Openai, "/v1"), "/v1");
    }
}
