//! Strict parsing of write bodies, with the precise `error_description` a
//! user needs to fix the request.
//!
//! This is deliberately not serde derive: the point of the sandbox is to
//! reject what the real service rejects (a bare array, `5.0` or `"5"`
//! where an integer belongs, proficiency 25, a per-agent PUT row without
//! `isActive`) and to say exactly which row and field was wrong, which
//! serde's generic messages do not.
//!
//! Ids in write bodies are published as strings (`"skillId": "112233"`).
//! The sandbox takes a JSON string holding a positive integer, or a JSON
//! integer; with `string_ids` only the string, so a test can prove the
//! client sends what is published. Proficiency and `isActive` are typed
//! (integer, boolean) in every body.

use serde_json::{Map, Value};

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
    /// Assign: `proficiency` required, `isActive` optional (true).
    Post,
    /// Modify: `proficiency` required; `isActive` required on the
    /// per-agent PUT (as published), optional on the per-skill PUT (also
    /// as published; the current flag is kept).
    Put,
}

/// How ids in bodies must be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ids {
    /// A JSON string holding a positive integer, or a JSON integer.
    StringOrInteger,
    /// Only the published type, a JSON string (`SandboxOptions::string_ids`).
    StringOnly,
}

/// One valid row of a POST or PUT: the id of the skill (or agent) and the
/// values to set. Valid by construction, so the store never re-checks
/// types; ranges narrower than 1..=20 are the store's per-row business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SetRow {
    pub id: u64,
    pub proficiency: Proficiency,
    /// `None`: absent from the row; the store decides (true for a new
    /// assignment, the current flag for an existing one).
    pub is_active: Option<bool>,
}

/// One item of the upsert's `agentAndSkillDetails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UpsertItem {
    pub agent_ids: Vec<u64>,
    pub skills: Vec<UpsertSkills>,
}

/// One entry of an upsert item's `skills`: these skills, at this level,
/// for every agent of the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UpsertSkills {
    pub skill_ids: Vec<u64>,
    pub proficiency: Proficiency,
    pub is_active: Option<bool>,
}

impl UpsertItem {
    /// agentIds × skillIds: the rows this item stands for.
    pub fn pairs(&self) -> usize {
        let skills: usize = self.skills.iter().map(|s| s.skill_ids.len()).sum();
        self.agent_ids.len().saturating_mul(skills)
    }
}

/// Parses a POST or PUT body into rows.
pub(super) fn set_rows(
    bytes: &[u8],
    list: List,
    write: Write,
    ids: Ids,
) -> Result<Vec<SetRow>, String> {
    wrapper_rows(bytes, list.key())?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let at = format!("{}[{i}]", list.key());
            let row = object(row, &at)?;
            let id = required_id(row, &at, list.id_field(), ids)?;
            let proficiency =
                proficiency(row, &at)?.ok_or_else(|| format!("{at}: missing 'proficiency'"))?;
            let is_active = boolean(row, &at, "isActive")?;
            if write == Write::Put && list == List::Skills && is_active.is_none() {
                return Err(format!("{at}: missing 'isActive' (required by PUT)"));
            }
            Ok(SetRow {
                id,
                proficiency,
                is_active,
            })
        })
        .collect()
}

/// Parses a DELETE body into the ids to remove. Other fields of a row are
/// ignored: the published DELETE row defines only the id.
pub(super) fn delete_rows(bytes: &[u8], list: List, ids: Ids) -> Result<Vec<u64>, String> {
    wrapper_rows(bytes, list.key())?
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let at = format!("{}[{i}]", list.key());
            required_id(object(row, &at)?, &at, list.id_field(), ids)
        })
        .collect()
}

/// Parses the body of `POST /agents/skills`.
pub(super) fn upsert(bytes: &[u8], ids: Ids) -> Result<Vec<UpsertItem>, String> {
    const KEY: &str = "agentAndSkillDetails";
    wrapper_rows(bytes, KEY)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{KEY}[{i}]");
            let item = object(item, &at)?;
            let agent_ids = id_list(item, &at, "agentIds", ids)?;
            let skills = non_empty_array(item, &at, "skills")?
                .iter()
                .enumerate()
                .map(|(j, entry)| {
                    let at = format!("{at}.skills[{j}]");
                    let entry = object(entry, &at)?;
                    let skill_ids = id_list(entry, &at, "skillIds", ids)?;
                    let proficiency = proficiency(entry, &at)?
                        .ok_or_else(|| format!("{at}: missing 'proficiency'"))?;
                    let is_active = boolean(entry, &at, "isActive")?;
                    Ok(UpsertSkills {
                        skill_ids,
                        proficiency,
                        is_active,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(UpsertItem { agent_ids, skills })
        })
        .collect()
}

/// The wrapper object's rows, or why the body is not the wrapper object.
fn wrapper_rows(bytes: &[u8], key: &str) -> Result<Vec<Value>, String> {
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

fn object<'a>(row: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    match row {
        Value::Object(row) => Ok(row),
        other => Err(format!("{at}: expected object, got {}", described(other))),
    }
}

/// A required id field. A field set to `null` counts as present, so
/// `null` is reported as a wrong type rather than as missing.
fn required_id(row: &Map<String, Value>, at: &str, field: &str, ids: Ids) -> Result<u64, String> {
    match row.get(field) {
        None => Err(format!("{at}: missing '{field}'")),
        Some(value) => id(value, &format!("{at}.{field}"), ids),
    }
}

/// A non-empty array of ids (`agentIds`, `skillIds`).
fn id_list(row: &Map<String, Value>, at: &str, field: &str, ids: Ids) -> Result<Vec<u64>, String> {
    non_empty_array(row, at, field)?
        .iter()
        .enumerate()
        .map(|(k, value)| id(value, &format!("{at}.{field}[{k}]"), ids))
        .collect()
}

fn non_empty_array<'a>(
    row: &'a Map<String, Value>,
    at: &str,
    field: &str,
) -> Result<&'a Vec<Value>, String> {
    match row.get(field) {
        None => Err(format!("{at}: missing '{field}'")),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(format!("{at}.{field}: empty; send at least one"))
        }
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!(
            "{at}.{field}: expected array, got {}",
            described(other)
        )),
    }
}

