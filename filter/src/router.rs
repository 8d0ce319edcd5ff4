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

/// Request header naming the model group's route (set by this stage, matched by routes).
pub const GROUP_HEADER: &str = "x-switchyard-group";
/// Envoy router headers this stage sets (per-request `num_retries` and `timeout`,
/// streams); a client's own values are removed first.
pub const RETRIES_HEADER: &str = "x-envoy-max-retries";
/// See [`RETRIES_HEADER`].
pub const TIMEOUT_HEADER: &str = "x-envoy-upstream-rq-timeout-ms";
/// See [`RETRIES_HEADER`].
pub const PER_TRY_TIMEOUT_HEADER: &str = "x-envoy-upstream-rq-per-try-timeout-ms";
/// Request header naming the model groups of the request's own `fallbacks`
/// (comma-separated route keys), set by this stage for the key check: ext_authz
/// passes it to the keyservice, which refuses a key that may not use one of them.
pub const FALLBACK_GROUPS_HEADER: &str = "x-switchyard-fallback-groups";
/// Request header set to `1` on streamed calls: they take the group's stream route,
/// whose per-try timeout is the wait for the first byte (`stream_timeout`).
pub const STREAM_HEADER: &str = "x-switchyard-stream";
/// Request header naming the model exactly as the client asked for it, set by this
/// stage (first pass only) for the key check: a key's `aliases` apply to it, as in
/// LiteLLM.
pub const REQUESTED_MODEL_HEADER: &str = "x-switchyard-requested-model";
/// Request header the keyservice sets (through ext_authz) when one of the key's
/// `aliases` applied: the model the key was checked for, which the responder stage
/// then routes the request to ([`reroute`]).
pub const ALIAS_TARGET_HEADER: &str = "x-switchyard-alias-target";
/// Headers never trusted from a client. ([`crate::spend::ADMISSION_HEADER`] is one
/// too, except on an error fallback's replay, which the redirect gave it.)
pub const INTERNAL_HEADERS: [&str; 15] = [
    GROUP_HEADER,
    REQUESTED_MODEL_HEADER,
    ALIAS_TARGET_HEADER,
    STREAM_HEADER,
    RETRIES_HEADER,
    TIMEOUT_HEADER,
    PER_TRY_TIMEOUT_HEADER,
    FALLBACK_GROUPS_HEADER,
    // Set by the keyservice through ext_authz, for the responder and spend records.
    "x-switchyard-key-hash",
    "x-switchyard-user-id",
    "x-switchyard-team-id",
    "x-switchyard-lease",
    "x-switchyard-key-models",
    crate::responder::CLIENT_MOCK_HEADER,
    crate::spend::ADMISSION_HEADER,
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
/// route (`/v1/messages`): Envoy's own error replies (`local_reply_config`) take
/// Anthropic's shape for it. Absent for every other request.
pub const API_PROPERTY: &str = "switchyard_api";

/// What the router stage decided, as the upstream stage needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFacts {
    /// The endpoint called (as the providers see it).
    pub endpoint: Endpoint,
    /// The format the client speaks (Anthropic's `/v1/messages` is a chat
    /// completion in [`ClientApi::Messages`]).
    pub api: ClientApi,
    /// The model the client asked for (after aliases).
    pub model: String,
    /// For a wildcard group, the part of the model that matched `*`.
    pub wildcard: Option<String>,
    /// Set when this request is an error fallback (see [`FALLBACK_PATH_PREFIX`]).
    pub error_fallback: Option<ErrorFallbackStep>,
    /// The request's own `fallbacks`, when it has any (see `per_request`).
    pub request_fallbacks: Option<RequestFallbacks>,
}

/// What the upstream stage needs to move a request along its own `fallbacks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFallbacks {
    /// Groups in the chain (the group asked for not counted).
    pub len: u32,
    /// Attempts Envoy makes on one group (retries + 1): an error Envoy retries is
    /// final only on the last one.
    pub attempts: u32,
    /// The chain came as a list of groups, which LiteLLM uses for every error
    /// (context-window and content-policy ones included); LiteLLM's mapping form
    /// (`[{"group": [...]}]`) leaves those to the config's own chains.
    pub from_list: bool,
    /// The routes' retry policy.
    pub retries: crate::plugin_config::GroupRetries,
}

impl RequestFallbacks {
    /// One line: `len;attempts;list|map;server_errors;rate_limited;statuses`.
    fn encode(&self) -> String {
        let statuses: Vec<String> = self.retries.statuses.iter().map(u16::to_string).collect();
        format!(
            "{};{};{};{};{};{}",
            self.len,
            self.attempts,
            if self.from_list { "list" } else { "map" },
            u8::from(self.retries.server_errors),
            u8::from(self.retries.rate_limited),
            statuses.join(",")
        )
    }

