//! Embedded Metric Format: log events carrying an `_aws.CloudWatchMetrics`
//! document become metric datums (every dimension set, units, storage
//! resolution). A document that is not EMF at all is left alone; one that claims
//! to be EMF but breaks the specification is counted as an error and yields no
//! metrics, and the log event is stored either way.

use mw_model::{Datum, DatumValue, Dimension, MetricKey, Unit};
use serde_json::{Map, Value};

/// What one event yielded.
#[derive(Debug, PartialEq)]
pub enum Emf {
    /// Not an EMF document (no `_aws.CloudWatchMetrics`).
    NotEmf,
    /// Valid: the datums to store.
    Metrics(Vec<Datum>),
    /// Looked like EMF but broke the specification; the reason.
    Invalid(String),
}

const MAX_METRICS: usize = 100;
const MAX_VALUES: usize = 100;

/// Extracts metrics from one event's message. `event_ts` is the event timestamp
/// (used when the document has no `_aws.Timestamp`).
pub fn extract(message: &str, event_ts: i64) -> Emf {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') || !message.contains("\"_aws\"") {
        return Emf::NotEmf;
    }
    let doc: Map<String, Value> = match serde_json::from_str(trimmed) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Emf::NotEmf,
        Err(e) => return Emf::Invalid(format!("not a single JSON object: {e}")),
    };
    let Some(Value::Object(aws)) = doc.get("_aws") else {
        return Emf::NotEmf;
    };
    let Some(directives) = aws.get("CloudWatchMetrics") else {
        return Emf::NotEmf;
    };
    match metrics(&doc, aws, directives, event_ts) {
        Ok(d) => Emf::Metrics(d),
        Err(reason) => Emf::Invalid(reason),
    }
}

