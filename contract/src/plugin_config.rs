//! The filter's plugin configuration: the JSON contract between `switchyard render`
//! and the filter.
//!
//! One filter binary runs in two stages. The **router** stage sits in the listener's
//! HTTP filter chain: it knows every model group and alias and picks the route. The
//! **upstream** stage sits in each model group's cluster (Envoy upstream HTTP
//! filters). That cluster's endpoints are the group's deployments (priority 0) and
//! its fallback groups' deployments (priorities 1…n); the upstream stage knows each
//! of them — provider, model id, credentials, default parameters — and on every
//! attempt translates for the one Envoy's load balancer picked, named by the
//! endpoint's metadata. Envoy hands each instance its JSON as the wasm plugin
//! `configuration`.
//!
//! Secrets never appear here: a value may be `{"env": "NAME"}`, which the filter reads
//! from the Envoy process environment (`vm_config.environment_variables.host_env_keys`)
//! when the plugin is configured. A missing variable fails configuration, naming it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use crate::metrics::MetricsConfig;
use crate::providers::ProviderKind;

/// The wasm VM id of the health-probe clusters' upstream stage (`GET /health`), which
/// `switchyard render` gives them and the filter reads (`plugin_vm_id`): a VM of its
/// own, apart from the listener's, which fetches what its probes need (a Google
/// token) only when a probe waits for it.
pub const PROBE_VM_ID: &str = "switchyard_probes";

/// The `configuration` of one filter instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // parsed once per plugin at configure time
pub enum PluginConfig {
    /// Listener stage: routing, `/models`, health, mock answers.
    Router(RouterConfig),
    /// Cluster stage: translation for the deployments of one route cluster.
    Upstream(UpstreamConfig),
    /// Listener stage after ext_authz: sends the answers the router stage deferred.
    Responder(ResponderConfig),
}

/// Configuration of the responder stage (nothing to configure yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderConfig {}

/// Configuration of the router stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Model groups (`model_name`s) in config order; a name may hold `*` wildcards.
    pub groups: Vec<GroupConfig>,
    /// `router_settings.model_group_alias`: alias → group name.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Aliases declared `{model: …, hidden: true}`: they resolve but are not listed in
    /// `/models`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hidden_aliases: BTreeSet<String>,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_request_body_bytes: usize,
    /// `context_window_fallbacks` / `content_policy_fallbacks` per model group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_fallbacks: BTreeMap<String, ErrorFallbacks>,
    /// Keys are checked (Envoy ext_authz) between this stage and the responder stage:
    /// every local answer but health waits for the check, kept in filter state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub defer_answers: bool,
    /// Where spend reports go (the keyservice), when keys are checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_reporting: Option<SpendReporting>,
    /// Every request goes to this group, whatever model it names (`switchyard up
    /// --model`: LiteLLM's command-line model serves every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_group: Option<String>,
    /// How Envoy retries within one model group (the routes' retry policy), for
    /// per-request `fallbacks`: the upstream stage moves to the client's next group
    /// only once Envoy will not retry the error on this one.
    #[serde(default, skip_serializing_if = "GroupRetries::is_default")]
    pub retries: GroupRetries,
    /// The logging callbacks (`litellm_settings.success_callback`, `failure_callback`,
    /// `callbacks`) every finished request is sent to, off the request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<CallbacksConfig>,
    /// What `GET /metrics` exports and who may read it
    /// (`litellm_settings.prometheus_metrics_config`, …).
    #[serde(default, skip_serializing_if = "MetricsConfig::is_default")]
    pub metrics: MetricsConfig,
    /// `/model/info`, `/model_group/info` and `/health`, precomputed by
    /// `switchyard render` (secrets removed).
    #[serde(default, skip_serializing_if = "ModelInfoConfig::is_empty")]
    pub info: ModelInfoConfig,
}

/// The logging callbacks of the router stage: where each finished request is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbacksConfig {
    /// One per configured callback, in config order.
    pub sinks: Vec<CallbackSink>,
    /// Message content (request messages, answer text) goes to the callbacks:
    /// LiteLLM's `turn_off_message_logging` is not true.
    pub message_logging: bool,
}

