//! A worker's spend reports on their way to the keyservice, sans-IO: the queue
//! ([`SpendQueue`], the shared [`crate::outbox::Outbox`]) with per-report backoff and
//! a bound ([`MAX_QUEUED`], the oldest dropped), the policy that empties it
//! ([`SpendReporter`], the shared [`crate::outbox::OutboxSender`]): batches of
//! [`REPORTS_PER_BATCH`] as one `POST /spend/record`, at most [`BATCHES_PER_TICK`]
//! callouts a tick, every report's fate by the keyservice's answer (taken, dropped as
//! malformed, retried), a last flush when the worker stops; and the share of the
//! pending-reports gauge a worker publishes ([`PendingGauge`]).
//!
//! Nothing here holds a queue: the stages hand a report to their host
//! (`Host::queue_spend_report`), and the host keeps it in the [`SpendQueue`] of its
//! worker (the proxy-wasm glue: one per wasm VM, in `glue`), which it passes to the
//! reporter on every tick and callout answer. The reporter reaches Envoy only through
//! [`Host`] (a callout, a log line, the clock).

use crate::host::Host;
use crate::outbox::{Delivery, Outbox, OutboxSender, Verdict};

/// Reports kept at most per worker while the keyservice does not take them.
pub const MAX_QUEUED: usize = crate::outbox::DEFAULT_MAX_QUEUED;
/// How many reports go out in one callout.
pub const REPORTS_PER_BATCH: usize = 64;
/// How many callouts one tick may start: a backlog drains at up to
/// `BATCHES_PER_TICK × REPORTS_PER_BATCH` (512) reports a tick.
pub const BATCHES_PER_TICK: usize = 8;
/// How long one callout may take.
pub const REPORT_TIMEOUT_MS: u64 = 5_000;
/// The keyservice's path for spend reports.
pub const SPEND_RECORD_PATH: &str = "/spend/record";

/// Reports waiting for the keyservice, with per-report backoff, never given up
/// (the shared [`Outbox`] with its default bound, [`MAX_QUEUED`]).
pub type SpendQueue = Outbox;

/// Reports due together, as one `/spend/record` body (a JSON array of the report
/// objects) and the ids it carries.
pub fn batch(due: Vec<(u64, Vec<u8>)>) -> (Vec<u64>, Vec<u8>) {
    crate::outbox::batch(due, "[", "]")
}

/// The keyservice's verdict on a batch: taken (2xx: each row recorded, a duplicate,
/// or refused in its place), refused as malformed (400, 422: never taken), or tried
/// again (anything else, no answer included).
fn spend_verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Taken,
        400 | 422 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// Logged when the keyservice refuses the reporting credential (401, 403); the
/// reports are kept and retried: the keyservice may get the right credential.
fn credential_refused(reports: usize, status: u16) -> String {
    format!(
        "switchyard: the keyservice refused {reports} spend report(s) ({status}): Envoy's reporting credential (SWITCHYARD_REPORTER_KEY, or the master key) is not the keyservice's"
    )
}

/// Sends a worker's queued reports to the keyservice and settles each by the answer
/// (in the proxy-wasm glue: the router stage's root context). The queue is the
/// host's, passed in on every call. The shared [`OutboxSender`] with the
/// keyservice's [`Delivery`].
#[derive(Debug)]
pub struct SpendReporter {
    sender: OutboxSender,
}

