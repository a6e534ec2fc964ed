//! The one parser and matcher for CloudWatch Logs filter patterns.
//!
//! FilterLogEvents, metric filters, TestMetricFilter and the console all go
//! through [`FilterPattern`]: [`FilterPattern::parse`] once, then
//! [`FilterPattern::matches`] per event, or [`FilterPattern::extract`] to get
//! the fields a metric filter reads (`$.latency`, `$bytes`) as [`Extracted`].
//!
//! The family is chosen by the first non-space character (reference §5):
//! `{` is a JSON pattern ([`PatternKind::Json`]), `[` a space-delimited one
//! ([`PatternKind::Delimited`]), `%` a standalone regex
//! ([`PatternKind::Regex`]), anything else terms ([`PatternKind::Terms`]); an
//! empty or all-whitespace pattern matches everything ([`PatternKind::All`]).
//! Matching is case-sensitive throughout.
//!
//! Decisions where the documentation is silent or ambiguous:
//! - **Terms**: unquoted terms may hold only letters, digits and `_`; other
//!   characters are rejected (quote them). `-` and `?` may be followed by a
//!   space (`"ERROR" - "Exiting"`). `?` terms are ignored when plain or `-`
//!   terms are present. A regex must stand alone: `%re%` followed by more
//!   text is an error.
//! - **Regex**: the `regexp` module documents the accepted subset; `%%` is
//!   rejected; `\d \w \s` are ASCII. At most two regexes per JSON or
//!   space-delimited pattern ([`ErrorKind::LimitExceeded`]).
//! - **Values**: unquoted values hold letters, digits, `_`, `.` and `*` (or
//!   form a number: sign, decimals, exponent); quote anything else. `*` is a
//!   wildcard anywhere in a string, the middle included (`Ev*ent` matches
//!   `Evxent`); `\*` inside quotes is a literal star.
//! - **JSON**: keywords (`IS NULL`, `NOT EXISTS`, ...) are case-insensitive.
//!   A numeric literal compares numerically with JSON numbers and by its text
//!   with JSON strings under `=`/`!=` (`$.code = 200` matches `"code":"200"`);
//!   `< > <= >=` never hold for strings. A string or wildcard compares with a
//!   JSON number's text (`$.n = "2*"` matches `"n":25`). `=`, `!=`, `*`
//!   never hold for booleans, null, objects, arrays or missing keys.
//!   Wildcard selectors: `[*]` iterates arrays, `.*` objects and arrays; a
//!   condition holds when any reached node satisfies it, `NOT EXISTS` when
//!   none is reached. One wildcard per selector, three per pattern.
//! - **Space-delimited**: names are letters, digits and `_` and must be
//!   unique; a condition slot spans one field per distinct name it mentions;
//!   without an ellipsis the last field takes the rest of the line (so
//!   `[w1=ERROR, w2]` matches any line whose first word is `ERROR`), with
//!   one the field count must fit exactly. Numeric literals compare
//!   numerically when the field is a number, textually otherwise.
//!
//! ```ignore
//! let p = FilterPattern::parse(r#"{ $.level = "ERR*" && $.latency > 1e3 }"#)?;
//! let x = p.extract(r#"{"level":"ERROR","latency":1500}"#).expect("matches");
//! assert_eq!(x.get("$.latency"), Some(FieldValue::Number(1500.0)));
//! ```

mod cursor;
mod delimited;
mod error;
mod expr;
mod json;
mod regexp;
mod terms;
mod value;

use std::fmt;

pub use error::{ErrorKind, PatternError};

use cursor::Cursor;
use delimited::DelimitedPattern;
use json::{JsonPattern, Selector};
use terms::Terms;

/// Which family a pattern belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// Empty pattern: every event matches.
    All,
    Terms,
    Regex,
    Json,
    Delimited,
}

/// A parsed filter pattern, cheap to share across threads.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    source: String,
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    All,
    Terms(Terms),
    Regex(Box<regex::Regex>),
    Json(JsonPattern),
    Delimited(DelimitedPattern),
}

impl FilterPattern {
    /// Parses a pattern; "" (or only whitespace) matches every event.
    pub fn parse(s: &str) -> Result<FilterPattern, PatternError> {
        let chars: Vec<char> = s.chars().collect();
        let start = chars.iter().position(|c| !c.is_whitespace());
        let inner = match start.map(|i| (i, chars[i])) {
            None => Inner::All,
            Some((i, '{')) => Inner::Json(JsonPattern::parse(&chars, i)?),
            Some((i, '[')) => Inner::Delimited(DelimitedPattern::parse(&chars, i)?),
            Some((i, '%')) => {
                let mut cur = Cursor::new(&chars, i);
                let re = regexp::parse_delimited(&mut cur)?;
                cur.expect_end("the regex; a regex pattern must stand alone")?;
                Inner::Regex(Box::new(re))
            }
            Some(_) => Inner::Terms(Terms::parse(&chars)?),
        };
        Ok(FilterPattern {
            source: s.to_owned(),
            inner,
        })
    }

