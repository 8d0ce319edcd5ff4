//! The `model_list` entries (`model_name`, `litellm_params`, `model_info`) and
//! `credential_list`, with the rules serde cannot express.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_yaml::{Mapping, Value};
use std::collections::HashMap;

use super::env::check_env_name;
use super::{
    is_default, litellm_flag, null_as_default, Config, ConfigError, Warning, NOT_SUPPORTED,
};

/// One `model_list` entry: one deployment of a model group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// `model_name`: the name clients ask for; may hold `*` wildcards (`openai/*`).
    pub model_name: String,
    /// `litellm_params`: how to reach the deployment, and default request parameters.
    pub litellm_params: LitellmParams,
    /// `model_info`: the deployment's id and metadata.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_default"
    )]
    pub model_info: ModelInfo,
    /// Other keys of the entry (LiteLLM allows extras); reported as warnings.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `litellm_params` of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LitellmParams {
    /// `model`: `provider/provider-model-id` (`azure/my-deployment`,
    /// `openai/nvidia/llama-3.2-nv-embedqa-1b-v2`), or a bare well-known name (`gpt-4o`).
    pub model: String,
    /// `custom_llm_provider`: the provider, when `model` carries no prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_llm_provider: Option<String>,
    /// `api_base`: the provider's base URL (`https://x.openai.azure.com`, `http://vllm:8000/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// `api_key`; usually `os.environ/NAME`, read by the filter inside Envoy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `api_version`: Azure's `api-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `timeout`: seconds for a whole (non-streamed) call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// `stream_timeout`: seconds for a streamed call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout: Option<f64>,
    /// `max_retries`: retries of a failed call to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// `extra_headers`: headers added to every request to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<IndexMap<String, String>>,
    /// `headers`: older spelling of `extra_headers` (both are merged; `headers` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<IndexMap<String, String>>,
    /// `organization`: the OpenAI organization (`OpenAI-Organization` header), or a
    /// list of them: one deployment per organization (see [`Organization`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// `rpm`: requests per minute; a load-balancing weight under simple-shuffle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// `tpm`: tokens per minute; a load-balancing weight under simple-shuffle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// `weight`: the load-balancing weight (wins over `rpm` and `tpm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// `order`: priority for order-based fallback within a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// `max_parallel_requests`: concurrency limit of this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u64>,
    /// `tags`: tags for tag-based routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `input_cost_per_token`: custom price of a prompt token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// `output_cost_per_token`: custom price of a completion token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// `mock_response`: answer every call with this text, without calling a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_response: Option<String>,
    /// `aws_access_key_id` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// `aws_secret_access_key` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<String>,
    /// `aws_session_token` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_session_token: Option<String>,
    /// `aws_region_name` (Bedrock, SageMaker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region_name: Option<String>,
    /// `aws_bedrock_runtime_endpoint`: a custom Bedrock endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_bedrock_runtime_endpoint: Option<String>,
    /// `vertex_project` (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_project: Option<String>,
    /// `vertex_location` (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_location: Option<String>,
    /// `vertex_credentials`: a service-account file path or JSON (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub vertex_credentials: Option<Value>,
    /// `initial_prompt_value`: prompt template start (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_prompt_value: Option<String>,
    /// `roles`: prompt template per role (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub roles: Option<Value>,
    /// `final_prompt_value`: prompt template end (text-completion providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_prompt_value: Option<String>,
    /// `bos_token`: prompt template beginning-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token: Option<String>,
    /// `eos_token`: prompt template end-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token: Option<String>,
    /// `litellm_credential_name`: take `api_key`/`api_base`/`api_version` from this
    /// `credential_list` entry (values set here win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litellm_credential_name: Option<String>,
    /// `drop_params`: drop request parameters the provider does not accept
    /// (overrides `litellm_settings.drop_params`). Any of LiteLLM's flag forms.
    #[serde(
        default,
        deserialize_with = "litellm_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub drop_params: Option<bool>,
    /// Every other key, in YAML order: default request parameters (`temperature`,
    /// `max_tokens`, `seed`, …) or LiteLLM parameters Switchyard reports as ignored.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub params: IndexMap<String, Value>,
    /// The mapping exactly as written (key order, YAML scalars), for LiteLLM's
    /// deployment-id hash. Filled by [`parse_str`](super::parse_str); not serialized, never compared.
    #[serde(skip)]
    pub source: SourceMapping,
}

