//! The client's own wire types (`cxskill::wire`) against the hand-written
//! revision-2 fixtures of `tests/fixtures/rev2/`: every published answer
//! decodes to the values it holds, with the type the client reads that
//! endpoint with, and every body the client writes conforms to its
//! published request schema. `tests/sandbox.rs` checks the same fixtures
//! against the reference itself; this file checks the client reads them.

mod schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cxskill::client::jwt_tenant;
use cxskill::wire::{
    AgentWrite, AgentsBody, AgentsPage, ApiError, AssignmentsPage, Discovery, IdString,
    ResultSetResponse, SkillWrite, SkillsBody, TokenResponse, UpsertBody, UpsertItem, UpsertSkills,
};
use schema::{Reference, assert_conforms};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rev2")
}

fn text(file: &str) -> String {
    std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn value(file: &str) -> Value {
    serde_json::from_str(&text(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Decodes a fixture with the client's type for its endpoint.
fn decode<T: serde::de::DeserializeOwned>(file: &str) -> T {
    serde_json::from_str(&text(file))
        .unwrap_or_else(|e| panic!("the client cannot read {file}: {e}"))
}

/// The manifest's entries: (file, method, path, schema).
fn manifest() -> Vec<(String, String, String, String)> {
    let manifest = value("manifest.json");
    manifest["fixtures"]
        .as_array()
        .expect("fixtures")
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().expect(name).to_owned();
            (
                field("file"),
                field("method"),
                field("path"),
                field("schema"),
            )
        })
        .collect()
}

/// The assignment rows of an answer as (agent, userId, skill, level,
/// isActive), whichever way each row spells the agent.
type Row = (Option<u64>, Option<String>, u64, Option<i64>, Option<bool>);

fn rows(page: &AssignmentsPage) -> Vec<Row> {
    page.agent_skill_assignments
        .as_ref()
        .expect("the list is there")
        .iter()
        .map(|a| {
            (
                a.agent(),
                a.user_id.clone(),
                a.skill_id,
                a.agent_proficiency_value,
                a.is_active,
            )
        })
        .collect()
}

#[test]
fn every_answer_fixture_decodes_with_the_clients_type_for_its_endpoint() {
    // A fixture added to the manifest must be decoded here too.
    let mut decoded = BTreeSet::new();
    for (file, method, path, schema) in manifest() {
        if schema == "body" {
            continue;
        }
        let ok = match (method.as_str(), path.as_str()) {
            ("GET", "/agents") if file.starts_with("error") => {
                serde_json::from_str::<ApiError>(&text(&file)).is_ok()
            }
            ("GET", "/agents") => serde_json::from_str::<AgentsPage>(&text(&file)).is_ok(),
            ("GET", _) if path.starts_with("/.well-known/") => {
                serde_json::from_str::<Discovery>(&text(&file)).is_ok()
            }
            ("GET", _) => serde_json::from_str::<AssignmentsPage>(&text(&file)).is_ok(),
            ("POST", "/auth/token") if schema == "200" => {
                serde_json::from_str::<TokenResponse>(&text(&file)).is_ok()
            }
            ("POST", "/auth/token") => serde_json::from_str::<ApiError>(&text(&file)).is_ok(),
            ("POST" | "PUT" | "DELETE", _) => {
                serde_json::from_str::<ResultSetResponse>(&text(&file)).is_ok()
            }
            other => panic!("{file}: no client type for {other:?}"),
        };
        assert!(ok, "the client cannot read {file} ({method} {path})");
        decoded.insert(file);
    }
    assert!(decoded.len() >= 16, "{decoded:?}");
}

#[test]
fn the_one_agent_read_gives_the_agent_from_agent_id_alt_and_its_paging() {
    let page1: AssignmentsPage = decode("agent-skills.page1.json");
    let jane = Some("6513270e-269e-4d37-b2a7-4de452e6b438".to_owned());
    assert_eq!(page1.total_records, Some(3));
    assert_eq!(
        rows(&page1),
        [
            (Some(1001), jane.clone(), 112233, Some(3), Some(true)),
            (Some(1001), jane.clone(), 445566, Some(7), Some(true)),
        ]
    );
    let first = &page1.agent_skill_assignments.as_ref().unwrap()[0];
    assert_eq!(
        (first.agent_id, first.agent_id_alt),
        (None, Some(1001)),
        "the one-agent read spells the agent agentID_alt only"
    );
    assert_eq!(first.is_skill_active, Some(true));
    assert!(first.assigned());
    assert_eq!(
        page1.links.as_ref().and_then(|l| l.next.as_deref()),
        Some(
            "https://api-b32.nice-incontact.com/inContactAPI/services/v34.0/agents/1001/skills?top=2&skip=2"
        )
    );
    // An integer businessUnitId reads as text, like the bulk read's string.
    assert_eq!(page1.business_unit_id.as_deref(), Some("4600123"));
    assert_eq!(
        page1.last_poll_time.as_deref(),
        Some("2026-11-24T10:00:00.123Z")
    );

    let page2: AssignmentsPage = decode("agent-skills.page2.json");
    assert_eq!(
        rows(&page2),
        [(Some(1001), jane, 778899, Some(4), Some(false))]
    );
    let last = &page2.agent_skill_assignments.as_ref().unwrap()[0];
    assert_eq!(last.is_skill_active, Some(false));
    assert_eq!(
        page2.links.as_ref().and_then(|l| l.next.as_deref()),
        None,
        "the last page has no next"
    );
}

#[test]
fn the_bulk_read_gives_the_agent_from_agent_id_and_a_string_business_unit() {
    let page: AssignmentsPage = decode("agents-skills.json");
    assert_eq!(page.total_records, Some(2));
    assert_eq!(page.business_unit_id.as_deref(), Some("4600123"));
    assert_eq!(
        rows(&page),
        [
            (Some(1001), None, 112233, Some(3), Some(true)),
            (Some(1003), None, 556677, Some(1), Some(true)),
        ]
    );
    for row in page.agent_skill_assignments.as_ref().unwrap() {
        assert_eq!(row.agent_id_alt, None);
        assert_eq!(row.is_agent_active, Some(true));
        assert_eq!(row.is_skill_active, Some(true));
    }
    assert_eq!(page.links.and_then(|l| l.next), None);
}

#[test]
fn the_skills_read_keeps_inactive_assignments_and_names_invalid_skills() {
    let partial: AssignmentsPage = decode("skills-agents.206.json");
    assert_eq!(
        partial.total_records, None,
        "GET /skills/agents is not paged"
    );
    assert_eq!(partial.business_unit_id.as_deref(), Some("4600123"));
    assert_eq!(
        rows(&partial),
        [
            (Some(1001), None, 112233, Some(3), Some(true)),
            (Some(1002), None, 112233, Some(5), Some(false)),
        ]
    );
    assert!(
        partial
            .agent_skill_assignments
            .as_ref()
            .unwrap()
            .iter()
            .all(|a| a.assigned() && a.is_assigned == Some(true))
    );
    let invalid: Vec<u64> = partial
        .invalid_skills
        .unwrap()
        .iter()
        .map(|s| s.skill_id)
        .collect();
    assert_eq!(invalid, [999]);

    let whole: AssignmentsPage = decode("skills-agents.200.json");
    assert_eq!(
        rows(&whole),
        [(Some(1006), None, 667788, Some(4), Some(true))]
    );
    assert_eq!(whole.invalid_skills.map(|v| v.len()), Some(0));
}

#[test]
fn an_is_assigned_false_row_of_the_skills_read_is_not_an_assignment() {
    // The published row carries isAssigned; a skill's agent listed with
    // false does not hold it. No fixture has one, so one is made from the
    // published answer by flipping that flag.
    let mut answer = value("skills-agents.200.json");
    let mut unassigned = answer["agentSkillAssignments"][0].clone();
    unassigned["agentId"] = json!(1007);
    unassigned["isAssigned"] = json!(false);
    answer["agentSkillAssignments"]
        .as_array_mut()
        .unwrap()
        .push(unassigned);
    schema::assert_conforms(
        "the answer with an isAssigned: false row",
        &answer,
        Reference::load()
            .response("GET", "/skills/agents", 200)
            .expect("published"),
    );
    let page: AssignmentsPage = serde_json::from_value(answer).unwrap();
    let held: Vec<(Option<u64>, bool)> = page
        .agent_skill_assignments
        .unwrap()
        .iter()
        .map(|a| (a.agent(), a.assigned()))
        .collect();
    assert_eq!(held, [(Some(1006), true), (Some(1007), false)]);
}

#[test]
fn the_per_skill_read_gives_the_agent_from_agent_id_with_its_user_id() {
    let page: AssignmentsPage = decode("skill-agents.json");
    assert_eq!(page.total_records, Some(1));
    assert_eq!(
        rows(&page),
        [(
            Some(1006),
            Some("8d116ece-1738-47d9-bd9c-172411e20b8f".to_owned()),
            667788,
            Some(4),
            Some(true)
        )]
    );
}

#[test]
fn the_agent_listing_reads_user_id_spelled_user_id_upper() {
    let page: AgentsPage = decode("agents.json");
    assert_eq!(page.total_records, Some(12));
    let agents = page.agents.unwrap();
    assert_eq!(agents.len(), 1);
    let jane = &agents[0];
    assert_eq!(jane.agent_id, 1001);
    assert_eq!(
        jane.user_id.as_deref(),
        Some("6513270e-269e-4d37-b2a7-4de452e6b438")
    );
    assert_eq!(jane.user_name.as_deref(), Some("jane.doe@acme.example"));
    assert_eq!(
        (jane.first_name.as_deref(), jane.last_name.as_deref()),
        (Some("Jane"), Some("Doe"))
    );
    assert_eq!(jane.is_active, Some(true));
    assert!(page.links.and_then(|l| l.next).is_some());
}

/// (agentId, skillId, success, error) of each row of a write answer.
type Result4 = (Option<u64>, Option<u64>, bool, Option<String>);

fn results(file: &str) -> (Option<u64>, Vec<Result4>) {
    let answer: ResultSetResponse = decode(file);
    let rows = answer
        .result_set
        .rows()
        .expect("the answer has rows")
        .iter()
        .map(|r| (r.agent_id, r.skill_id, r.success, r.error.clone()))
        .collect();
    (answer.result_set.error_count, rows)
}

#[test]
fn write_answers_read_string_ids_and_counts_and_any_error_type() {
    // The upsert: ids and errorCount as strings, no error text at all.
    assert_eq!(
        results("upsert.answer.207.json"),
        (
            Some(1),
            vec![
                (Some(1001), Some(112233), true, None),
                (Some(1002), Some(112233), false, None),
            ]
        )
    );
    // Per-agent: `error` absent on success, text on failure.
    assert_eq!(
        results("agent-skills.answer.207.json"),
        (
            Some(1),
            vec![
                (None, Some(112233), true, None),
                (
                    None,
                    Some(998877),
                    false,
                    Some("Skill is not assigned to agent".to_owned())
                ),
            ]
        )
    );
    // Per-skill: agentResults, not skillResults.
    assert_eq!(
        results("skill-agents.answer.207.json"),
        (
            Some(1),
            vec![
                (Some(1001), None, true, None),
                (
                    Some(4242),
                    None,
                    false,
                    Some("Agent does not exist".to_owned())
                ),
            ]
        )
    );
    // The per-skill DELETE types `error` as a boolean: no reason text.
    assert_eq!(
        results("skill-agents.delete-answer.207.json"),
        (
            Some(1),
            vec![
                (Some(1001), None, true, None),
                (Some(1003), None, false, None)
            ]
        )
    );
    let answer: ResultSetResponse = decode("skill-agents.delete-answer.207.json");
    assert!(answer.result_set.skill_results.is_none());
    assert!(answer.result_set.agent_results.is_some());
}

#[test]
fn the_token_answer_names_the_tenant_and_shows_no_token() {
    let token: TokenResponse = decode("token.json");
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
    assert_eq!(token.expires_in, Some(3600));
    let id_token = token.id_token.as_ref().expect("an id_token");
    assert_eq!(
        jwt_tenant(id_token).as_deref(),
        Some("11eb5d7a-3c2f-4b8e-9f10-5a6b7c8d9e0f")
    );
    assert!(token.refresh_token.is_some());
    let shown = format!("{token:?}");
    let raw = value("token.json");
    for field in ["access_token", "refresh_token", "id_token"] {
        let secret = raw[field].as_str().unwrap();
        assert!(!shown.contains(secret), "{field} shown: {shown}");
    }
    assert!(!shown.contains("sbx-"), "{shown}");
}

#[test]
fn token_refusals_and_whole_request_errors_read_as_oauth_errors() {
    let grant: ApiError = decode("token.invalid_grant.json");
    assert_eq!(grant.error, "invalid_grant");
    assert_eq!(
        grant.error_description.as_deref(),
        Some("Unknown access key id or wrong access key secret")
    );
    let client: ApiError = decode("token.unauthorized_client.json");
    assert_eq!(client.error, "unauthorized_client");
    assert!(
        client
            .error_description
            .unwrap()
            .contains("sandbox-code-flow-only")
    );
    let body: ApiError = decode("error.400.json");
    assert_eq!(body.error, "InvalidRequestBody");
    assert!(body.error_description.unwrap().contains("proficiency"));
}

#[test]
fn discovery_gives_the_api_endpoint_area_and_cluster() {
    let found: Discovery = decode("cxone-configuration.json");
    assert_eq!(
        found.tenant_id.as_deref(),
        Some("11eb5d7a-3c2f-4b8e-9f10-5a6b7c8d9e0f")
    );
    assert_eq!(
        found.api_endpoint.as_deref(),
        Some("https://api-b32.nice-incontact.com")
    );
    assert_eq!(found.area.as_deref(), Some("na1"));
    assert_eq!(found.cluster.as_deref(), Some("B32"));
    assert_eq!(found.region.as_deref(), Some("na1"));
    assert_eq!(found.domain.as_deref(), Some("niceincontact.com"));
}

fn skills_body(rows: &[(u64, Option<u8>, Option<bool>)]) -> SkillsBody {
    SkillsBody {
        skills: rows
            .iter()
            .map(|&(skill, proficiency, is_active)| SkillWrite {
                skill_id: IdString(skill),
                proficiency,
                is_active,
            })
            .collect(),
    }
}

/// What the client writes, each with the fixture it must equal and the
/// operation whose published body schema it must meet.
fn write_bodies() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let upsert = UpsertBody {
        agent_and_skill_details: vec![
            UpsertItem {
                agent_ids: vec![IdString(1004), IdString(1005)],
                skills: vec![UpsertSkills {
                    skill_ids: vec![IdString(556677), IdString(667788)],
                    proficiency: 3,
                    is_active: true,
                }],
            },
            UpsertItem {
                agent_ids: vec![IdString(1008)],
                skills: vec![
                    UpsertSkills {
                        skill_ids: vec![IdString(445566)],
                        proficiency: 1,
                        is_active: false,
                    },
                    UpsertSkills {
                        skill_ids: vec![IdString(778899)],
                        proficiency: 5,
                        is_active: true,
                    },
                ],
            },
        ],
    };
    let post = skills_body(&[
        (112233, Some(12), Some(true)),
        (778899, Some(20), Some(false)),
    ]);
    let put = skills_body(&[
        (112233, Some(9), Some(false)),
        (778899, Some(1), Some(true)),
    ]);
    let delete = skills_body(&[(112233, None, None), (778899, None, None)]);
    let skill_delete = AgentsBody {
        agents: vec![
            AgentWrite {
                agent_id: IdString(1010),
            },
            AgentWrite {
                agent_id: IdString(1011),
            },
        ],
    };
    vec![
        ("upsert.body.json", "POST", "/agents/skills", json(&upsert)),
        (
            "agent-skills.post.body.json",
            "POST",
            "/agents/{agentId|userId}/skills",
            json(&post),
        ),
        (
            "agent-skills.put.body.json",
            "PUT",
            "/agents/{agentId|userId}/skills",
            json(&put),
        ),
        (
            "agent-skills.delete.body.json",
            "DELETE",
            "/agents/{agentId|userId}/skills",
            json(&delete),
        ),
        (
            "skill-agents.delete.body.json",
            "DELETE",
            "/skills/{skillId}/agents",
            json(&skill_delete),
        ),
    ]
}

fn json<T: serde::Serialize>(body: &T) -> Value {
    serde_json::to_value(body).expect("a body serialises")
}

#[test]
fn the_clients_write_bodies_are_the_published_fixtures_and_conform() {
    let reference = Reference::load();
    let bodies = write_bodies();
    for (fixture, method, path, body) in &bodies {
        assert_conforms(
            &format!("the client's {method} {path} body"),
            body,
            reference.request_body(method, path),
        );
        assert_eq!(
            body,
            &value(fixture),
            "the client's {method} {path} body is not {fixture}"
        );
    }
    // Every id is a JSON string of digits, every level and flag typed.
    let text: String = bodies.iter().map(|b| b.3.to_string()).collect();
    assert!(!text.contains("\"skillId\":1"), "{text}");
    assert!(!text.contains("\"agentId\":1"), "{text}");
    // The manifest's write bodies the client sends are all covered (the
    // per-skill POST and PUT are never sent: see `requests`).
    let sent: BTreeSet<&str> = bodies.iter().map(|b| b.0).collect();
    for (file, method, path, schema) in manifest() {
        let never_sent = path.starts_with("/skills/{skillId}") && method != "DELETE";
        if schema == "body" && !never_sent {
            assert!(sent.contains(file.as_str()), "{file} is not checked");
        }
    }
}

#[test]
fn a_write_body_with_an_integer_id_would_fail_the_published_schema() {
    // The checker catches what the client must never send, so the test
    // above proves something.
    let reference = Reference::load();
    let integer_ids = json!({"skills": [{"skillId": 112233, "proficiency": 5, "isActive": true}]});
    let errors = schema::check(
        &integer_ids,
        reference.request_body("POST", "/agents/{agentId|userId}/skills"),
    );
    assert!(
        errors.iter().any(|e| e.contains("expected string")),
        "{errors:?}"
    );
    let bare_array = json!([{"skillId": "112233"}]);
    assert!(
        !schema::check(
            &bare_array,
            reference.request_body("DELETE", "/agents/{agentId|userId}/skills")
        )
        .is_empty()
    );
}

#[test]
fn a_row_naming_the_agent_by_user_id_alone_keeps_it_in_either_spelling() {
    // Reads spell the agent agentId, agentID_alt or userId/userID; a row
    // with only the userId has no agentId to give, and says so.
    let published = value("agent-skills.page1.json")["agentSkillAssignments"][0].clone();
    for spelling in ["userId", "userID"] {
        let mut row = published.clone();
        let object = row.as_object_mut().unwrap();
        object.remove("agentID_alt");
        let user = object.remove("userId").unwrap();
        object.insert(spelling.to_owned(), user);
        let read: cxskill::wire::Assignment = serde_json::from_value(row).unwrap();
        assert_eq!(read.agent(), None, "{spelling}");
        assert_eq!(
            read.user_id.as_deref(),
            Some("6513270e-269e-4d37-b2a7-4de452e6b438"),
            "{spelling}"
        );
        assert_eq!(
            (read.skill_id, read.agent_proficiency_value),
            (112233, Some(3))
        );
    }
}
