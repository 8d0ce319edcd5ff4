//! The upstream stage: the filter instance in one model group's route cluster.
//!
//! Envoy runs it once per upstream attempt, after its load balancer picked an
//! endpoint, so every retry or failover attempt is translated for the deployment it
//! actually goes to: the endpoint's metadata names it. It parses the request body
//! once, applies the deployment's model id, default parameters and `drop_params`,
//! rewrites path, host and credentials, and on the way back translates the answer:
//! whole bodies for plain responses and errors, chunk by chunk for streams.
//!
//! Every attempt sees the request headers as the previous attempt left them (Envoy
//! shares one header map between attempts), so each attempt first removes every
//! header any deployment of the cluster sets; the router stage's decision comes from
//! filter state, which reads the same on every attempt.

use serde_json::{Map, Value};

use crate::client::anthropic as anthropic_client;
use crate::cost;
use crate::debug_log;
use crate::endpoint::{ClientApi, Endpoint};
use crate::error::GatewayError;
use crate::estimate;
use crate::google_auth::{ServiceAccount, TokenRecord, TokenState};
use crate::host::{header_in, Flow, Host, Level};
use crate::litellm_fields;
use crate::plugin_config::{
    DeploymentConfig, ErrorFallbacks, ErrorKind, Pricing, UpstreamConfig, ENDPOINT_METADATA_KEY,
    ENDPOINT_METADATA_NAMESPACE,
};
use crate::providers::openai_compat::{Quirks, Rewritten};
// The tests build deployments of each kind.
#[cfg(test)]
use crate::providers::ProviderKind;
use crate::providers::{
    self, Answer, Attempt, OutgoingBody, Provider, ResponseContext, ResponseFormat, StreamTranslate,
};
use crate::request::TopLevel;
use crate::spend::{self, Answered, KeyFacts, SpendLabels, KEY_PROPERTY};
use crate::stages::router::{RouteFacts, FALLBACK_PATH_PREFIX, ROUTE_PROPERTY};

// A request answered by calls of the stage's own (Bedrock Titan list embeddings).
mod fanout;
// `/health`'s probes: the deployment they pin.
mod probe;

/// The Envoy attribute holding the picked endpoint's deployment id.
const HOST_DEPLOYMENT_PROPERTY: [&str; 5] = [
    "xds",
    "upstream_host_metadata",
    "filter_metadata",
    ENDPOINT_METADATA_NAMESPACE,
    ENDPOINT_METADATA_KEY,
];

/// Set by Envoy on each upstream attempt (`include_request_attempt_count`).
const ATTEMPT_COUNT_HEADER: &str = "x-envoy-attempt-count";

/// The Anthropic API version sent unless `extra_headers` names another.
pub use crate::providers::anthropic::ANTHROPIC_VERSION;

/// Client headers that must not reach a provider, besides the client's gateway
/// credentials (`credentials::CLIENT_CREDENTIAL_HEADERS`; the provider gets the
/// deployment's key instead): `accept-encoding`, since responses are read and
/// rewritten here, and the length of a body that is rewritten.
const STRIPPED_CLIENT_HEADERS: [&str; 2] = ["accept-encoding", "content-length"];

/// A route cluster's deployments, prepared at configure time.
#[derive(Debug)]
pub struct Upstream {
    /// The model group whose route this cluster serves.
    group: String,
    deployments: Vec<Deployment>,
    error_fallbacks: std::collections::BTreeMap<String, ErrorFallbacks>,
    /// Every header any deployment sets: removed at the start of each attempt so a
    /// previous attempt's credentials and extras never reach another provider.
    clear_headers: Vec<String>,
    /// Virtual keys are checked: read the key facts, queue spend reports.
    keys: bool,
    /// Debug mode: log each attempt and the provider's status (`debug_log`).
    debug: bool,
}

