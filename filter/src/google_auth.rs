//! Google service-account credentials for Vertex AI, sans-IO.
//!
//! Vertex AI wants `Authorization: Bearer <access token>`. A service account gets
//! one with OAuth 2.0's JWT-bearer grant (RFC 7523, Google's "Using OAuth 2.0 for
//! server to server applications"): a JWT signed with the account's RSA key (RS256)
//! whose claims are `iss` (the account's `client_email`), `scope`
//! (`https://www.googleapis.com/auth/cloud-platform`), `aud` (the account's
//! `token_uri`), `iat` and `exp` (an hour later) is POSTed form-encoded
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`) to the
//! `token_uri`, which answers `{"access_token", "expires_in", "token_type"}`.
//!
//! This module builds the request and reads the answer; time comes in as an
//! argument, nothing here does IO. The filter's glue sends the request from the
//! upstream stage's root context (`dispatch_http_call` on the token endpoint's
//! cluster) and keeps the token in proxy-wasm shared data as a [`TokenRecord`], so
//! every worker uses one token per account, fetched once, and fetched again
//! [`REFRESH_MARGIN_SECS`] before it expires; requests that find no usable token
//! wait for the fetch ([`TokenRecord::state`]).

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

pub use switchyard_contract::google_auth::{split_url, ServiceAccountKey, DEFAULT_TOKEN_URI};

/// The OAuth scope Vertex AI needs (what LiteLLM and Google's client libraries ask).
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// RFC 7523's grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion (Google accepts at most an hour).
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// A token is fetched again this long before it expires (half its lifetime, for
/// tokens shorter-lived than twice this).
pub const REFRESH_MARGIN_SECS: u64 = 300;
/// A token this close to its expiry is no longer handed to a request (a quarter of
/// its lifetime, for short-lived tokens).
pub const USABLE_MARGIN_SECS: u64 = 30;
/// How long one fetch may take before another worker may try (its lease).
pub const FETCH_LEASE_SECS: u64 = 15;
/// After a failed fetch, requests fail at once for this long before a new fetch.
pub const RETRY_AFTER_FAILURE_SECS: u64 = 5;

/// A service account's key and identity, parsed at configure time.
pub struct ServiceAccount {
    /// `client_email`: the JWT's `iss`.
    pub client_email: String,
    /// `private_key_id`: the JWT header's `kid`, when given.
    pub private_key_id: Option<String>,
    /// `token_uri`: where tokens come from (the JWT's `aud`).
    pub token_uri: String,
    /// `project_id`, when given.
    pub project_id: Option<String>,
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// The token request for one account: POST `path` on `authority`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `host[:port]` of the `token_uri`.
    pub authority: String,
    /// Path (and query) of the `token_uri`.
    pub path: String,
    /// The form-encoded body.
    pub body: String,
}

/// The DER bytes of a PEM block (`-----BEGIN …-----` … `-----END …-----`) and its
/// label.
fn pem_der(pem: &str) -> Result<(String, Vec<u8>), String> {
    let mut label = None;
    let mut body = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    let label = label.ok_or("private_key is not a PEM block")?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("private_key is not valid PEM base64: {e}"))?;
    Ok((label, der))
}

impl ServiceAccount {
    /// Reads a service-account key file's JSON (`"type": "service_account"`): the
    /// fields as the config compiler checks them
    /// ([`switchyard_contract::google_auth::ServiceAccountKey`]), then the RSA key.
    pub fn from_json(text: &str) -> Result<ServiceAccount, String> {
        let fields = ServiceAccountKey::from_json(text)?;
        let (label, der) = pem_der(&fields.private_key)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der)
                .map_err(|e| format!("private_key is not an RSA PKCS#8 key: {e}"))?,
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|e| format!("private_key is not an RSA PKCS#1 key: {e}"))?,
            other => {
                return Err(format!(
                    "private_key is a {other:?} PEM block, not a private key"
                ))
            }
        };
        Ok(ServiceAccount {
            client_email: fields.client_email,
            private_key_id: fields.private_key_id,
            token_uri: fields.token_uri,
            project_id: fields.project_id,
            key: SigningKey::<Sha256>::new(key),
        })
    }

    /// The shared-data key under which this account's token is kept.
    pub fn cache_key(&self) -> String {
        format!(
            "switchyard.google_token.{}.{}",
            self.client_email, self.token_uri
        )
    }

    /// RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256) of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.key
            .try_sign(message)
            .map(|s| s.to_vec())
            .map_err(|e| format!("could not sign the token assertion: {e}"))
    }

    /// The signed JWT assertion, issued at `now` (Unix seconds).
    pub fn assertion(&self, now: u64) -> Result<String, String> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let (Some(kid), Some(obj)) = (&self.private_key_id, header.as_object_mut()) {
            obj.insert("kid".into(), Value::from(kid.as_str()));
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let mut jwt = b64.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&b64.encode(claims.to_string()));
        let signature = self.sign(jwt.as_bytes())?;
        jwt.push('.');
        jwt.push_str(&b64.encode(signature));
        Ok(jwt)
    }

    /// The token request, with an assertion issued at `now`.
    pub fn token_request(&self, now: u64) -> Result<TokenRequest, String> {
        let (authority, path) = split_url(&self.token_uri)?;
        // The JWT is URL-safe base64 and dots: nothing to escape.
        let body = format!(
            "grant_type={}&assertion={}",
            GRANT_TYPE.replace(':', "%3A"),
            self.assertion(now)?
        );
        Ok(TokenRequest {
            authority,
            path,
            body,
        })
    }
}

/// What shared data holds for one account: the token and its expiry, a fetch in
/// flight (its lease), and the last failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the token expires (Unix seconds).
    #[serde(default)]
    pub expires_at: u64,
    /// When the token was fetched (Unix seconds).
    #[serde(default)]
    pub issued_at: u64,
    /// A worker is fetching until then (Unix seconds); 0: nobody.
    #[serde(default)]
    pub fetching_until: u64,
    /// Why the last fetch failed, as an OpenAI-shaped error's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The status a request gets while the failure stands (401 or 503).
    #[serde(default)]
    pub error_status: u16,
    /// When the last fetch failed.
    #[serde(default)]
    pub error_at: u64,
}

/// What a request does with an account's [`TokenRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    /// Use this token.
    Ready(String),
    /// Wait: a fetch is (or will be) under way.
    Wait,
    /// Fail: the last fetch failed, with this status and message.
    Failed(u16, String),
}

