//! The keyservice's operations, independent of HTTP: the check with its lookups, cache,
//! lazy budget resets and limiter; the LiteLLM management operations; spend recording.
//!
//! Every operation takes `now` (epoch ms) from its caller and answers JSON values or
//! OpenAI-shaped [`ApiError`]s. Request bodies are parsed here, with LiteLLM's field
//! names. Log lines name aliases, user and team ids — never a key or a token hash.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchyard_contract::spend::{
    self as spend_bounds, CacheHit, LeaseRelease, SpendRecord, SpendTime,
};

use crate::cache::TtlCache;
use crate::check::{
    check, limit_claims, rate_limited, CheckInput, Decision, Policy, PresentedKey, Subject,
};
use crate::error::ApiError;
use crate::keys::{
    generate_key, hash_key, hashes_equal, key_name, random_uuid, token_for_admin_input,
    validate_custom_key,
};
use crate::limits::{scope, Acquired, DEFAULT_LEASE_TTL_MS};
use crate::model::{
    generate_response_json, key_json, spend_log_json, team_json, user_json, Entity, KeyRecord,
    SpendLogRow, TeamRecord, UserRecord,
};
use crate::store::{Backend, KeyFilter, SpendFilter};
use crate::store_error::StoreError;
use crate::time::{add_duration, format_date, next_reset_for, parse_duration, parse_iso, DAY_MS};

/// Who LiteLLM records as the creator when the master key acts.
pub const ADMIN_NAME: &str = "default_user_id";

/// At most this many rows from one `/spend/logs` call.
pub const MAX_SPEND_LOG_ROWS: i64 = 10_000;

/// LiteLLM key fields that are stored and echoed back but not enforced yet.
const ECHOED_KEY_FIELDS: &[&str] = &[
    "allowed_cache_controls",
    "config",
    "permissions",
    "model_max_budget",
    "model_rpm_limit",
    "model_tpm_limit",
    "tags",
    "allowed_routes",
    "guardrails",
    "enforced_params",
    "budget_id",
    "organization_id",
    "object_permission",
    "prompts",
];

/// How the service is configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// The master key (kept only as its hash inside the service).
    pub master_key: Option<String>,
    /// True when a database was configured explicitly (flag or `DATABASE_URL`). With no
    /// master key and no configured database the gateway is open.
    pub database_configured: bool,
    /// TTL of the hot-lookup cache.
    pub cache_ttl: Duration,
    /// Life of an unreleased parallel-request lease.
    pub lease_ttl_ms: i64,
    /// `/global/spend`'s `max_budget` (LiteLLM's `litellm_settings.max_budget`).
    pub global_max_budget: Option<f64>,
    /// The gateway's reporting credential: the secret its spend reports carry
    /// (`POST /spend/record`) besides the master key (kept only as its hash). With
    /// neither set, every report is refused.
    pub reporter_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            master_key: None,
            database_configured: false,
            cache_ttl: Duration::from_secs(2),
            lease_ttl_ms: DEFAULT_LEASE_TTL_MS,
            global_max_budget: None,
            reporter_key: None,
        }
    }
}

/// The service.
pub struct KeyService {
    backend: Backend,
    policy: Policy,
    keys: TtlCache<KeyRecord>,
    users: TtlCache<UserRecord>,
    teams: TtlCache<TeamRecord>,
    lease_ttl_ms: i64,
    global_max_budget: Option<f64>,
    /// Hash of the gateway's reporting credential ([`Config::reporter_key`]).
    reporter_key_hash: Option<String>,
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(m) => {
            log::error!("database unavailable: {m}");
            ApiError::db_unavailable()
        }
        StoreError::Conflict => ApiError::bad_request("The record already exists."),
        StoreError::Other(m) => {
            log::error!("database error: {m}");
            ApiError::internal("Internal error in the keyservice's database.")
        }
    }
}

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

fn check_limit(name: &str, v: Option<i64>) -> Result<(), ApiError> {
    match v {
        Some(n) if n < 0 => {
            Err(ApiError::bad_request(format!("{name} must be >= 0")).with_param(name))
        }
        _ => Ok(()),
    }
}

fn check_money(name: &str, v: Option<f64>) -> Result<(), ApiError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => {
            Err(ApiError::bad_request(format!("{name} must be a number >= 0")).with_param(name))
        }
        _ => Ok(()),
    }
}

fn parse_duration_field(name: &str, v: &str) -> Result<crate::time::Duration, ApiError> {
    parse_duration(v).map_err(|m| ApiError::bad_request(m).with_param(name))
}

