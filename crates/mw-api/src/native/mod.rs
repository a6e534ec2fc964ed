//! The native JSON API under `/api/v1/`: what AWS has no API for here.
//!
//! - [`actions`]: alarm action targets (notification topics and their
//!   subscriptions, the config file's hooks) and their deliveries.
//! - [`captures`]: capture batches in (`POST /api/v1/captures/{endpoint}/{variant}`,
//!   JSONL of SageMaker capture records), files and records out by endpoint
//!   and time range; ground truth in and out the same way.
//! - [`monitoring`]: Model Monitor: baselines, monitoring schedules, their
//!   executions and report files, and the scheduler's wiring to the capture
//!   and metric stores.
//! - [`metrics`]: `POST /api/v1/metrics`, PutMetricData's JSON shape for
//!   trusted producers (the inference sidecar, the agent) that publish in
//!   AWS's own namespaces such as `AWS/SageMaker`, which PutMetricData
//!   reserves.
//!
//! Errors are `{"error": {"code": "...", "message": "..."}}` with a 4XX
//! status for bad input and 5XX for failures of the server; [`NativeError`]
//! is the one place that maps library error kinds to codes and statuses.

pub mod actions;
pub mod auth;
pub mod captures;
pub mod metrics;
pub mod monitoring;

pub use actions::actions_router;
pub use auth::require_signature;
pub use captures::captures_router;
pub use metrics::metrics_router;
pub use monitoring::monitoring_router;

use axum::body::Body;
use axum::http::{header, Response, StatusCode};

/// An error of the native API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl NativeError {
    pub fn invalid(message: impl Into<String>) -> NativeError {
        NativeError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameter",
            message: message.into(),
        }
    }

    pub fn too_large(message: impl Into<String>) -> NativeError {
        NativeError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "PayloadTooLarge",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> NativeError {
        NativeError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "Internal",
            message: message.into(),
        }
    }

    /// The error of a library failure mapped to `status` and `code`; server
    /// faults are logged here, once for every kind of library error.
    pub fn mapped(
        status: StatusCode,
        code: &'static str,
        e: &dyn std::fmt::Display,
    ) -> NativeError {
        if status.is_server_error() {
            tracing::error!(error = %e, "native API request failed");
        }
        NativeError {
            status,
            code,
            message: e.to_string(),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        json_response(self.status, &body)
    }
}

impl From<mw_capture::Error> for NativeError {
    fn from(e: mw_capture::Error) -> NativeError {
        use mw_capture::ErrorKind as K;
        let (status, code) = match e.kind() {
            K::InvalidParameter => (StatusCode::BAD_REQUEST, "InvalidParameter"),
            K::LimitExceeded => (StatusCode::BAD_REQUEST, "LimitExceeded"),
            K::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            K::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
        };
        NativeError::mapped(status, code, &e)
    }
}

impl From<mw_monitor::Error> for NativeError {
    fn from(e: mw_monitor::Error) -> NativeError {
        use mw_monitor::ErrorKind as K;
        let (status, code) = match e.kind() {
            K::InvalidParameter => (StatusCode::BAD_REQUEST, "InvalidParameter"),
            K::LimitExceeded => (StatusCode::BAD_REQUEST, "LimitExceeded"),
            K::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            K::Conflict => (StatusCode::CONFLICT, "Conflict"),
            K::Throttled => (StatusCode::TOO_MANY_REQUESTS, "Throttled"),
            K::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
        };
        NativeError::mapped(status, code, &e)
    }
}

impl From<mw_tsdb::Error> for NativeError {
    fn from(e: mw_tsdb::Error) -> NativeError {
        use mw_tsdb::ErrorKind as K;
        let (status, code) = match e.kind() {
            K::InvalidParameter => (StatusCode::BAD_REQUEST, "InvalidParameter"),
            K::LimitExceeded => (StatusCode::BAD_REQUEST, "LimitExceeded"),
            K::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
        };
        NativeError::mapped(status, code, &e)
    }
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn result(r: Result<serde_json::Value, NativeError>) -> Response<Body> {
    match r {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

/// Runs blocking store work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NativeError> + Send + 'static,
) -> Result<T, NativeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NativeError::internal(format!("request task failed: {e}")))?
}

/// Reads a body up to `limit` bytes; a larger one is a 413 that names the limit.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, NativeError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            NativeError::too_large(format!("the request body is larger than {limit} bytes"))
        } else {
            NativeError::invalid(format!("reading the request body failed: {e}"))
        }
    })
}

/// The query string's pairs; repeated names keep the last value.
pub(crate) fn query_pairs(query: Option<&str>) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A time parameter: ISO-8601 (`2024-05-01T10:00:00Z`) or epoch seconds.
pub(crate) fn parse_time(name: &str, v: &str) -> Result<i64, NativeError> {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs < 1.0e11 {
                return Ok((secs * 1000.0) as i64);
            }
        }
    }
    mw_model::time::parse_iso8601(v).ok_or_else(|| {
        NativeError::invalid(format!(
            "{name} {v:?} is not a time: use ISO-8601 (2024-05-01T10:00:00Z) or epoch seconds"
        ))
    })
}
