//! AWS Query: form-encoded parameters (`A.B.member.1.C=v`) into a [`Node`], and
//! XML responses and errors.

use crate::error::ApiError;
use crate::node::Node;
use std::collections::BTreeMap;
use std::fmt::Write;

pub const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// Largest list index accepted (`member.N`).
const MAX_INDEX: usize = 10_000;

#[derive(Default)]
struct Tree {
    value: Option<String>,
    children: BTreeMap<String, Tree>,
}

/// The parsed parameters: `Action`, `Version` and the input structure.
pub struct QueryRequest {
    pub action: String,
    pub input: Node,
}

/// Parses a form body (or a GET query string).
pub fn decode(form: &[u8]) -> Result<QueryRequest, ApiError> {
    if std::str::from_utf8(form).is_err() {
        return Err(ApiError::serialization("the form body is not UTF-8"));
    }
    let mut root = Tree::default();
    let mut action = None;
    for (k, v) in form_urlencoded::parse(form) {
        match k.as_ref() {
            "Action" => action = Some(v.into_owned()),
            "Version" => {
                if v != "2010-08-01" {
                    return Err(ApiError::invalid(format!("unsupported API version {v}")));
                }
            }
            k if k.starts_with("X-Amz-") => {}
            k => {
                if k.is_empty() || k.split('.').any(str::is_empty) || k.len() > 1024 {
                    return Err(ApiError::serialization(format!(
                        "malformed parameter name {k:?}"
                    )));
                }
                let mut node = &mut root;
                for part in k.split('.') {
                    node = node.children.entry(part.to_string()).or_default();
                }
                node.value = Some(v.into_owned());
            }
        }
    }
    let action = action.ok_or_else(|| ApiError::missing("The parameter Action is required."))?;
    Ok(QueryRequest {
        action,
        input: convert(&root, "")?,
    })
}

fn index(s: &str, path: &str) -> Result<usize, ApiError> {
    match s.parse::<usize>() {
        Ok(i) if (1..=MAX_INDEX).contains(&i) => Ok(i),
        _ => Err(ApiError::serialization(format!(
            "bad list index {s:?} in {path}"
        ))),
    }
}

fn convert(t: &Tree, path: &str) -> Result<Node, ApiError> {
    if t.children.is_empty() {
        return Ok(Node::Str(t.value.clone().unwrap_or_default()));
    }
    if t.children.len() == 1 {
        if let Some(members) = t.children.get("member") {
            let mut items: Vec<(usize, &Tree)> = Vec::new();
            for (k, v) in &members.children {
                items.push((index(k, path)?, v));
            }
            items.sort_by_key(|(i, _)| *i);
            let mut out = Vec::with_capacity(items.len());
            for (_, child) in items {
                out.push(convert(child, path)?);
            }
            return Ok(Node::List(out));
        }
        if let Some(entries) = t.children.get("entry") {
            let mut items: Vec<(usize, &Tree)> = Vec::new();
            for (k, v) in &entries.children {
                items.push((index(k, path)?, v));
            }
            items.sort_by_key(|(i, _)| *i);
            let mut out = Vec::new();
            for (_, e) in items {
                let key = e
                    .children
                    .get("key")
                    .and_then(|k| k.value.clone())
                    .ok_or_else(|| {
                        ApiError::serialization(format!("map entry without key in {path}"))
                    })?;
                let value = match e.children.get("value") {
                    Some(v) => convert(v, path)?,
                    None => Node::Null,
                };
                out.push((key, value));
            }
            return Ok(Node::Map(out));
        }
    }
    let mut members = Vec::new();
    for (k, v) in &t.children {
        let p = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        let n = convert(v, &p)?;
        members.push((k.clone(), n));
    }
    Ok(Node::Struct(members))
}

