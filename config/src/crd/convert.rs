//! Custom resources to the config model: reading `ModelGroup`, `RouterSettings` and
//! `VirtualKey` documents from YAML files (multi-document, other kinds skipped), and
//! turning a set of them into the same [`Config`] a `config.yaml` loads into, so that
//! `render --from-crd`, the operator and `render --config` share one compiler.
//!
//! Each deployment becomes a `model_list` entry with the group's `model_name` and its
//! `litellm_params` in the order written (LiteLLM's deployment-id hash depends on it);
//! `apiKeySecretRef` becomes `api_key: os.environ/<VARIABLE>` in its place, and the
//! variable is listed ([`SecretVariable`]) so that whoever runs Envoy sets it from the
//! Secret. The config is then parsed and validated by `litellm::parse_str`, and every
//! error or warning it gives is mapped back to the resource: file, `Kind/name` and the
//! field under `spec` ([`Origins::error`]).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::{Mapping, Value};
use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    ModelGroup, RouterSettings, SecretKeyRef, VirtualKey, API_KEY, API_KEY_SECRET_REF, API_VERSION,
    GROUP, MODEL_GROUP, ROUTER_SETTINGS, VIRTUAL_KEY,
};
use crate::litellm::{self, Config, ConfigError, EnvLookup, Warning, ENV_PREFIX};

/// The name the synthesized config is parsed under; errors naming it are mapped back.
const SYNTHESIZED: &str = "<custom resources>";

/// Where a resource came from: a file (offline) or the API server (the operator), its
/// kind and its name (`namespace/name` from the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file it was read from; empty for a resource from the API server.
    pub file: String,
    /// `ModelGroup`, `RouterSettings` or `VirtualKey`.
    pub kind: &'static str,
    /// `metadata.name` (with the namespace: `namespace/name`, when known).
    pub name: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// An error about one resource (or one file): where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdError {
    /// The resource, when the error is about one (else the file alone, in `file`).
    pub origin: Option<Box<Origin>>,
    /// The file, for an error before any resource was read (YAML syntax).
    pub file: String,
    /// The field (`spec.deployments[1].litellm_params.model`); may be empty.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl CrdError {
    fn at(origin: &Origin, field: impl Into<String>, message: impl Into<String>) -> CrdError {
        CrdError {
            origin: Some(Box::new(origin.clone())),
            file: origin.file.clone(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CrdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}")?,
            None => write!(f, "{}", self.file)?,
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CrdError {}

/// A resource and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    /// Where it came from.
    pub origin: Origin,
    /// The resource.
    pub resource: T,
}

/// Every Switchyard resource of a set, in the order read.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// `ModelGroup`s.
    pub model_groups: Vec<Sourced<ModelGroup>>,
    /// `RouterSettings` (at most one may be used).
    pub router_settings: Vec<Sourced<RouterSettings>>,
    /// `VirtualKey`s (not part of the Envoy config: the operator applies them to the
    /// keyservice).
    pub virtual_keys: Vec<Sourced<VirtualKey>>,
}

/// A variable Envoy must have, with the Secret key it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVariable {
    /// The variable (`os.environ/<env>` in the rendered plugin config).
    pub env: String,
    /// The Secret's name.
    pub secret: String,
    /// The key in the Secret.
    pub key: String,
}

/// The files under `paths`: each file as given, each directory's `*.yaml`/`*.yml`
/// files (recursively), sorted by path so the result does not depend on the file system.
pub fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_yaml(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(files)
}

