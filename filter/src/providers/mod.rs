//! Provider translations: OpenAI-format requests to each provider's native API and
//! back.
//!
//! Every translation here is sans-IO: bytes (or a parsed request) in, bytes out, with
//! time passed in through [`ResponseContext`]. The upstream stage
//! ([`crate::upstream`]) does what is common to all providers — parsing the body once,
//! applying deployment defaults, `drop_params`, the model id — and then calls the
//! provider's functions through [`ProviderKind`].

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub(crate) mod block_answer;
pub(crate) mod chunk_writer;
pub mod cohere;
pub mod gemini;
pub mod huggingface;
pub mod ollama;
pub mod openai;
pub mod openai_compat;
pub mod vertex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;

/// The provider a deployment is, as far as the gateway treats providers differently:
/// its wire format, its parameter table and quirks, and its name in headers and logs.
///
/// The OpenAI-compatible clouds (`mistral/`, `groq/`, …) speak OpenAI's format but
/// get their own variants, so each keeps LiteLLM's parameter table and request
/// quirks ([`openai_compat`]) and its own name (`custom_llm_provider` in spend rows);
/// everything per provider is looked up once, when the deployment is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI and every OpenAI-compatible server (`openai/`, `openai_like/`,
    /// `custom_openai/`, any `api_base`).
    Openai,
    /// Azure OpenAI: deployment in the path, `api-version` query, `api-key` header.
    Azure,
    /// Anthropic Messages API.
    Anthropic,
    /// Mistral AI (`mistral/`).
    Mistral,
    /// Groq (`groq/`).
    Groq,
    /// DeepSeek (`deepseek/`).
    Deepseek,
    /// Together AI (`together_ai/`).
    TogetherAi,
    /// OpenRouter (`openrouter/`).
    Openrouter,
    /// xAI (`xai/`).
    Xai,
    /// Fireworks AI (`fireworks_ai/`).
    FireworksAi,
    /// Perplexity (`perplexity/`).
    Perplexity,
    /// Cerebras (`cerebras/`).
    Cerebras,
    /// DeepInfra (`deepinfra/`).
    Deepinfra,
    /// A vLLM server (`hosted_vllm/`).
    HostedVllm,
    /// LM Studio (`lm_studio/`).
    LmStudio,
    /// llamafile (`llamafile/`).
    Llamafile,
    /// Ollama's `/api/generate` (`ollama/`): a prompt built from the messages.
    Ollama,
    /// Ollama's `/api/chat` (`ollama_chat/`).
    OllamaChat,
    /// Google AI Studio's Gemini API (`gemini/`): `generateContent`.
    Gemini,
    /// Cohere's v2 API (`cohere/`, `cohere_chat/`).
    Cohere,
    /// Hugging Face's OpenAI-compatible Messages API (`huggingface/`: TGI's
    /// `/v1/chat/completions`, Inference Endpoints, the Hugging Face router).
    Huggingface,
    /// Text Generation Inference's native `/generate` (`huggingface/` deployments in
    /// text-generation mode): a prompt built from the messages.
    HuggingfaceGenerate,
    /// Amazon Bedrock Runtime (`bedrock/`): Converse, ConverseStream, InvokeModel
    /// embeddings; SigV4 or a Bedrock API key.
    Bedrock,
    /// Vertex AI (`vertex_ai/`): Gemini, Claude and Google's embeddings, with a
    /// service account's OAuth token.
    VertexAi,
}

