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

mod authorize;
mod keys;
mod requests;
mod spend;
mod users_teams;

use requests::*;

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
