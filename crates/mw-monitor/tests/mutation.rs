//! Deterministic mutations (bit flips, truncations, deleted, duplicated and
//! replaced bytes, inserted tokens) of real inputs: a CSV data set, the same
//! rows as JSON Lines, captured records, and a baseline's statistics.json,
//! constraints.json and drift_baseline.json. Every reader must return Ok or
//! an error that says what is wrong; none may panic, and whatever a reader
//! accepts must go through a monitoring job without panicking either.

use crate::common::{head, test};
use mw_monitor::capture::{self, CaptureOptions};
use mw_monitor::table::{CsvSource, JsonLinesSource, Table};
use mw_monitor::{run_job, Baseline, BaselineOptions, Error, JobOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mutations per input.
const MUTATIONS: usize = 250;

/// xorshift64*: the same sequence on every run and platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const BYTES: &[u8] = b",\"\n\r{}[]:-+.eE0 9\\\xff\x00";
const TOKENS: &[&str] = &[
    "1e400",
    "-1e400",
    "null",
    "NaN",
    "\"",
    "{}",
    "[]",
    "99999999999999999999999",
    "-0.0",
    ",,,,",
    "\"\"",
    "true",
    "\u{feff}",
    "\"BASE64\"",
    "[[1,2],[3]]",
    "-2147483649",
];

/// `count` mutated copies of `input`, each with what was done to it.
fn mutations(input: &[u8], seed: u64, count: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut b = input.to_vec();
        let pos = rng.below(b.len());
        let what = match rng.below(6) {
            0 => {
                let bit = rng.below(8);
                b[pos] ^= 1 << bit;
                format!("bit {bit} of byte {pos} flipped")
            }
            1 => {
                b.truncate(pos);
                format!("truncated to {pos} bytes")
            }
            2 => {
                let c = BYTES[rng.below(BYTES.len())];
                b[pos] = c;
                format!("byte {pos} set to {c:#04x}")
            }
            3 => {
                let len = 1 + rng.below(16);
                let end = (pos + len).min(b.len());
                b.drain(pos..end);
                format!("bytes {pos}..{end} deleted")
            }
            4 => {
                let len = 1 + rng.below(64);
                let end = (pos + len).min(b.len());
                let chunk = b[pos..end].to_vec();
                let at = rng.below(b.len());
                b.splice(at..at, chunk);
                format!("bytes {pos}..{end} copied to {at}")
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(pos..pos, t.bytes());
                format!("{t:?} inserted at {pos}")
            }
        };
        out.push((what, b));
    }
    out
}

/// Values a JSON node is replaced with.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "2.5",
    "4294967296",
    "\"\"",
    "\"x\"",
    "null",
    "[]",
    "{}",
    "[[]]",
    "true",
    "[0.5]",
    "\"NaN\"",
    "18446744073709551615",
    "3e9",
];

