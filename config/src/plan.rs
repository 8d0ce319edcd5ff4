//! Compiles a validated [`Config`] into a render-ready [`Plan`]: the router stage's
//! plugin config, one upstream plugin config and Envoy cluster per real deployment,
//! one route per model group, and the environment variables the filter reads.
//!
//! Rules, in the order they apply to each `model_list` entry:
//!
//! - **Mode.** `model_info.mode` picks the group's endpoints: `chat` →
//!   `chat_completions` + `completions`, `completion` → `completions`, `embedding` →
//!   `embeddings`, none → every endpoint. Other modes (`image_generation`, `rerank`,
//!   …) are not served yet: the deployment is skipped with a warning.
//! - **Mock.** `litellm_params.mock_response` makes the group answer locally
//!   ([`GroupConfig::mock_response`]); no cluster. A group may not mix mock and real
//!   deployments.
//! - **Provider.** `custom_llm_provider`, else the first segment of `model` when it is a
//!   LiteLLM provider prefix, else the provider LiteLLM infers from a bare name
//!   (`gpt-4o` → openai), else — with an `api_base` — an OpenAI-compatible server.
//!   The provider model id is the rest of `model`, kept as-is
//!   (`openai/nvidia/llama-3.2-nv-embedqa-1b-v2` → `nvidia/llama-3.2-nv-embedqa-1b-v2`).
//!   Providers Switchyard does not translate for yet (`vertex_ai/` partner models, …) and
//!   `model: "*"` are skipped with a warning, so LiteLLM's example configs still pass
//!   `check`.
//! - **Address.** `api_base`, else the provider's default (`openai/` →
//!   `https://api.openai.com/v1`, `anthropic/` → `https://api.anthropic.com`, the
//!   OpenAI-compatible clouds and Ollama per [`PRESETS`]: LiteLLM's
//!   `<PROVIDER>_API_BASE` variable, else its default); Azure, `hosted_vllm/` and
//!   `lm_studio/` need one. An `os.environ/NAME`
//!   api_base stays deferred for the filter, but Envoy needs the address when the config
//!   is rendered, so it is also resolved now.
//! - **Credentials.** `api_key`, `api_base`, `api_version` may come from
//!   `litellm_credential_name`; values in `litellm_params` win. Without an `api_key`,
//!   `openai/` (default base), `anthropic/` (default base) and `azure/` read
//!   `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` and `AZURE_API_KEY` like LiteLLM does;
//!   the [`PRESETS`] read their key variables (first set wins) and a cloud with no
//!   key anywhere is an error naming the entry's `api_key` and the variables.
//! - **Weights.** As LiteLLM's simple-shuffle: a group is weighted by `weight` if any of
//!   its deployments sets it, else by `rpm`, else by `tpm`, else evenly. Deployments
//!   without the chosen field get 0 (no traffic) and a warning.
//! - **Deployment id.** `model_info.id`, else LiteLLM's: see [`litellm_deployment_id`].

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use serde_yaml::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use switchyard_contract::plugin_config::{
    AwsSigning, DeploymentConfig, ErrorFallbacks, GroupConfig, GroupRetries, Pricing,
    PromptTemplate, RoleTemplate, RouterConfig, Setting,
};

use crate::prices::PriceTable;
use switchyard_contract::providers::{infer_provider, ProviderKind};

use crate::litellm::{
    check_env_name, env_ref, py_str, resolve_string, Config, ConfigError, FallbackList,
    LitellmParams, ModelEntry, Organization,
};

/// Request bodies larger than this are refused with 413 unless
/// `general_settings.max_request_size_mb` says otherwise. LiteLLM has no default limit;
/// Envoy has to buffer the body for the filter, so Switchyard picks 10 MiB (the base64
/// images of a vision request fit; whole documents may not).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 10 * 1024 * 1024;

/// LiteLLM's variable for the master key when the config has no `master_key`.
pub const MASTER_KEY_VARIABLE: &str = "LITELLM_MASTER_KEY";
/// The variable that holds the gateway's reporting credential, read by both Envoy (the
/// filter's spend reports carry it) and the keyservice (which refuses reports without
/// it or the master key): the credential of a config with a database and no master key.
/// `switchyard up` sets it to a random secret of its own for each run.
pub const REPORTER_KEY_VARIABLE: &str = "SWITCHYARD_REPORTER_KEY";

/// LiteLLM's variable for the database when the config has no `database_url`.
pub const DATABASE_URL_VARIABLE: &str = "DATABASE_URL";

/// OpenAI's API, the default `api_base` of `openai/` deployments.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// Anthropic's API, the default `api_base` of `anthropic/` deployments.
pub const ANTHROPIC_API_BASE: &str = "https://api.anthropic.com";

/// The region of a Bedrock deployment that names none anywhere (LiteLLM's default).
pub const BEDROCK_REGION: &str = "us-west-2";

/// A Bedrock API key (`Authorization: Bearer`), read when a deployment has no `api_key`.
pub const BEDROCK_BEARER_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// A Bedrock endpoint for deployments without `api_base` or
/// `aws_bedrock_runtime_endpoint` (LiteLLM's `get_runtime_endpoint`).
pub const BEDROCK_ENDPOINT_ENV: &str = "AWS_BEDROCK_RUNTIME_ENDPOINT";

/// LiteLLM's defaults for an OpenAI-compatible cloud or server, and for Ollama: where
/// it is and which environment variables hold its address and key. Taken from
/// LiteLLM's `_get_openai_compatible_provider_info`
/// (`litellm/litellm_core_utils/get_llm_provider_logic.py`) and each provider's
/// `…Config._get_openai_compatible_provider_info` (`litellm/llms/<provider>/chat/
/// transformation.py`): `api_base or get_secret(<BASE_ENV>) or <default>`, and
/// `api_key or get_secret(<KEY_ENV>…)`, the first variable that is set winning.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The provider prefix.
    pub name: &'static str,
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

/// The presets, one per prefix (see [`Preset`]).
pub const PRESETS: &[Preset] = &[
    // MistralConfig: MISTRAL_AZURE_API_BASE/KEY are for Mistral on Azure AI and
    // are not read here.
    Preset {
        name: "mistral",
        base: Some("https://api.mistral.ai/v1"),
        base_env: &[],
        key_env: &["MISTRAL_API_KEY"],
        key: KeyRule::Required,
    },
    // GroqChatConfig.
    Preset {
        name: "groq",
        base: Some("https://api.groq.com/openai/v1"),
        base_env: &["GROQ_API_BASE"],
        key_env: &["GROQ_API_KEY"],
        key: KeyRule::Required,
    },
    // get_llm_provider_logic: DeepSeek's default base is its /beta endpoint.
    Preset {
        name: "deepseek",
        base: Some("https://api.deepseek.com/beta"),
        base_env: &["DEEPSEEK_API_BASE"],
        key_env: &["DEEPSEEK_API_KEY"],
        key: KeyRule::Required,
    },
    // get_llm_provider_logic: four key variables, in this order.
    Preset {
        name: "together_ai",
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
    // litellm/main.py (openrouter branch): OPENROUTER_API_BASE, OPENROUTER_API_KEY or OR_API_KEY.
    Preset {
        name: "openrouter",
        base: Some("https://openrouter.ai/api/v1"),
        base_env: &["OPENROUTER_API_BASE"],
        key_env: &["OPENROUTER_API_KEY", "OR_API_KEY"],
        key: KeyRule::Required,
    },
    // XAIChatConfig (litellm.constants.XAI_API_BASE).
    Preset {
        name: "xai",
        base: Some("https://api.x.ai/v1"),
        base_env: &["XAI_API_BASE"],
        key_env: &["XAI_API_KEY"],
        key: KeyRule::Required,
    },
    // FireworksAIConfig.
    Preset {
        name: "fireworks_ai",
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
    // PerplexityChatConfig.
    Preset {
        name: "perplexity",
        base: Some("https://api.perplexity.ai"),
        base_env: &["PERPLEXITY_API_BASE"],
        key_env: &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
        key: KeyRule::Required,
    },
    // get_llm_provider_logic.
    Preset {
        name: "cerebras",
        base: Some("https://api.cerebras.ai/v1"),
        base_env: &["CEREBRAS_API_BASE"],
        key_env: &["CEREBRAS_API_KEY"],
        key: KeyRule::Required,
    },
    // DeepInfraConfig.
    Preset {
        name: "deepinfra",
        base: Some("https://api.deepinfra.com/v1/openai"),
        base_env: &["DEEPINFRA_API_BASE"],
        key_env: &["DEEPINFRA_API_KEY"],
        key: KeyRule::Required,
    },
    // HostedVLLMChatConfig: no default address; "fake-api-key" without a key.
    Preset {
        name: "hosted_vllm",
        base: None,
        base_env: &["HOSTED_VLLM_API_BASE"],
        key_env: &["HOSTED_VLLM_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
    // LMStudioChatConfig: likewise.
    Preset {
        name: "lm_studio",
        base: None,
        base_env: &["LM_STUDIO_API_BASE"],
        key_env: &["LM_STUDIO_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
    // LlamafileChatConfig: llamafile's own default address.
    Preset {
        name: "llamafile",
        base: Some("http://127.0.0.1:8080/v1"),
        base_env: &["LLAMAFILE_API_BASE"],
        key_env: &["LLAMAFILE_API_KEY"],
        key: KeyRule::Placeholder("fake-api-key"),
    },
    // OllamaConfig / OllamaChatConfig.get_complete_url, main.py's OLLAMA_API_BASE;
    // OLLAMA_API_KEY is sent as a Bearer token when set (Ollama behind a proxy).
    Preset {
        name: "ollama",
        base: Some("http://localhost:11434"),
        base_env: &["OLLAMA_API_BASE"],
        key_env: &["OLLAMA_API_KEY"],
        key: KeyRule::None,
    },
    Preset {
        name: "ollama_chat",
        base: Some("http://localhost:11434"),
        base_env: &["OLLAMA_API_BASE"],
        key_env: &["OLLAMA_API_KEY"],
        key: KeyRule::None,
    },
    // Google AI Studio: GeminiModelInfo.get_api_base (GEMINI_API_BASE, else the bare
    // host; the filter adds /v1beta) and main.py's key order: GOOGLE_API_KEY or
    // GEMINI_API_KEY (get_api_key_from_env), then the older PALM_API_KEY.
    Preset {
        name: "gemini",
        base: Some("https://generativelanguage.googleapis.com"),
        base_env: &["GEMINI_API_BASE"],
        key_env: &["GOOGLE_API_KEY", "GEMINI_API_KEY", "PALM_API_KEY"],
        key: KeyRule::Required,
    },
    // litellm/main.py (cohere_chat and embedding branches): COHERE_API_BASE, else
    // https://api.cohere.com/v2/chat; key: COHERE_API_KEY, then CO_API_KEY. The
    // filter serves /v2/chat and /v2/embed under the host, so a base naming an
    // endpoint (`…/v2/chat`) is cut back to it (`upstream::Deployment::new`).
    Preset {
        name: "cohere",
        base: Some("https://api.cohere.com"),
        base_env: &["COHERE_API_BASE"],
        key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        key: KeyRule::Required,
    },
    Preset {
        name: "cohere_chat",
        base: Some("https://api.cohere.com"),
        base_env: &["COHERE_API_BASE"],
        key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        key: KeyRule::Required,
    },
    // HuggingFaceChatConfig.get_complete_url: HF_API_BASE, HUGGINGFACE_API_BASE, else
    // the Hugging Face router; main.py: HF_TOKEN, then HUGGINGFACE_API_KEY. A
    // self-hosted TGI needs no key; the router does (`Compiler::huggingface`).
    Preset {
        name: "huggingface",
        base: Some(HUGGINGFACE_ROUTER),
        base_env: &["HF_API_BASE", "HUGGINGFACE_API_BASE"],
        key_env: &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
        key: KeyRule::None,
    },
];

/// The Hugging Face router's OpenAI-compatible API, `huggingface/`'s default base.
pub const HUGGINGFACE_ROUTER: &str = "https://router.huggingface.co/v1";

/// LiteLLM's Hugging Face tasks (`hf_task_list`) that name the text-generation API
/// when they lead the model id (`huggingface/text-generation-inference/<model>`).
const HF_GENERATE_TASKS: &[&str] = &["text-generation-inference", "text-generation"];
/// LiteLLM's other Hugging Face tasks: APIs Hugging Face no longer serves.
const HF_OTHER_TASKS: &[&str] = &["conversational", "text-classification"];

/// The preset of a provider prefix.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Every provider prefix LiteLLM knows (its `LlmProviders` enum). A `model` whose first
/// segment is not one of these is a bare model name that happens to contain a slash
/// (`meta-llama/Llama-3-8B` on an OpenAI-compatible server).
pub const LITELLM_PROVIDERS: &[&str] = &[
    "openai",
    "openai_like",
    "jina_ai",
    "xai",
    "custom_openai",
    "text-completion-openai",
    "cohere",
    "cohere_chat",
    "clarifai",
    "anthropic",
    "anthropic_text",
    "bytez",
    "replicate",
    "runwayml",
    "huggingface",
    "together_ai",
    "openrouter",
    "datarobot",
    "vertex_ai",
    "vertex_ai_beta",
    "gemini",
    "ai21",
    "baseten",
    "azure",
    "azure_text",
    "azure_ai",
    "sagemaker",
    "sagemaker_chat",
    "bedrock",
    "vllm",
    "nlp_cloud",
    "petals",
    "oobabooga",
    "ollama",
    "ollama_chat",
    "deepinfra",
    "perplexity",
    "mistral",
    "milvus",
    "groq",
    "nvidia_nim",
    "cerebras",
    "ai21_chat",
    "volcengine",
    "codestral",
    "text-completion-codestral",
    "dashscope",
    "moonshot",
    "v0",
    "morph",
    "lambda_ai",
    "deepseek",
    "sambanova",
    "maritalk",
    "voyage",
    "cloudflare",
    "xinference",
    "fireworks_ai",
    "friendliai",
    "featherless_ai",
    "watsonx",
    "watsonx_text",
    "triton",
    "predibase",
    "databricks",
    "empower",
    "github",
    "compactifai",
    "docker_model_runner",
    "custom",
    "litellm_proxy",
    "hosted_vllm",
    "llamafile",
    "lm_studio",
    "galadriel",
    "nebius",
    "infinity",
    "deepgram",
    "elevenlabs",
    "novita",
    "aiohttp_openai",
    "langfuse",
    "humanloop",
    "topaz",
    "assemblyai",
    "github_copilot",
    "snowflake",
    "gradient_ai",
    "meta_llama",
    "nscale",
    "pg_vector",
    "hyperbolic",
    "recraft",
    "fal_ai",
    "heroku",
    "aiml",
    "cometapi",
    "oci",
    "auto_router",
    "vercel_ai_gateway",
    "dotprompt",
    "wandb",
    "ovhcloud",
    "lemonade",
    "chatgpt",
    "gradient",
    "aleph_alpha",
    "palm",
    "vertex_ai_anthropic",
];

/// The variable LiteLLM reads for an `azure/` deployment without `api_base`.
const AZURE_API_BASE_ENV: &str = "AZURE_API_BASE";

/// `litellm_params` keys that configure LiteLLM itself rather than the request; they are
/// reported as ignored instead of being sent to the provider as default parameters.
/// (Keys starting with `aws_`, `vertex_`, `azure_` and `watsonx_` are treated the same.)
const NON_REQUEST_PARAMS: &[&str] = &[
    "region_name",
    "tenant_id",
    "client_id",
    "client_secret",
    "input_cost_per_second",
    "output_cost_per_second",
    "input_cost_per_pixel",
    "output_cost_per_pixel",
    "cache_creation_input_token_cost",
    "cache_read_input_token_cost",
    "max_budget",
    "budget_duration",
    "use_in_pass_through",
    "use_litellm_proxy",
    "merge_reasoning_content_in_choices",
    "configurable_clientside_auth_params",
    "litellm_trace_id",
    "auto_router_config",
    "auto_router_config_path",
    "auto_router_default_model",
    "auto_router_embedding_model",
    "additional_drop_params",
    "model_info",
    "mock_timeout",
    "mock_delay",
    "base_model",
    "guardrails",
    "cache_control_injection_points",
    "litellm_metadata",
    "api_type",
    "rpm_limit",
    "tpm_limit",
];

/// Everything `render` needs, compiled from a [`Config`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The router stage's plugin config: groups in config order, aliases, body limit
    /// (`general_settings.max_request_size_mb` in MiB, default
    /// [`DEFAULT_MAX_REQUEST_BODY_BYTES`]).
    pub router: RouterConfig,
    /// One per real (non-mock, not skipped) deployment, in `model_list` order.
    pub deployments: Vec<PlannedDeployment>,
    /// One per group that has real deployments, in config order.
    pub routes: Vec<PlannedRoute>,
    /// Balancing, retries and cooldowns.
    pub routing: RoutingPolicy,
    /// Every environment variable the filter reads inside Envoy (`os.environ/` in
    /// `api_key`, `api_base`, `api_version`, and the provider default keys); Envoy's
    /// `vm_config.environment_variables.host_env_keys`.
    pub host_env_keys: BTreeSet<String>,
    /// The Envoy clusters of the Google token endpoints the Vertex deployments'
    /// service accounts name (`token_uri`): cluster name → address.
    pub token_clusters: BTreeMap<String, UpstreamAddress>,
    /// Seconds per call: `router_settings.timeout`, else `litellm_settings.request_timeout`.
    pub timeout_secs: Option<f64>,
    /// Seconds per streamed call: `router_settings.stream_timeout`.
    pub stream_timeout_secs: Option<f64>,
    /// `environment_variables` from the config, stringified: values for variables that
    /// are not set in the gateway's environment. May hold secrets: pass them as process
    /// environment, never write them into a rendered file.
    #[serde(skip)]
    pub env_defaults: BTreeMap<String, String>,
    /// Virtual keys (the keyservice behind Envoy ext_authz): on when a master key or a
    /// database is configured, as in LiteLLM. Holds secrets: never rendered.
    #[serde(skip)]
    pub keys: Option<KeysPlan>,
    /// The debug mode: the upstream stage logs each attempt as LiteLLM's debug output
    /// does (`litellm_settings.set_verbose: true`; `switchyard up` also turns it on
    /// for `--debug`, `--detailed_debug` and `LITELLM_LOG=DEBUG`).
    pub debug_requests: bool,
    /// Deployment-level warnings (skipped deployments, ignored parameters). The
    /// config-level ones come from `litellm::load`; show both.
    pub warnings: Vec<String>,
}

/// How the keyservice runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysPlan {
    /// `general_settings.master_key`, else `LITELLM_MASTER_KEY`.
    pub master_key: Option<String>,
    /// Where the master key comes from, as the filter must read it: the variable the
    /// config names (`os.environ/NAME`), `LITELLM_MASTER_KEY` when only the
    /// environment has it, or `None` for a key written in the file (the rendered
    /// config then carries it, as it carries other literal secrets).
    pub master_key_env: Option<String>,
    /// `general_settings.database_url`, else `DATABASE_URL` (else SQLite).
    pub database_url: Option<String>,
    /// Where the gateway's spend reports find their credential when there is no master
    /// key ([`REPORTER_KEY_VARIABLE`]); `None` when they carry the master key.
    pub reporter_key_env: Option<String>,
}

/// One deployment that gets an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedDeployment {
    /// Unique, Envoy-safe name: `dep_<model_list index>_<sanitized group>` (the
    /// endpoint's locality in its route clusters, and a file name).
    pub name: String,
    /// The upstream stage's plugin config for this cluster.
    pub upstream: DeploymentConfig,
    /// Where the cluster connects (from the resolved `api_base`).
    pub address: UpstreamAddress,
    /// Load-balancing weight within the group (see the module docs).
    pub weight: u32,
    /// Index of the `model_list` entry, for messages.
    pub entry_index: usize,
    /// `litellm_params.timeout`: seconds per call to this deployment.
    pub timeout_secs: Option<f64>,
    /// `litellm_params.stream_timeout`: seconds per streamed call to this deployment.
    pub stream_timeout_secs: Option<f64>,
    /// `litellm_params.max_retries`.
    pub max_retries: Option<u32>,
    /// How many requests this deployment may have in flight, as far as the config
    /// says (`litellm_params.max_parallel_requests`, else `rpm`: at most that many
    /// start in a minute): sizes the route clusters' circuit breakers.
    pub concurrency_hint: Option<u64>,
}

/// Where a deployment's cluster connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamAddress {
    /// `https` (TLS with SNI = host) rather than `http`.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; 443/80 when the URL gives none.
    pub port: u16,
    /// Path prefix of `api_base`: `""` or e.g. `"/v1"`, never with a trailing slash.
    pub path_prefix: String,
}

/// The Envoy route of one model group, and its route cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRoute {
    /// What the route matches in the `x-switchyard-group` header (the group name).
    pub route_key: String,
    /// The model group (`model_name`).
    pub group: String,
    /// The route's cluster: its endpoints are the deployments below.
    pub cluster_name: String,
    /// Envoy priority levels: 0 is the group itself, then each fallback group in order.
    pub priorities: Vec<PlannedPriority>,
}

/// One priority level of a route cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPriority {
    /// The model group whose deployments these are.
    pub group: String,
    /// `(index into Plan::deployments, weight)`, in config order.
    pub members: Vec<(usize, u32)>,
}

