//! The parts of a request body the router stage reads (`model`, `stream`,
//! LiteLLM's per-request fields); the rest is skipped unparsed.

use super::*;

/// The parts of a request body the router stage reads; the rest is skipped unparsed.
#[derive(Deserialize)]
pub(super) struct RequestHead<'a> {
    #[serde(borrow, default)]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) stream: Option<bool>,
    #[serde(default)]
    pub(super) stream_options: Option<StreamOptions>,
    /// LiteLLM's per-request retry count (becomes `x-envoy-max-retries`).
    #[serde(default)]
    pub(super) num_retries: Option<u32>,
    /// LiteLLM's per-request timeout in seconds (becomes the route timeout).
    #[serde(default)]
    pub(super) timeout: Option<f64>,
    /// LiteLLM's per-request fallbacks (read by `per_request::request_chain`).
    #[serde(borrow, default)]
    pub(super) fallbacks: Option<&'a RawValue>,
    /// A client's own mock answer, sent only when its key or team allows it.
    #[serde(borrow, default)]
    pub(super) mock_response: Option<&'a RawValue>,
    /// Tool calls for that mock answer.
    #[serde(borrow, default)]
    pub(super) mock_tool_calls: Option<&'a RawValue>,
    /// LiteLLM's metadata objects (must be objects; read for spend reports upstream).
    #[serde(borrow, default)]
    pub(super) metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) litellm_metadata: Option<&'a RawValue>,
    /// The end user (OpenAI's `user`), for the request's record when a string.
    #[serde(borrow, default)]
    pub(super) user: Option<&'a RawValue>,
    /// LiteLLM's request tags (for spend reports of answers given here).
    #[serde(borrow, default)]
    pub(super) tags: Option<&'a RawValue>,
    /// LiteLLM's mock-testing fields, refused ([`crate::litellm_fields::REFUSED_MOCK_TESTING_FIELDS`]).
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_testing_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_testing_context_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_testing_content_policy_fallbacks: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_testing_rate_limit_error: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_timeout: bool,
    #[serde(default, deserialize_with = "per_request::present")]
    pub(super) mock_delay: bool,
}

#[derive(Deserialize, Clone, Copy)]
pub(super) struct StreamOptions {
    #[serde(default)]
    pub(super) include_usage: Option<bool>,
}

/// Explains a body that did not parse as a [`RequestHead`], naming the field at fault.
pub(super) fn body_error(body: &[u8], err: &serde_json::Error) -> GatewayError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            GatewayError::bad_request(format!("Request body is not valid JSON: {err}"))
        }
        Category::Data => {
            // Rare path: parse again to name the field with the wrong type.
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => {
                    let wrong = |name: &str, ok: fn(&Value) -> bool| {
                        map.get(name).is_some_and(|v| !v.is_null() && !ok(v))
                    };
                    let (param, expected) = if wrong("model", Value::is_string) {
                        ("model", "a string")
                    } else if wrong("stream", Value::is_boolean) {
                        ("stream", "a boolean")
                    } else if wrong("num_retries", Value::is_u64) {
                        ("num_retries", "a non-negative integer")
                    } else if wrong("timeout", Value::is_number) {
                        ("timeout", "a number of seconds")
                    } else {
                        ("stream_options", "an object with a boolean include_usage")
                    };
                    GatewayError::invalid_param(
                        param,
                        format!("`{param}` must be {expected}: {err}"),
                    )
                }
                _ => GatewayError::bad_request("Request body must be a JSON object"),
            }
        }
    }
}
