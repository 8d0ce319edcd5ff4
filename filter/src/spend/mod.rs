//! Spend reports: what each answered request cost, for the keyservice.
//!
//! The keyservice admits a request through ext_authz and names the key (its hash),
//! user, team, parallel-request lease and the request's **admission id** in request
//! headers; the responder stage keeps them in filter state ([`KeyFacts`]). When an
//! answer completes, the upstream stage builds a LiteLLM spend-log row ([`report`],
//! the contract's [`SpendRecord`]) and hands it to its host
//! (`Host::queue_spend_report`), which keeps it in its worker's [`SpendQueue`] (the
//! proxy-wasm glue: one per wasm VM); the router stage's root context sends the queue
//! to the keyservice's `POST /spend/record` every 100 ms and retries failed reports
//! with backoff ([`queue::SpendReporter`]).
//!
//! **Identity.** A row is keyed on the admission id ([`KeyFacts::spend_key`]), which
//! the keyservice draws at random for every admission and which never reaches a
//! client or a provider, so no client can choose it: the keyservice's
//! `ON CONFLICT (request_id) DO NOTHING` makes a resent report count once and one
//! admission be charged once, and a client reusing an `x-request-id` loses nothing.
//! The client's `x-request-id` is recorded as a label only (`metadata.client_request_id`).
//! A provider error is reported too (status `failure`, no spend, one row per failed
//! attempt: `<admission>[:fallback-<step>]:attempt-<n>:failed`); so is an attempt that
//! ends with neither an answer nor an error (the client left mid-stream, the
//! provider's connection broke, a timeout), when Envoy ends it; one whose answer had
//! begun is charged what the provider produced, estimated where the provider gave no
//! count (`crate::estimate`), and marked `switchyard_partial` in its metadata
//! ([`Answered::marks`]).
//!
//! **Slots.** A `max_parallel_requests` slot (the admission's lease) is freed when
//! the *downstream request* ends, not when an attempt does: the responder stage's
//! context sees every request end once (Envoy logs it: an answer, a local answer,
//! `/models`, a 400, "no healthy upstream", a client that left), and queues a
//! [`release`] with the rows ([`lease_at_end`]). Retries and error fallbacks hold the
//! slot: a fallback is an internal redirect, whose first pass ends with
//! `response.code_details` [`INTERNAL_REDIRECT_DETAILS`] (no release) and whose
//! replay carries the admission id (the redirect's [`ADMISSION_HEADER`]) to the
//! keyservice, which continues the admission instead of taking a new one. A lease
//! whose release never arrives (Envoy crashed) expires in the keyservice (10 minutes).
//!
//! Lost are only: reports still queued when the Envoy process exits, and the
//! oldest ones once more than [`MAX_QUEUED`] wait (the keyservice down for long).
//!
//! A row also carries what the client labelled the request with ([`SpendLabels`]):
//! its `metadata` (LiteLLM's `spend_logs_metadata` and the requester's metadata) and
//! its `tags` (`request_tags`), bounded so that a hostile client's 10 MB metadata
//! never reaches the queue, the keyservice or the database: over
//! [`MAX_REQUEST_METADATA_BYTES`] the metadata is recorded as a marker naming its
//! size (and never parsed), tags beyond [`MAX_REQUEST_TAGS`] or
//! [`MAX_REQUEST_TAG_BYTES`] are cut. The keyservice applies the same bounds
//! ([`bound_row_metadata`], [`bound_tags`]) to whatever a reporter sends.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::{json, Map, Value};

use crate::cost::Usage;
use crate::endpoint::{ClientApi, Endpoint};

pub mod queue;

// A worker's queue of reports and the policy that sends them (see `queue`).
pub use queue::{batch, PendingGauge, SpendQueue, SpendReporter, MAX_QUEUED};

