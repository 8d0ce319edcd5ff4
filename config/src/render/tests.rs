//! The render tests: the bootstrap's shape for configs written to test it.

use switchyard_contract::error_body::GatewayError;
use switchyard_contract::headers::{ADMISSION_HEADER, CLIENT_CREDENTIAL_HEADERS};

use super::listener::ext_authz;
use super::local_reply::anthropic_request_expression;
use super::*;
use crate::litellm::parse_str;

fn render_text(text: &str) -> Value {
    let env = |_: &str| None;
    let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
    let plan = crate::plan::compile(&config, &env).unwrap();
    let opts = RenderOptions::for_tests();
    render(&plan, &opts).unwrap().bootstrap
}

/// The header lists Envoy's ext_authz is rendered with are the contract's: the
/// keyservice gets the client's credentials and the router stage's check headers,
/// and only the keyservice's own headers reach the filter.
#[test]
fn ext_authz_passes_exactly_the_contracts_headers() {
    use switchyard_contract::headers as h;
    let names = |patterns: &Value| -> Vec<String> {
        patterns["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["exact"].as_str().unwrap().to_string())
            .collect()
    };
    let service = &ext_authz()["typed_config"]["http_service"];
    let to_keyservice = names(&service["authorization_request"]["allowed_headers"]);
    let expected: Vec<&str> = h::CLIENT_CREDENTIAL_HEADERS
        .iter()
        .chain(&h::CHECK_REQUEST_HEADERS)
        .copied()
        .collect();
    assert_eq!(to_keyservice, expected);
    for header in [
        h::GROUP_HEADER,
        h::REQUESTED_MODEL_HEADER,
        h::FALLBACK_GROUPS_HEADER,
        h::ADMISSION_HEADER,
    ] {
        assert!(to_keyservice.iter().any(|n| n == header), "{header}");
    }
    let to_filter = names(&service["authorization_response"]["allowed_upstream_headers"]);
    assert_eq!(to_filter, h::KEY_HEADERS);
    for header in [
        h::ALIAS_TARGET_HEADER,
        h::KEY_HASH_HEADER,
        h::USER_ID_HEADER,
        h::TEAM_ID_HEADER,
        h::LEASE_HEADER,
        h::KEY_MODELS_HEADER,
        h::CLIENT_MOCK_HEADER,
        h::ADMISSION_HEADER,
    ] {
        assert!(to_filter.iter().any(|n| n == header), "{header}");
    }
}

/// A config with virtual keys (a database, no master key) rendered against `ks`.
fn render_keys(ks: &str, ca: Option<&str>) -> Result<Value, String> {
    let env = |_: &str| None;
    let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1}\ngeneral_settings:\n  database_url: sqlite://k.db\n";
    let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
    let plan = crate::plan::compile(&config, &env).unwrap();
    let opts = RenderOptions {
        keyservice: Some(ks.to_string()),
        keyservice_ca: ca.map(str::to_string),
        ..RenderOptions::for_tests()
    };
    render(&plan, &opts).map(|r| r.bootstrap)
}

