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

pub mod metrics;
pub mod record;

pub use record::{AttemptRecord, KeyLabels, RequestRecord};

use crate::host::Host;

/// The observers a finished request is handed to, built once at configure time from
/// the plugin config. Each observer (metrics, callbacks) is a field here and one line
/// in [`Observers::finish`].
#[derive(Debug)]
pub struct Observers {
    /// LiteLLM's Prometheus metrics (`GET /metrics`).
    pub metrics: metrics::Metrics,
}

impl Observers {
    /// The observers the router stage's config asks for.
    pub fn from_config(config: &crate::plugin_config::RouterConfig) -> Observers {
        Observers {
            metrics: metrics::Metrics::from_config(config),
        }
    }

    /// Hands a finished request to every observer. Never fails and never blocks the
    /// request: an observer only counts or queues.
    pub fn finish(&self, host: &mut dyn Host, record: &RequestRecord) {
        self.metrics.observe(host, record);
    }
}
