//! The Prometheus metric families the gateway exports at `GET /metrics`, under
//! LiteLLM's names, and the `metrics` section of the router stage's plugin config.
//!
//! [`FAMILIES`] is the one table of what is exported: the filter's metrics observer
//! records and renders from it, `switchyard` checks LiteLLM's
//! `litellm_settings.prometheus_metrics_config` against it, and the docs test
//! (`docs/observability.md`) reads it. Names, help texts and label names are
//! LiteLLM 1.102.4's: `litellm/integrations/prometheus.py` (`PrometheusLogger.__init__`)
//! and `litellm/types/integrations/prometheus.py` (`PrometheusMetricLabels`,
//! `UserAPIKeyLabelNames`, `LATENCY_BUCKETS`). Of LiteLLM's labels a family lists
//! only those Switchyard has a value for (LiteLLM's `user_email`, `org_id`,
//! `service_tier`, `route`, … are left out: an empty label and a missing one are the
//! same series to Prometheus).

use serde::{Deserialize, Serialize};

/// How a family is exposed (prometheus_client's types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonic counter, exposed as `<name>_total`.
    Counter,
    /// A value set, not added to.
    Gauge,
    /// A latency histogram over [`LATENCY_BUCKETS`], in seconds.
    Histogram,
}

impl MetricKind {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One label of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSpec {
    /// LiteLLM's label name.
    pub name: &'static str,
    /// Whether a client chooses its value (the request's `user`, its user agent, its
    /// IP, its tags): such labels are off unless `prometheus_metrics_config` names
    /// them in `include_labels`, since a client could otherwise make series without
    /// bound.
    pub client_controlled: bool,
}

const fn op(name: &'static str) -> LabelSpec {
    LabelSpec {
        name,
        client_controlled: false,
    }
}

const fn client(name: &'static str) -> LabelSpec {
    LabelSpec {
        name,
        client_controlled: true,
    }
}

/// One metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// LiteLLM's metric name (a counter's samples add `_total`).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// LiteLLM's `documentation` string (`# HELP`).
    pub help: &'static str,
    /// The labels, in LiteLLM's order.
    pub labels: &'static [LabelSpec],
}

impl Family {
    /// The label names exported when the config says nothing about this family: the
    /// labels an operator controls.
    pub fn default_labels(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.labels
            .iter()
            .filter(|l| !l.client_controlled)
            .map(|l| l.name)
    }
}

/// LiteLLM's `LATENCY_BUCKETS` (seconds), `+Inf` implied after the last.
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
    600.0,
];

/// The value `requested_model` takes when the client named a model the config does
/// not know (LiteLLM's `UNRECOGNIZED_REQUESTED_MODEL_LABEL`).
pub const UNRECOGNIZED_REQUESTED_MODEL: &str = "other";

/// Distinct label sets kept per family; past it, new label sets are counted in one
/// overflow series whose every label is [`OVERFLOW_LABEL_VALUE`].
pub const MAX_SERIES_PER_FAMILY: usize = 500;

/// Every label of a family's overflow series.
pub const OVERFLOW_LABEL_VALUE: &str = "overflow";

/// Label names (LiteLLM's `UserAPIKeyLabelNames`).
pub mod label {
    /// The request's `user` field (LiteLLM's end user): client-controlled.
    pub const END_USER: &str = "end_user";
    /// The key's token hash.
    pub const HASHED_API_KEY: &str = "hashed_api_key";
    /// The key's alias.
    pub const API_KEY_ALIAS: &str = "api_key_alias";
    /// The model group asked for (bounded to configured names).
    pub const REQUESTED_MODEL: &str = "requested_model";
    /// The key's team id.
    pub const TEAM: &str = "team";
    /// The team's alias.
    pub const TEAM_ALIAS: &str = "team_alias";
    /// The key's user id.
    pub const USER: &str = "user";
    /// The status the client got.
    pub const STATUS_CODE: &str = "status_code";
    /// The client's address: client-controlled.
    pub const CLIENT_IP: &str = "client_ip";
    /// The client's `user-agent`: client-controlled.
    pub const USER_AGENT: &str = "user_agent";
    /// The deployment's id.
    pub const MODEL_ID: &str = "model_id";
    /// LiteLLM's provider name.
    pub const API_PROVIDER: &str = "api_provider";
    /// The error's status.
    pub const EXCEPTION_STATUS: &str = "exception_status";
    /// The error's class (LiteLLM's exception names).
    pub const EXCEPTION_CLASS: &str = "exception_class";
    /// LiteLLM's v1 model label (`litellm_params.model`).
    pub const MODEL: &str = "model";
    /// LiteLLM's v2 model label (`litellm_params.model`).
    pub const LITELLM_MODEL_NAME: &str = "litellm_model_name";
    /// The deployment's `api_base`.
    pub const API_BASE: &str = "api_base";
    /// The model group.
    pub const MODEL_GROUP: &str = "model_group";
    /// The model group a fallback went to.
    pub const FALLBACK_MODEL: &str = "fallback_model";
}

use label::*;

