//! Rate limits: rpm, tpm and parallel requests, per key, user and team.
//!
//! **Windows.** Requests and tokens are counted in fixed 60-second windows aligned to
//! the minute (`window_start = floor(now / 60 s)`), as LiteLLM's limiter does. A limited
//! request is told to come back when the window ends (`retry-after`, at least 1 s).
//!
//! **Counting.** rpm is a conditional increment at admission ("count this request if
//! the window has fewer than `rpm_limit`"), so concurrent admissions never exceed the
//! limit. tpm is checked at admission against the tokens already reported in the
//! window and grows when a request's spend is recorded. Parallel requests are *leases*:
//! admission takes one if fewer than `max_parallel_requests` are live.
//!
//! **Admissions.** Every admission gets an *admission id* (random, 128 bits), which the
//! keyservice hands to the gateway through ext_authz and which no client ever sees; it
//! is the key of the request's spend rows. An admission that takes claims holds a
//! lease named by its admission id on every claimed scope (rpm- or tpm-only ones too).
//! The lease is freed when the *downstream request* ends, however it ends (an answer,
//! a local answer such as `/models` or a mock, a 400, "no healthy upstream", a client
//! that left): the gateway's responder stage sends a release with the spend reports
//! when Envoy logs the request. Envoy's retries and error fallbacks are part of one
//! request: a fallback is an internal redirect that replays the request through
//! ext_authz, carrying the admission id; the keyservice treats it as a continuation
//! when the lease is live on every scope of the same key ([`Limiter::continues`]) and
//! takes nothing again (no second rpm count, no second slot, the same admission id).
//! A lease that is never released (an Envoy that crashed, a release lost with its
//! queue) expires after its TTL (default 10 minutes): the backstop, not the rule.
//!
//! **Sharing.** [`Limiter`] is the state's interface. [`MemoryLimiter`] keeps it in the
//! process (the SQLite default: one keyservice). The SQL stores implement it on tables
//! (`rate_limit_windows`, `inflight_leases`) so several keyservices on one PostgreSQL
//! share the limits; see `store::sql`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::store_error::StoreError;
use crate::time::{format_iso, MINUTE_MS, SECOND_MS};

/// Length of a rate-limit window.
pub const WINDOW_MS: i64 = MINUTE_MS;
/// How long an unreleased parallel-request lease lives.
pub const DEFAULT_LEASE_TTL_MS: i64 = 10 * MINUTE_MS;

/// Start of the window `now` falls in.
pub fn window_start(now: i64) -> i64 {
    now.div_euclid(WINDOW_MS) * WINDOW_MS
}

/// Whole seconds until the window `now` falls in ends (at least 1).
pub fn retry_after_secs(now: i64) -> u64 {
    let left = window_start(now) + WINDOW_MS - now;
    (((left + SECOND_MS - 1) / SECOND_MS).max(1)) as u64
}

/// When the current window ends, as ISO-8601 (for messages).
pub fn window_end_iso(now: i64) -> String {
    format_iso(window_start(now) + WINDOW_MS)
}

/// A limit scope's name: `key:<token>`, `user:<id>`, `team:<id>`.
pub fn scope(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

/// What a scope has used in the current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeUsage {
    /// Requests admitted in the current window.
    pub requests: i64,
    /// Tokens reported for the current window.
    pub tokens: i64,
    /// Requests holding a live lease (admitted and not yet released).
    pub in_flight: i64,
}

/// The limits one scope must stay within for a request to be admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitClaim {
    /// Whose limits they are: `key:<hash>`, `user:<id>` or `team:<id>`.
    pub scope: String,
    /// Requests per minute, when limited.
    pub rpm: Option<i64>,
    /// Tokens per minute, when limited.
    pub tpm: Option<i64>,
    /// Requests in flight at once, when limited.
    pub parallel: Option<i64>,
}

impl LimitClaim {
    /// True when the claim limits anything.
    pub fn is_limiting(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.parallel.is_some()
    }
}

/// Which limit stopped a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The requests-per-minute limit (`rpm_limit`).
    Requests,
    /// The tokens-per-minute limit (`tpm_limit`).
    Tokens,
    /// The in-flight limit (`max_parallel_requests`).
    Parallel,
}

impl LimitKind {
    /// The word LiteLLM's messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
            LimitKind::Parallel => "max_parallel_requests",
        }
    }
}

/// The outcome of taking the claims of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Admitted.
    Granted {
        /// The lease to release when the request ends (`None` when there were no
        /// claims).
        lease: Option<String>,
    },
    /// Refused by the claim at `index` (nothing was taken).
    Limited {
        /// Which claim (index into the claims given) refused the request.
        index: usize,
        /// Which of the claim's limits it was.
        kind: LimitKind,
        /// That limit's value, for the error message.
        limit: i64,
    },
}

