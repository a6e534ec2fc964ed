//! Golden checks of the notification text: times, ids, key order, subjects.

use super::*;
use serde_json::json;

fn sample() -> AlarmMessage {
    AlarmMessage {
        alarm_name: "cpu-high".into(),
        alarm_description: None,
        alarm_arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high".into(),
        new_state: "ALARM".into(),
        old_state: "OK".into(),
        new_state_reason: "Threshold Crossed".into(),
        state_change_time_ms: 1_714_564_800_123,
        trigger: json!({"MetricName": "CPUUtilization", "Threshold": 80.0}),
    }
}

#[test]
fn times_format_like_aws() {
    assert_eq!(iso8601_offset(0), "1970-01-01T00:00:00.000+0000");
    assert_eq!(
        iso8601_offset(1_714_564_800_123),
        "2024-05-01T12:00:00.123+0000"
    );
    assert_eq!(iso8601_z(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(
        rfc5322_date(1_714_564_800_123),
        "Wed, 01 May 2024 12:00:00 +0000"
    );
    assert_eq!(iso8601_z(-1), "1969-12-31T23:59:59.999Z");
}

#[test]
fn alarm_json_keeps_aws_key_order() {
    let text = alarm_json(&sample(), "us-east-1", "123456789012");
    assert!(text.starts_with(r#"{"AlarmName":"cpu-high","AlarmDescription":null,"AWSAccountId":"123456789012","NewStateValue":"ALARM""#), "{text}");
    let v: Value = serde_json::from_str(&text).expect("valid json");
    assert_eq!(v["StateChangeTime"], "2024-05-01T12:00:00.123+0000");
    assert_eq!(v["Region"], "US East (N. Virginia)");
    assert_eq!(v["OldStateValue"], "OK");
    assert_eq!(v["Trigger"]["Threshold"], 80.0);
}

#[test]
fn subject_is_one_bounded_line() {
    assert_eq!(
        subject(&sample(), "us-east-1"),
        "ALARM: \"cpu-high\" in US East (N. Virginia)"
    );
    let mut long = sample();
    long.alarm_name = format!("a\r\nb{}", "x".repeat(300));
    let s = subject(&long, "eu-west-1");
    assert_eq!(s.chars().count(), 100);
    assert!(!s.contains('\n') && !s.contains('\r'));
    assert!(subject(&sample(), "xx-test-9").ends_with(" in xx-test-9"));
}

#[test]
fn uuids_are_v4_shaped_and_distinct() {
    let a = new_uuid();
    let b = new_uuid();
    assert_ne!(a, b);
    let parts: Vec<&str> = a.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
}

#[test]
fn envelope_wraps_the_message_as_a_string() {
    let env = sns_envelope("id-1", "arn:aws:sns:us-east-1:1:t", "subj", "{\"a\":1}", 0);
    let v: Value = serde_json::from_str(&env).expect("valid json");
    assert_eq!(v["Type"], "Notification");
    assert_eq!(v["Message"], "{\"a\":1}");
    assert_eq!(v["Timestamp"], "1970-01-01T00:00:00.000Z");
    assert_eq!(v["SignatureVersion"], "1");
}

#[test]
fn pretty_json_keeps_order_and_strings() {
    let compact = r#"{"b":1,"a":{"s":"x, {y}: \"z\"","e":[],"l":[1,2]},"o":{}}"#;
    let pretty = pretty_json(compact);
    assert_eq!(
        pretty,
        "{\n  \"b\": 1,\n  \"a\": {\n    \"s\": \"x, {y}: \\\"z\\\"\",\n    \"e\": [],\n    \"l\": [\n      1,\n      2\n    ]\n  },\n  \"o\": {}\n}"
    );
    let a: Value = serde_json::from_str(compact).expect("valid");
    let b: Value = serde_json::from_str(&pretty).expect("still valid");
    assert_eq!(a, b);
}
