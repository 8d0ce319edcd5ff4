//! The OpenAI-compatible clouds and servers: `mistral/`, `groq/`, `deepseek/`,
//! `together_ai/`, `openrouter/`, `xai/`, `fireworks_ai/`, `perplexity/`,
//! `cerebras/`, `deepinfra/`, `hosted_vllm/`, `lm_studio/`, `llamafile/`.
//!
//! They speak OpenAI's wire format at `{api_base}/chat/completions` (and
//! `/completions`, `/embeddings`), so bodies pass through as the client sent them.
//! What differs is LiteLLM's per-provider table of accepted OpenAI parameters
//! (`get_supported_openai_params` in `litellm/llms/<provider>/chat/transformation.py`)
//! and a few rewrites LiteLLM makes there (`map_openai_params`). Both are taken from
//! LiteLLM's source and resolved once per deployment at configure time; at request
//! time only the top-level fields a quirk names are touched.
//!
//! | provider | parameters (chat) | rewrites (LiteLLM's `map_openai_params`) |
//! |---|---|---|
//! | mistral | `MistralConfig`: stream, temperature, top_p, max_tokens, max_completion_tokens, tools, tool_choice, seed, stop, response_format, parallel_tool_calls (+ reasoning_effort, thinking for Magistral models: LiteLLM's reasoning system prompt is injected and both are removed) | `max_completion_tokens`→`max_tokens`; `tool_choice` `required` or a named function → `"any"`; `seed`→`random_seed`; messages: `name` dropped (not from tool results), null fields dropped, empty assistant messages left out; streams always end with usage, `stream_options` is not sent |
//! | perplexity | `PerplexityChatConfig`: frequency_penalty, max_tokens, max_completion_tokens, presence_penalty, response_format, stream, temperature, top_p (+ reasoning_effort) | no tools; streams carry usage, `stream_options` is not sent |
//! | cerebras | `CerebrasConfig`: max_tokens, max_completion_tokens, response_format, seed, stop, stream, temperature, top_p, tool_choice, tools, user (+ reasoning_effort) | `max_completion_tokens`→`max_tokens`; `stream_options` is not sent |
//! | deepinfra | `DeepInfraConfig`: stream, frequency_penalty, function_call, functions, logit_bias, max_tokens, max_completion_tokens, n, presence_penalty, stop, temperature, top_p, response_format, tools, tool_choice | `max_completion_tokens`→`max_tokens`; `tool_choice` other than `auto`/`none` is refused (400 naming it) or dropped with `drop_params` |
//! | xai | `XAIChatConfig`: logit_bias, logprobs, max_completion_tokens, max_tokens, n, parallel_tool_calls, presence_penalty, response_format, seed, stream, stream_options, temperature, tool_choice, tools, top_logprobs, top_p, user, web_search_options; `stop` except grok-3-mini, grok-4, grok-code-fast; `frequency_penalty` except grok-4, grok-code-fast (+ reasoning_effort) | `max_completion_tokens`→`max_tokens`; `strict` removed from tools |
//! | fireworks_ai | `FireworksAIConfig`: stream, tools, tool_choice, max_completion_tokens, max_tokens, temperature, top_p, top_k, frequency_penalty, presence_penalty, n, stop, response_format, user, logprobs, prompt_truncate_length, context_length_exceeded_behavior | `tool_choice: required`→`"any"`; `json_schema`→`{"type":"json_object","schema":…}`; `max_completion_tokens`→`max_tokens`; model ids get `accounts/fireworks/models/` unless they start with `accounts/` (configure time); `stream_options` is not sent |
//! | hosted_vllm | OpenAI's whole set | `strict` and `additionalProperties: false` removed from tools (`HostedVLLMChatConfig.map_openai_params`) |
//! | lm_studio | OpenAI's whole set | a `json_schema` response format with a bare `schema` is wrapped in `json_schema` (`LMStudioChatConfig.map_openai_params`) |
//! | groq | OpenAI's whole set (`GroqChatConfig` extends `OpenAILikeChatConfig`) | `json_schema` through a forced `json_tool_call`; JSON-mode streams faked (below) |
//! | openrouter | OpenAI's whole set | `usage: {"include": true}` added; answers: `reasoning` → `reasoning_content`, `usage.cost` is the spend |
//! | deepseek, together_ai, llamafile | OpenAI's whole set (their LiteLLM configs extend `OpenAIGPTConfig`'s list) | none here; the body passes untouched |
//!
//! LiteLLM adds `reasoning_effort` only for models its price map flags as
//! reasoning-capable; the gateway has no such list per model, so the tables accept
//! it where the provider has reasoning models at all (Perplexity's sonar-reasoning,
//! Cerebras, xAI).
//!
//! `model`, `messages`/`prompt`/`input` and `stream_options` (the gateway's own:
//! read for the client, removed or set as the provider needs) are always accepted.
//!
//! Groq (`GroqChatConfig`): a `json_schema` response format becomes a forced call of
//! a `json_tool_call` tool (its arguments come back as the content), and a stream
//! with any `response_format` is asked whole and replayed as a stream.
//!
//! Mistral's reasoning models (Magistral): `reasoning_effort`/`thinking` become
//! LiteLLM's reasoning system prompt, and answers' `thinking` chunks come back as
//! `reasoning_content` ([`AnswerFix`]). OpenRouter: every chat request asks
//! `usage: {"include": true}`; the answer's `usage.cost` is the request's spend
//! (as LiteLLM takes it for its response cost), and `reasoning` is also given as
//! `reasoning_content`.
//!
//! Not reproduced (LiteLLM does it, Switchyard does not yet): Mistral flattening
//! text-only content lists in requests (Mistral takes lists now).