/// How Envoy balances, retries and cools deployments down: LiteLLM's router
/// settings, as far as Envoy expresses them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingPolicy {
    /// `least-busy` and `latency-based-routing` balance by fewest requests in flight
    /// (Envoy `LEAST_REQUEST`); every other strategy is weighted random (`RANDOM`).
    pub least_request: bool,
    /// Retries per request (`num_retries`, router_settings first; LiteLLM's default 2).
    pub num_retries: u32,
    /// Retry on 429 (`retry_policy.RateLimitErrorRetries` > 0, or no retry_policy).
    pub retry_rate_limited: bool,
    /// Retry on 5xx, resets and connect failures (`InternalServerErrorRetries`).
    pub retry_server_errors: bool,
    /// Retry on timeouts (`TimeoutErrorRetries`).
    pub retry_timeouts: bool,
    /// Extra statuses retried (`AuthenticationErrorRetries` → 401,
    /// `BadRequestErrorRetries` → 400).
    pub retry_statuses: Vec<u16>,
    /// Consecutive failures before a deployment cools down (`allowed_fails`, default 3).
    pub allowed_fails: u32,
    /// Seconds a deployment cools down (`cooldown_time`, default 5).
    pub cooldown_secs: f64,
}

/// Compiles `config` (already validated by `litellm::load`). `env` is consulted, with
/// `environment_variables` as fallback, for values that must be known now: an
/// `os.environ/` api_base (the cluster address) and `os.environ/` in headers and
/// default parameters (written into the rendered config, with a warning).
pub fn compile(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ConfigError> {
    let env_defaults = config.env_defaults();
    let lookup = |name: &str| env(name).or_else(|| config.env_default(name));
    let prices = PriceTable::load(&lookup)
        .map_err(|e| ConfigError::at(&config.file_name, crate::prices::PRICES_ENV, e))?;
    let mut cx = Compiler {
        config,
        prices,
        file: &config.file_name,
        lookup: &lookup,
        warnings: Vec::new(),
        host_env_keys: BTreeSet::new(),
        token_clusters: BTreeMap::new(),
    };

    // Classify every entry, grouped by model_name in order of first appearance.
    let mut groups: IndexMap<&str, Vec<Classified>> = IndexMap::new();
    for (i, entry) in config.model_list.iter().enumerate() {
        for (variant, entry_variant) in per_organization(entry) {
            let mut classified = cx.classify(i, &entry_variant)?;
            if let Classified::Real(real) = &mut classified {
                real.variant = variant;
            }
            groups
                .entry(entry.model_name.as_str())
                .or_default()
                .push(classified);
        }
    }

    let mut router_groups = Vec::new();
    let mut deployments = Vec::new();
    let mut routes = Vec::new();
    // Served (non-mock) groups in config order: (deployment index, weight) each.
    let mut served: IndexMap<String, Vec<(usize, u32)>> = IndexMap::new();
    let mut seen_ids: BTreeMap<String, usize> = BTreeMap::new();
    for (name, members) in &groups {
        let mocks: Vec<&Mock> = members.iter().filter_map(Classified::as_mock).collect();
        let mut reals: Vec<&Real> = members.iter().filter_map(Classified::as_real).collect();
        if let (Some(mock), Some(real)) = (mocks.first(), reals.first()) {
            return Err(ConfigError::at(
                cx.file,
                format!("model_list[{}]", real.index.max(mock.index)),
                format!(
                    "model group {name:?} mixes mock deployments (mock_response, model_list[{}]) and real ones (model_list[{}]); give the mock its own model_name",
                    mock.index, real.index
                ),
            ));
        }
        if mocks.is_empty() && reals.is_empty() {
            cx.warn(
                format!("model_list[{}]", members_first_index(members)),
                format!("model group {name:?} has no deployment Switchyard can serve; it is left out (requests for it get 400 unknown model)"),
            );
            continue;
        }
        let endpoints = union_endpoints(members);
        if let Some(first) = mocks.first() {
            if mocks.iter().any(|m| m.response != first.response) {
                cx.warn(
                    format!("model_list[{}].litellm_params.mock_response", first.index),
                    format!("model group {name:?} has several different mock responses; the first one is used"),
                );
            }
            router_groups.push(GroupConfig {
                name: name.to_string(),
                route_key: name.to_string(),
                mock_response: Some(first.response.clone()),
                endpoints,
            });
            continue;
        }

        // Identical entries get identical LiteLLM ids; LiteLLM keeps one of them.
        reals.retain(|real| match seen_ids.get(&real.upstream.deployment_id) {
            Some(first) => {
                cx.warnings.push(format!(
                    "model_list[{}]: same deployment id as model_list[{first}] (identical entries); skipped",
                    real.index
                ));
                false
            }
            None => {
                seen_ids.insert(real.upstream.deployment_id.clone(), real.index);
                true
            }
        });
        let weights = cx.group_weights(name, &reals)?;
        let mut members = Vec::new();
        for (real, weight) in reals.iter().zip(weights) {
            members.push((deployments.len(), weight));
            deployments.push(PlannedDeployment {
                name: match real.variant {
                    None => deployment_name(real.index, name),
                    Some(k) => deployment_name(real.index, &format!("{k}_{name}")),
                },
                upstream: real.upstream.clone(),
                address: real.address.clone(),
                weight,
                entry_index: real.index,
                timeout_secs: real.timeout_secs,
                stream_timeout_secs: real.stream_timeout_secs,
                max_retries: real.max_retries,
                concurrency_hint: real.max_parallel_requests.or(real.rpm),
            });
        }
        router_groups.push(GroupConfig {
            name: name.to_string(),
            route_key: name.to_string(),
            mock_response: None,
            endpoints,
        });
        served.insert(name.to_string(), members);
    }

    let routing = cx.routing_policy();
    let fallbacks = cx.fallbacks(&served);
    let error_fallbacks = cx.error_fallbacks(&served);
    for (name, members) in &served {
        let mut priorities = vec![PlannedPriority {
            group: name.clone(),
            members: members.clone(),
        }];
        for fallback in fallbacks.get(name).into_iter().flatten() {
            if let Some(m) = served.get(fallback) {
                priorities.push(PlannedPriority {
                    group: fallback.clone(),
                    members: m.clone(),
                });
            }
        }
        routes.push(PlannedRoute {
            route_key: name.clone(),
            group: name.clone(),
            cluster_name: route_cluster_name(routes.len(), name),
            priorities,
        });
    }

    // Aliases: only to groups that are served.
    let mut aliases = BTreeMap::new();
    let mut hidden_aliases = BTreeSet::new();
    for (alias, target) in &config.router_settings.model_group_alias {
        let group = target.group();
        let served = router_groups
            .iter()
            .any(|g| g.name == group || crate::litellm::wildcard_match(&g.name, group));
        if !served {
            cx.warn(
                format!("router_settings.model_group_alias.{alias}"),
                format!("model group {group:?} is not served (all its deployments were skipped); alias dropped"),
            );
            continue;
        }
        aliases.insert(alias.clone(), group.to_string());
        if target.hidden() {
            hidden_aliases.insert(alias.clone());
        }
    }

    if router_groups.is_empty() && !config.model_list.is_empty() {
        cx.warnings.push(
            "model_list: no model group can be served by Switchyard; every LLM call will be answered 400 (unknown model)"
                .to_string(),
        );
    }

    let (master_key, master_key_env) = match &config.general_settings.master_key {
        Some(key) => (
            Some(key.clone()),
            config.general_settings.master_key_env.clone(),
        ),
        None => (
            lookup(MASTER_KEY_VARIABLE),
            Some(MASTER_KEY_VARIABLE.to_string()),
        ),
    };
    let master_key = master_key.filter(|k| !k.is_empty());
    let master_key_env = master_key_env.filter(|_| master_key.is_some());
    let database_url = config
        .general_settings
        .database_url
        .clone()
        .or_else(|| lookup(DATABASE_URL_VARIABLE))
        .filter(|u| !u.is_empty());
    if master_key.is_some() && master_key_env.is_none() {
        cx.warnings.push(
            "general_settings.master_key: the key is written in the config file and will be copied into the rendered Envoy config (spend reports carry it); prefer os.environ/NAME"
                .to_string(),
        );
    }
    let reporter_key_env = master_key
        .is_none()
        .then(|| REPORTER_KEY_VARIABLE.to_string());
    let keys = (master_key.is_some() || database_url.is_some()).then_some(KeysPlan {
        master_key,
        master_key_env,
        database_url,
        reporter_key_env,
    });
    if keys.is_none() {
        cx.warnings.push(
            "general_settings: no master_key and no database_url: THE GATEWAY IS OPEN — every request is admitted without a key (as LiteLLM does); set master_key to require keys"
                .to_string(),
        );
    }

    if keys.is_some() {
        unpriced_warnings(config, &deployments, &mut cx.warnings);
    }

    let max_request_body_bytes = config
        .general_settings
        .max_request_size_mb
        .map(|mb| (mb * 1024.0 * 1024.0) as usize)
        .unwrap_or(DEFAULT_MAX_REQUEST_BODY_BYTES);

    let mut plan = Plan {
        router: RouterConfig {
            groups: router_groups,
            aliases,
            hidden_aliases,
            max_request_body_bytes,
            error_fallbacks,
            // With keys, every local answer waits for the key check (ext_authz).
            defer_answers: keys.is_some(),
            // Set by render, which knows the keyservice's cluster.
            spend_reporting: None,
            // Set by `switchyard up --model` (LiteLLM's command-line model).
            forced_group: None,
            // The routes' retry policy, for per-request fallbacks (render's
            // `retry_policy` turns the same values into Envoy's).
            retries: GroupRetries {
                num_retries: routing.num_retries,
                server_errors: routing.retry_server_errors,
                rate_limited: routing.retry_rate_limited,
                statuses: routing.retry_statuses.clone(),
            },
        },
        deployments,
        routes,
        routing,
        host_env_keys: {
            // Spend reports carry the master key, read from the variable it came from,
            // or (no master key) the reporting credential.
            let mut env_keys = cx.host_env_keys;
            env_keys.extend(keys.as_ref().and_then(|k| k.master_key_env.clone()));
            env_keys.extend(keys.as_ref().and_then(|k| k.reporter_key_env.clone()));
            env_keys
        },
        token_clusters: cx.token_clusters,
        timeout_secs: config
            .router_settings
            .timeout
            .or(config.litellm_settings.request_timeout),
        stream_timeout_secs: config.router_settings.stream_timeout,
        env_defaults,
        keys,
        debug_requests: config.litellm_settings.set_verbose == Some(true),
        warnings: cx.warnings,
    };
    // Where a group's deployments disagree on timeouts: which value applies.
    let timeout = plan
        .timeout_secs
        .unwrap_or(crate::render::DEFAULT_TIMEOUT_SECS);
    let attempts = |route: &PlannedRoute| crate::render::total_attempts(route, &plan.routing);
    let disagreements = crate::timeouts::disagreements(&plan, &attempts, timeout);
    plan.warnings.extend(disagreements);
    Ok(plan)
}

/// With virtual keys on (budgets apply), a warning for every deployment without a
/// price: its spend would be recorded as 0 and no budget would ever stop it. Each
/// names the file, the entry and the field, and the ways to give it a price. A
/// wildcard deployment is priced per request by the model asked for: it is named
/// when the price table lists none of the models its pattern matches.
fn unpriced_warnings(config: &Config, deployments: &[PlannedDeployment], out: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for d in deployments {
        let up = &d.upstream;
        let wildcard = up.model.contains('*');
        if up.pricing.is_some() || (wildcard && !up.model_prices.is_empty()) {
            continue;
        }
        if !seen.insert(d.entry_index) {
            continue;
        }
        let Some(entry) = config.model_list.get(d.entry_index) else {
            continue;
        };
        let what = if wildcard {
            "the price table lists no model this wildcard matches"
        } else if up.provider == ProviderKind::Azure {
            "an Azure deployment is named freely and has no model_info.base_model (it is priced only if its answer names a model the price table lists)"
        } else {
            "the price table does not list this model"
        };
        out.push(format!(
            "{}: model_list[{}] (model_name {:?}).litellm_params.model {:?}: NO PRICE and virtual keys are on: {what}, so its spend is recorded as $0 and budgets never stop it (Switchyard serves it and logs a warning per request). Give it a price: litellm_params (or model_info) input_cost_per_token and output_cost_per_token; or model_info.base_model naming a priced model (e.g. azure/gpt-4o); or a price file in LiteLLM's format (model_prices_and_context_window.json) named by {}",
            config.file_name,
            d.entry_index,
            entry.model_name,
            entry.litellm_params.model,
            crate::prices::PRICES_ENV,
        ));
    }
}

/// LiteLLM's default deployment id: the hex SHA-256 of `model_name` followed by, for
/// each `litellm_params` key in YAML order, the key and Python's `str()` of the value,
/// all concatenated (`gpt-4o` + `model` + `openai/gpt-4o` + `rpm` + `10`).
///
/// Approximations: values are hashed as written, so an `os.environ/NAME` value hashes
/// as that text (LiteLLM hashes the secret it resolved; pin `model_info.id` to match
/// LiteLLM's ids exactly), and nested lists and mappings use Python's `repr` only
/// approximately (see [`py_str`]).
pub fn litellm_deployment_id(model_name: &str, params: &LitellmParams) -> String {
    let mapping = match &params.source.0 {
        Some(mapping) => mapping.clone(),
        None => match serde_yaml::to_value(params) {
            Ok(Value::Mapping(mapping)) => mapping,
            _ => Default::default(),
        },
    };
    let mut text = model_name.to_string();
    for (key, value) in &mapping {
        text.push_str(&py_str(key));
        text.push_str(&py_str(value));
    }
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses an `api_base` URL into where Envoy connects.
pub fn parse_api_base(raw: &str) -> Result<UpstreamAddress, String> {
    let url = raw.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("expected an http:// or https:// URL, got {raw:?}"));
    };
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        other => {
            return Err(format!(
                "unsupported scheme {other:?} in {raw:?}; expected http or https"
            ))
        }
    };
    if rest.contains(['?', '#']) {
        return Err(format!("{raw:?} must not carry a query string or fragment"));
    }
    if rest.chars().any(char::is_whitespace) {
        return Err(format!("{raw:?} contains whitespace"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!(
            "{raw:?} carries credentials (user@host); put the key in api_key instead"
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(format!("{raw:?} has an unclosed IPv6 address"));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{raw:?} has garbage after the IPv6 address"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !host_ok {
        return Err(format!("{raw:?} has no valid host"));
    }
    let port = match port {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{raw:?} has an invalid port {p:?}")),
        },
    };
    Ok(UpstreamAddress {
        tls,
        host: host.to_ascii_lowercase(),
        port,
        path_prefix: path.trim_end_matches('/').to_string(),
    })
}

/// An entry as compiled: itself, or, when `organization` is a list, one copy per
/// organization (LiteLLM creates one deployment each; see [`Organization`]), each
/// with its own id `<entry id>-<organization>` and its position in the list.
fn per_organization(entry: &ModelEntry) -> Vec<(Option<usize>, Cow<'_, ModelEntry>)> {
    let Some(Organization::Many(orgs)) = &entry.litellm_params.organization else {
        return vec![(None, Cow::Borrowed(entry))];
    };
    let base = entry
        .model_info
        .id
        .clone()
        .unwrap_or_else(|| litellm_deployment_id(&entry.model_name, &entry.litellm_params));
    orgs.iter()
        .enumerate()
        .map(|(k, org)| {
            let mut one = entry.clone();
            one.litellm_params.organization = Some(Organization::One(org.clone()));
            one.model_info.id = Some(format!("{base}-{org}"));
            (Some(k), Cow::Owned(one))
        })
        .collect()
}

/// `dep_<index>_<group>`, with everything but `[A-Za-z0-9_.-]` turned into `_` and the
/// group part cut to 40 characters (the index keeps names unique).
fn deployment_name(index: usize, group: &str) -> String {
    format!("dep_{index}_{}", sanitize(group))
}

/// The route cluster of the `index`-th served group.
fn route_cluster_name(index: usize, group: &str) -> String {
    format!("route_{index}_{}", sanitize(group))
}

/// Envoy-safe (and file-name-safe) form of a group name, at most 40 characters.
fn sanitize(group: &str) -> String {
    group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect()
}

// ---------------------------------------------------------------------------------
// Per-entry classification
// ---------------------------------------------------------------------------------

/// What became of one `model_list` entry.
enum Classified {
    /// Answers locally with `mock_response`.
    Mock(Mock),
    /// Gets a cluster.
    Real(Box<Real>),
    /// Left out, with a warning already given.
    Skipped { index: usize },
}

/// A mock deployment: its entry, its answer, its endpoints.
struct Mock {
    index: usize,
    response: String,
    endpoints: Vec<String>,
}

/// A real deployment, compiled, with what its group needs to weigh it.
struct Real {
    index: usize,
    /// The position of its organization, for an entry with a list of them.
    variant: Option<usize>,
    upstream: DeploymentConfig,
    address: UpstreamAddress,
    endpoints: Vec<String>,
    weight: Option<f64>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    timeout_secs: Option<f64>,
    stream_timeout_secs: Option<f64>,
    max_retries: Option<u32>,
    max_parallel_requests: Option<u64>,
}

impl Classified {
    fn as_mock(&self) -> Option<&Mock> {
        match self {
            Classified::Mock(m) => Some(m),
            _ => None,
        }
    }

    fn as_real(&self) -> Option<&Real> {
        match self {
            Classified::Real(r) => Some(r),
            _ => None,
        }
    }

    fn index(&self) -> usize {
        match self {
            Classified::Mock(m) => m.index,
            Classified::Real(r) => r.index,
            Classified::Skipped { index } => *index,
        }
    }

    /// `None` for skipped entries.
    fn endpoints(&self) -> Option<&[String]> {
        match self {
            Classified::Mock(m) => Some(&m.endpoints),
            Classified::Real(r) => Some(&r.endpoints),
            Classified::Skipped { .. } => None,
        }
    }
}

fn members_first_index(members: &[Classified]) -> usize {
    members.first().map(Classified::index).unwrap_or(0)
}

/// The group's endpoints: the union over its deployments; empty (= all) as soon as
/// one deployment has no mode.
fn union_endpoints(members: &[Classified]) -> Vec<String> {
    let lists: Vec<&[String]> = members.iter().filter_map(Classified::endpoints).collect();
    if lists.iter().any(|l| l.is_empty()) {
        return Vec::new();
    }
    ["chat_completions", "completions", "embeddings"]
        .iter()
        .filter(|e| lists.iter().any(|l| l.iter().any(|x| x == *e)))
        .map(|e| e.to_string())
        .collect()
}

/// How a deployment's provider was determined.
enum ProviderChoice {
    /// Served: the wire format, LiteLLM's provider name, the provider's model id.
    Known(ProviderKind, String, String),
    /// A LiteLLM provider Switchyard does not translate for yet.
    Unsupported(String),
    /// `model: "*"`: any provider.
    AnyProvider,
}

/// Bare model names LiteLLM maps to providers Switchyard does not serve yet.
fn infer_unsupported(model: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("gemini", "vertex_ai"),
        ("chat-bison", "vertex_ai"),
        ("text-bison", "vertex_ai"),
        ("command", "cohere"),
        ("mistral-", "mistral"),
        ("open-mistral", "mistral"),
        ("codestral", "mistral"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map(|(_, provider)| *provider)
}

/// State shared while compiling the entries.
struct Compiler<'a> {
    config: &'a Config,
    prices: PriceTable,
    file: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
    host_env_keys: BTreeSet<String>,
    /// Google token endpoints of the Vertex deployments: cluster name → address.
    token_clusters: BTreeMap<String, UpstreamAddress>,
}

impl Compiler<'_> {
    fn warn(&mut self, path: impl std::fmt::Display, message: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {message}"));
    }

    fn error(&self, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, path, message)
    }

    fn classify(&mut self, index: usize, entry: &ModelEntry) -> Result<Classified, ConfigError> {
        let p = format!("model_list[{index}]");
        let lp = &entry.litellm_params;

        let endpoints: Vec<&str> = match entry.model_info.mode.as_deref() {
            None => vec![],
            Some("chat") => vec!["chat_completions", "completions"],
            Some("completion") => vec!["completions"],
            Some("embedding") => vec!["embeddings"],
            Some(mode) => {
                self.warn(
                    format!("{p}.model_info.mode"),
                    format!("mode {mode:?} is not served by Switchyard yet (chat, completion and embedding are); deployment skipped"),
                );
                return Ok(Classified::Skipped { index });
            }
        };
        let endpoints: Vec<String> = endpoints.into_iter().map(String::from).collect();

        if let Some(response) = &lp.mock_response {
            return Ok(Classified::Mock(Mock {
                index,
                response: response.clone(),
                endpoints,
            }));
        }

        let (provider, provider_name, model_id) = match self.provider(&p, entry)? {
            ProviderChoice::Known(kind, name, id) => (kind, name, id),
            ProviderChoice::Unsupported(name) => {
                self.warn(
                    format!("{p}.litellm_params.model"),
                    format!("provider {name:?} ({:?}) is not supported by Switchyard yet (openai, azure, anthropic, gemini, vertex_ai, bedrock, ollama, cohere, huggingface and the OpenAI-compatible clouds and servers are); deployment skipped", lp.model),
                );
                return Ok(Classified::Skipped { index });
            }
            ProviderChoice::AnyProvider => {
                self.warn(
                    format!("{p}.litellm_params.model"),
                    "model: '*' (any provider) is not supported yet; use openai/* or anthropic/*; deployment skipped",
                );
                return Ok(Classified::Skipped { index });
            }
        };
        if provider == ProviderKind::Cohere && model_id.starts_with("v1/") {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?} asks for Cohere's v1 API; Switchyard speaks Cohere's v2 API only: write {:?}",
                    lp.model,
                    format!("{provider_name}/{}", model_id.trim_start_matches("v1/"))
                ),
            ));
        }
        let template = self.prompt_template(&p, lp)?;
        let (provider, model_id) = if provider == ProviderKind::Huggingface {
            self.huggingface_mode(&p, entry, model_id, template.is_some())?
        } else {
            (provider, model_id)
        };
        if model_id.contains('*') && !entry.model_name.contains('*') {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?} has a wildcard but model_name {:?} has none; give model_name a wildcard pattern too (LiteLLM's convention is the same string: model_name: {:?})",
                    lp.model, entry.model_name, lp.model
                ),
            ));
        }

        let model_id = if provider == ProviderKind::Bedrock {
            self.bedrock_model_id(&p, model_id)
        } else {
            model_id
        };
        let bedrock_region = if provider == ProviderKind::Bedrock {
            Some(self.bedrock_region(&p, lp, &model_id)?)
        } else {
            None
        };

        // Connection settings, from litellm_params or the named credential.
        let credential = lp
            .litellm_credential_name
            .as_deref()
            .and_then(|name| self.config.credential(name));
        let from_credential = |key: &str| -> Option<(String, String)> {
            let cred = credential?;
            let value = cred.credential_values.get(key)?;
            let i = self
                .config
                .credential_list
                .iter()
                .position(|c| c.credential_name == cred.credential_name)
                .unwrap_or(0);
            Some((
                py_str(value),
                format!("credential_list[{i}].credential_values.{key}"),
            ))
        };
        let field = |key: &str, value: &Option<String>| -> Option<(String, String)> {
            value
                .clone()
                .map(|v| (v, format!("{p}.litellm_params.{key}")))
                .or_else(|| from_credential(key))
        };
        let api_base = field("api_base", &lp.api_base);
        let api_key = field("api_key", &lp.api_key);
        let api_version = field("api_version", &lp.api_version);

        let vertex = if provider == ProviderKind::VertexAi {
            if let Some(why) = switchyard_contract::providers::vertex::unsupported_model(&model_id)
            {
                self.warn(
                    format!("{p}.litellm_params.model"),
                    format!("{:?}: {why}; deployment skipped", lp.model),
                );
                return Ok(Classified::Skipped { index });
            }
            let v = crate::vertex::plan(self.file, &p, lp, api_base.clone(), self.lookup)?;
            for (path, message) in &v.warnings {
                self.warn(path, message);
            }
            self.host_env_keys.extend(v.env_keys.iter().cloned());
            self.token_clusters
                .insert(v.google_auth.token_cluster.clone(), v.token_address.clone());
            Some(v)
        } else {
            None
        };
        let (api_base_setting, address) = if let Some(v) = &vertex {
            (v.api_base.clone(), v.address.clone())
        } else {
            match api_base {
                Some((raw, path)) => {
                    check_env_name(self.file, &path, &raw)?;
                    // A value from credential_list also names the entry that uses it.
                    let used_by = if path.starts_with(&p) {
                        String::new()
                    } else {
                        format!(" (used by {p})")
                    };
                    let resolved = match env_ref(&raw) {
                        Some(name) => {
                            self.host_env_keys.insert(name.to_string());
                            (self.lookup)(name).ok_or_else(|| {
                            self.error(
                                path.clone(),
                                format!("environment variable {name} is not set (os.environ/{name}){used_by}; Switchyard needs the address when it renders the Envoy config (the filter reads the variable again inside Envoy)"),
                            )
                        })?
                        }
                        None => raw.clone(),
                    };
                    let address = parse_api_base(&resolved)
                        .map_err(|m| self.error(path.clone(), format!("{m}{used_by}")))?;
                    let setting = match env_ref(&raw) {
                        Some(name) => Setting::Env {
                            env: name.to_string(),
                        },
                        None => {
                            let mut base = raw.trim().trim_end_matches('/').to_string();
                            // MistralConfig: "Mistral always needs a /v1 at the end".
                            if provider == ProviderKind::Mistral && !base.ends_with("/v1") {
                                base.push_str("/v1");
                            }
                            Setting::Literal(base)
                        }
                    };
                    let address = match &setting {
                        Setting::Literal(base) if provider == ProviderKind::Mistral => {
                            parse_api_base(base).map_err(|m| self.error(path, m))?
                        }
                        _ => address,
                    };
                    (setting, address)
                }
                None if preset(&provider_name).is_some() => {
                    self.preset_base(&p, &provider_name, &entry.model_name)?
                }
                None if provider == ProviderKind::Bedrock => {
                    self.bedrock_base(&p, lp, bedrock_region.as_deref().unwrap_or(BEDROCK_REGION))?
                }
                // LiteLLM: `api_base or litellm.api_base or get_secret("AZURE_API_BASE")`.
                None if provider == ProviderKind::Azure && self.env_is_set(AZURE_API_BASE_ENV) => {
                    self.base_from_env(&p, AZURE_API_BASE_ENV)?
                }
                None => {
                    let default = match provider_name.as_str() {
                        "openai" | "text-completion-openai" => OPENAI_API_BASE,
                        "anthropic" => ANTHROPIC_API_BASE,
                        name => {
                            let hint = if provider == ProviderKind::Azure {
                                " (the Azure OpenAI resource endpoint, e.g. https://NAME.openai.azure.com) or the environment variable AZURE_API_BASE"
                            } else {
                                " (the server's base URL, e.g. http://vllm:8000/v1)"
                            };
                            return Err(self.error(
                                format!("{p}.litellm_params.api_base"),
                                format!(
                                    "{name} deployments need an api_base{hint}; model_name {:?}",
                                    entry.model_name
                                ),
                            ));
                        }
                    };
                    let address = parse_api_base(default)
                        .map_err(|m| self.error(format!("{p}.litellm_params.api_base"), m))?;
                    (Setting::Literal(default.to_string()), address)
                }
            }
        };
        let google_auth = vertex.map(|v| v.google_auth);
        if google_auth.is_some() {
            if let Some((_, path)) = &api_key {
                self.warn(
                    path,
                    "vertex_ai deployments authenticate with their service account; the api_key is not used",
                );
            }
        }
        let api_key = if google_auth.is_some() { None } else { api_key };

        let api_key_setting = match api_key {
            Some((raw, path)) => Some(self.deferred(&path, &raw, true)?),
            None if preset(&provider_name).is_some() => {
                self.preset_key(&p, &provider_name, &entry.model_name)?
            }
            None if provider == ProviderKind::Bedrock => {
                // LiteLLM: an api_key, else AWS_BEARER_TOKEN_BEDROCK, is a Bedrock API
                // key (`Authorization: Bearer`); without one, SigV4.
                (self.lookup)(BEDROCK_BEARER_ENV)
                    .filter(|v| !v.is_empty())
                    .map(|_| {
                        self.host_env_keys.insert(BEDROCK_BEARER_ENV.to_string());
                        Setting::Env {
                            env: BEDROCK_BEARER_ENV.to_string(),
                        }
                    })
            }
            None => {
                let own_base = lp.api_base.is_none() && credential.is_none();
                // LiteLLM reads the provider's variable whatever the api_base
                // (`litellm/main.py`: `api_key or litellm.openai_key or
                // get_secret("OPENAI_API_KEY")`); a server of one's own may need no key,
                // so with an api_base it is used only when it is set.
                let set = |var: &str| (self.lookup)(var).is_some_and(|v| !v.is_empty());
                let default_var = match provider_name.as_str() {
                    "openai" | "text-completion-openai" if own_base || set("OPENAI_API_KEY") => {
                        Some("OPENAI_API_KEY")
                    }
                    "anthropic" if own_base || set("ANTHROPIC_API_KEY") => {
                        Some("ANTHROPIC_API_KEY")
                    }
                    "azure" | "azure_text" => Some("AZURE_API_KEY"),
                    _ => None,
                };
                default_var.map(|var| {
                    self.host_env_keys.insert(var.to_string());
                    Setting::Env {
                        env: var.to_string(),
                    }
                })
            }
        };
        let api_version_setting = match api_version {
            Some((raw, path)) => Some(self.deferred(&path, &raw, false)?),
            None => None,
        };

        let on_router = api_base_setting == Setting::Literal(HUGGINGFACE_ROUTER.to_string());
        let model_id = match provider {
            ProviderKind::Huggingface | ProviderKind::HuggingfaceGenerate if on_router => {
                self.huggingface_router(&p, entry, provider, model_id, api_key_setting.is_some())?
            }
            _ => model_id,
        };
        let mut headers = self.headers(&p, lp, provider)?;
        if provider == ProviderKind::Openrouter {
            // litellm/main.py sends OpenRouter's optional attribution headers from
            // OR_SITE_URL and OR_APP_NAME (with LiteLLM's own name as default; here
            // only when set). extra_headers win.
            for (var, header) in [("OR_SITE_URL", "HTTP-Referer"), ("OR_APP_NAME", "X-Title")] {
                let set = headers.keys().any(|k| k.eq_ignore_ascii_case(header));
                if let Some(value) = (self.lookup)(var).filter(|v| !v.is_empty() && !set) {
                    headers.insert(header.to_string(), value);
                }
            }
        }
        let aws = match (&bedrock_region, &api_key_setting) {
            (Some(region), None) => {
                Some(self.bedrock_signing(&p, lp, region, &entry.model_name)?)
            }
            _ => None,
        };
        let default_params = self.default_params(&p, lp)?;
        self.warn_unused(&p, entry, provider);
        for name in entry.model_info.forward_client_headers.iter().flatten() {
            if !switchyard_contract::billing_headers::is_billing_header(name.trim()) {
                self.warn(
                    format!("{p}.model_info.forward_client_headers"),
                    format!("{name:?} is not a header the gateway removes (it reaches the provider anyway); only {} are", switchyard_contract::billing_headers::BILLING_HEADERS.join(", ")),
                );
            }
        }
        if provider == ProviderKind::HuggingfaceGenerate && template.is_none() {
            self.warn(
                format!("{p}.litellm_params.model"),
                "text-generation without a prompt template (initial_prompt_value, roles, final_prompt_value, bos_token, eos_token): the prompt is the messages' contents joined with spaces (LiteLLM's default_pt; LiteLLM would render the model's chat template from the Hugging Face Hub)",
            );
        }

        let deployment_id = entry
            .model_info
            .id
            .clone()
            .unwrap_or_else(|| litellm_deployment_id(&entry.model_name, lp));
        let drop_params = lp
            .drop_params
            .or(self.config.litellm_settings.drop_params)
            .unwrap_or(false);
        let pricing = self.pricing(entry, &provider_name, &model_id);
        // Prices per served model where the deployment's own cannot be known now: a
        // wildcard serves the requested model; an unpriced Azure deployment (named
        // freely, no base_model) is priced by the model its answer names.
        let model_prices = match &pricing {
            None if model_id.contains('*') => self.prices.models_of(&provider_name, &model_id),
            None if provider == ProviderKind::Azure => self.prices.models_of("azure", "*"),
            _ => BTreeMap::new(),
        };

        Ok(Classified::Real(Box::new(Real {
            index,
            variant: None,
            upstream: DeploymentConfig {
                deployment_id,
                group: entry.model_name.clone(),
                provider,
                model: model_id,
                api_base: api_base_setting,
                api_key: api_key_setting,
                api_version: api_version_setting,
                headers,
                default_params,
                drop_params,
                fallback_index: 0,
                pricing,
                model_prices,
                prompt_template: template.filter(|_| provider == ProviderKind::HuggingfaceGenerate),
                aws,
                google_auth,
                direct_cluster: None,
                // The effective limit is set per route cluster by `render`.
                stream_timeout_ms: None,
                forward_client_headers: self.forward_client_headers(entry),
            },
            address,
            endpoints,
            weight: lp.weight,
            rpm: lp.rpm,
            tpm: lp.tpm,
            timeout_secs: lp.timeout,
            stream_timeout_secs: lp.stream_timeout,
            max_retries: lp.max_retries,
            max_parallel_requests: lp.max_parallel_requests,
        })))
    }

    /// A Bedrock model id without LiteLLM's route prefixes: `converse/<id>` is the
    /// Converse API (what Switchyard speaks); `invoke/<id>` (InvokeModel with the
    /// model's native body) is served through Converse too, with a warning.
    fn bedrock_model_id(&mut self, p: &str, model_id: String) -> String {
        if let Some(id) = model_id.strip_prefix("converse/") {
            return id.to_string();
        }
        if let Some(id) = model_id.strip_prefix("invoke/") {
            self.warn(
                format!("{p}.litellm_params.model"),
                "bedrock/invoke/ (InvokeModel with the model's own body) is served through the Converse API, as bedrock/converse/",
            );
            return id.to_string();
        }
        model_id
    }

    /// The region of a Bedrock deployment, as LiteLLM finds it: `aws_region_name`,
    /// the model ARN's region, `AWS_REGION_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`
    /// (boto3's), else `us-west-2`. Resolved now: the default endpoint names it.
    fn bedrock_region(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        model_id: &str,
    ) -> Result<String, ConfigError> {
        let path = format!("{p}.litellm_params.aws_region_name");
        let region = match &lp.aws_region_name {
            Some(raw) => resolve_string(self.file, &path, raw, self.lookup)?,
            None => {
                let from_arn = model_id
                    .strip_prefix("arn:")
                    .and_then(|arn| arn.split(':').nth(2))
                    .filter(|r| !r.is_empty())
                    .map(str::to_string);
                let from_env = || {
                    ["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]
                        .iter()
                        .find_map(|var| (self.lookup)(var).filter(|v| !v.is_empty()))
                };
                from_arn
                    .or_else(from_env)
                    .unwrap_or_else(|| BEDROCK_REGION.to_string())
            }
        };
        let region = region.trim().to_string();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(self.error(
                path,
                format!("{region:?} is not an AWS region name (e.g. us-east-1)"),
            ));
        }
        Ok(region)
    }

    /// The endpoint of a Bedrock deployment without an `api_base`:
    /// `aws_bedrock_runtime_endpoint`, else `AWS_BEDROCK_RUNTIME_ENDPOINT`, else
    /// `https://bedrock-runtime.{region}.amazonaws.com` (LiteLLM's
    /// `BaseAWSLLM.get_runtime_endpoint`).
    fn bedrock_base(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        region: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        if let Some(raw) = &lp.aws_bedrock_runtime_endpoint {
            let path = format!("{p}.litellm_params.aws_bedrock_runtime_endpoint");
            let resolved = resolve_string(self.file, &path, raw, self.lookup)?;
            let address = parse_api_base(&resolved).map_err(|m| self.error(path.clone(), m))?;
            let setting = match env_ref(raw) {
                Some(name) => {
                    self.host_env_keys.insert(name.to_string());
                    Setting::Env {
                        env: name.to_string(),
                    }
                }
                None => Setting::Literal(raw.trim().trim_end_matches('/').to_string()),
            };
            return Ok((setting, address));
        }
        if let Some(value) = (self.lookup)(BEDROCK_ENDPOINT_ENV).filter(|v| !v.is_empty()) {
            let address = parse_api_base(&value).map_err(|m| {
                self.error(
                    format!("{p}.litellm_params.aws_bedrock_runtime_endpoint"),
                    format!("{m} (from {BEDROCK_ENDPOINT_ENV})"),
                )
            })?;
            self.host_env_keys.insert(BEDROCK_ENDPOINT_ENV.to_string());
            return Ok((
                Setting::Env {
                    env: BEDROCK_ENDPOINT_ENV.to_string(),
                },
                address,
            ));
        }
        let default = format!("https://bedrock-runtime.{region}.amazonaws.com");
        let address = parse_api_base(&default)
            .map_err(|m| self.error(format!("{p}.litellm_params.aws_region_name"), m))?;
        Ok((Setting::Literal(default), address))
    }

    /// SigV4 credentials of a Bedrock deployment without a Bedrock API key:
    /// `aws_access_key_id` / `aws_secret_access_key` / `aws_session_token`
    /// (`os.environ/NAME` kept for the filter), else the standard variables
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    fn bedrock_signing(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        region: &str,
        model_name: &str,
    ) -> Result<AwsSigning, ConfigError> {
        let lpp = format!("{p}.litellm_params");
        let credential = |this: &mut Self,
                          field: &str,
                          value: &Option<String>,
                          var: &str,
                          secret: bool|
         -> Result<Option<Setting>, ConfigError> {
            if let Some(raw) = value {
                return this
                    .deferred(&format!("{lpp}.{field}"), raw, secret)
                    .map(Some);
            }
            if (this.lookup)(var).is_some_and(|v| !v.is_empty()) {
                this.host_env_keys.insert(var.to_string());
                return Ok(Some(Setting::Env {
                    env: var.to_string(),
                }));
            }
            Ok(None)
        };
        let id = credential(
            self,
            "aws_access_key_id",
            &lp.aws_access_key_id,
            "AWS_ACCESS_KEY_ID",
            false,
        )?;
        let secret = credential(
            self,
            "aws_secret_access_key",
            &lp.aws_secret_access_key,
            "AWS_SECRET_ACCESS_KEY",
            true,
        )?;
        // A session token belongs to its key: the environment's only goes with the
        // environment's key id (boto3 reads them as one set).
        let token = if lp.aws_access_key_id.is_some() {
            match &lp.aws_session_token {
                Some(raw) => Some(self.deferred(&format!("{lpp}.aws_session_token"), raw, true)?),
                None => None,
            }
        } else {
            credential(
                self,
                "aws_session_token",
                &lp.aws_session_token,
                "AWS_SESSION_TOKEN",
                true,
            )?
        };
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(AwsSigning {
                region: region.to_string(),
                access_key_id,
                secret_access_key,
                session_token: token,
            }),
            (id, _) => {
                let (field, missing) = if id.is_none() {
                    ("aws_access_key_id", "AWS_ACCESS_KEY_ID")
                } else {
                    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY")
                };
                Err(self.error(
                    format!("{p}.litellm_params.{field}"),
                    format!(
                        "bedrock deployments need AWS credentials: set aws_access_key_id and aws_secret_access_key (e.g. os.environ/AWS_ACCESS_KEY_ID), or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ({missing} is missing), or a Bedrock API key (api_key, or {BEDROCK_BEARER_ENV}); AWS profiles, instance roles and aws_role_name are not supported; model_name {model_name:?}"
                    ),
                ))
            }
        }
    }

    fn provider(&self, p: &str, entry: &ModelEntry) -> Result<ProviderChoice, ConfigError> {
        let lp = &entry.litellm_params;
        let model = lp.model.trim();
        let known = |name: &str, id: &str| match ProviderKind::from_litellm_prefix(name) {
            Some(kind) => ProviderChoice::Known(kind, name.to_string(), id.to_string()),
            None => ProviderChoice::Unsupported(name.to_string()),
        };
        if let Some(name) = lp.custom_llm_provider.as_deref() {
            let id = model.strip_prefix(&format!("{name}/")).unwrap_or(model);
            return Ok(known(name, id));
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if LITELLM_PROVIDERS.contains(&prefix) {
                return Ok(known(prefix, rest));
            }
        }
        if model == "*" {
            return Ok(ProviderChoice::AnyProvider);
        }
        if let Some(name) = infer_provider(model) {
            return Ok(known(name, model));
        }
        let has_api_base = lp.api_base.is_some()
            || lp
                .litellm_credential_name
                .as_deref()
                .and_then(|n| self.config.credential(n))
                .is_some_and(|c| c.credential_values.contains_key("api_base"));
        if has_api_base {
            // Any server with an api_base and no known prefix: OpenAI-compatible.
            return Ok(ProviderChoice::Known(
                ProviderKind::Openai,
                "openai_compatible".to_string(),
                model.to_string(),
            ));
        }
        if let Some(name) = infer_unsupported(model) {
            return Ok(known(name, model));
        }
        let first = model.split('/').next().unwrap_or(model);
        let why = if model.contains('/') {
            format!("{first:?} is not a LiteLLM provider")
        } else {
            "a bare model name that is not a known OpenAI or Anthropic model".to_string()
        };
        Err(ConfigError::at(
            self.file,
            format!("{p}.litellm_params.model"),
            format!(
                "cannot tell which provider serves {:?} ({why}); write it as \"provider/model-id\" (openai/, azure/, anthropic/, hosted_vllm/) or set api_base for an OpenAI-compatible server",
                lp.model
            ),
        ))
    }

    /// Whether `var` is set (and not empty), in the environment or `environment_variables`.
    fn env_is_set(&self, var: &str) -> bool {
        (self.lookup)(var).is_some_and(|v| !v.is_empty())
    }

    /// The address in the variable `var` (an entry without `api_base` whose provider
    /// reads one from the environment); kept deferred for the filter, like an
    /// `os.environ/` api_base.
    fn base_from_env(
        &mut self,
        p: &str,
        var: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        let value = (self.lookup)(var).unwrap_or_default();
        let address = parse_api_base(&value).map_err(|m| {
            self.error(
                format!("{p}.litellm_params.api_base"),
                format!("{m} (from {var})"),
            )
        })?;
        self.host_env_keys.insert(var.to_string());
        Ok((
            Setting::Env {
                env: var.to_string(),
            },
            address,
        ))
    }

    /// The address of a preset provider whose entry has no `api_base`: the first of
    /// its variables that is set (kept deferred for the filter), else its default.
    fn preset_base(
        &mut self,
        p: &str,
        provider_name: &str,
        model_name: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        let Some(preset) = preset(provider_name) else {
            return Err(self.error(format!("{p}.litellm_params.api_base"), "no preset"));
        };
        let path = format!("{p}.litellm_params.api_base");
        for var in preset.base_env {
            if let Some(value) = (self.lookup)(var).filter(|v| !v.is_empty()) {
                let address = parse_api_base(&value)
                    .map_err(|m| self.error(path.clone(), format!("{m} (from {var})")))?;
                self.host_env_keys.insert((*var).to_string());
                return Ok((
                    Setting::Env {
                        env: (*var).to_string(),
                    },
                    address,
                ));
            }
        }
        match preset.base {
            Some(default) => {
                let address = parse_api_base(default).map_err(|m| self.error(path, m))?;
                Ok((Setting::Literal(default.to_string()), address))
            }
            None => Err(self.error(
                path,
                format!(
                    "{provider_name} deployments need an api_base (the server's base URL, e.g. http://vllm:8000/v1) or the environment variable {}; model_name {model_name:?}",
                    preset.base_env.join(" or ")
                ),
            )),
        }
    }

    /// The key of a preset provider whose entry has no `api_key`: the first of its
    /// variables that is set, else its rule for no key.
    fn preset_key(
        &mut self,
        p: &str,
        provider_name: &str,
        model_name: &str,
    ) -> Result<Option<Setting>, ConfigError> {
        let Some(preset) = preset(provider_name) else {
            return Ok(None);
        };
        for var in preset.key_env {
            if (self.lookup)(var).is_some_and(|v| !v.is_empty()) {
                self.host_env_keys.insert((*var).to_string());
                return Ok(Some(Setting::Env {
                    env: (*var).to_string(),
                }));
            }
        }
        match preset.key {
            KeyRule::Required => Err(self.error(
                format!("{p}.litellm_params.api_key"),
                format!(
                    "{provider_name} deployments need an API key: set api_key (e.g. os.environ/{}) or the environment variable {} (LiteLLM's default{}); model_name {model_name:?}",
                    preset.key_env.first().copied().unwrap_or("KEY"),
                    preset.key_env.join(" or "),
                    if preset.key_env.len() > 1 { "s, read in that order" } else { "" },
                ),
            )),
            KeyRule::Placeholder(key) => Ok(Some(Setting::Literal(key.to_string()))),
            KeyRule::None => Ok(None),
        }
    }

    /// An `api_key`/`api_version` value: `os.environ/NAME` stays for the filter.
    fn deferred(&mut self, path: &str, raw: &str, secret: bool) -> Result<Setting, ConfigError> {
        check_env_name(self.file, path, raw)?;
        Ok(match env_ref(raw) {
            Some(name) => {
                self.host_env_keys.insert(name.to_string());
                Setting::Env {
                    env: name.to_string(),
                }
            }
            None => {
                if secret {
                    self.warn(
                        path,
                        "the key is written in the config file and will be copied into the rendered Envoy config; prefer os.environ/NAME",
                    );
                }
                Setting::Literal(raw.to_string())
            }
        })
    }

    /// Resolves `os.environ/` in a value that will be written into the rendered
    /// config, with a warning saying so.
    fn resolve_written(&mut self, path: &str, raw: &str) -> Result<String, ConfigError> {
        if env_ref(raw).is_some() {
            self.warn(
                path,
                "os.environ/ is resolved when the config is rendered and the value is written into the Envoy config",
            );
        }
        resolve_string(self.file, path, raw, self.lookup)
    }

    /// The entry's prompt template (`initial_prompt_value`, `roles`,
    /// `final_prompt_value`, `bos_token`, `eos_token`), checked: `roles` maps each
    /// role to `{pre_message, post_message}` strings.
    fn prompt_template(
        &mut self,
        p: &str,
        lp: &LitellmParams,
    ) -> Result<Option<PromptTemplate>, ConfigError> {
        let set = lp.initial_prompt_value.is_some()
            || lp.roles.is_some()
            || lp.final_prompt_value.is_some()
            || lp.bos_token.is_some()
            || lp.eos_token.is_some();
        if !set {
            return Ok(None);
        }
        let mut template = PromptTemplate {
            initial_prompt_value: lp.initial_prompt_value.clone().unwrap_or_default(),
            final_prompt_value: lp.final_prompt_value.clone().unwrap_or_default(),
            bos_token: lp.bos_token.clone().unwrap_or_default(),
            eos_token: lp.eos_token.clone().unwrap_or_default(),
            ..Default::default()
        };
        match &lp.roles {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(roles)) => {
                for (role, parts) in roles {
                    let role = py_str(role);
                    let path = format!("{p}.litellm_params.roles.{role}");
                    let parts = match parts {
                        Value::Mapping(m) => m,
                        Value::Null => continue,
                        _ => {
                            return Err(self.error(
                                path,
                                "must be a mapping with pre_message and/or post_message",
                            ))
                        }
                    };
                    let mut entry = RoleTemplate::default();
                    for (key, value) in parts {
                        let key = py_str(key);
                        if !matches!(key.as_str(), "pre_message" | "post_message") {
                            return Err(self.error(
                                format!("{path}.{key}"),
                                "unknown key: a role takes pre_message and post_message",
                            ));
                        }
                        let text = match value {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            _ => {
                                return Err(self.error(format!("{path}.{key}"), "must be a string"))
                            }
                        };
                        if key == "pre_message" {
                            entry.pre_message = text;
                        } else {
                            entry.post_message = text;
                        }
                    }
                    template.roles.insert(role, entry);
                }
            }
            Some(_) => {
                return Err(self.error(
                    format!("{p}.litellm_params.roles"),
                    "must be a mapping of role name to {pre_message, post_message}",
                ))
            }
        }
        Ok(Some(template))
    }

    /// Which Hugging Face API a `huggingface/` deployment speaks: the
    /// text-generation API (TGI's `/generate`) when its model id starts with one of
    /// LiteLLM's text-generation tasks or the entry has a prompt template (a raw
    /// prompt is what a template is for), else the OpenAI-compatible Messages API.
    fn huggingface_mode(
        &mut self,
        p: &str,
        entry: &ModelEntry,
        model_id: String,
        has_template: bool,
    ) -> Result<(ProviderKind, String), ConfigError> {
        let (first, rest) = model_id.split_once('/').unwrap_or((model_id.as_str(), ""));
        if HF_OTHER_TASKS.contains(&first) {
            return Err(self.error(
                format!("{p}.litellm_params.model"),
                format!(
                    "{:?}: Hugging Face's {first} task API is not served; use huggingface/<model> (the Messages API) or huggingface/text-generation-inference/<model>",
                    entry.litellm_params.model
                ),
            ));
        }
        if HF_GENERATE_TASKS.contains(&first) && !rest.is_empty() {
            return Ok((ProviderKind::HuggingfaceGenerate, rest.to_string()));
        }
        if has_template {
            return Ok((ProviderKind::HuggingfaceGenerate, model_id));
        }
        Ok((ProviderKind::Huggingface, model_id))
    }

    /// A `huggingface/` deployment on the Hugging Face router (no api_base): the
    /// router needs a key, serves the Messages API only, and picks an inference
    /// provider from the model id's `:provider` suffix. LiteLLM's
    /// `huggingface/<provider>/<org>/<model>` (whose provider route and model id it
    /// looks up on the Hub) becomes `<org>/<model>:<provider>`.
    fn huggingface_router(
        &mut self,
        p: &str,
        entry: &ModelEntry,
        provider: ProviderKind,
        model_id: String,
        has_key: bool,
    ) -> Result<String, ConfigError> {
        if provider == ProviderKind::HuggingfaceGenerate {
            return Err(self.error(
                format!("{p}.litellm_params.api_base"),
                format!(
                    "huggingface text-generation deployments need an api_base (the TGI / Inference Endpoint URL) or HF_API_BASE; the Hugging Face router serves the Messages API only; model_name {:?}",
                    entry.model_name
                ),
            ));
        }
        if !has_key {
            return Err(self.error(
                format!("{p}.litellm_params.api_key"),
                format!(
                    "huggingface deployments on the Hugging Face router need an API key: set api_key (e.g. os.environ/HF_TOKEN) or the environment variable HF_TOKEN or HUGGINGFACE_API_KEY (LiteLLM's defaults, read in that order); model_name {:?}",
                    entry.model_name
                ),
            ));
        }
        Ok(match model_id.split_once('/') {
            Some((inference_provider, rest)) if rest.contains('/') => {
                format!("{rest}:{inference_provider}")
            }
            _ => model_id,
        })
    }

    fn headers(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        provider: ProviderKind,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut headers = BTreeMap::new();
        for (key, map) in [
            ("extra_headers", &lp.extra_headers),
            ("headers", &lp.headers),
        ] {
            for (name, value) in map.iter().flatten() {
                let path = format!("{p}.litellm_params.{key}.{name}");
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    // LiteLLM starts with it and then fails every call to the
                    // deployment (httpx: "Illegal header name"); LiteLLM's docs show one.
                    self.warn(
                        path,
                        format!("{name:?} is not a valid HTTP header name; it is not sent (LiteLLM would fail every request to this deployment with httpx's \"Illegal header name\")"),
                    );
                    continue;
                }
                let value = self.resolve_written(&path, value)?;
                headers.insert(name.clone(), value);
            }
        }
        if let Some(Organization::One(org)) = &lp.organization {
            let path = format!("{p}.litellm_params.organization");
            if provider == ProviderKind::Openai {
                let org = self.resolve_written(&path, org)?;
                headers.insert("OpenAI-Organization".to_string(), org);
            } else {
                self.warn(
                    path,
                    format!(
                        "only used by OpenAI deployments, not {}; ignored",
                        provider.as_str()
                    ),
                );
            }
        }
        Ok(headers)
    }

    fn default_params(
        &mut self,
        p: &str,
        lp: &LitellmParams,
    ) -> Result<Map<String, Json>, ConfigError> {
        let mut params = Map::new();
        for (key, value) in &lp.params {
            let path = format!("{p}.litellm_params.{key}");
            let ignored = NON_REQUEST_PARAMS.contains(&key.as_str())
                || ["aws_", "vertex_", "azure_", "watsonx_"]
                    .iter()
                    .any(|prefix| key.starts_with(prefix));
            if ignored {
                self.warn(path, "not supported by Switchyard yet; ignored");
                continue;
            }
            if switchyard_contract::litellm_fields::is_litellm_field(key) {
                // LiteLLM consumes these itself (`num_retries`, `metadata`, …): they are
                // never request parameters, so no provider may get them.
                self.warn(
                    path,
                    "a LiteLLM setting, not a request parameter: never sent to the provider, and not applied per deployment by Switchyard",
                );
                continue;
            }
            let mut value = value.clone();
            self.resolve_in_value(&path, &mut value)?;
            let json = serde_json::to_value(&value).map_err(|e| {
                self.error(
                    path.clone(),
                    format!("cannot be sent as a JSON request parameter: {e}"),
                )
            })?;
            params.insert(key.clone(), json);
        }
        Ok(params)
    }

    fn resolve_in_value(&mut self, path: &str, value: &mut Value) -> Result<(), ConfigError> {
        match value {
            Value::String(s) => *s = self.resolve_written(path, s)?,
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.resolve_in_value(&format!("{path}[{i}]"), item)?;
                }
            }
            Value::Mapping(map) => {
                for (k, v) in map.iter_mut() {
                    self.resolve_in_value(&format!("{path}.{}", py_str(k)), v)?;
                }
            }
            Value::Tagged(t) => self.resolve_in_value(path, &mut t.value)?,
            _ => {}
        }
        Ok(())
    }

    /// Warns about the typed `litellm_params`/`model_info` fields a served deployment
    /// sets but Switchyard does not apply.
    /// The billing headers (`switchyard_contract::billing_headers`) a deployment lets
    /// through: its `model_info.forward_client_headers`, `OpenAI-Organization` with
    /// `general_settings.forward_openai_org_id`, every `x-*` one with
    /// `general_settings.forward_client_headers_to_llm_api` or the group in
    /// `litellm_settings.model_group_settings.forward_client_headers_to_llm_api`
    /// (LiteLLM's names and meanings). Lowercase, sorted, once each.
    fn forward_client_headers(&self, entry: &ModelEntry) -> Vec<String> {
        use switchyard_contract::billing_headers::BILLING_HEADERS;
        let general = &self.config.general_settings;
        let mut allowed: Vec<String> = entry
            .model_info
            .forward_client_headers
            .iter()
            .flatten()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if general.forward_openai_org_id == Some(true) {
            allowed.push("openai-organization".to_string());
        }
        let group_forwards = self
            .config
            .litellm_settings
            .model_group_settings
            .as_ref()
            .and_then(|m| m.forward_client_headers_to_llm_api.as_ref())
            .is_some_and(|groups| groups.contains(&entry.model_name));
        if general.forward_client_headers_to_llm_api == Some(true) || group_forwards {
            allowed.extend(
                BILLING_HEADERS
                    .iter()
                    .filter(|h| h.starts_with("x-"))
                    .map(|h| h.to_string()),
            );
        }
        allowed.sort();
        allowed.dedup();
        allowed
    }

    fn warn_unused(&mut self, p: &str, entry: &ModelEntry, provider: ProviderKind) {
        let lp = &entry.litellm_params;
        let lpp = format!("{p}.litellm_params");
        let mut notes: Vec<(String, String)> = Vec::new();
        let mut note = |set: bool, field: &str, message: &str| {
            if set {
                notes.push((field.to_string(), message.to_string()));
            }
        };
        note(
            lp.order.is_some(),
            "order",
            "order-based routing is not applied yet; ignored",
        );
        note(
            lp.max_parallel_requests.is_some(),
            "max_parallel_requests",
            "per-deployment concurrency limits are not applied yet; it only sizes the route cluster's circuit breakers",
        );
        note(
            lp.max_retries.is_some(),
            "max_retries",
            "has no effect behind LiteLLM's proxy either: its router sets the provider SDK's max_retries to 0 for every routed call (litellm/main.py) and retries with num_retries itself; set router_settings.num_retries",
        );
        note(
            lp.tags.is_some(),
            "tags",
            "tag-based routing is not applied yet; ignored",
        );
        let other_provider = format!("not used by {} deployments; ignored", provider.as_str());
        let bedrock = provider == ProviderKind::Bedrock;
        for (set, field) in [
            (
                lp.aws_access_key_id.is_some() && !bedrock,
                "aws_access_key_id",
            ),
            (
                lp.aws_secret_access_key.is_some() && !bedrock,
                "aws_secret_access_key",
            ),
            (
                lp.aws_session_token.is_some() && !bedrock,
                "aws_session_token",
            ),
            (lp.aws_region_name.is_some() && !bedrock, "aws_region_name"),
            (
                lp.aws_bedrock_runtime_endpoint.is_some() && !bedrock,
                "aws_bedrock_runtime_endpoint",
            ),
            (
                lp.vertex_project.is_some() && provider != ProviderKind::VertexAi,
                "vertex_project",
            ),
            (
                lp.vertex_location.is_some() && provider != ProviderKind::VertexAi,
                "vertex_location",
            ),
            (
                lp.vertex_credentials.is_some() && provider != ProviderKind::VertexAi,
                "vertex_credentials",
            ),
        ] {
            note(set, field, &other_provider);
        }
        for (set, field) in [
            (lp.initial_prompt_value.is_some(), "initial_prompt_value"),
            (lp.roles.is_some(), "roles"),
            (lp.final_prompt_value.is_some(), "final_prompt_value"),
            (lp.bos_token.is_some(), "bos_token"),
            (lp.eos_token.is_some(), "eos_token"),
        ] {
            note(
                set && provider != ProviderKind::HuggingfaceGenerate,
                field,
                "prompt templates are used by huggingface/ text-generation deployments only; ignored",
            );
        }
        for (field, message) in notes {
            self.warn(format!("{lpp}.{field}"), message);
        }
        let info = &entry.model_info;
        if info.access_groups.is_some() {
            self.warn(
                format!("{p}.model_info.access_groups"),
                "access groups are not enforced yet; ignored",
            );
        }
    }

    /// The deployment's prices: `input_cost_per_token` / `output_cost_per_token` from
    /// `litellm_params` or `model_info` win; else the price table, under
    /// `model_info.base_model` (Azure deployments are named freely) or the model id.
    fn pricing(&self, entry: &ModelEntry, provider_name: &str, model_id: &str) -> Option<Pricing> {
        let lp = &entry.litellm_params;
        let info = &entry.model_info;
        let name = info.base_model.as_deref().unwrap_or(model_id);
        let name = name.split_once('/').map_or(name, |(_, rest)| rest);
        let listed = self.prices.lookup(provider_name, name);
        let input = lp.input_cost_per_token.or(info.input_cost_per_token);
        let output = lp.output_cost_per_token.or(info.output_cost_per_token);
        if input.is_none() && output.is_none() {
            return listed;
        }
        Some(Pricing {
            input_cost_per_token: input
                .or(listed.map(|l| l.input_cost_per_token))
                .unwrap_or(0.0),
            output_cost_per_token: output
                .or(listed.map(|l| l.output_cost_per_token))
                .unwrap_or(0.0),
            cache_read_input_token_cost: listed.and_then(|l| l.cache_read_input_token_cost),
            cache_creation_input_token_cost: listed.and_then(|l| l.cache_creation_input_token_cost),
        })
    }

    /// Weights of a group's deployments, LiteLLM simple-shuffle style (module docs).
    /// LiteLLM's router settings as Envoy balancing, retry and outlier-detection
    /// settings (router_settings wins over litellm_settings).
    fn routing_policy(&mut self) -> RoutingPolicy {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let strategy = rs.routing_strategy.as_deref().unwrap_or("simple-shuffle");
        let least_request = matches!(strategy, "least-busy" | "latency-based-routing");
        let mut warnings = Vec::new();
        if !least_request && strategy != "simple-shuffle" {
            warnings.push((
                "router_settings.routing_strategy".to_string(),
                format!("{strategy:?} needs shared usage or cost counters Envoy does not keep; weighted random (simple-shuffle) is used"),
            ));
        }
        let mut policy = RoutingPolicy {
            least_request,
            num_retries: rs.num_retries.or(ls.num_retries).unwrap_or(2),
            retry_rate_limited: true,
            retry_server_errors: true,
            retry_timeouts: true,
            retry_statuses: Vec::new(),
            allowed_fails: rs.allowed_fails.or(ls.allowed_fails).unwrap_or(3),
            cooldown_secs: rs.cooldown_time.unwrap_or(5.0),
        };
        if let Some(per_type) = &rs.retry_policy {
            // Envoy has one retry budget per route: each error type is retried or not
            // (count > 0), and the budget is the largest count.
            let mut largest = 0;
            for (kind, &count) in per_type {
                largest = largest.max(count);
                let on = count > 0;
                match kind.as_str() {
                    "RateLimitErrorRetries" => policy.retry_rate_limited = on,
                    "InternalServerErrorRetries" => policy.retry_server_errors = on,
                    "TimeoutErrorRetries" => policy.retry_timeouts = on,
                    "AuthenticationErrorRetries" if on => policy.retry_statuses.push(401),
                    "BadRequestErrorRetries" if on => policy.retry_statuses.push(400),
                    "AuthenticationErrorRetries" | "BadRequestErrorRetries" => {}
                    other => warnings.push((
                        format!("router_settings.retry_policy.{other}"),
                        "Envoy cannot tell this error type apart by status; ignored".to_string(),
                    )),
                }
            }
            policy.num_retries = largest;
        }
        for (path, message) in warnings {
            self.warn(path, message);
        }
        policy
    }

    /// Fallback groups per served group: `fallbacks` (router_settings, else
    /// litellm_settings), and `default_fallbacks` for groups without their own.
    /// Targets that are not served are dropped with a warning.
    fn fallbacks(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
    ) -> BTreeMap<String, Vec<String>> {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let default = rs
            .default_fallbacks
            .as_ref()
            .or(ls.default_fallbacks.as_ref());
        self.fallback_chains(
            served,
            "fallbacks",
            rs.fallbacks.as_ref(),
            ls.fallbacks.as_ref(),
            default,
        )
    }

    /// `context_window_fallbacks` and `content_policy_fallbacks` per served group.
    fn error_fallbacks(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
    ) -> BTreeMap<String, ErrorFallbacks> {
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let context = self.fallback_chains(
            served,
            "context_window_fallbacks",
            rs.context_window_fallbacks.as_ref(),
            ls.context_window_fallbacks.as_ref(),
            None,
        );
        let rs = &self.config.router_settings;
        let ls = &self.config.litellm_settings;
        let policy = self.fallback_chains(
            served,
            "content_policy_fallbacks",
            rs.content_policy_fallbacks.as_ref(),
            ls.content_policy_fallbacks.as_ref(),
            None,
        );
        let mut out: BTreeMap<String, ErrorFallbacks> = BTreeMap::new();
        for (group, chain) in context.into_iter().filter(|(_, c)| !c.is_empty()) {
            out.entry(group).or_default().context_window = chain;
        }
        for (group, chain) in policy.into_iter().filter(|(_, c)| !c.is_empty()) {
            out.entry(group).or_default().content_policy = chain;
        }
        out
    }

    /// One kind of fallback chain: `key` from router_settings, else litellm_settings,
    /// and `default` for groups without their own. Unserved targets are dropped with
    /// a warning.
    fn fallback_chains(
        &mut self,
        served: &IndexMap<String, Vec<(usize, u32)>>,
        key: &str,
        from_router: Option<&FallbackList>,
        from_litellm: Option<&FallbackList>,
        default: Option<&Vec<String>>,
    ) -> BTreeMap<String, Vec<String>> {
        let (list, list_path) = match (from_router, from_litellm) {
            (Some(l), _) => (Some(l), format!("router_settings.{key}")),
            (None, Some(l)) => (Some(l), format!("litellm_settings.{key}")),
            (None, None) => (None, String::new()),
        };
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut warnings = Vec::new();
        type Warnings = Vec<(String, String)>;
        fn keep(
            served: &IndexMap<String, Vec<(usize, u32)>>,
            group: &str,
            targets: &[String],
            path: &str,
            out: &mut BTreeMap<String, Vec<String>>,
            warnings: &mut Warnings,
        ) {
            let chain = out.entry(group.to_string()).or_default();
            for t in targets {
                if t == group || chain.contains(t) {
                    continue;
                }
                if served.contains_key(t) {
                    chain.push(t.clone());
                } else {
                    warnings.push((
                        path.to_string(),
                        format!("fallback {t:?} is not a model group with real deployments (mock or unknown); skipped"),
                    ));
                }
            }
        }
        for (i, entry) in list.into_iter().flatten().enumerate() {
            for (group, targets) in entry {
                let path = format!("{list_path}[{i}].{group}");
                if served.contains_key(group) {
                    keep(served, group, targets, &path, &mut out, &mut warnings);
                } else {
                    warnings.push((path, format!("{group:?} is not a model group with real deployments; its fallbacks are ignored")));
                }
            }
        }
        if let Some(default) = default {
            for group in served.keys() {
                if !out.contains_key(group) {
                    keep(
                        served,
                        group,
                        default,
                        "default_fallbacks",
                        &mut out,
                        &mut warnings,
                    );
                }
            }
        }
        for (path, message) in warnings {
            self.warn(path, message);
        }
        out
    }

    fn group_weights(&mut self, group: &str, reals: &[&Real]) -> Result<Vec<u32>, ConfigError> {
        let (field, raw): (&str, Vec<Option<f64>>) = if reals.iter().any(|r| r.weight.is_some()) {
            ("weight", reals.iter().map(|r| r.weight).collect())
        } else if reals.iter().any(|r| r.rpm.is_some()) {
            (
                "rpm",
                reals.iter().map(|r| r.rpm.map(|v| v as f64)).collect(),
            )
        } else if reals.iter().any(|r| r.tpm.is_some()) {
            (
                "tpm",
                reals.iter().map(|r| r.tpm.map(|v| v as f64)).collect(),
            )
        } else {
            return Ok(vec![1; reals.len()]);
        };
        for (real, value) in reals.iter().zip(&raw) {
            if value.is_none() {
                self.warn(
                    format!("model_list[{}].litellm_params", real.index),
                    format!("other deployments of model group {group:?} set {field} and this one does not; it gets weight 0 (no traffic), as in LiteLLM"),
                );
            }
        }
        let raw: Vec<f64> = raw.into_iter().map(|v| v.unwrap_or(0.0)).collect();
        if raw.iter().sum::<f64>() <= 0.0 {
            return Err(ConfigError::at(
                self.file,
                format!("model_list[{}].litellm_params.{field}", reals[0].index),
                format!("every deployment of model group {group:?} has {field} 0; no deployment would get traffic"),
            ));
        }
        Ok(normalize_weights(&raw))
    }
}

