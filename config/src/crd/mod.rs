//! Switchyard's Kubernetes custom resources (group `switchyard.dev`, version
//! `v1alpha1`): `ModelGroup` (a `model_name` and its deployments), `RouterSettings`
//! and `VirtualKey` (GitOps keys), with the CRDs that install them.
//!
//! The schemas are not written by hand: a deployment's `litellm_params` and
//! `model_info` and the `RouterSettings` spec take the JSON schema of the config
//! model's own types ([`LitellmParams`], [`ModelInfo`], [`LitellmRouterSettings`],
//! derived with schemars), so a CRD cannot accept what `config.yaml` would refuse or
//! miss a field it takes. The one difference is deliberate: a deployment's key is a
//! reference to a Secret (`apiKeySecretRef: {name, key}`), never a literal value.
//!
//! A custom resource's spec keeps the mapping as written (key order included, as
//! LiteLLM's deployment-id hash depends on it); [`convert`] turns a set of them into
//! the same config model `config.yaml` loads into, and errors there name the file,
//! the resource and the field. [`structural`] checks the generated schemas against
//! Kubernetes' rules for structural schemas. `switchyard crds --out DIR` writes the
//! CRDs ([`write_crds`]); `deploy/kubernetes/crds/` holds the committed copy.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::litellm::{LitellmParams, ModelInfo, RouterSettings as LitellmRouterSettings};

pub mod convert;
pub mod structural;

/// The API group of every Switchyard resource.
pub const GROUP: &str = "switchyard.dev";
/// The one version served (and stored).
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every Switchyard resource (`switchyard.dev/v1alpha1`).
pub const API_VERSION: &str = "switchyard.dev/v1alpha1";
/// The `ModelGroup` kind.
pub const MODEL_GROUP: &str = "ModelGroup";
/// The `RouterSettings` kind.
pub const ROUTER_SETTINGS: &str = "RouterSettings";
/// The `VirtualKey` kind.
pub const VIRTUAL_KEY: &str = "VirtualKey";
/// The field of a deployment's `litellm_params` that replaces `api_key`.
pub const API_KEY_SECRET_REF: &str = "apiKeySecretRef";
/// The `litellm_params` field a secret reference stands for.
pub const API_KEY: &str = "api_key";

/// One key of a Kubernetes Secret in the resource's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key inside the Secret.
    pub key: String,
    /// The environment variable Envoy reads the value from (the filter reads
    /// `os.environ/<env>`); default: derived from the Secret's name and key
    /// (`SWITCHYARD_SECRET_<NAME>_<KEY>`, upper case, `_` for anything else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

impl SecretKeyRef {
    /// The environment variable that carries the value into Envoy.
    pub fn env_name(&self) -> String {
        match &self.env {
            Some(env) => env.clone(),
            None => {
                let mangle = |s: &str| -> String {
                    s.chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() {
                                c.to_ascii_uppercase()
                            } else {
                                '_'
                            }
                        })
                        .collect()
                };
                format!(
                    "SWITCHYARD_SECRET_{}_{}",
                    mangle(&self.name),
                    mangle(&self.key)
                )
            }
        }
    }
}

/// One status condition, Kubernetes' `metav1.Condition` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready` or `Invalid`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase word saying why (`Applied`, `InvalidSpec`, `SecretNotFound`, …).
    pub reason: String,
    /// What is wrong, naming the field; or what was applied.
    pub message: String,
    /// The resource generation this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `status` last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// The status of every Switchyard resource: conditions, set by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (applied) and `Invalid` (refused, with the reason).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A deployment's `litellm_params`, as written: the config's `litellm_params` with
/// `apiKeySecretRef` in place of `api_key`. Its schema is [`LitellmParams`]'s.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrdLitellmParams(pub Map<String, Value>);

impl JsonSchema for CrdLitellmParams {
    fn schema_name() -> Cow<'static, str> {
        "CrdLitellmParams".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = generator.subschema_for::<LitellmParams>();
        let secret_ref = generator.subschema_for::<SecretKeyRef>();
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            properties.shift_remove(API_KEY);
            let mut secret_ref = secret_ref.to_value();
            if let Some(object) = secret_ref.as_object_mut() {
                object.insert(
                    "description".into(),
                    Value::String(
                        "The deployment's API key: a key of a Secret (config.yaml's `api_key: os.environ/NAME`). A literal `api_key` is refused.".into(),
                    ),
                );
            }
            properties.insert(API_KEY_SECRET_REF.into(), secret_ref);
        }
        schema
    }
}

/// A deployment's `model_info`, as written. Its schema is [`ModelInfo`]'s.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrdModelInfo(pub Map<String, Value>);

