//! Deployment classification: what one `model_list` entry becomes (a mock, a real
//! deployment with its upstream plugin config and address, or skipped with a
//! warning), in named steps: the endpoints its mode serves, the provider and model id,
//! the provider specifics, the connection, and what it sends.

use switchyard_contract::plugin_config::{DeploymentConfig, Setting};
use switchyard_contract::providers::{
    infer_provider, infer_provider_without_api_base, ProviderKind,
};

use super::addresses::{AddressInputs, UpstreamAddress};
use super::credentials::Connection;
use super::deployment_id::litellm_deployment_id;
use super::huggingface::HUGGINGFACE_ROUTER;
use super::presets::{served_providers_sentence, LITELLM_PREFIXES};
use super::target::Target;
use super::vertex::VertexPlan;
use super::Compiler;
use crate::litellm::{ConfigError, LitellmParams, ModelEntry};

/// What became of one `model_list` entry.
pub(super) enum Classified {
    /// Answers locally with `mock_response`.
    Mock(Mock),
    /// Gets a cluster.
    Real(Box<Real>),
    /// Left out, with a warning already given.
    Skipped { index: usize },
}

/// A mock deployment: its entry, its answer, its endpoints.
pub(super) struct Mock {
    pub(super) index: usize,
    pub(super) response: String,
    pub(super) endpoints: Vec<String>,
}

/// A real deployment, compiled, with what its group needs to weigh it.
pub(super) struct Real {
    pub(super) index: usize,
    /// The position of its organization, for an entry with a list of them.
    pub(super) variant: Option<usize>,
    pub(super) upstream: DeploymentConfig,
    pub(super) address: UpstreamAddress,
    pub(super) endpoints: Vec<String>,
    pub(super) weight: Option<f64>,
    pub(super) rpm: Option<u64>,
    pub(super) tpm: Option<u64>,
    pub(super) timeout_secs: Option<f64>,
    pub(super) stream_timeout_secs: Option<f64>,
    pub(super) max_retries: Option<u32>,
    pub(super) max_parallel_requests: Option<u64>,
}

impl Classified {
    pub(super) fn as_mock(&self) -> Option<&Mock> {
        match self {
            Classified::Mock(m) => Some(m),
            _ => None,
        }
    }

    pub(super) fn as_real(&self) -> Option<&Real> {
        match self {
            Classified::Real(r) => Some(r),
            _ => None,
        }
    }

    pub(super) fn index(&self) -> usize {
        match self {
            Classified::Mock(m) => m.index,
            Classified::Real(r) => r.index,
            Classified::Skipped { index } => *index,
        }
    }

    /// `None` for skipped entries.
    pub(super) fn endpoints(&self) -> Option<&[String]> {
        match self {
            Classified::Mock(m) => Some(&m.endpoints),
            Classified::Real(r) => Some(&r.endpoints),
            Classified::Skipped { .. } => None,
        }
    }
}

/// How a deployment's provider was determined.
enum ProviderChoice {
    /// Served: the wire format, LiteLLM's provider name, the provider's model id.
    Known(ProviderKind, String, String),
    /// A LiteLLM provider Switchyard does not translate for yet.
    Unsupported(String),
    /// `model: "*"`: any provider.
    AnyProvider,
}