impl ProviderKind {
    /// Maps a LiteLLM provider prefix (`openai`, `azure`, `anthropic`, …) to the
    /// provider, or `None` when Switchyard does not translate for it yet.
    pub fn from_litellm_prefix(prefix: &str) -> Option<ProviderKind> {
        Some(match prefix {
            "openai" | "custom_openai" | "openai_like" | "text-completion-openai" => {
                ProviderKind::Openai
            }
            "azure" | "azure_text" => ProviderKind::Azure,
            "anthropic" => ProviderKind::Anthropic,
            "mistral" => ProviderKind::Mistral,
            "groq" => ProviderKind::Groq,
            "deepseek" => ProviderKind::Deepseek,
            "together_ai" => ProviderKind::TogetherAi,
            "openrouter" => ProviderKind::Openrouter,
            "xai" => ProviderKind::Xai,
            "fireworks_ai" => ProviderKind::FireworksAi,
            "perplexity" => ProviderKind::Perplexity,
            "cerebras" => ProviderKind::Cerebras,
            "deepinfra" => ProviderKind::Deepinfra,
            "hosted_vllm" => ProviderKind::HostedVllm,
            "lm_studio" => ProviderKind::LmStudio,
            "llamafile" => ProviderKind::Llamafile,
            "ollama" => ProviderKind::Ollama,
            "ollama_chat" => ProviderKind::OllamaChat,
            "gemini" => ProviderKind::Gemini,
            "cohere" | "cohere_chat" => ProviderKind::Cohere,
            "huggingface" => ProviderKind::Huggingface,
            "bedrock" => ProviderKind::Bedrock,
            "vertex_ai" => ProviderKind::VertexAi,
            _ => return None,
        })
    }

    /// LiteLLM's name for the provider, used in logs, headers, spend rows and
    /// error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Mistral => "mistral",
            ProviderKind::Groq => "groq",
            ProviderKind::Deepseek => "deepseek",
            ProviderKind::TogetherAi => "together_ai",
            ProviderKind::Openrouter => "openrouter",
            ProviderKind::Xai => "xai",
            ProviderKind::FireworksAi => "fireworks_ai",
            ProviderKind::Perplexity => "perplexity",
            ProviderKind::Cerebras => "cerebras",
            ProviderKind::Deepinfra => "deepinfra",
            ProviderKind::HostedVllm => "hosted_vllm",
            ProviderKind::LmStudio => "lm_studio",
            ProviderKind::Llamafile => "llamafile",
            ProviderKind::Ollama => "ollama",
            ProviderKind::OllamaChat => "ollama_chat",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Cohere => "cohere",
            ProviderKind::Huggingface | ProviderKind::HuggingfaceGenerate => "huggingface",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::VertexAi => "vertex_ai",
        }
    }

    /// Speaks OpenAI's own wire format at `{api_base}/{endpoint}` (not Azure, whose
    /// paths differ): the body goes out as the client sent it, quirks aside.
    pub fn is_openai_compatible(self) -> bool {
        !matches!(
            self,
            ProviderKind::Azure
                | ProviderKind::Anthropic
                | ProviderKind::Ollama
                | ProviderKind::OllamaChat
                | ProviderKind::Gemini
                | ProviderKind::Cohere
                | ProviderKind::HuggingfaceGenerate
                | ProviderKind::Bedrock
                | ProviderKind::VertexAi
        )
    }

    /// Which request parameters the provider takes for `endpoint` with model
    /// `model`. Called once per deployment at configure time (see
    /// `upstream::Deployment`).
    pub fn param_table(self, endpoint: Endpoint, model: &str) -> ParamTable {
        match self {
            ProviderKind::Openai | ProviderKind::Azure => ParamTable::Any,
            ProviderKind::Anthropic => {
                ParamTable::Only(anthropic::supported_params(endpoint).to_vec())
            }
            ProviderKind::Ollama | ProviderKind::OllamaChat => ParamTable::Only(
                ollama::supported_params(self == ProviderKind::OllamaChat, endpoint),
            ),
            ProviderKind::Gemini => ParamTable::Only(gemini::supported_params(endpoint).to_vec()),
            ProviderKind::Cohere => ParamTable::Only(cohere::supported_params(endpoint)),
            ProviderKind::HuggingfaceGenerate => {
                ParamTable::Only(huggingface::supported_params(endpoint))
            }
            ProviderKind::Bedrock => bedrock::param_table(endpoint, model),
            ProviderKind::VertexAi => {
                ParamTable::Only(vertex::supported_params(endpoint, model).to_vec())
            }
            _ => match openai_compat::unsupported_params(self, endpoint, model) {
                Some(not) => ParamTable::Not(not),
                None => ParamTable::Any,
            },
        }
    }
}

