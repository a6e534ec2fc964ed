//! Request validation against a schema file, before the model sees a payload.
//!
//! The schema file is JSON with a section per payload kind:
//!
//! ```json
//! {"csv":  {"features": [{"name": "age", "type": "integer"},
//!                        {"name": "income", "type": "float"},
//!                        {"name": "city", "type": "string", "optional": true}]},
//!  "json": {"type": "object", "required": ["features"],
//!           "properties": {"features": {"type": "array", "items": {"type": "number"},
//!                                       "minItems": 3, "maxItems": 3}}}}
//! ```
//!
//! CSV payloads (one row per line) must have exactly the listed features in
//! order, each parsing as its type (`integer`, `float`, `string`, `boolean`);
//! an empty field is only allowed when the feature is `optional`. JSON
//! payloads are checked against the `json` section, a JSON Schema (the
//! draft-07 validation keywords listed in [`JsonSchema`]; a keyword outside
//! that list is refused when the file is loaded, so nothing is silently
//! skipped). [`Schema::check`] returns a message that says where and what is
//! wrong, such as `row 2, field 3 (income): expected float, got "abc"`.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Largest number of rows reported on; more rows are still all checked.
const MAX_MESSAGE_VALUE: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldType {
    Integer,
    Float,
    String,
    Boolean,
}

impl FieldType {
    fn parse(s: &str) -> Option<FieldType> {
        match s.to_ascii_lowercase().as_str() {
            "integer" | "int" | "integral" => Some(FieldType::Integer),
            "float" | "double" | "number" | "fractional" => Some(FieldType::Float),
            "string" | "str" => Some(FieldType::String),
            "boolean" | "bool" => Some(FieldType::Boolean),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }

    fn accepts(self, v: &str) -> bool {
        match self {
            FieldType::Integer => v.parse::<i64>().is_ok(),
            FieldType::Float => v.parse::<f64>().is_ok_and(|f| f.is_finite()),
            FieldType::String => true,
            FieldType::Boolean => {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "false" | "0" | "1"
                )
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Feature {
    name: String,
    ty: FieldType,
    optional: bool,
}

/// A loaded schema file.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    csv: Option<Vec<Feature>>,
    json: Option<JsonSchema>,
}

/// The kind of payload, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Csv,
    Json,
    Other,
}

fn shown(v: &str) -> String {
    if v.chars().count() > MAX_MESSAGE_VALUE {
        let cut: String = v.chars().take(MAX_MESSAGE_VALUE).collect();
        format!("{cut:?}...")
    } else {
        format!("{v:?}")
    }
}

impl Schema {
    /// Parses a schema file's text.
    pub fn parse(text: &str) -> Result<Schema> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("schema file is not JSON: {e}")))?;
        let Value::Object(top) = v else {
            return Err(Error::invalid("schema file must be a JSON object"));
        };
        let mut schema = Schema::default();
        for (k, v) in top {
            match k.as_str() {
                "csv" => schema.csv = Some(parse_csv_section(&v)?),
                "json" => schema.json = Some(JsonSchema::compile(&v, "json")?),
                other => {
                    return Err(Error::invalid(format!(
                        "schema file: unknown section {other:?} (expected \"csv\" and/or \"json\")"
                    )))
                }
            }
        }
        if schema.csv.is_none() && schema.json.is_none() {
            return Err(Error::invalid(
                "schema file must have a \"csv\" or a \"json\" section",
            ));
        }
        Ok(schema)
    }

    pub fn load(path: &std::path::Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading schema file {}", path.display()), e))?;
        Schema::parse(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
    }

    /// `Ok(())` when the payload is valid or its kind has no section.
    pub fn check(&self, kind: PayloadKind, body: &[u8]) -> Result<(), String> {
        match kind {
            PayloadKind::Csv => match &self.csv {
                Some(f) => check_csv(f, body),
                None => Ok(()),
            },
            PayloadKind::Json => match &self.json {
                Some(s) => {
                    let v: Value = serde_json::from_slice(body)
                        .map_err(|e| format!("the payload is not valid JSON: {e}"))?;
                    s.check(&v, "$")
                }
                None => Ok(()),
            },
            PayloadKind::Other => Ok(()),
        }
    }
}

