//! Shared helpers: reading the test data and deriving shifted windows.

use mw_monitor::table::{CsvSource, Table};
use mw_monitor::{run_job, Baseline, BaselineOptions, JobOptions, JobReport};
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

pub fn read_csv(name: &str) -> Table {
    let text = std::fs::read_to_string(testdata(name)).unwrap();
    Table::read(&mut CsvSource::new(text.as_bytes(), name, true)).unwrap()
}

pub fn train() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| read_csv("adult_train.csv"))
}

pub fn test() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| read_csv("adult_test.csv"))
}

pub fn baseline() -> &'static Baseline {
    static B: OnceLock<Baseline> = OnceLock::new();
    B.get_or_init(|| Baseline::compute(&mut train(), BaselineOptions::default()).unwrap())
}

pub fn job(window: &Table) -> JobReport {
    let b = baseline();
    run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &*window,
        JobOptions::default(),
    )
    .unwrap()
}

/// The rows of `t` for which `keep(row)` holds.
pub fn filter(t: &Table, keep: impl Fn(&[Option<String>]) -> bool) -> Table {
    Table {
        columns: t.columns.clone(),
        rows: t.rows.iter().filter(|r| keep(r)).cloned().collect(),
        positional: t.positional,
    }
}

pub fn head(t: &Table, n: usize) -> Table {
    Table {
        columns: t.columns.clone(),
        rows: t.rows.iter().take(n).cloned().collect(),
        positional: t.positional,
    }
}

pub fn col(t: &Table, name: &str) -> usize {
    t.column_index(name).unwrap()
}

/// (feature, check) pairs of a report, sorted.
pub fn violations(r: &JobReport) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .violations
        .violations
        .iter()
        .map(|v| (v.feature_name.clone(), v.constraint_check_type.clone()))
        .collect();
    v.sort();
    v
}

pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}
