//! The upstream stage: the filter instance in one model group's route cluster.
//!
//! Envoy runs it once per upstream attempt, after its load balancer picked an
//! endpoint, so every retry or failover attempt is translated for the deployment it
//! actually goes to: the endpoint's metadata names it. It parses the request body
//! once, applies the deployment's model id, default parameters and `drop_params`,
//! rewrites path, host and credentials, and on the way back translates the answer:
//! whole bodies for plain responses and errors, chunk by chunk for streams.
//!
//! Every attempt sees the request headers as the previous attempt left them (Envoy
//! shares one header map between attempts), so each attempt first removes every
//! header any deployment of the cluster sets; the router stage's decision comes from
//! filter state, which reads the same on every attempt.

use serde_json::{Map, Value};

use crate::client::anthropic as anthropic_client;
use crate::cost;
use crate::debug_log;
use crate::endpoint::{ClientApi, Endpoint};
use crate::error::GatewayError;
use crate::estimate;
use crate::google_auth::{ServiceAccount, TokenRecord, TokenState};
use crate::host::{header_in, Flow, Host, Level};
use crate::litellm_fields;
use crate::plugin_config::{
    DeploymentConfig, ErrorFallbacks, ErrorKind, Pricing, UpstreamConfig, ENDPOINT_METADATA_KEY,
    ENDPOINT_METADATA_NAMESPACE,
};
use crate::providers::{self, ProviderKind, ResponseContext, StreamTranslate};
use crate::request::TopLevel;
use crate::router::{RouteFacts, FALLBACK_PATH_PREFIX, ROUTE_PROPERTY};
use crate::spend::{self, Answered, KeyFacts, SpendLabels, KEY_PROPERTY};

// A request answered by calls of the stage's own (Bedrock Titan list embeddings).
mod fanout;

/// The Envoy attribute holding the picked endpoint's deployment id.
const HOST_DEPLOYMENT_PROPERTY: [&str; 5] = [
    "xds",
    "upstream_host_metadata",
    "filter_metadata",
    ENDPOINT_METADATA_NAMESPACE,
    ENDPOINT_METADATA_KEY,
];

/// Set by Envoy on each upstream attempt (`include_request_attempt_count`).
const ATTEMPT_COUNT_HEADER: &str = "x-envoy-attempt-count";

/// The Anthropic API version sent unless `extra_headers` names another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The header it goes in.
const ANTHROPIC_VERSION_HEADER: &str = "anthropic-version";

/// Client headers that must not reach a provider, besides the client's gateway
/// credentials (`credentials::CLIENT_CREDENTIAL_HEADERS`; the provider gets the
/// deployment's key instead): `accept-encoding`, since responses are read and
/// rewritten here, and the length of a body that is rewritten.
const STRIPPED_CLIENT_HEADERS: [&str; 2] = ["accept-encoding", "content-length"];

/// A route cluster's deployments, prepared at configure time.
#[derive(Debug)]
pub struct Upstream {
    /// The model group whose route this cluster serves.
    group: String,
    deployments: Vec<Deployment>,
    error_fallbacks: std::collections::BTreeMap<String, ErrorFallbacks>,
    /// Every header any deployment sets: removed at the start of each attempt so a
    /// previous attempt's credentials and extras never reach another provider.
    clear_headers: Vec<String>,
    /// Virtual keys are checked: read the key facts, queue spend reports.
    keys: bool,
    /// Debug mode: log each attempt and the provider's status (`debug_log`).
    debug: bool,
}

