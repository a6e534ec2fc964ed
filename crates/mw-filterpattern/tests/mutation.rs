//! Deterministic mutation test: 20,000 xorshift mutations of the valid
//! conformance patterns must never make parse, matches or extract panic.

use crate::read_tsv;
use mw_filterpattern::{fuzz_one, FilterPattern};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Characters the grammar cares about, plus a few that it rejects.
const ALPHABET: &[char] = &[
    '{', '}', '[', ']', '(', ')', '"', '\'', '%', '$', '.', '*', ',', '&', '|', '=', '!', '<', '>',
    '?', '-', '+', '\\', ' ', 'a', 'Z', '0', '9', 'e', 'x', 'é', '\t', '\u{0}', '^', '_', ':',
];

#[test]
fn mutated_patterns_never_panic() {
    let patterns: Vec<Vec<char>> = read_tsv("conformance.tsv")
        .into_iter()
        .map(|(_, f)| f[0].chars().collect())
        .collect();
    let messages = [
        "",
        "ERROR 09/25/2014 12:00:02 Failed to process request",
        r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#,
        r#"{"a":{"b":[1,{"c":"x"}]},"eventType":"UpdateTrail","n":-2.5e2,"t":true,"z":null}"#,
        r#""unterminated [bracket \"quote"#,
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut p = patterns[rng.below(patterns.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(p.len() + 1);
            let c = ALPHABET[rng.below(ALPHABET.len())];
            match rng.below(4) {
                0 if at < p.len() => {
                    p.remove(at);
                }
                1 if at < p.len() => p[at] = c,
                2 => {
                    // Duplicate a slice, to grow nesting and repetition.
                    let end = (at + rng.below(8)).min(p.len());
                    let copy: Vec<char> = p[at..end].to_vec();
                    p.splice(at..at, copy);
                }
                _ => p.insert(at, c),
            }
        }
        let text: String = p.into_iter().collect();
        if let Ok(pat) = FilterPattern::parse(&text) {
            parsed += 1;
            for m in messages {
                assert_eq!(
                    pat.matches(m),
                    pat.extract(m).is_some(),
                    "{text:?} on {m:?}"
                );
            }
        }
        fuzz_one(text.as_bytes());
    }
    // The mutations must exercise both paths.
    assert!(
        parsed > 1_000 && parsed < 19_000,
        "parsed {parsed} of 20000"
    );
}

#[test]
fn hostile_inputs_are_rejected_quickly() {
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(FilterPattern::parse(&deep).is_err());
    let big = format!("%{}%", "a{1000}".repeat(50));
    assert!(FilterPattern::parse(&big).is_err());
    fuzz_one(&[0xff; 64]);
    fuzz_one(b"[..., a = %^(% ]");
}
