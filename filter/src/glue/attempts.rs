//! This worker's attempt ledger, as the proxy-wasm glue keeps it: a thread-local
//! [`AttemptLedger`] (each Envoy worker thread runs its own wasm VM, and the router,
//! upstream and responder stages of one worker share it; a request and all its
//! attempts run on one worker). The policy — bound, eviction, replacement — is the
//! sans-IO ledger's (`observe::ledger`).

use std::cell::RefCell;

use crate::observe::ledger::AttemptLedger;
use crate::observe::AttemptRecord;

thread_local! {
    /// This worker's ledger.
    static LEDGER: RefCell<AttemptLedger> = RefCell::new(AttemptLedger::default());
}

/// Runs `f` on this worker's ledger; `None` if it is in use (it never is: no code
/// that holds it calls back into the host).
fn with_ledger<T>(f: impl FnOnce(&mut AttemptLedger) -> T) -> Option<T> {
    LEDGER.with(|ledger| ledger.try_borrow_mut().ok().map(|mut l| f(&mut l)))
}

/// `Host::leave_attempt`.
pub fn leave(call_id: &str, attempt: u64, record: AttemptRecord) {
    with_ledger(|l| l.leave(call_id, attempt, record));
}

/// `Host::take_attempts`.
pub fn take(call_id: &str) -> Vec<AttemptRecord> {
    with_ledger(|l| l.take(call_id)).unwrap_or_default()
}

/// `Host::peek_attempts`.
pub fn peek(call_id: &str) -> Vec<AttemptRecord> {
    with_ledger(|l| l.peek(call_id)).unwrap_or_default()
}
