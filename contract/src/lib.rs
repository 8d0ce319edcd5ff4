//! The definitions shared by Switchyard's processes, each written once: the plugin
//! config the config compiler (`switchyard`) writes and the filter reads; the
//! headers between the filter's stages, Envoy's routes and ext_authz, and the
//! keyservice; the spend reports the filter sends the keyservice; the error bodies
//! every side answers clients with; and the small rules the config compiler checks
//! the way the filter applies them (provider names, LiteLLM-only fields, billing
//! headers, price names, timeouts, Vertex and Bedrock model ids, service account
//! keys, debug-log markers).
//!
//! serde and serde_json only: every process links it, the wasm filter included, so
//! its shipped code follows the filter's rules: no panics, no unchecked indexing.

pub mod billing_headers;
pub mod debug_log;
pub mod error_body;
pub mod filter_state;
pub mod google_auth;
pub mod headers;
pub mod litellm_fields;
pub mod metrics;
pub mod plugin_config;
pub mod prices;
pub mod providers;
pub mod routing;
pub mod spend;
pub mod timeouts;
