//! Bad input gives a clear error, never a panic.

use mw_monitor::table::{CsvSource, JsonLinesSource, Table};
use mw_monitor::{run_job, Baseline, BaselineOptions, ErrorKind, JobOptions};

fn small_baseline() -> Baseline {
    let text = "a,b\n1,x\n2,y\n3,x\n";
    Baseline::compute(
        &mut CsvSource::new(text.as_bytes(), "b.csv", true),
        BaselineOptions::default(),
    )
    .unwrap()
}

#[test]
fn inconsistent_and_empty_data_sets() {
    let e = Baseline::compute(
        &mut CsvSource::new("a,b\n1,2\n3\n".as_bytes(), "d.csv", true),
        BaselineOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "d.csv: line 3: expected 2 fields, found 1");
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    let e = Baseline::compute(
        &mut CsvSource::new("a,b\n".as_bytes(), "d.csv", true),
        BaselineOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "the data set has no rows");
    let e = Baseline::compute(
        &mut JsonLinesSource::new("{\"a\":1}\n[1]\n".as_bytes(), "d.jsonl"),
        BaselineOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "d.jsonl: line 2: expected a JSON object");
    let e = Baseline::compute(
        &mut CsvSource::new(&b"a\n\xff\n"[..], "d.csv", true),
        BaselineOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("d.csv: line 2: not valid UTF-8"),
        "{e}"
    );
}

#[test]
fn empty_window_fails() {
    let b = small_baseline();
    let empty = Table {
        columns: vec!["a".into(), "b".into()],
        rows: vec![],
        positional: false,
    };
    let e = run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &empty,
        JobOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.to_string(), "no records in the analysis window");
}

#[test]
fn corrupt_baseline_files() {
    let dir = std::env::temp_dir().join(format!("mw-monitor-bad-{}", std::process::id()));
    let b = small_baseline();
    b.write(&dir).unwrap();
    assert_eq!(Baseline::read(&dir).unwrap(), b);
    std::fs::write(
        dir.join("statistics.json"),
        "{\"version\": 0, \"dataset\": ",
    )
    .unwrap();
    let e = Baseline::read(&dir).unwrap_err();
    assert!(
        e.to_string().contains("statistics.json: line 1, column"),
        "{e}"
    );
    b.write(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("constraints.json")).unwrap();
    std::fs::write(
        dir.join("constraints.json"),
        text.replace("\"Integral\"", "\"Decimal\""),
    )
    .unwrap();
    let e = Baseline::read(&dir).unwrap_err();
    assert_eq!(
        e.to_string(),
        "constraints.json: feature \"a\": unknown inferred_type \"Decimal\""
    );
    b.write(&dir).unwrap();
    let text = std::fs::read_to_string(dir.join("statistics.json")).unwrap();
    std::fs::write(
        dir.join("statistics.json"),
        text.replace("\"k\": 2048.0", "\"k\": 0.5"),
    )
    .unwrap();
    let e = Baseline::read(&dir).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statistics.json: feature \"a\": sketch parameters c = 0.64, k = 0.5 are not valid"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_window_that_matches_no_column() {
    let b = small_baseline();
    let w = Table {
        columns: vec!["z".into()],
        rows: vec![vec![Some("1".into())]],
        positional: false,
    };
    let r = run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &w,
        JobOptions::default(),
    )
    .unwrap();
    let checks: Vec<&str> = r
        .violations
        .violations
        .iter()
        .map(|v| v.constraint_check_type.as_str())
        .collect();
    assert_eq!(
        checks,
        [
            "missing_column_check",
            "missing_column_check",
            "extra_column_check"
        ]
    );
    assert_eq!(r.drift_report.unwrap().tested_features, 0);
}

#[test]
fn inconsistent_drift_baseline_is_refused() {
    let dir = std::env::temp_dir().join(format!("mw-monitor-bad-drift-{}", std::process::id()));
    let b = small_baseline();
    let mut d = b.drift.clone().unwrap();
    if let mw_monitor::drift::BaselineFeature::Numeric { runs, .. } = &mut d.features[0] {
        runs[0].1 = u64::MAX;
    }
    let bad = Baseline {
        drift: Some(d),
        ..b.clone()
    };
    bad.write(&dir).unwrap();
    assert_eq!(
        Baseline::read(&dir).unwrap_err().to_string(),
        "drift_baseline.json: feature \"a\": the runs hold more than 9007199254740992 values"
    );
    let mut d = b.drift.clone().unwrap();
    if let mw_monitor::drift::BaselineFeature::Numeric { runs, .. } = &mut d.features[0] {
        runs[0].1 = 2;
    }
    Baseline {
        drift: Some(d),
        ..b.clone()
    }
    .write(&dir)
    .unwrap();
    assert_eq!(
        Baseline::read(&dir).unwrap_err().to_string(),
        "drift_baseline.json: feature \"a\": the runs hold 4 values but count is 3"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
