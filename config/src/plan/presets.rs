//! What Switchyard knows about each provider prefix at configure time, read from the
//! providers' descriptors in the contract crate ([`ProviderKind::descriptor`]): the
//! preset of a prefix (default base, base and key variables, the rule for a missing
//! key), the client defaults of OpenAI, Anthropic and Azure, and the providers
//! Switchyard serves as the warning for an unsupported provider names them.

use switchyard_contract::plugin_config::Setting;
use switchyard_contract::providers::ProviderKind;
pub use switchyard_contract::providers::{
    ClientDefault, KeyRule, KeyWithOwnBase, Preset, ANTHROPIC_API_BASE, LITELLM_PREFIXES,
    OPENAI_API_BASE, SERVED_GROUPS,
};

use super::upstream_address::UpstreamAddress;
use super::{parse_api_base, Compiler};
use crate::litellm::ConfigError;

/// The preset of a provider prefix (`groq`, `cohere_chat`, …), if its provider has
/// one.
pub fn preset(prefix: &str) -> Option<&'static Preset> {
    ProviderKind::from_litellm_prefix(prefix).and_then(|kind| kind.descriptor().preset.as_ref())
}

/// LiteLLM's client defaults for a provider prefix without a preset (`openai`,
/// `text-completion-openai`, `anthropic`, `azure`, `azure_text`), if it has them.
pub fn client_default(prefix: &str) -> Option<&'static ClientDefault> {
    ProviderKind::from_litellm_prefix(prefix)
        .and_then(|kind| kind.descriptor().client_default_for(prefix))
}

