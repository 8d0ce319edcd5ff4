//! Kubernetes' rules for a CRD's schema ("structural schemas", apiextensions v1,
//! `k8s.io/apiextensions-apiserver/pkg/apiserver/schema/validation.go` and the
//! "Specifying a structural schema" section of the CustomResourceDefinition docs),
//! and the last rewrite that makes the schemas derived from the config model obey them.
//!
//! kube's derive already inlines subschemas, turns `Option` into `nullable` and
//! untagged enums of objects into one object; [`make_structural`] does what is left:
//! a value that takes any JSON (`serde_yaml::Value` in the config model) or a value
//! that is a string *or* a list (LiteLLM's `organization`) has no single Kubernetes
//! type, so it becomes `x-kubernetes-preserve-unknown-fields: true` (the config
//! compiler checks it, as it checks config.yaml); schemars' unsigned formats
//! (`uint32`, …), which Kubernetes does not know, become `int64` with `minimum: 0`.
//! [`violations`] checks a schema against the rules, for the tests.

use serde_json::{Map, Value};

/// The extension that keeps fields the schema does not list.
pub const PRESERVE_UNKNOWN: &str = "x-kubernetes-preserve-unknown-fields";
/// The extension for "an integer or a string".
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";
/// The keywords that combine schemas.
const JUNCTORS: &[&str] = &["allOf", "anyOf", "oneOf", "not"];
/// The keywords a node's child schemas live under (a schema each, or a map of them).
const CHILD_KEYS: &[&str] = &["items", "additionalProperties"];

/// Rewrites every `openAPIV3Schema` of a serialized CRD in place (see the module).
pub fn make_structural(crd: &mut Value) {
    let versions = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut);
    for version in versions.into_iter().flatten() {
        if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
            rewrite(schema);
        }
    }
}

/// [`make_structural`] on one schema node and its children.
fn rewrite(node: &mut Value) {
    if node.as_bool() == Some(true) {
        *node = preserve_any(None);
        return;
    }
    let Some(object) = node.as_object_mut() else {
        return;
    };
    if needs_preserve(object) {
        let description = object.get("description").cloned();
        *node = preserve_any(description);
        return;
    }
    if let Some(format) = object.get("format").and_then(Value::as_str) {
        if format.starts_with("uint") {
            object.insert("format".into(), Value::String("int64".into()));
            object.entry("minimum").or_insert(Value::from(0));
        }
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        for child in properties.values_mut() {
            rewrite(child);
        }
    }
    for key in CHILD_KEYS {
        if let Some(child) = object.get_mut(*key) {
            if child.is_object() {
                rewrite(child);
            }
        }
    }
}

/// Whether a node has no single Kubernetes type: no `type` and no properties (any
/// JSON), or junctors over different types (`string` or `array`).
fn needs_preserve(object: &Map<String, Value>) -> bool {
    if object.contains_key(PRESERVE_UNKNOWN) || object.contains_key(INT_OR_STRING) {
        return false;
    }
    let typed = object.get("type").is_some_and(|t| t.is_string());
    let junctor = JUNCTORS.iter().any(|j| object.contains_key(*j));
    // kube's derive hoists an untagged enum's object variant into the node and leaves
    // `{}` for a variant that is not an object (`gpt-4: gpt-4o` beside
    // `gpt-4: {model: gpt-4o}`): the node then takes more than objects.
    let hoisted_non_object = JUNCTORS.iter().any(|j| {
        object
            .get(*j)
            .and_then(Value::as_array)
            .is_some_and(|branches| {
                branches
                    .iter()
                    .any(|b| b.as_object().is_some_and(Map::is_empty))
            })
    });
    (!typed && (junctor || !object.contains_key("properties")))
        || hoisted_non_object
        || object.get("type").is_some_and(Value::is_array)
}

/// A node that takes any value, with its description.
fn preserve_any(description: Option<Value>) -> Value {
    let mut object = Map::new();
    if let Some(description) = description {
        object.insert("description".into(), description);
    }
    object.insert(PRESERVE_UNKNOWN.into(), Value::Bool(true));
    object.insert("nullable".into(), Value::Bool(true));
    Value::Object(object)
}

/// Every way `schema` (an `openAPIV3Schema`) breaks Kubernetes' structural-schema
/// rules, as `path: what`; empty when it is structural. Also lists each node with
/// `x-kubernetes-preserve-unknown-fields` as `path: preserves unknown fields`, so a
/// test can hold the list to the places that need it.
pub fn violations(schema: &Value) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut preserving = Vec::new();
    check_node(schema, "", &mut errors, &mut preserving);
    (errors, preserving)
}

