//! AWS Signature Version 4 request signing, sans-IO.
//!
//! Bedrock (`bedrock-runtime`) authenticates every request with SigV4 unless the
//! deployment uses a Bedrock API key (`Authorization: Bearer`). The upstream stage
//! signs each attempt after the body has been translated, because the signature
//! covers the final method, path, signed headers and body hash. Time is an input
//! (the host's clock, Unix seconds): nothing here reads a clock.
//!
//! The steps follow AWS's "Create a signed AWS API request" guide (IAM user guide,
//! "Elements of an AWS API request signature"):
//!
//! 1. **Canonical request**:
//!    `METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(payload))`.
//!    * Canonical URI: the path normalized (empty and `.` segments dropped, `..`
//!      resolved, a trailing `/` kept) and every segment URI-encoded — of the path *as
//!      sent*, so a `%3A` in a Bedrock model id becomes `%253A` (every service but S3
//!      encodes twice).
//!    * Canonical query: each name and value decoded, then URI-encoded (RFC 3986
//!      unreserved characters kept), sorted by name, then value; `name=` for a name
//!      without a value.
//!    * Canonical headers: names lower-cased, values trimmed with inner runs of
//!      spaces collapsed to one, sorted by name, repeated names joined with `,`;
//!      each `name:value\n`. Signed headers: the names joined with `;`.
//! 2. **String to sign**: `AWS4-HMAC-SHA256 \n <x-amz-date> \n <date>/<region>/<service>/aws4_request \n hex(sha256(canonical request))`.
//! 3. **Signing key**: `HMAC("AWS4" + secret, date)`, then region, service and
//!    `aws4_request`, each HMAC-SHA256 keyed with the previous result.
//! 4. **Authorization**: `AWS4-HMAC-SHA256 Credential=<key id>/<scope>, SignedHeaders=<…>, Signature=<hex>`.
//!
//! The unit tests check each step against AWS's published Signature Version 4 test
//! suite (`get-vanilla`, `post-vanilla`, `post-x-www-form-urlencoded`,
//! `get-vanilla-query-order-key`, `post-sts-header-before`, `get-space`, …) and a
//! Bedrock-shaped request.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm SigV4 signs with here.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Long-term (access key) or temporary (STS, with a session token) AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA…` / `ASIA…`.
    pub access_key_id: String,
    /// The secret that keys the signature; never sent.
    pub secret_access_key: String,
    /// The STS session token of temporary credentials: sent (and signed) as
    /// `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs and panics.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One request to sign, as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent on the wire (already percent-encoded where it needs to be).
    pub path: &'a str,
    /// The query string without `?` (empty for none).
    pub query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included (any name case).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
}

/// `YYYYMMDD'T'HHMMSS'Z'` (the `x-amz-date` format) of a Unix time.
pub fn amz_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`), for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Hex of SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// URI-encodes every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`),
/// upper-case hex, as SigV4 requires.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` stays `+`); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| char::from(*c).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|c| char::from(*c).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                // Two hex digits: always below 256.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical URI of a path as sent (normalized, each segment encoded again).
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for s in &segments {
        out.push('/');
        out.push_str(&uri_encode(s));
    }
    if out.is_empty() || (path.ends_with('/') && !segments.is_empty()) {
        out.push('/');
    }
    out
}

/// The canonical query string of a raw query (without `?`).
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value as SigV4 canonicalizes it: trimmed, inner runs of spaces one space.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical headers block (each `name:value\n`) and the signed-headers list.
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lowered: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    // Stable: repeated names keep their order, as the values are joined in order.
    lowered.sort_by(|a, b| a.0.cmp(&b.0));
    let mut block = String::new();
    let mut names: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some((name, value)) = lowered.get(i) {
        let mut joined = value.clone();
        let mut j = i + 1;
        while let Some((next, v)) = lowered.get(j).filter(|(n, _)| n == name) {
            let _ = next;
            joined.push(',');
            joined.push_str(v);
            j += 1;
        }
        block.push_str(name);
        block.push(':');
        block.push_str(&joined);
        block.push('\n');
        names.push(name);
        i = j;
    }
    (block, names.join(";"))
}

/// The canonical request and its signed-headers list.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(req.headers);
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed,
        sha256_hex(req.payload)
    );
    (creq, signed)
}

