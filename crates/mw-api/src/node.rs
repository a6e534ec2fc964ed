//! [`Node`]: the protocol-neutral value tree that every wire format decodes into
//! and encodes from, and [`Input`], typed access to a request's members with
//! AWS-style parameter paths in errors.

use crate::error::ApiError;
use mw_model::time::parse_iso8601;

/// A decoded request or a response to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A timestamp (epoch milliseconds).
    Time(i64),
    Bytes(Vec<u8>),
    List(Vec<Node>),
    /// A structure: members in order.
    Struct(Vec<(String, Node)>),
    /// A string-keyed map (XML encodes it as entry/key/value).
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Struct(m) | Node::Map(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A builder for response structures.
    pub fn object() -> Node {
        Node::Struct(Vec::new())
    }

    /// Adds a member (builder style); `Null` members are left out.
    pub fn with(mut self, name: &str, value: Node) -> Node {
        if let (Node::Struct(m) | Node::Map(m), false) = (&mut self, value == Node::Null) {
            m.push((name.to_string(), value));
        }
        self
    }

    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
}

/// Typed, path-aware access to one structure of a request.
#[derive(Clone)]
pub struct Input<'a> {
    node: &'a Node,
    path: String,
}

fn type_error(path: &str, want: &str) -> ApiError {
    ApiError::serialization(format!("the value of {path} must be {want}"))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Parses a number that may arrive as a JSON number, a CBOR float or a query
/// string (botocore sends NaN/Infinity as strings).
fn as_f64(node: &Node) -> Option<f64> {
    match node {
        Node::Int(i) => Some(*i as f64),
        Node::Float(f) => Some(*f),
        Node::Str(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.trim().parse::<f64>().ok(),
        },
        _ => None,
    }
}

impl<'a> Input<'a> {
    pub fn root(node: &'a Node) -> Input<'a> {
        Input {
            node,
            path: String::new(),
        }
    }

    pub fn node(&self) -> &'a Node {
        self.node
    }

    fn member(&self, name: &str) -> Option<&'a Node> {
        match self.node.get(name) {
            None | Some(Node::Null) => None,
            Some(n) => Some(n),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.member(name).is_some()
    }

    pub fn str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.member(name) {
            None => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s)),
            Some(_) => Err(type_error(&join(&self.path, name), "a string")),
        }
    }

    pub fn req_str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.str(name)?.ok_or_else(|| missing(&self.path, name))
    }

    pub fn f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.member(name) {
            None => Ok(None),
            Some(n) => as_f64(n)
                .map(Some)
                .ok_or_else(|| type_error(&join(&self.path, name), "a number")),
        }
    }

    pub fn req_f64(&self, name: &str) -> Result<f64, ApiError> {
        self.f64(name)?.ok_or_else(|| missing(&self.path, name))
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.f64(name)? {
            None => Ok(None),
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            Some(_) => Err(type_error(&join(&self.path, name), "an integer")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.member(name) {
            None => Ok(None),
            Some(Node::Bool(b)) => Ok(Some(*b)),
            Some(Node::Str(s)) if s == "true" => Ok(Some(true)),
            Some(Node::Str(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(type_error(&join(&self.path, name), "a boolean")),
        }
    }

    /// A timestamp as epoch milliseconds: epoch seconds (number), CBOR tag 1, or
    /// an ISO-8601 string (query protocol).
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let bad = || type_error(&join(&self.path, name), "a timestamp");
        match self.member(name) {
            None => Ok(None),
            Some(Node::Time(ms)) => Ok(Some(*ms)),
            Some(Node::Int(s)) => s.checked_mul(1000).map(Some).ok_or_else(bad),
            Some(Node::Float(f)) if f.is_finite() && f.abs() < 1e13 => {
                Ok(Some((f * 1000.0).round() as i64))
            }
            Some(Node::Str(s)) => match parse_iso8601(s) {
                Some(ms) => Ok(Some(ms)),
                None => s
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.abs() < 1e13)
                    .map(|f| Some((f * 1000.0).round() as i64))
                    .ok_or_else(bad),
            },
            Some(_) => Err(bad()),
        }
    }

    pub fn req_time(&self, name: &str) -> Result<i64, ApiError> {
        self.time(name)?.ok_or_else(|| missing(&self.path, name))
    }

    /// A list member; each element comes with its path (`Name.member.N`).
    pub fn list(&self, name: &str) -> Result<Option<Vec<(String, &'a Node)>>, ApiError> {
        match self.member(name) {
            None => Ok(None),
            Some(Node::List(items)) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("{}.member.{}", join(&self.path, name), i + 1), n))
                    .collect(),
            )),
            // The query protocol sends an empty list as `Name=`.
            Some(Node::Str(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(_) => Err(type_error(&join(&self.path, name), "a list")),
        }
    }

    /// A list of strings.
    pub fn str_list(&self, name: &str) -> Result<Option<Vec<&'a str>>, ApiError> {
        let Some(items) = self.list(name)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|(p, n)| match n {
                Node::Str(s) => Ok(s.as_str()),
                _ => Err(type_error(&p, "a string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A nested structure.
    pub fn structure(&self, name: &str) -> Result<Option<Input<'a>>, ApiError> {
        match self.member(name) {
            None => Ok(None),
            Some(n @ (Node::Struct(_) | Node::Map(_))) => Ok(Some(Input {
                node: n,
                path: join(&self.path, name),
            })),
            Some(_) => Err(type_error(&join(&self.path, name), "a structure")),
        }
    }

    /// Views `node` (a list element) as a structure with `path`.
    pub fn element(node: &'a Node, path: String) -> Result<Input<'a>, ApiError> {
        match node {
            Node::Struct(_) | Node::Map(_) => Ok(Input { node, path }),
            _ => Err(type_error(&path, "a structure")),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

fn missing(path: &str, name: &str) -> ApiError {
    ApiError::missing(format!("The parameter {} is required.", join(path, name)))
}

/// Reads a [`Node`] through serde, so typed inputs can be built from a decoded
/// Query request the same way they are built from JSON or CBOR bytes. Query
/// values are all strings; the typed fields accept numbers written as strings.
pub struct NodeDe<'a>(pub &'a Node);

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for NodeDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::de::Deserializer<'de> for NodeDe<'de> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        use serde::de::value::{MapDeserializer, SeqDeserializer};
        match self.0 {
            Node::Null => v.visit_unit(),
            Node::Bool(b) => v.visit_bool(*b),
            Node::Int(i) => v.visit_i64(*i),
            Node::Float(f) => v.visit_f64(*f),
            Node::Str(s) => v.visit_borrowed_str(s),
            Node::Time(ms) => v.visit_f64(*ms as f64 / 1000.0),
            Node::Bytes(b) => v.visit_borrowed_bytes(b),
            Node::List(items) => v.visit_seq(SeqDeserializer::new(items.iter().map(NodeDe))),
            Node::Struct(m) | Node::Map(m) => {
                v.visit_map(MapDeserializer::new(m.iter().map(|(k, val)| {
                    (
                        serde::de::value::BorrowedStrDeserializer::new(k.as_str()),
                        NodeDe(val),
                    )
                })))
            }
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Node::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            // The query protocol sends an empty list as `Name=`.
            Node::Str(s) if s.is_empty() => {
                v.visit_seq(serde::de::value::SeqDeserializer::new(std::iter::empty::<
                    NodeDe,
                >()))
            }
            _ => self.deserialize_any(v),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
