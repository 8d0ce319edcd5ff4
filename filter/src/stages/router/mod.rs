//! The router stage: the filter instance in the listener's HTTP filter chain.
//!
//! For each request it classifies the path, answers what it can itself (`/models`,
//! health, mock deployments, every client error), and for an LLM call reads the body
//! just far enough to learn `model`, `stream` and LiteLLM's per-request fields
//! (`per_request`: `fallbacks`, a client's `mock_response`, …), resolves the model group (exact
//! name, `model_group_alias`, then wildcard patterns), sets the routing headers and
//! clears Envoy's route cache so the route for that group is chosen. Translation is
//! *not* done here: it happens per attempt in the upstream stage, so Envoy's retries
//! and failover can move a request between providers.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::endpoint::{classify, ClientApi, Endpoint, Route};
use crate::error::GatewayError;
use crate::host::{header_in, Flow, Host, Level};
use crate::mock;
use crate::plugin_config::{ErrorFallbacks, ErrorKind, RouterConfig};

// The headers this stage writes for Envoy's routes and the key check, and the one
// the keyservice writes for the responder stage's [`reroute`] (each documented in
// `switchyard_contract::headers`).
pub use switchyard_contract::headers::{
    ALIAS_TARGET_HEADER, FALLBACK_GROUPS_HEADER, GROUP_HEADER, PER_TRY_TIMEOUT_HEADER,
    REQUESTED_MODEL_HEADER, RETRIES_HEADER, STREAM_HEADER, TIMEOUT_HEADER,
};
/// Headers never trusted from a client. ([`crate::spend::ADMISSION_HEADER`] and
/// [`crate::observe::call::CALL_ID_CARRIER_HEADER`] are read on an error fallback's
/// replay, which the redirect gave them, before they are removed.)
pub const INTERNAL_HEADERS: [&str; 24] = [
    GROUP_HEADER,
    REQUESTED_MODEL_HEADER,
    ALIAS_TARGET_HEADER,
    STREAM_HEADER,
    RETRIES_HEADER,
    TIMEOUT_HEADER,
    PER_TRY_TIMEOUT_HEADER,
    FALLBACK_GROUPS_HEADER,
    // Set by the keyservice through ext_authz, for the responder and spend records.
    switchyard_contract::headers::KEY_HASH_HEADER,
    switchyard_contract::headers::USER_ID_HEADER,
    switchyard_contract::headers::TEAM_ID_HEADER,
    switchyard_contract::headers::LEASE_HEADER,
    switchyard_contract::headers::KEY_MODELS_HEADER,
    switchyard_contract::headers::CLIENT_MOCK_HEADER,
    switchyard_contract::headers::KEY_ALIAS_HEADER,
    switchyard_contract::headers::TEAM_ALIAS_HEADER,
    switchyard_contract::headers::KEY_SPEND_HEADER,
    switchyard_contract::headers::KEY_MAX_BUDGET_HEADER,
    switchyard_contract::headers::TEAM_SPEND_HEADER,
    switchyard_contract::headers::TEAM_MAX_BUDGET_HEADER,
    crate::spend::ADMISSION_HEADER,
    // Set by the upstream stage on an error fallback's redirect, for the replay.
    crate::observe::call::CALL_ID_CARRIER_HEADER,
    switchyard_contract::headers::KEY_ADMIN_HEADER,
    switchyard_contract::headers::HEALTH_PROBE_HEADER,
];
/// The filter-state property carrying [`RouteFacts`] to the upstream stage.
///
/// Filter state, not headers: Envoy hands every retry attempt the same request
/// header map, already edited by the previous attempt's upstream stage, while filter
/// state set here reads the same on every attempt.
pub const ROUTE_PROPERTY: &str = "switchyard_route";
/// Filter state naming the model group, for access logs
/// (`%FILTER_STATE(wasm.switchyard_group:PLAIN)%`).
pub const GROUP_PROPERTY: &str = "switchyard_group";
/// Filter state set to `anthropic` for a request routed from an Anthropic-format
/// route (`/v1/messages`), read by Envoy's `local_reply_config`.
pub use switchyard_contract::filter_state::API_PROPERTY;