use serde_json::{json, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::ProviderKind;
use crate::request::TopLevel;

/// Fields every table accepts (the request's subject and the gateway's own).
const ALWAYS: &[&str] = &["model", "messages", "stream_options"];

/// OpenAI's chat parameters: the ones LiteLLM checks against a provider's table
/// (its `DEFAULT_CHAT_COMPLETION_PARAM_VALUES`, plus the newer OpenAI fields).
/// Anything else is provider-specific and passes to the provider, as in LiteLLM.
pub const OPENAI_CHAT_PARAMS: &[&str] = &[
    "functions",
    "function_call",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "modalities",
    "prediction",
    "audio",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "response_format",
    "seed",
    "tools",
    "tool_choice",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "reasoning_effort",
    "verbosity",
    "web_search_options",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "metadata",
    "store",
];

const MISTRAL: &[&str] = &[
    "stream",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "tools",
    "tool_choice",
    "seed",
    "stop",
    "response_format",
    "parallel_tool_calls",
];

const PERPLEXITY: &[&str] = &[
    "frequency_penalty",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "response_format",
    "stream",
    "temperature",
    "top_p",
    "reasoning_effort",
];

const CEREBRAS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "response_format",
    "seed",
    "stop",
    "stream",
    "temperature",
    "top_p",
    "tool_choice",
    "tools",
    "user",
    "reasoning_effort",
];

const DEEPINFRA: &[&str] = &[
    "stream",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "stop",
    "temperature",
    "top_p",
    "response_format",
    "tools",
    "tool_choice",
];

const XAI: &[&str] = &[
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "n",
    "parallel_tool_calls",
    "presence_penalty",
    "response_format",
    "seed",
    "stream",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "web_search_options",
    "reasoning_effort",
];

const FIREWORKS: &[&str] = &[
    "stream",
    "tools",
    "tool_choice",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "stop",
    "response_format",
    "user",
    "logprobs",
    "prompt_truncate_length",
    "context_length_exceeded_behavior",
];

/// How `tool_choice` is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice {
    /// Sent as the client wrote it.
    AsIs,
    /// Mistral: `auto`/`none` kept, `required` and a named function → `"any"`.
    MistralAny,
    /// Fireworks: `required` → `"any"`, the rest as written.
    RequiredAsAny,
    /// DeepInfra: only `auto` and `none`; anything else is refused, or dropped with
    /// `drop_params`.
    AutoOrNone,
}

/// What a provider's requests need beyond the parameter check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// `max_completion_tokens` is sent as `max_tokens` (it wins when both are set).
    pub max_completion_tokens_as_max_tokens: bool,
    /// How `tool_choice` is rewritten.
    pub tool_choice: ToolChoice,
    /// `seed` is sent as `random_seed` (Mistral).
    pub seed_as_random_seed: bool,
    /// `response_format: json_schema` is sent as `{"type":"json_object","schema":…}`
    /// (Fireworks).
    pub json_schema_as_json_object: bool,
    /// `strict` is removed from each tool's function (xAI, vLLM).
    pub strip_tool_strict: bool,
    /// `additionalProperties: false` is removed from tool schemas, at any depth
    /// (vLLM: `HostedVLLMChatConfig`, LiteLLM's `_remove_additional_properties`).
    pub strip_additional_properties: bool,
    /// Mistral's message cleanup (`MistralConfig._transform_messages`): `name` dropped
    /// from every message but tool results (Mistral refuses it), null fields dropped
    /// (`strip_none_values_from_message`), empty assistant messages left out.
    pub mistral_messages: bool,
    /// A `json_schema` response format with a bare `schema` (no `json_schema`
    /// object) is wrapped as `{"type":"json_schema","json_schema":{"schema":…}}`
    /// (LM Studio: `LMStudioChatConfig.map_openai_params`).
    pub wrap_bare_schema: bool,
    /// Groq (`GroqChatConfig.map_openai_params`): a `json_schema` response format is
    /// sent as a forced call of a `json_tool_call` tool whose parameters are the
    /// schema, and its arguments come back as the answer's content; a stream with
    /// any `response_format` is asked for whole and replayed as a stream
    /// (`_should_fake_stream`: Groq's JSON mode does not stream).
    pub groq_json: bool,
    /// The provider's streams end with usage unasked and it does not take
    /// `stream_options`: the gateway neither asks nor forwards the client's.
    pub stream_usage_always: bool,
    /// Mistral's reasoning models (Magistral): `reasoning_effort` or `thinking`
    /// becomes LiteLLM's reasoning system prompt (`MistralConfig.
    /// _add_reasoning_system_prompt_if_needed`), and answers whose `content` is a
    /// list of `thinking`/`text` chunks are flattened to `content` +
    /// `reasoning_content` ([`AnswerFix`]).
    pub mistral_reasoning: bool,
    /// OpenRouter (`OpenrouterConfig`): `usage: {"include": true}` is added so every
    /// answer reports its cost, which becomes the request's spend; `reasoning` in
    /// answers and stream deltas is also given as `reasoning_content`.
    pub openrouter: bool,
}

impl Quirks {
    const NONE: Quirks = Quirks {
        max_completion_tokens_as_max_tokens: false,
        tool_choice: ToolChoice::AsIs,
        seed_as_random_seed: false,
        json_schema_as_json_object: false,
        strip_tool_strict: false,
        strip_additional_properties: false,
        mistral_messages: false,
        wrap_bare_schema: false,
        groq_json: false,
        stream_usage_always: false,
        mistral_reasoning: false,
        openrouter: false,
    };

    /// Whether any rewrite applies (else requests pass untouched).
    pub fn any(&self) -> bool {
        *self != Quirks::NONE
    }
}

/// The quirks of `provider` (none for providers outside this module).
pub fn quirks(provider: ProviderKind) -> Quirks {
    match provider {
        ProviderKind::Mistral => Quirks {
            max_completion_tokens_as_max_tokens: true,
            tool_choice: ToolChoice::MistralAny,
            seed_as_random_seed: true,
            mistral_messages: true,
            stream_usage_always: true,
            ..Quirks::NONE
        },
        ProviderKind::Perplexity => Quirks {
            stream_usage_always: true,
            ..Quirks::NONE
        },
        ProviderKind::Cerebras => Quirks {
            max_completion_tokens_as_max_tokens: true,
            stream_usage_always: true,
            ..Quirks::NONE
        },
        ProviderKind::Deepinfra => Quirks {
            max_completion_tokens_as_max_tokens: true,
            tool_choice: ToolChoice::AutoOrNone,
            ..Quirks::NONE
        },
        ProviderKind::Xai => Quirks {
            max_completion_tokens_as_max_tokens: true,
            strip_tool_strict: true,
            ..Quirks::NONE
        },
        ProviderKind::Groq => Quirks {
            groq_json: true,
            ..Quirks::NONE
        },
        ProviderKind::LmStudio => Quirks {
            wrap_bare_schema: true,
            ..Quirks::NONE
        },
        ProviderKind::HostedVllm => Quirks {
            strip_tool_strict: true,
            strip_additional_properties: true,
            ..Quirks::NONE
        },
        ProviderKind::FireworksAi => Quirks {
            max_completion_tokens_as_max_tokens: true,
            tool_choice: ToolChoice::RequiredAsAny,
            json_schema_as_json_object: true,
            stream_usage_always: true,
            ..Quirks::NONE
        },
        ProviderKind::Openrouter => Quirks {
            openrouter: true,
            ..Quirks::NONE
        },
        _ => Quirks::NONE,
    }
}

