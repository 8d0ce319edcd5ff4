//! Where a deployment's cluster connects: `api_base` parsing ([`parse_api_base`]), the
//! address of an entry with or without an `api_base` (resolved now for Envoy, kept
//! deferred for the filter when it names a variable), and the Envoy-safe names of
//! deployments.

use switchyard_contract::plugin_config::Setting;
use switchyard_contract::providers::ProviderKind;

pub use super::upstream_address::{parse_api_base, UpstreamAddress};

use super::bedrock::BEDROCK_REGION;
use super::presets::{client_default, preset};
use super::Compiler;
use crate::litellm::{check_env_name, env_ref, ConfigError, LitellmParams};

/// `dep_<index>_<group>`, with everything but `[A-Za-z0-9_.-]` turned into `_` and the
/// group part cut to 40 characters (the index keeps names unique).
pub(super) fn deployment_name(index: usize, group: &str) -> String {
    format!("dep_{index}_{}", sanitize(group))
}

/// Envoy-safe (and file-name-safe) form of a group name, at most 40 characters.
pub(super) fn sanitize(group: &str) -> String {
    group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect()
}

/// What a deployment's address is decided from: its provider, and its `api_base`
/// (value, config path) from `litellm_params` or its credential.
pub(super) struct AddressInputs<'e> {
    pub(super) provider: ProviderKind,
    pub(super) provider_name: &'e str,
    pub(super) model_name: &'e str,
    pub(super) params: &'e LitellmParams,
    pub(super) api_base: Option<(String, String)>,
    pub(super) bedrock_region: Option<&'e str>,
}

