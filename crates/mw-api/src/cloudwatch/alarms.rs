//! The alarm operations: PutMetricAlarm, PutCompositeAlarm, DescribeAlarms,
//! DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
//! SetAlarmState, EnableAlarmActions and DisableAlarmActions.
//!
//! This module reads the wire input into `mw_alarms` configurations and
//! writes [`AlarmView`]s back; the engine does the rest. A metric-math
//! alarm's `Metrics` are checked with GetMetricData's own query parser and
//! stored in a canonical JSON form (typed, whatever protocol they came in).

use super::common::{dimensions, dimensions_node, unit};
use super::get_metric_data::{parse_query, Kind};
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::Api;
use mw_alarms::config::{CompositeAlarmConfig, MathSpec, MetricAlarmConfig, MetricSpec};
use mw_alarms::engine::{
    AlarmKind, AlarmView, Engine, Filter, HistoryQuery, HistoryType, ViewBody,
};
use mw_alarms::StateValue;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Most alarm names per request.
const MAX_NAMES: usize = 100;
const DEFAULT_MAX_RECORDS: i64 = 50;
const MAX_HISTORY_RECORDS: i64 = 100;
const MAX_METRIC_QUERIES: usize = 20;
const MAX_TAGS: usize = 50;

fn engine(api: &Api) -> Result<&Engine, ApiError> {
    api.alarms
        .as_deref()
        .ok_or_else(|| ApiError::new(Code::Internal, "alarms are not enabled on this server"))
}

/// The alarm operations [`call`] answers.
pub const OPERATIONS: [&str; 9] = [
    "PutMetricAlarm",
    "PutCompositeAlarm",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAlarmHistory",
    "DeleteAlarms",
    "SetAlarmState",
    "EnableAlarmActions",
    "DisableAlarmActions",
];

pub fn is_alarm_op(op: &str) -> bool {
    OPERATIONS.contains(&op)
}

/// Runs alarm operation `op`; `None` when `op` is not an alarm operation.
pub fn call(api: &Api, op: &str, node: &Node) -> Option<Result<Option<Node>, ApiError>> {
    let now = mw_model::time::now_ms();
    let r = match op {
        "PutMetricAlarm" => put_metric_alarm(api, node, now).map(|()| None),
        "PutCompositeAlarm" => put_composite_alarm(api, node, now).map(|()| None),
        "DescribeAlarms" => describe_alarms(api, node).map(Some),
        "DescribeAlarmsForMetric" => describe_alarms_for_metric(api, node).map(Some),
        "DescribeAlarmHistory" => describe_alarm_history(api, node).map(Some),
        "DeleteAlarms" => delete_alarms(api, node, now).map(|()| None),
        "SetAlarmState" => set_alarm_state(api, node, now).map(|()| None),
        "EnableAlarmActions" => set_actions(api, node, true, now).map(|()| None),
        "DisableAlarmActions" => set_actions(api, node, false, now).map(|()| None),
        _ => return None,
    };
    Some(r)
}

fn strings(input: &Input, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(input
        .str_list(name)?
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect())
}

fn names(input: &Input, name: &str, required: bool) -> Result<Vec<String>, ApiError> {
    if required && !input.has(name) {
        return Err(ApiError::missing(format!(
            "The parameter {name} is required."
        )));
    }
    let list = strings(input, name)?;
    if list.len() > MAX_NAMES {
        return Err(ApiError::invalid(format!(
            "The collection {name} must not have a size greater than {MAX_NAMES}."
        )));
    }
    Ok(list)
}

fn tags(input: &Input) -> Result<Vec<(String, String)>, ApiError> {
    let Some(items) = input.list("Tags")? else {
        return Ok(Vec::new());
    };
    if items.len() > MAX_TAGS {
        return Err(ApiError::invalid(format!(
            "The collection Tags must not have a size greater than {MAX_TAGS}."
        )));
    }
    items
        .into_iter()
        .map(|(path, n)| {
            let t = Input::element(n, path)?;
            Ok((t.req_str("Key")?.to_owned(), t.req_str("Value")?.to_owned()))
        })
        .collect()
}

