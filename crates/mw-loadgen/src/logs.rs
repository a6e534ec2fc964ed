//! CloudWatch Logs workload: deterministic log lines, PutLogEvents batches,
//! and FilterLogEvents scans (`mw-loadgen logs ...`).
//!
//! The lines are a mix of plain-text access-log lines
//! (`2026-11-28T12:00:00.123Z INFO request id=... path=/invocations status=200 latency_ms=12 ...`)
//! and JSON lines (`{"level":"ERROR","latency":123,...}`), each filled with
//! words to a length drawn around `--line-bytes`. Two rare features make
//! selective scans possible and checkable:
//!
//! * about one line in `--rare-every` (any kind) carries the token
//!   [`MARKER`] (`marker=ZQXJVTRACE` / `"marker":"ZQXJVTRACE"`);
//! * about one JSON line in `--rare-every` has `"latency"` in 991..=999;
//!   every other JSON latency is in 0..=990, so `{ $.latency > 990 }` and the
//!   regex `"latency":99[1-9]` select exactly those lines.
//!
//! The line sequence depends only on the seed, `--line-bytes`, `--base-ms`,
//! `--ts-step-ms` and `--total-mb` (not on how lines are cut into batches), so
//! `logs lines` writes exactly the messages `logs put` sends.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::http::{encode_post, parse_url, Conn};
use crate::workload::XorShift64;
use crate::{check, cpu_seconds, drive, percentile, round3};

/// The rare token of the term-pattern scan.
pub const MARKER: &str = "ZQXJVTRACE";
/// AWS PutLogEvents limits (also enforced by modelwatch).
pub const AWS_MAX_EVENTS: usize = 10_000;
pub const AWS_MAX_BATCH_BYTES: usize = 1_048_576;
pub const AWS_EVENT_OVERHEAD: usize = 26;
const TARGET_PREFIX: &str = "Logs_20140328.";

const LEVELS: [&str; 4] = ["INFO", "WARN", "DEBUG", "ERROR"];
const PATHS: [&str; 6] = [
    "/invocations",
    "/ping",
    "/v1/models/llama-3-8b/predict",
    "/v1/chat/completions",
    "/metrics",
    "/healthz",
];
const MODELS: [&str; 5] = [
    "llama-3-8b",
    "mistral-7b",
    "bge-small-en",
    "whisper-large-v3",
    "resnet50",
];
const WORDS: [&str; 40] = [
    "request",
    "handled",
    "upstream",
    "cache",
    "miss",
    "hit",
    "retry",
    "model",
    "loaded",
    "tokens",
    "generated",
    "batch",
    "queue",
    "wait",
    "gpu",
    "memory",
    "allocated",
    "connection",
    "closed",
    "timeout",
    "user",
    "session",
    "started",
    "finished",
    "worker",
    "thread",
    "pool",
    "scheduled",
    "shard",
    "replica",
    "warmup",
    "complete",
    "prompt",
    "decode",
    "prefill",
    "kv",
    "evicted",
    "stream",
    "chunk",
    "sent",
];

#[derive(clap::Args, Debug, Clone)]
pub struct GenArgs {
    /// Mean message length in bytes (each line gets a length drawn uniformly
    /// within ±40% of it, then filled with words to exactly that length when
    /// the mandatory fields fit).
    #[arg(long, default_value_t = 200)]
    pub line_bytes: usize,
    /// Stop after this many message bytes (1 MB = 10^6 bytes).
    #[arg(long, default_value_t = 100.0)]
    pub total_mb: f64,
    /// Timestamp of the first event, epoch ms (default: now - 10 h).
    #[arg(long)]
    pub base_ms: Option<i64>,
    /// Milliseconds between consecutive events (global order).
    #[arg(long, default_value_t = 1)]
    pub ts_step_ms: i64,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// About one line in N carries the marker token, and one JSON line in N a latency > 990.
    #[arg(long, default_value_t = 10_000)]
    pub rare_every: u64,
    /// One line in N is a JSON line (the rest are plain text).
    #[arg(long, default_value_t = 3)]
    pub json_every: u64,
}

