//! A deployment's connection settings: `api_base`, `api_key` and `api_version` from
//! `litellm_params` or its `litellm_credential_name`, the key LiteLLM would read from
//! the environment when there is none, and `os.environ/NAME` kept deferred for the
//! filter (secrets never reach a rendered file).

use switchyard_contract::plugin_config::Setting;
use switchyard_contract::providers::ProviderKind;

use super::presets::{client_default, preset, KeyWithOwnBase};
use super::target::Target;
use super::Compiler;
use crate::litellm::{check_env_name, env_ref, py_str, ConfigError, LitellmParams};

/// A deployment's connection settings as written: (value, config path) each, from
/// `litellm_params`, else from the credential the entry names.
pub(super) struct Connection {
    pub(super) api_base: Option<(String, String)>,
    pub(super) api_key: Option<(String, String)>,
    pub(super) api_version: Option<(String, String)>,
    /// The entry names a credential of `credential_list`.
    pub(super) has_credential: bool,
}

impl Compiler<'_> {
    /// Connection settings, from litellm_params or the named credential (values in
    /// `litellm_params` win).
    pub(super) fn connection(&self, p: &str, lp: &LitellmParams) -> Connection {
        let credential = lp
            .litellm_credential_name
            .as_deref()
            .and_then(|name| self.config.credential(name));
        let from_credential = |key: &str| -> Option<(String, String)> {
            let cred = credential?;
            let value = cred.credential_values.get(key)?;
            let i = self
                .config
                .credential_list
                .iter()
                .position(|c| c.credential_name == cred.credential_name)
                .unwrap_or(0);
            Some((
                py_str(value),
                format!("credential_list[{i}].credential_values.{key}"),
            ))
        };
        let field = |key: &str, value: &Option<String>| -> Option<(String, String)> {
            value
                .clone()
                .map(|v| (v, format!("{p}.litellm_params.{key}")))
                .or_else(|| from_credential(key))
        };
        Connection {
            api_base: field("api_base", &lp.api_base),
            api_key: field("api_key", &lp.api_key),
            api_version: field("api_version", &lp.api_version),
            has_credential: credential.is_some(),
        }
    }

    /// The key the filter sends: the entry's `api_key`, else its preset's variables,
    /// else Bedrock's API key variable, else LiteLLM's `OPENAI_API_KEY`,
    /// `ANTHROPIC_API_KEY` or `AZURE_API_KEY`.
    pub(super) fn api_key(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        model_name: &str,
        target: &Target,
        connection: &Connection,
    ) -> Result<Option<Setting>, ConfigError> {
        if let Some((raw, path)) = &connection.api_key {
            return Ok(Some(self.deferred(path, raw, true)?));
        }
        if preset(&target.name).is_some() {
            return self.preset_key(p, &target.name, model_name);
        }
        if target.kind == ProviderKind::Bedrock {
            return Ok(self.bedrock_bearer_key());
        }
        let own_base = lp.api_base.is_none() && !connection.has_credential;
        // LiteLLM reads the provider's variable whatever the api_base
        // (`litellm/main.py`: `api_key or litellm.openai_key or
        // get_secret("OPENAI_API_KEY")`); a server of one's own may need no key,
        // so with an api_base it is used only when it is set.
        let set = |var: &str| (self.lookup)(var).is_some_and(|v| !v.is_empty());
        let default_var = client_default(&target.name).and_then(|d| match d.key_with_own_base {
            KeyWithOwnBase::Always => Some(d.key_env),
            KeyWithOwnBase::WhenSet => (own_base || set(d.key_env)).then_some(d.key_env),
        });
        Ok(default_var.map(|var| {
            self.host_env_keys.insert(var.to_string());
            Setting::Env {
                env: var.to_string(),
            }
        }))
    }

    /// The `api_version` the filter sends, if any.
    pub(super) fn api_version(
        &mut self,
        connection: &Connection,
    ) -> Result<Option<Setting>, ConfigError> {
        match &connection.api_version {
            Some((raw, path)) => Ok(Some(self.deferred(path, raw, false)?)),
            None => Ok(None),
        }
    }

    /// An `api_key`/`api_version` value: `os.environ/NAME` stays for the filter.
    pub(super) fn deferred(
        &mut self,
        path: &str,
        raw: &str,
        secret: bool,
    ) -> Result<Setting, ConfigError> {
        check_env_name(self.file, path, raw)?;
        Ok(match env_ref(raw) {
            Some(name) => {
                self.host_env_keys.insert(name.to_string());
                Setting::Env {
                    env: name.to_string(),
                }
            }
            None => {
                if secret {
                    self.warn(
                        path,
                        "the key is written in the config file and will be copied into the rendered Envoy config; prefer os.environ/NAME",
                    );
                }
                Setting::Literal(raw.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::test_support::*;

    #[test]
    fn credentials_fill_connection_settings() {
        let text = "credential_list:\n  - credential_name: az\n    credential_values:\n      api_key: os.environ/AZ_KEY\n      api_base: https://c.openai.azure.com\n      api_version: \"2024-10-21\"\nmodel_list:\n  - model_name: g\n    litellm_params:\n      model: azure/d\n      litellm_credential_name: az\n";
        let plan = compile_text(text).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AZ_KEY".into()
            })
        );
        assert_eq!(
            up.api_base,
            Setting::Literal("https://c.openai.azure.com".into())
        );
        assert_eq!(up.api_version, Some(Setting::Literal("2024-10-21".into())));
        assert!(!plan.host_env_keys.contains("AZURE_API_KEY"));

        let e = compile_text(&text.replace("https://c.openai.azure.com", "os.environ/AZ_BASE"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: credential_list[0].credential_values.api_base: environment variable AZ_BASE is not set (os.environ/AZ_BASE) (used by model_list[0])"),
            "{e}"
        );
    }

    #[test]
    fn literal_api_key_is_warned() {
        let plan =
            compile_text(&one("      model: openai/gpt-4o\n      api_key: sk-abc\n")).unwrap();
        assert_eq!(
            plan.deployments[0].upstream.api_key,
            Some(Setting::Literal("sk-abc".into()))
        );
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.api_key: the key is written in the config file"
        ));
    }
}
