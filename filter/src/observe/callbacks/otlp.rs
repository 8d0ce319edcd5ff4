//! The `otel` and `langfuse_otel` callbacks: one span per request in OTLP/HTTP's
//! JSON encoding (`POST …/v1/traces`, `content-type: application/json`), with the
//! OpenTelemetry GenAI semantic conventions.
//!
//! Encoding (the OTLP specification's "JSON Protobuf Encoding"): field names in
//! lowerCamelCase, `traceId`/`spanId` as hex strings (not base64), 64-bit integers
//! (`startTimeUnixNano`, `intValue`) as decimal strings, enums as integers
//! (`kind` 3 = CLIENT; `status.code` 1 = OK, 2 = ERROR), attributes as
//! `KeyValue`/`AnyValue` objects.
//!
//! What goes in follows LiteLLM 1.102.4's `litellm/integrations/opentelemetry.py`:
//! the span `litellm_request`, status OK or ERROR, service name `litellm`; the ids
//! are derived from the call id (`format::trace_id`, `format::span_id`), never from
//! a client's value.
//!
//! The span is serialized from typed structs ([`Span`], [`KeyValue`], [`AnyValue`]),
//! not built as a `serde_json::Value` tree first: one per request, and the tree's
//! maps cost more than the encoding itself.

use serde::Serialize;
use serde_json::{json, Value};

use super::format::{span_id, trace_id};
use super::Facts;
use crate::observe::record::RequestRecord;

/// A batch of spans: one resource (`service.name` `litellm`), one scope.
pub const ENVELOPE: (&str, &str) = (
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"litellm\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"switchyard\"},\"spans\":[",
    "]}]}]}",
);

/// LiteLLM's span name (`LITELLM_REQUEST_SPAN_NAME`).
pub const SPAN_NAME: &str = "litellm_request";
/// OTLP's `SPAN_KIND_CLIENT`.
const KIND_CLIENT: u8 = 3;
/// OTLP's `STATUS_CODE_OK`.
const STATUS_OK: u8 = 1;
/// OTLP's `STATUS_CODE_ERROR`.
const STATUS_ERROR: u8 = 2;

/// OTLP's `AnyValue`, as its JSON encoding has it (`{"stringValue": …}`; 64-bit
/// integers as decimal strings).
#[derive(Serialize)]
enum AnyValue {
    #[serde(rename = "stringValue")]
    Str(String),
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "boolValue")]
    Bool(bool),
    #[serde(rename = "doubleValue")]
    Double(f64),
}

/// OTLP's `KeyValue`: one attribute.
#[derive(Serialize)]
struct KeyValue {
    key: &'static str,
    value: AnyValue,
}

/// OTLP's `Status`.
#[derive(Serialize)]
struct Status {
    code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// OTLP's `Span`, the fields LiteLLM sets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Span {
    trace_id: String,
    span_id: String,
    name: &'static str,
    kind: u8,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Vec<KeyValue>,
    status: Status,
}

fn string(key: &'static str, value: &str) -> KeyValue {
    KeyValue {
        key,
        value: AnyValue::Str(value.to_string()),
    }
}

fn int(key: &'static str, value: u64) -> KeyValue {
    KeyValue {
        key,
        value: AnyValue::Int(value.to_string()),
    }
}

