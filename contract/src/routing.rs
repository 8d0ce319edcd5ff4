//! Routing limits the config compiler renders into Envoy's routes and the filter's
//! router stage enforces.

/// Most groups a request's own `fallbacks` may name (LiteLLM's default
/// `max_fallbacks`); the routes allow as many internal redirects.
pub const MAX_REQUEST_FALLBACKS: usize = 5;