    /// Bytes that every matching message contains (the longest plain term of a
    /// term pattern), for scans that search whole blocks before testing events.
    pub fn required_literal(&self) -> Option<&[u8]> {
        match &self.inner {
            Inner::Terms(t) => t.required_literal().filter(|n| !n.is_empty()),
            _ => None,
        }
    }

    /// True when the pattern holds a `%regex%` anywhere (CloudWatch allows at
    /// most five regex-bearing metric filters per log group).
    pub fn uses_regex(&self) -> bool {
        match &self.inner {
            Inner::Regex(_) => true,
            Inner::All | Inner::Terms(_) => false,
            Inner::Json(_) | Inner::Delimited(_) => {
                // An unquoted `%` can only open a regex value in these patterns.
                let mut quoted = false;
                let mut escaped = false;
                for c in self.source.chars() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' if quoted => escaped = true,
                        '"' => quoted = !quoted,
                        '%' if !quoted => return true,
                        _ => {}
                    }
                }
                false
            }
        }
    }

    /// True when the event's message matches.
    pub fn matches(&self, message: &str) -> bool {
        match &self.inner {
            Inner::All => true,
            Inner::Terms(t) => t.matches(message),
            Inner::Regex(r) => r.is_match(message),
            Inner::Json(j) => json::parse_event(message).is_some_and(|e| j.matches_event(&e)),
            Inner::Delimited(d) => d.bind(message).is_some(),
        }
    }

    /// On a match, the captured fields for metric filters: `get("$.a.b")` for
    /// JSON patterns (any JSON path into the event, not only the ones in the
    /// pattern), `get("$name")` for named space-delimited fields. None when
    /// the event doesn't match.
    pub fn extract(&self, message: &str) -> Option<Extracted> {
        let fields = match &self.inner {
            Inner::All | Inner::Terms(_) | Inner::Regex(_) => {
                if !self.matches(message) {
                    return None;
                }
                Fields::None
            }
            Inner::Json(j) => {
                let event = json::parse_event(message)?;
                if !j.matches_event(&event) {
                    return None;
                }
                Fields::Json(event)
            }
            Inner::Delimited(d) => {
                let values = d.bind(message)?;
                Fields::Delimited(
                    d.names()
                        .iter()
                        .zip(values)
                        .map(|(n, v)| (n.clone(), v.to_owned()))
                        .collect(),
                )
            }
        };
        Some(Extracted { fields })
    }

    pub fn kind(&self) -> PatternKind {
        match self.inner {
            Inner::All => PatternKind::All,
            Inner::Terms(_) => PatternKind::Terms,
            Inner::Regex(_) => PatternKind::Regex,
            Inner::Json(_) => PatternKind::Json,
            Inner::Delimited(_) => PatternKind::Delimited,
        }
    }

    /// The pattern text as given to [`FilterPattern::parse`].
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The fields a matching event offers to metric filters.
#[derive(Debug, Clone)]
pub struct Extracted {
    fields: Fields,
}

#[derive(Debug, Clone)]
enum Fields {
    None,
    Json(serde_json::Value),
    /// `(name, value)` in pattern order.
    Delimited(Vec<(String, String)>),
}

impl Extracted {
    /// A field by selector: `$.a.b[0]` for JSON events (the first node when
    /// the selector has a wildcard; `None` for objects and arrays), `$name`
    /// for space-delimited fields (always a string).
    pub fn get(&self, selector: &str) -> Option<FieldValue> {
        match &self.fields {
            Fields::None => None,
            Fields::Json(event) => {
                let sel = Selector::parse_str(selector)?;
                let mut found = None;
                sel.any(event, &mut |node| {
                    found = FieldValue::from_json(node);
                    found.is_some()
                });
                found
            }
            Fields::Delimited(values) => {
                let name = selector.trim().strip_prefix('$')?;
                values
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| FieldValue::String(v.clone()))
            }
        }
    }

    /// The named space-delimited fields in pattern order, as TestMetricFilter's
    /// `extractedValues` (`$name` → value); empty for other pattern kinds.
    pub fn delimited_values(&self) -> impl Iterator<Item = (String, &str)> + '_ {
        let values: &[(String, String)] = match &self.fields {
            Fields::Delimited(v) => v,
            _ => &[],
        };
        values.iter().map(|(n, v)| (format!("${n}"), v.as_str()))
    }
}

/// A value taken from a matching event.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Number(f64),
    String(String),
    Bool(bool),
    Null,
}

impl FieldValue {
    fn from_json(node: &serde_json::Value) -> Option<FieldValue> {
        use serde_json::Value as J;
        match node {
            J::Null => Some(FieldValue::Null),
            J::Bool(b) => Some(FieldValue::Bool(*b)),
            J::Number(n) => n.as_f64().map(FieldValue::Number),
            J::String(s) => Some(FieldValue::String(s.clone())),
            J::Array(_) | J::Object(_) => None,
        }
    }

