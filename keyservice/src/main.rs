//! `switchyard-keyservice`: the keyservice process.
//!
//! ```text
//! switchyard-keyservice --listen 127.0.0.1:4001 \
//!     --database-url sqlite://./switchyard-keys.db --master-key-env LITELLM_MASTER_KEY
//! ```
//!
//! The master key is read from the environment variable named by `--master-key-env`
//! (never from argv, where `ps` would show it), and so is the gateway's reporting
//! credential (`--reporter-key-env`, default `SWITCHYARD_REPORTER_KEY`): spend reports
//! (`POST /spend/record`) must carry one of the two, and with neither set every report
//! is refused. `--tls-cert-file` and `--tls-key-file` (PEM) make it serve HTTPS (also
//! spelt like LiteLLM's `--ssl_certfile_path` / `--ssl_keyfile_path`). The first
//! stdout line is `listening on ADDR` with the bound port (so `--listen 127.0.0.1:0`
//! works).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use switchyard_keyservice::service::{Config, KeyService};
use switchyard_keyservice::store::{self, redact_url, DEFAULT_DATABASE_URL};
use switchyard_keyservice::{logging, serve_with, tls};

#[derive(Parser, Debug)]
#[command(
    name = "switchyard-keyservice",
    version,
    about = "Switchyard's keyservice: LiteLLM-compatible virtual keys, budgets, rate limits and spend"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4001")]
    listen: SocketAddr,
    /// Database URL: sqlite://PATH or postgres://… (default: $DATABASE_URL, else
    /// sqlite://./switchyard-keys.db).
    #[arg(long)]
    database_url: Option<String>,
    /// Name of the environment variable holding the master key.
    #[arg(long, default_value = "LITELLM_MASTER_KEY")]
    master_key_env: String,
    /// Name of the environment variable holding the gateway's reporting credential
    /// (the secret Envoy's spend reports carry; the master key is accepted too).
    #[arg(long, default_value = "SWITCHYARD_REPORTER_KEY")]
    reporter_key_env: String,
    /// PEM certificate chain: serve HTTPS (with --tls-key-file).
    #[arg(
        long,
        value_name = "FILE",
        alias = "ssl_certfile_path",
        alias = "ssl-certfile-path",
        requires = "tls_key_file"
    )]
    tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert-file.
    #[arg(
        long,
        value_name = "FILE",
        alias = "ssl_keyfile_path",
        alias = "ssl-keyfile-path",
        requires = "tls_cert_file"
    )]
    tls_key_file: Option<std::path::PathBuf>,
    /// Seconds a cached key, user or team is trusted before re-reading the database.
    #[arg(long, default_value_t = 2.0)]
    cache_ttl_secs: f64,
    /// `max_budget` reported by /global/spend (LiteLLM's litellm_settings.max_budget).
    #[arg(long)]
    max_budget: Option<f64>,
}

fn main() {
    logging::init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchyard-keyservice: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    std::process::exit(rt.block_on(run(args)));
}

async fn run(args: Args) -> i32 {
    let env_url = std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty());
    let database_configured = args.database_url.is_some() || env_url.is_some();
    let url = args
        .database_url
        .clone()
        .or(env_url)
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    let master_key = std::env::var(&args.master_key_env)
        .ok()
        .filter(|s| !s.is_empty());
    let reporter_key = std::env::var(&args.reporter_key_env)
        .ok()
        .filter(|s| !s.is_empty());
    let tls = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => match tls::server_config(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("switchyard-keyservice: {e}");
                return 2;
            }
        },
        _ => None,
    };
    if !(args.cache_ttl_secs >= 0.0 && args.cache_ttl_secs.is_finite()) {
        eprintln!("switchyard-keyservice: --cache-ttl-secs must be a number >= 0");
        return 2;
    }

    let backend = match store::open(&url).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "switchyard-keyservice: cannot open the database {}: {e}",
                redact_url(&url)
            );
            return 1;
        }
    };
    log::info!("database: {} ({:?})", redact_url(&url), backend.kind);
    let config = Config {
        master_key,
        database_configured,
        cache_ttl: Duration::from_secs_f64(args.cache_ttl_secs),
        global_max_budget: args.max_budget,
        reporter_key,
        ..Config::default()
    };
    let service = Arc::new(KeyService::new(backend, config));
    if service.is_open() {
        log::warn!("==================================================================");
        log::warn!("NO MASTER KEY AND NO DATABASE CONFIGURED: THE GATEWAY IS OPEN.");
        log::warn!(
            "Every request is admitted without a key. Set {} (or",
            args.master_key_env
        );
        log::warn!("general_settings.master_key) to require keys.");
        log::warn!("==================================================================");
    } else if !service.has_master_key() {
        log::warn!(
            "no master key is set ({} is empty): virtual keys are enforced but the management API is disabled",
            args.master_key_env
        );
    }
    if !service.takes_reports() {
        log::warn!(
            "neither {} nor {} is set: every spend report (POST /spend/record) is refused",
            args.reporter_key_env,
            args.master_key_env
        );
    }
    let tls_on = tls.is_some();
    let server = match serve_with(args.listen, service, tls).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "switchyard-keyservice: cannot listen on {}: {e}",
                args.listen
            );
            return 1;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.addr);
        let _ = out.flush();
    }
    log::info!(
        "keyservice listening on {}{}",
        server.addr,
        if tls_on { " (TLS)" } else { "" }
    );
    wait_for_signal().await;
    log::info!("shutting down");
    server.stop().await;
    0
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
