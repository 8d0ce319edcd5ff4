//! Compiles a validated [`Config`] into a render-ready [`Plan`]: the router stage's
//! plugin config, one upstream plugin config and Envoy cluster per real deployment,
//! one route per model group, and the environment variables the filter reads.
//!
//! Rules, in the order they apply to each `model_list` entry:
//!
//! - **Mode.** `model_info.mode` picks the group's endpoints: `chat` →
//!   `chat_completions` + `completions`, `completion` → `completions`, `embedding` →
//!   `embeddings`, none → every endpoint. Other modes (`image_generation`, `rerank`,
//!   …) are not served yet: the deployment is skipped with a warning.
//! - **Mock.** `litellm_params.mock_response` makes the group answer locally
//!   ([`GroupConfig::mock_response`]); no cluster. A group may not mix mock and real
//!   deployments.
//! - **Provider.** `custom_llm_provider`, else the first segment of `model` when it is a
//!   LiteLLM provider prefix, else the provider LiteLLM infers from a bare name
//!   (`gpt-4o` → openai), else — with an `api_base` — an OpenAI-compatible server.
//!   The provider model id is the rest of `model`, kept as-is
//!   (`openai/nvidia/llama-3.2-nv-embedqa-1b-v2` → `nvidia/llama-3.2-nv-embedqa-1b-v2`).
//!   Providers Switchyard does not translate for yet (`vertex_ai/` partner models, …) and
//!   `model: "*"` are skipped with a warning, so LiteLLM's example configs still pass
//!   `check`.
//! - **Address.** `api_base`, else the provider's default (`openai/` →
//!   `https://api.openai.com/v1`, `anthropic/` → `https://api.anthropic.com`, the
//!   OpenAI-compatible clouds and Ollama per their [`preset`]: LiteLLM's
//!   `<PROVIDER>_API_BASE` variable, else its default); Azure, `hosted_vllm/` and
//!   `lm_studio/` need one. An `os.environ/NAME`
//!   api_base stays deferred for the filter, but Envoy needs the address when the config
//!   is rendered, so it is also resolved now.
//! - **Credentials.** `api_key`, `api_base`, `api_version` may come from
//!   `litellm_credential_name`; values in `litellm_params` win. Without an `api_key`,
//!   `openai/` (default base), `anthropic/` (default base) and `azure/` read
//!   `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` and `AZURE_API_KEY` like LiteLLM does;
//!   the providers with a [`preset`] read their key variables (first set wins) and a cloud with no
//!   key anywhere is an error naming the entry's `api_key` and the variables.
//! - **Weights.** As LiteLLM's simple-shuffle: a group is weighted by `weight` if any of
//!   its deployments sets it, else by `rpm`, else by `tpm`, else evenly. Deployments
//!   without the chosen field get 0 (no traffic) and a warning.
//! - **Deployment id.** `model_info.id`, else LiteLLM's: see [`litellm_deployment_id`].
//!
//! Where each rule lives: `classify` turns one entry into a deployment, asking
//! `presets` (provider defaults and the served providers), `addresses` (`api_base`
//! and Envoy names), `credentials` (keys and versions), `params` (headers, default
//! parameters, unused fields), `pricing`, `deployment_id`, and the provider specifics
//! in `bedrock`, `huggingface` and `vertex`; `routing` groups the deployments
//! into routes with weights, fallbacks and aliases; `keys` decides whether virtual
//! keys are on.

use indexmap::IndexMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[cfg(doc)]
use switchyard_contract::plugin_config::GroupConfig;
use switchyard_contract::plugin_config::{DeploymentConfig, GroupRetries, RouterConfig};

use crate::litellm::{Config, ConfigError};
use crate::prices::PriceTable;

