//! Request-body fields that belong to LiteLLM, not to any provider: the list is
//! `switchyard_contract::litellm_fields` (the config compiler reads it too); here,
//! what the upstream stage does with it. It removes every one of them from every
//! request, whatever the endpoint and provider ([`strip`], called where the body is
//! parsed one level deep, `crate::request`); on `/v1/messages` to an Anthropic
//! deployment, `metadata` is Anthropic's own parameter and goes on as
//! `{"user_id": …}` ([`anthropic_metadata`]), as LiteLLM sends it.

use serde_json::{Map, Value};

pub use switchyard_contract::litellm_fields::{
    is_litellm_field, LITELLM_ONLY_FIELDS, LITELLM_ONLY_PREFIXES, REFUSED_MOCK_TESTING_FIELDS,
};

use crate::request::TopLevel;

/// Removes every LiteLLM-only field from a parsed request body.
pub fn strip(request: &mut TopLevel<'_>) {
    request.remove_where(is_litellm_field);
}

/// What an Anthropic deployment gets of a `/v1/messages` request's `metadata`: its
/// `user_id` (the only field of Anthropic's `metadata`), as LiteLLM sends it
/// (`validate_anthropic_api_metadata`, litellm/llms/anthropic/pass_through/
/// messages/handler.py). `None` when there is nothing to send.
pub fn anthropic_metadata(metadata: Option<Value>) -> Option<Value> {
    // JSON text of an object counts as the object, as LiteLLM's proxy reads it.
    let metadata = match metadata? {
        Value::String(text) => serde_json::from_str(&text).ok()?,
        other => other,
    };
    let user_id = match metadata {
        Value::Object(mut map) => map.remove("user_id")?,
        _ => return None,
    };
    let user_id = user_id.as_str()?.to_string();
    let mut out = Map::new();
    out.insert("user_id".into(), Value::String(user_id));
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strip_removes_every_litellm_field_and_keeps_the_rest() {
        let mut body = Map::new();
        for f in LITELLM_ONLY_FIELDS {
            body.insert((*f).to_string(), json!(1));
        }
        body.insert("_litellm_anything".into(), json!(1));
        body.insert("user_api_key_user_id".into(), json!("x"));
        body.insert("model".into(), json!("m"));
        body.insert("messages".into(), json!([]));
        body.insert("priority".into(), json!(1));
        let raw = serde_json::to_vec(&body).unwrap();
        let mut top = TopLevel::parse(&raw).unwrap();
        strip(&mut top);
        assert!(top.changed());
        assert_eq!(
            top.keys().collect::<Vec<_>>(),
            ["model", "messages", "priority"]
        );
        let out: Value = serde_json::from_slice(&top.to_vec().unwrap()).unwrap();
        assert_eq!(out, json!({"model": "m", "messages": [], "priority": 1}));

        // A body without any is left as it came (sent on untouched).
        let raw = br#"{"model":"m","messages":[],"user":"u"}"#;
        let mut top = TopLevel::parse(raw).unwrap();
        strip(&mut top);
        assert!(!top.changed());
    }

    #[test]
    fn anthropic_metadata_keeps_only_the_user_id() {
        assert_eq!(
            anthropic_metadata(Some(
                json!({"user_id": "u-1", "spend_logs_metadata": {"a": 1}})
            )),
            Some(json!({"user_id": "u-1"}))
        );
        assert_eq!(anthropic_metadata(Some(json!({"tags": ["a"]}))), None);
        assert_eq!(anthropic_metadata(Some(json!({"user_id": 5}))), None);
        assert_eq!(anthropic_metadata(Some(json!("x"))), None);
        assert_eq!(
            anthropic_metadata(Some(json!("{\"user_id\": \"u-2\"}"))),
            Some(json!({"user_id": "u-2"}))
        );
        assert_eq!(anthropic_metadata(None), None);
    }
}