fn parse_csv_section(v: &Value) -> Result<Vec<Feature>> {
    let features = v
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid("csv section: \"features\" must be a list"))?;
    if features.is_empty() || features.len() > 10_000 {
        return Err(Error::invalid("csv section: 1 to 10000 features"));
    }
    let mut out = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("_c{i}"));
        let ty = f
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid(format!("csv feature {name:?}: \"type\" is required")))?;
        let ty = FieldType::parse(ty).ok_or_else(|| {
            Error::invalid(format!(
                "csv feature {name:?}: type {ty:?} is not integer, float, string or boolean"
            ))
        })?;
        let optional = f.get("optional").and_then(Value::as_bool).unwrap_or(false);
        out.push(Feature { name, ty, optional });
    }
    Ok(out)
}

/// Splits one CSV row into fields (RFC 4180 quoting).
fn split_row(row: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = row.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field");
    }
    out.push(cur);
    Ok(out)
}

fn check_csv(features: &[Feature], body: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the CSV payload is not UTF-8".to_string())?;
    let mut rows = 0;
    for (i, row) in text.split('\n').enumerate() {
        let row = row.strip_suffix('\r').unwrap_or(row);
        if row.trim().is_empty() {
            continue;
        }
        rows += 1;
        let n = i + 1;
        let fields = split_row(row).map_err(|e| format!("row {n}: {e}"))?;
        if fields.len() != features.len() {
            return Err(format!(
                "row {n}: expected {} fields, got {}",
                features.len(),
                fields.len()
            ));
        }
        for (j, (v, f)) in fields.iter().zip(features).enumerate() {
            let v = v.trim();
            if v.is_empty() {
                if f.optional {
                    continue;
                }
                return Err(format!(
                    "row {n}, field {} ({}): a value is required",
                    j + 1,
                    f.name
                ));
            }
            if !f.ty.accepts(v) {
                return Err(format!(
                    "row {n}, field {} ({}): expected {}, got {}",
                    j + 1,
                    f.name,
                    f.ty.name(),
                    shown(v)
                ));
            }
        }
    }
    if rows == 0 {
        return Err("the CSV payload has no rows".to_string());
    }
    Ok(())
}

/// A compiled JSON Schema. Supported keywords: `type`, `enum`, `const`,
/// `properties`, `required`, `additionalProperties`, `minProperties`,
/// `maxProperties`, `items` (one schema), `minItems`, `maxItems`,
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `minLength`, `maxLength`, `anyOf`, `allOf`; annotations (`$schema`, `$id`,
/// `title`, `description`, `default`, `examples`, `$comment`) are ignored.
#[derive(Debug, Clone, Default)]
pub struct JsonSchema {
    types: Option<Vec<String>>,
    enum_: Option<Vec<Value>>,
    properties: Vec<(String, JsonSchema)>,
    required: Vec<String>,
    additional: Option<Box<Additional>>,
    min_props: Option<usize>,
    max_props: Option<usize>,
    items: Option<Box<JsonSchema>>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    any_of: Vec<JsonSchema>,
    all_of: Vec<JsonSchema>,
}

#[derive(Debug, Clone)]
enum Additional {
    Allowed(bool),
    Schema(Box<JsonSchema>),
}

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "integer", "string",
];

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}

fn usize_of(v: &Value, at: &str, k: &str) -> Result<usize> {
    v.as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| Error::invalid(format!("{at}: {k} must be a non-negative integer")))
}

fn f64_of(v: &Value, at: &str, k: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| Error::invalid(format!("{at}: {k} must be a number")))
}

