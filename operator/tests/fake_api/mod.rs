//! A strict fake Kubernetes API server for Switchyard's kinds, speaking the real
//! list/watch protocol (what kube-rs' watcher and client send, and what an API server
//! answers):
//!
//! - `GET /apis/switchyard.dev/v1alpha1[/namespaces/NS]/PLURAL?limit=…&resourceVersion=…`:
//!   a `…List` with `metadata.resourceVersion`;
//! - `…?watch=true&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=…`: a
//!   stream of newline-delimited `{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object"}`
//!   events after RV; an RV older than the compacted history gets the API server's
//!   answer, an `ERROR` event with a `Status` of code 410 (Gone);
//! - `PATCH …/PLURAL/NAME/status` (merge patch) and `PUT …/status`: the status
//!   subresource (the spec is left alone; a new resourceVersion, a MODIFIED event);
//! - `GET /api/v1/namespaces/NS/secrets/NAME`;
//! - `POST /apis/events.k8s.io/v1/namespaces/NS/events`.
//!
//! Anything else (another path, method, query parameter or content type) is answered
//! 400/404/405/415 and recorded in `rejected`, which a test asserts is empty.

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The kinds this server serves: plural → kind.
pub const KINDS: &[(&str, &str)] = &[
    ("modelgroups", "ModelGroup"),
    ("routersettings", "RouterSettings"),
    ("virtualkeys", "VirtualKey"),
];

const PREFIX: &str = "/apis/switchyard.dev/v1alpha1";
const LIST_PARAMS: &[&str] = &[
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "labelSelector",
    "fieldSelector",
];
const WATCH_PARAMS: &[&str] = &[
    "watch",
    "resourceVersion",
    "allowWatchBookmarks",
    "timeoutSeconds",
    "labelSelector",
    "fieldSelector",
    "sendInitialEvents",
    "resourceVersionMatch",
];
const PATCH_PARAMS: &[&str] = &["fieldManager", "force", "dryRun", "fieldValidation"];

/// The server's state.
#[derive(Default)]
pub struct World {
    /// The last resourceVersion given out.
    pub rv: u64,
    /// (plural, namespace, name) → object.
    pub objects: BTreeMap<(String, String, String), Value>,
    /// (namespace, name) → Secret data (key → plaintext).
    pub secrets: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Every change: (rv, plural, event type, object).
    pub history: Vec<(u64, String, String, Value)>,
    /// Watches from an RV below this are answered 410.
    pub compacted_below: u64,
    /// Events posted.
    pub events: Vec<Value>,
    /// Status writes: (plural, name, status).
    pub status_writes: Vec<(String, String, Value)>,
    /// Requests refused, as `METHOD path?query: why`.
    pub rejected: Vec<String>,
    /// Every request line, for debugging a failure.
    pub log: Vec<String>,
    /// How many 410s were served.
    pub gone_served: u32,
    /// How many lists were served, per plural.
    pub lists: BTreeMap<String, u32>,
}

/// The fake server: its state and the channel its watches follow.
#[derive(Clone)]
pub struct FakeApi {
    /// The state.
    pub world: Arc<Mutex<World>>,
    changes: broadcast::Sender<(u64, String, Value)>,
    /// Bumped to end every open watch (as an API server restart would).
    close: broadcast::Sender<()>,
}

impl FakeApi {
    pub fn new() -> FakeApi {
        FakeApi {
            world: Arc::default(),
            changes: broadcast::channel(1024).0,
            close: broadcast::channel(16).0,
        }
    }

    /// Serves on 127.0.0.1; returns the base URL.
    pub async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = self.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let api = api.clone();
                async move { api.handle(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}")
    }

    /// Creates or replaces an object (kind from `plural`), as `kubectl apply` would:
    /// a new resourceVersion, generation bumped on a spec change, an event.
    pub fn apply(&self, plural: &str, namespace: &str, name: &str, spec: Value) {
        self.apply_inner(plural, namespace, name, spec, true);
    }

