//! Model prices, in LiteLLM's `model_prices_and_context_window.json` format.
//!
//! Switchyard ships a small table for common OpenAI and Anthropic models
//! (`config/prices.json`, list prices per token in USD). A user may point
//! `SWITCHYARD_MODEL_PRICES` at a file in LiteLLM's format — LiteLLM's own file
//! included — whose entries win. Prices are resolved per deployment when the config
//! is compiled; the filter never looks anything up per request.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use switchyard_contract::plugin_config::Pricing;

/// The table shipped with Switchyard.
const SHIPPED: &str = include_str!("../prices.json");

/// The environment variable naming a price file in LiteLLM's format.
pub const PRICES_ENV: &str = "SWITCHYARD_MODEL_PRICES";

/// One entry of a LiteLLM price file; the many other fields are ignored.
#[derive(Deserialize)]
struct Entry {
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    litellm_provider: Option<String>,
}

/// Prices by model name.
#[derive(Debug, Default)]
pub struct PriceTable {
    by_name: HashMap<String, Pricing>,
    /// The `litellm_provider` of each entry named without a provider prefix.
    provider_of: HashMap<String, String>,
}

impl PriceTable {
    /// The shipped table, overlaid with the user's file when `SWITCHYARD_MODEL_PRICES`
    /// names one.
    pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<PriceTable, String> {
        let mut table = PriceTable::parse(SHIPPED, "config/prices.json (shipped)")?;
        if let Some(path) = env(PRICES_ENV).filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{PRICES_ENV}={path}: cannot read: {e}"))?;
            let user = PriceTable::parse(&text, &path)?;
            table.by_name.extend(user.by_name);
            table.provider_of.extend(user.provider_of);
        }
        Ok(table)
    }

    /// Parses LiteLLM's format; entries without token prices (images, …) are skipped.
    pub fn parse(text: &str, source: &str) -> Result<PriceTable, String> {
        let raw: HashMap<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| format!("{source}: not a LiteLLM price file: {e}"))?;
        let mut by_name = HashMap::new();
        let mut provider_of = HashMap::new();
        for (name, value) in raw {
            let Ok(entry) = serde_json::from_value::<Entry>(value) else {
                continue; // e.g. `sample_spec`, whose values are descriptions
            };
            let (Some(input), Some(output)) =
                (entry.input_cost_per_token, entry.output_cost_per_token)
            else {
                continue;
            };
            let pricing = Pricing {
                input_cost_per_token: input,
                output_cost_per_token: output,
                cache_read_input_token_cost: entry.cache_read_input_token_cost,
                cache_creation_input_token_cost: entry.cache_creation_input_token_cost,
            };
            if let Some(provider) = entry
                .litellm_provider
                .filter(|p| !name.starts_with(&format!("{p}/")))
            {
                by_name
                    .entry(format!("{provider}/{name}"))
                    .or_insert(pricing);
                if !name.contains('/') {
                    provider_of.insert(name.clone(), provider);
                }
            }
            by_name.insert(name, pricing);
        }
        Ok(PriceTable {
            by_name,
            provider_of,
        })
    }

    /// The price of `model` as `provider` serves it: for each of its price names
    /// ([`switchyard_contract::prices::price_names`]: the name, a fine-tune's `ft:`
    /// row and base model, the undated snapshot), `provider/name`, else `name`.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Pricing> {
        switchyard_contract::prices::price_names(model)
            .iter()
            .find_map(|name| {
                self.by_name
                    .get(&format!("{provider}/{name}"))
                    .or_else(|| self.by_name.get(name))
            })
            .copied()
    }

    /// The prices a deployment of `provider` whose model id is `pattern` (with at
    /// most one `*`, or `*` for any) may need per request: every model the table
    /// lists for the provider (`provider/name`, or a bare name of that
    /// `litellm_provider`; Azure serves OpenAI's models under their names) that the
    /// pattern matches, by the name the provider serves it under.
    pub fn models_of(&self, provider: &str, pattern: &str) -> BTreeMap<String, Pricing> {
        let mut out = BTreeMap::new();
        let prefix = format!("{provider}/");
        let bare_ok = |name: &str| {
            self.provider_of
                .get(name)
                .is_some_and(|p| p == provider || (provider == "azure" && p == "openai"))
        };
        for (key, pricing) in &self.by_name {
            if let Some(name) = key.strip_prefix(&prefix) {
                if glob(pattern, name) {
                    // The provider's own row wins over a bare one.
                    out.insert(name.to_string(), *pricing);
                }
            } else if !key.contains('/') && bare_ok(key) && glob(pattern, key) {
                out.entry(key.clone()).or_insert(*pricing);
            }
        }
        out
    }
}

