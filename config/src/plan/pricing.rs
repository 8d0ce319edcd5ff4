//! A deployment's prices: its own (`input_cost_per_token` / `output_cost_per_token`),
//! else the price table's; per served model for wildcards and unpriced Azure
//! deployments; and the warning for deployments no budget could stop.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_contract::plugin_config::Pricing;
use switchyard_contract::providers::ProviderKind;

use super::{Compiler, PlannedDeployment};
use crate::litellm::{Config, ModelEntry};

impl Compiler<'_> {
    /// The deployment's prices: `input_cost_per_token` / `output_cost_per_token` from
    /// `litellm_params` or `model_info` win; else the price table, under
    /// `model_info.base_model` (Azure deployments are named freely) or the model id.
    pub(super) fn pricing(
        &self,
        entry: &ModelEntry,
        provider_name: &str,
        model_id: &str,
    ) -> Option<Pricing> {
        let lp = &entry.litellm_params;
        let info = &entry.model_info;
        let name = info.base_model.as_deref().unwrap_or(model_id);
        let name = name.split_once('/').map_or(name, |(_, rest)| rest);
        let listed = self.prices.lookup(provider_name, name);
        let input = lp.input_cost_per_token.or(info.input_cost_per_token);
        let output = lp.output_cost_per_token.or(info.output_cost_per_token);
        if input.is_none() && output.is_none() {
            return listed;
        }
        Some(Pricing {
            input_cost_per_token: input
                .or(listed.map(|l| l.input_cost_per_token))
                .unwrap_or(0.0),
            output_cost_per_token: output
                .or(listed.map(|l| l.output_cost_per_token))
                .unwrap_or(0.0),
            cache_read_input_token_cost: listed.and_then(|l| l.cache_read_input_token_cost),
            cache_creation_input_token_cost: listed.and_then(|l| l.cache_creation_input_token_cost),
        })
    }

    /// Prices per served model where the deployment's own cannot be known now: a
    /// wildcard serves the requested model; an unpriced Azure deployment (named
    /// freely, no base_model) is priced by the model its answer names.
    pub(super) fn model_prices(
        &self,
        pricing: &Option<Pricing>,
        provider: ProviderKind,
        provider_name: &str,
        model_id: &str,
    ) -> BTreeMap<String, Pricing> {
        match pricing {
            None if model_id.contains('*') => self.prices.models_of(provider_name, model_id),
            None if provider == ProviderKind::Azure => self.prices.models_of("azure", "*"),
            _ => BTreeMap::new(),
        }
    }
}

