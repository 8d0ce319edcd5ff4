//! The keyservice's request parsers behind its real HTTP router (`api::router`, an
//! in-memory SQLite store, a master key and a reporting credential): the input picks a
//! route (`POST /spend/record` and every `/key/*`, `/user/new`, `/team/new` write),
//! the credential presented, and is then the request body, sent as it comes (JSON or
//! not, a spend report row or a batch).
//!
//! Checked: no panic; every answer is JSON; an error is OpenAI-shaped with `code`
//! equal to its status, never a 5xx (the store in memory never fails, so a 5xx means
//! a body reached the database unchecked); and nothing but the master key (the
//! reporting credential or the master key, for `/spend/record`) is ever answered
//! with a 2xx on a write route — a body can never talk its way past the credential.
//!
//! The state persists across inputs (keys, users, teams, spend rows accumulate) and is
//! made anew every [`FRESH_EVERY`] inputs (memory stays bounded in long runs), with a
//! known key `sk-fuzz-known` (budgets, limits, a user and a team) that seeds report
//! spend against.
#![no_main]

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_keyservice::service::{Config, KeyService};
use switchyard_keyservice::{api, store};
use tower::ServiceExt;

const MASTER: &str = "sk-fuzz-master";
const REPORTER: &str = "fuzz-reporter-credential";

/// `(method, path)` of the routes the first input byte picks from.
const ROUTES: [(&str, &str); 12] = [
    ("POST", "/spend/record"),
    ("POST", "/key/generate"),
    ("POST", "/key/update"),
    ("POST", "/key/delete"),
    ("POST", "/key/regenerate"),
    ("POST", "/key/sk-fuzz-known/regenerate"),
    ("POST", "/key/block"),
    ("POST", "/key/unblock"),
    ("POST", "/user/new"),
    ("POST", "/team/new"),
    ("POST", "/spend/record"),
    ("POST", "/key/generate"),
];

/// What the second byte presents: nothing, the master key, the reporting credential,
/// a wrong key, a malformed header, the known virtual key.
fn credential(choice: u8) -> Option<&'static str> {
    match choice % 6 {
        0 => None,
        1 => Some("Bearer sk-fuzz-master"),
        2 => Some("Bearer fuzz-reporter-credential"),
        3 => Some("Bearer sk-wrong"),
        4 => Some("sk-fuzz-master"),
        _ => Some("Bearer sk-fuzz-known"),
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

/// Inputs one keyservice state serves before it is made anew.
const FRESH_EVERY: u32 = 20_000;

thread_local! {
    static FIXTURE: RefCell<Option<(u32, Fixture)>> = const { RefCell::new(None) };
}

fn with_fixture<R>(f: impl FnOnce(&Fixture) -> R) -> R {
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(n, _)| *n >= FRESH_EVERY) {
            *slot = None;
            *slot = Some((0, fixture()));
        }
        let (n, fixture) = slot.as_mut().expect("just set");
        *n += 1;
        f(fixture)
    })
}

fn fixture() -> Fixture {
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let app = rt.block_on(async {
            let backend = store::open("sqlite::memory:").await.expect("an in-memory store");
            let config = Config {
                master_key: Some(MASTER.into()),
                database_configured: true,
                reporter_key: Some(REPORTER.into()),
                ..Config::default()
            };
            let app = api::router(Arc::new(KeyService::new(backend, config)));
            for (path, body) in [
                ("/user/new", r#"{"user_id":"fuzz-user","max_budget":10}"#),
                ("/team/new", r#"{"team_id":"fuzz-team","max_budget":10}"#),
                (
                    "/key/generate",
                    r#"{"key":"sk-fuzz-known","max_budget":5,"user_id":"fuzz-user","team_id":"fuzz-team","tpm_limit":1000,"rpm_limit":100,"max_parallel_requests":2,"budget_duration":"1d"}"#,
                ),
            ] {
                let (status, body) = send(&app, "POST", path, Some("Bearer sk-fuzz-master"), body.as_bytes().to_vec()).await;
                assert!(status.is_success(), "{path}: {status} {body:?}");
            }
            app
        });
        Fixture { rt, app }
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let req = req.body(Body::from(body)).expect("a request");
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .expect("the answer's body");
    let json: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {path}: answer not JSON ({e}): {bytes:?}"));
    (status, json)
}

fuzz_target!(|data: &[u8]| {
    let [route, auth, body @ ..] = data else {
        return;
    };
    let (method, path) = ROUTES[*route as usize % ROUTES.len()];
    let presented = credential(*auth);
    let (status, answer) = with_fixture(|f| {
        f.rt.block_on(send(&f.app, method, path, presented, body.to_vec()))
    });
    assert!(
        !status.is_server_error(),
        "{method} {path}: {status} {answer}"
    );
    let allowed = match path {
        "/spend/record" => matches!(
            presented,
            Some("Bearer sk-fuzz-master" | "Bearer fuzz-reporter-credential")
        ),
        _ => presented == Some("Bearer sk-fuzz-master"),
    };
    if status.is_success() {
        assert!(
            allowed,
            "{method} {path} answered {status} to {presented:?}"
        );
    } else {
        if !allowed {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{path} {presented:?}: {answer}"
            );
        }
        let e = &answer["error"];
        assert!(
            e["message"].is_string() && e["type"].is_string(),
            "{answer}"
        );
        assert_eq!(
            e["code"],
            Value::from(status.as_u16().to_string()),
            "{answer}"
        );
        assert!(e.get("param").is_some(), "{answer}");
    }
});