const KEY_LABELS: [LabelSpec; 5] = [
    op(HASHED_API_KEY),
    op(API_KEY_ALIAS),
    op(TEAM),
    op(TEAM_ALIAS),
    op(USER),
];

const PROXY_TOTAL_LABELS: &[LabelSpec] = &[
    client(END_USER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(REQUESTED_MODEL),
    KEY_LABELS[2],
    KEY_LABELS[3],
    KEY_LABELS[4],
    op(STATUS_CODE),
    client(CLIENT_IP),
    client(USER_AGENT),
    op(MODEL_ID),
    op(API_PROVIDER),
];

const PROXY_FAILED_LABELS: &[LabelSpec] = &[
    client(END_USER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(REQUESTED_MODEL),
    KEY_LABELS[2],
    KEY_LABELS[3],
    KEY_LABELS[4],
    op(EXCEPTION_STATUS),
    op(EXCEPTION_CLASS),
    client(CLIENT_IP),
    client(USER_AGENT),
    op(MODEL_ID),
    op(API_PROVIDER),
];

const TOKEN_LABELS: &[LabelSpec] = &[
    client(END_USER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(MODEL),
    KEY_LABELS[2],
    KEY_LABELS[3],
    KEY_LABELS[4],
    op(REQUESTED_MODEL),
    op(MODEL_ID),
    op(API_PROVIDER),
];

const SPEND_LABELS: &[LabelSpec] = &[
    client(END_USER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(MODEL),
    KEY_LABELS[2],
    KEY_LABELS[3],
    KEY_LABELS[4],
    client(CLIENT_IP),
    client(USER_AGENT),
    op(REQUESTED_MODEL),
    op(MODEL_ID),
    op(API_PROVIDER),
];

const API_LATENCY_LABELS: &[LabelSpec] = &[
    op(MODEL),
    KEY_LABELS[0],
    KEY_LABELS[1],
    KEY_LABELS[2],
    KEY_LABELS[3],
    op(REQUESTED_MODEL),
    client(END_USER),
    KEY_LABELS[4],
    op(MODEL_ID),
    op(API_PROVIDER),
];

const TOTAL_LATENCY_LABELS: &[LabelSpec] = &[
    client(END_USER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(REQUESTED_MODEL),
    KEY_LABELS[2],
    KEY_LABELS[3],
    KEY_LABELS[4],
    op(MODEL),
    op(MODEL_ID),
    op(API_PROVIDER),
];

const OVERHEAD_LABELS: &[LabelSpec] = &[
    op(MODEL_GROUP),
    op(API_PROVIDER),
    op(API_BASE),
    op(LITELLM_MODEL_NAME),
    KEY_LABELS[0],
    KEY_LABELS[1],
    op(MODEL_ID),
];

const DEPLOYMENT_LABELS: &[LabelSpec] = &[
    op(REQUESTED_MODEL),
    op(LITELLM_MODEL_NAME),
    op(MODEL_ID),
    op(API_BASE),
    op(API_PROVIDER),
    KEY_LABELS[0],
    KEY_LABELS[1],
    KEY_LABELS[2],
    KEY_LABELS[3],
    client(CLIENT_IP),
    client(USER_AGENT),
];

const DEPLOYMENT_FAILURE_LABELS: &[LabelSpec] = &[
    op(REQUESTED_MODEL),
    op(LITELLM_MODEL_NAME),
    op(MODEL_ID),
    op(API_BASE),
    op(API_PROVIDER),
    op(EXCEPTION_STATUS),
    op(EXCEPTION_CLASS),
    KEY_LABELS[0],
    KEY_LABELS[1],
    KEY_LABELS[2],
    KEY_LABELS[3],
    client(CLIENT_IP),
    client(USER_AGENT),
];

const FALLBACK_LABELS: &[LabelSpec] = &[
    op(REQUESTED_MODEL),
    op(FALLBACK_MODEL),
    KEY_LABELS[0],
    KEY_LABELS[1],
    KEY_LABELS[2],
    KEY_LABELS[3],
    op(EXCEPTION_STATUS),
    op(EXCEPTION_CLASS),
    op(MODEL_ID),
];

const COOLED_DOWN_LABELS: &[LabelSpec] = &[
    op(LITELLM_MODEL_NAME),
    op(MODEL_ID),
    op(API_BASE),
    op(API_PROVIDER),
    op(EXCEPTION_STATUS),
];

const DEPLOYMENT_STATE_LABELS: &[LabelSpec] = &[
    op(LITELLM_MODEL_NAME),
    op(MODEL_ID),
    op(API_BASE),
    op(API_PROVIDER),
];

const KEY_BUDGET_LABELS: &[LabelSpec] = &[KEY_LABELS[0], KEY_LABELS[1]];

const TEAM_BUDGET_LABELS: &[LabelSpec] = &[KEY_LABELS[2], KEY_LABELS[3]];

/// `litellm_proxy_total_requests_metric`.
pub const PROXY_TOTAL_REQUESTS: &str = "litellm_proxy_total_requests_metric";
/// `litellm_proxy_failed_requests_metric`.
pub const PROXY_FAILED_REQUESTS: &str = "litellm_proxy_failed_requests_metric";
/// `litellm_input_tokens_metric`.
pub const INPUT_TOKENS: &str = "litellm_input_tokens_metric";
/// `litellm_output_tokens_metric`.
pub const OUTPUT_TOKENS: &str = "litellm_output_tokens_metric";
/// `litellm_total_tokens_metric`.
pub const TOTAL_TOKENS: &str = "litellm_total_tokens_metric";
/// `litellm_spend_metric`.
pub const SPEND: &str = "litellm_spend_metric";
/// `litellm_request_total_latency_metric`.
pub const REQUEST_TOTAL_LATENCY: &str = "litellm_request_total_latency_metric";
/// `litellm_llm_api_latency_metric`.
pub const LLM_API_LATENCY: &str = "litellm_llm_api_latency_metric";
/// `litellm_llm_api_time_to_first_token_metric`.
pub const TIME_TO_FIRST_TOKEN: &str = "litellm_llm_api_time_to_first_token_metric";
/// `litellm_overhead_latency_metric`.
pub const OVERHEAD_LATENCY: &str = "litellm_overhead_latency_metric";
/// `litellm_deployment_success_responses`.
pub const DEPLOYMENT_SUCCESS: &str = "litellm_deployment_success_responses";
/// `litellm_deployment_failure_responses`.
pub const DEPLOYMENT_FAILURE: &str = "litellm_deployment_failure_responses";
/// `litellm_deployment_total_requests`.
pub const DEPLOYMENT_TOTAL: &str = "litellm_deployment_total_requests";
/// `litellm_deployment_successful_fallbacks`.
pub const SUCCESSFUL_FALLBACKS: &str = "litellm_deployment_successful_fallbacks";
/// `litellm_deployment_failed_fallbacks`.
pub const FAILED_FALLBACKS: &str = "litellm_deployment_failed_fallbacks";
/// `litellm_deployment_state`.
pub const DEPLOYMENT_STATE: &str = "litellm_deployment_state";
/// `litellm_deployment_cooled_down`.
pub const DEPLOYMENT_COOLED_DOWN: &str = "litellm_deployment_cooled_down";
/// `litellm_remaining_api_key_budget_metric`.
pub const REMAINING_API_KEY_BUDGET: &str = "litellm_remaining_api_key_budget_metric";
/// `litellm_api_key_max_budget_metric`.
pub const API_KEY_MAX_BUDGET: &str = "litellm_api_key_max_budget_metric";
/// `litellm_remaining_team_budget_metric`.
pub const REMAINING_TEAM_BUDGET: &str = "litellm_remaining_team_budget_metric";
/// `litellm_team_max_budget_metric`.
pub const TEAM_MAX_BUDGET: &str = "litellm_team_max_budget_metric";

const fn family(
    name: &'static str,
    kind: MetricKind,
    help: &'static str,
    labels: &'static [LabelSpec],
) -> Family {
    Family {
        name,
        kind,
        help,
        labels,
    }
}

/// Every family the gateway exports, in the order `/metrics` lists them.
pub const FAMILIES: &[Family] = &[
    family(PROXY_TOTAL_REQUESTS, MetricKind::Counter, "Total number of requests made to the proxy server - track number of client side requests", PROXY_TOTAL_LABELS),
    family(PROXY_FAILED_REQUESTS, MetricKind::Counter, "Total number of failed responses from proxy - the client did not get a success response from litellm proxy", PROXY_FAILED_LABELS),
    family(INPUT_TOKENS, MetricKind::Counter, "Total number of input tokens from LLM requests", TOKEN_LABELS),
    family(OUTPUT_TOKENS, MetricKind::Counter, "Total number of output tokens from LLM requests", TOKEN_LABELS),
    family(TOTAL_TOKENS, MetricKind::Counter, "Total number of input + output tokens from LLM requests", TOKEN_LABELS),
    family(SPEND, MetricKind::Counter, "Total spend on LLM requests", SPEND_LABELS),
    family(REQUEST_TOTAL_LATENCY, MetricKind::Histogram, "End-to-end latency (seconds) for a request to LiteLLM Proxy Server, from the moment the request reached the proxy through the end of processing -- includes authentication, pre-call hooks, the LLM API call, and post-call processing", TOTAL_LATENCY_LABELS),
    family(LLM_API_LATENCY, MetricKind::Histogram, "Total latency (seconds) for a models LLM API call", API_LATENCY_LABELS),
    family(TIME_TO_FIRST_TOKEN, MetricKind::Histogram, "Time to first token for a models LLM API call", API_LATENCY_LABELS),
    family(OVERHEAD_LATENCY, MetricKind::Histogram, "Latency overhead (milliseconds) added by LiteLLM processing", OVERHEAD_LABELS),
    family(DEPLOYMENT_STATE, MetricKind::Gauge, "LLM Deployment Analytics - The state of the deployment: 0 = healthy, 1 = partial outage, 2 = complete outage", DEPLOYMENT_STATE_LABELS),
    family(DEPLOYMENT_SUCCESS, MetricKind::Counter, "LLM Deployment Analytics - Total number of successful LLM API calls via litellm", DEPLOYMENT_LABELS),
    family(DEPLOYMENT_FAILURE, MetricKind::Counter, "LLM Deployment Analytics - Total number of failed LLM API calls for a specific LLM deploymeny. exception_status is the status of the exception from the llm api", DEPLOYMENT_FAILURE_LABELS),
    family(DEPLOYMENT_TOTAL, MetricKind::Counter, "LLM Deployment Analytics - Total number of LLM API calls via litellm - success + failure", DEPLOYMENT_LABELS),
    family(DEPLOYMENT_COOLED_DOWN, MetricKind::Counter, "LLM Deployment Analytics - Number of times a deployment has been cooled down by LiteLLM load balancing logic. exception_status is the status of the exception that caused the deployment to be cooled down", COOLED_DOWN_LABELS),
    family(SUCCESSFUL_FALLBACKS, MetricKind::Counter, "LLM Deployment Analytics - Number of successful fallback requests from primary model -> fallback model", FALLBACK_LABELS),
    family(FAILED_FALLBACKS, MetricKind::Counter, "LLM Deployment Analytics - Number of failed fallback requests from primary model -> fallback model", FALLBACK_LABELS),
    family(REMAINING_TEAM_BUDGET, MetricKind::Gauge, "Remaining budget for team", TEAM_BUDGET_LABELS),
    family(TEAM_MAX_BUDGET, MetricKind::Gauge, "Maximum budget set for team", TEAM_BUDGET_LABELS),
    family(REMAINING_API_KEY_BUDGET, MetricKind::Gauge, "Remaining budget for api key", KEY_BUDGET_LABELS),
    family(API_KEY_MAX_BUDGET, MetricKind::Gauge, "Maximum budget set for api key", KEY_BUDGET_LABELS),
];

/// The family named `name`, if the gateway exports it.
pub fn family_named(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// LiteLLM 1.102.4's labels per metric, for every family Switchyard exports:
/// `PrometheusMetricLabels` in `litellm/types/integrations/prometheus.py`, as
/// `PrometheusMetricLabels.get_labels(metric)` returns them under LiteLLM's default
/// settings (with `org_id` and `org_alias`, which it appends to the metrics of
/// `_org_label_metrics`; without the labels only a non-default `litellm.*` flag
/// adds: `stream`, the rate-limit labels, `input_sequence_length`,
/// `prometheus_deployment_and_latency_caller_identity`'s `user_email`). LiteLLM
/// accepts exactly these in a metric's `include_labels`; those a [`Family`] does not
/// list have no value in Switchyard.
pub const LITELLM_LABELS: &[(&str, &[&str])] = &[
    (
        PROXY_TOTAL_REQUESTS,
        &[
            "end_user",
            "hashed_api_key",
            "api_key_alias",
            "requested_model",
            "team",
            "team_alias",
            "user",
            "status_code",
            "user_email",
            "route",
            "client_ip",
            "user_agent",
            "model_id",
            "api_provider",
            "org_id",
            "org_alias",
        ],
    ),
    (
        PROXY_FAILED_REQUESTS,
        &[
            "end_user",
            "hashed_api_key",
            "api_key_alias",
            "requested_model",
            "team",
            "team_alias",
            "user",
            "user_email",
            "exception_status",
            "exception_class",
            "route",
            "client_ip",
            "user_agent",
            "model_id",
            "api_provider",
            "org_id",
            "org_alias",
        ],
    ),
    (INPUT_TOKENS, LITELLM_TOKEN_LABELS),
    (OUTPUT_TOKENS, LITELLM_TOKEN_LABELS),
    (TOTAL_TOKENS, LITELLM_TOKEN_LABELS),
    (
        SPEND,
        &[
            "end_user",
            "hashed_api_key",
            "api_key_alias",
            "model",
            "team",
            "team_alias",
            "user",
            "user_email",
            "client_ip",
            "user_agent",
            "requested_model",
            "model_id",
            "api_provider",
            "service_tier",
            "org_id",
            "org_alias",
        ],
    ),
    (
        REQUEST_TOTAL_LATENCY,
        &[
            "end_user",
            "hashed_api_key",
            "api_key_alias",
            "requested_model",
            "team",
            "team_alias",
            "user",
            "model",
            "model_id",
            "api_provider",
            "service_tier",
            "org_id",
            "org_alias",
        ],
    ),
    (LLM_API_LATENCY, LITELLM_API_LATENCY_LABELS),
    (TIME_TO_FIRST_TOKEN, LITELLM_API_LATENCY_LABELS),
    (
        OVERHEAD_LATENCY,
        &[
            "model_group",
            "api_provider",
            "api_base",
            "litellm_model_name",
            "hashed_api_key",
            "api_key_alias",
            "model_id",
        ],
    ),
    (
        DEPLOYMENT_STATE,
        &["litellm_model_name", "model_id", "api_base", "api_provider"],
    ),
    (DEPLOYMENT_SUCCESS, LITELLM_DEPLOYMENT_LABELS),
    (
        DEPLOYMENT_FAILURE,
        &[
            "requested_model",
            "litellm_model_name",
            "model_id",
            "api_base",
            "api_provider",
            "exception_status",
            "exception_class",
            "hashed_api_key",
            "api_key_alias",
            "team",
            "team_alias",
            "client_ip",
            "user_agent",
        ],
    ),
    (DEPLOYMENT_TOTAL, LITELLM_DEPLOYMENT_LABELS),
    (
        DEPLOYMENT_COOLED_DOWN,
        &[
            "litellm_model_name",
            "model_id",
            "api_base",
            "api_provider",
            "exception_status",
        ],
    ),
    (SUCCESSFUL_FALLBACKS, LITELLM_FALLBACK_LABELS),
    (FAILED_FALLBACKS, LITELLM_FALLBACK_LABELS),
    (REMAINING_TEAM_BUDGET, &["team", "team_alias"]),
    (TEAM_MAX_BUDGET, &["team", "team_alias"]),
    (
        REMAINING_API_KEY_BUDGET,
        &["hashed_api_key", "api_key_alias"],
    ),
    (API_KEY_MAX_BUDGET, &["hashed_api_key", "api_key_alias"]),
];

const LITELLM_TOKEN_LABELS: &[&str] = &[
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "requested_model",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];
const LITELLM_API_LATENCY_LABELS: &[&str] = &[
    "model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "requested_model",
    "end_user",
    "user",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];
const LITELLM_DEPLOYMENT_LABELS: &[&str] = &[
    "requested_model",
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "client_ip",
    "user_agent",
];
const LITELLM_FALLBACK_LABELS: &[&str] = &[
    "requested_model",
    "fallback_model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "exception_status",
    "exception_class",
    "model_id",
];

/// Every label name LiteLLM 1.102.4 defines (`UserAPIKeyLabelNames` in
/// `litellm/types/integrations/prometheus.py`): an `include_labels` entry outside
/// this list is a typo, not a LiteLLM label.
pub const LITELLM_LABEL_NAMES: &[&str] = &[
    "end_user",
    "user",
    "user_email",
    "user_alias",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "requested_model",
    "model",
    "litellm_model_name",
    "tag",
    "model_id",
    "api_base",
    "api_provider",
    "exception_status",
    "exception_class",
    "rate_limit_category",
    "rate_limit_type",
    "status_code",
    "fallback_model",
    "route",
    "model_group",
    "client_ip",
    "user_agent",
    "callback_name",
    "stream",
    "org_id",
    "org_alias",
    "mcp_tool_name",
    "mcp_server_name",
    "service_tier",
    "input_sequence_length",
];

/// LiteLLM's labels of the metric `name` ([`LITELLM_LABELS`]); empty for a metric
/// the table does not list.
pub fn litellm_labels(name: &str) -> &'static [&'static str] {
    LITELLM_LABELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, labels)| *labels)
        .unwrap_or(&[])
}

/// One group of LiteLLM's `litellm_settings.prometheus_metrics_config`: these
/// metrics, with these labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsGroup {
    /// The group's name (LiteLLM's `group`; informational).
    #[serde(default)]
    pub group: String,
    /// The families the group turns on.
    pub metrics: Vec<String>,
    /// The labels those families carry; `None`: their default (operator-controlled)
    /// labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_labels: Option<Vec<String>>,
}

/// The router stage's `metrics` section: what `/metrics` exports and who may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// LiteLLM's `prometheus_metrics_config`: when non-empty, only the families
    /// named are exported, each with its group's labels (LiteLLM's semantics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<MetricsGroup>,
    /// `litellm_settings.require_auth_for_metrics_endpoint` (LiteLLM's default:
    /// true). Only meaningful with virtual keys.
    #[serde(default = "yes")]
    pub require_auth: bool,
    /// The Envoy cluster of Envoy's own admin endpoint, whose
    /// `/stats/prometheus` is appended to `/metrics`; none: ours alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_cluster: Option<String>,
    /// `router_settings.allowed_fails` (LiteLLM's default 3): consecutive failures
    /// of a deployment that cool it down (Envoy's outlier detection ejects it after
    /// as many); `litellm_deployment_cooled_down` counts each time it happens.
    #[serde(
        default = "default_allowed_fails",
        skip_serializing_if = "is_default_allowed_fails"
    )]
    pub allowed_fails: u32,
}

