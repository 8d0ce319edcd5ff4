//! What the router stage hands on: the route facts the upstream stage reads from
//! filter state, where a request is in its fallbacks, and the internal redirect
//! paths of error fallbacks.

use super::*;

/// What the router stage decided, as the upstream stage needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFacts {
    /// The endpoint called (as the providers see it).
    pub endpoint: Endpoint,
    /// The format the client speaks (Anthropic's `/v1/messages` is a chat
    /// completion in [`ClientApi::Messages`]).
    pub api: ClientApi,
    /// The model the client asked for (after aliases).
    pub model: String,
    /// For a wildcard group, the part of the model that matched `*`.
    pub wildcard: Option<String>,
    /// Set when this request is an error fallback (see [`FALLBACK_PATH_PREFIX`]).
    pub error_fallback: Option<ErrorFallbackStep>,
    /// The request's own `fallbacks`, when it has any (see `per_request`).
    pub request_fallbacks: Option<RequestFallbacks>,
    /// The request's call id (`observe::call`): the upstream stage leaves each
    /// attempt's record under it, and an error fallback's redirect carries it.
    pub call_id: String,
    /// When the request came (Unix ms), carried with the call id.
    pub call_start_ms: u64,
}

/// What the upstream stage needs to move a request along its own `fallbacks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFallbacks {
    /// Groups in the chain (the group asked for not counted).
    pub len: u32,
    /// Attempts Envoy makes on one group (retries + 1): an error Envoy retries is
    /// final only on the last one.
    pub attempts: u32,
    /// The chain came as a list of groups, which LiteLLM uses for every error
    /// (context-window and content-policy ones included); LiteLLM's mapping form
    /// (`[{"group": [...]}]`) leaves those to the config's own chains.
    pub from_list: bool,
    /// The routes' retry policy.
    pub retries: crate::plugin_config::GroupRetries,
}

impl RequestFallbacks {
    /// One line: `len;attempts;list|map;server_errors;rate_limited;statuses`.
    fn encode(&self) -> String {
        let statuses: Vec<String> = self.retries.statuses.iter().map(u16::to_string).collect();
        format!(
            "{};{};{};{};{};{}",
            self.len,
            self.attempts,
            if self.from_list { "list" } else { "map" },
            u8::from(self.retries.server_errors),
            u8::from(self.retries.rate_limited),
            statuses.join(",")
        )
    }

    fn decode(line: &str) -> Option<RequestFallbacks> {
        let mut parts = line.split(';');
        let len = parts.next()?.parse().ok()?;
        let attempts = parts.next()?.parse().ok()?;
        let from_list = match parts.next()? {
            "list" => true,
            "map" => false,
            _ => return None,
        };
        let flag = |p: Option<&str>| match p {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        };
        let server_errors = flag(parts.next())?;
        let rate_limited = flag(parts.next())?;
        let statuses = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|s| s.parse().ok())
                .collect::<Option<Vec<u16>>>()?,
        };
        Some(RequestFallbacks {
            len,
            attempts,
            from_list,
            retries: crate::plugin_config::GroupRetries {
                num_retries: attempts.saturating_sub(1),
                server_errors,
                rate_limited,
                statuses,
            },
        })
    }
}

/// Where a request is in an error-fallback chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFallbackStep {
    /// Which chain.
    pub kind: ErrorKind,
    /// The group whose chain it is (the group the client's model resolved to).
    pub origin: String,
    /// Index in the chain of the group serving this request.
    pub step: u32,
}

/// Path prefix of the internal redirect an upstream stage answers with when a
/// provider error has an error fallback:
/// `/switchyard-fallback/{kind}/{step}/{percent-encoded origin group}/{original path}`.
/// Envoy replays the buffered request on it, and this stage routes it to the chain's
/// `step`-th group.
pub const FALLBACK_PATH_PREFIX: &str = "/switchyard-fallback/";
pub use switchyard_contract::routing::MAX_REQUEST_FALLBACKS;

/// Parses a fallback path into the step and the original path.
pub fn parse_fallback_path(path: &str) -> Option<(ErrorFallbackStep, String)> {
    let rest = path.strip_prefix(FALLBACK_PATH_PREFIX)?;
    let mut parts = rest.splitn(4, '/');
    let kind = ErrorKind::parse(parts.next()?)?;
    let step = parts.next()?.parse().ok()?;
    let origin = percent_decode(parts.next()?)?;
    let original = format!("/{}", parts.next()?);
    Some((ErrorFallbackStep { kind, origin, step }, original))
}

/// Decodes `%XX` escapes (as written by `providers::openai::percent_encode_segment`).
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RouteFacts {
    /// Eight lines: endpoint (`messages` or `count_tokens` for the Anthropic APIs),
    /// model, `-` or `+wildcard`, then origin, kind and step of an error fallback
    /// (empty when none), then the request's own fallbacks (empty when none), then
    /// the call id and its start (`id start`). Model and group names never hold
    /// newlines.
    pub fn encode(&self) -> Vec<u8> {
        let wildcard = match &self.wildcard {
            Some(w) => format!("+{w}"),
            None => "-".to_string(),
        };
        let (origin, kind, step) = match &self.error_fallback {
            Some(f) => (f.origin.as_str(), f.kind.as_str(), f.step.to_string()),
            None => ("", "", String::new()),
        };
        let endpoint = match self.api {
            ClientApi::OpenAi => self.endpoint.as_str(),
            ClientApi::Messages => "messages",
            ClientApi::CountTokens => "count_tokens",
        };
        let request_fallbacks = self
            .request_fallbacks
            .as_ref()
            .map(RequestFallbacks::encode)
            .unwrap_or_default();
        format!(
            "{endpoint}\n{}\n{wildcard}\n{origin}\n{kind}\n{step}\n{request_fallbacks}\n{} {}",
            self.model, self.call_id, self.call_start_ms
        )
        .into_bytes()
    }

    /// Inverse of [`RouteFacts::encode`].
    pub fn decode(bytes: &[u8]) -> Option<RouteFacts> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.split('\n');
        let (endpoint, api) = match lines.next()? {
            "messages" => (Endpoint::ChatCompletions, ClientApi::Messages),
            "count_tokens" => (Endpoint::ChatCompletions, ClientApi::CountTokens),
            other => (Endpoint::parse(other)?, ClientApi::OpenAi),
        };
        let model = lines.next()?.to_string();
        let wildcard = match lines.next()? {
            "-" => None,
            w => Some(w.strip_prefix('+')?.to_string()),
        };
        let origin = lines.next()?;
        let kind = lines.next()?;
        let step = lines.next()?;
        let error_fallback = match ErrorKind::parse(kind) {
            Some(kind) => Some(ErrorFallbackStep {
                kind,
                origin: origin.to_string(),
                step: step.parse().ok()?,
            }),
            None => None,
        };
        let request_fallbacks = match lines.next()? {
            "" => None,
            line => Some(RequestFallbacks::decode(line)?),
        };
        let (call_id, call_start_ms) = lines
            .next()
            .and_then(|line| line.split_once(' '))
            .map(|(id, start)| (id.to_string(), start.parse().unwrap_or(0)))
            .unwrap_or_default();
        Some(RouteFacts {
            endpoint,
            api,
            model,
            wildcard,
            error_fallback,
            request_fallbacks,
            call_id,
            call_start_ms,
        })
    }
}
