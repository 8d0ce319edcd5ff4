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
//!
//! [`render`] assembles the bootstrap from its parts: `listener` (the HTTP
//! connection manager and its filters), `routes`, `local_reply` (Envoy's own
//! errors as JSON) and `clusters`. [`istio`] (`render --target istio`) carries the
//! same parts (`parts`) into Kubernetes and Istio objects.

// Envoy's JSON is built here by indexing the `serde_json::Value` objects this module
// has just built with `json!` (`cluster["dns_lookup_family"] = …`): indexing an object
// never panics (a missing key reads as null, and is inserted on write), and the shape
// is the render tests' and `envoy --mode validate`'s to check. The workspace's other
// no-panic lints hold here too.
#![allow(clippy::indexing_slicing)]

pub(crate) mod clusters;
pub mod istio;
mod listener;
mod local_reply;
pub(crate) mod routes;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use switchyard_contract::plugin_config::{PluginConfig, RouterConfig, Setting, SpendReporting};

use crate::plan::timeouts::{RouteTimeouts, DEFAULT_TIMEOUT_SECS};
use crate::plan::{total_attempts, Plan, PlannedRoute};

pub use clusters::{cluster_concurrency, CIRCUIT_BREAKER_FLOOR, DEFAULT_DEPLOYMENT_CONCURRENCY};

/// Head-room over the filter's body limit given to Envoy's own buffers, so the filter
/// (which answers in OpenAI JSON) normally sees an oversized body first (for when it
/// does not, see `local_reply::payload_too_large_mapper`).
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
/// Envoy's own admin endpoint as a cluster (`GET /metrics` appends its stats).
pub const ADMIN_CLUSTER: &str = "switchyard_admin";
/// The address Envoy's admin listens on.
const ADMIN_ADDRESS: &str = "127.0.0.1";
/// `GET /metrics` (with a trailing slash or a query too), as the router stage
/// classifies it.
const METRICS_PATH_REGEX: &str = r"^/metrics/*([?#].*)?$";
/// The environment variable through which `switchyard up` hands the master key to
/// the keyservice it starts (never argv, never a file).
pub const MASTER_KEY_ENV: &str = "SWITCHYARD_MASTER_KEY";

/// Headers the keyservice adds to an admitted request (through ext_authz), for the
/// responder stage and spend recording; a client can never set them (the router
/// stage removes them).
pub use switchyard_contract::headers::KEY_HEADERS;

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

/// The pieces of Envoy configuration a plan renders to, before they are put into a
/// bootstrap ([`render`]) or into Istio's patches (`istio`): both targets call the
/// same builders through [`parts`], so that they cannot drift.
#[derive(Debug)]
pub(crate) struct Parts {
    /// Envoy's per-connection buffer limit for the listener (and route clusters).
    pub buffer_limit: usize,
    /// The virtual host's routes, in Envoy's order.
    pub routes: Vec<Value>,
    /// `local_reply_config` mappers: Envoy's own errors as OpenAI-shaped JSON.
    pub local_reply_mappers: Vec<Value>,
    /// The listener's HTTP filters, Envoy's router last.
    pub http_filters: Vec<Value>,
    /// Every cluster: the keyservice's, the filter's own callouts', the route
    /// clusters and the `/health` probe clusters.
    pub clusters: Vec<Value>,
    /// `(file name, JSON)` for each plugin configuration.
    pub plugin_configs: Vec<(String, String)>,
}

/// Builds the [`Parts`] of `plan`'s Envoy configuration.
pub(crate) fn parts(plan: &Plan, opts: &RenderOptions) -> Result<Parts, String> {
    let vm = vm_config(plan, opts);
    let buffer_limit = buffer_limit(plan);
    let timeout = plan.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    let routes = routes::routes(plan, timeout);
    let router_config = plugin_json(&PluginConfig::Router(router_config(plan, opts)))?;
    let keyservice = keyservice(plan, opts)?;
    let http_filters = listener::http_filters(plan, &router_config, &vm)?;

    let mut clusters: Vec<Value> = keyservice.into_iter().collect();
    clusters.extend(clusters::filter_call_clusters(plan, opts));
    let mut plugin_configs = vec![("router-plugin.json".to_string(), router_config)];
    for route in &plan.routes {
        let limits = route_limits(route, plan, timeout);
        let (cluster, configuration) =
            clusters::route_cluster(route, &limits, plan, &vm, opts, buffer_limit)?;
        clusters.push(cluster);
        plugin_configs.push((
            format!("upstream-{}.json", route.cluster_name),
            configuration,
        ));
    }
    // `/health`'s probe clusters: each reaches one deployment alone, through the
    // upstream stage (its plugin JSON is its group's route cluster's, narrowed to it),
    // in a VM of its own: Envoy runs a callout's upstream filters inside the
    // `dispatch_http_call` that sends it, and the SDK of the VM that dispatches
    // cannot create a stream context then (docs/envoy.md).
    let mut probe_vm = vm.clone();
    probe_vm["vm_id"] = json!(PROBE_VM_ID);
    for route in probe_routes(plan) {
        let limits = route_limits(&route, plan, timeout);
        let (cluster, _) =
            clusters::route_cluster(&route, &limits, plan, &probe_vm, opts, buffer_limit)?;
        clusters.push(cluster);
    }
    Ok(Parts {
        buffer_limit,
        routes,
        local_reply_mappers: local_reply::mappers(plan, buffer_limit),
        http_filters,
        clusters,
        plugin_configs,
    })
}