/// The quirks of a deployment of `provider` serving `model` (configure time): the
/// provider's, plus those only some of its models have.
pub fn quirks_for(provider: ProviderKind, model: &str) -> Quirks {
    Quirks {
        mistral_reasoning: provider == ProviderKind::Mistral && is_mistral_reasoning_model(model),
        ..quirks(provider)
    }
}

/// Mistral's reasoning models: LiteLLM asks its price map (`supports_reasoning`,
/// the Magistral family); the gateway goes by the family's name.
fn is_mistral_reasoning_model(model: &str) -> bool {
    model.to_ascii_lowercase().contains("magistral")
}

/// LiteLLM's reasoning system prompt for Mistral (`MistralConfig.
/// _get_mistral_reasoning_system_prompt`, after Mistral's Magistral model card),
/// indentation included. One deliberate difference: LiteLLM's Python literal turns
/// `\boxed` into a backspace and `oxed`; the gateway sends the `\boxed{}` meant.
pub const MISTRAL_REASONING_PROMPT: &str = "
        <s>[SYSTEM_PROMPT]system_prompt
        A user will ask you to solve a task. You should first draft your thinking process (inner monologue) until you have derived the final answer. Afterwards, write a self-contained summary of your thoughts (i.e. your summary should be succinct but contain all the critical steps you needed to reach the conclusion). You should use Markdown to format your response. Write both your thoughts and summary in the same language as the task posed by the user. NEVER use \\boxed{} in your response.

        Your thinking process must follow the template below:
        <think>
        Your thoughts or/and draft, like working through an exercise on scratch paper. Be as casual and as long as you want until you are confident to generate a correct answer.
        </think>

        Here, provide a concise summary that reflects your reasoning and presents a clear final answer to the user. Don't mention that this is a summary.

        Problem:

        [/SYSTEM_PROMPT][INST]user_message[/INST]<think>
        reasoning_traces
        </think>
        assistant_response</s>[INST]user_message[/INST]
        ";

/// The chat parameters `provider` accepts for `model` (LiteLLM's table), or `None`
/// when it accepts OpenAI's whole set. Other endpoints pass everything.
pub fn supported_params(
    provider: ProviderKind,
    endpoint: Endpoint,
    model: &str,
) -> Option<Vec<&'static str>> {
    if endpoint != Endpoint::ChatCompletions {
        return None;
    }
    let table: &[&str] = match provider {
        ProviderKind::Mistral if is_mistral_reasoning_model(model) => {
            return Some(
                ALWAYS
                    .iter()
                    .chain(MISTRAL)
                    .chain(&["reasoning_effort", "thinking"])
                    .copied()
                    .collect(),
            );
        }
        ProviderKind::Mistral => MISTRAL,
        ProviderKind::Perplexity => PERPLEXITY,
        ProviderKind::Cerebras => CEREBRAS,
        ProviderKind::Deepinfra => DEEPINFRA,
        ProviderKind::FireworksAi => FIREWORKS,
        ProviderKind::Xai => {
            // XAIChatConfig._supports_stop_reason / _supports_frequency_penalty.
            let mut params: Vec<&'static str> = ALWAYS.iter().chain(XAI).copied().collect();
            if !["grok-3-mini", "grok-4", "grok-code-fast"]
                .iter()
                .any(|m| model.contains(m))
            {
                params.push("stop");
            }
            if !["grok-4", "grok-code-fast"]
                .iter()
                .any(|m| model.contains(m))
            {
                params.push("frequency_penalty");
            }
            return Some(params);
        }
        _ => return None,
    };
    Some(ALWAYS.iter().chain(table).copied().collect())
}

/// The model id sent to `provider` for a configured `model` (configure time):
/// Fireworks ids get `accounts/fireworks/models/` unless they name an account
/// (`FireworksAIConfig.transform_request`).
pub fn provider_model(provider: ProviderKind, model: &str) -> String {
    if provider == ProviderKind::FireworksAi && !model.starts_with("accounts/") {
        format!("accounts/fireworks/models/{model}")
    } else if provider == ProviderKind::Cohere && model.starts_with("v2/") {
        // LiteLLM's `cohere_chat/v2/<model>` names the v2 route, not the model.
        model.strip_prefix("v2/").unwrap_or(model).to_string()
    } else {
        model.to_string()
    }
}

/// The OpenAI parameters `provider` does not take for `endpoint` with `model`
/// (OpenAI's set minus LiteLLM's table), or `None` when it takes them all.
pub fn unsupported_params(
    provider: ProviderKind,
    endpoint: Endpoint,
    model: &str,
) -> Option<Vec<&'static str>> {
    let table = supported_params(provider, endpoint, model)?;
    Some(
        OPENAI_CHAT_PARAMS
            .iter()
            .filter(|p| !table.contains(p))
            .copied()
            .collect(),
    )
}

/// What a request's rewrite means for its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The answer's `json_tool_call` arguments become its content ([`json_tool_answer`]).
    pub json_tool: bool,
    /// The client asked for a stream that was sent as a plain request: the answer is
    /// replayed as a stream ([`fake_stream`]).
    pub fake_stream: bool,
}

/// The name of the tool a Groq `json_schema` request is forced to call.
pub const JSON_TOOL: &str = "json_tool_call";

