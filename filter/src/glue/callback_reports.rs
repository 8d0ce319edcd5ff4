//! This worker's logging-callback events, as the proxy-wasm glue keeps and sends
//! them.
//!
//! The router stage hands each event to its host (`Host::queue_callback_event`);
//! [`WasmHost`](super::WasmHost) puts it in this worker's queue for that callback
//! ([`enqueue`]), a thread-local like the spend queue (`spend_reports`). The router
//! stage's root context owns a [`Senders`], which ticks the queues and settles each
//! callout's answer. Batching, retries, drops and the last flush are the sans-IO
//! [`OutboxSender`]'s, each callback's delivery `observe::callbacks::delivery`'s;
//! here are only the queues' home and the hostcalls (the failure counters).

use std::cell::RefCell;

use crate::host::Host;
use crate::observe::callbacks::{self, BATCHES_PER_TICK, MAX_QUEUED_EVENTS, MAX_TRIES};
use crate::outbox::{Outbox, OutboxSender};
use crate::plugin_config::CallbacksConfig;
use crate::spend::queue::PendingGauge;

/// Envoy counter per callback (`wasmcustom.litellm_callback_logging_failures_metric_<callback>`):
/// events lost (dropped past the queue's bound, refused by the collector, or given
/// up after their tries), LiteLLM's `litellm_callback_logging_failures_metric`.
const FAILURES_COUNTER: &str = "litellm_callback_logging_failures_metric";

/// Envoy gauge (`wasmcustom.switchyard_callback_events_pending`): callback events
/// queued in the workers (in flight included) and not yet taken by their collectors
/// or given up. `switchyard up` waits for it to reach 0 (after draining the
/// listener) before it stops Envoy, as for spend reports.
const PENDING_GAUGE: &str = "switchyard_callback_events_pending";

thread_local! {
    /// This worker's queues, one per configured callback, in config order.
    static QUEUES: RefCell<Vec<Outbox>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this worker's queue for callback `index`; `None` if there is no such
/// queue or the queues are in use (they never are: no code that holds them queues).
fn with_queue<T>(index: usize, f: impl FnOnce(&mut Outbox) -> T) -> Option<T> {
    QUEUES.with(|queues| {
        let mut queues = queues.try_borrow_mut().ok()?;
        queues.get_mut(index).map(f)
    })
}

/// Queues an event for callback `index` on this worker
/// (`WasmHost::queue_callback_event`). An event for a callback without a queue is
/// dropped: the router stage only queues for the callbacks it was configured with.
pub fn enqueue(index: usize, event: Vec<u8>, now_ms: u64) {
    let _ = with_queue(index, |queue| queue.push(event, now_ms));
}

/// One callback's sender and its failure counter.
struct Sender {
    policy: OutboxSender,
    counter_id: Option<u32>,
    /// Losses already added to the counter.
    counted: u64,
}

/// Sends this worker's queued callback events to their collectors (router stage
/// only), and counts the losses.
pub struct Senders {
    senders: Vec<Sender>,
    /// [`PENDING_GAUGE`]'s id, when Envoy defined it.
    gauge_id: Option<u32>,
    /// This worker's share of the gauge.
    gauge: PendingGauge,
}

impl Senders {
    /// The senders of the router stage's callbacks, their credentials and headers
    /// resolved from the environment; makes this worker's queues. The error names the
    /// callback and the variable.
    pub fn new(config: &CallbacksConfig) -> Result<Senders, String> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut senders = Vec::with_capacity(config.sinks.len());
        for sink in &config.sinks {
            let delivery = callbacks::delivery(sink, &lookup)?;
            let counter_id = proxy_wasm::hostcalls::define_metric(
                proxy_wasm::types::MetricType::Counter,
                &format!("{FAILURES_COUNTER}_{}", sink.kind.as_str()),
            )
            .ok();
            senders.push(Sender {
                policy: callbacks::sender(delivery),
                counter_id,
                counted: 0,
            });
        }
        QUEUES.with(|queues| {
            if let Ok(mut queues) = queues.try_borrow_mut() {
                *queues = config
                    .sinks
                    .iter()
                    .map(|_| Outbox::new(MAX_QUEUED_EVENTS, Some(MAX_TRIES)))
                    .collect();
            }
        });
        let gauge_id = proxy_wasm::hostcalls::define_metric(
            proxy_wasm::types::MetricType::Gauge,
            PENDING_GAUGE,
        )
        .ok();
        Ok(Senders {
            senders,
            gauge_id,
            gauge: PendingGauge::default(),
        })
    }

    /// Brings the shared gauge up to this worker's queued events, every callback's.
    fn publish(&mut self) {
        let Some(id) = self.gauge_id else {
            return;
        };
        let Some(pending) = QUEUES.with(|queues| {
            queues
                .try_borrow()
                .ok()
                .map(|queues| queues.iter().map(Outbox::len).sum::<usize>())
        }) else {
            return;
        };
        self.gauge.publish(pending, |delta| {
            proxy_wasm::hostcalls::increment_metric(id, delta).is_ok()
        });
    }

    /// The tick: sends each callback's events due now, within the per-tick budget.
    pub fn on_tick(&mut self, host: &mut dyn Host, now_ms: u64) {
        for (index, sender) in self.senders.iter_mut().enumerate() {
            let policy = &mut sender.policy;
            with_queue(index, |queue| {
                policy.send_due(queue, host, now_ms, BATCHES_PER_TICK)
            });
            sender.count(index);
        }
        self.publish();
    }

    /// A collector answered callout `token` with `status` (0: no answer). `false`
    /// when the callout is none of these senders'.
    pub fn on_answer(&mut self, host: &mut dyn Host, token: u32, status: u16) -> bool {
        let mut settled = false;
        for (index, sender) in self.senders.iter_mut().enumerate() {
            let policy = &mut sender.policy;
            if with_queue(index, |queue| policy.on_answer(queue, host, token, status))
                .unwrap_or(false)
            {
                sender.count(index);
                settled = true;
                break;
            }
        }
        if settled {
            self.publish();
        }
        settled
    }

    /// The VM is going away: sends every queued event at once. `true` when nothing
    /// waits for an answer.
    pub fn on_done(&mut self, host: &mut dyn Host) -> bool {
        for (index, sender) in self.senders.iter_mut().enumerate() {
            let policy = &mut sender.policy;
            with_queue(index, |queue| policy.drain(queue, host));
        }
        self.publish();
        self.is_idle()
    }

    /// Whether no callout waits for its answer.
    pub fn is_idle(&self) -> bool {
        self.senders.iter().all(|s| s.policy.is_idle())
    }
}

impl Sender {
    /// Adds callback `index`'s new losses on this worker to its counter.
    fn count(&mut self, index: usize) {
        let Some(id) = self.counter_id else {
            return;
        };
        let Some(lost) = with_queue(index, |queue| queue.lost()) else {
            return;
        };
        let delta = lost.saturating_sub(self.counted);
        if delta == 0 {
            return;
        }
        let offset = i64::try_from(delta).unwrap_or(i64::MAX);
        if proxy_wasm::hostcalls::increment_metric(id, offset).is_ok() {
            self.counted = lost;
        }
    }
}
