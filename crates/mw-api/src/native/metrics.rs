//! `POST /api/v1/metrics`: metric data from trusted producers.
//!
//! The body is PutMetricData's JSON shape (`Namespace`, `MetricData` with
//! `MetricName`, `Dimensions`, `Timestamp` in epoch seconds, `Value` /
//! `Values`+`Counts` / `StatisticValues`, `Unit`, `StorageResolution`), and
//! the same rules apply, except that AWS's own namespaces (`AWS/SageMaker`)
//! are allowed: the inference sidecar publishes the endpoint metrics where
//! CloudWatch users look for them.

use super::{blocking, read_body, result, NativeError};
use axum::body::Body;
use axum::extract::State;
use axum::http::Response;
use axum::routing::post;
use axum::Router;
use mw_model::{Datum, DatumValue, Dimension, MetricKey, Unit};
use mw_tsdb::MetricBackend;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Largest body accepted, as PutMetricData.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most datums per request, as PutMetricData.
pub const MAX_DATUMS: usize = 1000;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;
const TWO_HOURS_MS: i64 = 2 * 3_600_000;

/// The metric ingest route, with its state inside.
/// With `alarms`, alarms on metrics whose data lands in a closed period are
/// evaluated at once, as for PutMetricData.
pub fn metrics_router(
    store: Arc<dyn MetricBackend>,
    alarms: Option<Arc<mw_alarms::engine::Engine>>,
) -> Router {
    Router::new()
        .route("/api/v1/metrics", post(put_metrics))
        .with_state(Ingest { store, alarms })
}

