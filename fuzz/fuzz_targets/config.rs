//! The config compiler end to end on any UTF-8 text as `config.yaml`:
//! `litellm::parse_str` (YAML, merge keys, validation, `os.environ/` references),
//! then `plan::compile`, then `render::render` (the Envoy bootstrap and the
//! filter's plugin configs).
//!
//! Checked: a config that compiles renders, and every plugin config it renders is
//! accepted by the filter itself (`PluginConfig` parses, `Router::new` and
//! `Upstream::new` succeed with every referenced variable set) — what
//! `switchyard check` accepts, Envoy's filter must be able to load.
//!
//! The environment is fixed: every variable is set (`…BASE…`/`…URL…`/`…ENDPOINT…`
//! ones to a URL) except `LITELLM_MASTER_KEY`, `DATABASE_URL` and names ending in
//! `_UNSET`; the prices file override is empty (the shipped prices, no file read).
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use switchyard::prices::PRICES_ENV;
use switchyard::render::{render, RenderOptions, DEFAULT_CA_FILE};
use switchyard::{litellm, plan};
use switchyard_filter::plugin_config::PluginConfig;
use switchyard_filter::stages::router::Router;
use switchyard_filter::stages::upstream::Upstream;

fn env(name: &str) -> Option<String> {
    if name == PRICES_ENV {
        return Some(String::new());
    }
    if matches!(name, "LITELLM_MASTER_KEY" | "DATABASE_URL") || name.ends_with("_UNSET") {
        return None;
    }
    if ["BASE", "URL", "ENDPOINT"].iter().any(|p| name.contains(p)) {
        return Some("https://env-base.example.com/v1".into());
    }
    Some("fuzz-env-value".into())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((config, _warnings)) = litellm::parse_str(text, "fuzz.yaml", &env) else {
        return;
    };
    let Ok(plan) = plan::compile(&config, &env) else {
        return;
    };
    let opts = RenderOptions {
        wasm: PathBuf::from("/switchyard/filter.wasm"),
        host: "127.0.0.1".into(),
        port: 4000,
        admin_port: 0,
        ca_file: DEFAULT_CA_FILE.into(),
        keyservice: plan.keys.is_some().then(|| "127.0.0.1:4001".to_string()),
        keyservice_ca: None,
    };
    let rendered =
        render(&plan, &opts).unwrap_or_else(|e| panic!("a compiled plan must render: {e}"));
    serde_json::to_string(&rendered.bootstrap).expect("the bootstrap serializes");
    // Envoy's environment as `switchyard up` sets it: the config's
    // `environment_variables` fill in what the process does not set.
    let filter_env = |name: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .or_else(|| plan.env_defaults.get(name).cloned())
            .filter(|v| !v.is_empty())
            .or_else(|| Some("fuzz-env-value".into()))
    };
    for (file, json) in &rendered.plugin_configs {
        let parsed: PluginConfig = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{file}: the filter cannot parse its config: {e}\n{json}"));
        match parsed {
            PluginConfig::Router(c) => {
                if let Err(e) = Router::new(&c) {
                    panic!("{file}: the router stage refuses its config: {e}\n{json}");
                }
            }
            PluginConfig::Upstream(c) => {
                if let Err(e) = Upstream::new(&c, &filter_env) {
                    panic!("{file}: the upstream stage refuses its config: {e}\n{json}");
                }
            }
            PluginConfig::Responder(_) => {}
        }
    }
});
