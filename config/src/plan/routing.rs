//! From classified deployments to routes: model groups (mock or real, never both),
//! weights (LiteLLM's simple-shuffle), one route per served group with its fallback
//! groups as Envoy priorities, error fallbacks, aliases, and LiteLLM's router settings
//! as Envoy balancing, retries and cooldowns.

use indexmap::IndexMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use switchyard_contract::plugin_config::{ErrorFallbacks, GroupConfig};

use super::addresses::{deployment_name, sanitize};
use super::classify::{Classified, Mock, Real};
use super::{Compiler, PlannedDeployment};
use crate::litellm::{ConfigError, FallbackList};

/// The Envoy route of one model group, and its route cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRoute {
    /// What the route matches in the `x-switchyard-group` header (the group name).
    pub route_key: String,
    /// The model group (`model_name`).
    pub group: String,
    /// The route's cluster: its endpoints are the deployments below.
    pub cluster_name: String,
    /// Envoy priority levels: 0 is the group itself, then each fallback group in order.
    pub priorities: Vec<PlannedPriority>,
}

/// One priority level of a route cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPriority {
    /// The model group whose deployments these are.
    pub group: String,
    /// `(index into Plan::deployments, weight)`, in config order.
    pub members: Vec<(usize, u32)>,
}

/// How Envoy balances, retries and cools deployments down: LiteLLM's router
/// settings, as far as Envoy expresses them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingPolicy {
    /// `least-busy` and `latency-based-routing` balance by fewest requests in flight
    /// (Envoy `LEAST_REQUEST`); every other strategy is weighted random (`RANDOM`).
    pub least_request: bool,
    /// Retries per request (`num_retries`, router_settings first; LiteLLM's default 2).
    pub num_retries: u32,
    /// Retry on 429 (`retry_policy.RateLimitErrorRetries` > 0, or no retry_policy).
    pub retry_rate_limited: bool,
    /// Retry on 5xx, resets and connect failures (`InternalServerErrorRetries`).
    pub retry_server_errors: bool,
    /// Retry on timeouts (`TimeoutErrorRetries`).
    pub retry_timeouts: bool,
    /// Extra statuses retried (`AuthenticationErrorRetries` → 401,
    /// `BadRequestErrorRetries` → 400).
    pub retry_statuses: Vec<u16>,
    /// Consecutive failures before a deployment cools down (`allowed_fails`, default 3).
    pub allowed_fails: u32,
    /// Seconds a deployment cools down (`cooldown_time`, default 5).
    pub cooldown_secs: f64,
}

/// The model groups as served.
pub(super) struct ServedGroups {
    /// The router's groups, mock and real, in config order.
    pub(super) router_groups: Vec<GroupConfig>,
    /// One per real deployment, in `model_list` order.
    pub(super) deployments: Vec<PlannedDeployment>,
    /// Served (non-mock) groups in config order: (deployment index, weight) each.
    pub(super) members: IndexMap<String, Vec<(usize, u32)>>,
}

/// The route cluster of the `index`-th served group.
fn route_cluster_name(index: usize, group: &str) -> String {
    format!("route_{index}_{}", sanitize(group))
}

fn members_first_index(members: &[Classified]) -> usize {
    members.first().map(Classified::index).unwrap_or(0)
}

/// The group's endpoints: the union over its deployments; empty (= all) as soon as
/// one deployment has no mode.
fn union_endpoints(members: &[Classified]) -> Vec<String> {
    let lists: Vec<&[String]> = members.iter().filter_map(Classified::endpoints).collect();
    if lists.iter().any(|l| l.is_empty()) {
        return Vec::new();
    }
    ["chat_completions", "completions", "embeddings"]
        .iter()
        .filter(|e| lists.iter().any(|l| l.iter().any(|x| x == *e)))
        .map(|e| e.to_string())
        .collect()
}