impl Upstream {
    /// Prepares every deployment of the cluster.
    pub fn new(
        config: &UpstreamConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Upstream, String> {
        if config.deployments.is_empty() {
            return Err(format!(
                "route cluster of group {}: no deployments",
                config.group
            ));
        }
        let deployments = config
            .deployments
            .iter()
            .map(|d| Deployment::new(d, env))
            .collect::<Result<Vec<_>, _>>()?;
        let mut clear_headers: Vec<String> = deployments
            .iter()
            .flat_map(|d| d.request_headers.iter().map(|(k, _)| k.clone()))
            .chain(config.clear_headers.iter().map(|h| h.to_ascii_lowercase()))
            .collect();
        // Set when a Bedrock attempt is signed, or by every Anthropic attempt: never
        // left for another attempt (a retry, a fallback group's cluster after an
        // error fallback) or sent on from a client.
        clear_headers.extend(
            providers::bedrock::SIGNED_HEADERS
                .iter()
                .chain([ANTHROPIC_VERSION_HEADER].iter())
                .map(|h| h.to_string()),
        );
        // Every deployment sends `content-type: application/json`: set, never cleared.
        clear_headers.retain(|h| h != "content-type");
        clear_headers.sort();
        clear_headers.dedup();
        Ok(Upstream {
            group: config.group.clone(),
            deployments,
            error_fallbacks: config.error_fallbacks.clone(),
            clear_headers,
            keys: config.keys,
            debug: config.debug,
        })
    }

    /// The Google service accounts of the cluster's Vertex deployments, one per
    /// account: the root context keeps their tokens fresh.
    pub fn google_accounts(&self) -> Vec<std::sync::Arc<GoogleAuth>> {
        let mut out: Vec<std::sync::Arc<GoogleAuth>> = Vec::new();
        for auth in self
            .deployments
            .iter()
            .filter_map(|d| d.google_auth.as_ref())
        {
            if !out.iter().any(|a| a.key == auth.key) {
                out.push(std::sync::Arc::clone(auth));
            }
        }
        out
    }

    /// The deployment of the endpoint Envoy picked: the only one, or the one its
    /// metadata names.
    fn pick(&self, host: &dyn Host) -> Result<usize, GatewayError> {
        if self.deployments.len() == 1 {
            return Ok(0);
        }
        let id = host.property(&HOST_DEPLOYMENT_PROPERTY).unwrap_or_default();
        self.deployments
            .iter()
            .position(|d| d.deployment_id.as_bytes() == id.as_slice())
            .ok_or_else(|| {
                GatewayError::internal(format!(
                    "the picked endpoint names deployment {:?}, which this cluster's filter does not know",
                    String::from_utf8_lossy(&id)
                ))
            })
    }
}

/// One deployment, prepared at configure time.
#[derive(Debug)]
pub struct Deployment {
    deployment_id: String,
    group: String,
    provider: ProviderKind,
    model: String,
    api_base: String,
    authority: String,
    path_prefix: String,
    api_version: Option<String>,
    /// Every header set on each request: credentials, `anthropic-version`, extras.
    request_headers: Vec<(String, String)>,
    default_params: Map<String, Value>,
    drop_params: bool,
    /// The parameters the provider takes per endpoint (chat, completions,
    /// embeddings); resolved at configure time.
    params: [providers::ParamTable; 3],
    /// Rewrites an OpenAI-compatible cloud needs (`providers::openai_compat`).
    quirks: providers::openai_compat::Quirks,
    fallback_index: u32,
    pricing: Option<Pricing>,
    /// Prices by served model, for a deployment whose own `pricing` is unknown
    /// (wildcards, unpriced Azure deployments).
    model_prices: std::collections::BTreeMap<String, Pricing>,
    /// The prompt template of a text-generation deployment.
    prompt_template: Option<crate::plugin_config::PromptTemplate>,
    /// Bedrock deployments that sign with SigV4: credentials and region.
    sigv4: Option<providers::bedrock::SigV4>,
    /// Vertex AI: the service account whose access token the requests carry.
    google_auth: Option<std::sync::Arc<GoogleAuth>>,
    /// The cluster that reaches this deployment alone (`fanout`).
    direct_cluster: Option<String>,
    /// The longest silence of a stream once begun (`timeouts`).
    stream_timeout_ms: Option<u64>,
    /// Client billing headers this deployment lets through (`billing_headers`).
    forward_client_headers: Vec<String>,
}

/// A Vertex deployment's service account, its shared-data key and the cluster of
/// its token endpoint. Deployments of one account share one.
#[derive(Debug)]
pub struct GoogleAuth {
    /// The account (key, email, token endpoint).
    pub account: ServiceAccount,
    /// Where its [`TokenRecord`] lives in shared data.
    pub key: String,
    /// The Envoy cluster of the `token_uri` host.
    pub cluster: String,
}

/// Where an endpoint's table sits in [`Deployment::params`].
fn endpoint_slot(endpoint: Endpoint) -> usize {
    match endpoint {
        Endpoint::ChatCompletions => 0,
        Endpoint::Completions => 1,
        Endpoint::Embeddings => 2,
    }
}

/// Splits `scheme://host[:port][/prefix]` into the `:authority` and the path prefix.
/// Reads the URL as the config compiler does (`switchyard::plan::parse_api_base`):
/// surrounding whitespace ignored, the scheme in any case (RFC 3986).
pub fn split_api_base(api_base: &str) -> Result<(String, String), String> {
    let base = api_base.trim();
    let strip_scheme = |scheme: &str| {
        base.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .and_then(|_| base.get(scheme.len()..))
    };
    let (rest, default_port) = match (strip_scheme("https://"), strip_scheme("http://")) {
        (Some(rest), _) => (rest, ":443"),
        (None, Some(rest)) => (rest, ":80"),
        (None, None) => {
            return Err(format!(
                "api_base {api_base:?} must start with http:// or https://"
            ))
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("api_base {api_base:?} has no host"));
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok((
        authority.to_string(),
        path.trim_end_matches('/').to_string(),
    ))
}

impl Deployment {
    /// Resolves settings (reading `{"env": …}` values through `env`) and precomputes
    /// the per-request headers.
    pub fn new(
        config: &DeploymentConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Deployment, String> {
        let at = |field: &str| {
            format!(
                "deployment {} ({}): {field}",
                config.deployment_id, config.group
            )
        };
        let api_base = config.api_base.resolve(&at("api_base"), env)?;
        let (authority, mut path_prefix) =
            split_api_base(&api_base).map_err(|e| format!("{}: {e}", at("api_base")))?;
        if config.provider == ProviderKind::Anthropic {
            // LiteLLM accepts Anthropic bases with or without `/v1` or `/v1/messages`.
            for suffix in ["/v1/messages", "/v1"] {
                if let Some(stripped) = path_prefix.strip_suffix(suffix) {
                    path_prefix = stripped.to_string();
                    break;
                }
            }
        }
        if config.provider == ProviderKind::Gemini && !providers::gemini::has_version(&path_prefix)
        {
            // LiteLLM's default (and GEMINI_API_BASE) is the bare host; its custom
            // bases carry the version.
            path_prefix.push_str(providers::gemini::DEFAULT_API_VERSION);
        }
        if config.provider == ProviderKind::Cohere {
            // LiteLLM's Cohere `api_base` (and COHERE_API_BASE) is the whole endpoint
            // URL (`…/v2/chat`, `…/v2/embed`); one deployment serves both, so the
            // base is the part before it.
            for suffix in [
                "/v2/chat",
                "/v2/embed",
                "/v1/chat",
                "/v1/embed",
                "/v2",
                "/v1",
            ] {
                if let Some(stripped) = path_prefix.strip_suffix(suffix) {
                    path_prefix = stripped.to_string();
                    break;
                }
            }
        }
        match config.provider {
            // LiteLLM's `_build_chat_completion_url`: `{base}/chat/completions` for a
            // base ending in `/v1`, `{base}/v1/chat/completions` otherwise, the base as
            // it is when it names the endpoint already.
            ProviderKind::Huggingface => {
                if let Some(stripped) = path_prefix.strip_suffix("/chat/completions") {
                    path_prefix = stripped.to_string();
                }
                if !path_prefix.ends_with("/v1") {
                    path_prefix.push_str("/v1");
                }
            }
            // A TGI endpoint's root; a base naming the route is cut back to it.
            ProviderKind::HuggingfaceGenerate => {
                for suffix in ["/generate_stream", "/generate"] {
                    if let Some(stripped) = path_prefix.strip_suffix(suffix) {
                        path_prefix = stripped.to_string();
                        break;
                    }
                }
            }
            _ => {}
        }
        let api_key = match &config.api_key {
            Some(s) => Some(s.resolve(&at("api_key"), env)?),
            None => None,
        };
        let api_version = match &config.api_version {
            Some(s) => Some(s.resolve(&at("api_version"), env)?),
            None => None,
        };
        let google_auth = match &config.google_auth {
            Some(g) => {
                let field = at("google_auth.credentials");
                let text = g.credentials.resolve(&field, env)?;
                let account =
                    ServiceAccount::from_json(&text).map_err(|e| format!("{field}: {e}"))?;
                Some(std::sync::Arc::new(GoogleAuth {
                    key: account.cache_key(),
                    account,
                    cluster: g.token_cluster.clone(),
                }))
            }
            None => None,
        };

        let mut request_headers: Vec<(String, String)> = Vec::new();
        if let Some(key) = api_key {
            request_headers.push(match config.provider {
                ProviderKind::Azure => ("api-key".into(), key),
                ProviderKind::Anthropic => ("x-api-key".into(), key),
                ProviderKind::Gemini => ("x-goog-api-key".into(), key),
                // OpenAI-compatible servers, and Ollama behind an authenticating proxy.
                _ => ("authorization".into(), format!("Bearer {key}")),
            });
        }
        if config.provider == ProviderKind::Anthropic
            && !config
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case(ANTHROPIC_VERSION_HEADER))
        {
            request_headers.push((ANTHROPIC_VERSION_HEADER.into(), ANTHROPIC_VERSION.into()));
        }
        for (k, v) in &config.headers {
            request_headers.push((k.to_ascii_lowercase(), v.clone()));
        }
        request_headers.push(("content-type".into(), "application/json".into()));

        let sigv4 = match &config.aws {
            Some(aws) => Some(providers::bedrock::SigV4 {
                credentials: crate::sigv4::Credentials {
                    access_key_id: aws.access_key_id.resolve(&at("aws_access_key_id"), env)?,
                    secret_access_key: aws
                        .secret_access_key
                        .resolve(&at("aws_secret_access_key"), env)?,
                    session_token: match &aws.session_token {
                        Some(t) => Some(t.resolve(&at("aws_session_token"), env)?),
                        None => None,
                    },
                },
                region: aws.region.clone(),
            }),
            None => None,
        };
        let model = providers::openai_compat::provider_model(config.provider, &config.model);
        let params = [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
        ]
        .map(|e| config.provider.param_table(e, &model));
        let quirks = providers::openai_compat::quirks_for(config.provider, &model);
        Ok(Deployment {
            deployment_id: config.deployment_id.clone(),
            group: config.group.clone(),
            provider: config.provider,
            model,
            api_base,
            authority,
            path_prefix,
            api_version,
            request_headers,
            default_params: config.default_params.clone(),
            drop_params: config.drop_params,
            params,
            quirks,
            fallback_index: config.fallback_index,
            pricing: config.pricing,
            model_prices: config.model_prices.clone(),
            prompt_template: config.prompt_template.clone(),
            sigv4,
            google_auth,
            direct_cluster: config.direct_cluster.clone(),
            stream_timeout_ms: config.stream_timeout_ms,
            forward_client_headers: config
                .forward_client_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }

    /// The price of an answer served as `model` (the provider model id sent, or
    /// the one the answer names): the deployment's own, else its table's.
    fn price_for(&self, model: &str) -> Option<Pricing> {
        self.pricing
            .or_else(|| cost::price_in(&self.model_prices, model))
    }

    /// The provider model id for a request whose wildcard matched `wildcard`.
    fn model_for(&self, wildcard: Option<&str>, requested: Option<&str>) -> String {
        if self.model.contains('*') {
            if let Some(part) = wildcard.or(requested) {
                return self.model.replacen('*', part, 1);
            }
        }
        self.model.clone()
    }

    /// Applies the deployment to a parsed request: model, defaults, parameter checks.
    fn prepare(
        &self,
        endpoint: Endpoint,
        request: &mut TopLevel<'_>,
        model: &str,
    ) -> Result<(), GatewayError> {
        request.insert("model", Value::String(model.to_string()));
        // LiteLLM's own fields (routing, caching, spend, mocks, …) never reach a
        // provider (`litellm_fields`).
        litellm_fields::strip(request);
        for (k, v) in &self.default_params {
            if !request.contains_key(k) {
                request.insert(k, v.clone());
            }
        }
        if let Some(table) = self
            .params
            .get(endpoint_slot(endpoint))
            .filter(|t| **t != providers::ParamTable::Any)
        {
            let unsupported: Vec<String> = request
                .keys()
                .filter(|k| table.refuses(k))
                .map(str::to_string)
                .collect();
            if !unsupported.is_empty() {
                if self.drop_params {
                    for k in &unsupported {
                        request.remove(k);
                    }
                } else {
                    let first = unsupported.first().cloned().unwrap_or_default();
                    return Err(GatewayError::bad_request(format!(
                        "{} does not support parameters: {:?}, for model={model}. To drop these, set `drop_params: true` in litellm_settings or the deployment's litellm_params.",
                        self.provider.as_str(),
                        unsupported
                    ))
                    .with_param(first));
                }
            }
        }
        Ok(())
    }
}

/// How the response of one attempt is handled.
enum ResponseMode {
    /// Not decided yet (response headers not seen).
    Pending,
    /// Bytes pass untouched.
    Passthrough,
    /// A successful body held until complete, then passed on untouched.
    Hold,
    /// A successful body read whole and translated.
    Translate,
    /// An error body read whole and mapped to an OpenAI error.
    Error { upstream_status: u16 },
    /// A stream translated chunk by chunk.
    Stream(Box<dyn StreamTranslate>),
}

/// Where one attempt is in the upstream stage.
pub struct UpstreamExchange {
    facts: Option<RouteFacts>,
    /// Who the request was admitted for, when keys are checked.
    key: Option<KeyFacts>,
    request_id: String,
    start_ms: u64,
    /// Token usage of the answer, once known.
    usage: Option<cost::Usage>,
    /// The provider's own price of the answer (OpenRouter's `usage.cost`), which
    /// then is the spend.
    provider_cost: Option<f64>,
    /// The price of the model served: the deployment's, else that of the model
    /// the request sent (wildcards) or the answer named.
    pricing: Option<Pricing>,
    /// Estimated prompt tokens of the request (keys checked only), charged when
    /// an answer does not finish and the provider gave no count (`estimate`).
    prompt_estimate: u64,
    /// A stream's text counted as it goes to the client (keys checked only).
    output: Option<estimate::OutputCounter>,
    /// Bytes of a held answer received so far, and its `content-length`.
    body_bytes: u64,
    content_length: u64,
    /// `x-forwarded-proto` of the client's request, for an error-fallback redirect.
    scheme: String,
    deployment: usize,
    attempt: u32,
    model: String,
    stream: bool,
    include_usage: bool,
    /// The client asked for base64 embeddings from a provider that answers with
    /// numbers (converted on the way back).
    base64_embeddings: bool,
    /// What a cloud's request rewrite means for its answer (Groq's JSON mode).
    rewritten: providers::openai_compat::Rewritten,
    /// The request's `:path` when this attempt began (not set again when unchanged).
    original_path: Option<String>,
    /// The request waits for this Google account's access token (its shared-data
    /// key): the glue resumes it with the token, or fails it.
    awaiting_token: Option<String>,
    /// The format the client speaks (Anthropic's `/v1/messages`: answers and errors
    /// in Anthropic's shape).
    api: ClientApi,
    /// An Anthropic-format request going natively to an Anthropic deployment: the
    /// answer passes back untouched.
    native: bool,
    /// `stop_sequences` of an Anthropic-format request (for `stop_sequence`).
    stop_sequences: Vec<String>,
    /// Debug mode is on (the cluster's `debug`): the attempt is logged.
    debug: bool,
    /// Debug mode: `<METHOD> <masked URL>` of the attempt sent, for its status line.
    debug_target: Option<String>,
    response: ResponseMode,
    /// Whether this attempt's spend report (success or failure) is queued.
    reported: std::cell::Cell<bool>,
    /// The request is answered by calls of the stage's own (`fanout`).
    fanout: Option<fanout::FanOut>,
    /// The client's `metadata` and `tags`, for the spend report (keys checked only).
    labels: SpendLabels,
    /// A stream's translated bytes still held in Envoy's buffer ahead of the chunk
    /// at hand, and the length of the buffer as last written (see `timeouts`).
    stream_held: usize,
    stream_written: usize,
}

impl Default for UpstreamExchange {
    fn default() -> Self {
        UpstreamExchange {
            facts: None,
            key: None,
            request_id: String::new(),
            start_ms: 0,
            usage: None,
            provider_cost: None,
            pricing: None,
            prompt_estimate: 0,
            output: None,
            body_bytes: 0,
            content_length: 0,
            scheme: String::new(),
            deployment: 0,
            attempt: 1,
            model: String::new(),
            stream: false,
            include_usage: false,
            base64_embeddings: false,
            rewritten: Default::default(),
            original_path: None,
            awaiting_token: None,
            api: ClientApi::OpenAi,
            native: false,
            stop_sequences: Vec::new(),
            debug: false,
            debug_target: None,
            response: ResponseMode::Pending,
            reported: std::cell::Cell::new(false),
            fanout: None,
            labels: SpendLabels::default(),
            stream_held: 0,
            stream_written: 0,
        }
    }
}

/// An error body in the client's format.
fn error_body(err: &GatewayError, api: ClientApi) -> Vec<u8> {
    if api.is_anthropic() {
        anthropic_client::error_body(err)
    } else {
        err.to_body()
    }
}

fn reply_error(host: &mut dyn Host, err: &GatewayError, api: ClientApi) {
    host.send_local_reply(
        err.status,
        &[("content-type", "application/json")],
        &error_body(err, api),
    );
}

impl UpstreamExchange {
    /// The answer's token usage: known at the end of a non-streamed answer or of a
    /// stream (whose usage chunk the gateway asks for).
    pub fn usage(&self) -> Option<cost::Usage> {
        self.usage
    }

    /// The shared-data key of the Google access token this request waits for
    /// (its request body returned [`Flow::Pause`]); the glue resumes it once the
    /// token is there, with `authorization: Bearer <token>`, or fails it.
    pub fn awaiting_token(&self) -> Option<&str> {
        self.awaiting_token.as_deref()
    }

    fn deployment<'u>(&self, up: &'u Upstream) -> Option<&'u Deployment> {
        up.deployments.get(self.deployment)
    }

    /// Request headers: learn the route and the picked deployment, undo what an
    /// earlier attempt set, set host and credentials.
    pub fn on_request_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        self.facts = host
            .property(&[ROUTE_PROPERTY])
            .and_then(|raw| RouteFacts::decode(&raw));
        self.api = self.facts.as_ref().map_or(ClientApi::OpenAi, |f| f.api);
        self.debug = up.debug;
        self.key = if up.keys {
            host.property(&[KEY_PROPERTY])
                .and_then(|raw| KeyFacts::decode(&raw))
        } else {
            None
        };
        // One hostcall for every header; then only the headers present that must not
        // reach this attempt's provider are removed (the map is shared by retries,
        // so an earlier attempt's credentials are among them).
        let headers = host.request_headers();
        self.request_id = header_in(&headers, "x-request-id")
            .unwrap_or_default()
            .to_string();
        self.start_ms = host.now_unix_millis();
        self.scheme = header_in(&headers, "x-forwarded-proto")
            .unwrap_or("http")
            .to_string();
        self.attempt = header_in(&headers, ATTEMPT_COUNT_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        for (name, _) in &headers {
            let cleared = crate::router::is_internal_header(name)
                || STRIPPED_CLIENT_HEADERS
                    .iter()
                    .chain(crate::credentials::CLIENT_CREDENTIAL_HEADERS.iter())
                    .copied()
                    .chain(up.clear_headers.iter().map(String::as_str))
                    .any(|clear| name.eq_ignore_ascii_case(clear));
            if cleared {
                host.set_request_header(name, None);
            }
        }
        if self.facts.is_none() {
            let err = GatewayError::internal(
                "request reached a switchyard cluster without passing the router stage (is the switchyard router filter in the listener?)",
            );
            reply_error(host, &err, self.api);
            return Flow::Pause;
        }
        self.deployment = match up.pick(host) {
            Ok(i) => i,
            Err(err) => {
                reply_error(host, &err, self.api);
                return Flow::Pause;
            }
        };
        if end_of_stream {
            reply_error(
                host,
                &GatewayError::bad_request("Request body is required"),
                self.api,
            );
            return Flow::Pause;
        }
        let Some(dep) = self.deployment(up) else {
            return Flow::Pause;
        };
        // Headers that choose what the operator's account pays for, unless this
        // deployment lets the client choose (`billing_headers`).
        for (name, _) in &headers {
            if crate::billing_headers::strip(name, &dep.forward_client_headers) {
                host.set_request_header(name, None);
            }
        }
        host.set_request_header(":authority", Some(&dep.authority));
        for (k, v) in &dep.request_headers {
            if k == "content-type" && header_in(&headers, k) == Some(v.as_str()) {
                continue; // as the client sent it: one hostcall saved
            }
            host.set_request_header(k, Some(v));
        }
        self.original_path = header_in(&headers, ":path").map(str::to_string);
        Flow::Pause
    }

    /// Request body: once whole, translate it for the picked deployment.
    pub fn on_request_body(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        if !end_of_stream {
            return Flow::Pause;
        }
        let (Some(facts), Some(dep)) = (self.facts.clone(), self.deployment(up)) else {
            return Flow::Pause;
        };
        match self.translate_request(dep, host, &facts, size) {
            Ok(()) if self.awaiting_token.is_some() => Flow::Pause,
            Ok(()) if self.fanout.is_some() => {
                // The other inputs' calls go out beside this attempt's own request.
                self.dispatch_fanout(up, host);
                Flow::Continue
            }
            Ok(()) => Flow::Continue,
            Err(err) => {
                host.log(
                    Level::Debug,
                    &format!("switchyard upstream {}: {err}", dep.deployment_id),
                );
                reply_error(host, &err, self.api);
                Flow::Pause
            }
        }
    }

    fn translate_request(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        facts: &RouteFacts,
        size: usize,
    ) -> Result<(), GatewayError> {
        let body = host.request_body(size).unwrap_or_default();
        // Parsed once, one level deep: OpenAI-compatible bodies go back out with
        // their values' bytes as they came (see `request`).
        let mut request =
            TopLevel::parse(&body).map_err(|e| GatewayError::bad_request(e.to_string()))?;
        if self.key.is_some() {
            // Read before LiteLLM's fields leave the body (spend reports only).
            self.labels = SpendLabels::from_raw(
                request.get_raw("metadata"),
                request.get_raw("litellm_metadata"),
                request.get_raw("tags"),
            );
        }
        self.model = dep.model_for(facts.wildcard.as_deref(), Some(&facts.model));
        // Priced by the model served: a wildcard's is the one asked for.
        self.pricing = dep.price_for(&self.model);
        if self.key.is_some() {
            // What a cut answer is charged for its prompt, when the provider did
            // not say (`estimate`).
            self.prompt_estimate = estimate::prompt_tokens(&body);
        }
        self.native = facts.api.is_anthropic() && dep.provider == ProviderKind::Anthropic;
        match facts.api {
            ClientApi::OpenAi => {}
            _ if self.native => return self.native_anthropic(dep, host, facts.api, request, size),
            ClientApi::CountTokens => {
                return Err(anthropic_client::count_tokens_unsupported(
                    dep.provider.as_str(),
                    &facts.model,
                ))
            }
            ClientApi::Messages => {
                // Anthropic → OpenAI, then on as any chat completion.
                let map = request.into_map().map_err(|e| {
                    GatewayError::bad_request(format!("Request body is not valid JSON: {e}"))
                })?;
                let translated = anthropic_client::to_openai_request(&map)?;
                self.stop_sequences = translated.stop_sequences;
                request = TopLevel::from(translated.request);
            }
        }
        dep.prepare(facts.endpoint, &mut request, &self.model)?;
        self.stream = request.get_bool("stream").unwrap_or(false);
        self.include_usage = request
            .get_value("stream_options")
            .and_then(|o| o.get("include_usage").and_then(Value::as_bool))
            .unwrap_or(false);
        self.base64_embeddings = facts.endpoint == Endpoint::Embeddings
            && providers::rewrites_response(dep.provider)
            && request
                .get_value("encoding_format")
                .is_some_and(|f| f.as_str() == Some("base64"));
        self.rewritten = if dep.quirks.any() {
            providers::openai_compat::apply(
                &dep.quirks,
                facts.endpoint,
                &mut request,
                dep.drop_params,
            )?
        } else {
            Default::default()
        };
        if speaks_anthropic(dep.provider, &self.model)
            && facts.endpoint == Endpoint::ChatCompletions
            && providers::anthropic::wants_json(request.get_value("response_format").as_ref())
        {
            // JSON through Anthropic's forced tool: its input is the answer.
            self.rewritten.json_tool = true;
        }
        if self.stream
            && !self.rewritten.fake_stream
            && !self.include_usage
            && providers::asks_stream_usage(dep.provider, facts.endpoint)
        {
            // The gateway needs the tokens of every answer: ask for the usage chunk
            // (dropped again on the way back, as the client did not ask for it).
            request.insert("stream_options", serde_json::json!({"include_usage": true}));
        }
        let serialize_error = |e: serde_json::Error| {
            GatewayError::internal(format!("could not serialize request: {e}"))
        };
        // An OpenAI-compatible body the deployment left as it was goes on untouched.
        let passthrough =
            dep.provider.is_openai_compatible() || dep.provider == ProviderKind::Azure;
        let unchanged_or = |request: &TopLevel<'_>| -> Result<Vec<u8>, GatewayError> {
            if request.changed() {
                request.to_vec().map_err(serialize_error)
            } else {
                Ok(Vec::new())
            }
        };
        let translated = match dep.provider {
            p if p.is_openai_compatible() => providers::ProviderRequest {
                path: providers::openai::request_path(facts.endpoint),
                body: unchanged_or(&request)?,
            },
            ProviderKind::Azure => providers::ProviderRequest {
                path: providers::openai::azure_request_path(
                    facts.endpoint,
                    &self.model,
                    dep.api_version.as_deref(),
                ),
                body: unchanged_or(&request)?,
            },
            ProviderKind::Bedrock => {
                let request = request.into_map().map_err(|e| {
                    GatewayError::bad_request(format!("Request body is not valid JSON: {e}"))
                })?;
                if let Some(first) = self.plan_fanout(dep, host, facts.endpoint, &request)? {
                    // Titan, a list `input`: this request carries the first input.
                    first
                } else {
                    let (translated, rewritten) = providers::bedrock::translate_request(
                        facts.endpoint,
                        &request,
                        &self.model,
                        dep.drop_params,
                    )?;
                    self.rewritten = rewritten;
                    translated
                }
            }
            _ => {
                let request = request.into_map().map_err(|e| {
                    GatewayError::bad_request(format!("Request body is not valid JSON: {e}"))
                })?;
                if dep.provider == ProviderKind::HuggingfaceGenerate {
                    providers::huggingface::translate_request(
                        facts.endpoint,
                        &request,
                        dep.prompt_template.as_ref(),
                    )?
                } else {
                    providers::translate_request(
                        dep.provider,
                        facts.endpoint,
                        &request,
                        &self.model,
                        dep.api_version.as_deref(),
                    )?
                }
            }
        };
        let path = format!("{}{}", dep.path_prefix, translated.path);
        if self.original_path.as_deref() != Some(path.as_str()) {
            host.set_request_header(":path", Some(&path));
        }
        // Empty for an OpenAI-compatible body left as it was: nothing to replace.
        if !passthrough || !translated.body.is_empty() {
            host.replace_request_body(size, &translated.body);
        }
        if let Some(sigv4) = &dep.sigv4 {
            // Signed per attempt, over the final path and body, at the host's time.
            let signed = sigv4.sign(
                host.now_unix_secs(),
                &dep.authority,
                &path,
                &translated.body,
            );
            for (name, value) in &signed {
                host.set_request_header(name, Some(value));
            }
        }
        if dep.provider == ProviderKind::Bedrock {
            // AWS's SDKs send the length; so does the gateway (the body is whole).
            host.set_request_header("content-length", Some(&translated.body.len().to_string()));
        }
        if let Some(auth) = &dep.google_auth {
            // One shared-data read: the token every worker shares (google_auth).
            let record = TokenRecord::decode(host.shared_data(&auth.key).as_deref());
            match record.state(host.now_unix_secs()) {
                TokenState::Ready(token) => {
                    host.set_request_header("authorization", Some(&format!("Bearer {token}")));
                }
                TokenState::Wait => self.awaiting_token = Some(auth.key.clone()),
                TokenState::Failed(status, message) => {
                    return Err(GatewayError::new(status, message))
                }
            }
        }
        if self.debug {
            let sent = if !passthrough || !translated.body.is_empty() {
                &translated.body
            } else {
                &body
            };
            self.log_request(dep, host, sent);
        }
        Ok(())
    }

    /// Debug mode: logs the attempt as LiteLLM's debug output shows a provider call
    /// (final URL, headers and `body`, credentials masked: `debug_log`), and keeps its
    /// target for the status line.
    fn log_request(&mut self, dep: &Deployment, host: &dyn Host, body: &[u8]) {
        let mut headers = host.request_headers();
        let method = header_in(&headers, ":method").unwrap_or("POST").to_string();
        let path = header_in(&headers, ":path").unwrap_or("/").to_string();
        let tls = dep
            .api_base
            .trim_start()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}{path}", dep.authority);
        if self.awaiting_token.is_some() {
            // Set once the service account's token is there (google_auth).
            headers.push(("authorization".into(), String::new()));
        }
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(sigv4) = &dep.sigv4 {
            let c = &sigv4.credentials;
            secrets.extend([c.access_key_id.as_str(), c.secret_access_key.as_str()]);
            secrets.extend(c.session_token.as_deref());
        }
        let message = debug_log::request_message(&method, &url, &headers, body, &secrets);
        host.log(Level::Info, &message);
        self.debug_target = Some(format!("{method} {}", debug_log::mask_url(&url)));
    }

