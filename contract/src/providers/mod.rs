//! The providers a deployment may be, as the config compiler writes them into the
//! plugin config and the filter reads them: each provider's [`ProviderDescriptor`]
//! (LiteLLM prefixes, its name in headers, logs and spend rows, presets and default
//! bases, key variables), the prefixes LiteLLM knows, and LiteLLM's inference of a
//! provider from a bare model name. What the filter does per provider (translation,
//! parameter tables) stays in the filter's registry; the provider rules the config
//! compiler checks too are in this module's submodules.

pub mod bedrock;
mod descriptor;
mod litellm_prefixes;
pub mod vertex;

pub use descriptor::{
    ClientDefault, KeyRule, KeyWithOwnBase, Preset, ProviderDescriptor, ANTHROPIC_API_BASE,
    HUGGINGFACE_ROUTER, OPENAI_API_BASE, OPENAI_COMPATIBLE_GROUP, SERVED_GROUPS,
};
pub use litellm_prefixes::LITELLM_PREFIXES;

use serde::{Deserialize, Serialize};

/// The provider a deployment is, as far as the gateway treats providers differently:
/// its wire format, its parameter table and quirks, and its name in headers and logs.
///
/// The OpenAI-compatible clouds (`mistral/`, `groq/`, …) speak OpenAI's format but
/// get their own variants, so each keeps LiteLLM's parameter table and request
/// quirks ([`openai_compat`]) and its own name (`custom_llm_provider` in spend rows);
/// everything per provider is looked up once, when the deployment is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI and every OpenAI-compatible server (`openai/`, `openai_like/`,
    /// `custom_openai/`, any `api_base`).
    Openai,
    /// Azure OpenAI: deployment in the path, `api-version` query, `api-key` header.
    Azure,
    /// Anthropic Messages API.
    Anthropic,
    /// Mistral AI (`mistral/`).
    Mistral,
    /// Groq (`groq/`).
    Groq,
    /// DeepSeek (`deepseek/`).
    Deepseek,
    /// Together AI (`together_ai/`).
    TogetherAi,
    /// OpenRouter (`openrouter/`).
    Openrouter,
    /// xAI (`xai/`).
    Xai,
    /// Fireworks AI (`fireworks_ai/`).
    FireworksAi,
    /// Perplexity (`perplexity/`).
    Perplexity,
    /// Cerebras (`cerebras/`).
    Cerebras,
    /// DeepInfra (`deepinfra/`).
    Deepinfra,
    /// A vLLM server (`hosted_vllm/`).
    HostedVllm,
    /// LM Studio (`lm_studio/`).
    LmStudio,
    /// llamafile (`llamafile/`).
    Llamafile,
    /// Ollama's `/api/generate` (`ollama/`): a prompt built from the messages.
    Ollama,
    /// Ollama's `/api/chat` (`ollama_chat/`).
    OllamaChat,
    /// Google AI Studio's Gemini API (`gemini/`): `generateContent`.
    Gemini,
    /// Cohere's v2 API (`cohere/`, `cohere_chat/`).
    Cohere,
    /// Hugging Face's OpenAI-compatible Messages API (`huggingface/`: TGI's
    /// `/v1/chat/completions`, Inference Endpoints, the Hugging Face router).
    Huggingface,
    /// Text Generation Inference's native `/generate` (`huggingface/` deployments in
    /// text-generation mode): a prompt built from the messages.
    HuggingfaceGenerate,
    /// Amazon Bedrock Runtime (`bedrock/`): Converse, ConverseStream, InvokeModel
    /// embeddings; SigV4 or a Bedrock API key.
    Bedrock,
    /// Vertex AI (`vertex_ai/`): Gemini, Claude and Google's embeddings, with a
    /// service account's OAuth token.
    VertexAi,
}

impl ProviderKind {
    /// Maps a LiteLLM provider prefix (`openai`, `azure`, `anthropic`, …) to the
    /// provider, or `None` when Switchyard does not translate for it yet.
    pub fn from_litellm_prefix(prefix: &str) -> Option<ProviderKind> {
        ProviderKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.descriptor().prefixes.contains(&prefix))
    }

    /// LiteLLM's name for the provider, used in logs, headers, spend rows and
    /// error messages.
    pub fn as_str(self) -> &'static str {
        self.descriptor().name
    }

    /// Every provider, in declaration order.
    pub const ALL: &'static [ProviderKind] = &[
        ProviderKind::Openai,
        ProviderKind::Azure,
        ProviderKind::Anthropic,
        ProviderKind::Mistral,
        ProviderKind::Groq,
        ProviderKind::Deepseek,
        ProviderKind::TogetherAi,
        ProviderKind::Openrouter,
        ProviderKind::Xai,
        ProviderKind::FireworksAi,
        ProviderKind::Perplexity,
        ProviderKind::Cerebras,
        ProviderKind::Deepinfra,
        ProviderKind::HostedVllm,
        ProviderKind::LmStudio,
        ProviderKind::Llamafile,
        ProviderKind::Ollama,
        ProviderKind::OllamaChat,
        ProviderKind::Gemini,
        ProviderKind::Cohere,
        ProviderKind::Huggingface,
        ProviderKind::HuggingfaceGenerate,
        ProviderKind::Bedrock,
        ProviderKind::VertexAi,
    ];
}

