//! The metric math functions: one small function per family, dispatched by [`call`].
//!
//! Conventions shared by all of them:
//! - a function of one series applied to an array applies to each member and
//!   keeps each member's label;
//! - `AVG`, `MIN`, `MAX`, `SUM`, `STDDEV` and `DATAPOINT_COUNT` of one series give a
//!   scalar over the whole window, and of an array a series point by point
//!   (values missing from some members are ignored), labelled with the expression text;
//! - `STDDEV` is the population standard deviation;
//! - `FILL` and `TIME_SERIES` generate points on the period grid of the request
//!   window `[start, end)`; `FILL` anchors that grid on the series' own first
//!   timestamp, so that it never interleaves with existing points;
//! - `FILL(.., REPEAT)` and `FILL(.., LINEAR)` leave leading gaps (and, for LINEAR,
//!   trailing gaps) empty, as there is no value to repeat or interpolate from;
//! - calendar functions (`MINUTE` ... `YEAR`) work in UTC and `DAY` counts 1 = Monday
//!   to 7 = Sunday.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::error::{ErrorKind, QueryError};
use crate::eval::{eval, map_points, map_values, Value};
use crate::expr::Expr;
use crate::search::SearchExpr;
use crate::{EvalContext, TimeSeries};

/// Most points `FILL` or `TIME_SERIES` will generate for one series.
const MAX_GENERATED_POINTS: i64 = 1_000_000;

/// Evaluates the call `name(args)`; `whole` is the call itself, for labels.
pub(crate) fn call(
    name: &str,
    args: &[Expr],
    whole: &Expr,
    ctx: &dyn EvalContext,
) -> Result<Value, QueryError> {
    if name == "PERIOD" {
        return period(args, ctx);
    }
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(eval(a, ctx)?);
    }
    let mut args = Args {
        name,
        got: vals.len(),
        vals: vals.into_iter(),
    };
    match name {
        "ABS" => math(name, args.next()?, f64::abs),
        "CEIL" => math(name, args.next()?, f64::ceil),
        "FLOOR" => math(name, args.next()?, f64::floor),
        "LOG" => math(name, args.next()?, f64::ln),
        "LOG10" => math(name, args.next()?, f64::log10),
        "AVG" => aggregate(name, Stat::Avg, args.next()?, whole),
        "MIN" => aggregate(name, Stat::Min, args.next()?, whole),
        "MAX" => aggregate(name, Stat::Max, args.next()?, whole),
        "SUM" => aggregate(name, Stat::Sum, args.next()?, whole),
        "STDDEV" => aggregate(name, Stat::StdDev, args.next()?, whole),
        "DATAPOINT_COUNT" => aggregate(name, Stat::Count, args.next()?, whole),
        "DIFF" => per_series(name, args.next()?, |s| pairs(s, |(_, v0), (_, v1)| v1 - v0)),
        "DIFF_TIME" => per_series(name, args.next()?, |s| {
            pairs(s, |(t0, _), (t1, _)| (t1 - t0) as f64)
        }),
        "RATE" => per_series(name, args.next()?, |s| {
            pairs(s, |(t0, v0), (t1, v1)| (v1 - v0) / (t1 - t0) as f64)
        }),
        "RUNNING_SUM" => per_series(name, args.next()?, running_sum),
        "MINUTE" => calendar(name, args.next()?, |t| t.rem_euclid(3600) / 60),
        "HOUR" => calendar(name, args.next()?, |t| t.rem_euclid(86400) / 3600),
        "DAY" => calendar(name, args.next()?, |t| {
            (t.div_euclid(86400) + 3).rem_euclid(7) + 1
        }),
        "DATE" => calendar(name, args.next()?, |t| civil(t).2),
        "MONTH" => calendar(name, args.next()?, |t| civil(t).1),
        "YEAR" => calendar(name, args.next()?, |t| civil(t).0),
        "EPOCH" => calendar(name, args.next()?, |t| t),
        "FILL" => {
            let series = args.next()?;
            let with = args.next()?;
            fill(series, with, ctx)
        }
        "FIRST" => pick(name, args.next()?, whole, |a| a.first()),
        "LAST" => pick(name, args.next()?, whole, |a| a.last()),
        "METRIC_COUNT" => Ok(Value::Scalar(array(name, args.next()?)?.len() as f64)),
        "METRICS" => metrics(args.optional(), ctx),
        "REMOVE_EMPTY" => match args.next()? {
            Value::Series(s) if !s.is_empty() => Ok(Value::Series(s)),
            v => Ok(Value::Array(
                array(name, v)?
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect(),
            )),
        },
        "SEARCH" => {
            let query = string(name, args.next()?)?;
            let stat = string(name, args.next()?)?;
            let period = integer(name, "period", args.next()?)?;
            if period == 0 {
                return Err(QueryError::type_error("SEARCH needs a positive period"));
            }
            let query = SearchExpr::parse(&query)?;
            let period = i64::try_from(period).unwrap_or(i64::MAX);
            let found = ctx.search(&query, &stat, period)?;
            Ok(Value::Array(
                found.into_iter().map(TimeSeries::normalized).collect(),
            ))
        }
        "SLICE" => {
            let list = array(name, args.next()?)?;
            let start = integer(name, "start index", args.next()?)?.min(list.len());
            let end = match args.optional() {
                Some(v) => integer(name, "end index", v)?.min(list.len()),
                None => list.len(),
            };
            Ok(Value::Array(
                list.into_iter()
                    .skip(start)
                    .take(end.saturating_sub(start))
                    .collect(),
            ))
        }
        "SORT" => {
            let list = array(name, args.next()?)?;
            let by = keyword(name, args.next()?, &["AVG", "MIN", "MAX", "SUM"])?;
            let order = keyword(name, args.next()?, &["ASC", "DESC"])?;
            let limit = match args.optional() {
                Some(v) => Some(integer(name, "limit", v)?),
                None => None,
            };
            Ok(Value::Array(sort(list, &by, &order, limit)))
        }
        "TIME_SERIES" => match args.next()? {
            Value::Scalar(x) => {
                let mut s = TimeSeries::new(whole.to_string(), Vec::new(), Vec::new());
                if x.is_finite() {
                    s.timestamps = grid(ctx, None)?;
                    s.values = vec![x; s.timestamps.len()];
                }
                Ok(Value::Series(s))
            }
            v @ (Value::Series(_) | Value::Array(_)) => Ok(v),
            other => Err(cannot_take(name, &other)),
        },
        "IF" => {
            let cond = args.next()?;
            let yes = args.next()?;
            let no = args.optional();
            if_fn(cond, yes, no)
        }
        _ => Err(QueryError::UnknownFunction(name.to_string())),
    }
}

