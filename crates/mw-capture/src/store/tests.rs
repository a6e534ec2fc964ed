use super::*;
use crate::record::{encode_event, ContentTypes, Event, Observed};
use crate::testdir::TestDir;
use std::path::Path;

const T0: i64 = 1_650_241_308_871; // 2022-04-18T00:21:48.871Z
const H: i64 = 3_600_000;

fn line(id: &str, t: i64, input: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_event(
        &mut out,
        &Event {
            input: Some(Observed {
                content_type: "text/csv",
                body: input.as_bytes(),
            }),
            output: Some(Observed {
                content_type: "text/csv",
                body: b"0.5",
            }),
            event_id: id,
            inference_id: None,
            custom_attributes: None,
            inference_time_ms: t,
        },
        &ContentTypes::default(),
    );
    out
}

fn store(dir: &TestDir) -> CaptureStore {
    CaptureStore::open(StoreConfig::new(dir.0.join("captures"))).unwrap()
}

#[test]
fn batches_land_in_their_hours_and_read_back_by_range() {
    let dir = TestDir::new("hours");
    let s = store(&dir);
    let mut body = Vec::new();
    body.extend(line("a", T0, "1,2"));
    body.extend(line("b", T0 + H, "3,4"));
    body.extend(b"\n\r\n");
    body.extend(line("c", T0 + 2 * H, "5,6"));
    assert_eq!(s.append_captures("ep", "AllTraffic", &body).unwrap(), 3);

    let files = s.list_captures("ep", None, T0 - H, T0 + 3 * H).unwrap();
    let hours: Vec<_> = files.iter().map(|f| f.hour_ms).collect();
    assert_eq!(
        hours,
        vec![
            layout::hour_floor(T0),
            layout::hour_floor(T0) + H,
            layout::hour_floor(T0) + 2 * H
        ]
    );
    assert!(
        files[0]
            .path
            .starts_with("data-capture/ep/AllTraffic/2022/04/18/00/"),
        "{}",
        files[0].path
    );
    // MM-SS-mmm-<uuid>.jsonl, the creation time of the file.
    let name = files[0].path.rsplit('/').next().unwrap();
    assert_eq!(name.len(), 10 + 36 + 6, "{name}");
    assert_eq!(&name[2..3], "-");
    assert!(files[1]
        .path
        .starts_with("data-capture/ep/AllTraffic/2022/04/18/01/"));

    // Only the middle hour.
    let page = s
        .read_captures("ep", Some("AllTraffic"), T0 + H - 1000, T0 + H + 1000, 100)
        .unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.record.event_metadata.event_id.as_str())
        .collect();
    assert_eq!(ids, vec!["b"]);
    assert!(!page.truncated);

    // Limit.
    let page = s.read_captures("ep", None, 0, T0 + 10 * H, 2).unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(page.truncated);
    assert_eq!(page.records[0].variant, "AllTraffic");

    // Nothing for other endpoints or ranges.
    assert!(s
        .list_captures("other", None, 0, T0 * 2)
        .unwrap()
        .is_empty());
    assert!(s
        .list_captures("ep", None, T0 + 5 * H, T0 + 6 * H)
        .unwrap()
        .is_empty());
}

#[test]
fn a_bad_line_rejects_the_whole_batch_with_its_line_number() {
    let dir = TestDir::new("bad");
    let s = store(&dir);
    let mut body = line("a", T0, "1");
    body.extend(b"{\"captureData\":{}}\n");
    let e = s.append_captures("ep", "v", &body).unwrap_err();
    assert!(e.to_string().starts_with("line 2: "), "{e}");
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    assert!(s.list_captures("ep", None, 0, T0 * 2).unwrap().is_empty());
    for (ep, v) in [("../x", "v"), ("ep", "a/b"), ("", "v")] {
        let e = s.append_captures(ep, v, &line("a", T0, "1")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter, "{ep} {v}");
    }
    assert!(s.append_captures("ep", "v", b"\n \n").is_err());
    assert!(s.list_captures("ep", None, 10, 10).is_err());
}

