//! Google access tokens for Vertex AI deployments, as the upstream stage's root
//! context keeps them (the sans-IO part is `crate::google_auth`).
//!
//! One [`TokenRecord`] per service account lives in proxy-wasm shared data, so all
//! workers of the Envoy process share one token. On every tick (each second; every
//! 20 ms while requests wait) the root context of each worker looks at the records
//! of its accounts: a worker that finds a token missing or due for refresh claims
//! the fetch with a compare-and-swap write (only one wins), signs the JWT and sends
//! it to the token endpoint with `dispatch_http_call`; the answer is written back
//! for everyone. A request that finds no usable token is paused by the upstream
//! stage and parked here; the tick (or the fetch's answer) resumes it with
//! `authorization: Bearer <token>`, or answers it with the fetch's error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::abi;
use crate::error::GatewayError;
use crate::google_auth::{parse_token_response, TokenRecord, TokenState};
use crate::stages::upstream::GoogleAuth;

/// The tick while nothing waits: refreshes are noticed within a second.
pub const SLOW_TICK_MS: u32 = 1000;
/// The tick while requests wait for a token.
const FAST_TICK_MS: u32 = 20;
/// How long the token endpoint may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    /// Requests of this worker paused for a token: (HTTP context id, account key).
    static WAITERS: RefCell<Vec<(u32, String)>> = const { RefCell::new(Vec::new()) };
}

fn now_secs() -> u64 {
    abi::now_nanos().map(|n| n / 1_000_000_000).unwrap_or(0)
}

fn warn(message: &str) {
    let _ = abi::log(3, message);
}

/// Parks a paused request until its account's token is there; the tick speeds up.
pub fn park(context_id: u32, key: &str) {
    WAITERS.with(|w| w.borrow_mut().push((context_id, key.to_string())));
    // From an HTTP context this sets its root context's tick.
    if let Err(s) = abi::set_tick_period_ms(FAST_TICK_MS) {
        warn(&format!(
            "switchyard: set tick period failed with status {}",
            s.0
        ));
    }
}

/// Forgets a request that ended (the client left, a timeout) while parked.
pub fn unpark(context_id: u32) {
    WAITERS.with(|w| w.borrow_mut().retain(|(id, _)| *id != context_id));
}

/// Resumes or fails the parked requests of `key` per `state`; `Wait` keeps them.
fn release(key: &str, state: &TokenState) {
    if *state == TokenState::Wait {
        return;
    }
    let ready: Vec<u32> = WAITERS.with(|w| {
        let mut w = w.borrow_mut();
        let ids = w
            .iter()
            .filter(|(_, k)| k == key)
            .map(|(id, _)| *id)
            .collect();
        w.retain(|(_, k)| k != key);
        ids
    });
    for id in ready {
        // A context that is gone (the client left) cannot be made effective.
        if abi::set_effective_context(id).is_err() {
            continue;
        }
        let outcome = match state {
            TokenState::Ready(token) => abi::set_header(
                abi::REQUEST_HEADERS,
                "authorization",
                Some(&format!("Bearer {token}")),
            )
            .and_then(|()| abi::resume_request()),
            TokenState::Failed(status, message) => {
                let err = GatewayError::new(*status, message.clone());
                abi::send_local_response(
                    err.status,
                    &[("content-type", "application/json")],
                    &err.to_body(),
                )
            }
            TokenState::Wait => Ok(()),
        };
        if let Err(s) = outcome {
            warn(&format!(
                "switchyard: resuming a request that waited for a Google token failed with status {}",
                s.0
            ));
        }
    }
}

/// A root context's accounts and its fetches in flight.
pub struct TokenKeeper {
    accounts: Vec<Arc<GoogleAuth>>,
    /// Callout token → index into `accounts`.
    in_flight: HashMap<u32, usize>,
    /// Fetch a missing token before any request needs it (the serving VM, so that the
    /// first request does not wait); else only once a request waits (the health-probe
    /// VM, whose probes are rare: no token fetched at every start for nothing).
    eager: bool,
}

