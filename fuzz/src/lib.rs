//! What the fuzz targets share: the framing that lets the fuzzer choose chunk
//! boundaries, a gateway set up like a real one (router stage, one route cluster
//! with a deployment of every provider), and the checks every answer must pass.
//!
//! The targets themselves are in `fuzz_targets/`; `README.md` says what each covers.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use switchyard_filter::endpoint::Endpoint;
use switchyard_filter::host::tests::MockHost;
use switchyard_filter::host::Flow;
use switchyard_filter::plugin_config::{
    DeploymentConfig, ErrorFallbacks, GroupConfig, Pricing, RouterConfig, Setting, UpstreamConfig,
    ENDPOINT_METADATA_KEY, ENDPOINT_METADATA_NAMESPACE,
};
use switchyard_filter::providers::ProviderKind;
use switchyard_filter::spend::{KeyFacts, KEY_PROPERTY};
use switchyard_filter::stages::router::{Router, RouterExchange};
use switchyard_filter::stages::upstream::{Upstream, UpstreamExchange};

/// Every provider, from the registry's list of kinds: a new provider is fuzzed by
/// every target that takes a provider without being listed here (the OpenAI-compatible
/// clouds too: their parameter tables and quirks are translators of their own).
pub const PROVIDERS: [ProviderKind; ProviderKind::ALL.len()] = {
    // An array rather than the slice, so the targets iterate kinds by value.
    let mut providers = [ProviderKind::Openai; ProviderKind::ALL.len()];
    let mut i = 0;
    while i < providers.len() {
        providers[i] = ProviderKind::ALL[i];
        i += 1;
    }
    providers
};

/// Every LLM endpoint.
pub const ENDPOINTS: [Endpoint; 3] = [
    Endpoint::ChatCompletions,
    Endpoint::Completions,
    Endpoint::Embeddings,
];

/// A fuzz input with fuzzer-chosen chunk boundaries.
///
/// Layout: `flags[0] flags[1] n len_1 … len_n payload`, where `n` is taken modulo 17
/// (at most 16 length bytes). The payload is cut into chunks of `len_1`, `len_2`, …
/// cycling through the lengths until it is used up (a length of 0 is an empty chunk),
/// so a single `1` feeds it byte by byte. With no lengths the payload is one chunk;
/// there is always at least one chunk.
/// Missing header bytes read as 0, so any input is valid. The third byte's quotient by
/// 17 is one more target-specific switch ([`Framed::extra`], its lowest bit).
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    /// Target-specific switches.
    pub flags: [u8; 2],
    /// One more switch: the lowest bit of the third byte divided by 17.
    pub extra: bool,
    lens: &'a [u8],
    /// The bytes after the header.
    pub payload: &'a [u8],
}

impl<'a> Framed<'a> {
    /// Reads the header; never fails.
    pub fn parse(data: &'a [u8]) -> Framed<'a> {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let n = usize::from(byte(2)) % 17;
        let header_end = (3 + n).min(data.len());
        Framed {
            flags: [byte(0), byte(1)],
            extra: (byte(2) / 17) % 2 == 1,
            lens: data.get(3.min(data.len())..header_end).unwrap_or_default(),
            payload: data.get(header_end..).unwrap_or_default(),
        }
    }

    /// The payload cut at the chosen boundaries.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        if self.lens.is_empty() {
            return vec![self.payload];
        }
        let mut out = Vec::new();
        let mut rest = self.payload;
        let mut zeros = 0;
        for &len in self.lens.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            if len == 0 {
                zeros += 1;
                if zeros > self.lens.len() {
                    // Only zero lengths: the rest in one piece.
                    out.push(rest);
                    break;
                }
                out.push(&rest[..0]);
                continue;
            }
            zeros = 0;
            let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
            out.push(chunk);
            rest = tail;
        }
        if out.is_empty() {
            // An empty payload: one empty piece (Envoy ends a body with one).
            out.push(self.payload);
        }
        out
    }

    /// The same chunk lengths over other bytes.
    pub fn with_payload(&self, payload: &'a [u8]) -> Framed<'a> {
        Framed { payload, ..*self }
    }

    /// A flag bit (`bit` 0–15).
    pub fn bit(&self, bit: u8) -> bool {
        let byte = self.flags[usize::from(bit / 8) % 2];
        byte & (1 << (bit % 8)) != 0
    }
}

