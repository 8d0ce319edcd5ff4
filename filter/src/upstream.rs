//! The upstream stage: the filter instance in one deployment's cluster.
//!
//! Envoy runs it once per upstream attempt, after the route and cluster are chosen,
//! so every retry or failover attempt is translated for the provider it actually goes
//! to. It parses the request body once, applies the deployment's model id, default
//! parameters and `drop_params`, rewrites path, host and credentials, and on the way
//! back translates the answer: whole bodies for plain responses and errors, chunk by
//! chunk for streams.

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::host::{Flow, Host, Level};
use crate::plugin_config::UpstreamConfig;
use crate::providers::{self, ProviderKind, ResponseContext, StreamTranslate};
use crate::router::{ENDPOINT_HEADER, INTERNAL_HEADERS, MODEL_HEADER, WILDCARD_HEADER};

/// The Anthropic API version sent unless `extra_headers` names another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Client headers that must not reach a provider: the client's gateway credentials
/// (the provider gets the deployment's key instead), and `accept-encoding`, since
/// responses are read and rewritten here.
const STRIPPED_CLIENT_HEADERS: [&str; 7] = [
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "x-litellm-api-key",
    "accept-encoding",
    "content-length",
];

/// A deployment, prepared at configure time.
#[derive(Debug)]
pub struct Upstream {
    deployment_id: String,
    group: String,
    provider: ProviderKind,
    model: String,
    api_base: String,
    authority: String,
    path_prefix: String,
    api_version: Option<String>,
    /// Every header set on each request: credentials, `anthropic-version`, extras.
    request_headers: Vec<(String, String)>,
    default_params: Map<String, Value>,
    drop_params: bool,
}