/// Applies `quirks` to a request whose parameters were already checked.
pub fn apply(
    quirks: &Quirks,
    endpoint: Endpoint,
    request: &mut TopLevel<'_>,
    drop_params: bool,
) -> Result<Rewritten, GatewayError> {
    let mut rewritten = Rewritten::default();
    if quirks.stream_usage_always {
        request.remove("stream_options");
    }
    if endpoint != Endpoint::ChatCompletions {
        return Ok(rewritten);
    }
    if quirks.openrouter && !request.contains_key("usage") {
        request.insert("usage", json!({"include": true}));
    }
    if quirks.mistral_reasoning {
        let asked = request.contains_key("reasoning_effort") | request.contains_key("thinking");
        if asked {
            request.remove("reasoning_effort");
            request.remove("thinking");
            if let Some(Value::Array(mut messages)) = request.get_value("messages") {
                add_reasoning_prompt(&mut messages);
                request.insert("messages", Value::Array(messages));
            }
        }
    }
    if quirks.groq_json {
        if let Some(format) = request
            .get_value("response_format")
            .filter(Value::is_object)
        {
            if request.get_bool("stream") == Some(true) {
                request.insert("stream", json!(false));
                request.remove("stream_options");
                rewritten.fake_stream = true;
            }
            let schema = format
                .get("response_schema")
                .or_else(|| format.get("json_schema").and_then(|s| s.get("schema")))
                .cloned();
            if let Some(schema) = schema {
                request.insert(
                    "tools",
                    json!([{"type": "function", "function": {"name": JSON_TOOL, "parameters": schema}}]),
                );
                request.insert(
                    "tool_choice",
                    json!({"type": "function", "function": {"name": JSON_TOOL}}),
                );
                request.remove("response_format");
                rewritten.json_tool = true;
            }
        }
    }
    if quirks.max_completion_tokens_as_max_tokens {
        if let Some(v) = request.get_value("max_completion_tokens") {
            request.remove("max_completion_tokens");
            request.insert("max_tokens", v);
        }
    }
    if quirks.seed_as_random_seed {
        if let Some(v) = request.get_value("seed") {
            request.remove("seed");
            request.insert("random_seed", v);
        }
    }
    if quirks.tool_choice != ToolChoice::AsIs {
        if let Some(choice) = request.get_value("tool_choice") {
            let as_str = choice.as_str();
            match quirks.tool_choice {
                ToolChoice::MistralAny => {
                    if !matches!(as_str, Some("auto" | "none")) {
                        request.insert("tool_choice", json!("any"));
                    }
                }
                ToolChoice::RequiredAsAny => {
                    if as_str == Some("required") {
                        request.insert("tool_choice", json!("any"));
                    }
                }
                ToolChoice::AutoOrNone => {
                    if !matches!(as_str, Some("auto" | "none")) {
                        if drop_params {
                            request.remove("tool_choice");
                        } else {
                            return Err(GatewayError::bad_request(format!(
                                "deepinfra does not support tool_choice={choice}: only \"auto\" and \"none\". To drop it, set `drop_params: true` in litellm_settings or the deployment's litellm_params."
                            ))
                            .with_param("tool_choice"));
                        }
                    }
                }
                ToolChoice::AsIs => {}
            }
        }
    }
    if quirks.wrap_bare_schema {
        if let Some(format) = request.get_value("response_format") {
            if format.get("type").and_then(Value::as_str) == Some("json_schema")
                && format.get("json_schema").is_none()
            {
                if let Some(schema) = format.get("schema") {
                    request.insert(
                        "response_format",
                        json!({"type": "json_schema", "json_schema": {"schema": schema}}),
                    );
                }
            }
        }
    }
    if quirks.json_schema_as_json_object {
        if let Some(format) = request.get_value("response_format") {
            if format.get("type").and_then(Value::as_str) == Some("json_schema") {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .cloned()
                    .unwrap_or(Value::Null);
                request.insert(
                    "response_format",
                    json!({"type": "json_object", "schema": schema}),
                );
            }
        }
    }
    if quirks.strip_tool_strict || quirks.strip_additional_properties {
        if let Some(Value::Array(mut tools)) = request.get_value("tools") {
            let mut changed = false;
            for tool in &mut tools {
                if quirks.strip_tool_strict {
                    if let Some(f) = tool.get_mut("function").and_then(Value::as_object_mut) {
                        changed |= f.remove("strict").is_some();
                    }
                    if let Some(t) = tool.as_object_mut() {
                        changed |= t.remove("strict").is_some();
                    }
                }
                if quirks.strip_additional_properties {
                    if let Some(schema) = tool
                        .get_mut("function")
                        .and_then(|f| f.get_mut("parameters"))
                    {
                        changed |= strip_additional_properties(schema, 0);
                    }
                }
            }
            if changed {
                request.insert("tools", Value::Array(tools));
            }
        }
    }
    if quirks.mistral_messages {
        if let Some(Value::Array(mut messages)) = request.get_value("messages") {
            let before = messages.len();
            messages.retain(|m| !is_empty_assistant(m));
            let mut changed = messages.len() != before;
            for message in &mut messages {
                let Some(m) = message.as_object_mut() else {
                    continue;
                };
                if m.get("role").and_then(Value::as_str) != Some("tool") {
                    changed |= m.remove("name").is_some();
                }
                let before = m.len();
                m.retain(|_, v| !v.is_null());
                changed |= m.len() != before;
            }
            if changed {
                request.insert("messages", Value::Array(messages));
            }
        }
    }
    Ok(rewritten)
}

/// Puts [`MISTRAL_REASONING_PROMPT`] before the first system message's content
/// (a string, or a list of parts), or adds a system message with it first.
fn add_reasoning_prompt(messages: &mut Vec<Value>) {
    let system = messages
        .iter_mut()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(Value::as_object_mut);
    let Some(system) = system else {
        messages.insert(
            0,
            json!({"role": "system", "content": MISTRAL_REASONING_PROMPT}),
        );
        return;
    };
    let content = match system.remove("content") {
        Some(Value::Array(parts)) => {
            let mut with =
                vec![json!({"type": "text", "text": format!("{MISTRAL_REASONING_PROMPT}\n\n")})];
            with.extend(parts);
            Value::Array(with)
        }
        Some(Value::String(text)) => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n{text}")),
        Some(other) => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n{other}")),
        None => Value::String(format!("{MISTRAL_REASONING_PROMPT}\n\n")),
    };
    system.insert("content".into(), content);
}

