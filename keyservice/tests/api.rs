//! The management API and the check over real HTTP, against a real store.
//!
//! Every scenario is written once and run against SQLite (a file in a temporary
//! directory) and against PostgreSQL when `SWITCHYARD_TEST_POSTGRES_URL` is set (a
//! fresh schema per test); without it the PostgreSQL variants print that they were
//! skipped and pass.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{http, Ks, MASTER};
use switchyard_keyservice::keys::hash_key;
use switchyard_keyservice::store::BackendKind;

const TTL: Duration = Duration::from_secs(2);

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::common::sqlite_db();
                super::$name(&db.url).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::common::postgres_db(stringify!($name)).await {
                    super::$name(&db.url).await;
                    db.cleanup().await;
                }
            }
        }
    };
}

on_both!(lifecycle);
on_both!(list_paging);
on_both!(spend_recording);
on_both!(budgets);
on_both!(master_key_enforcement);
on_both!(rate_limits);
on_both!(two_keyservices_share_one_database);
on_both!(admissions);

fn suffix() -> String {
    switchyard_keyservice::keys::random_uuid()[..8].to_string()
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Waits out the last seconds of a rate-limit minute so a test's requests share one.
async fn avoid_window_edge() {
    let now = switchyard_keyservice::time::now_ms();
    let into = now.rem_euclid(60_000);
    if into > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into + 200) as u64)).await;
    }
}

