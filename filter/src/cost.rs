//! Token usage and cost of one answer.
//!
//! The usage comes from the OpenAI-format answer the client receives (for Anthropic,
//! after translation), so one reader serves every provider. The cost is LiteLLM's
//! formula: uncached prompt tokens at the input price, cache reads and cache writes
//! at their own prices where the model has them, completion tokens at the output
//! price. Prices are resolved per deployment at configure time
//! ([`crate::plugin_config::Pricing`]); nothing is looked up per request.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::plugin_config::Pricing;

/// Token counts of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_creation_tokens: u64,
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    cache_creation_input_tokens: u64,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// The `usage` of an OpenAI-format answer (a completion, or a stream's usage chunk);
/// `None` when it has none. Everything else in the body is skipped unparsed.
pub fn usage_of(body: &[u8]) -> Option<Usage> {
    let parsed: WithUsage = serde_json::from_slice(body).ok()?;
    let raw = parsed.usage?;
    Some(Usage {
        prompt_tokens: raw.prompt_tokens,
        completion_tokens: raw.completion_tokens,
        cache_read_tokens: raw
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_creation_tokens: raw.cache_creation_input_tokens,
    })
}

pub use switchyard_contract::prices::{price_names, undated};

/// The price of `model` in a table of a deployment's models (by provider model
/// id), under the first of [`price_names`] it lists.
pub fn price_in(table: &BTreeMap<String, Pricing>, model: &str) -> Option<Pricing> {
    if table.is_empty() {
        return None;
    }
    price_names(model)
        .iter()
        .find_map(|name| table.get(name))
        .copied()
}

#[derive(Deserialize)]
struct WithModel {
    #[serde(default)]
    model: Option<String>,
}

/// The `model` an OpenAI-format (or Anthropic-format) answer names, if any.
pub fn model_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<WithModel>(body)
        .ok()?
        .model
        .filter(|m| !m.is_empty())
}

/// The cost in USD of `usage` at `pricing`.
pub fn cost(usage: &Usage, pricing: &Pricing) -> f64 {
    let cached = usage.cache_read_tokens.min(usage.prompt_tokens);
    let created = usage
        .cache_creation_tokens
        .min(usage.prompt_tokens.saturating_sub(cached));
    let uncached = usage.prompt_tokens - cached - created;
    let read_price = pricing
        .cache_read_input_token_cost
        .unwrap_or(pricing.input_cost_per_token);
    let write_price = pricing
        .cache_creation_input_token_cost
        .unwrap_or(pricing.input_cost_per_token);
    uncached as f64 * pricing.input_cost_per_token
        + cached as f64 * read_price
        + created as f64 * write_price
        + usage.completion_tokens as f64 * pricing.output_cost_per_token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt_4o() -> Pricing {
        Pricing {
            input_cost_per_token: 2.5e-6,
            output_cost_per_token: 1e-5,
            cache_read_input_token_cost: Some(1.25e-6),
            cache_creation_input_token_cost: None,
        }
    }

    #[test]
    fn reads_openai_usage_and_skips_the_rest() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40}}}"#;
        let u = usage_of(body).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cache_read_tokens),
            (100, 20, 40)
        );
        assert_eq!(usage_of(br#"{"choices":[]}"#), None);
        assert_eq!(usage_of(br#"{"usage":null}"#), None);
        assert_eq!(usage_of(b"not json"), None);
    }

    #[test]
    fn litellm_cost_formula() {
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 500,
            ..Default::default()
        };
        let c = cost(&u, &gpt_4o());
        assert!((c - (1000.0 * 2.5e-6 + 500.0 * 1e-5)).abs() < 1e-12, "{c}");
        // Cache reads at their own price, cache writes at input price when unpriced.
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 0,
            cache_read_tokens: 600,
            cache_creation_tokens: 100,
        };
        let c = cost(&u, &gpt_4o());
        assert!(
            (c - (300.0 * 2.5e-6 + 600.0 * 1.25e-6 + 100.0 * 2.5e-6)).abs() < 1e-12,
            "{c}"
        );
        // Inconsistent counts never go negative.
        let u = Usage {
            prompt_tokens: 10,
            completion_tokens: 0,
            cache_read_tokens: 50,
            cache_creation_tokens: 50,
        };
        assert!(cost(&u, &gpt_4o()) >= 0.0);
    }

    /// A price is found under `price_names` (tested with them in
    /// `switchyard_contract::prices`).
    #[test]
    fn prices_are_found_under_the_price_names() {
        let table: BTreeMap<String, Pricing> = [("gpt-4o-mini".to_string(), gpt_4o())].into();
        assert!(price_in(&table, "ft:gpt-4o-mini-2024-07-18:o::i").is_some());
        assert!(price_in(&table, "gpt-4o").is_none());
        assert_eq!(
            model_of(br#"{"model":"gpt-4o-2024-08-06","choices":[]}"#).as_deref(),
            Some("gpt-4o-2024-08-06")
        );
        assert_eq!(model_of(br#"{"model":""}"#), None);
    }

    #[test]
    fn anthropic_usage_after_translation() {
        // What the Anthropic translation reports: cache tokens counted into prompt_tokens.
        let body = br#"{"usage":{"prompt_tokens":127,"completion_tokens":6,"total_tokens":133,"prompt_tokens_details":{"cached_tokens":100},"cache_creation_input_tokens":20,"cache_read_input_tokens":100}}"#;
        let u = usage_of(body).unwrap();
        assert_eq!((u.cache_read_tokens, u.cache_creation_tokens), (100, 20));
        let sonnet = Pricing {
            input_cost_per_token: 3e-6,
            output_cost_per_token: 1.5e-5,
            cache_read_input_token_cost: Some(3e-7),
            cache_creation_input_token_cost: Some(3.75e-6),
        };
        let c = cost(&u, &sonnet);
        let expected = 7.0 * 3e-6 + 100.0 * 3e-7 + 20.0 * 3.75e-6 + 6.0 * 1.5e-5;
        assert!((c - expected).abs() < 1e-12, "{c} vs {expected}");
    }
}