    /// Debug mode: logs the provider's status for the attempt (`0`: none came).
    fn log_status(&self, dep: &Deployment, host: &dyn Host, status: u16) {
        if let Some(target) = &self.debug_target {
            host.log(
                Level::Info,
                &debug_log::status_message(
                    status,
                    target,
                    &dep.group,
                    &dep.deployment_id,
                    self.attempt,
                ),
            );
        }
    }

    /// An Anthropic-format request for an Anthropic deployment: the body as the
    /// client sent it but for the model id, LiteLLM's gateway fields and the
    /// deployment's defaults that are Messages parameters; credentials and
    /// `anthropic-version` are the deployment's (set with the headers), the client's
    /// `anthropic-beta` goes on.
    fn native_anthropic(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        api: ClientApi,
        mut request: TopLevel<'_>,
        size: usize,
    ) -> Result<(), GatewayError> {
        request.insert("model", Value::String(self.model.clone()));
        // `metadata` is Anthropic's own Messages parameter: its `user_id` goes on, as
        // LiteLLM sends it (count_tokens takes none); every other LiteLLM field stays
        // in the gateway.
        let metadata = match api {
            ClientApi::Messages => {
                litellm_fields::anthropic_metadata(request.get_value("metadata"))
            }
            _ => None,
        };
        litellm_fields::strip(&mut request);
        if let Some(metadata) = metadata {
            request.insert("metadata", metadata);
        }
        // count_tokens takes the prompt only (no max_tokens, sampling or stream).
        const COUNT_PARAMS: [&str; 4] = ["system", "thinking", "tool_choice", "tools"];
        for (k, v) in &dep.default_params {
            let native = match api {
                ClientApi::CountTokens => COUNT_PARAMS.contains(&k.as_str()),
                _ => anthropic_client::NATIVE_PARAMS.contains(&k.as_str()),
            };
            if native && !request.contains_key(k) {
                request.insert(k, v.clone());
            }
        }
        self.stream = api == ClientApi::Messages && request.get_bool("stream").unwrap_or(false);
        let path = format!(
            "{}/v1/{}",
            dep.path_prefix,
            api.path(Endpoint::ChatCompletions)
        );
        if self.original_path.as_deref() != Some(path.as_str()) {
            host.set_request_header(":path", Some(&path));
        }
        if request.changed() {
            let body = request
                .to_vec()
                .map_err(|e| GatewayError::internal(format!("could not serialize request: {e}")))?;
            host.replace_request_body(size, &body);
            if self.debug {
                self.log_request(dep, host, &body);
            }
        } else if self.debug {
            let body = host.request_body(size).unwrap_or_default();
            self.log_request(dep, host, &body);
        }
        Ok(())
    }

    /// Response headers: tag the answer, decide how the body will be handled.
    pub fn on_response_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        let status = host
            .response_header(":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let (Some(dep), Some(endpoint)) =
            (self.deployment(up), self.facts.as_ref().map(|f| f.endpoint))
        else {
            self.response = ResponseMode::Passthrough;
            return Flow::Continue;
        };
        self.log_status(dep, host, status);
        host.set_response_header("x-litellm-model-id", Some(&dep.deployment_id));
        host.set_response_header("x-litellm-model-group", Some(&dep.group));
        host.set_response_header("x-litellm-model-api-base", Some(&dep.api_base));
        host.set_response_header(
            "x-litellm-attempted-retries",
            Some(&self.attempt.saturating_sub(1).to_string()),
        );
        let error_steps = self
            .facts
            .as_ref()
            .and_then(|f| f.error_fallback.as_ref())
            .map_or(0, |f| f.step + 1);
        host.set_response_header(
            "x-litellm-attempted-fallbacks",
            Some(&(dep.fallback_index + error_steps).to_string()),
        );

        if !(200..300).contains(&status) {
            if end_of_stream {
                // No body to map: answer with the error for the status alone.
                let err = provider_error(dep, host, status, b"");
                self.response = ResponseMode::Passthrough;
                reply_error(host, &err, self.api);
                return Flow::Pause;
            }
            self.response = ResponseMode::Error {
                upstream_status: status,
            };
            host.set_response_header("content-length", None);
            return Flow::Pause;
        }
        self.content_length = host
            .response_header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if self.key.is_some() && self.stream {
            self.output = Some(estimate::OutputCounter::new());
        }
        let ctx = ResponseContext {
            created: self.start_ms / 1000,
            model: self.model.clone(),
            // An Anthropic-format client's stream ends with the usage, always.
            include_usage: self.include_usage || self.api == ClientApi::Messages,
        };
        self.response = if self.native && self.stream {
            host.set_response_header("content-length", None);
            ResponseMode::Stream(Box::new(anthropic_client::NativeTap::new()))
        } else if self.native {
            ResponseMode::Hold
        } else if self.rewritten.fake_stream || (self.rewritten.json_tool && !self.stream) {
            // Read whole: the answer is rewritten (and replayed as a stream when
            // the client asked for one the provider could not give).
            host.set_response_header("content-length", None);
            if self.rewritten.fake_stream {
                host.set_response_header("content-type", Some("text/event-stream"));
            }
            ResponseMode::Translate
        } else if self.stream {
            host.set_response_header("content-length", None);
            if providers::rewrites_response(dep.provider) || self.api.is_anthropic() {
                host.set_response_header("content-type", Some("text/event-stream"));
            }
            let translator: Box<dyn StreamTranslate> = match dep.quirks.answer_fix() {
                Some(fix) if endpoint == Endpoint::ChatCompletions => Box::new(
                    providers::openai::UsageTap::with_fix(!self.include_usage, fix),
                ),
                _ if self.rewritten.json_tool && speaks_anthropic(dep.provider, &self.model) => {
                    Box::new(providers::anthropic::StreamTranslator::json_mode(
                        endpoint, ctx,
                    ))
                }
                _ if dep.provider == ProviderKind::Bedrock => {
                    let request_id = host.response_header("x-amzn-requestid");
                    Box::new(providers::bedrock::StreamTranslator::new(
                        endpoint,
                        ctx,
                        request_id.as_deref(),
                    ))
                }
                _ => providers::stream_translator(dep.provider, endpoint, ctx),
            };
            if self.api.is_anthropic() {
                ResponseMode::Stream(Box::new(anthropic_client::Chain::new(
                    translator,
                    self.messages_context(),
                )))
            } else {
                ResponseMode::Stream(translator)
            }
        } else if providers::rewrites_response(dep.provider)
            || self.api.is_anthropic()
            || (endpoint == Endpoint::ChatCompletions && dep.quirks.answer_fix().is_some())
        {
            host.set_response_header("content-length", None);
            ResponseMode::Translate
        } else {
            // Held whole before the headers go on: an answer cut midway is then still
            // an upstream failure Envoy can retry, never half an answer.
            ResponseMode::Hold
        };
        match self.response {
            ResponseMode::Translate | ResponseMode::Hold => Flow::Pause,
            _ => Flow::Continue,
        }
    }

