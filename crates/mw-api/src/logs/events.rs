//! PutLogEvents, GetLogEvents and FilterLogEvents.

use super::{fingerprint, group_name, invalid, limit};
use crate::error::ApiError;
use crate::node::{Input, Node};
use crate::Api;
use mw_logstore::{InputEvent, Scan, StreamSel};
use serde::Deserialize;
use std::borrow::Cow;

/// Responses carry at most this many message bytes (AWS: 1 MB).
const MAX_RESPONSE_BYTES: usize = 1_048_576;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutInput<'a> {
    #[serde(borrow)]
    log_group_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_stream_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_events: Option<Vec<EventIn<'a>>>,
}

#[derive(Deserialize)]
struct EventIn<'a> {
    timestamp: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

pub fn put_log_events(api: &Api, body: &[u8]) -> Result<Node, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let input: PutInput = serde_json::from_slice(body).map_err(|e| {
        ApiError::serialization(format!("the request body is not a valid request: {e}"))
    })?;
    let group = input
        .log_group_name
        .ok_or_else(|| invalid("The parameter logGroupName is required."))?;
    let stream = input
        .log_stream_name
        .ok_or_else(|| invalid("The parameter logStreamName is required."))?;
    let raw = input
        .log_events
        .ok_or_else(|| invalid("The parameter logEvents is required."))?;
    let mut events = Vec::with_capacity(raw.len());
    for (i, e) in raw.iter().enumerate() {
        let (Some(timestamp), Some(message)) = (e.timestamp, e.message.as_deref()) else {
            return Err(invalid(format!(
                "1 validation error detected: logEvents.{} must have a timestamp and a message",
                i + 1
            )));
        };
        events.push(InputEvent { timestamp, message });
    }
    let now = mw_model::time::now_ms();
    let outcome = api.logs.put_events(&group, &stream, &events, now)?;
    api.publish_log_metrics(&group, &outcome.datums, outcome.emf_invalid, now);
    let mut out = Node::object().with("nextSequenceToken", Node::str(format!("{:056}", now)));
    if let Some(r) = outcome.rejected {
        let mut info = Node::object();
        if let Some(i) = r.too_new_start {
            info = info.with("tooNewLogEventStartIndex", Node::Int(i as i64));
        }
        if let Some(i) = r.too_old_end {
            info = info.with("tooOldLogEventEndIndex", Node::Int(i as i64));
        }
        if let Some(i) = r.expired_end {
            info = info.with("expiredLogEventEndIndex", Node::Int(i as i64));
        }
        out = out.with("rejectedLogEventsInfo", info);
    }
    Ok(out)
}

/// A GetLogEvents cursor: `f/` or `b/`, then the (timestamp, seq) key.
fn token(forward: bool, key: (i64, u64)) -> String {
    format!(
        "{}/{:020}{:020}/s",
        if forward { 'f' } else { 'b' },
        key.0 as i128 + (1i128 << 62),
        key.1
    )
}

fn parse_token(t: &str) -> Result<(bool, (i64, u64)), ApiError> {
    let bad = || invalid("The specified nextToken is invalid.");
    let (dir, rest) = t.split_at_checked(2).ok_or_else(bad)?;
    let forward = match dir {
        "f/" => true,
        "b/" => false,
        _ => return Err(bad()),
    };
    let digits = rest.strip_suffix("/s").ok_or_else(bad)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ts: i128 = digits[..20].parse().map_err(|_| bad())?;
    let seq: u64 = digits[20..].parse().map_err(|_| bad())?;
    let ts = i64::try_from(ts - (1i128 << 62)).map_err(|_| bad())?;
    Ok((forward, (ts, seq)))
}

pub fn get_log_events(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = group_name(input)?;
    let stream = input.req_str("logStreamName")?.to_string();
    let start = input.i64("startTime")?.unwrap_or(0);
    let end = input.i64("endTime")?.unwrap_or(i64::MAX);
    let max = limit(input, 10_000, 10_000)?;
    let from_head = input.bool("startFromHead")?.unwrap_or(false);
    let given = input.str("nextToken")?.map(parse_token).transpose()?;
    let (forward, after) = match given {
        Some((f, key)) => (f, Some(key)),
        None => (from_head, None),
    };
    let names = [stream];
    let mut events: Vec<(i64, u64, i64, String)> = Vec::new();
    let mut bytes = 0usize;
    api.logs.scan(
        &Scan {
            group,
            streams: StreamSel::Names(&names),
            start,
            end,
            forward,
            after,
            filter: None,
            literal: None,
        },
        &mut |_, e| {
            bytes += e.message.len() + 26;
            if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
                return false;
            }
            events.push((e.timestamp, e.seq, e.ingestion, e.message.to_string()));
            events.len() < max
        },
    )?;
    if api.logs.streams(group)?.iter().all(|s| s.name != names[0]) {
        return Err(ApiError::from(mw_logstore::Error::NotFound(
            "The specified log stream does not exist.".into(),
        )));
    }
    if !forward {
        events.reverse();
    }
    let (next_f, next_b) = match (events.first(), events.last(), given) {
        (Some(first), Some(last), _) => (
            token(true, (last.0, last.1)),
            token(false, (first.0, first.1)),
        ),
        // The end of the stream: hand back what was passed in.
        (_, _, Some((_, key))) => (token(true, key), token(false, key)),
        (_, _, None) => {
            let edge = if from_head {
                (start.saturating_sub(1), u64::MAX)
            } else {
                (end, 0)
            };
            (token(true, edge), token(false, edge))
        }
    };
    let list = events
        .into_iter()
        .map(|(ts, _, ing, m)| {
            Node::object()
                .with("timestamp", Node::Int(ts))
                .with("message", Node::Str(m))
                .with("ingestionTime", Node::Int(ing))
        })
        .collect();
    Ok(Node::object()
        .with("events", Node::List(list))
        .with("nextForwardToken", Node::str(next_f))
        .with("nextBackwardToken", Node::str(next_b)))
}

