//! Data capture off the request path.
//!
//! The request path only decides whether to sample and, once the answer
//! has been written to the client, copies what the record needs (bodies,
//! content types, ids: a few `memcpy`s) into its serving thread's own
//! buffer ([`Capture::submit`], under a lock nobody else takes except the
//! worker for a swap). That never waits: when the queue holds more than its
//! byte bound the record is dropped and counted. One background task
//! ([`run_worker`]) takes the buffers every flush interval (a swap),
//! encodes the SageMaker records and hands each batch to the sink:
//!
//! - a local directory: `<dir>/<endpoint>/<variant>/yyyy/mm/dd/HH/*.jsonl`
//!   through [`mw_capture::RotatingWriter`];
//! - the server's capture store (`POST /api/v1/captures/...`). While the
//!   server is down or slow, batches go to a disk buffer (one file per batch)
//!   up to its byte bound, and are resent oldest first when it is back;
//!   beyond the bound they are dropped and counted.
//!
//! The worker runs on the proxy's background threads, which the binary puts
//! under SCHED_IDLE ([`crate::background`]): encoding and delivery use the
//! CPU time the serving threads leave, and never delay a request.
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
const YIELD_EVERY_BYTES: usize = 4 * mw_capture::writer::WRITE_BYTES;

/// Records taken by one serving thread, waiting for the worker.
type Pending = Arc<Mutex<Taken>>;

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
    /// Records in memory, each counted once: as taken (its bytes plus its
    /// entry) until the worker encodes it, then as encoded until delivered.
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
    /// What the item takes once copied into a [`Taken`].
    fn cost(&self) -> usize {
        let texts = [&self.inference_id, &self.custom_attributes]
            .into_iter()
            .flatten()
            .map(|v| v.len());
        let observed = [&self.input, &self.output]
            .into_iter()
            .flatten()
            .map(|(t, b)| t.len() + b.len());
        std::mem::size_of::<Raw>() + texts.chain(observed).sum::<usize>()
    }
}

/// The request path's handle; each serving thread takes its own with
/// [`Capture::for_thread`].
pub struct Capture {
    sampler: Sampler,
    pub input: bool,
    pub output: bool,
    queue_bytes: usize,
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

    /// Copies a record into this thread's buffer for the worker to encode;
    /// drops (and counts) it when the queue is full.
    pub fn submit(&self, item: Item) {
        let cost = item.cost();
        if self.stats.queued_bytes.load(Ordering::Relaxed) + cost > self.queue_bytes {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut p = self.pending.lock();
        p.push(&item);
        // Counted under the lock, so the worker's swap takes exactly what was counted.
        self.stats.queued_bytes.fetch_add(cost, Ordering::Relaxed);
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
        pending,
        all: all.clone(),
        _alive: tx,
        stats: stats.clone(),
    };
    let worker = run_worker(rx, all, sink, stats, cfg.clone());
    Ok((handle, worker))
}

/// A range of [`Taken::bytes`].
type Span = (usize, usize);

/// Records one serving thread took, waiting for the worker: their texts
/// and bodies copied into one buffer (so a waiting record keeps nothing of
/// a connection's buffers alive), and an entry for each.
#[derive(Default)]
struct Taken {
    bytes: Vec<u8>,
    records: Vec<Raw>,
}

/// One taken record: where its parts are in [`Taken::bytes`].
struct Raw {
    time_ms: i64,
    /// Bytes its parts take (one run of [`Taken::bytes`]).
    len: usize,
    /// Content type and body.
    input: Option<(Span, Span)>,
    output: Option<(Span, Span)>,
    inference_id: Option<Span>,
    custom_attributes: Option<Span>,
}

impl Raw {
    /// What [`Item::cost`] counted for it.
    fn cost(&self) -> usize {
        std::mem::size_of::<Raw>() + self.len
    }
}

impl Taken {
    fn with_capacity(bytes: usize, records: usize) -> Taken {
        Taken {
            bytes: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
        }
    }

    fn put(&mut self, b: &[u8]) -> Span {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        (start, self.bytes.len())
    }

    fn push(&mut self, it: &Item) {
        let start = self.bytes.len();
        let mut observed = |o: &Option<(HeaderValue, Bytes)>| {
            o.as_ref()
                .map(|(t, b)| (self.put(t.as_bytes()), self.put(b)))
        };
        let input = observed(&it.input);
        let output = observed(&it.output);
        let mut text = |v: &Option<HeaderValue>| v.as_ref().map(|v| self.put(v.as_bytes()));
        let inference_id = text(&it.inference_id);
        let custom_attributes = text(&it.custom_attributes);
        self.records.push(Raw {
            time_ms: it.time_ms,
            len: self.bytes.len() - start,
            input,
            output,
            inference_id,
            custom_attributes,
        });
    }

