//! Property tests: no input, however malformed, panics the parser, and
//! every data row is accounted for as either a row or an error.

use cxskill::model::Levels;
use cxskill::roster::{Format, Input, Source, parse};
use cxskill::validate::validate;
use proptest::prelude::*;

fn run(format: Format, bytes: Vec<u8>) {
    let roster = parse(
        &Input::from_bytes(Source::Stdin, format, bytes),
        &Levels::default(),
    );
    let rows = roster.rows.len() as u64;
    let total = roster.total_rows;
    let errors = roster.errors.len() as u64;
    assert!(rows <= total, "{rows} rows out of {total}");
    // Every row that is not valid has at least one error.
    assert!(rows == total || errors > 0);
    let _ = validate(roster).summary();
}

/// A CSV cell: sometimes valid, sometimes a near miss, sometimes junk.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..5000).prop_map(|n| n.to_string()),
        (0i64..30).prop_map(|n| n.to_string()),
        Just("remove".to_owned()),
        Just("6513270e-269e-4d37-b2a7-4de452e6b438".to_owned()),
        Just(String::new()),
        "[a-zA-Z0-9 ,\"\r\n-]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_csv(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run(Format::Csv, bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_json(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run(Format::Json, bytes);
    }

    #[test]
    fn arbitrary_csv_never_panics(
        header in proptest::sample::subsequence(vec!["agent", "skill", "proficiency", "active", "name"], 0..=5),
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..6), 0..20),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut text = header.join(",");
        for row in rows {
            text.push_str(newline);
            let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
            text.push_str(&quoted.join(","));
        }
        run(Format::Csv, text.into_bytes());
    }

    #[test]
    fn valid_rows_keep_their_physical_line(blank_before in 0usize..3, crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let text = format!("agent,note,skill,proficiency{nl}{}1001,\"a{nl}b\",5,3{nl}1002,x,5,4{nl}", nl.repeat(blank_before));
        let roster = parse(&Input::from_bytes(Source::Stdin, Format::Csv, text.into_bytes()), &Levels::default());
        prop_assert!(roster.errors.is_empty());
        let lines: Vec<u64> = roster.rows.iter().map(|r| r.line).collect();
        let first = 2 + blank_before as u64;
        prop_assert_eq!(lines, vec![first, first + 2]);
    }
}