/// Turns non-negative weights into Envoy's integer weights, keeping their ratios:
/// whole numbers whose sum fits are kept as they are; otherwise they are scaled to sum
/// to about a million, and a non-zero weight never rounds down to 0.
fn normalize_weights(raw: &[f64]) -> Vec<u32> {
    let total: f64 = raw.iter().sum();
    let whole = raw.iter().all(|w| w.fract() == 0.0);
    if whole && total <= 1_000_000_000.0 {
        return raw.iter().map(|w| *w as u32).collect();
    }
    raw.iter()
        .map(|w| {
            if *w <= 0.0 {
                0
            } else {
                ((w / total * 1_000_000.0).round() as u32).max(1)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::parse_str;

    fn env_with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn compile_text(text: &str) -> Result<Plan, ConfigError> {
        compile_env(text, &[])
    }

    fn compile_env(
        text: &str,
        vars: &'static [(&'static str, &'static str)],
    ) -> Result<Plan, ConfigError> {
        let env = env_with(vars);
        let (config, _) = parse_str(text, "config.yaml", &env)?;
        compile(&config, &env)
    }

    fn one(model_line: &str) -> String {
        format!("model_list:\n  - model_name: g\n    litellm_params:\n{model_line}")
    }

    fn has_warning(plan: &Plan, needle: &str) -> bool {
        plan.warnings.iter().any(|w| w.contains(needle))
    }

    #[test]
    fn billing_headers_a_deployment_lets_through() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {forward_client_headers: [OpenAI-Project]}\n  - model_name: b\n    litellm_params: {model: openai/y}\ngeneral_settings:\n  forward_openai_org_id: true\n";
        let plan = compile_text(text).unwrap();
        let allowed: Vec<&Vec<String>> = plan
            .deployments
            .iter()
            .map(|d| &d.upstream.forward_client_headers)
            .collect();
        assert_eq!(
            allowed,
            [
                &vec![
                    "openai-organization".to_string(),
                    "openai-project".to_string()
                ],
                &vec!["openai-organization".to_string()],
            ]
        );
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\ngeneral_settings:\n  forward_client_headers_to_llm_api: true\n").unwrap();
        let allowed = &plan.deployments[0].upstream.forward_client_headers;
        assert!(
            allowed.contains(&"x-goog-user-project".to_string()),
            "{allowed:?}"
        );
        assert!(
            !allowed.contains(&"openai-organization".to_string()),
            "LiteLLM forwards x-* only"
        );
        let plan =
            compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n")
                .unwrap();
        assert!(plan.deployments[0]
            .upstream
            .forward_client_headers
            .is_empty());
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/y}\nlitellm_settings:\n  model_group_settings: {forward_client_headers_to_llm_api: [b]}\n").unwrap();
        assert!(plan.deployments[0]
            .upstream
            .forward_client_headers
            .is_empty());
        assert!(plan.deployments[1]
            .upstream
            .forward_client_headers
            .contains(&"x-goog-user-project".to_string()));
        let plan = compile_text("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {forward_client_headers: [anthropic-beta]}\n").unwrap();
        assert!(
            plan.warnings.iter().any(|w| w.starts_with(
                "model_list[0].model_info.forward_client_headers: \"anthropic-beta\" is not a header the gateway removes"
            )),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn provider_prefix_and_model_id() {
        let plan = compile_text(&one("      model: openai/nvidia/llama-3.2-nv-embedqa-1b-v2\n      api_key: os.environ/NV_KEY\n      api_base: https://integrate.api.nvidia.com/v1/\n")).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::Openai);
        assert_eq!(up.model, "nvidia/llama-3.2-nv-embedqa-1b-v2");
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "NV_KEY".into()
            })
        );
        assert_eq!(
            up.api_base,
            Setting::Literal("https://integrate.api.nvidia.com/v1".into())
        );
        assert_eq!(
            plan.deployments[0].address,
            UpstreamAddress {
                tls: true,
                host: "integrate.api.nvidia.com".into(),
                port: 443,
                path_prefix: "/v1".into()
            }
        );
        assert!(plan.host_env_keys.contains("NV_KEY"));
    }

    #[test]
    fn openai_and_anthropic_with_an_api_base_read_their_variable_when_set() {
        // LiteLLM sends OPENAI_API_KEY / ANTHROPIC_API_KEY whatever the api_base.
        for (model, var) in [
            ("openai/x", "OPENAI_API_KEY"),
            ("anthropic/claude-x", "ANTHROPIC_API_KEY"),
        ] {
            let text = one(&format!(
                "      model: {model}\n      api_base: http://127.0.0.1:9/v1\n"
            ));
            let plan = compile_env(&text, &[]).unwrap();
            assert_eq!(plan.deployments[0].upstream.api_key, None, "{model}");
            let vars: &'static [(&'static str, &'static str)] = if var == "OPENAI_API_KEY" {
                &[("OPENAI_API_KEY", "sk-o")]
            } else {
                &[("ANTHROPIC_API_KEY", "sk-a")]
            };
            let plan = compile_env(&text, vars).unwrap();
            assert_eq!(
                plan.deployments[0].upstream.api_key,
                Some(Setting::Env { env: var.into() }),
                "{model}"
            );
            assert!(plan.host_env_keys.contains(var));
        }
    }

    #[test]
    fn bare_names_are_inferred_with_default_bases_and_keys() {
        let plan = compile_text(&one("      model: gpt-4o\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Openai);
        assert_eq!(d.upstream.model, "gpt-4o");
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal(OPENAI_API_BASE.into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "OPENAI_API_KEY".into()
            })
        );
        assert_eq!(
            (
                d.address.host.as_str(),
                d.address.port,
                d.address.path_prefix.as_str()
            ),
            ("api.openai.com", 443, "/v1")
        );

        let plan =
            compile_text(&one("      model: anthropic/claude-3-5-sonnet-20240620\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Anthropic);
        assert_eq!(d.upstream.model, "claude-3-5-sonnet-20240620");
        assert_eq!(d.address.host, "api.anthropic.com");
        assert_eq!(d.address.path_prefix, "");
        assert_eq!(
            plan.host_env_keys.iter().collect::<Vec<_>>(),
            ["ANTHROPIC_API_KEY"]
        );
    }

    #[test]
    fn huggingface_picks_the_messages_api_or_text_generation() {
        // The router: a key is needed; LiteLLM's provider segment becomes `:provider`.
        let plan = compile_env(
            &one("      model: huggingface/together/meta-llama/Llama-3.3-70B-Instruct\n"),
            &[("HF_TOKEN", "hf_x")],
        )
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(d.provider, ProviderKind::Huggingface);
        assert_eq!(d.model, "meta-llama/Llama-3.3-70B-Instruct:together");
        assert_eq!(d.api_base, Setting::Literal(HUGGINGFACE_ROUTER.into()));
        assert_eq!(
            d.api_key,
            Some(Setting::Env {
                env: "HF_TOKEN".into()
            })
        );
        let err = compile_text(&one(
            "      model: huggingface/meta-llama/Llama-3.1-8B-Instruct\n",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.api_key"),
            "{err}"
        );
        // A TGI endpoint: no key needed, the model as written.
        let plan = compile_text(&one(
            "      model: huggingface/tgi\n      api_base: http://tgi:8080\n",
        ))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(
            (d.provider, d.model.as_str(), d.api_key.clone()),
            (ProviderKind::Huggingface, "tgi", None)
        );
        assert!(d.prompt_template.is_none());

        // Text generation: by task prefix, or by prompt template.
        let plan = compile_text(&one(
            "      model: huggingface/text-generation-inference/bigcode/starcoder\n      api_base: http://tgi:8080\n",
        ))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(
            (d.provider, d.model.as_str()),
            (ProviderKind::HuggingfaceGenerate, "bigcode/starcoder")
        );
        assert!(has_warning(&plan, "default_pt"));
        let plan = compile_text(&one(concat!(
            "      model: huggingface/mistralai/Mistral-7B-v0.1\n",
            "      api_base: http://tgi:8080\n",
            "      initial_prompt_value: \"<start>\"\n",
            "      roles: {user: {pre_message: \"[INST] \", post_message: \" [/INST]\"}, assistant: {post_message: \"\"}}\n",
            "      final_prompt_value: \"\\n\"\n",
            "      bos_token: \"<s>\"\n",
            "      eos_token: \"</s>\"\n",
        )))
        .unwrap();
        let d = &plan.deployments[0].upstream;
        assert_eq!(d.provider, ProviderKind::HuggingfaceGenerate);
        let t = d.prompt_template.as_ref().unwrap();
        assert_eq!(
            (
                t.initial_prompt_value.as_str(),
                t.final_prompt_value.as_str(),
                t.bos_token.as_str(),
                t.eos_token.as_str()
            ),
            ("<start>", "\n", "<s>", "</s>")
        );
        assert_eq!(t.roles["user"].pre_message, "[INST] ");
        assert_eq!(t.roles["user"].post_message, " [/INST]");
        assert!(!has_warning(&plan, "roles"), "{:?}", plan.warnings);

        for (line, field) in [
            (
                "      roles: {user: {pre: x}}\n",
                "roles.user.pre: unknown key",
            ),
            (
                "      roles: {user: {pre_message: [1]}}\n",
                "roles.user.pre_message",
            ),
            ("      roles: [user]\n", "litellm_params.roles"),
        ] {
            let text = one(&format!(
                "      model: huggingface/m\n      api_base: http://tgi:8080\n{line}"
            ));
            let err = compile_text(&text).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = compile_env(
            &one("      model: huggingface/text-generation-inference/m\n"),
            &[("HF_TOKEN", "hf_x")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
        let err = compile_text(&one(
            "      model: huggingface/conversational/m\n      api_base: http://x\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("conversational"), "{err}");
        // Other providers ignore templates, with a warning.
        let plan = compile_env(
            &one("      model: cohere/command-r\n      bos_token: \"<s>\"\n"),
            &[("COHERE_API_KEY", "k")],
        )
        .unwrap();
        assert!(has_warning(&plan, "bos_token"));
        assert!(plan.deployments[0].upstream.prompt_template.is_none());
    }

    #[test]
    fn cohere_gets_litellms_base_and_keys() {
        let plan = compile_env(
            &one("      model: cohere_chat/v2/command-a-03-2025\n"),
            &[("CO_API_KEY", "k")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Cohere);
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://api.cohere.com".into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "CO_API_KEY".into()
            })
        );
        assert_eq!(d.address.host, "api.cohere.com");
        let plan = compile_env(
            &one("      model: cohere/embed-v4.0\n"),
            &[
                ("COHERE_API_KEY", "k"),
                ("CO_API_KEY", "k2"),
                ("COHERE_API_BASE", "https://proxy.example/v2/chat"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            (d.upstream.api_key.clone(), d.upstream.api_base.clone()),
            (
                Some(Setting::Env {
                    env: "COHERE_API_KEY".into()
                }),
                Setting::Env {
                    env: "COHERE_API_BASE".into()
                }
            )
        );
        assert_eq!(d.address.host, "proxy.example");
        let err = compile_text(&one("      model: cohere/command-r\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.api_key")
                && err.to_string().contains("COHERE_API_KEY or CO_API_KEY"),
            "{err}"
        );
        let err = compile_env(
            &one("      model: cohere_chat/v1/command-r\n"),
            &[("COHERE_API_KEY", "k")],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("model_list[0].litellm_params.model")
                && err.to_string().contains("cohere_chat/command-r"),
            "{err}"
        );
    }

    #[test]
    fn clouds_get_litellm_default_bases_and_key_variables() {
        let cases: &[(&str, ProviderKind, &str, &str, &str)] = &[
            (
                "mistral/mistral-small-latest",
                ProviderKind::Mistral,
                "https://api.mistral.ai/v1",
                "MISTRAL_API_KEY",
                "api.mistral.ai",
            ),
            (
                "groq/llama-3.1-8b-instant",
                ProviderKind::Groq,
                "https://api.groq.com/openai/v1",
                "GROQ_API_KEY",
                "api.groq.com",
            ),
            (
                "deepseek/deepseek-chat",
                ProviderKind::Deepseek,
                "https://api.deepseek.com/beta",
                "DEEPSEEK_API_KEY",
                "api.deepseek.com",
            ),
            (
                "together_ai/meta-llama/Llama-3-8b",
                ProviderKind::TogetherAi,
                "https://api.together.xyz/v1",
                "TOGETHERAI_API_KEY",
                "api.together.xyz",
            ),
            (
                "openrouter/anthropic/claude-3.5-sonnet",
                ProviderKind::Openrouter,
                "https://openrouter.ai/api/v1",
                "OPENROUTER_API_KEY",
                "openrouter.ai",
            ),
            (
                "xai/grok-2",
                ProviderKind::Xai,
                "https://api.x.ai/v1",
                "XAI_API_KEY",
                "api.x.ai",
            ),
            (
                "fireworks_ai/llama-v3-8b",
                ProviderKind::FireworksAi,
                "https://api.fireworks.ai/inference/v1",
                "FIREWORKS_AI_API_KEY",
                "api.fireworks.ai",
            ),
            (
                "perplexity/sonar",
                ProviderKind::Perplexity,
                "https://api.perplexity.ai",
                "PERPLEXITYAI_API_KEY",
                "api.perplexity.ai",
            ),
            (
                "cerebras/llama3.1-8b",
                ProviderKind::Cerebras,
                "https://api.cerebras.ai/v1",
                "CEREBRAS_API_KEY",
                "api.cerebras.ai",
            ),
            (
                "deepinfra/meta-llama/Llama-3-8b",
                ProviderKind::Deepinfra,
                "https://api.deepinfra.com/v1/openai",
                "DEEPINFRA_API_KEY",
                "api.deepinfra.com",
            ),
        ];
        const VARS: &[(&str, &str)] = &[
            ("MISTRAL_API_KEY", "k"),
            ("GROQ_API_KEY", "k"),
            ("DEEPSEEK_API_KEY", "k"),
            ("TOGETHERAI_API_KEY", "k"),
            ("OPENROUTER_API_KEY", "k"),
            ("XAI_API_KEY", "k"),
            ("FIREWORKS_AI_API_KEY", "k"),
            ("PERPLEXITYAI_API_KEY", "k"),
            ("CEREBRAS_API_KEY", "k"),
            ("DEEPINFRA_API_KEY", "k"),
        ];
        for (model, kind, base, key, host) in cases {
            let plan = compile_env(&one(&format!("      model: {model}\n")), VARS).unwrap();
            let d = &plan.deployments[0];
            assert_eq!(d.upstream.provider, *kind, "{model}");
            assert_eq!(d.upstream.model, model.split_once('/').unwrap().1);
            assert_eq!(
                d.upstream.api_base,
                Setting::Literal(base.to_string()),
                "{model}"
            );
            assert_eq!(
                d.upstream.api_key,
                Some(Setting::Env {
                    env: key.to_string()
                }),
                "{model}"
            );
            assert_eq!(
                (d.address.host.as_str(), d.address.tls, d.address.port),
                (*host, true, 443)
            );
            assert_eq!(plan.host_env_keys.iter().collect::<Vec<_>>(), [key]);
        }
    }

    #[test]
    fn gemini_gets_litellms_base_and_key_variables() {
        let plan = compile_env(
            &one("      model: gemini/gemini-2.5-flash\n"),
            &[("GEMINI_API_KEY", "g"), ("PALM_API_KEY", "p")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Gemini);
        assert_eq!(d.upstream.model, "gemini-2.5-flash");
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://generativelanguage.googleapis.com".into())
        );
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "GEMINI_API_KEY".into()
            }),
            "GEMINI_API_KEY before PALM_API_KEY"
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.tls, d.address.port),
            ("generativelanguage.googleapis.com", true, 443)
        );
        // GOOGLE_API_KEY comes first (LiteLLM's get_api_key_from_env), and
        // GEMINI_API_BASE moves the deployment.
        let plan = compile_env(
            &one("      model: gemini/gemini-2.5-flash\n"),
            &[
                ("GEMINI_API_KEY", "g"),
                ("GOOGLE_API_KEY", "k"),
                ("GEMINI_API_BASE", "http://127.0.0.1:9999"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_key,
            Some(Setting::Env {
                env: "GOOGLE_API_KEY".into()
            })
        );
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "GEMINI_API_BASE".into()
            }
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port),
            ("127.0.0.1", 9999)
        );
        let e = compile_text(&one("      model: gemini/gemini-2.5-flash\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model_list[0].litellm_params.api_key: gemini deployments need an API key")
                && e.contains("GOOGLE_API_KEY or GEMINI_API_KEY or PALM_API_KEY"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_cloud_key_is_an_error_naming_the_entry_and_variables() {
        let e = compile_text(&one("      model: groq/llama-3.1-8b-instant\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_key: groq deployments need an API key")
                && e.contains("GROQ_API_KEY"),
            "{e}"
        );
        // The first variable that is set wins, in LiteLLM's order.
        let plan = compile_env(
            &one("      model: fireworks_ai/llama-v3-8b\n"),
            &[("FIREWORKS_AI_TOKEN", "t"), ("FIREWORKSAI_API_KEY", "k")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "FIREWORKSAI_API_KEY".into()
            })
        );
        // An api_key in the entry needs no variable; environment_variables count too.
        let plan = compile_text(&one(
            "      model: xai/grok-2\n      api_key: os.environ/MY_XAI\n",
        ))
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.api_key,
            Some(Setting::Env {
                env: "MY_XAI".into()
            })
        );
        let text = format!(
            "{}environment_variables:\n  CEREBRAS_API_KEY: csk\n",
            one("      model: cerebras/llama3.1-8b\n")
        );
        assert!(compile_text(&text).is_ok());
    }

    #[test]
    fn base_variables_and_local_servers() {
        // X_API_BASE moves a cloud (kept deferred: the filter reads it again).
        let plan = compile_env(
            &one("      model: groq/llama\n"),
            &[
                ("GROQ_API_KEY", "k"),
                ("GROQ_API_BASE", "http://127.0.0.1:9999/openai/v1"),
            ],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "GROQ_API_BASE".into()
            }
        );
        assert_eq!(
            (
                d.address.host.as_str(),
                d.address.port,
                d.address.path_prefix.as_str()
            ),
            ("127.0.0.1", 9999, "/openai/v1")
        );
        assert!(plan.host_env_keys.contains("GROQ_API_BASE"));

        // hosted_vllm and lm_studio have no default address; keys are optional and
        // LiteLLM's placeholder is sent without one.
        for prefix in ["hosted_vllm", "lm_studio"] {
            let e = compile_text(&one(&format!("      model: {prefix}/m\n")))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("config.yaml: model_list[0].litellm_params.api_base:")
                    && e.contains("need an api_base"),
                "{e}"
            );
            let plan = compile_text(&one(&format!(
                "      model: {prefix}/m\n      api_base: http://h:8000/v1\n"
            )))
            .unwrap();
            assert_eq!(
                plan.deployments[0].upstream.api_key,
                Some(Setting::Literal("fake-api-key".into()))
            );
        }
        let plan = compile_env(
            &one("      model: hosted_vllm/m\n"),
            &[
                ("HOSTED_VLLM_API_BASE", "http://vllm:8000/v1"),
                ("HOSTED_VLLM_API_KEY", "v"),
            ],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::HostedVllm);
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "HOSTED_VLLM_API_KEY".into()
            })
        );
        let plan = compile_text(&one("      model: llamafile/m\n")).unwrap();
        assert_eq!(plan.deployments[0].address.port, 8080);

        // Ollama: localhost:11434 by default, no key.
        for (prefix, kind) in [
            ("ollama", ProviderKind::Ollama),
            ("ollama_chat", ProviderKind::OllamaChat),
        ] {
            let plan = compile_text(&one(&format!("      model: {prefix}/llama3.1\n"))).unwrap();
            let d = &plan.deployments[0];
            assert_eq!(d.upstream.provider, kind);
            assert_eq!(
                d.upstream.api_base,
                Setting::Literal("http://localhost:11434".into())
            );
            assert_eq!(d.upstream.api_key, None);
            assert!(plan.host_env_keys.is_empty());
        }
    }

    #[test]
    fn mistral_bases_get_v1_and_openrouter_gets_its_optional_headers() {
        let plan = compile_env(
            &one("      model: mistral/m\n      api_base: https://eu.mistral.example/\n"),
            &[("MISTRAL_API_KEY", "k")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://eu.mistral.example/v1".into())
        );
        assert_eq!(d.address.path_prefix, "/v1");

        let plan = compile_env(
            &one("      model: openrouter/m\n"),
            &[
                ("OPENROUTER_API_KEY", "k"),
                ("OR_SITE_URL", "https://me.example"),
                ("OR_APP_NAME", "my app"),
            ],
        )
        .unwrap();
        let headers = &plan.deployments[0].upstream.headers;
        assert_eq!(
            headers.get("HTTP-Referer").map(String::as_str),
            Some("https://me.example")
        );
        assert_eq!(headers.get("X-Title").map(String::as_str), Some("my app"));
        let plan = compile_env(
            &one("      model: openrouter/m\n"),
            &[("OPENROUTER_API_KEY", "k")],
        )
        .unwrap();
        assert!(plan.deployments[0].upstream.headers.is_empty(), "optional");
    }

    #[test]
    fn unknown_prefix_with_api_base_is_openai_compatible() {
        let plan = compile_text(&one(
            "      model: meta-llama/Llama-3-8B\n      api_base: http://vllm:8000/v1\n",
        ))
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Openai);
        assert_eq!(d.upstream.model, "meta-llama/Llama-3-8B");
        assert_eq!(
            d.upstream.api_key, None,
            "no OPENAI_API_KEY default for a custom server"
        );
        assert_eq!((d.address.tls, d.address.port), (false, 8000));
    }

    #[test]
    fn unknown_provider_without_api_base_is_an_error() {
        let e = compile_text(&one("      model: llama3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config.yaml: model_list[0].litellm_params.model: cannot tell which provider serves \"llama3\""), "{e}");
        let e = compile_text(&one("      model: nvidia/llama-3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nvidia\" is not a LiteLLM provider"), "{e}");
    }

    #[test]
    fn azure_needs_api_base() {
        let e = compile_text(&one(
            "      model: azure/my-deployment\n      api_key: os.environ/AZURE_KEY\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("config.yaml: model_list[0].litellm_params.api_base: azure deployments need an api_base"), "{e}");
        let plan = compile_text(&one("      model: azure/my-deployment\n      api_base: https://x.openai.azure.com/\n      api_version: \"2024-06-01\"\n")).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(up.provider, ProviderKind::Azure);
        assert_eq!(up.model, "my-deployment");
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AZURE_API_KEY".into()
            }),
            "LiteLLM's default"
        );
        assert_eq!(up.api_version, Some(Setting::Literal("2024-06-01".into())));
        assert_eq!(plan.deployments[0].address.path_prefix, "");
    }

    #[test]
    fn azure_api_base_from_the_environment() {
        // quick_start.md: `export AZURE_API_BASE=…` and no api_base in the config.
        let text = one("      model: azure/my-deployment\n      api_key: k\n");
        let plan =
            compile_env(&text, &[("AZURE_API_BASE", "https://eu.openai.azure.com/")]).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "AZURE_API_BASE".into()
            },
            "kept deferred for the filter, like an os.environ/ api_base"
        );
        assert_eq!(d.address.host, "eu.openai.azure.com");
        assert!(plan.host_env_keys.contains("AZURE_API_BASE"));
        let e = compile_env(&text, &[("AZURE_API_BASE", "eu.openai.azure.com")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_base:")
                && e.contains("(from AZURE_API_BASE)"),
            "{e}"
        );
    }

    #[test]
    fn a_list_of_organizations_is_one_deployment_each() {
        // configs.md "Multiple OpenAI Organizations".
        let text = "model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: openai/*\n      api_key: os.environ/OPENAI_API_KEY\n      organization:\n       - org-1\n       - org-2\n       - org-3\n";
        let plan = compile_env(text, &[("OPENAI_API_KEY", "sk")]).unwrap();
        assert_eq!(plan.deployments.len(), 3);
        let (config, _) = parse_str(text, "config.yaml", &env_with(&[])).unwrap();
        let entry_id = litellm_deployment_id("*", &config.model_list[0].litellm_params);
        for (k, d) in plan.deployments.iter().enumerate() {
            let org = format!("org-{}", k + 1);
            assert_eq!(
                d.upstream.headers.get("OpenAI-Organization"),
                Some(&org),
                "{d:?}"
            );
            assert_eq!(d.upstream.deployment_id, format!("{entry_id}-{org}"));
            assert_eq!(d.entry_index, 0);
        }
        let names: BTreeSet<&str> = plan.deployments.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 3, "distinct cluster localities: {names:?}");
        assert_eq!(plan.routes.len(), 1, "one group");
    }

    #[test]
    fn an_invalid_header_name_is_left_out_with_a_warning() {
        // configs.md "Model-specific params": `extra_headers: {"AI-Resource Group": …}`.
        let plan = compile_text(&one("      model: openai/gpt-4o\n      api_key: sk-123\n      extra_headers: {\"AI-Resource Group\": \"ishaan-resource\", X-Team: ml}\n")).unwrap();
        let headers = &plan.deployments[0].upstream.headers;
        assert!(!headers.contains_key("AI-Resource Group"), "{headers:?}");
        assert_eq!(headers.get("X-Team").map(String::as_str), Some("ml"));
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.extra_headers.AI-Resource Group: \"AI-Resource Group\" is not a valid HTTP header name; it is not sent"
        ));
    }

    #[test]
    fn env_api_base_is_deferred_but_resolved_for_the_address() {
        let text = one("      model: azure/d\n      api_base: os.environ/AZURE_API_BASE\n      api_key: os.environ/AZURE_API_KEY\n");
        let plan = compile_env(
            &text,
            &[("AZURE_API_BASE", "https://eu.openai.azure.com:8443/")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Env {
                env: "AZURE_API_BASE".into()
            }
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port),
            ("eu.openai.azure.com", 8443)
        );
        assert_eq!(
            plan.host_env_keys.iter().collect::<Vec<_>>(),
            ["AZURE_API_BASE", "AZURE_API_KEY"]
        );

        let e = compile_text(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("config.yaml: model_list[0].litellm_params.api_base: environment variable AZURE_API_BASE is not set"),
            "{e}"
        );
    }

    #[test]
    fn environment_variables_supply_an_unset_api_base() {
        let text = format!(
            "{}environment_variables:\n  VLLM_BASE: http://10.1.2.3:8000/v1\n",
            one("      model: hosted_vllm/m\n      api_base: os.environ/VLLM_BASE\n")
        );
        let plan = compile_text(&text).unwrap();
        assert_eq!(plan.deployments[0].address.host, "10.1.2.3");
        assert_eq!(
            plan.env_defaults.get("VLLM_BASE").map(String::as_str),
            Some("http://10.1.2.3:8000/v1")
        );
    }

    #[test]
    fn unsupported_providers_are_skipped_with_a_warning() {
        let text = "model_list:\n  - model_name: local\n    litellm_params:\n      model: palm/chat-bison\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.deployments.len(), 1);
        assert_eq!(plan.router.groups.len(), 1);
        assert!(
            has_warning(
                &plan,
                "model_list[0].litellm_params.model: provider \"palm\""
            ),
            "{:?}",
            plan.warnings
        );
        assert!(has_warning(
            &plan,
            "model group \"local\" has no deployment Switchyard can serve"
        ));
    }

    #[test]
    fn bedrock_signs_with_aws_credentials() {
        let plan = compile_env(
            &one("      model: bedrock/converse/us.anthropic.claude-3-5-haiku-20241022-v1:0\n      aws_access_key_id: os.environ/MY_AKID\n      aws_secret_access_key: os.environ/MY_SECRET\n      aws_session_token: os.environ/MY_TOKEN\n      aws_region_name: eu-west-1\n"),
            &[("MY_AKID", "AKID"), ("MY_SECRET", "s"), ("MY_TOKEN", "t")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Bedrock);
        assert_eq!(
            d.upstream.model,
            "us.anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        assert_eq!(d.upstream.api_key, None);
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://bedrock-runtime.eu-west-1.amazonaws.com".into())
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port, d.address.tls),
            ("bedrock-runtime.eu-west-1.amazonaws.com", 443, true)
        );
        let env = |n: &str| Setting::Env { env: n.into() };
        assert_eq!(
            d.upstream.aws,
            Some(AwsSigning {
                region: "eu-west-1".into(),
                access_key_id: env("MY_AKID"),
                secret_access_key: env("MY_SECRET"),
                session_token: Some(env("MY_TOKEN")),
            })
        );
        for var in ["MY_AKID", "MY_SECRET", "MY_TOKEN"] {
            assert!(plan.host_env_keys.contains(var), "{var}");
        }
        assert!(
            !plan.warnings.iter().any(|w| w.contains("aws_")),
            "{:?}",
            plan.warnings
        );

        // Standard variables; region from AWS_REGION; endpoint override.
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_access_key_id: os.environ/MY_AKID\n      aws_secret_access_key: os.environ/MY_SECRET\n"),
            &[("MY_AKID", "AKID"), ("MY_SECRET", "s"), ("AWS_SESSION_TOKEN", "not-mine")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0]
                .upstream
                .aws
                .as_ref()
                .unwrap()
                .session_token,
            None,
            "the environment's session token goes with the environment's key only"
        );
        let plan = compile_env(
            &one("      model: bedrock/amazon.titan-embed-text-v2:0\n      aws_bedrock_runtime_endpoint: http://127.0.0.1:9999\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S"), ("AWS_REGION", "ap-south-1")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_base,
            Setting::Literal("http://127.0.0.1:9999".into())
        );
        let aws = up.aws.as_ref().unwrap();
        assert_eq!(aws.region, "ap-south-1");
        assert_eq!(aws.access_key_id, env("AWS_ACCESS_KEY_ID"));
        assert_eq!(aws.session_token, None);

        // An ARN's region wins over the environment's; LiteLLM's default else.
        let plan = compile_env(
            &one("      model: bedrock/arn:aws:bedrock:ca-central-1:123456789012:inference-profile/ca.anthropic.claude-x\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S"), ("AWS_REGION", "ap-south-1")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.aws.as_ref().unwrap().region,
            "ca-central-1"
        );
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.aws.as_ref().unwrap().region,
            "us-west-2"
        );
    }

    #[test]
    fn bedrock_api_keys_are_bearer_tokens() {
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_region_name: us-east-1\n"),
            &[("AWS_BEARER_TOKEN_BEDROCK", "ABSK"), ("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AWS_BEARER_TOKEN_BEDROCK".into()
            })
        );
        assert_eq!(
            up.aws, None,
            "a Bedrock API key wins over SigV4, as in LiteLLM"
        );
        let plan = compile_text(&one(
            "      model: bedrock/anthropic.claude-instant-v1\n      api_key: os.environ/BR_KEY\n",
        ))
        .unwrap();
        assert_eq!(plan.deployments[0].upstream.aws, None);
    }

    #[test]
    fn bedrock_without_credentials_is_refused() {
        let err = compile_text(&one("      model: bedrock/anthropic.claude-instant-v1\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config.yaml: model_list[0].litellm_params.aws_access_key_id: bedrock deployments need AWS credentials"), "{err}");
        assert!(
            err.contains("AWS_BEARER_TOKEN_BEDROCK") && err.contains("model_name \"g\""),
            "{err}"
        );
        let err = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_region_name: Not A Region\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("litellm_params.aws_region_name"), "{err}");
    }

    #[test]
    fn everything_skipped_is_still_only_warnings() {
        let text = "model_list:\n  - model_name: b\n    litellm_params:\n      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b\n      aws_region_name: us-east-1\n";
        let plan = compile_text(text).unwrap();
        assert!(plan.router.groups.is_empty());
        assert!(has_warning(&plan, "no model group can be served"));
    }

    #[test]
    fn mock_groups_answer_locally() {
        let text = "model_list:\n  - model_name: demo\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: hello\n    model_info:\n      mode: chat\n";
        let plan = compile_text(text).unwrap();
        assert!(plan.deployments.is_empty() && plan.routes.is_empty());
        assert_eq!(
            plan.router.groups,
            vec![GroupConfig {
                name: "demo".into(),
                route_key: "demo".into(),
                mock_response: Some("hello".into()),
                endpoints: vec!["chat_completions".into(), "completions".into()],
            }]
        );
        assert!(plan.host_env_keys.is_empty(), "a mock needs no key");
    }

    #[test]
    fn mixed_mock_and_real_is_an_error() {
        let text = "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: hi\n";
        let e = compile_text(text).unwrap_err().to_string();
        assert!(
            e.starts_with("config.yaml: model_list[1]: model group \"g\" mixes mock deployments"),
            "{e}"
        );
    }

    #[test]
    fn endpoints_follow_mode() {
        let text = "model_list:\n  - model_name: e\n    litellm_params: {model: openai/text-embedding-3-small}\n    model_info: {mode: embedding}\n  - model_name: c\n    litellm_params: {model: openai/gpt-3.5-turbo-instruct}\n    model_info: {mode: completion}\n  - model_name: any\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: img\n    litellm_params: {model: openai/dall-e-3}\n    model_info: {mode: image_generation}\n";
        let plan = compile_text(text).unwrap();
        let endpoints: Vec<(&str, Vec<String>)> = plan
            .router
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.endpoints.clone()))
            .collect();
        assert_eq!(
            endpoints,
            vec![
                ("e", vec!["embeddings".to_string()]),
                ("c", vec!["completions".to_string()]),
                ("any", vec![])
            ]
        );
        assert!(has_warning(
            &plan,
            "model_list[3].model_info.mode: mode \"image_generation\""
        ));
    }

    #[test]
    fn litellm_settings_in_litellm_params_are_never_request_parameters() {
        // `num_retries: 3` on a deployment is common in LiteLLM configs; it must not
        // reach the provider as a default parameter.
        let text = one("      model: openai/x\n      num_retries: 3\n      caching: true\n      temperature: 0.5\n");
        let plan = compile_env(&text, &[("OPENAI_API_KEY", "sk-o")]).unwrap();
        let params = &plan.deployments[0].upstream.default_params;
        assert!(!params.contains_key("num_retries") && !params.contains_key("caching"));
        assert_eq!(params["temperature"], serde_json::json!(0.5));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.starts_with("model_list[0].litellm_params.num_retries: a LiteLLM setting")));
    }

    #[test]
    fn default_params_headers_and_drop_params() {
        let text = "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      temperature: 0.2\n      max_tokens: 512\n      stop: [\"\\n\\n\"]\n      region_name: eu\n      organization: org-1\n      extra_headers: {X-Team: ml}\n      headers: {X-Env: prod}\nlitellm_settings:\n  drop_params: true\n";
        let plan = compile_text(text).unwrap();
        let up = &plan.deployments[0].upstream;
        let keys: Vec<&String> = up.default_params.keys().collect();
        assert_eq!(
            keys,
            ["temperature", "max_tokens", "stop"],
            "YAML order, region_name left out"
        );
        assert_eq!(up.default_params["temperature"], serde_json::json!(0.2));
        assert_eq!(up.default_params["stop"], serde_json::json!(["\n\n"]));
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.region_name: not supported"
        ));
        assert!(up.drop_params, "from litellm_settings");
        assert_eq!(up.headers.get("X-Team").map(String::as_str), Some("ml"));
        assert_eq!(up.headers.get("X-Env").map(String::as_str), Some("prod"));
        assert_eq!(
            up.headers.get("OpenAI-Organization").map(String::as_str),
            Some("org-1")
        );

        let plan =
            compile_text(&text.replace("      temperature: 0.2\n", "      drop_params: false\n"))
                .unwrap();
        assert!(
            !plan.deployments[0].upstream.drop_params,
            "litellm_params wins"
        );
    }

    #[test]
    fn env_in_written_values_is_resolved_with_a_warning() {
        let text = one("      model: openai/gpt-4o\n      user: os.environ/DEFAULT_USER\n");
        let plan = compile_env(&text, &[("DEFAULT_USER", "svc")]).unwrap();
        assert_eq!(
            plan.deployments[0].upstream.default_params["user"],
            serde_json::json!("svc")
        );
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.user: os.environ/ is resolved"
        ));
        let e = compile_text(&text).unwrap_err().to_string();
        assert_eq!(e, "config.yaml: model_list[0].litellm_params.user: environment variable DEFAULT_USER is not set (os.environ/DEFAULT_USER)");
    }

    #[test]
    fn literal_api_key_is_warned() {
        let plan =
            compile_text(&one("      model: openai/gpt-4o\n      api_key: sk-abc\n")).unwrap();
        assert_eq!(
            plan.deployments[0].upstream.api_key,
            Some(Setting::Literal("sk-abc".into()))
        );
        assert!(has_warning(
            &plan,
            "model_list[0].litellm_params.api_key: the key is written in the config file"
        ));
    }

    #[test]
    fn credentials_fill_connection_settings() {
        let text = "credential_list:\n  - credential_name: az\n    credential_values:\n      api_key: os.environ/AZ_KEY\n      api_base: https://c.openai.azure.com\n      api_version: \"2024-10-21\"\nmodel_list:\n  - model_name: g\n    litellm_params:\n      model: azure/d\n      litellm_credential_name: az\n";
        let plan = compile_text(text).unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AZ_KEY".into()
            })
        );
        assert_eq!(
            up.api_base,
            Setting::Literal("https://c.openai.azure.com".into())
        );
        assert_eq!(up.api_version, Some(Setting::Literal("2024-10-21".into())));
        assert!(!plan.host_env_keys.contains("AZURE_API_KEY"));

        let e = compile_text(&text.replace("https://c.openai.azure.com", "os.environ/AZ_BASE"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.yaml: credential_list[0].credential_values.api_base: environment variable AZ_BASE is not set (os.environ/AZ_BASE) (used by model_list[0])"),
            "{e}"
        );
    }

    #[test]
    fn wildcards() {
        let text = "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n      model: \"openai/*\"\n  - model_name: \"*\"\n    litellm_params:\n      model: \"*\"\n  - model_name: \"claude-*\"\n    litellm_params:\n      model: \"anthropic/claude-*\"\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.deployments.len(), 2);
        assert_eq!(plan.deployments[0].upstream.model, "*");
        assert_eq!(plan.deployments[0].upstream.group, "openai/*");
        assert_eq!(plan.deployments[0].name, "dep_0_openai__");
        assert_eq!(plan.deployments[1].upstream.model, "claude-*");
        assert!(has_warning(&plan, "model_list[1].litellm_params.model: model: '*' (any provider) is not supported yet; use openai/* or anthropic/*"));

        let e = compile_text(&one("      model: openai/*\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has a wildcard but model_name \"g\" has none"),
            "{e}"
        );
    }

    #[test]
    fn fallback_chains_become_priorities() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n  - model_name: a\n    litellm_params: {model: openai/a2}\n  - model_name: b\n    litellm_params: {model: anthropic/b}\n  - model_name: c\n    litellm_params: {model: openai/c}\n  - model_name: m\n    litellm_params: {model: openai/m, mock_response: hi}\nrouter_settings:\n  fallbacks: [{a: [b, m, c, a]}]\n  default_fallbacks: [c]\n";
        let plan = compile_text(text).unwrap();
        let chains: Vec<(String, Vec<String>)> = plan
            .routes
            .iter()
            .map(|r| {
                (
                    r.group.clone(),
                    r.priorities.iter().map(|p| p.group.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            chains,
            vec![
                ("a".into(), vec!["a".into(), "b".into(), "c".into()]),
                ("b".into(), vec!["b".into(), "c".into()]),
                ("c".into(), vec!["c".into()]),
            ],
            "explicit chain (self and the mock dropped), default_fallbacks elsewhere"
        );
        assert_eq!(plan.routes[0].priorities[0].members.len(), 2);
        assert!(has_warning(&plan, "router_settings.fallbacks[0].a: fallback \"m\" is not a model group with real deployments"));

        // litellm_settings.fallbacks apply when router_settings has none.
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a}\n  - model_name: b\n    litellm_params: {model: openai/b}\nlitellm_settings:\n  fallbacks: [{a: [b]}]\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(plan.routes[0].priorities.len(), 2);
    }

    #[test]
    fn error_fallback_chains() {
        let text = "model_list:\n  - model_name: small\n    litellm_params: {model: openai/s}\n  - model_name: big\n    litellm_params: {model: anthropic/b}\n  - model_name: safe\n    litellm_params: {model: openai/x}\nlitellm_settings:\n  context_window_fallbacks: [{small: [big, nope]}]\nrouter_settings:\n  content_policy_fallbacks: [{small: [safe]}, {big: [safe]}]\n";
        let plan = compile_text(text).unwrap();
        let f = &plan.router.error_fallbacks;
        assert_eq!(f["small"].context_window, vec!["big".to_string()]);
        assert_eq!(f["small"].content_policy, vec!["safe".to_string()]);
        assert!(f["big"].context_window.is_empty());
        assert_eq!(f["big"].content_policy, vec!["safe".to_string()]);
        assert!(!f.contains_key("safe"));
        assert!(has_warning(
            &plan,
            "litellm_settings.context_window_fallbacks[0].small: fallback \"nope\""
        ));
        // They are not ordinary fallbacks: no priorities for them.
        assert_eq!(plan.routes[0].priorities.len(), 1);
    }

    #[test]
    fn prices_resolve_per_deployment() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o-mini}\n  - model_name: b\n    litellm_params: {model: azure/my-dep, api_base: https://r.openai.azure.com}\n    model_info: {base_model: azure/gpt-4o}\n  - model_name: c\n    litellm_params: {model: hosted_vllm/llama, api_base: http://h:1/v1, input_cost_per_token: 0.000001}\n    model_info: {output_cost_per_token: 0.000002}\n  - model_name: d\n    litellm_params: {model: hosted_vllm/unknown, api_base: http://h:1/v1}\n";
        let plan = compile_env(text, &[("AZURE_API_KEY", "k"), ("OPENAI_API_KEY", "k")]).unwrap();
        let price = |i: usize| plan.deployments[i].upstream.pricing;
        assert_eq!(
            price(0).unwrap().input_cost_per_token,
            1.5e-7,
            "shipped table"
        );
        assert_eq!(
            price(1).unwrap().output_cost_per_token,
            1e-5,
            "Azure priced by base_model"
        );
        let custom = price(2).unwrap();
        assert_eq!(
            (custom.input_cost_per_token, custom.output_cost_per_token),
            (1e-6, 2e-6)
        );
        assert_eq!(price(3), None, "unknown model: no price, no cost header");
        assert!(
            !plan.warnings.iter().any(|w| w.contains("cost_per_token")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn wildcards_fine_tunes_and_azure_are_priced_and_the_unpriced_named() {
        let text = "model_list:\n  - model_name: \"openai/*\"\n    litellm_params: {model: \"openai/*\"}\n  - model_name: ft\n    litellm_params: {model: \"openai/ft:gpt-4o-mini:acme::abc123\"}\n  - model_name: az\n    litellm_params: {model: azure/my-dep, api_base: https://r.openai.azure.com}\n  - model_name: az-based\n    litellm_params: {model: azure/my-dep2, api_base: https://r.openai.azure.com}\n    model_info: {base_model: azure/gpt-4o-mini}\n  - model_name: vllm\n    litellm_params: {model: hosted_vllm/mine, api_base: http://h:1/v1}\n  - model_name: \"claude-*\"\n    litellm_params: {model: \"anthropic/claude-*\"}\n";
        const ENV: &[(&str, &str)] = &[
            ("AZURE_API_KEY", "k"),
            ("OPENAI_API_KEY", "k"),
            ("ANTHROPIC_API_KEY", "k"),
        ];
        let plan = compile_env(text, ENV).unwrap();
        let dep = |g: &str| {
            plan.deployments
                .iter()
                .find(|d| d.upstream.group == g)
                .map(|d| d.upstream.clone())
                .unwrap()
        };
        let wild = dep("openai/*");
        assert_eq!(wild.pricing, None);
        assert_eq!(
            wild.model_prices["gpt-4o-mini"].input_cost_per_token,
            1.5e-7
        );
        assert!(wild.model_prices.contains_key("gpt-4o"));
        assert!(!wild.model_prices.keys().any(|k| k.starts_with("claude")));
        assert_eq!(
            dep("ft").pricing.unwrap().input_cost_per_token,
            1.5e-7,
            "fine-tune: its base"
        );
        assert_eq!(dep("ft").model_prices.len(), 0);
        assert_eq!(dep("az").pricing, None);
        assert!(
            dep("az").model_prices.contains_key("gpt-4o"),
            "priced by the answer's model"
        );
        assert_eq!(dep("az-based").pricing.unwrap().output_cost_per_token, 6e-7);
        assert!(dep("claude-*")
            .model_prices
            .keys()
            .all(|k| k.starts_with("claude-")));
        // No keys: nothing to warn about.
        assert!(!has_warning(&plan, "NO PRICE"), "{:?}", plan.warnings);

        let keyed = format!("{text}general_settings: {{master_key: sk-1234}}\n");
        let plan = compile_env(&keyed, ENV).unwrap();
        let unpriced: Vec<&String> = plan
            .warnings
            .iter()
            .filter(|w| w.contains("NO PRICE"))
            .collect();
        assert_eq!(unpriced.len(), 2, "{unpriced:?}");
        assert!(
            unpriced[0].contains(
                "model_list[2] (model_name \"az\").litellm_params.model \"azure/my-dep\""
            ),
            "{}",
            unpriced[0]
        );
        assert!(unpriced[0].contains("base_model"), "{}", unpriced[0]);
        assert!(
            unpriced[1].contains("model_list[4]") && unpriced[1].contains("hosted_vllm/mine"),
            "{}",
            unpriced[1]
        );
        for w in unpriced {
            assert!(
                w.contains("input_cost_per_token") && w.contains("SWITCHYARD_MODEL_PRICES"),
                "{w}"
            );
        }
    }

    #[test]
    fn keys_are_on_with_a_master_key_or_a_database() {
        let plan = compile_text(&one("      model: openai/x\n")).unwrap();
        assert!(
            plan.keys.is_none() && !plan.router.defer_answers,
            "open gateway"
        );
        let text = format!(
            "{}general_settings:\n  master_key: sk-1234\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        assert_eq!(
            plan.keys.as_ref().unwrap().master_key.as_deref(),
            Some("sk-1234")
        );
        assert!(
            plan.router.defer_answers,
            "local answers wait for the key check"
        );
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("DATABASE_URL", "postgres://db/x")],
        )
        .unwrap();
        assert_eq!(
            plan.keys.unwrap().database_url.as_deref(),
            Some("postgres://db/x")
        );
        // The secret never reaches the serialized plan.
        let json = serde_json::to_string(&compile_text(&text).unwrap()).unwrap();
        assert!(!json.contains("sk-1234"), "{json}");
    }

    #[test]
    fn the_master_key_is_read_where_the_config_put_it() {
        // Written out: no variable (render inlines it), and a warning says so.
        let text = format!(
            "{}general_settings:\n  master_key: sk-1234\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(keys.master_key_env, None);
        assert!(!plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.starts_with("general_settings.master_key: the key is written")));
        // os.environ/NAME: that variable, which the filter must then read.
        let text = format!(
            "{}general_settings:\n  master_key: os.environ/MY_MASTER\n",
            one("      model: openai/x\n")
        );
        let plan = compile_env(&text, &[("MY_MASTER", "sk-env")]).unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (keys.master_key.as_deref(), keys.master_key_env.as_deref()),
            (Some("sk-env"), Some("MY_MASTER"))
        );
        assert!(plan.host_env_keys.contains("MY_MASTER"));
        // Only LITELLM_MASTER_KEY: LiteLLM's variable.
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("LITELLM_MASTER_KEY", "sk-var")],
        )
        .unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (keys.master_key.as_deref(), keys.master_key_env.as_deref()),
            (Some("sk-var"), Some(MASTER_KEY_VARIABLE))
        );
        assert!(plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        // A database without a master key: the filter reads the reporting credential
        // (spend reports are authenticated in every mode), never a master key.
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("DATABASE_URL", "postgres://db/x")],
        )
        .unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (
                keys.master_key_env.as_deref(),
                keys.reporter_key_env.as_deref()
            ),
            (None, Some(REPORTER_KEY_VARIABLE))
        );
        assert!(!plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        assert!(plan.host_env_keys.contains(REPORTER_KEY_VARIABLE));
    }

    #[test]
    fn routing_policy_from_router_settings() {
        let plan = compile_text(&one("      model: openai/x\n")).unwrap();
        let r = &plan.routing;
        assert_eq!(
            (
                r.num_retries,
                r.allowed_fails,
                r.cooldown_secs,
                r.least_request
            ),
            (2, 3, 5.0, false),
            "LiteLLM's defaults"
        );
        assert!(r.retry_rate_limited && r.retry_server_errors && r.retry_timeouts);

        let text = format!(
            "{}router_settings:\n  routing_strategy: least-busy\n  num_retries: 1\n  allowed_fails: 2\n  cooldown_time: 30\n  retry_policy: {{RateLimitErrorRetries: 0, InternalServerErrorRetries: 4, AuthenticationErrorRetries: 1, ContentPolicyViolationErrorRetries: 2}}\nlitellm_settings:\n  num_retries: 7\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        let r = &plan.routing;
        assert!(r.least_request);
        assert_eq!(r.num_retries, 4, "retry_policy: the largest per-type count");
        assert!(!r.retry_rate_limited && r.retry_server_errors);
        assert_eq!(r.retry_statuses, vec![401]);
        assert_eq!((r.allowed_fails, r.cooldown_secs), (2, 30.0));
        assert!(has_warning(
            &plan,
            "router_settings.retry_policy.ContentPolicyViolationErrorRetries"
        ));

        let text = format!(
            "{}router_settings:\n  routing_strategy: cost-based-routing\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        assert!(!plan.routing.least_request);
        assert!(has_warning(&plan, "router_settings.routing_strategy"));
    }

    #[test]
    fn weights_follow_simple_shuffle() {
        let text = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, rpm: 600, weight: 3}\n  - model_name: g\n    litellm_params: {model: openai/b, rpm: 60, weight: 1}\n  - model_name: h\n    litellm_params: {model: openai/c, rpm: 900}\n  - model_name: h\n    litellm_params: {model: openai/d, tpm: 5}\n  - model_name: i\n    litellm_params: {model: openai/e}\n  - model_name: i\n    litellm_params: {model: openai/f}\n";
        let plan = compile_text(text).unwrap();
        let weights: Vec<Vec<u32>> = plan
            .routes
            .iter()
            .map(|r| r.priorities[0].members.iter().map(|m| m.1).collect())
            .collect();
        assert_eq!(weights, vec![vec![3, 1], vec![900, 0], vec![1, 1]]);
        assert!(has_warning(
            &plan,
            "model_list[3].litellm_params: other deployments of model group \"h\" set rpm"
        ));
        assert_eq!(plan.routes[0].cluster_name, "route_0_g");
        assert_eq!(
            plan.deployments[plan.routes[0].priorities[0].members[0].0].name,
            "dep_0_g"
        );
        assert_eq!(plan.deployments[0].weight, 3);

        assert_eq!(normalize_weights(&[0.9, 0.1]), vec![900_000, 100_000]);
        assert_eq!(normalize_weights(&[2.0, 0.0]), vec![2, 0]);
        let e = compile_text(
            "model_list:\n  - model_name: z\n    litellm_params: {model: openai/a, weight: 0}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("every deployment of model group \"z\" has weight 0"),
            "{e}"
        );
    }

    #[test]
    fn deployment_id_is_litellms_hash() {
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: 10\n      temperature: 0.5\n      stream: true\n      api_key: os.environ/OPENAI_API_KEY\n";
        let plan = compile_text(text).unwrap();
        // model_name, then key + str(value) for each litellm_param in YAML order.
        let expected = Sha256::digest(
            "gpt-4o\
             modelopenai/gpt-4o\
             rpm10\
             temperature0.5\
             streamTrue\
             api_keyos.environ/OPENAI_API_KEY"
                .as_bytes(),
        );
        assert_eq!(plan.deployments[0].upstream.deployment_id, hex(&expected));

        let plan = compile_text(&text.replace(
            "    litellm_params:",
            "    model_info: {id: my-id}\n    litellm_params:",
        ))
        .unwrap();
        assert_eq!(plan.deployments[0].upstream.deployment_id, "my-id");
    }

    #[test]
    fn deployment_id_matches_python() {
        // Expected values computed with PyYAML + Python's str(), the way LiteLLM does:
        // s = model_name; for k, v in litellm_params.items(): s += str(k) + str(v)
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: 10\n      temperature: 0.5\n      stream: true\n      max_tokens: 300\n      input_cost_per_token: 0.000001\n      timeout: 300.0\n      stop: [\"a\", \"it's\"]\n      api_key: os.environ/OPENAI_API_KEY\n  - model_name: g2\n    litellm_params:\n      model: anthropic/claude-3-haiku-20240307\n      extra_headers: {X-A: \"1\"}\n      logit_bias: {\"50256\": -100}\n";
        let plan = compile_text(text).unwrap();
        let ids: Vec<&str> = plan
            .deployments
            .iter()
            .map(|d| d.upstream.deployment_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "1a46a306f29b2f84249035708bf79f0f47f6aef7b2b424b3224f34ffde0bee0c",
                "f048ec86b0cd9ef6303e389832e809c6153e192f05c9047c9698904536aea0ab",
            ]
        );
    }

    #[test]
    fn identical_entries_collapse() {
        let entry = "  - model_name: g\n    litellm_params: {model: openai/gpt-4o}\n";
        let plan = compile_text(&format!("model_list:\n{entry}{entry}")).unwrap();
        assert_eq!(plan.deployments.len(), 1);
        assert!(has_warning(
            &plan,
            "model_list[1]: same deployment id as model_list[0]"
        ));
    }

    #[test]
    fn aliases_timeouts_and_body_limit() {
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o}\n  - model_name: local\n    litellm_params: {model: palm/chat-bison}\nrouter_settings:\n  timeout: 30\n  stream_timeout: 120\n  model_group_alias:\n    gpt-4: gpt-4o\n    quiet: {model: gpt-4o, hidden: true}\n    llama: local\nlitellm_settings:\n  request_timeout: 600\ngeneral_settings:\n  max_request_size_mb: 2\n";
        let plan = compile_text(text).unwrap();
        assert_eq!(
            plan.router.aliases.get("gpt-4").map(String::as_str),
            Some("gpt-4o")
        );
        assert_eq!(
            plan.router.aliases.get("quiet").map(String::as_str),
            Some("gpt-4o")
        );
        assert!(!plan.router.aliases.contains_key("llama"));
        assert!(has_warning(
            &plan,
            "router_settings.model_group_alias.llama"
        ));
        assert_eq!(
            plan.router.hidden_aliases.iter().collect::<Vec<_>>(),
            ["quiet"]
        );
        assert_eq!(plan.timeout_secs, Some(30.0), "router_settings wins");
        assert_eq!(plan.stream_timeout_secs, Some(120.0));
        assert_eq!(plan.router.max_request_body_bytes, 2 * 1024 * 1024);

        let plan = compile_text("litellm_settings:\n  request_timeout: 600\n").unwrap();
        assert_eq!(plan.timeout_secs, Some(600.0));
        assert_eq!(
            plan.router.max_request_body_bytes,
            DEFAULT_MAX_REQUEST_BODY_BYTES
        );
    }

    #[test]
    fn api_base_parsing() {
        let a = parse_api_base("http://localhost:11434").unwrap();
        assert_eq!(
            a,
            UpstreamAddress {
                tls: false,
                host: "localhost".into(),
                port: 11434,
                path_prefix: String::new()
            }
        );
        let a = parse_api_base("HTTPS://Example.com/openai/v1//").unwrap();
        assert_eq!(
            (a.tls, a.host.as_str(), a.port, a.path_prefix.as_str()),
            (true, "example.com", 443, "/openai/v1")
        );
        let a = parse_api_base("http://[::1]:8000/v1").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 8000));
        for bad in [
            "ftp://x",
            "localhost:8000",
            "https://",
            "https://h:99999",
            "https://u:p@h",
            "https://h/v1?x=1",
            "http://h:abc",
        ] {
            assert!(parse_api_base(bad).is_err(), "{bad} should be rejected");
        }
        let e = compile_text(&one(
            "      model: openai/x\n      api_base: ftp://files.example.com\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "config.yaml: model_list[0].litellm_params.api_base: unsupported scheme \"ftp\""
            ),
            "{e}"
        );
    }

    #[test]
    fn unused_fields_are_warned() {
        let plan = compile_text(&one("      model: openai/x\n      tags: [a]\n      order: 1\n      aws_region_name: us-east-1\n      input_cost_per_token: 0.000001\n      bos_token: \"<s>\"\n")).unwrap();
        for needle in [
            ".tags: tag-based",
            ".order: order-based",
            ".aws_region_name: not used by openai",
            ".bos_token: prompt templates",
        ] {
            assert!(has_warning(&plan, needle), "{needle}: {:?}", plan.warnings);
        }
        // Custom prices are applied now, not warned about.
        assert!(!has_warning(&plan, ".input_cost_per_token"));
        assert_eq!(
            plan.deployments[0]
                .upstream
                .pricing
                .unwrap()
                .input_cost_per_token,
            1e-6
        );
    }

    #[test]
    fn per_deployment_timeouts_are_carried() {
        let plan = compile_text(&one("      model: openai/x\n      timeout: 300\n      stream_timeout: 60\n      max_retries: 2\n")).unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            (d.timeout_secs, d.stream_timeout_secs, d.max_retries),
            (Some(300.0), Some(60.0), Some(2))
        );
    }
}