async fn generate(ks: &Ks, body: Value) -> (String, String, Value) {
    let r = ks.admin("POST", "/key/generate", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (
        v["key"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
        v,
    )
}

async fn record(ks: &Ks, row: Value) -> Value {
    let r = ks.admin("POST", "/spend/record", Some(&row)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn lifecycle(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    let alias = format!("life-{}", suffix());

    // generate
    let (key, token, v) = generate(
        &ks,
        json!({"models": ["gpt-4o"], "key_alias": alias, "max_budget": 10, "duration": "30d",
               "metadata": {"app": "tests"}, "rpm_limit": 100, "tags": ["a"]}),
    )
    .await;
    assert!(key.starts_with("sk-") && key.len() == 25, "{key}");
    assert_eq!(token, hash_key(&key));
    assert_eq!(v["token_id"], json!(token));
    assert_eq!(
        v["key_name"],
        json!(format!("sk-...{}", &key[key.len() - 4..]))
    );
    assert_eq!(v["models"], json!(["gpt-4o"]));
    assert_eq!(v["max_budget"], json!(10.0));
    assert_eq!(v["metadata"], json!({"app": "tests"}));
    assert_eq!(v["tags"], json!(["a"]));
    assert_eq!(v["duration"], json!("30d"));
    let expires = switchyard_keyservice::time::parse_iso(v["expires"].as_str().unwrap()).unwrap();
    let in_30d = switchyard_keyservice::time::now_ms() + 30 * 86_400_000;
    assert!(
        (expires - in_30d).abs() < 60_000,
        "expires {}",
        v["expires"]
    );

    // use
    let r = ks.check(&key, Some("gpt-4o")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-litellm-key-spend"), Some("0.0"));
    assert_eq!(r.header("x-switchyard-key-hash"), Some(token.as_str()));
    assert_eq!(r.header("x-ratelimit-api_key-limit-requests"), Some("100"));
    let r = ks.check(&key, Some("gpt-3.5-turbo")).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (401, "key_model_access_denied")
    );

    // info, by plaintext and by hash; unknown → 404
    let r = ks.admin("GET", &format!("/key/info?key={key}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let info = r.json();
    assert_eq!(info["key"], json!(key));
    assert_eq!(info["info"]["key_alias"], json!(alias));
    assert_eq!(info["info"]["spend"], json!(0.0));
    assert!(
        info["info"].get("token").is_none(),
        "info must not carry the hash"
    );
    let r = ks
        .admin("GET", &format!("/key/info?key={token}"), None)
        .await;
    assert_eq!(r.json()["info"]["key_name"], v["key_name"]);
    let r = ks
        .admin("GET", "/key/info?key=sk-does-not-exist", None)
        .await;
    assert_eq!(r.status, 404);

    // spend shows up in info
    record(
        &ks,
        json!({"request_id": format!("req-{}", suffix()), "api_key": token, "spend": 0.25,
                       "model": "gpt-4o", "total_tokens": 10}),
    )
    .await;
    let r = ks.admin("GET", &format!("/key/info?key={key}"), None).await;
    assert_eq!(r.json()["info"]["spend"], json!(0.25));
    assert_eq!(
        ks.check(&key, Some("gpt-4o"))
            .await
            .header("x-litellm-key-spend"),
        Some("0.25")
    );

    // update
    let r = ks
        .admin(
            "POST",
            "/key/update",
            Some(&json!({"key": key, "models": ["gpt-4o", "gpt-3.5-turbo"], "max_budget": 20})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["max_budget"], json!(20.0));
    assert_eq!(r.json()["spend"], json!(0.25), "an update keeps the spend");
    assert_eq!(ks.check(&key, Some("gpt-3.5-turbo")).await.status, 200);

    // block, unblock
    let r = ks
        .admin("POST", "/key/block", Some(&json!({"key": key})))
        .await;
    assert_eq!((r.status, r.json()["blocked"].clone()), (200, json!(true)));
    let r = ks.check(&key, Some("gpt-4o")).await;
    assert_eq!((r.status, r.error_type().as_str()), (401, "auth_error"));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("blocked"));
    let r = ks
        .admin("POST", "/key/unblock", Some(&json!({"key": token})))
        .await;
    assert_eq!((r.status, r.json()["blocked"].clone()), (200, json!(false)));
    assert_eq!(ks.check(&key, Some("gpt-4o")).await.status, 200);

    // regenerate: old key dead at once, new key works, same row (alias, spend)
    let r = ks
        .admin("POST", &format!("/key/{key}/regenerate"), Some(&json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let regen = r.json();
    let key2 = regen["key"].as_str().unwrap().to_string();
    let token2 = regen["token"].as_str().unwrap().to_string();
    assert_ne!(key2, key);
    assert_eq!(token2, hash_key(&key2));
    assert_eq!(regen["key_alias"], json!(alias));
    assert_eq!(ks.check(&key, Some("gpt-4o")).await.status, 401);
    assert_eq!(ks.check(&key2, Some("gpt-4o")).await.status, 200);
    assert_eq!(
        ks.admin("GET", &format!("/key/info?key={token}"), None)
            .await
            .status,
        404
    );
    let r = ks
        .admin("GET", &format!("/key/info?key={key2}"), None)
        .await;
    assert_eq!(r.json()["info"]["spend"], json!(0.25));

    // regenerate with the key in the body, and a caller-chosen new key
    let custom = format!("sk-custom-{}", suffix());
    let r = ks
        .admin(
            "POST",
            "/key/regenerate",
            Some(&json!({"key": key2, "new_key": custom, "max_budget": 5})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["key"], json!(custom));
    assert_eq!(r.json()["max_budget"], json!(5.0));
    assert_eq!(ks.check(&key2, Some("gpt-4o")).await.status, 401);
    assert_eq!(ks.check(&custom, Some("gpt-4o")).await.status, 200);

    // delete by key, then it is dead and unknown
    let r = ks
        .admin("POST", "/key/delete", Some(&json!({"keys": [custom]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"deleted_keys": [custom]}));
    assert_eq!(ks.check(&custom, Some("gpt-4o")).await.status, 401);
    assert_eq!(
        ks.admin("GET", &format!("/key/info?key={custom}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        ks.admin("POST", "/key/delete", Some(&json!({"keys": [custom]})))
            .await
            .status,
        404
    );

    // delete by alias
    let alias2 = format!("bye-{}", suffix());
    let (key3, _, _) = generate(&ks, json!({"key_alias": alias2})).await;
    let r = ks
        .admin(
            "POST",
            "/key/delete",
            Some(&json!({"key_aliases": [alias2]})),
        )
        .await;
    assert_eq!(r.json(), json!({"deleted_keys": [alias2]}));
    assert_eq!(ks.check(&key3, None).await.status, 401);

    // refusals of bad input
    let r = ks
        .admin("POST", "/key/generate", Some(&json!({"key": "not-sk"})))
        .await;
    assert_eq!(r.status, 400);
    let r = ks
        .admin("POST", "/key/generate", Some(&json!({"duration": "soon"})))
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["param"].clone()),
        (400, json!("duration"))
    );
    let (_, _, _) = generate(&ks, json!({"key_alias": "dup-alias-".to_string() + &alias})).await;
    let r = ks
        .admin(
            "POST",
            "/key/generate",
            Some(&json!({"key_alias": "dup-alias-".to_string() + &alias})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Unique key aliases"));
    ks.stop().await;
}

async fn list_paging(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    let user = format!("pager-{}", suffix());
    let team = format!("team-{}", suffix());
    let mut tokens = HashSet::new();
    for i in 0..25 {
        let (_, t, _) = generate(
            &ks,
            json!({"user_id": user, "key_alias": format!("{user}-{i}")}),
        )
        .await;
        tokens.insert(t);
    }
    for _ in 0..2 {
        generate(&ks, json!({"user_id": "someone-else", "team_id": team})).await;
    }
    let page = |p: i64| format!("/key/list?user_id={user}&size=10&page={p}");
    let mut seen = HashSet::new();
    for (p, want) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let r = ks.admin("GET", &page(p), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["total_count"], json!(25));
        assert_eq!(v["total_pages"], json!(3));
        assert_eq!(v["current_page"], json!(p));
        let keys = v["keys"].as_array().unwrap();
        assert_eq!(keys.len(), want, "page {p}");
        for k in keys {
            let t = k.as_str().expect("token strings by default");
            assert!(seen.insert(t.to_string()), "token on two pages");
        }
    }
    assert_eq!(seen, tokens);

    let r = ks
        .admin(
            "GET",
            &format!("/key/list?user_id={user}&size=100&return_full_object=true"),
            None,
        )
        .await;
    let keys = r.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 25);
    assert!(keys
        .iter()
        .all(|k| k["user_id"] == json!(user) && k["token"].is_string()));

    let r = ks
        .admin("GET", &format!("/key/list?key_alias={user}-7"), None)
        .await;
    assert_eq!(r.json()["total_count"], json!(1));
    let r = ks
        .admin("GET", &format!("/key/list?team_id={team}"), None)
        .await;
    assert_eq!(r.json()["total_count"], json!(2));
    for bad in ["size=101", "size=0", "page=0", "page=x"] {
        let r = ks.admin("GET", &format!("/key/list?{bad}"), None).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    ks.stop().await;
}

async fn spend_recording(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    let team = format!("team-{}", suffix());
    let user = format!("user-{}", suffix());
    let r = ks
        .admin(
            "POST",
            "/team/new",
            Some(&json!({"team_id": team, "team_alias": "Core", "max_budget": 100})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["team_id"], json!(team));
    let r = ks
        .admin(
            "POST",
            "/user/new",
            Some(&json!({"user_id": user, "max_budget": 50, "auto_create_key": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["key"], Value::Null);
    let (key, token, _) = generate(&ks, json!({"user_id": user, "team_id": team})).await;

    let base = json!({"api_key": token, "model": "gpt-4o", "model_group": "gpt-4o", "call_type": "acompletion",
                      "startTime": "2024-05-01T12:00:00Z", "endTime": "2024-05-01T12:00:01.5Z"});
    let row = |id: &str, spend: f64| {
        let mut r = base.clone();
        r["request_id"] = json!(id);
        r["spend"] = json!(spend);
        r["prompt_tokens"] = json!(10);
        r["completion_tokens"] = json!(5);
        r
    };
    assert_eq!(
        record(&ks, row("r1", 0.5)).await["status"],
        json!("recorded")
    );
    assert_eq!(
        record(&ks, row("r2", 0.25)).await["status"],
        json!("recorded")
    );
    assert_eq!(
        record(&ks, row("r2", 0.25)).await["status"],
        json!("duplicate")
    );
    // A plaintext key in a report is stored as its hash.
    let mut r3 = row("r3", 1.0);
    r3["api_key"] = json!(key);
    record(&ks, r3).await;

    // A burst of concurrent reports, each sent twice at once: counted once each.
    let mut tasks = Vec::new();
    for i in 0..20 {
        for _ in 0..2 {
            let addr = ks.addr;
            let body = row(&format!("burst-{i}"), 0.01);
            tasks.push(tokio::spawn(async move {
                let auth = format!("Bearer {MASTER}");
                http(
                    addr,
                    "POST",
                    "/spend/record",
                    &[("authorization", &auth)],
                    Some(&body),
                )
                .await
                .status
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    // A batch (what the gateway sends): each row answered in its place; a duplicate
    // and a malformed row do not fail the others.
    let r = ks
        .admin(
            "POST",
            "/spend/record",
            Some(&json!([row("b1", 0.125), row("r1", 0.5), {"spend": 1}, row("b2", 0.0625)])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("recorded"),
            json!("duplicate"),
            json!("refused"),
            json!("recorded")
        ]
    );
    let total = 0.5 + 0.25 + 1.0 + 20.0 * 0.01 + 0.125 + 0.0625;

    let info = ks
        .admin("GET", &format!("/key/info?key={key}"), None)
        .await
        .json();
    assert!(
        approx(info["info"]["spend"].as_f64().unwrap(), total),
        "key spend {}",
        info["info"]["spend"]
    );
    let u = ks
        .admin("GET", &format!("/user/info?user_id={user}"), None)
        .await
        .json();
    assert!(
        approx(u["user_info"]["spend"].as_f64().unwrap(), total),
        "user spend {}",
        u
    );
    assert_eq!(u["keys"].as_array().unwrap().len(), 1);
    let t = ks
        .admin("GET", &format!("/team/info?team_id={team}"), None)
        .await
        .json();
    assert!(
        approx(t["team_info"]["spend"].as_f64().unwrap(), total),
        "team spend {}",
        t
    );

    // The logs: by key (plaintext or hash), by request, by user, by date.
    let logs = ks
        .admin("GET", &format!("/spend/logs?api_key={key}"), None)
        .await
        .json();
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 25);
    for l in logs {
        assert_eq!(
            l["api_key"],
            json!(token),
            "rows carry the hash, never the key"
        );
        assert_eq!(l["user"], json!(user), "user filled in from the key");
        assert_eq!(l["team_id"], json!(team));
        assert_eq!(l["startTime"], json!("2024-05-01T12:00:00.000+00:00"));
        assert_eq!(l["endTime"], json!("2024-05-01T12:00:01.500+00:00"));
        assert_eq!(l["total_tokens"], json!(15));
        assert_eq!(l["status"], json!("success"));
        assert_eq!(l["cache_hit"], json!("False"));
    }
    let one = ks
        .admin("GET", "/spend/logs?request_id=r2", None)
        .await
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["spend"], json!(0.25));
    let by_user = ks
        .admin("GET", &format!("/spend/logs?user_id={user}"), None)
        .await
        .json();
    assert_eq!(by_user.as_array().unwrap().len(), 25);
    let rows = ks
        .admin(
            "GET",
            "/spend/logs?start_date=2024-05-01&end_date=2024-05-01&summarize=false",
            None,
        )
        .await
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 25);
    let none = ks
        .admin(
            "GET",
            "/spend/logs?start_date=2024-05-02&end_date=2024-05-03&summarize=false",
            None,
        )
        .await
        .json();
    assert_eq!(none, json!([]));
    let days = ks
        .admin(
            "GET",
            "/spend/logs?start_date=2024-05-01&end_date=2024-05-02",
            None,
        )
        .await
        .json();
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 2, "{days:?}");
    assert_eq!(days[0]["startTime"], json!("2024-05-01"));
    assert!(approx(days[0]["spend"].as_f64().unwrap(), total));
    assert!(approx(days[0]["models"]["gpt-4o"].as_f64().unwrap(), total));
    assert_eq!(
        days[1],
        json!({"startTime": "2024-05-02", "spend": 0, "users": {}, "models": {}})
    );

    let g = ks.admin("GET", "/global/spend", None).await.json();
    assert!(approx(g["spend"].as_f64().unwrap(), total), "{g}");
    assert_eq!(g["max_budget"], json!(0.0));

    let r = ks
        .admin("POST", "/spend/record", Some(&json!({"spend": 1.0})))
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["param"].clone()),
        (400, json!("request_id"))
    );
    let r = ks
        .admin(
            "POST",
            "/spend/record",
            Some(&json!({"request_id": "neg", "spend": -1.0})),
        )
        .await;
    assert_eq!(r.status, 400);

    // The client's metadata and tags are stored and listed; oversize ones are bounded
    // (whoever reports them), never a failed report.
    let mut labelled = row("labelled", 0.0);
    labelled["metadata"] =
        json!({"spend_logs_metadata": {"job": "nightly"}, "requester_metadata": {"env": "ci"}});
    labelled["request_tags"] = json!(["batch", 7, "eu"]);
    record(&ks, labelled).await;
    let mut huge = row("huge", 0.0);
    huge["metadata"] = json!({"pad": "x".repeat(100 * 1024)});
    huge["request_tags"] = json!((0..5000).map(|i| format!("t{i}")).collect::<Vec<_>>());
    record(&ks, huge).await;
    let mut odd = row("odd", 0.0);
    odd["metadata"] = json!("not an object");
    odd["request_tags"] = json!({"not": "a list"});
    record(&ks, odd).await;
    let log = |id: &'static str| {
        let ks = &ks;
        async move {
            ks.admin("GET", &format!("/spend/logs?request_id={id}"), None)
                .await
                .json()[0]
                .clone()
        }
    };
    let l = log("labelled").await;
    assert_eq!(
        l["metadata"],
        json!({"spend_logs_metadata": {"job": "nightly"}, "requester_metadata": {"env": "ci"}})
    );
    assert_eq!(l["request_tags"], json!(["batch", "eu"]));
    let l = log("huge").await;
    assert_eq!(
        l["metadata"]["metadata_truncated"]["limit"],
        json!(switchyard_contract::spend::MAX_ROW_METADATA_BYTES)
    );
    assert_eq!(
        l["request_tags"].as_array().unwrap().len(),
        switchyard_contract::spend::MAX_REQUEST_TAGS
    );
    let l = log("odd").await;
    assert_eq!(
        (l["metadata"].clone(), l["request_tags"].clone()),
        (json!({}), json!([]))
    );

    // The contract with the gateway (`switchyard_contract::spend`): a row built as the
    // filter builds it is recorded field for field; a field the keyservice does not
    // know is refused with a message naming it, never dropped silently.
    use switchyard_contract::spend::{CacheHit, LeaseRelease, SpendRecord, SpendTime};
    let sent = SpendRecord {
        request_id: "contract-row".into(),
        call_type: "acompletion".into(),
        api_key: Some(token.clone()),
        spend: 0.0,
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: Some(7),
        start_time: Some(SpendTime::Seconds(1_714_564_800.0)),
        end_time: Some(SpendTime::Seconds(1_714_564_801.5)),
        model: "gpt-4o".into(),
        model_id: "d1".into(),
        model_group: "gpt-4o".into(),
        custom_llm_provider: "openai".into(),
        api_base: "https://api.openai.com/v1".into(),
        status: Some("failure".into()),
        cache_hit: Some(CacheHit::Flag(false)),
        metadata: Some(json!({"client_request_id": "c-1"})),
        request_tags: json!(["t1"]),
        ..Default::default()
    };
    record(&ks, serde_json::to_value(&sent).unwrap()).await;
    let l = log("contract-row").await;
    assert_eq!(l["model_id"], json!("d1"));
    assert_eq!(l["custom_llm_provider"], json!("openai"));
    assert_eq!(l["total_tokens"], json!(7));
    assert_eq!(l["status"], json!("failure"));
    assert_eq!(l["metadata"], json!({"client_request_id": "c-1"}));
    assert_eq!(l["request_tags"], json!(["t1"]));
    let mut renamed = serde_json::to_value(&sent).unwrap();
    renamed["request_id"] = json!("renamed-row");
    let provider = renamed
        .as_object_mut()
        .unwrap()
        .remove("custom_llm_provider")
        .unwrap();
    renamed["custom_provider"] = provider;
    let r = ks.admin("POST", "/spend/record", Some(&renamed)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("unknown field `custom_provider`"),
        "{message}"
    );
    assert_eq!(log("renamed-row").await, Value::Null, "nothing recorded");
    // In a batch, the refused row is answered in its place.
    let release = serde_json::to_value(LeaseRelease {
        release_lease: "no-such-lease".into(),
    })
    .unwrap();
    let r = ks
        .admin("POST", "/spend/record", Some(&json!([renamed, release])))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[0]["status"], json!("refused"), "{}", r.body);
    assert_eq!(r.json()[1]["status"], json!("released"), "{}", r.body);
    ks.stop().await;
}

async fn budgets(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    // Key budget: the report that crosses it was admitted; the next request is refused.
    let (key, token, _) = generate(&ks, json!({"max_budget": 1.0})).await;
    assert_eq!(ks.check(&key, Some("m")).await.status, 200);
    record(
        &ks,
        json!({"request_id": format!("b-{}", suffix()), "api_key": token, "spend": 1.0}),
    )
    .await;
    let r = ks.check(&key, Some("m")).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "budget_exceeded")
    );
    assert_eq!(
        r.json()["error"]["message"],
        json!("Budget has been exceeded! Current cost: 1.0, Max budget: 1.0")
    );
    assert_eq!(r.json()["error"]["code"], json!("400"));
    // Raising the budget lets it through again.
    ks.admin(
        "POST",
        "/key/update",
        Some(&json!({"key": key, "max_budget": 2.0})),
    )
    .await;
    assert_eq!(ks.check(&key, Some("m")).await.status, 200);

    // User budget through /user/new's key.
    let user = format!("u-{}", suffix());
    let r = ks
        .admin(
            "POST",
            "/user/new",
            Some(&json!({"user_id": user, "max_budget": 0.5, "models": ["m"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let ukey = v["key"].as_str().unwrap().to_string();
    assert_eq!(v["user_id"], json!(user));
    assert_eq!(v["max_budget"], json!(0.5));
    assert_eq!(v["models"], json!(["m"]));
    assert_eq!(
        ks.check(&ukey, Some("other")).await.status,
        401,
        "the user's models bind the key"
    );
    record(
        &ks,
        json!({"request_id": format!("u-{}", suffix()), "api_key": hash_key(&ukey), "spend": 0.6}),
    )
    .await;
    let r = ks.check(&ukey, Some("m")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains(&format!("User={user}")), "{}", r.body);

    // Team budget.
    let team = format!("t-{}", suffix());
    ks.admin(
        "POST",
        "/team/new",
        Some(&json!({"team_id": team, "max_budget": 0.1})),
    )
    .await;
    let (tkey, ttoken, _) = generate(&ks, json!({"team_id": team})).await;
    record(
        &ks,
        json!({"request_id": format!("t-{}", suffix()), "api_key": ttoken, "spend": 0.1}),
    )
    .await;
    let r = ks.check(&tkey, None).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "budget_exceeded")
    );
    assert!(r.body.contains(&format!("Team={team}")));

    // A budget whose reset time has passed is reset at check time.
    let (rkey, rtoken, _) =
        generate(&ks, json!({"max_budget": 1.0, "budget_duration": "1d"})).await;
    record(
        &ks,
        json!({"request_id": format!("r-{}", suffix()), "api_key": rtoken, "spend": 3.0}),
    )
    .await;
    assert_eq!(ks.check(&rkey, None).await.status, 400);
    let store = ks.service.backend().store.clone();
    let mut rec = store.get_key(&rtoken).await.unwrap().unwrap();
    let due = rec.budget_reset_at.unwrap();
    rec.budget_reset_at = Some(switchyard_keyservice::time::now_ms() - 1000);
    assert!(store.update_key(&rtoken, &rec, false).await.unwrap());
    // The update bypassed the service's cache: wait for its TTL.
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    let r = ks.check(&rkey, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-litellm-key-spend"), Some("0.0"));
    let after = store.get_key(&rtoken).await.unwrap().unwrap();
    assert_eq!(after.spend, 0.0);
    assert!(after.budget_reset_at.unwrap() > switchyard_keyservice::time::now_ms());
    assert!(
        after.budget_reset_at.unwrap() <= due,
        "next reset is the next midnight"
    );
    ks.stop().await;
}

async fn master_key_enforcement(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    let (vkey, _, _) = generate(&ks, json!({})).await;
    let routes: &[(&str, &str)] = &[
        ("POST", "/key/generate"),
        ("POST", "/key/update"),
        ("POST", "/key/delete"),
        ("GET", "/key/info?key=sk-x"),
        ("GET", "/key/list"),
        ("POST", "/key/regenerate"),
        ("POST", "/key/sk-x/regenerate"),
        ("POST", "/key/block"),
        ("POST", "/key/unblock"),
        ("POST", "/user/new"),
        ("GET", "/user/info?user_id=x"),
        ("POST", "/team/new"),
        ("GET", "/team/info?team_id=x"),
        ("GET", "/spend/logs"),
        ("GET", "/global/spend"),
        ("POST", "/spend/record"),
    ];
    let bearer_v = format!("Bearer {vkey}");
    for (method, path) in routes {
        for (headers, want) in [
            (vec![], "No api key passed in"),
            (
                vec![("authorization", "Bearer sk-wrong")],
                "only the master key",
            ),
            (
                vec![("authorization", bearer_v.as_str())],
                "only the master key",
            ),
            (vec![("authorization", MASTER)], "`Bearer ` prefix"),
        ] {
            let r = http(ks.addr, method, path, &headers, Some(&json!({}))).await;
            assert_eq!(r.status, 401, "{method} {path} {headers:?}: {}", r.body);
            let e = r.json();
            assert_eq!(e["error"]["type"], json!("auth_error"));
            assert_eq!(e["error"]["code"], json!("401"));
            assert!(e["error"].get("param").is_some());
            assert!(
                e["error"]["message"].as_str().unwrap().contains(want),
                "{method} {path}: {e}"
            );
        }
        // The master key passes, by either header.
        let r = http(
            ks.addr,
            method,
            path,
            &[("x-litellm-api-key", MASTER)],
            Some(&json!({})),
        )
        .await;
        assert_ne!(r.status, 401, "{method} {path}: {}", r.body);
    }
    for path in [
        "/health/liveliness",
        "/health/liveness",
        "/health/readiness",
    ] {
        let r = http(ks.addr, "GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
    }
    assert_eq!(
        http(ks.addr, "GET", "/health/liveliness", &[], None)
            .await
            .json(),
        json!("I'm alive!")
    );
    assert_eq!(
        http(ks.addr, "GET", "/health/readiness", &[], None)
            .await
            .json()["db"],
        json!("connected")
    );
    // The check: no key, malformed, master.
    let r = http(ks.addr, "POST", "/check", &[], Some(&json!({"model": "m"}))).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["error"]["message"],
        json!("Authentication Error, No api key passed in.")
    );
    let r = http(
        ks.addr,
        "POST",
        "/check",
        &[("authorization", "Basic abc")],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    let r = ks.check(MASTER, Some("anything")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["is_master"], json!(true));
    ks.stop().await;

    // Without a master key (but with a database) the management API is off, keys
    // are still checked, and spend reports need the gateway's reporting credential.
    let ks = Ks::start_with(url, None, Some("reporter-secret-1"), TTL).await;
    let r = http(
        ks.addr,
        "POST",
        "/key/generate",
        &[("authorization", "Bearer sk-anything")],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("no master key is set"));
    assert_eq!(
        ks.check(&vkey, None).await.status,
        200,
        "keys made earlier still work"
    );
    assert_eq!(ks.check("sk-unknown", None).await.status, 401);
    for auth in [
        None,
        Some("Bearer sk-anything"),
        Some("Bearer sk-test-master-key-1234"),
        Some("reporter-secret-1"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let r = http(
            ks.addr,
            "POST",
            "/spend/record",
            &headers,
            Some(&json!({"request_id": "nomaster-refused"})),
        )
        .await;
        assert_eq!(r.status, 401, "{auth:?}: {}", r.body);
    }
    let r = http(
        ks.addr,
        "POST",
        "/spend/record",
        &[("authorization", "Bearer reporter-secret-1")],
        Some(&json!({"request_id": "nomaster"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    ks.stop().await;

    // With neither a master key nor a reporting credential, every report is refused.
    let ks = Ks::start(url, None, TTL).await;
    let r = http(
        ks.addr,
        "POST",
        "/spend/record",
        &[("authorization", "Bearer anything")],
        Some(&json!({"request_id": "nobody"})),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("spend reporting is disabled"), "{}", r.body);
    // With a master key and a reporting credential, both are accepted.
    ks.stop().await;
    let ks = Ks::start_with(url, Some(MASTER), Some("reporter-secret-2"), TTL).await;
    for (auth, id) in [
        ("Bearer reporter-secret-2", "by-reporter"),
        ("Bearer sk-test-master-key-1234", "by-master"),
    ] {
        let r = http(
            ks.addr,
            "POST",
            "/spend/record",
            &[("authorization", auth)],
            Some(&json!({"request_id": id})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = http(
        ks.addr,
        "POST",
        "/spend/record",
        &[("authorization", "Bearer reporter-secret-x")],
        Some(&json!({"request_id": "wrong"})),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    ks.stop().await;
}

async fn rate_limits(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    avoid_window_edge().await;
    // rpm: N admitted, the next refused with retry-after.
    let (key, _, _) = generate(&ks, json!({"rpm_limit": 2})).await;
    let r = ks.check(&key, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-ratelimit-api_key-remaining-requests"),
        Some("1")
    );
    assert_eq!(r.header("x-ratelimit-api_key-limit-requests"), Some("2"));
    let r = ks.check(&key, None).await;
    assert_eq!(
        r.header("x-ratelimit-api_key-remaining-requests"),
        Some("0")
    );
    let r = ks.check(&key, None).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (429, "rate_limit_error")
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // tpm: reported tokens count against the window.
    let (tkey, ttoken, _) = generate(&ks, json!({"tpm_limit": 100})).await;
    let r = ks.check(&tkey, None).await;
    assert_eq!(
        r.header("x-ratelimit-api_key-remaining-tokens"),
        Some("100")
    );
    assert_eq!(r.header("x-ratelimit-api_key-limit-tokens"), Some("100"));
    record(
        &ks,
        json!({"request_id": format!("tpm-{}", suffix()), "api_key": ttoken, "total_tokens": 100}),
    )
    .await;
    let r = ks.check(&tkey, None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());

    // Parallel: a lease per admitted request, released by the spend report.
    let (pkey, ptoken, _) = generate(&ks, json!({"max_parallel_requests": 1})).await;
    let first = ks.check(&pkey, None).await;
    assert_eq!(first.status, 200);
    let lease = first
        .header("x-switchyard-lease")
        .expect("a lease")
        .to_string();
    assert_eq!(first.json()["lease_id"], json!(lease));
    let r = ks.check(&pkey, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    record(
        &ks,
        json!({"request_id": format!("par-{}", suffix()), "api_key": ptoken, "lease_id": lease}),
    )
    .await;
    assert_eq!(ks.check(&pkey, None).await.status, 200);
    ks.stop().await;
}

async fn two_keyservices_share_one_database(url: &str) {
    let short = Duration::from_millis(300);
    let a = Ks::start(url, Some(MASTER), short).await;
    let b = Ks::start(url, Some(MASTER), short).await;
    let (key, token, _) = generate(&a, json!({"models": ["m"]})).await;
    // A key generated on one works through the other.
    assert_eq!(b.check(&key, Some("m")).await.status, 200);
    // A block on one takes effect on the other within the cache TTL.
    assert_eq!(
        a.admin("POST", "/key/block", Some(&json!({"key": key})))
            .await
            .status,
        200
    );
    let started = Instant::now();
    loop {
        let r = b.check(&key, Some("m")).await;
        if r.status == 401 {
            break;
        }
        assert!(
            started.elapsed() < short + Duration::from_secs(1),
            "block not seen within the TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.admin("POST", "/key/unblock", Some(&json!({"key": key})))
        .await;
    // Spend reported to one is visible through the other.
    record(
        &b,
        json!({"request_id": format!("sh-{}", suffix()), "api_key": token, "spend": 0.5}),
    )
    .await;
    let info = a
        .admin("GET", &format!("/key/info?key={key}"), None)
        .await
        .json();
    assert_eq!(info["info"]["spend"], json!(0.5));

    // On PostgreSQL the rate limits are shared too.
    if a.service.backend().kind == BackendKind::Postgres {
        avoid_window_edge().await;
        let (rkey, _, _) = generate(&a, json!({"rpm_limit": 3})).await;
        assert_eq!(a.check(&rkey, None).await.status, 200);
        assert_eq!(b.check(&rkey, None).await.status, 200);
        assert_eq!(a.check(&rkey, None).await.status, 200);
        let r = b.check(&rkey, None).await;
        assert_eq!(r.status, 429, "the fourth request across both keyservices");
        assert!(r.header("retry-after").is_some());
    }
    a.stop().await;
    b.stop().await;
}

/// A check as an internal redirect's replay sends it: the key and the admission id
/// the redirect carried.
async fn check_continuing(ks: &Ks, key: &str, admission: &str) -> common::Resp {
    let auth = format!("Bearer {key}");
    http(
        ks.addr,
        "POST",
        "/check/v1/chat/completions",
        &[
            ("authorization", &auth),
            ("x-switchyard-admission", admission),
        ],
        None,
    )
    .await
}

/// Admission ids: issued at every admission, the key of one charge; a replay
/// continues its admission without being counted again; the request's end
/// (`release_lease`) frees its slot.
async fn admissions(url: &str) {
    let ks = Ks::start(url, Some(MASTER), TTL).await;
    avoid_window_edge().await;
    // Every admission gets its own id, limits or not.
    let (open_key, open_token, _) = generate(&ks, json!({})).await;
    let a = ks.check(&open_key, None).await;
    let b = ks.check(&open_key, None).await;
    let (a, b) = (
        a.header("x-switchyard-admission").unwrap().to_string(),
        b.header("x-switchyard-admission").unwrap().to_string(),
    );
    assert_ne!(a, b);
    assert_eq!(a.len(), 36, "{a}");
    // Without limits nothing is stored to continue: a replay is a new admission.
    let r = check_continuing(&ks, &open_key, &a).await;
    assert_ne!(r.header("x-switchyard-admission"), Some(a.as_str()));
    // One charge per admission id, however often it is reported.
    for _ in 0..2 {
        record(
            &ks,
            json!({"request_id": a, "api_key": open_token, "spend": 0.25}),
        )
        .await;
    }
    let info = ks
        .admin("GET", &format!("/key/info?key={open_key}"), None)
        .await
        .json();
    assert!(
        approx(info["info"]["spend"].as_f64().unwrap(), 0.25),
        "{info}"
    );

    // rpm 1 and one slot: the replay continues (no second count, no second slot).
    let (key, _, _) = generate(&ks, json!({"rpm_limit": 1, "max_parallel_requests": 1})).await;
    let first = ks.check(&key, None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let adm = first.header("x-switchyard-admission").unwrap().to_string();
    assert_eq!(first.header("x-switchyard-lease"), Some(adm.as_str()));
    let replay = check_continuing(&ks, &key, &adm).await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.header("x-switchyard-admission"), Some(adm.as_str()));
    assert_eq!(replay.header("x-switchyard-lease"), Some(adm.as_str()));
    // A forged or another key's id is no continuation: counted, and refused here.
    let (other, _, _) = generate(&ks, json!({"rpm_limit": 5})).await;
    let theirs = ks.check(&other, None).await;
    let theirs = theirs.header("x-switchyard-admission").unwrap().to_string();
    for forged in [theirs.as_str(), "00000000-0000-4000-8000-000000000000"] {
        let r = check_continuing(&ks, &key, forged).await;
        assert_eq!(r.status, 429, "{forged}: {}", r.body);
    }
    // The request's end frees the slot: then only the rpm count (1) refuses.
    let r = ks.check(&key, None).await;
    assert!(r.body.contains("parallel"), "{}", r.body);
    record(&ks, json!({"release_lease": adm})).await;
    let r = ks.check(&key, None).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Limit type: requests"), "{}", r.body);
    // A released admission is no longer continued.
    let r = check_continuing(&ks, &key, &adm).await;
    assert_eq!(r.status, 429, "{}", r.body);
    ks.stop().await;
}
