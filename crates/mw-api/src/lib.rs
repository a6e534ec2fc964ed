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

pub mod cloudwatch;
pub mod error;
pub mod fuzzing;
mod http;
pub mod node;
pub mod sigv4;
pub mod wire;

pub use http::router;

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
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            credentials: Credentials::default(),
            max_body_bytes: 1024 * 1024,
            max_decoded_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Shared state of the API handlers.
pub struct Api {
    pub store: Arc<dyn MetricBackend>,
    pub config: ApiConfig,
    requests: AtomicU64,
    boot: u64,
}

impl Api {
    pub fn new(store: Arc<dyn MetricBackend>, config: ApiConfig) -> Api {
        Api {
            store,
            config,
            requests: AtomicU64::new(0),
            boot: mw_model::time::now_ms() as u64,
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
