//! LiteLLM's cooldown, as Envoy applies it: a per-deployment count of consecutive
//! failures, kept where every worker sees it, that says when a deployment was
//! cooled down (`litellm_deployment_cooled_down`, `litellm_deployment_state` 2).
//!
//! Switchyard's cooldown is Envoy's outlier detection on each route cluster
//! (`config/src/render/clusters.rs` `outlier_detection`: `consecutive_5xx` =
//! `consecutive_gateway_failure` = `allowed_fails`). Envoy counts its ejections per
//! cluster only (`outlier_detection.ejections_enforced_total`), not per host, so the
//! filter mirrors its rule per deployment: every attempt that got a 5xx or no answer
//! (Envoy maps a connect failure, reset or timeout to a gateway error) adds one,
//! any other answer resets the count to 0, and when it reaches `allowed_fails` the
//! deployment cools down once and the count starts again at 0 (Envoy resets a
//! host's consecutive counter when it ejects it).
//!
//! The count is one shared-data value per deployment (`switchyard.cooldown.<id>`,
//! decimal text), updated with compare-and-swap: the wasm VMs of every worker see
//! the same count, as Envoy's host monitors are process-wide.
//!
//! Differences from Envoy: an attempt counts when its request is logged, not when
//! it ends (two requests logged out of order count in log order); and a failure on
//! a deployment Envoy has already ejected (Envoy's panic routing may still send to
//! it) counts towards the next cooldown, where Envoy would not eject it twice.

use crate::host::{Host, SharedWriteError};

/// How often an update is tried again after losing a compare-and-swap race.
const CAS_ATTEMPTS: usize = 32;

/// The shared-data key of a deployment's consecutive-failure count.
pub fn cooldown_key(model_id: &str) -> String {
    format!("switchyard.cooldown.{model_id}")
}

/// Whether an attempt that ended with `status` (0: no answer) is a failure for
/// Envoy's `consecutive_5xx` / `consecutive_gateway_failure`.
pub fn counts_as_failure(status: u16) -> bool {
    status == 0 || status >= 500
}

/// Counts one attempt of deployment `model_id`; true when it cooled the deployment
/// down (its `allowed_fails`-th consecutive failure). A host that cannot keep the
/// count never reports a cooldown.
pub fn count_attempt(host: &dyn Host, model_id: &str, status: u16, allowed_fails: u32) -> bool {
    if model_id.is_empty() {
        return false;
    }
    let key = cooldown_key(model_id);
    let failed = counts_as_failure(status);
    for _ in 0..CAS_ATTEMPTS {
        let (count, cas) = match host.shared_data_versioned(&key) {
            Some((raw, cas)) => (
                std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|t| t.parse::<u32>().ok())
                    .unwrap_or(0),
                Some(cas),
            ),
            None => (0, None),
        };
        let next = if failed { count.saturating_add(1) } else { 0 };
        let tripped = failed && next >= allowed_fails.max(1);
        let stored = if tripped { 0 } else { next };
        if stored == count && cas.is_some() {
            return false;
        }
        match host.set_shared_data(&key, stored.to_string().as_bytes(), cas) {
            Ok(()) => return tripped,
            Err(SharedWriteError::CasMismatch) => continue,
            Err(SharedWriteError::Failed) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;

    #[test]
    fn the_allowed_fails_th_consecutive_failure_cools_down_once_and_starts_again() {
        let host = MockHost::default();
        // Two failures, a success (reset), then three: one cooldown, on the third.
        assert!(!count_attempt(&host, "dep", 500, 3));
        assert!(!count_attempt(&host, "dep", 503, 3));
        assert!(!count_attempt(&host, "dep", 200, 3));
        assert!(!count_attempt(&host, "dep", 502, 3));
        assert!(!count_attempt(&host, "dep", 0, 3));
        assert!(count_attempt(&host, "dep", 500, 3));
        // The count starts again at 0.
        assert!(!count_attempt(&host, "dep", 500, 3));
        assert!(!count_attempt(&host, "dep", 500, 3));
        assert!(count_attempt(&host, "dep", 500, 3));
        // A 4xx is an answer: it resets, as in Envoy.
        assert!(!count_attempt(&host, "dep", 500, 2));
        assert!(!count_attempt(&host, "dep", 429, 2));
        assert!(!count_attempt(&host, "dep", 500, 2));
        assert!(count_attempt(&host, "dep", 500, 2));
        // Deployments count apart; allowed_fails 0 acts as 1 (Envoy's minimum).
        assert!(count_attempt(&host, "other", 500, 0));
        assert!(!count_attempt(&host, "", 500, 1));
    }

    #[test]
    fn two_workers_share_one_count() {
        let first = MockHost::default();
        let second = MockHost::worker_of(&first);
        assert!(!count_attempt(&first, "dep", 500, 2));
        assert!(count_attempt(&second, "dep", 500, 2));
    }
}
