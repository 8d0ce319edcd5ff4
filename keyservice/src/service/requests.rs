//! The bodies and query strings of LiteLLM's management calls, parsed and
//! validated: key, user and team requests, spend times and token counts.

use super::*;

/// `/key/generate`, `/key/update` and `/key/regenerate` bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct KeyRequest {
    pub(super) key: Option<String>,
    pub(super) new_key: Option<String>,
    pub(super) models: Option<Vec<String>>,
    pub(super) aliases: Option<Map<String, Value>>,
    pub(super) duration: Option<String>,
    pub(super) key_alias: Option<String>,
    pub(super) max_budget: Option<f64>,
    pub(super) soft_budget: Option<f64>,
    pub(super) budget_duration: Option<String>,
    pub(super) spend: Option<f64>,
    pub(super) rpm_limit: Option<i64>,
    pub(super) tpm_limit: Option<i64>,
    pub(super) max_parallel_requests: Option<i64>,
    pub(super) metadata: Option<Map<String, Value>>,
    pub(super) user_id: Option<String>,
    pub(super) team_id: Option<String>,
    pub(super) blocked: Option<bool>,
    #[serde(flatten)]
    pub(super) rest: Map<String, Value>,
}

impl KeyRequest {
    pub(super) fn validate(&self) -> Result<(), ApiError> {
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
    pub(super) fn apply(&self, k: &mut KeyRecord, now: i64) -> Result<(), ApiError> {
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
pub(super) struct UserRequest {
    pub(super) user_id: Option<String>,
    pub(super) user_alias: Option<String>,
    pub(super) user_email: Option<String>,
    pub(super) user_role: Option<String>,
    pub(super) teams: Option<Vec<String>>,
    pub(super) models: Option<Vec<String>>,
    pub(super) max_budget: Option<f64>,
    pub(super) budget_duration: Option<String>,
    pub(super) tpm_limit: Option<i64>,
    pub(super) rpm_limit: Option<i64>,
    pub(super) max_parallel_requests: Option<i64>,
    pub(super) metadata: Option<Map<String, Value>>,
    pub(super) auto_create_key: bool,
    pub(super) key_alias: Option<String>,
    pub(super) duration: Option<String>,
    pub(super) aliases: Option<Map<String, Value>>,
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
pub(super) struct TeamRequest {
    pub(super) team_id: Option<String>,
    pub(super) team_alias: Option<String>,
    pub(super) members_with_roles: Option<Value>,
    pub(super) max_budget: Option<f64>,
    pub(super) budget_duration: Option<String>,
    pub(super) models: Option<Vec<String>>,
    pub(super) tpm_limit: Option<i64>,
    pub(super) rpm_limit: Option<i64>,
    pub(super) max_parallel_requests: Option<i64>,
    pub(super) blocked: Option<bool>,
    pub(super) metadata: Option<Map<String, Value>>,
}

/// A time in a spend report ([`SpendTime`]): ISO-8601 text or epoch seconds.
pub(super) fn time_value(name: &str, v: &Option<SpendTime>) -> Result<Option<i64>, ApiError> {
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
pub(super) fn token_count(name: &str, v: u64) -> Result<i64, ApiError> {
    i64::try_from(v)
        .map_err(|_| ApiError::bad_request(format!("{name} is too large")).with_param(name))
}

pub(super) fn query_bool(
    q: &BTreeMap<String, String>,
    name: &str,
    default: bool,
) -> Result<bool, ApiError> {
    match q.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(default),
        Some(s) if s == "true" || s == "1" => Ok(true),
        Some(s) if s == "false" || s == "0" => Ok(false),
        Some(_) => {
            Err(ApiError::bad_request(format!("{name} must be true or false")).with_param(name))
        }
    }
}

pub(super) fn query_int(
    q: &BTreeMap<String, String>,
    name: &str,
    default: i64,
) -> Result<i64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_request(format!("{name} must be an integer")).with_param(name)
        }),
    }
}

pub(super) fn non_empty(q: &BTreeMap<String, String>, name: &str) -> Option<String> {
    q.get(name).filter(|s| !s.is_empty()).cloned()
}
