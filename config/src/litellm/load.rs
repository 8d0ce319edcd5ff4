//! Loading a `config.yaml`: `include`d files merged in, YAML syntax, top-level keys
//! (LiteLLM's other sections warned about, typos refused with a hint), YAML merge keys
//! as PyYAML applies them, the typed parse, then validation and `os.environ/`
//! resolution.

use serde_yaml::{Mapping, Value};
use std::path::Path;

use super::includes;
use super::python::py_repr;
use super::{
    Config, ConfigError, EnvLookup, SourceMapping, Warning, TOP_LEVEL_KEYS, UNAPPLIED_SECTIONS,
};

/// Reads, parses, validates and resolves `path`. The warnings are the config-level
/// ones (unsupported settings); `plan::compile` adds the deployment-level ones.
/// Files named by `include` are merged in first (see [`includes`]).
pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<(Config, Vec<Warning>), ConfigError> {
    let file_name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(&file_name, "", format!("cannot read the file: {e}")))?;
    let raw: Value =
        serde_yaml::from_str(&text).map_err(|e| ConfigError::from_yaml(&file_name, &e, true))?;
    match raw {
        Value::Mapping(root) if includes::has_includes(&root) => {
            let (merged, mut warnings) = includes::resolve(root, path)?;
            let regenerated = serde_yaml::to_string(&merged).map_err(|e| {
                ConfigError::at(
                    &file_name,
                    "",
                    format!("cannot merge the included files: {e}"),
                )
            })?;
            let (config, more) = parse_text(&regenerated, &file_name, env, false)?;
            warnings.extend(more);
            Ok((config, warnings))
        }
        _ => parse_text(&text, &file_name, env, true),
    }
}

/// Parses, validates and resolves a config given as text; `file_name` names it in
/// messages.
pub fn parse_str(
    text: &str,
    file_name: &str,
    env: EnvLookup<'_>,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    parse_text(text, file_name, env, true)
}

