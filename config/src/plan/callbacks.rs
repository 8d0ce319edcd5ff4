//! The logging callbacks (`litellm_settings.success_callback`, `failure_callback`,
//! `callbacks`): which of them Switchyard sends, where, with which credentials, read
//! from the environment variables LiteLLM reads for them:
//!
//! * `langfuse`: `LANGFUSE_PUBLIC_KEY`, `LANGFUSE_SECRET_KEY` (required),
//!   `LANGFUSE_HOST` (default `https://cloud.langfuse.com`; LiteLLM 1.102.4
//!   `integrations/langfuse/langfuse.py`), to `{host}/api/public/ingestion`;
//! * `langfuse_otel`: the same keys, `LANGFUSE_OTEL_HOST` or `LANGFUSE_HOST` (default
//!   `https://us.cloud.langfuse.com`; a host without a scheme is https), to
//!   `{host}/api/public/otel/v1/traces` with `x-langfuse-ingestion-version: 4`
//!   (`integrations/langfuse/langfuse_otel.py`);
//! * `otel`: `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_ENDPOINT` (required), the
//!   exporter `OTEL_EXPORTER_OTLP_PROTOCOL` or `OTEL_EXPORTER` (HTTP only: Switchyard
//!   sends OTLP/HTTP JSON), headers `OTEL_EXPORTER_OTLP_HEADERS` or `OTEL_HEADERS`;
//!   the endpoint gets `/v1/traces` unless it ends with it
//!   (`integrations/opentelemetry.py`, `OpenTelemetryConfig.from_env`,
//!   `_normalize_otel_endpoint`);
//! * `generic_api`: `GENERIC_LOGGER_ENDPOINT` (required), `GENERIC_LOGGER_HEADERS`
//!   (`integrations/generic_api/generic_api_callback.py`).
//!
//! A callback whose required variable is not set is warned and not sent (LiteLLM
//! starts without it too); a value that cannot work (a URL that is not http(s), a
//! header list LiteLLM could not split) is an error naming the key and the variable.
//!
//! Collector URLs are read when the config is compiled (each gets an Envoy cluster);
//! credentials and header lists stay in the environment (`{"env": NAME}` in the
//! plugin config, the variable in Envoy's `host_env_keys`), never written out.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_contract::plugin_config::{
    parse_header_list, BasicAuth, CallbackKind, CallbackSink, CallbacksConfig, Setting,
};

use super::upstream_address::{parse_api_base, UpstreamAddress};
use crate::litellm::{Config, ConfigError};

/// Langfuse's default host for `langfuse` (LiteLLM's `LANGFUSE_HOST` default).
pub const LANGFUSE_DEFAULT_HOST: &str = "https://cloud.langfuse.com";
/// Langfuse's default host for `langfuse_otel` (LiteLLM's `LANGFUSE_CLOUD_US_ENDPOINT`).
pub const LANGFUSE_OTEL_DEFAULT_HOST: &str = "https://us.cloud.langfuse.com";
/// The header `langfuse_otel` sends to select Langfuse's v4 ingestion path.
const LANGFUSE_OTEL_HEADERS: &str = "x-langfuse-ingestion-version=4";

/// The callbacks a config asks for, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCallbacks {
    /// The router stage's `callbacks` section.
    pub config: CallbacksConfig,
    /// One Envoy cluster per callback: name → collector address.
    pub clusters: BTreeMap<String, UpstreamAddress>,
    /// The variables the filter reads (keys, header lists).
    pub env_keys: BTreeSet<String>,
}

/// The Envoy cluster of callback `kind`'s collector.
pub fn cluster_name(kind: CallbackKind) -> String {
    format!("callback_{}", kind.as_str())
}

/// Where a collector is, from a URL read from the environment.
fn collector(
    file: &str,
    path: &str,
    variable: &str,
    url: &str,
) -> Result<UpstreamAddress, ConfigError> {
    parse_api_base(url).map_err(|e| ConfigError::at(file, path, format!("{variable}: {e}")))
}

/// `host` with `https://` when it has no scheme (LiteLLM's Langfuse hosts).
fn with_scheme(host: &str) -> String {
    let host = host.trim();
    if host.starts_with("http://") || host.starts_with("https://") {
        host.to_string()
    } else {
        format!("https://{host}")
    }
}

/// The `:authority` of a callout to `address`.
fn authority(address: &UpstreamAddress) -> String {
    let host = if address.host.contains(':') {
        format!("[{}]", address.host)
    } else {
        address.host.clone()
    };
    let default_port = if address.tls { 443 } else { 80 };
    if address.port == default_port {
        host
    } else {
        format!("{host}:{}", address.port)
    }
}

