//! Switchyard's proxy-wasm filter.
//!
//! One binary, its stages in [`stages`] (see `plugin_config`): the **router** stage
//! in the listener resolves the model group and answers `/models`, health and mock
//! calls; the **upstream** stage in each deployment's cluster has the deployment's
//! provider ([`providers`]) translate the request and the answer back, streams chunk
//! by chunk. Everything
//! but the `glue` module is plain Rust over the [`host::Host`] trait, tested on the
//! host and on wasm32.
//!
//! Shipped code never panics (a panic is a wasm trap that takes down the worker's VM):
//! the workspace's lints (root `Cargo.toml`, `STYLE.md`) refuse `unwrap`, `expect`,
//! `panic!` and unchecked indexing outside tests.

pub mod client;
pub mod codec;
pub mod cost;
pub mod credentials;
pub mod deadline;
pub mod debug_log;
pub mod endpoint;
pub mod error;
pub mod estimate;
pub mod google_auth;
pub mod host;
pub mod litellm_fields;
pub mod log_path;
pub mod mock;
pub mod observe;
pub mod outbox;
pub mod providers;
pub mod request;
pub mod sigv4;
pub mod spend;
pub mod stages;
pub mod wire;

#[cfg(test)]
pub mod test_support;

// The plugin config and the billing-header list are contracts with the config
// compiler, defined in `switchyard_contract`.
pub use switchyard_contract::{billing_headers, plugin_config};

// The unit tests also run on wasm32 (under a WASI runner), without the proxy-wasm glue.
#[cfg(all(target_arch = "wasm32", not(test)))]
mod glue;