/// One `Metrics` entry in canonical form.
struct Canonical {
    value: Value,
    returns: bool,
    /// `(namespace, metric name, period)` of a `MetricStat`.
    stat: Option<(String, String, i64)>,
    /// The entry's own `Period`.
    period: Option<i64>,
}

/// The canonical form of one `Metrics` entry, and the `MetricStat`'s metric.
fn canonical_query(path: &str, q: &Input) -> Result<Canonical, ApiError> {
    let parsed = parse_query(path, q)?;
    let mut out = Map::new();
    out.insert("Id".into(), json!(parsed.id));
    let mut stat_of = None;
    match &parsed.kind {
        Kind::Stat {
            key,
            period,
            stat: _,
            unit: u,
        } => {
            let ms = q.structure("MetricStat")?.ok_or_else(|| {
                ApiError::missing(format!("The parameter {path}.MetricStat is required."))
            })?;
            let stat_name = ms.req_str("Stat")?;
            let dims: Vec<Value> = key
                .dimensions()
                .iter()
                .map(|d| json!({"Name": d.name, "Value": d.value}))
                .collect();
            let mut m = json!({
                "Metric": {"Namespace": key.namespace, "MetricName": key.name, "Dimensions": dims},
                "Period": period,
                "Stat": stat_name,
            });
            if let Some(u) = u {
                m["Unit"] = json!(u.as_str());
            }
            out.insert("MetricStat".into(), m);
            stat_of = Some((key.namespace.clone(), key.name.clone(), *period));
        }
        Kind::Expr(_) => {
            out.insert("Expression".into(), json!(q.req_str("Expression")?));
        }
    }
    if let Some(l) = &parsed.label {
        out.insert("Label".into(), json!(l));
    }
    out.insert("ReturnData".into(), json!(parsed.return_data));
    if let Some(p) = parsed.period {
        out.insert("Period".into(), json!(p));
    }
    if let Some(a) = q.str("AccountId")? {
        out.insert("AccountId".into(), json!(a));
    }
    Ok(Canonical {
        value: Value::Object(out),
        returns: parsed.return_data,
        stat: stat_of,
        period: parsed.period,
    })
}

fn math_spec(items: Vec<(String, &Node)>) -> Result<MathSpec, ApiError> {
    if items.is_empty() || items.len() > MAX_METRIC_QUERIES {
        return Err(ApiError::invalid(format!(
            "The collection Metrics must have between 1 and {MAX_METRIC_QUERIES} members."
        )));
    }
    let mut queries = Vec::with_capacity(items.len());
    let mut ids = HashSet::new();
    let mut inputs: Vec<(String, String)> = Vec::new();
    let mut stat_periods = Vec::new();
    let mut returned: Vec<(Option<i64>, Option<i64>)> = Vec::new();
    let (mut n_stat, mut n_expr) = (0, 0);
    for (path, n) in &items {
        let q = Input::element(n, path.clone())?;
        let Canonical {
            value,
            returns,
            stat,
            period,
        } = canonical_query(path, &q)?;
        if let Some(id) = value.get("Id").and_then(Value::as_str) {
            if !ids.insert(id.to_owned()) {
                return Err(ApiError::new(
                    Code::Validation,
                    format!("The Id {id} is used more than once in Metrics."),
                ));
            }
        }
        match &stat {
            Some((ns, name, p)) => {
                n_stat += 1;
                stat_periods.push(*p);
                if !inputs.contains(&(ns.clone(), name.clone())) {
                    inputs.push((ns.clone(), name.clone()));
                }
                if returns {
                    returned.push((Some(*p), period));
                }
            }
            None => {
                n_expr += 1;
                if returns {
                    returned.push((None, period));
                }
            }
        }
        queries.push(value);
    }
    if n_stat > 10 || n_expr > 10 {
        return Err(ApiError::invalid(
            "Metrics may hold at most 10 entries with MetricStat and at most 10 with Expression.",
        ));
    }
    let [(stat_period, period)] = returned.as_slice() else {
        return Err(ApiError::invalid(format!(
            "Exactly one element of the Metrics list must have ReturnData set to true; {} do.",
            returned.len()
        )));
    };
    let period = stat_period
        .or(*period)
        .or_else(|| stat_periods.iter().copied().min())
        .unwrap_or(60);
    Ok(MathSpec {
        queries: Value::Array(queries).to_string(),
        period,
        inputs,
    })
}