/// Splits `scheme://host[:port][/prefix]` into the `:authority` and the path prefix.
pub fn split_api_base(api_base: &str) -> Result<(String, String), String> {
    let rest = api_base
        .strip_prefix("https://")
        .or_else(|| api_base.strip_prefix("http://"))
        .ok_or_else(|| format!("api_base {api_base:?} must start with http:// or https://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("api_base {api_base:?} has no host"));
    }
    let default_port = if api_base.starts_with("https://") {
        ":443"
    } else {
        ":80"
    };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok((
        authority.to_string(),
        path.trim_end_matches('/').to_string(),
    ))
}

impl Upstream {
    /// Resolves settings (reading `{"env": …}` values through `env`) and precomputes
    /// the per-request headers.
    pub fn new(
        config: &UpstreamConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Upstream, String> {
        let at = |field: &str| {
            format!(
                "deployment {} ({}): {field}",
                config.deployment_id, config.group
            )
        };
        let api_base = config.api_base.resolve(&at("api_base"), env)?;
        let (authority, mut path_prefix) =
            split_api_base(&api_base).map_err(|e| format!("{}: {e}", at("api_base")))?;
        if config.provider == ProviderKind::Anthropic {
            // LiteLLM accepts Anthropic bases with or without `/v1` or `/v1/messages`.
            for suffix in ["/v1/messages", "/v1"] {
                if let Some(stripped) = path_prefix.strip_suffix(suffix) {
                    path_prefix = stripped.to_string();
                    break;
                }
            }
        }
        let api_key = match &config.api_key {
            Some(s) => Some(s.resolve(&at("api_key"), env)?),
            None => None,
        };
        let api_version = match &config.api_version {
            Some(s) => Some(s.resolve(&at("api_version"), env)?),
            None => None,
        };

        let mut request_headers: Vec<(String, String)> = Vec::new();
        if let Some(key) = api_key {
            request_headers.push(match config.provider {
                ProviderKind::Openai => ("authorization".into(), format!("Bearer {key}")),
                ProviderKind::Azure => ("api-key".into(), key),
                ProviderKind::Anthropic => ("x-api-key".into(), key),
            });
        }
        if config.provider == ProviderKind::Anthropic
            && !config
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("anthropic-version"))
        {
            request_headers.push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
        }
        for (k, v) in &config.headers {
            request_headers.push((k.to_ascii_lowercase(), v.clone()));
        }
        request_headers.push(("content-type".into(), "application/json".into()));

        Ok(Upstream {
            deployment_id: config.deployment_id.clone(),
            group: config.group.clone(),
            provider: config.provider,
            model: config.model.clone(),
            api_base,
            authority,
            path_prefix,
            api_version,
            request_headers,
            default_params: config.default_params.clone(),
            drop_params: config.drop_params,
        })
    }

    /// The provider model id for a request whose wildcard matched `wildcard`.
    fn model_for(&self, wildcard: Option<&str>, requested: Option<&str>) -> String {
        if self.model.contains('*') {
            if let Some(part) = wildcard.or(requested) {
                return self.model.replacen('*', part, 1);
            }
        }
        self.model.clone()
    }

    /// Applies the deployment to a parsed request: model, defaults, parameter checks.
    fn prepare(
        &self,
        endpoint: Endpoint,
        request: &mut Map<String, Value>,
        model: &str,
    ) -> Result<(), GatewayError> {
        request.insert("model".into(), Value::String(model.to_string()));
        for (k, v) in &self.default_params {
            if !request.contains_key(k) {
                request.insert(k.clone(), v.clone());
            }
        }
        if let Some(supported) = self.provider.supported_params(endpoint) {
            let unsupported: Vec<String> = request
                .keys()
                .filter(|k| !supported.contains(&k.as_str()))
                .cloned()
                .collect();
            if !unsupported.is_empty() {
                if self.drop_params {
                    for k in &unsupported {
                        request.remove(k);
                    }
                } else {
                    let first = unsupported.first().cloned().unwrap_or_default();
                    return Err(GatewayError::bad_request(format!(
                        "{} does not support parameters: {:?}, for model={model}. To drop these, set `drop_params: true` in litellm_settings or the deployment's litellm_params.",
                        self.provider.as_str(),
                        unsupported
                    ))
                    .with_param(first));
                }
            }
        }
        Ok(())
    }
}

/// How the response of one attempt is handled.
enum ResponseMode {
    /// Not decided yet (response headers not seen).
    Pending,
    /// Bytes pass untouched.
    Passthrough,
    /// A successful body read whole and translated.
    Translate,
    /// An error body read whole and mapped to an OpenAI error.
    Error { upstream_status: u16 },
    /// A stream translated chunk by chunk.
    Stream(Box<dyn StreamTranslate>),
}

/// Where one attempt is in the upstream stage.
pub struct UpstreamExchange {
    endpoint: Option<Endpoint>,
    wildcard: Option<String>,
    requested_model: Option<String>,
    model: String,
    stream: bool,
    include_usage: bool,
    response: ResponseMode,
}

impl Default for UpstreamExchange {
    fn default() -> Self {
        UpstreamExchange {
            endpoint: None,
            wildcard: None,
            requested_model: None,
            model: String::new(),
            stream: false,
            include_usage: false,
            response: ResponseMode::Pending,
        }
    }
}

fn reply_error(host: &mut dyn Host, err: &GatewayError) {
    host.send_local_reply(
        err.status,
        &[("content-type", "application/json")],
        &err.to_body(),
    );
}

impl UpstreamExchange {
    /// Request headers: take the router stage's facts, set host and credentials.
    pub fn on_request_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        self.endpoint = host
            .request_header(ENDPOINT_HEADER)
            .as_deref()
            .and_then(Endpoint::parse);
        self.wildcard = host.request_header(WILDCARD_HEADER);
        self.requested_model = host.request_header(MODEL_HEADER);
        for name in INTERNAL_HEADERS
            .iter()
            .chain(STRIPPED_CLIENT_HEADERS.iter())
        {
            host.set_request_header(name, None);
        }
        if self.endpoint.is_none() {
            let err = GatewayError::internal(format!(
                "request reached deployment {} without passing the router stage (is the switchyard router filter in the listener?)",
                up.deployment_id
            ));
            reply_error(host, &err);
            return Flow::Pause;
        }
        if end_of_stream {
            reply_error(host, &GatewayError::bad_request("Request body is required"));
            return Flow::Pause;
        }
        host.set_request_header(":authority", Some(&up.authority));
        for (k, v) in &up.request_headers {
            host.set_request_header(k, Some(v));
        }
        Flow::Pause
    }

    /// Request body: once whole, translate it for this deployment.
    pub fn on_request_body(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        if !end_of_stream {
            return Flow::Pause;
        }
        let Some(endpoint) = self.endpoint else {
            return Flow::Pause;
        };
        match self.translate_request(up, host, endpoint, size) {
            Ok(()) => Flow::Continue,
            Err(err) => {
                host.log(
                    Level::Debug,
                    &format!("switchyard upstream {}: {err}", up.deployment_id),
                );
                reply_error(host, &err);
                Flow::Pause
            }
        }
    }

    fn translate_request(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        endpoint: Endpoint,
        size: usize,
    ) -> Result<(), GatewayError> {
        let body = host.request_body(size).unwrap_or_default();
        let mut request: Map<String, Value> = match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(GatewayError::bad_request(
                    "Request body must be a JSON object",
                ))
            }
            Err(e) => {
                return Err(GatewayError::bad_request(format!(
                    "Request body is not valid JSON: {e}"
                )))
            }
        };
        self.model = up.model_for(self.wildcard.as_deref(), self.requested_model.as_deref());
        up.prepare(endpoint, &mut request, &self.model)?;
        self.stream = request
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.include_usage = request
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let translated = providers::translate_request(
            up.provider,
            endpoint,
            &request,
            &self.model,
            up.api_version.as_deref(),
        )?;
        let path = format!("{}{}", up.path_prefix, translated.path);
        host.set_request_header(":path", Some(&path));
        host.replace_request_body(size, &translated.body);
        Ok(())
    }

    /// Response headers: decide how the body will be handled.
    pub fn on_response_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        let status = host
            .response_header(":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        host.set_response_header("x-litellm-model-id", Some(&up.deployment_id));
        host.set_response_header("x-litellm-model-group", Some(&up.group));
        host.set_response_header("x-litellm-model-api-base", Some(&up.api_base));
        let Some(endpoint) = self.endpoint else {
            self.response = ResponseMode::Passthrough;
            return Flow::Continue;
        };

        if !(200..300).contains(&status) {
            if end_of_stream {
                // No body to map: answer with the OpenAI error for the status alone.
                let err = providers::translate_error(up.provider, status, b"");
                self.response = ResponseMode::Passthrough;
                reply_error(host, &err);
                return Flow::Pause;
            }
            self.response = ResponseMode::Error {
                upstream_status: status,
            };
            host.set_response_header("content-length", None);
            return Flow::Pause;
        }
        let ctx = ResponseContext {
            created: host.now_unix_secs(),
            model: self.model.clone(),
            include_usage: self.include_usage,
        };
        self.response = if self.stream {
            match providers::stream_translator(up.provider, endpoint, ctx) {
                Some(t) => {
                    host.set_response_header("content-length", None);
                    host.set_response_header("content-type", Some("text/event-stream"));
                    ResponseMode::Stream(t)
                }
                None => ResponseMode::Passthrough,
            }
        } else if providers::rewrites_response(up.provider) {
            host.set_response_header("content-length", None);
            ResponseMode::Translate
        } else {
            ResponseMode::Passthrough
        };
        match self.response {
            ResponseMode::Translate => Flow::Pause,
            _ => Flow::Continue,
        }
    }

    /// Response body: translate whole bodies at the end, streams chunk by chunk.
    pub fn on_response_body(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        let endpoint = self.endpoint.unwrap_or(Endpoint::ChatCompletions);
        match &mut self.response {
            ResponseMode::Pending | ResponseMode::Passthrough => Flow::Continue,
            ResponseMode::Stream(translator) => {
                let chunk = host.response_body(size).unwrap_or_default();
                let mut out = Vec::with_capacity(chunk.len() * 2);
                translator.push(&chunk, &mut out);
                if end_of_stream {
                    translator.finish(&mut out);
                }
                host.replace_response_body(size, &out);
                Flow::Continue
            }
            ResponseMode::Translate => {
                if !end_of_stream {
                    return Flow::Pause;
                }
                let body = host.response_body(size).unwrap_or_default();
                let ctx = ResponseContext {
                    created: host.now_unix_secs(),
                    model: self.model.clone(),
                    include_usage: self.include_usage,
                };
                match providers::translate_response(up.provider, endpoint, &body, &ctx) {
                    Ok(out) => host.replace_response_body(size, &out),
                    Err(err) => {
                        host.log(
                            Level::Warn,
                            &format!("switchyard upstream {}: {err}", up.deployment_id),
                        );
                        set_error(host, size, &err);
                    }
                }
                Flow::Continue
            }
            ResponseMode::Error { upstream_status } => {
                if !end_of_stream {
                    return Flow::Pause;
                }
                let body = host.response_body(size).unwrap_or_default();
                let err = providers::translate_error(up.provider, *upstream_status, &body);
                set_error(host, size, &err);
                Flow::Continue
            }
        }
    }
}