    /// Response body: translate whole bodies at the end, streams chunk by chunk.
    pub fn on_response_body(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        let endpoint = self
            .facts
            .as_ref()
            .map_or(Endpoint::ChatCompletions, |f| f.endpoint);
        let Some(dep) = up.deployments.get(self.deployment) else {
            return Flow::Continue;
        };
        match &mut self.response {
            ResponseMode::Pending | ResponseMode::Passthrough => Flow::Continue,
            ResponseMode::Hold if end_of_stream => {
                let body = host.response_body(size).unwrap_or_default();
                self.usage = if self.native {
                    anthropic_client::native_usage(&body)
                } else {
                    cost::usage_of(&body)
                };
                if self.pricing.is_none() {
                    // The answer may name a model the deployment's table prices
                    // (an Azure deployment's `model`).
                    self.pricing = cost::model_of(&body).and_then(|m| dep.price_for(&m));
                }
                report_cost(host, self.pricing.as_ref(), self.usage, None);
                self.record_spend(dep, host);
                Flow::Continue
            }
            ResponseMode::Hold => {
                self.body_bytes = self.body_bytes.max(size as u64);
                Flow::Pause
            }
            ResponseMode::Stream(translator) => {
                let buffered = host.response_body(size).unwrap_or_default();
                // Bytes translated earlier and not yet passed on stay as they are.
                let (held, chunk) = buffered
                    .split_at_checked(self.stream_held)
                    .unwrap_or((&[], buffered.as_slice()));
                let mut out = Vec::with_capacity(held.len() + chunk.len() * 2);
                out.extend_from_slice(held);
                translator.push(chunk, &mut out);
                if let Some(counter) = self.output.as_mut() {
                    counter.push(out.get(held.len()..).unwrap_or_default());
                }
                if end_of_stream {
                    translator.finish(&mut out);
                    self.usage = translator.usage();
                    self.provider_cost = translator.provider_cost();
                }
                host.replace_response_body(size, &out);
                self.stream_written = out.len();
                if end_of_stream {
                    if self.usage.is_none() && self.provider_cost.is_none() {
                        // A stream that ended without its usage (cut by an error
                        // event, or a server that reports none): charged the
                        // estimate of what it carried, not $0.
                        self.record_estimated(dep, host);
                    } else {
                        self.record_spend(dep, host);
                    }
                }
                Flow::Continue
            }
            ResponseMode::Translate => {
                if !end_of_stream {
                    self.body_bytes = self.body_bytes.max(size as u64);
                    return Flow::Pause;
                }
                if self.fanout.is_some() {
                    return self.first_input_answered(up, host, size);
                }
                let body = host.response_body(size).unwrap_or_default();
                let ctx = ResponseContext {
                    created: self.start_ms / 1000,
                    model: self.model.clone(),
                    include_usage: self.include_usage,
                };
                let translated = if dep.provider == ProviderKind::Bedrock {
                    let request_id = host.response_header("x-amzn-requestid");
                    providers::bedrock::translate_response(
                        endpoint,
                        &body,
                        &ctx,
                        request_id.as_deref(),
                    )
                    .map(|out| {
                        if endpoint == Endpoint::Embeddings {
                            let tokens = host.response_header("x-amzn-bedrock-input-token-count");
                            providers::bedrock::embedding_usage_from_header(out, tokens.as_deref())
                        } else {
                            out
                        }
                    })
                } else {
                    providers::translate_response(dep.provider, endpoint, &body, &ctx)
                };
                match translated {
                    Ok(out) => {
                        let out = if self.base64_embeddings {
                            providers::embeddings_to_base64(out)
                        } else if self.rewritten.json_tool {
                            providers::openai_compat::json_tool_answer(out)
                        } else {
                            out
                        };
                        let out = match dep.quirks.answer_fix() {
                            Some(fix) if endpoint == Endpoint::ChatCompletions => {
                                self.provider_cost = fix.cost_of(&out);
                                fix.fix_answer(out)
                            }
                            _ => out,
                        };
                        self.usage = cost::usage_of(&out);
                        if self.pricing.is_none() {
                            self.pricing = cost::model_of(&out).and_then(|m| dep.price_for(&m));
                        }
                        let anthropic = self.api.is_anthropic();
                        let out = if self.rewritten.fake_stream {
                            // A stream: no cost header, as for streams.
                            let sse = providers::openai_compat::fake_stream(
                                &out,
                                self.include_usage || anthropic,
                            );
                            if anthropic {
                                use providers::StreamTranslate as _;
                                let mut t = anthropic_client::StreamToMessages::new(
                                    self.messages_context(),
                                );
                                let mut events = Vec::with_capacity(sse.len() * 2);
                                t.push(&sse, &mut events);
                                t.finish(&mut events);
                                Ok(events)
                            } else {
                                Ok(sse)
                            }
                        } else {
                            report_cost(
                                host,
                                self.pricing.as_ref(),
                                self.usage,
                                self.provider_cost,
                            );
                            if anthropic {
                                anthropic_client::from_openai_response(
                                    &out,
                                    &self.messages_context(),
                                )
                            } else {
                                Ok(out)
                            }
                        };
                        match out {
                            Ok(out) => {
                                host.replace_response_body(size, &out);
                                self.record_spend(dep, host);
                            }
                            Err(err) => {
                                host.set_response_header("x-litellm-response-cost", None);
                                set_error(host, size, &err, self.api);
                            }
                        }
                    }
                    Err(err) => {
                        host.log(
                            Level::Warn,
                            &format!("switchyard upstream {}: {err}", dep.deployment_id),
                        );
                        set_error(host, size, &err, self.api);
                    }
                }
                Flow::Continue
            }
            ResponseMode::Error { upstream_status } => {
                if !end_of_stream {
                    return Flow::Pause;
                }
                let body = host.response_body(size).unwrap_or_default();
                let status = *upstream_status;
                if let Some(location) = self.error_fallback_location(up, status, &body) {
                    // Envoy follows this internally (internal_redirect_policy) and
                    // replays the request through the router stage.
                    host.set_response_header(":status", Some("307"));
                    host.set_response_header("location", Some(&location));
                    host.set_response_header("content-type", None);
                    // The replay presents the client's credentials, not the provider's,
                    // and continues this admission (one request: one count, one slot).
                    crate::credentials::restore_for_replay(host);
                    host.set_response_header(
                        spend::ADMISSION_HEADER,
                        self.key
                            .as_ref()
                            .map(|k| k.admission.as_str())
                            .filter(|a| !a.is_empty()),
                    );
                    host.replace_response_body(size, b"");
                    return Flow::Continue;
                }
                if self.native {
                    // Anthropic's own error, for an Anthropic client: as it came.
                    host.set_response_header("content-type", Some("application/json"));
                    host.replace_response_body(
                        size,
                        &anthropic_client::native_error_body(status, &body),
                    );
                } else {
                    let err = provider_error(dep, host, status, &body);
                    set_error(host, size, &err, self.api);
                }
                self.record_failure(dep, host);
                Flow::Continue
            }
        }
    }
}

impl UpstreamExchange {
    /// The attempt is over (Envoy destroys its upstream filters). One that ended
    /// without an answer or a provider error is reported as a failure, so that the
    /// lease of a `max_parallel_requests` slot is given back now, not when it
    /// expires. When the provider had begun a successful answer — the client left
    /// mid-stream, the provider cut its stream, the answer outgrew Envoy's buffer
    /// (its 502) — the provider billed what it produced: the report charges it
    /// (`estimate`: prompt and output so far) and is marked partial. Before any
    /// answer (no response headers: reset, timeout) it carries no spend.
    pub fn on_done(&self, up: &Upstream, host: &dyn Host) {
        if matches!(self.response, ResponseMode::Pending) {
            if let Some(dep) = self.deployment(up) {
                self.log_status(dep, host, 0);
            }
        }
        if self.reported.get() {
            return;
        }
        if let Some(dep) = self.deployment(up) {
            let answer_begun = self.fanout.is_none()
                && matches!(
                    self.response,
                    ResponseMode::Stream(_) | ResponseMode::Hold | ResponseMode::Translate
                );
            if answer_begun {
                self.record_partial(dep, host);
            } else {
                self.record_failure(dep, host);
            }
        }
    }

    /// What an answer that did not finish is charged: the provider's counts so far
    /// (Anthropic's `message_start` has the prompt's), else the estimates of
    /// [`estimate`] — the prompt from the request, the output from the text
    /// streamed (or the bytes of a held answer). `true` when anything is estimated.
    fn partial_usage(&self) -> (cost::Usage, bool) {
        let reported = match &self.response {
            ResponseMode::Stream(translator) => translator.usage(),
            _ => None,
        };
        let mut usage = reported.or(self.usage).unwrap_or_default();
        let mut estimated = false;
        if usage.prompt_tokens == 0 && self.prompt_estimate > 0 {
            usage.prompt_tokens = self.prompt_estimate;
            estimated = true;
        }
        let produced = match &self.response {
            ResponseMode::Stream(_) => self.output.as_ref().map_or(0, |c| c.tokens()),
            _ => estimate::bytes_to_tokens(self.body_bytes.max(self.content_length)),
        };
        if produced > usage.completion_tokens {
            usage.completion_tokens = produced;
            estimated = true;
        }
        (usage, estimated)
    }

    /// The price of what was served: the one fixed when the request was sent, else
    /// that of the model the stream's events named.
    fn served_pricing(&self, dep: &Deployment) -> Option<Pricing> {
        self.pricing.or_else(|| {
            self.output
                .as_ref()
                .and_then(|c| c.model())
                .and_then(|m| dep.price_for(m))
        })
    }

    /// What the Anthropic answer translation needs.
    fn messages_context(&self) -> anthropic_client::MessagesContext {
        anthropic_client::MessagesContext {
            model: self.model.clone(),
            id: format!("msg_{}", self.request_id.replace('-', "")),
            stop_sequences: self.stop_sequences.clone(),
        }
    }

    /// Queues the spend report of an answered request (keys checked only).
    fn record_spend(&self, dep: &Deployment, host: &dyn Host) {
        let usage = self.usage.unwrap_or_default();
        let pricing = self.served_pricing(dep);
        let (spend, unpriced) = match (self.provider_cost, pricing) {
            (Some(provider_cost), _) => (provider_cost, false),
            (None, Some(p)) => (cost::cost(&usage, &p), false),
            (None, None) => (0.0, true),
        };
        self.report(dep, host, "success", usage, spend, unpriced, Map::new());
    }

    /// Queues a failed attempt's report: no spend, but its lease is released. Each
    /// attempt gets its own id, as Envoy may retry and the request then succeed.
    fn record_failure(&self, dep: &Deployment, host: &dyn Host) {
        self.report(
            dep,
            host,
            "failure",
            cost::Usage::default(),
            0.0,
            false,
            Map::new(),
        );
    }

    /// Queues the report of an answer that began and did not finish: status
    /// `failure`, spend charged for what the provider
    /// produced, metadata `{"switchyard_partial": true, "estimated": …}`.
    fn record_partial(&self, dep: &Deployment, host: &dyn Host) {
        let (usage, estimated) = self.partial_usage();
        let pricing = self.served_pricing(dep);
        let spend = pricing.map_or(0.0, |p| cost::cost(&usage, &p));
        let mut marks = Map::new();
        marks.insert("switchyard_partial".into(), Value::Bool(true));
        marks.insert("estimated".into(), Value::Bool(estimated));
        self.report(dep, host, "failure", usage, spend, pricing.is_none(), marks);
    }

    /// Queues the report of a stream that ended without usage: status `success`,
    /// spend charged for the estimate, metadata `{"estimated": true}`.
    fn record_estimated(&self, dep: &Deployment, host: &dyn Host) {
        let (usage, _) = self.partial_usage();
        let pricing = self.served_pricing(dep);
        let spend = pricing.map_or(0.0, |p| cost::cost(&usage, &p));
        let mut marks = Map::new();
        marks.insert("estimated".into(), Value::Bool(true));
        self.report(dep, host, "success", usage, spend, pricing.is_none(), marks);
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        dep: &Deployment,
        host: &dyn Host,
        status: &str,
        usage: cost::Usage,
        spend: f64,
        unpriced: bool,
        mut marks: Map<String, Value>,
    ) {
        let (Some(key), Some(facts)) = (&self.key, &self.facts) else {
            return;
        };
        self.reported.set(true);
        let failed = status != "success";
        if unpriced {
            // No silent $0: served under a budget without a price (`check` warned).
            host.log(
                Level::Warn,
                &format!(
                    "switchyard: deployment {} (group {}) served model {} with no price: spend recorded as 0, budgets do not count it; give it input_cost_per_token/output_cost_per_token, model_info.base_model or a SWITCHYARD_MODEL_PRICES entry",
                    dep.deployment_id, dep.group, self.model
                ),
            );
            marks.insert("switchyard_unpriced".into(), Value::Bool(true));
        }
        let now = host.now_unix_millis();
        let admitted = key.spend_key(&self.request_id, now);
        let request_id = match (&facts.error_fallback, failed) {
            (_, false) => admitted,
            (None, true) => format!("{admitted}:attempt-{}:failed", self.attempt),
            (Some(step), true) => format!(
                "{admitted}:fallback-{}:attempt-{}:failed",
                step.step, self.attempt
            ),
        };
        let call_type = spend::call_type(facts.api, facts.endpoint);
        let body = spend::report(
            key,
            &Answered {
                request_id: &request_id,
                client_request_id: &self.request_id,
                call_type,
                model: &self.model,
                model_id: &dep.deployment_id,
                model_group: &dep.group,
                provider: dep.provider.as_str(),
                api_base: &dep.api_base,
                usage,
                spend,
                start_ms: self.start_ms,
                end_ms: now,
                status,
                labels: &self.labels,
                marks: &marks,
            },
        );
        spend::enqueue(body, now);
    }

    /// Where an error goes next when it has an error fallback left: the request's
    /// own `fallbacks` ([`Self::request_fallback_step`]), or a context-window or
    /// content-policy error whose chain (of the group the client asked for) has
    /// another group.
    fn error_fallback_location(&self, up: &Upstream, status: u16, body: &[u8]) -> Option<String> {
        let class = providers::classify_error(status, body);
        let facts = self.facts.as_ref()?;
        if let Some((origin, step)) = self.request_fallback_step(up, facts, status, class) {
            return Some(self.fallback_location(facts, ErrorKind::Request, origin, step));
        }
        let kind = class?;
        let (origin, step) = match &facts.error_fallback {
            Some(f) if f.kind == kind => (f.origin.as_str(), f.step + 1),
            Some(f) => (f.origin.as_str(), 0),
            None => (up.group.as_str(), 0),
        };
        let chain = up.error_fallbacks.get(origin)?.chain(kind);
        if chain.len() <= step as usize {
            return None;
        }
        Some(self.fallback_location(facts, kind, origin, step))
    }

    /// The internal redirect to `step` of the `kind` chain of group `origin`.
    fn fallback_location(
        &self,
        facts: &RouteFacts,
        kind: ErrorKind,
        origin: &str,
        step: u32,
    ) -> String {
        format!(
            "{}://switchyard.internal{FALLBACK_PATH_PREFIX}{}/{step}/{}/v1/{}",
            self.scheme,
            kind.as_str(),
            providers::openai::percent_encode_segment(origin),
            facts.api.path(facts.endpoint)
        )
    }

