//! Amazon Bedrock model ids, as far as the config compiler and the filter both read
//! them: the base model behind an ARN or a cross-region profile, the embedding
//! families, and which deployments the filter may call itself (a cluster of their
//! own, rendered by the config compiler).

/// Cross-region inference profile prefixes (`us.anthropic.…`).
const REGION_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.",
];

/// The model without an ARN's resource path or a cross-region prefix:
/// `arn:…:inference-profile/us.anthropic.claude-x` → `anthropic.claude-x`.
pub fn base_model(model: &str) -> &str {
    let model = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    REGION_PREFIXES
        .iter()
        .find_map(|p| model.strip_prefix(p))
        .unwrap_or(model)
}

/// Which embedding body a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingModel {
    /// `amazon.titan-embed-text-v1`, `amazon.titan-embed-g1-text-02`.
    TitanV1,
    /// `amazon.titan-embed-text-v2:0`.
    TitanV2,
    /// `cohere.embed-*`.
    Cohere,
}

/// The embedding family of `model`, if Switchyard translates for it.
pub fn embedding_model(model: &str) -> Option<EmbeddingModel> {
    let base = base_model(model);
    if base.starts_with("amazon.titan-embed-text-v2") {
        Some(EmbeddingModel::TitanV2)
    } else if base.starts_with("amazon.titan-embed-text-v1")
        || base.starts_with("amazon.titan-embed-g1-text")
    {
        Some(EmbeddingModel::TitanV1)
    } else if base.starts_with("cohere.embed") {
        Some(EmbeddingModel::Cohere)
    } else {
        None
    }
}

/// Whether a Bedrock deployment of `model` may answer a request with calls of the
/// filter's own (Titan embeddings with a list `input`), so it needs a cluster that
/// reaches it alone: a Titan embedding model, or a wildcard that may name one.
pub fn may_fan_out(model: &str) -> bool {
    model.contains('*')
        || matches!(
            embedding_model(model),
            Some(EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titan_embeddings_and_wildcards_may_fan_out() {
        assert!(may_fan_out("amazon.titan-embed-text-v2:0"));
        assert!(may_fan_out("us.amazon.titan-embed-text-v1"));
        assert!(may_fan_out("amazon.*"));
        assert!(!may_fan_out("cohere.embed-english-v3"));
        assert!(!may_fan_out("anthropic.claude-3-haiku-20240307-v1:0"));
        assert_eq!(
            embedding_model("cohere.embed-english-v3"),
            Some(EmbeddingModel::Cohere)
        );
        assert_eq!(
            base_model("eu.amazon.nova-lite-v1:0"),
            "amazon.nova-lite-v1:0"
        );
    }
}
