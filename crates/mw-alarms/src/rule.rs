//! The composite `AlarmRule` language (reference §3.6): parsing into an
//! [`AlarmRule`], the names it depends on, and boolean evaluation.
//!
//! ```text
//! rule     := or_expr
//! or_expr  := and_expr ( "OR" and_expr )*
//! and_expr := not_expr ( "AND" not_expr )*
//! not_expr := "NOT" not_expr | atom
//! atom     := "(" rule ")" | "TRUE" | "FALSE" | STATEFN "(" alarmref ")"
//! STATEFN  := "ALARM" | "OK" | "INSUFFICIENT_DATA"
//! alarmref := name or ARN, bare (up to the next ")") or in double quotes
//! ```
//!
//! Keywords are uppercase only and NOT binds tighter than AND, which binds
//! tighter than OR (both unconfirmed against AWS). An ARN reference
//! (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`) names the alarm after
//! `:alarm:`. Errors carry a 0-based character position.

use crate::{Error, Result, StateValue};

/// Longest rule AWS accepts.
pub const MAX_RULE_LEN: usize = 10_240;
/// Most distinct child alarms in one rule.
pub const MAX_CHILDREN: usize = 100;
/// Most elements (state functions, TRUE/FALSE, parenthesised groups).
pub const MAX_ELEMENTS: usize = 500;
/// Deepest nesting of NOT and parentheses (a local limit that keeps the
/// recursive parser's stack small).
pub const MAX_DEPTH: usize = 100;

/// A reference to a child alarm inside a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRef {
    /// As written, without quotes (a name or an ARN).
    pub reference: String,
    /// The alarm name: the reference itself, or the part of an ARN after
    /// `:alarm:`.
    pub name: String,
}

/// A parsed rule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    True,
    False,
    /// `ALARM(x)`, `OK(x)`, `INSUFFICIENT_DATA(x)`: true when the child is in
    /// that state.
    State(StateValue, AlarmRef),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A parsed composite alarm rule, keeping its source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRule {
    source: String,
    expr: Expr,
}

impl AlarmRule {
    /// Parses and checks the AWS limits.
    pub fn parse(source: &str) -> Result<AlarmRule> {
        let len = source.chars().count();
        if len == 0 || source.trim().is_empty() {
            return Err(Error::MissingParameter(
                "the parameter AlarmRule must not be empty".to_owned(),
            ));
        }
        if len > MAX_RULE_LEN {
            return Err(Error::InvalidParameter(format!(
                "AlarmRule is {len} characters long; at most {MAX_RULE_LEN} are allowed"
            )));
        }
        let mut p = Parser {
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
            elements: 0,
        };
        let expr = p.or_expr()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            let hint = keyword_hint(&p.word_at(p.pos));
            return Err(p.error_at(p.pos, format!("unexpected {}{hint}", p.describe_here())));
        }
        let rule = AlarmRule {
            source: source.to_owned(),
            expr,
        };
        let children = rule.alarm_names().len();
        if children > MAX_CHILDREN {
            return Err(Error::InvalidParameter(format!(
                "AlarmRule references {children} alarms; at most {MAX_CHILDREN} are allowed"
            )));
        }
        if p.elements > MAX_ELEMENTS {
            return Err(Error::InvalidParameter(format!(
                "AlarmRule has {} elements; at most {MAX_ELEMENTS} are allowed",
                p.elements
            )));
        }
        Ok(rule)
    }

    /// The rule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Distinct child alarm names, in order of first appearance.
    pub fn alarm_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        collect_names(&self.expr, &mut out);
        out
    }

    /// Evaluates the rule; `state_of` gives each child's state, and an
    /// unknown child counts as INSUFFICIENT_DATA.
    pub fn eval(&self, state_of: &dyn Fn(&str) -> Option<StateValue>) -> bool {
        eval_expr(&self.expr, state_of)
    }
}

impl std::fmt::Display for AlarmRule {
    /// A canonical spelling: one space around operators, references quoted,
    /// parentheses only where precedence needs them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_expr(f, &self.expr, 0)
    }
}

fn collect_names<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::True | Expr::False => {}
        Expr::State(_, r) => {
            if !out.contains(&r.name.as_str()) {
                out.push(&r.name);
            }
        }
        Expr::Not(inner) => collect_names(inner, out),
        Expr::And(items) | Expr::Or(items) => {
            for i in items {
                collect_names(i, out);
            }
        }
    }
}

pub(crate) fn eval_expr(e: &Expr, state_of: &dyn Fn(&str) -> Option<StateValue>) -> bool {
    match e {
        Expr::True => true,
        Expr::False => false,
        Expr::State(want, r) => state_of(&r.name).unwrap_or(StateValue::InsufficientData) == *want,
        Expr::Not(inner) => !eval_expr(inner, state_of),
        Expr::And(items) => items.iter().all(|i| eval_expr(i, state_of)),
        Expr::Or(items) => items.iter().any(|i| eval_expr(i, state_of)),
    }
}

