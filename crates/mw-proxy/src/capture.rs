//! Data capture off the request path.
//!
//! The request path only decides whether to sample and, once the answer
//! has been written to the client, encodes the SageMaker record into its
//! serving thread's own buffer ([`Capture::submit`]: a microsecond or two,
//! spread evenly over requests, under a lock nobody else takes except
//! the worker for a swap). That never waits: when the buffers hold more
//! than their byte bound the record is dropped and counted. One background
//! task ([`run_worker`]) takes the buffers every flush interval (a swap,
//! no encoding: so no burst of work on the serving threads' cores) and
//! hands each batch to the sink:
//!
//! - a local directory: `<dir>/<endpoint>/<variant>/yyyy/mm/dd/HH/*.jsonl`
//!   through [`mw_capture::RotatingWriter`];
//! - the server's capture store (`POST /api/v1/captures/...`). While the
//!   server is down or slow, batches go to a disk buffer (one file per batch)
//!   up to its byte bound, and are resent oldest first when it is back;
//!   beyond the bound they are dropped and counted.
//!
//! [`CaptureStats`] holds the counters the metrics publisher reports
//! (`CaptureRecordsWritten`, `CaptureRecordsDropped`).

use bytes::Bytes;
use http::HeaderValue;
use mw_capture::{
    encode_event, ContentTypes, Event, Observed, RotatingWriter, Sampler, WriterConfig,
};
use mw_client::Client;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The local-file writer gives up its core this often (bytes written).
const YIELD_EVERY_BYTES: usize = 64 * 1024;

/// Records encoded by one serving thread, waiting for the worker.
type Pending = Arc<Mutex<Batch>>;

/// Where captured records go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// The server's capture store (the client's server).
    Server,
    /// A local root folder.
    Dir(PathBuf),
}

/// Capture settings (SageMaker's `DataCaptureConfig` plus the buffer bounds).
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub percent: f64,
    pub input: bool,
    pub output: bool,
    pub content_types: ContentTypes,
    pub destination: Destination,
    /// Bytes of payload waiting in memory before records are dropped.
    pub queue_bytes: usize,
    /// The disk buffer for a server destination.
    pub buffer_dir: PathBuf,
    pub buffer_bytes: u64,
    /// Local files rotate at this size (and every hour).
    pub max_file_bytes: u64,
    /// The queue is emptied every `linger`, in batches of at most this many
    /// records...
    pub batch_records: usize,
    /// ...and this many bytes.
    pub batch_bytes: usize,
    pub linger: Duration,
    /// fsync local files on every batch.
    pub sync: bool,
}

/// Counters shared with the request path and the metrics publisher.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Encoded records in memory: in the serving threads' buffers or being
    /// delivered.
    pub queued_bytes: AtomicUsize,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub buffered_bytes: AtomicU64,
    pub buffered_batches: AtomicU64,
}

/// One sampled invocation waiting to be encoded.
#[derive(Debug)]
///
/// The texts are header values as they came (visible ASCII, shared with the
/// request and response rather than copied).
pub struct Item {
    pub input: Option<(HeaderValue, Bytes)>,
    pub output: Option<(HeaderValue, Bytes)>,
    pub inference_id: Option<HeaderValue>,
    pub custom_attributes: Option<HeaderValue>,
    pub time_ms: i64,
}

impl Item {
    fn cost(&self) -> usize {
        256 + self.input.as_ref().map_or(0, |i| i.1.len())
            + self.output.as_ref().map_or(0, |o| o.1.len())
    }
}

/// The request path's handle; each serving thread takes its own with
/// [`Capture::for_thread`].
pub struct Capture {
    sampler: Sampler,
    pub input: bool,
    pub output: bool,
    queue_bytes: usize,
    types: ContentTypes,
    /// This handle's buffer (also in `all`, where the worker finds it).
    pending: Pending,
    all: Arc<Mutex<Vec<Pending>>>,
    /// Never sent on: the worker stops once every handle is gone.
    _alive: mpsc::UnboundedSender<()>,
    pub stats: Arc<CaptureStats>,
}