/// Filter state holding [`KeyFacts`].
pub const KEY_PROPERTY: &str = "switchyard_key";
/// Request header the keyservice sets (through ext_authz) at every admission: the
/// request's admission id (see the module docs).
pub use switchyard_contract::headers::ADMISSION_HEADER;
// The bounds on a row's labels, applied here and again by the keyservice, and the
// report types of `POST /spend/record`.
pub use switchyard_contract::spend::{
    bound_row_metadata, bound_tags, LeaseRelease, SpendRecord, MAX_REQUEST_METADATA_BYTES,
    MAX_REQUEST_TAGS, MAX_REQUEST_TAG_BYTES, MAX_ROW_METADATA_BYTES,
};
use switchyard_contract::spend::{bounded_label, bounded_tag, tags_of, CacheHit, SpendTime};
/// Longest client `x-request-id` recorded in a row's metadata (a label, never a key).
pub const MAX_CLIENT_REQUEST_ID_BYTES: usize = 128;

/// Who a request was admitted for (headers the keyservice set through ext_authz).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFacts {
    /// The key's hash (`token`); empty for the master key or an open gateway.
    pub key_hash: String,
    /// The key's user.
    pub user_id: String,
    /// The key's team.
    pub team_id: String,
    /// The lease (parallel-request slot) the request's end releases.
    pub lease: String,
    /// The admission id (spend rows are keyed on it).
    pub admission: String,
    /// The key's alias (`key_alias`), when it has one.
    pub key_alias: String,
    /// The alias of the key's team, when it has one.
    pub team_alias: String,
}

impl KeyFacts {
    /// Seven lines; the values are header values, which hold no newline.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.key_hash,
            self.user_id,
            self.team_id,
            self.lease,
            self.admission,
            self.key_alias,
            self.team_alias
        )
        .into_bytes()
    }

    /// Inverse of [`KeyFacts::encode`].
    pub fn decode(raw: &[u8]) -> Option<KeyFacts> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut l = text.split('\n');
        Some(KeyFacts {
            key_hash: l.next()?.to_string(),
            user_id: l.next()?.to_string(),
            team_id: l.next()?.to_string(),
            lease: l.next()?.to_string(),
            admission: l.next()?.to_string(),
            key_alias: l.next().unwrap_or_default().to_string(),
            team_alias: l.next().unwrap_or_default().to_string(),
        })
    }

    /// The id a spend row of this request is keyed on: the admission id, which no
    /// client can choose or see (the client's `x-request-id` is only a label in the
    /// row's metadata). Without one (a keyservice that issues none), a key that still
    /// never repeats on this worker: the client's id, the time and a counter.
    pub fn spend_key(&self, client_request_id: &str, now_ms: u64) -> String {
        if !self.admission.is_empty() {
            return self.admission.clone();
        }
        let n = UNADMITTED.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        format!(
            "unadmitted:{}:{now_ms}:{n}",
            bounded_label(client_request_id, MAX_CLIENT_REQUEST_ID_BYTES)
        )
    }
}

/// The client's labels of a request, as its spend-log row records them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendLabels {
    /// The row's `metadata`: `{"spend_logs_metadata": …, "requester_metadata": …}`
    /// (LiteLLM's names), or the truncation marker; `None` when the client sent none.
    pub metadata: Option<Value>,
    /// The row's `request_tags`.
    pub tags: Vec<String>,
}

/// A metadata object as LiteLLM reads it: an object, or a JSON string holding one
/// (what form-data and `extra_body` clients send); `user_api_key_*` entries are the
/// proxy's own and dropped, as LiteLLM drops a client's
/// (`add_litellm_data_to_request`). `Err(bytes)` when over the bound.
fn client_metadata(raw: Option<&str>) -> Result<Option<Map<String, Value>>, usize> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.len() > MAX_REQUEST_METADATA_BYTES {
        return Err(raw.len());
    }
    let mut map = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => map,
        Ok(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    map.retain(|k, _| !k.starts_with("user_api_key_"));
    Ok(Some(map))
}