/// [`parse_str`]; `located` is false for text Switchyard generated (merged `include`
/// files), whose line numbers would not point into the user's file.
fn parse_text(
    text: &str,
    file_name: &str,
    env: EnvLookup<'_>,
    located: bool,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    // 1. Syntax: any YAML error here carries the line and column.
    let mut raw: Value =
        serde_yaml::from_str(text).map_err(|e| ConfigError::from_yaml(file_name, &e, located))?;
    let mut warnings = Vec::new();
    match &raw {
        Value::Null => {}
        Value::Mapping(map) => {
            warnings = check_top_level_keys(map, located.then_some(text), file_name)?
        }
        _ => {
            return Err(ConfigError {
                file: file_name.to_string(),
                line_col: Some((1, 1)),
                path: String::new(),
                message: format!(
                    "expected a mapping with the keys {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            })
        }
    }

    // 2. Typed parse. YAML merge keys (`<<: *defaults`) are applied the way PyYAML
    //    does; then the parse runs on regenerated YAML and line numbers are dropped.
    let mut config: Config = if has_merge_keys(&raw) {
        apply_merge_keys(&mut raw);
        let regenerated = serde_yaml::to_string(&raw).map_err(|e| {
            ConfigError::at(file_name, "", format!("cannot apply YAML merge keys: {e}"))
        })?;
        serde_yaml::from_str(&regenerated)
            .map_err(|e| ConfigError::from_yaml(file_name, &e, false))?
    } else {
        serde_yaml::from_str(text).map_err(|e| ConfigError::from_yaml(file_name, &e, located))?
    };
    config.file_name = file_name.to_string();

    // Keep each entry's litellm_params as written, for the deployment-id hash.
    if let Some(Value::Sequence(entries)) = raw.get("model_list") {
        for (entry, raw_entry) in config.model_list.iter_mut().zip(entries) {
            if let Some(Value::Mapping(params)) = raw_entry.get("litellm_params") {
                entry.litellm_params.source = SourceMapping(Some(params.clone()));
            }
        }
    }

    // 3. Rules, then 4. the environment.
    warnings.extend(config.validate()?);
    warnings.extend(config.resolve_env(env)?);
    Ok((config, warnings))
}

/// Checks the top-level keys: Switchyard's sections pass, the other sections LiteLLM
/// reads are warned about (not applied), anything else is an error with a hint.
/// LiteLLM itself ignores an unknown top-level key without a word, so a misspelt
/// `router_setings` would silently drop the router settings; Switchyard refuses it.
/// `text` (for the line of the offending key) is `None` for generated text.
fn check_top_level_keys(
    map: &Mapping,
    text: Option<&str>,
    file: &str,
) -> Result<Vec<Warning>, ConfigError> {
    let mut warnings = Vec::new();
    for key in map.keys() {
        let Some(key) = key.as_str() else {
            return Err(ConfigError::at(
                file,
                "",
                format!("top-level key {} is not a string", py_repr(key)),
            ));
        };
        if TOP_LEVEL_KEYS.contains(&key) {
            continue;
        }
        if UNAPPLIED_SECTIONS.contains(&key) {
            warnings.push(Warning::new(
                key,
                "a LiteLLM section Switchyard does not apply yet; ignored",
            ));
            continue;
        }
        if key == includes::INCLUDE_KEY {
            return Err(ConfigError::at(
                file,
                key,
                "`include` needs the config to be read from a file (switchyard check --config FILE)",
            ));
        }
        let hint = misplaced_key_hint(key)
            .map(|section| format!("; `{key}` belongs under `{section}`"))
            .or_else(|| {
                closest(key, TOP_LEVEL_KEYS).map(|known| format!("; did you mean `{known}`?"))
            })
            .unwrap_or_else(|| format!("; expected one of: {}", TOP_LEVEL_KEYS.join(", ")));
        return Err(ConfigError {
            file: file.to_string(),
            line_col: text
                .and_then(|text| top_level_line(text, key))
                .map(|line| (line, 1)),
            path: String::new(),
            message: format!("unknown top-level key `{key}`{hint}"),
        });
    }
    Ok(warnings)
}

/// Where settings people put at the top level by mistake belong.
fn misplaced_key_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "master_key"
        | "database_url"
        | "alerting"
        | "max_request_size_mb"
        | "store_model_in_db" => "general_settings",
        "drop_params" | "success_callback" | "failure_callback" | "callbacks" | "cache"
        | "cache_params" | "request_timeout" | "set_verbose" => "litellm_settings",
        "routing_strategy" | "model_group_alias" | "num_retries" | "redis_host" | "fallbacks" => {
            "router_settings"
        }
        _ => return None,
    })
}