/// How an OpenAI-compatible provider's answers are rewritten on the way back
/// (non-streamed answers whole, stream chunks one event at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerFix {
    /// Mistral reasoning models: a `content` list of `thinking` and `text` chunks
    /// becomes `content` (the text) and `reasoning_content` (the thinking), and an
    /// empty `content` becomes `null` (`MistralConfig.transform_response`,
    /// `MistralChatResponseIterator`).
    content_chunks: bool,
    /// OpenRouter: `reasoning` is also given as `reasoning_content`.
    reasoning_field: bool,
    /// The answer's `usage.cost` (USD) is the provider's price of it.
    pub provider_cost: bool,
}

impl Quirks {
    /// How this deployment's answers are rewritten, or `None` when they pass as
    /// they come.
    pub fn answer_fix(&self) -> Option<AnswerFix> {
        let fix = AnswerFix {
            content_chunks: self.mistral_reasoning,
            reasoning_field: self.openrouter,
            provider_cost: self.openrouter,
        };
        (fix.content_chunks || fix.reasoning_field).then_some(fix)
    }
}

impl AnswerFix {
    /// Rewrites a whole chat answer (anything else comes back unchanged).
    pub fn fix_answer(&self, body: Vec<u8>) -> Vec<u8> {
        let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
            return body;
        };
        if self.fix_choices(&mut v, "message") {
            serde_json::to_vec(&v).unwrap_or(body)
        } else {
            body
        }
    }

    /// Rewrites one stream event's data, or `None` when it stays as it is. Only
    /// events that can need it are parsed.
    pub fn fix_chunk(&self, data: &str) -> Option<String> {
        let may = (self.content_chunks
            && (data.contains("\"content\":[") || data.contains("\"content\": [")))
            || (self.reasoning_field
                && (data.contains("\"reasoning\":\"") || data.contains("\"reasoning\": \"")));
        if !may {
            return None;
        }
        let mut v: Value = serde_json::from_str(data).ok()?;
        if self.fix_choices(&mut v, "delta") {
            serde_json::to_string(&v).ok()
        } else {
            None
        }
    }

    fn fix_choices(&self, v: &mut Value, field: &str) -> bool {
        let mut changed = false;
        for choice in v
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(message) = choice.get_mut(field).and_then(Value::as_object_mut) else {
                continue;
            };
            if self.content_chunks {
                match message.get("content") {
                    Some(Value::Array(chunks)) => {
                        let (text, thinking) = flatten_chunks(chunks);
                        message.insert("content".into(), text.map_or(Value::Null, Value::String));
                        if let Some(thinking) = thinking {
                            message.insert("reasoning_content".into(), Value::String(thinking));
                        }
                        changed = true;
                    }
                    Some(Value::String(s)) if s.is_empty() && field == "message" => {
                        message.insert("content".into(), Value::Null);
                        changed = true;
                    }
                    _ => {}
                }
            }
            if self.reasoning_field && !message.contains_key("reasoning_content") {
                if let Some(reasoning) = message.get("reasoning").filter(|r| r.is_string()) {
                    let reasoning = reasoning.clone();
                    message.insert("reasoning_content".into(), reasoning);
                    changed = true;
                }
            }
        }
        changed
    }

    /// The provider's price of the answer (`usage.cost`), when it reports one.
    pub fn cost_of(&self, body: &[u8]) -> Option<f64> {
        if !self.provider_cost {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct WithUsage {
            usage: Option<CostOnly>,
        }
        #[derive(serde::Deserialize)]
        struct CostOnly {
            cost: Option<f64>,
        }
        let parsed: WithUsage = serde_json::from_slice(body).ok()?;
        parsed.usage?.cost.filter(|c| c.is_finite() && *c >= 0.0)
    }
}

/// Mistral's content chunks → (the text, the thinking): text chunks joined, each
/// `thinking` chunk's text parts joined, thinking chunks separated by newlines.
fn flatten_chunks(chunks: &[Value]) -> (Option<String>, Option<String>) {
    let mut text: Option<String> = None;
    let mut thinking: Vec<String> = Vec::new();
    for chunk in chunks {
        match chunk.get("type").and_then(Value::as_str) {
            Some("text") => {
                let part = chunk.get("text").and_then(Value::as_str).unwrap_or("");
                text.get_or_insert_with(String::new).push_str(part);
            }
            Some("thinking") => {
                let joined: String = chunk
                    .get("thinking")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|t| t.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|t| t.get("text").and_then(Value::as_str))
                    .collect();
                if !joined.is_empty() {
                    thinking.push(joined);
                }
            }
            _ => {}
        }
    }
    let thinking = (!thinking.is_empty()).then(|| thinking.join("\n"));
    (text, thinking)
}

/// A chat answer whose `json_tool_call` arguments become the message content
/// (LiteLLM's json_mode: content = the arguments, no tool calls, `finish_reason`
/// `stop`). Anything else is returned unchanged.
pub fn json_tool_answer(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let mut changed = false;
    for choice in v
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            continue;
        };
        let arguments = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .and_then(|calls| calls.first())
            .and_then(|call| call.get("function"))
            .filter(|f| f.get("name").and_then(Value::as_str) == Some(JSON_TOOL))
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(arguments) = arguments {
            message.insert("content".into(), Value::String(arguments));
            message.remove("tool_calls");
            if let Some(c) = choice.as_object_mut() {
                c.insert("finish_reason".into(), json!("stop"));
            }
            changed = true;
        }
    }
    if changed {
        serde_json::to_vec(&v).unwrap_or(body)
    } else {
        body
    }
}