/// The callbacks Switchyard implements, under LiteLLM's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// `langfuse`: a trace and a generation per request, Langfuse's batch ingestion
    /// API (`POST /api/public/ingestion`).
    Langfuse,
    /// `langfuse_otel`: OTLP/HTTP JSON spans to Langfuse's OTLP endpoint
    /// (`/api/public/otel/v1/traces`).
    LangfuseOtel,
    /// `otel`: OTLP/HTTP JSON spans with the GenAI semantic conventions.
    Otel,
    /// `generic_api`: LiteLLM's generic logger, a JSON array of logging payloads.
    GenericApi,
}

impl CallbackKind {
    /// LiteLLM's name of the callback.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Langfuse => "langfuse",
            CallbackKind::LangfuseOtel => "langfuse_otel",
            CallbackKind::Otel => "otel",
            CallbackKind::GenericApi => "generic_api",
        }
    }

    /// Every callback Switchyard implements.
    pub const ALL: [CallbackKind; 4] = [
        CallbackKind::Langfuse,
        CallbackKind::LangfuseOtel,
        CallbackKind::Otel,
        CallbackKind::GenericApi,
    ];

    /// The callback LiteLLM calls `name`, if Switchyard implements it.
    pub fn parse(name: &str) -> Option<CallbackKind> {
        CallbackKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One callback: what it sends, when, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSink {
    /// Which callback.
    pub kind: CallbackKind,
    /// Called for requests that succeeded (`success_callback` or `callbacks`).
    pub on_success: bool,
    /// Called for requests that failed (`failure_callback` or `callbacks`).
    pub on_failure: bool,
    /// The collector's Envoy cluster.
    pub cluster: String,
    /// The callout's `:authority` (the collector's host, and port when not the
    /// scheme's).
    pub authority: String,
    /// The callout's `:path`.
    pub path: String,
    /// HTTP basic credentials (Langfuse: public key, secret key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Extra headers in LiteLLM's `key1=value1,key2=value2` form (`OTEL_HEADERS`,
    /// `GENERIC_LOGGER_HEADERS`): usually from the environment, as they may hold
    /// credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Setting>,
}

/// HTTP basic credentials, from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user (Langfuse's public key).
    pub user: Setting,
    /// The password (Langfuse's secret key).
    pub password: Setting,
}

/// Parses LiteLLM's `key1=value1,key2=value2` header list (`OTEL_HEADERS`,
/// `GENERIC_LOGGER_HEADERS`; LiteLLM's `OpenTelemetry._get_headers_dictionary` and
/// `GenericAPILogger._get_headers`): pairs split at the first `=`, names and values
/// trimmed. An item without `=` or with an empty name is an error naming it.
pub fn parse_header_list(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("header item {:?} has no '='", item.trim()))?;
            let name = name.trim();
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                return Err(format!(
                    "header name {name:?} is not a valid HTTP header name"
                ));
            }
            let value = value.trim();
            if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(format!(
                    "the value of header {name:?} has control characters"
                ));
            }
            Ok((name.to_ascii_lowercase(), value.to_string()))
        })
        .collect()
}

/// What the router stage answers on LiteLLM's info and health endpoints, built once
/// at configure time. Every JSON value here is already free of secrets (LiteLLM's
/// `remove_sensitive_info_from_deployment`, see `switchyard::plan::model_info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfoConfig {
    /// `GET /model/info`'s `data`: one object per deployment (`model_name`,
    /// `litellm_params`, `model_info`), in `model_list` order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<Value>,
    /// `GET /model_group/info`'s `data`: one object per model group (`model_group`,
    /// `providers`, …), in config order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Value>,
    /// What `GET /health` checks: one probe per deployment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<HealthProbe>,
}

impl ModelInfoConfig {
    /// Nothing configured (an empty `model_list`).
    pub fn is_empty(&self) -> bool {
        self.deployments.is_empty() && self.groups.is_empty() && self.probes.is_empty()
    }
}