/// Replaces a held response with an OpenAI error.
fn set_error(host: &mut dyn Host, size: usize, err: &GatewayError) {
    host.set_response_header(":status", Some(&err.status.to_string()));
    host.set_response_header("content-type", Some("application/json"));
    host.replace_response_body(size, &err.to_body());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::Setting;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn config(provider: ProviderKind, model: &str) -> UpstreamConfig {
        UpstreamConfig {
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
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "sk-secret".to_string())
    }

    fn request(path_endpoint: &str, body: Value) -> MockHost {
        MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                (ENDPOINT_HEADER, path_endpoint),
                (MODEL_HEADER, "client-model"),
                ("authorization", "Bearer sk-virtual-key"),
                ("accept-encoding", "gzip"),
                ("content-length", "99"),
            ],
            &serde_json::to_vec(&body).unwrap(),
        )
    }

    fn send(up: &Upstream, host: &mut MockHost) -> (UpstreamExchange, Flow) {
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

    #[test]
    fn missing_secret_is_named_at_configure() {
        let err = Upstream::new(&config(ProviderKind::Openai, "m"), &|_| None).unwrap_err();
        assert!(err.contains("KEY") && err.contains("dep-1"), "{err}");
    }

    #[test]
    fn openai_request_is_rewritten() {
        let up = Upstream::new(&config(ProviderKind::Openai, "gpt-4o-2024"), &env).unwrap();
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
        for gone in [
            "accept-encoding",
            "content-length",
            ENDPOINT_HEADER,
            MODEL_HEADER,
        ] {
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
    fn azure_request_uses_deployment_path_and_api_key() {
        let mut cfg = config(ProviderKind::Azure, "my-dep");
        cfg.api_base = Setting::Literal("https://res.openai.azure.com".into());
        cfg.api_version = Some(Setting::Literal("2024-06-01".into()));
        let up = Upstream::new(&cfg, &env).unwrap();
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

    #[test]
    fn wildcard_model_is_substituted() {
        let up = Upstream::new(&config(ProviderKind::Openai, "*"), &env).unwrap();
        let mut host = request(
            "chat_completions",
            json!({"model": "openai/gpt-4o-mini", "messages": []}),
        );
        host.request_headers
            .push((WILDCARD_HEADER.into(), "gpt-4o-mini".into()));
        send(&up, &mut host);
        assert_eq!(host.request_json()["model"], "gpt-4o-mini");
    }

    #[test]
    fn unrouted_request_is_refused() {
        let up = Upstream::new(&config(ProviderKind::Openai, "m"), &env).unwrap();
        let mut host = MockHost::with_request(&[(":method", "POST")], b"{}");
        UpstreamExchange::default().on_request_headers(&up, &mut host, false);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    }

    #[test]
    fn openai_success_passes_through_and_is_tagged() {
        let up = Upstream::new(&config(ProviderKind::Openai, "m"), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![
            (":status".into(), "200".into()),
            ("content-length".into(), "5".into()),
        ];
        host.response_body = b"hello".to_vec();
        assert_eq!(
            ex.on_response_headers(&up, &mut host, false),
            Flow::Continue
        );
        assert_eq!(ex.on_response_body(&up, &mut host, 5, true), Flow::Continue);
        assert_eq!(host.response_body, b"hello");
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
        let up = Upstream::new(&cfg, &env).unwrap();
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
    fn provider_errors_become_openai_errors() {
        let up = Upstream::new(&config(ProviderKind::Openai, "m"), &env).unwrap();
        let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "429".into())];
        host.response_body =
            br#"{"error":{"message":"slow down","type":"requests","param":null,"code":null}}"#
                .to_vec();
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
    fn unsupported_params_are_named_or_dropped() {
        let mut cfg = config(ProviderKind::Anthropic, "claude-3-5-sonnet");
        cfg.default_params = Map::new();
        let up = Upstream::new(&cfg, &env).unwrap();
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
        let up = Upstream::new(&cfg, &env).unwrap();
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
}
