//! A Google service account key file's JSON, as the config compiler checks it and
//! the filter reads it (the filter then parses the RSA key and signs with it:
//! `switchyard_filter::google_auth::ServiceAccount`).

use serde_json::Value;

/// Google's token endpoint, when a service account names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service account key file's fields (`"type": "service_account"`).
#[derive(Clone)]
pub struct ServiceAccountKey {
    /// `client_email`: the JWT's `iss`.
    pub client_email: String,
    /// `private_key_id`: the JWT header's `kid`, when given.
    pub private_key_id: Option<String>,
    /// `private_key`: the PEM text of the RSA key.
    pub private_key: String,
    /// `token_uri`: where tokens come from (the JWT's `aud`); Google's by default.
    pub token_uri: String,
    /// `project_id`, when given.
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads a service-account key file's JSON: its type, the fields a token request
    /// needs, the PEM framing of its private key and a `token_uri` that is an http(s)
    /// URL. (Whether the key is an RSA key the filter can sign with is the filter's
    /// check, when it reads the key.)
    pub fn from_json(text: &str) -> Result<ServiceAccountKey, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the service account credentials are not JSON: {e}"))?;
        let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
        match field("type").as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(format!(
                    "the credentials are of type {other:?}; only service account keys (\"type\": \"service_account\") are supported"
                ))
            }
            None => return Err("the credentials have no \"type\" (expected \"service_account\")".into()),
        }
        let client_email =
            field("client_email").ok_or("the service account has no client_email")?;
        let private_key = field("private_key").ok_or("the service account has no private_key")?;
        match pem_label(&private_key).as_deref() {
            Some("PRIVATE KEY" | "RSA PRIVATE KEY") => {}
            Some(other) => {
                return Err(format!(
                    "private_key is a {other:?} PEM block, not a private key"
                ))
            }
            None => return Err("private_key is not a PEM block".into()),
        }
        let token_uri = field("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
        split_url(&token_uri).map_err(|e| format!("token_uri: {e}"))?;
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: field("private_key_id"),
            private_key,
            token_uri,
            project_id: field("project_id"),
        })
    }
}

/// The label of the first PEM block in `pem` (`-----BEGIN <label>-----`).
fn pem_label(pem: &str) -> Option<String> {
    pem.lines().map(str::trim).find_map(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .map(str::to_string)
    })
}

/// Splits `https://host[:port]/path` into (authority, path); the default port of
/// the scheme is dropped.
pub fn split_url(url: &str) -> Result<(String, String), String> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("https://") {
        (r, ":443")
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, ":80")
    } else {
        return Err(format!("{url:?} is not an http(s) URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok((authority.to_string(), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_checked_field_by_field() {
        let ok = serde_json::json!({
            "type": "service_account", "client_email": "a@b", "project_id": "p",
            "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        });
        let key = ServiceAccountKey::from_json(&ok.to_string()).unwrap();
        assert_eq!(key.token_uri, DEFAULT_TOKEN_URI);
        assert_eq!(key.project_id.as_deref(), Some("p"));
        assert!(!format!("{key:?}").contains("AAAA"), "never the key");
        let mut cert = ok.clone();
        cert["private_key"] = "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----".into();
        let e = ServiceAccountKey::from_json(&cert.to_string()).unwrap_err();
        assert!(e.contains("not a private key"), "{e}");
        let mut user = ok.clone();
        user["type"] = "authorized_user".into();
        let e = ServiceAccountKey::from_json(&user.to_string()).unwrap_err();
        assert!(e.contains("authorized_user"), "{e}");
        let mut bad_uri = ok;
        bad_uri["token_uri"] = "ftp://x/token".into();
        let e = ServiceAccountKey::from_json(&bad_uri.to_string()).unwrap_err();
        assert!(e.starts_with("token_uri:"), "{e}");
        assert_eq!(
            split_url("http://127.0.0.1:9000/oauth/token?x=1").unwrap(),
            ("127.0.0.1:9000".into(), "/oauth/token?x=1".into())
        );
    }
}
