//! Model Monitor routes: baselines, monitoring schedules, executions and
//! their reports, over [`mw_monitor::schedule::Scheduler`]; and the two
//! pieces of wiring the scheduler needs from the server: [`CaptureWindow`]
//! (captured records from the capture store) and [`StoreSink`] (execution
//! metrics into the metric store, waking alarms on them).
//!
//! | route | what |
//! |---|---|
//! | `POST /api/v1/baselines/{name}[?format=csv\|jsonl\|parquet\|files&header=true\|false]` | a data set → statistics.json + constraints.json (+ drift baseline); `files`: `{"statistics": ..., "constraints": ..., "drift_baseline": ...}` made elsewhere |
//! | `GET /api/v1/baselines`, `GET /api/v1/baselines/{name}`, `DELETE /api/v1/baselines/{name}` | list, describe, delete (refused while a schedule uses it) |
//! | `GET /api/v1/baselines/{name}/{file}` | statistics.json, constraints.json, drift_baseline.json |
//! | `POST /api/v1/monitoring-schedules` | create `{name, endpoint, baseline, cron, windowStartOffset, windowEndOffset, columns}` |
//! | `GET /api/v1/monitoring-schedules`, `GET /api/v1/monitoring-schedules/{name}` | list; describe with the last execution |
//! | `POST /api/v1/monitoring-schedules/{name}/stop`, `/start`, `DELETE .../{name}` | status changes, delete (with executions and reports) |
//! | `POST /api/v1/monitoring-schedules/{name}/run[?start=&end=]` | one execution now, over the given window (or the schedule's); answers when it has ended |
//! | `GET /api/v1/monitoring-schedules/{name}/executions[?status=&limit=]` | executions, newest first |
//! | `GET .../executions/{id}`, `GET .../executions/{id}/files/{file}` | one execution; statistics.json, constraints.json, constraint_violations.json, drift_report.json |
//!
//! Shapes follow SageMaker's DescribeMonitoringSchedule and
//! ListMonitoringExecutions (`MonitoringScheduleName`,
//! `MonitoringScheduleStatus`, `MonitoringExecutionStatus`, `ScheduledTime`,
//! `FailureReason`, ...); times are ISO-8601 UTC.

use super::{blocking, parse_time, query_pairs, read_body, result, NativeError};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Response};
use axum::routing::{get, post};
use axum::Router;
use mw_capture::CaptureStore;
use mw_model::time::format_iso8601;
use mw_model::{Datum, DatumValue, Dimension, MetricKey, Unit};
use mw_monitor::schedule::{
    BaselineInfo, CaptureSource, Execution, ExecutionStatus, MetricBatch, MetricSink,
    ScheduleConfig, ScheduleStatus, ScheduleView, Scheduler,
};
use mw_monitor::table::{CsvSource, JsonLinesSource};
use mw_monitor::{Baseline, BaselineOptions, MetricValue};
use mw_tsdb::MetricBackend;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest data set accepted for a baseline.
pub const MAX_BASELINE_BYTES: usize = 256 * 1024 * 1024;
/// Largest schedule body.
const MAX_SCHEDULE_BYTES: usize = 1024 * 1024;
/// Most executions one listing returns.
pub const MAX_LIST_EXECUTIONS: usize = 1000;

/// The Model Monitor routes, with the scheduler inside.
pub fn monitoring_router(scheduler: Arc<Scheduler>) -> Router {
    Router::new()
        .route("/api/v1/baselines", get(list_baselines))
        .route(
            "/api/v1/baselines/{name}",
            post(put_baseline).get(get_baseline).delete(delete_baseline),
        )
        .route("/api/v1/baselines/{name}/{file}", get(baseline_file))
        .route(
            "/api/v1/monitoring-schedules",
            get(list_schedules).post(create_schedule),
        )
        .route(
            "/api/v1/monitoring-schedules/{name}",
            get(describe_schedule).delete(delete_schedule),
        )
        .route("/api/v1/monitoring-schedules/{name}/stop", post(stop))
        .route("/api/v1/monitoring-schedules/{name}/start", post(start))
        .route("/api/v1/monitoring-schedules/{name}/run", post(run_now))
        .route(
            "/api/v1/monitoring-schedules/{name}/executions",
            get(list_executions),
        )
        .route(
            "/api/v1/monitoring-schedules/{name}/executions/{id}",
            get(describe_execution),
        )
        .route(
            "/api/v1/monitoring-schedules/{name}/executions/{id}/files/{file}",
            get(report_file),
        )
        .with_state(scheduler)
}

