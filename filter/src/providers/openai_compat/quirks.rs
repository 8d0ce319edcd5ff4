//! What each OpenAI-compatible provider does differently (`Quirks`), its
//! parameter table and model prefix.

use super::*;

pub use crate::providers::quirks::{Quirks, ToolChoice};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
