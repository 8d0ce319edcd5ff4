//! The check: may this request go on? A pure function of the presented key, the
//! model, the time, and the records and limit usage the caller looked up.
//!
//! [`presented_key`] picks the key from the request headers in LiteLLM's order
//! (`x-litellm-api-key`, `Authorization: Bearer`, `api-key`, `x-api-key`,
//! `x-goog-api-key`). [`check`] then decides, in this order:
//!
//! | case | status | `type` |
//! |---|---|---|
//! | gateway open (no master key, no database) | allowed | |
//! | no key | 401 | `auth_error` |
//! | `Authorization` without `Bearer ` | 401 | `auth_error` |
//! | the master key | allowed, unlimited | |
//! | unknown key | 401 | `auth_error` |
//! | blocked key (or its team blocked) | 401 | `auth_error` |
//! | expired key | 401 | `expired_key` (LiteLLM 1.109; 1.77 said 400) |
//! | model not in the key's `models` after its `aliases` | 401 | `key_model_access_denied`, `param: "model"` |
//! | … not in its team's / user's `models` | 401 | `team_model_access_denied` / `user_model_access_denied` |
//! | key, user or team spend ≥ `max_budget` | **400** | `budget_exceeded` |
//! | parallel / rpm / tpm limit of key, user or team reached | 429 + `retry-after` | `rate_limit_error` |
//!
//! **Why 400 for budgets.** LiteLLM has answered 400 (1.77) and 422 (1.109). Both are
//! final for the OpenAI SDKs (Python and JS retry 408, 409, 429 and 5xx only), unlike a
//! 429, which they would retry in vain until the budget resets. We pick 400: it is the
//! OpenAI `BadRequestError` that client code already catches, and LiteLLM's own
//! `BudgetExceededError` is a 400.
//!
//! **Budget resets** are applied lazily: a record whose `budget_reset_at` has passed
//! counts as spend 0 here ([`effective_spend`]); the service also writes the reset.
//!
//! **Limits** are judged from the usage snapshot the caller passes (one entry per
//! [`limit_claims`] entry). The service then takes the claims atomically through the
//! limiter, which can still refuse under a race; [`rate_limited`] builds that 429 too.

use crate::error::ApiError;
use crate::keys::{hash_key, hashes_equal};
use crate::limits::{
    retry_after_secs, violated, window_end_iso, LimitClaim, LimitKind, ScopeUsage,
};
use crate::model::{spend_header, KeyRecord, TeamRecord, UserRecord};
use crate::time::{format_iso, py_float};
use switchyard_contract::headers;

/// Response header: the key's spend so far.
pub const H_KEY_SPEND: &str = "x-litellm-key-spend";
/// Response header: requests left in this window for the key.
pub const H_REMAINING_REQUESTS: &str = "x-ratelimit-api_key-remaining-requests";
/// Response header: the key's rpm limit.
pub const H_LIMIT_REQUESTS: &str = "x-ratelimit-api_key-limit-requests";
/// Response header: tokens left in this window for the key.
pub const H_REMAINING_TOKENS: &str = "x-ratelimit-api_key-remaining-tokens";
/// Response header: the key's tpm limit.
pub const H_LIMIT_TOKENS: &str = "x-ratelimit-api_key-limit-tokens";
/// Upstream header for the spend report: the key's token hash.
pub const H_KEY_HASH: &str = headers::KEY_HASH_HEADER;
/// Upstream header for the spend report: the key's user.
pub const H_USER_ID: &str = headers::USER_ID_HEADER;
/// Upstream header for the spend report: the key's team.
pub const H_TEAM_ID: &str = headers::TEAM_ID_HEADER;
/// Upstream header for the request's record (metrics, callbacks, access log): the
/// key's alias.
pub const H_KEY_ALIAS: &str = headers::KEY_ALIAS_HEADER;
/// Upstream header for the request's record: the alias of the key's team.
pub const H_TEAM_ALIAS: &str = headers::TEAM_ALIAS_HEADER;
/// The longest alias passed on in [`H_KEY_ALIAS`] / [`H_TEAM_ALIAS`].
pub const MAX_ALIAS_HEADER_BYTES: usize = 256;
/// Upstream header: the model after the key's aliases.
pub const H_MODEL: &str = headers::MODEL_HEADER;
/// Upstream header: the model a key's `aliases` sent the request to, when one
/// applied to the model the client asked for ([`H_REQUESTED_MODEL`]). The gateway's
/// responder stage routes the request there: the model checked is the model served.
pub const H_ALIAS_TARGET: &str = headers::ALIAS_TARGET_HEADER;
/// Request header from the gateway's router stage: the model exactly as the client
/// asked for it (before the config's aliases and wildcards), which a key's `aliases`
/// apply to, as in LiteLLM.
pub const H_REQUESTED_MODEL: &str = headers::REQUESTED_MODEL_HEADER;
/// Upstream header: the parallel-request lease the gateway releases when the request
/// ends (the admission id, when the admission took limits).
pub const H_LEASE: &str = headers::LEASE_HEADER;
/// Upstream header: the request's admission id, issued at every admission (random,
/// never shown to a client or a provider). The gateway keys the request's spend rows
/// on it and carries it through an internal redirect, where this header in the check
/// request asks for a continuation ([`crate::limits`]).
pub const H_ADMISSION: &str = headers::ADMISSION_HEADER;
/// Upstream header: the model groups the key may use, comma-separated (absent: all);
/// the gateway's responder stage narrows `/models` to them.
pub const H_KEY_MODELS: &str = headers::KEY_MODELS_HEADER;
/// Upstream header: the key or its team allows clients' own `mock_response`
/// (the gateway's responder stage then answers it).
pub const H_CLIENT_MOCK: &str = headers::CLIENT_MOCK_HEADER;
/// Upstream header: the master key was presented (the responder stage answers
/// `/health` only then).
pub const H_KEY_ADMIN: &str = headers::KEY_ADMIN_HEADER;
/// Request header from the gateway's router stage: the model groups of the
/// request's own `fallbacks`, comma-separated; each must be allowed like the model.
pub const H_FALLBACK_GROUPS: &str = headers::FALLBACK_GROUPS_HEADER;
/// Upstream header: the key's spend at admission (budget gauges).
pub const H_KEY_SPEND_AT_ADMISSION: &str = headers::KEY_SPEND_HEADER;
/// Upstream header: the key's `max_budget`, when it has one.
pub const H_KEY_MAX_BUDGET: &str = headers::KEY_MAX_BUDGET_HEADER;
/// Upstream header: the key's team's spend at admission.
pub const H_TEAM_SPEND: &str = headers::TEAM_SPEND_HEADER;
/// Upstream header: the key's team's `max_budget`, when it has one.
pub const H_TEAM_MAX_BUDGET: &str = headers::TEAM_MAX_BUDGET_HEADER;
/// The key (or team) metadata flag that allows clients' own `mock_response`
/// (LiteLLM's `_ALLOW_CLIENT_MOCK_RESPONSE_METADATA_KEY`,
/// litellm/proxy/litellm_pre_call_utils.py): only a JSON `true` counts.
pub const ALLOW_CLIENT_MOCK_RESPONSE: &str = "allow_client_mock_response";

/// The key a request presented, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedKey {
    /// No key header at all (or an empty one).
    Missing,
    /// `Authorization` present without the `Bearer ` scheme.
    Malformed,
    /// The key, as sent.
    Key(String),
}

