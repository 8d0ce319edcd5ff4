//! The LiteLLM proxy `config.yaml`: its serde model, loading and validation.
//!
//! Switchyard promises LiteLLM users that their `config.yaml` keeps working, so this
//! module reads the file the way LiteLLM does and is loud about everything it does not
//! (yet) act on: a key LiteLLM knows but Switchyard ignores becomes a [`Warning`],
//! never a silent no-op and never a crash. A key LiteLLM would not know at the top level
//! (a typo) is an error.
//!
//! Loading happens in steps, each with its own kind of error message:
//!
//! 1. YAML syntax, reported as `file:line:col: message`;
//! 2. top-level keys, with a "did you mean" hint;
//! 3. the typed parse (serde), reported with the YAML path and `file:line:col`;
//! 4. [`Config::validate`]: rules serde cannot express, reported as
//!    `file: model_list[2].litellm_params.model: expected …`;
//! 5. `os.environ/NAME` resolution for the settings the CLI itself resolves
//!    ([`Config::resolve_env`]).
//!
//! `os.environ/NAME` in a deployment's `api_key`, `api_base` and `api_version` is *not*
//! resolved here: those become [`switchyard_contract::plugin_config::Setting::Env`] so the
//! filter reads them inside Envoy and secrets never reach a rendered file (see
//! `crate::plan`, which also resolves the other `litellm_params` values).
//!
//! The schema is split by section: `model_list` entries and `credential_list` in
//! `model_list`, `litellm_settings`, `router_settings` and `general_settings` in
//! `settings`; loading (YAML, top-level keys, merge keys) in `load`, `os.environ/`
//! resolution in `env`, Python's way of printing values in `python`, and the error and
//! warning types in `errors`.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_yaml::Value;

mod env;
mod errors;
pub mod includes;
mod load;
mod model_list;
mod python;
mod settings;
#[cfg(test)]
mod test_support;

pub use env::{check_env_name, env_ref, resolve_string};
pub use errors::{ConfigError, Warning};
pub use load::{load, parse_str};
pub use model_list::{
    Credential, LitellmParams, ModelEntry, ModelInfo, Organization, SourceMapping,
};
pub use python::{py_float, py_str};
pub use settings::{
    AliasDetail, AliasTarget, FallbackList, GeneralSettings, LitellmSettings, ModelGroupSettings,
    RouterSettings, ROUTING_STRATEGIES,
};

use python::py_repr;

/// How the environment is read: `lookup("NAME")` is the variable's value, if set.
/// Injected so that tests (and `render` on a build machine) control it.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The prefix LiteLLM uses for "read this value from the environment".
pub const ENV_PREFIX: &str = "os.environ/";

/// The top-level keys of a LiteLLM `config.yaml`.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "model_list",
    "litellm_settings",
    "router_settings",
    "general_settings",
    "environment_variables",
    "credential_list",
];

/// The other top-level sections LiteLLM 1.108.14 reads (`ProxyConfig.load_config` and
/// what it calls, `proxy/proxy_server.py`): accepted, warned about, not applied.
pub const UNAPPLIED_SECTIONS: &[&str] = &[
    "callback_settings",
    "guardrails",
    "prompts",
    "mcp_servers",
    "mcp_tools",
    "agents",
    "agent_list",
    "vector_store_registry",
    "worker_registry",
    "policies",
    "policy_attachments",
    "search_tools",
    "sandbox_tools",
    "finetune_settings",
    "files_settings",
    "default_vertex_config",
    "assistant_settings",
];

/// The usual message for a setting that is known but not implemented.
const NOT_SUPPORTED: &str = "not applied by Switchyard yet; ignored";

/// Whether `name` matches `pattern`, where `*` in the pattern matches any run of
/// characters (LiteLLM's wildcard `model_name`s: `*`, `openai/*`, `fo::*:static::*`).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    // `first*middle*…*last`; without a `*` the pattern is the name itself.
    let Some((first, after_first)) = parts.split_first() else {
        return pattern == name;
    };
    let Some((last, middle)) = after_first.split_last() else {
        return pattern == name;
    };
    if name.len() < first.len() + last.len() {
        return false;
    }
    let Some(mut rest) = name
        .strip_prefix(first)
        .and_then(|rest| rest.strip_suffix(last))
    else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

