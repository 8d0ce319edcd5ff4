//! Bedrock model ids: regional prefixes, model families and what each supports, the
//! OpenAI parameter table per model, and the percent-encoded model path.

use crate::endpoint::Endpoint;
use crate::providers::openai_compat::OPENAI_CHAT_PARAMS;
use crate::providers::ParamTable;
use crate::sigv4;

// What config needs of Bedrock model ids too (the cluster plan) is the contract's.
pub use switchyard_contract::providers::bedrock::{base_model, embedding_model, EmbeddingModel};

/// An ARN whose resource does not name a model (a provisioned or imported model):
/// LiteLLM then accepts every parameter.
pub(super) fn opaque_arn(model: &str) -> bool {
    model.starts_with("arn:") && !base_model(model).contains('.')
}

pub(super) fn is_nova(model: &str) -> bool {
    base_model(model).starts_with("amazon.nova")
}

pub(super) fn is_nova_2_lite(model: &str) -> bool {
    base_model(model).contains("nova-2-lite")
}

pub(super) fn is_gpt_oss(model: &str) -> bool {
    model.contains("gpt-oss")
}

/// Models Converse runs tools for (LiteLLM's prefix list and model-map entries).
pub(super) fn supports_tools(model: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "anthropic.",
        "mistral.",
        "cohere.command-r",
        "meta.llama3-1",
        "meta.llama3-2",
        "meta.llama3-3",
        "meta.llama4",
        "amazon.nova",
        "ai21.jamba",
        "writer.",
        "openai.",
        "qwen.",
        "deepseek.v3",
    ];
    let base = base_model(model);
    opaque_arn(model) || PREFIXES.iter().any(|p| base.starts_with(p))
}

/// Models that take a `toolChoice` (AWS's `ToolChoice`: Anthropic Claude 3+,
/// Mistral Large, Amazon Nova).
pub(super) fn supports_tool_choice(model: &str) -> bool {
    let base = base_model(model);
    opaque_arn(model)
        || base.starts_with("anthropic.")
        || base.starts_with("mistral.mistral-large")
        || base.starts_with("amazon.nova")
}

/// Models that reason on request (LiteLLM: claude-3-7 and the Claude 4 family,
/// DeepSeek R1, gpt-oss, Nova 2 Lite).
pub(super) fn supports_reasoning(model: &str) -> bool {
    const MARKERS: &[&str] = &[
        "claude-3-7",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-haiku-4",
        "deepseek.r1",
        "gpt-oss",
        "nova-2-lite",
    ];
    opaque_arn(model) || MARKERS.iter().any(|m| model.contains(m))
}

/// The parameters a Bedrock deployment of `model` takes for `endpoint`: for chat,
/// OpenAI's parameters minus those LiteLLM's `AmazonConverseConfig` lacks for the
/// model (non-OpenAI parameters pass to `additionalModelRequestFields`); for
/// completions and embeddings, exactly what the translation reads.
pub fn param_table(endpoint: Endpoint, model: &str) -> ParamTable {
    match endpoint {
        Endpoint::ChatCompletions => {
            let mut supported: Vec<&str> = vec![
                "max_tokens",
                "max_completion_tokens",
                "stream",
                "stream_options",
                "stop",
                "temperature",
                "top_p",
                "response_format",
                "service_tier",
            ];
            if supports_tools(model) {
                supported.push("tools");
            }
            if supports_tool_choice(model) {
                supported.push("tool_choice");
            }
            if supports_reasoning(model) {
                supported.push("reasoning_effort");
            }
            ParamTable::Not(
                OPENAI_CHAT_PARAMS
                    .iter()
                    .filter(|p| !supported.contains(p))
                    .copied()
                    .collect(),
            )
        }
        Endpoint::Completions => ParamTable::Only(vec![
            "model",
            "prompt",
            "max_tokens",
            "stop",
            "temperature",
            "top_p",
            "stream",
            "stream_options",
        ]),
        Endpoint::Embeddings => ParamTable::Only(match embedding_model(model) {
            Some(EmbeddingModel::TitanV2) => {
                vec![
                    "model",
                    "input",
                    "encoding_format",
                    "dimensions",
                    "normalize",
                ]
            }
            Some(EmbeddingModel::Cohere) => vec![
                "model",
                "input",
                "encoding_format",
                "dimensions",
                "input_type",
                "truncate",
            ],
            _ => vec!["model", "input", "encoding_format"],
        }),
    }
}

/// A model id as one percent-encoded path segment (everything but RFC 3986's
/// unreserved characters encoded, as `urllib.parse.quote(model, safe="")`).
pub fn encode_model_id(model: &str) -> String {
    sigv4::uri_encode(model)
}

/// `/model/{modelId}/{operation}`.
pub fn model_path(model: &str, operation: &str) -> String {
    format!("/model/{}/{operation}", encode_model_id(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::test_helpers::*;

    #[test]
    fn model_ids_become_one_encoded_path_segment() {
        assert_eq!(
            model_path(CLAUDE, "converse"),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0";
        assert_eq!(
            model_path(arn, "converse-stream"),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        assert_eq!(base_model(arn), "anthropic.claude-3-haiku-20240307-v1:0");
        assert_eq!(
            base_model("us.amazon.nova-pro-v1:0"),
            "amazon.nova-pro-v1:0"
        );
        assert_eq!(
            base_model("global.anthropic.claude-sonnet-4-5"),
            "anthropic.claude-sonnet-4-5"
        );
    }

    #[test]
    fn parameter_tables_follow_litellm() {
        let t = param_table(Endpoint::ChatCompletions, CLAUDE);
        for ok in [
            "max_tokens",
            "temperature",
            "tools",
            "tool_choice",
            "response_format",
            "stop",
            "top_k",
            "thinking",
        ] {
            assert!(!t.refuses(ok), "{ok}");
        }
        for no in [
            "user",
            "n",
            "logit_bias",
            "parallel_tool_calls",
            "seed",
            "reasoning_effort",
            "frequency_penalty",
        ] {
            assert!(t.refuses(no), "{no}");
        }
        assert!(!param_table(
            Endpoint::ChatCompletions,
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
        )
        .refuses("reasoning_effort"));
        let titan = param_table(Endpoint::ChatCompletions, "amazon.titan-text-express-v1");
        assert!(titan.refuses("tools") && titan.refuses("tool_choice"));
        let llama = param_table(Endpoint::ChatCompletions, "meta.llama3-1-70b-instruct-v1:0");
        assert!(!llama.refuses("tools") && llama.refuses("tool_choice"));
        let opaque = param_table(
            Endpoint::ChatCompletions,
            "arn:aws:bedrock:us-east-1:1:provisioned-model/abc123",
        );
        assert!(!opaque.refuses("tools") && !opaque.refuses("reasoning_effort"));
        let v1 = param_table(Endpoint::Embeddings, "amazon.titan-embed-text-v1");
        assert!(v1.refuses("dimensions") && !v1.refuses("encoding_format"));
        assert!(
            !param_table(Endpoint::Embeddings, "amazon.titan-embed-text-v2:0")
                .refuses("dimensions")
        );
        assert!(
            !param_table(Endpoint::Embeddings, "cohere.embed-english-v3").refuses("input_type")
        );
    }
}
