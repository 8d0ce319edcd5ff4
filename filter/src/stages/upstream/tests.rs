use super::*;
use crate::host::tests::MockHost;
use crate::plugin_config::Setting;
use serde_json::json;
use std::collections::BTreeMap;

pub(super) fn config(provider: ProviderKind, model: &str) -> DeploymentConfig {
    DeploymentConfig {
        deployment_id: "dep-1".into(),
        group: "g".into(),
        provider,
        model: model.into(),
        api_base: Setting::Literal("https://api.example.com:443/v1/".into()),
        api_key: Some(Setting::Env { env: "KEY".into() }),
        api_version: None,
        headers: BTreeMap::from([("X-Extra".to_string(), "1".to_string())]),
        default_params: json!({"temperature": 0.2, "seed": 7})
            .as_object()
            .unwrap()
            .clone(),
        drop_params: false,
        fallback_index: 0,
        pricing: Some(Pricing {
            input_cost_per_token: 1e-6,
            output_cost_per_token: 2e-6,
            cache_read_input_token_cost: None,
            cache_creation_input_token_cost: None,
        }),
        model_prices: BTreeMap::new(),
        prompt_template: None,
        aws: None,
        google_auth: None,
        direct_cluster: None,
        stream_timeout_ms: None,
        forward_client_headers: Vec::new(),
    }
}

/// A route cluster of these deployments.
pub(super) fn cluster(deployments: &[DeploymentConfig]) -> UpstreamConfig {
    UpstreamConfig {
        group: "g".into(),
        deployments: deployments.to_vec(),
        clear_headers: vec![],
        error_fallbacks: Default::default(),
        keys: true,
        debug: false,
    }
}

pub(super) fn env(name: &str) -> Option<String> {
    (name == "KEY").then(|| "sk-secret".to_string())
}

pub(super) fn request(path_endpoint: &str, body: Value) -> MockHost {
    let mut host = MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("x-switchyard-group", "g"),
            ("authorization", "Bearer sk-virtual-key"),
            ("accept-encoding", "gzip"),
            ("content-length", "99"),
        ],
        &serde_json::to_vec(&body).unwrap(),
    );
    let facts = RouteFacts {
        endpoint: Endpoint::parse(path_endpoint).unwrap(),
        api: ClientApi::OpenAi,
        model: "client-model".into(),
        wildcard: None,
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    host
}

pub(super) fn send(up: &Upstream, host: &mut MockHost) -> (UpstreamExchange, Flow) {
    let mut ex = UpstreamExchange::default();
    assert_eq!(ex.on_request_headers(up, host, false), Flow::Pause);
    let size = host.request_body.len();
    let flow = ex.on_request_body(up, host, size, true);
    (ex, flow)
}

#[test]
fn api_base_splits() {
    assert_eq!(
        split_api_base("https://h.example/v1/").unwrap(),
        ("h.example".into(), "/v1".into())
    );
    assert_eq!(
        split_api_base("http://127.0.0.1:8080").unwrap(),
        ("127.0.0.1:8080".into(), "".into())
    );
    assert_eq!(
        split_api_base("http://h:80/x").unwrap(),
        ("h".into(), "/x".into())
    );
    assert!(split_api_base("ftp://h").is_err());
    assert!(split_api_base("https:///v1").is_err());
}

/// Found by the fuzz target `config`: `switchyard check` accepted an api_base
/// written `Https://…` (the compiler reads schemes in any case) and rendered it,
/// and the upstream stage then refused its configuration inside Envoy. An
/// `os.environ/` api_base reaches this function untrimmed, as the variable holds it.
#[test]
fn api_base_scheme_in_any_case() {
    assert_eq!(
        split_api_base("Https://my-endpoint-canada-1234.openai.azure.com").unwrap(),
        ("my-endpoint-canada-1234.openai.azure.com".into(), "".into())
    );
    assert_eq!(
        split_api_base("HTTP://h:80/v1/").unwrap(),
        ("h".into(), "/v1".into())
    );
    assert_eq!(
        split_api_base(" hTTps://h:443/v1\n").unwrap(),
        ("h".into(), "/v1".into())
    );
    assert!(split_api_base("httpx://h").is_err());
    assert!(split_api_base("h\u{e9}tps://h").is_err());
}

#[test]
fn missing_secret_is_named_at_configure() {
    let err = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &|_| None).unwrap_err();
    assert!(err.contains("KEY") && err.contains("dep-1"), "{err}");
}

#[test]
fn openai_request_is_rewritten() {
    let up = Upstream::new(
        &cluster(&[config(ProviderKind::Openai, "gpt-4o-2024")]),
        &env,
    )
    .unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "client-model", "messages": [], "seed": 1}),
    );
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(host.req(":path").as_deref(), Some("/v1/chat/completions"));
    assert_eq!(host.req(":authority").as_deref(), Some("api.example.com"));
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer sk-secret")
    );
    assert_eq!(host.req("x-extra").as_deref(), Some("1"));
    for gone in ["accept-encoding", "content-length", "x-switchyard-group"] {
        assert_eq!(host.req(gone), None, "{gone}");
    }
    let body = host.request_json();
    assert_eq!(body["model"], "gpt-4o-2024");
    assert_eq!(body["seed"], 1, "the client's value wins over the default");
    assert_eq!(
        body["temperature"], 0.2,
        "defaults fill what the client left out"
    );
}

#[test]
fn billing_headers_reach_the_provider_only_where_allowed() {
    let with = |allowed: Vec<String>| {
        let mut cfg = config(ProviderKind::Openai, "gpt-4o");
        cfg.forward_client_headers = allowed;
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request("chat_completions", json!({"messages": []}));
        for (k, v) in [
            ("OpenAI-Organization", "org-client"),
            ("openai-project", "proj-client"),
            ("x-goog-user-project", "billed"),
            ("anthropic-beta", "context-1m-2025-08-07"),
        ] {
            host.request_headers.push((k.into(), v.into()));
        }
        assert_eq!(send(&up, &mut host).1, Flow::Continue);
        host
    };
    let host = with(Vec::new());
    assert_eq!(host.req("openai-organization"), None);
    assert_eq!(host.req("openai-project"), None);
    assert_eq!(host.req("x-goog-user-project"), None);
    assert_eq!(
        host.req("anthropic-beta").as_deref(),
        Some("context-1m-2025-08-07")
    );
    let host = with(vec!["OpenAI-Project".into()]);
    assert_eq!(host.req("openai-project").as_deref(), Some("proj-client"));
    assert_eq!(host.req("openai-organization"), None);
}

