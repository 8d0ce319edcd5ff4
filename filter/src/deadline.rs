//! Stream silence the upstream stage watches itself: LiteLLM's `stream_timeout`
//! between two chunks of a stream that has begun.
//!
//! Envoy bounds everything before an answer's first byte (the route's per-try
//! timeout, which Envoy retries), but once a stream has begun, its only bound is an
//! idle timeout that *resets* the stream: the client would see a connection cut
//! with no explanation. So the stage watches each stream's silence itself, with the
//! limit of the deployment the stream comes from, and on its root context's tick
//! ([`Deadlines::due`]):
//!
//! 1. a stream silent for longer than its limit ([`Expired::StreamStalled`]) gets
//!    the client's error event (OpenAI's `data: {"error": …}` then `data: [DONE]`,
//!    or Anthropic's `event: error`), kept here since it began;
//! 2. [`CUT_GRACE_MS`] later, unless it ended by then, it is reset
//!    ([`Expired::Reset`]): a response whose provider is silent cannot be ended
//!    cleanly from inside Envoy, only reset.
//!
//! A stream that keeps sending is never cut, however long it runs. Envoy's own
//! idle timeout stays in place, set longer, as a safety net. Plain data keyed by
//! the HTTP context id; time is passed in.

/// Whole milliseconds.
pub type Millis = u64;

/// How long a stalled stream's error event gets to reach the client before the
/// stream is reset.
pub const CUT_GRACE_MS: Millis = 100;

/// One stream being watched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Watch {
    context_id: u32,
    /// When the silence runs out (or, cutting, when the reset is due).
    deadline: Millis,
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// `idle` is the longest silence allowed between two chunks; `cut_event` is
    /// what the client gets when the stream is cut.
    Streaming { idle: Millis, cut_event: Vec<u8> },
    /// The error event went out; the reset is due at the deadline.
    Cutting,
}

/// What ran out, for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expired {
    /// A stream fell silent for longer than its `stream_timeout`: write the error
    /// event (the stream stays watched until [`Expired::Reset`]).
    StreamStalled {
        /// The attempt's HTTP context.
        context_id: u32,
        /// The error event (and end marker) in the client's format.
        cut_event: Vec<u8>,
    },
    /// The stalled stream did not end during its grace: reset it.
    Reset {
        /// The attempt's HTTP context.
        context_id: u32,
    },
}

/// The streams of one worker that are watched.
#[derive(Debug, Default)]
pub struct Deadlines {
    watches: Vec<Watch>,
}

impl Deadlines {
    /// A stream began at `now`: it may stay silent at most `idle` between two
    /// chunks, else the client gets `cut_event`.
    pub fn stream_started(
        &mut self,
        context_id: u32,
        now: Millis,
        idle: Millis,
        cut_event: Vec<u8>,
    ) {
        self.forget(context_id);
        self.watches.push(Watch {
            context_id,
            deadline: now.saturating_add(idle),
            state: State::Streaming { idle, cut_event },
        });
    }

    /// A chunk of a watched stream passed at `now`: its silence starts again
    /// (not once the stream is being cut).
    pub fn chunk(&mut self, context_id: u32, now: Millis) {
        if let Some(w) = self.watches.iter_mut().find(|w| w.context_id == context_id) {
            if let State::Streaming { idle, .. } = &w.state {
                w.deadline = now.saturating_add(*idle);
            }
        }
    }

    /// The stream ended (or its attempt is gone): no longer watched.
    pub fn forget(&mut self, context_id: u32) {
        self.watches.retain(|w| w.context_id != context_id);
    }

    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Every stream whose deadline passed by `now`. A stalled stream stays watched
    /// for its reset; a reset one is forgotten.
    pub fn due(&mut self, now: Millis) -> Vec<Expired> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        for w in &mut self.watches {
            if w.deadline > now {
                continue;
            }
            let context_id = w.context_id;
            match std::mem::replace(&mut w.state, State::Cutting) {
                State::Streaming { cut_event, .. } => {
                    out.push(Expired::StreamStalled {
                        context_id,
                        cut_event,
                    });
                    w.deadline = now.saturating_add(CUT_GRACE_MS);
                }
                State::Cutting => {
                    out.push(Expired::Reset { context_id });
                    done.push(context_id);
                }
            }
        }
        self.watches.retain(|w| !done.contains(&w.context_id));
        out
    }
}

pub use switchyard_contract::timeouts::millis;

#[cfg(test)]
mod tests {
    use super::*;

    fn stalled(context_id: u32, cut_event: &[u8]) -> Expired {
        Expired::StreamStalled {
            context_id,
            cut_event: cut_event.to_vec(),
        }
    }

    #[test]
    fn a_silent_stream_gets_its_event_then_its_reset() {
        let mut d = Deadlines::default();
        d.stream_started(2, 500, 2_000, b"cut".to_vec());
        d.stream_started(3, 500, 5_000, b"other".to_vec());
        assert!(d.due(2_499).is_empty());
        assert_eq!(d.due(2_500), vec![stalled(2, b"cut")]);
        // Chunks that still come after the cut do not save it.
        d.chunk(2, 2_550);
        assert!(d.due(2_500 + CUT_GRACE_MS - 1).is_empty());
        assert_eq!(
            d.due(2_500 + CUT_GRACE_MS),
            vec![Expired::Reset { context_id: 2 }]
        );
        assert!(d.due(4_000).is_empty(), "reset once, then forgotten");
        assert_eq!(d.due(5_500), vec![stalled(3, b"other")]);
    }

    #[test]
    fn a_stream_that_ends_during_its_grace_is_not_reset() {
        let mut d = Deadlines::default();
        d.stream_started(5, 0, 1_000, b"cut".to_vec());
        assert_eq!(d.due(1_000), vec![stalled(5, b"cut")]);
        d.forget(5);
        assert!(d.due(10_000).is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn a_chatty_stream_is_never_cut() {
        let mut d = Deadlines::default();
        d.stream_started(3, 100, 1_000, b"cut".to_vec());
        // A chunk every 900 ms for an hour: never silent for 1 s.
        let mut now = 100;
        while now < 3_600_000 {
            now += 900;
            assert!(d.due(now).is_empty(), "cut at {now} ms");
            d.chunk(3, now);
        }
        d.forget(3);
        assert!(d.is_empty());
    }

    #[test]
    fn chunks_of_unwatched_streams_are_ignored() {
        let mut d = Deadlines::default();
        d.chunk(9, 5);
        assert!(d.is_empty());
        assert!(d.due(u64::MAX).is_empty());
    }

    #[test]
    fn a_restarted_watch_replaces_the_old_one() {
        let mut d = Deadlines::default();
        d.stream_started(4, 0, 100, b"a".to_vec());
        d.stream_started(4, 1_000, 100, b"b".to_vec());
        assert!(d.due(999).is_empty());
        assert_eq!(d.due(1_100), vec![stalled(4, b"b")]);
    }
}