/// The `x-envoy-max-retries` a request's own `num_retries` sets, if any: a client may
/// lower the retries of its request, never raise them above the config's
/// (`router_settings.num_retries`, else `litellm_settings.num_retries`, else
/// LiteLLM's default 2: [`GroupRetries::num_retries`](crate::plugin_config::GroupRetries)).
/// A value at or above the config's leaves the route's own retry policy, which
/// also counts the config's fallback groups, in charge. LiteLLM 1.108 takes a
/// body `num_retries` uncapped; a gateway that pays for every attempt does not.
pub fn client_retries(
    requested: Option<u32>,
    config: &crate::plugin_config::GroupRetries,
) -> Option<u32> {
    requested.filter(|n| *n < config.num_retries)
}

/// Prefixes of Envoy request headers that steer retries (`x-envoy-retry-on`,
/// `x-envoy-retriable-status-codes`, `x-envoy-retriable-header-names`,
/// `x-envoy-hedge-on-per-try-timeout`): removed from every client request, like
/// [`INTERNAL_HEADERS`]; only the config's retry policy decides what is retried.
pub const CLIENT_RETRY_HEADER_PREFIXES: [&str; 3] =
    ["x-envoy-retry", "x-envoy-retriable", "x-envoy-hedge"];

/// Whether a request header is one a client may not send through (internal, or
/// one of Envoy's retry controls).
pub fn is_internal_header(name: &str) -> bool {
    INTERNAL_HEADERS
        .iter()
        .any(|internal| name.eq_ignore_ascii_case(internal))
        || CLIENT_RETRY_HEADER_PREFIXES.iter().any(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        })
}

/// `created` of every `/models` entry, LiteLLM's constant.
const MODELS_CREATED: u64 = 1_677_610_602;

/// One group, prepared at configure time.
#[derive(Debug)]
struct Group {
    name: String,
    route_key: String,
    mock_response: Option<String>,
    endpoints: Vec<Endpoint>,
}

/// A wildcard `model_name` split around its `*`.
#[derive(Debug)]
struct Wildcard {
    prefix: String,
    suffix: String,
    group: usize,
}

/// How a model name resolved.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// Index into the configured groups.
    pub group: usize,
    /// For a wildcard group, the part of the model that matched `*`.
    pub wildcard: Option<&'a str>,
}

/// The router stage's configure-time state: shared by all requests on a worker.
#[derive(Debug)]
pub struct Router {
    groups: Vec<Group>,
    exact: HashMap<String, usize>,
    /// Alias → the model name it stands for (resolved like a requested name).
    aliases: HashMap<String, String>,
    wildcards: Vec<Wildcard>,
    max_body: usize,
    models_body: Vec<u8>,
    error_fallbacks: std::collections::BTreeMap<String, ErrorFallbacks>,
    defer_answers: bool,
    /// The group every request goes to (`RouterConfig::forced_group`).
    forced: Option<usize>,
    /// The routes' retry policy (per-request fallbacks).
    retries: crate::plugin_config::GroupRetries,
    /// What a finished request is handed to (the metrics observer, …).
    observers: crate::observe::Observers,
    /// `GET /metrics` waits for the key check (`require_auth_for_metrics_endpoint`,
    /// with virtual keys).
    metrics_after_key_check: bool,
    /// The Envoy cluster of Envoy's admin, whose stats `/metrics` appends.
    admin_cluster: Option<String>,
    /// `/health`'s probes and the canned `/model/info` and `/model_group/info`.
    info: crate::plugin_config::ModelInfoConfig,
    model_info_body: Vec<u8>,
    model_group_info_body: Vec<u8>,
}

impl Router {
    /// Whether keys are checked (every local answer waits for ext_authz).
    pub fn defers_answers(&self) -> bool {
        self.defer_answers
    }

    /// The observers finished requests are handed to.
    pub fn observers(&self) -> &crate::observe::Observers {
        &self.observers
    }

    /// Starts the answer to `GET /metrics` (see `observe::metrics::scrape`).
    pub fn scrape_metrics(
        &self,
        scrape: &mut crate::observe::metrics::scrape::Scrape,
        host: &mut dyn Host,
    ) -> Flow {
        scrape.start(&self.observers.metrics, self.admin_cluster.as_deref(), host)
    }

    /// A callout's answer for a `/metrics` request's scrape; `true` when it was one.
    pub fn on_scrape_answer(
        &self,
        scrape: &mut crate::observe::metrics::scrape::Scrape,
        host: &mut dyn Host,
        token: u32,
        answer: &crate::host::CallAnswer,
    ) -> bool {
        scrape.on_call_response(&self.observers.metrics, host, token, answer)
    }