#[test]
fn azure_request_uses_deployment_path_and_api_key() {
    let mut cfg = config(ProviderKind::Azure, "my-dep");
    cfg.api_base = Setting::Literal("https://res.openai.azure.com".into());
    cfg.api_version = Some(Setting::Literal("2024-06-01".into()));
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request("embeddings", json!({"model": "x", "input": "hello"}));
    send(&up, &mut host);
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/openai/deployments/my-dep/embeddings?api-version=2024-06-01")
    );
    assert_eq!(host.req("api-key").as_deref(), Some("sk-secret"));
    assert_eq!(
        host.req("authorization"),
        None,
        "the client's key never reaches the provider"
    );
}

fn two_providers() -> Upstream {
    let mut azure = config(ProviderKind::Azure, "azure-dep");
    azure.deployment_id = "az".into();
    azure.api_base = Setting::Literal("https://res.openai.azure.com".into());
    azure.headers = BTreeMap::from([("X-Azure-Only".to_string(), "secret-ish".to_string())]);
    azure.default_params = Map::new();
    let mut claude = config(ProviderKind::Anthropic, "claude-3");
    claude.deployment_id = "cl".into();
    claude.group = "claude-group".into();
    claude.api_base = Setting::Literal("https://api.anthropic.com".into());
    claude.headers = BTreeMap::new();
    claude.default_params = Map::new();
    claude.fallback_index = 1;
    Upstream::new(&cluster(&[azure, claude]), &env).unwrap()
}

fn pick(host: &mut MockHost, id: &str) {
    host.properties
        .insert(HOST_DEPLOYMENT_PROPERTY.join("."), id.as_bytes().to_vec());
}

#[test]
fn the_picked_endpoint_names_the_deployment() {
    let up = two_providers();
    let body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
    let mut host = request("chat_completions", body.clone());
    pick(&mut host, "cl");
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
    assert_eq!(host.req(":authority").as_deref(), Some("api.anthropic.com"));
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("x-envoy-attempt-count".into(), "2".into()),
    ];
    host.request_headers
        .push(("x-envoy-attempt-count".into(), "2".into()));
    ex.attempt = 2;
    ex.on_response_headers(&up, &mut host, false);
    assert_eq!(host.resp("x-litellm-model-id").as_deref(), Some("cl"));
    assert_eq!(
        host.resp("x-litellm-model-group").as_deref(),
        Some("claude-group")
    );
    assert_eq!(
        host.resp("x-litellm-attempted-fallbacks").as_deref(),
        Some("1")
    );
    assert_eq!(
        host.resp("x-litellm-attempted-retries").as_deref(),
        Some("1")
    );

    let mut host = request("chat_completions", body);
    pick(&mut host, "nope");
    let mut ex = UpstreamExchange::default();
    ex.on_request_headers(&up, &mut host, false);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
}

#[test]
fn a_retry_attempt_undoes_what_the_previous_attempt_set() {
    let up = two_providers();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    pick(&mut host, "az");
    let original_body = host.request_body.clone();
    send(&up, &mut host);
    assert_eq!(host.req("api-key").as_deref(), Some("sk-secret"));
    assert_eq!(host.req("x-azure-only").as_deref(), Some("secret-ish"));
    // Envoy hands the next attempt the same (edited) headers and a fresh body.
    host.request_body = original_body;
    host.request_headers
        .push(("x-envoy-attempt-count".into(), "2".into()));
    pick(&mut host, "cl");
    let (ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(ex.attempt, 2);
    assert_eq!(
        host.req("api-key"),
        None,
        "Azure's key must not reach Anthropic"
    );
    assert_eq!(host.req("x-azure-only"), None, "nor Azure's extra headers");
    assert_eq!(host.req("x-api-key").as_deref(), Some("sk-secret"));
    assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
    assert_eq!(host.request_json()["model"], "claude-3");
}

#[test]
fn context_window_error_redirects_to_the_next_fallback() {
    let mut cfg = cluster(&[config(ProviderKind::Openai, "small-model")]);
    cfg.error_fallbacks = [(
        "g".to_string(),
        crate::plugin_config::ErrorFallbacks {
            context_window: vec!["big".into()],
            content_policy: vec![],
        },
    )]
    .into();
    let up = Upstream::new(&cfg, &env).unwrap();
    let too_long = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

    let respond = |host: &mut MockHost, ex: &mut UpstreamExchange, status: &str, body: &[u8]| {
        host.response_headers = vec![(":status".into(), status.into())];
        host.response_body = body.to_vec();
        ex.on_response_headers(&up, host, false);
        ex.on_response_body(&up, host, body.len(), true);
    };
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    respond(&mut host, &mut ex, "400", too_long);
    assert_eq!(host.resp(":status").as_deref(), Some("307"));
    assert_eq!(
        host.resp("location").as_deref(),
        Some(
            "http://switchyard.internal/switchyard-fallback/context_window/0/g/v1/chat/completions"
        )
    );
    assert!(host.response_body.is_empty());

    // A plain 400 is just an error.
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    respond(
        &mut host,
        &mut ex,
        "400",
        br#"{"error":{"message":"bad temperature"}}"#,
    );
    assert_eq!(host.resp(":status").as_deref(), Some("400"));

    // At the chain's end the provider's error reaches the client.
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: "x".into(),
        wildcard: None,
        error_fallback: Some(crate::stages::router::ErrorFallbackStep {
            kind: crate::plugin_config::ErrorKind::ContextWindow,
            origin: "g".into(),
            step: 0,
        }),
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    let (mut ex, _) = send(&up, &mut host);
    respond(&mut host, &mut ex, "400", too_long);
    assert_eq!(host.resp(":status").as_deref(), Some("400"));
    assert_eq!(
        host.resp("x-litellm-attempted-fallbacks").as_deref(),
        Some("1")
    );
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maximum context length"));
}

#[test]
fn request_fallbacks_move_on_once_the_error_is_final() {
    let mut cfg = cluster(&[config(ProviderKind::Openai, "m")]);
    cfg.error_fallbacks = [(
        "g".to_string(),
        crate::plugin_config::ErrorFallbacks {
            context_window: vec!["big".into()],
            content_policy: vec![],
        },
    )]
    .into();
    let up = Upstream::new(&cfg, &env).unwrap();
    let too_long = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
    let chain = |from_list: bool| crate::stages::router::RequestFallbacks {
        len: 2,
        attempts: 3,
        from_list,
        retries: Default::default(),
    };
    // One attempt of a request with a chain: (step it is at, attempt) → location.
    let attempt = |fallbacks: crate::stages::router::RequestFallbacks,
                   at: Option<u32>,
                   attempt: u32,
                   status: &str,
                   body: &[u8]| {
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        host.request_headers
            .push((ATTEMPT_COUNT_HEADER.into(), attempt.to_string()));
        let facts = RouteFacts {
            endpoint: Endpoint::ChatCompletions,
            api: ClientApi::OpenAi,
            model: "x".into(),
            wildcard: None,
            error_fallback: at.map(|step| crate::stages::router::ErrorFallbackStep {
                kind: ErrorKind::Request,
                origin: "g".into(),
                step,
            }),
            request_fallbacks: Some(fallbacks),
            call_id: String::new(),
            call_start_ms: 0,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), status.into())];
        host.response_body = body.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        ex.on_response_body(&up, &mut host, body.len(), true);
        host.resp("location")
    };
    let to = |step: u32| {
        Some(format!(
            "http://switchyard.internal/switchyard-fallback/request/{step}/g/v1/chat/completions"
        ))
    };
    let boom = br#"{"error":{"message":"boom"}}"#;
    // A 500 or 429 Envoy retries on this group: on the group's last attempt only.
    for status in ["500", "429", "503"] {
        assert_eq!(
            attempt(chain(true), None, 1, status, boom),
            None,
            "{status}"
        );
        assert_eq!(
            attempt(chain(true), None, 3, status, boom),
            to(0),
            "{status}"
        );
    }
    // Statuses Envoy does not retry move on at once (LiteLLM falls back on them).
    for status in ["401", "403", "404", "422"] {
        assert_eq!(
            attempt(chain(true), None, 1, status, boom),
            to(0),
            "{status}"
        );
    }
    // A plain 400 is the request's fault: no fallback.
    assert_eq!(attempt(chain(true), None, 3, "400", boom), None);
    // Along the chain, to its end.
    assert_eq!(attempt(chain(true), Some(0), 3, "500", boom), to(1));
    assert_eq!(attempt(chain(true), Some(1), 3, "500", boom), None);
    // Context-window errors: the list covers them; with LiteLLM's mapping form the
    // config's own chain comes first.
    assert_eq!(attempt(chain(true), None, 1, "400", too_long), to(0));
    assert_eq!(
        attempt(chain(false), None, 1, "400", too_long).as_deref(),
        Some(
            "http://switchyard.internal/switchyard-fallback/context_window/0/g/v1/chat/completions"
        )
    );
    // Inside a config error chain the request's chain no longer applies.
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: "x".into(),
        wildcard: None,
        error_fallback: Some(crate::stages::router::ErrorFallbackStep {
            kind: ErrorKind::ContextWindow,
            origin: "g".into(),
            step: 0,
        }),
        request_fallbacks: Some(chain(true)),
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "500".into())];
    host.response_body = boom.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    ex.on_response_body(&up, &mut host, boom.len(), true);
    assert_eq!(host.resp(":status").as_deref(), Some("500"));
}