/// The evaluated arguments of one call, taken in order.
struct Args<'a> {
    name: &'a str,
    got: usize,
    vals: std::vec::IntoIter<Value>,
}

impl Args<'_> {
    fn next(&mut self) -> Result<Value, QueryError> {
        self.vals.next().ok_or_else(|| QueryError::Arity {
            function: self.name.to_string(),
            expected: "more".to_string(),
            got: self.got,
        })
    }

    fn optional(&mut self) -> Option<Value> {
        self.vals.next()
    }
}

fn cannot_take(name: &str, v: &Value) -> QueryError {
    QueryError::type_error(format!("{name} cannot take {}", v.type_name()))
}

/// Applies `f` to a scalar, to each point of a series, or to each series of an array.
fn math(name: &str, v: Value, f: fn(f64) -> f64) -> Result<Value, QueryError> {
    match v {
        Value::Scalar(x) => Ok(Value::Scalar(f(x))),
        Value::Series(s) => Ok(Value::Series(map_values(&s, f))),
        Value::Array(a) => Ok(Value::Array(a.iter().map(|s| map_values(s, f)).collect())),
        other => Err(cannot_take(name, &other)),
    }
}

/// Applies a series transform to a series or to each member of an array.
fn per_series(
    name: &str,
    v: Value,
    f: impl Fn(&TimeSeries) -> TimeSeries,
) -> Result<Value, QueryError> {
    match v {
        Value::Series(s) => Ok(Value::Series(f(&s))),
        Value::Array(a) => Ok(Value::Array(a.iter().map(f).collect())),
        other => Err(cannot_take(name, &other)),
    }
}

/// One point per pair of consecutive points, at the later timestamp.
fn pairs(s: &TimeSeries, f: impl Fn((i64, f64), (i64, f64)) -> f64) -> TimeSeries {
    let points: Vec<(i64, f64)> = s.points().collect();
    let mut out = TimeSeries::new(s.label.clone(), Vec::new(), Vec::new());
    for w in points.windows(2) {
        let r = f(w[0], w[1]);
        if r.is_finite() {
            out.timestamps.push(w[1].0);
            out.values.push(r);
        }
    }
    out
}

fn running_sum(s: &TimeSeries) -> TimeSeries {
    let mut total = 0.0;
    map_values(s, |v| {
        total += v;
        total
    })
}

fn calendar(name: &str, v: Value, f: fn(i64) -> i64) -> Result<Value, QueryError> {
    per_series(name, v, |s| map_points(s, |t, _| f(t) as f64))
}

/// (year, month, day of month) of an epoch-seconds time, in UTC.
fn civil(t: i64) -> (i64, i64, i64) {
    let z = t.div_euclid(86400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[derive(Clone, Copy)]
enum Stat {
    Avg,
    Min,
    Max,
    Sum,
    StdDev,
    Count,
}

/// A statistic of some values; NaN (no value) when it is undefined for none.
fn stat(kind: Stat, values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    match kind {
        Stat::Count => n,
        Stat::Sum => sum,
        _ if values.is_empty() => f64::NAN,
        Stat::Avg => sum / n,
        Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::StdDev => {
            let mean = sum / n;
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
        }
    }
}

fn aggregate(name: &str, kind: Stat, v: Value, whole: &Expr) -> Result<Value, QueryError> {
    match v {
        Value::Scalar(x) => Ok(Value::Scalar(stat(kind, &[x]))),
        Value::Series(s) => Ok(Value::Scalar(stat(kind, &s.values))),
        Value::Array(a) => {
            let mut at: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for s in &a {
                for (t, v) in s.points() {
                    at.entry(t).or_default().push(v);
                }
            }
            Ok(Value::Series(TimeSeries::from_points(
                whole.to_string(),
                at.iter().map(|(t, vs)| (*t, stat(kind, vs))),
            )))
        }
        other => Err(cannot_take(name, &other)),
    }
}

/// A series or array as a list of series.
fn array(name: &str, v: Value) -> Result<Vec<TimeSeries>, QueryError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Series(s) => Ok(vec![s]),
        other => Err(cannot_take(name, &other)),
    }
}