/// `/key/generate`, `/key/update` and `/key/regenerate` bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeyRequest {
    key: Option<String>,
    new_key: Option<String>,
    models: Option<Vec<String>>,
    aliases: Option<Map<String, Value>>,
    duration: Option<String>,
    key_alias: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    spend: Option<f64>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    metadata: Option<Map<String, Value>>,
    user_id: Option<String>,
    team_id: Option<String>,
    blocked: Option<bool>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl KeyRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_money("max_budget", self.max_budget)?;
        check_money("soft_budget", self.soft_budget)?;
        check_money("spend", self.spend)?;
        check_limit("rpm_limit", self.rpm_limit)?;
        check_limit("tpm_limit", self.tpm_limit)?;
        check_limit("max_parallel_requests", self.max_parallel_requests)?;
        if let Some(a) = &self.aliases {
            if a.values().any(|v| !v.is_string()) {
                return Err(
                    ApiError::bad_request("aliases must map model names to model names")
                        .with_param("aliases"),
                );
            }
        }
        if let Some(d) = &self.duration {
            parse_duration_field("duration", d)?;
        }
        if let Some(d) = &self.budget_duration {
            parse_duration_field("budget_duration", d)?;
        }
        Ok(())
    }

    /// Writes the fields present in the request onto `k` (LiteLLM's update semantics:
    /// absent or null fields are left as they are).
    fn apply(&self, k: &mut KeyRecord, now: i64) -> Result<(), ApiError> {
        if let Some(v) = &self.models {
            k.models = v.clone();
        }
        if let Some(v) = &self.aliases {
            k.aliases = v.clone();
        }
        if let Some(d) = &self.duration {
            k.expires = Some(add_duration(now, parse_duration_field("duration", d)?));
        }
        if let Some(v) = &self.key_alias {
            k.key_alias = Some(v.clone());
        }
        if let Some(v) = self.max_budget {
            k.max_budget = Some(v);
        }
        if let Some(v) = self.soft_budget {
            k.soft_budget = Some(v);
        }
        if let Some(d) = &self.budget_duration {
            k.budget_duration = Some(d.clone());
            k.budget_reset_at = Some(
                next_reset_for(d, now)
                    .map_err(|m| ApiError::bad_request(m).with_param("budget_duration"))?,
            );
        }
        if let Some(v) = self.spend {
            k.spend = v;
        }
        if let Some(v) = self.rpm_limit {
            k.rpm_limit = Some(v);
        }
        if let Some(v) = self.tpm_limit {
            k.tpm_limit = Some(v);
        }
        if let Some(v) = self.max_parallel_requests {
            k.max_parallel_requests = Some(v);
        }
        if let Some(v) = &self.metadata {
            k.metadata = v.clone();
        }
        if let Some(v) = &self.user_id {
            k.user_id = Some(v.clone());
        }
        if let Some(v) = &self.team_id {
            k.team_id = Some(v.clone());
        }
        if let Some(v) = self.blocked {
            k.blocked = v;
        }
        for name in ECHOED_KEY_FIELDS {
            if let Some(v) = self.rest.get(*name) {
                if !v.is_null() {
                    k.extra.insert((*name).to_string(), v.clone());
                }
            }
        }
        Ok(())
    }
}

/// `/user/new` body.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct UserRequest {
    user_id: Option<String>,
    user_alias: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    teams: Option<Vec<String>>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    metadata: Option<Map<String, Value>>,
    auto_create_key: bool,
    key_alias: Option<String>,
    duration: Option<String>,
    aliases: Option<Map<String, Value>>,
}

impl Default for UserRequest {
    fn default() -> Self {
        UserRequest {
            user_id: None,
            user_alias: None,
            user_email: None,
            user_role: None,
            teams: None,
            models: None,
            max_budget: None,
            budget_duration: None,
            tpm_limit: None,
            rpm_limit: None,
            max_parallel_requests: None,
            metadata: None,
            auto_create_key: true,
            key_alias: None,
            duration: None,
            aliases: None,
        }
    }
}

/// `/team/new` body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TeamRequest {
    team_id: Option<String>,
    team_alias: Option<String>,
    members_with_roles: Option<Value>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    models: Option<Vec<String>>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    blocked: Option<bool>,
    metadata: Option<Map<String, Value>>,
}

/// A time in a spend report ([`SpendTime`]): ISO-8601 text or epoch seconds.
fn time_value(name: &str, v: &Option<SpendTime>) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(SpendTime::Text(s)) => parse_iso(s)
            .map(Some)
            .map_err(|m| ApiError::bad_request(m).with_param(name)),
        Some(SpendTime::Seconds(secs)) => Some(*secs)
            .filter(|x| x.is_finite())
            .map(|secs| Some((secs * 1000.0).round() as i64))
            .ok_or_else(|| ApiError::bad_request(format!("{name} is not a time")).with_param(name)),
    }
}

/// A token count of a spend report as stored (a count beyond `i64` is refused).
fn token_count(name: &str, v: u64) -> Result<i64, ApiError> {
    i64::try_from(v)
        .map_err(|_| ApiError::bad_request(format!("{name} is too large")).with_param(name))
}

fn query_bool(q: &BTreeMap<String, String>, name: &str, default: bool) -> Result<bool, ApiError> {
    match q.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(default),
        Some(s) if s == "true" || s == "1" => Ok(true),
        Some(s) if s == "false" || s == "0" => Ok(false),
        Some(_) => {
            Err(ApiError::bad_request(format!("{name} must be true or false")).with_param(name))
        }
    }
}

fn query_int(q: &BTreeMap<String, String>, name: &str, default: i64) -> Result<i64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_request(format!("{name} must be an integer")).with_param(name)
        }),
    }
}

fn non_empty(q: &BTreeMap<String, String>, name: &str) -> Option<String> {
    q.get(name).filter(|s| !s.is_empty()).cloned()
}

impl KeyService {
    /// A service over an opened backend.
    pub fn new(backend: Backend, config: Config) -> Self {
        let open = config.master_key.is_none() && !config.database_configured;
        KeyService {
            policy: Policy {
                master_key_hash: config.master_key.as_deref().map(hash_key),
                open,
            },
            keys: TtlCache::new(config.cache_ttl),
            users: TtlCache::new(config.cache_ttl),
            teams: TtlCache::new(config.cache_ttl),
            lease_ttl_ms: config.lease_ttl_ms,
            global_max_budget: config.global_max_budget,
            reporter_key_hash: config
                .reporter_key
                .as_deref()
                .filter(|k| !k.is_empty())
                .map(hash_key),
            backend,
        }
    }

    /// True when every request is admitted (no master key, no database).
    pub fn is_open(&self) -> bool {
        self.policy.open
    }

    /// True when a master key is configured.
    pub fn has_master_key(&self) -> bool {
        self.policy.master_key_hash.is_some()
    }

    /// The backend (store and limiter).
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Is the presented key the master key? (Constant-time on the hashes.)
    pub fn is_master(&self, presented: &PresentedKey) -> bool {
        match (presented, &self.policy.master_key_hash) {
            (PresentedKey::Key(k), Some(master)) => hashes_equal(&hash_key(k), master),
            _ => false,
        }
    }

