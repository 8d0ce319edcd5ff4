//! Switchyard's keyservice: LiteLLM-compatible virtual keys, budgets, rate limits and
//! spend, for the gateway's Envoy to consult on every request.
//!
//! Layout:
//! - [`keys`]: key generation (`sk-` + 16 random bytes), SHA-256 token ids, `key_name`,
//!   constant-time comparison;
//! - [`time`]: epoch-millisecond calendar arithmetic, LiteLLM durations, budget reset
//!   boundaries, ISO-8601;
//! - [`check`]: the pure admission check (key, expiry, models, budgets, limits);
//! - [`limits`]: rate-limit windows and the shared limiter state;
//! - [`model`]: stored records and their LiteLLM JSON shapes;
//! - [`store`]: the [`store::Store`] trait and its SQLite and PostgreSQL implementations,
//!   with migrations;
//! - [`cache`]: the short-TTL cache for hot lookups;
//! - [`service`]: the operations behind the HTTP routes;
//! - [`api`]: the axum router;
//! - [`error`]: OpenAI-shaped errors;
//! - [`logging`]: a stderr logger (no secrets, ever);
//! - [`tls`]: TLS on the listener, for a keyservice on another machine.

pub mod api;
pub mod cache;
pub mod check;
pub mod error;
pub mod keys;
pub mod limits;
pub mod logging;
pub mod model;
pub mod service;
pub mod store;
pub mod store_error;
pub mod time;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

/// A running server: its bound address and a handle to stop it.
pub struct Server {
    /// The address the server listens on (the port is the real one when 0 was asked).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops accepting, lets requests in flight finish, and waits for the server.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `service` until stopped.
/// Also runs the limiter's clean-up once a minute.
pub async fn serve(
    listen: SocketAddr,
    service: Arc<service::KeyService>,
) -> std::io::Result<Server> {
    serve_with(listen, service, None).await
}

/// [`serve`], over TLS when `tls` is given ([`tls::server_config`]).
pub async fn serve_with(
    listen: SocketAddr,
    service: Arc<service::KeyService>,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let gc_service = service.clone();
    let gc = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            gc_service.gc(time::now_ms()).await;
        }
    });
    let app = api::router(service);
    let shutdown = async {
        let _ = rx.await;
    };
    let task = match tls {
        None => tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
            gc.abort();
            result
        }),
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config)?;
            tokio::spawn(async move {
                let result = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
                gc.abort();
                result
            })
        }
    };
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task,
    })
}