/// With virtual keys on (budgets apply), a warning for every deployment without a
/// price: its spend would be recorded as 0 and no budget would ever stop it. Each
/// names the file, the entry and the field, and the ways to give it a price. A
/// wildcard deployment is priced per request by the model asked for: it is named
/// when the price table lists none of the models its pattern matches.
pub(super) fn unpriced_warnings(
    config: &Config,
    deployments: &[PlannedDeployment],
    out: &mut Vec<String>,
) {
    let mut seen = BTreeSet::new();
    for d in deployments {
        let up = &d.upstream;
        let wildcard = up.model.contains('*');
        if up.pricing.is_some() || (wildcard && !up.model_prices.is_empty()) {
            continue;
        }
        if !seen.insert(d.entry_index) {
            continue;
        }
        let Some(entry) = config.model_list.get(d.entry_index) else {
            continue;
        };
        let what = if wildcard {
            "the price table lists no model this wildcard matches"
        } else if up.provider == ProviderKind::Azure {
            "an Azure deployment is named freely and has no model_info.base_model (it is priced only if its answer names a model the price table lists)"
        } else {
            "the price table does not list this model"
        };
        out.push(format!(
            "{}: model_list[{}] (model_name {:?}).litellm_params.model {:?}: NO PRICE and virtual keys are on: {what}, so its spend is recorded as $0 and budgets never stop it (Switchyard serves it and logs a warning per request). Give it a price: litellm_params (or model_info) input_cost_per_token and output_cost_per_token; or model_info.base_model naming a priced model (e.g. azure/gpt-4o); or a price file in LiteLLM's format (model_prices_and_context_window.json) named by {}",
            config.file_name,
            d.entry_index,
            entry.model_name,
            entry.litellm_params.model,
            crate::prices::PRICES_ENV,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::test_support::*;

    #[test]
    fn prices_resolve_per_deployment() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o-mini}\n  - model_name: b\n    litellm_params: {model: azure/my-dep, api_base: https://r.openai.azure.com}\n    model_info: {base_model: azure/gpt-4o}\n  - model_name: c\n    litellm_params: {model: hosted_vllm/llama, api_base: http://h:1/v1, input_cost_per_token: 0.000001}\n    model_info: {output_cost_per_token: 0.000002}\n  - model_name: d\n    litellm_params: {model: hosted_vllm/unknown, api_base: http://h:1/v1}\n";
        let plan = compile_env(text, &[("AZURE_API_KEY", "k"), ("OPENAI_API_KEY", "k")]).unwrap();
        let price = |i: usize| plan.deployments[i].upstream.pricing;
        assert_eq!(
            price(0).unwrap().input_cost_per_token,
            1.5e-7,
            "shipped table"
        );
        assert_eq!(
            price(1).unwrap().output_cost_per_token,
            1e-5,
            "Azure priced by base_model"
        );
        let custom = price(2).unwrap();
        assert_eq!(
            (custom.input_cost_per_token, custom.output_cost_per_token),
            (1e-6, 2e-6)
        );
        assert_eq!(price(3), None, "unknown model: no price, no cost header");
        assert!(
            !plan.warnings.iter().any(|w| w.contains("cost_per_token")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn wildcards_fine_tunes_and_azure_are_priced_and_the_unpriced_named() {
        let text = "model_list:\n  - model_name: \"openai/*\"\n    litellm_params: {model: \"openai/*\"}\n  - model_name: ft\n    litellm_params: {model: \"openai/ft:gpt-4o-mini:acme::abc123\"}\n  - model_name: az\n    litellm_params: {model: azure/my-dep, api_base: https://r.openai.azure.com}\n  - model_name: az-based\n    litellm_params: {model: azure/my-dep2, api_base: https://r.openai.azure.com}\n    model_info: {base_model: azure/gpt-4o-mini}\n  - model_name: vllm\n    litellm_params: {model: hosted_vllm/mine, api_base: http://h:1/v1}\n  - model_name: \"claude-*\"\n    litellm_params: {model: \"anthropic/claude-*\"}\n";
        const ENV: &[(&str, &str)] = &[
            ("AZURE_API_KEY", "k"),
            ("OPENAI_API_KEY", "k"),
            ("ANTHROPIC_API_KEY", "k"),
        ];
        let plan = compile_env(text, ENV).unwrap();
        let dep = |g: &str| {
            plan.deployments
                .iter()
                .find(|d| d.upstream.group == g)
                .map(|d| d.upstream.clone())
                .unwrap()
        };
        let wild = dep("openai/*");
        assert_eq!(wild.pricing, None);
        assert_eq!(
            wild.model_prices["gpt-4o-mini"].input_cost_per_token,
            1.5e-7
        );
        assert!(wild.model_prices.contains_key("gpt-4o"));
        assert!(!wild.model_prices.keys().any(|k| k.starts_with("claude")));
        assert_eq!(
            dep("ft").pricing.unwrap().input_cost_per_token,
            1.5e-7,
            "fine-tune: its base"
        );
        assert_eq!(dep("ft").model_prices.len(), 0);
        assert_eq!(dep("az").pricing, None);
        assert!(
            dep("az").model_prices.contains_key("gpt-4o"),
            "priced by the answer's model"
        );
        assert_eq!(dep("az-based").pricing.unwrap().output_cost_per_token, 6e-7);
        assert!(dep("claude-*")
            .model_prices
            .keys()
            .all(|k| k.starts_with("claude-")));
        // No keys: nothing to warn about.
        assert!(!has_warning(&plan, "NO PRICE"), "{:?}", plan.warnings);

        let keyed = format!("{text}general_settings: {{master_key: sk-1234}}\n");
        let plan = compile_env(&keyed, ENV).unwrap();
        let unpriced: Vec<&String> = plan
            .warnings
            .iter()
            .filter(|w| w.contains("NO PRICE"))
            .collect();
        assert_eq!(unpriced.len(), 2, "{unpriced:?}");
        assert!(
            unpriced[0].contains(
                "model_list[2] (model_name \"az\").litellm_params.model \"azure/my-dep\""
            ),
            "{}",
            unpriced[0]
        );
        assert!(unpriced[0].contains("base_model"), "{}", unpriced[0]);
        assert!(
            unpriced[1].contains("model_list[4]") && unpriced[1].contains("hosted_vllm/mine"),
            "{}",
            unpriced[1]
        );
        for w in unpriced {
            assert!(
                w.contains("input_cost_per_token") && w.contains("SWITCHYARD_MODEL_PRICES"),
                "{w}"
            );
        }
    }
}
