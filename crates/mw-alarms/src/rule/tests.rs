//! Parser tables: accepted rules with their canonical form, and rejected rules
//! with the error position and message.

use super::*;
use crate::ErrorKind;

#[test]
fn accepted_rules_and_their_canonical_form() {
    let rows = [
        ("TRUE", "TRUE"),
        ("FALSE", "FALSE"),
        ("ALARM(cpu)", r#"ALARM("cpu")"#),
        (r#"OK("disk space")"#, r#"OK("disk space")"#),
        ("INSUFFICIENT_DATA( a )", r#"INSUFFICIENT_DATA("a")"#),
        (
            "ALARM(a) AND ALARM(b) OR ALARM(c)",
            r#"ALARM("a") AND ALARM("b") OR ALARM("c")"#,
        ),
        (
            "ALARM(a) OR ALARM(b) AND ALARM(c)",
            r#"ALARM("a") OR ALARM("b") AND ALARM("c")"#,
        ),
        (
            "(ALARM(a) OR ALARM(b)) AND OK(c)",
            r#"(ALARM("a") OR ALARM("b")) AND OK("c")"#,
        ),
        (
            "NOT ALARM(a) AND ALARM(b)",
            r#"NOT ALARM("a") AND ALARM("b")"#,
        ),
        (
            "NOT (ALARM(a) AND ALARM(b))",
            r#"NOT (ALARM("a") AND ALARM("b"))"#,
        ),
        ("NOT NOT TRUE", "NOT NOT TRUE"),
        ("((((TRUE))))", "TRUE"),
        ("ALARM(a)AND(OK(b))", r#"ALARM("a") AND OK("b")"#),
        ("\tALARM(a)\n OR\n FALSE ", r#"ALARM("a") OR FALSE"#),
        (
            "ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:CPUUtilizationTooHigh)",
            r#"ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:CPUUtilizationTooHigh")"#,
        ),
        (r#"ALARM("a (b)")"#, r#"ALARM("a (b)")"#),
    ];
    for (src, canonical) in rows {
        let rule = AlarmRule::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(rule.to_string(), canonical, "{src}");
        assert_eq!(rule.source(), src);
        // The canonical form parses back to the same tree.
        let again = AlarmRule::parse(canonical).expect("canonical form parses");
        assert_eq!(again.expr(), rule.expr(), "{src}");
    }
}

#[test]
fn rejected_rules_report_a_position() {
    // (rule, position, message fragment)
    let rows = [
        ("ALARM(a) AND", 12, "end of rule"),
        ("ALARM(a) XOR ALARM(b)", 9, "unexpected 'XOR'"),
        ("ALARM(a) and ALARM(b)", 9, "keywords are uppercase: AND"),
        ("alarm(a)", 0, "keywords are uppercase: ALARM"),
        ("ALARM a", 6, "expected '(' after ALARM"),
        ("ALARM(a", 7, "expected ')' to close ALARM("),
        ("ALARM()", 6, "needs an alarm name"),
        ("ALARM(\"\")", 6, "needs an alarm name"),
        ("ALARM(\"abc", 6, "unterminated"),
        (
            "(ALARM(a)",
            9,
            "expected ')' to close the '(' at position 0",
        ),
        ("ALARM(a))", 8, "unexpected ')'"),
        ("AND ALARM(a)", 0, "needs an operand"),
        ("NOT", 3, "end of rule"),
        ("TRUE FALSE", 5, "unexpected 'FALSE'"),
        ("ALARM(a) OR )", 12, "found ')'"),
        ("ALARM(\"a\" b)", 10, "expected ')' to close ALARM("),
        ("CPU(a)", 0, "unknown keyword 'CPU'"),
    ];
    for (src, pos, fragment) in rows {
        match AlarmRule::parse(src) {
            Err(e @ Error::Rule { position, .. }) => {
                assert_eq!(position, pos, "{src}: {e}");
                assert!(e.to_string().contains(fragment), "{src}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidParameter);
            }
            other => panic!("{src}: expected a rule error, got {other:?}"),
        }
    }
}

#[test]
fn limits() {
    assert_eq!(
        AlarmRule::parse("").map_err(|e| e.kind()),
        Err(ErrorKind::MissingParameter)
    );
    assert_eq!(
        AlarmRule::parse("   ").map_err(|e| e.kind()),
        Err(ErrorKind::MissingParameter)
    );
    let long = format!("ALARM(\"{}\")", "a".repeat(MAX_RULE_LEN));
    assert!(AlarmRule::parse(&long)
        .expect_err("too long")
        .to_string()
        .contains("10240"));
    let exactly = format!("ALARM({})", "a".repeat(MAX_RULE_LEN - 7));
    assert_eq!(exactly.len(), MAX_RULE_LEN);
    assert!(AlarmRule::parse(&exactly).is_ok());
    let many: Vec<String> = (0..=MAX_CHILDREN).map(|i| format!("ALARM(a{i})")).collect();
    assert!(AlarmRule::parse(&many.join(" OR "))
        .expect_err("too many children")
        .to_string()
        .contains("101 alarms"));
    let hundred = &many[..MAX_CHILDREN];
    assert!(AlarmRule::parse(&hundred.join(" OR ")).is_ok());
    let elements = vec!["TRUE"; MAX_ELEMENTS + 1].join(" OR ");
    assert!(AlarmRule::parse(&elements)
        .expect_err("too many elements")
        .to_string()
        .contains("501 elements"));
    let deep = format!(
        "{}TRUE{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(AlarmRule::parse(&deep)
        .expect_err("too deep")
        .to_string()
        .contains("nested"));
    let nots = format!("{}TRUE", "NOT ".repeat(MAX_DEPTH + 1));
    assert!(AlarmRule::parse(&nots)
        .expect_err("too deep")
        .to_string()
        .contains("nested"));
    let nots = format!("{}TRUE", "NOT ".repeat(MAX_DEPTH));
    assert!(AlarmRule::parse(&nots).is_ok());
}

#[test]
fn alarm_names_are_distinct_and_in_order() {
    let rule = AlarmRule::parse(
        "(ALARM(b) OR OK(a)) AND NOT ALARM(b) AND ALARM(arn:aws:cloudwatch:eu-west-1:1:alarm:c d) OR TRUE",
    )
    .expect("parses");
    assert_eq!(rule.alarm_names(), vec!["b", "a", "c d"]);
    assert!(AlarmRule::parse("TRUE")
        .expect("parses")
        .alarm_names()
        .is_empty());
    // A name that merely contains ":alarm:" but is not an ARN stays whole.
    let rule = AlarmRule::parse("ALARM(\"x:alarm:y\")").expect("parses");
    assert_eq!(rule.alarm_names(), vec!["x:alarm:y"]);
}

#[test]
fn eval_treats_unknown_children_as_insufficient_data() {
    let rule = AlarmRule::parse("INSUFFICIENT_DATA(gone) AND NOT ALARM(gone)").expect("parses");
    assert!(rule.eval(&|_| None));
    assert!(!rule.eval(&|_| Some(StateValue::Alarm)));
}