/// One id: `"1001"` (the published type) or, unless [`Ids::StringOnly`],
/// `1001`.
fn id(value: &Value, at: &str, ids: Ids) -> Result<u64, String> {
    const WANTED: &str = "a string holding a positive integer";
    match value {
        Value::String(text) => {
            let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            match text.parse::<u64>() {
                Ok(id) if digits && id > 0 => Ok(id),
                _ => Err(format!("{at}: expected {WANTED}, got {}", described(value))),
            }
        }
        Value::Number(_) if ids == Ids::StringOnly && integer(value).is_some() => Err(format!(
            "{at}: expected {WANTED}, as published; got {} (this sandbox runs with --string-ids)",
            described(value)
        )),
        Value::Number(_) => match integer(value) {
            Some(id) if id > 0 => Ok(id as u64),
            Some(id) => Err(format!("{at}: expected a positive integer, got {id}")),
            None => Err(format!(
                "{at}: expected {WANTED} or an integer, got {}",
                described(value)
            )),
        },
        other => Err(format!(
            "{at}: expected {WANTED}{}, got {}",
            if ids == Ids::StringOnly {
                ""
            } else {
                " or an integer"
            },
            described(other)
        )),
    }
}

fn proficiency(row: &Map<String, Value>, at: &str) -> Result<Option<Proficiency>, String> {
    let Some(value) = row.get("proficiency") else {
        return Ok(None);
    };
    let n = integer(value).ok_or_else(|| {
        format!(
            "{at}.proficiency: expected integer from 1 to 20, got {}",
            described(value)
        )
    })?;
    Proficiency::new(n)
        .map(Some)
        .ok_or_else(|| format!("{at}.proficiency: must be an integer from 1 to 20, got {n}"))
}