mod addresses;
mod bedrock;
pub mod callbacks;
mod classify;
mod credentials;
mod deployment_id;
mod huggingface;
mod keys;
pub mod model_info;
mod params;
mod presets;
mod pricing;
mod routing;
mod target;
#[cfg(test)]
mod test_support;
pub mod timeouts;
mod upstream_address;
pub mod vertex;

pub use bedrock::{BEDROCK_BEARER_ENV, BEDROCK_ENDPOINT_ENV, BEDROCK_REGION};
pub use deployment_id::litellm_deployment_id;
pub use huggingface::HUGGINGFACE_ROUTER;
pub use keys::{KeysPlan, DATABASE_URL_VARIABLE, MASTER_KEY_VARIABLE, REPORTER_KEY_VARIABLE};
pub use presets::{
    client_default, preset, served_providers_sentence, ClientDefault, KeyRule, KeyWithOwnBase,
    Preset, ANTHROPIC_API_BASE, LITELLM_PREFIXES, OPENAI_API_BASE, SERVED_GROUPS,
};
pub use routing::{total_attempts, PlannedPriority, PlannedRoute, RoutingPolicy};
pub use upstream_address::{parse_api_base, UpstreamAddress};

use classify::Classified;

/// Request bodies larger than this are refused with 413 unless
/// `general_settings.max_request_size_mb` says otherwise. LiteLLM has no default limit;
/// Envoy has to buffer the body for the filter, so Switchyard picks 10 MiB (the base64
/// images of a vision request fit; whole documents may not).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Everything `render` needs, compiled from a [`Config`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The router stage's plugin config: groups in config order, aliases, body limit
    /// (`general_settings.max_request_size_mb` in MiB, default
    /// [`DEFAULT_MAX_REQUEST_BODY_BYTES`]).
    pub router: RouterConfig,
    /// One per real (non-mock, not skipped) deployment, in `model_list` order.
    pub deployments: Vec<PlannedDeployment>,
    /// One per group that has real deployments, in config order.
    pub routes: Vec<PlannedRoute>,
    /// Balancing, retries and cooldowns.
    pub routing: RoutingPolicy,
    /// Every environment variable the filter reads inside Envoy (`os.environ/` in
    /// `api_key`, `api_base`, `api_version`, and the provider default keys); Envoy's
    /// `vm_config.environment_variables.host_env_keys`.
    pub host_env_keys: BTreeSet<String>,
    /// The Envoy clusters of the Google token endpoints the Vertex deployments'
    /// service accounts name (`token_uri`): cluster name → address.
    pub token_clusters: BTreeMap<String, UpstreamAddress>,
    /// The Envoy clusters of the logging callbacks' collectors (`plan::callbacks`):
    /// cluster name → address.
    pub callback_clusters: BTreeMap<String, UpstreamAddress>,
    /// Seconds per call: `router_settings.timeout`, else `litellm_settings.request_timeout`.
    pub timeout_secs: Option<f64>,
    /// Seconds per streamed call: `router_settings.stream_timeout`.
    pub stream_timeout_secs: Option<f64>,
    /// `environment_variables` from the config, stringified: values for variables that
    /// are not set in the gateway's environment. May hold secrets: pass them as process
    /// environment, never write them into a rendered file.
    #[serde(skip)]
    pub env_defaults: BTreeMap<String, String>,
    /// Virtual keys (the keyservice behind Envoy ext_authz): on when a master key or a
    /// database is configured, as in LiteLLM. Holds secrets: never rendered.
    #[serde(skip)]
    pub keys: Option<KeysPlan>,
    /// The debug mode: the upstream stage logs each attempt as LiteLLM's debug output
    /// does (`litellm_settings.set_verbose: true`; `switchyard up` also turns it on
    /// for `--debug`, `--detailed_debug` and `LITELLM_LOG=DEBUG`).
    pub debug_requests: bool,
    /// Deployment-level warnings (skipped deployments, ignored parameters). The
    /// config-level ones come from `litellm::load`; show both.
    pub warnings: Vec<String>,
}

