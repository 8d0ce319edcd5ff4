//! The reconcile decisions, without any server.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use switchyard::crd::{ModelGroupSpec, RouterSettingsSpec, VirtualKeySpec};

fn meta(name: &str, generation: i64) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("gw".into()),
        uid: Some(format!("uid-{name}")),
        generation: Some(generation),
        ..ObjectMeta::default()
    }
}

fn group(name: &str, spec: &str) -> ModelGroup {
    ModelGroup {
        metadata: meta(name, 1),
        spec: serde_yaml::from_str::<ModelGroupSpec>(spec).unwrap(),
        status: None,
    }
}

fn router(name: &str, spec: &str) -> RouterSettings {
    RouterSettings {
        metadata: meta(name, 1),
        spec: serde_yaml::from_str::<RouterSettingsSpec>(spec).unwrap(),
        status: None,
    }
}

fn key(name: &str, spec: &str) -> VirtualKey {
    VirtualKey {
        metadata: meta(name, 3),
        spec: serde_yaml::from_str::<VirtualKeySpec>(spec).unwrap(),
        status: None,
    }
}

const MOCK: &str =
    "model_name: mock\ndeployments:\n  - litellm_params: {model: openai/mock, mock_response: hi}\n";
const GPT: &str = "model_name: gpt-4o\ndeployments:\n  - litellm_params: {model: openai/gpt-4o, apiKeySecretRef: {name: openai, key: api-key}}\n";
const BAD: &str =
    "model_name: bad\ndeployments:\n  - litellm_params: {model: openai/x, api_key: sk-literal}\n";

fn status_of<'a>(outcome: &'a Outcome, name: &str) -> &'a ResourceStatus {
    &outcome
        .statuses
        .iter()
        .find(|s| s.object.name == name)
        .unwrap_or_else(|| panic!("no status for {name}"))
        .status
}

fn ready(status: &ResourceStatus) -> (&str, &str, &str) {
    let c = status.conditions.iter().find(|c| c.type_ == READY).unwrap();
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

#[test]
fn valid_groups_compile_and_an_invalid_one_is_set_aside_with_its_reason() {
    let snapshot = Snapshot {
        model_groups: vec![group("mock", MOCK), group("bad", BAD), group("gpt", GPT)],
        ..Snapshot::default()
    };
    let outcome = reconcile(&snapshot, "2026-12-07T20:00:00Z");
    let plan = outcome.plan.as_ref().unwrap();
    let names: Vec<&str> = plan.router.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["gpt-4o", "mock"],
        "the bad group is left out, the others served"
    );
    assert_eq!(
        ready(status_of(&outcome, "mock")),
        ("True", APPLIED, "applied")
    );
    let (status, reason, message) = ready(status_of(&outcome, "bad"));
    assert_eq!((status, reason), ("False", INVALID_SPEC));
    assert!(
        message.starts_with(
            "spec.deployments[0].litellm_params.api_key: a literal key is not allowed"
        ),
        "{message}"
    );
    let invalid = status_of(&outcome, "bad")
        .conditions
        .iter()
        .find(|c| c.type_ == INVALID)
        .unwrap();
    assert_eq!(invalid.status, "True");
    assert_eq!(invalid.observed_generation, Some(1));
    assert_eq!(
        invalid.last_transition_time.as_deref(),
        Some("2026-12-07T20:00:00Z")
    );
    // Events: a Warning for the bad one, Normal for the others.
    let warning = outcome
        .events
        .iter()
        .find(|e| e.object.name == "bad")
        .unwrap();
    assert_eq!((warning.type_, warning.reason), ("Warning", INVALID_SPEC));
    assert!(outcome
        .events
        .iter()
        .any(|e| e.object.name == "gpt" && e.type_ == "Normal" && e.reason == APPLIED));
    // Owner references: the valid resources only.
    let owners: Vec<&str> = outcome.owners.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(owners, ["gpt", "mock"]);
    assert_eq!(outcome.owners[0].uid, "uid-gpt");
    assert_eq!(outcome.owners[0].kind, "ModelGroup");
    // The Secret reference became a variable Envoy needs.
    assert_eq!(outcome.secrets.len(), 1);
    assert_eq!(outcome.secrets[0].env, "SWITCHYARD_SECRET_OPENAI_API_KEY");
}

