//! LiteLLM's timeouts, per deployment, on Envoy routes and in the upstream stage.
//!
//! What LiteLLM does (1.108.14, `Router._call_timeouts`, `_get_non_stream_timeout`,
//! `_get_stream_timeout`; see `docs/litellm-behaviour.md`): every *attempt* gets the
//! timeout of the deployment it goes to. A non-streamed call waits at most
//! `timeout` (the request's own, else the deployment's `litellm_params.timeout`,
//! else the router's). A streamed call uses `stream_timeout` (the deployment's,
//! else the router's, else that `timeout`) as the httpx timeout of each read: the
//! wait for the first byte, then every silence between two chunks. A stream that
//! keeps sending is never cut. A timed-out attempt is retried and falls back like
//! any failure.
//!
//! How Switchyard maps it. A model group has two Envoy routes onto its route
//! cluster (the router stage marks streamed calls with `x-switchyard-stream`, so
//! each route's timeouts fit one kind of call), and the upstream stage watches
//! streams itself:
//!
//! * **before the answer** (non-streamed answers, and a stream's first byte):
//!   Envoy's per-try timeout, retried and counted for cooldowns. Envoy's per-try
//!   timeout belongs to the route, so where the group's deployments disagree the
//!   **strictest** value of the group's own deployments applies to every attempt
//!   (`check` says so); a deployment without a value counts with the router's
//!   (`timeout` ÷ attempts for non-streamed calls, as without per-deployment values).
//!   Envoy stops the per-try timer at the answer's head, so a long stream is not cut
//!   by it (checked with Envoy 1.40).
//! * **between two chunks of a stream**: each deployment's own `stream_timeout`,
//!   kept by the upstream stage (`switchyard_filter::deadline`), which ends the
//!   stream with an error event.
//! * the routes' `timeout` (non-streamed: the whole request, at least one attempt's
//!   worth) and `idle_timeout` stay as a safety net [`MARGIN_SECS`] beyond every
//!   limit on the route.
//!
//! **Fallbacks.** A fallback group's deployments sit in the route cluster of the
//! group the client asked for: an attempt on them waits for its answer (or first
//! byte) under the asked group's per-try timeout, and its stream silences are
//! bounded by its own deployment's `stream_timeout`.

use std::collections::BTreeMap;

use crate::plan::{Plan, PlannedDeployment, PlannedRoute};

/// How much longer Envoy's safety-net timeouts are than the limits they back up.
pub const MARGIN_SECS: f64 = 1.0;

/// One route's timeouts: the Envoy values of its two routes, and the stream
/// silence of each deployment in its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTimeouts {
    /// Non-streamed route: `timeout` (the whole request, retries included).
    pub timeout: f64,
    /// Non-streamed route: `retry_policy.per_try_timeout`, when set.
    pub per_try_timeout: Option<f64>,
    /// Non-streamed route: `idle_timeout`.
    pub idle_timeout: f64,
    /// Stream route: `retry_policy.per_try_timeout`, the wait for the first byte.
    pub stream_first_byte: f64,
    /// Stream route: `idle_timeout`, behind the stage's own watch.
    pub stream_idle_timeout: f64,
    /// Per deployment (index into [`Plan::deployments`]): the longest silence of
    /// its streams (seconds).
    pub stream_silence: BTreeMap<usize, f64>,
}

/// A deployment's `stream_timeout` as LiteLLM resolves it: its own, else the
/// router's, else its `timeout`, else the router's `timeout`.
pub fn stream_secs(dep: &PlannedDeployment, plan: &Plan, router_timeout: f64) -> f64 {
    dep.stream_timeout_secs
        .or(plan.stream_timeout_secs)
        .or(dep.timeout_secs)
        .unwrap_or(router_timeout)
}

/// A deployment's per-attempt `timeout` for non-streamed calls: its own, else
/// `router_share` (the router's timeout ÷ attempts, or the whole router timeout
/// for a single attempt).
fn call_secs(dep: &PlannedDeployment, router_share: f64) -> f64 {
    dep.timeout_secs.unwrap_or(router_share)
}