/// Which limit in `claim` `usage` already violates, if any (pure; used by the check).
pub fn violated(claim: &LimitClaim, usage: &ScopeUsage) -> Option<(LimitKind, i64)> {
    if let Some(p) = claim.parallel {
        if usage.in_flight >= p {
            return Some((LimitKind::Parallel, p));
        }
    }
    if let Some(r) = claim.rpm {
        if usage.requests >= r {
            return Some((LimitKind::Requests, r));
        }
    }
    if let Some(t) = claim.tpm {
        if usage.tokens >= t {
            return Some((LimitKind::Tokens, t));
        }
    }
    None
}

/// Shared rate-limit state.
#[async_trait]
pub trait Limiter: Send + Sync {
    /// What each scope has used in the window of `now`.
    async fn usage(&self, scopes: &[String], now: i64) -> Result<Vec<ScopeUsage>, StoreError>;

    /// Atomically admits one request against every claim, or takes nothing. An
    /// admitted request holds a lease on every claimed scope (its id is the request's
    /// admission id): the lease is its parallel-request slot, and what lets a replay
    /// of the same request continue without being counted again ([`Limiter::continues`]).
    async fn acquire(
        &self,
        claims: &[LimitClaim],
        now: i64,
        lease_ttl_ms: i64,
    ) -> Result<Acquired, StoreError>;

    /// Adds a finished request's tokens to each scope's current window.
    async fn add_tokens(&self, scopes: &[String], tokens: i64, now: i64) -> Result<(), StoreError>;

    /// Ends a parallel-request lease (unknown or expired leases are ignored).
    async fn release(&self, lease: &str) -> Result<(), StoreError>;

    /// Whether `lease` is live on every one of `scopes` (none: false): a request
    /// that presents it is a continuation of the admitted one (an internal redirect's
    /// replay) and takes nothing again.
    async fn continues(&self, lease: &str, scopes: &[String], now: i64)
        -> Result<bool, StoreError>;

    /// Drops windows and leases that can no longer matter.
    async fn gc(&self, now: i64) -> Result<(), StoreError>;
}

#[derive(Default)]
struct MemoryState {
    /// scope → (window start, requests, tokens)
    windows: HashMap<String, (i64, i64, i64)>,
    /// lease id → (scope, expires at)
    leases: HashMap<String, (String, i64)>,
}

impl MemoryState {
    fn window(&mut self, scope: &str, now: i64) -> &mut (i64, i64, i64) {
        let start = window_start(now);
        let w = self
            .windows
            .entry(scope.to_string())
            .or_insert((start, 0, 0));
        if w.0 != start {
            *w = (start, 0, 0);
        }
        w
    }

    fn in_flight(&self, scope: &str, now: i64) -> i64 {
        self.leases
            .values()
            .filter(|(s, exp)| s == scope && *exp > now)
            .count() as i64
    }
}

/// Rate-limit state in this process only (the SQLite default).
#[derive(Default)]
pub struct MemoryLimiter {
    state: Mutex<MemoryState>,
}

impl MemoryLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn usage(&self, scopes: &[String], now: i64) -> Result<Vec<ScopeUsage>, StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(scopes
            .iter()
            .map(|s| {
                let (_, requests, tokens) = *st.window(s, now);
                ScopeUsage {
                    requests,
                    tokens,
                    in_flight: st.in_flight(s, now),
                }
            })
            .collect())
    }

    async fn acquire(
        &self,
        claims: &[LimitClaim],
        now: i64,
        lease_ttl_ms: i64,
    ) -> Result<Acquired, StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Check everything first, then take: the lock makes the pair atomic.
        for (index, c) in claims.iter().enumerate() {
            let (_, requests, tokens) = *st.window(&c.scope, now);
            let usage = ScopeUsage {
                requests,
                tokens,
                in_flight: st.in_flight(&c.scope, now),
            };
            if let Some((kind, limit)) = violated(c, &usage) {
                return Ok(Acquired::Limited { index, kind, limit });
            }
        }
        let mut lease = None;
        for c in claims {
            if c.rpm.is_some() {
                st.window(&c.scope, now).1 += 1;
            }
            let id = lease.get_or_insert_with(crate::keys::random_uuid).clone();
            // One lease id per request; scopes share it with a suffix.
            st.leases.insert(
                format!("{id}/{}", c.scope),
                (c.scope.clone(), now + lease_ttl_ms),
            );
        }
        Ok(Acquired::Granted { lease })
    }

    async fn add_tokens(&self, scopes: &[String], tokens: i64, now: i64) -> Result<(), StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for s in scopes {
            let window = &mut st.window(s, now).2;
            *window = window.saturating_add(tokens);
        }
        Ok(())
    }

    async fn release(&self, lease: &str) -> Result<(), StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let prefix = format!("{lease}/");
        st.leases.retain(|id, _| !id.starts_with(&prefix));
        Ok(())
    }

    async fn continues(
        &self,
        lease: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(!scopes.is_empty()
            && scopes.iter().all(|s| {
                st.leases
                    .get(&format!("{lease}/{s}"))
                    .is_some_and(|(scope, exp)| scope == s && *exp > now)
            }))
    }

    async fn gc(&self, now: i64) -> Result<(), StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let current = window_start(now);
        st.windows.retain(|_, w| w.0 >= current);
        st.leases.retain(|_, (_, exp)| *exp > now);
        Ok(())
    }
}