/// `payload` with every run of up to 19 ASCII digits replaced by `u64::MAX` minus
/// its value: the realistic token counts of a seed become counts at the top of the
/// range, where any sum of two overflows. (A boundary-value switch the targets turn
/// on with a flag bit; mutating digits one by one rarely gets there.)
pub fn near_u64_max(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 64);
    let mut rest = payload;
    while let Some(start) = rest.iter().position(u8::is_ascii_digit) {
        out.extend_from_slice(&rest[..start]);
        let digits = rest[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let run = &rest[start..start + digits];
        match std::str::from_utf8(run)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
        {
            Some(n) if digits <= 19 => out.extend_from_slice((u64::MAX - n).to_string().as_bytes()),
            _ => out.extend_from_slice(run),
        }
        rest = &rest[start + digits..];
    }
    out.extend_from_slice(rest);
    out
}

/// Panics unless `bytes` are a JSON object by the grammar (RFC 8259). The grammar
/// allows escapes of lone surrogates (`"\ud800"`), which a client may send and the
/// filter passes on untouched inside values it does not read; a `Value` cannot hold
/// them, so this checks with `IgnoredAny`, which reads every token but keeps none.
pub fn assert_json_object(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        panic!("{what} is not JSON ({e}): {text:?}");
    }
    assert!(
        bytes.trim_ascii_start().starts_with(b"{"),
        "{what} is not a JSON object: {text:?}"
    );
}

/// Panics unless `body` is an OpenAI-shaped error: `{"error": {"message": "…", …}}`.
pub fn assert_error_body(body: &[u8]) {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    assert!(
        v.get("error")
            .and_then(|e| e.get("message"))
            .is_some_and(Value::is_string),
        "error body without error.message: {v}"
    );
}

/// The events of an OpenAI SSE body the gateway produced: each must be one
/// `data: ` line holding JSON (or `[DONE]`), ended by a blank line. Returns the
/// parsed payloads (`[DONE]` as a JSON string).
/// Whether an Azure stream passes untouched: its events are written
/// `data: …\n\n` (as Azure writes them; the gateway re-writes each event, and an
/// unfinished last one is dropped as SSE clients drop it) and none is a
/// content-filter annotation (`"object": ""`: a stream without an empty string has
/// none), which `providers::azure` normalizes.
pub fn azure_stream_untouched(payload: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(payload) else {
        return false;
    };
    !text.contains("\"\"")
        && text.ends_with("\n\n")
        && text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .all(|e| e.starts_with("data: ") && !e.contains(['\n', '\r']))
}

pub fn openai_sse_events(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out)
        .unwrap_or_else(|e| panic!("stream output is not UTF-8 ({e}): {out:?}"));
    if text.is_empty() {
        return Vec::new();
    }
    assert!(
        text.ends_with("\n\n"),
        "stream output ends mid-event: {text:?}"
    );
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"));
            assert!(!data.contains('\n'), "event with two lines: {event:?}");
            if data == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(data)
                    .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data:?}"))
            }
        })
        .collect()
}

/// The environment of the gateway under test.
pub fn env(name: &str) -> Option<String> {
    (name == "KEY").then(|| "sk-provider-secret".to_string())
}

fn group(name: &str) -> GroupConfig {
    GroupConfig {
        name: name.into(),
        route_key: name.into(),
        mock_response: None,
        endpoints: vec![],
    }
}