/// The parameters a provider takes, as the upstream stage checks them (a parameter
/// outside is a 400 naming it, or dropped with `drop_params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamTable {
    /// Anything (sent as the client wrote it).
    Any,
    /// Only these: the translation knows every field it sends.
    Only(Vec<&'static str>),
    /// Anything but these OpenAI parameters. OpenAI-compatible clouds get the body
    /// as sent, so, as in LiteLLM, only OpenAI's own parameters that the provider's
    /// table lacks are refused; provider-specific ones (Perplexity's
    /// `search_domain_filter`, Mistral's `safe_prompt`, …) pass.
    Not(Vec<&'static str>),
}

impl ParamTable {
    /// Whether `param` is refused.
    pub fn refuses(&self, param: &str) -> bool {
        match self {
            ParamTable::Any => false,
            ParamTable::Only(allowed) => !allowed.contains(&param),
            ParamTable::Not(refused) => refused.contains(&param),
        }
    }
}

/// The provider LiteLLM assigns to a bare model name (no `provider/` prefix), e.g.
/// `gpt-4o` → `openai`, `claude-3-5-sonnet-20240620` → `anthropic`.
pub fn infer_provider(model: &str) -> Option<&'static str> {
    const OPENAI_PREFIXES: &[&str] = &[
        "gpt-",
        "chatgpt-",
        "o1",
        "o3",
        "o4",
        "text-embedding-",
        "text-davinci",
        "davinci",
        "babbage",
        "text-moderation",
        "omni-moderation",
        "dall-e",
        "whisper",
        "tts-",
        "ft:gpt-",
        "codex-",
    ];
    if model.starts_with("claude") {
        return Some("anthropic");
    }
    if OPENAI_PREFIXES.iter().any(|p| model.starts_with(p)) {
        return Some("openai");
    }
    None
}

/// A request field, treating an explicit `null` as absent (every translator reads
/// fields this way).
pub(crate) fn present<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    request.get(key).filter(|v| !v.is_null())
}

/// A translated request body as bytes (a failure is the gateway's own 500).
pub(crate) fn serialize_request<T: Serialize + ?Sized>(body: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(body)
        .map_err(|e| GatewayError::internal(format!("could not serialize request: {e}")))
}

/// Per-response facts a translator needs but cannot read from the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseContext {
    /// Unix seconds for `created`.
    pub created: u64,
    /// The model name to report when the provider does not name one.
    pub model: String,
    /// `stream_options.include_usage` was set: end the stream with a usage chunk.
    pub include_usage: bool,
}

/// Turns a provider's stream into OpenAI SSE, one chunk at a time.
///
/// `push` is called with each body chunk as it arrives (events may be split
/// anywhere, even inside a UTF-8 sequence) and appends whatever complete OpenAI SSE
/// events it can to `out`. `finish` is called once at end of stream.
pub trait StreamTranslate {
    /// Translates one chunk.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);
    /// Flushes at end of stream (a stream cut short ends with an error event).
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The answer's token usage, once the stream reported it.
    fn usage(&self) -> Option<crate::cost::Usage> {
        None
    }
    /// The provider's own price of the answer (USD), for providers that report
    /// one (OpenRouter's `usage.cost`); it is then the request's spend.
    fn provider_cost(&self) -> Option<f64> {
        None
    }
}

/// A request ready for the provider: path (joined onto the `api_base` prefix by the
/// caller, query included) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    /// Path after the `api_base` prefix, starting with `/`.
    pub path: String,
    /// The serialized body.
    pub body: Vec<u8>,
}