fn check_node(node: &Value, path: &str, errors: &mut Vec<String>, preserving: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    let Some(object) = node.as_object() else {
        errors.push(format!("{here}: a schema must be an object, got {node}"));
        return;
    };
    let preserve = match object.get(PRESERVE_UNKNOWN) {
        None => false,
        Some(Value::Bool(true)) => {
            preserving.push(here.to_string());
            true
        }
        Some(Value::Bool(false)) => false,
        Some(other) => {
            errors.push(format!(
                "{here}: {PRESERVE_UNKNOWN} must be a boolean, got {other}"
            ));
            false
        }
    };
    let int_or_string = object.get(INT_OR_STRING) == Some(&Value::Bool(true));
    match object.get("type") {
        Some(Value::String(t))
            if ["object", "array", "string", "integer", "number", "boolean"]
                .contains(&t.as_str()) => {}
        Some(other) => errors.push(format!(
            "{here}: type must be one Kubernetes type, got {other}"
        )),
        None if preserve || int_or_string => {}
        None => errors.push(format!("{here}: no type")),
    }
    for forbidden in [
        "$ref",
        "definitions",
        "$defs",
        "$schema",
        "const",
        "patternProperties",
        "dependencies",
        "additionalItems",
        "id",
    ] {
        if object.contains_key(forbidden) {
            errors.push(format!(
                "{here}: `{forbidden}` is not allowed in a CRD schema"
            ));
        }
    }
    if object.get("uniqueItems") == Some(&Value::Bool(true)) {
        errors.push(format!("{here}: uniqueItems: true is not allowed"));
    }
    if let Some(format) = object.get("format").and_then(Value::as_str) {
        if !KNOWN_FORMATS.contains(&format) {
            errors.push(format!(
                "{here}: format {format:?} is not one Kubernetes knows"
            ));
        }
    }
    if object.contains_key("properties") && object.contains_key("additionalProperties") {
        errors.push(format!(
            "{here}: additionalProperties together with properties"
        ));
    }
    if object.get("additionalProperties") == Some(&Value::Bool(false)) {
        errors.push(format!(
            "{here}: additionalProperties: false is not allowed"
        ));
    }
    if object.get("type") == Some(&Value::String("array".into())) && !object.contains_key("items") {
        errors.push(format!("{here}: an array without items"));
    }
    for junctor in JUNCTORS {
        if let Some(sub) = object.get(*junctor) {
            let subs: Vec<&Value> = match sub {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for (i, sub) in subs.iter().enumerate() {
                check_junctor(sub, &format!("{here}.{junctor}[{i}]"), object, errors);
            }
        }
    }
    if let Some(properties) = object.get("properties") {
        match properties.as_object() {
            Some(properties) => {
                for (name, child) in properties {
                    check_node(child, &format!("{path}.{name}"), errors, preserving);
                }
            }
            None => errors.push(format!("{here}: properties must be a map")),
        }
    }
    if let Some(items) = object.get("items") {
        check_node(items, &format!("{path}[]"), errors, preserving);
    }
    if let Some(additional) = object.get("additionalProperties") {
        if additional.is_object() {
            check_node(additional, &format!("{path}.*"), errors, preserving);
        } else if additional != &Value::Bool(true) {
            errors.push(format!(
                "{here}: additionalProperties must be a schema or true"
            ));
        }
    }
}

/// A schema inside `allOf`/`anyOf`/`oneOf`/`not`: no type, description, default,
/// nullable or additionalProperties, and only fields the node outside also specifies.
fn check_junctor(sub: &Value, here: &str, outer: &Map<String, Value>, errors: &mut Vec<String>) {
    let Some(object) = sub.as_object() else {
        errors.push(format!("{here}: a schema must be an object"));
        return;
    };
    for forbidden in [
        "type",
        "description",
        "default",
        "nullable",
        "additionalProperties",
        PRESERVE_UNKNOWN,
    ] {
        if object.contains_key(forbidden) {
            errors.push(format!("{here}: `{forbidden}` inside a junctor"));
        }
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        let outer_properties = outer.get("properties").and_then(Value::as_object);
        for name in properties.keys() {
            if !outer_properties.is_some_and(|o| o.contains_key(name)) {
                errors.push(format!("{here}.{name}: not specified outside the junctor"));
            }
        }
    }
}

/// The `format` values Kubernetes' OpenAPI validation knows (apiextensions
/// `supportedFormats`).
const KNOWN_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
    "int32",
    "int64",
    "float",
    "double",
];

/// Checks `value` against a structural `schema` the way the API server would accept
/// it: types (with `nullable`), `required`, `enum`, `minimum`, and fields the schema
/// does not list, which the API server would silently drop (prune) unless a node
/// preserves unknown fields. Returns every problem as `path: what`. For the tests:
/// a resource `config.yaml` would take must pass, not be cut down.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    validate_node(schema, value, "", &mut problems);
    problems
}

fn validate_node(schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    let preserve = schema.get(PRESERVE_UNKNOWN) == Some(&Value::Bool(true));
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) && !preserve {
            problems.push(format!("{here}: null is not allowed"));
        }
        return;
    }
    let type_ok = match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(_) => false,
    };
    if !type_ok {
        problems.push(format!("{here}: expected {}, got {value}", schema["type"]));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            problems.push(format!("{here}: {value} is not one of {}", schema["enum"]));
        }
    }
    if let (Some(minimum), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < minimum {
            problems.push(format!("{here}: {n} is below the minimum {minimum}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str() {
                if !object.contains_key(name) {
                    problems.push(format!("{here}: missing required field {name}"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (name, child) in object {
            let child_path = format!("{path}.{name}");
            if let Some(child_schema) = properties.and_then(|p| p.get(name)) {
                validate_node(child_schema, child, &child_path, problems);
            } else if let Some(additional) = additional.filter(|a| a.is_object()) {
                validate_node(additional, child, &child_path, problems);
            } else if !preserve && additional != Some(&Value::Bool(true)) {
                problems.push(format!(
                    "{child_path}: not in the schema (the API server would drop it)"
                ));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate_node(items, item, &format!("{path}[{i}]"), problems);
        }
    }
}