    /// Prepares the lookup tables and canned answers. Fails on an alias that names no
    /// group.
    pub fn new(config: &RouterConfig) -> Result<Router, String> {
        let mut groups = Vec::with_capacity(config.groups.len());
        let mut exact = HashMap::new();
        let mut wildcards = Vec::new();
        for (i, g) in config.groups.iter().enumerate() {
            let mut endpoints = Vec::new();
            for e in &g.endpoints {
                endpoints.push(
                    Endpoint::parse(e)
                        .ok_or_else(|| format!("groups[{i}].endpoints: unknown endpoint {e:?}"))?,
                );
            }
            if let Some((prefix, suffix)) = g.name.split_once('*') {
                wildcards.push(Wildcard {
                    prefix: prefix.to_string(),
                    suffix: suffix.to_string(),
                    group: i,
                });
            } else {
                exact.entry(g.name.clone()).or_insert(i);
            }
            groups.push(Group {
                name: g.name.clone(),
                route_key: g.route_key.clone(),
                mock_response: g.mock_response.clone(),
                endpoints,
            });
        }
        // Most specific pattern first; equal ones keep config order (stable sort).
        wildcards.sort_by_key(|w| std::cmp::Reverse(w.prefix.len() + w.suffix.len()));

        let mut router = Router {
            groups,
            exact,
            aliases: HashMap::new(),
            wildcards,
            max_body: config.max_request_body_bytes,
            models_body: Vec::new(),
            error_fallbacks: config.error_fallbacks.clone(),
            defer_answers: config.defer_answers,
            forced: None,
            retries: config.retries.clone(),
            observers: crate::observe::Observers::from_config(config),
            metrics_after_key_check: config.defer_answers && config.metrics.require_auth,
            admin_cluster: config.metrics.admin_cluster.clone(),
            info: config.info.clone(),
            model_info_body: Vec::new(),
            model_group_info_body: Vec::new(),
        };
        (router.model_info_body, router.model_group_info_body) = health::info_bodies(&config.info)?;
        if let Some(name) = &config.forced_group {
            router.forced = Some(
                router
                    .groups
                    .iter()
                    .position(|g| &g.name == name)
                    .ok_or_else(|| format!("forced_group: no model group is named {name:?}"))?,
            );
        }
        for (alias, target) in &config.aliases {
            if router.resolve_group_name(target).is_none() {
                return Err(format!(
                    "aliases.{alias}: names model {target:?}, which no model group serves"
                ));
            }
            router.aliases.insert(alias.clone(), target.clone());
        }

        let mut names: Vec<&str> = router.groups.iter().map(|g| g.name.as_str()).collect();
        names.extend(
            config
                .aliases
                .keys()
                .filter(|a| !config.hidden_aliases.contains(*a))
                .map(String::as_str),
        );
        let data: Vec<Value> = names
            .iter()
            .map(|id| json!({"id": id, "object": "model", "created": MODELS_CREATED, "owned_by": "openai"}))
            .collect();
        router.models_body = serde_json::to_vec(&json!({"data": data, "object": "list"}))
            .map_err(|e| format!("could not build /models: {e}"))?;
        Ok(router)
    }

    /// Resolves a requested model: the forced group when there is one, else exact
    /// group, alias (whose target resolves the same way, wildcards included), then
    /// wildcard.
    pub fn resolve<'a>(&'a self, model: &'a str) -> Option<Resolved<'a>> {
        if let Some(group) = self.forced {
            return Some(Resolved {
                group,
                wildcard: None,
            });
        }
        if let Some(&group) = self.exact.get(model) {
            return Some(Resolved {
                group,
                wildcard: None,
            });
        }
        if let Some(target) = self.aliases.get(model) {
            return self.resolve_group_name(target);
        }
        self.match_wildcard(model)
    }

    /// Exact group name, else wildcard (no aliases: an alias never names an alias).
    fn resolve_group_name<'a>(&'a self, model: &'a str) -> Option<Resolved<'a>> {
        match self.exact.get(model) {
            Some(&group) => Some(Resolved {
                group,
                wildcard: None,
            }),
            None => self.match_wildcard(model),
        }
    }

    fn match_wildcard<'a>(&'a self, model: &'a str) -> Option<Resolved<'a>> {
        self.wildcards.iter().find_map(|w| {
            let rest = model.strip_prefix(w.prefix.as_str())?;
            let captured = rest.strip_suffix(w.suffix.as_str())?;
            Some(Resolved {
                group: w.group,
                wildcard: Some(captured),
            })
        })
    }

    /// The canned `/models` body.
    pub fn models_body(&self) -> &[u8] {
        &self.models_body
    }