    /// Refuses management calls without the master key.
    pub fn require_admin(&self, presented: &PresentedKey) -> Result<(), ApiError> {
        if self.policy.master_key_hash.is_none() {
            return Err(ApiError::auth(
                "Authentication Error, no master key is set, so the management API is disabled. Set general_settings.master_key or LITELLM_MASTER_KEY.",
            ));
        }
        match presented {
            PresentedKey::Missing => Err(ApiError::auth(
                "Authentication Error, No api key passed in.",
            )),
            PresentedKey::Malformed => Err(ApiError::auth(
                "Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
            )),
            PresentedKey::Key(_) if self.is_master(presented) => Ok(()),
            PresentedKey::Key(_) => Err(ApiError::auth(
                "Authentication Error, only the master key may use the management API.",
            )),
        }
    }

    /// True when spend reports can be accepted: a reporting credential or a master
    /// key is configured.
    pub fn takes_reports(&self) -> bool {
        self.reporter_key_hash.is_some() || self.policy.master_key_hash.is_some()
    }

    /// `/spend/record` is internal: it needs the gateway's reporting credential
    /// ([`Config::reporter_key`]) or the master key, in every mode (with neither
    /// configured, every report is refused: an open reporting path would let anyone
    /// exhaust any key's, user's or team's budget).
    pub fn require_reporter(&self, presented: &PresentedKey) -> Result<(), ApiError> {
        if !self.takes_reports() {
            return Err(ApiError::auth(
                "Authentication Error, spend reporting is disabled: no reporter key (SWITCHYARD_REPORTER_KEY) and no master key is set.",
            ));
        }
        match presented {
            PresentedKey::Missing => Err(ApiError::auth(
                "Authentication Error, No api key passed in.",
            )),
            PresentedKey::Malformed => Err(ApiError::auth(
                "Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
            )),
            PresentedKey::Key(k) => {
                let reporter = self
                    .reporter_key_hash
                    .as_ref()
                    .is_some_and(|h| hashes_equal(&hash_key(k), h));
                if reporter || self.is_master(presented) {
                    Ok(())
                } else {
                    Err(ApiError::auth(
                        "Authentication Error, only the master key or the gateway's reporting credential may report spend.",
                    ))
                }
            }
        }
    }

    // ---- cached lookups -------------------------------------------------------------

    async fn cached_key(&self, token: &str) -> Result<Option<KeyRecord>, StoreError> {
        if let Some(v) = self.keys.get(token) {
            return Ok(v);
        }
        let v = self.backend.store.get_key(token).await?;
        self.keys.put(token, v.clone());
        Ok(v)
    }