    fn decode(line: &str) -> Option<RequestFallbacks> {
        let mut parts = line.split(';');
        let len = parts.next()?.parse().ok()?;
        let attempts = parts.next()?.parse().ok()?;
        let from_list = match parts.next()? {
            "list" => true,
            "map" => false,
            _ => return None,
        };
        let flag = |p: Option<&str>| match p {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        };
        let server_errors = flag(parts.next())?;
        let rate_limited = flag(parts.next())?;
        let statuses = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|s| s.parse().ok())
                .collect::<Option<Vec<u16>>>()?,
        };
        Some(RequestFallbacks {
            len,
            attempts,
            from_list,
            retries: crate::plugin_config::GroupRetries {
                num_retries: attempts.saturating_sub(1),
                server_errors,
                rate_limited,
                statuses,
            },
        })
    }
}

/// Where a request is in an error-fallback chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFallbackStep {
    /// Which chain.
    pub kind: ErrorKind,
    /// The group whose chain it is (the group the client's model resolved to).
    pub origin: String,
    /// Index in the chain of the group serving this request.
    pub step: u32,
}

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

/// Path prefix of the internal redirect an upstream stage answers with when a
/// provider error has an error fallback:
/// `/switchyard-fallback/{kind}/{step}/{percent-encoded origin group}/{original path}`.
/// Envoy replays the buffered request on it, and this stage routes it to the chain's
/// `step`-th group.
pub const FALLBACK_PATH_PREFIX: &str = "/switchyard-fallback/";
/// Most groups a request's own `fallbacks` may name (LiteLLM's default
/// `max_fallbacks`); the routes allow as many internal redirects.
pub const MAX_REQUEST_FALLBACKS: usize = 5;

/// Parses a fallback path into the step and the original path.
pub fn parse_fallback_path(path: &str) -> Option<(ErrorFallbackStep, String)> {
    let rest = path.strip_prefix(FALLBACK_PATH_PREFIX)?;
    let mut parts = rest.splitn(4, '/');
    let kind = ErrorKind::parse(parts.next()?)?;
    let step = parts.next()?.parse().ok()?;
    let origin = percent_decode(parts.next()?)?;
    let original = format!("/{}", parts.next()?);
    Some((ErrorFallbackStep { kind, origin, step }, original))
}

/// Decodes `%XX` escapes (as written by `providers::openai::percent_encode_segment`).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RouteFacts {
    /// Seven lines: endpoint (`messages` or `count_tokens` for the Anthropic APIs),
    /// model, `-` or `+wildcard`, then origin, kind and step of an error fallback
    /// (empty when none), then the request's own fallbacks (empty when none). Model
    /// and group names never hold newlines.
    pub fn encode(&self) -> Vec<u8> {
        let wildcard = match &self.wildcard {
            Some(w) => format!("+{w}"),
            None => "-".to_string(),
        };
        let (origin, kind, step) = match &self.error_fallback {
            Some(f) => (f.origin.as_str(), f.kind.as_str(), f.step.to_string()),
            None => ("", "", String::new()),
        };
        let endpoint = match self.api {
            ClientApi::OpenAi => self.endpoint.as_str(),
            ClientApi::Messages => "messages",
            ClientApi::CountTokens => "count_tokens",
        };
        let request_fallbacks = self
            .request_fallbacks
            .as_ref()
            .map(RequestFallbacks::encode)
            .unwrap_or_default();
        format!(
            "{endpoint}\n{}\n{wildcard}\n{origin}\n{kind}\n{step}\n{request_fallbacks}",
            self.model
        )
        .into_bytes()
    }

    /// Inverse of [`RouteFacts::encode`].
    pub fn decode(bytes: &[u8]) -> Option<RouteFacts> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.split('\n');
        let (endpoint, api) = match lines.next()? {
            "messages" => (Endpoint::ChatCompletions, ClientApi::Messages),
            "count_tokens" => (Endpoint::ChatCompletions, ClientApi::CountTokens),
            other => (Endpoint::parse(other)?, ClientApi::OpenAi),
        };
        let model = lines.next()?.to_string();
        let wildcard = match lines.next()? {
            "-" => None,
            w => Some(w.strip_prefix('+')?.to_string()),
        };
        let origin = lines.next()?;
        let kind = lines.next()?;
        let step = lines.next()?;
        let error_fallback = match ErrorKind::parse(kind) {
            Some(kind) => Some(ErrorFallbackStep {
                kind,
                origin: origin.to_string(),
                step: step.parse().ok()?,
            }),
            None => None,
        };
        let request_fallbacks = match lines.next()? {
            "" => None,
            line => Some(RequestFallbacks::decode(line)?),
        };
        Some(RouteFacts {
            endpoint,
            api,
            model,
            wildcard,
            error_fallback,
            request_fallbacks,
        })
    }
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
}

