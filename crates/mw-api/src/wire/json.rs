//! AWS JSON 1.0 bodies: JSON text straight into a [`Node`], and back.

use crate::error::ApiError;
use crate::node::Node;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write};

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v)
            .map(Node::Int)
            .unwrap_or(Node::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Node, E> {
        Ok(Node::Bytes(v))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Node::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            members.push((k, v));
        }
        Ok(Node::Struct(members))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// Parses a request body; an empty body is an empty structure.
pub fn decode(body: &[u8]) -> Result<Node, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Node::object());
    }
    let node: Node = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("the request body is not valid JSON: {e}")))?;
    match node {
        Node::Struct(_) => Ok(node),
        _ => Err(ApiError::serialization(
            "the request body must be a JSON object",
        )),
    }
}

/// Writes `f` the way botocore reads doubles (non-finite as strings).
pub fn write_f64(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{}.0", f as i64);
    } else {
        let _ = write!(out, "{f}");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_node(out: &mut String, n: &Node) {
    match n {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Float(f) => write_f64(out, *f),
        Node::Str(s) => write_str(out, s),
        Node::Time(ms) => {
            if ms % 1000 == 0 {
                let _ = write!(out, "{}", ms / 1000);
            } else {
                let _ = write!(out, "{}", *ms as f64 / 1000.0);
            }
        }
        Node::Bytes(b) => write_str(out, &hex::encode(b)),
        Node::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(out, item);
            }
            out.push(']');
        }
        Node::Struct(m) | Node::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_node(out, v);
            }
            out.push('}');
        }
    }
}

/// Serializes a response.
pub fn encode(n: &Node) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    write_node(&mut out, n);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_nested_members_and_special_doubles() {
        let n = decode(br#"{"A": [1, 2.5, "NaN"], "B": {"C": true, "D": null}}"#).unwrap();
        assert_eq!(
            n.get("A"),
            Some(&Node::List(vec![
                Node::Int(1),
                Node::Float(2.5),
                Node::str("NaN")
            ]))
        );
        assert_eq!(n.get("B").and_then(|b| b.get("C")), Some(&Node::Bool(true)));
        assert_eq!(decode(b"").unwrap(), Node::object());
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            &b"{"[..],
            b"[1,2]",
            b"{\"a\":}",
            b"nul",
            b"{\"a\":1}x",
            b"\xff\xfe",
        ] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code, crate::error::Code::Serialization);
        }
    }

    #[test]
    fn encodes_times_as_epoch_seconds() {
        let n = Node::object()
            .with("T", Node::Time(1_735_787_045_000))
            .with("U", Node::Time(1_735_787_045_500))
            .with("V", Node::Float(2.0))
            .with("S", Node::str("a\"b"));
        assert_eq!(
            String::from_utf8(encode(&n)).unwrap(),
            r#"{"T":1735787045,"U":1735787045.5,"V":2.0,"S":"a\"b"}"#
        );
    }
}