impl Compiler<'_> {
    /// The deployment's `api_base` for the filter and where its cluster connects: the
    /// entry's (or its credential's) `api_base`, else the provider's default.
    pub(super) fn address(
        &mut self,
        p: &str,
        inputs: AddressInputs<'_>,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        match inputs.api_base {
            Some((raw, path)) => self.explicit_base(p, inputs.provider, &raw, path),
            None => self.default_base(p, &inputs),
        }
    }

    /// An `api_base` the entry gives: an `os.environ/` one stays deferred for the
    /// filter but is resolved now for Envoy; a literal one gets the provider's
    /// [`api_base_suffix`](switchyard_contract::providers::ProviderDescriptor::api_base_suffix)
    /// (Mistral's `/v1`).
    fn explicit_base(
        &mut self,
        p: &str,
        provider: ProviderKind,
        raw: &str,
        path: String,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        check_env_name(self.file, &path, raw)?;
        let suffix = provider.descriptor().api_base_suffix;
        // A value from credential_list also names the entry that uses it.
        let used_by = if path.starts_with(p) {
            String::new()
        } else {
            format!(" (used by {p})")
        };
        let resolved = match env_ref(raw) {
            Some(name) => {
                self.host_env_keys.insert(name.to_string());
                (self.lookup)(name).ok_or_else(|| {
                    self.error(
                        path.clone(),
                        format!("environment variable {name} is not set (os.environ/{name}){used_by}; Switchyard needs the address when it renders the Envoy config (the filter reads the variable again inside Envoy)"),
                    )
                })?
            }
            None => raw.to_string(),
        };
        let address = parse_api_base(&resolved)
            .map_err(|m| self.error(path.clone(), format!("{m}{used_by}")))?;
        let setting = match env_ref(raw) {
            Some(name) => Setting::Env {
                env: name.to_string(),
            },
            None => {
                let mut base = raw.trim().trim_end_matches('/').to_string();
                if let Some(suffix) = suffix.filter(|s| !base.ends_with(s)) {
                    base.push_str(suffix);
                }
                Setting::Literal(base)
            }
        };
        let address = match &setting {
            Setting::Literal(base) if suffix.is_some() => {
                parse_api_base(base).map_err(|m| self.error(path, m))?
            }
            _ => address,
        };
        Ok((setting, address))
    }

    /// The address of an entry without `api_base`: its preset's, Bedrock's regional
    /// endpoint, `AZURE_API_BASE` for Azure (LiteLLM: `api_base or litellm.api_base or
    /// get_secret("AZURE_API_BASE")`), OpenAI's and Anthropic's APIs; the others need one.
    fn default_base(
        &mut self,
        p: &str,
        inputs: &AddressInputs<'_>,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        let provider = inputs.provider;
        if preset(inputs.provider_name).is_some() {
            return self.preset_base(p, inputs.provider_name, inputs.model_name);
        }
        if provider == ProviderKind::Bedrock {
            let region = inputs.bedrock_region.unwrap_or(BEDROCK_REGION);
            return self.bedrock_base(p, inputs.params, region);
        }
        let defaults = client_default(inputs.provider_name);
        if let Some(var) = defaults.and_then(|d| d.base_env) {
            if self.env_is_set(var) {
                return self.base_from_env(p, var);
            }
        }
        let Some(default) = defaults.and_then(|d| d.base) else {
            let name = inputs.provider_name;
            let hint = defaults
                .and_then(|d| d.missing_base_hint)
                .unwrap_or(" (the server's base URL, e.g. http://vllm:8000/v1)");
            return Err(self.error(
                format!("{p}.litellm_params.api_base"),
                format!(
                    "{name} deployments need an api_base{hint}; model_name {:?}",
                    inputs.model_name
                ),
            ));
        };
        let address = parse_api_base(default)
            .map_err(|m| self.error(format!("{p}.litellm_params.api_base"), m))?;
        Ok((Setting::Literal(default.to_string()), address))
    }

    /// The address in the variable `var` (an entry without `api_base` whose provider
    /// reads one from the environment); kept deferred for the filter, like an
    /// `os.environ/` api_base.
    pub(super) fn base_from_env(
        &mut self,
        p: &str,
        var: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        let value = (self.lookup)(var).unwrap_or_default();
        let address = parse_api_base(&value).map_err(|m| {
            self.error(
                format!("{p}.litellm_params.api_base"),
                format!("{m} (from {var})"),
            )
        })?;
        self.host_env_keys.insert(var.to_string());
        Ok((
            Setting::Env {
                env: var.to_string(),
            },
            address,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn api_base_parsing() {
        let a = parse_api_base("http://localhost:11434").unwrap();
        assert_eq!(
            a,
            UpstreamAddress {
                tls: false,
                host: "localhost".into(),
                port: 11434,
                path_prefix: String::new()
            }
        );
        let a = parse_api_base("HTTPS://Example.com/openai/v1//").unwrap();
        assert_eq!(
            (a.tls, a.host.as_str(), a.port, a.path_prefix.as_str()),
            (true, "example.com", 443, "/openai/v1")
        );
        let a = parse_api_base("http://[::1]:8000/v1").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 8000));
        for bad in [
            "ftp://x",
            "localhost:8000",
            "https://",
            "https://h:99999",
            "https://u:p@h",
            "https://h/v1?x=1",
            "http://h:abc",
        ] {
            assert!(parse_api_base(bad).is_err(), "{bad} should be rejected");
        }
        let e = compile_text(&one(
            "      model: openai/x\n      api_base: ftp://files.example.com\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "config.yaml: model_list[0].litellm_params.api_base: unsupported scheme \"ftp\""
            ),
            "{e}"
        );
    }

    #[test]
    fn azure_needs_api_base() {
        let e = compile_text(&one(
            "      model: azure/my-deployment\n      api_key: os.environ/AZURE_KEY\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("config.yaml: model_list[0].litellm_params.api_base: azure deployments need an api_base"), "{e}");
        let plan = compile_text(&one("      model: azure/my-deployment\n      api_base: https://x.openai.azure.com/\n      api_version: \"2024-06-01\"\n")).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::Azure);
        assert_eq!(up.model, "my-deployment");
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AZURE_API_KEY".into()
            }),
            "LiteLLM's default"
        );
        assert_eq!(up.api_version, Some(Setting::Literal("2024-06-01".into())));
        assert_eq!(plan.deployments[0].address.path_prefix, "");
    }

    #[test]
    fn azure_api_base_from_the_environment() {
        // quick_start.md: `export AZURE_API_BASE=…` and no api_base in the config.
        let text = one("      model: azure/my-deployment\n      api_key: k\n");
        let plan =
            compile_env(&text, &[("AZURE_API_BASE", "https://eu.openai.azure.com/")]).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "AZURE_API_BASE".into()
            },
            "kept deferred for the filter, like an os.environ/ api_base"
        );
        assert_eq!(d.address.host, "eu.openai.azure.com");
        assert!(plan.host_env_keys.contains("AZURE_API_BASE"));
        let e = compile_env(&text, &[("AZURE_API_BASE", "eu.openai.azure.com")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_base:")
                && e.contains("(from AZURE_API_BASE)"),
            "{e}"
        );
    }

    #[test]
    fn env_api_base_is_deferred_but_resolved_for_the_address() {
        let text = one("      model: azure/d\n      api_base: os.environ/AZURE_API_BASE\n      api_key: os.environ/AZURE_API_KEY\n");
        let plan = compile_env(
            &text,
            &[("AZURE_API_BASE", "https://eu.openai.azure.com:8443/")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "AZURE_API_BASE".into()
            }
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port),
            ("eu.openai.azure.com", 8443)
        );
        assert_eq!(
            plan.host_env_keys.iter().collect::<Vec<_>>(),
            ["AZURE_API_BASE", "AZURE_API_KEY"]
        );

        let e = compile_text(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_base: environment variable AZURE_API_BASE is not set"),
            "{e}"
        );
    }

    #[test]
    fn environment_variables_supply_an_unset_api_base() {
        let text = format!(
            "{}environment_variables:\n  VLLM_BASE: http://10.1.2.3:8000/v1\n",
            one("      model: hosted_vllm/m\n      api_base: os.environ/VLLM_BASE\n")
        );
        let plan = compile_text(&text).unwrap();
        assert_eq!(plan.deployments[0].address.host, "10.1.2.3");
        assert_eq!(
            plan.env_defaults.get("VLLM_BASE").map(String::as_str),
            Some("http://10.1.2.3:8000/v1")
        );
    }
}
