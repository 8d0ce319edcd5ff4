//! Renders a compiled [`Plan`] into Envoy configuration.
//!
//! The output is one Envoy bootstrap (`envoy.yaml`) plus the filter's plugin
//! configurations as separate JSON files, for operators who add the filter to an
//! Envoy or Istio listener of their own. The bootstrap holds:
//! - a listener whose HTTP connection manager runs the router-stage filter and the
//!   router, with one route per model group (matching the `x-switchyard-group`
//!   header the filter sets) and `local_reply_config` turning Envoy's own errors
//!   (connect failure, reset, timeout) into OpenAI-shaped JSON;
//! - one cluster per deployment, with TLS and SNI for `https` bases, DNS for host
//!   names, and the upstream-stage filter in its upstream HTTP filter chain.
//!
//! Secrets never appear in the output: `os.environ/` values stay `{"env": NAME}` and
//! the variable names are listed in `vm_config.environment_variables.host_env_keys`.

// Envoy's JSON is built here by indexing the `serde_json::Value` objects this module
// has just built with `json!` (`cluster["dns_lookup_family"] = …`): indexing an object
// never panics (a missing key reads as null, and is inserted on write), and the shape
// is the render tests' and `envoy --mode validate`'s to check. The workspace's other
// no-panic lints hold here too.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use switchyard_contract::error_body::{anthropic_error_value, openai_error_value, GatewayError};
use switchyard_contract::filter_state::{API_ANTHROPIC, API_PROPERTY};
use switchyard_contract::headers::{
    ADMISSION_HEADER, CHECK_REQUEST_HEADERS, CLIENT_CREDENTIAL_HEADERS, GROUP_HEADER, STREAM_HEADER,
};
use switchyard_contract::plugin_config::{
    PluginConfig, ResponderConfig, Setting, SpendReporting, UpstreamConfig, ENDPOINT_METADATA_KEY,
    ENDPOINT_METADATA_NAMESPACE,
};

use crate::plan::timeouts::DEFAULT_TIMEOUT_SECS;
use crate::plan::{total_attempts, Plan, PlannedRoute, RoutingPolicy, UpstreamAddress};

/// Head-room over the filter's body limit given to Envoy's own buffers, so the filter
/// (which answers in OpenAI JSON) normally sees an oversized body first (for when it
/// does not, see [`payload_too_large_mapper`]).
const BUFFER_HEADROOM_BYTES: usize = 1 << 20;
/// Least buffer Envoy gets, whatever the request limit: the upstream stage holds whole
/// non-streamed answers (Anthropic) and provider error bodies to translate them, within
/// the downstream stream's buffer limit (the listener's), so a small
/// `max_request_size_mb` must not shrink what a provider may answer.
const MIN_RESPONSE_BUFFER_BYTES: usize =
    crate::plan::DEFAULT_MAX_REQUEST_BODY_BYTES + BUFFER_HEADROOM_BYTES;
/// System CA bundle for TLS upstreams (Debian/Ubuntu path).
pub const DEFAULT_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Where and how the gateway listens.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The filter's `.wasm` file, written as given (a relative path resolves against
    /// Envoy's working directory).
    pub wasm: PathBuf,
    /// Listener address.
    pub host: String,
    /// Listener port (0: any free port).
    pub port: u16,
    /// Admin port on 127.0.0.1 (0: any free port).
    pub admin_port: u16,
    /// CA bundle used to verify TLS upstreams.
    pub ca_file: String,
    /// The keyservice, when the config enables virtual keys: `host:port` or
    /// `http://host:port` (cleartext), `https://host:port` (TLS: Envoy checks its
    /// certificate against `keyservice_ca`, else `ca_file`, and its name).
    pub keyservice: Option<String>,
    /// CA bundle that verifies an `https://` keyservice's certificate (default:
    /// `ca_file`, the system's trust store).
    pub keyservice_ca: Option<String>,
}

#[cfg(test)]
impl RenderOptions {
    /// Options for unit tests: a made-up `.wasm` path, any free ports, no keyservice.
    pub(crate) fn for_tests() -> Self {
        RenderOptions {
            wasm: PathBuf::from("/f.wasm"),
            host: "127.0.0.1".into(),
            port: 0,
            admin_port: 0,
            ca_file: DEFAULT_CA_FILE.into(),
            keyservice: None,
            keyservice_ca: None,
        }
    }
}

/// `GET /health/readiness` (also under `/v1`, with or without a trailing slash or a
/// query), as the router stage classifies it.
const READINESS_PATH_REGEX: &str = r"^(/v1)?/health/readiness/?(\?.*)?$";

/// The keyservice's Envoy cluster.
pub const KEYSERVICE_CLUSTER: &str = "switchyard_keyservice";
/// The environment variable through which `switchyard up` hands the master key to
/// the keyservice it starts (never argv, never a file).
pub const MASTER_KEY_ENV: &str = "SWITCHYARD_MASTER_KEY";

/// Headers the keyservice adds to an admitted request (through ext_authz), for the
/// responder stage and spend recording; a client can never set them (the router
/// stage removes them).
pub use switchyard_contract::headers::KEY_HEADERS;

/// Envoy ext_authz, asking the keyservice about each request: the caller's key (from
/// LiteLLM's headers) and the model group the router stage resolved. Fails closed:
/// with the keyservice unreachable every request gets 503.
fn ext_authz() -> Value {
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

/// The keyservice's cluster (HTTP/1.1 on loopback or wherever `addr` says): over TLS
/// for `https://host:port`, Envoy checking the certificate (against `keyservice_ca`,
/// else `ca_file`) and its name (SNI and subject alternative name `host`), so virtual
/// keys (ext_authz) and the reporting credential (spend reports) never cross a network
/// in cleartext and a keyservice that cannot prove its name gets nothing: every
/// request fails closed (ext_authz's 503).
fn keyservice_cluster(addr: &str, opts: &RenderOptions) -> Result<Value, String> {
    let (tls, rest) = if let Some(rest) = addr.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = addr.strip_prefix("http://") {
        (false, rest)
    } else {
        (false, addr)
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.is_empty() && !h.contains('/'))
        .ok_or_else(|| {
            format!(
                "--keyservice {addr:?}: expected HOST:PORT, http://HOST:PORT or https://HOST:PORT"
            )
        })?;
    if opts.keyservice_ca.is_some() && !tls {
        return Err(format!(
            "--keyservice-ca is for a TLS keyservice: --keyservice {addr:?} is cleartext (write https://{rest})"
        ));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut cluster = json!({
        "name": KEYSERVICE_CLUSTER,
        "type": if is_ip(host) { "STATIC" } else { "STRICT_DNS" },
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": KEYSERVICE_CLUSTER, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": bare, "port_value": port}}}}]}]},
    });
    if !is_ip(host) {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if tls {
        let ca = RenderOptions {
            ca_file: opts
                .keyservice_ca
                .clone()
                .unwrap_or_else(|| opts.ca_file.clone()),
            ..opts.clone()
        };
        cluster["transport_socket"] = tls_socket(bare, &ca);
    }
    Ok(cluster)
}

