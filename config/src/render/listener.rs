//! The listener's HTTP connection manager: access log, routes, local replies and
//! the HTTP filter chain (the router stage, ext_authz and the responder stage with
//! virtual keys, Envoy's router).

use serde_json::{json, Value};
use switchyard_contract::headers::{CHECK_REQUEST_HEADERS, CLIENT_CREDENTIAL_HEADERS};
use switchyard_contract::plugin_config::{PluginConfig, ResponderConfig};

use super::{plugin_json, wasm_filter, KEYSERVICE_CLUSTER, KEY_HEADERS};
use crate::plan::Plan;

/// Envoy ext_authz, asking the keyservice about each request: the caller's key (from
/// LiteLLM's headers) and the model group the router stage resolved. Fails closed:
/// with the keyservice unreachable every request gets 503.
pub(super) fn ext_authz() -> Value {
    let exact =
        |names: &[&str]| -> Vec<Value> { names.iter().map(|n| json!({"exact": n})).collect() };
    json!({
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "transport_api_version": "V3",
            "failure_mode_allow": false,
            "status_on_error": {"code": 503},
            "http_service": {
                "server_uri": {"uri": "http://keyservice", "cluster": KEYSERVICE_CLUSTER, "timeout": "2s"},
                "path_prefix": "/check",
                "authorization_request": {"allowed_headers": {"patterns": exact(&[
                    CLIENT_CREDENTIAL_HEADERS.as_slice(),
                    CHECK_REQUEST_HEADERS.as_slice(),
                ].concat())}},
                "authorization_response": {
                    "allowed_upstream_headers": {"patterns": exact(&KEY_HEADERS)},
                    "allowed_client_headers": {"patterns": [{"exact": "content-type"}, {"exact": "retry-after"}, {"prefix": "x-ratelimit"}]},
                    "allowed_client_headers_on_success": {"patterns": [{"exact": "x-litellm-key-spend"}, {"prefix": "x-ratelimit"}]},
                },
            },
        },
    })
}

/// The listener's HTTP connection manager: the access log, one virtual host with
/// `routes`, Envoy's own errors as JSON (`mappers`), and the HTTP filter chain.
pub(super) fn http_connection_manager(
    routes: Vec<Value>,
    mappers: Vec<Value>,
    http_filters: Vec<Value>,
) -> Value {
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "switchyard",
        "codec_type": "AUTO",
        "access_log": [access_log()],
        "route_config": {"name": "switchyard", "virtual_hosts": [{"name": "switchyard", "domains": ["*"], "routes": routes,
            // Envoy numbers each attempt; the upstream stage reports retries from it.
            "include_request_attempt_count": true}]},
        "local_reply_config": {"mappers": mappers},
        "http_filters": http_filters,
    })
}

/// One JSON line per request on Envoy's stdout: what went where and why it failed.
/// The path is the router stage's redacted copy of the original one
/// (`switchyard_filter::log_path`): no query, no key segment. LiteLLM's API
/// takes keys there (`/key/info?key=sk-…`, `/key/sk-…/regenerate`). A request
/// the router stage never saw (refused by Envoy's codec) logs `-`.
///
/// The request's record adds its fields (call id, tokens, spend, key alias, user,
/// team, time to first token, cache hit, requested model, model id), which the
/// router stage sets as filter state (`switchyard_contract::filter_state::
/// access_log::FIELDS`; schema in docs/observability.md).
pub(super) fn access_log() -> Value {
    let mut log = json!({
        "name": "envoy.access_loggers.stdout",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {"json_format": {
                "time": "%START_TIME%",
                "method": "%REQ(:METHOD)%",
                "path": "%FILTER_STATE(wasm.switchyard_log_path:PLAIN)%",
                "status": "%RESPONSE_CODE%",
                "flags": "%RESPONSE_FLAGS%",
                "details": "%RESPONSE_CODE_DETAILS%",
                "model_group": "%FILTER_STATE(wasm.switchyard_group:PLAIN)%",
                "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
                "cluster": "%UPSTREAM_CLUSTER%",
                "upstream": "%UPSTREAM_HOST%",
                "duration_ms": "%DURATION%",
                "upstream_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
                "request_id": "%REQ(X-REQUEST-ID)%",
            }},
        },
    });
    for (field, property) in switchyard_contract::filter_state::access_log::FIELDS {
        log["typed_config"]["log_format"]["json_format"][field] =
            Value::String(format!("%FILTER_STATE(wasm.{property}:PLAIN)%"));
    }
    log
}

/// The listener's HTTP filters: the router stage; with virtual keys, ext_authz and
/// the responder stage; Envoy's router.
pub(super) fn http_filters(
    plan: &Plan,
    router_config: &str,
    vm: &Value,
) -> Result<Vec<Value>, String> {
    let mut http_filters = vec![
        json!({"name": "switchyard.router", "typed_config": wasm_filter("switchyard-router", router_config, vm)}),
    ];
    if plan.keys.is_some() {
        let responder = plugin_json(&PluginConfig::Responder(ResponderConfig::default()))?;
        http_filters.push(ext_authz());
        http_filters.push(json!({"name": "switchyard.responder", "typed_config": wasm_filter("switchyard-responder", &responder, vm)}));
    }
    http_filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    Ok(http_filters)
}
