//! GetMetricData: MetricStat queries, metric math and SEARCH, with ScanBy,
//! labels and MaxDatapoints/NextToken pagination.

use super::common::{join, metric_key, statistic, unit};
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use mw_model::{MetricKey, Statistic, Unit};
use mw_query::{EvalContext, Expr, QueryError, SearchExpr, TimeSeries};
use mw_tsdb::query;
use mw_tsdb::MetricBackend;
use std::collections::{BTreeMap, HashMap, HashSet};

pub const MAX_QUERIES: usize = 500;
pub const DEFAULT_MAX_DATAPOINTS: i64 = 100_800;
/// Most series one SEARCH returns.
pub const MAX_SEARCH_SERIES: usize = 500;

pub(crate) enum Kind {
    Stat {
        key: MetricKey,
        period: i64,
        stat: Statistic,
        unit: Option<Unit>,
    },
    Expr(Expr),
}

pub(crate) struct Query {
    pub id: String,
    pub label: Option<String>,
    pub return_data: bool,
    pub period: Option<i64>,
    pub kind: Kind,
}

fn validation(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::Validation, msg)
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn parse_query(path: &str, q: &Input) -> Result<Query, ApiError> {
    let id = q.req_str("Id")?.to_string();
    if !valid_id(&id) {
        return Err(validation(format!(
            "The value {id} for parameter {path}.Id is invalid: it must start with a lowercase letter and contain only letters, digits and underscores."
        )));
    }
    let label = q.str("Label")?.map(str::to_string);
    let return_data = q.bool("ReturnData")?.unwrap_or(true);
    let period = q.i64("Period")?;
    if let Some(p) = period {
        query::validate_period(p)?;
    }
    let stat = q.structure("MetricStat")?;
    let expr = q.str("Expression")?;
    let kind = match (stat, expr) {
        (Some(ms), None) => {
            let metric = ms.structure("Metric")?.ok_or_else(|| {
                ApiError::missing(format!(
                    "The parameter {path}.MetricStat.Metric is required."
                ))
            })?;
            let key = metric_key(&metric)?;
            let period = ms.i64("Period")?.ok_or_else(|| {
                ApiError::missing(format!(
                    "The parameter {path}.MetricStat.Period is required."
                ))
            })?;
            query::validate_period(period)?;
            let stat_name = ms.req_str("Stat")?;
            let stat = statistic(stat_name, &join(ms.path(), "Stat"))?;
            Kind::Stat {
                key,
                period,
                stat,
                unit: unit(&ms, "Unit")?,
            }
        }
        (None, Some(e)) => {
            if e.is_empty() || e.len() > 2048 {
                return Err(validation(format!(
                    "The parameter {path}.Expression must be between 1 and 2048 characters long."
                )));
            }
            Kind::Expr(
                mw_query::parse_expression(e)
                    .map_err(|err| validation(format!("Error in expression {id}: {err}")))?,
            )
        }
        _ => {
            return Err(validation(format!(
            "The parameter {path} must contain either a MetricStat or an Expression, but not both."
        )))
        }
    };
    Ok(Query {
        id,
        label,
        return_data,
        period,
        kind,
    })
}

/// Builds one series of `stat` per period from the buckets of `ids`.
fn stat_series(
    store: &dyn MetricBackend,
    ids: &[u32],
    stat: &Statistic,
    period: i64,
    start: i64,
    end: i64,
    label: String,
) -> Result<TimeSeries, ApiError> {
    let now = mw_model::time::now_ms();
    let Some(plan) = query::plan(start, end, period, now).map_err(|e| validation(e.to_string()))?
    else {
        return Ok(TimeSeries::new(label, Vec::new(), Vec::new()));
    };
    let per = query::fetch(store, ids, &plan)?;
    Ok(TimeSeries::from_points(
        label,
        per.iter()
            .filter_map(|(ts, a)| a.statistic(stat).map(|v| (*ts, v))),
    ))
}

fn search_label(key: &MetricKey) -> String {
    let mut s = key.name.clone();
    for d in key.dimensions() {
        s.push(' ');
        s.push_str(&d.value);
    }
    s
}

struct Ctx<'a> {
    store: &'a dyn MetricBackend,
    results: &'a HashMap<String, Vec<TimeSeries>>,
    metric_ids: &'a [String],
    periods: &'a HashMap<String, i64>,
    period: i64,
    start_ms: i64,
    end_ms: i64,
}

