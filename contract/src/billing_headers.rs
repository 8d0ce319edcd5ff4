//! Client headers that choose what the operator's provider account pays for.
//!
//! The gateway calls providers with the operator's credentials. Some request headers
//! decide, under those credentials, which organization, project or billing account
//! is charged, or which (dearer) service tier serves the call. A client of the
//! gateway must not choose that: the upstream stage removes every header of
//! [`BILLING_HEADERS`] from each attempt unless the attempt's deployment allows it
//! (`DeploymentConfig::forward_client_headers`, from `model_info.forward_client_headers`,
//! `general_settings.forward_openai_org_id` and
//! `general_settings.forward_client_headers_to_llm_api`; see `switchyard::plan`).
//!
//! `anthropic-beta` is not among them: Claude Code needs it, and it goes on. Some
//! betas are priced differently (a 1M-token context window bills long prompts at a
//! premium; one-hour cache writes cost twice the five-minute ones), so the README
//! says so.

/// The headers, lowercase, with what each chooses (each provider's API reference):
///
/// | header | provider | chooses |
/// |---|---|---|
/// | `openai-organization` | OpenAI (and OpenAI-compatible servers that honour it) | the organization billed |
/// | `openai-project` | OpenAI | the project billed |
/// | `x-goog-user-project` | Google (Vertex AI, Gemini) | the quota and billing project |
/// | `x-vertex-ai-llm-request-type` | Vertex AI | Provisioned Throughput (`dedicated`) or pay-as-you-go (`shared`) |
/// | `x-vertex-ai-llm-shared-request-type` | Vertex AI | pay-as-you-go tier (`priority` at a higher price, `flex`) |
/// | `x-amzn-bedrock-service-tier` | AWS Bedrock | service tier (`priority`, `flex`, …), each priced differently |
/// | `x-amzn-bedrock-performanceconfig-latency` | AWS Bedrock | latency-optimized inference, priced differently |
/// | `x-amzn-bedrock-guardrailidentifier`, `x-amzn-bedrock-guardrailversion` | AWS Bedrock | a guardrail run (and billed) on the call |
/// | `x-hf-bill-to` | Hugging Face | the organization billed |
/// | `ocp-apim-subscription-key` | Azure API Management in front of Azure OpenAI | the subscription (a credential) |
pub const BILLING_HEADERS: [&str; 11] = [
    "openai-organization",
    "openai-project",
    "x-goog-user-project",
    "x-vertex-ai-llm-request-type",
    "x-vertex-ai-llm-shared-request-type",
    "x-amzn-bedrock-service-tier",
    "x-amzn-bedrock-performanceconfig-latency",
    "x-amzn-bedrock-guardrailidentifier",
    "x-amzn-bedrock-guardrailversion",
    "x-hf-bill-to",
    "ocp-apim-subscription-key",
];

/// Whether `name` is one of [`BILLING_HEADERS`] (any case).
pub fn is_billing_header(name: &str) -> bool {
    BILLING_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// Whether the client's header `name` must be removed before a deployment that
/// allows `allowed` (lowercase names) is called.
pub fn strip(name: &str, allowed: &[String]) -> bool {
    is_billing_header(name) && !allowed.iter().any(|a| name.eq_ignore_ascii_case(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_headers_are_stripped_unless_allowed() {
        assert!(strip("OpenAI-Organization", &[]));
        assert!(strip("x-goog-user-project", &["openai-project".into()]));
        assert!(!strip("openai-project", &["openai-project".into()]));
        assert!(!strip("anthropic-beta", &[]), "Claude Code needs it");
        assert!(!strip("content-type", &[]));
    }
}
