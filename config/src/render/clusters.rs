//! The bootstrap's clusters: one per model group's route (its deployments and its
//! fallback groups', with the upstream stage in the upstream HTTP filter chain), the
//! keyservice's, and those for calls the filter makes itself.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use switchyard_contract::plugin_config::{
    DeploymentConfig, PluginConfig, UpstreamConfig, ENDPOINT_METADATA_KEY,
    ENDPOINT_METADATA_NAMESPACE,
};

use super::{is_ip, plugin_json, secs, tls_socket, wasm_filter, RenderOptions, KEYSERVICE_CLUSTER};
use crate::plan::timeouts::RouteTimeouts;
use crate::plan::{Plan, PlannedDeployment, PlannedRoute, RoutingPolicy, UpstreamAddress};

/// The keyservice's cluster (HTTP/1.1 on loopback or wherever `addr` says): over TLS
/// for `https://host:port`, Envoy checking the certificate (against `keyservice_ca`,
/// else `ca_file`) and its name (SNI and subject alternative name `host`), so virtual
/// keys (ext_authz) and the reporting credential (spend reports) never cross a network
/// in cleartext and a keyservice that cannot prove its name gets nothing: every
/// request fails closed (ext_authz's 503).
/// Envoy's own admin endpoint as a cluster, for the router stage's `GET /metrics`,
/// which appends Envoy's `/stats/prometheus` to its own metrics; none when the admin
/// port is left to Envoy (0: the port is not known when rendering).
fn admin_cluster(opts: &RenderOptions) -> Option<Value> {
    if opts.admin_port == 0 {
        return None;
    }
    Some(json!({
        "name": super::ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": super::ADMIN_CLUSTER, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": super::ADMIN_ADDRESS, "port_value": opts.admin_port}}}}]}]},
    }))
}

pub(super) fn keyservice_cluster(addr: &str, opts: &RenderOptions) -> Result<Value, String> {
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
/// access tokens), a logging callback's collector, or one deployment alone
/// ([`direct_cluster_name`]).
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
fn direct_cluster_name(dep: &PlannedDeployment) -> Option<String> {
    use switchyard_contract::providers::{bedrock, ProviderKind};
    (dep.upstream.provider == ProviderKind::Bedrock && bedrock::may_fan_out(&dep.upstream.model))
        .then(|| format!("direct_{}", dep.name))
}

/// The clusters for calls the filter makes itself: the token endpoints, the logging
/// callbacks' collectors (TLS with SNI for https, like a token endpoint), then one
/// per deployment the filter may call alone ([`direct_cluster_name`]).
pub(super) fn filter_call_clusters(plan: &Plan, opts: &RenderOptions) -> Vec<Value> {
    let mut clusters = Vec::new();
    if let Some(admin) = admin_cluster(opts) {
        clusters.push(admin);
    }
    for (name, address) in plan.token_clusters.iter().chain(&plan.callback_clusters) {
        clusters.push(token_cluster(name, address, opts));
    }
    for dep in &plan.deployments {
        if let Some(name) = direct_cluster_name(dep) {
            clusters.push(token_cluster(&name, &dep.address, opts));
        }
    }
    clusters
}

/// The upstream stage's HTTP filter name in a route cluster's upstream filter chain.
pub(crate) const UPSTREAM_STAGE_FILTER: &str = "switchyard.upstream";

/// Envoy's priority load split: with this factor a priority keeps all traffic while
/// any of its deployments is healthy, as LiteLLM only falls back when the whole group
/// failed or cooled down.
const OVERPROVISIONING_FACTOR: u32 = 100_000;

/// One model group's route cluster: priority 0 holds the group's deployments,
/// priority `n` its `n`-th fallback group's; each deployment is a locality (so its
/// weight does not depend on how many addresses DNS returns) whose endpoint metadata
/// names it for the upstream stage. Returns the cluster and its plugin JSON.
pub(super) fn route_cluster(
    route: &PlannedRoute,
    limits: &RouteTimeouts,
    plan: &Plan,
    vm: &Value,
    opts: &RenderOptions,
    buffer_limit: usize,
) -> Result<(Value, String), String> {
    let RouteEndpoints {
        deployments,
        localities,
        tls_hosts,
        any_dns,
        any_plain,
    } = route_endpoints(route, limits, plan)?;
    let configuration = upstream_plugin_json(route, plan, deployments)?;
    let protocol = protocol_options(route, &configuration, vm, tls_hosts.is_empty() || any_plain);
    let routing = &plan.routing;
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
        "outlier_detection": outlier_detection(routing),
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": protocol,
        },
        "circuit_breakers": circuit_breakers(route, plan),
    });
    if any_dns {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    add_transport_sockets(&mut cluster, &tls_hosts, any_plain, opts);
    Ok((cluster, configuration))
}

