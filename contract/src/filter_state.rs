//! Filter-state properties that Envoy's configuration reads: the filter writes them,
//! the config compiler renders the expressions and access-log formats that read
//! them (as `wasm.<name>`).

/// Set to [`API_ANTHROPIC`] by the router stage for a request routed from an
/// Anthropic-format route (`/v1/messages`): Envoy's own error replies
/// (`local_reply_config`) take Anthropic's shape for it. Absent for every other
/// request.
pub const API_PROPERTY: &str = "switchyard_api";
/// The value of [`API_PROPERTY`] for an Anthropic-format request.
pub const API_ANTHROPIC: &str = "anthropic";
