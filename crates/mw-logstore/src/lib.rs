//! The embedded log store: log groups → log streams → events.
//!
//! [`LogStore`] keeps the catalog (groups, streams, metric filters, block index)
//! in SQLite and events in per-stream, time-ordered, LZ4-compressed blocks
//! appended to segment files ([`block`]). Writes are acknowledged once they are in
//! the write-ahead log (`mw_wal`) and the in-memory head, so they survive
//! `kill -9`; checkpoints move the head into blocks. [`LogStore::scan`] merges
//! blocks and the head in (timestamp, ingestion) order for GetLogEvents,
//! FilterLogEvents and Insights. Ingest also runs the group's metric filters
//! ([`filters`]) and extracts Embedded Metric Format documents ([`emf`]); the
//! resulting datums are handed back to the caller for the metric store, so this
//! crate knows nothing of metric storage.
//!
//! Architecture invariant: no HTTP, no wire formats.

pub mod block;
pub mod emf;
mod error;
pub mod filters;
pub mod names;
mod store;

pub use block::{Event, EventRef};
pub use error::{Error, ErrorKind, Result};
pub use filters::{MetricFilter, Transformation};
pub use store::{
    GroupInfo, InputEvent, LogStore, LogStoreConfig, PutOutcome, Rejected, Scan, ScanStats,
    StreamInfo, StreamSel,
};