fn pick(
    name: &str,
    v: Value,
    whole: &Expr,
    f: fn(&[TimeSeries]) -> Option<&TimeSeries>,
) -> Result<Value, QueryError> {
    let list = array(name, v)?;
    Ok(Value::Series(f(&list).cloned().unwrap_or_else(|| {
        TimeSeries::new(whole.to_string(), Vec::new(), Vec::new())
    })))
}

fn string(name: &str, v: Value) -> Result<String, QueryError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(QueryError::type_error(format!(
            "{name} needs a quoted string, not {}",
            other.type_name()
        ))),
    }
}

fn keyword(name: &str, v: Value, allowed: &[&str]) -> Result<String, QueryError> {
    match v {
        Value::Keyword(k) if allowed.contains(&k.as_str()) => Ok(k),
        other => {
            let shown = match &other {
                Value::Keyword(k) => k.clone(),
                v => v.type_name().to_string(),
            };
            Err(QueryError::type_error(format!(
                "{name} needs one of {}, not {shown}",
                allowed.join(", ")
            )))
        }
    }
}

/// A non-negative whole number argument.
fn integer(name: &str, what: &str, v: Value) -> Result<usize, QueryError> {
    match v {
        Value::Scalar(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => Ok(x as usize),
        _ => Err(QueryError::type_error(format!(
            "{name} needs a non-negative whole number as {what}"
        ))),
    }
}

fn period(args: &[Expr], ctx: &dyn EvalContext) -> Result<Value, QueryError> {
    let [arg] = args else {
        return Err(QueryError::Arity {
            function: "PERIOD".to_string(),
            expected: "1".to_string(),
            got: args.len(),
        });
    };
    let p = match arg {
        Expr::Id(id) => {
            if ctx.series(id).is_none() {
                return Err(QueryError::UnknownId(id.clone()));
            }
            ctx.period_of(id).unwrap_or_else(|| ctx.period())
        }
        other => match eval(other, ctx)? {
            Value::Series(_) | Value::Array(_) => ctx.period(),
            v => return Err(cannot_take("PERIOD", &v)),
        },
    };
    Ok(Value::Scalar(p as f64))
}

fn metrics(filter: Option<Value>, ctx: &dyn EvalContext) -> Result<Value, QueryError> {
    let filter = match filter {
        Some(v) => Some(string("METRICS", v)?),
        None => None,
    };
    let mut out = Vec::new();
    for id in ctx.metric_ids() {
        if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
            continue;
        }
        if let Some(series) = ctx.series(&id) {
            out.extend(series.into_iter().map(TimeSeries::normalized));
        }
    }
    Ok(Value::Array(out))
}

/// The period-aligned timestamps of the request window. With an anchor, the grid
/// holds the timestamps congruent to it; otherwise it starts at the window start.
fn grid(ctx: &dyn EvalContext, anchor: Option<i64>) -> Result<Vec<i64>, QueryError> {
    let p = ctx.period();
    if p <= 0 {
        return Err(QueryError::invalid(format!(
            "the period must be positive, got {p}"
        )));
    }
    let (start, end) = (ctx.start(), ctx.end());
    let first = match anchor {
        Some(a) => start.saturating_add(a.saturating_sub(start).rem_euclid(p)),
        None => start,
    };
    if first >= end {
        return Ok(Vec::new());
    }
    let n = end.saturating_sub(first).saturating_sub(1) / p + 1;
    if n > MAX_GENERATED_POINTS {
        return Err(QueryError::new(
            ErrorKind::LimitExceeded,
            format!("the window holds more than {MAX_GENERATED_POINTS} periods"),
        ));
    }
    Ok((0..n).map(|k| first + k * p).collect())
}

enum Filler {
    Value(f64),
    Series(TimeSeries),
    Repeat,
    Linear,
}

fn fill(series: Value, with: Value, ctx: &dyn EvalContext) -> Result<Value, QueryError> {
    let how = match with {
        Value::Scalar(x) => Filler::Value(x),
        Value::Series(s) => Filler::Series(s),
        Value::Keyword(k) if k == "REPEAT" => Filler::Repeat,
        Value::Keyword(k) if k == "LINEAR" => Filler::Linear,
        Value::Keyword(k) => {
            return Err(QueryError::type_error(format!(
                "FILL needs a number, a time series, REPEAT or LINEAR, not {k}"
            )))
        }
        other => return Err(cannot_take("FILL", &other)),
    };
    match series {
        Value::Series(s) => Ok(Value::Series(fill_one(&s, &how, ctx)?)),
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for s in &a {
                out.push(fill_one(s, &how, ctx)?);
            }
            Ok(Value::Array(out))
        }
        other => Err(cannot_take("FILL", &other)),
    }
}

