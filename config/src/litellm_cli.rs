//! LiteLLM's proxy command line, as `switchyard up` takes it.
//!
//! A LiteLLM user starts the proxy with `litellm --config config.yaml --port 4000`,
//! or without a config: `litellm --model ollama/llama3`. This module turns those
//! flags into the same [`Config`] model the YAML path builds, so that everything else
//! (checks, warnings, compilation, rendering) is shared. What LiteLLM 1.108.14 does
//! with each flag (`litellm/proxy/proxy_cli.py`, `run_server`; `proxy_server.py`,
//! `initialize`; `common_request_processing.py`; `http_parsing_utils.py`,
//! `resolve_inference_model`) and what Switchyard does:
//!
//! - `--model M`: LiteLLM sends *every* request to `M`, whatever model it names (the
//!   command-line model wins over the body's), and lists `M` in `/models`. Here `M`
//!   becomes a `model_list` entry (`model_name: M`, `litellm_params.model: M`) unless
//!   the config already has a group named `M`, and the router's `forced_group`
//!   sends every request to that group. With `--config`, the config's other groups
//!   stay listed but get no traffic, as in LiteLLM.
//! - `--alias A`: LiteLLM 1.108 keeps it in a dictionary nothing reads. Here `A`
//!   becomes a `model_group_alias` of `M`, listed in `/models`.
//! - `--api_base`, `--temperature`, `--max_tokens`: LiteLLM writes them into every
//!   request (they win over the client's values and the deployment's). Here they
//!   are set on every deployment (`litellm_params`), where a client's own
//!   `temperature`/`max_tokens` still win.
//! - `--api_version V`: LiteLLM sets `AZURE_API_VERSION`, the fallback of Azure
//!   deployments without one. Here Azure deployments without `api_version` get `V`.
//! - `--request_timeout T`: every request's timeout in LiteLLM; here
//!   `router_settings.timeout` (the route timeout of every group).
//! - `--drop_params`: `litellm.drop_params = True`; here `litellm_settings.drop_params`.
//!
//! The debug mode is on with `--debug`, `--detailed_debug`,
//! `litellm_settings.set_verbose: true` or `LITELLM_LOG=DEBUG` ([`debug_reason`]).

use indexmap::IndexMap;
use serde_yaml::Value;

use crate::litellm::{self, AliasTarget, Config, ConfigError, EnvLookup, Warning};

/// The name the quick start's config goes by in messages.
pub const COMMAND_LINE: &str = "the command line";

/// LiteLLM's environment variable for its log level (`DEBUG`, `INFO`).
pub const LITELLM_LOG: &str = "LITELLM_LOG";

/// LiteLLM's model-related flags (its config-less quick start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFlags {
    /// `--model`: the model every request goes to.
    pub model: Option<String>,
    /// `--alias`: another name for it, listed in `/models`.
    pub alias: Option<String>,
    /// `--api_base`: the provider's URL, for every deployment.
    pub api_base: Option<String>,
    /// `--api_version`: the Azure API version of deployments without one.
    pub api_version: Option<String>,
    /// `--temperature`: default `temperature` of every deployment.
    pub temperature: Option<f64>,
    /// `--max_tokens`: default `max_tokens` of every deployment.
    pub max_tokens: Option<u64>,
    /// `--request_timeout`: seconds per call.
    pub request_timeout: Option<f64>,
    /// `--drop_params`: drop parameters a provider does not take.
    pub drop_params: bool,
}

impl ModelFlags {
    /// Whether any flag is set.
    pub fn any(&self) -> bool {
        *self != ModelFlags::default()
    }
}

/// What [`apply`] made of the flags.
#[derive(Debug, Default)]
pub struct Applied {
    /// The group every request goes to (`--model`).
    pub forced_group: Option<String>,
    /// Notes for the user (flags that do nothing here).
    pub warnings: Vec<Warning>,
}

/// An empty config, for `--model` without `--config`.
pub fn empty_config() -> Config {
    Config {
        file_name: COMMAND_LINE.to_string(),
        ..Config::default()
    }
}

