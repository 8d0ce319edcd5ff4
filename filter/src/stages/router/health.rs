//! LiteLLM's `GET /health`, `GET /model/info` and `GET /model_group/info`.
//!
//! The info answers are built once, at configure time, from what `switchyard render`
//! precomputed (`ModelInfoConfig`, secrets already removed): the router stage sends
//! them, or keeps them for the responder stage, which narrows them to the models
//! the key may use (LiteLLM 1.102.4 `proxy_server.py`: `model_info_v1` filters with
//! `_get_v1_model_info_allowed_model_names`, `model_group_info` with
//! `get_available_models_for_user`).
//!
//! `/health` probes every deployment once, concurrently, with a minimal request
//! (LiteLLM's `proxy/health_check.py` `_run_model_health_check` →
//! `litellm.ahealth_check`: a chat call with the prompt `test from litellm` and
//! `max_tokens: 16`, an embedding of `["test from litellm"]` for `mode: embedding`).
//! Each probe is a callout (`Host::dispatch_http_call`) to the deployment's probe
//! cluster, whose upstream stage translates it like any request (it pins the
//! deployment named by [`HEALTH_PROBE_HEADER`]); the answer is sent once every probe
//! answered or timed out, in LiteLLM's shape (`_perform_health_check_and_save`):
//! `{"healthy_endpoints", "unhealthy_endpoints", "healthy_count", "unhealthy_count"}`.

use serde_json::{json, Value};

use crate::host::{CallAnswer, Host};
use crate::plugin_config::{HealthProbe, ModelInfoConfig};
pub use switchyard_contract::headers::{HEALTH_PROBE_HEADER, KEY_ADMIN_HEADER, KEY_ADMIN_MASTER};

/// Pseudo-header marking a deferred info answer, which the responder narrows to the
/// key's models: its value names the field of each `data` entry that holds the
/// model group (`model_name`, `model_group`). Never sent to a client.
pub const NARROW_MARKER: &str = "x-switchyard-narrow-by";

/// LiteLLM's `DEFAULT_HEALTH_CHECK_PROMPT` (`litellm/constants.py`).
pub const PROBE_PROMPT: &str = "test from litellm";
/// LiteLLM's `max_tokens` of a chat probe for a non-wildcard deployment
/// (`_resolve_health_check_max_tokens`).
pub const PROBE_MAX_TOKENS: u32 = 16;

/// The canned info bodies: `/model/info`, then `/model_group/info`.
pub fn info_bodies(info: &ModelInfoConfig) -> Result<(Vec<u8>, Vec<u8>), String> {
    let model_info = serde_json::to_vec(&json!({"data": info.deployments}))
        .map_err(|e| format!("could not build /model/info: {e}"))?;
    let group_info = serde_json::to_vec(&json!({"data": info.groups}))
        .map_err(|e| format!("could not build /model_group/info: {e}"))?;
    Ok((model_info, group_info))
}

/// The query parameter of each info endpoint that asks for one entry, and the JSON
/// pointer (in a `data` entry) it is compared with: LiteLLM's `model_info_v1`
/// `litellm_model_id`, `model_group_info` `model_group`.
fn entry_selector(field: &str) -> (&'static str, &'static str) {
    if field == "model_group" {
        ("model_group", "/model_group")
    } else {
        ("litellm_model_id", "/model_info/id")
    }
}

/// The value of query parameter `name` in `path` (`+` and `%XX` decoded).
fn query_value(path: &str, name: &str) -> Option<String> {
    let query = path.split_once('?')?.1.split('#').next()?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == name)
        .filter_map(|(_, v)| super::percent_decode(&v.replace('+', " ")))
        .rfind(|v| !v.is_empty())
}

