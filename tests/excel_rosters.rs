//! Rosters as spreadsheets save them: semicolon-delimited with Excel's
//! `sep=;` line, "Unicode Text" (UTF-16, tabs), Windows-1252, headers
//! written for people. The real binary, offline or against the in-process
//! sandbox.

mod common;

use common::{Rehearsal, TempDir, cxskill_unconfigured, fast, read, stderr, stdout};
use cxskill::sandbox::SandboxOptions;

/// What Excel writes in much of Europe: `sep=;`, semicolons, CRLF, a BOM,
/// headers with spaces.
const EXCEL_EU: &str = "\u{feff}sep=;\r\n\
    Agent ID;Skill Name;Proficiency;Notes\r\n\
    1001;Sales;2;moved from billing, 3 weeks\r\n\
    jane.doe@acme.example;Billing EN;4;\r\n\
    1002;Billing ES;6;\"two\r\nlines\"\r\n";

#[test]
fn a_semicolon_excel_export_with_a_sep_line_validates_and_plans() {
    let dir = TempDir::new("excel-eu");
    let roster = dir.file("roster.csv", EXCEL_EU);
    let out = cxskill_unconfigured(&["validate", &roster], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "3 rows, 3 agents, 3 skills: valid\n");

    let sandbox = Rehearsal::start(SandboxOptions::default());
    let out = sandbox.cxskill(&fast(&["plan", &roster]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("agent 1001\n  ~ 445566 Sales  7 → 2\n"),
        "{text}"
    );
    assert!(text.contains("~ 112233 Billing EN  3 → 4"), "{text}");
    assert!(text.contains("+ 112234 Billing ES  6"), "{text}");
}

#[test]
fn line_numbers_stay_physical_after_the_sep_line_and_failed_rows_quote_the_cells() {
    let dir = TempDir::new("excel-eu-bad");
    let roster = dir.file(
        "roster.csv",
        "sep=;\nAgent ID;Skill Name;Proficiency\n1001;Sales;2\n1002;Sales;expert\n",
    );
    let failed = dir.path("failed.csv");
    let out = cxskill_unconfigured(&["plan", &roster, "--failed-rows", &failed], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("line 4: Proficiency `expert`"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read(&failed),
        "Agent ID,Skill Name,Proficiency,error\n1002,Sales,expert,\"line 4: Proficiency `expert`: CXone proficiency is an integer from 1 (best) to 20, or `remove`; to use names such as `expert`, define them in the [levels] table of the config file (expert = 1)\"\n"
    );
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

#[test]
fn excel_unicode_text_is_decoded_with_its_line_numbers() {
    let dir = TempDir::new("unicode-text");
    let path = dir.path("roster.txt");
    std::fs::write(
        &path,
        utf16le(
            "Agent ID\tSkill Name\tProficiency\r\n1001\tSales\t2\r\n1002\tFacturación\tguru\r\n",
        ),
    )
    .expect("write");
    let out = cxskill_unconfigured(&["validate", &path], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains(&format!("error: {path}: line 3: Proficiency `guru`")),
        "{}",
        stdout(&out)
    );
    let failed = dir.path("failed.csv");
    let out = cxskill_unconfigured(&["plan", &path, "--failed-rows", &failed], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        read(&failed).starts_with("Agent ID,Skill Name,Proficiency,error\n1002,Facturación,guru,"),
        "{}",
        read(&failed)
    );
}

#[test]
fn the_delimiter_option_overrides_what_the_header_suggests() {
    let dir = TempDir::new("delimiter");
    // Sniffed, this header splits at the comma into two unknown columns.
    let roster = dir.file(
        "roster.csv",
        "agent;skill;proficiency;note, remarks\n1001;5;3;a, b\n",
    );
    let out = cxskill_unconfigured(&["validate", &roster], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = cxskill_unconfigured(&["validate", &roster, "--delimiter", ","], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out)
            .contains("The header, split at `,`, has `agent;skill;proficiency;note`, `remarks`"),
        "{}",
        stdout(&out)
    );
    let tabs = dir.file("tabs.csv", "agent\tskill\tproficiency\n1001\t5\t3\n");
    let out = cxskill_unconfigured(&["validate", &tabs, "--delimiter", "tab"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = cxskill_unconfigured(&["validate", &tabs, "--delimiter", "|"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected `,`, `;` or `tab`"));
}

#[test]
fn headers_written_for_people_are_recognised() {
    let dir = TempDir::new("headers");
    let roster = dir.file(
        "roster.csv",
        "E-mail Address,Skill_Name,Proficiency Level,Is Active\njane.doe@acme.example,Sales,3,yes\n",
    );
    let out = cxskill_unconfigured(&["validate", &roster], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "1 row, 1 agent, 1 skill: valid\n");
    // `Is Active` is read, not ignored as an unknown column: a value that
    // is no flag makes its row invalid, named by the header as written.
    let bad = dir.file(
        "bad.csv",
        "E-mail Address,Skill_Name,Proficiency Level,Is Active\n\
         jane.doe@acme.example,Sales,3,yes\n\
         omar@acme.example,Billing EN,4,maybe\n",
    );
    let out = cxskill_unconfigured(&["validate", &bad], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!(
            "error: {bad}: line 3: Is Active `maybe`: expected true/false, yes/no, y/n or 1/0"
        )),
        "{}",
        stdout(&out)
    );
}
