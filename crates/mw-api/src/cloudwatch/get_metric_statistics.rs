//! GetMetricStatistics: basic and extended statistics of one metric per period.

use super::common::{metric_key, statistic, unit};
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::Api;
use mw_tsdb::query;

/// Most data points one call may return.
pub const MAX_DATAPOINTS: i64 = 1440;

pub fn run(api: &Api, node: &Node) -> Result<Node, ApiError> {
    let input = Input::root(node);
    let key = metric_key(&input)?;
    let start = input.req_time("StartTime")?;
    let end = input.req_time("EndTime")?;
    let period = input
        .i64("Period")?
        .ok_or_else(|| ApiError::missing("The parameter Period is required."))?;
    let unit = unit(&input, "Unit")?;
    let basic = input.str_list("Statistics")?.unwrap_or_default();
    let extended = input.str_list("ExtendedStatistics")?.unwrap_or_default();
    if basic.is_empty() && extended.is_empty() {
        return Err(ApiError::missing(
            "Must specify either Statistics or ExtendedStatistics.",
        ));
    }
    if basic.len() > 5 {
        return Err(ApiError::invalid(
            "The collection Statistics must not have a size greater than 5.",
        ));
    }
    if extended.len() > 10 {
        return Err(ApiError::invalid(
            "The collection ExtendedStatistics must not have a size greater than 10.",
        ));
    }
    let mut stats = Vec::new();
    for (i, s) in basic.iter().enumerate() {
        let st = statistic(s, &format!("Statistics.member.{}", i + 1))?;
        if !st.is_basic() {
            return Err(ApiError::invalid(format!(
                "The value {s} for parameter Statistics.member.{} is invalid.",
                i + 1
            )));
        }
        stats.push((*s, st));
    }
    let mut ext = Vec::new();
    for (i, s) in extended.iter().enumerate() {
        let st = statistic(s, &format!("ExtendedStatistics.member.{}", i + 1))?;
        if st.is_basic() {
            return Err(ApiError::invalid(format!(
                "The value {s} for parameter ExtendedStatistics.member.{} is invalid.",
                i + 1
            )));
        }
        ext.push((*s, st));
    }
    let now = mw_model::time::now_ms();
    let plan = query::plan(start, end, period, now)?;
    let mut datapoints = Vec::new();
    if let Some(plan) = plan {
        if plan.periods() > MAX_DATAPOINTS {
            return Err(ApiError::new(
                Code::InvalidParameterCombination,
                format!(
                    "You have requested up to {} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
                    plan.periods()
                ),
            ));
        }
        for series in api.store.find(&key, unit) {
            let per = query::fetch(api.store.as_ref(), &[series.id], &plan)?;
            for (ts, agg) in per {
                let mut dp = Node::object().with("Timestamp", Node::Time(ts * 1000));
                for (name, st) in &stats {
                    if let Some(v) = agg.statistic(st) {
                        dp = dp.with(name, Node::Float(v));
                    }
                }
                if !ext.is_empty() {
                    let entries: Vec<(String, Node)> = ext
                        .iter()
                        .filter_map(|(name, st)| {
                            agg.statistic(st)
                                .map(|v| (name.to_string(), Node::Float(v)))
                        })
                        .collect();
                    dp = dp.with("ExtendedStatistics", Node::Map(entries));
                }
                dp = dp.with("Unit", Node::str(series.unit.as_str()));
                datapoints.push(dp);
            }
        }
    }
    Ok(Node::object()
        .with("Label", Node::str(&key.name))
        .with("Datapoints", Node::List(datapoints)))
}
