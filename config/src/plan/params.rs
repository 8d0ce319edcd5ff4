//! What a deployment sends besides the model: headers (`extra_headers`, `headers`,
//! `organization`, OpenRouter's attribution), default request parameters (the other
//! `litellm_params`), the client headers it lets through, and warnings for the fields
//! Switchyard reads but does not apply.

use serde_json::{Map, Value as Json};
use serde_yaml::Value;
use std::collections::BTreeMap;

use switchyard_contract::providers::ProviderKind;

use super::Compiler;
use crate::litellm::env_ref;
use crate::litellm::{
    py_str, resolve_string, ConfigError, LitellmParams, ModelEntry, Organization,
};

/// `litellm_params` keys that configure LiteLLM itself rather than the request; they are
/// reported as ignored instead of being sent to the provider as default parameters.
/// (Keys starting with `aws_`, `vertex_`, `azure_` and `watsonx_` are treated the same.)
const NON_REQUEST_PARAMS: &[&str] = &[
    "region_name",
    "tenant_id",
    "client_id",
    "client_secret",
    "input_cost_per_second",
    "output_cost_per_second",
    "input_cost_per_pixel",
    "output_cost_per_pixel",
    "cache_creation_input_token_cost",
    "cache_read_input_token_cost",
    "max_budget",
    "budget_duration",
    "use_in_pass_through",
    "use_litellm_proxy",
    "merge_reasoning_content_in_choices",
    "configurable_clientside_auth_params",
    "litellm_trace_id",
    "auto_router_config",
    "auto_router_config_path",
    "auto_router_default_model",
    "auto_router_embedding_model",
    "additional_drop_params",
    "model_info",
    "mock_timeout",
    "mock_delay",
    "base_model",
    "guardrails",
    "cache_control_injection_points",
    "litellm_metadata",
    "api_type",
    "rpm_limit",
    "tpm_limit",
];

