//! This worker's spend reports, as the proxy-wasm glue keeps and sends them.
//!
//! The stages hand each report to their host (`Host::queue_spend_report`);
//! [`WasmHost`](super::WasmHost) puts it in this worker's [`SpendQueue`] ([`enqueue`]), a
//! thread-local: each Envoy worker thread runs its own wasm VM, and the router,
//! upstream and responder stages of one worker share it. The router stage's root
//! context owns a [`Reporter`], which ticks the queue every [`REPORT_TICK_MS`] and
//! settles each callout's answer. Batching, retries, drops and the last flush are the
//! sans-IO [`SpendReporter`]'s, the gauge's value [`PendingGauge`]'s; here are only
//! the queue's home and the hostcalls (the gauge, `proxy_done`).

use std::cell::RefCell;

use super::abi;
use crate::host::Host;
use crate::spend::queue::{PendingGauge, SpendQueue, SpendReporter, BATCHES_PER_TICK};

/// How often the queue is looked at (the reports per callout and callouts per tick
/// are [`crate::spend::queue`]'s).
pub const REPORT_TICK_MS: u32 = 100;

/// Envoy gauge (`wasmcustom.switchyard_spend_reports_pending`): spend reports queued
/// in the workers and not yet taken by the keyservice. `switchyard up` waits for it to
/// reach 0 (after draining the listener) before it stops Envoy.
const PENDING_GAUGE: &str = "switchyard_spend_reports_pending";

thread_local! {
    /// This worker's queue.
    static QUEUE: RefCell<SpendQueue> = RefCell::new(SpendQueue::default());
}

/// Runs `f` on this worker's queue; `None` if the queue is in use (it never is: no
/// code that holds it queues a report).
fn with_queue<T>(f: impl FnOnce(&mut SpendQueue) -> T) -> Option<T> {
    QUEUE.with(|queue| queue.try_borrow_mut().ok().map(|mut queue| f(&mut queue)))
}

/// Queues a report on this worker (`WasmHost::queue_spend_report`).
pub fn enqueue(report: Vec<u8>, now_ms: u64) {
    if with_queue(|queue| queue.push(report, now_ms)).is_none() {
        let _ = abi::log(
            super::LOG_ERROR,
            "switchyard: a spend report was lost: this worker's queue was in use",
        );
    }
}

/// Sends this worker's queued spend reports to the keyservice (router stage only),
/// and publishes its share of [`PENDING_GAUGE`].
pub struct Reporter {
    /// Batching, retries, drops and the last flush.
    policy: SpendReporter,
    /// The gauge's id, when Envoy defined it.
    gauge_id: Option<u32>,
    /// This worker's share of the gauge (shared by every worker).
    gauge: PendingGauge,
}

impl Reporter {
    /// A reporter to the keyservice's `cluster`, presenting `authorization`; defines
    /// the gauge.
    pub fn new(cluster: String, authorization: Option<String>) -> Reporter {
        let gauge_id = proxy_wasm::hostcalls::define_metric(
            proxy_wasm::types::MetricType::Gauge,
            PENDING_GAUGE,
        )
        .ok();
        Reporter {
            policy: SpendReporter::new(cluster, authorization),
            gauge_id,
            gauge: PendingGauge::default(),
        }
    }

    /// The tick: sends the reports due now, within the per-tick budget.
    pub fn on_tick(&mut self, host: &mut dyn Host, now_ms: u64) {
        let policy = &mut self.policy;
        with_queue(|queue| policy.send_due(queue, host, now_ms, BATCHES_PER_TICK));
        self.publish();
    }

    /// The keyservice answered callout `token` with `status` (0: no answer). `false`
    /// when the callout is not one of this reporter's. Once the VM is stopping and
    /// the last callout is answered ([`Reporter::is_drained`]), the root context
    /// tells Envoy it may go (`proxy_done`, when the callbacks' callouts are answered
    /// too); a report the keyservice failed is not retried then, it is lost with the
    /// VM.
    pub fn on_answer(&mut self, host: &mut dyn Host, token: u32, status: u16) -> bool {
        let policy = &mut self.policy;
        if !with_queue(|queue| policy.on_answer(queue, host, token, status)).unwrap_or(false) {
            return false;
        }
        self.publish();
        true
    }

    /// Whether the VM is stopping and the last callout of the last flush is
    /// answered.
    pub fn is_drained(&self) -> bool {
        self.policy.is_drained()
    }

    /// The VM is going away: sends every queued report at once (see
    /// [`SpendReporter::drain`]). `true` when nothing waits for an answer, so the VM
    /// may go now; else `proxy_done` follows the last answer (the root context's
    /// `on_http_call_response`).
    pub fn on_done(&mut self, host: &mut dyn Host) -> bool {
        let policy = &mut self.policy;
        with_queue(|queue| policy.drain(queue, host));
        self.publish();
        self.policy.is_idle()
    }

    /// Brings the shared gauge up to this worker's queue length.
    fn publish(&mut self) {
        let Some(id) = self.gauge_id else {
            return;
        };
        let Some(pending) = with_queue(|queue| queue.len()) else {
            return;
        };
        self.gauge.publish(pending, |delta| {
            proxy_wasm::hostcalls::increment_metric(id, delta).is_ok()
        });
    }
}
