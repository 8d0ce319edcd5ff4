//! SigV4 signing of a Bedrock request (service `bedrock`), per attempt, over the
//! final path and body.

use super::SERVICE;
use crate::sigv4;

/// A deployment's SigV4 signing settings, resolved at configure time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    /// The AWS credentials.
    pub credentials: sigv4::Credentials,
    /// The region signed for (`us-east-1`).
    pub region: String,
}

impl SigV4 {
    /// The headers that sign one `POST` of `body` to `host` + `path`
    /// (`x-amz-date`, `x-amz-security-token`, `authorization`), at `unix_secs`.
    pub fn sign(
        &self,
        unix_secs: u64,
        host: &str,
        path: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        sigv4::sign(
            &self.credentials,
            &self.region,
            SERVICE,
            unix_secs,
            "POST",
            host,
            path,
            Some("application/json"),
            body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_uses_the_bedrock_service() {
        let s = SigV4 {
            credentials: sigv4::Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: Some("tok".into()),
            },
            region: "eu-west-1".into(),
        };
        let headers = s.sign(
            1_700_000_000,
            "bedrock-runtime.eu-west-1.amazonaws.com",
            "/model/m/converse",
            b"{}",
        );
        let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["x-amz-date", "x-amz-security-token", "authorization"]
        );
        assert!(headers[2].1.contains("/eu-west-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"), "{}", headers[2].1);
    }
}
