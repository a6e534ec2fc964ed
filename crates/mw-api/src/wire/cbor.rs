//! Smithy RPC v2 CBOR bodies.
//!
//! Decoding is a small serde `Deserializer` over the body slice, so operations
//! can read typed inputs straight from the bytes (strings are borrowed, nothing
//! is copied twice) and everything else goes through [`Node`]. Tag 1 (epoch
//! seconds) is passed through as its number, which [`crate::node::Input::time`]
//! and the typed timestamp fields read as seconds. Encoding writes CBOR by hand:
//! definite lengths, float64 doubles, tag 1 timestamps.

use crate::error::ApiError;
use crate::node::Node;
use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Deepest nesting accepted in a request.
pub const MAX_DEPTH: usize = 64;

/// A CBOR syntax or type error.
#[derive(Debug)]
pub struct CborError(String);

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CborError {}

impl de::Error for CborError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CborError(msg.to_string())
    }
}

/// Deserializes one CBOR data item from a byte slice.
pub struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    depth: usize,
}

const BREAK: u8 = 0xff;

impl<'de> Deserializer<'de> {
    pub fn new(input: &'de [u8]) -> Self {
        Deserializer {
            input,
            pos: 0,
            depth: 0,
        }
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn err<T>(&self, msg: &str) -> Result<T, CborError> {
        Err(CborError(format!("{msg} at byte {}", self.pos)))
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        match self.input.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => self.err("unexpected end of CBOR input"),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn take(&mut self, n: u64) -> Result<&'de [u8], CborError> {
        if n > self.remaining() as u64 {
            return self.err("CBOR length runs past the end of the input");
        }
        let s = &self.input[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// The argument of a head with additional info `info`; `None` = indefinite.
    fn argument(&mut self, info: u8) -> Result<Option<u64>, CborError> {
        Ok(Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().expect("2 bytes"),
            )),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")),
            31 => return Ok(None),
            _ => return self.err("reserved CBOR additional information"),
        }))
    }

    fn enter(&mut self) -> Result<(), CborError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("CBOR input is nested too deeply");
        }
        Ok(())
    }

    /// Concatenates the chunks of an indefinite-length string of `major` type.
    fn chunks(&mut self, major: u8) -> Result<Vec<u8>, CborError> {
        let mut out = Vec::new();
        loop {
            let b = self.byte()?;
            if b == BREAK {
                return Ok(out);
            }
            if b >> 5 != major {
                return self.err("bad chunk in an indefinite-length CBOR string");
            }
            match self.argument(b & 0x1f)? {
                Some(n) => out.extend_from_slice(self.take(n)?),
                None => return self.err("nested indefinite-length CBOR string"),
            }
        }
    }
}

