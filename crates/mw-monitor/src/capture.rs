//! Rebuilding a table from SageMaker capture records (JSON Lines with
//! `captureData.endpointInput` / `endpointOutput`), as the analyzer does:
//! each record's output columns first, then its input columns.
//!
//! Payloads are CSV (`text/csv`, one record per line) or JSON (a flat object,
//! an array of scalars, or an array of either for several records); a
//! `BASE64` encoding is decoded first. Records of shadow traffic
//! (`eventMetadata.invocationSource = "ShadowExperiment"`) are skipped, as the
//! analyzer's preprocessing does. [`rebuild`] is a pure function over lines.

use crate::error::{Error, Result};
use crate::table::{json_cell, positional_name, Table};
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;

/// What to rebuild.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureOptions {
    /// Keep records with `start <= inferenceTime < end` (Unix seconds, UTC).
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Column names to give the rebuilt columns, in order (a configured mapping);
    /// without it columns are positional (`_c0`, …) or JSON keys.
    pub columns: Option<Vec<String>>,
}

type Field = (Option<String>, Option<String>);

/// Rebuilds the table of the records in `lines` (one capture record per line).
pub fn rebuild<'a, I: IntoIterator<Item = &'a str>>(
    lines: I,
    opts: &CaptureOptions,
) -> Result<Table> {
    let mut table = Table {
        positional: true,
        ..Table::default()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut any_named = false;
    for (i, line) in lines.into_iter().enumerate() {
        let line_no = i as u64 + 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let err = |message: String| Error::Parse {
            source_name: "capture".into(),
            line: line_no,
            column: None,
            message,
        };
        let record: Value =
            serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let meta = record.get("eventMetadata");
        if meta
            .and_then(|m| m.get("invocationSource"))
            .and_then(Value::as_str)
            == Some("ShadowExperiment")
        {
            continue;
        }
        if opts.start.is_some() || opts.end.is_some() {
            let t = meta
                .and_then(|m| m.get("inferenceTime"))
                .and_then(Value::as_str)
                .ok_or_else(|| err("eventMetadata.inferenceTime is missing".into()))?;
            let secs = parse_time(t).ok_or_else(|| {
                err(format!(
                    "eventMetadata.inferenceTime {t:?} is not ISO-8601 UTC"
                ))
            })?;
            if opts.start.is_some_and(|s| secs < s) || opts.end.is_some_and(|e| secs >= e) {
                continue;
            }
        }
        let data = record
            .get("captureData")
            .ok_or_else(|| err("captureData is missing".into()))?;
        let output = payload(data.get("endpointOutput"), "endpointOutput").map_err(&err)?;
        let input = payload(data.get("endpointInput"), "endpointInput").map_err(&err)?;
        let rows: Vec<Vec<Field>> = match (output.len(), input.len()) {
            (0, 0) => {
                return Err(err(
                    "captureData holds neither endpointInput nor endpointOutput".into(),
                ))
            }
            (0, _) => input,
            (_, 0) => output,
            (o, n) if o == n => output
                .into_iter()
                .zip(input)
                .map(|(mut o, i)| {
                    o.extend(i);
                    o
                })
                .collect(),
            (o, n) => {
                return Err(err(format!(
                    "endpointOutput holds {o} records but endpointInput holds {n}"
                )))
            }
        };
        for fields in rows {
            let mut row: Vec<Option<String>> = vec![None; table.columns.len()];
            for (pos, (name, value)) in fields.into_iter().enumerate() {
                let name = match (&opts.columns, name) {
                    (Some(cols), _) => cols.get(pos).cloned().ok_or_else(|| {
                        err(format!(
                            "record has {} or more fields but the column mapping names {}",
                            pos + 1,
                            cols.len()
                        ))
                    })?,
                    (None, Some(n)) => {
                        any_named = true;
                        n
                    }
                    (None, None) => positional_name(pos),
                };
                let idx = match index.get(&name) {
                    Some(&i) => i,
                    None => {
                        index.insert(name.clone(), table.columns.len());
                        table.columns.push(name);
                        row.push(None);
                        table.columns.len() - 1
                    }
                };
                row[idx] = value;
            }
            table.rows.push(row);
        }
    }
    table.positional = opts.columns.is_none() && !any_named;
    Ok(table)
}

/// Decodes one `endpointInput` / `endpointOutput` into records of fields.
fn payload(v: Option<&Value>, what: &str) -> std::result::Result<Vec<Vec<Field>>, String> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let data = v
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what}.data is missing or not a string"))?;
    let encoding = v.get("encoding").and_then(Value::as_str).unwrap_or("CSV");
    let content_type = v
        .get("observedContentType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let decoded;
    let text: &str = if encoding.eq_ignore_ascii_case("BASE64") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| format!("{what}.data is not valid base64: {e}"))?;
        decoded = String::from_utf8(bytes).map_err(|_| format!("{what}.data is not UTF-8 text"))?;
        &decoded
    } else {
        data
    };
    let is_json = encoding.eq_ignore_ascii_case("JSON")
        || (encoding.eq_ignore_ascii_case("BASE64") && content_type.contains("json"));
    if is_json {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("{what}.data is not valid JSON: {e}"))?;
        json_records(&value, what)
    } else {
        let mut out = String::new();
        let mut ends = Vec::new();
        let mut records = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            crate::table::split_record(line, &mut out, &mut ends)
                .map_err(|field| format!("{what}.data: unterminated quote in field {field}"))?;
            let mut start = 0;
            let mut fields = Vec::with_capacity(ends.len());
            for &end in &ends {
                let f = out[start..end].trim();
                fields.push((None, (!f.is_empty()).then(|| f.to_string())));
                start = end;
            }
            records.push(fields);
        }
        Ok(records)
    }
}

