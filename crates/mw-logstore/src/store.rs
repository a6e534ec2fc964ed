//! [`LogStore`]: catalog, write-ahead log, in-memory head, block segments.
//!
//! SQLite (`logs.db`) holds groups, streams, metric filters, the block index and
//! `meta.applied_wal`. Events are acknowledged once in the write-ahead log and the
//! head; a checkpoint sorts each stream's head events into compressed blocks,
//! appends them to a new segment file, fsyncs it, and indexes the blocks in the
//! same transaction that advances `applied_wal`. Scans merge blocks and the head
//! in (timestamp, seq) order.

use crate::block::{self, Block, Event, EventRef};
use crate::emf::{self, Emf};
use crate::error::{Error, Result};
use crate::filters::{CompiledFilter, MetricFilter, Transformation};
use crate::names::*;
use mw_model::{Datum, Unit};
use mw_wal::{self as wal, SyncMode, Wal};
use parking_lot::{Mutex, RwLock};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const TWO_HOURS_MS: i64 = 2 * 3_600_000;
const FOURTEEN_DAYS_MS: i64 = 14 * 86_400_000;
const DAY_MS: i64 = 86_400_000;

/// Settings of a log store.
#[derive(Debug, Clone)]
pub struct LogStoreConfig {
    pub dir: PathBuf,
    pub sync: SyncMode,
    /// Checkpoint early once the head holds this many message bytes.
    pub head_limit_bytes: usize,
    /// Raw size a block aims for (LZ4's window is 64 KiB, so larger blocks
    /// barely compress better, while smaller ones let the n-gram filters skip
    /// more of a scan).
    pub block_bytes: usize,
    /// Most log groups, and most streams per group.
    pub max_groups: usize,
    pub max_streams_per_group: usize,
}

impl LogStoreConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LogStoreConfig {
            dir: dir.into(),
            sync: SyncMode::Always,
            head_limit_bytes: 64 << 20,
            block_bytes: 64 << 10,
            max_groups: 100_000,
            max_streams_per_group: 100_000,
        }
    }
}

/// A log group as DescribeLogGroups shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub id: i64,
    pub name: String,
    pub created: i64,
    pub retention_days: Option<u32>,
    pub class: String,
    pub stored_bytes: i64,
    pub metric_filter_count: usize,
}

/// A log stream as DescribeLogStreams shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub id: i64,
    pub name: String,
    pub created: i64,
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub last_ingestion: Option<i64>,
    pub stored_bytes: i64,
}

/// One event of a PutLogEvents call.
#[derive(Debug, Clone, Copy)]
pub struct InputEvent<'a> {
    pub timestamp: i64,
    pub message: &'a str,
}

/// `rejectedLogEventsInfo` of a PutLogEvents call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejected {
    pub too_new_start: Option<usize>,
    pub too_old_end: Option<usize>,
    pub expired_end: Option<usize>,
}

/// What a PutLogEvents call did.
#[derive(Debug, Default)]
pub struct PutOutcome {
    pub accepted: usize,
    pub rejected: Option<Rejected>,
    /// Metric data from metric filters and EMF documents, for the metric store.
    pub datums: Vec<Datum>,
    /// Events that claimed to be EMF but broke the specification.
    pub emf_invalid: usize,
}

/// Which streams of a group a scan reads.
#[derive(Debug, Clone, Copy)]
pub enum StreamSel<'a> {
    All,
    Names(&'a [String]),
    Prefix(&'a str),
}

/// A scan over a group's events in (timestamp, seq) order.
pub struct Scan<'a> {
    pub group: &'a str,
    pub streams: StreamSel<'a>,
    /// Inclusive.
    pub start: i64,
    /// Exclusive.
    pub end: i64,
    /// Oldest first when true.
    pub forward: bool,
    /// Resume strictly after (forward) or before (backward) this (timestamp, seq).
    pub after: Option<(i64, u64)>,
    /// Only events whose message passes this reach the callback.
    pub filter: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
    /// Bytes every passing message contains: blocks are searched for them as a
    /// whole and only the events holding them are tested with `filter`.
    pub literal: Option<&'a [u8]>,
}

/// Work done by a scan.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanStats {
    pub records_scanned: u64,
    pub bytes_scanned: u64,
    /// Blocks ruled out by their n-gram filter without being read.
    pub blocks_skipped: u64,
}

struct GroupState {
    info: GroupInfo,
    streams: BTreeMap<String, StreamInfo>,
    filters: BTreeMap<String, Arc<CompiledFilter>>,
}

#[derive(Default)]
struct Catalog {
    groups: BTreeMap<String, GroupState>,
    /// stream id → (group, stream)
    streams: HashMap<i64, (String, String)>,
}

#[derive(Default)]
struct Head {
    streams: HashMap<i64, Vec<Event>>,
    bytes: usize,
}

/// A block's place on disk.
#[derive(Debug, Clone, Copy)]
struct BlockMeta {
    /// Bytes of n-gram filter stored right before the block.
    filter_len: i64,
    min_ts: i64,
    max_ts: i64,
    segment: i64,
    offset: i64,
    len: i64,
}

/// The embedded log store.
pub struct LogStore {
    cfg: LogStoreConfig,
    catalog: RwLock<Catalog>,
    gate: RwLock<()>,
    wal: Wal,
    head: Mutex<Head>,
    frozen: RwLock<Option<Arc<Head>>>,
    db: Mutex<Connection>,
    reader: Mutex<Connection>,
    checkpointing: Mutex<()>,
    seq: AtomicU64,
    next_segment: AtomicU64,
}

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    retention_days INTEGER,
    class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_event INTEGER,
    last_event INTEGER,
    last_ingestion INTEGER,
    UNIQUE (group_id, name)
);
CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY, live INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    len INTEGER NOT NULL,
    filter_len INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_by_stream ON blocks (stream_id, min_ts);
