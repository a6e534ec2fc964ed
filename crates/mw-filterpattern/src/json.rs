//! JSON patterns: `{ $.a.b = "x" && ($.n > 1e3 || $.flag IS TRUE) }`.
//!
//! The event is parsed with `serde_json` only when it starts (after
//! whitespace) with `{`; anything that is not one JSON object never matches.
//! A [`Selector`] walks from the root through `.name`, `['dotted.key']`,
//! `[index]`, `[*]` and `.*`; with wildcards a condition holds when **any**
//! reached node satisfies it. Conditions hold only on value nodes: a selector
//! that reaches an object, an array or nothing is false for `=` and `!=`
//! alike. `=`/`!=` compare strings and numbers (a number's text against a
//! string value, numerically against a numeric value; JSON strings are never
//! coerced to numbers for `< > <= >=`), and never hold for booleans or null,
//! which have `IS TRUE`, `IS FALSE` and `IS NULL`. `NOT EXISTS` holds when the
//! selector reaches no node at all.

use crate::cursor::Cursor;
use crate::error::PatternError;
use crate::expr::{self, BoolExpr};
use crate::value::{self, Limits, Op, Value};
use serde_json::Value as Json;

#[derive(Debug, Clone)]
pub(crate) struct JsonPattern {
    expr: BoolExpr<Cond>,
}

#[derive(Debug, Clone)]
struct Cond {
    selector: Selector,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Cmp(Op, Value),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A path from the event's root object to the nodes a condition tests.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
    /// `.*`: every member of an object or element of an array.
    AnyChild,
    /// `[*]`: every element of an array.
    AnyElement,
}

impl JsonPattern {
    /// Parses a pattern; `start` is the index of its opening `{`.
    pub(crate) fn parse(chars: &[char], start: usize) -> Result<JsonPattern, PatternError> {
        let mut cur = Cursor::new(chars, start);
        cur.expect('{')?;
        let mut limits = Limits::default();
        let expr = expr::parse_or(&mut cur, &mut |cur: &mut Cursor<'_>| {
            parse_cond(cur, &mut limits)
        })?;
        cur.skip_ws();
        if !cur.eat('}') {
            return Err(if cur.at_end() {
                cur.err("expected '}'")
            } else {
                cur.err("expected '&&', '||' or '}'")
            });
        }
        cur.expect_end("'}'")?;
        Ok(JsonPattern { expr })
    }

    pub(crate) fn matches_event(&self, event: &Json) -> bool {
        self.expr.eval(&mut |c: &Cond| c.holds(event))
    }
}

/// Parses a message as a JSON object, or `None` when it is not one.
pub(crate) fn parse_event(message: &str) -> Option<Json> {
    if !message.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Json>(message)
        .ok()
        .filter(Json::is_object)
}

fn parse_cond(cur: &mut Cursor<'_>, limits: &mut Limits) -> Result<Cond, PatternError> {
    cur.skip_ws();
    let start = cur.pos();
    let selector = Selector::parse(cur)?;
    let wildcards = selector.wildcards();
    if wildcards > 1 {
        return Err(PatternError::limit(
            start + 1,
            "at most one wildcard is allowed in a selector",
        ));
    }
    limits.wildcards += wildcards;
    if limits.wildcards > value::MAX_WILDCARDS {
        return Err(PatternError::limit(
            start + 1,
            format!(
                "at most {} wildcard selectors are allowed in a pattern",
                value::MAX_WILDCARDS
            ),
        ));
    }
    cur.skip_ws();
    if Op::starts(cur.peek()) {
        let op = Op::parse(cur)?;
        let value = value::parse_value(cur, op, limits)?;
        return Ok(Cond {
            selector,
            test: Test::Cmp(op, value),
        });
    }
    let word_at = cur.pos();
    let word = cur
        .take_while(|c| c.is_ascii_alphabetic())
        .to_ascii_uppercase();
    let test = match word.as_str() {
        "IS" => {
            cur.skip_ws();
            let at = cur.pos();
            match cur
                .take_while(|c| c.is_ascii_alphabetic())
                .to_ascii_uppercase()
                .as_str()
            {
                "NULL" => Test::IsNull,
                "TRUE" => Test::IsTrue,
                "FALSE" => Test::IsFalse,
                "NOT" => return Err(cur.err_at(at, "'IS NOT' is not supported")),
                _ => return Err(cur.err_at(at, "expected NULL, TRUE or FALSE after IS")),
            }
        }
        "NOT" => {
            cur.skip_ws();
            let at = cur.pos();
            match cur
                .take_while(|c| c.is_ascii_alphabetic())
                .to_ascii_uppercase()
                .as_str()
            {
                "EXISTS" => Test::NotExists,
                _ => return Err(cur.err_at(at, "expected EXISTS after NOT")),
            }
        }
        "EXISTS" => {
            return Err(cur.err_at(
                word_at,
                "'EXISTS' is not supported; use NOT EXISTS or '= *'",
            ))
        }
        _ => {
            return Err(cur.err_at(
                word_at,
                "expected an operator (=, !=, <, >, <=, >=, IS or NOT EXISTS)",
            ))
        }
    };
    Ok(Cond { selector, test })
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-')
}

