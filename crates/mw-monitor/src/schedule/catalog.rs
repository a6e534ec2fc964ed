//! The monitoring catalog: `<dir>/monitoring.db`, SQLite in WAL mode with
//! `synchronous=FULL`, so an acknowledged change survives `kill -9`.
//!
//! ```text
//! baselines(name PK, created_ms, source, item_count, feature_count)
//! schedules(name PK, endpoint, baseline, expression, start_offset, end_offset,
//!           columns (JSON array or NULL), status, created_ms, updated_ms,
//!           last_scheduled_ms)
//! executions(id PK AUTOINCREMENT, schedule, endpoint, trigger, scheduled_ms,
//!            window_start_ms, window_end_ms, status, failure_reason, message,
//!            violations, report_dir, created_ms, started_ms, ended_ms)
//! ```
//!
//! Baseline and report files live beside it; the catalog indexes them.

use super::{BaselineInfo, Execution, ExecutionStatus, Schedule, ScheduleStatus, Trigger};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;

pub struct Catalog {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> Error {
    Error::Catalog(e.to_string())
}

const SCHEDULE_COLUMNS: &str = "name, endpoint, baseline, expression, start_offset, end_offset, \
     columns, status, created_ms, updated_ms, last_scheduled_ms";
const EXECUTION_COLUMNS: &str = "id, schedule, endpoint, trigger, scheduled_ms, window_start_ms, \
     window_end_ms, status, failure_reason, message, violations, report_dir, created_ms, \
     started_ms, ended_ms";

fn schedule_row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    let columns: Option<String> = r.get(6)?;
    let status: String = r.get(7)?;
    Ok(Schedule {
        name: r.get(0)?,
        endpoint: r.get(1)?,
        baseline: r.get(2)?,
        expression: r.get(3)?,
        window_start_offset: r.get(4)?,
        window_end_offset: r.get(5)?,
        columns: columns.and_then(|c| serde_json::from_str(&c).ok()),
        status: ScheduleStatus::parse(&status).unwrap_or(ScheduleStatus::Stopped),
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
        last_scheduled_ms: r.get(10)?,
    })
}

fn execution_row(r: &Row<'_>) -> rusqlite::Result<Execution> {
    let trigger: String = r.get(3)?;
    let status: String = r.get(7)?;
    let violations: Option<i64> = r.get(10)?;
    Ok(Execution {
        id: r.get(0)?,
        schedule: r.get(1)?,
        endpoint: r.get(2)?,
        trigger: if trigger == "Manual" {
            Trigger::Manual
        } else {
            Trigger::Schedule
        },
        scheduled_ms: r.get(4)?,
        window_start_ms: r.get(5)?,
        window_end_ms: r.get(6)?,
        status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Failed),
        failure_reason: r.get(8)?,
        message: r.get(9)?,
        violations: violations.map(|v| v.max(0) as u64),
        report_dir: r.get(11)?,
        created_ms: r.get(12)?,
        started_ms: r.get(13)?,
        ended_ms: r.get(14)?,
    })
}

