//! `switchyard render --from-crd`: a set of custom resources renders exactly what the
//! equivalent config.yaml renders, and errors name the file, the resource and the field.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn switchyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sy-from-crd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn resources_and_the_equivalent_config_render_byte_identical_files() {
    let examples = repo().join("deploy/kubernetes/examples");
    let from_config = temp("config");
    let from_crd = temp("crd");
    let a = switchyard(&[
        "render",
        "--config",
        examples.join("equivalent-config.yaml").to_str().unwrap(),
        "--out",
        from_config.to_str().unwrap(),
        "--wasm",
        "/opt/switchyard/switchyard.wasm",
    ]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = switchyard(&[
        "render",
        "--from-crd",
        examples.to_str().unwrap(),
        "--out",
        from_crd.to_str().unwrap(),
        "--wasm",
        "/opt/switchyard/switchyard.wasm",
    ]);
    let stderr = String::from_utf8_lossy(&b.stderr);
    assert!(b.status.success(), "{stderr}");
    let (config_files, crd_files) = (files(&from_config), files(&from_crd));
    assert_eq!(config_files.len(), 4, "envoy.yaml and 3 plugin configs");
    assert_eq!(
        config_files.iter().map(|f| &f.0).collect::<Vec<_>>(),
        crd_files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in config_files.iter().zip(&crd_files) {
        assert!(x == y, "{name} differs");
    }
    // The Secret references became variables, and render says which Secret feeds each.
    assert!(
        stderr
            .contains("SWITCHYARD_SECRET_AZURE_EU_API_KEY comes from Secret azure-eu key api-key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("OPENAI_API_KEY comes from Secret openai key api-key"),
        "{stderr}"
    );
    assert!(stderr.contains("Envoy's environment: ANTHROPIC_API_KEY OPENAI_API_KEY SWITCHYARD_SECRET_AZURE_EU_API_KEY"), "{stderr}");
    assert!(
        stderr.contains("1 VirtualKey resource(s) skipped"),
        "{stderr}"
    );
    // A different resource set renders something else (the comparison can fail).
    let one = temp("one");
    let c = switchyard(&[
        "render",
        "--from-crd",
        examples.join("model-groups.yaml").to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
        "--wasm",
        "/opt/switchyard/switchyard.wasm",
    ]);
    assert!(c.status.success());
    assert_ne!(files(&one), config_files);
}

fn render_error(name: &str, text: &str) -> String {
    let dir = temp(name);
    let file = dir.join("resources.yaml");
    std::fs::write(&file, text).unwrap();
    let out = switchyard(&[
        "render",
        "--from-crd",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--wasm",
        "/x.wasm",
    ]);
    assert!(!out.status.success(), "{name} rendered");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    stderr.replace(file.to_str().unwrap(), "resources.yaml")
}

#[test]
fn errors_name_the_file_the_resource_and_the_field() {
    let head = "apiVersion: switchyard.dev/v1alpha1\nkind: ModelGroup\nmetadata: {name: g}\n";
    let e = render_error(
        "literal",
        &format!("{head}spec:\n  model_name: g\n  deployments:\n    - litellm_params: {{model: openai/x, api_key: sk-literal}}\n"),
    );
    assert!(e.contains("error: resources.yaml: ModelGroup/g: spec.deployments[0].litellm_params.api_key: a literal key is not allowed"), "{e}");
    // The config model's own rules, mapped back: the second deployment's model.
    let e = render_error(
        "model",
        &format!("---\n{head}spec:\n  model_name: g\n  deployments:\n    - litellm_params: {{model: openai/x}}\n    - litellm_params: {{model: \"\"}}\n"),
    );
    assert!(
        e.contains(
            "error: resources.yaml: ModelGroup/g: spec.deployments[1].litellm_params.model:"
        ),
        "{e}"
    );
    let e = render_error(
        "router",
        "apiVersion: switchyard.dev/v1alpha1\nkind: RouterSettings\nmetadata: {name: r}\nspec:\n  routing_strategy: fastest\n",
    );
    assert!(
        e.contains("error: resources.yaml: RouterSettings/r: spec.routing_strategy:"),
        "{e}"
    );
    let e = render_error(
        "kind",
        "apiVersion: switchyard.dev/v1alpha1\nkind: ModelGroups\nmetadata: {name: r}\n",
    );
    assert!(
        e.contains("resources.yaml: document 1: unknown kind \"ModelGroups\""),
        "{e}"
    );
    let e = render_error(
        "spec",
        &format!("{head}spec:\n  model: g\n  deployments: []\n"),
    );
    assert!(e.contains("resources.yaml: ModelGroup/g: spec: "), "{e}");
    let e = render_error(
        "secret",
        &format!("{head}spec:\n  model_name: g\n  deployments:\n    - litellm_params: {{model: openai/x, apiKeySecretRef: {{name: s}}}}\n"),
    );
    assert!(
        e.contains(
            "ModelGroup/g: spec.deployments[0].litellm_params.apiKeySecretRef: missing field `key`"
        ),
        "{e}"
    );
}

#[test]
fn a_base_config_gives_the_settings_and_its_own_models_come_first() {
    let examples = repo().join("deploy/kubernetes/examples");
    let dir = temp("base");
    let base_text = "general_settings:\n  master_key: sk-base-master\nmodel_list:\n  - model_name: base-mock\n    litellm_params: {model: openai/base, mock_response: from the base}\n";
    let base = dir.join("base.yaml");
    std::fs::write(&base, base_text).unwrap();
    // The equivalent single config.yaml: the base's entries, then the resources'.
    let mut combined: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(examples.join("equivalent-config.yaml")).unwrap(),
    )
    .unwrap();
    let base_value: serde_yaml::Value = serde_yaml::from_str(base_text).unwrap();
    let mut entries = base_value["model_list"].as_sequence().unwrap().clone();
    entries.extend(
        combined["model_list"]
            .as_sequence()
            .unwrap()
            .iter()
            .cloned(),
    );
    combined["model_list"] = serde_yaml::Value::Sequence(entries);
    combined["general_settings"] = base_value["general_settings"].clone();
    let combined_file = dir.join("combined.yaml");
    std::fs::write(&combined_file, serde_yaml::to_string(&combined).unwrap()).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let out_a = switchyard(&[
        "render",
        "--config",
        combined_file.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--wasm",
        "/x.wasm",
        "--keyservice",
        "keyservice:4001",
    ]);
    assert!(
        out_a.status.success(),
        "{}",
        String::from_utf8_lossy(&out_a.stderr)
    );
    let out_b = switchyard(&[
        "render",
        "--config",
        base.to_str().unwrap(),
        "--from-crd",
        examples.to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
        "--wasm",
        "/x.wasm",
        "--keyservice",
        "keyservice:4001",
    ]);
    let stderr = String::from_utf8_lossy(&out_b.stderr);
    assert!(out_b.status.success(), "{stderr}");
    assert!(!stderr.contains("THE GATEWAY IS OPEN"), "{stderr}");
    assert_eq!(files(&a), files(&b));
    // An error in the base's own entry names the base file and its path.
    std::fs::write(
        &base,
        "model_list:\n  - model_name: x\n    litellm_params: {model: \"\"}\n",
    )
    .unwrap();
    let out = switchyard(&[
        "render",
        "--config",
        base.to_str().unwrap(),
        "--from-crd",
        examples.to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
        "--wasm",
        "/x.wasm",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "error: {}: model_list[0].litellm_params.model:",
            base.display()
        )),
        "{stderr}"
    );
}
