//! The two SQL stores, [`SqliteStore`] and [`PostgresStore`].
//!
//! Their queries are written once: the macro `impl_sql_store!` expands the same
//! [`Store`] and [`Limiter`] code for each concrete sqlx pool type, so each
//! implementation is plain, monomorphic sqlx code (runtime queries, `$n` parameters,
//! which sqlx accepts for SQLite too). What differs lives in a few constants per
//! database:
//! - `BEGIN_WRITE`: SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so a
//!   transaction that reads before it writes cannot fail on a stale snapshot;
//! - `SCOPE_LOCK`: PostgreSQL serializes the "count live leases, then add one" of a
//!   parallel-request limit with a transaction-scoped advisory lock per scope
//!   (SQLite's single writer already does);
//! - `MIGRATION_LOCK`: PostgreSQL serializes concurrent migrations the same way.
//!
//! The rate-limit tables are used by PostgreSQL deployments (shared limits). The SQLite
//! store implements them too, which keeps that code tested without a PostgreSQL server,
//! but SQLite deployments use the in-memory limiter.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Row, SqlitePool};

use super::schema::{CREATE_MIGRATIONS_TABLE, MIGRATIONS};
use super::{BackendKind, KeyFilter, SpendFilter, SpendOutcome, Store};
use crate::limits::{window_start, Acquired, LimitClaim, LimitKind, Limiter, ScopeUsage};
use crate::model::{Entity, KeyRecord, SpendLogRow, TeamRecord, UserRecord};
use crate::store_error::StoreError;

/// A SQLite file (or `sqlite::memory:`) store.
pub struct SqliteStore {
    pool: SqlitePool,
}

/// A PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
}

impl SqliteStore {
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const SCOPE_LOCK: Option<&'static str> = None;
    const MIGRATION_LOCK: Option<&'static str> = None;
    const KIND: BackendKind = BackendKind::Sqlite;

    /// Opens (creating it if needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        if !memory {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        let mut pool = SqlitePoolOptions::new();
        if memory {
            // One connection that never closes: it *is* the database.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            pool = pool.max_connections(4);
        }
        let store = SqliteStore {
            pool: pool.connect_with(opts).await?,
        };
        store.migrate().await?;
        Ok(store)
    }
}

impl PostgresStore {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const SCOPE_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(hashtext($1))");
    const MIGRATION_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(726231001)");
    const KIND: BackendKind = BackendKind::Postgres;

    /// Connects to and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }
}

const KEY_COLS: &str = "token, key_name, key_alias, models, aliases, max_budget, soft_budget, \
    budget_duration, budget_reset_at, spend, rpm_limit, tpm_limit, max_parallel_requests, \
    metadata, user_id, team_id, blocked, expires, extra, created_at, updated_at, created_by, \
    updated_by";

const USER_COLS: &str = "user_id, user_alias, user_email, user_role, teams, models, max_budget, \
    budget_duration, budget_reset_at, spend, rpm_limit, tpm_limit, max_parallel_requests, \
    metadata, created_at, updated_at";

const TEAM_COLS: &str = "team_id, team_alias, models, members_with_roles, max_budget, \
    budget_duration, budget_reset_at, spend, rpm_limit, tpm_limit, max_parallel_requests, \
    metadata, blocked, created_at, updated_at";

const SPEND_COLS: &str = "request_id, call_type, api_key, spend, prompt_tokens, \
    completion_tokens, total_tokens, start_time, end_time, completion_start_time, model, \
    model_id, model_group, custom_llm_provider, api_base, user_id, team_id, end_user, metadata, \
    cache_hit, cache_key, request_tags, status";

fn to_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

fn parse_col<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Other(format!("stored column {column} is not valid JSON: {e}")))
}

fn entity_table(e: Entity) -> (&'static str, &'static str) {
    match e {
        Entity::Key => ("keys", "token"),
        Entity::User => ("users", "user_id"),
        Entity::Team => ("teams", "team_id"),
    }
}

