//! The watch loop: kube-rs watchers (with reflector stores) on ModelGroup,
//! RouterSettings and VirtualKey; on any change, a full [`reconcile`] of what the
//! stores hold, then its output applied: the plan to the [`ConfigSink`], statuses
//! through the `/status` subresource (merge patch), events (events.k8s.io), keys to
//! the keyservice. The decisions are all in `reconcile`; this module only moves data.

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use switchyard::crd::convert::Base;
use switchyard::crd::{ModelGroup, RouterSettings, VirtualKey, MODEL_GROUP, ROUTER_SETTINGS};

use crate::keys::{apply_keys, Applied, KeyApi};
use crate::reconcile::{reconcile, ObjectRef, Outcome, Snapshot};
use crate::sink::ConfigSink;

/// The name the operator writes statuses and events as.
pub const MANAGER: &str = "switchyard-operator";
/// How long the loop waits for more changes before reconciling (a `kubectl apply`
/// of a directory is many events).
const SETTLE: Duration = Duration::from_millis(200);
/// How often everything is reconciled without a change.
const RESYNC: Duration = Duration::from_secs(60);

/// What the loop needs besides the API client.
pub struct Settings {
    /// Watch this namespace only; `None`: every namespace.
    pub namespace: Option<String>,
    /// Where the config goes.
    pub sink: Box<dyn ConfigSink + Send>,
    /// The keyservice, for VirtualKeys; `None`: VirtualKeys are reported, not applied.
    pub keys: Option<KeyApi>,
    /// The config.yaml the resources are added to (`--config`).
    pub base: Option<Base>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A watcher feeding a store; yields `()` for each change (and each list).
fn watch<K>(
    api: Api<K>,
) -> (
    reflector::Store<K>,
    impl futures::Stream<Item = Result<(), watcher::Error>>,
)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let changes = reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        // Every watcher event, a re-list's too: an object deleted while the watch
        // was down only shows as its absence from the new list (no event of its own).
        .map(|item| item.map(|_| ()));
    (store, changes)
}

/// Runs until the watch streams end (they do not, short of an error the backoff
/// gives up on).
pub async fn run(client: Client, mut settings: Settings) -> Result<(), String> {
    let ns = settings.namespace.clone();
    let (groups, g) = watch::<ModelGroup>(api(&client, ns.as_deref()));
    let (routers, r) = watch::<RouterSettings>(api(&client, ns.as_deref()));
    let (keys, k) = watch::<VirtualKey>(api(&client, ns.as_deref()));
    let mut changes = stream::select(stream::select(g.boxed(), r.boxed()), k.boxed());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance: None,
        },
    );
    let mut applied = Applied::default();
    // The first reconcile waits for every kind's initial list: a partial view would
    // render a config missing groups (which Envoy may start on).
    let ready = async {
        let _ = groups.wait_until_ready().await;
        let _ = routers.wait_until_ready().await;
        let _ = keys.wait_until_ready().await;
    };
    tokio::pin!(ready);
    loop {
        tokio::select! {
            () = &mut ready => break,
            change = changes.next() => match change {
                None => return Ok(()),
                Some(Err(e)) => eprintln!("watch: {e}"),
                Some(Ok(())) => {}
            },
        }
    }
    let mut first = true;
    loop {
        // A change, or the periodic resync (Secrets are not watched: a new key value
        // in a Secret is picked up here).
        if !first {
            match tokio::time::timeout(RESYNC, changes.next()).await {
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    eprintln!("watch: {e}");
                    continue;
                }
                Ok(Some(Ok(()))) | Err(_) => {}
            }
        }
        first = false;
        // Let a burst of changes settle, then reconcile once.
        while let Ok(Some(more)) = tokio::time::timeout(SETTLE, changes.next()).await {
            if let Err(e) = more {
                eprintln!("watch: {e}");
            }
        }
        let mut snapshot = Snapshot {
            model_groups: groups.state().iter().map(|g| (**g).clone()).collect(),
            router_settings: routers.state().iter().map(|r| (**r).clone()).collect(),
            virtual_keys: keys.state().iter().map(|k| (**k).clone()).collect(),
            secrets: BTreeMap::new(),
            base: settings.base.clone(),
            env: std::env::vars().collect(),
        };
        read_secrets(&client, &mut snapshot).await;
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let outcome = reconcile(&snapshot, &now);
        apply(&client, &recorder, &mut settings, &mut applied, outcome).await;
    }
    Ok(())
}