impl GenArgs {
    pub fn base_ms(&self) -> i64 {
        self.base_ms
            .unwrap_or_else(|| crate::now_s() * 1000 - 10 * 3_600_000)
    }
    pub fn total_bytes(&self) -> u64 {
        (self.total_mb * 1e6) as u64
    }
}

/// Counts of what was generated, for cross-checks against scans.
#[derive(Debug, Default, Clone)]
pub struct GenStats {
    pub lines: u64,
    pub bytes: u64,
    pub json_lines: u64,
    pub marker_lines: u64,
    pub slow_json_lines: u64,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// Deterministic generator of (timestamp, message) in global order.
pub struct LineGen {
    rng: XorShift64,
    base_ms: i64,
    step: i64,
    mean: usize,
    jitter: usize,
    rare: u64,
    json_every: u64,
    limit: u64,
    pub stats: GenStats,
}

fn push_u64(s: &mut String, v: u64) {
    use std::fmt::Write as _;
    let _ = write!(s, "{v}");
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds (proleptic Gregorian, UTC).
pub fn iso_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

impl LineGen {
    pub fn new(a: &GenArgs) -> LineGen {
        let mean = a.line_bytes.max(8);
        LineGen {
            rng: XorShift64::new(a.seed ^ 0x1065_1065),
            base_ms: a.base_ms(),
            step: a.ts_step_ms.max(0),
            mean,
            jitter: mean * 2 / 5,
            rare: a.rare_every.max(1),
            json_every: a.json_every.max(1),
            limit: a.total_bytes(),
            stats: GenStats::default(),
        }
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.rng.next_u64() % xs.len() as u64) as usize]
    }

