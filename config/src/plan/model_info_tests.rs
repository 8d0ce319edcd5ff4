use super::*;
use crate::plan::test_support::*;

/// Distinctive secrets, one in every place a config may hold one.
const SECRETS: [&str; 9] = [
    "sk-APIKEYSECRET0001",
    "AKIASECRETACCESSID02",
    "aws-SECRET-ACCESS-KEY-0003",
    "VERTEXCREDSECRET0004",
    "Bearer HEADERSECRET0005",
    "USERINFOSECRET0006",
    "QUERYSECRET0007",
    "SESSIONTOKENSECRET0008",
    "XAPIKEYSECRET0009",
];

const SECRET_CONFIG: &str = r#"model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o
      api_base: https://llm.example.com/v1
      api_key: sk-APIKEYSECRET0001
      extra_headers:
        Authorization: Bearer HEADERSECRET0005
        x-api-key: XAPIKEYSECRET0009
        x-team: blue
      rpm: 10
    model_info:
      id: chat-1
      supports_vision: true
  - model_name: chat
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_access_key_id: AKIASECRETACCESSID02
      aws_secret_access_key: aws-SECRET-ACCESS-KEY-0003
      aws_session_token: SESSIONTOKENSECRET0008
      aws_region_name: us-east-1
    model_info:
      id: chat-2
  - model_name: emb
    litellm_params:
      model: openai/text-embedding-3-small
      api_key: sk-APIKEYSECRET0001
    model_info:
      mode: embedding
      health_check_timeout: 5
  - model_name: demo
    litellm_params:
      model: openai/gpt-4o
      api_base: https://admin:USERINFOSECRET0006@mock.example.com/v1?key=QUERYSECRET0007
      vertex_credentials: '{"type": "service_account", "private_key": "VERTEXCREDSECRET0004"}'
      mock_response: hi
"#;

fn info() -> ModelInfoConfig {
    compile_text(SECRET_CONFIG).unwrap().router.info
}

#[test]
fn no_secret_reaches_any_answer() {
    let info = info();
    let all = serde_json::to_string(&info).unwrap();
    for secret in SECRETS {
        // Every distinctive part: a masked value may keep none of it.
        let core = secret.trim_start_matches("Bearer ");
        assert!(!all.contains(core), "{secret} leaked: {all}");
    }
    // The non-secret parts stay.
    assert!(all.contains("https://llm.example.com/v1"), "{all}");
    assert!(all.contains("\"x-team\":\"blue\""), "{all}");
    assert!(all.contains("us-east-1"));
}

#[test]
fn model_info_has_litellms_shape() {
    let info = info();
    assert_eq!(info.deployments.len(), 4);
    let first = &info.deployments[0];
    assert_eq!(first["model_name"], "chat");
    assert_eq!(first["litellm_params"]["model"], "openai/gpt-4o");
    assert!(first["litellm_params"].get("api_key").is_none());
    assert_eq!(
        first["litellm_params"]["extra_headers"]["Authorization"]
            .as_str()
            .unwrap()
            .trim_matches('*'),
        "",
        "masked whole"
    );
    assert_eq!(first["model_info"]["id"], "chat-1");
    assert_eq!(first["model_info"]["db_model"], false);
    assert_eq!(first["model_info"]["supports_vision"], true);
    assert_eq!(first["model_info"]["litellm_provider"], "openai");
    // A served deployment's api_base can hold no user info or query (the config
    // refuses them); a mock's is only shown, stripped.
    let demo = &info.deployments[3];
    assert_eq!(demo["model_name"], "demo");
    assert_eq!(
        demo["litellm_params"]["api_base"],
        "https://mock.example.com/v1"
    );
}

#[test]
fn model_group_info_has_litellms_shape() {
    let info = info();
    let names: Vec<&str> = info
        .groups
        .iter()
        .map(|g| g["model_group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat", "emb", "demo"]);
    let chat = &info.groups[0];
    assert_eq!(chat["providers"], serde_json::json!(["openai", "bedrock"]));
    assert_eq!(chat["rpm"], 10);
    assert_eq!(chat["mode"], "chat");
    assert_eq!(chat["supports_vision"], true);
    assert_eq!(chat["supports_function_calling"], false);
    assert_eq!(info.groups[1]["mode"], "embedding");
}