CREATE TABLE IF NOT EXISTS metric_filters (
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    transformation TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (group_id, name)
);
";

fn segment_path(dir: &Path, id: i64) -> PathBuf {
    dir.join("segments").join(format!("{id:010}.seg"))
}

fn transformation_json(t: &Transformation) -> String {
    serde_json::json!({
        "metricName": t.metric_name,
        "metricNamespace": t.namespace,
        "metricValue": t.value,
        "defaultValue": t.default_value,
        "dimensions": t.dimensions.iter().cloned().collect::<BTreeMap<String, String>>(),
        "unit": t.unit.as_str(),
    })
    .to_string()
}

fn transformation_from_json(s: &str) -> Option<Transformation> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    Some(Transformation {
        metric_name: v.get("metricName")?.as_str()?.to_string(),
        namespace: v.get("metricNamespace")?.as_str()?.to_string(),
        value: v.get("metricValue")?.as_str()?.to_string(),
        default_value: v.get("defaultValue").and_then(serde_json::Value::as_f64),
        dimensions: v
            .get("dimensions")
            .and_then(|d| d.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        unit: Unit::parse(v.get("unit")?.as_str()?, "unit").ok()?,
    })
}

// ---- write-ahead log record: one accepted batch of one stream ----

fn encode_record(stream: i64, events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + events.iter().map(block::encoded_len).sum::<usize>());
    out.push(1);
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        out.extend_from_slice(&e.timestamp.to_le_bytes());
        out.extend_from_slice(&e.ingestion.to_le_bytes());
        out.extend_from_slice(&e.seq.to_le_bytes());
        out.extend_from_slice(&(e.message.len() as u32).to_le_bytes());
        out.extend_from_slice(e.message.as_bytes());
    }
    out
}

