//! This worker's spend reports on their way to the keyservice, sans-IO: the queue
//! ([`SpendQueue`], one per wasm VM, [`QUEUE`]) with per-report backoff and a bound
//! ([`MAX_QUEUED`], the oldest dropped), and the policy that empties it
//! ([`SpendReporter`]): batches of [`REPORTS_PER_BATCH`] as one `POST /spend/record`,
//! at most [`BATCHES_PER_TICK`] callouts a tick, every report's fate by the
//! keyservice's answer (taken, dropped as malformed, retried). The reporter reaches
//! Envoy only through [`Host`] (a callout, a log line, the clock); the proxy-wasm glue
//! calls it from the router stage's root context on every tick and callout answer.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use crate::host::{Host, Level};

/// Reports kept at most per worker while the keyservice does not take them.
pub const MAX_QUEUED: usize = 10_000;
/// Longest wait between two tries of one report.
const MAX_BACKOFF_MS: u64 = 30_000;
/// How many reports go out in one callout.
pub const REPORTS_PER_BATCH: usize = 64;
/// How many callouts one tick may start: a backlog drains at up to
/// `BATCHES_PER_TICK × REPORTS_PER_BATCH` (512) reports a tick.
pub const BATCHES_PER_TICK: usize = 8;
/// How long one callout may take.
pub const REPORT_TIMEOUT_MS: u64 = 5_000;
/// The keyservice's path for spend reports.
pub const SPEND_RECORD_PATH: &str = "/spend/record";

struct Pending {
    id: u64,
    body: Vec<u8>,
    tries: u32,
    next_try_ms: u64,
    in_flight: bool,
}

/// Reports waiting for the keyservice, with per-report backoff. Time is passed in.
#[derive(Default)]
pub struct SpendQueue {
    pending: VecDeque<Pending>,
    next_id: u64,
    dropped: u64,
}

impl SpendQueue {
    /// Queues a report; over [`MAX_QUEUED`] the oldest is dropped (and counted).
    pub fn push(&mut self, body: Vec<u8>, now_ms: u64) {
        if self.pending.len() >= MAX_QUEUED {
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

    /// Reports due now (marked in flight): `(id, body)`.
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

    /// The keyservice took report `id`.
    pub fn ack(&mut self, id: u64) {
        self.pending.retain(|p| p.id != id);
    }

    /// Report `id` failed: try again after a backoff (1 s, 2 s, 4 s … 30 s).
    pub fn fail(&mut self, id: u64, now_ms: u64) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.id == id) {
            p.in_flight = false;
            let backoff = 1000u64
                .saturating_mul(1 << p.tries.min(5))
                .min(MAX_BACKOFF_MS);
            p.next_try_ms = now_ms + backoff;
        }
    }

    /// Reports waiting (in flight included).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Reports dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

thread_local! {
    /// This worker's queue (each Envoy worker thread runs its own wasm VM).
    pub static QUEUE: RefCell<SpendQueue> = RefCell::new(SpendQueue::default());
}

/// Reports due together, as one `/spend/record` body (a JSON array of the report
/// objects) and the ids it carries.
pub fn batch(due: Vec<(u64, Vec<u8>)>) -> (Vec<u64>, Vec<u8>) {
    let mut ids = Vec::with_capacity(due.len());
    let mut body = Vec::with_capacity(due.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, (id, report)) in due.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&report);
        ids.push(id);
    }
    body.push(b']');
    (ids, body)
}

/// Queues a report on this worker.
pub fn enqueue(body: Vec<u8>, now_ms: u64) {
    QUEUE.with(|q| q.borrow_mut().push(body, now_ms));
}

/// Sends this worker's queued reports to the keyservice and settles each by the
/// answer (router stage's root context only).
#[derive(Debug)]
pub struct SpendReporter {
    /// The keyservice's Envoy cluster.
    cluster: String,
    /// The `authorization` header value (the reporting credential), if any.
    authorization: Option<String>,
    /// Callout token → the report ids it carries.
    in_flight: HashMap<u32, Vec<u64>>,
}

impl SpendReporter {
    /// A reporter to `cluster`, presenting `authorization`.
    pub fn new(cluster: impl Into<String>, authorization: Option<String>) -> SpendReporter {
        SpendReporter {
            cluster: cluster.into(),
            authorization,
            in_flight: HashMap::new(),
        }
    }

    /// Reports waiting on this worker (in flight included).
    pub fn pending(&self) -> usize {
        QUEUE.with(|q| q.borrow().len())
    }

