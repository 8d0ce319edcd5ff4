//! The logging callbacks (LiteLLM's `success_callback`, `failure_callback` and
//! `callbacks`): every finished request, as each configured callback's collector
//! wants it, sent off the request path.
//!
//! * `langfuse`: a trace and a generation per request, for Langfuse's batch
//!   ingestion API ([`langfuse`]);
//! * `langfuse_otel`, `otel`: one OTLP/HTTP JSON span per request with the GenAI
//!   semantic conventions ([`otlp`]);
//! * `generic_api`: LiteLLM's generic logger, its logging payload ([`generic_api`]).
//!
//! [`Callbacks::finish`] encodes the request for each callback that wants it (a
//! success, a failure) and hands the event to its host
//! (`Host::queue_callback_event`); the host keeps it in its worker's bounded queue
//! for that callback (an [`Outbox`](crate::outbox::Outbox)) and sends batches from
//! the router stage's root context by the callback's [`Delivery`] ([`delivery`]):
//! asynchronous, batched, retried a bounded number of times, the oldest dropped past
//! the bound, every loss counted. A slow or dead collector never touches a request.

pub mod format;
pub mod generic_api;
pub mod langfuse;
pub mod otlp;

use base64::Engine as _;
use switchyard_contract::plugin_config::{
    parse_header_list, CallbackKind, CallbackSink, CallbacksConfig,
};

use super::record::{AttemptRecord, RequestRecord};
use crate::host::Host;
use crate::outbox::{Delivery, OutboxSender, Verdict};

/// Events kept at most per callback and worker while its collector does not take
/// them (each up to about twice [`super::details::MAX_CONTENT_BYTES`] of content).
pub const MAX_QUEUED_EVENTS: usize = 1_000;
/// Tries an event gets before it is given up (and counted).
pub const MAX_TRIES: u32 = 5;
/// Events per callout at most.
pub const EVENTS_PER_BATCH: usize = 128;
/// Bytes of events per callout at most (an event bigger than this goes alone), well
/// under Langfuse's 3.5 MB batch limit.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// How long due events wait for a full batch: one callout a second per callback
/// at most below [`EVENTS_PER_BATCH`] requests a second (LiteLLM's Langfuse logger
/// flushes every second too). A callout costs the worker far more than an event.
pub const LINGER_MS: u64 = 1_000;
/// Callouts one tick may start, per callback.
pub const BATCHES_PER_TICK: usize = 4;
/// Callouts per callback and worker waiting for their answer at most: a collector
/// that never answers holds this many, and events wait (the oldest dropped past
/// [`MAX_QUEUED_EVENTS`], counted) instead of opening ever more connections.
pub const MAX_IN_FLIGHT: usize = 4;
/// How long one callout may take.
pub const CALLOUT_TIMEOUT_MS: u64 = 5_000;

/// One configured callback, as the observer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    kind: CallbackKind,
    on_success: bool,
    on_failure: bool,
}

/// The callbacks observer: which callbacks want which requests, and whether message
/// content goes with them.
#[derive(Debug, Default)]
pub struct Callbacks {
    rules: Vec<Rule>,
    message_logging: bool,
}

impl Callbacks {
    /// The callbacks of the router stage's config (none without a `callbacks`
    /// section).
    pub fn from_config(config: Option<&CallbacksConfig>) -> Callbacks {
        let Some(config) = config else {
            return Callbacks::default();
        };
        Callbacks {
            rules: config
                .sinks
                .iter()
                .map(|s| Rule {
                    kind: s.kind,
                    on_success: s.on_success,
                    on_failure: s.on_failure,
                })
                .collect(),
            message_logging: config.message_logging,
        }
    }

    /// Whether no callback is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether message content goes to the callbacks (`turn_off_message_logging` is
    /// not true): the stages collect it only then.
    pub fn message_logging(&self) -> bool {
        self.message_logging
    }

    /// Encodes `record` for every callback that wants it and queues the event on the
    /// host, under the callback's index in the config. Never fails, never waits.
    pub fn finish(&self, host: &mut dyn Host, record: &RequestRecord) {
        if self.rules.is_empty() {
            return;
        }
        let failed = record.failed();
        let now = host.now_unix_millis();
        for (index, rule) in self.rules.iter().enumerate() {
            let wanted = if failed {
                rule.on_failure
            } else {
                rule.on_success
            };
            if !wanted {
                continue;
            }
            let event = encode(rule.kind, record, self.message_logging);
            host.queue_callback_event(index, event, now);
        }
    }
}

