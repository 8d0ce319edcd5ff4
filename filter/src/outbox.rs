//! Reports a worker sends off the request path, sans-IO: the bounded queue
//! ([`Outbox`]: per-item backoff, the oldest dropped past its bound, an optional
//! bound on tries) and the policy that empties it ([`OutboxSender`]: items due
//! together as one callout, at most a budget of callouts a tick, each item's fate by
//! the collector's answer, a last flush when the worker stops).
//!
//! One implementation for every such destination: the keyservice's spend reports
//! (`spend::queue`) and the logging callbacks' collectors (`observe::callbacks`).
//! A destination differs only in its [`Delivery`]: cluster, headers, the envelope a
//! batch is wrapped in, and which answers refuse a batch for good. Nothing here holds
//! a queue or reaches Envoy except through [`Host`] (a callout, a log line, the
//! clock).

use std::collections::{HashMap, VecDeque};

use crate::host::{Host, Level};

/// Longest wait between two tries of one item.
const MAX_BACKOFF_MS: u64 = 30_000;
/// Items an [`Outbox::default`] keeps at most.
pub const DEFAULT_MAX_QUEUED: usize = 10_000;

struct Pending {
    id: u64,
    body: Vec<u8>,
    tries: u32,
    next_try_ms: u64,
    in_flight: bool,
}

/// Items waiting for their collector, with per-item backoff. Time is passed in.
pub struct Outbox {
    pending: VecDeque<Pending>,
    next_id: u64,
    /// Items kept at most; past it the oldest is dropped.
    max_queued: usize,
    /// Tries an item gets before it is given up (`None`: never given up).
    max_tries: Option<u32>,
    /// Items dropped because the queue was full.
    dropped: u64,
    /// Items given up after `max_tries` failed tries, or refused for good.
    given_up: u64,
}

impl Default for Outbox {
    /// [`DEFAULT_MAX_QUEUED`] items, each tried until taken.
    fn default() -> Outbox {
        Outbox::new(DEFAULT_MAX_QUEUED, None)
    }
}

impl Outbox {
    /// A queue of at most `max_queued` items (at least 1), each tried at most
    /// `max_tries` times (`None`: until taken).
    pub fn new(max_queued: usize, max_tries: Option<u32>) -> Outbox {
        Outbox {
            pending: VecDeque::new(),
            next_id: 0,
            max_queued: max_queued.max(1),
            max_tries,
            dropped: 0,
            given_up: 0,
        }
    }

    /// Queues an item; over the bound the oldest is dropped (and counted).
    pub fn push(&mut self, body: Vec<u8>, now_ms: u64) {
        if self.pending.len() >= self.max_queued {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.next_id += 1;
        self.pending.push_back(Pending {
            id: self.next_id,
            body,
            tries: 0,
            next_try_ms: now_ms,
            in_flight: false,
        });
    }

    /// Items due now (marked in flight): `(id, body)`.
    pub fn due(&mut self, now_ms: u64, max: usize) -> Vec<(u64, Vec<u8>)> {
        self.pending
            .iter_mut()
            .filter(|p| !p.in_flight && p.next_try_ms <= now_ms)
            .take(max)
            .map(|p| {
                p.in_flight = true;
                p.tries += 1;
                (p.id, p.body.clone())
            })
            .collect()
    }

    /// The collector took item `id`.
    pub fn ack(&mut self, id: u64) {
        self.pending.retain(|p| p.id != id);
    }

    /// Item `id` is refused for good: forgotten, and counted as given up.
    pub fn refuse(&mut self, id: u64) {
        let before = self.pending.len();
        self.pending.retain(|p| p.id != id);
        if self.pending.len() < before {
            self.given_up += 1;
        }
    }

    /// Item `id` failed: try again after a backoff that doubles with every try
    /// (2 s after the first, then 4 s, 8 s, 16 s, and 30 s from the fifth on), or give
    /// it up (counted) when it has had its tries.
    pub fn fail(&mut self, id: u64, now_ms: u64) {
        let Some(at) = self.pending.iter().position(|p| p.id == id) else {
            return;
        };
        let spent = self
            .pending
            .get(at)
            .zip(self.max_tries)
            .is_some_and(|(p, max)| p.tries >= max);
        if spent {
            self.pending.remove(at);
            self.given_up += 1;
            return;
        }
        if let Some(p) = self.pending.get_mut(at) {
            p.in_flight = false;
            let backoff = 1000u64
                .saturating_mul(1 << p.tries.min(5))
                .min(MAX_BACKOFF_MS);
            p.next_try_ms = now_ms.saturating_add(backoff);
        }
    }

    /// Items waiting (in flight included).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Items dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Items given up: tried `max_tries` times, or refused for good.
    pub fn given_up(&self) -> u64 {
        self.given_up
    }

    /// Items lost either way (dropped or given up).
    pub fn lost(&self) -> u64 {
        self.dropped.saturating_add(self.given_up)
    }
}

/// Items due together as one body: `open`, the items separated by commas, `close`
/// (`[`, `]` makes a JSON array), and the ids it carries.
pub fn batch(due: Vec<(u64, Vec<u8>)>, open: &str, close: &str) -> (Vec<u64>, Vec<u8>) {
    let mut ids = Vec::with_capacity(due.len());
    let size = due.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + open.len() + close.len();
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(open.as_bytes());
    for (i, (id, item)) in due.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&item);
        ids.push(id);
    }
    body.extend_from_slice(close.as_bytes());
    (ids, body)
}