/// Every key of `v`, at any depth.
fn all_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                out.push(k.clone());
                all_keys(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| all_keys(i, out)),
        _ => {}
    }
}

#[test]
fn litellm_fields_never_reach_any_provider() {
    // Every field of LiteLLM's list, on every provider's translation: none is in
    // the body that goes out, at any depth (Bedrock, for one, would otherwise
    // put unknown fields into `additionalModelRequestFields`).
    let mut body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
    for f in litellm_fields::LITELLM_ONLY_FIELDS {
        body[*f] = json!({"litellm": true});
    }
    body["_litellm_internal"] = json!(1);
    body["user_api_key_alias"] = json!("forged");
    let providers = [
        (ProviderKind::Openai, "gpt-4o"),
        (ProviderKind::Azure, "gpt-4o"),
        (ProviderKind::Anthropic, "claude-3-5-sonnet"),
        (ProviderKind::Mistral, "mistral-small"),
        (ProviderKind::Groq, "llama"),
        (ProviderKind::Gemini, "gemini-2.5-flash"),
        (ProviderKind::Cohere, "command-r"),
        (ProviderKind::Ollama, "llama3"),
        (ProviderKind::OllamaChat, "llama3"),
        (ProviderKind::Huggingface, "meta-llama/Llama-3"),
        (ProviderKind::HuggingfaceGenerate, "tgi"),
        (
            ProviderKind::Bedrock,
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
    ];
    for (provider, model) in providers {
        let mut cfg = config(provider, model);
        cfg.default_params = Map::new();
        if provider == ProviderKind::Azure {
            cfg.api_version = Some(Setting::Literal("2024-10-21".into()));
        }
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request("chat_completions", body.clone());
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue, "{provider:?}: {:?}", host.local_reply);
        let mut keys = Vec::new();
        all_keys(&host.request_json(), &mut keys);
        let leaked: Vec<&String> = keys
            .iter()
            .filter(|k| litellm_fields::is_litellm_field(k))
            .collect();
        assert!(leaked.is_empty(), "{provider:?} sent {leaked:?}");
    }
    // Embeddings and text completions too.
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    for (endpoint, base) in [
        ("embeddings", json!({"model": "x", "input": "hi"})),
        ("completions", json!({"model": "x", "prompt": "hi"})),
    ] {
        let mut b = base;
        for f in litellm_fields::LITELLM_ONLY_FIELDS {
            b[*f] = json!(1);
        }
        let mut host = request(endpoint, b);
        send(&up, &mut host);
        let out = host.request_json();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| !litellm_fields::is_litellm_field(k)),
            "{endpoint}: {keys:?}"
        );
    }
}

#[test]
fn wildcard_model_is_substituted() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "*")]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "openai/gpt-4o-mini", "messages": []}),
    );
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: "openai/gpt-4o-mini".into(),
        wildcard: Some("gpt-4o-mini".into()),
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    send(&up, &mut host);
    assert_eq!(host.request_json()["model"], "gpt-4o-mini");
}