impl SpendReporter {
    /// A reporter to `cluster`, presenting `authorization`.
    pub fn new(cluster: impl Into<String>, authorization: Option<String>) -> SpendReporter {
        let mut headers = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), SPEND_RECORD_PATH.to_string()),
            (":authority".to_string(), "keyservice".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        if let Some(auth) = authorization {
            headers.push(("authorization".to_string(), auth));
        }
        SpendReporter {
            sender: OutboxSender::new(Delivery {
                noun: "spend report".to_string(),
                cluster: cluster.into(),
                headers,
                open: "[".to_string(),
                close: "]".to_string(),
                per_batch: REPORTS_PER_BATCH,
                timeout_ms: REPORT_TIMEOUT_MS,
                verdict: spend_verdict,
                credential_refused: Some(credential_refused),
            }),
        }
    }

    /// Whether no callout waits for its answer.
    pub fn is_idle(&self) -> bool {
        self.sender.is_idle()
    }

    /// Whether the worker is stopping ([`SpendReporter::drain`]) and every callout of
    /// the last flush has been answered: the worker may go.
    pub fn is_drained(&self) -> bool {
        self.sender.is_drained()
    }

    /// Sends up to `batches` batches of the reports of `queue` due at `now` (one
    /// callout each); returns how many callouts went out. A callout Envoy refuses puts
    /// its reports back, to be tried after their backoff, and ends this round.
    pub fn send_due(
        &mut self,
        queue: &mut SpendQueue,
        host: &mut dyn Host,
        now: u64,
        batches: usize,
    ) -> usize {
        self.sender.send_due(queue, host, now, batches)
    }

    /// The keyservice answered callout `token` with `status` (0: no answer, e.g. a
    /// timeout): its reports in `queue` are taken (2xx: each row recorded, a
    /// duplicate, or refused in its place), dropped (400, 422: a batch refused as
    /// malformed is never taken), or tried again after their backoff (anything else;
    /// 401 and 403 logged: the reporting credential is not the keyservice's). `false`
    /// when the callout is not one of this reporter's.
    pub fn on_answer(
        &mut self,
        queue: &mut SpendQueue,
        host: &mut dyn Host,
        token: u32,
        status: u16,
    ) -> bool {
        self.sender.on_answer(queue, host, token, status)
    }

    /// The worker is going away: sends every report of `queue` at once, backoffs and
    /// the per-tick budget ignored, and logs how many (a warning when any were
    /// queued). From now on [`SpendReporter::is_drained`] says when the last answer
    /// is in. Returns how many reports were queued and how many callouts went out.
    pub fn drain(&mut self, queue: &mut SpendQueue, host: &mut dyn Host) -> (usize, usize) {
        self.sender.drain(queue, host)
    }
}

/// One worker's share of a gauge that every worker adds to (the proxy-wasm glue's
/// `switchyard_spend_reports_pending`): the worker adds the change of its own queue's
/// length since it last published, so the gauge reads the sum of the queues.
#[derive(Debug, Default)]
pub struct PendingGauge {
    /// What this worker has added to the gauge so far.
    published: i64,
}

impl PendingGauge {
    /// Brings this worker's share up to `pending` reports: calls `add` with the
    /// change, if any. A change `add` could not make (`false`) is carried over to the
    /// next call.
    pub fn publish(&mut self, pending: usize, add: impl FnOnce(i64) -> bool) {
        let pending = i64::try_from(pending).unwrap_or(i64::MAX);
        let delta = pending.saturating_sub(self.published);
        if delta != 0 && add(delta) {
            self.published = pending;
        }
    }