/// Picks the presented key from the headers (`header(name)` looks a header up by its
/// lower-case name) in LiteLLM's order.
pub fn presented_key<'a>(header: impl Fn(&str) -> Option<&'a str>) -> PresentedKey {
    let non_empty = |v: &str| {
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    if let Some(v) = header("x-litellm-api-key") {
        let v = v.trim();
        let v = strip_bearer(v).unwrap_or(v);
        if let Some(k) = non_empty(v) {
            return PresentedKey::Key(k);
        }
    }
    if let Some(v) = header("authorization") {
        let v = v.trim();
        if !v.is_empty() {
            return match strip_bearer(v).and_then(non_empty) {
                Some(k) => PresentedKey::Key(k),
                None => PresentedKey::Malformed,
            };
        }
    }
    for name in ["api-key", "x-api-key", "x-goog-api-key"] {
        if let Some(k) = header(name).and_then(non_empty) {
            return PresentedKey::Key(k);
        }
    }
    PresentedKey::Missing
}

fn strip_bearer(v: &str) -> Option<&str> {
    let (scheme, rest) = v.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case("bearer ").then_some(rest)
}

/// How the gateway is configured.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `sha256(master key)` hex, when a master key is set.
    pub master_key_hash: Option<String>,
    /// No master key and no database: everything is allowed (LiteLLM's open proxy).
    pub open: bool,
}

/// What the check is asked about.
#[derive(Debug, Clone)]
pub struct CheckInput<'a> {
    /// The key the client sent, as the check received it.
    pub presented_key: &'a PresentedKey,
    /// The model the request asks for (`None` for routes without one, e.g. `/models`):
    /// behind the gateway, the model group its router stage resolved.
    pub model: Option<&'a str>,
    /// The model exactly as the client named it ([`H_REQUESTED_MODEL`]), when the
    /// gateway says; a key's `aliases` apply to it, else to `model`.
    pub requested_model: Option<&'a str>,
    /// The model groups of the request's own `fallbacks` (each checked like `model`).
    pub fallbacks: &'a [String],
    /// Now, epoch milliseconds.
    pub now: i64,
}

/// The records the caller looked up for the presented key's hash, and the limit
/// usage of each of [`limit_claims`]'s scopes (same order; missing = unused).
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    /// The presented key's row, if the hash matched one.
    pub key: Option<&'a KeyRecord>,
    /// The key's user, if it has one and the row exists.
    pub user: Option<&'a UserRecord>,
    /// The key's team, if it has one and the row exists.
    pub team: Option<&'a TeamRecord>,
    /// The current window's usage of each limit scope.
    pub usage: Vec<ScopeUsage>,
}

/// An admitted request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Allowed {
    /// The master key was presented (no limits, no budget).
    pub is_master: bool,
    /// Admitted because the gateway is open.
    pub open: bool,
    /// Token hash of the presented key (for the spend report).
    pub key_hash: Option<String>,
    /// The key's user, whose spend and limits the request counts against.
    pub user_id: Option<String>,
    /// The key's team, whose spend and limits the request counts against.
    pub team_id: Option<String>,
    /// The model after the key's aliases.
    pub model: Option<String>,
    /// Set when one of the key's `aliases` applied: the model the request must be
    /// routed to (and was checked as).
    pub alias_target: Option<String>,
    /// The limits to take through the limiter.
    pub claims: Vec<LimitClaim>,
    /// Headers for the client's response (`x-litellm-key-spend`, `x-ratelimit-*`).
    pub response_headers: Vec<(&'static str, String)>,
    /// The parallel-request lease, once taken.
    pub lease: Option<String>,
    /// The admission id (set by the service once the limits are taken).
    pub admission: Option<String>,
    /// The model groups the key may use; `None` when it may use all.
    pub models: Option<Vec<String>>,
    /// The key or its team allows clients' own `mock_response`.
    pub client_mock: bool,
    /// The key's alias (`key_alias`), for the request's record.
    pub key_alias: Option<String>,
    /// The alias of the key's team, for the request's record.
    pub team_alias: Option<String>,
    /// The key's budget at admission, for the gateway's budget gauges (a virtual
    /// key only: not the master key, not an open gateway).
    pub key_budget: Option<BudgetAtAdmission>,
    /// The key's team's budget at admission, when the key has a team.
    pub team_budget: Option<BudgetAtAdmission>,
}

/// A scope's spend and budget when a request was admitted: what LiteLLM's
/// Prometheus logger reads from the request's metadata (`user_api_key_spend`,
/// `user_api_key_max_budget`, `user_api_key_team_spend`,
/// `user_api_key_team_max_budget`) for the remaining-budget gauges.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BudgetAtAdmission {
    /// Spend so far (0 once the budget's reset time has passed).
    pub spend: f64,
    /// `max_budget`; `None`: no budget.
    pub max_budget: Option<f64>,
}

impl BudgetAtAdmission {
    /// The two headers of this budget (spend, and max budget when there is one).
    fn push_headers(
        &self,
        spend_header: &'static str,
        max_header: &'static str,
        h: &mut Vec<(&'static str, String)>,
    ) {
        if self.spend.is_finite() {
            h.push((spend_header, self.spend.to_string()));
            if let Some(max) = self.max_budget.filter(|m| m.is_finite()) {
                h.push((max_header, max.to_string()));
            }
        }
    }
}

/// An alias as a header value: control characters (a newline would split the
/// gateway's filter state) dropped, at most [`MAX_ALIAS_HEADER_BYTES`] bytes, cut at
/// a character boundary; `None` when nothing is left.
pub fn alias_header_value(alias: &str) -> Option<String> {
    let mut out = String::with_capacity(alias.len().min(MAX_ALIAS_HEADER_BYTES));
    for c in alias.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_ALIAS_HEADER_BYTES {
            break;
        }
        out.push(c);
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

impl Allowed {
    /// Headers for the upstream request (what the spend report needs back).
    pub fn request_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(k) = &self.key_hash {
            h.push((H_KEY_HASH, k.clone()));
        }
        if let Some(u) = &self.user_id {
            h.push((H_USER_ID, u.clone()));
        }
        if let Some(t) = &self.team_id {
            h.push((H_TEAM_ID, t.clone()));
        }
        if let Some(m) = &self.model {
            h.push((H_MODEL, m.clone()));
        }
        if let Some(t) = &self.alias_target {
            h.push((H_ALIAS_TARGET, t.clone()));
        }
        if let Some(l) = &self.lease {
            h.push((H_LEASE, l.clone()));
        }
        if let Some(a) = &self.admission {
            h.push((H_ADMISSION, a.clone()));
        }
        if let Some(m) = &self.models {
            h.push((H_KEY_MODELS, m.join(",")));
        }
        if self.client_mock {
            h.push((H_CLIENT_MOCK, headers::CLIENT_MOCK_ALLOWED.to_string()));
        }
        if let Some(a) = self.key_alias.as_deref().and_then(alias_header_value) {
            h.push((H_KEY_ALIAS, a));
        }
        if let Some(a) = self.team_alias.as_deref().and_then(alias_header_value) {
            h.push((H_TEAM_ALIAS, a));
        }
        if self.is_master {
            h.push((H_KEY_ADMIN, headers::KEY_ADMIN_MASTER.to_string()));
        }
        if let Some(b) = &self.key_budget {
            b.push_headers(H_KEY_SPEND_AT_ADMISSION, H_KEY_MAX_BUDGET, &mut h);
        }
        if let Some(b) = &self.team_budget {
            b.push_headers(H_TEAM_SPEND, H_TEAM_MAX_BUDGET, &mut h);
        }
        h
    }
}

/// The check's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Admitted, with what the spend report and the limiter need (boxed: an
    /// admission carries far more than a refusal).
    Allow(Box<Allowed>),
    /// Refused, with the error the client gets.
    Deny(ApiError),
}

