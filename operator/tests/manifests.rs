//! Every manifest under deploy/kubernetes deserializes into its real schema type
//! (k8s-openapi for Kubernetes' kinds, the CRD types for Switchyard's) and serializes
//! back to the same JSON: serde ignores unknown fields, so a misspelt or misplaced
//! field shows up as a difference here. The kustomization lists every manifest.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use switchyard::crd::{ModelGroup, RouterSettings, VirtualKey};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Value {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc}"));
    serde_json::to_value(&typed).unwrap()
}

/// Deserializes `doc` into the type its kind names and compares the re-serialized JSON.
fn check(file: &Path, doc: &Value) -> Result<(), String> {
    let kind = doc["kind"].as_str().unwrap_or("");
    let back = match kind {
        "Namespace" => round_trip::<Namespace>(doc),
        "ServiceAccount" => round_trip::<ServiceAccount>(doc),
        "Role" => round_trip::<Role>(doc),
        "RoleBinding" => round_trip::<RoleBinding>(doc),
        "ConfigMap" => round_trip::<ConfigMap>(doc),
        "Deployment" => round_trip::<Deployment>(doc),
        "Service" => round_trip::<Service>(doc),
        "CustomResourceDefinition" => round_trip::<CustomResourceDefinition>(doc),
        "ModelGroup" => round_trip::<ModelGroup>(doc),
        "RouterSettings" => round_trip::<RouterSettings>(doc),
        "VirtualKey" => round_trip::<VirtualKey>(doc),
        "Kustomization" => return Ok(()),
        other => return Err(format!("{}: no type for kind {other:?}", file.display())),
    };
    if &back != doc {
        return Err(format!(
            "{} {kind} {}: does not survive a round trip through its type:\n  written: {doc}\n  typed:   {back}",
            file.display(),
            doc["metadata"]["name"]
        ));
    }
    Ok(())
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn every_manifest_round_trips_through_its_type() {
    let mut files = Vec::new();
    yaml_files(&deploy(), &mut files);
    files.sort();
    let mut errors = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for file in &files {
        // The example config.yaml beside the example resources is not a manifest.
        if file.ends_with("examples/equivalent-config.yaml") {
            continue;
        }
        for doc in documents(file) {
            kinds.insert(doc["kind"].as_str().unwrap_or("").to_string());
            if let Err(e) = check(file, &doc) {
                errors.push(e);
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ModelGroup",
        "VirtualKey",
    ] {
        assert!(kinds.contains(kind), "no {kind} in deploy/kubernetes");
    }
}

#[test]
fn the_round_trip_catches_a_misplaced_field() {
    // `replica` (for `replicas`) is dropped by serde: the comparison must see it.
    let doc: Value = serde_yaml::from_str(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\n",
    )
    .unwrap();
    assert!(check(Path::new("test.yaml"), &doc).is_err());
}

#[test]
fn the_kustomization_installs_every_manifest() {
    let kustomization: Value = serde_yaml::from_str(
        &std::fs::read_to_string(deploy().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: Vec<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    for name in &listed {
        assert!(deploy().join(name).exists(), "{name} is listed but missing");
    }
    let mut files = Vec::new();
    yaml_files(&deploy(), &mut files);
    for file in files {
        let relative = file
            .strip_prefix(deploy())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if relative == "kustomization.yaml" || relative.starts_with("examples/") {
            continue;
        }
        assert!(
            listed.contains(&relative),
            "{relative} is not in the kustomization"
        );
    }
}
