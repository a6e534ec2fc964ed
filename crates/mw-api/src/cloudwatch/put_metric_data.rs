//! PutMetricData: validate every datum first, then store the batch atomically.

use super::common::{dimensions, unit};
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::Api;
use mw_model::{Datum, DatumValue, MetricKey, Unit};

/// At most this many datums per request (MetricData and EntityMetricData together).
pub const MAX_DATUMS: usize = 1000;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;
const TWO_HOURS_MS: i64 = 2 * 3_600_000;

pub fn run(api: &Api, node: &Node) -> Result<(), ApiError> {
    let input = Input::root(node);
    let namespace = input.req_str("Namespace")?;
    mw_model::validate_namespace(namespace)?;
    let mut items = input.list("MetricData")?.unwrap_or_default();
    if let Some(entities) = input.list("EntityMetricData")? {
        if entities.len() > 2 {
            return Err(ApiError::invalid(
                "The collection EntityMetricData must not have a size greater than 2.",
            ));
        }
        for (path, e) in entities {
            let e = Input::element(e, path)?;
            if let Some(more) = e.list("MetricData")? {
                items.extend(more);
            }
        }
    }
    if items.is_empty() && !input.has("MetricData") && !input.has("EntityMetricData") {
        return Err(ApiError::missing("The parameter MetricData is required."));
    }
    if items.len() > MAX_DATUMS {
        return Err(ApiError::invalid(format!(
            "The collection MetricData must not have a size greater than {MAX_DATUMS}."
        )));
    }
    let now = mw_model::time::now_ms();
    let mut data = Vec::with_capacity(items.len());
    for (path, n) in items {
        let d = Input::element(n, path)?;
        data.push(datum(&d, namespace, now)?);
    }
    api.store.put(&data)?;
    Ok(())
}

fn datum(d: &Input, namespace: &str, now: i64) -> Result<Datum, ApiError> {
    let p = d.path().to_string();
    let name = d.req_str("MetricName")?;
    let key = MetricKey::new(namespace, name, dimensions(d, "Dimensions")?, &p)?;
    let timestamp_ms = match d.time("Timestamp")? {
        None => now,
        Some(t) if t < now - TWO_WEEKS_MS => {
            return Err(ApiError::invalid(format!(
                "The parameter {p}.Timestamp must specify a time within the past two weeks."
            )))
        }
        Some(t) if t > now + TWO_HOURS_MS => return Err(ApiError::invalid(format!(
            "The parameter {p}.Timestamp must specify a time no more than two hours in the future."
        ))),
        Some(t) => t,
    };
    let resolution = match d.i64("StorageResolution")? {
        None | Some(60) => 60,
        Some(1) => 1,
        Some(r) => {
            return Err(ApiError::invalid(format!(
                "The value {r} for parameter {p}.StorageResolution is invalid."
            )))
        }
    };
    let unit = unit(d, "Unit")?.unwrap_or(Unit::None);
    let has_value = d.has("Value");
    let values = d.list("Values")?;
    let counts = d.list("Counts")?;
    let stats = d.structure("StatisticValues")?;
    let combo = |a: &str, b: &str| {
        ApiError::new(
            Code::InvalidParameterCombination,
            format!("The parameters {p}.{a} and {p}.{b} are mutually exclusive and you have specified both."),
        )
    };
    if has_value && values.is_some() {
        return Err(ApiError::invalid(format!(
            "The parameters {p}.Value and {p}.Values are mutually exclusive and you have specified both."
        )));
    }
    if has_value && stats.is_some() {
        return Err(combo("Value", "StatisticValues"));
    }
    if values.is_some() && stats.is_some() {
        return Err(combo("Values", "StatisticValues"));
    }
    if counts.is_some() && values.is_none() {
        return Err(ApiError::new(
            Code::InvalidParameterCombination,
            format!("The parameter {p}.Counts requires {p}.Values."),
        ));
    }
    let value = if has_value {
        DatumValue::Single(d.req_f64("Value")?)
    } else if let Some(values) = values {
        let vals = numbers(&values)?;
        let cnts = match counts {
            Some(c) => numbers(&c)?,
            None => vec![1.0; vals.len()],
        };
        if vals.len() != cnts.len() {
            return Err(ApiError::invalid(format!(
                "The parameters {p}.Values and {p}.Counts must be of the same size."
            )));
        }
        if vals.is_empty() {
            return Err(ApiError::invalid(format!(
                "The collection {p}.Values must not be empty."
            )));
        }
        let mut pairs: Vec<(f64, f64)> = vals.into_iter().zip(cnts).collect();
        // Values are checked before merging so NaN is reported as sent.
        DatumValue::Values(pairs.clone()).validate(&p)?;
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        pairs.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        DatumValue::Values(pairs)
    } else if let Some(s) = stats {
        let field = |n: &str| {
            s.f64(n)?.ok_or_else(|| {
                ApiError::missing(format!(
                    "Missing required parameter in {p}.StatisticValues: \"{n}\""
                ))
            })
        };
        DatumValue::Stats {
            count: field("SampleCount")?,
            sum: field("Sum")?,
            min: field("Minimum")?,
            max: field("Maximum")?,
        }
    } else {
        return Err(ApiError::missing(format!(
            "One of {p}.Value, {p}.Values or {p}.StatisticValues must be specified."
        )));
    };
    value.validate(&p)?;
    Ok(Datum {
        key,
        unit,
        timestamp_ms,
        resolution,
        value,
    })
}

fn numbers(items: &[(String, &Node)]) -> Result<Vec<f64>, ApiError> {
    items
        .iter()
        .map(|(path, n)| match n {
            Node::Int(i) => Ok(*i as f64),
            Node::Float(f) => Ok(*f),
            Node::Str(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                s => s.trim().parse().map_err(|_| {
                    ApiError::serialization(format!("the value of {path} must be a number"))
                }),
            },
            _ => Err(ApiError::serialization(format!(
                "the value of {path} must be a number"
            ))),
        })
        .collect()
}