pub fn filter_log_events(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = group_name(input)?;
    let names = input.str_list("logStreamNames")?;
    let prefix = input.str("logStreamNamePrefix")?;
    if names.is_some() && prefix.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    if names
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.len() > 100)
    {
        return Err(invalid(
            "logStreamNames must have between 1 and 100 members.",
        ));
    }
    let start = input.i64("startTime")?.unwrap_or(0);
    let end = input
        .i64("endTime")?
        .map_or(i64::MAX, |e| e.saturating_add(1));
    let pattern_text = input.str("filterPattern")?.unwrap_or("");
    if pattern_text.chars().count() > 1024 {
        return Err(invalid("filterPattern must be at most 1024 characters."));
    }
    let pattern = mw_filterpattern::FilterPattern::parse(pattern_text)
        .map_err(|e| invalid(format!("Invalid filter pattern: {e}")))?;
    let max = limit(input, 10_000, 10_000)?;
    let names_owned: Option<Vec<String>> = names.map(|v| v.iter().map(|s| s.to_string()).collect());
    let fp = fingerprint(&[
        group,
        &names_owned
            .as_ref()
            .map(|n| n.join("\u{0}"))
            .unwrap_or_default(),
        prefix.unwrap_or(""),
        pattern_text,
        &start.to_string(),
        &end.to_string(),
    ]);
    let (forward, after) = match input.str("nextToken")? {
        Some(t) => {
            let bad = || invalid("The specified nextToken is invalid.");
            let parts: Vec<&str> = t.split('.').collect();
            if parts.len() != 4 || u64::from_str_radix(parts[3], 16).map_err(|_| bad())? != fp {
                return Err(bad());
            }
            let ts = parts[1].parse::<i64>().map_err(|_| bad())?;
            let seq = parts[2].parse::<u64>().map_err(|_| bad())?;
            (parts[0] == "f", Some((ts, seq)))
        }
        None => (input.bool("startFromHead")?.unwrap_or(true), None),
    };
    let streams = match (&names_owned, prefix) {
        (Some(n), _) => StreamSel::Names(n),
        (None, Some(p)) => StreamSel::Prefix(p),
        (None, None) => StreamSel::All,
    };
    let is_all = pattern_text.trim().is_empty();
    let matcher = |m: &str| pattern.matches(m);
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut stopped_early = false;
    let mut last = None;
    api.logs.scan(
        &Scan {
            group,
            streams,
            start,
            end,
            forward,
            after,
            filter: if is_all { None } else { Some(&matcher) },
            literal: pattern.required_literal(),
        },
        &mut |stream, e| {
            bytes += e.message.len() + 26;
            if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
                stopped_early = true;
                return false;
            }
            last = Some((e.timestamp, e.seq));
            events.push(
                Node::object()
                    .with("logStreamName", Node::str(stream))
                    .with("timestamp", Node::Int(e.timestamp))
                    .with("message", Node::str(e.message))
                    .with("ingestionTime", Node::Int(e.ingestion))
                    .with("eventId", Node::str(format!("{:056}", e.seq))),
            );
            if events.len() >= max {
                stopped_early = true;
                return false;
            }
            true
        },
    )?;
    let mut out = Node::object()
        .with("events", Node::List(events))
        .with("searchedLogStreams", Node::List(Vec::new()));
    if let (true, Some((ts, seq))) = (stopped_early, last) {
        out = out.with(
            "nextToken",
            Node::str(format!(
                "{}.{ts}.{seq}.{fp:016x}",
                if forward { "f" } else { "b" }
            )),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        for key in [(0, 0), (1_800_000_000_000, 42), (-5, u64::MAX)] {
            assert_eq!(parse_token(&token(true, key)).unwrap(), (true, key));
            assert_eq!(parse_token(&token(false, key)).unwrap(), (false, key));
        }
        for bad in [
            "",
            "x/1/s",
            "f/123/s",
            "f/abc",
            "b/0000000000000000000000000000000000000000",
        ] {
            assert!(parse_token(bad).is_err(), "{bad}");
        }
    }
}
