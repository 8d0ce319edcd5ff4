//! The check on the gateway's Anthropic-format routes (`/v1/messages`,
//! `/v1/messages/count_tokens`): Anthropic clients send the key as `x-api-key`, and
//! every refusal there is Anthropic's error shape, `{"type":"error","error":{…}}`,
//! with the status (and `retry-after`) of the OpenAI-shaped one.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::{http, Ks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_routes_take_x_api_key_and_refuse_in_anthropics_shape() {
    let db = common::sqlite_db();
    let ks = Ks::start(&db.url, Some(common::MASTER), Duration::from_secs(2)).await;
    let made = ks
        .admin(
            "POST",
            "/key/generate",
            Some(&json!({"models": ["claude"], "rpm_limit": 1})),
        )
        .await
        .json();
    let key = made["key"].as_str().unwrap().to_string();
    let check = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let addr = ks.addr;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            http(
                addr,
                "POST",
                path,
                &headers,
                Some(&json!({"model": "claude"})),
            )
            .await
        }
    };
    let anthropic = |v: Value| -> (String, String) {
        assert_eq!(v["type"], "error", "{v}");
        assert!(v["error"].get("code").is_none(), "{v}");
        (
            v["error"]["type"].as_str().unwrap().to_string(),
            v["error"]["message"].as_str().unwrap().to_string(),
        )
    };

    // The rpm check below needs both requests in one minute window.
    let into = switchyard_keyservice::time::now_ms().rem_euclid(60_000);
    if into > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into) as u64 + 50)).await;
    }
    // The key as Anthropic clients send it.
    let ok = check("/check/v1/messages", vec![("x-api-key", key.clone())]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // No key, an unknown key: 401 authentication_error.
    let none = check("/check/v1/messages", vec![]).await;
    assert_eq!(none.status, 401);
    assert_eq!(anthropic(none.json()).0, "authentication_error");
    let wrong = check(
        "/check/v1/messages/count_tokens",
        vec![("x-api-key", "sk-nope".into())],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(anthropic(wrong.json()).0, "authentication_error");

    // Over the rpm limit: 429 rate_limit_error, retry-after kept.
    let limited = check(
        "/check/v1/messages?beta=true",
        vec![("authorization", format!("Bearer {key}"))],
    )
    .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(anthropic(limited.json()).0, "rate_limit_error");
    assert!(limited.header("retry-after").is_some());

    // The OpenAI routes keep OpenAI's shape.
    let openai = check(
        "/check/v1/chat/completions",
        vec![("x-api-key", "sk-nope".into())],
    )
    .await;
    assert_eq!(openai.status, 401);
    assert_eq!(openai.json()["error"]["code"], "401");
    ks.stop().await;
}
