//! Metric filters: a pattern plus one metric transformation, applied to every
//! ingested event of its log group.

use crate::block::Event;
use mw_filterpattern::{FieldValue, FilterPattern};
use mw_model::{Datum, DatumValue, Dimension, MetricKey, Unit};
use std::collections::BTreeSet;

/// How matching events become a metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    pub metric_name: String,
    pub namespace: String,
    /// A literal number, `$.json.path` or `$field`.
    pub value: String,
    pub default_value: Option<f64>,
    /// Dimension name → `$.json.path` or `$field`.
    pub dimensions: Vec<(String, String)>,
    pub unit: Unit,
}

/// A stored metric filter.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFilter {
    pub group: String,
    pub name: String,
    pub pattern: String,
    pub transformation: Transformation,
    pub created: i64,
}

/// A metric filter with its pattern compiled.
pub struct CompiledFilter {
    pub def: MetricFilter,
    pub pattern: FilterPattern,
}

fn number(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Number(n) => Some(*n),
        FieldValue::String(s) => s.trim().parse().ok(),
        FieldValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        FieldValue::Null => None,
    }
}

fn text(v: &FieldValue) -> Option<String> {
    match v {
        FieldValue::Number(n) => Some(if n.fract() == 0.0 && n.abs() < 1e15 {
            format!("{}", *n as i64)
        } else {
            n.to_string()
        }),
        FieldValue::String(s) => Some(s.clone()),
        FieldValue::Bool(b) => Some(b.to_string()),
        FieldValue::Null => None,
    }
}

impl CompiledFilter {
    /// The datums `events` produce: one per matching event with a numeric value,
    /// plus the default value once for each minute whose events all missed.
    pub fn apply(&self, events: &[Event], out: &mut Vec<Datum>) {
        let t = &self.def.transformation;
        let literal: Option<f64> = if t.value.starts_with('$') {
            None
        } else {
            t.value.trim().parse().ok()
        };
        let mut minutes_seen = BTreeSet::new();
        let mut minutes_hit = BTreeSet::new();
        for e in events {
            let minute = e.timestamp - e.timestamp.rem_euclid(60_000);
            minutes_seen.insert(minute);
            let Some(x) = self.pattern.extract(&e.message) else {
                continue;
            };
            let value = match literal {
                Some(v) => Some(v),
                None => x.get(&t.value).as_ref().and_then(number),
            };
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            let mut dims = Vec::with_capacity(t.dimensions.len());
            let mut complete = true;
            for (name, sel) in &t.dimensions {
                match x.get(sel).as_ref().and_then(text).filter(|v| !v.is_empty()) {
                    Some(v) => dims.push(Dimension {
                        name: name.clone(),
                        value: v,
                    }),
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let Ok(key) =
                MetricKey::new(&t.namespace, &t.metric_name, dims, "metricTransformations")
            else {
                continue;
            };
            minutes_hit.insert(minute);
            out.push(Datum {
                key,
                unit: t.unit,
                timestamp_ms: e.timestamp,
                resolution: 60,
                value: DatumValue::Single(value),
            });
        }
        if let Some(default) = t.default_value {
            for m in minutes_seen.difference(&minutes_hit) {
                if let Ok(key) = MetricKey::new(
                    &t.namespace,
                    &t.metric_name,
                    Vec::new(),
                    "metricTransformations",
                ) {
                    out.push(Datum {
                        key,
                        unit: t.unit,
                        timestamp_ms: *m,
                        resolution: 60,
                        value: DatumValue::Single(default),
                    });
                }
            }
        }
    }
}
