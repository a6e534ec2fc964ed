//! The metric math syntax tree ([`Expr`]) and its parser ([`parse_expression`]).
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! or      := and (("OR" | "||") and)*
//! and     := cmp (("AND" | "&&") cmp)*
//! cmp     := add (("==" | "!=" | "<=" | ">=" | "<" | ">") add)*
//! add     := mul (("+" | "-") mul)*
//! mul     := unary (("*" | "/") unary)*
//! unary   := ("-" | "+") unary | pow
//! pow     := primary ("^" unary)?            (right associative, so -2^2 = -4)
//! primary := number | 'string' | "string" | id | KEYWORD
//!          | FUNCTION "(" [or ("," or)*] ")" | "(" or ")" | "[" or ("," or)* "]"
//! ```
//!
//! Ids start with a lowercase letter (`m1`, `e_total`); function names and bare
//! keywords (`REPEAT`, `LINEAR`, `ASC`, ...) are uppercase. Unknown functions,
//! wrong argument counts and malformed SEARCH strings are reported at parse time.

use std::fmt;

use crate::error::QueryError;
use crate::search::SearchExpr;

/// Longest expression text accepted (the `Expression` field limit of GetMetricData).
pub const MAX_EXPRESSION_CHARS: usize = 2048;

/// Deepest nesting of parentheses, calls and unary operators accepted.
const MAX_DEPTH: usize = 100;

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }

    /// Binding strength; higher binds tighter.
    fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
            BinOp::Pow => 7,
        }
    }
}

/// Precedence of unary operators, between `*` and `^`.
const UNARY_PRECEDENCE: u8 = 6;

/// A parsed metric math expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    /// A quoted string (SEARCH query, statistic, METRICS filter).
    Str(String),
    /// A reference to another query of the request by its Id.
    Id(String),
    /// A bare uppercase word used as a function argument (`REPEAT`, `DESC`, ...).
    Keyword(String),
    /// `[a, b, ...]`: an array of time series.
    Array(Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A function call; the name is one of the known uppercase names.
    Call(String, Vec<Expr>),
}

/// Bare uppercase words accepted as arguments.
const KEYWORDS: [&str; 8] = [
    "REPEAT", "LINEAR", "AVG", "MIN", "MAX", "SUM", "ASC", "DESC",
];

/// One metric math function: its name, how many arguments it takes, and whether
/// this server implements it.
struct FunctionSpec {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    supported: bool,
}

const fn f(name: &'static str, min_args: usize, max_args: usize) -> FunctionSpec {
    FunctionSpec {
        name,
        min_args,
        max_args,
        supported: true,
    }
}

const fn unsupported(name: &'static str, min_args: usize, max_args: usize) -> FunctionSpec {
    FunctionSpec {
        name,
        min_args,
        max_args,
        supported: false,
    }
}

const FUNCTIONS: &[FunctionSpec] = &[
    f("ABS", 1, 1),
    unsupported("ANOMALY_DETECTION_BAND", 1, 2),
    f("AVG", 1, 1),
    f("CEIL", 1, 1),
    f("DATAPOINT_COUNT", 1, 1),
    f("DATE", 1, 1),
    f("DAY", 1, 1),
    f("DIFF", 1, 1),
    f("DIFF_TIME", 1, 1),
    f("EPOCH", 1, 1),
    f("FILL", 2, 2),
    f("FIRST", 1, 1),
    f("FLOOR", 1, 1),
    f("HOUR", 1, 1),
    f("IF", 2, 3),
    unsupported("INSIGHT_RULE_METRIC", 2, 3),
    f("LAST", 1, 1),
    f("LOG", 1, 1),
    f("LOG10", 1, 1),
    f("MAX", 1, 1),
    f("METRIC_COUNT", 1, 1),
    f("METRICS", 0, 1),
    f("MIN", 1, 1),
    f("MINUTE", 1, 1),
    f("MONTH", 1, 1),
    f("PERIOD", 1, 1),
    f("RATE", 1, 1),
    f("REMOVE_EMPTY", 1, 1),
    f("RUNNING_SUM", 1, 1),
    f("SEARCH", 3, 3),
    unsupported("SERVICE_QUOTA", 1, 1),
    f("SLICE", 2, 3),
    f("SORT", 3, 4),
    f("STDDEV", 1, 1),
    f("SUM", 1, 1),
    f("TIME_SERIES", 1, 1),
    f("YEAR", 1, 1),
];

