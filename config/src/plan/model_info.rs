//! What `GET /model/info`, `GET /model_group/info` and `GET /health` answer,
//! precomputed for the router stage (`ModelInfoConfig` in its plugin config).
//!
//! Shapes follow LiteLLM 1.102.4: `proxy/proxy_server.py` (`model_info_v1`,
//! `_get_proxy_model_info`, `model_group_info` with `types/router.py`'s
//! `ModelGroupInfo`) and `proxy/health_check.py` (`_clean_endpoint_data`,
//! `HEALTH_DISPLAY_PARAMS`). Secrets are removed the way
//! `proxy/common_utils/openai_endpoint_utils.py` `remove_sensitive_info_from_deployment`
//! does — the credential fields dropped, every value under a key whose
//! `_`/`-`-separated segments name a secret masked (`SensitiveDataMasker`) — with two
//! differences, both stricter: a masked value is masked whole (LiteLLM keeps its
//! first and last four characters), and URLs lose their user info
//! (`https://user:pass@host`) and query string (`?key=…`), which LiteLLM shows.

use serde_json::{json, Map, Value};
use switchyard_contract::plugin_config::{HealthProbe, ModelInfoConfig};

use super::PlannedDeployment;
use crate::litellm::{Config, ConfigError, ModelEntry};

/// `litellm_params` LiteLLM pops before masking (`remove_sensitive_info_from_deployment`).
const REMOVED_PARAMS: [&str; 6] = [
    "api_key",
    "client_secret",
    "vertex_credentials",
    "vertex_ai_credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
];

/// `SensitiveDataMasker`'s `_DEFAULT_SENSITIVE_PATTERNS`: a key with one of these as a
/// segment holds a secret.
const SENSITIVE_SEGMENTS: [&str; 14] = [
    "password",
    "secret",
    "key",
    "token",
    "auth",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "access",
    "private",
    "certificate",
    "fingerprint",
    "tenancy",
];

/// Keys never masked: LiteLLM's `excluded_keys` (`litellm_credential_name`, the
/// rate-limit defaults).
const NOT_SECRET: [&str; 3] = [
    "litellm_credential_name",
    "default_api_key_tpm_limit",
    "default_api_key_rpm_limit",
];

/// `HEALTH_DISPLAY_PARAMS`: the `litellm_params` a `/health` endpoint shows.
const HEALTH_DISPLAY_PARAMS: [&str; 17] = [
    "model",
    "mode_error",
    "api_base",
    "api_version",
    "aws_bedrock_runtime_endpoint",
    "custom_llm_provider",
    "mode",
    "base_model",
    "aws_region_name",
    "region_name",
    "watsonx_region_name",
    "vertex_project",
    "vertex_location",
    "tpm",
    "rpm",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
];

/// LiteLLM's `HEALTH_CHECK_TIMEOUT_SECONDS` default.
const DEFAULT_HEALTH_CHECK_TIMEOUT_SECS: f64 = 60.0;

/// The environment variable LiteLLM reads for its default probe timeout.
pub const HEALTH_CHECK_TIMEOUT_ENV: &str = "HEALTH_CHECK_TIMEOUT_SECONDS";

/// The Envoy cluster a deployment's `/health` probe goes to: it reaches that
/// deployment alone, through the upstream stage (rendered beside the route clusters).
pub fn probe_cluster_name(dep: &PlannedDeployment) -> String {
    format!("health_{}", dep.name)
}

/// Whether a key names a secret (`SensitiveDataMasker.is_sensitive_key`: any
/// segment a sensitive pattern, none `cost`).
pub fn is_sensitive_key(key: &str) -> bool {
    if NOT_SECRET.contains(&key) {
        return false;
    }
    let lower = key.to_ascii_lowercase().replace('-', "_");
    let segments: Vec<&str> = lower.split('_').collect();
    !segments.contains(&"cost") && segments.iter().any(|s| SENSITIVE_SEGMENTS.contains(s))
}

/// A URL without user info, query string or fragment; other text as it is.
pub fn strip_url_secrets(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return text.to_string();
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

/// Masks a value under a sensitive key, whole.
fn mask(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect())
        }
        Value::String(s) => Value::String("*".repeat(s.chars().count().clamp(1, 16))),
        other => Value::String("*".repeat(other.to_string().len().clamp(1, 16))),
    }
}