    /// What `/health` probes, and the info answers' sources.
    pub fn info(&self) -> &crate::plugin_config::ModelInfoConfig {
        &self.info
    }
}

/// Where one request is in the router stage.
#[derive(Debug, Default)]
pub struct RouterExchange {
    /// Set while the body of an LLM call is being read.
    pending: Option<(Endpoint, Option<String>)>,
    /// The format the client speaks (errors take its shape).
    api: ClientApi,
    /// Set when Envoy replays the request as an error fallback.
    error_fallback: Option<ErrorFallbackStep>,
    request_id: Option<String>,
    /// What the request's record needs (`observe`): the call, what the client
    /// asked for, how it ended here.
    call: CallFacts,
    /// A `GET /metrics` answer waiting for Envoy's admin.
    scrape: crate::observe::metrics::scrape::Scrape,
    /// `/health` (keys off): the probes in flight.
    health: Option<health::HealthRun>,
    /// The answer's content being read for the callbacks (message logging on).
    answer: Option<Box<crate::observe::answer::AnswerCollector>>,
}

/// Routes a request again, to `model`: the responder stage's answer to a key's
/// `aliases` (the keyservice checked the key for `model` and names it in
/// [`ALIAS_TARGET_HEADER`]). Everything the router stage decided from the model is
/// decided again — group header, route facts, a mock group's deferred answer — and
/// the route cache cleared, so that the group served is the group authorized. The
/// request's body is buffered (`size` bytes); `path` is its path. Never used on a
/// replay (the keyservice only names a target on the first pass).
pub fn reroute(
    router: &Router,
    host: &mut dyn Host,
    path: &str,
    model: &str,
    size: usize,
) -> Result<Flow, GatewayError> {
    let Route::Llm {
        endpoint,
        path_model,
        api,
    } = classify("POST", path)
    else {
        return Err(GatewayError::internal(format!(
            "a key alias for a request that names no model ({path})"
        )));
    };
    // An answer the first routing deferred (a mock group's, an unknown model's
    // error) was for the model the alias replaced.
    host.set_property(&[REPLY_PROPERTY], b"");
    host.set_property(&[CLIENT_MOCK_PROPERTY], b"");
    let mut exchange = RouterExchange {
        api,
        ..RouterExchange::default()
    };
    if let Some((id, start)) = crate::observe::call::current(host) {
        exchange.call.call_id = id;
        exchange.call.start_ms = start;
    }
    exchange.route(router, host, endpoint, path_model, Some(model), size)
}

