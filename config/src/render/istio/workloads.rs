//! The workloads: the gateway whose Envoy runs the filter (a `Deployment` with
//! Istio's gateway injection, its `Service`, and the Istio `Gateway` and
//! `VirtualService` that give it a listener and a route configuration to patch), and
//! the keyservice (`Deployment` + `Service`) when virtual keys are on.
//!
//! Every secret reaches a container as `valueFrom.secretKeyRef` into the one Secret
//! (`--secret-name`), under the variable's own name.

use serde_json::{json, Map, Value};

use super::{IstioOptions, KEYSERVICE_NAME, KEYSERVICE_PORT};
use crate::plan::{KeysPlan, Plan, DATABASE_URL_VARIABLE};
use crate::render::routes::UNROUTED_BODY;

/// The gateway's name (Deployment, Service, and the value of its `istio` label).
pub const GATEWAY_NAME: &str = "switchyard-gateway";
/// The Istio `Gateway` and `VirtualService` name.
pub const ISTIO_GATEWAY_NAME: &str = "switchyard";
/// The label that selects the gateway's pods (Istio's convention for gateways).
const GATEWAY_LABEL: &str = "istio";
/// The keyservice's command in `--image` (on its `PATH`).
const KEYSERVICE_BINARY: &str = "switchyard-keyservice";
/// Where a keyservice without a database keeps its SQLite file.
const KEYSERVICE_DATA_DIR: &str = "/var/lib/switchyard";
/// The keyservice's readiness path (whether its database answers).
const READINESS_PATH: &str = "/health/readiness";
/// The non-root user the keyservice runs as (the image's).
const KEYSERVICE_UID: u64 = 10001;
/// Istio's proxy user.
const PROXY_UID: u64 = 1337;
/// The labels of the gateway's pods, which the `EnvoyFilter` and the Istio `Gateway`
/// select.
pub fn gateway_labels() -> Value {
    json!({GATEWAY_LABEL: GATEWAY_NAME})
}

/// The variables the gateway's Envoy must have: every one the filter reads at
/// start-up (`host_env_keys`), each from the Secret.
pub fn gateway_env_keys(plan: &Plan) -> Vec<String> {
    plan.host_env_keys.iter().cloned().collect()
}

/// `name` from key `name` of the Secret.
fn secret_env(name: &str, opts: &IstioOptions) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": opts.secret_name, "key": name}}})
}

fn metadata(name: &str, opts: &IstioOptions, labels: &Value) -> Value {
    json!({"name": name, "namespace": opts.namespace, "labels": labels})
}

/// The gateway: its `Deployment`, `Service`, Istio `Gateway` and `VirtualService`.
pub fn gateway(opts: &IstioOptions, env_keys: &[String]) -> Vec<Value> {
    let labels = gateway_labels();
    let mut pod_labels = labels.clone();
    pod_labels["sidecar.istio.io/inject"] = json!("true");
    let mut proxy = json!({
        "name": "istio-proxy",
        // Istio's injector fills in its proxy image.
        "image": "auto",
        "ports": [{"name": "http", "containerPort": opts.port, "protocol": "TCP"}],
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "runAsUser": PROXY_UID,
            "runAsGroup": PROXY_UID,
            "runAsNonRoot": true,
        },
    });
    if !env_keys.is_empty() {
        proxy["env"] = json!(env_keys
            .iter()
            .map(|k| secret_env(k, opts))
            .collect::<Vec<_>>());
    }
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(GATEWAY_NAME, opts, &labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "annotations": {"inject.istio.io/templates": "gateway"},
                    "labels": pod_labels,
                },
                "spec": {"containers": [proxy]},
            },
        },
    });
    let service = http_service(GATEWAY_NAME, opts, &labels, opts.port);
    let istio_gateway = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": ISTIO_GATEWAY_NAME, "namespace": opts.namespace},
        "spec": {
            "selector": labels,
            "servers": [{"port": {"number": opts.port, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
        },
    });
    let virtual_service = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": ISTIO_GATEWAY_NAME, "namespace": opts.namespace},
        "spec": {
            "hosts": ["*"],
            "gateways": [ISTIO_GATEWAY_NAME],
            "http": [{
                "name": "switchyard-unrouted",
                // Shadowed by the EnvoyFilter's routes, which end in the same 404: this
                // route only makes Istio build the virtual host they go into.
                "directResponse": {"status": 404, "body": {"string": UNROUTED_BODY}},
            }],
        },
    });
    vec![deployment, service, istio_gateway, virtual_service]
}