/// `value` with every secret masked (by key) and every URL stripped.
fn scrub(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_sensitive_key(k) {
                        mask(v)
                    } else {
                        scrub(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::String(s) => Value::String(strip_url_secrets(s)),
        other => other.clone(),
    }
}

/// A deployment's `litellm_params` as `/model/info` shows them: credentials dropped,
/// secrets masked, URLs stripped.
pub fn public_params(entry: &ModelEntry) -> Value {
    let mut params = match serde_json::to_value(&entry.litellm_params) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for key in REMOVED_PARAMS {
        params.remove(key);
    }
    scrub(&Value::Object(params))
}

/// `MINIMAL_DISPLAY_PARAMS`: what an endpoint shows with `health_check_details: false`.
const MINIMAL_DISPLAY_PARAMS: [&str; 2] = ["model", "mode_error"];

/// The `/health` endpoint entry of a deployment (`_clean_endpoint_data`, and
/// `model_id`).
fn health_endpoint(params: &Value, id: &str, details: bool) -> Value {
    let displayed: &[&str] = if details {
        &HEALTH_DISPLAY_PARAMS
    } else {
        &MINIMAL_DISPLAY_PARAMS
    };
    let mut shown = Map::new();
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            if displayed.contains(&k.as_str()) {
                shown.insert(k.clone(), v.clone());
            }
        }
    }
    shown.insert("model_id".into(), Value::String(id.to_string()));
    Value::Object(shown)
}

/// A probe's timeout: `model_info.health_check_timeout` (seconds, strictly
/// positive), else `HEALTH_CHECK_TIMEOUT_SECONDS`, else 60 s.
fn probe_timeout_ms(
    entry: &ModelEntry,
    index: usize,
    default_secs: f64,
    file: &str,
) -> Result<u64, ConfigError> {
    let secs = match entry.model_info.other.get("health_check_timeout") {
        None | Some(serde_yaml::Value::Null) => default_secs,
        Some(v) => v
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                ConfigError::at(
                    file,
                    format!("model_list[{index}].model_info.health_check_timeout"),
                    format!(
                        "must be a positive number of seconds, not {}",
                        crate::litellm::py_str(v)
                    ),
                )
            })?,
    };
    Ok((secs * 1000.0).round() as u64)
}

/// The default probe timeout: `HEALTH_CHECK_TIMEOUT_SECONDS` when set (a positive
/// number), else LiteLLM's 60 s.
fn default_timeout_secs(
    lookup: &dyn Fn(&str) -> Option<String>,
    file: &str,
) -> Result<f64, ConfigError> {
    match lookup(HEALTH_CHECK_TIMEOUT_ENV) {
        None => Ok(DEFAULT_HEALTH_CHECK_TIMEOUT_SECS),
        Some(v) if v.trim().is_empty() => Ok(DEFAULT_HEALTH_CHECK_TIMEOUT_SECS),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                ConfigError::at(
                    file,
                    HEALTH_CHECK_TIMEOUT_ENV,
                    format!(
                        "the environment variable must be a positive number of seconds, not {v:?}"
                    ),
                )
            }),
    }
}

/// One deployment as the info endpoints know it.
struct Shown<'a> {
    entry: &'a ModelEntry,
    index: usize,
    id: String,
    provider: Option<&'static str>,
    pricing: Option<(f64, f64)>,
    cluster: Option<String>,
}

