//! The request rewrites an attempt carries (`Quirks`: what an OpenAI-compatible
//! cloud does differently, looked up per deployment in `openai_compat`) and what a
//! rewrite means for the answer (`Rewritten`). Below both the `Provider` trait and
//! the providers, so the trait can name them without importing a provider.

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
    /// `reasoning_content` (`openai_compat::AnswerFix`).
    pub mistral_reasoning: bool,
    /// OpenRouter (`OpenrouterConfig`): `usage: {"include": true}` is added so every
    /// answer reports its cost, which becomes the request's spend; `reasoning` in
    /// answers and stream deltas is also given as `reasoning_content`.
    pub openrouter: bool,
}

impl Quirks {
    /// No rewrite at all: every provider outside `openai_compat`, and OpenAI itself.
    pub const NONE: Quirks = Quirks {
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

/// What a request's rewrite means for its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The answer's `json_tool_call` arguments become its content (`openai_compat::json_tool_answer`).
    pub json_tool: bool,
    /// The client asked for a stream that was sent as a plain request: the answer is
    /// replayed as a stream (`openai_compat::fake_stream`).
    pub fake_stream: bool,
}
