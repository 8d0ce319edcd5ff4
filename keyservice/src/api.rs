//! The HTTP server: LiteLLM's management routes, the internal spend report, the check
//! endpoint and health.
//!
//! | route | auth | what |
//! |---|---|---|
//! | `POST /key/generate`, `/key/update`, `/key/delete`, `/key/regenerate`, `/key/{key}/regenerate`, `/key/block`, `/key/unblock` | master key | LiteLLM key management |
//! | `GET /key/info?key=`, `/key/list` | master key | |
//! | `POST /user/new`, `GET /user/info?user_id=`, `POST /team/new`, `GET /team/info?team_id=` | master key | |
//! | `GET /spend/logs`, `/global/spend` | master key | |
//! | `POST /spend/record` | the gateway's reporting credential or the master key, always | internal: one request's spend log row, or an array of them |
//! | `ANY /check`, `/check/{*path}` | the presented key itself | the check, ext_authz-style: 200 + headers, or the OpenAI error (Anthropic's error shape for `…/messages` and `…/messages/count_tokens`, the Anthropic-format routes) |
//! | `GET /health/liveliness`, `/health/liveness`, `/health/readiness` | none | |
//!
//! The master key is read like any key (`Authorization: Bearer`, `x-litellm-api-key`,
//! …). Request log lines carry the route *template* (`/key/{key}/regenerate`), never
//! the URI, whose path or query may hold a key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::check::{presented_key, Decision, PresentedKey};
use crate::error::ApiError;
use crate::service::KeyService;
use crate::time::now_ms;
use switchyard_contract::error_body::{anthropic_error_type, anthropic_error_value};

type Svc = State<Arc<KeyService>>;
type Q = Query<BTreeMap<String, String>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

impl ApiError {
    /// The refusal in Anthropic's shape, `{"type":"error","error":{"type","message"}}`,
    /// for clients of the gateway's `/v1/messages`; status and `retry-after` kept.
    fn into_anthropic_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = anthropic_error_value(anthropic_error_type(self.status), &self.message);
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

/// Whether the checked request is for an Anthropic-format route: ext_authz asks
/// about `/check{original path}`.
/// `/check/metrics` (with trailing slashes): the check of a `GET /metrics`.
fn metrics_route(path: &str) -> bool {
    path.strip_prefix("/check")
        .is_some_and(|p| p.trim_end_matches('/') == "/metrics")
}

fn anthropic_route(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    path.ends_with("/messages") || path.ends_with("/messages/count_tokens")
}

fn reply(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn key_from(headers: &HeaderMap) -> PresentedKey {
    presented_key(|name| headers.get(name).and_then(|v| v.to_str().ok()))
}

/// Builds the router over a service.
pub fn router(service: Arc<KeyService>) -> Router {
    let admin = Router::new()
        .route("/key/generate", post(generate))
        .route("/key/update", post(update))
        .route("/key/delete", post(delete))
        .route("/key/info", get(info))
        .route("/key/list", get(list))
        .route("/key/regenerate", post(regenerate))
        .route("/key/{key}/regenerate", post(regenerate_path))
        .route("/key/block", post(block))
        .route("/key/unblock", post(unblock))
        .route("/user/new", post(user_new))
        .route("/user/info", get(user_info))
        .route("/team/new", post(team_new))
        .route("/team/info", get(team_info))
        .route("/spend/logs", get(spend_logs))
        .route("/global/spend", get(global_spend))
        .route_layer(middleware::from_fn_with_state(
            service.clone(),
            require_admin,
        ));
    Router::new()
        .merge(admin)
        .route("/spend/record", post(spend_record))
        .route("/check", any(check_route))
        .route("/check/{*path}", any(check_route))
        .route("/health/liveliness", get(alive))
        .route("/health/liveness", get(alive))
        .route("/health/readiness", get(readiness))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(read_whole_body))
        .with_state(service)
}

/// The largest request body the keyservice reads (a spend-report batch is the largest
/// there is).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Reads every request's body before any route answers. An answer given while part of
/// the body is still unread (an unknown route, a refused admin call) makes hyper close
/// the connection after it; Envoy, which pools connections to the keyservice, can send
/// the next request on that connection before it sees the close, and that request fails
/// with a 502 ("reset before headers … connection termination") — an unrelated client's
/// request, seen under load. With the body read first, the connection stays usable.
async fn read_whole_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => ApiError::new(
            413,
            "invalid_request_error",
            format!("Request body larger than {MAX_BODY_BYTES} bytes, or cut short."),
        )
        .into_response(),
    }
}

async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let resp = next.run(req).await;
    let ms = started.elapsed().as_millis();
    let status = resp.status().as_u16();
    if route.starts_with("/check") || route.starts_with("/health") {
        log::debug!("{method} {route} {status} {ms}ms");
    } else {
        log::info!("{method} {route} {status} {ms}ms");
    }
    resp
}

async fn require_admin(State(svc): Svc, req: Request, next: Next) -> Response {
    match svc.require_admin(&key_from(req.headers())) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn not_found() -> Response {
    ApiError::not_found("Route not found on the keyservice.").into_response()
}

async fn alive() -> Response {
    axum::Json(json!("I'm alive!")).into_response()
}

async fn readiness(State(svc): Svc) -> Response {
    let backend = match svc.backend().kind {
        crate::store::BackendKind::Sqlite => "sqlite",
        crate::store::BackendKind::Postgres => "postgres",
    };
    if svc.ready().await {
        axum::Json(json!({"status": "healthy", "db": "connected", "backend": backend}))
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unhealthy", "db": "disconnected", "backend": backend})),
        )
            .into_response()
    }
}

async fn generate(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.generate_key(&body, now_ms()).await)
}

