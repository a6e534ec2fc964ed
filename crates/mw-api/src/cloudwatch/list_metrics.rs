//! ListMetrics: the catalog, filtered, 500 metrics a page.

use super::common::dimensions_node;
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::Api;
use mw_model::MetricKey;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

pub const PAGE: usize = 500;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;
const THREE_HOURS_MS: i64 = 3 * 3_600_000;

/// A page token: the last key of the previous page, hex-encoded.
fn token(key: &MetricKey) -> String {
    let mut s = format!("{}\u{0}{}", key.namespace, key.name);
    for d in key.dimensions() {
        s.push('\u{0}');
        s.push_str(&d.name);
        s.push('\u{0}');
        s.push_str(&d.value);
    }
    hex::encode(s)
}

fn parse_token(t: &str) -> Option<MetricKey> {
    let s = String::from_utf8(hex::decode(t).ok()?).ok()?;
    let mut parts = s.split('\u{0}');
    let ns = parts.next()?.to_string();
    let name = parts.next()?.to_string();
    let rest: Vec<&str> = parts.collect();
    if !rest.len().is_multiple_of(2) {
        return None;
    }
    let dims = rest
        .chunks(2)
        .map(|c| mw_model::Dimension {
            name: c[0].to_string(),
            value: c[1].to_string(),
        })
        .collect();
    Some(MetricKey::from_parts(ns, name, dims))
}

pub fn run(api: &Api, node: &Node) -> Result<Node, ApiError> {
    let input = Input::root(node);
    let namespace = input.str("Namespace")?;
    let name = input.str("MetricName")?;
    let mut filters: Vec<(String, Option<String>)> = Vec::new();
    if let Some(items) = input.list("Dimensions")? {
        if items.len() > 10 {
            return Err(ApiError::invalid(
                "The collection Dimensions must not have a size greater than 10.",
            ));
        }
        for (path, n) in items {
            let f = Input::element(n, path)?;
            filters.push((
                f.req_str("Name")?.to_string(),
                f.str("Value")?.map(str::to_string),
            ));
        }
    }
    let recent = match input.str("RecentlyActive")? {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "The value {other} for parameter RecentlyActive is invalid."
            )))
        }
    };
    let after = match input.str("NextToken")? {
        None => None,
        Some(t) => Some(parse_token(t).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameterValue,
                "Request parameter NextToken is invalid",
            )
        })?),
    };
    let now = mw_model::time::now_ms();
    let mut keys: BTreeSet<MetricKey> = BTreeSet::new();
    for s in api.store.series() {
        let k = &s.key;
        if namespace.is_some_and(|n| n != k.namespace) || name.is_some_and(|n| n != k.name) {
            continue;
        }
        let dims_ok = filters
            .iter()
            .all(|(fname, fval)| match k.dimension(fname) {
                None => false,
                Some(v) => fval.as_deref().is_none_or(|fv| fv == v),
            });
        if !dims_ok {
            continue;
        }
        let last_ts = s.last_timestamp_ms.load(Ordering::Relaxed);
        let last_ingest = s.last_ingest_ms.load(Ordering::Relaxed);
        if last_ts < now - TWO_WEEKS_MS && last_ingest < now - TWO_WEEKS_MS {
            continue;
        }
        if recent && last_ts < now - THREE_HOURS_MS {
            continue;
        }
        if after.as_ref().is_some_and(|a| k <= a) {
            continue;
        }
        keys.insert(k.clone());
    }
    let page: Vec<&MetricKey> = keys.iter().take(PAGE).collect();
    let metrics = page
        .iter()
        .map(|k| {
            Node::object()
                .with("Namespace", Node::str(&k.namespace))
                .with("MetricName", Node::str(&k.name))
                .with("Dimensions", dimensions_node(k.dimensions()))
        })
        .collect();
    let mut out = Node::object().with("Metrics", Node::List(metrics));
    if keys.len() > PAGE {
        if let Some(last) = page.last() {
            out = out.with("NextToken", Node::str(token(last)));
        }
    }
    Ok(out)
}