impl EvalContext for Ctx<'_> {
    fn series(&self, id: &str) -> Option<Vec<TimeSeries>> {
        self.results.get(id).cloned()
    }
    fn metric_ids(&self) -> Vec<String> {
        self.metric_ids.to_vec()
    }
    fn search(
        &self,
        q: &SearchExpr,
        stat: &str,
        period: i64,
    ) -> Result<Vec<TimeSeries>, QueryError> {
        let st =
            Statistic::parse(stat).map_err(|e| QueryError::invalid(e.message().to_string()))?;
        query::validate_period(period).map_err(|e| QueryError::invalid(e.to_string()))?;
        let mut by_key: BTreeMap<MetricKey, Vec<u32>> = BTreeMap::new();
        for s in self.store.series() {
            if q.matches(&s.key) {
                by_key.entry(s.key.clone()).or_default().push(s.id);
            }
        }
        let mut out = Vec::new();
        for (key, ids) in by_key.into_iter().take(MAX_SEARCH_SERIES) {
            let ts = stat_series(
                self.store,
                &ids,
                &st,
                period,
                self.start_ms,
                self.end_ms,
                search_label(&key),
            )
            .map_err(|e| QueryError::invalid(e.message))?;
            out.push(ts);
        }
        Ok(out)
    }
    fn period(&self) -> i64 {
        self.period
    }
    fn start(&self) -> i64 {
        self.start_ms.div_euclid(1000)
    }
    fn end(&self) -> i64 {
        (self.end_ms + 999).div_euclid(1000)
    }
    fn period_of(&self, id: &str) -> Option<i64> {
        self.periods.get(id).copied()
    }
}

fn fingerprint(node: &Node) -> u64 {
    // FNV-1a over the debug form of the parts that define the result set.
    let text = format!(
        "{:?}{:?}{:?}{:?}",
        node.get("MetricDataQueries"),
        node.get("StartTime"),
        node.get("EndTime"),
        node.get("ScanBy")
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub fn run(store: &dyn MetricBackend, node: &Node) -> Result<Node, ApiError> {
    let input = Input::root(node);
    let items = input
        .list("MetricDataQueries")?
        .ok_or_else(|| ApiError::missing("The parameter MetricDataQueries is required."))?;
    if items.is_empty() || items.len() > MAX_QUERIES {
        return Err(validation(format!(
            "The collection MetricDataQueries must have between 1 and {MAX_QUERIES} members."
        )));
    }
    let start = input.req_time("StartTime")?;
    let end = input.req_time("EndTime")?;
    if start >= end {
        return Err(validation(
            "The parameter EndTime must be greater than StartTime.",
        ));
    }
    let ascending = match input.str("ScanBy")? {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "The value {other} for parameter ScanBy is invalid."
            )))
        }
    };
    let max_points = input
        .i64("MaxDatapoints")?
        .unwrap_or(DEFAULT_MAX_DATAPOINTS);
    if max_points <= 0 {
        return Err(ApiError::invalid(
            "The parameter MaxDatapoints must be greater than 0.",
        ));
    }
    let fp = fingerprint(node);
    let offset = match input.str("NextToken")? {
        None => 0usize,
        Some(tok) => parse_token(tok, fp)?,
    };

    let mut queries = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (path, n) in &items {
        let q = parse_query(path, &Input::element(n, path.clone())?)?;
        if !seen.insert(q.id.clone()) {
            return Err(validation(format!(
                "The Id {} is used more than once.",
                q.id
            )));
        }
        queries.push(q);
    }

    // Data beyond two hours from now cannot exist; bound the window that
    // FILL and friends materialise.
    let now = mw_model::time::now_ms();
    let eval_end = end.min(now + 3 * 3_600_000).max(start + 1000);

    let mut results: HashMap<String, Vec<TimeSeries>> = HashMap::new();
    let mut periods: HashMap<String, i64> = HashMap::new();
    let mut metric_ids = Vec::new();
    for q in &queries {
        if let Kind::Stat {
            key,
            period,
            stat,
            unit,
        } = &q.kind
        {
            let ids: Vec<u32> = store.find(key, *unit).iter().map(|s| s.id).collect();
            let ts = stat_series(store, &ids, stat, *period, start, end, key.name.clone())?;
            results.insert(q.id.clone(), vec![ts]);
            periods.insert(q.id.clone(), *period);
            metric_ids.push(q.id.clone());
        }
    }
    let default_period = queries
        .iter()
        .find_map(|q| match q.kind {
            Kind::Stat { period, .. } => Some(period),
            _ => None,
        })
        .unwrap_or(60);
    let by_id: HashMap<&str, &Query> = queries.iter().map(|q| (q.id.as_str(), q)).collect();
    let mut state: HashMap<String, u8> = HashMap::new(); // 1 = in progress, 2 = done
    for q in &queries {
        if matches!(q.kind, Kind::Expr(_)) {
            eval_expr(
                store,
                q,
                &by_id,
                &mut state,
                &mut results,
                &mut periods,
                &metric_ids,
                default_period,
                start,
                eval_end,
                0,
            )?;
        }
    }

    // Lay the returned series out in request order, then page through points.
    let mut out_series: Vec<(String, String, TimeSeries)> = Vec::new();
    for q in &queries {
        if !q.return_data {
            continue;
        }
        let series = results.remove(&q.id).unwrap_or_default();
        let many = series.len() > 1;
        for mut ts in series {
            let label = match (&q.label, many) {
                (Some(l), false) => l.clone(),
                (Some(l), true) => format!("{l} {}", ts.label),
                (None, _) if ts.label.is_empty() => q.id.clone(),
                (None, _) => ts.label.clone(),
            };
            if !ascending {
                ts.timestamps.reverse();
                ts.values.reverse();
            }
            out_series.push((q.id.clone(), label, ts));
        }
    }
    let total: usize = out_series.iter().map(|(_, _, t)| t.len()).sum();
    if offset > total {
        return Err(ApiError::new(
            Code::InvalidNextToken,
            "The NextToken is invalid.",
        ));
    }
    let page_end = offset.saturating_add(max_points as usize).min(total);
    let mut pos = 0usize;
    let mut results_out = Vec::with_capacity(out_series.len());
    for (id, label, ts) in out_series {
        let n = ts.len();
        let (a, b) = (
            offset.clamp(pos, pos + n) - pos,
            page_end.clamp(pos, pos + n) - pos,
        );
        let complete = pos + n <= page_end;
        results_out.push(
            Node::object()
                .with("Id", Node::str(id))
                .with("Label", Node::str(label))
                .with(
                    "Timestamps",
                    Node::List(
                        ts.timestamps[a..b]
                            .iter()
                            .map(|t| Node::Time(t * 1000))
                            .collect(),
                    ),
                )
                .with(
                    "Values",
                    Node::List(ts.values[a..b].iter().map(|v| Node::Float(*v)).collect()),
                )
                .with(
                    "StatusCode",
                    Node::str(if complete { "Complete" } else { "PartialData" }),
                ),
        );
        pos += n;
    }
    let mut out = Node::object()
        .with("MetricDataResults", Node::List(results_out))
        .with("Messages", Node::List(Vec::new()));
    if page_end < total {
        out = out.with("NextToken", Node::str(format!("{page_end:x}-{fp:016x}")));
    }
    Ok(out)
}

