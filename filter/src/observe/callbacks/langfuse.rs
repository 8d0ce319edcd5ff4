//! The `langfuse` callback: one `trace-create` and one `generation-create` event per
//! request, for Langfuse's batch ingestion API (`POST /api/public/ingestion`, body
//! `{"batch": [event, …]}`, HTTP basic auth with the public and secret keys).
//!
//! Field names and shapes follow Langfuse's public API reference (the OpenAPI
//! `IngestionEvent`, `TraceBody`, `CreateGenerationBody`, `IngestionUsage`); what goes
//! in them follows LiteLLM 1.102.4's `litellm/integrations/langfuse/langfuse.py`
//! (`_log_langfuse_v2`):
//!
//! * the trace: id = the client's `metadata.trace_id` (or `existing_trace_id`),
//!   else the call id; name = `metadata.trace_name`, else `litellm-{call_type}`;
//!   `userId` = `metadata.trace_user_id`, else the request's `user`; `sessionId`,
//!   `tags`; input and output (only with message logging);
//! * the generation: id = the call id, always (a client's `generation_id` is not
//!   honoured: one request can never overwrite another's generation); name =
//!   `metadata.generation_name`, else `litellm:{key_alias}`, else
//!   `litellm-{call_type}`; start, end and completion-start times; the model without
//!   its provider prefix; the model parameters; usage in tokens (LiteLLM's input is
//!   the prompt less the cache-read tokens); the cost; `level` `ERROR` with the
//!   error as `statusMessage` on a failure, `DEFAULT` otherwise; LiteLLM's
//!   key and routing metadata.

use serde::Serialize;
use serde_json::{Map, Value};

use super::format::iso8601;
use super::Facts;
use crate::observe::record::RequestRecord;

/// A batch of events: `{"batch":[…]}`.
pub const ENVELOPE: (&str, &str) = ("{\"batch\":[", "]}");

/// Skips a field that is `None`.
fn none<T>(value: &Option<T>) -> bool {
    value.is_none()
}

/// Skips a count that is 0.
fn zero(value: &u64) -> bool {
    *value == 0
}

/// Skips an empty string.
fn empty(value: &&str) -> bool {
    value.is_empty()
}

/// An ingestion event: `{"id", "timestamp", "type", "body"}`.
#[derive(Serialize)]
struct Event<'a, B> {
    id: String,
    timestamp: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    body: B,
}

/// Langfuse's `TraceBody`, the fields LiteLLM sets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Trace<'a> {
    id: &'a str,
    timestamp: String,
    name: &'a str,
    #[serde(skip_serializing_if = "none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "none")]
    input: Option<&'a Value>,
    #[serde(skip_serializing_if = "none")]
    output: Option<Value>,
    tags: &'a [String],
}

/// Langfuse's `IngestionUsage` in tokens.
#[derive(Serialize)]
struct TokenUsage {
    input: u64,
    output: u64,
    total: u64,
    unit: &'static str,
}

/// LiteLLM's `usageDetails`.
#[derive(Serialize)]
struct UsageDetails {
    input: u64,
    output: u64,
    total: u64,
    #[serde(skip_serializing_if = "zero")]
    cache_read_input_tokens: u64,
    #[serde(skip_serializing_if = "zero")]
    cache_creation_input_tokens: u64,
}

/// `costDetails`.
#[derive(Serialize)]
struct CostDetails {
    total: f64,
}

/// LiteLLM's generation metadata: the key's facts (`user_api_key_*`), where the
/// answer came from and what it cost (`StandardLoggingMetadata` and the Langfuse
/// logger's enrichments). Empty strings are left out.
#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "empty")]
    user_api_key_hash: &'a str,
    #[serde(skip_serializing_if = "empty")]
    user_api_key_alias: &'a str,
    #[serde(skip_serializing_if = "empty")]
    user_api_key_team_id: &'a str,
    #[serde(skip_serializing_if = "empty")]
    user_api_key_team_alias: &'a str,
    #[serde(skip_serializing_if = "empty")]
    user_api_key_user_id: &'a str,
    #[serde(skip_serializing_if = "empty")]
    user_api_key_end_user_id: &'a str,
    #[serde(skip_serializing_if = "empty")]
    litellm_call_id: &'a str,
    #[serde(skip_serializing_if = "empty")]
    requested_model: &'a str,
    #[serde(skip_serializing_if = "empty")]
    model_id: &'a str,
    #[serde(skip_serializing_if = "empty")]
    model_group: &'a str,
    #[serde(skip_serializing_if = "empty")]
    api_base: &'a str,
    status_code: u16,
    litellm_response_cost: f64,
    cache_hit: bool,
}

