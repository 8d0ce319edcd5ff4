//! LiteLLM's `include` directive: a `config.yaml` may list other YAML files whose
//! sections are merged into it (LiteLLM's docs: `docs/proxy/config_management.md`).
//!
//! The rules are LiteLLM 1.108.14's (`litellm/proxy/common_utils/config_includes.py`,
//! `resolve_includes` and `resolve_include_file_path`):
//!
//! - `include` is a list of file paths (anything else is an error);
//! - an entry is read next to the config that declares it; an entry only found next
//!   to the root config is read from there, with a warning (and when both exist, the
//!   declaring config's neighbour wins, with a warning);
//! - a file already pulled in is neither read nor merged again (cycles end);
//! - merging an included file into the config so far extends lists that both have
//!   (`model_list`, `credential_list`, …) and overrides every other value; keys the
//!   config did not have are added after its own;
//! - an included file's own `include` entries are processed after the ones already
//!   pending;
//! - a missing file, or one that is not a YAML mapping, is an error.
//!
//! [`resolve`] returns the merged mapping without `include`; `litellm::load` then
//! parses it like any other config (without line numbers, which no longer point into
//! one file).

use crate::litellm::{ConfigError, Warning};
use serde_yaml::{Mapping, Value};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// The top-level key of the directive.
pub const INCLUDE_KEY: &str = "include";

/// Whether a parsed config uses `include`.
pub fn has_includes(config: &Mapping) -> bool {
    config.contains_key(INCLUDE_KEY)
}

/// Merges every file `root` (read from `root_path`) includes, recursively, into it.
/// Returns the merged mapping (without `include`) and the warnings about where
/// entries were found.
pub fn resolve(root: Mapping, root_path: &Path) -> Result<(Mapping, Vec<Warning>), ConfigError> {
    let root_path = absolute(root_path);
    let mut warnings = Vec::new();
    let mut loaded: HashSet<PathBuf> = HashSet::from([root_path.clone()]);
    let mut pending: VecDeque<(String, PathBuf)> = entries(&root, &root_path)?
        .into_iter()
        .map(|entry| (entry, root_path.clone()))
        .collect();
    let mut merged = without_include(root);
    while let Some((entry, declared_in)) = pending.pop_front() {
        let location = locate(&entry, &declared_in, &root_path, &mut warnings);
        if !loaded.insert(location.clone()) {
            continue;
        }
        let shown = location.display().to_string();
        let text = std::fs::read_to_string(&location).map_err(|e| {
            ConfigError::at(
                &declared_in.display().to_string(),
                INCLUDE_KEY,
                format!("cannot read the included file {shown}: {e}"),
            )
        })?;
        let included = match serde_yaml::from_str::<Value>(&text) {
            Ok(Value::Mapping(map)) => map,
            Ok(_) => {
                return Err(ConfigError::at(
                    &shown,
                    "",
                    "an included file must be a YAML mapping of config sections",
                ))
            }
            Err(e) => return Err(ConfigError::from_yaml(&shown, &e, true)),
        };
        pending.extend(
            entries(&included, &location)?
                .into_iter()
                .map(|entry| (entry, location.clone())),
        );
        merge(&mut merged, without_include(included));
    }
    Ok((merged, warnings))
}

/// The `include` entries of one config (declared in `file`).
fn entries(config: &Mapping, file: &Path) -> Result<Vec<String>, ConfigError> {
    let shown = file.display().to_string();
    match config.get(INCLUDE_KEY) {
        None => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::at(
                        &shown,
                        format!("{INCLUDE_KEY}[{i}]"),
                        "expected a file path",
                    )
                })
            })
            .collect(),
        Some(_) => Err(ConfigError::at(
            &shown,
            INCLUDE_KEY,
            "expected a list of file paths (`include: [models.yaml]`)",
        )),
    }
}

/// Where an entry declared in `declared_in` is read from (see the module docs).
fn locate(entry: &str, declared_in: &Path, root: &Path, warnings: &mut Vec<Warning>) -> PathBuf {
    let beside = |config: &Path| absolute(&config.parent().unwrap_or(Path::new(".")).join(entry));
    let declared_relative = beside(declared_in);
    let root_relative = beside(root);
    if root_relative == declared_relative || !root_relative.exists() {
        return declared_relative;
    }
    if !declared_relative.exists() {
        warnings.push(Warning::new(
            INCLUDE_KEY,
            format!(
                "{entry:?} declared in {} is not next to it; {} was read instead (as LiteLLM does); move the file next to the config that declares it",
                declared_in.display(),
                root_relative.display()
            ),
        ));
        return root_relative;
    }
    warnings.push(Warning::new(
        INCLUDE_KEY,
        format!(
            "{entry:?} declared in {} matches two files; {} (next to it) was read and {} skipped (as LiteLLM does)",
            declared_in.display(),
            declared_relative.display(),
            root_relative.display()
        ),
    ));
    declared_relative
}