type S = State<Arc<Scheduler>>;

// ---- wiring ---------------------------------------------------------------------------

/// Captured records of a window, read from the capture store's files.
pub struct CaptureWindow {
    pub store: Arc<CaptureStore>,
}

impl CaptureSource for CaptureWindow {
    fn read_window(
        &self,
        endpoint: &str,
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<String, String> {
        let files = self
            .store
            .list_captures(endpoint, None, start_ms, end_ms)
            .map_err(|e| format!("listing the captured records failed: {e}"))?;
        let mut out = String::new();
        for f in files {
            let path = self.store.root().join(&f.path);
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("reading {} failed: {e}", path.display())),
            };
            // A last line without its newline is still being written.
            let complete = match data.iter().rposition(|b| *b == b'\n') {
                Some(i) => &data[..=i],
                None => continue,
            };
            if out.len() + complete.len() > max_bytes {
                return Err(format!(
                    "the captured records of the window hold more than {max_bytes} bytes; use a shorter window"
                ));
            }
            out.push_str(&String::from_utf8_lossy(complete));
        }
        Ok(out)
    }
}

/// Execution metrics into the metric store, with the `Endpoint` and
/// `MonitoringSchedule` dimensions; alarms on them evaluate at once when
/// the data lands in a closed period.
pub struct StoreSink {
    pub store: Arc<dyn MetricBackend>,
    pub alarms: Option<Arc<mw_alarms::engine::Engine>>,
}

impl MetricSink for StoreSink {
    fn emit(&self, b: &MetricBatch<'_>) -> Result<(), String> {
        let dims = vec![
            Dimension {
                name: "Endpoint".into(),
                value: b.endpoint.into(),
            },
            Dimension {
                name: "MonitoringSchedule".into(),
                value: b.schedule.into(),
            },
        ];
        let mut data = Vec::with_capacity(b.metrics.len());
        for m in b.metrics {
            let value = match m.value {
                MetricValue::Value(v) => DatumValue::Single(v),
                MetricValue::StatisticSet {
                    sample_count,
                    sum,
                    minimum,
                    maximum,
                } => DatumValue::Stats {
                    count: sample_count,
                    sum,
                    min: minimum,
                    max: maximum,
                },
            };
            let mut view = [("Endpoint", b.endpoint), ("MonitoringSchedule", b.schedule)];
            let checked = mw_model::check_identity(&m.name, &mut view, &|| m.name.clone())
                .and_then(|()| value.validate(&m.name));
            if let Err(e) = checked {
                // A feature name CloudWatch cannot carry, or a value it cannot hold.
                tracing::debug!(metric = %m.name, error = %e, "monitoring metric skipped");
                continue;
            }
            data.push(Datum {
                key: MetricKey::from_parts(b.namespace.to_string(), m.name.clone(), dims.clone()),
                unit: Unit::None,
                timestamp_ms: b.timestamp_ms,
                resolution: 60,
                value,
            });
        }
        for chunk in data.chunks(1000) {
            self.store.put(chunk).map_err(|e| e.to_string())?;
        }
        if let Some(alarms) = &self.alarms {
            alarms.data_arrived(
                b.namespace,
                data.iter().map(|d| (d.key.name.as_str(), d.timestamp_ms)),
                mw_model::time::now_ms(),
            );
        }
        Ok(())
    }
}

// ---- shapes ---------------------------------------------------------------------------

fn baseline_json(b: &BaselineInfo) -> Value {
    json!({
        "BaselineName": b.name,
        "CreationTime": format_iso8601(b.created_ms),
        "Source": b.source,
        "ItemCount": b.item_count,
        "FeatureCount": b.feature_count,
    })
}

fn execution_json(s: &Scheduler, e: &Execution) -> Value {
    let mut v = json!({
        "MonitoringExecutionId": e.id,
        "MonitoringScheduleName": e.schedule,
        "EndpointName": e.endpoint,
        "MonitoringType": "DataQuality",
        "Trigger": e.trigger.as_str(),
        "ScheduledTime": format_iso8601(e.scheduled_ms),
        "CreationTime": format_iso8601(e.created_ms),
        "LastModifiedTime": format_iso8601(e.ended_ms.or(e.started_ms).unwrap_or(e.created_ms)),
        "DataAnalysisStartTime": format_iso8601(e.window_start_ms),
        "DataAnalysisEndTime": format_iso8601(e.window_end_ms),
        "MonitoringExecutionStatus": e.status.as_str(),
        "ReportFiles": s.report_files(e),
    });
    let o = v.as_object_mut().expect("a JSON object");
    if let Some(r) = &e.failure_reason {
        o.insert("FailureReason".into(), json!(r));
    }
    if let Some(m) = &e.message {
        o.insert("ExitMessage".into(), json!(m));
    }
    if let Some(n) = e.violations {
        o.insert("ViolationCount".into(), json!(n));
    }
    if let Some(t) = e.started_ms {
        o.insert("ProcessingStartTime".into(), json!(format_iso8601(t)));
    }
    if let Some(t) = e.ended_ms {
        o.insert("ProcessingEndTime".into(), json!(format_iso8601(t)));
    }
    if let Some(p) = s.report_path(e) {
        o.insert("ReportPath".into(), json!(p.display().to_string()));
    }
    v
}

