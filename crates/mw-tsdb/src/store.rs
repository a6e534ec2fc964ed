//! [`MetricStore`]: the write-ahead log, the in-memory head, and SQLite.
//!
//! SQLite holds the catalog (`series`), the checkpointed buckets (`buckets`) and
//! `meta.applied_wal`, the last log file whose frames are all in `buckets`. The
//! tables are documented in `docs/formats/metric-store.md`.

use crate::agg::Aggregate;
use crate::error::{Error, Result};
use mw_model::{Datum, DatumRef, DatumValue, Dimension, MetricKey, Unit};
use mw_wal::{self as wal, SyncMode, Wal};
use parking_lot::{Mutex, RwLock};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Settings of an embedded store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory for `metrics.db` and `wal/`.
    pub dir: PathBuf,
    pub sync: SyncMode,
    /// Most series the store accepts (a bound on cardinality).
    pub max_series: usize,
}

impl StoreConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: dir.into(),
            sync: SyncMode::Always,
            max_series: 1_000_000,
        }
    }
}

/// One series of the catalog.
#[derive(Debug)]
pub struct SeriesInfo {
    pub id: u32,
    pub key: MetricKey,
    pub unit: Unit,
    /// Latest data timestamp seen (epoch ms).
    pub last_timestamp_ms: AtomicI64,
    /// When data last arrived (epoch ms, server clock).
    pub last_ingest_ms: AtomicI64,
}

/// What the API needs from a metric store; implemented by [`MetricStore`].
pub trait MetricBackend: Send + Sync {
    /// Stores a validated batch atomically: all of it or nothing.
    fn put(&self, data: &[Datum]) -> Result<()>;
    /// The same for datums that borrow their identity from a request.
    fn put_batch(&self, data: &[DatumRef]) -> Result<()>;
    /// Every series of the catalog.
    fn series(&self) -> Vec<Arc<SeriesInfo>>;
    /// The series of one metric, in every unit (or only `unit`).
    fn find(&self, key: &MetricKey, unit: Option<Unit>) -> Vec<Arc<SeriesInfo>>;
    /// Stored buckets of `ids` with `start <= ts < end` (epoch seconds): the 1 s
    /// buckets when `fine`, otherwise those of 60 s and coarser.
    fn read(
        &self,
        ids: &[u32],
        fine: bool,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, u32, Aggregate)>>;

    /// Many reads at once, in order: `(ids, fine, start, end)` each. Stores
    /// that can serve them in one pass (one read transaction) override it.
    fn read_many(&self, reads: &[ReadRequest<'_>]) -> Result<Vec<Vec<(i64, u32, Aggregate)>>> {
        reads
            .iter()
            .map(|r| self.read(r.ids, r.fine, r.start, r.end))
            .collect()
    }
}

/// One read of [`MetricBackend::read_many`].
#[derive(Debug, Clone, Copy)]
pub struct ReadRequest<'a> {
    pub ids: &'a [u32],
    pub fine: bool,
    pub start: i64,
    pub end: i64,
}

#[derive(Default)]
struct SeriesHead {
    fine: BTreeMap<i64, Aggregate>,
    minute: BTreeMap<i64, Aggregate>,
}

/// Read connections to `metrics.db`, so concurrent queries (API requests,
/// alarm evaluation threads) do not queue behind one another.
const READERS: usize = 4;

/// Shards of the live head.
const HEAD_SHARDS: usize = 16;

fn shard(id: u32) -> usize {
    id as usize % HEAD_SHARDS
}

#[derive(Default)]
struct Head {
    series: HashMap<u32, SeriesHead, FxBuild>,
}

/// The Fx hash (as in rustc): much cheaper than SipHash for the catalog's
/// in-process maps, whose keys never come from a hash-flooding-capable
/// attacker in bulk (series creation is bounded by `max_series`).
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ rest.len() as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

impl Head {
    fn apply(&mut self, id: u32, d: &DatumValue, ts_ms: i64, resolution: u32) {
        let s = self.series.entry(id).or_default();
        let sec = ts_ms.div_euclid(1000);
        if resolution == 1 {
            s.fine.entry(sec).or_default().add_datum(d);
        }
        s.minute
            .entry(sec - sec.rem_euclid(60))
            .or_default()
            .add_datum(d);
    }

