//! What the filter needs from its host (Envoy), as a trait.
//!
//! The stages in [`crate::stages::router`] and [`crate::stages::upstream`] talk to Envoy only through
//! [`Host`], so they run unchanged against [`MockHost`](tests::MockHost) in unit tests
//! and against the proxy-wasm ABI in the `glue` module. Every method is infallible
//! from the caller's side: a failed hostcall is logged by the implementation and
//! reads as "absent", never as a panic.

use crate::observe::record::AttemptRecord;

/// Whether Envoy should pass the current headers or body on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Pass on to the next filter.
    Continue,
    /// Hold (headers: stop iteration; body: keep buffering).
    Pause,
}

/// Log levels the filter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Operational detail.
    Debug,
    /// Normal events worth a line.
    Info,
    /// Something went wrong for one request.
    Warn,
    /// Something went wrong for the filter.
    Error,
}

/// Why a shared-data write ([`Host::set_shared_data`]) did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedWriteError {
    /// The value changed since it was read (its CAS version no longer matches):
    /// read it again and retry.
    CasMismatch,
    /// The host refused the write for another reason.
    Failed,
}

/// The kind of one Envoy stat the filter defines ([`Host::define_metric`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatKind {
    /// Only ever incremented.
    Counter,
    /// Set to a value.
    Gauge,
}

