//! The configure-time half of the provider registry: one [`ProviderDescriptor`] per
//! [`ProviderKind`] with what the config compiler needs to know about a provider
//! before the filter ever sees a request — LiteLLM's name and prefixes for it, where
//! it is and where its key comes from when the entry does not say (LiteLLM's presets
//! and client defaults), and how the warning for an unsupported provider names it.
//! The filter's registry (`filter/src/providers/registry.rs`) holds the request-time
//! half; both are keyed by the same [`ProviderKind`], and
//! [`ProviderKind::descriptor`] is an exhaustive `match`, so a new variant does not
//! compile until it has a descriptor here.

use super::ProviderKind;

/// OpenAI's API, the default `api_base` of `openai/` deployments.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// Anthropic's API, the default `api_base` of `anthropic/` deployments.
pub const ANTHROPIC_API_BASE: &str = "https://api.anthropic.com";

/// The Hugging Face router (OpenAI-compatible), LiteLLM's default `huggingface/`
/// base.
pub const HUGGINGFACE_ROUTER: &str = "https://router.huggingface.co/v1";

/// The name of the group the OpenAI-compatible clouds and servers share in the
/// warning for an unsupported provider.
pub const OPENAI_COMPATIBLE_GROUP: &str = "the OpenAI-compatible clouds and servers";

/// The groups the warning for an unsupported provider names, in its order (each
/// descriptor's [`ProviderDescriptor::served_as`] is one of these; tested).
pub const SERVED_GROUPS: &[&str] = &[
    "openai",
    "azure",
    "anthropic",
    "gemini",
    "vertex_ai",
    "bedrock",
    "ollama",
    "cohere",
    "huggingface",
    OPENAI_COMPATIBLE_GROUP,
];

/// What the gateway knows about one provider at configure time.
#[derive(Debug, Clone, Copy)]
pub struct ProviderDescriptor {
    /// LiteLLM's name for the provider, used in logs, headers, spend rows and error
    /// messages ([`ProviderKind::as_str`]).
    pub name: &'static str,
    /// The LiteLLM prefixes (`model: <prefix>/…` or `custom_llm_provider`) that select
    /// this provider ([`ProviderKind::from_litellm_prefix`]). Empty for a provider the
    /// config compiler picks by other means (Hugging Face's text-generation mode).
    pub prefixes: &'static [&'static str],
    /// How the warning for an unsupported provider names it: one of
    /// [`SERVED_GROUPS`].
    pub served_as: &'static str,
    /// LiteLLM's preset for the provider: default base, base and key variables, the
    /// rule for a missing key. `None` for the providers whose address and key come
    /// from [`ProviderDescriptor::client_default`] or provider-specific rules
    /// (Bedrock, Vertex AI).
    pub preset: Option<Preset>,
    /// LiteLLM's client defaults for the providers without a preset (OpenAI,
    /// Anthropic, Azure).
    pub client_default: Option<ClientDefault>,
    /// How bare model names (no `provider/` prefix) start that LiteLLM assigns to
    /// this provider whatever the entry's `api_base` (`gpt-` → openai, `claude` →
    /// anthropic; [`super::infer_provider`]).
    pub bare_model_prefixes: &'static [&'static str],
    /// How bare model names start that LiteLLM assigns to this provider when the
    /// entry has no `api_base` (with one, the server is taken as OpenAI-compatible;
    /// [`super::infer_provider_without_api_base`]).
    pub bare_model_prefixes_without_api_base: &'static [&'static str],
    /// A path LiteLLM appends to an `api_base` the entry writes out when it does not
    /// end with it (Mistral's `/v1`: MistralConfig, "Mistral always needs a /v1 at
    /// the end").
    pub api_base_suffix: Option<&'static str>,
}

/// LiteLLM's defaults for an OpenAI-compatible cloud or server, and for Ollama,
/// Gemini, Cohere and Hugging Face: where it is and which environment variables hold
/// its address and key. Taken from LiteLLM's `_get_openai_compatible_provider_info`
/// (`litellm/litellm_core_utils/get_llm_provider_logic.py`) and each provider's
/// `…Config._get_openai_compatible_provider_info` (`litellm/llms/<provider>/chat/
/// transformation.py`): `api_base or get_secret(<BASE_ENV>) or <default>`, and
/// `api_key or get_secret(<KEY_ENV>…)`, the first variable that is set winning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// `api_base` when neither the entry nor `base_env` gives one; `None`: required.
    pub base: Option<&'static str>,
    /// Variables read for the address when the entry has no `api_base`.
    pub base_env: &'static [&'static str],
    /// Variables read for the key when the entry has no `api_key`, in LiteLLM's order.
    pub key_env: &'static [&'static str],
    /// What happens when no key is found.
    pub key: KeyRule,
}

