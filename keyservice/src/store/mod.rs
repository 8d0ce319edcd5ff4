//! Storage behind one trait, [`Store`], with two implementations chosen by URL:
//! SQLite (a file; the default, `sqlite://./switchyard-keys.db`) and PostgreSQL
//! (`postgres://…`, shared by several keyservices).
//!
//! Both run the same versioned migrations at start ([`schema`]), keep times as epoch
//! milliseconds and JSON columns as text, and update spend only with atomic
//! `spend = spend + x` increments inside one transaction per spend report, so reports
//! from several keyservices on one PostgreSQL never lose an update. A spend report is
//! idempotent on `request_id`: the row insert and the increments commit together, and
//! a retried report finds its row and adds nothing.
//!
//! [`open`] also returns the rate-limit state to use: in memory for SQLite, tables in
//! the database for PostgreSQL (see [`crate::limits`]).

pub mod schema;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;

use crate::limits::{Limiter, MemoryLimiter};
use crate::model::{Entity, KeyRecord, SpendLogRow, TeamRecord, UserRecord};
use crate::store_error::StoreError;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./switchyard-keys.db";

/// Which database a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A SQLite file (one keyservice).
    Sqlite,
    /// A PostgreSQL database (several keyservices may share it).
    Postgres,
}

/// Filters for `/key/list`.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Only the keys of this user.
    pub user_id: Option<String>,
    /// Only the keys of this team.
    pub team_id: Option<String>,
    /// Only the key with this alias.
    pub key_alias: Option<String>,
}

/// Filters for `/spend/logs` (all optional; times in epoch ms, `end` exclusive).
#[derive(Debug, Clone, Default)]
pub struct SpendFilter {
    /// Only the rows of this key (its token hash).
    pub api_key: Option<String>,
    /// Only the rows of this user.
    pub user: Option<String>,
    /// Only the row of this request.
    pub request_id: Option<String>,
    /// Only rows that started at or after this time.
    pub start: Option<i64>,
    /// Only rows that started before this time.
    pub end: Option<i64>,
    /// At most this many rows, the newest first.
    pub limit: i64,
}

/// What a spend report did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpendOutcome {
    /// False when a row with this `request_id` already existed (nothing was added).
    pub inserted: bool,
    /// The user and team the spend was added to.
    pub user_id: Option<String>,
    /// The team the spend was added to, when the key has one.
    pub team_id: Option<String>,
}

/// The keyservice's storage.
#[async_trait]
pub trait Store: Send + Sync {
    /// SQLite or PostgreSQL.
    fn kind(&self) -> BackendKind;

    /// One round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts a key. [`StoreError::Conflict`] if its token or alias exists.
    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// The key with this token hash.
    async fn get_key(&self, token: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Rewrites the key stored under `old_token` with `key` (whose token may differ:
    /// that is a regeneration). Spend is written only when `set_spend`; otherwise the
    /// stored spend stays as concurrent reports left it. False if there was no such key.
    async fn update_key(
        &self,
        old_token: &str,
        key: &KeyRecord,
        set_spend: bool,
    ) -> Result<bool, StoreError>;

    /// Deletes these tokens; returns the ones that existed.
    async fn delete_keys(&self, tokens: &[String]) -> Result<Vec<String>, StoreError>;

    /// Tokens of the keys with these aliases.
    async fn tokens_for_aliases(&self, aliases: &[String]) -> Result<Vec<String>, StoreError>;

    /// One page of keys (newest first) and the total count matching `filter`.
    async fn list_keys(
        &self,
        filter: &KeyFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<KeyRecord>, i64), StoreError>;

    /// Keys of a user or a team (for `/user/info`, `/team/info`).
    async fn keys_of(&self, entity: Entity, id: &str) -> Result<Vec<KeyRecord>, StoreError>;

    /// Sets `spend = 0` and `budget_reset_at = next` if `budget_reset_at` is still
    /// `expected` (compare-and-set, so one of several keyservices does each reset).
    async fn reset_budget(
        &self,
        entity: Entity,
        id: &str,
        expected: i64,
        next: i64,
    ) -> Result<bool, StoreError>;

    /// Inserts a user. [`StoreError::Conflict`] if the id exists.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// The user with this id.
    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Inserts a team. [`StoreError::Conflict`] if the id exists.
    async fn insert_team(&self, team: &TeamRecord) -> Result<(), StoreError>;

    /// The team with this id.
    async fn get_team(&self, team_id: &str) -> Result<Option<TeamRecord>, StoreError>;

    /// Records one request's spend: inserts the row and adds its spend to the key, the
    /// user and the team, in one transaction; nothing if `request_id` is known. An
    /// empty `user` / absent `team_id` in the row is filled from the key.
    async fn record_spend(&self, row: &SpendLogRow) -> Result<SpendOutcome, StoreError>;

    /// Spend log rows, newest first.
    async fn spend_logs(&self, filter: &SpendFilter) -> Result<Vec<SpendLogRow>, StoreError>;

    /// Total spend over every logged request.
    async fn global_spend(&self) -> Result<f64, StoreError>;
}

/// An opened database: the store and the rate-limit state that goes with it.
#[derive(Clone)]
pub struct Backend {
    /// The keys, users, teams and spend.
    pub store: Arc<dyn Store>,
    /// The rate-limit state: in memory for SQLite, in the database for PostgreSQL.
    pub limiter: Arc<dyn Limiter>,
    /// Which database it is.
    pub kind: BackendKind,
}

/// Opens (and migrates) the database at `url`: `sqlite://path`, `sqlite:path`,
/// `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
pub async fn open(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pg = Arc::new(sql::PostgresStore::connect(url).await?);
        Ok(Backend {
            store: pg.clone(),
            limiter: pg,
            kind: BackendKind::Postgres,
        })
    } else if url.starts_with("sqlite:") {
        let lite = Arc::new(sql::SqliteStore::connect(url).await?);
        Ok(Backend {
            store: lite,
            limiter: Arc::new(MemoryLimiter::new()),
            kind: BackendKind::Sqlite,
        })
    } else {
        Err(StoreError::Other(
            "unsupported database URL: use sqlite://PATH or postgres://…".to_string(),
        ))
    }
}

/// Never shows a password: `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.split('?').next().unwrap_or(url).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://sy:secret@127.0.0.1:5432/keys"),
            "postgres://sy:***@127.0.0.1:5432/keys"
        );
        assert_eq!(
            redact_url("sqlite://./switchyard-keys.db"),
            "sqlite://./switchyard-keys.db"
        );
        assert_eq!(
            redact_url("postgres://localhost/db?password=secret"),
            "postgres://localhost/db"
        );
    }
}
