//! A small checker for the published reference
//! (`tests/fixtures/cxone-admin-skills.openapi.json`, vendored from
//! `shared/reference/` so that CI on a clean clone has it): does a JSON
//! value have the field names and JSON types the reference publishes?
//!
//! It checks `type` (a JSON integer is not a float, `null` is no type),
//! `properties` (recursively), `items`, `enum`, `additionalProperties:
//! false`, `required`, `oneOf`, and the formats the reference uses
//! (`date-time`, `uuid`, `URL`/`url`, `jwt`). Lengths, patterns and
//! numeric ranges are not checked.
//!
//! The reference has quirks, read here as follows:
//! - Some property schemas wrap the real schema in a `schema` key
//!   (`"resultSet": {"schema": {...}}`, `"_links": {"schema": {...}}`);
//!   the wrapped schema is what is checked.
//! - Some `required` lists name properties the reference never defines
//!   (`"required": ["resultSet"]` on the one-agent read, `region` on
//!   discovery). Only defined properties are checkable: an undefined name
//!   is skipped, since nothing says what it would hold.
//! - Some properties carry Swagger 2's `"required": true` instead of being
//!   listed in their parent's `required`; that boolean is ignored (the
//!   parents in question list the property anyway).

#![allow(dead_code)]

use serde_json::{Map, Value};

/// The reference, as vendored.
pub const REFERENCE: &str = include_str!("../fixtures/cxone-admin-skills.openapi.json");

/// The API paths of the reference are under this root.
pub const API_ROOT: &str = "/inContactAPI/services/v34.0";

pub struct Reference(Value);

impl Reference {
    pub fn load() -> Reference {
        Reference(serde_json::from_str(REFERENCE).expect("the vendored reference is JSON"))
    }

    /// The operation at `path` (`/agents/{agentId|userId}/skills` under the
    /// API root, or `/auth/token`, `/.well-known/...` as they are).
    fn operation(&self, method: &str, path: &str) -> &Value {
        let full = if path.starts_with("/auth/") || path.starts_with("/.well-known/") {
            path.to_owned()
        } else {
            format!("{API_ROOT}{path}")
        };
        let operation = &self.0["paths"][&full][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "the reference has no {method} {full}"
        );
        operation
    }

    /// The published schema of the answer with `status`, or `None` when
    /// the reference does not publish that status, or publishes it
    /// without a body schema.
    pub fn response(&self, method: &str, path: &str, status: u16) -> Option<&Value> {
        let response = self.operation(method, path)["responses"].get(status.to_string())?;
        let content = response.get("content")?;
        content
            .get("application/json")
            .or_else(|| content.as_object()?.values().next())
            .and_then(|c| c.get("schema"))
    }

    /// The published request body schema.
    pub fn request_body(&self, method: &str, path: &str) -> &Value {
        let content = &self.operation(method, path)["requestBody"]["content"];
        let schema = content
            .get("application/json")
            .or_else(|| content.get("application/x-www-form-urlencoded"))
            .map(|c| &c["schema"]);
        schema.unwrap_or_else(|| panic!("no request body schema for {method} {path}"))
    }
}

/// Every way `value` departs from `schema`, each naming where (`$` is the
/// document, `$.resultSet.skillResults[0].agentId` a field).
pub fn check(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_at(value, schema, "$", &mut errors);
    errors
}

/// Panics with every departure, naming `what`.
pub fn assert_conforms(what: &str, value: &Value, schema: &Value) {
    let errors = check(value, schema);
    assert!(
        errors.is_empty(),
        "{what} departs from the published schema:\n  {}\nvalue: {value:#}",
        errors.join("\n  ")
    );
}