fn function_spec(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|s| s.name == name)
}

impl Expr {
    /// The Ids the expression references, in order of first appearance, without
    /// duplicates. Ids reached through `METRICS()` are not listed: see
    /// [`Expr::uses_metrics_fn`].
    pub fn references(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Id(id) = e {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
        });
        out
    }

    /// Whether the expression calls `METRICS()`, which depends on every MetricStat
    /// query of the request (those whose Id contains its filter).
    pub fn uses_metrics_fn(&self) -> bool {
        self.calls("METRICS")
    }

    /// Whether the expression calls `SEARCH()` (which cannot drive an alarm).
    pub fn uses_search(&self) -> bool {
        self.calls("SEARCH")
    }

    /// Whether the expression calls the function `name` anywhere.
    pub fn calls(&self, name: &str) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let Expr::Call(n, _) = e {
                found |= n == name;
            }
        });
        found
    }

    /// Visits this node and every node below it, parents first.
    fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Number(_) | Expr::Str(_) | Expr::Id(_) | Expr::Keyword(_) => {}
            Expr::Array(items) | Expr::Call(_, items) => {
                for item in items {
                    item.walk(visit);
                }
            }
            Expr::Unary(_, e) => e.walk(visit),
            Expr::Binary(_, l, r) => {
                l.walk(visit);
                r.walk(visit);
            }
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary(op, _, _) => op.precedence(),
            Expr::Unary(_, _) => UNARY_PRECEDENCE,
            _ => u8::MAX,
        }
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        if c == '\'' {
            f.write_str("\\'")?;
        } else {
            write!(f, "{c}")?;
        }
    }
    f.write_str("'")
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Canonical text of the expression, with only the parentheses it needs; used as
/// the label of series that have no single source.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Str(s) => write_quoted(f, s),
            Expr::Id(s) | Expr::Keyword(s) => f.write_str(s),
            Expr::Array(items) => {
                f.write_str("[")?;
                write_list(f, items)?;
                f.write_str("]")
            }
            Expr::Call(name, args) => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")
            }
            Expr::Unary(op, e) => {
                f.write_str(match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                })?;
                if e.precedence() < UNARY_PRECEDENCE {
                    write!(f, "({e})")
                } else {
                    write!(f, "{e}")
                }
            }
            Expr::Binary(op, l, r) => {
                let p = op.precedence();
                // Left associative except `^`: parenthesise the side that would regroup.
                let (left_paren, right_paren) = if *op == BinOp::Pow {
                    (
                        l.precedence() <= p,
                        r.precedence() < p.min(UNARY_PRECEDENCE),
                    )
                } else {
                    (l.precedence() < p, r.precedence() <= p)
                };
                if left_paren {
                    write!(f, "({l})")?;
                } else {
                    write!(f, "{l}")?;
                }
                write!(f, " {} ", op.symbol())?;
                if right_paren {
                    write!(f, "({r})")
                } else {
                    write!(f, "{r}")
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Str(String),
    /// Starts with a lowercase letter: an Id (or a misspelt function).
    Ident(String),
    /// Starts with an uppercase letter: a function or keyword.
    Upper(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(BinOp),
    /// `-`, which is binary or unary depending on place.
    Minus,
    /// `+`, likewise.
    Plus,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(_) => "string".to_string(),
            Tok::Ident(s) | Tok::Upper(s) => format!("'{s}'"),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::LBracket => "'['".to_string(),
            Tok::RBracket => "']'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Op(op) => format!("'{}'", op.symbol()),
            Tok::Minus => "'-'".to_string(),
            Tok::Plus => "'+'".to_string(),
            Tok::Eof => "end of expression".to_string(),
        }
    }
}