impl RouterExchange {
    /// Request headers: classify, answer locally or wait for the body.
    pub fn on_request_headers(
        &mut self,
        router: &Router,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        // One hostcall for every header; only the internal ones present are removed.
        let headers = host.request_headers();
        // A replay (an error fallback's internal redirect) keeps the admission id the
        // redirect carried, to continue its admission; the keyservice honours one only
        // when it is live for the same key, and ids are never shown to clients.
        let replay = header_in(&headers, ":path")
            .and_then(parse_fallback_path)
            .is_some();
        self.start_call(
            host,
            replay,
            header_in(&headers, crate::observe::call::CALL_ID_CARRIER_HEADER),
        );
        self.call.user_agent = header_in(&headers, "user-agent")
            .map(crate::observe::bounded)
            .unwrap_or_default();
        for (name, _) in &headers {
            if is_internal_header(name)
                && !(replay && name.eq_ignore_ascii_case(crate::spend::ADMISSION_HEADER))
            {
                host.set_request_header(name, None);
            }
        }
        if router.defer_answers {
            // An internal redirect replays the request: forget an earlier answer.
            host.set_property(&[REPLY_PROPERTY], b"");
            host.set_property(&[CLIENT_MOCK_PROPERTY], b"");
            host.set_property(&[LABELS_PROPERTY], b"");
            // The client's credentials as they came, for every replay (`credentials`).
            host.set_property(
                &[crate::credentials::CLIENT_CREDENTIALS_PROPERTY],
                &crate::credentials::encode(&headers),
            );
        }
        let method = header_in(&headers, ":method").unwrap_or_default();
        let mut path = header_in(&headers, ":path").unwrap_or_default().to_string();
        if let Some((step, original)) = parse_fallback_path(&path) {
            self.error_fallback = Some(step);
            path = original;
        }
        // The access log prints this, never the path itself: a path may hold a key.
        // The record keeps it too (no read back when the request ends).
        let log_path = crate::log_path::redact(&path);
        host.set_property(&[crate::log_path::LOG_PATH_PROPERTY], log_path.as_bytes());
        self.call.route = log_path;
        // Errors on the Anthropic paths take Anthropic's shape, wrong method included.
        if let Route::Llm { api, .. } = classify("POST", &path) {
            self.api = api;
        }
        let api = self.api;
        match classify(method, &path) {
            Route::Models => {
                return answer_locally(
                    router,
                    host,
                    200,
                    &[
                        ("content-type", "application/json"),
                        (MODELS_LIST_MARKER, "1"),
                    ],
                    router.models_body(),
                )
            }
            // LiteLLM's `/metrics` needs a key unless `require_auth_for_metrics_endpoint`
            // is false: then (or without keys) it is answered here, else by the
            // responder stage once ext_authz checked the key.
            Route::Metrics if router.metrics_after_key_check => return Flow::Continue,
            Route::Metrics => return router.scrape_metrics(&mut self.scrape, host),
            Route::ModelInfo => {
                return health::info_answer(
                    router,
                    host,
                    &path,
                    &router.model_info_body,
                    "model_name",
                )
            }
            Route::ModelGroupInfo => {
                return health::info_answer(
                    router,
                    host,
                    &path,
                    &router.model_group_info_body,
                    "model_group",
                )
            }
            // With keys, the responder stage probes, once the key is known to be
            // the master key.
            Route::Health if router.defer_answers => return Flow::Continue,
            Route::Health => {
                self.health = health::start_health(&router.info, &path, host);
                return Flow::Pause;
            }
            // Health answers never wait for a key (LiteLLM's are unauthenticated).
            Route::Liveliness => reply_json(host, 200, b"\"I'm alive!\""),
            // With virtual keys the keyservice answers: it knows whether its database
            // is connected (rendered route, no key check).
            Route::Readiness if router.defer_answers => return Flow::Continue,
            Route::Readiness => reply_json(
                host,
                200,
                br#"{"status":"healthy","db":"Not connected","cache":null,"gateway":"switchyard"}"#,
            ),
            Route::MethodNotAllowed { allowed } => {
                let err = GatewayError::new(
                    405,
                    format!("Method {method} not allowed on {path}; use {allowed}"),
                );
                let body = if api.is_anthropic() {
                    crate::client::anthropic::error_body(&err)
                } else {
                    err.to_body()
                };
                self.call.error = Some(crate::observe::bounded(&err.message));
                return answer_locally(
                    router,
                    host,
                    405,
                    &[("content-type", "application/json"), ("allow", allowed)],
                    &body,
                );
            }
            // The keyservice serves the key-management API (and checks the master
            // key itself); without keys it does not exist.
            Route::Admin if router.defer_answers => return Flow::Continue,
            Route::Admin | Route::NotFound => {
                return self.reply_error(
                    router,
                    host,
                    &GatewayError::new(404, format!("No route for {method} {path}")),
                )
            }
            Route::Llm {
                endpoint,
                path_model,
                api: _,
            } => {
                if end_of_stream {
                    return self.reply_error(
                        router,
                        host,
                        &GatewayError::bad_request("Request body is required"),
                    );
                }
                let declared = header_in(&headers, "content-length")
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if declared.is_some_and(|n| n > router.max_body) {
                    return self.reply_error(
                        router,
                        host,
                        &GatewayError::payload_too_large(router.max_body),
                    );
                }
                self.pending = Some((endpoint, path_model.map(str::to_string)));
                self.request_id = header_in(&headers, "x-request-id").map(str::to_string);
            }
        }
        Flow::Pause
    }

    /// Request body: wait for all of it, then route.
    pub fn on_request_body(
        &mut self,
        router: &Router,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        let Some((endpoint, path_model)) = self.pending.take() else {
            return Flow::Continue;
        };
        if size > router.max_body {
            return self.reply_error(
                router,
                host,
                &GatewayError::payload_too_large(router.max_body),
            );
        }
        if !end_of_stream {
            self.pending = Some((endpoint, path_model));
            return Flow::Pause;
        }
        match self.route(router, host, endpoint, path_model.as_deref(), None, size) {
            Ok(flow) => flow,
            Err(err) => self.reply_error(router, host, &err),
        }
    }