fn error_fallbacks() -> std::collections::BTreeMap<String, ErrorFallbacks> {
    [(
        "gpt-4o".to_string(),
        ErrorFallbacks {
            context_window: vec!["claude".into(), "azure-gpt".into()],
            content_policy: vec!["claude".into()],
        },
    )]
    .into()
}

/// The router stage's config: plain groups, wildcards, a mock group, an
/// embeddings-only group, aliases (one hidden) and error fallbacks.
pub fn router_config(defer_answers: bool, max_request_body_bytes: usize) -> RouterConfig {
    let mut mock = group("demo");
    mock.mock_response = Some("Hi from the mock \u{1F916}".into());
    let mut embedder = group("embedder");
    embedder.endpoints = vec!["embeddings".into()];
    RouterConfig {
        groups: vec![
            group("gpt-4o"),
            group("azure-gpt"),
            group("claude"),
            group("openai/*"),
            group("anthropic/claude-*"),
            mock,
            embedder,
            group("*"),
        ],
        aliases: [
            ("gpt-4".to_string(), "gpt-4o".to_string()),
            ("sonnet".to_string(), "anthropic/claude-sonnet".to_string()),
            ("secret".to_string(), "claude".to_string()),
        ]
        .into(),
        hidden_aliases: ["secret".to_string()].into(),
        max_request_body_bytes,
        error_fallbacks: error_fallbacks(),
        defer_answers,
        spend_reporting: None,
        forced_group: None,
        callbacks: None,
        retries: Default::default(),
        metrics: Default::default(),
        info: Default::default(),
    }
}

fn deployment(id: &str, provider: ProviderKind, model: &str, api_base: &str) -> DeploymentConfig {
    DeploymentConfig {
        deployment_id: id.into(),
        group: "gpt-4o".into(),
        provider,
        model: model.into(),
        api_base: Setting::Literal(api_base.into()),
        api_key: Some(Setting::Env { env: "KEY".into() }),
        api_version: None,
        headers: Default::default(),
        default_params: Map::new(),
        drop_params: false,
        fallback_index: 0,
        pricing: None,
        model_prices: Default::default(),
        prompt_template: None,
        aws: None,
        google_auth: None,
        direct_cluster: None,
        stream_timeout_ms: None,
        forward_client_headers: Vec::new(),
    }
}

