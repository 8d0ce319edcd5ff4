//! Reports a worker sends off the request path, sans-IO: the bounded queue
//! ([`Outbox`]: per-item backoff, the oldest dropped past its bound, an optional
//! bound on tries) and the policy that empties it ([`OutboxSender`]: items due
//! together as one callout, written straight from the queue into the callout's body,
//! at most a budget of callouts a tick, optionally a linger that lets a batch fill
//! and caps on a batch's bytes and on callouts in flight, each item's fate by the
//! collector's answer, settled for the whole batch in one pass over the queue, a last
//! flush when the worker stops).
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

    /// Whether a batch should go now: `per_batch` items are due, or the oldest due
    /// item has been due for `linger_ms` (so a batch fills before it goes, and no
    /// item waits longer than the linger for company).
    pub fn ready(&self, now_ms: u64, per_batch: usize, linger_ms: u64) -> bool {
        let mut count = 0;
        let mut oldest = u64::MAX;
        for p in self
            .pending
            .iter()
            .filter(|p| !p.in_flight && p.next_try_ms <= now_ms)
        {
            count += 1;
            oldest = oldest.min(p.next_try_ms);
            if count >= per_batch {
                return true;
            }
        }
        count > 0 && oldest.saturating_add(linger_ms) <= now_ms
    }

    /// The items due now as one batch body, marked in flight: `open`, up to `max`
    /// items separated by commas, `close`, the items written straight from the
    /// queue. An item that would take the body past `max_bytes` ends the batch
    /// (the first always goes, whatever its size). Returns the ids (in queue order,
    /// ascending) and the body; no ids when nothing is due.
    pub fn take_batch(
        &mut self,
        now_ms: u64,
        max: usize,
        max_bytes: usize,
        open: &str,
        close: &str,
    ) -> (Vec<u64>, Vec<u8>) {
        let mut ids = Vec::new();
        let mut body = Vec::new();
        for p in self
            .pending
            .iter_mut()
            .filter(|p| !p.in_flight && p.next_try_ms <= now_ms)
        {
            if ids.len() >= max {
                break;
            }
            if ids.is_empty() {
                body.reserve(open.len() + p.body.len() + close.len());
                body.extend_from_slice(open.as_bytes());
            } else {
                if body.len() + 1 + p.body.len() + close.len() > max_bytes {
                    break;
                }
                body.push(b',');
            }
            body.extend_from_slice(&p.body);
            p.in_flight = true;
            p.tries += 1;
            ids.push(p.id);
        }
        if !ids.is_empty() {
            body.extend_from_slice(close.as_bytes());
        }
        (ids, body)
    }

    /// The collector took the items `ids` (ascending, as [`Outbox::take_batch`]
    /// returns them): forgotten, in one pass.
    pub fn ack_all(&mut self, ids: &[u64]) {
        self.pending.retain(|p| ids.binary_search(&p.id).is_err());
    }

    /// The items `ids` (ascending) are refused for good: forgotten and counted as
    /// given up, in one pass.
    pub fn refuse_all(&mut self, ids: &[u64]) {
        let before = self.pending.len();
        self.pending.retain(|p| ids.binary_search(&p.id).is_err());
        self.given_up += (before - self.pending.len()) as u64;
    }

    /// The items `ids` (ascending) failed: each is tried again after its backoff or
    /// given up, as [`Outbox::fail`] does, in one pass.
    pub fn fail_all(&mut self, ids: &[u64], now_ms: u64) {
        let max_tries = self.max_tries;
        let mut given_up = 0u64;
        self.pending.retain_mut(|p| {
            if ids.binary_search(&p.id).is_err() {
                return true;
            }
            if max_tries.is_some_and(|max| p.tries >= max) {
                given_up += 1;
                return false;
            }
            p.in_flight = false;
            p.next_try_ms = now_ms.saturating_add(backoff_ms(p.tries));
            true
        });
        self.given_up += given_up;
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
            p.next_try_ms = now_ms.saturating_add(backoff_ms(p.tries));
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

/// The wait before an item's next try after its `tries`-th: 2 s after the first,
/// then 4 s, 8 s, 16 s, and [`MAX_BACKOFF_MS`] from the fifth on.
fn backoff_ms(tries: u32) -> u64 {
    1000u64
        .saturating_mul(1 << tries.min(5))
        .min(MAX_BACKOFF_MS)
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
    /// How long due items wait for a batch to fill (0: a batch goes at once).
    linger_ms: u64,
    /// Bytes a batch body takes at most (its first item goes whatever its size).
    max_batch_bytes: usize,
    /// Callouts waiting for their answer at most; past it, items wait in the queue.
    max_in_flight: usize,
    /// Callout token → the item ids it carries.
    in_flight: HashMap<u32, Vec<u64>>,
    /// The worker is stopping ([`OutboxSender::drain`]): no more ticks.
    draining: bool,
}

impl OutboxSender {
    /// A sender for `delivery`: due items go at once, batches of any size, no cap on
    /// callouts in flight but the per-tick budget.
    pub fn new(delivery: Delivery) -> OutboxSender {
        OutboxSender::batching(delivery, 0, usize::MAX, usize::MAX)
    }

    /// A sender for `delivery` that lets due items wait up to `linger_ms` for a
    /// full batch ([`Outbox::ready`]), sends batches of at most `max_batch_bytes`
    /// (their first item goes whatever its size), and keeps at most `max_in_flight`
    /// callouts waiting for their answer (at least 1). The last flush ignores the
    /// linger and the cap.
    pub fn batching(
        delivery: Delivery,
        linger_ms: u64,
        max_batch_bytes: usize,
        max_in_flight: usize,
    ) -> OutboxSender {
        OutboxSender {
            delivery,
            linger_ms,
            max_batch_bytes,
            max_in_flight: max_in_flight.max(1),
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
        let per_batch = self.delivery.per_batch.max(1);
        while sent < batches {
            if !self.draining {
                if self.in_flight.len() >= self.max_in_flight {
                    break;
                }
                if self.linger_ms > 0 && !queue.ready(now, per_batch, self.linger_ms) {
                    break;
                }
            }
            let (ids, body) = queue.take_batch(
                now,
                per_batch,
                self.max_batch_bytes,
                &self.delivery.open,
                &self.delivery.close,
            );
            if ids.is_empty() {
                break;
            }
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
                    queue.fail_all(&ids, now);
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
            Verdict::Taken => queue.ack_all(&ids),
            Verdict::Refused => {
                host.log(
                    Level::Error,
                    &format!(
                        "switchyard: {} batch refused ({status}); {} dropped",
                        self.delivery.noun,
                        ids.len()
                    ),
                );
                queue.refuse_all(&ids);
            }
            Verdict::Retry => {
                if let (401 | 403, Some(line)) = (status, self.delivery.credential_refused) {
                    host.log(Level::Error, &line(ids.len(), status));
                }
                let now = host.now_unix_millis();
                queue.fail_all(&ids, now);
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
    fn a_batch_is_written_from_the_queue_within_its_bytes_and_settled_in_one_pass() {
        let mut q = Outbox::new(10, Some(2));
        for i in 0..5 {
            q.push(format!("[{i}]").into_bytes(), 0);
        }
        // `{"b":[` + `[0],[1]` + `]}` is 15 bytes; a third item would make 19.
        let (ids, body) = q.take_batch(0, 10, 18, "{\"b\":[", "]}");
        assert_eq!(
            (ids.as_slice(), body.as_slice()),
            (&[1, 2][..], &br#"{"b":[[0],[1]]}"#[..])
        );
        // The first item goes whatever its size; nothing due, nothing taken.
        let (ids, body) = q.take_batch(0, 10, 1, "[", "]");
        assert_eq!((ids.as_slice(), body.as_slice()), (&[3][..], &b"[[2]]"[..]));
        let (ids, body) = q.take_batch(0, 1, usize::MAX, "[", "]");
        assert_eq!((ids, body), (vec![4], b"[[3]]".to_vec()));
        // Settled in one pass each: taken, refused, failed (then given up).
        q.ack_all(&[1, 2]);
        q.refuse_all(&[3]);
        q.fail_all(&[4], 0);
        assert_eq!((q.len(), q.given_up()), (2, 1));
        assert!(
            q.take_batch(1_999, 10, usize::MAX, "[", "]").0 == [5],
            "4 backs off 2 s"
        );
        let (ids, _) = q.take_batch(2_000, 10, usize::MAX, "[", "]");
        assert_eq!(ids, [4]);
        q.fail_all(&[4, 5], 2_000);
        assert_eq!(
            (q.len(), q.given_up()),
            (1, 2),
            "4 had its two tries; 5 waits"
        );
    }

    #[test]
    fn a_batch_lingers_until_it_is_full_or_its_oldest_item_waited() {
        let mut q = Outbox::new(100, None);
        q.push(b"1".to_vec(), 1_000);
        assert!(!q.ready(1_000, 3, 500));
        assert!(!q.ready(1_499, 3, 500));
        assert!(q.ready(1_500, 3, 500), "the oldest waited its linger");
        q.push(b"2".to_vec(), 1_100);
        q.push(b"3".to_vec(), 1_200);
        assert!(q.ready(1_200, 3, 500), "a full batch goes at once");
        assert!(
            !Outbox::new(1, None).ready(u64::MAX, 1, 0),
            "nothing queued"
        );

        let mut host = MockHost::default();
        let mut sender = OutboxSender::batching(delivery(), 500, usize::MAX, 1);
        let mut q = Outbox::new(100, None);
        q.push(b"1".to_vec(), 0);
        assert_eq!(sender.send_due(&mut q, &mut host, 499, 4), 0, "lingers");
        assert_eq!(sender.send_due(&mut q, &mut host, 500, 4), 1);
        for i in 0..4 {
            q.push(vec![b'0' + i], 600);
        }
        assert_eq!(
            sender.send_due(&mut q, &mut host, 600, 4),
            0,
            "one callout in flight at most"
        );
        assert!(sender.on_answer(&mut q, &mut host, 1, 200));
        assert_eq!(
            sender.send_due(&mut q, &mut host, 600, 4),
            1,
            "a full batch"
        );
        assert_eq!(q.len(), 4);
        // The last flush ignores the linger and the cap.
        assert_eq!(sender.drain(&mut q, &mut host), (4, 1));
        assert_eq!(host.calls.len(), 3);
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