    /// Routes the request whose whole body is buffered: to `model_override` when
    /// given (a key's alias, [`reroute`]), else to the body's (or the path's) model.
    fn route(
        &mut self,
        router: &Router,
        host: &mut dyn Host,
        endpoint: Endpoint,
        path_model: Option<&str>,
        model_override: Option<&str>,
        size: usize,
    ) -> Result<Flow, GatewayError> {
        let body = host.request_body(size).unwrap_or_default();
        let head: RequestHead<'_> =
            serde_json::from_slice(&body).map_err(|e| body_error(&body, &e))?;
        self.call.stream = head.stream.unwrap_or(false);
        self.call.end_user = head
            .user
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
            .map(|user| crate::observe::bounded(&user))
            .unwrap_or_default();
        self.call.call_type = crate::spend::call_type(self.api, endpoint);
        let callbacks = &router.observers().callbacks;
        if !callbacks.is_empty() {
            // Only with callbacks: the body's metadata, parameters and (message
            // logging on) messages, bounded, for the callbacks' events.
            self.call.details =
                serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .map(|value| {
                        Box::new(crate::observe::RequestDetails::from_request(
                            &value,
                            callbacks.message_logging(),
                        ))
                    });
        }
        if let Some(model) = model_override.or(head.model.as_deref()).or(path_model) {
            if model_override.is_none() {
                self.call.requested_model = crate::observe::bounded(model);
            }
        }
        per_request::refuse_mock_testing(&head)?;
        per_request::check_metadata(&head)?;
        if router.defer_answers && (head.metadata.is_some() || head.tags.is_some()) {
            // For the spend report of an answer the responder may send (a mock).
            let labels = crate::spend::SpendLabels::from_raw(
                head.metadata.map(RawValue::get),
                head.litellm_metadata.map(RawValue::get),
                head.tags.map(RawValue::get),
            );
            host.set_property(&[LABELS_PROPERTY], &labels.encode());
        }
        let model = model_override
            .or(head.model.as_deref())
            .or(path_model)
            .ok_or_else(|| GatewayError::invalid_param("model", "`model` is required"))?;
        if model.is_empty() || model.chars().any(char::is_control) || model.len() > 512 {
            return Err(GatewayError::invalid_param(
                "model",
                format!("Invalid model name {model:?}"),
            ));
        }
        if router.defer_answers && self.error_fallback.is_none() && model_override.is_none() {
            // For the key check: a key's `aliases` apply to the name the client used
            // (also when the config knows no such model). A replay is checked for the
            // group it is replayed to, as named by the group header.
            host.set_request_header(REQUESTED_MODEL_HEADER, Some(model));
        }
        // The request's own fallbacks, checked against the config (and, through
        // ext_authz, against the key) on the first pass and on every replay.
        let chain = per_request::request_chain(router, &head, model, endpoint, self.api)?;
        let resolved = self.resolve(router, chain.as_ref(), model)?;
        let group = router
            .groups
            .get(resolved.group)
            .ok_or_else(|| GatewayError::internal("model group index out of range"))?;
        if !group.endpoints.is_empty() && !group.endpoints.contains(&endpoint) {
            return Err(GatewayError::bad_request(format!(
                "Model {model} (group {}) does not serve /{}; check model_info.mode",
                group.name,
                self.api.path(endpoint)
            ))
            .with_param("model"));
        }

        if let Some(chain) = &chain {
            // For the key check: a key must be allowed every group of its chain.
            host.set_request_header(FALLBACK_GROUPS_HEADER, Some(&chain.route_keys(router)));
        }
        if router.defer_answers {
            if let Some(mock) = head.mock_response {
                // Answered by the responder stage only if the key or its team allows
                // client mocks (the keyservice says so); else the provider is called
                // and never sees the field (LiteLLM's rule).
                let reply = self.client_mock(&head, mock, model, endpoint, host, size);
                host.set_property(&[CLIENT_MOCK_PROPERTY], &reply);
            }
        }

        if let Some(text) = &group.mock_response {
            return self.answer_mock_group(router, host, &head, group, model, text, endpoint, size);
        }

        let request_fallbacks = set_envoy_controls(router, host, &head, chain.as_ref())?;
        host.set_request_header(GROUP_HEADER, Some(&group.route_key));
        let facts = RouteFacts {
            endpoint,
            api: self.api,
            model: model.to_string(),
            wildcard: resolved.wildcard.map(str::to_string),
            error_fallback: self.error_fallback.clone(),
            request_fallbacks,
            call_id: self.call.call_id.clone(),
            call_start_ms: self.call.start_ms,
        };
        host.set_property(&[ROUTE_PROPERTY], &facts.encode());
        if self.api.is_anthropic() {
            host.set_property(
                &[API_PROPERTY],
                switchyard_contract::filter_state::API_ANTHROPIC.as_bytes(),
            );
        }
        host.set_property(&[GROUP_PROPERTY], group.name.as_bytes());
        host.clear_route_cache();
        Ok(Flow::Continue)
    }

