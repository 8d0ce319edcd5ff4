//! Embeddings through `InvokeModel`: Titan (one call per input, fanned out by the
//! upstream stage and merged here) and Cohere Embed bodies and answers.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::models::{embedding_model, model_path, EmbeddingModel};
use crate::error::GatewayError;
use crate::providers::{present, serialize_request as serialize};
use crate::providers::{ProviderRequest, ResponseContext};
use crate::wire::openai::invalid;

fn embedding_inputs(request: &Map<String, Value>) -> Result<Vec<&str>, GatewayError> {
    match present(request, "input") {
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    invalid(
                        "input",
                        "Bedrock embeds text: `input` must be a string or a list of strings (token arrays are not supported).",
                    )
                })
            })
            .collect(),
        Some(Value::Array(_)) => Err(invalid("input", "`input` must not be empty.")),
        None => Err(invalid("input", "Missing required parameter: `input`.")),
        Some(_) => Err(invalid("input", "`input` must be a string or a list of strings.")),
    }
}

pub(super) fn embedding_request(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Vec<u8>, GatewayError> {
    let family = embedding_model(model).ok_or_else(|| {
        invalid(
            "model",
            format!("Switchyard embeds on Bedrock with Titan Text Embeddings (amazon.titan-embed-text-*) and Cohere Embed (cohere.embed-*), not `{model}`."),
        )
    })?;
    let inputs = embedding_inputs(request)?;
    let mut body = Map::new();
    match family {
        EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2 => {
            let [text] = inputs.as_slice() else {
                return Err(invalid(
                    "input",
                    format!("Titan embeddings take one text per call: the {} inputs are sent as one call each (titan_calls), not as one request.", inputs.len()),
                ));
            };
            body = titan_body(text, request, family)?;
        }
        EmbeddingModel::Cohere => {
            body.insert("texts".into(), json!(inputs));
            let input_type = match present(request, "input_type") {
                Some(Value::String(s)) => s.as_str(),
                None => "search_document",
                Some(_) => return Err(invalid("input_type", "`input_type` must be a string.")),
            };
            body.insert("input_type".into(), json!(input_type));
            if let Some(t) = present(request, "truncate") {
                body.insert("truncate".into(), t.clone());
            }
            if let Some(d) = present(request, "dimensions") {
                body.insert("output_dimension".into(), d.clone());
            }
        }
    }
    serialize(&Value::Object(body))
}

/// The body of one Titan call: `{"inputText", "dimensions"?, "normalize"?}`.
fn titan_body(
    text: &str,
    request: &Map<String, Value>,
    family: EmbeddingModel,
) -> Result<Map<String, Value>, GatewayError> {
    let mut body = Map::new();
    body.insert("inputText".into(), json!(text));
    if family == EmbeddingModel::TitanV2 {
        if let Some(d) = present(request, "dimensions") {
            if d.as_u64().is_none() {
                return Err(invalid(
                    "dimensions",
                    "`dimensions` must be a positive integer (256, 512 or 1024).",
                ));
            }
            body.insert("dimensions".into(), d.clone());
        }
        if let Some(n) = present(request, "normalize") {
            if !n.is_boolean() {
                return Err(invalid("normalize", "`normalize` must be a boolean."));
            }
            body.insert("normalize".into(), n.clone());
        }
    }
    Ok(body)
}

/// Most inputs one Titan embedding request may have: each is a call of its own.
/// OpenAI's own limit for an embeddings `input` list.
pub const MAX_TITAN_INPUTS: usize = 2048;

pub use switchyard_contract::providers::bedrock::may_fan_out;

/// The calls that answer a Titan embedding request whose `input` is a list of more
/// than one text: one `InvokeModel` per input, in order. `Ok(None)` for any other
/// request (one text, another model), which goes as one call. More than
/// [`MAX_TITAN_INPUTS`] inputs is a 400 naming `input`.
pub fn titan_calls(
    request: &Map<String, Value>,
    model: &str,
) -> Result<Option<Vec<ProviderRequest>>, GatewayError> {
    let Some(family @ (EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2)) = embedding_model(model)
    else {
        return Ok(None);
    };
    if !matches!(present(request, "input"), Some(Value::Array(items)) if items.len() > 1) {
        return Ok(None);
    }
    let inputs = embedding_inputs(request)?;
    if inputs.len() > MAX_TITAN_INPUTS {
        return Err(invalid(
            "input",
            format!("Titan embeddings take one text per call, and the gateway makes at most {MAX_TITAN_INPUTS} calls for one request (OpenAI's limit for `input`): this request has {} inputs. Send them in smaller batches.", inputs.len()),
        ));
    }
    let path = model_path(model, "invoke");
    inputs
        .iter()
        .map(|text| {
            Ok(ProviderRequest {
                path: path.clone(),
                body: serialize(&Value::Object(titan_body(text, request, family)?))?,
            })
        })
        .collect::<Result<Vec<_>, GatewayError>>()
        .map(Some)
}

/// One Titan answer: the vector (`embedding`, else `embeddingsByType.float`) and
/// `inputTextTokenCount`.
pub fn titan_answer(body: &[u8]) -> Result<(Vec<f64>, u64), GatewayError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ByType {
        #[serde(default)]
        float: Option<Vec<f64>>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        #[serde(default)]
        embedding: Option<Vec<f64>>,
        #[serde(default)]
        embeddings_by_type: Option<ByType>,
        #[serde(default)]
        input_text_token_count: Option<u64>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an embedding answer that could not be parsed: {e}"),
        )
    })?;
    let vector = answer
        .embedding
        .or_else(|| answer.embeddings_by_type.and_then(|b| b.float))
        .ok_or_else(|| GatewayError::new(502, "Bedrock's embedding answer has no embeddings."))?;
    Ok((vector, answer.input_text_token_count.unwrap_or(0)))
}

