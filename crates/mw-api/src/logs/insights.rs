//! Logs Insights: StartQuery runs a query in the background over the log store;
//! GetQueryResults, StopQuery and DescribeQueries read the registry.

use super::{group_name, invalid};
use crate::error::{ApiError, Code};
use crate::node::{Input, Node};
use crate::Api;
use mw_logstore::{Scan, StreamSel};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Most queries running at once (AWS: 100 concurrent queries).
const MAX_RUNNING: usize = 100;
/// Finished queries kept for GetQueryResults.
const KEEP: usize = 1000;
/// Most log groups one query reads.
const MAX_GROUPS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Scheduled,
    Running,
    Complete,
    Failed,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "Scheduled",
            Status::Running => "Running",
            Status::Complete => "Complete",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
        }
    }
}

struct Run {
    id: String,
    query: String,
    groups: Vec<String>,
    created: i64,
    status: Mutex<Status>,
    results: Mutex<Vec<Vec<(String, String)>>>,
    stats: Mutex<(u64, u64, u64)>,
    cancel: AtomicBool,
}

/// Queries by id, plus their ids oldest first (for eviction).
type Registry = (HashMap<String, Arc<Run>>, VecDeque<String>);

/// The registry of Insights queries.
#[derive(Default)]
pub struct Queries {
    runs: Mutex<Registry>,
    counter: AtomicU64,
}

impl Queries {
    fn running(&self) -> usize {
        self.runs
            .lock()
            .0
            .values()
            .filter(|r| matches!(*r.status.lock(), Status::Scheduled | Status::Running))
            .count()
    }

    fn get(&self, id: &str) -> Option<Arc<Run>> {
        self.runs.lock().0.get(id).cloned()
    }

    fn insert(&self, run: Arc<Run>) {
        let mut g = self.runs.lock();
        g.1.push_back(run.id.clone());
        g.0.insert(run.id.clone(), run);
        while g.1.len() > KEEP {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }
}

pub fn start_query(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let mut groups: Vec<String> = Vec::new();
    if input.has("logGroupName") || input.has("logGroupIdentifier") {
        groups.push(group_name(input)?.to_string());
    }
    for key in ["logGroupNames", "logGroupIdentifiers"] {
        if let Some(list) = input.str_list(key)? {
            groups.extend(list.iter().map(|g| match g.split_once(":log-group:") {
                Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest).to_string(),
                None => g.to_string(),
            }));
        }
    }
    if groups.is_empty() {
        return Err(invalid(
            "Specify logGroupName, logGroupNames or logGroupIdentifiers.",
        ));
    }
    if groups.len() > MAX_GROUPS {
        return Err(invalid(format!(
            "A query can read at most {MAX_GROUPS} log groups."
        )));
    }
    for g in &groups {
        api.logs.group(g)?;
    }
    let start = input
        .i64("startTime")?
        .ok_or_else(|| invalid("The parameter startTime is required."))?;
    let end = input
        .i64("endTime")?
        .ok_or_else(|| invalid("The parameter endTime is required."))?;
    if end < start {
        return Err(invalid("endTime must not be before startTime."));
    }
    let text = input.req_str("queryString")?;
    if text.chars().count() > 10_000 {
        return Err(invalid("queryString must be at most 10000 characters."));
    }
    let query = mw_insights::parse(text)
        .map_err(|e| ApiError::new(Code::LogsMalformedQuery, e.to_string()))?;
    let row_limit = match input.i64("limit")? {
        None => None,
        Some(l) if (1..=100_000).contains(&l) => Some(l as usize),
        Some(l) => return Err(invalid(format!("limit {l} must be between 1 and 100000."))),
    };
    if api.queries.running() >= MAX_RUNNING {
        return Err(ApiError::new(
            Code::LogsLimitExceeded,
            format!("Account maximum query concurrency limit of [{MAX_RUNNING}] reached."),
        ));
    }
    let n = api.queries.counter.fetch_add(1, Ordering::Relaxed);
    let now = mw_model::time::now_ms();
    let id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (now / 1000) as u32,
        (now % 1000) as u16,
        (n >> 32) as u16 & 0x0fff | 0x4000,
        (n >> 16) as u16 & 0x3fff | 0x8000,
        n & 0xffff_ffff_ffff
    );
    let run = Arc::new(Run {
        id: id.clone(),
        query: text.to_string(),
        groups: groups.clone(),
        created: now,
        status: Mutex::new(Status::Scheduled),
        results: Mutex::new(Vec::new()),
        stats: Mutex::new((0, 0, 0)),
        cancel: AtomicBool::new(false),
    });
    api.queries.insert(run.clone());
    let logs = api.logs.clone();
    std::thread::Builder::new()
        .name("insights-query".into())
        .spawn(move || {
            *run.status.lock() = Status::Running;
            let mut exec = match row_limit {
                Some(l) => query.start_with_limit(l),
                None => query.start(),
            };
            let mut failed = None;
            for g in &run.groups {
                let res = logs.scan(
                    &Scan {
                        group: g,
                        streams: StreamSel::All,
                        start: start * 1000,
                        end: end.saturating_mul(1000).saturating_add(1000),
                        forward: true,
                        after: None,
                        filter: None,
                        literal: None,
                    },
                    &mut |stream, e| {
                        exec.push(&mw_insights::Event {
                            timestamp: e.timestamp,
                            ingestion_time: e.ingestion,
                            message: e.message,
                            log_stream: stream,
                            log_group: g,
                        });
                        !run.cancel.load(Ordering::Relaxed)
                    },
                );
                if let Err(e) = res {
                    failed = Some(e);
                    break;
                }
                if run.cancel.load(Ordering::Relaxed) {
                    break;
                }
            }
            *run.stats.lock() = (
                exec.records_matched(),
                exec.records_scanned(),
                exec.bytes_scanned(),
            );
            let rows = (failed.is_none() && !run.cancel.load(Ordering::Relaxed)).then(|| {
                let mut rows = exec.finish();
                if let Some(l) = row_limit {
                    rows.truncate(l);
                }
                rows
            });
            // The final status is decided under the status lock, which
            // StopQuery holds while it sets `cancel`: a stop that answered
            // `success: true` always ends the query Cancelled.
            let mut status = run.status.lock();
            *status = if run.cancel.load(Ordering::Relaxed) {
                Status::Cancelled
            } else if let Some(e) = failed {
                tracing::warn!(query = %run.id, error = %e, "insights query failed");
                Status::Failed
            } else {
                *run.results.lock() = rows.unwrap_or_default();
                Status::Complete
            };
        })
        .map_err(|e| ApiError::new(Code::Internal, format!("could not start the query: {e}")))?;
    Ok(Node::object().with("queryId", Node::str(id)))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        Code::LogsResourceNotFound,
        format!("Query {id} does not exist."),
    )
}