fn json_records(v: &Value, what: &str) -> std::result::Result<Vec<Vec<Field>>, String> {
    let scalar = |v: &Value| {
        json_cell(v)
            .map_err(|k| format!("{what}.data holds {k} inside a record; records must be flat"))
    };
    match v {
        Value::Object(map) => Ok(vec![map
            .iter()
            .map(|(k, v)| Ok((Some(k.clone()), scalar(v)?)))
            .collect::<std::result::Result<_, String>>()?]),
        Value::Array(items)
            if items.iter().all(|x| x.is_object() || x.is_array()) && !items.is_empty() =>
        {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(_) => out.extend(json_records(item, what)?),
                    Value::Array(inner) => out.push(
                        inner
                            .iter()
                            .map(|x| Ok((None, scalar(x)?)))
                            .collect::<std::result::Result<_, String>>()?,
                    ),
                    _ => unreachable_scalar()?,
                }
            }
            Ok(out)
        }
        Value::Array(items) => Ok(vec![items
            .iter()
            .map(|x| Ok((None, scalar(x)?)))
            .collect::<std::result::Result<_, String>>()?]),
        other => Ok(vec![vec![(None, scalar(other)?)]]),
    }
}

fn unreachable_scalar() -> std::result::Result<(), String> {
    Err("mixed scalars and records in a JSON array".into())
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`) into Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let rest = &s[19..];
    let rest = match rest.strip_prefix('.') {
        Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    if rest != "Z" && rest != "+00:00" {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"132,10,182.9\n","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.0363","encoding":"CSV"}},"eventMetadata":{"eventId":"f04a","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}"#;

    #[test]
    fn csv_output_first_then_input() {
        let t = rebuild([REC, ""], &CaptureOptions::default()).unwrap();
        assert_eq!(t.columns, ["_c0", "_c1", "_c2", "_c3"]);
        assert!(t.positional);
        assert_eq!(
            t.rows[0],
            vec![
                Some("0.0363".into()),
                Some("132".into()),
                Some("10".into()),
                Some("182.9".into())
            ]
        );
    }

    #[test]
    fn json_base64_shadow_and_window() {
        let input = base64::engine::general_purpose::STANDARD.encode(r#"{"b": 2, "a": "x"}"#);
        let rec = format!(
            r#"{{"captureData":{{"endpointInput":{{"observedContentType":"application/json","mode":"INPUT","data":"{input}","encoding":"BASE64"}},"endpointOutput":{{"observedContentType":"application/json","mode":"OUTPUT","data":"[0.7]","encoding":"JSON"}}}},"eventMetadata":{{"inferenceTime":"2022-04-18T01:00:00Z"}}}}"#
        );
        let shadow = REC.replace(
            "\"eventId\"",
            "\"invocationSource\":\"ShadowExperiment\",\"eventId\"",
        );
        let t = rebuild([rec.as_str(), shadow.as_str()], &CaptureOptions::default()).unwrap();
        // Keys keep the order of the document.
        assert_eq!(t.columns, ["_c0", "b", "a"]);
        assert_eq!(
            t.rows,
            vec![vec![Some("0.7".into()), Some("2".into()), Some("x".into())]]
        );
        let start = parse_time("2022-04-18T00:00:00Z");
        let opts = CaptureOptions {
            start,
            end: start.map(|s| s + 3600),
            columns: None,
        };
        let t = rebuild([rec.as_str(), REC], &opts).unwrap();
        assert_eq!(
            t.rows.len(),
            1,
            "only the 00:21:48 record is in [00:00, 01:00)"
        );
        assert_eq!(t.rows[0][0].as_deref(), Some("0.0363"));
    }

    #[test]
    fn configured_mapping_and_errors() {
        let opts = CaptureOptions {
            columns: Some(vec!["churn".into(), "x".into(), "y".into(), "z".into()]),
            ..CaptureOptions::default()
        };
        let t = rebuild([REC], &opts).unwrap();
        assert_eq!(t.columns, ["churn", "x", "y", "z"]);
        assert!(!t.positional);
        let e = rebuild(["{\"captureData\": {}}"], &CaptureOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "capture: line 1: captureData holds neither endpointInput nor endpointOutput"
        );
        let e = rebuild(["not json"], &CaptureOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("capture: line 1: invalid JSON"),
            "{e}"
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2022-04-18T00:21:48.123Z"), Some(1_650_241_308));
        assert_eq!(civil_from_days(1_650_241_308 / 86_400), (2022, 4, 18));
        assert_eq!(parse_time("2022-04-18 00:21:48"), None);
    }
}
