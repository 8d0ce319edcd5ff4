//! The router stage's part of LiteLLM's per-request controls.
//!
//! LiteLLM lets a request steer the gateway with body fields that never reach a
//! provider (`crate::litellm_fields` removes them upstream). The router stage reads
//! the ones with a meaning, from the one parse it makes of the body:
//!
//! - **`fallbacks`** ([`request_chain`]): the groups to try, in order, once the
//!   group asked for has failed. As in LiteLLM's router
//!   (`async_function_with_fallbacks`, litellm/router.py), the request's list
//!   replaces the config's `fallbacks` and applies to every provider error but a
//!   plain 400; a list of groups (`["b", "c"]`) also covers context-window and
//!   content-policy errors, LiteLLM's mapping form (`[{"a": ["b"]}]`, the entry of
//!   the group asked for, else `*`) leaves those to the config's own chains. Unlike
//!   LiteLLM, which skips a group it cannot find or the key may not use, the whole
//!   chain is checked before anything is sent: a group no config entry serves is a
//!   400 here, and one the key may not use is refused by the keyservice
//!   ([`super::FALLBACK_GROUPS_HEADER`]). The upstream stage moves along the chain with an
//!   internal redirect (kind `request`, see [`super::FALLBACK_PATH_PREFIX`]); the
//!   replayed body names the chain again, so nothing about it is taken from the path.
//! - **`mock_response`** (with `mock_tool_calls`): with keys on, the answer is
//!   prepared here ([`RouterExchange::client_mock`]) and sent by the responder stage
//!   only when the keyservice says the key or its team allows client mocks
//!   (`allow_client_mock_response` in their metadata, LiteLLM's
//!   `_key_or_team_allows_client_mock_response`); otherwise, and always without
//!   keys (LiteLLM then has no key metadata), the provider is called without it.
//! - **`metadata`**, **`litellm_metadata`** must be objects (or JSON text of one), as
//!   LiteLLM's proxy requires (`_normalized_metadata_object`, 400 otherwise).
//! - LiteLLM's **mock-testing fields** are refused with LiteLLM's 400
//!   ([`crate::litellm_fields::REFUSED_MOCK_TESTING_FIELDS`]).

use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{encode_reply, RequestHead, Router, RouterExchange, MAX_REQUEST_FALLBACKS};
use crate::endpoint::{ClientApi, Endpoint};
use crate::error::GatewayError;
use crate::host::Host;
use crate::mock;

/// For `deserialize_with`: the field is present (whatever its value, null too).
pub(super) fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

