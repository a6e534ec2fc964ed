//! Evaluation of an [`Expr`]: the three value types, operators and Id lookup.
//!
//! A [`Value`] is a scalar, one [`TimeSeries`], an array of series, or (only as a
//! function argument) a string or keyword. Operators broadcast over every
//! combination: scalar with series applies to each point; two series are aligned
//! over the union of their timestamps with a missing value counting as 0; arrays
//! apply element by element. Points whose result is not finite are dropped.
//! Function calls are handed to [`crate::functions`].

use crate::error::QueryError;
use crate::expr::{BinOp, Expr, UnaryOp};
use crate::functions;
use crate::{EvalContext, TimeSeries};

/// An intermediate result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    Series(TimeSeries),
    Array(Vec<TimeSeries>),
    Str(String),
    Keyword(String),
}

impl Value {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "a scalar",
            Value::Series(_) => "a time series",
            Value::Array(_) => "an array of time series",
            Value::Str(_) => "a string",
            Value::Keyword(_) => "a keyword",
        }
    }
}

/// Evaluates `expr` to the series it produces: one for a series result, any
/// number for an array. A scalar result is an error ([`QueryError::ScalarResult`]).
pub fn evaluate(expr: &Expr, ctx: &dyn EvalContext) -> Result<Vec<TimeSeries>, QueryError> {
    match eval(expr, ctx)? {
        Value::Series(s) => Ok(vec![s]),
        Value::Array(a) => Ok(a),
        Value::Scalar(_) => Err(QueryError::ScalarResult),
        other => Err(QueryError::type_error(format!(
            "the expression must produce a time series, not {}",
            other.type_name()
        ))),
    }
}

pub(crate) fn eval(expr: &Expr, ctx: &dyn EvalContext) -> Result<Value, QueryError> {
    match expr {
        Expr::Number(n) => Ok(Value::Scalar(*n)),
        Expr::Str(s) => Ok(Value::Str(s.clone())),
        Expr::Keyword(k) => Ok(Value::Keyword(k.clone())),
        Expr::Id(id) => lookup(id, ctx),
        Expr::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match eval(item, ctx)? {
                    Value::Series(s) => out.push(s),
                    Value::Array(a) => out.extend(a),
                    other => {
                        return Err(QueryError::type_error(format!(
                            "an array can only hold time series, not {}",
                            other.type_name()
                        )))
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Expr::Unary(op, e) => unary(*op, eval(e, ctx)?),
        Expr::Binary(op, l, r) => binary(*op, eval(l, ctx)?, eval(r, ctx)?, expr),
        Expr::Call(name, args) => functions::call(name, args, expr, ctx),
    }
}

/// The result of another query. A MetricStat query, or any query with exactly one
/// series, is a series; other expressions are arrays.
fn lookup(id: &str, ctx: &dyn EvalContext) -> Result<Value, QueryError> {
    let Some(mut series) = ctx.series(id) else {
        return Err(QueryError::UnknownId(id.to_string()));
    };
    let is_metric = ctx.metric_ids().iter().any(|m| m == id);
    if series.len() == 1 || (is_metric && series.is_empty()) {
        let one = series
            .pop()
            .unwrap_or_else(|| TimeSeries::new(id, Vec::new(), Vec::new()));
        return Ok(Value::Series(one.normalized()));
    }
    Ok(Value::Array(
        series.into_iter().map(TimeSeries::normalized).collect(),
    ))
}

fn truth(v: f64) -> bool {
    v != 0.0
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// One operator on two numbers; NaN stands for "no value" (dropped from series).
pub(crate) fn apply(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                f64::NAN
            } else {
                a / b
            }
        }
        BinOp::Pow => a.powf(b),
        BinOp::Eq => flag(a == b),
        BinOp::Ne => flag(a != b),
        BinOp::Lt => flag(a < b),
        BinOp::Le => flag(a <= b),
        BinOp::Gt => flag(a > b),
        BinOp::Ge => flag(a >= b),
        BinOp::And => flag(truth(a) && truth(b)),
        BinOp::Or => flag(truth(a) || truth(b)),
    }
}

/// A series with `f` applied to each value, keeping its label; non-finite results are dropped.
pub(crate) fn map_values(s: &TimeSeries, mut f: impl FnMut(f64) -> f64) -> TimeSeries {
    map_points(s, |_, v| f(v))
}

