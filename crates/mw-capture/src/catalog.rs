//! [`Catalog`]: the index of the capture store's files, `<root>/catalog.db`,
//! SQLite in WAL mode with `synchronous=FULL`.
//!
//! ```text
//! files(path PK      relative to the store root, `/`-separated
//!       kind         'capture' or 'ground-truth'
//!       endpoint
//!       variant      NULL for ground truth
//!       hour_ms      start of the file's UTC hour, epoch milliseconds
//!       added_ms)    when the row was written
//! files_by_hour(kind, endpoint, hour_ms, path, variant)
//! ```
//!
//! A row only says where a file is; its size is read from the file when it is
//! listed. Rows are written when a file is created, before anything is written
//! to it, so every file holding an acknowledged line has a committed row. The
//! folder tree stays the truth: [`Catalog::reconcile`] makes the rows match
//! the files found by a scan at open (files of an older version, a crash
//! between a file and its row, files deleted by hand).

use crate::error::{Error, Result};
use parking_lot::Mutex;
use rusqlite::{params, Connection, Transaction};
use std::path::Path;

/// Current schema, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    variant TEXT,
    hour_ms INTEGER NOT NULL,
    added_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_hour ON files (kind, endpoint, hour_ms, path, variant);
";

/// Which tree a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Capture,
    GroundTruth,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Capture => "capture",
            Kind::GroundTruth => "ground-truth",
        }
    }
}

/// One file as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub endpoint: String,
    pub variant: Option<String>,
    pub hour_ms: i64,
    pub path: String,
}

/// Which files a query wants.
pub(crate) struct Query<'a> {
    pub kind: Kind,
    pub endpoint: &'a str,
    pub variant: Option<&'a str>,
    /// Hours starting at or after this (an hour start).
    pub first_hour_ms: i64,
    /// Hours starting before this.
    pub end_ms: i64,
}

/// A listed row: hour, path, variant.
pub(crate) type Row = (i64, String, Option<String>);

/// What [`Catalog::reconcile`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Files found without a row.
    pub added: u64,
    /// Rows whose file was gone.
    pub removed: u64,
    /// Why the index was rebuilt from the tree (it could not be read), if it was.
    pub rebuilt: Option<String>,
}

pub(crate) struct Catalog {
    conn: Mutex<Connection>,
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::CatalogVersion(format!(
                "{} has schema version {version}; this version of modelwatch knows up to {SCHEMA_VERSION}",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    /// Records a new file; committed (and synced) when this returns.
    pub fn insert(&self, e: &Entry) -> Result<()> {
        add(&self.conn.lock(), "REPLACE", e)?;
        Ok(())
    }

    /// Files matching `q`, by hour then path, after the `(hour, path)` cursor
    /// when one is given, at most `limit`.
    pub fn files(
        &self,
        q: &Query<'_>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<Row>> {
        let (after_hour, after_path) = after.unwrap_or((i64::MIN, ""));
        let conn = self.conn.lock();
        let mut st = conn.prepare_cached(
            "SELECT hour_ms, path, variant FROM files
             WHERE kind = ?1 AND endpoint = ?2 AND hour_ms >= ?3 AND hour_ms < ?4
               AND (?5 IS NULL OR variant = ?5)
               AND (hour_ms, path) > (?6, ?7)
             ORDER BY hour_ms, path
             LIMIT ?8",
        )?;
        let rows = st.query_map(
            params![
                q.kind.as_str(),
                q.endpoint,
                q.first_hour_ms,
                q.end_ms,
                q.variant,
                after_hour,
                after_path,
                limit_param(limit)
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Makes the rows match the files `scan` reports (it calls its argument
    /// once per file found): adds the missing rows and drops the rows of files
    /// that were not found, in one transaction.
    pub fn reconcile(
        &self,
        scan: impl FnOnce(&mut dyn FnMut(Entry) -> Result<()>) -> Result<()>,
    ) -> Result<Reconciled> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS seen (path TEXT PRIMARY KEY); DELETE FROM seen;",
        )?;
        let mut out = Reconciled::default();
        scan(&mut |e| {
            out.added += found(&tx, &e)?;
            Ok(())
        })?;
        out.removed = tx.execute(
            "DELETE FROM files WHERE path NOT IN (SELECT path FROM seen)",
            [],
        )? as u64;
        tx.execute_batch("DROP TABLE seen;")?;
        tx.commit()?;
        Ok(out)
    }
}

/// Notes one scanned file; 1 when it had no row.
fn found(tx: &Transaction<'_>, e: &Entry) -> Result<u64> {
    tx.prepare_cached("INSERT OR IGNORE INTO seen (path) VALUES (?1)")?
        .execute([&e.path])?;
    Ok(add(tx, "IGNORE", e)? as u64)
}

/// `INSERT OR <conflict>` of `e`'s row; how many rows were written.
fn add(conn: &Connection, conflict: &str, e: &Entry) -> Result<usize> {
    let sql = format!(
        "INSERT OR {conflict} INTO files (path, kind, endpoint, variant, hour_ms, added_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    );
    Ok(conn.prepare_cached(&sql)?.execute(params![
        e.path,
        e.kind.as_str(),
        e.endpoint,
        e.variant,
        e.hour_ms,
        mw_model::time::now_ms()
    ])?)
}