/// A cluster for calls the filter makes itself (HTTP/1.1, TLS with SNI for https):
/// a Google token endpoint (Vertex AI service accounts: the root context asks it for
/// access tokens), or one deployment alone ([`direct_cluster_name`]).
fn token_cluster(name: &str, address: &UpstreamAddress, opts: &RenderOptions) -> Value {
    let host = address.host.trim_start_matches('[').trim_end_matches(']');
    let mut cluster = json!({
        "name": name,
        "type": if is_ip(host) { "STATIC" } else { "STRICT_DNS" },
        "connect_timeout": "5s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": host, "port_value": address.port}}}}]}]},
    });
    if !is_ip(host) {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if address.tls {
        cluster["transport_socket"] = tls_socket(host, opts);
    }
    cluster
}

/// The cluster that reaches deployment `dep` alone, when the filter may call it
/// itself: a Bedrock Titan embedding request with a list `input` is one call per
/// input (`filter/src/stages/upstream/fanout.rs`), and every call must reach the deployment
/// Envoy picked, not whatever the route cluster would balance it to.
fn direct_cluster_name(dep: &crate::plan::PlannedDeployment) -> Option<String> {
    use switchyard_contract::providers::{bedrock, ProviderKind};
    (dep.upstream.provider == ProviderKind::Bedrock && bedrock::may_fan_out(&dep.upstream.model))
        .then(|| format!("direct_{}", dep.name))
}

/// The rendered files, ready to write.
#[derive(Debug)]
pub struct Rendered {
    /// The Envoy bootstrap.
    pub bootstrap: Value,
    /// `(file name, JSON)` for each plugin configuration.
    pub plugin_configs: Vec<(String, String)>,
}

fn secs(s: f64) -> String {
    // Envoy durations are strings like "1.5s"; keep millisecond precision.
    let ms = (s * 1000.0).round().max(0.0) as u64;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

fn plugin_json(config: &PluginConfig) -> Result<String, String> {
    serde_json::to_string(config)
        .map_err(|e| format!("could not serialize plugin configuration: {e}"))
}

/// The wasm filter's `config` block for one plugin instance.
fn wasm_filter(name: &str, configuration: &str, vm: &Value) -> Value {
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": name,
            "root_id": "switchyard",
            "allow_on_headers_stop_iteration": true,
            "failure_policy": "FAIL_RELOAD",
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": configuration,
            },
            "vm_config": vm,
        }
    })
}

fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// The TLS transport socket for one provider host: the certificate must name the
/// host (a DNS SAN for host names — wildcard certificates match — or an IP SAN for
/// addresses, which get no SNI).
fn tls_socket(host: &str, opts: &RenderOptions) -> Value {
    let san_type = if is_ip(host) { "IP_ADDRESS" } else { "DNS" };
    let mut tls_context = json!({
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": {"validation_context": {
            "trusted_ca": {"filename": opts.ca_file},
            "match_typed_subject_alt_names": [{"san_type": san_type, "matcher": {"exact": host}}],
        }},
    });
    if !is_ip(host) {
        tls_context["sni"] = json!(host);
    }
    json!({"name": "envoy.transport_sockets.tls", "typed_config": tls_context})
}

/// Envoy's priority load split: with this factor a priority keeps all traffic while
/// any of its deployments is healthy, as LiteLLM only falls back when the whole group
/// failed or cooled down.
const OVERPROVISIONING_FACTOR: u32 = 100_000;