fn put_metric_alarm(api: &Api, node: &Node, now: i64) -> Result<(), ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let name = input.req_str("AlarmName")?.to_owned();
    for unsupported in [
        "ThresholdMetricId",
        "EvaluationCriteria",
        "EvaluationInterval",
    ] {
        if input.has(unsupported) {
            return Err(ApiError::invalid(format!(
                "The parameter {unsupported} is not supported by this server (anomaly detection and PromQL alarms)."
            )));
        }
    }
    let metrics = match input.list("Metrics")? {
        Some(items) if !items.is_empty() => {
            if let Some(f) = [
                "MetricName",
                "Namespace",
                "Dimensions",
                "Period",
                "Unit",
                "Statistic",
                "ExtendedStatistic",
            ]
            .into_iter()
            .find(|f| input.has(f))
            {
                return Err(ApiError::new(
                    Code::InvalidParameterCombination,
                    format!("The parameter {f} must not be given together with Metrics."),
                ));
            }
            Some(math_spec(items)?)
        }
        _ => None,
    };
    let metric =
        if metrics.is_none() {
            let namespace = input.str("Namespace")?;
            let metric_name = input.str("MetricName")?;
            match (namespace, metric_name) {
                (Some(ns), Some(m)) => {
                    let dims = dimensions(&input, "Dimensions")?;
                    Some(MetricSpec {
                        namespace: ns.to_owned(),
                        name: m.to_owned(),
                        dimensions: dims.into_iter().map(|d| (d.name, d.value)).collect(),
                    })
                }
                (None, _) => {
                    return Err(ApiError::missing(
                        "The parameter Namespace is required (or Metrics for a metric math alarm).",
                    ))
                }
                (_, None) => return Err(ApiError::missing(
                    "The parameter MetricName is required (or Metrics for a metric math alarm).",
                )),
            }
        } else {
            None
        };
    let evaluation_periods = input
        .i64("EvaluationPeriods")?
        .ok_or_else(|| ApiError::missing("The parameter EvaluationPeriods is required."))?;
    let threshold = input
        .f64("Threshold")?
        .ok_or_else(|| ApiError::missing("The parameter Threshold is required."))?;
    let comparison_operator = input
        .str("ComparisonOperator")?
        .ok_or_else(|| ApiError::missing("The parameter ComparisonOperator is required."))?
        .to_owned();
    let cfg = MetricAlarmConfig {
        name,
        description: input.str("AlarmDescription")?.map(str::to_owned),
        actions_enabled: input.bool("ActionsEnabled")?.unwrap_or(true),
        ok_actions: strings(&input, "OKActions")?,
        alarm_actions: strings(&input, "AlarmActions")?,
        insufficient_data_actions: strings(&input, "InsufficientDataActions")?,
        metric,
        statistic: input.str("Statistic")?.map(str::to_owned),
        extended_statistic: input.str("ExtendedStatistic")?.map(str::to_owned),
        period: input.i64("Period")?,
        unit: unit(&input, "Unit")?.map(|u| u.as_str().to_owned()),
        evaluation_periods,
        datapoints_to_alarm: input.i64("DatapointsToAlarm")?,
        threshold,
        comparison_operator,
        treat_missing_data: input.str("TreatMissingData")?.map(str::to_owned),
        evaluate_low_sample_count_percentile: input
            .str("EvaluateLowSampleCountPercentile")?
            .map(str::to_owned),
        metrics,
        tags: tags(&input)?,
    };
    Ok(engine.put_metric_alarm(cfg, now)?)
}

