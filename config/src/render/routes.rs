//! The virtual host's routes: two per model group (streamed calls apart), the
//! keyservice's API with virtual keys, and the unrouted 404; and each group's retry
//! policy.

use serde_json::{json, Value};
use switchyard_contract::headers::{CLIENT_CREDENTIAL_HEADERS, GROUP_HEADER, STREAM_HEADER};

use super::{secs, KEYSERVICE_CLUSTER, METRICS_PATH_REGEX, READINESS_PATH_REGEX};
use crate::plan::{total_attempts, Plan, PlannedRoute, RoutingPolicy};

/// The virtual host's routes, in Envoy's order: each model group's route for
/// non-streamed calls, then each group's route for streamed calls (see
/// `crate::plan::timeouts`), with virtual keys the keyservice's own routes, and
/// last the unrouted 404.
pub(super) fn routes(plan: &Plan, timeout: f64) -> Vec<Value> {
    let mut routes: Vec<Value> = Vec::new();
    let mut stream_routes: Vec<Value> = Vec::new();
    for route in &plan.routes {
        let (plain, streamed) = group_routes(route, plan, timeout);
        routes.push(plain);
        stream_routes.push(streamed);
    }
    routes.append(&mut stream_routes);
    if plan.keys.is_some() {
        routes.extend(keyservice_routes());
        routes.push(metrics_route(plan));
    }
    routes.push(unrouted_route());
    routes
}

/// One model group's two routes (matching the group header the router stage sets):
/// for calls that are not streamed, and for streamed ones.
fn group_routes(route: &PlannedRoute, plan: &Plan, timeout: f64) -> (Value, Value) {
    let limits = super::route_limits(route, plan, timeout);
    let mut action = json!({
        "cluster": route.cluster_name,
        "timeout": secs(limits.timeout),
        "idle_timeout": secs(limits.idle_timeout),
        "retry_policy": retry_policy(route, &plan.routing),
    });
    action["internal_redirect_policy"] = internal_redirect_policy(plan);
    // Streamed calls: the per-try timeout is the wait for the first byte (Envoy
    // stops it at the answer's head); the router stage lifts the whole-request
    // timeout for them, and the upstream stage watches their silences.
    let mut stream_action = action.clone();
    stream_action["idle_timeout"] = json!(secs(limits.stream_idle_timeout));
    stream_action["retry_policy"]["per_try_timeout"] = json!(secs(limits.stream_first_byte));
    if let Some(per_try) = limits.per_try_timeout {
        // Without per-deployment timeouts every attempt gets an equal share, so a
        // retry still fits in `timeout`.
        action["retry_policy"]["per_try_timeout"] = json!(secs(per_try));
    }
    let group_header = json!({"name": GROUP_HEADER, "string_match": {"exact": route.route_key}});
    let stream_header = STREAM_HEADER;
    let plain = json!({
        "name": route.group,
        "match": {"prefix": "/", "headers": [
            group_header,
            {"name": stream_header, "present_match": true, "invert_match": true},
        ]},
        "route": action,
    });
    let streamed = json!({
        "name": format!("{} (streams)", route.group),
        "match": {"prefix": "/", "headers": [
            group_header,
            {"name": stream_header, "string_match": {"exact": "1"}},
        ]},
        "route": stream_action,
    });
    (plain, streamed)
}

/// Context-window and content-policy fallbacks, and a request's own `fallbacks`:
/// the upstream stage answers such an error with a 307 to the fallback path, which
/// Envoy follows here by replaying the buffered request through the router stage.
fn internal_redirect_policy(plan: &Plan) -> Value {
    let longest = plan
        .router
        .error_fallbacks
        .values()
        .map(|f| f.context_window.len() + f.content_policy.len())
        .max()
        .unwrap_or(0);
    let replay_headers = [
        CLIENT_CREDENTIAL_HEADERS.as_slice(),
        &switchyard_contract::headers::REDIRECT_CARRIED_HEADERS,
    ]
    .concat();
    json!({
        "max_internal_redirects": longest + switchyard_contract::routing::MAX_REQUEST_FALLBACKS,
        "redirect_response_codes": [307],
        // The replay presents the client's credentials (which the redirect
        // carries), never the provider's the attempt left in the request, and
        // the admission id it continues (one request: one count, one slot), and
        // the call it continues (one call id, one record).
        "response_headers_to_copy": replay_headers,
    })
}

