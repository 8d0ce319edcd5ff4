//! The two kinds of messages loading a config gives: a [`ConfigError`] (file, line and
//! column when known, YAML path, what is wrong) and a [`Warning`] (accepted but not
//! acted on, or acted on differently from LiteLLM).

use std::fmt;

/// A configuration error: names the file, where in it (YAML path, and line:column
/// when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file's name as given on the command line (`config.yaml`).
    pub file: String,
    /// 1-based line and column, when the YAML parser knows them.
    pub line_col: Option<(usize, usize)>,
    /// YAML path of the offending value (`model_list[2].litellm_params.model`); empty
    /// when the error is about the whole file or the path is already in `message`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about the value at `path` in `file`.
    pub fn at(file: &str, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            line_col: None,
            path: path.into(),
            message: message.into(),
        }
    }

    /// Turns a serde_yaml error into a `file:line:col: path: message` error.
    /// `keep_location` is false when the YAML was regenerated (merge keys), so the
    /// parser's line numbers would not match the user's file.
    pub(crate) fn from_yaml(
        file: &str,
        error: &serde_yaml::Error,
        keep_location: bool,
    ) -> ConfigError {
        let mut message = error.to_string();
        let line_col = error.location().map(|l| (l.line(), l.column()));
        if let Some((line, col)) = line_col {
            let suffix = format!(" at line {line} column {col}");
            if let Some(pos) = message.find(&suffix) {
                message.replace_range(pos..pos + suffix.len(), "");
            }
        }
        ConfigError {
            file: file.to_string(),
            line_col: if keep_location { line_col } else { None },
            path: String::new(),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Something in the config that Switchyard accepts but does not act on (yet), or acts
/// on differently from LiteLLM. Shown as `warning: path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// YAML path of the value concerned (`general_settings.alerting`).
    pub path: String,
    /// What Switchyard does with it.
    pub message: String,
}

impl Warning {
    /// A warning about the value at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