impl Upstream {
    /// Prepares every deployment of the cluster.
    pub fn new(
        config: &UpstreamConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Upstream, String> {
        if config.deployments.is_empty() {
            return Err(format!(
                "route cluster of group {}: no deployments",
                config.group
            ));
        }
        let deployments = config
            .deployments
            .iter()
            .map(|d| Deployment::new(d, env))
            .collect::<Result<Vec<_>, _>>()?;
        let mut clear_headers: Vec<String> = deployments
            .iter()
            .flat_map(|d| d.request_headers.iter().map(|(k, _)| k.clone()))
            .chain(config.clear_headers.iter().map(|h| h.to_ascii_lowercase()))
            .collect();
        // Set when a Bedrock attempt is signed, or by every Anthropic attempt: never
        // left for another attempt (a retry, a fallback group's cluster after an
        // error fallback) or sent on from a client.
        clear_headers.extend(providers::registry::attempt_headers().map(str::to_string));
        // Every deployment sends `content-type: application/json`: set, never cleared.
        clear_headers.retain(|h| h != "content-type");
        clear_headers.sort();
        clear_headers.dedup();
        Ok(Upstream {
            group: config.group.clone(),
            deployments,
            error_fallbacks: config.error_fallbacks.clone(),
            clear_headers,
            keys: config.keys,
            debug: config.debug,
        })
    }

    /// The Google service accounts of the cluster's Vertex deployments, one per
    /// account: the root context keeps their tokens fresh.
    pub fn google_accounts(&self) -> Vec<std::sync::Arc<GoogleAuth>> {
        let mut out: Vec<std::sync::Arc<GoogleAuth>> = Vec::new();
        for auth in self
            .deployments
            .iter()
            .filter_map(|d| d.google_auth.as_ref())
        {
            if !out.iter().any(|a| a.key == auth.key) {
                out.push(std::sync::Arc::clone(auth));
            }
        }
        out
    }

    /// The deployment of the endpoint Envoy picked: the only one, or the one its
    /// metadata names; for a health probe, the one it names (`probe::pin`).
    fn pick(&self, host: &dyn Host, probe: Option<&str>) -> Result<usize, GatewayError> {
        if let Some(id) = probe {
            return probe::pin(self, host, id);
        }
        if self.deployments.len() == 1 {
            return Ok(0);
        }
        let id = host.property(&HOST_DEPLOYMENT_PROPERTY).unwrap_or_default();
        self.deployments
            .iter()
            .position(|d| d.deployment_id.as_bytes() == id.as_slice())
            .ok_or_else(|| {
                GatewayError::internal(format!(
                    "the picked endpoint names deployment {:?}, which this cluster's filter does not know",
                    String::from_utf8_lossy(&id)
                ))
            })
    }
}

/// How the response of one attempt is handled.
enum ResponseMode {
    /// Not decided yet (response headers not seen).
    Pending,
    /// Bytes pass untouched.
    Passthrough,
    /// A successful body held until complete, then passed on untouched.
    Hold,
    /// A successful body read whole and translated.
    Translate,
    /// An error body read whole and mapped to an OpenAI error.
    Error { upstream_status: u16 },
    /// A stream translated chunk by chunk.
    Stream(Box<dyn StreamTranslate>),
}

/// Where one attempt is in the upstream stage.
pub struct UpstreamExchange {
    facts: Option<RouteFacts>,
    /// Who the request was admitted for, when keys are checked.
    key: Option<KeyFacts>,
    request_id: String,
    start_ms: u64,
    /// Token usage of the answer, once known.
    usage: Option<cost::Usage>,
    /// The provider's own price of the answer (OpenRouter's `usage.cost`), which
    /// then is the spend.
    provider_cost: Option<f64>,
    /// The price of the model served: the deployment's, else that of the model
    /// the request sent (wildcards) or the answer named.
    pricing: Option<Pricing>,
    /// Estimated prompt tokens of the request (keys checked only), charged when
    /// an answer does not finish and the provider gave no count (`estimate`).
    prompt_estimate: u64,
    /// A stream's text counted as it goes to the client (keys checked only).
    output: Option<estimate::OutputCounter>,
    /// Bytes of a held answer received so far, and its `content-length`.
    body_bytes: u64,
    content_length: u64,
    /// `x-forwarded-proto` of the client's request, for an error-fallback redirect.
    scheme: String,
    deployment: usize,
    attempt: u32,
    model: String,
    stream: bool,
    include_usage: bool,
    /// The client asked for base64 embeddings from a provider that answers with
    /// numbers (converted on the way back).
    base64_embeddings: bool,
    /// What a cloud's request rewrite means for its answer (Groq's JSON mode).
    rewritten: Rewritten,
    /// The request's `:path` when this attempt began (not set again when unchanged).
    original_path: Option<String>,
    /// The request waits for this Google account's access token (its shared-data
    /// key): the glue resumes it with the token, or fails it.
    awaiting_token: Option<String>,
    /// The format the client speaks (Anthropic's `/v1/messages`: answers and errors
    /// in Anthropic's shape).
    api: ClientApi,
    /// An Anthropic-format request going natively to an Anthropic deployment: the
    /// answer passes back untouched.
    native: bool,
    /// `stop_sequences` of an Anthropic-format request (for `stop_sequence`).
    stop_sequences: Vec<String>,
    /// Debug mode is on (the cluster's `debug`): the attempt is logged.
    debug: bool,
    /// Debug mode: `<METHOD> <masked URL>` of the attempt sent, for its status line.
    debug_target: Option<String>,
    response: ResponseMode,
    /// Whether this attempt's spend report (success or failure) is queued.
    reported: std::cell::Cell<bool>,
    /// The request is answered by calls of the stage's own (`fanout`).
    fanout: Option<fanout::FanOut>,
    /// The client's `metadata` and `tags`, for the spend report (keys checked only).
    labels: SpendLabels,
    /// A stream's translated bytes still held in Envoy's buffer ahead of the chunk
    /// at hand, and the length of the buffer as last written (see `timeouts`).
    stream_held: usize,
    stream_written: usize,
    /// This attempt's id in the worker's attempt ledger (`observe::ledger`).
    attempt_id: u64,
    /// The provider's HTTP status, once its response headers came.
    status: u16,
    /// When the answer's first byte came (a stream's first chunk; a whole answer's
    /// end), Unix ms.
    first_token_ms: Option<u64>,
    /// The error this attempt ended with, for its record.
    error_message: Option<String>,
    /// Whether this attempt's final record is in the ledger.
    left: std::cell::Cell<bool>,
    /// The token of the error-fallback redirect this attempt answered with.
    redirect_token: Option<String>,
}

impl Default for UpstreamExchange {
    fn default() -> Self {
        UpstreamExchange {
            facts: None,
            key: None,
            request_id: String::new(),
            start_ms: 0,
            usage: None,
            provider_cost: None,
            pricing: None,
            prompt_estimate: 0,
            output: None,
            body_bytes: 0,
            content_length: 0,
            scheme: String::new(),
            deployment: 0,
            attempt: 1,
            model: String::new(),
            stream: false,
            include_usage: false,
            base64_embeddings: false,
            rewritten: Default::default(),
            original_path: None,
            awaiting_token: None,
            api: ClientApi::OpenAi,
            native: false,
            stop_sequences: Vec::new(),
            debug: false,
            debug_target: None,
            response: ResponseMode::Pending,
            reported: std::cell::Cell::new(false),
            fanout: None,
            labels: SpendLabels::default(),
            stream_held: 0,
            stream_written: 0,
            attempt_id: 0,
            status: 0,
            first_token_ms: None,
            error_message: None,
            left: std::cell::Cell::new(false),
            redirect_token: None,
        }
    }
}

/// An error body in the client's format.
fn error_body(err: &GatewayError, api: ClientApi) -> Vec<u8> {
    if api.is_anthropic() {
        anthropic_client::error_body(err)
    } else {
        err.to_body()
    }
}

fn reply_error(host: &mut dyn Host, err: &GatewayError, api: ClientApi) {
    host.send_local_reply(
        err.status,
        &[("content-type", "application/json")],
        &error_body(err, api),
    );
}

impl UpstreamExchange {
    /// The answer's token usage: known at the end of a non-streamed answer or of a
    /// stream (whose usage chunk the gateway asks for).
    pub fn usage(&self) -> Option<cost::Usage> {
        self.usage
    }