impl SpendLabels {
    /// The labels from the raw JSON text of a request's `metadata`,
    /// `litellm_metadata` and `tags`. LiteLLM's rules: `litellm_metadata` entries
    /// fill what `metadata` lacks; the row's tags are the body's `tags` list, else
    /// `metadata.tags`.
    pub fn from_raw(
        metadata: Option<&str>,
        litellm_metadata: Option<&str>,
        tags: Option<&str>,
    ) -> SpendLabels {
        let merged = match (client_metadata(metadata), client_metadata(litellm_metadata)) {
            (Err(bytes), _) | (_, Err(bytes)) => {
                return SpendLabels {
                    metadata: Some(truncated(bytes)),
                    tags: tags.map(parse_tags).unwrap_or_default(),
                }
            }
            (Ok(a), Ok(b)) => match (a, b) {
                (Some(mut a), Some(b)) => {
                    for (k, v) in b {
                        a.entry(k).or_insert(v);
                    }
                    Some(a)
                }
                (a, b) => a.or(b),
            },
        };
        let Some(mut merged) = merged else {
            return SpendLabels {
                metadata: None,
                tags: tags.map(parse_tags).unwrap_or_default(),
            };
        };
        let tags = match tags.filter(|t| t.trim() != "null") {
            Some(raw) => parse_tags(raw),
            None => merged.get("tags").map(tags_of).unwrap_or_default(),
        };
        merged.remove("tags");
        let spend_logs_metadata = merged.remove("spend_logs_metadata");
        SpendLabels {
            metadata: Some(json!({
                "spend_logs_metadata": spend_logs_metadata,
                "requester_metadata": merged,
            })),
            tags,
        }
    }
}

impl SpendLabels {
    /// The labels as filter state (a request answered by the responder stage).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({"metadata": self.metadata, "tags": self.tags}))
            .unwrap_or_default()
    }

    /// Inverse of [`SpendLabels::encode`] (nothing for anything else).
    pub fn decode(raw: &[u8]) -> SpendLabels {
        let Ok(v) = serde_json::from_slice::<Value>(raw) else {
            return SpendLabels::default();
        };
        SpendLabels {
            metadata: v.get("metadata").filter(|m| !m.is_null()).cloned(),
            tags: v.get("tags").map(tags_of).unwrap_or_default(),
        }
    }
}

/// The marker recorded instead of metadata over the bound.
fn truncated(bytes: usize) -> Value {
    json!({"metadata_truncated": {"bytes": bytes, "limit": MAX_REQUEST_METADATA_BYTES}})
}

/// The string tags of a raw JSON list, bounded, read without building the rest of
/// the list (a hostile client's million tags are skipped, not allocated).
fn parse_tags(raw: &str) -> Vec<String> {
    struct Tags;
    impl<'de> Visitor<'de> for Tags {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tags")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while out.len() < MAX_REQUEST_TAGS {
                match seq.next_element::<Value>()? {
                    Some(Value::String(tag)) => out.push(bounded_tag(&tag)),
                    Some(_) => {}
                    None => return Ok(out),
                }
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    de.deserialize_any(Tags).unwrap_or_default()
}

/// What one answered request was.
pub struct Answered<'a> {
    /// The row's id and the report's idempotency key: [`KeyFacts::spend_key`], with a
    /// suffix for a failed attempt. Never the client's `x-request-id`.
    pub request_id: &'a str,
    /// The client's `x-request-id` (empty: none), recorded in the row's metadata
    /// as `client_request_id`.
    pub client_request_id: &'a str,
    /// `acompletion`, `atext_completion` or `aembedding`, as LiteLLM logs them.
    pub call_type: &'a str,
    /// The provider's model id.
    pub model: &'a str,
    /// The deployment id.
    pub model_id: &'a str,
    /// The model group that served it.
    pub model_group: &'a str,
    /// `openai`, `azure`, `anthropic`.
    pub provider: &'a str,
    /// The deployment's api_base.
    pub api_base: &'a str,
    /// Tokens (zero when the provider reported none).
    pub usage: Usage,
    /// USD.
    pub spend: f64,
    /// Unix milliseconds.
    pub start_ms: u64,
    /// Unix milliseconds.
    pub end_ms: u64,
    /// `success`, or `failure` for an answer the provider refused.
    pub status: &'a str,
    /// The client's metadata and tags.
    pub labels: &'a SpendLabels,
    /// The gateway's own notes on the row, merged into its `metadata` (over the
    /// client's keys): `switchyard_partial` and `estimated` for an answer that did
    /// not finish, `switchyard_unpriced` for one served without a price.
    pub marks: &'a Map<String, Value>,
}

