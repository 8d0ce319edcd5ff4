//! One client request answered by several provider calls: Bedrock Titan embeddings
//! with a list `input`.
//!
//! Titan's embedding models take one text per call. LiteLLM answers a list `input`
//! with one `InvokeModel` per input, one after the other, and merges the answers in
//! order with the token counts summed (`litellm/llms/bedrock/embed/embedding.py`,
//! `BedrockEmbedding._single_func_embeddings`; the Titan configs'
//! `_transform_response`). The upstream stage does the same within each attempt Envoy
//! makes, in parallel:
//!
//! - **The attempt's own request carries the first input**, translated and signed
//!   like any Bedrock request, to the endpoint Envoy picked.
//! - **The other inputs are calls of the stage's own** (`dispatch_http_call`), sent
//!   when the request leaves, at most [`MAX_IN_FLIGHT`] at a time, each signed over
//!   its own body. They go to the deployment's **direct cluster**
//!   (`DeploymentConfig::direct_cluster`, rendered by `switchyard render` for each
//!   deployment that may fan out): the route cluster would balance them over the
//!   whole group and its fallback groups, while every call must reach the deployment
//!   this attempt is for.
//! - **The attempt's answer is held until every call has answered** (it is read whole
//!   anyway, as every Bedrock answer), then replaced by the OpenAI embedding list in
//!   input order, usage summed (the cost header and the spend report use the sum).
//!   When the calls are still out as it ends, the response pauses and the last call's
//!   answer resumes it.
//! - **A failed call fails the attempt** with that call's error, OpenAI-shaped with
//!   the provider's status and message, naming the input; the other calls are
//!   abandoned (Envoy cancels a context's calls when its stream ends). The status is
//!   set before the answer's headers reach Envoy's router, so the route's retry
//!   policy, fallbacks and error fallbacks treat it like any provider error of the
//!   attempt: a 429 or 5xx is retried, and the next attempt fans out again — as
//!   LiteLLM retries the whole call. An error of the attempt's own request is the
//!   provider's error as for any request.
//! - The number of inputs is capped (`providers::bedrock::MAX_TITAN_INPUTS`): more is
//!   a 400 naming `input` before any call.
//!
//! Envoy behaviour this relies on, checked with Envoy 1.40 (kept in
//! `integration-tests/test_bedrock.py`, the Titan tests): an upstream filter's `dispatch_http_call` answers come back to
//! its HTTP context; a response paused at its end (the body callback returns `Pause`
//! with `end_of_stream`) can have its body and headers (`:status` included) replaced
//! from such an answer and be resumed (`proxy_continue_stream`), and the router then
//! applies its retry policy to the new status. A local reply sent by an upstream
//! filter, by contrast, goes straight to the client: the filter's own response
//! callbacks do not see it and the router does not retry it (seen with a first
//! design that answered with a local reply; not kept as a test) — which is why a
//! failed call rewrites the attempt's own answer rather than replying locally.

use super::*;
use crate::host::CallAnswer;

/// Calls of one request in flight at once: fast for the usual batch sizes, and far
/// below Envoy's default circuit breaker (1024 requests per cluster).
pub const MAX_IN_FLIGHT: usize = 32;
/// How long one call may take; the route's timeout (LiteLLM's `timeout`, default
/// 600 s) bounds the whole request anyway.
const CALL_TIMEOUT_MS: u64 = 600_000;

/// The calls of one fanned-out attempt and what came back so far.
pub(super) struct FanOut {
    cluster: String,
    /// The calls for inputs 1, 2, … (input 0 is the attempt's own request).
    calls: Vec<PreparedCall>,
    /// The first call not sent yet.
    next: usize,
    /// Callout token → input index, for the calls out.
    in_flight: Vec<(u32, usize)>,
    /// Each input's vector, once answered.
    vectors: Vec<Option<Vec<f64>>>,
    tokens: u64,
    /// Inputs answered, the attempt's own included.
    answered: usize,
    /// The client asked for `encoding_format: "base64"`.
    base64: bool,
    /// The first failed call (it fails the attempt).
    failure: Option<Failure>,
    /// The attempt's own answer is read and held (its buffered size), waiting for
    /// the calls.
    held: Option<usize>,
    /// The attempt's answer is written: later answers are ignored.
    done: bool,
}