fn collect_yaml(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            collect_yaml(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads every Switchyard resource from `files` (multi-document YAML). Documents of
/// other API groups (Secrets, Deployments, a kustomization) are skipped; a document
/// of `switchyard.dev` that is not a known kind and version is an error.
pub fn read_files(files: &[PathBuf]) -> Result<Resources, CrdError> {
    let mut resources = Resources::default();
    for path in files {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CrdError {
            origin: None,
            file: file.clone(),
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        read_text(&text, &file, &mut resources)?;
    }
    Ok(resources)
}

/// [`read_files`] for one file's text.
pub fn read_text(text: &str, file: &str, resources: &mut Resources) -> Result<(), CrdError> {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let file_error = |message: String| CrdError {
            origin: None,
            file: file.to_string(),
            field: String::new(),
            message,
        };
        let value = Value::deserialize(document)
            .map_err(|e| file_error(format!("document {}: {e}", index + 1)))?;
        if value.is_null() {
            continue;
        }
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
        if group != GROUP {
            continue;
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                file_error(format!(
                    "document {}: a {kind} without metadata.name",
                    index + 1
                ))
            })?
            .to_string();
        let known = [MODEL_GROUP, ROUTER_SETTINGS, VIRTUAL_KEY];
        let Some(kind) = known.iter().find(|k| **k == kind).copied() else {
            return Err(file_error(format!(
                "document {}: unknown kind {kind:?} in {GROUP} (expected one of {})",
                index + 1,
                known.join(", ")
            )));
        };
        let origin = Origin {
            file: file.to_string(),
            kind,
            name,
        };
        if api_version != API_VERSION {
            return Err(CrdError::at(
                &origin,
                "apiVersion",
                format!("{api_version:?} is not served; expected {API_VERSION:?}"),
            ));
        }
        match kind {
            MODEL_GROUP => resources.model_groups.push(typed(value, origin)?),
            ROUTER_SETTINGS => resources.router_settings.push(typed(value, origin)?),
            _ => resources.virtual_keys.push(typed(value, origin)?),
        }
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(value: Value, origin: Origin) -> Result<Sourced<T>, CrdError> {
    let resource =
        serde_yaml::from_value(value).map_err(|e| CrdError::at(&origin, "spec", e.to_string()))?;
    Ok(Sourced { origin, resource })
}

/// Where each `model_list` entry of the synthesized config came from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// `model_list[i]` → its resource and deployment index (`None`: the base
    /// config.yaml's own entry).
    entries: Vec<Option<(Origin, usize)>>,
    /// The base config.yaml, if any: errors about its own parts name it.
    base_file: String,
    /// The `RouterSettings` used, if any.
    router: Option<Origin>,
}

impl Origins {
    /// Maps an error about the synthesized config back to the resource and field.
    pub fn error(&self, error: &ConfigError) -> CrdError {
        let path = if error.path.is_empty() {
            // serde's messages start with the path (`model_list[0].litellm_params: …`).
            error.message.split(": ").next().unwrap_or("").to_string()
        } else {
            error.path.clone()
        };
        let message = if error.path.is_empty() {
            error
                .message
                .strip_prefix(&format!("{path}: "))
                .unwrap_or(&error.message)
                .to_string()
        } else {
            error.message.clone()
        };
        match self.locate(&path) {
            Some((origin, field)) => CrdError::at(&origin, field, message),
            None => CrdError {
                origin: None,
                file: self.base_file.clone(),
                field: path,
                message,
            },
        }
    }

    /// A warning about the synthesized config, as `file: Kind/name: field: message`.
    pub fn warning(&self, warning: &Warning) -> String {
        match self.locate(&warning.path) {
            Some((origin, field)) if field.is_empty() => {
                format!("{origin}: {}", warning.message)
            }
            Some((origin, field)) => format!("{origin}: {field}: {}", warning.message),
            None => warning.to_string(),
        }
    }

    /// A compiler warning line (`path: message`) about the synthesized config, mapped
    /// as [`Origins::warning`] maps a [`Warning`].
    pub fn warning_line(&self, line: &str) -> String {
        match line.split_once(": ") {
            Some((path, message)) => self.warning(&Warning::new(path, message)),
            None => line.to_string(),
        }
    }

    /// The resource and its field for a path in the synthesized config.
    fn locate(&self, path: &str) -> Option<(Origin, String)> {
        if let Some(rest) = path.strip_prefix("model_list[") {
            let (index, rest) = rest.split_once(']')?;
            let (origin, deployment) = self.entries.get(index.parse::<usize>().ok()?)?.as_ref()?;
            let rest = rest.strip_prefix('.').unwrap_or(rest);
            let field = if rest == "model_name" {
                "spec.model_name".to_string()
            } else if rest.is_empty() {
                format!("spec.deployments[{deployment}]")
            } else {
                let rest = rest.replace(
                    &format!("litellm_params.{API_KEY}"),
                    &format!("litellm_params.{API_KEY_SECRET_REF}"),
                );
                format!("spec.deployments[{deployment}].{rest}")
            };
            return Some((origin.clone(), field));
        }
        let router = self.router.as_ref()?;
        let rest = path.strip_prefix("router_settings")?;
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        let field = if rest.is_empty() {
            "spec".to_string()
        } else {
            format!("spec.{rest}")
        };
        Some((router.clone(), field))
    }
}

/// What a set of resources compiles from: the config, where each part came from,
/// and the variables Envoy needs from Secrets.
#[derive(Debug, Clone)]
pub struct CrdConfig {
    /// The config, as `litellm::load` would give it for the equivalent config.yaml.
    pub config: Config,
    /// Its warnings, mapped to the resources.
    pub warnings: Vec<String>,
    /// Where each part came from, to map the compiler's errors and warnings.
    pub origins: Origins,
    /// Every variable a Secret reference became, in the order first seen.
    pub secrets: Vec<SecretVariable>,
}

/// A config.yaml the resources are added to: its settings (`general_settings`:
/// master key, database; `litellm_settings`, …) and its own `model_list` entries,
/// which come first. A `RouterSettings` resource replaces its `router_settings`.
#[derive(Debug, Clone, Default)]
pub struct Base {
    /// The file's name, for messages.
    pub file: String,
    /// Its top-level mapping.
    pub root: Mapping,
}

/// Reads a base config.yaml (without `include`).
pub fn read_base(path: &Path) -> Result<Base, String> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read the file: {e}"))?;
    let root = match serde_yaml::from_str::<Value>(&text).map_err(|e| format!("{file}: {e}"))? {
        Value::Mapping(root) => root,
        Value::Null => Mapping::new(),
        _ => return Err(format!("{file}: expected a mapping")),
    };
    if root.contains_key("include") {
        return Err(format!("{file}: include: not supported in a base config beside resources; merge the files first"));
    }
    Ok(Base { file, root })
}

/// Turns `resources` (added to `base`, if given) into the config model (see the module).
pub fn to_config(
    resources: &Resources,
    base: Option<&Base>,
    env: EnvLookup<'_>,
) -> Result<CrdConfig, CrdError> {
    let mut root = base.map(|b| b.root.clone()).unwrap_or_default();
    let mut origins = Origins {
        base_file: base.map(|b| b.file.clone()).unwrap_or_default(),
        ..Origins::default()
    };
    let mut model_list = match root.remove("model_list") {
        Some(Value::Sequence(entries)) => entries,
        _ => Vec::new(),
    };
    origins.entries = vec![None; model_list.len()];
    let mut secrets: Vec<(SecretVariable, Origin)> = Vec::new();
    for Sourced { origin, resource } in &resources.model_groups {
        for (j, deployment) in resource.spec.deployments.iter().enumerate() {
            let field = format!("spec.deployments[{j}].litellm_params");
            let params =
                litellm_params(&deployment.litellm_params.0, origin, &field, &mut secrets)?;
            let mut entry = Mapping::new();
            entry.insert(
                Value::String("model_name".into()),
                Value::String(resource.spec.model_name.clone()),
            );
            entry.insert(
                Value::String("litellm_params".into()),
                Value::Mapping(params),
            );
            if let Some(info) = &deployment.model_info {
                let field = format!("spec.deployments[{j}].model_info");
                entry.insert(
                    Value::String("model_info".into()),
                    yaml(&Json::Object(info.0.clone()), origin, &field)?,
                );
            }
            model_list.push(Value::Mapping(entry));
            origins.entries.push(Some((origin.clone(), j)));
        }
    }
    if !model_list.is_empty() {
        root.insert(
            Value::String("model_list".into()),
            Value::Sequence(model_list),
        );
    }
    match resources.router_settings.as_slice() {
        [] => {}
        [Sourced { origin, resource }] => {
            let settings = yaml(
                &Json::Object(resource.spec.settings.0.clone()),
                origin,
                "spec",
            )?;
            root.insert(Value::String("router_settings".into()), settings);
            origins.router = Some(origin.clone());
        }
        [first, second, ..] => {
            return Err(CrdError::at(
                &second.origin,
                "",
                format!(
                    "only one RouterSettings may apply; {} is another",
                    first.origin
                ),
            ))
        }
    }
    let text = serde_yaml::to_string(&Value::Mapping(root)).map_err(|e| CrdError {
        origin: None,
        file: String::new(),
        field: String::new(),
        message: format!("cannot build the config: {e}"),
    })?;
    let file_name = base.map(|b| b.file.as_str()).unwrap_or(SYNTHESIZED);
    let (config, warnings) =
        litellm::parse_str(&text, file_name, env).map_err(|e| origins.error(&e))?;
    let warnings = warnings.iter().map(|w| origins.warning(w)).collect();
    Ok(CrdConfig {
        config,
        warnings,
        origins,
        secrets: secrets.into_iter().map(|(v, _)| v).collect(),
    })
}

/// A deployment's `litellm_params` as config.yaml has them: `apiKeySecretRef` becomes
/// `api_key: os.environ/<VARIABLE>` in its place; a literal `api_key` is refused.
fn litellm_params(
    written: &serde_json::Map<String, Json>,
    origin: &Origin,
    field: &str,
    secrets: &mut Vec<(SecretVariable, Origin)>,
) -> Result<Mapping, CrdError> {
    let mut params = Mapping::new();
    for (key, value) in written {
        if key == API_KEY {
            return Err(CrdError::at(
                origin,
                format!("{field}.{API_KEY}"),
                format!("a literal key is not allowed in a resource; reference a Secret with {API_KEY_SECRET_REF}: {{name, key}}"),
            ));
        }
        if key != API_KEY_SECRET_REF {
            params.insert(Value::String(key.clone()), yaml(value, origin, field)?);
            continue;
        }
        let here = format!("{field}.{API_KEY_SECRET_REF}");
        let reference: SecretKeyRef = serde_json::from_value(value.clone())
            .map_err(|e| CrdError::at(origin, here.clone(), e.to_string()))?;
        let env_name = reference.env_name();
        litellm::check_env_name("", "", &format!("{ENV_PREFIX}{env_name}"))
            .map_err(|e| CrdError::at(origin, format!("{here}.env"), e.message))?;
        let variable = SecretVariable {
            env: env_name.clone(),
            secret: reference.name,
            key: reference.key,
        };
        match secrets.iter().find(|(v, _)| v.env == env_name) {
            Some((seen, first)) if *seen != variable => {
                return Err(CrdError::at(
                    origin,
                    format!("{here}.env"),
                    format!(
                        "variable {env_name} already carries Secret {}/{} for {first}; give this reference another env",
                        seen.secret, seen.key
                    ),
                ))
            }
            Some(_) => {}
            None => secrets.push((variable, origin.clone())),
        }
        params.insert(
            Value::String(API_KEY.into()),
            Value::String(format!("{ENV_PREFIX}{env_name}")),
        );
    }
    Ok(params)
}

/// A JSON value of a resource as YAML.
fn yaml(value: &Json, origin: &Origin, field: &str) -> Result<Value, CrdError> {
    serde_yaml::to_value(value).map_err(|e| CrdError::at(origin, field, e.to_string()))
}

/// Reads `paths` (files and directories) and converts the resources, added to the
/// config.yaml `base` if given (see [`read_files`], [`to_config`]).
pub fn load(
    paths: &[PathBuf],
    base: Option<&Path>,
    env: EnvLookup<'_>,
) -> Result<(Resources, CrdConfig), String> {
    let base = base.map(read_base).transpose()?;
    let files = yaml_files(paths)?;
    let resources = read_files(&files).map_err(|e| e.to_string())?;
    let config = to_config(&resources, base.as_ref(), env).map_err(|e| e.to_string())?;
    Ok((resources, config))
}
