//! One row per provider: [`provider`] maps a [`ProviderKind`] to its
//! [`Provider`] implementation — the only `match` on a provider kind outside the
//! providers' own code.
//!
//! Each implementation lives in its provider's folder (`providers/<name>/provider.rs`)
//! and calls that provider's functions (`anthropic::translate_request`, …); it is
//! what the stages know of the provider. The thirteen OpenAI-compatible clouds share
//! one implementation, [`openai_compat::OpenAiCompatible`], parametrized by their quirks.

use super::openai_compat;
use super::provider::Provider;
use super::{anthropic, azure, bedrock, cohere, gemini, huggingface, ollama, vertex, ProviderKind};

/// The implementation of `kind`.
pub fn provider(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Openai => &openai_compat::OPENAI_PROVIDER,
        ProviderKind::Azure => &azure::Azure,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Mistral => &openai_compat::MISTRAL_PROVIDER,
        ProviderKind::Groq => &openai_compat::GROQ_PROVIDER,
        ProviderKind::Deepseek => &openai_compat::DEEPSEEK_PROVIDER,
        ProviderKind::TogetherAi => &openai_compat::TOGETHER_AI_PROVIDER,
        ProviderKind::Openrouter => &openai_compat::OPENROUTER_PROVIDER,
        ProviderKind::Xai => &openai_compat::XAI_PROVIDER,
        ProviderKind::FireworksAi => &openai_compat::FIREWORKS_AI_PROVIDER,
        ProviderKind::Perplexity => &openai_compat::PERPLEXITY_PROVIDER,
        ProviderKind::Cerebras => &openai_compat::CEREBRAS_PROVIDER,
        ProviderKind::Deepinfra => &openai_compat::DEEPINFRA_PROVIDER,
        ProviderKind::HostedVllm => &openai_compat::HOSTED_VLLM_PROVIDER,
        ProviderKind::LmStudio => &openai_compat::LM_STUDIO_PROVIDER,
        ProviderKind::Llamafile => &openai_compat::LLAMAFILE_PROVIDER,
        ProviderKind::Ollama => &ollama::OLLAMA,
        ProviderKind::OllamaChat => &ollama::OLLAMA_CHAT,
        ProviderKind::Gemini => &gemini::Gemini,
        ProviderKind::Cohere => &cohere::Cohere,
        ProviderKind::Huggingface => &huggingface::HUGGINGFACE,
        ProviderKind::HuggingfaceGenerate => &huggingface::HuggingfaceGenerate,
        ProviderKind::Bedrock => &bedrock::Bedrock,
        ProviderKind::VertexAi => &vertex::VertexAi,
    }
}

/// Headers some attempts set besides each deployment's own (Bedrock's signature,
/// `anthropic-version`): the upstream stage clears them at the start of every
/// attempt, so none is left for another provider.
pub fn attempt_headers() -> impl Iterator<Item = &'static str> {
    bedrock::SIGNED_HEADERS
        .iter()
        .copied()
        .chain([anthropic::ANTHROPIC_VERSION_HEADER])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;
    use crate::providers::provider::{Attempt, OutgoingBody, Translated};
    use crate::request::TopLevel;
    use serde_json::Value;

    #[test]
    fn every_kind_has_its_own_row() {
        for prefix in [
            "openai",
            "azure",
            "anthropic",
            "mistral",
            "groq",
            "deepseek",
            "together_ai",
            "openrouter",
            "xai",
            "fireworks_ai",
            "perplexity",
            "cerebras",
            "deepinfra",
            "hosted_vllm",
            "lm_studio",
            "llamafile",
            "ollama",
            "ollama_chat",
            "gemini",
            "cohere",
            "huggingface",
            "bedrock",
            "vertex_ai",
        ] {
            let kind = ProviderKind::from_litellm_prefix(prefix).unwrap();
            assert_eq!(provider(kind).kind(), kind, "{prefix}");
        }
        assert_eq!(
            provider(ProviderKind::HuggingfaceGenerate).kind(),
            ProviderKind::HuggingfaceGenerate
        );
    }

    /// `kind`'s translation of `body` as a streamed chat request.
    fn streamed_chat(kind: ProviderKind, body: &[u8]) -> Translated {
        let provider = provider(kind);
        let attempt = Attempt {
            stream: true,
            quirks: provider.quirks("m"),
            ..Attempt::plain(Endpoint::ChatCompletions, "m", None)
        };
        provider
            .translate_request(&attempt, TopLevel::parse(body).unwrap())
            .unwrap()
    }

    #[test]
    fn openai_format_bodies_go_on_untouched_unless_usage_must_be_asked() {
        let body =
            br#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
        let asked = Attempt {
            stream: true,
            include_usage: true,
            ..Attempt::plain(Endpoint::ChatCompletions, "m", None)
        };
        let out = provider(ProviderKind::Openai)
            .translate_request(&asked, TopLevel::parse(body).unwrap())
            .unwrap();
        assert_eq!(out.body, OutgoingBody::Unchanged);
        assert_eq!(out.path, "/chat/completions");

        let plain = br#"{"model":"m","messages":[],"stream":true}"#;
        for kind in [
            ProviderKind::Openai,
            ProviderKind::Azure,
            ProviderKind::Groq,
        ] {
            let OutgoingBody::Replaced(sent) = streamed_chat(kind, plain).body else {
                panic!("{kind:?}: the usage chunk is asked for");
            };
            let sent: Value = serde_json::from_slice(&sent).unwrap();
            assert_eq!(sent["stream_options"]["include_usage"], true, "{kind:?}");
        }
        // Mistral reports usage unasked and refuses the field.
        assert_eq!(
            streamed_chat(ProviderKind::Mistral, plain).body,
            OutgoingBody::Unchanged
        );
    }

    #[test]
    fn native_providers_replace_the_body_and_say_what_the_answer_needs() {
        let json = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"response_format":{"type":"json_object"}}"#;
        let anthropic = streamed_chat(ProviderKind::Anthropic, json);
        assert_eq!(anthropic.path, "/v1/messages");
        assert!(matches!(anthropic.body, OutgoingBody::Replaced(_)));
        assert!(
            anthropic.rewritten.json_tool,
            "JSON through the forced tool"
        );
        assert!(!anthropic.content_length);
        let bedrock = streamed_chat(ProviderKind::Bedrock, json);
        assert!(
            bedrock.content_length,
            "Bedrock requests carry their length"
        );
        assert!(bedrock.fan_out.is_none());
    }

    #[test]
    fn bases_are_normalized_per_provider() {
        let normalized = |kind: ProviderKind, base: &str| {
            let mut base = base.to_string();
            provider(kind).normalize_base(&mut base);
            base
        };
        assert_eq!(normalized(ProviderKind::Anthropic, "/x/v1/messages"), "/x");
        assert_eq!(normalized(ProviderKind::Anthropic, "/v1"), "");
        assert_eq!(normalized(ProviderKind::Gemini, ""), "/v1beta");
        assert_eq!(normalized(ProviderKind::Gemini, "/v1"), "/v1");
        assert_eq!(normalized(ProviderKind::Cohere, "/v2/chat"), "");
        assert_eq!(
            normalized(ProviderKind::Huggingface, "/x/chat/completions"),
            "/x/v1"
        );
        assert_eq!(normalized(ProviderKind::Huggingface, "/v1"), "/v1");
        assert_eq!(
            normalized(ProviderKind::HuggingfaceGenerate, "/generate"),
            ""
        );
        assert_eq!(normalized(ProviderKind::Openai, "/v1"), "/v1");
    }
}
