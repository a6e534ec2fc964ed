//! Log groups, log streams and retention.

use super::{fingerprint, group_arn, group_name, invalid, limit, offset_token, parse_offset_token};
use crate::error::ApiError;
use crate::node::{Input, Node};
use crate::Api;

pub fn create_log_group(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let name = input.req_str("logGroupName")?;
    let class = input.str("logGroupClass")?;
    api.logs
        .create_group(name, class, mw_model::time::now_ms())?;
    Ok(Node::object())
}

pub fn delete_log_group(api: &Api, input: &Input) -> Result<Node, ApiError> {
    api.logs.delete_group(group_name(input)?)?;
    Ok(Node::object())
}

pub fn describe_log_groups(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let prefix = input.str("logGroupNamePrefix")?;
    let pattern = input.str("logGroupNamePattern")?;
    if prefix.is_some() && pattern.is_some() {
        return Err(invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let class = input.str("logGroupClass")?;
    let ids = input.str_list("logGroupIdentifiers")?;
    let max = limit(input, 50, 50)?;
    let fp = fingerprint(&[
        prefix.unwrap_or(""),
        pattern.unwrap_or(""),
        class.unwrap_or(""),
    ]);
    let offset = match input.str("nextToken")? {
        Some(t) => parse_offset_token(t, fp)?,
        None => 0,
    };
    let groups: Vec<_> = api
        .logs
        .groups()
        .into_iter()
        .filter(|g| prefix.is_none_or(|p| g.name.starts_with(p)))
        .filter(|g| pattern.is_none_or(|p| g.name.contains(p)))
        .filter(|g| class.is_none_or(|c| g.class == c))
        .filter(|g| {
            ids.as_ref().is_none_or(|ids| {
                ids.iter().any(|i| {
                    *i == g.name
                        || i.strip_suffix(":*")
                            .unwrap_or(i)
                            .ends_with(&format!(":log-group:{}", g.name))
                })
            })
        })
        .collect();
    let page: Vec<Node> = groups
        .iter()
        .skip(offset)
        .take(max)
        .map(|g| {
            let mut n = Node::object()
                .with("logGroupName", Node::str(&g.name))
                .with("creationTime", Node::Int(g.created));
            if pattern.is_none() {
                if let Some(d) = g.retention_days {
                    n = n.with("retentionInDays", Node::Int(i64::from(d)));
                }
                n = n
                    .with("metricFilterCount", Node::Int(g.metric_filter_count as i64))
                    .with("storedBytes", Node::Int(g.stored_bytes))
                    .with("logGroupClass", Node::str(&g.class))
                    .with("logGroupArn", Node::str(group_arn(&g.name)));
            }
            n.with("arn", Node::str(format!("{}:*", group_arn(&g.name))))
        })
        .collect();
    let mut out = Node::object().with("logGroups", Node::List(page));
    if offset + max < groups.len() {
        out = out.with("nextToken", Node::str(offset_token(offset + max, fp)));
    }
    Ok(out)
}

pub fn create_log_stream(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    let stream = input.req_str("logStreamName")?;
    api.logs
        .create_stream(group, stream, mw_model::time::now_ms())?;
    Ok(Node::object())
}

pub fn delete_log_stream(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    let stream = input.req_str("logStreamName")?;
    api.logs.delete_stream(group, stream)?;
    Ok(Node::object())
}

pub fn describe_log_streams(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = group_name(input)?;
    let prefix = input.str("logStreamNamePrefix")?;
    let by_time = match input.str("orderBy")? {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(o) => {
            return Err(invalid(format!(
                "1 validation error detected: Value '{o}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )))
        }
    };
    if by_time && prefix.is_some() {
        return Err(invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = input.bool("descending")?.unwrap_or(false);
    let max = limit(input, 50, 50)?;
    let fp = fingerprint(&[
        group,
        prefix.unwrap_or(""),
        if by_time { "t" } else { "n" },
        if descending { "d" } else { "a" },
    ]);
    let offset = match input.str("nextToken")? {
        Some(t) => parse_offset_token(t, fp)?,
        None => 0,
    };
    let mut streams: Vec<_> = api
        .logs
        .streams(group)?
        .into_iter()
        .filter(|s| prefix.is_none_or(|p| s.name.starts_with(p)))
        .collect();
    if by_time {
        streams.sort_by(|a, b| {
            a.last_event
                .cmp(&b.last_event)
                .then_with(|| a.name.cmp(&b.name))
        });
    }
    if descending {
        streams.reverse();
    }
    let page: Vec<Node> = streams
        .iter()
        .skip(offset)
        .take(max)
        .map(|s| {
            let mut n = Node::object()
                .with("logStreamName", Node::str(&s.name))
                .with("creationTime", Node::Int(s.created));
            if let Some(t) = s.first_event {
                n = n.with("firstEventTimestamp", Node::Int(t));
            }
            if let Some(t) = s.last_event {
                n = n.with("lastEventTimestamp", Node::Int(t));
            }
            if let Some(t) = s.last_ingestion {
                n = n.with("lastIngestionTime", Node::Int(t));
            }
            n.with(
                "arn",
                Node::str(format!("{}:log-stream:{}", group_arn(group), s.name)),
            )
            .with("storedBytes", Node::Int(0))
        })
        .collect();
    let mut out = Node::object().with("logStreams", Node::List(page));
    if offset + max < streams.len() {
        out = out.with("nextToken", Node::str(offset_token(offset + max, fp)));
    }
    Ok(out)
}

pub fn put_retention_policy(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    let days = input
        .i64("retentionInDays")?
        .ok_or_else(|| invalid("The parameter retentionInDays is required."))?;
    let days = mw_logstore::names::check_retention(days)?;
    api.logs.put_retention(group, Some(days))?;
    Ok(Node::object())
}

pub fn delete_retention_policy(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.req_str("logGroupName")?;
    api.logs.put_retention(group, None)?;
    Ok(Node::object())
}
