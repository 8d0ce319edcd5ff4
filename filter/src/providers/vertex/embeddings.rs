//! Google's text embedding models through `:predict`: `instances` in,
//! `predictions[].embeddings` out as an OpenAI embedding list.

use serde_json::{json, Map, Value};

use super::{family, Family};
use crate::error::GatewayError;
use crate::providers::serialize_request as serialize;
use crate::providers::ResponseContext;

/// An embeddings request → the `:predict` body.
pub(super) fn embeddings_request(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    if family(model) == Family::Claude {
        return Err(GatewayError::bad_request(
            "Claude has no embeddings API; route embedding requests to a Google embedding model.",
        )
        .with_param("model"));
    }
    let bad =
        || GatewayError::invalid_param("input", "`input` must be a string or an array of strings.");
    let texts: Vec<&str> = match request.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let instances: Vec<Value> = texts.iter().map(|t| json!({ "content": t })).collect();
    let mut body = Map::new();
    body.insert("instances".into(), Value::Array(instances));
    match request.get("dimensions").filter(|v| !v.is_null()) {
        None => {}
        Some(d) => {
            let d = d.as_u64().filter(|d| *d > 0).ok_or_else(|| {
                GatewayError::invalid_param(
                    "dimensions",
                    "`dimensions` must be a positive integer.",
                )
            })?;
            body.insert("parameters".into(), json!({ "outputDimensionality": d }));
        }
    }
    serialize(&Value::Object(body))
}
/// A `:predict` answer → an OpenAI embedding list.
pub(super) fn embeddings_response(
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Vertex AI returned a response that could not be parsed: {e}"),
        )
    })?;
    let mut tokens = 0u64;
    let mut data = Vec::new();
    for (i, p) in v
        .get("predictions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let e = p.get("embeddings");
        tokens = tokens.saturating_add(
            e.and_then(|e| e.get("statistics"))
                .and_then(|s| s.get("token_count"))
                .and_then(Value::as_f64)
                .map_or(0, |n| n as u64),
        );
        data.push(json!({
            "object": "embedding",
            "index": i,
            "embedding": e.and_then(|e| e.get("values")).cloned().unwrap_or_else(|| json!([])),
        }));
    }
    let out = json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    });
    serde_json::to_vec(&out)
        .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::endpoint::Endpoint;
    use crate::providers::vertex::test_helpers::*;
    use crate::providers::vertex::*;
    use serde_json::{json, Value};

    #[test]
    fn embeddings_go_through_predict() {
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": ["a", "b"], "dimensions": 256})),
            "text-embedding-005",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 256}})
        );
        let body = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": "a"})),
            "text-embedding-005",
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"instances": [{"content": "a"}]})
        );
        let e = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": 1})),
            "text-embedding-005",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = translate_request(
            Endpoint::Embeddings,
            &map(json!({"input": "a"})),
            "claude-3",
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        // Google's predict answer (text-embeddings-api reference).
        let out = translate_response(
            Endpoint::Embeddings,
            br#"{"predictions":[{"embeddings":{"statistics":{"truncated":false,"token_count":6},"values":[0.1,-0.2]}},{"embeddings":{"statistics":{"truncated":false,"token_count":4},"values":[0.3,0.4]}}],"metadata":{"billableCharacterCount":30}}"#,
            &ctx("text-embedding-005"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][1]["embedding"], json!([0.3, 0.4]));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["usage"], json!({"prompt_tokens": 10, "total_tokens": 10}));
        assert_eq!(
            translate_response(Endpoint::Embeddings, b"<html>", &ctx("text-embedding-005"))
                .unwrap_err()
                .status,
            502
        );
    }
}