/// Keeps only the `data` entries whose value at `pointer` is `value`.
fn select_entries(body: &[u8], pointer: &str, value: &str) -> Option<Vec<u8>> {
    let mut list = serde_json::from_slice::<Value>(body).ok()?;
    let data = list.get_mut("data").and_then(Value::as_array_mut)?;
    data.retain(|e| e.pointer(pointer).and_then(Value::as_str) == Some(value));
    serde_json::to_vec(&list).ok()
}

/// Sends (or, with keys, keeps for the responder stage) a canned info answer whose
/// entries name their model group in `field`; `?litellm_model_id=` (`/model/info`)
/// or `?model_group=` (`/model_group/info`) keeps one entry. An unknown
/// `litellm_model_id` is a 400, as in LiteLLM.
pub(super) fn info_answer(
    router: &super::Router,
    host: &mut dyn Host,
    path: &str,
    body: &[u8],
    field: &str,
) -> crate::host::Flow {
    let (param, pointer) = entry_selector(field);
    let selected = query_value(path, param).map(|value| {
        let body = select_entries(body, pointer, &value).unwrap_or_default();
        (value, body)
    });
    if let Some((value, selected)) = &selected {
        let empty = serde_json::from_slice::<Value>(selected)
            .ok()
            .and_then(|v| v.get("data").and_then(Value::as_array).map(Vec::is_empty))
            .unwrap_or(true);
        if empty && param == "litellm_model_id" {
            let err = crate::error::GatewayError::bad_request(format!(
                "Model id = {value} not found on litellm proxy"
            ))
            .with_param(param);
            return super::reply_error(router, host, &err, crate::endpoint::ClientApi::OpenAi);
        }
    }
    let body = selected.as_ref().map_or(body, |(_, b)| b.as_slice());
    let mut headers = vec![("content-type", "application/json")];
    if router.defers_answers() {
        headers.push((NARROW_MARKER, field));
    }
    super::answer_locally(router, host, 200, &headers, body)
}

/// Keeps only the `data` entries whose `field` names one of `allowed` (the key's
/// model groups, comma-separated).
pub fn narrow_data(body: &[u8], field: &str, allowed: &str) -> Vec<u8> {
    let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
    let Ok(mut list) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    if let Some(data) = list.get_mut("data").and_then(Value::as_array_mut) {
        data.retain(|m| {
            m.get(field)
                .and_then(Value::as_str)
                .is_some_and(|name| allowed.contains(&name))
        });
    }
    serde_json::to_vec(&list).unwrap_or_else(|_| body.to_vec())
}

/// The path and body of a probe: by `model_info.mode`, as LiteLLM's
/// `HealthCheckHelpers.get_mode_handlers`.
pub fn probe_request(probe: &HealthProbe) -> (&'static str, Vec<u8>) {
    let body = match probe.mode.as_str() {
        "embedding" => {
            return (
                "/v1/embeddings",
                json!({"model": probe.model, "input": [PROBE_PROMPT]})
                    .to_string()
                    .into_bytes(),
            )
        }
        "completion" => return (
            "/v1/completions",
            json!({"model": probe.model, "prompt": PROBE_PROMPT, "max_tokens": PROBE_MAX_TOKENS})
                .to_string()
                .into_bytes(),
        ),
        _ => json!({
            "model": probe.model,
            "messages": [{"role": "user", "content": PROBE_PROMPT}],
            "max_tokens": PROBE_MAX_TOKENS,
        }),
    };
    ("/v1/chat/completions", body.to_string().into_bytes())
}

/// `GET /health?model=…` or `?model_id=…`: the deployments one call checks
/// (LiteLLM's `_narrow_to_target` in `proxy/health_check.py`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `model`: a model group, else a deployment's `litellm_params.model`.
    pub model: Option<String>,
    /// `model_id`: one deployment (an id matching none keeps them all, as LiteLLM).
    pub model_id: Option<String>,
}

