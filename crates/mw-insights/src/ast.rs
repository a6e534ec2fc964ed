//! The compiled form of a query: [`Plan`] (commands, field slots, output columns) and
//! the expression tree [`Expr`].
//!
//! Field names are interned into slots at parse time, so a row is a plain vector of
//! values and the executor never looks names up. The plan also records which system
//! fields are read and which names must be discovered from JSON messages, so events are
//! only decoded as far as the query needs.

use std::collections::{HashMap, HashSet};

use regex::Regex;

use crate::functions::Func;
use crate::stats::AggFunc;
use crate::time::Period;
use crate::value::Value;

/// System fields, in slot order: slot `i` holds `SYSTEM_FIELDS[i]`.
pub(crate) const SYSTEM_FIELDS: [&str; 6] = [
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
    "@ptr",
];
pub(crate) const SLOT_TIMESTAMP: usize = 0;
pub(crate) const SLOT_MESSAGE: usize = 1;
pub(crate) const SLOT_LOG_STREAM: usize = 2;
pub(crate) const SLOT_LOG: usize = 3;
pub(crate) const SLOT_INGESTION_TIME: usize = 4;
pub(crate) const SLOT_PTR: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What `like` / `=~` match against.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// `like "text"`: substring, case-sensitive.
    Substr(String),
    /// `like /re/`, `=~ /re/`: unanchored regular expression.
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Field(usize),
    Lit(Value<'static>),
    /// A `5m`-style period; only ever an argument of the date functions.
    Period(Period),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Like {
        expr: Box<Expr>,
        pattern: Pattern,
        negated: bool,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Call(Func, Vec<Expr>),
    /// The result of aggregate `i` of the enclosing `stats`.
    Agg(usize),
}

impl Expr {
    /// Depth of the tree (a leaf is 1).
    pub(crate) fn depth(&self) -> usize {
        1 + match self {
            Expr::Field(_) | Expr::Lit(_) | Expr::Period(_) | Expr::Agg(_) => 0,
            Expr::Neg(e) | Expr::Not(e) | Expr::Like { expr: e, .. } => e.depth(),
            Expr::Arith(_, a, b) | Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.depth().max(b.depth())
            }
            Expr::In { expr, list, .. } => list
                .iter()
                .map(Expr::depth)
                .max()
                .unwrap_or(0)
                .max(expr.depth()),
            Expr::Call(_, args) => args.iter().map(Expr::depth).max().unwrap_or(0),
        }
    }
}

/// `expr as name`: evaluate and store in a slot.
#[derive(Debug, Clone)]
pub(crate) struct Assign {
    pub(crate) expr: Expr,
    pub(crate) slot: usize,
}

/// One aggregate call inside `stats`, e.g. `pct(latency, 95)`.
#[derive(Debug, Clone)]
pub(crate) struct AggSpec {
    pub(crate) func: AggFunc,
    /// `None` for `count(*)`.
    pub(crate) arg: Option<Expr>,
    /// The percentile of `pct`.
    pub(crate) param: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct StatsSpec {
    pub(crate) aggs: Vec<AggSpec>,
    /// The `by` groups, evaluated per input row.
    pub(crate) groups: Vec<Assign>,
    /// The output columns, evaluated per group over [`Expr::Agg`] results.
    pub(crate) outputs: Vec<Assign>,
}

#[derive(Debug, Clone)]
pub(crate) struct ParseSpec {
    pub(crate) source: Expr,
    pub(crate) regex: Regex,
    /// (capture group index, slot) pairs.
    pub(crate) captures: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    pub(crate) expr: Expr,
    pub(crate) desc: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// `fields` and the expressions of `display`.
    Fields(Vec<Assign>),
    Filter(Expr),
    Parse(ParseSpec),
    Stats(Box<StatsSpec>),
    Sort(Vec<SortKey>),
    Limit(usize),
    Dedup(Vec<usize>),
}

impl Command {
    /// Whether the command needs all rows (or their order) before it can emit any.
    pub(crate) fn is_blocking(&self) -> bool {
        matches!(
            self,
            Command::Stats(_) | Command::Sort(_) | Command::Limit(_) | Command::Dedup(_)
        )
    }
}

/// A compiled query.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Slot → field name.
    pub(crate) names: Vec<String>,
    pub(crate) commands: Vec<Command>,
    /// Output columns in display order (without the automatic `@ptr`).
    pub(crate) output: Vec<usize>,
    /// Whether the query has `stats` (then rows carry no `@ptr`).
    pub(crate) aggregated: bool,
    /// The row limit set by a `limit` after the last `stats`.
    pub(crate) limit: Option<usize>,
    /// Which system slots are read from events.
    pub(crate) system_read: [bool; SYSTEM_FIELDS.len()],
    /// Names read from JSON messages → slot.
    pub(crate) discover: HashMap<String, usize>,
    /// Every proper dotted prefix of a name in `discover`, to prune the JSON walk.
    pub(crate) discover_prefixes: HashSet<String>,
}