fn decode_record(buf: &[u8]) -> Result<(i64, Vec<Event>)> {
    let bad = || Error::Internal("corrupt log write-ahead record".into());
    let take = |pos: &mut usize, n: usize| -> Result<&[u8]> {
        let s = buf.get(*pos..*pos + n).ok_or_else(bad)?;
        *pos += n;
        Ok(s)
    };
    let mut pos = 0;
    if take(&mut pos, 1)?[0] != 1 {
        return Err(bad());
    }
    let stream = i64::from_le_bytes(take(&mut pos, 8)?.try_into().expect("8 bytes"));
    let n = u32::from_le_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes")) as usize;
    let mut events = Vec::with_capacity(n.min(MAX_BATCH_EVENTS));
    for _ in 0..n {
        let timestamp = i64::from_le_bytes(take(&mut pos, 8)?.try_into().expect("8 bytes"));
        let ingestion = i64::from_le_bytes(take(&mut pos, 8)?.try_into().expect("8 bytes"));
        let seq = u64::from_le_bytes(take(&mut pos, 8)?.try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(take(&mut pos, 4)?.try_into().expect("4 bytes")) as usize;
        let message = String::from_utf8(take(&mut pos, len)?.to_vec()).map_err(|_| bad())?;
        events.push(Event {
            timestamp,
            ingestion,
            seq,
            message,
        });
    }
    Ok((stream, events))
}

fn not_found_group() -> Error {
    Error::NotFound("The specified log group does not exist.".into())
}

fn not_found_stream() -> Error {
    Error::NotFound("The specified log stream does not exist.".into())
}

impl LogStore {
    /// Opens (or creates) the store in `cfg.dir`, replaying the write-ahead log.
    pub fn open(cfg: LogStoreConfig) -> Result<LogStore> {
        std::fs::create_dir_all(cfg.dir.join("segments"))?;
        let db_path = cfg.dir.join("logs.db");
        let db = Connection::open(&db_path)?;
        db.execute_batch(SCHEMA)?;
        let reader = Connection::open(&db_path)?;
        reader.execute_batch("PRAGMA query_only=ON;")?;
        let mut cat = Catalog::default();
        {
            let mut stmt =
                db.prepare("SELECT id, name, created, retention_days, class FROM groups")?;
            let rows = stmt.query_map([], |r| {
                Ok(GroupInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created: r.get(2)?,
                    retention_days: r.get(3)?,
                    class: r.get(4)?,
                    stored_bytes: 0,
                    metric_filter_count: 0,
                })
            })?;
            let mut by_id = HashMap::new();
            for g in rows {
                let g = g?;
                by_id.insert(g.id, g.name.clone());
                cat.groups.insert(
                    g.name.clone(),
                    GroupState {
                        info: g,
                        streams: BTreeMap::new(),
                        filters: BTreeMap::new(),
                    },
                );
            }
            let mut stmt = db.prepare(
                "SELECT s.id, s.group_id, s.name, s.created, s.first_event, s.last_event, s.last_ingestion,
                        (SELECT COALESCE(SUM(len), 0) FROM blocks b WHERE b.stream_id = s.id)
                 FROM streams s",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(1)?,
                    StreamInfo {
                        id: r.get(0)?,
                        name: r.get(2)?,
                        created: r.get(3)?,
                        first_event: r.get(4)?,
                        last_event: r.get(5)?,
                        last_ingestion: r.get(6)?,
                        stored_bytes: r.get(7)?,
                    },
                ))
            })?;
            for row in rows {
                let (gid, s) = row?;
                if let Some(gname) = by_id.get(&gid) {
                    if let Some(g) = cat.groups.get_mut(gname) {
                        g.info.stored_bytes += s.stored_bytes;
                        cat.streams.insert(s.id, (gname.clone(), s.name.clone()));
                        g.streams.insert(s.name.clone(), s);
                    }
                }
            }
            let mut stmt = db.prepare(
                "SELECT group_id, name, pattern, transformation, created FROM metric_filters",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (gid, name, pattern, tjson, created) = row?;
                let (Some(gname), Some(t)) = (by_id.get(&gid), transformation_from_json(&tjson))
                else {
                    continue;
                };
                let Ok(compiled) = mw_filterpattern::FilterPattern::parse(&pattern) else {
                    tracing::warn!(filter = %name, "stored metric filter pattern no longer parses; skipped");
                    continue;
                };
                if let Some(g) = cat.groups.get_mut(gname) {
                    let def = MetricFilter {
                        group: gname.clone(),
                        name: name.clone(),
                        pattern,
                        transformation: t,
                        created,
                    };
                    g.filters.insert(
                        name,
                        Arc::new(CompiledFilter {
                            def,
                            pattern: compiled,
                        }),
                    );
                    g.info.metric_filter_count = g.filters.len();
                }
            }
        }
        let applied: u64 = db
            .query_row("SELECT value FROM meta WHERE key='applied_wal'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0) as u64;
        let max_seq: u64 = db
            .query_row("SELECT value FROM meta WHERE key='max_seq'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0) as u64;
        let max_segment: i64 =
            db.query_row("SELECT COALESCE(MAX(id), 0) FROM segments", [], |r| {
                r.get(0)
            })?;
        // Segment files written by a checkpoint that never committed.
        for entry in std::fs::read_dir(cfg.dir.join("segments"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(id) = name
                .strip_suffix(".seg")
                .and_then(|s| s.parse::<i64>().ok())
            {
                let known: Option<i64> = db
                    .query_row("SELECT id FROM segments WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?;
                if known.is_none() {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }

        let wal_dir = cfg.dir.join("wal");
        std::fs::create_dir_all(&wal_dir)?;
        let mut head = Head::default();
        let mut seq = max_seq;
        let files = wal::list(&wal_dir)?;
        for s in files.iter().copied().filter(|s| *s > applied) {
            wal::replay(&wal_dir, s, |payload| -> Result<()> {
                let (stream, events) = decode_record(payload)?;
                if cat.streams.contains_key(&stream) {
                    for e in &events {
                        seq = seq.max(e.seq);
                        head.bytes += e.message.len();
                    }
                    head.streams.entry(stream).or_default().extend(events);
                }
                Ok(())
            })?;
        }
        let next = files.last().copied().unwrap_or(0).max(applied) + 1;
        let wal = Wal::create(&wal_dir, next, cfg.sync)?;
        let store = LogStore {
            cfg,
            catalog: RwLock::new(cat),
            gate: RwLock::new(()),
            wal,
            head: Mutex::new(head),
            frozen: RwLock::new(None),
            db: Mutex::new(db),
            reader: Mutex::new(reader),
            checkpointing: Mutex::new(()),
            seq: AtomicU64::new(seq),
            next_segment: AtomicU64::new(max_segment as u64 + 1),
        };
        store.checkpoint()?;
        Ok(store)
    }

    // ---- groups and streams ----

    pub fn create_group(&self, name: &str, class: Option<&str>, now: i64) -> Result<()> {
        check_group_name(name)?;
        let class = class.unwrap_or("STANDARD");
        if !matches!(
            class,
            "STANDARD" | "INFREQUENT_ACCESS" | "DELIVERY" | "ESSENTIALS"
        ) {
            return Err(Error::invalid(format!("Invalid logGroupClass {class}")));
        }
        let mut cat = self.catalog.write();
        if cat.groups.contains_key(name) {
            return Err(Error::AlreadyExists(
                "The specified log group already exists".into(),
            ));
        }
        if cat.groups.len() >= self.cfg.max_groups {
            return Err(Error::LimitExceeded(
                "Resource limit exceeded: too many log groups".into(),
            ));
        }
        let db = self.db.lock();
        db.execute(
            "INSERT INTO groups (name, created, retention_days, class) VALUES (?1, ?2, NULL, ?3)",
            params![name, now, class],
        )?;
        let id = db.last_insert_rowid();
        cat.groups.insert(
            name.to_string(),
            GroupState {
                info: GroupInfo {
                    id,
                    name: name.to_string(),
                    created: now,
                    retention_days: None,
                    class: class.to_string(),
                    stored_bytes: 0,
                    metric_filter_count: 0,
                },
                streams: BTreeMap::new(),
                filters: BTreeMap::new(),
            },
        );
        Ok(())
    }

    pub fn delete_group(&self, name: &str) -> Result<()> {
        let mut cat = self.catalog.write();
        let g = cat.groups.get(name).ok_or_else(not_found_group)?;
        let gid = g.info.id;
        let stream_ids: Vec<i64> = g.streams.values().map(|s| s.id).collect();
        let removed = {
            let mut db = self.db.lock();
            let tx = db.transaction()?;
            let mut removed = Vec::new();
            for sid in &stream_ids {
                removed.extend(delete_stream_rows(&tx, *sid)?);
            }
            tx.execute("DELETE FROM metric_filters WHERE group_id = ?1", [gid])?;
            tx.execute("DELETE FROM groups WHERE id = ?1", [gid])?;
            tx.commit()?;
            removed
        };
        self.drop_segments(&removed);
        {
            let mut head = self.head.lock();
            for sid in &stream_ids {
                if let Some(ev) = head.streams.remove(sid) {
                    head.bytes -= ev.iter().map(|e| e.message.len()).sum::<usize>();
                }
            }
        }
        for sid in &stream_ids {
            cat.streams.remove(sid);
        }
        cat.groups.remove(name);
        Ok(())
    }

    pub fn create_stream(&self, group: &str, name: &str, now: i64) -> Result<()> {
        check_stream_name(name)?;
        let mut cat = self.catalog.write();
        let g = cat.groups.get(group).ok_or_else(not_found_group)?;
        if g.streams.contains_key(name) {
            return Err(Error::AlreadyExists(
                "The specified log stream already exists".into(),
            ));
        }
        if g.streams.len() >= self.cfg.max_streams_per_group {
            return Err(Error::LimitExceeded(
                "Resource limit exceeded: too many log streams".into(),
            ));
        }
        let gid = g.info.id;
        let id = {
            let db = self.db.lock();
            db.execute(
                "INSERT INTO streams (group_id, name, created) VALUES (?1, ?2, ?3)",
                params![gid, name, now],
            )?;
            db.last_insert_rowid()
        };
        cat.streams
            .insert(id, (group.to_string(), name.to_string()));
        if let Some(g) = cat.groups.get_mut(group) {
            g.streams.insert(
                name.to_string(),
                StreamInfo {
                    id,
                    name: name.to_string(),
                    created: now,
                    first_event: None,
                    last_event: None,
                    last_ingestion: None,
                    stored_bytes: 0,
                },
            );
        }
        Ok(())
    }

    pub fn delete_stream(&self, group: &str, name: &str) -> Result<()> {
        let mut cat = self.catalog.write();
        let g = cat.groups.get(group).ok_or_else(not_found_group)?;
        let s = g.streams.get(name).ok_or_else(not_found_stream)?;
        let (sid, bytes) = (s.id, s.stored_bytes);
        let removed = {
            let mut db = self.db.lock();
            let tx = db.transaction()?;
            let removed = delete_stream_rows(&tx, sid)?;
            tx.commit()?;
            removed
        };
        self.drop_segments(&removed);
        {
            let mut head = self.head.lock();
            if let Some(ev) = head.streams.remove(&sid) {
                head.bytes -= ev.iter().map(|e| e.message.len()).sum::<usize>();
            }
        }
        cat.streams.remove(&sid);
        if let Some(g) = cat.groups.get_mut(group) {
            g.streams.remove(name);
            g.info.stored_bytes -= bytes;
        }
        Ok(())
    }

    fn drop_segments(&self, segments: &[i64]) {
        for id in segments {
            if let Err(e) = std::fs::remove_file(segment_path(&self.cfg.dir, *id)) {
                tracing::warn!(segment = id, error = %e, "could not remove an empty log segment");
            }
        }
    }

    /// Groups sorted by name.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.catalog
            .read()
            .groups
            .values()
            .map(|g| g.info.clone())
            .collect()
    }

    pub fn group(&self, name: &str) -> Result<GroupInfo> {
        self.catalog
            .read()
            .groups
            .get(name)
            .map(|g| g.info.clone())
            .ok_or_else(not_found_group)
    }

    /// Streams of a group sorted by name.
    pub fn streams(&self, group: &str) -> Result<Vec<StreamInfo>> {
        let cat = self.catalog.read();
        let g = cat.groups.get(group).ok_or_else(not_found_group)?;
        Ok(g.streams.values().cloned().collect())
    }

    pub fn put_retention(&self, group: &str, days: Option<u32>) -> Result<()> {
        let mut cat = self.catalog.write();
        let g = cat.groups.get_mut(group).ok_or_else(not_found_group)?;
        self.db.lock().execute(
            "UPDATE groups SET retention_days = ?1 WHERE id = ?2",
            params![days, g.info.id],
        )?;
        g.info.retention_days = days;
        Ok(())
    }

    // ---- metric filters ----

    pub fn put_metric_filter(&self, def: MetricFilter) -> Result<()> {
        let pattern = mw_filterpattern::FilterPattern::parse(&def.pattern)
            .map_err(|e| Error::invalid(format!("Invalid metric filter pattern: {e}")))?;
        let mut cat = self.catalog.write();
        let g = cat.groups.get_mut(&def.group).ok_or_else(not_found_group)?;
        if !g.filters.contains_key(&def.name) && g.filters.len() >= MAX_METRIC_FILTERS {
            return Err(Error::LimitExceeded(format!(
                "Resource limit exceeded: at most {MAX_METRIC_FILTERS} metric filters per log group"
            )));
        }
        if pattern.uses_regex() {
            let others = g
                .filters
                .values()
                .filter(|f| f.def.name != def.name && f.pattern.uses_regex())
                .count();
            if others >= MAX_REGEX_FILTERS {
                return Err(Error::LimitExceeded(format!(
                    "Resource limit exceeded: at most {MAX_REGEX_FILTERS} metric filters with regex patterns per log group"
                )));
            }
        }
        self.db.lock().execute(
            "INSERT OR REPLACE INTO metric_filters (group_id, name, pattern, transformation, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![g.info.id, def.name, def.pattern, transformation_json(&def.transformation), def.created],
        )?;
        g.filters
            .insert(def.name.clone(), Arc::new(CompiledFilter { def, pattern }));
        g.info.metric_filter_count = g.filters.len();
        Ok(())
    }

    pub fn delete_metric_filter(&self, group: &str, name: &str) -> Result<()> {
        let mut cat = self.catalog.write();
        let g = cat.groups.get_mut(group).ok_or_else(not_found_group)?;
        if !g.filters.contains_key(name) {
            return Err(Error::NotFound(
                "The specified resource does not exist.".into(),
            ));
        }
        self.db.lock().execute(
            "DELETE FROM metric_filters WHERE group_id = ?1 AND name = ?2",
            params![g.info.id, name],
        )?;
        g.filters.remove(name);
        g.info.metric_filter_count = g.filters.len();
        Ok(())
    }

    /// Metric filters, of one group or all, sorted by group then name.
    pub fn metric_filters(&self, group: Option<&str>) -> Result<Vec<MetricFilter>> {
        let cat = self.catalog.read();
        match group {
            Some(g) => Ok(cat
                .groups
                .get(g)
                .ok_or_else(not_found_group)?
                .filters
                .values()
                .map(|f| f.def.clone())
                .collect()),
            None => Ok(cat
                .groups
                .values()
                .flat_map(|g| g.filters.values().map(|f| f.def.clone()))
                .collect()),
        }
    }

    // ---- ingest ----

    /// PutLogEvents: validates the batch as AWS does, stores the accepted events,
    /// and returns what metric filters and EMF documents made of them.
    pub fn put_events(
        &self,
        group: &str,
        stream: &str,
        input: &[InputEvent],
        now: i64,
    ) -> Result<PutOutcome> {
        let (sid, retention, filters) = {
            let cat = self.catalog.read();
            let g = cat.groups.get(group).ok_or_else(not_found_group)?;
            let s = g.streams.get(stream).ok_or_else(not_found_stream)?;
            (
                s.id,
                g.info.retention_days,
                g.filters.values().cloned().collect::<Vec<_>>(),
            )
        };
        if input.is_empty() || input.len() > MAX_BATCH_EVENTS {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and {MAX_BATCH_EVENTS}"
            )));
        }
        let mut total = 0usize;
        for (i, e) in input.iter().enumerate() {
            if e.message.is_empty() {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value at 'logEvents.{}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
                    i + 1
                )));
            }
            if e.message.len() > MAX_EVENT_BYTES {
                return Err(Error::invalid(format!(
                    "Log event {i} is too large: at most {MAX_EVENT_BYTES} bytes"
                )));
            }
            if e.timestamp < 0 {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value at 'logEvents.{}.member.timestamp' failed to satisfy constraint: Member must have value greater than or equal to 0",
                    i + 1
                )));
            }
            total += e.message.len() + EVENT_OVERHEAD;
        }
        if total > MAX_BATCH_BYTES {
            return Err(Error::invalid(format!(
                "Upload too large: {total} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes"
            )));
        }
        if input.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
            return Err(Error::invalid(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        let too_old_end = input
            .iter()
            .take_while(|e| e.timestamp < now - FOURTEEN_DAYS_MS)
            .count();
        let expired_end = retention
            .map(|d| {
                input
                    .iter()
                    .take_while(|e| e.timestamp < now - i64::from(d) * DAY_MS)
                    .count()
            })
            .unwrap_or(0);
        let too_new_start = input
            .iter()
            .position(|e| e.timestamp > now + TWO_HOURS_MS)
            .unwrap_or(input.len());
        let first = too_old_end.max(expired_end).min(too_new_start);
        let accepted = &input[first..too_new_start];
        if let (Some(a), Some(b)) = (accepted.first(), accepted.last()) {
            if b.timestamp - a.timestamp > MAX_BATCH_SPAN_MS {
                return Err(Error::invalid(
                    "A batch of log events in a single request cannot span more than 24 hours.",
                ));
            }
        }
        let rejected =
            (too_old_end > 0 || expired_end > 0 || too_new_start < input.len()).then(|| Rejected {
                too_new_start: (too_new_start < input.len()).then_some(too_new_start),
                too_old_end: (too_old_end > 0).then_some(too_old_end),
                expired_end: (expired_end > 0).then_some(expired_end),
            });
        let mut outcome = PutOutcome {
            accepted: accepted.len(),
            rejected,
            ..PutOutcome::default()
        };
        if accepted.is_empty() {
            return Ok(outcome);
        }
        let base = self.seq.fetch_add(accepted.len() as u64, Ordering::Relaxed) + 1;
        let events: Vec<Event> = accepted
            .iter()
            .enumerate()
            .map(|(i, e)| Event {
                timestamp: e.timestamp,
                ingestion: now,
                seq: base + i as u64,
                message: e.message.to_string(),
            })
            .collect();
        for f in &filters {
            f.apply(&events, &mut outcome.datums);
        }
        for e in &events {
            match emf::extract(&e.message, e.timestamp) {
                Emf::NotEmf => {}
                Emf::Metrics(d) => outcome.datums.extend(d),
                Emf::Invalid(reason) => {
                    tracing::debug!(group, stream, %reason, "invalid embedded metric format document");
                    outcome.emf_invalid += 1;
                }
            }
        }
        let record = encode_record(sid, &events);
        let over_limit = {
            let _g = self.gate.read();
            self.wal.append(&record)?;
            let mut head = self.head.lock();
            head.bytes += events.iter().map(|e| e.message.len()).sum::<usize>();
            let (lo, hi) = (events[0].timestamp, events[events.len() - 1].timestamp);
            head.streams.entry(sid).or_default().extend(events);
            drop(head);
            let mut cat = self.catalog.write();
            if let Some(s) = cat
                .groups
                .get_mut(group)
                .and_then(|g| g.streams.get_mut(stream))
            {
                s.first_event = Some(s.first_event.map_or(lo, |f| f.min(lo)));
                s.last_event = Some(s.last_event.map_or(hi, |l| l.max(hi)));
                s.last_ingestion = Some(now);
            }
            self.head.lock().bytes > self.cfg.head_limit_bytes
        };
        if over_limit {
            if let Some(_one) = self.checkpointing.try_lock() {
                drop(_one);
                self.checkpoint()?;
            }
        }
        Ok(outcome)
    }

    // ---- checkpoint and retention ----

    /// Writes the head into a new segment, indexes it and drops covered log files.
    pub fn checkpoint(&self) -> Result<()> {
        let _one = self.checkpointing.lock();
        let (old_seq, frozen) = {
            let _g = self.gate.write();
            let old = self.wal.rotate()?;
            let head = std::mem::take(&mut *self.head.lock());
            let frozen = Arc::new(head);
            *self.frozen.write() = Some(frozen.clone());
            (old, frozen)
        };
        match self.write_checkpoint(old_seq, &frozen) {
            Ok(()) => {
                self.wal.remove_upto(old_seq)?;
                Ok(())
            }
            Err(e) => {
                let _g = self.gate.write();
                let mut head = self.head.lock();
                for (sid, evs) in &frozen.streams {
                    head.streams
                        .entry(*sid)
                        .or_default()
                        .extend(evs.iter().cloned());
                }
                head.bytes += frozen.bytes;
                *self.frozen.write() = None;
                Err(e)
            }
        }
    }

    fn write_checkpoint(&self, old_seq: u64, frozen: &Head) -> Result<()> {
        let mut blocks: Vec<(i64, BlockMeta, usize, i64, i64, i64)> = Vec::new(); // stream, meta, count, first, last, last_ingest
        let mut segment_id = None;
        if !frozen.streams.is_empty() {
            let id = self.next_segment.fetch_add(1, Ordering::Relaxed) as i64;
            let path = segment_path(&self.cfg.dir, id);
            let mut data: Vec<u8> = Vec::new();
            for (sid, evs) in &frozen.streams {
                let mut evs: Vec<&Event> = evs.iter().collect();
                evs.sort_by_key(|e| e.key());
                let mut start = 0;
                while start < evs.len() {
                    let mut end = start;
                    let mut raw = 0;
                    while end < evs.len()
                        && (end == start
                            || raw + block::encoded_len(evs[end]) <= self.cfg.block_bytes)
                    {
                        raw += block::encoded_len(evs[end]);
                        end += 1;
                    }
                    let chunk: Vec<Event> = evs[start..end].iter().map(|e| (*e).clone()).collect();
                    let encoded = block::encode(&chunk);
                    let filter = block::ngram_filter(&chunk);
                    data.extend_from_slice(&filter);
                    let meta = BlockMeta {
                        filter_len: filter.len() as i64,
                        min_ts: chunk[0].timestamp,
                        max_ts: chunk[chunk.len() - 1].timestamp,
                        segment: id,
                        offset: data.len() as i64,
                        len: encoded.len() as i64,
                    };
                    let last_ingest = chunk.iter().map(|e| e.ingestion).max().unwrap_or(0);
                    blocks.push((
                        *sid,
                        meta,
                        chunk.len(),
                        meta.min_ts,
                        meta.max_ts,
                        last_ingest,
                    ));
                    data.extend_from_slice(&encoded);
                    start = end;
                }
            }
            let f = File::create(&path)?;
            std::io::Write::write_all(&mut &f, &data)?;
            f.sync_all()?;
            if let Ok(d) = File::open(self.cfg.dir.join("segments")) {
                let _ = d.sync_all();
            }
            segment_id = Some((id, blocks.len()));
        }
        let max_seq = self.seq.load(Ordering::Relaxed);
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        if let Some((id, n)) = segment_id {
            tx.execute(
                "INSERT INTO segments (id, live) VALUES (?1, ?2)",
                params![id, n as i64],
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO blocks (stream_id, min_ts, max_ts, count, segment, offset, len, filter_len) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut upd = tx.prepare_cached(
                "UPDATE streams SET first_event = min(COALESCE(first_event, ?2), ?2), last_event = max(COALESCE(last_event, ?3), ?3), last_ingestion = max(COALESCE(last_ingestion, ?4), ?4) WHERE id = ?1",
            )?;
            for (sid, m, count, first, last, ing) in &blocks {
                ins.execute(params![
                    sid,
                    m.min_ts,
                    m.max_ts,
                    *count as i64,
                    m.segment,
                    m.offset,
                    m.len,
                    m.filter_len
                ])?;
                upd.execute(params![sid, first, last, ing])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('applied_wal', ?1)",
            [old_seq as i64],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('max_seq', ?1)",
            [max_seq as i64],
        )?;
        {
            let mut cat = self.catalog.write();
            let mut fr = self.frozen.write();
            tx.commit()?;
            *fr = None;
            for (sid, m, _, first, last, ing) in &blocks {
                if let Some((g, s)) = cat.streams.get(sid).cloned() {
                    if let Some(gs) = cat.groups.get_mut(&g) {
                        gs.info.stored_bytes += m.len;
                        if let Some(st) = gs.streams.get_mut(&s) {
                            st.stored_bytes += m.len;
                            st.first_event = Some(st.first_event.map_or(*first, |f| f.min(*first)));
                            st.last_event = Some(st.last_event.map_or(*last, |l| l.max(*last)));
                            st.last_ingestion =
                                Some(st.last_ingestion.map_or(*ing, |l| l.max(*ing)));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes blocks past each group's retention at `now`.
    pub fn maintain(&self, now: i64) -> Result<()> {
        let groups: Vec<(String, Vec<i64>, u32)> = {
            let cat = self.catalog.read();
            cat.groups
                .values()
                .filter_map(|g| {
                    g.info.retention_days.map(|d| {
                        (
                            g.info.name.clone(),
                            g.streams.values().map(|s| s.id).collect(),
                            d,
                        )
                    })
                })
                .collect()
        };
        for (group, streams, days) in groups {
            let cutoff = now - i64::from(days) * DAY_MS;
            let mut freed: HashMap<i64, i64> = HashMap::new();
            let empty = {
                let mut db = self.db.lock();
                let tx = db.transaction()?;
                let mut empty = Vec::new();
                for sid in &streams {
                    let rows: Vec<(i64, i64, i64)> = {
                        let mut stmt = tx.prepare_cached(
                            "SELECT id, segment, len FROM blocks WHERE stream_id = ?1 AND max_ts < ?2",
                        )?;
                        let r = stmt.query_map(params![sid, cutoff], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })?;
                        r.collect::<std::result::Result<_, _>>()?
                    };
                    for (bid, seg, len) in rows {
                        tx.execute("DELETE FROM blocks WHERE id = ?1", [bid])?;
                        tx.execute("UPDATE segments SET live = live - 1 WHERE id = ?1", [seg])?;
                        *freed.entry(*sid).or_default() += len;
                    }
                }
                {
                    let mut stmt = tx.prepare("SELECT id FROM segments WHERE live <= 0")?;
                    let r = stmt.query_map([], |r| r.get::<_, i64>(0))?;
                    for id in r {
                        empty.push(id?);
                    }
                }
                tx.execute("DELETE FROM segments WHERE live <= 0", [])?;
                tx.commit()?;
                empty
            };
            self.drop_segments(&empty);
            let mut cat = self.catalog.write();
            if let Some(g) = cat.groups.get_mut(&group) {
                for s in g.streams.values_mut() {
                    if let Some(b) = freed.get(&s.id) {
                        s.stored_bytes -= b;
                        g.info.stored_bytes -= b;
                    }
                }
            }
        }
        Ok(())
    }

    /// Flushes everything for shutdown.
    pub fn close(&self) -> Result<()> {
        self.wal.sync()?;
        self.checkpoint()
    }

    // ---- reads ----

    /// Streams a scan's events to `f` in order; `f` returns false to stop.
    pub fn scan(&self, s: &Scan, f: &mut dyn FnMut(&str, EventRef) -> bool) -> Result<ScanStats> {
        // Snapshot the sources under the locks, then read without them.
        let mut names: Vec<String> = Vec::new();
        let mut sources: Vec<Source> = Vec::new();
        {
            let _g = self.gate.read();
            let frozen = self.frozen.read();
            let cat = self.catalog.read();
            let g = cat.groups.get(s.group).ok_or_else(not_found_group)?;
            let selected: Vec<&StreamInfo> = match s.streams {
                StreamSel::All => g.streams.values().collect(),
                StreamSel::Prefix(p) => g
                    .streams
                    .range(p.to_string()..)
                    .take_while(|(k, _)| k.starts_with(p))
                    .map(|(_, v)| v)
                    .collect(),
                StreamSel::Names(list) => list.iter().filter_map(|n| g.streams.get(n)).collect(),
            };
            let reader = self.reader.lock();
            let mut stmt = reader.prepare_cached(
                "SELECT min_ts, max_ts, segment, offset, len, filter_len FROM blocks WHERE stream_id = ?1 AND max_ts >= ?2 AND min_ts < ?3",
            )?;
            let head = self.head.lock();
            for st in selected {
                let idx = names.len();
                names.push(st.name.clone());
                let rows = stmt.query_map(params![st.id, s.start, s.end], |r| {
                    Ok(BlockMeta {
                        min_ts: r.get(0)?,
                        max_ts: r.get(1)?,
                        segment: r.get(2)?,
                        offset: r.get(3)?,
                        len: r.get(4)?,
                        filter_len: r.get(5)?,
                    })
                })?;
                for m in rows {
                    let m = m?;
                    sources.push(Source {
                        stream: idx,
                        lo: m.min_ts,
                        hi: m.max_ts,
                        data: SourceData::Block(m),
                    });
                }
                let mut mem: Vec<Event> = Vec::new();
                for h in [frozen.as_deref(), Some(&*head)].into_iter().flatten() {
                    if let Some(evs) = h.streams.get(&st.id) {
                        mem.extend(
                            evs.iter()
                                .filter(|e| e.timestamp >= s.start && e.timestamp < s.end)
                                .cloned(),
                        );
                    }
                }
                if !mem.is_empty() {
                    mem.sort_by_key(Event::key);
                    sources.push(Source {
                        stream: idx,
                        lo: mem[0].timestamp,
                        hi: mem[mem.len() - 1].timestamp,
                        data: SourceData::Mem(mem),
                    });
                }
            }
        }
        merge(&self.cfg.dir, s, &names, sources, f)
    }
}

enum SourceData {
    Block(BlockMeta),
    Mem(Vec<Event>),
}

struct Source {
    stream: usize,
    lo: i64,
    hi: i64,
    data: SourceData,
}

enum Loaded {
    Block(Block),
    Mem(Vec<Event>),
}

impl Loaded {
    fn get(&self, i: usize) -> EventRef<'_> {
        match self {
            Loaded::Block(b) => b.get(i),
            Loaded::Mem(v) => {
                let e = &v[i];
                EventRef {
                    timestamp: e.timestamp,
                    ingestion: e.ingestion,
                    seq: e.seq,
                    message: &e.message,
                }
            }
        }
    }
    fn len(&self) -> usize {
        match self {
            Loaded::Block(b) => b.len(),
            Loaded::Mem(v) => v.len(),
        }
    }
}

struct Active {
    stream: usize,
    data: Loaded,
    /// Indices of the events that qualify, in scan order.
    order: Vec<u32>,
    pos: usize,
}

fn heap_key(ts: i64, seq: u64, forward: bool) -> i128 {
    let k = (i128::from(ts) << 64) | i128::from(seq);
    if forward {
        -k
    } else {
        k
    }
}

fn merge(
    dir: &Path,
    s: &Scan,
    names: &[String],
    mut sources: Vec<Source>,
    f: &mut dyn FnMut(&str, EventRef) -> bool,
) -> Result<ScanStats> {
    let mut stats = ScanStats::default();
    if s.forward {
        sources.sort_by_key(|x| x.lo);
    } else {
        sources.sort_by_key(|x| std::cmp::Reverse(x.hi));
    }
    let mut pending: VecDeque<Source> = sources.into();
    let mut active: Vec<Active> = Vec::new();
    let mut heap: BinaryHeap<(i128, usize)> = BinaryHeap::new();
    let mut files: HashMap<i64, File> = HashMap::new();
    let finder = s.literal.map(memchr::memmem::Finder::new);
    loop {
        while let Some(next) = pending.front() {
            let wanted = match heap.peek() {
                None => true,
                Some((k, _)) => {
                    let ts = ((if s.forward { -*k } else { *k }) >> 64) as i64;
                    if s.forward {
                        next.lo <= ts
                    } else {
                        next.hi >= ts
                    }
                }
            };
            if !wanted {
                break;
            }
            let src = pending.pop_front().expect("peeked");
            let data = match src.data {
                SourceData::Mem(v) => Loaded::Mem(v),
                SourceData::Block(m) => {
                    let file = match files.entry(m.segment) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            match File::open(segment_path(dir, m.segment)) {
                                Ok(file) => v.insert(file),
                                // Deleted since the snapshot (retention, stream deletion).
                                Err(_) => continue,
                            }
                        }
                    };
                    if let Some(lit) = s.literal.filter(|l| l.len() >= 4 && m.filter_len > 0) {
                        let mut filter = vec![0u8; m.filter_len as usize];
                        let at = (m.offset - m.filter_len) as u64;
                        if file.read_exact_at(&mut filter, at).is_ok()
                            && !block::may_contain(&filter, lit)
                        {
                            stats.blocks_skipped += 1;
                            continue;
                        }
                    }
                    let mut buf = vec![0u8; m.len as usize];
                    if file.read_exact_at(&mut buf, m.offset as u64).is_err() {
                        continue;
                    }
                    Loaded::Block(block::decode(&buf)?)
                }
            };
            let candidates: Option<Vec<usize>> = match (&data, &finder) {
                (Loaded::Block(b), Some(f)) => {
                    stats.records_scanned += b.len() as u64;
                    Some(b.candidates(f))
                }
                _ => None,
            };
            let prefiltered = candidates.is_some();
            let indices: Box<dyn Iterator<Item = usize>> = match candidates {
                Some(c) => Box::new(c.into_iter()),
                None => Box::new(0..data.len()),
            };
            let mut order = Vec::new();
            for i in indices {
                let e = data.get(i);
                if e.timestamp < s.start || e.timestamp >= s.end {
                    continue;
                }
                if let Some((ats, aseq)) = s.after {
                    let past = if s.forward {
                        (e.timestamp, e.seq) <= (ats, aseq)
                    } else {
                        (e.timestamp, e.seq) >= (ats, aseq)
                    };
                    if past {
                        continue;
                    }
                }
                if !prefiltered {
                    stats.records_scanned += 1;
                }
                stats.bytes_scanned += e.message.len() as u64;
                if s.filter.is_some_and(|p| !p(e.message)) {
                    continue;
                }
                order.push(i as u32);
            }
            if !s.forward {
                order.reverse();
            }
            if order.is_empty() {
                continue;
            }
            let first = data.get(order[0] as usize);
            heap.push((
                heap_key(first.timestamp, first.seq, s.forward),
                active.len(),
            ));
            active.push(Active {
                stream: src.stream,
                data,
                order,
                pos: 0,
            });
        }
        let Some((_, ai)) = heap.pop() else {
            break;
        };
        let a = &mut active[ai];
        let e = a.data.get(a.order[a.pos] as usize);
        if !f(&names[a.stream], e) {
            break;
        }
        a.pos += 1;
        if a.pos < a.order.len() {
            let n = a.data.get(a.order[a.pos] as usize);
            heap.push((heap_key(n.timestamp, n.seq, s.forward), ai));
        } else {
            // Free the block's memory early.
            a.data = Loaded::Mem(Vec::new());
            a.order = Vec::new();
        }
    }
    Ok(stats)
}

/// Deletes a stream's rows; returns segments left without live blocks.
fn delete_stream_rows(tx: &rusqlite::Transaction<'_>, sid: i64) -> Result<Vec<i64>> {
    tx.execute(
        "UPDATE segments SET live = live - (SELECT COUNT(*) FROM blocks b WHERE b.segment = segments.id AND b.stream_id = ?1)
         WHERE id IN (SELECT segment FROM blocks WHERE stream_id = ?1)",
        [sid],
    )?;
    tx.execute("DELETE FROM blocks WHERE stream_id = ?1", [sid])?;
    tx.execute("DELETE FROM streams WHERE id = ?1", [sid])?;
    let mut empty = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT id FROM segments WHERE live <= 0")?;
        let r = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        for id in r {
            empty.push(id?);
        }
    }
    tx.execute("DELETE FROM segments WHERE live <= 0", [])?;
    Ok(empty)
}

#[cfg(test)]
mod tests;
