//! Entry points shared by the fuzz targets (`fuzz/`) and the mutation tests:
//! run every operation (metrics and alarms) on a decoded request against a
//! scratch store and a scratch alarm engine.

use crate::node::Node;
use crate::wire::Payload;
use crate::{cloudwatch, Api, ApiConfig};
use mw_tsdb::{MetricStore, StoreConfig, SyncMode};
use std::sync::{Arc, OnceLock};

static API: OnceLock<Option<Api>> = OnceLock::new();

pub(crate) fn api() -> Option<&'static Api> {
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
        let store: Arc<dyn mw_tsdb::MetricBackend> = Arc::new(store);
        let engine = mw_alarms::engine::Engine::open(
            mw_alarms::engine::EngineOptions {
                dir: dir.join("alarms"),
                max_alarms: 1000,
                ..mw_alarms::engine::EngineOptions::default()
            },
            Arc::new(crate::alarm_wiring::MetricSource {
                store: store.clone(),
            }),
            Arc::new(RefuseActions),
        )
        .ok()?;
        Some(Api::new(store, Arc::new(logs), ApiConfig::default()).with_alarms(engine))
    })
    .as_ref()
}

/// Action targets for fuzzing: `arn:fuzz:*` is accepted (and dropped), any
/// other is refused.
struct RefuseActions;

impl mw_alarms::engine::ActionSink for RefuseActions {
    fn check(&self, arn: &str) -> Result<(), String> {
        if arn.starts_with("arn:fuzz:") {
            Ok(())
        } else {
            Err("unknown target".into())
        }
    }
    fn send(&self, _arn: &str, _notice: &mw_alarms::engine::Notice) -> Result<(), String> {
        Ok(())
    }
}

/// Every operation the fuzzers call: the metric ones and the alarm ones.
const OPERATIONS: [&str; 13] = [
    "PutMetricData",
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
    "PutMetricAlarm",
    "PutCompositeAlarm",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAlarmHistory",
    "SetAlarmState",
    "EnableAlarmActions",
    "DisableAlarmActions",
    "DeleteAlarms",
];

/// Evaluates every alarm now (what the schedule would do next).
fn tick(api: &Api) {
    if let Some(engine) = &api.alarms {
        engine.mark_all_dirty();
        let _ = engine.tick(mw_model::time::now_ms());
    }
}

/// Runs every CloudWatch operation on `input`; results and errors are dropped,
/// only a panic is a failure.
pub fn run_operations(input: &Node) {
    if let Some(api) = api() {
        for op in OPERATIONS {
            let _ = cloudwatch::call(api, op, &Payload::Query(input));
        }
        tick(api);
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
        for op in OPERATIONS {
            let _ = cloudwatch::call(api, op, &payload);
        }
        tick(api);
    }
}
