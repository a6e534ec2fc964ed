//! The protocol boundary: CloudWatch's three wire protocols over HTTP.
//!
//! [`router`] answers every CloudWatch request on one port. A request is
//! recognised by its shape (section 1.7 of the reference): a
//! `/service/<svc>/operation/<Op>` path is Smithy RPC v2 CBOR, an `X-Amz-Target`
//! header is AWS JSON 1.0, a form body (or `GET ?Action=`) is AWS Query. The body
//! is size-checked, SigV4-verified when credentials are configured, gunzipped,
//! decoded into a protocol-neutral [`node::Node`], handed to the operation in
//! [`cloudwatch`], and the result (or error) is encoded in the same protocol.
//!
//! Architecture invariant: this is the only crate that knows wire formats; the
//! stores below it see only `mw_model` types. Error codes and statuses are mapped
//! in one place, [`error::Code`].

pub mod alarm_wiring;
pub mod cloudwatch;
pub mod error;
pub mod fuzzing;
mod http;
pub mod logs;
pub mod native;
pub mod node;
pub mod sigv4;
pub mod wire;

pub use http::router;

use mw_logstore::LogStore;
use mw_tsdb::MetricBackend;
use sigv4::Credentials;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Limits and auth of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub credentials: Credentials,
    /// Largest request body as sent (AWS: 1 MB per PutMetricData).
    pub max_body_bytes: usize,
    /// Largest body after gzip decoding.
    pub max_decoded_bytes: usize,
    /// Largest CloudWatch Logs request body (the 1 MiB batch limit counts
    /// message bytes, not JSON text; the log store enforces it).
    pub max_logs_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            credentials: Credentials::default(),
            max_body_bytes: 1024 * 1024,
            max_decoded_bytes: 10 * 1024 * 1024,
            max_logs_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Shared state of the API handlers.
pub struct Api {
    pub store: Arc<dyn MetricBackend>,
    pub logs: Arc<LogStore>,
    /// The alarm engine; without it the alarm operations answer an error.
    pub alarms: Option<Arc<mw_alarms::engine::Engine>>,
    pub queries: logs::Queries,
    pub config: ApiConfig,
    requests: AtomicU64,
    boot: u64,
}

impl Api {
    pub fn new(store: Arc<dyn MetricBackend>, logs: Arc<LogStore>, config: ApiConfig) -> Api {
        Api {
            store,
            logs,
            alarms: None,
            queries: logs::Queries::default(),
            config,
            requests: AtomicU64::new(0),
            boot: mw_model::time::now_ms() as u64,
        }
    }

    /// Adds the alarm engine (see [`alarm_wiring`] for its data source and
    /// action sink).
    pub fn with_alarms(mut self, engine: Arc<mw_alarms::engine::Engine>) -> Api {
        self.alarms = Some(engine);
        self
    }

    /// Stores what a PutLogEvents produced for the metric store: metric-filter
    /// and EMF datums, and a count of invalid EMF documents as
    /// `ModelWatch/Logs EMFValidationErrors{LogGroup}`. Failures are logged, not
    /// returned: the log events themselves are already stored.
    pub fn publish_log_metrics(
        &self,
        group: &str,
        datums: &[mw_model::Datum],
        emf_invalid: usize,
        now: i64,
    ) {
        if !datums.is_empty() {
            for chunk in datums.chunks(1000) {
                if let Err(e) = self.store.put(chunk) {
                    tracing::warn!(group, error = %e, "metrics from log events were not stored");
                }
            }
        }
        if emf_invalid > 0 {
            let key = mw_model::MetricKey::from_parts(
                "ModelWatch/Logs".into(),
                "EMFValidationErrors".into(),
                vec![mw_model::Dimension {
                    name: "LogGroup".into(),
                    value: group.into(),
                }],
            );
            let d = mw_model::Datum {
                key,
                unit: mw_model::Unit::Count,
                timestamp_ms: now,
                resolution: 60,
                value: mw_model::DatumValue::Single(emf_invalid as f64),
            };
            if let Err(e) = self.store.put(&[d]) {
                tracing::warn!(group, error = %e, "EMF error count was not stored");
            }
        }
    }

    /// A request id unique to this process, shaped like AWS's.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let b = self.boot;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (b >> 16) as u32,
            (b & 0xffff) as u16,
            (n >> 48) as u16,
            ((n >> 32) & 0xffff) as u16,
            n & 0xffff_ffff_ffff
        )
    }
}