/// A cost header's value, for a non-streamed answer `body` to a request for
/// `model` (the wildcard's part `wildcard`).
fn cost_of_answer(up: &Upstream, model: &str, wildcard: Option<&str>, body: &[u8]) -> Option<f64> {
    let mut host = request("chat_completions", json!({"model": model, "messages": []}));
    let facts = RouteFacts {
        endpoint: Endpoint::ChatCompletions,
        api: ClientApi::OpenAi,
        model: model.into(),
        wildcard: wildcard.map(str::to_string),
        error_fallback: None,
        request_fallbacks: None,
        call_id: String::new(),
        call_start_ms: 0,
    };
    host.properties
        .insert(ROUTE_PROPERTY.into(), facts.encode());
    let (mut ex, _) = send(up, &mut host);
    host.response_headers = vec![(":status".into(), "200".into())];
    host.response_body = body.to_vec();
    ex.on_response_headers(up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(up, &mut host, n, true);
    host.resp("x-litellm-response-cost")
        .map(|c| c.parse().unwrap())
}

#[test]
fn answers_are_priced_by_the_model_served() {
    let price = |input: f64, output: f64| Pricing {
        input_cost_per_token: input,
        output_cost_per_token: output,
        cache_read_input_token_cost: None,
        cache_creation_input_token_cost: None,
    };
    let table: BTreeMap<String, Pricing> = [
        ("gpt-4o".to_string(), price(2e-6, 1e-5)),
        ("gpt-4o-mini".to_string(), price(1e-7, 1e-6)),
    ]
    .into();
    let usage = br#"{"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":100}}"#;
    // A wildcard: the model asked for (a fine-tune of it, a dated snapshot).
    let mut wild = config(ProviderKind::Openai, "*");
    wild.pricing = None;
    wild.model_prices = table.clone();
    let up = Upstream::new(&cluster(&[wild]), &env).unwrap();
    let mini = cost_of_answer(&up, "openai/gpt-4o-mini", Some("gpt-4o-mini"), usage).unwrap();
    assert!(
        (mini - (1000.0 * 1e-7 + 100.0 * 1e-6)).abs() < 1e-12,
        "{mini}"
    );
    let ft = cost_of_answer(
        &up,
        "openai/ft:gpt-4o-mini:o::i",
        Some("ft:gpt-4o-mini:o::i"),
        usage,
    );
    assert_eq!(ft, Some(mini), "a fine-tune at its base model's price");
    let big = cost_of_answer(&up, "openai/gpt-4o", Some("gpt-4o"), usage).unwrap();
    assert!(
        (big - (1000.0 * 2e-6 + 100.0 * 1e-5)).abs() < 1e-12,
        "{big}"
    );
    // A model the table lacks, answering as one it lacks too: no price.
    let none =
        br#"{"model":"nope","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    assert_eq!(
        cost_of_answer(&up, "openai/other", Some("other"), none),
        None
    );
    // An Azure deployment named freely: the model its answer names.
    let mut azure = config(ProviderKind::Azure, "my-deployment");
    azure.pricing = None;
    azure.model_prices = table;
    let up = Upstream::new(&cluster(&[azure]), &env).unwrap();
    assert_eq!(cost_of_answer(&up, "g", None, usage), Some(big));
}

#[test]
fn an_answer_held_whole_and_cut_is_charged_by_its_size() {
    // Larger than Envoy's buffer (its 502), or cut by the provider: the bytes
    // received, or the content-length when larger, at 3 bytes a token.
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    host.properties.insert(
        KEY_PROPERTY.into(),
        KeyFacts {
            key_hash: "kh".into(),
            ..Default::default()
        }
        .encode(),
    );
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-length".into(), "3000".into()),
    ];
    ex.on_response_headers(&up, &mut host, false);
    host.response_body = vec![b'y'; 900];
    assert_eq!(ex.on_response_body(&up, &mut host, 900, false), Flow::Pause);
    ex.on_done(&up, &host);
    let due = host.take_spend_reports();
    assert_eq!(due.len(), 1);
    let row: Value = serde_json::from_slice(&due[0]).unwrap();
    assert_eq!(row["completion_tokens"], 1000, "content-length 3000 / 3");
    assert_eq!(
        row["prompt_tokens"], 5,
        "\"model\" \"x\" \"messages\": 14 bytes"
    );
    assert_eq!(row["metadata"]["switchyard_partial"], true);
    let spend = row["spend"].as_f64().unwrap();
    assert!(
        (spend - (5.0 * 1e-6 + 1000.0 * 2e-6)).abs() < 1e-12,
        "{spend}"
    );
}

#[test]
fn unrouted_request_is_refused() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = MockHost::with_request(&[(":method", "POST")], b"{}");
    UpstreamExchange::default().on_request_headers(&up, &mut host, false);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
}

#[test]
fn openai_success_passes_through_and_is_tagged() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-length".into(), "5".into()),
    ];
    host.response_body = b"hello".to_vec();
    // Held until whole, so a reset midway is still retryable, then untouched.
    assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
    assert_eq!(ex.on_response_body(&up, &mut host, 2, false), Flow::Pause);
    assert_eq!(ex.on_response_body(&up, &mut host, 5, true), Flow::Continue);
    assert_eq!(host.response_body, b"hello");
    assert_eq!(
        host.resp("x-litellm-response-cost"),
        None,
        "no usage, no cost"
    );
    assert_eq!(host.resp("content-length").as_deref(), Some("5"));
    assert_eq!(host.resp("x-litellm-model-id").as_deref(), Some("dep-1"));
    assert_eq!(host.resp("x-litellm-model-group").as_deref(), Some("g"));
    assert_eq!(
        host.resp("x-litellm-model-api-base").as_deref(),
        Some("https://api.example.com:443/v1/")
    );
}

#[test]
fn bodiless_provider_error_gets_an_openai_body() {
    let mut cfg = config(ProviderKind::Anthropic, "c");
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, _) = send(&up, &mut host);
    assert!(host.local_reply.is_none());
    host.response_headers = vec![(":status".into(), "529".into())];
    assert_eq!(ex.on_response_headers(&up, &mut host, true), Flow::Pause);
    let reply = host.local_reply.as_ref().expect("a local reply");
    assert_eq!(reply.status, 503, "Anthropic's 529 maps to 503");
    assert_eq!(reply.json()["error"]["type"], "service_unavailable_error");
}

#[test]
fn non_streamed_answers_carry_their_cost() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "200".into())];
    host.response_body = br#"{"choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let usd: f64 = host
        .resp("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (usd - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12,
        "{usd}"
    );
}

#[test]
fn streams_ask_for_usage_and_hide_it_unless_asked() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let stream = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
    for client_asked in [false, true] {
        let mut body = json!({"model": "x", "messages": [], "stream": true});
        if client_asked {
            body["stream_options"] = json!({"include_usage": true});
        }
        let mut host = request("chat_completions", body);
        let (mut ex, _) = send(&up, &mut host);
        assert_eq!(host.request_json()["stream_options"]["include_usage"], true);
        host.response_headers = vec![(":status".into(), "200".into())];
        assert_eq!(
            ex.on_response_headers(&up, &mut host, false),
            Flow::Continue
        );
        host.response_body = stream.to_vec();
        ex.on_response_body(&up, &mut host, stream.len(), true);
        let out = String::from_utf8(host.response_body.clone()).unwrap();
        assert_eq!(out.contains("\"usage\""), client_asked, "{out}");
        assert!(out.ends_with("data: [DONE]\n\n"));
        assert_eq!(ex.usage().map(|u| u.prompt_tokens), Some(9));
    }
}