pub fn get_query_results(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let id = input.req_str("queryId")?;
    let run = api.queries.get(id).ok_or_else(|| not_found(id))?;
    let status = *run.status.lock();
    let rows = if status == Status::Complete {
        run.results
            .lock()
            .iter()
            .map(|row| {
                Node::List(
                    row.iter()
                        .map(|(f, v)| {
                            Node::object()
                                .with("field", Node::str(f))
                                .with("value", Node::str(v))
                        })
                        .collect(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let (matched, scanned, bytes) = *run.stats.lock();
    Ok(Node::object()
        .with("queryLanguage", Node::str("CWLI"))
        .with("results", Node::List(rows))
        .with(
            "statistics",
            Node::object()
                .with("recordsMatched", Node::Float(matched as f64))
                .with("recordsScanned", Node::Float(scanned as f64))
                .with("bytesScanned", Node::Float(bytes as f64)),
        )
        .with("status", Node::str(status.as_str())))
}

pub fn stop_query(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let id = input.req_str("queryId")?;
    let run = api.queries.get(id).ok_or_else(|| not_found(id))?;
    // Under the status lock: the query cannot reach its final status
    // between this check and the flag (see the query thread).
    let status = run.status.lock();
    let running = matches!(*status, Status::Scheduled | Status::Running);
    if running {
        run.cancel.store(true, Ordering::Relaxed);
    }
    drop(status);
    Ok(Node::object().with("success", Node::Bool(running)))
}

pub fn describe_queries(api: &Api, input: &Input) -> Result<Node, ApiError> {
    let group = input.str("logGroupName")?;
    let status = input.str("status")?;
    let max = match input.i64("maxResults")? {
        None => 1000,
        Some(m) if (1..=1000).contains(&m) => m as usize,
        Some(m) => {
            return Err(invalid(format!(
                "maxResults {m} must be between 1 and 1000."
            )))
        }
    };
    let runs: Vec<Arc<Run>> = {
        let g = api.queries.runs.lock();
        g.1.iter()
            .rev()
            .filter_map(|id| g.0.get(id).cloned())
            .collect()
    };
    let list = runs
        .iter()
        .filter(|r| group.is_none_or(|g| r.groups.iter().any(|x| x == g)))
        .filter(|r| status.is_none_or(|s| r.status.lock().as_str() == s))
        .take(max)
        .map(|r| {
            Node::object()
                .with("queryId", Node::str(&r.id))
                .with("queryString", Node::str(&r.query))
                .with("status", Node::str(r.status.lock().as_str()))
                .with("createTime", Node::Int(r.created))
                .with(
                    "logGroupName",
                    Node::str(r.groups.first().cloned().unwrap_or_default()),
                )
                .with("queryLanguage", Node::str("CWLI"))
        })
        .collect();
    Ok(Node::object().with("queries", Node::List(list)))
}