    async fn cached_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        if let Some(v) = self.users.get(id) {
            return Ok(v);
        }
        let v = self.backend.store.get_user(id).await?;
        self.users.put(id, v.clone());
        Ok(v)
    }

    async fn cached_team(&self, id: &str) -> Result<Option<TeamRecord>, StoreError> {
        if let Some(v) = self.teams.get(id) {
            return Ok(v);
        }
        let v = self.backend.store.get_team(id).await?;
        self.teams.put(id, v.clone());
        Ok(v)
    }

    /// Writes a due budget reset (compare-and-set) and returns the fresh record.
    async fn reset_key_if_due(&self, k: KeyRecord, now: i64) -> Result<KeyRecord, StoreError> {
        let (Some(d), Some(at)) = (&k.budget_duration, k.budget_reset_at) else {
            return Ok(k);
        };
        if at > now {
            return Ok(k);
        }
        let Ok(next) = next_reset_for(d, now) else {
            return Ok(k);
        };
        if self
            .backend
            .store
            .reset_budget(Entity::Key, &k.token, at, next)
            .await?
        {
            log::info!(
                "budget reset for key alias={:?} (next reset {})",
                k.key_alias,
                crate::time::format_iso(next)
            );
        }
        let fresh = self.backend.store.get_key(&k.token).await?;
        self.keys.put(&k.token, fresh.clone());
        Ok(fresh.unwrap_or(k))
    }

    async fn reset_user_if_due(&self, u: UserRecord, now: i64) -> Result<UserRecord, StoreError> {
        let (Some(d), Some(at)) = (&u.budget_duration, u.budget_reset_at) else {
            return Ok(u);
        };
        if at > now {
            return Ok(u);
        }
        let Ok(next) = next_reset_for(d, now) else {
            return Ok(u);
        };
        if self
            .backend
            .store
            .reset_budget(Entity::User, &u.user_id, at, next)
            .await?
        {
            log::info!("budget reset for user {}", u.user_id);
        }
        let fresh = self.backend.store.get_user(&u.user_id).await?;
        self.users.put(&u.user_id, fresh.clone());
        Ok(fresh.unwrap_or(u))
    }

    async fn reset_team_if_due(&self, t: TeamRecord, now: i64) -> Result<TeamRecord, StoreError> {
        let (Some(d), Some(at)) = (&t.budget_duration, t.budget_reset_at) else {
            return Ok(t);
        };
        if at > now {
            return Ok(t);
        }
        let Ok(next) = next_reset_for(d, now) else {
            return Ok(t);
        };
        if self
            .backend
            .store
            .reset_budget(Entity::Team, &t.team_id, at, next)
            .await?
        {
            log::info!("budget reset for team {}", t.team_id);
        }
        let fresh = self.backend.store.get_team(&t.team_id).await?;
        self.teams.put(&t.team_id, fresh.clone());
        Ok(fresh.unwrap_or(t))
    }

    // ---- the check --------------------------------------------------------------------

    /// Decides one request: lookups (cached), lazy budget resets, the pure check, and
    /// the atomic taking of its rate limits. A store failure is an error (the caller
    /// answers 503: fail closed).
    ///
    /// Every admission gets an admission id ([`crate::limits`]). `continuing` is the
    /// admission id an internal redirect's replay carries: when its lease is live on
    /// every limit scope of this same key, the replay is the same request going on —
    /// checked again (key, models, budgets) but counted nothing again, and it keeps
    /// the id. Anything else (an unknown, expired or released id, another key's, a
    /// key without limits) is an ordinary new admission with a new id.
    pub async fn authorize(
        &self,
        presented: &PresentedKey,
        model: Option<&str>,
        requested_model: Option<&str>,
        fallbacks: &[String],
        continuing: Option<&str>,
        now: i64,
    ) -> Result<Decision, StoreError> {
        let decision = self
            .authorize_limits(
                presented,
                model,
                requested_model,
                fallbacks,
                continuing,
                now,
            )
            .await?;
        Ok(match decision {
            Decision::Allow(mut allowed) => {
                allowed.admission = Some(
                    allowed
                        .lease
                        .clone()
                        .unwrap_or_else(crate::keys::random_uuid),
                );
                Decision::Allow(allowed)
            }
            deny => deny,
        })
    }

    async fn authorize_limits(
        &self,
        presented: &PresentedKey,
        model: Option<&str>,
        requested_model: Option<&str>,
        fallbacks: &[String],
        continuing: Option<&str>,
        now: i64,
    ) -> Result<Decision, StoreError> {
        let input = CheckInput {
            presented_key: presented,
            model,
            requested_model,
            fallbacks,
            now,
        };
        let lookup = match presented {
            PresentedKey::Key(k) if !self.policy.open && !self.is_master(presented) => {
                Some(hash_key(k))
            }
            _ => None,
        };
        let Some(token) = lookup else {
            return Ok(check(&input, &self.policy, &Subject::default()));
        };
        let key = match self.cached_key(&token).await? {
            Some(k) => Some(self.reset_key_if_due(k, now).await?),
            None => None,
        };
        let mut user = None;
        let mut team = None;
        if let Some(k) = &key {
            if let Some(uid) = &k.user_id {
                if let Some(u) = self.cached_user(uid).await? {
                    user = Some(self.reset_user_if_due(u, now).await?);
                }
            }
            if let Some(tid) = &k.team_id {
                if let Some(t) = self.cached_team(tid).await? {
                    team = Some(self.reset_team_if_due(t, now).await?);
                }
            }
        }
        let mut subject = Subject {
            key: key.as_ref(),
            user: user.as_ref(),
            team: team.as_ref(),
            usage: Vec::new(),
        };
        let mut continues = None;
        if let Some(k) = &key {
            let claims = limit_claims(k, user.as_ref(), team.as_ref());
            if !claims.is_empty() {
                let scopes: Vec<String> = claims.iter().map(|c| c.scope.clone()).collect();
                // A replay of an admitted request: its own slot and count are already
                // in the usage, so it is not judged on them again.
                if let Some(id) = continuing.filter(|id| !id.is_empty()) {
                    if self.backend.limiter.continues(id, &scopes, now).await? {
                        continues = Some(id.to_string());
                    }
                }
                if continues.is_none() {
                    subject.usage = self.backend.limiter.usage(&scopes, now).await?;
                }
            }
        }
        let decision = check(&input, &self.policy, &subject);
        let Decision::Allow(mut allowed) = decision else {
            return Ok(decision);
        };
        if allowed.claims.is_empty() {
            return Ok(Decision::Allow(allowed));
        }
        if let Some(id) = continues {
            allowed.lease = Some(id);
            return Ok(Decision::Allow(allowed));
        }
        match self
            .backend
            .limiter
            .acquire(&allowed.claims, now, self.lease_ttl_ms)
            .await?
        {
            Acquired::Granted { lease } => {
                allowed.lease = lease;
                Ok(Decision::Allow(allowed))
            }
            Acquired::Limited { index, kind, limit } => Ok(Decision::Deny(rate_limited(
                allowed.claims.get(index).map_or("", |claim| &claim.scope),
                kind,
                limit,
                now,
            ))),
        }
    }

    // ---- keys ------------------------------------------------------------------------

    async fn alias_taken(&self, alias: &str, except: Option<&str>) -> Result<bool, ApiError> {
        let owners = self
            .backend
            .store
            .tokens_for_aliases(&[alias.to_string()])
            .await
            .map_err(store_err)?;
        Ok(owners.iter().any(|t| Some(t.as_str()) != except))
    }

    fn alias_error(alias: &str) -> ApiError {
        ApiError::bad_request(format!(
            "Unique key aliases across all keys are required. Key alias={alias} already exists."
        ))
        .with_param("key_alias")
    }

    async fn create_key(
        &self,
        req: &KeyRequest,
        now: i64,
    ) -> Result<(KeyRecord, String), ApiError> {
        req.validate()?;
        let plaintext = match &req.key {
            Some(k) => {
                validate_custom_key(k).map_err(|m| ApiError::bad_request(m).with_param("key"))?;
                k.clone()
            }
            None => generate_key(),
        };
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, None).await? {
                return Err(Self::alias_error(alias));
            }
        }
        let mut rec = KeyRecord {
            token: hash_key(&plaintext),
            key_name: key_name(&plaintext),
            created_at: now,
            updated_at: now,
            created_by: Some(ADMIN_NAME.to_string()),
            updated_by: Some(ADMIN_NAME.to_string()),
            ..KeyRecord::default()
        };
        req.apply(&mut rec, now)?;
        match self.backend.store.insert_key(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(
                    "A key with this value or alias already exists.",
                ))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.keys.invalidate(&rec.token);
        log::info!(
            "key created: alias={:?} user={:?} team={:?}",
            rec.key_alias,
            rec.user_id,
            rec.team_id
        );
        Ok((rec, plaintext))
    }

    /// `POST /key/generate`.
    pub async fn generate_key(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let (rec, plaintext) = self.create_key(&req, now).await?;
        Ok(generate_response_json(
            &rec,
            &plaintext,
            req.duration.as_deref(),
        ))
    }

    async fn existing_key(&self, token: &str) -> Result<KeyRecord, ApiError> {
        self.backend
            .store
            .get_key(token)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("Key not found in database").with_param("key"))
    }

    async fn save_key(
        &self,
        old_token: &str,
        rec: &KeyRecord,
        set_spend: bool,
    ) -> Result<KeyRecord, ApiError> {
        match self
            .backend
            .store
            .update_key(old_token, rec, set_spend)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return Err(ApiError::not_found("Key not found in database").with_param("key"))
            }
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(
                    "A key with this value or alias already exists.",
                ))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.keys.invalidate(old_token);
        self.keys.invalidate(&rec.token);
        self.existing_key(&rec.token).await
    }

    /// `POST /key/update`.
    pub async fn update_key(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let key = req
            .key
            .clone()
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        req.validate()?;
        let token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&token).await?;
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, Some(&token)).await? {
                return Err(Self::alias_error(alias));
            }
        }
        req.apply(&mut rec, now)?;
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&token, &rec, req.spend.is_some()).await?;
        log::info!("key updated: alias={:?}", saved.key_alias);
        let mut out = Map::new();
        out.insert("key".into(), json!(key));
        out.extend(key_json(&saved, false));
        Ok(Value::Object(out))
    }

    /// `POST /key/delete`: `{"keys": [...]}` (plaintext or hashes) or
    /// `{"key_aliases": [...]}`. Answers the identifiers that were deleted; 404 when
    /// none of them existed.
    pub async fn delete_keys(&self, body: &[u8]) -> Result<Value, ApiError> {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct DeleteRequest {
            keys: Option<Vec<String>>,
            key_aliases: Option<Vec<String>>,
        }
        let req: DeleteRequest = parse_body(body)?;
        let store = &self.backend.store;
        let deleted: Vec<String> = match (req.keys, req.key_aliases) {
            (Some(keys), _) if !keys.is_empty() => {
                let tokens: Vec<String> = keys.iter().map(|k| token_for_admin_input(k)).collect();
                let gone = store.delete_keys(&tokens).await.map_err(store_err)?;
                for t in &gone {
                    self.keys.invalidate(t);
                }
                keys.into_iter()
                    .zip(tokens)
                    .filter(|(_, t)| gone.contains(t))
                    .map(|(k, _)| k)
                    .collect()
            }
            (_, Some(aliases)) if !aliases.is_empty() => {
                let mut done = Vec::new();
                for alias in aliases {
                    let tokens = store
                        .tokens_for_aliases(std::slice::from_ref(&alias))
                        .await
                        .map_err(store_err)?;
                    let gone = store.delete_keys(&tokens).await.map_err(store_err)?;
                    for t in &gone {
                        self.keys.invalidate(t);
                    }
                    if !gone.is_empty() {
                        done.push(alias);
                    }
                }
                done
            }
            _ => {
                return Err(
                    ApiError::bad_request("Pass keys or key_aliases to delete.").with_param("keys")
                )
            }
        };
        if deleted.is_empty() {
            return Err(ApiError::not_found("No matching keys found to delete.").with_param("keys"));
        }
        log::info!("{} key(s) deleted", deleted.len());
        Ok(json!({ "deleted_keys": deleted }))
    }

    /// `GET /key/info?key=` (plaintext or hash).
    pub async fn key_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let key = non_empty(q, "key")
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        let rec = self.existing_key(&token_for_admin_input(&key)).await?;
        let rec = self.reset_key_if_due(rec, now).await.map_err(store_err)?;
        Ok(json!({ "key": key, "info": Value::Object(key_json(&rec, false)) }))
    }

    /// `GET /key/list`.
    pub async fn list_keys(&self, q: &BTreeMap<String, String>) -> Result<Value, ApiError> {
        let page = query_int(q, "page", 1)?;
        let size = query_int(q, "size", 10)?;
        if page < 1 {
            return Err(ApiError::bad_request("page must be >= 1").with_param("page"));
        }
        if !(1..=100).contains(&size) {
            return Err(ApiError::bad_request("size must be between 1 and 100").with_param("size"));
        }
        let full = query_bool(q, "return_full_object", false)?;
        let filter = KeyFilter {
            user_id: non_empty(q, "user_id"),
            team_id: non_empty(q, "team_id"),
            key_alias: non_empty(q, "key_alias"),
        };
        let (keys, total) = self
            .backend
            .store
            .list_keys(&filter, (page - 1) * size, size)
            .await
            .map_err(store_err)?;
        let listed: Vec<Value> = keys
            .iter()
            .map(|k| {
                if full {
                    Value::Object(key_json(k, true))
                } else {
                    json!(k.token)
                }
            })
            .collect();
        Ok(json!({
            "keys": listed,
            "total_count": total,
            "current_page": page,
            "total_pages": (total + size - 1) / size,
        }))
    }

    /// `POST /key/regenerate` (key in the body) and `POST /key/{key}/regenerate`: a new
    /// plaintext key for the same row (optionally `new_key`, and field updates). The
    /// old key stops working at once here and within the cache TTL elsewhere.
    pub async fn regenerate_key(
        &self,
        path_key: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let key = path_key
            .map(str::to_string)
            .or_else(|| req.key.clone())
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        req.validate()?;
        let old_token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&old_token).await?;
        let plaintext = match &req.new_key {
            Some(k) => {
                validate_custom_key(k)
                    .map_err(|m| ApiError::bad_request(m).with_param("new_key"))?;
                k.clone()
            }
            None => generate_key(),
        };
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, Some(&old_token)).await? {
                return Err(Self::alias_error(alias));
            }
        }
        req.apply(&mut rec, now)?;
        rec.token = hash_key(&plaintext);
        rec.key_name = key_name(&plaintext);
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&old_token, &rec, req.spend.is_some()).await?;
        log::info!("key regenerated: alias={:?}", saved.key_alias);
        Ok(generate_response_json(&saved, &plaintext, None))
    }

    /// `POST /key/block` and `/key/unblock`.
    pub async fn set_blocked(
        &self,
        body: &[u8],
        blocked: bool,
        now: i64,
    ) -> Result<Value, ApiError> {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct BlockRequest {
            key: Option<String>,
        }
        let req: BlockRequest = parse_body(body)?;
        let key = req
            .key
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        let token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&token).await?;
        rec.blocked = blocked;
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&token, &rec, false).await?;
        log::info!(
            "key {}: alias={:?}",
            if blocked { "blocked" } else { "unblocked" },
            saved.key_alias
        );
        Ok(Value::Object(key_json(&saved, true)))
    }

    // ---- users and teams ------------------------------------------------------------

    /// `POST /user/new` (creates a key for the user unless `auto_create_key` is false).
    pub async fn new_user(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: UserRequest = parse_body(body)?;
        check_money("max_budget", req.max_budget)?;
        check_limit("tpm_limit", req.tpm_limit)?;
        check_limit("rpm_limit", req.rpm_limit)?;
        check_limit("max_parallel_requests", req.max_parallel_requests)?;
        let budget_reset_at = match &req.budget_duration {
            Some(d) => Some(
                next_reset_for(d, now)
                    .map_err(|m| ApiError::bad_request(m).with_param("budget_duration"))?,
            ),
            None => None,
        };
        if let Some(d) = &req.duration {
            parse_duration_field("duration", d)?;
        }
        let user = UserRecord {
            user_id: req.user_id.clone().unwrap_or_else(random_uuid),
            user_alias: req.user_alias.clone(),
            user_email: req.user_email.clone(),
            user_role: Some(
                req.user_role
                    .clone()
                    .unwrap_or_else(|| "internal_user".to_string()),
            ),
            teams: req.teams.clone().unwrap_or_default(),
            models: req.models.clone().unwrap_or_default(),
            max_budget: req.max_budget,
            budget_duration: req.budget_duration.clone(),
            budget_reset_at,
            spend: 0.0,
            rpm_limit: req.rpm_limit,
            tpm_limit: req.tpm_limit,
            max_parallel_requests: req.max_parallel_requests,
            metadata: req.metadata.clone().unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        match self.backend.store.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(format!(
                    "User with id {} already exists.",
                    user.user_id
                ))
                .with_param("user_id"))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.users.invalidate(&user.user_id);
        log::info!("user created: {}", user.user_id);
        let mut out = Map::new();
        if req.auto_create_key {
            // LiteLLM's user key: the user's models and limits, the user's budget on the
            // user row (not on the key).
            let key_req = KeyRequest {
                models: Some(user.models.clone()),
                aliases: req.aliases.clone(),
                duration: req.duration.clone(),
                key_alias: req.key_alias.clone(),
                rpm_limit: user.rpm_limit,
                tpm_limit: user.tpm_limit,
                max_parallel_requests: user.max_parallel_requests,
                user_id: Some(user.user_id.clone()),
                ..KeyRequest::default()
            };
            let (rec, plaintext) = self.create_key(&key_req, now).await?;
            if let Value::Object(m) =
                generate_response_json(&rec, &plaintext, req.duration.as_deref())
            {
                out.extend(m);
            }
        } else {
            out.insert("key".into(), Value::Null);
        }
        out.extend(user_json(&user));
        Ok(Value::Object(out))
    }

    /// The keys of a user or team, as `/user/info` and `/team/info` list them.
    async fn keys_json(&self, entity: Entity, id: &str) -> Result<Vec<Value>, ApiError> {
        let keys = self
            .backend
            .store
            .keys_of(entity, id)
            .await
            .map_err(store_err)?;
        Ok(keys
            .iter()
            .map(|k| Value::Object(key_json(k, true)))
            .collect())
    }

    /// `GET /user/info?user_id=`.
    pub async fn user_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let id = non_empty(q, "user_id")
            .ok_or_else(|| ApiError::bad_request("user_id is required").with_param("user_id"))?;
        let user = self
            .backend
            .store
            .get_user(&id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                ApiError::not_found(format!("User {id} not found")).with_param("user_id")
            })?;
        let user = self.reset_user_if_due(user, now).await.map_err(store_err)?;
        let keys = self.keys_json(Entity::User, &id).await?;
        Ok(
            json!({ "user_id": id, "user_info": Value::Object(user_json(&user)), "keys": keys, "teams": user.teams }),
        )
    }

    /// `POST /team/new`.
    pub async fn new_team(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: TeamRequest = parse_body(body)?;
        check_money("max_budget", req.max_budget)?;
        check_limit("tpm_limit", req.tpm_limit)?;
        check_limit("rpm_limit", req.rpm_limit)?;
        check_limit("max_parallel_requests", req.max_parallel_requests)?;
        let budget_reset_at = match &req.budget_duration {
            Some(d) => Some(
                next_reset_for(d, now)
                    .map_err(|m| ApiError::bad_request(m).with_param("budget_duration"))?,
            ),
            None => None,
        };
        let members = req.members_with_roles.clone().unwrap_or_else(|| json!([]));
        if !members.is_array() {
            return Err(ApiError::bad_request("members_with_roles must be a list")
                .with_param("members_with_roles"));
        }
        let team = TeamRecord {
            team_id: req.team_id.clone().unwrap_or_else(random_uuid),
            team_alias: req.team_alias.clone(),
            models: req.models.clone().unwrap_or_default(),
            members_with_roles: members,
            max_budget: req.max_budget,
            budget_duration: req.budget_duration.clone(),
            budget_reset_at,
            spend: 0.0,
            rpm_limit: req.rpm_limit,
            tpm_limit: req.tpm_limit,
            max_parallel_requests: req.max_parallel_requests,
            metadata: req.metadata.clone().unwrap_or_default(),
            blocked: req.blocked.unwrap_or(false),
            created_at: now,
            updated_at: now,
        };
        match self.backend.store.insert_team(&team).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(format!(
                    "Team id = {} already exists. Please use a different team id.",
                    team.team_id
                ))
                .with_param("team_id"))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.teams.invalidate(&team.team_id);
        log::info!("team created: {}", team.team_id);
        Ok(Value::Object(team_json(&team)))
    }

    /// `GET /team/info?team_id=`.
    pub async fn team_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let id = non_empty(q, "team_id")
            .ok_or_else(|| ApiError::bad_request("team_id is required").with_param("team_id"))?;
        let team = self
            .backend
            .store
            .get_team(&id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                ApiError::not_found(format!("Team {id} not found")).with_param("team_id")
            })?;
        let team = self.reset_team_if_due(team, now).await.map_err(store_err)?;
        let keys = self.keys_json(Entity::Team, &id).await?;
        Ok(json!({ "team_id": id, "team_info": Value::Object(team_json(&team)), "keys": keys }))
    }

    // ---- spend ------------------------------------------------------------------------

    /// `POST /spend/record` with an array: each row recorded as by
    /// [`KeyService::record_spend`]. A row that is malformed is answered in its place
    /// (and logged) without failing the others; a store error fails the batch, which
    /// the gateway then sends again (rows already recorded come back `duplicate`).
    pub async fn record_spend_batch(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let rows: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            match self.record_spend(row.get().as_bytes(), now).await {
                Ok(v) => results.push(v),
                Err(e) if e.status < 500 => {
                    log::warn!("spend report refused: {}", e.message);
                    results.push(json!({"status": "refused", "error": e.message}));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Value::Array(results))
    }

    /// `POST /spend/record`: one request's spend log row. Adds its spend to the key,
    /// its user and its team and inserts the row, atomically; a second report with the
    /// same `request_id` changes nothing (the gateway's `request_id` is the admission
    /// id, so one admission is charged once). Adds the tokens to the tpm windows (and
    /// releases `lease_id`, which older gateways sent on every report).
    ///
    /// `{"release_lease": id}` in place of a row is the end of a request: its lease —
    /// its parallel-request slot and its continuation mark — is freed.
    pub async fn record_spend(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        // The contract's types, strictly (`switchyard_contract::spend`): a field this
        // keyservice does not know is refused, never dropped.
        if let Ok(LeaseRelease { release_lease }) = serde_json::from_slice(body) {
            if !release_lease.is_empty() {
                self.backend
                    .limiter
                    .release(&release_lease)
                    .await
                    .map_err(store_err)?;
                return Ok(json!({"status": "released"}));
            }
        }
        let req: SpendRecord = parse_body(body)?;
        let request_id = Some(req.request_id.clone())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("request_id is required").with_param("request_id")
            })?;
        let spend = req.spend;
        check_money("spend", Some(spend))?;
        let prompt = token_count("prompt_tokens", req.prompt_tokens)?;
        let completion = token_count("completion_tokens", req.completion_tokens)?;
        let total = match req.total_tokens {
            Some(total) => token_count("total_tokens", total)?,
            None => prompt.saturating_add(completion),
        };
        let end = time_value("endTime", &req.end_time)?.unwrap_or(now);
        let start = time_value("startTime", &req.start_time)?.unwrap_or(end);
        // Never store a plaintext key: a report may name the key either way.
        let api_key = req
            .api_key
            .as_deref()
            .map(token_for_admin_input)
            .unwrap_or_default();
        let cache_hit = if req.cache_hit.as_ref().is_some_and(CacheHit::is_hit) {
            "True".to_string()
        } else {
            "False".to_string()
        };
        let row = SpendLogRow {
            request_id: request_id.clone(),
            call_type: req.call_type.clone(),
            api_key: api_key.clone(),
            spend,
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            start_time: start,
            end_time: end,
            completion_start_time: time_value("completionStartTime", &req.completion_start_time)?,
            model: req.model.clone(),
            model_id: req.model_id.clone(),
            model_group: req.model_group.clone(),
            custom_llm_provider: req.custom_llm_provider.clone(),
            api_base: req.api_base.clone(),
            user: req.user.clone().unwrap_or_default(),
            team_id: req.team_id.clone().filter(|t| !t.is_empty()),
            end_user: req.end_user.clone().unwrap_or_default(),
            // Bounded whoever reports (`switchyard_contract::spend`): a client's huge
            // metadata or tag list never reaches the database.
            metadata: req
                .metadata
                .clone()
                .map_or_else(|| json!({}), spend_bounds::bound_row_metadata),
            cache_hit,
            cache_key: req.cache_key.clone().unwrap_or_default(),
            request_tags: spend_bounds::bound_tags(&req.request_tags),
            status: req.status.clone().unwrap_or_else(|| "success".to_string()),
        };

        // Apply due budget resets first, so this spend lands in the new period.
        let store = &self.backend.store;
        let key = if api_key.is_empty() {
            None
        } else {
            // Cached reads (2 s): the reset checks below compare-and-set in the store.
            match self.cached_key(&api_key).await.map_err(store_err)? {
                Some(k) => Some(self.reset_key_if_due(k, now).await.map_err(store_err)?),
                None => None,
            }
        };
        let user_id = Some(row.user.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| key.as_ref().and_then(|k| k.user_id.clone()));
        let team_id = row
            .team_id
            .clone()
            .or_else(|| key.as_ref().and_then(|k| k.team_id.clone()));
        let mut user = None;
        if let Some(uid) = &user_id {
            if let Some(u) = self.cached_user(uid).await.map_err(store_err)? {
                user = Some(self.reset_user_if_due(u, now).await.map_err(store_err)?);
            }
        }
        let mut team = None;
        if let Some(tid) = &team_id {
            if let Some(t) = self.cached_team(tid).await.map_err(store_err)? {
                team = Some(self.reset_team_if_due(t, now).await.map_err(store_err)?);
            }
        }

        let outcome = store.record_spend(&row).await.map_err(store_err)?;
        if outcome.inserted && total > 0 {
            let mut scopes = Vec::new();
            if let Some(k) = key.as_ref().filter(|k| k.tpm_limit.is_some()) {
                scopes.push(scope("key", &k.token));
            }
            if let Some(u) = user.as_ref().filter(|u| u.tpm_limit.is_some()) {
                scopes.push(scope("user", &u.user_id));
            }
            if let Some(t) = team.as_ref().filter(|t| t.tpm_limit.is_some()) {
                scopes.push(scope("team", &t.team_id));
            }
            if !scopes.is_empty() {
                self.backend
                    .limiter
                    .add_tokens(&scopes, total, now)
                    .await
                    .map_err(store_err)?;
            }
        }
        if let Some(lease) = req.lease_id.as_deref().filter(|l| !l.is_empty()) {
            self.backend
                .limiter
                .release(lease)
                .await
                .map_err(store_err)?;
        }
        // The cached records take the spend the store just added, in place: the next
        // check sees it without a database read (invalidating here made every check
        // after a report read the key again).
        if outcome.inserted {
            if !api_key.is_empty() {
                self.keys.update(&api_key, |k| k.spend += spend);
            }
            if let Some(u) = &outcome.user_id {
                self.users.update(u, |u| u.spend += spend);
            }
            if let Some(t) = &outcome.team_id {
                self.teams.update(t, |t| t.spend += spend);
            }
        }
        log::debug!(
            "spend {}: model_group={:?} spend={} tokens={}",
            if outcome.inserted {
                "recorded"
            } else {
                "already recorded"
            },
            row.model_group,
            spend,
            total
        );
        Ok(json!({
            "status": if outcome.inserted { "recorded" } else { "duplicate" },
            "request_id": request_id,
        }))
    }

    /// `GET /spend/logs`: filters `api_key` (plaintext or hash), `user_id`,
    /// `request_id`, `start_date`, `end_date` (a date-only `end_date` includes that
    /// whole day). With both dates and `summarize` (default true) the answer is
    /// LiteLLM's per-day summary; otherwise the rows, newest first.
    pub async fn spend_logs(&self, q: &BTreeMap<String, String>) -> Result<Value, ApiError> {
        let start_date = non_empty(q, "start_date");
        let end_date = non_empty(q, "end_date");
        let start = match &start_date {
            Some(s) => {
                Some(parse_iso(s).map_err(|m| ApiError::bad_request(m).with_param("start_date"))?)
            }
            None => None,
        };
        let end = match &end_date {
            Some(s) => {
                let t =
                    parse_iso(s).map_err(|m| ApiError::bad_request(m).with_param("end_date"))?;
                Some(if s.trim().len() == 10 { t + DAY_MS } else { t })
            }
            None => None,
        };
        let summarize = query_bool(q, "summarize", true)?;
        let filter = SpendFilter {
            api_key: non_empty(q, "api_key").map(|k| token_for_admin_input(&k)),
            user: non_empty(q, "user_id"),
            request_id: non_empty(q, "request_id"),
            start,
            end,
            limit: MAX_SPEND_LOG_ROWS,
        };
        let rows = self
            .backend
            .store
            .spend_logs(&filter)
            .await
            .map_err(store_err)?;
        if let (Some(start), Some(end), true) = (start, end, summarize) {
            return Ok(summarize_by_day(&rows, start, end));
        }
        Ok(Value::Array(rows.iter().map(spend_log_json).collect()))
    }

    /// `GET /global/spend`: `{"spend", "max_budget"}`.
    pub async fn global_spend(&self) -> Result<Value, ApiError> {
        let spend = self.backend.store.global_spend().await.map_err(store_err)?;
        Ok(json!({ "spend": spend, "max_budget": self.global_max_budget.unwrap_or(0.0) }))
    }

    /// Readiness: can the database be reached?
    pub async fn ready(&self) -> bool {
        self.backend.store.ping().await.is_ok()
    }

    /// Periodic clean-up of old limiter state.
    pub async fn gc(&self, now: i64) {
        if let Err(e) = self.backend.limiter.gc(now).await {
            log::warn!("rate-limit clean-up failed: {e}");
        }
    }
}