impl TokenKeeper {
    /// Keeps the tokens of `accounts`, fetching ahead of need when `eager`.
    pub fn new(accounts: Vec<Arc<GoogleAuth>>, eager: bool) -> TokenKeeper {
        TokenKeeper {
            accounts,
            in_flight: HashMap::new(),
            eager,
        }
    }

    /// Looks at every account: fetch when due, release what can be released.
    /// Returns the tick period the keeper wants next (milliseconds).
    pub fn on_tick(&mut self) -> u32 {
        let now = now_secs();
        let waiting = WAITERS.with(|w| !w.borrow().is_empty());
        for i in 0..self.accounts.len() {
            let Some(auth) = self.accounts.get(i).cloned() else {
                continue;
            };
            let (raw, cas) = match abi::get_shared_data(&auth.key) {
                Ok(v) => v,
                Err(s) => {
                    warn(&format!(
                        "switchyard: get shared data failed with status {}",
                        s.0
                    ));
                    continue;
                }
            };
            let record = TokenRecord::decode(raw.as_deref());
            if record.needs_fetch(now) && (self.eager || waiting) {
                let claimed = record.claimed(now);
                // Only the worker whose write lands fetches.
                if abi::set_shared_data(&auth.key, &claimed.encode(), cas).is_ok() {
                    self.fetch(i, &auth, now);
                    continue;
                }
            }
            release(&auth.key, &record.state(now));
        }
        if WAITERS.with(|w| !w.borrow().is_empty()) {
            FAST_TICK_MS
        } else {
            SLOW_TICK_MS
        }
    }

    fn fetch(&mut self, index: usize, auth: &GoogleAuth, now: u64) {
        let request = match auth.account.token_request(now) {
            Ok(r) => r,
            Err(e) => return self.complete(auth, now, Err((503, e))),
        };
        let headers = vec![
            (":method", "POST"),
            (":path", request.path.as_str()),
            (":authority", request.authority.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        // The SDK's call registers the callout with its dispatcher, so the answer
        // comes back to this root context.
        match proxy_wasm::hostcalls::dispatch_http_call(
            &auth.cluster,
            headers,
            Some(request.body.as_bytes()),
            vec![],
            FETCH_TIMEOUT,
        ) {
            Ok(token) => {
                self.in_flight.insert(token, index);
            }
            Err(e) => self.complete(
                auth,
                now,
                Err((
                    503,
                    format!(
                        "Could not get a Vertex AI access token: calling {} (cluster {}) failed: {e:?}",
                        auth.account.token_uri, auth.cluster
                    ),
                )),
            ),
        }
    }

    /// Writes a fetch's outcome for every worker and releases this worker's
    /// waiters.
    fn complete(&self, auth: &GoogleAuth, now: u64, result: Result<(String, u64), (u16, String)>) {
        if let Err((_, message)) = &result {
            warn(&format!("switchyard: {message}"));
        }
        let (raw, _) = abi::get_shared_data(&auth.key).unwrap_or((None, None));
        let record = TokenRecord::decode(raw.as_deref()).completed(now, result);
        if let Err(s) = abi::set_shared_data(&auth.key, &record.encode(), None) {
            warn(&format!(
                "switchyard: set shared data failed with status {}",
                s.0
            ));
        }
        release(&auth.key, &record.state(now));
    }

    /// A callout answered; `false` when it was not one of this keeper's fetches.
    pub fn on_http_call_response(&mut self, token: u32, body_size: usize) -> bool {
        let Some(index) = self.in_flight.remove(&token) else {
            return false;
        };
        let Some(auth) = self.accounts.get(index).cloned() else {
            return true;
        };
        let status = abi::get_header(abi::HTTP_CALL_RESPONSE_HEADERS, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let body = abi::get_buffer(abi::HTTP_CALL_RESPONSE_BODY, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let result = parse_token_response(&auth.account.token_uri, status, &body);
        self.complete(&auth, now_secs(), result);
        true
    }
}
