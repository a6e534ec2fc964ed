//! Executor tests: each command over a small hand-built event set, with rows computed
//! by hand.

use crate::{encode_ptr, parse, Event};

/// 2024-01-02 03:04:05.678 UTC.
const T: i64 = 1_704_164_645_678;

struct Ev {
    ts: i64,
    stream: &'static str,
    msg: &'static str,
}

const EVENTS: [Ev; 5] = [
    Ev {
        ts: T,
        stream: "s1",
        msg: r#"{"level":"ERROR","latency":100,"user":{"id":"u1"}}"#,
    },
    Ev {
        ts: T + 1000,
        stream: "s1",
        msg: r#"{"level":"INFO","latency":50,"user":{"id":"u2"}}"#,
    },
    Ev {
        ts: T + 2000,
        stream: "s2",
        msg: r#"{"level":"ERROR","latency":30,"user":{"id":"u1"}}"#,
    },
    Ev {
        ts: T + 61_000,
        stream: "s2",
        msg: "user=carol id=9 status=200",
    },
    Ev {
        ts: T + 400_000,
        stream: "s1",
        msg: r#"{"level":"INFO","latency":20.5,"tags":["x","y"]}"#,
    },
];

fn event(e: &Ev) -> Event<'_> {
    Event {
        timestamp: e.ts,
        ingestion_time: e.ts + 1000,
        message: e.msg,
        log_stream: e.stream,
        log_group: "/app",
    }
}

fn ptr(i: usize) -> String {
    let e = &EVENTS[i];
    encode_ptr("/app", e.stream, e.ts, e.ts + 1000, e.msg)
}

type Rows = Vec<Vec<(String, String)>>;

fn run(query: &str) -> Rows {
    run_over(query, &EVENTS)
}

fn run_over(query: &str, events: &[Ev]) -> Rows {
    let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut x = q.start();
    // Push out of order on purpose: the executor must not depend on it.
    for e in events.iter().rev() {
        x.push(&event(e));
    }
    x.finish()
}

