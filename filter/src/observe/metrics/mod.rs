//! The metrics observer: LiteLLM's Prometheus metrics, counted from each
//! [`RequestRecord`] and rendered at `GET /metrics`.
//!
//! Which families exist, their help and labels: `switchyard_contract::metrics`
//! (one table). When each moves follows LiteLLM 1.102.4's
//! `litellm/integrations/prometheus.py` (`PrometheusLogger`):
//!
//! * a successful LLM call (`async_log_success_event`): the total requests (status
//!   `200`), tokens, spend, the request's total latency, the final attempt's API
//!   latency and (streams) time to first token, the overhead; per attempt the
//!   deployment counters (`set_llm_deployment_success_metrics`: success + total,
//!   state 0; `set_llm_deployment_failure_metrics`: failure + total, state 1);
//! * a failed one (`async_post_call_failure_hook`): failed and total requests with
//!   the client's status, and the deployment counters of its attempts;
//! * a deployment cooled down (`router_cooldown_event_callback` in
//!   `litellm/router_utils/cooldown_callbacks.py`): `litellm_deployment_cooled_down`
//!   with the status that tripped it, and its state 2 (complete outage); when, by
//!   Envoy's rule: [`cooldown`]. As LiteLLM's callback does, both label
//!   `litellm_model_name` with the deployment's `model_name` (its group), not its
//!   `litellm_params.model`;
//! * fallbacks (`log_success_fallback_event`, `log_failure_fallback_event`): a
//!   success on a fallback group, and each fallback group that failed;
//! * an invalid key's refusal (401) counts nowhere (`_should_skip_metrics_for_invalid_key`);
//! * after a successful call, the budget gauges of its key and its key's team
//!   (`_increment_remaining_budget_metrics` → `_set_key_budget_metrics`,
//!   `_set_team_budget_metrics`): remaining = max budget − (spend at admission + the
//!   call's cost), `+Inf` without a max budget (`_safe_get_remaining_budget`); the
//!   max-budget gauge only when there is one. The spend and max budget come from the
//!   keyservice at admission ([`super::record::AdmissionBudgets`]).
//!
//! A gauge's Envoy stat holds the bits of an `f64` (a gauge is only ever set, never
//! added to), so it can be negative, fractional or `+Inf`.
//!
//! Storage and rendering: [`catalog`] and [`render`].

pub mod catalog;
pub mod cooldown;
pub mod render;
pub mod scrape;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;

use switchyard_contract::metrics::{
    self as m, label, Family, MetricKind, MetricsConfig, FAMILIES, LATENCY_BUCKETS,
    UNRECOGNIZED_REQUESTED_MODEL,
};

use super::record::{AttemptRecord, RequestRecord};
use crate::endpoint::{classify, Route};
use crate::host::Host;
use crate::plugin_config::RouterConfig;
use catalog::Recorder;

/// LiteLLM's `deployment_state` values.
const HEALTHY: f64 = 0.0;
const PARTIAL_OUTAGE: f64 = 1.0;
const COMPLETE_OUTAGE: f64 = 2.0;

/// The metrics observer of one worker: the config's label sets, the configured
/// model names (for `requested_model`), and the worker's [`Recorder`].
#[derive(Debug)]
pub struct Metrics {
    /// Per [`FAMILIES`] entry: its labels, or `None` when the config turns it off.
    labels: Vec<Option<Vec<&'static str>>>,
    /// Consecutive failures that cool a deployment down (`allowed_fails`).
    allowed_fails: u32,
    /// Per [`FAMILIES`] entry: where each of its labels takes its value from,
    /// resolved from the label names once (configure time), not per request.
    slots: Vec<Vec<(&'static str, Slot)>>,
    /// Configured group names and aliases: a `requested_model` kept as is.
    exact_models: HashSet<String>,
    /// Wildcard groups (`openai/*`): prefix, suffix, the group's name (the label a
    /// model they match is recorded under).
    patterns: Vec<(String, String, String)>,
    /// A mutex only so that a `Router` is `Sync` (the fuzz targets keep one in a
    /// static); a worker's VM is single-threaded, so it is never contended.
    recorder: Mutex<Recorder>,
}

/// What one request's labels take their values from (borrowed from the record
/// where it has them: counting a request allocates no label text).
struct Values<'r> {
    record: &'r RequestRecord,
    attempt: Option<&'r AttemptRecord>,
    requested_model: Cow<'r, str>,
    status_code: Cow<'r, str>,
    exception_status: Cow<'r, str>,
    exception_class: Cow<'r, str>,
    fallback_model: &'r str,
}