impl Decision {
    /// The refusal, if refused.
    pub fn denial(&self) -> Option<&ApiError> {
        match self {
            Decision::Deny(e) => Some(e),
            Decision::Allow(_) => None,
        }
    }
}

/// Spend that counts now: 0 once the budget's reset time has passed.
pub fn effective_spend(spend: f64, budget_reset_at: Option<i64>, now: i64) -> f64 {
    match budget_reset_at {
        Some(at) if at <= now => 0.0,
        _ => spend,
    }
}

/// The limit claims for a key and its user and team, in the order the check and the
/// limiter use: key, user, team.
pub fn limit_claims(
    key: &KeyRecord,
    user: Option<&UserRecord>,
    team: Option<&TeamRecord>,
) -> Vec<LimitClaim> {
    let mut claims = vec![LimitClaim {
        scope: crate::limits::scope("key", &key.token),
        rpm: key.rpm_limit,
        tpm: key.tpm_limit,
        parallel: key.max_parallel_requests,
    }];
    if let Some(u) = user {
        claims.push(LimitClaim {
            scope: crate::limits::scope("user", &u.user_id),
            rpm: u.rpm_limit,
            tpm: u.tpm_limit,
            parallel: u.max_parallel_requests,
        });
    }
    if let Some(t) = team {
        claims.push(LimitClaim {
            scope: crate::limits::scope("team", &t.team_id),
            rpm: t.rpm_limit,
            tpm: t.tpm_limit,
            parallel: t.max_parallel_requests,
        });
    }
    claims.retain(LimitClaim::is_limiting);
    claims
}

/// The 429 for a limit of the scope `scope` (`key:…`, `user:…`, `team:…`).
pub fn rate_limited(scope: &str, kind: LimitKind, limit: i64, now: i64) -> ApiError {
    let who = match scope.split_once(':').map(|(k, _)| k) {
        Some("user") => "user",
        Some("team") => "team",
        _ => "api_key",
    };
    let (message, retry) = match kind {
        LimitKind::Parallel => (
            format!(
                "Max parallel request limit reached for {who}. Current limit: {limit}. Try again when a request in flight has finished."
            ),
            1,
        ),
        _ => (
            format!(
                "Rate limit exceeded for {who}. Limit type: {}. Current limit: {limit}, Remaining: 0. Limit resets at: {}",
                kind.as_str(),
                window_end_iso(now)
            ),
            retry_after_secs(now),
        ),
    };
    let mut e = ApiError::new(429, "rate_limit_error", message);
    e.retry_after = Some(retry);
    e
}

/// True when `models` lets `model` through: empty, `*`, `all-proxy-models`, an exact
/// name, or a `prefix/*` wildcard. `all-team-models` defers to the team's list.
pub fn model_allowed(models: &[String], model: &str) -> bool {
    models.is_empty()
        || models.iter().any(|m| {
            m == model
                || m == "*"
                || m == "all-proxy-models"
                || m == "all-team-models"
                || m.strip_suffix('*')
                    .is_some_and(|p| p.ends_with('/') && model.starts_with(p))
        })
}

fn py_list(models: &[String]) -> String {
    let items: Vec<String> = models.iter().map(|m| format!("'{m}'")).collect();
    format!("[{}]", items.join(", "))
}

fn budget_exceeded(who: Option<String>, spend: f64, max: f64) -> ApiError {
    let who = who.map(|w| format!("{w} ")).unwrap_or_default();
    ApiError::new(
        400,
        "budget_exceeded",
        format!(
            "Budget has been exceeded! {who}Current cost: {}, Max budget: {}",
            py_float(spend),
            py_float(max)
        ),
    )
}

/// Why the key (or its team, or its user) may not use model `m`, if it may not;
/// `param` names the request field that asked for it.
fn model_denied(
    key: &KeyRecord,
    user: Option<&UserRecord>,
    team: Option<&TeamRecord>,
    m: &str,
    param: &str,
) -> Option<ApiError> {
    if !model_allowed(&key.models, m) {
        return Some(
            ApiError::new(
                401,
                "key_model_access_denied",
                format!(
                    "API Key not allowed to access model. This token can only access models={}. Tried to access {m}",
                    py_list(&key.models)
                ),
            )
            .with_param(param),
        );
    }
    if let Some(t) = team {
        if !model_allowed(&t.models, m) {
            return Some(
                ApiError::new(
                    401,
                    "team_model_access_denied",
                    format!(
                        "Team not allowed to access model. Team={}, Model={m}. Allowed team models = {}",
                        t.team_id,
                        py_list(&t.models)
                    ),
                )
                .with_param(param),
            );
        }
    }
    if let Some(u) = user {
        if !model_allowed(&u.models, m) {
            return Some(
                ApiError::new(
                    401,
                    "user_model_access_denied",
                    format!(
                        "User not allowed to access model. User={}, Model={m}. Allowed user models = {}",
                        u.user_id,
                        py_list(&u.models)
                    ),
                )
                .with_param(param),
            );
        }
    }
    None
}

/// Whether the key's or its team's metadata allows clients' own `mock_response`
/// (LiteLLM's `_key_or_team_metadata_flag_is_true`: a JSON `true` only).
fn allows_client_mock(key: &KeyRecord, team: Option<&TeamRecord>) -> bool {
    let flag = |m: &serde_json::Map<String, serde_json::Value>| {
        m.get(ALLOW_CLIENT_MOCK_RESPONSE) == Some(&serde_json::Value::Bool(true))
    };
    flag(&key.metadata) || team.is_some_and(|t| flag(&t.metadata))
}

/// The check itself. Pure: no clock, no I/O. The steps run in the order of the
/// table in the module doc; the first that refuses decides the answer.
pub fn check(input: &CheckInput<'_>, policy: &Policy, subject: &Subject<'_>) -> Decision {
    if policy.open {
        return Decision::Allow(Box::new(open_admission(input)));
    }
    match admit(input, policy, subject) {
        Ok(allowed) => Decision::Allow(Box::new(allowed)),
        Err(denied) => Decision::Deny(denied),
    }
}

/// The admission of an open gateway: everything passes, the key (if any) is only
/// hashed for the spend report.
fn open_admission(input: &CheckInput<'_>) -> Allowed {
    let key_hash = match input.presented_key {
        PresentedKey::Key(k) => Some(hash_key(k)),
        _ => None,
    };
    Allowed {
        open: true,
        key_hash,
        model: input.model.map(str::to_string),
        ..Allowed::default()
    }
}