/// One request as callback `kind`'s event (a batch item, see [`envelope`]).
pub fn encode(kind: CallbackKind, record: &RequestRecord, message_logging: bool) -> Vec<u8> {
    match kind {
        CallbackKind::Langfuse => langfuse::events(record, message_logging),
        CallbackKind::LangfuseOtel | CallbackKind::Otel => otlp::span(record, message_logging),
        CallbackKind::GenericApi => generic_api::payload(record, message_logging),
    }
}

/// What a batch of callback `kind`'s events is wrapped in: the text before and after
/// the comma-separated events.
pub fn envelope(kind: CallbackKind) -> (&'static str, &'static str) {
    match kind {
        CallbackKind::Langfuse => langfuse::ENVELOPE,
        CallbackKind::LangfuseOtel | CallbackKind::Otel => otlp::ENVELOPE,
        CallbackKind::GenericApi => generic_api::ENVELOPE,
    }
}

/// A collector's verdict on a batch: taken (2xx; Langfuse answers 207 with
/// per-event results), refused for good (400, 413, 422: malformed or too large, it
/// would be refused again), or tried again (anything else, no answer included).
fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Taken,
        400 | 413 | 422 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// Logged when a collector refuses the credentials (401, 403).
fn credential_refused(events: usize, status: u16) -> String {
    format!(
        "switchyard: a logging callback's collector refused {events} event(s) ({status}): check its credentials (LANGFUSE_PUBLIC_KEY/LANGFUSE_SECRET_KEY, OTEL_HEADERS, GENERIC_LOGGER_HEADERS)"
    )
}

/// How callback `sink`'s batches are sent: its cluster, path and authority, basic
/// credentials and extra headers resolved with `lookup` (the environment). The error
/// names the callback and the variable.
pub fn delivery(
    sink: &CallbackSink,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Delivery, String> {
    let name = sink.kind.as_str();
    let mut headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), sink.path.clone()),
        (":authority".to_string(), sink.authority.clone()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    if let Some(auth) = &sink.basic_auth {
        let user = auth
            .user
            .resolve(&format!("callbacks.{name}.user"), lookup)?;
        let password = auth
            .password
            .resolve(&format!("callbacks.{name}.password"), lookup)?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        headers.push(("authorization".to_string(), format!("Basic {token}")));
    }
    if let Some(extra) = &sink.headers {
        let raw = extra.resolve(&format!("callbacks.{name}.headers"), lookup)?;
        let pairs =
            parse_header_list(&raw).map_err(|e| format!("callbacks.{name}.headers: {e}"))?;
        for (k, v) in pairs {
            if k.starts_with(':') || k == "content-length" || k == "host" {
                continue;
            }
            headers.retain(|(name, _)| *name != k);
            headers.push((k, v));
        }
    }
    let (open, close) = envelope(sink.kind);
    Ok(Delivery {
        noun: format!("{name} callback event"),
        cluster: sink.cluster.clone(),
        headers,
        open: open.to_string(),
        close: close.to_string(),
        per_batch: EVENTS_PER_BATCH,
        timeout_ms: CALLOUT_TIMEOUT_MS,
        verdict,
        credential_refused: Some(credential_refused),
    })
}

/// The sender of one callback's events: batches of up to [`EVENTS_PER_BATCH`]
/// events and [`MAX_BATCH_BYTES`], lingering up to [`LINGER_MS`] to fill, at most
/// [`MAX_IN_FLIGHT`] callouts waiting.
pub fn sender(delivery: Delivery) -> OutboxSender {
    OutboxSender::batching(delivery, LINGER_MS, MAX_BATCH_BYTES, MAX_IN_FLIGHT)
}

/// What the encoders share about a request.
pub(crate) struct Facts<'r> {
    pub record: &'r RequestRecord,
    /// The attempt that produced the answer, if any.
    pub attempt: Option<&'r AttemptRecord>,
}

impl<'r> Facts<'r> {
    pub fn of(record: &'r RequestRecord) -> Facts<'r> {
        Facts {
            record,
            attempt: record.final_attempt(),
        }
    }

    /// The model that answered, as LiteLLM logs it: the deployment's model without
    /// its `provider/` prefix; the requested model when no deployment answered.
    pub fn model(&self) -> &'r str {
        match self.attempt {
            Some(a) if !a.model.is_empty() => {
                let prefix = a.api_provider.as_str();
                a.model
                    .strip_prefix(prefix)
                    .and_then(|m| m.strip_prefix('/'))
                    .filter(|_| !prefix.is_empty())
                    .unwrap_or(&a.model)
            }
            _ => &self.record.requested_model,
        }
    }

