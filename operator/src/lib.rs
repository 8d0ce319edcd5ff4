//! Switchyard's Kubernetes operator: it watches ModelGroup, RouterSettings and
//! VirtualKey resources (`switchyard::crd`) and feeds them to the gateway as a config
//! source beside config.yaml and the database.
//!
//! - `reconcile`: the decisions, a pure function (resources in; plan, statuses,
//!   events, owner references, keys out), tested without a server;
//! - `sink`: where the plan goes (a trait; today a directory rendered atomically,
//!   until the xDS control plane exists);
//! - `keys`: VirtualKeys applied through the keyservice's LiteLLM key API;
//! - `controller`: the kube-rs watch loop that gathers the input and applies the output.

pub mod controller;
pub mod keys;
pub mod reconcile;
pub mod sink;