fn put_composite_alarm(api: &Api, node: &Node, now: i64) -> Result<(), ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let cfg = CompositeAlarmConfig {
        name: input.req_str("AlarmName")?.to_owned(),
        description: input.str("AlarmDescription")?.map(str::to_owned),
        actions_enabled: input.bool("ActionsEnabled")?.unwrap_or(true),
        ok_actions: strings(&input, "OKActions")?,
        alarm_actions: strings(&input, "AlarmActions")?,
        insufficient_data_actions: strings(&input, "InsufficientDataActions")?,
        rule: input.req_str("AlarmRule")?.to_owned(),
        actions_suppressor: input.str("ActionsSuppressor")?.map(str::to_owned),
        actions_suppressor_wait_period: input.i64("ActionsSuppressorWaitPeriod")?,
        actions_suppressor_extension_period: input.i64("ActionsSuppressorExtensionPeriod")?,
        tags: tags(&input)?,
    };
    if cfg.actions_suppressor.is_some() {
        return Err(ApiError::invalid(
            "The parameter ActionsSuppressor is not supported by this server.",
        ));
    }
    Ok(engine.put_composite_alarm(cfg, now)?)
}

fn string_list(items: &[String]) -> Node {
    Node::List(items.iter().map(Node::str).collect())
}

/// Converts stored canonical JSON back to a node.
pub(crate) fn json_node(v: &Value) -> Node {
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Node::str(s),
        Value::Array(items) => Node::List(items.iter().map(json_node).collect()),
        Value::Object(m) => {
            Node::Struct(m.iter().map(|(k, v)| (k.clone(), json_node(v))).collect())
        }
    }
}

fn state_nodes(mut n: Node, v: &AlarmView) -> Node {
    n = n
        .with("StateValue", Node::str(v.state.value.as_str()))
        .with("StateReason", Node::str(&v.state.reason));
    if let Some(d) = &v.state.reason_data {
        n = n.with("StateReasonData", Node::str(d));
    }
    n.with("StateUpdatedTimestamp", Node::Time(v.state.updated_ms))
        .with(
            "StateTransitionedTimestamp",
            Node::Time(v.state.transitioned_ms),
        )
}