impl Selector {
    /// Parses `$` and its steps at the cursor.
    pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Selector, PatternError> {
        if !cur.eat('$') {
            return Err(cur.err("expected a selector starting with '$'"));
        }
        let mut steps = Vec::new();
        loop {
            match cur.peek() {
                Some('.') => {
                    cur.bump();
                    match cur.peek() {
                        Some('*') => {
                            cur.bump();
                            steps.push(Step::AnyChild);
                        }
                        Some('[') => steps.push(parse_bracket(cur)?),
                        Some(c) if is_name_char(c) => {
                            steps.push(Step::Key(cur.take_while(is_name_char)))
                        }
                        _ => return Err(cur.err("expected a property name after '.'")),
                    }
                }
                Some('[') => steps.push(parse_bracket(cur)?),
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(cur.err("expected '.' or '[' after '$'"));
        }
        Ok(Selector { steps })
    }

    /// Parses a whole selector string such as `$.a.b[0]`.
    pub(crate) fn parse_str(s: &str) -> Option<Selector> {
        let chars: Vec<char> = s.trim().chars().collect();
        let mut cur = Cursor::new(&chars, 0);
        let sel = Selector::parse(&mut cur).ok()?;
        cur.at_end().then_some(sel)
    }

    fn wildcards(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::AnyChild | Step::AnyElement))
            .count()
    }

    /// True when any node the selector reaches satisfies `f`.
    pub(crate) fn any<'j>(&self, root: &'j Json, f: &mut impl FnMut(&'j Json) -> bool) -> bool {
        any_node(root, &self.steps, f)
    }
}

fn any_node<'j>(node: &'j Json, steps: &[Step], f: &mut impl FnMut(&'j Json) -> bool) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return f(node);
    };
    match step {
        Step::Key(k) => node
            .as_object()
            .and_then(|o| o.get(k))
            .is_some_and(|c| any_node(c, rest, f)),
        Step::Index(i) => node
            .as_array()
            .and_then(|a| a.get(*i))
            .is_some_and(|c| any_node(c, rest, f)),
        Step::AnyChild => match node {
            Json::Object(o) => o.values().any(|c| any_node(c, rest, f)),
            Json::Array(a) => a.iter().any(|c| any_node(c, rest, f)),
            _ => false,
        },
        Step::AnyElement => node
            .as_array()
            .is_some_and(|a| a.iter().any(|c| any_node(c, rest, f))),
    }
}

