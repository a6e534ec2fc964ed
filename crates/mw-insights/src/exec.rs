//! Runs a compiled [`Plan`] over events: [`Execution`] and its per-row machinery.
//!
//! Commands up to the first blocking one (`stats`, `sort`, `limit`, `dedup`) run per
//! event as it is pushed; the blocking rest runs in [`Execution::finish`]. What is kept in
//! between depends on that first blocking command:
//! - `stats`: one aggregate state per group ([`Aggregator`]), never the events;
//! - a plain top-N shape (`sort ... | limit n`, or no blocking command at all): only the
//!   best `n` rows, pruned as events arrive;
//! - anything else: every matching row.
//!
//! Before blocking commands, rows are in Logs Insights' default order, `@timestamp`
//! descending (ties in push order).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use crate::ast::{
    Command, ParseSpec, Plan, SortKey, SLOT_INGESTION_TIME, SLOT_LOG, SLOT_LOG_STREAM,
    SLOT_MESSAGE, SLOT_PTR, SLOT_TIMESTAMP,
};
use crate::eval::eval;
use crate::ptr::encode_ptr;
use crate::stats::Aggregator;
use crate::value::{self, Value};

/// The account id shown in `@log` (`123456789012:group`).
pub const ACCOUNT_ID: &str = "123456789012";

/// One log event as the executor sees it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Epoch milliseconds.
    pub ingestion_time: i64,
    pub message: &'a str,
    pub log_stream: &'a str,
    pub log_group: &'a str,
}

/// One row in flight: values by slot, plus what default ordering and `@ptr` need.
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    pub(crate) vals: Vec<Value<'a>>,
    /// Event timestamp (0 for aggregated rows).
    pub(crate) ts: i64,
    /// Arrival order, the last tie-break.
    pub(crate) seq: u64,
    pub(crate) ptr: Option<Box<str>>,
}

impl Row<'_> {
    fn into_owned(self) -> Row<'static> {
        Row {
            vals: self.vals.into_iter().map(Value::into_owned).collect(),
            ts: self.ts,
            seq: self.seq,
            ptr: self.ptr,
        }
    }
}

/// Where rows go after the streaming commands.
enum Sink {
    Collect(Vec<Row<'static>>),
    TopK(TopK),
    Stats(Aggregator),
}

/// Keeps the best `k` rows by (sort keys, default order).
struct TopK {
    k: usize,
    /// Index of the `sort` command whose keys order rows, if any.
    sort: Option<usize>,
    buf: Vec<(Vec<Value<'static>>, Row<'static>)>,
    /// Keys, timestamp and sequence of the worst kept row once the buffer was pruned.
    threshold: Option<(Vec<Value<'static>>, i64, u64)>,
}

/// A query running over events: feed them with [`Execution::push`] in any order, then
/// take the rows with [`Execution::finish`].
pub struct Execution {
    plan: Arc<Plan>,
    /// Commands before this index run per event.
    split: usize,
    sink: Sink,
    final_limit: usize,
    seq: u64,
    scanned: u64,
    matched: u64,
    bytes: u64,
}

impl Execution {
    pub(crate) fn new(plan: Arc<Plan>, default_limit: usize) -> Self {
        let split = plan
            .commands
            .iter()
            .position(Command::is_blocking)
            .unwrap_or(plan.commands.len());
        let final_limit = plan.limit.unwrap_or(default_limit).max(1);
        let sink = match plan.commands.get(split) {
            Some(Command::Stats(_)) => Sink::Stats(Aggregator::new()),
            _ => match top_k(&plan.commands[split..], final_limit) {
                Some((k, has_sort)) => Sink::TopK(TopK {
                    k,
                    sort: has_sort.then_some(split),
                    buf: Vec::new(),
                    threshold: None,
                }),
                None => Sink::Collect(Vec::new()),
            },
        };
        Execution {
            plan,
            split,
            sink,
            final_limit,
            seq: 0,
            scanned: 0,
            matched: 0,
            bytes: 0,
        }
    }

    /// Events pushed so far.
    pub fn records_scanned(&self) -> u64 {
        self.scanned
    }

    /// Events that passed the per-event commands (the filters before any `stats`,
    /// `sort`, `limit` or `dedup`).
    pub fn records_matched(&self) -> u64 {
        self.matched
    }

