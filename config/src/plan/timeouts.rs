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
//!   kept by the upstream stage (`switchyard_contract::deadline`), which ends the
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

/// Overall request timeout when the config sets none: LiteLLM's default of 600 s.
pub const DEFAULT_TIMEOUT_SECS: f64 = 600.0;

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

/// [`stream_secs`] when the config sets any of its sources (none: LiteLLM's default
/// timeout applies, and no stream is held for it).
pub fn configured_stream_secs(dep: &PlannedDeployment, plan: &Plan) -> Option<f64> {
    dep.stream_timeout_secs
        .or(plan.stream_timeout_secs)
        .or(dep.timeout_secs)
        .or(plan.timeout_secs)
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
    // Only a limit the config sets is kept by the upstream stage (which holds each
    // chunk for an event loop turn to be able to write the error event: ~20 µs of
    // CPU per chunk); with none, Envoy's idle timeout (600 s) resets a silent stream.
    let stream_silence: BTreeMap<usize, f64> = all
        .iter()
        .filter_map(|(i, d)| Some((*i, configured_stream_secs(d, plan)?)))
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

#[cfg(test)]
mod tests {

    use serde_json::Value;

    use crate::litellm::parse_str;
    use crate::plan::{compile, Plan};
    use crate::render::{render, RenderOptions};

    fn plan(text: &str) -> Plan {
        let env = |_: &str| None;
        let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
        compile(&config, &env).unwrap()
    }

    /// The bootstrap's routes and each route cluster's upstream plugin config.
    fn rendered(text: &str) -> (Vec<Value>, Vec<Value>) {
        let opts = RenderOptions::for_tests();
        let out = render(&plan(text), &opts).unwrap();
        let routes = out.bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]
            ["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap()
            .clone();
        let upstreams = out
            .plugin_configs
            .iter()
            .filter(|(name, _)| name.starts_with("upstream-"))
            .map(|(_, json)| serde_json::from_str(json).unwrap())
            .collect();
        (routes, upstreams)
    }

    fn route<'r>(routes: &'r [Value], name: &str) -> &'r Value {
        routes
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no route {name}: {routes:?}"))
    }

    fn stream_limits(upstream: &Value) -> Vec<(String, Option<u64>)> {
        upstream["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["deployment_id"].as_str().unwrap().to_string(),
                    d["stream_timeout_ms"].as_u64(),
                )
            })
            .collect()
    }

    const TWO: &str = "model_list:
  - model_name: g
    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:1', timeout: 2, stream_timeout: 5}
    model_info: {id: fast}
  - model_name: g
    litellm_params: {model: openai/b, api_base: 'http://127.0.0.1:2', timeout: 30}
    model_info: {id: slow}
  - model_name: backup
    litellm_params: {model: openai/c, api_base: 'http://127.0.0.1:3', stream_timeout: 9}
    model_info: {id: spare}
router_settings:
  num_retries: 1
  timeout: 60
  stream_timeout: 20
  fallbacks: [{g: [backup]}]
