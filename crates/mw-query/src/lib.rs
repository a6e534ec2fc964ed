//! The metric math and SEARCH expression languages of GetMetricData and alarms.
//!
//! - [`parse_expression`] turns metric math text (`m1 * 100 / m2`,
//!   `SORT(METRICS(), AVG, DESC, 3)`, `SEARCH('{AWS/EC2,InstanceId} CPU', 'Average', 300)`)
//!   into an [`Expr`]; [`Expr::references`] lists the Ids it needs, so the caller can
//!   order evaluation.
//! - [`evaluate`] computes an [`Expr`] to one or more [`TimeSeries`], pulling the
//!   results of other queries, the request window and SEARCH results through the
//!   [`EvalContext`] the caller implements.
//! - [`SearchExpr`] is a parsed SEARCH query (`{Namespace,Dim} terms`) that decides
//!   whether one [`mw_model::MetricKey`] matches; running it over the catalog is
//!   the caller's job.
//!
//! Values have three types: scalar, one series, and an array of series.
//! Arithmetic aligns series by timestamp over the union of their timestamps, a
//! missing value counts as 0, and a point whose result is not finite (division by
//! zero, the log of a negative number) is dropped. This crate knows nothing of
//! storage or wire formats: it sees series only through [`EvalContext`].
//!
//! ```
//! # use mw_query::*;
//! let e = parse_expression("IF(m1 > 10, m1, 0)").unwrap();
//! assert_eq!(e.references(), vec!["m1".to_string()]);
//! ```

mod error;
mod eval;
mod expr;
mod functions;
mod search;

pub use error::{ErrorKind, QueryError};
pub use eval::evaluate;
pub use expr::{parse_expression, BinOp, Expr, UnaryOp, MAX_EXPRESSION_CHARS};
pub use search::{tokenize, SearchExpr, MAX_SEARCH_CHARS};

/// One time series: parallel timestamps (epoch seconds, ascending, unique) and values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    pub label: String,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

impl TimeSeries {
    pub fn new(label: impl Into<String>, timestamps: Vec<i64>, values: Vec<f64>) -> Self {
        TimeSeries {
            label: label.into(),
            timestamps,
            values,
        }
    }

    /// A series built from `(timestamp, value)` points in any order; for a repeated
    /// timestamp the last value wins, and non-finite values are left out.
    pub fn from_points(
        label: impl Into<String>,
        points: impl IntoIterator<Item = (i64, f64)>,
    ) -> Self {
        let mut points: Vec<(i64, f64)> =
            points.into_iter().filter(|(_, v)| v.is_finite()).collect();
        points.sort_by_key(|(t, _)| *t);
        let mut ts = TimeSeries::new(
            label,
            Vec::with_capacity(points.len()),
            Vec::with_capacity(points.len()),
        );
        for (t, v) in points {
            if ts.timestamps.last() == Some(&t) {
                if let Some(last) = ts.values.last_mut() {
                    *last = v;
                }
            } else {
                ts.timestamps.push(t);
                ts.values.push(v);
            }
        }
        ts
    }

    pub fn len(&self) -> usize {
        self.timestamps.len().min(self.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at timestamp `t`, if the series has one.
    pub fn value_at(&self, t: i64) -> Option<f64> {
        self.timestamps
            .binary_search(&t)
            .ok()
            .and_then(|i| self.values.get(i).copied())
    }

    /// `(timestamp, value)` pairs in time order.
    pub fn points(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.timestamps
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// Sorts, deduplicates and drops non-finite values when the series breaks its
    /// invariants (data handed in by a caller); a valid series is left as is.
    pub(crate) fn normalized(self) -> TimeSeries {
        let valid = self.timestamps.len() == self.values.len()
            && self.timestamps.windows(2).all(|w| w[0] < w[1])
            && self.values.iter().all(|v| v.is_finite());
        if valid {
            self
        } else {
            let points: Vec<(i64, f64)> = self.points().collect();
            TimeSeries::from_points(self.label, points)
        }
    }
}

/// What evaluation needs from the request being answered.
pub trait EvalContext {
    /// The result of another query of the same request, by Id (a MetricStat result or an
    /// already evaluated expression). A MetricStat gives one series; an expression may give several.
    fn series(&self, id: &str) -> Option<Vec<TimeSeries>>;
    /// Ids of the MetricStat queries (not expressions) of the request, in request order (for METRICS()).
    fn metric_ids(&self) -> Vec<String>;
    /// Runs a SEARCH: one series per matching metric, labelled by the caller.
    fn search(
        &self,
        query: &SearchExpr,
        stat: &str,
        period: i64,
    ) -> Result<Vec<TimeSeries>, QueryError>;
    /// Period in seconds of the expression's query (for PERIOD(), RATE, FILL alignment...).
    fn period(&self) -> i64;
    /// Start of the request window, epoch seconds, inclusive.
    fn start(&self) -> i64;
    /// End of the request window, epoch seconds, exclusive.
    fn end(&self) -> i64;
    /// Period in seconds of the query `id`, for `PERIOD(id)`; `None` falls back to
    /// [`EvalContext::period`].
    fn period_of(&self, id: &str) -> Option<i64> {
        let _ = id;
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn from_points_sorts_dedups_and_drops_non_finite() {
        let ts = TimeSeries::from_points(
            "a",
            vec![(120, 2.0), (60, 1.0), (120, 3.0), (180, f64::NAN)],
        );
        assert_eq!(ts.timestamps, vec![60, 120]);
        assert_eq!(ts.values, vec![1.0, 3.0]);
        assert_eq!(ts.value_at(120), Some(3.0));
        assert_eq!(ts.value_at(90), None);
        assert_eq!(ts.len(), 2);
    }

    #[test]
    fn normalized_keeps_valid_series() {
        let ts = TimeSeries::new("a", vec![1, 2], vec![1.0, 2.0]);
        assert_eq!(ts.clone().normalized(), ts);
        let bad = TimeSeries::new("a", vec![2, 1], vec![2.0, 1.0]).normalized();
        assert_eq!(bad.timestamps, vec![1, 2]);
        assert_eq!(bad.values, vec![1.0, 2.0]);
    }
}