/// Renders the bootstrap and plugin configs for `plan`.
pub fn render(plan: &Plan, opts: &RenderOptions) -> Result<Rendered, String> {
    let Parts {
        buffer_limit,
        routes,
        local_reply_mappers,
        http_filters,
        clusters,
        plugin_configs,
    } = parts(plan, opts)?;
    let hcm = listener::http_connection_manager(routes, local_reply_mappers, http_filters);
    Ok(Rendered {
        bootstrap: bootstrap(opts, buffer_limit, hcm, clusters),
        plugin_configs,
    })
}

/// The wasm VM every plugin instance shares: the filter's `.wasm` and the
/// environment variables the configuration reads.
fn vm_config(plan: &Plan, opts: &RenderOptions) -> Value {
    // Written as given: relative paths resolve against Envoy's working directory.
    let wasm = &opts.wasm;
    let host_env_keys: Vec<&str> = plan.host_env_keys.iter().map(String::as_str).collect();
    json!({
        "vm_id": "switchyard",
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": wasm.to_string_lossy()}},
        "environment_variables": {"host_env_keys": host_env_keys},
    })
}

/// Envoy's per-connection buffer limit: the filter's body limit plus
/// [`BUFFER_HEADROOM_BYTES`], never below [`MIN_RESPONSE_BUFFER_BYTES`].
fn buffer_limit(plan: &Plan) -> usize {
    plan.router
        .max_request_body_bytes
        .saturating_add(BUFFER_HEADROOM_BYTES)
        .max(MIN_RESPONSE_BUFFER_BYTES)
}

/// The wasm VM of the probe clusters' upstream stage (not the listener's).
pub use switchyard_contract::plugin_config::PROBE_VM_ID;

/// One route per deployment, whose cluster reaches that deployment alone: where
/// `GET /health` sends its probe (`plan::model_info::probe_cluster_name`). A route
/// cluster cannot serve: its load balancer picks the address, and the upstream
/// stage cannot move a request to another deployment's.
fn probe_routes(plan: &Plan) -> Vec<PlannedRoute> {
    plan.deployments
        .iter()
        .enumerate()
        .map(|(index, dep)| PlannedRoute {
            route_key: dep.upstream.group.clone(),
            group: dep.upstream.group.clone(),
            cluster_name: crate::plan::model_info::probe_cluster_name(dep),
            priorities: vec![crate::plan::PlannedPriority {
                group: dep.upstream.group.clone(),
                members: vec![(index, 1)],
            }],
        })
        .collect()
}

/// One route's timeouts, for its routes and its cluster alike.
fn route_limits(route: &PlannedRoute, plan: &Plan, timeout: f64) -> RouteTimeouts {
    crate::plan::timeouts::route_timeouts(
        route,
        plan,
        total_attempts(route, &plan.routing),
        timeout,
    )
}

/// The router stage's plugin config: the plan's, plus where to report spend when the
/// config enables virtual keys, and Envoy's admin cluster when its port is known.
fn router_config(plan: &Plan, opts: &RenderOptions) -> RouterConfig {
    let mut router = plan.router.clone();
    if opts.admin_port != 0 {
        router.metrics.admin_cluster = Some(ADMIN_CLUSTER.to_string());
    }
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
    router
}

/// The keyservice's cluster when the config enables virtual keys (then
/// `--keyservice` is required), else none.
fn keyservice(plan: &Plan, opts: &RenderOptions) -> Result<Option<Value>, String> {
    if plan.keys.is_none() {
        return Ok(None);
    }
    let addr = opts.keyservice.as_deref().ok_or(
        "the config enables virtual keys (general_settings.master_key or database_url): run it with `switchyard up`, or pass --keyservice HOST:PORT of a running switchyard-keyservice",
    )?;
    clusters::keyservice_cluster(addr, opts).map(Some)
}

/// The bootstrap itself: the admin port, the listener running `hcm`, the clusters.
fn bootstrap(opts: &RenderOptions, buffer_limit: usize, hcm: Value, clusters: Vec<Value>) -> Value {
    json!({
        "admin": {"address": {"socket_address": {"address": ADMIN_ADDRESS, "port_value": opts.admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "switchyard",
                "address": {"socket_address": {"address": opts.host, "port_value": opts.port}},
                "per_connection_buffer_limit_bytes": buffer_limit,
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
            }],
            "clusters": clusters,
        },
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
