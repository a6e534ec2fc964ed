//! `cargo bench -p mw-api`: where one PutMetricData batch of 1,000 datums spends
//! its time, without HTTP: decoding + validation (JSON and CBOR), then the store
//! (write-ahead log without fsync, head update). Prints ns per datum for each.

use mw_api::cloudwatch::put_metric_data;
use mw_api::node::Node;
use mw_api::wire::{cbor, json, Payload};
use mw_tsdb::{MetricBackend, MetricStore, StoreConfig, SyncMode};
use std::time::Instant;

const DATUMS: usize = 1000;
const SERIES: usize = 1000;
fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300)
}

fn body(round: usize, now_s: i64) -> Node {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ round as u64;
    let data = (0..DATUMS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = (round * DATUMS + i) % SERIES;
            Node::object()
                .with("MetricName", Node::str("Latency"))
                .with(
                    "Dimensions",
                    Node::List(vec![
                        Node::object()
                            .with("Name", Node::str("Service"))
                            .with("Value", Node::str(format!("svc-{}", s % 50))),
                        Node::object()
                            .with("Name", Node::str("Host"))
                            .with("Value", Node::str(format!("host-{}", s / 50))),
                    ]),
                )
                .with("Timestamp", Node::Int(now_s - 3600 + (x % 3600) as i64))
                .with("Value", Node::Float((x % 100_000) as f64 / 100.0))
                .with("Unit", Node::str("Milliseconds"))
        })
        .collect();
    Node::object()
        .with("Namespace", Node::str("Bench"))
        .with("MetricData", Node::List(data))
}

fn main() {
    let now_s = mw_model::time::now_ms() / 1000;
    let nodes: Vec<Node> = (0..rounds()).map(|r| body(r, now_s)).collect();
    let jsons: Vec<Vec<u8>> = nodes.iter().map(json::encode).collect();
    let cbors: Vec<Vec<u8>> = nodes.iter().map(cbor::encode).collect();
    let per = |t: Instant| t.elapsed().as_nanos() as f64 / (rounds() * DATUMS) as f64;

    let t = Instant::now();
    for b in &jsons {
        let _: serde::de::IgnoredAny = Payload::Json(b).typed().expect("valid body");
    }
    println!("scan JSON only       : {:7.1} ns/datum", per(t));
    let t = Instant::now();
    for b in &cbors {
        let _: serde::de::IgnoredAny = Payload::Cbor(b).typed().expect("valid body");
    }
    println!("scan CBOR only       : {:7.1} ns/datum", per(t));

    let t = Instant::now();
    for b in &jsons {
        put_metric_data::decode_only(&Payload::Json(b)).expect("valid body");
    }
    println!("typed decode JSON    : {:7.1} ns/datum", per(t));
    let t = Instant::now();
    for b in &cbors {
        put_metric_data::decode_only(&Payload::Cbor(b)).expect("valid body");
    }
    println!("typed decode CBOR    : {:7.1} ns/datum", per(t));

    let t = Instant::now();
    for b in &jsons {
        put_metric_data::with_batch(&Payload::Json(b), |d| Ok(d.len())).expect("valid body");
    }
    let json_validate = per(t);
    println!("decode+validate JSON : {json_validate:7.1} ns/datum");
    let t = Instant::now();
    for b in &cbors {
        put_metric_data::with_batch(&Payload::Cbor(b), |d| Ok(d.len())).expect("valid body");
    }
    println!("decode+validate CBOR : {:7.1} ns/datum", per(t));

    let dir = std::env::temp_dir().join(format!("mw-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = StoreConfig::new(&dir);
    cfg.sync = SyncMode::None;
    let store = MetricStore::open(cfg).expect("store opens");
    let t = Instant::now();
    for b in &jsons {
        put_metric_data::with_batch(&Payload::Json(b), |d| Ok(store.put_batch(d)?)).expect("put");
    }
    let total = per(t);
    println!(
        "JSON end to end      : {total:7.1} ns/datum (store put {:.1})",
        total - json_validate
    );
    let t = Instant::now();
    store.checkpoint().expect("checkpoint");
    println!(
        "checkpoint           : {:7.1} ns/datum ({} ms)",
        per(t),
        t.elapsed().as_millis()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
