//! Spend reports, the filter → keyservice contract of `POST /spend/record`: one
//! [`SpendRecord`] per answered (or failed) attempt, a [`LeaseRelease`] when a
//! request ends, sent in batches (a JSON array of either). The filter serializes
//! these types and the keyservice deserializes them, both strictly
//! (`deny_unknown_fields`): a field renamed on one side is refused by the other, not
//! dropped silently.
//!
//! Also the bounds on what a row records of a client's labels (`metadata`,
//! `request_tags`): the filter applies them when it builds a row, the keyservice
//! again on whatever any reporter sends.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

/// One spend-log row with LiteLLM's names (`LiteLLM_SpendLogs`).
///
/// The filter always sends every field but the ones marked "not sent by the
/// filter", which other reporters (LiteLLM's names) may send. A reporter may omit
/// what the filter always sends, or send it as `null`: the keyservice then records
/// the field's default (`request_id` excepted: a row without one is refused).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendRecord {
    /// The row's id and the report's idempotency key (the filter: the admission id,
    /// with a suffix for a failed attempt). Required by the keyservice.
    #[serde(default, deserialize_with = "null_as_default")]
    pub request_id: String,
    /// `acompletion`, `atext_completion`, `aembedding`, `anthropic_messages`, …
    #[serde(default, deserialize_with = "null_as_default")]
    pub call_type: String,
    /// The key's token hash (or the key itself, which the keyservice hashes); `None`
    /// for the master key or an open gateway.
    #[serde(default)]
    pub api_key: Option<String>,
    /// USD.
    #[serde(default, deserialize_with = "null_as_default")]
    pub spend: f64,
    /// Prompt tokens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub completion_tokens: u64,
    /// All tokens; a reporter that omits it gets prompt + completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// When the attempt started (the filter: Unix seconds); a reporter that omits it
    /// gets the end time.
    #[serde(
        rename = "startTime",
        alias = "start_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<SpendTime>,
    /// When the attempt ended (the filter: Unix seconds); a reporter that omits it
    /// gets the time the keyservice records it.
    #[serde(
        rename = "endTime",
        alias = "end_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<SpendTime>,
    /// When the first token came. Not sent by the filter.
    #[serde(
        rename = "completionStartTime",
        alias = "completion_start_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub completion_start_time: Option<SpendTime>,
    /// The provider's model id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// The deployment id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model_id: String,
    /// The model group that served it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model_group: String,
    /// LiteLLM's provider name (`openai`, `anthropic`, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_llm_provider: String,
    /// The deployment's api_base.
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_base: String,
    /// The key's user; `None` when it has none.
    #[serde(default)]
    pub user: Option<String>,
    /// The key's team; `None` when it has none.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The end user. Not sent by the filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<String>,
    /// `success`, or `failure` for an attempt the provider refused; a reporter that
    /// omits it gets `success`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether a cache answered (the filter: always `false`; LiteLLM's text
    /// `"True"`/`"False"` accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<CacheHit>,
    /// The cache key. Not sent by the filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// The row's metadata (the client's labels, the gateway's marks); `None` when
    /// there are none. Any JSON from other reporters; the keyservice stores an object
    /// within [`MAX_ROW_METADATA_BYTES`] ([`bound_row_metadata`]).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The request's tags (the filter: a list of strings, bounded); the keyservice
    /// keeps the string entries of a list ([`bound_tags`]).
    #[serde(default)]
    pub request_tags: Value,
    /// The parallel-request lease to release with this row. Not sent by the filter
    /// (which releases a lease when the request ends, [`LeaseRelease`]); older
    /// gateways sent it on every report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
}

/// `null` read as the type's default (a reporter's `"model": null` is no model).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A time in a spend report: Unix seconds (what the filter sends) or ISO-8601 text
/// (LiteLLM's rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpendTime {
    /// Unix seconds, maybe fractional.
    Seconds(f64),
    /// ISO-8601 text.
    Text(String),
}

/// `cache_hit` in a spend report: a flag (the filter) or LiteLLM's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CacheHit {
    /// `true` / `false`.
    Flag(bool),
    /// `"True"` / `"False"` (any case).
    Text(String),
}

impl CacheHit {
    /// Whether a cache answered.
    pub fn is_hit(&self) -> bool {
        match self {
            CacheHit::Flag(hit) => *hit,
            CacheHit::Text(text) => text.eq_ignore_ascii_case("true"),
        }
    }
}

