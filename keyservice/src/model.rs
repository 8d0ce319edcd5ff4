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
    /// `sha256(key)` in hex: the row's identity; the plaintext key is never stored.
    pub token: String,
    /// The key's display name, `sk-...` and its last four characters.
    pub key_name: String,
    /// A name the admin chose for the key (`/key/list` can filter on it).
    pub key_alias: Option<String>,
    /// Allowed model names; empty = all.
    pub models: Vec<String>,
    /// Requested model → model it is served by, for this key.
    pub aliases: Map<String, Value>,
    /// The most the key may spend (USD) per budget period; `None` = no limit.
    pub max_budget: Option<f64>,
    /// Spend (USD) past which LiteLLM would alert; stored and shown, not enforced.
    pub soft_budget: Option<f64>,
    /// How often `spend` resets (`30s`, `1h`, `7d`, …); `None` = never.
    pub budget_duration: Option<String>,
    /// When `spend` next resets (epoch ms), set from `budget_duration`.
    pub budget_reset_at: Option<i64>,
    /// What the key has spent (USD) since its budget last reset.
    pub spend: f64,
    /// Requests per minute the key may make.
    pub rpm_limit: Option<i64>,
    /// Tokens (prompt and completion) per minute the key may use.
    pub tpm_limit: Option<i64>,
    /// Requests of the key that may be in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// Free-form JSON the admin attached to the key, echoed back as given.
    pub metadata: Map<String, Value>,
    /// The internal user the key belongs to; its budget and limits apply too.
    pub user_id: Option<String>,
    /// The team the key belongs to; its budget, limits and models apply too.
    pub team_id: Option<String>,
    /// A blocked key is refused by the check until unblocked.
    pub blocked: bool,
    /// When the key stops working (epoch ms); `None` = never.
    pub expires: Option<i64>,
    /// LiteLLM fields stored and echoed but not enforced yet (`allowed_cache_controls`,
    /// `config`, `permissions`, `model_max_budget`, `tags`, …).
    pub extra: Map<String, Value>,
    /// When the row was created (epoch ms).
    pub created_at: i64,
    /// When the row was last changed (epoch ms).
    pub updated_at: i64,
    /// Who created the key, as LiteLLM's `created_by` shows it.
    pub created_by: Option<String>,
    /// Who changed the key last.
    pub updated_by: Option<String>,
}

/// One internal user (`LiteLLM_UserTable`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserRecord {
    /// The user's id, given by the admin or generated (a UUID).
    pub user_id: String,
    /// A display name for the user.
    pub user_alias: Option<String>,
    /// The user's e-mail address, as given.
    pub user_email: Option<String>,
    /// LiteLLM's role (`proxy_admin`, `internal_user`, …); stored and shown, not enforced.
    pub user_role: Option<String>,
    /// The ids of the teams the user is a member of.
    pub teams: Vec<String>,
    /// Models the user's keys may call; empty = all.
    pub models: Vec<String>,
    /// The most the user may spend (USD) per budget period, over all their keys.
    pub max_budget: Option<f64>,
    /// How often the user's `spend` resets; `None` = never.
    pub budget_duration: Option<String>,
    /// When the user's `spend` next resets (epoch ms).
    pub budget_reset_at: Option<i64>,
    /// What the user's keys have spent (USD) since the budget last reset.
    pub spend: f64,
    /// Requests per minute over all the user's keys.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute over all the user's keys.
    pub tpm_limit: Option<i64>,
    /// Requests of the user's keys that may be in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// Free-form JSON the admin attached to the user.
    pub metadata: Map<String, Value>,
    /// When the row was created (epoch ms).
    pub created_at: i64,
    /// When the row was last changed (epoch ms).
    pub updated_at: i64,
}

/// One team (`LiteLLM_TeamTable`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamRecord {
    /// The team's id, given by the admin or generated (a UUID).
    pub team_id: String,
    /// A display name for the team.
    pub team_alias: Option<String>,
    /// Models the team's keys may call; empty = all.
    pub models: Vec<String>,
    /// `[{"role": "admin"|"user", "user_id": …, "user_email": …}]`
    pub members_with_roles: Value,
    /// The most the team may spend (USD) per budget period, over all its keys.
    pub max_budget: Option<f64>,
    /// How often the team's `spend` resets; `None` = never.
    pub budget_duration: Option<String>,
    /// When the team's `spend` next resets (epoch ms).
    pub budget_reset_at: Option<i64>,
    /// What the team's keys have spent (USD) since the budget last reset.
    pub spend: f64,
    /// Requests per minute over all the team's keys.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute over all the team's keys.
    pub tpm_limit: Option<i64>,
    /// Requests of the team's keys that may be in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// Free-form JSON the admin attached to the team.
    pub metadata: Map<String, Value>,
    /// A blocked team's keys are refused by the check.
    pub blocked: bool,
    /// When the row was created (epoch ms).
    pub created_at: i64,
    /// When the row was last changed (epoch ms).
    pub updated_at: i64,
}

/// One request's spend log row (`LiteLLM_SpendLogs`'s core fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpendLogRow {
    /// The gateway's id of the request; a repeated report with the same id adds nothing.
    pub request_id: String,
    /// What kind of call it was (`acompletion`, `aembedding`, …), LiteLLM's names.
    pub call_type: String,
    /// The key's token hash (never the plaintext key).
    pub api_key: String,
    /// What the request cost (USD).
    pub spend: f64,
    /// Tokens of the prompt, as the provider reported them.
    pub prompt_tokens: i64,
    /// Tokens of the answer, as the provider reported them.
    pub completion_tokens: i64,
    /// Prompt and completion tokens together.
    pub total_tokens: i64,
    /// When the request started (epoch ms).
    pub start_time: i64,
    /// When the answer ended (epoch ms).
    pub end_time: i64,
    /// When the first byte of the answer came (epoch ms), for streams.
    pub completion_start_time: Option<i64>,
    /// The provider's model that answered (`gpt-4o`, `claude-…`).
    pub model: String,
    /// The deployment that answered (LiteLLM's deployment id hash).
    pub model_id: String,
    /// The model group the client asked for (`model_name` in the config).
    pub model_group: String,
    /// The provider (`openai`, `anthropic`, `bedrock`, …).
    pub custom_llm_provider: String,
    /// The upstream address the request went to.
    pub api_base: String,
    /// LiteLLM's `user` column.
    pub user: String,
    /// The key's team at the time of the request.
    pub team_id: Option<String>,
    /// The request's `user` field (the client's end user), empty when not given.
    pub end_user: String,
    /// Metadata kept with the row, shown by `/spend/logs`.
    pub metadata: Value,
    /// `"True"` or `"False"`, as LiteLLM stores it.
    pub cache_hit: String,
    /// LiteLLM's cache key; empty (Switchyard has no response cache).
    pub cache_key: String,
    /// The request's tags, a JSON array.
    pub request_tags: Value,
    /// `"success"` or `"failure"`.
    pub status: String,
}

/// Which kind of record a budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A virtual key's budget.
    Key,
    /// An internal user's budget.
    User,
    /// A team's budget.
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
