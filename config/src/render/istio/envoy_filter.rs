//! The `EnvoyFilter` that carries the envoy target's configuration (`render::Parts`) into
//! the gateway's Envoy, patch by patch, as Istio applies them (istio/istio
//! `pilot/pkg/networking/core/envoyfilter/`):
//!
//! - `LISTENER` `MERGE`: the listener's buffer limit;
//! - `NETWORK_FILTER` `MERGE` into the HTTP connection manager: local replies and the
//!   access log (Istio merges a typed config of the same `@type` field by field and
//!   appends to lists);
//! - `HTTP_FILTER` `INSERT_BEFORE` Envoy's router, in order: the router stage, with
//!   virtual keys ext_authz and the responder stage (each insert lands just before the
//!   router, so they keep their order);
//! - `VIRTUAL_HOST` `MERGE`: `include_request_attempt_count`;
//! - `HTTP_ROUTE` `INSERT_FIRST` without a route match, one per route in reverse
//!   order (each one goes to the top), so they end up first and in the envoy
//!   target's order, ahead of the `VirtualService`'s own route;
//! - `CLUSTER` `ADD`: every cluster;
//! - `EXTENSION_CONFIG` `ADD`: each wasm filter (listener and upstream stages), which
//!   the filter lists then name through `config_discovery` (ECDS). The code is
//!   `oci://<wasm image>` (as Istio's own WasmPlugin writes it: a `remote` source
//!   whose cluster `_` is never used): istio-agent pulls the image and gives Envoy
//!   the module as a local file, so all stages load the same bytes and share the VM
//!   `vm_id: switchyard`.

use serde_json::{json, Value};

use super::IstioOptions;
use crate::render::clusters::UPSTREAM_STAGE_FILTER;
use crate::render::{listener, Parts};

/// The `.wasm` path the envoy target's builders are given; every occurrence is
/// replaced by the OCI image (a test checks none is left).
pub const WASM_PLACEHOLDER: &str = "/switchyard-wasm-from-the-oci-image";
/// The wasm HTTP filter's config type.
pub const WASM_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/// The `EnvoyFilter`'s name.
pub const ENVOY_FILTER_NAME: &str = "switchyard";
/// The patches' context: the filter runs in a gateway's Envoy.
pub const PATCH_CONTEXT: &str = "GATEWAY";
/// The HTTP connection manager's filter name.
pub const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";
/// The HTTP connection manager's config type.
const HCM_TYPE_URL: &str =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
/// Envoy's router filter.
pub const ROUTER_FILTER: &str = "envoy.filters.http.router";
/// The key of a cluster's upstream HTTP options (and its filters).
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
/// The cluster name Istio writes into a remote wasm source the agent fetches itself.
const UNUSED_CLUSTER: &str = "_";