/// Access to the current HTTP stream.
pub trait Host {
    /// A request header (`:path`, `:method`, … included).
    fn request_header(&self, name: &str) -> Option<String>;
    /// Every request header, in one hostcall (lower-case names, `:path` & co.
    /// included). Cheaper than asking for several headers one by one.
    fn request_headers(&self) -> Vec<(String, String)>;
    /// Sets (`Some`) or removes (`None`) a request header.
    fn set_request_header(&mut self, name: &str, value: Option<&str>);
    /// A response header (`:status` included).
    fn response_header(&self, name: &str) -> Option<String>;
    /// Sets (`Some`) or removes (`None`) a response header.
    fn set_response_header(&mut self, name: &str, value: Option<&str>);
    /// The first `len` bytes of the request body buffered so far.
    fn request_body(&self, len: usize) -> Option<Vec<u8>>;
    /// Replaces the first `len` bytes of the buffered request body with `body`.
    fn replace_request_body(&mut self, len: usize, body: &[u8]);
    /// The first `len` bytes of the response body chunk (or buffer) at hand.
    fn response_body(&self, len: usize) -> Option<Vec<u8>>;
    /// Replaces the first `len` bytes of the response body at hand with `body`.
    fn replace_response_body(&mut self, len: usize, body: &[u8]);
    /// Answers the client directly; nothing goes upstream.
    fn send_local_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]);
    /// A property: filter state, or an Envoy attribute such as
    /// `xds.upstream_host_metadata`.
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// Sets a filter-state property that later filters of the request — the upstream
    /// stage on every attempt included — can read.
    fn set_property(&mut self, path: &[&str], value: &[u8]);
    /// Makes Envoy pick the route again after a routing header changed.
    fn clear_route_cache(&mut self);
    /// Writes a log line.
    fn log(&self, level: Level, message: &str);
    /// Wall-clock time, Unix seconds.
    fn now_unix_secs(&self) -> u64;
    /// Wall-clock time, Unix milliseconds.
    fn now_unix_millis(&self) -> u64 {
        self.now_unix_secs().saturating_mul(1000)
    }
    /// A value of the VM's shared data (shared by every worker of the Envoy
    /// process), e.g. a Google access token (`google_auth`); `None` when absent.
    fn shared_data(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    /// A value of the VM's shared data with its CAS version, for a later
    /// [`Host::set_shared_data`]; `None` when absent.
    fn shared_data_versioned(&self, _key: &str) -> Option<(Vec<u8>, u32)> {
        None
    }
    /// Writes a value of the VM's shared data: with `cas`, only if the value is
    /// still that version; with `None`, whatever is there.
    fn set_shared_data(
        &self,
        _key: &str,
        _value: &[u8],
        _cas: Option<u32>,
    ) -> Result<(), SharedWriteError> {
        Err(SharedWriteError::Failed)
    }
    /// Defines (or finds) the Envoy stat `name`, process-wide: every worker's VM that
    /// defines the same name reaches the same stat. Returns this VM's id for it.
    fn define_metric(&self, _kind: StatKind, _name: &str) -> Option<u32> {
        None
    }
    /// Adds `delta` to a stat ([`Host::define_metric`]'s id).
    fn increment_metric(&self, _id: u32, _delta: i64) {}
    /// Sets a gauge.
    fn record_metric(&self, _id: u32, _value: u64) {}
    /// A stat's current value (process-wide).
    fn get_metric(&self, _id: u32) -> Option<u64> {
        None
    }
    /// Queues a spend report (or a lease release), one JSON object, for the
    /// keyservice's `POST /spend/record`, at `now_ms` (Unix milliseconds). The host
    /// keeps it in its worker's queue and sends it later, with retries (the
    /// proxy-wasm glue: a sans-IO queue and reporter in `spend::queue`, ticked from
    /// the router stage's root context); the stage is done with it.
    fn queue_spend_report(&self, report: Vec<u8>, now_ms: u64);
    /// Queues an event (one batch item, see `observe::callbacks::envelope`) for the
    /// logging callback at `callback` (its index in the router stage's
    /// `callbacks.sinks`), at `now_ms`. The host keeps it in its worker's bounded
    /// queue for that callback and sends it later, batched, with bounded retries (the
    /// proxy-wasm glue: an `outbox::Outbox` per callback, ticked from the router
    /// stage's root context); never blocks, never fails the request.
    fn queue_callback_event(&self, callback: usize, event: Vec<u8>, now_ms: u64);
    /// Fills `buf` with random bytes from the host's source (the proxy-wasm glue:
    /// WASI's `random_get`). Call ids are drawn from it.
    fn random_bytes(&self, buf: &mut [u8]);
    /// Leaves the record of one upstream attempt (`attempt`: the attempt's own id;
    /// a second record under the same id replaces the first) for the end of request
    /// `call_id`, in this worker's attempt ledger ([`crate::observe::ledger`]).
    fn leave_attempt(&self, call_id: &str, attempt: u64, record: AttemptRecord);
    /// Takes every attempt record of request `call_id` from this worker's ledger.
    fn take_attempts(&self, call_id: &str) -> Vec<AttemptRecord>;
    /// The attempt records of request `call_id` so far, left in the ledger.
    fn peek_attempts(&self, call_id: &str) -> Vec<AttemptRecord>;
    /// Resumes a response whose body callback paused (returned [`Flow::Pause`] at its
    /// end), from a later callback of the same stream (a callout's answer).
    fn resume_response(&mut self) {}
    /// Sends a request of the filter's own (a callout) to Envoy cluster `cluster`:
    /// `headers` include `:method`, `:path` and `:authority`. Its answer comes back
    /// to the current stream's `on_http_call_response` with the returned token. `Err`
    /// (Envoy's reason) when Envoy refuses it, e.g. for an unknown cluster.
    fn dispatch_http_call(
        &mut self,
        _cluster: &str,
        _headers: &[(&str, &str)],
        _body: &[u8],
        _timeout_ms: u64,
    ) -> Result<u32, String> {
        Err("this host makes no calls of its own".into())
    }
}

/// The answer to a callout ([`Host::dispatch_http_call`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallAnswer {
    /// `:status`; 0 when the call got no answer (connection failure, timeout).
    pub status: u16,
    /// The answer's headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The answer's body.
    pub body: Vec<u8>,
}

