//! The stored records (key, user, team, spend log row) and their LiteLLM JSON shapes.
//!
//! Records hold times as epoch milliseconds and JSON-valued columns as
//! `serde_json` values; the `*_json` functions render them the way LiteLLM's API
//! answers (ISO-8601 times, LiteLLM's field names, the token hash only where LiteLLM
//! shows it).

use serde_json::{json, Map, Value};

use crate::time::{format_iso, py_float};

/// One virtual key (`LiteLLM_VerificationToken`). `token` is `sha256(key)` hex.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyRecord {
    pub token: String,
    pub key_name: String,
    pub key_alias: Option<String>,
    /// Allowed model names; empty = all.
    pub models: Vec<String>,
    /// Requested model → model it is served by, for this key.
    pub aliases: Map<String, Value>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<i64>,
    pub spend: f64,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: Map<String, Value>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub blocked: bool,
    pub expires: Option<i64>,
    /// LiteLLM fields stored and echoed but not enforced yet (`allowed_cache_controls`,
    /// `config`, `permissions`, `model_max_budget`, `tags`, …).
    pub extra: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

/// One internal user (`LiteLLM_UserTable`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserRecord {
    pub user_id: String,
    pub user_alias: Option<String>,
    pub user_email: Option<String>,
    pub user_role: Option<String>,
    pub teams: Vec<String>,
    pub models: Vec<String>,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<i64>,
    pub spend: f64,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One team (`LiteLLM_TeamTable`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamRecord {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub models: Vec<String>,
    /// `[{"role": "admin"|"user", "user_id": …, "user_email": …}]`
    pub members_with_roles: Value,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<i64>,
    pub spend: f64,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: Map<String, Value>,
    pub blocked: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One request's spend log row (`LiteLLM_SpendLogs`'s core fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpendLogRow {
    pub request_id: String,
    pub call_type: String,
    /// The key's token hash (never the plaintext key).
    pub api_key: String,
    pub spend: f64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub completion_start_time: Option<i64>,
    pub model: String,
    pub model_id: String,
    pub model_group: String,
    pub custom_llm_provider: String,
    pub api_base: String,
    /// LiteLLM's `user` column.
    pub user: String,
    pub team_id: Option<String>,
    pub end_user: String,
    pub metadata: Value,
    /// `"True"` or `"False"`, as LiteLLM stores it.
    pub cache_hit: String,
    pub cache_key: String,
    pub request_tags: Value,
    /// `"success"` or `"failure"`.
    pub status: String,
}

/// Which kind of record a budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Key,
    User,
    Team,
}

fn iso_opt(t: Option<i64>) -> Value {
    t.map(|t| Value::String(format_iso(t)))
        .unwrap_or(Value::Null)
}

fn extra_or(extra: &Map<String, Value>, name: &str, default: Value) -> Value {
    extra.get(name).cloned().unwrap_or(default)
}

/// The key row as `/key/info` shows it (`info`), with `token` only when asked.
pub fn key_json(k: &KeyRecord, include_token: bool) -> Map<String, Value> {
    let mut m = Map::new();
    if include_token {
        m.insert("token".into(), json!(k.token));
    }
    m.insert("key_name".into(), json!(k.key_name));
    m.insert("key_alias".into(), json!(k.key_alias));
    m.insert("soft_budget_cooldown".into(), json!(false));
    m.insert("spend".into(), json!(k.spend));
    m.insert("expires".into(), iso_opt(k.expires));
    m.insert("models".into(), json!(k.models));
    m.insert("aliases".into(), Value::Object(k.aliases.clone()));
    m.insert("config".into(), extra_or(&k.extra, "config", json!({})));
    m.insert("user_id".into(), json!(k.user_id));
    m.insert("team_id".into(), json!(k.team_id));
    m.insert(
        "permissions".into(),
        extra_or(&k.extra, "permissions", json!({})),
    );
    m.insert(
        "max_parallel_requests".into(),
        json!(k.max_parallel_requests),
    );
    m.insert("metadata".into(), Value::Object(k.metadata.clone()));
    m.insert("blocked".into(), json!(k.blocked));
    m.insert("tpm_limit".into(), json!(k.tpm_limit));
    m.insert("rpm_limit".into(), json!(k.rpm_limit));
    m.insert("max_budget".into(), json!(k.max_budget));
    m.insert("soft_budget".into(), json!(k.soft_budget));
    m.insert("budget_duration".into(), json!(k.budget_duration));
    m.insert("budget_reset_at".into(), iso_opt(k.budget_reset_at));
    m.insert(
        "allowed_cache_controls".into(),
        extra_or(&k.extra, "allowed_cache_controls", json!([])),
    );
    m.insert("model_spend".into(), json!({}));
    m.insert(
        "model_max_budget".into(),
        extra_or(&k.extra, "model_max_budget", json!({})),
    );
    for (name, value) in &k.extra {
        if !m.contains_key(name) {
            m.insert(name.clone(), value.clone());
        }
    }
    m.insert("created_at".into(), json!(format_iso(k.created_at)));
    m.insert("created_by".into(), json!(k.created_by));
    m.insert("updated_at".into(), json!(format_iso(k.updated_at)));
    m.insert("updated_by".into(), json!(k.updated_by));
    m.insert("litellm_budget_table".into(), Value::Null);
    m
}

/// `/key/generate`'s (and `/key/regenerate`'s) answer: the row plus the plaintext key,
/// shown this once.
pub fn generate_response_json(k: &KeyRecord, plaintext: &str, duration: Option<&str>) -> Value {
    let mut m = key_json(k, true);
    m.insert("key".into(), json!(plaintext));
    m.insert("token_id".into(), json!(k.token));
    m.insert("duration".into(), json!(duration));
    Value::Object(m)
}

/// The user row as LiteLLM's `/user/info` shows it (`user_info`).
pub fn user_json(u: &UserRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("user_id".into(), json!(u.user_id));
    m.insert("user_alias".into(), json!(u.user_alias));
    m.insert("user_email".into(), json!(u.user_email));
    m.insert("user_role".into(), json!(u.user_role));
    m.insert("teams".into(), json!(u.teams));
    m.insert("models".into(), json!(u.models));
    m.insert("max_budget".into(), json!(u.max_budget));
    m.insert("budget_duration".into(), json!(u.budget_duration));
    m.insert("budget_reset_at".into(), iso_opt(u.budget_reset_at));
    m.insert("spend".into(), json!(u.spend));
    m.insert("tpm_limit".into(), json!(u.tpm_limit));
    m.insert("rpm_limit".into(), json!(u.rpm_limit));
    m.insert(
        "max_parallel_requests".into(),
        json!(u.max_parallel_requests),
    );
    m.insert("metadata".into(), Value::Object(u.metadata.clone()));
    m.insert("model_spend".into(), json!({}));
    m.insert("model_max_budget".into(), json!({}));
    m.insert("created_at".into(), json!(format_iso(u.created_at)));
    m.insert("updated_at".into(), json!(format_iso(u.updated_at)));
    m
}

/// The team row as LiteLLM's `/team/new` and `/team/info` show it.
pub fn team_json(t: &TeamRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("team_alias".into(), json!(t.team_alias));
    m.insert("team_id".into(), json!(t.team_id));
    m.insert("organization_id".into(), Value::Null);
    let admins: Vec<Value> = member_ids(&t.members_with_roles, Some("admin"));
    let members: Vec<Value> = member_ids(&t.members_with_roles, None);
    m.insert("admins".into(), Value::Array(admins));
    m.insert("members".into(), Value::Array(members));
    m.insert("members_with_roles".into(), t.members_with_roles.clone());
    m.insert("metadata".into(), Value::Object(t.metadata.clone()));
    m.insert("tpm_limit".into(), json!(t.tpm_limit));
    m.insert("rpm_limit".into(), json!(t.rpm_limit));
    m.insert("max_budget".into(), json!(t.max_budget));
    m.insert("budget_duration".into(), json!(t.budget_duration));
    m.insert("budget_reset_at".into(), iso_opt(t.budget_reset_at));
    m.insert("models".into(), json!(t.models));
    m.insert("blocked".into(), json!(t.blocked));
    m.insert("spend".into(), json!(t.spend));
    m.insert(
        "max_parallel_requests".into(),
        json!(t.max_parallel_requests),
    );
    m.insert("model_id".into(), Value::Null);
    m.insert("created_at".into(), json!(format_iso(t.created_at)));
    m.insert("updated_at".into(), json!(format_iso(t.updated_at)));
    m
}

fn member_ids(members: &Value, role: Option<&str>) -> Vec<Value> {
    members
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| role.is_none_or(|r| m.get("role").and_then(Value::as_str) == Some(r)))
                .filter_map(|m| m.get("user_id").cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// A spend log row with LiteLLM's field names (`startTime`, `endTime`, `user`, …).
pub fn spend_log_json(r: &SpendLogRow) -> Value {
    json!({
        "request_id": r.request_id,
        "call_type": r.call_type,
        "api_key": r.api_key,
        "spend": r.spend,
        "total_tokens": r.total_tokens,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "startTime": format_iso(r.start_time),
        "endTime": format_iso(r.end_time),
        "completionStartTime": iso_opt(r.completion_start_time),
        "model": r.model,
        "model_id": r.model_id,
        "model_group": r.model_group,
        "custom_llm_provider": r.custom_llm_provider,
        "api_base": r.api_base,
        "user": r.user,
        "metadata": r.metadata,
        "cache_hit": r.cache_hit,
        "cache_key": r.cache_key,
        "request_tags": r.request_tags,
        "team_id": r.team_id,
        "end_user": r.end_user,
        "status": r.status,
    })
}

/// The `x-litellm-key-spend` header value for a spend.
pub fn spend_header(spend: f64) -> String {
    py_float(spend)
}