#[test]
fn files_rotate_by_size() {
    let dir = TestDir::new("size");
    let mut cfg = StoreConfig::new(dir.0.join("captures"));
    cfg.writer.max_file_bytes = 1000;
    let s = CaptureStore::open(cfg).unwrap();
    let mut total = 0;
    for i in 0..30 {
        let body = line(&format!("id{i}"), T0, &"7,".repeat(40));
        total += body.len();
        s.append_captures("ep", "v", &body).unwrap();
    }
    let files = s.list_captures("ep", Some("v"), T0, T0 + 1).unwrap();
    assert!(
        files.len() >= total / 1000,
        "{} files for {total} bytes",
        files.len()
    );
    assert!(files.iter().all(|f| f.bytes <= 1000), "{files:?}");
    let page = s
        .read_captures("ep", Some("v"), T0 - 1000, T0 + 1000, 1000)
        .unwrap();
    assert_eq!(page.records.len(), 30);
    let mut ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.record.event_metadata.event_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
}

#[test]
fn torn_and_foreign_lines_are_skipped_on_read() {
    let dir = TestDir::new("torn");
    let s = store(&dir);
    s.append_captures("ep", "v", &line("a", T0, "1")).unwrap();
    s.close().unwrap();
    let files = s.list_captures("ep", None, 0, T0 * 2).unwrap();
    let path = dir.0.join("captures").join(&files[0].path);
    let mut data = std::fs::read(&path).unwrap();
    data.extend(b"not json\n");
    data.extend(&line("b", T0, "2")[..20]); // torn tail, no newline
    std::fs::write(&path, data).unwrap();
    let page = s.read_captures("ep", None, 0, T0 * 2, 10).unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.skipped_lines, 1);
}

#[test]
fn ground_truth_by_collection_hour() {
    let dir = TestDir::new("gt");
    let s = store(&dir);
    let body = b"{\"groundTruthData\":{\"data\":\"1\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"42\"},\"eventVersion\":\"0\"}\n\
{\"groundTruthData\":{\"data\":\"0\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"43\"},\"eventVersion\":\"0\"}\n";
    assert_eq!(s.append_ground_truth("ep", body, T0).unwrap(), 2);
    let files = s.list_ground_truth("ep", T0 - 1, T0 + 1).unwrap();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].path.starts_with("ground-truth/ep/2022/04/18/00/"),
        "{}",
        files[0].path
    );
    let page = s.read_ground_truth("ep", T0, T0 + 1, 10).unwrap();
    let labels: Vec<_> = page
        .records
        .iter()
        .map(|r| r.ground_truth_data.data.as_str())
        .collect();
    assert_eq!(labels, vec!["1", "0"]);
    assert!(s
        .read_ground_truth("ep", T0 + H, T0 + 2 * H, 10)
        .unwrap()
        .records
        .is_empty());
    let e = s.append_ground_truth("ep", b"{}\n", T0).unwrap_err();
    assert!(e.to_string().starts_with("line 1: "), "{e}");
}

const GT: &[u8] = b"{\"groundTruthData\":{\"data\":\"1\",\"encoding\":\"CSV\"},\"eventMetadata\":{\"eventId\":\"42\"},\"eventVersion\":\"0\"}\n";

/// What listing gave when the folder tree was the index: the hour folders
/// overlapping the range, walked, by hour then path.
fn walked(root: &Path, base: &str, variants: &[&str], start: i64, end: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for v in variants {
        let dir = root.join(base).join(v);
        for (hour, hdir) in layout::hours_in_range(&dir, start, end).unwrap() {
            for (_, path, _) in layout::files_in(&hdir).unwrap() {
                out.push((hour, rel(root, &path)));
            }
        }
    }
    out.sort();
    out
}

