//! The Envoy configuration the gateway ends up with, as one static bootstrap: what
//! `envoy --mode validate` can check without a Kubernetes API server or an Istio
//! control plane (`config/tests/istio_render.rs`, run by `scripts/validate-envoy`).
//!
//! It starts from what Istio builds for the rendered `Gateway` and `VirtualService`
//! (a listener on the server's port whose HTTP connection manager has the route
//! configuration `http.<port>` with the virtual host `*:<port>` holding the
//! `VirtualService`'s route, and Envoy's router as its only HTTP filter), then applies
//! the `EnvoyFilter`'s patches with Istio's semantics for the operations the render
//! uses (istio/istio `pilot/pkg/networking/core/envoyfilter/`: `MERGE` is a protobuf
//! merge, which merges messages field by field, appends to lists and replaces
//! scalars; `INSERT_BEFORE` a sub-filter; `INSERT_FIRST` without a route match
//! prepends; `ADD` appends). Last, each `config_discovery` reference is replaced by
//! its `EXTENSION_CONFIG`, with the remote `oci://` code turned into a local file, as
//! istio-agent rewrites the ECDS resource before Envoy gets it.
//!
//! Istio's own filters, clusters and listeners (mTLS, telemetry, xDS) are not
//! modelled: this checks that what Switchyard adds is valid Envoy configuration.

// JSON built with `json!` and indexed right after, as in the parent module.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::envoy_filter::{HCM_FILTER, HTTP_PROTOCOL_OPTIONS, ROUTER_FILTER, WASM_TYPE_URL};
use super::ISTIO_ADMIN_PORT;

/// The bootstrap the `EnvoyFilter` among `objects` turns Istio's gateway
/// configuration into, loading the filter from `wasm`.
pub fn bootstrap(objects: &[Value], wasm: &str) -> Result<Value, String> {
    let gateway = find(objects, "Gateway")?;
    let port = gateway["spec"]["servers"][0]["port"]["number"]
        .as_u64()
        .ok_or("the Gateway has no server port")?;
    let virtual_service = find(objects, "VirtualService")?;
    let envoy_filter = find(objects, "EnvoyFilter")?;
    let vs_routes = virtual_service["spec"]["http"]
        .as_array()
        .ok_or("the VirtualService has no http routes")?
        .iter()
        .map(virtual_service_route)
        .collect::<Result<Vec<_>, _>>()?;

    let mut listener = json!({
        "name": format!("0.0.0.0_{port}"),
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": HCM_FILTER,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": format!("outbound_0.0.0.0_{port}"),
                "route_config": {"name": format!("http.{port}"), "virtual_hosts": [{
                    "name": format!("*:{port}"),
                    "domains": ["*"],
                    "routes": vs_routes,
                }]},
                "http_filters": [{"name": ROUTER_FILTER, "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            },
        }]}],
    });
    let mut clusters: Vec<Value> = Vec::new();
    let mut extension_configs: BTreeMap<String, Value> = BTreeMap::new();

    let patches = envoy_filter["spec"]["configPatches"]
        .as_array()
        .ok_or("the EnvoyFilter has no configPatches")?;
    for (i, patch) in patches.iter().enumerate() {
        let at = |what: &str| format!("EnvoyFilter configPatches[{i}]: {what}");
        let apply_to = patch["applyTo"].as_str().ok_or_else(|| at("no applyTo"))?;
        let operation = patch["patch"]["operation"]
            .as_str()
            .ok_or_else(|| at("no operation"))?;
        let value = &patch["patch"]["value"];
        if !matches!(apply_to, "EXTENSION_CONFIG")
            && patch["match"]["context"] != super::envoy_filter::PATCH_CONTEXT
        {
            return Err(at("not for the gateway's context"));
        }
        match (apply_to, operation) {
            ("LISTENER", "MERGE") => proto_merge(&mut listener, value),
            ("NETWORK_FILTER", "MERGE") => {
                if value["name"] != HCM_FILTER {
                    return Err(at(
                        "merges into a filter other than the HTTP connection manager",
                    ));
                }
                proto_merge(hcm(&mut listener), &value["typed_config"]);
            }
            ("HTTP_FILTER", "INSERT_BEFORE") => {
                let before = patch["match"]["listener"]["filterChain"]["filter"]["subFilter"]
                    ["name"]
                    .as_str()
                    .ok_or_else(|| at("INSERT_BEFORE without a subFilter"))?;
                let filters = hcm(&mut listener)["http_filters"]
                    .as_array_mut()
                    .ok_or_else(|| at("no http_filters"))?;
                let index = filters
                    .iter()
                    .position(|f| f["name"] == before)
                    .ok_or_else(|| at(&format!("no filter {before} to insert before")))?;
                filters.insert(index, value.clone());
            }
            ("VIRTUAL_HOST", "MERGE") => {
                for vhost in vhosts(hcm(&mut listener)).ok_or_else(|| at("no virtual hosts"))? {
                    proto_merge(vhost, value);
                }
            }
            ("HTTP_ROUTE", "INSERT_FIRST") => {
                for vhost in vhosts(hcm(&mut listener)).ok_or_else(|| at("no virtual hosts"))? {
                    let routes = vhost["routes"]
                        .as_array_mut()
                        .ok_or_else(|| at("a virtual host without routes"))?;
                    routes.insert(0, value.clone());
                }
            }
            ("CLUSTER", "ADD") => clusters.push(value.clone()),
            ("EXTENSION_CONFIG", "ADD") => {
                let name = value["name"]
                    .as_str()
                    .ok_or_else(|| at("an extension config without a name"))?;
                if extension_configs
                    .insert(name.to_string(), value["typed_config"].clone())
                    .is_some()
                {
                    return Err(at(&format!("extension config {name} added twice")));
                }
            }
            (apply_to, operation) => {
                return Err(at(&format!(
                    "{operation} on {apply_to} is not modelled here"
                )))
            }
        }
    }

    let mut used: Vec<String> = Vec::new();
    let mut resolve = |filters: &mut Value| -> Result<(), String> {
        for filter in filters.as_array_mut().into_iter().flatten() {
            if filter.get("config_discovery").is_none() {
                continue;
            }
            let name = filter["name"].as_str().unwrap_or_default().to_string();
            if filter["config_discovery"]["type_urls"] != json!([WASM_TYPE_URL]) {
                return Err(format!("filter {name}: config_discovery for another type"));
            }
            let mut typed_config = extension_configs
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("filter {name}: no EXTENSION_CONFIG of that name"))?;
            let code = &mut typed_config["config"]["vm_config"]["code"];
            if !code["remote"]["http_uri"]["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("oci://"))
            {
                return Err(format!("filter {name}: its code is not an oci:// image"));
            }
            *code = json!({"local": {"filename": wasm}});
            *filter = json!({"name": name, "typed_config": typed_config});
            used.push(name);
        }
        Ok(())
    };
    resolve(&mut hcm(&mut listener)["http_filters"])?;
    for cluster in &mut clusters {
        // `get_mut`, not indexing, which would add the keys to a cluster without them.
        let filters = cluster
            .get_mut("typed_extension_protocol_options")
            .and_then(|o| o.get_mut(HTTP_PROTOCOL_OPTIONS))
            .and_then(|o| o.get_mut("http_filters"));
        if let Some(filters) = filters {
            resolve(filters)?;
        }
    }
    if let Some(unused) = extension_configs.keys().find(|k| !used.contains(k)) {
        return Err(format!("EXTENSION_CONFIG {unused} is never referenced"));
    }
    Ok(json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ISTIO_ADMIN_PORT}}},
        "static_resources": {"listeners": [listener], "clusters": clusters},
    }))
}