/// Escapes XML text.
pub fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, n: &Node) {
    match n {
        Node::Null => {}
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Float(f) => {
            if f.is_nan() {
                out.push_str("NaN");
            } else if f.is_infinite() {
                out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
            } else {
                let _ = write!(out, "{f}");
            }
        }
        Node::Str(s) => escape(out, s),
        Node::Time(ms) => out.push_str(&mw_model::time::format_iso8601_ms(*ms)),
        Node::Bytes(b) => out.push_str(&hex::encode(b)),
        Node::List(items) => {
            for item in items {
                out.push_str("<member>");
                write_value(out, item);
                out.push_str("</member>");
            }
        }
        Node::Struct(m) => {
            for (k, v) in m {
                let _ = write!(out, "<{k}>");
                write_value(out, v);
                let _ = write!(out, "</{k}>");
            }
        }
        Node::Map(m) => {
            for (k, v) in m {
                out.push_str("<entry><key>");
                escape(out, k);
                out.push_str("</key><value>");
                write_value(out, v);
                out.push_str("</value></entry>");
            }
        }
    }
}

/// The XML response of `op`; `output` is `None` for operations without output.
pub fn encode(op: &str, output: Option<&Node>, request_id: &str) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "<{op}Response xmlns=\"{XMLNS}\">");
    if let Some(n) = output {
        let _ = write!(out, "<{op}Result>");
        write_value(&mut out, n);
        let _ = write!(out, "</{op}Result>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>"
    );
    out.into_bytes()
}

/// The XML error body.
pub fn encode_error(err: &ApiError, request_id: &str) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{}</Type><Code>{}</Code><Message>",
        err.code.fault(),
        err.code.query_code()
    );
    escape(&mut out, &err.message);
    let _ = write!(
        out,
        "</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_lists_and_structures_from_the_captured_form() {
        let body = b"Action=PutMetricData&Version=2010-08-01&Namespace=MyApp%2FTest&MetricData.member.1.MetricName=Latency&MetricData.member.1.Dimensions.member.1.Name=Service&MetricData.member.1.Dimensions.member.1.Value=api&MetricData.member.1.Timestamp=2025-01-02T03%3A04%3A05Z&MetricData.member.1.Value=12.5&MetricData.member.2.Values.member.1=1.0&MetricData.member.2.Counts.member.1=3.0&MetricData.member.10.MetricName=Tenth";
        let q = decode(body).unwrap();
        assert_eq!(q.action, "PutMetricData");
        assert_eq!(q.input.get("Namespace"), Some(&Node::str("MyApp/Test")));
        let Some(Node::List(data)) = q.input.get("MetricData") else {
            panic!("no list")
        };
        assert_eq!(data.len(), 3);
        assert_eq!(data[2].get("MetricName"), Some(&Node::str("Tenth")));
        let dims = data[0].get("Dimensions").unwrap();
        assert_eq!(
            dims,
            &Node::List(vec![Node::Struct(vec![
                ("Name".into(), Node::str("Service")),
                ("Value".into(), Node::str("api"))
            ])])
        );
    }

    #[test]
    fn rejects_malformed_forms() {
        assert!(decode(b"Namespace=x").is_err());
        assert!(decode(b"Action=X&A.member.0=1").is_err());
        assert!(decode(b"Action=X&A.member.abc=1").is_err());
        assert!(decode(b"Action=X&A..B=1").is_err());
        assert!(decode(b"Action=X&Version=2099-01-01").is_err());
        assert!(decode(b"Action=X&A\xff=1").is_err());
    }

    #[test]
    fn writes_maps_lists_and_errors() {
        let n = Node::object().with(
            "Datapoints",
            Node::List(vec![Node::object()
                .with("Timestamp", Node::Time(1_735_787_040_000))
                .with(
                    "ExtendedStatistics",
                    Node::Map(vec![("p99".into(), Node::Float(12.0))]),
                )]),
        );
        let xml = String::from_utf8(encode("GetMetricStatistics", Some(&n), "r1")).unwrap();
        assert!(xml.contains("<Datapoints><member><Timestamp>2025-01-02T03:04:00.000Z</Timestamp><ExtendedStatistics><entry><key>p99</key><value>12</value></entry></ExtendedStatistics></member></Datapoints>"), "{xml}");
        let e = encode_error(&ApiError::invalid("a < b"), "r2");
        let e = String::from_utf8(e).unwrap();
        assert!(e.contains("<Code>InvalidParameterValue</Code><Message>a &lt; b</Message>"));
    }
}