/// `<date>/<region>/<service>/aws4_request`.
pub fn credential_scope(amz_date: &str, region: &str, service: &str) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign of a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key for one day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The `Authorization` header value for `req`, whose headers already hold `host`,
/// `x-amz-date` (equal to `amz_date`) and, for temporary credentials,
/// `x-amz-security-token`.
pub fn authorization(
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    req: &Request<'_>,
) -> String {
    let (creq, signed) = canonical_request(req);
    let scope = credential_scope(amz_date, region, service);
    let sts = string_to_sign(amz_date, &scope, &creq);
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let key = signing_key(&credentials.secret_access_key, date, region, service);
    let signature = hex::encode(hmac(&key, sts.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id
    )
}

/// Signs a request the way the AWS SDKs sign a JSON API call (and LiteLLM signs
/// Bedrock calls): the signed headers are `content-type` (when given), `host`,
/// `x-amz-date` and, for temporary credentials, `x-amz-security-token`. Returns the
/// headers to set on the request, `authorization` last. Headers added later (by
/// Envoy: `x-forwarded-proto`, `x-request-id`, `content-length`, …) are not signed,
/// which AWS allows.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    credentials: &Credentials,
    region: &str,
    service: &str,
    unix_secs: u64,
    method: &str,
    host: &str,
    path: &str,
    content_type: Option<&str>,
    payload: &[u8],
) -> Vec<(&'static str, String)> {
    let date = amz_date(unix_secs);
    let mut headers: Vec<(&str, &str)> = vec![("host", host), ("x-amz-date", &date)];
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let req = Request {
        method,
        path,
        query,
        headers: &headers,
        payload,
    };
    let authz = authorization(credentials, region, service, &date, &req);
    let mut out = vec![("x-amz-date", date.clone())];
    if let Some(token) = &credentials.session_token {
        out.push(("x-amz-security-token", token.clone()));
    }
    out.push(("authorization", authz));
    out
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's Signature Version 4 test suite (the `aws-sig-v4-test-suite`
    //! files: `<name>.req`, `.creq`, `.sts`, `.authz`), all signed with the suite's
    //! example credentials for region `us-east-1`, service `service`, at
    //! 2015-08-30T12:36:00Z.
    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    /// 2015-08-30T12:36:00Z.
    const UNIX: u64 = 1_440_938_160;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(str::to_string),
        }
    }

    fn authz(req: &Request<'_>) -> String {
        authorization(&creds(None), "us-east-1", "service", DATE, req)
    }

    #[test]
    fn dates_are_amz_dates() {
        assert_eq!(amz_date(UNIX), DATE);
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z", "a leap day");
        assert_eq!(amz_date(1_735_689_599), "20241231T235959Z");
    }

    #[test]
    fn get_vanilla() {
        // get-vanilla.req: GET / with Host and X-Amz-Date.
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
            payload: b"",
        };
        let (creq, signed) = canonical_request(&req);
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "host;x-amz-date");
        let scope = credential_scope(DATE, "us-east-1", "service");
        assert_eq!(scope, "20150830/us-east-1/service/aws4_request");
        assert_eq!(
            string_to_sign(DATE, &scope, &creq),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authz(&req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        // The same through `sign`, from the clock.
        let headers = sign(
            &creds(None),
            "us-east-1",
            "service",
            UNIX,
            "GET",
            "example.amazonaws.com",
            "/",
            None,
            b"",
        );
        assert_eq!(
            headers,
            vec![
                ("x-amz-date", DATE.to_string()),
                ("authorization", authz(&req)),
            ]
        );
    }

    #[test]
    fn post_vanilla() {
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
            payload: b"",
        };
        assert_eq!(
            authz(&req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
            ],
            payload: b"Param1=value1",
        };
        let (creq, _) = canonical_request(&req);
        assert_eq!(
            creq,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        let scope = credential_scope(DATE, "us-east-1", "service");
        assert_eq!(
            string_to_sign(DATE, &scope, &creq),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
        );
        assert_eq!(
            authz(&req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn get_vanilla_query_order_key() {
        // GET /?Param1=value2&Param1=Value1: sorted by name, then value.
        let req = Request {
            method: "GET",
            path: "/",
            query: "Param1=value2&Param1=Value1",
            headers: &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
            payload: b"",
        };
        let (creq, _) = canonical_request(&req);
        assert_eq!(
            creq,
            "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let scope = credential_scope(DATE, "us-east-1", "service");
        assert_eq!(
            string_to_sign(DATE, &scope, &creq),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"
        );
        assert_eq!(
            authz(&req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"
        );
    }

    #[test]
    fn post_sts_header_before() {
        // The session token is signed (post-sts-header-before).
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let expected = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead";
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
                ("X-Amz-Security-Token", token),
            ],
            payload: b"",
        };
        assert_eq!(authz(&req), expected);
        let headers = sign(
            &creds(Some(token)),
            "us-east-1",
            "service",
            UNIX,
            "POST",
            "example.amazonaws.com",
            "/",
            None,
            b"",
        );
        assert_eq!(
            headers,
            vec![
                ("x-amz-date", DATE.to_string()),
                ("x-amz-security-token", token.to_string()),
                ("authorization", expected.to_string()),
            ]
        );
    }

    #[test]
    fn paths_are_normalized_and_encoded() {
        // normalize-path/get-space: "/example space/".
        let req = Request {
            method: "GET",
            path: "/example space/",
            query: "",
            headers: &[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)],
            payload: b"",
        };
        assert_eq!(
            authz(&req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"
        );
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/\u{1234}"), "/%E1%88%B4");
        // A percent-encoded Bedrock model id is encoded once more (not S3).
        assert_eq!(
            canonical_uri("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"),
            "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse"
        );
        assert_eq!(canonical_query("b=2&a=&c"), "a=&b=2&c=");
        assert_eq!(canonical_query("k=a%20b"), "k=a%20b");
    }

    #[test]
    fn header_values_are_canonicalized() {
        let (block, signed) = canonical_headers(&[
            ("My-Header1", "  value1  "),
            ("Host", "h"),
            ("my-header2", "a   b   c"),
            ("my-header1", "value2"),
        ]);
        assert_eq!(
            block,
            "host:h\nmy-header1:value1,value2\nmy-header2:a b c\n"
        );
        assert_eq!(signed, "host;my-header1;my-header2");
    }

    #[test]
    fn bedrock_converse_request() {
        // A Converse call as LiteLLM (botocore's SigV4Auth) signs it: content-type,
        // host and x-amz-date signed, service `bedrock`, the model id's `:` encoded
        // in the path. Expected values computed independently with Python's hashlib
        // and hmac over the canonical request below.
        let body = br#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#;
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
        let host = "bedrock-runtime.us-east-1.amazonaws.com";
        let headers = sign(
            &creds,
            "us-east-1",
            "bedrock",
            1_700_000_000,
            "POST",
            host,
            path,
            Some("application/json"),
            body,
        );
        let date = amz_date(1_700_000_000);
        assert_eq!(date, "20231114T221320Z");
        let req = Request {
            method: "POST",
            path,
            query: "",
            headers: &[
                ("content-type", "application/json"),
                ("host", host),
                ("x-amz-date", &date),
            ],
            payload: body,
        };
        let (creq, _) = canonical_request(&req);
        assert_eq!(
            creq,
            format!(
                "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\ncontent-type:application/json\nhost:{host}\nx-amz-date:20231114T221320Z\n\ncontent-type;host;x-amz-date\n{}",
                sha256_hex(body)
            )
        );
        let authz = &headers.last().unwrap().1;
        assert!(
            authz.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="),
            "{authz}"
        );
        assert_eq!(
            authz.rsplit('=').next().unwrap(),
            BEDROCK_SIGNATURE,
            "signature of the Bedrock-shaped request"
        );
        // Any change to what is signed changes the signature.
        let other = sign(
            &creds,
            "us-east-1",
            "bedrock",
            1_700_000_000,
            "POST",
            host,
            path,
            Some("application/json"),
            b"{}",
        );
        assert_ne!(other.last(), headers.last());
    }

    /// Computed with Python's `hashlib`/`hmac` (not this module): the string to sign
    /// of the canonical request in `bedrock_converse_request`, signed with the key
    /// chain `AWS4<secret>` → `20231114` → `us-east-1` → `bedrock` → `aws4_request`.
    const BEDROCK_SIGNATURE: &str =
        "e01fbe0ab37ff7af8ad45e09712cb9e3ef3f115811395a24fc301edafe11ad1b";

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!("{:?}", creds(Some("FQoGZXIvYXdzEXAMPLE")));
        assert!(
            !text.contains(SECRET) && !text.contains("FQoGZXIv"),
            "{text}"
        );
        assert!(text.contains(AKID));
    }
}