    /// The next step of the request's own `fallbacks` for this provider error, when
    /// it moves on (LiteLLM's `async_function_with_fallbacks`): every error but a
    /// plain 400 (one the provider says is the request's fault), once Envoy will
    /// not retry it on this group (the group's last attempt, or a status Envoy does
    /// not retry); a context-window or content-policy error goes to the config's
    /// chain instead when the request used LiteLLM's mapping form and the group has
    /// one. Not while the request is in a config error chain.
    fn request_fallback_step<'f>(
        &self,
        up: &'f Upstream,
        facts: &'f RouteFacts,
        status: u16,
        class: Option<ErrorKind>,
    ) -> Option<(&'f str, u32)> {
        let chain = facts.request_fallbacks.as_ref()?;
        let (origin, step) = match &facts.error_fallback {
            None => (up.group.as_str(), 0),
            Some(f) if f.kind == ErrorKind::Request => {
                (f.origin.as_str(), f.step.saturating_add(1))
            }
            Some(_) => return None,
        };
        if step >= chain.len || (status == 400 && class.is_none()) {
            return None;
        }
        if let Some(kind) = class.filter(|_| !chain.from_list) {
            let config_chain = up.error_fallbacks.get(origin).map(|f| f.chain(kind));
            if config_chain.is_some_and(|c| !c.is_empty()) {
                return None;
            }
        }
        if self.attempt < chain.attempts && chain.retries.retries_status(status) {
            return None; // Envoy tries this group again
        }
        Some((origin, step))
    }
}

/// Sets `x-litellm-response-cost` (USD) on a held, non-streamed answer: the
/// provider's own price when it reports one, else the deployment's prices.
fn report_cost(
    host: &mut dyn Host,
    pricing: Option<&Pricing>,
    usage: Option<cost::Usage>,
    provider_cost: Option<f64>,
) {
    let usd = match (provider_cost, pricing, usage) {
        (Some(usd), _, _) => usd,
        (None, Some(pricing), Some(usage)) => cost::cost(&usage, pricing),
        _ => return,
    };
    host.set_response_header("x-litellm-response-cost", Some(&usd.to_string()));
}

/// Whether a deployment speaks Anthropic's Messages API: Anthropic itself, and
/// Claude on Vertex AI (`rawPredict`).
fn speaks_anthropic(provider: ProviderKind, model: &str) -> bool {
    provider == ProviderKind::Anthropic
        || (provider == ProviderKind::VertexAi
            && providers::vertex::family(model) == providers::vertex::Family::Claude)
}

/// A provider's error answer as an OpenAI error (Bedrock's type is a header).
fn provider_error(dep: &Deployment, host: &dyn Host, status: u16, body: &[u8]) -> GatewayError {
    if dep.provider == ProviderKind::Bedrock {
        let error_type = host.response_header("x-amzn-errortype");
        providers::bedrock::translate_error(status, body, error_type.as_deref())
    } else {
        providers::translate_error(dep.provider, status, body)
    }
}

/// Replaces a held response with an error in the client's format.
fn set_error(host: &mut dyn Host, size: usize, err: &GatewayError, api: ClientApi) {
    host.set_response_header(":status", Some(&err.status.to_string()));
    host.set_response_header("content-type", Some("application/json"));
    host.replace_response_body(size, &error_body(err, api));
}

// Per-attempt deadlines of the picked deployment.
mod timeouts;

// The stage with Anthropic-format clients (`/v1/messages`).
#[cfg(test)]
mod messages_tests;

