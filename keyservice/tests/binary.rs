//! The `switchyard-keyservice` binary: its command line, its first stdout line, the
//! open-gateway warning, and — the point of this file — that a full key lifecycle at
//! the most verbose log level leaves no key, token hash or master key in its output.

// Test code: a failed unwrap is a failed run. The workspace's no-panic lints are for
// shipped code (root Cargo.toml, STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use common::{http, TempDir};
use switchyard_keyservice::keys::hash_key;

const MASTER_ENV: &str = "SY_TEST_KEYSERVICE_MASTER";
const MASTER: &str = "sk-binary-test-master-9f8e7d";

struct Proc {
    child: Child,
    addr: SocketAddr,
    first_line: String,
}

fn start(dir: &TempDir, args: &[&str], master: Option<&str>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard-keyservice"));
    cmd.args(["--listen", "127.0.0.1:0", "--master-key-env", MASTER_ENV])
        .args(args)
        .current_dir(&dir.0)
        .env("SWITCHYARD_LOG", "trace")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match master {
        Some(m) => cmd.env(MASTER_ENV, m),
        None => cmd.env_remove(MASTER_ENV),
    };
    let mut child = cmd.spawn().expect("start the keyservice binary");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    out.read_line(&mut first_line)
        .expect("read the first stdout line");
    let addr: SocketAddr = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first_line:?}"))
        .parse()
        .expect("an address");
    // Keep draining stdout so the child never blocks on it.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
    });
    Proc {
        child,
        addr,
        first_line,
    }
}

