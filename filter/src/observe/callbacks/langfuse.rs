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

use serde_json::{json, Map, Value};

use super::format::iso8601;
use super::Facts;
use crate::observe::record::RequestRecord;

/// A batch of events: `{"batch":[…]}`.
pub const ENVELOPE: (&str, &str) = ("{\"batch\":[", "]}");

/// Puts `value` under `key` unless it is `None`.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value);
    }
}

/// LiteLLM's generation metadata: the key's facts (`user_api_key_*`), where the
/// answer came from and what it cost (`StandardLoggingMetadata` and the Langfuse
/// logger's enrichments).
fn metadata(facts: &Facts) -> Value {
    let r = facts.record;
    let mut m = Map::new();
    let mut text = |key: &str, value: &str| {
        if !value.is_empty() {
            m.insert(key.to_string(), Value::String(value.to_string()));
        }
    };
    text("user_api_key_hash", &r.key.hashed_api_key);
    text("user_api_key_alias", &r.key.api_key_alias);
    text("user_api_key_team_id", &r.key.team);
    text("user_api_key_team_alias", &r.key.team_alias);
    text("user_api_key_user_id", &r.key.user);
    text("user_api_key_end_user_id", &r.end_user);
    text("litellm_call_id", &r.call_id);
    text("requested_model", &r.requested_model);
    if let Some(a) = facts.attempt {
        text("model_id", &a.model_id);
        text("model_group", &a.model_group);
        text("api_base", &a.api_base);
    }
    m.insert("status_code".into(), json!(r.status));
    m.insert("litellm_response_cost".into(), json!(facts.spend()));
    m.insert("cache_hit".into(), json!(false));
    Value::Object(m)
}

/// The two events of one request, comma-separated (a batch item).
pub fn events(record: &RequestRecord, message_logging: bool) -> Vec<u8> {
    let facts = Facts::of(record);
    let details = facts.details();
    let meta = details.map(|d| &d.metadata);
    let failed = record.failed();
    let default_name = format!("litellm-{}", record.call_type);
    let trace_id = meta
        .and_then(|m| m.trace_id.clone())
        .unwrap_or_else(|| record.call_id.clone());
    let input = details
        .filter(|_| message_logging)
        .and_then(|d| d.input.clone());
    let output = details
        .filter(|_| message_logging && !failed)
        .and_then(|d| d.output.as_ref())
        .filter(|output| !output.is_empty())
        .map(|output| output.openai_message());

    let mut trace = Map::new();
    trace.insert("id".into(), json!(trace_id));
    trace.insert("timestamp".into(), json!(iso8601(record.start_ms)));
    trace.insert(
        "name".into(),
        json!(meta
            .and_then(|m| m.trace_name.clone())
            .unwrap_or_else(|| default_name.clone())),
    );
    let user = meta
        .and_then(|m| m.trace_user_id.clone())
        .or_else(|| (!record.end_user.is_empty()).then(|| record.end_user.clone()));
    put(&mut trace, "userId", user.map(Value::String));
    put(
        &mut trace,
        "sessionId",
        meta.and_then(|m| m.session_id.clone()).map(Value::String),
    );
    put(&mut trace, "input", input.clone());
    put(&mut trace, "output", output.clone());
    trace.insert(
        "tags".into(),
        json!(meta.map(|m| m.tags.clone()).unwrap_or_default()),
    );

    let generation_name = meta
        .and_then(|m| m.generation_name.clone())
        .or_else(|| {
            (!record.key.api_key_alias.is_empty())
                .then(|| format!("litellm:{}", record.key.api_key_alias))
        })
        .unwrap_or(default_name);
    let (prompt, completion, total) = facts.tokens();
    let cache_read = facts
        .attempt
        .and_then(|a| a.usage.as_ref())
        .map_or(0, |u| u.cache_read_tokens);
    let cache_creation = facts
        .attempt
        .and_then(|a| a.usage.as_ref())
        .map_or(0, |u| u.cache_creation_tokens);
    let input_tokens = prompt.saturating_sub(cache_read);
    let parameters: Map<String, Value> = details.map(|d| d.parameters_object()).unwrap_or_default();
    let mut generation = Map::new();
    generation.insert("id".into(), json!(record.call_id));
    generation.insert("traceId".into(), json!(trace_id));
    generation.insert("name".into(), json!(generation_name));
    generation.insert("startTime".into(), json!(iso8601(record.start_ms)));
    generation.insert("endTime".into(), json!(iso8601(record.end_ms)));
    put(
        &mut generation,
        "completionStartTime",
        facts
            .attempt
            .and_then(|a| a.first_token_ms)
            .map(|ms| json!(iso8601(ms))),
    );
    generation.insert("model".into(), json!(facts.model()));
    generation.insert("modelParameters".into(), Value::Object(parameters));
    put(&mut generation, "input", input);
    put(&mut generation, "output", output);
    if facts.attempt.and_then(|a| a.usage.as_ref()).is_some() {
        generation.insert(
            "usage".into(),
            json!({"input": input_tokens, "output": completion, "total": total, "unit": "TOKENS"}),
        );
        let mut details = Map::new();
        details.insert("input".into(), json!(input_tokens));
        details.insert("output".into(), json!(completion));
        details.insert("total".into(), json!(total));
        if cache_read > 0 {
            details.insert("cache_read_input_tokens".into(), json!(cache_read));
        }
        if cache_creation > 0 {
            details.insert("cache_creation_input_tokens".into(), json!(cache_creation));
        }
        generation.insert("usageDetails".into(), Value::Object(details));
        generation.insert("costDetails".into(), json!({"total": facts.spend()}));
    }
    generation.insert("metadata".into(), metadata(&facts));
    if failed {
        generation.insert("level".into(), json!("ERROR"));
        generation.insert("statusMessage".into(), json!(facts.error_message()));
    } else {
        generation.insert("level".into(), json!("DEFAULT"));
    }

    let timestamp = iso8601(record.end_ms);
    let trace_event = json!({
        "id": format!("{}-trace", record.call_id),
        "timestamp": timestamp,
        "type": "trace-create",
        "body": trace,
    });
    let generation_event = json!({
        "id": format!("{}-generation", record.call_id),
        "timestamp": timestamp,
        "type": "generation-create",
        "body": generation,
    });
    let mut out = trace_event.to_string().into_bytes();
    out.push(b',');
    out.extend_from_slice(generation_event.to_string().as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{detailed_record, failed_record, success_record, CALL_ID};
    use super::*;
    use crate::outbox::batch;

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