/// One model group's route cluster: priority 0 holds the group's deployments,
/// priority `n` its `n`-th fallback group's; each deployment is a locality (so its
/// weight does not depend on how many addresses DNS returns) whose endpoint metadata
/// names it for the upstream stage. Returns the cluster and its plugin JSON.
fn route_cluster(
    route: &PlannedRoute,
    limits: &crate::plan::timeouts::RouteTimeouts,
    plan: &Plan,
    vm: &Value,
    opts: &RenderOptions,
    buffer_limit: usize,
) -> Result<(Value, String), String> {
    let mut deployments = Vec::new();
    let mut localities = Vec::new();
    let mut tls_hosts = std::collections::BTreeSet::new();
    let (mut any_dns, mut any_plain) = (false, false);
    for (priority, level) in route.priorities.iter().enumerate() {
        let all_zero = level.members.iter().all(|(_, w)| *w == 0);
        for &(index, weight) in &level.members {
            // Zero-weight deployments get no traffic (LiteLLM's simple-shuffle); an
            // all-zero group is balanced evenly.
            let weight = if all_zero { 1 } else { weight };
            if weight == 0 {
                continue;
            }
            let dep = plan
                .deployments
                .get(index)
                .ok_or_else(|| format!("route {}: no deployment #{index}", route.group))?;
            let mut config = dep.upstream.clone();
            config.fallback_index = u32::try_from(priority).unwrap_or(u32::MAX);
            config.direct_cluster = direct_cluster_name(dep);
            config.stream_timeout_ms = limits
                .stream_silence
                .get(&index)
                .and_then(|s| switchyard_contract::timeouts::millis(*s));
            let UpstreamAddress {
                tls, host, port, ..
            } = &dep.address;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            any_dns |= !is_ip(host);
            let mut metadata = json!({
                ENDPOINT_METADATA_NAMESPACE: {ENDPOINT_METADATA_KEY: config.deployment_id},
            });
            if *tls {
                tls_hosts.insert(host.to_string());
                metadata["envoy.transport_socket_match"] = json!({"tls_host": host});
            } else {
                any_plain = true;
            }
            localities.push(json!({
                "locality": {"sub_zone": dep.name},
                "priority": priority,
                "load_balancing_weight": weight,
                "lb_endpoints": [{
                    "endpoint": {
                        "address": {"socket_address": {"address": host, "port_value": port}},
                        "hostname": host,
                    },
                    "metadata": {"filter_metadata": metadata},
                }],
            }));
            deployments.push(config);
        }
    }
    // Every extra header any deployment of the config sets: an earlier attempt, or
    // an earlier group before an error fallback, may have left one behind.
    let mut clear_headers: Vec<String> = plan
        .deployments
        .iter()
        .flat_map(|d| d.upstream.headers.keys().map(|k| k.to_ascii_lowercase()))
        .collect();
    clear_headers.sort();
    clear_headers.dedup();
    let configuration = plugin_json(&PluginConfig::Upstream(UpstreamConfig {
        group: route.group.clone(),
        deployments,
        clear_headers,
        error_fallbacks: plan.router.error_fallbacks.clone(),
        keys: plan.keys.is_some(),
        debug: plan.debug_requests,
    }))?;

    let mut protocol = json!({
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "http_filters": [
            {"name": "switchyard.upstream", "typed_config": wasm_filter(&route.cluster_name, &configuration, vm)},
            {"name": "envoy.filters.http.upstream_codec",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec"}},
        ],
    });
    if tls_hosts.is_empty() || any_plain {
        // HTTP/1.1. Envoy's ALPN (`auto_config`) needs every transport socket of the
        // cluster to speak TLS, so a cluster that mixes http and https deployments
        // (a local server falling back to a cloud one) talks HTTP/1.1 to all of them;
        // each endpoint still gets TLS or plain TCP from its own metadata.
        protocol["explicit_http_config"] = json!({"http_protocol_options": {}});
    } else {
        // HTTP/2 where the provider offers it through ALPN, else HTTP/1.1.
        protocol["auto_config"] =
            json!({"http_protocol_options": {}, "http2_protocol_options": {}});
    }
    let routing = &plan.routing;
    let cooldown = secs(routing.cooldown_secs);
    let mut cluster = json!({
        "name": route.cluster_name,
        "type": if any_dns { "STRICT_DNS" } else { "STATIC" },
        "connect_timeout": "5s",
        "per_connection_buffer_limit_bytes": buffer_limit,
        "lb_policy": if routing.least_request { "LEAST_REQUEST" } else { "RANDOM" },
        "common_lb_config": {
            "locality_weighted_lb_config": {},
            // Never spread traffic onto cooling-down deployments ("panic mode").
            "healthy_panic_threshold": {"value": 0.0},
        },
        "load_assignment": {
            "cluster_name": route.cluster_name,
            "endpoints": localities,
            "policy": {"overprovisioning_factor": OVERPROVISIONING_FACTOR},
        },
        // LiteLLM's cooldown: `allowed_fails` consecutive failures take a deployment
        // out of rotation for `cooldown_time`, then it comes back.
        "outlier_detection": {
            "consecutive_5xx": routing.allowed_fails.max(1),
            "consecutive_gateway_failure": routing.allowed_fails.max(1),
            "enforcing_consecutive_5xx": 100,
            "enforcing_consecutive_gateway_failure": 100,
            "enforcing_success_rate": 0,
            "interval": "1s",
            "base_ejection_time": cooldown,
            "max_ejection_time": cooldown,
            "max_ejection_percent": 100,
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": protocol,
        },
        "circuit_breakers": circuit_breakers(route, plan),
    });
    if any_dns {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if !tls_hosts.is_empty() {
        let matches: Vec<Value> = tls_hosts
            .iter()
            .map(|h| json!({"name": format!("tls:{h}"), "match": {"tls_host": h}, "transport_socket": tls_socket(h, opts)}))
            .collect();
        cluster["transport_socket_matches"] = json!(matches);
        if !any_plain {
            if let Some(first) = tls_hosts.iter().next() {
                cluster["transport_socket"] = tls_socket(first, opts);
            }
        }
    }
    Ok((cluster, configuration))
}

/// Envoy's default for each circuit-breaker threshold but retries (connections,
/// pending and active requests); a route cluster never gets less.
pub const CIRCUIT_BREAKER_FLOOR: u64 = 1024;
/// What one deployment is assumed to take in flight when its config gives no
/// `max_parallel_requests` or `rpm`: Envoy's default for a whole cluster.
pub const DEFAULT_DEPLOYMENT_CONCURRENCY: u64 = 1024;

/// Requests a route cluster may have in flight: the sum over every deployment it
/// holds (its group's and its fallback groups', which share the cluster) of the
/// deployment's `max_parallel_requests`, else its `rpm`, else
/// [`DEFAULT_DEPLOYMENT_CONCURRENCY`]; never below [`CIRCUIT_BREAKER_FLOOR`].
pub fn cluster_concurrency(route: &PlannedRoute, plan: &Plan) -> u64 {
    let sum = route
        .priorities
        .iter()
        .flat_map(|level| level.members.iter())
        .filter_map(|(index, _)| plan.deployments.get(*index))
        .map(|d| d.concurrency_hint.unwrap_or(DEFAULT_DEPLOYMENT_CONCURRENCY))
        .fold(0u64, u64::saturating_add);
    sum.clamp(CIRCUIT_BREAKER_FLOOR, u64::from(u32::MAX))
}

/// The route cluster's circuit breakers, sized for LLM calls. Envoy's defaults
/// allow 1024 connections, pending and active requests but only 3 *concurrent
/// retries* per cluster: under an outage, every request beyond the third that is
/// retried at the same time gets its error instead of its retry or its fallback
/// (`upstream_rq_retry_overflow`). A request has at most one retry outstanding at a
/// time, so `max_retries` equal to `max_requests` lets every request in flight make
/// every retry the config gives it (`num_retries` bounds how many each makes, in
/// the route's retry policy). Connections and pending requests get the same bound:
/// HTTP/1.1 clusters hold one connection per call, and an LLM call holds it for
/// seconds to minutes. A `retry_budget` (a percentage of active requests) was not
/// used: any budget under 100 % drops retries exactly when a provider fails for
/// everyone, and 100 % is this.
fn circuit_breakers(route: &PlannedRoute, plan: &Plan) -> Value {
    let n = cluster_concurrency(route, plan);
    json!({"thresholds": [{
        "priority": "DEFAULT",
        "max_connections": n,
        "max_pending_requests": n,
        "max_requests": n,
        "max_retries": n,
        "track_remaining": true,
    }]})
}

/// The route's retry policy: LiteLLM's `num_retries` and `retry_policy` as Envoy
/// retry conditions; a retry avoids the deployment that just failed
/// (`previous_hosts`) and, after `num_retries + 1` attempts on a group, moves to the
/// next fallback group (`previous_priorities`).
fn retry_policy(route: &PlannedRoute, routing: &RoutingPolicy) -> Value {
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

/// One `local_reply_config` mapper: Envoy-generated replies with these response
/// flags get `status` and an OpenAI-shaped JSON body.
fn mapper(flags: &[&str], status: u16, kind: &str, message: &str) -> Value {
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
fn anthropic_request_expression() -> String {
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

/// Renders the bootstrap and plugin configs for `plan`.
pub fn render(plan: &Plan, opts: &RenderOptions) -> Result<Rendered, String> {
    // Written as given: relative paths resolve against Envoy's working directory.
    let wasm = &opts.wasm;
    let host_env_keys: Vec<&str> = plan.host_env_keys.iter().map(String::as_str).collect();
    let vm = json!({
        "vm_id": "switchyard",
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": wasm.to_string_lossy()}},
        "environment_variables": {"host_env_keys": host_env_keys},
    });
    let buffer_limit = plan
        .router
        .max_request_body_bytes
        .saturating_add(BUFFER_HEADROOM_BYTES)
        .max(MIN_RESPONSE_BUFFER_BYTES);
    let timeout = plan.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);

    let mut routes: Vec<Value> = Vec::new();
    // Each group's route for streamed calls, after all the others (see `crate::plan::timeouts`).
    let mut stream_routes: Vec<Value> = Vec::new();
    for route in &plan.routes {
        let limits = crate::plan::timeouts::route_timeouts(
            route,
            plan,
            total_attempts(route, &plan.routing),
            timeout,
        );
        let mut action = json!({
            "cluster": route.cluster_name,
            "timeout": secs(limits.timeout),
            "idle_timeout": secs(limits.idle_timeout),
            "retry_policy": retry_policy(route, &plan.routing),
        });
        {
            // Context-window and content-policy fallbacks, and a request's own
            // `fallbacks`: the upstream stage answers such an error with a 307 to the
            // fallback path, which Envoy follows here by replaying the buffered
            // request through the router stage.
            let longest = plan
                .router
                .error_fallbacks
                .values()
                .map(|f| f.context_window.len() + f.content_policy.len())
                .max()
                .unwrap_or(0);
            let replay_headers =
                [CLIENT_CREDENTIAL_HEADERS.as_slice(), &[ADMISSION_HEADER]].concat();
            action["internal_redirect_policy"] = json!({
                "max_internal_redirects": longest + switchyard_contract::routing::MAX_REQUEST_FALLBACKS,
                "redirect_response_codes": [307],
                // The replay presents the client's credentials (which the redirect
                // carries), never the provider's the attempt left in the request, and
                // the admission id it continues (one request: one count, one slot).
                "response_headers_to_copy": replay_headers,
            });
        }
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
        let group_header =
            json!({"name": GROUP_HEADER, "string_match": {"exact": route.route_key}});
        let stream_header = STREAM_HEADER;
        routes.push(json!({
            "name": route.group,
            "match": {"prefix": "/", "headers": [
                group_header,
                {"name": stream_header, "present_match": true, "invert_match": true},
            ]},
            "route": action,
        }));
        stream_routes.push(json!({
            "name": format!("{} (streams)", route.group),
            "match": {"prefix": "/", "headers": [
                group_header,
                {"name": stream_header, "string_match": {"exact": "1"}},
            ]},
            "route": stream_action,
        }));
    }
    routes.append(&mut stream_routes);
    if plan.keys.is_some() {
        // LiteLLM's key-management API, served by the keyservice (which checks the
        // master key itself). Only these: the keyservice's internal paths (the spend
        // reports' `/spend/record`, the check, its health) are never reachable through
        // the listener (`/spend/record` gets the unrouted 404).
        let admin_paths = [
            json!({"prefix": "/key/"}),
            json!({"prefix": "/user/"}),
            json!({"prefix": "/team/"}),
            json!({"path": "/spend/logs"}),
            json!({"prefix": "/global/"}),
        ];
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
    }
    routes.push(json!({
        "name": "unrouted",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string":
            r#"{"error":{"message":"No route: the switchyard router filter did not pick a model group for this request","type":"not_found_error","param":null,"code":"404"}}"#}},
        "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
    }));

    let mut router = plan.router.clone();
    if plan.keys.is_some() {
        router.spend_reporting = Some(SpendReporting {
            cluster: KEYSERVICE_CLUSTER.to_string(),
            // Spend reports carry the master key: from the variable the config (or
            // LiteLLM's LITELLM_MASTER_KEY) names, else as the file wrote it; without a
            // master key, the reporting credential (SWITCHYARD_REPORTER_KEY).
            auth: plan.keys.as_ref().and_then(|k| {
                match (&k.master_key_env, &k.master_key, &k.reporter_key_env) {
                    (Some(env), _, _) => Some(Setting::Env { env: env.clone() }),
                    (None, Some(key), _) => Some(Setting::Literal(key.clone())),
                    (None, None, Some(env)) => Some(Setting::Env { env: env.clone() }),
                    (None, None, None) => None,
                }
            }),
        });
    }
    let router_config = plugin_json(&PluginConfig::Router(router))?;
    let mut hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "switchyard",
        "codec_type": "AUTO",
        // One JSON line per request on Envoy's stdout: what went where and why it failed.
        // The path is the router stage's redacted copy of the original one
        // (`switchyard_filter::log_path`): no query, no key segment. LiteLLM's API
        // takes keys there (`/key/info?key=sk-…`, `/key/sk-…/regenerate`). A request
        // the router stage never saw (refused by Envoy's codec) logs `-`.
        "access_log": [{
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
        }],
        "route_config": {"name": "switchyard", "virtual_hosts": [{"name": "switchyard", "domains": ["*"], "routes": routes,
            // Envoy numbers each attempt; the upstream stage reports retries from it.
            "include_request_attempt_count": true}]},
        "local_reply_config": {"mappers": [
            mapper(&["UF", "UC", "LR", "UPE"], 502, "api_connection_error", "Could not reach the model provider"),
            // UH: every deployment of the group and its fallbacks is cooling down.
            mapper(&["UH"], 503, "service_unavailable_error", "No deployments available for the selected model: all are cooling down after repeated failures (cooldown_time), try again shortly"),
            // Before URX: attempts that all timed out per try are flagged both.
            mapper(&["UT", "SI", "DT"], 504, "timeout_error", "The model provider timed out"),
            mapper(&["UO", "URX", "NR"], 503, "service_unavailable_error", "No model provider available"),
            payload_too_large_mapper(plan.router.max_request_body_bytes),
            response_too_large_mapper(buffer_limit),
        ]},
        "http_filters": [],
    });
    let mut http_filters = vec![
        json!({"name": "switchyard.router", "typed_config": wasm_filter("switchyard-router", &router_config, &vm)}),
    ];
    let mut keyservice = None;
    if plan.keys.is_some() {
        let addr = opts.keyservice.as_deref().ok_or(
            "the config enables virtual keys (general_settings.master_key or database_url): run it with `switchyard up`, or pass --keyservice HOST:PORT of a running switchyard-keyservice",
        )?;
        keyservice = Some(keyservice_cluster(addr, opts)?);
        let responder = plugin_json(&PluginConfig::Responder(ResponderConfig::default()))?;
        http_filters.push(ext_authz());
        http_filters.push(json!({"name": "switchyard.responder", "typed_config": wasm_filter("switchyard-responder", &responder, &vm)}));
        // The keyservice's own errors are JSON already; an unreachable keyservice
        // (ext_authz's status_on_error) is not.
        if let Some(mappers) = hcm["local_reply_config"]["mappers"].as_array_mut() {
            mappers.insert(0, json!({
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
            }));
        }
    }
    // Anthropic-format clients get each of those replies in Anthropic's shape (the
    // first mapper that matches wins).
    if let Some(mappers) = hcm["local_reply_config"]["mappers"].as_array_mut() {
        let anthropic: Vec<Value> = mappers.iter().map(anthropic_mapper).collect();
        mappers.splice(0..0, anthropic);
        if plan.keys.is_some() {
            // An unreachable keyservice makes the gateway unready: LiteLLM's 503 with
            // its `db` field, not an error body (probes and dashboards read `db`).
            mappers.insert(0, json!({
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
            }));
        }
    }
    http_filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    hcm["http_filters"] = json!(http_filters);

    let mut clusters: Vec<Value> = keyservice.into_iter().collect();
    for (name, address) in &plan.token_clusters {
        clusters.push(token_cluster(name, address, opts));
    }
    for dep in &plan.deployments {
        if let Some(name) = direct_cluster_name(dep) {
            clusters.push(token_cluster(&name, &dep.address, opts));
        }
    }
    let mut plugin_configs = vec![("router-plugin.json".to_string(), router_config.clone())];
    for route in &plan.routes {
        let limits = crate::plan::timeouts::route_timeouts(
            route,
            plan,
            total_attempts(route, &plan.routing),
            timeout,
        );
        let (cluster, configuration) =
            route_cluster(route, &limits, plan, &vm, opts, buffer_limit)?;
        clusters.push(cluster);
        plugin_configs.push((
            format!("upstream-{}.json", route.cluster_name),
            configuration,
        ));
    }

    let bootstrap = json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": opts.admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "switchyard",
                "address": {"socket_address": {"address": opts.host, "port_value": opts.port}},
                "per_connection_buffer_limit_bytes": buffer_limit,
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
            }],
            "clusters": clusters,
        },
    });
    Ok(Rendered {
        bootstrap,
        plugin_configs,
    })
}