/// One deployment `GET /health` checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthProbe {
    /// The deployment's id (`model_info.id`), sent in
    /// [`crate::headers::HEALTH_PROBE_HEADER`].
    pub deployment_id: String,
    /// The Envoy cluster that reaches this deployment alone, through the upstream
    /// stage; absent for a deployment answered by the gateway itself (a
    /// `mock_response` deployment), which is healthy without a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The model group, sent as the probe's `model`.
    pub model: String,
    /// Milliseconds the probe may take before the deployment counts as unhealthy
    /// (LiteLLM's `model_info.health_check_timeout`, else
    /// `HEALTH_CHECK_TIMEOUT_SECONDS`, else 60 s).
    pub timeout_ms: u64,
    /// `model_info.mode`: `embedding` probes `/v1/embeddings`, `completion`
    /// `/v1/completions`, anything else `/v1/chat/completions` (LiteLLM's
    /// `ahealth_check` mode handlers).
    pub mode: String,
    /// The entry of `healthy_endpoints` / `unhealthy_endpoints` (LiteLLM's
    /// `_clean_endpoint_data`: the displayed `litellm_params` and `model_id`).
    pub endpoint: Value,
}

/// The routes' retry policy as far as per-request fallbacks need it (LiteLLM's
/// `num_retries` and `retry_policy`, see `switchyard::render::routes::retry_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRetries {
    /// Retries on one group before its fallbacks (`num_retries`).
    pub num_retries: u32,
    /// Envoy retries 5xx answers.
    pub server_errors: bool,
    /// Envoy retries 429 answers.
    pub rate_limited: bool,
    /// Further statuses Envoy retries (401, 400 from `retry_policy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<u16>,
}

impl Default for GroupRetries {
    /// LiteLLM's defaults: 2 retries, on server errors and rate limits.
    fn default() -> Self {
        GroupRetries {
            num_retries: 2,
            server_errors: true,
            rate_limited: true,
            statuses: Vec::new(),
        }
    }
}

impl GroupRetries {
    fn is_default(&self) -> bool {
        *self == GroupRetries::default()
    }

    /// Whether Envoy retries an answer with `status` (while attempts are left).
    pub fn retries_status(&self, status: u16) -> bool {
        (self.server_errors && (500..600).contains(&status))
            || (self.rate_limited && status == 429)
            || self.statuses.contains(&status)
    }
}

/// The keyservice's `POST /spend/record`, as the router stage's root context sends
/// the worker's queued spend reports to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendReporting {
    /// The keyservice's Envoy cluster.
    pub cluster: String,
    /// The master key the keyservice wants on reports (`Authorization: Bearer`):
    /// `{"env": NAME}` — the variable the config named, or `LITELLM_MASTER_KEY` — or
    /// the key itself when the config has it written out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Setting>,
}

/// Where a group's request goes when a provider rejects it for one specific reason
/// (LiteLLM's `context_window_fallbacks`, `content_policy_fallbacks`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorFallbacks {
    /// Groups tried in order when the prompt is too long for the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_window: Vec<String>,
    /// Groups tried in order when the provider's content policy refuses the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_policy: Vec<String>,
}

impl ErrorFallbacks {
    /// The chain for `kind` (the config has none for the client's own chain).
    pub fn chain(&self, kind: ErrorKind) -> &[String] {
        match kind {
            ErrorKind::ContextWindow => &self.context_window,
            ErrorKind::ContentPolicy => &self.content_policy,
            ErrorKind::Request => &[],
        }
    }
}

/// A fallback chain an error moves along: a provider error that has fallbacks of
/// its own, or the client's per-request `fallbacks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The prompt does not fit the model's context window.
    ContextWindow,
    /// The provider's content policy refused the request.
    ContentPolicy,
    /// The request's own `fallbacks` (its body names the chain).
    Request,
}

impl ErrorKind {
    /// The name used in redirect paths.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ContextWindow => "context_window",
            ErrorKind::ContentPolicy => "content_policy",
            ErrorKind::Request => "request",
        }
    }

    /// Inverse of [`ErrorKind::as_str`].
    pub fn parse(s: &str) -> Option<ErrorKind> {
        match s {
            "context_window" => Some(ErrorKind::ContextWindow),
            "content_policy" => Some(ErrorKind::ContentPolicy),
            "request" => Some(ErrorKind::Request),
            _ => None,
        }
    }
}

