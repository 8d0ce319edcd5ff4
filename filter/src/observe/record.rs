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

/// A scope's budget when the request was admitted (the keyservice's
/// `switchyard_contract::headers::KEY_SPEND_HEADER` and its siblings): LiteLLM's
/// `user_api_key_spend` / `user_api_key_max_budget` (and the team's), which the
/// remaining-budget gauges start from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Spend before this request (USD).
    pub spend: f64,
    /// The scope's `max_budget` (USD); `None`: no budget.
    pub max_budget: Option<f64>,
}

impl Budget {
    /// LiteLLM's `_safe_get_remaining_budget` after a request that cost `cost`:
    /// `max_budget - (spend + cost)`, `+Inf` without a budget.
    pub fn remaining_after(&self, cost: f64) -> f64 {
        match self.max_budget {
            Some(max) => max - (self.spend + cost),
            None => f64::INFINITY,
        }
    }
}

/// The key's and its team's budgets at admission, when the keyservice said them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AdmissionBudgets {
    /// The virtual key's (none for the master key or an open gateway).
    pub key: Option<Budget>,
    /// The key's team's, when it has a team.
    pub team: Option<Budget>,
}

/// Filter state carrying [`AdmissionBudgets`] from the responder stage (which reads
/// the keyservice's headers) to the request's record.
pub const BUDGETS_PROPERTY: &str = "switchyard_budgets";

impl AdmissionBudgets {
    /// From the keyservice's four header values (spend, max budget; key, team): a
    /// scope counts only with a finite spend; a max budget that is not a finite
    /// number is no budget.
    pub fn from_headers(
        key_spend: Option<&str>,
        key_max: Option<&str>,
        team_spend: Option<&str>,
        team_max: Option<&str>,
    ) -> AdmissionBudgets {
        let number = |v: Option<&str>| {
            v.and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite())
        };
        let budget = |spend: Option<&str>, max: Option<&str>| {
            number(spend).map(|spend| Budget {
                spend,
                max_budget: number(max),
            })
        };
        AdmissionBudgets {
            key: budget(key_spend, key_max),
            team: budget(team_spend, team_max),
        }
    }

    /// Four lines (key spend, key max, team spend, team max; empty for none).
    pub fn encode(&self) -> Vec<u8> {
        let n = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{}\n{}\n{}\n{}",
            n(self.key.map(|b| b.spend)),
            n(self.key.and_then(|b| b.max_budget)),
            n(self.team.map(|b| b.spend)),
            n(self.team.and_then(|b| b.max_budget)),
        )
        .into_bytes()
    }

    /// Inverse of [`AdmissionBudgets::encode`]; anything else reads as no budgets.
    pub fn decode(raw: &[u8]) -> AdmissionBudgets {
        let Ok(text) = std::str::from_utf8(raw) else {
            return AdmissionBudgets::default();
        };
        let mut l = text.split('\n').map(|v| Some(v).filter(|v| !v.is_empty()));
        let mut next = || l.next().flatten();
        let (ks, km, ts, tm) = (next(), next(), next(), next());
        AdmissionBudgets::from_headers(ks, km, ts, tm)
    }
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
    /// The key's and its team's budgets at admission (the budget gauges).
    pub budgets: AdmissionBudgets,
    /// The request's `user` field (LiteLLM's `end_user`), bounded.
    pub end_user: String,
    /// The client's address without its port (Envoy's `source.address`: the
    /// downstream remote address, which is `x-forwarded-for`'s only when Envoy's
    /// connection manager is configured to trust it): LiteLLM's `client_ip`.
    pub client_ip: String,
    /// The client's `user-agent` header, bounded: LiteLLM's `user_agent`.
    pub user_agent: String,
    /// The request's attempts, in order (none for a request answered by the
    /// gateway itself).
    pub attempts: Vec<AttemptRecord>,
    /// What the logging callbacks say beyond the facts above (the client's metadata,
    /// parameters, message content), when callbacks are configured.
    pub details: Option<Box<super::details::RequestDetails>>,
}

/// An address as Envoy prints it (`1.2.3.4:5678`, `[::1]:5678`, or a bare address)
/// without its port.
pub fn address_without_port(address: &str) -> &str {
    let address = address.trim();
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match address.rsplit_once(':') {
        // One colon: an IPv4 address (or a name) and a port.
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => address,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_loses_its_port() {
        assert_eq!(address_without_port("10.0.0.7:51234"), "10.0.0.7");
        assert_eq!(address_without_port("[::1]:8080"), "::1");
        assert_eq!(address_without_port("[2001:db8::2]"), "2001:db8::2");
        assert_eq!(address_without_port("2001:db8::2"), "2001:db8::2");
        assert_eq!(address_without_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(address_without_port(""), "");
    }

    #[test]
    fn budgets_round_trip_and_refuse_what_is_not_a_number() {
        let b = AdmissionBudgets::from_headers(Some("1.25"), Some("10"), Some("7.5"), None);
        assert_eq!(
            b.key,
            Some(Budget {
                spend: 1.25,
                max_budget: Some(10.0)
            })
        );
        assert_eq!(
            b.team,
            Some(Budget {
                spend: 7.5,
                max_budget: None
            })
        );
        assert_eq!(AdmissionBudgets::decode(&b.encode()), b);
        assert_eq!(b.key.map(|k| k.remaining_after(0.25)), Some(8.5));
        assert_eq!(b.team.map(|t| t.remaining_after(1.0)), Some(f64::INFINITY));
        let junk = AdmissionBudgets::from_headers(Some("NaN"), Some("inf"), Some("x"), Some("1"));
        assert_eq!(junk, AdmissionBudgets::default());
        assert_eq!(AdmissionBudgets::decode(b""), AdmissionBudgets::default());
        assert_eq!(
            AdmissionBudgets::decode(&[0xff]),
            AdmissionBudgets::default()
        );
    }
}