/// `[0]`, `[*]`, `['key']` or `["key"]`; the cursor is on `[`.
fn parse_bracket(cur: &mut Cursor<'_>) -> Result<Step, PatternError> {
    cur.expect('[')?;
    let step = match cur.peek() {
        Some('*') => {
            cur.bump();
            Step::AnyElement
        }
        Some(c) if c.is_ascii_digit() => {
            let at = cur.pos();
            let digits = cur.take_while(|c| c.is_ascii_digit());
            Step::Index(
                digits
                    .parse()
                    .map_err(|_| cur.err_at(at, "array index is too large"))?,
            )
        }
        Some(q @ ('\'' | '"')) => {
            let open = cur.pos();
            cur.bump();
            let mut key = String::new();
            loop {
                match cur.bump() {
                    None => {
                        return Err(cur.err(format!(
                            "expected {q} to close the key at position {}",
                            open + 1
                        )))
                    }
                    Some(c) if c == q => break,
                    Some('\\') if cur.peek().is_some_and(|n| n == q || n == '\\') => {
                        key.extend(cur.bump());
                    }
                    Some(c) => key.push(c),
                }
            }
            Step::Key(key)
        }
        _ => return Err(cur.err("expected an index, '*' or a quoted key after '['")),
    };
    cur.expect(']')?;
    Ok(step)
}

impl Cond {
    fn holds(&self, event: &Json) -> bool {
        match &self.test {
            Test::NotExists => !self.selector.any(event, &mut |_| true),
            Test::IsNull => self.selector.any(event, &mut Json::is_null),
            Test::IsTrue => self.selector.any(event, &mut |n| n.as_bool() == Some(true)),
            Test::IsFalse => self
                .selector
                .any(event, &mut |n| n.as_bool() == Some(false)),
            Test::Cmp(op, value) => self.selector.any(event, &mut |n| match n {
                Json::String(s) => value.test_json_string(*op, s),
                Json::Number(num) => value.test_json_number(*op, num),
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        let chars: Vec<char> = p.chars().collect();
        let pat = JsonPattern::parse(&chars, 0).expect("valid pattern");
        parse_event(msg).is_some_and(|e| pat.matches_event(&e))
    }

    fn err(p: &str) -> PatternError {
        let chars: Vec<char> = p.chars().collect();
        JsonPattern::parse(&chars, 0).expect_err("invalid pattern")
    }

    #[test]
    fn selectors_reach_nested_values() {
        let e = r#"{"a":{"b":[1,{"c":"x"}]},"d.e":true}"#;
        assert!(m("{ $.a.b[0] = 1 }", e));
        assert!(m("{ $.a.b[1].c = \"x\" }", e));
        assert!(m("{ $.['d.e'] IS TRUE }", e));
        assert!(m("{ $[\"d.e\"] IS TRUE }", e));
        assert!(m("{ $.a.b[*].c = x }", e));
        assert!(!m("{ $.a.b = 1 }", e));
        assert!(!m("{ $.a.b != 1 }", e));
        assert!(m("{ $.a.zz NOT EXISTS }", e));
        assert!(!m("{ $.a NOT EXISTS }", e));
    }

    #[test]
    fn non_objects_never_match() {
        assert!(!m("{ $.a NOT EXISTS }", "[1]"));
        assert!(!m("{ $.a NOT EXISTS }", "plain text"));
        assert!(!m("{ $.a NOT EXISTS }", "{\"a\":1} trailing"));
    }

    #[test]
    fn errors_name_positions() {
        assert_eq!(err("{ $.a = 1").position(), 10);
        assert_eq!(err("{ $.a IS NOT NULL }").position(), 10);
        assert_eq!(err("{ $.a EXISTS }").position(), 7);
        assert_eq!(err("{ a = 1 }").position(), 3);
        assert_eq!(err("{ $. = 1 }").position(), 5);
        assert_eq!(err("{ $.a == 1 }").position(), 7);
        assert_eq!(err("{ $.a = 1 } x").position(), 13);
        assert_eq!(
            err("{ $.*[*] = 1 }").kind(),
            crate::ErrorKind::LimitExceeded
        );
    }

    #[test]
    fn selector_strings_parse_alone() {
        assert!(Selector::parse_str("$.a[0].b").is_some());
        assert!(Selector::parse_str("$.a b").is_none());
        assert!(Selector::parse_str("a").is_none());
    }
}
