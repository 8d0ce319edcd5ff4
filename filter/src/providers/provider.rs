//! The seam between the stages and the providers: the [`Provider`] trait.
//!
//! A provider is asked to *do* things, never asked what it is: the upstream stage
//! configures a deployment through it (base, credentials header, fixed headers, the
//! model id, the parameter table, the quirks), and on each attempt hands it the
//! request ([`Attempt`]), the answer ([`Answer`]) and the errors to translate. Every
//! provider has one implementation, looked up once per deployment in
//! [`super::registry::provider`]; the stages never match on a [`ProviderKind`].

use serde_json::{Map, Value};

use super::quirks::{Quirks, Rewritten};
use super::{ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate};
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::plugin_config::PromptTemplate;
use crate::request::TopLevel;

/// The format a provider answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// OpenAI's own (bodies and SSE): a successful answer passes on, read on the way
    /// for its usage.
    OpenAi,
    /// The provider's native format: every answer is translated, whole or chunk by
    /// chunk.
    Native,
}

/// What a provider needs to translate one attempt's request: the deployment's
/// settings and the request's own facts, read once by the stage.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The OpenAI endpoint the client called.
    pub endpoint: Endpoint,
    /// The provider model id sent (a wildcard already filled in).
    pub model: &'a str,
    /// The deployment's `api_version` (Azure).
    pub api_version: Option<&'a str>,
    /// The deployment's `drop_params`.
    pub drop_params: bool,
    /// The prompt template of a text-generation deployment.
    pub prompt_template: Option<&'a PromptTemplate>,
    /// The deployment's request rewrites ([`super::openai_compat`]).
    pub quirks: Quirks,
    /// The request asked for a stream.
    pub stream: bool,
    /// The client set `stream_options.include_usage`.
    pub include_usage: bool,
}

impl<'a> Attempt<'a> {
    /// An attempt with the deployment defaults (no `api_version`, no
    /// `drop_params`, no template, no quirks, not streamed): what the fuzz targets
    /// and benches translate with.
    pub fn plain(endpoint: Endpoint, model: &'a str, api_version: Option<&'a str>) -> Self {
        Attempt {
            endpoint,
            model,
            api_version,
            drop_params: false,
            prompt_template: None,
            quirks: Quirks::NONE,
            stream: false,
            include_usage: false,
        }
    }
}

/// Where a request's body stands after translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingBody {
    /// The client's bytes go on untouched (an OpenAI-format body nothing changed).
    Unchanged,
    /// A new body replaces the client's.
    Replaced(Vec<u8>),
}

/// A request translated for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// Path after the deployment's path prefix, query included.
    pub path: String,
    /// The body sent.
    pub body: OutgoingBody,
    /// What the rewrite means for the answer.
    pub rewritten: Rewritten,
    /// The request carries its `content-length` (AWS's SDKs send it).
    pub content_length: bool,
    /// One request answered by several calls (Bedrock Titan embeddings with a list
    /// `input`): the calls for inputs 1, 2, …; this request carries input 0.
    pub fan_out: Option<Vec<ProviderRequest>>,
}

impl Translated {
    /// A translated request with a new body, nothing else to say.
    pub fn replaced(request: ProviderRequest) -> Self {
        Translated {
            path: request.path,
            body: OutgoingBody::Replaced(request.body),
            rewritten: Rewritten::default(),
            content_length: false,
            fan_out: None,
        }
    }
}

/// What a provider needs to translate one attempt's answer, besides the
/// [`ResponseContext`] (`created`, the model name, whether a stream ends with usage).
pub struct Answer<'a> {
    /// The OpenAI endpoint the client called.
    pub endpoint: Endpoint,
    /// What the request's rewrite means for the answer.
    pub rewritten: Rewritten,
    /// The deployment's answer rewrites ([`super::openai_compat::AnswerFix`]).
    pub quirks: Quirks,
    /// The client itself set `stream_options.include_usage` (the context's
    /// `include_usage` is also set for Anthropic-format clients).
    pub client_include_usage: bool,
    /// Reads a response header of the attempt (a hostcall: only when needed).
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

