//! The SQLite file `notify.db`: topics, subscriptions and the delivery queue.
//!
//! One connection behind a mutex serves the management calls, `enqueue` and
//! the delivery workers; everything it does is a short statement, never a
//! network call. The file runs in WAL mode with `synchronous=FULL`, so a
//! delivery `enqueue` recorded is on disk when the call returns.
//!
//! A delivery row is a snapshot: it carries the kind and endpoint of its
//! subscription and the rendered alarm JSON, so unsubscribing or deleting a
//! topic later does not change what was already queued (as with SNS). Hook
//! rows name the hook only; its program or URL is read from the config at
//! delivery time, so a command can only ever come from the config file.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::{Delivery, Subscription};

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
PRAGMA foreign_keys=ON;
CREATE TABLE IF NOT EXISTS topics (
    name       TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id         TEXT PRIMARY KEY,
    topic      TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    protocol   TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (topic, protocol, endpoint)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_name      TEXT NOT NULL,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    message         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending
    ON deliveries (status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS deliveries_alarm
    ON deliveries (alarm_name, id);
";

/// What kind of endpoint a delivery goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Topic subscription, protocol `http` or `https`: SNS envelope POST.
    Http,
    /// Topic subscription, protocol `email`: SMTP.
    Email,
    /// A hook from the config (webhook or command), looked up by name.
    Hook,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Email => "email",
            Kind::Hook => "hook",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "http" => Some(Kind::Http),
            "email" => Some(Kind::Email),
            "hook" => Some(Kind::Hook),
            _ => None,
        }
    }
}

/// One delivery to insert.
pub(crate) struct NewDelivery<'a> {
    pub alarm_name: &'a str,
    pub target: &'a str,
    pub kind: Kind,
    pub endpoint: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
}

/// A pending delivery as the worker needs it.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: i64,
    pub target: String,
    /// `None` when the row holds a kind this version does not know.
    pub kind: Option<Kind>,
    pub endpoint: String,
    pub message_id: String,
    pub subject: String,
    pub message: String,
    pub attempts: u32,
    pub created_ms: i64,
}