fn row(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A row of a non-aggregating query: `pairs` then `@ptr` of event `i`.
fn prow(pairs: &[(&str, &str)], i: usize) -> Vec<(String, String)> {
    let mut r = row(pairs);
    r.push(("@ptr".to_owned(), ptr(i)));
    r
}

#[test]
fn default_output_is_timestamp_message_newest_first() {
    assert_eq!(
        run(r#"filter @message like "ERROR""#),
        vec![
            prow(
                &[
                    ("@timestamp", "2024-01-02 03:04:07.678"),
                    ("@message", EVENTS[2].msg)
                ],
                2
            ),
            prow(
                &[
                    ("@timestamp", "2024-01-02 03:04:05.678"),
                    ("@message", EVENTS[0].msg)
                ],
                0
            ),
        ]
    );
}

#[test]
fn fields_with_arithmetic_aliases_and_functions() {
    let q = r#"fields level, latency * 2 as double, concat(level, "-", user.id) as tag
        | filter ispresent(level) | sort latency asc | limit 2"#;
    assert_eq!(
        run(q),
        vec![
            prow(&[("level", "INFO"), ("double", "41"), ("tag", "INFO-")], 4),
            prow(
                &[("level", "ERROR"), ("double", "60"), ("tag", "ERROR-u1")],
                2
            ),
        ]
    );
}

#[test]
fn expression_without_alias_is_named_by_its_text() {
    assert_eq!(
        run("fields latency + 1, `user.id` | filter latency > 60"),
        vec![prow(&[("latency + 1", "101"), ("user.id", "u1")], 0)]
    );
}

#[test]
fn more_functions() {
    let q = "fields datefloor(@timestamp, 1h) as h, toupper(level) as up, strlen(level) as n,
        substr(level, 1, 2) as s, round(latency / 3, 2) as r, abs(0 - latency) as a,
        ceil(latency) as c, floor(latency) as f, replace(level, 'N', 'n') as rep,
        coalesce(user.id, level) as who, isempty(user.id) as e, tolower(trim('  X ')) as t
        | limit 1";
    assert_eq!(
        run(q),
        vec![prow(
            &[
                ("h", "2024-01-02 03:00:00.000"),
                ("up", "INFO"),
                ("n", "4"),
                ("s", "NF"),
                ("r", "6.83"),
                ("a", "20.5"),
                ("c", "21"),
                ("f", "20"),
                ("rep", "InFO"),
                ("who", "INFO"),
                ("e", "1"),
                ("t", "x"),
            ],
            4
        )]
    );
}

#[test]
fn system_fields() {
    assert_eq!(
        run("fields @log, @logStream, @ingestionTime | limit 1"),
        vec![prow(
            &[
                ("@log", "123456789012:/app"),
                ("@logStream", "s1"),
                ("@ingestionTime", "2024-01-02 03:10:46.678"),
            ],
            4
        )]
    );
}

fn latencies(query: &str) -> Vec<String> {
    run(&format!("fields latency | {query}"))
        .into_iter()
        .map(|r| {
            r.iter()
                .find(|(k, _)| k == "latency")
                .map_or("-".to_owned(), |(_, v)| v.clone())
        })
        .collect()
}

#[test]
fn filter_operators() {
    // Results come newest first: event order 4, 3, 2, 1, 0.
    assert_eq!(
        latencies("filter latency >= 30 and latency < 100"),
        ["30", "50"]
    );
    assert_eq!(
        latencies("filter latency > 60 or latency <= 20.5"),
        ["20.5", "100"]
    );
    assert_eq!(
        latencies(r#"filter level in ["ERROR", "WARN"]"#),
        ["30", "100"]
    );
    assert_eq!(
        latencies(r#"filter level not in ["ERROR"]"#),
        ["20.5", "50"]
    );
    assert_eq!(latencies(r#"filter level != "ERROR""#), ["20.5", "50"]);
    assert_eq!(
        latencies(r#"filter not (level = "ERROR")"#),
        ["20.5", "-", "50"]
    );
    assert_eq!(latencies(r"filter @message =~ /status=\d+/"), ["-"]);
    assert_eq!(latencies("filter @message like /(?i)error/"), ["30", "100"]);
    assert_eq!(
        latencies(r#"filter @message not like "ERROR""#),
        ["20.5", "-", "50"]
    );
    assert_eq!(latencies("filter not ispresent(level)"), ["-"]);
    assert_eq!(latencies("filter latency / 2 = 25"), ["50"]);
    assert_eq!(
        latencies("filter latency % 2 = 1 or latency ^ 2 = 900"),
        ["30"]
    );
    assert_eq!(latencies("filter -latency < -60"), ["100"]);
    assert_eq!(
        latencies(r#"filter level = "INFO" and (latency = 50 or latency = 1)"#),
        ["50"]
    );
    assert_eq!(latencies(r#"filter strcontains(@message, "carol")"#), ["-"]);
}

#[test]
fn stats_by_field_with_several_aggregates() {
    let q = "stats count(*) as n, avg(latency) as avg, sum(latency), min(latency), max(latency) by level";
    assert_eq!(
        run(q),
        vec![
            row(&[
                ("level", "ERROR"),
                ("n", "2"),
                ("avg", "65"),
                ("sum(latency)", "130"),
                ("min(latency)", "30"),
                ("max(latency)", "100"),
            ]),
            row(&[
                ("level", "INFO"),
                ("n", "2"),
                ("avg", "35.25"),
                ("sum(latency)", "70.5"),
                ("min(latency)", "20.5"),
                ("max(latency)", "50"),
            ]),
            // The event without a level forms its own group; missing values are left out.
            row(&[("n", "1")]),
        ]
    );
}

#[test]
fn stats_by_bin() {
    assert_eq!(
        run("stats count(*) by bin(5m)"),
        vec![
            row(&[("bin(5m)", "2024-01-02 03:00:00.000"), ("count(*)", "3")]),
            row(&[("bin(5m)", "2024-01-02 03:05:00.000"), ("count(*)", "1")]),
            row(&[("bin(5m)", "2024-01-02 03:10:00.000"), ("count(*)", "1")]),
        ]
    );
    assert_eq!(
        run("stats count() as n by bin(1h) as hour"),
        vec![row(&[("hour", "2024-01-02 03:00:00.000"), ("n", "5")])]
    );
}

#[test]
fn stats_pct_distinct_count_field_stddev() {
    let q = "filter ispresent(latency) | stats pct(latency, 50) as p50, pct(latency, 100) as p100,
        count_distinct(user.id) as users, count(user.id) as withuser, stddev(latency) as sd";
    // Latencies 20.5 30 50 100: nearest-rank median is the 2nd value. Sample standard
    // deviation: mean 50.125, squared deviations sum 3770.1875, /3, sqrt = 35.4503...
    let rows = run(q);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0][..4],
        row(&[
            ("p50", "30"),
            ("p100", "100"),
            ("users", "2"),
            ("withuser", "3")
        ])[..]
    );
    let sd: f64 = rows[0][4].1.parse().expect("a number");
    assert!((sd - (3770.1875f64 / 3.0).sqrt()).abs() < 1e-9, "{sd}");
}

#[test]
fn stats_earliest_latest_sorts() {
    assert_eq!(
        run(
            "stats earliest(level) as first, latest(level) as last, sortsFirst(level) as a,
            sortsLast(level) as z, min(@timestamp) as t0, max(@timestamp) as t1"
        ),
        vec![row(&[
            ("first", "ERROR"),
            ("last", "INFO"),
            ("a", "ERROR"),
            ("z", "INFO"),
            ("t0", "2024-01-02 03:04:05.678"),
            ("t1", "2024-01-02 03:10:45.678"),
        ])]
    );
}

#[test]
fn stats_then_sort_limit_and_second_stats() {
    assert_eq!(
        run("stats count(*) as n by @logStream | sort n desc | limit 1"),
        vec![row(&[("@logStream", "s1"), ("n", "3")])]
    );
    assert_eq!(
        run("stats count(*) by level | sort count(*) desc, level desc"),
        vec![
            row(&[("level", "INFO"), ("count(*)", "2")]),
            row(&[("level", "ERROR"), ("count(*)", "2")]),
            row(&[("count(*)", "1")]),
        ]
    );
    assert_eq!(
        run("stats count(*) as n by @logStream | stats sum(n) as total, avg(n) as mean"),
        vec![row(&[("total", "5"), ("mean", "2.5")])]
    );
    assert_eq!(
        run("stats count(*) as n by @logStream | filter n > 2 | fields n * 10 as tens"),
        vec![row(&[("@logStream", "s1"), ("n", "3"), ("tens", "30")])]
    );
}

#[test]
fn stats_over_nothing_gives_no_rows() {
    assert_eq!(run("filter level = 'nope' | stats count(*)"), Rows::new());
}

#[test]
fn parse_glob() {
    assert_eq!(
        run(
            r#"parse @message "user=* id=* " as user, id | filter ispresent(user) | display user, id"#
        ),
        vec![prow(&[("user", "carol"), ("id", "9")], 3)]
    );
    // Without fields/display, parsed fields follow the default columns.
    assert_eq!(
        run(r#"parse "status=*" as status | filter status = 200"#),
        vec![prow(
            &[
                ("@timestamp", "2024-01-02 03:05:06.678"),
                ("@message", EVENTS[3].msg),
                ("status", "200"),
            ],
            3
        )]
    );
}

#[test]
fn parse_regex_and_stats_by_parsed_field() {
    assert_eq!(
        run(r"parse @message /status=(?<status>\d+)/ | stats count(*) by status"),
        vec![
            row(&[("status", "200"), ("count(*)", "1")]),
            row(&[("count(*)", "4")]),
        ]
    );
}

#[test]
fn sort_on_several_keys() {
    assert_eq!(
        run("fields level, latency | filter ispresent(level) | sort level desc, latency asc"),
        vec![
            prow(&[("level", "INFO"), ("latency", "20.5")], 4),
            prow(&[("level", "INFO"), ("latency", "50")], 1),
            prow(&[("level", "ERROR"), ("latency", "30")], 2),
            prow(&[("level", "ERROR"), ("latency", "100")], 0),
        ]
    );
}

#[test]
fn sort_puts_missing_values_last() {
    assert_eq!(
        latencies("sort latency desc"),
        ["100", "50", "30", "20.5", "-"]
    );
    assert_eq!(latencies("sort latency"), ["20.5", "30", "50", "100", "-"]);
}

#[test]
fn limit_and_default_limit() {
    assert_eq!(
        run("fields @logStream | limit 2"),
        vec![
            prow(&[("@logStream", "s1")], 4),
            prow(&[("@logStream", "s2")], 3)
        ]
    );
    let q = parse("fields @logStream").expect("parses");
    let mut x = q.start_with_limit(1);
    for e in &EVENTS {
        x.push(&event(e));
    }
    assert_eq!(x.finish(), vec![prow(&[("@logStream", "s1")], 4)]);
}

#[test]
fn dedup_keeps_first_in_sort_order_and_rows_missing_the_field() {
    assert_eq!(
        run("fields level | sort @timestamp asc | dedup level"),
        vec![
            prow(&[("level", "ERROR")], 0),
            prow(&[("level", "INFO")], 1),
            prow(&[], 3),
        ]
    );
    // Without sort, dedup uses the default order (newest first).
    assert_eq!(
        run("fields level | filter ispresent(level) | dedup level | limit 5"),
        vec![
            prow(&[("level", "INFO")], 4),
            prow(&[("level", "ERROR")], 2)
        ]
    );
}

#[test]
fn json_discovery_flattens_objects_and_arrays() {
    assert_eq!(
        run("fields tags.1 as t, tags.0 | filter ispresent(t)"),
        vec![prow(&[("t", "y"), ("tags.0", "x")], 4)]
    );
    const ODD: [Ev; 2] = [
        Ev {
            ts: T,
            stream: "s",
            msg: r#"{"x-id": 5, "big": 12345678901234567890, "ok": true, "n": null, "o": {"p": [1, {"q": "deep"}]}}"#,
        },
        Ev {
            ts: T - 1,
            stream: "s",
            msg: "not json {\"x-id\": 6}",
        },
    ];
    let msg0 = ODD[0].msg;
    assert_eq!(
        run_over("fields `x-id`, big, ok, n, o.p.1.q, o", &ODD),
        vec![
            {
                let mut r = row(&[
                    ("x-id", "5"),
                    ("big", "12345678901234567890"),
                    ("ok", "true"),
                    ("o.p.1.q", "deep"),
                ]);
                r.push(("@ptr".into(), encode_ptr("/app", "s", T, T + 1000, msg0)));
                r
            },
            vec![(
                "@ptr".to_owned(),
                encode_ptr("/app", "s", T - 1, T - 1 + 1000, ODD[1].msg),
            )],
        ]
    );
}

#[test]
fn statistics_count_scanned_matched_and_bytes() {
    let q = parse("filter level = 'ERROR'").expect("parses");
    let mut x = q.start();
    for e in &EVENTS {
        x.push(&event(e));
    }
    assert_eq!(x.records_scanned(), 5);
    assert_eq!(x.records_matched(), 2);
    let bytes: usize = EVENTS.iter().map(|e| e.msg.len()).sum();
    assert_eq!(x.bytes_scanned(), bytes as u64);
    assert_eq!(x.finish().len(), 2);
}

#[test]
fn display_picks_columns_and_last_display_wins() {
    assert_eq!(
        run("fields level, latency | display latency | filter latency > 60 | display level"),
        vec![prow(&[("level", "ERROR")], 0)]
    );
}

/// Deterministic pseudo-random events for comparing execution strategies.
fn many_events() -> Vec<Ev> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::new();
    const MSGS: [&str; 6] = [
        r#"{"v":3,"k":"a"}"#,
        r#"{"v":1,"k":"b"}"#,
        r#"{"v":3,"k":"b"}"#,
        r#"{"v":"x","k":"a"}"#,
        r#"{"k":"c"}"#,
        r#"{"v":-2.5}"#,
    ];
    for _ in 0..700 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(Ev {
            // Few distinct timestamps, so ties are common.
            ts: T + (x % 50) as i64,
            stream: ["s1", "s2", "s2"][(x % 3) as usize],
            msg: MSGS[(x >> 8) as usize % MSGS.len()],
        });
    }
    out
}

#[test]
fn top_n_pruning_matches_keeping_every_row() {
    let events = many_events();
    for (pruned, full) in [
        (
            "fields v, k | sort v desc | limit 7",
            "fields v, k | sort v desc | filter 1 = 1 | limit 7",
        ),
        (
            "fields v | sort k, v | limit 40",
            "fields v | sort k, v | filter 1 = 1 | limit 40",
        ),
        ("fields v | limit 9", "fields v | filter 1 = 1 | limit 9"),
        ("fields v", "fields v | filter 1 = 1"),
        (
            "sort v | fields k | limit 3",
            "sort v | filter 1 = 1 | fields k | limit 3",
        ),
    ] {
        assert_eq!(
            run_over(pruned, &events),
            run_over(full, &events),
            "{pruned}"
        );
    }
    assert_eq!(run_over("fields v", &events).len(), 700);
}