/// Translates a parsed OpenAI request (defaults applied, parameters checked, `model`
/// already the provider's id) for `provider`.
pub fn translate_request(
    provider: ProviderKind,
    endpoint: Endpoint,
    request: &Map<String, Value>,
    model: &str,
    api_version: Option<&str>,
) -> Result<ProviderRequest, GatewayError> {
    match provider {
        ProviderKind::Azure => {
            openai::translate_azure_request(endpoint, request, model, api_version)
        }
        ProviderKind::Anthropic => Ok(ProviderRequest {
            path: "/v1/messages".to_string(),
            body: anthropic::translate_request(endpoint, request, model)?,
        }),
        ProviderKind::Ollama | ProviderKind::OllamaChat => ollama::translate_request(
            provider == ProviderKind::OllamaChat,
            endpoint,
            request,
            model,
        ),
        ProviderKind::Gemini => Ok(ProviderRequest {
            // The stream flag is the request's own (parsed once, upstream stage).
            path: gemini::request_path(
                model,
                request.get("stream").and_then(Value::as_bool) == Some(true),
                endpoint,
            ),
            body: gemini::translate_request(endpoint, request, model)?,
        }),
        ProviderKind::Cohere => cohere::translate_request(endpoint, request, model),
        // Without the deployment's prompt template (the upstream stage passes it).
        ProviderKind::HuggingfaceGenerate => {
            huggingface::translate_request(endpoint, request, None)
        }
        // The upstream stage calls `bedrock::translate_request` itself (it needs
        // `drop_params` and what the rewrite means for the answer).
        ProviderKind::Bedrock => {
            bedrock::translate_request(endpoint, request, model, false).map(|(r, _)| r)
        }
        ProviderKind::VertexAi => Ok(ProviderRequest {
            path: vertex::request_path(
                model,
                request.get("stream").and_then(Value::as_bool) == Some(true),
                endpoint,
            ),
            body: vertex::translate_request(endpoint, request, model)?,
        }),
        _ => openai::translate_request(endpoint, request),
    }
}

/// Translates a complete (non-streamed) successful response body.
pub fn translate_response(
    provider: ProviderKind,
    endpoint: Endpoint,
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    match provider {
        ProviderKind::Anthropic => anthropic::translate_response(endpoint, body, ctx),
        ProviderKind::Ollama | ProviderKind::OllamaChat => {
            ollama::translate_response(endpoint, body, ctx)
        }
        ProviderKind::Gemini => gemini::translate_response(endpoint, body, ctx),
        ProviderKind::Cohere => cohere::translate_response(endpoint, body, ctx),
        ProviderKind::HuggingfaceGenerate => huggingface::translate_response(endpoint, body, ctx),
        ProviderKind::Bedrock => bedrock::translate_response(endpoint, body, ctx, None),
        ProviderKind::VertexAi => vertex::translate_response(endpoint, body, ctx),
        _ => Ok(body.to_vec()),
    }
}

/// Whether a successful response body must be rewritten (else it passes untouched).
pub fn rewrites_response(provider: ProviderKind) -> bool {
    matches!(
        provider,
        ProviderKind::Anthropic
            | ProviderKind::Ollama
            | ProviderKind::OllamaChat
            | ProviderKind::Gemini
            | ProviderKind::Cohere
            | ProviderKind::HuggingfaceGenerate
            | ProviderKind::Bedrock
            | ProviderKind::VertexAi
    )
}

/// The stream translator for `provider`, or `None` when the provider already speaks
/// OpenAI SSE and chunks pass through untouched.
pub fn stream_translator(
    provider: ProviderKind,
    endpoint: Endpoint,
    ctx: ResponseContext,
) -> Box<dyn StreamTranslate> {
    match provider {
        ProviderKind::Anthropic => Box::new(anthropic::StreamTranslator::new(endpoint, ctx)),
        ProviderKind::Ollama | ProviderKind::OllamaChat => {
            Box::new(ollama::StreamTranslator::new(endpoint, ctx))
        }
        ProviderKind::Gemini => Box::new(gemini::StreamTranslator::new(endpoint, ctx)),
        ProviderKind::Cohere => Box::new(cohere::StreamTranslator::new(endpoint, ctx)),
        ProviderKind::HuggingfaceGenerate => {
            Box::new(huggingface::StreamTranslator::new(endpoint, ctx))
        }
        ProviderKind::Bedrock => Box::new(bedrock::StreamTranslator::new(endpoint, ctx, None)),
        ProviderKind::VertexAi => vertex::stream_translator(endpoint, ctx),
        // OpenAI SSE with Azure's content-filter annotations, normalized.
        ProviderKind::Azure => Box::new(openai::UsageTap::for_azure(
            !ctx.include_usage,
            azure::ContentFilterNormalizer::for_endpoint(endpoint, ctx.created, &ctx.model),
        )),
        // Already OpenAI SSE: read for usage; the usage chunk is dropped when the
        // gateway asked for it and the client did not.
        _ => Box::new(openai::UsageTap::new(!ctx.include_usage)),
    }
}