    /// Message bytes of the events pushed so far.
    pub fn bytes_scanned(&self) -> u64 {
        self.bytes
    }

    /// Processes one event.
    pub fn push(&mut self, e: &Event) {
        self.scanned += 1;
        self.bytes += e.message.len() as u64;
        let seq = self.seq;
        self.seq += 1;
        let plan = Arc::clone(&self.plan);
        let json = if plan.discover.is_empty() {
            None
        } else {
            parse_json(e.message)
        };
        let mut vals: Vec<Value> = vec![Value::Null; plan.names.len()];
        let read = &plan.system_read;
        if read[SLOT_TIMESTAMP] {
            vals[SLOT_TIMESTAMP] = Value::Time(e.timestamp);
        }
        if read[SLOT_MESSAGE] {
            vals[SLOT_MESSAGE] = Value::Str(Cow::Borrowed(e.message));
        }
        if read[SLOT_LOG_STREAM] {
            vals[SLOT_LOG_STREAM] = Value::Str(Cow::Borrowed(e.log_stream));
        }
        if read[SLOT_LOG] {
            vals[SLOT_LOG] = Value::Str(Cow::Owned(format!("{ACCOUNT_ID}:{}", e.log_group)));
        }
        if read[SLOT_INGESTION_TIME] {
            vals[SLOT_INGESTION_TIME] = Value::Time(e.ingestion_time);
        }
        if read[SLOT_PTR] {
            vals[SLOT_PTR] = Value::Str(Cow::Owned(ptr_of(e)));
        }
        if let Some(json) = &json {
            let mut path = String::new();
            flatten(json, &plan, &mut path, &mut vals);
        }
        let mut row = Row {
            vals,
            ts: e.timestamp,
            seq,
            ptr: None,
        };
        for cmd in &plan.commands[..self.split] {
            if !apply_row(cmd, &mut row) {
                return;
            }
        }
        self.matched += 1;
        match &mut self.sink {
            Sink::Stats(agg) => {
                if let Some(Command::Stats(spec)) = plan.commands.get(self.split) {
                    agg.feed(spec, &row.vals, row.ts);
                }
            }
            Sink::Collect(rows) => {
                if !plan.aggregated {
                    row.ptr = Some(ptr_of(e).into());
                }
                rows.push(row.into_owned());
            }
            Sink::TopK(top) => {
                let keys = match top.sort.and_then(|i| plan.commands.get(i)) {
                    Some(Command::Sort(keys)) => sort_values(keys, &row),
                    _ => Vec::new(),
                };
                if let Some((tk, tts, tseq)) = &top.threshold {
                    let sort = top.sort.and_then(|i| plan.commands.get(i));
                    if row_order(sort, &keys, row.ts, row.seq, tk, *tts, *tseq) == Ordering::Greater
                    {
                        return;
                    }
                }
                if !plan.aggregated {
                    row.ptr = Some(ptr_of(e).into());
                }
                let keys = keys.into_iter().map(Value::into_owned).collect();
                top.buf.push((keys, row.into_owned()));
                if top.buf.len() >= top.k.saturating_mul(2).max(256) {
                    top.prune(&plan);
                }
            }
        }
    }

