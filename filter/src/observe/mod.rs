//! Observability: what the gateway tells the operator about each request.
//!
//! Every client request ends in exactly one [`RequestRecord`], built by the router
//! stage when Envoy logs the request (whether or not virtual keys are on), from what
//! the stages learned on the way: the route and key facts, and one [`AttemptRecord`]
//! per upstream attempt, which the upstream stage leaves on its worker for the
//! request's end. The record then feeds, off the request's critical path:
//!
//! * the Prometheus metrics under LiteLLM's names (`GET /metrics`);
//! * the callbacks (`success_callback`, `failure_callback`, `callbacks`: Langfuse,
//!   OpenTelemetry, a webhook);
//! * the access log's fields and the `x-litellm-*` response headers.
//!
//! Nothing here touches proxy-wasm: the stages and the glue reach Envoy through
//! `crate::host::Host`.

pub mod answer;
pub mod call;
pub mod callbacks;
pub mod details;
pub mod ledger;
pub mod metrics;
pub mod record;

pub use details::{AnswerOutput, RequestDetails};
pub use record::{AttemptRecord, KeyLabels, RequestRecord};

use crate::host::Host;

/// The longest client-chosen text a record keeps (the requested model, the end
/// user, an error message): a hostile client's megabyte never reaches a label.
pub const MAX_LABEL_BYTES: usize = 256;

/// `text` without control characters (a newline would forge a log line or split
/// a label), cut to at most [`MAX_LABEL_BYTES`] bytes at a character boundary.
pub fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LABEL_BYTES));
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_LABEL_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// The observers a finished request is handed to, built once at configure time from
/// the plugin config. Each observer (metrics, callbacks) is a field here and one line
/// in [`Observers::finish`].
#[derive(Debug)]
pub struct Observers {
    /// LiteLLM's Prometheus metrics (`GET /metrics`).
    pub metrics: metrics::Metrics,
    /// The logging callbacks (Langfuse, OpenTelemetry, the generic webhook).
    pub callbacks: callbacks::Callbacks,
    /// Test hook: every record [`Observers::finish`] received, in order.
    #[cfg(test)]
    pub seen: std::cell::RefCell<Vec<RequestRecord>>,
}

impl Observers {
    /// The observers the router stage's config asks for.
    pub fn from_config(config: &crate::plugin_config::RouterConfig) -> Observers {
        Observers {
            metrics: metrics::Metrics::from_config(config),
            callbacks: callbacks::Callbacks::from_config(config.callbacks.as_ref()),
            #[cfg(test)]
            seen: Default::default(),
        }
    }

    /// Hands a finished request to every observer. Never fails and never blocks the
    /// request: an observer only counts or queues.
    pub fn finish(&self, host: &mut dyn Host, record: &RequestRecord) {
        self.metrics.observe(host, record);
        self.callbacks.finish(host, record);
        #[cfg(test)]
        self.seen.borrow_mut().push(record.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_long_text_at_a_character_boundary() {
        assert_eq!(bounded("gpt-4o"), "gpt-4o");
        let long = "é".repeat(MAX_LABEL_BYTES);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_LABEL_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded(&"x".repeat(1 << 20)).len(), MAX_LABEL_BYTES);
        assert_eq!(bounded("a\nb\r\u{0}c\u{7f}"), "abc");
    }
}
