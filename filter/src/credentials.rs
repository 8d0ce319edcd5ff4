//! The client's gateway credentials, and how they survive an internal redirect.
//!
//! A client presents its key (a virtual key, or the master key) in one of LiteLLM's
//! headers, [`CLIENT_CREDENTIAL_HEADERS`]; ext_authz hands exactly these to the
//! keyservice. Each upstream attempt removes them from the request (the provider
//! gets the deployment's own key instead, in one of the same headers). Envoy shares
//! one request header map between the attempts of a request, and an internal
//! redirect — an error fallback replaying the request through the listener's
//! filters, ext_authz included — starts from that edited map. Left alone, the
//! replay would present the *provider's* key to the keyservice (refused as "Invalid
//! proxy server token", and a provider secret sent where it does not belong).
//!
//! So: the router stage records the client's credential headers as they arrived
//! (filter state [`CLIENT_CREDENTIALS_PROPERTY`], with virtual keys on), and every
//! redirect the upstream stage answers with carries them as response headers
//! ([`restore_for_replay`]). The route's `internal_redirect_policy` copies exactly
//! [`CLIENT_CREDENTIAL_HEADERS`] from the redirect into the replayed request: a
//! header the redirect carries replaces the request's, one it lacks is removed.
//! The replay therefore presents the client's credentials and nothing else in
//! those headers. The provider's other headers (`anthropic-version`, SigV4, extra
//! headers) never reach the keyservice (ext_authz forwards only these) and are
//! removed by the next attempt's upstream stage.

use crate::host::{header_in, Host};

/// Request headers a client's gateway credentials come in (LiteLLM's): ext_authz
/// sends these to the keyservice; an internal redirect restores them from the
/// client's originals.
pub use switchyard_contract::headers::CLIENT_CREDENTIAL_HEADERS;

/// Filter state holding the client's credential headers as they arrived.
pub const CLIENT_CREDENTIALS_PROPERTY: &str = "switchyard_client_credentials";

/// The credential headers among `headers`, as `name: value` lines (a value never
/// holds a newline: Envoy refuses such headers).
pub fn encode(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for name in CLIENT_CREDENTIAL_HEADERS {
        if let Some(value) = header_in(headers, name) {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// Inverse of [`encode`]; only names of [`CLIENT_CREDENTIAL_HEADERS`] come back.
pub fn decode(raw: &[u8]) -> Vec<(&'static str, String)> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .filter_map(|(name, value)| {
            CLIENT_CREDENTIAL_HEADERS
                .iter()
                .find(|known| **known == name)
                .map(|known| (*known, value.to_string()))
        })
        .collect()
}

/// Puts the client's credential headers on the redirect response at hand (the
/// upstream stage's 307 to an error fallback), so that Envoy's
/// `response_headers_to_copy` gives the replayed request the client's credentials
/// and drops the provider's. Every internal redirect the filter answers with must
/// call this.
pub fn restore_for_replay(host: &mut dyn Host) {
    let recorded = host
        .property(&[CLIENT_CREDENTIALS_PROPERTY])
        .unwrap_or_default();
    for name in CLIENT_CREDENTIAL_HEADERS {
        host.set_response_header(name, None);
    }
    for (name, value) in decode(&recorded) {
        host.set_response_header(name, Some(&value));
    }
}

/// A response on its way to the client (the router stage): a redirect Envoy did not
/// follow (it should always follow the filter's) must not hand the credentials (or
/// the admission id) it carries for the replay back to the client.
pub fn strip_from_unfollowed_redirect(host: &mut dyn Host) {
    if host.response_header(":status").as_deref() == Some("307") {
        for name in CLIENT_CREDENTIAL_HEADERS {
            host.set_response_header(name, None);
        }
        host.set_response_header(crate::spend::ADMISSION_HEADER, None);
        host.set_response_header(crate::observe::call::CALL_ID_CARRIER_HEADER, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::MockHost;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_credential_headers_are_recorded_and_restored() {
        let raw = encode(&pairs(&[
            ("Authorization", "Bearer sk-virtual"),
            ("x-api-key", "sk-ant-client"),
            ("cookie", "session=1"),
            ("content-type", "application/json"),
        ]));
        assert_eq!(
            decode(&raw),
            vec![
                ("authorization", "Bearer sk-virtual".to_string()),
                ("x-api-key", "sk-ant-client".to_string()),
            ]
        );
        // A forged line for another header is ignored.
        assert!(decode(b"set-cookie: x\nx-forwarded-for: 1.2.3.4\n").is_empty());
    }

    #[test]
    fn the_redirect_carries_the_clients_credentials_only() {
        let mut host = MockHost::default();
        host.properties.insert(
            CLIENT_CREDENTIALS_PROPERTY.into(),
            encode(&pairs(&[("authorization", "Bearer sk-virtual")])),
        );
        // The provider attempt's headers on the response (as a provider might echo).
        host.response_headers = pairs(&[(":status", "307"), ("x-api-key", "sk-ant-provider")]);
        restore_for_replay(&mut host);
        let get = |name: &str| {
            host.response_headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("authorization").as_deref(), Some("Bearer sk-virtual"));
        assert_eq!(
            get("x-api-key"),
            None,
            "absent on the redirect: cleared on replay"
        );
    }

    #[test]
    fn an_unfollowed_redirect_loses_them_on_the_way_out() {
        let mut host = MockHost {
            response_headers: pairs(&[(":status", "307"), ("authorization", "Bearer sk-v")]),
            ..Default::default()
        };
        strip_from_unfollowed_redirect(&mut host);
        assert_eq!(host.response_headers, pairs(&[(":status", "307")]));
        // Any other answer is left alone (a provider may name its own headers so).
        host.response_headers = pairs(&[(":status", "200"), ("x-api-key", "echo")]);
        strip_from_unfollowed_redirect(&mut host);
        assert_eq!(host.response_headers.len(), 2);
    }

    #[test]
    fn without_a_record_every_credential_header_is_cleared() {
        let mut host = MockHost {
            response_headers: pairs(&[(":status", "307"), ("api-key", "azure-key")]),
            ..Default::default()
        };
        restore_for_replay(&mut host);
        assert!(host
            .response_headers
            .iter()
            .all(|(k, _)| !CLIENT_CREDENTIAL_HEADERS.contains(&k.as_str())));
    }
}
