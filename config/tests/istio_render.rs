//! Static checks of `switchyard render --target istio` (no Kubernetes API server and
//! no Istio control plane run here):
//!
//! - no value of the render's environment appears in the manifests, and a secret
//!   written in config.yaml is refused (the config: `tests/istio/config.yaml`);
//! - every Kubernetes object deserializes into its `k8s-openapi` type and serializes
//!   back to the same JSON (serde ignores unknown fields: the round trip catches them,
//!   misspelled ones and wrong types);
//! - every Istio object validates against Istio's published CRD schema of its kind
//!   (`tests/schemas/istio/`), unknown fields refused where the schema would prune
//!   them;
//! - (ignored by default; `scripts/validate-envoy` runs it once the filter is built)
//!   the Envoy configuration in the `EnvoyFilter`, applied to Istio's gateway
//!   configuration as Istio would (`render::istio::assemble`), passes
//!   `envoy --mode validate` with the built `.wasm`.
//!
//! Each check is also run on a deliberately broken object, which it must refuse.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The test config (in a folder of its own: `tests/fixtures/` holds LiteLLM's
/// documentation configs, which `litellm::load`'s tests count).
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/istio")
        .join(name)
}

/// The secrets the fixture's environment holds, with values that appear nowhere
/// else.
const SECRETS: &[(&str, &str)] = &[
    ("LITELLM_MASTER_KEY", "sk-master-7f3a9c0e51"),
    (
        "DATABASE_URL",
        "postgres://switchyard:pw-4b8d21@db.internal/keys",
    ),
    ("OPENAI_API_KEY", "sk-openai-9d2e77aa10"),
    ("AZURE_API_KEY", "azure-key-5c61f0b2"),
    ("ANTHROPIC_API_KEY", "sk-ant-0e4c8d19b7"),
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE3F9Q"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-8e1d5b3c"),
];

/// Runs `switchyard render --target istio` on `config` with exactly `env` (plus PATH)
/// and `args`; returns the exit status's success, stderr and the manifest's text.
fn render(config: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["render", "--target", "istio", "--config"])
        .arg(config)
        .arg("--out")
        .arg(&out)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run switchyard");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let text = std::fs::read_to_string(out.join("istio.yaml")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&out);
    (output.status.success(), stderr, text)
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchyard-istio-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The documents of a multi-document YAML text, as JSON.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// The objects rendered from the fixture config with [`SECRETS`] set.
fn fixture_objects() -> Vec<Value> {
    let (ok, stderr, text) = render(&fixture("config.yaml"), SECRETS, &[]);
    assert!(ok, "{stderr}");
    documents(&text)
}

/// The objects rendered from the repository's example config (mocks, no keys).
fn example_objects() -> Vec<Value> {
    let (ok, stderr, text) = render(&root().join("config/example.yaml"), &[], &[]);
    assert!(ok, "{stderr}");
    documents(&text)
}

