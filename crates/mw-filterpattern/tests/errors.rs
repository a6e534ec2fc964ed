//! Runs `invalid.tsv`: each bad pattern is rejected at the listed position.

use crate::read_tsv;
use mw_filterpattern::{ErrorKind, FilterPattern};

#[test]
fn invalid_patterns_name_their_position() {
    let rows = read_tsv("invalid.tsv");
    assert!(rows.len() >= 40, "only {} cases", rows.len());
    let mut failures = Vec::new();
    for (line, f) in &rows {
        assert_eq!(f.len(), 3, "line {line}: expected 3 tab-separated fields");
        let want: usize = f[1].parse().expect("position is a number");
        match FilterPattern::parse(&f[0]) {
            Ok(_) => failures.push(format!("line {line}: {:?} parsed ({})", f[0], f[2])),
            Err(e) => {
                let text = e.to_string();
                if e.position() != want
                    || !text.starts_with(&format!("invalid filter pattern at position {want}: "))
                {
                    failures.push(format!(
                        "line {line}: {:?}: {text}; want position {want} ({})",
                        f[0], f[2]
                    ));
                }
                if text.ends_with('.') || text.chars().next().is_some_and(char::is_uppercase) {
                    failures.push(format!("line {line}: message style: {text}"));
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
fn documented_messages() {
    let e = FilterPattern::parse("[ip, user, status").expect_err("unbalanced");
    assert_eq!(
        e.to_string(),
        "invalid filter pattern at position 18: expected ']'"
    );
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    let e = FilterPattern::parse("{ $.a IS NOT NULL }").expect_err("IS NOT");
    assert_eq!(e.message(), "'IS NOT' is not supported");
    let e = FilterPattern::parse("{ $.a = %a% && $.b = %b% && $.c = %c% }").expect_err("limit");
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
}

#[test]
fn positions_count_characters_not_bytes() {
    let e = FilterPattern::parse("{ $.é = \"ü }").expect_err("unterminated");
    assert_eq!(e.position(), 13);
}