/// One route cluster holding a deployment of every provider (two Anthropic ones:
/// with and without `drop_params`), as after failover to fallback groups.
pub fn upstream_config() -> UpstreamConfig {
    let mut oa = deployment(
        "oa",
        ProviderKind::Openai,
        "gpt-4o-2024-08-06",
        "https://api.openai.example/v1/",
    );
    oa.default_params = json!({"temperature": 0.2, "seed": 7})
        .as_object()
        .cloned()
        .unwrap_or_default();
    oa.pricing = Some(Pricing {
        input_cost_per_token: 2.5e-6,
        output_cost_per_token: 1e-5,
        cache_read_input_token_cost: Some(1.25e-6),
        cache_creation_input_token_cost: None,
    });
    let mut az = deployment(
        "az",
        ProviderKind::Azure,
        "my deployment",
        "https://res.openai.azure.com",
    );
    az.group = "azure-gpt".into();
    az.api_version = Some(Setting::Literal("2024-06-01".into()));
    az.headers = [("X-Azure-Only".to_string(), "1".to_string())].into();
    az.fallback_index = 2;
    let mut cl = deployment(
        "cl",
        ProviderKind::Anthropic,
        "claude-*",
        "https://api.anthropic.com",
    );
    cl.group = "claude".into();
    cl.fallback_index = 1;
    cl.pricing = Some(Pricing {
        input_cost_per_token: 3e-6,
        output_cost_per_token: 1.5e-5,
        cache_read_input_token_cost: Some(3e-7),
        cache_creation_input_token_cost: Some(3.75e-6),
    });
    let mut cl_drop = deployment(
        "cl-drop",
        ProviderKind::Anthropic,
        "claude-3-5-haiku",
        "http://127.0.0.1:8080/anthropic",
    );
    cl_drop.group = "claude".into();
    cl_drop.drop_params = true;
    cl_drop.default_params = json!({"max_tokens": 64, "temperature": 1})
        .as_object()
        .cloned()
        .unwrap_or_default();
    cl_drop.headers = [("anthropic-beta".to_string(), "x".to_string())].into();
    let mut ol = deployment(
        "ol",
        ProviderKind::OllamaChat,
        "llama3.1",
        "http://127.0.0.1:11434",
    );
    ol.api_key = None;
    ol.default_params = json!({"num_ctx": 4096})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut og = deployment(
        "og",
        ProviderKind::Ollama,
        "llama3.1",
        "http://127.0.0.1:11434",
    );
    og.drop_params = true;
    let mi = deployment(
        "mi",
        ProviderKind::Mistral,
        "mistral-small-latest",
        "https://api.mistral.ai/v1",
    );
    let mut di = deployment(
        "di",
        ProviderKind::Deepinfra,
        "meta-llama/x",
        "https://api.deepinfra.com/v1/openai",
    );
    di.drop_params = true;
    let ge = deployment(
        "ge",
        ProviderKind::Gemini,
        "gemini-3-pro-preview",
        "https://generativelanguage.googleapis.com",
    );
    let co = deployment(
        "co",
        ProviderKind::Cohere,
        "command-a-03-2025",
        "https://api.cohere.com/v2/chat",
    );
    let mut hg = deployment(
        "hg",
        ProviderKind::HuggingfaceGenerate,
        "bigcode/starcoder",
        "http://127.0.0.1:8080",
    );
    hg.prompt_template = Some(switchyard_filter::plugin_config::PromptTemplate {
        initial_prompt_value: "<start>".into(),
        bos_token: "<s>".into(),
        eos_token: "</s>".into(),
        ..Default::default()
    });
    // Bedrock, signed with SigV4 (session credentials).
    let mut br = deployment(
        "br",
        ProviderKind::Bedrock,
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
    );
    br.api_key = None;
    br.aws = Some(switchyard_filter::plugin_config::AwsSigning {
        region: "us-east-1".into(),
        access_key_id: Setting::Literal("AKIDEXAMPLE".into()),
        secret_access_key: Setting::Env { env: "KEY".into() },
        session_token: Some(Setting::Literal("session".into())),
    });
    UpstreamConfig {
        group: "gpt-4o".into(),
        deployments: vec![oa, az, cl, cl_drop, ol, og, mi, di, ge, co, hg, br],
        clear_headers: vec!["X-Other-Cluster".into()],
        error_fallbacks: error_fallbacks(),
        keys: true,
        debug: false,
    }
}

/// The deployment ids of [`upstream_config`].
pub const DEPLOYMENTS: [&str; 12] = [
    "oa", "az", "cl", "cl-drop", "ol", "og", "mi", "di", "ge", "co", "hg", "br",
];

/// A router stage and a route cluster, built once.
pub struct Gateway {
    /// The router stage (answers deferred: no).
    pub router: Router,
    /// The route cluster's upstream stage.
    pub upstream: Upstream,
}

/// The gateway every request-flow target uses.
pub fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| Gateway {
        router: Router::new(&router_config(false, 1 << 20)).expect("router config"),
        upstream: Upstream::new(&upstream_config(), &env).expect("upstream config"),
    })
}

/// The client paths of each endpoint (with and without `/v1`, Azure style).
pub fn paths(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::ChatCompletions => &[
            "/v1/chat/completions",
            "/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01",
        ],
        Endpoint::Completions => &["/completions"],
        Endpoint::Embeddings => &["/v1/embeddings"],
    }
}

/// A client request as Envoy hands it to the listener.
pub fn client_request(path: &str, body: &[u8]) -> MockHost {
    MockHost::with_request(
        &[
            (":method", "POST"),
            (":path", path),
            (":authority", "gateway.local"),
            ("content-type", "application/json"),
            ("authorization", "Bearer sk-client-key"),
            ("x-request-id", "req-1"),
            ("x-forwarded-proto", "https"),
            ("x-switchyard-group", "spoofed"),
        ],
        body,
    )
}