/// A route cluster's endpoints, gathered from its route's priorities.
struct RouteEndpoints {
    /// The upstream stage's config of each endpoint's deployment, in endpoint order.
    deployments: Vec<DeploymentConfig>,
    /// Envoy's localities: one per deployment, with its priority and weight.
    localities: Vec<Value>,
    /// The hosts of `https` deployments (each gets its own transport socket).
    tls_hosts: BTreeSet<String>,
    /// Whether any deployment is a host name (the cluster resolves DNS).
    any_dns: bool,
    /// Whether any deployment is plain `http`.
    any_plain: bool,
}

/// The endpoints of `route`'s cluster: every deployment of every priority that gets
/// traffic.
fn route_endpoints(
    route: &PlannedRoute,
    limits: &RouteTimeouts,
    plan: &Plan,
) -> Result<RouteEndpoints, String> {
    let mut endpoints = RouteEndpoints {
        deployments: Vec::new(),
        localities: Vec::new(),
        tls_hosts: BTreeSet::new(),
        any_dns: false,
        any_plain: false,
    };
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
            endpoints.add(dep, index, priority, weight, limits);
        }
    }
    Ok(endpoints)
}

impl RouteEndpoints {
    /// Adds deployment `dep` (`plan.deployments[index]`) as a locality at `priority`
    /// with `weight`.
    fn add(
        &mut self,
        dep: &PlannedDeployment,
        index: usize,
        priority: usize,
        weight: u32,
        limits: &RouteTimeouts,
    ) {
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
        self.any_dns |= !is_ip(host);
        let mut metadata = json!({
            ENDPOINT_METADATA_NAMESPACE: {ENDPOINT_METADATA_KEY: config.deployment_id},
        });
        if *tls {
            self.tls_hosts.insert(host.to_string());
            metadata["envoy.transport_socket_match"] = json!({"tls_host": host});
        } else {
            self.any_plain = true;
        }
        self.localities.push(json!({
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
        self.deployments.push(config);
    }
}

/// The upstream stage's plugin JSON for `route`'s cluster.
fn upstream_plugin_json(
    route: &PlannedRoute,
    plan: &Plan,
    deployments: Vec<DeploymentConfig>,
) -> Result<String, String> {
    // Every extra header any deployment of the config sets: an earlier attempt, or
    // an earlier group before an error fallback, may have left one behind.
    let mut clear_headers: Vec<String> = plan
        .deployments
        .iter()
        .flat_map(|d| d.upstream.headers.keys().map(|k| k.to_ascii_lowercase()))
        .collect();
    clear_headers.sort();
    clear_headers.dedup();
    plugin_json(&PluginConfig::Upstream(UpstreamConfig {
        group: route.group.clone(),
        deployments,
        clear_headers,
        error_fallbacks: plan.router.error_fallbacks.clone(),
        keys: plan.keys.is_some(),
        debug: plan.debug_requests,
    }))
}

/// The route cluster's HTTP protocol options: the upstream stage (plugin JSON
/// `configuration`) in its upstream HTTP filter chain, and the HTTP version
/// (HTTP/1.1 when `http1_only`, else ALPN's choice).
fn protocol_options(
    route: &PlannedRoute,
    configuration: &str,
    vm: &Value,
    http1_only: bool,
) -> Value {
    let mut protocol = json!({
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "http_filters": [
            {"name": UPSTREAM_STAGE_FILTER, "typed_config": wasm_filter(&route.cluster_name, configuration, vm)},
            {"name": "envoy.filters.http.upstream_codec",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec"}},
        ],
    });
    if http1_only {
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
    protocol
}

/// LiteLLM's cooldown: `allowed_fails` consecutive failures take a deployment
/// out of rotation for `cooldown_time`, then it comes back.
fn outlier_detection(routing: &RoutingPolicy) -> Value {
    let cooldown = secs(routing.cooldown_secs);
    json!({
        "consecutive_5xx": routing.allowed_fails.max(1),
        "consecutive_gateway_failure": routing.allowed_fails.max(1),
        "enforcing_consecutive_5xx": 100,
        "enforcing_consecutive_gateway_failure": 100,
        "enforcing_success_rate": 0,
        "interval": "1s",
        "base_ejection_time": cooldown,
        "max_ejection_time": cooldown,
        "max_ejection_percent": 100,
    })
}

/// The TLS transport sockets of a route cluster: one per `https` host, chosen by
/// each endpoint's metadata, and the first as the default when no deployment is
/// plain `http`.
fn add_transport_sockets(
    cluster: &mut Value,
    tls_hosts: &BTreeSet<String>,
    any_plain: bool,
    opts: &RenderOptions,
) {
    if tls_hosts.is_empty() {
        return;
    }
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
pub(super) fn circuit_breakers(route: &PlannedRoute, plan: &Plan) -> Value {
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