/// Where a label takes its value from: a label name resolved once, at configure
/// time, so that counting a request compares no label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    EndUser,
    HashedApiKey,
    ApiKeyAlias,
    Team,
    TeamAlias,
    User,
    RequestedModel,
    StatusCode,
    ExceptionStatus,
    ExceptionClass,
    FallbackModel,
    Model,
    ModelId,
    ApiProvider,
    ApiBase,
    ModelGroup,
    /// The client's address (client-controlled, off by default).
    ClientIp,
    /// The client's `user-agent` (client-controlled, off by default).
    UserAgent,
    /// A label Switchyard has no value for.
    Empty,
}

impl Slot {
    fn of(name: &str) -> Slot {
        match name {
            label::END_USER => Slot::EndUser,
            label::HASHED_API_KEY => Slot::HashedApiKey,
            label::API_KEY_ALIAS => Slot::ApiKeyAlias,
            label::TEAM => Slot::Team,
            label::TEAM_ALIAS => Slot::TeamAlias,
            label::USER => Slot::User,
            label::REQUESTED_MODEL => Slot::RequestedModel,
            label::STATUS_CODE => Slot::StatusCode,
            label::EXCEPTION_STATUS => Slot::ExceptionStatus,
            label::EXCEPTION_CLASS => Slot::ExceptionClass,
            label::FALLBACK_MODEL => Slot::FallbackModel,
            label::MODEL | label::LITELLM_MODEL_NAME => Slot::Model,
            label::MODEL_ID => Slot::ModelId,
            label::API_PROVIDER => Slot::ApiProvider,
            label::API_BASE => Slot::ApiBase,
            label::MODEL_GROUP => Slot::ModelGroup,
            label::CLIENT_IP => Slot::ClientIp,
            label::USER_AGENT => Slot::UserAgent,
            _ => Slot::Empty,
        }
    }
}

impl Values<'_> {
    fn get(&self, slot: Slot) -> &str {
        let a = self.attempt;
        let key = &self.record.key;
        let from_attempt = |f: fn(&AttemptRecord) -> &String| a.map_or("", |a| f(a).as_str());
        match slot {
            Slot::EndUser => &self.record.end_user,
            Slot::HashedApiKey => &key.hashed_api_key,
            Slot::ApiKeyAlias => &key.api_key_alias,
            Slot::Team => &key.team,
            Slot::TeamAlias => &key.team_alias,
            Slot::User => &key.user,
            Slot::RequestedModel => &self.requested_model,
            Slot::StatusCode => &self.status_code,
            Slot::ExceptionStatus => &self.exception_status,
            Slot::ExceptionClass => &self.exception_class,
            Slot::FallbackModel => self.fallback_model,
            Slot::Model => from_attempt(|a| &a.model),
            Slot::ModelId => from_attempt(|a| &a.model_id),
            Slot::ApiProvider => from_attempt(|a| &a.api_provider),
            Slot::ApiBase => from_attempt(|a| &a.api_base),
            Slot::ModelGroup => from_attempt(|a| &a.model_group),
            // Client-controlled, off unless `prometheus_metrics_config` names them.
            Slot::ClientIp => &self.record.client_ip,
            Slot::UserAgent => &self.record.user_agent,
            Slot::Empty => "",
        }
    }
}

/// LiteLLM's exception class for an error status, prefixed with the provider as
/// `_get_exception_class_name` does (`Openai.RateLimitError`).
pub fn exception_class(status: u16, provider: &str) -> String {
    let class = match status {
        0 => "APIConnectionError",
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 | 504 => "Timeout",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        500 => "InternalServerError",
        503 => "ServiceUnavailableError",
        _ => "APIError",
    };
    let mut chars = provider.chars();
    match chars.next() {
        Some(first) => format!("{}{}.{class}", first.to_uppercase(), chars.as_str()),
        None => class.to_string(),
    }
}

fn exception_status(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        status.to_string()
    }
}

/// The empty label value.
const NONE: Cow<'static, str> = Cow::Borrowed("");

impl Metrics {
    /// The observer the router stage's config asks for.
    pub fn from_config(config: &RouterConfig) -> Metrics {
        Metrics::new(&config.metrics, config)
    }