    /// The result rows: each a list of (field, value) in display order, as
    /// GetQueryResults returns them. Missing values are left out of a row; rows of
    /// non-aggregating queries end with `@ptr`.
    pub fn finish(self) -> Vec<Vec<(String, String)>> {
        let plan = self.plan;
        let (mut rows, rest) = match self.sink {
            Sink::Stats(agg) => match plan.commands.get(self.split) {
                Some(Command::Stats(spec)) => (agg.finish(spec, plan.names.len()), self.split + 1),
                _ => (Vec::new(), self.split),
            },
            Sink::Collect(rows) => (rows, self.split),
            Sink::TopK(mut top) => {
                top.prune(&plan);
                (top.buf.into_iter().map(|(_, r)| r).collect(), self.split)
            }
        };
        if rest == self.split {
            rows.sort_by(|a, b| default_order(a.ts, a.seq, b.ts, b.seq));
        }
        for cmd in &plan.commands[rest..] {
            apply_all(cmd, &mut rows, plan.names.len());
        }
        rows.truncate(self.final_limit);
        rows.into_iter()
            .map(|row| {
                let mut out: Vec<(String, String)> = plan
                    .output
                    .iter()
                    .filter_map(|&slot| {
                        let text = row.vals.get(slot)?.text()?;
                        Some((plan.names[slot].clone(), text.into_owned()))
                    })
                    .collect();
                if !plan.aggregated {
                    out.push((
                        "@ptr".to_owned(),
                        row.ptr.map(String::from).unwrap_or_default(),
                    ));
                }
                out
            })
            .collect()
    }
}

impl TopK {
    fn prune(&mut self, plan: &Plan) {
        let sort = self.sort.and_then(|i| plan.commands.get(i));
        self.buf
            .sort_by(|(ka, a), (kb, b)| row_order(sort, ka, a.ts, a.seq, kb, b.ts, b.seq));
        self.buf.truncate(self.k);
        if self.buf.len() == self.k {
            self.threshold = self
                .buf
                .last()
                .map(|(keys, row)| (keys.clone(), row.ts, row.seq));
        }
    }
}

/// For a tail of commands starting at the first blocking one, the number of rows worth
/// keeping if it has the top-N shape (optional `sort` first, then only row-wise
/// `fields`/`parse` before a `limit`), and whether it starts with `sort`.
fn top_k(tail: &[Command], final_limit: usize) -> Option<(usize, bool)> {
    let has_sort = matches!(tail.first(), Some(Command::Sort(_)));
    for (i, cmd) in tail.iter().enumerate() {
        match cmd {
            Command::Sort(_) if i == 0 => {}
            Command::Limit(n) => return Some((*n, has_sort)),
            Command::Fields(_) | Command::Parse(_) => {}
            _ => return None,
        }
    }
    Some((final_limit, has_sort))
}

/// Logs Insights' default order: newest first, then arrival order.
fn default_order(ats: i64, aseq: u64, bts: i64, bseq: u64) -> Ordering {
    bts.cmp(&ats).then(aseq.cmp(&bseq))
}

fn row_order(
    sort: Option<&Command>,
    ka: &[Value],
    ats: i64,
    aseq: u64,
    kb: &[Value],
    bts: i64,
    bseq: u64,
) -> Ordering {
    let keys_order = match sort {
        Some(Command::Sort(keys)) => compare_keys(keys, ka, kb),
        _ => Ordering::Equal,
    };
    keys_order.then_with(|| default_order(ats, aseq, bts, bseq))
}

fn sort_values<'a>(keys: &[SortKey], row: &Row<'a>) -> Vec<Value<'a>> {
    keys.iter().map(|k| eval(&k.expr, &row.vals, &[])).collect()
}

