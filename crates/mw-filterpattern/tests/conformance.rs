//! Runs `conformance.tsv`: every (pattern, message) pair must match as listed.

use crate::read_tsv;
use mw_filterpattern::FilterPattern;

#[test]
fn conformance_table() {
    let rows = read_tsv("conformance.tsv");
    assert!(rows.len() >= 150, "only {} cases", rows.len());
    let mut failures = Vec::new();
    for (line, f) in &rows {
        assert_eq!(f.len(), 4, "line {line}: expected 4 tab-separated fields");
        let (pattern, message, note) = (&f[0], &f[1], &f[3]);
        let expected = match f[2].as_str() {
            "true" => true,
            "false" => false,
            other => panic!("line {line}: expected true or false, got {other:?}"),
        };
        match FilterPattern::parse(pattern) {
            Err(e) => failures.push(format!(
                "line {line}: {pattern:?} did not parse: {e} ({note})"
            )),
            Ok(p) => {
                let got = p.matches(message);
                if got != expected {
                    failures.push(format!(
                        "line {line}: {pattern:?} on {message:?}: got {got}, want {expected} ({note})"
                    ));
                }
                if p.extract(message).is_some() != got {
                    failures.push(format!("line {line}: extract disagrees with matches"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_kind_has_positive_and_negative_cases() {
    use mw_filterpattern::PatternKind;
    let rows = read_tsv("conformance.tsv");
    for kind in [
        PatternKind::All,
        PatternKind::Terms,
        PatternKind::Regex,
        PatternKind::Json,
        PatternKind::Delimited,
    ] {
        for want in ["true", "false"] {
            // An empty pattern has no negative cases.
            if kind == PatternKind::All && want == "false" {
                continue;
            }
            let n = rows
                .iter()
                .filter(|(_, f)| f[2] == want)
                .filter(|(_, f)| FilterPattern::parse(&f[0]).is_ok_and(|p| p.kind() == kind))
                .count();
            assert!(n >= 2, "{kind:?} has {n} cases expecting {want}");
        }
    }
}
