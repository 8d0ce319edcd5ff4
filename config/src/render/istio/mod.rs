//! `switchyard render --target istio`: the plan as Kubernetes and Istio objects for a
//! mesh whose Envoy runs the filter.
//!
//! The Envoy configuration is the envoy target's, built by the same builders
//! (`render::parts`): this module only carries it into Istio's objects.
//!
//! - **Where the filter runs**: a gateway Deployment of its own
//!   (`switchyard-gateway`, Istio's gateway injection: `image: auto`,
//!   `inject.istio.io/templates: gateway`) with its `Service` on the listener port,
//!   and the Istio `Gateway` and `VirtualService` that make Istio build its listener
//!   and route configuration ([`workloads`]).
//! - **One `EnvoyFilter`** ([`envoy_filter`]) patches that Envoy: the listener's buffer
//!   limit, the HTTP connection manager's local replies and access log, the router and
//!   responder stages and ext_authz before Envoy's router, the routes, and every
//!   cluster (route clusters with endpoint metadata and priorities, outlier detection,
//!   their upstream stage; the keyservice's; the filter's own callouts'; the `/health`
//!   probes'). Each wasm filter is an `EXTENSION_CONFIG` (ECDS) resource whose code is
//!   the `oci://` wasm image: istio-agent pulls it and hands Envoy a local file, so
//!   every stage runs in one VM (`vm_id: switchyard`), as the envoy target's do.
//! - **No `WasmPlugin`**: its fields do not suffice for any stage. Every stage
//!   returns `StopIteration` from its header callback and needs
//!   `allow_on_headers_stop_iteration` (Envoy 1.35), which a WasmPlugin cannot set (as
//!   of Istio 1.30's `extensions.istio.io/v1alpha1`); without it Envoy turns the pause
//!   into `StopAllIterationAndWatermark` and the stage never sees the request body.
//!   And the stages share per-worker state (the spend queue, the router's tables),
//!   so they must share one VM, whose `vm_id` a WasmPlugin cannot set either.
//! - **`ServiceEntry` + `DestinationRule`** per provider host ([`providers`]).
//! - **The keyservice** `Deployment` + `Service` when virtual keys are on.
//!
//! Secrets are never written: every variable the filter or the keyservice reads comes
//! from a `Secret` (`--secret-name`) through `valueFrom.secretKeyRef`, and a config
//! that writes a secret into `config.yaml` (a literal `master_key` or `api_key`) is
//! refused.

// Objects are built with `json!` and filled in by indexing the `serde_json::Value`
// objects just built, as in the parent module (see its note).
#![allow(clippy::indexing_slicing)]

pub mod assemble;
pub mod envoy_filter;
pub mod providers;
pub mod workloads;

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchyard_contract::plugin_config::Setting;
use switchyard_contract::providers::{KeyRule, Preset};

use super::{RenderOptions, DEFAULT_CA_FILE};
use crate::plan::Plan;

/// The wasm image `--wasm-image` defaults to (an OCI image holding just the `.wasm`).
pub const DEFAULT_WASM_IMAGE: &str = "ghcr.io/switchyard-gateway/switchyard-wasm:latest";
/// The image `--image` defaults to (it holds `switchyard-keyservice`).
pub const DEFAULT_IMAGE: &str = "ghcr.io/switchyard-gateway/switchyard:latest";
/// The Secret `--secret-name` defaults to.
pub const DEFAULT_SECRET_NAME: &str = "switchyard-secrets";
/// The namespace `--namespace` defaults to.
pub const DEFAULT_NAMESPACE: &str = "switchyard";
/// The file `render --target istio` writes into `--out`.
pub const MANIFEST_FILE: &str = "istio.yaml";
/// The port of Envoy's admin endpoint in Istio's proxies (loopback only): `GET
/// /metrics` appends Envoy's stats from it.
pub const ISTIO_ADMIN_PORT: u16 = 15000;
/// The variable the keyservice reads its database from.
pub use crate::plan::DATABASE_URL_VARIABLE;

/// What `--target istio` needs beyond the plan.
#[derive(Debug, Clone)]
pub struct IstioOptions {
    /// The namespace every object goes into.
    pub namespace: String,
    /// The OCI image of the `.wasm` (`oci://` is prepended).
    pub wasm_image: String,
    /// The image that runs `switchyard-keyservice`.
    pub image: String,
    /// The Secret every secret variable comes from.
    pub secret_name: String,
    /// The gateway's listener port (its Service's port too).
    pub port: u16,
    /// CA bundle in the proxy image that verifies TLS upstreams.
    pub ca_file: String,
}

impl Default for IstioOptions {
    fn default() -> Self {
        IstioOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            wasm_image: DEFAULT_WASM_IMAGE.to_string(),
            image: DEFAULT_IMAGE.to_string(),
            secret_name: DEFAULT_SECRET_NAME.to_string(),
            port: 4000,
            ca_file: DEFAULT_CA_FILE.to_string(),
        }
    }
}