/// Reads the Secret keys the VirtualKeys reference (a missing one stays missing; the
/// reconcile reports it).
async fn read_secrets(client: &Client, snapshot: &mut Snapshot) {
    for vk in &snapshot.virtual_keys {
        let namespace = vk.metadata.namespace.clone().unwrap_or_default();
        let reference = &vk.spec.key_secret_ref;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        if let Ok(Some(secret)) = secrets.get_opt(&reference.name).await {
            let value = secret
                .data
                .as_ref()
                .and_then(|d| d.get(&reference.key))
                .and_then(|b| String::from_utf8(b.0.clone()).ok());
            if let Some(value) = value {
                snapshot.secrets.insert(
                    (
                        namespace.clone(),
                        reference.name.clone(),
                        reference.key.clone(),
                    ),
                    value,
                );
            }
        }
    }
}

async fn apply(
    client: &Client,
    recorder: &Recorder,
    settings: &mut Settings,
    applied: &mut Applied,
    outcome: Outcome,
) {
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(plan) = &outcome.plan {
        match settings.sink.apply(plan, &outcome.secrets, &outcome.owners) {
            Ok(place) => eprintln!("config applied: {place}"),
            Err(e) => eprintln!("error: the config sink refused the config: {e}"),
        }
    }
    if let Some(api) = settings.keys.clone() {
        let desired = outcome.keys.clone();
        let mut state = std::mem::take(applied);
        let joined = tokio::task::spawn_blocking(move || {
            let failures = apply_keys(&api, &desired, &mut state);
            (failures, state)
        })
        .await;
        match joined {
            Ok((failures, state)) => {
                *applied = state;
                for (id, e) in failures {
                    eprintln!("error: VirtualKey {id}: {e}");
                }
            }
            Err(e) => eprintln!("error: applying keys: {e}"),
        }
    }
    for update in &outcome.statuses {
        let patch = Patch::Merge(json!({"status": update.status}));
        let params = PatchParams::apply(MANAGER);
        let o = &update.object;
        let result = match o.kind {
            MODEL_GROUP => Api::<ModelGroup>::namespaced(client.clone(), &o.namespace)
                .patch_status(&o.name, &params, &patch)
                .await
                .map(|_| ()),
            ROUTER_SETTINGS => Api::<RouterSettings>::namespaced(client.clone(), &o.namespace)
                .patch_status(&o.name, &params, &patch)
                .await
                .map(|_| ()),
            _ => Api::<VirtualKey>::namespaced(client.clone(), &o.namespace)
                .patch_status(&o.name, &params, &patch)
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            eprintln!(
                "error: status of {} {}/{}: {e}",
                o.kind, o.namespace, o.name
            );
        }
    }
    for event in &outcome.events {
        let reference = object_reference(&event.object);
        let published = recorder
            .publish(
                &Event {
                    type_: if event.type_ == "Warning" {
                        EventType::Warning
                    } else {
                        EventType::Normal
                    },
                    reason: event.reason.into(),
                    note: Some(event.message.clone()),
                    action: "Reconcile".into(),
                    secondary: None,
                },
                &reference,
            )
            .await;
        if let Err(e) = published {
            eprintln!(
                "error: event for {}/{}: {e}",
                event.object.namespace, event.object.name
            );
        }
    }
}

fn object_reference(object: &ObjectRef) -> ObjectReference {
    ObjectReference {
        api_version: Some(switchyard::crd::API_VERSION.into()),
        kind: Some(object.kind.into()),
        name: Some(object.name.clone()),
        namespace: Some(object.namespace.clone()),
        uid: object.uid.clone(),
        ..ObjectReference::default()
    }
}