impl Compiler<'_> {
    /// What one `model_list` entry becomes.
    pub(super) fn classify(
        &mut self,
        index: usize,
        entry: &ModelEntry,
    ) -> Result<Classified, ConfigError> {
        let p = format!("model_list[{index}]");
        let lp = &entry.litellm_params;
        let Some(endpoints) = self.endpoints(&p, entry) else {
            return Ok(Classified::Skipped { index });
        };
        if let Some(response) = &lp.mock_response {
            return Ok(Classified::Mock(Mock {
                index,
                response: response.clone(),
                endpoints,
            }));
        }
        let Some(target) = self.target(&p, entry)? else {
            return Ok(Classified::Skipped { index });
        };
        let provider = target.kind;
        let mut connection = self.connection(&p, lp);
        let vertex = match provider {
            ProviderKind::VertexAi => {
                match self.vertex(&p, lp, &target.model_id, &mut connection)? {
                    Some(vertex) => Some(vertex),
                    None => return Ok(Classified::Skipped { index }),
                }
            }
            _ => None,
        };
        let (api_base, address) = match &vertex {
            Some(v) => (v.api_base.clone(), v.address.clone()),
            None => self.address(
                &p,
                AddressInputs {
                    provider,
                    provider_name: &target.name,
                    model_name: &entry.model_name,
                    params: lp,
                    api_base: connection.api_base.take(),
                    bedrock_region: target.bedrock_region.as_deref(),
                },
            )?,
        };
        let google_auth = vertex.map(|v| v.google_auth);
        let api_key = self.api_key(&p, lp, &entry.model_name, &target, &connection)?;
        let api_version = self.api_version(&connection)?;

        let on_router = api_base == Setting::Literal(HUGGINGFACE_ROUTER.to_string());
        let model_id = match provider {
            ProviderKind::Huggingface | ProviderKind::HuggingfaceGenerate if on_router => {
                self.huggingface_router(&p, entry, provider, target.model_id, api_key.is_some())?
            }
            _ => target.model_id,
        };
        let mut headers = self.headers(&p, lp, provider)?;
        if provider == ProviderKind::Openrouter {
            self.openrouter_headers(&mut headers);
        }
        let aws = match (&target.bedrock_region, &api_key) {
            (Some(region), None) => {
                Some(self.bedrock_signing(&p, lp, region, &entry.model_name)?)
            }
            _ => None,
        };
        let default_params = self.default_params(&p, lp)?;
        self.warn_unused(&p, entry, provider);
        self.warn_forwarded_headers(&p, entry);
        if provider == ProviderKind::HuggingfaceGenerate && target.template.is_none() {
            self.warn(
                format!("{p}.litellm_params.model"),
                "text-generation without a prompt template (initial_prompt_value, roles, final_prompt_value, bos_token, eos_token): the prompt is the messages' contents joined with spaces (LiteLLM's default_pt; LiteLLM would render the model's chat template from the Hugging Face Hub)",
            );
        }

        let deployment_id = entry
            .model_info
            .id
            .clone()
            .unwrap_or_else(|| litellm_deployment_id(&entry.model_name, lp));
        let drop_params = lp
            .drop_params
            .or(self.config.litellm_settings.drop_params)
            .unwrap_or(false);
        let pricing = self.pricing(entry, &target.name, &model_id);
        let model_prices = self.model_prices(&pricing, provider, &target.name, &model_id);

        Ok(Classified::Real(Box::new(Real {
            index,
            variant: None,
            upstream: DeploymentConfig {
                deployment_id,
                group: entry.model_name.clone(),
                provider,
                model: model_id,
                api_base,
                api_key,
                api_version,
                headers,
                default_params,
                drop_params,
                fallback_index: 0,
                pricing,
                model_prices,
                prompt_template: target
                    .template
                    .filter(|_| provider == ProviderKind::HuggingfaceGenerate),
                aws,
                google_auth,
                direct_cluster: None,
                // The effective limit is set per route cluster by `render`.
                stream_timeout_ms: None,
                forward_client_headers: self.forward_client_headers(entry),
            },
            address,
            endpoints,
            weight: lp.weight,
            rpm: lp.rpm,
            tpm: lp.tpm,
            timeout_secs: lp.timeout,
            stream_timeout_secs: lp.stream_timeout,
            max_retries: lp.max_retries,
            max_parallel_requests: lp.max_parallel_requests,
        })))
    }

    /// The endpoints `model_info.mode` serves (empty: all); `None` (warned) for a mode
    /// Switchyard does not serve yet.
    fn endpoints(&mut self, p: &str, entry: &ModelEntry) -> Option<Vec<String>> {
        let endpoints: Vec<&str> = match entry.model_info.mode.as_deref() {
            None => vec![],
            Some("chat") => vec!["chat_completions", "completions"],
            Some("completion") => vec!["completions"],
            Some("embedding") => vec!["embeddings"],
            Some(mode) => {
                self.warn(
                    format!("{p}.model_info.mode"),
                    format!("mode {mode:?} is not served by Switchyard yet (chat, completion and embedding are); deployment skipped"),
                );
                return None;
            }
        };
        Some(endpoints.into_iter().map(String::from).collect())
    }

    /// The provider and model id of an entry, with the provider specifics that decide
    /// them (Cohere's API version, Hugging Face's API, Bedrock's route prefixes and
    /// region); `None` (warned) for a provider Switchyard does not serve.
    fn target(&mut self, p: &str, entry: &ModelEntry) -> Result<Option<Target>, ConfigError> {
        let lp = &entry.litellm_params;
        let (provider, provider_name, model_id) = match self.provider(p, entry)? {
            ProviderChoice::Known(kind, name, id) => (kind, name, id),
            ProviderChoice::Unsupported(name) => {
                self.warn(
                    format!("{p}.litellm_params.model"),
                    format!("provider {name:?} ({:?}) is not supported by Switchyard yet ({} are); deployment skipped", lp.model, served_providers_sentence()),
                );
                return Ok(None);
            }
            ProviderChoice::AnyProvider => {
                self.warn(
                    format!("{p}.litellm_params.model"),
                    "model: '*' (any provider) is not supported yet; use openai/* or anthropic/*; deployment skipped",
                );
                return Ok(None);
            }
        };
        if provider == ProviderKind::Cohere && model_id.starts_with("v1/") {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?} asks for Cohere's v1 API; Switchyard speaks Cohere's v2 API only: write {:?}",
                    lp.model,
                    format!("{provider_name}/{}", model_id.trim_start_matches("v1/"))
                ),
            ));
        }
        let template = self.prompt_template(p, lp)?;
        let (provider, model_id) = if provider == ProviderKind::Huggingface {
            self.huggingface_mode(p, entry, model_id, template.is_some())?
        } else {
            (provider, model_id)
        };
        if model_id.contains('*') && !entry.model_name.contains('*') {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?} has a wildcard but model_name {:?} has none; give model_name a wildcard pattern too (LiteLLM's convention is the same string: model_name: {:?})",
                    lp.model, entry.model_name, lp.model
                ),
            ));
        }
        let (model_id, bedrock_region) = if provider == ProviderKind::Bedrock {
            let model_id = self.bedrock_model_id(p, model_id);
            let region = self.bedrock_region(p, lp, &model_id)?;
            (model_id, Some(region))
        } else {
            (model_id, None)
        };
        Ok(Some(Target {
            kind: provider,
            name: provider_name,
            model_id,
            template,
            bedrock_region,
        }))
    }

    /// A `vertex_ai/` deployment's address and service account (`super::vertex`);
    /// `None` (warned) when its model is not served. It authenticates with the
    /// service account, so an `api_key` is warned about and dropped.
    fn vertex(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        model_id: &str,
        connection: &mut Connection,
    ) -> Result<Option<VertexPlan>, ConfigError> {
        if let Some(why) = switchyard_contract::providers::vertex::unsupported_model(model_id) {
            self.warn(
                format!("{p}.litellm_params.model"),
                format!("{:?}: {why}; deployment skipped", lp.model),
            );
            return Ok(None);
        }
        let v = super::vertex::plan(self.file, p, lp, connection.api_base.clone(), self.lookup)?;
        for (path, message) in &v.warnings {
            self.warn(path, message);
        }
        self.host_env_keys.extend(v.env_keys.iter().cloned());
        self.token_clusters
            .insert(v.google_auth.token_cluster.clone(), v.token_address.clone());
        if let Some((_, path)) = connection.api_key.take() {
            self.warn(
                path,
                "vertex_ai deployments authenticate with their service account; the api_key is not used",
            );
        }
        Ok(Some(v))
    }

    fn provider(&self, p: &str, entry: &ModelEntry) -> Result<ProviderChoice, ConfigError> {
        let lp = &entry.litellm_params;
        let model = lp.model.trim();
        let known = |name: &str, id: &str| match ProviderKind::from_litellm_prefix(name) {
            Some(kind) => ProviderChoice::Known(kind, name.to_string(), id.to_string()),
            None => ProviderChoice::Unsupported(name.to_string()),
        };
        if let Some(name) = lp.custom_llm_provider.as_deref() {
            let id = model.strip_prefix(&format!("{name}/")).unwrap_or(model);
            return Ok(known(name, id));
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if LITELLM_PREFIXES.contains(&prefix) {
                return Ok(known(prefix, rest));
            }
        }
        if model == "*" {
            return Ok(ProviderChoice::AnyProvider);
        }
        if let Some(name) = infer_provider(model) {
            return Ok(known(name, model));
        }
        let has_api_base = lp.api_base.is_some()
            || lp
                .litellm_credential_name
                .as_deref()
                .and_then(|n| self.config.credential(n))
                .is_some_and(|c| c.credential_values.contains_key("api_base"));
        if has_api_base {
            // Any server with an api_base and no known prefix: OpenAI-compatible.
            return Ok(ProviderChoice::Known(
                ProviderKind::Openai,
                "openai_compatible".to_string(),
                model.to_string(),
            ));
        }
        if let Some(name) = infer_provider_without_api_base(model) {
            return Ok(known(name, model));
        }
        let first = model.split('/').next().unwrap_or(model);
        let why = if model.contains('/') {
            format!("{first:?} is not a LiteLLM provider")
        } else {
            "a bare model name that is not a known OpenAI or Anthropic model".to_string()
        };
        Err(ConfigError::at(
            self.file,
            format!("{p}.litellm_params.model"),
            format!(
                "cannot tell which provider serves {:?} ({why}); write it as \"provider/model-id\" (openai/, azure/, anthropic/, hosted_vllm/) or set api_base for an OpenAI-compatible server",
                lp.model
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn provider_prefix_and_model_id() {
        let plan = compile_text(&one("      model: openai/nvidia/llama-3.2-nv-embedqa-1b-v2\n      api_key: os.environ/NV_KEY\n      api_base: https://integrate.api.nvidia.com/v1/\n")).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::Openai);
        assert_eq!(up.model, "nvidia/llama-3.2-nv-embedqa-1b-v2");
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "NV_KEY".into()
            })
        );
        assert_eq!(
            up.api_base,
            Setting::Literal("https://integrate.api.nvidia.com/v1".into())
        );
        assert_eq!(
            plan.deployments[0].address,
            UpstreamAddress {
                tls: true,
                host: "integrate.api.nvidia.com".into(),
                port: 443,
                path_prefix: "/v1".into()
            }
        );
        assert!(plan.host_env_keys.contains("NV_KEY"));
    }

    #[test]
    fn unknown_prefix_with_api_base_is_openai_compatible() {
        let plan = compile_text(&one(
            "      model: meta-llama/Llama-3-8B\n      api_base: http://vllm:8000/v1\n",
        ))
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Openai);
        assert_eq!(d.upstream.model, "meta-llama/Llama-3-8B");
        assert_eq!(
            d.upstream.api_key, None,
            "no OPENAI_API_KEY default for a custom server"
        );
        assert_eq!((d.address.tls, d.address.port), (false, 8000));
    }

    #[test]
    fn unknown_provider_without_api_base_is_an_error() {
        let e = compile_text(&one("      model: llama3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config.yaml: model_list[0].litellm_params.model: cannot tell which provider serves \"llama3\""), "{e}");
        let e = compile_text(&one("      model: nvidia/llama-3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nvidia\" is not a LiteLLM provider"), "{e}");
    }

    #[test]
    fn unsupported_providers_are_skipped_with_a_warning() {
        let text = "model_list:\n  - model_name: local\n    litellm_params:\n      model: palm/chat-bison\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.deployments.len(), 1);
        assert_eq!(plan.router.groups.len(), 1);
        assert!(
            has_warning(
                &plan,
                "model_list[0].litellm_params.model: provider \"palm\""
            ),
            "{:?}",
            plan.warnings
        );
        assert!(has_warning(
            &plan,
            "model group \"local\" has no deployment Switchyard can serve"
        ));
    }

    #[test]
    fn everything_skipped_is_still_only_warnings() {
        let text = "model_list:\n  - model_name: b\n    litellm_params:\n      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b\n      aws_region_name: us-east-1\n";
        let plan = compile_text(text).unwrap();
        assert!(plan.router.groups.is_empty());
        assert!(has_warning(&plan, "no model group can be served"));
    }

    #[test]
    fn endpoints_follow_mode() {
        let text = "model_list:\n  - model_name: e\n    litellm_params: {model: openai/text-embedding-3-small}\n    model_info: {mode: embedding}\n  - model_name: c\n    litellm_params: {model: openai/gpt-3.5-turbo-instruct}\n    model_info: {mode: completion}\n  - model_name: any\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: img\n    litellm_params: {model: openai/dall-e-3}\n    model_info: {mode: image_generation}\n";
        let plan = compile_text(text).unwrap();
        let endpoints: Vec<(&str, Vec<String>)> = plan
            .router
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.endpoints.clone()))
            .collect();
        assert_eq!(
            endpoints,
            vec![
                ("e", vec!["embeddings".to_string()]),
                ("c", vec!["completions".to_string()]),
                ("any", vec![])
            ]
        );
        assert!(has_warning(
            &plan,
            "model_list[3].model_info.mode: mode \"image_generation\""
        ));
    }

    #[test]
    fn wildcards() {
        let text = "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n      model: \"openai/*\"\n  - model_name: \"*\"\n    litellm_params:\n      model: \"*\"\n  - model_name: \"claude-*\"\n    litellm_params:\n      model: \"anthropic/claude-*\"\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.deployments.len(), 2);
        assert_eq!(plan.deployments[0].upstream.model, "*");
        assert_eq!(plan.deployments[0].upstream.group, "openai/*");
        assert_eq!(plan.deployments[0].name, "dep_0_openai__");
        assert_eq!(plan.deployments[1].upstream.model, "claude-*");
        assert!(has_warning(&plan, "model_list[1].litellm_params.model: model: '*' (any provider) is not supported yet; use openai/* or anthropic/*"));

        let e = compile_text(&one("      model: openai/*\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has a wildcard but model_name \"g\" has none"),
            "{e}"
        );
    }

    #[test]
    fn per_deployment_timeouts_are_carried() {
        let plan = compile_text(&one("      model: openai/x\n      timeout: 300\n      stream_timeout: 60\n      max_retries: 2\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            (d.timeout_secs, d.stream_timeout_secs, d.max_retries),
            (Some(300.0), Some(60.0), Some(2))
        );
    }
}