/// One route per served group: priority 0 is the group itself, then each fallback
/// group in order.
pub(super) fn routes(
    served: &IndexMap<String, Vec<(usize, u32)>>,
    fallbacks: &BTreeMap<String, Vec<String>>,
) -> Vec<PlannedRoute> {
    let mut routes = Vec::new();
    for (name, members) in served {
        let mut priorities = vec![PlannedPriority {
            group: name.clone(),
            members: members.clone(),
        }];
        for fallback in fallbacks.get(name).into_iter().flatten() {
            if let Some(m) = served.get(fallback) {
                priorities.push(PlannedPriority {
                    group: fallback.clone(),
                    members: m.clone(),
                });
            }
        }
        routes.push(PlannedRoute {
            route_key: name.clone(),
            group: name.clone(),
            cluster_name: route_cluster_name(routes.len(), name),
            priorities,
        });
    }
    routes
}

impl Compiler<'_> {
    /// The classified entries as groups: a mock group answers locally, a real group
    /// gets its deployments (one per distinct deployment id, weighted); a group with
    /// neither is left out, one with both is an error.
    pub(super) fn serve_groups(
        &mut self,
        groups: &IndexMap<&str, Vec<Classified>>,
    ) -> Result<ServedGroups, ConfigError> {
        let mut served = ServedGroups {
            router_groups: Vec::new(),
            deployments: Vec::new(),
            members: IndexMap::new(),
        };
        let mut seen_ids: BTreeMap<String, usize> = BTreeMap::new();
        for (name, members) in groups {
            let mocks: Vec<&Mock> = members.iter().filter_map(Classified::as_mock).collect();
            let reals: Vec<&Real> = members.iter().filter_map(Classified::as_real).collect();
            if let (Some(mock), Some(real)) = (mocks.first(), reals.first()) {
                return Err(ConfigError::at(
                    self.file,
                    format!("model_list[{}]", real.index.max(mock.index)),
                    format!(
                        "model group {name:?} mixes mock deployments (mock_response, model_list[{}]) and real ones (model_list[{}]); give the mock its own model_name",
                        mock.index, real.index
                    ),
                ));
            }
            if mocks.is_empty() && reals.is_empty() {
                self.warn(
                    format!("model_list[{}]", members_first_index(members)),
                    format!("model group {name:?} has no deployment Switchyard can serve; it is left out (requests for it get 400 unknown model)"),
                );
                continue;
            }
            let endpoints = union_endpoints(members);
            if let Some(first) = mocks.first() {
                self.warn_different_mocks(name, &mocks, first);
                served.router_groups.push(GroupConfig {
                    name: name.to_string(),
                    route_key: name.to_string(),
                    mock_response: Some(first.response.clone()),
                    endpoints,
                });
                continue;
            }
            let reals = self.distinct_deployments(reals, &mut seen_ids);
            let weights = self.group_weights(name, &reals)?;
            let mut group_members = Vec::new();
            for (real, weight) in reals.iter().zip(weights) {
                group_members.push((served.deployments.len(), weight));
                served
                    .deployments
                    .push(planned_deployment(name, real, weight));
            }
            served.router_groups.push(GroupConfig {
                name: name.to_string(),
                route_key: name.to_string(),
                mock_response: None,
                endpoints,
            });
            served.members.insert(name.to_string(), group_members);
        }
        Ok(served)
    }

    fn warn_different_mocks(&mut self, name: &str, mocks: &[&Mock], first: &Mock) {
        if mocks.iter().any(|m| m.response != first.response) {
            self.warn(
                format!("model_list[{}].litellm_params.mock_response", first.index),
                format!("model group {name:?} has several different mock responses; the first one is used"),
            );
        }
    }

    /// Identical entries get identical LiteLLM ids; LiteLLM keeps one of them.
    fn distinct_deployments<'r>(
        &mut self,
        mut reals: Vec<&'r Real>,
        seen_ids: &mut BTreeMap<String, usize>,
    ) -> Vec<&'r Real> {
        reals.retain(|real| match seen_ids.get(&real.upstream.deployment_id) {
            Some(first) => {
                self.warnings.push(format!(
                    "model_list[{}]: same deployment id as model_list[{first}] (identical entries); skipped",
                    real.index
                ));
                false
            }
            None => {
                seen_ids.insert(real.upstream.deployment_id.clone(), real.index);
                true
            }
        });
        reals
    }

    /// `router_settings.model_group_alias`, only to groups that are served: alias →
    /// group, and the aliases hidden from `/models`.
    pub(super) fn aliases(
        &mut self,
        router_groups: &[GroupConfig],
    ) -> (BTreeMap<String, String>, BTreeSet<String>) {
        let mut aliases = BTreeMap::new();
        let mut hidden_aliases = BTreeSet::new();
        for (alias, target) in &self.config.router_settings.model_group_alias {
            let group = target.group();
            let served = router_groups
                .iter()
                .any(|g| g.name == group || crate::litellm::wildcard_match(&g.name, group));
            if !served {
                self.warn(
                    format!("router_settings.model_group_alias.{alias}"),
                    format!("model group {group:?} is not served (all its deployments were skipped); alias dropped"),
                );
                continue;
            }
            aliases.insert(alias.clone(), group.to_string());
            if target.hidden() {
                hidden_aliases.insert(alias.clone());
            }
        }
        (aliases, hidden_aliases)
    }

    /// LiteLLM's router settings as Envoy balancing, retry and outlier-detection
    /// settings (router_settings wins over litellm_settings).
    pub(super) fn routing_policy(&mut self) -> RoutingPolicy {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let strategy = rs.routing_strategy.as_deref().unwrap_or("simple-shuffle");
        let least_request = matches!(strategy, "least-busy" | "latency-based-routing");
        let mut warnings = Vec::new();
        if !least_request && strategy != "simple-shuffle" {
            warnings.push((
                "router_settings.routing_strategy".to_string(),
                format!("{strategy:?} needs shared usage or cost counters Envoy does not keep; weighted random (simple-shuffle) is used"),
            ));
        }
        let mut policy = RoutingPolicy {
            least_request,
            num_retries: rs.num_retries.or(ls.num_retries).unwrap_or(2),
            retry_rate_limited: true,
            retry_server_errors: true,
            retry_timeouts: true,
            retry_statuses: Vec::new(),
            allowed_fails: rs.allowed_fails.or(ls.allowed_fails).unwrap_or(3),
            cooldown_secs: rs.cooldown_time.unwrap_or(5.0),
        };
        if let Some(per_type) = &rs.retry_policy {
            // Envoy has one retry budget per route: each error type is retried or not
            // (count > 0), and the budget is the largest count.
            let mut largest = 0;
            for (kind, &count) in per_type {
                largest = largest.max(count);
                let on = count > 0;
                match kind.as_str() {
                    "RateLimitErrorRetries" => policy.retry_rate_limited = on,
                    "InternalServerErrorRetries" => policy.retry_server_errors = on,
                    "TimeoutErrorRetries" => policy.retry_timeouts = on,
                    "AuthenticationErrorRetries" if on => policy.retry_statuses.push(401),
                    "BadRequestErrorRetries" if on => policy.retry_statuses.push(400),
                    "AuthenticationErrorRetries" | "BadRequestErrorRetries" => {}
                    other => warnings.push((
                        format!("router_settings.retry_policy.{other}"),
                        "Envoy cannot tell this error type apart by status; ignored".to_string(),
                    )),
                }
            }
            policy.num_retries = largest;
        }
        for (path, message) in warnings {
            self.warn(path, message);
        }
        policy
    }

    /// Fallback groups per served group: `fallbacks` (router_settings, else
    /// litellm_settings), and `default_fallbacks` for groups without their own.
    /// Targets that are not served are dropped with a warning.
    pub(super) fn fallbacks(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
    ) -> BTreeMap<String, Vec<String>> {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let default = rs
            .default_fallbacks
            .as_ref()
            .or(ls.default_fallbacks.as_ref());
        self.fallback_chains(
            served,
            "fallbacks",
            rs.fallbacks.as_ref(),
            ls.fallbacks.as_ref(),
            default,
        )
    }

    /// `context_window_fallbacks` and `content_policy_fallbacks` per served group.
    pub(super) fn error_fallbacks(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
    ) -> BTreeMap<String, ErrorFallbacks> {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let context = self.fallback_chains(
            served,
            "context_window_fallbacks",
            rs.context_window_fallbacks.as_ref(),
            ls.context_window_fallbacks.as_ref(),
            None,
        );
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let policy = self.fallback_chains(
            served,
            "content_policy_fallbacks",
            rs.content_policy_fallbacks.as_ref(),
            ls.content_policy_fallbacks.as_ref(),
            None,
        );
        let mut out: BTreeMap<String, ErrorFallbacks> = BTreeMap::new();
        for (group, chain) in context.into_iter().filter(|(_, c)| !c.is_empty()) {
            out.entry(group).or_default().context_window = chain;
        }
        for (group, chain) in policy.into_iter().filter(|(_, c)| !c.is_empty()) {
            out.entry(group).or_default().content_policy = chain;
        }
        out
    }

    /// One kind of fallback chain: `key` from router_settings, else litellm_settings,
    /// and `default` for groups without their own. Unserved targets are dropped with
    /// a warning.
    fn fallback_chains(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
        key: &str,
        from_router: Option<&FallbackList>,
        from_litellm: Option<&FallbackList>,
        default: Option<&Vec<String>>,
    ) -> BTreeMap<String, Vec<String>> {
        let (list, list_path) = match (from_router, from_litellm) {
            (Some(l), _) => (Some(l), format!("router_settings.{key}")),
            (None, Some(l)) => (Some(l), format!("litellm_settings.{key}")),
            (None, None) => (None, String::new()),
        };
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut warnings = Vec::new();
        type Warnings = Vec<(String, String)>;
        fn keep(
            served: &IndexMap<String, Vec<(usize, u32)>>,
            group: &str,
            targets: &[String],
            path: &str,
            out: &mut BTreeMap<String, Vec<String>>,
            warnings: &mut Warnings,
        ) {
            let chain = out.entry(group.to_string()).or_default();
            for t in targets {
                if t == group || chain.contains(t) {
                    continue;
                }
                if served.contains_key(t) {
                    chain.push(t.clone());
                } else {
                    warnings.push((
                        path.to_string(),
                        format!("fallback {t:?} is not a model group with real deployments (mock or unknown); skipped"),
                    ));
                }
            }
        }
        for (i, entry) in list.into_iter().flatten().enumerate() {
            for (group, targets) in entry {
                let path = format!("{list_path}[{i}].{group}");
                if served.contains_key(group) {
                    keep(served, group, targets, &path, &mut out, &mut warnings);
                } else {
                    warnings.push((path, format!("{group:?} is not a model group with real deployments; its fallbacks are ignored")));
                }
            }
        }
        if let Some(default) = default {
            for group in served.keys() {
                if !out.contains_key(group) {
                    keep(
                        served,
                        group,
                        default,
                        "default_fallbacks",
                        &mut out,
                        &mut warnings,
                    );
                }
            }
        }
        for (path, message) in warnings {
            self.warn(path, message);
        }
        out
    }

    /// Weights of a group's deployments, LiteLLM simple-shuffle style (module docs).
    fn group_weights(&mut self, group: &str, reals: &[&Real]) -> Result<Vec<u32>, ConfigError> {
        let (field, raw): (&str, Vec<Option<f64>>) = if reals.iter().any(|r| r.weight.is_some()) {
            ("weight", reals.iter().map(|r| r.weight).collect())
        } else if reals.iter().any(|r| r.rpm.is_some()) {
            (
                "rpm",
                reals.iter().map(|r| r.rpm.map(|v| v as f64)).collect(),
            )
        } else if reals.iter().any(|r| r.tpm.is_some()) {
            (
                "tpm",
                reals.iter().map(|r| r.tpm.map(|v| v as f64)).collect(),
            )
        } else {
            return Ok(vec![1; reals.len()]);
        };
        for (real, value) in reals.iter().zip(&raw) {
            if value.is_none() {
                self.warn(
                    format!("model_list[{}].litellm_params", real.index),
                    format!("other deployments of model group {group:?} set {field} and this one does not; it gets weight 0 (no traffic), as in LiteLLM"),
                );
            }
        }
        let raw: Vec<f64> = raw.into_iter().map(|v| v.unwrap_or(0.0)).collect();
        if raw.iter().sum::<f64>() <= 0.0 {
            return Err(ConfigError::at(
                self.file,
                format!(
                    "model_list[{}].litellm_params.{field}",
                    reals.first().map(|real| real.index).unwrap_or_default()
                ),
                format!("every deployment of model group {group:?} has {field} 0; no deployment would get traffic"),
            ));
        }
        Ok(normalize_weights(&raw))
    }
}