fn metrics(
    doc: &Map<String, Value>,
    aws: &Map<String, Value>,
    directives: &Value,
    event_ts: i64,
) -> Result<Vec<Datum>, String> {
    let ts = match aws.get("Timestamp") {
        None => event_ts,
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or("_aws.Timestamp must be epoch milliseconds")?,
        Some(_) => return Err("_aws.Timestamp must be a number".into()),
    };
    let Value::Array(directives) = directives else {
        return Err("_aws.CloudWatchMetrics must be an array".into());
    };
    let mut out = Vec::new();
    for d in directives {
        let Value::Object(d) = d else {
            return Err("a metric directive must be an object".into());
        };
        let ns = match d.get("Namespace") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => s.as_str(),
            _ => return Err("Namespace must be a non-empty string".into()),
        };
        let Some(Value::Array(sets)) = d.get("Dimensions") else {
            return Err("Dimensions must be an array of dimension sets".into());
        };
        let Some(Value::Array(defs)) = d.get("Metrics") else {
            return Err("Metrics must be an array".into());
        };
        if defs.len() > MAX_METRICS {
            return Err(format!("at most {MAX_METRICS} metrics per directive"));
        }
        let mut dim_sets = Vec::with_capacity(sets.len().max(1));
        for set in sets {
            let Value::Array(keys) = set else {
                return Err("a dimension set must be an array of keys".into());
            };
            if keys.len() > mw_model::MAX_DIMENSIONS {
                return Err(format!(
                    "at most {} dimensions per set",
                    mw_model::MAX_DIMENSIONS
                ));
            }
            let mut dims = Vec::with_capacity(keys.len());
            for k in keys {
                let Value::String(k) = k else {
                    return Err("dimension keys must be strings".into());
                };
                match doc.get(k) {
                    Some(Value::String(v)) if !v.is_empty() && v.len() <= 1024 => {
                        dims.push(Dimension {
                            name: k.clone(),
                            value: v.clone(),
                        })
                    }
                    _ => return Err(format!("dimension {k} must name a root-level string")),
                }
            }
            dim_sets.push(dims);
        }
        if sets.is_empty() {
            dim_sets.push(Vec::new());
        }
        for def in defs {
            let Value::Object(def) = def else {
                return Err("a metric definition must be an object".into());
            };
            let Some(Value::String(name)) = def.get("Name") else {
                return Err("a metric definition needs a Name".into());
            };
            let unit = match def.get("Unit") {
                None => Unit::None,
                Some(Value::String(u)) => {
                    Unit::parse(u, "Unit").map_err(|e| e.message().to_string())?
                }
                Some(_) => return Err("Unit must be a string".into()),
            };
            let resolution = match def.get("StorageResolution").and_then(Value::as_i64) {
                None => 60,
                Some(1) => 1,
                Some(60) => 60,
                Some(r) => return Err(format!("StorageResolution {r} must be 1 or 60")),
            };
            let value = match doc.get(name) {
                Some(Value::Number(n)) => DatumValue::Single(n.as_f64().ok_or("bad number")?),
                Some(Value::Array(vs)) if !vs.is_empty() && vs.len() <= MAX_VALUES => {
                    let mut pairs: Vec<(f64, f64)> = Vec::new();
                    for v in vs {
                        let f = v
                            .as_f64()
                            .ok_or_else(|| format!("metric {name} values must be numbers"))?;
                        match pairs.iter_mut().find(|(x, _)| *x == f) {
                            Some(p) => p.1 += 1.0,
                            None => pairs.push((f, 1.0)),
                        }
                    }
                    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                    DatumValue::Values(pairs)
                }
                _ => {
                    return Err(format!(
                        "metric {name} must name a root-level number or array of numbers"
                    ))
                }
            };
            if !value.is_valid() {
                return Err(format!("metric {name} has a value out of range"));
            }
            for dims in &dim_sets {
                let key = MetricKey::new(ns, name, dims.clone(), "EMF")
                    .map_err(|e| e.message().to_string())?;
                out.push(Datum {
                    key,
                    unit,
                    timestamp_ms: ts,
                    resolution,
                    value: value.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_captured_example_yields_four_datums() {
        // wire_examples.txt section F.
        let msg = r#"{"_aws":{"Timestamp":1795901266393,"CloudWatchMetrics":[{"Namespace":"MyApp","Dimensions":[["Service"],["Service","Operation"]],"Metrics":[{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Sizes","Unit":"Bytes","StorageResolution":1}]}]},"Service":"api","Operation":"Get","Latency":12.5,"Sizes":[100,200,200]}"#;
        let Emf::Metrics(d) = extract(msg, 0) else {
            panic!("not extracted")
        };
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].key.name, "Latency");
        assert_eq!(d[0].key.dimensions().len(), 1);
        assert_eq!(d[1].key.dimensions().len(), 2);
        assert_eq!(d[0].value, DatumValue::Single(12.5));
        assert_eq!(
            d[2].value,
            DatumValue::Values(vec![(100.0, 1.0), (200.0, 2.0)])
        );
        assert_eq!(d[2].resolution, 1);
        assert_eq!(d[2].unit, Unit::Bytes);
        assert_eq!(d[0].timestamp_ms, 1_795_901_266_393);
    }

    #[test]
    fn plain_lines_are_not_emf_and_broken_documents_are_invalid() {
        assert_eq!(extract("ERROR boom", 0), Emf::NotEmf);
        assert_eq!(extract(r#"{"level":"info"}"#, 0), Emf::NotEmf);
        for bad in [
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Missing"]],"Metrics":[{"Name":"x"}]}]},"x":1}"#,
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"x"}]}]},"x":"text"}"#,
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"x","Unit":"Parsecs"}]}]},"x":1}"#,
            r#"{"_aws":{"CloudWatchMetrics":{}}, "x":1}"#,
            r#"{"_aws":{"CloudWatchMetrics":[]}} trailing"#,
        ] {
            assert!(matches!(extract(bad, 0), Emf::Invalid(_)), "{bad}");
        }
    }
}