/// What becomes of a batch, by its collector's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Taken: forgotten.
    Taken,
    /// Refused for good (malformed): forgotten, logged, counted.
    Refused,
    /// Not taken this time: tried again after its backoff.
    Retry,
}

/// Where one kind of item goes and how: everything that differs between
/// destinations.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// What an item is, for log lines (`spend report`, `langfuse callback event`).
    pub noun: String,
    /// The collector's Envoy cluster.
    pub cluster: String,
    /// The callout's headers (`:method`, `:path`, `:authority`, `content-type`,
    /// credentials).
    pub headers: Vec<(String, String)>,
    /// What a batch body starts with, before the comma-separated items.
    pub open: String,
    /// What it ends with.
    pub close: String,
    /// Items per callout.
    pub per_batch: usize,
    /// How long one callout may take.
    pub timeout_ms: u64,
    /// The verdict on a batch answered with a status (0: no answer).
    pub verdict: fn(u16) -> Verdict,
    /// The line logged when the collector refuses the credential (401, 403): the
    /// count of items and the status go in; `None` logs nothing.
    pub credential_refused: Option<fn(usize, u16) -> String>,
}

/// Sends a worker's queued items to one collector and settles each by the answer (in
/// the proxy-wasm glue: the router stage's root context). The queue is the host's,
/// passed in on every call.
#[derive(Debug)]
pub struct OutboxSender {
    delivery: Delivery,
    /// Callout token → the item ids it carries.
    in_flight: HashMap<u32, Vec<u64>>,
    /// The worker is stopping ([`OutboxSender::drain`]): no more ticks.
    draining: bool,
}

impl OutboxSender {
    /// A sender for `delivery`.
    pub fn new(delivery: Delivery) -> OutboxSender {
        OutboxSender {
            delivery,
            in_flight: HashMap::new(),
            draining: false,
        }
    }

    /// Whether no callout waits for its answer.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Whether the worker is stopping and every callout of the last flush has been
    /// answered: the worker may go.
    pub fn is_drained(&self) -> bool {
        self.draining && self.is_idle()
    }

    /// Sends up to `batches` batches of the items of `queue` due at `now` (one
    /// callout each); returns how many callouts went out. A callout Envoy refuses puts
    /// its items back, to be tried after their backoff, and ends this round.
    pub fn send_due(
        &mut self,
        queue: &mut Outbox,
        host: &mut dyn Host,
        now: u64,
        batches: usize,
    ) -> usize {
        let mut sent = 0;
        while sent < batches {
            let due = queue.due(now, self.delivery.per_batch.max(1));
            if due.is_empty() {
                break;
            }
            let (ids, body) = batch(due, &self.delivery.open, &self.delivery.close);
            let headers: Vec<(&str, &str)> = self
                .delivery
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let cluster = self.delivery.cluster.as_str();
            match host.dispatch_http_call(cluster, &headers, &body, self.delivery.timeout_ms) {
                Ok(token) => {
                    self.in_flight.insert(token, ids);
                    sent += 1;
                }
                Err(_) => {
                    let now = host.now_unix_millis();
                    ids.iter().for_each(|id| queue.fail(*id, now));
                    break;
                }
            }
        }
        sent
    }

    /// The collector answered callout `token` with `status` (0: no answer, e.g. a
    /// timeout): its items in `queue` are taken, refused for good (logged), or tried
    /// again after their backoff, by the delivery's verdict. `false` when the callout
    /// is not one of this sender's.
    pub fn on_answer(
        &mut self,
        queue: &mut Outbox,
        host: &mut dyn Host,
        token: u32,
        status: u16,
    ) -> bool {
        let Some(ids) = self.in_flight.remove(&token) else {
            return false;
        };
        match (self.delivery.verdict)(status) {
            Verdict::Taken => ids.iter().for_each(|id| queue.ack(*id)),
            Verdict::Refused => {
                host.log(
                    Level::Error,
                    &format!(
                        "switchyard: {} batch refused ({status}); {} dropped",
                        self.delivery.noun,
                        ids.len()
                    ),
                );
                ids.iter().for_each(|id| queue.refuse(*id));
            }
            Verdict::Retry => {
                if let (401 | 403, Some(line)) = (status, self.delivery.credential_refused) {
                    host.log(Level::Error, &line(ids.len(), status));
                }
                let now = host.now_unix_millis();
                ids.iter().for_each(|id| queue.fail(*id, now));
            }
        }
        true
    }