/// A JSON number or bool as the matching `AnyValue`; other values as their text.
fn any(key: &'static str, value: &Value) -> KeyValue {
    let value = match value {
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::Number(n) if n.is_i64() || n.is_u64() => AnyValue::Int(n.to_string()),
        Value::Number(n) => AnyValue::Double(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => AnyValue::Str(s.clone()),
        other => AnyValue::Str(other.to_string()),
    };
    KeyValue { key, value }
}

/// Unix milliseconds as OTLP's unix-nanosecond string.
fn nanos(ms: u64) -> String {
    ms.saturating_mul(1_000_000).to_string()
}

/// The answer as the GenAI conventions' `gen_ai.output.messages`
/// (`gen-ai-output-messages.json`): one assistant message whose parts are its text
/// (`TextPart`) and its tool calls (`ToolCallRequestPart`, the arguments as JSON
/// when they parse, else their text), with its `finish_reason`.
fn output_messages(output: &crate::observe::AnswerOutput) -> Value {
    let mut parts = Vec::with_capacity(1 + output.tool_calls.len());
    if !output.text.is_empty() {
        parts.push(json!({"type": "text", "content": output.text}));
    }
    for call in &output.tool_calls {
        let arguments = serde_json::from_str::<Value>(&call.arguments)
            .unwrap_or_else(|_| Value::String(call.arguments.clone()));
        parts.push(
            json!({"type": "tool_call", "id": call.id, "name": call.name,
                          "arguments": arguments}),
        );
    }
    json!([{"role": "assistant", "parts": parts,
            "finish_reason": output.semconv_finish_reason()}])
}

/// One request's span (a batch item).
pub fn span(record: &RequestRecord, message_logging: bool) -> Vec<u8> {
    let facts = Facts::of(record);
    let failed = record.failed();
    let (prompt, completion, total) = facts.tokens();
    let mut attributes = vec![
        string("gen_ai.operation.name", facts.operation()),
        string("gen_ai.request.model", &record.requested_model),
        string("gen_ai.response.model", facts.model()),
        string("litellm.call_id", &record.call_id),
        string("litellm.call_type", &record.call_type),
        KeyValue {
            key: "gen_ai.request.stream",
            value: AnyValue::Bool(record.stream),
        },
        int("http.response.status_code", u64::from(record.status)),
    ];
    if let Some(provider) = facts.provider() {
        attributes.push(string("gen_ai.provider.name", provider));
    }
    if let Some(a) = facts.attempt {
        if a.usage.is_some() {
            attributes.push(int("gen_ai.usage.input_tokens", prompt));
            attributes.push(int("gen_ai.usage.output_tokens", completion));
            attributes.push(int("llm.usage.total_tokens", total));
        }
        if !a.model_group.is_empty() {
            attributes.push(string("litellm.model_group", &a.model_group));
        }
        if !a.model_id.is_empty() {
            attributes.push(string("litellm.model_id", &a.model_id));
        }
        attributes.push(KeyValue {
            key: "gen_ai.cost.total_cost",
            value: AnyValue::Double(a.spend),
        });
    }
    if let Some(d) = facts.details() {
        for (name, attribute) in [
            ("max_tokens", "gen_ai.request.max_tokens"),
            ("temperature", "gen_ai.request.temperature"),
            ("top_p", "gen_ai.request.top_p"),
        ] {
            if let Some(v) = d.parameter(name) {
                attributes.push(any(attribute, v));
            }
        }
        if let Some(session) = &d.metadata.session_id {
            attributes.push(string("session.id", session));
        }
        if message_logging {
            if let Some(input) = &d.input {
                attributes.push(string("gen_ai.input.messages", &input.to_string()));
            }
            if let Some(output) = d.output.as_ref().filter(|o| !failed && !o.is_empty()) {
                attributes.push(string(
                    "gen_ai.output.messages",
                    &output_messages(output).to_string(),
                ));
            }
        }
    }
    if !record.key.hashed_api_key.is_empty() {
        attributes.push(string(
            "metadata.user_api_key_hash",
            &record.key.hashed_api_key,
        ));
    }
    if !record.key.team.is_empty() {
        attributes.push(string("metadata.user_api_key_team_id", &record.key.team));
    }
    let status = if failed {
        attributes.push(string("error.type", &record.status.to_string()));
        Status {
            code: STATUS_ERROR,
            message: Some(facts.error_message()),
        }
    } else {
        Status {
            code: STATUS_OK,
            message: None,
        }
    };
    let span = Span {
        trace_id: trace_id(&record.call_id),
        span_id: span_id(&record.call_id),
        name: SPAN_NAME,
        kind: KIND_CLIENT,
        start_time_unix_nano: nanos(record.start_ms),
        end_time_unix_nano: nanos(record.end_ms),
        attributes,
        status,
    };
    // Structs of strings and numbers: serializing them cannot fail.
    serde_json::to_vec(&span).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{detailed_record, failed_record, success_record};
    use super::*;
    use crate::outbox::batch;

    fn parse(records: &[RequestRecord], message_logging: bool) -> Value {
        let items = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u64, span(r, message_logging)))
            .collect();
        let (_, body) = batch(items, ENVELOPE.0, ENVELOPE.1);
        serde_json::from_slice(&body).unwrap()
    }

    fn attribute<'v>(span: &'v Value, key: &str) -> Option<&'v Value> {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    #[test]
    fn a_success_is_one_client_span_with_the_genai_attributes() {
        let v = parse(&[success_record()], false);
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "litellm"}})
        );
        assert_eq!(
            v["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
            "switchyard"
        );
        let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        // Hand-checked: the call id's UUID bits, unix nanoseconds as strings.
        assert_eq!(span["traceId"], "0d2f6a1c9b3e4c5d8e7fa1b2c3d4e5f6");
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(span["name"], "litellm_request");
        assert_eq!(span["kind"], 3);
        assert_eq!(span["startTimeUnixNano"], "1796647936000000000");
        assert_eq!(span["endTimeUnixNano"], "1796647937000000000");
        assert_eq!(span["status"], json!({"code": 1}));
        for (key, value) in [
            ("gen_ai.operation.name", json!({"stringValue": "chat"})),
            ("gen_ai.provider.name", json!({"stringValue": "openai"})),
            ("gen_ai.request.model", json!({"stringValue": "gpt-4"})),
            ("gen_ai.response.model", json!({"stringValue": "gpt-4o"})),
            ("gen_ai.usage.input_tokens", json!({"intValue": "11"})),
            ("gen_ai.usage.output_tokens", json!({"intValue": "7"})),
            ("http.response.status_code", json!({"intValue": "200"})),
        ] {
            assert_eq!(attribute(span, key), Some(&value), "{key}");
        }
        assert_eq!(attribute(span, "error.type"), None);
        assert_eq!(attribute(span, "gen_ai.input.messages"), None);
    }

    #[test]
    fn a_failure_has_error_status_and_type() {
        let v = parse(&[failed_record()], false);
        let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(
            span["status"],
            json!({"code": 2, "message": "litellm.InternalServerError: upstream exploded"})
        );
        assert_eq!(
            attribute(span, "error.type"),
            Some(&json!({"stringValue": "500"}))
        );
        assert_eq!(
            attribute(span, "gen_ai.usage.input_tokens"),
            None,
            "no usage known"
        );
    }

    #[test]
    fn parameters_and_content_follow_the_request_and_message_logging() {
        let on = parse(&[detailed_record()], true);
        let span = &on["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(
            attribute(span, "gen_ai.request.max_tokens"),
            Some(&json!({"intValue": "64"}))
        );
        assert_eq!(
            attribute(span, "gen_ai.request.temperature"),
            Some(&json!({"doubleValue": 0.2}))
        );
        let input = attribute(span, "gen_ai.input.messages").unwrap()["stringValue"]
            .as_str()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(input).unwrap(),
            json!([{"role": "user", "content": "hi"}])
        );
        let output = attribute(span, "gen_ai.output.messages").unwrap()["stringValue"]
            .as_str()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(output).unwrap(),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}],
                    "finish_reason": "stop"}])
        );
        let off = parse(&[detailed_record()], false);
        let span = &off["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(attribute(span, "gen_ai.input.messages"), None);
        assert_eq!(attribute(span, "gen_ai.output.messages"), None);
    }

    #[test]
    fn tool_calls_are_tool_call_parts() {
        let mut record = detailed_record();
        let mut output = crate::observe::AnswerOutput::default();
        output.tool_call(0, Some("call_1"), Some("get_weather"));
        output.push_arguments(0, "{\"city\":\"Paris\"}");
        output.tool_call(1, Some("call_2"), Some("broken"));
        output.push_arguments(1, "{\"cut");
        output.finish("tool_calls");
        record.details.as_mut().unwrap().output = Some(output);
        let v = parse(&[record], true);
        let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        let text = attribute(span, "gen_ai.output.messages").unwrap()["stringValue"]
            .as_str()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            json!([{"role": "assistant", "finish_reason": "tool_call", "parts": [
                {"type": "tool_call", "id": "call_1", "name": "get_weather",
                 "arguments": {"city": "Paris"}},
                {"type": "tool_call", "id": "call_2", "name": "broken", "arguments": "{\"cut"}]}])
        );
    }

    #[test]
    fn a_batch_holds_one_span_per_request_with_distinct_ids() {
        let mut other = success_record();
        other.call_id = "another-call".into();
        let v = parse(&[success_record(), other], false);
        let spans = v["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 2);
        assert_ne!(spans[0]["traceId"], spans[1]["traceId"]);
        assert_ne!(spans[0]["spanId"], spans[1]["spanId"]);
    }
}