impl JsonSchema for CrdModelInfo {
    fn schema_name() -> Cow<'static, str> {
        "CrdModelInfo".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<ModelInfo>()
    }
}

/// One deployment of a model group: a `model_list` entry without its `model_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// How to reach the deployment (config.yaml's `litellm_params`).
    pub litellm_params: CrdLitellmParams,
    /// The deployment's id and metadata (config.yaml's `model_info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_info: Option<CrdModelInfo>,
}

/// A model group: the name clients ask for and the deployments that serve it
/// (config.yaml's `model_list` entries that share a `model_name`).
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "ModelGroup",
    doc = "A Switchyard model group: a `model_name` and the deployments that serve it.",
    namespaced,
    status = "ResourceStatus",
    shortname = "mg",
    category = "switchyard",
    printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.model_name"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(deny_unknown_fields)]
pub struct ModelGroupSpec {
    /// The name clients ask for (config.yaml's `model_name`); may hold `*` wildcards.
    pub model_name: String,
    /// The deployments, in order (load-balanced as config.yaml's entries are).
    pub deployments: Vec<Deployment>,
}

/// Router settings (config.yaml's `router_settings`); at most one per namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrdRouterSettings(pub Map<String, Value>);

impl JsonSchema for CrdRouterSettings {
    fn schema_name() -> Cow<'static, str> {
        "CrdRouterSettings".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<LitellmRouterSettings>()
    }
}

/// The spec of a `RouterSettings` resource: config.yaml's `router_settings`, as is.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "RouterSettings",
    doc = "Switchyard's router settings (config.yaml's `router_settings`); at most one per namespace.",
    plural = "routersettings",
    namespaced,
    status = "ResourceStatus",
    category = "switchyard"
)]
pub struct RouterSettingsSpec {
    /// The settings (`routing_strategy`, `num_retries`, `fallbacks`, …).
    #[serde(flatten)]
    pub settings: CrdRouterSettings,
}

/// A virtual key for GitOps: the key's value comes from a Secret, the rest are
/// LiteLLM's `/key/generate` fields. The operator applies it to the keyservice.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "VirtualKey",
    doc = "A Switchyard virtual key for GitOps: its value from a Secret, its models, budget and limits.",
    namespaced,
    status = "ResourceStatus",
    shortname = "vk",
    category = "switchyard",
    printcolumn = r#"{"name":"Alias","type":"string","jsonPath":".spec.key_alias"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(deny_unknown_fields)]
pub struct VirtualKeySpec {
    /// The key's value (`sk-…`): a key of a Secret in the resource's namespace.
    #[serde(rename = "keySecretRef")]
    pub key_secret_ref: KeyValueRef,
    /// `key_alias`: a name for the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_alias: Option<String>,
    /// `models`: the model groups the key may call (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// `max_budget`: the most the key may spend (USD) per budget period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    /// `soft_budget`: spend past which LiteLLM would alert (stored, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_budget: Option<f64>,
    /// `budget_duration`: how often spend resets (`30s`, `1h`, `30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<String>,
    /// `rpm_limit`: requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<i64>,
    /// `tpm_limit`: tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_limit: Option<i64>,
    /// `max_parallel_requests`: requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<i64>,
    /// `user_id`: the internal user the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `team_id`: the team the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// `aliases`: requested model → model group, for this key.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub aliases: std::collections::BTreeMap<String, String>,
    /// `metadata`: free-form data kept with the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub metadata: Option<Map<String, Value>>,
    /// `blocked`: a blocked key is refused until unblocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
}

/// Where a virtual key's value is: a key of a Secret (no `env`: the operator reads
/// the Secret itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValueRef {
    /// The Secret's name.
    pub name: String,
    /// The key inside the Secret.
    pub key: String,
}

/// A JSON object with any content (`metadata`), kept as given.
fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": true,
    })
}

/// Every CRD, with the file name it is committed under, in a fixed order.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("modelgroups.yaml", ModelGroup::crd()),
        ("routersettings.yaml", RouterSettings::crd()),
        ("virtualkeys.yaml", VirtualKey::crd()),
    ]
}

/// The YAML text of one CRD, as committed (a header line, then the object).
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, String> {
    let mut value =
        serde_json::to_value(crd).map_err(|e| format!("cannot serialize a CRD: {e}"))?;
    structural::make_structural(&mut value);
    let body = serde_yaml::to_string(&value).map_err(|e| format!("cannot write a CRD: {e}"))?;
    Ok(format!(
        "# Generated by `switchyard crds` from the config model's types; do not edit.\n{body}"
    ))
}

/// Writes every CRD into `dir` (created if missing); returns the paths written.
pub fn write_crds(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (name, crd) in crds() {
        let path = dir.join(name);
        std::fs::write(&path, crd_yaml(&crd)?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