    /// The shared-data key of the Google access token this request waits for
    /// (its request body returned [`Flow::Pause`]); the glue resumes it once the
    /// token is there, with `authorization: Bearer <token>`, or fails it.
    pub fn awaiting_token(&self) -> Option<&str> {
        self.awaiting_token.as_deref()
    }

    fn deployment<'u>(&self, up: &'u Upstream) -> Option<&'u Deployment> {
        up.deployments.get(self.deployment)
    }

    /// Request headers: learn the route and the picked deployment, undo what an
    /// earlier attempt set, set host and credentials.
    pub fn on_request_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        self.facts = host
            .property(&[ROUTE_PROPERTY])
            .and_then(|raw| RouteFacts::decode(&raw));
        self.api = self.facts.as_ref().map_or(ClientApi::OpenAi, |f| f.api);
        let mut id = [0u8; 8];
        host.random_bytes(&mut id);
        self.attempt_id = u64::from_le_bytes(id);
        self.debug = up.debug;
        self.key = if up.keys {
            host.property(&[KEY_PROPERTY])
                .and_then(|raw| KeyFacts::decode(&raw))
        } else {
            None
        };
        // One hostcall for every header; then only the headers present that must not
        // reach this attempt's provider are removed (the map is shared by retries,
        // so an earlier attempt's credentials are among them).
        let headers = host.request_headers();
        // A health probe of the filter's own: no route facts (it never passed the
        // router stage, which strips a client's probe header anyway).
        let probe = probe::probe_of(self.facts.is_none(), &headers, &up.group);
        if let Some((_, facts)) = &probe {
            self.facts = Some(facts.clone());
            self.key = None;
        }
        self.request_id = header_in(&headers, "x-request-id")
            .unwrap_or_default()
            .to_string();
        self.start_ms = host.now_unix_millis();
        self.scheme = header_in(&headers, "x-forwarded-proto")
            .unwrap_or("http")
            .to_string();
        self.attempt = header_in(&headers, ATTEMPT_COUNT_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        for (name, _) in &headers {
            let cleared = crate::stages::router::is_internal_header(name)
                || STRIPPED_CLIENT_HEADERS
                    .iter()
                    .chain(crate::credentials::CLIENT_CREDENTIAL_HEADERS.iter())
                    .copied()
                    .chain(up.clear_headers.iter().map(String::as_str))
                    .any(|clear| name.eq_ignore_ascii_case(clear));
            if cleared {
                host.set_request_header(name, None);
            }
        }
        if self.facts.is_none() {
            let err = GatewayError::internal(
                "request reached a switchyard cluster without passing the router stage (is the switchyard router filter in the listener?)",
            );
            reply_error(host, &err, self.api);
            return Flow::Pause;
        }
        self.deployment = match up.pick(host, probe.as_ref().map(|(id, _)| id.as_str())) {
            Ok(i) => i,
            Err(err) => {
                reply_error(host, &err, self.api);
                return Flow::Pause;
            }
        };
        if end_of_stream {
            reply_error(
                host,
                &GatewayError::bad_request("Request body is required"),
                self.api,
            );
            return Flow::Pause;
        }
        let Some(dep) = self.deployment(up) else {
            return Flow::Pause;
        };
        // Headers that choose what the operator's account pays for, unless this
        // deployment lets the client choose (`billing_headers`).
        for (name, _) in &headers {
            if crate::billing_headers::strip(name, &dep.forward_client_headers) {
                host.set_request_header(name, None);
            }
        }
        host.set_request_header(":authority", Some(&dep.authority));
        for (k, v) in &dep.request_headers {
            if k == "content-type" && header_in(&headers, k) == Some(v.as_str()) {
                continue; // as the client sent it: one hostcall saved
            }
            host.set_request_header(k, Some(v));
        }
        self.original_path = header_in(&headers, ":path").map(str::to_string);
        Flow::Pause
    }

    /// Request body: once whole, translate it for the picked deployment.
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
        let (Some(facts), Some(dep)) = (self.facts.clone(), self.deployment(up)) else {
            return Flow::Pause;
        };
        match self.translate_request(dep, host, &facts, size) {
            Ok(()) if self.awaiting_token.is_some() => Flow::Pause,
            Ok(()) if self.fanout.is_some() => {
                // The other inputs' calls go out beside this attempt's own request.
                self.dispatch_fanout(up, host);
                Flow::Continue
            }
            Ok(()) => Flow::Continue,
            Err(err) => {
                host.log(
                    Level::Debug,
                    &format!("switchyard upstream {}: {err}", dep.deployment_id),
                );
                reply_error(host, &err, self.api);
                Flow::Pause
            }
        }
    }
}