#[derive(Clone)]
struct Ingest {
    store: Arc<dyn MetricBackend>,
    alarms: Option<Arc<mw_alarms::engine::Engine>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutIn {
    namespace: String,
    metric_data: Vec<DatumIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DatumIn {
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<DimIn>,
    timestamp: Option<f64>,
    value: Option<f64>,
    values: Option<Vec<f64>>,
    counts: Option<Vec<f64>>,
    statistic_values: Option<StatsIn>,
    unit: Option<String>,
    storage_resolution: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DimIn {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StatsIn {
    sample_count: f64,
    sum: f64,
    minimum: f64,
    maximum: f64,
}

fn invalid(e: mw_model::ModelError) -> NativeError {
    NativeError::invalid(e.to_string())
}

/// Decodes and validates a batch.
pub fn decode(body: &[u8], now_ms: i64) -> Result<Vec<Datum>, NativeError> {
    let input: PutIn = serde_json::from_slice(body)
        .map_err(|e| NativeError::invalid(format!("the body is not a metric batch: {e}")))?;
    let ns = input.namespace.as_str();
    // AWS/ namespaces are allowed here; the rest of the name obeys the usual rule.
    mw_model::validate_namespace(ns.strip_prefix("AWS/").unwrap_or(ns)).map_err(invalid)?;
    if input.metric_data.is_empty() || input.metric_data.len() > MAX_DATUMS {
        return Err(NativeError::invalid(format!(
            "MetricData must hold 1 to {MAX_DATUMS} datums, got {}",
            input.metric_data.len()
        )));
    }
    let mut out = Vec::with_capacity(input.metric_data.len());
    for (i, d) in input.metric_data.into_iter().enumerate() {
        let field = format!("MetricData.member.{}", i + 1);
        let mut view: Vec<(&str, &str)> = d
            .dimensions
            .iter()
            .map(|x| (x.name.as_str(), x.value.as_str()))
            .collect();
        mw_model::check_identity(&d.metric_name, &mut view, &|| field.clone()).map_err(invalid)?;
        let unit = match &d.unit {
            None => Unit::None,
            Some(u) => Unit::parse(u, &format!("{field}.Unit")).map_err(invalid)?,
        };
        let resolution = d.storage_resolution.unwrap_or(60);
        if resolution != 1 && resolution != 60 {
            return Err(NativeError::invalid(format!(
                "{field}.StorageResolution must be 1 or 60, got {resolution}"
            )));
        }
        let ts = match d.timestamp {
            None => now_ms,
            Some(s) if s.is_finite() => (s * 1000.0) as i64,
            Some(_) => {
                return Err(NativeError::invalid(format!(
                    "{field}.Timestamp is not a time"
                )))
            }
        };
        if ts < now_ms - TWO_WEEKS_MS || ts > now_ms + TWO_HOURS_MS {
            return Err(NativeError::invalid(format!(
                "{field}.Timestamp must be within the last two weeks and at most two hours ahead"
            )));
        }
        let value = match (d.value, d.values, d.statistic_values) {
            (Some(v), None, None) => DatumValue::Single(v),
            (None, Some(vs), None) => {
                let counts = d.counts.unwrap_or_else(|| vec![1.0; vs.len()]);
                if counts.len() != vs.len() {
                    return Err(NativeError::invalid(format!(
                        "{field}: Values and Counts must have the same length"
                    )));
                }
                DatumValue::Values(vs.into_iter().zip(counts).collect())
            }
            (None, None, Some(s)) => DatumValue::Stats {
                count: s.sample_count,
                sum: s.sum,
                min: s.minimum,
                max: s.maximum,
            },
            _ => {
                return Err(NativeError::invalid(format!(
                    "{field} must have exactly one of Value, Values or StatisticValues"
                )))
            }
        };
        value.validate(&field).map_err(invalid)?;
        let dims = d
            .dimensions
            .into_iter()
            .map(|x| Dimension {
                name: x.name,
                value: x.value,
            })
            .collect();
        out.push(Datum {
            key: MetricKey::from_parts(input.namespace.clone(), d.metric_name, dims),
            unit,
            timestamp_ms: ts,
            resolution,
            value,
        });
    }
    Ok(out)
}

async fn put_metrics(State(ingest): State<Ingest>, body: Body) -> Response<Body> {
    result(
        async move {
            let body = read_body(body, MAX_BODY_BYTES).await?;
            let data = decode(&body, mw_model::time::now_ms())?;
            let n = data.len();
            blocking(move || {
                ingest.store.put(&data)?;
                if let (Some(alarms), Some(first)) = (&ingest.alarms, data.first()) {
                    alarms.data_arrived(
                        &first.key.namespace,
                        data.iter().map(|d| (d.key.name.as_str(), d.timestamp_ms)),
                        mw_model::time::now_ms(),
                    );
                }
                Ok(())
            })
            .await?;
            Ok(json!({"accepted": n}))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn accepts_aws_namespaces_and_all_value_forms() {
        let body = br#"{"Namespace":"AWS/SageMaker","MetricData":[
            {"MetricName":"Invocations","Dimensions":[{"Name":"VariantName","Value":"v"},{"Name":"EndpointName","Value":"e"}],
             "Timestamp":1700000000,"Value":3,"Unit":"Count"},
            {"MetricName":"ModelLatency","Values":[10,20],"Counts":[2,1],"Unit":"Microseconds","StorageResolution":1},
            {"MetricName":"OverheadLatency","StatisticValues":{"SampleCount":2,"Sum":30,"Minimum":10,"Maximum":20}}]}"#;
        let d = decode(body, NOW).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].key.namespace, "AWS/SageMaker");
        assert_eq!(d[0].key.dimension("EndpointName"), Some("e"));
        assert_eq!(d[0].timestamp_ms, NOW);
        assert_eq!(d[1].resolution, 1);
        assert_eq!(
            d[1].value,
            DatumValue::Values(vec![(10.0, 2.0), (20.0, 1.0)])
        );
        assert_eq!(d[2].unit, Unit::None);
    }

    #[test]
    fn rejects_bad_batches_with_a_reason() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"Namespace":"AWS/","MetricData":[{"MetricName":"a","Value":1}]}"#,
                "Namespace",
            ),
            (r#"{"Namespace":"A","MetricData":[]}"#, "1 to 1000"),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a"}]}"#,
                "exactly one of",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a","Value":1,"StorageResolution":5}]}"#,
                "StorageResolution",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a","Value":1,"Timestamp":1}]}"#,
                "two weeks",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a","Value":1,"Unit":"Parsecs"}]}"#,
                "Unit",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a","Values":[1],"Counts":[1,2]}]}"#,
                "same length",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"a","Value":1,"Extra":1}]}"#,
                "unknown field",
            ),
            (
                r#"{"Namespace":"A","MetricData":[{"MetricName":"","Value":1}]}"#,
                "MetricName",
            ),
        ];
        for (body, want) in cases {
            let e = decode(body.as_bytes(), NOW).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(want), "{body}: {}", e.message);
        }
    }
}
