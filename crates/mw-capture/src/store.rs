//! [`CaptureStore`]: the server's capture and ground-truth files.
//!
//! ```text
//! <root>/data-capture/<endpoint>/<variant>/yyyy/mm/dd/HH/*.jsonl   captured records
//! <root>/ground-truth/<endpoint>/yyyy/mm/dd/HH/*.jsonl              ground truth
//! <root>/catalog.db                                                  the index of both
//! ```
//!
//! A batch is validated line by line before anything is written (so a bad
//! line changes nothing), written as received and committed (synced when
//! durable) before the call returns. Capture files are placed by each record's
//! `inferenceTime`; ground truth by the hour it was collected, as SageMaker's
//! model-quality job expects.
//!
//! Files are listed from the catalog (`catalog.rs`: endpoint, variant,
//! hour, path), with sizes read from the files themselves. A file's row is
//! committed when the writer creates it, before any line of the batch is
//! written, so an acknowledged batch is always listed. At open, a scan of the
//! folder tree reconciles the catalog: files without a row (written by an
//! older version, or by a crash between the file and its row) are added, rows
//! whose file is gone are dropped. Files copied into the tree while the store
//! is open are listed after the next open.

use crate::catalog::{Catalog, Entry, Kind, Query, Reconciled};
use crate::error::{Error, Result};
use crate::layout::{self, validate_name};
use crate::record::{CaptureRecord, GroundTruthRecord};
use crate::writer::{RotatingWriter, WriterConfig};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most records accepted in one batch.
pub const MAX_BATCH_RECORDS: usize = 10_000;
/// Most records returned by one read.
pub const MAX_READ_RECORDS: usize = 10_000;
/// Most record bytes returned by one read.
pub const MAX_READ_BYTES: usize = 32 * 1024 * 1024;
/// Writers kept open at once; beyond this the idle ones are closed.
const MAX_OPEN_WRITERS: usize = 256;
/// Catalog rows fetched at a time by reads.
const READ_PAGE_FILES: usize = 256;
/// The catalog's file name under the root.
pub const CATALOG_FILE: &str = "catalog.db";

/// Where the store lives and how it writes.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub root: PathBuf,
    pub writer: WriterConfig,
}

impl StoreConfig {
    pub fn new(root: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            root: root.into(),
            writer: WriterConfig::default(),
        }
    }
}

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub endpoint: String,
    /// `None` for ground truth.
    pub variant: Option<String>,
    /// Start of the file's UTC hour, epoch milliseconds.
    pub hour_ms: i64,
    /// Relative to the store root, `/`-separated.
    pub path: String,
    pub bytes: u64,
}

/// What a read returned.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub records: Vec<T>,
    /// More records matched than were returned (the limit or byte bound).
    pub truncated: bool,
    /// Lines that were not valid records (torn writes, hand edits) and were skipped.
    pub skipped_lines: u64,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            records: Vec::new(),
            truncated: false,
            skipped_lines: 0,
        }
    }
}

/// One captured record with where it is stored.
#[derive(Debug, Clone)]
pub struct StoredCapture {
    pub variant: String,
    pub record: CaptureRecord,
}

type Writers<K> = Mutex<HashMap<K, Arc<Mutex<RotatingWriter>>>>;

/// Capture and ground-truth files of the server.
pub struct CaptureStore {
    cfg: StoreConfig,
    catalog: Arc<Catalog>,
    reconciled: Reconciled,
    captures: Writers<(String, String)>,
    truth: Writers<String>,
}

/// Splits a JSONL body into (line number, line) for non-blank lines.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
}

fn writer<K: std::hash::Hash + Eq + Clone>(
    map: &Writers<K>,
    key: &K,
    make: impl FnOnce() -> RotatingWriter,
) -> Arc<Mutex<RotatingWriter>> {
    let mut m = map.lock();
    if let Some(w) = m.get(key) {
        return w.clone();
    }
    if m.len() >= MAX_OPEN_WRITERS {
        // Close writers nobody is using right now; they reopen on demand.
        m.retain(|_, w| Arc::strong_count(w) > 1);
    }
    let w = Arc::new(Mutex::new(make()));
    m.insert(key.clone(), w.clone());
    w
}

fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn check_range(start_ms: i64, end_ms: i64) -> Result<()> {
    if end_ms <= start_ms {
        return Err(Error::invalid(
            "the end of the time range must be after its start",
        ));
    }
    Ok(())
}

