//! The record of one client request, the input of every observer (metrics,
//! callbacks, logs). Plain data: built by the stages, read by the observers, never
//! sent as such between processes (each observer writes its own wire format).

use crate::cost::Usage;

/// Who the request was admitted for, as the metrics and callbacks label it. Never a
/// plaintext key: `hashed_api_key` is the keyservice's token hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLabels {
    /// The key's token hash (LiteLLM's `hashed_api_key`); empty for the master key
    /// or an open gateway.
    pub hashed_api_key: String,
    /// The key's alias (`key_alias`), when it has one.
    pub api_key_alias: String,
    /// The key's team id.
    pub team: String,
    /// The team's alias.
    pub team_alias: String,
    /// The key's user id.
    pub user: String,
}

/// One upstream attempt of a request: one deployment tried once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptRecord {
    /// The deployment's id (`model_info.id`, LiteLLM's `model_id`).
    pub model_id: String,
    /// The deployment's LiteLLM model name (`litellm_params.model`, e.g.
    /// `openai/gpt-4o`): LiteLLM's `model` / `litellm_model_name` label.
    pub model: String,
    /// The model group the deployment serves.
    pub model_group: String,
    /// LiteLLM's provider name (`openai`, `anthropic`, …): the `api_provider` label.
    pub api_provider: String,
    /// The deployment's `api_base`.
    pub api_base: String,
    /// The provider's HTTP status; 0 when the attempt ended without one (reset,
    /// timeout, the client left).
    pub status: u16,
    /// Which fallback group served it: 0 for the group asked for, then 1, 2, …
    pub fallback_index: u32,
    /// When the attempt started and ended (Unix milliseconds).
    pub start_ms: u64,
    /// See `start_ms`.
    pub end_ms: u64,
    /// When the first byte of a successful answer's body came (a stream's first
    /// chunk), Unix milliseconds.
    pub first_token_ms: Option<u64>,
    /// The answer's usage, when known.
    pub usage: Option<Usage>,
    /// What the answer cost (USD), when priced.
    pub spend: f64,
    /// The provider's error message, for a failed attempt.
    pub error: Option<String>,
    /// For an attempt that ended in an error fallback's internal redirect: the
    /// random token the redirect carries, which lets the replay continue this call
    /// (`observe::call`). Never shown to a client; not a label.
    pub redirect_token: Option<String>,
}

impl AttemptRecord {
    /// The provider answered with success.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One client request, from its first byte to its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestRecord {
    /// The gateway's id of the request (LiteLLM's call id, `x-litellm-call-id`):
    /// drawn by the gateway, never a client's value.
    pub call_id: String,
    /// The client-facing route (`/v1/chat/completions`, `/v1/messages`, …).
    pub route: String,
    /// LiteLLM's call type (`acompletion`, `aembedding`, `anthropic_messages`, …).
    pub call_type: String,
    /// The model the client asked for (before aliases): `requested_model`.
    pub requested_model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The HTTP status the client got.
    pub status: u16,
    /// The error message the client got, for a failed request.
    pub error: Option<String>,
    /// When the request came and when its answer ended (Unix milliseconds).
    pub start_ms: u64,
    /// See `start_ms`.
    pub end_ms: u64,
    /// Who it was admitted for.
    pub key: KeyLabels,
    /// The request's `user` field (LiteLLM's `end_user`), bounded.
    pub end_user: String,
    /// The request's attempts, in order (none for a request answered by the
    /// gateway itself).
    pub attempts: Vec<AttemptRecord>,
    /// What the logging callbacks say beyond the facts above (the client's metadata,
    /// parameters, message content), when callbacks are configured.
    pub details: Option<Box<super::details::RequestDetails>>,
}

impl RequestRecord {
    /// The attempt that produced the client's answer (the last one), if any.
    pub fn final_attempt(&self) -> Option<&AttemptRecord> {
        self.attempts.last()
    }

    /// The request failed (the client got no 2xx).
    pub fn failed(&self) -> bool {
        !(200..300).contains(&self.status)
    }

    /// Total latency in seconds (LiteLLM's `litellm_request_total_latency_metric`).
    pub fn total_latency_secs(&self) -> f64 {
        self.end_ms.saturating_sub(self.start_ms) as f64 / 1000.0
    }
}