/// Stops the process (SIGTERM, as a supervisor would) and returns its stderr.
fn stop(mut p: Proc) -> String {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(p.child.id().to_string())
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while p.child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = p.child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = p.child.wait();
    let mut err = String::new();
    p.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

async fn admin(addr: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    let auth = format!("Bearer {MASTER}");
    let r = http(addr, method, path, &[("authorization", &auth)], Some(&body)).await;
    assert!(r.status < 500, "{method} {path}: {}", r.body);
    if r.status == 200 {
        r.json()
    } else {
        Value::Null
    }
}

async fn check(addr: SocketAddr, key: &str) -> u16 {
    let auth = format!("Bearer {key}");
    http(
        addr,
        "POST",
        "/check/v1/chat/completions",
        &[("authorization", &auth)],
        Some(&json!({"model": "m"})),
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.0.join("keys.db").display());
    let p = start(&dir, &["--database-url", &db], Some(MASTER));
    assert!(
        p.first_line.starts_with("listening on 127.0.0.1:"),
        "{}",
        p.first_line
    );
    let addr = p.addr;

    let mut secrets: Vec<String> = vec![MASTER.to_string(), hash_key(MASTER)];
    let custom = "sk-custom-secret-key-0042".to_string();
    let g1 = admin(
        addr,
        "POST",
        "/key/generate",
        json!({"key_alias": "logged-alias", "models": ["m"]}),
    )
    .await;
    let g2 = admin(
        addr,
        "POST",
        "/key/generate",
        json!({"key": custom, "user_id": "u1", "rpm_limit": 100, "max_parallel_requests": 5}),
    )
    .await;
    let k1 = g1["key"].as_str().unwrap().to_string();
    let k2 = g2["key"].as_str().unwrap().to_string();
    assert_eq!(k2, custom);
    secrets.extend([k1.clone(), hash_key(&k1), k2.clone(), hash_key(&k2)]);

    // Use, refuse, inspect, change, rotate, report, delete — by plaintext and by hash.
    assert_eq!(check(addr, &k1).await, 200);
    assert_eq!(check(addr, &k2).await, 200);
    assert_eq!(check(addr, "sk-never-issued-key").await, 401);
    secrets.push("sk-never-issued-key".into());
    secrets.push(hash_key("sk-never-issued-key"));
    admin(addr, "GET", &format!("/key/info?key={k1}"), json!({})).await;
    admin(
        addr,
        "GET",
        &format!("/key/info?key={}", hash_key(&k2)),
        json!({}),
    )
    .await;
    admin(
        addr,
        "POST",
        "/key/update",
        json!({"key": k1, "max_budget": 3}),
    )
    .await;
    admin(addr, "POST", "/key/block", json!({"key": k1})).await;
    assert_eq!(check(addr, &k1).await, 401);
    admin(addr, "POST", "/key/unblock", json!({"key": k1})).await;
    let regen = admin(addr, "POST", &format!("/key/{k1}/regenerate"), json!({})).await;
    let k3 = regen["key"].as_str().unwrap().to_string();
    secrets.extend([k3.clone(), hash_key(&k3)]);
    assert_eq!(check(addr, &k3).await, 200);
    admin(
        addr,
        "POST",
        "/spend/record",
        json!({"request_id": "log-r1", "api_key": k2, "spend": 0.1, "total_tokens": 7}),
    )
    .await;
    admin(addr, "GET", &format!("/spend/logs?api_key={k2}"), json!({})).await;
    admin(addr, "GET", "/key/list?return_full_object=true", json!({})).await;
    // Error paths too: a duplicate key, a bad duration, a wrong master key.
    admin(addr, "POST", "/key/generate", json!({"key": custom})).await;
    admin(addr, "POST", "/key/generate", json!({"duration": "never"})).await;
    let r = http(
        addr,
        "GET",
        "/key/list",
        &[("authorization", &format!("Bearer {k3}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    admin(addr, "POST", "/key/delete", json!({"keys": [k3, k2]})).await;
    assert_eq!(check(addr, &k3).await, 401);

    let logs = stop(p);
    // The logs are real (so the search below means something) …
    assert!(
        logs.contains("key created: alias=Some(\"logged-alias\")"),
        "{logs}"
    );
    assert!(logs.contains("POST /key/{key}/regenerate 200"), "{logs}");
    assert!(logs.contains("GET /key/info 200"), "{logs}");
    // … and hold no secret.
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret ({}…) appears in the logs:\n{logs}",
            &s[..6]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_gateway_warns_loudly_and_admits_everything() {
    let dir = TempDir::new();
    let p = start(&dir, &[], None);
    let addr = p.addr;
    let r = http(addr, "POST", "/check", &[], Some(&json!({"model": "any"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["open"], json!(true));
    // The management API stays closed without a master key.
    let r = http(addr, "POST", "/key/generate", &[], None).await;
    assert_eq!(r.status, 401);
    let logs = stop(p);
    assert!(logs.contains("THE GATEWAY IS OPEN"), "{logs}");
    assert!(
        dir.0.join("switchyard-keys.db").exists(),
        "the default SQLite file is in the working directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_comes_from_the_named_variable() {
    let dir = TempDir::new();
    let p = start(&dir, &[], Some(MASTER));
    let addr = p.addr;
    let ok = http(
        addr,
        "GET",
        "/key/list",
        &[("x-litellm-api-key", MASTER)],
        None,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let r = http(addr, "POST", "/check", &[], Some(&json!({"model": "any"}))).await;
    assert_eq!(r.status, 401, "with a master key the gateway is closed");
    let logs = stop(p);
    assert!(!logs.contains("THE GATEWAY IS OPEN"));
}

#[test]
fn refuses_an_unknown_database_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard-keyservice"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "mysql://u:hunter2@h/db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the password must not be printed: {err}"
    );
}

/// Writes one HTTP/1.1 request on `stream` and reads its answer (status line and
/// body, by Content-Length); `None` when the server closed the connection instead.
fn exchange(stream: &mut std::net::TcpStream, request: &[u8]) -> Option<u16> {
    use std::io::Write;
    stream.write_all(request).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut status_line = String::new();
    if reader.read_line(&mut status_line).ok()? == 0 {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(status)
}

/// An answer given before the request's body was read (an unknown route, a refused
/// admin call) must not close the connection under Envoy: Envoy reuses it for the
/// next request, and a close racing that reuse is a 502 to an unrelated client
/// ("reset before headers. reset reason: connection termination", seen under load).
/// The keyservice reads every body first, so the same connection answers again.
#[test]
fn an_early_answer_keeps_the_connection_open_for_the_next_request() {
    let dir = TempDir::new();
    let p = start(&dir, &[], Some(MASTER));
    let body = "x".repeat(256 * 1024);
    let mut stream = std::net::TcpStream::connect(p.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for (path, auth, expected) in [
        ("/no/such/route", "", 404u16),
        ("/key/../spend/record", "", 404),
        ("/key/generate", "authorization: Bearer sk-wrong\r\n", 401),
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: ks\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let status = exchange(&mut stream, request.as_bytes());
        assert_eq!(status, Some(expected), "POST {path}");
        let again = exchange(
            &mut stream,
            b"GET /health/liveliness HTTP/1.1\r\nhost: ks\r\n\r\n",
        );
        assert_eq!(
            again,
            Some(200),
            "after POST {path} answered {expected}, the connection no longer answers"
        );
    }
    stop(p);
}