fn check_at(value: &Value, schema: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = unwrapped(schema);
    if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = alternatives
            .iter()
            .filter(|alt| check(value, alt).is_empty())
            .count();
        if passing != 1 {
            errors.push(format!(
                "{at}: matches {passing} of the {} oneOf alternatives, not exactly one",
                alternatives.len()
            ));
        }
        return;
    }
    if let Some(wanted) = schema.get("type").and_then(Value::as_str)
        && !has_type(value, wanted)
    {
        errors.push(format!("{at}: expected {wanted}, got {}", kind(value)));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(format), Value::String(text)) =
        (schema.get("format").and_then(Value::as_str), value)
        && !has_format(text, format)
    {
        errors.push(format!("{at}: `{text}` is not a {format}"));
    }
    match value {
        Value::Object(fields) => check_object(fields, schema, at, errors),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_at(item, item_schema, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

fn check_object(fields: &Map<String, Value>, schema: &Value, at: &str, errors: &mut Vec<String>) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, field) in fields {
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => check_at(field, field_schema, &format!("{at}.{name}"), errors),
            None if closed => errors.push(format!(
                "{at}.{name}: not a published property (additionalProperties is false)"
            )),
            None => {}
        }
    }
    // Only names the reference defines are checkable (see the module doc).
    if let (Some(required), Some(properties)) =
        (schema.get("required").and_then(Value::as_array), properties)
    {
        for name in required.iter().filter_map(Value::as_str) {
            if properties.contains_key(name) && !fields.contains_key(name) {
                errors.push(format!("{at}: missing required '{name}'"));
            }
        }
    }
}

/// The quirk `{"schema": {...}}` in place of a schema.
fn unwrapped(schema: &Value) -> &Value {
    match schema.get("schema") {
        Some(inner) if schema.get("type").is_none() && schema.get("properties").is_none() => {
            unwrapped(inner)
        }
        _ => schema,
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "integer" => matches!(value, Value::Number(n) if n.is_i64() || n.is_u64()),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("the checker does not know the type `{other}`"),
    }
}

fn has_format(text: &str, format: &str) -> bool {
    match format {
        "date-time" => is_date_time(text),
        "uuid" => text.len() == 36 && uuid::Uuid::try_parse(text).is_ok(),
        "URL" | "url" => {
            (text.starts_with("http://") || text.starts_with("https://"))
                && reqwest::Url::parse(text).is_ok()
        }
        "jwt" => {
            let parts: Vec<&str> = text.split('.').collect();
            parts.len() == 3
                && parts.iter().all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        }
        // Number formats (int32, int64, float) only narrow the type.
        _ => true,
    }
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z` or an
/// offset.
fn is_date_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if !(b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod checker_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_checker_catches_types_names_enums_and_required_fields() {
        let schema = json!({
            "additionalProperties": false,
            "properties": {
                "resultSet": {"schema": {"properties": {
                    "errorCount": {"type": "integer", "required": true},
                    "rows": {"type": "array", "items": {"properties": {
                        "id": {"type": "string"},
                        "level": {"type": "integer", "enum": [1, 2, 3]}
                    }, "required": ["id", "undefinedName"]}}
                }}},
                "when": {"type": "string", "format": "date-time"}
            },
            "required": ["resultSet", "alsoUndefined"]
        });
        assert!(
            check(
                &json!({"resultSet": {"errorCount": 0, "rows": []}}),
                &schema
            )
            .is_empty()
        );
        let mut errors = check(
            &json!({
                "resultSet": {"errorCount": "1", "rows": [{"level": 4}, {"id": 7}]},
                "when": "yesterday",
                "extra": null
            }),
            &schema,
        );
        errors.sort();
        assert_eq!(
            errors,
            vec![
                "$.extra: not a published property (additionalProperties is false)",
                "$.resultSet.errorCount: expected integer, got string",
                "$.resultSet.rows[0].level: 4 is not one of [Number(1), Number(2), Number(3)]",
                "$.resultSet.rows[0]: missing required 'id'",
                "$.resultSet.rows[1].id: expected string, got integer",
                "$.when: `yesterday` is not a date-time",
            ]
        );
        assert_eq!(
            check(&json!({"resultSet": {"errorCount": 1.0}}), &schema),
            vec!["$.resultSet.errorCount: expected integer, got float"]
        );
    }
}