/// Reports every file of the folder tree under `root` to `found`.
fn scan(root: &Path, found: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
    let mut hour_files = |kind: Kind, endpoint: &str, variant: Option<&str>, base: &Path| {
        for (hour, dir) in layout::all_hours(base)? {
            for (_, path, _) in layout::files_in(&dir)? {
                found(Entry {
                    kind,
                    endpoint: endpoint.to_string(),
                    variant: variant.map(str::to_string),
                    hour_ms: hour,
                    path: rel(root, &path),
                })?;
            }
        }
        Ok::<(), Error>(())
    };
    let captures = root.join("data-capture");
    for endpoint in layout::named_dirs(&captures)? {
        for variant in layout::named_dirs(&captures.join(&endpoint))? {
            let base = captures.join(&endpoint).join(&variant);
            hour_files(Kind::Capture, &endpoint, Some(&variant), &base)?;
        }
    }
    let truth = root.join("ground-truth");
    for endpoint in layout::named_dirs(&truth)? {
        hour_files(Kind::GroundTruth, &endpoint, None, &truth.join(&endpoint))?;
    }
    Ok(())
}

/// Renames the catalog and its WAL files to `<name>.broken-<ms>[-wal|-shm]`;
/// returns the new name of the database.
fn set_aside(db: &Path) -> Result<PathBuf> {
    let stamp = mw_model::time::now_ms();
    let mut moved = db.to_path_buf();
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        let to = PathBuf::from(format!("{}.broken-{stamp}{suffix}", db.display()));
        match std::fs::rename(&from, &to) {
            Ok(()) if suffix.is_empty() => moved = to,
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("moving {} aside", from.display()), e)),
        }
    }
    Ok(moved)
}

