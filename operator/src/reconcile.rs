//! The operator's decisions, as a pure function: the resources (and the Secret values
//! the VirtualKeys reference) in; the gateway's plan, each resource's status
//! conditions, the events to post, the owner references of the generated config and
//! the keys to apply out. No Kubernetes API, clock or network here: the watch loop
//! (`controller`) gathers the input and applies the output, and the tests drive this
//! without a server.
//!
//! A ModelGroup is checked on its own first (its spec, its secret references, the
//! config compiler's rules for its deployments); the valid ones are then compiled
//! together with the RouterSettings, and a resource the combined compile names (a
//! fallback to a group nobody serves, a deployment id used twice) is set aside as
//! Invalid and the rest compiled again, so one bad resource never takes the gateway's
//! other models down.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use switchyard::crd::convert::{self, Base, Origin, Resources, SecretVariable, Sourced};
use switchyard::crd::{
    Condition, ModelGroup, ResourceStatus, RouterSettings, VirtualKey, API_VERSION, MODEL_GROUP,
    ROUTER_SETTINGS, VIRTUAL_KEY,
};
use switchyard::plan::{self, Plan};

/// The `Ready` condition type.
pub const READY: &str = "Ready";
/// The `Invalid` condition type.
pub const INVALID: &str = "Invalid";
/// Reason of a resource that was applied.
pub const APPLIED: &str = "Applied";
/// Reason of a resource whose spec the compiler refused.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// Reason of a VirtualKey whose Secret (or key in it) is missing.
pub const SECRET_NOT_FOUND: &str = "SecretNotFound";

/// Everything the operator decides from: the resources and the Secret values the
/// VirtualKeys name, keyed by (namespace, Secret name, key).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The ModelGroups.
    pub model_groups: Vec<ModelGroup>,
    /// The RouterSettings (one applies: the first by namespace and name).
    pub router_settings: Vec<RouterSettings>,
    /// The VirtualKeys.
    pub virtual_keys: Vec<VirtualKey>,
    /// Secret values: (namespace, name, key) → value.
    pub secrets: BTreeMap<(String, String, String), String>,
    /// The config.yaml the resources are added to (`--config`): general settings
    /// (master key, database), its own models.
    pub base: Option<Base>,
    /// The operator's environment, for `os.environ/NAME` in the base config
    /// (`general_settings.master_key: os.environ/LITELLM_MASTER_KEY`).
    pub env: BTreeMap<String, String>,
}

/// Which resource: kind, namespace, name (and uid, for events and owner references).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `ModelGroup`, `RouterSettings` or `VirtualKey`.
    pub kind: &'static str,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid, when the API server gave one.
    pub uid: Option<String>,
}

impl ObjectRef {
    fn new(kind: &'static str, meta: &ObjectMeta) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            file: String::new(),
            kind: self.kind,
            name: format!("{}/{}", self.namespace, self.name),
        }
    }
}

/// A status to write through the `/status` subresource.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The resource.
    pub object: ObjectRef,
    /// Its new status.
    pub status: ResourceStatus,
}

/// An event to post about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOut {
    /// The resource it is about.
    pub object: ObjectRef,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// `Applied`, `InvalidSpec`, `SecretNotFound`.
    pub reason: &'static str,
    /// What happened.
    pub message: String,
}

/// A key the keyservice must hold: `/key/generate` (or `/key/update`) with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredKey {
    /// The VirtualKey it comes from.
    pub object: ObjectRef,
    /// The key's value (from the Secret).
    pub key: String,
    /// The body for `/key/generate` and `/key/update` (`key` included).
    pub body: Value,
}

/// What the operator does after a reconcile.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The gateway's plan from every valid ModelGroup and the RouterSettings.
    pub plan: Option<Plan>,
    /// The variables Envoy needs, with the Secret each comes from.
    pub secrets: Vec<SecretVariable>,
    /// Owner references for the generated config: every resource it was made from.
    pub owners: Vec<OwnerReference>,
    /// Statuses that changed.
    pub statuses: Vec<StatusUpdate>,
    /// Events for conditions that changed.
    pub events: Vec<EventOut>,
    /// Every key the keyservice must hold.
    pub keys: Vec<DesiredKey>,
    /// Compiler warnings, mapped to the resources.
    pub warnings: Vec<String>,
}