/// A preset's rule for a missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// The provider needs a key: `check` fails naming the entry and the variables.
    Required,
    /// Local servers: no key needed; LiteLLM then sends this placeholder
    /// (`"fake-api-key"`, since the OpenAI client it uses insists on a key).
    Placeholder(&'static str),
    /// No key needed and none sent (Ollama).
    None,
}

/// LiteLLM's client defaults for a provider without a preset (`litellm/main.py`:
/// `api_base or litellm.api_base or get_secret(<BASE_ENV>) or <default>`, `api_key or
/// … get_secret(<KEY_ENV>)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDefault {
    /// The prefixes these defaults apply to (`openai/` and `text-completion-openai/`
    /// have OpenAI's API as their default; `openai_like/` and `custom_openai/` need
    /// an `api_base`).
    pub prefixes: &'static [&'static str],
    /// `api_base` when the entry has none and `base_env` is not set; `None`:
    /// required.
    pub base: Option<&'static str>,
    /// The variable read for the address when the entry has no `api_base`.
    pub base_env: Option<&'static str>,
    /// What `check` says a missing `api_base` should be, when there is no `base`
    /// (`None`: a server's base URL).
    pub missing_base_hint: Option<&'static str>,
    /// The variable read for the key when the entry has no `api_key`.
    pub key_env: &'static str,
    /// Whether that variable is sent for an entry with an `api_base` of its own.
    pub key_with_own_base: KeyWithOwnBase,
}

/// Whether a client default's key variable is sent for an entry with its own
/// `api_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWithOwnBase {
    /// Always (Azure: the resource's key).
    Always,
    /// Only when the variable is set: LiteLLM reads it whatever the `api_base`, but a
    /// server of one's own may need no key (OpenAI, Anthropic).
    WhenSet,
}

impl ProviderDescriptor {
    /// The client defaults of `prefix`, when this provider has them and they apply to
    /// that prefix.
    pub fn client_default_for(&self, prefix: &str) -> Option<&ClientDefault> {
        self.client_default
            .as_ref()
            .filter(|d| d.prefixes.contains(&prefix))
    }
}

impl ProviderKind {
    /// The provider's configure-time descriptor.
    pub fn descriptor(self) -> &'static ProviderDescriptor {
        match self {
            ProviderKind::Openai => &OPENAI,
            ProviderKind::Azure => &AZURE,
            ProviderKind::Anthropic => &ANTHROPIC,
            ProviderKind::Mistral => &MISTRAL,
            ProviderKind::Groq => &GROQ,
            ProviderKind::Deepseek => &DEEPSEEK,
            ProviderKind::TogetherAi => &TOGETHER_AI,
            ProviderKind::Openrouter => &OPENROUTER,
            ProviderKind::Xai => &XAI,
            ProviderKind::FireworksAi => &FIREWORKS_AI,
            ProviderKind::Perplexity => &PERPLEXITY,
            ProviderKind::Cerebras => &CEREBRAS,
            ProviderKind::Deepinfra => &DEEPINFRA,
            ProviderKind::HostedVllm => &HOSTED_VLLM,
            ProviderKind::LmStudio => &LM_STUDIO,
            ProviderKind::Llamafile => &LLAMAFILE,
            ProviderKind::Ollama => &OLLAMA,
            ProviderKind::OllamaChat => &OLLAMA_CHAT,
            ProviderKind::Gemini => &GEMINI,
            ProviderKind::Cohere => &COHERE,
            ProviderKind::Huggingface => &HUGGINGFACE,
            ProviderKind::HuggingfaceGenerate => &HUGGINGFACE_GENERATE,
            ProviderKind::Bedrock => &BEDROCK,
            ProviderKind::VertexAi => &VERTEX_AI,
        }
    }
}