/// A LiteLLM proxy `config.yaml`. (Top-level keys are checked before the typed parse,
/// see `check_top_level_keys`: LiteLLM's other sections are warned about and skipped
/// here.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `model_list`: the deployments. Entries that share a `model_name` form one
    /// load-balanced model group.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub model_list: Vec<ModelEntry>,
    /// `litellm_settings`: module-level settings of the LiteLLM library.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub litellm_settings: LitellmSettings,
    /// `router_settings`: LiteLLM's router (load balancing, retries, aliases).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub router_settings: RouterSettings,
    /// `general_settings`: the proxy server (auth, database, limits).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub general_settings: GeneralSettings,
    /// `environment_variables`: variables LiteLLM writes into its environment at load.
    /// Switchyard uses them as values for variables that are not set (the real
    /// environment wins, as with LiteLLM's `get_secret(key, default_value=value)`).
    /// After [`load`], `os.environ/` values in here are resolved.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment_variables: IndexMap<String, Value>,
    /// `credential_list`: named credential sets a deployment references with
    /// `litellm_params.litellm_credential_name`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credential_list: Vec<Credential>,
    /// The name of the file the config was read from, for messages. Not part of the YAML.
    #[serde(skip)]
    pub file_name: String,
}

impl Config {
    /// Checks the rules serde cannot express and returns the config-level warnings:
    /// every setting Switchyard knows but does not act on yet.
    pub fn validate(&self) -> Result<Vec<Warning>, ConfigError> {
        let mut warnings = Vec::new();
        self.validate_model_list(&mut warnings)?;
        self.validate_credentials(&mut warnings)?;
        self.litellm_settings
            .validate(&self.file_name, &mut warnings)?;
        self.router_settings
            .validate(&self.file_name, &self.model_list, &mut warnings)?;
        self.general_settings
            .validate(&self.file_name, &mut warnings)?;
        self.validate_environment_variables(&mut warnings)?;
        Ok(warnings)
    }
}

/// Reads an absent or `null` value (`litellm_settings:` with everything commented out)
/// as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A flag the way LiteLLM reads `drop_params` (`drop_params_flag` in
/// `litellm_core_utils/core_helpers.py`: pydantic's lax booleans): `true`/`false`,
/// `1`/`0`, and the strings `yes`/`no`, `on`/`off`, `y`/`n`, `t`/`f`, `true`/`false`,
/// `1`/`0` in any case. LiteLLM takes anything else as off with a warning; here it is
/// an error naming the value.
fn litellm_flag<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    let flag = match &value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        Some(_) => None,
    };
    flag.map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "drop_params: expected a flag (true/false, yes/no, on/off, 1/0), got {}",
            value.as_ref().map(py_repr).unwrap_or_default()
        ))
    })
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::*;

    #[test]
    fn drop_params_takes_litellms_flag_forms() {
        // LiteLLM's drop_params_flag: pydantic's lax booleans.
        for (written, flag) in [
            ("True", true),
            ("false", false),
            ("\"yes\"", true),
            ("\"off\"", false),
            ("1", true),
            ("0", false),
            ("\" TRUE \"", true),
        ] {
            let text = format!("litellm_settings:\n  drop_params: {written}\nmodel_list:\n  - model_name: a\n    litellm_params: {{model: openai/a, drop_params: {written}}}\n");
            let (config, _) = parse(&text).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(config.litellm_settings.drop_params, Some(flag), "{written}");
            assert_eq!(config.model_list[0].litellm_params.drop_params, Some(flag));
        }
        let e = err("litellm_settings:\n  drop_params: sometimes\n");
        assert!(
            e.starts_with("config.yaml:2:3: litellm_settings: drop_params: expected a flag (true/false, yes/no, on/off, 1/0), got 'sometimes'"),
            "{e}"
        );
    }

    #[test]
    fn wildcards_match() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("openai/*", "openai/gpt-4o"));
        assert!(!wildcard_match("openai/*", "anthropic/claude"));
        assert!(wildcard_match("fo::*:static::*", "fo::hi:static::there"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(wildcard_match("a*b*c", "abc"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("**", ""));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("exact", "exact"));
    }
}
