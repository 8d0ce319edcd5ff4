//! The istio target's unit tests: its Envoy configuration, once assembled as Istio
//! would ([`super::assemble`]), is the envoy target's, with only the wasm code's
//! source (ECDS and the OCI image), the listener's address and Istio's own names
//! differing; the VMs are shared as the filter needs; secrets are refused.

use serde_json::{json, Value};

use super::*;
use crate::litellm::parse_str;
use crate::render::render as render_envoy;

const CONFIG: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, weight: 3}
  - model_name: gpt-4o
    litellm_params: {model: azure/d, api_base: https://r.openai.azure.com, api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21"}
  - model_name: claude
    litellm_params: {model: anthropic/claude-3-5-sonnet-20240620, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: local
    litellm_params: {model: hosted_vllm/llama, api_base: "http://127.0.0.1:8000/v1", input_cost_per_token: 0, output_cost_per_token: 0}
router_settings:
  fallbacks: [{"gpt-4o": ["claude"]}]
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"#;

fn plan(text: &str) -> Plan {
    // The variables the config names are set; nothing else is.
    let env = |name: &str| name.ends_with("_KEY").then(|| format!("value-of-{name}"));
    let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
    crate::plan::compile(&config, &env).unwrap()
}

const WASM: &str = "/f.wasm";

/// The envoy target's bootstrap for `plan`, with the options the istio target uses.
fn envoy_bootstrap(plan: &Plan, opts: &IstioOptions) -> Value {
    render_envoy(plan, &envoy_options(plan, opts, WASM.into()))
        .unwrap()
        .bootstrap
}

/// A filter list with each wasm filter's name and VM normalized the way the istio
/// target changes them: ECDS names the upstream stage after its plugin.
fn normalized_filters(filters: &Value) -> Vec<Value> {
    filters
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f["name"] == "switchyard.upstream" {
                let plugin = f["typed_config"]["config"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string();
                f["name"] = json!(format!("switchyard.upstream.{plugin}"));
            }
            f
        })
        .collect()
}

#[test]
fn the_istio_envoy_config_is_the_envoy_targets() {
    let plan = plan(CONFIG);
    let opts = IstioOptions::default();
    let rendered = render(&plan, &opts).unwrap();
    let istio = assemble::bootstrap(&rendered.objects, WASM).unwrap();
    let envoy = envoy_bootstrap(&plan, &opts);

    // Every cluster, in the same order, identical but for the upstream stage's
    // filter name (ECDS).
    let mut envoy_clusters = envoy["static_resources"]["clusters"].clone();
    for cluster in envoy_clusters.as_array_mut().unwrap() {
        if let Some(filters) = cluster
            .get_mut("typed_extension_protocol_options")
            .and_then(|o| o.get_mut(envoy_filter::HTTP_PROTOCOL_OPTIONS))
            .and_then(|o| o.get_mut("http_filters"))
        {
            *filters = json!(normalized_filters(filters));
        }
    }
    assert_eq!(istio["static_resources"]["clusters"], envoy_clusters);

    let listener = &istio["static_resources"]["listeners"][0];
    let envoy_listener = &envoy["static_resources"]["listeners"][0];
    assert_eq!(
        listener["per_connection_buffer_limit_bytes"],
        envoy_listener["per_connection_buffer_limit_bytes"]
    );
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    let envoy_hcm = &envoy_listener["filter_chains"][0]["filters"][0]["typed_config"];
    // The same filters in the same order; the same local replies and access log.
    assert_eq!(hcm["http_filters"], envoy_hcm["http_filters"]);
    assert_eq!(hcm["local_reply_config"], envoy_hcm["local_reply_config"]);
    assert_eq!(hcm["access_log"], envoy_hcm["access_log"]);
    // The same routes in the same order, first; then the VirtualService's own,
    // shadowed by the unrouted 404 before it.
    let vhost = &hcm["route_config"]["virtual_hosts"][0];
    let envoy_vhost = &envoy_hcm["route_config"]["virtual_hosts"][0];
    let routes = vhost["routes"].as_array().unwrap();
    let envoy_routes = envoy_vhost["routes"].as_array().unwrap();
    assert_eq!(routes[..envoy_routes.len()], envoy_routes[..]);
    assert_eq!(routes.len(), envoy_routes.len() + 1);
    assert_eq!(
        envoy_routes.last().unwrap()["match"],
        json!({"prefix": "/"})
    );
    assert_eq!(vhost["include_request_attempt_count"], json!(true));
}

#[test]
fn every_wasm_filter_loads_the_oci_image_in_one_vm() {
    let plan = plan(CONFIG);
    let opts = IstioOptions {
        wasm_image: "registry.example/wasm:1".into(),
        ..IstioOptions::default()
    };
    let rendered = render(&plan, &opts).unwrap();
    let text = serde_json::to_string(&rendered.objects).unwrap();
    assert!(!text.contains(envoy_filter::WASM_PLACEHOLDER));
    let envoy_filter = rendered
        .objects
        .iter()
        .find(|o| o["kind"] == "EnvoyFilter")
        .unwrap();
    let configs: Vec<&Value> = envoy_filter["spec"]["configPatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["applyTo"] == "EXTENSION_CONFIG")
        .map(|p| &p["patch"]["value"])
        .collect();
    // Router, responder, one upstream stage per route cluster and per probe cluster.
    assert_eq!(
        configs.len(),
        2 + plan.routes.len() + plan.deployments.len()
    );
    for config in &configs {
        let plugin = &config["typed_config"]["config"];
        assert_eq!(
            plugin["vm_config"]["code"]["remote"]["http_uri"]["uri"],
            "oci://registry.example/wasm:1"
        );
        assert_eq!(plugin["allow_on_headers_stop_iteration"], true);
        let vm_id = plugin["vm_config"]["vm_id"].as_str().unwrap();
        // The probe clusters' VM is their own (docs/envoy.md); every other stage
        // shares one.
        let probe = config["name"]
            .as_str()
            .unwrap()
            .starts_with("switchyard.upstream.health_");
        assert_eq!(
            vm_id,
            if probe {
                crate::render::PROBE_VM_ID
            } else {
                "switchyard"
            },
            "{}",
            config["name"]
        );
    }
    // No WasmPlugin: see the module's documentation.
    assert!(!rendered.objects.iter().any(|o| o["kind"] == "WasmPlugin"));
}

#[test]
fn the_secret_holds_every_variable_and_nothing_else() {
    let plan = plan(CONFIG);
    let rendered = render(&plan, &IstioOptions::default()).unwrap();
    let mut expected: Vec<String> = plan.host_env_keys.iter().cloned().collect();
    expected.sort();
    assert_eq!(rendered.secret_keys, expected);
    assert!(rendered
        .secret_keys
        .contains(&"LITELLM_MASTER_KEY".to_string()));
    // The keyservice (SQLite: no database in the config) has a volume for it.
    let keyservice = rendered
        .objects
        .iter()
        .find(|o| o["metadata"]["name"] == KEYSERVICE_NAME && o["kind"] == "Deployment")
        .unwrap();
    let args = keyservice["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("sqlite:///var/lib/switchyard/"), "{args}");
    assert!(args.contains("--master-key-env"), "{args}");
}

#[test]
fn a_placeholder_key_is_no_written_secret_but_a_written_key_is() {
    // hosted_vllm without a key gets LiteLLM's placeholder: rendered.
    let plan_ok = plan(
        "model_list:\n  - model_name: l\n    litellm_params: {model: hosted_vllm/x, api_base: 'http://10.0.0.1:8000/v1'}\n",
    );
    render(&plan_ok, &IstioOptions::default()).unwrap();
    let written = plan(
        "model_list:\n  - model_name: l\n    litellm_params: {model: hosted_vllm/x, api_base: 'http://10.0.0.1:8000/v1', api_key: sk-real}\n",
    );
    let err = render(&written, &IstioOptions::default()).unwrap_err();
    assert!(
        err.starts_with("model_list[0] (model_name \"l\"): litellm_params.api_key"),
        "{err}"
    );
}

#[test]
fn dns_labels_are_kubernetes_names() {
    assert_eq!(
        dns_label("switchyard-API.OpenAI.com-443"),
        "switchyard-api-openai-com-443"
    );
    assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
    assert_eq!(dns_label("-x-"), "x");
}

#[test]
fn provider_hosts_get_a_service_entry_and_https_ones_tls_origination() {
    let plan = plan(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}\n  - model_name: b\n    litellm_params: {model: hosted_vllm/x, api_base: 'http://vllm.models.svc:8000/v1', input_cost_per_token: 0, output_cost_per_token: 0}\n  - model_name: c\n    litellm_params: {model: hosted_vllm/y, api_base: 'http://127.0.0.1:8000/v1'}\n",
    );
    let objects = providers::provider_objects(&plan, &IstioOptions::default());
    let summary: Vec<(String, String, Value)> = objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
                o["spec"]["ports"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "ServiceEntry".to_string(),
                "switchyard-api-openai-com-443".to_string(),
                json!([
                    {"number": 443, "name": "https-443", "protocol": "HTTPS"},
                    {"number": 80, "name": "http-80", "protocol": "HTTP", "targetPort": 443},
                ])
            ),
            (
                "DestinationRule".to_string(),
                "switchyard-api-openai-com-443".to_string(),
                Value::Null
            ),
            (
                "ServiceEntry".to_string(),
                "switchyard-vllm-models-svc-8000".to_string(),
                json!([{"number": 8000, "name": "http-8000", "protocol": "HTTP"}])
            ),
        ]
    );
    let rule = &objects[1]["spec"];
    assert_eq!(rule["host"], "api.openai.com");
    assert_eq!(
        rule["trafficPolicy"]["portLevelSettings"][0],
        json!({"port": {"number": 80}, "tls": {"mode": "SIMPLE", "sni": "api.openai.com"}})
    );
}