impl CaptureStore {
    /// Opens the store under `cfg.root` (creating it), and reconciles its
    /// catalog with the folder tree.
    pub fn open(cfg: StoreConfig) -> Result<CaptureStore> {
        for sub in ["data-capture", "ground-truth"] {
            let d = cfg.root.join(sub);
            std::fs::create_dir_all(&d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let path = cfg.root.join(CATALOG_FILE);
        let open = || -> Result<(Catalog, Reconciled)> {
            let catalog = Catalog::open(&path)?;
            let reconciled = catalog.reconcile(|found| scan(&cfg.root, found))?;
            Ok((catalog, reconciled))
        };
        let (catalog, reconciled) = match open() {
            Ok(c) => c,
            // The tree is the truth: an index SQLite cannot read (damaged, or
            // of a newer version) is set aside and rebuilt from it.
            Err(e) if e.unreadable_catalog() => {
                let aside = set_aside(&path)?;
                let (catalog, mut reconciled) = open()?;
                reconciled.rebuilt = Some(format!("{e}; moved to {}", aside.display()));
                (catalog, reconciled)
            }
            Err(e) => return Err(e),
        };
        Ok(CaptureStore {
            cfg,
            catalog: Arc::new(catalog),
            reconciled,
            captures: Mutex::new(HashMap::new()),
            truth: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.cfg.root
    }

    /// What the scan at open changed in the catalog.
    pub fn reconciled(&self) -> Reconciled {
        self.reconciled.clone()
    }

    /// A writer for `base` that records each file it creates in the catalog.
    fn new_writer(
        &self,
        base: PathBuf,
        kind: Kind,
        endpoint: &str,
        variant: Option<&str>,
    ) -> RotatingWriter {
        let catalog = self.catalog.clone();
        let root = self.cfg.root.clone();
        let (endpoint, variant) = (endpoint.to_string(), variant.map(str::to_string));
        RotatingWriter::new(base, self.cfg.writer).on_create(Box::new(move |path, hour| {
            catalog.insert(&Entry {
                kind,
                endpoint: endpoint.clone(),
                variant: variant.clone(),
                hour_ms: hour,
                path: rel(&root, path),
            })
        }))
    }

    fn capture_base(&self, endpoint: &str) -> PathBuf {
        self.cfg.root.join("data-capture").join(endpoint)
    }

    fn truth_base(&self, endpoint: &str) -> PathBuf {
        self.cfg.root.join("ground-truth").join(endpoint)
    }

    /// Validates and stores a JSONL batch of capture records; returns how many.
    pub fn append_captures(&self, endpoint: &str, variant: &str, body: &[u8]) -> Result<usize> {
        validate_name("endpoint name", endpoint)?;
        validate_name("variant name", variant)?;
        let mut batch = Vec::new();
        for (n, line) in lines(body) {
            if batch.len() == MAX_BATCH_RECORDS {
                return Err(Error::LimitExceeded(format!(
                    "a batch holds at most {MAX_BATCH_RECORDS} records"
                )));
            }
            let t =
                CaptureRecord::check(line).map_err(|e| Error::invalid(format!("line {n}: {e}")))?;
            batch.push((t, line));
        }
        if batch.is_empty() {
            return Err(Error::invalid("the batch holds no records"));
        }
        let base = self.capture_base(endpoint).join(variant);
        let w = writer(
            &self.captures,
            &(endpoint.to_string(), variant.to_string()),
            || self.new_writer(base, Kind::Capture, endpoint, Some(variant)),
        );
        let mut w = w.lock();
        write_batch(&mut w, &batch)?;
        Ok(batch.len())
    }

    /// Validates and stores a JSONL batch of ground-truth records in the hour
    /// of `collected_ms`; returns how many.
    pub fn append_ground_truth(
        &self,
        endpoint: &str,
        body: &[u8],
        collected_ms: i64,
    ) -> Result<usize> {
        validate_name("endpoint name", endpoint)?;
        let mut batch = Vec::new();
        for (n, line) in lines(body) {
            if batch.len() == MAX_BATCH_RECORDS {
                return Err(Error::LimitExceeded(format!(
                    "a batch holds at most {MAX_BATCH_RECORDS} records"
                )));
            }
            GroundTruthRecord::parse(line).map_err(|e| Error::invalid(format!("line {n}: {e}")))?;
            batch.push((collected_ms, line));
        }
        if batch.is_empty() {
            return Err(Error::invalid("the batch holds no records"));
        }
        let base = self.truth_base(endpoint);
        let w = writer(&self.truth, &endpoint.to_string(), || {
            self.new_writer(base, Kind::GroundTruth, endpoint, None)
        });
        let mut w = w.lock();
        write_batch(&mut w, &batch)?;
        Ok(batch.len())
    }

    /// Files of `q`, by hour then path, at most `limit`, with their sizes
    /// now. A file deleted since the catalog was reconciled is left out.
    fn list(&self, q: &Query<'_>, limit: usize) -> Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        let mut after: Option<(i64, String)> = None;
        // Rows of deleted files do not count: page on until `limit` files
        // that exist, so a caller asking for one more than it shows still
        // learns whether there are more.
        while out.len() < limit {
            let want = limit - out.len();
            let page =
                self.catalog
                    .files(q, after.as_ref().map(|(h, p)| (*h, p.as_str())), want)?;
            let full = page.len() == want;
            for (hour_ms, path, variant) in page {
                after = Some((hour_ms, path.clone()));
                let bytes = match std::fs::metadata(self.cfg.root.join(&path)) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(_) => 0,
                };
                out.push(FileInfo {
                    endpoint: q.endpoint.to_string(),
                    variant,
                    hour_ms,
                    path,
                    bytes,
                });
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Calls `f` with the catalog's files of `q` in order, a page at a time,
    /// until it returns false.
    fn each_file(
        &self,
        q: &Query<'_>,
        mut f: impl FnMut(&str, Option<&str>) -> Result<bool>,
    ) -> Result<()> {
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = self.catalog.files(
                q,
                after.as_ref().map(|(h, p)| (*h, p.as_str())),
                READ_PAGE_FILES,
            )?;
            for (_, path, variant) in &page {
                if !f(path, variant.as_deref())? {
                    return Ok(());
                }
            }
            if page.len() < READ_PAGE_FILES {
                return Ok(());
            }
            after = page.into_iter().next_back().map(|(h, p, _)| (h, p));
        }
    }

    fn capture_query<'a>(
        &self,
        endpoint: &'a str,
        variant: Option<&'a str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Query<'a>> {
        check_range(start_ms, end_ms)?;
        validate_name("endpoint name", endpoint)?;
        if let Some(v) = variant {
            validate_name("variant name", v)?;
        }
        Ok(Query {
            kind: Kind::Capture,
            endpoint,
            variant,
            first_hour_ms: layout::hour_floor(start_ms),
            end_ms,
        })
    }

    fn truth_query<'a>(&self, endpoint: &'a str, start_ms: i64, end_ms: i64) -> Result<Query<'a>> {
        check_range(start_ms, end_ms)?;
        validate_name("endpoint name", endpoint)?;
        Ok(Query {
            kind: Kind::GroundTruth,
            endpoint,
            variant: None,
            first_hour_ms: layout::hour_floor(start_ms),
            end_ms,
        })
    }

    /// Capture files of an endpoint (one variant or all) whose hour overlaps
    /// `[start_ms, end_ms)`, by hour then name.
    pub fn list_captures(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<FileInfo>> {
        self.list_captures_limit(endpoint, variant, start_ms, end_ms, usize::MAX)
    }

    /// [`list_captures`](Self::list_captures), at most `limit` files.
    pub fn list_captures_limit(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<FileInfo>> {
        let q = self.capture_query(endpoint, variant, start_ms, end_ms)?;
        self.list(&q, limit)
    }

    /// Ground-truth files of an endpoint collected in `[start_ms, end_ms)` hours.
    pub fn list_ground_truth(
        &self,
        endpoint: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<FileInfo>> {
        self.list_ground_truth_limit(endpoint, start_ms, end_ms, usize::MAX)
    }

    /// [`list_ground_truth`](Self::list_ground_truth), at most `limit` files.
    pub fn list_ground_truth_limit(
        &self,
        endpoint: &str,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<FileInfo>> {
        let q = self.truth_query(endpoint, start_ms, end_ms)?;
        self.list(&q, limit)
    }

    /// Captured records with `inferenceTime` in `[start_ms, end_ms)`, oldest
    /// hour first, at most `limit` (capped at [`MAX_READ_RECORDS`]).
    pub fn read_captures(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Page<StoredCapture>> {
        let q = self.capture_query(endpoint, variant, start_ms, end_ms)?;
        let limit = limit.clamp(1, MAX_READ_RECORDS);
        let mut page = Page::default();
        let mut bytes = 0usize;
        self.each_file(&q, |path, variant| {
            let variant = variant.unwrap_or_default().to_string();
            read_lines(&self.cfg.root.join(path), |line| {
                let Ok(record) = CaptureRecord::parse(line) else {
                    page.skipped_lines += 1;
                    return true;
                };
                let t = record.inference_time_ms();
                if t < start_ms || t >= end_ms {
                    return true;
                }
                if page.records.len() >= limit || bytes + line.len() > MAX_READ_BYTES {
                    page.truncated = true;
                    return false;
                }
                bytes += line.len();
                page.records.push(StoredCapture {
                    variant: variant.clone(),
                    record,
                });
                true
            })
        })?;
        Ok(page)
    }

    /// Ground-truth records collected in the hours overlapping `[start_ms, end_ms)`.
    pub fn read_ground_truth(
        &self,
        endpoint: &str,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Page<GroundTruthRecord>> {
        let q = self.truth_query(endpoint, start_ms, end_ms)?;
        let limit = limit.clamp(1, MAX_READ_RECORDS);
        let mut page = Page::default();
        let mut bytes = 0usize;
        self.each_file(&q, |path, _| {
            read_lines(&self.cfg.root.join(path), |line| {
                let Ok(record) = GroundTruthRecord::parse(line) else {
                    page.skipped_lines += 1;
                    return true;
                };
                if page.records.len() >= limit || bytes + line.len() > MAX_READ_BYTES {
                    page.truncated = true;
                    return false;
                }
                bytes += line.len();
                page.records.push(record);
                true
            })
        })?;
        Ok(page)
    }

    /// Commits every open file (call before exit).
    pub fn close(&self) -> Result<()> {
        let all: Vec<_> = self
            .captures
            .lock()
            .drain()
            .map(|(_, w)| w)
            .chain(self.truth.lock().drain().map(|(_, w)| w))
            .collect();
        for w in all {
            w.lock().close()?;
        }
        Ok(())
    }
}

fn write_batch(w: &mut RotatingWriter, batch: &[(i64, &[u8])]) -> Result<()> {
    let mut line = Vec::new();
    for (t, l) in batch {
        line.clear();
        line.extend_from_slice(l);
        line.push(b'\n');
        w.append(*t, &line)?;
    }
    w.commit()
}

/// Calls `f` with each complete line of `path`; stops when `f` returns false
/// (and then returns false). A last line without `\n` is still being written
/// (or was torn) and is not read.
fn read_lines(path: &Path, mut f: impl FnMut(&[u8]) -> bool) -> Result<bool> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let complete = match data.iter().rposition(|b| *b == b'\n') {
        Some(i) => &data[..i],
        None => return Ok(true),
    };
    for line in complete.split(|b| *b == b'\n') {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if !f(line) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
