//! `GET /metrics`: our families, then Envoy's own stats, in one Prometheus text
//! answer.
//!
//! Envoy's stats come from its admin endpoint (`/stats/prometheus`), reached through
//! a cluster `switchyard render` adds when it knows the admin address. The request
//! is paused while the admin answers; the filter's internal series
//! (`switchyard_series_*`) are dropped from Envoy's text. When there is no admin
//! cluster, or the call fails or times out, the answer is ours alone: a scrape never
//! fails for Envoy's part.

use super::render::envoy_stats_without_internal;
use super::Metrics;
use crate::host::{CallAnswer, Flow, Host, Level};

/// prometheus_client's `CONTENT_TYPE_LATEST`, which LiteLLM's `/metrics` answers with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Envoy's admin path for its stats in Prometheus text.
pub const ADMIN_STATS_PATH: &str = "/stats/prometheus";
/// How long Envoy's admin may take before the answer goes without its stats.
pub const ADMIN_TIMEOUT_MS: u64 = 5_000;

/// One `/metrics` request: waiting for Envoy's admin, or not started.
#[derive(Debug, Default)]
pub struct Scrape {
    token: Option<u32>,
}

impl Scrape {
    /// Starts the answer: asks Envoy's admin through `admin_cluster` for its stats
    /// (pausing the request), or answers with ours alone.
    pub fn start(
        &mut self,
        metrics: &Metrics,
        admin_cluster: Option<&str>,
        host: &mut dyn Host,
    ) -> Flow {
        if let Some(cluster) = admin_cluster {
            let headers = [
                (":method", "GET"),
                (":path", ADMIN_STATS_PATH),
                (":authority", "envoy-admin"),
            ];
            match host.dispatch_http_call(cluster, &headers, b"", ADMIN_TIMEOUT_MS) {
                Ok(token) => {
                    self.token = Some(token);
                    return Flow::Pause;
                }
                Err(reason) => host.log(
                    Level::Warn,
                    &format!("switchyard /metrics: Envoy's admin stats not asked for ({reason})"),
                ),
            }
        }
        answer(metrics, host, None);
        Flow::Pause
    }

    /// The admin's answer (`true` when it was this scrape's): ours, then Envoy's stats
    /// when the admin answered 200.
    pub fn on_call_response(
        &mut self,
        metrics: &Metrics,
        host: &mut dyn Host,
        token: u32,
        call: &CallAnswer,
    ) -> bool {
        if self.token != Some(token) {
            return false;
        }
        self.token = None;
        let envoy = if call.status == 200 {
            Some(String::from_utf8_lossy(&call.body).into_owned())
        } else {
            host.log(
                Level::Warn,
                &format!(
                    "switchyard /metrics: Envoy's admin answered {} (0: no answer); serving ours alone",
                    call.status
                ),
            );
            None
        };
        answer(metrics, host, envoy.as_deref());
        true
    }
}

fn answer(metrics: &Metrics, host: &mut dyn Host, envoy: Option<&str>) {
    let mut text = metrics.render(host);
    if let Some(envoy) = envoy {
        text.push_str(&envoy_stats_without_internal(envoy));
    }
    host.send_local_reply(200, &[("content-type", CONTENT_TYPE)], text.as_bytes());
}