    /// The provider (LiteLLM's `custom_llm_provider`), if a deployment was tried.
    pub fn provider(&self) -> Option<&'r str> {
        self.attempt
            .map(|a| a.api_provider.as_str())
            .filter(|p| !p.is_empty())
    }

    /// The failure's message: the client's error, else the provider's, else the
    /// status.
    pub fn error_message(&self) -> String {
        self.record
            .error
            .clone()
            .or_else(|| self.attempt.and_then(|a| a.error.clone()))
            .unwrap_or_else(|| format!("HTTP {}", self.record.status))
    }

    /// Prompt, completion and total tokens (0 when unknown).
    pub fn tokens(&self) -> (u64, u64, u64) {
        let usage = self.attempt.and_then(|a| a.usage.as_ref());
        let prompt = usage.map_or(0, |u| u.prompt_tokens);
        let completion = usage.map_or(0, |u| u.completion_tokens);
        (prompt, completion, prompt.saturating_add(completion))
    }

    /// What the answer cost (USD).
    pub fn spend(&self) -> f64 {
        self.attempt.map_or(0.0, |a| a.spend)
    }

    /// GenAI's operation name for LiteLLM's call type.
    pub fn operation(&self) -> &'r str {
        match self.record.call_type.as_str() {
            "acompletion" | "completion" | "anthropic_messages" | "aresponses" | "responses" => {
                "chat"
            }
            "aembedding" | "embedding" => "embeddings",
            "atext_completion" | "text_completion" => "text_completion",
            other => other,
        }
    }

    /// The request's details, when the stages recorded them.
    pub fn details(&self) -> Option<&'r super::details::RequestDetails> {
        self.record.details.as_deref()
    }
}

#[cfg(test)]
pub(crate) mod test_records;

#[cfg(test)]
mod tests {
    use super::test_records::{failed_record, success_record};
    use super::*;
    use crate::host::tests::MockHost;
    use crate::host::Level;
    use crate::outbox::Outbox;
    use switchyard_contract::plugin_config::{BasicAuth, Setting};

    fn sink(kind: CallbackKind, on_success: bool, on_failure: bool) -> CallbackSink {
        CallbackSink {
            kind,
            on_success,
            on_failure,
            cluster: format!("cb_{}", kind.as_str()),
            authority: "collector:4318".into(),
            path: "/v1/traces".into(),
            basic_auth: None,
            headers: None,
        }
    }

    #[test]
    fn each_callback_gets_the_requests_it_asked_for() {
        let config = CallbacksConfig {
            sinks: vec![
                sink(CallbackKind::Langfuse, true, false),
                sink(CallbackKind::Otel, true, true),
                sink(CallbackKind::GenericApi, false, true),
            ],
            message_logging: false,
        };
        let callbacks = Callbacks::from_config(Some(&config));
        let mut host = MockHost {
            now: 1_700_000_000,
            ..Default::default()
        };
        callbacks.finish(&mut host, &success_record());
        let queued: Vec<usize> = host.take_callback_events().iter().map(|e| e.0).collect();
        assert_eq!(queued, [0, 1]);
        callbacks.finish(&mut host, &failed_record());
        let events = host.take_callback_events();
        assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(events[0].2, 1_700_000_000_000, "queued at the host's time");
        // Each event is its callback's encoding of the record.
        assert_eq!(
            events[0].1,
            encode(CallbackKind::Otel, &failed_record(), false)
        );
        // No callbacks: nothing at all.
        Callbacks::from_config(None).finish(&mut host, &success_record());
        assert!(host.take_callback_events().is_empty());
    }

