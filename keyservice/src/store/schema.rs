//! The schema, as numbered migrations that run at start.
//!
//! Each migration runs once, in a transaction, and is recorded in
//! `schema_migrations`; running them again is a no-op. The DDL is written once for
//! both databases (types SQLite reads by affinity: `BIGINT` → integer,
//! `DOUBLE PRECISION` → real, `BOOLEAN` → numeric). Times are epoch milliseconds,
//! JSON columns are text. On PostgreSQL the runner holds an advisory lock so that two
//! keyservices starting together do not race. Add a migration by appending to
//! [`MIGRATIONS`]; never edit one that has shipped.

/// One schema step: version, name, statements.
pub struct Migration {
    /// The schema version this step leads to; steps run in order, once each.
    pub version: i64,
    /// What the step does, for the migrations table and the log.
    pub name: &'static str,
    /// The SQL statements, run in one transaction.
    pub statements: &'static [&'static str],
}

/// The bookkeeping table.
pub const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "keys, users, teams, spend logs, rate-limit state",
    statements: &[
        "CREATE TABLE IF NOT EXISTS keys (
            token TEXT PRIMARY KEY,
            key_name TEXT NOT NULL,
            key_alias TEXT UNIQUE,
            models TEXT NOT NULL DEFAULT '[]',
            aliases TEXT NOT NULL DEFAULT '{}',
            max_budget DOUBLE PRECISION,
            soft_budget DOUBLE PRECISION,
            budget_duration TEXT,
            budget_reset_at BIGINT,
            spend DOUBLE PRECISION NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            max_parallel_requests BIGINT,
            metadata TEXT NOT NULL DEFAULT '{}',
            user_id TEXT,
            team_id TEXT,
            blocked BOOLEAN NOT NULL DEFAULT FALSE,
            expires BIGINT,
            extra TEXT NOT NULL DEFAULT '{}',
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            created_by TEXT,
            updated_by TEXT
        )",
        "CREATE INDEX IF NOT EXISTS keys_user_id ON keys (user_id)",
        "CREATE INDEX IF NOT EXISTS keys_team_id ON keys (team_id)",
        "CREATE INDEX IF NOT EXISTS keys_created_at ON keys (created_at)",
        "CREATE TABLE IF NOT EXISTS users (
            user_id TEXT PRIMARY KEY,
            user_alias TEXT,
            user_email TEXT,
            user_role TEXT,
            teams TEXT NOT NULL DEFAULT '[]',
            models TEXT NOT NULL DEFAULT '[]',
            max_budget DOUBLE PRECISION,
            budget_duration TEXT,
            budget_reset_at BIGINT,
            spend DOUBLE PRECISION NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            max_parallel_requests BIGINT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS teams (
            team_id TEXT PRIMARY KEY,
            team_alias TEXT,
            models TEXT NOT NULL DEFAULT '[]',
            members_with_roles TEXT NOT NULL DEFAULT '[]',
            max_budget DOUBLE PRECISION,
            budget_duration TEXT,
            budget_reset_at BIGINT,
            spend DOUBLE PRECISION NOT NULL DEFAULT 0,
            rpm_limit BIGINT,
            tpm_limit BIGINT,
            max_parallel_requests BIGINT,
            metadata TEXT NOT NULL DEFAULT '{}',
            blocked BOOLEAN NOT NULL DEFAULT FALSE,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS spend_logs (
            request_id TEXT PRIMARY KEY,
            call_type TEXT NOT NULL DEFAULT '',
            api_key TEXT NOT NULL DEFAULT '',
            spend DOUBLE PRECISION NOT NULL DEFAULT 0,
            prompt_tokens BIGINT NOT NULL DEFAULT 0,
            completion_tokens BIGINT NOT NULL DEFAULT 0,
            total_tokens BIGINT NOT NULL DEFAULT 0,
            start_time BIGINT NOT NULL,
            end_time BIGINT NOT NULL,
            completion_start_time BIGINT,
            model TEXT NOT NULL DEFAULT '',
            model_id TEXT NOT NULL DEFAULT '',
            model_group TEXT NOT NULL DEFAULT '',
            custom_llm_provider TEXT NOT NULL DEFAULT '',
            api_base TEXT NOT NULL DEFAULT '',
            user_id TEXT NOT NULL DEFAULT '',
            team_id TEXT,
            end_user TEXT NOT NULL DEFAULT '',
            metadata TEXT NOT NULL DEFAULT '{}',
            cache_hit TEXT NOT NULL DEFAULT 'False',
            cache_key TEXT NOT NULL DEFAULT '',
            request_tags TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'success'
        )",
        "CREATE INDEX IF NOT EXISTS spend_logs_api_key ON spend_logs (api_key)",
        "CREATE INDEX IF NOT EXISTS spend_logs_user_id ON spend_logs (user_id)",
        "CREATE INDEX IF NOT EXISTS spend_logs_start_time ON spend_logs (start_time)",
        "CREATE TABLE IF NOT EXISTS rate_limit_windows (
            scope TEXT NOT NULL,
            window_start BIGINT NOT NULL,
            requests BIGINT NOT NULL DEFAULT 0,
            tokens BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, window_start)
        )",
        "CREATE TABLE IF NOT EXISTS inflight_leases (
            lease_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (lease_id, scope)
        )",
        "CREATE INDEX IF NOT EXISTS inflight_leases_scope ON inflight_leases (scope, expires_at)",
    ],
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_unique() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration {} out of order", m.version);
            assert!(!m.statements.is_empty());
            last = m.version;
        }
    }
}
