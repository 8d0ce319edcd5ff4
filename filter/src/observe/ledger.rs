//! The attempt ledger: where the upstream stage leaves each attempt's
//! [`AttemptRecord`] for its request's end, keyed by the request's call id.
//!
//! Envoy runs a request and all its upstream attempts on one worker thread, and the
//! stages of one worker share one wasm VM, so the glue keeps one ledger per worker
//! (a thread-local); this is its sans-IO half, with the policy and its tests. An
//! attempt is left as soon as its outcome is known (and left again, replacing the
//! first, when more is known: a stream's headers, then its end), and taken once by
//! the router stage when the request is logged. Entries never taken (a request
//! whose end this VM never saw) are evicted oldest first past [`MAX_LEDGER_ENTRIES`],
//! and counted. A record left after its request was taken (Envoy logs a request
//! whose client left before it ends the attempt still going) is dropped and counted:
//! the ledger remembers the last [`MAX_ENDED_CALLS`] calls taken.

use std::collections::VecDeque;

use super::record::AttemptRecord;

/// The most attempt records one worker keeps waiting for their request's end.
/// Requests in flight on one worker leave a few each; a full ledger means records
/// were left for requests whose end never came.
pub const MAX_LEDGER_ENTRIES: usize = 2048;

/// How many ended calls the ledger remembers, to drop records left too late.
pub const MAX_ENDED_CALLS: usize = 256;

/// One attempt waiting for its request's end.
#[derive(Debug, Clone)]
struct Entry {
    call_id: String,
    /// The attempt's own id (drawn by the upstream stage), so that a later, fuller
    /// record of the same attempt replaces the first.
    attempt: u64,
    record: AttemptRecord,
}

/// One worker's attempts, by call id, bounded.
#[derive(Debug)]
pub struct AttemptLedger {
    entries: VecDeque<Entry>,
    cap: usize,
    evicted: u64,
    /// The calls taken last, newest at the back.
    ended: VecDeque<String>,
    late: u64,
}

impl Default for AttemptLedger {
    fn default() -> Self {
        AttemptLedger::with_capacity(MAX_LEDGER_ENTRIES)
    }
}

impl AttemptLedger {
    /// A ledger that keeps at most `cap` records (at least one).
    pub fn with_capacity(cap: usize) -> AttemptLedger {
        AttemptLedger {
            entries: VecDeque::new(),
            cap: cap.max(1),
            evicted: 0,
            ended: VecDeque::new(),
            late: 0,
        }
    }