impl Router {
    /// Whether keys are checked (every local answer waits for ext_authz).
    pub fn defers_answers(&self) -> bool {
        self.defer_answers
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
        };
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
}

/// The parts of a request body the router stage reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct RequestHead<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// LiteLLM's per-request retry count (becomes `x-envoy-max-retries`).
    #[serde(default)]
    num_retries: Option<u32>,
    /// LiteLLM's per-request timeout in seconds (becomes the route timeout).
    #[serde(default)]
    timeout: Option<f64>,
    /// LiteLLM's per-request fallbacks (read by `per_request::request_chain`).
    #[serde(borrow, default)]
    fallbacks: Option<&'a RawValue>,
    /// A client's own mock answer, sent only when its key or team allows it.
    #[serde(borrow, default)]
    mock_response: Option<&'a RawValue>,
    /// Tool calls for that mock answer.
    #[serde(borrow, default)]
    mock_tool_calls: Option<&'a RawValue>,
    /// LiteLLM's metadata objects (must be objects; read for spend reports upstream).
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    litellm_metadata: Option<&'a RawValue>,
    /// LiteLLM's request tags (for spend reports of answers given here).
    #[serde(borrow, default)]
    tags: Option<&'a RawValue>,
    /// LiteLLM's mock-testing fields, refused ([`crate::litellm_fields::REFUSED_MOCK_TESTING_FIELDS`]).
    #[serde(default, deserialize_with = "per_request::present")]
    mock_testing_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    mock_testing_context_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    mock_testing_content_policy_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    mock_testing_rate_limit_error: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    mock_timeout: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    mock_delay: bool,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Explains a body that did not parse as a [`RequestHead`], naming the field at fault.
fn body_error(body: &[u8], err: &serde_json::Error) -> GatewayError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            GatewayError::bad_request(format!("Request body is not valid JSON: {err}"))
        }
        Category::Data => {
            // Rare path: parse again to name the field with the wrong type.
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => {
                    let wrong = |name: &str, ok: fn(&Value) -> bool| {
                        map.get(name).is_some_and(|v| !v.is_null() && !ok(v))
                    };
                    let (param, expected) = if wrong("model", Value::is_string) {
                        ("model", "a string")
                    } else if wrong("stream", Value::is_boolean) {
                        ("stream", "a boolean")
                    } else if wrong("num_retries", Value::is_u64) {
                        ("num_retries", "a non-negative integer")
                    } else if wrong("timeout", Value::is_number) {
                        ("timeout", "a number of seconds")
                    } else {
                        ("stream_options", "an object with a boolean include_usage")
                    };
                    GatewayError::invalid_param(
                        param,
                        format!("`{param}` must be {expected}: {err}"),
                    )
                }
                _ => GatewayError::bad_request("Request body must be a JSON object"),
            }
        }
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
}

/// Filter state holding an answer deferred until the key was checked.
pub const REPLY_PROPERTY: &str = "switchyard_reply";
/// Filter state holding the answer to a client's own `mock_response`, which the
/// responder sends only when the keyservice allows it (see `per_request`).
pub const CLIENT_MOCK_PROPERTY: &str = "switchyard_client_mock";
/// Filter state holding the request's spend labels (`metadata`, `tags`) when keys are
/// checked, for the report of an answer the responder stage sends.
pub const LABELS_PROPERTY: &str = "switchyard_labels";
/// Pseudo-header marking a deferred `/models` answer, which the responder filters to
/// the key's models.
pub const MODELS_LIST_MARKER: &str = "x-switchyard-models-list";

/// `status`, one `name: value` line per header, a blank line, then the body.
pub fn encode_reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status}\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push('\n');
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An answer kept for the responder stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredReply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

/// Inverse of [`encode_reply`].
pub fn decode_reply(raw: &[u8]) -> Option<DeferredReply> {
    let split = raw.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let body = raw.get(split + 2..)?.to_vec();
    let mut lines = head.split('\n');
    let status = lines.next()?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(DeferredReply {
        status,
        headers,
        body,
    })
}