impl Target {
    /// The target a `:path`'s query names (`+` and `%XX` decoded; the last of a
    /// repeated parameter wins; values over 512 bytes are ignored).
    pub fn from_path(path: &str) -> Target {
        let mut target = Target::default();
        let Some((_, query)) = path.split_once('?') else {
            return target;
        };
        let query = query.split('#').next().unwrap_or_default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(value) = super::percent_decode(&value.replace('+', " ")) else {
                continue;
            };
            if value.is_empty() || value.len() > 512 {
                continue;
            }
            match name {
                "model" => target.model = Some(value),
                "model_id" => target.model_id = Some(value),
                _ => {}
            }
        }
        target
    }

    /// Whether the call asked about one model or deployment (then a call with no
    /// healthy endpoint answers 503, LiteLLM's `_post_process`).
    pub fn is_targeted(&self) -> bool {
        self.model.is_some() || self.model_id.is_some()
    }

    /// The probes this call checks, by index.
    pub fn select(&self, probes: &[HealthProbe]) -> Vec<usize> {
        let all = || (0..probes.len()).collect::<Vec<usize>>();
        if let Some(id) = &self.model_id {
            let by_id: Vec<usize> = (0..probes.len())
                .filter(|&i| probes.get(i).is_some_and(|p| &p.deployment_id == id))
                .collect();
            return if by_id.is_empty() { all() } else { by_id };
        }
        let Some(model) = &self.model else {
            return all();
        };
        let by_group: Vec<usize> = (0..probes.len())
            .filter(|&i| probes.get(i).is_some_and(|p| &p.model == model))
            .collect();
        if !by_group.is_empty() {
            return by_group;
        }
        (0..probes.len())
            .filter(|&i| {
                probes.get(i).is_some_and(|p| {
                    p.endpoint.get("model").and_then(Value::as_str) == Some(model.as_str())
                })
            })
            .collect()
    }
}

/// What one probe found: `Ok` healthy, `Err` the error shown.
pub type Outcome = Result<(), String>;

/// The outcome of a probe's answer: a 2xx is healthy; otherwise the error's
/// message (OpenAI's `error.message`, which the upstream stage writes for every
/// provider), or what happened when there is none.
pub fn outcome(answer: &CallAnswer, probe: &HealthProbe) -> Outcome {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    if answer.status == 0 {
        return Err(format!(
            "no answer within {} s (health_check_timeout), or the connection failed",
            probe.timeout_ms as f64 / 1000.0
        ));
    }
    let message = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&answer.body);
            text.chars().take(500).collect()
        });
    Err(format!("{}: {message}", answer.status))
}

/// One `/health` call in flight: the probes sent, and what each found.
#[derive(Debug, Default)]
pub struct HealthRun {
    /// Callout token → index into `checked`, for the probes not answered yet.
    pending: Vec<(u32, usize)>,
    /// The probes checked (their index), in probe order, with what each found.
    checked: Vec<(usize, Option<Outcome>)>,
    /// The call named a model or deployment.
    targeted: bool,
}

impl HealthRun {
    /// Sends every probe. A deployment answered by the gateway itself (no
    /// cluster) is healthy at once; a callout Envoy refuses is unhealthy at once.
    pub fn start(info: &ModelInfoConfig, target: &Target, host: &mut dyn Host) -> HealthRun {
        let selected = target.select(&info.probes);
        let mut run = HealthRun {
            pending: Vec::new(),
            checked: Vec::with_capacity(selected.len()),
            targeted: target.is_targeted(),
        };
        for index in selected {
            let Some(probe) = info.probes.get(index) else {
                continue;
            };
            let Some(cluster) = &probe.cluster else {
                run.checked.push((index, Some(Ok(()))));
                continue;
            };
            let (path, body) = probe_request(probe);
            let headers = [
                (":method", "POST"),
                (":path", path),
                (":authority", "switchyard-health"),
                ("content-type", "application/json"),
                (HEALTH_PROBE_HEADER, probe.deployment_id.as_str()),
            ];
            match host.dispatch_http_call(cluster, &headers, &body, probe.timeout_ms) {
                Ok(token) => {
                    run.pending.push((token, run.checked.len()));
                    run.checked.push((index, None));
                }
                Err(reason) => run.checked.push((
                    index,
                    Some(Err(format!("the probe could not be sent: {reason}"))),
                )),
            }
        }
        run
    }