/// One call, ready to go.
struct PreparedCall {
    input: usize,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A call that failed: the provider's answer, or why there was none.
struct Failure {
    /// The provider's status and raw error body (for error fallbacks), if it answered.
    answer: Option<(u16, Vec<u8>)>,
    error: GatewayError,
}

impl FanOut {
    /// Sends calls until [`MAX_IN_FLIGHT`] are out or none is left; a call Envoy
    /// refuses is the failure.
    fn send_calls(&mut self, host: &mut dyn Host) {
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let Some(call) = self.calls.get_mut(self.next) else {
                break;
            };
            self.next += 1;
            let headers: Vec<(&str, &str)> = call
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = std::mem::take(&mut call.body);
            match host.dispatch_http_call(&self.cluster, &headers, &body, CALL_TIMEOUT_MS) {
                Ok(token) => self.in_flight.push((token, call.input)),
                Err(reason) => {
                    self.failure = Some(Failure {
                        answer: None,
                        error: GatewayError::new(
                            503,
                            format!(
                                "Could not call Bedrock for input[{}]: Envoy refused the call to cluster {}: {reason}",
                                call.input, self.cluster
                            ),
                        ),
                    });
                    break;
                }
            }
        }
    }
}

impl UpstreamExchange {
    /// Prepares the calls of a Titan embedding request with a list `input` (the
    /// first input is the attempt's own request): keeps them, signed, for
    /// [`Self::dispatch_fanout`]. `base64`: the client asked for base64 vectors.
    pub(super) fn plan_fanout(
        &mut self,
        dep: &Deployment,
        host: &dyn Host,
        calls: Vec<providers::ProviderRequest>,
        base64: bool,
    ) -> Result<(), GatewayError> {
        let cluster = dep.direct_cluster.clone().ok_or_else(|| {
            GatewayError::internal(format!(
                "deployment {} answers a list `input` with one call per input, through a cluster that reaches it alone, which its plugin configuration does not name (direct_cluster); render the configuration with `switchyard render`",
                dep.deployment_id
            ))
        })?;
        let total = calls.len() + 1;
        let now = host.now_unix_secs();
        let calls = calls
            .into_iter()
            .enumerate()
            .map(|(i, call)| {
                let path = format!("{}{}", dep.path_prefix, call.path);
                let mut headers: Vec<(String, String)> = vec![
                    (":method".into(), "POST".into()),
                    (":path".into(), path.clone()),
                    (":authority".into(), dep.authority.clone()),
                    ("content-length".into(), call.body.len().to_string()),
                ];
                headers.extend(dep.request_headers.iter().cloned());
                if let Some(sigv4) = &dep.sigv4 {
                    for (name, value) in sigv4.sign(now, &dep.authority, &path, &call.body) {
                        headers.push((name.to_string(), value));
                    }
                }
                PreparedCall {
                    input: i + 1,
                    headers,
                    body: call.body,
                }
            })
            .collect();
        self.fanout = Some(FanOut {
            cluster,
            calls,
            next: 0,
            in_flight: Vec::new(),
            vectors: vec![None; total],
            tokens: 0,
            answered: 0,
            base64,
            failure: None,
            held: None,
            done: false,
        });
        Ok(())
    }

