//! `local_reply_config`: Envoy's own replies (connect failure, reset, timeout, 413,
//! an oversized answer, an unreachable keyservice) as OpenAI-shaped JSON, or
//! Anthropic-shaped for Anthropic-format clients.

use serde_json::{json, Value};
use switchyard_contract::error_body::{anthropic_error_value, openai_error_value, GatewayError};
use switchyard_contract::filter_state::{API_ANTHROPIC, API_PROPERTY};

use super::READINESS_PATH_REGEX;
use crate::plan::Plan;

/// Every `local_reply_config` mapper, in Envoy's order (the first that matches
/// wins): Envoy's own errors as OpenAI-shaped JSON, each first in Anthropic's shape
/// for Anthropic-format clients; with virtual keys, the keyservice's unavailability
/// too, and readiness before all.
pub(super) fn mappers(plan: &Plan, buffer_limit: usize) -> Vec<Value> {
    let mut mappers = Vec::new();
    if plan.keys.is_some() {
        mappers.push(keyservice_unavailable_mapper());
    }
    mappers.extend([
        mapper(&["UF", "UC", "LR", "UPE"], 502, "api_connection_error", "Could not reach the model provider"),
        // UH: every deployment of the group and its fallbacks is cooling down.
        mapper(&["UH"], 503, "service_unavailable_error", "No deployments available for the selected model: all are cooling down after repeated failures (cooldown_time), try again shortly"),
        // Before URX: attempts that all timed out per try are flagged both.
        mapper(&["UT", "SI", "DT"], 504, "timeout_error", "The model provider timed out"),
        mapper(&["UO", "URX", "NR"], 503, "service_unavailable_error", "No model provider available"),
        payload_too_large_mapper(plan.router.max_request_body_bytes),
        response_too_large_mapper(buffer_limit),
    ]);
    // Anthropic-format clients get each of those replies in Anthropic's shape (the
    // first mapper that matches wins).
    let anthropic: Vec<Value> = mappers.iter().map(anthropic_mapper).collect();
    mappers.splice(0..0, anthropic);
    if plan.keys.is_some() {
        mappers.insert(0, readiness_mapper());
    }
    mappers
}

/// The keyservice's own errors are JSON already; an unreachable keyservice
/// (ext_authz's status_on_error) is not: this mapper makes it one.
fn keyservice_unavailable_mapper() -> Value {
    json!({
        "filter": {"and_filter": {"filters": [
            {"response_flag_filter": {"flags": ["UAEX"]}},
            {"status_code_filter": {"comparison": {"op": "EQ", "value": {"default_value": 503, "runtime_key": "switchyard.local_reply.authz"}}}},
        ]}},
        "status_code": 503,
        "body_format_override": {"json_format": {"error": {
            "message": "The authentication service (keyservice) is unavailable; no request is admitted until it is back",
            "type": "service_unavailable_error",
            "param": null,
            "code": "503",
        }}},
    })
}

/// An unreachable keyservice makes the gateway unready: LiteLLM's 503 with
/// its `db` field, not an error body (probes and dashboards read `db`).
fn readiness_mapper() -> Value {
    json!({
        "filter": {"and_filter": {"filters": [
            {"header_filter": {"header": {"name": ":path", "string_match": {"safe_regex": {"regex": READINESS_PATH_REGEX}}}}},
            {"status_code_filter": {"comparison": {"op": "GE", "value": {"default_value": 500, "runtime_key": "switchyard.local_reply.readiness"}}}},
        ]}},
        "status_code": 503,
        "body_format_override": {"json_format": {
            "status": "unhealthy",
            "db": "disconnected",
            "keyservice": "unreachable",
        }},
    })
}

/// One `local_reply_config` mapper: Envoy-generated replies with these response
/// flags get `status` and an OpenAI-shaped JSON body.
pub(super) fn mapper(flags: &[&str], status: u16, kind: &str, message: &str) -> Value {
    json!({
        "filter": {"response_flag_filter": {"flags": flags}},
        "status_code": status,
        "body_format_override": {"json_format": openai_error_value(
            status,
            kind,
            &format!("{message}: %LOCAL_REPLY_BODY%"),
            None,
        )},
    })
}

/// A CEL expression true for requests the router stage routed from an
/// Anthropic-format route (`/v1/messages`, `/v1/messages/count_tokens`): it sets the
/// filter state `switchyard_api` to `anthropic` for them. Not `:path`: the upstream
/// stage has rewritten it for the provider by the time Envoy replies.
pub(super) fn anthropic_request_expression() -> String {
    format!("filter_state['wasm.{API_PROPERTY}'] == b'{API_ANTHROPIC}'")
}

/// `mapper` for Anthropic-format clients: the same replies to Anthropic-format requests,
/// with Anthropic's error body (`{"type":"error","error":{"type","message"}}`, the
/// type named for the status as the filter names it).
fn anthropic_mapper(mapper: &Value) -> Value {
    let status = mapper["status_code"].as_u64().unwrap_or(500);
    let kind =
        switchyard_contract::error_body::anthropic_error_type(u16::try_from(status).unwrap_or(500));
    json!({
        "filter": {"and_filter": {"filters": [
            mapper["filter"].clone(),
            {"extension_filter": {
                "name": "envoy.access_loggers.extension_filters.cel",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                    "expression": anthropic_request_expression(),
                },
            }},
        ]}},
        "status_code": status,
        "body_format_override": {"json_format": anthropic_error_value(
            kind,
            mapper["body_format_override"]["json_format"]["error"]["message"]
                .as_str()
                .unwrap_or_default(),
        )},
    })
}

/// The `local_reply_config` mapper for Envoy's own 413.
///
/// The router stage answers an oversized body itself, but Envoy moves each newly read
/// piece of a chunked body into the filter's buffer *before* the filter sees it, and
/// one read can be as large as the connection's buffer limit: a piece that carries the
/// buffer past the limit gets Envoy's plain-text "Payload Too Large" first. Every 413
/// means the same thing here, so all of them get the filter's own body.
fn payload_too_large_mapper(limit_bytes: usize) -> Value {
    json!({
        "filter": {"status_code_filter": {"comparison": {
            "op": "EQ",
            "value": {"default_value": 413, "runtime_key": "switchyard.local_reply.413"},
        }}},
        "status_code": 413,
        "body_format_override": {
            "json_format": GatewayError::payload_too_large(limit_bytes).to_value(),
        },
    })
}

/// The `local_reply_config` mapper for an answer too large for Envoy's buffer (the
/// upstream stage holds it whole): Envoy's plain-text 500 (details
/// `response_payload_too_large`, no response flag) becomes a JSON 502.
fn response_too_large_mapper(limit_bytes: usize) -> Value {
    json!({
        "filter": {"extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                "expression": "response.code_details == 'response_payload_too_large'",
            },
        }},
        "status_code": 502,
        "body_format_override": {
            "json_format": GatewayError::new(502, format!(
                "The model provider's answer is larger than the gateway's response buffer of {limit_bytes} bytes."
            )).to_value(),
        },
    })
}