/// A provider: what the gateway knows about it at configure time, and how it
/// translates one attempt.
pub trait Provider: Sync + std::fmt::Debug {
    /// The provider's kind (its name in headers, logs and spend rows).
    fn kind(&self) -> ProviderKind;

    // ----- configure time ------------------------------------------------------

    /// Normalizes the path part of the deployment's `api_base` (LiteLLM accepts
    /// bases with or without the provider's version or endpoint).
    fn normalize_base(&self, _path_prefix: &mut String) {}

    /// The header carrying the deployment's API key, and its value.
    fn auth_header(&self, key: String) -> (String, String) {
        ("authorization".into(), format!("Bearer {key}"))
    }

    /// Headers every request carries unless the deployment's `headers` name them.
    fn default_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The model id sent for a configured `model`.
    fn model_id(&self, model: &str) -> String {
        model.to_string()
    }

    /// The parameters the provider takes for `endpoint` with `model`.
    fn param_table(&self, endpoint: Endpoint, model: &str) -> ParamTable;

    /// The request and answer rewrites of a deployment serving `model` (none but
    /// for the OpenAI-compatible clouds).
    fn quirks(&self, _model: &str) -> Quirks {
        Quirks::NONE
    }

    /// The format the provider answers in.
    fn response_format(&self) -> ResponseFormat {
        ResponseFormat::Native
    }

    /// Takes Anthropic-format requests (`/v1/messages`) as they come.
    fn speaks_messages_api(&self) -> bool {
        false
    }

    // ----- per attempt ---------------------------------------------------------

    /// Translates a parsed OpenAI request (defaults applied, parameters checked,
    /// `model` already the provider's id), as a tree.
    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError>;

    /// Translates the attempt's request, parsed one level deep: by default the
    /// whole tree is read and [`Self::translate`]d.
    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let request = into_map(request)?;
        self.translate(attempt, &request).map(Translated::replaced)
    }

    /// Translates a complete (non-streamed) successful answer.
    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError>;

    /// The translator of a streamed answer.
    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate>;

    /// The vector and token count of one call's answer of a request that fans out
    /// ([`Translated::fan_out`]; Bedrock Titan embeddings).
    fn fan_out_embedding(&self, _body: &[u8]) -> Result<(Vec<f64>, u64), GatewayError> {
        Err(GatewayError::internal("this provider does not fan out"))
    }

    /// The OpenAI embedding list of a fanned-out request, from its calls' vectors
    /// in input order and their summed tokens.
    fn fan_out_list(
        &self,
        _vectors: &[Vec<f64>],
        _tokens: u64,
        _model: &str,
        _base64: bool,
    ) -> Result<Vec<u8>, GatewayError> {
        Err(GatewayError::internal("this provider does not fan out"))
    }

    /// Maps an error answer (status ≥ 400) to an OpenAI-shaped error, keeping the
    /// provider's message; `header` reads the answer's headers.
    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        _header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        super::openai::translate_error(status, body)
    }
}

/// The whole tree of a request parsed one level deep.
pub(crate) fn into_map(request: TopLevel<'_>) -> Result<Map<String, Value>, GatewayError> {
    request
        .into_map()
        .map_err(|e| GatewayError::bad_request(format!("Request body is not valid JSON: {e}")))
}

/// Cuts the first of `suffixes` that `path_prefix` ends with.
pub(crate) fn strip_first_suffix(path_prefix: &mut String, suffixes: &[&str]) {
    for suffix in suffixes {
        if let Some(stripped) = path_prefix.strip_suffix(suffix) {
            let len = stripped.len();
            path_prefix.truncate(len);
            return;
        }
    }
}

/// The request's own `stream` flag (a translated path may depend on it).
pub(crate) fn streamed(request: &Map<String, Value>) -> bool {
    request.get("stream").and_then(Value::as_bool) == Some(true)
}