    /// Sends more calls (unless the attempt has failed), then writes a held answer
    /// if everything is known now.
    pub(super) fn dispatch_fanout(&mut self, up: &Upstream, host: &mut dyn Host) {
        if matches!(self.response, ResponseMode::Error { .. }) {
            // The attempt's own request failed: its error is the answer.
            return;
        }
        if let Some(fan) = self
            .fanout
            .as_mut()
            .filter(|f| !f.done && f.failure.is_none())
        {
            fan.send_calls(host);
        }
        // Held answers wait in a paused response (see `first_input_answered`).
        self.complete_held(up, host, true);
    }

    /// A call answered: keep its vector, or fail the attempt with its error; send
    /// the next call; complete a held answer once everything is known.
    pub fn on_http_call_response(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        token: u32,
        answer: CallAnswer,
    ) {
        let Some(provider) = self.deployments_provider(up) else {
            return;
        };
        let Some(fan) = self.fanout.as_mut().filter(|f| !f.done) else {
            return;
        };
        let Some(at) = fan.in_flight.iter().position(|(t, _)| *t == token) else {
            return;
        };
        let (_, input) = fan.in_flight.swap_remove(at);
        if fan.failure.is_some() {
            return;
        }
        let total = fan.vectors.len();
        let outcome = if (200..300).contains(&answer.status) {
            provider
                .fan_out_embedding(&answer.body)
                .map_err(|error| Failure {
                    answer: None,
                    error,
                })
        } else if answer.status == 0 {
            Err(Failure {
                answer: None,
                error: GatewayError::new(
                    502,
                    "Could not reach Bedrock: no answer (connection failure or timeout)",
                ),
            })
        } else {
            let header = |name: &str| header_in(&answer.headers, name).map(str::to_string);
            Err(Failure {
                error: provider.translate_error(answer.status, &answer.body, &header),
                answer: Some((answer.status, answer.body)),
            })
        };
        match outcome {
            Ok((vector, tokens)) => {
                if let Some(slot) = fan.vectors.get_mut(input) {
                    *slot = Some(vector);
                }
                fan.tokens = fan.tokens.saturating_add(tokens);
                fan.answered += 1;
            }
            Err(mut failure) => {
                failure.error.message = format!(
                    "{} (Bedrock call for input[{input}] of {total})",
                    failure.error.message
                );
                fan.failure = Some(failure);
            }
        }
        self.dispatch_fanout(up, host);
    }