/// Whether a keyed request with metadata and tags goes out without them.
fn host_body_has_no_labels(up: &Upstream) -> bool {
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "tags": ["t"], "metadata": {"a": 1}}),
    );
    host.properties
        .insert(KEY_PROPERTY.into(), KeyFacts::default().encode());
    send(up, &mut host);
    let body = host.request_json();
    body.get("tags").is_none() && body.get("metadata").is_none()
}

#[test]
fn azure_streams_lose_their_filter_annotations_and_keep_their_spend() {
    let mut cfg = config(ProviderKind::Azure, "gpt-4o-deploy");
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "stream": true}),
    );
    host.request_headers
        .push(("x-request-id".into(), "rid-azure".into()));
    host.properties.insert(
        KEY_PROPERTY.into(),
        KeyFacts {
            key_hash: "kh-azure".into(),
            admission: "adm-azure".into(),
            ..Default::default()
        }
        .encode(),
    );
    let (mut ex, _) = send(&up, &mut host);
    assert_eq!(host.request_json()["stream_options"]["include_usage"], true);
    host.response_headers = vec![(":status".into(), "200".into())];
    assert_eq!(
        ex.on_response_headers(&up, &mut host, false),
        Flow::Continue
    );
    let events = [
        r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#,
        r#"{"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
        r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi"},"finish_reason":null,"index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
        r#"{"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":null}"#,
        r#"{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":null,"content_filter_results":{},"content_filter_offsets":{"check_offset":2,"start_offset":0,"end_offset":2}}],"usage":null}"#,
        r#"{"choices":[],"created":7,"id":"chatcmpl-a","model":"gpt-4o","object":"chat.completion.chunk","usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}"#,
        "[DONE]",
    ];
    // One provider chunk per body callback, as Envoy passes them on.
    let mut out = String::new();
    for (i, data) in events.iter().enumerate() {
        host.response_body = format!("data: {data}\n\n").into_bytes();
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, i + 1 == events.len());
        out.push_str(std::str::from_utf8(&host.response_body).unwrap());
    }
    assert_eq!(
        out.matches("data: ").count(),
        4,
        "role, content, finish, [DONE]: {out}"
    );
    assert!(!out.contains("\"object\":\"\""), "{out}");
    assert!(
        !out.contains("usage\":{"),
        "the client did not ask for usage: {out}"
    );
    let due = host.take_spend_reports();
    let report: Value = serde_json::from_slice(due.last().unwrap()).unwrap();
    assert_eq!(report["request_id"], "adm-azure");
    assert_eq!(
        (
            report["prompt_tokens"].as_u64(),
            report["completion_tokens"].as_u64()
        ),
        (Some(1000), Some(500))
    );
    assert!((report["spend"].as_f64().unwrap() - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12);
}

#[test]
fn answered_requests_queue_a_spend_report_when_keys_are_checked() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let run = |with_key: bool| {
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [], "tags": ["batch"],
                   "metadata": {"spend_logs_metadata": {"job": 7}, "env": "ci"}}),
        );
        host.request_headers
            .push(("x-request-id".into(), format!("rid-{with_key}")));
        if with_key {
            let key = KeyFacts {
                key_hash: "kh".into(),
                admission: "adm-ok".into(),
                ..Default::default()
            };
            host.properties.insert(KEY_PROPERTY.into(), key.encode());
        }
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        host.response_body =
            br#"{"usage":{"prompt_tokens":1000,"completion_tokens":500}}"#.to_vec();
        ex.on_response_headers(&up, &mut host, false);
        let n = host.response_body.len();
        ex.on_response_body(&up, &mut host, n, true);
        host.take_spend_reports()
    };
    assert_eq!(run(false).len(), 0, "no keys, no report");
    let due = run(true);
    let last: Value = serde_json::from_slice(due.last().unwrap()).unwrap();
    assert_eq!(
        last["request_id"], "adm-ok",
        "keyed on the admission, never on the client's x-request-id"
    );
    assert_eq!(last["api_key"], "kh");
    assert_eq!(last["prompt_tokens"], 1000);
    assert!((last["spend"].as_f64().unwrap() - (1000.0 * 1e-6 + 500.0 * 2e-6)).abs() < 1e-12);
    assert_eq!(last["status"], "success");
    assert_eq!(last["request_tags"], json!(["batch"]));
    assert_eq!(
        last["metadata"],
        json!({"spend_logs_metadata": {"job": 7}, "requester_metadata": {"env": "ci"},
               "client_request_id": "rid-true"})
    );
    assert!(
        host_body_has_no_labels(&up),
        "the labels are recorded, never sent"
    );

    // A provider error is reported as a failure of that attempt (its slot is
    // held: the request may yet be retried or fall back).
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    host.request_headers
        .push(("x-request-id".into(), "rid-f".into()));
    host.properties.insert(
        KEY_PROPERTY.into(),
        KeyFacts {
            lease: "l9".into(),
            admission: "l9".into(),
            ..Default::default()
        }
        .encode(),
    );
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "500".into())];
    host.response_body = br#"{"error":{"message":"boom"}}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let due = host.take_spend_reports();
    let failed: Value = serde_json::from_slice(due.last().unwrap()).unwrap();
    assert_eq!(
        (failed["status"].as_str(), failed["spend"].as_f64()),
        (Some("failure"), Some(0.0))
    );
    assert_eq!(failed["request_id"], "l9:attempt-1:failed");
    assert!(failed.get("lease_id").is_none());
}