fn value_shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > MAX_MESSAGE_VALUE {
        format!(
            "{}...",
            s.chars().take(MAX_MESSAGE_VALUE).collect::<String>()
        )
    } else {
        s
    }
}

impl JsonSchema {
    fn compile(v: &Value, at: &str) -> Result<JsonSchema> {
        let mut s = JsonSchema::default();
        let obj: &Map<String, Value> = match v {
            Value::Object(o) => o,
            Value::Bool(true) => return Ok(s),
            _ => return Err(Error::invalid(format!("{at}: a schema must be an object"))),
        };
        for (k, val) in obj {
            match k.as_str() {
                "$schema" | "$id" | "title" | "description" | "default" | "examples"
                | "$comment" => {}
                "type" => {
                    let list: Vec<String> = match val {
                        Value::String(t) => vec![t.clone()],
                        Value::Array(a) => a
                            .iter()
                            .map(|t| t.as_str().map(str::to_string))
                            .collect::<Option<_>>()
                            .ok_or_else(|| {
                                Error::invalid(format!("{at}: type must be a string or a list"))
                            })?,
                        _ => {
                            return Err(Error::invalid(format!(
                                "{at}: type must be a string or a list"
                            )))
                        }
                    };
                    if let Some(bad) = list.iter().find(|t| !TYPES.contains(&t.as_str())) {
                        return Err(Error::invalid(format!("{at}: unknown type {bad:?}")));
                    }
                    s.types = Some(list);
                }
                "enum" => {
                    s.enum_ = Some(
                        val.as_array()
                            .cloned()
                            .ok_or_else(|| Error::invalid(format!("{at}: enum must be a list")))?,
                    )
                }
                "const" => s.enum_ = Some(vec![val.clone()]),
                "properties" => {
                    let o = val.as_object().ok_or_else(|| {
                        Error::invalid(format!("{at}: properties must be an object"))
                    })?;
                    for (name, sub) in o {
                        s.properties.push((
                            name.clone(),
                            JsonSchema::compile(sub, &format!("{at}.properties.{name}"))?,
                        ));
                    }
                }
                "required" => {
                    s.required = val
                        .as_array()
                        .and_then(|a| {
                            a.iter()
                                .map(|x| x.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(|| {
                            Error::invalid(format!("{at}: required must be a list of names"))
                        })?
                }
                "additionalProperties" => {
                    s.additional = Some(Box::new(match val {
                        Value::Bool(b) => Additional::Allowed(*b),
                        other => Additional::Schema(Box::new(JsonSchema::compile(
                            other,
                            &format!("{at}.additionalProperties"),
                        )?)),
                    }))
                }
                "minProperties" => s.min_props = Some(usize_of(val, at, k)?),
                "maxProperties" => s.max_props = Some(usize_of(val, at, k)?),
                "items" => {
                    s.items = Some(Box::new(JsonSchema::compile(val, &format!("{at}.items"))?))
                }
                "minItems" => s.min_items = Some(usize_of(val, at, k)?),
                "maxItems" => s.max_items = Some(usize_of(val, at, k)?),
                "minimum" => s.minimum = Some(f64_of(val, at, k)?),
                "maximum" => s.maximum = Some(f64_of(val, at, k)?),
                "exclusiveMinimum" => s.exclusive_minimum = Some(f64_of(val, at, k)?),
                "exclusiveMaximum" => s.exclusive_maximum = Some(f64_of(val, at, k)?),
                "minLength" => s.min_length = Some(usize_of(val, at, k)?),
                "maxLength" => s.max_length = Some(usize_of(val, at, k)?),
                "anyOf" | "allOf" => {
                    let list = val
                        .as_array()
                        .ok_or_else(|| Error::invalid(format!("{at}: {k} must be a list")))?
                        .iter()
                        .enumerate()
                        .map(|(i, x)| JsonSchema::compile(x, &format!("{at}.{k}[{i}]")))
                        .collect::<Result<Vec<_>>>()?;
                    if k == "anyOf" {
                        s.any_of = list;
                    } else {
                        s.all_of = list;
                    }
                }
                other => {
                    return Err(Error::invalid(format!(
                        "{at}: JSON Schema keyword {other:?} is not supported"
                    )))
                }
            }
        }
        Ok(s)
    }

    /// Checks `v` found at JSON path `at`; the error names the path.
    pub fn check(&self, v: &Value, at: &str) -> Result<(), String> {
        if let Some(types) = &self.types {
            let t = type_of(v);
            let ok = types
                .iter()
                .any(|want| want == t || (want == "number" && t == "integer"));
            if !ok {
                return Err(format!("{at}: expected {}, got {t}", types.join(" or ")));
            }
        }
        if let Some(e) = &self.enum_ {
            if !e.iter().any(|x| x == v) {
                let allowed: Vec<String> = e.iter().map(value_shown).collect();
                return Err(format!(
                    "{at}: {} is not one of {}",
                    value_shown(v),
                    allowed.join(", ")
                ));
            }
        }
        match v {
            Value::Object(o) => {
                for r in &self.required {
                    if !o.contains_key(r) {
                        return Err(format!("{at}: required property {r:?} is missing"));
                    }
                }
                if let Some(n) = self.min_props {
                    if o.len() < n {
                        return Err(format!("{at}: at least {n} properties required"));
                    }
                }
                if let Some(n) = self.max_props {
                    if o.len() > n {
                        return Err(format!("{at}: at most {n} properties allowed"));
                    }
                }
                for (k, val) in o {
                    let path = format!("{at}.{k}");
                    match self.properties.iter().find(|(n, _)| n == k) {
                        Some((_, sub)) => sub.check(val, &path)?,
                        None => match self.additional.as_deref() {
                            Some(Additional::Allowed(false)) => {
                                return Err(format!("{at}: property {k:?} is not allowed"))
                            }
                            Some(Additional::Schema(sub)) => sub.check(val, &path)?,
                            _ => {}
                        },
                    }
                }
            }
            Value::Array(a) => {
                if let Some(n) = self.min_items {
                    if a.len() < n {
                        return Err(format!(
                            "{at}: expected at least {n} items, got {}",
                            a.len()
                        ));
                    }
                }
                if let Some(n) = self.max_items {
                    if a.len() > n {
                        return Err(format!("{at}: expected at most {n} items, got {}", a.len()));
                    }
                }
                if let Some(items) = &self.items {
                    for (i, x) in a.iter().enumerate() {
                        items.check(x, &format!("{at}[{i}]"))?;
                    }
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if let Some(m) = self.minimum {
                    if x < m {
                        return Err(format!("{at}: {x} is less than the minimum {m}"));
                    }
                }
                if let Some(m) = self.maximum {
                    if x > m {
                        return Err(format!("{at}: {x} is greater than the maximum {m}"));
                    }
                }
                if let Some(m) = self.exclusive_minimum {
                    if x <= m {
                        return Err(format!("{at}: {x} must be greater than {m}"));
                    }
                }
                if let Some(m) = self.exclusive_maximum {
                    if x >= m {
                        return Err(format!("{at}: {x} must be less than {m}"));
                    }
                }
            }
            Value::String(s) => {
                let n = s.chars().count();
                if let Some(m) = self.min_length {
                    if n < m {
                        return Err(format!("{at}: expected at least {m} characters, got {n}"));
                    }
                }
                if let Some(m) = self.max_length {
                    if n > m {
                        return Err(format!("{at}: expected at most {m} characters, got {n}"));
                    }
                }
            }
            _ => {}
        }
        for s in &self.all_of {
            s.check(v, at)?;
        }
        if !self.any_of.is_empty() && !self.any_of.iter().any(|s| s.check(v, at).is_ok()) {
            let first = self.any_of[0].check(v, at).err().unwrap_or_default();
            return Err(format!("{at}: matches none of anyOf (first: {first})"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::parse(
            r#"{"csv": {"features": [{"name": "age", "type": "integer"},
                                     {"name": "income", "type": "float"},
                                     {"name": "city", "type": "string", "optional": true}]},
                "json": {"$schema": "http://json-schema.org/draft-07/schema#",
                         "type": "object", "required": ["features"], "additionalProperties": false,
                         "properties": {"features": {"type": "array", "items": {"type": "number"},
                                                      "minItems": 3, "maxItems": 3},
                                        "mode": {"enum": ["fast", "exact"]}}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn csv_rows_are_checked_field_by_field() {
        let s = schema();
        s.check(PayloadKind::Csv, b"42,1000.5,Paris\n43,1e3,\r\n")
            .unwrap();
        s.check(PayloadKind::Csv, b"42,-3,\"Paris, France\"")
            .unwrap();
        let cases: &[(&[u8], &str)] = &[
            (b"42,1000.5", "row 1: expected 3 fields, got 2"),
            (
                b"42,1,a\n4.5,1,a",
                "row 2, field 1 (age): expected integer, got \"4.5\"",
            ),
            (
                b"42,abc,x",
                "row 1, field 2 (income): expected float, got \"abc\"",
            ),
            (b",1,x", "row 1, field 1 (age): a value is required"),
            (b"1,2,\"open", "row 1: unterminated quoted field"),
            (b"\n\n", "no rows"),
            (&[0xff, 0x2c], "not UTF-8"),
        ];
        for (body, want) in cases {
            let e = s.check(PayloadKind::Csv, body).unwrap_err();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn json_payloads_follow_the_schema() {
        let s = schema();
        s.check(PayloadKind::Json, br#"{"features":[1,2.5,3]}"#)
            .unwrap();
        s.check(PayloadKind::Json, br#"{"features":[1,2,3],"mode":"fast"}"#)
            .unwrap();
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"features":[1,"x",3]}"#,
                "$.features[1]: expected number, got string",
            ),
            (
                br#"{"features":[1,2]}"#,
                "$.features: expected at least 3 items, got 2",
            ),
            (br#"{}"#, "$: required property \"features\" is missing"),
            (
                br#"{"features":[1,2,3],"x":1}"#,
                "$: property \"x\" is not allowed",
            ),
            (
                br#"{"features":[1,2,3],"mode":"slow"}"#,
                "$.mode: \"slow\" is not one of",
            ),
            (br#"[1,2,3]"#, "$: expected object, got array"),
            (br#"{"features":"#, "not valid JSON"),
        ];
        for (body, want) in cases {
            let e = s.check(PayloadKind::Json, body).unwrap_err();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
        // No section for other payloads: they pass.
        s.check(PayloadKind::Other, b"\x00\x01").unwrap();
    }

    #[test]
    fn bad_schema_files_are_refused_at_load() {
        for (text, want) in [
            ("[]", "must be a JSON object"),
            ("{}", "must have a \"csv\" or a \"json\""),
            (r#"{"xml": {}}"#, "unknown section"),
            (
                r#"{"csv": {"features": [{"name": "a", "type": "date"}]}}"#,
                "is not integer",
            ),
            (
                r##"{"json": {"$ref": "#/x"}}"##,
                "\"$ref\" is not supported",
            ),
            (r#"{"json": {"type": "float"}}"#, "unknown type"),
        ] {
            let e = Schema::parse(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn numbers_bounds_and_any_of() {
        let s = Schema::parse(
            r#"{"json": {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 10},
                                                              {"type": "string", "maxLength": 2}]}}}"#,
        )
        .unwrap();
        s.check(PayloadKind::Json, br#"[0, 10, "ab"]"#).unwrap();
        let e = s.check(PayloadKind::Json, br#"[0, 11]"#).unwrap_err();
        assert!(e.starts_with("$[1]: matches none of anyOf"), "{e}");
        assert!(e.contains("greater than the maximum 10"), "{e}");
    }
}
