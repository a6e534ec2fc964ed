//! Input pieces shared by the operations: metric identity, dimensions, statistics.

use crate::error::ApiError;
use crate::node::{Input, Node};
use mw_model::{Dimension, MetricKey, Statistic, Unit};

/// Reads a `Dimensions` list of `{Name, Value}`.
pub fn dimensions(input: &Input, name: &str) -> Result<Vec<Dimension>, ApiError> {
    let Some(items) = input.list(name)? else {
        return Ok(Vec::new());
    };
    if items.len() > mw_model::MAX_DIMENSIONS {
        return Err(ApiError::invalid(format!(
            "The collection {} must not have a size greater than {}.",
            join(input.path(), name),
            mw_model::MAX_DIMENSIONS
        )));
    }
    let mut dims = Vec::with_capacity(items.len());
    for (path, node) in items {
        let d = Input::element(node, path)?;
        dims.push(Dimension {
            name: d.req_str("Name")?.to_string(),
            value: d.req_str("Value")?.to_string(),
        });
    }
    Ok(dims)
}

pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Reads `{Namespace, MetricName, Dimensions}` from `input`.
pub fn metric_key(input: &Input) -> Result<MetricKey, ApiError> {
    let ns = input.req_str("Namespace")?;
    let name = input.req_str("MetricName")?;
    let dims = dimensions(input, "Dimensions")?;
    // Reading is allowed in any namespace, AWS/ included.
    if ns.starts_with("AWS/") {
        return Ok(MetricKey::from_parts(
            ns.to_string(),
            name.to_string(),
            dims,
        ));
    }
    Ok(MetricKey::new(ns, name, dims, input.path())?)
}

pub fn unit(input: &Input, name: &str) -> Result<Option<Unit>, ApiError> {
    match input.str(name)? {
        None => Ok(None),
        Some(s) => Ok(Some(Unit::parse(s, &join(input.path(), name))?)),
    }
}

pub fn statistic(s: &str, field: &str) -> Result<Statistic, ApiError> {
    Statistic::parse(s)
        .map_err(|_| ApiError::invalid(format!("The value {s} for parameter {field} is invalid.")))
}

/// `{Name, Value}` list output.
pub fn dimensions_node(dims: &[Dimension]) -> Node {
    Node::List(
        dims.iter()
            .map(|d| {
                Node::object()
                    .with("Name", Node::str(&d.name))
                    .with("Value", Node::str(&d.value))
            })
            .collect(),
    )
}
