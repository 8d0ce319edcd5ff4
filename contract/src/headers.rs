//! Header names that cross a process boundary: between the filter's stages and
//! Envoy's routes, between Envoy's ext_authz and the keyservice, and between the
//! client and the keyservice. Each says who writes it and who reads it; the config
//! compiler renders Envoy's lists (routes, ext_authz `allowed_headers`,
//! `allowed_upstream_headers`, internal redirects) from the lists here.

/// Written by the router stage (the model group's route key); read by the routes
/// Envoy matches (the config compiler renders them) and, through ext_authz, by the
/// keyservice (the group the key must be allowed).
pub const GROUP_HEADER: &str = "x-switchyard-group";
/// Written by the router stage on streamed calls (`1`); read by the routes: they take
/// the group's stream route, whose per-try timeout is the wait for the first byte
/// (`stream_timeout`).
pub const STREAM_HEADER: &str = "x-switchyard-stream";
/// Written by the router stage: the model groups of the request's own `fallbacks`
/// (comma-separated route keys); read by the keyservice through ext_authz, which
/// refuses a key that may not use one of them.
pub const FALLBACK_GROUPS_HEADER: &str = "x-switchyard-fallback-groups";
/// Written by the router stage (first pass only): the model exactly as the client
/// asked for it; read by the keyservice through ext_authz (a key's `aliases` apply
/// to it, as in LiteLLM).
pub const REQUESTED_MODEL_HEADER: &str = "x-switchyard-requested-model";
/// Written by the keyservice (through ext_authz) when one of the key's `aliases`
/// applied: the model the key was checked for; read by the responder stage, which
/// routes the request there.
pub const ALIAS_TARGET_HEADER: &str = "x-switchyard-alias-target";
/// Written by the keyservice (through ext_authz) at every admission: the request's
/// admission id, random and never shown to a client or a provider; read by the
/// responder stage (spend rows are keyed on it). The upstream stage's internal
/// redirect carries it, so the replay's check asks the keyservice to continue the
/// admission. A client's own is removed by the router stage.
pub const ADMISSION_HEADER: &str = "x-switchyard-admission";
/// Written by the keyservice (through ext_authz): the key's token hash; read by the
/// responder stage for spend reports.
pub const KEY_HASH_HEADER: &str = "x-switchyard-key-hash";
/// Written by the keyservice (through ext_authz): the key's user; read by the
/// responder stage for spend reports.
pub const USER_ID_HEADER: &str = "x-switchyard-user-id";
/// Written by the keyservice (through ext_authz): the key's team; read by the
/// responder stage for spend reports.
pub const TEAM_ID_HEADER: &str = "x-switchyard-team-id";
/// Written by the keyservice (through ext_authz): the parallel-request lease (the
/// admission id, when the admission took limits); read by the responder stage, which
/// releases it when the request ends.
pub const LEASE_HEADER: &str = "x-switchyard-lease";
/// Written by the keyservice (through ext_authz): the model groups the key may use,
/// comma-separated (absent: all); read by the responder stage, which narrows
/// `/models` to them.
pub const KEY_MODELS_HEADER: &str = "x-switchyard-key-models";
/// Written by the keyservice (through ext_authz) when the key, or its team, allows
/// clients' own `mock_response` (`"allow_client_mock_response": true` in its
/// metadata, LiteLLM's rule), with the value [`CLIENT_MOCK_ALLOWED`]; read by the
/// responder stage. A client's own header of this name is removed by the router
/// stage before the key check.
pub const CLIENT_MOCK_HEADER: &str = "x-switchyard-client-mock";
/// The value of [`CLIENT_MOCK_HEADER`].
pub const CLIENT_MOCK_ALLOWED: &str = "allowed";
/// Written by the keyservice (through ext_authz): the key's alias (`key_alias`), when
/// it has one; read by the responder stage for the request's record (metrics,
/// callbacks, access log). Never a key.
pub const KEY_ALIAS_HEADER: &str = "x-switchyard-key-alias";
/// Written by the keyservice (through ext_authz): the alias of the key's team, when
/// it has one; read by the responder stage for the request's record.
pub const TEAM_ALIAS_HEADER: &str = "x-switchyard-team-alias";
/// Written by the keyservice (through ext_authz) for a virtual key: the key's spend
/// when it was admitted (USD, reset-aware), as a decimal number; read by the
/// responder stage for the budget gauges (`litellm_remaining_api_key_budget_metric`,
/// LiteLLM's `user_api_key_spend`). A client's own is removed by the router stage.
pub const KEY_SPEND_HEADER: &str = "x-switchyard-key-spend";
/// Written by the keyservice (through ext_authz) when the key has a `max_budget`
/// (USD); absent: no budget. Read as [`KEY_SPEND_HEADER`] is.
pub const KEY_MAX_BUDGET_HEADER: &str = "x-switchyard-key-max-budget";
/// Written by the keyservice (through ext_authz) for a key with a team: the team's
/// spend when the request was admitted (USD, reset-aware); read by the responder
/// stage for `litellm_remaining_team_budget_metric`.
pub const TEAM_SPEND_HEADER: &str = "x-switchyard-team-spend";
/// Written by the keyservice (through ext_authz) when the key's team has a
/// `max_budget` (USD); absent: no budget. Read as [`TEAM_SPEND_HEADER`] is.
pub const TEAM_MAX_BUDGET_HEADER: &str = "x-switchyard-team-max-budget";
/// Written by the upstream stage on the internal redirect of an error fallback: the
/// request's call id, which Envoy copies onto the replay
/// (`response_headers_to_copy`); read by the router stage on the replay only, and
/// trusted only for a call its worker has attempts of. A client's own is removed.
pub const CALL_ID_CARRIER_HEADER: &str = "x-switchyard-call-id";
/// Response header: the request's call id (LiteLLM's name), on every answer.
pub const CALL_ID_RESPONSE_HEADER: &str = "x-litellm-call-id";
/// Response header: milliseconds from the request's start to its response headers,
/// printed as LiteLLM prints it (a Python float).
pub const RESPONSE_DURATION_HEADER: &str = "x-litellm-response-duration-ms";
/// Response header: the gateway's own part of the response duration (the duration
/// minus the time spent waiting for providers), in milliseconds.
pub const OVERHEAD_DURATION_HEADER: &str = "x-litellm-overhead-duration-ms";
/// Written by the keyservice (through ext_authz) when the request presented the
/// master key, with the value [`KEY_ADMIN_MASTER`]; read by the responder stage,
/// which answers `/health` only to the proxy admin. A client's own header of this
/// name is removed by the router stage before the key check.
pub const KEY_ADMIN_HEADER: &str = "x-switchyard-key-admin";
/// The value of [`KEY_ADMIN_HEADER`].
pub const KEY_ADMIN_MASTER: &str = "master";
/// Written by the filter on its own health probes (`GET /health`: one
/// `dispatch_http_call` per deployment to the deployment's probe cluster): the
/// deployment id the upstream stage must translate for. Honoured only on a request
/// that did not come through the router stage (no route facts); the router stage
/// removes a client's own header of this name.
pub const HEALTH_PROBE_HEADER: &str = "x-switchyard-health-probe";
/// Written by the keyservice on its own check answer: the model after the key's
/// aliases. Not among [`KEY_HEADERS`], so Envoy never passes it upstream.
pub const MODEL_HEADER: &str = "x-switchyard-model";

