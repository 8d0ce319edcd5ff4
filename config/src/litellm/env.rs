//! `os.environ/NAME` values: recognising and checking them, resolving the settings the
//! CLI resolves itself, and `environment_variables` as defaults for variables that are
//! not set (the real environment wins, as with LiteLLM's `get_secret`).

use serde_yaml::Value;

use super::python::py_str;
use super::{Config, ConfigError, EnvLookup, Warning, ENV_PREFIX};

/// The variable name in an `os.environ/NAME` value, or `None` for a literal value.
pub fn env_ref(value: &str) -> Option<&str> {
    value.strip_prefix(ENV_PREFIX)
}

impl Config {
    pub(super) fn validate_environment_variables(
        &self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        for (name, value) in &self.environment_variables {
            let p = format!("environment_variables.{name}");
            match value {
                Value::Null => warnings.push(Warning::new(p, "has no value; ignored")),
                Value::String(s) => check_env_name(&self.file_name, &p, s)?,
                Value::Bool(_) | Value::Number(_) => {}
                _ => {
                    return Err(ConfigError::at(
                        &self.file_name,
                        p,
                        "expected a string, a number or a boolean",
                    ))
                }
            }
        }
        Ok(())
    }

    /// The value `environment_variables` gives `name`, as LiteLLM would put it in the
    /// environment (`str(value)`).
    pub fn env_default(&self, name: &str) -> Option<String> {
        match self.environment_variables.get(name)? {
            Value::Null => None,
            value => Some(py_str(value)),
        }
    }

    /// Every `environment_variables` value, stringified (see [`Config::env_default`]).
    pub fn env_defaults(&self) -> std::collections::BTreeMap<String, String> {
        self.environment_variables
            .keys()
            .filter_map(|k| Some((k.clone(), self.env_default(k)?)))
            .collect()
    }

    /// Resolves `os.environ/NAME` in the settings the CLI resolves itself:
    /// `environment_variables` values (from `env` only), then `general_settings`
    /// `master_key` and `database_url` (from `env`, falling back to
    /// `environment_variables`). A missing variable is an error naming it and the
    /// field. Settings Switchyard does not apply (`cache_params`, `redis_*`, callback
    /// settings, …) are left unresolved, so a variable nothing will use cannot fail the
    /// load.
    pub fn resolve_env(&mut self, env: EnvLookup<'_>) -> Result<Vec<Warning>, ConfigError> {
        let file = self.file_name.clone();
        let warnings = Vec::new();
        for (name, value) in self.environment_variables.iter_mut() {
            if let Value::String(s) = value {
                *s = resolve_string(&file, &format!("environment_variables.{name}"), s, env)?;
            }
        }
        let defaults = self.env_defaults();
        let lookup = |name: &str| env(name).or_else(|| defaults.get(name).cloned());

        let general = &mut self.general_settings;
        general.master_key_env = general
            .master_key
            .as_deref()
            .and_then(env_ref)
            .map(str::to_string);
        resolve_opt(
            &file,
            "general_settings.master_key",
            &mut general.master_key,
            &lookup,
        )?;
        resolve_opt(
            &file,
            "general_settings.database_url",
            &mut general.database_url,
            &lookup,
        )?;
        Ok(warnings)
    }
}

/// Resolves one `os.environ/NAME` string (a literal is returned as is).
pub fn resolve_string(
    file: &str,
    path: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match env_ref(value) {
        None => Ok(value.to_string()),
        Some(name) => {
            check_env_name(file, path, value)?;
            lookup(name).ok_or_else(|| {
                ConfigError::at(
                    file,
                    path,
                    format!("environment variable {name} is not set ({ENV_PREFIX}{name})"),
                )
            })
        }
    }
}

fn resolve_opt(
    file: &str,
    path: &str,
    value: &mut Option<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = value {
        *v = resolve_string(file, path, v, lookup)?;
    }
    Ok(())
}

