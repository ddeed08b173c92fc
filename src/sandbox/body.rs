//! Strict parsing of write bodies, with the precise `error_description` a
//! user needs to fix the request.
//!
//! This is deliberately not serde derive: the point of the sandbox is to
//! reject what the real service rejects (a bare array, `"5"` for 5, `5.0`,
//! proficiency 25, a PUT row without `isActive`) and to say exactly which
//! row and field was wrong, which serde's generic messages do not.

use serde_json::Value;

use crate::model::Proficiency;

/// Which list the wrapper object carries: `skills` on
/// `/agents/{id}/skills`, `agents` on `/skills/{id}/agents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Skills,
    Agents,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::Skills => "skills",
            List::Agents => "agents",
        }
    }

    fn id_field(self) -> &'static str {
        match self {
            List::Skills => "skillId",
            List::Agents => "agentId",
        }
    }
}

/// The write being parsed, because POST and PUT require different fields
/// (DELETE rows are parsed by [`delete_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// Assign: `proficiency` required, `isActive` defaults to true.
    Post,
    /// Modify: `proficiency` and `isActive` required.
    Put,
}

/// One valid row of a POST or PUT: the id of the skill (or agent) and the
/// values to set. Valid by construction, so the store never re-checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SetRow {
    pub id: u64,
    pub proficiency: Proficiency,
    pub is_active: bool,
}

/// Parses a POST or PUT body into rows.
pub(super) fn set_rows(bytes: &[u8], list: List, write: Write) -> Result<Vec<SetRow>, String> {
    rows(bytes, list)?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let at = format!("{}[{i}]", list.key());
            let fields = fields(row, &at, list)?;
            let proficiency = fields
                .proficiency
                .ok_or_else(|| format!("{at}: missing 'proficiency'"))?;
            let is_active = match (fields.is_active, write) {
                (Some(active), _) => active,
                (None, Write::Put) => {
                    return Err(format!("{at}: missing 'isActive' (required by PUT)"));
                }
                (None, _) => true,
            };
            Ok(SetRow {
                id: fields.id,
                proficiency,
                is_active,
            })
        })
        .collect()
}

/// Parses a DELETE body into the ids to remove.
pub(super) fn delete_rows(bytes: &[u8], list: List) -> Result<Vec<u64>, String> {
    rows(bytes, list)?
        .iter()
        .enumerate()
        .map(|(i, row)| fields(row, &format!("{}[{i}]", list.key()), list).map(|f| f.id))
        .collect()
}

/// The wrapper object's rows, or why the body is not the wrapper object.
fn rows(bytes: &[u8], list: List) -> Result<Vec<Value>, String> {
    let key = list.key();
    let expected = format!("Expected object with a '{key}' array");
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("{expected}, got an empty body"));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("{expected}, got invalid JSON ({e})"))?;
    let mut object = match value {
        Value::Object(object) => object,
        other => return Err(format!("{expected}, got {}", kind(&other))),
    };
    match object.remove(key) {
        None => Err(format!("{expected}, got an object without '{key}'")),
        Some(Value::Array(rows)) if rows.is_empty() => {
            Err(format!("'{key}' is empty; send at least one row"))
        }
        Some(Value::Array(rows)) => Ok(rows),
        Some(other) => Err(format!("{expected}, got '{key}' as {}", kind(&other))),
    }
}

/// The known fields of one row, each checked for its JSON type when
/// present; which ones are required is the caller's business.
struct Fields {
    id: u64,
    proficiency: Option<Proficiency>,
    is_active: Option<bool>,
}

fn fields(row: &Value, at: &str, list: List) -> Result<Fields, String> {
    let Value::Object(row) = row else {
        return Err(format!("{at}: expected object, got {}", described(row)));
    };
    // A field set to `null` counts as present, so `null` is reported as a
    // wrong type rather than silently defaulted.
    let id_field = list.id_field();
    let id = match row.get(id_field) {
        None => return Err(format!("{at}: missing '{id_field}'")),
        Some(value) => match integer(value) {
            Some(id) if id > 0 => id as u64,
            Some(id) => {
                return Err(format!(
                    "{at}.{id_field}: expected a positive integer, got {id}"
                ));
            }
            None => {
                return Err(format!(
                    "{at}.{id_field}: expected integer, got {}",
                    described(value)
                ));
            }
        },
    };
    let proficiency = match row.get("proficiency") {
        None => None,
        Some(value) => {
            let n = integer(value).ok_or_else(|| {
                format!(
                    "{at}.proficiency: expected integer from 1 to 20, got {}",
                    described(value)
                )
            })?;
            Some(Proficiency::new(n).ok_or_else(|| {
                format!("{at}.proficiency: must be an integer from 1 to 20, got {n}")
            })?)
        }
    };
    let is_active = match row.get("isActive") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(value) => {
            return Err(format!(
                "{at}.isActive: expected boolean, got {}",
                described(value)
            ));
        }
    };
    Ok(Fields {
        id,
        proficiency,
        is_active,
    })
}