impl Capture {
    /// A handle with a buffer of its own (one per serving thread).
    pub fn for_thread(&self) -> Capture {
        let pending = Pending::default();
        self.all.lock().push(pending.clone());
        Capture {
            sampler: self.sampler,
            input: self.input,
            output: self.output,
            queue_bytes: self.queue_bytes,
            types: self.types.clone(),
            pending,
            all: self.all.clone(),
            _alive: self._alive.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Whether this invocation is captured (decided before it runs).
    pub fn sample(&self) -> bool {
        self.sampler.sample()
    }

    /// Encodes a record into this thread's buffer; drops (and counts) it
    /// when the buffers are full.
    pub fn submit(&self, item: Item) {
        let cost = item.cost();
        if self.stats.queued_bytes.load(Ordering::Relaxed) + cost > self.queue_bytes {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut p = self.pending.lock();
        let (bytes, lines) = (p.jsonl.len(), p.lines.len());
        encode_into(&mut p, &item, &self.types);
        let added = p.jsonl.len() - bytes;
        // Escaping and base64 make a record larger than its bodies: the bound
        // is checked again on what was encoded.
        if self.stats.queued_bytes.load(Ordering::Relaxed) + added > self.queue_bytes {
            p.jsonl.truncate(bytes);
            p.lines.truncate(lines);
            drop(p);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Counted under the lock, so the worker's swap takes exactly what was counted.
        self.stats.queued_bytes.fetch_add(added, Ordering::Relaxed);
    }
}

enum Sink {
    Dir(Arc<Mutex<RotatingWriter>>),
    Server(Box<ServerSink>),
}

struct ServerSink {
    client: Client,
    endpoint: String,
    variant: String,
    spool: Spool,
}

/// Creates the handle and the background worker (spawn the worker; it ends
/// when every handle is gone and the queue is drained).
pub fn start(
    cfg: &CaptureConfig,
    endpoint: &str,
    variant: &str,
    client: Option<Client>,
) -> crate::Result<(Capture, impl std::future::Future<Output = ()>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let stats = Arc::new(CaptureStats::default());
    let pending = Pending::default();
    let all = Arc::new(Mutex::new(vec![pending.clone()]));
    let sink = match &cfg.destination {
        Destination::Dir(root) => {
            mw_capture::layout::validate_name("endpoint name", endpoint)?;
            mw_capture::layout::validate_name("variant name", variant)?;
            let base = root.join(endpoint).join(variant);
            std::fs::create_dir_all(&base)
                .map_err(|e| crate::Error::io(format!("creating {}", base.display()), e))?;
            Sink::Dir(Arc::new(Mutex::new(RotatingWriter::new(
                base,
                WriterConfig {
                    max_file_bytes: cfg.max_file_bytes,
                    sync: cfg.sync,
                },
            ))))
        }
        Destination::Server => {
            let client = client.ok_or_else(|| {
                crate::Error::invalid("capture to the server needs the server's URL (--server)")
            })?;
            let spool = Spool::open(cfg.buffer_dir.clone(), cfg.buffer_bytes, stats.clone())?;
            Sink::Server(Box::new(ServerSink {
                client,
                endpoint: endpoint.to_string(),
                variant: variant.to_string(),
                spool,
            }))
        }
    };
    let handle = Capture {
        sampler: Sampler::new(cfg.percent),
        input: cfg.input,
        output: cfg.output,
        queue_bytes: cfg.queue_bytes,
        types: cfg.content_types.clone(),
        pending,
        all: all.clone(),
        _alive: tx,
        stats: stats.clone(),
    };
    let worker = run_worker(rx, all, sink, stats, cfg.clone());
    Ok((handle, worker))
}

/// An encoded batch: JSONL and each record's time and line range.
#[derive(Default)]
struct Batch {
    jsonl: Vec<u8>,
    lines: Vec<(i64, usize, usize)>,
}

impl Batch {
    fn with_capacity(bytes: usize, records: usize) -> Batch {
        Batch {
            jsonl: Vec::with_capacity(bytes),
            lines: Vec::with_capacity(records),
        }
    }

    /// Appends `other`'s records.
    fn append(&mut self, other: &Batch) {
        let base = self.jsonl.len();
        self.jsonl.extend_from_slice(&other.jsonl);
        self.lines
            .extend(other.lines.iter().map(|(t, a, b)| (*t, a + base, b + base)));
    }

    /// Splits off the first records, at most `records` of them and about
    /// `bytes` (at least one record).
    fn split_front(&mut self, records: usize, bytes: usize) -> Batch {
        let mut n = 0;
        while n < self.lines.len() && n < records.max(1) {
            if n > 0 && self.lines[n].2 > bytes {
                break;
            }
            n += 1;
        }
        let end = self.lines.get(n.wrapping_sub(1)).map_or(0, |l| l.2);
        let rest_jsonl = self.jsonl.split_off(end);
        let rest_lines: Vec<_> = self
            .lines
            .split_off(n)
            .into_iter()
            .map(|(t, a, b)| (t, a - end, b - end))
            .collect();
        Batch {
            jsonl: std::mem::replace(&mut self.jsonl, rest_jsonl),
            lines: std::mem::replace(&mut self.lines, rest_lines),
        }
    }
}

/// A header value the request path checked to be text.
fn text(v: &HeaderValue) -> &str {
    v.to_str().unwrap_or_default()
}

/// Appends the SageMaker record of `it` to `batch`.
fn encode_into(batch: &mut Batch, it: &Item, types: &ContentTypes) {
    let start = batch.jsonl.len();
    let id = mw_capture::ids::uuid_v4_bytes();
    // Hex digits and dashes only.
    let id = std::str::from_utf8(&id).unwrap_or_default();
    encode_event(
        &mut batch.jsonl,
        &Event {
            input: it.input.as_ref().map(|(ct, b)| Observed {
                content_type: text(ct),
                body: b,
            }),
            output: it.output.as_ref().map(|(ct, b)| Observed {
                content_type: text(ct),
                body: b,
            }),
            event_id: id,
            inference_id: it.inference_id.as_ref().map(text),
            custom_attributes: it.custom_attributes.as_ref().map(text),
            inference_time_ms: it.time_ms,
        },
        types,
    );
    batch.lines.push((it.time_ms, start, batch.jsonl.len()));
}

async fn run_worker(
    mut alive: mpsc::UnboundedReceiver<()>,
    all: Arc<Mutex<Vec<Pending>>>,
    mut sink: Sink,
    stats: Arc<CaptureStats>,
    cfg: CaptureConfig,
) {
    let mut tick = tokio::time::interval(cfg.linger.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retry = tokio::time::Instant::now();
    let mut closed = false;
    // Bytes and records each thread's buffer held at the last swap.
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    while !closed {
        tick.tick().await;
        // Checked before taking the buffers: whatever the last handle
        // encoded before it went is in them.
        closed = matches!(
            alive.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        );
        let mut batch = Batch::default();
        let buffers: Vec<_> = all.lock().clone();
        sizes.resize(buffers.len(), (0, 0));
        for (b, size) in buffers.iter().zip(sizes.iter_mut()) {
            // Each thread gets back room for what it encoded last period, so
            // its buffer does not regrow (reallocate and copy) on the request
            // path. Allocated here, off that path.
            let fresh = Batch::with_capacity(size.0 + size.0 / 4, size.1 + size.1 / 4);
            // A swap under the lock; the copy happens outside it.
            let taken = std::mem::replace(&mut *b.lock(), fresh);
            *size = (taken.jsonl.len(), taken.lines.len());
            if batch.lines.is_empty() {
                batch = taken;
            } else {
                batch.append(&taken);
            }
        }
        // A record stays counted as queued until it is written, in the disk
        // buffer, or dropped: the bound covers the batch being delivered, and
        // an empty queue means every record so far has been dealt with.
        while !batch.lines.is_empty() {
            let part = batch.split_front(cfg.batch_records, cfg.batch_bytes);
            let bytes = part.jsonl.len();
            deliver(&mut sink, part, &stats).await;
            // Release: whoever sees the queue empty also sees the counts above.
            stats.queued_bytes.fetch_sub(bytes, Ordering::Release);
        }
        if last_retry.elapsed() >= Duration::from_secs(1) {
            last_retry = tokio::time::Instant::now();
            if let Sink::Server(s) = &mut sink {
                let ServerSink {
                    client,
                    endpoint,
                    variant,
                    spool,
                } = &mut **s;
                spool.drain(client, endpoint, variant).await;
            }
        }
    }
    // Shutting down: whatever is in the disk buffer stays there for the next start.
    if let Sink::Dir(w) = &sink {
        let w = w.clone();
        let _ = tokio::task::spawn_blocking(move || w.lock().close()).await;
    }
}

async fn deliver(sink: &mut Sink, batch: Batch, stats: &Arc<CaptureStats>) {
    let n = batch.lines.len() as u64;
    match sink {
        Sink::Dir(w) => {
            let w = w.clone();
            let res = tokio::task::spawn_blocking(move || {
                let mut w = w.lock();
                let mut since_yield = 0;
                for (t, a, b) in &batch.lines {
                    w.append(*t, &batch.jsonl[*a..*b])?;
                    // The writes of a large batch are a few hundred µs of
                    // kernel time on the serving threads' cores. A serving
                    // thread woken meanwhile need not wait for the scheduler
                    // to end this thread's slice: it gets the core here,
                    // between writes (of the writer's 64 KB buffer).
                    since_yield += b - a;
                    if since_yield >= YIELD_EVERY_BYTES {
                        since_yield = 0;
                        std::thread::yield_now();
                    }
                }
                w.commit()
            })
            .await;
            match res {
                Ok(Ok(())) => {
                    stats.written.fetch_add(n, Ordering::Relaxed);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, records = n, "writing captured records failed; they are dropped");
                    stats.dropped.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "capture writer task failed");
                    stats.dropped.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        Sink::Server(s) => {
            let ServerSink {
                client,
                endpoint,
                variant,
                spool,
            } = &mut **s;
            let body = Bytes::from(batch.jsonl);
            if spool.is_empty() {
                match client.put_captures(endpoint, variant, body.clone()).await {
                    Ok(_) => {
                        stats.written.fetch_add(n, Ordering::Relaxed);
                        return;
                    }
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = %e, records = n, "capture server unavailable; buffering on disk");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, records = n, "the server rejected captured records; they are dropped");
                        stats.dropped.fetch_add(n, Ordering::Relaxed);
                        return;
                    }
                }
            }
            // Keep order: behind what is already buffered.
            spool.push(body, n).await;
            spool.drain(client, endpoint, variant).await;
        }
    }
}

/// Writes `body` to `path` so that a crash leaves either the whole file or
/// none: a `.tmp` file, fsynced, then renamed (and the directory fsynced).
/// A leftover `.tmp` is ignored (and removed) when the buffer is opened.
fn write_durably(path: &std::path::Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("jsonl.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The disk buffer: one file per batch, `<seq>-<records>.jsonl`, oldest first.
struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    files: VecDeque<(PathBuf, u64, u64)>,
    next_seq: u64,
    stats: Arc<CaptureStats>,
}

impl Spool {
    fn open(dir: PathBuf, max_bytes: u64, stats: Arc<CaptureStats>) -> crate::Result<Spool> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::Error::io(format!("creating {}", dir.display()), e))?;
        let mut files = Vec::new();
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| crate::Error::io(format!("listing {}", dir.display()), e))?;
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".jsonl.tmp") {
                // A batch whose write a crash interrupted: never acknowledged.
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            let Some(stem) = name.strip_suffix(".jsonl") else {
                continue;
            };
            let Some((seq, n)) = stem.split_once('-') else {
                continue;
            };
            let (Ok(seq), Ok(n)) = (seq.parse::<u64>(), n.parse::<u64>()) else {
                continue;
            };
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((seq, entry.path(), n, len));
        }
        files.sort();
        let next_seq = files.last().map_or(0, |f| f.0 + 1);
        let total: u64 = files.iter().map(|f| f.3).sum();
        stats.buffered_bytes.store(total, Ordering::Relaxed);
        stats
            .buffered_batches
            .store(files.len() as u64, Ordering::Relaxed);
        if !files.is_empty() {
            tracing::info!(batches = files.len(), bytes = total, dir = %dir.display(), "resending buffered captures");
        }
        Ok(Spool {
            dir,
            max_bytes,
            files: files.into_iter().map(|f| (f.1, f.2, f.3)).collect(),
            next_seq,
            stats,
        })
    }

    fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    async fn push(&mut self, body: Bytes, n: u64) {
        let len = body.len() as u64;
        if self.stats.buffered_bytes.load(Ordering::Relaxed) + len > self.max_bytes {
            self.stats.dropped.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(records = n, "capture disk buffer is full; records dropped");
            return;
        }
        let path = self.dir.join(format!("{:016}-{n}.jsonl", self.next_seq));
        self.next_seq += 1;
        let p = path.clone();
        let res = tokio::task::spawn_blocking(move || write_durably(&p, &body)).await;
        match res {
            Ok(Ok(())) => {
                self.stats.buffered_bytes.fetch_add(len, Ordering::Relaxed);
                self.stats.buffered_batches.fetch_add(1, Ordering::Relaxed);
                self.files.push_back((path, n, len));
            }
            _ => {
                tracing::error!(path = %path.display(), records = n, "writing the capture buffer failed; records dropped");
                self.stats.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    fn forget_front(&mut self) {
        if let Some((path, _, len)) = self.files.pop_front() {
            let _ = std::fs::remove_file(&path);
            self.stats.buffered_bytes.fetch_sub(len, Ordering::Relaxed);
            self.stats.buffered_batches.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sends buffered batches oldest first until one fails.
    async fn drain(&mut self, client: &Client, endpoint: &str, variant: &str) {
        while let Some((path, n, _)) = self.files.front().cloned() {
            let p = path.clone();
            let body = match tokio::task::spawn_blocking(move || std::fs::read(&p)).await {
                Ok(Ok(b)) => Bytes::from(b),
                _ => {
                    tracing::error!(path = %path.display(), "reading the capture buffer failed; batch dropped");
                    self.stats.dropped.fetch_add(n, Ordering::Relaxed);
                    self.forget_front();
                    continue;
                }
            };
            match client.put_captures(endpoint, variant, body).await {
                Ok(_) => {
                    self.stats.written.fetch_add(n, Ordering::Relaxed);
                    self.forget_front();
                }
                Err(e) if e.is_retryable() => return,
                Err(e) => {
                    tracing::error!(error = %e, records = n, "the server rejected buffered captures; they are dropped");
                    self.stats.dropped.fetch_add(n, Ordering::Relaxed);
                    self.forget_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(records: &[&str]) -> Batch {
        let mut b = Batch::default();
        for (i, r) in records.iter().enumerate() {
            let start = b.jsonl.len();
            b.jsonl.extend_from_slice(r.as_bytes());
            b.lines.push((i as i64, start, b.jsonl.len()));
        }
        b
    }

    fn records(b: &Batch) -> Vec<String> {
        b.lines
            .iter()
            .map(|(_, a, e)| String::from_utf8(b.jsonl[*a..*e].to_vec()).unwrap())
            .collect()
    }

    /// The bound holds for what is encoded, which escaping makes larger
    /// than the bodies.
    #[test]
    fn the_queue_bound_counts_encoded_bytes() {
        let dir = std::env::temp_dir().join(format!("mw-capq-{}", std::process::id()));
        let cfg = CaptureConfig {
            percent: 100.0,
            input: true,
            output: false,
            content_types: ContentTypes::default(),
            destination: Destination::Dir(dir.clone()),
            queue_bytes: 1500,
            buffer_dir: dir.join("buffer"),
            buffer_bytes: 1 << 20,
            max_file_bytes: 1 << 20,
            batch_records: 100,
            batch_bytes: 1 << 20,
            linger: Duration::from_millis(100),
            sync: false,
        };
        let (handle, _worker) = start(&cfg, "ep", "v", None).unwrap();
        let item = |body: &'static [u8]| Item {
            input: Some((
                HeaderValue::from_static("text/csv"),
                Bytes::from_static(body),
            )),
            output: None,
            inference_id: None,
            custom_attributes: None,
            time_ms: 1_700_000_000_000,
        };
        // 300 control bytes pass the check on their size (556 < 1500), but
        // each encodes as six (\u0001): a record of about 2,000 bytes.
        handle.submit(item(&[1u8; 300]));
        assert_eq!(handle.stats.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(handle.stats.queued_bytes.load(Ordering::Relaxed), 0);
        assert!(handle.pending.lock().jsonl.is_empty());
        // A plain record still fits, and is counted as encoded.
        handle.submit(item(b"1,2"));
        let p = handle.pending.lock();
        assert_eq!(p.lines.len(), 1);
        assert_eq!(
            handle.stats.queued_bytes.load(Ordering::Relaxed),
            p.jsonl.len()
        );
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn batches_join_and_split_on_record_boundaries() {
        let mut b = batch_of(&["a\n", "bb\n"]);
        b.append(&batch_of(&["ccc\n", "dddd\n", "e\n"]));
        assert_eq!(records(&b), ["a\n", "bb\n", "ccc\n", "dddd\n", "e\n"]);
        // At most 2 records...
        let first = b.split_front(2, 1 << 20);
        assert_eq!(records(&first), ["a\n", "bb\n"]);
        assert_eq!(first.jsonl, b"a\nbb\n");
        // ...or about 5 bytes, but never none.
        let second = b.split_front(10, 5);
        assert_eq!(records(&second), ["ccc\n"]);
        let third = b.split_front(10, 1);
        assert_eq!(records(&third), ["dddd\n"]);
        assert_eq!(records(&b), ["e\n"]);
        assert_eq!(b.jsonl, b"e\n");
        let last = b.split_front(10, 100);
        assert_eq!(records(&last), ["e\n"]);
        assert!(b.lines.is_empty() && b.jsonl.is_empty());
    }

    #[tokio::test]
    async fn the_disk_buffer_keeps_whole_batches_only() {
        let dir = std::env::temp_dir().join(format!("mw-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stats = Arc::new(CaptureStats::default());
        let mut spool = Spool::open(dir.clone(), 1 << 20, stats.clone()).unwrap();
        spool.push(Bytes::from_static(b"{\"a\":1}\n"), 1).await;
        spool
            .push(Bytes::from_static(b"{\"a\":2}\n{\"a\":3}\n"), 2)
            .await;
        // A write that a crash cut short: only its temporary file exists.
        std::fs::write(dir.join("0000000000000009-5.jsonl.tmp"), b"{\"a\":").unwrap();
        drop(spool);
        let stats = Arc::new(CaptureStats::default());
        let spool = Spool::open(dir.clone(), 1 << 20, stats.clone()).unwrap();
        let kept: Vec<u64> = spool.files.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(kept, [1, 2]);
        assert_eq!(stats.buffered_batches.load(Ordering::Relaxed), 2);
        assert!(!dir.join("0000000000000009-5.jsonl.tmp").exists());
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".jsonl")), "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