/// The 1-based line where `key:` starts at column 0, if any.
fn top_level_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| line.strip_prefix(&format!("'{key}'")));
            matches!(rest, Some(r) if r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The known name closest to `name` (edit distance at most 3), for "did you mean".
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        // cur[j + 1] from prev[j] (diagonal), prev[j + 1] (up) and cur[j] (left).
        let mut left = i + 1;
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(left);
        for ((cb, diagonal), up) in b.iter().zip(&prev).zip(prev.iter().skip(1)) {
            let cost = usize::from(ca != *cb);
            left = (diagonal + cost).min(up + 1).min(left + 1);
            cur.push(left);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or_default()
}

fn is_merge_key(key: &Value) -> bool {
    key.as_str() == Some("<<")
}

fn has_merge_keys(value: &Value) -> bool {
    match value {
        Value::Mapping(map) => map
            .iter()
            .any(|(k, v)| is_merge_key(k) || has_merge_keys(v)),
        Value::Sequence(items) => items.iter().any(has_merge_keys),
        Value::Tagged(t) => has_merge_keys(&t.value),
        _ => false,
    }
}

/// Applies `<<` merge keys as PyYAML does: merged keys come first (earlier sources
/// win), then the mapping's own keys, which override merged values in place.
fn apply_merge_keys(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            for (_, v) in map.iter_mut() {
                apply_merge_keys(v);
            }
            let Some(sources) = map.remove("<<") else {
                return;
            };
            let sources = match sources {
                Value::Sequence(items) => items,
                other => vec![other],
            };
            let mut merged = Mapping::new();
            for source in sources {
                if let Value::Mapping(source) = source {
                    for (k, v) in source {
                        if !merged.contains_key(&k) {
                            merged.insert(k, v);
                        }
                    }
                }
            }
            for (k, v) in std::mem::take(map) {
                merged.insert(k, v); // an existing key keeps its position
            }
            *map = merged;
        }
        Value::Sequence(items) => items.iter_mut().for_each(apply_merge_keys),
        Value::Tagged(t) => apply_merge_keys(&mut t.value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn minimal_config_parses() {
        let (config, warnings) =
            parse("model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n")
                .unwrap();
        assert_eq!(config.model_list.len(), 1);
        assert_eq!(config.model_list[0].litellm_params.model, "openai/gpt-4o");
        assert_eq!(config.file_name, "config.yaml");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e =
            parse("model_list:\n  - model_name: a\n    litellm_params: {model: x\n").unwrap_err();
        assert_eq!(e.file, "config.yaml");
        let (line, _) = e.line_col.expect("a location");
        assert_eq!(line, 4, "{e}");
        assert!(e.to_string().starts_with("config.yaml:4:"), "{e}");
    }

    #[test]
    fn type_error_names_path_and_line() {
        let e = err("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      rpm: lots\n");
        assert!(e.starts_with("config.yaml:5:"), "{e}");
        assert!(e.contains("model_list[0].litellm_params.rpm"), "{e}");
        assert!(!e.contains(" at line "), "location is not repeated: {e}");
    }

    #[test]
    fn typo_in_top_level_key_is_an_error_with_a_hint() {
        let e = err("model_list: []\nrouter_setings:\n  num_retries: 2\n");
        assert_eq!(
            e,
            "config.yaml:2:1: unknown top-level key `router_setings`; did you mean `router_settings`?"
        );
        let e = err("master_key: sk-1\n");
        assert!(
            e.contains("`master_key` belongs under `general_settings`"),
            "{e}"
        );
    }

    #[test]
    fn null_sections_are_empty() {
        let (config, warnings) =
            parse("model_list:\nlitellm_settings:\ngeneral_settings:\n").unwrap();
        assert!(config.model_list.is_empty());
        assert!(warned(&warnings, "model_list"));
    }

    #[test]
    fn litellms_other_sections_are_warned_unknown_ones_refused() {
        // guardrails/quick_start.md (top-level `guardrails`) and logging.md
        // (`callback_settings`): sections LiteLLM reads.
        let (_, warnings) = parse(
            "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: aporia, mode: [pre_call, post_call]}\ncallback_settings:\n  otel:\n    message_logging: False\n",
        )
        .unwrap();
        for key in ["guardrails", "callback_settings"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.path == key && w.message.contains("does not apply")),
                "{key}: {warnings:?}"
            );
        }
        // LiteLLM ignores any unknown key silently; a typo is an error here.
        let e = err("model_list: []\nguardrail:\n  - x\n");
        assert!(
            e.starts_with("config.yaml:2:1: unknown top-level key `guardrail`"),
            "{e}"
        );
    }

    #[test]
    fn merge_keys_are_applied() {
        let text = "defaults: &d\n  api_key: os.environ/K\n";
        assert!(parse(text).is_err(), "defaults is not a top-level key");
        let text = "model_list:\n  - model_name: a\n    litellm_params: &p\n      model: openai/x\n      temperature: 0.1\n  - model_name: b\n    litellm_params:\n      <<: *p\n      temperature: 0.9\n";
        let (config, _) = parse(text).unwrap();
        let b = &config.model_list[1].litellm_params;
        assert_eq!(b.model, "openai/x");
        assert_eq!(b.params["temperature"], Value::from(0.9));
        assert!(!b.params.contains_key("<<"));
    }

    #[test]
    fn round_trip() {
        // Every fixture: parse, serialize, parse again → the same Config.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let env = |name: &str| Some(format!("value-of-{name}"));
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let (mut config, _) = parse_str(&text, "config.yaml", &env).unwrap();
            // Where the master key came from is noted at load, not serialized.
            config.general_settings.master_key_env = None;
            let written = serde_yaml::to_string(&config).unwrap();
            let (again, _) = parse_str(&written, "config.yaml", &env).unwrap();
            assert_eq!(again, config, "{}: re-parsed:\n{written}", path.display());
            assert!(!config.model_list.is_empty());
            checked += 1;
        }
        assert_eq!(checked, 5, "all fixtures were round-tripped");
    }
}
