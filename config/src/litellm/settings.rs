//! `litellm_settings`, `router_settings` (with aliases and fallback lists) and
//! `general_settings`: what Switchyard applies, and a warning for each setting it
//! accepts but does not apply.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use switchyard_contract::metrics::{MetricsConfig, MetricsGroup};

use switchyard_contract::plugin_config::CallbackKind;

use super::env::check_env_name;
use super::{
    litellm_flag, null_as_default, wildcard_match, ConfigError, ModelEntry, Warning, NOT_SUPPORTED,
};

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
    /// `success_callback`: logging integrations called on success (`["langfuse"]`):
    /// a list of names or one name. Switchyard applies `langfuse`, `langfuse_otel`,
    /// `otel` and `generic_api` (`plan::callbacks`) and warns about the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_callback: Option<Value>,
    /// `failure_callback`: logging integrations called on failure (as
    /// `success_callback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<Value>,
    /// `callbacks`: integrations called on both (`["otel"]`), or a Python object path
    /// (`custom_callbacks.proxy_handler_instance`, not applied: warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<Value>,
    /// `turn_off_message_logging`: keep message content (request messages, answer
    /// text) out of the logging callbacks. A flag in any of LiteLLM's forms.
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
    /// `prometheus_metrics_config`: which `/metrics` families are exported, with
    /// which labels (LiteLLM's groups of `metrics` and `include_labels`); read by
    /// [`LitellmSettings::metrics_config`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_metrics_config: Option<Value>,
    /// `require_auth_for_metrics_endpoint`: `GET /metrics` needs a key (LiteLLM's
    /// default, with virtual keys); `false` opens it.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub require_auth_for_metrics_endpoint: Option<bool>,
    /// Every other key (LiteLLM has hundreds), reported as ignored.
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

/// A `router_settings.model_group_alias` value: a group name, or
/// `{model: group, hidden: true}` to keep the alias out of `/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AliasTarget {
    /// `gpt-4: gpt-4o`
    Group(String),
    /// `gpt-4: {model: gpt-4o, hidden: true}`
    Detailed(AliasDetail),
}

/// The long form of an alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RouterSettings {
    /// `routing_strategy`: `simple-shuffle` (default), `least-busy`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy: Option<String>,
    /// `routing_strategy_args`: parameters of the strategy. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
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
    #[schemars(with = "Option<serde_json::Value>")]
    pub redis_host: Option<Value>,
    /// `redis_port` (a number or a string). Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub redis_port: Option<Value>,
    /// `redis_password`. Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub redis_password: Option<Value>,
    /// `enable_pre_call_checks`: filter deployments by context window before calling.
    /// Not applied (warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub enable_pre_call_checks: Option<Value>,
    /// Every other key, reported as ignored.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub other: IndexMap<String, Value>,
}

/// `general_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneralSettings {
    /// `master_key`: the admin key. Resolved from `os.environ/` by [`load`](super::load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<String>,
    /// The variable `master_key` named (`os.environ/NAME`), kept by [`load`](super::load) when it
    /// resolves the value: the filter reads the key from the same variable, so a
    /// rendered config never holds a key the user kept out of the file.
    #[serde(skip)]
    pub master_key_env: Option<String>,
    /// `database_url`: PostgreSQL for keys and spend. Resolved from `os.environ/` by [`load`](super::load).
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
    /// `health_check_details`: `false` shows only `model` (and `model_id`) of each
    /// `/health` endpoint (LiteLLM's `MINIMAL_DISPLAY_PARAMS`). Default on.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub health_check_details: Option<bool>,
    /// Every other key, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// The keys of `litellm_settings` that name logging callbacks.
pub const CALLBACK_KEYS: [&str; 3] = ["success_callback", "failure_callback", "callbacks"];

/// A callback list as LiteLLM takes it: a list of names, or one name (a string).
fn callback_names(file: &str, key: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    let path = format!("litellm_settings.{key}");
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(name) => Ok(vec![name.trim().to_string()]),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(name) => Ok(name.trim().to_string()),
                _ => Err(ConfigError::at(
                    file,
                    format!("{path}[{i}]"),
                    "expected a callback name (a string, e.g. langfuse)",
                )),
            })
            .collect(),
        _ => Err(ConfigError::at(
            file,
            path,
            "expected a list of callback names (e.g. [langfuse, otel]) or one name",
        )),
    }
}