fn metric_alarm_node(v: &AlarmView, c: &MetricAlarmConfig) -> Node {
    let mut n = Node::object()
        .with("AlarmName", Node::str(&v.name))
        .with("AlarmArn", Node::str(&v.arn));
    if let Some(d) = &c.description {
        n = n.with("AlarmDescription", Node::str(d));
    }
    n = n
        .with(
            "AlarmConfigurationUpdatedTimestamp",
            Node::Time(v.config_updated_ms),
        )
        .with("ActionsEnabled", Node::Bool(c.actions_enabled))
        .with("OKActions", string_list(&c.ok_actions))
        .with("AlarmActions", string_list(&c.alarm_actions))
        .with(
            "InsufficientDataActions",
            string_list(&c.insufficient_data_actions),
        );
    n = state_nodes(n, v);
    if let Some(m) = &c.metric {
        let dims: Vec<mw_model::Dimension> = m
            .dimensions
            .iter()
            .map(|(name, value)| mw_model::Dimension {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        n = n
            .with("MetricName", Node::str(&m.name))
            .with("Namespace", Node::str(&m.namespace));
        if let Some(s) = &c.statistic {
            n = n.with("Statistic", Node::str(s));
        }
        if let Some(s) = &c.extended_statistic {
            n = n.with("ExtendedStatistic", Node::str(s));
        }
        n = n.with("Dimensions", dimensions_node(&dims));
        if let Some(p) = c.period {
            n = n.with("Period", Node::Int(p));
        }
        if let Some(u) = &c.unit {
            n = n.with("Unit", Node::str(u));
        }
    }
    n = n.with("EvaluationPeriods", Node::Int(c.evaluation_periods));
    if let Some(m) = c.datapoints_to_alarm {
        n = n.with("DatapointsToAlarm", Node::Int(m));
    }
    n = n
        .with("Threshold", Node::Float(c.threshold))
        .with("ComparisonOperator", Node::str(&c.comparison_operator))
        .with(
            "TreatMissingData",
            Node::str(c.treat_missing_data.as_deref().unwrap_or("missing")),
        );
    if let Some(e) = &c.evaluate_low_sample_count_percentile {
        n = n.with("EvaluateLowSampleCountPercentile", Node::str(e));
    }
    let metrics = c
        .metrics
        .as_ref()
        .and_then(|m| serde_json::from_str::<Value>(&m.queries).ok())
        .map_or(Node::List(Vec::new()), |v| json_node(&v));
    n = n.with("Metrics", metrics);
    if v.evaluation_error.is_some() {
        n = n.with("EvaluationState", Node::str("EVALUATION_ERROR"));
    }
    n
}

fn composite_alarm_node(v: &AlarmView, c: &CompositeAlarmConfig) -> Node {
    let mut n = Node::object()
        .with("ActionsEnabled", Node::Bool(c.actions_enabled))
        .with("AlarmActions", string_list(&c.alarm_actions))
        .with("AlarmArn", Node::str(&v.arn))
        .with(
            "AlarmConfigurationUpdatedTimestamp",
            Node::Time(v.config_updated_ms),
        );
    if let Some(d) = &c.description {
        n = n.with("AlarmDescription", Node::str(d));
    }
    n = n
        .with("AlarmName", Node::str(&v.name))
        .with("AlarmRule", Node::str(&c.rule))
        .with(
            "InsufficientDataActions",
            string_list(&c.insufficient_data_actions),
        )
        .with("OKActions", string_list(&c.ok_actions));
    state_nodes(n, v)
}

fn token(name: &str) -> String {
    hex::encode(name)
}

fn parse_token(t: &str) -> Result<String, ApiError> {
    hex::decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::new(Code::InvalidNextToken, "The NextToken is invalid."))
}

fn max_records(input: &Input, default: i64) -> Result<usize, ApiError> {
    let m = input.i64("MaxRecords")?.unwrap_or(default);
    if !(1..=100).contains(&m) {
        return Err(ApiError::invalid(format!(
            "The value {m} for parameter MaxRecords is invalid: it must be between 1 and 100."
        )));
    }
    Ok(usize::try_from(m).unwrap_or(1))
}

fn kinds(input: &Input) -> Result<(Vec<AlarmKind>, bool), ApiError> {
    let mut out = Vec::new();
    let mut logs = false;
    for t in input.str_list("AlarmTypes")?.unwrap_or_default() {
        match AlarmKind::parse(t) {
            Some(k) => out.push(k),
            None if t == "LogAlarm" => logs = true,
            None => {
                return Err(ApiError::invalid(format!(
                    "The value {t} for parameter AlarmTypes is invalid: expected MetricAlarm, CompositeAlarm or LogAlarm."
                )))
            }
        }
    }
    if out.is_empty() && logs {
        // Only log alarms asked for: none exist here.
        return Ok((Vec::new(), true));
    }
    Ok((out, false))
}

fn state_filter(input: &Input) -> Result<Option<StateValue>, ApiError> {
    input
        .str("StateValue")?
        .map(|s| {
            StateValue::parse(s).map_err(|_| {
                ApiError::invalid(format!(
                    "The value {s} for parameter StateValue is invalid."
                ))
            })
        })
        .transpose()
}

fn describe_alarms(api: &Api, node: &Node) -> Result<Node, ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let names = names(&input, "AlarmNames", false)?;
    let prefix = input.str("AlarmNamePrefix")?.map(str::to_owned);
    let children_of = input.str("ChildrenOfAlarmName")?.map(str::to_owned);
    let parents_of = input.str("ParentsOfAlarmName")?.map(str::to_owned);
    let (kinds, only_logs) = kinds(&input)?;
    let state = state_filter(&input)?;
    let action_prefix = input.str("ActionPrefix")?.map(str::to_owned);
    let limit = max_records(&input, DEFAULT_MAX_RECORDS)?;
    let after = input.str("NextToken")?.map(parse_token).transpose()?;
    if !names.is_empty() && prefix.is_some() {
        return Err(ApiError::new(
            Code::InvalidParameterCombination,
            "AlarmNames and AlarmNamePrefix cannot be given together.",
        ));
    }
    let relation = children_of.is_some() || parents_of.is_some();
    if relation
        && (!names.is_empty()
            || prefix.is_some()
            || state.is_some()
            || action_prefix.is_some()
            || (children_of.is_some() && parents_of.is_some()))
    {
        return Err(ApiError::new(
            Code::InvalidParameterCombination,
            "ChildrenOfAlarmName and ParentsOfAlarmName cannot be combined with each other or with any filter other than AlarmTypes, MaxRecords and NextToken.",
        ));
    }
    let views = if only_logs {
        Vec::new()
    } else {
        engine.describe(&Filter {
            names,
            prefix,
            kinds: if relation {
                vec![AlarmKind::Metric, AlarmKind::Composite]
            } else {
                kinds
            },
            state,
            action_prefix,
            children_of: children_of.clone(),
            parents_of: parents_of.clone(),
        })
    };
    let mut metric = Vec::new();
    let mut composite = Vec::new();
    let mut last = None;
    let mut more = false;
    for v in views
        .iter()
        .filter(|v| after.as_ref().is_none_or(|a| v.name.as_str() > a.as_str()))
    {
        if metric.len() + composite.len() == limit {
            more = true;
            break;
        }
        let n = if children_of.is_some() {
            state_nodes(
                Node::object()
                    .with("AlarmName", Node::str(&v.name))
                    .with("AlarmArn", Node::str(&v.arn)),
                v,
            )
        } else if parents_of.is_some() {
            Node::object()
                .with("AlarmName", Node::str(&v.name))
                .with("AlarmArn", Node::str(&v.arn))
        } else {
            match &v.body {
                ViewBody::Metric(c) => metric_alarm_node(v, c),
                ViewBody::Composite(c) => composite_alarm_node(v, c),
            }
        };
        match v.kind() {
            AlarmKind::Metric => metric.push(n),
            AlarmKind::Composite => composite.push(n),
        }
        last = Some(v.name.as_str());
    }
    let mut out = Node::object()
        .with("MetricAlarms", Node::List(metric))
        .with("CompositeAlarms", Node::List(composite))
        .with("LogAlarms", Node::List(Vec::new()));
    if let (true, Some(l)) = (more, last) {
        out = out.with("NextToken", Node::str(token(l)));
    }
    Ok(out)
}

