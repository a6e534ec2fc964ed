//! CloudWatch Logs Insights queries: the query language's parser and an incremental
//! executor.
//!
//! [`parse`] compiles query text (`fields`, `filter`, `stats`, `sort`, `limit`, `parse`,
//! `display`, `dedup`, joined by `|`) into a [`Query`], or fails with an
//! [`InsightsError`] naming a 1-based character position, which the API layer turns
//! into `MalformedQueryException`. [`Query::start`] gives an [`Execution`]: push
//! [`Event`]s in any order, then [`Execution::finish`] yields GetQueryResults rows, each
//! a list of `(field, value)` strings in display order.
//!
//! Why it is built this way: the executor runs once per stored event over gigabytes, so
//! names are resolved to slots at parse time, values borrow from the event, JSON
//! messages are decoded at most once per event and only when the query reads a
//! discovered field, `stats` keeps per-group states instead of events, and plain
//! `sort | limit` queries keep only the best rows.
//!
//! ```text
//! let q = mw_insights::parse("filter level = 'ERROR' | stats count(*) as n by bin(5m)")?;
//! let mut run = q.start();
//! run.push(&Event { timestamp, ingestion_time, message, log_stream, log_group });
//! let rows = run.finish(); // [[("bin(5m)", "2024-01-02 03:00:00.000"), ("n", "3")]]
//! ```
//!
//! Architecture invariant: this crate knows nothing of HTTP, JSON wire shapes or
//! storage; it sees events as plain borrowed values.

mod ast;
mod error;
mod eval;
mod exec;
mod functions;
mod lexer;
mod parser;
mod ptr;
mod stats;
mod time;
mod value;

use std::sync::Arc;

pub use error::{CompileError, ErrorKind, InsightsError};
pub use exec::{Event, Execution, ACCOUNT_ID};
pub use ptr::{decode_ptr, encode_ptr, message_hash, RecordPtr};
pub use time::format_timestamp;

/// Rows returned when neither the query nor the caller sets a limit.
pub const DEFAULT_LIMIT: usize = 1000;
/// The longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = parser::MAX_QUERY_CHARS;

/// A compiled query; cheap to clone and to start many times.
#[derive(Debug, Clone)]
pub struct Query {
    plan: Arc<ast::Plan>,
}

/// Parses a query. Errors carry a 1-based character position and a message such as
/// `unexpected token 'foo' at position 17`.
pub fn parse(text: &str) -> Result<Query, InsightsError> {
    Ok(Query {
        plan: Arc::new(parser::parse_plan(text)?),
    })
}

impl Query {
    /// Starts a run that returns at most [`Query::limit`] rows.
    pub fn start(&self) -> Execution {
        self.start_with_limit(DEFAULT_LIMIT)
    }

    /// Starts a run whose row limit, when the query has no `limit` of its own, is
    /// `default_limit` (StartQuery's `limit` parameter).
    pub fn start_with_limit(&self, default_limit: usize) -> Execution {
        Execution::new(Arc::clone(&self.plan), default_limit)
    }

    /// The query's own row limit (a `limit` after any `stats`), else [`DEFAULT_LIMIT`].
    pub fn limit(&self) -> usize {
        self.plan.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// Whether the query aggregates (has `stats`); its rows then carry no `@ptr`.
    pub fn is_aggregate(&self) -> bool {
        self.plan.aggregated
    }

    /// The names of the output columns, in display order (without `@ptr`).
    pub fn output_fields(&self) -> Vec<&str> {
        self.plan
            .output
            .iter()
            .map(|&s| self.plan.names[s].as_str())
            .collect()
    }
}

/// Fixed events [`fuzz_one`] runs parsed queries over.
const FUZZ_MESSAGES: [&str; 5] = [
    r#"{"level":"ERROR","latency":12.5,"user":{"id":7,"name":"ann"},"tags":["a","b"]}"#,
    "user=bob id=42 took 17ms",
    r#"{"level":"INFO","latency":"3","big":12345678901234567890,"ok":true}"#,
    "",
    "[WARN] disk 91% full \u{e9}\u{1F600}",
];

/// Fuzz entry point: lossy UTF-8 → [`parse`] → if it parses, run it over a few fixed
/// events. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(query) = parse(&text) else {
        return;
    };
    let mut run = query.start();
    for (i, message) in FUZZ_MESSAGES.iter().enumerate() {
        let t = 1_700_000_000_000 + (i as i64 % 3) * 60_000;
        run.push(&Event {
            timestamp: t,
            ingestion_time: t + 5,
            message,
            log_stream: if i % 2 == 0 { "s1" } else { "s2" },
            log_group: "/fuzz",
        });
    }
    let _ = run.finish();
}

#[cfg(test)]
mod tests;
