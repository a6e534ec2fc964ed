//! Comparison values shared by JSON and space-delimited patterns.
//!
//! A condition is `field op value`; [`Op`] is the operator and [`Value`] the
//! right-hand side: a number, a string with `*` wildcards ([`Glob`]) or a
//! `%regex%`. [`Limits`] counts the per-pattern quotas (two regexes, three
//! wildcard selectors) while parsing.

use crate::cursor::Cursor;
use crate::error::PatternError;
use crate::regexp;
use regex::Regex;

/// At most this many `%regex%` values in one JSON or space-delimited pattern.
pub(crate) const MAX_REGEXES: usize = 2;
/// At most this many wildcard selectors (`[*]`, `.*`) in one JSON pattern.
pub(crate) const MAX_WILDCARDS: usize = 3;

/// Quotas counted across one pattern.
#[derive(Default)]
pub(crate) struct Limits {
    pub(crate) regexes: usize,
    pub(crate) wildcards: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    pub(crate) fn is_relational(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }

    /// True when the next character can start an operator.
    pub(crate) fn starts(c: Option<char>) -> bool {
        matches!(c, Some('=' | '!' | '<' | '>'))
    }

    /// Parses `= != < > <= >=` at the cursor.
    pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Op, PatternError> {
        let at = cur.pos();
        let op = if cur.eat_str("!=") {
            Op::Ne
        } else if cur.eat_str("<=") {
            Op::Le
        } else if cur.eat_str(">=") {
            Op::Ge
        } else if cur.eat('=') {
            Op::Eq
        } else if cur.eat('<') {
            Op::Lt
        } else if cur.eat('>') {
            Op::Gt
        } else {
            return Err(cur.err("expected an operator (=, !=, <, >, <=, >=)"));
        };
        if matches!(cur.peek(), Some('=' | '<' | '>' | '!')) {
            let mut bad = String::from(op.symbol());
            bad.extend(cur.peek());
            return Err(cur.err_at(at, format!("unknown operator '{bad}'")));
        }
        Ok(op)
    }

    /// Applies the operator to two numbers, `field op literal`.
    pub(crate) fn compare(self, field: f64, literal: f64) -> bool {
        match self {
            Op::Eq => field == literal,
            Op::Ne => field != literal,
            Op::Lt => field < literal,
            Op::Gt => field > literal,
            Op::Le => field <= literal,
            Op::Ge => field >= literal,
        }
    }
}

/// A string value where `*` matches any run of characters.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    /// The literal pieces between wildcards; one piece means no wildcard.
    parts: Vec<String>,
}

impl Glob {
    pub(crate) fn literal(s: &str) -> Glob {
        Glob {
            parts: vec![s.to_owned()],
        }
    }

