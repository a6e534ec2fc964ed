//! `alarms.db`: alarm configurations, their current state, and history.
//!
//! One SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged
//! `PutMetricAlarm` and every state change survive `kill -9` and power loss.
//! Every change is one transaction: the alarm row and the history items it
//! produced are written together or not at all.

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::{Error, Result, StateValue};

/// Kind of alarm, as `AlarmType` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmKind {
    Metric,
    Composite,
}

impl AlarmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Metric => "MetricAlarm",
            AlarmKind::Composite => "CompositeAlarm",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmKind> {
        match s {
            "MetricAlarm" => Some(AlarmKind::Metric),
            "CompositeAlarm" => Some(AlarmKind::Composite),
            _ => None,
        }
    }
}

/// The state part of an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmState {
    pub value: StateValue,
    pub reason: String,
    /// `StateReasonData` (JSON text), when there is any.
    pub reason_data: Option<String>,
    /// Last time the state (or its reason) was written.
    pub updated_ms: i64,
    /// Last time the state value changed.
    pub transitioned_ms: i64,
}

/// One row of `alarms`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlarm {
    pub name: String,
    pub kind: AlarmKind,
    /// The configuration as JSON (`MetricAlarmConfig` or `CompositeAlarmConfig`).
    pub config: String,
    pub config_updated_ms: i64,
    pub state: AlarmState,
}

/// `HistoryItemType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryType {
    ConfigurationUpdate,
    StateUpdate,
    Action,
}

impl HistoryType {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryType::ConfigurationUpdate => "ConfigurationUpdate",
            HistoryType::StateUpdate => "StateUpdate",
            HistoryType::Action => "Action",
        }
    }

    pub fn parse(s: &str) -> Option<HistoryType> {
        match s {
            "ConfigurationUpdate" => Some(HistoryType::ConfigurationUpdate),
            "StateUpdate" => Some(HistoryType::StateUpdate),
            "Action" => Some(HistoryType::Action),
            _ => None,
        }
    }
}

/// One alarm history item.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// Row id; increases with time. 0 before it is stored.
    pub id: i64,
    pub alarm_name: String,
    pub kind: AlarmKind,
    pub timestamp_ms: i64,
    pub item_type: HistoryType,
    /// At most 255 characters.
    pub summary: String,
    /// JSON, at most 4095 characters.
    pub data: String,
}

/// A `DescribeAlarmHistory` query.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub alarm_name: Option<String>,
    /// Empty: every kind.
    pub kinds: Vec<AlarmKind>,
    pub item_type: Option<HistoryType>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Oldest first when true (`ScanBy=TimestampAscending`).
    pub ascending: bool,
    /// Continue after this row id (from the previous page).
    pub after_id: Option<i64>,
    pub limit: usize,
}

pub struct Catalog {
    conn: Mutex<Connection>,
}

fn storage(e: rusqlite::Error) -> Error {
    Error::Storage(format!("alarm catalog: {e}"))
}

