//! Hugging Face deployments (`huggingface/…`): which of its APIs a deployment speaks
//! (the OpenAI-compatible Messages API, or TGI's text-generation API with a prompt
//! template), and what the Hugging Face router needs (a key, `<model>:<provider>`).

use serde_yaml::Value;
use switchyard_contract::plugin_config::{PromptTemplate, RoleTemplate};
use switchyard_contract::providers::ProviderKind;

use super::Compiler;
use crate::litellm::{py_str, ConfigError, LitellmParams, ModelEntry};

/// The Hugging Face router's OpenAI-compatible API, `huggingface/`'s default base.
pub use switchyard_contract::providers::HUGGINGFACE_ROUTER;

/// LiteLLM's Hugging Face tasks (`hf_task_list`) that name the text-generation API
/// when they lead the model id (`huggingface/text-generation-inference/<model>`).
const HF_GENERATE_TASKS: &[&str] = &["text-generation-inference", "text-generation"];
/// LiteLLM's other Hugging Face tasks: APIs Hugging Face no longer serves.
const HF_OTHER_TASKS: &[&str] = &["conversational", "text-classification"];

impl Compiler<'_> {
    /// The entry's prompt template (`initial_prompt_value`, `roles`,
    /// `final_prompt_value`, `bos_token`, `eos_token`), checked: `roles` maps each
    /// role to `{pre_message, post_message}` strings.
    pub(super) fn prompt_template(
        &mut self,
        p: &str,
        lp: &LitellmParams,
    ) -> Result<Option<PromptTemplate>, ConfigError> {
        let set = lp.initial_prompt_value.is_some()
            || lp.roles.is_some()
            || lp.final_prompt_value.is_some()
            || lp.bos_token.is_some()
            || lp.eos_token.is_some();
        if !set {
            return Ok(None);
        }
        let mut template = PromptTemplate {
            initial_prompt_value: lp.initial_prompt_value.clone().unwrap_or_default(),
            final_prompt_value: lp.final_prompt_value.clone().unwrap_or_default(),
            bos_token: lp.bos_token.clone().unwrap_or_default(),
            eos_token: lp.eos_token.clone().unwrap_or_default(),
            ..Default::default()
        };
        match &lp.roles {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(roles)) => {
                for (role, parts) in roles {
                    let role = py_str(role);
                    let path = format!("{p}.litellm_params.roles.{role}");
                    let parts = match parts {
                        Value::Mapping(m) => m,
                        Value::Null => continue,
                        _ => {
                            return Err(self.error(
                                path,
                                "must be a mapping with pre_message and/or post_message",
                            ))
                        }
                    };
                    let mut entry = RoleTemplate::default();
                    for (key, value) in parts {
                        let key = py_str(key);
                        if !matches!(key.as_str(), "pre_message" | "post_message") {
                            return Err(self.error(
                                format!("{path}.{key}"),
                                "unknown key: a role takes pre_message and post_message",
                            ));
                        }
                        let text = match value {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            _ => {
                                return Err(self.error(format!("{path}.{key}"), "must be a string"))
                            }
                        };
                        if key == "pre_message" {
                            entry.pre_message = text;
                        } else {
                            entry.post_message = text;
                        }
                    }
                    template.roles.insert(role, entry);
                }
            }
            Some(_) => {
                return Err(self.error(
                    format!("{p}.litellm_params.roles"),
                    "must be a mapping of role name to {pre_message, post_message}",
                ))
            }
        }
        Ok(Some(template))
    }

    /// Which Hugging Face API a `huggingface/` deployment speaks: the
    /// text-generation API (TGI's `/generate`) when its model id starts with one of
    /// LiteLLM's text-generation tasks or the entry has a prompt template (a raw
    /// prompt is what a template is for), else the OpenAI-compatible Messages API.
    pub(super) fn huggingface_mode(
        &mut self,
        p: &str,
        entry: &ModelEntry,
        model_id: String,
        has_template: bool,
    ) -> Result<(ProviderKind, String), ConfigError> {
        let (first, rest) = model_id.split_once('/').unwrap_or((model_id.as_str(), ""));
        if HF_OTHER_TASKS.contains(&first) {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?}: Hugging Face's {first} task API is not served; use huggingface/<model> (the Messages API) or huggingface/text-generation-inference/<model>",
                    entry.litellm_params.model
                ),
            ));
        }
        if HF_GENERATE_TASKS.contains(&first) && !rest.is_empty() {
            return Ok((ProviderKind::HuggingfaceGenerate, rest.to_string()));
        }
        if has_template {
            return Ok((ProviderKind::HuggingfaceGenerate, model_id));
        }
        Ok((ProviderKind::Huggingface, model_id))
    }

    /// A `huggingface/` deployment on the Hugging Face router (no api_base): the
    /// router needs a key, serves the Messages API only, and picks an inference
    /// provider from the model id's `:provider` suffix. LiteLLM's
    /// `huggingface/<provider>/<org>/<model>` (whose provider route and model id it
    /// looks up on the Hub) becomes `<org>/<model>:<provider>`.
    pub(super) fn huggingface_router(
        &mut self,
        p: &str,
        entry: &ModelEntry,
        provider: ProviderKind,
        model_id: String,
        has_key: bool,
    ) -> Result<String, ConfigError> {
        if provider == ProviderKind::HuggingfaceGenerate {
            return Err(self.error(
                format!("{p}.litellm_params.api_base"),
                format!(
                    "huggingface text-generation deployments need an api_base (the TGI / Inference Endpoint URL) or HF_API_BASE; the Hugging Face router serves the Messages API only; model_name {:?}",
                    entry.model_name
                ),
            ));
        }
        if !has_key {
            return Err(self.error(
                format!("{p}.litellm_params.api_key"),
                format!(
                    "huggingface deployments on the Hugging Face router need an API key: set api_key (e.g. os.environ/HF_TOKEN) or the environment variable HF_TOKEN or HUGGINGFACE_API_KEY (LiteLLM's defaults, read in that order); model_name {:?}",
                    entry.model_name
                ),
            ));
        }
        Ok(match model_id.split_once('/') {
            Some((inference_provider, rest)) if rest.contains('/') => {
                format!("{rest}:{inference_provider}")
            }
            _ => model_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn huggingface_picks_the_messages_api_or_text_generation() {
        // The router: a key is needed; LiteLLM's provider segment becomes `:provider`.
        let plan = compile_env(
            &one("      model: huggingface/together/meta-llama/Llama-3.3-70B-Instruct\n"),
            &[("HF_TOKEN", "hf_x")],
        )
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(d.provider, ProviderKind::Huggingface);
        assert_eq!(d.model, "meta-llama/Llama-3.3-70B-Instruct:together");
        assert_eq!(d.api_base, Setting::Literal(HUGGINGFACE_ROUTER.into()));
        assert_eq!(
            d.api_key,
            Some(Setting::Env {
                env: "HF_TOKEN".into()
            })
        );
        let err = compile_text(&one(
            "      model: huggingface/meta-llama/Llama-3.1-8B-Instruct\n",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.api_key"),
            "{err}"
        );
        // A TGI endpoint: no key needed, the model as written.
        let plan = compile_text(&one(
            "      model: huggingface/tgi\n      api_base: http://tgi:8080\n",
        ))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(
            (d.provider, d.model.as_str(), d.api_key.clone()),
            (ProviderKind::Huggingface, "tgi", None)
        );
        assert!(d.prompt_template.is_none());

        // Text generation: by task prefix, or by prompt template.
        let plan = compile_text(&one(
            "      model: huggingface/text-generation-inference/bigcode/starcoder\n      api_base: http://tgi:8080\n",
        ))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(
            (d.provider, d.model.as_str()),
            (ProviderKind::HuggingfaceGenerate, "bigcode/starcoder")
        );
        assert!(has_warning(&plan, "default_pt"));
        let plan = compile_text(&one(concat!(
            "      model: huggingface/mistralai/Mistral-7B-v0.1\n",
            "      api_base: http://tgi:8080\n",
            "      initial_prompt_value: \"<start>\"\n",
            "      roles: {user: {pre_message: \"[INST] \", post_message: \" [/INST]\"}, assistant: {post_message: \"\"}}\n",
            "      final_prompt_value: \"\\n\"\n",
            "      bos_token: \"<s>\"\n",
            "      eos_token: \"</s>\"\n",
        )))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(d.provider, ProviderKind::HuggingfaceGenerate);
        let t = d.prompt_template.as_ref().unwrap();
        assert_eq!(
            (
                t.initial_prompt_value.as_str(),
                t.final_prompt_value.as_str(),
                t.bos_token.as_str(),
                t.eos_token.as_str()
            ),
            ("<start>", "\n", "<s>", "</s>")
        );
        assert_eq!(t.roles["user"].pre_message, "[INST] ");
        assert_eq!(t.roles["user"].post_message, " [/INST]");
        assert!(!has_warning(&plan, "roles"), "{:?}", plan.warnings);

        for (line, field) in [
            (
                "      roles: {user: {pre: x}}\n",
                "roles.user.pre: unknown key",
            ),
            (
                "      roles: {user: {pre_message: [1]}}\n",
                "roles.user.pre_message",
            ),
            ("      roles: [user]\n", "litellm_params.roles"),
        ] {
            let text = one(&format!(
                "      model: huggingface/m\n      api_base: http://tgi:8080\n{line}"
            ));
            let err = compile_text(&text).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = compile_env(
            &one("      model: huggingface/text-generation-inference/m\n"),
            &[("HF_TOKEN", "hf_x")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
        let err = compile_text(&one(
            "      model: huggingface/conversational/m\n      api_base: http://x\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("conversational"), "{err}");
        // Other providers ignore templates, with a warning.
        let plan = compile_env(
            &one("      model: cohere/command-r\n      bos_token: \"<s>\"\n"),
            &[("COHERE_API_KEY", "k")],
        )
        .unwrap();
        assert!(has_warning(&plan, "bos_token"));
        assert!(plan.deployments[0].upstream.prompt_template.is_none());
    }
}