    pub(crate) fn from_parts(parts: Vec<String>) -> Glob {
        if parts.is_empty() {
            Glob::literal("")
        } else {
            Glob { parts }
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len()
            || !s.starts_with(first.as_str())
            || !s.ends_with(last.as_str())
        {
            return false;
        }
        let mut hay = &s[first.len()..s.len() - last.len()];
        for part in middle {
            match hay.find(part.as_str()) {
                Some(i) => hay = &hay[i + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// The right-hand side of a condition.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A numeric literal, with its text for comparisons against strings.
    Number { value: f64, text: String },
    /// A quoted or unquoted string, possibly with `*` wildcards.
    Glob(Glob),
    /// A `%regex%` value, matched as a search within the field.
    Regex(Box<Regex>),
}

impl Value {
    /// Tests a text field from a space-delimited line: numeric literals compare
    /// numerically when the field is a number, textually otherwise.
    pub(crate) fn test_text(&self, op: Op, field: &str) -> bool {
        match self {
            Value::Number { value, text } => match parse_number(field) {
                Some(n) => op.compare(n, *value),
                None => match op {
                    Op::Eq => field == text,
                    Op::Ne => field != text,
                    _ => false,
                },
            },
            Value::Glob(g) => g.matches(field) == (op == Op::Eq),
            Value::Regex(r) => r.is_match(field) == (op == Op::Eq),
        }
    }

    /// Tests a JSON string node: no numeric coercion, so relational operators
    /// never hold and a numeric literal compares with its text.
    pub(crate) fn test_json_string(&self, op: Op, s: &str) -> bool {
        match self {
            Value::Number { text, .. } => match op {
                Op::Eq => s == text,
                Op::Ne => s != text,
                _ => false,
            },
            Value::Glob(g) => g.matches(s) == (op == Op::Eq),
            Value::Regex(r) => r.is_match(s) == (op == Op::Eq),
        }
    }

    /// Tests a JSON number node: numerically against numbers, by its text
    /// against strings, wildcards and regexes.
    pub(crate) fn test_json_number(&self, op: Op, n: &serde_json::Number) -> bool {
        match self {
            Value::Number { value, .. } => n.as_f64().is_some_and(|f| op.compare(f, *value)),
            Value::Glob(g) => g.matches(&n.to_string()) == (op == Op::Eq),
            Value::Regex(r) => r.is_match(&n.to_string()) == (op == Op::Eq),
        }
    }
}

/// True for `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`.
pub(crate) fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Parses a number in the [`is_number`] grammar.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    if is_number(s) {
        s.parse().ok()
    } else {
        None
    }
}

/// Characters that end an unquoted value.
fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ']' | '}' | ')' | '(' | '&' | '|')
}

/// Parses the value after an operator: `"quoted"`, `%regex%` or an unquoted
/// number or string. `op` decides which kinds are allowed.
pub(crate) fn parse_value(
    cur: &mut Cursor<'_>,
    op: Op,
    limits: &mut Limits,
) -> Result<Value, PatternError> {
    cur.skip_ws();
    let start = cur.pos();
    let value = match cur.peek() {
        Some('"') => Value::Glob(parse_quoted_glob(cur)?),
        Some('%') => {
            limits.regexes += 1;
            if limits.regexes > MAX_REGEXES {
                return Err(PatternError::limit(
                    start + 1,
                    format!("at most {MAX_REGEXES} regular expressions are allowed in a pattern"),
                ));
            }
            Value::Regex(Box::new(regexp::parse_delimited(cur)?))
        }
        _ => {
            let text = cur.take_while(|c| !ends_value(c));
            if text.is_empty() {
                return Err(cur.err("expected a value"));
            }
            if let Some(value) = parse_number(&text) {
                Value::Number { value, text }
            } else {
                if let Some((i, c)) = text
                    .chars()
                    .enumerate()
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*')))
                {
                    return Err(cur.err_at(
                        start + i,
                        format!("unexpected character '{c}' in value; quote values with characters other than letters, digits, '_', '.' and '*'"),
                    ));
                }
                Value::Glob(Glob::from_parts(
                    text.split('*').map(str::to_owned).collect(),
                ))
            }
        }
    };
    if op.is_relational() && !matches!(value, Value::Number { .. }) {
        return Err(cur.err_at(start, format!("expected a number after '{}'", op.symbol())));
    }
    Ok(value)
}

/// Parses `"..."` into a glob: `*` is a wildcard, `\*` a literal star, `\"`
/// and `\\` escape themselves, any other backslash is kept as is.
fn parse_quoted_glob(cur: &mut Cursor<'_>) -> Result<Glob, PatternError> {
    let open = cur.pos();
    cur.bump();
    let mut parts = vec![String::new()];
    loop {
        let Some(c) = cur.bump() else {
            return Err(cur.err(format!(
                "expected '\"' to close the string at position {}",
                open + 1
            )));
        };
        let part = parts
            .last_mut()
            .expect("parts starts non-empty and only grows");
        match c {
            '"' => break,
            '*' => parts.push(String::new()),
            '\\' => match cur.peek() {
                Some(e @ ('"' | '\\' | '*')) => {
                    cur.bump();
                    part.push(e);
                }
                _ => part.push('\\'),
            },
            c => part.push(c),
        }
    }
    Ok(Glob::from_parts(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str, op: Op) -> Result<Value, PatternError> {
        let chars: Vec<char> = s.chars().collect();
        let mut cur = Cursor::new(&chars, 0);
        parse_value(&mut cur, op, &mut Limits::default())
    }

    #[test]
    fn numbers_follow_the_documented_grammar() {
        for ok in ["1", "-5.5", "+1000", "1e+3", "10e-3", "1.", ".5", "2E3"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "", "+", ".", "1e", "e3", "1.2.3", "0x10", "inf", "NaN", "1 ",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
        assert_eq!(parse_number("1e+3"), Some(1000.0));
    }

    #[test]
    fn globs_match_leading_trailing_and_middle_stars() {
        let g = |s: &str| Glob::from_parts(s.split('*').map(str::to_owned).collect());
        assert!(g("*Event").matches("PutEvent"));
        assert!(g("Event*").matches("EventId"));
        assert!(g("*.html*").matches("GET /index.html HTTP/1.0"));
        assert!(g("Ev*ent").matches("Evxxent"));
        assert!(!g("ab*ba").matches("aba"));
        assert!(g("*").matches(""));
        assert!(!g("Event").matches("Events"));
    }

    #[test]
    fn quoted_stars_can_be_escaped() {
        let Ok(Value::Glob(g)) = value(r#""a\*b""#, Op::Eq) else {
            panic!("expected a glob");
        };
        assert!(g.matches("a*b"));
        assert!(!g.matches("axb"));
    }

    #[test]
    fn relational_operators_need_numbers() {
        assert!(value("abc", Op::Lt).is_err());
        assert!(value("\"1\"", Op::Gt).is_err());
        assert!(value("1e3", Op::Ge).is_ok());
        let e = value("a-b", Op::Eq).expect_err("dash needs quotes");
        assert_eq!(e.position(), 2);
    }

    #[test]
    fn text_fields_compare_numerically_when_numeric() {
        let v = value("404", Op::Eq).expect("number");
        assert!(v.test_text(Op::Eq, "404"));
        assert!(v.test_text(Op::Eq, "404.0"));
        assert!(!v.test_text(Op::Eq, "-"));
        assert!(v.test_text(Op::Ne, "-"));
        assert!(!v.test_text(Op::Lt, "-"));
    }
}