    /// The provider of the attempt's deployment.
    fn deployments_provider(&self, up: &Upstream) -> Option<&'static dyn Provider> {
        self.deployment(up).map(|d| d.provider)
    }

    /// The attempt's own answer (the first input's) is whole: keep its vector, then
    /// write the merged list or the failure now, or hold it for the calls still out.
    pub(super) fn first_input_answered(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
    ) -> Flow {
        let body = host.response_body(size).unwrap_or_default();
        let Some(provider) = self.deployments_provider(up) else {
            return Flow::Continue;
        };
        let Some(fan) = self.fanout.as_mut() else {
            return Flow::Continue;
        };
        match provider.fan_out_embedding(&body) {
            Ok((vector, tokens)) => {
                if let Some(slot) = fan.vectors.get_mut(0) {
                    *slot = Some(vector);
                }
                fan.tokens = fan.tokens.saturating_add(tokens);
                fan.answered += 1;
            }
            Err(error) => {
                fan.failure.get_or_insert(Failure {
                    answer: None,
                    error,
                });
            }
        }
        fan.held = Some(size);
        if self.complete_held(up, host, false) {
            Flow::Continue
        } else {
            // Resumed by the last call's answer (`complete_held`).
            Flow::Pause
        }
    }

    /// Writes the held answer once everything is known: the merged list, or the
    /// failure. Returns whether it was written; `resume`: the response paused at its
    /// end (written from a call's answer), resume it.
    fn complete_held(&mut self, up: &Upstream, host: &mut dyn Host, resume: bool) -> bool {
        let Some(provider) = self.deployments_provider(up) else {
            return false;
        };
        let Some(fan) = self.fanout.as_mut() else {
            return false;
        };
        let Some(size) = fan.held.filter(|_| !fan.done) else {
            return false;
        };
        let outcome = match fan.failure.take() {
            Some(failure) => Err(failure),
            None if fan.answered == fan.vectors.len() => {
                let vectors: Vec<Vec<f64>> = fan.vectors.drain(..).flatten().collect();
                provider
                    .fan_out_list(&vectors, fan.tokens, &self.model, fan.base64)
                    .map_err(|error| Failure {
                        answer: None,
                        error,
                    })
            }
            None => return false,
        };
        fan.done = true;
        fan.in_flight.clear();
        fan.calls.clear();
        let tokens = fan.tokens;
        let Some(dep) = self.deployment(up) else {
            return true;
        };
        match outcome {
            Ok(list) => {
                let usage = cost::Usage {
                    prompt_tokens: tokens,
                    ..Default::default()
                };
                self.usage = Some(usage);
                report_cost(host, self.pricing.as_ref(), self.usage, None);
                host.replace_response_body(size, &list);
                self.record_spend(dep, host);
            }
            Err(failure) => {
                let location = failure
                    .answer
                    .as_ref()
                    .and_then(|(status, body)| self.error_fallback_location(up, *status, body));
                if let Some(location) = location {
                    host.set_response_header(":status", Some("307"));
                    host.set_response_header("location", Some(&location));
                    host.set_response_header("content-type", None);
                    host.replace_response_body(size, b"");
                } else {
                    host.log(
                        Level::Debug,
                        &format!(
                            "switchyard upstream {}: {}",
                            dep.deployment_id, failure.error
                        ),
                    );
                    set_error(host, size, &failure.error, self.api);
                }
                self.record_failure(dep, host);
            }
        }
        if resume {
            host.resume_response();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cluster, config, env};
    use super::*;
    use crate::host::tests::MockHost;
    use crate::plugin_config::{AwsSigning, Setting};
    use serde_json::json;

    const ENDPOINT: &str = "bedrock-runtime.us-east-1.amazonaws.com";
    const PATH: &str = "/model/amazon.titan-embed-text-v2%3A0/invoke";

    fn titan() -> Upstream {
        let mut cfg = config(ProviderKind::Bedrock, "amazon.titan-embed-text-v2:0");
        cfg.api_base = Setting::Literal(format!("https://{ENDPOINT}"));
        cfg.api_key = None;
        cfg.headers = Default::default();
        cfg.default_params = Map::new();
        cfg.aws = Some(AwsSigning {
            region: "us-east-1".into(),
            access_key_id: Setting::Literal("AKIDEXAMPLE".into()),
            secret_access_key: Setting::Env { env: "KEY".into() },
            session_token: None,
        });
        cfg.direct_cluster = Some("direct_dep_0_titan".into());
        Upstream::new(&cluster(&[cfg]), &env).unwrap()
    }

    /// An embeddings request for `input`, admitted for a key (spend is reported).
    fn embeddings(up: &Upstream, input: Value) -> (UpstreamExchange, MockHost, Flow) {
        embeddings_on(up, input, MockHost::default())
    }

    /// [`embeddings`] on a host set up beforehand.
    fn embeddings_on(
        up: &Upstream,
        input: Value,
        mut host: MockHost,
    ) -> (UpstreamExchange, MockHost, Flow) {
        let body = json!({"model": "titan", "input": input, "encoding_format": "float"});
        let request = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/embeddings"),
                ("x-request-id", "rid-fan"),
            ],
            &serde_json::to_vec(&body).unwrap(),
        );
        host.request_headers = request.request_headers;
        host.request_body = request.request_body;
        host.now = request.now;
        let facts = RouteFacts {
            endpoint: Endpoint::Embeddings,
            api: ClientApi::OpenAi,
            model: "titan".into(),
            wildcard: None,
            error_fallback: None,
            request_fallbacks: None,
            call_id: String::new(),
            call_start_ms: 0,
        };
        host.properties
            .insert(ROUTE_PROPERTY.into(), facts.encode());
        let key = KeyFacts {
            key_hash: "kh-fan".into(),
            admission: "adm-fan".into(),
            ..Default::default()
        };
        host.properties.insert(KEY_PROPERTY.into(), key.encode());
        let mut ex = UpstreamExchange::default();
        assert_eq!(ex.on_request_headers(up, &mut host, false), Flow::Pause);
        let size = host.request_body.len();
        let flow = ex.on_request_body(up, &mut host, size, true);
        (ex, host, flow)
    }

    fn titan_answer(vector: &[f64], tokens: u64) -> Vec<u8> {
        serde_json::to_vec(&json!({"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}})).unwrap()
    }

    fn ok(vector: &[f64], tokens: u64) -> CallAnswer {
        CallAnswer {
            status: 200,
            headers: vec![(":status".into(), "200".into())],
            body: titan_answer(vector, tokens),
        }
    }

    /// The attempt's own answer arrives, whole.
    fn first_answer(
        ex: &mut UpstreamExchange,
        up: &Upstream,
        host: &mut MockHost,
        body: Vec<u8>,
    ) -> Flow {
        host.response_headers = vec![(":status".into(), "200".into())];
        assert_eq!(ex.on_response_headers(up, host, false), Flow::Pause);
        host.response_body = body;
        let n = host.response_body.len();
        ex.on_response_body(up, host, n, true)
    }

    /// The spend reports `host` was given since the last look, parsed.
    fn spend_reports(host: &MockHost) -> Vec<Value> {
        host.take_spend_reports()
            .into_iter()
            .map(|body| serde_json::from_slice(&body).unwrap())
            .collect()
    }

    #[test]
    fn one_signed_call_per_input_merged_in_order_with_usage_summed() {
        let up = titan();
        let (mut ex, mut host, flow) = embeddings(&up, json!(["a", "b c", "d e f"]));
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
        // The attempt's own request carries the first input, signed as usual.
        assert_eq!(host.request_json(), json!({"inputText": "a"}));
        assert_eq!(host.req(":path").as_deref(), Some(PATH));
        // The others are calls of the stage's own, to the deployment's own cluster.
        assert_eq!(host.calls.len(), 2);
        for (call, text) in host.calls.iter().zip(["b c", "d e f"]) {
            assert_eq!(call.cluster, "direct_dep_0_titan");
            assert_eq!(call.json(), json!({"inputText": text}));
            assert_eq!(call.header(":method"), Some("POST"));
            assert_eq!(call.header(":path"), Some(PATH));
            assert_eq!(call.header(":authority"), Some(ENDPOINT));
            assert_eq!(call.header("content-type"), Some("application/json"));
            assert_eq!(
                call.header("content-length"),
                Some(call.body.len().to_string().as_str())
            );
            let expected = crate::sigv4::sign(
                &crate::sigv4::Credentials {
                    access_key_id: "AKIDEXAMPLE".into(),
                    secret_access_key: "sk-secret".into(),
                    session_token: None,
                },
                "us-east-1",
                "bedrock",
                host.now,
                "POST",
                ENDPOINT,
                PATH,
                Some("application/json"),
                &call.body,
            );
            for (name, value) in &expected {
                assert_eq!(call.header(name), Some(value.as_str()), "{name}");
            }
        }
        // The last input answers first; the attempt's answer then waits for the second.
        ex.on_http_call_response(&up, &mut host, 2, ok(&[3.0, 3.5], 3));
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[1.0, 1.5], 1)),
            Flow::Pause
        );
        assert_eq!(host.responses_resumed, 0);
        ex.on_http_call_response(&up, &mut host, 1, ok(&[2.0, 2.5], 2));
        assert_eq!(host.responses_resumed, 1, "the held answer is resumed");
        let out: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(
            out,
            json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [1.0, 1.5]},
                    {"object": "embedding", "index": 1, "embedding": [2.0, 2.5]},
                    {"object": "embedding", "index": 2, "embedding": [3.0, 3.5]},
                ],
                "model": "amazon.titan-embed-text-v2:0",
                "usage": {"prompt_tokens": 6, "total_tokens": 6},
            })
        );
        let cost: f64 = host
            .resp("x-litellm-response-cost")
            .unwrap()
            .parse()
            .unwrap();
        assert!((cost - 6.0 * 1e-6).abs() < 1e-15, "{cost}");
        let report = spend_reports(&host)
            .into_iter()
            .rfind(|r| r["request_id"] == "adm-fan")
            .unwrap();
        assert_eq!(
            (report["prompt_tokens"].as_u64(), report["status"].as_str()),
            (Some(6), Some("success"))
        );
        // A late duplicate answer changes nothing.
        ex.on_http_call_response(&up, &mut host, 1, ok(&[9.0], 9));
        assert_eq!(host.responses_resumed, 1);
    }

    #[test]
    fn when_the_calls_answered_first_the_answer_is_written_at_once() {
        let up = titan();
        let (mut ex, mut host, _) = embeddings(&up, json!(["a", "b"]));
        ex.on_http_call_response(&up, &mut host, 1, ok(&[2.0], 2));
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[1.0], 1)),
            Flow::Continue
        );
        assert_eq!(host.responses_resumed, 0);
        let out: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(out["data"][1]["embedding"], json!([2.0]));
        assert_eq!(out["usage"]["prompt_tokens"], 3);
    }

    #[test]
    fn a_failed_call_fails_the_attempt_with_bedrocks_error() {
        let up = titan();
        let (mut ex, mut host, _) = embeddings(&up, json!(["a", "b", "c"]));
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[1.0], 1)),
            Flow::Pause
        );
        ex.on_http_call_response(
            &up,
            &mut host,
            2,
            CallAnswer {
                status: 429,
                headers: vec![(
                    "x-amzn-errortype".into(),
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
                        .into(),
                )],
                body: br#"{"message":"Too many requests, please wait before trying again."}"#
                    .to_vec(),
            },
        );
        assert_eq!(host.responses_resumed, 1);
        assert_eq!(
            host.resp(":status").as_deref(),
            Some("429"),
            "before the router sees it"
        );
        let err: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(err["error"]["type"], "rate_limit_error");
        assert_eq!(err["error"]["code"], "429");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Too many requests") && message.contains("input[2] of 3"),
            "{message}"
        );
        let report = spend_reports(&host)
            .into_iter()
            .rfind(|r| r["api_key"] == "kh-fan")
            .unwrap();
        assert_eq!(report["status"], "failure");
        // The other call's answer, arriving after, changes nothing.
        ex.on_http_call_response(&up, &mut host, 1, ok(&[2.0], 2));
        assert_eq!(host.responses_resumed, 1);
    }

    #[test]
    fn an_error_of_the_attempts_own_request_stops_the_calls() {
        let up = titan();
        let inputs: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let (mut ex, mut host, _) = embeddings(&up, json!(inputs));
        assert_eq!(host.calls.len(), MAX_IN_FLIGHT);
        host.response_headers = vec![(":status".into(), "403".into())];
        assert_eq!(ex.on_response_headers(&up, &mut host, false), Flow::Pause);
        ex.on_http_call_response(&up, &mut host, 1, ok(&[1.0], 1));
        assert_eq!(
            host.calls.len(),
            MAX_IN_FLIGHT,
            "no more calls once the attempt failed"
        );
    }

    #[test]
    fn at_most_max_in_flight_calls_are_out_at_once() {
        let up = titan();
        let inputs: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let (mut ex, mut host, _) = embeddings(&up, json!(inputs));
        assert_eq!(host.calls.len(), MAX_IN_FLIGHT);
        for token in 1..=5u32 {
            ex.on_http_call_response(&up, &mut host, token, ok(&[f64::from(token)], 1));
        }
        assert_eq!(host.calls.len(), MAX_IN_FLIGHT + 5, "one more per answer");
        for token in 6..=39u32 {
            ex.on_http_call_response(&up, &mut host, token, ok(&[f64::from(token)], 1));
        }
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[0.0], 1)),
            Flow::Continue
        );
        let out: Value = serde_json::from_slice(&host.response_body).unwrap();
        let firsts: Vec<f64> = out["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["embedding"][0].as_f64().unwrap())
            .collect();
        let expected: Vec<f64> = (0..40).map(f64::from).collect();
        assert_eq!(firsts, expected, "input order, whatever the answers' order");
        // The calls' bodies name their inputs in order.
        assert_eq!(host.calls.len(), 39, "every input but the first");
        let texts: Vec<String> = host
            .calls
            .iter()
            .map(|c| c.json()["inputText"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(texts, inputs[1..].to_vec());
    }

    #[test]
    fn too_many_inputs_are_refused_before_any_call() {
        let up = titan();
        let inputs = vec!["x"; providers::bedrock::MAX_TITAN_INPUTS + 1];
        let (_, host, flow) = embeddings(&up, json!(inputs));
        assert_eq!(flow, Flow::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"]["param"], "input");
        assert!(host.calls.is_empty());
        // Exactly the cap is fine.
        let inputs = vec!["x"; providers::bedrock::MAX_TITAN_INPUTS];
        let (_, host, flow) = embeddings(&up, json!(inputs));
        assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    }

    #[test]
    fn one_input_or_another_model_is_one_call() {
        let up = titan();
        let (_, host, flow) = embeddings(&up, json!(["only"]));
        assert_eq!(flow, Flow::Continue);
        assert!(host.calls.is_empty());
        assert_eq!(host.request_json(), json!({"inputText": "only"}));
    }

    #[test]
    fn without_a_direct_cluster_or_when_envoy_refuses_the_call_the_request_fails() {
        let mut cfg = config(ProviderKind::Bedrock, "amazon.titan-embed-text-v2:0");
        cfg.api_key = Some(Setting::Literal("bedrock-api-key".into()));
        cfg.default_params = Map::new();
        let up = Upstream::new(&cluster(&[cfg.clone()]), &env).unwrap();
        let (_, host, _) = embeddings(&up, json!(["a", "b"]));
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 500);
        assert!(reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("direct_cluster"));

        // A Bedrock API key goes on every call; a refused call fails the attempt.
        cfg.direct_cluster = Some("direct_x".into());
        let up = Upstream::new(&cluster(&[cfg]), &env).unwrap();
        let (mut ex, mut host, _) = embeddings(&up, json!(["a", "b", "c"]));
        assert_eq!(
            host.calls[0].header("authorization"),
            Some("Bearer bedrock-api-key")
        );
        // A call that got no answer (connection failure, timeout) fails the attempt.
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[1.0], 1)),
            Flow::Pause
        );
        ex.on_http_call_response(&up, &mut host, 1, CallAnswer::default());
        let err: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(err["error"]["code"], "502");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input[1] of 3"));

        // Envoy refuses the call (an unknown cluster): the attempt fails with a 503.
        let host = MockHost {
            refuse_cluster: Some("direct_x".into()),
            ..MockHost::default()
        };
        let (mut ex, mut host, _) = embeddings_on(&up, json!(["a", "b"]), host);
        assert!(host.calls.is_empty());
        assert_eq!(
            first_answer(&mut ex, &up, &mut host, titan_answer(&[1.0], 1)),
            Flow::Continue
        );
        let err: Value = serde_json::from_slice(&host.response_body).unwrap();
        assert_eq!(err["error"]["code"], "503");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("direct_x"));
    }
}