/// Limiter behaviour every implementation must show; run against each in tests.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;

    fn claim(scope: &str, rpm: Option<i64>, tpm: Option<i64>, parallel: Option<i64>) -> LimitClaim {
        LimitClaim {
            scope: scope.into(),
            rpm,
            tpm,
            parallel,
        }
    }

    /// rpm: N admitted per window, the next refused, a new window admits again.
    pub async fn rpm_window(l: &dyn Limiter) {
        let t0 = 1_700_000_040_000; // the start of a window
        let c = [claim("key:rpm", Some(3), None, None)];
        for i in 0..3 {
            let got = l.acquire(&c, t0 + i, 1000).await.unwrap();
            assert!(
                matches!(got, Acquired::Granted { lease: Some(_) }),
                "request {i}: {got:?}"
            );
        }
        let refused = l.acquire(&c, t0 + 10, 1000).await.unwrap();
        assert_eq!(
            refused,
            Acquired::Limited {
                index: 0,
                kind: LimitKind::Requests,
                limit: 3
            }
        );
        let u = l.usage(&["key:rpm".to_string()], t0 + 11).await.unwrap();
        assert_eq!(u[0].requests, 3, "a refused request is not counted");
        // The next window starts a minute on.
        let next = window_start(t0) + WINDOW_MS;
        assert!(matches!(
            l.acquire(&c, next, 1000).await.unwrap(),
            Acquired::Granted { lease: Some(_) }
        ));
        let u = l.usage(&["key:rpm".to_string()], next).await.unwrap();
        assert_eq!(u[0].requests, 1);
    }

    /// A refusal by a later claim takes nothing from the earlier ones.
    pub async fn all_or_nothing(l: &dyn Limiter) {
        let t0 = 1_700_000_100_000;
        let claims = [
            claim("key:a", Some(10), None, None),
            claim("team:t", Some(1), None, None),
        ];
        assert!(matches!(
            l.acquire(&claims, t0, 1000).await.unwrap(),
            Acquired::Granted { .. }
        ));
        assert_eq!(
            l.acquire(&claims, t0 + 1, 1000).await.unwrap(),
            Acquired::Limited {
                index: 1,
                kind: LimitKind::Requests,
                limit: 1
            }
        );
        let u = l
            .usage(&["key:a".to_string(), "team:t".to_string()], t0 + 2)
            .await
            .unwrap();
        assert_eq!(u[0].requests, 1);
        assert_eq!(u[1].requests, 1);
    }

    /// tpm: tokens reported in the window block further requests once at the limit.
    pub async fn tpm_window(l: &dyn Limiter) {
        let t0 = 1_700_000_160_000;
        let c = [claim("key:tpm", None, Some(100), None)];
        assert!(matches!(
            l.acquire(&c, t0, 1000).await.unwrap(),
            Acquired::Granted { .. }
        ));
        l.add_tokens(&["key:tpm".to_string()], 60, t0 + 1)
            .await
            .unwrap();
        assert!(matches!(
            l.acquire(&c, t0 + 2, 1000).await.unwrap(),
            Acquired::Granted { .. }
        ));
        l.add_tokens(&["key:tpm".to_string()], 40, t0 + 3)
            .await
            .unwrap();
        assert_eq!(
            l.acquire(&c, t0 + 4, 1000).await.unwrap(),
            Acquired::Limited {
                index: 0,
                kind: LimitKind::Tokens,
                limit: 100
            }
        );
        let u = l.usage(&["key:tpm".to_string()], t0 + 5).await.unwrap();
        assert_eq!(u[0].tokens, 100);
        assert!(matches!(
            l.acquire(&c, window_start(t0) + WINDOW_MS, 1000)
                .await
                .unwrap(),
            Acquired::Granted { .. }
        ));
    }

    /// Parallel: leases are taken, released, and expire.
    pub async fn parallel_leases(l: &dyn Limiter) {
        let t0 = 1_700_000_220_000;
        let c = [claim("key:par", None, None, Some(2))];
        let Acquired::Granted { lease: Some(a) } = l.acquire(&c, t0, 5_000).await.unwrap() else {
            panic!("first lease refused")
        };
        let Acquired::Granted { lease: Some(_b) } = l.acquire(&c, t0 + 1, 5_000).await.unwrap()
        else {
            panic!("second lease refused")
        };
        assert_eq!(
            l.acquire(&c, t0 + 2, 5_000).await.unwrap(),
            Acquired::Limited {
                index: 0,
                kind: LimitKind::Parallel,
                limit: 2
            }
        );
        l.release(&a).await.unwrap();
        assert!(matches!(
            l.acquire(&c, t0 + 3, 5_000).await.unwrap(),
            Acquired::Granted { lease: Some(_) }
        ));
        // Both live leases expire 5 s after they were taken.
        let u = l.usage(&["key:par".to_string()], t0 + 5_010).await.unwrap();
        assert_eq!(u[0].in_flight, 0);
        l.gc(t0 + 5_010).await.unwrap();
        assert!(matches!(
            l.acquire(&c, t0 + 5_020, 5_000).await.unwrap(),
            Acquired::Granted { lease: Some(_) }
        ));
    }

    /// A replay continues on its admission's lease: live on every scope of the same
    /// key, not after release or expiry, not for another key's scopes.
    pub async fn continuation(l: &dyn Limiter) {
        let t0 = 1_700_000_250_000;
        let scopes = ["key:cont".to_string(), "team:cont".to_string()];
        let c = [
            claim("key:cont", Some(5), None, None),
            claim("team:cont", None, None, Some(3)),
        ];
        let Acquired::Granted { lease: Some(a) } = l.acquire(&c, t0, 5_000).await.unwrap() else {
            panic!("refused")
        };
        assert!(l.continues(&a, &scopes, t0 + 1).await.unwrap());
        assert!(
            !l.continues(&a, &["key:other".to_string()], t0 + 1)
                .await
                .unwrap(),
            "another key's scope"
        );
        assert!(
            !l.continues("forged", &scopes, t0 + 1).await.unwrap(),
            "an id never issued"
        );
        assert!(!l.continues(&a, &[], t0 + 1).await.unwrap());
        assert!(
            !l.continues(&a, &scopes, t0 + 5_001).await.unwrap(),
            "expired"
        );
        let u = l.usage(&scopes, t0 + 2).await.unwrap();
        assert_eq!((u[0].requests, u[1].in_flight), (1, 1));
        l.release(&a).await.unwrap();
        assert!(!l.continues(&a, &scopes, t0 + 3).await.unwrap(), "released");
    }

    /// Concurrent admissions never exceed the rpm limit.
    pub async fn concurrent_rpm(l: std::sync::Arc<dyn Limiter>) {
        let t0 = 1_700_000_280_000;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let c = [claim("key:race", Some(7), None, None)];
                matches!(
                    l.acquire(&c, t0, 1000).await.unwrap(),
                    Acquired::Granted { .. }
                )
            }));
        }
        let mut granted = 0;
        for t in tasks {
            if t.await.unwrap() {
                granted += 1;
            }
        }
        assert_eq!(granted, 7);
    }

    /// Everything above.
    pub async fn all(l: std::sync::Arc<dyn Limiter>) {
        rpm_window(l.as_ref()).await;
        all_or_nothing(l.as_ref()).await;
        tpm_window(l.as_ref()).await;
        parallel_leases(l.as_ref()).await;
        continuation(l.as_ref()).await;
        concurrent_rpm(l).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_minute_aligned() {
        assert_eq!(window_start(125_000), 120_000);
        assert_eq!(retry_after_secs(120_000), 60);
        assert_eq!(retry_after_secs(125_000), 55);
        assert_eq!(retry_after_secs(179_001), 1);
        assert_eq!(retry_after_secs(179_999), 1);
        assert_eq!(window_end_iso(125_000), "1970-01-01T00:03:00.000+00:00");
    }

    #[test]
    fn violation_order_is_parallel_then_rpm_then_tpm() {
        let c = LimitClaim {
            scope: "key:x".into(),
            rpm: Some(1),
            tpm: Some(1),
            parallel: Some(1),
        };
        let full = ScopeUsage {
            requests: 1,
            tokens: 1,
            in_flight: 1,
        };
        assert_eq!(violated(&c, &full), Some((LimitKind::Parallel, 1)));
        assert_eq!(
            violated(
                &c,
                &ScopeUsage {
                    in_flight: 0,
                    ..full
                }
            ),
            Some((LimitKind::Requests, 1))
        );
        assert_eq!(
            violated(
                &c,
                &ScopeUsage {
                    in_flight: 0,
                    requests: 0,
                    ..full
                }
            ),
            Some((LimitKind::Tokens, 1))
        );
        assert_eq!(violated(&c, &ScopeUsage::default()), None);
    }

    #[tokio::test]
    async fn memory_limiter_conforms() {
        conformance::all(std::sync::Arc::new(MemoryLimiter::new())).await;
    }
}