fn without_include(mut config: Mapping) -> Mapping {
    config.remove(INCLUDE_KEY);
    config
}

/// LiteLLM's merge: lists both sides have are extended, every other value is
/// replaced; new keys go after the existing ones.
fn merge(base: &mut Mapping, included: Mapping) {
    for (key, value) in included {
        match (base.get_mut(&key), value) {
            (Some(Value::Sequence(items)), Value::Sequence(more)) => items.extend(more),
            (Some(slot), value) => *slot = value,
            (None, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `path` made absolute (against the current directory), `.` and `..` removed, so
/// that one file is one key in the set of files already read.
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::load;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchyard-includes-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn included_sections_are_merged_as_litellm_does() {
        // config_management.md: the parent includes a file holding the model_list.
        let dir = tempdir("merge");
        write(
            &dir,
            "model_config.yaml",
            "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_base: http://127.0.0.1:9/v1\n      api_key: k\nlitellm_settings:\n  drop_params: true\n",
        );
        let parent = write(
            &dir,
            "config.yaml",
            "include:\n  - model_config.yaml\nmodel_list:\n  - model_name: local\n    litellm_params:\n      model: openai/local\n      api_base: http://127.0.0.1:9/v1\n      api_key: k\nlitellm_settings:\n  drop_params: false\n  num_retries: 4\n",
        );
        let (config, _) = load(&parent, &no_env).unwrap();
        let names: Vec<&str> = config
            .model_list
            .iter()
            .map(|e| e.model_name.as_str())
            .collect();
        assert_eq!(
            names,
            ["local", "gpt-4o"],
            "lists are extended, the root's first"
        );
        // Every other value is replaced by the included one (a whole section).
        assert_eq!(config.litellm_settings.drop_params, Some(true));
        assert_eq!(config.litellm_settings.num_retries, None);
    }

    #[test]
    fn nested_includes_cycles_and_missing_files() {
        let dir = tempdir("nested");
        write(
            &dir,
            "sub/a.yaml",
            "include: [b.yaml]\nmodel_list:\n  - model_name: a\n    litellm_params: {model: openai/a, api_base: 'http://127.0.0.1:9', api_key: k}\n",
        );
        // b.yaml includes the root again: already read, not merged twice.
        write(
            &dir,
            "sub/b.yaml",
            "include: [../config.yaml]\nmodel_list:\n  - model_name: b\n    litellm_params: {model: openai/b, api_base: 'http://127.0.0.1:9', api_key: k}\n",
        );
        let root = write(&dir, "config.yaml", "include: [sub/a.yaml]\n");
        let (config, _) = load(&root, &no_env).unwrap();
        let names: Vec<&str> = config
            .model_list
            .iter()
            .map(|e| e.model_name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);

        let missing = write(&dir, "missing.yaml", "include: [nope.yaml]\n");
        let e = load(&missing, &no_env).unwrap_err().to_string();
        assert!(
            e.contains("missing.yaml: include: cannot read the included file"),
            "{e}"
        );
        assert!(e.contains("nope.yaml"), "{e}");

        let not_a_list = write(&dir, "bad.yaml", "include: models.yaml\n");
        let e = load(&not_a_list, &no_env).unwrap_err().to_string();
        assert!(
            e.contains("bad.yaml: include: expected a list of file paths"),
            "{e}"
        );

        write(&dir, "list.yaml", "- 1\n- 2\n");
        let includes_a_list = write(&dir, "inc-list.yaml", "include: [list.yaml]\n");
        let e = load(&includes_a_list, &no_env).unwrap_err().to_string();
        assert!(
            e.contains("list.yaml: an included file must be a YAML mapping"),
            "{e}"
        );
    }

    #[test]
    fn entries_only_next_to_the_root_are_read_from_there_with_a_warning() {
        let dir = tempdir("fallback");
        write(
            &dir,
            "models.yaml",
            "model_list:\n  - model_name: m\n    litellm_params: {model: openai/m, api_base: 'http://127.0.0.1:9', api_key: k}\n",
        );
        write(&dir, "nested/settings.yaml", "include: [models.yaml]\n");
        let root = write(&dir, "config.yaml", "include: [nested/settings.yaml]\n");
        let (config, warnings) = load(&root, &no_env).unwrap();
        assert_eq!(config.model_list.len(), 1);
        assert!(
            warnings
                .iter()
                .any(|w| w.path == INCLUDE_KEY && w.message.contains("is not next to it")),
            "{warnings:?}"
        );
    }

    #[test]
    fn text_without_a_file_cannot_include() {
        let e = crate::litellm::parse_str("include: [a.yaml]\n", "config.yaml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`include` needs the config to be read from a file"),
            "{e}"
        );
    }
}