    fn apply_inner(&self, plural: &str, namespace: &str, name: &str, spec: Value, broadcast: bool) {
        let mut world = self.world.lock().unwrap();
        world.rv += 1;
        let rv = world.rv;
        let kind = KINDS.iter().find(|(p, _)| *p == plural).unwrap().1;
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        let (event, object) = match world.objects.get(&key) {
            Some(old) => {
                let mut object = old.clone();
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
                object["spec"] = spec;
                object["metadata"]["generation"] = json!(generation);
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                ("MODIFIED", object)
            }
            None => (
                "ADDED",
                json!({
                    "apiVersion": "switchyard.dev/v1alpha1",
                    "kind": kind,
                    "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{plural}-{name}"), "generation": 1, "resourceVersion": rv.to_string()},
                    "spec": spec,
                }),
            ),
        };
        world.objects.insert(key, object.clone());
        if broadcast {
            self.record(&mut world, rv, plural, event, object);
        }
    }

    /// Deletes an object (a DELETED event).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) {
        let mut world = self.world.lock().unwrap();
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        let Some(mut object) = world.objects.remove(&key) else {
            return;
        };
        world.rv += 1;
        let rv = world.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.record(&mut world, rv, plural, "DELETED", object);
    }

    /// Creates an object no watch is told about, then [`compact_and_drop_watches`]:
    /// a watcher can only learn of it by listing again after its 410.
    pub fn apply_then_compact(&self, plural: &str, namespace: &str, name: &str, spec: Value) {
        self.apply_inner(plural, namespace, name, spec, false);
        self.compact_and_drop_watches();
    }

    /// Forgets the history (etcd compaction) and ends every watch: a watcher resuming
    /// from its last resourceVersion then gets 410 Gone and must list again.
    pub fn compact_and_drop_watches(&self) {
        {
            let mut world = self.world.lock().unwrap();
            world.compacted_below = world.rv + 1;
            world.history.clear();
        }
        let _ = self.close.send(());
    }

    fn record(&self, world: &mut World, rv: u64, plural: &str, event: &str, object: Value) {
        world
            .history
            .push((rv, plural.to_string(), event.to_string(), object.clone()));
        let _ = self.changes.send((
            rv,
            plural.to_string(),
            json!({"type": event, "object": object}),
        ));
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let query: BTreeMap<String, String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let line = format!("{method} {uri}");
        self.world.lock().unwrap().log.push(line.clone());
        let path = uri.path().to_string();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let reject = |status: StatusCode, why: &str| -> Response {
            self.world
                .lock()
                .unwrap()
                .rejected
                .push(format!("{line}: {why}"));
            status_response(status, why)
        };
        let unknown_param = |allowed: &[&str]| {
            query
                .keys()
                .find(|k| !allowed.contains(&k.as_str()))
                .cloned()
        };
        // Secrets.
        if let ["api", "v1", "namespaces", ns, "secrets", name] = segments.as_slice() {
            if method != Method::GET {
                return reject(StatusCode::METHOD_NOT_ALLOWED, "secrets are read only here");
            }
            if let Some(p) = unknown_param(&[]) {
                return reject(StatusCode::BAD_REQUEST, &format!("unknown parameter {p}"));
            }
            let world = self.world.lock().unwrap();
            return match world.secrets.get(&(ns.to_string(), name.to_string())) {
                Some(data) => {
                    let data: BTreeMap<&String, String> = data
                        .iter()
                        .map(|(k, v)| (k, base64(v.as_bytes())))
                        .collect();
                    json_response(
                        StatusCode::OK,
                        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data}),
                    )
                }
                None => status_response(
                    StatusCode::NOT_FOUND,
                    &format!("secrets \"{name}\" not found"),
                ),
            };
        }
        // Events.
        if let ["apis", "events.k8s.io", "v1", "namespaces", _ns, "events"] = segments.as_slice() {
            if method != Method::POST {
                return reject(StatusCode::METHOD_NOT_ALLOWED, "events: POST only");
            }
            let Ok(event) = serde_json::from_slice::<Value>(&body) else {
                return reject(StatusCode::BAD_REQUEST, "an event must be JSON");
            };
            if event["kind"] != "Event"
                || event["regarding"]["kind"].as_str().is_none()
                || event["reason"].as_str().is_none()
            {
                return reject(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "an event needs kind Event, regarding and reason",
                );
            }
            self.world.lock().unwrap().events.push(event.clone());
            return json_response(StatusCode::CREATED, event);
        }
        if let ["apis", "events.k8s.io", "v1", "namespaces", _ns, "events", _name] =
            segments.as_slice()
        {
            // The recorder patches an event it posted before (a series); accept.
            if method == Method::PATCH {
                return json_response(StatusCode::OK, json!({}));
            }
        }
        // Switchyard's kinds.
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return reject(StatusCode::NOT_FOUND, "unknown path");
        };
        let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let (namespace, plural, name, sub) = match parts.as_slice() {
            [plural] => (None, *plural, None, None),
            ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
            ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
            ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
            _ => return reject(StatusCode::NOT_FOUND, "unknown path"),
        };
        let Some(kind) = KINDS.iter().find(|(p, _)| *p == plural).map(|(_, k)| *k) else {
            return reject(StatusCode::NOT_FOUND, "unknown resource");
        };
        match (method.clone(), name, sub) {
            (Method::GET, None, None) if query.get("watch").map(String::as_str) == Some("true") => {
                if let Some(p) = unknown_param(WATCH_PARAMS) {
                    return reject(StatusCode::BAD_REQUEST, &format!("unknown parameter {p}"));
                }
                let Some(rv) = query
                    .get("resourceVersion")
                    .and_then(|v| v.parse::<u64>().ok())
                else {
                    return reject(StatusCode::BAD_REQUEST, "a watch needs a resourceVersion");
                };
                self.watch(
                    plural,
                    namespace,
                    rv,
                    query.get("allowWatchBookmarks").map(String::as_str) == Some("true"),
                )
            }
            (Method::GET, None, None) => {
                if let Some(p) = unknown_param(LIST_PARAMS) {
                    return reject(StatusCode::BAD_REQUEST, &format!("unknown parameter {p}"));
                }
                if query.contains_key("continue") {
                    return reject(StatusCode::BAD_REQUEST, "no continue token was given out");
                }
                let mut world = self.world.lock().unwrap();
                *world.lists.entry(plural.to_string()).or_default() += 1;
                let items: Vec<Value> = world
                    .objects
                    .iter()
                    .filter(|((p, ns, _), _)| p == plural && namespace.is_none_or(|n| n == ns))
                    .map(|(_, o)| o.clone())
                    .collect();
                json_response(
                    StatusCode::OK,
                    json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": format!("{kind}List"), "metadata": {"resourceVersion": world.rv.to_string()}, "items": items}),
                )
            }
            (Method::PATCH | Method::PUT, Some(name), Some("status")) => {
                if let Some(p) = unknown_param(PATCH_PARAMS) {
                    return reject(StatusCode::BAD_REQUEST, &format!("unknown parameter {p}"));
                }
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let expected = if method == Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                if content_type != expected {
                    return reject(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        &format!("content-type {content_type:?}, expected {expected}"),
                    );
                }
                let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
                    return reject(StatusCode::BAD_REQUEST, "the body must be JSON");
                };
                let Some(namespace) = namespace else {
                    return reject(StatusCode::NOT_FOUND, "status needs a namespace");
                };
                let extra: Vec<&String> = patch
                    .as_object()
                    .map(|o| {
                        o.keys()
                            .filter(|k| {
                                !["status", "apiVersion", "kind", "metadata"].contains(&k.as_str())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !extra.is_empty() {
                    return reject(
                        StatusCode::BAD_REQUEST,
                        &format!("a status write may not change {extra:?}"),
                    );
                }
                let mut world = self.world.lock().unwrap();
                let key = (plural.to_string(), namespace.to_string(), name.to_string());
                let Some(mut object) = world.objects.get(&key).cloned() else {
                    drop(world);
                    return status_response(
                        StatusCode::NOT_FOUND,
                        &format!("{plural} \"{name}\" not found"),
                    );
                };
                world.rv += 1;
                let rv = world.rv;
                object["status"] = patch["status"].clone();
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                world.objects.insert(key, object.clone());
                world.status_writes.push((
                    plural.to_string(),
                    name.to_string(),
                    patch["status"].clone(),
                ));
                self.record(&mut world, rv, plural, "MODIFIED", object.clone());
                json_response(StatusCode::OK, object)
            }
            _ => reject(StatusCode::METHOD_NOT_ALLOWED, "not served"),
        }
    }

    fn watch(&self, plural: &str, namespace: Option<&str>, rv: u64, bookmarks: bool) -> Response {
        let (tx, rx) =
            tokio::sync::mpsc::unbounded_channel::<Result<Bytes, std::convert::Infallible>>();
        let line = |v: Value| Ok(Bytes::from(format!("{v}\n")));
        let mut changes = self.changes.subscribe();
        let mut close = self.close.subscribe();
        {
            let mut world = self.world.lock().unwrap();
            if rv != 0 && rv < world.compacted_below {
                world.gone_served += 1;
                let _ = tx.send(line(json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": format!("too old resource version: {rv} ({})", world.compacted_below), "reason": "Expired", "code": 410}})));
                drop(tx);
                return stream_response(rx);
            }
            for (event_rv, p, event, object) in &world.history {
                if *event_rv > rv
                    && p == plural
                    && namespace.is_none_or(|n| object["metadata"]["namespace"] == n)
                {
                    let _ = tx.send(line(json!({"type": event, "object": object})));
                }
            }
            if bookmarks {
                let kind = KINDS
                    .iter()
                    .find(|(p, _)| *p == plural)
                    .map(|(_, k)| *k)
                    .unwrap_or("");
                let _ = tx.send(line(json!({"type": "BOOKMARK", "object": {"apiVersion": "switchyard.dev/v1alpha1", "kind": kind, "metadata": {"resourceVersion": world.rv.to_string()}}})));
            }
        }
        let plural = plural.to_string();
        let namespace = namespace.map(str::to_string);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    change = changes.recv() => {
                        let Ok((event_rv, p, event)) = change else { break };
                        if event_rv > rv && p == plural && namespace.as_deref().is_none_or(|n| event["object"]["metadata"]["namespace"] == n) && tx.send(Ok(Bytes::from(format!("{event}\n")))).is_err() {
                            break;
                        }
                    }
                    _ = close.recv() => break,
                }
            }
        });
        stream_response(rx)
    }
}

fn stream_response(
    rx: tokio::sync::mpsc::UnboundedReceiver<Result<Bytes, std::convert::Infallible>>,
) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn json_response(status: StatusCode, value: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

fn status_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "code": status.as_u16()}),
    )
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