/// The objects rendered from `envoy/providers.config.yaml` (one deployment per kind
/// of provider, no keys).
fn providers_objects() -> Vec<Value> {
    let (ok, stderr, text) = render(
        &root().join("envoy/providers.config.yaml"),
        &[
            ("OPENAI_API_KEY", "k1"),
            ("AZURE_API_KEY", "k2"),
            ("ANTHROPIC_API_KEY", "k3"),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    documents(&text)
}

/// Every config the checks run on.
fn all_objects() -> [Vec<Value>; 3] {
    [fixture_objects(), example_objects(), providers_objects()]
}

fn kinds(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn renders_every_kind_the_mesh_needs() {
    let objects = fixture_objects();
    let kinds = kinds(&objects);
    for kind in [
        "Deployment",
        "Service",
        "Gateway",
        "VirtualService",
        "EnvoyFilter",
        "ServiceEntry",
        "DestinationRule",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    // The keyservice (keys are on) and the gateway.
    let deployments: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(deployments, ["switchyard-gateway", "switchyard-keyservice"]);
    // One ServiceEntry per provider host: api.openai.com, the Azure resource,
    // api.anthropic.com, Bedrock's regional host; none for the loopback server.
    let hosts: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "ServiceEntry")
        .map(|o| o["spec"]["hosts"][0].as_str().unwrap())
        .collect();
    assert_eq!(hosts.len(), 4, "{hosts:?}");
    assert!(hosts.contains(&"api.openai.com"), "{hosts:?}");
    assert!(!hosts.iter().any(|h| h.starts_with("127.")), "{hosts:?}");
}

#[test]
fn no_value_of_the_environment_appears_in_the_manifests() {
    let (ok, stderr, text) = render(&fixture("config.yaml"), SECRETS, &[]);
    assert!(ok, "{stderr}");
    for (name, value) in SECRETS {
        assert!(
            !text.contains(value),
            "the value of {name} is in the manifests"
        );
        assert!(
            !stderr.contains(value),
            "the value of {name} is in render's output"
        );
    }
    // Each secret reaches a container through the Secret, under its own name.
    let objects = documents(&text);
    let mut refs: BTreeMap<String, usize> = BTreeMap::new();
    for deployment in objects.iter().filter(|o| o["kind"] == "Deployment") {
        for container in deployment["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            for env in container["env"].as_array().into_iter().flatten() {
                let secret = &env["valueFrom"]["secretKeyRef"];
                assert_eq!(secret["name"], "switchyard-secrets", "{env}");
                assert_eq!(secret["key"], env["name"], "{env}");
                assert!(env.get("value").is_none(), "{env}");
                *refs
                    .entry(env["name"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    for (name, _) in SECRETS {
        assert!(
            refs.contains_key(*name),
            "{name} is not read from the Secret: {refs:?}"
        );
    }
    // The master key: the gateway's spend reports and the keyservice.
    assert_eq!(refs["LITELLM_MASTER_KEY"], 2, "{refs:?}");
    assert!(
        stderr.contains("the Secret switchyard-secrets must hold: "),
        "{stderr}"
    );
}

#[test]
fn the_check_for_leaked_values_can_fail() {
    // The same check, on a config that writes its master key into the environment
    // the render reads for api_base: the value is in the manifests (an address is
    // no secret, which is why the render writes it), and the check sees it.
    let dir = tempdir();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\n      api_base: os.environ/MY_BASE\n",
    )
    .unwrap();
    let base = "https://leak-check.example.com/v1";
    let (ok, stderr, text) = render(&config, &[("OPENAI_API_KEY", "k"), ("MY_BASE", base)], &[]);
    assert!(ok, "{stderr}");
    assert!(text.contains("leak-check.example.com"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_written_in_the_config_is_refused() {
    let dir = tempdir();
    for (text, field) in [
        (
            "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-written-in-the-file\n",
            "model_list[0] (model_name \"m\"): litellm_params.api_key is written in the config file",
        ),
        (
            "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\ngeneral_settings:\n  master_key: sk-written-in-the-file\n",
            "general_settings.master_key is written in the config file",
        ),
    ] {
        let config = dir.join("config.yaml");
        std::fs::write(&config, text).unwrap();
        let (ok, stderr, manifests) = render(&config, &[("OPENAI_API_KEY", "k")], &[]);
        assert!(!ok, "rendered:\n{manifests}");
        assert!(stderr.contains(field), "{stderr}");
        assert!(stderr.contains("Secret switchyard-secrets"), "{stderr}");
        assert!(!manifests.contains("sk-written-in-the-file"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_choose_the_images_secret_and_namespace() {
    let (ok, stderr, text) = render(
        &fixture("config.yaml"),
        SECRETS,
        &[
            "--wasm-image",
            "registry.example/sw/wasm@sha256:0123",
            "--image",
            "registry.example/sw/switchyard:1.2",
            "--secret-name",
            "llm-keys",
            "--namespace",
            "llm",
        ],
    );
    assert!(ok, "{stderr}");
    let objects = documents(&text);
    assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "llm"));
    assert!(text.contains("oci://registry.example/sw/wasm@sha256:0123"));
    assert!(!text.contains("ghcr.io/switchyard-gateway"));
    assert!(text.contains("image: registry.example/sw/switchyard:1.2"));
    assert!(text.contains("name: llm-keys"));
    assert!(!text.contains("switchyard-secrets"));
    assert!(text.contains("switchyard-keyservice.llm.svc.cluster.local"));
    // The istio flags are refused with the envoy target, and the reverse.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    let out = cmd
        .args(["render", "--config"])
        .arg(root().join("config/example.yaml"))
        .args(["--out", "/nonexistent/never-written", "--image", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image is for --target istio"));
    let (ok, stderr, _) = render(
        &root().join("config/example.yaml"),
        &[],
        &["--wasm", "/f.wasm"],
    );
    assert!(!ok);
    assert!(stderr.contains("--wasm is for --target envoy"), "{stderr}");
}

// --- k8s-openapi round trip ---------------------------------------------------------

/// `object` deserialized into its k8s-openapi type and serialized back; an error for
/// a kind this check does not know, a deserialization error, or a difference.
fn k8s_round_trip(object: &Value) -> Result<(), String> {
    fn through<T: serde::de::DeserializeOwned + serde::Serialize>(
        object: &Value,
    ) -> Result<(), String> {
        let typed: T = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
        let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
        if &back == object {
            Ok(())
        } else {
            Err(format!(
                "changed by the round trip (unknown or misspelled field?):\n{}\nbecame\n{}",
                serde_json::to_string_pretty(object).unwrap(),
                serde_json::to_string_pretty(&back).unwrap()
            ))
        }
    }
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Secret, core::v1::Service};
    match (object["apiVersion"].as_str(), object["kind"].as_str()) {
        (Some("apps/v1"), Some("Deployment")) => through::<Deployment>(object),
        (Some("v1"), Some("Service")) => through::<Service>(object),
        (Some("v1"), Some("Secret")) => through::<Secret>(object),
        (api, kind) => Err(format!(
            "not a Kubernetes kind this check knows: {api:?} {kind:?}"
        )),
    }
}

fn is_istio(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .is_some_and(|a| a.contains(".istio.io/"))
}

#[test]
fn every_kubernetes_object_round_trips_through_k8s_openapi() {
    for objects in all_objects() {
        let mut checked = 0;
        for object in objects.iter().filter(|o| !is_istio(o)) {
            k8s_round_trip(object).unwrap_or_else(|e| {
                panic!("{} {}: {e}", object["kind"], object["metadata"]["name"])
            });
            checked += 1;
        }
        assert!(checked >= 2, "only {checked} Kubernetes objects");
    }
}

#[test]
fn the_round_trip_refuses_broken_objects() {
    let objects = fixture_objects();
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let service = objects.iter().find(|o| o["kind"] == "Service").unwrap();
    k8s_round_trip(deployment).unwrap();

    // A misspelled field.
    let mut broken = deployment.clone();
    broken["spec"]["template"]["spec"]["containers"][0]["containerPorts"] = json!([]);
    assert!(k8s_round_trip(&broken).is_err());
    // A field at the wrong level.
    let mut broken = deployment.clone();
    broken["spec"]["containers"] = broken["spec"]["template"]["spec"]["containers"].clone();
    assert!(k8s_round_trip(&broken).is_err());
    // A wrong type.
    let mut broken = service.clone();
    broken["spec"]["ports"][0]["port"] = json!("4000");
    assert!(k8s_round_trip(&broken).is_err());
    // A secret inlined the wrong way (`valueFrom.secretRef` does not exist).
    let mut broken = deployment.clone();
    broken["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"] =
        json!({"secretRef": {"name": "s", "key": "k"}});
    assert!(k8s_round_trip(&broken).is_err());
    // A kind the check does not know is an error, not a pass.
    assert!(k8s_round_trip(&json!({"apiVersion": "v1", "kind": "Pod"})).is_err());
}

// --- Istio's CRD schemas ------------------------------------------------------------

/// The `openAPIV3Schema` of every `(apiVersion, kind)` in the vendored CRDs, made
/// strict: an object schema that lists `properties` and neither sets
/// `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` refuses other
/// fields, as the API server would prune them.
fn istio_schemas() -> BTreeMap<(String, String), Value> {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/istio/crds.yaml"),
    )
    .unwrap();
    let mut schemas = BTreeMap::new();
    for crd in documents(&text) {
        let group = crd["spec"]["group"].as_str().unwrap();
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let mut schema = version["schema"]["openAPIV3Schema"].clone();
            strict(&mut schema);
            // The API server's own fields, which CRD schemas leave implicit.
            for field in ["apiVersion", "kind"] {
                schema["properties"][field] = json!({"type": "string"});
            }
            schema["properties"]["metadata"] = json!({"type": "object"});
            schema["required"] = json!(["apiVersion", "kind", "metadata", "spec"]);
            schemas.insert(
                (
                    format!("{group}/{}", version["name"].as_str().unwrap()),
                    kind.to_string(),
                ),
                schema,
            );
        }
    }
    schemas
}

fn strict(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        let preserves = object
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if object.contains_key("properties")
            && !object.contains_key("additionalProperties")
            && !preserves
        {
            object.insert("additionalProperties".into(), json!(false));
        }
        for value in object.values_mut() {
            strict(value);
        }
    } else if let Some(items) = schema.as_array_mut() {
        for item in items {
            strict(item);
        }
    }
}

/// The vendored CRDs' schemas, each compiled into a validator the first time an
/// object of its kind is checked (compiling all of them takes seconds).
struct Validators {
    schemas: BTreeMap<(String, String), Value>,
    compiled: BTreeMap<(String, String), jsonschema::Validator>,
}

fn istio_validators() -> Validators {
    Validators {
        schemas: istio_schemas(),
        compiled: BTreeMap::new(),
    }
}

/// `object` against the schema of its kind; an error for a kind with no schema.
fn validate_istio(validators: &mut Validators, object: &Value) -> Result<(), String> {
    let key = (
        object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        object["kind"].as_str().unwrap_or_default().to_string(),
    );
    if !validators.compiled.contains_key(&key) {
        let schema = validators
            .schemas
            .get(&key)
            .ok_or_else(|| format!("no CRD schema for {key:?}"))?;
        let validator = jsonschema::validator_for(schema)
            .unwrap_or_else(|e| panic!("{key:?}: the schema does not compile: {e}"));
        validators.compiled.insert(key.clone(), validator);
    }
    let validator = &validators.compiled[&key];
    let errors: Vec<String> = validator
        .iter_errors(object)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn every_istio_object_validates_against_istios_crd_schemas() {
    let mut schemas = istio_validators();
    for kind in [
        "EnvoyFilter",
        "Gateway",
        "VirtualService",
        "ServiceEntry",
        "DestinationRule",
    ] {
        let version = if kind == "EnvoyFilter" {
            "v1alpha3"
        } else {
            "v1"
        };
        let key = (format!("networking.istio.io/{version}"), kind.to_string());
        assert!(schemas.schemas.contains_key(&key), "{key:?}");
    }
    for objects in all_objects() {
        let mut checked = 0;
        for object in objects.iter().filter(|o| is_istio(o)) {
            validate_istio(&mut schemas, object).unwrap_or_else(|e| {
                panic!("{} {}: {e}", object["kind"], object["metadata"]["name"])
            });
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} Istio objects");
    }
}

#[test]
fn the_schemas_refuse_broken_istio_objects() {
    let mut schemas = istio_validators();
    let objects = fixture_objects();
    let find = |kind: &str| objects.iter().find(|o| o["kind"] == kind).unwrap().clone();
    let envoy_filter = find("EnvoyFilter");
    let service_entry = find("ServiceEntry");
    let destination_rule = find("DestinationRule");
    let gateway = find("Gateway");
    validate_istio(&mut schemas, &envoy_filter).unwrap();

    let broken = |mut object: Value, edit: &dyn Fn(&mut Value)| {
        edit(&mut object);
        object
    };
    for (what, object) in [
        (
            "a misspelled field (pruned by the API server)",
            broken(envoy_filter.clone(), &|o| {
                o["spec"]["configPatch"] = json!([])
            }),
        ),
        (
            "an unknown enum value",
            broken(envoy_filter.clone(), &|o| {
                o["spec"]["configPatches"][0]["applyTo"] = json!("CLUSTERS")
            }),
        ),
        (
            "a wrong type",
            broken(envoy_filter.clone(), &|o| {
                o["spec"]["configPatches"][0]["match"]["listener"]["portNumber"] = json!("4000")
            }),
        ),
        (
            "an unknown field deep down",
            broken(destination_rule.clone(), &|o| {
                o["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["sniHost"] = json!("x")
            }),
        ),
        (
            "a wrong enum in a ServiceEntry",
            broken(service_entry.clone(), &|o| {
                o["spec"]["location"] = json!("OUTSIDE")
            }),
        ),
        (
            "a Gateway server without hosts",
            broken(gateway.clone(), &|o| {
                o["spec"]["servers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("hosts");
            }),
        ),
        (
            "a kind with no schema",
            broken(gateway.clone(), &|o| {
                o["apiVersion"] = json!("networking.istio.io/v9")
            }),
        ),
    ] {
        assert!(
            validate_istio(&mut schemas, &object).is_err(),
            "accepted {what}"
        );
    }
}

// --- envoy --mode validate ----------------------------------------------------------

/// Envoy: `ENVOY_BIN`, else the repository's `.venv/bin/envoy`.
fn envoy() -> PathBuf {
    std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/envoy"))
}

/// The built filter.
fn wasm() -> PathBuf {
    root().join("target/wasm32-wasip1/wasm/switchyard_filter.wasm")
}

/// `envoy --mode validate` on the bootstrap assembled from `objects`, with a dummy
/// value for every variable the gateway reads (from the Secret) except `unset`.
fn envoy_validate(objects: &[Value], unset: Option<&str>) -> Result<(), String> {
    let wasm = wasm();
    assert!(
        wasm.exists(),
        "{} is missing: build the filter first",
        wasm.display()
    );
    let bootstrap =
        switchyard::render::istio::assemble::bootstrap(objects, &wasm.to_string_lossy())?;
    let dir = tempdir();
    let path = dir.join("bootstrap.json");
    std::fs::write(&path, serde_json::to_string_pretty(&bootstrap).unwrap()).unwrap();
    let gateway = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "switchyard-gateway")
        .unwrap();
    let mut cmd = Command::new(envoy());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["--mode", "validate", "-c"])
        .arg(&path);
    for env in gateway["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = env["name"].as_str().unwrap();
        if Some(name) != unset {
            cmd.env(name, "validate-envoy-dummy-value");
        }
    }
    let out = cmd.output().expect("run envoy");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        let log = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        // Envoy's complaint: its critical and error lines (it also prints the
        // whole configuration it refused).
        let complaint: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("][critical]") || l.contains("][error]"))
            .collect();
        Err(if complaint.is_empty() {
            log
        } else {
            complaint.join("\n")
        })
    }
}

#[test]
#[ignore = "needs Envoy and the built filter: scripts/validate-envoy runs it"]
fn the_envoy_filter_applied_to_istios_gateway_passes_envoy_validate() {
    for objects in all_objects() {
        envoy_validate(&objects, None).unwrap();
    }
}

#[test]
#[ignore = "needs Envoy and the built filter: scripts/validate-envoy runs it"]
fn envoy_validate_refuses_a_broken_envoy_filter() {
    fn envoy_filter(objects: &mut [Value]) -> &mut Value {
        objects
            .iter_mut()
            .find(|o| o["kind"] == "EnvoyFilter")
            .unwrap()
    }
    let objects = fixture_objects();
    // A route whose cluster is missing (its patch and its upstream stage's).
    let mut broken = objects.clone();
    let patches = envoy_filter(&mut broken)["spec"]["configPatches"]
        .as_array_mut()
        .unwrap();
    // A model group's route cluster: one with an upstream stage.
    let route_cluster = patches
        .iter()
        .filter_map(|p| p["patch"]["value"]["route"]["cluster"].as_str())
        .find(|c| {
            let stage = format!("switchyard.upstream.{c}");
            patches
                .iter()
                .any(|p| p["patch"]["value"]["name"] == stage.as_str())
        })
        .unwrap()
        .to_string();
    let before = patches.len();
    patches.retain(|p| {
        let name = p["patch"]["value"]["name"].as_str().unwrap_or_default();
        !(name == route_cluster || name == format!("switchyard.upstream.{route_cluster}"))
    });
    assert_eq!(patches.len(), before - 2, "{route_cluster}");
    let err = envoy_validate(&broken, None).unwrap_err();
    assert!(err.contains("unknown cluster"), "{err}");
    // A misspelled Envoy field inside a patch (the CRD schema cannot see it).
    let mut broken = objects.clone();
    let patches = envoy_filter(&mut broken)["spec"]["configPatches"]
        .as_array_mut()
        .unwrap();
    let cluster = patches
        .iter_mut()
        .find(|p| p["applyTo"] == "CLUSTER")
        .unwrap();
    cluster["patch"]["value"]["connect_timout"] = json!("5s");
    let err = envoy_validate(&broken, None).unwrap_err();
    assert!(err.contains("connect_timout"), "{err}");
    // A variable the filter reads, missing from the gateway's environment: the filter
    // refuses to configure, naming it.
    let err = envoy_validate(&objects, Some("OPENAI_API_KEY")).unwrap_err();
    assert!(err.contains("OPENAI_API_KEY"), "{err}");
}