fn half_to_f64(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x3ff);
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 => {
            if mant == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1024.0 + mant) * 2f64.powi(i32::from(e) - 25),
    };
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = CborError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CborError> {
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => match self.argument(info)? {
                Some(n) => visitor.visit_u64(n),
                None => self.err("indefinite-length integer"),
            },
            1 => match self.argument(info)? {
                Some(n) if n <= i64::MAX as u64 => visitor.visit_i64(-1 - n as i64),
                Some(n) => visitor.visit_f64(-1.0 - n as f64),
                None => self.err("indefinite-length integer"),
            },
            2 => match self.argument(info)? {
                Some(n) => visitor.visit_borrowed_bytes(self.take(n)?),
                None => visitor.visit_byte_buf(self.chunks(2)?),
            },
            3 => match self.argument(info)? {
                Some(n) => {
                    let raw = self.take(n)?;
                    match std::str::from_utf8(raw) {
                        Ok(s) => visitor.visit_borrowed_str(s),
                        Err(_) => self.err("CBOR text string is not UTF-8"),
                    }
                }
                None => match String::from_utf8(self.chunks(3)?) {
                    Ok(s) => visitor.visit_string(s),
                    Err(_) => self.err("CBOR text string is not UTF-8"),
                },
            },
            4 => {
                let len = self.argument(info)?;
                self.enter()?;
                let v = visitor.visit_seq(Items {
                    de: self,
                    left: len,
                })?;
                self.depth -= 1;
                Ok(v)
            }
            5 => {
                let len = self.argument(info)?;
                self.enter()?;
                let v = visitor.visit_map(Items {
                    de: self,
                    left: len,
                })?;
                self.depth -= 1;
                Ok(v)
            }
            6 => {
                let tag = self.argument(info)?;
                if tag != Some(1) {
                    return self.err("unsupported CBOR tag (only tag 1, epoch time, is accepted)");
                }
                match self.peek() {
                    Some(b) if matches!(b >> 5, 0 | 1) || matches!(b, 0xf9..=0xfb) => {}
                    _ => return self.err("a CBOR timestamp (tag 1) must wrap a number"),
                }
                self.enter()?;
                let v = self.deserialize_any(visitor)?;
                self.depth -= 1;
                Ok(v)
            }
            _ => match info {
                20 => visitor.visit_bool(false),
                21 => visitor.visit_bool(true),
                22 | 23 => visitor.visit_unit(),
                25 => {
                    let h = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes"));
                    visitor.visit_f64(half_to_f64(h))
                }
                26 => {
                    let f = f32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
                    visitor.visit_f64(f64::from(f))
                }
                27 => {
                    let f = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                    visitor.visit_f64(f)
                }
                31 => self.err("unexpected CBOR break"),
                _ => self.err("unsupported CBOR simple value"),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CborError> {
        match self.peek() {
            Some(0xf6 | 0xf7) => {
                self.pos += 1;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CborError> {
        self.deserialize_any(de::IgnoredAny)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

/// The elements of an array (or the entries of a map), definite or not.
struct Items<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: Option<u64>,
}

impl Items<'_, '_> {
    fn more(&mut self) -> Result<bool, CborError> {
        match &mut self.left {
            Some(0) => Ok(false),
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None => {
                if self.de.peek() == Some(BREAK) {
                    self.de.pos += 1;
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
        }
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = CborError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CborError> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        // Never trust a claimed length beyond what the input could hold.
        self.left
            .map(|n| n.min(self.de.remaining() as u64) as usize)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = CborError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CborError> {
        if !self.more()? {
            return Ok(None);
        }
        match self.de.peek() {
            Some(b) if b >> 5 == 3 => seed.deserialize(&mut *self.de).map(Some),
            _ => self.de.err("CBOR map keys must be text strings"),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, CborError> {
        seed.deserialize(&mut *self.de)
    }
    fn size_hint(&self) -> Option<usize> {
        self.left
            .map(|n| n.min(self.de.remaining() as u64 / 2) as usize)
    }
}

/// Deserializes a typed request body, checking that nothing trails it.
pub fn from_slice<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, ApiError> {
    let mut de = Deserializer::new(body);
    let v = T::deserialize(&mut de)
        .map_err(|e| ApiError::serialization(format!("the request body is not valid CBOR: {e}")))?;
    if de.remaining() != 0 {
        return Err(ApiError::serialization(
            "trailing bytes after the CBOR body",
        ));
    }
    Ok(v)
}

/// Parses a request body into a [`Node`]; an empty body is an empty structure.
pub fn decode(body: &[u8]) -> Result<Node, ApiError> {
    if body.is_empty() {
        return Ok(Node::object());
    }
    match from_slice::<Node>(body)? {
        n @ Node::Struct(_) => Ok(n),
        _ => Err(ApiError::serialization(
            "the request body must be a CBOR map",
        )),
    }
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xff {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64);
    } else {
        head(out, 1, (-1 - i) as u64);
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn write(out: &mut Vec<u8>, n: &Node) {
    match n {
        Node::Null => out.push(0xf6),
        Node::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Node::Int(i) => int(out, *i),
        Node::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Node::Str(s) => text(out, s),
        Node::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Node::Time(ms) => {
            out.push(0xc1);
            if ms % 1000 == 0 {
                int(out, ms / 1000);
            } else {
                out.push(0xfb);
                out.extend_from_slice(&(*ms as f64 / 1000.0).to_be_bytes());
            }
        }
        Node::List(items) => {
            head(out, 4, items.len() as u64);
            for i in items {
                write(out, i);
            }
        }
        Node::Struct(m) | Node::Map(m) => {
            head(out, 5, m.len() as u64);
            for (k, v) in m {
                text(out, k);
                write(out, v);
            }
        }
    }
}

/// Serializes a response.
pub fn encode(n: &Node) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_captured_put_metric_data_body() {
        // wire_examples.txt section C, PutMetricData from botocore (first datum).
        let hex_body = "a2694e616d6573706163656a4d794170702f546573746a4d65747269634461746181a66a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7381a2644e616d6567536572766963656556616c7565636170696954696d657374616d70c11a677602256556616c7565fb402900000000000064556e69746c4d696c6c697365636f6e64737153746f726167655265736f6c7574696f6e01";
        let n = decode(&hex::decode(hex_body).unwrap()).unwrap();
        assert_eq!(n.get("Namespace"), Some(&Node::str("MyApp/Test")));
        let Some(Node::List(data)) = n.get("MetricData") else {
            panic!("no MetricData")
        };
        assert_eq!(data[0].get("Timestamp"), Some(&Node::Int(1_735_787_045)));
        assert_eq!(data[0].get("Value"), Some(&Node::Float(12.5)));
        assert_eq!(data[0].get("StorageResolution"), Some(&Node::Int(1)));
    }

    #[test]
    fn reads_indefinite_lengths_half_floats_and_negatives() {
        // {_ "a": [_ 1, -2], "b": 1.5 (half), "c": (_ "x" "y")}
        let body = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0x21, 0xff, 0x61, b'b', 0xf9, 0x3e, 0x00, 0x61, b'c',
            0x7f, 0x61, b'x', 0x61, b'y', 0xff, 0xff,
        ];
        let n = decode(&body).unwrap();
        assert_eq!(
            n.get("a"),
            Some(&Node::List(vec![Node::Int(1), Node::Int(-2)]))
        );
        assert_eq!(n.get("b"), Some(&Node::Float(1.5)));
        assert_eq!(n.get("c"), Some(&Node::str("xy")));
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
            b"\xa1\x61a\xc1\x61x",
            b"\xa1\x61a\x7b\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\xa1\x61a\x9b\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\xa1\x61a\x62\xff\xfe",
            b"\xa1\x61a\xfc",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let deep: Vec<u8> = std::iter::once(0xa1)
            .chain(std::iter::once(0x61))
            .chain(std::iter::once(b'a'))
            .chain(std::iter::repeat_n(0x81, 1000))
            .chain(std::iter::once(0x01))
            .collect();
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn round_trips_through_the_encoder() {
        let n = Node::object()
            .with("T", Node::Time(1_500))
            .with("V", Node::Float(1.5))
            .with("I", Node::Int(-300))
            .with("L", Node::List(vec![Node::str("é"), Node::Bool(true)]));
        let back = decode(&encode(&n)).unwrap();
        assert_eq!(back.get("T"), Some(&Node::Float(1.5)));
        assert_eq!(back.get("V"), Some(&Node::Float(1.5)));
        assert_eq!(back.get("I"), Some(&Node::Int(-300)));
        assert_eq!(back.get("L"), n.get("L"));
        assert_eq!(&encode(&Node::Time(1_735_787_045_000))[..2], &[0xc1, 0x1a]);
    }
}