/// The deployment of a group member, with its weight.
fn planned_deployment(group: &str, real: &Real, weight: u32) -> PlannedDeployment {
    PlannedDeployment {
        name: match real.variant {
            None => deployment_name(real.index, group),
            Some(k) => deployment_name(real.index, &format!("{k}_{group}")),
        },
        upstream: real.upstream.clone(),
        address: real.address.clone(),
        weight,
        entry_index: real.index,
        timeout_secs: real.timeout_secs,
        stream_timeout_secs: real.stream_timeout_secs,
        max_retries: real.max_retries,
        concurrency_hint: real.max_parallel_requests.or(real.rpm),
    }
}

/// Turns non-negative weights into Envoy's integer weights, keeping their ratios:
/// whole numbers whose sum fits are kept as they are; otherwise they are scaled to sum
/// to about a million, and a non-zero weight never rounds down to 0.
fn normalize_weights(raw: &[f64]) -> Vec<u32> {
    let total: f64 = raw.iter().sum();
    let whole = raw.iter().all(|w| w.fract() == 0.0);
    if whole && total <= 1_000_000_000.0 {
        return raw.iter().map(|w| *w as u32).collect();
    }
    raw.iter()
        .map(|w| {
            if *w <= 0.0 {
                0
            } else {
                ((w / total * 1_000_000.0).round() as u32).max(1)
            }
        })
        .collect()
}