/// The keyservice's objects and the Secret keys they read.
#[derive(Debug)]
pub struct Keyservice {
    /// Its `Deployment` and `Service`.
    pub objects: Vec<Value>,
    /// The keys of the Secret it reads.
    pub secret_keys: Vec<String>,
}

/// The keyservice: the master key (the variable the config names, else
/// `LITELLM_MASTER_KEY`), the reporting credential when there is no master key, and
/// `DATABASE_URL` when the config has a database, all from the Secret; without a
/// database, SQLite on the pod's own volume (one replica).
pub fn keyservice(keys: &KeysPlan, opts: &IstioOptions) -> Keyservice {
    let labels = json!({"app": KEYSERVICE_NAME});
    let mut args = vec!["--listen".to_string(), format!("0.0.0.0:{KEYSERVICE_PORT}")];
    let mut secret_keys = Vec::new();
    if let Some(var) = &keys.master_key_env {
        args.extend(["--master-key-env".to_string(), var.clone()]);
        secret_keys.push(var.clone());
    }
    if let Some(var) = &keys.reporter_key_env {
        args.extend(["--reporter-key-env".to_string(), var.clone()]);
        secret_keys.push(var.clone());
    }
    let sqlite = keys.database_url.is_none();
    if sqlite {
        args.extend([
            "--database-url".to_string(),
            format!("sqlite://{KEYSERVICE_DATA_DIR}/switchyard-keys.db"),
        ]);
    } else {
        secret_keys.push(DATABASE_URL_VARIABLE.to_string());
    }
    let mut container = json!({
        "name": "keyservice",
        "image": opts.image,
        "command": [KEYSERVICE_BINARY],
        "args": args,
        "env": secret_keys.iter().map(|k| secret_env(k, opts)).collect::<Vec<_>>(),
        "ports": [{"name": "http", "containerPort": KEYSERVICE_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": READINESS_PATH, "port": KEYSERVICE_PORT}},
        "livenessProbe": {"tcpSocket": {"port": KEYSERVICE_PORT}},
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": true,
            "runAsUser": KEYSERVICE_UID,
        },
    });
    let mut pod_spec = Map::new();
    if sqlite {
        container["volumeMounts"] = json!([{"name": "data", "mountPath": KEYSERVICE_DATA_DIR}]);
        pod_spec.insert("volumes".into(), json!([{"name": "data", "emptyDir": {}}]));
    }
    pod_spec.insert("containers".into(), json!([container]));
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(KEYSERVICE_NAME, opts, &labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    // No sidecar: Envoy's keyservice cluster speaks plain HTTP to it
                    // (docs/deploy-istio.md).
                    "labels": {"app": KEYSERVICE_NAME, "sidecar.istio.io/inject": "false"},
                },
                "spec": pod_spec,
            },
        },
    });
    let service = http_service(KEYSERVICE_NAME, opts, &labels, KEYSERVICE_PORT);
    Keyservice {
        objects: vec![deployment, service],
        secret_keys,
    }
}

/// A `Service` named `name` that sends `port` (TCP, port name `http`) to the pods
/// carrying `labels`.
fn http_service(name: &str, opts: &IstioOptions, labels: &Value, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, opts, labels),
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    })
}
