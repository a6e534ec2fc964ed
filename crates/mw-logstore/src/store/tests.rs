use super::*;

const NOW: i64 = 1_800_000_000_000;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mw-logs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path) -> LogStore {
    let mut cfg = LogStoreConfig::new(dir);
    cfg.sync = SyncMode::None;
    LogStore::open(cfg).unwrap()
}

fn ev(ts: i64, m: &str) -> InputEvent<'_> {
    InputEvent {
        timestamp: ts,
        message: m,
    }
}

fn all(store: &LogStore, group: &str, forward: bool) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    store
        .scan(
            &Scan {
                group,
                streams: StreamSel::All,
                start: 0,
                end: i64::MAX,
                forward,
                after: None,
                filter: None,
                literal: None,
            },
            &mut |s, e| {
                out.push((s.to_string(), e.timestamp, e.message.to_string()));
                true
            },
        )
        .unwrap();
    out
}

#[test]
fn events_merge_across_streams_in_time_order_before_and_after_checkpoints() {
    let dir = tmp("merge");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "a", NOW).unwrap();
    store.create_stream("g", "b", NOW).unwrap();
    store
        .put_events("g", "a", &[ev(NOW - 30, "a1"), ev(NOW - 10, "a2")], NOW)
        .unwrap();
    store.checkpoint().unwrap();
    store
        .put_events("g", "b", &[ev(NOW - 20, "b1"), ev(NOW, "b2")], NOW)
        .unwrap();
    let got: Vec<String> = all(&store, "g", true).into_iter().map(|x| x.2).collect();
    assert_eq!(got, ["a1", "b1", "a2", "b2"]);
    let back: Vec<String> = all(&store, "g", false).into_iter().map(|x| x.2).collect();
    assert_eq!(back, ["b2", "a2", "b1", "a1"]);
    // Crash: drop without close; the last batch is only in the log.
    drop(store);
    let store = open(&dir);
    assert_eq!(all(&store, "g", true).len(), 4);
    let s = store.streams("g").unwrap();
    assert_eq!(s[0].first_event, Some(NOW - 30));
    assert_eq!(s[1].last_event, Some(NOW));
    drop(store);
    // Reopening again neither loses nor duplicates.
    let store = open(&dir);
    assert_eq!(all(&store, "g", true).len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batches_are_validated_as_aws_does() {
    let dir = tmp("validate");
    let store = open(&dir);
    assert_eq!(
        store
            .put_events("nope", "s", &[ev(NOW, "x")], NOW)
            .unwrap_err()
            .kind(),
        crate::ErrorKind::NotFound
    );
    store.create_group("g", None, NOW).unwrap();
    assert_eq!(
        store
            .put_events("g", "s", &[ev(NOW, "x")], NOW)
            .unwrap_err()
            .kind(),
        crate::ErrorKind::NotFound
    );
    store.create_stream("g", "s", NOW).unwrap();
    let e = store
        .put_events("g", "s", &[ev(NOW, "x"), ev(NOW - 1, "y")], NOW)
        .unwrap_err();
    assert!(e.to_string().contains("chronological"), "{e}");
    assert!(store.put_events("g", "s", &[], NOW).is_err());
    assert!(store.put_events("g", "s", &[ev(NOW, "")], NOW).is_err());
    let big = "x".repeat(600_000);
    assert!(store
        .put_events("g", "s", &[ev(NOW, &big), ev(NOW, &big)], NOW)
        .is_err());
    let span = store
        .put_events(
            "g",
            "s",
            &[ev(NOW - 25 * 3_600_000, "old"), ev(NOW, "new")],
            NOW,
        )
        .unwrap_err();
    assert!(span.to_string().contains("24 hours"), "{span}");
    assert!(
        all(&store, "g", true).is_empty(),
        "rejected batches store nothing"
    );
    assert_eq!(
        store.create_group("g", None, NOW).unwrap_err().kind(),
        crate::ErrorKind::AlreadyExists
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn too_old_too_new_and_expired_events_are_rejected_by_index() {
    let dir = tmp("reject");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    // Only the span of the events that are kept counts against the 24 h limit.
    let out = store
        .put_events(
            "g",
            "s",
            &[
                ev(NOW - 15 * DAY_MS, "old"),
                ev(NOW - 14 * DAY_MS - 1, "old2"),
                ev(NOW - 3_600_000, "kept"),
                ev(NOW + 3 * 3_600_000, "future"),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(
        out.rejected,
        Some(Rejected {
            too_new_start: Some(3),
            too_old_end: Some(2),
            expired_end: None
        })
    );
    let out = store
        .put_events(
            "g",
            "s",
            &[
                ev(NOW - 14 * DAY_MS - 1, "old"),
                ev(NOW - 1000, "ok"),
                ev(NOW + 3 * 3_600_000, "future"),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(
        out.rejected,
        Some(Rejected {
            too_new_start: Some(2),
            too_old_end: Some(1),
            expired_end: None
        })
    );
    store.put_retention("g", Some(1)).unwrap();
    let out = store
        .put_events(
            "g",
            "s",
            &[ev(NOW - 2 * DAY_MS, "expired"), ev(NOW, "fresh")],
            NOW,
        )
        .unwrap();
    assert_eq!(out.rejected.unwrap().expired_end, Some(1));
    let msgs: Vec<String> = all(&store, "g", true).into_iter().map(|x| x.2).collect();
    assert_eq!(msgs, ["kept", "ok", "fresh"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retention_drops_old_blocks_and_deletion_drops_streams() {
    let dir = tmp("retention");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    store.create_stream("g", "t", NOW).unwrap();
    store
        .put_events("g", "s", &[ev(NOW - 3 * DAY_MS, "old")], NOW)
        .unwrap();
    store.put_events("g", "t", &[ev(NOW, "new")], NOW).unwrap();
    store.checkpoint().unwrap();
    assert!(store.group("g").unwrap().stored_bytes > 0);
    store.put_retention("g", Some(1)).unwrap();
    store.maintain(NOW).unwrap();
    let msgs: Vec<String> = all(&store, "g", true).into_iter().map(|x| x.2).collect();
    assert_eq!(msgs, ["new"]);
    store.delete_stream("g", "t").unwrap();
    assert!(all(&store, "g", true).is_empty());
    assert_eq!(
        store.delete_stream("g", "t").unwrap_err().kind(),
        crate::ErrorKind::NotFound
    );
    store.delete_group("g").unwrap();
    assert!(store.groups().is_empty());
    // Every segment file is gone with the data.
    let left = std::fs::read_dir(dir.join("segments")).unwrap().count();
    assert_eq!(left, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resuming_after_a_position_and_filtering() {
    let dir = tmp("resume");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    let msgs: Vec<String> = (0..10)
        .map(|i| format!("{} {i}", if i % 2 == 0 { "ERROR" } else { "INFO" }))
        .collect();
    let input: Vec<InputEvent> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| ev(NOW - 100 + i as i64, m))
        .collect();
    store.put_events("g", "s", &input, NOW).unwrap();
    let only_errors = |m: &str| m.starts_with("ERROR");
    let mut page = Vec::new();
    let mut last = None;
    store
        .scan(
            &Scan {
                group: "g",
                streams: StreamSel::Names(&["s".to_string()]),
                start: 0,
                end: i64::MAX,
                forward: true,
                after: None,
                filter: Some(&only_errors),
                literal: None,
            },
            &mut |_, e| {
                page.push(e.message.to_string());
                last = Some((e.timestamp, e.seq));
                page.len() < 2
            },
        )
        .unwrap();
    assert_eq!(page, ["ERROR 0", "ERROR 2"]);
    let mut rest = Vec::new();
    store
        .scan(
            &Scan {
                group: "g",
                streams: StreamSel::Prefix("s"),
                start: 0,
                end: i64::MAX,
                forward: true,
                after: last,
                filter: Some(&only_errors),
                literal: None,
            },
            &mut |_, e| {
                rest.push(e.message.to_string());
                true
            },
        )
        .unwrap();
    assert_eq!(rest, ["ERROR 4", "ERROR 6", "ERROR 8"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn emf_documents_become_datums_and_broken_ones_are_counted() {
    let dir = tmp("emf");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    let good = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"App","Dimensions":[["Svc"]],"Metrics":[{"Name":"Lat","Unit":"Milliseconds"}]}]},"Svc":"api","Lat":5}"#;
    let bad = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"App","Dimensions":[["Nope"]],"Metrics":[{"Name":"Lat"}]}]},"Lat":5}"#;
    let out = store
        .put_events(
            "g",
            "s",
            &[ev(NOW, good), ev(NOW, bad), ev(NOW, "plain")],
            NOW,
        )
        .unwrap();
    assert_eq!(out.datums.len(), 1);
    assert_eq!(out.datums[0].key.name, "Lat");
    assert_eq!(out.datums[0].timestamp_ms, NOW);
    assert_eq!(out.emf_invalid, 1);
    assert_eq!(all(&store, "g", true).len(), 3, "every event is stored");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_records_round_trip() {
    let events = vec![Event {
        timestamp: 5,
        ingestion: 6,
        seq: 7,
        message: "héllo".into(),
    }];
    let rec = encode_record(42, &events);
    assert_eq!(decode_record(&rec).unwrap(), (42, events));
    assert!(decode_record(&rec[..rec.len() - 1]).is_err());
}

#[test]
fn literal_prefilter_gives_the_same_events_as_testing_each() {
    let dir = tmp("literal");
    let store = open(&dir);
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    store.create_stream("g", "t", NOW).unwrap();
    let msgs: Vec<String> = (0..300)
        .map(|i| match i % 7 {
            0 => format!("ERROR disk {i}"),
            3 => format!("ERRO{i}R split"),
            _ => format!("INFO fine {i}"),
        })
        .collect();
    let a: Vec<InputEvent> = msgs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, m)| ev(NOW - 1000 + i as i64, m))
        .collect();
    let b: Vec<InputEvent> = msgs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(i, m)| ev(NOW - 1000 + i as i64, m))
        .collect();
    store.put_events("g", "s", &a, NOW).unwrap();
    store.put_events("g", "t", &b, NOW).unwrap();
    store.checkpoint().unwrap();
    let has = |m: &str| m.contains("ERROR");
    let run = |literal: Option<&[u8]>| {
        let mut out = Vec::new();
        store
            .scan(
                &Scan {
                    group: "g",
                    streams: StreamSel::All,
                    start: 0,
                    end: i64::MAX,
                    forward: true,
                    after: None,
                    filter: Some(&has),
                    literal,
                },
                &mut |_, e| {
                    out.push(e.message.to_string());
                    true
                },
            )
            .unwrap();
        out
    };
    let plain = run(None);
    assert_eq!(plain.len(), 43);
    assert_eq!(run(Some(b"ERROR")), plain);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ngram_filters_skip_blocks_without_the_literal() {
    let dir = tmp("ngram");
    let mut cfg = LogStoreConfig::new(&dir);
    cfg.sync = SyncMode::None;
    cfg.block_bytes = 4096;
    let store = LogStore::open(cfg).unwrap();
    store.create_group("g", None, NOW).unwrap();
    store.create_stream("g", "s", NOW).unwrap();
    let msgs: Vec<String> = (0..2000)
        .map(|i| {
            if i == 1234 {
                "FATAL needle-in-haystack".to_string()
            } else {
                format!("INFO request {i} ok")
            }
        })
        .collect();
    let input: Vec<InputEvent> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| ev(NOW - 5000 + i as i64, m))
        .collect();
    store.put_events("g", "s", &input, NOW).unwrap();
    store.checkpoint().unwrap();
    let want = |m: &str| m.contains("needle");
    let mut found = Vec::new();
    let stats = store
        .scan(
            &Scan {
                group: "g",
                streams: StreamSel::All,
                start: 0,
                end: i64::MAX,
                forward: true,
                after: None,
                filter: Some(&want),
                literal: Some(b"needle"),
            },
            &mut |_, e| {
                found.push(e.message.to_string());
                true
            },
        )
        .unwrap();
    assert_eq!(found, ["FATAL needle-in-haystack"]);
    assert!(stats.blocks_skipped >= 5, "{stats:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
