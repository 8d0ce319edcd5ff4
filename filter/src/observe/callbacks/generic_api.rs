//! The `generic_api` callback: LiteLLM's generic logger (`GenericAPILogger`,
//! `litellm/integrations/generic_api/generic_api_callback.py`), which POSTs a JSON
//! array of `StandardLoggingPayload`s (its default `log_format: json_array`) to
//! `GENERIC_LOGGER_ENDPOINT` with `GENERIC_LOGGER_HEADERS`.
//!
//! The payload is the subset of `StandardLoggingPayload` (`litellm/types/utils.py`)
//! the record knows, under LiteLLM's names and types: times as Unix seconds
//! (floats), `status` `success`/`failure`, the key's facts in `metadata`
//! (`StandardLoggingUserAPIKeyMetadata`), `messages` and `response` only with
//! message logging.

use serde_json::{json, Map, Value};

use super::Facts;
use crate::observe::record::RequestRecord;

/// A batch of payloads: a JSON array.
pub const ENVELOPE: (&str, &str) = ("[", "]");

/// Unix milliseconds as LiteLLM's float seconds.
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// One request's logging payload (a batch item).
pub fn payload(record: &RequestRecord, message_logging: bool) -> Vec<u8> {
    let facts = Facts::of(record);
    let details = facts.details();
    let failed = record.failed();
    let (prompt, completion, total) = facts.tokens();
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let metadata = json!({
        "user_api_key_hash": opt(&record.key.hashed_api_key),
        "user_api_key_alias": opt(&record.key.api_key_alias),
        "user_api_key_team_id": opt(&record.key.team),
        "user_api_key_team_alias": opt(&record.key.team_alias),
        "user_api_key_user_id": opt(&record.key.user),
        "user_api_key_end_user_id": opt(&record.end_user),
        "team_id": opt(&record.key.team),
        "team_alias": opt(&record.key.team_alias),
    });
    let parameters: Map<String, Value> = details.map(|d| d.parameters_object()).unwrap_or_default();
    let content = details.filter(|_| message_logging);
    let response = content
        .filter(|_| !failed)
        .and_then(|d| d.output.as_ref())
        .filter(|output| !output.is_empty())
        .map(|output| {
            json!({"object": "chat.completion", "model": facts.model(),
                   "choices": [{"index": 0, "finish_reason": output.finish_reason,
                                "message": output.openai_message()}]})
        });
    let completion_start = facts
        .attempt
        .and_then(|a| a.first_token_ms)
        .unwrap_or(record.end_ms);
    let error_information = failed.then(|| {
        json!({
            "error_code": record.status.to_string(),
            "llm_provider": facts.provider(),
            "error_message": facts.error_message(),
        })
    });
    let trace_id = details
        .and_then(|d| d.metadata.trace_id.clone())
        .unwrap_or_else(|| record.call_id.clone());
    json!({
        "id": record.call_id,
        "trace_id": trace_id,
        "litellm_call_id": record.call_id,
        "call_type": record.call_type,
        "stream": record.stream,
        "response_cost": facts.spend(),
        "status": if failed { "failure" } else { "success" },
        "custom_llm_provider": facts.provider(),
        "total_tokens": total,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": secs(record.start_ms),
        "endTime": secs(record.end_ms),
        "completionStartTime": secs(completion_start),
        "response_time": record.total_latency_secs(),
        "model": facts.model(),
        "model_id": facts.attempt.map(|a| a.model_id.as_str()).and_then(opt),
        "model_group": facts.attempt.map(|a| a.model_group.as_str()).and_then(opt),
        "api_base": facts.attempt.map_or("", |a| a.api_base.as_str()),
        "metadata": metadata,
        "cache_hit": false,
        "request_tags": details.map(|d| d.metadata.tags.clone()).unwrap_or_default(),
        "end_user": opt(&record.end_user),
        "messages": content.and_then(|d| d.input.clone()),
        "response": response,
        "error_str": failed.then(|| facts.error_message()),
        "error_information": error_information,
        "model_parameters": parameters,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{detailed_record, failed_record, success_record, CALL_ID};
    use super::*;

    fn parse(record: &RequestRecord, message_logging: bool) -> Value {
        serde_json::from_slice(&payload(record, message_logging)).unwrap()
    }

    #[test]
    fn a_success_is_a_standard_logging_payload() {
        let expected = json!({
            "id": CALL_ID, "trace_id": CALL_ID, "litellm_call_id": CALL_ID,
            "call_type": "acompletion", "stream": false, "response_cost": 0.00042,
            "status": "success", "custom_llm_provider": "openai",
            "total_tokens": 18, "prompt_tokens": 11, "completion_tokens": 7,
            "startTime": 1_796_647_936.0, "endTime": 1_796_647_937.0,
            "completionStartTime": 1_796_647_936.25, "response_time": 1.0,
            "model": "gpt-4o", "model_id": "dep-1", "model_group": "gpt-4o",
            "api_base": "https://api.openai.com/v1",
            "metadata": {
                "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                "user_api_key_alias": "team-a-key", "user_api_key_team_id": "team-a",
                "user_api_key_team_alias": "Team A", "user_api_key_user_id": "user-1",
                "user_api_key_end_user_id": "end-user-9", "team_id": "team-a", "team_alias": "Team A"},
            "cache_hit": false, "request_tags": [], "end_user": "end-user-9",
            "messages": null, "response": null, "error_str": null, "error_information": null,
            "model_parameters": {}
        });
        assert_eq!(parse(&success_record(), true), expected);
    }

    #[test]
    fn a_failure_carries_its_error() {
        let v = parse(&failed_record(), true);
        assert_eq!(v["status"], "failure");
        assert_eq!(
            v["error_str"],
            "litellm.InternalServerError: upstream exploded"
        );
        assert_eq!(v["error_information"]["error_code"], "500");
        assert_eq!(v["error_information"]["llm_provider"], "openai");
        assert_eq!(v["total_tokens"], 0);
    }

    #[test]
    fn content_only_with_message_logging() {
        let on = parse(&detailed_record(), true);
        assert_eq!(on["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(
            on["response"],
            json!({"object": "chat.completion", "model": "gpt-4o",
                   "choices": [{"index": 0, "finish_reason": null,
                                "message": {"role": "assistant", "content": "Hello!"}}]})
        );
        assert_eq!(on["request_tags"], json!(["prod", "v2"]));
        assert_eq!(
            on["model_parameters"],
            json!({"temperature": 0.2, "max_tokens": 64})
        );
        let off = parse(&detailed_record(), false);
        assert_eq!(
            (&off["messages"], &off["response"]),
            (&Value::Null, &Value::Null)
        );
    }
}