    /// The worker is going away: sends every item of `queue` at once, backoffs and
    /// the per-tick budget ignored, and logs how many (a warning when any were
    /// queued). From now on [`OutboxSender::is_drained`] says when the last answer is
    /// in. Returns how many items were queued and how many callouts went out.
    pub fn drain(&mut self, queue: &mut Outbox, host: &mut dyn Host) -> (usize, usize) {
        self.draining = true;
        let queued = queue.len();
        let sent = self.send_due(queue, host, u64::MAX, usize::MAX);
        host.log(
            if queued > 0 { Level::Warn } else { Level::Info },
            &format!(
                "switchyard: the VM stops with {queued} {}(s) queued; {sent} last batch(es) sent",
                self.delivery.noun
            ),
        );
        (queued, sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;

    fn delivery() -> Delivery {
        Delivery {
            noun: "test event".into(),
            cluster: "collector".into(),
            headers: vec![(":path".into(), "/in".into())],
            open: "{\"batch\":[".into(),
            close: "]}".into(),
            per_batch: 2,
            timeout_ms: 1_000,
            verdict: |status| match status {
                200..=299 => Verdict::Taken,
                400 => Verdict::Refused,
                _ => Verdict::Retry,
            },
            credential_refused: None,
        }
    }

    #[test]
    fn a_batch_wraps_the_items_in_the_envelope() {
        let (ids, body) = batch(
            vec![(1, b"{}".to_vec()), (4, b"[1]".to_vec())],
            "{\"b\":[",
            "]}",
        );
        assert_eq!(ids, [1, 4]);
        assert_eq!(body, br#"{"b":[{},[1]]}"#);
        assert_eq!(batch(vec![], "<", ">").1, b"<>");
    }

    #[test]
    fn tries_are_bounded_when_asked_and_given_up_items_counted() {
        let mut q = Outbox::new(10, Some(3));
        q.push(b"a".to_vec(), 0);
        let mut now = 0;
        for _ in 0..3 {
            let due = q.due(now, 10);
            assert_eq!(due.len(), 1);
            q.fail(due[0].0, now);
            now += 60_000;
        }
        assert!(q.is_empty(), "given up after three tries");
        assert_eq!((q.given_up(), q.dropped(), q.lost()), (1, 0, 1));
    }

    #[test]
    fn the_bound_drops_the_oldest_and_counts_it() {
        let mut q = Outbox::new(3, Some(5));
        for i in 0..5 {
            q.push(vec![b'0' + i], 0);
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.due(0, 1)[0].1, b"2");
        assert_eq!(
            Outbox::new(0, None).max_queued,
            1,
            "never a queue of nothing"
        );
    }

    #[test]
    fn a_sender_batches_in_its_envelope_and_settles_by_the_verdict() {
        let mut q = Outbox::new(100, Some(2));
        for i in 0..5 {
            q.push(format!("{{\"n\":{i}}}").into_bytes(), 0);
        }
        let mut host = MockHost::default();
        let mut sender = OutboxSender::new(delivery());
        assert_eq!(sender.send_due(&mut q, &mut host, 0, 2), 2);
        assert_eq!(host.calls[0].cluster, "collector");
        assert_eq!(host.calls[0].header(":path"), Some("/in"));
        assert_eq!(host.calls[0].timeout_ms, 1_000);
        assert_eq!(
            host.calls[0].json(),
            serde_json::json!({"batch":[{"n":0},{"n":1}]})
        );
        // Taken, refused (logged, counted), and failed (kept for another try).
        assert!(sender.on_answer(&mut q, &mut host, 1, 200));
        assert!(sender.on_answer(&mut q, &mut host, 2, 400));
        assert_eq!((q.len(), q.given_up()), (1, 2));
        assert!(host
            .logs
            .borrow()
            .iter()
            .any(|(level, line)| *level == Level::Error
                && line == "switchyard: test event batch refused (400); 2 dropped"));
        assert_eq!(sender.send_due(&mut q, &mut host, 0, 2), 1);
        assert!(sender.on_answer(&mut q, &mut host, 3, 503));
        assert_eq!(q.len(), 1, "kept after a first failure");
        assert_eq!(sender.send_due(&mut q, &mut host, 10_000, 2), 1);
        assert!(sender.on_answer(&mut q, &mut host, 4, 0));
        assert!(q.is_empty(), "given up after its second try");
        assert_eq!(q.given_up(), 3);
        assert!(
            !sender.on_answer(&mut q, &mut host, 4, 200),
            "answered already"
        );
    }
}
