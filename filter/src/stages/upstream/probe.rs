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
            // A probe is no client request: no call, no record (the ledger keeps
            // nothing under an empty call id).
            call_id: String::new(),
            call_start_ms: 0,
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

#[cfg(test)]
mod tests {
    use super::super::tests::{cluster, config, env, request, send};
    use super::super::{Upstream, UpstreamExchange, HOST_DEPLOYMENT_PROPERTY};
    use super::*;
    use crate::host::tests::MockHost;
    use crate::host::Flow;
    use crate::plugin_config::Setting;
    use crate::providers::ProviderKind;
    use crate::spend::KEY_PROPERTY;
    use crate::stages::router::ROUTE_PROPERTY;
    use serde_json::json;

    /// An OpenAI deployment `o` and an Anthropic one `cl`, in one cluster.
    fn two() -> Upstream {
        let mut openai = config(ProviderKind::Openai, "gpt-4o");
        openai.deployment_id = "o".into();
        let mut claude = config(ProviderKind::Anthropic, "claude-3");
        claude.deployment_id = "cl".into();
        claude.api_base = Setting::Literal("https://api.anthropic.com".into());
        claude.default_params = Default::default();
        Upstream::new(&cluster(&[openai, claude]), &env).unwrap()
    }

    /// A probe as `stages::router::health` sends it: no route facts, the header.
    fn probe(id: &str, picked: Option<&str>) -> MockHost {
        let body = json!({"model": "g", "messages": [{"role": "user", "content": "test from litellm"}], "max_tokens": 16});
        let mut host = MockHost::with_request(
            &[
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                (":authority", "switchyard-health"),
                ("content-type", "application/json"),
                (HEALTH_PROBE_HEADER, id),
            ],
            &serde_json::to_vec(&body).unwrap(),
        );
        if let Some(p) = picked {
            host.properties
                .insert(HOST_DEPLOYMENT_PROPERTY.join("."), p.as_bytes().to_vec());
        }
        host
    }

    #[test]
    fn a_probe_is_translated_for_the_deployment_it_names() {
        let up = two();
        let mut host = probe("cl", Some("cl"));
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert!(host.local_reply.is_none());
        assert_eq!(host.req(":authority").as_deref(), Some("api.anthropic.com"));
        assert_eq!(host.req(":path").as_deref(), Some("/v1/messages"));
        assert_eq!(
            host.req(HEALTH_PROBE_HEADER),
            None,
            "never sent to a provider"
        );
        let sent = host.request_json();
        assert_eq!(sent["model"], "claude-3");
        assert_eq!(sent["max_tokens"], 16);
    }

    #[test]
    fn a_probe_reaching_another_deployments_endpoint_fails() {
        let up = two();
        let mut host = probe("cl", Some("o"));
        let mut ex = UpstreamExchange::default();
        assert_eq!(ex.on_request_headers(&up, &mut host, false), Flow::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 500);
        assert!(String::from_utf8_lossy(&reply.body).contains("reached the endpoint"));
        let mut host = probe("nope", Some("o"));
        UpstreamExchange::default().on_request_headers(&up, &mut host, false);
        assert_eq!(host.local_reply.as_ref().unwrap().status, 500);
    }

    /// A client request always has route facts: its probe header (which the router
    /// stage strips anyway) pins nothing.
    #[test]
    fn a_client_request_is_never_pinned() {
        let up = two();
        let mut host = request(
            "chat_completions",
            json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}),
        );
        host.request_headers
            .push((HEALTH_PROBE_HEADER.into(), "cl".into()));
        host.properties
            .insert(HOST_DEPLOYMENT_PROPERTY.join("."), b"o".to_vec());
        let (_, flow) = send(&up, &mut host);
        assert_eq!(flow, Flow::Continue);
        assert_eq!(host.req(":authority").as_deref(), Some("api.example.com"));
        assert_eq!(host.req(HEALTH_PROBE_HEADER), None);
        assert!(host.properties.contains_key(ROUTE_PROPERTY));
    }

    /// Probes are not client requests: no spend report, even with key facts about.
    #[test]
    fn probes_are_never_reported_as_spend() {
        let up = two();
        let mut host = probe("o", Some("o"));
        host.properties.insert(
            KEY_PROPERTY.into(),
            crate::spend::KeyFacts {
                key_hash: "h".into(),
                ..Default::default()
            }
            .encode(),
        );
        let (mut ex, _) = send(&up, &mut host);
        host.response_headers = vec![(":status".into(), "200".into())];
        ex.on_response_headers(&up, &mut host, false);
        host.response_body = serde_json::to_vec(&json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        }))
        .unwrap();
        let size = host.response_body.len();
        ex.on_response_body(&up, &mut host, size, true);
        ex.on_done(&up, &host);
        assert!(host.take_spend_reports().is_empty());
    }
}
