//! Space-delimited patterns: `[ip, user, ..., status = 4* && bytes > 1000]`.
//!
//! The line is split into fields on spaces and tabs (runs count as one
//! separator); a field that starts with `"` runs to the next unescaped `"`,
//! one that starts with `[` runs to the next `]`, and the quotes or brackets
//! are dropped from the value. A quoted field with no closing quote runs to
//! the end of the line.
//!
//! The pattern is a list of slots. `...` matches any number of fields (zero
//! or more). Any other slot is a field name, or a condition expression over
//! one or more names (`a = 1 || a = 2`, `status = 4* && bytes > 1000`); a slot
//! takes one field per distinct name, in the order the names first appear.
//! Without an ellipsis, a line with fewer fields than the pattern does not
//! match and the **last** field takes the rest of the line (reference §5.4,
//! which explains the documented `[w1=ERROR, w2]` idiom); with an ellipsis the
//! fields are matched exactly, the ellipses absorbing the difference.

use crate::cursor::Cursor;
use crate::error::PatternError;
use crate::expr::{self, BoolExpr};
use crate::value::{self, Limits, Op, Value};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub(crate) struct DelimitedPattern {
    slots: Vec<Slot>,
    /// Field names in pattern order, one per line field a match binds.
    names: Vec<String>,
    has_ellipsis: bool,
}

#[derive(Debug, Clone)]
enum Slot {
    Ellipsis,
    Fields {
        /// Index of this slot's first name in `DelimitedPattern::names`.
        first: usize,
        width: usize,
        expr: Option<BoolExpr<Cond>>,
    },
}

#[derive(Debug, Clone)]
struct Cond {
    /// Which of the slot's fields, 0-based.
    field: usize,
    op: Op,
    value: Value,
}

/// One field of a log line.
#[derive(Debug, Clone, Copy)]
struct Field<'m> {
    /// Byte offset where the field starts (at its quote or bracket).
    start: usize,
    value: &'m str,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl DelimitedPattern {
    /// Parses a pattern; `start` is the index of its opening `[`.
    pub(crate) fn parse(chars: &[char], start: usize) -> Result<DelimitedPattern, PatternError> {
        let mut cur = Cursor::new(chars, start);
        cur.expect('[')?;
        let mut limits = Limits::default();
        let mut pattern = DelimitedPattern {
            slots: Vec::new(),
            names: Vec::new(),
            has_ellipsis: false,
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        loop {
            cur.skip_ws();
            if cur.eat_str("...") {
                if cur.peek() == Some('.') {
                    return Err(cur.err("expected '...'"));
                }
                pattern.has_ellipsis = true;
                if !matches!(pattern.slots.last(), Some(Slot::Ellipsis)) {
                    pattern.slots.push(Slot::Ellipsis);
                }
            } else {
                let (names, expr) = parse_slot(&mut cur, &mut limits)?;
                let first = pattern.names.len();
                let width = names.len();
                for (name, at) in names {
                    if seen.insert(name.clone(), at).is_some() {
                        return Err(cur.err_at(at, format!("duplicate field name '{name}'")));
                    }
                    pattern.names.push(name);
                }
                pattern.slots.push(Slot::Fields { first, width, expr });
            }
            cur.skip_ws();
            if cur.eat(',') {
                continue;
            }
            if cur.eat(']') {
                break;
            }
            return Err(if cur.at_end() {
                cur.err("expected ']'")
            } else {
                cur.err("expected ',' or ']'")
            });
        }
        cur.expect_end("']'")?;
        Ok(pattern)
    }

    /// The names this pattern binds, in order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Matches a line; on success returns one value per name in [`Self::names`].
    pub(crate) fn bind<'m>(&self, line: &'m str) -> Option<Vec<&'m str>> {
        let fields = split_fields(line);
        let mut values: Vec<&'m str> = vec![""; self.names.len()];
        if !self.has_ellipsis {
            let n = self.names.len();
            if fields.len() < n || n == 0 {
                return None;
            }
            for (v, f) in values.iter_mut().zip(&fields) {
                *v = f.value;
            }
            if fields.len() > n {
                values[n - 1] = line[fields[n - 1].start..].trim_end_matches(is_separator);
            }
            let all = self.slots.iter().all(|s| match s {
                Slot::Fields { first, width, expr } => {
                    slot_holds(expr.as_ref(), &values[*first..first + width])
                }
                Slot::Ellipsis => true,
            });
            return all.then_some(values);
        }
        // Wildcard matching with backtracking to the last ellipsis: each
        // segment between ellipses is placed at its earliest position.
        let (mut si, mut fi) = (0usize, 0usize);
        let mut resume: Option<(usize, usize)> = None;
        loop {
            let advanced = match self.slots.get(si) {
                Some(Slot::Ellipsis) => {
                    resume = Some((si + 1, fi));
                    si += 1;
                    true
                }
                Some(Slot::Fields { first, width, expr }) => {
                    let end = fi + width;
                    if end <= fields.len() {
                        for (k, f) in fields[fi..end].iter().enumerate() {
                            values[first + k] = f.value;
                        }
                        if slot_holds(expr.as_ref(), &values[*first..first + width]) {
                            si += 1;
                            fi = end;
                            true
                        } else {
                            false
                        }
                    } else {
                        false
                    }
                }
                None if fi == fields.len() => return Some(values),
                None => false,
            };
            if advanced {
                continue;
            }
            match resume {
                Some((rsi, rfi)) if rfi < fields.len() => {
                    resume = Some((rsi, rfi + 1));
                    si = rsi;
                    fi = rfi + 1;
                }
                _ => return None,
            }
        }
    }
}