/// Whether `name` matches `pattern`, whose `*` (at most one is honoured) matches
/// any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_has_common_models() {
        let t = PriceTable::load(&|_| None).unwrap();
        let p = t.lookup("openai", "gpt-4o-mini").unwrap();
        assert_eq!(
            (p.input_cost_per_token, p.output_cost_per_token),
            (1.5e-7, 6e-7)
        );
        let p = t.lookup("anthropic", "claude-3-5-sonnet-20240620").unwrap();
        assert_eq!(p.cache_creation_input_token_cost, Some(3.75e-6));
        assert!(t.lookup("openai", "no-such-model").is_none());
    }

    #[test]
    fn fine_tunes_snapshots_and_wildcards() {
        let t = PriceTable::load(&|_| None).unwrap();
        let base = t.lookup("openai", "gpt-4o-mini").unwrap();
        assert_eq!(
            t.lookup("openai", "ft:gpt-4o-mini:my-org::abc"),
            Some(base),
            "a fine-tune without an ft: row: its base model"
        );
        assert_eq!(
            t.lookup("openai", "gpt-4.1-2025-04-14"),
            t.lookup("openai", "gpt-4.1"),
            "a dated snapshot: the undated row"
        );
        let all = t.models_of("openai", "*");
        assert_eq!(all.get("gpt-4o-mini"), Some(&base));
        assert!(!all.keys().any(|k| k.starts_with("claude")), "{all:?}");
        let claude = t.models_of("anthropic", "claude-3-5-*");
        assert!(claude.contains_key("claude-3-5-sonnet-20241022"));
        assert!(!claude.contains_key("claude-3-7-sonnet-20250219"));
        assert!(
            t.models_of("azure", "*").contains_key("gpt-4o"),
            "Azure serves OpenAI's models"
        );
        assert!(t.models_of("groq", "*").is_empty());
        assert!(
            glob("a*c", "abc") && glob("a*c", "ac") && !glob("a*c", "c") && !glob("ab*b", "ab")
        );
    }

    #[test]
    fn litellm_format_file_overrides_and_skips_non_token_entries() {
        let dir = std::env::temp_dir().join(format!("sy-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("prices.json");
        std::fs::write(
            &file,
            r#"{"sample_spec": {"input_cost_per_token": "a description", "mode": "one of chat"},
                "gpt-4o-mini": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "litellm_provider": "openai"},
                "dall-e-3": {"output_cost_per_image": 0.04, "litellm_provider": "openai"},
                "my-model": {"input_cost_per_token": 5e-6, "output_cost_per_token": 6e-6, "litellm_provider": "hosted_vllm"}}"#,
        )
        .unwrap();
        let path = file.to_string_lossy().into_owned();
        let t = PriceTable::load(&|k| (k == PRICES_ENV).then(|| path.clone())).unwrap();
        assert_eq!(
            t.lookup("openai", "gpt-4o-mini")
                .unwrap()
                .input_cost_per_token,
            1e-6
        );
        assert_eq!(
            t.lookup("hosted_vllm", "my-model")
                .unwrap()
                .output_cost_per_token,
            6e-6
        );
        assert!(t.lookup("openai", "dall-e-3").is_none());
        assert!(
            t.lookup("openai", "gpt-4o").is_some(),
            "shipped entries stay"
        );
        let err =
            PriceTable::load(&|k| (k == PRICES_ENV).then(|| "/nope.json".to_string())).unwrap_err();
        assert!(
            err.contains(PRICES_ENV) && err.contains("/nope.json"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