/// How an execution ended.
pub struct Outcome<'a> {
    pub status: ExecutionStatus,
    pub failure_reason: Option<&'a str>,
    pub message: Option<&'a str>,
    pub violations: Option<u64>,
    pub report_dir: Option<&'a str>,
    pub ended_ms: i64,
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS baselines(
                name TEXT PRIMARY KEY,
                created_ms INTEGER NOT NULL,
                source TEXT NOT NULL,
                item_count INTEGER NOT NULL,
                feature_count INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS schedules(
                name TEXT PRIMARY KEY,
                endpoint TEXT NOT NULL,
                baseline TEXT NOT NULL,
                expression TEXT NOT NULL,
                start_offset TEXT,
                end_offset TEXT,
                columns TEXT,
                status TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL,
                last_scheduled_ms INTEGER
             );
             CREATE TABLE IF NOT EXISTS executions(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                schedule TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                trigger TEXT NOT NULL,
                scheduled_ms INTEGER NOT NULL,
                window_start_ms INTEGER NOT NULL,
                window_end_ms INTEGER NOT NULL,
                status TEXT NOT NULL,
                failure_reason TEXT,
                message TEXT,
                violations INTEGER,
                report_dir TEXT,
                created_ms INTEGER NOT NULL,
                started_ms INTEGER,
                ended_ms INTEGER
             );
             CREATE INDEX IF NOT EXISTS executions_by_schedule ON executions(schedule, id);",
        )
        .map_err(db)?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    // ---- baselines ----------------------------------------------------------------

    pub fn insert_baseline(&self, b: &BaselineInfo) -> Result<()> {
        self.conn
            .lock()
            .execute(
                "INSERT INTO baselines(name, created_ms, source, item_count, feature_count)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    b.name,
                    b.created_ms,
                    b.source,
                    b.item_count as i64,
                    b.feature_count as i64
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn baselines(&self) -> Result<Vec<BaselineInfo>> {
        let conn = self.conn.lock();
        let mut st = conn
            .prepare(
                "SELECT name, created_ms, source, item_count, feature_count FROM baselines ORDER BY name",
            )
            .map_err(db)?;
        let rows = st
            .query_map([], |r| {
                Ok(BaselineInfo {
                    name: r.get(0)?,
                    created_ms: r.get(1)?,
                    source: r.get(2)?,
                    item_count: r.get::<_, i64>(3)?.max(0) as u64,
                    feature_count: r.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    pub fn delete_baseline(&self, name: &str) -> Result<bool> {
        let n = self
            .conn
            .lock()
            .execute("DELETE FROM baselines WHERE name = ?1", [name])
            .map_err(db)?;
        Ok(n > 0)
    }

    // ---- schedules ----------------------------------------------------------------

    pub fn insert_schedule(&self, s: &Schedule) -> Result<()> {
        let columns = s
            .columns
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "[]".into()));
        self.conn
            .lock()
            .execute(
                &format!(
                    "INSERT INTO schedules({SCHEDULE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    s.name,
                    s.endpoint,
                    s.baseline,
                    s.expression,
                    s.window_start_offset,
                    s.window_end_offset,
                    columns,
                    s.status.as_str(),
                    s.created_ms,
                    s.updated_ms,
                    s.last_scheduled_ms
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn schedules(&self) -> Result<Vec<Schedule>> {
        let conn = self.conn.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"
            ))
            .map_err(db)?;
        let rows = st.query_map([], schedule_row).map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    pub fn set_status(&self, name: &str, status: ScheduleStatus, now: i64) -> Result<()> {
        self.conn
            .lock()
            .execute(
                "UPDATE schedules SET status = ?2, updated_ms = ?3 WHERE name = ?1",
                params![name, status.as_str(), now],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn set_last_scheduled(&self, name: &str, t: i64) -> Result<()> {
        self.conn
            .lock()
            .execute(
                "UPDATE schedules SET last_scheduled_ms = ?2 WHERE name = ?1",
                params![name, t],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Deletes a schedule and its executions in one transaction.
    pub fn delete_schedule(&self, name: &str) -> Result<bool> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM executions WHERE schedule = ?1", [name])
            .map_err(db)?;
        let n = tx
            .execute("DELETE FROM schedules WHERE name = ?1", [name])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(n > 0)
    }

    // ---- executions ---------------------------------------------------------------

    /// Stores a new execution; returns its id.
    pub fn insert_execution(&self, e: &Execution) -> Result<i64> {
        let conn = self.conn.lock();
        conn.execute(
            "INSERT INTO executions(schedule, endpoint, trigger, scheduled_ms, window_start_ms,
                window_end_ms, status, created_ms, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                e.schedule,
                e.endpoint,
                e.trigger.as_str(),
                e.scheduled_ms,
                e.window_start_ms,
                e.window_end_ms,
                e.status.as_str(),
                e.created_ms,
                e.started_ms
            ],
        )
        .map_err(db)?;
        Ok(conn.last_insert_rowid())
    }

    pub fn finish_execution(&self, id: i64, o: &Outcome<'_>) -> Result<()> {
        self.conn
            .lock()
            .execute(
                "UPDATE executions SET status = ?2, failure_reason = ?3, message = ?4,
                    violations = ?5, report_dir = ?6, ended_ms = ?7
                 WHERE id = ?1",
                params![
                    id,
                    o.status.as_str(),
                    o.failure_reason,
                    o.message,
                    o.violations.map(|v| v as i64),
                    o.report_dir,
                    o.ended_ms
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// A schedule's executions, newest first, optionally of one status.
    pub fn executions(
        &self,
        schedule: &str,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        let conn = self.conn.lock();
        let mut st = conn
            .prepare(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions
                 WHERE schedule = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY id DESC LIMIT ?3"
            ))
            .map_err(db)?;
        let rows = st
            .query_map(
                params![
                    schedule,
                    status.map(ExecutionStatus::as_str),
                    limit.min(i64::MAX as usize) as i64
                ],
                execution_row,
            )
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)
    }

    pub fn execution(&self, schedule: &str, id: i64) -> Result<Option<Execution>> {
        let conn = self.conn.lock();
        conn.query_row(
            &format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE schedule = ?1 AND id = ?2"),
            params![schedule, id],
            execution_row,
        )
        .optional()
        .map_err(db)
    }

    /// Deletes all but the newest `keep` executions of a schedule; returns the
    /// report folders no kept execution uses any more.
    pub fn prune(&self, schedule: &str, keep: usize) -> Result<Vec<String>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(db)?;
        let cutoff: Option<i64> = tx
            .query_row(
                "SELECT id FROM executions WHERE schedule = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                params![schedule, keep as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        let Some(cutoff) = cutoff else {
            return Ok(Vec::new());
        };
        let dirs: Vec<String> = {
            let mut st = tx
                .prepare(
                    "SELECT DISTINCT report_dir FROM executions
                     WHERE schedule = ?1 AND id <= ?2 AND report_dir IS NOT NULL
                       AND report_dir NOT IN (SELECT report_dir FROM executions
                           WHERE schedule = ?1 AND id > ?2 AND report_dir IS NOT NULL)",
                )
                .map_err(db)?;
            let rows = st
                .query_map(params![schedule, cutoff], |r| r.get(0))
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        tx.execute(
            "DELETE FROM executions WHERE schedule = ?1 AND id <= ?2",
            params![schedule, cutoff],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(dirs)
    }

    /// Marks executions left Pending or InProgress by a previous run of the
    /// server as Failed; returns how many.
    pub fn fail_interrupted(&self, now: i64, reason: &str) -> Result<usize> {
        self.conn
            .lock()
            .execute(
                "UPDATE executions SET status = 'Failed', failure_reason = ?2, ended_ms = ?1
                 WHERE status IN ('Pending', 'InProgress')",
                params![now, reason],
            )
            .map_err(db)
    }
}
