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
    into_map, Answer, Attempt, OutgoingBody, Provider, ResponseFormat, Translated,
};
use super::{
    anthropic, azure, bedrock, cohere, gemini, huggingface, ollama, openai, vertex, ParamTable,
    ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::request::TopLevel;

/// The implementation of `kind`.
pub fn provider(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Openai => &OPENAI,
        ProviderKind::Azure => &Azure,
        ProviderKind::Anthropic => &Anthropic,
        ProviderKind::Mistral => &MISTRAL,
        ProviderKind::Groq => &GROQ,
        ProviderKind::Deepseek => &DEEPSEEK,
        ProviderKind::TogetherAi => &TOGETHER_AI,
        ProviderKind::Openrouter => &OPENROUTER,
        ProviderKind::Xai => &XAI,
        ProviderKind::FireworksAi => &FIREWORKS_AI,
        ProviderKind::Perplexity => &PERPLEXITY,
        ProviderKind::Cerebras => &CEREBRAS,
        ProviderKind::Deepinfra => &DEEPINFRA,
        ProviderKind::HostedVllm => &HOSTED_VLLM,
        ProviderKind::LmStudio => &LM_STUDIO,
        ProviderKind::Llamafile => &LLAMAFILE,
        ProviderKind::Ollama => &OLLAMA,
        ProviderKind::OllamaChat => &OLLAMA_CHAT,
        ProviderKind::Gemini => &Gemini,
        ProviderKind::Cohere => &Cohere,
        ProviderKind::Huggingface => &HUGGINGFACE,
        ProviderKind::HuggingfaceGenerate => &HuggingfaceGenerate,
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

/// Cuts the first of `suffixes` that `path_prefix` ends with.
fn strip_first_suffix(path_prefix: &mut String, suffixes: &[&str]) {
    for suffix in suffixes {
        if let Some(stripped) = path_prefix.strip_suffix(suffix) {
            let len = stripped.len();
            path_prefix.truncate(len);
            return;
        }
    }
}

/// The request's own `stream` flag (a translated path may depend on it).
fn streamed(request: &Map<String, Value>) -> bool {
    request.get("stream").and_then(Value::as_bool) == Some(true)
}

// ===== OpenAI and the OpenAI-compatible clouds ===================================

/// A provider speaking OpenAI's own wire format at `{api_base}/{endpoint}`: the
/// body goes out as the client sent it, its quirks aside, and the answer comes back
/// as it is, read for its usage.
#[derive(Debug)]
pub struct OpenAiCompatible {
    kind: ProviderKind,
    /// Normalizes the base (Hugging Face's Messages API).
    normalize: Option<fn(&mut String)>,
}

const fn compatible(kind: ProviderKind) -> OpenAiCompatible {
    OpenAiCompatible {
        kind,
        normalize: None,
    }
}

static OPENAI: OpenAiCompatible = compatible(ProviderKind::Openai);
static MISTRAL: OpenAiCompatible = compatible(ProviderKind::Mistral);
static GROQ: OpenAiCompatible = compatible(ProviderKind::Groq);
static DEEPSEEK: OpenAiCompatible = compatible(ProviderKind::Deepseek);
static TOGETHER_AI: OpenAiCompatible = compatible(ProviderKind::TogetherAi);
static OPENROUTER: OpenAiCompatible = compatible(ProviderKind::Openrouter);
static XAI: OpenAiCompatible = compatible(ProviderKind::Xai);
static FIREWORKS_AI: OpenAiCompatible = compatible(ProviderKind::FireworksAi);
static PERPLEXITY: OpenAiCompatible = compatible(ProviderKind::Perplexity);
static CEREBRAS: OpenAiCompatible = compatible(ProviderKind::Cerebras);
static DEEPINFRA: OpenAiCompatible = compatible(ProviderKind::Deepinfra);
static HOSTED_VLLM: OpenAiCompatible = compatible(ProviderKind::HostedVllm);
static LM_STUDIO: OpenAiCompatible = compatible(ProviderKind::LmStudio);
static LLAMAFILE: OpenAiCompatible = compatible(ProviderKind::Llamafile);
static HUGGINGFACE: OpenAiCompatible = OpenAiCompatible {
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

/// The OpenAI-format request of one attempt, parsed one level deep: `quirks`
/// applied, the usage chunk asked for when `asks_usage` (the gateway needs the
/// tokens of every answer; dropped again on the way back when the client did not
/// ask), and the client's bytes kept when nothing changed.
fn openai_format_request(
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
                openai::UsageTap::with_fix(!answer.client_include_usage, fix),
            ),
            // Already OpenAI SSE: read for usage; the usage chunk is dropped when
            // the gateway asked for it and the client did not.
            _ => Box::new(openai::UsageTap::new(!ctx.include_usage)),
        }
    }
}

// ===== Azure OpenAI ==============================================================

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
        Box::new(openai::UsageTap::for_azure(
            !ctx.include_usage,
            azure::ContentFilterNormalizer::for_endpoint(answer.endpoint, ctx.created, &ctx.model),
        ))
    }
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

// ===== Ollama ====================================================================

/// Ollama: `/api/generate` (a prompt built from the messages) or `/api/chat`.
#[derive(Debug)]
pub struct Ollama {
    /// `/api/chat` (`ollama_chat/`).
    chat: bool,
}

static OLLAMA: Ollama = Ollama { chat: false };
static OLLAMA_CHAT: Ollama = Ollama { chat: true };

impl Provider for Ollama {
    fn kind(&self) -> ProviderKind {
        if self.chat {
            ProviderKind::OllamaChat
        } else {
            ProviderKind::Ollama
        }
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(ollama::supported_params(self.chat, endpoint))
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        ollama::translate_request(self.chat, attempt.endpoint, request, attempt.model)
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        ollama::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        Box::new(ollama::StreamTranslator::new(answer.endpoint, ctx))
    }

    // Ollama's errors are `{"error": "<text>"}`, which the OpenAI mapping reads.
}

// ===== Gemini (Google AI Studio) =================================================

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

// ===== Cohere ====================================================================

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
        openai_compat::provider_model(ProviderKind::Cohere, model)
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

// ===== Hugging Face text generation (TGI's native API) ===========================

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