/// LiteLLM's default `allowed_fails`.
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;

fn default_allowed_fails() -> u32 {
    DEFAULT_ALLOWED_FAILS
}

fn is_default_allowed_fails(n: &u32) -> bool {
    *n == DEFAULT_ALLOWED_FAILS
}

fn yes() -> bool {
    true
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            groups: Vec::new(),
            require_auth: true,
            admin_cluster: None,
            allowed_fails: DEFAULT_ALLOWED_FAILS,
        }
    }
}

impl MetricsConfig {
    /// Whether this is the default (left out of the rendered JSON).
    pub fn is_default(&self) -> bool {
        *self == MetricsConfig::default()
    }

    /// The labels `family` carries under this config, in the family's order;
    /// `None` when the config turns the family off.
    pub fn labels_of(&self, family: &Family) -> Option<Vec<&'static str>> {
        if self.groups.is_empty() {
            return Some(family.default_labels().collect());
        }
        let mut enabled = false;
        let mut included: Option<Vec<&str>> = None;
        let defaults: Vec<&str> = family.default_labels().collect();
        for group in self
            .groups
            .iter()
            .filter(|g| g.metrics.iter().any(|m| m == family.name))
        {
            enabled = true;
            match &group.include_labels {
                Some(names) => included
                    .get_or_insert_with(Vec::new)
                    .extend(names.iter().map(String::as_str)),
                None => {
                    included
                        .get_or_insert_with(Vec::new)
                        .extend(defaults.iter().copied());
                }
            }
        }
        if !enabled {
            return None;
        }
        let included = included.unwrap_or_default();
        Some(
            family
                .labels
                .iter()
                .map(|l| l.name)
                .filter(|n| included.contains(n))
                .collect(),
        )
    }

    /// Checks every group against [`FAMILIES`] and LiteLLM's labels
    /// ([`LITELLM_LABELS`]): `Err((group index, message))` for an unknown metric
    /// or a label name LiteLLM does not define at all ([`LITELLM_LABEL_NAMES`]).
    /// A label LiteLLM allows for the metric and Switchyard has no value for is left
    /// out, and so is a LiteLLM label that LiteLLM's `_validate_all_configurations`
    /// would refuse for that metric: LiteLLM's own documentation
    /// (`docs/proxy/prometheus.md`, "Configuring Metrics and Labels") gives
    /// `hashed_api_key` and `model` to `litellm_remaining_team_budget_metric`, and
    /// such a config must keep starting. `Ok` lists each left-out label as a warning
    /// (group index, message).
    pub fn validate(&self) -> Result<Vec<(usize, String)>, (usize, String)> {
        let mut warnings = Vec::new();
        for (i, group) in self.groups.iter().enumerate() {
            for metric in &group.metrics {
                let Some(family) = family_named(metric) else {
                    let known: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
                    return Err((
                        i,
                        format!(
                            "metrics: {metric:?} is not a metric Switchyard exports (known: {})",
                            known.join(", ")
                        ),
                    ));
                };
                for label in group.include_labels.iter().flatten() {
                    if family.labels.iter().any(|l| l.name == label) {
                        continue;
                    }
                    let litellm = litellm_labels(metric);
                    if litellm.contains(&label.as_str()) {
                        warnings.push((
                            i,
                            format!(
                                "include_labels: {label:?} of {metric} has no value in Switchyard; left out"
                            ),
                        ));
                    } else if LITELLM_LABEL_NAMES.contains(&label.as_str()) {
                        warnings.push((
                            i,
                            format!(
                                "include_labels: {label:?} is not a label of {metric} (LiteLLM's labels for it: {}; LiteLLM 1.102.4 refuses it); left out",
                                litellm.join(", ")
                            ),
                        ));
                    } else {
                        return Err((
                            i,
                            format!(
                                "include_labels: {label:?} is not a LiteLLM label (LiteLLM's labels for {metric}: {})",
                                litellm.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_unique_and_prometheus_safe() {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        for (i, f) in FAMILIES.iter().enumerate() {
            assert!(ok(f.name), "{}", f.name);
            assert!(f.name.starts_with("litellm_"));
            assert!(FAMILIES.iter().skip(i + 1).all(|g| g.name != f.name));
            for (j, l) in f.labels.iter().enumerate() {
                assert!(ok(l.name) && l.name != "le", "{}", l.name);
                assert!(f.labels.iter().skip(j + 1).all(|m| m.name != l.name));
            }
        }
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn client_controlled_labels_are_off_by_default_and_can_be_included() {
        let total = family_named(PROXY_TOTAL_REQUESTS).unwrap();
        let default = MetricsConfig::default().labels_of(total).unwrap();
        assert!(!default.contains(&label::END_USER));
        assert!(!default.contains(&label::USER_AGENT));
        assert!(default.contains(&label::HASHED_API_KEY));
        let config = MetricsConfig {
            groups: vec![MetricsGroup {
                group: "usage".into(),
                metrics: vec![PROXY_TOTAL_REQUESTS.into()],
                include_labels: Some(vec!["end_user".into(), "requested_model".into()]),
            }],
            ..MetricsConfig::default()
        };
        assert_eq!(config.validate().unwrap(), vec![]);
        assert_eq!(
            config.labels_of(total).unwrap(),
            vec!["end_user", "requested_model"]
        );
        // A family no group names is off (LiteLLM's `_is_metric_enabled`).
        assert_eq!(config.labels_of(family_named(SPEND).unwrap()), None);
    }

    #[test]
    fn validation_names_the_group_and_the_bad_name() {
        let bad_metric = MetricsConfig {
            groups: vec![
                MetricsGroup {
                    group: "a".into(),
                    metrics: vec![SPEND.into()],
                    include_labels: None,
                },
                MetricsGroup {
                    group: "b".into(),
                    metrics: vec!["litellm_nope".into()],
                    include_labels: None,
                },
            ],
            ..MetricsConfig::default()
        };
        let (i, msg) = bad_metric.validate().unwrap_err();
        assert_eq!(i, 1);
        assert!(msg.contains("litellm_nope"), "{msg}");
        let bad_label = MetricsConfig {
            groups: vec![MetricsGroup {
                group: "a".into(),
                metrics: vec![SPEND.into()],
                include_labels: Some(vec!["status".into()]),
            }],
            ..MetricsConfig::default()
        };
        let (_, msg) = bad_label.validate().unwrap_err();
        assert!(msg.contains("\"status\"") && msg.contains(SPEND), "{msg}");
    }

    /// A label LiteLLM allows for the metric and Switchyard has no value for is a
    /// warning and left out, as is a LiteLLM label LiteLLM refuses for that metric;
    /// a name LiteLLM does not define is an error.
    #[test]
    fn a_litellm_label_without_a_value_is_warned_and_left_out() {
        let config = MetricsConfig {
            groups: vec![
                MetricsGroup {
                    group: "a".into(),
                    metrics: vec![SPEND.into()],
                    include_labels: Some(vec!["user_email".into(), "team".into()]),
                },
                MetricsGroup {
                    group: "b".into(),
                    metrics: vec![PROXY_TOTAL_REQUESTS.into()],
                    include_labels: Some(vec!["route".into(), "org_id".into()]),
                },
            ],
            ..MetricsConfig::default()
        };
        let warnings = config.validate().unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(warnings[0].0, 0);
        assert!(
            warnings[0].1.contains("\"user_email\"") && warnings[0].1.contains("left out"),
            "{warnings:?}"
        );
        assert_eq!((warnings[1].0, warnings[2].0), (1, 1));
        assert_eq!(
            config.labels_of(family_named(SPEND).unwrap()).unwrap(),
            vec!["team"]
        );
        assert_eq!(
            config
                .labels_of(family_named(PROXY_TOTAL_REQUESTS).unwrap())
                .unwrap(),
            Vec::<&str>::new()
        );
        // `hashed_api_key` is LiteLLM's, but not for a team budget gauge: LiteLLM's
        // own docs give it one, so it is left out with a warning.
        let docs = MetricsConfig {
            groups: vec![MetricsGroup {
                group: "budget_tracking".into(),
                metrics: vec![REMAINING_TEAM_BUDGET.into()],
                include_labels: Some(vec!["team".into(), "hashed_api_key".into()]),
            }],
            ..MetricsConfig::default()
        };
        let warnings = docs.validate().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].1.contains("refuses it"), "{warnings:?}");
        assert_eq!(
            docs.labels_of(family_named(REMAINING_TEAM_BUDGET).unwrap())
                .unwrap(),
            vec!["team"]
        );
        // A name LiteLLM does not define at all is an error.
        let wrong = MetricsConfig {
            groups: vec![MetricsGroup {
                group: "budget".into(),
                metrics: vec![REMAINING_TEAM_BUDGET.into()],
                include_labels: Some(vec!["team_name".into()]),
            }],
            ..MetricsConfig::default()
        };
        let (i, msg) = wrong.validate().unwrap_err();
        assert_eq!(i, 0);
        assert!(
            msg.contains("\"team_name\"") && msg.contains(REMAINING_TEAM_BUDGET),
            "{msg}"
        );
    }

    /// Every label Switchyard exports for a family is one LiteLLM has for that
    /// metric, and every family has LiteLLM's list.
    #[test]
    fn switchyards_labels_are_a_subset_of_litellms() {
        for family in FAMILIES {
            let litellm = litellm_labels(family.name);
            assert!(!litellm.is_empty(), "{} has no LiteLLM labels", family.name);
            for label in family.labels {
                assert!(
                    litellm.contains(&label.name),
                    "{}: {}",
                    family.name,
                    label.name
                );
            }
        }
        for (name, _) in LITELLM_LABELS {
            assert!(family_named(name).is_some(), "{name}");
        }
    }
}

#[cfg(test)]
mod docs_tests {
    use super::*;

    /// `docs/observability.md`'s metrics table lists every family, with its type and
    /// its default labels, and nothing else.
    #[test]
    fn the_observability_docs_table_is_the_family_table() {
        let docs = include_str!("../../docs/observability.md");
        let section = docs
            .split("## Metrics")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        let rows: Vec<&str> = section
            .lines()
            .filter(|l| l.starts_with("| `litellm_"))
            .collect();
        assert_eq!(rows.len(), FAMILIES.len(), "{rows:#?}");
        for family in FAMILIES {
            let row = rows
                .iter()
                .find(|r| r.starts_with(&format!("| `{}`", family.name)))
                .unwrap_or_else(|| panic!("{} has no row", family.name));
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(cells[1], family.kind.as_str(), "{}", family.name);
            if family.kind == MetricKind::Counter {
                assert!(cells[0].contains("(`_total`)"), "{}", family.name);
            }
            // The labels cell names each default label (or says "as …").
            let labels = cells[3];
            if !labels.starts_with("as ") {
                for label in family.default_labels() {
                    assert!(labels.contains(label), "{}: {label}", family.name);
                }
                for opt_in in family.labels.iter().filter(|l| l.client_controlled) {
                    assert!(
                        labels.contains('*') && labels.contains(opt_in.name),
                        "{}: {}",
                        family.name,
                        opt_in.name
                    );
                }
            }
        }
        assert!(
            docs.contains(&format!("at\nmost {} series", MAX_SERIES_PER_FAMILY + 1))
                || docs.contains(&format!("at most {} series", MAX_SERIES_PER_FAMILY + 1))
        );
        assert!(docs.contains(&MAX_SERIES_PER_FAMILY.to_string()));
    }
}

/// Every metric LiteLLM 1.102.4 defines (`DEFINED_PROMETHEUS_METRICS` in
/// `litellm/types/integrations/prometheus.py`). A `prometheus_metrics_config` that
/// names one Switchyard does not export is a LiteLLM config that must keep working:
/// the name is left out with a warning; a name LiteLLM does not know is an error, as
/// in LiteLLM.
pub const LITELLM_DEFINED_METRICS: &[&str] = &[
    "litellm_llm_api_latency_metric",
    "litellm_llm_api_time_to_first_token_metric",
    "litellm_request_total_latency_metric",
    "litellm_overhead_latency_metric",
    "litellm_overhead_with_guardrails_latency_metric",
    "litellm_remaining_requests_metric",
    "litellm_remaining_tokens_metric",
    "litellm_proxy_total_requests_metric",
    "litellm_proxy_failed_requests_metric",
    "litellm_deployment_latency_per_output_token",
    "litellm_requests_metric",
    "litellm_spend_metric",
    "litellm_total_tokens_metric",
    "litellm_input_tokens_metric",
    "litellm_output_tokens_metric",
    "litellm_input_cached_tokens_metric",
    "litellm_input_cache_creation_tokens_metric",
    "litellm_input_audio_tokens_metric",
    "litellm_output_reasoning_tokens_metric",
    "litellm_output_audio_tokens_metric",
    "litellm_video_duration_seconds_metric",
    "litellm_images_generated_metric",
    "litellm_deployment_successful_fallbacks",
    "litellm_deployment_failed_fallbacks",
    "litellm_remaining_team_budget_metric",
    "litellm_team_max_budget_metric",
    "litellm_team_budget_remaining_hours_metric",
    "litellm_team_members_metric",
    "litellm_remaining_org_budget_metric",
    "litellm_org_max_budget_metric",
    "litellm_org_budget_remaining_hours_metric",
    "litellm_remaining_api_key_budget_metric",
    "litellm_api_key_max_budget_metric",
    "litellm_api_key_budget_remaining_hours_metric",
    "litellm_remaining_user_budget_metric",
    "litellm_user_max_budget_metric",
    "litellm_user_budget_remaining_hours_metric",
    "litellm_deployment_state",
    "litellm_deployment_failure_responses",
    "litellm_deployment_total_requests",
    "litellm_deployment_success_responses",
    "litellm_deployment_cooled_down",
    "litellm_pod_lock_manager_size",
    "litellm_in_memory_daily_spend_update_queue_size",
    "litellm_redis_daily_spend_update_queue_size",
    "litellm_in_memory_spend_update_queue_size",
    "litellm_redis_spend_update_queue_size",
    "litellm_request_queue_time_seconds",
    "litellm_guardrail_latency_seconds",
    "litellm_guardrail_errors_total",
    "litellm_guardrail_requests_total",
    "litellm_cache_hits_metric",
    "litellm_cache_misses_metric",
    "litellm_cached_tokens_metric",
    "litellm_provider_cache_read_input_tokens_metric",
    "litellm_provider_cache_creation_input_tokens_metric",
    "litellm_deployment_tpm_limit",
    "litellm_deployment_rpm_limit",
    "litellm_remaining_api_key_requests_for_model",
    "litellm_remaining_api_key_tokens_for_model",
    "litellm_api_key_rate_limit_allowed_metric",
    "litellm_api_key_rate_limit_used_metric",
    "litellm_team_rate_limit_allowed_metric",
    "litellm_team_rate_limit_used_metric",
    "litellm_llm_api_failed_requests_metric",
    "litellm_callback_logging_failures_metric",
    "litellm_in_flight_requests",
    "litellm_managed_batch_created_total",
    "litellm_managed_file_size_bytes",
    "litellm_managed_batch_duration_seconds",
    "litellm_managed_file_created_total",
    "litellm_managed_file_deleted_total",
    "litellm_check_batch_cost_jobs_polled",
    "litellm_check_batch_cost_jobs_processed_total",
    "litellm_check_batch_cost_errors_total",
    "litellm_check_batch_cost_last_run_timestamp",
    "litellm_mcp_tool_calls_total",
    "litellm_mcp_tool_call_spend_metric",
];