/// Precedence: OR 1, AND 2, NOT 3, atoms 4.
fn write_expr(f: &mut std::fmt::Formatter<'_>, e: &Expr, outer: u8) -> std::fmt::Result {
    let (prec, sep) = match e {
        Expr::Or(_) => (1, " OR "),
        Expr::And(_) => (2, " AND "),
        _ => (4, ""),
    };
    match e {
        Expr::True => f.write_str("TRUE"),
        Expr::False => f.write_str("FALSE"),
        Expr::State(s, r) => write!(f, "{}(\"{}\")", s.as_str(), r.reference),
        Expr::Not(inner) => {
            f.write_str("NOT ")?;
            write_expr(f, inner, 3)
        }
        Expr::And(items) | Expr::Or(items) => {
            if prec <= outer {
                f.write_str("(")?;
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write_expr(f, item, prec)?;
            }
            if prec <= outer {
                f.write_str(")")?;
            }
            Ok(())
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    elements: usize,
}

impl Parser {
    fn error_at(&self, position: usize, message: impl Into<String>) -> Error {
        Error::Rule {
            position,
            message: message.into(),
        }
    }

    fn describe_here(&self) -> String {
        match self.chars.get(self.pos) {
            None => "end of rule".to_owned(),
            Some(c) if is_word_char(*c) => format!("'{}'", self.word_at(self.pos)),
            Some(c) => format!("'{c}'"),
        }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn word_at(&self, at: usize) -> String {
        self.chars[at..]
            .iter()
            .take_while(|c| is_word_char(**c))
            .collect()
    }

    /// Consumes `kw` when the next word is exactly it.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        if self.word_at(self.pos) == kw {
            self.pos += kw.chars().count();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                self.pos,
                format!("rule is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr> {
        let mut items = vec![self.and_expr()?];
        while self.eat_keyword("OR") {
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr> {
        let mut items = vec![self.not_expr()?];
        while self.eat_keyword("AND") {
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Expr> {
        if self.eat_keyword("NOT") {
            self.enter()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr> {
        self.skip_ws();
        let start = self.pos;
        match self.chars.get(self.pos) {
            None => Err(self.error_at(
                start,
                "expected TRUE, FALSE, ALARM(...), OK(...), INSUFFICIENT_DATA(...), NOT or '(' but found end of rule",
            )),
            Some('(') => {
                self.pos += 1;
                self.elements += 1;
                self.enter()?;
                let inner = self.or_expr()?;
                self.depth -= 1;
                self.skip_ws();
                if self.chars.get(self.pos) != Some(&')') {
                    return Err(self.error_at(
                        self.pos,
                        format!(
                            "expected ')' to close the '(' at position {start} but found {}",
                            self.describe_here()
                        ),
                    ));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(c) if is_word_char(*c) => {
                let word = self.word_at(start);
                self.pos += word.chars().count();
                let state = match word.as_str() {
                    "TRUE" => {
                        self.elements += 1;
                        return Ok(Expr::True);
                    }
                    "FALSE" => {
                        self.elements += 1;
                        return Ok(Expr::False);
                    }
                    "ALARM" => StateValue::Alarm,
                    "OK" => StateValue::Ok,
                    "INSUFFICIENT_DATA" => StateValue::InsufficientData,
                    "AND" | "OR" => {
                        return Err(self.error_at(
                            start,
                            format!("{word} needs an operand on its left"),
                        ))
                    }
                    other => {
                        let hint = keyword_hint(other);
                        return Err(self.error_at(
                            start,
                            format!("unknown keyword '{other}'{hint}"),
                        ));
                    }
                };
                self.elements += 1;
                let r = self.alarm_ref(&word)?;
                Ok(Expr::State(state, r))
            }
            Some(c) => Err(self.error_at(
                start,
                format!(
                    "expected TRUE, FALSE, ALARM(...), OK(...), INSUFFICIENT_DATA(...), NOT or '(' but found '{c}'"
                ),
            )),
        }
    }

    /// `"(" alarmref ")"` after a state function.
    fn alarm_ref(&mut self, func: &str) -> Result<AlarmRef> {
        self.skip_ws();
        if self.chars.get(self.pos) != Some(&'(') {
            return Err(self.error_at(
                self.pos,
                format!(
                    "expected '(' after {func} but found {}",
                    self.describe_here()
                ),
            ));
        }
        self.pos += 1;
        self.skip_ws();
        let at = self.pos;
        let reference = if self.chars.get(self.pos) == Some(&'"') {
            self.pos += 1;
            let begin = self.pos;
            while self.chars.get(self.pos).is_some_and(|c| *c != '"') {
                self.pos += 1;
            }
            if self.pos >= self.chars.len() {
                return Err(self.error_at(at, "unterminated quoted alarm name"));
            }
            let name: String = self.chars[begin..self.pos].iter().collect();
            self.pos += 1;
            self.skip_ws();
            name
        } else {
            let begin = self.pos;
            while self
                .chars
                .get(self.pos)
                .is_some_and(|c| !matches!(c, ')' | '(' | '"'))
            {
                self.pos += 1;
            }
            let name: String = self.chars[begin..self.pos].iter().collect();
            name.trim_end().to_owned()
        };
        if self.chars.get(self.pos) != Some(&')') {
            return Err(self.error_at(
                self.pos,
                format!(
                    "expected ')' to close {func}( but found {}",
                    self.describe_here()
                ),
            ));
        }
        self.pos += 1;
        if reference.is_empty() {
            return Err(self.error_at(at, format!("{func}() needs an alarm name or ARN")));
        }
        if let Some(c) = reference.chars().find(|c| c.is_control()) {
            return Err(self.error_at(
                at,
                format!("alarm name contains the control character {c:?}"),
            ));
        }
        let name = match reference.split_once(":alarm:") {
            Some((head, tail)) if head.starts_with("arn:") && !tail.is_empty() => tail.to_owned(),
            _ => reference.clone(),
        };
        Ok(AlarmRef { reference, name })
    }
}

/// ` (keywords are uppercase: AND)` when `word` is a keyword in the wrong case.
fn keyword_hint(word: &str) -> String {
    let upper = word.to_ascii_uppercase();
    let keywords = [
        "TRUE",
        "FALSE",
        "ALARM",
        "OK",
        "INSUFFICIENT_DATA",
        "AND",
        "OR",
        "NOT",
    ];
    if upper != word && keywords.contains(&upper.as_str()) {
        format!(" (keywords are uppercase: {upper})")
    } else {
        String::new()
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests;