    /// What this worker has added to the gauge so far.
    pub fn published(&self) -> i64 {
        self.published
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;
    use crate::host::Level;

    /// A queue holding `n` reports `{"request_id":"r<i>"}`, queued at 0.
    fn queue_of(n: usize) -> SpendQueue {
        let mut queue = SpendQueue::default();
        for i in 0..n {
            queue.push(format!("{{\"request_id\":\"r{i}\"}}").into_bytes(), 0);
        }
        queue
    }

    /// Answers every callout the host saw since `from` with `status`.
    fn answer_all(
        reporter: &mut SpendReporter,
        queue: &mut SpendQueue,
        host: &mut MockHost,
        from: usize,
        status: u16,
    ) {
        let tokens: Vec<u32> = host.calls[from..].iter().map(|c| c.token).collect();
        for token in tokens {
            assert!(reporter.on_answer(queue, host, token, status));
        }
    }

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
    fn the_backoff_doubles_from_two_seconds_up_to_thirty() {
        let mut q = SpendQueue::default();
        q.push(b"a".to_vec(), 0);
        let mut now = 0;
        for wait in [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000] {
            let due = q.due(now, 10);
            assert_eq!(due.len(), 1, "due again at {now}");
            q.fail(due[0].0, now);
            assert!(q.due(now + wait - 1, 10).is_empty(), "waits {wait} ms");
            now += wait;
        }
        assert_eq!(q.len(), 1, "never given up");
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
        assert_eq!(MAX_QUEUED, 10_000);
    }

    #[test]
    fn reports_go_in_batches_within_the_tick_budget() {
        let mut queue = queue_of((BATCHES_PER_TICK + 2) * REPORTS_PER_BATCH);
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", Some("Bearer cred".into()));
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK),
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
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK),
            2
        );
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK),
            0
        );
        assert_eq!(queue.len(), (BATCHES_PER_TICK + 2) * REPORTS_PER_BATCH);
        answer_all(&mut reporter, &mut queue, &mut host, 0, 200);
        assert_eq!(queue.len(), 0);
        assert!(reporter.is_idle());
        assert!(
            !reporter.on_answer(&mut queue, &mut host, 999, 200),
            "not a report callout"
        );
    }

    #[test]
    fn a_callout_carries_64_reports_and_a_tick_starts_8_callouts() {
        // The numbers themselves (the keyservice and the docs count on them).
        let mut queue = queue_of(64 * 8 + 65);
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", None);
        assert_eq!(reporter.send_due(&mut queue, &mut host, 0, 8), 8);
        let sizes: Vec<usize> = host
            .calls
            .iter()
            .map(|c| c.json().as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [64; 8]);
        // In order: the first callout has the oldest reports.
        assert_eq!(host.calls[0].json()[63]["request_id"], "r63");
        assert_eq!(host.calls[1].json()[0]["request_id"], "r64");
        // Next tick: the 65 left, as 64 and 1.
        assert_eq!(reporter.send_due(&mut queue, &mut host, 0, 8), 2);
        assert_eq!(host.calls[9].json().as_array().unwrap().len(), 1);
        assert_eq!((REPORTS_PER_BATCH, BATCHES_PER_TICK), (64, 8));
    }

    #[test]
    fn a_taken_batch_leaves_the_queue() {
        for status in [200, 201, 204, 299] {
            let mut queue = queue_of(3);
            let mut host = MockHost::default();
            let mut reporter = SpendReporter::new("ks", None);
            assert_eq!(reporter.send_due(&mut queue, &mut host, 0, 8), 1);
            answer_all(&mut reporter, &mut queue, &mut host, 0, status);
            assert!(queue.is_empty(), "{status}");
            assert!(reporter.is_idle());
            assert!(host.logs.borrow().is_empty(), "{status}: nothing to say");
        }
    }

    #[test]
    fn a_failed_or_unanswered_batch_is_retried_after_its_backoff() {
        // 0: no answer (the keyservice down, the callout timed out).
        for status in [0, 300, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504] {
            let mut queue = queue_of(2);
            let mut host = MockHost {
                now: 10,
                ..Default::default()
            };
            let mut reporter = SpendReporter::new("ks", None);
            reporter.send_due(&mut queue, &mut host, 0, 8);
            answer_all(&mut reporter, &mut queue, &mut host, 0, status);
            assert_eq!(queue.len(), 2, "{status}: kept");
            assert!(reporter.is_idle());
            // The host's clock (10 s) starts the backoff: 2 s after a first try.
            assert_eq!(
                reporter.send_due(&mut queue, &mut host, 11_999, 8),
                0,
                "{status}: backing off"
            );
            assert_eq!(reporter.send_due(&mut queue, &mut host, 12_000, 8), 1);
            assert_eq!(host.calls[1].json().as_array().unwrap().len(), 2);
        }
    }

    #[test]
    fn a_wrong_credential_is_logged_and_its_reports_kept() {
        for status in [401, 403] {
            let mut queue = queue_of(1);
            let mut host = MockHost::default();
            let mut reporter = SpendReporter::new("ks", None);
            reporter.send_due(&mut queue, &mut host, 0, 8);
            answer_all(&mut reporter, &mut queue, &mut host, 0, status);
            assert_eq!(queue.len(), 1);
            assert!(host
                .logs
                .borrow()
                .iter()
                .any(|(level, line)| *level == Level::Error
                    && line.contains("SWITCHYARD_REPORTER_KEY")
                    && line.contains(&format!("({status})"))));
        }
    }

    #[test]
    fn a_batch_refused_as_malformed_is_dropped_and_logged() {
        for status in [400, 422] {
            let mut queue = queue_of(3);
            let mut host = MockHost::default();
            let mut reporter = SpendReporter::new("ks", None);
            reporter.send_due(&mut queue, &mut host, 0, 8);
            answer_all(&mut reporter, &mut queue, &mut host, 0, status);
            assert!(queue.is_empty(), "{status}: never retried");
            assert!(host
                .logs
                .borrow()
                .iter()
                .any(|(level, line)| *level == Level::Error
                    && line.contains(&format!("batch refused ({status}); 3 dropped"))));
        }
    }

    #[test]
    fn failed_batches_are_retried_and_malformed_ones_dropped() {
        let mut queue = SpendQueue::default();
        queue.push(b"{}".to_vec(), 0);
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", None);
        reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK);
        assert_eq!(host.calls[0].header("authorization"), None);
        // No answer (the keyservice down): tried again after a backoff.
        host.now = 10;
        assert!(reporter.on_answer(&mut queue, &mut host, 1, 0));
        assert_eq!(queue.len(), 1);
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 10_000, BATCHES_PER_TICK),
            0,
            "backing off"
        );
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 12_000, BATCHES_PER_TICK),
            1
        );
        // A wrong credential: logged, kept.
        assert!(reporter.on_answer(&mut queue, &mut host, 2, 401));
        assert_eq!(queue.len(), 1);
        assert!(host.logs.borrow().iter().any(
            |(level, line)| *level == Level::Error && line.contains("SWITCHYARD_REPORTER_KEY")
        ));
        // Malformed: dropped, logged.
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, u64::MAX, BATCHES_PER_TICK),
            1
        );
        assert!(reporter.on_answer(&mut queue, &mut host, 3, 400));
        assert_eq!(queue.len(), 0);
        assert!(host
            .logs
            .borrow()
            .iter()
            .any(|(_, line)| line.contains("batch refused (400); 1 dropped")));
    }

    #[test]
    fn a_refused_callout_keeps_its_reports_and_draining_ignores_backoff() {
        let mut queue = SpendQueue::default();
        for _ in 0..3 {
            queue.push(b"{}".to_vec(), 0);
        }
        let mut host = MockHost {
            refuse_cluster: Some("ks".into()),
            now: 1,
            ..Default::default()
        };
        let mut reporter = SpendReporter::new("ks", None);
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK),
            0
        );
        assert_eq!(queue.len(), 3);
        assert!(reporter.is_idle());
        // Backing off now, but a VM going away sends everything.
        host.refuse_cluster = None;
        assert_eq!(
            reporter.send_due(&mut queue, &mut host, 0, BATCHES_PER_TICK),
            0
        );
        assert_eq!(reporter.drain(&mut queue, &mut host), (3, 1));
        assert_eq!(host.calls[0].json().as_array().unwrap().len(), 3);
    }

    #[test]
    fn draining_sends_everything_at_once_and_ends_with_the_last_answer() {
        // More than a tick's budget, some backing off, some in flight.
        let mut queue = queue_of(64 * 8 + 100);
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", None);
        assert_eq!(reporter.send_due(&mut queue, &mut host, 0, 1), 1);
        let in_flight = host.calls[0].token;
        assert_eq!(reporter.send_due(&mut queue, &mut host, 0, 1), 1);
        let token = host.calls[1].token;
        assert!(reporter.on_answer(&mut queue, &mut host, token, 503));
        assert!(!reporter.is_drained(), "not stopping yet");

        let (queued, sent) = reporter.drain(&mut queue, &mut host);
        assert_eq!(queued, 64 * 8 + 100);
        // Everything not in flight, in batches, beyond the tick budget.
        assert_eq!(sent, (64 * 8 + 100 - 64usize).div_ceil(64));
        assert!(sent > 8);
        let drained: usize = host.calls[2..]
            .iter()
            .map(|c| c.json().as_array().unwrap().len())
            .sum();
        assert_eq!(drained, 64 * 8 + 100 - 64);
        assert!(host
            .logs
            .borrow()
            .iter()
            .any(|(level, line)| *level == Level::Warn
                && line.contains(&format!(
                    "the VM stops with {queued} spend report(s) queued; {sent} last batch(es) sent"
                ))));

        // The worker may go once every callout is answered, however it is answered.
        answer_all(&mut reporter, &mut queue, &mut host, 3, 200);
        assert!(!reporter.is_drained(), "two callouts still out");
        let token = host.calls[2].token;
        assert!(reporter.on_answer(&mut queue, &mut host, token, 500));
        assert!(!reporter.is_drained(), "one callout still out");
        assert!(reporter.on_answer(&mut queue, &mut host, in_flight, 0));
        assert!(reporter.is_drained());

        // Nothing queued: said at info level, and drained at once.
        let mut host = MockHost::default();
        let mut reporter = SpendReporter::new("ks", None);
        assert_eq!(
            reporter.drain(&mut SpendQueue::default(), &mut host),
            (0, 0)
        );
        assert!(reporter.is_drained());
        assert_eq!(
            host.logs.borrow()[0],
            (
                Level::Info,
                "switchyard: the VM stops with 0 spend report(s) queued; 0 last batch(es) sent"
                    .to_string()
            )
        );
    }

    #[test]
    fn the_gauge_share_follows_the_queue_and_carries_a_failed_change() {
        let mut gauge = PendingGauge::default();
        let mut added = Vec::new();
        let mut publish = |gauge: &mut PendingGauge, pending: usize, ok: bool| {
            gauge.publish(pending, |delta| {
                added.push(delta);
                ok
            })
        };
        publish(&mut gauge, 5, true);
        publish(&mut gauge, 5, true); // no change, no call
        publish(&mut gauge, 2, true);
        publish(&mut gauge, 7, false); // not made: carried over
        assert_eq!(gauge.published(), 2);
        publish(&mut gauge, 9, true);
        publish(&mut gauge, 0, true);
        assert_eq!(added, [5, -3, 5, 7, -9]);
        assert_eq!(gauge.published(), 0);
    }
}
