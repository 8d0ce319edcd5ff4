//! A small in-memory cache with a time-to-live, for the check's hot lookups.
//!
//! The check reads a key, its user and its team on every request; each read is
//! served from here for `ttl` (2 s by default) before going back to the database. So a
//! block, a revocation or another keyservice's spend is seen everywhere within the
//! TTL; this process's own writes invalidate their entries at once. Absent records are
//! cached too (an unknown key does not hit the database on every request).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries above this count trigger a sweep of expired ones.
const SWEEP_AT: usize = 10_000;

/// A TTL cache from string ids to `Option<V>` (None = known absent).
pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<V>)>>,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache whose entries live `ttl`. A zero TTL caches nothing.
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value, if fresh: `Some(None)` means "cached as absent".
    pub fn get(&self, id: &str) -> Option<Option<V>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(id) {
            Some((at, v)) if at.elapsed() < self.ttl => Some(v.clone()),
            _ => None,
        }
    }

    /// Caches `value` for `id`.
    pub fn put(&self, id: &str, value: Option<V>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        entries.insert(id.to_string(), (Instant::now(), value));
    }

    /// Changes a fresh cached record in place (its age is kept); nothing when `id` is
    /// not cached, cached as absent, or expired.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut V)) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, Some(v))) = entries.get_mut(id) {
            if at.elapsed() < self.ttl {
                change(v);
            }
        }
    }

    /// Forgets `id`.
    pub fn invalidate(&self, id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_invalidated() {
        let c = TtlCache::new(Duration::from_millis(50));
        assert_eq!(c.get("a"), None);
        c.put("a", Some(1));
        c.put("b", None);
        assert_eq!(c.get("a"), Some(Some(1)));
        assert_eq!(c.get("b"), Some(None));
        c.invalidate("a");
        assert_eq!(c.get("a"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get("b"), None);
    }

    #[test]
    fn update_changes_fresh_records_only() {
        let c = TtlCache::new(Duration::from_millis(50));
        c.put("a", Some(1));
        c.put("absent", None);
        c.update("a", |v| *v += 2);
        c.update("absent", |v| *v += 2);
        c.update("missing", |v| *v += 2);
        assert_eq!(c.get("a"), Some(Some(3)));
        assert_eq!(c.get("absent"), Some(None));
        assert_eq!(c.get("missing"), None);
        std::thread::sleep(Duration::from_millis(60));
        c.update("a", |v| *v += 2);
        assert_eq!(c.get("a"), None);
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = TtlCache::new(Duration::ZERO);
        c.put("a", Some(1));
        assert_eq!(c.get("a"), None);
    }
}