fn fill_one(s: &TimeSeries, how: &Filler, ctx: &dyn EvalContext) -> Result<TimeSeries, QueryError> {
    let mut slots: BTreeMap<i64, Option<f64>> = grid(ctx, s.timestamps.first().copied())?
        .into_iter()
        .map(|t| (t, None))
        .collect();
    for (t, v) in s.points() {
        slots.insert(t, Some(v));
    }
    let slots: Vec<(i64, Option<f64>)> = slots.into_iter().collect();
    let mut out = TimeSeries::new(s.label.clone(), Vec::with_capacity(slots.len()), Vec::new());
    let mut last: Option<(i64, f64)> = None;
    for (i, &(t, v)) in slots.iter().enumerate() {
        let value = match (v, how) {
            (Some(v), _) => Some(v),
            (None, Filler::Value(x)) => Some(*x),
            (None, Filler::Series(f)) => f.value_at(t),
            (None, Filler::Repeat) => last.map(|(_, v)| v),
            (None, Filler::Linear) => {
                let next = slots[i + 1..]
                    .iter()
                    .find_map(|&(tn, vn)| vn.map(|vn| (tn, vn)));
                match (last, next) {
                    (Some((t0, v0)), Some((t1, v1))) => {
                        Some(v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64)
                    }
                    _ => None,
                }
            }
        };
        if let Some(v) = v {
            last = Some((t, v));
        }
        if let Some(value) = value.filter(|x| x.is_finite()) {
            out.timestamps.push(t);
            out.values.push(value);
        }
    }
    Ok(out)
}

fn sort(mut list: Vec<TimeSeries>, by: &str, order: &str, limit: Option<usize>) -> Vec<TimeSeries> {
    let kind = match by {
        "AVG" => Stat::Avg,
        "MIN" => Stat::Min,
        "MAX" => Stat::Max,
        _ => Stat::Sum,
    };
    let descending = order == "DESC";
    let mut keyed: Vec<(f64, TimeSeries)> = list
        .drain(..)
        .map(|s| {
            let key = if s.is_empty() {
                f64::NAN
            } else {
                stat(kind, &s.values)
            };
            (key, s)
        })
        .collect();
    // Series without values go last in either order.
    keyed.sort_by(|(a, _), (b, _)| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if descending => b.total_cmp(a),
        (false, false) => a.total_cmp(b),
    });
    let n = limit.unwrap_or(keyed.len());
    keyed.into_iter().take(n).map(|(_, s)| s).collect()
}

/// `IF(cond, yes[, no])`. A scalar condition picks a whole branch. Otherwise, at
/// each timestamp of the condition: when true, the `yes` value (0 if missing);
/// when false, the `no` value, the point being dropped if that is missing or
/// there is no `no` branch. A missing condition drops the point.
fn if_fn(cond: Value, yes: Value, no: Option<Value>) -> Result<Value, QueryError> {
    for v in [Some(&cond), Some(&yes), no.as_ref()].into_iter().flatten() {
        if matches!(v, Value::Str(_) | Value::Keyword(_)) {
            return Err(cannot_take("IF", v));
        }
    }
    if let Value::Scalar(c) = cond {
        if c != 0.0 && !c.is_nan() {
            return Ok(yes);
        }
        return Ok(match (no, yes) {
            (Some(no), _) => no,
            (None, Value::Array(_)) => Value::Array(Vec::new()),
            (None, Value::Series(s)) => {
                Value::Series(TimeSeries::new(s.label, Vec::new(), Vec::new()))
            }
            (None, _) => Value::Scalar(f64::NAN),
        });
    }
    let sizes: Vec<usize> = [Some(&cond), Some(&yes), no.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|v| match v {
            Value::Array(a) => Some(a.len()),
            _ => None,
        })
        .collect();
    let Some(&n) = sizes.first() else {
        return Ok(Value::Series(if_series(&cond, &yes, no.as_ref())));
    };
    if sizes.iter().any(|&m| m != n) {
        return Err(QueryError::type_error("IF needs arrays of the same size"));
    }
    let member = |v: &Value, i: usize| match v {
        Value::Array(a) => Value::Series(a[i].clone()),
        other => other.clone(),
    };
    let out = (0..n)
        .map(|i| {
            if_series(
                &member(&cond, i),
                &member(&yes, i),
                no.as_ref().map(|v| member(v, i)).as_ref(),
            )
        })
        .collect();
    Ok(Value::Array(out))
}