// The debug mode's request log.
#[cfg(test)]
mod debug_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::Setting;
    use serde_json::json;
    use std::collections::BTreeMap;

    pub(super) fn config(provider: ProviderKind, model: &str) -> DeploymentConfig {
        DeploymentConfig {
            deployment_id: "dep-1".into(),
            group: "g".into(),
            provider,
            model: model.into(),
            api_base: Setting::Literal("https://api.example.com:443/v1/".into()),
            api_key: Some(Setting::Env { env: "KEY".into() }),
            api_version: None,
            headers: BTreeMap::from([("X-Extra".to_string(), "1".to_string())]),
            default_params: json!({"temperature": 0.2, "seed": 7})
                .as_object()
                .unwrap()
                .clone(),
            drop_params: false,
            fallback_index: 0,
            pricing: Some(Pricing {
                input_cost_per_token: 1e-6,
                output_cost_per_token: 2e-6,
                cache_read_input_token_cost: None,
                cache_creation_input_token_cost: None,
            }),
            model_prices: BTreeMap::new(),
            prompt_template: None,
            aws: None,
            google_auth: None,
            direct_cluster: None,
            stream_timeout_ms: None,
            forward_client_headers: Vec::new(),
        }
    }

    /// A route cluster of these deployments.
    pub(super) fn cluster(deployments: &[DeploymentConfig]) -> UpstreamConfig {
        UpstreamConfig {
            group: "g".into(),
            deployments: deployments.to_vec(),
            clear_headers: vec![],
            error_fallbacks: Default::default(),
            keys: true,
            debug: false,
        }
    }

    pub(super) fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "sk-secret".to_string())
    }

    pub(super) fn request(path_endpoint: &str, body: Value) -> MockHost {
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                ("x-switchyard-group", "g"),
                ("authorization", "Bearer sk-virtual-key"),
                ("accept-encoding", "gzip"),
                ("content-length", "99"),
            ],
            &serde_json::to_vec(&body).unwrap(),
        );
        let facts = RouteFacts {
            endpoint: Endpoint::parse(path_endpoint).unwrap(),
            api: ClientApi::OpenAi,
            model: "client-model".into(),
            wildcard: None,
            error_fallback: None,
            request_fallbacks: None,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        host
    }

    pub(super) fn send(up: &Upstream, host: &mut MockHost) -> (UpstreamExchange, Flow) {
        let mut ex = UpstreamExchange::default();
        assert_eq!(ex.on_request_headers(up, host, false), Flow::Pause);
        let size = host.request_body.len();
        let flow = ex.on_request_body(up, host, size, true);
        (ex, flow)
    }

    #[test]
    fn api_base_splits() {
        assert_eq!(
            split_api_base("https://h.example/v1/").unwrap(),
            ("h.example".into(), "/v1".into())
        );
        assert_eq!(
            split_api_base("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".into(), "".into())
        );
        assert_eq!(
            split_api_base("http://h:80/x").unwrap(),
            ("h".into(), "/x".into())
        );
        assert!(split_api_base("ftp://h").is_err());
        assert!(split_api_base("https:///v1").is_err());
    }

    /// Found by the fuzz target `config`: `switchyard check` accepted an api_base
    /// written `Https://…` (the compiler reads schemes in any case) and rendered it,
    /// and the upstream stage then refused its configuration inside Envoy. An
    /// `os.environ/` api_base reaches this function untrimmed, as the variable holds it.
    #[test]
    fn api_base_scheme_in_any_case() {
        assert_eq!(
            split_api_base("Https://my-endpoint-canada-1234.openai.azure.com").unwrap(),
            ("my-endpoint-canada-1234.openai.azure.com".into(), "".into())
        );
        assert_eq!(
            split_api_base("HTTP://h:80/v1/").unwrap(),
            ("h".into(), "/v1".into())
        );
        assert_eq!(
            split_api_base(" hTTps://h:443/v1\n").unwrap(),
            ("h".into(), "/v1".into())
        );
        assert!(split_api_base("httpx://h").is_err());
        assert!(split_api_base("h\u{e9}tps://h").is_err());
    }

    #[test]
    fn missing_secret_is_named_at_configure() {
        let err =
            Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &|_| None).unwrap_err();
        assert!(err.contains("KEY") && err.contains("dep-1"), "{err}");
    }

    #[test]
    fn openai_request_is_rewritten() {
        let up = Upstream::new(
            &cluster(&[config(ProviderKind::Openai, "gpt-4o-2024")]),
            &env,
        )
        .unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "client-model", "messages": [], "seed": 1}),
        );
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert_eq!(host.req(":path").as_deref(), Some("/v1/chat/completions"));
        assert_eq!(host.req(":authority").as_deref(), Some("api.example.com"));
        assert_eq!(
            host.req("authorization").as_deref(),
            Some("Bearer sk-secret")
        );
        assert_eq!(host.req("x-extra").as_deref(), Some("1"));
        for gone in ["accept-encoding", "content-length", "x-switchyard-group"] {
            assert_eq!(host.req(gone), None, "{gone}");
        }
        let body = host.request_json();
        assert_eq!(body["model"], "gpt-4o-2024");
        assert_eq!(body["seed"], 1, "the client's value wins over the default");
        assert_eq!(
            body["temperature"], 0.2,
            "defaults fill what the client left out"
        );
    }

    #[test]
    fn billing_headers_reach_the_provider_only_where_allowed() {
        let with = |allowed: Vec<String>| {
            let mut cfg = config(ProviderKind::Openai, "gpt-4o");
            cfg.forward_client_headers = allowed;
            let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
            let mut host = request("chat_completions", json!({"messages": []}));
            for (k, v) in [
                ("OpenAI-Organization", "org-client"),
                ("openai-project", "proj-client"),
                ("x-goog-user-project", "billed"),
                ("anthropic-beta", "context-1m-2025-08-07"),
            ] {
                host.request_headers.push((k.into(), v.into()));
            }
            assert_eq!(send(&up, &mut host).1, Flow::Continue);
            host
        };
        let host = with(Vec::new());
        assert_eq!(host.req("openai-organization"), None);
        assert_eq!(host.req("openai-project"), None);
        assert_eq!(host.req("x-goog-user-project"), None);
        assert_eq!(
            host.req("anthropic-beta").as_deref(),
            Some("context-1m-2025-08-07")
        );
        let host = with(vec!["OpenAI-Project".into()]);
        assert_eq!(host.req("openai-project").as_deref(), Some("proj-client"));
        assert_eq!(host.req("openai-organization"), None);
    }

    #[test]
    fn azure_request_uses_deployment_path_and_api_key() {
        let mut cfg = config(ProviderKind::Azure, "my-dep");
        cfg.api_base = Setting::Literal("https://res.openai.azure.com".into());
        cfg.api_version = Some(Setting::Literal("2024-06-01".into()));
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request("embeddings", json!({"model": "x", "input": "hello"}));
        send(&up, &mut host);
        assert_eq!(
            host.req(":path").as_deref(),
            Some("/openai/deployments/my-dep/embeddings?api-version=2024-06-01")
        );
        assert_eq!(host.req("api-key").as_deref(), Some("sk-secret"));
        assert_eq!(
            host.req("authorization"),
            None,
            "the client's key never reaches the provider"
        );
    }

    fn two_providers() -> Upstream {
        let mut azure = config(ProviderKind::Azure, "azure-dep");
        azure.deployment_id = "az".into();
        azure.api_base = Setting::Literal("https://res.openai.azure.com".into());
        azure.headers = BTreeMap::from([("X-Azure-Only".to_string(), "secret-ish".to_string())]);
        azure.default_params = Map::new();
        let mut claude = config(ProviderKind::Anthropic, "claude-3");
        claude.deployment_id = "cl".into();
        claude.group = "claude-group".into();
        claude.api_base = Setting::Literal("https://api.anthropic.com".into());
        claude.headers = BTreeMap::new();
        claude.default_params = Map::new();
        claude.fallback_index = 1;
        Upstream::new(&cluster(&[azure, claude]), &env).unwrap()
    }

    fn pick(host: &mut MockHost, id: &str) {
        host.properties
            .insert(HOST_DEPLOYMENT_PROPERTY.join("."), id.as_bytes().to_vec());
    }

    #[test]
    fn the_picked_endpoint_names_the_deployment() {
        let up = two_providers();
        let body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
        let mut host = request("chat_completions", body.clone());
        pick(&mut host, "cl");
        let (mut ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
        assert_eq!(host.req(":authority").as_deref(), Some("api.anthropic.com"));
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("x-envoy-attempt-count".into(), "2".into()),
        ];
        host.request_headers
            .push(("x-envoy-attempt-count".into(), "2".into()));
        ex.attempt = 2;
        ex.on_response_headers(&up, &mut host, false);
        assert_eq!(host.resp("x-litellm-model-id").as_deref(), Some("cl"));
        assert_eq!(
            host.resp("x-litellm-model-group").as_deref(),
            Some("claude-group")
        );
        assert_eq!(
            host.resp("x-litellm-attempted-fallbacks").as_deref(),
            Some("1")
        );
        assert_eq!(
            host.resp("x-litellm-attempted-retries").as_deref(),
            Some("1")
        );

        let mut host = request("chat_completions", body);
        pick(&mut host, "nope");
        let mut ex = UpstreamExchange::default();
        ex.on_request_headers(&up, &mut host, false);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    }

    #[test]
    fn a_retry_attempt_undoes_what_the_previous_attempt_set() {
        let up = two_providers();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        pick(&mut host, "az");
        let original_body = host.request_body.clone();
        send(&up, &mut host);
        assert_eq!(host.req("api-key").as_deref(), Some("sk-secret"));
        assert_eq!(host.req("x-azure-only").as_deref(), Some("secret-ish"));
        // Envoy hands the next attempt the same (edited) headers and a fresh body.
        host.request_body = original_body;
        host.request_headers
            .push(("x-envoy-attempt-count".into(), "2".into()));
        pick(&mut host, "cl");
        let (ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(ex.attempt, 2);
        assert_eq!(
            host.req("api-key"),
            None,
            "Azure's key must not reach Anthropic"
        );
        assert_eq!(host.req("x-azure-only"), None, "nor Azure's extra headers");
        assert_eq!(host.req("x-api-key").as_deref(), Some("sk-secret"));
        assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
        assert_eq!(host.request_json()["model"], "claude-3");
    }

    #[test]
    fn context_window_error_redirects_to_the_next_fallback() {
        let mut cfg = cluster(&[config(ProviderKind::Openai, "small-model")]);
        cfg.error_fallbacks = [(
            "g".to_string(),
            crate::plugin_config::ErrorFallbacks {
                context_window: vec!["big".into()],
                content_policy: vec![],
            },
        )]
        .into();
        let up = Upstream::new(&cfg, &env).unwrap();
        let too_long = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

        let respond =
            |host: &mut MockHost, ex: &mut UpstreamExchange, status: &str, body: &[u8]| {
                host.response_headers = vec![(":status".into(), status.into())];
                host.response_body = body.to_vec();
                ex.on_response_headers(&up, host, false);
                ex.on_response_body(&up, host, body.len(), true);
            };
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        respond(&mut host, &mut ex, "400", too_long);
        assert_eq!(host.resp(":status").as_deref(), Some("307"));
        assert_eq!(
            host.resp("location").as_deref(),
            Some("http://switchyard.internal/switchyard-fallback/context_window/0/g/v1/chat/completions")
        );
        assert!(host.response_body.is_empty());

        // A plain 400 is just an error.
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        respond(
            &mut host,
            &mut ex,
            "400",
            br#"{"error":{"message":"bad temperature"}}"#,
        );
        assert_eq!(host.resp(":status").as_deref(), Some("400"));

        // At the chain's end the provider's error reaches the client.
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let facts = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "x".into(),
            wildcard: None,
            error_fallback: Some(crate::router::ErrorFallbackStep {
                kind: crate::plugin_config::ErrorKind::ContextWindow,
                origin: "g".into(),
                step: 0,
            }),
            request_fallbacks: None,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        let (mut ex, _) = send(&up, &mut host);
        respond(&mut host, &mut ex, "400", too_long);
        assert_eq!(host.resp(":status").as_deref(), Some("400"));
        assert_eq!(
            host.resp("x-litellm-attempted-fallbacks").as_deref(),
            Some("1")
        );
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum context length"));
    }

    #[test]
    fn request_fallbacks_move_on_once_the_error_is_final() {
        let mut cfg = cluster(&[config(ProviderKind::Openai, "m")]);
        cfg.error_fallbacks = [(
            "g".to_string(),
            crate::plugin_config::ErrorFallbacks {
                context_window: vec!["big".into()],
                content_policy: vec![],
            },
        )]
        .into();
        let up = Upstream::new(&cfg, &env).unwrap();
        let too_long = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        let chain = |from_list: bool| crate::router::RequestFallbacks {
            len: 2,
            attempts: 3,
            from_list,
            retries: Default::default(),
        };
        // One attempt of a request with a chain: (step it is at, attempt) → location.
        let attempt = |fallbacks: crate::router::RequestFallbacks,
                       at: Option<u32>,
                       attempt: u32,
                       status: &str,
                       body: &[u8]| {
            let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
            host.request_headers
                .push((ATTEMPT_COUNT_HEADER.into(), attempt.to_string()));
            let facts = RouteFacts {
                endpoint: Endpoint::ChatCompletions,
                api: ClientApi::OpenAi,
                model: "x".into(),
                wildcard: None,
                error_fallback: at.map(|step| crate::router::ErrorFallbackStep {
                    kind: ErrorKind::Request,
                    origin: "g".into(),
                    step,
                }),
                request_fallbacks: Some(fallbacks),
            };
            host.properties
                .insert(ROUTE_PROPERTY.into(), facts.encode());
            let (mut ex, _) = send(&up, &mut host);
            host.response_headers = vec![(":status".into(), status.into())];
            host.response_body = body.to_vec();
            ex.on_response_headers(&up, &mut host, false);
            ex.on_response_body(&up, &mut host, body.len(), true);
            host.resp("location")
        };
        let to = |step: u32| {
            Some(format!(
                "http://switchyard.internal/switchyard-fallback/request/{step}/g/v1/chat/completions"
            ))
        };
        let boom = br#"{"error":{"message":"boom"}}"#;
        // A 500 or 429 Envoy retries on this group: on the group's last attempt only.
        for status in ["500", "429", "503"] {
            assert_eq!(
                attempt(chain(true), None, 1, status, boom),
                None,
                "{status}"
            );
            assert_eq!(
                attempt(chain(true), None, 3, status, boom),
                to(0),
                "{status}"
            );
        }
        // Statuses Envoy does not retry move on at once (LiteLLM falls back on them).
        for status in ["401", "403", "404", "422"] {
            assert_eq!(
                attempt(chain(true), None, 1, status, boom),
                to(0),
                "{status}"
            );
        }
        // A plain 400 is the request's fault: no fallback.
        assert_eq!(attempt(chain(true), None, 3, "400", boom), None);
        // Along the chain, to its end.
        assert_eq!(attempt(chain(true), Some(0), 3, "500", boom), to(1));
        assert_eq!(attempt(chain(true), Some(1), 3, "500", boom), None);
        // Context-window errors: the list covers them; with LiteLLM's mapping form the
        // config's own chain comes first.
        assert_eq!(attempt(chain(true), None, 1, "400", too_long), to(0));
        assert_eq!(
            attempt(chain(false), None, 1, "400", too_long).as_deref(),
            Some("http://switchyard.internal/switchyard-fallback/context_window/0/g/v1/chat/completions")
        );
        // Inside a config error chain the request's chain no longer applies.
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let facts = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "x".into(),
            wildcard: None,
            error_fallback: Some(crate::router::ErrorFallbackStep {
                kind: ErrorKind::ContextWindow,
                origin: "g".into(),
                step: 0,
            }),
            request_fallbacks: Some(chain(true)),
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "500".into())];
        host.response_body = boom.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        ex.on_response_body(&up, &mut host, boom.len(), true);
        assert_eq!(host.resp(":status").as_deref(), Some("500"));
    }

    /// Every key of `v`, at any depth.
    fn all_keys(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, inner) in map {
                    out.push(k.clone());
                    all_keys(inner, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| all_keys(i, out)),
            _ => {}
        }
    }

    #[test]
    fn litellm_fields_never_reach_any_provider() {
        // Every field of LiteLLM's list, on every provider's translation: none is in
        // the body that goes out, at any depth (Bedrock, for one, would otherwise
        // put unknown fields into `additionalModelRequestFields`).
        let mut body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
        for f in litellm_fields::LITELLM_ONLY_FIELDS {
            body[*f] = json!({"litellm": true});
        }
        body["_litellm_internal"] = json!(1);
        body["user_api_key_alias"] = json!("forged");
        let providers = [
            (ProviderKind::Openai, "gpt-4o"),
            (ProviderKind::Azure, "gpt-4o"),
            (ProviderKind::Anthropic, "claude-3-5-sonnet"),
            (ProviderKind::Mistral, "mistral-small"),
            (ProviderKind::Groq, "llama"),
            (ProviderKind::Gemini, "gemini-2.5-flash"),
            (ProviderKind::Cohere, "command-r"),
            (ProviderKind::Ollama, "llama3"),
            (ProviderKind::OllamaChat, "llama3"),
            (ProviderKind::Huggingface, "meta-llama/Llama-3"),
            (ProviderKind::HuggingfaceGenerate, "tgi"),
            (
                ProviderKind::Bedrock,
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ),
        ];
        for (provider, model) in providers {
            let mut cfg = config(provider, model);
            cfg.default_params = Map::new();
            if provider == ProviderKind::Azure {
                cfg.api_version = Some(Setting::Literal("2024-10-21".into()));
            }
            let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
            let mut host = request("chat_completions", body.clone());
            let (_, flow) = send(&up, &mut host);
            assert_eq!(flow, Flow::Continue, "{provider:?}: {:?}", host.local_reply);
            let mut keys = Vec::new();
            all_keys(&host.request_json(), &mut keys);
            let leaked: Vec<&String> = keys
                .iter()
                .filter(|k| litellm_fields::is_litellm_field(k))
                .collect();
            assert!(leaked.is_empty(), "{provider:?} sent {leaked:?}");
        }
        // Embeddings and text completions too.
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        for (endpoint, base) in [
            ("embeddings", json!({"model": "x", "input": "hi"})),
            ("completions", json!({"model": "x", "prompt": "hi"})),
        ] {
            let mut b = base;
            for f in litellm_fields::LITELLM_ONLY_FIELDS {
                b[*f] = json!(1);
            }
            let mut host = request(endpoint, b);
            send(&up, &mut host);
            let out = host.request_json();
            let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
            assert!(
                keys.iter().all(|k| !litellm_fields::is_litellm_field(k)),
                "{endpoint}: {keys:?}"
            );
        }
    }

    #[test]
    fn wildcard_model_is_substituted() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "*")]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "openai/gpt-4o-mini", "messages": []}),
        );
        let facts = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "openai/gpt-4o-mini".into(),
            wildcard: Some("gpt-4o-mini".into()),
            error_fallback: None,
            request_fallbacks: None,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        send(&up, &mut host);
        assert_eq!(host.request_json()["model"], "gpt-4o-mini");
    }

    /// A cost header's value, for a non-streamed answer `body` to a request for
    /// `model` (the wildcard's part `wildcard`).
    fn cost_of_answer(
        up: &Upstream,
        model: &str,
        wildcard: Option<&str>,
        body: &[u8],
    ) -> Option<f64> {
        let mut host = request("chat_completions", json!({"model": model, "messages": []}));
        let facts = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: model.into(),
            wildcard: wildcard.map(str::to_string),
            error_fallback: None,
            request_fallbacks: None,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        let (mut ex, _) = send(up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body = body.to_vec();
        ex.on_response_headers(up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(up, &mut host, n, true);
        host.resp("x-litellm-response-cost")
            .map(|c| c.parse().unwrap())
    }

    #[test]
    fn answers_are_priced_by_the_model_served() {
        let price = |input: f64, output: f64| Pricing {
            input_cost_per_token: input,
            output_cost_per_token: output,
            cache_read_input_token_cost: None,
            cache_creation_input_token_cost: None,
        };
        let table: BTreeMap<String, Pricing> = [
            ("gpt-4o".to_string(), price(2e-6, 1e-5)),
            ("gpt-4o-mini".to_string(), price(1e-7, 1e-6)),
        ]
        .into();
        let usage = br#"{"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":100}}"#;
        // A wildcard: the model asked for (a fine-tune of it, a dated snapshot).
        let mut wild = config(ProviderKind::Openai, "*");
        wild.pricing = None;
        wild.model_prices = table.clone();
        let up = Upstream::new(&cluster(&[wild]), &env).unwrap();
        let mini = cost_of_answer(&up, "openai/gpt-4o-mini", Some("gpt-4o-mini"), usage).unwrap();
        assert!(
            (mini - (1000.0 * 1e-7 + 100.0 * 1e-6)).abs() < 1e-12,
            "{mini}"
        );
        let ft = cost_of_answer(
            &up,
            "openai/ft:gpt-4o-mini:o::i",
            Some("ft:gpt-4o-mini:o::i"),
            usage,
        );
        assert_eq!(ft, Some(mini), "a fine-tune at its base model's price");
        let big = cost_of_answer(&up, "openai/gpt-4o", Some("gpt-4o"), usage).unwrap();
        assert!(
            (big - (1000.0 * 2e-6 + 100.0 * 1e-5)).abs() < 1e-12,
            "{big}"
        );
        // A model the table lacks, answering as one it lacks too: no price.
        let none =
            br#"{"model":"nope","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
        assert_eq!(
            cost_of_answer(&up, "openai/other", Some("other"), none),
            None
        );
        // An Azure deployment named freely: the model its answer names.
        let mut azure = config(ProviderKind::Azure, "my-deployment");
        azure.pricing = None;
        azure.model_prices = table;
        let up = Upstream::new(&cluster(&[azure]), &env).unwrap();
        assert_eq!(cost_of_answer(&up, "g", None, usage), Some(big));
    }

    #[test]
    fn an_answer_held_whole_and_cut_is_charged_by_its_size() {
        // Larger than Envoy's buffer (its 502), or cut by the provider: the bytes
        // received, or the content-length when larger, at 3 bytes a token.
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let queued = || spend::QUEUE.with(|q| q.borrow_mut().due(u64::MAX, usize::MAX));
        queued();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        host.properties.insert(
            KEY_PROPERTY.into(),
            KeyFacts {
                key_hash: "kh".into(),
                ..Default::default()
            }
            .encode(),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("content-length".into(), "3000".into()),
        ];
        ex.on_response_headers(&up, &mut host, false);
        host.response_body = vec![b'y'; 900];
        assert_eq!(ex.on_response_body(&up, &mut host, 900, false), Flow::Pause);
        ex.on_done(&up, &host);
        let due = queued();
        assert_eq!(due.len(), 1);
        let row: Value = serde_json::from_slice(&due[0].1).unwrap();
        assert_eq!(row["completion_tokens"], 1000, "content-length 3000 / 3");
        assert_eq!(
            row["prompt_tokens"], 5,
            "\"model\" \"x\" \"messages\": 14 bytes"
        );
        assert_eq!(row["metadata"]["switchyard_partial"], true);
        let spend = row["spend"].as_f64().unwrap();
        assert!(
            (spend - (5.0 * 1e-6 + 1000.0 * 2e-6)).abs() < 1e-12,
            "{spend}"
        );
    }

    #[test]
    fn unrouted_request_is_refused() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let mut host = MockHost::with_request(&[(":method", "POST")], b"{}");
        UpstreamExchange::default().on_request_headers(&up, &mut host, false);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    }

    #[test]
    fn openai_success_passes_through_and_is_tagged() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("content-length".into(), "5".into()),
        ];
        host.response_body = b"hello".to_vec();
        // Held until whole, so a reset midway is still retryable, then untouched.
        assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
        assert_eq!(ex.on_response_body(&up, &mut host, 2, false), Flow::Pause);
        assert_eq!(ex.on_response_body(&up, &mut host, 5, true), Flow::Continue);
        assert_eq!(host.response_body, b"hello");
        assert_eq!(
            host.resp("x-litellm-response-cost"),
            None,
            "no usage, no cost"
        );
        assert_eq!(host.resp("content-length").as_deref(), Some("5"));
        assert_eq!(host.resp("x-litellm-model-id").as_deref(), Some("dep-1"));
        assert_eq!(host.resp("x-litellm-model-group").as_deref(), Some("g"));
        assert_eq!(
            host.resp("x-litellm-model-api-base").as_deref(),
            Some("https://api.example.com:443/v1/")
        );
    }

    #[test]
    fn bodiless_provider_error_gets_an_openai_body() {
        let mut cfg = config(ProviderKind::Anthropic, "c");
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let (mut ex, _) = send(&up, &mut host);
        assert!(host.local_reply.is_none());
        host.response_headers = vec![(":status".into(), "529".into())];
        assert_eq!(ex.on_response_headers(&up, &mut host, true), Flow::Pause);
        let reply = host.local_reply.as_ref().expect("a local reply");
        assert_eq!(reply.status, 503, "Anthropic's 529 maps to 503");
        assert_eq!(reply.json()["error"]["type"], "service_unavailable_error");
    }

    #[test]
    fn non_streamed_answers_carry_their_cost() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body = br#"{"choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let usd: f64 = host
            .resp("x-litellm-response-cost")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (usd - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12,
            "{usd}"
        );
    }

    #[test]
    fn streams_ask_for_usage_and_hide_it_unless_asked() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let stream = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        for client_asked in [false, true] {
            let mut body = json!({"model": "x", "messages": [], "stream": true});
            if client_asked {
                body["stream_options"] = json!({"include_usage": true});
            }
            let mut host = request("chat_completions", body);
            let (mut ex, _) = send(&up, &mut host);
            assert_eq!(host.request_json()["stream_options"]["include_usage"], true);
            host.response_headers = vec![(":status".into(), "200".into())];
            assert_eq!(
                ex.on_response_headers(&up, &mut host, false),
                Flow::Continue
            );
            host.response_body = stream.to_vec();
            ex.on_response_body(&up, &mut host, stream.len(), true);
            let out = String::from_utf8(host.response_body.clone()).unwrap();
            assert_eq!(out.contains("\"usage\""), client_asked, "{out}");
            assert!(out.ends_with("data: [DONE]\n\n"));
            assert_eq!(ex.usage().map(|u| u.prompt_tokens), Some(9));
        }
    }

    /// Whether a keyed request with metadata and tags goes out without them.
    fn host_body_has_no_labels(up: &Upstream) -> bool {
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "tags": ["t"], "metadata": {"a": 1}}),
        );
        host.properties
            .insert(KEY_PROPERTY.into(), KeyFacts::default().encode());
        send(up, &mut host);
        let body = host.request_json();
        body.get("tags").is_none() && body.get("metadata").is_none()
    }

    #[test]
    fn azure_streams_lose_their_filter_annotations_and_keep_their_spend() {
        let mut cfg = config(ProviderKind::Azure, "gpt-4o-deploy");
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "stream": true}),
        );
        host.request_headers
            .push(("x-request-id".into(), "rid-azure".into()));
        host.properties.insert(
            KEY_PROPERTY.into(),
            KeyFacts {
                key_hash: "kh-azure".into(),
                admission: "adm-azure".into(),
                ..Default::default()
            }
            .encode(),
        );
        let (mut ex, _) = send(&up, &mut host);
        assert_eq!(host.request_json()["stream_options"]["include_usage"], true);
        host.response_headers = vec![(":status".into(), "200".into())];
        assert_eq!(
            ex.on_response_headers(&up, &mut host, false),
            Flow::Continue
        );
        let events = [
            r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#,
            r#"{"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
            r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi"},"finish_reason":null,"index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
            r#"{"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
            r#"{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":null,"content_filter_results":{},"content_filter_offsets":{"check_offset":2,"start_offset":0,"end_offset":2}}],"usage":null}"#,
            r#"{"choices":[],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}"#,
            "[DONE]",
        ];
        // One provider chunk per body callback, as Envoy passes them on.
        let mut out = String::new();
        for (i, data) in events.iter().enumerate() {
            host.response_body = format!("data: {data}\n\n").into_bytes();
            let n = host.response_body.len();
            ex.on_response_body(&up, &mut host, n, i + 1 == events.len());
            out.push_str(std::str::from_utf8(&host.response_body).unwrap());
        }
        assert_eq!(
            out.matches("data: ").count(),
            4,
            "role, content, finish, [DONE]: {out}"
        );
        assert!(!out.contains("\"object\":\"\""), "{out}");
        assert!(
            !out.contains("usage\":{"),
            "the client did not ask for usage: {out}"
        );
        let due = spend::QUEUE.with(|q| q.borrow_mut().due(u64::MAX, usize::MAX));
        let report: Value = serde_json::from_slice(&due.last().unwrap().1).unwrap();
        assert_eq!(report["request_id"], "adm-azure");
        assert_eq!(
            (
                report["prompt_tokens"].as_u64(),
                report["completion_tokens"].as_u64()
            ),
            (Some(1000), Some(500))
        );
        assert!((report["spend"].as_f64().unwrap() - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12);
    }

    #[test]
    fn answered_requests_queue_a_spend_report_when_keys_are_checked() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let run = |with_key: bool| {
            let mut host = request(
                "chat_completions",
                json!({"model": "x", "messages": [], "tags": ["batch"],
                       "metadata": {"spend_logs_metadata": {"job": 7}, "env": "ci"}}),
            );
            host.request_headers
                .push(("x-request-id".into(), format!("rid-{with_key}")));
            if with_key {
                let key = KeyFacts {
                    key_hash: "kh".into(),
                    admission: "adm-ok".into(),
                    ..Default::default()
                };
                host.properties.insert(KEY_PROPERTY.into(), key.encode());
            }
            let (mut ex, _) = send(&up, &mut host);
            host.response_headers = vec![(":status".into(), "200".into())];
            host.response_body =
                br#"{"usage":{"prompt_tokens":1000,"completion_tokens":500}}"#.to_vec();
            ex.on_response_headers(&up, &mut host, false);
            let n = host.response_body.len();
            ex.on_response_body(&up, &mut host, n, true);
        };
        let before = spend::QUEUE.with(|q| q.borrow().len());
        run(false);
        assert_eq!(
            spend::QUEUE.with(|q| q.borrow().len()),
            before,
            "no keys, no report"
        );
        run(true);
        let due = spend::QUEUE.with(|q| q.borrow_mut().due(u64::MAX, usize::MAX));
        let last: Value = serde_json::from_slice(&due.last().unwrap().1).unwrap();
        assert_eq!(
            last["request_id"], "adm-ok",
            "keyed on the admission, never on the client's x-request-id"
        );
        assert_eq!(last["api_key"], "kh");
        assert_eq!(last["prompt_tokens"], 1000);
        assert!((last["spend"].as_f64().unwrap() - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12);
        assert_eq!(last["status"], "success");
        assert_eq!(last["request_tags"], json!(["batch"]));
        assert_eq!(
            last["metadata"],
            json!({"spend_logs_metadata": {"job": 7}, "requester_metadata": {"env": "ci"},
                   "client_request_id": "rid-true"})
        );
        assert!(
            host_body_has_no_labels(&up),
            "the labels are recorded, never sent"
        );

        // A provider error is reported as a failure of that attempt (its slot is
        // held: the request may yet be retried or fall back).
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        host.request_headers
            .push(("x-request-id".into(), "rid-f".into()));
        host.properties.insert(
            KEY_PROPERTY.into(),
            KeyFacts {
                lease: "l9".into(),
                admission: "l9".into(),
                ..Default::default()
            }
            .encode(),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "500".into())];
        host.response_body = br#"{"error":{"message":"boom"}}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let due = spend::QUEUE.with(|q| q.borrow_mut().due(u64::MAX, usize::MAX));
        let failed: Value = serde_json::from_slice(&due.last().unwrap().1).unwrap();
        assert_eq!(
            (failed["status"].as_str(), failed["spend"].as_f64()),
            (Some("failure"), Some(0.0))
        );
        assert_eq!(failed["request_id"], "l9:attempt-1:failed");
        assert!(failed.get("lease_id").is_none());
    }

    #[test]
    fn an_attempt_that_ends_without_an_answer_is_reported() {
        // The client leaves a stream midway (or the provider's connection breaks, or
        // the attempt times out): no end of stream, no answer. When Envoy destroys
        // the attempt, it is reported as a failure, charged for what had begun; its
        // slot is freed by the downstream request's end (the responder stage), not here.
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let key = KeyFacts {
            key_hash: "kh".into(),
            lease: "l7".into(),
            admission: "l7".into(),
            ..Default::default()
        };
        let queued = || spend::QUEUE.with(|q| q.borrow_mut().due(u64::MAX, usize::MAX));
        queued();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "stream": true}),
        );
        host.request_headers
            .push(("x-request-id".into(), "rid-left".into()));
        host.properties.insert(KEY_PROPERTY.into(), key.encode());
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        ex.on_response_headers(&up, &mut host, false);
        host.response_body =
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n".to_vec();
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, false);
        assert!(
            queued().is_empty(),
            "nothing is reported while the stream runs"
        );
        ex.on_done(&up, &host);
        let due = queued();
        assert_eq!(due.len(), 1);
        let row: Value = serde_json::from_slice(&due[0].1).unwrap();
        // The answer had begun: charged what the provider produced, estimated
        // (issue 12 point 4). Prompt: the request's strings "model" "x" "messages"
        // "stream" = 20 bytes -> 7 tokens; output "Hi" -> 1 token.
        assert_eq!(row["status"], "failure");
        assert_eq!(
            (
                row["prompt_tokens"].as_u64(),
                row["completion_tokens"].as_u64()
            ),
            (Some(7), Some(1))
        );
        let spend = row["spend"].as_f64().unwrap();
        assert!((spend - (7.0 * 1e-6 + 2e-6)).abs() < 1e-12, "{spend}");
        assert_eq!(
            row["metadata"],
            json!({"switchyard_partial": true, "estimated": true,
                   "client_request_id": "rid-left"})
        );
        assert_eq!(row["request_id"], "l7:attempt-1:failed");
        ex.on_done(&up, &host);
        assert!(queued().is_empty(), "reported once");

        // Before any answer (no response headers: a reset, a timeout): no spend.
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "stream": true}),
        );
        host.properties.insert(KEY_PROPERTY.into(), key.encode());
        let (ex, _) = send(&up, &mut host);
        ex.on_done(&up, &host);
        let due = queued();
        let row: Value = serde_json::from_slice(&due[0].1).unwrap();
        assert_eq!(
            (row["status"].as_str(), row["spend"].as_f64()),
            (Some("failure"), Some(0.0))
        );
        assert_eq!(row["metadata"], Value::Null);

        // An attempt already reported (answered, or a provider error) is not
        // reported again when it ends.
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        host.properties.insert(KEY_PROPERTY.into(), key.encode());
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body = br#"{"usage":{"prompt_tokens":10,"completion_tokens":5}}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        ex.on_done(&up, &host);
        let due = queued();
        assert_eq!(due.len(), 1);
        let row: Value = serde_json::from_slice(&due[0].1).unwrap();
        assert_eq!(row["status"], "success");

        // Without keys nothing is reported, ever.
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (ex, _) = send(&up, &mut host);
        ex.on_done(&up, &host);
        assert!(queued().is_empty());
    }

    #[test]
    fn provider_errors_become_openai_errors() {
        let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "429".into())];
        host.response_body =
            br#"{"error":{"message":"slow down","type":"requests","param":null,"code":null}}"#
                .to_vec();
        assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
        assert_eq!(ex.on_response_body(&up, &mut host, 10, false), Flow::Pause);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(v["error"]["message"], "slow down");
        assert_eq!(v["error"]["code"], "429");
        assert_eq!(host.resp(":status").as_deref(), Some("429"));
    }

    #[test]
    fn clouds_get_their_table_quirks_and_names() {
        // Mistral: Bearer key, the body's parameters checked against LiteLLM's
        // table, max_completion_tokens/seed/tool_choice rewritten, no stream_options
        // asked (its streams carry usage unasked).
        let mut cfg = config(ProviderKind::Mistral, "mistral-small-latest");
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true,
                   "max_completion_tokens": 5, "seed": 1, "tool_choice": "required",
                   "tools": [{"type": "function", "function": {"name": "f"}}]}),
        );
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(host.req(":path").as_deref(), Some("/v1/chat/completions"));
        assert_eq!(
            host.req("authorization").as_deref(),
            Some("Bearer sk-secret")
        );
        let body = host.request_json();
        assert_eq!(body["model"], "mistral-small-latest");
        assert_eq!(
            (body["max_tokens"].clone(), body["random_seed"].clone()),
            (json!(5), json!(1))
        );
        assert_eq!(body["tool_choice"], "any");
        assert!(body.get("stream_options").is_none(), "{body}");

        // A parameter outside the table: a 400 naming it and the provider …
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "logit_bias": {"1": 2}}),
        );
        send(&up, &mut host);
        let reply = host.local_reply.as_ref().expect("a 400");
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"]["param"], "logit_bias");
        assert!(reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("mistral does not support parameters"));
        // … or dropped with drop_params.
        cfg.drop_params = true;
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "logit_bias": {"1": 2}}),
        );
        send(&up, &mut host);
        assert!(host.local_reply.is_none());
        assert!(host.request_json().get("logit_bias").is_none());

        // Groq takes OpenAI's whole set: untouched, usage asked for streams, and
        // the answer names the deployment.
        let up = Upstream::new(&cluster(&[config(ProviderKind::Groq, "llama")]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "logit_bias": {"1": 2}, "stream": true}),
        );
        send(&up, &mut host);
        let body = host.request_json();
        assert_eq!(body["logit_bias"], json!({"1": 2}));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));

        // Fireworks model ids get their account path at configure time.
        let mut fw = config(ProviderKind::FireworksAi, "llama-v3-8b");
        fw.default_params = Map::new();
        let up = Upstream::new(&cluster(&[fw]), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        send(&up, &mut host);
        assert_eq!(
            host.request_json()["model"],
            "accounts/fireworks/models/llama-v3-8b"
        );
    }

    #[test]
    fn ollama_chat_goes_native_and_comes_back_openai() {
        let mut cfg = config(ProviderKind::OllamaChat, "llama3.1");
        cfg.api_base = Setting::Literal("http://127.0.0.1:11434".into());
        cfg.api_key = None;
        cfg.default_params = json!({"num_ctx": 8192}).as_object().unwrap().clone();
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}),
        );
        let (mut ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(host.req(":path").as_deref(), Some("/api/chat"));
        assert_eq!(host.req("authorization"), None, "no key, no header");
        let body = host.request_json();
        assert_eq!(body["stream"], false, "Ollama streams unless told not to");
        assert_eq!(body["options"], json!({"num_ctx": 8192, "num_predict": 7}));
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body = br#"{"model":"llama3.1","created_at":"2024-07-22T20:33:28.123Z","message":{"role":"assistant","content":"Hello!"},"done_reason":"stop","done":true,"prompt_eval_count":26,"eval_count":2}"#.to_vec();
        assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Hello!");
        assert_eq!(v["usage"]["prompt_tokens"], 26);
        assert_eq!(ex.usage().map(|u| u.completion_tokens), Some(2));

        // Embeddings asked as base64 (the openai SDK's default) come back as base64.
        let mut host = request(
            "embeddings",
            json!({"model": "x", "input": ["a"], "encoding_format": "base64"}),
        );
        let (mut ex, _) = send(&up, &mut host);
        assert_eq!(host.req(":path").as_deref(), Some("/api/embed"));
        assert!(host.request_json().get("encoding_format").is_none());
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body =
            br#"{"model":"llama3.1","embeddings":[[0.5,0.25]],"prompt_eval_count":1}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert!(v["data"][0]["embedding"].is_string(), "{v}");

        // Ollama's error body keeps its message and status.
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "404".into())];
        host.response_body =
            br#"{"error":"model \"llama3.1\" not found, try pulling it first"}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(v["error"]["code"], "404");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found"));
    }

    #[test]
    fn gemini_goes_native_and_comes_back_openai() {
        let mut cfg = config(ProviderKind::Gemini, "gemini-2.5-flash");
        cfg.api_base = Setting::Literal("https://generativelanguage.googleapis.com".into());
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7,
                   "stream": true, "stream_options": {"include_usage": true}}),
        );
        let (mut ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(
            host.req(":path").as_deref(),
            Some("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        );
        assert_eq!(
            host.req(":authority").as_deref(),
            Some("generativelanguage.googleapis.com")
        );
        assert_eq!(host.req("x-goog-api-key").as_deref(), Some("sk-secret"));
        assert_eq!(host.req("authorization"), None, "the client's key is gone");
        let body = host.request_json();
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                   "generationConfig": {"maxOutputTokens": 7}})
        );
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "text/event-stream".into()),
        ];
        assert_eq!(
            ex.on_response_headers(&up, &mut host, false),
            Flow::Continue
        );
        host.response_body = b"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 3,\"candidatesTokenCount\": 1,\"totalTokenCount\": 4},\"responseId\": \"r1\"}\r\n\r\n".to_vec();
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let text = String::from_utf8(host.response_body.clone()).unwrap();
        assert!(text.contains("\"content\":\"Hello\""), "{text}");
        assert!(text.contains("\"prompt_tokens\":3"), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert_eq!(ex.usage().map(|u| u.completion_tokens), Some(1));

        // A base that names its version keeps it; embeddings go to batchEmbedContents.
        cfg.api_base = Setting::Literal("https://gateway.example/google/v1beta".into());
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request("embeddings", json!({"model": "x", "input": "a"}));
        send(&up, &mut host);
        assert_eq!(
            host.req(":path").as_deref(),
            Some("/google/v1beta/models/gemini-2.5-flash:batchEmbedContents")
        );

        // Google's error body keeps its message and status.
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "400".into())];
        host.response_body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(
            v["error"]["message"],
            "API key not valid. Please pass a valid API key."
        );
        assert_eq!(v["error"]["code"], "400");
    }

    fn vertex_config(model: &str) -> DeploymentConfig {
        let mut cfg = config(ProviderKind::VertexAi, model);
        cfg.api_base = Setting::Literal(
            "https://us-central1-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-central1"
                .into(),
        );
        cfg.api_key = None;
        cfg.default_params = Map::new();
        cfg.headers = BTreeMap::new();
        let sa = json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key": include_str!("testdata/google_test_key.pem"),
            "client_email": "gw@proj-1.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        cfg.google_auth = Some(crate::plugin_config::GoogleAuthConfig {
            credentials: Setting::Literal(sa.to_string()),
            token_cluster: "google_token_oauth2".into(),
        });
        cfg
    }

    #[test]
    fn vertex_requests_carry_the_shared_token_or_wait_for_it() {
        let mut claude = vertex_config("claude-sonnet-4@20250514");
        claude.deployment_id = "dep-2".into();
        let up =
            Upstream::new(&cluster(&[vertex_config("gemini-2.5-flash"), claude]), &env).unwrap();
        let accounts = up.google_accounts();
        assert_eq!(accounts.len(), 1, "one account, one token");
        assert_eq!(accounts[0].cluster, "google_token_oauth2");
        let key = accounts[0].key.clone();
        let pick = |host: &mut MockHost, id: &str| {
            host.properties
                .insert(HOST_DEPLOYMENT_PROPERTY.join("."), id.as_bytes().to_vec());
        };
        let body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});

        // No token yet: the request waits (the glue resumes it), nothing is sent.
        let mut host = request("chat_completions", body.clone());
        pick(&mut host, "dep-1");
        let (ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Pause);
        assert_eq!(ex.awaiting_token(), Some(key.as_str()));
        assert!(host.local_reply.is_none());
        assert_eq!(host.req("authorization"), None, "the client's key is gone");

        // A token in shared data: used as it is.
        let record = TokenRecord::default().completed(host.now, Ok(("ya29.tok".into(), 3600)));
        let mut host = request("chat_completions", body.clone());
        pick(&mut host, "dep-1");
        host.shared.insert(key.clone(), record.encode());
        let (ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(ex.awaiting_token(), None);
        assert_eq!(
            host.req("authorization").as_deref(),
            Some("Bearer ya29.tok")
        );
        assert_eq!(
            host.req(":authority").as_deref(),
            Some("us-central1-aiplatform.googleapis.com")
        );
        assert_eq!(
            host.req(":path").as_deref(),
            Some("/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent")
        );
        assert_eq!(
            host.request_json(),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        );

        // Claude on Vertex: rawPredict with the Anthropic body, no Anthropic headers.
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
        );
        pick(&mut host, "dep-2");
        host.shared.insert(key.clone(), record.encode());
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert_eq!(
            host.req(":path").as_deref(),
            Some("/v1/projects/proj-1/locations/us-central1/publishers/anthropic/models/claude-sonnet-4%4020250514:streamRawPredict")
        );
        assert_eq!(host.req("anthropic-version"), None);
        assert_eq!(host.req("x-api-key"), None);
        let sent = host.request_json();
        assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
        assert!(sent.get("model").is_none());

        // The token endpoint failed and nobody is fetching: a clear error at once.
        let failed = TokenRecord::default().completed(
            host.now,
            Err((
                401,
                "Could not get a Vertex AI access token: invalid_grant".into(),
            )),
        );
        let mut host = request("chat_completions", body);
        pick(&mut host, "dep-1");
        host.shared.insert(key, failed.encode());
        send(&up, &mut host);
        let reply = host.local_reply.as_ref().expect("an error");
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"]["type"], "authentication_error");
        assert!(reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"));

        // Bad credentials fail configuration, naming the field.
        let mut bad = vertex_config("gemini-2.5-flash");
        bad.google_auth.as_mut().unwrap().credentials = Setting::Literal("{}".into());
        let e = Upstream::new(&cluster(&[bad]), &env).unwrap_err();
        assert!(
            e.contains("google_auth.credentials") && e.contains("type"),
            "{e}"
        );
    }

    #[test]
    fn bedrock_attempts_are_signed_after_translation() {
        use crate::plugin_config::AwsSigning;
        let mut cfg = config(
            ProviderKind::Bedrock,
            "us.anthropic.claude-3-haiku-20240307-v1:0",
        );
        cfg.api_base = Setting::Literal("https://bedrock-runtime.us-east-1.amazonaws.com".into());
        cfg.api_key = None;
        cfg.headers = BTreeMap::new();
        cfg.default_params = Map::new();
        cfg.aws = Some(AwsSigning {
            region: "us-east-1".into(),
            access_key_id: Setting::Literal("AKIDEXAMPLE".into()),
            secret_access_key: Setting::Env { env: "KEY".into() },
            session_token: Some(Setting::Literal("session-token".into())),
        });
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}),
        );
        let (mut ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        let path = "/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse";
        assert_eq!(host.req(":path").as_deref(), Some(path));
        assert_eq!(
            host.req(":authority").as_deref(),
            Some("bedrock-runtime.us-east-1.amazonaws.com")
        );
        let body = host.request_body.clone();
        assert_eq!(
            host.request_json(),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 9}})
        );
        assert_eq!(host.req("content-length"), Some(body.len().to_string()));
        assert_eq!(host.req("x-amz-date").as_deref(), Some("20231114T221320Z"));
        assert_eq!(
            host.req("x-amz-security-token").as_deref(),
            Some("session-token")
        );
        // The signature is over the final path and body, at the host's time.
        let expected = crate::sigv4::sign(
            &crate::sigv4::Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "sk-secret".into(),
                session_token: Some("session-token".into()),
            },
            "us-east-1",
            "bedrock",
            host.now,
            "POST",
            "bedrock-runtime.us-east-1.amazonaws.com",
            path,
            Some("application/json"),
            &body,
        );
        assert_eq!(host.req("authorization"), Some(expected[2].1.clone()));
        assert!(up.clear_headers.contains(&"x-amz-date".to_string()));

        // The answer comes back OpenAI-shaped, its id from Bedrock's request id.
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("x-amzn-requestid".into(), "abc-123".into()),
        ];
        host.response_body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}"#.to_vec();
        assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(v["id"], "chatcmpl-abc-123");
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        assert_eq!(ex.usage().map(|u| u.prompt_tokens), Some(3));

        // Errors: the type is in x-amzn-errortype.
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![
            (":status".into(), "429".into()),
            (
                "x-amzn-errortype".into(),
                "ModelNotReadyException:http://internal.amazon.com/coral/com.amazon.bedrock/"
                    .into(),
            ),
        ];
        host.response_body = br#"{"message":"Model is getting ready"}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        assert_eq!(host.resp(":status").as_deref(), Some("503"));
        let v: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(v["error"]["message"], "Model is getting ready");

        // A Bedrock API key instead: Bearer, nothing signed.
        cfg.aws = None;
        cfg.api_key = Some(Setting::Literal("ABSKbedrockkey".into()));
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
        );
        send(&up, &mut host);
        assert_eq!(
            host.req("authorization").as_deref(),
            Some("Bearer ABSKbedrockkey")
        );
        assert_eq!(host.req("x-amz-date"), None);
        assert!(host.req(":path").unwrap().ends_with("/converse-stream"));
    }

    #[test]
    fn cohere_goes_to_v2_under_an_endpoint_base() {
        let mut cfg = config(ProviderKind::Cohere, "v2/command-a-03-2025");
        // LiteLLM's COHERE_API_BASE names the chat endpoint itself.
        cfg.api_base = Setting::Literal("https://api.cohere.com/v2/chat".into());
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
        );
        let (mut ex, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(host.req(":path").as_deref(), Some("/v2/chat"));
        assert_eq!(host.req(":authority").as_deref(), Some("api.cohere.com"));
        assert_eq!(
            host.req("authorization").as_deref(),
            Some("Bearer sk-secret")
        );
        let body = host.request_json();
        assert_eq!(
            body["model"], "command-a-03-2025",
            "the v2/ route prefix is not the model"
        );
        assert!(
            body.get("stream_options").is_none(),
            "Cohere streams end with usage unasked"
        );
        host.response_headers = vec![(":status".into(), "200".into())];
        assert_eq!(
            ex.on_response_headers(&up, &mut host, false),
            Flow::Continue
        );
        assert_eq!(
            host.resp("content-type").as_deref(),
            Some("text/event-stream")
        );

        let mut host = request("embeddings", json!({"model": "x", "input": "a"}));
        send(&up, &mut host);
        assert_eq!(host.req(":path").as_deref(), Some("/v2/embed"));
    }

    #[test]
    fn huggingface_paths_and_prompt_templates() {
        for (base, path) in [
            ("http://tgi:8080", "/v1/chat/completions"),
            ("https://router.huggingface.co/v1", "/v1/chat/completions"),
            (
                "https://e.endpoints.huggingface.cloud/v1/chat/completions",
                "/v1/chat/completions",
            ),
            (
                "https://router.huggingface.co/novita/v3/openai",
                "/novita/v3/openai/v1/chat/completions",
            ),
        ] {
            let mut cfg = config(ProviderKind::Huggingface, "tgi");
            cfg.api_base = Setting::Literal(base.into());
            cfg.default_params = Map::new();
            let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
            let mut host = request(
                "chat_completions",
                json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
            );
            send(&up, &mut host);
            assert_eq!(host.req(":path").as_deref(), Some(path), "{base}");
        }
        let mut cfg = config(ProviderKind::HuggingfaceGenerate, "m");
        cfg.api_base = Setting::Literal("http://tgi:8080/generate".into());
        cfg.default_params = Map::new();
        cfg.prompt_template = Some(crate::plugin_config::PromptTemplate {
            roles: [(
                "user".to_string(),
                crate::plugin_config::RoleTemplate {
                    pre_message: "[INST] ".into(),
                    post_message: " [/INST]".into(),
                },
            )]
            .into(),
            bos_token: "<s>".into(),
            ..Default::default()
        });
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
        );
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        assert_eq!(host.req(":path").as_deref(), Some("/generate_stream"));
        let body = host.request_json();
        assert_eq!(body["inputs"], "<s>[INST] hi [/INST]");
        assert!(body.get("stream_options").is_none() && body.get("stream").is_none());
    }

    #[test]
    fn unsupported_params_are_named_or_dropped() {
        let mut cfg = config(ProviderKind::Anthropic, "claude-3-5-sonnet");
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}),
        );
        send(&up, &mut host);
        let reply = host.local_reply.as_ref().expect("a 400");
        assert_eq!(reply.status, 400);
        let v = reply.json();
        assert_eq!(v["error"]["param"], "logit_bias");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drop_params"));

        cfg.drop_params = true;
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}),
        );
        send(&up, &mut host);
        assert!(host.local_reply.is_none());
        assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
        assert_eq!(host.req("x-api-key").as_deref(), Some("sk-secret"));
        assert_eq!(
            host.req("anthropic-version").as_deref(),
            Some(ANTHROPIC_VERSION)
        );
        assert!(host.request_json().get("logit_bias").is_none());
    }
}
