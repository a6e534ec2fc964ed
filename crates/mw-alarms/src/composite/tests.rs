//! Cycle detection, child checks and composite reasons.

use super::*;
use std::collections::HashMap;

fn rules(rows: &[(&str, &str)]) -> Vec<(String, AlarmRule)> {
    rows.iter()
        .map(|(n, r)| ((*n).to_owned(), AlarmRule::parse(r).expect("rule parses")))
        .collect()
}

fn cycle(rows: &[(&str, &str)]) -> Option<Vec<String>> {
    let rs = rules(rows);
    find_cycle(rs.iter().map(|(n, r)| (n.as_str(), r)))
}

type CycleRow<'a> = (&'a [(&'a str, &'a str)], Option<&'a [&'a str]>);

#[test]
fn cycles_are_found_with_their_path() {
    let rows: &[CycleRow] = &[
        (&[("a", "ALARM(m1)")], None),
        (&[("a", "ALARM(b)"), ("b", "ALARM(m1) OR OK(m2)")], None),
        (&[("a", "ALARM(a)")], Some(&["a", "a"])),
        (&[("a", "ALARM(b)"), ("b", "OK(a)")], Some(&["a", "b", "a"])),
        (
            &[
                ("a", "ALARM(m) AND ALARM(b)"),
                ("b", "ALARM(c)"),
                ("c", "NOT ALARM(b)"),
            ],
            Some(&["b", "c", "b"]),
        ),
        // A diamond is not a cycle.
        (
            &[
                ("top", "ALARM(l) AND ALARM(r)"),
                ("l", "ALARM(base)"),
                ("r", "ALARM(base)"),
                ("base", "TRUE"),
            ],
            None,
        ),
        // Breaking the loop with FALSE (as AWS advises) removes it.
        (&[("a", "ALARM(b)"), ("b", "FALSE")], None),
    ];
    for (set, want) in rows {
        let got = cycle(set);
        let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(got, want, "{set:?}");
    }
}

#[test]
fn unknown_children_are_rejected_at_definition_time() {
    let rule = AlarmRule::parse("ALARM(cpu) AND OK(disk)").expect("parses");
    let known = ["cpu", "disk"];
    assert!(check_children(&rule, &|n| known.contains(&n)).is_ok());
    let err = check_children(&rule, &|n| n == "cpu").expect_err("disk is unknown");
    assert_eq!(err, Error::UnknownChild("disk".to_owned()));
    assert_eq!(err.kind(), crate::ErrorKind::InvalidParameter);
}

#[test]
fn reasons_name_the_deciding_child() {
    let rule = AlarmRule::parse("ALARM(cpu) AND NOT ALARM(deploy)").expect("parses");
    let mut children: HashMap<&str, ChildState> = HashMap::new();
    children.insert(
        "cpu",
        ChildState {
            value: StateValue::Alarm,
            arn: Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu".to_owned()),
            updated_ms: Some(1_606_260_717_584),
        },
    );
    children.insert(
        "deploy",
        ChildState {
            value: StateValue::Ok,
            arn: None,
            updated_ms: Some(1_606_000_000_000),
        },
    );
    let lookup = |n: &str| children.get(n).cloned();
    let e = evaluate_composite(&rule, StateValue::InsufficientData, &lookup);
    assert_eq!(e.new_state, StateValue::Alarm);
    assert!(e.changed);
    assert_eq!(
        e.reason,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu transitioned to ALARM at Tuesday 24 November, 2020 23:31:57 UTC"
    );
    assert_eq!(
        e.reason_data,
        json!({"triggeringAlarms": [
            {"arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu",
             "state": {"value": "ALARM", "timestamp": "2020-11-24T23:31:57.584+0000"}},
            {"arn": "deploy", "state": {"value": "OK", "timestamp": "2020-11-21T23:06:40.000+0000"}}
        ]})
    );
    // A deployment in progress makes the rule false because of `deploy` only.
    children.insert(
        "deploy",
        ChildState {
            value: StateValue::Alarm,
            arn: None,
            updated_ms: Some(1_606_300_000_000),
        },
    );
    let lookup = |n: &str| children.get(n).cloned();
    let e = evaluate_composite(&rule, StateValue::Alarm, &lookup);
    assert_eq!(e.new_state, StateValue::Ok);
    assert!(
        e.reason.starts_with("deploy transitioned to ALARM at "),
        "{}",
        e.reason
    );
    assert_eq!(
        e.reason_data["triggeringAlarms"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn constant_rules_and_vanished_children() {
    let lookup = |_: &str| None;
    let t = AlarmRule::parse("TRUE").expect("parses");
    let e = evaluate_composite(&t, StateValue::Alarm, &lookup);
    assert_eq!((e.new_state, e.changed), (StateValue::Alarm, false));
    assert_eq!(e.reason, "alarm rule evaluated to TRUE");
    let gone = AlarmRule::parse("INSUFFICIENT_DATA(gone)").expect("parses");
    let e = evaluate_composite(&gone, StateValue::Ok, &lookup);
    assert_eq!(e.new_state, StateValue::Alarm);
    assert_eq!(e.reason, "gone is in state INSUFFICIENT_DATA");
}