/// The OpenAI embedding list of Titan's answers, in input order, with their token
/// counts summed (`tokens`); each vector as base64 of its little-endian `f32`s when
/// the client asked for `encoding_format: "base64"`.
pub fn titan_embedding_list(
    vectors: &[Vec<f64>],
    tokens: u64,
    model: &str,
    base64: bool,
) -> Result<Vec<u8>, GatewayError> {
    use base64::Engine as _;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|n| (*n as f32).to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    serde_json::to_vec(&json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

pub(super) fn embedding_response(
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<Vec<u8>, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            502,
            format!("Bedrock returned an embedding answer that could not be parsed: {e}"),
        )
    })?;
    let bad = || GatewayError::new(502, "Bedrock's embedding answer has no embeddings.");
    let (vectors, tokens): (Vec<Value>, u64) = match embedding_model(&ctx.model) {
        Some(EmbeddingModel::Cohere) => {
            // `embeddings` is a list of vectors, or `{float: [...]}` when
            // `embedding_types` was given.
            let list = match v.get("embeddings") {
                Some(Value::Array(list)) => list.clone(),
                Some(Value::Object(by_type)) => by_type
                    .get("float")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(bad)?,
                _ => return Err(bad()),
            };
            (list, 0)
        }
        _ => {
            let vector = v
                .get("embedding")
                .or_else(|| v.get("embeddingsByType").and_then(|b| b.get("float")))
                .cloned()
                .ok_or_else(bad)?;
            let tokens = v
                .get("inputTextTokenCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            (vec![vector], tokens)
        }
    };
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({ "object": "embedding", "index": i, "embedding": e }))
        .collect();
    serde_json::to_vec(&json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .map_err(|e| GatewayError::internal(format!("could not serialize response: {e}")))
}

