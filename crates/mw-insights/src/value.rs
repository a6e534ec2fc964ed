//! Field values as the executor sees them ([`Value`]): how they print, compare,
//! coerce to numbers and sort.
//!
//! A value borrows from the event (or its parsed JSON) while an event is processed and
//! is made owned ([`Value::into_owned`]) only when a row is kept.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::time;

/// One field value. `Null` is a missing field; it is never printed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    /// Results of predicates such as `ispresent()`; print as `1` / `0` like AWS.
    Bool(bool),
    /// Always finite.
    Num(f64),
    /// Epoch milliseconds; prints as `2024-01-02 03:04:05.678`.
    Time(i64),
    Str(Cow<'a, str>),
}

impl<'a> Value<'a> {
    /// A number value, or `Null` when `x` is not finite (AWS has no NaN or infinity).
    pub(crate) fn num(x: f64) -> Value<'a> {
        if x.is_finite() {
            Value::Num(x)
        } else {
            Value::Null
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number: numbers, timestamps (ms), booleans (1/0) and strings that
    /// hold only a number.
    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Num(x) => Some(*x),
            Value::Time(t) => Some(*t as f64),
            Value::Str(s) => parse_number(s),
        }
    }

    /// The value as text (`None` for `Null`), borrowing where it already is text.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            other => {
                let mut out = String::new();
                other.write_to(&mut out);
                Some(Cow::Owned(out))
            }
        }
    }

    /// Appends the display form to `out` (nothing for `Null`).
    pub(crate) fn write_to(&self, out: &mut String) {
        match self {
            Value::Null => {}
            Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
            Value::Num(x) => write_number(out, *x),
            Value::Time(t) => time::write_timestamp(out, *t),
            Value::Str(s) => out.push_str(s),
        }
    }

    /// Truthiness in `filter`: booleans, non-zero numbers, non-empty strings.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(x) => *x != 0.0,
            Value::Time(_) => true,
            Value::Str(s) => !s.is_empty(),
        }
    }

    pub(crate) fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Num(x) => Value::Num(x),
            Value::Time(t) => Value::Time(t),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        }
    }
}

/// `x` as AWS prints numbers: integral values without `.0`, others in shortest form.
pub(crate) fn write_number(out: &mut String, x: f64) {
    // Writing to a String cannot fail.
    if x.fract() == 0.0 && x.abs() < 1e17 {
        let _ = write!(out, "{}", x as i64);
    } else {
        let _ = write!(out, "{x}");
    }
}

/// Parses text that holds only a number (`12`, `-3.5`, `1e3`); not `inf`, `NaN`, or
/// text with spaces.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// `=` between two values: numerically when both are numbers, else as text.
/// A missing value equals nothing.
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return x == y;
    }
    a.text() == b.text()
}

/// `<`-style comparison: numerically when both are numbers, else as text;
/// `None` when either is missing.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return x.partial_cmp(&y);
    }
    Some(a.text().cmp(&b.text()))
}

/// The `sort` order (ascending) from the AWS docs: non-number values first, in natural
/// order; then numbers by value. Missing values are handled by the caller. A total order.
pub(crate) fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.as_num(), b.as_num()) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.text().cmp(&b.text())),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => natural_cmp(&a.text().unwrap_or_default(), &b.text().unwrap_or_default()),
    }
}

/// Natural order: runs of digits compare by length then value; other runs by Unicode.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (ca, ra) = split_chunk(a);
        let (cb, rb) = split_chunk(b);
        let da = ca.as_bytes()[0].is_ascii_digit();
        let db = cb.as_bytes()[0].is_ascii_digit();
        let ord = if da && db {
            ca.len().cmp(&cb.len()).then_with(|| ca.cmp(cb))
        } else {
            ca.cmp(cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = ra;
        b = rb;
    }
}

/// Splits off the leading run of ASCII digits or of other characters (`s` non-empty).
fn split_chunk(s: &str) -> (&str, &str) {
    let digit = s.as_bytes()[0].is_ascii_digit();
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() != digit)
        .map_or(s.len(), |(i, _)| i);
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }

    fn shown(v: &Value) -> String {
        let mut out = String::new();
        v.write_to(&mut out);
        out
    }

    #[test]
    fn numbers_print_like_aws() {
        assert_eq!(shown(&Value::Num(3.0)), "3");
        assert_eq!(shown(&Value::Num(2.5)), "2.5");
        assert_eq!(shown(&Value::Num(-0.0)), "0");
        assert_eq!(shown(&Value::Num(0.1)), "0.1");
        assert_eq!(shown(&Value::Bool(true)), "1");
        assert_eq!(shown(&Value::Time(0)), "1970-01-01 00:00:00.000");
        assert!(Value::num(f64::NAN).is_null());
    }

    #[test]
    fn parses_only_plain_numbers() {
        assert_eq!(parse_number("12"), Some(12.0));
        assert_eq!(parse_number("-3.5"), Some(-3.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        for bad in ["", "inf", "NaN", "12 ", "0x10", "1-2", "abc"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn equality_coerces_numeric_strings() {
        assert!(equals(&s("200"), &Value::Num(200.0)));
        assert!(!equals(&s("abc"), &Value::Num(1.0)));
        assert!(equals(&s("a"), &s("a")));
        assert!(!equals(&Value::Null, &Value::Null));
        assert_eq!(compare(&s("10"), &s("9")), Some(Ordering::Greater));
        assert_eq!(compare(&s("b"), &s("a")), Some(Ordering::Greater));
        assert_eq!(compare(&Value::Null, &s("a")), None);
    }

    #[test]
    fn sort_order_matches_the_aws_example() {
        let want = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "01",
            "1",
            "2",
            "3",
        ];
        let mut got: Vec<Value> = want.iter().rev().map(|x| s(x)).collect();
        got.sort_by(sort_cmp);
        let got: Vec<String> = got.iter().map(shown).collect();
        assert_eq!(got, want);
    }
}