/// One model group as the router stage sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The `model_name` clients ask for (or a wildcard pattern such as `openai/*`).
    pub name: String,
    /// The value routes match on in the `x-switchyard-group` header.
    pub route_key: String,
    /// When set, the group answers locally with this text (`litellm_params.mock_response`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_response: Option<String>,
    /// Endpoints the group serves, from `model_info.mode`; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
}

/// A configuration value given literally or read from the Envoy process environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// Read from this environment variable at configure time.
    Env {
        /// The variable's name.
        env: String,
    },
    /// The value itself.
    Literal(String),
}

impl Setting {
    /// Resolves the value with `lookup` (the environment), naming a missing variable.
    pub fn resolve(
        &self,
        field: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        match self {
            Setting::Literal(v) => Ok(v.clone()),
            // An empty value counts as missing: it would send an empty credential.
            Setting::Env { env } => lookup(env).filter(|v| !v.is_empty()).ok_or_else(|| {
                format!(
                    "{field}: environment variable {env} is not set (or empty) in the Envoy process (os.environ/{env})"
                )
            }),
        }
    }
}

/// Configuration of the upstream stage for one route cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The model group whose route this cluster serves.
    pub group: String,
    /// Every deployment an endpoint of the cluster may be, primary group first.
    pub deployments: Vec<DeploymentConfig>,
    /// Headers any deployment of the whole config sets (extra headers): removed at
    /// the start of each attempt, as an earlier attempt — or an earlier cluster,
    /// before an error fallback — may have set them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clear_headers: Vec<String>,
    /// The error fallbacks of every group (see [`RouterConfig::error_fallbacks`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_fallbacks: BTreeMap<String, ErrorFallbacks>,
    /// Virtual keys are checked (ext_authz): read who the request was admitted for
    /// and queue spend reports. Off, the stage skips both.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keys: bool,
    /// The debug mode (`switchyard up --debug`, `litellm_settings.set_verbose`): log
    /// each attempt as LiteLLM's debug output does, credentials masked, and the
    /// provider's status (see `debug_log`). Off, nothing is logged or kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub debug: bool,
}

/// Endpoint metadata (`filter_metadata.switchyard.deployment`) naming the deployment
/// an endpoint is; the upstream stage reads it for the host Envoy picked.
pub const ENDPOINT_METADATA_NAMESPACE: &str = "switchyard";
/// The key under [`ENDPOINT_METADATA_NAMESPACE`].
pub const ENDPOINT_METADATA_KEY: &str = "deployment";

/// One deployment as the upstream stage translates for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// `model_info.id`, or the stable hash LiteLLM computes.
    pub deployment_id: String,
    /// The model group (`model_name`) this deployment serves.
    pub group: String,
    /// How requests are translated.
    pub provider: ProviderKind,
    /// The provider's model id (`litellm_params.model` without the provider prefix).
    /// A `*` in it is replaced by the part of the requested model that matched the
    /// group's wildcard.
    pub model: String,
    /// `api_base`: scheme, host and optional path prefix (`https://host/v1`).
    pub api_base: Setting,
    /// `api_key`, sent the provider's way (`Authorization: Bearer`, `api-key`, `x-api-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Setting>,
    /// `api_version` (Azure's `api-version` query parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<Setting>,
    /// `extra_headers` / `headers`, added to every upstream request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Other `litellm_params` (`temperature`, `max_tokens`, …): request defaults the
    /// client may override.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub default_params: Map<String, Value>,
    /// `drop_params`: silently drop parameters the provider does not accept.
    #[serde(default)]
    pub drop_params: bool,
    /// 0 for the route's own group, `n` for its `n`-th fallback group
    /// (`x-litellm-attempted-fallbacks`).
    #[serde(default)]
    pub fallback_index: u32,
    /// Prices per token (USD), resolved at render time; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Prices of the models the deployment may serve, by provider model id, when
    /// `pricing` cannot name them at configure time: a wildcard deployment
    /// (`openai/*`) serves the requested model, and an unpriced deployment's answer
    /// may name a priced model (Azure's `model`). Precomputed by `switchyard render`
    /// from the price table (the provider's entries the model pattern matches);
    /// looked up per request under [`crate::prices::price_names`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_prices: BTreeMap<String, Pricing>,
    /// LiteLLM's custom prompt template (`litellm_params.initial_prompt_value`,
    /// `roles`, `final_prompt_value`, `bos_token`, `eos_token`), for deployments that
    /// take a raw prompt (`huggingface/` text-generation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<PromptTemplate>,
    /// Bedrock: sign requests with AWS SigV4 (`aws_*` litellm_params, else the
    /// standard AWS variables). Absent for every other provider, and for a Bedrock
    /// deployment that authenticates with a Bedrock API key (`api_key`, sent as
    /// `Authorization: Bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSigning>,
    /// Vertex AI: the service account whose OAuth access tokens authenticate the
    /// requests (`Authorization: Bearer`), instead of an `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_auth: Option<GoogleAuthConfig>,
    /// An Envoy cluster that reaches this deployment alone (the route cluster
    /// balances over the whole group), for the calls the filter makes itself: a
    /// Bedrock Titan embedding request with a list `input` is answered by one call
    /// per input. Set by `switchyard render` for the deployments that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_cluster: Option<String>,
    /// Milliseconds a stream from this deployment may stay silent between two
    /// chunks once it began (LiteLLM's `stream_timeout`: the deployment's own, else
    /// the router's, else its `timeout`). The upstream stage cuts a stream silent for
    /// longer with an error event (`switchyard_filter::deadline`); absent, only Envoy's route
    /// idle timeout applies (a reset, no event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout_ms: Option<u64>,
    /// Client headers of `billing_headers::BILLING_HEADERS` (lowercase) this
    /// deployment lets through to the provider; every other one is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_client_headers: Vec<String>,
}