/// A local answer: sent now, or — when the key must be checked first — kept in
/// filter state for the responder stage, the request continuing to ext_authz.
fn answer_locally(
    router: &Router,
    host: &mut dyn Host,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Flow {
    if router.defer_answers {
        host.set_property(&[REPLY_PROPERTY], &encode_reply(status, headers, body));
        Flow::Continue
    } else {
        host.send_local_reply(status, headers, body);
        Flow::Pause
    }
}

fn reply_json(host: &mut dyn Host, status: u16, body: &[u8]) {
    host.send_local_reply(status, &[("content-type", "application/json")], body);
}

fn reply_error(router: &Router, host: &mut dyn Host, err: &GatewayError, api: ClientApi) -> Flow {
    host.log(Level::Debug, &format!("switchyard router: {err}"));
    let body = if api.is_anthropic() {
        crate::client::anthropic::error_body(err)
    } else {
        err.to_body()
    };
    answer_locally(
        router,
        host,
        err.status,
        &[("content-type", "application/json")],
        &body,
    )
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
    let exchange = RouterExchange {
        api,
        ..RouterExchange::default()
    };
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
        host.set_property(
            &[crate::log_path::LOG_PATH_PROPERTY],
            crate::log_path::redact(&path).as_bytes(),
        );
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
                return reply_error(
                    router,
                    host,
                    &GatewayError::new(404, format!("No route for {method} {path}")),
                    api,
                )
            }
            Route::Llm {
                endpoint,
                path_model,
                api: _,
            } => {
                if end_of_stream {
                    return reply_error(
                        router,
                        host,
                        &GatewayError::bad_request("Request body is required"),
                        api,
                    );
                }
                let declared = header_in(&headers, "content-length")
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if declared.is_some_and(|n| n > router.max_body) {
                    return reply_error(
                        router,
                        host,
                        &GatewayError::payload_too_large(router.max_body),
                        api,
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
            return reply_error(
                router,
                host,
                &GatewayError::payload_too_large(router.max_body),
                self.api,
            );
        }
        if !end_of_stream {
            self.pending = Some((endpoint, path_model));
            return Flow::Pause;
        }
        match self.route(router, host, endpoint, path_model.as_deref(), None, size) {
            Ok(flow) => flow,
            Err(err) => reply_error(router, host, &err, self.api),
        }
    }

    /// Routes the request whose whole body is buffered: to `model_override` when
    /// given (a key's alias, [`reroute`]), else to the body's (or the path's) model.
    fn route(
        &self,
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
        let resolved = match &self.error_fallback {
            // Replayed along the request's own chain: its body names the group.
            Some(step) if step.kind == ErrorKind::Request => chain
                .as_ref()
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
        };
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
            if self.api.is_anthropic() {
                let answer =
                    self.mock_messages(&head, model, text, None, host.now_unix_secs(), size)?;
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
            return Ok(answer_locally(
                router,
                host,
                200,
                &[
                    ("content-type", mock_answer.content_type),
                    ("x-litellm-model-group", &group.name),
                ],
                &mock_answer.body,
            ));
        }

        let stream = head.stream.unwrap_or(false);
        let request_fallbacks = chain.as_ref().map(|c| {
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
        host.set_request_header(GROUP_HEADER, Some(&group.route_key));
        let facts = RouteFacts {
            endpoint,
            api: self.api,
            model: model.to_string(),
            wildcard: resolved.wildcard.map(str::to_string),
            error_fallback: self.error_fallback.clone(),
            request_fallbacks,
        };
        host.set_property(&[ROUTE_PROPERTY], &facts.encode());
        if self.api.is_anthropic() {
            host.set_property(&[API_PROPERTY], b"anthropic");
        }
        host.set_property(&[GROUP_PROPERTY], group.name.as_bytes());
        host.clear_route_cache();
        Ok(Flow::Continue)
    }
}

impl RouterExchange {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::GroupConfig;

    fn group(name: &str) -> GroupConfig {
        GroupConfig {
            name: name.into(),
            route_key: name.into(),
            mock_response: None,
            endpoints: vec![],
        }
    }

    pub(super) fn router() -> Router {
        let mut mock = group("demo");
        mock.mock_response = Some("Hi from the mock".into());
        let mut emb = group("embedder");
        emb.endpoints = vec!["embeddings".into()];
        Router::new(&RouterConfig {
            defer_answers: false,
            spend_reporting: None,
            forced_group: None,
            retries: Default::default(),
            groups: vec![
                group("gpt-4o"),
                group("openai/*"),
                group("*"),
                group("anthropic/claude-*"),
                mock,
                emb,
            ],
            aliases: [
                ("gpt-4".to_string(), "gpt-4o".to_string()),
                ("mini".to_string(), "openai/gpt-4o-mini".to_string()),
                ("secret".to_string(), "gpt-4o".to_string()),
            ]
            .into(),
            hidden_aliases: ["secret".to_string()].into(),
            max_request_body_bytes: 1000,
            error_fallbacks: [(
                "gpt-4o".to_string(),
                ErrorFallbacks {
                    context_window: vec!["embedder".into(), "openai/*".into()],
                    content_policy: vec![],
                },
            )]
            .into(),
        })
        .unwrap()
    }

    /// Runs one request through the stage, the body in one piece.
    pub(super) fn run(path: &str, body: &str) -> MockHost {
        let r = router();
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", path),
                ("x-request-id", "rid-1"),
                ("x-switchyard-group", "evil"),
            ],
            body.as_bytes(),
        );
        let mut ex = RouterExchange::default();
        assert_eq!(ex.on_request_headers(&r, &mut host, false), Flow::Pause);
        if host.local_reply.is_none() {
            ex.on_request_body(&r, &mut host, body.len(), true);
        }
        host
    }

    pub(super) fn error_of(host: &MockHost) -> (u16, Value) {
        let reply = host.local_reply.as_ref().expect("a local reply");
        (reply.status, reply.json())
    }

    #[test]
    fn resolution_order() {
        let r = router();
        assert_eq!(
            r.resolve("gpt-4o"),
            Some(Resolved {
                group: 0,
                wildcard: None
            })
        );
        assert_eq!(
            r.resolve("gpt-4"),
            Some(Resolved {
                group: 0,
                wildcard: None
            })
        );
        assert_eq!(
            r.resolve("openai/gpt-4o-mini"),
            Some(Resolved {
                group: 1,
                wildcard: Some("gpt-4o-mini")
            })
        );
        // The more specific pattern wins over `*` and over `openai/*`-style prefixes.
        assert_eq!(
            r.resolve("anthropic/claude-3-haiku"),
            Some(Resolved {
                group: 3,
                wildcard: Some("3-haiku")
            })
        );
        assert_eq!(
            r.resolve("llama3"),
            Some(Resolved {
                group: 2,
                wildcard: Some("llama3")
            })
        );
        // An alias may name a model that a wildcard group serves; hidden ones resolve.
        assert_eq!(
            r.resolve("mini"),
            Some(Resolved {
                group: 1,
                wildcard: Some("gpt-4o-mini")
            })
        );
        assert_eq!(r.resolve("secret").map(|r| r.group), Some(0));
    }

    #[test]
    fn a_forced_group_serves_every_model() {
        let config = |forced: &str| RouterConfig {
            defer_answers: false,
            spend_reporting: None,
            forced_group: Some(forced.into()),
            groups: vec![group("gpt-4o"), group("ollama/llama3"), group("openai/*")],
            aliases: [("llama".to_string(), "ollama/llama3".to_string())].into(),
            hidden_aliases: Default::default(),
            max_request_body_bytes: 1000,
            error_fallbacks: Default::default(),
            retries: Default::default(),
        };
        let r = Router::new(&config("ollama/llama3")).unwrap();
        for model in [
            "gpt-4o",
            "openai/gpt-4o-mini",
            "gpt-3.5-turbo",
            "llama",
            "x",
        ] {
            assert_eq!(
                r.resolve(model),
                Some(Resolved {
                    group: 1,
                    wildcard: None
                }),
                "{model}"
            );
        }
        // /models still lists every group and alias, as LiteLLM's does.
        let models: Value = serde_json::from_slice(r.models_body()).unwrap();
        assert_eq!(models["data"].as_array().unwrap().len(), 4);
        let err = Router::new(&config("nope")).unwrap_err();
        assert!(
            err.contains("forced_group") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn unknown_alias_target_is_a_config_error() {
        let err = Router::new(&RouterConfig {
            defer_answers: false,
            spend_reporting: None,
            forced_group: None,
            retries: Default::default(),
            groups: vec![group("a")],
            aliases: [("x".to_string(), "nope".to_string())].into(),
            hidden_aliases: Default::default(),
            max_request_body_bytes: 10,
            error_fallbacks: Default::default(),
        })
        .unwrap_err();
        assert!(err.contains("aliases.x") && err.contains("nope"), "{err}");
    }

    pub(super) fn facts(host: &MockHost) -> RouteFacts {
        RouteFacts::decode(host.properties.get(ROUTE_PROPERTY).expect("route facts")).unwrap()
    }

    #[test]
    fn routes_and_hands_facts_to_the_upstream_stage() {
        let host = run("/v1/chat/completions", r#"{"model":"gpt-4","messages":[]}"#);
        assert!(host.local_reply.is_none());
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
        assert_eq!(
            facts(&host),
            RouteFacts {
                endpoint: Endpoint::ChatCompletions,
                api: ClientApi::OpenAi,
                model: "gpt-4".into(),
                wildcard: None,
                error_fallback: None,
                request_fallbacks: None
            }
        );
        assert_eq!(host.route_cache_cleared, 1);
        assert_eq!(
            host.properties.get(GROUP_PROPERTY).map(Vec::as_slice),
            Some(&b"gpt-4o"[..])
        );
        // Not a stream, no per-request settings: the route's own timeout and retries.
        for h in [TIMEOUT_HEADER, PER_TRY_TIMEOUT_HEADER, RETRIES_HEADER] {
            assert_eq!(host.req(h), None, "{h}");
        }
    }

    #[test]
    fn facts_round_trip() {
        for f in [
            RouteFacts {
                endpoint: Endpoint::Embeddings,
                api: ClientApi::OpenAi,
                model: "m".into(),
                wildcard: None,
                error_fallback: None,
                request_fallbacks: None,
            },
            RouteFacts {
                endpoint: Endpoint::Completions,
                api: ClientApi::OpenAi,
                model: "openai/x".into(),
                wildcard: Some("x".into()),
                error_fallback: None,
                request_fallbacks: None,
            },
            RouteFacts {
                endpoint: Endpoint::ChatCompletions,
                api: ClientApi::OpenAi,
                model: "*".into(),
                wildcard: Some(String::new()),
                error_fallback: None,
                request_fallbacks: None,
            },
            RouteFacts {
                endpoint: Endpoint::ChatCompletions,
                api: ClientApi::Messages,
                model: "m".into(),
                wildcard: None,
                error_fallback: Some(ErrorFallbackStep {
                    kind: ErrorKind::Request,
                    origin: "g".into(),
                    step: 1,
                }),
                request_fallbacks: Some(RequestFallbacks {
                    len: 3,
                    attempts: 2,
                    from_list: false,
                    retries: crate::plugin_config::GroupRetries {
                        num_retries: 1,
                        server_errors: false,
                        rate_limited: true,
                        statuses: vec![401, 400],
                    },
                }),
            },
        ] {
            assert_eq!(RouteFacts::decode(&f.encode()), Some(f));
        }
        assert_eq!(RouteFacts::decode(b"nonsense"), None);
    }

    #[test]
    fn error_fallback_replay_routes_to_the_chain_step() {
        let path = "/switchyard-fallback/context_window/1/gpt-4o/v1/chat/completions";
        let (step, original) = parse_fallback_path(path).unwrap();
        assert_eq!(original, "/v1/chat/completions");
        assert_eq!(
            (step.kind, step.step, step.origin.as_str()),
            (ErrorKind::ContextWindow, 1, "gpt-4o")
        );
        assert!(parse_fallback_path("/switchyard-fallback/nope/1/g/v1/x").is_none());
        let (odd, _) =
            parse_fallback_path("/switchyard-fallback/content_policy/0/openai%2F%2A/v1/embeddings")
                .unwrap();
        assert_eq!(odd.origin, "openai/*");

        // Step 1 of gpt-4o's context-window chain is `openai/*`.
        let host = run(path, r#"{"model":"gpt-4o","messages":[]}"#);
        assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("openai/*"));
        let f = facts(&host);
        assert_eq!(f.error_fallback, Some(step));
        assert_eq!(RouteFacts::decode(&f.encode()), Some(f));

        // A step past the chain's end is refused, not guessed.
        let host = run(
            "/switchyard-fallback/context_window/5/gpt-4o/v1/chat/completions",
            r#"{"model":"gpt-4o","messages":[]}"#,
        );
        assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    }

    #[test]
    fn wildcard_capture_is_forwarded() {
        let host = run(
            "/chat/completions",
            r#"{"model":"openai/gpt-4o-mini","messages":[]}"#,
        );
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("openai/*"));
        assert_eq!(facts(&host).wildcard.as_deref(), Some("gpt-4o-mini"));
    }

    #[test]
    fn streams_take_the_stream_route_and_no_total_time() {
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","stream":true,"messages":[]}"#,
        );
        assert_eq!(host.req(TIMEOUT_HEADER).as_deref(), Some("0"));
        assert_eq!(host.req(STREAM_HEADER).as_deref(), Some("1"));
        // The stream route's per-try timeout (the first byte) applies.
        assert_eq!(host.req(PER_TRY_TIMEOUT_HEADER), None);
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","messages":[]}"#,
        );
        assert_eq!(host.req(STREAM_HEADER), None);
    }

    #[test]
    fn a_client_cannot_pick_the_stream_route_itself() {
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                (STREAM_HEADER, "1"),
            ],
            br#"{"model":"gpt-4o","messages":[]}"#,
        );
        let router = router();
        let mut x = RouterExchange::default();
        x.on_request_headers(&router, &mut host, false);
        let size = host.request_body.len();
        x.on_request_body(&router, &mut host, size, true);
        assert_eq!(
            host.req(STREAM_HEADER),
            None,
            "a non-streamed call's header is removed"
        );
    }

    #[test]
    fn per_request_retries_and_timeout_become_envoy_headers() {
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","num_retries":0,"timeout":2.5,"stream":true,"messages":[]}"#,
        );
        assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("0"));
        assert_eq!(
            host.req(TIMEOUT_HEADER).as_deref(),
            Some("2500"),
            "an explicit timeout wins, streams too"
        );
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","timeout":30,"messages":[]}"#,
        );
        assert_eq!(
            host.req(PER_TRY_TIMEOUT_HEADER).as_deref(),
            Some("30000"),
            "the request's timeout is each attempt's, over the deployments' own"
        );
        let (status, v) = error_of(&run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","timeout":-1}"#,
        ));
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("timeout"))
        );
        let (status, v) = error_of(&run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","num_retries":"x"}"#,
        ));
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("num_retries"))
        );
    }

    #[test]
    fn client_cannot_set_envoy_retry_headers() {
        let r = router();
        let body = br#"{"model":"gpt-4o","messages":[]}"#;
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                (RETRIES_HEADER, "9"),
                (TIMEOUT_HEADER, "1"),
                ("X-Envoy-Retry-On", "4xx"),
                ("x-envoy-retriable-status-codes", "400"),
                ("x-envoy-hedge-on-per-try-timeout", "true"),
            ],
            body,
        );
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        ex.on_request_body(&r, &mut host, body.len(), true);
        assert_eq!(host.req(RETRIES_HEADER), None);
        assert_eq!(host.req(TIMEOUT_HEADER), None);
        assert_eq!(host.req("x-envoy-retry-on"), None);
        assert_eq!(host.req("x-envoy-retriable-status-codes"), None);
        assert_eq!(host.req("x-envoy-hedge-on-per-try-timeout"), None);
    }

    #[test]
    fn a_client_num_retries_never_raises_the_configs() {
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","num_retries":1000,"messages":[]}"#,
        );
        assert_eq!(
            host.req(RETRIES_HEADER),
            None,
            "over the config's: the route's own policy applies"
        );
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","num_retries":1,"messages":[]}"#,
        );
        assert_eq!(host.req(RETRIES_HEADER).as_deref(), Some("1"));
        let config = crate::plugin_config::GroupRetries::default();
        assert_eq!(client_retries(Some(2), &config), None);
        assert_eq!(client_retries(Some(u32::MAX), &config), None);
        assert_eq!(client_retries(Some(0), &config), Some(0));
        assert_eq!(client_retries(None, &config), None);
        assert!(is_internal_header("X-ENVOY-RETRY-ON"));
        assert!(!is_internal_header("x-envoy"));
        assert!(!is_internal_header("x-request-id"));
    }

    #[test]
    fn client_cannot_pick_the_route_itself() {
        let host = run("/v1/models", "");
        assert_eq!(host.req(GROUP_HEADER), None);
    }

    #[test]
    fn azure_style_path_supplies_the_model() {
        let host = run(
            "/openai/deployments/gpt-4o/chat/completions?api-version=1",
            r#"{"messages":[]}"#,
        );
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn models_and_health_are_local() {
        let r = router();
        let mut host = MockHost::with_request(&[(":method", "GET"), (":path", "/v1/models")], b"");
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        let v = host.local_reply.as_ref().unwrap().json();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "gpt-4o",
                "openai/*",
                "*",
                "anthropic/claude-*",
                "demo",
                "embedder",
                "gpt-4",
                "mini" // `secret` is a hidden alias
            ]
        );
        assert_eq!(v["data"][0]["object"], "model");
        assert_eq!(v["data"][0]["created"], MODELS_CREATED);

        let mut host =
            MockHost::with_request(&[(":method", "GET"), (":path", "/health/liveliness")], b"");
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(
            host.local_reply.as_ref().unwrap().json(),
            json!("I'm alive!")
        );
        let mut host =
            MockHost::with_request(&[(":method", "GET"), (":path", "/health/readiness")], b"");
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(
            host.local_reply.as_ref().unwrap().json()["status"],
            "healthy"
        );
    }

    #[test]
    fn bad_inputs_get_openai_errors() {
        let (status, v) = error_of(&run(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o", "messages": ["#,
        ));
        assert_eq!(status, 400);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"));
        assert_eq!(v["error"]["code"], "400");

        let (status, v) = error_of(&run("/v1/chat/completions", r#"{"model": 5}"#));
        assert_eq!((status, v["error"]["param"].as_str()), (400, Some("model")));

        let (status, v) = error_of(&run(
            "/v1/chat/completions",
            r#"{"model": "gpt-4o", "stream": "yes"}"#,
        ));
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("stream"))
        );

        let (status, v) = error_of(&run("/v1/chat/completions", r#"{"messages": []}"#));
        assert_eq!((status, v["error"]["param"].as_str()), (400, Some("model")));

        let (status, v) = error_of(&run("/v1/chat/completions", r#"[1,2]"#));
        assert_eq!(status, 400);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON object"));

        // `*` catches every model, so use a router without it for the unknown case.
        let r = Router::new(&RouterConfig {
            defer_answers: false,
            spend_reporting: None,
            forced_group: None,
            retries: Default::default(),
            groups: vec![group("a")],
            aliases: Default::default(),
            hidden_aliases: Default::default(),
            max_request_body_bytes: 100,
            error_fallbacks: Default::default(),
        })
        .unwrap();
        let body = br#"{"model":"gpt-9"}"#;
        let mut host =
            MockHost::with_request(&[(":method", "POST"), (":path", "/v1/embeddings")], body);
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        ex.on_request_body(&r, &mut host, body.len(), true);
        let (status, v) = error_of(&host);
        assert_eq!(status, 400);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model=gpt-9"));

        let (status, _) = error_of(&run("/v1/embeddings", r#"{"model":"demo","input":"x"}"#));
        assert_eq!(status, 400);
        let (status, v) = error_of(&run(
            "/v1/chat/completions",
            r#"{"model":"embedder","messages":[]}"#,
        ));
        assert_eq!(status, 400);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model_info.mode"));
    }

    #[test]
    fn oversized_bodies_get_413() {
        let big = format!(r#"{{"model":"gpt-4o","pad":"{}"}}"#, "x".repeat(2000));
        let (status, v) = error_of(&run("/v1/chat/completions", &big));
        assert_eq!(status, 413);
        assert_eq!(v["error"]["code"], "413");

        // Declared up front: refused before any body is read.
        let r = router();
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                ("content-length", "5000"),
            ],
            b"",
        );
        RouterExchange::default().on_request_headers(&r, &mut host, false);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 413);
    }

    #[test]
    fn body_arriving_in_pieces_waits_for_the_end() {
        let r = router();
        let body = br#"{"model":"gpt-4o","messages":[]}"#;
        let mut host = MockHost::with_request(
            &[(":method", "POST"), (":path", "/v1/chat/completions")],
            body,
        );
        let mut ex = RouterExchange::default();
        ex.on_request_headers(&r, &mut host, false);
        assert_eq!(ex.on_request_body(&r, &mut host, 10, false), Flow::Pause);
        assert_eq!(host.req(GROUP_HEADER), None);
        assert_eq!(
            ex.on_request_body(&r, &mut host, body.len(), true),
            Flow::Continue
        );
        assert_eq!(host.req(GROUP_HEADER).as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn mock_groups_answer_locally() {
        let host = run(
            "/v1/chat/completions",
            r#"{"model":"demo","messages":[{"role":"user","content":"hi"}]}"#,
        );
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 200);
        let v = reply.json();
        assert_eq!(v["choices"][0]["message"]["content"], "Hi from the mock");
        assert_eq!(v["id"], "chatcmpl-rid-1");
        assert_eq!(v["model"], "demo");

        let host = run(
            "/v1/chat/completions",
            r#"{"model":"demo","stream":true,"messages":[]}"#,
        );
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.header("content-type"), Some("text/event-stream"));
        assert!(String::from_utf8_lossy(&reply.body).ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn missing_body_and_wrong_method() {
        let r = router();
        let mut host = MockHost::with_request(
            &[(":method", "POST"), (":path", "/v1/chat/completions")],
            b"",
        );
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 400);
        let mut host = MockHost::with_request(
            &[(":method", "GET"), (":path", "/v1/chat/completions")],
            b"",
        );
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 405);
        let mut host = MockHost::with_request(&[(":method", "GET"), (":path", "/nope")], b"");
        RouterExchange::default().on_request_headers(&r, &mut host, true);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 404);
    }
}
