//! The embedded metric store.
//!
//! A metric *series* is a [`mw_model::MetricKey`] plus a [`mw_model::Unit`] (CloudWatch
//! keeps units apart). Data lives in per-series buckets of one resolution (1 s,
//! 60 s, 300 s, 3600 s), each an [`Aggregate`]: exact SampleCount / Sum / Minimum /
//! Maximum plus a mergeable quantile [`Sketch`] for percentile statistics.
//!
//! Write path: [`MetricStore::put`] logs the batch to the write-ahead log (`mw_wal`)
//! and folds it into the in-memory head; only then does the caller acknowledge.
//! [`MetricStore::checkpoint`] moves the head into SQLite (catalog and bucket
//! tables) and drops the log files it covers. [`MetricStore::maintain`] rolls
//! 60 s buckets into 5 min after 15 days and 5 min into 1 h after 63 days, and
//! drops data past CloudWatch's retention (1 s: 3 h, 1 h: 455 days).
//!
//! Read path: [`MetricStore::read`] merges SQLite, the head being checkpointed and
//! the live head, so every acknowledged write is visible; [`query`] turns buckets
//! into period statistics with CloudWatch's alignment and resolution rules.
//!
//! [`MetricBackend`] is the small trait the API uses, so that another backend can
//! serve the same API later.

mod agg;
mod error;
pub mod query;
pub mod sketch;
mod store;

pub use agg::Aggregate;
pub use error::{Error, ErrorKind, Result};
pub use mw_wal::SyncMode;
pub use sketch::Sketch;
pub use store::{MetricBackend, MetricStore, ReadRequest, SeriesInfo, StoreConfig};