fn schedule_json(s: &Scheduler, v: &ScheduleView, summary: bool) -> Value {
    let sc = &v.schedule;
    let mut schedule_config = json!({"ScheduleExpression": sc.expression});
    if let (Some(a), Some(b)) = (&sc.window_start_offset, &sc.window_end_offset) {
        schedule_config["DataAnalysisStartTime"] = json!(a);
        schedule_config["DataAnalysisEndTime"] = json!(b);
    }
    let mut out = json!({
        "MonitoringScheduleName": sc.name,
        "MonitoringScheduleStatus": sc.status.as_str(),
        "MonitoringType": "DataQuality",
        "EndpointName": sc.endpoint,
        "CreationTime": format_iso8601(sc.created_ms),
        "LastModifiedTime": format_iso8601(sc.updated_ms),
    });
    let o = out.as_object_mut().expect("a JSON object");
    if summary {
        o.insert("ScheduleExpression".into(), json!(sc.expression));
        o.insert("BaselineName".into(), json!(sc.baseline));
    } else {
        let mut cfg = json!({"ScheduleConfig": schedule_config, "BaselineName": sc.baseline});
        if let Some(c) = &sc.columns {
            cfg["Columns"] = json!(c);
        }
        o.insert("MonitoringScheduleConfig".into(), cfg);
    }
    if let Some(t) = v.next_run_ms {
        o.insert("NextScheduledTime".into(), json!(format_iso8601(t)));
    }
    if let Some(e) = &v.last_execution {
        o.insert(
            "LastMonitoringExecutionSummary".into(),
            execution_json(s, e),
        );
    }
    out
}

fn json_file(bytes: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn execution_id(id: &str) -> Result<i64, NativeError> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        NativeError::invalid(format!(
            "execution id {id:?} is not a whole number of 1 or more"
        ))
    })
}

fn bool_param(name: &str, v: Option<&String>, default: bool) -> Result<bool, NativeError> {
    match v.map(String::as_str) {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(NativeError::invalid(format!(
            "{name} {other:?} must be true or false"
        ))),
    }
}

// ---- baselines ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFilesIn {
    statistics: Value,
    constraints: Value,
    #[serde(default)]
    drift_baseline: Option<Value>,
}

fn parse_file<T: serde::de::DeserializeOwned>(v: Value, file: &str) -> Result<T, NativeError> {
    serde_json::from_value(v).map_err(|e| NativeError::invalid(format!("{file}: {e}")))
}

async fn put_baseline(
    State(s): S,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    result(
        async move {
            mw_monitor::schedule::validate_name("baseline name", &name)?;
            let q = query_pairs(q.as_deref());
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(mw_capture::record::media_type)
                .unwrap_or_default();
            let format = match q.get("format").map(String::as_str) {
                Some(f @ ("csv" | "jsonl" | "parquet" | "files")) => f.to_string(),
                Some(other) => {
                    return Err(NativeError::invalid(format!(
                        "format {other:?} must be csv, jsonl, parquet or files"
                    )))
                }
                None => match content_type.as_str() {
                    "application/json" => "files",
                    "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
                        "jsonl"
                    }
                    "application/vnd.apache.parquet" | "application/x-parquet" => "parquet",
                    _ => "csv",
                }
                .to_string(),
            };
            let header_row = bool_param("header", q.get("header"), true)?;
            let body = read_body(body, MAX_BASELINE_BYTES).await?;
            let info = blocking(move || {
                let label = format!("baseline {name}");
                let baseline = match format.as_str() {
                    "files" => {
                        let input: BaselineFilesIn = serde_json::from_slice(&body).map_err(|e| {
                            NativeError::invalid(format!(
                                "the body is not a baseline ({{\"statistics\": ..., \"constraints\": ..., \"drift_baseline\": ...}}): {e}"
                            ))
                        })?;
                        Baseline {
                            statistics: parse_file(input.statistics, "statistics.json")?,
                            constraints: parse_file(input.constraints, "constraints.json")?,
                            drift: input
                                .drift_baseline
                                .map(|d| parse_file(d, "drift_baseline.json"))
                                .transpose()?,
                        }
                    }
                    "jsonl" => Baseline::compute(
                        &mut JsonLinesSource::new(&body[..], label),
                        BaselineOptions::default(),
                    )?,
                    "parquet" => Baseline::compute(
                        &mut mw_monitor::parquet::ParquetSource::new(body, label),
                        BaselineOptions::default(),
                    )?,
                    _ => Baseline::compute(
                        &mut CsvSource::new(&body[..], label, header_row),
                        BaselineOptions::default(),
                    )?,
                };
                Ok(s.put_baseline(&name, &baseline, &format)?)
            })
            .await?;
            Ok(baseline_json(&info))
        }
        .await,
    )
}

