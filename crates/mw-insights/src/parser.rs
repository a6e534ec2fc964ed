//! Parses query text into a [`Plan`]: commands joined by `|`, expressions with the
//! usual precedence (`or` < `and` < `not` < comparisons < `+ -` < `* / %` < unary `-` <
//! `^`), and the static analysis the executor relies on (slots, output columns, which
//! fields are read from events).
//!
//! Every error names a 1-based character position. Expressions are bounded in nesting
//! and depth so that hostile text cannot exhaust the stack while parsing or evaluating.

use std::collections::{BTreeSet, HashMap, HashSet};

use regex::{Regex, RegexBuilder};

use crate::ast::{
    AggSpec, ArithOp, Assign, CmpOp, Command, Expr, ParseSpec, Pattern, Plan, SortKey, StatsSpec,
    SLOT_PTR, SLOT_TIMESTAMP, SYSTEM_FIELDS,
};
use crate::error::InsightsError;
use crate::functions::Func;
use crate::lexer::{tokenize, Tok, Token};
use crate::stats::AggFunc;
use crate::value::Value;

/// The longest query text AWS accepts, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 10_000;
/// The largest `limit n`.
pub(crate) const MAX_LIMIT: usize = 100_000;
/// The deepest expression tree accepted.
const MAX_DEPTH: usize = 100;
/// The deepest nesting of parentheses, calls, lists and prefix operators.
const MAX_NEST: usize = 40;
/// Words that are never field names unless quoted with backticks.
const RESERVED: [&str; 9] = ["and", "or", "not", "in", "like", "as", "by", "asc", "desc"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ordinary expressions over one row.
    Row,
    /// A `stats` output: fields only inside aggregate calls.
    StatsItem,
    /// The argument of an aggregate call.
    AggArg,
}

struct Parser<'t> {
    chars: &'t [char],
    toks: Vec<Token>,
    pos: usize,
    names: Vec<String>,
    slots: HashMap<String, usize>,
    mode: Mode,
    nest: usize,
    aggs: Vec<AggSpec>,
    /// Output names of the latest `stats` (so `sort count(*)` can refer to one).
    stats_names: HashMap<String, usize>,
    after_stats: bool,
    written: HashSet<usize>,
    system_read: [bool; SYSTEM_FIELDS.len()],
    discover: BTreeSet<usize>,
}

/// Parses and compiles query text.
pub(crate) fn parse_plan(text: &str) -> Result<Plan, InsightsError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(InsightsError::TooLong {
            max: MAX_QUERY_CHARS,
        });
    }
    let toks = tokenize(&chars)?;
    let mut names = Vec::new();
    let mut slots = HashMap::new();
    for (i, name) in SYSTEM_FIELDS.iter().enumerate() {
        names.push((*name).to_owned());
        slots.insert((*name).to_owned(), i);
    }
    Parser {
        chars: &chars,
        toks,
        pos: 0,
        names,
        slots,
        mode: Mode::Row,
        nest: 0,
        aggs: Vec::new(),
        stats_names: HashMap::new(),
        after_stats: false,
        written: HashSet::new(),
        system_read: [false; SYSTEM_FIELDS.len()],
        discover: BTreeSet::new(),
    }
    .query()
}

/// Output-column bookkeeping while commands are parsed.
#[derive(Default)]
struct Columns {
    cols: Vec<usize>,
    /// Whether a `fields` or `stats` set the columns (else `@timestamp, @message` lead).
    explicit: bool,
    /// Whether a `display` fixed them.
    fixed: bool,
}

impl Columns {
    fn append(&mut self, slots: impl IntoIterator<Item = usize>) {
        if self.fixed {
            return;
        }
        for s in slots {
            if !self.cols.contains(&s) {
                self.cols.push(s);
            }
        }
    }

    fn replace(&mut self, slots: impl IntoIterator<Item = usize>) {
        self.cols.clear();
        self.fixed = false;
        self.append(slots);
        self.explicit = true;
    }
}