/// Rejects `os.environ/` with no or an impossible variable name.
pub fn check_env_name(file: &str, path: &str, value: &str) -> Result<(), ConfigError> {
    let Some(name) = env_ref(value) else {
        return Ok(());
    };
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::at(
            file,
            path,
            format!("{value:?} does not name an environment variable (expected {ENV_PREFIX}NAME, NAME made of letters, digits and _)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn env_resolution_for_settings() {
        let text = "model_list: []\ngeneral_settings:\n  master_key: os.environ/MY_MASTER\n  database_url: os.environ/DB\nenvironment_variables:\n  DB: postgres://from-config\n";
        let env = |name: &str| (name == "MY_MASTER").then(|| "sk-real".to_string());
        let (config, warnings) = parse_str(text, "c.yaml", &env).unwrap();
        assert_eq!(
            config.general_settings.master_key.as_deref(),
            Some("sk-real")
        );
        assert_eq!(
            config.general_settings.database_url.as_deref(),
            Some("postgres://from-config"),
            "environment_variables fill unset variables"
        );
        // Applied now (the keyservice enforces them): no "not enforced" warning.
        assert!(!warned(&warnings, "general_settings.master_key"));
        assert!(!warned(&warnings, "general_settings.database_url"));

        let e = parse_str(text, "c.yaml", &no_env).unwrap_err().to_string();
        assert_eq!(
            e,
            "c.yaml: general_settings.master_key: environment variable MY_MASTER is not set (os.environ/MY_MASTER)"
        );
    }

    #[test]
    fn real_environment_wins_over_environment_variables() {
        let text = "environment_variables:\n  MY_DB: postgres://from-config\n  MY_MASTER: sk-from-config\ngeneral_settings:\n  database_url: os.environ/MY_DB\n  master_key: os.environ/MY_MASTER\n";
        let env = |name: &str| (name == "MY_DB").then(|| "postgres://from-env".to_string());
        let (config, _) = parse_str(text, "c.yaml", &env).unwrap();
        let general = &config.general_settings;
        assert_eq!(general.database_url.as_deref(), Some("postgres://from-env"));
        assert_eq!(general.master_key.as_deref(), Some("sk-from-config"));
        assert_eq!(
            config.env_default("MY_MASTER").as_deref(),
            Some("sk-from-config")
        );
    }

    #[test]
    fn settings_switchyard_does_not_apply_are_not_resolved() {
        // LiteLLM's prod.md: Redis for the router and the cache from os.environ/. Neither
        // is applied, so an unset variable is no reason to refuse the config.
        let text = "router_settings:\n  redis_host: os.environ/REDIS_HOST\n  redis_port: os.environ/REDIS_PORT\nlitellm_settings:\n  cache: True\n  cache_params:\n    type: redis\n    host: os.environ/REDIS_HOST\n";
        let (config, warnings) = parse(text).unwrap();
        assert_eq!(
            config.router_settings.redis_host,
            Some(Value::from("os.environ/REDIS_HOST"))
        );
        for path in [
            "router_settings.redis_host",
            "router_settings.redis_port",
            "litellm_settings.cache",
            "litellm_settings.cache_params",
        ] {
            assert!(warned(&warnings, path), "{path}: {warnings:?}");
        }
    }

    #[test]
    fn bad_env_reference_is_an_error() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/\n");
        assert!(e.contains("model_list[0].litellm_params.api_key"), "{e}");
        assert!(e.contains("does not name an environment variable"), "{e}");
    }

    #[test]
    fn litellm_master_key_from_env_is_not_warned_any_more() {
        let env = |name: &str| (name == "LITELLM_MASTER_KEY").then(|| "sk-x".to_string());
        let (_, warnings) = parse_str("model_list: []\n", "c.yaml", &env).unwrap();
        assert!(!warned(&warnings, "LITELLM_MASTER_KEY"));
    }
}