/// Envoy's router header for a request's retries: written by the router stage
/// (per-request `num_retries`); read by Envoy. A client's own is removed first.
pub const RETRIES_HEADER: &str = "x-envoy-max-retries";
/// Envoy's router header for a request's timeout: written by the router stage
/// (per-request `timeout`); read by Envoy. A client's own is removed first.
pub const TIMEOUT_HEADER: &str = "x-envoy-upstream-rq-timeout-ms";
/// Envoy's router header for a try's timeout: written by the router stage (streams);
/// read by Envoy. A client's own is removed first.
pub const PER_TRY_TIMEOUT_HEADER: &str = "x-envoy-upstream-rq-per-try-timeout-ms";

/// Request headers a client's gateway credentials come in (LiteLLM's: OpenAI
/// `Authorization: Bearer`, `x-litellm-api-key`, Azure's `api-key`, Anthropic's
/// `x-api-key`, Google's `x-goog-api-key`). Written by the client; ext_authz sends
/// these to the keyservice, which reads them; an internal redirect restores them
/// from the client's originals (the filter's `credentials`).
pub const CLIENT_CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "x-litellm-api-key",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
];

/// The headers the router stage writes for the key check, beyond the client's
/// credentials: ext_authz passes exactly these (and
/// [`CLIENT_CREDENTIAL_HEADERS`]) to the keyservice (`allowed_headers`).
pub const CHECK_REQUEST_HEADERS: [&str; 4] = [
    GROUP_HEADER,
    REQUESTED_MODEL_HEADER,
    FALLBACK_GROUPS_HEADER,
    // A replay's admission id, to continue its admission.
    ADMISSION_HEADER,
];

/// Headers the upstream stage's error-fallback redirect carries to the replay,
/// beyond the client's credentials (Envoy's `response_headers_to_copy`): the
/// admission it continues and the call it continues.
pub const REDIRECT_CARRIED_HEADERS: [&str; 2] = [ADMISSION_HEADER, CALL_ID_CARRIER_HEADER];

/// Headers the keyservice adds to an admitted request (through ext_authz), for the
/// responder stage and spend recording: Envoy lets exactly these through
/// (`allowed_upstream_headers`), and a client can never set them (the router stage
/// removes them).
pub const KEY_HEADERS: [&str; 15] = [
    ALIAS_TARGET_HEADER,
    KEY_HASH_HEADER,
    USER_ID_HEADER,
    TEAM_ID_HEADER,
    LEASE_HEADER,
    KEY_MODELS_HEADER,
    CLIENT_MOCK_HEADER,
    ADMISSION_HEADER,
    KEY_ALIAS_HEADER,
    TEAM_ALIAS_HEADER,
    KEY_ADMIN_HEADER,
    KEY_SPEND_HEADER,
    KEY_MAX_BUDGET_HEADER,
    TEAM_SPEND_HEADER,
    TEAM_MAX_BUDGET_HEADER,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_and_distinct() {
        let all: Vec<&str> = [
            GROUP_HEADER,
            STREAM_HEADER,
            FALLBACK_GROUPS_HEADER,
            REQUESTED_MODEL_HEADER,
            MODEL_HEADER,
            RETRIES_HEADER,
            TIMEOUT_HEADER,
            PER_TRY_TIMEOUT_HEADER,
            CALL_ID_CARRIER_HEADER,
            CALL_ID_RESPONSE_HEADER,
            RESPONSE_DURATION_HEADER,
            OVERHEAD_DURATION_HEADER,
            HEALTH_PROBE_HEADER,
        ]
        .into_iter()
        .chain(KEY_HEADERS)
        .chain(CLIENT_CREDENTIAL_HEADERS)
        .collect();
        let mut seen = std::collections::HashSet::new();
        for name in all {
            assert_eq!(name, name.to_ascii_lowercase());
            assert!(seen.insert(name), "{name} twice");
        }
        // The keyservice's headers for the check never come from the router stage.
        assert!(CHECK_REQUEST_HEADERS
            .iter()
            .all(|h| *h == ADMISSION_HEADER || !KEY_HEADERS.contains(h)));
    }
}