";

    #[test]
    fn each_group_gets_a_route_for_calls_and_one_for_streams() {
        let (routes, _) = rendered(TWO);
        let calls = route(&routes, "g");
        let streams = route(&routes, "g (streams)");
        assert_eq!(calls["route"]["cluster"], streams["route"]["cluster"]);
        assert_eq!(
            calls["match"]["headers"][1],
            serde_json::json!({"name": "x-switchyard-stream", "present_match": true, "invert_match": true})
        );
        assert_eq!(
            streams["match"]["headers"][1],
            serde_json::json!({"name": "x-switchyard-stream", "string_match": {"exact": "1"}})
        );
        // Stream routes come after every call route, before the catch-all.
        let position = |n: &str| routes.iter().position(|r| r["name"] == n).unwrap();
        assert!(position("backup") < position("g (streams)"));
        assert_eq!(routes.last().unwrap()["name"], "unrouted");
    }

    #[test]
    fn the_strictest_deployment_timeout_bounds_every_attempt_of_the_group() {
        let (routes, _) = rendered(TWO);
        let calls = &route(&routes, "g")["route"];
        assert_eq!(
            calls["retry_policy"]["per_try_timeout"], "2.000s",
            "min(2, 30)"
        );
        assert_eq!(
            calls["timeout"], "60.000s",
            "the router's whole-request timeout stays"
        );
        assert_eq!(
            calls["idle_timeout"], "61.000s",
            "never under an answer's wait"
        );
        // The fallback group's own route: its deployment has no timeout, so the
        // router's share applies (60 s ÷ 2 attempts), as without per-deployment values.
        let backup = &route(&routes, "backup")["route"];
        assert_eq!(backup["retry_policy"]["per_try_timeout"], "30.000s");
    }

    #[test]
    fn a_deployment_timeout_longer_than_the_routers_gets_its_whole_attempt() {
        let (routes, _) = rendered(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:1', timeout: 900}\nrouter_settings:\n  num_retries: 0\n",
        );
        let calls = &route(&routes, "g")["route"];
        assert_eq!(calls["retry_policy"]["per_try_timeout"], "900.000s");
        assert_eq!(
            calls["timeout"], "900.000s",
            "LiteLLM's 600 s default grows to fit"
        );
    }

    #[test]
    fn streams_wait_for_their_first_byte_and_each_deployment_keeps_its_silence() {
        let (routes, upstreams) = rendered(TWO);
        let streams = &route(&routes, "g (streams)")["route"];
        // First byte: the strictest stream_timeout of the group's own deployments
        // (fast: 5; slow: the router's 20).
        assert_eq!(streams["retry_policy"]["per_try_timeout"], "5.000s");
        // Envoy's idle timeout stays behind the longest silence on the route.
        assert_eq!(streams["idle_timeout"], "21.000s");
        let g = upstreams.iter().find(|u| u["group"] == "g").unwrap();
        assert_eq!(
            stream_limits(g),
            vec![
                ("fast".to_string(), Some(5_000)),
                ("slow".to_string(), Some(20_000)),
                // A fallback attempt's silences: its own deployment's value.
                ("spare".to_string(), Some(9_000)),
            ]
        );
    }

    #[test]
    fn without_per_deployment_values_nothing_changes_for_calls() {
        let (routes, upstreams) = rendered(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:1'}\nrouter_settings:\n  num_retries: 2\n  timeout: 30\n",
        );
        let calls = &route(&routes, "g")["route"];
        assert_eq!(calls["retry_policy"]["per_try_timeout"], "10.000s");
        assert_eq!(calls["timeout"], "30.000s");
        // Streams: LiteLLM uses the timeout when no stream_timeout is set.
        let streams = &route(&routes, "g (streams)")["route"];
        assert_eq!(streams["retry_policy"]["per_try_timeout"], "30.000s");
        assert_eq!(stream_limits(&upstreams[0])[0].1, Some(30_000));
    }

    #[test]
    fn check_names_the_group_the_deployments_and_the_value_that_applies() {
        let warnings = plan(TWO).warnings;
        let timeout = warnings
            .iter()
            .find(|w| w.contains("disagree on timeout"))
            .unwrap_or_else(|| panic!("{warnings:?}"));
        for needle in [
            "model group \"g\"",
            "model_list[0] (fast): 2s",
            "model_list[1] (slow): 30s",
            "at most 2s for its answer",
        ] {
            assert!(timeout.contains(needle), "{needle}: {timeout}");
        }
        let stream = warnings
            .iter()
            .find(|w| w.contains("disagree on stream_timeout"))
            .unwrap();
        for needle in [
            "model_list[0] (fast): 5s",
            "model_list[1] (slow): 20s (router's)",
            "at most 5s for a stream's first byte",
            "its own deployment's stream_timeout",
        ] {
            assert!(stream.contains(needle), "{needle}: {stream}");
        }
        // A group whose deployments agree gets no such warning.
        let agreeing = plan("model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:1', timeout: 3}\n  - model_name: g\n    litellm_params: {model: openai/b, api_base: 'http://127.0.0.1:2', timeout: 3}\n");
        assert!(
            !agreeing.warnings.iter().any(|w| w.contains("disagree")),
            "{:?}",
            agreeing.warnings
        );
    }

    #[test]
    fn max_retries_is_explained_not_silently_dropped() {
        let warnings = plan("model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:1', max_retries: 3}\n").warnings;
        assert!(
            warnings.iter().any(|w| w.contains("max_retries")
                && w.contains("sets the provider SDK's max_retries to 0")),
            "{warnings:?}"
        );
    }
}