/// Builds the info answers and probes for the served deployments (`deployments`)
/// and the mock ones (`mock_groups`: groups answered by the gateway itself).
pub fn build(
    config: &Config,
    deployments: &[PlannedDeployment],
    mock_groups: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ModelInfoConfig, ConfigError> {
    let file = config.file_name.as_str();
    let default_secs = default_timeout_secs(lookup, file)?;
    let details = config.general_settings.health_check_details != Some(false);
    let mut shown: Vec<Shown<'_>> = Vec::new();
    for (index, entry) in config.model_list.iter().enumerate() {
        let planned: Vec<&PlannedDeployment> = deployments
            .iter()
            .filter(|d| d.entry_index == index)
            .collect();
        for dep in &planned {
            shown.push(Shown {
                entry,
                index,
                id: dep.upstream.deployment_id.clone(),
                provider: Some(dep.upstream.provider.as_str()),
                pricing: dep
                    .upstream
                    .pricing
                    .as_ref()
                    .map(|p| (p.input_cost_per_token, p.output_cost_per_token)),
                cluster: Some(probe_cluster_name(dep)),
            });
        }
        if planned.is_empty()
            && entry.litellm_params.mock_response.is_some()
            && mock_groups.contains(&entry.model_name.as_str())
        {
            shown.push(Shown {
                entry,
                index,
                id: entry.model_info.id.clone().unwrap_or_else(|| {
                    super::deployment_id::litellm_deployment_id(
                        &entry.model_name,
                        &entry.litellm_params,
                    )
                }),
                provider: None,
                pricing: None,
                cluster: None,
            });
        }
    }

    let mut info = ModelInfoConfig::default();
    for s in &shown {
        let params = public_params(s.entry);
        info.deployments.push(model_info_entry(s, &params));
        if s.entry.model_name.contains('*') {
            // A wildcard deployment serves whatever model matches: no model to
            // probe (LiteLLM's `ahealth_check_wildcard_models` picks one it knows).
            continue;
        }
        info.probes.push(HealthProbe {
            deployment_id: s.id.clone(),
            cluster: s.cluster.clone(),
            model: s.entry.model_name.clone(),
            mode: s
                .entry
                .model_info
                .mode
                .clone()
                .unwrap_or_else(|| "chat".into()),
            timeout_ms: probe_timeout_ms(s.entry, s.index, default_secs, file)?,
            endpoint: health_endpoint(&params, &s.id, details),
        });
    }
    let mut groups: Vec<&str> = Vec::new();
    for s in &shown {
        let name = s.entry.model_name.as_str();
        if !groups.contains(&name) && !name.contains('*') {
            groups.push(name);
        }
    }
    for group in groups {
        let members: Vec<&Shown<'_>> = shown
            .iter()
            .filter(|s| s.entry.model_name == group)
            .collect();
        info.groups.push(model_group_entry(group, &members));
    }
    Ok(info)
}

/// One `/model/info` entry: `model_name`, `litellm_params`, and `model_info` (the
/// config's, plus `id`, `db_model` and what Switchyard knows of the model).
fn model_info_entry(s: &Shown<'_>, params: &Value) -> Value {
    let mut model_info = match serde_json::to_value(&s.entry.model_info) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    model_info.insert("id".into(), json!(s.id));
    model_info.insert("db_model".into(), json!(false));
    let mut put = |k: &str, v: Value| {
        model_info.entry(k.to_string()).or_insert(v);
    };
    put("mode", json!(s.entry.model_info.mode));
    put("max_tokens", Value::Null);
    put("max_input_tokens", Value::Null);
    put("max_output_tokens", Value::Null);
    put("input_cost_per_token", json!(s.pricing.map(|p| p.0)));
    put("output_cost_per_token", json!(s.pricing.map(|p| p.1)));
    put("litellm_provider", json!(s.provider));
    json!({
        "model_name": s.entry.model_name,
        "litellm_params": params,
        "model_info": scrub(&Value::Object(model_info)),
    })
}

/// A `model_info` flag (`supports_vision: true`) of any member.
fn any_flag(members: &[&Shown<'_>], flag: &str) -> bool {
    members
        .iter()
        .any(|s| s.entry.model_info.other.get(flag) == Some(&serde_yaml::Value::Bool(true)))
}

/// The first member's value of a `model_info` number.
fn first_number(members: &[&Shown<'_>], pick: impl Fn(&Shown<'_>) -> Option<f64>) -> Value {
    members
        .iter()
        .find_map(|s| pick(s))
        .map_or(Value::Null, |n| json!(n))
}

/// One `/model_group/info` entry (`ModelGroupInfo`'s fields, in its order).
fn model_group_entry(group: &str, members: &[&Shown<'_>]) -> Value {
    let mut providers: Vec<&str> = Vec::new();
    for p in members.iter().filter_map(|s| s.provider) {
        if !providers.contains(&p) {
            providers.push(p);
        }
    }
    let sum = |pick: fn(&Shown<'_>) -> Option<u64>| -> Value {
        let values: Vec<u64> = members.iter().filter_map(|s| pick(s)).collect();
        if values.is_empty() {
            Value::Null
        } else {
            json!(values.iter().fold(0u64, |a, b| a.saturating_add(*b)))
        }
    };
    let mode = members
        .iter()
        .find_map(|s| s.entry.model_info.mode.clone())
        .unwrap_or_else(|| "chat".into());
    json!({
        "model_group": group,
        "providers": providers,
        "max_input_tokens": first_number(members, |s| s.entry.model_info.max_input_tokens.map(|n| n as f64)),
        "max_output_tokens": first_number(members, |s| s.entry.model_info.max_output_tokens.map(|n| n as f64)),
        "input_cost_per_token": first_number(members, |s| s.entry.model_info.input_cost_per_token.or(s.pricing.map(|p| p.0))),
        "output_cost_per_token": first_number(members, |s| s.entry.model_info.output_cost_per_token.or(s.pricing.map(|p| p.1))),
        "input_cost_per_pixel": null,
        "mode": mode,
        "tpm": sum(|s| s.entry.litellm_params.tpm),
        "rpm": sum(|s| s.entry.litellm_params.rpm),
        "itpm": null,
        "otpm": null,
        "supports_parallel_function_calling": any_flag(members, "supports_parallel_function_calling"),
        "supports_vision": any_flag(members, "supports_vision"),
        "supports_web_search": any_flag(members, "supports_web_search"),
        "supports_url_context": any_flag(members, "supports_url_context"),
        "supports_reasoning": any_flag(members, "supports_reasoning"),
        "supports_function_calling": any_flag(members, "supports_function_calling"),
        "supported_reasoning_efforts": null,
        "supported_openai_params": [],
        "configurable_clientside_auth_params": null,
    })
}

#[cfg(test)]
#[path = "model_info_tests.rs"]
mod tests;
