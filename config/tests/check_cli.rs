//! End-to-end tests of `switchyard check` on the fixture configs: LiteLLM doc-shaped
//! configs pass with the expected warnings, broken ones fail naming file, entry and field.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `switchyard check --config <fixture>` with exactly `vars` in the environment
/// (plus PATH), so the host's variables cannot change the outcome.
fn check(name: &str, vars: &[(&str, &str)]) -> (Output, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("check")
        .arg("--config")
        .arg(fixture(name));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run switchyard");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .collect()
}

#[test]
fn quickstart_doc_config_passes_with_warnings() {
    // The Bedrock entries sign with the standard AWS variables (LiteLLM's boto3
    // would also find a profile or an instance role; Switchyard needs keys).
    let (out, stdout, stderr) = check(
        "litellm_quickstart.yaml",
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    assert!(out.status.success(), "{stderr}");
    let w = warnings(&stderr);
    for expected in [
        "litellm_settings.success_callback: langfuse needs LANGFUSE_PUBLIC_KEY in the environment",
        "general_settings.alerting: not applied by Switchyard yet; ignored",
        "model_list[7].litellm_params.model: model: '*' (any provider) is not supported yet",
        "model_list[4].litellm_params.api_key: the key is written in the config file",
    ] {
        assert!(
            w.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("drop_params"),
        "drop_params is supported: {stderr}"
    );
    assert!(
        stdout.contains("6 model groups (0 mock): gpt-3.5-turbo, bedrock-claude-v1, anthropic-claude, vllm-models, llama3, gpt-4o"),
        "{stdout}"
    );
    assert!(stdout.contains("7 deployments"), "{stdout}");
    assert!(
        !stderr.contains("provider \"bedrock\""),
        "bedrock/ is served now: {stderr}"
    );
    assert!(
        !stderr.contains("provider \"ollama\""),
        "ollama/ is served now: {stderr}"
    );
    assert!(
        stdout.contains("AZURE_API_KEY_CA (not set here), AZURE_API_KEY_EU (not set here), OPENAI_API_KEY (not set here)"),
        "{stdout}"
    );
}

#[test]
fn wildcard_doc_config_passes() {
    let (out, stdout, stderr) = check("wildcard.yaml", &[("OPENAI_API_KEY", "sk-x")]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout
            .contains("5 model groups (0 mock): anthropic/*, openai/*, groq/*, fo::*:static::*, *"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "ANTHROPIC_API_KEY (not set here), GROQ_API_KEY (not set here), OPENAI_API_KEY\n"
        ),
        "{stdout}"
    );
    assert_eq!(
        warnings(&stderr).len(),
        1,
        "only the open gateway (groq/ is served now): {stderr}"
    );
    assert!(stderr.contains("THE GATEWAY IS OPEN"), "{stderr}");
}

#[test]
fn load_balancing_config_needs_its_settings_variables() {
    let (out, _, stderr) = check("load_balancing.yaml", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: ") && stderr.contains("load_balancing.yaml: general_settings.master_key: environment variable LITELLM_MASTER_KEY is not set (os.environ/LITELLM_MASTER_KEY)"),
        "{stderr}"
    );

    let vars = [
        ("LITELLM_MASTER_KEY", "sk-master"),
        ("DATABASE_URL", "postgres://db"),
        ("REDIS_HOST", "redis"),
        ("REDIS_PASSWORD", "pw"),
        ("AZURE_API_BASE_EU", "https://eu.openai.azure.com"),
    ];
    let (out, stdout, stderr) = check("load_balancing.yaml", &vars);
    assert!(out.status.success(), "{stderr}");
    let w = warnings(&stderr);
    for expected in [
        "router_settings.routing_strategy: \"usage-based-routing-v2\" needs shared usage or cost counters",
        "litellm_settings.cache: response caching is not applied",
    ] {
        assert!(
            w.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in\n{stderr}"
        );
    }
    for applied in ["router_settings.num_retries", "router_settings.fallbacks"] {
        assert!(
            !w.iter().any(|l| l.starts_with(applied)),
            "{applied} is applied now, not warned:\n{stderr}"
        );
    }
    // gemini-pro is served (gemini/, its key from os.environ/GEMINI_API_KEY).
    assert!(stdout.contains("5 model groups"), "{stdout}");
    assert!(
        stdout.contains("6 deployments in 5 route clusters, 2 aliases"),
        "{stdout}"
    );
    assert!(
        stdout.contains("AZURE_API_BASE_EU, AZURE_API_KEY_EU (not set here)"),
        "{stdout}"
    );
}

#[test]
fn credentials_config_resolves_the_address() {
    let (out, _, stderr) = check("credentials.yaml", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("credentials.yaml: credential_list[0].credential_values.api_base: environment variable AZURE_API_BASE is not set (os.environ/AZURE_API_BASE) (used by model_list[0])"),
        "{stderr}"
    );
    let (out, stdout, stderr) = check(
        "credentials.yaml",
        &[("AZURE_API_BASE", "https://eu.openai.azure.com")],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2 model groups"), "{stdout}");
}

#[test]
fn example_config_passes_without_warnings() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("example.yaml");
    let out = cmd
        .env_clear()
        .args(["check", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // No master key in the offline example: the one warning says the gateway is open.
    assert_eq!(
        warnings(&stderr),
        vec!["general_settings: no master_key and no database_url: THE GATEWAY IS OPEN — every request is admitted without a key (as LiteLLM does); set master_key to require keys"],
        "{stderr}"
    );
    assert!(
        stdout.contains("2 model groups (2 mock): demo-chat (mock), demo-fast (mock)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 alias"), "{stdout}");
}

#[test]
fn broken_configs_fail_naming_file_entry_and_field() {
    for (name, expected) in [
        ("errors/bad_yaml.yaml", "errors/bad_yaml.yaml:5:6: did not find expected key"),
        (
            "errors/typo_top_level.yaml",
            "errors/typo_top_level.yaml:6:1: unknown top-level key `litelm_settings`; did you mean `litellm_settings`?",
        ),
        (
            "errors/mixed_mock.yaml",
            "errors/mixed_mock.yaml: model_list[1]: model group \"chat\" mixes mock deployments",
        ),
        (
            "errors/azure_without_api_base.yaml",
            "errors/azure_without_api_base.yaml: model_list[1].litellm_params.api_base: azure deployments need an api_base",
        ),
    ] {
        let (out, stdout, stderr) = check(name, &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in\n{stderr}");
        assert!(stderr.starts_with("error: ") || stderr.contains("\nerror: "), "{stderr}");
        assert_eq!(stdout, "", "{name}: no summary on failure");
    }
}

#[test]
fn missing_file_is_an_error() {
    let (out, _, stderr) = check("does-not-exist.yaml", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("does-not-exist.yaml: cannot read the file"),
        "{stderr}"
    );
}

#[test]
fn render_writes_bootstrap_without_secrets() {
    let out_dir = std::env::temp_dir().join(format!("switchyard-render-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .env("ANTHROPIC_API_KEY", "sk-ant-VERY-SECRET")
        .env("OPENAI_API_KEY", "sk-openai-VERY-SECRET")
        .args([
            "render",
            "--wasm",
            "/opt/filter.wasm",
            "--port",
            "0",
            "--config",
        ])
        .arg(fixture("wildcard.yaml"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "bootstrap, router and upstream plugin configs: {files:?}"
    );
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("VERY-SECRET"),
            "{} leaks a secret",
            f.display()
        );
    }
    let yaml = std::fs::read_to_string(out_dir.join("envoy.yaml")).unwrap();
    let bootstrap: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    let clusters = bootstrap["static_resources"]["clusters"]
        .as_array()
        .unwrap();
    let anthropic = clusters
        .iter()
        .find(|c| {
            c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"]["address"]
                == "api.anthropic.com"
        })
        .expect("a cluster for api.anthropic.com");
    assert_eq!(anthropic["type"], "STRICT_DNS");
    assert_eq!(
        anthropic["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["metadata"]
            ["filter_metadata"]["switchyard"]["deployment"],
        anthropic["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
            ["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            .unwrap()["deployments"][0]["deployment_id"],
        "the endpoint's metadata names the deployment the upstream stage knows"
    );
    assert_eq!(
        anthropic["transport_socket"]["typed_config"]["sni"],
        "api.anthropic.com"
    );
    let wasm = &anthropic["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
        ["typed_config"]["config"];
    assert_eq!(wasm["failure_policy"], "FAIL_RELOAD");
    let keys = &wasm["vm_config"]["environment_variables"]["host_env_keys"];
    assert!(
        keys.as_array()
            .unwrap()
            .contains(&serde_json::json!("ANTHROPIC_API_KEY")),
        "{keys}"
    );
    assert!(wasm["configuration"]["value"]
        .as_str()
        .unwrap()
        .contains(r#"{"env":"ANTHROPIC_API_KEY"}"#));
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn plan_flag_prints_the_plan_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .args(["check", "--plan", "--config"])
        .arg(fixture("wildcard.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json_start = stdout.find('{').expect("a JSON object");
    let plan: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(plan["router"]["groups"][0]["name"], "anthropic/*");
    assert_eq!(plan["deployments"][0]["upstream"]["model"], "*");
    assert_eq!(
        plan["deployments"][0]["upstream"]["api_key"],
        serde_json::json!({"env": "ANTHROPIC_API_KEY"})
    );
    assert_eq!(
        plan["deployments"][0]["address"]["host"],
        "api.anthropic.com"
    );
}

#[test]
fn a_missing_cloud_key_names_file_entry_field_and_variables() {
    let (out, _, stderr) = check("clouds.yaml", &[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("clouds.yaml: model_list[0].litellm_params.api_key: mistral deployments need an API key")
            && stderr.contains("MISTRAL_API_KEY"),
        "{stderr}"
    );

    // LiteLLM reads four variables for Together AI; the error names them all.
    let (out, _, stderr) = check("clouds.yaml", &[("MISTRAL_API_KEY", "k")]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("clouds.yaml: model_list[1].litellm_params.api_key: together_ai deployments need an API key")
            && stderr.contains("TOGETHER_API_KEY or TOGETHER_AI_API_KEY or TOGETHERAI_API_KEY or TOGETHER_AI_TOKEN"),
        "{stderr}"
    );

    // Any one of them does; Ollama needs none.
    let (out, stdout, stderr) = check(
        "clouds.yaml",
        &[("MISTRAL_API_KEY", "k"), ("TOGETHERAI_API_KEY", "k")],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(
            "environment variables the gateway will read: MISTRAL_API_KEY, TOGETHERAI_API_KEY\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("3 deployments"), "{stdout}");
}

#[test]
fn a_vertex_key_that_is_not_rsa_names_file_entry_and_field() {
    // Well-formed key files whose private_key the filter could not sign with.
    const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgX1FEgWWvKbzbKM+E\nRaViyRa+q64jfmpgdijMgU/N2DihRANCAARWEBlF4WHejT5vcqRuTOv2SP0BAV1q\nwQ39epLBkg89hsKpc0tmWjlfCQtC8B4lb8B7n2wO/g4fDgLMfP4K9bAW\n-----END PRIVATE KEY-----\n";
    const GARBAGE: &str = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    for private_key in [EC_KEY, GARBAGE] {
        let key = serde_json::json!({
            "type": "service_account",
            "client_email": "gw@my-project.iam.gserviceaccount.com",
            "private_key": private_key,
        })
        .to_string();
        let (out, stdout, stderr) = check(
            "errors/vertex_key_not_rsa.yaml",
            &[("VERTEX_SA_JSON", &key)],
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let expected = "errors/vertex_key_not_rsa.yaml: model_list[0].litellm_params.vertex_credentials: the JSON in VERTEX_SA_JSON: private_key is not an RSA PKCS#8 key";
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in\n{stderr}"
        );
        assert_eq!(stdout, "", "no summary on failure");
    }
}
