//! Capture and ground-truth routes.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/v1/captures/{endpoint}/{variant}` | JSONL capture records; all stored or none |
//! | `GET /api/v1/captures?endpoint=&variant=&start=&end=` | files by hour |
//! | `GET /api/v1/captures/records?endpoint=&variant=&start=&end=&limit=` | records by `inferenceTime` |
//! | `POST /api/v1/ground-truth/{endpoint}[?collected=TIME]` | JSONL ground truth, stored in the collection hour |
//! | `GET /api/v1/ground-truth?endpoint=&start=&end=` | files by collection hour |
//! | `GET /api/v1/ground-truth/records?endpoint=&start=&end=&limit=` | records |
//!
//! `start` / `end` are ISO-8601 or epoch seconds; the range is `[start, end)`,
//! by default the last 24 hours. `variant` is optional (all variants).

use super::{blocking, parse_time, query_pairs, read_body, result, NativeError};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Response;
use axum::routing::{get, post};
use axum::Router;
use mw_capture::{CaptureStore, FileInfo};
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest batch body accepted (a record may hold two 6 MB payloads in base64).
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
/// Most files one listing returns.
pub const MAX_LIST_FILES: usize = 10_000;
const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;

/// The capture and ground-truth routes, with their state inside.
pub fn captures_router(store: Arc<CaptureStore>) -> Router {
    Router::new()
        .route("/api/v1/captures", get(list_captures))
        .route("/api/v1/captures/records", get(read_captures))
        .route("/api/v1/captures/{endpoint}/{variant}", post(put_captures))
        .route("/api/v1/ground-truth", get(list_truth))
        .route("/api/v1/ground-truth/records", get(read_truth))
        .route("/api/v1/ground-truth/{endpoint}", post(put_truth))
        .with_state(store)
}

struct Range {
    endpoint: String,
    variant: Option<String>,
    start: i64,
    end: i64,
    limit: usize,
}

fn range(query: Option<&str>) -> Result<Range, NativeError> {
    let q = query_pairs(query);
    let endpoint = q
        .get("endpoint")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| NativeError::invalid("the query parameter endpoint is required"))?
        .clone();
    let end = match q.get("end") {
        Some(v) => parse_time("end", v)?,
        None => mw_model::time::now_ms() + 1000,
    };
    let start = match q.get("start") {
        Some(v) => parse_time("start", v)?,
        None => end - DEFAULT_RANGE_MS,
    };
    let limit = match q.get("limit") {
        None => 1000,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=mw_capture::store::MAX_READ_RECORDS).contains(&n) => n,
            _ => {
                return Err(NativeError::invalid(format!(
                    "limit {v:?} must be a whole number from 1 to {}",
                    mw_capture::store::MAX_READ_RECORDS
                )))
            }
        },
    };
    Ok(Range {
        endpoint,
        variant: q.get("variant").filter(|v| !v.is_empty()).cloned(),
        start,
        end,
        limit,
    })
}

fn files_json(files: Vec<FileInfo>) -> Value {
    let truncated = files.len() > MAX_LIST_FILES;
    let files: Vec<Value> = files
        .into_iter()
        .take(MAX_LIST_FILES)
        .map(|f| {
            let mut v = json!({
                "endpoint": f.endpoint,
                "hour": mw_model::time::format_iso8601(f.hour_ms),
                "path": f.path,
                "bytes": f.bytes,
            });
            if let Some(variant) = f.variant {
                v["variant"] = json!(variant);
            }
            v
        })
        .collect();
    json!({"files": files, "truncated": truncated})
}

async fn put_captures(
    State(store): State<Arc<CaptureStore>>,
    Path((endpoint, variant)): Path<(String, String)>,
    body: Body,
) -> Response<Body> {
    result(
        async move {
            let body = read_body(body, MAX_BATCH_BYTES).await?;
            let n =
                blocking(move || Ok(store.append_captures(&endpoint, &variant, &body)?)).await?;
            Ok(json!({"accepted": n}))
        }
        .await,
    )
}

async fn list_captures(
    State(store): State<Arc<CaptureStore>>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    result(
        async move {
            let r = range(q.as_deref())?;
            let files = blocking(move || {
                Ok(store.list_captures_limit(
                    &r.endpoint,
                    r.variant.as_deref(),
                    r.start,
                    r.end,
                    MAX_LIST_FILES + 1,
                )?)
            })
            .await?;
            Ok(files_json(files))
        }
        .await,
    )
}

async fn read_captures(
    State(store): State<Arc<CaptureStore>>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    result(
        async move {
            let r = range(q.as_deref())?;
            let page = blocking(move || {
                Ok(store.read_captures(
                    &r.endpoint,
                    r.variant.as_deref(),
                    r.start,
                    r.end,
                    r.limit,
                )?)
            })
            .await?;
            let records: Vec<Value> = page
                .records
                .into_iter()
                .map(|c| json!({"variant": c.variant, "record": c.record}))
                .collect();
            Ok(json!({
                "records": records,
                "truncated": page.truncated,
                "skippedLines": page.skipped_lines,
            }))
        }
        .await,
    )
}

async fn put_truth(
    State(store): State<Arc<CaptureStore>>,
    Path(endpoint): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    result(
        async move {
            let collected = match query_pairs(q.as_deref()).get("collected") {
                Some(v) => parse_time("collected", v)?,
                None => mw_model::time::now_ms(),
            };
            let body = read_body(body, MAX_BATCH_BYTES).await?;
            let n = blocking(move || Ok(store.append_ground_truth(&endpoint, &body, collected)?))
                .await?;
            Ok(json!({"accepted": n}))
        }
        .await,
    )
}

async fn list_truth(
    State(store): State<Arc<CaptureStore>>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    result(
        async move {
            let r = range(q.as_deref())?;
            let files = blocking(move || {
                Ok(store.list_ground_truth_limit(
                    &r.endpoint,
                    r.start,
                    r.end,
                    MAX_LIST_FILES + 1,
                )?)
            })
            .await?;
            Ok(files_json(files))
        }
        .await,
    )
}

async fn read_truth(
    State(store): State<Arc<CaptureStore>>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    result(
        async move {
            let r = range(q.as_deref())?;
            let page = blocking(move || {
                Ok(store.read_ground_truth(&r.endpoint, r.start, r.end, r.limit)?)
            })
            .await?;
            Ok(json!({
                "records": page.records,
                "truncated": page.truncated,
                "skippedLines": page.skipped_lines,
            }))
        }
        .await,
    )
}