    fn new(metrics: &MetricsConfig, config: &RouterConfig) -> Metrics {
        let mut exact_models: HashSet<String> = config.aliases.keys().cloned().collect();
        let mut patterns = Vec::new();
        for group in &config.groups {
            match group.name.split_once('*') {
                Some((prefix, suffix)) => {
                    patterns.push((prefix.to_string(), suffix.to_string(), group.name.clone()))
                }
                None => {
                    exact_models.insert(group.name.clone());
                }
            }
        }
        let labels: Vec<Option<Vec<&'static str>>> =
            FAMILIES.iter().map(|f| metrics.labels_of(f)).collect();
        let slots = labels
            .iter()
            .map(|names| names.iter().flatten().map(|n| (*n, Slot::of(n))).collect())
            .collect();
        Metrics {
            labels,
            slots,
            allowed_fails: metrics.allowed_fails,
            exact_models,
            patterns,
            recorder: Mutex::new(Recorder::default()),
        }
    }

    /// Whether `family` is exported under this config.
    pub fn enabled(&self, family: &Family) -> bool {
        self.labels_for(family).is_some()
    }

    fn labels_for(&self, family: &Family) -> Option<&Vec<&'static str>> {
        FAMILIES
            .iter()
            .position(|f| f.name == family.name)
            .and_then(|i| self.labels.get(i))
            .and_then(Option::as_ref)
    }

    /// `requested_model` as labelled: a configured name (or alias) as is, a model a
    /// wildcard group matched as that group's name, anything else
    /// [`UNRECOGNIZED_REQUESTED_MODEL`] (LiteLLM's `_bounded_requested_model_label`).
    pub fn bounded_requested_model(&self, model: &str) -> String {
        if model.is_empty() {
            return String::new();
        }
        if self.exact_models.contains(model) {
            return model.to_string();
        }
        self.patterns
            .iter()
            .find(|(p, s, _)| {
                model.len() >= p.len() + s.len()
                    && model.starts_with(p.as_str())
                    && model.ends_with(s.as_str())
            })
            .map(|(_, _, name)| name.clone())
            .unwrap_or_else(|| UNRECOGNIZED_REQUESTED_MODEL.to_string())
    }

    /// Creates the shared catalog if no worker has (configure time).
    pub fn prepare(&self, host: &dyn Host) {
        catalog::prepare(host);
    }

    /// Every exported family and series, as Prometheus text.
    pub fn render(&self, host: &dyn Host) -> String {
        let Ok(mut recorder) = self.recorder.lock() else {
            return String::new();
        };
        render::render(host, &mut recorder, &|f| self.enabled(f))
    }

    /// Counts one finished request.
    pub fn observe(&self, host: &dyn Host, record: &RequestRecord) {
        // An LLM call: by its route, or by the call type only LLM calls have.
        let llm_call = matches!(classify("POST", &record.route), Route::Llm { .. })
            || !record.call_type.is_empty();
        if !llm_call {
            return;
        }
        // An invalid key counts nowhere (LiteLLM's `_should_skip_metrics_for_invalid_key`).
        if record.status == 401 && record.attempts.is_empty() {
            return;
        }
        let Ok(mut recorder) = self.recorder.lock() else {
            return;
        };
        let r = &mut *recorder;
        let last = record.final_attempt();
        let first_group = record
            .attempts
            .first()
            .map(|a| a.model_group.as_str())
            .unwrap_or_default();

        for attempt in &record.attempts {
            self.deployment(host, r, record, attempt);
        }

        if record.failed() {
            let status = record.status;
            let provider = last.map(|a| a.api_provider.as_str()).unwrap_or_default();
            let values = Values {
                record,
                attempt: last,
                requested_model: self.bounded_requested_model(&record.requested_model).into(),
                status_code: status.to_string().into(),
                exception_status: exception_status(status).into(),
                exception_class: exception_class(status, provider).into(),
                fallback_model: "",
            };
            self.add(host, r, m::PROXY_FAILED_REQUESTS, &values, 1);
            self.add(host, r, m::PROXY_TOTAL_REQUESTS, &values, 1);
        } else if let Some(attempt) = last {
            // LiteLLM labels a success with the model group that served it.
            let values = Values {
                record,
                attempt: Some(attempt),
                requested_model: Cow::Borrowed(&attempt.model_group),
                status_code: Cow::Borrowed("200"),
                exception_status: NONE,
                exception_class: NONE,
                fallback_model: "",
            };
            self.add(host, r, m::PROXY_TOTAL_REQUESTS, &values, 1);
            if let Some(usage) = &attempt.usage {
                let input = usage.prompt_tokens;
                let output = usage.completion_tokens;
                self.add(host, r, m::INPUT_TOKENS, &values, input);
                self.add(host, r, m::OUTPUT_TOKENS, &values, output);
                self.add(
                    host,
                    r,
                    m::TOTAL_TOKENS,
                    &values,
                    input.saturating_add(output),
                );
            }
            let spend = attempt.spend;
            let nanos = if spend.is_finite() && spend > 0.0 {
                (spend * render::NANOS_PER_USD).round() as u64
            } else {
                0
            };
            self.add(host, r, m::SPEND, &values, nanos);
            let total_ms = record.end_ms.saturating_sub(record.start_ms);
            self.observe_ms(host, r, m::REQUEST_TOTAL_LATENCY, &values, total_ms);
            self.observe_ms(
                host,
                r,
                m::LLM_API_LATENCY,
                &values,
                attempt.end_ms.saturating_sub(attempt.start_ms),
            );
            if record.stream {
                if let Some(first) = attempt.first_token_ms {
                    self.observe_ms(
                        host,
                        r,
                        m::TIME_TO_FIRST_TOKEN,
                        &values,
                        first.saturating_sub(attempt.start_ms),
                    );
                }
            }
            let upstream_ms: u64 = record
                .attempts
                .iter()
                .map(|a| a.end_ms.saturating_sub(a.start_ms))
                .sum();
            self.observe_ms(
                host,
                r,
                m::OVERHEAD_LATENCY,
                &values,
                total_ms.saturating_sub(upstream_ms),
            );
            if attempt.fallback_index > 0 {
                self.fallback(
                    host,
                    r,
                    record,
                    m::SUCCESSFUL_FALLBACKS,
                    first_group,
                    attempt,
                );
            }
            let cost: f64 = record
                .attempts
                .iter()
                .map(|a| a.spend)
                .filter(|s| s.is_finite())
                .sum();
            self.budgets(host, r, &values, cost);
        } else {
            // Answered by the gateway itself (a mock group): a request all the same.
            let values = Values {
                record,
                attempt: None,
                requested_model: self.bounded_requested_model(&record.requested_model).into(),
                status_code: Cow::Borrowed("200"),
                exception_status: NONE,
                exception_class: NONE,
                fallback_model: "",
            };
            self.add(host, r, m::PROXY_TOTAL_REQUESTS, &values, 1);
        }
        // Each fallback group whose every attempt failed (LiteLLM's
        // `log_failure_fallback_event`, once per failed fallback).
        let mut failed_steps: Vec<u32> = Vec::new();
        for attempt in record.attempts.iter().filter(|a| a.fallback_index > 0) {
            let step = attempt.fallback_index;
            let step_succeeded = record
                .attempts
                .iter()
                .any(|a| a.fallback_index == step && a.succeeded());
            if !step_succeeded && !failed_steps.contains(&step) {
                failed_steps.push(step);
                let last_of_step = record
                    .attempts
                    .iter()
                    .rev()
                    .find(|a| a.fallback_index == step)
                    .unwrap_or(attempt);
                self.fallback(
                    host,
                    r,
                    record,
                    m::FAILED_FALLBACKS,
                    first_group,
                    last_of_step,
                );
            }
        }
    }

    /// The key's and its team's budget gauges after a successful call that cost
    /// `cost` (LiteLLM's `_set_key_budget_metrics`, `_set_team_budget_metrics`): only
    /// for a key the keyservice gave a budget for, and a team the key has.
    fn budgets(&self, host: &dyn Host, r: &mut Recorder, values: &Values<'_>, cost: f64) {
        let record = values.record;
        let scopes = [
            (
                record
                    .budgets
                    .key
                    .filter(|_| !record.key.hashed_api_key.is_empty()),
                m::REMAINING_API_KEY_BUDGET,
                m::API_KEY_MAX_BUDGET,
            ),
            (
                record.budgets.team.filter(|_| !record.key.team.is_empty()),
                m::REMAINING_TEAM_BUDGET,
                m::TEAM_MAX_BUDGET,
            ),
        ];
        for (budget, remaining, max) in scopes {
            let Some(budget) = budget else { continue };
            self.set(host, r, remaining, values, budget.remaining_after(cost));
            if let Some(max_budget) = budget.max_budget {
                self.set(host, r, max, values, max_budget);
            }
        }
    }

    /// The deployment counters and state of one attempt.
    fn deployment(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        record: &RequestRecord,
        attempt: &AttemptRecord,
    ) {
        let ok = attempt.succeeded();
        let values = Values {
            record,
            attempt: Some(attempt),
            requested_model: Cow::Borrowed(&attempt.model_group),
            status_code: NONE,
            exception_status: if ok {
                NONE
            } else {
                exception_status(attempt.status).into()
            },
            exception_class: if ok {
                NONE
            } else {
                exception_class(attempt.status, &attempt.api_provider).into()
            },
            fallback_model: "",
        };
        if ok {
            self.add(host, r, m::DEPLOYMENT_SUCCESS, &values, 1);
        } else {
            self.add(host, r, m::DEPLOYMENT_FAILURE, &values, 1);
        }
        self.add(host, r, m::DEPLOYMENT_TOTAL, &values, 1);
        self.set(
            host,
            r,
            m::DEPLOYMENT_STATE,
            &values,
            if ok { HEALTHY } else { PARTIAL_OUTAGE },
        );
        let watched = m::family_named(m::DEPLOYMENT_COOLED_DOWN).is_some_and(|f| self.enabled(f))
            || m::family_named(m::DEPLOYMENT_STATE).is_some_and(|f| self.enabled(f));
        if watched
            && cooldown::count_attempt(host, &attempt.model_id, attempt.status, self.allowed_fails)
        {
            // LiteLLM's cooldown callback labels the deployment by its group name.
            let as_litellm = AttemptRecord {
                model: attempt.model_group.clone(),
                ..attempt.clone()
            };
            // The failure's exception_status: the status that tripped it.
            let values = Values {
                attempt: Some(&as_litellm),
                ..values
            };
            self.add(host, r, m::DEPLOYMENT_COOLED_DOWN, &values, 1);
            self.set(host, r, m::DEPLOYMENT_STATE, &values, COMPLETE_OUTAGE);
        }
    }

    /// A fallback event: from the group asked for to `attempt`'s group, with the
    /// original group's error.
    fn fallback(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        record: &RequestRecord,
        family: &str,
        original_group: &str,
        attempt: &AttemptRecord,
    ) {
        let original_error = record
            .attempts
            .iter()
            .rfind(|a| a.fallback_index == 0 && !a.succeeded());
        let status = original_error.map(|a| a.status).unwrap_or(0);
        let provider = original_error
            .map(|a| a.api_provider.as_str())
            .unwrap_or_default();
        let values = Values {
            record,
            attempt: None,
            requested_model: Cow::Borrowed(original_group),
            status_code: NONE,
            exception_status: exception_status(status).into(),
            exception_class: exception_class(status, provider).into(),
            fallback_model: &attempt.model_group,
        };
        self.add(host, r, family, &values, 1);
    }

    /// The family's stat ids for these values' labels, and the family's kind.
    fn stat(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        family: &str,
        values: &Values<'_>,
    ) -> Option<(MetricKind, std::sync::Arc<[u32]>)> {
        let index = FAMILIES.iter().position(|f| f.name == family)?;
        let family = FAMILIES.get(index)?;
        let slots = self.slots.get(index)?;
        self.labels.get(index)?.as_ref()?;
        // A label set this worker has counted before is found by its hash alone,
        // without building its labels.
        let key = catalog::hash_labels(
            family.name,
            slots.iter().map(|(n, slot)| (*n, values.get(*slot))),
        );
        if let Some(ids) = r.counted(key) {
            return Some((family.kind, ids));
        }
        let labels: Vec<(&str, &str)> = slots.iter().map(|(n, s)| (*n, values.get(*s))).collect();
        let ids = r.stat_ids(host, family, &labels)?;
        Some((family.kind, ids))
    }

    fn add(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        family: &str,
        values: &Values<'_>,
        amount: u64,
    ) {
        if let Some((MetricKind::Counter, ids)) = self.stat(host, r, family, values) {
            // The series is in the catalog now (it renders as 0); adding 0 would be a
            // hostcall that changes nothing.
            if let Some(id) = ids.first().filter(|_| amount > 0) {
                host.increment_metric(*id, i64::try_from(amount).unwrap_or(i64::MAX));
            }
        }
    }

    fn set(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        family: &str,
        values: &Values<'_>,
        value: f64,
    ) {
        if let Some((MetricKind::Gauge, ids)) = self.stat(host, r, family, values) {
            if let Some(id) = ids.first() {
                host.record_metric(*id, value.to_bits());
            }
        }
    }

    fn observe_ms(
        &self,
        host: &dyn Host,
        r: &mut Recorder,
        family: &str,
        values: &Values<'_>,
        ms: u64,
    ) {
        let Some((MetricKind::Histogram, ids)) = self.stat(host, r, family, values) else {
            return;
        };
        let seconds = ms as f64 / 1000.0;
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(id) = ids.get(bucket) {
            host.increment_metric(*id, 1);
        }
        // A sub-millisecond observation adds 0 to the sum: no hostcall.
        if let Some(sum) = ids.get(LATENCY_BUCKETS.len() + 1).filter(|_| ms > 0) {
            host.increment_metric(
                *sum,
                i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX),
            );
        }
    }
}