macro_rules! key_from_row {
    ($r:expr) => {{
        let r = &$r;
        KeyRecord {
            token: r.try_get("token")?,
            key_name: r.try_get("key_name")?,
            key_alias: r.try_get("key_alias")?,
            models: parse_col::<Vec<String>>(&r.try_get::<String, _>("models")?, "models")?,
            aliases: parse_col::<Map<String, Value>>(
                &r.try_get::<String, _>("aliases")?,
                "aliases",
            )?,
            max_budget: r.try_get("max_budget")?,
            soft_budget: r.try_get("soft_budget")?,
            budget_duration: r.try_get("budget_duration")?,
            budget_reset_at: r.try_get("budget_reset_at")?,
            spend: r.try_get("spend")?,
            rpm_limit: r.try_get("rpm_limit")?,
            tpm_limit: r.try_get("tpm_limit")?,
            max_parallel_requests: r.try_get("max_parallel_requests")?,
            metadata: parse_col::<Map<String, Value>>(
                &r.try_get::<String, _>("metadata")?,
                "metadata",
            )?,
            user_id: r.try_get("user_id")?,
            team_id: r.try_get("team_id")?,
            blocked: r.try_get("blocked")?,
            expires: r.try_get("expires")?,
            extra: parse_col::<Map<String, Value>>(&r.try_get::<String, _>("extra")?, "extra")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            created_by: r.try_get("created_by")?,
            updated_by: r.try_get("updated_by")?,
        }
    }};
}