/// LiteLLM's key-management API, served by the keyservice (which checks the
/// master key itself), and readiness. Only these: the keyservice's internal paths
/// (the spend reports' `/spend/record`, the check, its health) are never reachable
/// through the listener (`/spend/record` gets the unrouted 404).
fn keyservice_routes() -> Vec<Value> {
    let admin_paths = [
        json!({"prefix": "/key/"}),
        json!({"prefix": "/user/"}),
        json!({"prefix": "/team/"}),
        json!({"path": "/spend/logs"}),
        json!({"prefix": "/global/"}),
    ];
    let mut routes = Vec::new();
    for matcher in admin_paths {
        let name = matcher
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        routes.push(json!({
            "name": format!("keyservice{name}"),
            "match": matcher,
            "route": {"cluster": KEYSERVICE_CLUSTER, "timeout": "30s"},
            "typed_per_filter_config": {"envoy.filters.http.ext_authz": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
                "disabled": true,
            }},
        }));
    }
    // Readiness is the keyservice's: it answers whether its database is
    // connected (LiteLLM's `db` field), unauthenticated as in LiteLLM.
    routes.push(json!({
        "name": "keyservice/health/readiness",
        "match": {"safe_regex": {"regex": READINESS_PATH_REGEX}},
        "route": {"cluster": KEYSERVICE_CLUSTER, "timeout": "5s",
            "regex_rewrite": {"pattern": {"regex": "^.*$"}, "substitution": "/health/readiness"}},
        "typed_per_filter_config": {"envoy.filters.http.ext_authz": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
            "disabled": true,
        }},
    }));
    routes
}

/// `GET /metrics`, answered by the filter (the router stage, or with the key checked
/// the responder stage): a route of its own so that
/// `require_auth_for_metrics_endpoint: false` can turn ext_authz off for it. Its
/// 404 is only reached by a method the filter refused already.
fn metrics_route(plan: &Plan) -> Value {
    let mut route = json!({
        "name": "metrics",
        "match": {"safe_regex": {"regex": METRICS_PATH_REGEX}},
        "direct_response": {"status": 404, "body": {"inline_string":
            r#"{"error":{"message":"GET /metrics is answered by the switchyard filter","type":"not_found_error","param":null,"code":"404"}}"#}},
    });
    if !plan.router.metrics.require_auth {
        route["typed_per_filter_config"] = json!({"envoy.filters.http.ext_authz": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
            "disabled": true,
        }});
    }
    route
}

/// The unrouted 404's body.
pub(crate) const UNROUTED_BODY: &str = r#"{"error":{"message":"No route: the switchyard router filter did not pick a model group for this request","type":"not_found_error","param":null,"code":"404"}}"#;

/// Requests the router stage picked no model group for: an OpenAI-shaped 404.
fn unrouted_route() -> Value {
    json!({
        "name": "unrouted",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string":
            UNROUTED_BODY}},
        "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
    })
}

/// The route's retry policy: LiteLLM's `num_retries` and `retry_policy` as Envoy
/// retry conditions; a retry avoids the deployment that just failed
/// (`previous_hosts`) and, after `num_retries + 1` attempts on a group, moves to the
/// next fallback group (`previous_priorities`).
pub(super) fn retry_policy(route: &PlannedRoute, routing: &RoutingPolicy) -> Value {
    let mut on: Vec<&str> = Vec::new();
    if routing.retry_server_errors {
        on.extend(["5xx", "reset", "connect-failure", "refused-stream"]);
    } else if routing.retry_timeouts {
        on.push("gateway-error");
    }
    let mut statuses: Vec<u16> = routing.retry_statuses.clone();
    if routing.retry_rate_limited {
        statuses.push(429);
    }
    if !statuses.is_empty() {
        on.push("retriable-status-codes");
    }
    let mut policy = json!({
        "retry_on": on.join(","),
        "num_retries": total_attempts(route, routing) - 1,
        "retry_host_predicate": [{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"},
        }],
        "host_selection_retry_max_attempts": 5,
        "retry_back_off": {"base_interval": "0.1s", "max_interval": "2s"},
        // A 429's retry-after is honoured (up to 10 s) before the next attempt.
        "rate_limited_retry_back_off": {
            "reset_headers": [{"name": "retry-after", "format": "SECONDS"}],
            "max_interval": "10s",
        },
    });
    if !statuses.is_empty() {
        policy["retriable_status_codes"] = json!(statuses);
    }
    if route.priorities.len() > 1 {
        let per_level = routing.num_retries.saturating_add(1);
        policy["retry_priority"] = json!({
            "name": "envoy.retry_priorities.previous_priorities",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
                "update_frequency": per_level,
            },
        });
    }
    policy
}