/// A whole chat answer replayed as OpenAI SSE: per choice a delta with
/// everything the message has, then its `finish_reason`; a usage chunk when the
/// client asked for one; `[DONE]`.
pub fn fake_stream(body: &[u8], include_usage: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    let mut event = |v: &Value| {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(v.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        event(
            &GatewayError::new(502, "the provider's answer is not JSON")
                .with_type("api_error")
                .to_value(),
        );
        out.extend_from_slice(b"data: [DONE]\n\n");
        return out;
    };
    let chunk = |choices: Value| {
        json!({
            "id": v.get("id").cloned().unwrap_or(Value::Null),
            "object": "chat.completion.chunk",
            "created": v.get("created").cloned().unwrap_or(Value::Null),
            "model": v.get("model").cloned().unwrap_or(Value::Null),
            "choices": choices,
        })
    };
    for (i, choice) in v
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let mut delta = choice
            .get("message")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
            for (k, call) in calls.iter_mut().enumerate() {
                if let Some(c) = call.as_object_mut() {
                    c.insert("index".into(), json!(k));
                }
            }
        }
        delta.retain(|_, v| !v.is_null());
        event(&chunk(
            json!([{"index": index, "delta": delta, "finish_reason": null}]),
        ));
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        event(&chunk(
            json!([{"index": index, "delta": {}, "finish_reason": finish}]),
        ));
    }
    if include_usage {
        if let Some(usage) = v.get("usage") {
            let mut last = chunk(json!([]));
            if let Some(o) = last.as_object_mut() {
                o.insert("usage".into(), usage.clone());
            }
            event(&last);
        }
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// An assistant message with neither text nor tool calls (Mistral refuses them;
/// LiteLLM's `_is_empty_assistant_message` leaves them out).
fn is_empty_assistant(m: &Value) -> bool {
    let empty_text = match m.get("content") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(parts)) => parts.is_empty(),
        Some(_) => false,
    };
    m.get("role").and_then(Value::as_str) == Some("assistant")
        && empty_text
        && m.get("tool_calls")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// Removes `additionalProperties: false` from a JSON schema at any depth (bounded:
/// schemas deeper than 64 levels are left as they are below that).
fn strip_additional_properties(schema: &mut Value, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let mut changed = false;
    match schema {
        Value::Object(map) => {
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
                changed = true;
            }
            for v in map.values_mut() {
                changed |= strip_additional_properties(v, depth + 1);
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= strip_additional_properties(v, depth + 1);
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(provider: ProviderKind, body: Value, drop: bool) -> Result<Value, GatewayError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        let mut top = TopLevel::parse(&bytes).unwrap();
        apply(&quirks(provider), Endpoint::ChatCompletions, &mut top, drop)?;
        Ok(serde_json::from_slice(&top.to_vec().unwrap()).unwrap())
    }

    #[test]
    fn mistral_maps_tokens_tool_choice_and_seed() {
        let out = run(
            ProviderKind::Mistral,
            json!({"model": "m", "messages": [], "max_completion_tokens": 9, "seed": 4,
                   "tool_choice": "required", "stream": true, "stream_options": {"include_usage": true}}),
            false,
        )
        .unwrap();
        assert_eq!(out["max_tokens"], 9);
        assert!(out.get("max_completion_tokens").is_none());
        assert_eq!(out["random_seed"], 4);
        assert!(out.get("seed").is_none());
        assert_eq!(out["tool_choice"], "any");
        assert!(
            out.get("stream_options").is_none(),
            "Mistral streams carry usage unasked and reject the field"
        );
        let named = json!({"type": "function", "function": {"name": "f"}});
        let out = run(ProviderKind::Mistral, json!({"tool_choice": named}), false).unwrap();
        assert_eq!(out["tool_choice"], "any");
        let out = run(ProviderKind::Mistral, json!({"tool_choice": "none"}), false).unwrap();
        assert_eq!(out["tool_choice"], "none");
    }

    #[test]
    fn deepinfra_refuses_forced_tool_choice_unless_dropped() {
        let err = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "required"}),
            false,
        )
        .unwrap_err();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (400, Some("tool_choice"))
        );
        assert!(err.message.contains("drop_params"), "{}", err.message);
        let out = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "required"}),
            true,
        )
        .unwrap();
        assert!(out.get("tool_choice").is_none());
        let out = run(
            ProviderKind::Deepinfra,
            json!({"tool_choice": "auto"}),
            false,
        )
        .unwrap();
        assert_eq!(out["tool_choice"], "auto");
    }

    #[test]
    fn fireworks_json_schema_and_required() {
        let out = run(
            ProviderKind::FireworksAi,
            json!({"tool_choice": "required", "response_format": {"type": "json_schema",
                   "json_schema": {"name": "x", "schema": {"type": "object"}}}}),
            false,
        )
        .unwrap();
        assert_eq!(out["tool_choice"], "any");
        assert_eq!(
            out["response_format"],
            json!({"type": "json_object", "schema": {"type": "object"}})
        );
        assert_eq!(
            provider_model(ProviderKind::FireworksAi, "llama-v3-8b"),
            "accounts/fireworks/models/llama-v3-8b"
        );
        assert_eq!(
            provider_model(ProviderKind::FireworksAi, "accounts/me/models/x"),
            "accounts/me/models/x"
        );
        assert_eq!(provider_model(ProviderKind::Groq, "llama"), "llama");
    }

    #[test]
    fn xai_strips_strict_and_tables_depend_on_the_model() {
        let out = run(
            ProviderKind::Xai,
            json!({"tools": [{"type": "function", "function": {"name": "f", "strict": true, "parameters": {}}}]}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["tools"][0],
            json!({"type": "function", "function": {"name": "f", "parameters": {}}})
        );
        let grok4 =
            supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-4").unwrap();
        assert!(!grok4.contains(&"stop") && !grok4.contains(&"frequency_penalty"));
        let grok2 =
            supported_params(ProviderKind::Xai, Endpoint::ChatCompletions, "grok-2").unwrap();
        assert!(grok2.contains(&"stop") && grok2.contains(&"frequency_penalty"));
    }

    #[test]
    fn tables_follow_litellm() {
        let chat = |p| supported_params(p, Endpoint::ChatCompletions, "m");
        let perplexity = chat(ProviderKind::Perplexity).unwrap();
        assert!(!perplexity.contains(&"tools"), "Perplexity has no tools");
        assert!(perplexity.contains(&"messages") && perplexity.contains(&"stream_options"));
        let mistral = chat(ProviderKind::Mistral).unwrap();
        assert!(mistral.contains(&"tools") && !mistral.contains(&"logit_bias"));
        assert!(!chat(ProviderKind::Cerebras).unwrap().contains(&"n"));
        for open in [
            ProviderKind::Groq,
            ProviderKind::Deepseek,
            ProviderKind::TogetherAi,
            ProviderKind::Openrouter,
            ProviderKind::HostedVllm,
            ProviderKind::LmStudio,
            ProviderKind::Llamafile,
        ] {
            assert_eq!(chat(open), None, "{open:?}");
            assert_eq!(
                quirks(open).any(),
                matches!(
                    open,
                    ProviderKind::HostedVllm
                        | ProviderKind::LmStudio
                        | ProviderKind::Groq
                        | ProviderKind::Openrouter
                ),
                "only vLLM's tool schemas, LM Studio's bare schemas, Groq's JSON mode and OpenRouter's usage are rewritten: {open:?}"
            );
        }
        assert_eq!(
            supported_params(ProviderKind::Mistral, Endpoint::Embeddings, "m"),
            None
        );
    }

    #[test]
    fn only_openai_parameters_are_refused() {
        let not = unsupported_params(ProviderKind::Perplexity, Endpoint::ChatCompletions, "sonar")
            .unwrap();
        assert!(not.contains(&"tools") && not.contains(&"seed"));
        assert!(!not.contains(&"temperature") && !not.contains(&"stream_options"));
        assert!(
            !not.contains(&"search_domain_filter"),
            "provider-specific parameters pass, as in LiteLLM"
        );
        assert_eq!(
            unsupported_params(ProviderKind::Groq, Endpoint::ChatCompletions, "m"),
            None
        );
    }

    #[test]
    fn mistral_messages_and_vllm_schemas_are_cleaned() {
        let out = run(
            ProviderKind::Mistral,
            json!({"messages": [
                {"role": "system", "content": "s", "name": "sys"},
                {"role": "user", "content": "hi", "name": "bob"},
                {"role": "assistant", "content": null},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "name": "f", "content": "r"}
            ]}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "system", "content": "s"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "name": "f", "content": "r"}
            ])
        );
        let tool = json!({"type": "function", "function": {"name": "f", "strict": true, "parameters": {
            "type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "object", "additionalProperties": false}, "b": {"type": "object", "additionalProperties": true}}}}});
        let out = run(ProviderKind::HostedVllm, json!({"tools": [tool]}), false).unwrap();
        assert_eq!(
            out["tools"][0]["function"],
            json!({"name": "f", "parameters": {"type": "object",
                   "properties": {"a": {"type": "object"}, "b": {"type": "object", "additionalProperties": true}}}})
        );
        let out = run(
            ProviderKind::LmStudio,
            json!({"response_format": {"type": "json_schema", "schema": {"type": "object"}}}),
            false,
        )
        .unwrap();
        assert_eq!(
            out["response_format"],
            json!({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}})
        );
        // Clean messages stay untouched.
        let body = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
        let mut top = TopLevel::parse(body).unwrap();
        apply(
            &quirks(ProviderKind::Mistral),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert!(!top.changed());
    }

    #[test]
    fn groq_json_schema_becomes_a_forced_tool_call_and_json_streams_are_faked() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let body = serde_json::to_vec(&json!({"model": "m", "messages": [], "stream": true,
            "stream_options": {"include_usage": true},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}})).unwrap();
        let mut top = TopLevel::parse(&body).unwrap();
        let r = apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert_eq!(
            r,
            Rewritten {
                json_tool: true,
                fake_stream: true
            }
        );
        let out: Value = serde_json::from_slice(&top.to_vec().unwrap()).unwrap();
        assert_eq!(out["stream"], false);
        assert!(out.get("stream_options").is_none() && out.get("response_format").is_none());
        assert_eq!(
            out["tools"][0]["function"],
            json!({"name": JSON_TOOL, "parameters": schema})
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "function", "function": {"name": JSON_TOOL}})
        );
        // json_object is Groq's own: sent as is (and not streamed).
        let body = br#"{"model":"m","messages":[],"response_format":{"type":"json_object"}}"#;
        let mut top = TopLevel::parse(body).unwrap();
        let r = apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert_eq!(r, Rewritten::default());
        assert!(!top.changed());

        let answer = br#"{"id":"c1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"json_tool_call","arguments":"{\"a\":\"b\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
        let converted = json_tool_answer(answer.to_vec());
        let v: Value = serde_json::from_slice(&converted).unwrap();
        assert_eq!(
            v["choices"][0]["message"],
            json!({"role": "assistant", "content": "{\"a\":\"b\"}"})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        let sse = String::from_utf8(fake_stream(&converted, true)).unwrap();
        let events: Vec<&str> = sse.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 4, "{sse}");
        let first: Value = serde_json::from_str(events[0].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(
            first["choices"][0]["delta"],
            json!({"role": "assistant", "content": "{\"a\":\"b\"}"})
        );
        let usage: Value = serde_json::from_str(events[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(usage["usage"]["total_tokens"], 7);
        assert_eq!(events[3], "data: [DONE]");
        // Other answers are left alone.
        let plain = br#"{"choices":[{"message":{"content":"hi"}}]}"#.to_vec();
        assert_eq!(json_tool_answer(plain.clone()), plain);
    }

    #[test]
    fn untouched_without_quirks() {
        let body = br#"{"model":"m","messages":[],"max_completion_tokens":3}"#;
        let mut top = TopLevel::parse(body).unwrap();
        apply(
            &quirks(ProviderKind::Groq),
            Endpoint::ChatCompletions,
            &mut top,
            false,
        )
        .unwrap();
        assert!(!top.changed());
    }

    fn run_for(quirks: &Quirks, body: Value) -> Value {
        let bytes = serde_json::to_vec(&body).unwrap();
        let mut top = TopLevel::parse(&bytes).unwrap();
        apply(quirks, Endpoint::ChatCompletions, &mut top, false).unwrap();
        serde_json::from_slice(&top.to_vec().unwrap()).unwrap()
    }

    #[test]
    fn magistral_reasoning_becomes_litellms_system_prompt() {
        let magistral = quirks_for(ProviderKind::Mistral, "magistral-medium-2506");
        assert!(magistral.mistral_reasoning);
        assert!(!quirks_for(ProviderKind::Mistral, "mistral-small-latest").mistral_reasoning);
        // No system message: one is added first.
        let out = run_for(
            &magistral,
            json!({"model": "m", "reasoning_effort": "low",
                   "messages": [{"role": "user", "content": "2+2?"}]}),
        );
        assert!(out.get("reasoning_effort").is_none(), "{out}");
        assert_eq!(out["messages"][0]["role"], "system");
        assert_eq!(out["messages"][0]["content"], MISTRAL_REASONING_PROMPT);
        assert_eq!(out["messages"][1]["content"], "2+2?");
        assert!(MISTRAL_REASONING_PROMPT.contains("NEVER use \\boxed{} in your response."));
        // A system string: the prompt goes before it; `thinking` triggers it too.
        let out = run_for(
            &magistral,
            json!({"model": "m", "thinking": {"type": "enabled"},
                   "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "Be brief."}]}),
        );
        assert!(out.get("thinking").is_none());
        assert_eq!(out["messages"].as_array().unwrap().len(), 2);
        assert_eq!(
            out["messages"][1]["content"],
            format!("{MISTRAL_REASONING_PROMPT}\n\nBe brief.")
        );
        // A system part list: the prompt becomes the first part.
        let out = run_for(
            &magistral,
            json!({"model": "m", "reasoning_effort": "high",
                   "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]}),
        );
        assert_eq!(
            out["messages"][0]["content"][0]["text"],
            format!("{MISTRAL_REASONING_PROMPT}\n\n")
        );
        assert_eq!(out["messages"][0]["content"][1]["text"], "Be brief.");
        // Not asked: messages untouched.
        let out = run_for(
            &magistral,
            json!({"model": "m", "messages": [{"role": "user", "content": "a"}]}),
        );
        assert_eq!(out["messages"].as_array().unwrap().len(), 1);
        // Only Magistral takes the parameters.
        assert!(!unsupported_params(
            ProviderKind::Mistral,
            Endpoint::ChatCompletions,
            "magistral-small-2506"
        )
        .unwrap()
        .contains(&"reasoning_effort"));
        assert!(unsupported_params(
            ProviderKind::Mistral,
            Endpoint::ChatCompletions,
            "mistral-large-latest"
        )
        .unwrap()
        .contains(&"reasoning_effort"));
    }

    /// A Magistral answer as Mistral's chat API returns it (content chunks; docs.mistral.ai
    /// "Reasoning": `thinking` chunks hold text parts).
    const MAGISTRAL_ANSWER: &str = r#"{"id":"a1","object":"chat.completion","created":1,"model":"magistral-medium-2506","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"2 and 2 "},{"type":"text","text":"make 4."}]},{"type":"text","text":"4"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}}"#;

    #[test]
    fn magistral_content_chunks_become_reasoning_content() {
        let fix = quirks_for(ProviderKind::Mistral, "magistral-medium-2506")
            .answer_fix()
            .unwrap();
        let out: Value =
            serde_json::from_slice(&fix.fix_answer(MAGISTRAL_ANSWER.as_bytes().to_vec())).unwrap();
        let message = &out["choices"][0]["message"];
        assert_eq!(message["content"], "4");
        assert_eq!(message["reasoning_content"], "2 and 2 make 4.");
        assert_eq!(out["usage"]["total_tokens"], 17);
        assert_eq!(fix.cost_of(MAGISTRAL_ANSWER.as_bytes()), None);
        // Empty content is null (Mistral's `_handle_empty_content_response`).
        let empty = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[]}}]}"#;
        let out: Value = serde_json::from_slice(&fix.fix_answer(empty.to_vec())).unwrap();
        assert!(out["choices"][0]["message"]["content"].is_null());
        // Plain chunks are not even parsed; a chunk delta list is flattened.
        assert_eq!(
            fix.fix_chunk(r#"{"choices":[{"index":0,"delta":{"content":"4"}}]}"#),
            None
        );
        let fixed = fix
            .fix_chunk(r#"{"choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]}]}}]}"#)
            .unwrap();
        let v: Value = serde_json::from_str(&fixed).unwrap();
        assert!(v["choices"][0]["delta"]["content"].is_null());
        assert_eq!(v["choices"][0]["delta"]["reasoning_content"], "hm");
        // Other Mistral models keep their answers as they come.
        assert_eq!(
            quirks_for(ProviderKind::Mistral, "mistral-large").answer_fix(),
            None
        );
    }

    #[test]
    fn openrouter_asks_for_cost_and_reports_reasoning() {
        let q = quirks_for(ProviderKind::Openrouter, "anthropic/claude-3.5-sonnet");
        let out = run_for(&q, json!({"model": "m", "messages": []}));
        assert_eq!(out["usage"], json!({"include": true}));
        let out = run_for(
            &q,
            json!({"model": "m", "messages": [], "usage": {"include": false}}),
        );
        assert_eq!(
            out["usage"],
            json!({"include": false}),
            "the client's own choice stays"
        );
        let fix = q.answer_fix().unwrap();
        let answer = br#"{"id":"gen-1","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning":"2+2=4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"cost":0.000123}}"#;
        assert_eq!(fix.cost_of(answer), Some(0.000123));
        let out: Value = serde_json::from_slice(&fix.fix_answer(answer.to_vec())).unwrap();
        assert_eq!(out["choices"][0]["message"]["reasoning_content"], "2+2=4");
        assert_eq!(out["choices"][0]["message"]["content"], "4");
        let chunk = fix
            .fix_chunk(r#"{"choices":[{"index":0,"delta":{"reasoning":"thinking"}}]}"#)
            .unwrap();
        assert!(
            chunk.contains(r#""reasoning_content":"thinking""#),
            "{chunk}"
        );
        assert_eq!(
            fix.fix_chunk(r#"{"choices":[{"index":0,"delta":{"reasoning":null,"content":"x"}}]}"#),
            None
        );
        assert_eq!(fix.cost_of(br#"{"usage":{"cost":-1}}"#), None);
    }
}
