//! The `stats` command: aggregate functions ([`AggFunc`]) and the grouping
//! [`Aggregator`] that folds rows into one state per `by` group.
//!
//! Aggregation is incremental, so a `stats` fed straight from events keeps only one
//! state per group, never the events. Groups are keyed by the display text of their
//! `by` values and come out ordered by those values (ascending, missing last).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::ast::{AggSpec, StatsSpec};
use crate::eval::eval;
use crate::exec::Row;
use crate::value::{self, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    Pct,
    Stddev,
    Earliest,
    Latest,
    SortsFirst,
    SortsLast,
}

impl AggFunc {
    /// The aggregate with this lowercase name.
    pub(crate) fn lookup(lower: &str) -> Option<AggFunc> {
        Some(match lower {
            "count" => AggFunc::Count,
            "count_distinct" => AggFunc::CountDistinct,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "pct" => AggFunc::Pct,
            "stddev" => AggFunc::Stddev,
            "earliest" => AggFunc::Earliest,
            "latest" => AggFunc::Latest,
            "sortsfirst" => AggFunc::SortsFirst,
            "sortslast" => AggFunc::SortsLast,
            _ => return None,
        })
    }

    fn new_state(self) -> AggState {
        match self {
            AggFunc::Count => AggState::Count(0),
            AggFunc::CountDistinct => AggState::Distinct(HashSet::new()),
            AggFunc::Sum | AggFunc::Avg => AggState::Sum { sum: 0.0, n: 0 },
            AggFunc::Min | AggFunc::Max => AggState::Extreme {
                best: None,
                all_time: true,
            },
            AggFunc::Pct => AggState::Values(Vec::new()),
            AggFunc::Stddev => AggState::Moments {
                n: 0,
                mean: 0.0,
                m2: 0.0,
            },
            AggFunc::Earliest | AggFunc::Latest => AggState::Pick {
                ts: 0,
                value: Value::Null,
            },
            AggFunc::SortsFirst | AggFunc::SortsLast => AggState::Sorts(Value::Null),
        }
    }
}

