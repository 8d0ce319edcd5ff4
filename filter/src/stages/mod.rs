//! The filter's stages, in the order a request meets them. Each is sans-IO, over
//! the [`crate::host::Host`] seam.
//!
//! - [`router`]: in the listener, before ext_authz: classifies the path, answers
//!   what it can itself, resolves the model group and picks its route.
//! - [`responder`]: in the listener, after ext_authz: answers what was deferred
//!   until the key was checked, and routes a key alias.
//! - [`upstream`]: in each route cluster, once per attempt: the picked deployment's
//!   provider translates the request and the answer.
//!
//! The stages depend on [`crate::providers`]; the providers never on a stage.

pub mod responder;
pub mod router;
pub mod upstream;

// One record per request, across the stages.
#[cfg(test)]
mod record_tests;