/// The provider LiteLLM assigns to a bare model name (no `provider/` prefix), e.g.
/// `gpt-4o` → `openai`, `claude-3-5-sonnet-20240620` → `anthropic`: the provider
/// whose [`ProviderDescriptor::bare_model_prefixes`] start the name.
pub fn infer_provider(model: &str) -> Option<&'static str> {
    infer_by(model, |d| d.bare_model_prefixes)
}

/// The provider LiteLLM assigns to a bare model name when the entry has no
/// `api_base` (`gemini-…` → `vertex_ai`, `command-…` → `cohere`, `mistral-…` →
/// `mistral`): the provider whose
/// [`ProviderDescriptor::bare_model_prefixes_without_api_base`] start the name.
pub fn infer_provider_without_api_base(model: &str) -> Option<&'static str> {
    infer_by(model, |d| d.bare_model_prefixes_without_api_base)
}

/// The name of the first provider one of whose `prefixes` starts `model`.
fn infer_by(
    model: &str,
    prefixes: fn(&ProviderDescriptor) -> &'static [&'static str],
) -> Option<&'static str> {
    ProviderKind::ALL
        .iter()
        .map(|kind| kind.descriptor())
        .find(|d| prefixes(d).iter().any(|p| model.starts_with(p)))
        .map(|d| d.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_get_litellm_providers() {
        assert_eq!(infer_provider("gpt-3.5-turbo"), Some("openai"));
        assert_eq!(infer_provider("gpt-4o"), Some("openai"));
        assert_eq!(infer_provider("text-embedding-3-small"), Some("openai"));
        assert_eq!(infer_provider("o3-mini"), Some("openai"));
        assert_eq!(
            infer_provider("claude-3-5-sonnet-20240620"),
            Some("anthropic")
        );
        assert_eq!(infer_provider("llama3"), None);
        assert_eq!(
            infer_provider("gemini-2.5-flash"),
            None,
            "needs no api_base"
        );
    }

    #[test]
    fn bare_names_without_an_api_base_get_litellms_providers() {
        for (model, provider) in [
            ("gemini-1.5-pro", "vertex_ai"),
            ("chat-bison", "vertex_ai"),
            ("text-bison@001", "vertex_ai"),
            ("command-r-plus", "cohere"),
            ("mistral-large-latest", "mistral"),
            ("open-mistral-7b", "mistral"),
            ("codestral-latest", "mistral"),
        ] {
            assert_eq!(
                infer_provider_without_api_base(model),
                Some(provider),
                "{model}"
            );
        }
        assert_eq!(infer_provider_without_api_base("gpt-4o"), None);
        assert_eq!(infer_provider_without_api_base("llama3"), None);
    }

    #[test]
    fn prefixes_map_to_wire_formats() {
        assert_eq!(
            ProviderKind::from_litellm_prefix("openai_like"),
            Some(ProviderKind::Openai)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("azure"),
            Some(ProviderKind::Azure)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("anthropic"),
            Some(ProviderKind::Anthropic)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("together_ai"),
            Some(ProviderKind::TogetherAi)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("ollama_chat"),
            Some(ProviderKind::OllamaChat)
        );
        assert_eq!(
            ProviderKind::from_litellm_prefix("gemini"),
            Some(ProviderKind::Gemini)
        );
        assert_eq!(ProviderKind::from_litellm_prefix("bedrock_x"), None);
        for prefix in ["cohere", "cohere_chat"] {
            assert_eq!(
                ProviderKind::from_litellm_prefix(prefix),
                Some(ProviderKind::Cohere)
            );
        }
        assert_eq!(
            ProviderKind::from_litellm_prefix("huggingface"),
            Some(ProviderKind::Huggingface)
        );
        // Both Hugging Face APIs are "huggingface" to LiteLLM (spend rows, headers).
        assert_eq!(ProviderKind::HuggingfaceGenerate.as_str(), "huggingface");
        assert_eq!(
            serde_json::to_value(ProviderKind::HuggingfaceGenerate).unwrap(),
            "huggingface_generate"
        );
        // The plugin config names each provider by its LiteLLM prefix.
        for prefix in [
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
            "bedrock",
            "vertex_ai",
        ] {
            let kind = ProviderKind::from_litellm_prefix(prefix).unwrap();
            assert_eq!(kind.as_str(), prefix);
            assert_eq!(serde_json::to_value(kind).unwrap(), prefix);
        }
    }

    #[test]
    fn every_provider_round_trips_through_its_litellm_prefix() {
        for &kind in ProviderKind::ALL {
            let back = ProviderKind::from_litellm_prefix(kind.as_str());
            // Both Hugging Face APIs are `huggingface` to LiteLLM; the prefix names
            // the Messages API (the text-generation mode is chosen by the config).
            let expected = match kind {
                ProviderKind::HuggingfaceGenerate => ProviderKind::Huggingface,
                other => other,
            };
            assert_eq!(back, Some(expected), "{kind:?}");
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        let mut seen = std::collections::HashSet::new();
        for &kind in ProviderKind::ALL {
            assert!(seen.insert(kind), "{kind:?} twice");
            // Exhaustive: a new variant fails to compile here until it is listed.
            match kind {
                ProviderKind::Openai => {}
                ProviderKind::Azure => {}
                ProviderKind::Anthropic => {}
                ProviderKind::Mistral => {}
                ProviderKind::Groq => {}
                ProviderKind::Deepseek => {}
                ProviderKind::TogetherAi => {}
                ProviderKind::Openrouter => {}
                ProviderKind::Xai => {}
                ProviderKind::FireworksAi => {}
                ProviderKind::Perplexity => {}
                ProviderKind::Cerebras => {}
                ProviderKind::Deepinfra => {}
                ProviderKind::HostedVllm => {}
                ProviderKind::LmStudio => {}
                ProviderKind::Llamafile => {}
                ProviderKind::Ollama => {}
                ProviderKind::OllamaChat => {}
                ProviderKind::Gemini => {}
                ProviderKind::Cohere => {}
                ProviderKind::Huggingface => {}
                ProviderKind::HuggingfaceGenerate => {}
                ProviderKind::Bedrock => {}
                ProviderKind::VertexAi => {}
            }
        }
        assert_eq!(seen.len(), 24);
    }

    #[test]
    fn descriptors_name_their_groups_and_prefixes_once() {
        let mut seen = std::collections::HashSet::new();
        for &kind in ProviderKind::ALL {
            let d = kind.descriptor();
            assert!(
                SERVED_GROUPS.contains(&d.served_as),
                "{kind:?}: {} is not in SERVED_GROUPS",
                d.served_as
            );
            for prefix in d.prefixes {
                assert!(seen.insert(*prefix), "{prefix} selects two providers");
                assert!(
                    LITELLM_PREFIXES.contains(prefix),
                    "{prefix} is not a LiteLLM provider prefix"
                );
                assert_eq!(ProviderKind::from_litellm_prefix(prefix), Some(kind));
            }
            assert!(
                d.preset.is_none() || d.client_default.is_none(),
                "{kind:?}: a preset or client defaults, not both"
            );
            if let Some(client) = &d.client_default {
                for prefix in client.prefixes {
                    assert!(d.prefixes.contains(prefix), "{kind:?}: {prefix}");
                }
            }
        }
        for group in SERVED_GROUPS {
            assert!(
                ProviderKind::ALL
                    .iter()
                    .any(|k| k.descriptor().served_as == *group),
                "{group} names no provider"
            );
        }
        // Every LiteLLM prefix the gateway serves has a descriptor, and only those.
        for prefix in LITELLM_PREFIXES {
            assert_eq!(
                seen.contains(prefix),
                ProviderKind::from_litellm_prefix(prefix).is_some(),
                "{prefix}"
            );
        }
    }

    /// The first cells of the rows of the Markdown table under `heading` in `doc`.
    fn first_cells<'a>(doc: &'a str, heading: &str) -> Vec<&'a str> {
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with(heading))
            .unwrap_or_else(|| panic!("docs/providers.md has no section {heading:?}"));
        section
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
            .skip(1) // the header row
            .filter_map(|l| l.split('|').nth(1))
            .collect()
    }

    #[test]
    fn docs_list_every_provider_prefix() {
        let doc = include_str!("../../../docs/providers.md");
        let mut missing = Vec::new();
        for heading in ["Provider table", "Provider × feature matrix"] {
            let cells = first_cells(doc, heading);
            assert!(!cells.is_empty(), "{heading}: no rows");
            for &kind in ProviderKind::ALL {
                for prefix in kind.descriptor().prefixes {
                    let listed = cells.iter().any(|cell| {
                        cell.contains(&format!("`{prefix}/"))
                            || cell.contains(&format!("`{prefix}`"))
                    });
                    if !listed {
                        missing.push(format!("{heading}: `{prefix}/` ({kind:?})"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/providers.md has no row for:\n{}",
            missing.join("\n")
        );
    }
}
