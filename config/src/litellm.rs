//! The LiteLLM proxy `config.yaml`: its serde model, loading and validation.
//!
//! Switchyard promises LiteLLM users that their `config.yaml` keeps working, so this
//! module reads the file the way LiteLLM does and is loud about everything it does not
//! (yet) act on: a key LiteLLM knows but Switchyard ignores becomes a [`Warning`],
//! never a silent no-op and never a crash. A key LiteLLM would not know at the top level
//! (a typo) is an error.
//!
//! Loading happens in steps, each with its own kind of error message:
//!
//! 1. YAML syntax, reported as `file:line:col: message`;
//! 2. top-level keys, with a "did you mean" hint;
//! 3. the typed parse (serde), reported with the YAML path and `file:line:col`;
//! 4. [`Config::validate`]: rules serde cannot express, reported as
//!    `file: model_list[2].litellm_params.model: expected …`;
//! 5. `os.environ/NAME` resolution for the settings the CLI itself resolves
//!    ([`Config::resolve_env`]).
//!
//! `os.environ/NAME` in a deployment's `api_key`, `api_base` and `api_version` is *not*
//! resolved here: those become [`switchyard_contract::plugin_config::Setting::Env`] so the
//! filter reads them inside Envoy and secrets never reach a rendered file (see
//! `plan.rs`, which also resolves the other `litellm_params` values).

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_yaml::{Mapping, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::includes;

/// How the environment is read: `lookup("NAME")` is the variable's value, if set.
/// Injected so that tests (and `render` on a build machine) control it.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The prefix LiteLLM uses for "read this value from the environment".
pub const ENV_PREFIX: &str = "os.environ/";

/// The top-level keys of a LiteLLM `config.yaml`.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "model_list",
    "litellm_settings",
    "router_settings",
    "general_settings",
    "environment_variables",
    "credential_list",
];

/// The other top-level sections LiteLLM 1.108.14 reads (`ProxyConfig.load_config` and
/// what it calls, `proxy/proxy_server.py`): accepted, warned about, not applied.
pub const UNAPPLIED_SECTIONS: &[&str] = &[
    "callback_settings",
    "guardrails",
    "prompts",
    "mcp_servers",
    "mcp_tools",
    "agents",
    "agent_list",
    "vector_store_registry",
    "worker_registry",
    "policies",
    "policy_attachments",
    "search_tools",
    "sandbox_tools",
    "finetune_settings",
    "files_settings",
    "default_vertex_config",
    "assistant_settings",
];

/// The values `router_settings.routing_strategy` may take in LiteLLM 1.108.14
/// (`VALID_ROUTING_STRATEGIES`, `router_utils/routing_groups.py`).
pub const ROUTING_STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
    "provider-budget-routing",
    "lar1",
];

/// The variable name in an `os.environ/NAME` value, or `None` for a literal value.
pub fn env_ref(value: &str) -> Option<&str> {
    value.strip_prefix(ENV_PREFIX)
}

/// Whether `name` matches `pattern`, where `*` in the pattern matches any run of
/// characters (LiteLLM's wildcard `model_name`s: `*`, `openai/*`, `fo::*:static::*`).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------------
// Errors and warnings
// ---------------------------------------------------------------------------------

/// A configuration error: names the file, where in it (YAML path, and line:column
/// when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file's name as given on the command line (`config.yaml`).
    pub file: String,
    /// 1-based line and column, when the YAML parser knows them.
    pub line_col: Option<(usize, usize)>,
    /// YAML path of the offending value (`model_list[2].litellm_params.model`); empty
    /// when the error is about the whole file or the path is already in `message`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about the value at `path` in `file`.
    pub fn at(file: &str, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            line_col: None,
            path: path.into(),
            message: message.into(),
        }
    }

    /// Turns a serde_yaml error into a `file:line:col: path: message` error.
    /// `keep_location` is false when the YAML was regenerated (merge keys), so the
    /// parser's line numbers would not match the user's file.
    pub(crate) fn from_yaml(
        file: &str,
        error: &serde_yaml::Error,
        keep_location: bool,
    ) -> ConfigError {
        let mut message = error.to_string();
        let line_col = error.location().map(|l| (l.line(), l.column()));
        if let Some((line, col)) = line_col {
            let suffix = format!(" at line {line} column {col}");
            if let Some(pos) = message.find(&suffix) {
                message.replace_range(pos..pos + suffix.len(), "");
            }
        }
        ConfigError {
            file: file.to_string(),
            line_col: if keep_location { line_col } else { None },
            path: String::new(),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Something in the config that Switchyard accepts but does not act on (yet), or acts
/// on differently from LiteLLM. Shown as `warning: path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// YAML path of the value concerned (`general_settings.alerting`).
    pub path: String,
    /// What Switchyard does with it.
    pub message: String,
}

impl Warning {
    /// A warning about the value at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `model_info` keys with a meaning in LiteLLM that Switchyard does not apply yet;
/// every other unmodelled `model_info` key is metadata (accepted, kept, no warning).
const MODEL_INFO_NOT_APPLIED: &[(&str, &str)] = &[
    (
        "supported_environments",
        "deployments are not filtered by LITELLM_ENVIRONMENT yet (LiteLLM serves this one only in the listed environments); served everywhere",
    ),
    (
        "input_cost_per_second",
        "prices per second are not applied yet; the deployment's spend is priced per token (or 0)",
    ),
    (
        "output_cost_per_second",
        "prices per second are not applied yet; the deployment's spend is priced per token (or 0)",
    ),
];

/// The usual message for a setting that is known but not implemented.
const NOT_SUPPORTED: &str = "not applied by Switchyard yet; ignored";

// ---------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------

/// A LiteLLM proxy `config.yaml`. (Top-level keys are checked before the typed parse,
/// see `check_top_level_keys`: LiteLLM's other sections are warned about and skipped
/// here.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `model_list`: the deployments. Entries that share a `model_name` form one
    /// load-balanced model group.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub model_list: Vec<ModelEntry>,
    /// `litellm_settings`: module-level settings of the LiteLLM library.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub litellm_settings: LitellmSettings,
    /// `router_settings`: LiteLLM's router (load balancing, retries, aliases).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub router_settings: RouterSettings,
    /// `general_settings`: the proxy server (auth, database, limits).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub general_settings: GeneralSettings,
    /// `environment_variables`: variables LiteLLM writes into its environment at load.
    /// Switchyard uses them as values for variables that are not set (the real
    /// environment wins, as with LiteLLM's `get_secret(key, default_value=value)`).
    /// After [`load`], `os.environ/` values in here are resolved.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment_variables: IndexMap<String, Value>,
    /// `credential_list`: named credential sets a deployment references with
    /// `litellm_params.litellm_credential_name`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credential_list: Vec<Credential>,
    /// The name of the file the config was read from, for messages. Not part of the YAML.
    #[serde(skip)]
    pub file_name: String,
}

/// One `model_list` entry: one deployment of a model group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// `model_name`: the name clients ask for; may hold `*` wildcards (`openai/*`).
    pub model_name: String,
    /// `litellm_params`: how to reach the deployment, and default request parameters.
    pub litellm_params: LitellmParams,
    /// `model_info`: the deployment's id and metadata.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub model_info: ModelInfo,
    /// Other keys of the entry (LiteLLM allows extras); reported as warnings.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `litellm_params` of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LitellmParams {
    /// `model`: `provider/provider-model-id` (`azure/my-deployment`,
    /// `openai/nvidia/llama-3.2-nv-embedqa-1b-v2`), or a bare well-known name (`gpt-4o`).
    pub model: String,
    /// `custom_llm_provider`: the provider, when `model` carries no prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_llm_provider: Option<String>,
    /// `api_base`: the provider's base URL (`https://x.openai.azure.com`, `http://vllm:8000/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// `api_key`; usually `os.environ/NAME`, read by the filter inside Envoy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `api_version`: Azure's `api-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `timeout`: seconds for a whole (non-streamed) call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// `stream_timeout`: seconds for a streamed call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout: Option<f64>,
    /// `max_retries`: retries of a failed call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// `extra_headers`: headers added to every request to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<IndexMap<String, String>>,
    /// `headers`: older spelling of `extra_headers` (both are merged; `headers` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<IndexMap<String, String>>,
    /// `organization`: the OpenAI organization (`OpenAI-Organization` header), or a
    /// list of them: one deployment per organization (see [`Organization`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// `rpm`: requests per minute; a load-balancing weight under simple-shuffle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// `tpm`: tokens per minute; a load-balancing weight under simple-shuffle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// `weight`: the load-balancing weight (wins over `rpm` and `tpm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// `order`: priority for order-based fallback within a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// `max_parallel_requests`: concurrency limit of this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u64>,
    /// `tags`: tags for tag-based routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `input_cost_per_token`: custom price of a prompt token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// `output_cost_per_token`: custom price of a completion token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// `mock_response`: answer every call with this text, without calling a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_response: Option<String>,
    /// `aws_access_key_id` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// `aws_secret_access_key` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<String>,
    /// `aws_session_token` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_session_token: Option<String>,
    /// `aws_region_name` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region_name: Option<String>,
    /// `aws_bedrock_runtime_endpoint`: a custom Bedrock endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_bedrock_runtime_endpoint: Option<String>,
    /// `vertex_project` (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_project: Option<String>,
    /// `vertex_location` (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_location: Option<String>,
    /// `vertex_credentials`: a service-account file path or JSON (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_credentials: Option<Value>,
    /// `initial_prompt_value`: prompt template start (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_prompt_value: Option<String>,
    /// `roles`: prompt template per role (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Value>,
    /// `final_prompt_value`: prompt template end (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_prompt_value: Option<String>,
    /// `bos_token`: prompt template beginning-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token: Option<String>,
    /// `eos_token`: prompt template end-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token: Option<String>,
    /// `litellm_credential_name`: take `api_key`/`api_base`/`api_version` from this
    /// `credential_list` entry (values set here win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litellm_credential_name: Option<String>,
    /// `drop_params`: drop request parameters the provider does not accept
    /// (overrides `litellm_settings.drop_params`). Any of LiteLLM's flag forms.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub drop_params: Option<bool>,
    /// Every other key, in YAML order: default request parameters (`temperature`,
    /// `max_tokens`, `seed`, …) or LiteLLM parameters Switchyard reports as ignored.
    #[serde(flatten)]
    pub params: IndexMap<String, Value>,
    /// The mapping exactly as written (key order, YAML scalars), for LiteLLM's
    /// deployment-id hash. Filled by [`parse_str`]; not serialized, never compared.
    #[serde(skip)]
    pub source: SourceMapping,
}