/// LiteLLM's custom prompt template (its `custom_prompt` function's arguments); every
/// string defaults to empty, as in LiteLLM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// Text the prompt starts with (after `bos_token`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_prompt_value: String,
    /// Per message role (`system`, `user`, `assistant`, … as the messages name them):
    /// the text put before and after each message's content.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, RoleTemplate>,
    /// Text the prompt ends with.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub final_prompt_value: String,
    /// Put at the start, and again before a `system` (or `human`) message that follows
    /// an assistant message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bos_token: String,
    /// Put after each assistant message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub eos_token: String,
}

/// One role's part of a [`PromptTemplate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleTemplate {
    /// Before the message's content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pre_message: String,
    /// After the message's content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub post_message: String,
}

/// How a Bedrock deployment signs its requests (SigV4, service `bedrock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSigning {
    /// The region requests are signed for and sent to (`aws_region_name`, the
    /// model ARN's region, `AWS_REGION_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// else LiteLLM's `us-west-2`), resolved when the config is rendered.
    pub region: String,
    /// `aws_access_key_id` (else `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Setting,
    /// `aws_secret_access_key` (else `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Setting,
    /// `aws_session_token` (else `AWS_SESSION_TOKEN`): temporary (STS) credentials,
    /// sent and signed as `x-amz-security-token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Setting>,
}

/// A Google service account the filter gets OAuth access tokens for (see
/// `google_auth`): it signs a JWT with the account's key and exchanges it at the
/// account's `token_uri`, through an Envoy cluster of that host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleAuthConfig {
    /// The service account key file's JSON (`"type": "service_account"`), given
    /// literally or as `{"env": NAME}`: a variable of the Envoy process holding it.
    pub credentials: Setting,
    /// The Envoy cluster that reaches the account's `token_uri` host.
    pub token_cluster: String,
}