/// `litellm_params.organization`: one OpenAI organization, or several. For a list,
/// LiteLLM 1.108.14 creates one deployment per organization (`Router.set_model_list`,
/// router.py: "Addresses https://github.com/BerriAI/litellm/issues/3949"), all with
/// the entry's id; `plan::compile` does the same, except that each gets its own id
/// (`<entry id>-<organization>`), because the gateway tells deployments apart by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Organization {
    /// `organization: org-1`
    One(String),
    /// `organization: [org-1, org-2]`
    Many(Vec<String>),
}

impl Organization {
    /// Every organization named.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        match self {
            Organization::One(org) => std::slice::from_ref(org).iter(),
            Organization::Many(orgs) => orgs.iter(),
        }
    }
}

/// A `litellm_params` mapping as written in the file. Equality ignores it: where a
/// value came from does not change what the config means.
#[derive(Debug, Clone, Default)]
pub struct SourceMapping(pub Option<Mapping>);

impl PartialEq for SourceMapping {
    fn eq(&self, _: &SourceMapping) -> bool {
        true
    }
}

/// `model_info` of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelInfo {
    /// `id`: the deployment id (default: LiteLLM's hash of `model_name` and `litellm_params`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `mode`: `chat`, `completion`, `embedding`, `image_generation`, … — which
    /// endpoints the deployment serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `base_model`: the model to price by (Azure deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// `max_tokens`: informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// `max_input_tokens`: informational (context window checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// `max_output_tokens`: informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// `input_cost_per_token`: custom price of a prompt token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// `output_cost_per_token`: custom price of a completion token, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// `access_groups`: key access groups allowed to use this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_groups: Option<Vec<String>>,
    /// `forward_client_headers` (Switchyard's; LiteLLM keeps `model_info` as
    /// metadata): client headers that choose what the operator's account is billed
    /// for (`OpenAI-Organization`, `OpenAI-Project`, `x-goog-user-project`, …, see
    /// `switchyard_contract::billing_headers`) that this deployment lets through to its
    /// provider. Every other such header is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_client_headers: Option<Vec<String>>,
    /// Other metadata (`supports_vision`, `description`, …), kept as written.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub other: IndexMap<String, Value>,
}

/// One `credential_list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// `credential_name`: what `litellm_params.litellm_credential_name` refers to.
    pub credential_name: String,
    /// `credential_values`: `api_key`, `api_base`, `api_version`, ….
    #[serde(default, deserialize_with = "null_as_default")]
    pub credential_values: IndexMap<String, Value>,
    /// `credential_info`: free-form description.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub credential_info: IndexMap<String, Value>,
    /// Other keys, reported as ignored.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

/// `model_info` keys with a meaning in LiteLLM that Switchyard does not apply yet;
/// every other unmodelled `model_info` key is metadata (accepted, kept, no warning).
const MODEL_INFO_NOT_APPLIED: &[(&str, &str)] = &[
    (
        "supported_environments",
        "deployments are not filtered by LITELLM_ENVIRONMENT yet (LiteLLM serves this one only in the listed environments); served everywhere",
    ),
    (
        "input_cost_per_second",
        "prices per second are not applied yet; the deployment's spend is priced per token (or 0)",
    ),
    (
        "output_cost_per_second",
        "prices per second are not applied yet; the deployment's spend is priced per token (or 0)",
    ),
];