/// `litellm_params.organization`: one OpenAI organization, or several. For a list,
/// LiteLLM 1.108.14 creates one deployment per organization (`Router.set_model_list`,
/// router.py: "Addresses https://github.com/BerriAI/litellm/issues/3949"), all with
/// the entry's id; `plan::compile` does the same, except that each gets its own id
/// (`<entry id>-<organization>`), because the gateway tells deployments apart by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Organization {
    /// `organization: org-1`
    One(String),
    /// `organization: [org-1, org-2]`
    Many(Vec<String>),
}

impl Organization {
    /// Every organization named.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        match self {
            Organization::One(org) => std::slice::from_ref(org).iter(),
            Organization::Many(orgs) => orgs.iter(),
        }
    }
}

/// A `litellm_params` mapping as written in the file. Equality ignores it: where a
/// value came from does not change what the config means.
#[derive(Debug, Clone, Default)]
pub struct SourceMapping(pub Option<Mapping>);

impl PartialEq for SourceMapping {
    fn eq(&self, _: &SourceMapping) -> bool {
        true
    }
}

/// `model_info` of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `id`: the deployment id (default: LiteLLM's hash of `model_name` and `litellm_params`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `mode`: `chat`, `completion`, `embedding`, `image_generation`, … — which
    /// endpoints the deployment serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `base_model`: the model to price by (Azure deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// `max_tokens`: informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// `max_input_tokens`: informational (context window checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// `max_output_tokens`: informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// `input_cost_per_token`: custom price of a prompt token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// `output_cost_per_token`: custom price of a completion token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// `access_groups`: key access groups allowed to use this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_groups: Option<Vec<String>>,
    /// `forward_client_headers` (Switchyard's; LiteLLM keeps `model_info` as
    /// metadata): client headers that choose what the operator's account is billed
    /// for (`OpenAI-Organization`, `OpenAI-Project`, `x-goog-user-project`, …, see
    /// `switchyard_contract::billing_headers`) that this deployment lets through to its
    /// provider. Every other such header is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_client_headers: Option<Vec<String>>,
    /// Other metadata (`supports_vision`, `description`, …), kept as written.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `fallbacks`-style lists: `[{"gpt-4": ["gpt-4o", "claude"]}]`.
pub type FallbackList = Vec<IndexMap<String, Vec<String>>>;

/// `litellm_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LitellmSettings {
    /// `drop_params`: drop request parameters a provider does not accept. Any of
    /// LiteLLM's flag forms.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub drop_params: Option<bool>,
    /// `num_retries`: retries per call (router default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    /// `request_timeout`: seconds per call (`router_settings.timeout` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<f64>,
    /// `fallbacks`: model groups to try when a group fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<FallbackList>,
    /// `context_window_fallbacks`: groups to try when the context window is exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window_fallbacks: Option<FallbackList>,
    /// `content_policy_fallbacks`: groups to try on a content-policy refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_policy_fallbacks: Option<FallbackList>,
    /// `default_fallbacks`: groups to try for any failing group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_fallbacks: Option<Vec<String>>,
    /// `allowed_fails`: failures per minute before a deployment cools down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_fails: Option<u32>,
    /// `cache`: the response cache: `true`, or the older map form LiteLLM's docs
    /// still show (`cache: {type: redis}`). Not applied (warned); any form is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Value>,
    /// `cache_params`: cache type (`local`, `redis`, …), host, port, password, ttl, ….
    /// Not applied (warned), so its `os.environ/` values are not resolved either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_params: Option<Value>,
    /// `success_callback`: logging integrations called on success (`["langfuse"]`).
    /// Not applied (warned); a list or a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_callback: Option<Value>,
    /// `failure_callback`: logging integrations called on failure. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<Value>,
    /// `callbacks`: integrations called on both (`["otel"]`), or a Python object path
    /// (`custom_callbacks.proxy_handler_instance`). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<Value>,
    /// `turn_off_message_logging`: keep message content out of logging integrations.
    /// Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_off_message_logging: Option<Value>,
    /// `model_group_settings`: per-group proxy behaviour; only
    /// `forward_client_headers_to_llm_api` is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_group_settings: Option<ModelGroupSettings>,
    /// `max_budget`: global budget in USD (LiteLLM: `float(value)`). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<Value>,
    /// `budget_duration`: when the global budget resets (`30d`). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<Value>,
    /// `set_verbose`: LiteLLM debug logging; `true` turns on Switchyard's debug mode
    /// (each provider request logged, credentials masked: `Plan::debug_requests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_verbose: Option<bool>,
    /// `json_logs`: LiteLLM logs as JSON. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_logs: Option<Value>,
    /// Every other key (LiteLLM has hundreds), reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// A `router_settings.model_group_alias` value: a group name, or
/// `{model: group, hidden: true}` to keep the alias out of `/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AliasTarget {
    /// `gpt-4: gpt-4o`
    Group(String),
    /// `gpt-4: {model: gpt-4o, hidden: true}`
    Detailed(AliasDetail),
}