fn slot_holds(expr: Option<&BoolExpr<Cond>>, values: &[&str]) -> bool {
    expr.is_none_or(|e| {
        e.eval(&mut |c: &Cond| {
            values
                .get(c.field)
                .is_some_and(|v| c.value.test_text(c.op, v))
        })
    })
}

type SlotNames = Vec<(String, usize)>;

/// One slot: a bare name, or a condition expression. Returns the slot's
/// distinct names with their positions, and its expression if any.
fn parse_slot(
    cur: &mut Cursor<'_>,
    limits: &mut Limits,
) -> Result<(SlotNames, Option<BoolExpr<Cond>>), PatternError> {
    let start = cur.pos();
    let name = cur.take_while(is_name_char);
    if !name.is_empty() {
        let after = cur.pos();
        cur.skip_ws();
        if matches!(cur.peek(), Some(',' | ']') | None) {
            cur.set_pos(after);
            return Ok((vec![(name, start)], None));
        }
    }
    cur.set_pos(start);
    let mut names: SlotNames = Vec::new();
    let expr = expr::parse_or(cur, &mut |cur: &mut Cursor<'_>| {
        cur.skip_ws();
        let at = cur.pos();
        let name = cur.take_while(is_name_char);
        if name.is_empty() {
            return Err(cur.err("expected a field name"));
        }
        let field = match names.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                names.push((name, at));
                names.len() - 1
            }
        };
        cur.skip_ws();
        if !Op::starts(cur.peek()) {
            return Err(cur.err("expected an operator (=, !=, <, >, <=, >=) after the field name"));
        }
        let op = Op::parse(cur)?;
        let value = value::parse_value(cur, op, limits)?;
        Ok(Cond { field, op, value })
    })?;
    Ok((names, Some(expr)))
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits a line into fields; see the module doc.
fn split_fields(line: &str) -> Vec<Field<'_>> {
    let b = line.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        let start = i;
        match b[i] {
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                fields.push(Field {
                    start,
                    value: &line[i + 1..end],
                });
                i = end + 1;
            }
            b'[' => {
                let end = memchr::memchr(b']', &b[i + 1..]).map_or(b.len(), |k| i + 1 + k);
                fields.push(Field {
                    start,
                    value: &line[i + 1..end],
                });
                i = end + 1;
            }
            _ => {
                let end = b[i..]
                    .iter()
                    .position(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                    .map_or(b.len(), |k| i + k);
                fields.push(Field {
                    start,
                    value: &line[i..end],
                });
                i = end;
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

    fn p(s: &str) -> DelimitedPattern {
        let chars: Vec<char> = s.chars().collect();
        DelimitedPattern::parse(&chars, 0).expect("valid pattern")
    }

    #[test]
    fn splits_quotes_and_brackets_as_one_field() {
        let f: Vec<&str> = split_fields(LINE).iter().map(|f| f.value).collect();
        assert_eq!(
            f,
            [
                "127.0.0.1",
                "Prod",
                "frank",
                "10/Oct/2000:13:25:15 -0700",
                "GET /index.html HTTP/1.0",
                "404",
                "1534"
            ]
        );
        let f: Vec<&str> = split_fields(r#"  a  "x \" y" [b"#)
            .iter()
            .map(|f| f.value)
            .collect();
        assert_eq!(f, ["a", r#"x \" y"#, "b"]);
        let f: Vec<&str> = split_fields(r#""open"#).iter().map(|f| f.value).collect();
        assert_eq!(f, ["open"]);
    }

    #[test]
    fn binds_names_with_ellipses() {
        let v = p("[ip, ..., status, bytes]").bind(LINE).expect("match");
        assert_eq!(v, ["127.0.0.1", "404", "1534"]);
        let v = p("[..., a = 404, ..., b]").bind(LINE).expect("match");
        assert_eq!(v, ["404", "1534"]);
        assert!(p("[..., a = 1534, b]").bind(LINE).is_none());
        assert!(p("[...]").bind("").is_some());
    }

    #[test]
    fn last_field_takes_the_rest_without_ellipsis() {
        let v = p("[w1 = ERROR, w2]")
            .bind("ERROR 09/25/2014 12:00:02 Failed to process request ")
            .expect("match");
        assert_eq!(v[1], "09/25/2014 12:00:02 Failed to process request");
        assert!(p("[a, b, c]").bind("x y").is_none());
    }

    #[test]
    fn one_slot_can_span_several_fields() {
        let pat = p("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]");
        assert_eq!(pat.names().len(), 7);
        assert!(pat.bind(LINE).is_some());
    }

    #[test]
    fn errors_name_positions() {
        let e = |s: &str| {
            let chars: Vec<char> = s.chars().collect();
            DelimitedPattern::parse(&chars, 0)
                .expect_err("invalid")
                .position()
        };
        assert_eq!(e("[a, b"), 6);
        assert_eq!(e("[a,, b]"), 4);
        assert_eq!(e("[a b]"), 4);
        assert_eq!(e("[a, a]"), 5);
        assert_eq!(e("[a > x, b]"), 6);
        assert_eq!(e("[...., a]"), 5);
    }
}