impl Config {
    pub(super) fn validate_model_list(
        &self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        let file = self.file_name.as_str();
        if self.model_list.is_empty() {
            warnings.push(Warning::new(
                "model_list",
                "no models are configured; every LLM call will be answered 400 (unknown model)",
            ));
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, entry) in self.model_list.iter().enumerate() {
            let p = format!("model_list[{i}]");
            if entry.model_name.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.model_name"),
                    "must not be empty",
                ));
            }
            for key in entry.other.keys() {
                warnings.push(Warning::new(
                    format!("{p}.{key}"),
                    "unknown key in a model_list entry; ignored",
                ));
            }
            // model_info is metadata, kept as written, except for these, which change
            // what LiteLLM serves or charges.
            for (key, message) in MODEL_INFO_NOT_APPLIED {
                if entry.model_info.other.contains_key(*key) {
                    warnings.push(Warning::new(format!("{p}.model_info.{key}"), *message));
                }
            }
            entry
                .litellm_params
                .validate(file, &p, &self.credential_list)?;
            if let Some(id) = &entry.model_info.id {
                if id.trim().is_empty() {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.model_info.id"),
                        "must not be empty",
                    ));
                }
                if let Some(first) = ids.insert(id, i) {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.model_info.id"),
                        format!("deployment id {id:?} is already used by model_list[{first}]"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn validate_credentials(
        &self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), ConfigError> {
        let file = self.file_name.as_str();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, cred) in self.credential_list.iter().enumerate() {
            let p = format!("credential_list[{i}]");
            if cred.credential_name.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.credential_name"),
                    "must not be empty",
                ));
            }
            if let Some(first) = names.insert(&cred.credential_name, i) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.credential_name"),
                    format!(
                        "{:?} is already the name of credential_list[{first}]",
                        cred.credential_name
                    ),
                ));
            }
            for key in cred.other.keys() {
                warnings.push(Warning::new(
                    format!("{p}.{key}"),
                    "unknown key in a credential_list entry; ignored",
                ));
            }
            for (key, value) in &cred.credential_values {
                if !matches!(key.as_str(), "api_key" | "api_base" | "api_version") {
                    warnings.push(Warning::new(
                        format!("{p}.credential_values.{key}"),
                        NOT_SUPPORTED,
                    ));
                    continue;
                }
                match value {
                    Value::String(s) => {
                        check_env_name(file, &format!("{p}.credential_values.{key}"), s)?
                    }
                    Value::Number(_) => {}
                    _ => {
                        return Err(ConfigError::at(
                            file,
                            format!("{p}.credential_values.{key}"),
                            "expected a string",
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// The credential named `name`, if any.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.credential_list
            .iter()
            .find(|c| c.credential_name == name)
    }
}

impl LitellmParams {
    fn validate(
        &self,
        file: &str,
        entry: &str,
        credentials: &[Credential],
    ) -> Result<(), ConfigError> {
        let p = format!("{entry}.litellm_params");
        let model = self.model.trim();
        let malformed = model.is_empty()
            || model.starts_with('/')
            || model.ends_with('/')
            || model.chars().any(char::is_whitespace);
        if malformed {
            return Err(ConfigError::at(
                file,
                format!("{p}.model"),
                format!("expected \"provider/model-id\", got {:?}", self.model),
            ));
        }
        for (name, value) in [
            ("api_base", &self.api_base),
            ("api_key", &self.api_key),
            ("api_version", &self.api_version),
        ] {
            if let Some(v) = value {
                check_env_name(file, &format!("{p}.{name}"), v)?;
            }
        }
        for (i, org) in self
            .organization
            .iter()
            .flat_map(Organization::all)
            .enumerate()
        {
            let path = match &self.organization {
                Some(Organization::Many(_)) => format!("{p}.organization[{i}]"),
                _ => format!("{p}.organization"),
            };
            check_env_name(file, &path, org)?;
        }
        if let Some(w) = self.weight {
            if !(w.is_finite() && w >= 0.0) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.weight"),
                    format!("expected a number ≥ 0, got {w}"),
                ));
            }
        }
        for (name, value) in [
            ("timeout", self.timeout),
            ("stream_timeout", self.stream_timeout),
        ] {
            if let Some(t) = value {
                if !(t.is_finite() && t > 0.0) {
                    return Err(ConfigError::at(
                        file,
                        format!("{p}.{name}"),
                        format!("expected a number of seconds > 0, got {t}"),
                    ));
                }
            }
        }
        if let Some(name) = &self.litellm_credential_name {
            if !credentials.iter().any(|c| &c.credential_name == name) {
                return Err(ConfigError::at(
                    file,
                    format!("{p}.litellm_credential_name"),
                    format!("no credential named {name:?} in credential_list"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn missing_model_is_named() {
        let e =
            err("model_list:\n  - model_name: a\n    litellm_params:\n      api_base: http://x\n");
        assert!(
            e.contains("model_list[0].litellm_params: missing field `model`"),
            "{e}"
        );
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/x}\n  - model_name: c\n    litellm_params: {model: \"\"}\n");
        assert_eq!(
            e,
            "config.yaml: model_list[2].litellm_params.model: expected \"provider/model-id\", got \"\""
        );
    }

    #[test]
    fn model_info_keys_with_a_meaning_are_warned_metadata_is_not() {
        // configs.md "Set Supported Environments"; custom_pricing.md "Cost Per Second";
        // configs.md "Quick Start" (`version: 2`, metadata).
        let (_, warnings) = parse("model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n    model_info:\n      supported_environments: [production]\n      input_cost_per_second: 0.00042\n      version: 2\n      health_check_model: openai/gpt-4o-mini\n").unwrap();
        assert!(warned(
            &warnings,
            "model_list[0].model_info.supported_environments"
        ));
        assert!(warned(
            &warnings,
            "model_list[0].model_info.input_cost_per_second"
        ));
        assert!(!warned(&warnings, "model_list[0].model_info.version"));
        assert!(!warned(
            &warnings,
            "model_list[0].model_info.health_check_model"
        ));
    }

    #[test]
    fn organization_may_be_a_list() {
        let (config, _) = parse("model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: openai/*\n      organization:\n       - org-1\n       - org-2\n").unwrap();
        assert_eq!(
            config.model_list[0].litellm_params.organization,
            Some(Organization::Many(vec!["org-1".into(), "org-2".into()]))
        );
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/a\n      organization: [org-1, os.environ/]\n");
        assert!(
            e.contains(
                "model_list[0].litellm_params.organization[1]: \"os.environ/\" does not name"
            ),
            "{e}"
        );
    }

    #[test]
    fn default_params_keep_yaml_order() {
        let (config, _) = parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      temperature: 0.2\n      seed: 7\n      max_tokens: 100\n      api_key: os.environ/K\n",
        )
        .unwrap();
        let params = &config.model_list[0].litellm_params;
        let keys: Vec<&String> = params.params.keys().collect();
        assert_eq!(keys, ["temperature", "seed", "max_tokens"]);
        assert_eq!(
            params.api_key.as_deref(),
            Some("os.environ/K"),
            "api_key stays deferred"
        );
        let source: Vec<&str> = params
            .source
            .0
            .as_ref()
            .unwrap()
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(
            source,
            ["model", "temperature", "seed", "max_tokens", "api_key"]
        );
    }

    #[test]
    fn duplicate_ids_and_unknown_credentials_are_errors() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {id: one}\n  - model_name: b\n    litellm_params: {model: openai/y}\n    model_info: {id: one}\n");
        assert!(e.contains("model_list[1].model_info.id: deployment id \"one\" is already used by model_list[0]"), "{e}");
        let e = err("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, litellm_credential_name: nope}\n");
        assert!(e.contains("model_list[0].litellm_params.litellm_credential_name: no credential named \"nope\""), "{e}");
    }
}