/// The JSON pointers of every node of `v`, containers after their contents.
fn json_nodes(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                json_nodes(x, format!("{path}/{i}"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                json_nodes(x, format!("{path}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(path);
}

/// `count` copies of a JSON document, each with one node (a value, an array
/// or an object, anywhere) replaced by one of [`VALUES`]; pretty-printed.
fn json_mutations(input: &[u8], seed: u64, count: usize) -> Vec<(String, Vec<u8>)> {
    let doc: serde_json::Value = serde_json::from_slice(input).unwrap();
    let mut paths = Vec::new();
    json_nodes(&doc, String::new(), &mut paths);
    let mut rng = Rng(seed | 1);
    (0..count)
        .map(|_| {
            let path = &paths[rng.below(paths.len())];
            let value = VALUES[rng.below(VALUES.len())];
            let mut d = doc.clone();
            let replacement: serde_json::Value = serde_json::from_str(value).unwrap();
            match d.pointer_mut(path) {
                Some(node) => *node = replacement,
                None => d = replacement,
            }
            (
                format!("{path:?} set to {value}"),
                serde_json::to_vec_pretty(&d).unwrap(),
            )
        })
        .collect()
}

/// Runs `f` on every mutation of `input`; returns the mutations that panicked.
fn survive(
    name: &str,
    cases: Vec<(String, Vec<u8>)>,
    mut f: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Vec<String> {
    let mut panicked = Vec::new();
    let (mut ok, mut err) = (0, 0);
    let total = cases.len();
    for (what, bytes) in cases {
        match catch_unwind(AssertUnwindSafe(|| f(&bytes))) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(!msg.trim().is_empty(), "{name}, {what}: an empty error");
                err += 1;
            }
            Err(_) => panicked.push(format!("{name}: {what}")),
        }
    }
    // Both outcomes occur: the mutations reach past the first parse.
    assert!(ok > 0 && err > 0, "{name}: {ok} accepted, {err} refused");
    assert_eq!(ok + err + panicked.len(), total);
    panicked
}

fn rows() -> Table {
    head(test(), 60)
}

fn csv_text(t: &Table) -> String {
    let mut s = t.columns.join(",");
    s.push('\n');
    for r in &t.rows {
        let fields: Vec<&str> = r.iter().map(|f| f.as_deref().unwrap_or("")).collect();
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

fn jsonl_text(t: &Table) -> String {
    let mut s = String::new();
    for r in &t.rows {
        let mut o = serde_json::Map::new();
        for (c, v) in t.columns.iter().zip(r) {
            let v = match v.as_deref().map(|x| (x, x.parse::<f64>())) {
                None => serde_json::Value::Null,
                Some((x, Ok(n))) if !x.contains(' ') => serde_json::json!(n),
                Some((x, _)) => serde_json::json!(x),
            };
            o.insert(c.clone(), v);
        }
        s.push_str(&serde_json::Value::Object(o).to_string());
        s.push('\n');
    }
    s
}

/// The rows as capture records: CSV payloads, one JSON payload and one
/// base64 payload, with inference times an hour apart.
fn capture_text(t: &Table) -> String {
    use base64::Engine;
    let mut s = String::new();
    for (i, r) in t.rows.iter().enumerate() {
        let (output, input) = r.split_last().unwrap();
        let input: Vec<&str> = input.iter().map(|f| f.as_deref().unwrap_or("")).collect();
        let output = output.as_deref().unwrap_or("");
        let (data, encoding, content_type) = match i % 10 {
            3 => (
                serde_json::to_string(&input).unwrap(),
                "JSON",
                "application/json",
            ),
            7 => (
                base64::engine::general_purpose::STANDARD.encode(input.join(",")),
                "BASE64",
                "text/csv",
            ),
            _ => (input.join(","), "CSV", "text/csv"),
        };
        let record = serde_json::json!({
            "captureData": {
                "endpointInput": {"observedContentType": content_type, "mode": "INPUT",
                                  "data": data, "encoding": encoding},
                "endpointOutput": {"observedContentType": "text/csv; charset=utf-8",
                                   "mode": "OUTPUT", "data": output, "encoding": "CSV"}},
            "eventMetadata": {"eventId": format!("id-{i}"), "inferenceId": format!("{i}"),
                              "inferenceTime": format!("2024-05-01T{:02}:15:00Z", i % 24)},
            "eventVersion": "0"});
        s.push_str(&record.to_string());
        s.push('\n');
    }
    s
}

/// The baseline the mutated windows are checked against, with its columns
/// ordered as a capture rebuilds them (the output, income, first).
fn baseline_of(t: &Table) -> Baseline {
    let last = t.columns.len() - 1;
    let order: Vec<usize> = std::iter::once(last).chain(0..last).collect();
    let reordered = Table {
        columns: order.iter().map(|&i| t.columns[i].clone()).collect(),
        rows: t
            .rows
            .iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect(),
        positional: false,
    };
    Baseline::compute(&mut &reordered, BaselineOptions::default()).unwrap()
}

fn job(b: &Baseline, window: &Table) -> Result<(), Error> {
    let report = run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &*window,
        JobOptions::default(),
    )?;
    serde_json::to_string(&report.statistics).unwrap();
    serde_json::to_string(&report.violations).unwrap();
    mw_monitor::metrics(&report);
    Ok(())
}

#[test]
fn mutated_data_sets_and_captures_never_panic() {
    let t = rows();
    let base = baseline_of(&t);
    let mut panicked = Vec::new();

    let csv = csv_text(&t);
    panicked.extend(survive(
        "csv",
        mutations(csv.as_bytes(), 0x5eed_0001, MUTATIONS),
        |b| {
            let table = Table::read(&mut CsvSource::new(b, "w.csv", true))?;
            job(&base, &table)?;
            Baseline::compute(&mut CsvSource::new(b, "b.csv", true), Default::default())?;
            Ok(())
        },
    ));
    panicked.extend(survive(
        "csv without header",
        mutations(csv.as_bytes(), 0x5eed_0002, MUTATIONS),
        |b| {
            let table = Table::read(&mut CsvSource::new(b, "w.csv", false))?;
            job(&base, &table)
        },
    ));

    let jsonl = jsonl_text(&t);
    panicked.extend(survive(
        "jsonl",
        mutations(jsonl.as_bytes(), 0x5eed_0003, MUTATIONS),
        |b| {
            let table = Table::read(&mut JsonLinesSource::new(b, "w.jsonl"))?;
            job(&base, &table)?;
            Baseline::compute(&mut JsonLinesSource::new(b, "b.jsonl"), Default::default())?;
            Ok(())
        },
    ));

    let cap = capture_text(&t);
    let window = CaptureOptions {
        start: capture::parse_time("2024-05-01T00:00:00Z"),
        end: capture::parse_time("2024-05-01T12:00:00Z"),
        columns: None,
    };
    panicked.extend(survive(
        "capture",
        mutations(cap.as_bytes(), 0x5eed_0004, MUTATIONS),
        |b| {
            let text = String::from_utf8_lossy(b);
            let all = capture::rebuild(text.lines(), &CaptureOptions::default())?;
            job(&base, &all)?;
            let part = capture::rebuild(text.lines(), &window)?;
            job(&base, &part)
        },
    ));
    assert!(panicked.is_empty(), "panics:\n{}", panicked.join("\n"));
}

#[test]
fn mutated_baseline_files_never_panic() {
    let t = rows();
    let good = baseline_of(&t);
    let window = capture::rebuild(capture_text(&t).lines(), &CaptureOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("mw-monitor-mutation-{}", std::process::id()));
    let mut panicked = Vec::new();
    for (i, file) in ["statistics.json", "constraints.json", "drift_baseline.json"]
        .into_iter()
        .enumerate()
    {
        // The other two files stay good; only this one is mutated.
        good.write(&dir).unwrap();
        let text = std::fs::read(dir.join(file)).unwrap();
        let seed = 0xba5e_0000 + i as u64;
        let mut cases = mutations(&text, seed, MUTATIONS);
        cases.extend(json_mutations(&text, seed, MUTATIONS));
        panicked.extend(survive(file, cases, |b| {
            std::fs::write(dir.join(file), b).unwrap();
            let baseline = Baseline::read(&dir)?;
            job(&baseline, &window)
        }));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(panicked.is_empty(), "panics:\n{}", panicked.join("\n"));
}

#[test]
fn mutations_are_deterministic_and_varied() {
    let input = b"a,b\n1,2\n";
    assert_eq!(mutations(input, 7, 50), mutations(input, 7, 50));
    let all = mutations(input, 7, 200);
    for kind in [
        "flipped",
        "truncated",
        "set to",
        "deleted",
        "copied",
        "inserted",
    ] {
        assert!(
            all.iter().any(|(w, _)| w.contains(kind)),
            "no mutation {kind:?}"
        );
    }
}

/// Every node of a small baseline's three files, replaced by every one of
/// [`VALUES`] in turn: the sweep the sampled mutations above cannot promise.
#[test]
fn every_node_of_small_baseline_files_replaced() {
    let text = "y,x,s\n1,0.5,a\n0,1.5,b\n1,2.5,a\n0,,b\n";
    let good = Baseline::compute(
        &mut CsvSource::new(text.as_bytes(), "b.csv", true),
        BaselineOptions::default(),
    )
    .unwrap();
    let window = Table::read(&mut CsvSource::new(text.as_bytes(), "w.csv", true)).unwrap();
    let dir = std::env::temp_dir().join(format!("mw-monitor-sweep-{}", std::process::id()));
    let mut panicked = Vec::new();
    for file in ["statistics.json", "constraints.json", "drift_baseline.json"] {
        good.write(&dir).unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        let mut paths = Vec::new();
        json_nodes(&doc, String::new(), &mut paths);
        let mut cases = Vec::new();
        for path in &paths {
            for value in VALUES {
                let mut d = doc.clone();
                if let Some(node) = d.pointer_mut(path) {
                    *node = serde_json::from_str(value).unwrap();
                }
                cases.push((
                    format!("{path:?} set to {value}"),
                    serde_json::to_vec(&d).unwrap(),
                ));
            }
        }
        panicked.extend(survive(file, cases, |b| {
            std::fs::write(dir.join(file), b).unwrap();
            let baseline = Baseline::read(&dir)?;
            job(&baseline, &window)
        }));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(panicked.is_empty(), "panics:\n{}", panicked.join("\n"));
}
