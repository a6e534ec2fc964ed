use super::*;
use crate::record::{encode_event, ContentTypes, Event, Observed};
use crate::testdir::TestDir;

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