/// The only object of `kind` among `objects`.
fn find<'a>(objects: &'a [Value], kind: &str) -> Result<&'a Value, String> {
    let mut found = objects.iter().filter(|o| o["kind"] == kind);
    match (found.next(), found.next()) {
        (Some(object), None) => Ok(object),
        (None, _) => Err(format!("no {kind} among the objects")),
        (Some(_), Some(_)) => Err(format!("more than one {kind}")),
    }
}

/// The Envoy route Istio makes of a `VirtualService` route with a `directResponse`
/// (the only kind the render writes).
fn virtual_service_route(route: &Value) -> Result<Value, String> {
    let status = route["directResponse"]["status"]
        .as_u64()
        .ok_or("a VirtualService route without a directResponse")?;
    Ok(json!({
        "name": route["name"],
        "match": {"prefix": "/"},
        "direct_response": {"status": status, "body": {"inline_string": route["directResponse"]["body"]["string"]}},
    }))
}

/// The listener's HTTP connection manager config.
fn hcm(listener: &mut Value) -> &mut Value {
    &mut listener["filter_chains"][0]["filters"][0]["typed_config"]
}

/// The HTTP connection manager's virtual hosts.
fn vhosts(hcm: &mut Value) -> Option<&mut Vec<Value>> {
    hcm["route_config"]["virtual_hosts"].as_array_mut()
}

/// A protobuf merge of `patch` into `base`, in JSON: objects merge key by key, lists
/// append, anything else is replaced.
fn proto_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => merge_objects(base, patch),
        (Value::Array(base), Value::Array(patch)) => base.extend(patch.iter().cloned()),
        (base, patch) => *base = patch.clone(),
    }
}

fn merge_objects(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match base.get_mut(key) {
            Some(existing) => proto_merge(existing, value),
            None => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}