    /// Encodes every record into `batch`, moving each one's count in the
    /// queue from what it took to what it encoded as. Escaping and base64
    /// make a record larger than its bodies: one that would take the queue
    /// past `bound` once encoded is dropped (and counted).
    fn encode(&self, batch: &mut Batch, types: &ContentTypes, stats: &CaptureStats, bound: usize) {
        for r in &self.records {
            let raw = r.cost();
            let start = batch.jsonl.len();
            self.encode_one(batch, r, types);
            let added = batch.jsonl.len() - start;
            // The record is counted (as `raw`) until this point, so the
            // count is at least `raw`; saturating all the same.
            let others = stats
                .queued_bytes
                .load(Ordering::Relaxed)
                .saturating_sub(raw);
            if others + added > bound {
                batch.jsonl.truncate(start);
                batch.lines.pop();
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                stats.queued_bytes.fetch_sub(raw, Ordering::Release);
            } else {
                // Up first: the count never reads lower than what is queued.
                stats.queued_bytes.fetch_add(added, Ordering::Relaxed);
                stats.queued_bytes.fetch_sub(raw, Ordering::Relaxed);
            }
        }
    }

    /// Appends the SageMaker record of `r` to `batch`.
    fn encode_one(&self, batch: &mut Batch, r: &Raw, types: &ContentTypes) {
        // Header values the request path checked to be visible ASCII.
        let text = |s: &Span| std::str::from_utf8(&self.bytes[s.0..s.1]).unwrap_or_default();
        let observed = |o: &Option<(Span, Span)>| {
            o.as_ref().map(|(t, b)| Observed {
                content_type: text(t),
                body: &self.bytes[b.0..b.1],
            })
        };
        let start = batch.jsonl.len();
        let id = mw_capture::ids::uuid_v4_bytes();
        // Hex digits and dashes only.
        let id = std::str::from_utf8(&id).unwrap_or_default();
        encode_event(
            &mut batch.jsonl,
            &Event {
                input: observed(&r.input),
                output: observed(&r.output),
                event_id: id,
                inference_id: r.inference_id.as_ref().map(text),
                custom_attributes: r.custom_attributes.as_ref().map(text),
                inference_time_ms: r.time_ms,
            },
            types,
        );
        batch.lines.push((r.time_ms, start, batch.jsonl.len()));
    }
}

/// An encoded batch: JSONL and each record's time and line range.
#[derive(Default)]
struct Batch {
    jsonl: Vec<u8>,
    lines: Vec<(i64, usize, usize)>,
}

impl Batch {
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
        // submitted before it went is in them.
        closed = matches!(
            alive.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        );
        let mut batch = Batch::default();
        let buffers: Vec<_> = all.lock().clone();
        sizes.resize(buffers.len(), (0, 0));
        for (b, size) in buffers.iter().zip(sizes.iter_mut()) {
            // Each thread gets back room for what it took last period, so
            // its buffer does not regrow (reallocate and copy) on the request
            // path. Allocated here, off that path.
            let fresh = Taken::with_capacity(size.0 + size.0 / 4, size.1 + size.1 / 4);
            // A swap under the lock; encoding happens outside it.
            let taken = std::mem::replace(&mut *b.lock(), fresh);
            *size = (taken.bytes.len(), taken.records.len());
            taken.encode(&mut batch, &cfg.content_types, &stats, cfg.queue_bytes);
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
                    // kernel time on the serving threads' cores, in calls of
                    // the writer's buffer (16 KiB) that a woken serving
                    // thread waits for at most one of. Nor need it wait for
                    // the scheduler to end this thread's slice: it gets the
                    // core here, every few writes.
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

    fn config(dir: &std::path::Path, queue_bytes: usize) -> CaptureConfig {
        CaptureConfig {
            percent: 100.0,
            input: true,
            output: true,
            content_types: ContentTypes::default(),
            destination: Destination::Dir(dir.to_path_buf()),
            queue_bytes,
            buffer_dir: dir.join("buffer"),
            buffer_bytes: 1 << 20,
            max_file_bytes: 1 << 20,
            batch_records: 100,
            batch_bytes: 1 << 20,
            linger: Duration::from_millis(100),
            sync: false,
        }
    }

    fn csv_item(body: &'static [u8]) -> Item {
        Item {
            input: Some((
                HeaderValue::from_static("text/csv"),
                Bytes::from_static(body),
            )),
            output: None,
            inference_id: None,
            custom_attributes: None,
            time_ms: 1_700_000_000_000,
        }
    }

    /// The queue counts a record as taken until it is encoded, then as
    /// encoded; escaping makes a record larger than its bodies, and one that
    /// would take the queue past its bound once encoded is dropped.
    #[test]
    fn the_queue_bound_holds_for_taken_and_encoded_records() {
        let dir = std::env::temp_dir().join(format!("mw-capq-{}", std::process::id()));
        let (handle, _worker) = start(&config(&dir, 1500), "ep", "v", None).unwrap();
        let raw = std::mem::size_of::<Raw>() + "text/csv".len();
        // 300 control bytes pass the check on their size, but each encodes
        // as six (\u0001): a record of about 2,000 bytes.
        handle.submit(csv_item(&[1u8; 300]));
        assert_eq!(handle.stats.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(handle.stats.queued_bytes.load(Ordering::Relaxed), raw + 300);
        // Over the bound even before encoding: dropped at once.
        handle.submit(csv_item(&[b'1'; 1200]));
        assert_eq!(handle.stats.dropped.load(Ordering::Relaxed), 1);
        handle.submit(csv_item(b"1,2"));
        assert_eq!(
            handle.stats.queued_bytes.load(Ordering::Relaxed),
            2 * raw + 303
        );
        let taken = std::mem::take(&mut *handle.pending.lock());
        assert_eq!(taken.records.len(), 2);
        let mut batch = Batch::default();
        taken.encode(&mut batch, &ContentTypes::default(), &handle.stats, 1500);
        // The escaped record is dropped; the plain one is now counted as encoded.
        assert_eq!(handle.stats.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(batch.lines.len(), 1);
        assert_eq!(
            handle.stats.queued_bytes.load(Ordering::Relaxed),
            batch.jsonl.len()
        );
        let line: serde_json::Value =
            serde_json::from_slice(&batch.jsonl[..batch.jsonl.len() - 1]).unwrap();
        assert_eq!(line["captureData"]["endpointInput"]["data"], "1,2");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A taken record encodes as the request path's values: every part in
    /// its place, the texts as they came.
    #[test]
    fn taken_records_encode_every_part() {
        let item = Item {
            input: Some((
                HeaderValue::from_static("application/json"),
                Bytes::from_static(br#"{"x":[1,2]}"#),
            )),
            output: Some((
                HeaderValue::from_static("application/x-npy"),
                Bytes::from_static(&[0, 1, 2, 255]),
            )),
            inference_id: Some(HeaderValue::from_static("inf-7")),
            custom_attributes: Some(HeaderValue::from_static("a=1; b=\"2\"")),
            time_ms: 1_700_000_123_456,
        };
        let mut taken = Taken::default();
        taken.push(&item);
        taken.push(&csv_item(b"3,4"));
        assert_eq!(taken.records[0].cost(), item.cost());
        let stats = CaptureStats::default();
        stats
            .queued_bytes
            .store(item.cost() + csv_item(b"3,4").cost(), Ordering::Relaxed);
        let mut batch = Batch::default();
        taken.encode(&mut batch, &ContentTypes::default(), &stats, 1 << 20);
        let lines: Vec<serde_json::Value> = batch
            .jsonl
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let (a, b) = (&lines[0], &lines[1]);
        let input = &a["captureData"]["endpointInput"];
        assert_eq!(input["observedContentType"], "application/json");
        assert_eq!(input["mode"], "INPUT");
        assert_eq!(input["data"], r#"{"x":[1,2]}"#);
        assert_eq!(input["encoding"], "JSON");
        let output = &a["captureData"]["endpointOutput"];
        assert_eq!(output["observedContentType"], "application/x-npy");
        assert_eq!(output["data"], "AAEC/w==");
        assert_eq!(output["encoding"], "BASE64");
        assert_eq!(a["eventMetadata"]["inferenceId"], "inf-7");
        assert_eq!(a["eventMetadata"]["customAttributes"], "a=1; b=\"2\"");
        assert_eq!(a["eventMetadata"]["inferenceTime"], "2023-11-14T22:15:23Z");
        assert_eq!(b["captureData"]["endpointInput"]["data"], "3,4");
        assert!(b["captureData"].get("endpointOutput").is_none());
        assert!(b["eventMetadata"].get("inferenceId").is_none());
        assert_ne!(a["eventMetadata"]["eventId"], b["eventMetadata"]["eventId"]);
        assert_eq!(batch.lines[0].0, 1_700_000_123_456);
        assert_eq!(
            stats.queued_bytes.load(Ordering::Relaxed),
            batch.jsonl.len()
        );
    }

    #[test]
    fn batches_split_on_record_boundaries() {
        let mut b = batch_of(&["a\n", "bb\n", "ccc\n", "dddd\n", "e\n"]);
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