impl TokenRecord {
    /// Reads a record from shared data (absent or unreadable: empty).
    pub fn decode(raw: Option<&[u8]>) -> TokenRecord {
        raw.and_then(|r| serde_json::from_slice(r).ok())
            .unwrap_or_default()
    }

    /// The bytes kept in shared data.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn lifetime(&self) -> u64 {
        self.expires_at.saturating_sub(self.issued_at)
    }

    fn usable_token(&self, now: u64) -> Option<&str> {
        let margin = USABLE_MARGIN_SECS.min(self.lifetime() / 4);
        self.token
            .as_deref()
            .filter(|_| self.expires_at > now.saturating_add(margin))
    }

    /// What a request arriving at `now` does.
    pub fn state(&self, now: u64) -> TokenState {
        if let Some(t) = self.usable_token(now) {
            return TokenState::Ready(t.to_string());
        }
        match &self.error {
            Some(e) if !self.fetching(now) => TokenState::Failed(self.error_status, e.clone()),
            _ => TokenState::Wait,
        }
    }

    fn fetching(&self, now: u64) -> bool {
        self.fetching_until > now
    }

    /// Whether a worker should fetch a token at `now`: nobody is fetching, the
    /// token is missing or expires within [`REFRESH_MARGIN_SECS`], and no failure
    /// happened in the last [`RETRY_AFTER_FAILURE_SECS`] — unless `waiting`
    /// requests want one (a failure does not keep them waiting in vain: they
    /// fail at once, see [`TokenRecord::state`]).
    pub fn needs_fetch(&self, now: u64) -> bool {
        if self.fetching(now) {
            return false;
        }
        let margin = REFRESH_MARGIN_SECS.min(self.lifetime() / 2);
        let fresh = self
            .token
            .as_ref()
            .is_some_and(|_| self.expires_at > now.saturating_add(margin));
        let backing_off =
            self.error.is_some() && now < self.error_at.saturating_add(RETRY_AFTER_FAILURE_SECS);
        !fresh && !backing_off
    }

    /// The record a worker writes (compare-and-swap) to claim the fetch.
    pub fn claimed(&self, now: u64) -> TokenRecord {
        TokenRecord {
            fetching_until: now.saturating_add(FETCH_LEASE_SECS),
            ..self.clone()
        }
    }

    /// The record after a fetch that ended at `now` with `result`.
    pub fn completed(&self, now: u64, result: Result<(String, u64), (u16, String)>) -> TokenRecord {
        match result {
            Ok((token, expires_in)) => TokenRecord {
                token: Some(token),
                expires_at: now.saturating_add(expires_in),
                issued_at: now,
                ..TokenRecord::default()
            },
            Err((status, message)) => TokenRecord {
                // A token still usable stays in use.
                token: self.usable_token(now).map(str::to_string),
                expires_at: self.expires_at,
                issued_at: self.issued_at,
                fetching_until: 0,
                error: Some(message),
                error_status: status,
                error_at: now,
            },
        }
    }
}