/// The first of `names` set (non-empty) in the environment: `(name, value)`.
fn first_set<'n>(
    lookup: &dyn Fn(&str) -> Option<String>,
    names: &[&'n str],
) -> Option<(&'n str, String)> {
    names
        .iter()
        .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
}

/// Compiles the callbacks of `config`; `None` when it names none Switchyard
/// implements. `warnings` gets what is accepted but not sent.
pub fn plan_callbacks(
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<PlannedCallbacks>, ConfigError> {
    let file = config.file_name.as_str();
    let settings = &config.litellm_settings;
    // Callbacks in the order the config first names them; each applies to the
    // requests its keys ask for.
    let mut order: Vec<(CallbackKind, &'static str)> = Vec::new();
    let mut wants: BTreeMap<&'static str, (bool, bool)> = BTreeMap::new();
    for (key, names) in settings.callback_lists(file)? {
        for name in names {
            let Some(kind) = CallbackKind::parse(&name) else {
                continue;
            };
            if !order.iter().any(|(k, _)| *k == kind) {
                order.push((kind, key));
            }
            let entry = wants.entry(kind.as_str()).or_insert((false, false));
            match key {
                "success_callback" => entry.0 = true,
                "failure_callback" => entry.1 = true,
                _ => *entry = (true, true),
            }
        }
    }
    if order.is_empty() {
        return Ok(None);
    }
    let mut planned = PlannedCallbacks {
        config: CallbacksConfig {
            sinks: Vec::new(),
            message_logging: settings.message_logging(file)?,
        },
        clusters: BTreeMap::new(),
        env_keys: BTreeSet::new(),
    };
    for (kind, key) in order {
        let path = format!("litellm_settings.{key}");
        let Some(target) = plan_one(kind, file, &path, lookup, warnings)? else {
            continue;
        };
        let (on_success, on_failure) = wants.get(kind.as_str()).copied().unwrap_or_default();
        let cluster = cluster_name(kind);
        planned.env_keys.extend(target.env_keys);
        planned.config.sinks.push(CallbackSink {
            kind,
            on_success,
            on_failure,
            cluster: cluster.clone(),
            authority: authority(&target.address),
            path: target.path,
            basic_auth: target.basic_auth,
            headers: target.headers,
        });
        planned.clusters.insert(cluster, target.address);
    }
    Ok((!planned.config.sinks.is_empty()).then_some(planned))
}

/// One callback's collector and credentials.
struct Target {
    address: UpstreamAddress,
    path: String,
    basic_auth: Option<BasicAuth>,
    headers: Option<Setting>,
    env_keys: Vec<String>,
}

/// Langfuse's keys, both required: `None` (warned) when one is not set.
fn langfuse_keys(
    path: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<BasicAuth> {
    for variable in ["LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"] {
        if first_set(lookup, &[variable]).is_none() {
            warnings.push(not_sent(path, name, variable));
            return None;
        }
    }
    Some(BasicAuth {
        user: Setting::Env {
            env: "LANGFUSE_PUBLIC_KEY".into(),
        },
        password: Setting::Env {
            env: "LANGFUSE_SECRET_KEY".into(),
        },
    })
}

/// The warning for a callback whose required variable is not set: LiteLLM starts
/// without it too (and fails each call's logging); Switchyard sends nothing.
fn not_sent(path: &str, name: &str, variable: &str) -> String {
    format!("{path}: {name} needs {variable} in the environment (or environment_variables); not set, so nothing is sent to it")
}

/// A header list variable, checked now (its value is read again by the filter).
fn header_list(
    file: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    names: &[&str],
) -> Result<Option<(String, Setting)>, ConfigError> {
    let Some((variable, value)) = first_set(lookup, names) else {
        return Ok(None);
    };
    parse_header_list(&value)
        .map_err(|e| ConfigError::at(file, path, format!("{variable}: {e}")))?;
    Ok(Some((
        variable.to_string(),
        Setting::Env {
            env: variable.to_string(),
        },
    )))
}

fn plan_one(
    kind: CallbackKind,
    file: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<Target>, ConfigError> {
    let name = kind.as_str();
    match kind {
        CallbackKind::Langfuse => {
            let Some(basic_auth) = langfuse_keys(path, name, lookup, warnings) else {
                return Ok(None);
            };
            let host = first_set(lookup, &["LANGFUSE_HOST"])
                .map_or(LANGFUSE_DEFAULT_HOST.to_string(), |(_, h)| with_scheme(&h));
            let address = collector(file, path, "LANGFUSE_HOST", &host)?;
            Ok(Some(Target {
                path: format!("{}/api/public/ingestion", address.path_prefix),
                address,
                basic_auth: Some(basic_auth),
                headers: None,
                env_keys: vec!["LANGFUSE_PUBLIC_KEY".into(), "LANGFUSE_SECRET_KEY".into()],
            }))
        }
        CallbackKind::LangfuseOtel => {
            let Some(basic_auth) = langfuse_keys(path, name, lookup, warnings) else {
                return Ok(None);
            };
            let (variable, host) = first_set(lookup, &["LANGFUSE_OTEL_HOST", "LANGFUSE_HOST"])
                .map_or(
                    ("LANGFUSE_HOST", LANGFUSE_OTEL_DEFAULT_HOST.to_string()),
                    |(v, h)| (v, with_scheme(&h)),
                );
            let address = collector(file, path, variable, &host)?;
            Ok(Some(Target {
                path: format!("{}/api/public/otel/v1/traces", address.path_prefix),
                address,
                basic_auth: Some(basic_auth),
                headers: Some(Setting::Literal(LANGFUSE_OTEL_HEADERS.into())),
                env_keys: vec!["LANGFUSE_PUBLIC_KEY".into(), "LANGFUSE_SECRET_KEY".into()],
            }))
        }
        CallbackKind::Otel => {
            let exporter = first_set(lookup, &["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER"])
                .map_or("console".to_string(), |(_, e)| e.trim().to_string());
            match exporter.as_str() {
                "otlp_http" | "http/protobuf" | "http/json" => {}
                "console" => {
                    warnings.push(format!(
                        "{path}: otel with OTEL_EXPORTER unset or console prints spans in LiteLLM; Switchyard sends nothing (set OTEL_EXPORTER=otlp_http and OTEL_ENDPOINT)"
                    ));
                    return Ok(None);
                }
                other => {
                    warnings.push(format!(
                        "{path}: otel exporter {other:?} is not supported (Switchyard sends OTLP/HTTP: OTEL_EXPORTER=otlp_http, http/protobuf or http/json); nothing is sent"
                    ));
                    return Ok(None);
                }
            }
            let Some((variable, endpoint)) =
                first_set(lookup, &["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_ENDPOINT"])
            else {
                warnings.push(not_sent(
                    path,
                    name,
                    "OTEL_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT)",
                ));
                return Ok(None);
            };
            let address = collector(file, path, variable, &endpoint)?;
            let prefix = address.path_prefix.clone();
            let traces_path = if prefix.ends_with("/v1/traces") {
                prefix
            } else {
                let base = ["/v1/logs", "/v1/metrics"]
                    .iter()
                    .find_map(|s| prefix.strip_suffix(s))
                    .unwrap_or(&prefix);
                format!("{base}/v1/traces")
            };
            let headers = header_list(
                file,
                path,
                lookup,
                &["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_HEADERS"],
            )?;
            Ok(Some(Target {
                address,
                path: traces_path,
                basic_auth: None,
                env_keys: headers.iter().map(|(v, _)| v.clone()).collect(),
                headers: headers.map(|(_, s)| s),
            }))
        }
        CallbackKind::GenericApi => {
            let Some((variable, endpoint)) = first_set(lookup, &["GENERIC_LOGGER_ENDPOINT"]) else {
                warnings.push(not_sent(path, name, "GENERIC_LOGGER_ENDPOINT"));
                return Ok(None);
            };
            let address = collector(file, path, variable, &endpoint)?;
            let headers = header_list(file, path, lookup, &["GENERIC_LOGGER_HEADERS"])?;
            Ok(Some(Target {
                path: if address.path_prefix.is_empty() {
                    "/".to_string()
                } else {
                    address.path_prefix.clone()
                },
                address,
                basic_auth: None,
                env_keys: headers.iter().map(|(v, _)| v.clone()).collect(),
                headers: headers.map(|(_, s)| s),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::{parse_str, Warning};

    fn parse(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
        parse_str(text, "config.yaml", &|_| None)
    }

    fn plan(yaml: &str, env: &[(&str, &str)]) -> Result<Option<PlannedCallbacks>, ConfigError> {
        let (config, _) = parse(yaml).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        plan_callbacks(&config, &|n| env.get(n).cloned(), &mut Vec::new())
    }

    const KEYS: [(&str, &str); 2] = [("LANGFUSE_PUBLIC_KEY", "pk"), ("LANGFUSE_SECRET_KEY", "sk")];

    #[test]
    fn langfuse_goes_to_the_ingestion_api_with_the_keys_from_the_environment() {
        let p = plan(
            "model_list: []\nlitellm_settings:\n  success_callback: [langfuse]\n",
            &[
                KEYS[0],
                KEYS[1],
                ("LANGFUSE_HOST", "http://127.0.0.1:3000/lf"),
            ],
        )
        .unwrap()
        .unwrap();
        let sink = &p.config.sinks[0];
        assert_eq!(sink.kind, CallbackKind::Langfuse);
        assert_eq!((sink.on_success, sink.on_failure), (true, false));
        assert_eq!(sink.path, "/lf/api/public/ingestion");
        assert_eq!(sink.authority, "127.0.0.1:3000");
        assert_eq!(sink.cluster, "callback_langfuse");
        assert_eq!(
            sink.basic_auth.as_ref().unwrap().user,
            Setting::Env {
                env: "LANGFUSE_PUBLIC_KEY".into()
            }
        );
        assert!(p.config.message_logging);
        let address = &p.clusters["callback_langfuse"];
        assert_eq!(
            (address.tls, address.host.as_str(), address.port),
            (false, "127.0.0.1", 3000)
        );
        assert!(p.env_keys.contains("LANGFUSE_SECRET_KEY"));
        // No host: Langfuse's cloud, over TLS.
        let p = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [langfuse]\n",
            &KEYS,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.config.sinks[0].authority, "cloud.langfuse.com");
        assert!(p.clusters["callback_langfuse"].tls);
        assert_eq!(
            (p.config.sinks[0].on_success, p.config.sinks[0].on_failure),
            (true, true)
        );
    }

    #[test]
    fn success_and_failure_lists_combine_and_turn_off_message_logging_is_read() {
        let p = plan(
            "model_list: []\nlitellm_settings:\n  success_callback: [generic_api, datadog]\n  failure_callback: generic_api\n  turn_off_message_logging: \"True\"\n",
            &[("GENERIC_LOGGER_ENDPOINT", "https://hooks.example/in?"), ],
        );
        let err = p.unwrap_err().to_string();
        assert!(
            err.contains("litellm_settings.success_callback")
                && err.contains("GENERIC_LOGGER_ENDPOINT"),
            "{err}"
        );
        let p = plan(
            "model_list: []\nlitellm_settings:\n  success_callback: [generic_api, datadog]\n  failure_callback: generic_api\n  turn_off_message_logging: \"True\"\n",
            &[("GENERIC_LOGGER_ENDPOINT", "https://hooks.example/in"), ("GENERIC_LOGGER_HEADERS", "x-api-key=s3cret")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.config.sinks.len(), 1);
        let sink = &p.config.sinks[0];
        assert_eq!((sink.on_success, sink.on_failure), (true, true));
        assert_eq!(
            (sink.path.as_str(), sink.authority.as_str()),
            ("/in", "hooks.example")
        );
        assert_eq!(
            sink.headers,
            Some(Setting::Env {
                env: "GENERIC_LOGGER_HEADERS".into()
            })
        );
        assert!(!p.config.message_logging);
        let rendered = serde_json::to_string(&p.config).unwrap();
        assert!(
            !rendered.contains("s3cret"),
            "secrets stay in the environment: {rendered}"
        );
    }

    #[test]
    fn otel_follows_litellms_environment() {
        let env = [
            ("OTEL_EXPORTER", "otlp_http"),
            ("OTEL_ENDPOINT", "http://collector:4318"),
            ("OTEL_HEADERS", "x-honeycomb-team=k"),
        ];
        let p = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [otel]\n",
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.config.sinks[0].path, "/v1/traces");
        assert_eq!(p.config.sinks[0].authority, "collector:4318");
        assert_eq!(
            p.config.sinks[0].headers,
            Some(Setting::Env {
                env: "OTEL_HEADERS".into()
            })
        );
        // The standard variables win; an endpoint already ending in /v1/traces is kept.
        let env = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://otlp.example/v1/traces",
            ),
            ("OTEL_ENDPOINT", "http://ignored"),
        ];
        let p = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [otel]\n",
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                p.config.sinks[0].path.as_str(),
                p.config.sinks[0].authority.as_str()
            ),
            ("/v1/traces", "otlp.example")
        );
        // LiteLLM's default exporter prints to the console: nothing to send, warned.
        let mut warnings = Vec::new();
        let (config, _) =
            parse("model_list: []\nlitellm_settings:\n  callbacks: [otel]\n").unwrap();
        assert_eq!(
            plan_callbacks(&config, &|_| None, &mut warnings).unwrap(),
            None
        );
        assert!(warnings[0].contains("console"), "{warnings:?}");
        // gRPC is not what the filter speaks: warned, nothing sent.
        let grpc = |n: &str| match n {
            "OTEL_EXPORTER" => Some("otlp_grpc".to_string()),
            "OTEL_ENDPOINT" => Some("http://c:4317".to_string()),
            _ => None,
        };
        let mut warnings = Vec::new();
        assert_eq!(plan_callbacks(&config, &grpc, &mut warnings).unwrap(), None);
        assert!(warnings[0].contains("otlp_grpc"), "{warnings:?}");
        // A header list LiteLLM could not split.
        let err = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [otel]\n",
            &[
                ("OTEL_EXPORTER", "otlp_http"),
                ("OTEL_ENDPOINT", "http://c:4318"),
                ("OTEL_HEADERS", "broken"),
            ],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("OTEL_HEADERS")
                && err.to_string().contains("litellm_settings.callbacks"),
            "{err}"
        );
    }

    #[test]
    fn langfuse_otel_uses_the_otel_endpoint_of_the_langfuse_host() {
        let p = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [\"langfuse_otel\"]\n",
            &[KEYS[0], KEYS[1], ("LANGFUSE_HOST", "langfuse.internal")],
        )
        .unwrap()
        .unwrap();
        let sink = &p.config.sinks[0];
        assert_eq!(
            (sink.path.as_str(), sink.authority.as_str()),
            ("/api/public/otel/v1/traces", "langfuse.internal")
        );
        assert!(
            p.clusters["callback_langfuse_otel"].tls,
            "a host without a scheme is https"
        );
        assert_eq!(
            sink.headers,
            Some(Setting::Literal("x-langfuse-ingestion-version=4".into()))
        );
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_variable() {
        // A missing variable: warned (LiteLLM starts without it too), nothing sent.
        let (config, _) =
            parse("model_list: []\nlitellm_settings:\n  failure_callback: [langfuse]\n").unwrap();
        let mut warnings = Vec::new();
        let only_public = |n: &str| (n == "LANGFUSE_PUBLIC_KEY").then(|| "pk".to_string());
        assert_eq!(
            plan_callbacks(&config, &only_public, &mut warnings).unwrap(),
            None
        );
        assert!(
            warnings[0].starts_with(
                "litellm_settings.failure_callback: langfuse needs LANGFUSE_SECRET_KEY"
            ),
            "{warnings:?}"
        );
        for (yaml, variable) in [
            ("callbacks: [otel]", "OTEL_ENDPOINT"),
            ("callbacks: [generic_api]", "GENERIC_LOGGER_ENDPOINT"),
            ("callbacks: [langfuse_otel]", "LANGFUSE_PUBLIC_KEY"),
        ] {
            let (config, _) =
                parse(&format!("model_list: []\nlitellm_settings:\n  {yaml}\n")).unwrap();
            let otel = |n: &str| (n == "OTEL_EXPORTER").then(|| "otlp_http".to_string());
            let mut warnings = Vec::new();
            assert_eq!(plan_callbacks(&config, &otel, &mut warnings).unwrap(), None);
            assert!(warnings[0].contains(variable), "{warnings:?}");
        }
        // Wrong types are refused when the file is loaded, naming the key and item.
        for (yaml, path) in [
            (
                "success_callback: [langfuse, {x: 1}]",
                "litellm_settings.success_callback[1]",
            ),
            ("callbacks: {langfuse: true}", "litellm_settings.callbacks"),
            (
                "callbacks: [langfuse]\n  turn_off_message_logging: maybe",
                "litellm_settings.turn_off_message_logging",
            ),
        ] {
            let err = parse(&format!("model_list: []\nlitellm_settings:\n  {yaml}\n")).unwrap_err();
            assert_eq!(err.path, path, "{err}");
            assert_eq!(err.file, "config.yaml");
        }
        let err = plan(
            "model_list: []\nlitellm_settings:\n  callbacks: [langfuse]\n",
            &[KEYS[0], KEYS[1], ("LANGFUSE_HOST", "ftp://x")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("LANGFUSE_HOST"), "{err}");
        // Names Switchyard does not implement plan nothing (load warns about them).
        assert_eq!(
            plan(
                "model_list: []\nlitellm_settings:\n  success_callback: [datadog]\n",
                &[]
            )
            .unwrap(),
            None
        );
    }
}