#[derive(Debug)]
enum AggState {
    Count(u64),
    Distinct(HashSet<String>),
    Sum { sum: f64, n: u64 },
    Extreme { best: Option<f64>, all_time: bool },
    Values(Vec<f64>),
    Moments { n: u64, mean: f64, m2: f64 },
    Pick { ts: i64, value: Value<'static> },
    Sorts(Value<'static>),
}

impl AggState {
    /// Folds one input value (`Null` for a missing field; `count(*)` passes `Bool(true)`).
    fn feed(&mut self, func: AggFunc, v: Value, ts: i64) {
        if v.is_null() {
            return;
        }
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Distinct(set) => {
                if let Some(t) = v.text() {
                    if !set.contains(t.as_ref()) {
                        set.insert(t.into_owned());
                    }
                }
            }
            AggState::Sum { sum, n } => {
                if let Some(x) = v.as_num() {
                    *sum += x;
                    *n += 1;
                }
            }
            AggState::Extreme { best, all_time } => {
                if let Some(x) = v.as_num() {
                    *all_time &= matches!(v, Value::Time(_));
                    *best = Some(match (*best, func) {
                        (None, _) => x,
                        (Some(b), AggFunc::Min) => b.min(x),
                        (Some(b), _) => b.max(x),
                    });
                }
            }
            AggState::Values(values) => {
                if let Some(x) = v.as_num() {
                    values.push(x);
                }
            }
            AggState::Moments { n, mean, m2 } => {
                if let Some(x) = v.as_num() {
                    *n += 1;
                    let delta = x - *mean;
                    *mean += delta / *n as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            AggState::Pick { ts: best_ts, value } => {
                let better = value.is_null()
                    || (func == AggFunc::Earliest && ts < *best_ts)
                    || (func == AggFunc::Latest && ts > *best_ts);
                if better {
                    *best_ts = ts;
                    *value = v.into_owned();
                }
            }
            AggState::Sorts(best) => {
                let ord = value::sort_cmp(&v, best);
                let better = best.is_null()
                    || (func == AggFunc::SortsFirst && ord.is_lt())
                    || (func == AggFunc::SortsLast && ord.is_gt());
                if better {
                    *best = v.into_owned();
                }
            }
        }
    }

    fn finish(&self, spec: &AggSpec) -> Value<'static> {
        match self {
            AggState::Count(n) => Value::Num(*n as f64),
            AggState::Distinct(set) => Value::Num(set.len() as f64),
            AggState::Sum { n: 0, .. } => Value::Null,
            AggState::Sum { sum, n } => match spec.func {
                AggFunc::Avg => Value::num(sum / *n as f64),
                _ => Value::num(*sum),
            },
            AggState::Extreme { best: None, .. } => Value::Null,
            AggState::Extreme {
                best: Some(x),
                all_time,
            } => {
                if *all_time {
                    Value::Time(*x as i64)
                } else {
                    Value::num(*x)
                }
            }
            AggState::Values(values) => percentile(values, spec.param),
            AggState::Moments { n: 0, .. } => Value::Null,
            AggState::Moments { n: 1, .. } => Value::Num(0.0),
            AggState::Moments { n, m2, .. } => Value::num((m2 / (*n - 1) as f64).sqrt()),
            AggState::Pick { value, .. } | AggState::Sorts(value) => value.clone(),
        }
    }
}

/// Nearest-rank percentile: the smallest value with at least `p`% of values at or below.
fn percentile(values: &[f64], p: f64) -> Value<'static> {
    if values.is_empty() {
        return Value::Null;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
    Value::num(sorted[rank.min(sorted.len()) - 1])
}

struct Group {
    values: Vec<Value<'static>>,
    states: Vec<AggState>,
}

/// Folds rows into per-group aggregate states.
pub(crate) struct Aggregator {
    index: HashMap<String, usize>,
    groups: Vec<Group>,
    key: String,
}

impl Aggregator {
    pub(crate) fn new() -> Self {
        Aggregator {
            index: HashMap::new(),
            groups: Vec::new(),
            key: String::new(),
        }
    }

    /// Folds one row (its slot values and event timestamp).
    pub(crate) fn feed(&mut self, spec: &StatsSpec, row: &[Value], ts: i64) {
        self.key.clear();
        for g in &spec.groups {
            let v = eval(&g.expr, row, &[]);
            write_key_part(&mut self.key, &v);
        }
        let group = match self.index.get(self.key.as_str()) {
            Some(&i) => i,
            None => {
                let values = spec
                    .groups
                    .iter()
                    .map(|g| eval(&g.expr, row, &[]).into_owned())
                    .collect();
                let states = spec.aggs.iter().map(|a| a.func.new_state()).collect();
                self.groups.push(Group { values, states });
                self.index.insert(self.key.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let states = &mut self.groups[group].states;
        for (agg, state) in spec.aggs.iter().zip(states.iter_mut()) {
            let v = match &agg.arg {
                Some(arg) => eval(arg, row, &[]),
                None => Value::Bool(true),
            };
            state.feed(agg.func, v, ts);
        }
    }

    /// One row per group, ordered by the group values.
    pub(crate) fn finish(self, spec: &StatsSpec, slots: usize) -> Vec<Row<'static>> {
        let mut groups = self.groups;
        groups.sort_by(|a, b| {
            a.values
                .iter()
                .zip(&b.values)
                .map(|(x, y)| match (x.is_null(), y.is_null()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    (false, false) => value::sort_cmp(x, y),
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        groups
            .into_iter()
            .enumerate()
            .map(|(i, group)| {
                let mut vals = vec![Value::Null; slots];
                let aggs: Vec<Value<'static>> = spec
                    .aggs
                    .iter()
                    .zip(&group.states)
                    .map(|(a, s)| s.finish(a))
                    .collect();
                for (g, v) in spec.groups.iter().zip(group.values) {
                    vals[g.slot] = v;
                }
                for out in &spec.outputs {
                    vals[out.slot] = eval(&out.expr, &vals, &aggs);
                }
                Row {
                    vals,
                    ts: 0,
                    seq: i as u64,
                    ptr: None,
                }
            })
            .collect()
    }
}

/// Appends an unambiguous encoding of one group value to a group key.
fn write_key_part(key: &mut String, v: &Value) {
    if v.is_null() {
        key.push_str("\u{0}-\u{0}");
        return;
    }
    let start = key.len();
    v.write_to(key);
    let len = key.len() - start;
    // Writing to a String cannot fail.
    let _ = write!(key, "\u{0}{len}\u{0}");
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn text_value(s: &str) -> Value<'static> {
        Value::Str(Cow::Owned(s.to_owned()))
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 50.0), Value::Num(2.0));
        assert_eq!(percentile(&v, 75.0), Value::Num(3.0));
        assert_eq!(percentile(&v, 99.0), Value::Num(4.0));
        assert_eq!(percentile(&v, 0.0), Value::Num(1.0));
        assert_eq!(percentile(&[], 50.0), Value::Null);
    }

    #[test]
    fn group_keys_are_unambiguous() {
        let (mut a, mut b) = (String::new(), String::new());
        write_key_part(&mut a, &text_value("a"));
        write_key_part(&mut a, &text_value("bc"));
        write_key_part(&mut b, &text_value("ab"));
        write_key_part(&mut b, &text_value("c"));
        assert_ne!(a, b);
        let mut n = String::new();
        write_key_part(&mut n, &Value::Null);
        let mut e = String::new();
        write_key_part(&mut e, &text_value(""));
        assert_ne!(n, e);
    }
}
