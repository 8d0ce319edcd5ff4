//! A request body parsed at the top level only.
//!
//! The upstream stage must rename `model`, add defaults, check parameter names and
//! ask for the stream's usage chunk — all top-level work. [`TopLevel`] reads the body
//! once into its top-level fields, each value kept as the raw JSON text it was
//! (validated, not built into a tree), so an OpenAI-compatible passthrough writes
//! `messages` back as the same bytes instead of parsing them into a `Value` tree and
//! serializing it again. Translators that need the whole tree ask for it with
//! [`TopLevel::into_map`], which parses each raw value once.
//!
//! Duplicate keys behave as with `serde_json::Map`: the last one wins, at the place
//! of the first.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One top-level field's value.
#[derive(Debug, Clone)]
enum Field<'a> {
    /// As it was in the body.
    Raw(&'a RawValue),
    /// Set by the gateway.
    Owned(Value),
}

/// A JSON object body, parsed one level deep.
#[derive(Debug, Clone, Default)]
pub struct TopLevel<'a> {
    fields: Vec<(Cow<'a, str>, Field<'a>)>,
    /// Whether an insert or remove changed the body since it was parsed.
    changed: bool,
}

/// Why a body is not a [`TopLevel`].
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON at all.
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Syntax(e) => write!(f, "Request body is not valid JSON: {e}"),
            BodyError::NotAnObject => f.write_str("Request body must be a JSON object"),
        }
    }
}

impl<'a> TopLevel<'a> {
    /// Parses `body`; every value is checked to be valid JSON but kept raw.
    pub fn parse(body: &'a [u8]) -> Result<TopLevel<'a>, BodyError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed = de.deserialize_any(TopLevelVisitor(PhantomData));
        let top = match parsed {
            Ok(Some(top)) => top,
            Ok(None) => return Err(BodyError::NotAnObject),
            Err(e) => return Err(BodyError::Syntax(e)),
        };
        de.end().map_err(BodyError::Syntax)?;
        Ok(top)
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| k == key)
    }

    /// Whether the body has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The top-level keys, in body order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_ref())
    }

    /// Sets `key` (in place when present, else at the end). Setting a field to the
    /// value it already has, spelled the same, is no change.
    pub fn insert(&mut self, key: &str, value: Value) {
        match self.position(key) {
            Some(i) => {
                if let Some(slot) = self.fields.get_mut(i) {
                    let same = match &slot.1 {
                        Field::Raw(raw) => {
                            serde_json::to_string(&value).is_ok_and(|spelled| spelled == raw.get())
                        }
                        Field::Owned(current) => *current == value,
                    };
                    if !same {
                        slot.1 = Field::Owned(value);
                        self.changed = true;
                    }
                }
            }
            None => {
                self.fields
                    .push((Cow::Owned(key.to_string()), Field::Owned(value)));
                self.changed = true;
            }
        }
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &str) {
        let before = self.fields.len();
        self.fields.retain(|(k, _)| k != key);
        self.changed |= self.fields.len() != before;
    }

    /// Removes every field whose key `unwanted` picks (one pass over the fields).
    pub fn remove_where(&mut self, unwanted: impl Fn(&str) -> bool) {
        let before = self.fields.len();
        self.fields.retain(|(k, _)| !unwanted(k));
        self.changed |= self.fields.len() != before;
    }

    /// `key`'s value as the JSON text it was in the body (`None` when absent or set
    /// by the gateway): its size is known without parsing it.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        match &self.fields.get(self.position(key)?)?.1 {
            Field::Raw(raw) => Some(raw.get()),
            Field::Owned(_) => None,
        }
    }

    /// Whether the body differs from the one parsed (else it can be sent as it was).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// `key` as a boolean, when it is one.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        let (_, field) = self.fields.get(self.position(key)?)?;
        match field {
            Field::Raw(raw) => match raw.get() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            Field::Owned(v) => v.as_bool(),
        }
    }

    /// `key`'s value parsed (a small field such as `stream_options`).
    pub fn get_value(&self, key: &str) -> Option<Value> {
        let (_, field) = self.fields.get(self.position(key)?)?;
        match field {
            Field::Raw(raw) => serde_json::from_str(raw.get()).ok(),
            Field::Owned(v) => Some(v.clone()),
        }
    }

    /// The body again: raw values copied as they were, set values serialized.
    pub fn to_vec(&self) -> Result<Vec<u8>, serde_json::Error> {
        let raw_len: usize = self
            .fields
            .iter()
            .map(|(k, f)| {
                k.len()
                    + 4
                    + match f {
                        Field::Raw(r) => r.get().len(),
                        // Strings (the model) exactly plus quotes and escapes to
                        // spare; small objects (stream_options, defaults) roughly.
                        Field::Owned(Value::String(v)) => v.len() + 8,
                        Field::Owned(_) => 64,
                    }
            })
            .sum();
        let mut out = Vec::with_capacity(raw_len + 2);
        out.push(b'{');
        for (i, (key, field)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, key.as_ref())?;
            out.push(b':');
            match field {
                Field::Raw(raw) => out.extend_from_slice(raw.get().as_bytes()),
                Field::Owned(value) => serde_json::to_writer(&mut out, value)?,
            }
        }
        out.push(b'}');
        Ok(out)
    }

    /// The whole tree, for translators that rebuild the body.
    pub fn into_map(self) -> Result<Map<String, Value>, serde_json::Error> {
        let mut map = Map::with_capacity(self.fields.len());
        for (key, field) in self.fields {
            let value = match field {
                Field::Raw(raw) => serde_json::from_str(raw.get())?,
                Field::Owned(value) => value,
            };
            map.insert(key.into_owned(), value);
        }
        Ok(map)
    }
}