async fn list_baselines(State(s): S) -> Response<Body> {
    result(
        blocking(move || {
            let all = s.baselines()?;
            Ok(json!({"Baselines": all.iter().map(baseline_json).collect::<Vec<_>>()}))
        })
        .await,
    )
}

async fn get_baseline(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(blocking(move || Ok(baseline_json(&s.baseline(&name)?))).await)
}

async fn delete_baseline(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            s.delete_baseline(&name)?;
            Ok(json!({}))
        })
        .await,
    )
}

async fn baseline_file(State(s): S, Path((name, file)): Path<(String, String)>) -> Response<Body> {
    match blocking(move || Ok(s.baseline_file(&name, &file)?)).await {
        Ok(bytes) => json_file(bytes),
        Err(e) => e.into_response(),
    }
}

// ---- schedules ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIn {
    #[serde(alias = "MonitoringScheduleName")]
    name: String,
    #[serde(alias = "EndpointName")]
    endpoint: String,
    #[serde(alias = "BaselineName")]
    baseline: String,
    #[serde(alias = "ScheduleExpression")]
    cron: String,
    #[serde(default, rename = "windowStartOffset", alias = "DataAnalysisStartTime")]
    window_start_offset: Option<String>,
    #[serde(default, rename = "windowEndOffset", alias = "DataAnalysisEndTime")]
    window_end_offset: Option<String>,
    #[serde(default, alias = "Columns")]
    columns: Option<Vec<String>>,
}

async fn create_schedule(State(s): S, body: Body) -> Response<Body> {
    result(
        async move {
            let body = read_body(body, MAX_SCHEDULE_BYTES).await?;
            let input: CreateIn = serde_json::from_slice(&body).map_err(|e| {
                NativeError::invalid(format!(
                    "the body is not a monitoring schedule ({{\"name\", \"endpoint\", \"baseline\", \"cron\", \"windowStartOffset\", \"windowEndOffset\", \"columns\"}}): {e}"
                ))
            })?;
            blocking(move || {
                let created = s.create_schedule(ScheduleConfig {
                    name: input.name,
                    endpoint: input.endpoint,
                    baseline: input.baseline,
                    expression: input.cron,
                    window_start_offset: input.window_start_offset,
                    window_end_offset: input.window_end_offset,
                    columns: input.columns,
                })?;
                let v = s.describe(&created.name)?;
                Ok(schedule_json(&s, &v, false))
            })
            .await
        }
        .await,
    )
}

async fn list_schedules(State(s): S) -> Response<Body> {
    result(
        blocking(move || {
            let all = s.schedules()?;
            let items: Vec<Value> = all.iter().map(|v| schedule_json(&s, v, true)).collect();
            Ok(json!({"MonitoringScheduleSummaries": items}))
        })
        .await,
    )
}

async fn describe_schedule(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(blocking(move || Ok(schedule_json(&s, &s.describe(&name)?, false))).await)
}

async fn delete_schedule(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            s.delete_schedule(&name)?;
            Ok(json!({}))
        })
        .await,
    )
}

async fn stop(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            let v = s.set_status(&name, ScheduleStatus::Stopped)?;
            Ok(schedule_json(&s, &v, false))
        })
        .await,
    )
}

async fn start(State(s): S, Path(name): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            let v = s.set_status(&name, ScheduleStatus::Scheduled)?;
            Ok(schedule_json(&s, &v, false))
        })
        .await,
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RunIn {
    #[serde(default, alias = "DataAnalysisStartTime")]
    start: Option<Value>,
    #[serde(default, alias = "DataAnalysisEndTime")]
    end: Option<Value>,
}