/// A deployment's prices, in LiteLLM's field names (USD per token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// Uncached prompt tokens.
    pub input_cost_per_token: f64,
    /// Completion tokens.
    pub output_cost_per_token: f64,
    /// Prompt tokens read from the provider's cache (else the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// Prompt tokens written to the provider's cache (else the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_kinds_are_litellms_names() {
        for kind in CallbackKind::ALL {
            assert_eq!(CallbackKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(CallbackKind::parse("datadog"), None);
        let unknown = r#"{"sinks":[],"message_logging":true,"extra":1}"#;
        assert!(serde_json::from_str::<CallbacksConfig>(unknown).is_err());
    }

    #[test]
    fn header_lists_parse_as_litellm_splits_them() {
        assert_eq!(
            parse_header_list("Authorization=Bearer a=b, x-team = t1 ,,").unwrap(),
            [
                ("authorization".to_string(), "Bearer a=b".to_string()),
                ("x-team".to_string(), "t1".to_string())
            ]
        );
        assert_eq!(parse_header_list("").unwrap(), []);
        for bad in [
            "novalue",
            "=v",
            "bad name=v",
            ":path=/x",
            "x=a\nb",
            "x=\u{7f}",
        ] {
            assert!(parse_header_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trip_both_stages() {
        let router = PluginConfig::Router(RouterConfig {
            groups: vec![GroupConfig {
                name: "gpt-4o".into(),
                route_key: "gpt-4o".into(),
                mock_response: None,
                endpoints: vec![],
            }],
            aliases: [("gpt-4".to_string(), "gpt-4o".to_string())].into(),
            hidden_aliases: BTreeSet::new(),
            max_request_body_bytes: 1 << 20,
            error_fallbacks: BTreeMap::new(),
            defer_answers: false,
            spend_reporting: None,
            forced_group: None,
            retries: Default::default(),
            callbacks: Some(CallbacksConfig {
                sinks: vec![CallbackSink {
                    kind: CallbackKind::Langfuse,
                    on_success: true,
                    on_failure: false,
                    cluster: "callback_langfuse".into(),
                    authority: "cloud.langfuse.com".into(),
                    path: "/api/public/ingestion".into(),
                    basic_auth: Some(BasicAuth {
                        user: Setting::Env {
                            env: "LANGFUSE_PUBLIC_KEY".into(),
                        },
                        password: Setting::Env {
                            env: "LANGFUSE_SECRET_KEY".into(),
                        },
                    }),
                    headers: None,
                }],
                message_logging: true,
            }),
            metrics: Default::default(),
            info: Default::default(),
        });
        let text = serde_json::to_string(&router).unwrap();
        assert!(text.contains(r#""kind":"langfuse""#), "{text}");
        assert!(
            text.contains(r#""user":{"env":"LANGFUSE_PUBLIC_KEY"}"#),
            "{text}"
        );
        assert!(text.contains("\"stage\":\"router\""));
        assert_eq!(serde_json::from_str::<PluginConfig>(&text).unwrap(), router);

        let up = PluginConfig::Upstream(UpstreamConfig {
            group: "gpt-4o".into(),
            deployments: vec![DeploymentConfig {
                deployment_id: "d1".into(),
                group: "gpt-4o".into(),
                provider: ProviderKind::Azure,
                model: "my-deployment".into(),
                api_base: Setting::Literal("https://x.openai.azure.com".into()),
                api_key: Some(Setting::Env {
                    env: "AZURE_API_KEY".into(),
                }),
                api_version: Some(Setting::Literal("2024-06-01".into())),
                headers: BTreeMap::new(),
                default_params: Map::new(),
                drop_params: false,
                fallback_index: 0,
                pricing: None,
                model_prices: BTreeMap::new(),
                prompt_template: None,
                aws: None,
                google_auth: None,
                direct_cluster: None,
                stream_timeout_ms: Some(2_000),
                forward_client_headers: Vec::new(),
            }],
            clear_headers: vec![],
            error_fallbacks: BTreeMap::new(),
            keys: true,
            debug: false,
        });
        let text = serde_json::to_string(&up).unwrap();
        assert!(text.contains("{\"env\":\"AZURE_API_KEY\"}"));
        assert_eq!(serde_json::from_str::<PluginConfig>(&text).unwrap(), up);
    }

    #[test]
    fn missing_env_is_named() {
        let s = Setting::Env {
            env: "NOPE_KEY".into(),
        };
        let err = s.resolve("api_key", &|_| None).unwrap_err();
        assert!(err.contains("NOPE_KEY") && err.contains("api_key"), "{err}");
        assert_eq!(s.resolve("api_key", &|_| Some("v".into())).unwrap(), "v");
        assert!(
            s.resolve("api_key", &|_| Some(String::new())).is_err(),
            "empty is missing"
        );
    }

    #[test]
    fn typo_in_router_config_is_rejected() {
        let bad = r#"{"stage":"router","groups":[],"max_request_body_bytes":1,"aliasses":{}}"#;
        assert!(serde_json::from_str::<PluginConfig>(bad).is_err());
    }
}