    fn merge_series(&mut self, id: u32, sh: &SeriesHead) {
        let mine = self.series.entry(id).or_default();
        for (ts, a) in &sh.fine {
            mine.fine.entry(*ts).or_default().merge(a);
        }
        for (ts, a) in &sh.minute {
            mine.minute.entry(*ts).or_default().merge(a);
        }
    }

    fn collect(
        &self,
        id: u32,
        fine: bool,
        start: i64,
        end: i64,
        out: &mut Vec<(i64, u32, Aggregate)>,
    ) {
        if let Some(s) = self.series.get(&id) {
            let (map, res) = if fine { (&s.fine, 1) } else { (&s.minute, 60) };
            for (ts, a) in map.range(start..end) {
                out.push((*ts, res, a.clone()));
            }
        }
    }
}

struct Catalog {
    /// Hash of (namespace, name, dimensions) → the series with that identity
    /// (one per unit, plus any hash collisions), so borrowed request data can be
    /// resolved without building an owned key.
    by_hash: HashMap<u64, Vec<u32>, FxBuild>,
    series: Vec<Arc<SeriesInfo>>,
}

fn identity_hash<'a>(
    namespace: &str,
    name: &str,
    dims: impl Iterator<Item = (&'a str, &'a str)>,
) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    h.write(namespace.as_bytes());
    h.write_u8(0xff);
    h.write(name.as_bytes());
    for (n, v) in dims {
        h.write_u8(0xfe);
        h.write(n.as_bytes());
        h.write_u8(0xfd);
        h.write(v.as_bytes());
    }
    h.finish()
}

fn key_hash(key: &MetricKey) -> u64 {
    identity_hash(
        &key.namespace,
        &key.name,
        key.dimensions()
            .iter()
            .map(|d| (d.name.as_str(), d.value.as_str())),
    )
}

impl Catalog {
    /// The series of `d`'s identity and unit, if it exists.
    fn id_of(&self, d: &DatumRef, hash: u64) -> Option<u32> {
        self.by_hash.get(&hash)?.iter().copied().find(|id| {
            let s = &self.series[*id as usize];
            s.unit == d.unit && s.key.matches(d.namespace, d.name, &d.dims)
        })
    }

    /// Every series of `key`, in any unit.
    fn ids_of(&self, key: &MetricKey) -> Vec<u32> {
        self.by_hash
            .get(&key_hash(key))
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| self.series[*id as usize].key == *key)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The embedded metric store. See the crate docs for the data flow.
pub struct MetricStore {
    cfg: StoreConfig,
    catalog: RwLock<Catalog>,
    /// Writers hold it shared across log append + head update; a checkpoint
    /// holds it exclusively to rotate the log and swap the head.
    gate: RwLock<()>,
    wal: Wal,
    /// The live head, sharded by series id so concurrent writers rarely wait.
    head: Vec<Mutex<Head>>,
    frozen: RwLock<Option<Arc<Head>>>,
    unsaved: Mutex<Vec<u32>>,
    writer: Mutex<Connection>,
    /// Read-only connections; a read takes any free one.
    readers: Vec<Mutex<Connection>>,
    checkpointing: Mutex<()>,
}

const SCHEMA: &str = "
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    unit INTEGER NOT NULL,
    last_timestamp_ms INTEGER NOT NULL,
    last_ingest_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS buckets (
    series INTEGER NOT NULL,
    res INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series, res, ts)
) WITHOUT ROWID;
";

/// Dimensions as stored in the catalog: `name=value` pairs, each escaped, joined by `\n`.
fn encode_dims(dims: &[Dimension]) -> String {
    let mut out = String::new();
    for (i, d) in dims.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&escape(&d.name));
        out.push('=');
        out.push_str(&escape(&d.value));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\e")
        .replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('e') => out.push('='),
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_dims(s: &str) -> Vec<Dimension> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split('\n')
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            Some(Dimension {
                name: unescape(n),
                value: unescape(v),
            })
        })
        .collect()
}

// ---- write-ahead log payload: one batch ----

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::Internal("truncated write-ahead log record".into()));
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.bytes(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.bytes(n)?.to_vec())
            .map_err(|_| Error::Internal("bad utf-8 in write-ahead log record".into()))
    }
}