impl<'a> Metadata<'a> {
    fn of(facts: &Facts<'a>) -> Metadata<'a> {
        let r = facts.record;
        let a = facts.attempt;
        Metadata {
            user_api_key_hash: &r.key.hashed_api_key,
            user_api_key_alias: &r.key.api_key_alias,
            user_api_key_team_id: &r.key.team,
            user_api_key_team_alias: &r.key.team_alias,
            user_api_key_user_id: &r.key.user,
            user_api_key_end_user_id: &r.end_user,
            litellm_call_id: &r.call_id,
            requested_model: &r.requested_model,
            model_id: a.map_or("", |a| a.model_id.as_str()),
            model_group: a.map_or("", |a| a.model_group.as_str()),
            api_base: a.map_or("", |a| a.api_base.as_str()),
            status_code: r.status,
            litellm_response_cost: facts.spend(),
            cache_hit: false,
        }
    }
}

/// Langfuse's `CreateGenerationBody`, the fields LiteLLM sets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Generation<'a> {
    id: &'a str,
    trace_id: &'a str,
    name: &'a str,
    start_time: String,
    end_time: String,
    #[serde(skip_serializing_if = "none")]
    completion_start_time: Option<String>,
    model: &'a str,
    model_parameters: Map<String, Value>,
    #[serde(skip_serializing_if = "none")]
    input: Option<&'a Value>,
    #[serde(skip_serializing_if = "none")]
    output: Option<Value>,
    #[serde(skip_serializing_if = "none")]
    usage: Option<TokenUsage>,
    #[serde(skip_serializing_if = "none")]
    usage_details: Option<UsageDetails>,
    #[serde(skip_serializing_if = "none")]
    cost_details: Option<CostDetails>,
    metadata: Metadata<'a>,
    level: &'static str,
    #[serde(skip_serializing_if = "none")]
    status_message: Option<String>,
}