/// The check of a closed gateway, step by step: the key, its owners, the models, the
/// budgets, the limits.
fn admit(
    input: &CheckInput<'_>,
    policy: &Policy,
    subject: &Subject<'_>,
) -> Result<Allowed, ApiError> {
    let now = input.now;
    let hash = presented_key_hash(input.presented_key)?;
    if is_master_key(&hash, policy) {
        return Ok(Allowed {
            is_master: true,
            key_hash: Some(hash),
            model: input.model.map(str::to_string),
            ..Allowed::default()
        });
    }
    let key = known_key(subject, &hash)?;
    key_usable(key, now)?;
    let owners = KeyOwners::of(key, subject);
    owners.team_usable()?;
    let route = ModelRoute::for_request(key, input);
    models_allowed(key, &owners, &route, input.fallbacks)?;
    let key_spend = budgets_left(key, &owners, now)?;
    let claims = limit_claims(key, owners.user, owners.team);
    let key_usage = limits_left(&claims, &subject.usage, now)?;
    Ok(Allowed {
        is_master: false,
        open: false,
        key_hash: Some(hash),
        user_id: key.user_id.clone(),
        team_id: key.team_id.clone(),
        model: route.model,
        alias_target: route.alias_target,
        claims,
        response_headers: key_response_headers(key, key_spend, &key_usage),
        lease: None,
        admission: None,
        models: listed_models(&key.models),
        client_mock: allows_client_mock(key, owners.team),
        key_alias: key.key_alias.clone(),
        team_alias: owners.team.and_then(|t| t.team_alias.clone()),
        key_budget: Some(BudgetAtAdmission {
            spend: key_spend,
            max_budget: key.max_budget,
        }),
        team_budget: owners.team.map(|t| BudgetAtAdmission {
            spend: effective_spend(t.spend, t.budget_reset_at, now),
            max_budget: t.max_budget,
        }),
    })
}

/// The presented key's hash; a missing or malformed key is refused.
fn presented_key_hash(presented: &PresentedKey) -> Result<String, ApiError> {
    match presented {
        PresentedKey::Missing => Err(ApiError::auth(
            "Authentication Error, No api key passed in.",
        )),
        PresentedKey::Malformed => Err(ApiError::auth(
            "Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
        )),
        PresentedKey::Key(k) => Ok(hash_key(k)),
    }
}

/// True when the presented key (by its hash) is the master key.
fn is_master_key(hash: &str, policy: &Policy) -> bool {
    policy
        .master_key_hash
        .as_deref()
        .is_some_and(|master| hashes_equal(hash, master))
}

/// The key's row, when the caller found one for the presented key's hash.
fn known_key<'a>(subject: &Subject<'a>, hash: &str) -> Result<&'a KeyRecord, ApiError> {
    match subject.key {
        Some(k) if hashes_equal(&k.token, hash) => Ok(k),
        _ => Err(ApiError::auth(
            "Authentication Error, Invalid proxy server token passed. Unable to find the key in the key store.",
        )),
    }
}

/// The key's own state: blocked, then expired (expiring exactly now counts).
fn key_usable(key: &KeyRecord, now: i64) -> Result<(), ApiError> {
    if key.blocked {
        return Err(ApiError::auth(
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're admin.",
        ));
    }
    match key.expires {
        Some(exp) if exp <= now => Err(ApiError::new(
            401,
            "expired_key",
            format!(
                "Authentication Error - Expired Key. Key Expiry time {} and current time {}",
                format_iso(exp),
                format_iso(now)
            ),
        )),
        _ => Ok(()),
    }
}

/// The key's user and team among the looked-up records: they only count when they
/// are the key's.
struct KeyOwners<'a> {
    user: Option<&'a UserRecord>,
    team: Option<&'a TeamRecord>,
}

impl<'a> KeyOwners<'a> {
    fn of(key: &KeyRecord, subject: &Subject<'a>) -> Self {
        KeyOwners {
            user: subject
                .user
                .filter(|u| key.user_id.as_deref() == Some(u.user_id.as_str())),
            team: subject
                .team
                .filter(|t| key.team_id.as_deref() == Some(t.team_id.as_str())),
        }
    }

    /// A blocked team refuses its keys.
    fn team_usable(&self) -> Result<(), ApiError> {
        match self.team {
            Some(t) if t.blocked => Err(ApiError::auth(format!(
                "Authentication Error, Team={} is blocked. Update via `/team/unblock` if you're admin.",
                t.team_id
            ))),
            _ => Ok(()),
        }
    }
}

/// The model a request is checked as, after the key's `aliases`.
struct ModelRoute {
    /// The model checked (and reported).
    model: Option<String>,
    /// Set when an alias applied to the model the client named: where the gateway
    /// must route the request.
    alias_target: Option<String>,
}

impl ModelRoute {
    /// LiteLLM applies a key's aliases to the model the client named. Behind the
    /// gateway that name comes apart from the group it resolved to; the alias's
    /// target is then checked here *and* routed by the gateway (`H_ALIAS_TARGET`),
    /// so a key limited to a cheap group is never served by the group it aliased.
    fn for_request(key: &KeyRecord, input: &CheckInput<'_>) -> Self {
        let alias_target = match input.requested_model {
            Some(requested) => key_alias(key, requested).filter(|t| t != requested),
            None => None,
        };
        let model = match (&alias_target, input.requested_model) {
            (Some(target), _) => Some(target.clone()),
            (None, Some(_)) => input.model.map(str::to_string),
            (None, None) => input.model.map(|m| aliased(key, m)),
        };
        ModelRoute {
            model,
            alias_target,
        }
    }
}

