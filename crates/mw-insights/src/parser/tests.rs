//! Parser tests: accepted syntax, the static analysis, and errors with positions.

use super::parse_plan;
use crate::error::InsightsError;
use crate::parse;

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("{text:?} should not parse"),
        Err(e) => e.to_string(),
    }
}

fn fields(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .output_fields()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn accepts_the_documented_shapes() {
    for q in [
        "fields @timestamp, @message | sort @timestamp desc | limit 20",
        "FIELDS @message | Filter @message LIKE /Exception/ | SORT @timestamp DESC",
        "filter @logStream = 'a' or @logStream = \"b\" # trailing comment",
        "stats count(*) by bin(30s)",
        "stats avg(latency), max(latency) as m, pct(latency, 99.9) by bin(1h), @logStream",
        "stats sum(bytes) / count(*) as per by srcAddr | sort per desc | limit 10",
        "parse @message \"[*] *\" as level, text | stats count(*) by level",
        "parse @message /(?<user>\\S+) (?<n>\\d+)/ | display user, n",
        "parse /id=(?<id>\\d+)/ | fields id",
        "filter x not in [1, 2, 'a'] and y in [] and not ispresent(z)",
        "filter @message =~ 'err(or)?' and @message not like /x/",
        "fields `weird-name`, `a b` as c, -x ^ 2 % 3 as y",
        "fields @timestamp | sort @timestamp asc | dedup @logStream | limit 5",
        "fields datefloor(@timestamp, 1mo), dateceil(@timestamp, 1w), frommillis(0)",
        "stats count(*) as n by level | sort n desc | stats sum(n)",
    ] {
        if let Err(e) = parse(q) {
            panic!("{q}: {e}");
        }
    }
}

#[test]
fn errors_name_the_position() {
    assert_eq!(
        err("filter @message foo"),
        "unexpected token 'foo' at position 17"
    );
    assert_eq!(
        err("fields a | foo b"),
        "unknown command 'foo' at position 12"
    );
    assert_eq!(
        err("fields nosuch(a)"),
        "unknown function 'nosuch' at position 8"
    );
    assert_eq!(err("filter a = "), "unexpected end of query at position 12");
    assert_eq!(err("fields a b"), "unexpected token 'b' at position 10");
    assert_eq!(err("fields a,"), "unexpected end of query at position 10");
    assert_eq!(err("| fields a"), "unexpected token '|' at position 1");
    assert_eq!(
        err("fields a || fields b"),
        "unexpected token '|' at position 11"
    );
    assert_eq!(err(""), "query is empty at position 1");
    assert_eq!(err("  # only a comment"), "query is empty at position 1");
    assert_eq!(err("fields (a"), "unexpected end of query at position 10");
    assert_eq!(err("fields and"), "unexpected token 'and' at position 8");
    assert_eq!(
        err("fields abs(1, 2)"),
        "function 'abs' expects 1 argument(s), got 2 at position 8"
    );
    assert_eq!(
        err("fields concat()"),
        "function 'concat' expects at least 1 argument(s), got 0 at position 8"
    );
    assert_eq!(err("fields bin(5)"), "unexpected token '5' at position 12");
    assert_eq!(
        err("fields 5m"),
        "unexpected token 'time period' at position 8"
    );
    assert_eq!(
        err("stats x by y"),
        "field 'x' must be inside an aggregate function at position 7"
    );
    assert_eq!(
        err("stats 1 + 1"),
        "stats requires an aggregate function such as count(*) at position 7"
    );
    assert_eq!(
        err("stats sum(count(*))"),
        "aggregate functions cannot be nested at position 11"
    );
    assert_eq!(
        err("filter count(*) > 1"),
        "aggregate function 'count' is only allowed in stats at position 8"
    );
    assert_eq!(
        err("stats pct(x, 101)"),
        "pct needs a percentile from 0 to 100 at position 14"
    );
    assert_eq!(
        err("limit 0"),
        "limit must be a whole number from 1 to 100000 at position 7"
    );
    assert_eq!(
        err("limit 2.5"),
        "limit must be a whole number from 1 to 100000 at position 7"
    );
    assert_eq!(err("limit abc"), "unexpected token 'abc' at position 7");
    assert_eq!(
        err("parse @message \"a=* b=*\" as a"),
        "parse pattern has 2 '*' but 1 field names at position 16"
    );
    assert_eq!(
        err("parse @message \"abc\" as a"),
        "parse pattern must contain at least one '*' at position 16"
    );
    assert_eq!(
        err("parse @message /(\\d+)/"),
        "parse regular expression must have named groups such as (?<name>...) at position 16"
    );
    assert_eq!(
        err("filter a like /(/"),
        "invalid regular expression at position 15"
    );
    assert_eq!(
        err("filter a like 5"),
        "unexpected token '5' at position 15"
    );
    assert_eq!(
        err("dedup a | filter b"),
        "only limit can follow dedup at position 11"
    );
    assert_eq!(err("filter a = 'x"), "unterminated string at position 12");
}

#[test]
fn error_carries_aws_compile_error_offsets() {
    let e = parse("fields a | foo b").expect_err("unknown command");
    let c = e.compile_error().expect("positioned");
    assert_eq!((c.start_char_offset, c.end_char_offset), (11, 14));
    assert_eq!(e.position(), Some(12));
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(
        err("filter é = 'ü' ?"),
        "unexpected character '?' at position 16"
    );
}

#[test]
fn hostile_nesting_and_length_are_errors() {
    let deep = format!("fields {}1{}", "(".repeat(100), ")".repeat(100));
    assert!(err(&deep).contains("nested too deeply"), "{}", err(&deep));
    let chain = format!("fields 1{}", " + 1".repeat(150));
    assert!(err(&chain).contains("nested too deeply"));
    let negs = format!("fields {}1", "-".repeat(200));
    assert!(err(&negs).contains("nested too deeply"));
    let long = format!("fields {}", "a".repeat(10_000));
    assert_eq!(
        parse(&long).expect_err("too long"),
        InsightsError::TooLong { max: 10_000 }
    );
    // Long but flat lists are fine.
    let wide = format!("fields {}", vec!["a"; 2000].join(", "));
    assert!(parse(&wide).is_ok());
}

#[test]
fn output_columns() {
    assert_eq!(fields("filter a = 1"), ["@timestamp", "@message"]);
    assert_eq!(fields("fields a, b as c | fields d"), ["a", "c", "d"]);
    assert_eq!(fields("parse 'x=*' as x"), ["@timestamp", "@message", "x"]);
    assert_eq!(fields("parse 'x=*' as x | fields y"), ["y", "x"]);
    assert_eq!(fields("fields a, b | display b"), ["b"]);
    assert_eq!(fields("display a | display b | fields c"), ["b"]);
    assert_eq!(
        fields("stats count(*), avg(x) as m by bin(1m), s"),
        ["bin(1m)", "s", "count(*)", "m"]
    );
    assert_eq!(
        fields("fields a | stats count(*) as n | fields n * 2 as d"),
        ["n", "d"]
    );
    assert_eq!(fields("fields @ptr, a"), ["a"]);
}

#[test]
fn limits() {
    assert_eq!(parse("fields a").expect("ok").limit(), 1000);
    assert_eq!(parse("fields a | limit 5").expect("ok").limit(), 5);
    assert_eq!(parse("limit 5 | stats count(*)").expect("ok").limit(), 1000);
    assert_eq!(
        parse("stats count(*) by a | limit 7").expect("ok").limit(),
        7
    );
}

#[test]
fn json_discovery_only_for_names_read_before_being_written() {
    let plan = parse_plan("fields strlen(@message) as len | stats avg(len)").expect("ok");
    assert!(plan.discover.is_empty());
    assert!(plan.system_read[crate::ast::SLOT_MESSAGE]);
    assert!(!plan.system_read[crate::ast::SLOT_LOG]);
    let plan =
        parse_plan("fields a.b.c, x | parse @message 'y=*' as y | filter y = 1").expect("ok");
    let mut names: Vec<&String> = plan.discover.keys().collect();
    names.sort();
    assert_eq!(names, ["a.b.c", "x"]);
    let mut prefixes: Vec<&String> = plan.discover_prefixes.iter().collect();
    prefixes.sort();
    assert_eq!(prefixes, ["a", "a.b"]);
    // Reads after stats see only stats outputs.
    let plan = parse_plan("stats count(*) as n | filter zz > 1").expect("ok");
    assert!(plan.discover.is_empty());
}