fn boolean(row: &Map<String, Value>, at: &str, field: &str) -> Result<Option<bool>, String> {
    match row.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(value) => Err(format!(
            "{at}.{field}: expected boolean, got {}",
            described(value)
        )),
    }
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

    const LOOSE: Ids = Ids::StringOrInteger;

    fn post(body: &str) -> Result<Vec<SetRow>, String> {
        set_rows(body.as_bytes(), List::Skills, Write::Post, LOOSE)
    }

    #[test]
    fn bare_array_gets_the_contract_text() {
        assert_eq!(
            post(r#"[{"skillId":"1","proficiency":2}]"#).unwrap_err(),
            "Expected object with a 'skills' array, got array"
        );
        assert_eq!(
            set_rows(b"[]", List::Agents, Write::Put, LOOSE).unwrap_err(),
            "Expected object with a 'agents' array, got array"
        );
        assert_eq!(
            upsert(b"[]", LOOSE).unwrap_err(),
            "Expected object with a 'agentAndSkillDetails' array, got array"
        );
    }

    #[test]
    fn ids_are_published_strings_and_integers_pass_unless_string_only() {
        let rows = post(
            r#"{"skills":[{"skillId":"112233","proficiency":2},{"skillId":7,"proficiency":3}]}"#,
        )
        .unwrap();
        assert_eq!((rows[0].id, rows[1].id), (112_233, 7));
        assert_eq!(
            set_rows(
                br#"{"skills":[{"skillId":"1","proficiency":2},{"skillId":7,"proficiency":3}]}"#,
                List::Skills,
                Write::Post,
                Ids::StringOnly
            )
            .unwrap_err(),
            "skills[1].skillId: expected a string holding a positive integer, as published; \
             got integer 7 (this sandbox runs with --string-ids)"
        );
    }

    #[test]
    fn each_wrong_type_names_row_field_and_value() {
        let cases = [
            (
                r#"{"skills":[{"skillId":"abc","proficiency":2}]}"#,
                r#"skills[0].skillId: expected a string holding a positive integer, got string "abc""#,
            ),
            (
                r#"{"skills":[{"skillId":"0","proficiency":2}]}"#,
                r#"skills[0].skillId: expected a string holding a positive integer, got string "0""#,
            ),
            (
                r#"{"skills":[{"skillId":" 12","proficiency":2}]}"#,
                r#"skills[0].skillId: expected a string holding a positive integer, got string " 12""#,
            ),
            (
                r#"{"skills":[{"skillId":1,"proficiency":2},{"skillId":2,"proficiency":2.0}]}"#,
                "skills[1].proficiency: expected integer from 1 to 20, got float 2.0",
            ),
            (
                r#"{"skills":[{"skillId":1,"proficiency":"2"}]}"#,
                r#"skills[0].proficiency: expected integer from 1 to 20, got string "2""#,
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
                r#"{"skills":[{"skillId":4.0,"proficiency":3}]}"#,
                "skills[0].skillId: expected a string holding a positive integer or an integer, got float 4.0",
            ),
            (
                r#"{"skills":[{"skillId":null,"proficiency":3}]}"#,
                "skills[0].skillId: expected a string holding a positive integer or an integer, got null",
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
    fn per_agent_put_requires_is_active_and_per_skill_put_does_not() {
        let rows = post(r#"{"skills":[{"skillId":"9","proficiency":20}]}"#).unwrap();
        assert_eq!(rows[0].id, 9);
        assert_eq!(rows[0].proficiency.get(), 20);
        assert_eq!(rows[0].is_active, None);
        assert_eq!(
            set_rows(
                br#"{"skills":[{"skillId":"9","proficiency":20}]}"#,
                List::Skills,
                Write::Put,
                LOOSE
            )
            .unwrap_err(),
            "skills[0]: missing 'isActive' (required by PUT)"
        );
        let rows = set_rows(
            br#"{"agents":[{"agentId":"9","proficiency":2}]}"#,
            List::Agents,
            Write::Put,
            LOOSE,
        )
        .unwrap();
        assert_eq!(rows[0].is_active, None);
    }

    #[test]
    fn delete_rows_need_only_the_id_but_still_type_check() {
        assert_eq!(
            delete_rows(
                br#"{"skills":[{"skillId":"9"},{"skillId":10}]}"#,
                List::Skills,
                LOOSE
            )
            .unwrap(),
            vec![9, 10]
        );
        assert_eq!(
            delete_rows(br#"{"agents":[{"agentId":9.5}]}"#, List::Agents, LOOSE).unwrap_err(),
            "agents[0].agentId: expected a string holding a positive integer or an integer, got float 9.5"
        );
    }

    #[test]
    fn upsert_items_name_the_nested_row_that_is_wrong() {
        let items = upsert(
            br#"{"agentAndSkillDetails":[{"agentIds":["1001","1002"],"skills":[
                {"skillIds":["1","2"],"proficiency":3,"isActive":true},
                {"skillIds":["3"],"proficiency":1}]}]}"#,
            LOOSE,
        )
        .unwrap();
        assert_eq!(items[0].agent_ids, vec![1001, 1002]);
        assert_eq!(items[0].skills[1].is_active, None);
        assert_eq!(items[0].pairs(), 6);
        let cases = [
            (
                r#"{"agentAndSkillDetails":[{"skills":[{"skillIds":["1"],"proficiency":3}]}]}"#,
                "agentAndSkillDetails[0]: missing 'agentIds'",
            ),
            (
                r#"{"agentAndSkillDetails":[{"agentIds":[],"skills":[{"skillIds":["1"],"proficiency":3}]}]}"#,
                "agentAndSkillDetails[0].agentIds: empty; send at least one",
            ),
            (
                r#"{"agentAndSkillDetails":[{"agentIds":["1"],"skills":[{"skillIds":["1","x"],"proficiency":3}]}]}"#,
                r#"agentAndSkillDetails[0].skills[0].skillIds[1]: expected a string holding a positive integer, got string "x""#,
            ),
            (
                r#"{"agentAndSkillDetails":[{"agentIds":["1"],"skills":[{"skillIds":["1"]}]}]}"#,
                "agentAndSkillDetails[0].skills[0]: missing 'proficiency'",
            ),
            (
                r#"{"agentAndSkillDetails":[{"agentIds":["1"],"skills":{"skillIds":["1"]}}]}"#,
                "agentAndSkillDetails[0].skills: expected array, got object",
            ),
            (
                r#"{"agentAndSkillDetails":[{"agentIds":["1"],"skills":[{"skillIds":["1"],"proficiency":21}]}]}"#,
                "agentAndSkillDetails[0].skills[0].proficiency: must be an integer from 1 to 20, got 21",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                upsert(body.as_bytes(), LOOSE).unwrap_err(),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn huge_integers_are_out_of_range_not_accepted() {
        assert!(
            post(r#"{"skills":[{"skillId":1,"proficiency":18446744073709551615}]}"#)
                .unwrap_err()
                .contains("must be an integer from 1 to 20")
        );
        assert!(
            post(r#"{"skills":[{"skillId":"18446744073709551616","proficiency":1}]}"#)
                .unwrap_err()
                .contains("expected a string holding a positive integer")
        );
    }
}