fn time_value(name: &str, v: &Value) -> Result<i64, NativeError> {
    match v {
        Value::String(s) => parse_time(name, s),
        Value::Number(n) => parse_time(name, &n.to_string()),
        other => Err(NativeError::invalid(format!(
            "{name} {other} is not a time: use ISO-8601 (2024-05-01T10:00:00Z) or epoch seconds"
        ))),
    }
}

async fn run_now(
    State(s): S,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    result(
        async move {
            let body = read_body(body, MAX_SCHEDULE_BYTES).await?;
            let mut input = if body.iter().all(u8::is_ascii_whitespace) {
                RunIn::default()
            } else {
                serde_json::from_slice::<RunIn>(&body).map_err(|e| {
                    NativeError::invalid(format!(
                        "the body is not a run request ({{\"start\": TIME, \"end\": TIME}}): {e}"
                    ))
                })?
            };
            let q = query_pairs(q.as_deref());
            for (key, slot) in [("start", &mut input.start), ("end", &mut input.end)] {
                if let Some(v) = q.get(key) {
                    *slot = Some(Value::String(v.clone()));
                }
            }
            let window = match (&input.start, &input.end) {
                (None, None) => None,
                (Some(a), Some(b)) => Some((time_value("start", a)?, time_value("end", b)?)),
                _ => {
                    return Err(NativeError::invalid(
                        "give both start and end of the window, or neither (the schedule's window for now)",
                    ))
                }
            };
            blocking(move || {
                let e = s.run_now(&name, window)?;
                Ok(execution_json(&s, &e))
            })
            .await
        }
        .await,
    )
}

// ---- executions -----------------------------------------------------------------------

async fn list_executions(
    State(s): S,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    result(
        async move {
            let q = query_pairs(q.as_deref());
            let status = match q.get("status") {
                None => None,
                Some(v) => Some(ExecutionStatus::parse(v).ok_or_else(|| {
                    NativeError::invalid(format!(
                        "status {v:?} must be one of {}",
                        ExecutionStatus::ALL.map(ExecutionStatus::as_str).join(", ")
                    ))
                })?),
            };
            let limit = match q.get("limit") {
                None => 100,
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIST_EXECUTIONS).contains(n))
                    .ok_or_else(|| {
                        NativeError::invalid(format!(
                            "limit {v:?} must be a whole number from 1 to {MAX_LIST_EXECUTIONS}"
                        ))
                    })?,
            };
            blocking(move || {
                let all = s.executions(&name, status, limit)?;
                let items: Vec<Value> = all.iter().map(|e| execution_json(&s, e)).collect();
                Ok(json!({"MonitoringExecutionSummaries": items}))
            })
            .await
        }
        .await,
    )
}

async fn describe_execution(
    State(s): S,
    Path((name, id)): Path<(String, String)>,
) -> Response<Body> {
    result(
        async move {
            let id = execution_id(&id)?;
            blocking(move || Ok(execution_json(&s, &s.execution(&name, id)?))).await
        }
        .await,
    )
}

async fn report_file(
    State(s): S,
    Path((name, id, file)): Path<(String, String, String)>,
) -> Response<Body> {
    let r = async move {
        let id = execution_id(&id)?;
        blocking(move || Ok(s.report_file(&name, id, &file)?)).await
    }
    .await;
    match r {
        Ok(bytes) => json_file(bytes),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn monitor_errors_map_to_statuses() {
        use mw_monitor::Error as E;
        let cases = [
            (
                E::InvalidOption("x".into()),
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
            ),
            (E::Missing("x".into()), StatusCode::NOT_FOUND, "NotFound"),
            (E::Conflict("x".into()), StatusCode::CONFLICT, "Conflict"),
            (
                E::LimitExceeded("x".into()),
                StatusCode::BAD_REQUEST,
                "LimitExceeded",
            ),
            (
                E::Throttled("x".into()),
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
            ),
            (
                E::Catalog("x".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
            ),
        ];
        for (e, status, code) in cases {
            let n = NativeError::from(e);
            assert_eq!((n.status, n.code), (status, code));
        }
    }

    #[test]
    fn execution_ids_are_positive_numbers() {
        assert_eq!(execution_id("12").unwrap(), 12);
        for bad in ["0", "-1", "x", "", "1.5"] {
            assert_eq!(
                execution_id(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
    }
}