/// Whether a streamed request to `provider` should ask for the usage chunk
/// (`stream_options.include_usage`) so the gateway learns the tokens. Providers
/// that report usage in every stream without being asked (Mistral, Perplexity, …)
/// are not asked: they do not accept the field.
pub fn asks_stream_usage(provider: ProviderKind, endpoint: Endpoint) -> bool {
    (provider == ProviderKind::Azure
        || (provider.is_openai_compatible()
            && !openai_compat::quirks(provider).stream_usage_always))
        && endpoint != Endpoint::Embeddings
}

/// Maps a provider's error response (any status ≥ 400) to an OpenAI-shaped error,
/// keeping the provider's message.
pub fn translate_error(provider: ProviderKind, status: u16, body: &[u8]) -> GatewayError {
    match provider {
        ProviderKind::Anthropic => anthropic::translate_error(status, body),
        ProviderKind::Gemini => gemini::translate_error(status, body),
        ProviderKind::Cohere => cohere::translate_error(status, body),
        ProviderKind::HuggingfaceGenerate => huggingface::translate_error(status, body),
        // The upstream stage passes Bedrock's `x-amzn-errortype` header itself.
        ProviderKind::Bedrock => bedrock::translate_error(status, body, None),
        ProviderKind::VertexAi => vertex::translate_error(status, body),
        // Ollama's errors are `{"error": "<text>"}`, which the OpenAI mapping reads.
        _ => openai::translate_error(status, body),
    }
}