    /// Whether no callout waits for its answer.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Sends up to `batches` batches of the reports due at `now` (one callout each);
    /// returns how many callouts went out. A callout Envoy refuses puts its reports
    /// back, to be tried after their backoff, and ends this round.
    pub fn send_due(&mut self, host: &mut dyn Host, now: u64, batches: usize) -> usize {
        let mut sent = 0;
        while sent < batches {
            let due = QUEUE.with(|q| q.borrow_mut().due(now, REPORTS_PER_BATCH));
            if due.is_empty() {
                break;
            }
            // One callout: the due reports as one JSON array.
            let (ids, body) = batch(due);
            let mut headers = vec![
                (":method", "POST"),
                (":path", SPEND_RECORD_PATH),
                (":authority", "keyservice"),
                ("content-type", "application/json"),
            ];
            if let Some(auth) = &self.authorization {
                headers.push(("authorization", auth.as_str()));
            }
            match host.dispatch_http_call(&self.cluster, &headers, &body, REPORT_TIMEOUT_MS) {
                Ok(token) => {
                    self.in_flight.insert(token, ids);
                    sent += 1;
                }
                Err(_) => {
                    let now = host.now_unix_millis();
                    QUEUE.with(|q| {
                        let mut q = q.borrow_mut();
                        ids.iter().for_each(|id| q.fail(*id, now));
                    });
                    break;
                }
            }
        }
        sent
    }

    /// The keyservice answered callout `token` with `status` (0: no answer): its
    /// reports are taken (2xx: each row recorded, a duplicate, or refused in its
    /// place), dropped (400, 422: a batch refused as malformed is never taken), or
    /// tried again after their backoff (anything else; 401 and 403 logged: the
    /// reporting credential is not the keyservice's). `false` when the callout is not
    /// one of this reporter's.
    pub fn on_answer(&mut self, host: &mut dyn Host, token: u32, status: u16) -> bool {
        let Some(ids) = self.in_flight.remove(&token) else {
            return false;
        };
        match status {
            200..=299 => QUEUE.with(|q| {
                let mut q = q.borrow_mut();
                ids.iter().for_each(|id| q.ack(*id));
            }),
            400 | 422 => {
                host.log(
                    Level::Error,
                    &format!(
                        "switchyard: spend report batch refused ({status}); {} dropped",
                        ids.len()
                    ),
                );
                QUEUE.with(|q| {
                    let mut q = q.borrow_mut();
                    ids.iter().for_each(|id| q.ack(*id));
                });
            }
            _ => {
                if matches!(status, 401 | 403) {
                    // Kept and retried: the keyservice may get the right credential.
                    host.log(
                        Level::Error,
                        &format!(
                            "switchyard: the keyservice refused {} spend report(s) ({status}): Envoy's reporting credential (SWITCHYARD_REPORTER_KEY, or the master key) is not the keyservice's",
                            ids.len()
                        ),
                    );
                }
                let now = host.now_unix_millis();
                QUEUE.with(|q| {
                    let mut q = q.borrow_mut();
                    ids.iter().for_each(|id| q.fail(*id, now));
                });
            }
        }
        true
    }

