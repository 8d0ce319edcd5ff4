//! A whole answer replayed as an OpenAI stream (`fake_stream`).

use super::*;

/// A whole chat answer replayed as OpenAI SSE: per choice a delta with
/// everything the message has, then its `finish_reason`; a usage chunk when the
/// client asked for one; `[DONE]`.
pub fn fake_stream(body: &[u8], include_usage: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    let mut event = |v: &Value| {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(v.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        event(
            &GatewayError::new(502, "the provider's answer is not JSON")
                .with_type("api_error")
                .to_value(),
        );
        out.extend_from_slice(b"data: [DONE]\n\n");
        return out;
    };
    let chunk = |choices: Value| {
        json!({
            "id": v.get("id").cloned().unwrap_or(Value::Null),
            "object": "chat.completion.chunk",
            "created": v.get("created").cloned().unwrap_or(Value::Null),
            "model": v.get("model").cloned().unwrap_or(Value::Null),
            "choices": choices,
        })
    };
    for (i, choice) in v
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let mut delta = choice
            .get("message")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
            for (k, call) in calls.iter_mut().enumerate() {
                if let Some(c) = call.as_object_mut() {
                    c.insert("index".into(), json!(k));
                }
            }
        }
        delta.retain(|_, v| !v.is_null());
        event(&chunk(
            json!([{"index": index, "delta": delta, "finish_reason": null}]),
        ));
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        event(&chunk(
            json!([{"index": index, "delta": {}, "finish_reason": finish}]),
        ));
    }
    if include_usage {
        if let Some(usage) = v.get("usage") {
            let mut last = chunk(json!([]));
            if let Some(o) = last.as_object_mut() {
                o.insert("usage".into(), usage.clone());
            }
            event(&last);
        }
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}