/// Reads the token endpoint's answer: `Ok((access_token, expires_in))`, or the
/// status and message the waiting requests get: 401 when the endpoint refused the
/// credentials (Google answers 400 `invalid_grant` for a bad key or assertion), 503
/// when it could not be reached or answered something else.
pub fn parse_token_response(
    token_uri: &str,
    status: u16,
    body: &[u8],
) -> Result<(String, u64), (u16, String)> {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        v.as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if (200..300).contains(&status) {
        let token = field("access_token").filter(|t| !t.is_empty());
        let expires_in = v
            .as_ref()
            .and_then(|v| v.get("expires_in"))
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        return token.map(|t| (t, expires_in)).ok_or_else(|| {
            (
                503,
                format!("Could not get a Vertex AI access token: the token endpoint {token_uri} answered without an access_token"),
            )
        });
    }
    let detail = match (field("error"), field("error_description")) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e,
        _ if status == 0 => "no answer (unreachable, or timed out)".to_string(),
        _ => format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        ),
    };
    let refused = matches!(status, 400 | 401 | 403);
    Err((
        if refused { 401 } else { 503 },
        format!(
            "Could not get a Vertex AI access token from {token_uri} for the deployment's service account: {detail}"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    const KEY: &str = include_str!("testdata/google_test_key.pem");

    fn account() -> ServiceAccount {
        let sa = json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "kid-1",
            "private_key": KEY,
            "client_email": "gw@proj-1.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        ServiceAccount::from_json(&sa.to_string()).unwrap()
    }

    #[test]
    fn signatures_match_openssl() {
        // `printf 'switchyard.test' | openssl dgst -sha256 -sign google_test_key.pem`,
        // URL-safe base64: PKCS#1 v1.5 signatures are deterministic.
        let expected = "i3MQswbfMZgwOl9S1QNeMxMN_LlCN_lVbvVOWOP3kw7xfRxwsRV20aXYkQxEibKO6CTqMfdH0E8Lj_GazCWZ44UsFua94925-Q2zhv-CDryNUzDSWXtMJAv5LdvdIalQ058OqJDYB0IrLSgaiOEjb-MPP8g8otIrQrsQJEHdUYjdgLyasBnaqM0zOo8raq6KVWUbHtVgAWOQQaPjqqloaDuWZRGVElxsA-itV0DXf7xrKTgymmAV_a4EdqtPHkQW9UHHcYeDWl0yrB31sfxdgMjl9-X1j8JyTEC8PYrl57vA6MVUrG6EuuBlWFAfrM3py1HOB-QUe_cAoOba-C7zhw";
        let sig = account().sign(b"switchyard.test").unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig),
            expected
        );
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_with_googles_claims() {
        let sa = account();
        let jwt = sa.assertion(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            json!({"iss": "gw@proj-1.iam.gserviceaccount.com",
                   "scope": "https://www.googleapis.com/auth/cloud-platform",
                   "aud": "https://oauth2.googleapis.com/token",
                   "iat": 1_700_000_000u64, "exp": 1_700_003_600u64})
        );
        // The signature verifies with the public key, over `header.claims`.
        let key = RsaPrivateKey::from_pkcs8_der(&pem_der(KEY).unwrap().1).unwrap();
        let verifying = VerifyingKey::<Sha256>::new(key.to_public_key());
        let signature = Signature::try_from(b64.decode(parts[2]).unwrap().as_slice()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verifying.verify(signed.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"tampered", &signature).is_err());
        // Same time, same assertion (time is the only input).
        assert_eq!(sa.assertion(1_700_000_000).unwrap(), jwt);
    }

    #[test]
    fn the_token_request_is_form_encoded_to_the_token_uri() {
        let r = account().token_request(1_700_000_000).unwrap();
        assert_eq!(r.authority, "oauth2.googleapis.com");
        assert_eq!(r.path, "/token");
        let assertion = account().assertion(1_700_000_000).unwrap();
        assert_eq!(
            r.body,
            format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}")
        );
        assert_eq!(
            split_url("http://127.0.0.1:9000/oauth/token?x=1").unwrap(),
            ("127.0.0.1:9000".into(), "/oauth/token?x=1".into())
        );
        assert_eq!(
            split_url("https://h:443").unwrap(),
            ("h".into(), "/".into())
        );
        assert!(split_url("ftp://h/x").is_err());
    }

    #[test]
    fn bad_credentials_are_named() {
        let cases = [
            ("{not json".to_string(), "not JSON"),
            (json!({"type": "authorized_user"}).to_string(), "authorized_user"),
            (json!({"type": "service_account", "private_key": KEY}).to_string(), "client_email"),
            (
                json!({"type": "service_account", "client_email": "a", "private_key": "nope"}).to_string(),
                "not a PEM block",
            ),
            (
                json!({"type": "service_account", "client_email": "a",
                       "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"})
                .to_string(),
                "PKCS#8",
            ),
            (
                json!({"type": "service_account", "client_email": "a", "private_key": KEY, "token_uri": "oauth"})
                    .to_string(),
                "token_uri",
            ),
        ];
        for (text, needle) in cases {
            let e = ServiceAccount::from_json(&text).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        // No token_uri: Google's.
        let sa = ServiceAccount::from_json(
            &json!({"type": "service_account", "client_email": "a", "private_key": KEY})
                .to_string(),
        )
        .unwrap();
        assert_eq!(sa.token_uri, DEFAULT_TOKEN_URI);
        assert!(
            !format!("{sa:?}").contains("PRIVATE"),
            "the key is never printed"
        );
    }

    #[test]
    fn token_answers_and_failures() {
        let uri = "https://oauth2.googleapis.com/token";
        assert_eq!(
            parse_token_response(
                uri,
                200,
                br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#
            ),
            Ok(("ya29.x".into(), 3599))
        );
        let (status, msg) = parse_token_response(
            uri,
            400,
            br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        )
        .unwrap_err();
        assert_eq!(status, 401);
        assert!(
            msg.contains("invalid_grant: Invalid JWT Signature.") && msg.contains(uri),
            "{msg}"
        );
        let (status, msg) = parse_token_response(uri, 0, b"").unwrap_err();
        assert_eq!(status, 503);
        assert!(msg.contains("unreachable"), "{msg}");
        assert_eq!(
            parse_token_response(uri, 502, b"bad gateway")
                .unwrap_err()
                .0,
            503
        );
        assert_eq!(parse_token_response(uri, 200, b"{}").unwrap_err().0, 503);
    }

    #[test]
    fn the_record_decides_use_wait_fetch_or_fail() {
        let now = 1_000_000;
        let empty = TokenRecord::default();
        assert_eq!(empty.state(now), TokenState::Wait);
        assert!(empty.needs_fetch(now));
        // One worker claims the fetch; nobody else fetches while the lease runs.
        let claimed = empty.claimed(now);
        assert!(!claimed.needs_fetch(now + 1));
        assert!(
            claimed.needs_fetch(now + FETCH_LEASE_SECS),
            "an expired lease"
        );
        assert_eq!(claimed.state(now), TokenState::Wait);
        // A token: used until shortly before it expires, refreshed earlier.
        let ok = claimed.completed(now, Ok(("t1".into(), 3600)));
        assert_eq!(ok.fetching_until, 0);
        assert_eq!(ok.state(now + 10), TokenState::Ready("t1".into()));
        assert!(!ok.needs_fetch(now + 3600 - REFRESH_MARGIN_SECS - 1));
        assert!(ok.needs_fetch(now + 3600 - REFRESH_MARGIN_SECS));
        assert_eq!(
            ok.state(now + 3600 - REFRESH_MARGIN_SECS),
            TokenState::Ready("t1".into()),
            "still good while the refresh runs"
        );
        assert_eq!(ok.state(now + 3600 - USABLE_MARGIN_SECS), TokenState::Wait);
        // A failed refresh keeps a usable token; requests never see the failure.
        let failed = ok
            .claimed(now + 3400)
            .completed(now + 3400, Err((503, "down".into())));
        assert_eq!(failed.state(now + 3401), TokenState::Ready("t1".into()));
        assert!(!failed.needs_fetch(now + 3401), "backing off");
        assert!(failed.needs_fetch(now + 3400 + RETRY_AFTER_FAILURE_SECS));
        // With no usable token, a failure fails requests until a new fetch starts.
        let failed = empty
            .claimed(now)
            .completed(now, Err((401, "invalid_grant".into())));
        assert_eq!(
            failed.state(now),
            TokenState::Failed(401, "invalid_grant".into())
        );
        assert_eq!(failed.claimed(now + 10).state(now + 10), TokenState::Wait);
        // Short-lived tokens: refreshed at half their life, used until the last
        // quarter.
        let short = empty.completed(now, Ok(("t2".into(), 8)));
        assert!(!short.needs_fetch(now + 3));
        assert!(short.needs_fetch(now + 4));
        assert_eq!(short.state(now + 5), TokenState::Ready("t2".into()));
        assert_eq!(short.state(now + 6), TokenState::Wait);
        // Round trip through shared data; garbage reads as empty.
        assert_eq!(TokenRecord::decode(Some(&ok.encode())), ok);
        assert_eq!(TokenRecord::decode(Some(b"nope")), TokenRecord::default());
        assert_eq!(TokenRecord::decode(None), TokenRecord::default());
    }
}
