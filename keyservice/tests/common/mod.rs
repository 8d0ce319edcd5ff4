//! Test helpers: a minimal HTTP/1.1 client over a TCP socket, temporary directories,
//! databases (a SQLite file per test, or a fresh schema per test on the PostgreSQL
//! named by `SWITCHYARD_TEST_POSTGRES_URL`), and a running keyservice.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use switchyard_keyservice::service::{Config, KeyService};
use switchyard_keyservice::{serve, store, Server};

pub const MASTER: &str = "sk-test-master-key-1234";

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The OpenAI error `type`.
    pub fn error_type(&self) -> String {
        self.json()["error"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Resp {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str("content-type: application/json\r\n");
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 30 s")
        .expect("read");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "switchyard-ks-{}",
            switchyard_keyservice::keys::random_uuid()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test's data lives; keeps a SQLite directory alive.
pub struct Db {
    pub url: String,
    _dir: Option<TempDir>,
    /// (server URL, schema) of a PostgreSQL test schema.
    pg: Option<(String, String)>,
}

impl Db {
    /// Drops a PostgreSQL test schema (a SQLite directory goes when dropped).
    pub async fn cleanup(self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(pool) = sqlx::PgPool::connect(base).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&pool)
                    .await;
                pool.close().await;
            }
        }
    }
}

/// A fresh SQLite database file.
pub fn sqlite_db() -> Db {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("keys.db").display());
    Db {
        url,
        _dir: Some(dir),
        pg: None,
    }
}

/// A fresh schema on the test PostgreSQL, or None (and a note) when it is not set.
pub async fn postgres_db(test: &str) -> Option<Db> {
    let Ok(base) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
        eprintln!("skipped {test} on PostgreSQL: SWITCHYARD_TEST_POSTGRES_URL is not set");
        return None;
    };
    let schema = format!(
        "t_{}",
        switchyard_keyservice::keys::random_uuid().replace('-', "")
    );
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .expect("create a test schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(Db {
        url: format!("{base}{sep}options[search_path]={schema}"),
        _dir: None,
        pg: Some((base, schema)),
    })
}

/// A running keyservice.
pub struct Ks {
    pub addr: SocketAddr,
    pub service: Arc<KeyService>,
    server: Option<Server>,
}

impl Ks {
    pub async fn start(url: &str, master: Option<&str>, cache_ttl: Duration) -> Ks {
        Ks::start_with(url, master, None, cache_ttl).await
    }

    /// [`Ks::start`] with the gateway's reporting credential set (or not).
    pub async fn start_with(
        url: &str,
        master: Option<&str>,
        reporter: Option<&str>,
        cache_ttl: Duration,
    ) -> Ks {
        let backend = store::open(url).await.expect("open the store");
        let config = Config {
            master_key: master.map(str::to_string),
            database_configured: true,
            cache_ttl,
            reporter_key: reporter.map(str::to_string),
            ..Config::default()
        };
        let service = Arc::new(KeyService::new(backend, config));
        let server = serve("127.0.0.1:0".parse().unwrap(), service.clone())
            .await
            .expect("serve");
        Ks {
            addr: server.addr,
            service,
            server: Some(server),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// An admin call with the master key.
    pub async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {MASTER}");
        http(self.addr, method, path, &[("authorization", &auth)], body).await
    }

    /// The check for `key` (via `Authorization: Bearer`) and `model`.
    pub async fn check(&self, key: &str, model: Option<&str>) -> Resp {
        let auth = format!("Bearer {key}");
        let body = model.map(|m| serde_json::json!({ "model": m, "messages": [] }));
        http(
            self.addr,
            "POST",
            "/check/v1/chat/completions",
            &[("authorization", &auth)],
            body.as_ref(),
        )
        .await
    }
}
