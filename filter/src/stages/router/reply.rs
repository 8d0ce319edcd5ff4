//! Answers the router stage gives itself: sent now, or kept in filter state for
//! the responder stage until the key was checked.

use super::*;

/// Filter state holding an answer deferred until the key was checked.
pub const REPLY_PROPERTY: &str = "switchyard_reply";
/// Filter state holding the answer to a client's own `mock_response`, which the
/// responder sends only when the keyservice allows it (see `per_request`).
pub const CLIENT_MOCK_PROPERTY: &str = "switchyard_client_mock";
/// Filter state holding the request's spend labels (`metadata`, `tags`) when keys are
/// checked, for the report of an answer the responder stage sends.
pub const LABELS_PROPERTY: &str = "switchyard_labels";
/// Pseudo-header marking a deferred `/models` answer, which the responder filters to
/// the key's models.
pub const MODELS_LIST_MARKER: &str = "x-switchyard-models-list";

/// `status`, one `name: value` line per header, a blank line, then the body.
pub fn encode_reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status}\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push('\n');
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An answer kept for the responder stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredReply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

/// Inverse of [`encode_reply`].
pub fn decode_reply(raw: &[u8]) -> Option<DeferredReply> {
    let split = raw.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let body = raw.get(split + 2..)?.to_vec();
    let mut lines = head.split('\n');
    let status = lines.next()?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(DeferredReply {
        status,
        headers,
        body,
    })
}

/// A local answer: sent now, or — when the key must be checked first — kept in
/// filter state for the responder stage, the request continuing to ext_authz.
pub(super) fn answer_locally(
    router: &Router,
    host: &mut dyn Host,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Flow {
    if router.defer_answers {
        host.set_property(&[REPLY_PROPERTY], &encode_reply(status, headers, body));
        Flow::Continue
    } else {
        send_local_reply(host, status, headers, body);
        Flow::Pause
    }
}

/// A local reply, with the call's `x-litellm-*` headers.
fn send_local_reply(host: &mut dyn Host, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let call = crate::observe::call::answer_headers(host);
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.extend(call.iter().map(|(k, v)| (*k, v.as_str())));
    host.send_local_reply(status, &all, body);
}

pub(super) fn reply_json(host: &mut dyn Host, status: u16, body: &[u8]) {
    send_local_reply(host, status, &[("content-type", "application/json")], body);
}

pub(super) fn reply_error(
    router: &Router,
    host: &mut dyn Host,
    err: &GatewayError,
    api: ClientApi,
) -> Flow {
    host.log(Level::Debug, &format!("switchyard router: {err}"));
    let body = if api.is_anthropic() {
        crate::client::anthropic::error_body(err)
    } else {
        err.to_body()
    };
    answer_locally(
        router,
        host,
        err.status,
        &[("content-type", "application/json")],
        &body,
    )
}