/// One deployment that gets an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedDeployment {
    /// Unique, Envoy-safe name: `dep_<model_list index>_<sanitized group>` (the
    /// endpoint's locality in its route clusters, and a file name).
    pub name: String,
    /// The upstream stage's plugin config for this cluster.
    pub upstream: DeploymentConfig,
    /// Where the cluster connects (from the resolved `api_base`).
    pub address: UpstreamAddress,
    /// Load-balancing weight within the group (see the module docs).
    pub weight: u32,
    /// Index of the `model_list` entry, for messages.
    pub entry_index: usize,
    /// `litellm_params.timeout`: seconds per call to this deployment.
    pub timeout_secs: Option<f64>,
    /// `litellm_params.stream_timeout`: seconds per streamed call to this deployment.
    pub stream_timeout_secs: Option<f64>,
    /// `litellm_params.max_retries`.
    pub max_retries: Option<u32>,
    /// How many requests this deployment may have in flight, as far as the config
    /// says (`litellm_params.max_parallel_requests`, else `rpm`: at most that many
    /// start in a minute): sizes the route clusters' circuit breakers.
    pub concurrency_hint: Option<u64>,
}

/// Compiles `config` (already validated by `litellm::load`). `env` is consulted, with
/// `environment_variables` as fallback, for values that must be known now: an
/// `os.environ/` api_base (the cluster address) and `os.environ/` in headers and
/// default parameters (written into the rendered config, with a warning).
pub fn compile(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ConfigError> {
    let env_defaults = config.env_defaults();
    let lookup = |name: &str| env(name).or_else(|| config.env_default(name));
    let prices = PriceTable::load(&lookup)
        .map_err(|e| ConfigError::at(&config.file_name, crate::prices::PRICES_ENV, e))?;
    let mut cx = Compiler {
        config,
        prices,
        file: &config.file_name,
        lookup: &lookup,
        warnings: Vec::new(),
        host_env_keys: BTreeSet::new(),
        token_clusters: BTreeMap::new(),
    };

    let groups = cx.classify_entries()?;
    let served = cx.serve_groups(&groups)?;
    let routing = cx.routing_policy();
    let fallbacks = cx.fallbacks(&served.members);
    let error_fallbacks = cx.error_fallbacks(&served.members);
    let routes = routing::routes(&served.members, &fallbacks);
    let (aliases, hidden_aliases) = cx.aliases(&served.router_groups);
    if served.router_groups.is_empty() && !config.model_list.is_empty() {
        cx.warnings.push(
            "model_list: no model group can be served by Switchyard; every LLM call will be answered 400 (unknown model)"
                .to_string(),
        );
    }

    let callbacks = callbacks::plan_callbacks(config, &lookup, &mut cx.warnings)?;
    let keys = cx.keys_plan();
    if keys.is_some() {
        pricing::unpriced_warnings(config, &served.deployments, &mut cx.warnings);
    }

    let max_request_body_bytes = config
        .general_settings
        .max_request_size_mb
        .map(|mb| (mb * 1024.0 * 1024.0) as usize)
        .unwrap_or(DEFAULT_MAX_REQUEST_BODY_BYTES);

    let mut metrics_config = config.litellm_settings.metrics_config(&config.file_name)?;
    // The cooldown counter mirrors the outlier detection render writes (same threshold).
    metrics_config.allowed_fails = routing.allowed_fails.max(1);
    let mut plan = Plan {
        router: RouterConfig {
            groups: served.router_groups,
            aliases,
            hidden_aliases,
            max_request_body_bytes,
            error_fallbacks,
            // With keys, every local answer waits for the key check (ext_authz).
            defer_answers: keys.is_some(),
            // Set by render, which knows the keyservice's cluster.
            spend_reporting: None,
            // Set by `switchyard up --model` (LiteLLM's command-line model).
            forced_group: None,
            // The routes' retry policy, for per-request fallbacks (render's
            // `retry_policy` turns the same values into Envoy's).
            retries: GroupRetries {
                num_retries: routing.num_retries,
                server_errors: routing.retry_server_errors,
                rate_limited: routing.retry_rate_limited,
                statuses: routing.retry_statuses.clone(),
            },
            callbacks: callbacks.as_ref().map(|c| c.config.clone()),
            // `litellm_settings`' metrics settings; render adds the admin cluster.
            metrics: metrics_config,
            // `/model/info`, `/model_group/info` and `/health` (below).
            info: Default::default(),
        },
        deployments: served.deployments,
        routes,
        routing,
        host_env_keys: {
            // Spend reports carry the master key, read from the variable it came from,
            // or (no master key) the reporting credential.
            let mut env_keys = cx.host_env_keys;
            env_keys.extend(keys.as_ref().and_then(|k| k.master_key_env.clone()));
            env_keys.extend(keys.as_ref().and_then(|k| k.reporter_key_env.clone()));
            // The callbacks' credentials and header lists.
            env_keys.extend(callbacks.iter().flat_map(|c| c.env_keys.iter().cloned()));
            env_keys
        },
        token_clusters: cx.token_clusters,
        callback_clusters: callbacks.map(|c| c.clusters).unwrap_or_default(),
        timeout_secs: config
            .router_settings
            .timeout
            .or(config.litellm_settings.request_timeout),
        stream_timeout_secs: config.router_settings.stream_timeout,
        env_defaults,
        keys,
        debug_requests: config.litellm_settings.set_verbose == Some(true),
        warnings: cx.warnings,
    };
    let mock_groups: Vec<String> = plan
        .router
        .groups
        .iter()
        .filter(|g| g.mock_response.is_some())
        .map(|g| g.name.clone())
        .collect();
    let mock_groups: Vec<&str> = mock_groups.iter().map(String::as_str).collect();
    plan.router.info = model_info::build(config, &plan.deployments, &mock_groups, &lookup)?;
    // Where a group's deployments disagree on timeouts: which value applies.
    let timeout = plan.timeout_secs.unwrap_or(timeouts::DEFAULT_TIMEOUT_SECS);
    let attempts = |route: &PlannedRoute| routing::total_attempts(route, &plan.routing);
    let disagreements = timeouts::disagreements(&plan, &attempts, timeout);
    plan.warnings.extend(disagreements);
    Ok(plan)
}

/// State shared while compiling the entries.
struct Compiler<'a> {
    config: &'a Config,
    prices: PriceTable,
    file: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
    host_env_keys: BTreeSet<String>,
    /// Google token endpoints of the Vertex deployments: cluster name → address.
    token_clusters: BTreeMap<String, UpstreamAddress>,
}

impl<'a> Compiler<'a> {
    fn warn(&mut self, path: impl std::fmt::Display, message: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {message}"));
    }

    fn error(&self, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, path, message)
    }

    /// Whether `var` is set (and not empty), in the environment or `environment_variables`.
    fn env_is_set(&self, var: &str) -> bool {
        (self.lookup)(var).is_some_and(|v| !v.is_empty())
    }

    /// Classifies every entry (one per organization of an entry with a list of them),
    /// grouped by `model_name` in order of first appearance.
    fn classify_entries(&mut self) -> Result<IndexMap<&'a str, Vec<Classified>>, ConfigError> {
        let config = self.config;
        let mut groups: IndexMap<&str, Vec<Classified>> = IndexMap::new();
        for (i, entry) in config.model_list.iter().enumerate() {
            for (variant, entry_variant) in deployment_id::per_organization(entry) {
                let mut classified = self.classify(i, &entry_variant)?;
                if let Classified::Real(real) = &mut classified {
                    real.variant = variant;
                }
                groups
                    .entry(entry.model_name.as_str())
                    .or_default()
                    .push(classified);
            }
        }
        Ok(groups)
    }
}