fn keyservice_cluster_of(boot: &Value) -> Value {
    boot["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == KEYSERVICE_CLUSTER)
        .cloned()
        .unwrap()
}

#[test]
fn a_tls_keyservice_is_checked_by_certificate_and_name() {
    let boot = render_keys("https://keys.internal:4443", Some("/etc/ks-ca.pem")).unwrap();
    let c = keyservice_cluster_of(&boot);
    assert_eq!(c["type"], "STRICT_DNS");
    let tls = &c["transport_socket"]["typed_config"];
    assert_eq!(tls["sni"], "keys.internal");
    let v = &tls["common_tls_context"]["validation_context"];
    assert_eq!(v["trusted_ca"]["filename"], "/etc/ks-ca.pem");
    assert_eq!(
        v["match_typed_subject_alt_names"],
        json!([{"san_type": "DNS", "matcher": {"exact": "keys.internal"}}])
    );
    // Without --keyservice-ca: the system trust store (--ca-file).
    let boot = render_keys("https://10.0.0.5:4443", None).unwrap();
    let c = keyservice_cluster_of(&boot);
    let tls = &c["transport_socket"]["typed_config"];
    assert_eq!(
        tls["common_tls_context"]["validation_context"]["trusted_ca"]["filename"],
        DEFAULT_CA_FILE
    );
    assert_eq!(
        tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"][0]
            ["san_type"],
        "IP_ADDRESS"
    );
    // Cleartext forms: no transport socket; a CA for them is a mistake.
    for addr in ["127.0.0.1:4001", "http://127.0.0.1:4001"] {
        let c = keyservice_cluster_of(&render_keys(addr, None).unwrap());
        assert!(c.get("transport_socket").is_none(), "{addr}");
    }
    assert!(render_keys("127.0.0.1:4001", Some("/ca.pem"))
        .unwrap_err()
        .contains("--keyservice-ca is for a TLS keyservice"));
    for bad in ["https://", "https://host", "ftp://h:1/x", "h:notaport"] {
        assert!(render_keys(bad, None).is_err(), "{bad}");
    }
}

#[test]
fn the_listener_never_routes_internal_keyservice_paths() {
    let boot = render_keys("127.0.0.1:4001", None).unwrap();
    let hcm =
        &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
    let routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
        .as_array()
        .unwrap();
    let to_keyservice: Vec<&Value> = routes
        .iter()
        .filter(|r| r["route"]["cluster"] == KEYSERVICE_CLUSTER)
        .map(|r| &r["match"])
        .collect();
    assert!(to_keyservice.contains(&&json!({"path": "/spend/logs"})));
    for m in &to_keyservice {
        for internal in ["/spend/record", "/check/v1/chat/completions"] {
            if let Some(prefix) = m["prefix"].as_str() {
                assert!(!internal.starts_with(prefix), "{m} routes {internal}");
            }
            assert_ne!(m["path"].as_str(), Some(internal), "{m}");
        }
    }
    // The gateway's reports carry the reporting credential (no master key).
    let plugin: Value = serde_json::from_str(
        hcm["http_filters"][0]["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        plugin["spend_reporting"]["auth"],
        json!({"env": crate::plan::REPORTER_KEY_VARIABLE})
    );
}

#[test]
fn vertex_token_endpoints_get_a_cluster_each() {
    let key = serde_json::json!({
        "type": "service_account",
        "private_key": include_str!("../../../filter/src/testdata/google_test_key.pem"),
        "client_email": "gw@p.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    // Two deployments of one account: one token cluster.
    let text = format!(
        "model_list:\n  - model_name: a\n    litellm_params: {{model: vertex_ai/gemini-2.5-flash, vertex_project: p, vertex_credentials: {key}}}\n  - model_name: b\n    litellm_params: {{model: vertex_ai/claude-opus-4, vertex_project: p, vertex_credentials: {key}}}\n",
        key = serde_json::to_string(&key.to_string()).unwrap()
    );
    let boot = render_text(&text);
    let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
    let tokens: Vec<&Value> = clusters
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("google_token_"))
        .collect();
    assert_eq!(tokens.len(), 1);
    let c = tokens[0];
    assert_eq!(c["name"], "google_token_oauth2_googleapis_com_443");
    assert_eq!(c["type"], "STRICT_DNS");
    assert_eq!(
        c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"],
        serde_json::json!({"address": "oauth2.googleapis.com", "port_value": 443})
    );
    assert_eq!(
        c["transport_socket"]["typed_config"]["sni"],
        "oauth2.googleapis.com"
    );
}

#[test]
fn circuit_breakers_are_sized_from_the_deployments() {
    let boot = render_text(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1, max_parallel_requests: 2000}\n  - model_name: a\n    litellm_params: {model: openai/y, api_base: http://127.0.0.1:2, rpm: 600}\n  - model_name: b\n    litellm_params: {model: openai/z, api_base: http://127.0.0.1:3}\n  - model_name: c\n    litellm_params: {model: openai/w, api_base: http://127.0.0.1:4, rpm: 10}\nrouter_settings:\n  fallbacks: [{a: [b]}]\n",
    );
    let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
    let thresholds = |name: &str| {
        let c = clusters
            .iter()
            .find(|c| c["name"].as_str().is_some_and(|n| n.ends_with(name)))
            .unwrap();
        c["circuit_breakers"]["thresholds"][0].clone()
    };
    // a: 2000 + 600, and its fallback b's deployment (no hint: 1024).
    let a = thresholds("_a");
    assert_eq!(a["max_requests"], 2000 + 600 + 1024, "{a}");
    assert_eq!(
        a["max_retries"], a["max_requests"],
        "one retry per request in flight"
    );
    assert_eq!(a["max_pending_requests"], a["max_requests"]);
    assert_eq!(a["max_connections"], a["max_requests"]);
    // c: rpm 10, but never below Envoy's own default.
    assert_eq!(thresholds("_c")["max_retries"], CIRCUIT_BREAKER_FLOOR);
}

#[test]
fn a_group_and_its_fallbacks_share_one_route_cluster() {
    let boot = render_text(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1, weight: 1}\n  - model_name: a\n    litellm_params: {model: azure/y, api_base: https://r.openai.azure.com, weight: 3}\n  - model_name: b\n    litellm_params: {model: anthropic/z, api_base: http://10.0.0.1:2}\nrouter_settings:\n  num_retries: 1\n  timeout: 60\n  allowed_fails: 2\n  cooldown_time: 7\n  routing_strategy: least-busy\n  fallbacks: [{a: [b]}]\n",
    );
    let all = boot["static_resources"]["clusters"].as_array().unwrap();
    // Beside them, one `/health` probe cluster per deployment.
    let (probes, clusters): (Vec<&Value>, Vec<&Value>) = all
        .iter()
        .partition(|c| c["name"].as_str().unwrap().starts_with("health_"));
    assert_eq!(clusters.len(), 2, "one route cluster per group");
    assert_eq!(probes.len(), 3, "one probe cluster per deployment");
    let a = &clusters[0];
    assert_eq!(a["type"], "STRICT_DNS");
    assert_eq!(a["lb_policy"], "LEAST_REQUEST");
    assert_eq!(
        a["common_lb_config"]["healthy_panic_threshold"]["value"],
        0.0
    );
    let localities = a["load_assignment"]["endpoints"].as_array().unwrap();
    let summary: Vec<(u64, u64, &str)> = localities
        .iter()
        .map(|l| {
            (
                l["priority"].as_u64().unwrap(),
                l["load_balancing_weight"].as_u64().unwrap(),
                l["lb_endpoints"][0]["endpoint"]["hostname"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 1, "127.0.0.1"),
            (0, 3, "r.openai.azure.com"),
            (1, 1, "10.0.0.1")
        ]
    );
    // TLS only for the https endpoint, chosen by its metadata.
    assert_eq!(
        localities[1]["lb_endpoints"][0]["metadata"]["filter_metadata"]
            ["envoy.transport_socket_match"]["tls_host"],
        "r.openai.azure.com"
    );
    assert!(
        localities[0]["lb_endpoints"][0]["metadata"]["filter_metadata"]
            .get("envoy.transport_socket_match")
            .is_none()
    );
    assert_eq!(
        a["transport_socket_matches"][0]["transport_socket"]["typed_config"]["sni"],
        "r.openai.azure.com"
    );
    assert!(
        a.get("transport_socket").is_none(),
        "plain endpoints keep the raw socket"
    );
    // Envoy refuses ALPN (`auto_config`) on a cluster with a raw socket: a mixed
    // cluster speaks HTTP/1.1 to every endpoint.
    let protocol = &a["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    assert!(protocol.get("auto_config").is_none(), "{protocol}");
    assert_eq!(
        protocol["explicit_http_config"],
        serde_json::json!({"http_protocol_options": {}})
    );
    assert_eq!(a["outlier_detection"]["consecutive_5xx"], 2);
    assert_eq!(a["outlier_detection"]["base_ejection_time"], "7.000s");
    // The plugin knows every deployment, fallback ones tagged.
    let plugin: Value = serde_json::from_str(
        a["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
            ["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let tags: Vec<u64> = plugin["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fallback_index"].as_u64().unwrap())
        .collect();
    assert_eq!(tags, vec![0, 0, 1]);

    let routes = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        .as_array()
        .unwrap();
    let retry = &routes[0]["route"]["retry_policy"];
    assert_eq!(
        retry["num_retries"], 3,
        "(1 retry + 1) attempts for the group and again for its fallback"
    );
    assert_eq!(
        retry["retry_priority"]["typed_config"]["update_frequency"],
        2
    );
    assert_eq!(retry["retriable_status_codes"], serde_json::json!([429]));
    assert_eq!(
        retry["per_try_timeout"], "15.000s",
        "60 s shared by 4 attempts"
    );
    assert!(retry["retry_on"]
        .as_str()
        .unwrap()
        .contains("connect-failure"));
    // The fallback group's own route has no fallbacks: no priority hopping.
    assert!(routes[1]["route"]["retry_policy"]
        .get("retry_priority")
        .is_none());
    assert_eq!(routes[1]["route"]["retry_policy"]["num_retries"], 1);
}

#[test]
fn an_all_https_cluster_keeps_alpn() {
    let boot = render_text(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: https://one.example.com/v1, api_key: k}\n  - model_name: b\n    litellm_params: {model: openai/y, api_base: https://two.example.com/v1, api_key: k}\nrouter_settings:\n  fallbacks: [{a: [b]}]\n",
    );
    let a = &boot["static_resources"]["clusters"][0];
    let protocol = &a["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    assert_eq!(
        protocol["auto_config"],
        serde_json::json!({"http_protocol_options": {}, "http2_protocol_options": {}}),
        "HTTP/2 where the provider offers it"
    );
    assert!(protocol.get("explicit_http_config").is_none());
    let snis: Vec<&str> = a["transport_socket_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["transport_socket"]["typed_config"]["sni"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(snis, vec!["one.example.com", "two.example.com"]);
    assert!(a.get("transport_socket").is_some(), "no raw default socket");
}

#[test]
fn titan_deployments_get_a_cluster_of_their_own() {
    let boot = render_text(
        "model_list:\n  - model_name: titan\n    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0, aws_access_key_id: AKID, aws_secret_access_key: s, aws_region_name: eu-west-1}\n  - model_name: titan\n    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0, aws_access_key_id: AKID, aws_secret_access_key: s, aws_bedrock_runtime_endpoint: 'http://127.0.0.1:9'}\n  - model_name: claude\n    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0, aws_access_key_id: AKID, aws_secret_access_key: s}\n",
    );
    let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
    let direct: Vec<&Value> = clusters
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("direct_"))
        .collect();
    assert_eq!(direct.len(), 2, "one per Titan deployment, none for Claude");
    let address = |c: &Value| {
        c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"]
            .clone()
    };
    assert_eq!(
        address(direct[0]),
        serde_json::json!({"address": "bedrock-runtime.eu-west-1.amazonaws.com", "port_value": 443})
    );
    assert_eq!(
        direct[0]["transport_socket"]["typed_config"]["sni"],
        "bedrock-runtime.eu-west-1.amazonaws.com"
    );
    assert_eq!(
        address(direct[1]),
        serde_json::json!({"address": "127.0.0.1", "port_value": 9})
    );
    assert!(direct[1].get("transport_socket").is_none());
    // The route cluster's plugin config names each deployment's own cluster.
    let route = clusters
        .iter()
        .find(|c| {
            c["name"].as_str().unwrap().contains("titan")
                && !c["name"].as_str().unwrap().starts_with("direct_")
        })
        .unwrap();
    let plugin: Value = serde_json::from_str(
        route["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
            ["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let named: Vec<&str> = plugin["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["direct_cluster"].as_str().unwrap())
        .collect();
    let names: Vec<&str> = direct.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(named, names);
}

#[test]
fn error_fallbacks_enable_internal_redirects() {
    let boot = render_text(
        "model_list:\n  - model_name: small\n    litellm_params: {model: openai/s, api_base: http://127.0.0.1:1, extra_headers: {X-Team: a}}\n  - model_name: big\n    litellm_params: {model: openai/b, api_base: http://127.0.0.1:2}\nrouter_settings:\n  context_window_fallbacks: [{small: [big]}]\n",
    );
    let routes = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        .as_array()
        .unwrap();
    // Both groups' call and stream routes.
    for r in &routes[..4] {
        assert_eq!(
            r["route"]["internal_redirect_policy"]["redirect_response_codes"],
            serde_json::json!([307])
        );
        // The longest config chain, after the request's own fallbacks.
        assert_eq!(
            r["route"]["internal_redirect_policy"]["max_internal_redirects"],
            serde_json::json!(1 + switchyard_contract::routing::MAX_REQUEST_FALLBACKS)
        );
        // A replay presents the caller's credentials only (`credentials`).
        assert_eq!(
            r["route"]["internal_redirect_policy"]["response_headers_to_copy"],
            serde_json::json!([
                CLIENT_CREDENTIAL_HEADERS.as_slice(),
                &[
                    ADMISSION_HEADER,
                    switchyard_contract::headers::CALL_ID_CARRIER_HEADER
                ]
            ]
            .concat())
        );
    }
    // The `big` cluster clears `small`'s extra header too (a fallback replays the
    // request with the headers the earlier cluster set).
    let big = &boot["static_resources"]["clusters"][1];
    let plugin: Value = serde_json::from_str(
        big["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
            ["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(plugin["clear_headers"], serde_json::json!(["x-team"]));
    assert_eq!(
        plugin["error_fallbacks"]["small"]["context_window"],
        serde_json::json!(["big"])
    );

    // Without config chains, a request's own `fallbacks` still redirect.
    let plain = render_text("model_list:\n  - model_name: g\n    litellm_params: {model: openai/s, api_base: http://127.0.0.1:1}\n");
    let r = &plain["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"][0];
    assert_eq!(
        r["route"]["internal_redirect_policy"]["max_internal_redirects"],
        serde_json::json!(switchyard_contract::routing::MAX_REQUEST_FALLBACKS)
    );
}

#[test]
fn envoys_own_errors_take_anthropics_shape_on_the_messages_routes() {
    let boot = render_text(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_base: http://127.0.0.1:9}\n",
    );
    let hcm =
        &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
    let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
    let (anthropic, openai): (Vec<&Value>, Vec<&Value>) = mappers
        .iter()
        .partition(|m| m["filter"]["and_filter"]["filters"][1]["extension_filter"].is_object());
    assert_eq!(anthropic.len(), openai.len(), "one twin per mapper");
    assert!(
        mappers[..anthropic.len()]
            .iter()
            .all(|m| m["filter"]["and_filter"].is_object()),
        "twins first"
    );
    let expression = anthropic_request_expression();
    assert_eq!(
        expression,
        "filter_state['wasm.switchyard_api'] == b'anthropic'"
    );
    let twin = anthropic
        .iter()
        .find(|m| m["status_code"] == 504)
        .expect("the timeout twin");
    assert_eq!(
        twin["filter"]["and_filter"]["filters"][1]["extension_filter"]["typed_config"]
            ["expression"],
        expression.as_str()
    );
    let body = &twin["body_format_override"]["json_format"];
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "timeout_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("The model provider timed out"));
    let unavailable = anthropic.iter().find(|m| m["status_code"] == 503).unwrap();
    assert_eq!(
        unavailable["body_format_override"]["json_format"]["error"]["type"],
        "overloaded_error"
    );
}

#[test]
fn envoys_own_413_gets_the_filters_openai_body() {
    let boot = render_text(
        "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_base: http://127.0.0.1:9}\ngeneral_settings:\n  max_request_size_mb: 1\n",
    );
    let hcm =
        &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
    let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
    let m = mappers
        .iter()
        .find(|m| m["filter"]["status_code_filter"].is_object())
        .expect("a status-code mapper");
    assert_eq!(
        m["filter"]["status_code_filter"]["comparison"]["value"]["default_value"],
        413
    );
    assert_eq!(m["status_code"], 413);
    let body = &m["body_format_override"]["json_format"];
    assert_eq!(body, &GatewayError::payload_too_large(1 << 20).to_value());
    assert_eq!(body["error"]["code"], "413");
    assert_eq!(body["error"]["param"], Value::Null);
    // Envoy's buffer stays above the filter's limit, so the filter normally answers.
    assert!(
        boot["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytes"]
            .as_u64()
            .unwrap()
            > 1 << 20
    );
    // No `%` in the message: json_format would read it as a command operator.
    assert!(!body["error"]["message"].as_str().unwrap().contains('%'));
}

#[test]
fn small_request_limit_does_not_shrink_response_buffers() {
    let boot = render_text(
        "model_list:\n  - model_name: g\n    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, api_base: http://127.0.0.1:9}\ngeneral_settings:\n  max_request_size_mb: 1\n",
    );
    let listener = &boot["static_resources"]["listeners"][0];
    assert_eq!(
        listener["per_connection_buffer_limit_bytes"],
        MIN_RESPONSE_BUFFER_BYTES
    );
    let cluster = &boot["static_resources"]["clusters"][0];
    assert_eq!(
        cluster["per_connection_buffer_limit_bytes"],
        MIN_RESPONSE_BUFFER_BYTES
    );
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
    let m = mappers
        .iter()
        .find(|m| m["filter"]["extension_filter"].is_object())
        .expect("a mapper for response_payload_too_large");
    assert!(
        m["filter"]["extension_filter"]["typed_config"]["expression"]
            .as_str()
            .unwrap()
            .contains("response_payload_too_large")
    );
    let body = &m["body_format_override"]["json_format"]["error"];
    assert_eq!(
        (m["status_code"].as_u64(), body["code"].as_str()),
        (Some(502), Some("502"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&MIN_RESPONSE_BUFFER_BYTES.to_string()) && !message.contains('%'));
}

/// Each logging callback's collector gets a cluster of its own (TLS with SNI for
/// https), the router's plugin config says where to send and which variables hold
/// the credentials, and the secrets themselves are written nowhere.
#[test]
fn callback_collectors_get_clusters_and_their_secrets_stay_in_the_environment() {
    let env = |name: &str| match name {
        "LANGFUSE_PUBLIC_KEY" => Some("pk-lf-public".to_string()),
        "LANGFUSE_SECRET_KEY" => Some("sk-lf-secret".to_string()),
        "LANGFUSE_HOST" => Some("https://langfuse.example:8443".to_string()),
        "OTEL_EXPORTER" => Some("otlp_http".to_string()),
        "OTEL_ENDPOINT" => Some("http://127.0.0.1:4318".to_string()),
        "OTEL_HEADERS" => Some("x-api-key=otel-secret".to_string()),
        _ => None,
    };
    let text = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o, api_key: k}\nlitellm_settings:\n  success_callback: [langfuse]\n  callbacks: [otel]\n";
    let (config, warnings) = parse_str(text, "config.yaml", &env).unwrap();
    assert!(
        warnings.iter().all(|w| !w.path.contains("callback")),
        "{warnings:?}"
    );
    let plan = crate::plan::compile(&config, &env).unwrap();
    let rendered = render(&plan, &RenderOptions::for_tests()).unwrap();
    let clusters = rendered.bootstrap["static_resources"]["clusters"]
        .as_array()
        .unwrap();
    let cluster = |name: &str| clusters.iter().find(|c| c["name"] == name).unwrap();
    let langfuse = cluster("callback_langfuse");
    assert_eq!(
        langfuse["transport_socket"]["typed_config"]["sni"],
        "langfuse.example"
    );
    let address = &langfuse["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        ["address"]["socket_address"];
    assert_eq!(address["port_value"], 8443);
    let otel = cluster("callback_otel");
    assert!(otel.get("transport_socket").is_none());
    assert_eq!(otel["type"], "STATIC");

    let (_, router_json) = &rendered.plugin_configs[0];
    let router: Value = serde_json::from_str(router_json).unwrap();
    let sinks = &router["callbacks"]["sinks"];
    assert_eq!(sinks[0]["kind"], "langfuse");
    assert_eq!(sinks[0]["authority"], "langfuse.example:8443");
    assert_eq!(
        sinks[0]["basic_auth"]["password"],
        json!({"env": "LANGFUSE_SECRET_KEY"})
    );
    assert_eq!(sinks[1]["kind"], "otel");
    assert_eq!(sinks[1]["headers"], json!({"env": "OTEL_HEADERS"}));
    assert_eq!(router["callbacks"]["message_logging"], true);
    let keys = &rendered.bootstrap.to_string();
    for key in ["LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "OTEL_HEADERS"] {
        assert!(keys.contains(key), "{key} in host_env_keys");
    }
    let everything = format!("{}{router_json}", rendered.bootstrap);
    for secret in ["pk-lf-public", "sk-lf-secret", "otel-secret"] {
        assert!(!everything.contains(secret), "{secret} written out");
    }
}

/// The access log prints every field of the request's record the router stage
/// sets, each from the filter-state property the contract names.
#[test]
fn access_log_prints_the_records_fields() {
    let log = super::listener::access_log();
    let format = &log["typed_config"]["log_format"]["json_format"];
    for (field, property) in switchyard_contract::filter_state::access_log::FIELDS {
        assert_eq!(
            format[field],
            serde_json::json!(format!("%FILTER_STATE(wasm.{property}:PLAIN)%")),
            "{field}"
        );
    }
    assert_eq!(
        format["call_id"],
        serde_json::json!("%FILTER_STATE(wasm.switchyard_call_id:PLAIN)%")
    );
    // The fields that were there stay.
    assert_eq!(format["status"], serde_json::json!("%RESPONSE_CODE%"));
}

/// `GET /metrics`: with the admin port known, an admin cluster the router stage
/// reads Envoy's stats through; with keys, a route of its own whose ext_authz is off
/// only when `require_auth_for_metrics_endpoint: false`.
#[test]
fn metrics_get_an_admin_cluster_and_a_route_that_can_skip_the_key_check() {
    let env = |_: &str| None;
    let render_with = |settings: &str, admin_port: u16| -> (Value, RouterConfig) {
        let text = format!("model_list:\n  - model_name: a\n    litellm_params: {{model: openai/x, api_base: http://127.0.0.1:1}}\ngeneral_settings:\n  database_url: sqlite://k.db\n{settings}");
        let (config, _) = parse_str(&text, "config.yaml", &env).unwrap();
        let plan = crate::plan::compile(&config, &env).unwrap();
        let opts = RenderOptions {
            keyservice: Some("127.0.0.1:7".into()),
            admin_port,
            ..RenderOptions::for_tests()
        };
        let rendered = render(&plan, &opts).unwrap();
        let router: PluginConfig = serde_json::from_str(&rendered.plugin_configs[0].1).unwrap();
        let PluginConfig::Router(router) = router else {
            panic!("not the router's")
        };
        (rendered.bootstrap, router)
    };
    let metrics_route = |boot: &Value| -> Value {
        boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
            ["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "metrics")
            .cloned()
            .unwrap()
    };
    let (boot, router) = render_with("", 9911);
    assert_eq!(router.metrics.admin_cluster.as_deref(), Some(ADMIN_CLUSTER));
    assert!(router.metrics.require_auth);
    let admin = boot["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == ADMIN_CLUSTER)
        .cloned()
        .unwrap();
    assert_eq!(
        admin["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"]["port_value"],
        9911
    );
    assert_eq!(
        boot["admin"]["address"]["socket_address"]["port_value"],
        9911
    );
    assert!(metrics_route(&boot)
        .get("typed_per_filter_config")
        .is_none());
    let regex = regex_lite_match(METRICS_PATH_REGEX);
    for path in ["/metrics", "/metrics/", "/metrics?x=1"] {
        assert!(regex(path), "{path}");
    }
    for path in ["/metricsx", "/v1/metrics", "/metrics/x"] {
        assert!(!regex(path), "{path}");
    }

    let (boot, router) = render_with(
        "litellm_settings:\n  require_auth_for_metrics_endpoint: false\n",
        0,
    );
    assert!(!router.metrics.require_auth);
    // Admin port left to Envoy: no admin cluster, `/metrics` serves ours alone.
    assert_eq!(router.metrics.admin_cluster, None);
    assert!(!boot["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == ADMIN_CLUSTER));
    assert_eq!(
        metrics_route(&boot)["typed_per_filter_config"]["envoy.filters.http.ext_authz"]["disabled"],
        true
    );
}

/// A tiny matcher for [`METRICS_PATH_REGEX`]'s shape (`^/metrics/*([?#].*)?$`), so
/// the test needs no regex crate.
fn regex_lite_match(regex: &str) -> impl Fn(&str) -> bool {
    assert_eq!(regex, r"^/metrics/*([?#].*)?$");
    |path: &str| {
        let Some(rest) = path.strip_prefix("/metrics") else {
            return false;
        };
        let rest = rest.trim_start_matches('/');
        rest.is_empty() || rest.starts_with('?') || rest.starts_with('#')
    }
}