/// Writes `envoy.yaml` and the plugin JSON files into `out`.
pub fn write(rendered: &Rendered, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let yaml = serde_yaml::to_string(&rendered.bootstrap)
        .map_err(|e| format!("cannot render YAML: {e}"))?;
    let bootstrap = out.join("envoy.yaml");
    let header = "# Rendered by `switchyard render`; edit config.yaml and render again instead.\n";
    std::fs::write(&bootstrap, format!("{header}{yaml}"))
        .map_err(|e| format!("cannot write {}: {e}", bootstrap.display()))?;
    for (name, json) in &rendered.plugin_configs {
        let path = out.join(name);
        std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(bootstrap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::parse_str;

    fn render_text(text: &str) -> Value {
        let env = |_: &str| None;
        let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
        let plan = crate::plan::compile(&config, &env).unwrap();
        let opts = RenderOptions::for_tests();
        render(&plan, &opts).unwrap().bootstrap
    }

    /// The header lists Envoy's ext_authz is rendered with are the contract's: the
    /// keyservice gets the client's credentials and the router stage's check headers,
    /// and only the keyservice's own headers reach the filter.
    #[test]
    fn ext_authz_passes_exactly_the_contracts_headers() {
        use switchyard_contract::headers as h;
        let names = |patterns: &Value| -> Vec<String> {
            patterns["patterns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["exact"].as_str().unwrap().to_string())
                .collect()
        };
        let service = &ext_authz()["typed_config"]["http_service"];
        let to_keyservice = names(&service["authorization_request"]["allowed_headers"]);
        let expected: Vec<&str> = h::CLIENT_CREDENTIAL_HEADERS
            .iter()
            .chain(&h::CHECK_REQUEST_HEADERS)
            .copied()
            .collect();
        assert_eq!(to_keyservice, expected);
        for header in [
            h::GROUP_HEADER,
            h::REQUESTED_MODEL_HEADER,
            h::FALLBACK_GROUPS_HEADER,
            h::ADMISSION_HEADER,
        ] {
            assert!(to_keyservice.iter().any(|n| n == header), "{header}");
        }
        let to_filter = names(&service["authorization_response"]["allowed_upstream_headers"]);
        assert_eq!(to_filter, h::KEY_HEADERS);
        for header in [
            h::ALIAS_TARGET_HEADER,
            h::KEY_HASH_HEADER,
            h::USER_ID_HEADER,
            h::TEAM_ID_HEADER,
            h::LEASE_HEADER,
            h::KEY_MODELS_HEADER,
            h::CLIENT_MOCK_HEADER,
            h::ADMISSION_HEADER,
        ] {
            assert!(to_filter.iter().any(|n| n == header), "{header}");
        }
    }

    /// A config with virtual keys (a database, no master key) rendered against `ks`.
    fn render_keys(ks: &str, ca: Option<&str>) -> Result<Value, String> {
        let env = |_: &str| None;
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1}\ngeneral_settings:\n  database_url: sqlite://k.db\n";
        let (config, _) = parse_str(text, "config.yaml", &env).unwrap();
        let plan = crate::plan::compile(&config, &env).unwrap();
        let opts = RenderOptions {
            keyservice: Some(ks.to_string()),
            keyservice_ca: ca.map(str::to_string),
            ..RenderOptions::for_tests()
        };
        render(&plan, &opts).map(|r| r.bootstrap)
    }

    fn keyservice_cluster_of(boot: &Value) -> Value {
        boot["static_resources"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == KEYSERVICE_CLUSTER)
            .cloned()
            .unwrap()
    }

    #[test]
    fn a_tls_keyservice_is_checked_by_certificate_and_name() {
        let boot = render_keys("https://keys.internal:4443", Some("/etc/ks-ca.pem")).unwrap();
        let c = keyservice_cluster_of(&boot);
        assert_eq!(c["type"], "STRICT_DNS");
        let tls = &c["transport_socket"]["typed_config"];
        assert_eq!(tls["sni"], "keys.internal");
        let v = &tls["common_tls_context"]["validation_context"];
        assert_eq!(v["trusted_ca"]["filename"], "/etc/ks-ca.pem");
        assert_eq!(
            v["match_typed_subject_alt_names"],
            json!([{"san_type": "DNS", "matcher": {"exact": "keys.internal"}}])
        );
        // Without --keyservice-ca: the system trust store (--ca-file).
        let boot = render_keys("https://10.0.0.5:4443", None).unwrap();
        let c = keyservice_cluster_of(&boot);
        let tls = &c["transport_socket"]["typed_config"];
        assert_eq!(
            tls["common_tls_context"]["validation_context"]["trusted_ca"]["filename"],
            DEFAULT_CA_FILE
        );
        assert_eq!(
            tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"][0]
                ["san_type"],
            "IP_ADDRESS"
        );
        // Cleartext forms: no transport socket; a CA for them is a mistake.
        for addr in ["127.0.0.1:4001", "http://127.0.0.1:4001"] {
            let c = keyservice_cluster_of(&render_keys(addr, None).unwrap());
            assert!(c.get("transport_socket").is_none(), "{addr}");
        }
        assert!(render_keys("127.0.0.1:4001", Some("/ca.pem"))
            .unwrap_err()
            .contains("--keyservice-ca is for a TLS keyservice"));
        for bad in ["https://", "https://host", "ftp://h:1/x", "h:notaport"] {
            assert!(render_keys(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_listener_never_routes_internal_keyservice_paths() {
        let boot = render_keys("127.0.0.1:4001", None).unwrap();
        let hcm = &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap();
        let to_keyservice: Vec<&Value> = routes
            .iter()
            .filter(|r| r["route"]["cluster"] == KEYSERVICE_CLUSTER)
            .map(|r| &r["match"])
            .collect();
        assert!(to_keyservice.contains(&&json!({"path": "/spend/logs"})));
        for m in &to_keyservice {
            for internal in ["/spend/record", "/check/v1/chat/completions"] {
                if let Some(prefix) = m["prefix"].as_str() {
                    assert!(!internal.starts_with(prefix), "{m} routes {internal}");
                }
                assert_ne!(m["path"].as_str(), Some(internal), "{m}");
            }
        }
        // The gateway's reports carry the reporting credential (no master key).
        let plugin: Value = serde_json::from_str(
            hcm["http_filters"][0]["typed_config"]["config"]["configuration"]["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            plugin["spend_reporting"]["auth"],
            json!({"env": crate::plan::REPORTER_KEY_VARIABLE})
        );
    }

    #[test]
    fn vertex_token_endpoints_get_a_cluster_each() {
        let key = serde_json::json!({
            "type": "service_account",
            "private_key": include_str!("../../filter/src/testdata/google_test_key.pem"),
            "client_email": "gw@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        // Two deployments of one account: one token cluster.
        let text = format!(
            "model_list:\n  - model_name: a\n    litellm_params: {{model: vertex_ai/gemini-2.5-flash, vertex_project: p, vertex_credentials: {key}}}\n  - model_name: b\n    litellm_params: {{model: vertex_ai/claude-opus-4, vertex_project: p, vertex_credentials: {key}}}\n",
            key = serde_json::to_string(&key.to_string()).unwrap()
        );
        let boot = render_text(&text);
        let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
        let tokens: Vec<&Value> = clusters
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with("google_token_"))
            .collect();
        assert_eq!(tokens.len(), 1);
        let c = tokens[0];
        assert_eq!(c["name"], "google_token_oauth2_googleapis_com_443");
        assert_eq!(c["type"], "STRICT_DNS");
        assert_eq!(
            c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"],
            serde_json::json!({"address": "oauth2.googleapis.com", "port_value": 443})
        );
        assert_eq!(
            c["transport_socket"]["typed_config"]["sni"],
            "oauth2.googleapis.com"
        );
    }

    #[test]
    fn circuit_breakers_are_sized_from_the_deployments() {
        let boot = render_text(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1, max_parallel_requests: 2000}\n  - model_name: a\n    litellm_params: {model: openai/y, api_base: http://127.0.0.1:2, rpm: 600}\n  - model_name: b\n    litellm_params: {model: openai/z, api_base: http://127.0.0.1:3}\n  - model_name: c\n    litellm_params: {model: openai/w, api_base: http://127.0.0.1:4, rpm: 10}\nrouter_settings:\n  fallbacks: [{a: [b]}]\n",
        );
        let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
        let thresholds = |name: &str| {
            let c = clusters
                .iter()
                .find(|c| c["name"].as_str().is_some_and(|n| n.ends_with(name)))
                .unwrap();
            c["circuit_breakers"]["thresholds"][0].clone()
        };
        // a: 2000 + 600, and its fallback b's deployment (no hint: 1024).
        let a = thresholds("_a");
        assert_eq!(a["max_requests"], 2000 + 600 + 1024, "{a}");
        assert_eq!(
            a["max_retries"], a["max_requests"],
            "one retry per request in flight"
        );
        assert_eq!(a["max_pending_requests"], a["max_requests"]);
        assert_eq!(a["max_connections"], a["max_requests"]);
        // c: rpm 10, but never below Envoy's own default.
        assert_eq!(thresholds("_c")["max_retries"], CIRCUIT_BREAKER_FLOOR);
    }

    #[test]
    fn a_group_and_its_fallbacks_share_one_route_cluster() {
        let boot = render_text(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: http://127.0.0.1:1, weight: 1}\n  - model_name: a\n    litellm_params: {model: azure/y, api_base: https://r.openai.azure.com, weight: 3}\n  - model_name: b\n    litellm_params: {model: anthropic/z, api_base: http://10.0.0.1:2}\nrouter_settings:\n  num_retries: 1\n  timeout: 60\n  allowed_fails: 2\n  cooldown_time: 7\n  routing_strategy: least-busy\n  fallbacks: [{a: [b]}]\n",
        );
        let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 2, "one route cluster per group");
        let a = &clusters[0];
        assert_eq!(a["type"], "STRICT_DNS");
        assert_eq!(a["lb_policy"], "LEAST_REQUEST");
        assert_eq!(
            a["common_lb_config"]["healthy_panic_threshold"]["value"],
            0.0
        );
        let localities = a["load_assignment"]["endpoints"].as_array().unwrap();
        let summary: Vec<(u64, u64, &str)> = localities
            .iter()
            .map(|l| {
                (
                    l["priority"].as_u64().unwrap(),
                    l["load_balancing_weight"].as_u64().unwrap(),
                    l["lb_endpoints"][0]["endpoint"]["hostname"]
                        .as_str()
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, 1, "127.0.0.1"),
                (0, 3, "r.openai.azure.com"),
                (1, 1, "10.0.0.1")
            ]
        );
        // TLS only for the https endpoint, chosen by its metadata.
        assert_eq!(
            localities[1]["lb_endpoints"][0]["metadata"]["filter_metadata"]
                ["envoy.transport_socket_match"]["tls_host"],
            "r.openai.azure.com"
        );
        assert!(
            localities[0]["lb_endpoints"][0]["metadata"]["filter_metadata"]
                .get("envoy.transport_socket_match")
                .is_none()
        );
        assert_eq!(
            a["transport_socket_matches"][0]["transport_socket"]["typed_config"]["sni"],
            "r.openai.azure.com"
        );
        assert!(
            a.get("transport_socket").is_none(),
            "plain endpoints keep the raw socket"
        );
        // Envoy refuses ALPN (`auto_config`) on a cluster with a raw socket: a mixed
        // cluster speaks HTTP/1.1 to every endpoint.
        let protocol = &a["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
        assert!(protocol.get("auto_config").is_none(), "{protocol}");
        assert_eq!(
            protocol["explicit_http_config"],
            serde_json::json!({"http_protocol_options": {}})
        );
        assert_eq!(a["outlier_detection"]["consecutive_5xx"], 2);
        assert_eq!(a["outlier_detection"]["base_ejection_time"], "7.000s");
        // The plugin knows every deployment, fallback ones tagged.
        let plugin: Value = serde_json::from_str(
            a["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
                ["typed_config"]["config"]["configuration"]["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let tags: Vec<u64> = plugin["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["fallback_index"].as_u64().unwrap())
            .collect();
        assert_eq!(tags, vec![0, 0, 1]);

        let routes = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap();
        let retry = &routes[0]["route"]["retry_policy"];
        assert_eq!(
            retry["num_retries"], 3,
            "(1 retry + 1) attempts for the group and again for its fallback"
        );
        assert_eq!(
            retry["retry_priority"]["typed_config"]["update_frequency"],
            2
        );
        assert_eq!(retry["retriable_status_codes"], serde_json::json!([429]));
        assert_eq!(
            retry["per_try_timeout"], "15.000s",
            "60 s shared by 4 attempts"
        );
        assert!(retry["retry_on"]
            .as_str()
            .unwrap()
            .contains("connect-failure"));
        // The fallback group's own route has no fallbacks: no priority hopping.
        assert!(routes[1]["route"]["retry_policy"]
            .get("retry_priority")
            .is_none());
        assert_eq!(routes[1]["route"]["retry_policy"]["num_retries"], 1);
    }

    #[test]
    fn an_all_https_cluster_keeps_alpn() {
        let boot = render_text(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: https://one.example.com/v1, api_key: k}\n  - model_name: b\n    litellm_params: {model: openai/y, api_base: https://two.example.com/v1, api_key: k}\nrouter_settings:\n  fallbacks: [{a: [b]}]\n",
        );
        let a = &boot["static_resources"]["clusters"][0];
        let protocol = &a["typed_extension_protocol_options"]
            ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
        assert_eq!(
            protocol["auto_config"],
            serde_json::json!({"http_protocol_options": {}, "http2_protocol_options": {}}),
            "HTTP/2 where the provider offers it"
        );
        assert!(protocol.get("explicit_http_config").is_none());
        let snis: Vec<&str> = a["transport_socket_matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["transport_socket"]["typed_config"]["sni"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(snis, vec!["one.example.com", "two.example.com"]);
        assert!(a.get("transport_socket").is_some(), "no raw default socket");
    }

    #[test]
    fn titan_deployments_get_a_cluster_of_their_own() {
        let boot = render_text(
            "model_list:\n  - model_name: titan\n    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0, aws_access_key_id: AKID, aws_secret_access_key: s, aws_region_name: eu-west-1}\n  - model_name: titan\n    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0, aws_access_key_id: AKID, aws_secret_access_key: s, aws_bedrock_runtime_endpoint: 'http://127.0.0.1:9'}\n  - model_name: claude\n    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0, aws_access_key_id: AKID, aws_secret_access_key: s}\n",
        );
        let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
        let direct: Vec<&Value> = clusters
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with("direct_"))
            .collect();
        assert_eq!(direct.len(), 2, "one per Titan deployment, none for Claude");
        let address = |c: &Value| {
            c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"]
                .clone()
        };
        assert_eq!(
            address(direct[0]),
            serde_json::json!({"address": "bedrock-runtime.eu-west-1.amazonaws.com", "port_value": 443})
        );
        assert_eq!(
            direct[0]["transport_socket"]["typed_config"]["sni"],
            "bedrock-runtime.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            address(direct[1]),
            serde_json::json!({"address": "127.0.0.1", "port_value": 9})
        );
        assert!(direct[1].get("transport_socket").is_none());
        // The route cluster's plugin config names each deployment's own cluster.
        let route = clusters
            .iter()
            .find(|c| {
                c["name"].as_str().unwrap().contains("titan")
                    && !c["name"].as_str().unwrap().starts_with("direct_")
            })
            .unwrap();
        let plugin: Value = serde_json::from_str(
            route["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
                ["typed_config"]["config"]["configuration"]["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let named: Vec<&str> = plugin["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["direct_cluster"].as_str().unwrap())
            .collect();
        let names: Vec<&str> = direct.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(named, names);
    }

    #[test]
    fn error_fallbacks_enable_internal_redirects() {
        let boot = render_text(
            "model_list:\n  - model_name: small\n    litellm_params: {model: openai/s, api_base: http://127.0.0.1:1, extra_headers: {X-Team: a}}\n  - model_name: big\n    litellm_params: {model: openai/b, api_base: http://127.0.0.1:2}\nrouter_settings:\n  context_window_fallbacks: [{small: [big]}]\n",
        );
        let routes = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap();
        // Both groups' call and stream routes.
        for r in &routes[..4] {
            assert_eq!(
                r["route"]["internal_redirect_policy"]["redirect_response_codes"],
                serde_json::json!([307])
            );
            // The longest config chain, after the request's own fallbacks.
            assert_eq!(
                r["route"]["internal_redirect_policy"]["max_internal_redirects"],
                serde_json::json!(1 + switchyard_contract::routing::MAX_REQUEST_FALLBACKS)
            );
            // A replay presents the caller's credentials only (`credentials`).
            assert_eq!(
                r["route"]["internal_redirect_policy"]["response_headers_to_copy"],
                serde_json::json!(
                    [CLIENT_CREDENTIAL_HEADERS.as_slice(), &[ADMISSION_HEADER]].concat()
                )
            );
        }
        // The `big` cluster clears `small`'s extra header too (a fallback replays the
        // request with the headers the earlier cluster set).
        let big = &boot["static_resources"]["clusters"][1];
        let plugin: Value = serde_json::from_str(
            big["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
                ["typed_config"]["config"]["configuration"]["value"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(plugin["clear_headers"], serde_json::json!(["x-team"]));
        assert_eq!(
            plugin["error_fallbacks"]["small"]["context_window"],
            serde_json::json!(["big"])
        );

        // Without config chains, a request's own `fallbacks` still redirect.
        let plain = render_text("model_list:\n  - model_name: g\n    litellm_params: {model: openai/s, api_base: http://127.0.0.1:1}\n");
        let r = &plain["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"][0];
        assert_eq!(
            r["route"]["internal_redirect_policy"]["max_internal_redirects"],
            serde_json::json!(switchyard_contract::routing::MAX_REQUEST_FALLBACKS)
        );
    }

    #[test]
    fn envoys_own_errors_take_anthropics_shape_on_the_messages_routes() {
        let boot = render_text(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_base: http://127.0.0.1:9}\n",
        );
        let hcm = &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
        let (anthropic, openai): (Vec<&Value>, Vec<&Value>) = mappers
            .iter()
            .partition(|m| m["filter"]["and_filter"]["filters"][1]["extension_filter"].is_object());
        assert_eq!(anthropic.len(), openai.len(), "one twin per mapper");
        assert!(
            mappers[..anthropic.len()]
                .iter()
                .all(|m| m["filter"]["and_filter"].is_object()),
            "twins first"
        );
        let expression = anthropic_request_expression();
        assert_eq!(
            expression,
            "filter_state['wasm.switchyard_api'] == b'anthropic'"
        );
        let twin = anthropic
            .iter()
            .find(|m| m["status_code"] == 504)
            .expect("the timeout twin");
        assert_eq!(
            twin["filter"]["and_filter"]["filters"][1]["extension_filter"]["typed_config"]
                ["expression"],
            expression.as_str()
        );
        let body = &twin["body_format_override"]["json_format"];
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "timeout_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The model provider timed out"));
        let unavailable = anthropic.iter().find(|m| m["status_code"] == 503).unwrap();
        assert_eq!(
            unavailable["body_format_override"]["json_format"]["error"]["type"],
            "overloaded_error"
        );
    }

    #[test]
    fn envoys_own_413_gets_the_filters_openai_body() {
        let boot = render_text(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/gpt-4o, api_base: http://127.0.0.1:9}\ngeneral_settings:\n  max_request_size_mb: 1\n",
        );
        let hcm = &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
        let m = mappers
            .iter()
            .find(|m| m["filter"]["status_code_filter"].is_object())
            .expect("a status-code mapper");
        assert_eq!(
            m["filter"]["status_code_filter"]["comparison"]["value"]["default_value"],
            413
        );
        assert_eq!(m["status_code"], 413);
        let body = &m["body_format_override"]["json_format"];
        assert_eq!(body, &GatewayError::payload_too_large(1 << 20).to_value());
        assert_eq!(body["error"]["code"], "413");
        assert_eq!(body["error"]["param"], Value::Null);
        // Envoy's buffer stays above the filter's limit, so the filter normally answers.
        assert!(
            boot["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytes"]
                .as_u64()
                .unwrap()
                > 1 << 20
        );
        // No `%` in the message: json_format would read it as a command operator.
        assert!(!body["error"]["message"].as_str().unwrap().contains('%'));
    }

    #[test]
    fn small_request_limit_does_not_shrink_response_buffers() {
        let boot = render_text(
            "model_list:\n  - model_name: g\n    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, api_base: http://127.0.0.1:9}\ngeneral_settings:\n  max_request_size_mb: 1\n",
        );
        let listener = &boot["static_resources"]["listeners"][0];
        assert_eq!(
            listener["per_connection_buffer_limit_bytes"],
            MIN_RESPONSE_BUFFER_BYTES
        );
        let cluster = &boot["static_resources"]["clusters"][0];
        assert_eq!(
            cluster["per_connection_buffer_limit_bytes"],
            MIN_RESPONSE_BUFFER_BYTES
        );
        let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
        let mappers = hcm["local_reply_config"]["mappers"].as_array().unwrap();
        let m = mappers
            .iter()
            .find(|m| m["filter"]["extension_filter"].is_object())
            .expect("a mapper for response_payload_too_large");
        assert!(
            m["filter"]["extension_filter"]["typed_config"]["expression"]
                .as_str()
                .unwrap()
                .contains("response_payload_too_large")
        );
        let body = &m["body_format_override"]["json_format"]["error"];
        assert_eq!(
            (m["status_code"].as_u64(), body["code"].as_str()),
            (Some(502), Some("502"))
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&MIN_RESPONSE_BUFFER_BYTES.to_string()) && !message.contains('%'));
    }
}
