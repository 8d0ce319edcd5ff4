//! What classification found a deployment to be ([`Target`]): the provider, its name
//! and model id, the specifics a provider needs. Below `classify`, which builds it,
//! and `credentials`, which reads it.

use switchyard_contract::plugin_config::PromptTemplate;
use switchyard_contract::providers::ProviderKind;

/// The provider that serves a deployment and what it is asked for.
pub(super) struct Target {
    /// The wire format.
    pub(super) kind: ProviderKind,
    /// LiteLLM's provider name (the prefix, `custom_llm_provider`, or
    /// `openai_compatible`).
    pub(super) name: String,
    /// The provider's model id.
    pub(super) model_id: String,
    /// A Hugging Face text-generation prompt template, when the entry sets one.
    pub(super) template: Option<PromptTemplate>,
    /// A Bedrock deployment's region.
    pub(super) bedrock_region: Option<String>,
}