/// Like [`map_values`], with the timestamp passed too.
pub(crate) fn map_points(s: &TimeSeries, mut f: impl FnMut(i64, f64) -> f64) -> TimeSeries {
    let mut out = TimeSeries::new(s.label.clone(), Vec::new(), Vec::new());
    for (t, v) in s.points() {
        let r = f(t, v);
        if r.is_finite() {
            out.timestamps.push(t);
            out.values.push(r);
        }
    }
    out
}

/// Two series aligned over the union of their timestamps, a missing value counting as 0.
fn zip(op: BinOp, a: &TimeSeries, b: &TimeSeries, label: String) -> TimeSeries {
    let mut out = TimeSeries::new(label, Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    let (na, nb) = (a.len(), b.len());
    while i < na || j < nb {
        let ta = (i < na).then(|| a.timestamps[i]);
        let tb = (j < nb).then(|| b.timestamps[j]);
        let (t, x, y) = match (ta, tb) {
            (Some(ta), Some(tb)) if ta == tb => {
                i += 1;
                j += 1;
                (ta, a.values[i - 1], b.values[j - 1])
            }
            (Some(ta), Some(tb)) if ta < tb => {
                i += 1;
                (ta, a.values[i - 1], 0.0)
            }
            (Some(ta), None) => {
                i += 1;
                (ta, a.values[i - 1], 0.0)
            }
            (_, Some(tb)) => {
                j += 1;
                (tb, 0.0, b.values[j - 1])
            }
            (None, None) => break,
        };
        let r = apply(op, x, y);
        if r.is_finite() {
            out.timestamps.push(t);
            out.values.push(r);
        }
    }
    out
}

fn binary(op: BinOp, l: Value, r: Value, expr: &Expr) -> Result<Value, QueryError> {
    use Value::{Array, Scalar, Series};
    Ok(match (l, r) {
        (Scalar(a), Scalar(b)) => Scalar(apply(op, a, b)),
        (Series(s), Scalar(b)) => Series(map_values(&s, |v| apply(op, v, b))),
        (Scalar(a), Series(s)) => Series(map_values(&s, |v| apply(op, a, v))),
        (Series(a), Series(b)) => Series(zip(op, &a, &b, expr.to_string())),
        (Array(xs), Scalar(b)) => Array(
            xs.iter()
                .map(|x| map_values(x, |v| apply(op, v, b)))
                .collect(),
        ),
        (Scalar(a), Array(ys)) => Array(
            ys.iter()
                .map(|y| map_values(y, |v| apply(op, a, v)))
                .collect(),
        ),
        (Array(xs), Series(b)) => {
            Array(xs.iter().map(|x| zip(op, x, &b, x.label.clone())).collect())
        }
        (Series(a), Array(ys)) => {
            Array(ys.iter().map(|y| zip(op, &a, y, y.label.clone())).collect())
        }
        (Array(xs), Array(ys)) => {
            if xs.len() != ys.len() {
                return Err(QueryError::type_error(format!(
                    "operator {} needs arrays of the same size, got {} and {}",
                    op_name(op),
                    xs.len(),
                    ys.len()
                )));
            }
            Array(
                xs.iter()
                    .zip(&ys)
                    .map(|(x, y)| zip(op, x, y, x.label.clone()))
                    .collect(),
            )
        }
        (l, r) => {
            let bad = if matches!(l, Value::Str(_) | Value::Keyword(_)) {
                l
            } else {
                r
            };
            return Err(QueryError::type_error(format!(
                "operator {} cannot take {}",
                op_name(op),
                bad.type_name()
            )));
        }
    })
}

fn op_name(op: BinOp) -> &'static str {
    op.symbol()
}

fn unary(op: UnaryOp, v: Value) -> Result<Value, QueryError> {
    let f = |x: f64| match op {
        UnaryOp::Neg => -x,
        UnaryOp::Plus => x,
    };
    match v {
        Value::Scalar(x) => Ok(Value::Scalar(f(x))),
        Value::Series(s) => Ok(Value::Series(map_values(&s, f))),
        Value::Array(a) => Ok(Value::Array(a.iter().map(|s| map_values(s, f)).collect())),
        other => Err(QueryError::type_error(format!(
            "unary {} cannot take {}",
            match op {
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
            },
            other.type_name()
        ))),
    }
}