/// A token and its 1-based character position.
struct Spanned {
    tok: Tok,
    pos: usize,
}

fn lex(chars: &[char]) -> Result<Vec<Spanned>, QueryError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two = |next: char| chars.get(i + 1) == Some(&next);
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Op(BinOp::Mul), 1),
            '/' => (Tok::Op(BinOp::Div), 1),
            '^' => (Tok::Op(BinOp::Pow), 1),
            '=' if two('=') => (Tok::Op(BinOp::Eq), 2),
            '!' if two('=') => (Tok::Op(BinOp::Ne), 2),
            '<' if two('=') => (Tok::Op(BinOp::Le), 2),
            '>' if two('=') => (Tok::Op(BinOp::Ge), 2),
            '<' => (Tok::Op(BinOp::Lt), 1),
            '>' => (Tok::Op(BinOp::Gt), 1),
            '&' if two('&') => (Tok::Op(BinOp::And), 2),
            '|' if two('|') => (Tok::Op(BinOp::Or), 2),
            '=' => return Err(QueryError::syntax(pos, "expected '==' for equality")),
            '\'' | '"' => {
                let (s, len) = lex_string(chars, i)?;
                (Tok::Str(s), len)
            }
            c if c.is_ascii_digit() || c == '.' => lex_number(chars, i)?,
            c if c.is_ascii_alphabetic() => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                let tok = match word.as_str() {
                    "AND" => Tok::Op(BinOp::And),
                    "OR" => Tok::Op(BinOp::Or),
                    _ if c.is_ascii_uppercase() => Tok::Upper(word),
                    _ => Tok::Ident(word),
                };
                (tok, len)
            }
            other => {
                return Err(QueryError::syntax(
                    pos,
                    format!("unexpected character '{other}'"),
                ))
            }
        };
        out.push(Spanned { tok, pos });
        i += len;
    }
    out.push(Spanned {
        tok: Tok::Eof,
        pos: chars.len() + 1,
    });
    Ok(out)
}

/// Reads a quoted string starting at `start`. A backslash protects the next
/// character; `\<quote>` becomes the quote, other pairs are kept as written so
/// that SEARCH queries keep their own escapes.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), QueryError> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some(&next) if next == quote => s.push(next),
                Some(&next) => {
                    s.push('\\');
                    s.push(next);
                }
                None => break,
            }
            i += 2;
            continue;
        }
        if c == quote {
            return Ok((s, i + 1 - start));
        }
        s.push(c);
        i += 1;
    }
    Err(QueryError::syntax(start + 1, "unterminated string"))
}

fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), QueryError> {
    let mut i = start;
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    let mut n = digits(&mut i);
    if chars.get(i) == Some(&'.') {
        i += 1;
        n += digits(&mut i);
    }
    if n == 0 {
        return Err(QueryError::syntax(start + 1, "unexpected character '.'"));
    }
    if matches!(chars.get(i), Some('e') | Some('E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+') | Some('-')) {
            j += 1;
        }
        if digits(&mut j) == 0 {
            return Err(QueryError::syntax(i + 1, "malformed number exponent"));
        }
        i = j;
    }
    let text: String = chars[start..i].iter().collect();
    let value: f64 = text
        .parse()
        .map_err(|_| QueryError::syntax(start + 1, format!("malformed number {text}")))?;
    Ok((Tok::Number(value), i - start))
}