struct LoggedSeries {
    id: u32,
    key: MetricKey,
    unit: Unit,
}

fn encode_batch(new: &[Arc<SeriesInfo>], data: &[DatumRef], ids: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + data.len() * 32);
    out.push(1u8);
    out.extend_from_slice(&(new.len() as u32).to_le_bytes());
    for s in new {
        out.extend_from_slice(&s.id.to_le_bytes());
        out.push(s.unit.code());
        put_str(&mut out, &s.key.namespace);
        put_str(&mut out, &s.key.name);
        out.extend_from_slice(&(s.key.dimensions().len() as u16).to_le_bytes());
        for d in s.key.dimensions() {
            put_str(&mut out, &d.name);
            put_str(&mut out, &d.value);
        }
    }
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    for (d, id) in data.iter().zip(ids) {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&d.timestamp_ms.to_le_bytes());
        out.push(d.resolution as u8);
        match &d.value {
            DatumValue::Single(v) => {
                out.push(0);
                out.extend_from_slice(&v.to_le_bytes());
            }
            DatumValue::Values(vs) => {
                out.push(1);
                out.extend_from_slice(&(vs.len() as u16).to_le_bytes());
                for (v, c) in vs {
                    out.extend_from_slice(&v.to_le_bytes());
                    out.extend_from_slice(&c.to_le_bytes());
                }
            }
            DatumValue::Stats {
                count,
                sum,
                min,
                max,
            } => {
                out.push(2);
                for v in [count, sum, min, max] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    out
}

type Decoded = (Vec<LoggedSeries>, Vec<(u32, i64, u32, DatumValue)>);

fn decode_batch(buf: &[u8]) -> Result<Decoded> {
    let mut r = Reader(buf);
    if r.u8()? != 1 {
        return Err(Error::Internal(
            "unknown write-ahead log record version".into(),
        ));
    }
    let n = r.u32()? as usize;
    let mut series = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let id = r.u32()?;
        let unit = Unit::from_code(r.u8()?)
            .ok_or_else(|| Error::Internal("bad unit in write-ahead log record".into()))?;
        let namespace = r.str()?;
        let name = r.str()?;
        let nd = r.u16()? as usize;
        let mut dims = Vec::with_capacity(nd.min(64));
        for _ in 0..nd {
            dims.push(Dimension {
                name: r.str()?,
                value: r.str()?,
            });
        }
        series.push(LoggedSeries {
            id,
            key: MetricKey::from_parts(namespace, name, dims),
            unit,
        });
    }
    let n = r.u32()? as usize;
    let mut data = Vec::with_capacity(n.min(100_000));
    for _ in 0..n {
        let id = r.u32()?;
        let ts = r.i64()?;
        let res = u32::from(r.u8()?);
        let value = match r.u8()? {
            0 => DatumValue::Single(r.f64()?),
            1 => {
                let k = r.u16()? as usize;
                let mut vs = Vec::with_capacity(k);
                for _ in 0..k {
                    vs.push((r.f64()?, r.f64()?));
                }
                DatumValue::Values(vs)
            }
            2 => DatumValue::Stats {
                count: r.f64()?,
                sum: r.f64()?,
                min: r.f64()?,
                max: r.f64()?,
            },
            _ => {
                return Err(Error::Internal(
                    "bad datum kind in write-ahead log record".into(),
                ))
            }
        };
        data.push((id, ts, res, value));
    }
    Ok((series, data))
}

impl MetricStore {
    /// Opens (or creates) the store in `cfg.dir`, replaying the write-ahead log.
    pub fn open(cfg: StoreConfig) -> Result<MetricStore> {
        std::fs::create_dir_all(&cfg.dir)?;
        let db_path = cfg.dir.join("metrics.db");
        let writer = Connection::open(&db_path)?;
        writer.execute_batch(SCHEMA)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open(&db_path)?;
            reader.execute_batch("PRAGMA query_only=ON;")?;
            readers.push(Mutex::new(reader));
        }