    fn level(&mut self) -> &'static str {
        match self.rng.next_u64() % 100 {
            0..=79 => LEVELS[0],
            80..=89 => LEVELS[1],
            90..=96 => LEVELS[2],
            _ => LEVELS[3],
        }
    }

    fn status(&mut self) -> u64 {
        match self.rng.next_u64() % 100 {
            0..=91 => 200,
            92..=95 => 404,
            96..=98 => 500,
            _ => 503,
        }
    }

    /// Appends lowercase words (space separated) until `s` is exactly `target` long.
    fn fill_words(&mut self, s: &mut String, target: usize) {
        let mut first = true;
        while s.len() < target {
            if !first {
                s.push(' ');
                if s.len() == target {
                    s.pop();
                    s.push('x');
                    break;
                }
            }
            first = false;
            let w = self.pick(&WORDS);
            let room = target - s.len();
            s.push_str(&w[..w.len().min(room)]);
        }
    }

    fn plain(&mut self, ts: i64, target: usize, marker: bool) -> String {
        let mut s = String::with_capacity(target + 32);
        s.push_str(&iso_ms(ts));
        s.push(' ');
        s.push_str(self.level());
        if marker {
            s.push_str(" marker=");
            s.push_str(MARKER);
        }
        let id = self.rng.next_u64();
        let fields = [
            format!("request id={id:016x}"),
            format!("path={}", self.pick(&PATHS)),
            format!("status={}", self.status()),
            format!("latency_ms={}", self.rng.next_u64() % 1000),
            format!("model={}", self.pick(&MODELS)),
            format!("bytes={}", self.rng.next_u64() % 100_000),
            format!(
                "client=10.{}.{}.{}",
                self.rng.next_u64() % 256,
                self.rng.next_u64() % 256,
                self.rng.next_u64() % 256
            ),
        ];
        for f in &fields {
            if s.len() + 1 + f.len() + 6 <= target {
                s.push(' ');
                s.push_str(f);
            }
        }
        if s.len() + 6 <= target {
            s.push_str(" msg=");
            self.fill_words(&mut s, target);
        }
        s
    }

    fn json(&mut self, ts: i64, target: usize, marker: bool) -> String {
        let slow = self.rng.next_u64().is_multiple_of(self.rare);
        let latency = if slow {
            991 + self.rng.next_u64() % 9
        } else {
            self.rng.next_u64() % 991
        };
        if slow {
            self.stats.slow_json_lines += 1;
        }
        let mut s = String::with_capacity(target + 32);
        s.push_str("{\"level\":\"");
        s.push_str(self.level());
        s.push_str("\",\"latency\":");
        push_u64(&mut s, latency);
        if marker {
            s.push_str(",\"marker\":\"");
            s.push_str(MARKER);
            s.push('"');
        }
        let id = self.rng.next_u64();
        let fields = [
            format!(",\"time\":\"{}\"", iso_ms(ts)),
            format!(",\"status\":{}", self.status()),
            format!(",\"path\":\"{}\"", self.pick(&PATHS)),
            format!(",\"request_id\":\"{id:016x}\""),
            format!(",\"model\":\"{}\"", self.pick(&MODELS)),
            format!(",\"tokens\":{}", self.rng.next_u64() % 4096),
        ];
        // `,"msg":"` + at least one char + `"}`.
        const MSG_MIN: usize = 11;
        for f in &fields {
            if s.len() + f.len() + MSG_MIN <= target {
                s.push_str(f);
            }
        }
        s.push_str(",\"msg\":\"");
        let body_target = target.saturating_sub(2).max(s.len() + 1);
        self.fill_words(&mut s, body_target);
        s.push_str("\"}");
        s
    }

    /// The next (timestamp, message), or None once `--total-mb` is reached.
    pub fn next_line(&mut self) -> Option<(i64, String)> {
        if self.stats.bytes >= self.limit {
            return None;
        }
        let ts = self.base_ms + self.stats.lines as i64 * self.step;
        let lo = self.mean - self.jitter;
        let target = lo + (self.rng.next_u64() % (2 * self.jitter as u64 + 1)) as usize;
        let marker = self.rng.next_u64().is_multiple_of(self.rare);
        let is_json = self.rng.next_u64().is_multiple_of(self.json_every);
        let line = if is_json {
            self.stats.json_lines += 1;
            self.json(ts, target, marker)
        } else {
            self.plain(ts, target, marker)
        };
        if marker {
            self.stats.marker_lines += 1;
        }
        if self.stats.lines == 0 {
            self.stats.first_ts = ts;
        }
        self.stats.last_ts = ts;
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64;
        Some((ts, line))
    }
}

/// Appends `s` as a JSON string (with quotes).
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn event_json(ts: i64, msg: &str) -> Vec<u8> {
    let mut e = Vec::with_capacity(msg.len() + 48);
    e.extend_from_slice(b"{\"timestamp\":");
    e.extend_from_slice(ts.to_string().as_bytes());
    e.extend_from_slice(b",\"message\":");
    json_str(&mut e, msg);
    e.push(b'}');
    e
}

/// One PutLogEvents request body.
pub struct Batch {
    pub events: usize,
    pub message_bytes: usize,
    pub body: Vec<u8>,
}

/// Cuts the line sequence into PutLogEvents bodies: at most `max_events`
/// events, Σ(len(message)+26) ≤ `max_batch_bytes`, and (when set) a body of
/// at most `max_body` bytes. Batch b goes to stream b % streams.
pub struct Batcher<'a> {
    pub lines: LineGen,
    pub group: &'a str,
    pub stream_names: Vec<String>,
    pub max_events: usize,
    pub max_batch_bytes: usize,
    pub max_body: Option<usize>,
    pending: Option<(i64, String)>,
    n: usize,
}

