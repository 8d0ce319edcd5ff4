//! `GET /health`'s probes in the upstream stage.
//!
//! A probe is a callout of the filter's own (`stages::router::health`) to a
//! deployment's probe cluster: it never passed the router stage, so it has no route
//! facts, and it names its deployment in [`HEALTH_PROBE_HEADER`]. The stage then
//! translates it for that deployment like any request ("pins" it) instead of taking
//! the load balancer's pick. The header is honoured only on a request without route
//! facts: every client request has them (the router stage sets them before it
//! routes, and removes a client's own probe header), so a client cannot pin.

use crate::endpoint::{classify, ClientApi, Route};
use crate::error::GatewayError;
use crate::host::{header_in, Host};
use crate::stages::router::health::HEALTH_PROBE_HEADER;
use crate::stages::router::RouteFacts;

use super::{Upstream, HOST_DEPLOYMENT_PROPERTY};

/// The deployment id a probe names and the route facts it stands for, when the
/// request is a probe: no route facts (`no_facts`) and the probe header present.
/// `group` is the cluster's model group (the probe's `model`).
pub(super) fn probe_of(
    no_facts: bool,
    headers: &[(String, String)],
    group: &str,
) -> Option<(String, RouteFacts)> {
    if !no_facts {
        return None;
    }
    let id = header_in(headers, HEALTH_PROBE_HEADER)?;
    let path = header_in(headers, ":path").unwrap_or_default();
    let Route::Llm { endpoint, .. } = classify("POST", path) else {
        return None;
    };
    Some((
        id.to_string(),
        RouteFacts {
            endpoint,
            api: ClientApi::OpenAi,
            model: group.to_string(),
            wildcard: None,
            error_fallback: None,
            request_fallbacks: None,
        },
    ))
}

/// The deployment a probe names. When the picked endpoint names a deployment (its
/// metadata), it must be the same one: the probe cluster reaches that deployment
/// alone, and a probe must never be translated for one deployment and sent to
/// another's address.
pub(super) fn pin(up: &Upstream, host: &dyn Host, id: &str) -> Result<usize, GatewayError> {
    let index = up
        .deployments
        .iter()
        .position(|d| d.deployment_id == id)
        .ok_or_else(|| {
            GatewayError::internal(format!(
                "the health probe names deployment {id:?}, which this cluster's filter does not know"
            ))
        })?;
    if let Some(picked) = host
        .property(&HOST_DEPLOYMENT_PROPERTY)
        .filter(|p| !p.is_empty())
    {
        if picked != id.as_bytes() {
            return Err(GatewayError::internal(format!(
                "the health probe for deployment {id:?} reached the endpoint of deployment {:?}",
                String::from_utf8_lossy(&picked)
            )));
        }
    }
    Ok(index)
}
