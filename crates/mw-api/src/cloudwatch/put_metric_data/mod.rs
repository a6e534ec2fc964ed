//! PutMetricData: read the batch into typed inputs straight from the body,
//! validate every datum, then store the batch atomically.
//!
//! This is the ingest hot path, so the input is deserialized without an
//! intermediate tree, strings are borrowed from the body where the format allows,
//! and parameter paths for error messages are only built when there is an error.

use crate::error::{ApiError, Code};
use crate::wire::Payload;
use crate::Api;
use mw_model::{DatumRef, DatumValue, Unit};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

mod fast;

/// At most this many datums per request (MetricData and EntityMetricData together).
pub const MAX_DATUMS: usize = 1000;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;
const TWO_HOURS_MS: i64 = 2 * 3_600_000;

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct PutInput<'a> {
    #[serde(borrow, default)]
    namespace: Option<Text<'a>>,
    #[serde(borrow, default)]
    metric_data: Option<Vec<DatumIn<'a>>>,
    #[serde(borrow, default)]
    entity_metric_data: Option<Vec<EntityIn<'a>>>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct EntityIn<'a> {
    #[serde(borrow, default)]
    metric_data: Option<Vec<DatumIn<'a>>>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct DatumIn<'a> {
    #[serde(borrow, default)]
    metric_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    dimensions: Option<Vec<DimIn<'a>>>,
    #[serde(default)]
    timestamp: Option<Ts>,
    #[serde(default)]
    value: Option<Num>,
    #[serde(default)]
    values: Option<Vec<Num>>,
    #[serde(default)]
    counts: Option<Vec<Num>>,
    #[serde(default)]
    statistic_values: Option<StatsIn>,
    #[serde(borrow, default)]
    unit: Option<Text<'a>>,
    #[serde(default)]
    storage_resolution: Option<Num>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct DimIn<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct StatsIn {
    #[serde(default)]
    sample_count: Option<Num>,
    #[serde(default)]
    sum: Option<Num>,
    #[serde(default)]
    minimum: Option<Num>,
    #[serde(default)]
    maximum: Option<Num>,
}

/// A string borrowed from the request body when the format allows (serde's own
/// `Cow<str>` impl always copies inside an `Option`).
#[derive(Debug, PartialEq)]
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A double as JSON/CBOR numbers, botocore's "NaN"/"Infinity" strings, or a
/// Query string.
#[derive(Clone, Copy, Debug)]
struct Num(f64);

/// Equal values, NaN equal to NaN, and 0 to -0; readers may differ by one ulp.
impl PartialEq for Num {
    fn eq(&self, o: &Num) -> bool {
        let (a, b) = (self.0, o.0);
        a == b
            || (a.is_nan() && b.is_nan())
            || ((a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()))
    }
}

impl Num {
    /// botocore's "NaN"/"Infinity"/"-Infinity", or a number written as text.
    fn from_text(v: &str) -> Option<Num> {
        match v {
            "NaN" => Some(Num(f64::NAN)),
            "Infinity" => Some(Num(f64::INFINITY)),
            "-Infinity" => Some(Num(f64::NEG_INFINITY)),
            s => s.trim().parse().ok().map(Num),
        }
    }
}

impl Ts {
    fn from_secs(f: f64) -> Option<Ts> {
        (f.is_finite() && f.abs() < 1e13).then(|| Ts((f * 1000.0).round() as i64))
    }

    /// ISO-8601, or epoch seconds written as text.
    fn from_text(v: &str) -> Option<Ts> {
        match mw_model::time::parse_iso8601(v) {
            Some(ms) => Some(Ts(ms)),
            None => v.trim().parse::<f64>().ok().and_then(Ts::from_secs),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                Num::from_text(v).ok_or_else(|| E::custom(format!("{v:?} is not a number")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A timestamp: epoch seconds (number, or CBOR tag 1) or an ISO-8601 string.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ts(i64);

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ts, D::Error> {
        struct V;
        fn secs<E: de::Error>(f: f64) -> Result<Ts, E> {
            Ts::from_secs(f).ok_or_else(|| E::custom("timestamp out of range"))
        }
        impl Visitor<'_> for V {
            type Value = Ts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ts, E> {
                secs(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                secs(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ts, E> {
                secs(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ts, E> {
                Ts::from_text(v).ok_or_else(|| E::custom(format!("{v:?} is not a timestamp")))
            }
        }
        d.deserialize_any(V)
    }
}

pub fn run(api: &Api, payload: &Payload) -> Result<(), ApiError> {
    with_batch(payload, |batch| {
        api.store.put_batch(batch)?;
        if let (Some(alarms), Some(first)) = (&api.alarms, batch.first()) {
            // One namespace per request: alarms on late data re-evaluate now.
            alarms.data_arrived(
                first.namespace,
                batch.iter().map(|d| (d.name, d.timestamp_ms)),
                mw_model::time::now_ms(),
            );
        }
        Ok(())
    })
}

/// Decodes the typed input only (no validation); the number of datums. For
/// benchmarks.
pub fn decode_only(payload: &Payload) -> Result<usize, ApiError> {
    let fast = match payload {
        Payload::Json(b) => std::str::from_utf8(b).ok().and_then(fast::parse),
        _ => None,
    };
    let input: PutInput = match fast {
        Some(i) => i,
        None => payload.typed()?,
    };
    Ok(input.metric_data.map_or(0, |d| d.len()))
}

/// Reads and validates a PutMetricData request and hands the batch, still
/// borrowing from the request body, to `f`.
pub fn with_batch<R>(
    payload: &Payload,
    f: impl FnOnce(&[DatumRef]) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let fast = match payload {
        Payload::Json(b) => std::str::from_utf8(b).ok().and_then(fast::parse),
        _ => None,
    };
    // The fast reader takes only what it is sure of; everything else (and every
    // error message) comes from serde.
    let input: PutInput = match fast {
        Some(i) => i,
        None => payload.typed()?,
    };
    let namespace = input
        .namespace
        .ok_or_else(|| ApiError::missing("The parameter Namespace is required."))?;
    mw_model::validate_namespace(&namespace)?;
    let had_data = input.metric_data.is_some() || input.entity_metric_data.is_some();
    let mut items = input.metric_data.unwrap_or_default();
    if let Some(entities) = input.entity_metric_data {
        if entities.len() > 2 {
            return Err(ApiError::invalid(
                "The collection EntityMetricData must not have a size greater than 2.",
            ));
        }
        for e in entities {
            items.extend(e.metric_data.unwrap_or_default());
        }
    }
    if !had_data {
        return Err(ApiError::missing("The parameter MetricData is required."));
    }
    if items.len() > MAX_DATUMS {
        return Err(ApiError::invalid(format!(
            "The collection MetricData must not have a size greater than {MAX_DATUMS}."
        )));
    }
    let now = mw_model::time::now_ms();
    let mut data = Vec::with_capacity(items.len());
    for (i, d) in items.iter().enumerate() {
        data.push(datum(d, i + 1, &namespace, now)?);
    }
    f(&data)
}

fn datum<'x>(
    d: &'x DatumIn<'_>,
    index: usize,
    namespace: &'x str,
    now: i64,
) -> Result<DatumRef<'x>, ApiError> {
    let p = || format!("MetricData.member.{index}");
    let name: &str = d.metric_name.as_deref().ok_or_else(|| {
        ApiError::missing(format!("The parameter {}.MetricName is required.", p()))
    })?;
    let mut dims: Vec<(&str, &str)> = Vec::new();
    if let Some(list) = &d.dimensions {
        if list.len() > mw_model::MAX_DIMENSIONS {
            return Err(ApiError::invalid(format!(
                "The collection {}.Dimensions must not have a size greater than {}.",
                p(),
                mw_model::MAX_DIMENSIONS
            )));
        }
        dims.reserve(list.len());
        for (j, dim) in list.iter().enumerate() {
            let missing = |what: &str| {
                ApiError::missing(format!(
                    "The parameter {}.Dimensions.member.{}.{what} is required.",
                    p(),
                    j + 1
                ))
            };
            dims.push((
                dim.name.as_deref().ok_or_else(|| missing("Name"))?,
                dim.value.as_deref().ok_or_else(|| missing("Value"))?,
            ));
        }
    }
    mw_model::check_identity(name, &mut dims, &p)?;
    let timestamp_ms = match d.timestamp {
        None => now,
        Some(Ts(t)) if t < now - TWO_WEEKS_MS => {
            return Err(ApiError::invalid(format!(
                "The parameter {}.Timestamp must specify a time within the past two weeks.",
                p()
            )))
        }
        Some(Ts(t)) if t > now + TWO_HOURS_MS => {
            return Err(ApiError::invalid(format!(
            "The parameter {}.Timestamp must specify a time no more than two hours in the future.",
            p()
        )))
        }
        Some(Ts(t)) => t,
    };
    let resolution = match d.storage_resolution {
        None => 60,
        Some(Num(60.0)) => 60,
        Some(Num(1.0)) => 1,
        Some(Num(r)) => {
            return Err(ApiError::invalid(format!(
                "The value {r} for parameter {}.StorageResolution is invalid.",
                p()
            )))
        }
    };
    let unit = match &d.unit {
        None => Unit::None,
        // The parameter name is only formatted for the error.
        Some(u) => match Unit::from_name(u) {
            Some(unit) => unit,
            None => Unit::parse(u, &format!("{}.Unit", p()))?,
        },
    };
    let combo = |a: &str, b: &str| {
        let p = p();
        ApiError::new(
            Code::InvalidParameterCombination,
            format!("The parameters {p}.{a} and {p}.{b} are mutually exclusive and you have specified both."),
        )
    };
    let value = match (d.value, &d.values, &d.statistic_values) {
        (Some(_), Some(_), _) => {
            let p = p();
            return Err(ApiError::invalid(format!(
                "The parameters {p}.Value and {p}.Values are mutually exclusive and you have specified both."
            )));
        }
        (Some(_), None, Some(_)) => return Err(combo("Value", "StatisticValues")),
        (None, Some(_), Some(_)) => return Err(combo("Values", "StatisticValues")),
        (_, None, _) if d.counts.is_some() => {
            return Err(ApiError::new(
                Code::InvalidParameterCombination,
                format!("The parameter {0}.Counts requires {0}.Values.", p()),
            ))
        }
        (Some(Num(v)), None, None) => DatumValue::Single(v),
        (None, Some(values), None) => {
            let counts: Vec<f64> = match &d.counts {
                Some(c) => c.iter().map(|n| n.0).collect(),
                None => vec![1.0; values.len()],
            };
            if values.len() != counts.len() {
                let p = p();
                return Err(ApiError::invalid(format!(
                    "The parameters {p}.Values and {p}.Counts must be of the same size."
                )));
            }
            if values.is_empty() {
                return Err(ApiError::invalid(format!(
                    "The collection {}.Values must not be empty.",
                    p()
                )));
            }
            let sent = DatumValue::Values(values.iter().map(|n| n.0).zip(counts).collect());
            // Checked before merging duplicates, so errors name what was sent.
            if !sent.is_valid() {
                sent.validate(&p())?;
            }
            let DatumValue::Values(mut pairs) = sent else {
                return Err(ApiError::new(Code::Internal, "values changed kind"));
            };
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
        }
        (None, None, Some(s)) => {
            let field = |v: Option<Num>, n: &str| {
                v.map(|x| x.0).ok_or_else(|| {
                    ApiError::missing(format!(
                        "Missing required parameter in {}.StatisticValues: \"{n}\"",
                        p()
                    ))
                })
            };
            DatumValue::Stats {
                count: field(s.sample_count, "SampleCount")?,
                sum: field(s.sum, "Sum")?,
                min: field(s.minimum, "Minimum")?,
                max: field(s.maximum, "Maximum")?,
            }
        }
        (None, None, None) => {
            let p = p();
            return Err(ApiError::missing(format!(
                "One of {p}.Value, {p}.Values or {p}.StatisticValues must be specified."
            )));
        }
    };
    if !value.is_valid() {
        // Build the message with the parameter path only on failure.
        value.validate(&p())?;
    }
    Ok(DatumRef {
        namespace,
        name,
        dims,
        unit,
        timestamp_ms,
        resolution,
        value,
    })
}