/// The long form of an alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasDetail {
    /// The model group the alias points at.
    pub model: String,
    /// Keep the alias out of `/models`.
    #[serde(default)]
    pub hidden: bool,
}

impl AliasTarget {
    /// The model group the alias points at.
    pub fn group(&self) -> &str {
        match self {
            AliasTarget::Group(g) => g,
            AliasTarget::Detailed(d) => &d.model,
        }
    }

    /// Whether the alias is hidden from `/models`.
    pub fn hidden(&self) -> bool {
        matches!(self, AliasTarget::Detailed(d) if d.hidden)
    }
}

/// `router_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterSettings {
    /// `routing_strategy`: `simple-shuffle` (default), `least-busy`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy: Option<String>,
    /// `routing_strategy_args`: parameters of the strategy. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy_args: Option<Value>,
    /// `num_retries`: retries per call (wins over `litellm_settings.num_retries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    /// `timeout`: seconds per call (wins over `litellm_settings.request_timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// `stream_timeout`: seconds per streamed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout: Option<f64>,
    /// `retry_policy`: retries per error class (`RateLimitErrorRetries: 3`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<IndexMap<String, u32>>,
    /// `allowed_fails`: failures per minute before a deployment cools down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_fails: Option<u32>,
    /// `cooldown_time`: seconds a failing deployment sits out (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_time: Option<f64>,
    /// `fallbacks`: model groups to try when a group fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<FallbackList>,
    /// `context_window_fallbacks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window_fallbacks: Option<FallbackList>,
    /// `content_policy_fallbacks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_policy_fallbacks: Option<FallbackList>,
    /// `default_fallbacks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_fallbacks: Option<Vec<String>>,
    /// `model_group_alias`: alias → model group (`{"gpt-4": "gpt-4o"}`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub model_group_alias: IndexMap<String, AliasTarget>,
    /// `redis_host`: shared router state. Not applied (warned), so an `os.environ/`
    /// value is not resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_host: Option<Value>,
    /// `redis_port` (a number or a string). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_port: Option<Value>,
    /// `redis_password`. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<Value>,
    /// `enable_pre_call_checks`: filter deployments by context window before calling.
    /// Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_pre_call_checks: Option<Value>,
    /// Every other key, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `litellm_settings.model_group_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelGroupSettings {
    /// `forward_client_headers_to_llm_api: [group, …]`: as
    /// `general_settings.forward_client_headers_to_llm_api`, for these model groups
    /// only (the client's `x-*` billing headers reach their deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_client_headers_to_llm_api: Option<Vec<String>>,
    /// Every other key, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `general_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneralSettings {
    /// `master_key`: the admin key. Resolved from `os.environ/` by [`load`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<String>,
    /// The variable `master_key` named (`os.environ/NAME`), kept by [`load`] when it
    /// resolves the value: the filter reads the key from the same variable, so a
    /// rendered config never holds a key the user kept out of the file.
    #[serde(skip)]
    pub master_key_env: Option<String>,
    /// `database_url`: PostgreSQL for keys and spend. Resolved from `os.environ/` by [`load`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `store_model_in_db`: models added through the API are kept in the database.
    /// Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_model_in_db: Option<Value>,
    /// `disable_spend_logs`: keep no per-request spend rows. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_spend_logs: Option<Value>,
    /// `proxy_batch_write_at`: seconds between spend writes (default 10). Not applied
    /// (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_batch_write_at: Option<Value>,
    /// `max_request_size_mb`: largest request body accepted, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_size_mb: Option<f64>,
    /// `allow_requests_on_db_unavailable`: keep serving when the database is down.
    /// Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_requests_on_db_unavailable: Option<Value>,
    /// `background_health_checks`: probe deployments periodically. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_health_checks: Option<Value>,
    /// `health_check_interval`: seconds between background probes. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_interval: Option<Value>,
    /// `alerting`: alert channels (`["slack"]`). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<Value>,
    /// `forward_openai_org_id`: a client's `OpenAI-Organization` header goes on to
    /// the provider (LiteLLM: as the call's `organization`). Off by default.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub forward_openai_org_id: Option<bool>,
    /// `forward_client_headers_to_llm_api`: LiteLLM then forwards the client's `x-*`
    /// headers; here, the `x-*` billing headers (`x-goog-user-project`, the Vertex
    /// and Bedrock tier headers, …) go on to every deployment. Off by default.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub forward_client_headers_to_llm_api: Option<bool>,
    /// Every other key, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// One `credential_list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// `credential_name`: what `litellm_params.litellm_credential_name` refers to.
    pub credential_name: String,
    /// `credential_values`: `api_key`, `api_base`, `api_version`, ….
    #[serde(default, deserialize_with = "null_as_default")]
    pub credential_values: IndexMap<String, Value>,
    /// `credential_info`: free-form description.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub credential_info: IndexMap<String, Value>,
    /// Other keys, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// Reads an absent or `null` value (`litellm_settings:` with everything commented out)
/// as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A flag the way LiteLLM reads `drop_params` (`drop_params_flag` in
/// `litellm_core_utils/core_helpers.py`: pydantic's lax booleans): `true`/`false`,
/// `1`/`0`, and the strings `yes`/`no`, `on`/`off`, `y`/`n`, `t`/`f`, `true`/`false`,
/// `1`/`0` in any case. LiteLLM takes anything else as off with a warning; here it is
/// an error naming the value.
fn litellm_flag<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    let flag = match &value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        Some(_) => None,
    };
    flag.map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "drop_params: expected a flag (true/false, yes/no, on/off, 1/0), got {}",
            value.as_ref().map(py_repr).unwrap_or_default()
        ))
    })
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What Python's `str()` prints for a YAML scalar (LiteLLM reads the YAML with
/// PyYAML and often stringifies values): `True`, `None`, `300`, `0.7`, `1e-06`.
/// Lists and mappings print as Python's `repr` would (approximately: non-ASCII and
/// control characters are not escaped the way Python does).
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                py_float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => py_repr_str(s),
        Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Mapping(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Tagged(tagged) => py_repr(&tagged.value),
    }
}

fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(float)`: the shortest round-tripping digits, fixed notation for
/// decimal exponents in [-4, 16), else scientific with a signed two-digit exponent.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest round-tripping digits: "-1.2345e-7", "3e2".
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!(
                "{sign}{digits}{}.0",
                "0".repeat(point as usize - digits.len())
            )
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

// ---------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------

/// Reads, parses, validates and resolves `path`. The warnings are the config-level
/// ones (unsupported settings); `plan::compile` adds the deployment-level ones.
/// Files named by `include` are merged in first (see [`crate::includes`]).
pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<(Config, Vec<Warning>), ConfigError> {
    let file_name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(&file_name, "", format!("cannot read the file: {e}")))?;
    let raw: Value =
        serde_yaml::from_str(&text).map_err(|e| ConfigError::from_yaml(&file_name, &e, true))?;
    match raw {
        Value::Mapping(root) if includes::has_includes(&root) => {
            let (merged, mut warnings) = includes::resolve(root, path)?;
            let regenerated = serde_yaml::to_string(&merged).map_err(|e| {
                ConfigError::at(
                    &file_name,
                    "",
                    format!("cannot merge the included files: {e}"),
                )
            })?;
            let (config, more) = parse_text(&regenerated, &file_name, env, false)?;
            warnings.extend(more);
            Ok((config, warnings))
        }
        _ => parse_text(&text, &file_name, env, true),
    }
}

/// Parses, validates and resolves a config given as text; `file_name` names it in
/// messages.
pub fn parse_str(
    text: &str,
    file_name: &str,
    env: EnvLookup<'_>,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    parse_text(text, file_name, env, true)
}

/// [`parse_str`]; `located` is false for text Switchyard generated (merged `include`
/// files), whose line numbers would not point into the user's file.
fn parse_text(
    text: &str,
    file_name: &str,
    env: EnvLookup<'_>,
    located: bool,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    // 1. Syntax: any YAML error here carries the line and column.
    let mut raw: Value =
        serde_yaml::from_str(text).map_err(|e| ConfigError::from_yaml(file_name, &e, located))?;
    let mut warnings = Vec::new();
    match &raw {
        Value::Null => {}
        Value::Mapping(map) => {
            warnings = check_top_level_keys(map, located.then_some(text), file_name)?
        }
        _ => {
            return Err(ConfigError {
                file: file_name.to_string(),
                line_col: Some((1, 1)),
                path: String::new(),
                message: format!(
                    "expected a mapping with the keys {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            })
        }
    }

    // 2. Typed parse. YAML merge keys (`<<: *defaults`) are applied the way PyYAML
    //    does; then the parse runs on regenerated YAML and line numbers are dropped.
    let mut config: Config = if has_merge_keys(&raw) {
        apply_merge_keys(&mut raw);
        let regenerated = serde_yaml::to_string(&raw).map_err(|e| {
            ConfigError::at(file_name, "", format!("cannot apply YAML merge keys: {e}"))
        })?;
        serde_yaml::from_str(&regenerated)
            .map_err(|e| ConfigError::from_yaml(file_name, &e, false))?
    } else {
        serde_yaml::from_str(text).map_err(|e| ConfigError::from_yaml(file_name, &e, located))?
    };
    config.file_name = file_name.to_string();

    // Keep each entry's litellm_params as written, for the deployment-id hash.
    if let Some(Value::Sequence(entries)) = raw.get("model_list") {
        for (entry, raw_entry) in config.model_list.iter_mut().zip(entries) {
            if let Some(Value::Mapping(params)) = raw_entry.get("litellm_params") {
                entry.litellm_params.source = SourceMapping(Some(params.clone()));
            }
        }
    }

    // 3. Rules, then 4. the environment.
    warnings.extend(config.validate()?);
    warnings.extend(config.resolve_env(env)?);
    Ok((config, warnings))
}

/// Checks the top-level keys: Switchyard's sections pass, the other sections LiteLLM
/// reads are warned about (not applied), anything else is an error with a hint.
/// LiteLLM itself ignores an unknown top-level key without a word, so a misspelt
/// `router_setings` would silently drop the router settings; Switchyard refuses it.
/// `text` (for the line of the offending key) is `None` for generated text.
fn check_top_level_keys(
    map: &Mapping,
    text: Option<&str>,
    file: &str,
) -> Result<Vec<Warning>, ConfigError> {
    let mut warnings = Vec::new();
    for key in map.keys() {
        let Some(key) = key.as_str() else {
            return Err(ConfigError::at(
                file,
                "",
                format!("top-level key {} is not a string", py_repr(key)),
            ));
        };
        if TOP_LEVEL_KEYS.contains(&key) {
            continue;
        }
        if UNAPPLIED_SECTIONS.contains(&key) {
            warnings.push(Warning::new(
                key,
                "a LiteLLM section Switchyard does not apply yet; ignored",
            ));
            continue;
        }
        if key == includes::INCLUDE_KEY {
            return Err(ConfigError::at(
                file,
                key,
                "`include` needs the config to be read from a file (switchyard check --config FILE)",
            ));
        }
        let hint = misplaced_key_hint(key)
            .map(|section| format!("; `{key}` belongs under `{section}`"))
            .or_else(|| {
                closest(key, TOP_LEVEL_KEYS).map(|known| format!("; did you mean `{known}`?"))
            })
            .unwrap_or_else(|| format!("; expected one of: {}", TOP_LEVEL_KEYS.join(", ")));
        return Err(ConfigError {
            file: file.to_string(),
            line_col: text
                .and_then(|text| top_level_line(text, key))
                .map(|line| (line, 1)),
            path: String::new(),
            message: format!("unknown top-level key `{key}`{hint}"),
        });
    }
    Ok(warnings)
}

/// Where settings people put at the top level by mistake belong.
fn misplaced_key_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "master_key"
        | "database_url"
        | "alerting"
        | "max_request_size_mb"
        | "store_model_in_db" => "general_settings",
        "drop_params" | "success_callback" | "failure_callback" | "callbacks" | "cache"
        | "cache_params" | "request_timeout" | "set_verbose" => "litellm_settings",
        "routing_strategy" | "model_group_alias" | "num_retries" | "redis_host" | "fallbacks" => {
            "router_settings"
        }
        _ => return None,
    })
}

/// The 1-based line where `key:` starts at column 0, if any.
fn top_level_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| line.strip_prefix(&format!("'{key}'")));
            matches!(rest, Some(r) if r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The known name closest to `name` (edit distance at most 3), for "did you mean".
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_merge_key(key: &Value) -> bool {
    key.as_str() == Some("<<")
}

fn has_merge_keys(value: &Value) -> bool {
    match value {
        Value::Mapping(map) => map
            .iter()
            .any(|(k, v)| is_merge_key(k) || has_merge_keys(v)),
        Value::Sequence(items) => items.iter().any(has_merge_keys),
        Value::Tagged(t) => has_merge_keys(&t.value),
        _ => false,
    }
}

/// Applies `<<` merge keys as PyYAML does: merged keys come first (earlier sources
/// win), then the mapping's own keys, which override merged values in place.
fn apply_merge_keys(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            for (_, v) in map.iter_mut() {
                apply_merge_keys(v);
            }
            let Some(sources) = map.remove("<<") else {
                return;
            };
            let sources = match sources {
                Value::Sequence(items) => items,
                other => vec![other],
            };
            let mut merged = Mapping::new();
            for source in sources {
                if let Value::Mapping(source) = source {
                    for (k, v) in source {
                        if !merged.contains_key(&k) {
                            merged.insert(k, v);
                        }
                    }
                }
            }
            for (k, v) in std::mem::take(map) {
                merged.insert(k, v); // an existing key keeps its position
            }
            *map = merged;
        }
        Value::Sequence(items) => items.iter_mut().for_each(apply_merge_keys),
        Value::Tagged(t) => apply_merge_keys(&mut t.value),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------

impl Config {
    /// Checks the rules serde cannot express and returns the config-level warnings:
    /// every setting Switchyard knows but does not act on yet.
    pub fn validate(&self) -> Result<Vec<Warning>, ConfigError> {
        let mut warnings = Vec::new();
        self.validate_model_list(&mut warnings)?;
        self.validate_credentials(&mut warnings)?;
        self.litellm_settings
            .validate(&self.file_name, &mut warnings)?;
        self.router_settings
            .validate(&self.file_name, &self.model_list, &mut warnings)?;
        self.general_settings
            .validate(&self.file_name, &mut warnings)?;
        self.validate_environment_variables(&mut warnings)?;
        Ok(warnings)
    }

    fn validate_model_list(&self, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
        let file = self.file_name.as_str();
        if self.model_list.is_empty() {
            warnings.push(Warning::new(
                "model_list",
                "no models are configured; every LLM call will be answered 400 (unknown model)",
            ));
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, entry) in self.model_list.iter().enumerate() {
            let p = format!("model_list[{i}]");
            if entry.model_name.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.model_name"),
                    "must not be empty",
                ));
            }
            for key in entry.other.keys() {
                warnings.push(Warning::new(
                    format!("{p}.{key}"),
                    "unknown key in a model_list entry; ignored",
                ));
            }
            // model_info is metadata, kept as written, except for these, which change
            // what LiteLLM serves or charges.
            for (key, message) in MODEL_INFO_NOT_APPLIED {
                if entry.model_info.other.contains_key(*key) {
                    warnings.push(Warning::new(format!("{p}.model_info.{key}"), *message));
                }
            }
            entry
                .litellm_params
                .validate(file, &p, &self.credential_list)?;
            if let Some(id) = &entry.model_info.id {
                if id.trim().is_empty() {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.model_info.id"),
                        "must not be empty",
                    ));
                }
                if let Some(first) = ids.insert(id, i) {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.model_info.id"),
                        format!("deployment id {id:?} is already used by model_list[{first}]"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_credentials(&self, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
        let file = self.file_name.as_str();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, cred) in self.credential_list.iter().enumerate() {
            let p = format!("credential_list[{i}]");
            if cred.credential_name.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.credential_name"),
                    "must not be empty",
                ));
            }
            if let Some(first) = names.insert(&cred.credential_name, i) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.credential_name"),
                    format!(
                        "{:?} is already the name of credential_list[{first}]",
                        cred.credential_name
                    ),
                ));
            }
            for key in cred.other.keys() {
                warnings.push(Warning::new(
                    format!("{p}.{key}"),
                    "unknown key in a credential_list entry; ignored",
                ));
            }
            for (key, value) in &cred.credential_values {
                if !matches!(key.as_str(), "api_key" | "api_base" | "api_version") {
                    warnings.push(Warning::new(
                        format!("{p}.credential_values.{key}"),
                        NOT_SUPPORTED,
                    ));
                    continue;
                }
                match value {
                    Value::String(s) => {
                        check_env_name(file, &format!("{p}.credential_values.{key}"), s)?
                    }
                    Value::Number(_) => {}
                    _ => {
                        return Err(ConfigError::at(
                            file,
                            format!("{p}.credential_values.{key}"),
                            "expected a string",
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_environment_variables(
        &self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        for (name, value) in &self.environment_variables {
            let p = format!("environment_variables.{name}");
            match value {
                Value::Null => warnings.push(Warning::new(p, "has no value; ignored")),
                Value::String(s) => check_env_name(&self.file_name, &p, s)?,
                Value::Bool(_) | Value::Number(_) => {}
                _ => {
                    return Err(ConfigError::at(
                        &self.file_name,
                        p,
                        "expected a string, a number or a boolean",
                    ))
                }
            }
        }
        Ok(())
    }

    /// The credential named `name`, if any.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.credential_list
            .iter()
            .find(|c| c.credential_name == name)
    }

    /// The value `environment_variables` gives `name`, as LiteLLM would put it in the
    /// environment (`str(value)`).
    pub fn env_default(&self, name: &str) -> Option<String> {
        match self.environment_variables.get(name)? {
            Value::Null => None,
            value => Some(py_str(value)),
        }
    }

    /// Every `environment_variables` value, stringified (see [`Config::env_default`]).
    pub fn env_defaults(&self) -> std::collections::BTreeMap<String, String> {
        self.environment_variables
            .keys()
            .filter_map(|k| Some((k.clone(), self.env_default(k)?)))
            .collect()
    }

    /// Resolves `os.environ/NAME` in the settings the CLI resolves itself:
    /// `environment_variables` values (from `env` only), then `general_settings`
    /// `master_key` and `database_url` (from `env`, falling back to
    /// `environment_variables`). A missing variable is an error naming it and the
    /// field. Settings Switchyard does not apply (`cache_params`, `redis_*`, callback
    /// settings, …) are left unresolved, so a variable nothing will use cannot fail the
    /// load.
    pub fn resolve_env(&mut self, env: EnvLookup<'_>) -> Result<Vec<Warning>, ConfigError> {
        let file = self.file_name.clone();
        let warnings = Vec::new();
        for (name, value) in self.environment_variables.iter_mut() {
            if let Value::String(s) = value {
                *s = resolve_string(&file, &format!("environment_variables.{name}"), s, env)?;
            }
        }
        let defaults = self.env_defaults();
        let lookup = |name: &str| env(name).or_else(|| defaults.get(name).cloned());

        let general = &mut self.general_settings;
        general.master_key_env = general
            .master_key
            .as_deref()
            .and_then(env_ref)
            .map(str::to_string);
        resolve_opt(
            &file,
            "general_settings.master_key",
            &mut general.master_key,
            &lookup,
        )?;
        resolve_opt(
            &file,
            "general_settings.database_url",
            &mut general.database_url,
            &lookup,
        )?;
        Ok(warnings)
    }
}

/// Resolves one `os.environ/NAME` string (a literal is returned as is).
pub fn resolve_string(
    file: &str,
    path: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match env_ref(value) {
        None => Ok(value.to_string()),
        Some(name) => {
            check_env_name(file, path, value)?;
            lookup(name).ok_or_else(|| {
                ConfigError::at(
                    file,
                    path,
                    format!("environment variable {name} is not set ({ENV_PREFIX}{name})"),
                )
            })
        }
    }
}

fn resolve_opt(
    file: &str,
    path: &str,
    value: &mut Option<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = value {
        *v = resolve_string(file, path, v, lookup)?;
    }
    Ok(())
}

/// Rejects `os.environ/` with no or an impossible variable name.
pub fn check_env_name(file: &str, path: &str, value: &str) -> Result<(), ConfigError> {
    let Some(name) = env_ref(value) else {
        return Ok(());
    };
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::at(
            file,
            path,
            format!("{value:?} does not name an environment variable (expected {ENV_PREFIX}NAME, NAME made of letters, digits and _)"),
        ))
    }
}

impl LitellmParams {
    fn validate(
        &self,
        file: &str,
        entry: &str,
        credentials: &[Credential],
    ) -> Result<(), ConfigError> {
        let p = format!("{entry}.litellm_params");
        let model = self.model.trim();
        let malformed = model.is_empty()
            || model.starts_with('/')
            || model.ends_with('/')
            || model.chars().any(char::is_whitespace);
        if malformed {
            return Err(ConfigError::at(
                file,
                format!("{p}.model"),
                format!("expected \"provider/model-id\", got {:?}", self.model),
            ));
        }
        for (name, value) in [
            ("api_base", &self.api_base),
            ("api_key", &self.api_key),
            ("api_version", &self.api_version),
        ] {
            if let Some(v) = value {
                check_env_name(file, &format!("{p}.{name}"), v)?;
            }
        }
        for (i, org) in self
            .organization
            .iter()
            .flat_map(Organization::all)
            .enumerate()
        {
            let path = match &self.organization {
                Some(Organization::Many(_)) => format!("{p}.organization[{i}]"),
                _ => format!("{p}.organization"),
            };
            check_env_name(file, &path, org)?;
        }
        if let Some(w) = self.weight {
            if !(w.is_finite() && w >= 0.0) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.weight"),
                    format!("expected a number ≥ 0, got {w}"),
                ));
            }
        }
        for (name, value) in [
            ("timeout", self.timeout),
            ("stream_timeout", self.stream_timeout),
        ] {
            if let Some(t) = value {
                if !(t.is_finite() && t > 0.0) {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.{name}"),
                        format!("expected a number of seconds > 0, got {t}"),
                    ));
                }
            }
        }
        if let Some(name) = &self.litellm_credential_name {
            if !credentials.iter().any(|c| &c.credential_name == name) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.litellm_credential_name"),
                    format!("no credential named {name:?} in credential_list"),
                ));
            }
        }
        Ok(())
    }
}

impl LitellmSettings {
    fn validate(&self, file: &str, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
        let p = "litellm_settings";
        if let Some(t) = self.request_timeout {
            if !(t.is_finite() && t > 0.0) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.request_timeout"),
                    format!("expected a number of seconds > 0, got {t}"),
                ));
            }
        }
        let mut warn = |key: &str, message: &str| {
            warnings.push(Warning::new(format!("{p}.{key}"), message));
        };
        for (key, set) in [
            ("success_callback", self.success_callback.is_some()),
            ("failure_callback", self.failure_callback.is_some()),
            ("callbacks", self.callbacks.is_some()),
        ] {
            if set {
                warn(
                    key,
                    "logging callbacks are not applied by Switchyard yet; ignored (use Envoy's access log and stats)",
                );
            }
        }
        // `cache: false` asks for nothing; `true` and the older map form turn it on.
        let cache_on = self
            .cache
            .as_ref()
            .is_some_and(|v| v != &Value::Bool(false));
        for (key, set) in [
            ("cache", cache_on),
            ("cache_params", self.cache_params.is_some()),
        ] {
            if set {
                warn(
                    key,
                    "response caching is not applied by Switchyard yet; ignored",
                );
            }
        }
        for (key, set) in [
            ("max_budget", self.max_budget.is_some()),
            ("budget_duration", self.budget_duration.is_some()),
        ] {
            if set {
                warn(
                    key,
                    "a proxy-wide budget is not applied by Switchyard yet (keys' budgets are); ignored",
                );
            }
        }
        for (key, set) in [
            (
                "turn_off_message_logging",
                self.turn_off_message_logging.is_some(),
            ),
            ("json_logs", self.json_logs.is_some()),
        ] {
            if set {
                warn(
                    key,
                    "LiteLLM logging settings are not applied by Switchyard (which logs no message content outside the debug mode); ignored",
                );
            }
        }
        if let Some(groups) = &self.model_group_settings {
            for key in groups.other.keys() {
                warn(&format!("model_group_settings.{key}"), NOT_SUPPORTED);
            }
        }
        for key in self.other.keys() {
            warn(key, NOT_SUPPORTED);
        }
        Ok(())
    }
}

impl RouterSettings {
    fn validate(
        &self,
        file: &str,
        model_list: &[ModelEntry],
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        let p = "router_settings";
        if let Some(strategy) = &self.routing_strategy {
            if !ROUTING_STRATEGIES.contains(&strategy.as_str()) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.routing_strategy"),
                    format!(
                        "unknown routing strategy {strategy:?}; expected one of: {}",
                        ROUTING_STRATEGIES.join(", ")
                    ),
                ));
            }
        }
        for (key, value) in [
            ("timeout", self.timeout),
            ("stream_timeout", self.stream_timeout),
        ] {
            if let Some(t) = value {
                if !(t.is_finite() && t > 0.0) {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.{key}"),
                        format!("expected a number of seconds > 0, got {t}"),
                    ));
                }
            }
        }
        for (alias, target) in &self.model_group_alias {
            let path = format!("{p}.model_group_alias.{alias}");
            let group = target.group();
            if group.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    path,
                    "the target model group is empty",
                ));
            }
            let known = model_list
                .iter()
                .any(|e| e.model_name == group || wildcard_match(&e.model_name, group));
            if !known {
                return Err(ConfigError::at(
                    file,
                    path,
                    format!("{group:?} is not a model_name in model_list"),
                ));
            }
            if model_list.iter().any(|e| &e.model_name == alias) {
                warnings.push(Warning::new(
                    path,
                    format!("{alias:?} is also a model_name; the alias wins (as in LiteLLM) and requests for it go to {group:?}"),
                ));
            }
        }
        let mut warn = |key: &str, message: &str| {
            warnings.push(Warning::new(format!("{p}.{key}"), message));
        };
        if self.routing_strategy_args.is_some() {
            warn("routing_strategy_args", NOT_SUPPORTED);
        }

        for (key, set) in [
            ("redis_host", self.redis_host.is_some()),
            ("redis_port", self.redis_port.is_some()),
            ("redis_password", self.redis_password.is_some()),
        ] {
            if set {
                warn(
                    key,
                    "shared router state in Redis is not applied by Switchyard yet; ignored",
                );
            }
        }
        if self.enable_pre_call_checks.is_some() {
            warn(
                "enable_pre_call_checks",
                "pre-call checks are not applied by Switchyard yet; ignored",
            );
        }
        for key in self.other.keys() {
            warn(key, NOT_SUPPORTED);
        }
        Ok(())
    }
}

impl GeneralSettings {
    fn validate(&self, file: &str, warnings: &mut Vec<Warning>) -> Result<(), ConfigError> {
        let p = "general_settings";
        if let Some(mb) = self.max_request_size_mb {
            if !(mb.is_finite() && mb > 0.0) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.max_request_size_mb"),
                    format!("expected a number of MiB > 0, got {mb}"),
                ));
            }
        }
        for (key, value) in [
            ("master_key", &self.master_key),
            ("database_url", &self.database_url),
        ] {
            if let Some(v) = value {
                check_env_name(file, &format!("{p}.{key}"), v)?;
            }
        }
        let mut warn = |key: &str, message: &str| {
            warnings.push(Warning::new(format!("{p}.{key}"), message));
        };
        for (key, set) in [
            ("store_model_in_db", self.store_model_in_db.is_some()),
            ("disable_spend_logs", self.disable_spend_logs.is_some()),
            ("proxy_batch_write_at", self.proxy_batch_write_at.is_some()),
            (
                "allow_requests_on_db_unavailable",
                self.allow_requests_on_db_unavailable.is_some(),
            ),
        ] {
            if set {
                warn(
                    key,
                    "not applied by Switchyard yet (the keyservice keeps keys and spend rows its own way); ignored",
                );
            }
        }
        for (key, set) in [
            (
                "background_health_checks",
                self.background_health_checks.is_some(),
            ),
            (
                "health_check_interval",
                self.health_check_interval.is_some(),
            ),
        ] {
            if set {
                warn(key, "background health checks are not applied by Switchyard yet; ignored (Envoy's outlier detection cools failing deployments down)");
            }
        }
        if self.alerting.is_some() {
            warn("alerting", NOT_SUPPORTED);
        }
        for key in self.other.keys() {
            warn(key, NOT_SUPPORTED);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
        parse_str(text, "config.yaml", &no_env)
    }

    fn err(text: &str) -> String {
        parse(text).expect_err("expected an error").to_string()
    }

    fn warned(warnings: &[Warning], path: &str) -> bool {
        warnings.iter().any(|w| w.path == path)
    }

    #[test]
    fn minimal_config_parses() {
        let (config, warnings) =
            parse("model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n")
                .unwrap();
        assert_eq!(config.model_list.len(), 1);
        assert_eq!(config.model_list[0].litellm_params.model, "openai/gpt-4o");
        assert_eq!(config.file_name, "config.yaml");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e =
            parse("model_list:\n  - model_name: a\n    litellm_params: {model: x\n").unwrap_err();
        assert_eq!(e.file, "config.yaml");
        let (line, _) = e.line_col.expect("a location");
        assert_eq!(line, 4, "{e}");
        assert!(e.to_string().starts_with("config.yaml:4:"), "{e}");
    }

    #[test]
    fn type_error_names_path_and_line() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      rpm: lots\n");
        assert!(e.starts_with("config.yaml:5:"), "{e}");
        assert!(e.contains("model_list[0].litellm_params.rpm"), "{e}");
        assert!(!e.contains(" at line "), "location is not repeated: {e}");
    }

    #[test]
    fn typo_in_top_level_key_is_an_error_with_a_hint() {
        let e = err("model_list: []\nrouter_setings:\n  num_retries: 2\n");
        assert_eq!(
            e,
            "config.yaml:2:1: unknown top-level key `router_setings`; did you mean `router_settings`?"
        );
        let e = err("master_key: sk-1\n");
        assert!(
            e.contains("`master_key` belongs under `general_settings`"),
            "{e}"
        );
    }

    #[test]
    fn missing_model_is_named() {
        let e =
            err("model_list:\n  - model_name: a\n    litellm_params:\n      api_base: http://x\n");
        assert!(
            e.contains("model_list[0].litellm_params: missing field `model`"),
            "{e}"
        );
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/x}\n  - model_name: c\n    litellm_params: {model: \"\"}\n");
        assert_eq!(
            e,
            "config.yaml: model_list[2].litellm_params.model: expected \"provider/model-id\", got \"\""
        );
    }

    #[test]
    fn null_sections_are_empty() {
        let (config, warnings) =
            parse("model_list:\nlitellm_settings:\ngeneral_settings:\n").unwrap();
        assert!(config.model_list.is_empty());
        assert!(warned(&warnings, "model_list"));
    }

    #[test]
    fn unknown_section_keys_are_warnings() {
        let (config, warnings) = parse(
            "model_list: []\ngeneral_settings:\n  alerting: [slack]\n  some_new_setting: 1\nlitellm_settings:\n  success_callback: [langfuse]\n  drop_params: true\n",
        )
        .unwrap();
        assert_eq!(config.litellm_settings.drop_params, Some(true));
        let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            text.contains(
                &"general_settings.alerting: not applied by Switchyard yet; ignored".to_string()
            ),
            "{text:?}"
        );
        assert!(warned(&warnings, "general_settings.some_new_setting"));
        assert!(warned(&warnings, "litellm_settings.success_callback"));
        assert!(!warned(&warnings, "litellm_settings.drop_params"));
    }

    #[test]
    fn cache_in_every_documented_form_is_accepted_and_warned() {
        // simple_proxy_old_doc.md: `cache: {type: redis}`; caching.md: `cache: True`
        // with cache_params; `cache: false` asks for nothing.
        let forms = [
            ("litellm_settings:\n  cache:\n    type: redis\n", true),
            ("litellm_settings:\n  cache: True\n  cache_params:\n    type: redis\n    supported_call_types: []\n", true),
            ("litellm_settings:\n  cache: true\n  cache_params:\n    mode: default_off\n", true),
            ("litellm_settings:\n  cache: false\n", false),
        ];
        for (text, warned_cache) in forms {
            let (_, warnings) = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                warned(&warnings, "litellm_settings.cache"),
                warned_cache,
                "{text}"
            );
            let w = warnings.iter().find(|w| w.path == "litellm_settings.cache");
            assert!(w.is_none_or(|w| w.message.contains("not applied")), "{w:?}");
        }
    }

    #[test]
    fn callbacks_budgets_and_db_settings_accept_any_form() {
        // call_hooks.md: `callbacks` as a Python object path (a string); logging.md:
        // lists; LiteLLM reads `max_budget` with float(), so "100" is a budget too.
        let (_, warnings) = parse(
            "litellm_settings:\n  callbacks: custom_callbacks.proxy_handler_instance\n  success_callback: [\"langfuse\"]\n  failure_callback: sentry\n  turn_off_message_logging: True\n  max_budget: \"100\"\n  budget_duration: 30d\n  json_logs: true\ngeneral_settings:\n  alerting: slack\n  proxy_batch_write_at: \"60\"\n  disable_spend_logs: True\n  health_check_interval: 300\nrouter_settings:\n  redis_port: 1992\n  enable_pre_call_checks: true\n",
        )
        .unwrap();
        for path in [
            "litellm_settings.callbacks",
            "litellm_settings.success_callback",
            "litellm_settings.failure_callback",
            "litellm_settings.turn_off_message_logging",
            "litellm_settings.max_budget",
            "litellm_settings.budget_duration",
            "litellm_settings.json_logs",
            "general_settings.alerting",
            "general_settings.proxy_batch_write_at",
            "general_settings.disable_spend_logs",
            "general_settings.health_check_interval",
            "router_settings.redis_port",
            "router_settings.enable_pre_call_checks",
        ] {
            let w = warnings.iter().find(|w| w.path == path);
            assert!(
                w.is_some_and(|w| w.message.contains("not applied")),
                "{path}: {warnings:?}"
            );
        }
    }

    #[test]
    fn litellms_other_sections_are_warned_unknown_ones_refused() {
        // guardrails/quick_start.md (top-level `guardrails`) and logging.md
        // (`callback_settings`): sections LiteLLM reads.
        let (_, warnings) = parse(
            "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: aporia, mode: [pre_call, post_call]}\ncallback_settings:\n  otel:\n    message_logging: False\n",
        )
        .unwrap();
        for key in ["guardrails", "callback_settings"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.path == key && w.message.contains("does not apply")),
                "{key}: {warnings:?}"
            );
        }
        // LiteLLM ignores any unknown key silently; a typo is an error here.
        let e = err("model_list: []\nguardrail:\n  - x\n");
        assert!(
            e.starts_with("config.yaml:2:1: unknown top-level key `guardrail`"),
            "{e}"
        );
    }

    #[test]
    fn model_info_keys_with_a_meaning_are_warned_metadata_is_not() {
        // configs.md "Set Supported Environments"; custom_pricing.md "Cost Per Second";
        // configs.md "Quick Start" (`version: 2`, metadata).
        let (_, warnings) = parse("model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n    model_info:\n      supported_environments: [production]\n      input_cost_per_second: 0.00042\n      version: 2\n      health_check_model: openai/gpt-4o-mini\n").unwrap();
        assert!(warned(
            &warnings,
            "model_list[0].model_info.supported_environments"
        ));
        assert!(warned(
            &warnings,
            "model_list[0].model_info.input_cost_per_second"
        ));
        assert!(!warned(&warnings, "model_list[0].model_info.version"));
        assert!(!warned(
            &warnings,
            "model_list[0].model_info.health_check_model"
        ));
    }

    #[test]
    fn drop_params_takes_litellms_flag_forms() {
        // LiteLLM's drop_params_flag: pydantic's lax booleans.
        for (written, flag) in [
            ("True", true),
            ("false", false),
            ("\"yes\"", true),
            ("\"off\"", false),
            ("1", true),
            ("0", false),
            ("\" TRUE \"", true),
        ] {
            let text = format!("litellm_settings:\n  drop_params: {written}\nmodel_list:\n  - model_name: a\n    litellm_params: {{model: openai/a, drop_params: {written}}}\n");
            let (config, _) = parse(&text).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(config.litellm_settings.drop_params, Some(flag), "{written}");
            assert_eq!(config.model_list[0].litellm_params.drop_params, Some(flag));
        }
        let e = err("litellm_settings:\n  drop_params: sometimes\n");
        assert!(
            e.starts_with("config.yaml:2:3: litellm_settings: drop_params: expected a flag (true/false, yes/no, on/off, 1/0), got 'sometimes'"),
            "{e}"
        );
    }

    #[test]
    fn organization_may_be_a_list() {
        let (config, _) = parse("model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: openai/*\n      organization:\n       - org-1\n       - org-2\n").unwrap();
        assert_eq!(
            config.model_list[0].litellm_params.organization,
            Some(Organization::Many(vec!["org-1".into(), "org-2".into()]))
        );
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      organization: [org-1, os.environ/]\n");
        assert!(
            e.contains(
                "model_list[0].litellm_params.organization[1]: \"os.environ/\" does not name"
            ),
            "{e}"
        );
    }

    #[test]
    fn default_params_keep_yaml_order() {
        let (config, _) = parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      temperature: 0.2\n      seed: 7\n      max_tokens: 100\n      api_key: os.environ/K\n",
        )
        .unwrap();
        let params = &config.model_list[0].litellm_params;
        let keys: Vec<&String> = params.params.keys().collect();
        assert_eq!(keys, ["temperature", "seed", "max_tokens"]);
        assert_eq!(
            params.api_key.as_deref(),
            Some("os.environ/K"),
            "api_key stays deferred"
        );
        let source: Vec<&str> = params
            .source
            .0
            .as_ref()
            .unwrap()
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(
            source,
            ["model", "temperature", "seed", "max_tokens", "api_key"]
        );
    }

    #[test]
    fn env_resolution_for_settings() {
        let text = "model_list: []\ngeneral_settings:\n  master_key: os.environ/MY_MASTER\n  database_url: os.environ/DB\nenvironment_variables:\n  DB: postgres://from-config\n";
        let env = |name: &str| (name == "MY_MASTER").then(|| "sk-real".to_string());
        let (config, warnings) = parse_str(text, "c.yaml", &env).unwrap();
        assert_eq!(
            config.general_settings.master_key.as_deref(),
            Some("sk-real")
        );
        assert_eq!(
            config.general_settings.database_url.as_deref(),
            Some("postgres://from-config"),
            "environment_variables fill unset variables"
        );
        // Applied now (the keyservice enforces them): no "not enforced" warning.
        assert!(!warned(&warnings, "general_settings.master_key"));
        assert!(!warned(&warnings, "general_settings.database_url"));

        let e = parse_str(text, "c.yaml", &no_env).unwrap_err().to_string();
        assert_eq!(
            e,
            "c.yaml: general_settings.master_key: environment variable MY_MASTER is not set (os.environ/MY_MASTER)"
        );
    }

    #[test]
    fn real_environment_wins_over_environment_variables() {
        let text = "environment_variables:\n  MY_DB: postgres://from-config\n  MY_MASTER: sk-from-config\ngeneral_settings:\n  database_url: os.environ/MY_DB\n  master_key: os.environ/MY_MASTER\n";
        let env = |name: &str| (name == "MY_DB").then(|| "postgres://from-env".to_string());
        let (config, _) = parse_str(text, "c.yaml", &env).unwrap();
        let general = &config.general_settings;
        assert_eq!(general.database_url.as_deref(), Some("postgres://from-env"));
        assert_eq!(general.master_key.as_deref(), Some("sk-from-config"));
        assert_eq!(
            config.env_default("MY_MASTER").as_deref(),
            Some("sk-from-config")
        );
    }

    #[test]
    fn settings_switchyard_does_not_apply_are_not_resolved() {
        // LiteLLM's prod.md: Redis for the router and the cache from os.environ/. Neither
        // is applied, so an unset variable is no reason to refuse the config.
        let text = "router_settings:\n  redis_host: os.environ/REDIS_HOST\n  redis_port: os.environ/REDIS_PORT\nlitellm_settings:\n  cache: True\n  cache_params:\n    type: redis\n    host: os.environ/REDIS_HOST\n";
        let (config, warnings) = parse(text).unwrap();
        assert_eq!(
            config.router_settings.redis_host,
            Some(Value::from("os.environ/REDIS_HOST"))
        );
        for path in [
            "router_settings.redis_host",
            "router_settings.redis_port",
            "litellm_settings.cache",
            "litellm_settings.cache_params",
        ] {
            assert!(warned(&warnings, path), "{path}: {warnings:?}");
        }
    }

    #[test]
    fn bad_env_reference_is_an_error() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/\n");
        assert!(e.contains("model_list[0].litellm_params.api_key"), "{e}");
        assert!(e.contains("does not name an environment variable"), "{e}");
    }

    #[test]
    fn litellm_master_key_from_env_is_not_warned_any_more() {
        let env = |name: &str| (name == "LITELLM_MASTER_KEY").then(|| "sk-x".to_string());
        let (_, warnings) = parse_str("model_list: []\n", "c.yaml", &env).unwrap();
        assert!(!warned(&warnings, "LITELLM_MASTER_KEY"));
    }

    #[test]
    fn routing_strategy_is_checked() {
        let e = err("router_settings:\n  routing_strategy: fastest\n");
        assert!(
            e.contains("router_settings.routing_strategy: unknown routing strategy \"fastest\""),
            "{e}"
        );
        // Applied now (the plan maps them to Envoy): no "ignored" warning.
        let (_, warnings) =
            parse("router_settings:\n  routing_strategy: least-busy\n  num_retries: 3\n").unwrap();
        assert!(!warned(&warnings, "router_settings.routing_strategy"));
        assert!(!warned(&warnings, "router_settings.num_retries"));
        // LiteLLM 1.108.14 also takes these two (VALID_ROUTING_STRATEGIES).
        for strategy in ["provider-budget-routing", "lar1"] {
            parse(&format!(
                "router_settings:\n  routing_strategy: {strategy}\n"
            ))
            .unwrap_or_else(|e| panic!("{strategy}: {e}"));
        }
        let (_, warnings) =
            parse("router_settings:\n  context_window_fallbacks: [{a: [b]}]\n").unwrap();
        assert!(!warned(
            &warnings,
            "router_settings.context_window_fallbacks"
        ));
    }

    #[test]
    fn aliases_accept_both_forms_and_must_point_somewhere() {
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o}\nrouter_settings:\n  model_group_alias:\n    gpt-4: gpt-4o\n    secret: {model: gpt-4o, hidden: true}\n";
        let (config, _) = parse(text).unwrap();
        let aliases = &config.router_settings.model_group_alias;
        assert_eq!(aliases["gpt-4"].group(), "gpt-4o");
        assert!(aliases["secret"].hidden());
        let e = err(&text.replace("gpt-4: gpt-4o", "gpt-4: gpt-4-turbo"));
        assert!(
            e.contains(
                "router_settings.model_group_alias.gpt-4: \"gpt-4-turbo\" is not a model_name"
            ),
            "{e}"
        );
    }

    #[test]
    fn duplicate_ids_and_unknown_credentials_are_errors() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {id: one}\n  - model_name: b\n    litellm_params: {model: openai/y}\n    model_info: {id: one}\n");
        assert!(e.contains("model_list[1].model_info.id: deployment id \"one\" is already used by model_list[0]"), "{e}");
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, litellm_credential_name: nope}\n");
        assert!(e.contains("model_list[0].litellm_params.litellm_credential_name: no credential named \"nope\""), "{e}");
    }

    #[test]
    fn merge_keys_are_applied() {
        let text = "defaults: &d\n  api_key: os.environ/K\n";
        assert!(parse(text).is_err(), "defaults is not a top-level key");
        let text = "model_list:\n  - model_name: a\n    litellm_params: &p\n      model: openai/x\n      temperature: 0.1\n  - model_name: b\n    litellm_params:\n      <<: *p\n      temperature: 0.9\n";
        let (config, _) = parse(text).unwrap();
        let b = &config.model_list[1].litellm_params;
        assert_eq!(b.model, "openai/x");
        assert_eq!(b.params["temperature"], Value::from(0.9));
        assert!(!b.params.contains_key("<<"));
    }

    #[test]
    fn wildcards_match() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("openai/*", "openai/gpt-4o"));
        assert!(!wildcard_match("openai/*", "anthropic/claude"));
        assert!(wildcard_match("fo::*:static::*", "fo::hi:static::there"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("exact", "exact"));
    }

    #[test]
    fn python_str_of_values() {
        assert_eq!(py_str(&Value::from(true)), "True");
        assert_eq!(py_str(&Value::Null), "None");
        assert_eq!(py_str(&Value::from(300)), "300");
        assert_eq!(py_str(&Value::from("plain")), "plain");
        assert_eq!(py_float(0.7), "0.7");
        assert_eq!(py_float(300.0), "300.0");
        assert_eq!(py_float(1e-6), "1e-06");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(1.5e-7), "1.5e-07");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(-2.5), "-2.5");
        let list: Value = serde_yaml::from_str("[a, 1, true, {k: it's}]").unwrap();
        assert_eq!(py_str(&list), "['a', 1, True, {'k': \"it's\"}]");
    }

    #[test]
    fn round_trip() {
        // Every fixture: parse, serialize, parse again → the same Config.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let env = |name: &str| Some(format!("value-of-{name}"));
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let (mut config, _) = parse_str(&text, "config.yaml", &env).unwrap();
            // Where the master key came from is noted at load, not serialized.
            config.general_settings.master_key_env = None;
            let written = serde_yaml::to_string(&config).unwrap();
            let (again, _) = parse_str(&written, "config.yaml", &env).unwrap();
            assert_eq!(again, config, "{}: re-parsed:\n{written}", path.display());
            assert!(!config.model_list.is_empty());
            checked += 1;
        }
        assert_eq!(checked, 5, "all fixtures were round-tripped");
    }
}