impl LitellmSettings {
    /// The names in `success_callback`, `failure_callback` and `callbacks`, by key
    /// (empty when the key is absent). A value of the wrong type is an error naming
    /// the key (and the item).
    pub fn callback_lists(
        &self,
        file: &str,
    ) -> Result<Vec<(&'static str, Vec<String>)>, ConfigError> {
        let values = [
            &self.success_callback,
            &self.failure_callback,
            &self.callbacks,
        ];
        CALLBACK_KEYS
            .iter()
            .zip(values)
            .map(|(key, value)| {
                let names = match value {
                    Some(v) => callback_names(file, key, v)?,
                    None => Vec::new(),
                };
                Ok((*key, names))
            })
            .collect()
    }

    /// Whether message content goes to the logging callbacks:
    /// `turn_off_message_logging` is not true (LiteLLM's default: it goes). The flag
    /// takes LiteLLM's forms (`true`, `"True"`, `yes`, `1`, …); anything else is an
    /// error naming it.
    pub fn message_logging(&self, file: &str) -> Result<bool, ConfigError> {
        let off = match &self.turn_off_message_logging {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) if n.as_i64() == Some(1) => true,
            Some(Value::Number(n)) if n.as_i64() == Some(0) => false,
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "on" | "t" | "true" | "y" | "yes" => true,
                "0" | "off" | "f" | "false" | "n" | "no" => false,
                _ => {
                    return Err(ConfigError::at(
                        file,
                        "litellm_settings.turn_off_message_logging",
                        format!("expected a flag (true/false, yes/no, on/off, 1/0), got {s:?}"),
                    ))
                }
            },
            Some(_) => {
                return Err(ConfigError::at(
                    file,
                    "litellm_settings.turn_off_message_logging",
                    "expected a flag (true/false, yes/no, on/off, 1/0)",
                ))
            }
        };
        Ok(!off)
    }

    /// The router stage's `metrics` section from `prometheus_metrics_config` and
    /// `require_auth_for_metrics_endpoint`, checked against the families Switchyard
    /// exports (LiteLLM's `PrometheusLogger._validate_all_configurations`: an unknown
    /// metric or label is an error). The admin cluster is render's to add.
    pub fn metrics_config(&self, file: &str) -> Result<MetricsConfig, ConfigError> {
        self.checked_metrics_config(file).map(|(config, _)| config)
    }

    /// [`Self::metrics_config`], with a warning (path, message) for each label
    /// LiteLLM allows in a group's `include_labels` that Switchyard has no value for.
    fn checked_metrics_config(
        &self,
        file: &str,
    ) -> Result<(MetricsConfig, Vec<(String, String)>), ConfigError> {
        let p = "litellm_settings.prometheus_metrics_config";
        let mut groups = Vec::new();
        if let Some(raw) = &self.prometheus_metrics_config {
            let Value::Sequence(items) = raw else {
                return Err(ConfigError::at(
                    file,
                    p,
                    "expected a list of groups ({group, metrics: [...], include_labels: [...]})",
                ));
            };
            for (i, item) in items.iter().enumerate() {
                let group: MetricsGroup =
                    serde_yaml::from_value(item.clone()).map_err(|e| {
                        ConfigError::at(
                            file,
                            format!("{p}[{i}]"),
                            format!("expected {{group: NAME, metrics: [METRIC, ...], include_labels: [LABEL, ...]}}: {e}"),
                        )
                    })?;
                groups.push(group);
            }
        }
        // Metrics LiteLLM defines that Switchyard does not export are left out (and
        // warned by `validate`); a group left with none exports nothing.
        for group in &mut groups {
            group.metrics.retain(|m| !Self::litellm_only_metric(m));
        }
        let config = MetricsConfig {
            groups,
            require_auth: self.require_auth_for_metrics_endpoint.unwrap_or(true),
            admin_cluster: None,
            // The plan sets the routing policy's (`router_settings` wins).
            allowed_fails: switchyard_contract::metrics::DEFAULT_ALLOWED_FAILS,
        };
        let at = |i: usize, message: &str| {
            let (field, message) = message.split_once(": ").unwrap_or(("metrics", message));
            (format!("{p}[{i}].{field}"), message.to_string())
        };
        let warnings = config
            .validate()
            .map_err(|(i, message)| {
                let (path, message) = at(i, &message);
                ConfigError::at(file, path, message)
            })?
            .iter()
            .map(|(i, message)| at(*i, message))
            .collect();
        Ok((config, warnings))
    }

    /// A metric LiteLLM defines that Switchyard does not export (yet).
    fn litellm_only_metric(name: &str) -> bool {
        switchyard_contract::metrics::LITELLM_DEFINED_METRICS.contains(&name)
            && !switchyard_contract::metrics::FAMILIES
                .iter()
                .any(|f| f.name == name)
    }

    /// The metrics `prometheus_metrics_config` names that LiteLLM defines and
    /// Switchyard does not export, with where each is named.
    fn unexported_metrics(&self) -> Vec<(String, String)> {
        let Some(Value::Sequence(items)) = &self.prometheus_metrics_config else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(Value::Sequence(metrics)) = item.get("metrics") else {
                continue;
            };
            for m in metrics.iter().filter_map(Value::as_str) {
                if Self::litellm_only_metric(m) {
                    out.push((
                        format!("prometheus_metrics_config[{i}].metrics"),
                        m.to_string(),
                    ));
                }
            }
        }
        out
    }

    pub(super) fn validate(
        &self,
        file: &str,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        let p = "litellm_settings";
        let (_, label_warnings) = self.checked_metrics_config(file)?;
        for (path, message) in label_warnings {
            warnings.push(Warning::new(path, message));
        }
        for (at, metric) in self.unexported_metrics() {
            warnings.push(Warning::new(
                format!("{p}.{at}"),
                format!("{metric} is a LiteLLM metric Switchyard does not export yet; left out"),
            ));
        }
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
        for (key, names) in self.callback_lists(file)? {
            let ignored: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|name| CallbackKind::parse(name).is_none())
                .collect();
            if !ignored.is_empty() {
                warn(
                    key,
                    &format!(
                        "logging callback(s) {} are not applied by Switchyard (it implements {}); ignored",
                        ignored.join(", "),
                        CallbackKind::ALL.map(CallbackKind::as_str).join(", ")
                    ),
                );
            }
        }
        self.message_logging(file)?;
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
        for (key, set) in [("json_logs", self.json_logs.is_some())] {
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
    pub(super) fn validate(
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
    pub(super) fn validate(
        &self,
        file: &str,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
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
    use super::super::test_support::*;

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
        // Switchyard sends Langfuse callbacks: nothing to warn about.
        assert!(!warned(&warnings, "litellm_settings.success_callback"));
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
            "litellm_settings:\n  callbacks: custom_callbacks.proxy_handler_instance\n  success_callback: [\"langfuse\", datadog]\n  failure_callback: sentry\n  turn_off_message_logging: True\n  max_budget: \"100\"\n  budget_duration: 30d\n  json_logs: true\ngeneral_settings:\n  alerting: slack\n  proxy_batch_write_at: \"60\"\n  disable_spend_logs: True\n  health_check_interval: 300\nrouter_settings:\n  redis_port: 1992\n  enable_pre_call_checks: true\n",
        )
        .unwrap();
        for path in [
            "litellm_settings.callbacks",
            "litellm_settings.success_callback",
            "litellm_settings.failure_callback",
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
}

#[cfg(test)]
mod metrics_settings_tests {
    use crate::litellm::parse_str;

    fn error_of(settings: &str) -> String {
        let text = format!("model_list:\n  - model_name: a\n    litellm_params: {{model: openai/x, api_base: http://127.0.0.1:1}}\nlitellm_settings:\n{settings}");
        parse_str(&text, "config.yaml", &|_| None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_litellm_metric_switchyard_does_not_export_is_warned_and_left_out() {
        // A LiteLLM config may name a gauge Switchyard has no value for: it must keep working.
        let text = "model_list: []\nlitellm_settings:\n  prometheus_metrics_config:\n    - group: budget\n      metrics: [litellm_remaining_user_budget_metric, litellm_spend_metric]\n      include_labels: [user]\n";
        let (config, warnings) = parse_str(text, "config.yaml", &|_| None).unwrap();
        let metrics = config
            .litellm_settings
            .metrics_config("config.yaml")
            .unwrap();
        assert_eq!(metrics.groups[0].metrics, ["litellm_spend_metric"]);
        assert!(
            warnings.iter().any(|w| {
                let w = w.to_string();
                w.contains("prometheus_metrics_config[0].metrics")
                    && w.contains("litellm_remaining_user_budget_metric")
            }),
            "{warnings:?}"
        );
        // A name LiteLLM does not know either is still an error, as in LiteLLM.
        let e = error_of("  prometheus_metrics_config:\n    - group: g\n      metrics: [litellm_made_up_metric]\n");
        assert!(e.contains("litellm_made_up_metric"), "{e}");
    }

    /// LiteLLM's per-metric label lists (`PrometheusMetricLabels.get_labels`): a
    /// label LiteLLM accepts for the metric and Switchyard has no value for is warned
    /// and left out; one LiteLLM rejects for that metric is an error naming the file,
    /// the entry and the field.
    #[test]
    fn include_labels_follow_litellms_per_metric_lists() {
        let text = "model_list: []\nlitellm_settings:\n  prometheus_metrics_config:\n    - group: usage\n      metrics: [litellm_proxy_total_requests_metric]\n      include_labels: [requested_model, user_email, route]\n";
        let (config, warnings) = parse_str(text, "config.yaml", &|_| None).unwrap();
        let metrics = config
            .litellm_settings
            .metrics_config("config.yaml")
            .unwrap();
        let total =
            switchyard_contract::metrics::family_named("litellm_proxy_total_requests_metric")
                .unwrap();
        assert_eq!(metrics.labels_of(total).unwrap(), ["requested_model"]);
        for label in ["user_email", "route"] {
            assert!(
                warnings.iter().any(|w| {
                    let w = w.to_string();
                    w.contains("litellm_settings.prometheus_metrics_config[0].include_labels")
                        && w.contains(&format!("{label:?}"))
                        && w.contains("no value in Switchyard")
                }),
                "{label}: {warnings:?}"
            );
        }
        // LiteLLM's documented config gives a team gauge key labels LiteLLM itself
        // refuses for it: left out with a warning, so the config still starts.
        let docs = "model_list: []\nlitellm_settings:\n  prometheus_metrics_config:\n    - group: budget_tracking\n      metrics: [litellm_remaining_team_budget_metric]\n      include_labels: [team, team_alias, hashed_api_key, model]\n";
        let (_, warnings) = parse_str(docs, "config.yaml", &|_| None).unwrap();
        assert_eq!(
            warnings
                .iter()
                .filter(|w| w.to_string().contains("LiteLLM 1.102.4 refuses it"))
                .count(),
            2,
            "{warnings:?}"
        );
        let e = error_of("  prometheus_metrics_config:\n    - group: budget\n      metrics: [litellm_remaining_api_key_budget_metric]\n      include_labels: [key_alias]\n");
        assert!(
            e.starts_with("config.yaml")
                && e.contains("litellm_settings.prometheus_metrics_config[0].include_labels: \"key_alias\" is not a LiteLLM label (LiteLLM's labels for litellm_remaining_api_key_budget_metric: hashed_api_key, api_key_alias)"),
            "{e}"
        );
    }

    #[test]
    fn prometheus_metrics_config_is_read_strictly_with_the_path_of_each_error() {
        let ok = "model_list: []\nlitellm_settings:\n  require_auth_for_metrics_endpoint: \"False\"\n  prometheus_metrics_config:\n    - group: usage\n      metrics: [litellm_proxy_total_requests_metric]\n      include_labels: [end_user, requested_model]\n";
        let (config, warnings) = parse_str(ok, "config.yaml", &|_| None).unwrap();
        let metrics = config
            .litellm_settings
            .metrics_config("config.yaml")
            .unwrap();
        assert!(!metrics.require_auth);
        assert_eq!(
            metrics.groups[0].include_labels.as_ref().unwrap(),
            &["end_user", "requested_model"]
        );
        assert!(
            !warnings
                .iter()
                .any(|w| w.to_string().contains("prometheus")),
            "{warnings:?}"
        );

        let e = error_of(
            "  prometheus_metrics_config:\n    - group: a\n      metrics: [litellm_nope]\n",
        );
        assert!(e.contains("config.yaml: litellm_settings.prometheus_metrics_config[0].metrics: \"litellm_nope\""), "{e}");
        let e = error_of("  prometheus_metrics_config:\n    - group: a\n      metrics: [litellm_spend_metric]\n    - group: b\n      metrics: [litellm_spend_metric]\n      include_labels: [status]\n");
        assert!(
            e.contains("prometheus_metrics_config[1].include_labels: \"status\""),
            "{e}"
        );
        let e = error_of(
            "  prometheus_metrics_config:\n    - group: a\n      metric: [litellm_spend_metric]\n",
        );
        assert!(
            e.contains("prometheus_metrics_config[0]: expected {group"),
            "{e}"
        );
        let e = error_of("  prometheus_metrics_config: litellm_spend_metric\n");
        assert!(
            e.contains("litellm_settings.prometheus_metrics_config: expected a list"),
            "{e}"
        );
    }
}