struct Parser {
    toks: Vec<Spanned>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].pos
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        tok
    }

    fn expect(&mut self, want: Tok, shown: &str) -> Result<(), QueryError> {
        if *self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(QueryError::syntax(self.pos(), format!("expected {shown}")))
        }
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::syntax(
                self.pos(),
                "expression nested too deeply",
            ));
        }
        Ok(())
    }

    /// Binary operators by precedence climbing, from `min_prec` up.
    fn binary(&mut self, min_prec: u8) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op(op) if *op != BinOp::Pow => *op,
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => break,
            };
            let p = op.precedence();
            if p < min_prec {
                break;
            }
            self.bump();
            let right = self.binary(p + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.enter()?;
        let e = match self.peek() {
            Tok::Minus => {
                self.bump();
                Expr::Unary(UnaryOp::Neg, Box::new(self.unary()?))
            }
            Tok::Plus => {
                self.bump();
                Expr::Unary(UnaryOp::Plus, Box::new(self.unary()?))
            }
            _ => {
                let base = self.primary()?;
                if *self.peek() == Tok::Op(BinOp::Pow) {
                    self.bump();
                    let exponent = self.unary()?;
                    Expr::Binary(BinOp::Pow, Box::new(base), Box::new(exponent))
                } else {
                    base
                }
            }
        };
        self.depth -= 1;
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Number(n) => Ok(Expr::Number(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Ident(name) => {
                if *self.peek() == Tok::LParen {
                    Err(QueryError::UnknownFunction(name))
                } else {
                    Ok(Expr::Id(name))
                }
            }
            Tok::Upper(name) => {
                if *self.peek() == Tok::LParen {
                    self.bump();
                    self.call(name, pos)
                } else if KEYWORDS.contains(&name.as_str()) {
                    Ok(Expr::Keyword(name))
                } else if function_spec(&name).is_some() {
                    Err(QueryError::syntax(
                        self.pos(),
                        format!("expected '(' after {name}"),
                    ))
                } else {
                    Err(QueryError::syntax(pos, format!("unknown keyword {name}")))
                }
            }
            Tok::LParen => {
                let e = self.binary(0)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::LBracket => {
                let items = self.list(Tok::RBracket, "']'")?;
                if items.is_empty() {
                    return Err(QueryError::syntax(pos, "empty array"));
                }
                Ok(Expr::Array(items))
            }
            Tok::Eof => Err(QueryError::syntax(pos, "expected an expression")),
            other => Err(QueryError::syntax(
                pos,
                format!("unexpected {}", other.describe()),
            )),
        }
    }

    /// Comma-separated expressions up to the closing token (already past the opener).
    fn list(&mut self, close: Tok, shown: &str) -> Result<Vec<Expr>, QueryError> {
        let mut items = Vec::new();
        if *self.peek() == close {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.binary(0)?);
            if *self.peek() == Tok::Comma {
                self.bump();
                continue;
            }
            self.expect(close, &format!("',' or {shown}"))?;
            return Ok(items);
        }
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Expr, QueryError> {
        let Some(spec) = function_spec(&name) else {
            return Err(QueryError::UnknownFunction(name));
        };
        let args = self.list(Tok::RParen, "')'")?;
        if !spec.supported {
            return Err(QueryError::UnsupportedFunction(name));
        }
        if args.len() < spec.min_args || args.len() > spec.max_args {
            let expected = if spec.min_args == spec.max_args {
                spec.min_args.to_string()
            } else {
                format!("{} to {}", spec.min_args, spec.max_args)
            };
            return Err(QueryError::Arity {
                function: name,
                expected,
                got: args.len(),
            });
        }
        if name == "SEARCH" {
            match &args[0] {
                Expr::Str(query) => {
                    SearchExpr::parse(query)?;
                }
                _ => {
                    return Err(QueryError::syntax(
                        pos,
                        "SEARCH takes a quoted search query as its first argument",
                    ))
                }
            }
        }
        Ok(Expr::Call(name, args))
    }
}

/// Parses metric math text. Errors name the 1-based character position.
pub fn parse_expression(s: &str) -> Result<Expr, QueryError> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() > MAX_EXPRESSION_CHARS {
        return Err(QueryError::TooLong {
            what: "an expression",
            max: MAX_EXPRESSION_CHARS,
        });
    }
    let toks = lex(&chars)?;
    let mut parser = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    let expr = parser.binary(0)?;
    match parser.peek() {
        Tok::Eof => Ok(expr),
        other => Err(QueryError::syntax(
            parser.pos(),
            format!("unexpected {}", other.describe()),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expression(s).unwrap()
    }

    fn err(s: &str) -> String {
        parse_expression(s).unwrap_err().to_string()
    }

    fn id(s: &str) -> Box<Expr> {
        Box::new(Expr::Id(s.to_string()))
    }

    fn num(n: f64) -> Box<Expr> {
        Box::new(Expr::Number(n))
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(
            p("m1 + m2 * 2"),
            Expr::Binary(
                BinOp::Add,
                id("m1"),
                Box::new(Expr::Binary(BinOp::Mul, id("m2"), num(2.0)))
            )
        );
        assert_eq!(
            p("m1 - m2 - m3"),
            Expr::Binary(
                BinOp::Sub,
                Box::new(Expr::Binary(BinOp::Sub, id("m1"), id("m2"))),
                id("m3")
            )
        );
        assert_eq!(
            p("2^3^2"),
            Expr::Binary(
                BinOp::Pow,
                num(2.0),
                Box::new(Expr::Binary(BinOp::Pow, num(3.0), num(2.0)))
            )
        );
        assert_eq!(
            p("-2^2"),
            Expr::Unary(
                UnaryOp::Neg,
                Box::new(Expr::Binary(BinOp::Pow, num(2.0), num(2.0)))
            )
        );
        assert_eq!(
            p("m1 > 1 AND m2 < 2 || m3"),
            Expr::Binary(
                BinOp::Or,
                Box::new(Expr::Binary(
                    BinOp::And,
                    Box::new(Expr::Binary(BinOp::Gt, id("m1"), num(1.0))),
                    Box::new(Expr::Binary(BinOp::Lt, id("m2"), num(2.0)))
                )),
                id("m3")
            )
        );
        assert_eq!(
            p("(m1 + m2) * 2"),
            Expr::Binary(
                BinOp::Mul,
                Box::new(Expr::Binary(BinOp::Add, id("m1"), id("m2"))),
                num(2.0)
            )
        );
    }

    #[test]
    fn literals_calls_keywords_and_arrays() {
        assert_eq!(p("1.5e2"), Expr::Number(150.0));
        assert_eq!(p(".5"), Expr::Number(0.5));
        assert_eq!(
            p("FILL(m1, REPEAT)"),
            Expr::Call(
                "FILL".into(),
                vec![Expr::Id("m1".into()), Expr::Keyword("REPEAT".into())]
            )
        );
        assert_eq!(p("METRICS()"), Expr::Call("METRICS".into(), vec![]));
        assert_eq!(
            p("SUM([m1, m_2])"),
            Expr::Call(
                "SUM".into(),
                vec![Expr::Array(vec![
                    Expr::Id("m1".into()),
                    Expr::Id("m_2".into())
                ])]
            )
        );
        assert_eq!(
            p(r#"SEARCH('{AWS/EC2,InstanceId} MetricName="CPU \"x\"" it\'s', "Average", 300)"#),
            Expr::Call(
                "SEARCH".into(),
                vec![
                    Expr::Str(r#"{AWS/EC2,InstanceId} MetricName="CPU \"x\"" it's"#.into()),
                    Expr::Str("Average".into()),
                    Expr::Number(300.0)
                ]
            )
        );
    }

    #[test]
    fn error_positions() {
        assert_eq!(
            err("ABS(m1"),
            "syntax error at position 7: expected ',' or ')'"
        );
        assert_eq!(err("(m1 + m2"), "syntax error at position 9: expected ')'");
        assert_eq!(
            err("m1 + m2)"),
            "syntax error at position 8: unexpected ')'"
        );
        assert_eq!(
            err("m1 +"),
            "syntax error at position 5: expected an expression"
        );
        assert_eq!(
            err(""),
            "syntax error at position 1: expected an expression"
        );
        assert_eq!(
            err("m1 = m2"),
            "syntax error at position 4: expected '==' for equality"
        );
        assert_eq!(
            err("m1 # 2"),
            "syntax error at position 4: unexpected character '#'"
        );
        assert_eq!(
            err("m1 * 'abc"),
            "syntax error at position 6: unterminated string"
        );
        assert_eq!(err("m1 m2"), "syntax error at position 4: unexpected 'm2'");
        assert_eq!(
            err("1e+"),
            "syntax error at position 2: malformed number exponent"
        );
        assert_eq!(
            err("FILL(m1, BOGUS)"),
            "syntax error at position 10: unknown keyword BOGUS"
        );
        assert_eq!(
            err("ABS + 1"),
            "syntax error at position 5: expected '(' after ABS"
        );
        assert_eq!(err("[]"), "syntax error at position 1: empty array");
    }

    #[test]
    fn function_errors() {
        assert_eq!(err("FOO(m1)"), "unknown function FOO");
        assert_eq!(err("abs(m1)"), "unknown function abs");
        assert_eq!(
            err("ANOMALY_DETECTION_BAND(m1, 2)"),
            "function ANOMALY_DETECTION_BAND is not supported"
        );
        assert_eq!(
            err("ABS(m1, m2)"),
            "function ABS expects 1 argument(s), got 2"
        );
        assert_eq!(
            err("IF(m1)"),
            "function IF expects 2 to 3 argument(s), got 1"
        );
        assert_eq!(
            err("SEARCH('{AWS/EC2', 'Average', 300)"),
            "search syntax error at position 9: expected '}' to close the schema"
        );
        assert_eq!(
            err("SEARCH(m1, 'Average', 300)"),
            "syntax error at position 1: SEARCH takes a quoted search query as its first argument"
        );
    }

    #[test]
    fn limits() {
        let long = "m1+".repeat(700) + "m1";
        assert_eq!(
            parse_expression(&long).unwrap_err().kind(),
            crate::ErrorKind::LimitExceeded
        );
        let deep = "(".repeat(150) + "m1" + &")".repeat(150);
        assert!(err(&deep).contains("nested too deeply"));
        let ok = "(".repeat(50) + "m1" + &")".repeat(50);
        assert_eq!(p(&ok), Expr::Id("m1".into()));
    }

    #[test]
    fn references_and_flags() {
        let e = p("m1 + e1 * m1 + SUM(METRICS('m')) + IF(m2 > 0, m3)");
        assert_eq!(e.references(), vec!["m1", "e1", "m2", "m3"]);
        assert!(e.uses_metrics_fn());
        assert!(!e.uses_search());
        let s = p("SEARCH('CPU', 'Average', 60)");
        assert!(s.uses_search());
        assert!(s.references().is_empty());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "m1 + m2 * 2",
            "(m1 + m2) * 2",
            "m1 - (m2 - m3)",
            "-(m1 + m2)",
            "-m1 ^ 2",
            "(-m1) ^ 2",
            "2 ^ 3 ^ 2",
            "(2 ^ 3) ^ 2",
            "2 ^ -1",
            "SORT(METRICS('m'), MAX, DESC, 3)",
            "IF(m1 > 2 AND m2 != 0 OR m3, 1, [m1, m2])",
            "m1 / (m2 * m3)",
        ] {
            let e = p(text);
            assert_eq!(e.to_string(), text);
            assert_eq!(p(&e.to_string()), e);
        }
        assert_eq!(p("m1&&m2").to_string(), "m1 AND m2");
    }
}