        let mut catalog = Catalog {
            by_hash: HashMap::default(),
            series: Vec::new(),
        };
        {
            let mut stmt = writer.prepare(
                "SELECT id, namespace, name, dimensions, unit, last_timestamp_ms, last_ingest_ms FROM series ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u8>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            for row in rows {
                let (id, ns, name, dims, unit, last_ts, last_ing) = row?;
                let unit = Unit::from_code(unit)
                    .ok_or_else(|| Error::Internal(format!("bad unit code {unit} in catalog")))?;
                let key = MetricKey::from_parts(ns, name, decode_dims(&dims));
                insert_series(&mut catalog, id, key, unit, last_ts, last_ing);
            }
        }
        let applied: u64 = writer
            .query_row("SELECT value FROM meta WHERE key='applied_wal'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .unwrap_or(0) as u64;

        let wal_dir = cfg.dir.join("wal");
        std::fs::create_dir_all(&wal_dir)?;
        let mut head: Vec<Head> = (0..HEAD_SHARDS).map(|_| Head::default()).collect();
        let mut unsaved = Vec::new();
        let files = wal::list(&wal_dir)?;
        let mut replayed = 0usize;
        for seq in files.iter().copied().filter(|s| *s > applied) {
            wal::replay(&wal_dir, seq, |payload| -> Result<()> {
                let (series, data) = decode_batch(payload)?;
                for s in series {
                    let exists = catalog
                        .ids_of(&s.key)
                        .iter()
                        .any(|id| catalog.series[*id as usize].unit == s.unit);
                    if !exists {
                        insert_series(&mut catalog, s.id, s.key, s.unit, i64::MIN, 0);
                        unsaved.push(s.id);
                    }
                }
                for (id, ts, res, value) in data {
                    if let Some(info) = catalog.series.get(id as usize) {
                        info.last_timestamp_ms.fetch_max(ts, Ordering::Relaxed);
                    }
                    head[shard(id)].apply(id, &value, ts, res);
                    replayed += 1;
                }
                Ok(())
            })?;
        }
        let next = files.last().copied().unwrap_or(0).max(applied) + 1;
        let wal = Wal::create(&wal_dir, next, cfg.sync)?;
        if replayed > 0 {
            tracing::info!(datapoints = replayed, "replayed write-ahead log");
        }
        let store = MetricStore {
            cfg,
            catalog: RwLock::new(catalog),
            gate: RwLock::new(()),
            wal,
            head: head.into_iter().map(Mutex::new).collect(),
            frozen: RwLock::new(None),
            unsaved: Mutex::new(unsaved),
            writer: Mutex::new(writer),
            readers,
            checkpointing: Mutex::new(()),
        };
        store.checkpoint()?;
        Ok(store)
    }

    /// Looks up or creates the series of each datum; creates none if the batch
    /// would pass the cardinality bound.
    fn resolve(&self, data: &[DatumRef]) -> Result<(Vec<u32>, Vec<Arc<SeriesInfo>>)> {
        let hashes: Vec<u64> = data
            .iter()
            .map(|d| identity_hash(d.namespace, d.name, d.dims.iter().copied()))
            .collect();
        let mut ids = Vec::with_capacity(data.len());
        {
            let cat = self.catalog.read();
            for (d, h) in data.iter().zip(&hashes) {
                match cat.id_of(d, *h) {
                    Some(id) => ids.push(id),
                    None => break,
                }
            }
        }
        if ids.len() == data.len() {
            return Ok((ids, Vec::new()));
        }
        let mut cat = self.catalog.write();
        let mut fresh = 0usize;
        {
            let mut seen: HashMap<u64, Vec<usize>, FxBuild> = HashMap::default();
            for (i, (d, h)) in data.iter().zip(&hashes).enumerate() {
                if cat.id_of(d, *h).is_some() {
                    continue;
                }
                let same = seen.entry(*h).or_default();
                if !same.iter().any(|j| {
                    data[*j].unit == d.unit
                        && data[*j].namespace == d.namespace
                        && data[*j].name == d.name
                        && data[*j].dims == d.dims
                }) {
                    same.push(i);
                    fresh += 1;
                }
            }
        }
        if cat.series.len() + fresh > self.cfg.max_series {
            return Err(Error::LimitExceeded(format!(
                "the store holds at most {} series",
                self.cfg.max_series
            )));
        }
        ids.clear();
        let mut new = Vec::new();
        for (d, h) in data.iter().zip(&hashes) {
            let id = match cat.id_of(d, *h) {
                Some(id) => id,
                None => {
                    let id = cat.series.len() as u32;
                    insert_series(&mut cat, id, d.key(), d.unit, i64::MIN, 0);
                    new.push(cat.series[id as usize].clone());
                    id
                }
            };
            ids.push(id);
        }
        Ok((ids, new))
    }