/// Applies the flags to `config` (a loaded file, or [`empty_config`]), as described
/// in the module docs. `env` resolves `os.environ/` values of the entry `--model`
/// adds.
pub fn apply(
    config: &mut Config,
    flags: &ModelFlags,
    env: EnvLookup<'_>,
) -> Result<Applied, ConfigError> {
    let mut applied = Applied::default();
    let flag_error = |flag: &str, message: String| ConfigError::at(flag, "", message);
    if let Some(base) = &flags.api_base {
        crate::plan::parse_api_base(base).map_err(|e| flag_error("--api_base", e))?;
    }
    if let Some(model) = &flags.model {
        let model = model.trim();
        if model.is_empty() {
            return Err(flag_error(
                "--model",
                "expected a model, got nothing".into(),
            ));
        }
        if !config.model_list.iter().any(|e| e.model_name == model) {
            config
                .model_list
                .push(command_line_entry(model, &mut applied.warnings, env)?);
        }
        if let Some(alias) = flags.alias.as_deref().filter(|a| *a != model) {
            config
                .router_settings
                .model_group_alias
                .insert(alias.to_string(), AliasTarget::Group(model.to_string()));
        }
        applied.forced_group = Some(model.to_string());
    } else if flags.alias.is_some() {
        applied.warnings.push(Warning::new(
            "--alias",
            "names the model of --model, which is not given; ignored",
        ));
    }

    for entry in &mut config.model_list {
        let lp = &mut entry.litellm_params;
        if lp.mock_response.is_some() {
            continue;
        }
        if let Some(base) = &flags.api_base {
            lp.api_base = Some(base.clone());
        }
        let azure = lp.model.starts_with("azure")
            || lp
                .custom_llm_provider
                .as_deref()
                .is_some_and(|p| p.starts_with("azure"));
        if let (Some(version), true, None) = (&flags.api_version, azure, &lp.api_version) {
            lp.api_version = Some(version.clone());
        }
        if let Some(t) = flags.temperature {
            lp.params
                .insert("temperature".into(), Value::Number(t.into()));
        }
        if let Some(n) = flags.max_tokens {
            lp.params
                .insert("max_tokens".into(), Value::Number(n.into()));
        }
    }
    if let Some(t) = flags.request_timeout {
        if !(t.is_finite() && t > 0.0) {
            return Err(flag_error(
                "--request_timeout",
                format!("expected a positive number of seconds, got {t}"),
            ));
        }
        config.router_settings.timeout = Some(t);
    }
    if flags.drop_params {
        config.litellm_settings.drop_params = Some(true);
    }
    Ok(applied)
}

/// The `model_list` entry of `--model M`: parsed from the YAML a user would write,
/// so that it is checked like any entry.
fn command_line_entry(
    model: &str,
    warnings: &mut Vec<Warning>,
    env: EnvLookup<'_>,
) -> Result<litellm::ModelEntry, ConfigError> {
    let mut params = IndexMap::new();
    params.insert("model".to_string(), Value::String(model.to_string()));
    let mut entry = IndexMap::new();
    entry.insert("model_name".to_string(), Value::String(model.to_string()));
    entry.insert(
        "litellm_params".to_string(),
        serde_yaml::to_value(params).unwrap_or(Value::Null),
    );
    let mut doc = IndexMap::new();
    doc.insert("model_list".to_string(), vec![entry]);
    let text = serde_yaml::to_string(&doc)
        .map_err(|e| ConfigError::at("--model", "", format!("cannot build its entry: {e}")))?;
    let (mut parsed, entry_warnings) = litellm::parse_str(&text, &format!("--model {model}"), env)?;
    warnings.extend(entry_warnings);
    parsed
        .model_list
        .pop()
        .ok_or_else(|| ConfigError::at("--model", "", "no entry was built"))
}

/// Why the debug mode is on, if it is: the flag, the config key or the variable.
pub fn debug_reason(
    debug: bool,
    detailed_debug: bool,
    config: &Config,
    env: EnvLookup<'_>,
) -> Option<&'static str> {
    if debug {
        Some("--debug")
    } else if detailed_debug {
        Some("--detailed_debug")
    } else if config.litellm_settings.set_verbose == Some(true) {
        Some("litellm_settings.set_verbose")
    } else if env(LITELLM_LOG).is_some_and(|v| v.trim().eq_ignore_ascii_case("DEBUG")) {
        Some("LITELLM_LOG=DEBUG")
    } else {
        None
    }
}

/// LiteLLM's variable for the listener address (`--host`'s click `envvar`).
pub const HOST_VARIABLE: &str = "HOST";
/// LiteLLM's variable for the listener port (`--port`'s click `envvar`).
pub const PORT_VARIABLE: &str = "PORT";

/// What `up` takes from `HOST` and `PORT` where the command line gives no `--host` or
/// `--port`, as LiteLLM's proxy does (`proxy_cli.py`: `--host … envvar="HOST"`,
/// `--port … envvar="PORT"`; click ignores an empty variable): the host and the port
/// to use instead of the defaults, each `None` when its flag was given or its
/// variable is unset or empty. A `PORT` that is not a port number is an error that
/// names it. The container image sets `HOST=0.0.0.0`.
pub fn listen_from_env(
    host_given: bool,
    port_given: bool,
    env: EnvLookup<'_>,
) -> Result<(Option<String>, Option<u16>), String> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let host = if host_given {
        None
    } else {
        set(HOST_VARIABLE).map(|h| h.trim().to_string())
    };
    let port = match (port_given, set(PORT_VARIABLE)) {
        (false, Some(text)) => Some(text.trim().parse::<u16>().map_err(|_| {
            format!(
                "{PORT_VARIABLE}={text:?}: not a port number (0 to 65535); unset it or give --port"
            )
        })?),
        _ => None,
    };
    Ok((host, port))
}

