//! Parquet input: the same data as CSV and as Parquet (written by pyarrow,
//! `fixtures/make_parquet.py`: int64 and string columns, nulls, snappy,
//! four row groups) give the same baseline; damaged files are clear errors.

use crate::common::testdata;
use mw_monitor::parquet::ParquetSource;
use mw_monitor::table::{self, Format, Table};
use mw_monitor::{Baseline, BaselineOptions};
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adult_test.parquet")
}

#[test]
fn parquet_and_csv_give_the_same_baseline() {
    let mut csv = table::open(&testdata("adult_test.csv"), Format::Csv { header: true }).unwrap();
    let mut pq = table::open(&fixture(), Format::Parquet).unwrap();
    let a = Baseline::compute(csv.as_mut(), BaselineOptions::default()).unwrap();
    let b = Baseline::compute(pq.as_mut(), BaselineOptions::default()).unwrap();
    assert_eq!(b.statistics.dataset.item_count, 16_281);
    assert_eq!(
        serde_json::to_value(&a.statistics).unwrap(),
        serde_json::to_value(&b.statistics).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&a.constraints).unwrap(),
        serde_json::to_value(&b.constraints).unwrap()
    );
}

#[test]
fn parquet_cells_are_the_csv_cells() {
    let csv = Table::read(
        table::open(&testdata("adult_test.csv"), Format::Csv { header: true })
            .unwrap()
            .as_mut(),
    )
    .unwrap();
    let pq = Table::read(table::open(&fixture(), Format::Parquet).unwrap().as_mut()).unwrap();
    assert_eq!(csv.columns, pq.columns);
    assert_eq!(csv.rows.len(), pq.rows.len());
    // Empty CSV fields and Parquet nulls are both missing values.
    assert_eq!(csv.rows, pq.rows);
}

#[test]
fn damaged_parquet_is_a_clear_error() {
    let bytes = std::fs::read(fixture()).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"PAR1".to_vec(),
        b"age,workclass\n1,x\n".to_vec(),
        bytes[..bytes.len() / 2].to_vec(),
        bytes[bytes.len() / 2..].to_vec(),
    ];
    // Byte flips through the file: footer, page headers, data.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..60 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = bytes.clone();
        let at = (x as usize) % b.len();
        b[at] ^= 1 << (x % 8);
        cases.push(b);
    }
    let mut errors = 0;
    for (i, case) in cases.into_iter().enumerate() {
        let mut src = ParquetSource::new(bytes::Bytes::from(case), format!("case-{i}"));
        // Ok (the flip hit a value) or a clear error naming the file; never a panic.
        match Table::read(&mut src) {
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                assert!(e.to_string().contains(&format!("case-{i}")), "{e}");
            }
        }
    }
    assert!(errors >= 5, "truncated and foreign files must fail");
}