    /// Moves the head into SQLite and deletes the log files it covered.
    pub fn checkpoint(&self) -> Result<()> {
        let _one = self.checkpointing.lock();
        let (old_seq, frozen, new_ids) = {
            let _g = self.gate.write();
            let old = self.wal.rotate()?;
            let mut head = Head::default();
            for sh in &self.head {
                // Shards hold disjoint series: moving the maps is enough.
                head.series.extend(std::mem::take(&mut *sh.lock()).series);
            }
            let frozen = Arc::new(head);
            *self.frozen.write() = Some(frozen.clone());
            (old, frozen, std::mem::take(&mut *self.unsaved.lock()))
        };
        match self.write_checkpoint(old_seq, &frozen, &new_ids) {
            Ok(()) => {
                self.wal.remove_upto(old_seq)?;
                Ok(())
            }
            Err(e) => {
                // Keep everything in memory; the log files still hold it too.
                let _g = self.gate.write();
                for (id, sh) in &frozen.series {
                    self.head[shard(*id)].lock().merge_series(*id, sh);
                }
                *self.frozen.write() = None;
                self.unsaved.lock().extend(new_ids);
                Err(e)
            }
        }
    }

    fn write_checkpoint(&self, old_seq: u64, frozen: &Head, new_ids: &[u32]) -> Result<()> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction()?;
        let series: Vec<Arc<SeriesInfo>> = {
            let cat = self.catalog.read();
            new_ids
                .iter()
                .filter_map(|id| cat.series.get(*id as usize).cloned())
                .collect()
        };
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO series (id, namespace, name, dimensions, unit, last_timestamp_ms, last_ingest_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for s in &series {
                ins.execute(params![
                    s.id,
                    s.key.namespace,
                    s.key.name,
                    encode_dims(s.key.dimensions()),
                    s.unit.code(),
                    s.last_timestamp_ms.load(Ordering::Relaxed),
                    s.last_ingest_ms.load(Ordering::Relaxed),
                ])?;
            }
            let mut upd = tx.prepare_cached(
                "UPDATE series SET last_timestamp_ms = max(last_timestamp_ms, ?2), last_ingest_ms = max(last_ingest_ms, ?3) WHERE id = ?1",
            )?;
            let mut get =
                tx.prepare_cached("SELECT data FROM buckets WHERE series=?1 AND res=?2 AND ts=?3")?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO buckets (series, res, ts, data) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let cat = self.catalog.read();
            let mut buf = Vec::new();
            // Series in id order, buckets in time order: the key order of the
            // table, so inserts append to the b-tree and pages stay full.
            let mut ids: Vec<&u32> = frozen.series.keys().collect();
            ids.sort_unstable();
            for id in ids {
                let sh = &frozen.series[id];
                if let Some(s) = cat.series.get(*id as usize) {
                    upd.execute(params![
                        id,
                        s.last_timestamp_ms.load(Ordering::Relaxed),
                        s.last_ingest_ms.load(Ordering::Relaxed)
                    ])?;
                }
                for (res, map) in [(1u32, &sh.fine), (60u32, &sh.minute)] {
                    for (ts, agg) in map {
                        let existing: Option<Vec<u8>> = get
                            .query_row(params![id, res, ts], |r| r.get(0))
                            .optional()?;
                        buf.clear();
                        match existing.as_deref().and_then(Aggregate::decode) {
                            Some(mut old) => {
                                old.merge(agg);
                                old.encode(&mut buf);
                            }
                            None => agg.encode(&mut buf),
                        }
                        put.execute(params![id, res, ts, buf])?;
                    }
                }
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('applied_wal', ?1)",
            params![old_seq as i64],
        )?;
        let mut fr = self.frozen.write();
        tx.commit()?;
        *fr = None;
        Ok(())
    }