/// The rendered objects, in the order `kubectl apply` should create them.
#[derive(Debug)]
pub struct IstioRendered {
    /// Every Kubernetes and Istio object.
    pub objects: Vec<Value>,
    /// The keys the Secret must hold (each a variable of the same name).
    pub secret_keys: Vec<String>,
}

/// The keyservice's name (Deployment, Service, and the host Envoy reaches it at).
pub const KEYSERVICE_NAME: &str = "switchyard-keyservice";
/// The keyservice's port.
pub const KEYSERVICE_PORT: u16 = 4001;

/// The envoy target's options for the Envoy that Istio runs: every interface, Istio's
/// admin port, the rendered keyservice's in-cluster address, the filter at `wasm`.
pub(crate) fn envoy_options(plan: &Plan, opts: &IstioOptions, wasm: PathBuf) -> RenderOptions {
    RenderOptions {
        wasm,
        host: "0.0.0.0".to_string(),
        port: opts.port,
        admin_port: ISTIO_ADMIN_PORT,
        ca_file: opts.ca_file.clone(),
        keyservice: plan.keys.as_ref().map(|_| {
            format!(
                "{KEYSERVICE_NAME}.{}.svc.cluster.local:{KEYSERVICE_PORT}",
                opts.namespace
            )
        }),
        keyservice_ca: None,
    }
}

/// Renders `plan` for Istio.
pub fn render(plan: &Plan, opts: &IstioOptions) -> Result<IstioRendered, String> {
    refuse_written_secrets(plan, &opts.secret_name)?;
    // The wasm path is replaced by the OCI image in every wasm filter (`envoy_filter`).
    let envoy_opts = envoy_options(plan, opts, PathBuf::from(envoy_filter::WASM_PLACEHOLDER));
    let parts = super::parts(plan, &envoy_opts)?;
    let gateway_env = workloads::gateway_env_keys(plan);
    let mut secret_keys = gateway_env.clone();
    let mut objects = workloads::gateway(opts, &gateway_env);
    objects.push(envoy_filter::envoy_filter(parts, opts)?);
    objects.extend(providers::provider_objects(plan, opts));
    if let Some(keys) = &plan.keys {
        let keyservice = workloads::keyservice(keys, opts);
        secret_keys.extend(keyservice.secret_keys);
        objects.extend(keyservice.objects);
    }
    secret_keys.sort();
    secret_keys.dedup();
    Ok(IstioRendered {
        objects,
        secret_keys,
    })
}

/// A secret written in `config.yaml` would be written into a manifest: refused,
/// naming the entry and the field and what to write instead.
fn refuse_written_secrets(plan: &Plan, secret_name: &str) -> Result<(), String> {
    let fix = |what: &str| {
        format!(
            "{what} is written in the config file, and the istio target never writes a secret into a manifest: write os.environ/NAME and put the value under NAME in the Secret {secret_name}"
        )
    };
    if let Some(keys) = &plan.keys {
        if keys.master_key.is_some() && keys.master_key_env.is_none() {
            return Err(fix("general_settings.master_key"));
        }
    }
    for dep in &plan.deployments {
        let entry = format!(
            "model_list[{}] (model_name {:?})",
            dep.entry_index, dep.upstream.group
        );
        let written = |s: Option<&Setting>| matches!(s, Some(Setting::Literal(_)));
        let up = &dep.upstream;
        // A local server's placeholder key (LiteLLM's "fake-api-key") is no secret.
        let placeholder = match (&up.api_key, up.provider.descriptor().preset) {
            (
                Some(Setting::Literal(key)),
                Some(Preset {
                    key: KeyRule::Placeholder(default),
                    ..
                }),
            ) => key == default,
            _ => false,
        };
        let mut fields: Vec<&str> = Vec::new();
        if written(up.api_key.as_ref()) && !placeholder {
            fields.push("litellm_params.api_key");
        }
        if let Some(aws) = &up.aws {
            if written(Some(&aws.access_key_id)) {
                fields.push("litellm_params.aws_access_key_id");
            }
            if written(Some(&aws.secret_access_key)) {
                fields.push("litellm_params.aws_secret_access_key");
            }
            if written(aws.session_token.as_ref()) {
                fields.push("litellm_params.aws_session_token");
            }
        }
        if let Some(google) = &up.google_auth {
            if written(Some(&google.credentials)) {
                fields.push("litellm_params.vertex_credentials");
            }
        }
        if let Some(field) = fields.first() {
            return Err(format!("{entry}: {}", fix(field)));
        }
    }
    Ok(())
}

/// Writes the objects as one multi-document YAML file, `DIR/istio.yaml`.
pub fn write(rendered: &IstioRendered, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut text = String::from(
        "# Rendered by `switchyard render --target istio`; edit config.yaml and render again instead.\n",
    );
    for object in &rendered.objects {
        let yaml = serde_yaml::to_string(object).map_err(|e| format!("cannot render YAML: {e}"))?;
        text.push_str("---\n");
        text.push_str(&yaml);
    }
    let path = out.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The Kubernetes name of a host (lower case, `[a-z0-9-]`, at most 63 characters).
pub(crate) fn dns_label(text: &str) -> String {
    let mut label: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(63);
    label.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests;