#[test]
fn an_attempt_that_ends_without_an_answer_is_reported() {
    // The client leaves a stream midway (or the provider's connection breaks, or
    // the attempt times out): no end of stream, no answer. When Envoy destroys
    // the attempt, it is reported as a failure, charged for what had begun; its
    // slot is freed by the downstream request's end (the responder stage), not here.
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let key = KeyFacts {
        key_hash: "kh".into(),
        lease: "l7".into(),
        admission: "l7".into(),
        ..Default::default()
    };
    let queued = |host: &MockHost| host.take_spend_reports();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "stream": true}),
    );
    host.request_headers
        .push(("x-request-id".into(), "rid-left".into()));
    host.properties.insert(KEY_PROPERTY.into(), key.encode());
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "200".into())];
    ex.on_response_headers(&up, &mut host, false);
    host.response_body =
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n".to_vec();
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, false);
    assert!(
        queued(&host).is_empty(),
        "nothing is reported while the stream runs"
    );
    ex.on_done(&up, &host);
    let due = queued(&host);
    assert_eq!(due.len(), 1);
    let row: Value = serde_json::from_slice(&due[0]).unwrap();
    // The answer had begun: charged what the provider produced, estimated
    // (issue 12 point 4). Prompt: the request's strings "model" "x" "messages"
    // "stream" = 20 bytes -> 7 tokens; output "Hi" -> 1 token.
    assert_eq!(row["status"], "failure");
    assert_eq!(
        (
            row["prompt_tokens"].as_u64(),
            row["completion_tokens"].as_u64()
        ),
        (Some(7), Some(1))
    );
    let spend = row["spend"].as_f64().unwrap();
    assert!((spend - (7.0 * 1e-6 + 2e-6)).abs() < 1e-12, "{spend}");
    assert_eq!(
        row["metadata"],
        json!({"switchyard_partial": true, "estimated": true,
               "client_request_id": "rid-left"})
    );
    assert_eq!(row["request_id"], "l7:attempt-1:failed");
    ex.on_done(&up, &host);
    assert!(queued(&host).is_empty(), "reported once");

    // Before any answer (no response headers: a reset, a timeout): no spend.
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "stream": true}),
    );
    host.properties.insert(KEY_PROPERTY.into(), key.encode());
    let (ex, _) = send(&up, &mut host);
    ex.on_done(&up, &host);
    let due = queued(&host);
    let row: Value = serde_json::from_slice(&due[0]).unwrap();
    assert_eq!(
        (row["status"].as_str(), row["spend"].as_f64()),
        (Some("failure"), Some(0.0))
    );
    assert_eq!(row["metadata"], Value::Null);

    // An attempt already reported (answered, or a provider error) is not
    // reported again when it ends.
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    host.properties.insert(KEY_PROPERTY.into(), key.encode());
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "200".into())];
    host.response_body = br#"{"usage":{"prompt_tokens":10,"completion_tokens":5}}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    ex.on_done(&up, &host);
    let due = queued(&host);
    assert_eq!(due.len(), 1);
    let row: Value = serde_json::from_slice(&due[0]).unwrap();
    assert_eq!(row["status"], "success");

    // Without keys nothing is reported, ever.
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (ex, _) = send(&up, &mut host);
    ex.on_done(&up, &host);
    assert!(queued(&host).is_empty());
}

#[test]
fn provider_errors_become_openai_errors() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "429".into())];
    host.response_body =
        br#"{"error":{"message":"slow down","type":"requests","param":null,"code":null}}"#.to_vec();
    assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
    assert_eq!(ex.on_response_body(&up, &mut host, 10, false), Flow::Pause);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["error"]["message"], "slow down");
    assert_eq!(v["error"]["code"], "429");
    assert_eq!(host.resp(":status").as_deref(), Some("429"));
}

#[test]
fn clouds_get_their_table_quirks_and_names() {
    // Mistral: Bearer key, the body's parameters checked against LiteLLM's
    // table, max_completion_tokens/seed/tool_choice rewritten, no stream_options
    // asked (its streams carry usage unasked).
    let mut cfg = config(ProviderKind::Mistral, "mistral-small-latest");
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true,
               "max_completion_tokens": 5, "seed": 1, "tool_choice": "required",
               "tools": [{"type": "function", "function": {"name": "f"}}]}),
    );
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/v1/chat/completions"));
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer sk-secret")
    );
    let body = host.request_json();
    assert_eq!(body["model"], "mistral-small-latest");
    assert_eq!(
        (body["max_tokens"].clone(), body["random_seed"].clone()),
        (json!(5), json!(1))
    );
    assert_eq!(body["tool_choice"], "any");
    assert!(body.get("stream_options").is_none(), "{body}");

    // A parameter outside the table: a 400 naming it and the provider …
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "logit_bias": {"1": 2}}),
    );
    send(&up, &mut host);
    let reply = host.local_reply.as_ref().expect("a 400");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["param"], "logit_bias");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("mistral does not support parameters"));
    // … or dropped with drop_params.
    cfg.drop_params = true;
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "logit_bias": {"1": 2}}),
    );
    send(&up, &mut host);
    assert!(host.local_reply.is_none());
    assert!(host.request_json().get("logit_bias").is_none());

    // Groq takes OpenAI's whole set: untouched, usage asked for streams, and
    // the answer names the deployment.
    let up = Upstream::new(&cluster(&[config(ProviderKind::Groq, "llama")]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [], "logit_bias": {"1": 2}, "stream": true}),
    );
    send(&up, &mut host);
    let body = host.request_json();
    assert_eq!(body["logit_bias"], json!({"1": 2}));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));

    // Fireworks model ids get their account path at configure time.
    let mut fw = config(ProviderKind::FireworksAi, "llama-v3-8b");
    fw.default_params = Map::new();
    let up = Upstream::new(&cluster(&[fw]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    send(&up, &mut host);
    assert_eq!(
        host.request_json()["model"],
        "accounts/fireworks/models/llama-v3-8b"
    );
}

#[test]
fn ollama_chat_goes_native_and_comes_back_openai() {
    let mut cfg = config(ProviderKind::OllamaChat, "llama3.1");
    cfg.api_base = Setting::Literal("http://127.0.0.1:11434".into());
    cfg.api_key = None;
    cfg.default_params = json!({"num_ctx": 8192}).as_object().unwrap().clone();
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/api/chat"));
    assert_eq!(host.req("authorization"), None, "no key, no header");
    let body = host.request_json();
    assert_eq!(body["stream"], false, "Ollama streams unless told not to");
    assert_eq!(body["options"], json!({"num_ctx": 8192, "num_predict": 7}));
    host.response_headers = vec![(":status".into(), "200".into())];
    host.response_body = br#"{"model":"llama3.1","created_at":"2024-07-22T20:33:28.123Z","message":{"role":"assistant","content":"Hello!"},"done_reason":"stop","done":true,"prompt_eval_count":26,"eval_count":2}"#.to_vec();
    assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(v["usage"]["prompt_tokens"], 26);
    assert_eq!(ex.usage().map(|u| u.completion_tokens), Some(2));

    // Embeddings asked as base64 (the openai SDK's default) come back as base64.
    let mut host = request(
        "embeddings",
        json!({"model": "x", "input": ["a"], "encoding_format": "base64"}),
    );
    let (mut ex, _) = send(&up, &mut host);
    assert_eq!(host.req(":path").as_deref(), Some("/api/embed"));
    assert!(host.request_json().get("encoding_format").is_none());
    host.response_headers = vec![(":status".into(), "200".into())];
    host.response_body =
        br#"{"model":"llama3.1","embeddings":[[0.5,0.25]],"prompt_eval_count":1}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert!(v["data"][0]["embedding"].is_string(), "{v}");

    // Ollama's error body keeps its message and status.
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "404".into())];
    host.response_body =
        br#"{"error":"model \"llama3.1\" not found, try pulling it first"}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["error"]["code"], "404");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not found"));
}