/// LiteLLM's `summarize=true` answer: one entry per day from the first day with spend
/// to the last requested day, `{"startTime": date, "spend", "users": {}, "models": {},
/// <api_key>: spend}`.
fn summarize_by_day(rows: &[SpendLogRow], start: i64, end: i64) -> Value {
    let mut days: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
    let add = |m: &mut Map<String, Value>, name: &str, x: f64| {
        let v = m.get(name).and_then(Value::as_f64).unwrap_or(0.0) + x;
        m.insert(name.to_string(), json!(v));
    };
    for r in rows {
        let day = r.start_time.div_euclid(DAY_MS);
        let e = days.entry(day).or_insert_with(|| {
            let mut m = Map::new();
            m.insert("users".into(), json!({}));
            m.insert("models".into(), json!({}));
            m
        });
        add(e, "spend", r.spend);
        add(e, &r.api_key, r.spend);
        if let Some(Value::Object(u)) = e.get_mut("users") {
            add(u, &r.user, r.spend);
        }
        if let Some(Value::Object(m)) = e.get_mut("models") {
            add(m, &r.model, r.spend);
        }
    }
    let mut out = Vec::new();
    let last_day = (end - 1).div_euclid(DAY_MS);
    let mut next_day = None;
    for (day, mut m) in days {
        m.insert("startTime".into(), json!(format_date(day * DAY_MS)));
        out.push(Value::Object(m));
        next_day = Some(day + 1);
    }
    if let Some(mut d) = next_day {
        while d <= last_day && d >= start.div_euclid(DAY_MS) {
            out.push(json!({"startTime": format_date(d * DAY_MS), "spend": 0, "users": {}, "models": {}}));
            d += 1;
        }
    }
    Value::Array(out)
}