fn parse_state(s: &str) -> StateValue {
    StateValue::parse(s).unwrap_or(StateValue::InsufficientData)
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS alarms(
                name TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                config TEXT NOT NULL,
                config_updated_ms INTEGER NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                reason_data TEXT,
                state_updated_ms INTEGER NOT NULL,
                state_transitioned_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS history(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                ts_ms INTEGER NOT NULL,
                item_type TEXT NOT NULL,
                summary TEXT NOT NULL,
                data TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS outbox(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                target TEXT NOT NULL,
                notice TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS history_by_name ON history(name, id);
             CREATE INDEX IF NOT EXISTS history_by_time ON history(ts_ms);",
        )
        .map_err(storage)?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    /// Every stored alarm.
    pub fn load(&self) -> Result<Vec<StoredAlarm>> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare(
                "SELECT name, kind, config, config_updated_ms, state, reason, reason_data,
                        state_updated_ms, state_transitioned_ms FROM alarms ORDER BY name",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                let kind: String = r.get(1)?;
                let state: String = r.get(4)?;
                Ok(StoredAlarm {
                    name: r.get(0)?,
                    kind: AlarmKind::parse(&kind).unwrap_or(AlarmKind::Metric),
                    config: r.get(2)?,
                    config_updated_ms: r.get(3)?,
                    state: AlarmState {
                        value: parse_state(&state),
                        reason: r.get(5)?,
                        reason_data: r.get(6)?,
                        updated_ms: r.get(7)?,
                        transitioned_ms: r.get(8)?,
                    },
                })
            })
            .map_err(storage)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
    }

    /// Applies one change atomically: rows to insert or replace, state
    /// updates, deletions and history items.
    pub fn apply(&self, change: &Change<'_>) -> Result<()> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(storage)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO alarms(name, kind, config, config_updated_ms, state,
                        reason, reason_data, state_updated_ms, state_transitioned_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(storage)?;
            for a in change.put {
                put.execute(params![
                    a.name,
                    a.kind.as_str(),
                    a.config,
                    a.config_updated_ms,
                    a.state.value.as_str(),
                    a.state.reason,
                    a.state.reason_data,
                    a.state.updated_ms,
                    a.state.transitioned_ms,
                ])
                .map_err(storage)?;
            }
            let mut upd = tx
                .prepare_cached(
                    "UPDATE alarms SET state = ?2, reason = ?3, reason_data = ?4,
                        state_updated_ms = ?5, state_transitioned_ms = ?6 WHERE name = ?1",
                )
                .map_err(storage)?;
            for (name, s) in change.states {
                upd.execute(params![
                    name,
                    s.value.as_str(),
                    s.reason,
                    s.reason_data,
                    s.updated_ms,
                    s.transitioned_ms,
                ])
                .map_err(storage)?;
            }
            let mut del = tx
                .prepare_cached("DELETE FROM alarms WHERE name = ?1")
                .map_err(storage)?;
            for name in change.delete {
                del.execute(params![name]).map_err(storage)?;
            }
            let mut hist = tx
                .prepare_cached(
                    "INSERT INTO history(name, kind, ts_ms, item_type, summary, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(storage)?;
            for h in change.history {
                hist.execute(params![
                    h.alarm_name,
                    h.kind.as_str(),
                    h.timestamp_ms,
                    h.item_type.as_str(),
                    h.summary,
                    h.data,
                ])
                .map_err(storage)?;
            }
            let mut out = tx
                .prepare_cached("INSERT INTO outbox(target, notice) VALUES (?1, ?2)")
                .map_err(storage)?;
            for (target, notice) in change.outbox {
                out.execute(params![target, notice]).map_err(storage)?;
            }
            let mut done = tx
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .map_err(storage)?;
            for id in change.outbox_done {
                done.execute(params![id]).map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }

    /// Actions recorded with their state change but not yet handed to the
    /// action sink, oldest first: `(id, target, notice JSON)`.
    pub fn outbox(&self, limit: usize) -> Result<Vec<(i64, String, String)>> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, target, notice FROM outbox ORDER BY id LIMIT ?1")
            .map_err(storage)?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(storage)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
    }

    /// One page of history, newest first unless `q.ascending`.
    pub fn history(&self, q: &HistoryQuery) -> Result<Vec<HistoryItem>> {
        let mut sql = String::from(
            "SELECT id, name, kind, ts_ms, item_type, summary, data FROM history WHERE 1=1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(n) = &q.alarm_name {
            args.push(n.clone().into());
            sql.push_str(&format!(" AND name = ?{}", args.len()));
        }
        if !q.kinds.is_empty() {
            let list: Vec<String> = q
                .kinds
                .iter()
                .map(|k| format!("'{}'", k.as_str()))
                .collect();
            sql.push_str(&format!(" AND kind IN ({})", list.join(",")));
        }
        if let Some(t) = q.item_type {
            args.push(t.as_str().to_owned().into());
            sql.push_str(&format!(" AND item_type = ?{}", args.len()));
        }
        if let Some(s) = q.start_ms {
            args.push(s.into());
            sql.push_str(&format!(" AND ts_ms >= ?{}", args.len()));
        }
        if let Some(e) = q.end_ms {
            args.push(e.into());
            sql.push_str(&format!(" AND ts_ms <= ?{}", args.len()));
        }
        if let Some(after) = q.after_id {
            args.push(after.into());
            let cmp = if q.ascending { ">" } else { "<" };
            sql.push_str(&format!(" AND id {cmp} ?{}", args.len()));
        }
        sql.push_str(if q.ascending {
            " ORDER BY id ASC"
        } else {
            " ORDER BY id DESC"
        });
        args.push((q.limit as i64).into());
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&sql).map_err(storage)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                let kind: String = r.get(2)?;
                let item: String = r.get(4)?;
                Ok(HistoryItem {
                    id: r.get(0)?,
                    alarm_name: r.get(1)?,
                    kind: AlarmKind::parse(&kind).unwrap_or(AlarmKind::Metric),
                    timestamp_ms: r.get(3)?,
                    item_type: HistoryType::parse(&item).unwrap_or(HistoryType::StateUpdate),
                    summary: r.get(5)?,
                    data: r.get(6)?,
                })
            })
            .map_err(storage)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
    }

    /// Deletes history older than `before_ms` (AWS keeps 30 days).
    pub fn prune_history(&self, before_ms: i64) -> Result<usize> {
        let conn = self.conn.lock();
        conn.execute("DELETE FROM history WHERE ts_ms < ?1", params![before_ms])
            .map_err(storage)
    }

    /// The stored state of one alarm (tests and tools).
    pub fn state_of(&self, name: &str) -> Result<Option<AlarmState>> {
        let conn = self.conn.lock();
        conn.query_row(
            "SELECT state, reason, reason_data, state_updated_ms, state_transitioned_ms
             FROM alarms WHERE name = ?1",
            params![name],
            |r| {
                let state: String = r.get(0)?;
                Ok(AlarmState {
                    value: parse_state(&state),
                    reason: r.get(1)?,
                    reason_data: r.get(2)?,
                    updated_ms: r.get(3)?,
                    transitioned_ms: r.get(4)?,
                })
            },
        )
        .optional()
        .map_err(storage)
    }
}

/// What one [`Catalog::apply`] writes.
#[derive(Default)]
pub struct Change<'a> {
    pub put: &'a [StoredAlarm],
    pub states: &'a [(String, AlarmState)],
    pub delete: &'a [String],
    pub history: &'a [HistoryItem],
    /// Actions to hand to the sink: `(target, notice JSON)`.
    pub outbox: &'a [(String, String)],
    /// Outbox rows that were handed over.
    pub outbox_done: &'a [i64],
}
