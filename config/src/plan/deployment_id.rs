//! Deployment identity: LiteLLM's default deployment id (a hash of the entry), and an
//! entry with a list of organizations as one deployment per organization.

use serde_yaml::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

use crate::litellm::{py_str, LitellmParams, ModelEntry, Organization};

/// LiteLLM's default deployment id: the hex SHA-256 of `model_name` followed by, for
/// each `litellm_params` key in YAML order, the key and Python's `str()` of the value,
/// all concatenated (`gpt-4o` + `model` + `openai/gpt-4o` + `rpm` + `10`).
///
/// Approximations: values are hashed as written, so an `os.environ/NAME` value hashes
/// as that text (LiteLLM hashes the secret it resolved; pin `model_info.id` to match
/// LiteLLM's ids exactly), and nested lists and mappings use Python's `repr` only
/// approximately (see [`py_str`]).
pub fn litellm_deployment_id(model_name: &str, params: &LitellmParams) -> String {
    let mapping = match &params.source.0 {
        Some(mapping) => mapping.clone(),
        None => match serde_yaml::to_value(params) {
            Ok(Value::Mapping(mapping)) => mapping,
            _ => Default::default(),
        },
    };
    let mut text = model_name.to_string();
    for (key, value) in &mapping {
        text.push_str(&py_str(key));
        text.push_str(&py_str(value));
    }
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An entry as compiled: itself, or, when `organization` is a list, one copy per
/// organization (LiteLLM creates one deployment each; see [`Organization`]), each
/// with its own id `<entry id>-<organization>` and its position in the list.
pub(super) fn per_organization(entry: &ModelEntry) -> Vec<(Option<usize>, Cow<'_, ModelEntry>)> {
    let Some(Organization::Many(orgs)) = &entry.litellm_params.organization else {
        return vec![(None, Cow::Borrowed(entry))];
    };
    let base = entry
        .model_info
        .id
        .clone()
        .unwrap_or_else(|| litellm_deployment_id(&entry.model_name, &entry.litellm_params));
    orgs.iter()
        .enumerate()
        .map(|(k, org)| {
            let mut one = entry.clone();
            one.litellm_params.organization = Some(Organization::One(org.clone()));
            one.model_info.id = Some(format!("{base}-{org}"));
            (Some(k), Cow::Owned(one))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn a_list_of_organizations_is_one_deployment_each() {
        // configs.md "Multiple OpenAI Organizations".
        let text = "model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: openai/*\n      api_key: os.environ/OPENAI_API_KEY\n      organization:\n       - org-1\n       - org-2\n       - org-3\n";
        let plan = compile_env(text, &[("OPENAI_API_KEY", "sk")]).unwrap();
        assert_eq!(plan.deployments.len(), 3);
        let (config, _) = parse_str(text, "config.yaml", &env_with(&[])).unwrap();
        let entry_id = litellm_deployment_id("*", &config.model_list[0].litellm_params);
        for (k, d) in plan.deployments.iter().enumerate() {
            let org = format!("org-{}", k + 1);
            assert_eq!(
                d.upstream.headers.get("OpenAI-Organization"),
                Some(&org),
                "{d:?}"
            );
            assert_eq!(d.upstream.deployment_id, format!("{entry_id}-{org}"));
            assert_eq!(d.entry_index, 0);
        }
        let names: BTreeSet<&str> = plan.deployments.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 3, "distinct cluster localities: {names:?}");
        assert_eq!(plan.routes.len(), 1, "one group");
    }

    #[test]
    fn deployment_id_is_litellms_hash() {
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: 10\n      temperature: 0.5\n      stream: true\n      api_key: os.environ/OPENAI_API_KEY\n";
        let plan = compile_text(text).unwrap();
        // model_name, then key + str(value) for each litellm_param in YAML order.
        let expected = Sha256::digest(
            "gpt-4o\
             modelopenai/gpt-4o\
             rpm10\
             temperature0.5\
             streamTrue\
             api_keyos.environ/OPENAI_API_KEY"
                .as_bytes(),
        );
        assert_eq!(plan.deployments[0].upstream.deployment_id, hex(&expected));

        let plan = compile_text(&text.replace(
            "    litellm_params:",
            "    model_info: {id: my-id}\n    litellm_params:",
        ))
        .unwrap();
        assert_eq!(plan.deployments[0].upstream.deployment_id, "my-id");
    }

    #[test]
    fn deployment_id_matches_python() {
        // Expected values computed with PyYAML + Python's str(), the way LiteLLM does:
        // s = model_name; for k, v in litellm_params.items(): s += str(k) + str(v)
        let text = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: 10\n      temperature: 0.5\n      stream: true\n      max_tokens: 300\n      input_cost_per_token: 0.000001\n      timeout: 300.0\n      stop: [\"a\", \"it's\"]\n      api_key: os.environ/OPENAI_API_KEY\n  - model_name: g2\n    litellm_params:\n      model: anthropic/claude-3-haiku-20240307\n      extra_headers: {X-A: \"1\"}\n      logit_bias: {\"50256\": -100}\n";
        let plan = compile_text(text).unwrap();
        let ids: Vec<&str> = plan
            .deployments
            .iter()
            .map(|d| d.upstream.deployment_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "1a46a306f29b2f84249035708bf79f0f47f6aef7b2b424b3224f34ffde0bee0c",
                "f048ec86b0cd9ef6303e389832e809c6153e192f05c9047c9698904536aea0ab",
            ]
        );
    }
}