/// [`if_fn`] for a series condition and scalar or series branches.
fn if_series(cond: &Value, yes: &Value, no: Option<&Value>) -> TimeSeries {
    let Value::Series(cond) = cond else {
        return TimeSeries::default();
    };
    let label = match yes {
        Value::Series(s) => s.label.clone(),
        _ => cond.label.clone(),
    };
    let value_at = |v: &Value, t: i64| match v {
        Value::Scalar(x) => Some(*x),
        Value::Series(s) => s.value_at(t),
        _ => None,
    };
    TimeSeries::from_points(
        label,
        cond.points().filter_map(|(t, c)| {
            if c != 0.0 {
                Some((t, value_at(yes, t).unwrap_or(0.0)))
            } else {
                no.and_then(|no| value_at(no, t)).map(|v| (t, v))
            }
        }),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::eval::testctx::{grid as on_grid, Ctx};
    use crate::{evaluate, parse_expression};
    use mw_model::{Dimension, MetricKey};

    fn run(ctx: &Ctx, text: &str) -> Result<Vec<TimeSeries>, QueryError> {
        evaluate(&parse_expression(text).unwrap(), ctx)
    }

    fn one(ctx: &Ctx, text: &str, n: usize) -> Vec<Option<f64>> {
        let out = run(ctx, text).unwrap();
        assert_eq!(out.len(), 1, "{text}");
        on_grid(&out[0], n)
    }

    /// The value of a scalar-valued expression, read through TIME_SERIES.
    fn scalar(ctx: &Ctx, text: &str) -> Option<f64> {
        let out = run(ctx, &format!("TIME_SERIES({text})")).unwrap();
        out[0].values.first().copied()
    }

    fn s(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|v| Some(*v)).collect()
    }

    #[test]
    fn if_worked_example() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(1.0), Some(0.0), Some(0.0), None])
            .metric("m2", &[Some(30.0), None, Some(0.0), Some(0.0), Some(30.0)])
            .metric("m3", &[Some(0.0), Some(0.0), Some(20.0), None, Some(20.0)]);
        assert_eq!(
            one(&ctx, "IF(m1, m2, m3)", 5),
            vec![Some(30.0), Some(0.0), Some(20.0), None, None]
        );
        // No false branch: false points are dropped.
        assert_eq!(
            one(&ctx, "IF(m1, m2)", 5),
            vec![Some(30.0), Some(0.0), None, None, None]
        );
        // Scalar branches; the condition has no point where m2 has none.
        assert_eq!(
            one(&ctx, "IF(m2 > 10, 1, -1)", 5),
            vec![Some(1.0), None, Some(-1.0), Some(-1.0), Some(1.0)]
        );
        assert_eq!(run(&ctx, "IF(m1, m2, m3)").unwrap()[0].label, "m2");
        assert_eq!(run(&ctx, "IF(m1, 5)").unwrap()[0].label, "m1");
    }

    #[test]
    fn if_scalar_condition_and_arrays() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(2.0)])
            .metric("m2", &[Some(5.0), Some(6.0)]);
        assert_eq!(one(&ctx, "IF(1, m1, m2)", 2), s(&[1.0, 2.0]));
        assert_eq!(one(&ctx, "IF(0, m1, m2)", 2), s(&[5.0, 6.0]));
        assert_eq!(one(&ctx, "IF(0, m1)", 2), vec![None, None]);
        assert_eq!(one(&ctx, "IF(AVG(m1) > 1, m1, m2)", 2), s(&[1.0, 2.0]));
        let out = run(&ctx, "IF([m1, m2] > 1.5, [m1, m2], 0)").unwrap();
        assert_eq!(on_grid(&out[0], 2), s(&[0.0, 2.0]));
        assert_eq!(on_grid(&out[1], 2), s(&[5.0, 6.0]));
        let out = run(&ctx, "IF(m1 > 1, [m1, m2])").unwrap();
        assert_eq!(on_grid(&out[0], 2), vec![None, Some(2.0)]);
        assert_eq!(on_grid(&out[1], 2), vec![None, Some(6.0)]);
        assert!(run(&ctx, "IF([m1, m2], [m1])").is_err());
        assert_eq!(
            run(&ctx, "IF(m1, 'x')").unwrap_err().to_string(),
            "IF cannot take a string"
        );
        assert_eq!(
            run(&ctx, "IF(1, 2, 3)").unwrap_err(),
            QueryError::ScalarResult
        );
    }

    #[test]
    fn pointwise_math() {
        let ctx = Ctx::new().metric("m1", &[Some(-1.5), Some(2.5), Some(100.0), Some(0.0)]);
        assert_eq!(one(&ctx, "ABS(m1)", 4), s(&[1.5, 2.5, 100.0, 0.0]));
        assert_eq!(one(&ctx, "CEIL(m1)", 4), s(&[-1.0, 3.0, 100.0, 0.0]));
        assert_eq!(one(&ctx, "FLOOR(m1)", 4), s(&[-2.0, 2.0, 100.0, 0.0]));
        assert_eq!(
            one(&ctx, "LOG10(m1)", 4),
            vec![None, Some(2.5f64.log10()), Some(2.0), None]
        );
        assert_eq!(
            one(&ctx, "LOG(m1)", 4),
            vec![None, Some(2.5f64.ln()), Some(100f64.ln()), None]
        );
        assert_eq!(scalar(&ctx, "ABS(-3)"), Some(3.0));
        assert_eq!(scalar(&ctx, "FLOOR(2.7) + CEIL(0.2)"), Some(3.0));
        assert_eq!(run(&ctx, "ABS(m1)").unwrap()[0].label, "m1");
    }

    #[test]
    fn aggregates_of_one_series_are_scalars() {
        let ctx = Ctx::new().metric("m1", &[Some(2.0), Some(4.0), None, Some(4.0), Some(5.0)]);
        assert_eq!(scalar(&ctx, "AVG(m1)"), Some(3.75));
        assert_eq!(scalar(&ctx, "MIN(m1)"), Some(2.0));
        assert_eq!(scalar(&ctx, "MAX(m1)"), Some(5.0));
        assert_eq!(scalar(&ctx, "SUM(m1)"), Some(15.0));
        assert_eq!(scalar(&ctx, "DATAPOINT_COUNT(m1)"), Some(4.0));
        // Population standard deviation of 2, 4, 4, 5: mean 3.75, variance 1.1875.
        let sd = scalar(&ctx, "STDDEV(m1)").unwrap();
        assert!((sd - 1.1875f64.sqrt()).abs() < 1e-12);
        // Normalising by the average.
        assert_eq!(
            one(&ctx, "m1 / AVG(m1) * 100", 5),
            vec![
                Some(2.0 / 3.75 * 100.0),
                Some(4.0 / 3.75 * 100.0),
                None,
                Some(4.0 / 3.75 * 100.0),
                Some(5.0 / 3.75 * 100.0)
            ]
        );
        let empty = Ctx::new().metric("m1", &[]);
        assert_eq!(scalar(&empty, "SUM(m1)"), Some(0.0));
        assert_eq!(scalar(&empty, "DATAPOINT_COUNT(m1)"), Some(0.0));
        assert_eq!(scalar(&empty, "AVG(m1)"), None);
    }

    #[test]
    fn aggregates_of_arrays_are_point_by_point() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(2.0), None])
            .metric("m2", &[Some(3.0), None, None])
            .metric("m3", &[Some(8.0), Some(4.0), Some(7.0)]);
        assert_eq!(one(&ctx, "SUM([m1, m2, m3])", 3), s(&[12.0, 6.0, 7.0]));
        assert_eq!(one(&ctx, "AVG([m1, m2, m3])", 3), s(&[4.0, 3.0, 7.0]));
        assert_eq!(one(&ctx, "MIN(METRICS())", 3), s(&[1.0, 2.0, 7.0]));
        assert_eq!(one(&ctx, "MAX(METRICS())", 3), s(&[8.0, 4.0, 7.0]));
        assert_eq!(
            one(&ctx, "DATAPOINT_COUNT(METRICS())", 3),
            s(&[3.0, 2.0, 1.0])
        );
        let sd = one(&ctx, "STDDEV([m1, m3])", 3);
        assert_eq!(sd, s(&[3.5, 1.0, 0.0]));
        assert_eq!(run(&ctx, "SUM([m1,m2])").unwrap()[0].label, "SUM([m1, m2])");
    }

    #[test]
    fn differences_rates_and_running_sum() {
        let mut ctx = Ctx::new();
        ctx.exprs.push((
            "e1".into(),
            vec![TimeSeries::new(
                "x",
                vec![0, 60, 180, 240],
                vec![10.0, 40.0, 40.0, 10.0],
            )],
        ));
        let r = |text: &str| run(&ctx, text).unwrap().remove(0);
        let d = r("DIFF(e1)");
        assert_eq!(d.timestamps, vec![60, 180, 240]);
        assert_eq!(d.values, vec![30.0, 0.0, -30.0]);
        assert_eq!(d.label, "x");
        let dt = r("DIFF_TIME(e1)");
        assert_eq!(dt.timestamps, vec![60, 180, 240]);
        assert_eq!(dt.values, vec![60.0, 120.0, 60.0]);
        let rate = r("RATE(e1)");
        assert_eq!(rate.timestamps, vec![60, 180, 240]);
        assert_eq!(rate.values, vec![0.5, 0.0, -0.5]);
        let rs = r("RUNNING_SUM(e1)");
        assert_eq!(rs.timestamps, vec![0, 60, 180, 240]);
        assert_eq!(rs.values, vec![10.0, 50.0, 90.0, 100.0]);
        assert_eq!(
            run(&ctx, "DIFF(3)").unwrap_err().to_string(),
            "DIFF cannot take a scalar"
        );
    }

    #[test]
    fn calendar_functions() {
        let mut ctx = Ctx::new();
        // 2024-02-29T13:45:00Z is a Thursday; 1970-01-01T00:00:00Z was a Thursday too;
        // 2023-12-31T23:59:00Z a Sunday.
        ctx.exprs.push((
            "e1".into(),
            vec![TimeSeries::new(
                "t",
                vec![0, 1_704_067_140, 1_709_214_300],
                vec![1.0, 1.0, 1.0],
            )],
        ));
        let v = |f: &str| run(&ctx, &format!("{f}(e1)")).unwrap().remove(0).values;
        assert_eq!(v("MINUTE"), vec![0.0, 59.0, 45.0]);
        assert_eq!(v("HOUR"), vec![0.0, 23.0, 13.0]);
        assert_eq!(v("DAY"), vec![4.0, 7.0, 4.0]);
        assert_eq!(v("DATE"), vec![1.0, 31.0, 29.0]);
        assert_eq!(v("MONTH"), vec![1.0, 12.0, 2.0]);
        assert_eq!(v("YEAR"), vec![1970.0, 2023.0, 2024.0]);
        assert_eq!(v("EPOCH"), vec![0.0, 1_704_067_140.0, 1_709_214_300.0]);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(951_782_400), (2000, 2, 29));
        assert_eq!(civil(-86_400), (1969, 12, 31));
    }

    #[test]
    fn fill_variants() {
        // Window [0, 360) with period 60: six slots.
        let mut ctx = Ctx::new()
            .metric("m1", &[None, Some(2.0), None, None, Some(8.0), None])
            .metric(
                "m2",
                &[Some(9.0), Some(9.0), Some(7.0), None, Some(9.0), Some(6.0)],
            );
        ctx.end = 360;
        assert_eq!(
            one(&ctx, "FILL(m1, 0)", 6),
            s(&[0.0, 2.0, 0.0, 0.0, 8.0, 0.0])
        );
        assert_eq!(
            one(&ctx, "FILL(m1, m2)", 6),
            vec![Some(9.0), Some(2.0), Some(7.0), None, Some(8.0), Some(6.0)]
        );
        assert_eq!(
            one(&ctx, "FILL(m1, REPEAT)", 6),
            vec![None, Some(2.0), Some(2.0), Some(2.0), Some(8.0), Some(8.0)]
        );
        assert_eq!(
            one(&ctx, "FILL(m1, LINEAR)", 6),
            vec![None, Some(2.0), Some(4.0), Some(6.0), Some(8.0), None]
        );
        assert_eq!(run(&ctx, "FILL(m1, 0)").unwrap()[0].label, "m1");
        let both = run(&ctx, "FILL([m1, m2], -1)").unwrap();
        assert_eq!(on_grid(&both[1], 6), s(&[9.0, 9.0, 7.0, -1.0, 9.0, 6.0]));
        assert_eq!(
            run(&ctx, "FILL(m1, ASC)").unwrap_err().to_string(),
            "FILL needs a number, a time series, REPEAT or LINEAR, not ASC"
        );
    }

    #[test]
    fn fill_grid_follows_the_series_alignment() {
        let mut ctx = Ctx::new();
        ctx.start = 10;
        ctx.end = 250;
        ctx.exprs.push((
            "e1".into(),
            vec![TimeSeries::new("x", vec![130], vec![1.0])],
        ));
        ctx.exprs.push(("e2".into(), vec![TimeSeries::default()]));
        let f = run(&ctx, "FILL(e1, 0)").unwrap().remove(0);
        assert_eq!(f.timestamps, vec![10, 70, 130, 190]);
        assert_eq!(f.values, vec![0.0, 0.0, 1.0, 0.0]);
        let f = run(&ctx, "FILL(e2, 5)").unwrap().remove(0);
        assert_eq!(f.timestamps, vec![10, 70, 130, 190]);
        assert_eq!(f.values, vec![5.0; 4]);
        ctx.period = 1;
        ctx.end = 10_000_000;
        assert_eq!(
            run(&ctx, "FILL(e2, 5)").unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
    }

    #[test]
    fn time_series_of_a_scalar() {
        let ctx = Ctx::new().metric("m1", &[Some(1.0), Some(3.0)]);
        let out = run(&ctx, "TIME_SERIES(MAX(m1))").unwrap().remove(0);
        assert_eq!(out.timestamps, vec![0, 60, 120, 180, 240]);
        assert_eq!(out.values, vec![3.0; 5]);
        assert_eq!(out.label, "TIME_SERIES(MAX(m1))");
        assert_eq!(one(&ctx, "TIME_SERIES(m1)", 2), s(&[1.0, 3.0]));
        assert!(run(&ctx, "TIME_SERIES(1/0)").unwrap()[0].is_empty());
    }

    #[test]
    fn first_last_count_slice_remove_empty() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0)])
            .metric("m2", &[])
            .metric("m3", &[Some(3.0)]);
        assert_eq!(run(&ctx, "FIRST(METRICS())").unwrap()[0].label, "m1");
        assert_eq!(run(&ctx, "LAST(METRICS())").unwrap()[0].label, "m3");
        assert_eq!(run(&ctx, "LAST(m2)").unwrap()[0].label, "m2");
        assert!(run(&ctx, "FIRST(METRICS('zz'))").unwrap()[0].is_empty());
        assert_eq!(scalar(&ctx, "METRIC_COUNT(METRICS())"), Some(3.0));
        assert_eq!(scalar(&ctx, "METRIC_COUNT(m1)"), Some(1.0));
        let labels = |text: &str| -> Vec<String> {
            run(&ctx, text)
                .unwrap()
                .into_iter()
                .map(|s| s.label)
                .collect()
        };
        assert_eq!(labels("SLICE(METRICS(), 1)"), vec!["m2", "m3"]);
        assert_eq!(labels("SLICE(METRICS(), 0, 2)"), vec!["m1", "m2"]);
        assert_eq!(labels("SLICE(METRICS(), 2, 1)"), Vec::<String>::new());
        assert_eq!(labels("SLICE(METRICS(), 1, 99)"), vec!["m2", "m3"]);
        assert_eq!(
            run(&ctx, "SLICE(METRICS(), -1)").unwrap_err().to_string(),
            "SLICE needs a non-negative whole number as start index"
        );
        assert_eq!(labels("REMOVE_EMPTY(METRICS())"), vec!["m1", "m3"]);
        assert_eq!(labels("REMOVE_EMPTY(m2)"), Vec::<String>::new());
        assert_eq!(labels("REMOVE_EMPTY(m1)"), vec!["m1"]);
    }

    #[test]
    fn metrics_filters_metric_ids_only() {
        let mut ctx = Ctx::new()
            .metric("errors1", &[Some(1.0)])
            .metric("requests", &[Some(10.0)])
            .metric("errors2", &[Some(2.0)]);
        ctx.exprs.push((
            "errors_expr".into(),
            vec![TimeSeries::new("x", vec![0], vec![5.0])],
        ));
        let labels = |text: &str| -> Vec<String> {
            run(&ctx, text)
                .unwrap()
                .into_iter()
                .map(|s| s.label)
                .collect()
        };
        assert_eq!(labels("METRICS()"), vec!["errors1", "requests", "errors2"]);
        assert_eq!(labels("METRICS('errors')"), vec!["errors1", "errors2"]);
        assert_eq!(one(&ctx, "SUM(METRICS('errors'))", 1), s(&[3.0]));
        assert_eq!(
            run(&ctx, "METRICS(1)").unwrap_err().to_string(),
            "METRICS needs a quoted string, not a scalar"
        );
    }

    #[test]
    fn sort_by_statistic() {
        let ctx = Ctx::new()
            .metric("a", &[Some(1.0), Some(9.0)])
            .metric("b", &[Some(4.0), Some(4.0)])
            .metric("c", &[])
            .metric("d", &[Some(2.0), Some(3.0)]);
        let labels = |text: &str| -> Vec<String> {
            run(&ctx, text)
                .unwrap()
                .into_iter()
                .map(|s| s.label)
                .collect()
        };
        assert_eq!(
            labels("SORT(METRICS(), AVG, DESC)"),
            vec!["a", "b", "d", "c"]
        );
        assert_eq!(
            labels("SORT(METRICS(), AVG, ASC)"),
            vec!["d", "b", "a", "c"]
        );
        assert_eq!(
            labels("SORT(METRICS(), MIN, ASC)"),
            vec!["a", "d", "b", "c"]
        );
        assert_eq!(labels("SORT(METRICS(), MAX, DESC, 2)"), vec!["a", "b"]);
        assert_eq!(labels("SORT(METRICS(), SUM, ASC, 1)"), vec!["d"]);
        assert_eq!(
            run(&ctx, "SORT(METRICS(), REPEAT, ASC)")
                .unwrap_err()
                .to_string(),
            "SORT needs one of AVG, MIN, MAX, SUM, not REPEAT"
        );
        assert_eq!(
            run(&ctx, "SORT(METRICS(), AVG, 1)")
                .unwrap_err()
                .to_string(),
            "SORT needs one of ASC, DESC, not a scalar"
        );
    }

    #[test]
    fn period_function() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(2.0)])
            .metric("m5", &[Some(1.0)]);
        assert_eq!(
            one(&ctx, "m1 / PERIOD(m1)", 2),
            s(&[1.0 / 60.0, 2.0 / 60.0])
        );
        assert_eq!(scalar(&ctx, "PERIOD(m5)"), Some(300.0));
        assert_eq!(scalar(&ctx, "PERIOD(m1 * 2)"), Some(60.0));
        assert_eq!(
            run(&ctx, "m1 + PERIOD(zz)").unwrap_err(),
            QueryError::UnknownId("zz".into())
        );
        assert_eq!(
            run(&ctx, "m1 + PERIOD(3)").unwrap_err().to_string(),
            "PERIOD cannot take a scalar"
        );
    }

    #[test]
    fn search_function() {
        let mut ctx = Ctx::new();
        let key = |name: &str, id: &str| {
            MetricKey::from_parts(
                "AWS/EC2".into(),
                name.into(),
                vec![Dimension {
                    name: "InstanceId".into(),
                    value: id.into(),
                }],
            )
        };
        ctx.catalog.push((
            key("CPUUtilization", "i-1"),
            TimeSeries::new("", vec![0, 60], vec![10.0, 20.0]),
        ));
        ctx.catalog.push((
            key("NetworkIn", "i-1"),
            TimeSeries::new("", vec![0], vec![5.0]),
        ));
        ctx.catalog.push((
            key("CPUUtilization", "i-2"),
            TimeSeries::new("", vec![0, 60], vec![30.0, 40.0]),
        ));
        let out = run(
            &ctx,
            r#"SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', 'Average', 300)"#,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].label, "CPUUtilization 300");
        assert_eq!(
            one(&ctx, "AVG(SEARCH('cpu', 'Average', 60))", 2),
            s(&[20.0, 30.0])
        );
        assert_eq!(
            run(&ctx, "SEARCH('cpu', 'Sum', 60)")
                .unwrap_err()
                .to_string(),
            "bad stat Sum"
        );
        assert_eq!(
            run(&ctx, "SEARCH('cpu', 'Average', 0)")
                .unwrap_err()
                .to_string(),
            "SEARCH needs a positive period"
        );
        assert_eq!(
            parse_expression("SEARCH('cpu', Average, 60)")
                .unwrap_err()
                .to_string(),
            "syntax error at position 15: unknown keyword Average"
        );
    }
}
