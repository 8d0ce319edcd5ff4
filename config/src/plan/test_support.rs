//! Helpers shared by the plan's unit tests: compile a config text with a given
//! environment, and look for warnings.

pub(crate) use crate::litellm::parse_str;
pub(crate) use crate::litellm::ConfigError;
pub(crate) use crate::plan::{compile, Plan, DEFAULT_MAX_REQUEST_BODY_BYTES};
pub(crate) use std::collections::BTreeSet;
pub(crate) use switchyard_contract::plugin_config::Setting;
pub(crate) use switchyard_contract::providers::ProviderKind;

pub(super) fn env_with(
    vars: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

pub(super) fn compile_text(text: &str) -> Result<Plan, ConfigError> {
    compile_env(text, &[])
}

pub(super) fn compile_env(
    text: &str,
    vars: &'static [(&'static str, &'static str)],
) -> Result<Plan, ConfigError> {
    let env = env_with(vars);
    let (config, _) = parse_str(text, "config.yaml", &env)?;
    compile(&config, &env)
}

pub(super) fn one(model_line: &str) -> String {
    format!("model_list:\n  - model_name: g\n    litellm_params:\n{model_line}")
}

pub(super) fn has_warning(plan: &Plan, needle: &str) -> bool {
    plan.warnings.iter().any(|w| w.contains(needle))
}