async fn update(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.update_key(&body, now_ms()).await)
}

async fn delete(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.delete_keys(&body).await)
}

async fn info(State(svc): Svc, Query(q): Q) -> Response {
    reply(svc.key_info(&q, now_ms()).await)
}

async fn list(State(svc): Svc, Query(q): Q) -> Response {
    reply(svc.list_keys(&q).await)
}

async fn regenerate(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.regenerate_key(None, &body, now_ms()).await)
}

async fn regenerate_path(State(svc): Svc, Path(key): Path<String>, body: Bytes) -> Response {
    reply(svc.regenerate_key(Some(&key), &body, now_ms()).await)
}

async fn block(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.set_blocked(&body, true, now_ms()).await)
}

async fn unblock(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.set_blocked(&body, false, now_ms()).await)
}

async fn user_new(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.new_user(&body, now_ms()).await)
}

async fn user_info(State(svc): Svc, Query(q): Q) -> Response {
    reply(svc.user_info(&q, now_ms()).await)
}

async fn team_new(State(svc): Svc, body: Bytes) -> Response {
    reply(svc.new_team(&body, now_ms()).await)
}

async fn team_info(State(svc): Svc, Query(q): Q) -> Response {
    reply(svc.team_info(&q, now_ms()).await)
}

async fn spend_logs(State(svc): Svc, Query(q): Q) -> Response {
    reply(svc.spend_logs(&q).await)
}

async fn global_spend(State(svc): Svc) -> Response {
    reply(svc.global_spend().await)
}

async fn spend_record(State(svc): Svc, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = svc.require_reporter(&key_from(&headers)) {
        return e.into_response();
    }
    // A JSON array is a batch (what the gateway sends: one callout per tick, not one
    // per request); an object is one row. Recorded in a task of its own: a report
    // that arrived is recorded even when the gateway goes away before the answer
    // (hyper drops a handler whose connection closed, which would cut a batch short).
    let task = tokio::spawn(async move {
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            svc.record_spend_batch(&body, now_ms()).await
        } else {
            svc.record_spend(&body, now_ms()).await
        }
    });
    match task.await {
        Ok(result) => reply(result),
        Err(_) => ApiError::internal("The spend report could not be recorded.").into_response(),
    }
}

/// The check over HTTP, shaped for Envoy's ext_authz HTTP service: the key comes from
/// the request's own headers, the model from its JSON body's `model` (or the `model`
/// query parameter). Allowed: 200 with the response and upstream headers set.
/// Refused: the OpenAI-shaped error with its status (and `retry-after`).
// The request header in which the gateway's router stage names the model group.
use switchyard_contract::headers::GROUP_HEADER;

async fn check_route(
    State(svc): Svc,
    Query(q): Q,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = key_from(&headers);
    let refuse = |e: ApiError| {
        if anthropic_route(uri.path()) {
            e.into_anthropic_response()
        } else {
            e.into_response()
        }
    };
    // Behind the gateway, the router stage has resolved the model group (aliases and
    // wildcards applied) and names it in a header; else the body's or query's model.
    let group = headers
        .get(GROUP_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let body_model = || {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("model").and_then(Value::as_str).map(str::to_string))
    };
    let model = group
        .or_else(body_model)
        .or_else(|| q.get("model").cloned());
    // The groups of the request's own `fallbacks`, named by the router stage.
    let fallbacks: Vec<String> = headers
        .get(crate::check::H_FALLBACK_GROUPS)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let requested = headers
        .get(crate::check::H_REQUESTED_MODEL)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    // An internal redirect's replay carries its admission id (never a client's:
    // the router stage removes one a client sends, and a replay's comes from the
    // redirect; an id is only honoured when it is live for this very key).
    let continuing = headers
        .get(crate::check::H_ADMISSION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // `GET /metrics` reads the gateway's state: any valid key, no limit taken.
    let decided = if metrics_route(uri.path()) {
        svc.authorize_read(&presented, now_ms()).await
    } else {
        svc.authorize(
            &presented,
            model.as_deref(),
            requested,
            &fallbacks,
            continuing.as_deref(),
            now_ms(),
        )
        .await
    };
    match decided {
        Err(e) => {
            log::error!("check failed closed: {e}");
            refuse(ApiError::db_unavailable())
        }
        Ok(Decision::Deny(e)) => refuse(e),
        Ok(Decision::Allow(a)) => {
            let mut headers = HeaderMap::new();
            let mut response_headers = serde_json::Map::new();
            for (name, value) in &a.response_headers {
                response_headers.insert((*name).to_string(), json!(value));
            }
            for (name, value) in a.response_headers.iter().chain(a.request_headers().iter()) {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.insert(HeaderName::from_static(name), v);
                }
            }
            let body = json!({
                "allowed": true,
                "is_master": a.is_master,
                "open": a.open,
                "key_hash": a.key_hash,
                "user_id": a.user_id,
                "team_id": a.team_id,
                "model": a.model,
                "lease_id": a.lease,
                "admission_id": a.admission,
                "response_headers": response_headers,
            });
            let mut resp = Response::new(Body::from(body.to_string()));
            resp.headers_mut().extend(headers);
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::metrics_route;

    #[test]
    fn only_the_check_of_get_metrics_is_a_metrics_read() {
        for path in ["/check/metrics", "/check/metrics/", "/check/metrics//"] {
            assert!(metrics_route(path), "{path}");
        }
        for path in [
            "/check/v1/metrics",
            "/check/metricsx",
            "/check/metrics/x",
            "/check/v1/chat/completions",
            "/metrics",
            "/check",
        ] {
            assert!(!metrics_route(path), "{path}");
        }
    }
}
