//! What the alarm engine needs from the rest of the server: per-period
//! values from the metric store ([`MetricSource`], metric math through
//! GetMetricData's own evaluator) and delivery of actions through the
//! notifier ([`NotifySink`]).

use crate::cloudwatch::alarms::json_node;
use crate::node::Node;
use mw_alarms::config::MetricAlarmConfig;
use mw_alarms::engine::{ActionSink, DataSource, Fetch, Notice};
use mw_alarms::{AlarmDef, Datapoint, EvaluationRange, PeriodValue};
use mw_model::{Dimension, MetricKey, Statistic, Unit};
use mw_notify::{AlarmMessage, Notifier};
use mw_tsdb::{query, MetricBackend};
use std::collections::HashMap;
use std::sync::Arc;

/// Reads alarm values from the metric store.
pub struct MetricSource {
    pub store: Arc<dyn MetricBackend>,
}

/// What identifies one store read: the series, unit, period and range.
type ReadKey = (MetricKey, Option<Unit>, i64, i64, i64);
type Buckets = std::collections::BTreeMap<i64, mw_tsdb::Aggregate>;
/// A read's series and query plan; `None` when there is nothing to read.
type Planned = Result<Option<(Vec<u32>, query::Plan)>, String>;

impl MetricSource {
    fn read_key(alarm: &MetricAlarmConfig, range: &EvaluationRange) -> Result<ReadKey, String> {
        let Some(metric) = &alarm.metric else {
            return Err("the alarm names no metric".into());
        };
        let key = MetricKey::from_parts(
            metric.namespace.clone(),
            metric.name.clone(),
            metric
                .dimensions
                .iter()
                .map(|(n, v)| Dimension {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
        );
        let unit = match &alarm.unit {
            Some(u) => Some(Unit::from_name(u).ok_or_else(|| format!("unknown unit {u}"))?),
            None => None,
        };
        Ok((key, unit, range.period, range.start, range.end))
    }

    /// The per-period aggregates of one read.
    fn buckets(&self, k: &ReadKey) -> Result<Buckets, String> {
        let (key, unit, period, start, end) = k;
        let ids: Vec<u32> = self.store.find(key, *unit).iter().map(|s| s.id).collect();
        if ids.is_empty() {
            return Ok(Buckets::new());
        }
        let now = mw_model::time::now_ms();
        let Some(plan) =
            query::plan(start * 1000, end * 1000, *period, now).map_err(|e| e.to_string())?
        else {
            return Ok(Buckets::new());
        };
        query::fetch(self.store.as_ref(), &ids, &plan).map_err(|e| e.to_string())
    }

    fn points(def: &AlarmDef, per: &Buckets) -> Result<Vec<Datapoint>, String> {
        let Some(stat) = &def.statistic else {
            return Err("the alarm has no statistic".into());
        };
        Ok(per
            .iter()
            .filter_map(|(ts, agg)| {
                let v = agg.statistic(&stat.statistic)?;
                let samples = agg.statistic(&Statistic::SampleCount).unwrap_or(0.0);
                Some((*ts, Some(PeriodValue::new(v, samples))))
            })
            .collect())
    }

    fn single(
        &self,
        alarm: &MetricAlarmConfig,
        def: &AlarmDef,
        range: &EvaluationRange,
    ) -> Result<Vec<Datapoint>, String> {
        let k = Self::read_key(alarm, range)?;
        Self::points(def, &self.buckets(&k)?)
    }

    fn math(
        &self,
        alarm: &MetricAlarmConfig,
        range: &EvaluationRange,
    ) -> Result<Vec<Datapoint>, String> {
        let Some(math) = &alarm.metrics else {
            return Err("the alarm has no metric math".into());
        };
        let queries: serde_json::Value =
            serde_json::from_str(&math.queries).map_err(|e| format!("stored Metrics: {e}"))?;
        let request = Node::object()
            .with("MetricDataQueries", json_node(&queries))
            .with("StartTime", Node::Time(range.start * 1000))
            .with("EndTime", Node::Time(range.end * 1000))
            .with("ScanBy", Node::str("TimestampAscending"));
        let out = crate::cloudwatch::get_metric_data::run(self.store.as_ref(), &request)
            .map_err(|e| e.message)?;
        let Some(Node::List(results)) = out.get("MetricDataResults") else {
            return Ok(Vec::new());
        };
        if results.len() > 1 {
            return Err(format!(
                "the metric math of the alarm returned {} time series; an alarm needs exactly one",
                results.len()
            ));
        }
        let Some(result) = results.first() else {
            return Ok(Vec::new());
        };
        let (Some(Node::List(ts)), Some(Node::List(values))) =
            (result.get("Timestamps"), result.get("Values"))
        else {
            return Ok(Vec::new());
        };
        Ok(ts
            .iter()
            .zip(values)
            .filter_map(|(t, v)| match (t, v) {
                (Node::Time(ms), Node::Float(f)) => {
                    Some((ms.div_euclid(1000), Some(PeriodValue::new(*f, 1.0))))
                }
                _ => None,
            })
            .collect())
    }
}

impl DataSource for MetricSource {
    fn datapoints(
        &self,
        alarm: &MetricAlarmConfig,
        def: &AlarmDef,
        range: &EvaluationRange,
    ) -> Result<Vec<Datapoint>, String> {
        if alarm.metrics.is_some() {
            self.math(alarm, range)
        } else {
            self.single(alarm, def, range)
        }
    }

    /// Alarms on the same metric, unit, period and range (a warning and a
    /// critical threshold, several statistics) share one store read, and all
    /// reads of a tick go to the store in one pass.
    fn datapoints_many(&self, jobs: &[Fetch<'_>]) -> Vec<Result<Vec<Datapoint>, String>> {
        // Distinct reads, in first-use order.
        let mut index: HashMap<ReadKey, usize> = HashMap::new();
        let mut keys: Vec<Result<usize, String>> = Vec::with_capacity(jobs.len());
        let mut reads: Vec<ReadKey> = Vec::new();
        for j in jobs {
            if j.alarm.metrics.is_some() {
                keys.push(Err(String::new()));
                continue;
            }
            keys.push(Self::read_key(j.alarm, &j.range).map(|k| {
                let next = reads.len();
                *index.entry(k.clone()).or_insert_with(|| {
                    reads.push(k);
                    next
                })
            }));
        }
        let now = mw_model::time::now_ms();
        let mut planned: Vec<Planned> = reads
            .iter()
            .map(|(key, unit, period, start, end)| {
                let ids: Vec<u32> = self.store.find(key, *unit).iter().map(|s| s.id).collect();
                if ids.is_empty() {
                    return Ok(None);
                }
                let plan = query::plan(start * 1000, end * 1000, *period, now)
                    .map_err(|e| e.to_string())?;
                Ok(plan.map(|p| (ids, p)))
            })
            .collect();
        let batch: Vec<(&[u32], query::Plan)> = planned
            .iter()
            .filter_map(|p| match p {
                Ok(Some((ids, plan))) => Some((ids.as_slice(), *plan)),
                _ => None,
            })
            .collect();
        let fetched = query::fetch_many(self.store.as_ref(), &batch).map_err(|e| e.to_string());
        let mut buckets: Vec<Result<Buckets, String>> = Vec::with_capacity(reads.len());
        match fetched {
            Ok(maps) => {
                let mut maps = maps.into_iter();
                for p in planned.drain(..) {
                    buckets.push(match p {
                        Ok(Some(_)) => Ok(maps.next().unwrap_or_default()),
                        Ok(None) => Ok(Buckets::new()),
                        Err(e) => Err(e),
                    });
                }
            }
            Err(e) => buckets.extend(reads.iter().map(|_| Err(e.clone()))),
        }
        jobs.iter()
            .zip(keys)
            .map(|(j, k)| {
                if j.alarm.metrics.is_some() {
                    return self.math(j.alarm, &j.range);
                }
                match buckets.get(k?) {
                    Some(Ok(per)) => Self::points(j.def, per),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("internal: missing read".to_owned()),
                }
            })
            .collect()
    }
}

/// Hands alarm actions to the notifier's durable queue.
pub struct NotifySink {
    pub notifier: Arc<Notifier>,
}

impl ActionSink for NotifySink {
    fn check(&self, arn: &str) -> Result<(), String> {
        self.notifier.check_target(arn).map_err(|e| e.to_string())
    }

    fn send(&self, arn: &str, n: &Notice) -> Result<(), String> {
        let msg = AlarmMessage {
            alarm_name: n.alarm_name.clone(),
            alarm_description: n.description.clone(),
            alarm_arn: n.alarm_arn.clone(),
            new_state: n.new_state.as_str().to_owned(),
            old_state: n.old_state.as_str().to_owned(),
            new_state_reason: n.reason.clone(),
            state_change_time_ms: n.timestamp_ms,
            trigger: n.trigger.clone(),
        };
        self.notifier.enqueue(arn, &msg).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mw_alarms::config::MetricSpec;
    use mw_alarms::evaluation_range;
    use mw_model::{Datum, DatumValue};
    use mw_tsdb::{MetricStore, StoreConfig};

    fn alarm(metric: &str, statistic: &str, math: bool) -> MetricAlarmConfig {
        let spec = MetricSpec {
            namespace: "App".into(),
            name: metric.into(),
            dimensions: vec![("Host".into(), "a".into())],
        };
        if math {
            let q = serde_json::json!([
                {"Id": "m", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": metric,
                  "Dimensions": [{"Name": "Host", "Value": "a"}]}, "Period": 60, "Stat": "Sum"},
                 "ReturnData": false},
                {"Id": "e", "Expression": "m * 2", "ReturnData": true}
            ]);
            return MetricAlarmConfig {
                name: format!("{metric}-math"),
                metrics: Some(mw_alarms::config::MathSpec {
                    queries: q.to_string(),
                    period: 60,
                    inputs: vec![("App".into(), metric.into())],
                }),
                evaluation_periods: 3,
                threshold: 1.0,
                comparison_operator: "GreaterThanThreshold".into(),
                ..MetricAlarmConfig::default()
            };
        }
        MetricAlarmConfig {
            name: format!("{metric}-{statistic}"),
            metric: Some(spec),
            statistic: Some(statistic.into()),
            period: Some(60),
            evaluation_periods: 3,
            threshold: 1.0,
            comparison_operator: "GreaterThanThreshold".into(),
            ..MetricAlarmConfig::default()
        }
    }

    #[test]
    fn batched_reads_give_what_single_reads_give() {
        let dir = std::env::temp_dir().join(format!("mw-alarm-src-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(MetricStore::open(StoreConfig::new(&dir)).expect("store"));
        let now = mw_model::time::now_ms();
        let minute = now - now.rem_euclid(60_000);
        let mut data = Vec::new();
        for (metric, base) in [("Latency", 10.0), ("Errors", 1.0)] {
            for k in 1..=4 {
                data.push(Datum {
                    key: MetricKey::from_parts(
                        "App".into(),
                        metric.into(),
                        vec![Dimension {
                            name: "Host".into(),
                            value: "a".into(),
                        }],
                    ),
                    unit: Unit::None,
                    timestamp_ms: minute - k * 60_000 + 5_000,
                    resolution: 60,
                    value: DatumValue::Single(base * k as f64),
                });
            }
        }
        store.put(&data).expect("put");
        let src = MetricSource {
            store: store.clone(),
        };
        let cfgs = [
            alarm("Latency", "Average", false),
            alarm("Latency", "Maximum", false),
            alarm("Errors", "Sum", false),
            alarm("Missing", "Sum", false),
            alarm("Errors", "", true),
        ];
        let defs: Vec<AlarmDef> = cfgs.iter().map(|c| c.def().expect("valid")).collect();
        let fetches: Vec<Fetch<'_>> = cfgs
            .iter()
            .zip(&defs)
            .map(|(alarm, def)| Fetch {
                alarm,
                def,
                range: evaluation_range(def, now),
            })
            .collect();
        let many = src.datapoints_many(&fetches);
        for (f, got) in fetches.iter().zip(&many) {
            let one = src.datapoints(f.alarm, f.def, &f.range);
            assert_eq!(got, &one, "{}", f.alarm.name);
        }
        let values = |i: usize| -> Vec<f64> {
            many[i]
                .as_ref()
                .expect("ok")
                .iter()
                .filter_map(|(_, v)| v.map(|v| v.value))
                .collect()
        };
        assert_eq!(values(0), [40.0, 30.0, 20.0, 10.0]);
        assert_eq!(values(2), [4.0, 3.0, 2.0, 1.0]);
        assert!(values(3).is_empty());
        assert_eq!(values(4), [8.0, 6.0, 4.0, 2.0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
