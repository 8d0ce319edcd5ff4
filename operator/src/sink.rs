//! Where the operator's output goes: a [`ConfigSink`]. Switchyard's control plane
//! (xDS, issue 16) does not exist yet; until it does, the one implementation,
//! [`DirectorySink`], renders the plan into a directory the way `switchyard render`
//! does, atomically: each generation is written into a directory of its own and the
//! `current` symbolic link is then swapped to it with one `rename`, so a reader never
//! sees half a config. An xDS sink will implement the same trait.

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use sha2::{Digest, Sha256};
use switchyard::crd::convert::SecretVariable;
use switchyard::plan::Plan;
use switchyard::render::{self, RenderOptions};

/// The link under the sink's directory that names the live generation.
pub const CURRENT: &str = "current";
/// The file, beside the rendered config, listing the resources it was made from.
pub const SOURCES: &str = "sources.json";

/// Receives each new desired configuration.
pub trait ConfigSink {
    /// Makes `plan` the gateway's configuration; `secrets` are the variables Envoy
    /// needs and `owners` the resources it was made from. Returns where it went.
    fn apply(
        &mut self,
        plan: &Plan,
        secrets: &[SecretVariable],
        owners: &[OwnerReference],
    ) -> Result<String, String>;
}

/// Renders into `dir/gen-<hash>/` and points `dir/current` at it.
#[derive(Debug, Clone)]
pub struct DirectorySink {
    /// The directory holding the generations and the `current` link.
    pub dir: PathBuf,
    /// How to render (the `.wasm`, the listener, the keyservice).
    pub options: RenderOptions,
}

impl ConfigSink for DirectorySink {
    fn apply(
        &mut self,
        plan: &Plan,
        secrets: &[SecretVariable],
        owners: &[OwnerReference],
    ) -> Result<String, String> {
        let rendered = render::render(plan, &self.options)?;
        let sources = serde_json::json!({
            "ownerReferences": owners,
            "secrets": secrets.iter().map(|s| serde_json::json!({"env": s.env, "secret": s.secret, "key": s.key})).collect::<Vec<_>>(),
        });
        let mut digest = Sha256::new();
        digest.update(serde_json::to_vec(&rendered.bootstrap).map_err(|e| e.to_string())?);
        for (name, json) in &rendered.plugin_configs {
            digest.update(name.as_bytes());
            digest.update(json.as_bytes());
        }
        digest.update(sources.to_string().as_bytes());
        let hash: String = digest
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let generation = format!("gen-{hash}");
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let target = self.dir.join(&generation);
        if !target.join("envoy.yaml").exists() {
            let staging = self.dir.join(format!(".{generation}.tmp"));
            let _ = std::fs::remove_dir_all(&staging);
            render::write(&rendered, &staging)?;
            std::fs::write(staging.join(SOURCES), sources.to_string())
                .map_err(|e| format!("cannot write {}: {e}", staging.display()))?;
            std::fs::rename(&staging, &target)
                .map_err(|e| format!("cannot move {} into place: {e}", target.display()))?;
        }
        swap_link(&self.dir, &generation)?;
        remove_old(&self.dir, &generation);
        Ok(target.display().to_string())
    }
}

/// Points `dir/current` at `generation` with one rename.
fn swap_link(dir: &Path, generation: &str) -> Result<(), String> {
    let link = dir.join(CURRENT);
    let staging = dir.join(format!(".{CURRENT}.tmp"));
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(generation, &staging)
        .map_err(|e| format!("cannot link {}: {e}", staging.display()))?;
    std::fs::rename(&staging, &link).map_err(|e| format!("cannot swap {}: {e}", link.display()))
}

/// Removes the generations other than `keep`.
fn remove_old(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("gen-") && name != keep {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard::crd::convert::{read_text, to_config, Resources};

    fn plan(model: &str) -> Plan {
        let mut resources = Resources::default();
        let text = format!("apiVersion: switchyard.dev/v1alpha1\nkind: ModelGroup\nmetadata: {{name: m}}\nspec:\n  model_name: {model}\n  deployments:\n    - litellm_params: {{model: openai/x, mock_response: hi}}\n");
        read_text(&text, "t.yaml", &mut resources).unwrap();
        let loaded = to_config(&resources, None, &|_| None).unwrap();
        switchyard::plan::compile(&loaded.config, &|_| None).unwrap()
    }

    #[test]
    fn each_generation_is_swapped_in_whole_and_the_old_one_removed() {
        let dir = std::env::temp_dir().join(format!("sy-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sink = DirectorySink {
            dir: dir.clone(),
            options: RenderOptions {
                wasm: "/x.wasm".into(),
                host: "0.0.0.0".into(),
                port: 4000,
                admin_port: 9901,
                ca_file: render::DEFAULT_CA_FILE.into(),
                keyservice: None,
                keyservice_ca: None,
            },
        };
        let first = sink.apply(&plan("one"), &[], &[]).unwrap();
        let current = dir.join(CURRENT);
        let envoy = std::fs::read_to_string(current.join("envoy.yaml")).unwrap();
        assert!(std::fs::read_dir(&current).unwrap().count() >= 3);
        let second = sink.apply(&plan("two"), &[], &[]).unwrap();
        assert_ne!(first, second);
        assert!(!Path::new(&first).exists(), "the old generation is removed");
        let plugin_configs: String = std::fs::read_dir(&current)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert!(
            plugin_configs.contains("\"two\""),
            "the link follows the new generation"
        );
        assert!(!plugin_configs.contains("\"one\""));
        let _ = envoy;
        // The same config again: same generation, nothing rewritten.
        assert_eq!(sink.apply(&plan("two"), &[], &[]).unwrap(), second);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