/// Compares two rows' sort values; missing values sort last in either direction.
fn compare_keys(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for (k, (x, y)) in keys.iter().zip(a.iter().zip(b)) {
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = value::sort_cmp(x, y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Runs a row-wise command on one row; `false` drops the row.
fn apply_row(cmd: &Command, row: &mut Row) -> bool {
    match cmd {
        Command::Fields(items) => {
            for a in items {
                let v = eval(&a.expr, &row.vals, &[]);
                row.vals[a.slot] = v;
            }
            true
        }
        Command::Filter(e) => eval(e, &row.vals, &[]).truthy(),
        Command::Parse(spec) => {
            apply_parse(spec, row);
            true
        }
        // Blocking commands never run per row.
        Command::Stats(_) | Command::Sort(_) | Command::Limit(_) | Command::Dedup(_) => true,
    }
}

fn apply_parse(spec: &ParseSpec, row: &mut Row) {
    let source = eval(&spec.source, &row.vals, &[]);
    match source {
        Value::Str(Cow::Borrowed(s)) => match spec.regex.captures(s) {
            Some(caps) => {
                for &(group, slot) in &spec.captures {
                    row.vals[slot] = caps
                        .get(group)
                        .map_or(Value::Null, |m| Value::Str(Cow::Borrowed(m.as_str())));
                }
            }
            None => clear(spec, row),
        },
        other => {
            let Some(text) = other.text() else {
                clear(spec, row);
                return;
            };
            match spec.regex.captures(&text) {
                Some(caps) => {
                    for &(group, slot) in &spec.captures {
                        row.vals[slot] = caps.get(group).map_or(Value::Null, |m| {
                            Value::Str(Cow::Owned(m.as_str().to_owned()))
                        });
                    }
                }
                None => clear(spec, row),
            }
        }
    }
}

fn clear(spec: &ParseSpec, row: &mut Row) {
    for &(_, slot) in &spec.captures {
        row.vals[slot] = Value::Null;
    }
}

/// Runs one command over all rows (the part after the first blocking command).
fn apply_all(cmd: &Command, rows: &mut Vec<Row<'static>>, slots: usize) {
    match cmd {
        Command::Fields(_) | Command::Parse(_) => {
            for row in rows.iter_mut() {
                apply_row(cmd, row);
            }
        }
        Command::Filter(_) => rows.retain_mut(|row| apply_row(cmd, row)),
        Command::Stats(spec) => {
            let mut agg = Aggregator::new();
            for row in rows.iter() {
                agg.feed(spec, &row.vals, row.ts);
            }
            *rows = agg.finish(spec, slots);
        }
        Command::Sort(keys) => {
            let mut keyed: Vec<(Vec<Value<'static>>, Row<'static>)> = std::mem::take(rows)
                .into_iter()
                .map(|r| (sort_values(keys, &r), r))
                .collect();
            // Stable: equal keys keep the order they had.
            keyed.sort_by(|(a, _), (b, _)| compare_keys(keys, a, b));
            *rows = keyed.into_iter().map(|(_, r)| r).collect();
        }
        Command::Limit(n) => rows.truncate(*n),
        Command::Dedup(slots) => {
            let mut seen = HashSet::new();
            rows.retain(|row| {
                let mut key = String::new();
                for &s in slots {
                    match row.vals.get(s).and_then(Value::text) {
                        // Rows missing a dedup field are always kept.
                        None => return true,
                        Some(t) => {
                            key.push_str(&t.len().to_string());
                            key.push(':');
                            key.push_str(&t);
                        }
                    }
                }
                seen.insert(key)
            });
        }
    }
}

fn ptr_of(e: &Event) -> String {
    encode_ptr(
        e.log_group,
        e.log_stream,
        e.timestamp,
        e.ingestion_time,
        e.message,
    )
}

/// Decodes a message as a JSON object, if it looks like one.
fn parse_json(message: &str) -> Option<serde_json::Value> {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(message) {
        Ok(v @ serde_json::Value::Object(_)) => Some(v),
        _ => None,
    }
}

/// Stores the JSON leaves the plan asks for, named by dotted path (`a.b`, `list.0`).
fn flatten<'j>(v: &'j serde_json::Value, plan: &Plan, path: &mut String, vals: &mut [Value<'j>]) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(key);
                visit(child, plan, path, vals);
                path.truncate(len);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(&i.to_string());
                visit(child, plan, path, vals);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn visit<'j>(v: &'j serde_json::Value, plan: &Plan, path: &mut String, vals: &mut [Value<'j>]) {
    match v {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            if plan.discover_prefixes.contains(path.as_str()) {
                flatten(v, plan, path, vals);
            }
        }
        leaf => {
            if let Some(&slot) = plan.discover.get(path.as_str()) {
                vals[slot] = json_leaf(leaf);
            }
        }
    }
}

fn json_leaf(v: &serde_json::Value) -> Value<'_> {
    match v {
        serde_json::Value::String(s) => Value::Str(Cow::Borrowed(s)),
        serde_json::Value::Bool(true) => Value::Str(Cow::Borrowed("true")),
        serde_json::Value::Bool(false) => Value::Str(Cow::Borrowed("false")),
        serde_json::Value::Number(n) => {
            // Integers beyond 2^53 keep their digits as text (ids must not be rounded).
            let exact = n
                .as_i64()
                .map(|i| i.unsigned_abs() <= 1 << 53)
                .or_else(|| n.as_u64().map(|u| u <= 1 << 53))
                .unwrap_or(true);
            match n.as_f64() {
                Some(x) if exact => Value::num(x),
                _ => Value::Str(Cow::Owned(n.to_string())),
            }
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests;