/// A request fixture for tests: named series, a window and a period.
#[cfg(test)]
pub(crate) mod testctx {
    use crate::{EvalContext, QueryError, SearchExpr, TimeSeries};
    use mw_model::MetricKey;

    pub struct Ctx {
        pub metrics: Vec<(String, TimeSeries)>,
        pub exprs: Vec<(String, Vec<TimeSeries>)>,
        pub catalog: Vec<(MetricKey, TimeSeries)>,
        pub period: i64,
        pub start: i64,
        pub end: i64,
    }

    impl Ctx {
        pub fn new() -> Ctx {
            Ctx {
                metrics: Vec::new(),
                exprs: Vec::new(),
                catalog: Vec::new(),
                period: 60,
                start: 0,
                end: 300,
            }
        }

        /// Adds a MetricStat query with one value per minute from 0; `None` is a gap.
        pub fn metric(mut self, id: &str, values: &[Option<f64>]) -> Ctx {
            let points = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as i64 * 60, v)));
            self.metrics
                .push((id.to_string(), TimeSeries::from_points(id, points)));
            self
        }
    }

    impl EvalContext for Ctx {
        fn series(&self, id: &str) -> Option<Vec<TimeSeries>> {
            if let Some((_, s)) = self.metrics.iter().find(|(m, _)| m == id) {
                return Some(vec![s.clone()]);
            }
            self.exprs
                .iter()
                .find(|(e, _)| e == id)
                .map(|(_, s)| s.clone())
        }
        fn metric_ids(&self) -> Vec<String> {
            self.metrics.iter().map(|(id, _)| id.clone()).collect()
        }
        fn search(
            &self,
            query: &SearchExpr,
            stat: &str,
            period: i64,
        ) -> Result<Vec<TimeSeries>, QueryError> {
            if stat != "Average" {
                return Err(QueryError::invalid(format!("bad stat {stat}")));
            }
            Ok(self
                .catalog
                .iter()
                .filter(|(k, _)| query.matches(k))
                .map(|(k, s)| {
                    let mut s = s.clone();
                    s.label = format!("{} {period}", k.name);
                    s
                })
                .collect())
        }
        fn period(&self) -> i64 {
            self.period
        }
        fn start(&self) -> i64 {
            self.start
        }
        fn end(&self) -> i64 {
            self.end
        }
        fn period_of(&self, id: &str) -> Option<i64> {
            (id == "m5").then_some(300)
        }
    }

    /// Values of a series over the 0, 60, ... grid up to the last point, `None` for gaps.
    pub fn grid(s: &TimeSeries, n: usize) -> Vec<Option<f64>> {
        (0..n).map(|i| s.value_at(i as i64 * 60)).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::testctx::{grid, Ctx};
    use super::*;
    use crate::parse_expression;

    fn run(ctx: &Ctx, text: &str) -> Result<Vec<TimeSeries>, QueryError> {
        evaluate(&parse_expression(text).unwrap(), ctx)
    }

    fn one(ctx: &Ctx, text: &str, n: usize) -> Vec<Option<f64>> {
        let out = run(ctx, text).unwrap();
        assert_eq!(out.len(), 1, "{text}");
        grid(&out[0], n)
    }

    #[test]
    fn comparison_worked_example() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(30.0), Some(20.0), Some(0.0), Some(0.0)])
            .metric("m2", &[Some(20.0), None, Some(20.0), None]);
        assert_eq!(
            one(&ctx, "m1 < m2", 4),
            vec![Some(0.0), Some(0.0), Some(1.0), Some(0.0)]
        );
        assert_eq!(
            one(&ctx, "m1 >= m2", 4),
            vec![Some(1.0), Some(1.0), Some(0.0), Some(1.0)]
        );
        assert_eq!(
            one(&ctx, "m1 == m2", 4),
            vec![Some(0.0), Some(0.0), Some(0.0), Some(1.0)]
        );
        assert_eq!(
            one(&ctx, "m1 != m2", 4),
            vec![Some(1.0), Some(1.0), Some(1.0), Some(0.0)]
        );
        assert_eq!(
            one(&ctx, "m1 <= m2", 4),
            vec![Some(0.0), Some(0.0), Some(1.0), Some(1.0)]
        );
        assert_eq!(
            one(&ctx, "m1 > m2", 4),
            vec![Some(1.0), Some(1.0), Some(0.0), Some(0.0)]
        );
    }

    #[test]
    fn arithmetic_missing_is_zero_and_division_by_zero_drops() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(6.0), Some(4.0), None, Some(3.0)])
            .metric("m2", &[Some(2.0), None, Some(5.0), Some(0.0)]);
        assert_eq!(
            one(&ctx, "m1 + m2", 4),
            vec![Some(8.0), Some(4.0), Some(5.0), Some(3.0)]
        );
        assert_eq!(
            one(&ctx, "m1 - m2", 4),
            vec![Some(4.0), Some(4.0), Some(-5.0), Some(3.0)]
        );
        assert_eq!(
            one(&ctx, "m1 * m2", 4),
            vec![Some(12.0), Some(0.0), Some(0.0), Some(0.0)]
        );
        // 4/0 (missing) and 3/0 are dropped; 0/5 is 0.
        assert_eq!(
            one(&ctx, "m1 / m2", 4),
            vec![Some(3.0), None, Some(0.0), None]
        );
        assert_eq!(
            one(&ctx, "m1 ^ 2", 4),
            vec![Some(36.0), Some(16.0), None, Some(9.0)]
        );
        assert_eq!(
            one(&ctx, "2 ^ m2", 4),
            vec![Some(4.0), None, Some(32.0), Some(1.0)]
        );
        assert_eq!(
            one(&ctx, "-m1", 4),
            vec![Some(-6.0), Some(-4.0), None, Some(-3.0)]
        );
        assert_eq!(
            one(&ctx, "10 / m2", 4),
            vec![Some(5.0), None, Some(2.0), None]
        );
        assert_eq!(one(&ctx, "m1 / 0", 4), vec![None, None, None, None]);
        assert_eq!(
            one(&ctx, "(m1 + 1) * 2 - 3", 4),
            vec![Some(11.0), Some(7.0), None, Some(5.0)]
        );
    }

    #[test]
    fn logical_operators() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(0.0), Some(2.0), None])
            .metric("m2", &[Some(1.0), Some(1.0), Some(0.0), Some(3.0)]);
        assert_eq!(
            one(&ctx, "m1 AND m2", 4),
            vec![Some(1.0), Some(0.0), Some(0.0), Some(0.0)]
        );
        assert_eq!(
            one(&ctx, "m1 && m2", 4),
            vec![Some(1.0), Some(0.0), Some(0.0), Some(0.0)]
        );
        assert_eq!(
            one(&ctx, "m1 OR m2", 4),
            vec![Some(1.0), Some(1.0), Some(1.0), Some(1.0)]
        );
        assert_eq!(
            one(&ctx, "m1 > 1 || m2 > 2", 4),
            vec![Some(0.0), Some(0.0), Some(1.0), Some(1.0)]
        );
    }

    #[test]
    fn labels() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0)])
            .metric("m2", &[Some(2.0)]);
        assert_eq!(run(&ctx, "m1 * 2").unwrap()[0].label, "m1");
        assert_eq!(run(&ctx, "-m1").unwrap()[0].label, "m1");
        assert_eq!(run(&ctx, "m1+m2").unwrap()[0].label, "m1 + m2");
        let arr = run(&ctx, "[m1, m2] * m1").unwrap();
        assert_eq!(arr[0].label, "m1");
        assert_eq!(arr[1].label, "m2");
        assert_eq!(arr[1].values, vec![2.0]);
    }

    #[test]
    fn arrays_broadcast() {
        let ctx = Ctx::new()
            .metric("m1", &[Some(1.0), Some(2.0)])
            .metric("m2", &[Some(10.0), None])
            .metric("m3", &[Some(100.0), Some(200.0)]);
        let out = run(&ctx, "[m1, m2] + 1").unwrap();
        assert_eq!(grid(&out[0], 2), vec![Some(2.0), Some(3.0)]);
        assert_eq!(grid(&out[1], 2), vec![Some(11.0), None]);
        let out = run(&ctx, "m3 - [m1, m2]").unwrap();
        assert_eq!(grid(&out[0], 2), vec![Some(99.0), Some(198.0)]);
        assert_eq!(grid(&out[1], 2), vec![Some(90.0), Some(200.0)]);
        let out = run(&ctx, "[m1, m2] * [m3, m3]").unwrap();
        assert_eq!(grid(&out[0], 2), vec![Some(100.0), Some(400.0)]);
        assert_eq!(grid(&out[1], 2), vec![Some(1000.0), Some(0.0)]);
        let out = run(&ctx, "-[m1, [m2]]").unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(grid(&out[1], 2), vec![Some(-10.0), None]);
        let e = run(&ctx, "[m1, m2] + [m1]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "operator + needs arrays of the same size, got 2 and 1"
        );
    }

    #[test]
    fn scalar_results_and_type_errors() {
        let ctx = Ctx::new().metric("m1", &[Some(1.0)]);
        assert_eq!(run(&ctx, "1 + 2").unwrap_err(), QueryError::ScalarResult);
        assert_eq!(run(&ctx, "AVG(m1)").unwrap_err(), QueryError::ScalarResult);
        assert_eq!(
            run(&ctx, "m1 + 'x'").unwrap_err().to_string(),
            "operator + cannot take a string"
        );
        assert_eq!(
            run(&ctx, "[m1, 1]").unwrap_err().to_string(),
            "an array can only hold time series, not a scalar"
        );
        assert_eq!(
            run(&ctx, "'abc'").unwrap_err().to_string(),
            "the expression must produce a time series, not a string"
        );
        assert_eq!(
            run(&ctx, "m1 * zz").unwrap_err(),
            QueryError::UnknownId("zz".into())
        );
        assert_eq!(
            run(&ctx, "-REPEAT").unwrap_err().to_string(),
            "unary - cannot take a keyword"
        );
        assert_eq!(
            run(&ctx, "m1 AND LINEAR").unwrap_err().to_string(),
            "operator AND cannot take a keyword"
        );
    }

    #[test]
    fn scalars_inside_larger_expressions() {
        let ctx = Ctx::new().metric("m1", &[Some(1.0), Some(5.0), Some(3.0)]);
        assert_eq!(
            one(&ctx, "+m1 * (2 ^ 3 - 4) / -2", 3),
            vec![Some(-2.0), Some(-10.0), Some(-6.0)]
        );
        assert_eq!(
            one(&ctx, "m1 > AVG(m1)", 3),
            vec![Some(0.0), Some(1.0), Some(0.0)]
        );
        assert_eq!(
            one(&ctx, "m1 - MIN(m1) * 2 ^ 2", 3),
            vec![Some(-3.0), Some(1.0), Some(-1.0)]
        );
        assert_eq!(
            one(&ctx, "m1 * (1 == 1) + (2 < 1)", 3),
            vec![Some(1.0), Some(5.0), Some(3.0)]
        );
    }

    #[test]
    fn expression_results_are_series_or_arrays() {
        let mut ctx = Ctx::new().metric("m1", &[Some(1.0)]);
        let a = TimeSeries::new("a", vec![0], vec![5.0]);
        let b = TimeSeries::new("b", vec![0], vec![7.0]);
        ctx.exprs.push(("e1".into(), vec![a.clone()]));
        ctx.exprs.push(("e2".into(), vec![a, b]));
        ctx.exprs.push(("e3".into(), vec![]));
        // e1 is one series: AVG gives a scalar, so this is a series.
        assert_eq!(run(&ctx, "m1 + AVG(e1)").unwrap()[0].values, vec![6.0]);
        // e2 is an array: AVG is point by point.
        assert_eq!(run(&ctx, "AVG(e2)").unwrap()[0].values, vec![6.0]);
        assert!(run(&ctx, "e3 * 2").unwrap().is_empty());
        // Unsorted data from the caller is put in order first.
        ctx.exprs.push((
            "e4".into(),
            vec![TimeSeries::new("u", vec![60, 0], vec![2.0, 1.0])],
        ));
        let out = run(&ctx, "e4 + 0").unwrap();
        assert_eq!(out[0].timestamps, vec![0, 60]);
        assert_eq!(out[0].values, vec![1.0, 2.0]);
    }
}
