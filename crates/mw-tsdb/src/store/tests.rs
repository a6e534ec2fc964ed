use super::*;
use crate::query::{fetch, plan};
use mw_model::Statistic;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mw-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn key(name: &str, svc: &str) -> MetricKey {
    MetricKey::from_parts(
        "Test".into(),
        name.into(),
        vec![Dimension {
            name: "Service".into(),
            value: svc.into(),
        }],
    )
}

fn datum(name: &str, ts_ms: i64, v: f64) -> Datum {
    Datum {
        key: key(name, "api"),
        unit: Unit::Milliseconds,
        timestamp_ms: ts_ms,
        resolution: 60,
        value: DatumValue::Single(v),
    }
}

const T0: i64 = 1_800_000_000_000; // a minute boundary

fn stat(store: &MetricStore, name: &str, s: Statistic) -> Option<f64> {
    let ids: Vec<u32> = store
        .find(&key(name, "api"), None)
        .iter()
        .map(|s| s.id)
        .collect();
    let p = plan(T0, T0 + 60_000, 60, T0).unwrap().unwrap();
    let per = fetch(store, &ids, &p).unwrap();
    per.get(&(T0 / 1000)).and_then(|a| a.statistic(&s))
}

#[test]
fn writes_are_visible_before_and_after_checkpoint_and_reopen() {
    let dir = tmp("reopen");
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    store
        .put(&[datum("lat", T0, 1.0), datum("lat", T0 + 1000, 3.0)])
        .unwrap();
    assert_eq!(stat(&store, "lat", Statistic::Sum), Some(4.0));
    store.checkpoint().unwrap();
    store.put(&[datum("lat", T0 + 2000, 5.0)]).unwrap();
    assert_eq!(stat(&store, "lat", Statistic::Sum), Some(9.0));
    assert_eq!(stat(&store, "lat", Statistic::SampleCount), Some(3.0));
    // Dropped without close: the last put lives only in the log.
    drop(store);
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    assert_eq!(stat(&store, "lat", Statistic::Sum), Some(9.0));
    assert_eq!(stat(&store, "lat", Statistic::Maximum), Some(5.0));
    assert_eq!(store.series().len(), 1);
    // Reopening twice does not double count.
    drop(store);
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    assert_eq!(stat(&store, "lat", Statistic::SampleCount), Some(3.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn units_are_separate_series() {
    let dir = tmp("units");
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    let mut d = datum("m", T0, 1.0);
    store.put(std::slice::from_ref(&d)).unwrap();
    d.unit = Unit::Seconds;
    store.put(&[d]).unwrap();
    assert_eq!(store.find(&key("m", "api"), None).len(), 2);
    assert_eq!(store.find(&key("m", "api"), Some(Unit::Seconds)).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cardinality_bound_rejects_the_whole_batch() {
    let dir = tmp("limit");
    let mut cfg = StoreConfig::new(&dir);
    cfg.max_series = 2;
    let store = MetricStore::open(cfg).unwrap();
    store.put(&[datum("a", T0, 1.0)]).unwrap();
    let err = store
        .put(&[
            datum("a", T0, 1.0),
            datum("b", T0, 1.0),
            datum("c", T0, 1.0),
        ])
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::LimitExceeded);
    assert_eq!(store.series().len(), 1);
    assert_eq!(stat(&store, "a", Statistic::SampleCount), Some(1.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn high_resolution_data_has_one_second_buckets() {
    let dir = tmp("hires");
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    let mut batch = Vec::new();
    for i in 0..20 {
        let mut d = datum("hr", T0 + i * 1000, i as f64);
        d.resolution = 1;
        batch.push(d);
    }
    store.put(&batch).unwrap();
    let ids: Vec<u32> = store
        .find(&key("hr", "api"), None)
        .iter()
        .map(|s| s.id)
        .collect();
    let p = plan(T0, T0 + 20_000, 10, T0).unwrap().unwrap();
    let per = fetch(&store, &ids, &p).unwrap();
    assert_eq!(per.len(), 2);
    assert_eq!(per[&(T0 / 1000)].statistic(&Statistic::Sum), Some(45.0));
    assert_eq!(
        per[&(T0 / 1000 + 10)].statistic(&Statistic::Sum),
        Some(145.0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn maintenance_rolls_up_old_minutes_and_expires_old_data() {
    let dir = tmp("rollup");
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    // Five one-minute buckets inside one 5-minute bucket, plus 1 s data.
    let mut batch = Vec::new();
    for m in 0..5 {
        let mut d = datum("r", T0 + m * 60_000, m as f64 + 1.0);
        d.resolution = 1;
        batch.push(d);
    }
    store.put(&batch).unwrap();
    store.checkpoint().unwrap();
    let ids: Vec<u32> = store
        .find(&key("r", "api"), None)
        .iter()
        .map(|s| s.id)
        .collect();
    // Sixteen days later the minutes are one 5-minute bucket; the 1 s data is gone.
    let later = T0 + 16 * 86_400_000;
    store.maintain(later).unwrap();
    let fine = store.read(&ids, true, 0, i64::MAX).unwrap();
    assert!(fine.is_empty());
    let coarse = store.read(&ids, false, 0, i64::MAX).unwrap();
    assert_eq!(coarse.len(), 1);
    assert_eq!(coarse[0].1, 300);
    assert_eq!(coarse[0].2.statistic(&Statistic::Sum), Some(15.0));
    assert_eq!(coarse[0].2.statistic(&Statistic::SampleCount), Some(5.0));
    // After 455 days nothing is left.
    store.maintain(T0 + 460 * 86_400_000).unwrap();
    assert!(store.read(&ids, false, 0, i64::MAX).unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_records_round_trip() {
    let d = [
        datum("x", T0, 1.5),
        Datum {
            value: DatumValue::Values(vec![(1.0, 2.0), (3.0, 4.0)]),
            ..datum("x", T0, 0.0)
        },
        Datum {
            value: DatumValue::Stats {
                count: 2.0,
                sum: 3.0,
                min: 1.0,
                max: 2.0,
            },
            ..datum("x", T0, 0.0)
        },
    ];
    let info = Arc::new(SeriesInfo {
        id: 0,
        key: key("x", "api"),
        unit: Unit::Milliseconds,
        last_timestamp_ms: AtomicI64::new(0),
        last_ingest_ms: AtomicI64::new(0),
    });
    let refs: Vec<DatumRef> = d.iter().map(DatumRef::of).collect();
    let rec = encode_batch(&[info], &refs, &[0, 0, 0]);
    let (series, data) = decode_batch(&rec).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].key, key("x", "api"));
    assert_eq!(data.len(), 3);
    assert_eq!(data[1].3, d[1].value);
    assert!(decode_batch(&rec[..rec.len() - 1]).is_err());
}

#[test]
fn dimension_encoding_survives_separators() {
    let dims = vec![
        Dimension {
            name: "a=b".into(),
            value: "x\\y=z".into(),
        },
        Dimension {
            name: "c".into(),
            value: "line".into(),
        },
    ];
    assert_eq!(decode_dims(&encode_dims(&dims)), dims);
}

#[test]
fn read_many_matches_single_reads_across_disk_and_head() {
    let dir = tmp("read-many");
    let store = MetricStore::open(StoreConfig::new(&dir)).unwrap();
    let mut data = Vec::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        for k in 0..5 {
            data.push(datum(name, T0 + k * 60_000, (i * 10 + k as usize) as f64));
        }
    }
    store.put(&data).unwrap();
    store.checkpoint().unwrap();
    // Some data only in the head.
    store
        .put(&[datum("a", T0 + 4 * 60_000, 100.0), datum("c", T0, -1.0)])
        .unwrap();
    let ids = |n: &str| -> Vec<u32> {
        store
            .find(&key(n, "api"), None)
            .iter()
            .map(|s| s.id)
            .collect()
    };
    let (a, b, c) = (ids("a"), ids("b"), ids("c"));
    let (s0, s1) = (T0 / 1000, T0 / 1000 + 300);
    let reqs = [
        ReadRequest {
            ids: &a,
            fine: false,
            start: s0,
            end: s1,
        },
        ReadRequest {
            ids: &b,
            fine: false,
            start: s0 + 60,
            end: s0 + 180,
        },
        ReadRequest {
            ids: &c,
            fine: true,
            start: s0,
            end: s1,
        },
        ReadRequest {
            ids: &c,
            fine: false,
            start: s1,
            end: s0,
        },
        ReadRequest {
            ids: &c,
            fine: false,
            start: s0,
            end: s1,
        },
    ];
    let many = store.read_many(&reqs).unwrap();
    assert_eq!(many.len(), reqs.len());
    for (r, got) in reqs.iter().zip(&many) {
        let mut one = store.read(r.ids, r.fine, r.start, r.end).unwrap();
        let mut got = got.clone();
        let order =
            |v: &mut Vec<(i64, u32, crate::Aggregate)>| v.sort_by_key(|x| (x.0, x.2.sum.to_bits()));
        order(&mut one);
        order(&mut got);
        assert_eq!(one.len(), got.len());
        for (x, y) in one.iter().zip(&got) {
            assert_eq!(
                (x.0, x.1, x.2.sum, x.2.count),
                (y.0, y.1, y.2.sum, y.2.count)
            );
        }
    }
    assert_eq!(many[0].iter().map(|r| r.2.count).sum::<f64>(), 6.0);
    assert_eq!(many[1].len(), 2);
    assert!(many[2].is_empty(), "no 1 s data was written");
    assert!(many[3].is_empty(), "empty range");
    assert_eq!(
        many[4].iter().map(|r| r.2.sum).sum::<f64>(),
        20.0 + 21.0 + 22.0 + 23.0 + 24.0 - 1.0
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