#[test]
fn probes_go_to_each_deployments_own_cluster() {
    let plan = compile_text(SECRET_CONFIG).unwrap();
    let probes = &plan.router.info.probes;
    assert_eq!(probes.len(), 4);
    for (probe, dep) in probes.iter().zip(&plan.deployments) {
        assert_eq!(probe.deployment_id, dep.upstream.deployment_id);
        assert_eq!(
            probe.cluster.as_deref(),
            Some(probe_cluster_name(dep).as_str())
        );
        assert_eq!(
            probe.endpoint["model_id"],
            dep.upstream.deployment_id.as_str()
        );
    }
    assert_eq!(probes[0].mode, "chat");
    assert_eq!(probes[0].timeout_ms, 60_000, "LiteLLM's default");
    assert_eq!(probes[2].mode, "embedding");
    assert_eq!(
        probes[2].timeout_ms, 5_000,
        "model_info.health_check_timeout"
    );
    assert_eq!(probes[3].cluster, None, "a mock deployment needs no call");
    // The shown endpoint is LiteLLM's display subset.
    assert_eq!(
        probes[0].endpoint,
        serde_json::json!({"model": "openai/gpt-4o", "api_base": "https://llm.example.com/v1", "rpm": 10, "model_id": "chat-1"})
    );
}

#[test]
fn health_check_timeouts_are_checked() {
    let err = compile_text(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n    model_info: {health_check_timeout: fast}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("model_list[0].model_info.health_check_timeout") && err.contains("positive"),
        "{err}"
    );
    let plan = compile_env(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n",
        &[("HEALTH_CHECK_TIMEOUT_SECONDS", "2.5")],
    )
    .unwrap();
    assert_eq!(plan.router.info.probes[0].timeout_ms, 2_500);
    let err = compile_env(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n",
        &[("HEALTH_CHECK_TIMEOUT_SECONDS", "-1")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("HEALTH_CHECK_TIMEOUT_SECONDS"), "{err}");
}

#[test]
fn sensitive_keys_and_urls() {
    for key in [
        "api_key",
        "x-api-key",
        "Authorization",
        "aws_session_token",
        "client_secret",
        "cookie",
    ] {
        assert!(is_sensitive_key(key), "{key}");
    }
    for key in [
        "max_tokens",
        "input_cost_per_token",
        "model",
        "api_base",
        "litellm_credential_name",
        "x-team",
    ] {
        assert!(!is_sensitive_key(key), "{key}");
    }
    assert_eq!(
        strip_url_secrets("https://u:p@h.example:8443/v1?key=s#f"),
        "https://h.example:8443/v1"
    );
    assert_eq!(strip_url_secrets("http://h/v1"), "http://h/v1");
    assert_eq!(
        strip_url_secrets("os.environ/API_BASE"),
        "os.environ/API_BASE"
    );
    assert_eq!(strip_url_secrets("not a url ://"), "not a url ://");
    // A huge value is masked to a bounded length.
    assert_eq!(
        mask(&Value::String("s".repeat(10_000))),
        Value::String("*".repeat(16))
    );
}

#[test]
fn wildcard_deployments_are_shown_but_not_probed() {
    let plan = compile_text(
        "model_list:\n  - model_name: openai/*\n    litellm_params: {model: openai/*, api_key: k}\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n",
    )
    .unwrap();
    let info = &plan.router.info;
    assert_eq!(info.deployments.len(), 2);
    let probed: Vec<&str> = info.probes.iter().map(|p| p.model.as_str()).collect();
    assert_eq!(probed, ["g"]);
    let groups: Vec<&str> = info
        .groups
        .iter()
        .map(|g| g["model_group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["g"], "LiteLLM leaves wildcard routes out");
}

#[test]
fn health_check_details_off_shows_only_the_model() {
    let plan = compile_text(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_key: k, api_base: 'https://h.example/v1', rpm: 3}\n    model_info: {id: g1}\ngeneral_settings:\n  health_check_details: false\n",
    )
    .unwrap();
    assert_eq!(
        plan.router.info.probes[0].endpoint,
        serde_json::json!({"model": "openai/gpt-4o", "model_id": "g1"})
    );
    let err = compile_text("model_list: []\ngeneral_settings:\n  health_check_details: maybe\n")
        .unwrap_err()
        .to_string();
    // (`litellm_flag`'s message names `drop_params` whatever the key; the line is right.)
    assert!(
        err.contains("config.yaml:3") && err.contains("'maybe'"),
        "{err}"
    );
}