#[test]
fn gemini_goes_native_and_comes_back_openai() {
    let mut cfg = config(ProviderKind::Gemini, "gemini-2.5-flash");
    cfg.api_base = Setting::Literal("https://generativelanguage.googleapis.com".into());
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7,
               "stream": true, "stream_options": {"include_usage": true}}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    );
    assert_eq!(
        host.req(":authority").as_deref(),
        Some("generativelanguage.googleapis.com")
    );
    assert_eq!(host.req("x-goog-api-key").as_deref(), Some("sk-secret"));
    assert_eq!(host.req("authorization"), None, "the client's key is gone");
    let body = host.request_json();
    assert_eq!(
        body,
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
               "generationConfig": {"maxOutputTokens": 7}})
    );
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    assert_eq!(
        ex.on_response_headers(&up, &mut host, false),
        Flow::Continue
    );
    host.response_body = b"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 3,\"candidatesTokenCount\": 1,\"totalTokenCount\": 4},\"responseId\": \"r1\"}\r\n\r\n".to_vec();
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let text = String::from_utf8(host.response_body.clone()).unwrap();
    assert!(text.contains("\"content\":\"Hello\""), "{text}");
    assert!(text.contains("\"prompt_tokens\":3"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(ex.usage().map(|u| u.completion_tokens), Some(1));

    // A base that names its version keeps it; embeddings go to batchEmbedContents.
    cfg.api_base = Setting::Literal("https://gateway.example/google/v1beta".into());
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request("embeddings", json!({"model": "x", "input": "a"}));
    send(&up, &mut host);
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/google/v1beta/models/gemini-2.5-flash:batchEmbedContents")
    );

    // Google's error body keeps its message and status.
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![(":status".into(), "400".into())];
    host.response_body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(
        v["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(v["error"]["code"], "400");
}

fn vertex_config(model: &str) -> DeploymentConfig {
    let mut cfg = config(ProviderKind::VertexAi, model);
    cfg.api_base = Setting::Literal(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-central1"
            .into(),
    );
    cfg.api_key = None;
    cfg.default_params = Map::new();
    cfg.headers = BTreeMap::new();
    let sa = json!({
        "type": "service_account",
        "project_id": "proj-1",
        "private_key": include_str!("../../testdata/google_test_key.pem"),
        "client_email": "gw@proj-1.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    cfg.google_auth = Some(crate::plugin_config::GoogleAuthConfig {
        credentials: Setting::Literal(sa.to_string()),
        token_cluster: "google_token_oauth2".into(),
    });
    cfg
}

#[test]
fn vertex_requests_carry_the_shared_token_or_wait_for_it() {
    let mut claude = vertex_config("claude-sonnet-4@20250514");
    claude.deployment_id = "dep-2".into();
    let up = Upstream::new(&cluster(&[vertex_config("gemini-2.5-flash"), claude]), &env).unwrap();
    let accounts = up.google_accounts();
    assert_eq!(accounts.len(), 1, "one account, one token");
    assert_eq!(accounts[0].cluster, "google_token_oauth2");
    let key = accounts[0].key.clone();
    let pick = |host: &mut MockHost, id: &str| {
        host.properties
            .insert(HOST_DEPLOYMENT_PROPERTY.join("."), id.as_bytes().to_vec());
    };
    let body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});

    // No token yet: the request waits (the glue resumes it), nothing is sent.
    let mut host = request("chat_completions", body.clone());
    pick(&mut host, "dep-1");
    let (ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Pause);
    assert_eq!(ex.awaiting_token(), Some(key.as_str()));
    assert!(host.local_reply.is_none());
    assert_eq!(host.req("authorization"), None, "the client's key is gone");

    // A token in shared data: used as it is.
    let record = TokenRecord::default().completed(host.now, Ok(("ya29.tok".into(), 3600)));
    let mut host = request("chat_completions", body.clone());
    pick(&mut host, "dep-1");
    host.shared.insert(key.clone(), record.encode());
    let (ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(ex.awaiting_token(), None);
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer ya29.tok")
    );
    assert_eq!(
        host.req(":authority").as_deref(),
        Some("us-central1-aiplatform.googleapis.com")
    );
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent")
    );
    assert_eq!(
        host.request_json(),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );

    // Claude on Vertex: rawPredict with the Anthropic body, no Anthropic headers.
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
    );
    pick(&mut host, "dep-2");
    host.shared.insert(key.clone(), record.encode());
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(
        host.req(":path").as_deref(),
        Some("/v1/projects/proj-1/locations/us-central1/publishers/anthropic/models/claude-sonnet-4%4020250514:streamRawPredict")
    );
    assert_eq!(host.req("anthropic-version"), None);
    assert_eq!(host.req("x-api-key"), None);
    let sent = host.request_json();
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert!(sent.get("model").is_none());

    // The token endpoint failed and nobody is fetching: a clear error at once.
    let failed = TokenRecord::default().completed(
        host.now,
        Err((
            401,
            "Could not get a Vertex AI access token: invalid_grant".into(),
        )),
    );
    let mut host = request("chat_completions", body);
    pick(&mut host, "dep-1");
    host.shared.insert(key, failed.encode());
    send(&up, &mut host);
    let reply = host.local_reply.as_ref().expect("an error");
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["type"], "authentication_error");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid_grant"));

    // Bad credentials fail configuration, naming the field.
    let mut bad = vertex_config("gemini-2.5-flash");
    bad.google_auth.as_mut().unwrap().credentials = Setting::Literal("{}".into());
    let e = Upstream::new(&cluster(&[bad]), &env).unwrap_err();
    assert!(
        e.contains("google_auth.credentials") && e.contains("type"),
        "{e}"
    );
}