/// Far past every file, in a year the folder walk could still name.
const FAR: i64 = T0 + 10_000 * H;

fn listed(files: &[FileInfo]) -> Vec<(i64, String)> {
    files.iter().map(|f| (f.hour_ms, f.path.clone())).collect()
}

#[test]
fn the_catalog_survives_reopening() {
    let dir = TestDir::new("reopen");
    let s = store(&dir);
    let mut body = line("a", T0, "1");
    body.extend(line("b", T0 + H, "2"));
    s.append_captures("ep", "v", &body).unwrap();
    s.append_ground_truth("ep", GT, T0).unwrap();
    let before = s.list_captures("ep", None, 0, T0 * 2).unwrap();
    assert_eq!(before.len(), 2);
    s.close().unwrap();
    drop(s);
    assert!(dir.0.join("captures").join(CATALOG_FILE).is_file());

    let s = store(&dir);
    assert_eq!(s.reconciled(), Reconciled::default());
    assert_eq!(s.list_captures("ep", None, 0, T0 * 2).unwrap(), before);
    assert_eq!(s.list_ground_truth("ep", T0, T0 + 1).unwrap().len(), 1);
    let page = s.read_captures("ep", Some("v"), 0, T0 * 2, 10).unwrap();
    assert_eq!(page.records.len(), 2);
}

#[test]
fn files_without_a_row_are_found_at_open() {
    let dir = TestDir::new("norow");
    let root = dir.0.join("captures");
    let s = store(&dir);
    s.append_captures("ep", "v", &line("a", T0, "1")).unwrap();
    // Files an older version wrote (or a crash left without their row).
    let hour = root.join("data-capture/ep/old/2022/04/18/03");
    std::fs::create_dir_all(&hour).unwrap();
    std::fs::write(hour.join("00-00-000-x.jsonl"), line("b", T0 + 3 * H, "2")).unwrap();
    let gt = root.join("ground-truth/ep/2022/04/18/00");
    std::fs::create_dir_all(&gt).unwrap();
    std::fs::write(gt.join("00-00-000-y.jsonl"), GT).unwrap();
    // Not in the tree's layout: never listed.
    std::fs::write(root.join("data-capture/ep/old/notes.jsonl"), b"x\n").unwrap();
    std::fs::create_dir_all(root.join("data-capture/bad_name/v/2022/04/18/00")).unwrap();
    std::fs::write(
        root.join("data-capture/bad_name/v/2022/04/18/00/a.jsonl"),
        line("c", T0, "3"),
    )
    .unwrap();

    // Listings come from the catalog, which does not know them yet.
    assert_eq!(s.list_captures("ep", None, 0, T0 * 2).unwrap().len(), 1);
    assert!(s.list_ground_truth("ep", T0, T0 + 1).unwrap().is_empty());
    drop(s);

    let s = store(&dir);
    assert_eq!(
        s.reconciled(),
        Reconciled {
            added: 2,
            removed: 0,
            rebuilt: None,
        }
    );
    let files = s.list_captures("ep", None, 0, T0 * 2).unwrap();
    assert_eq!(
        listed(&files),
        walked(&root, "data-capture/ep", &["old", "v"], 0, T0 * 2)
    );
    let old = &files[1];
    assert_eq!(old.variant.as_deref(), Some("old"));
    assert_eq!(
        old.path,
        "data-capture/ep/old/2022/04/18/03/00-00-000-x.jsonl"
    );
    assert_eq!(old.hour_ms, layout::hour_floor(T0) + 3 * H);
    assert_eq!(old.bytes, line("b", T0 + 3 * H, "2").len() as u64);
    let page = s.read_captures("ep", Some("old"), 0, T0 * 2, 10).unwrap();
    assert_eq!(page.records[0].record.event_metadata.event_id, "b");
    assert_eq!(
        s.read_ground_truth("ep", T0, T0 + 1, 10)
            .unwrap()
            .records
            .len(),
        1
    );
}