macro_rules! user_from_row {
    ($r:expr) => {{
        let r = &$r;
        UserRecord {
            user_id: r.try_get("user_id")?,
            user_alias: r.try_get("user_alias")?,
            user_email: r.try_get("user_email")?,
            user_role: r.try_get("user_role")?,
            teams: parse_col::<Vec<String>>(&r.try_get::<String, _>("teams")?, "teams")?,
            models: parse_col::<Vec<String>>(&r.try_get::<String, _>("models")?, "models")?,
            max_budget: r.try_get("max_budget")?,
            budget_duration: r.try_get("budget_duration")?,
            budget_reset_at: r.try_get("budget_reset_at")?,
            spend: r.try_get("spend")?,
            rpm_limit: r.try_get("rpm_limit")?,
            tpm_limit: r.try_get("tpm_limit")?,
            max_parallel_requests: r.try_get("max_parallel_requests")?,
            metadata: parse_col::<Map<String, Value>>(
                &r.try_get::<String, _>("metadata")?,
                "metadata",
            )?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}

macro_rules! team_from_row {
    ($r:expr) => {{
        let r = &$r;
        TeamRecord {
            team_id: r.try_get("team_id")?,
            team_alias: r.try_get("team_alias")?,
            models: parse_col::<Vec<String>>(&r.try_get::<String, _>("models")?, "models")?,
            members_with_roles: parse_col::<Value>(
                &r.try_get::<String, _>("members_with_roles")?,
                "members_with_roles",
            )?,
            max_budget: r.try_get("max_budget")?,
            budget_duration: r.try_get("budget_duration")?,
            budget_reset_at: r.try_get("budget_reset_at")?,
            spend: r.try_get("spend")?,
            rpm_limit: r.try_get("rpm_limit")?,
            tpm_limit: r.try_get("tpm_limit")?,
            max_parallel_requests: r.try_get("max_parallel_requests")?,
            metadata: parse_col::<Map<String, Value>>(
                &r.try_get::<String, _>("metadata")?,
                "metadata",
            )?,
            blocked: r.try_get("blocked")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}

macro_rules! spend_from_row {
    ($r:expr) => {{
        let r = &$r;
        SpendLogRow {
            request_id: r.try_get("request_id")?,
            call_type: r.try_get("call_type")?,
            api_key: r.try_get("api_key")?,
            spend: r.try_get("spend")?,
            prompt_tokens: r.try_get("prompt_tokens")?,
            completion_tokens: r.try_get("completion_tokens")?,
            total_tokens: r.try_get("total_tokens")?,
            start_time: r.try_get("start_time")?,
            end_time: r.try_get("end_time")?,
            completion_start_time: r.try_get("completion_start_time")?,
            model: r.try_get("model")?,
            model_id: r.try_get("model_id")?,
            model_group: r.try_get("model_group")?,
            custom_llm_provider: r.try_get("custom_llm_provider")?,
            api_base: r.try_get("api_base")?,
            user: r.try_get("user_id")?,
            team_id: r.try_get("team_id")?,
            end_user: r.try_get("end_user")?,
            metadata: parse_col::<Value>(&r.try_get::<String, _>("metadata")?, "metadata")?,
            cache_hit: r.try_get("cache_hit")?,
            cache_key: r.try_get("cache_key")?,
            request_tags: parse_col::<Value>(
                &r.try_get::<String, _>("request_tags")?,
                "request_tags",
            )?,
            status: r.try_get("status")?,
        }
    }};
}

macro_rules! impl_sql_store {
    ($store:ident) => {
        impl $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                let now = crate::time::now_ms();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                if let Some(lock) = Self::MIGRATION_LOCK {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                sqlx::query(CREATE_MIGRATIONS_TABLE).execute(&mut *tx).await?;
                for m in MIGRATIONS {
                    let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if applied.is_some() {
                        continue;
                    }
                    for statement in m.statements {
                        sqlx::query(statement).execute(&mut *tx).await?;
                    }
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    log::info!("applied schema migration {} ({})", m.version, m.name);
                }
                tx.commit().await?;
                Ok(())
            }

            /// The schema versions applied, in order (for tests and diagnostics).
            pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
                let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| r.try_get::<i64, _>("version").map_err(StoreError::from))
                    .collect()
            }

            /// Runs the migrations again (they must be no-ops).
            pub async fn migrate_again(&self) -> Result<(), StoreError> {
                self.migrate().await
            }
        }

        #[async_trait]
        impl Store for $store {
            fn kind(&self) -> BackendKind {
                Self::KIND
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
                let sql = format!(
                    "INSERT INTO keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
                );
                sqlx::query(&sql)
                    .bind(&k.token)
                    .bind(&k.key_name)
                    .bind(&k.key_alias)
                    .bind(to_text(&k.models))
                    .bind(to_text(&k.aliases))
                    .bind(k.max_budget)
                    .bind(k.soft_budget)
                    .bind(&k.budget_duration)
                    .bind(k.budget_reset_at)
                    .bind(k.spend)
                    .bind(k.rpm_limit)
                    .bind(k.tpm_limit)
                    .bind(k.max_parallel_requests)
                    .bind(to_text(&k.metadata))
                    .bind(&k.user_id)
                    .bind(&k.team_id)
                    .bind(k.blocked)
                    .bind(k.expires)
                    .bind(to_text(&k.extra))
                    .bind(k.created_at)
                    .bind(k.updated_at)
                    .bind(&k.created_by)
                    .bind(&k.updated_by)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_key(&self, token: &str) -> Result<Option<KeyRecord>, StoreError> {
                let sql = format!("SELECT {KEY_COLS} FROM keys WHERE token = $1");
                match sqlx::query(&sql).bind(token).fetch_optional(&self.pool).await? {
                    Some(r) => Ok(Some(key_from_row!(r))),
                    None => Ok(None),
                }
            }

            async fn update_key(
                &self,
                old_token: &str,
                k: &KeyRecord,
                set_spend: bool,
            ) -> Result<bool, StoreError> {
                let res = sqlx::query(
                    "UPDATE keys SET token = $1, key_name = $2, key_alias = $3, models = $4, \
                     aliases = $5, max_budget = $6, soft_budget = $7, budget_duration = $8, \
                     budget_reset_at = $9, spend = CASE WHEN $10 THEN $11 ELSE spend END, \
                     rpm_limit = $12, tpm_limit = $13, max_parallel_requests = $14, metadata = $15, \
                     user_id = $16, team_id = $17, blocked = $18, expires = $19, extra = $20, \
                     updated_at = $21, updated_by = $22 WHERE token = $23",
                )
                .bind(&k.token)
                .bind(&k.key_name)
                .bind(&k.key_alias)
                .bind(to_text(&k.models))
                .bind(to_text(&k.aliases))
                .bind(k.max_budget)
                .bind(k.soft_budget)
                .bind(&k.budget_duration)
                .bind(k.budget_reset_at)
                .bind(set_spend)
                .bind(k.spend)
                .bind(k.rpm_limit)
                .bind(k.tpm_limit)
                .bind(k.max_parallel_requests)
                .bind(to_text(&k.metadata))
                .bind(&k.user_id)
                .bind(&k.team_id)
                .bind(k.blocked)
                .bind(k.expires)
                .bind(to_text(&k.extra))
                .bind(k.updated_at)
                .bind(&k.updated_by)
                .bind(old_token)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_keys(&self, tokens: &[String]) -> Result<Vec<String>, StoreError> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let mut deleted = Vec::new();
                for t in tokens {
                    let res = sqlx::query("DELETE FROM keys WHERE token = $1")
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                    if res.rows_affected() > 0 {
                        deleted.push(t.clone());
                    }
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn tokens_for_aliases(&self, aliases: &[String]) -> Result<Vec<String>, StoreError> {
                let mut tokens = Vec::new();
                for a in aliases {
                    let rows = sqlx::query("SELECT token FROM keys WHERE key_alias = $1")
                        .bind(a)
                        .fetch_all(&self.pool)
                        .await?;
                    for r in rows {
                        tokens.push(r.try_get::<String, _>("token")?);
                    }
                }
                Ok(tokens)
            }

            async fn list_keys(
                &self,
                f: &KeyFilter,
                offset: i64,
                limit: i64,
            ) -> Result<(Vec<KeyRecord>, i64), StoreError> {
                const WHERE: &str = "($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR team_id = $2) \
                                     AND ($3 IS NULL OR key_alias = $3)";
                let sql = format!(
                    "SELECT {KEY_COLS} FROM keys WHERE {WHERE} \
                     ORDER BY created_at DESC, token DESC LIMIT $4 OFFSET $5"
                );
                let rows = sqlx::query(&sql)
                    .bind(&f.user_id)
                    .bind(&f.team_id)
                    .bind(&f.key_alias)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?;
                let mut keys = Vec::with_capacity(rows.len());
                for r in rows {
                    keys.push(key_from_row!(r));
                }
                let count_sql = format!("SELECT COUNT(*) AS n FROM keys WHERE {WHERE}");
                let total: i64 = sqlx::query(&count_sql)
                    .bind(&f.user_id)
                    .bind(&f.team_id)
                    .bind(&f.key_alias)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                Ok((keys, total))
            }

            async fn keys_of(&self, entity: Entity, id: &str) -> Result<Vec<KeyRecord>, StoreError> {
                let column = match entity {
                    Entity::User => "user_id",
                    Entity::Team => "team_id",
                    Entity::Key => "token",
                };
                let sql = format!(
                    "SELECT {KEY_COLS} FROM keys WHERE {column} = $1 ORDER BY created_at DESC, token DESC"
                );
                let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
                let mut keys = Vec::with_capacity(rows.len());
                for r in rows {
                    keys.push(key_from_row!(r));
                }
                Ok(keys)
            }

            async fn reset_budget(
                &self,
                entity: Entity,
                id: &str,
                expected: i64,
                next: i64,
            ) -> Result<bool, StoreError> {
                let (table, column) = entity_table(entity);
                let sql = format!(
                    "UPDATE {table} SET spend = 0, budget_reset_at = $1 \
                     WHERE {column} = $2 AND budget_reset_at = $3"
                );
                let res = sqlx::query(&sql)
                    .bind(next)
                    .bind(id)
                    .bind(expected)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn insert_user(&self, u: &UserRecord) -> Result<(), StoreError> {
                let sql = format!(
                    "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15, $16)"
                );
                sqlx::query(&sql)
                    .bind(&u.user_id)
                    .bind(&u.user_alias)
                    .bind(&u.user_email)
                    .bind(&u.user_role)
                    .bind(to_text(&u.teams))
                    .bind(to_text(&u.models))
                    .bind(u.max_budget)
                    .bind(&u.budget_duration)
                    .bind(u.budget_reset_at)
                    .bind(u.spend)
                    .bind(u.rpm_limit)
                    .bind(u.tpm_limit)
                    .bind(u.max_parallel_requests)
                    .bind(to_text(&u.metadata))
                    .bind(u.created_at)
                    .bind(u.updated_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
                let sql = format!("SELECT {USER_COLS} FROM users WHERE user_id = $1");
                match sqlx::query(&sql).bind(user_id).fetch_optional(&self.pool).await? {
                    Some(r) => Ok(Some(user_from_row!(r))),
                    None => Ok(None),
                }
            }

            async fn insert_team(&self, t: &TeamRecord) -> Result<(), StoreError> {
                let sql = format!(
                    "INSERT INTO teams ({TEAM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15)"
                );
                sqlx::query(&sql)
                    .bind(&t.team_id)
                    .bind(&t.team_alias)
                    .bind(to_text(&t.models))
                    .bind(to_text(&t.members_with_roles))
                    .bind(t.max_budget)
                    .bind(&t.budget_duration)
                    .bind(t.budget_reset_at)
                    .bind(t.spend)
                    .bind(t.rpm_limit)
                    .bind(t.tpm_limit)
                    .bind(t.max_parallel_requests)
                    .bind(to_text(&t.metadata))
                    .bind(t.blocked)
                    .bind(t.created_at)
                    .bind(t.updated_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_team(&self, team_id: &str) -> Result<Option<TeamRecord>, StoreError> {
                let sql = format!("SELECT {TEAM_COLS} FROM teams WHERE team_id = $1");
                match sqlx::query(&sql).bind(team_id).fetch_optional(&self.pool).await? {
                    Some(r) => Ok(Some(team_from_row!(r))),
                    None => Ok(None),
                }
            }

            async fn record_spend(&self, row: &SpendLogRow) -> Result<SpendOutcome, StoreError> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let owner = sqlx::query("SELECT user_id, team_id FROM keys WHERE token = $1")
                    .bind(&row.api_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (key_user, key_team): (Option<String>, Option<String>) = match owner {
                    Some(r) => (r.try_get("user_id")?, r.try_get("team_id")?),
                    None => (None, None),
                };
                let user = if row.user.is_empty() {
                    key_user.unwrap_or_default()
                } else {
                    row.user.clone()
                };
                let team = row.team_id.clone().or(key_team);
                let sql = format!(
                    "INSERT INTO spend_logs ({SPEND_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                     $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
                     ON CONFLICT (request_id) DO NOTHING"
                );
                let inserted = sqlx::query(&sql)
                    .bind(&row.request_id)
                    .bind(&row.call_type)
                    .bind(&row.api_key)
                    .bind(row.spend)
                    .bind(row.prompt_tokens)
                    .bind(row.completion_tokens)
                    .bind(row.total_tokens)
                    .bind(row.start_time)
                    .bind(row.end_time)
                    .bind(row.completion_start_time)
                    .bind(&row.model)
                    .bind(&row.model_id)
                    .bind(&row.model_group)
                    .bind(&row.custom_llm_provider)
                    .bind(&row.api_base)
                    .bind(&user)
                    .bind(&team)
                    .bind(&row.end_user)
                    .bind(to_text(&row.metadata))
                    .bind(&row.cache_hit)
                    .bind(&row.cache_key)
                    .bind(to_text(&row.request_tags))
                    .bind(&row.status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if !inserted {
                    tx.rollback().await?;
                    return Ok(SpendOutcome {
                        inserted: false,
                        user_id: None,
                        team_id: None,
                    });
                }
                sqlx::query("UPDATE keys SET spend = spend + $1 WHERE token = $2")
                    .bind(row.spend)
                    .bind(&row.api_key)
                    .execute(&mut *tx)
                    .await?;
                if !user.is_empty() {
                    sqlx::query("UPDATE users SET spend = spend + $1 WHERE user_id = $2")
                        .bind(row.spend)
                        .bind(&user)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(t) = &team {
                    sqlx::query("UPDATE teams SET spend = spend + $1 WHERE team_id = $2")
                        .bind(row.spend)
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(SpendOutcome {
                    inserted: true,
                    user_id: (!user.is_empty()).then_some(user),
                    team_id: team,
                })
            }

            async fn spend_logs(&self, f: &SpendFilter) -> Result<Vec<SpendLogRow>, StoreError> {
                let sql = format!(
                    "SELECT {SPEND_COLS} FROM spend_logs WHERE ($1 IS NULL OR api_key = $1) \
                     AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR request_id = $3) \
                     AND ($4 IS NULL OR start_time >= $4) AND ($5 IS NULL OR start_time < $5) \
                     ORDER BY start_time DESC, request_id DESC LIMIT $6"
                );
                let rows = sqlx::query(&sql)
                    .bind(&f.api_key)
                    .bind(&f.user)
                    .bind(&f.request_id)
                    .bind(f.start)
                    .bind(f.end)
                    .bind(f.limit)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(spend_from_row!(r));
                }
                Ok(out)
            }

            async fn global_spend(&self) -> Result<f64, StoreError> {
                let r = sqlx::query("SELECT COALESCE(SUM(spend), 0.0) AS total FROM spend_logs")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(r.try_get::<f64, _>("total")?)
            }
        }

        #[async_trait]
        impl Limiter for $store {
            async fn usage(&self, scopes: &[String], now: i64) -> Result<Vec<ScopeUsage>, StoreError> {
                let start = window_start(now);
                let mut out = Vec::with_capacity(scopes.len());
                for s in scopes {
                    let w = sqlx::query(
                        "SELECT requests, tokens FROM rate_limit_windows WHERE scope = $1 AND window_start = $2",
                    )
                    .bind(s)
                    .bind(start)
                    .fetch_optional(&self.pool)
                    .await?;
                    let (requests, tokens) = match w {
                        Some(r) => (r.try_get::<i64, _>("requests")?, r.try_get::<i64, _>("tokens")?),
                        None => (0, 0),
                    };
                    let in_flight: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM inflight_leases WHERE scope = $1 AND expires_at > $2",
                    )
                    .bind(s)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                    out.push(ScopeUsage { requests, tokens, in_flight });
                }
                Ok(out)
            }

            async fn acquire(
                &self,
                claims: &[LimitClaim],
                now: i64,
                lease_ttl_ms: i64,
            ) -> Result<Acquired, StoreError> {
                let start = window_start(now);
                let mut lease: Option<String> = None;
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                for (index, c) in claims.iter().enumerate() {
                    if let Some(max) = c.parallel {
                        if let Some(lock) = Self::SCOPE_LOCK {
                            sqlx::query(lock).bind(&c.scope).execute(&mut *tx).await?;
                        }
                        let live: i64 = sqlx::query(
                            "SELECT COUNT(*) AS n FROM inflight_leases WHERE scope = $1 AND expires_at > $2",
                        )
                        .bind(&c.scope)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                        if live >= max {
                            tx.rollback().await?;
                            return Ok(Acquired::Limited { index, kind: LimitKind::Parallel, limit: max });
                        }
                    }
                    // Every claimed scope holds the request's lease (its admission id):
                    // the parallel slot, and the mark a replay continues on.
                    let id = lease.get_or_insert_with(crate::keys::random_uuid).clone();
                    sqlx::query("INSERT INTO inflight_leases (lease_id, scope, expires_at) VALUES ($1, $2, $3)")
                        .bind(id)
                        .bind(&c.scope)
                        .bind(now + lease_ttl_ms)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(max) = c.rpm {
                        // Count this request only if the window has room; the row lock
                        // taken by the upsert makes check-and-count one atomic step.
                        let counted = if max <= 0 {
                            None
                        } else {
                            sqlx::query(
                                "INSERT INTO rate_limit_windows (scope, window_start, requests, tokens) \
                                 VALUES ($1, $2, 1, 0) ON CONFLICT (scope, window_start) DO UPDATE \
                                 SET requests = rate_limit_windows.requests + 1 \
                                 WHERE rate_limit_windows.requests < $3 RETURNING requests",
                            )
                            .bind(&c.scope)
                            .bind(start)
                            .bind(max)
                            .fetch_optional(&mut *tx)
                            .await?
                        };
                        if counted.is_none() {
                            tx.rollback().await?;
                            return Ok(Acquired::Limited { index, kind: LimitKind::Requests, limit: max });
                        }
                    }
                    if let Some(max) = c.tpm {
                        let tokens: i64 = match sqlx::query(
                            "SELECT tokens FROM rate_limit_windows WHERE scope = $1 AND window_start = $2",
                        )
                        .bind(&c.scope)
                        .bind(start)
                        .fetch_optional(&mut *tx)
                        .await?
                        {
                            Some(r) => r.try_get("tokens")?,
                            None => 0,
                        };
                        if tokens >= max {
                            tx.rollback().await?;
                            return Ok(Acquired::Limited { index, kind: LimitKind::Tokens, limit: max });
                        }
                    }
                }
                tx.commit().await?;
                Ok(Acquired::Granted { lease })
            }

            async fn add_tokens(&self, scopes: &[String], tokens: i64, now: i64) -> Result<(), StoreError> {
                let start = window_start(now);
                for s in scopes {
                    sqlx::query(
                        "INSERT INTO rate_limit_windows (scope, window_start, requests, tokens) \
                         VALUES ($1, $2, 0, $3) ON CONFLICT (scope, window_start) DO UPDATE \
                         SET tokens = rate_limit_windows.tokens + $3",
                    )
                    .bind(s)
                    .bind(start)
                    .bind(tokens)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(())
            }

            async fn release(&self, lease: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM inflight_leases WHERE lease_id = $1")
                    .bind(lease)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn continues(&self, lease: &str, scopes: &[String], now: i64) -> Result<bool, StoreError> {
                if scopes.is_empty() {
                    return Ok(false);
                }
                for s in scopes {
                    let live: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM inflight_leases WHERE lease_id = $1 AND scope = $2 AND expires_at > $3",
                    )
                    .bind(lease)
                    .bind(s)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                    if live == 0 {
                        return Ok(false);
                    }
                }
                Ok(true)
            }

            async fn gc(&self, now: i64) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM rate_limit_windows WHERE window_start < $1")
                    .bind(window_start(now))
                    .execute(&self.pool)
                    .await?;
                sqlx::query("DELETE FROM inflight_leases WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

impl_sql_store!(SqliteStore);
impl_sql_store!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn sqlite_limiter_tables_conform() {
        let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
        crate::limits::conformance::all(store).await;
    }

    #[tokio::test]
    async fn migrations_are_recorded_and_idempotent() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let want: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(store.applied_migrations().await.unwrap(), want);
        store.migrate_again().await.unwrap();
        assert_eq!(store.applied_migrations().await.unwrap(), want);
    }

    #[tokio::test]
    async fn postgres_limiter_tables_conform() {
        let Ok(url) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
            eprintln!("skipped: SWITCHYARD_TEST_POSTGRES_URL is not set");
            return;
        };
        let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
        // Start from empty limit tables so reruns are independent.
        sqlx::query("DELETE FROM rate_limit_windows")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM inflight_leases")
            .execute(&store.pool)
            .await
            .unwrap();
        store.migrate_again().await.unwrap();
        crate::limits::conformance::all(store).await;
    }
}
