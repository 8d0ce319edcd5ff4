//! Where Envoy connects for a deployment ([`UpstreamAddress`]) and how an `api_base`
//! URL becomes one ([`parse_api_base`]): below the modules that work out addresses
//! for each provider (`addresses`, `bedrock`, `presets`).

use serde::Serialize;

/// Where a deployment's cluster connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamAddress {
    /// `https` (TLS with SNI = host) rather than `http`.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; 443/80 when the URL gives none.
    pub port: u16,
    /// Path prefix of `api_base`: `""` or e.g. `"/v1"`, never with a trailing slash.
    pub path_prefix: String,
}

/// Parses an `api_base` URL into where Envoy connects.
pub fn parse_api_base(raw: &str) -> Result<UpstreamAddress, String> {
    let url = raw.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("expected an http:// or https:// URL, got {raw:?}"));
    };
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        other => {
            return Err(format!(
                "unsupported scheme {other:?} in {raw:?}; expected http or https"
            ))
        }
    };
    if rest.contains(['?', '#']) {
        return Err(format!("{raw:?} must not carry a query string or fragment"));
    }
    if rest.chars().any(char::is_whitespace) {
        return Err(format!("{raw:?} contains whitespace"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!(
            "{raw:?} carries credentials (user@host); put the key in api_key instead"
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(format!("{raw:?} has an unclosed IPv6 address"));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{raw:?} has garbage after the IPv6 address"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !host_ok {
        return Err(format!("{raw:?} has no valid host"));
    }
    let port = match port {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{raw:?} has an invalid port {p:?}")),
        },
    };
    Ok(UpstreamAddress {
        tls,
        host: host.to_ascii_lowercase(),
        port,
        path_prefix: path.trim_end_matches('/').to_string(),
    })
}