    #[test]
    fn a_delivery_resolves_credentials_and_headers_from_the_environment() {
        let mut s = sink(CallbackKind::Langfuse, true, true);
        s.path = "/api/public/ingestion".into();
        s.authority = "langfuse.example".into();
        s.basic_auth = Some(BasicAuth {
            user: Setting::Env {
                env: "LANGFUSE_PUBLIC_KEY".into(),
            },
            password: Setting::Env {
                env: "LANGFUSE_SECRET_KEY".into(),
            },
        });
        s.headers = Some(Setting::Env {
            env: "OTEL_HEADERS".into(),
        });
        let env = |name: &str| match name {
            "LANGFUSE_PUBLIC_KEY" => Some("pk-lf-1".to_string()),
            "LANGFUSE_SECRET_KEY" => Some("sk-lf-2".to_string()),
            "OTEL_HEADERS" => Some("x-tenant=a=b, Host=evil,Content-Type=text/plain".to_string()),
            _ => None,
        };
        let d = delivery(&s, &env).unwrap();
        let header = |n: &str| {
            d.headers
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        // base64("pk-lf-1:sk-lf-2")
        assert_eq!(header("authorization"), ["Basic cGstbGYtMTpzay1sZi0y"]);
        assert_eq!(
            header(":path"),
            ["/api/public/ingestion"],
            "a header list cannot move the call"
        );
        assert_eq!(header(":authority"), ["langfuse.example"]);
        assert_eq!(header("x-tenant"), ["a=b"]);
        assert_eq!(
            header("content-type"),
            ["text/plain"],
            "the operator's header wins, once"
        );
        assert_eq!((d.open.as_str(), d.close.as_str()), langfuse::ENVELOPE);
        assert_eq!(d.cluster, "cb_langfuse");
        // A missing variable names the callback and the variable.
        let err = delivery(&s, &|_| None).unwrap_err();
        assert!(
            err.contains("callbacks.langfuse.user") && err.contains("LANGFUSE_PUBLIC_KEY"),
            "{err}"
        );
        let bad = |name: &str| {
            if name == "OTEL_HEADERS" {
                Some("novalue".into())
            } else {
                env(name)
            }
        };
        let err = delivery(&s, &bad).unwrap_err();
        assert!(
            err.contains("callbacks.langfuse.headers") && err.contains("novalue"),
            "{err}"
        );
    }

    #[test]
    fn a_dead_collector_costs_bounded_tries_and_every_loss_is_counted() {
        let s = sink(CallbackKind::Otel, true, true);
        let mut sender = sender(delivery(&s, &|_| None).unwrap());
        let mut queue = Outbox::new(MAX_QUEUED_EVENTS, Some(MAX_TRIES));
        for _ in 0..MAX_QUEUED_EVENTS + 7 {
            queue.push(encode(CallbackKind::Otel, &success_record(), false), 0);
        }
        assert_eq!(
            (queue.len(), queue.dropped()),
            (MAX_QUEUED_EVENTS, 7),
            "oldest dropped"
        );
        let mut host = MockHost::default();
        let mut now = 0;
        for _ in 0..10_000 {
            if queue.is_empty() {
                break;
            }
            let from = host.calls.len();
            sender.send_due(&mut queue, &mut host, now, BATCHES_PER_TICK);
            let tokens: Vec<u32> = host.calls[from..].iter().map(|c| c.token).collect();
            for token in tokens {
                assert!(sender.on_answer(&mut queue, &mut host, token, 0));
            }
            now += 100;
            host.now = now / 1000;
        }
        assert!(queue.is_empty(), "every event given up in the end");
        assert_eq!(queue.given_up(), MAX_QUEUED_EVENTS as u64);
        assert_eq!(queue.lost(), MAX_QUEUED_EVENTS as u64 + 7);
        // Each event was sent exactly MAX_TRIES times.
        let sent: usize = host
            .calls
            .iter()
            .map(|c| {
                c.json()["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(sent, MAX_QUEUED_EVENTS * MAX_TRIES as usize);
        assert!(host
            .calls
            .iter()
            .all(|c| c.timeout_ms == CALLOUT_TIMEOUT_MS));
    }

    #[test]
    fn collectors_verdicts() {
        for (status, expected) in [
            (200, Verdict::Taken),
            (207, Verdict::Taken),
            (400, Verdict::Refused),
            (413, Verdict::Refused),
            (422, Verdict::Refused),
            (0, Verdict::Retry),
            (401, Verdict::Retry),
            (429, Verdict::Retry),
            (503, Verdict::Retry),
        ] {
            assert_eq!(verdict(status), expected, "{status}");
        }
        let s = sink(CallbackKind::GenericApi, true, true);
        let mut sender = OutboxSender::new(delivery(&s, &|_| None).unwrap());
        let mut queue = Outbox::new(10, Some(MAX_TRIES));
        queue.push(b"{}".to_vec(), 0);
        let mut host = MockHost::default();
        sender.send_due(&mut queue, &mut host, 0, 1);
        sender.on_answer(&mut queue, &mut host, 1, 401);
        assert!(host
            .logs
            .borrow()
            .iter()
            .any(|(l, line)| *l == Level::Error && line.contains("refused 1 event(s) (401)")));
    }
}
