//! The committed CRDs are what the types generate, and their schemas are structural.

use super::*;

/// Where the committed CRDs live (`switchyard crds --out deploy/kubernetes/crds`).
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/crds")
}

#[test]
fn committed_crds_are_what_the_types_generate() {
    // Regenerate every CRD and compare with deploy/kubernetes/crds byte for byte:
    // a change to the config model (a new litellm_params field, a new router
    // setting) fails here until `switchyard crds --out deploy/kubernetes/crds` is run.
    let mut stale = Vec::new();
    for (name, crd) in crds() {
        let generated = crd_yaml(&crd).unwrap();
        let path = committed_dir().join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "out of date (run `switchyard crds --out deploy/kubernetes/crds`): {stale:?}"
    );
    let mut files: Vec<String> = std::fs::read_dir(committed_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut expected: Vec<&str> = crds().iter().map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(files, expected, "a CRD file no type generates");
}

/// The places that must keep unknown fields: the config model's `flatten`ed maps
/// (LiteLLM takes extra keys there: default request parameters, metadata, …) and
/// the values that take any JSON (or a string or a list).
const PRESERVING: &[(&str, &[&str])] = &[
    (
        "modelgroups.yaml",
        &[
            ".spec.deployments[].litellm_params",
            ".spec.deployments[].litellm_params.organization",
            ".spec.deployments[].litellm_params.roles",
            ".spec.deployments[].litellm_params.vertex_credentials",
            ".spec.deployments[].model_info",
        ],
    ),
    (
        "routersettings.yaml",
        &[
            ".spec",
            ".spec.enable_pre_call_checks",
            ".spec.model_group_alias.*",
            ".spec.redis_host",
            ".spec.redis_password",
            ".spec.redis_port",
            ".spec.routing_strategy_args",
        ],
    ),
    ("virtualkeys.yaml", &[]),
];

#[test]
fn schemas_are_structural() {
    for (name, crd) in crds() {
        let text = crd_yaml(&crd).unwrap();
        let value: Value = serde_yaml::from_str(&text).unwrap();
        let versions = value["spec"]["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1);
        let version = &versions[0];
        assert_eq!(version["name"], VERSION);
        assert_eq!(
            version["subresources"]["status"],
            serde_json::json!({}),
            "{name}"
        );
        let schema = &version["schema"]["openAPIV3Schema"];
        let (errors, mut preserving) = structural::violations(schema);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        preserving.sort();
        let expected = PRESERVING.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(preserving, expected.to_vec(), "{name}");
    }
}

#[test]
fn the_structural_check_finds_what_kubernetes_refuses() {
    // The check itself must be able to fail: each of these is refused by Kubernetes.
    for (schema, expected) in [
        (
            serde_json::json!({"type": "object", "properties": {"a": {}}}),
            ".a: no type",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}),
            "additionalProperties together with properties",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}),
            "type must be one Kubernetes type",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}}),
            "`type` inside a junctor",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": "integer", "format": "uint32"}}}),
            "format \"uint32\"",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/A"}}}),
            "`$ref` is not allowed",
        ),
        (
            serde_json::json!({"type": "array"}),
            "an array without items",
        ),
    ] {
        let (errors, _) = structural::violations(&schema);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{schema}: {errors:?}"
        );
    }
}

#[test]
fn the_schemas_follow_the_config_model() {
    // Every field the config model's LitellmParams and RouterSettings serialize is a
    // property of the CRD, but `api_key`, which a reference to a Secret replaces.
    let crd = serde_json::to_value(ModelGroup::crd()).unwrap();
    let params = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["deployments"]["items"]["properties"]["litellm_params"]["properties"];
    let full = serde_json::to_value(schemars::schema_for!(LitellmParams)).unwrap();
    for field in full["properties"].as_object().unwrap().keys() {
        if field == API_KEY {
            assert!(
                params.get(field).is_none(),
                "api_key must not be in the CRD"
            );
        } else {
            assert!(
                params.get(field).is_some(),
                "litellm_params.{field} missing"
            );
        }
    }
    assert!(params.get(API_KEY_SECRET_REF).is_some());
    let crd = serde_json::to_value(RouterSettings::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    let full = serde_json::to_value(schemars::schema_for!(LitellmRouterSettings)).unwrap();
    for field in full["properties"].as_object().unwrap().keys() {
        assert!(spec.get(field).is_some(), "router_settings.{field} missing");
    }
}

#[test]
fn a_secret_refs_default_variable_is_derived_from_its_name_and_key() {
    let r = SecretKeyRef {
        name: "openai-prod".into(),
        key: "api.key".into(),
        env: None,
    };
    assert_eq!(r.env_name(), "SWITCHYARD_SECRET_OPENAI_PROD_API_KEY");
    let r = SecretKeyRef {
        env: Some("OPENAI_API_KEY".into()),
        ..r
    };
    assert_eq!(r.env_name(), "OPENAI_API_KEY");
}

/// The schema of `kind` in the committed CRDs.
fn schema_of(kind: &str) -> Value {
    let (_, crd) = crds()
        .into_iter()
        .find(|(_, c)| c.spec.names.kind == kind)
        .unwrap();
    let value: Value = serde_yaml::from_str(&crd_yaml(&crd).unwrap()).unwrap();
    value["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn the_examples_are_accepted_whole_by_their_schemas() {
    // What a user writes (the examples, with LiteLLM's string-or-object aliases, extra
    // litellm_params such as temperature) must pass the API server's validation and
    // not lose a field to pruning.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).unwrap();
            let Some(kind) = value
                .get("apiVersion")
                .filter(|v| *v == API_VERSION)
                .and(value["kind"].as_str())
            else {
                continue;
            };
            let mut body = value.clone();
            // The API server checks metadata itself; the schema covers the rest.
            body.as_object_mut().unwrap().remove("metadata");
            body.as_object_mut().unwrap().remove("apiVersion");
            body.as_object_mut().unwrap().remove("kind");
            let problems = structural::validate(&schema_of(kind), &body);
            assert!(
                problems.is_empty(),
                "{}: {kind}: {problems:#?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 5, "every example resource checked");
}

#[test]
fn the_schemas_refuse_and_prune_what_config_yaml_would_refuse() {
    let schema = schema_of(MODEL_GROUP);
    let spec = |s: &str| -> Value {
        serde_json::json!({ "spec": serde_yaml::from_str::<Value>(s).unwrap() })
    };
    let problems = structural::validate(
        &schema,
        &spec("model_name: g\ndeployments:\n  - litellm_params: {model: 5}\n"),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains(".spec.deployments[0].litellm_params.model: expected \"string\"")),
        "{problems:?}"
    );
    let problems = structural::validate(
        &schema,
        &spec("model_name: g\ndeployments:\n  - litellm_params: {rpm: -1}\n"),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing required field model")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("rpm: -1 is below the minimum 0")),
        "{problems:?}"
    );
    let problems = structural::validate(&schema, &spec("model_name: g\ndeploymentz: []\n"));
    assert!(
        problems
            .iter()
            .any(|p| p.contains(".spec.deploymentz: not in the schema")),
        "{problems:?}"
    );
    // Extra litellm_params (default request parameters) are kept, as config.yaml keeps them.
    let problems = structural::validate(&schema, &spec("model_name: g\ndeployments:\n  - litellm_params: {model: openai/x, temperature: 0.1, organization: [a, b]}\n"));
    assert!(problems.is_empty(), "{problems:?}");
}