/// The served providers as a sentence: `openai, azure, … and the OpenAI-compatible
/// clouds and servers` (the descriptors' groups, in [`SERVED_GROUPS`]' order).
pub fn served_providers_sentence() -> String {
    match SERVED_GROUPS.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl Compiler<'_> {
    /// The address of a preset provider whose entry has no `api_base`: the first of
    /// its variables that is set (kept deferred for the filter), else its default.
    pub(super) fn preset_base(
        &mut self,
        p: &str,
        provider_name: &str,
        model_name: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        let Some(preset) = preset(provider_name) else {
            return Err(self.error(format!("{p}.litellm_params.api_base"), "no preset"));
        };
        let path = format!("{p}.litellm_params.api_base");
        for var in preset.base_env {
            if let Some(value) = (self.lookup)(var).filter(|v| !v.is_empty()) {
                let address = parse_api_base(&value)
                    .map_err(|m| self.error(path.clone(), format!("{m} (from {var})")))?;
                self.host_env_keys.insert((*var).to_string());
                return Ok((
                    Setting::Env {
                        env: (*var).to_string(),
                    },
                    address,
                ));
            }
        }
        match preset.base {
            Some(default) => {
                let address = parse_api_base(default).map_err(|m| self.error(path, m))?;
                Ok((Setting::Literal(default.to_string()), address))
            }
            None => Err(self.error(
                path,
                format!(
                    "{provider_name} deployments need an api_base (the server's base URL, e.g. http://vllm:8000/v1) or the environment variable {}; model_name {model_name:?}",
                    preset.base_env.join(" or ")
                ),
            )),
        }
    }

    /// The key of a preset provider whose entry has no `api_key`: the first of its
    /// variables that is set, else its rule for no key.
    pub(super) fn preset_key(
        &mut self,
        p: &str,
        provider_name: &str,
        model_name: &str,
    ) -> Result<Option<Setting>, ConfigError> {
        let Some(preset) = preset(provider_name) else {
            return Ok(None);
        };
        for var in preset.key_env {
            if (self.lookup)(var).is_some_and(|v| !v.is_empty()) {
                self.host_env_keys.insert((*var).to_string());
                return Ok(Some(Setting::Env {
                    env: (*var).to_string(),
                }));
            }
        }
        match preset.key {
            KeyRule::Required => Err(self.error(
                format!("{p}.litellm_params.api_key"),
                format!(
                    "{provider_name} deployments need an API key: set api_key (e.g. os.environ/{}) or the environment variable {} (LiteLLM's default{}); model_name {model_name:?}",
                    preset.key_env.first().copied().unwrap_or("KEY"),
                    preset.key_env.join(" or "),
                    if preset.key_env.len() > 1 { "s, read in that order" } else { "" },
                ),
            )),
            KeyRule::Placeholder(key) => Ok(Some(Setting::Literal(key.to_string()))),
            KeyRule::None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn served_providers_agree_with_the_filters_prefixes() {
        // The served prefixes are the descriptors' (the contract crate tests that each
        // is listed once and is a LiteLLM prefix).
        let served: Vec<&str> = ProviderKind::ALL
            .iter()
            .flat_map(|k| k.descriptor().prefixes.iter().copied())
            .collect();
        for prefix in &served {
            assert!(
                ProviderKind::from_litellm_prefix(prefix).is_some(),
                "{prefix} is listed as served but the filter does not know it"
            );
            assert!(
                LITELLM_PREFIXES.contains(prefix),
                "{prefix} is not a LiteLLM provider prefix"
            );
            assert_eq!(
                served.iter().filter(|p| *p == prefix).count(),
                1,
                "{prefix} is listed twice"
            );
        }
        for prefix in LITELLM_PREFIXES {
            assert_eq!(
                served.contains(prefix),
                ProviderKind::from_litellm_prefix(prefix).is_some(),
                "{prefix}: the descriptors and ProviderKind::from_litellm_prefix disagree"
            );
        }
        // The prefixes with a preset, as the hand-kept table had them.
        let with_preset: Vec<&str> = served
            .iter()
            .copied()
            .filter(|p| preset(p).is_some())
            .collect();
        assert_eq!(
            with_preset,
            [
                "mistral",
                "groq",
                "deepseek",
                "together_ai",
                "openrouter",
                "xai",
                "fireworks_ai",
                "perplexity",
                "cerebras",
                "deepinfra",
                "hosted_vllm",
                "lm_studio",
                "llamafile",
                "ollama",
                "ollama_chat",
                "gemini",
                "cohere",
                "cohere_chat",
                "huggingface",
            ]
        );
        let with_client_default: Vec<&str> = served
            .iter()
            .copied()
            .filter(|p| client_default(p).is_some())
            .collect();
        assert_eq!(
            with_client_default,
            [
                "openai",
                "text-completion-openai",
                "azure",
                "azure_text",
                "anthropic"
            ]
        );
        assert_eq!(
            served_providers_sentence(),
            "openai, azure, anthropic, gemini, vertex_ai, bedrock, ollama, cohere, huggingface and the OpenAI-compatible clouds and servers"
        );
    }

    #[test]
    fn openai_and_anthropic_with_an_api_base_read_their_variable_when_set() {
        // LiteLLM sends OPENAI_API_KEY / ANTHROPIC_API_KEY whatever the api_base.
        for (model, var) in [
            ("openai/x", "OPENAI_API_KEY"),
            ("anthropic/claude-x", "ANTHROPIC_API_KEY"),
        ] {
            let text = one(&format!(
                "      model: {model}\n      api_base: http://127.0.0.1:9/v1\n"
            ));
            let plan = compile_env(&text, &[]).unwrap();
            assert_eq!(plan.deployments[0].upstream.api_key, None, "{model}");
            let vars: &'static [(&'static str, &'static str)] = if var == "OPENAI_API_KEY" {
                &[("OPENAI_API_KEY", "sk-o")]
            } else {
                &[("ANTHROPIC_API_KEY", "sk-a")]
            };
            let plan = compile_env(&text, vars).unwrap();
            assert_eq!(
                plan.deployments[0].upstream.api_key,
                Some(Setting::Env { env: var.into() }),
                "{model}"
            );
            assert!(plan.host_env_keys.contains(var));
        }
    }

    #[test]
    fn bare_names_are_inferred_with_default_bases_and_keys() {
        let plan = compile_text(&one("      model: gpt-4o\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Openai);
        assert_eq!(d.upstream.model, "gpt-4o");
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal(OPENAI_API_BASE.into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "OPENAI_API_KEY".into()
            })
        );
        assert_eq!(
            (
                d.address.host.as_str(),
                d.address.port,
                d.address.path_prefix.as_str()
            ),
            ("api.openai.com", 443, "/v1")
        );

        let plan =
            compile_text(&one("      model: anthropic/claude-3-5-sonnet-20240620\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Anthropic);
        assert_eq!(d.upstream.model, "claude-3-5-sonnet-20240620");
        assert_eq!(d.address.host, "api.anthropic.com");
        assert_eq!(d.address.path_prefix, "");
        assert_eq!(
            plan.host_env_keys.iter().collect::<Vec<_>>(),
            ["ANTHROPIC_API_KEY"]
        );
    }

    #[test]
    fn cohere_gets_litellms_base_and_keys() {
        let plan = compile_env(
            &one("      model: cohere_chat/v2/command-a-03-2025\n"),
            &[("CO_API_KEY", "k")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Cohere);
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://api.cohere.com".into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "CO_API_KEY".into()
            })
        );
        assert_eq!(d.address.host, "api.cohere.com");
        let plan = compile_env(
            &one("      model: cohere/embed-v4.0\n"),
            &[
                ("COHERE_API_KEY", "k"),
                ("CO_API_KEY", "k2"),
                ("COHERE_API_BASE", "https://proxy.example/v2/chat"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            (d.upstream.api_key.clone(), d.upstream.api_base.clone()),
            (
                Some(Setting::Env {
                    env: "COHERE_API_KEY".into()
                }),
                Setting::Env {
                    env: "COHERE_API_BASE".into()
                }
            )
        );
        assert_eq!(d.address.host, "proxy.example");
        let err = compile_text(&one("      model: cohere/command-r\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.api_key")
                && err.to_string().contains("COHERE_API_KEY or CO_API_KEY"),
            "{err}"
        );
        let err = compile_env(
            &one("      model: cohere_chat/v1/command-r\n"),
            &[("COHERE_API_KEY", "k")],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.model")
                && err.to_string().contains("cohere_chat/command-r"),
            "{err}"
        );
    }

    #[test]
    fn clouds_get_litellm_default_bases_and_key_variables() {
        let cases: &[(&str, ProviderKind, &str, &str, &str)] = &[
            (
                "mistral/mistral-small-latest",
                ProviderKind::Mistral,
                "https://api.mistral.ai/v1",
                "MISTRAL_API_KEY",
                "api.mistral.ai",
            ),
            (
                "groq/llama-3.1-8b-instant",
                ProviderKind::Groq,
                "https://api.groq.com/openai/v1",
                "GROQ_API_KEY",
                "api.groq.com",
            ),
            (
                "deepseek/deepseek-chat",
                ProviderKind::Deepseek,
                "https://api.deepseek.com/beta",
                "DEEPSEEK_API_KEY",
                "api.deepseek.com",
            ),
            (
                "together_ai/meta-llama/Llama-3-8b",
                ProviderKind::TogetherAi,
                "https://api.together.xyz/v1",
                "TOGETHERAI_API_KEY",
                "api.together.xyz",
            ),
            (
                "openrouter/anthropic/claude-3.5-sonnet",
                ProviderKind::Openrouter,
                "https://openrouter.ai/api/v1",
                "OPENROUTER_API_KEY",
                "openrouter.ai",
            ),
            (
                "xai/grok-2",
                ProviderKind::Xai,
                "https://api.x.ai/v1",
                "XAI_API_KEY",
                "api.x.ai",
            ),
            (
                "fireworks_ai/llama-v3-8b",
                ProviderKind::FireworksAi,
                "https://api.fireworks.ai/inference/v1",
                "FIREWORKS_AI_API_KEY",
                "api.fireworks.ai",
            ),
            (
                "perplexity/sonar",
                ProviderKind::Perplexity,
                "https://api.perplexity.ai",
                "PERPLEXITYAI_API_KEY",
                "api.perplexity.ai",
            ),
            (
                "cerebras/llama3.1-8b",
                ProviderKind::Cerebras,
                "https://api.cerebras.ai/v1",
                "CEREBRAS_API_KEY",
                "api.cerebras.ai",
            ),
            (
                "deepinfra/meta-llama/Llama-3-8b",
                ProviderKind::Deepinfra,
                "https://api.deepinfra.com/v1/openai",
                "DEEPINFRA_API_KEY",
                "api.deepinfra.com",
            ),
        ];
        const VARS: &[(&str, &str)] = &[
            ("MISTRAL_API_KEY", "k"),
            ("GROQ_API_KEY", "k"),
            ("DEEPSEEK_API_KEY", "k"),
            ("TOGETHERAI_API_KEY", "k"),
            ("OPENROUTER_API_KEY", "k"),
            ("XAI_API_KEY", "k"),
            ("FIREWORKS_AI_API_KEY", "k"),
            ("PERPLEXITYAI_API_KEY", "k"),
            ("CEREBRAS_API_KEY", "k"),
            ("DEEPINFRA_API_KEY", "k"),
        ];
        for (model, kind, base, key, host) in cases {
            let plan = compile_env(&one(&format!("      model: {model}\n")), VARS).unwrap();
            let d = &plan.deployments[0];
            assert_eq!(d.upstream.provider, *kind, "{model}");
            assert_eq!(d.upstream.model, model.split_once('/').unwrap().1);
            assert_eq!(
                d.upstream.api_base,
                Setting::Literal(base.to_string()),
                "{model}"
            );
            assert_eq!(
                d.upstream.api_key,
                Some(Setting::Env {
                    env: key.to_string()
                }),
                "{model}"
            );
            assert_eq!(
                (d.address.host.as_str(), d.address.tls, d.address.port),
                (*host, true, 443)
            );
            assert_eq!(plan.host_env_keys.iter().collect::<Vec<_>>(), [key]);
        }
    }

    #[test]
    fn gemini_gets_litellms_base_and_key_variables() {
        let plan = compile_env(
            &one("      model: gemini/gemini-2.5-flash\n"),
            &[("GEMINI_API_KEY", "g"), ("PALM_API_KEY", "p")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Gemini);
        assert_eq!(d.upstream.model, "gemini-2.5-flash");
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://generativelanguage.googleapis.com".into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "GEMINI_API_KEY".into()
            }),
            "GEMINI_API_KEY before PALM_API_KEY"
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.tls, d.address.port),
            ("generativelanguage.googleapis.com", true, 443)
        );
        // GOOGLE_API_KEY comes first (LiteLLM's get_api_key_from_env), and
        // GEMINI_API_BASE moves the deployment.
        let plan = compile_env(
            &one("      model: gemini/gemini-2.5-flash\n"),
            &[
                ("GEMINI_API_KEY", "g"),
                ("GOOGLE_API_KEY", "k"),
                ("GEMINI_API_BASE", "http://127.0.0.1:9999"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "GOOGLE_API_KEY".into()
            })
        );
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "GEMINI_API_BASE".into()
            }
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port),
            ("127.0.0.1", 9999)
        );
        let e = compile_text(&one("      model: gemini/gemini-2.5-flash\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model_list[0].litellm_params.api_key: gemini deployments need an API key")
                && e.contains("GOOGLE_API_KEY or GEMINI_API_KEY or PALM_API_KEY"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_cloud_key_is_an_error_naming_the_entry_and_variables() {
        let e = compile_text(&one("      model: groq/llama-3.1-8b-instant\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_key: groq deployments need an API key")
                && e.contains("GROQ_API_KEY"),
            "{e}"
        );
        // The first variable that is set wins, in LiteLLM's order.
        let plan = compile_env(
            &one("      model: fireworks_ai/llama-v3-8b\n"),
            &[("FIREWORKS_AI_TOKEN", "t"), ("FIREWORKSAI_API_KEY", "k")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "FIREWORKSAI_API_KEY".into()
            })
        );
        // An api_key in the entry needs no variable; environment_variables count too.
        let plan = compile_text(&one(
            "      model: xai/grok-2\n      api_key: os.environ/MY_XAI\n",
        ))
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.api_key,
            Some(Setting::Env {
                env: "MY_XAI".into()
            })
        );
        let text = format!(
            "{}environment_variables:\n  CEREBRAS_API_KEY: csk\n",
            one("      model: cerebras/llama3.1-8b\n")
        );
        assert!(compile_text(&text).is_ok());
    }

    #[test]
    fn base_variables_and_local_servers() {
        // X_API_BASE moves a cloud (kept deferred: the filter reads it again).
        let plan = compile_env(
            &one("      model: groq/llama\n"),
            &[
                ("GROQ_API_KEY", "k"),
                ("GROQ_API_BASE", "http://127.0.0.1:9999/openai/v1"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "GROQ_API_BASE".into()
            }
        );
        assert_eq!(
            (
                d.address.host.as_str(),
                d.address.port,
                d.address.path_prefix.as_str()
            ),
            ("127.0.0.1", 9999, "/openai/v1")
        );
        assert!(plan.host_env_keys.contains("GROQ_API_BASE"));

        // hosted_vllm and lm_studio have no default address; keys are optional and
        // LiteLLM's placeholder is sent without one.
        for prefix in ["hosted_vllm", "lm_studio"] {
            let e = compile_text(&one(&format!("      model: {prefix}/m\n")))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("config.yaml: model_list[0].litellm_params.api_base:")
                    && e.contains("need an api_base"),
                "{e}"
            );
            let plan = compile_text(&one(&format!(
                "      model: {prefix}/m\n      api_base: http://h:8000/v1\n"
            )))
            .unwrap();
            assert_eq!(
                plan.deployments[0].upstream.api_key,
                Some(Setting::Literal("fake-api-key".into()))
            );
        }
        let plan = compile_env(
            &one("      model: hosted_vllm/m\n"),
            &[
                ("HOSTED_VLLM_API_BASE", "http://vllm:8000/v1"),
                ("HOSTED_VLLM_API_KEY", "v"),
            ],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::HostedVllm);
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "HOSTED_VLLM_API_KEY".into()
            })
        );
        let plan = compile_text(&one("      model: llamafile/m\n")).unwrap();
        assert_eq!(plan.deployments[0].address.port, 8080);

        // Ollama: localhost:11434 by default, no key.
        for (prefix, kind) in [
            ("ollama", ProviderKind::Ollama),
            ("ollama_chat", ProviderKind::OllamaChat),
        ] {
            let plan = compile_text(&one(&format!("      model: {prefix}/llama3.1\n"))).unwrap();
            let d = &plan.deployments[0];
            assert_eq!(d.upstream.provider, kind);
            assert_eq!(
                d.upstream.api_base,
                Setting::Literal("http://localhost:11434".into())
            );
            assert_eq!(d.upstream.api_key, None);
            assert!(plan.host_env_keys.is_empty());
        }
    }

    #[test]
    fn mistral_bases_get_v1_and_openrouter_gets_its_optional_headers() {
        let plan = compile_env(
            &one("      model: mistral/m\n      api_base: https://eu.mistral.example/\n"),
            &[("MISTRAL_API_KEY", "k")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://eu.mistral.example/v1".into())
        );
        assert_eq!(d.address.path_prefix, "/v1");

        let plan = compile_env(
            &one("      model: openrouter/m\n"),
            &[
                ("OPENROUTER_API_KEY", "k"),
                ("OR_SITE_URL", "https://me.example"),
                ("OR_APP_NAME", "my app"),
            ],
        )
        .unwrap();
        let headers = &plan.deployments[0].upstream.headers;
        assert_eq!(
            headers.get("HTTP-Referer").map(String::as_str),
            Some("https://me.example")
        );
        assert_eq!(headers.get("X-Title").map(String::as_str), Some("my app"));
        let plan = compile_env(
            &one("      model: openrouter/m\n"),
            &[("OPENROUTER_API_KEY", "k")],
        )
        .unwrap();
        assert!(plan.deployments[0].upstream.headers.is_empty(), "optional");
    }
}