impl<'a> Batcher<'a> {
    pub fn new(
        lines: LineGen,
        group: &'a str,
        stream_names: Vec<String>,
        max_events: usize,
        max_batch_bytes: usize,
        max_body: Option<usize>,
    ) -> Self {
        Batcher {
            lines,
            group,
            stream_names,
            max_events: max_events.clamp(1, AWS_MAX_EVENTS),
            max_batch_bytes,
            max_body,
            pending: None,
            n: 0,
        }
    }

    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        let stream = self.n % self.stream_names.len().max(1);
        let mut body = Vec::with_capacity(1 << 20);
        body.extend_from_slice(b"{\"logGroupName\":");
        json_str(&mut body, self.group);
        body.extend_from_slice(b",\"logStreamName\":");
        json_str(&mut body, &self.stream_names[stream]);
        body.extend_from_slice(b",\"logEvents\":[");
        let (mut events, mut aws_bytes, mut msg_bytes) = (0usize, 0usize, 0usize);
        loop {
            if events >= self.max_events {
                break;
            }
            let Some((ts, msg)) = self.pending.take().or_else(|| self.lines.next_line()) else {
                break;
            };
            let cost = msg.len() + AWS_EVENT_OVERHEAD;
            let ev = event_json(ts, &msg);
            let body_after = body.len() + ev.len() + usize::from(events > 0) + 2;
            let too_big = aws_bytes + cost > self.max_batch_bytes
                || self.max_body.is_some_and(|m| body_after > m);
            if too_big {
                if events == 0 {
                    bail!(
                        "one message of {} bytes does not fit a batch (batch limit {}, body limit {:?})",
                        msg.len(),
                        self.max_batch_bytes,
                        self.max_body
                    );
                }
                self.pending = Some((ts, msg));
                break;
            }
            if events > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&ev);
            events += 1;
            aws_bytes += cost;
            msg_bytes += msg.len();
        }
        if events == 0 {
            return Ok(None);
        }
        body.extend_from_slice(b"]}");
        self.n += 1;
        Ok(Some(Batch {
            events,
            message_bytes: msg_bytes,
            body,
        }))
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct Conn0 {
    /// Base URL of the server, e.g. http://127.0.0.1:4566
    #[arg(long)]
    pub url: String,
    /// Label for the "target" field of the result (default: the URL's host:port).
    #[arg(long)]
    pub target: Option<String>,
    /// Log group name.
    #[arg(long, default_value = "/modelwatch/bench")]
    pub group: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum LogsCmd {
    /// Create the group and streams, then send PutLogEvents batches; report MB/s and events/s.
    Put {
        #[command(flatten)]
        conn: Conn0,
        #[command(flatten)]
        gen: GenArgs,
        /// Number of log streams (batch b goes to stream b % streams).
        #[arg(long, default_value_t = 8)]
        streams: usize,
        /// Most events per PutLogEvents call (AWS: 10,000).
        #[arg(long, default_value_t = 10_000)]
        batch_events: usize,
        /// Most Σ(len(message)+26) per call (AWS: 1,048,576).
        #[arg(long, default_value_t = AWS_MAX_BATCH_BYTES)]
        batch_bytes: usize,
        /// Also cap each HTTP request body at this many bytes (off by default).
        #[arg(long)]
        max_body_bytes: Option<usize>,
        /// Parallel keep-alive connections.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Untimed warm-up PutLogEvents calls (one small event each, to another group).
        #[arg(long, default_value_t = 4)]
        warmup_requests: usize,
        /// Label of the batch shape in the result.
        #[arg(long, default_value = "")]
        shape: String,
        /// Print the first request body and exit without sending.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the same messages `put` sends (same generator flags), one per line, to a file.
    Lines {
        #[command(flatten)]
        gen: GenArgs,
        /// Output file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// FilterLogEvents over the whole group, paging with nextToken until done; report time.
    Filter {
        #[command(flatten)]
        conn: Conn0,
        /// Filter pattern.
        #[arg(long)]
        pattern: String,
        /// `limit` of each call.
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
        /// Label for the pattern in the result.
        #[arg(long, default_value = "")]
        label: String,
        /// How many times to run the whole scan (one JSON line per run).
        #[arg(long, default_value_t = 2)]
        runs: usize,
        /// Stop with an error after this many pages (guards against a token loop).
        #[arg(long, default_value_t = 100_000)]
        max_pages: usize,
    },
}

fn logs_headers(op: &str) -> (String, Vec<(&'static str, String)>) {
    (
        op.to_string(),
        vec![
            ("X-Amz-Target", format!("{TARGET_PREFIX}{op}")),
            ("Content-Type", "application/x-amz-json-1.1".to_string()),
        ],
    )
}

fn logs_request(host: &str, op: &str, body: &[u8]) -> Vec<u8> {
    let (_, h) = logs_headers(op);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    encode_post(host, "/", &h, body)
}

/// Create* that tolerates "already exists" (re-runs against the same server).
async fn create(conn: &mut Conn, host: &str, op: &str, body: &serde_json::Value) -> Result<()> {
    let resp = conn
        .roundtrip(&logs_request(host, op, body.to_string().as_bytes()))
        .await
        .with_context(|| op.to_string())?;
    if resp.status == 400 && String::from_utf8_lossy(&resp.body).contains("ResourceAlreadyExists") {
        return Ok(());
    }
    check(&resp, op)
}

pub async fn run(cmd: LogsCmd) -> Result<()> {
    match cmd {
        LogsCmd::Put {
            conn,
            gen,
            streams,
            batch_events,
            batch_bytes,
            max_body_bytes,
            concurrency,
            warmup_requests,
            shape,
            dry_run,
        } => {
            run_put(
                conn,
                gen,
                streams,
                batch_events,
                batch_bytes,
                max_body_bytes,
                concurrency,
                warmup_requests,
                shape,
                dry_run,
            )
            .await
        }
        LogsCmd::Lines { gen, out } => run_lines(gen, &out),
        LogsCmd::Filter {
            conn,
            pattern,
            limit,
            label,
            runs,
            max_pages,
        } => run_filter(conn, pattern, limit, label, runs, max_pages).await,
    }
}

fn stream_names(n: usize) -> Vec<String> {
    (0..n.max(1)).map(|i| format!("app-{i:02}")).collect()
}

#[allow(clippy::too_many_arguments)]
async fn run_put(
    c: Conn0,
    gen: GenArgs,
    streams: usize,
    batch_events: usize,
    batch_bytes: usize,
    max_body: Option<usize>,
    concurrency: usize,
    warmup_requests: usize,
    shape: String,
    dry_run: bool,
) -> Result<()> {
    let base_ms = gen.base_ms();
    let gen = GenArgs {
        base_ms: Some(base_ms),
        ..gen
    };
    let names = stream_names(streams);
    let mut batcher = Batcher::new(
        LineGen::new(&gen),
        &c.group,
        names.clone(),
        batch_events,
        batch_bytes,
        max_body,
    );
    if dry_run {
        if let Some(b) = batcher.next_batch()? {
            println!("{}", String::from_utf8_lossy(&b.body));
        }
        return Ok(());
    }
    let (addr, host) = parse_url(&c.url).await?;
    // Encode every request before the clock starts.
    let enc_started = Instant::now();
    let mut requests = Vec::new();
    let (mut body_bytes, mut msg_bytes, mut events) = (0usize, 0usize, 0usize);
    let (mut min_ev, mut max_ev, mut max_body_seen) = (usize::MAX, 0usize, 0usize);
    while let Some(b) = batcher.next_batch()? {
        body_bytes += b.body.len();
        max_body_seen = max_body_seen.max(b.body.len());
        msg_bytes += b.message_bytes;
        events += b.events;
        min_ev = min_ev.min(b.events);
        max_ev = max_ev.max(b.events);
        requests.push(logs_request(&host, "PutLogEvents", &b.body));
    }
    let wire_bytes: usize = requests.iter().map(Vec::len).sum();
    let encode_s = enc_started.elapsed().as_secs_f64();
    let st = batcher.lines.stats.clone();
    if requests.is_empty() {
        bail!("nothing to send (--total-mb too small?)");
    }
    let now_ms = crate::now_s() * 1000;
    if st.first_ts < now_ms - 14 * 86_400_000 + 3_600_000 || st.last_ts > now_ms + 3_600_000 {
        bail!(
            "timestamps {}..{} are not inside the last 14 days / next hour (now {now_ms}); adjust --base-ms / --ts-step-ms",
            st.first_ts,
            st.last_ts
        );
    }
    // Setup (untimed): group, streams, and a warm-up group.
    let mut setup = Conn::new(addr);
    setup.connect().await?;
    create(
        &mut setup,
        &host,
        "CreateLogGroup",
        &serde_json::json!({"logGroupName": c.group}),
    )
    .await?;
    for s in &names {
        create(
            &mut setup,
            &host,
            "CreateLogStream",
            &serde_json::json!({"logGroupName": c.group, "logStreamName": s}),
        )
        .await?;
    }
    if warmup_requests > 0 {
        let wg = format!("{}-warmup", c.group);
        create(
            &mut setup,
            &host,
            "CreateLogGroup",
            &serde_json::json!({"logGroupName": wg}),
        )
        .await?;
        create(
            &mut setup,
            &host,
            "CreateLogStream",
            &serde_json::json!({"logGroupName": wg, "logStreamName": "warmup"}),
        )
        .await?;
        let body = serde_json::json!({
            "logGroupName": wg, "logStreamName": "warmup",
            "logEvents": [{"timestamp": now_ms, "message": "warm-up"}]
        });
        let req = logs_request(&host, "PutLogEvents", body.to_string().as_bytes());
        drive(
            addr,
            Arc::new(vec![req; warmup_requests]),
            concurrency,
            false,
        )
        .await
        .context("warm-up")?;
    }
    drop(setup);
    let batches = requests.len();
    let cpu0 = cpu_seconds();
    let stats = drive(addr, Arc::new(requests), concurrency, false).await?;
    let client_cpu = cpu_seconds().zip(cpu0).map(|(b, a)| round3(b - a));
    let out = serde_json::json!({
        "mode": "logs-put",
        "target": c.target.clone().unwrap_or(host),
        "shape": shape,
        "group": c.group,
        "events": events,
        "message_bytes": msg_bytes,
        "seconds": round3(stats.seconds),
        "events_per_s": (events as f64 / stats.seconds).round(),
        "mb_per_s": round3(msg_bytes as f64 / 1e6 / stats.seconds),
        "body_bytes": body_bytes,
        "wire_bytes": wire_bytes,
        "largest_body_bytes": max_body_seen,
        "max_body_bytes": max_body,
        "requests": batches,
        "events_per_batch_mean": round3(events as f64 / batches as f64),
        "events_per_batch_min": min_ev,
        "events_per_batch_max": max_ev,
        "message_bytes_mean": round3(msg_bytes as f64 / events.max(1) as f64),
        "json_lines": st.json_lines,
        "marker_lines": st.marker_lines,
        "slow_json_lines": st.slow_json_lines,
        "first_ts": st.first_ts,
        "last_ts": st.last_ts,
        "streams": names.len(),
        "concurrency": concurrency,
        "base_ms": base_ms,
        "seed": gen.seed,
        "line_bytes": gen.line_bytes,
        "total_mb": gen.total_mb,
        "request_p50_ms": round3(percentile(&stats.latencies_ms, 0.50)),
        "request_p99_ms": round3(percentile(&stats.latencies_ms, 0.99)),
        "encode_seconds": round3(encode_s),
        "warmup_requests": warmup_requests,
        "client_cpu_seconds": client_cpu,
    });
    println!("{out}");
    Ok(())
}

fn run_lines(gen: GenArgs, out: &std::path::Path) -> Result<()> {
    let started = Instant::now();
    let mut g = LineGen::new(&gen);
    let f = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    while let Some((_, line)) = g.next_line() {
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    let st = &g.stats;
    println!(
        "{}",
        serde_json::json!({
            "mode": "logs-lines",
            "file": out.display().to_string(),
            "lines": st.lines,
            "message_bytes": st.bytes,
            "file_bytes": st.bytes + st.lines,
            "json_lines": st.json_lines,
            "marker_lines": st.marker_lines,
            "slow_json_lines": st.slow_json_lines,
            "first_ts": st.first_ts,
            "last_ts": st.last_ts,
            "base_ms": gen.base_ms(),
            "seed": gen.seed,
            "line_bytes": gen.line_bytes,
            "seconds": round3(started.elapsed().as_secs_f64()),
        })
    );
    Ok(())
}

async fn run_filter(
    c: Conn0,
    pattern: String,
    limit: usize,
    label: String,
    runs: usize,
    max_pages: usize,
) -> Result<()> {
    let (addr, host) = parse_url(&c.url).await?;
    let mut conn = Conn::new(addr);
    conn.connect().await?;
    for run in 1..=runs {
        let started = Instant::now();
        let (mut pages, mut events, mut resp_bytes, mut msg_bytes) =
            (0usize, 0usize, 0usize, 0usize);
        let mut page_ms: Vec<f64> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({
                "logGroupName": c.group,
                "filterPattern": pattern,
                "limit": limit,
            });
            if let Some(t) = &token {
                body["nextToken"] = serde_json::Value::String(t.clone());
            }
            let req = logs_request(&host, "FilterLogEvents", body.to_string().as_bytes());
            let t0 = Instant::now();
            let resp = conn
                .roundtrip(&req)
                .await
                .with_context(|| format!("FilterLogEvents page {}", pages + 1))?;
            page_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            check(&resp, &format!("FilterLogEvents page {}", pages + 1))?;
            pages += 1;
            resp_bytes += resp.body.len();
            let v: serde_json::Value =
                serde_json::from_slice(&resp.body).context("FilterLogEvents response")?;
            if let Some(evs) = v["events"].as_array() {
                events += evs.len();
                msg_bytes += evs
                    .iter()
                    .map(|e| e["message"].as_str().map_or(0, str::len))
                    .sum::<usize>();
            }
            match v["nextToken"].as_str() {
                Some(t) if !t.is_empty() => {
                    if token.as_deref() == Some(t) {
                        bail!("FilterLogEvents returned the same nextToken twice: {t}");
                    }
                    token = Some(t.to_string());
                }
                _ => break,
            }
            if pages >= max_pages {
                bail!("more than {max_pages} pages; giving up");
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        page_ms.sort_by(f64::total_cmp);
        println!(
            "{}",
            serde_json::json!({
                "mode": "logs-filter",
                "target": c.target.clone().unwrap_or_else(|| host.clone()),
                "group": c.group,
                "label": label,
                "pattern": pattern,
                "run": run,
                "seconds": round3(seconds),
                "pages": pages,
                "events": events,
                "matched_message_bytes": msg_bytes,
                "response_bytes": resp_bytes,
                "page_p50_ms": round3(percentile(&page_ms, 0.5)),
                "page_max_ms": round3(page_ms.last().copied().unwrap_or(0.0)),
                "limit": limit,
            })
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line_bytes: usize, mb: f64) -> GenArgs {
        GenArgs {
            line_bytes,
            total_mb: mb,
            base_ms: Some(1_764_331_200_000),
            ts_step_ms: 1,
            seed: 7,
            rare_every: 100,
            json_every: 3,
        }
    }

    #[test]
    fn iso_matches_known_dates() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(1_764_331_200_123), "2025-11-28T12:00:00.123Z");
        assert_eq!(iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn lines_are_deterministic_sized_and_tagged() {
        let mut a = LineGen::new(&args(200, 2.0));
        let mut b = LineGen::new(&args(200, 2.0));
        let mut n = 0u64;
        let mut json = 0u64;
        let mut slow = 0u64;
        while let Some((ts, l)) = a.next_line() {
            assert_eq!(b.next_line(), Some((ts, l.clone())));
            assert!(!l.contains('\n'));
            if l.starts_with('{') {
                let v: serde_json::Value = serde_json::from_str(&l).expect("valid JSON line");
                let lat = v["latency"].as_u64().expect("latency");
                assert!(lat < 1000);
                if lat > 990 {
                    slow += 1;
                    assert!(l.contains(&format!("\"latency\":{lat}")));
                }
                json += 1;
            } else {
                assert!(l.starts_with(&iso_ms(ts)), "{l}");
                assert!(!l.contains("\"latency\""));
            }
            assert_eq!(l.contains(MARKER), l.contains("marker"), "{l}");
            n += 1;
        }
        assert_eq!(b.next_line(), None);
        assert_eq!(a.stats.lines, n);
        assert_eq!(a.stats.json_lines, json);
        assert_eq!(a.stats.slow_json_lines, slow);
        assert!(a.stats.marker_lines > 0 && slow > 0);
        let mean = a.stats.bytes as f64 / n as f64;
        assert!((190.0..=205.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn batches_respect_aws_limits_and_carry_every_line() -> Result<()> {
        for (line_bytes, want_full) in [(78usize, true), (200, false)] {
            let mut batcher = Batcher::new(
                LineGen::new(&args(line_bytes, 5.0)),
                "g",
                stream_names(3),
                AWS_MAX_EVENTS,
                AWS_MAX_BATCH_BYTES,
                None,
            );
            let mut lines = LineGen::new(&args(line_bytes, 5.0));
            let mut all = Vec::new();
            while let Some(b) = batcher.next_batch()? {
                all.push(b);
            }
            let n = all.len();
            for (i, b) in all.iter().enumerate() {
                let v: serde_json::Value = serde_json::from_slice(&b.body)?;
                let evs = v["logEvents"].as_array().expect("events");
                assert_eq!(evs.len(), b.events);
                assert_eq!(v["logStreamName"], format!("app-{:02}", i % 3));
                let mut aws = 0;
                let mut last = i64::MIN;
                for e in evs {
                    let (ts, msg) = lines.next_line().expect("same line");
                    assert_eq!(e["timestamp"].as_i64(), Some(ts));
                    assert_eq!(e["message"].as_str(), Some(msg.as_str()));
                    assert!(ts >= last);
                    last = ts;
                    aws += msg.len() + AWS_EVENT_OVERHEAD;
                }
                assert!(aws <= AWS_MAX_BATCH_BYTES);
                // Only the last batch may be short.
                if i + 1 < n {
                    if want_full {
                        assert_eq!(b.events, AWS_MAX_EVENTS);
                    } else {
                        assert!(b.events < AWS_MAX_EVENTS && b.events > 4000, "{}", b.events);
                        assert!(aws > AWS_MAX_BATCH_BYTES - 400);
                    }
                }
            }
            assert!(lines.next_line().is_none());
            let batches = n;
            assert!(batches >= 1);
        }
        Ok(())
    }

    #[test]
    fn body_cap_is_respected() -> Result<()> {
        let mut batcher = Batcher::new(
            LineGen::new(&args(200, 3.0)),
            "g",
            stream_names(2),
            AWS_MAX_EVENTS,
            AWS_MAX_BATCH_BYTES,
            Some(1 << 20),
        );
        while let Some(b) = batcher.next_batch()? {
            assert!(b.body.len() <= 1 << 20);
            serde_json::from_slice::<serde_json::Value>(&b.body)?;
        }
        Ok(())
    }
}