/// Sets an embedding answer's usage from Bedrock's `X-Amzn-Bedrock-Input-Token-Count`
/// header when the body had none (Cohere's answers carry no token count).
pub fn embedding_usage_from_header(body: Vec<u8>, header: Option<&str>) -> Vec<u8> {
    let Some(tokens) = header.and_then(|h| h.trim().parse::<u64>().ok()) else {
        return body;
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let counted = v
        .get("usage")
        .and_then(|u| u.get("prompt_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if counted != 0 {
        return body;
    }
    let Some(obj) = v.as_object_mut() else {
        return body;
    };
    obj.insert(
        "usage".into(),
        json!({ "prompt_tokens": tokens, "total_tokens": tokens }),
    );
    serde_json::to_vec(&v).unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;
    use crate::providers::bedrock::test_helpers::*;
    use crate::providers::bedrock::*;
    use serde_json::json;

    #[test]
    fn titan_lists_become_one_call_per_input() {
        assert!(may_fan_out("amazon.titan-embed-text-v1"));
        assert!(may_fan_out("amazon.titan-embed-text-v2:0"));
        assert!(may_fan_out("*"), "a wildcard may name a Titan model");
        assert!(!may_fan_out("cohere.embed-english-v3"));
        assert!(!may_fan_out("anthropic.claude-3-haiku-20240307-v1:0"));

        let v2 = "amazon.titan-embed-text-v2:0";
        let calls = titan_calls(
            &req(json!({"input": ["a", "b"], "dimensions": 256, "user": "u"})),
            v2,
        )
        .unwrap()
        .unwrap();
        let bodies: Vec<Value> = calls
            .iter()
            .map(|c| serde_json::from_slice(&c.body).unwrap())
            .collect();
        assert_eq!(
            bodies,
            vec![
                json!({"inputText": "a", "dimensions": 256}),
                json!({"inputText": "b", "dimensions": 256})
            ]
        );
        assert!(calls
            .iter()
            .all(|c| c.path == "/model/amazon.titan-embed-text-v2%3A0/invoke"));
        // v1 takes no dimensions; one text, or another family, is one call.
        let v1 = titan_calls(
            &req(json!({"input": ["a", "b"]})),
            "amazon.titan-embed-text-v1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&v1[1].body).unwrap(),
            json!({"inputText": "b"})
        );
        assert!(titan_calls(&req(json!({"input": ["a"]})), v2)
            .unwrap()
            .is_none());
        assert!(titan_calls(&req(json!({"input": "a"})), v2)
            .unwrap()
            .is_none());
        assert!(titan_calls(
            &req(json!({"input": ["a", "b"]})),
            "cohere.embed-english-v3"
        )
        .unwrap()
        .is_none());
        // Hostile lists: token arrays, non-strings, too many.
        let e = titan_calls(&req(json!({"input": [[1, 2], [3]]})), v2).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = titan_calls(&req(json!({"input": ["a", 5]})), v2).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let many = vec!["x"; MAX_TITAN_INPUTS + 1];
        let e = titan_calls(&req(json!({"input": many})), v2).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("input")));
        assert!(
            e.message.contains("2048") && e.message.contains("2049"),
            "{}",
            e.message
        );

        // Answers: the vector (or embeddingsByType.float) and the token count; merged
        // in order, as floats or base64 of little-endian f32s.
        assert_eq!(
            titan_answer(br#"{"embedding":[0.5],"inputTextTokenCount":2}"#).unwrap(),
            (vec![0.5], 2)
        );
        assert_eq!(
            titan_answer(br#"{"embeddingsByType":{"float":[0.25]},"inputTextTokenCount":1}"#)
                .unwrap(),
            (vec![0.25], 1)
        );
        assert_eq!(
            titan_answer(br#"{"inputTextTokenCount":1}"#)
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(titan_answer(b"not json").unwrap_err().status, 502);
        let list: Value = serde_json::from_slice(
            &titan_embedding_list(&[vec![1.0], vec![-2.0]], 5, v2, false).unwrap(),
        )
        .unwrap();
        assert_eq!(
            list["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [-2.0]})
        );
        assert_eq!(
            list["usage"],
            json!({"prompt_tokens": 5, "total_tokens": 5})
        );
        let b64: Value =
            serde_json::from_slice(&titan_embedding_list(&[vec![1.0]], 1, v2, true).unwrap())
                .unwrap();
        assert_eq!(
            b64["data"][0]["embedding"], "AACAPw==",
            "1.0f32, little-endian"
        );
    }

    #[test]
    fn embeddings_titan_and_cohere() {
        let titan = "amazon.titan-embed-text-v2:0";
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["hello"], "dimensions": 256, "normalize": true})),
            titan,
            false,
        )
        .unwrap();
        assert_eq!(r.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"inputText": "hello", "dimensions": 256, "normalize": true})
        );
        let e = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["a", "b"]})),
            titan,
            false,
        )
        .unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("input")));
        assert!(e.message.contains("one text per call"), "{}", e.message);
        let out = translate_response(Endpoint::Embeddings, br#"{"embedding":[0.5,-0.25],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,-0.25]}}"#, &ctx(titan, false), None).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({
            "object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
            "model": titan, "usage": {"prompt_tokens": 3, "total_tokens": 3}})
        );

        let cohere = "cohere.embed-english-v3";
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": ["a", "b"], "input_type": "search_query"})),
            cohere,
            false,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"texts": ["a", "b"], "input_type": "search_query"})
        );
        let (r, _) = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": "a"})),
            cohere,
            false,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap()["input_type"],
            "search_document"
        );
        let out = translate_response(Endpoint::Embeddings, br#"{"embeddings":[[0.1],[0.2]],"id":"x","response_type":"embeddings_floats","texts":["a","b"]}"#, &ctx(cohere, false), None).unwrap();
        let out = embedding_usage_from_header(out, Some("4"));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [0.2]})
        );
        assert_eq!(v["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
        let e = translate_request(
            Endpoint::Embeddings,
            &req(json!({"input": "a"})),
            "amazon.nova-2-multimodal-embeddings-v1:0",
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
    }
}