/// Attempts the route may make in all: LiteLLM gives the group `num_retries + 1`
/// attempts and then each fallback group as many again; Envoy has one budget per
/// request, so it is their sum.
pub fn total_attempts(route: &PlannedRoute, routing: &RoutingPolicy) -> u32 {
    let levels = u32::try_from(route.priorities.len().max(1)).unwrap_or(u32::MAX);
    routing.num_retries.saturating_add(1).saturating_mul(levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn mock_groups_answer_locally() {
        let text = "model_list:\n  - model_name: demo\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: hello\n    model_info:\n      mode: chat\n";
        let plan = compile_text(text).unwrap();
        assert!(plan.deployments.is_empty() && plan.routes.is_empty());
        assert_eq!(
            plan.router.groups,
            vec![GroupConfig {
                name: "demo".into(),
                route_key: "demo".into(),
                mock_response: Some("hello".into()),
                endpoints: vec!["chat_completions".into(), "completions".into()],
            }]
        );
        assert!(plan.host_env_keys.is_empty(), "a mock needs no key");
    }

    #[test]
    fn mixed_mock_and_real_is_an_error() {
        let text = "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: hi\n";
        let e = compile_text(text).unwrap_err().to_string();
        assert!(
            e.starts_with("config.yaml: model_list[1]: model group \"g\" mixes mock deployments"),
            "{e}"
        );
    }

    #[test]
    fn identical_entries_collapse() {
        let entry = "  - model_name: g\n    litellm_params: {model: openai/gpt-4o}\n";
        let plan = compile_text(&format!("model_list:\n{entry}{entry}")).unwrap();
        assert_eq!(plan.deployments.len(), 1);
        assert!(has_warning(
            &plan,
            "model_list[1]: same deployment id as model_list[0]"
        ));
    }

    #[test]
    fn fallback_chains_become_priorities() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n  - model_name: a\n    litellm_params: {model: openai/a2}\n  - model_name: b\n    litellm_params: {model: anthropic/b}\n  - model_name: c\n    litellm_params: {model: openai/c}\n  - model_name: m\n    litellm_params: {model: openai/m, mock_response: hi}\nrouter_settings:\n  fallbacks: [{a: [b, m, c, a]}]\n  default_fallbacks: [c]\n";
        let plan = compile_text(text).unwrap();
        let chains: Vec<(String, Vec<String>)> = plan
            .routes
            .iter()
            .map(|r| {
                (
                    r.group.clone(),
                    r.priorities.iter().map(|p| p.group.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            chains,
            vec![
                ("a".into(), vec!["a".into(), "b".into(), "c".into()]),
                ("b".into(), vec!["b".into(), "c".into()]),
                ("c".into(), vec!["c".into()]),
            ],
            "explicit chain (self and the mock dropped), default_fallbacks elsewhere"
        );
        assert_eq!(plan.routes[0].priorities[0].members.len(), 2);
        assert!(has_warning(&plan, "router_settings.fallbacks[0].a: fallback \"m\" is not a model group with real deployments"));

        // litellm_settings.fallbacks apply when router_settings has none.
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n  - model_name: b\n    litellm_params: {model: openai/b}\nlitellm_settings:\n  fallbacks: [{a: [b]}]\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.routes[0].priorities.len(), 2);
    }

    #[test]
    fn error_fallback_chains() {
        let text = "model_list:\n  - model_name: small\n    litellm_params: {model: openai/s}\n  - model_name: big\n    litellm_params: {model: anthropic/b}\n  - model_name: safe\n    litellm_params: {model: openai/x}\nlitellm_settings:\n  context_window_fallbacks: [{small: [big, nope]}]\nrouter_settings:\n  content_policy_fallbacks: [{small: [safe]}, {big: [safe]}]\n";
        let plan = compile_text(text).unwrap();
        let f = &plan.router.error_fallbacks;
        assert_eq!(f["small"].context_window, vec!["big".to_string()]);
        assert_eq!(f["small"].content_policy, vec!["safe".to_string()]);
        assert!(f["big"].context_window.is_empty());
        assert_eq!(f["big"].content_policy, vec!["safe".to_string()]);
        assert!(!f.contains_key("safe"));
        assert!(has_warning(
            &plan,
            "litellm_settings.context_window_fallbacks[0].small: fallback \"nope\""
        ));
        // They are not ordinary fallbacks: no priorities for them.
        assert_eq!(plan.routes[0].priorities.len(), 1);
    }

    #[test]
    fn routing_policy_from_router_settings() {
        let plan = compile_text(&one("      model: openai/x\n")).unwrap();
        let r = &plan.routing;
        assert_eq!(
            (
                r.num_retries,
                r.allowed_fails,
                r.cooldown_secs,
                r.least_request
            ),
            (2, 3, 5.0, false),
            "LiteLLM's defaults"
        );
        assert!(r.retry_rate_limited && r.retry_server_errors && r.retry_timeouts);

        let text = format!(
            "{}router_settings:\n  routing_strategy: least-busy\n  num_retries: 1\n  allowed_fails: 2\n  cooldown_time: 30\n  retry_policy: {{RateLimitErrorRetries: 0, InternalServerErrorRetries: 4, AuthenticationErrorRetries: 1, ContentPolicyViolationErrorRetries: 2}}\nlitellm_settings:\n  num_retries: 7\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        let r = &plan.routing;
        assert!(r.least_request);
        assert_eq!(r.num_retries, 4, "retry_policy: the largest per-type count");
        assert!(!r.retry_rate_limited && r.retry_server_errors);
        assert_eq!(r.retry_statuses, vec![401]);
        assert_eq!((r.allowed_fails, r.cooldown_secs), (2, 30.0));
        assert!(has_warning(
            &plan,
            "router_settings.retry_policy.ContentPolicyViolationErrorRetries"
        ));

        let text = format!(
            "{}router_settings:\n  routing_strategy: cost-based-routing\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        assert!(!plan.routing.least_request);
        assert!(has_warning(&plan, "router_settings.routing_strategy"));
    }

    #[test]
    fn weights_follow_simple_shuffle() {
        let text = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, rpm: 600, weight: 3}\n  - model_name: g\n    litellm_params: {model: openai/b, rpm: 60, weight: 1}\n  - model_name: h\n    litellm_params: {model: openai/c, rpm: 900}\n  - model_name: h\n    litellm_params: {model: openai/d, tpm: 5}\n  - model_name: i\n    litellm_params: {model: openai/e}\n  - model_name: i\n    litellm_params: {model: openai/f}\n";
        let plan = compile_text(text).unwrap();
        let weights: Vec<Vec<u32>> = plan
            .routes
            .iter()
            .map(|r| r.priorities[0].members.iter().map(|m| m.1).collect())
            .collect();
        assert_eq!(weights, vec![vec![3, 1], vec![900, 0], vec![1, 1]]);
        assert!(has_warning(
            &plan,
            "model_list[3].litellm_params: other deployments of model group \"h\" set rpm"
        ));
        assert_eq!(plan.routes[0].cluster_name, "route_0_g");
        assert_eq!(
            plan.deployments[plan.routes[0].priorities[0].members[0].0].name,
            "dep_0_g"
        );
        assert_eq!(plan.deployments[0].weight, 3);

        assert_eq!(normalize_weights(&[0.9, 0.1]), vec![900_000, 100_000]);
        assert_eq!(normalize_weights(&[2.0, 0.0]), vec![2, 0]);
        let e = compile_text(
            "model_list:\n  - model_name: z\n    litellm_params: {model: openai/a, weight: 0}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("every deployment of model group \"z\" has weight 0"),
            "{e}"
        );
    }

    #[test]
    fn aliases_timeouts_and_body_limit() {
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: local\n    litellm_params: {model: palm/chat-bison}\nrouter_settings:\n  timeout: 30\n  stream_timeout: 120\n  model_group_alias:\n    gpt-4: gpt-4o\n    quiet: {model: gpt-4o, hidden: true}\n    llama: local\nlitellm_settings:\n  request_timeout: 600\ngeneral_settings:\n  max_request_size_mb: 2\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(
            plan.router.aliases.get("gpt-4").map(String::as_str),
            Some("gpt-4o")
        );
        assert_eq!(
            plan.router.aliases.get("quiet").map(String::as_str),
            Some("gpt-4o")
        );
        assert!(!plan.router.aliases.contains_key("llama"));
        assert!(has_warning(
            &plan,
            "router_settings.model_group_alias.llama"
        ));
        assert_eq!(
            plan.router.hidden_aliases.iter().collect::<Vec<_>>(),
            ["quiet"]
        );
        assert_eq!(plan.timeout_secs, Some(30.0), "router_settings wins");
        assert_eq!(plan.stream_timeout_secs, Some(120.0));
        assert_eq!(plan.router.max_request_body_bytes, 2 * 1024 * 1024);

        let plan = compile_text("litellm_settings:\n  request_timeout: 600\n").unwrap();
        assert_eq!(plan.timeout_secs, Some(600.0));
        assert_eq!(
            plan.router.max_request_body_bytes,
            DEFAULT_MAX_REQUEST_BODY_BYTES
        );
    }
}