#[test]
fn rows_of_deleted_files_are_dropped_at_open() {
    let dir = TestDir::new("gone");
    let root = dir.0.join("captures");
    let s = store(&dir);
    let mut body = line("a", T0, "1");
    body.extend(line("b", T0 + H, "2"));
    s.append_captures("ep", "v", &body).unwrap();
    s.append_captures("ep2", "v", &line("c", T0, "3")).unwrap();
    s.close().unwrap();
    let files = s.list_captures("ep", None, 0, T0 * 2).unwrap();
    std::fs::remove_file(root.join(&files[0].path)).unwrap();
    std::fs::remove_dir_all(root.join("data-capture/ep2")).unwrap();
    // A file deleted while open is not listed, though its row is still there.
    assert_eq!(s.list_captures("ep", None, 0, T0 * 2).unwrap(), files[1..]);
    drop(s);

    let s = store(&dir);
    assert_eq!(
        s.reconciled(),
        Reconciled {
            added: 0,
            removed: 2,
            rebuilt: None,
        }
    );
    assert_eq!(s.list_captures("ep", None, 0, T0 * 2).unwrap(), files[1..]);
    assert!(s.list_captures("ep2", None, 0, T0 * 2).unwrap().is_empty());
    let ids: Vec<_> = s
        .read_captures("ep", None, 0, T0 * 2, 10)
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.record.event_metadata.event_id)
        .collect();
    assert_eq!(ids, vec!["b"]);
}

#[test]
fn listings_of_many_hours_match_the_folder_walk() {
    let dir = TestDir::new("many");
    let root = dir.0.join("captures");
    let mut cfg = StoreConfig::new(&root);
    cfg.writer.sync = false;
    cfg.writer.max_file_bytes = 600;
    let s = CaptureStore::open(cfg).unwrap();
    // 300 hours on one variant, every third hour on another, two files in
    // some hours (size rotation), ground truth every fifth hour.
    for i in 0..300 {
        let t = T0 + i * H;
        let mut body = line(&format!("a{i}"), t, "1");
        if i % 7 == 0 {
            body.extend(line(&format!("b{i}"), t + 1, &"9,".repeat(200)));
        }
        s.append_captures("ep", "v1", &body).unwrap();
        if i % 3 == 0 {
            s.append_captures("ep", "v2", &line(&format!("c{i}"), t, "1"))
                .unwrap();
        }
        if i % 5 == 0 {
            s.append_ground_truth("ep", GT, t).unwrap();
        }
    }
    s.append_captures("ep-other", "v1", &line("z", T0, "1"))
        .unwrap();
    let start = layout::hour_floor(T0);
    let ranges = [
        (0, FAR),
        (T0, T0 + 1),
        (start - 1, start),
        (start + 17 * H + 5, start + 90 * H),
        (start + 100 * H, start + 101 * H),
        (start + 299 * H + 1, start + 400 * H),
        (start + 300 * H, start + 400 * H),
        (start + 24 * H - 1, start + 48 * H + 1),
    ];
    for (a, b) in ranges {
        for (variant, variants) in [
            (None, &["v1", "v2"][..]),
            (Some("v1"), &["v1"][..]),
            (Some("v2"), &["v2"][..]),
            (Some("v3"), &[][..]),
        ] {
            let files = s.list_captures("ep", variant, a, b).unwrap();
            assert_eq!(
                listed(&files),
                walked(&root, "data-capture/ep", variants, a, b),
                "{variant:?} {a} {b}"
            );
            for f in &files {
                let meta = std::fs::metadata(root.join(&f.path)).unwrap();
                assert_eq!(f.bytes, meta.len());
                assert_eq!(f.endpoint, "ep");
                assert!(f.path.contains(f.variant.as_deref().unwrap()));
            }
            let limited = s.list_captures_limit("ep", variant, a, b, 7).unwrap();
            assert_eq!(limited, files[..files.len().min(7)]);
        }
        let truth = s.list_ground_truth("ep", a, b).unwrap();
        assert_eq!(
            listed(&truth),
            walked(&root, "ground-truth/ep", &[""], a, b)
        );
        assert!(truth.iter().all(|f| f.variant.is_none()));
    }
    let all = s.list_captures("ep", None, 0, FAR).unwrap();
    assert_eq!(all.len(), 300 + 300 / 7 + 1 + 100);

    // Reads page through the catalog (more files than one page) in order.
    let page = s.read_captures("ep", Some("v1"), 0, FAR, 10_000).unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.record.event_metadata.event_id.clone())
        .collect();
    let mut want = Vec::new();
    for i in 0..300 {
        want.push(format!("a{i}"));
        if i % 7 == 0 {
            want.push(format!("b{i}"));
        }
    }
    // Hour by hour; two files of one hour made in the same millisecond are
    // in the order of their UUIDs.
    let hours: Vec<_> = ids.iter().filter(|id| id.starts_with('a')).collect();
    let want_hours: Vec<_> = want.iter().filter(|id| id.starts_with('a')).collect();
    assert_eq!(hours, want_hours);
    let (mut ids, mut want) = (ids, want);
    ids.sort();
    want.sort();
    assert_eq!(ids, want);
    assert!(!page.truncated);
    let page = s.read_captures("ep", None, 0, FAR, 400).unwrap();
    assert_eq!(page.records.len(), 400);
    assert!(page.truncated);
    assert_eq!(
        s.read_ground_truth("ep", 0, FAR, 10_000)
            .unwrap()
            .records
            .len(),
        60
    );
}