/// A header's value in a [`Host::request_headers`] snapshot (names compared
/// ignoring ASCII case).
pub fn header_in<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Decodes the proxy-wasm header-map serialization: a little-endian `u32` count, then
/// each pair's key and value sizes (`u32` each), then each key and value followed by
/// a NUL. `None` when the bytes do not follow it.
pub fn decode_header_pairs(raw: &[u8]) -> Option<Vec<(String, String)>> {
    fn u32_at(raw: &[u8], at: usize) -> Option<usize> {
        let bytes: [u8; 4] = raw.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    }
    let count = u32_at(raw, 0)?;
    // Each pair takes at least 8 size bytes and 2 NULs: refuse absurd counts early.
    if count > raw.len() / 10 + 1 {
        return None;
    }
    let mut sizes_at = 4usize;
    let mut data_at = 4usize.checked_add(count.checked_mul(8)?)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let key_len = u32_at(raw, sizes_at)?;
        let value_len = u32_at(raw, sizes_at.checked_add(4)?)?;
        sizes_at = sizes_at.checked_add(8)?;
        let key_end = data_at.checked_add(key_len)?;
        let key = raw.get(data_at..key_end)?;
        let value_at = key_end.checked_add(1)?;
        let value_end = value_at.checked_add(value_len)?;
        let value = raw.get(value_at..value_end)?;
        if raw.get(key_end) != Some(&0) || raw.get(value_end) != Some(&0) {
            return None;
        }
        data_at = value_end.checked_add(1)?;
        out.push((
            String::from_utf8_lossy(key).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    Some(out)
}

// Test support, also built outside the crate's own tests with the `mock-host`
// feature (the fuzz targets in `fuzz/` drive the stages through it). Never part of
// the shipped filter, so the no-panic lints do not apply.
#[cfg(any(test, feature = "mock-host"))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub mod tests {
    //! An in-memory [`Host`] that records what the filter did.
    use super::*;

    /// A local reply the filter sent.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LocalReply {
        /// The status the filter answered with.
        pub status: u16,
        /// The reply's headers, in the order the filter set them.
        pub headers: Vec<(String, String)>,
        /// The reply's body.
        pub body: Vec<u8>,
    }

    impl LocalReply {
        /// The body parsed as JSON.
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
        /// A reply header.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// A callout the filter made ([`Host::dispatch_http_call`]).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Callout {
        /// The token the host handed back, for matching the answer to the call.
        pub token: u32,
        /// The Envoy cluster the call went to.
        pub cluster: String,
        /// The call's headers, pseudo-headers (`:method`, `:path`) included.
        pub headers: Vec<(String, String)>,
        /// The call's body.
        pub body: Vec<u8>,
        /// How long the filter let the call take.
        pub timeout_ms: u64,
    }

    impl Callout {
        /// A header of the call.
        pub fn header(&self, name: &str) -> Option<&str> {
            super::header_in(&self.headers, name)
        }
        /// The body parsed as JSON.
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// Headers, bodies and a log, all in memory.
    #[derive(Debug, Default)]
    pub struct MockHost {
        /// The request's headers as the filter sees (and changes) them.
        pub request_headers: Vec<(String, String)>,
        /// The response's headers as the filter sees (and changes) them.
        pub response_headers: Vec<(String, String)>,
        /// The request body buffered so far (the filter may replace it).
        pub request_body: Vec<u8>,
        /// The response body buffered so far (the filter may replace it).
        pub response_body: Vec<u8>,
        /// The local reply the filter sent, if it sent one.
        pub local_reply: Option<LocalReply>,
        /// How many stat updates (`increment_metric`, `record_metric`) were made.
        pub metric_updates: std::cell::Cell<usize>,
        /// How often the filter cleared Envoy's route cache (after changing a header routes use).
        pub route_cache_cleared: usize,
        /// Properties by path joined with `.`.
        pub properties: std::collections::HashMap<String, Vec<u8>>,
        /// Every line logged (`log` takes `&self`, hence the cell).
        pub logs: std::cell::RefCell<Vec<(Level, String)>>,
        /// The clock, in seconds since the epoch; a test sets and moves it.
        pub now: u64,
        /// Shared data by key.
        pub shared: std::collections::HashMap<String, Vec<u8>>,
        /// Callouts made, in order; tokens count from 1.
        pub calls: Vec<Callout>,
        /// Refuse callouts to this cluster (as Envoy does for an unknown one).
        pub refuse_cluster: Option<String>,
        /// How often a paused response was resumed.
        pub responses_resumed: usize,
        /// The Envoy process this host's worker belongs to: its stats and its shared
        /// data with CAS. Hosts that share one ([`MockHost::worker_of`]) are
        /// workers of one Envoy.
        pub process: std::rc::Rc<MockProcess>,
        /// This worker VM's metric ids: id `n` (from [`MOCK_METRIC_ID_BASE`]) is the
        /// process stat at `metric_ids[n - base]`. Shared by the requests of one
        /// worker ([`MockHost::on_worker_of`]).
        pub metric_ids: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
        /// Spend reports queued ([`Host::queue_spend_report`]) and not yet taken
        /// ([`MockHost::take_spend_reports`]), oldest first (`queue_spend_report`
        /// takes `&self`, hence the cell).
        pub spend_reports: std::cell::RefCell<Vec<Vec<u8>>>,
        /// Callback events queued ([`Host::queue_callback_event`]) and not yet taken
        /// ([`MockHost::take_callback_events`]): `(callback, event, now_ms)`.
        pub callback_events: std::cell::RefCell<Vec<(usize, Vec<u8>, u64)>>,
        /// The randomness drawn so far: [`Host::random_bytes`] fills from a counter,
        /// so that tests are reproducible and every draw differs.
        pub random_draws: std::cell::Cell<u64>,
        /// This "worker"'s attempt ledger ([`Host::leave_attempt`]).
        pub ledger: std::cell::RefCell<crate::observe::ledger::AttemptLedger>,
    }

    /// The first metric id a [`MockHost`] hands out: ids are per worker VM (as in
    /// Envoy), and differ from the process's stat indexes so that a mixed-up id shows.
    pub const MOCK_METRIC_ID_BASE: u32 = 100;

    /// What the workers of one Envoy process share: its stats (by name, with kind
    /// and value) and the VM's shared data (value and CAS version).
    #[derive(Debug, Default)]
    pub struct MockProcess {
        /// Every stat defined, in definition order.
        pub stats: std::cell::RefCell<Vec<(String, StatKind, u64)>>,
        /// Shared data: value and CAS version.
        pub shared: std::cell::RefCell<std::collections::HashMap<String, (Vec<u8>, u32)>>,
        /// The last CAS version handed out.
        pub last_cas: std::cell::Cell<u32>,
        /// Writes another worker makes just before this process's next write with a
        /// CAS to the same key (a race a test stages): applied first, so that write
        /// then sees a changed version.
        pub racing_writes: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
        /// How many writes failed for a CAS mismatch.
        pub cas_mismatches: std::cell::Cell<u32>,
    }

    impl MockProcess {
        /// A stat's value by name.
        pub fn stat(&self, name: &str) -> Option<u64> {
            self.stats
                .borrow()
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, v)| *v)
        }

        fn write(&self, key: &str, value: &[u8]) {
            let cas = self.last_cas.get() + 1;
            self.last_cas.set(cas);
            self.shared
                .borrow_mut()
                .insert(key.to_string(), (value.to_vec(), cas));
        }
    }

    fn get(map: &[(String, String)], name: &str) -> Option<String> {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn set(map: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
        map.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            map.push((name.to_string(), v.to_string()));
        }
    }

    fn replace(buf: &mut Vec<u8>, len: usize, body: &[u8]) {
        let len = len.min(buf.len());
        buf.splice(..len, body.iter().copied());
    }

    impl MockHost {
        /// A host holding a request with these headers.
        pub fn with_request(headers: &[(&str, &str)], body: &[u8]) -> Self {
            MockHost {
                request_headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                request_body: body.to_vec(),
                now: 1_700_000_000,
                ..Default::default()
            }
        }
        /// Another worker of this host's Envoy process: same stats and shared data,
        /// its own VM (metric ids) and its own stream.
        pub fn worker_of(other: &MockHost) -> Self {
            MockHost {
                process: std::rc::Rc::clone(&other.process),
                now: other.now,
                ..Default::default()
            }
        }
        /// This request on the worker VM `other` is on (same process, same metric
        /// ids), as the next request a stage sees there.
        pub fn on_worker_of(mut self, other: &MockHost) -> Self {
            self.process = std::rc::Rc::clone(&other.process);
            self.metric_ids = std::rc::Rc::clone(&other.metric_ids);
            self
        }
        /// The request body as JSON.
        pub fn request_json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.request_body).unwrap()
        }
        /// A request header, for assertions.
        pub fn req(&self, name: &str) -> Option<String> {
            get(&self.request_headers, name)
        }
        /// A response header, for assertions.
        pub fn resp(&self, name: &str) -> Option<String> {
            get(&self.response_headers, name)
        }
        /// The callback events queued since the last call, oldest first.
        pub fn take_callback_events(&self) -> Vec<(usize, Vec<u8>, u64)> {
            std::mem::take(&mut *self.callback_events.borrow_mut())
        }
        /// The spend reports queued since the last call, oldest first.
        pub fn take_spend_reports(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut *self.spend_reports.borrow_mut())
        }
    }

    impl Host for MockHost {
        fn request_header(&self, name: &str) -> Option<String> {
            get(&self.request_headers, name)
        }
        fn request_headers(&self) -> Vec<(String, String)> {
            self.request_headers.clone()
        }
        fn set_request_header(&mut self, name: &str, value: Option<&str>) {
            set(&mut self.request_headers, name, value)
        }
        fn response_header(&self, name: &str) -> Option<String> {
            get(&self.response_headers, name)
        }
        fn set_response_header(&mut self, name: &str, value: Option<&str>) {
            set(&mut self.response_headers, name, value)
        }
        fn request_body(&self, len: usize) -> Option<Vec<u8>> {
            Some(self.request_body[..len.min(self.request_body.len())].to_vec())
        }
        fn replace_request_body(&mut self, len: usize, body: &[u8]) {
            replace(&mut self.request_body, len, body)
        }
        fn response_body(&self, len: usize) -> Option<Vec<u8>> {
            Some(self.response_body[..len.min(self.response_body.len())].to_vec())
        }
        fn replace_response_body(&mut self, len: usize, body: &[u8]) {
            replace(&mut self.response_body, len, body)
        }
        fn send_local_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
            assert!(
                self.local_reply.is_none(),
                "two local replies for one request"
            );
            self.local_reply = Some(LocalReply {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
            });
        }
        fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
            self.properties.get(&path.join(".")).cloned()
        }
        fn set_property(&mut self, path: &[&str], value: &[u8]) {
            self.properties.insert(path.join("."), value.to_vec());
        }
        fn clear_route_cache(&mut self) {
            self.route_cache_cleared += 1;
        }
        fn log(&self, level: Level, message: &str) {
            self.logs.borrow_mut().push((level, message.to_string()));
        }
        fn now_unix_secs(&self) -> u64 {
            self.now
        }
        fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
            self.shared
                .get(key)
                .cloned()
                .or_else(|| self.shared_data_versioned(key).map(|(v, _)| v))
        }
        fn shared_data_versioned(&self, key: &str) -> Option<(Vec<u8>, u32)> {
            self.process.shared.borrow().get(key).cloned()
        }
        fn set_shared_data(
            &self,
            key: &str,
            value: &[u8],
            cas: Option<u32>,
        ) -> Result<(), SharedWriteError> {
            if cas.is_some() {
                let mut racing = self.process.racing_writes.borrow_mut();
                let (now, later): (Vec<_>, Vec<_>) = racing.drain(..).partition(|(k, _)| k == key);
                *racing = later;
                drop(racing);
                for (k, v) in now {
                    self.process.write(&k, &v);
                }
            }
            // Envoy's SharedData::set: a CAS is checked only against an existing value.
            let current = self.process.shared.borrow().get(key).map(|(_, c)| *c);
            if let (Some(cas), Some(current)) = (cas, current) {
                if cas != 0 && cas != current {
                    self.process
                        .cas_mismatches
                        .set(self.process.cas_mismatches.get() + 1);
                    return Err(SharedWriteError::CasMismatch);
                }
            }
            self.process.write(key, value);
            Ok(())
        }
        fn define_metric(&self, kind: StatKind, name: &str) -> Option<u32> {
            let mut stats = self.process.stats.borrow_mut();
            let index = match stats.iter().position(|(n, _, _)| n == name) {
                Some(i) => i,
                None => {
                    stats.push((name.to_string(), kind, 0));
                    stats.len() - 1
                }
            };
            let mut ids = self.metric_ids.borrow_mut();
            let local = match ids.iter().position(|i| *i == index) {
                Some(l) => l,
                None => {
                    ids.push(index);
                    ids.len() - 1
                }
            };
            Some(MOCK_METRIC_ID_BASE + u32::try_from(local).unwrap())
        }
        fn increment_metric(&self, id: u32, delta: i64) {
            self.metric_updates.set(self.metric_updates.get() + 1);
            let index = self.metric_ids.borrow()[(id - MOCK_METRIC_ID_BASE) as usize];
            let mut stats = self.process.stats.borrow_mut();
            let stat = &mut stats[index];
            assert_eq!(stat.1, StatKind::Counter, "increment of a gauge {}", stat.0);
            stat.2 = stat.2.checked_add_signed(delta).unwrap();
        }
        fn record_metric(&self, id: u32, value: u64) {
            self.metric_updates.set(self.metric_updates.get() + 1);
            let index = self.metric_ids.borrow()[(id - MOCK_METRIC_ID_BASE) as usize];
            let mut stats = self.process.stats.borrow_mut();
            let stat = &mut stats[index];
            assert_eq!(stat.1, StatKind::Gauge, "record of a counter {}", stat.0);
            stat.2 = value;
        }
        fn get_metric(&self, id: u32) -> Option<u64> {
            let index = *self
                .metric_ids
                .borrow()
                .get(id.checked_sub(MOCK_METRIC_ID_BASE)? as usize)?;
            Some(self.process.stats.borrow()[index].2)
        }
        fn queue_spend_report(&self, report: Vec<u8>, _now_ms: u64) {
            self.spend_reports.borrow_mut().push(report);
        }
        fn queue_callback_event(&self, callback: usize, event: Vec<u8>, now_ms: u64) {
            self.callback_events
                .borrow_mut()
                .push((callback, event, now_ms));
        }
        fn resume_response(&mut self) {
            self.responses_resumed += 1;
        }
        fn random_bytes(&self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let n = self.random_draws.get() + 1;
                self.random_draws.set(n);
                // SplitMix64 of the counter: distinct, reproducible, well spread.
                let mut z = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                let bytes = z.to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }
        fn leave_attempt(&self, call_id: &str, attempt: u64, record: AttemptRecord) {
            self.ledger.borrow_mut().leave(call_id, attempt, record);
        }
        fn take_attempts(&self, call_id: &str) -> Vec<AttemptRecord> {
            self.ledger.borrow_mut().take(call_id)
        }
        fn peek_attempts(&self, call_id: &str) -> Vec<AttemptRecord> {
            self.ledger.borrow().peek(call_id)
        }
        fn dispatch_http_call(
            &mut self,
            cluster: &str,
            headers: &[(&str, &str)],
            body: &[u8],
            timeout_ms: u64,
        ) -> Result<u32, String> {
            if self.refuse_cluster.as_deref() == Some(cluster) {
                return Err("BadArgument".into());
            }
            let token = u32::try_from(self.calls.len()).unwrap() + 1;
            self.calls.push(Callout {
                token,
                cluster: cluster.to_string(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
                timeout_ms,
            });
            Ok(token)
        }
    }
}

#[cfg(test)]
mod header_pair_tests {
    use super::*;

    /// Serializes pairs the way Envoy does for `proxy_get_header_map_pairs`.
    fn encode(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k.as_bytes());
            out.push(0);
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn decodes_envoy_header_pairs() {
        let pairs = [
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("x-empty", ""),
            ("authorization", "Bearer sk-é"),
        ];
        let decoded = decode_header_pairs(&encode(&pairs)).unwrap();
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(header_in(&decoded, "AUTHORIZATION"), Some("Bearer sk-é"));
        assert_eq!(header_in(&decoded, "x-missing"), None);
        assert_eq!(decode_header_pairs(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn refuses_malformed_serializations_without_panicking() {
        let good = encode(&[("a", "1"), ("bb", "22")]);
        // Every truncation is refused.
        for cut in 0..good.len() {
            assert_eq!(decode_header_pairs(&good[..cut]), None, "cut at {cut}");
        }
        // Sizes pointing past the end, and absurd counts.
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_header_pairs(&bad), None);
        assert_eq!(decode_header_pairs(&u32::MAX.to_le_bytes()), None);
    }
}