/// LiteLLM's `call_type` of a request.
pub fn call_type(api: ClientApi, endpoint: Endpoint) -> &'static str {
    match (api, endpoint) {
        // LiteLLM's name (`@client async def anthropic_messages`, its handler).
        (ClientApi::Messages, _) => "anthropic_messages",
        (ClientApi::CountTokens, _) => "count_tokens",
        (ClientApi::OpenAi, Endpoint::ChatCompletions) => "acompletion",
        (ClientApi::OpenAi, Endpoint::Completions) => "atext_completion",
        (ClientApi::OpenAi, Endpoint::Embeddings) => "aembedding",
    }
}

/// A row's metadata: the client's labels with the gateway's marks on top, and the
/// client's `x-request-id` as `client_request_id` (a label, never the row's key).
fn metadata(a: &Answered<'_>) -> Option<Value> {
    if a.marks.is_empty() && a.client_request_id.is_empty() {
        return a.labels.metadata.clone();
    }
    let mut map = match &a.labels.metadata {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    for (k, v) in a.marks {
        map.insert(k.clone(), v.clone());
    }
    if !a.client_request_id.is_empty() {
        map.insert(
            "client_request_id".into(),
            Value::from(bounded_label(
                a.client_request_id,
                MAX_CLIENT_REQUEST_ID_BYTES,
            )),
        );
    }
    Some(Value::Object(map))
}

/// The `POST /spend/record` row of an answered request ([`SpendRecord`], LiteLLM's
/// spend-log row).
pub fn record(key: &KeyFacts, a: &Answered<'_>) -> SpendRecord {
    let opt = |s: &str| {
        if s.is_empty() {
            None
        } else {
            Some(s.to_string())
        }
    };
    SpendRecord {
        request_id: a.request_id.to_string(),
        call_type: a.call_type.to_string(),
        api_key: opt(&key.key_hash),
        spend: a.spend,
        prompt_tokens: a.usage.prompt_tokens,
        completion_tokens: a.usage.completion_tokens,
        total_tokens: Some(
            a.usage
                .prompt_tokens
                .saturating_add(a.usage.completion_tokens),
        ),
        start_time: Some(SpendTime::Seconds(a.start_ms as f64 / 1000.0)),
        end_time: Some(SpendTime::Seconds(a.end_ms as f64 / 1000.0)),
        completion_start_time: None,
        model: a.model.to_string(),
        model_id: a.model_id.to_string(),
        model_group: a.model_group.to_string(),
        custom_llm_provider: a.provider.to_string(),
        api_base: a.api_base.to_string(),
        user: opt(&key.user_id),
        team_id: opt(&key.team_id),
        end_user: None,
        status: Some(a.status.to_string()),
        cache_hit: Some(CacheHit::Flag(false)),
        cache_key: None,
        metadata: metadata(a),
        request_tags: Value::from(a.labels.tags.clone()),
        lease_id: None,
    }
}

/// The `POST /spend/record` body of an answered request: [`record`], serialized.
pub fn report(key: &KeyFacts, a: &Answered<'_>) -> Vec<u8> {
    serde_json::to_vec(&record(key, a)).unwrap_or_default()
}

/// The `POST /spend/record` entry that ends a request ([`LeaseRelease`]): its lease
/// (parallel-request slot, continuation mark) is freed. Queued with the spend rows.
pub fn release(lease: &str) -> Vec<u8> {
    serde_json::to_vec(&LeaseRelease {
        release_lease: lease.to_string(),
    })
    .unwrap_or_default()
}

/// What Envoy's `response.code_details` says of a downstream request that ended by
/// an internal redirect: the request goes on in its replay.
pub const INTERNAL_REDIRECT_DETAILS: &str = "internal_redirect";

/// The lease to free when a listener-stage request ends, if any: none when it ended
/// by an internal redirect (its replay carries the admission on); the lease its
/// admission took; or, for a replay the key check refused (no admission facts this
/// pass), the admission id the redirect carried in.
pub fn lease_at_end(
    code_details: Option<&str>,
    facts: Option<&KeyFacts>,
    carried_admission: Option<&str>,
) -> Option<String> {
    if code_details == Some(INTERNAL_REDIRECT_DETAILS) {
        return None;
    }
    match facts {
        Some(f) if !f.lease.is_empty() => Some(f.lease.clone()),
        Some(_) => None,
        None => carried_admission
            .filter(|a| !a.is_empty())
            .map(str::to_string),
    }
}

thread_local! {
    /// Counter of [`KeyFacts::spend_key`] without an admission.
    static UNADMITTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_facts_round_trip() {
        let k = KeyFacts {
            key_hash: "abc".into(),
            user_id: "".into(),
            team_id: "t".into(),
            lease: "l1".into(),
            admission: "a1".into(),
            key_alias: "ka".into(),
            team_alias: "".into(),
        };
        assert_eq!(KeyFacts::decode(&k.encode()), Some(k));
        // Facts of the five-line form (before aliases) still read, aliases empty.
        let old = KeyFacts::decode(b"abc\nu\nt\nl1\na1").unwrap();
        assert_eq!((old.admission.as_str(), old.key_alias.as_str()), ("a1", ""));
        assert_eq!(KeyFacts::decode(b"only\ntwo"), None);
    }

    #[test]
    fn rows_are_keyed_on_the_admission_never_on_the_clients_id() {
        let k = KeyFacts {
            admission: "adm-1".into(),
            ..Default::default()
        };
        assert_eq!(k.spend_key("fixed-1", 5), "adm-1");
        // Without an admission (a keyservice that issues none): never the client's
        // id alone, and never the same key twice.
        let none = KeyFacts::default();
        let a = none.spend_key("fixed-1", 5);
        let b = none.spend_key("fixed-1", 5);
        assert_ne!(a, "fixed-1");
        assert_ne!(a, b);
        let long = "x".repeat(10_000);
        assert!(none.spend_key(&long, 5).len() < 200);
    }

    #[test]
    fn a_request_frees_its_slot_at_its_end_but_not_at_a_redirect() {
        let facts = KeyFacts {
            lease: "L".into(),
            admission: "L".into(),
            ..Default::default()
        };
        assert_eq!(lease_at_end(None, Some(&facts), None).as_deref(), Some("L"));
        assert_eq!(
            lease_at_end(Some("via_upstream"), Some(&facts), Some("L")).as_deref(),
            Some("L")
        );
        // Ended by an internal redirect: its replay goes on with the admission.
        assert_eq!(
            lease_at_end(Some(INTERNAL_REDIRECT_DETAILS), Some(&facts), Some("L")),
            None
        );
        // Admitted without limits: nothing to free.
        let unlimited = KeyFacts {
            admission: "A".into(),
            ..Default::default()
        };
        assert_eq!(lease_at_end(None, Some(&unlimited), Some("A")), None);
        // A replay the key check refused: the admission the redirect carried in.
        assert_eq!(
            lease_at_end(Some("ext_authz_denied"), None, Some("L")).as_deref(),
            Some("L")
        );
        assert_eq!(lease_at_end(None, None, None), None);
        let v: serde_json::Value = serde_json::from_slice(&release("L")).unwrap();
        assert_eq!(v, json!({"release_lease": "L"}));
    }

    #[test]
    fn report_is_a_litellm_spend_row() {
        let key = KeyFacts {
            key_hash: "h".into(),
            user_id: "u".into(),
            team_id: "".into(),
            lease: "l".into(),
            admission: "adm".into(),
            ..Default::default()
        };
        let body = report(
            &key,
            &Answered {
                request_id: "r1",
                client_request_id: "client-7",
                call_type: "acompletion",
                model: "gpt-4o",
                model_id: "d1",
                model_group: "g",
                provider: "openai",
                api_base: "https://x",
                spend: 0.5,
                usage: Usage {
                    prompt_tokens: 10,
                    completion_tokens: 5,
                    ..Default::default()
                },
                start_ms: 1_000,
                end_ms: 2_500,
                status: "success",
                labels: &SpendLabels::from_raw(
                    Some(
                        r#"{"spend_logs_metadata":{"team":"a"},"env":"prod","user_api_key_alias":"forged"}"#,
                    ),
                    None,
                    Some(r#"["t1","t2"]"#),
                ),
                marks: &Map::new(),
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["request_id"], "r1");
        assert_eq!(v["api_key"], "h");
        assert_eq!(v["total_tokens"], 15);
        assert_eq!(v["endTime"], 2.5);
        assert_eq!(v["team_id"], serde_json::Value::Null);
        assert_eq!(v["user"], "u");
        assert_eq!(
            v["metadata"],
            json!({"spend_logs_metadata": {"team": "a"}, "requester_metadata": {"env": "prod"},
                   "client_request_id": "client-7"}),
            "the client's user_api_key_* entries are never recorded"
        );
        assert!(
            v.get("lease_id").is_none(),
            "a row frees no slot: the request's end does"
        );
        assert_eq!(v["request_tags"], json!(["t1", "t2"]));
    }

    #[test]
    fn marks_go_into_the_metadata_over_the_client_keys() {
        let labels = SpendLabels::from_raw(Some(r#"{"switchyard_partial":false}"#), None, None);
        let mut marks = Map::new();
        marks.insert("switchyard_partial".into(), json!(true));
        let answered = |labels| Answered {
            request_id: "r",
            client_request_id: "",
            call_type: "acompletion",
            model: "m",
            model_id: "d",
            model_group: "g",
            provider: "openai",
            api_base: "",
            spend: 0.1,
            usage: Usage::default(),
            start_ms: 0,
            end_ms: 0,
            status: "failure",
            labels,
            marks: &marks,
        };
        let v: Value =
            serde_json::from_slice(&report(&KeyFacts::default(), &answered(&labels))).unwrap();
        assert_eq!(v["metadata"]["switchyard_partial"], true);
        assert_eq!(
            v["metadata"]["requester_metadata"]["switchyard_partial"],
            false
        );
        let none = SpendLabels::default();
        let v: Value =
            serde_json::from_slice(&report(&KeyFacts::default(), &answered(&none))).unwrap();
        assert_eq!(v["metadata"], json!({"switchyard_partial": true}));
    }

    #[test]
    fn labels_round_trip_through_filter_state() {
        let l = SpendLabels::from_raw(Some(r#"{"a":1}"#), None, Some(r#"["t"]"#));
        assert_eq!(SpendLabels::decode(&l.encode()), l);
        assert_eq!(
            SpendLabels::decode(&SpendLabels::default().encode()),
            SpendLabels::default()
        );
        assert_eq!(SpendLabels::decode(b"garbage"), SpendLabels::default());
    }

    #[test]
    fn labels_follow_litellm_and_are_bounded() {
        // litellm_metadata fills what metadata lacks; metadata.tags when no `tags`.
        let l = SpendLabels::from_raw(
            Some(r#"{"a":1,"tags":["m"]}"#),
            Some(r#"{"a":2,"b":3}"#),
            None,
        );
        assert_eq!(
            l.metadata,
            Some(json!({"spend_logs_metadata": null, "requester_metadata": {"a": 1, "b": 3}}))
        );
        assert_eq!(l.tags, ["m"]);
        // The body's tags win; non-strings are skipped; a JSON-string metadata is read.
        let l = SpendLabels::from_raw(
            Some(r#""{\"k\":\"v\"}""#),
            None,
            Some(r#"["x",1,null,"y"]"#),
        );
        assert_eq!(l.metadata.unwrap()["requester_metadata"], json!({"k": "v"}));
        assert_eq!(l.tags, ["x", "y"]);
        // Nothing sent: nothing recorded; a non-object metadata is not recorded.
        assert_eq!(
            SpendLabels::from_raw(None, None, None),
            SpendLabels::default()
        );
        assert_eq!(
            SpendLabels::from_raw(Some("[1]"), None, Some("null")),
            SpendLabels::default()
        );

        // Oversize metadata: a marker with its size, the tags still recorded.
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
        let l = SpendLabels::from_raw(Some(&big), None, Some(r#"["t"]"#));
        assert_eq!(
            l.metadata,
            Some(
                json!({"metadata_truncated": {"bytes": big.len(), "limit": MAX_REQUEST_METADATA_BYTES}})
            )
        );
        assert_eq!(l.tags, ["t"]);
        let l = SpendLabels::from_raw(None, Some(&big), None);
        assert!(l.metadata.unwrap().get("metadata_truncated").is_some());

        // Many and long tags are cut (at a character boundary).
        let many: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
        let l = SpendLabels::from_raw(None, None, Some(&serde_json::to_string(&many).unwrap()));
        assert_eq!(l.tags.len(), MAX_REQUEST_TAGS);
        assert_eq!(l.tags[0], "t0");
        let long = "é".repeat(MAX_REQUEST_TAG_BYTES);
        let l = SpendLabels::from_raw(None, None, Some(&json!([long]).to_string()));
        assert!(l.tags[0].len() <= MAX_REQUEST_TAG_BYTES && l.tags[0].starts_with('é'));

        // The keyservice's bounds on whatever it is sent.
        assert_eq!(bound_row_metadata(json!([1])), json!({}));
        assert_eq!(bound_row_metadata(json!({"a": 1})), json!({"a": 1}));
        let huge = json!({"pad": "x".repeat(MAX_ROW_METADATA_BYTES)});
        assert!(bound_row_metadata(huge).get("metadata_truncated").is_some());
        assert_eq!(bound_tags(&json!(["a", 2, "b"])), json!(["a", "b"]));
        assert_eq!(bound_tags(&json!("nope")), json!([]));
    }

    /// The contract with the keyservice: what the filter sends parses strictly as
    /// the keyservice's [`SpendRecord`] and [`LeaseRelease`] (unknown fields
    /// refused), and nothing the filter writes is lost on the way.
    #[test]
    fn reports_parse_strictly_as_the_keyservice_reads_them() {
        let key = KeyFacts {
            key_hash: "h".into(),
            user_id: "u".into(),
            team_id: "t".into(),
            lease: "l".into(),
            admission: "adm".into(),
            ..Default::default()
        };
        let mut marks = Map::new();
        marks.insert("switchyard_partial".into(), json!(true));
        let labels = SpendLabels::from_raw(Some(r#"{"env":"prod"}"#), None, Some(r#"["t1"]"#));
        let body = report(
            &key,
            &Answered {
                request_id: "adm:attempt-1:failed",
                client_request_id: "c",
                call_type: "acompletion",
                model: "gpt-4o",
                model_id: "d1",
                model_group: "g",
                provider: "openai",
                api_base: "https://x",
                spend: 0.25,
                usage: Usage {
                    prompt_tokens: 3,
                    completion_tokens: 4,
                    ..Default::default()
                },
                start_ms: 1_000,
                end_ms: 2_500,
                status: "failure",
                labels: &labels,
                marks: &marks,
            },
        );
        let sent: Value = serde_json::from_slice(&body).unwrap();
        let parsed: SpendRecord = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.request_id, "adm:attempt-1:failed");
        assert_eq!(parsed.total_tokens, Some(7));
        assert_eq!(parsed.end_time, Some(SpendTime::Seconds(2.5)));
        assert_eq!(parsed.status.as_deref(), Some("failure"));
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            sent,
            "every field the filter sends is one the keyservice reads"
        );
        let release: LeaseRelease = serde_json::from_slice(&release("L")).unwrap();
        assert_eq!(release.release_lease, "L");
        // A batch is an array of either.
        let (_, batch) = batch(vec![(1, body), (2, super::release("L"))]);
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&batch).unwrap();
        assert!(serde_json::from_str::<SpendRecord>(items[0].get()).is_ok());
        assert!(serde_json::from_str::<LeaseRelease>(items[1].get()).is_ok());
        assert!(
            serde_json::from_str::<SpendRecord>(items[1].get()).is_err(),
            "a release is not a row"
        );
    }

    /// Found by the fuzz target `upstream_response` (an OpenAI stream whose usage
    /// chunk carries counts near u64::MAX, keys checked): the total overflowed — a
    /// panic in debug builds, a wrapped total in the shipped filter.
    #[test]
    fn report_total_saturates() {
        let body = report(
            &KeyFacts::default(),
            &Answered {
                request_id: "r1",
                client_request_id: "",
                call_type: "acompletion",
                model: "gpt-4o",
                model_id: "d1",
                model_group: "g",
                provider: "openai",
                api_base: "https://x",
                spend: 0.0,
                usage: Usage {
                    prompt_tokens: u64::MAX - 9,
                    completion_tokens: u64::MAX - 2,
                    ..Default::default()
                },
                start_ms: 0,
                end_ms: 0,
                status: "success",
                labels: &SpendLabels::default(),
                marks: &Map::new(),
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["total_tokens"], u64::MAX);
        assert_eq!(v["prompt_tokens"], u64::MAX - 9);
    }
}