    /// Leaves (or, for an attempt already left, replaces) the record of attempt
    /// `attempt` of request `call_id`. An empty call id is no request's: ignored.
    pub fn leave(&mut self, call_id: &str, attempt: u64, record: AttemptRecord) {
        if call_id.is_empty() {
            return;
        }
        if self.ended.iter().any(|c| c == call_id) {
            self.late = self.late.saturating_add(1);
            return;
        }
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.attempt == attempt && e.call_id == call_id)
        {
            entry.record = record;
            return;
        }
        self.entries.push_back(Entry {
            call_id: call_id.to_string(),
            attempt,
            record,
        });
        while self.entries.len() > self.cap {
            self.entries.pop_front();
            self.evicted = self.evicted.saturating_add(1);
        }
    }

    /// Takes every record of request `call_id`, in the order they were first left.
    pub fn take(&mut self, call_id: &str) -> Vec<AttemptRecord> {
        if call_id.is_empty() {
            return Vec::new();
        }
        if !self.ended.iter().any(|c| c == call_id) {
            self.ended.push_back(call_id.to_string());
            if self.ended.len() > MAX_ENDED_CALLS {
                self.ended.pop_front();
            }
        }
        let mut taken = Vec::new();
        self.entries.retain(|e| {
            if e.call_id == call_id {
                taken.push(e.record.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    /// The records of request `call_id` so far, left in place.
    pub fn peek(&self, call_id: &str) -> Vec<AttemptRecord> {
        if call_id.is_empty() {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|e| e.call_id == call_id)
            .map(|e| e.record.clone())
            .collect()
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No record waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records evicted unread since the ledger was made.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Records left after their request had ended (dropped).
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(model_id: &str, status: u16) -> AttemptRecord {
        AttemptRecord {
            model_id: model_id.into(),
            status,
            ..Default::default()
        }
    }

    #[test]
    fn takes_a_requests_attempts_in_order_and_only_once() {
        let mut ledger = AttemptLedger::default();
        ledger.leave("call-a", 1, attempt("d1", 503));
        ledger.leave("call-b", 7, attempt("other", 200));
        ledger.leave("call-a", 2, attempt("d2", 200));
        assert_eq!(ledger.peek("call-a").len(), 2);
        let taken = ledger.take("call-a");
        assert_eq!(
            taken
                .iter()
                .map(|a| a.model_id.as_str())
                .collect::<Vec<_>>(),
            ["d1", "d2"]
        );
        assert!(ledger.take("call-a").is_empty());
        assert_eq!(ledger.take("call-b"), vec![attempt("other", 200)]);
        assert!(ledger.is_empty());
        assert_eq!(ledger.evicted(), 0);
    }

    #[test]
    fn a_fuller_record_of_the_same_attempt_replaces_the_first() {
        let mut ledger = AttemptLedger::default();
        ledger.leave("call-a", 1, attempt("d1", 200));
        ledger.leave("call-a", 2, attempt("d2", 0));
        let mut done = attempt("d1", 200);
        done.end_ms = 99;
        ledger.leave("call-a", 1, done.clone());
        // The same attempt id under another call is another attempt.
        ledger.leave("call-b", 1, attempt("x", 200));
        assert_eq!(ledger.take("call-a"), vec![done, attempt("d2", 0)]);
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn evicts_the_oldest_past_its_bound_and_counts_them() {
        let mut ledger = AttemptLedger::with_capacity(3);
        for i in 0..5u64 {
            ledger.leave(&format!("call-{i}"), i, attempt("d", 200));
        }
        assert_eq!(ledger.len(), 3);
        assert_eq!(ledger.evicted(), 2);
        assert!(ledger.take("call-0").is_empty());
        assert!(ledger.take("call-1").is_empty());
        assert_eq!(ledger.take("call-4").len(), 1);
    }

    #[test]
    fn many_distinct_calls_never_grow_it_past_its_bound() {
        let mut ledger = AttemptLedger::default();
        for i in 0..(MAX_LEDGER_ENTRIES as u64 * 2) {
            ledger.leave(&format!("call-{i}"), i, attempt("d", 200));
        }
        assert_eq!(ledger.len(), MAX_LEDGER_ENTRIES);
        assert_eq!(ledger.evicted(), MAX_LEDGER_ENTRIES as u64);
    }

    #[test]
    fn a_record_left_after_its_request_ended_is_dropped_and_counted() {
        let mut ledger = AttemptLedger::default();
        ledger.leave("call-a", 1, attempt("d1", 200));
        assert_eq!(ledger.take("call-a").len(), 1);
        // The client left mid-stream: the attempt ends after the request was logged.
        ledger.leave("call-a", 1, attempt("d1", 200));
        assert!(ledger.is_empty());
        assert_eq!(ledger.late(), 1);
        // The memory of ended calls is bounded too.
        for i in 0..(MAX_ENDED_CALLS * 2) {
            ledger.take(&format!("ended-{i}"));
        }
        ledger.leave("call-a", 2, attempt("d1", 200));
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn an_empty_call_id_is_no_requests() {
        let mut ledger = AttemptLedger::default();
        ledger.leave("", 1, attempt("d", 200));
        assert!(ledger.is_empty());
        assert!(ledger.take("").is_empty());
        assert!(ledger.peek("").is_empty());
    }
}
