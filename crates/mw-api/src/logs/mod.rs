//! CloudWatch Logs operations (AWS JSON 1.1, `Logs_20140328.*`): groups and
//! streams, events, metric filters and Insights queries over [`mw_logstore`].

mod events;
mod groups;
mod insights;
mod metric_filters;

pub use insights::Queries;

use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::wire::json;
use crate::Api;
use axum::http::HeaderMap;

/// Runs Logs operation `op` on a JSON body.
pub fn call(api: &Api, op: &str, body: &[u8], headers: &HeaderMap) -> Result<Node, ApiError> {
    let _ = headers;
    if op == "PutLogEvents" {
        return events::put_log_events(api, body);
    }
    let node = json::decode(body)?;
    let input = Input::root(&node);
    match op {
        "CreateLogGroup" => groups::create_log_group(api, &input),
        "DeleteLogGroup" => groups::delete_log_group(api, &input),
        "DescribeLogGroups" => groups::describe_log_groups(api, &input),
        "CreateLogStream" => groups::create_log_stream(api, &input),
        "DeleteLogStream" => groups::delete_log_stream(api, &input),
        "DescribeLogStreams" => groups::describe_log_streams(api, &input),
        "PutRetentionPolicy" => groups::put_retention_policy(api, &input),
        "DeleteRetentionPolicy" => groups::delete_retention_policy(api, &input),
        "GetLogEvents" => events::get_log_events(api, &input),
        "FilterLogEvents" => events::filter_log_events(api, &input),
        "PutMetricFilter" => metric_filters::put_metric_filter(api, &input),
        "DescribeMetricFilters" => metric_filters::describe_metric_filters(api, &input),
        "DeleteMetricFilter" => metric_filters::delete_metric_filter(api, &input),
        "TestMetricFilter" => metric_filters::test_metric_filter(api, &input),
        "StartQuery" => insights::start_query(api, &input),
        "GetQueryResults" => insights::get_query_results(api, &input),
        "StopQuery" => insights::stop_query(api, &input),
        "DescribeQueries" => insights::describe_queries(api, &input),
        _ => Err(ApiError::new(
            Code::UnknownOperation,
            format!("The operation {op} is not supported by this endpoint."),
        )),
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::LogsInvalidParameter, msg)
}

/// `logGroupName`, or the name inside `logGroupIdentifier` (a name or an ARN).
fn group_name<'a>(input: &Input<'a>) -> Result<&'a str, ApiError> {
    match (input.str("logGroupName")?, input.str("logGroupIdentifier")?) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => Ok(n),
        (None, Some(id)) => Ok(match id.split_once(":log-group:") {
            Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest),
            None => id,
        }),
        (None, None) => Err(invalid(
            "Either LogGroup name or LogGroup ARN must be provided.",
        )),
    }
}

/// `limit` within 1..=max, or the default.
fn limit(input: &Input, max: i64, default: i64) -> Result<usize, ApiError> {
    match input.i64("limit")? {
        None => Ok(default as usize),
        Some(l) if (1..=max).contains(&l) => Ok(l as usize),
        Some(l) => Err(invalid(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// An offset page token: `<offset>`, hex, bound to a fingerprint of the request.
fn offset_token(offset: usize, fp: u64) -> String {
    format!("{offset:x}.{fp:016x}")
}

fn parse_offset_token(t: &str, fp: u64) -> Result<usize, ApiError> {
    let bad = || invalid("The specified nextToken is invalid.");
    let (o, f) = t.split_once('.').ok_or_else(bad)?;
    if u64::from_str_radix(f, 16).map_err(|_| bad())? != fp {
        return Err(bad());
    }
    usize::from_str_radix(o, 16).map_err(|_| bad())
}

fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn group_arn(name: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}")
}