    /// The VM is going away: sends every queued report at once, backoffs and the
    /// per-tick budget ignored. Returns how many reports were queued and how many
    /// callouts went out.
    pub fn drain(&mut self, host: &mut dyn Host) -> (usize, usize) {
        let queued = self.pending();
        let sent = self.send_due(host, u64::MAX, usize::MAX);
        (queued, sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;

    #[test]
    fn a_batch_is_a_json_array_of_the_reports() {
        let (ids, body) = batch(vec![
            (7, br#"{"request_id":"a","spend":0.5}"#.to_vec()),
            (9, br#"{"request_id":"b","spend":0}"#.to_vec()),
        ]);
        assert_eq!(ids, [7, 9]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{"request_id":"a","spend":0.5},{"request_id":"b","spend":0}])
        );
        assert_eq!(batch(vec![]).1, b"[]");
    }

    #[test]
    fn queue_retries_with_backoff_and_forgets_acked() {
        let mut q = SpendQueue::default();
        q.push(b"a".to_vec(), 0);
        q.push(b"b".to_vec(), 0);
        let due = q.due(0, 10);
        assert_eq!(due.len(), 2);
        assert!(q.due(0, 10).is_empty(), "in flight, not sent twice");
        q.ack(due[0].0);
        q.fail(due[1].0, 100);
        assert_eq!(q.len(), 1);
        assert!(q.due(1_000, 10).is_empty(), "backing off");
        let again = q.due(2_100, 10);
        assert_eq!(again, vec![(due[1].0, b"b".to_vec())]);
        q.fail(again[0].0, 2_100);
        assert!(
            q.due(5_000, 10).is_empty(),
            "longer backoff the second time"
        );
        assert_eq!(q.due(6_200, 10).len(), 1);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut q = SpendQueue::default();
        for i in 0..MAX_QUEUED + 3 {
            q.push(i.to_string().into_bytes(), 0);
        }
        assert_eq!(q.len(), MAX_QUEUED);
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.due(0, 1)[0].1, b"3".to_vec());
    }

    /// Empties this thread's queue (the tests of one thread share it).
    fn clear_queue() {
        QUEUE.with(|q| *q.borrow_mut() = SpendQueue::default());
    }

    #[test]
    fn reports_go_in_batches_within_the_tick_budget() {
        clear_queue();
        for i in 0..(BATCHES_PER_TICK + 2) * REPORTS_PER_BATCH {
            enqueue(format!("{{\"request_id\":\"r{i}\"}}").into_bytes(), 0);
        }
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", Some("Bearer cred".into()));
        assert_eq!(
            reporter.send_due(&mut host, 0, BATCHES_PER_TICK),
            BATCHES_PER_TICK
        );
        assert_eq!(host.calls.len(), BATCHES_PER_TICK);
        let call = &host.calls[0];
        assert_eq!(call.cluster, "ks");
        assert_eq!(call.header(":path"), Some(SPEND_RECORD_PATH));
        assert_eq!(call.header("authorization"), Some("Bearer cred"));
        assert_eq!(call.timeout_ms, REPORT_TIMEOUT_MS);
        assert_eq!(call.json().as_array().unwrap().len(), REPORTS_PER_BATCH);
        assert_eq!(call.json()[0]["request_id"], "r0");
        // The rest waits for the next tick; in-flight reports are not sent twice.
        assert_eq!(reporter.send_due(&mut host, 0, BATCHES_PER_TICK), 2);
        assert_eq!(reporter.send_due(&mut host, 0, BATCHES_PER_TICK), 0);
        assert_eq!(
            reporter.pending(),
            (BATCHES_PER_TICK + 2) * REPORTS_PER_BATCH
        );
        let tokens: Vec<u32> = host.calls.iter().map(|c| c.token).collect();
        for token in tokens {
            assert!(reporter.on_answer(&mut host, token, 200));
        }
        assert_eq!(reporter.pending(), 0);
        assert!(reporter.is_idle());
        assert!(
            !reporter.on_answer(&mut host, 999, 200),
            "not a report callout"
        );
    }

    #[test]
    fn failed_batches_are_retried_and_malformed_ones_dropped() {
        clear_queue();
        enqueue(b"{}".to_vec(), 0);
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", None);
        reporter.send_due(&mut host, 0, BATCHES_PER_TICK);
        assert_eq!(host.calls[0].header("authorization"), None);
        // No answer (the keyservice down): tried again after a backoff.
        host.now = 10;
        assert!(reporter.on_answer(&mut host, 1, 0));
        assert_eq!(reporter.pending(), 1);
        assert_eq!(
            reporter.send_due(&mut host, 10_000, BATCHES_PER_TICK),
            0,
            "backing off"
        );
        assert_eq!(reporter.send_due(&mut host, 12_000, BATCHES_PER_TICK), 1);
        // A wrong credential: logged, kept.
        assert!(reporter.on_answer(&mut host, 2, 401));
        assert_eq!(reporter.pending(), 1);
        assert!(host.logs.borrow().iter().any(
            |(level, line)| *level == Level::Error && line.contains("SWITCHYARD_REPORTER_KEY")
        ));
        // Malformed: dropped, logged.
        assert_eq!(reporter.send_due(&mut host, u64::MAX, BATCHES_PER_TICK), 1);
        assert!(reporter.on_answer(&mut host, 3, 400));
        assert_eq!(reporter.pending(), 0);
        assert!(host
            .logs
            .borrow()
            .iter()
            .any(|(_, line)| line.contains("batch refused (400); 1 dropped")));
    }

    #[test]
    fn a_refused_callout_keeps_its_reports_and_draining_ignores_backoff() {
        clear_queue();
        for _ in 0..3 {
            enqueue(b"{}".to_vec(), 0);
        }
        let mut host = MockHost {
            refuse_cluster: Some("ks".into()),
            now: 1,
            ..Default::default()
        };
        let mut reporter = SpendReporter::new("ks", None);
        assert_eq!(reporter.send_due(&mut host, 0, BATCHES_PER_TICK), 0);
        assert_eq!(reporter.pending(), 3);
        assert!(reporter.is_idle());
        // Backing off now, but a VM going away sends everything.
        host.refuse_cluster = None;
        assert_eq!(reporter.send_due(&mut host, 0, BATCHES_PER_TICK), 0);
        assert_eq!(reporter.drain(&mut host), (3, 1));
        assert_eq!(host.calls[0].json().as_array().unwrap().len(), 3);
        clear_queue();
    }
}