    /// Every probe answered (or was never sent).
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// A callout's answer; `false` when the token is not one of this run's.
    pub fn on_answer(&mut self, probes: &[HealthProbe], token: u32, answer: &CallAnswer) -> bool {
        let Some(at) = self.pending.iter().position(|(t, _)| *t == token) else {
            return false;
        };
        let (_, at) = self.pending.swap_remove(at);
        if let Some((index, slot)) = self.checked.get_mut(at) {
            if let Some(probe) = probes.get(*index) {
                *slot = Some(outcome(answer, probe));
            }
        }
        true
    }

    /// The answer's status: 503 when the call named a model and none of its
    /// deployments is healthy, else 200.
    pub fn status(&self) -> u16 {
        let healthy = self
            .checked
            .iter()
            .any(|(_, found)| matches!(found, Some(Ok(()))));
        if self.targeted && !healthy {
            503
        } else {
            200
        }
    }

    /// LiteLLM's `/health` body: each endpoint as `render` displays it, plus
    /// `error` when unhealthy.
    pub fn body(&self, probes: &[HealthProbe]) -> Vec<u8> {
        let mut healthy = Vec::new();
        let mut unhealthy = Vec::new();
        for (index, found) in &self.checked {
            let Some(probe) = probes.get(*index) else {
                continue;
            };
            let mut endpoint = probe.endpoint.clone();
            match found {
                Some(Ok(())) => healthy.push(endpoint),
                Some(Err(error)) => {
                    if let Some(map) = endpoint.as_object_mut() {
                        map.insert("error".into(), Value::String(error.clone()));
                    }
                    unhealthy.push(endpoint);
                }
                None => {
                    if let Some(map) = endpoint.as_object_mut() {
                        map.insert("error".into(), Value::String("no answer".into()));
                    }
                    unhealthy.push(endpoint);
                }
            }
        }
        let body = json!({
            "healthy_endpoints": healthy,
            "unhealthy_endpoints": unhealthy,
            "healthy_count": healthy.len(),
            "unhealthy_count": unhealthy.len(),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Starts `/health` for this request; answers at once when nothing is pending
/// (no deployment needs a call). The request stays paused until
/// [`health_answer`] sends the last answer.
pub fn start_health(info: &ModelInfoConfig, path: &str, host: &mut dyn Host) -> Option<HealthRun> {
    let run = HealthRun::start(info, &Target::from_path(path), host);
    if run.is_done() {
        send_health(&run, info, host);
        return None;
    }
    Some(run)
}

/// A callout answered: records it, and sends the `/health` answer once every
/// probe answered. Returns the run while probes are still pending.
pub fn health_answer(
    mut run: HealthRun,
    info: &ModelInfoConfig,
    host: &mut dyn Host,
    token: u32,
    answer: &CallAnswer,
) -> Option<HealthRun> {
    run.on_answer(&info.probes, token, answer);
    if run.is_done() {
        send_health(&run, info, host);
        return None;
    }
    Some(run)
}

fn send_health(run: &HealthRun, info: &ModelInfoConfig, host: &mut dyn Host) {
    host.send_local_reply(
        run.status(),
        &[("content-type", "application/json")],
        &run.body(&info.probes),
    );
}

/// The 403 a key other than the master key gets on `/health` (the rule:
/// proxy admins only; LiteLLM 1.102.4 lets any key probe its own models).
pub fn admin_only_error() -> crate::error::GatewayError {
    crate::error::GatewayError::new(
        403,
        "Only the proxy admin (the master key) may call /health: it calls every deployment",
    )
    .with_type("auth_error")
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