    /// The group a request goes to: the one its model names, or on a replay the
    /// step of its fallback chain (the request's own, or the config's).
    fn resolve<'r>(
        &self,
        router: &'r Router,
        chain: Option<&'r per_request::Chain>,
        model: &'r str,
    ) -> Result<Resolved<'r>, GatewayError> {
        Ok(match &self.error_fallback {
            // Replayed along the request's own chain: its body names the group.
            Some(step) if step.kind == ErrorKind::Request => chain
                .and_then(|c| c.names.get(step.step as usize))
                .and_then(|target| router.resolve(target))
                .ok_or_else(|| {
                    GatewayError::internal(format!(
                        "no fallback #{} in the request's `fallbacks`",
                        step.step
                    ))
                })?,
            // Replayed after a provider error: the chain names the group.
            Some(step) => router
                .error_fallbacks
                .get(&step.origin)
                .and_then(|f| f.chain(step.kind).get(step.step as usize))
                .and_then(|target| router.resolve_group_name(target))
                .ok_or_else(|| {
                    GatewayError::internal(format!(
                        "no {} fallback #{} for model group {}",
                        step.kind.as_str(),
                        step.step,
                        step.origin
                    ))
                })?,
            None => router
                .resolve(model)
                .ok_or_else(|| GatewayError::unknown_model(model))?,
        })
    }

    /// A mock group's answer (`mock_response` in its config): sent now, or kept for
    /// the responder stage; the group header is set for the key check.
    #[allow(clippy::too_many_arguments)]
    fn answer_mock_group(
        &self,
        router: &Router,
        host: &mut dyn Host,
        head: &RequestHead<'_>,
        group: &Group,
        model: &str,
        text: &str,
        endpoint: Endpoint,
        size: usize,
    ) -> Result<Flow, GatewayError> {
        if self.api.is_anthropic() {
            let answer = self.mock_messages(head, model, text, None, host.now_unix_secs(), size)?;
            host.set_request_header(GROUP_HEADER, Some(&group.route_key));
            return Ok(answer_locally(
                router,
                host,
                200,
                &[
                    ("content-type", answer.content_type),
                    ("x-litellm-model-group", &group.name),
                ],
                &answer.body,
            ));
        }
        let id = self.mock_id(endpoint);
        let mock_answer = mock::answer(&mock::MockRequest {
            endpoint,
            model,
            text,
            stream: head.stream.unwrap_or(false),
            include_usage: head
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
            id: &id,
            created: host.now_unix_secs(),
            request_bytes: size,
            tool_calls: None,
        })?;
        // The key check needs the group even for a mock.
        host.set_request_header(GROUP_HEADER, Some(&group.route_key));
        Ok(answer_locally(
            router,
            host,
            200,
            &[
                ("content-type", mock_answer.content_type),
                ("x-litellm-model-group", &group.name),
            ],
            &mock_answer.body,
        ))
    }
}

impl RouterExchange {
    /// A callout of this request answered: a `/health` probe (keys off), or Envoy's
    /// admin stats for `/metrics`.
    pub fn on_http_call_response(
        &mut self,
        router: &Router,
        host: &mut dyn Host,
        token: u32,
        answer: &crate::host::CallAnswer,
    ) {
        if let Some(run) = self.health.take() {
            self.health = health::health_answer(run, &router.info, host, token, answer);
            return;
        }
        router.on_scrape_answer(&mut self.scrape, host, token, answer);
    }

