//! What each OpenAI-compatible provider does differently (`Quirks`), its
//! parameter table and model prefix.

use super::*;

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
pub(super) fn is_mistral_reasoning_model(model: &str) -> bool {
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