impl UpstreamExchange {
    /// The attempt is over (Envoy destroys its upstream filters). One that ended
    /// without an answer or a provider error is reported as a failure, so that the
    /// lease of a `max_parallel_requests` slot is given back now, not when it
    /// expires. When the provider had begun a successful answer — the client left
    /// mid-stream, the provider cut its stream, the answer outgrew Envoy's buffer
    /// (its 502) — the provider billed what it produced: the report charges it
    /// (`estimate`: prompt and output so far) and is marked partial. Before any
    /// answer (no response headers: reset, timeout) it carries no spend.
    pub fn on_done(&self, up: &Upstream, host: &dyn Host) {
        if matches!(self.response, ResponseMode::Pending) {
            if let Some(dep) = self.deployment(up) {
                self.log_status(dep, host, 0);
            }
        }
        // With keys off nothing is reported: once the attempt's record is left,
        // there is nothing more to do.
        if self.reported.get() || (self.key.is_none() && self.left.get()) {
            return;
        }
        if let Some(dep) = self.deployment(up) {
            let answer_begun = self.fanout.is_none()
                && matches!(
                    self.response,
                    ResponseMode::Stream(_) | ResponseMode::Hold | ResponseMode::Translate
                );
            if answer_begun {
                self.record_partial(dep, host);
            } else {
                self.record_failure(dep, host);
            }
        }
    }
}

// The deployments of a cluster.
mod deployment;
pub use deployment::{split_api_base, Deployment, GoogleAuth};
// The request of one attempt.
mod request;
// The answer of one attempt.
mod response;
use response::set_error;
// The spend report of one attempt.
mod spend_report;
// The record of one attempt, left for the request's end.
mod attempt_record;
use spend_report::report_cost;
// Provider errors that move on to a fallback group.
mod error_fallback;

// Per-attempt deadlines of the picked deployment.
mod timeouts;

// The stage with Anthropic-format clients (`/v1/messages`).
#[cfg(test)]
mod messages_tests;

// The debug mode's request log.
#[cfg(test)]
mod debug_tests;

#[cfg(test)]
mod tests;
