//! Smithy RPC v2 CBOR bodies: CBOR into a [`Node`] (tag 1 = timestamp), and back.

use crate::error::ApiError;
use crate::node::Node;
use ciborium::value::{Integer, Value};

/// Deepest nesting accepted in a request.
const MAX_DEPTH: usize = 64;

fn convert(v: Value, depth: usize) -> Result<Node, ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::serialization(
            "the CBOR body is nested too deeply",
        ));
    }
    Ok(match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(b),
        Value::Integer(i) => {
            let wide: i128 = i.into();
            match i64::try_from(wide) {
                Ok(i) => Node::Int(i),
                Err(_) => Node::Float(wide as f64),
            }
        }
        Value::Float(f) => Node::Float(f),
        Value::Text(s) => Node::Str(s),
        Value::Bytes(b) => Node::Bytes(b),
        Value::Array(items) => Node::List(
            items
                .into_iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let mut members = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let Value::Text(k) = k else {
                    return Err(ApiError::serialization(
                        "CBOR map keys must be text strings",
                    ));
                };
                members.push((k, convert(v, depth + 1)?));
            }
            Node::Struct(members)
        }
        Value::Tag(1, inner) => {
            let secs = match *inner {
                Value::Integer(i) => i128::from(i) as f64,
                Value::Float(f) => f,
                _ => {
                    return Err(ApiError::serialization(
                        "a CBOR timestamp (tag 1) must wrap a number",
                    ))
                }
            };
            if !secs.is_finite() || secs.abs() > 1e13 {
                return Err(ApiError::serialization(
                    "the CBOR timestamp is out of range",
                ));
            }
            Node::Time((secs * 1000.0).round() as i64)
        }
        Value::Tag(t, _) => {
            return Err(ApiError::serialization(format!("unsupported CBOR tag {t}")));
        }
        _ => return Err(ApiError::serialization("unsupported CBOR value")),
    })
}

/// Parses a request body; an empty body is an empty structure.
pub fn decode(body: &[u8]) -> Result<Node, ApiError> {
    if body.is_empty() {
        return Ok(Node::object());
    }
    let mut cursor = std::io::Cursor::new(body);
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut cursor, MAX_DEPTH + 8)
        .map_err(|e| {
        ApiError::serialization(format!("the request body is not valid CBOR: {e}"))
    })?;
    if cursor.position() as usize != body.len() {
        return Err(ApiError::serialization(
            "trailing bytes after the CBOR body",
        ));
    }
    match convert(value, 0)? {
        n @ Node::Struct(_) => Ok(n),
        _ => Err(ApiError::serialization(
            "the request body must be a CBOR map",
        )),
    }
}

fn to_value(n: &Node) -> Value {
    match n {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::Integer(Integer::from(*i)),
        Node::Float(f) => Value::Float(*f),
        Node::Str(s) => Value::Text(s.clone()),
        Node::Bytes(b) => Value::Bytes(b.clone()),
        Node::Time(ms) => {
            let inner = if ms % 1000 == 0 {
                Value::Integer(Integer::from(ms / 1000))
            } else {
                Value::Float(*ms as f64 / 1000.0)
            };
            Value::Tag(1, Box::new(inner))
        }
        Node::List(items) => Value::Array(items.iter().map(to_value).collect()),
        Node::Struct(m) | Node::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Value::Text(k.clone()), to_value(v)))
                .collect(),
        ),
    }
}

/// Serializes a response.
pub fn encode(n: &Node) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&to_value(n), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_captured_put_metric_data_body() {
        // wire_examples.txt section C, PutMetricData from botocore.
        let hex_body = "a2694e616d6573706163656a4d794170702f546573746a4d65747269634461746181a66a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7381a2644e616d6567536572766963656556616c7565636170696954696d657374616d70c11a677602256556616c7565fb402900000000000064556e69746c4d696c6c697365636f6e64737153746f726167655265736f6c7574696f6e01";
        let n = decode(&hex::decode(hex_body).unwrap()).unwrap();
        assert_eq!(n.get("Namespace"), Some(&Node::str("MyApp/Test")));
        let Some(Node::List(data)) = n.get("MetricData") else {
            panic!("no MetricData")
        };
        assert_eq!(
            data[0].get("Timestamp"),
            Some(&Node::Time(1_735_787_045_000))
        );
        assert_eq!(data[0].get("Value"), Some(&Node::Float(12.5)));
        assert_eq!(data[0].get("StorageResolution"), Some(&Node::Int(1)));
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            &b"\xa1"[..],
            b"\xff",
            b"\x01",
            b"\xa1\x01\x02",
            b"\xa0\x00",
            b"\xc2\x41\x00",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trips_timestamps_as_tag_one() {
        let n = Node::object()
            .with("T", Node::Time(1_500))
            .with("V", Node::Float(1.5));
        let back = decode(&encode(&n)).unwrap();
        assert_eq!(back.get("T"), Some(&Node::Time(1_500)));
        assert_eq!(back.get("V"), Some(&Node::Float(1.5)));
    }
}