/// The `EnvoyFilter` for `parts`, selecting the gateway's pods.
pub(crate) fn envoy_filter(parts: Parts, opts: &IstioOptions) -> Result<Value, String> {
    let code = json!({"remote": {"http_uri": {
        "uri": format!("oci://{}", opts.wasm_image),
        "timeout": "30s",
        "cluster": UNUSED_CLUSTER,
    }}});
    let listener = json!({"portNumber": opts.port});
    let mut extension_configs: Vec<Value> = Vec::new();
    let mut patches: Vec<Value> = Vec::new();

    patches.push(json!({
        "applyTo": "LISTENER",
        "match": {"context": PATCH_CONTEXT, "listener": listener},
        "patch": {"operation": "MERGE", "value": {"per_connection_buffer_limit_bytes": parts.buffer_limit}},
    }));
    patches.push(json!({
        "applyTo": "NETWORK_FILTER",
        "match": {"context": PATCH_CONTEXT, "listener": {"portNumber": opts.port, "filterChain": {"filter": {"name": HCM_FILTER}}}},
        "patch": {"operation": "MERGE", "value": {"name": HCM_FILTER, "typed_config": {
            "@type": HCM_TYPE_URL,
            "local_reply_config": {"mappers": parts.local_reply_mappers},
            "access_log": [listener::access_log()],
        }}},
    }));
    for filter in parts.http_filters {
        if filter["name"] == ROUTER_FILTER {
            continue;
        }
        let filter = discovered(filter, &code, &mut extension_configs)?;
        patches.push(json!({
            "applyTo": "HTTP_FILTER",
            "match": {"context": PATCH_CONTEXT, "listener": {"portNumber": opts.port, "filterChain": {"filter": {"name": HCM_FILTER, "subFilter": {"name": ROUTER_FILTER}}}}},
            "patch": {"operation": "INSERT_BEFORE", "value": filter},
        }));
    }
    let route_configuration = json!({"portNumber": opts.port});
    patches.push(json!({
        "applyTo": "VIRTUAL_HOST",
        "match": {"context": PATCH_CONTEXT, "routeConfiguration": route_configuration},
        "patch": {"operation": "MERGE", "value": {"include_request_attempt_count": true}},
    }));
    for route in parts.routes.into_iter().rev() {
        patches.push(json!({
            "applyTo": "HTTP_ROUTE",
            "match": {"context": PATCH_CONTEXT, "routeConfiguration": route_configuration},
            "patch": {"operation": "INSERT_FIRST", "value": route},
        }));
    }
    for mut cluster in parts.clusters {
        // `get_mut`, not indexing: a cluster without protocol options must stay so.
        let filters = cluster
            .get_mut("typed_extension_protocol_options")
            .and_then(|o| o.get_mut(HTTP_PROTOCOL_OPTIONS))
            .and_then(|o| o.get_mut("http_filters"))
            .and_then(Value::as_array_mut);
        if let Some(filters) = filters {
            let taken = std::mem::take(filters);
            for filter in taken {
                filters.push(discovered(filter, &code, &mut extension_configs)?);
            }
        }
        patches.push(json!({
            "applyTo": "CLUSTER",
            "match": {"context": PATCH_CONTEXT},
            "patch": {"operation": "ADD", "value": cluster},
        }));
    }
    for config in extension_configs {
        patches.push(json!({
            "applyTo": "EXTENSION_CONFIG",
            "patch": {"operation": "ADD", "value": config},
        }));
    }
    Ok(json!({
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": ENVOY_FILTER_NAME, "namespace": opts.namespace},
        "spec": {
            "workloadSelector": {"labels": super::workloads::gateway_labels()},
            "configPatches": patches,
        },
    }))
}

/// `filter` as Istio must carry it: a wasm filter becomes a reference to an ECDS
/// resource (pushed onto `configs`) whose VM loads `code`; any other filter is kept.
fn discovered(filter: Value, code: &Value, configs: &mut Vec<Value>) -> Result<Value, String> {
    if filter["typed_config"]["@type"] != WASM_TYPE_URL {
        return Ok(filter);
    }
    let name = filter["name"]
        .as_str()
        .ok_or("a wasm filter without a name")?
        .to_string();
    // The upstream stages are all named `switchyard.upstream`: their ECDS resources
    // are named after the plugin too (`config.name`, the cluster's name), unique
    // per proxy. An HTTP filter's name is the ECDS resource Envoy asks for.
    let resource = if name == UPSTREAM_STAGE_FILTER {
        let plugin = filter["typed_config"]["config"]["name"]
            .as_str()
            .ok_or_else(|| format!("wasm filter {name}: no plugin name"))?;
        format!("{name}.{plugin}")
    } else {
        name
    };
    let mut typed_config = filter["typed_config"].clone();
    typed_config["config"]["vm_config"]["code"] = code.clone();
    configs.push(json!({"name": resource, "typed_config": typed_config}));
    Ok(json!({
        "name": resource,
        "config_discovery": {
            "config_source": {"ads": {}, "initial_fetch_timeout": "0s"},
            "type_urls": [WASM_TYPE_URL],
        },
    }))
}