/// An OpenAI embedding list whose vectors are number arrays, with each vector
/// turned into base64 of its little-endian `f32`s (OpenAI's `encoding_format:
/// "base64"`), for providers that only answer with numbers. Anything else is
/// returned unchanged.
pub fn embeddings_to_base64(body: Vec<u8>) -> Vec<u8> {
    use base64::Engine as _;
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let Some(data) = v.get_mut("data").and_then(Value::as_array_mut) else {
        return body;
    };
    for item in data {
        let Some(slot) = item.get_mut("embedding") else {
            continue;
        };
        let Some(numbers) = slot.as_array() else {
            continue;
        };
        let mut bytes = Vec::with_capacity(numbers.len() * 4);
        for n in numbers {
            // f64 → f32 is the precision OpenAI's base64 form carries.
            bytes.extend_from_slice(&(n.as_f64().unwrap_or(0.0) as f32).to_le_bytes());
        }
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    serde_json::to_vec(&v).unwrap_or(body)
}

/// Recognises the provider errors that have fallbacks of their own: a prompt too
/// long for the model's context window, and a content-policy refusal. `body` is the
/// provider's raw error body; the phrases are the ones LiteLLM matches (OpenAI,
/// Azure, Anthropic and OpenAI-compatible servers).
pub fn classify_error(status: u16, body: &[u8]) -> Option<crate::plugin_config::ErrorKind> {
    use crate::plugin_config::ErrorKind;
    const CONTEXT_WINDOW: &[&str] = &[
        "context_length_exceeded",
        "maximum context length",
        "context length",
        "context window",
        "prompt is too long",
        "input is too long",
        "too many tokens",
        "reduce the length of the messages",
        // Gemini / Vertex: "The input token count (N) exceeds the maximum number of
        // tokens allowed (M)."
        "exceeds the maximum number of tokens",
    ];
    const CONTENT_POLICY: &[&str] = &[
        "content_policy_violation",
        "content management policy",
        "content_filter",
        "responsibleaipolicyviolation",
        "content filtering policy",
        "safety system",
    ];
    if !matches!(status, 400 | 413 | 422) {
        return None;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    if CONTEXT_WINDOW.iter().any(|p| text.contains(p)) {
        Some(ErrorKind::ContextWindow)
    } else if CONTENT_POLICY.iter().any(|p| text.contains(p)) {
        Some(ErrorKind::ContentPolicy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_config::ErrorKind;

    #[test]
    fn error_kinds_are_recognised_as_litellm_does() {
        let openai = br#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        assert_eq!(classify_error(400, openai), Some(ErrorKind::ContextWindow));
        let anthropic = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210517 tokens > 200000 maximum"}}"#;
        assert_eq!(
            classify_error(400, anthropic),
            Some(ErrorKind::ContextWindow)
        );
        let policy = br#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}"#;
        assert_eq!(classify_error(400, policy), Some(ErrorKind::ContentPolicy));
        let azure = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}"#;
        assert_eq!(classify_error(400, azure), Some(ErrorKind::ContentPolicy));
        let gemini = br#"{"error":{"code":400,"message":"The input token count (1196265) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(classify_error(400, gemini), Some(ErrorKind::ContextWindow));
        let plain = br#"{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error"}}"#;
        assert_eq!(
            classify_error(400, plain),
            None,
            "a plain 400 is just a 400"
        );
        assert_eq!(classify_error(500, openai), None, "only client errors");
    }

    #[test]
    fn embeddings_become_base64_floats() {
        use base64::Engine as _;
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1.0]}],"model":"m"}"#;
        let out: Value = serde_json::from_slice(&embeddings_to_base64(body.to_vec())).unwrap();
        let b64 = out["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, [0.5, -1.0]);
        assert_eq!(out["model"], "m");
        assert_eq!(embeddings_to_base64(b"nope".to_vec()), b"nope");
    }

    #[test]
    fn bare_names_get_litellm_providers() {
        assert_eq!(infer_provider("gpt-3.5-turbo"), Some("openai"));
        assert_eq!(infer_provider("gpt-4o"), Some("openai"));
        assert_eq!(infer_provider("text-embedding-3-small"), Some("openai"));
        assert_eq!(infer_provider("o3-mini"), Some("openai"));
        assert_eq!(
            infer_provider("claude-3-5-sonnet-20240620"),
            Some("anthropic")
        );
        assert_eq!(infer_provider("llama3"), None);
    }

    #[test]
    fn prefixes_map_to_wire_formats() {
        assert_eq!(
            ProviderKind::from_litellm_prefix("openai_like"),
            Some(ProviderKind::Openai)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("azure"),
            Some(ProviderKind::Azure)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("anthropic"),
            Some(ProviderKind::Anthropic)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("together_ai"),
            Some(ProviderKind::TogetherAi)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("ollama_chat"),
            Some(ProviderKind::OllamaChat)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("gemini"),
            Some(ProviderKind::Gemini)
        );
        assert_eq!(ProviderKind::from_litellm_prefix("bedrock_x"), None);
        for prefix in ["cohere", "cohere_chat"] {
            assert_eq!(
                ProviderKind::from_litellm_prefix(prefix),
                Some(ProviderKind::Cohere)
            );
        }
        assert_eq!(
            ProviderKind::from_litellm_prefix("huggingface"),
            Some(ProviderKind::Huggingface)
        );
        // Both Hugging Face APIs are "huggingface" to LiteLLM (spend rows, headers).
        assert_eq!(ProviderKind::HuggingfaceGenerate.as_str(), "huggingface");
        assert_eq!(
            serde_json::to_value(ProviderKind::HuggingfaceGenerate).unwrap(),
            "huggingface_generate"
        );
        // The plugin config names each provider by its LiteLLM prefix.
        for prefix in [
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
            "bedrock",
            "vertex_ai",
        ] {
            let kind = ProviderKind::from_litellm_prefix(prefix).unwrap();
            assert_eq!(kind.as_str(), prefix);
            assert_eq!(serde_json::to_value(kind).unwrap(), prefix);
        }
    }
}