#[test]
fn bedrock_attempts_are_signed_after_translation() {
    use crate::plugin_config::AwsSigning;
    let mut cfg = config(
        ProviderKind::Bedrock,
        "us.anthropic.claude-3-haiku-20240307-v1:0",
    );
    cfg.api_base = Setting::Literal("https://bedrock-runtime.us-east-1.amazonaws.com".into());
    cfg.api_key = None;
    cfg.headers = BTreeMap::new();
    cfg.default_params = Map::new();
    cfg.aws = Some(AwsSigning {
        region: "us-east-1".into(),
        access_key_id: Setting::Literal("AKIDEXAMPLE".into()),
        secret_access_key: Setting::Env { env: "KEY".into() },
        session_token: Some(Setting::Literal("session-token".into())),
    });
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    let path = "/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse";
    assert_eq!(host.req(":path").as_deref(), Some(path));
    assert_eq!(
        host.req(":authority").as_deref(),
        Some("bedrock-runtime.us-east-1.amazonaws.com")
    );
    let body = host.request_body.clone();
    assert_eq!(
        host.request_json(),
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 9}})
    );
    assert_eq!(host.req("content-length"), Some(body.len().to_string()));
    assert_eq!(host.req("x-amz-date").as_deref(), Some("20231114T221320Z"));
    assert_eq!(
        host.req("x-amz-security-token").as_deref(),
        Some("session-token")
    );
    // The signature is over the final path and body, at the host's time.
    let expected = crate::sigv4::sign(
        &crate::sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "sk-secret".into(),
            session_token: Some("session-token".into()),
        },
        "us-east-1",
        "bedrock",
        host.now,
        "POST",
        "bedrock-runtime.us-east-1.amazonaws.com",
        path,
        Some("application/json"),
        &body,
    );
    assert_eq!(host.req("authorization"), Some(expected[2].1.clone()));
    assert!(up.clear_headers.contains(&"x-amz-date".to_string()));

    // The answer comes back OpenAI-shaped, its id from Bedrock's request id.
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("x-amzn-requestid".into(), "abc-123".into()),
    ];
    host.response_body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}"#.to_vec();
    assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["id"], "chatcmpl-abc-123");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello");
    assert_eq!(ex.usage().map(|u| u.prompt_tokens), Some(3));

    // Errors: the type is in x-amzn-errortype.
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, _) = send(&up, &mut host);
    host.response_headers = vec![
        (":status".into(), "429".into()),
        (
            "x-amzn-errortype".into(),
            "ModelNotReadyException:http://internal.amazon.com/coral/com.amazon.bedrock/".into(),
        ),
    ];
    host.response_body = br#"{"message":"Model is getting ready"}"#.to_vec();
    ex.on_response_headers(&up, &mut host, false);
    let n = host.response_body.len();
    ex.on_response_body(&up, &mut host, n, true);
    assert_eq!(host.resp(":status").as_deref(), Some("503"));
    let v: Value = serde_json::from_slice(&host.response_body).unwrap();
    assert_eq!(v["error"]["message"], "Model is getting ready");

    // A Bedrock API key instead: Bearer, nothing signed.
    cfg.aws = None;
    cfg.api_key = Some(Setting::Literal("ABSKbedrockkey".into()));
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
    );
    send(&up, &mut host);
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer ABSKbedrockkey")
    );
    assert_eq!(host.req("x-amz-date"), None);
    assert!(host.req(":path").unwrap().ends_with("/converse-stream"));
}

#[test]
fn cohere_goes_to_v2_under_an_endpoint_base() {
    let mut cfg = config(ProviderKind::Cohere, "v2/command-a-03-2025");
    // LiteLLM's COHERE_API_BASE names the chat endpoint itself.
    cfg.api_base = Setting::Literal("https://api.cohere.com/v2/chat".into());
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/v2/chat"));
    assert_eq!(host.req(":authority").as_deref(), Some("api.cohere.com"));
    assert_eq!(
        host.req("authorization").as_deref(),
        Some("Bearer sk-secret")
    );
    let body = host.request_json();
    assert_eq!(
        body["model"], "command-a-03-2025",
        "the v2/ route prefix is not the model"
    );
    assert!(
        body.get("stream_options").is_none(),
        "Cohere streams end with usage unasked"
    );
    host.response_headers = vec![(":status".into(), "200".into())];
    assert_eq!(
        ex.on_response_headers(&up, &mut host, false),
        Flow::Continue
    );
    assert_eq!(
        host.resp("content-type").as_deref(),
        Some("text/event-stream")
    );

    let mut host = request("embeddings", json!({"model": "x", "input": "a"}));
    send(&up, &mut host);
    assert_eq!(host.req(":path").as_deref(), Some("/v2/embed"));
}

#[test]
fn huggingface_paths_and_prompt_templates() {
    for (base, path) in [
        ("http://tgi:8080", "/v1/chat/completions"),
        ("https://router.huggingface.co/v1", "/v1/chat/completions"),
        (
            "https://e.endpoints.huggingface.cloud/v1/chat/completions",
            "/v1/chat/completions",
        ),
        (
            "https://router.huggingface.co/novita/v3/openai",
            "/novita/v3/openai/v1/chat/completions",
        ),
    ] {
        let mut cfg = config(ProviderKind::Huggingface, "tgi");
        cfg.api_base = Setting::Literal(base.into());
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
        );
        send(&up, &mut host);
        assert_eq!(host.req(":path").as_deref(), Some(path), "{base}");
    }
    let mut cfg = config(ProviderKind::HuggingfaceGenerate, "m");
    cfg.api_base = Setting::Literal("http://tgi:8080/generate".into());
    cfg.default_params = Map::new();
    cfg.prompt_template = Some(crate::plugin_config::PromptTemplate {
        roles: [(
            "user".to_string(),
            crate::plugin_config::RoleTemplate {
                pre_message: "[INST] ".into(),
                post_message: " [/INST]".into(),
            },
        )]
        .into(),
        bos_token: "<s>".into(),
        ..Default::default()
    });
    let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
    );
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    assert_eq!(host.req(":path").as_deref(), Some("/generate_stream"));
    let body = host.request_json();
    assert_eq!(body["inputs"], "<s>[INST] hi [/INST]");
    assert!(body.get("stream_options").is_none() && body.get("stream").is_none());
}

#[test]
fn unsupported_params_are_named_or_dropped() {
    let mut cfg = config(ProviderKind::Anthropic, "claude-3-5-sonnet");
    cfg.default_params = Map::new();
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}),
    );
    send(&up, &mut host);
    let reply = host.local_reply.as_ref().expect("a 400");
    assert_eq!(reply.status, 400);
    let v = reply.json();
    assert_eq!(v["error"]["param"], "logit_bias");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("drop_params"));

    cfg.drop_params = true;
    let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}),
    );
    send(&up, &mut host);
    assert!(host.local_reply.is_none());
    assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
    assert_eq!(host.req("x-api-key").as_deref(), Some("sk-secret"));
    assert_eq!(
        host.req("anthropic-version").as_deref(),
        Some(ANTHROPIC_VERSION)
    );
    assert!(host.request_json().get("logit_bias").is_none());
}