    /// A mock group's answer to an Anthropic-format client: the OpenAI mock answer
    /// through the same translation real answers take (`crate::client::anthropic`).
    fn mock_messages(
        &self,
        head: &RequestHead<'_>,
        model: &str,
        text: &str,
        tool_calls: Option<&Value>,
        created: u64,
        size: usize,
    ) -> Result<mock::MockAnswer, GatewayError> {
        use crate::providers::StreamTranslate as _;
        if self.api == ClientApi::CountTokens {
            return Err(crate::client::anthropic::count_tokens_unsupported(
                "mock", model,
            ));
        }
        let id = format!("msg_{}", self.request_id.as_deref().unwrap_or("mock"));
        let stream = head.stream.unwrap_or(false);
        let openai = mock::answer(&mock::MockRequest {
            endpoint: Endpoint::ChatCompletions,
            model,
            text,
            stream,
            include_usage: true,
            id: &id,
            created,
            request_bytes: size,
            tool_calls,
        })?;
        let ctx = crate::client::anthropic::MessagesContext {
            model: model.to_string(),
            id,
            stop_sequences: Vec::new(),
        };
        let body = if stream {
            let mut translator = crate::client::anthropic::StreamToMessages::new(ctx);
            let mut out = Vec::with_capacity(openai.body.len() * 2);
            translator.push(&openai.body, &mut out);
            translator.finish(&mut out);
            out
        } else {
            crate::client::anthropic::from_openai_response(&openai.body, &ctx)?
        };
        Ok(mock::MockAnswer {
            content_type: openai.content_type,
            body,
        })
    }
}

// LiteLLM's per-request controls: fallbacks, a client's mock_response, metadata.
mod per_request;
#[cfg(test)]
mod per_request_tests;

// The stage with Anthropic-format clients (`/v1/messages`).
#[cfg(test)]
mod messages_tests;

/// Envoy's controls for a request: retries (its own `num_retries`, or those of its
/// `fallbacks`), the timeouts (its `timeout`; a stream's is its `stream_timeout`)
/// and the stream route. Returns what the upstream stage needs to move the request
/// along its own `fallbacks`.
fn set_envoy_controls(
    router: &Router,
    host: &mut dyn Host,
    head: &RequestHead<'_>,
    chain: Option<&per_request::Chain>,
) -> Result<Option<RequestFallbacks>, GatewayError> {
    let stream = head.stream.unwrap_or(false);
    let request_fallbacks = chain.map(|c| {
        // Envoy's retries stay within the group (never into the config's own
        // fallback groups, which the request's chain replaces, as in LiteLLM); the
        // upstream stage moves on along the chain once an error is final.
        let retries = head
            .num_retries
            .unwrap_or(router.retries.num_retries)
            .min(router.retries.num_retries);
        RequestFallbacks {
            len: u32::try_from(c.names.len()).unwrap_or(u32::MAX),
            attempts: retries.saturating_add(1),
            from_list: c.from_list,
            retries: crate::plugin_config::GroupRetries {
                num_retries: retries,
                ..router.retries.clone()
            },
        }
    });
    if let Some(f) = &request_fallbacks {
        host.set_request_header(RETRIES_HEADER, Some(&f.retries.num_retries.to_string()));
    } else if let Some(n) = client_retries(head.num_retries, &router.retries) {
        host.set_request_header(RETRIES_HEADER, Some(&n.to_string()));
    }
    match head.timeout {
        Some(t) if t.is_finite() && t > 0.0 => {
            let ms = (t * 1000.0).round() as u64;
            host.set_request_header(TIMEOUT_HEADER, Some(&ms.to_string()));
            if !stream {
                // LiteLLM: the request's timeout is each attempt's, over the
                // deployments' own.
                host.set_request_header(PER_TRY_TIMEOUT_HEADER, Some(&ms.to_string()));
            }
        }
        Some(_) => {
            return Err(GatewayError::invalid_param(
                "timeout",
                "`timeout` must be a positive number of seconds",
            ))
        }
        // A stream is bounded by `stream_timeout` (its first byte, then its
        // silences), not by the whole-request timeout: one that keeps sending
        // is never cut.
        None if stream => host.set_request_header(TIMEOUT_HEADER, Some("0")),
        None => {}
    }
    if stream {
        host.set_request_header(STREAM_HEADER, Some("1"));
    }
    Ok(request_fallbacks)
}

// LiteLLM's `/health`, `/model/info` and `/model_group/info`.
pub mod health;
// What the stage hands on to the upstream stage (filter state, fallback paths).
mod facts;
pub use facts::*;
// The parts of a request body the stage reads.
mod head;
use head::{body_error, RequestHead};
// The request's record: call id, answer headers, access log, observers.
mod record;
use record::CallFacts;

mod answer;
// Answers kept for the responder stage, and local replies.
mod reply;
use reply::{answer_locally, reply_error, reply_json};
pub use reply::{
    decode_reply, encode_reply, DeferredReply, CLIENT_MOCK_PROPERTY, LABELS_PROPERTY,
    MODELS_LIST_MARKER, REPLY_PROPERTY,
};

#[cfg(test)]
mod tests;
// `GET /metrics` through the listener's stages.
#[cfg(test)]
mod metrics_tests;