/// The target of the key's alias for `model`, if it has one.
fn key_alias(key: &KeyRecord, model: &str) -> Option<String> {
    key.aliases
        .get(model)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// `model` after the key's aliases.
fn aliased(key: &KeyRecord, model: &str) -> String {
    key_alias(key, model).unwrap_or_else(|| model.to_string())
}

/// Models, after the key's aliases; then the groups of the request's own fallbacks,
/// each as if asked for (LiteLLM skips a fallback the caller may not use; the
/// gateway refuses the request instead, before anything is sent).
fn models_allowed(
    key: &KeyRecord,
    owners: &KeyOwners<'_>,
    route: &ModelRoute,
    fallbacks: &[String],
) -> Result<(), ApiError> {
    if let Some(m) = route.model.as_deref() {
        if let Some(denied) = model_denied(key, owners.user, owners.team, m, "model") {
            return Err(denied);
        }
    }
    for fallback in fallbacks {
        let m = aliased(key, fallback);
        if let Some(denied) = model_denied(key, owners.user, owners.team, &m, "fallbacks") {
            return Err(denied);
        }
    }
    Ok(())
}

/// Budgets: the key's, then its user's, then its team's. Returns the key's spend
/// that counts now (for `x-litellm-key-spend`).
fn budgets_left(key: &KeyRecord, owners: &KeyOwners<'_>, now: i64) -> Result<f64, ApiError> {
    let key_spend = effective_spend(key.spend, key.budget_reset_at, now);
    within_budget(key_spend, key.max_budget, || None)?;
    if let Some(u) = owners.user {
        let spend = effective_spend(u.spend, u.budget_reset_at, now);
        within_budget(spend, u.max_budget, || Some(format!("User={}", u.user_id)))?;
    }
    if let Some(t) = owners.team {
        let spend = effective_spend(t.spend, t.budget_reset_at, now);
        within_budget(spend, t.max_budget, || Some(format!("Team={}", t.team_id)))?;
    }
    Ok(key_spend)
}

/// One scope's budget: spend at or over `max_budget` is refused (`who` names the
/// scope in the message; `None` for the key).
fn within_budget(
    spend: f64,
    max_budget: Option<f64>,
    who: impl FnOnce() -> Option<String>,
) -> Result<(), ApiError> {
    match max_budget {
        Some(max) if spend >= max => Err(budget_exceeded(who(), spend, max)),
        _ => Ok(()),
    }
}

/// Rate limits, in the claims' order (key, user, team), judged from the usage
/// snapshot. Returns the key scope's usage (for the `x-ratelimit-*` headers).
fn limits_left(
    claims: &[LimitClaim],
    usage: &[ScopeUsage],
    now: i64,
) -> Result<ScopeUsage, ApiError> {
    let mut key_usage = ScopeUsage::default();
    for (i, claim) in claims.iter().enumerate() {
        let usage = usage.get(i).copied().unwrap_or_default();
        if claim.scope.starts_with("key:") {
            key_usage = usage;
        }
        if let Some((kind, limit)) = violated(claim, &usage) {
            return Err(rate_limited(&claim.scope, kind, limit, now));
        }
    }
    Ok(key_usage)
}

/// The admitted client's response headers: the key's spend and, for its rpm and tpm
/// limits, what is left in this window.
fn key_response_headers(
    key: &KeyRecord,
    key_spend: f64,
    key_usage: &ScopeUsage,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![(H_KEY_SPEND, spend_header(key_spend))];
    if let Some(rpm) = key.rpm_limit {
        headers.push((
            H_REMAINING_REQUESTS,
            (rpm - key_usage.requests - 1).max(0).to_string(),
        ));
        headers.push((H_LIMIT_REQUESTS, rpm.to_string()));
    }
    if let Some(tpm) = key.tpm_limit {
        headers.push((
            H_REMAINING_TOKENS,
            (tpm - key_usage.tokens).max(0).to_string(),
        ));
        headers.push((H_LIMIT_TOKENS, tpm.to_string()));
    }
    headers
}

/// A key's model list as the gateway lists it: `None` (all) when empty or when it
/// holds an everything marker.
fn listed_models(models: &[String]) -> Option<Vec<String>> {
    let all = models.is_empty()
        || models
            .iter()
            .any(|m| matches!(m.as_str(), "*" | "all-proxy-models" | "all-team-models"));
    (!all).then(|| models.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract with Envoy's ext_authz (rendered by the config compiler from
    /// `switchyard_contract::headers::KEY_HEADERS`): every header an admission writes
    /// for the gateway is one Envoy lets through, and each of those is written (the
    /// model after the key's aliases is the keyservice's own, never passed on).
    #[test]
    fn admitted_headers_are_the_ones_envoy_passes_to_the_gateway() {
        let allowed = Allowed {
            key_hash: Some("h".into()),
            user_id: Some("u".into()),
            team_id: Some("t".into()),
            model: Some("m".into()),
            alias_target: Some("a".into()),
            lease: Some("l".into()),
            admission: Some("adm".into()),
            models: Some(vec!["g".into()]),
            client_mock: true,
            key_alias: Some("ka".into()),
            team_alias: Some("ta".into()),
            is_master: true,
            key_budget: Some(BudgetAtAdmission {
                spend: 1.5,
                max_budget: Some(10.0),
            }),
            team_budget: Some(BudgetAtAdmission {
                spend: 2.0,
                max_budget: Some(20.0),
            }),
            ..Default::default()
        };
        let written: Vec<&str> = allowed
            .request_headers()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| *name != headers::MODEL_HEADER)
            .collect();
        let mut passed = headers::KEY_HEADERS.to_vec();
        let mut sorted = written.clone();
        passed.sort_unstable();
        sorted.sort_unstable();
        assert_eq!(sorted, passed);
        assert!(!headers::KEY_HEADERS.contains(&headers::MODEL_HEADER));
    }

    #[test]
    fn listed_models_for_the_models_endpoint() {
        assert_eq!(listed_models(&[]), None);
        assert_eq!(listed_models(&["a".into(), "*".into()]), None);
        assert_eq!(listed_models(&["all-proxy-models".into()]), None);
        assert_eq!(
            listed_models(&["a".into(), "b".into()]),
            Some(vec!["a".to_string(), "b".to_string()])
        );
    }
    use crate::time::parse_iso;
    use serde_json::json;

    const KEY: &str = "sk-test-key-0001";
    const MASTER: &str = "sk-master";

    fn now() -> i64 {
        parse_iso("2024-05-01T12:00:30Z").unwrap()
    }

    fn policy() -> Policy {
        Policy {
            master_key_hash: Some(hash_key(MASTER)),
            open: false,
        }
    }

    fn key() -> KeyRecord {
        KeyRecord {
            token: hash_key(KEY),
            key_name: crate::keys::key_name(KEY),
            ..KeyRecord::default()
        }
    }

    fn run(presented: PresentedKey, model: Option<&str>, subject: &Subject<'_>) -> Decision {
        check(
            &CheckInput {
                presented_key: &presented,
                model,
                fallbacks: &[],
                requested_model: None,
                now: now(),
            },
            &policy(),
            subject,
        )
    }

    fn with_key(k: &KeyRecord) -> Subject<'_> {
        Subject {
            key: Some(k),
            ..Subject::default()
        }
    }

    fn denied(d: &Decision) -> &ApiError {
        d.denial()
            .unwrap_or_else(|| panic!("expected a refusal, got {d:?}"))
    }

    fn allowed(d: Decision) -> Allowed {
        match d {
            Decision::Allow(a) => *a,
            Decision::Deny(e) => panic!("expected admission, got {e:?}"),
        }
    }

    fn k(s: &str) -> PresentedKey {
        PresentedKey::Key(s.to_string())
    }

    #[test]
    fn header_order_follows_litellm() {
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        assert_eq!(presented_key(headers(&[])), PresentedKey::Missing);
        assert_eq!(
            presented_key(headers(&[
                ("authorization", "Bearer sk-a"),
                ("x-litellm-api-key", "sk-b")
            ])),
            k("sk-b")
        );
        assert_eq!(
            presented_key(headers(&[("x-litellm-api-key", "Bearer sk-b")])),
            k("sk-b")
        );
        assert_eq!(
            presented_key(headers(&[
                ("authorization", "bearer sk-a"),
                ("api-key", "sk-c")
            ])),
            k("sk-a")
        );
        assert_eq!(
            presented_key(headers(&[
                ("authorization", "Basic abc"),
                ("x-api-key", "sk-d")
            ])),
            PresentedKey::Malformed
        );
        assert_eq!(
            presented_key(headers(&[
                ("authorization", "Bearer "),
                ("x-api-key", "sk-d")
            ])),
            PresentedKey::Malformed
        );
        assert_eq!(
            presented_key(headers(&[("api-key", "sk-c"), ("x-api-key", "sk-d")])),
            k("sk-c")
        );
        assert_eq!(
            presented_key(headers(&[
                ("x-api-key", "sk-d"),
                ("x-goog-api-key", "sk-e")
            ])),
            k("sk-d")
        );
        assert_eq!(
            presented_key(headers(&[("x-goog-api-key", "sk-e")])),
            k("sk-e")
        );
        assert_eq!(
            presented_key(headers(&[("x-api-key", "  ")])),
            PresentedKey::Missing
        );
    }

    fn run_with_fallbacks(model: &str, fallbacks: &[&str], subject: &Subject<'_>) -> Decision {
        let fallbacks: Vec<String> = fallbacks.iter().map(|f| f.to_string()).collect();
        check(
            &CheckInput {
                presented_key: &k(KEY),
                model: Some(model),
                fallbacks: &fallbacks,
                requested_model: None,
                now: now(),
            },
            &policy(),
            subject,
        )
    }

    #[test]
    fn every_fallback_group_must_be_allowed_like_the_model() {
        let mut kr = key();
        kr.models = vec!["a".into(), "b".into()];
        kr.aliases = json!({"bee": "b"}).as_object().unwrap().clone();
        allowed(run_with_fallbacks("a", &["b", "bee"], &with_key(&kr)));
        let d = run_with_fallbacks("a", &["b", "c"], &with_key(&kr));
        let e = denied(&d);
        assert_eq!(
            (e.status, e.kind.as_str(), e.param.as_deref()),
            (401, "key_model_access_denied", Some("fallbacks"))
        );
        assert!(e.message.ends_with("Tried to access c"), "{}", e.message);
        // The team's list counts too.
        let kr = KeyRecord {
            team_id: Some("t1".into()),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            models: vec!["a".into()],
            ..TeamRecord::default()
        };
        let subject = Subject {
            key: Some(&kr),
            team: Some(&team),
            ..Subject::default()
        };
        let d = run_with_fallbacks("a", &["b"], &subject);
        assert_eq!(denied(&d).kind, "team_model_access_denied");
        // The master key may use every group.
        let fallbacks = vec!["anything".to_string()];
        allowed(check(
            &CheckInput {
                presented_key: &k(MASTER),
                model: Some("a"),
                fallbacks: &fallbacks,
                requested_model: None,
                now: now(),
            },
            &policy(),
            &Subject::default(),
        ));
    }

    #[test]
    fn client_mocks_need_the_key_or_team_flag() {
        let header = |a: &Allowed| {
            a.request_headers()
                .iter()
                .any(|(h, v)| *h == H_CLIENT_MOCK && v == "allowed")
        };
        let plain = key();
        let a = allowed(run(k(KEY), Some("m"), &with_key(&plain)));
        assert!(!a.client_mock && !header(&a));
        let mut flagged = key();
        flagged.metadata = json!({ALLOW_CLIENT_MOCK_RESPONSE: true})
            .as_object()
            .unwrap()
            .clone();
        let a = allowed(run(k(KEY), Some("m"), &with_key(&flagged)));
        assert!(a.client_mock && header(&a));
        // Only a JSON true (LiteLLM's `is True`).
        for not_true in [json!("true"), json!(1), json!(false)] {
            let mut kr = key();
            kr.metadata = json!({ALLOW_CLIENT_MOCK_RESPONSE: not_true})
                .as_object()
                .unwrap()
                .clone();
            assert!(!allowed(run(k(KEY), Some("m"), &with_key(&kr))).client_mock);
        }
        // Through the key's team.
        let kr = KeyRecord {
            team_id: Some("t1".into()),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            metadata: json!({ALLOW_CLIENT_MOCK_RESPONSE: true})
                .as_object()
                .unwrap()
                .clone(),
            ..TeamRecord::default()
        };
        let subject = Subject {
            key: Some(&kr),
            team: Some(&team),
            ..Subject::default()
        };
        assert!(allowed(run(k(KEY), Some("m"), &subject)).client_mock);
        // Neither the master key nor an open gateway has key metadata (LiteLLM strips).
        assert!(!allowed(run(k(MASTER), Some("m"), &Subject::default())).client_mock);
    }

    #[test]
    fn no_key_is_401() {
        let d = run(PresentedKey::Missing, Some("m"), &Subject::default());
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (401, "auth_error"));
        assert_eq!(e.message, "Authentication Error, No api key passed in.");
    }

    #[test]
    fn malformed_authorization_is_401() {
        let d = run(PresentedKey::Malformed, Some("m"), &Subject::default());
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (401, "auth_error"));
        assert!(e.message.contains("`Bearer ` prefix"));
    }

    #[test]
    fn unknown_key_is_401_and_names_no_secret() {
        let d = run(k("sk-nope"), Some("m"), &Subject::default());
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (401, "auth_error"));
        assert!(!e.message.contains("sk-nope") && !e.message.contains(&hash_key("sk-nope")));
    }

    #[test]
    fn a_record_for_another_hash_is_not_accepted() {
        // The caller's lookup must match the presented key's hash.
        let rec = key();
        let d = run(k("sk-other"), None, &with_key(&rec));
        assert_eq!(denied(&d).status, 401);
    }

    #[test]
    fn a_stored_hash_is_not_a_credential() {
        let rec = key();
        let d = run(k(&rec.token), None, &with_key(&rec));
        assert_eq!(denied(&d).status, 401);
    }

    #[test]
    fn blocked_key_is_401() {
        let rec = KeyRecord {
            blocked: true,
            ..key()
        };
        let d = run(k(KEY), Some("m"), &with_key(&rec));
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (401, "auth_error"));
        assert!(e.message.contains("blocked"));
    }

    #[test]
    fn blocked_team_is_401() {
        let rec = KeyRecord {
            team_id: Some("t1".into()),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            blocked: true,
            ..TeamRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            ..Subject::default()
        };
        let e = denied(&run(k(KEY), None, &s)).clone();
        assert_eq!((e.status, e.kind.as_str()), (401, "auth_error"));
        assert!(e.message.contains("Team=t1 is blocked"));
    }

    #[test]
    fn expired_key_is_401_expired_key() {
        let rec = KeyRecord {
            expires: Some(now() - 1),
            ..key()
        };
        let d = run(k(KEY), Some("m"), &with_key(&rec));
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (401, "expired_key"));
        // Expiring exactly now counts as expired; a millisecond later does not.
        let rec = KeyRecord {
            expires: Some(now()),
            ..key()
        };
        assert!(run(k(KEY), None, &with_key(&rec)).denial().is_some());
        let rec = KeyRecord {
            expires: Some(now() + 1),
            ..key()
        };
        assert!(run(k(KEY), None, &with_key(&rec)).denial().is_none());
    }

    #[test]
    fn model_outside_key_models_is_401_with_allowed_list() {
        let rec = KeyRecord {
            models: vec!["gpt-4o".into(), "claude".into()],
            ..key()
        };
        let d = run(k(KEY), Some("gpt-3.5"), &with_key(&rec));
        let e = denied(&d);
        assert_eq!(
            (e.status, e.kind.as_str()),
            (401, "key_model_access_denied")
        );
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(e.message.contains("['gpt-4o', 'claude']"), "{}", e.message);
        assert!(e.message.contains("gpt-3.5"));
        // Allowed models pass, and a request without a model is not model-checked.
        assert!(run(k(KEY), Some("claude"), &with_key(&rec))
            .denial()
            .is_none());
        assert!(run(k(KEY), None, &with_key(&rec)).denial().is_none());
    }

    #[test]
    fn key_aliases_apply_before_the_model_check() {
        let mut aliases = serde_json::Map::new();
        aliases.insert("my-gpt".into(), json!("gpt-4o"));
        let rec = KeyRecord {
            models: vec!["gpt-4o".into()],
            aliases,
            ..key()
        };
        let a = allowed(run(k(KEY), Some("my-gpt"), &with_key(&rec)));
        assert_eq!(a.model.as_deref(), Some("gpt-4o"));
        assert!(a
            .request_headers()
            .contains(&(H_MODEL, "gpt-4o".to_string())));
        // An alias to a model the key may not use is refused.
        let mut aliases = serde_json::Map::new();
        aliases.insert("gpt-4o".into(), json!("gpt-5"));
        let rec = KeyRecord {
            models: vec!["gpt-4o".into()],
            aliases,
            ..key()
        };
        assert_eq!(
            denied(&run(k(KEY), Some("gpt-4o"), &with_key(&rec))).kind,
            "key_model_access_denied"
        );
    }

    /// LiteLLM applies a key's aliases to the model the client named; behind the
    /// gateway the target is checked and named for routing, never the group the
    /// client's name resolved to.
    #[test]
    fn key_aliases_apply_to_the_requested_model_and_name_the_route() {
        let mut aliases = serde_json::Map::new();
        aliases.insert("gpt-3.5-turbo".into(), json!("my-free-tier"));
        let rec = KeyRecord {
            models: vec!["my-free-tier".into()],
            aliases,
            ..key()
        };
        let ask = |requested: &str, group: Option<&str>| {
            check(
                &CheckInput {
                    presented_key: &k(KEY),
                    model: group,
                    fallbacks: &[],
                    requested_model: Some(requested),
                    now: now(),
                },
                &policy(),
                &with_key(&rec),
            )
        };
        // Asked by its alias (the config's group of that name resolved by the
        // router): allowed as the target, which the gateway must route.
        let a = allowed(ask("gpt-3.5-turbo", Some("gpt-3.5-turbo")));
        assert_eq!(a.alias_target.as_deref(), Some("my-free-tier"));
        assert!(a
            .request_headers()
            .contains(&(H_ALIAS_TARGET, "my-free-tier".to_string())));
        // A name the config does not know (no group resolved) still aliases.
        let a = allowed(ask("gpt-3.5-turbo", None));
        assert_eq!(a.alias_target.as_deref(), Some("my-free-tier"));
        // No alias: the resolved group is checked, and nothing is re-routed.
        assert_eq!(
            denied(&ask("gpt-4o", Some("gpt-4o"))).kind,
            "key_model_access_denied"
        );
        let a = allowed(ask("my-free-tier", Some("my-free-tier")));
        assert_eq!(a.alias_target, None);
        assert!(!a
            .request_headers()
            .iter()
            .any(|(h, _)| *h == H_ALIAS_TARGET));
        // An alias is looked up by the client's name, not by the group a config
        // alias resolved it to (LiteLLM's order).
        let a = ask("cheap", Some("gpt-3.5-turbo"));
        assert_eq!(denied(&a).kind, "key_model_access_denied");
    }

    #[test]
    fn empty_and_wildcard_model_lists() {
        assert!(model_allowed(&[], "anything"));
        assert!(model_allowed(&["*".into()], "anything"));
        assert!(model_allowed(&["all-proxy-models".into()], "anything"));
        assert!(model_allowed(&["openai/*".into()], "openai/gpt-4o"));
        assert!(!model_allowed(&["openai/*".into()], "anthropic/claude"));
        assert!(!model_allowed(&["gpt-4o".into()], "gpt-4o-mini"));
    }

    #[test]
    fn team_and_user_model_lists_apply() {
        let rec = KeyRecord {
            team_id: Some("t1".into()),
            user_id: Some("u1".into()),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            models: vec!["a".into()],
            ..TeamRecord::default()
        };
        let user = UserRecord {
            user_id: "u1".into(),
            models: vec!["a".into(), "b".into()],
            ..UserRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            user: Some(&user),
            usage: vec![],
        };
        let e = denied(&run(k(KEY), Some("b"), &s)).clone();
        assert_eq!(
            (e.status, e.kind.as_str(), e.param.as_deref()),
            (401, "team_model_access_denied", Some("model"))
        );
        let team = TeamRecord {
            models: vec![],
            ..team
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            user: Some(&user),
            usage: vec![],
        };
        assert!(run(k(KEY), Some("b"), &s).denial().is_none());
        let e = denied(&run(k(KEY), Some("c"), &s)).clone();
        assert_eq!(
            (e.status, e.kind.as_str()),
            (401, "user_model_access_denied")
        );
    }

    #[test]
    fn key_budget_exceeded_is_400() {
        let rec = KeyRecord {
            spend: 1.0,
            max_budget: Some(1.0),
            ..key()
        };
        let d = run(k(KEY), Some("m"), &with_key(&rec));
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (400, "budget_exceeded"));
        assert_eq!(
            e.message,
            "Budget has been exceeded! Current cost: 1.0, Max budget: 1.0"
        );
        // Just under the budget passes (the request that crosses it is admitted).
        let rec = KeyRecord {
            spend: 0.999,
            max_budget: Some(1.0),
            ..key()
        };
        assert!(run(k(KEY), Some("m"), &with_key(&rec)).denial().is_none());
    }

    #[test]
    fn user_and_team_budgets_apply() {
        let rec = KeyRecord {
            team_id: Some("t1".into()),
            user_id: Some("u1".into()),
            ..key()
        };
        let user = UserRecord {
            user_id: "u1".into(),
            spend: 5.0,
            max_budget: Some(2.5),
            ..UserRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            user: Some(&user),
            ..Subject::default()
        };
        let e = denied(&run(k(KEY), None, &s)).clone();
        assert_eq!((e.status, e.kind.as_str()), (400, "budget_exceeded"));
        assert_eq!(
            e.message,
            "Budget has been exceeded! User=u1 Current cost: 5.0, Max budget: 2.5"
        );
        let team = TeamRecord {
            team_id: "t1".into(),
            spend: 3.0,
            max_budget: Some(3.0),
            ..TeamRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            ..Subject::default()
        };
        let e = denied(&run(k(KEY), None, &s)).clone();
        assert_eq!(
            e.message,
            "Budget has been exceeded! Team=t1 Current cost: 3.0, Max budget: 3.0"
        );
        // Another user's record does not count for this key.
        let other = UserRecord {
            user_id: "u2".into(),
            spend: 5.0,
            max_budget: Some(1.0),
            ..UserRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            user: Some(&other),
            ..Subject::default()
        };
        assert!(run(k(KEY), None, &s).denial().is_none());
    }

    #[test]
    fn budget_reset_is_applied_lazily() {
        let rec = KeyRecord {
            spend: 9.0,
            max_budget: Some(5.0),
            budget_duration: Some("1d".into()),
            budget_reset_at: Some(now()),
            ..key()
        };
        let a = allowed(run(k(KEY), None, &with_key(&rec)));
        assert!(a
            .response_headers
            .contains(&(H_KEY_SPEND, "0.0".to_string())));
        let rec = KeyRecord {
            budget_reset_at: Some(now() + 1),
            ..rec
        };
        assert_eq!(
            denied(&run(k(KEY), None, &with_key(&rec))).kind,
            "budget_exceeded"
        );
    }

    /// The budget headers the gateway's budget gauges read: the key's and its team's
    /// spend at admission (reset-aware) and max budget; none for the master key.
    #[test]
    fn an_admission_passes_on_the_key_and_team_budgets() {
        let rec = KeyRecord {
            team_id: Some("t1".into()),
            spend: 1.25,
            max_budget: Some(10.0),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            spend: 7.5,
            max_budget: None,
            budget_reset_at: Some(now() + 60),
            ..TeamRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            ..Subject::default()
        };
        let h = allowed(run(k(KEY), None, &s)).request_headers();
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get(H_KEY_SPEND_AT_ADMISSION).as_deref(), Some("1.25"));
        assert_eq!(get(H_KEY_MAX_BUDGET).as_deref(), Some("10"));
        assert_eq!(get(H_TEAM_SPEND).as_deref(), Some("7.5"));
        assert_eq!(get(H_TEAM_MAX_BUDGET), None);
        // A team whose budget period ended counts 0.
        let team = TeamRecord {
            budget_reset_at: Some(now()),
            max_budget: Some(8.0),
            ..team
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            ..Subject::default()
        };
        let h = allowed(run(k(KEY), None, &s)).request_headers();
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get(H_TEAM_SPEND).as_deref(), Some("0"));
        assert_eq!(get(H_TEAM_MAX_BUDGET).as_deref(), Some("8"));
        // The master key has no budget.
        let h = allowed(run(k(MASTER), None, &Subject::default())).request_headers();
        assert!(h
            .iter()
            .all(|(n, _)| *n != H_KEY_SPEND_AT_ADMISSION && *n != H_TEAM_SPEND));
    }

    #[test]
    fn rpm_limit_is_429_with_retry_after() {
        let rec = KeyRecord {
            rpm_limit: Some(3),
            ..key()
        };
        let usage = |requests| Subject {
            key: Some(&rec),
            usage: vec![ScopeUsage {
                requests,
                ..ScopeUsage::default()
            }],
            ..Subject::default()
        };
        let a = allowed(run(k(KEY), None, &usage(2)));
        assert!(a
            .response_headers
            .contains(&(H_REMAINING_REQUESTS, "0".to_string())));
        assert!(a
            .response_headers
            .contains(&(H_LIMIT_REQUESTS, "3".to_string())));
        assert_eq!(a.claims.len(), 1);
        let d = run(k(KEY), None, &usage(3));
        let e = denied(&d);
        assert_eq!((e.status, e.kind.as_str()), (429, "rate_limit_error"));
        // now() is 30 s into its minute.
        assert_eq!(e.retry_after, Some(30));
        assert!(e.message.contains("Limit type: requests"));
        assert!(!e.message.contains(&rec.token));
    }

    #[test]
    fn tpm_and_parallel_limits_are_429() {
        let rec = KeyRecord {
            tpm_limit: Some(100),
            max_parallel_requests: Some(2),
            ..key()
        };
        let s = |u: ScopeUsage| Subject {
            key: Some(&rec),
            usage: vec![u],
            ..Subject::default()
        };
        let e = denied(&run(
            k(KEY),
            None,
            &s(ScopeUsage {
                tokens: 100,
                ..Default::default()
            }),
        ))
        .clone();
        assert_eq!((e.status, e.retry_after), (429, Some(30)));
        assert!(e.message.contains("Limit type: tokens"));
        let e = denied(&run(
            k(KEY),
            None,
            &s(ScopeUsage {
                in_flight: 2,
                ..Default::default()
            }),
        ))
        .clone();
        assert_eq!((e.status, e.retry_after), (429, Some(1)));
        assert!(e.message.contains("parallel"));
        let a = allowed(run(
            k(KEY),
            None,
            &s(ScopeUsage {
                tokens: 40,
                in_flight: 1,
                ..Default::default()
            }),
        ));
        assert!(a
            .response_headers
            .contains(&(H_REMAINING_TOKENS, "60".to_string())));
        assert!(a
            .response_headers
            .contains(&(H_LIMIT_TOKENS, "100".to_string())));
    }

    #[test]
    fn team_rpm_limit_applies() {
        let rec = KeyRecord {
            team_id: Some("t1".into()),
            ..key()
        };
        let team = TeamRecord {
            team_id: "t1".into(),
            rpm_limit: Some(1),
            ..TeamRecord::default()
        };
        let s = Subject {
            key: Some(&rec),
            team: Some(&team),
            usage: vec![ScopeUsage {
                requests: 1,
                ..Default::default()
            }],
            ..Subject::default()
        };
        let e = denied(&run(k(KEY), None, &s)).clone();
        assert_eq!(e.status, 429);
        assert!(e.message.contains("for team"));
    }

    #[test]
    fn valid_key_is_allowed_with_headers_and_report_ids() {
        let rec = KeyRecord {
            spend: 0.25,
            user_id: Some("u1".into()),
            team_id: Some("t1".into()),
            ..key()
        };
        let a = allowed(run(k(KEY), Some("m"), &with_key(&rec)));
        assert_eq!(a.key_hash.as_deref(), Some(rec.token.as_str()));
        assert_eq!(a.response_headers, vec![(H_KEY_SPEND, "0.25".to_string())]);
        let h = a.request_headers();
        assert!(h.contains(&(H_KEY_HASH, rec.token.clone())));
        assert!(h.contains(&(H_USER_ID, "u1".into())));
        assert!(h.contains(&(H_TEAM_ID, "t1".into())));
        assert!(a.claims.is_empty());
    }

    #[test]
    fn aliases_go_to_the_gateway_as_safe_header_values() {
        let rec = KeyRecord {
            key_alias: Some("prod\r\nx-switchyard-lease: forged".into()),
            ..key()
        };
        let a = allowed(run(k(KEY), Some("m"), &with_key(&rec)));
        let h = a.request_headers();
        assert!(h.contains(&(H_KEY_ALIAS, "prodx-switchyard-lease: forged".into())));
        assert!(!h.iter().any(|(name, _)| *name == H_TEAM_ALIAS));
        assert_eq!(alias_header_value("  "), None);
        assert_eq!(alias_header_value("\n"), None);
        let long = alias_header_value(&"é".repeat(1000)).unwrap();
        assert!(long.len() <= MAX_ALIAS_HEADER_BYTES && long.chars().all(|c| c == 'é'));
    }

    #[test]
    fn master_key_is_allowed_for_everything() {
        let a = allowed(run(k(MASTER), Some("any-model"), &Subject::default()));
        assert!(a.is_master);
        assert!(a.claims.is_empty());
    }

    #[test]
    fn open_gateway_allows_everything() {
        let p = Policy {
            master_key_hash: None,
            open: true,
        };
        let none = PresentedKey::Missing;
        let d = check(
            &CheckInput {
                presented_key: &none,
                model: Some("m"),
                fallbacks: &[],
                requested_model: None,
                now: now(),
            },
            &p,
            &Subject::default(),
        );
        assert!(allowed(d).open);
    }

    #[test]
    fn closed_without_master_key_still_needs_a_valid_key() {
        // A database but no master key: not open.
        let p = Policy {
            master_key_hash: None,
            open: false,
        };
        let none = PresentedKey::Missing;
        let d = check(
            &CheckInput {
                presented_key: &none,
                model: None,
                fallbacks: &[],
                requested_model: None,
                now: now(),
            },
            &p,
            &Subject::default(),
        );
        assert_eq!(denied(&d).status, 401);
    }
}