fn describe_alarms_for_metric(api: &Api, node: &Node) -> Result<Node, ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let namespace = input.req_str("Namespace")?;
    let metric_name = input.req_str("MetricName")?;
    let statistic = input.str("Statistic")?;
    let extended = input.str("ExtendedStatistic")?;
    let period = input.i64("Period")?;
    let unit = unit(&input, "Unit")?.map(|u| u.as_str().to_owned());
    let dims = if input.has("Dimensions") {
        let mut d: Vec<(String, String)> = dimensions(&input, "Dimensions")?
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect();
        d.sort();
        Some(d)
    } else {
        None
    };
    let views = engine.describe(&Filter::default());
    let alarms = views
        .iter()
        .filter_map(|v| match &v.body {
            ViewBody::Metric(c) => Some((v, c)),
            ViewBody::Composite(_) => None,
        })
        .filter(|(_, c)| {
            let Some(m) = &c.metric else {
                return false;
            };
            let mut their = m.dimensions.clone();
            their.sort();
            m.namespace == namespace
                && m.name == metric_name
                && statistic.is_none_or(|s| c.statistic.as_deref() == Some(s))
                && extended.is_none_or(|s| c.extended_statistic.as_deref() == Some(s))
                && period.is_none_or(|p| c.period == Some(p))
                && unit.as_ref().is_none_or(|u| c.unit.as_ref() == Some(u))
                && dims.as_ref().is_none_or(|d| *d == their)
        })
        .map(|(v, c)| metric_alarm_node(v, c))
        .collect();
    Ok(Node::object().with("MetricAlarms", Node::List(alarms)))
}

