//! Boolean expressions over conditions: `&&`, `||` and parentheses.
//!
//! [`BoolExpr`] is generic over the leaf condition so JSON and
//! space-delimited patterns share one grammar:
//! `or := and ("||" and)*`, `and := unary ("&&" unary)*`,
//! `unary := "(" or ")" | leaf`. `&&` binds tighter than `||`.

use crate::cursor::Cursor;
use crate::error::PatternError;

/// Parentheses may nest this deep; deeper patterns are rejected.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone)]
pub(crate) enum BoolExpr<C> {
    Leaf(C),
    And(Vec<BoolExpr<C>>),
    Or(Vec<BoolExpr<C>>),
}

impl<C> BoolExpr<C> {
    pub(crate) fn eval(&self, test: &mut impl FnMut(&C) -> bool) -> bool {
        match self {
            BoolExpr::Leaf(c) => test(c),
            BoolExpr::And(items) => items.iter().all(|e| e.eval(test)),
            BoolExpr::Or(items) => items.iter().any(|e| e.eval(test)),
        }
    }
}

/// Parses an `||` expression whose leaves `leaf` parses.
pub(crate) fn parse_or<C>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
) -> Result<BoolExpr<C>, PatternError> {
    parse_or_at(cur, leaf, 0)
}

fn parse_or_at<C>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<BoolExpr<C>, PatternError> {
    let mut items = vec![parse_and(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if cur.eat_str("||") {
            items.push(parse_and(cur, leaf, depth)?);
        } else if cur.peek() == Some('|') {
            return Err(cur.err("expected '||'"));
        } else {
            break;
        }
    }
    Ok(flatten(items, BoolExpr::Or))
}

fn parse_and<C>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<BoolExpr<C>, PatternError> {
    let mut items = vec![parse_unary(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if cur.eat_str("&&") {
            items.push(parse_unary(cur, leaf, depth)?);
        } else if cur.peek() == Some('&') {
            return Err(cur.err("expected '&&'"));
        } else {
            break;
        }
    }
    Ok(flatten(items, BoolExpr::And))
}

fn parse_unary<C>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<BoolExpr<C>, PatternError> {
    cur.skip_ws();
    if cur.peek() == Some('(') {
        if depth >= MAX_DEPTH {
            return Err(cur.err("parentheses are nested too deeply"));
        }
        cur.bump();
        let inner = parse_or_at(cur, leaf, depth + 1)?;
        cur.skip_ws();
        cur.expect(')')?;
        Ok(inner)
    } else {
        Ok(BoolExpr::Leaf(leaf(cur)?))
    }
}

fn flatten<C>(
    mut items: Vec<BoolExpr<C>>,
    wrap: fn(Vec<BoolExpr<C>>) -> BoolExpr<C>,
) -> BoolExpr<C> {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        wrap(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaves are single letters; `t` is true, anything else false.
    fn eval(s: &str) -> Result<bool, PatternError> {
        let chars: Vec<char> = s.chars().collect();
        let mut cur = Cursor::new(&chars, 0);
        let e = parse_or(&mut cur, &mut |cur: &mut Cursor<'_>| {
            cur.skip_ws();
            cur.bump()
                .filter(char::is_ascii_alphabetic)
                .ok_or_else(|| cur.err("expected a letter"))
        })?;
        cur.expect_end("expression")?;
        Ok(e.eval(&mut |c| *c == 't'))
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert!(eval("t || f && f").expect("valid"));
        assert!(!eval("(t || f) && f").expect("valid"));
        assert!(eval("f || (t && t)").expect("valid"));
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert_eq!(eval("t & f").expect_err("single &").position(), 3);
        assert_eq!(eval("(t || f").expect_err("unclosed").position(), 8);
        assert!(eval("t ||").is_err());
        let deep = format!("{}t{}", "(".repeat(40), ")".repeat(40));
        assert!(eval(&deep).is_err());
    }
}