/// A cloud or server that speaks OpenAI's format under its own prefix, with
/// LiteLLM's preset.
const fn openai_compatible(
    name: &'static str,
    prefixes: &'static [&'static str],
    preset: Preset,
) -> ProviderDescriptor {
    ProviderDescriptor {
        name,
        prefixes,
        served_as: OPENAI_COMPATIBLE_GROUP,
        preset: Some(preset),
        client_default: None,
        bare_model_prefixes: &[],
        bare_model_prefixes_without_api_base: &[],
        api_base_suffix: None,
    }
}

const OPENAI: ProviderDescriptor = ProviderDescriptor {
    name: "openai",
    prefixes: &[
        "openai",
        "custom_openai",
        "openai_like",
        "text-completion-openai",
    ],
    served_as: "openai",
    preset: None,
    client_default: Some(ClientDefault {
        prefixes: &["openai", "text-completion-openai"],
        base: Some(OPENAI_API_BASE),
        base_env: None,
        missing_base_hint: None,
        key_env: "OPENAI_API_KEY",
        key_with_own_base: KeyWithOwnBase::WhenSet,
    }),
    bare_model_prefixes: &[
        "gpt-",
        "chatgpt-",
        "o1",
        "o3",
        "o4",
        "text-embedding-",
        "text-davinci",
        "davinci",
        "babbage",
        "text-moderation",
        "omni-moderation",
        "dall-e",
        "whisper",
        "tts-",
        "ft:gpt-",
        "codex-",
    ],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// litellm/main.py (azure branch): `api_base or litellm.api_base or
// get_secret("AZURE_API_BASE")`, no default; `AZURE_API_KEY`.
const AZURE: ProviderDescriptor = ProviderDescriptor {
    name: "azure",
    prefixes: &["azure", "azure_text"],
    served_as: "azure",
    preset: None,
    client_default: Some(ClientDefault {
        prefixes: &["azure", "azure_text"],
        base: None,
        base_env: Some("AZURE_API_BASE"),
        missing_base_hint: Some(
            " (the Azure OpenAI resource endpoint, e.g. https://NAME.openai.azure.com) or the environment variable AZURE_API_BASE",
        ),
        key_env: "AZURE_API_KEY",
        key_with_own_base: KeyWithOwnBase::Always,
    }),
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

const ANTHROPIC: ProviderDescriptor = ProviderDescriptor {
    name: "anthropic",
    prefixes: &["anthropic"],
    served_as: "anthropic",
    preset: None,
    client_default: Some(ClientDefault {
        prefixes: &["anthropic"],
        base: Some(ANTHROPIC_API_BASE),
        base_env: None,
        missing_base_hint: None,
        key_env: "ANTHROPIC_API_KEY",
        key_with_own_base: KeyWithOwnBase::WhenSet,
    }),
    bare_model_prefixes: &["claude"],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// MistralConfig: MISTRAL_AZURE_API_BASE/KEY are for Mistral on Azure AI and are not
// read here.
const MISTRAL: ProviderDescriptor = ProviderDescriptor {
    bare_model_prefixes_without_api_base: &["mistral-", "open-mistral", "codestral"],
    api_base_suffix: Some("/v1"),
    ..openai_compatible(
        "mistral",
        &["mistral"],
        Preset {
            base: Some("https://api.mistral.ai/v1"),
            base_env: &[],
            key_env: &["MISTRAL_API_KEY"],
            key: KeyRule::Required,
        },
    )
};

// GroqChatConfig.
const GROQ: ProviderDescriptor = openai_compatible(
    "groq",
    &["groq"],
    Preset {
        base: Some("https://api.groq.com/openai/v1"),
        base_env: &["GROQ_API_BASE"],
        key_env: &["GROQ_API_KEY"],
        key: KeyRule::Required,
    },
);

// get_llm_provider_logic: DeepSeek's default base is its /beta endpoint.
const DEEPSEEK: ProviderDescriptor = openai_compatible(
    "deepseek",
    &["deepseek"],
    Preset {
        base: Some("https://api.deepseek.com/beta"),
        base_env: &["DEEPSEEK_API_BASE"],
        key_env: &["DEEPSEEK_API_KEY"],
        key: KeyRule::Required,
    },
);

// get_llm_provider_logic: four key variables, in this order.
const TOGETHER_AI: ProviderDescriptor = openai_compatible(
    "together_ai",
    &["together_ai"],
    Preset {
        base: Some("https://api.together.xyz/v1"),
        base_env: &["TOGETHER_AI_API_BASE"],
        key_env: &[
            "TOGETHER_API_KEY",
            "TOGETHER_AI_API_KEY",
            "TOGETHERAI_API_KEY",
            "TOGETHER_AI_TOKEN",
        ],
        key: KeyRule::Required,
    },
);

// litellm/main.py (openrouter branch): OPENROUTER_API_BASE, OPENROUTER_API_KEY or
// OR_API_KEY.
const OPENROUTER: ProviderDescriptor = openai_compatible(
    "openrouter",
    &["openrouter"],
    Preset {
        base: Some("https://openrouter.ai/api/v1"),
        base_env: &["OPENROUTER_API_BASE"],
        key_env: &["OPENROUTER_API_KEY", "OR_API_KEY"],
        key: KeyRule::Required,
    },
);

// XAIChatConfig (litellm.constants.XAI_API_BASE).
const XAI: ProviderDescriptor = openai_compatible(
    "xai",
    &["xai"],
    Preset {
        base: Some("https://api.x.ai/v1"),
        base_env: &["XAI_API_BASE"],
        key_env: &["XAI_API_KEY"],
        key: KeyRule::Required,
    },
);

// FireworksAIConfig.
const FIREWORKS_AI: ProviderDescriptor = openai_compatible(
    "fireworks_ai",
    &["fireworks_ai"],
    Preset {
        base: Some("https://api.fireworks.ai/inference/v1"),
        base_env: &["FIREWORKS_API_BASE"],
        key_env: &[
            "FIREWORKS_API_KEY",
            "FIREWORKS_AI_API_KEY",
            "FIREWORKSAI_API_KEY",
            "FIREWORKS_AI_TOKEN",
        ],
        key: KeyRule::Required,
    },
);

// PerplexityChatConfig.
const PERPLEXITY: ProviderDescriptor = openai_compatible(
    "perplexity",
    &["perplexity"],
    Preset {
        base: Some("https://api.perplexity.ai"),
        base_env: &["PERPLEXITY_API_BASE"],
        key_env: &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
        key: KeyRule::Required,
    },
);

// get_llm_provider_logic.
const CEREBRAS: ProviderDescriptor = openai_compatible(
    "cerebras",
    &["cerebras"],
    Preset {
        base: Some("https://api.cerebras.ai/v1"),
        base_env: &["CEREBRAS_API_BASE"],
        key_env: &["CEREBRAS_API_KEY"],
        key: KeyRule::Required,
    },
);

// DeepInfraConfig.
const DEEPINFRA: ProviderDescriptor = openai_compatible(
    "deepinfra",
    &["deepinfra"],
    Preset {
        base: Some("https://api.deepinfra.com/v1/openai"),
        base_env: &["DEEPINFRA_API_BASE"],
        key_env: &["DEEPINFRA_API_KEY"],
        key: KeyRule::Required,
    },
);

// HostedVLLMChatConfig: no default address; "fake-api-key" without a key.
const HOSTED_VLLM: ProviderDescriptor = openai_compatible(
    "hosted_vllm",
    &["hosted_vllm"],
    Preset {
        base: None,
        base_env: &["HOSTED_VLLM_API_BASE"],
        key_env: &["HOSTED_VLLM_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
);

// LMStudioChatConfig: likewise.
const LM_STUDIO: ProviderDescriptor = openai_compatible(
    "lm_studio",
    &["lm_studio"],
    Preset {
        base: None,
        base_env: &["LM_STUDIO_API_BASE"],
        key_env: &["LM_STUDIO_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
);

// LlamafileChatConfig: llamafile's own default address.
const LLAMAFILE: ProviderDescriptor = openai_compatible(
    "llamafile",
    &["llamafile"],
    Preset {
        base: Some("http://127.0.0.1:8080/v1"),
        base_env: &["LLAMAFILE_API_BASE"],
        key_env: &["LLAMAFILE_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
);

// OllamaConfig / OllamaChatConfig.get_complete_url, main.py's OLLAMA_API_BASE;
// OLLAMA_API_KEY is sent as a Bearer token when set (Ollama behind a proxy).
const OLLAMA_PRESET: Preset = Preset {
    base: Some("http://localhost:11434"),
    base_env: &["OLLAMA_API_BASE"],
    key_env: &["OLLAMA_API_KEY"],
    key: KeyRule::None,
};

const OLLAMA: ProviderDescriptor = ProviderDescriptor {
    name: "ollama",
    prefixes: &["ollama"],
    served_as: "ollama",
    preset: Some(OLLAMA_PRESET),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

const OLLAMA_CHAT: ProviderDescriptor = ProviderDescriptor {
    name: "ollama_chat",
    prefixes: &["ollama_chat"],
    served_as: "ollama",
    preset: Some(OLLAMA_PRESET),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// Google AI Studio: GeminiModelInfo.get_api_base (GEMINI_API_BASE, else the bare host;
// the filter adds /v1beta) and main.py's key order: GOOGLE_API_KEY or GEMINI_API_KEY
// (get_api_key_from_env), then the older PALM_API_KEY.
const GEMINI: ProviderDescriptor = ProviderDescriptor {
    name: "gemini",
    prefixes: &["gemini"],
    served_as: "gemini",
    preset: Some(Preset {
        base: Some("https://generativelanguage.googleapis.com"),
        base_env: &["GEMINI_API_BASE"],
        key_env: &["GOOGLE_API_KEY", "GEMINI_API_KEY", "PALM_API_KEY"],
        key: KeyRule::Required,
    }),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// litellm/main.py (cohere_chat and embedding branches): COHERE_API_BASE, else
// https://api.cohere.com/v2/chat; key: COHERE_API_KEY, then CO_API_KEY. The filter
// serves /v2/chat and /v2/embed under the host, so a base naming an endpoint
// (`…/v2/chat`) is cut back to it (the Cohere provider's base normalization).
const COHERE: ProviderDescriptor = ProviderDescriptor {
    name: "cohere",
    prefixes: &["cohere", "cohere_chat"],
    served_as: "cohere",
    preset: Some(Preset {
        base: Some("https://api.cohere.com"),
        base_env: &["COHERE_API_BASE"],
        key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        key: KeyRule::Required,
    }),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &["command"],
    api_base_suffix: None,
};

// HuggingFaceChatConfig.get_complete_url: HF_API_BASE, HUGGINGFACE_API_BASE, else the
// Hugging Face router; main.py: HF_TOKEN, then HUGGINGFACE_API_KEY. A self-hosted TGI
// needs no key; the router does (the config compiler checks that).
const HUGGINGFACE_PRESET: Preset = Preset {
    base: Some(HUGGINGFACE_ROUTER),
    base_env: &["HF_API_BASE", "HUGGINGFACE_API_BASE"],
    key_env: &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
    key: KeyRule::None,
};

const HUGGINGFACE: ProviderDescriptor = ProviderDescriptor {
    name: "huggingface",
    prefixes: &["huggingface"],
    served_as: "huggingface",
    preset: Some(HUGGINGFACE_PRESET),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// No prefix of its own: the config compiler picks it for `huggingface/` deployments
// in text-generation mode, which then read `huggingface/`'s preset.
const HUGGINGFACE_GENERATE: ProviderDescriptor = ProviderDescriptor {
    name: "huggingface",
    prefixes: &[],
    served_as: "huggingface",
    preset: Some(HUGGINGFACE_PRESET),
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// Region, endpoint and credentials are Bedrock's own rules (the config compiler's
// `plan::bedrock`, [`super::bedrock`]).
const BEDROCK: ProviderDescriptor = ProviderDescriptor {
    name: "bedrock",
    prefixes: &["bedrock"],
    served_as: "bedrock",
    preset: None,
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &[],
    api_base_suffix: None,
};

// Project, location and the service account are Vertex AI's own rules (the config
// compiler's `vertex`, [`super::vertex`]).
const VERTEX_AI: ProviderDescriptor = ProviderDescriptor {
    name: "vertex_ai",
    prefixes: &["vertex_ai"],
    served_as: "vertex_ai",
    preset: None,
    client_default: None,
    bare_model_prefixes: &[],
    bare_model_prefixes_without_api_base: &["gemini", "chat-bison", "text-bison"],
    api_base_suffix: None,
};