impl From<Map<String, Value>> for TopLevel<'static> {
    /// A body built by a translator (e.g. an Anthropic request turned into an
    /// OpenAI one): every field set, so it is always serialized.
    fn from(map: Map<String, Value>) -> Self {
        TopLevel {
            fields: map
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), Field::Owned(v)))
                .collect(),
            changed: true,
        }
    }
}

/// A string that borrows from the input when it has no escapes (serde's own `Cow`
/// impl always copies unless used as a bare field). Shared with the translators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl CowStr<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for CowVisitor<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowVisitor(PhantomData))
    }
}

/// `Some` for an object, `None` for any other JSON value.
struct TopLevelVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TopLevelVisitor<'a> {
    type Value = Option<TopLevel<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<Self::Value, M::Error> {
        let mut top = TopLevel {
            fields: Vec::with_capacity(access.size_hint().unwrap_or(8)),
            changed: false,
        };
        while let Some(CowStr(key)) = access.next_key::<CowStr<'de>>()? {
            let raw: &'de RawValue = access.next_value()?;
            match top.position(&key) {
                Some(i) => {
                    // Written back once, so the body changes.
                    if let Some(slot) = top.fields.get_mut(i) {
                        slot.1 = Field::Raw(raw);
                    }
                    top.changed = true;
                }
                None => top.fields.push((key, Field::Raw(raw))),
            }
        }
        Ok(Some(top))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn untouched_fields_are_copied_byte_for_byte() {
        // Spacing and number spelling inside values survive; only the top level is
        // rewritten.
        let body = br#"{ "model" : "a", "messages":[ {"role":"user", "content":"h\u00e9"} ], "temperature": 1.50 }"#;
        let mut top = TopLevel::parse(body).unwrap();
        top.insert("model", json!("gpt-4o"));
        let out = String::from_utf8(top.to_vec().unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4o","messages":[ {"role":"user", "content":"h\u00e9"} ],"temperature":1.50}"#
        );
    }

    #[test]
    fn knows_when_the_body_is_unchanged() {
        let body = br#"{"model":"gpt-4o","stream":true,"n":1}"#;
        let mut top = TopLevel::parse(body).unwrap();
        top.insert("model", json!("gpt-4o"));
        top.insert("stream", json!(true));
        top.remove("absent");
        assert!(!top.changed());
        top.insert("n", json!(2));
        assert!(top.changed());
        let mut top = TopLevel::parse(body).unwrap();
        top.remove("n");
        assert!(top.changed());
        let mut top = TopLevel::parse(body).unwrap();
        top.insert("temperature", json!(0));
        assert!(top.changed());
        // A duplicate key is written back once: a change.
        assert!(TopLevel::parse(br#"{"a":1,"a":2}"#).unwrap().changed());
    }

    #[test]
    fn insert_remove_and_reads() {
        let body = br#"{"model":"a","stream":true,"stream_options":{"include_usage":false},"num_retries":3}"#;
        let mut top = TopLevel::parse(body).unwrap();
        assert_eq!(top.get_bool("stream"), Some(true));
        assert_eq!(top.get_bool("model"), None);
        assert_eq!(
            top.get_value("stream_options"),
            Some(json!({"include_usage": false}))
        );
        top.remove("num_retries");
        top.insert("stream_options", json!({"include_usage": true}));
        top.insert("temperature", json!(0.5));
        assert!(top.contains_key("temperature") && !top.contains_key("num_retries"));
        assert_eq!(
            top.keys().collect::<Vec<_>>(),
            ["model", "stream", "stream_options", "temperature"]
        );
        let out: Value = serde_json::from_slice(&top.to_vec().unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"model":"a","stream":true,"stream_options":{"include_usage":true},"temperature":0.5})
        );
    }

    #[test]
    fn remove_where_and_raw_reads() {
        let body = br#"{"model":"a","tags":["x"],"metadata":{"k": 1},"n":1}"#;
        let mut top = TopLevel::parse(body).unwrap();
        assert_eq!(top.get_raw("metadata"), Some(r#"{"k": 1}"#));
        assert_eq!(top.get_raw("absent"), None);
        top.remove_where(|k| k == "nothing");
        assert!(!top.changed(), "removing nothing is no change");
        top.remove_where(|k| k == "tags" || k == "metadata");
        assert!(top.changed());
        assert_eq!(top.keys().collect::<Vec<_>>(), ["model", "n"]);
        top.insert("model", json!("b"));
        assert_eq!(
            top.get_raw("model"),
            None,
            "set by the gateway: no raw text"
        );
    }

    #[test]
    fn escaped_keys_and_duplicates_match_serde_json_map() {
        let body = br#"{"mo\u0064el":"a","x":1,"model":"b"}"#;
        let top = TopLevel::parse(body).unwrap();
        let expected: Map<String, Value> = serde_json::from_slice(body).unwrap();
        assert_eq!(top.clone().into_map().unwrap(), expected);
        let reparsed: Map<String, Value> = serde_json::from_slice(&top.to_vec().unwrap()).unwrap();
        assert_eq!(reparsed, expected);
        assert_eq!(top.keys().collect::<Vec<_>>(), ["model", "x"]);
    }

    #[test]
    fn non_objects_and_bad_json_are_told_apart() {
        for body in [&b"[1,2]"[..], b"\"s\"", b"1", b"true", b"null"] {
            assert!(
                matches!(TopLevel::parse(body), Err(BodyError::NotAnObject)),
                "{body:?}"
            );
        }
        for body in [&b"{"[..], b"{\"a\":}", b"{} x", b"", b"{\"a\":1,}"] {
            assert!(
                matches!(TopLevel::parse(body), Err(BodyError::Syntax(_))),
                "{body:?}"
            );
        }
        // Invalid JSON deep inside a value is still caught (values are validated).
        assert!(matches!(
            TopLevel::parse(br#"{"messages":[{"a":tru}]}"#),
            Err(BodyError::Syntax(_))
        ));
    }

    #[test]
    fn into_map_equals_a_full_parse() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"tools":[],"n":2}"#;
        let expected: Map<String, Value> = serde_json::from_slice(body).unwrap();
        assert_eq!(TopLevel::parse(body).unwrap().into_map().unwrap(), expected);
    }
}