/// Decides everything from `snapshot`; `now` (RFC 3339) stamps changed conditions.
pub fn reconcile(snapshot: &Snapshot, now: &str) -> Outcome {
    let env = |name: &str| snapshot.env.get(name).cloned();
    let mut invalid: BTreeMap<ObjectRef, (&'static str, String)> = BTreeMap::new();

    let mut groups: Vec<(ObjectRef, &ModelGroup)> = snapshot
        .model_groups
        .iter()
        .map(|g| (ObjectRef::new(MODEL_GROUP, &g.metadata), g))
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut routers: Vec<(ObjectRef, &RouterSettings)> = snapshot
        .router_settings
        .iter()
        .map(|r| (ObjectRef::new(ROUTER_SETTINGS, &r.metadata), r))
        .collect();
    routers.sort_by(|a, b| a.0.cmp(&b.0));

    // Each ModelGroup on its own.
    for (object, group) in &groups {
        let resources = Resources {
            model_groups: vec![Sourced {
                origin: object.origin(),
                resource: (*group).clone(),
            }],
            ..Resources::default()
        };
        let checked =
            convert::to_config(&resources, snapshot.base.as_ref(), &env).and_then(|loaded| {
                plan::compile(&loaded.config, &env)
                    .map(|_| ())
                    .map_err(|e| loaded.origins.error(&e))
            });
        if let Err(e) = checked {
            invalid.insert(object.clone(), (INVALID_SPEC, message_of(&e)));
        }
    }
    // One RouterSettings applies.
    if let Some(((first, _), rest)) = routers.split_first() {
        for (object, _) in rest {
            invalid.insert(
                object.clone(),
                (
                    INVALID_SPEC,
                    format!(
                        "only one RouterSettings may apply; {}/{} does",
                        first.namespace, first.name
                    ),
                ),
            );
        }
    }

    // Together; set aside what the combined compile names, and compile again.
    let mut outcome_plan = None;
    let mut secrets = Vec::new();
    let mut warnings = Vec::new();
    for _ in 0..=groups.len() + routers.len() {
        let resources = Resources {
            model_groups: valid(&groups, &invalid),
            router_settings: valid(&routers, &invalid),
            virtual_keys: Vec::new(),
        };
        let compiled =
            convert::to_config(&resources, snapshot.base.as_ref(), &env).and_then(|loaded| {
                plan::compile(&loaded.config, &env)
                    .map(|plan| (loaded.clone(), plan))
                    .map_err(|e| loaded.origins.error(&e))
            });
        match compiled {
            Ok((loaded, plan)) => {
                warnings = loaded.warnings.clone();
                warnings.extend(plan.warnings.iter().map(|w| loaded.origins.warning_line(w)));
                secrets = loaded.secrets;
                outcome_plan = Some(plan);
                break;
            }
            Err(e) => {
                let blamed = e.origin.as_ref().and_then(|origin| {
                    groups
                        .iter()
                        .map(|(o, _)| o)
                        .chain(routers.iter().map(|(o, _)| o))
                        .find(|o| o.kind == origin.kind && o.origin().name == origin.name)
                        .cloned()
                });
                match blamed {
                    Some(object) if !invalid.contains_key(&object) => {
                        invalid.insert(object, (INVALID_SPEC, message_of(&e)));
                    }
                    // Nobody to blame: nothing is applied; every resource says why.
                    _ => {
                        for (object, _) in &groups {
                            invalid
                                .entry(object.clone())
                                .or_insert((INVALID_SPEC, e.to_string()));
                        }
                        break;
                    }
                }
            }
        }
    }

    // VirtualKeys: the value from its Secret, the rest as /key/generate takes it.
    let served: BTreeSet<&str> = groups
        .iter()
        .filter(|(o, _)| !invalid.contains_key(o))
        .map(|(_, g)| g.spec.model_name.as_str())
        .collect();
    let mut keys = Vec::new();
    let mut virtual_keys: Vec<(ObjectRef, &VirtualKey)> = snapshot
        .virtual_keys
        .iter()
        .map(|k| (ObjectRef::new(VIRTUAL_KEY, &k.metadata), k))
        .collect();
    virtual_keys.sort_by(|a, b| a.0.cmp(&b.0));
    for (object, vk) in &virtual_keys {
        let reference = &vk.spec.key_secret_ref;
        let secret = snapshot.secrets.get(&(
            object.namespace.clone(),
            reference.name.clone(),
            reference.key.clone(),
        ));
        let Some(value) = secret.filter(|v| !v.is_empty()) else {
            invalid.insert(
                object.clone(),
                (
                    SECRET_NOT_FOUND,
                    format!(
                        "spec.keySecretRef: Secret {}/{} has no key {:?}",
                        object.namespace, reference.name, reference.key
                    ),
                ),
            );
            continue;
        };
        if let Some((i, model)) = vk
            .spec
            .models
            .iter()
            .enumerate()
            .find(|(_, m)| !served.contains(m.as_str()) && !m.contains('*'))
        {
            invalid.insert(
                object.clone(),
                (
                    INVALID_SPEC,
                    format!("spec.models[{i}]: no valid ModelGroup serves {model:?}"),
                ),
            );
            continue;
        }
        keys.push(DesiredKey {
            object: object.clone(),
            key: value.clone(),
            body: key_body(vk, value),
        });
    }

    // Conditions, events and owner references.
    let mut statuses = Vec::new();
    let mut events = Vec::new();
    let mut owners = Vec::new();
    let all = groups
        .iter()
        .map(|(o, g)| (o, &g.metadata, g.status.as_ref()))
        .chain(
            routers
                .iter()
                .map(|(o, r)| (o, &r.metadata, r.status.as_ref())),
        )
        .chain(
            virtual_keys
                .iter()
                .map(|(o, k)| (o, &k.metadata, k.status.as_ref())),
        );
    for (object, meta, current) in all {
        let problem = invalid.get(object);
        let desired = conditions(problem, meta.generation, current, now);
        let changed = current.map(|s| strip_times(&s.conditions)) != Some(strip_times(&desired));
        if changed {
            statuses.push(StatusUpdate {
                object: object.clone(),
                status: ResourceStatus {
                    observed_generation: meta.generation,
                    conditions: desired,
                },
            });
            events.push(match problem {
                Some((reason, message)) => EventOut {
                    object: object.clone(),
                    type_: "Warning",
                    reason,
                    message: message.clone(),
                },
                None => EventOut {
                    object: object.clone(),
                    type_: "Normal",
                    reason: APPLIED,
                    message: applied_message(object.kind),
                },
            });
        }
        if problem.is_none() && object.kind != VIRTUAL_KEY {
            if let Some(uid) = &object.uid {
                owners.push(OwnerReference {
                    api_version: API_VERSION.to_string(),
                    kind: object.kind.to_string(),
                    name: object.name.clone(),
                    uid: uid.clone(),
                    controller: Some(false),
                    block_owner_deletion: Some(false),
                });
            }
        }
    }
    Outcome {
        plan: outcome_plan,
        secrets,
        owners,
        statuses,
        events,
        keys,
        warnings,
    }
}

fn applied_message(kind: &str) -> String {
    if kind == VIRTUAL_KEY {
        "the key is applied to the keyservice".into()
    } else {
        "compiled into the gateway's configuration".into()
    }
}

/// The message of an error without the resource it is about (the event and the
/// condition are on that resource already): `field: message`.
fn message_of(e: &convert::CrdError) -> String {
    if e.field.is_empty() {
        e.message.clone()
    } else {
        format!("{}: {}", e.field, e.message)
    }
}

/// The resources not set aside, as the converter takes them.
fn valid<T: Clone>(
    resources: &[(ObjectRef, &T)],
    invalid: &BTreeMap<ObjectRef, (&'static str, String)>,
) -> Vec<Sourced<T>> {
    resources
        .iter()
        .filter(|(o, _)| !invalid.contains_key(o))
        .map(|(o, r)| Sourced {
            origin: o.origin(),
            resource: (*r).clone(),
        })
        .collect()
}

/// `Ready` and `Invalid` for a resource; a condition whose status did not change keeps
/// its transition time.
fn conditions(
    problem: Option<&(&'static str, String)>,
    generation: Option<i64>,
    current: Option<&ResourceStatus>,
    now: &str,
) -> Vec<Condition> {
    let (ready, invalid, reason, message) = match problem {
        Some((reason, message)) => ("False", "True", *reason, message.clone()),
        None => ("True", "False", APPLIED, "applied".to_string()),
    };
    let stamp = |type_: &str, status: &str| {
        current
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.to_string())
    };
    vec![
        Condition {
            type_: READY.into(),
            status: ready.into(),
            reason: reason.into(),
            message: message.clone(),
            observed_generation: generation,
            last_transition_time: Some(stamp(READY, ready)),
        },
        Condition {
            type_: INVALID.into(),
            status: invalid.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: Some(stamp(INVALID, invalid)),
        },
    ]
}

fn strip_times(conditions: &[Condition]) -> Vec<Condition> {
    conditions
        .iter()
        .map(|c| Condition {
            last_transition_time: None,
            ..c.clone()
        })
        .collect()
}

/// The `/key/generate` body of a VirtualKey: its spec's LiteLLM fields and `key`.
fn key_body(vk: &VirtualKey, value: &str) -> Value {
    let mut body = match serde_json::to_value(&vk.spec) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.shift_remove("keySecretRef");
    // `/key/update` leaves absent fields as they are (LiteLLM's semantics): the ones
    // that have an "unset" value are sent always, so removing them from the spec
    // takes effect. (A removed budget or limit has none; see the docs.)
    for (field, unset) in [
        ("models", json!([])),
        ("aliases", json!({})),
        ("metadata", json!({})),
        ("blocked", json!(false)),
    ] {
        body.entry(field).or_insert(unset);
    }
    body.insert("key".into(), json!(value));
    Value::Object(body)
}

#[cfg(test)]
mod tests;