fn describe_alarm_history(api: &Api, node: &Node) -> Result<Node, ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let item_type = input
        .str("HistoryItemType")?
        .map(|t| {
            HistoryType::parse(t).ok_or_else(|| {
                ApiError::invalid(format!(
                    "The value {t} for parameter HistoryItemType is invalid."
                ))
            })
        })
        .transpose()?;
    let ascending = match input.str("ScanBy")? {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "The value {other} for parameter ScanBy is invalid."
            )))
        }
    };
    let (mut kinds, only_logs) = kinds(&input)?;
    if kinds.is_empty() {
        kinds = vec![AlarmKind::Metric];
    }
    let limit = max_records(&input, MAX_HISTORY_RECORDS)?;
    let after = match input.str("NextToken")? {
        None => None,
        Some(t) => Some(
            i64::from_str_radix(t, 16)
                .map_err(|_| ApiError::new(Code::InvalidNextToken, "The NextToken is invalid."))?,
        ),
    };
    let start = input.time("StartDate")?;
    let end = input.time("EndDate")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(ApiError::invalid(
                "The parameter StartDate must not be after EndDate.",
            ));
        }
    }
    let mut items = if only_logs {
        Vec::new()
    } else {
        engine.history(&HistoryQuery {
            alarm_name: input.str("AlarmName")?.map(str::to_owned),
            kinds,
            item_type,
            start_ms: start,
            end_ms: end,
            ascending,
            after_id: after,
            limit: limit + 1,
        })?
    };
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(|h| h.id)
    } else {
        None
    };
    let out_items = items
        .iter()
        .map(|h| {
            Node::object()
                .with("AlarmName", Node::str(&h.alarm_name))
                .with("AlarmType", Node::str(h.kind.as_str()))
                .with("Timestamp", Node::Time(h.timestamp_ms))
                .with("HistoryItemType", Node::str(h.item_type.as_str()))
                .with("HistorySummary", Node::str(&h.summary))
                .with("HistoryData", Node::str(&h.data))
        })
        .collect();
    let mut out = Node::object().with("AlarmHistoryItems", Node::List(out_items));
    if let Some(id) = next {
        out = out.with("NextToken", Node::str(format!("{id:x}")));
    }
    Ok(out)
}

fn delete_alarms(api: &Api, node: &Node, now: i64) -> Result<(), ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let names = names(&input, "AlarmNames", true)?;
    Ok(engine.delete_alarms(&names, now)?)
}

fn set_alarm_state(api: &Api, node: &Node, now: i64) -> Result<(), ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let name = input.req_str("AlarmName")?;
    let value = input.req_str("StateValue")?;
    let reason = input.req_str("StateReason")?;
    let data = input.str("StateReasonData")?;
    Ok(engine.set_alarm_state(name, value, reason, data, now)?)
}

fn set_actions(api: &Api, node: &Node, enabled: bool, now: i64) -> Result<(), ApiError> {
    let engine = engine(api)?;
    let input = Input::root(node);
    let names = names(&input, "AlarmNames", true)?;
    Ok(engine.set_actions_enabled(&names, enabled, now)?)
}
