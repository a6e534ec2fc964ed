//! Crate-level tests: the deterministic mutation test (parse never panics; running any
//! query that parses never panics) and the fuzz entry point.

use crate::{fuzz_one, parse, Event};

const SEEDS: [&str; 16] = [
    "fields @timestamp, @message | sort @timestamp desc | limit 20",
    "filter @message like /(?i)error/ and latency > 10 | stats count(*) as n by bin(5m)",
    "stats avg(latency), pct(latency, 95), count_distinct(user.id) by level | sort level",
    r#"parse @message "user=* id=*" as user, id | filter ispresent(user) | display user, id"#,
    r"parse @message /(?<user>\S+) (?<n>\d+)/ | stats sum(n) by user",
    r#"fields concat(level, "-", substr(@message, 0, 3)) as k, strlen(@message) * 2 as n | sort n asc, k desc"#,
    r#"filter level in ["ERROR", "WARN"] or not ispresent(level) | dedup level | limit 3"#,
    "fields datefloor(@timestamp, 1h) as h, dateceil(@timestamp, 1mo) as m | stats count(*) by h, m",
    "stats earliest(level), latest(@message), min(@timestamp), max(latency), stddev(latency) by @logStream",
    "fields `user.name` as u, tags.0 | filter u =~ 'a.n' | display u",
    "fields abs(-latency) ^ 2 % 7 / 3 as x, round(x, 2), ceil(x), floor(x) | filter x >= 0",
    "fields coalesce(level, 'none') as l, isempty(level), isblank(@message), tolower(toupper(l))",
    "stats count(*) as n by @logStream | filter n > 1 | stats sum(n) as t | fields t * 2",
    "filter isValidIp(ip) and isIpInSubnet(ip, '10.0.0.0/8') | fields replace(@message, 'a', 'b')",
    "fields @log, @ingestionTime, @ptr | sort @ingestionTime | limit 2 # comment",
    "stats sortsFirst(level), sortsLast(level), count(level) as c | sort c desc",
];

const ALPHABET: &[u8] = b"|()[]\"'/\\`*,.=<>!~#@^%+- \n\tabcinotsdylkefmpr0123456789_";

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut XorShift, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let len = chars.len();
        match rng.below(6) {
            0 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below(8).min(len - at - 1);
                chars.drain(at..at + n);
            }
            1 => {
                let c = char::from(ALPHABET[rng.below(ALPHABET.len())]);
                chars.insert(rng.below(len + 1), c);
            }
            2 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                chars.swap(a, b);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below(12).min(len - at - 1);
                let piece: Vec<char> = chars[at..at + n].to_vec();
                let to = rng.below(len + 1);
                chars.splice(to..to, piece);
            }
            4 => {
                let other: Vec<char> = SEEDS[rng.below(SEEDS.len())].chars().collect();
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                chars.truncate(cut);
                chars.extend_from_slice(&other[from..]);
            }
            _ => {
                let c = char::from_u32(rng.below(0x3000) as u32).unwrap_or('\u{fffd}');
                chars.insert(rng.below(len + 1), c);
            }
        }
    }
    chars.into_iter().collect()
}

const MESSAGES: [&str; 4] = [
    r#"{"level":"ERROR","latency":12,"user":{"id":"u1","name":"ann"},"ip":"10.1.2.3","tags":["a"]}"#,
    "bob 42",
    r#"{"level":"WARN","latency":"7.5","n":3}"#,
    "user=carol id=9",
];

fn run_all(text: &str) -> Option<usize> {
    let q = parse(text).ok()?;
    let mut x = q.start();
    for (i, m) in MESSAGES.iter().enumerate() {
        x.push(&Event {
            timestamp: 1_700_000_000_000 + i as i64 * 90_000,
            ingestion_time: 1_700_000_000_500,
            message: m,
            log_stream: if i % 2 == 0 { "a" } else { "b" },
            log_group: "/g",
        });
    }
    Some(x.finish().len())
}

#[test]
fn seeds_parse_and_run() {
    for s in SEEDS {
        if let Err(e) = parse(s) {
            panic!("{s}: {e}");
        }
        assert!(run_all(s).is_some());
    }
}

#[test]
fn mutated_queries_never_panic() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let (mut parsed, mut rows) = (0, 0);
    for i in 0..10_000 {
        let text = mutate(&mut rng, SEEDS[i % SEEDS.len()]);
        match parse(&text) {
            Ok(_) => {
                parsed += 1;
                rows += run_all(&text).unwrap_or(0);
            }
            Err(e) => {
                let len = text.chars().count();
                if let Some(p) = e.position() {
                    assert!((1..=len + 1).contains(&p), "{text:?}: {e}");
                }
            }
        }
    }
    // The test must exercise the executor, not only the error paths.
    assert!(parsed > 500, "only {parsed} mutants parsed");
    assert!(rows > 500, "only {rows} rows");
}

#[test]
fn fuzz_entry_point_survives_odd_bytes() {
    let mut rng = XorShift(7);
    fuzz_one(b"");
    fuzz_one(&[0xff, 0xfe, b'|']);
    for s in SEEDS {
        fuzz_one(s.as_bytes());
    }
    for _ in 0..500 {
        let n = rng.below(64);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        fuzz_one(&bytes);
    }
}