/// The end of a request, in place of a row: its lease (its parallel-request slot and
/// its continuation mark) is freed. Sent by the filter's responder stage when the
/// downstream request ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRelease {
    /// The lease (the admission id).
    pub release_lease: String,
}

/// Largest client `metadata` recorded in a spend-log row: the JSON text of the
/// request's `metadata` (and of `litellm_metadata`), in bytes. A larger one is
/// recorded as `{"metadata_truncated": {"bytes": N, "limit": 2048}}`, unparsed.
/// 2048 is LiteLLM's own cut for strings it stores (`MAX_STRING_LENGTH_PROMPT_IN_DB`).
pub const MAX_REQUEST_METADATA_BYTES: usize = 2048;
/// Most tags recorded in a row (`request_tags`); later ones are left out.
pub const MAX_REQUEST_TAGS: usize = 32;
/// Longest tag recorded (bytes); a longer one is cut at a character boundary.
pub const MAX_REQUEST_TAG_BYTES: usize = 256;
/// Largest `metadata` a spend-log row stores, whoever reports it (the keyservice
/// checks it too): the two metadata objects at their bound, with room to spare.
pub const MAX_ROW_METADATA_BYTES: usize = 4 * MAX_REQUEST_METADATA_BYTES;

/// Cuts `text` to `max` bytes at a character boundary.
pub fn bounded_label(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_string()
}

/// Cuts `tag` to [`MAX_REQUEST_TAG_BYTES`] at a character boundary.
pub fn bounded_tag(tag: &str) -> String {
    bounded_label(tag, MAX_REQUEST_TAG_BYTES)
}

/// The string tags of a parsed list, bounded.
pub fn tags_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .take(MAX_REQUEST_TAGS)
                .map(bounded_tag)
                .collect()
        })
        .unwrap_or_default()
}

/// A row's `metadata` as stored: an object within [`MAX_ROW_METADATA_BYTES`], else
/// the truncation marker (anything not an object becomes `{}`). For the keyservice.
pub fn bound_row_metadata(metadata: Value) -> Value {
    match metadata {
        Value::Object(map) => {
            let bytes = serde_json::to_vec(&map).map_or(usize::MAX, |b| b.len());
            if bytes > MAX_ROW_METADATA_BYTES {
                json!({"metadata_truncated": {"bytes": bytes, "limit": MAX_ROW_METADATA_BYTES}})
            } else {
                Value::Object(map)
            }
        }
        _ => json!({}),
    }
}

/// A row's `request_tags` as stored: its string entries, bounded. For the keyservice.
pub fn bound_tags(tags: &Value) -> Value {
    Value::from(tags_of(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_refuses_unknown_fields_and_keeps_litellm_names() {
        let row: SpendRecord = serde_json::from_value(json!({
            "request_id": "r", "startTime": 1.5, "end_time": "2024-05-01T12:00:00Z",
            "cache_hit": "True", "request_tags": ["a"],
        }))
        .unwrap();
        assert_eq!(row.start_time, Some(SpendTime::Seconds(1.5)));
        assert_eq!(
            row.end_time,
            Some(SpendTime::Text("2024-05-01T12:00:00Z".into()))
        );
        assert!(row.cache_hit.as_ref().is_some_and(CacheHit::is_hit));
        let nulls: SpendRecord =
            serde_json::from_value(json!({"request_id": "r", "model": null, "spend": null}))
                .unwrap();
        assert_eq!((nulls.model.as_str(), nulls.spend), ("", 0.0));
        let e = serde_json::from_value::<SpendRecord>(json!({"request_id": "r", "spnd": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `spnd`"), "{e}");
        let e = serde_json::from_value::<LeaseRelease>(json!({"release_lease": "L", "x": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `x`"), "{e}");
    }

    #[test]
    fn rows_and_tags_are_bounded() {
        assert_eq!(bound_row_metadata(json!([1])), json!({}));
        assert_eq!(bound_row_metadata(json!({"a": 1})), json!({"a": 1}));
        let huge = json!({"pad": "x".repeat(MAX_ROW_METADATA_BYTES)});
        assert!(bound_row_metadata(huge).get("metadata_truncated").is_some());
        assert_eq!(bound_tags(&json!(["a", 2, "b"])), json!(["a", "b"]));
        assert_eq!(bound_tags(&json!("nope")), json!([]));
        assert_eq!(bounded_label("éé", 3), "é");
    }
}