    /// Rolls up and expires buckets by CloudWatch's retention rules at `now_ms`.
    pub fn maintain(&self, now_ms: i64) -> Result<()> {
        let now = now_ms.div_euclid(1000);
        let mut conn = self.writer.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM buckets WHERE res = 1 AND ts < ?1",
            params![now - 3 * 3600],
        )?;
        roll_up(&tx, 60, 300, now - 15 * 86400)?;
        roll_up(&tx, 300, 3600, now - 63 * 86400)?;
        tx.execute(
            "DELETE FROM buckets WHERE res = 3600 AND ts < ?1",
            params![now - 455 * 86400],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Flushes everything for shutdown.
    pub fn close(&self) -> Result<()> {
        self.wal.sync()?;
        self.checkpoint()
    }

    /// Datapoints' worth of buckets waiting in the head (for checkpoint pacing).
    pub fn head_series(&self) -> usize {
        self.head.iter().map(|h| h.lock().series.len()).sum()
    }
}

fn roll_up(tx: &rusqlite::Transaction<'_>, from: i64, to: i64, before: i64) -> Result<()> {
    let mut rolled: BTreeMap<(i64, i64), Aggregate> = BTreeMap::new();
    {
        let mut stmt =
            tx.prepare("SELECT series, ts, data FROM buckets WHERE res = ?1 AND ts < ?2")?;
        let rows = stmt.query_map(params![from, before], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        for row in rows {
            let (series, ts, data) = row?;
            if let Some(a) = Aggregate::decode(&data) {
                rolled
                    .entry((series, ts - ts.rem_euclid(to)))
                    .or_default()
                    .merge(&a);
            }
        }
    }
    if rolled.is_empty() {
        return Ok(());
    }
    let mut get = tx.prepare("SELECT data FROM buckets WHERE series=?1 AND res=?2 AND ts=?3")?;
    let mut put = tx.prepare(
        "INSERT OR REPLACE INTO buckets (series, res, ts, data) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut buf = Vec::new();
    for ((series, ts), mut agg) in rolled {
        let existing: Option<Vec<u8>> = get
            .query_row(params![series, to, ts], |r| r.get(0))
            .optional()?;
        if let Some(old) = existing.as_deref().and_then(Aggregate::decode) {
            agg.merge(&old);
        }
        buf.clear();
        agg.encode(&mut buf);
        put.execute(params![series, to, ts, buf])?;
    }
    tx.execute(
        "DELETE FROM buckets WHERE res = ?1 AND ts < ?2",
        params![from, before],
    )?;
    Ok(())
}

fn insert_series(
    cat: &mut Catalog,
    id: u32,
    key: MetricKey,
    unit: Unit,
    last_ts: i64,
    last_ingest: i64,
) {
    let info = Arc::new(SeriesInfo {
        id,
        key: key.clone(),
        unit,
        last_timestamp_ms: AtomicI64::new(last_ts),
        last_ingest_ms: AtomicI64::new(last_ingest),
    });
    let idx = id as usize;
    if cat.series.len() <= idx {
        // Ids are dense; fill any gap with placeholders that never match.
        while cat.series.len() < idx {
            let gap = cat.series.len() as u32;
            cat.series.push(Arc::new(SeriesInfo {
                id: gap,
                key: MetricKey::from_parts(String::new(), String::new(), Vec::new()),
                unit: Unit::None,
                last_timestamp_ms: AtomicI64::new(i64::MIN),
                last_ingest_ms: AtomicI64::new(0),
            }));
        }
        cat.series.push(info);
    } else {
        cat.series[idx] = info;
    }
    let ids = cat.by_hash.entry(key_hash(&key)).or_default();
    if !ids.contains(&id) {
        ids.push(id);
    }
}

impl MetricBackend for MetricStore {
    fn put(&self, data: &[Datum]) -> Result<()> {
        let refs: Vec<DatumRef> = data.iter().map(DatumRef::of).collect();
        self.put_batch(&refs)
    }

    fn put_batch(&self, data: &[DatumRef]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let (ids, new) = self.resolve(data)?;
        let record = encode_batch(&new, data, &ids);
        let now = mw_model::time::now_ms();
        let _g = self.gate.read();
        self.wal.append(&record)?;
        if !new.is_empty() {
            self.unsaved.lock().extend(new.iter().map(|s| s.id));
        }
        {
            for (d, id) in data.iter().zip(&ids) {
                self.head[shard(*id)]
                    .lock()
                    .apply(*id, &d.value, d.timestamp_ms, d.resolution);
            }
        }
        let cat = self.catalog.read();
        for (d, id) in data.iter().zip(&ids) {
            if let Some(s) = cat.series.get(*id as usize) {
                s.last_timestamp_ms
                    .fetch_max(d.timestamp_ms, Ordering::Relaxed);
                s.last_ingest_ms.fetch_max(now, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn series(&self) -> Vec<Arc<SeriesInfo>> {
        self.catalog
            .read()
            .series
            .iter()
            .filter(|s| !s.key.name.is_empty())
            .cloned()
            .collect()
    }

    fn find(&self, key: &MetricKey, unit: Option<Unit>) -> Vec<Arc<SeriesInfo>> {
        let cat = self.catalog.read();
        cat.ids_of(key)
            .into_iter()
            .map(|id| cat.series[id as usize].clone())
            .filter(|s| unit.is_none_or(|u| s.unit == u))
            .collect()
    }

    fn read(
        &self,
        ids: &[u32],
        fine: bool,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, u32, Aggregate)>> {
        let mut all = self.read_many(&[ReadRequest {
            ids,
            fine,
            start,
            end,
        }])?;
        Ok(all.pop().unwrap_or_default())
    }

    fn read_many(&self, reads: &[ReadRequest<'_>]) -> Result<Vec<Vec<(i64, u32, Aggregate)>>> {
        let mut outs: Vec<Vec<(i64, u32, Aggregate)>> = vec![Vec::new(); reads.len()];
        if reads.iter().all(|r| r.start >= r.end) {
            return Ok(outs);
        }
        let _g = self.gate.read();
        let frozen = self.frozen.read();
        {
            let conn = self.reader();
            // One read transaction for the lot: SQLite takes its locks once.
            let tx = conn.unchecked_transaction()?;
            let mut fine_stmt = tx.prepare_cached(
                "SELECT ts, res, data FROM buckets WHERE series=?1 AND res = 1 AND ts >= ?2 AND ts < ?3",
            )?;
            let mut coarse_stmt = tx.prepare_cached(
                "SELECT ts, res, data FROM buckets WHERE series=?1 AND res >= 60 AND ts >= ?2 AND ts < ?3",
            )?;
            for (r, out) in reads.iter().zip(outs.iter_mut()) {
                if r.start >= r.end {
                    continue;
                }
                let stmt = if r.fine {
                    &mut fine_stmt
                } else {
                    &mut coarse_stmt
                };
                for id in r.ids {
                    let mut rows = stmt.query(params![id, r.start, r.end])?;
                    while let Some(row) = rows.next()? {
                        let ts: i64 = row.get(0)?;
                        let res: u32 = row.get(1)?;
                        let data = row
                            .get_ref(2)?
                            .as_blob()
                            .map_err(|e| Error::Internal(format!("bucket data: {e}")))?;
                        let agg = Aggregate::decode(data).ok_or_else(|| {
                            Error::Internal(format!("corrupt bucket for series {id} at {ts}"))
                        })?;
                        out.push((ts, res, agg));
                    }
                }
            }
            drop(fine_stmt);
            drop(coarse_stmt);
            tx.commit()?;
        }
        for (r, out) in reads.iter().zip(outs.iter_mut()) {
            if r.start >= r.end {
                continue;
            }
            for id in r.ids {
                if let Some(f) = frozen.as_ref() {
                    f.collect(*id, r.fine, r.start, r.end, out);
                }
                self.head[shard(*id)]
                    .lock()
                    .collect(*id, r.fine, r.start, r.end, out);
            }
        }
        Ok(outs)
    }
}

impl MetricStore {
    /// A free read connection, or the first one to free up.
    fn reader(&self) -> parking_lot::MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Some(g) = r.try_lock() {
                return g;
            }
        }
        self.readers[0].lock()
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }
}

#[cfg(test)]
mod tests;