#[test]
fn an_acknowledged_batch_is_listed_after_a_crash() {
    let dir = TestDir::new("crash");
    let s = store(&dir);
    s.append_captures("ep", "v", &line("a", T0, "1")).unwrap();
    s.append_ground_truth("ep", GT, T0).unwrap();
    // As kill -9: no close, no destructors.
    std::mem::forget(s);

    let s = store(&dir);
    assert_eq!(s.reconciled(), Reconciled::default());
    let files = s.list_captures("ep", Some("v"), T0, T0 + 1).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].bytes, line("a", T0, "1").len() as u64);
    let page = s
        .read_captures("ep", None, T0 - 1000, T0 + 1000, 10)
        .unwrap();
    assert_eq!(page.records[0].record.event_metadata.event_id, "a");
    assert_eq!(
        s.read_ground_truth("ep", T0, T0 + 1, 10)
            .unwrap()
            .records
            .len(),
        1
    );
}

#[test]
fn a_file_whose_row_fails_is_removed_and_the_append_fails() {
    let dir = TestDir::new("hook");
    let mut created = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut w = RotatingWriter::new(dir.0.clone(), WriterConfig::default()).on_create(Box::new(
        move |path, hour| {
            tx.send((path.to_path_buf(), hour)).unwrap();
            if hour > T0 {
                return Err(Error::invalid("no row"));
            }
            Ok(())
        },
    ));
    w.append(T0, b"1\n").unwrap();
    w.commit().unwrap();
    created.extend(rx.try_iter());
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1, layout::hour_floor(T0));
    assert!(created[0].0.is_file());
    assert!(w.append(T0 + H, b"2\n").is_err());
    let (failed, _) = rx.try_recv().unwrap();
    assert!(!failed.exists());
    assert_eq!(w.files_created(), 1);
}

#[test]
fn bad_names_never_reach_the_catalog() {
    let dir = TestDir::new("names");
    let s = store(&dir);
    s.append_captures("ep", "v", &line("a", T0, "1")).unwrap();
    for (ep, v) in [
        ("ep'; DROP TABLE files; --", None),
        ("ep", Some("v' OR '1'='1")),
        ("../ep", None),
    ] {
        let e = s.list_captures(ep, v, 0, T0 * 2).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
        let e = s
            .append_captures(ep, v.unwrap_or("v"), &line("b", T0, "1"))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    }
    assert!(s.list_ground_truth("a/b", 0, 1).is_err());
    assert_eq!(s.list_captures("ep", None, 0, T0 * 2).unwrap().len(), 1);
}

