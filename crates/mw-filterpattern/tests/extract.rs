//! Field extraction for metric filters: JSON selectors and `$name` fields.

use mw_filterpattern::{FieldValue, FilterPattern};

const LINE: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

#[test]
fn delimited_fields_extract_as_strings() {
    let p = FilterPattern::parse(
        "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
    )
    .expect("valid");
    let x = p.extract(LINE).expect("matches");
    let s = |v: &str| Some(FieldValue::String(v.to_owned()));
    assert_eq!(x.get("$ip"), s("127.0.0.1"));
    assert_eq!(x.get("$timestamp"), s("10/Oct/2000:13:25:15 -0700"));
    assert_eq!(x.get("$request"), s("GET /index.html HTTP/1.0"));
    assert_eq!(x.get("$status_code"), s("404"));
    assert_eq!(x.get("$bytes").and_then(|v| v.as_f64()), Some(1534.0));
    assert_eq!(x.get("$nope"), None);
    assert_eq!(x.get("bytes"), None);
    let all: Vec<(String, &str)> = x.delimited_values().collect();
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], ("$ip".to_owned(), "127.0.0.1"));
    assert_eq!(all[6], ("$bytes".to_owned(), "1534"));
}

#[test]
fn delimited_extraction_follows_ellipses_and_spanning_slots() {
    let p = FilterPattern::parse("[..., status_code = 4* && bytes > 1000]").expect("valid");
    let x = p.extract(LINE).expect("matches");
    assert_eq!(
        x.get("$status_code"),
        Some(FieldValue::String("404".into()))
    );
    assert_eq!(x.get("$bytes"), Some(FieldValue::String("1534".into())));
    let p = FilterPattern::parse("[level, rest]").expect("valid");
    let x = p.extract("ERROR disk  full ").expect("matches");
    assert_eq!(
        x.get("$rest"),
        Some(FieldValue::String("disk  full".into()))
    );
    assert!(FilterPattern::parse("[..., status_code = 5*, bytes]")
        .expect("valid")
        .extract(LINE)
        .is_none());
}

#[test]
fn json_extraction_reaches_any_path() {
    let p = FilterPattern::parse("{ $.latency = * }").expect("valid");
    let msg = r#"{"latency":12.5,"eventType":"Put","req":{"status":404,"ok":false,"tags":["a","b"],"n":null}}"#;
    let x = p.extract(msg).expect("matches");
    assert_eq!(x.get("$.latency"), Some(FieldValue::Number(12.5)));
    assert_eq!(x.get("$.eventType"), Some(FieldValue::String("Put".into())));
    assert_eq!(x.get("$.req.status"), Some(FieldValue::Number(404.0)));
    assert_eq!(x.get("$.req.ok"), Some(FieldValue::Bool(false)));
    assert_eq!(x.get("$.req.n"), Some(FieldValue::Null));
    assert_eq!(x.get("$.req.tags[1]"), Some(FieldValue::String("b".into())));
    assert_eq!(x.get("$.req.tags[*]"), Some(FieldValue::String("a".into())));
    assert_eq!(x.get("$.req"), None);
    assert_eq!(x.get("$.missing"), None);
    assert_eq!(x.get("latency"), None);
    assert_eq!(x.delimited_values().count(), 0);
    assert!(p.extract(r#"{"other":1}"#).is_none());
    assert!(p.extract("latency=5").is_none());
}

#[test]
fn terms_and_regex_extract_nothing_but_match() {
    for pattern in ["ERROR", "%ERR%", ""] {
        let p = FilterPattern::parse(pattern).expect("valid");
        let x = p.extract("ERROR 5").expect("matches");
        assert_eq!(x.get("$.a"), None);
    }
    assert!(FilterPattern::parse("ERROR")
        .expect("valid")
        .extract("ok")
        .is_none());
}

#[test]
fn field_values_convert_for_metrics_and_dimensions() {
    assert_eq!(FieldValue::String("1e3".into()).as_f64(), Some(1000.0));
    assert_eq!(FieldValue::String("abc".into()).as_f64(), None);
    assert_eq!(FieldValue::Bool(true).as_f64(), None);
    assert_eq!(FieldValue::Number(1534.0).to_string(), "1534");
    assert_eq!(FieldValue::Number(1.25).to_string(), "1.25");
    assert_eq!(FieldValue::Bool(true).to_string(), "true");
}