/// The two events of one request, comma-separated (a batch item). Serialized from
/// typed structs, not built as a `serde_json::Value` tree first: one per request,
/// and the tree's maps cost more than the encoding itself.
pub fn events(record: &RequestRecord, message_logging: bool) -> Vec<u8> {
    let facts = Facts::of(record);
    let details = facts.details();
    let meta = details.map(|d| &d.metadata);
    let failed = record.failed();
    let default_name = format!("litellm-{}", record.call_type);
    let trace_id = meta
        .and_then(|m| m.trace_id.as_deref())
        .unwrap_or(&record.call_id);
    let input = details
        .filter(|_| message_logging)
        .and_then(|d| d.input.as_ref());
    // The assistant message as LiteLLM logs it (`message.json()`), only with message
    // logging and never for a failure.
    let output = || {
        details
            .filter(|_| message_logging && !failed)
            .and_then(|d| d.output.as_ref())
            .filter(|output| !output.is_empty())
            .map(|output| output.openai_message())
    };
    let user = meta
        .and_then(|m| m.trace_user_id.as_deref())
        .or_else(|| (!record.end_user.is_empty()).then_some(record.end_user.as_str()));
    let trace = Trace {
        id: trace_id,
        timestamp: iso8601(record.start_ms),
        name: meta
            .and_then(|m| m.trace_name.as_deref())
            .unwrap_or(&default_name),
        user_id: user,
        session_id: meta.and_then(|m| m.session_id.as_deref()),
        input,
        output: output(),
        tags: meta.map_or(&[][..], |m| m.tags.as_slice()),
    };

    let alias_name = (!record.key.api_key_alias.is_empty())
        .then(|| format!("litellm:{}", record.key.api_key_alias));
    let generation_name = meta
        .and_then(|m| m.generation_name.as_deref())
        .or(alias_name.as_deref())
        .unwrap_or(&default_name);
    let (prompt, completion, total) = facts.tokens();
    let usage = facts.attempt.and_then(|a| a.usage.as_ref());
    let cache_read = usage.map_or(0, |u| u.cache_read_tokens);
    let cache_creation = usage.map_or(0, |u| u.cache_creation_tokens);
    let input_tokens = prompt.saturating_sub(cache_read);
    let generation = Generation {
        id: &record.call_id,
        trace_id,
        name: generation_name,
        start_time: iso8601(record.start_ms),
        end_time: iso8601(record.end_ms),
        completion_start_time: facts.attempt.and_then(|a| a.first_token_ms).map(iso8601),
        model: facts.model(),
        model_parameters: details.map(|d| d.parameters_object()).unwrap_or_default(),
        input,
        output: output(),
        usage: usage.map(|_| TokenUsage {
            input: input_tokens,
            output: completion,
            total,
            unit: "TOKENS",
        }),
        usage_details: usage.map(|_| UsageDetails {
            input: input_tokens,
            output: completion,
            total,
            cache_read_input_tokens: cache_read,
            cache_creation_input_tokens: cache_creation,
        }),
        cost_details: usage.map(|_| CostDetails {
            total: facts.spend(),
        }),
        metadata: Metadata::of(&facts),
        level: if failed { "ERROR" } else { "DEFAULT" },
        status_message: failed.then(|| facts.error_message()),
    };

    let timestamp = iso8601(record.end_ms);
    let trace_event = Event {
        id: format!("{}-trace", record.call_id),
        timestamp: &timestamp,
        kind: "trace-create",
        body: trace,
    };
    let generation_event = Event {
        id: format!("{}-generation", record.call_id),
        timestamp: &timestamp,
        kind: "generation-create",
        body: generation,
    };
    // Structs of strings, numbers and JSON values: serializing them cannot fail.
    let mut out = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut out, &trace_event).is_err() {
        return Vec::new();
    }
    out.push(b',');
    if serde_json::to_writer(&mut out, &generation_event).is_err() {
        return Vec::new();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{detailed_record, failed_record, success_record, CALL_ID};
    use super::*;
    use crate::outbox::batch;
    use serde_json::json;

    fn parse(record: &RequestRecord, message_logging: bool) -> Value {
        let (_, body) = batch(
            vec![(1, events(record, message_logging))],
            ENVELOPE.0,
            ENVELOPE.1,
        );
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn a_success_is_a_trace_and_a_generation_as_langfuse_takes_them() {
        // Hand-checked against Langfuse's API reference (IngestionEvent, TraceBody,
        // CreateGenerationBody, IngestionUsage) and LiteLLM's _log_langfuse_v2.
        let expected = json!({"batch": [
            {"id": format!("{CALL_ID}-trace"), "timestamp": "2026-12-07T12:52:17.000Z",
             "type": "trace-create",
             "body": {"id": CALL_ID, "timestamp": "2026-12-07T12:52:16.000Z",
                      "name": "litellm-acompletion", "userId": "end-user-9", "tags": []}},
            {"id": format!("{CALL_ID}-generation"), "timestamp": "2026-12-07T12:52:17.000Z",
             "type": "generation-create",
             "body": {"id": CALL_ID, "traceId": CALL_ID, "name": "litellm:team-a-key",
                      "startTime": "2026-12-07T12:52:16.000Z",
                      "endTime": "2026-12-07T12:52:17.000Z",
                      "completionStartTime": "2026-12-07T12:52:16.250Z",
                      "model": "gpt-4o", "modelParameters": {},
                      "usage": {"input": 8, "output": 7, "total": 18, "unit": "TOKENS"},
                      "usageDetails": {"input": 8, "output": 7, "total": 18,
                                       "cache_read_input_tokens": 3},
                      "costDetails": {"total": 0.00042},
                      "level": "DEFAULT",
                      "metadata": {
                          "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                          "user_api_key_alias": "team-a-key", "user_api_key_team_id": "team-a",
                          "user_api_key_team_alias": "Team A", "user_api_key_user_id": "user-1",
                          "user_api_key_end_user_id": "end-user-9", "litellm_call_id": CALL_ID,
                          "requested_model": "gpt-4", "model_id": "dep-1", "model_group": "gpt-4o",
                          "api_base": "https://api.openai.com/v1", "status_code": 200,
                          "litellm_response_cost": 0.00042, "cache_hit": false}}}
        ]});
        assert_eq!(parse(&success_record(), true), expected);
    }

    #[test]
    fn a_failure_is_an_error_level_generation_with_its_message() {
        let v = parse(&failed_record(), true);
        let generation = &v["batch"][1]["body"];
        assert_eq!(generation["level"], "ERROR");
        assert_eq!(
            generation["statusMessage"],
            "litellm.InternalServerError: upstream exploded"
        );
        assert_eq!(generation["endTime"], "2026-12-07T12:52:18.000Z");
        assert!(
            generation.get("usage").is_none() && generation.get("completionStartTime").is_none()
        );
        assert_eq!(generation["metadata"]["status_code"], 500);
    }

    #[test]
    fn the_clients_metadata_names_the_trace_and_content_follows_message_logging() {
        let v = parse(&detailed_record(), true);
        let (trace, generation) = (&v["batch"][0]["body"], &v["batch"][1]["body"]);
        assert_eq!(trace["id"], "conversation-42");
        assert_eq!(trace["name"], "support-bot");
        assert_eq!(trace["userId"], "alice");
        assert_eq!(trace["sessionId"], "session-7");
        assert_eq!(trace["tags"], json!(["prod", "v2"]));
        assert_eq!(trace["input"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(generation["name"], "answer");
        assert_eq!(generation["traceId"], "conversation-42");
        assert_eq!(
            generation["modelParameters"],
            json!({"temperature": 0.2, "max_tokens": 64})
        );
        assert_eq!(
            generation["output"],
            json!({"role": "assistant", "content": "Hello!"})
        );
        let off = parse(&detailed_record(), false);
        for event in off["batch"].as_array().unwrap() {
            assert!(event["body"].get("input").is_none() && event["body"].get("output").is_none());
        }
    }

    #[test]
    fn the_output_is_the_assistant_message_with_its_tool_calls() {
        let mut record = detailed_record();
        let mut output = crate::observe::AnswerOutput::default();
        output.tool_call(0, Some("call_1"), Some("get_weather"));
        output.push_arguments(0, "{\"city\":\"Paris\"}");
        output.finish("tool_calls");
        record.details.as_mut().unwrap().output = Some(output);
        let v = parse(&record, true);
        let expected = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]});
        assert_eq!(v["batch"][0]["body"]["output"], expected, "the trace's");
        assert_eq!(
            v["batch"][1]["body"]["output"], expected,
            "the generation's"
        );
        // A failure carries no output.
        let mut failed = record.clone();
        failed.status = 500;
        let v = parse(&failed, true);
        assert!(v["batch"][1]["body"].get("output").is_none());
    }

    #[test]
    fn a_client_trace_id_never_names_a_generation() {
        // A client naming another request's call id as its trace id joins that trace
        // (LiteLLM's behaviour) but its generation and event ids stay its own.
        let mut victim = success_record();
        victim.call_id = "victim-call".into();
        let mut attacker = detailed_record();
        attacker.call_id = "attacker-call".into();
        if let Some(d) = attacker.details.as_mut() {
            d.metadata.trace_id = Some("victim-call".into());
        }
        let (a, v) = (parse(&attacker, true), parse(&victim, true));
        let ids = |x: &Value| -> Vec<String> {
            x["batch"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|e| [e["id"].as_str().unwrap().to_string()])
                .chain([x["batch"][1]["body"]["id"].as_str().unwrap().to_string()])
                .collect()
        };
        assert_eq!(
            ids(&a),
            [
                "attacker-call-trace",
                "attacker-call-generation",
                "attacker-call"
            ]
        );
        assert!(ids(&a).iter().all(|id| !ids(&v).contains(id)));
        assert_eq!(a["batch"][1]["body"]["traceId"], "victim-call");
    }
}
