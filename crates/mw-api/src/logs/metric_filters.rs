//! PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter, TestMetricFilter.

use super::{fingerprint, invalid, offset_token, parse_offset_token};
use crate::error::ApiError;
use crate::node::{Input, Node};
use crate::Api;
use mw_logstore::{MetricFilter, Transformation};
use mw_model::Unit;

fn check_metric_part(value: &str, field: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 255 || value.contains([':', '*', '$']) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*$]* and have length 1-255"
        )));
    }
    Ok(())
}

/// A metric value or dimension selector: a number, `$.json.path` or `$field`.
fn check_selector(value: &str, field: &str, allow_number: bool) -> Result<(), ApiError> {
    let ok = (allow_number && value.trim().parse::<f64>().is_ok_and(f64::is_finite))
        || (value.starts_with('$')
            && value.len() > 1
            && value.len() <= 100
            && !value.contains(char::is_whitespace));
    if !ok {
        return Err(invalid(format!(
            "Invalid {field} '{value}': use a number, a JSON selector such as $.latency, or a field name such as $bytes"
        )));
    }
    Ok(())
}

pub fn put_metric_filter(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    let name = input.req_str("filterName")?;
    if name.is_empty() || name.len() > 512 || name.contains([':', '*']) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'filterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* and have length 1-512"
        )));
    }
    let pattern = input.str("filterPattern")?.unwrap_or("");
    if pattern.chars().count() > 1024 {
        return Err(invalid("filterPattern must be at most 1024 characters."));
    }
    let list = input
        .list("metricTransformations")?
        .ok_or_else(|| invalid("The parameter metricTransformations is required."))?;
    if list.len() != 1 {
        return Err(invalid(
            "1 validation error detected: Value at 'metricTransformations' failed to satisfy constraint: Member must have length equal to 1",
        ));
    }
    let (path, node) = &list[0];
    let t = Input::element(node, path.clone())?;
    let metric_name = t.req_str("metricName")?;
    let namespace = t.req_str("metricNamespace")?;
    check_metric_part(metric_name, "metricName")?;
    check_metric_part(namespace, "metricNamespace")?;
    mw_model::validate_namespace(namespace).map_err(|e| invalid(e.message()))?;
    let value = t.req_str("metricValue")?;
    check_selector(value, "metricValue", true)?;
    let default_value = t.f64("defaultValue")?;
    if default_value.is_some_and(|v| !v.is_finite()) {
        return Err(invalid("defaultValue must be a finite number"));
    }
    let mut dimensions = Vec::new();
    if let Some(dims) = t.structure("dimensions")? {
        if let Node::Struct(m) | Node::Map(m) = dims.node() {
            for (k, v) in m {
                let Node::Str(sel) = v else {
                    return Err(invalid(format!("dimension {k} must be a string selector")));
                };
                check_selector(sel, "dimension value", false)?;
                dimensions.push((k.clone(), sel.clone()));
            }
        }
    }
    if dimensions.len() > 3 {
        return Err(invalid(
            "A metric transformation can have at most 3 dimensions.",
        ));
    }
    if !dimensions.is_empty() && default_value.is_some() {
        return Err(invalid("defaultValue cannot be combined with dimensions."));
    }
    let unit = match t.str("unit")? {
        None => Unit::None,
        Some(u) => Unit::parse(u, "unit").map_err(|e| invalid(e.message()))?,
    };
    api.logs.put_metric_filter(MetricFilter {
        group: group.to_string(),
        name: name.to_string(),
        pattern: pattern.to_string(),
        transformation: Transformation {
            metric_name: metric_name.to_string(),
            namespace: namespace.to_string(),
            value: value.to_string(),
            default_value,
            dimensions,
            unit,
        },
        created: mw_model::time::now_ms(),
    })?;
    Ok(Node::object())
}

pub fn describe_metric_filters(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.str("logGroupName")?;
    let prefix = input.str("filterNamePrefix")?;
    if prefix.is_some() && group.is_none() {
        return Err(invalid("filterNamePrefix requires logGroupName."));
    }
    let metric = input.str("metricName")?;
    let namespace = input.str("metricNamespace")?;
    if metric.is_some() != namespace.is_some() {
        return Err(invalid(
            "metricName and metricNamespace must be given together.",
        ));
    }
    let max = super::limit(input, 50, 50)?;
    let fp = fingerprint(&[
        group.unwrap_or(""),
        prefix.unwrap_or(""),
        metric.unwrap_or(""),
        namespace.unwrap_or(""),
    ]);
    let offset = match input.str("nextToken")? {
        Some(t) => parse_offset_token(t, fp)?,
        None => 0,
    };
    let filters: Vec<MetricFilter> = api
        .logs
        .metric_filters(group)?
        .into_iter()
        .filter(|f| prefix.is_none_or(|p| f.name.starts_with(p)))
        .filter(|f| {
            metric.is_none_or(|m| f.transformation.metric_name == m)
                && namespace.is_none_or(|n| f.transformation.namespace == n)
        })
        .collect();
    let page = filters
        .iter()
        .skip(offset)
        .take(max)
        .map(|f| {
            let t = &f.transformation;
            let mut tn = Node::object()
                .with("metricName", Node::str(&t.metric_name))
                .with("metricNamespace", Node::str(&t.namespace))
                .with("metricValue", Node::str(&t.value));
            if let Some(d) = t.default_value {
                tn = tn.with("defaultValue", Node::Float(d));
            }
            if !t.dimensions.is_empty() {
                tn = tn.with(
                    "dimensions",
                    Node::Map(
                        t.dimensions
                            .iter()
                            .map(|(k, v)| (k.clone(), Node::str(v)))
                            .collect(),
                    ),
                );
            }
            tn = tn.with("unit", Node::str(t.unit.as_str()));
            Node::object()
                .with("filterName", Node::str(&f.name))
                .with("filterPattern", Node::str(&f.pattern))
                .with("metricTransformations", Node::List(vec![tn]))
                .with("creationTime", Node::Int(f.created))
                .with("logGroupName", Node::str(&f.group))
                .with("applyOnTransformedLogs", Node::Bool(false))
        })
        .collect();
    let mut out = Node::object().with("metricFilters", Node::List(page));
    if offset + max < filters.len() {
        out = out.with("nextToken", Node::str(offset_token(offset + max, fp)));
    }
    Ok(out)
}

pub fn delete_metric_filter(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    let name = input.req_str("filterName")?;
    api.logs.delete_metric_filter(group, name)?;
    Ok(Node::object())
}

pub fn test_metric_filter(_api: &Api, input: &Input) -> Result<Node, ApiError> {
    let pattern_text = input.str("filterPattern")?.unwrap_or("");
    let pattern = mw_filterpattern::FilterPattern::parse(pattern_text)
        .map_err(|e| invalid(format!("Invalid filter pattern: {e}")))?;
    let messages = input
        .str_list("logEventMessages")?
        .ok_or_else(|| invalid("The parameter logEventMessages is required."))?;
    if messages.is_empty() || messages.len() > 50 {
        return Err(invalid(
            "logEventMessages must have between 1 and 50 members.",
        ));
    }
    let matches = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let x = pattern.extract(m)?;
            let values = x
                .delimited_values()
                .map(|(k, v)| (k, Node::str(v)))
                .collect::<Vec<_>>();
            Some(
                Node::object()
                    .with("eventNumber", Node::Int(i as i64 + 1))
                    .with("eventMessage", Node::str(*m))
                    .with("extractedValues", Node::Map(values)),
            )
        })
        .collect();
    Ok(Node::object().with("matches", Node::List(matches)))
}