/// LiteLLM's 400 for its mock-testing fields (litellm/proxy/route_llm_request.py
/// `MockTestingParamsDisabledError`).
pub(super) fn refuse_mock_testing(head: &RequestHead<'_>) -> Result<(), GatewayError> {
    let present: Vec<&str> = [
        (head.mock_testing_fallbacks, "mock_testing_fallbacks"),
        (
            head.mock_testing_context_fallbacks,
            "mock_testing_context_fallbacks",
        ),
        (
            head.mock_testing_content_policy_fallbacks,
            "mock_testing_content_policy_fallbacks",
        ),
        (
            head.mock_testing_rate_limit_error,
            "mock_testing_rate_limit_error",
        ),
        (head.mock_timeout, "mock_timeout"),
        (head.mock_delay, "mock_delay"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    match present.first() {
        None => Ok(()),
        Some(first) => Err(GatewayError::invalid_param(
            first,
            format!(
                "Mock testing request params are disabled on this proxy: {}. Switchyard has no setting to enable them (LiteLLM's general_settings.dangerously_allow_mock_testing_request_params).",
                present.join(", ")
            ),
        )),
    }
}

/// The JSON type name LiteLLM's error uses (`_METADATA_JSON_TYPE_NAMES`).
fn json_type_name(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(_) if raw.contains(['.', 'e', 'E']) => "a number",
        _ => "an integer",
    }
}

/// `metadata` and `litellm_metadata` are objects, or JSON text of one (LiteLLM's
/// `_normalized_metadata_object`); null counts as absent.
pub(super) fn check_metadata(head: &RequestHead<'_>) -> Result<(), GatewayError> {
    for (field, raw) in [
        ("metadata", head.metadata),
        ("litellm_metadata", head.litellm_metadata),
    ] {
        let Some(raw) = raw.map(RawValue::get) else {
            continue;
        };
        let ok = match raw.trim_start().as_bytes().first() {
            Some(b'{') => true,
            Some(b'"') => serde_json::from_str::<String>(raw)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .is_some_and(|v| v.is_object()),
            _ => false,
        };
        if !ok {
            return Err(GatewayError::invalid_param(
                field,
                format!(
                    "Invalid type for '{field}': expected an object, but got {} instead.",
                    json_type_name(raw)
                ),
            ));
        }
    }
    Ok(())
}

/// A request's own fallback chain, checked against the config.
#[derive(Debug)]
pub(super) struct Chain {
    /// The groups as the request names them (resolved again on a replay, so a
    /// wildcard group gets the name's model).
    pub names: Vec<String>,
    /// Their groups' indices.
    groups: Vec<usize>,
    /// Given as a list (not LiteLLM's mapping form).
    pub from_list: bool,
}

impl Chain {
    /// The groups' route keys, comma-separated ([`super::FALLBACK_GROUPS_HEADER`]).
    pub fn route_keys(&self, router: &Router) -> String {
        let keys: Vec<&str> = self
            .groups
            .iter()
            .filter_map(|g| router.groups.get(*g))
            .map(|g| g.route_key.as_str())
            .collect();
        keys.join(",")
    }
}

fn bad_fallbacks(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_param("fallbacks", message)
}

/// A list entry's group name: a string, or `{"model": name}` (LiteLLM's form with
/// parameter overrides, accepted without any).
fn entry_name(entry: &Value) -> Result<Option<String>, GatewayError> {
    match entry {
        Value::String(name) => Ok(Some(name.clone())),
        Value::Object(map) => match map.get("model") {
            Some(Value::String(name)) if map.len() == 1 => Ok(Some(name.clone())),
            Some(Value::String(_)) => Err(bad_fallbacks(
                "Per-request `fallbacks` entries with parameter overrides ({\"model\": …, \"temperature\": …}) are not supported: name the model group only",
            )),
            _ => Ok(None),
        },
        _ => Err(bad_fallbacks(
            "`fallbacks` must be a list of model group names (or LiteLLM's [{\"group\": [\"fallback\", …]}])",
        )),
    }
}

/// The request's `fallbacks` as a chain of configured groups: `Ok(None)` when it
/// has none for the group asked for (or names no known model: the unknown model is
/// the error then); a 400 naming `fallbacks` when it is malformed, too long, or names
/// a group the config does not serve.
pub(super) fn request_chain(
    router: &Router,
    head: &RequestHead<'_>,
    model: &str,
    endpoint: Endpoint,
    api: ClientApi,
) -> Result<Option<Chain>, GatewayError> {
    let Some(raw) = head.fallbacks else {
        return Ok(None);
    };
    let Ok(Value::Array(entries)) = serde_json::from_str::<Value>(raw.get()) else {
        return Err(bad_fallbacks(
            "`fallbacks` must be a list of model group names",
        ));
    };
    let Some(origin) = router.resolve(model).map(|r| r.group) else {
        return Ok(None);
    };
    let origin_name = router.groups.get(origin).map_or("", |g| g.name.as_str());

    // A list of names, or LiteLLM's mapping form (group → list).
    let mut listed = Vec::with_capacity(entries.len());
    let mut mapping = false;
    for entry in &entries {
        match entry_name(entry)? {
            Some(name) => listed.push(name),
            None => mapping = true,
        }
    }
    let (names, from_list) = if !mapping {
        (listed, true)
    } else if !listed.is_empty() {
        return Err(bad_fallbacks(
            "`fallbacks` mixes model group names with LiteLLM's [{\"group\": [...]}] form",
        ));
    } else {
        let lookup = |key: &str| entries.iter().find_map(|e| e.get(key));
        let Some(list) = lookup(origin_name)
            .or_else(|| lookup(model))
            .or_else(|| lookup("*"))
        else {
            return Ok(None);
        };
        let Some(items) = list.as_array() else {
            return Err(bad_fallbacks(format!(
                "`fallbacks` for {origin_name} must be a list of model group names"
            )));
        };
        let mut names = Vec::with_capacity(items.len());
        for item in items {
            match item.as_str() {
                Some(name) => names.push(name.to_string()),
                None => {
                    return Err(bad_fallbacks(format!(
                        "`fallbacks` for {origin_name} must be a list of model group names"
                    )))
                }
            }
        }
        (names, false)
    };

    let mut chain = Chain {
        names: Vec::new(),
        groups: Vec::new(),
        from_list,
    };
    for name in names {
        let Some(resolved) = router.resolve(&name) else {
            return Err(bad_fallbacks(format!(
                "Invalid fallback model group {name:?} in `fallbacks`: no model group of the config serves it. Call `/v1/models` to view available models for your key."
            )));
        };
        let Some(group) = router.groups.get(resolved.group) else {
            return Err(GatewayError::internal("model group index out of range"));
        };
        if !group.endpoints.is_empty() && !group.endpoints.contains(&endpoint) {
            return Err(bad_fallbacks(format!(
                "Fallback model group {} does not serve /{}; check model_info.mode",
                group.name,
                api.path(endpoint)
            )));
        }
        // LiteLLM never falls back to the group that failed, nor twice to one group.
        if resolved.group == origin || chain.groups.contains(&resolved.group) {
            continue;
        }
        chain.groups.push(resolved.group);
        chain.names.push(name);
    }
    if chain.names.len() > MAX_REQUEST_FALLBACKS {
        return Err(bad_fallbacks(format!(
            "`fallbacks` names {} model groups; at most {MAX_REQUEST_FALLBACKS} are tried (LiteLLM's max_fallbacks)",
            chain.names.len()
        )));
    }
    Ok((!chain.names.is_empty()).then_some(chain))
}

impl RouterExchange {
    /// The id of a mock answer (`chatcmpl-…`, `cmpl-…`, `msg_…` for Anthropic).
    pub(super) fn mock_id(&self, endpoint: Endpoint) -> String {
        let prefix = match endpoint {
            Endpoint::ChatCompletions => "chatcmpl-",
            _ => "cmpl-",
        };
        format!("{prefix}{}", self.request_id.as_deref().unwrap_or("mock"))
    }

    /// The answer to a client's own `mock_response`, encoded for the responder stage
    /// ([`encode_reply`]): the mock, or the error it stands for or that its fields
    /// make, in the client's format.
    pub(super) fn client_mock(
        &self,
        head: &RequestHead<'_>,
        mock_response: &RawValue,
        model: &str,
        endpoint: Endpoint,
        host: &dyn Host,
        size: usize,
    ) -> Vec<u8> {
        match self.client_mock_answer(head, mock_response, model, endpoint, host, size) {
            Ok(answer) => encode_reply(200, &[("content-type", answer.content_type)], &answer.body),
            Err(err) => {
                let body = if self.api.is_anthropic() {
                    crate::client::anthropic::error_body(&err)
                } else {
                    err.to_body()
                };
                encode_reply(err.status, &[("content-type", "application/json")], &body)
            }
        }
    }

    fn client_mock_answer(
        &self,
        head: &RequestHead<'_>,
        mock_response: &RawValue,
        model: &str,
        endpoint: Endpoint,
        host: &dyn Host,
        size: usize,
    ) -> Result<mock::MockAnswer, GatewayError> {
        let Ok(text) = serde_json::from_str::<String>(mock_response.get()) else {
            return Err(GatewayError::invalid_param(
                "mock_response",
                "`mock_response` must be a string: Switchyard answers text mocks (with `mock_tool_calls` for tool calls)",
            ));
        };
        if let Some(err) = mock::mock_error(&text) {
            return Err(err);
        }
        let tool_calls = match head.mock_tool_calls {
            None => None,
            Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Array(calls)) if calls.iter().all(Value::is_object) => {
                    Some(Value::Array(calls))
                }
                _ => {
                    return Err(GatewayError::invalid_param(
                        "mock_tool_calls",
                        "`mock_tool_calls` must be a list of tool calls ({\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}})",
                    ))
                }
            },
        };
        if self.api.is_anthropic() {
            return self.mock_messages(
                head,
                model,
                &text,
                tool_calls.as_ref(),
                host.now_unix_secs(),
                size,
            );
        }
        mock::answer(&mock::MockRequest {
            endpoint,
            model,
            text: &text,
            stream: head.stream.unwrap_or(false),
            include_usage: head
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
            id: &self.mock_id(endpoint),
            created: host.now_unix_secs(),
            request_bytes: size,
            tool_calls: tool_calls.as_ref(),
        })
    }
}
