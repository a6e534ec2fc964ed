//! Entry points shared by the fuzz targets (`fuzz/`) and the mutation tests:
//! run every operation on a decoded request against a scratch store.

use crate::node::Node;
use crate::wire::Payload;
use crate::{cloudwatch, Api, ApiConfig};
use mw_tsdb::{MetricStore, StoreConfig, SyncMode};
use std::sync::{Arc, OnceLock};

static API: OnceLock<Option<Api>> = OnceLock::new();

fn api() -> Option<&'static Api> {
    API.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mw-fuzz-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = StoreConfig::new(dir.join("metrics"));
        cfg.sync = SyncMode::None;
        cfg.max_series = 10_000;
        let store = MetricStore::open(cfg).ok()?;
        let mut lcfg = mw_logstore::LogStoreConfig::new(dir.join("logs"));
        lcfg.sync = SyncMode::None;
        lcfg.max_groups = 1000;
        let logs = mw_logstore::LogStore::open(lcfg).ok()?;
        Some(Api::new(
            Arc::new(store),
            Arc::new(logs),
            ApiConfig::default(),
        ))
    })
    .as_ref()
}

/// Runs every CloudWatch operation on `input`; results and errors are dropped,
/// only a panic is a failure.
pub fn run_operations(input: &Node) {
    if let Some(api) = api() {
        for op in [
            "PutMetricData",
            "GetMetricStatistics",
            "GetMetricData",
            "ListMetrics",
        ] {
            let _ = cloudwatch::call(api, op, &Payload::Query(input));
        }
    }
}

/// Runs every CloudWatch operation on a raw JSON or CBOR body, the way the HTTP
/// layer hands it over.
pub fn run_operations_on_bytes(body: &[u8], cbor: bool) {
    if let Some(api) = api() {
        let payload = if cbor {
            Payload::Cbor(body)
        } else {
            Payload::Json(body)
        };
        for op in [
            "PutMetricData",
            "GetMetricStatistics",
            "GetMetricData",
            "ListMetrics",
        ] {
            let _ = cloudwatch::call(api, op, &payload);
        }
    }
}