    /// The value as a metric value: numbers as is, strings when they hold a
    /// number (sign, decimals, exponent; surrounding spaces ignored).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Number(n) => Some(*n),
            FieldValue::String(s) => value::parse_number(s.trim()),
            FieldValue::Bool(_) | FieldValue::Null => None,
        }
    }
}

impl fmt::Display for FieldValue {
    /// The value as a dimension value: integral numbers without a fraction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                write!(f, "{}", *n as i64)
            }
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::String(s) => f.write_str(s),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Null => f.write_str("null"),
        }
    }
}

/// Fuzzing entry point for the repository's `fuzz/` project: parses `data`
/// (lossily as UTF-8) and, when it parses, matches and extracts against a few
/// fixed messages. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    const MESSAGES: [&str; 5] = [
        "",
        "[ERROR] boom user-id=42 10.0.0.1",
        r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#,
        r#"{"eventType":"UpdateTrail","n":1.5e3,"a":[1,{"b":null}],"t":true,"cluster.name":"c"}"#,
        "{not json",
    ];
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = FilterPattern::parse(&text) {
        for m in MESSAGES {
            let matched = p.matches(m);
            let extracted = p.extract(m);
            assert_eq!(matched, extracted.is_some(), "matches and extract disagree");
            if let Some(x) = extracted {
                let _ = x.get("$.a[1].b");
                let _ = x.get("$ip");
                let _ = x.delimited_values().count();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_chosen_by_first_character() {
        let kind = |s: &str| FilterPattern::parse(s).expect("valid").kind();
        assert_eq!(kind(""), PatternKind::All);
        assert_eq!(kind("   "), PatternKind::All);
        assert_eq!(kind(" { $.a = 1 }"), PatternKind::Json);
        assert_eq!(kind("[a, b]"), PatternKind::Delimited);
        assert_eq!(kind("%a|b%"), PatternKind::Regex);
        assert_eq!(kind("ERROR"), PatternKind::Terms);
        assert_eq!(kind("\" \""), PatternKind::Terms);
    }

    #[test]
    fn required_literals_come_from_plain_terms_only() {
        let lit = |p: &str| {
            FilterPattern::parse(p)
                .unwrap()
                .required_literal()
                .map(|b| String::from_utf8_lossy(b).to_string())
        };
        assert_eq!(lit("ERROR"), Some("ERROR".into()));
        assert_eq!(lit("ERROR \"time out\" -DEBUG"), Some("time out".into()));
        assert_eq!(lit("?ERROR ?WARN"), None);
        assert_eq!(lit("-DEBUG"), None);
        assert_eq!(lit("{ $.a = 1 }"), None);
        assert_eq!(lit(""), None);
    }

    #[test]
    fn regex_use_is_detected_outside_quotes_only() {
        for (p, want) in [
            ("%ERR.R%", true),
            ("{ $.msg = %fail[a-z]*% }", true),
            ("[ip, status = %4[0-9]{2}%]", true),
            ("{ $.msg = \"100%\" }", false),
            ("ERROR", false),
            ("", false),
        ] {
            assert_eq!(
                FilterPattern::parse(p).map(|x| x.uses_regex()).ok(),
                Some(want),
                "{p}"
            );
        }
    }

    #[test]
    fn regex_must_stand_alone() {
        let e = FilterPattern::parse("%a% b").expect_err("trailing text");
        assert_eq!(e.position(), 5);
        assert!(FilterPattern::parse("b %a%").is_err());
    }

    #[test]
    fn extract_json_any_path() {
        let p = FilterPattern::parse("{ $.level = \"ERR*\" }").expect("valid");
        let x = p
            .extract(r#"{"level":"ERROR","latency":15e2,"tags":["a",{"k":true}],"o":{}}"#)
            .expect("matches");
        assert_eq!(x.get("$.latency"), Some(FieldValue::Number(1500.0)));
        assert_eq!(x.get("$.tags[0]"), Some(FieldValue::String("a".into())));
        assert_eq!(x.get("$.tags[1].k"), Some(FieldValue::Bool(true)));
        assert_eq!(x.get("$.o"), None);
        assert_eq!(x.get("$.missing"), None);
        assert!(p.extract(r#"{"level":"INFO"}"#).is_none());
    }

    #[test]
    fn field_values_render_for_dimensions() {
        assert_eq!(FieldValue::Number(404.0).to_string(), "404");
        assert_eq!(FieldValue::Number(0.5).to_string(), "0.5");
        assert_eq!(FieldValue::String(" 12 ".into()).as_f64(), Some(12.0));
        assert_eq!(FieldValue::String("-".into()).as_f64(), None);
    }

    #[test]
    fn fuzz_one_survives_odd_input() {
        for d in [
            &b"{"[..],
            b"[",
            b"%",
            b"\xff\xfe",
            b"{ $.a[*] = %(% }",
            b"[..., a = %x%]",
        ] {
            fuzz_one(d);
        }
    }
}