/// Makes the upstream stage see `deployment` as the endpoint Envoy picked.
pub fn pick(host: &mut MockHost, deployment: &str) {
    host.properties.insert(
        [
            "xds",
            "upstream_host_metadata",
            "filter_metadata",
            ENDPOINT_METADATA_NAMESPACE,
            ENDPOINT_METADATA_KEY,
        ]
        .join("."),
        deployment.as_bytes().to_vec(),
    );
}

/// Checks a local reply: errors are OpenAI-shaped, successes are mock answers.
pub fn check_local_reply(host: &MockHost) {
    let Some(reply) = &host.local_reply else {
        return;
    };
    if reply.status >= 400 {
        assert_error_body(&reply.body);
    } else if reply.header("content-type") == Some("text/event-stream") {
        openai_sse_events(&reply.body);
    } else {
        let v: Result<Value, _> = serde_json::from_slice(&reply.body);
        assert!(
            v.is_ok(),
            "local {} reply is not JSON: {reply:?}",
            reply.status
        );
    }
}

/// Runs `body` to `path` through the router stage and, when it routes the request
/// on, through the upstream stage as deployment `deployment`. Returns the host as
/// the request leaves (or was answered), and the upstream exchange if it ran.
pub fn send_request(
    gw: &Gateway,
    path: &str,
    body: &[u8],
    deployment: &str,
) -> (MockHost, Option<UpstreamExchange>) {
    send_request_as(gw, path, body, deployment, None)
}

/// [`send_request`], the request admitted for `key` (keys checked: the answer's
/// spend is queued).
pub fn send_request_as(
    gw: &Gateway,
    path: &str,
    body: &[u8],
    deployment: &str,
    key: Option<&KeyFacts>,
) -> (MockHost, Option<UpstreamExchange>) {
    let mut host = client_request(path, body);
    let mut router = RouterExchange::default();
    let flow = router.on_request_headers(&gw.router, &mut host, body.is_empty());
    if host.local_reply.is_some() {
        assert_eq!(flow, Flow::Pause, "a local reply must stop the request");
        check_local_reply(&host);
        return (host, None);
    }
    let flow = router.on_request_body(&gw.router, &mut host, body.len(), true);
    if host.local_reply.is_some() {
        assert_eq!(flow, Flow::Pause, "a local reply must stop the request");
        check_local_reply(&host);
        return (host, None);
    }
    assert_eq!(flow, Flow::Continue, "the router stage held a whole body");
    assert!(
        host.req("x-switchyard-group")
            .is_some_and(|g| g != "spoofed"),
        "routed without setting the group header"
    );
    pick(&mut host, deployment);
    if let Some(key) = key {
        host.properties.insert(KEY_PROPERTY.into(), key.encode());
    }
    let mut ex = UpstreamExchange::default();
    ex.on_request_headers(&gw.upstream, &mut host, false);
    assert!(
        host.local_reply.is_none(),
        "the upstream stage refused routed headers: {:?}",
        host.local_reply
    );
    assert_eq!(
        host.req("authorization")
            .as_deref()
            .filter(|a| a.contains("sk-client-key")),
        None,
        "the client's key reached the provider"
    );
    let size = host.request_body.len();
    let flow = ex.on_request_body(&gw.upstream, &mut host, size, true);
    if host.local_reply.is_some() {
        assert_eq!(flow, Flow::Pause, "a local reply must stop the request");
        check_local_reply(&host);
    } else {
        assert_eq!(flow, Flow::Continue);
        assert_json_object(&host.request_body, "the translated request");
        assert!(
            host.req(":path").is_some_and(|p| p.starts_with('/')),
            "bad upstream path {:?}",
            host.req(":path")
        );
    }
    (host, Some(ex))
}