fn parse_token(tok: &str, fp: u64) -> Result<usize, ApiError> {
    let bad = || ApiError::new(Code::InvalidNextToken, "The NextToken is invalid.");
    let (off, f) = tok.split_once('-').ok_or_else(bad)?;
    let off = usize::from_str_radix(off, 16).map_err(|_| bad())?;
    let f = u64::from_str_radix(f, 16).map_err(|_| bad())?;
    if f != fp {
        return Err(bad());
    }
    Ok(off)
}

#[allow(clippy::too_many_arguments)]
fn eval_expr(
    store: &dyn MetricBackend,
    q: &Query,
    by_id: &HashMap<&str, &Query>,
    state: &mut HashMap<String, u8>,
    results: &mut HashMap<String, Vec<TimeSeries>>,
    periods: &mut HashMap<String, i64>,
    metric_ids: &[String],
    default_period: i64,
    start: i64,
    end: i64,
    depth: usize,
) -> Result<(), ApiError> {
    let Kind::Expr(expr) = &q.kind else {
        return Ok(());
    };
    match state.get(&q.id) {
        Some(2) => return Ok(()),
        Some(_) => {
            return Err(validation(format!(
                "The expression {} depends on itself (circular reference).",
                q.id
            )))
        }
        None => {}
    }
    if depth > MAX_QUERIES {
        return Err(validation("expressions are nested too deeply"));
    }
    state.insert(q.id.clone(), 1);
    for r in expr.references() {
        match by_id.get(r.as_str()) {
            Some(dep) => eval_expr(
                store,
                dep,
                by_id,
                state,
                results,
                periods,
                metric_ids,
                default_period,
                start,
                end,
                depth + 1,
            )?,
            None => {
                return Err(validation(format!(
                    "Error in expression {}: unknown metric or expression id {r}",
                    q.id
                )))
            }
        }
    }
    let period = q.period.unwrap_or_else(|| {
        expr.references()
            .iter()
            .filter_map(|r| periods.get(r).copied())
            .min()
            .unwrap_or(default_period)
    });
    let ctx = Ctx {
        store,
        results,
        metric_ids,
        periods,
        period,
        start_ms: start,
        end_ms: end,
    };
    let out = mw_query::evaluate(expr, &ctx)
        .map_err(|e| validation(format!("Error in expression {}: {e}", q.id)))?;
    results.insert(q.id.clone(), out);
    periods.insert(q.id.clone(), period);
    state.insert(q.id.clone(), 2);
    Ok(())
}
