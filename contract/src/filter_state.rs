//! Filter-state properties that Envoy's configuration reads: the filter writes them,
//! the config compiler renders the expressions and access-log formats that read
//! them (as `wasm.<name>`).

/// Set to [`API_ANTHROPIC`] by the router stage for a request routed from an
/// Anthropic-format route (`/v1/messages`): Envoy's own error replies
/// (`local_reply_config`) take Anthropic's shape for it. Absent for every other
/// request.
pub const API_PROPERTY: &str = "switchyard_api";
/// The value of [`API_PROPERTY`] for an Anthropic-format request.
pub const API_ANTHROPIC: &str = "anthropic";

/// The request's call id (LiteLLM's `litellm_call_id`, a UUID v4 drawn by the router
/// stage, never a client's value), set when the request's headers come: read by the
/// responder stage (its answers' `x-litellm-call-id`) and by the access log.
pub const CALL_ID_PROPERTY: &str = "switchyard_call_id";
/// When the request came (Unix milliseconds), set with [`CALL_ID_PROPERTY`]: the
/// responder stage's answers measure their `x-litellm-response-duration-ms` from it.
pub const CALL_START_PROPERTY: &str = "switchyard_call_start_ms";

/// Filter state the router stage sets when a request's answer ends (and again when
/// the request is logged), for the access log (`%FILTER_STATE(wasm.<name>:PLAIN)%`):
/// each a plain text value, absent (the log prints `-`) when unknown. See
/// `docs/observability.md` for the schema.
pub mod access_log {
    /// Prompt tokens of the answer.
    pub const PROMPT_TOKENS: &str = "switchyard_prompt_tokens";
    /// Completion tokens of the answer.
    pub const COMPLETION_TOKENS: &str = "switchyard_completion_tokens";
    /// Total tokens of the answer.
    pub const TOTAL_TOKENS: &str = "switchyard_total_tokens";
    /// What the request cost (USD), every attempt together.
    pub const SPEND: &str = "switchyard_spend";
    /// The virtual key's alias.
    pub const KEY_ALIAS: &str = "switchyard_key_alias";
    /// The virtual key's user id.
    pub const USER: &str = "switchyard_user";
    /// The virtual key's team id.
    pub const TEAM: &str = "switchyard_team";
    /// The request's `user` field (LiteLLM's end user), bounded.
    pub const END_USER: &str = "switchyard_end_user";
    /// Milliseconds from the request's start to the answer's first token.
    pub const TIME_TO_FIRST_TOKEN_MS: &str = "switchyard_ttft_ms";
    /// Whether the answer came from the response cache (`false` until it exists).
    pub const CACHE_HIT: &str = "switchyard_cache_hit";
    /// The model the client asked for (before aliases), bounded.
    pub const REQUESTED_MODEL: &str = "switchyard_requested_model";
    /// The deployment that answered (`model_info.id`).
    pub const MODEL_ID: &str = "switchyard_model_id";
    /// The access log's JSON fields and the property each prints, for the config
    /// compiler's access-log format (the call id is [`super::CALL_ID_PROPERTY`]).
    pub const FIELDS: [(&str, &str); 13] = [
        ("call_id", super::CALL_ID_PROPERTY),
        ("prompt_tokens", PROMPT_TOKENS),
        ("completion_tokens", COMPLETION_TOKENS),
        ("total_tokens", TOTAL_TOKENS),
        ("spend", SPEND),
        ("key_alias", KEY_ALIAS),
        ("user", USER),
        ("team", TEAM),
        ("end_user", END_USER),
        ("ttft_ms", TIME_TO_FIRST_TOKEN_MS),
        ("cache_hit", CACHE_HIT),
        ("requested_model", REQUESTED_MODEL),
        ("model_id", MODEL_ID),
    ];
}