impl Parser<'_> {
    fn query(mut self) -> Result<Plan, InsightsError> {
        if self.peek().tok == Tok::Eof {
            return Err(InsightsError::syntax(0, 1, "query is empty"));
        }
        let mut commands = Vec::new();
        let mut columns = Columns::default();
        let mut after_dedup = false;
        loop {
            let t = self.next();
            let Tok::Ident(word) = &t.tok else {
                return Err(unexpected(&t));
            };
            let name = word.to_ascii_lowercase();
            if after_dedup && name != "limit" {
                return Err(InsightsError::syntax(
                    t.start,
                    t.end - t.start,
                    "only limit can follow dedup",
                ));
            }
            match name.as_str() {
                "fields" => {
                    let items = self.items()?;
                    if !columns.explicit {
                        columns.explicit = true;
                        // Parse outputs seen so far stay after the new fields.
                        let parsed = std::mem::take(&mut columns.cols);
                        columns.append(items.iter().map(|a| a.slot));
                        columns.append(parsed);
                    } else {
                        columns.append(items.iter().map(|a| a.slot));
                    }
                    push_fields(&mut commands, items);
                }
                "display" => {
                    let items = self.items()?;
                    columns.replace(items.iter().map(|a| a.slot));
                    columns.fixed = true;
                    push_fields(&mut commands, items);
                }
                "filter" => {
                    let e = self.expr()?;
                    commands.push(Command::Filter(e));
                }
                "stats" => {
                    let spec = self.stats()?;
                    columns.replace(
                        spec.groups
                            .iter()
                            .map(|a| a.slot)
                            .chain(spec.outputs.iter().map(|a| a.slot)),
                    );
                    commands.push(Command::Stats(Box::new(spec)));
                }
                "sort" => {
                    let keys = self.sort_keys()?;
                    commands.push(Command::Sort(keys));
                }
                "limit" => {
                    let n = self.limit_count()?;
                    commands.push(Command::Limit(n));
                }
                "parse" => {
                    let spec = self.parse_command()?;
                    columns.append(spec.captures.iter().map(|c| c.1));
                    commands.push(Command::Parse(spec));
                }
                "dedup" => {
                    let slots = self.dedup_fields()?;
                    commands.push(Command::Dedup(slots));
                    after_dedup = true;
                }
                _ => {
                    return Err(InsightsError::UnknownCommand {
                        name: word.clone(),
                        position: t.start + 1,
                    })
                }
            }
            let t = self.next();
            match t.tok {
                Tok::Eof => break,
                Tok::Op("|") => continue,
                _ => return Err(unexpected(&t)),
            }
        }
        let aggregated = commands.iter().any(|c| matches!(c, Command::Stats(_)));
        let mut output = Vec::new();
        if !columns.explicit {
            output.extend([SLOT_TIMESTAMP, crate::ast::SLOT_MESSAGE]);
        }
        for s in columns.cols {
            if !output.contains(&s) {
                output.push(s);
            }
        }
        if !aggregated {
            output.retain(|&s| s != SLOT_PTR);
        }
        for &s in &output {
            self.mark_read(s);
        }
        let last_stats = commands
            .iter()
            .rposition(|c| matches!(c, Command::Stats(_)));
        let limit = commands
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, c)| match c {
                Command::Limit(n) if last_stats.is_none_or(|s| i > s) => Some(*n),
                _ => None,
            });
        let mut discover = HashMap::new();
        let mut discover_prefixes = HashSet::new();
        for &slot in &self.discover {
            let name = &self.names[slot];
            for (i, c) in name.char_indices() {
                if c == '.' && i > 0 {
                    discover_prefixes.insert(name[..i].to_owned());
                }
            }
            discover.insert(name.clone(), slot);
        }
        Ok(Plan {
            names: self.names,
            commands,
            output,
            aggregated,
            limit,
            system_read: self.system_read,
            discover,
            discover_prefixes,
        })
    }

    // ---- token helpers ----

    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek2(&self) -> &Token {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expect_op(&mut self, op: &str) -> Result<Token, InsightsError> {
        let t = self.next();
        if t.is_op(op) {
            Ok(t)
        } else {
            Err(unexpected(&t))
        }
    }

    /// The query text from token `from` through the last consumed token.
    fn source_text(&self, from: usize) -> String {
        let start = self.toks[from].start;
        let end = self.toks[self.pos.saturating_sub(1)]
            .end
            .min(self.chars.len());
        if end <= start {
            return String::new();
        }
        self.chars[start..end].iter().collect()
    }

    fn enter(&mut self, t: &Token) -> Result<(), InsightsError> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                "expression is nested too deeply",
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nest -= 1;
    }

    // ---- slots and read analysis ----

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&s) = self.slots.get(name) {
            return s;
        }
        self.names.push(name.to_owned());
        self.slots.insert(name.to_owned(), self.names.len() - 1);
        self.names.len() - 1
    }

    fn mark_read(&mut self, slot: usize) {
        if self.after_stats {
            return;
        }
        if slot < SYSTEM_FIELDS.len() {
            self.system_read[slot] = true;
        } else if !self.written.contains(&slot) {
            self.discover.insert(slot);
        }
    }

    fn mark_written(&mut self, slot: usize) {
        if !self.after_stats {
            self.written.insert(slot);
        }
    }

    fn field(&mut self, name: &str, t: &Token) -> Result<Expr, InsightsError> {
        if self.mode == Mode::StatsItem {
            return Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                format!("field '{name}' must be inside an aggregate function"),
            ));
        }
        let slot = self.slot(name);
        self.mark_read(slot);
        Ok(Expr::Field(slot))
    }

    /// A field name token (bare word that is not reserved, or backtick-quoted).
    fn field_name(&mut self) -> Result<(String, Token), InsightsError> {
        let t = self.next();
        match &t.tok {
            Tok::Ident(w) if !is_reserved(w) => Ok((w.clone(), t.clone())),
            Tok::Quoted(w) => Ok((w.clone(), t.clone())),
            _ => Err(unexpected(&t)),
        }
    }

    // ---- commands ----

    /// `expr [as name], ...` of `fields` and `display`.
    fn items(&mut self) -> Result<Vec<Assign>, InsightsError> {
        let mut items = Vec::new();
        loop {
            let from = self.pos;
            let expr = self.expr()?;
            let name = if self.peek().is_word("as") {
                self.next();
                self.field_name()?.0
            } else {
                match &expr {
                    Expr::Field(slot) => self.names[*slot].clone(),
                    _ => self.source_text(from),
                }
            };
            let slot = self.slot(&name);
            self.mark_written(slot);
            items.push(Assign { expr, slot });
            if !self.peek().is_op(",") {
                return Ok(items);
            }
            self.next();
        }
    }

    fn stats(&mut self) -> Result<StatsSpec, InsightsError> {
        self.aggs.clear();
        self.mode = Mode::StatsItem;
        let mut outputs = Vec::new();
        let mut out_names = Vec::new();
        loop {
            let from = self.pos;
            let first = self.peek().clone();
            let aggs_before = self.aggs.len();
            let expr = self.expr()?;
            if self.aggs.len() == aggs_before {
                return Err(InsightsError::syntax(
                    first.start,
                    first.end - first.start,
                    "stats requires an aggregate function such as count(*)",
                ));
            }
            let name = if self.peek().is_word("as") {
                self.next();
                self.field_name()?.0
            } else {
                self.source_text(from)
            };
            out_names.push(name);
            outputs.push(expr);
            if !self.peek().is_op(",") {
                break;
            }
            self.next();
        }
        self.mode = Mode::Row;
        let mut groups = Vec::new();
        if self.peek().is_word("by") {
            self.next();
            loop {
                let from = self.pos;
                let expr = self.expr()?;
                let name = if self.peek().is_word("as") {
                    self.next();
                    self.field_name()?.0
                } else {
                    match &expr {
                        Expr::Field(slot) => self.names[*slot].clone(),
                        _ => self.source_text(from),
                    }
                };
                let slot = self.slot(&name);
                groups.push(Assign { expr, slot });
                if !self.peek().is_op(",") {
                    break;
                }
                self.next();
            }
        }
        self.after_stats = true;
        self.stats_names.clear();
        for g in &groups {
            self.stats_names.insert(self.names[g.slot].clone(), g.slot);
        }
        let outputs: Vec<Assign> = outputs
            .into_iter()
            .zip(out_names)
            .map(|(expr, name)| {
                let slot = self.slot(&name);
                self.stats_names.insert(name, slot);
                Assign { expr, slot }
            })
            .collect();
        Ok(StatsSpec {
            aggs: std::mem::take(&mut self.aggs),
            groups,
            outputs,
        })
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, InsightsError> {
        let mut keys = Vec::new();
        loop {
            let expr = self.expr()?;
            let desc = if self.peek().is_word("desc") {
                self.next();
                true
            } else {
                if self.peek().is_word("asc") {
                    self.next();
                }
                false
            };
            keys.push(SortKey { expr, desc });
            if !self.peek().is_op(",") {
                return Ok(keys);
            }
            self.next();
        }
    }

    fn limit_count(&mut self) -> Result<usize, InsightsError> {
        let t = self.next();
        match t.tok {
            Tok::Num(n) if n.fract() == 0.0 && (1.0..=MAX_LIMIT as f64).contains(&n) => {
                Ok(n as usize)
            }
            Tok::Num(_) => Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            )),
            _ => Err(unexpected(&t)),
        }
    }

    fn parse_command(&mut self) -> Result<ParseSpec, InsightsError> {
        let source = match self.peek().tok {
            Tok::Str(_) | Tok::Regex(_) => {
                let t = self.peek().clone();
                self.field("@message", &t)?
            }
            _ => {
                let (name, t) = self.field_name()?;
                self.field(&name, &t)?
            }
        };
        let t = self.next();
        let (regex, names) = match &t.tok {
            Tok::Str(glob) => {
                let stars = glob.matches('*').count();
                if stars == 0 {
                    return Err(InsightsError::syntax(
                        t.start,
                        t.end - t.start,
                        "parse pattern must contain at least one '*'",
                    ));
                }
                let as_tok = self.next();
                if !as_tok.is_word("as") {
                    return Err(unexpected(&as_tok));
                }
                let mut names = Vec::new();
                loop {
                    names.push(self.field_name()?.0);
                    if !self.peek().is_op(",") {
                        break;
                    }
                    self.next();
                }
                if names.len() != stars {
                    return Err(InsightsError::syntax(
                        t.start,
                        t.end - t.start,
                        format!(
                            "parse pattern has {stars} '*' but {} field names",
                            names.len()
                        ),
                    ));
                }
                let regex = compile_regex(&glob_to_regex(glob), &t)?;
                let names = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (i + 1, n))
                    .collect::<Vec<_>>();
                (regex, names)
            }
            Tok::Regex(pattern) => {
                let regex = compile_regex(pattern, &t)?;
                let names: Vec<(usize, String)> = regex
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (i, n.to_owned())))
                    .collect();
                if names.is_empty() {
                    return Err(InsightsError::syntax(
                        t.start,
                        t.end - t.start,
                        "parse regular expression must have named groups such as (?<name>...)",
                    ));
                }
                (regex, names)
            }
            _ => return Err(unexpected(&t)),
        };
        let captures = names
            .into_iter()
            .map(|(group, name)| {
                let slot = self.slot(&name);
                self.mark_written(slot);
                (group, slot)
            })
            .collect();
        Ok(ParseSpec {
            source,
            regex,
            captures,
        })
    }

    fn dedup_fields(&mut self) -> Result<Vec<usize>, InsightsError> {
        let mut slots = Vec::new();
        loop {
            let (name, _) = self.field_name()?;
            let slot = self.slot(&name);
            self.mark_read(slot);
            slots.push(slot);
            if !self.peek().is_op(",") {
                return Ok(slots);
            }
            self.next();
        }
    }

    // ---- expressions ----

    fn expr(&mut self) -> Result<Expr, InsightsError> {
        self.or_expr()
    }

    fn or_expr(&mut self) -> Result<Expr, InsightsError> {
        let mut left = self.and_expr()?;
        while self.peek().is_word("or") {
            let op = self.next();
            let right = self.and_expr()?;
            left = check_depth(Expr::Or(Box::new(left), Box::new(right)), &op)?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, InsightsError> {
        let mut left = self.not_expr()?;
        while self.peek().is_word("and") {
            let op = self.next();
            let right = self.not_expr()?;
            left = check_depth(Expr::And(Box::new(left), Box::new(right)), &op)?;
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, InsightsError> {
        if self.peek().is_word("not") {
            let t = self.next();
            self.enter(&t)?;
            let inner = self.not_expr()?;
            self.leave();
            return check_depth(Expr::Not(Box::new(inner)), &t);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, InsightsError> {
        let left = self.additive()?;
        let t = self.peek().clone();
        let cmp = match &t.tok {
            Tok::Op("=") => Some(CmpOp::Eq),
            Tok::Op("!=") => Some(CmpOp::Ne),
            Tok::Op("<") => Some(CmpOp::Lt),
            Tok::Op("<=") => Some(CmpOp::Le),
            Tok::Op(">") => Some(CmpOp::Gt),
            Tok::Op(">=") => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.next();
            let right = self.additive()?;
            return check_depth(Expr::Cmp(op, Box::new(left), Box::new(right)), &t);
        }
        let negated =
            t.is_word("not") && (self.peek2().is_word("like") || self.peek2().is_word("in"));
        if negated {
            self.next();
        }
        let t = self.peek().clone();
        if t.is_op("=~") || t.is_word("like") {
            self.next();
            let pattern = self.pattern(t.is_op("=~"))?;
            return Ok(Expr::Like {
                expr: Box::new(left),
                pattern,
                negated,
            });
        }
        if t.is_word("in") {
            self.next();
            let open = self.expect_op("[")?;
            self.enter(&open)?;
            let mut list = Vec::new();
            if !self.peek().is_op("]") {
                loop {
                    list.push(self.expr()?);
                    if !self.peek().is_op(",") {
                        break;
                    }
                    self.next();
                }
            }
            self.expect_op("]")?;
            self.leave();
            return check_depth(
                Expr::In {
                    expr: Box::new(left),
                    list,
                    negated,
                },
                &t,
            );
        }
        Ok(left)
    }

    /// The right side of `like` (string: substring; regex) or `=~` (string or regex: regex).
    fn pattern(&mut self, always_regex: bool) -> Result<Pattern, InsightsError> {
        let t = self.next();
        match &t.tok {
            Tok::Regex(p) => Ok(Pattern::Regex(compile_regex(p, &t)?)),
            Tok::Str(s) if always_regex => Ok(Pattern::Regex(compile_regex(s, &t)?)),
            Tok::Str(s) => Ok(Pattern::Substr(s.clone())),
            _ => Err(unexpected(&t)),
        }
    }

    fn additive(&mut self) -> Result<Expr, InsightsError> {
        let mut left = self.multiplicative()?;
        loop {
            let t = self.peek().clone();
            let op = match t.tok {
                Tok::Op("+") => ArithOp::Add,
                Tok::Op("-") => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            let right = self.multiplicative()?;
            left = check_depth(Expr::Arith(op, Box::new(left), Box::new(right)), &t)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, InsightsError> {
        let mut left = self.unary()?;
        loop {
            let t = self.peek().clone();
            let op = match t.tok {
                Tok::Op("*") => ArithOp::Mul,
                Tok::Op("/") => ArithOp::Div,
                Tok::Op("%") => ArithOp::Rem,
                _ => return Ok(left),
            };
            self.next();
            let right = self.unary()?;
            left = check_depth(Expr::Arith(op, Box::new(left), Box::new(right)), &t)?;
        }
    }

    fn unary(&mut self) -> Result<Expr, InsightsError> {
        if self.peek().is_op("-") {
            let t = self.next();
            self.enter(&t)?;
            let inner = self.unary()?;
            self.leave();
            return check_depth(Expr::Neg(Box::new(inner)), &t);
        }
        let base = self.primary()?;
        if self.peek().is_op("^") {
            let t = self.next();
            self.enter(&t)?;
            let exp = self.unary()?;
            self.leave();
            return check_depth(Expr::Arith(ArithOp::Pow, Box::new(base), Box::new(exp)), &t);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, InsightsError> {
        let t = self.next();
        match &t.tok {
            Tok::Num(x) => Ok(Expr::Lit(Value::Num(*x))),
            Tok::Str(s) => Ok(Expr::Lit(Value::Str(s.clone().into()))),
            Tok::Quoted(name) => self.field(name, &t),
            Tok::Ident(word) if self.peek().is_op("(") => self.call(word, &t),
            Tok::Ident(word) if !is_reserved(word) => self.field(word, &t),
            Tok::Op("(") => {
                self.enter(&t)?;
                let e = self.expr()?;
                self.expect_op(")")?;
                self.leave();
                Ok(e)
            }
            _ => Err(unexpected(&t)),
        }
    }

    /// A call `name(...)`; the name token is consumed, `(` is next.
    fn call(&mut self, name: &str, t: &Token) -> Result<Expr, InsightsError> {
        let lower = name.to_ascii_lowercase();
        self.enter(t)?;
        let result = self.call_inner(name, &lower, t);
        self.leave();
        result
    }

    fn call_inner(&mut self, name: &str, lower: &str, t: &Token) -> Result<Expr, InsightsError> {
        if let Some(func) = AggFunc::lookup(lower) {
            return self.aggregate(func, name, t);
        }
        if lower == "bin" {
            self.expect_op("(")?;
            let p = self.next();
            let Tok::Duration(period) = p.tok else {
                return Err(unexpected(&p));
            };
            self.expect_op(")")?;
            self.mark_read(SLOT_TIMESTAMP);
            return Ok(Expr::Call(
                Func::DateFloor,
                vec![Expr::Field(SLOT_TIMESTAMP), Expr::Period(period)],
            ));
        }
        let Some((func, min, max)) = Func::lookup(lower) else {
            return Err(InsightsError::UnknownFunction {
                name: name.to_owned(),
                position: t.start + 1,
            });
        };
        self.expect_op("(")?;
        let mut args = Vec::new();
        if !self.peek().is_op(")") {
            loop {
                if func.period_arg() == Some(args.len()) {
                    let p = self.next();
                    let Tok::Duration(period) = p.tok else {
                        return Err(unexpected(&p));
                    };
                    args.push(Expr::Period(period));
                } else {
                    args.push(self.expr()?);
                }
                if !self.peek().is_op(",") {
                    break;
                }
                self.next();
            }
        }
        self.expect_op(")")?;
        if args.len() < min || args.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                format!(
                    "function '{name}' expects {expected} argument(s), got {}",
                    args.len()
                ),
            ));
        }
        Ok(Expr::Call(func, args))
    }

    fn aggregate(&mut self, func: AggFunc, name: &str, t: &Token) -> Result<Expr, InsightsError> {
        let from = self.pos - 1;
        let outer = self.mode;
        if outer == Mode::AggArg {
            return Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                "aggregate functions cannot be nested",
            ));
        }
        self.mode = Mode::AggArg;
        let spec = self.aggregate_args(func);
        self.mode = outer;
        let spec = spec?;
        if outer == Mode::StatsItem {
            self.aggs.push(spec);
            return Ok(Expr::Agg(self.aggs.len() - 1));
        }
        // Outside stats an aggregate call may name a column of the latest stats.
        let text = self.source_text(from);
        match self.stats_names.get(&text) {
            Some(&slot) => Ok(Expr::Field(slot)),
            None => Err(InsightsError::syntax(
                t.start,
                t.end - t.start,
                format!("aggregate function '{name}' is only allowed in stats"),
            )),
        }
    }

    fn aggregate_args(&mut self, func: AggFunc) -> Result<AggSpec, InsightsError> {
        self.expect_op("(")?;
        let mut param = 0.0;
        let arg = match func {
            AggFunc::Count if self.peek().is_op(")") => None,
            AggFunc::Count if self.peek().is_op("*") && self.peek2().is_op(")") => {
                self.next();
                None
            }
            AggFunc::Pct => {
                let arg = self.expr()?;
                self.expect_op(",")?;
                let p = self.next();
                match p.tok {
                    Tok::Num(x) if (0.0..=100.0).contains(&x) => param = x,
                    _ => {
                        return Err(InsightsError::syntax(
                            p.start,
                            p.end - p.start,
                            "pct needs a percentile from 0 to 100",
                        ))
                    }
                }
                Some(arg)
            }
            _ => Some(self.expr()?),
        };
        self.expect_op(")")?;
        Ok(AggSpec { func, arg, param })
    }
}

fn push_fields(commands: &mut Vec<Command>, items: Vec<Assign>) {
    let work: Vec<Assign> = items
        .into_iter()
        .filter(|a| !matches!(a.expr, Expr::Field(s) if s == a.slot))
        .collect();
    if !work.is_empty() {
        commands.push(Command::Fields(work));
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

fn unexpected(t: &Token) -> InsightsError {
    match &t.tok {
        Tok::Eof => InsightsError::syntax(t.start, 1, "unexpected end of query"),
        _ => InsightsError::syntax(
            t.start,
            t.end - t.start,
            format!("unexpected token '{}'", token_text(t)),
        ),
    }
}

fn token_text(t: &Token) -> String {
    match &t.tok {
        Tok::Ident(w) => w.clone(),
        Tok::Quoted(w) => format!("`{w}`"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Num(x) => {
            let mut out = String::new();
            crate::value::write_number(&mut out, *x);
            out
        }
        Tok::Duration(_) => "time period".to_owned(),
        Tok::Regex(r) => format!("/{r}/"),
        Tok::Op(o) => (*o).to_owned(),
        Tok::Eof => String::new(),
    }
}

fn check_depth(e: Expr, t: &Token) -> Result<Expr, InsightsError> {
    if e.depth() > MAX_DEPTH {
        return Err(InsightsError::syntax(
            t.start,
            t.end - t.start,
            "expression is nested too deeply",
        ));
    }
    Ok(e)
}

fn compile_regex(pattern: &str, t: &Token) -> Result<Regex, InsightsError> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|_| InsightsError::syntax(t.start, t.end - t.start, "invalid regular expression"))
}

/// `"user=* id=*"` → `(?s)user=(.*?) id=(.*)`: each `*` captures lazily, a final one
/// takes the rest.
fn glob_to_regex(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut out = String::from("(?s)");
    for (i, part) in parts.iter().enumerate() {
        out.push_str(&regex::escape(part));
        if i + 1 < parts.len() {
            let last = i + 2 == parts.len() && parts[i + 1].is_empty();
            out.push_str(if last { "(.*)" } else { "(.*?)" });
        }
    }
    out
}

#[cfg(test)]
mod tests;