#[test]
fn a_deleted_catalog_is_rebuilt_from_the_tree() {
    let dir = TestDir::new("rebuild");
    let root = dir.0.join("captures");
    let s = store(&dir);
    let mut body = line("a", T0, "1");
    body.extend(line("b", T0 + H, "2"));
    s.append_captures("ep", "v", &body).unwrap();
    s.append_ground_truth("ep", GT, T0).unwrap();
    let before = s.list_captures("ep", None, 0, FAR).unwrap();
    s.close().unwrap();
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(root.join(format!("{CATALOG_FILE}{suffix}")));
    }
    let s = store(&dir);
    assert_eq!(
        s.reconciled(),
        Reconciled {
            added: 3,
            removed: 0,
            rebuilt: None,
        }
    );
    assert_eq!(s.list_captures("ep", None, 0, FAR).unwrap(), before);
    assert_eq!(s.list_ground_truth("ep", T0, T0 + 1).unwrap().len(), 1);
}

/// A catalog SQLite cannot read (damaged, or of a newer version) is moved
/// aside and rebuilt from the tree; the store opens and lists everything.
#[test]
fn an_unreadable_catalog_is_set_aside_and_rebuilt() {
    for (name, damage) in [("garbage", 0), ("newer", 1)] {
        let dir = TestDir::new(&format!("unreadable-{name}"));
        let root = dir.0.join("captures");
        let s = store(&dir);
        let mut body = line("a", T0, "1");
        body.extend(line("b", T0 + H, "2"));
        s.append_captures("ep", "v", &body).unwrap();
        let before = s.list_captures("ep", None, 0, FAR).unwrap();
        s.close().unwrap();
        drop(s);
        let db = root.join(CATALOG_FILE);
        if damage == 0 {
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(root.join(format!("{CATALOG_FILE}{suffix}")));
            }
            std::fs::write(&db, vec![0x5A; 8192]).unwrap();
        } else {
            let c = rusqlite::Connection::open(&db).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let s = store(&dir);
        let r = s.reconciled();
        assert_eq!((r.added, r.removed), (2, 0), "{name}");
        let why = r.rebuilt.expect("rebuilt");
        assert!(why.contains(".broken-"), "{name}: {why}");
        if damage == 1 {
            assert!(why.contains("schema version 99"), "{why}");
        }
        assert_eq!(
            s.list_captures("ep", None, 0, FAR).unwrap(),
            before,
            "{name}"
        );
        let aside = std::fs::read_dir(&root)
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name();
                let n = n.to_string_lossy();
                n.starts_with(&format!("{CATALOG_FILE}.broken-"))
                    && !n.ends_with("-wal")
                    && !n.ends_with("-shm")
            })
            .count();
        assert_eq!(aside, 1, "{name}");
    }
}

/// Rows of files deleted while the server runs do not use up a listing's
/// limit: it still holds `limit` files when that many exist.
#[test]
fn deleted_files_do_not_shorten_a_limited_listing() {
    let dir = TestDir::new("limit-deleted");
    let root = dir.0.join("captures");
    let s = store(&dir);
    for k in 0..4 {
        s.append_captures("ep", "v", &line(&format!("r{k}"), T0 + k * H, "1"))
            .unwrap();
    }
    let all = s.list_captures("ep", None, 0, FAR).unwrap();
    assert_eq!(all.len(), 4);
    std::fs::remove_file(root.join(&all[0].path)).unwrap();
    std::fs::remove_file(root.join(&all[1].path)).unwrap();
    let two = s.list_captures_limit("ep", None, 0, FAR, 2).unwrap();
    assert_eq!(two, all[2..].to_vec());
}
