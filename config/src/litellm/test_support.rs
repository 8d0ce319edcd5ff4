//! Helpers shared by the config schema's unit tests: parse a text without an
//! environment, expect an error, look for a warning.

pub(crate) use super::{parse_str, Config, ConfigError, Warning};

pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

pub(super) fn parse(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    parse_str(text, "config.yaml", &no_env)
}

pub(super) fn err(text: &str) -> String {
    parse(text).expect_err("expected an error").to_string()
}

pub(super) fn warned(warnings: &[Warning], path: &str) -> bool {
    warnings.iter().any(|w| w.path == path)
}