/// Parses a boolean the way LiteLLM's command line (click's `BOOL`) does:
/// `true`/`false`, `1`/`0`, `yes`/`no`, `y`/`n`, `on`/`off`, `t`/`f`, any case.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
        _ => Err(format!("{text:?} is not a valid boolean")),
    }
}

/// The argument list with `up` inserted when the first argument is an option
/// (`switchyard --config config.yaml`, as LiteLLM users type `litellm --config …`).
pub fn with_default_command(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = args.get(1).and_then(|a| a.to_str());
    match first {
        Some(first)
            if first.starts_with('-') && !matches!(first, "-h" | "--help" | "-V" | "--version") =>
        {
            let mut out = args;
            out.insert(1, "up".into());
            out
        }
        _ => args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;

    #[test]
    fn host_and_port_come_from_the_environment_unless_given() {
        let env = |name: &str| match name {
            "HOST" => Some("0.0.0.0".to_string()),
            "PORT" => Some("8080".to_string()),
            _ => None,
        };
        assert_eq!(
            listen_from_env(false, false, &env),
            Ok((Some("0.0.0.0".to_string()), Some(8080)))
        );
        // A flag on the command line wins over its variable, each on its own.
        assert_eq!(listen_from_env(true, false, &env), Ok((None, Some(8080))));
        assert_eq!(
            listen_from_env(false, true, &env),
            Ok((Some("0.0.0.0".to_string()), None))
        );
        assert_eq!(listen_from_env(true, true, &env), Ok((None, None)));
    }

    #[test]
    fn unset_or_empty_variables_leave_the_defaults() {
        let none = |_: &str| None;
        assert_eq!(listen_from_env(false, false, &none), Ok((None, None)));
        let empty = |_: &str| Some(String::new());
        assert_eq!(listen_from_env(false, false, &empty), Ok((None, None)));
    }

    #[test]
    fn a_port_variable_that_is_no_port_is_an_error_naming_it() {
        let env = |name: &str| (name == "PORT").then(|| "http".to_string());
        let err = listen_from_env(false, false, &env).unwrap_err();
        assert!(err.starts_with("PORT=\"http\": not a port number"), "{err}");
        let env = |name: &str| (name == "PORT").then(|| "70000".to_string());
        assert!(listen_from_env(false, false, &env).is_err());
        // Given --port, the variable is not read at all.
        assert_eq!(listen_from_env(false, true, &env), Ok((None, None)));
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn compile(config: &Config, env: EnvLookup<'_>) -> plan::Plan {
        plan::compile(config, env).unwrap()
    }

    #[test]
    fn model_alone_is_one_deployment_served_for_every_model() {
        let mut config = empty_config();
        let flags = ModelFlags {
            model: Some("ollama/llama3".into()),
            alias: Some("llama".into()),
            api_base: Some("http://127.0.0.1:11434".into()),
            temperature: Some(0.5),
            max_tokens: Some(64),
            request_timeout: Some(30.0),
            drop_params: true,
            ..Default::default()
        };
        let applied = apply(&mut config, &flags, &no_env).unwrap();
        assert_eq!(applied.forced_group.as_deref(), Some("ollama/llama3"));
        assert_eq!(config.model_list.len(), 1);
        let entry = &config.model_list[0];
        assert_eq!(entry.model_name, "ollama/llama3");
        assert_eq!(entry.litellm_params.model, "ollama/llama3");
        let plan = compile(&config, &no_env);
        assert_eq!(plan.router.groups.len(), 1);
        assert_eq!(
            plan.router.aliases.get("llama").map(String::as_str),
            Some("ollama/llama3")
        );
        let dep = &plan.deployments[0].upstream;
        assert_eq!(dep.model, "llama3");
        assert_eq!(dep.default_params["temperature"], serde_json::json!(0.5));
        assert_eq!(dep.default_params["max_tokens"], serde_json::json!(64));
        assert!(dep.drop_params);
        assert_eq!(plan.timeout_secs, Some(30.0));
        assert_eq!(plan.deployments[0].address.port, 11434);
    }

    #[test]
    fn model_naming_a_config_group_uses_it_and_flags_reach_every_deployment() {
        let text = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: k\n      temperature: 0.1\n  - model_name: b\n    litellm_params:\n      model: azure/dep\n      api_key: k\n      api_base: https://x.openai.azure.com\n  - model_name: m\n    litellm_params:\n      model: openai/x\n      mock_response: hi\n";
        let (mut config, _) = litellm::parse_str(text, "config.yaml", &no_env).unwrap();
        let flags = ModelFlags {
            model: Some("a".into()),
            api_base: Some("http://127.0.0.1:9/v1".into()),
            api_version: Some("2024-10-21".into()),
            temperature: Some(0.9),
            ..Default::default()
        };
        let applied = apply(&mut config, &flags, &no_env).unwrap();
        assert_eq!(applied.forced_group.as_deref(), Some("a"));
        assert_eq!(config.model_list.len(), 3, "no entry added");
        let lp = |i: usize| &config.model_list[i].litellm_params;
        assert_eq!(lp(0).api_base.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(lp(0).params["temperature"], Value::Number(0.9.into()));
        assert_eq!(lp(0).api_version, None, "not Azure");
        assert_eq!(lp(1).api_version.as_deref(), Some("2024-10-21"));
        assert_eq!(lp(1).api_base.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(lp(2).api_base, None, "mock groups are left alone");
    }

    #[test]
    fn a_new_model_is_added_to_a_config_and_checked_like_an_entry() {
        let text = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: k\n";
        let (mut config, _) = litellm::parse_str(text, "config.yaml", &no_env).unwrap();
        let flags = ModelFlags {
            model: Some("openai/gpt-4o-mini".into()),
            ..Default::default()
        };
        apply(&mut config, &flags, &no_env).unwrap();
        assert_eq!(config.model_list.len(), 2);
        // Compiled like any entry: an OpenAI model without api_key reads LiteLLM's
        // default variable.
        let plan = compile(&config, &no_env);
        assert_eq!(plan.router.groups.len(), 2);
        assert_eq!(plan.deployments[1].upstream.model, "gpt-4o-mini");
        assert!(plan.host_env_keys.contains("OPENAI_API_KEY"));
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let mut config = empty_config();
        let err = apply(
            &mut config,
            &ModelFlags {
                model: Some("ollama/llama3".into()),
                api_base: Some("localhost:11434".into()),
                ..Default::default()
            },
            &no_env,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("--api_base: "), "{err}");
        let err = apply(
            &mut empty_config(),
            &ModelFlags {
                request_timeout: Some(0.0),
                ..Default::default()
            },
            &no_env,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("--request_timeout: "), "{err}");
        let applied = apply(
            &mut empty_config(),
            &ModelFlags {
                alias: Some("x".into()),
                ..Default::default()
            },
            &no_env,
        )
        .unwrap();
        assert_eq!(applied.warnings[0].path, "--alias");
    }

    #[test]
    fn debug_mode_switches() {
        let config = empty_config();
        assert_eq!(debug_reason(false, false, &config, &no_env), None);
        assert_eq!(debug_reason(true, false, &config, &no_env), Some("--debug"));
        assert_eq!(
            debug_reason(false, true, &config, &no_env),
            Some("--detailed_debug")
        );
        let env = |k: &str| (k == LITELLM_LOG).then(|| "debug".to_string());
        assert_eq!(
            debug_reason(false, false, &config, &env),
            Some("LITELLM_LOG=DEBUG")
        );
        let info = |k: &str| (k == LITELLM_LOG).then(|| "INFO".to_string());
        assert_eq!(debug_reason(false, false, &config, &info), None);
        let (verbose, _) = litellm::parse_str(
            "litellm_settings:\n  set_verbose: true\n",
            "c.yaml",
            &no_env,
        )
        .unwrap();
        assert_eq!(
            debug_reason(false, false, &verbose, &no_env),
            Some("litellm_settings.set_verbose")
        );
        assert!(plan::compile(&verbose, &no_env).unwrap().debug_requests);
        assert!(!plan::compile(&config, &no_env).unwrap().debug_requests);
    }

    #[test]
    fn booleans_as_click_reads_them() {
        for t in ["True", "true", "1", "yes", "Y", "on", "t"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["False", "false", "0", "no", "N", "off", "f"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn options_first_means_up() {
        let args = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(|s| s.into()).collect() };
        assert_eq!(
            with_default_command(args(&["switchyard", "--config", "c.yaml"])),
            args(&["switchyard", "up", "--config", "c.yaml"])
        );
        assert_eq!(
            with_default_command(args(&["switchyard", "--config=c.yaml", "--port", "1"])),
            args(&["switchyard", "up", "--config=c.yaml", "--port", "1"])
        );
        for unchanged in [
            &["switchyard", "check", "--config", "c.yaml"][..],
            &["switchyard", "--help"][..],
            &["switchyard", "--version"][..],
            &["switchyard"][..],
        ] {
            assert_eq!(with_default_command(args(unchanged)), args(unchanged));
        }
    }
}
