//! Applies VirtualKeys to the keyservice through its LiteLLM key API:
//! `/key/update` for a key it holds, `/key/generate` with `key` for a new one, and
//! `/key/delete` for a key the operator applied earlier whose VirtualKey is gone.
//! Blocking HTTP/1.1 (the keyservice is a plain HTTP service in the cluster); the
//! controller calls it off the async runtime.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::reconcile::DesiredKey;

/// How long one key API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The keyservice's key API at `host:port`, called with the master key.
#[derive(Debug, Clone)]
pub struct KeyApi {
    /// The keyservice's host (name or address).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The master key (`Authorization: Bearer …`).
    pub master_key: String,
}

impl KeyApi {
    /// `host:port` as given (`keyservice:4001`); no scheme.
    pub fn parse(address: &str, master_key: String) -> Result<KeyApi, String> {
        let address = address.trim_start_matches("http://");
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("--keyservice {address}: expected HOST:PORT"))?;
        let port = port
            .parse()
            .map_err(|_| format!("--keyservice {address}: bad port {port:?}"))?;
        Ok(KeyApi {
            host: host.to_string(),
            port,
            master_key,
        })
    }

    /// One POST; (status, JSON body).
    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let bearer = format!("Bearer {}", self.master_key);
        let bytes = body.to_string();
        let (status, text) = switchyard::up::http_call(
            &self.host,
            self.port,
            "POST",
            path,
            &[
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(bytes.as_bytes()),
            CALL_TIMEOUT,
        )
        .map_err(|e| format!("keyservice {}:{}{path}: {e}", self.host, self.port))?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }
}

/// What the operator applied, by VirtualKey (`namespace/name`) → key value, so that a
/// deleted VirtualKey's key is deleted (and a changed value replaces the old key).
#[derive(Debug, Clone, Default)]
pub struct Applied(pub BTreeMap<String, String>);

/// Makes the keyservice hold exactly `desired` among the keys this operator applied.
/// Returns, per VirtualKey that failed, the error (for its status).
pub fn apply_keys(
    api: &KeyApi,
    desired: &[DesiredKey],
    applied: &mut Applied,
) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    let mut wanted = BTreeMap::new();
    for key in desired {
        let id = format!("{}/{}", key.object.namespace, key.object.name);
        // A VirtualKey whose value changed: the old key goes.
        if let Some(old) = applied.0.get(&id).filter(|old| **old != key.key).cloned() {
            if let Err(e) = delete(api, &old) {
                failures.push((id.clone(), e));
                continue;
            }
            applied.0.remove(&id);
        }
        match upsert(api, &key.body) {
            Ok(()) => {
                applied.0.insert(id.clone(), key.key.clone());
            }
            Err(e) => failures.push((id.clone(), e)),
        }
        wanted.insert(id, ());
    }
    let gone: Vec<(String, String)> = applied
        .0
        .iter()
        .filter(|(id, _)| !wanted.contains_key(*id))
        .map(|(id, k)| (id.clone(), k.clone()))
        .collect();
    for (id, key) in gone {
        match delete(api, &key) {
            Ok(()) => {
                applied.0.remove(&id);
            }
            Err(e) => failures.push((id, e)),
        }
    }
    failures
}

/// `/key/update`, or `/key/generate` when the keyservice does not hold the key.
fn upsert(api: &KeyApi, body: &Value) -> Result<(), String> {
    let (status, answer) = api.post("/key/update", body)?;
    match status {
        200 => Ok(()),
        404 => {
            let (status, answer) = api.post("/key/generate", body)?;
            if status == 200 {
                Ok(())
            } else {
                Err(format!("/key/generate answered {status}: {answer}"))
            }
        }
        _ => Err(format!("/key/update answered {status}: {answer}")),
    }
}

/// `/key/delete`; a key the keyservice no longer holds counts as deleted.
fn delete(api: &KeyApi, key: &str) -> Result<(), String> {
    let (status, answer) = api.post("/key/delete", &json!({"keys": [key]}))?;
    match status {
        200 | 404 => Ok(()),
        _ => Err(format!("/key/delete answered {status}: {answer}")),
    }
}