pub(crate) struct Store {
    db: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Store { db })
    }

    pub fn topic_exists(&self, name: &str) -> Result<bool> {
        Ok(self
            .db
            .query_row("SELECT 1 FROM topics WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn topic_count(&self) -> Result<usize> {
        let n: i64 = self
            .db
            .query_row("SELECT COUNT(*) FROM topics", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    pub fn insert_topic(&self, name: &str, now: i64) -> Result<()> {
        self.db.execute(
            "INSERT OR IGNORE INTO topics (name, created_ms) VALUES (?1, ?2)",
            params![name, now],
        )?;
        Ok(())
    }

    /// Deletes the topic and its subscriptions; false when it did not exist.
    pub fn delete_topic(&self, name: &str) -> Result<bool> {
        Ok(self
            .db
            .execute("DELETE FROM topics WHERE name = ?1", [name])?
            > 0)
    }

    pub fn topic_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.db.prepare("SELECT name FROM topics ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn subscription_count(&self, topic: &str) -> Result<usize> {
        let n: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM subscriptions WHERE topic = ?1",
            [topic],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// The id of an existing identical subscription, if any.
    pub fn find_subscription(
        &self,
        topic: &str,
        protocol: &str,
        endpoint: &str,
    ) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT id FROM subscriptions WHERE topic = ?1 AND protocol = ?2 AND endpoint = ?3",
                params![topic, protocol, endpoint],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn insert_subscription(&self, sub: &Subscription) -> Result<()> {
        self.db.execute(
            "INSERT INTO subscriptions (id, topic, protocol, endpoint, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                sub.id,
                sub.topic,
                sub.protocol,
                sub.endpoint,
                sub.created_ms
            ],
        )?;
        Ok(())
    }

    /// Deletes one subscription; false when it did not exist.
    pub fn delete_subscription(&self, id: &str) -> Result<bool> {
        Ok(self
            .db
            .execute("DELETE FROM subscriptions WHERE id = ?1", [id])?
            > 0)
    }

    pub fn subscriptions(&self, topic: &str) -> Result<Vec<Subscription>> {
        let mut stmt = self.db.prepare(
            "SELECT id, topic, protocol, endpoint, created_ms FROM subscriptions
             WHERE topic = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([topic], |r| {
            Ok(Subscription {
                id: r.get(0)?,
                topic: r.get(1)?,
                protocol: r.get(2)?,
                endpoint: r.get(3)?,
                created_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Inserts deliveries as `pending`, due now, in one transaction.
    pub fn insert_deliveries(&mut self, rows: &[NewDelivery<'_>], now: i64) -> Result<()> {
        let tx = self.db.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO deliveries (alarm_name, target, kind, endpoint, message_id, subject,
                     message, status, attempts, next_attempt_ms, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8, ?8)",
            )?;
            for d in rows {
                stmt.execute(params![
                    d.alarm_name,
                    d.target,
                    d.kind.as_str(),
                    d.endpoint,
                    d.message_id,
                    d.subject,
                    d.message,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes all but the newest `keep` deliveries; returns how many went.
    pub fn prune(&self, keep: usize) -> Result<usize> {
        Ok(self.db.execute(
            "DELETE FROM deliveries WHERE id <= (
                 SELECT id FROM deliveries ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            [keep as i64],
        )?)
    }

    /// Pending deliveries due at `now`, oldest first, at most `limit`.
    pub fn due(&self, now: i64, limit: usize) -> Result<Vec<Job>> {
        let mut stmt = self.db.prepare(
            "SELECT id, target, kind, endpoint, message_id, subject, message, attempts, created_ms
             FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?1
             ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now, limit as i64], |r| {
            let kind: String = r.get(2)?;
            Ok(Job {
                id: r.get(0)?,
                target: r.get(1)?,
                kind: Kind::parse(&kind),
                endpoint: r.get(3)?,
                message_id: r.get(4)?,
                subject: r.get(5)?,
                message: r.get(6)?,
                attempts: r.get(7)?,
                created_ms: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The earliest `next_attempt_ms` of a pending delivery due after `now`.
    pub fn next_due_after(&self, now: i64) -> Result<Option<i64>> {
        Ok(self.db.query_row(
            "SELECT MIN(next_attempt_ms) FROM deliveries
             WHERE status = 'pending' AND next_attempt_ms > ?1",
            [now],
            |r| r.get(0),
        )?)
    }

    pub fn mark_delivered(&self, id: i64, attempts: u32, now: i64) -> Result<()> {
        self.db.execute(
            "UPDATE deliveries SET status = 'delivered', attempts = ?2, last_error = NULL,
                 updated_ms = ?3 WHERE id = ?1",
            params![id, attempts, now],
        )?;
        Ok(())
    }

    /// Records a failed attempt: `pending` again at `retry_at`, or `failed`
    /// for good when `retry_at` is `None`.
    pub fn mark_attempt_failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let (status, next) = match retry_at {
            Some(at) => ("pending", at),
            None => ("failed", now),
        };
        self.db.execute(
            "UPDATE deliveries SET status = ?2, attempts = ?3, last_error = ?4,
                 next_attempt_ms = ?5, updated_ms = ?6 WHERE id = ?1",
            params![id, status, attempts, error, next, now],
        )?;
        Ok(())
    }

    /// Deliveries newest first, optionally of one alarm.
    pub fn deliveries(&self, alarm: Option<&str>, limit: usize) -> Result<Vec<Delivery>> {
        let mut stmt = self.db.prepare(
            "SELECT id, alarm_name, target, endpoint, status, attempts, last_error,
                    created_ms, updated_ms
             FROM deliveries WHERE (?1 IS NULL OR alarm_name = ?1)
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![alarm, limit as i64], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                alarm_name: r.get(1)?,
                target: r.get(2)?,
                endpoint: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                created_ms: r.get(7)?,
                updated_ms: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