#[test]
fn an_unchanged_status_is_not_written_again_and_keeps_its_transition_time() {
    let mut snapshot = Snapshot {
        model_groups: vec![group("mock", MOCK)],
        ..Snapshot::default()
    };
    let first = reconcile(&snapshot, "2026-12-07T20:00:00Z");
    assert_eq!(first.statuses.len(), 1);
    snapshot.model_groups[0].status = Some(first.statuses[0].status.clone());
    let second = reconcile(&snapshot, "2026-12-07T21:00:00Z");
    assert!(second.statuses.is_empty(), "{:?}", second.statuses);
    assert!(second.events.is_empty());
    // A change of spec that breaks it: a new status, the Ready time moves.
    snapshot.model_groups[0].spec = serde_yaml::from_str(BAD).unwrap();
    let third = reconcile(&snapshot, "2026-12-07T22:00:00Z");
    let c = &third.statuses[0].status.conditions[0];
    assert_eq!(
        (c.status.as_str(), c.last_transition_time.as_deref()),
        ("False", Some("2026-12-07T22:00:00Z"))
    );
}

#[test]
fn the_combined_compile_blames_the_router_settings_it_refuses() {
    let snapshot = Snapshot {
        model_groups: vec![group("mock", MOCK)],
        router_settings: vec![
            router("a", "routing_strategy: fastest\n"),
            router("b", "num_retries: 1\n"),
        ],
        ..Snapshot::default()
    };
    let outcome = reconcile(&snapshot, "t");
    assert!(outcome.plan.is_some());
    let (status, _, message) = ready(status_of(&outcome, "a"));
    assert_eq!(status, "False");
    assert!(message.starts_with("spec.routing_strategy"), "{message}");
    let (status, _, message) = ready(status_of(&outcome, "b"));
    assert_eq!(status, "False");
    assert!(
        message.contains("only one RouterSettings may apply; gw/a does"),
        "{message}"
    );
    assert_eq!(ready(status_of(&outcome, "mock")).0, "True");
}

#[test]
fn virtual_keys_take_their_value_from_the_secret_and_their_models_must_be_served() {
    let mut snapshot = Snapshot {
        model_groups: vec![group("mock", MOCK)],
        virtual_keys: vec![
            key("team-a", "keySecretRef: {name: keys, key: team-a}\nmodels: [mock]\nmax_budget: 5\nmetadata: {owner: a}\n"),
            key("no-secret", "keySecretRef: {name: keys, key: missing}\n"),
            key("wrong-model", "keySecretRef: {name: keys, key: team-a}\nmodels: [mock, gpt-9]\n"),
        ],
        ..Snapshot::default()
    };
    snapshot.secrets.insert(
        ("gw".into(), "keys".into(), "team-a".into()),
        "sk-team-a-0001".into(),
    );
    let outcome = reconcile(&snapshot, "t");
    assert_eq!(outcome.keys.len(), 1);
    assert_eq!(outcome.keys[0].key, "sk-team-a-0001");
    assert_eq!(
        outcome.keys[0].body,
        json!({"models": ["mock"], "max_budget": 5.0, "metadata": {"owner": "a"}, "aliases": {}, "blocked": false, "key": "sk-team-a-0001"})
    );
    let (status, reason, message) = ready(status_of(&outcome, "no-secret"));
    assert_eq!((status, reason), ("False", SECRET_NOT_FOUND));
    assert_eq!(
        message,
        "spec.keySecretRef: Secret gw/keys has no key \"missing\""
    );
    let (_, reason, message) = ready(status_of(&outcome, "wrong-model"));
    assert_eq!(reason, INVALID_SPEC);
    assert_eq!(
        message,
        "spec.models[1]: no valid ModelGroup serves \"gpt-9\""
    );
    assert_eq!(status_of(&outcome, "team-a").observed_generation, Some(3));
    // Keys are not owners of the gateway's config.
    assert!(outcome.owners.iter().all(|o| o.kind != VIRTUAL_KEY));
}