impl Compiler<'_> {
    pub(super) fn headers(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        provider: ProviderKind,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut headers = BTreeMap::new();
        for (key, map) in [
            ("extra_headers", &lp.extra_headers),
            ("headers", &lp.headers),
        ] {
            for (name, value) in map.iter().flatten() {
                let path = format!("{p}.litellm_params.{key}.{name}");
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    // LiteLLM starts with it and then fails every call to the
                    // deployment (httpx: "Illegal header name"); LiteLLM's docs show one.
                    self.warn(
                        path,
                        format!("{name:?} is not a valid HTTP header name; it is not sent (LiteLLM would fail every request to this deployment with httpx's \"Illegal header name\")"),
                    );
                    continue;
                }
                let value = self.resolve_written(&path, value)?;
                headers.insert(name.clone(), value);
            }
        }
        if let Some(Organization::One(org)) = &lp.organization {
            let path = format!("{p}.litellm_params.organization");
            if provider == ProviderKind::Openai {
                let org = self.resolve_written(&path, org)?;
                headers.insert("OpenAI-Organization".to_string(), org);
            } else {
                self.warn(
                    path,
                    format!(
                        "only used by OpenAI deployments, not {}; ignored",
                        provider.as_str()
                    ),
                );
            }
        }
        Ok(headers)
    }

    /// OpenRouter's optional attribution headers, as litellm/main.py sends them from
    /// `OR_SITE_URL` and `OR_APP_NAME` (with LiteLLM's own name as default; here only
    /// when set). `extra_headers` win.
    pub(super) fn openrouter_headers(&self, headers: &mut BTreeMap<String, String>) {
        for (var, header) in [("OR_SITE_URL", "HTTP-Referer"), ("OR_APP_NAME", "X-Title")] {
            let set = headers.keys().any(|k| k.eq_ignore_ascii_case(header));
            if let Some(value) = (self.lookup)(var).filter(|v| !v.is_empty() && !set) {
                headers.insert(header.to_string(), value);
            }
        }
    }

    pub(super) fn default_params(
        &mut self,
        p: &str,
        lp: &LitellmParams,
    ) -> Result<Map<String, Json>, ConfigError> {
        let mut params = Map::new();
        for (key, value) in &lp.params {
            let path = format!("{p}.litellm_params.{key}");
            let ignored = NON_REQUEST_PARAMS.contains(&key.as_str())
                || ["aws_", "vertex_", "azure_", "watsonx_"]
                    .iter()
                    .any(|prefix| key.starts_with(prefix));
            if ignored {
                self.warn(path, "not supported by Switchyard yet; ignored");
                continue;
            }
            if switchyard_contract::litellm_fields::is_litellm_field(key) {
                // LiteLLM consumes these itself (`num_retries`, `metadata`, …): they are
                // never request parameters, so no provider may get them.
                self.warn(
                    path,
                    "a LiteLLM setting, not a request parameter: never sent to the provider, and not applied per deployment by Switchyard",
                );
                continue;
            }
            let mut value = value.clone();
            self.resolve_in_value(&path, &mut value)?;
            let json = serde_json::to_value(&value).map_err(|e| {
                self.error(
                    path.clone(),
                    format!("cannot be sent as a JSON request parameter: {e}"),
                )
            })?;
            params.insert(key.clone(), json);
        }
        Ok(params)
    }

    fn resolve_in_value(&mut self, path: &str, value: &mut Value) -> Result<(), ConfigError> {
        match value {
            Value::String(s) => *s = self.resolve_written(path, s)?,
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.resolve_in_value(&format!("{path}[{i}]"), item)?;
                }
            }
            Value::Mapping(map) => {
                for (k, v) in map.iter_mut() {
                    self.resolve_in_value(&format!("{path}.{}", py_str(k)), v)?;
                }
            }
            Value::Tagged(t) => self.resolve_in_value(path, &mut t.value)?,
            _ => {}
        }
        Ok(())
    }

    /// Resolves `os.environ/` in a value that will be written into the rendered
    /// config, with a warning saying so.
    fn resolve_written(&mut self, path: &str, raw: &str) -> Result<String, ConfigError> {
        if env_ref(raw).is_some() {
            self.warn(
                path,
                "os.environ/ is resolved when the config is rendered and the value is written into the Envoy config",
            );
        }
        resolve_string(self.file, path, raw, self.lookup)
    }

    /// The billing headers (`switchyard_contract::billing_headers`) a deployment lets
    /// through: its `model_info.forward_client_headers`, `OpenAI-Organization` with
    /// `general_settings.forward_openai_org_id`, every `x-*` one with
    /// `general_settings.forward_client_headers_to_llm_api` or the group in
    /// `litellm_settings.model_group_settings.forward_client_headers_to_llm_api`
    /// (LiteLLM's names and meanings). Lowercase, sorted, once each.
    pub(super) fn forward_client_headers(&self, entry: &ModelEntry) -> Vec<String> {
        use switchyard_contract::billing_headers::BILLING_HEADERS;
        let general = &self.config.general_settings;
        let mut allowed: Vec<String> = entry
            .model_info
            .forward_client_headers
            .iter()
            .flatten()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if general.forward_openai_org_id == Some(true) {
            allowed.push("openai-organization".to_string());
        }
        let group_forwards = self
            .config
            .litellm_settings
            .model_group_settings
            .as_ref()
            .and_then(|m| m.forward_client_headers_to_llm_api.as_ref())
            .is_some_and(|groups| groups.contains(&entry.model_name));
        if general.forward_client_headers_to_llm_api == Some(true) || group_forwards {
            allowed.extend(
                BILLING_HEADERS
                    .iter()
                    .filter(|h| h.starts_with("x-"))
                    .map(|h| h.to_string()),
            );
        }
        allowed.sort();
        allowed.dedup();
        allowed
    }

    /// Warns about `model_info.forward_client_headers` entries that are not billing
    /// headers: the gateway does not remove them, so they reach the provider anyway.
    pub(super) fn warn_forwarded_headers(&mut self, p: &str, entry: &ModelEntry) {
        for name in entry.model_info.forward_client_headers.iter().flatten() {
            if !switchyard_contract::billing_headers::is_billing_header(name.trim()) {
                self.warn(
                    format!("{p}.model_info.forward_client_headers"),
                    format!("{name:?} is not a header the gateway removes (it reaches the provider anyway); only {} are", switchyard_contract::billing_headers::BILLING_HEADERS.join(", ")),
                );
            }
        }
    }

    /// Warns about the typed `litellm_params`/`model_info` fields a served deployment
    /// sets but Switchyard does not apply.
    pub(super) fn warn_unused(&mut self, p: &str, entry: &ModelEntry, provider: ProviderKind) {
        let lp = &entry.litellm_params;
        let lpp = format!("{p}.litellm_params");
        let mut notes: Vec<(String, String)> = Vec::new();
        let mut note = |set: bool, field: &str, message: &str| {
            if set {
                notes.push((field.to_string(), message.to_string()));
            }
        };
        note(
            lp.order.is_some(),
            "order",
            "order-based routing is not applied yet; ignored",
        );
        note(
            lp.max_parallel_requests.is_some(),
            "max_parallel_requests",
            "per-deployment concurrency limits are not applied yet; it only sizes the route cluster's circuit breakers",
        );
        note(
            lp.max_retries.is_some(),
            "max_retries",
            "has no effect behind LiteLLM's proxy either: its router sets the provider SDK's max_retries to 0 for every routed call (litellm/main.py) and retries with num_retries itself; set router_settings.num_retries",
        );
        note(
            lp.tags.is_some(),
            "tags",
            "tag-based routing is not applied yet; ignored",
        );
        let other_provider = format!("not used by {} deployments; ignored", provider.as_str());
        let bedrock = provider == ProviderKind::Bedrock;
        for (set, field) in [
            (
                lp.aws_access_key_id.is_some() && !bedrock,
                "aws_access_key_id",
            ),
            (
                lp.aws_secret_access_key.is_some() && !bedrock,
                "aws_secret_access_key",
            ),
            (
                lp.aws_session_token.is_some() && !bedrock,
                "aws_session_token",
            ),
            (lp.aws_region_name.is_some() && !bedrock, "aws_region_name"),
            (
                lp.aws_bedrock_runtime_endpoint.is_some() && !bedrock,
                "aws_bedrock_runtime_endpoint",
            ),
            (
                lp.vertex_project.is_some() && provider != ProviderKind::VertexAi,
                "vertex_project",
            ),
            (
                lp.vertex_location.is_some() && provider != ProviderKind::VertexAi,
                "vertex_location",
            ),
            (
                lp.vertex_credentials.is_some() && provider != ProviderKind::VertexAi,
                "vertex_credentials",
            ),
        ] {
            note(set, field, &other_provider);
        }
        for (set, field) in [
            (lp.initial_prompt_value.is_some(), "initial_prompt_value"),
            (lp.roles.is_some(), "roles"),
            (lp.final_prompt_value.is_some(), "final_prompt_value"),
            (lp.bos_token.is_some(), "bos_token"),
            (lp.eos_token.is_some(), "eos_token"),
        ] {
            note(
                set && provider != ProviderKind::HuggingfaceGenerate,
                field,
                "prompt templates are used by huggingface/ text-generation deployments only; ignored",
            );
        }
        for (field, message) in notes {
            self.warn(format!("{lpp}.{field}"), message);
        }
        let info = &entry.model_info;
        if info.access_groups.is_some() {
            self.warn(
                format!("{p}.model_info.access_groups"),
                "access groups are not enforced yet; ignored",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::test_support::*;

    #[test]
    fn billing_headers_a_deployment_lets_through() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {forward_client_headers: [OpenAI-Project]}\n  - model_name: b\n    litellm_params: {model: openai/y}\ngeneral_settings:\n  forward_openai_org_id: true\n";
        let plan = compile_text(text).unwrap();
        let allowed: Vec<&Vec<String>> = plan
            .deployments
            .iter()
            .map(|d| &d.upstream.forward_client_headers)
            .collect();
        assert_eq!(
            allowed,
            [
                &vec![
                    "openai-organization".to_string(),
                    "openai-project".to_string()
                ],
                &vec!["openai-organization".to_string()],
            ]
        );
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\ngeneral_settings:\n  forward_client_headers_to_llm_api: true\n").unwrap();
        let allowed = &plan.deployments[0].upstream.forward_client_headers;
        assert!(
            allowed.contains(&"x-goog-user-project".to_string()),
            "{allowed:?}"
        );
        assert!(
            !allowed.contains(&"openai-organization".to_string()),
            "LiteLLM forwards x-* only"
        );
        let plan =
            compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n")
                .unwrap();
        assert!(plan.deployments[0]
            .upstream
            .forward_client_headers
            .is_empty());
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/y}\nlitellm_settings:\n  model_group_settings: {forward_client_headers_to_llm_api: [b]}\n").unwrap();
        assert!(plan.deployments[0]
            .upstream
            .forward_client_headers
            .is_empty());
        assert!(plan.deployments[1]
            .upstream
            .forward_client_headers
            .contains(&"x-goog-user-project".to_string()));
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {forward_client_headers: [anthropic-beta]}\n").unwrap();
        assert!(
            plan.warnings.iter().any(|w| w.starts_with(
                "model_list[0].model_info.forward_client_headers: \"anthropic-beta\" is not a header the gateway removes"
            )),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn an_invalid_header_name_is_left_out_with_a_warning() {
        // configs.md "Model-specific params": `extra_headers: {"AI-Resource Group": …}`.
        let plan = compile_text(&one("      model: openai/gpt-4o\n      api_key: sk-123\n      extra_headers: {\"AI-Resource Group\": \"ishaan-resource\", X-Team: ml}\n")).unwrap();
        let headers = &plan.deployments[0].upstream.headers;
        assert!(!headers.contains_key("AI-Resource Group"), "{headers:?}");
        assert_eq!(headers.get("X-Team").map(String::as_str), Some("ml"));
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.extra_headers.AI-Resource Group: \"AI-Resource Group\" is not a valid HTTP header name; it is not sent"
        ));
    }

    #[test]
    fn litellm_settings_in_litellm_params_are_never_request_parameters() {
        // `num_retries: 3` on a deployment is common in LiteLLM configs; it must not
        // reach the provider as a default parameter.
        let text = one("      model: openai/x\n      num_retries: 3\n      caching: true\n      temperature: 0.5\n");
        let plan = compile_env(&text, &[("OPENAI_API_KEY", "sk-o")]).unwrap();
        let params = &plan.deployments[0].upstream.default_params;
        assert!(!params.contains_key("num_retries") && !params.contains_key("caching"));
        assert_eq!(params["temperature"], serde_json::json!(0.5));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.starts_with("model_list[0].litellm_params.num_retries: a LiteLLM setting")));
    }

    #[test]
    fn default_params_headers_and_drop_params() {
        let text = "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      temperature: 0.2\n      max_tokens: 512\n      stop: [\"\\n\\n\"]\n      region_name: eu\n      organization: org-1\n      extra_headers: {X-Team: ml}\n      headers: {X-Env: prod}\nlitellm_settings:\n  drop_params: true\n";
        let plan = compile_text(text).unwrap();
        let up = &plan.deployments[0].upstream;
        let keys: Vec<&String> = up.default_params.keys().collect();
        assert_eq!(
            keys,
            ["temperature", "max_tokens", "stop"],
            "YAML order, region_name left out"
        );
        assert_eq!(up.default_params["temperature"], serde_json::json!(0.2));
        assert_eq!(up.default_params["stop"], serde_json::json!(["\n\n"]));
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.region_name: not supported"
        ));
        assert!(up.drop_params, "from litellm_settings");
        assert_eq!(up.headers.get("X-Team").map(String::as_str), Some("ml"));
        assert_eq!(up.headers.get("X-Env").map(String::as_str), Some("prod"));
        assert_eq!(
            up.headers.get("OpenAI-Organization").map(String::as_str),
            Some("org-1")
        );

        let plan =
            compile_text(&text.replace("      temperature: 0.2\n", "      drop_params: false\n"))
                .unwrap();
        assert!(
            !plan.deployments[0].upstream.drop_params,
            "litellm_params wins"
        );
    }

    #[test]
    fn env_in_written_values_is_resolved_with_a_warning() {
        let text = one("      model: openai/gpt-4o\n      user: os.environ/DEFAULT_USER\n");
        let plan = compile_env(&text, &[("DEFAULT_USER", "svc")]).unwrap();
        assert_eq!(
            plan.deployments[0].upstream.default_params["user"],
            serde_json::json!("svc")
        );
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.user: os.environ/ is resolved"
        ));
        let e = compile_text(&text).unwrap_err().to_string();
        assert_eq!(e, "config.yaml: model_list[0].litellm_params.user: environment variable DEFAULT_USER is not set (os.environ/DEFAULT_USER)");
    }

    #[test]
    fn unused_fields_are_warned() {
        let plan = compile_text(&one("      model: openai/x\n      tags: [a]\n      order: 1\n      aws_region_name: us-east-1\n      input_cost_per_token: 0.000001\n      bos_token: \"<s>\"\n")).unwrap();
        for needle in [
            ".tags: tag-based",
            ".order: order-based",
            ".aws_region_name: not used by openai",
            ".bos_token: prompt templates",
        ] {
            assert!(has_warning(&plan, needle), "{needle}: {:?}", plan.warnings);
        }
        // Custom prices are applied now, not warned about.
        assert!(!has_warning(&plan, ".input_cost_per_token"));
        assert_eq!(
            plan.deployments[0]
                .upstream
                .pricing
                .unwrap()
                .input_cost_per_token,
            1e-6
        );
    }
}
