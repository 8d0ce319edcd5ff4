//! Model prices, in LiteLLM's `model_prices_and_context_window.json` format.
//!
//! Switchyard ships a small table for common OpenAI and Anthropic models
//! (`config/prices.json`, list prices per token in USD). A user may point
//! `SWITCHYARD_MODEL_PRICES` at a file in LiteLLM's format — LiteLLM's own file
//! included — whose entries win. Prices are resolved per deployment when the config
//! is compiled; the filter never looks anything up per request.

use std::collections::HashMap;

use serde::Deserialize;
use switchyard_filter::plugin_config::Pricing;

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
        }
        Ok(table)
    }

    /// Parses LiteLLM's format; entries without token prices (images, …) are skipped.
    pub fn parse(text: &str, source: &str) -> Result<PriceTable, String> {
        let raw: HashMap<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| format!("{source}: not a LiteLLM price file: {e}"))?;
        let mut by_name = HashMap::new();
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
            }
            by_name.insert(name, pricing);
        }
        Ok(PriceTable { by_name })
    }

    /// The price of `model` as `provider` serves it: `provider/model`, else `model`.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Pricing> {
        self.by_name
            .get(&format!("{provider}/{model}"))
            .or_else(|| self.by_name.get(model))
            .copied()
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