/// A JSON integer (not a float such as `5.0`, not a string such as `"5"`).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) if !n.is_f64() => n.as_i64().or_else(|| {
            // Above i64::MAX: still an integer, but no valid id or
            // proficiency; report it as out of range via a sentinel.
            n.as_u64().map(|_| i64::MAX)
        }),
        _ => None,
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

/// The kind plus the value itself for scalars (`string "5"`, `float 5.0`),
/// so the user sees what was sent.
fn described(value: &Value) -> String {
    match value {
        Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            format!("{} {value}", kind(value))
        }
        _ => kind(value).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Result<Vec<SetRow>, String> {
        set_rows(body.as_bytes(), List::Skills, Write::Post)
    }

    #[test]
    fn bare_array_gets_the_contract_text() {
        assert_eq!(
            post(r#"[{"skillId":1,"proficiency":2}]"#).unwrap_err(),
            "Expected object with a 'skills' array, got array"
        );
        assert_eq!(
            set_rows(b"[]", List::Agents, Write::Put).unwrap_err(),
            "Expected object with a 'agents' array, got array"
        );
    }

    #[test]
    fn each_wrong_type_names_row_field_and_value() {
        let cases = [
            (
                r#"{"skills":[{"skillId":"112233","proficiency":2}]}"#,
                r#"skills[0].skillId: expected integer, got string "112233""#,
            ),
            (
                r#"{"skills":[{"skillId":1,"proficiency":2},{"skillId":2,"proficiency":2.0}]}"#,
                "skills[1].proficiency: expected integer from 1 to 20, got float 2.0",
            ),
            (
                r#"{"skills":[{"skillId":1,"proficiency":0}]}"#,
                "skills[0].proficiency: must be an integer from 1 to 20, got 0",
            ),
            (
                r#"{"skills":[{"skillId":1,"proficiency":3,"isActive":"true"}]}"#,
                r#"skills[0].isActive: expected boolean, got string "true""#,
            ),
            (
                r#"{"skills":[{"skillId":-4,"proficiency":3}]}"#,
                "skills[0].skillId: expected a positive integer, got -4",
            ),
            (
                r#"{"skills":[{"proficiency":3}]}"#,
                "skills[0]: missing 'skillId'",
            ),
            (
                r#"{"skills":[{"skillId":1}]}"#,
                "skills[0]: missing 'proficiency'",
            ),
            (
                r#"{"skills":[7]}"#,
                "skills[0]: expected object, got integer 7",
            ),
            (
                r#"{"skills":[]}"#,
                "'skills' is empty; send at least one row",
            ),
            (
                r#"{"skill":[]}"#,
                "Expected object with a 'skills' array, got an object without 'skills'",
            ),
            (
                r#"{"skills":{"skillId":1}}"#,
                "Expected object with a 'skills' array, got 'skills' as object",
            ),
            (
                "  ",
                "Expected object with a 'skills' array, got an empty body",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(post(body).unwrap_err(), expected, "{body}");
        }
    }

    #[test]
    fn post_defaults_to_active_and_put_requires_is_active() {
        let rows = post(r#"{"skills":[{"skillId":9,"proficiency":20}]}"#).unwrap();
        assert_eq!(rows[0].id, 9);
        assert_eq!(rows[0].proficiency.get(), 20);
        assert!(rows[0].is_active);
        assert_eq!(
            set_rows(
                br#"{"skills":[{"skillId":9,"proficiency":20}]}"#,
                List::Skills,
                Write::Put
            )
            .unwrap_err(),
            "skills[0]: missing 'isActive' (required by PUT)"
        );
    }

    #[test]
    fn delete_rows_need_only_the_id_but_still_type_check() {
        assert_eq!(
            delete_rows(
                br#"{"skills":[{"skillId":9},{"skillId":10}]}"#,
                List::Skills
            )
            .unwrap(),
            vec![9, 10]
        );
        assert_eq!(
            delete_rows(br#"{"skills":[{"skillId":9.5}]}"#, List::Skills).unwrap_err(),
            "skills[0].skillId: expected integer, got float 9.5"
        );
    }

    #[test]
    fn huge_integers_are_out_of_range_not_accepted() {
        assert!(
            post(r#"{"skills":[{"skillId":1,"proficiency":18446744073709551615}]}"#)
                .unwrap_err()
                .contains("must be an integer from 1 to 20")
        );
    }
}