/// The deployments of `route`'s own group (priority 0) and of the whole cluster.
fn members<'p>(
    route: &PlannedRoute,
    plan: &'p Plan,
) -> (
    Vec<&'p PlannedDeployment>,
    Vec<(usize, &'p PlannedDeployment)>,
) {
    let own = route
        .priorities
        .first()
        .into_iter()
        .flat_map(|p| p.members.iter())
        .filter_map(|(i, _)| plan.deployments.get(*i))
        .collect();
    let all = route
        .priorities
        .iter()
        .flat_map(|p| p.members.iter().map(|(i, _)| *i))
        .filter_map(|i| plan.deployments.get(i).map(|d| (i, d)))
        .collect();
    (own, all)
}

/// The timeouts of `route`, whose requests get `attempts` attempts in all (retries
/// and fallback groups), under the router `timeout` (seconds).
pub fn route_timeouts(
    route: &PlannedRoute,
    plan: &Plan,
    attempts: u32,
    timeout: f64,
) -> RouteTimeouts {
    let share = if attempts > 1 {
        timeout / f64::from(attempts)
    } else {
        timeout
    };
    let (own, all) = members(route, plan);
    let own_timeouts = own.iter().any(|d| d.timeout_secs.is_some());
    let per_try_timeout = if own_timeouts {
        own.iter().map(|d| call_secs(d, share)).reduce(f64::min)
    } else {
        (attempts > 1).then_some(share)
    };
    let route_timeout = per_try_timeout.map_or(timeout, |p| timeout.max(p));
    let stream_first_byte = own
        .iter()
        .map(|d| stream_secs(d, plan, timeout))
        .reduce(f64::min)
        .unwrap_or(timeout);
    let stream_silence: BTreeMap<usize, f64> = all
        .iter()
        .map(|(i, d)| (*i, stream_secs(d, plan, timeout)))
        .collect();
    let longest_silence = stream_silence
        .values()
        .copied()
        .fold(stream_first_byte, f64::max);
    RouteTimeouts {
        timeout: route_timeout,
        per_try_timeout,
        // A non-streamed answer is silent until it comes: never shorter than it.
        idle_timeout: route_timeout + MARGIN_SECS,
        stream_first_byte,
        stream_idle_timeout: longest_silence + MARGIN_SECS,
        stream_silence,
    }
}

/// `check`'s word on groups whose deployments disagree: which value applies.
pub fn disagreements(
    plan: &Plan,
    attempts_of: &dyn Fn(&PlannedRoute) -> u32,
    timeout: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    for route in &plan.routes {
        let (own, _) = members(route, plan);
        if own.len() < 2 {
            continue;
        }
        let limits = route_timeouts(route, plan, attempts_of(route), timeout);
        let share = if attempts_of(route) > 1 {
            timeout / f64::from(attempts_of(route))
        } else {
            timeout
        };
        let describe = |value: &dyn Fn(&PlannedDeployment) -> (f64, bool)| -> Option<String> {
            let values: Vec<(f64, bool)> = own.iter().map(|d| value(d)).collect();
            let first = values.first()?.0;
            if values.iter().all(|(v, _)| *v == first) {
                return None;
            }
            Some(
                own.iter()
                    .zip(&values)
                    .map(|(d, (v, set))| {
                        format!(
                            "model_list[{}] ({}): {}{}",
                            d.entry_index,
                            d.upstream.deployment_id,
                            secs(*v),
                            if *set { "" } else { " (router's)" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        if let Some(list) = describe(&|d| (call_secs(d, share), d.timeout_secs.is_some())) {
            out.push(format!(
                "model group {:?}: its deployments disagree on timeout ({list}); every attempt of the group waits at most {} for its answer (the strictest: Envoy's per-try timeout belongs to the group's route, fallback attempts included)",
                route.group,
                secs(limits.per_try_timeout.unwrap_or(limits.timeout)),
            ));
        }
        if let Some(list) = describe(&|d| {
            (
                stream_secs(d, plan, timeout),
                d.stream_timeout_secs.is_some(),
            )
        }) {
            out.push(format!(
                "model group {:?}: its deployments disagree on stream_timeout ({list}); every attempt of the group waits at most {} for a stream's first byte (the strictest, per route), and each stream may then stay silent for its own deployment's stream_timeout",
                route.group,
                secs(limits.stream_first_byte),
            ));
        }
    }
    out
}

/// `2` → `2s`, `1.5` → `1.5s`.
fn secs(s: f64) -> String {
    format!("{s}s")
}
