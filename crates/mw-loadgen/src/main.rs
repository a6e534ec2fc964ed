//! mw-loadgen: ingest / query load generator for modelwatch benchmarks.
//!
//! Cheap by design (the generator shares 2 cores with the server under test):
//! every request is encoded once before the clock starts, then a
//! single-threaded tokio runtime only writes bytes over keep-alive
//! connections and frames the responses.

mod http;
mod logs;
mod pace;
mod rate;
mod workload;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use http::{encode_post, parse_url, Conn};
use workload::{get_cbor, get_json, put_cbor, put_json, put_vm, Workload, XorShift64, METRIC_NAME};

/// Metric name of the untimed warm-up datapoints (never queried).
const WARMUP_METRIC: &str = "Warmup";

const JSON_PUT_TARGET: &str = "GraniteServiceVersion20100801.PutMetricData";
const JSON_GET_TARGET: &str = "GraniteServiceVersion20100801.GetMetricData";
const CBOR_PUT_PATH: &str = "/service/GraniteServiceVersion20100801/operation/PutMetricData";
const CBOR_GET_PATH: &str = "/service/GraniteServiceVersion20100801/operation/GetMetricData";
/// Unsigned placeholder: modelwatch without auth accepts anything, and moto
/// uses the credential scope only to route the request to CloudWatch.
const DUMMY_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Parser, Debug)]
#[command(
    name = "mw-loadgen",
    about = "Ingest/query load generator for modelwatch (and VictoriaMetrics / moto baselines)",
    after_help = "\
Examples:
  # 1000 PutMetricData calls of 1000 datapoints, AWS JSON 1.0, 4 connections
  mw-loadgen put --protocol json --url http://127.0.0.1:4566 --batches 1000 --batch-size 1000 --concurrency 4 --series 1000
  # same datapoints over Smithy RPC v2 CBOR
  mw-loadgen put --protocol cbor --url http://127.0.0.1:4566 --batches 1000 --series 1000
  # same datapoints to VictoriaMetrics /api/v1/import (JSON lines)
  mw-loadgen put --protocol vm --url http://127.0.0.1:8428 --batches 1000 --series 1000
  # GetMetricData latency (p50/p99/mean) over the series written above
  mw-loadgen query --url http://127.0.0.1:4566 --requests 500 --series 1000
  # print the first request body instead of sending anything
  mw-loadgen put --protocol cbor --url http://127.0.0.1:1 --batches 1 --batch-size 2 --dry-run
  # CloudWatch Logs: 500 MB of ~200-byte lines via PutLogEvents, then two FilterLogEvents scans
  mw-loadgen logs put --url http://127.0.0.1:4566 --line-bytes 200 --total-mb 500 --base-ms 1764300000000
  mw-loadgen logs lines --line-bytes 200 --total-mb 500 --base-ms 1764300000000 --out /tmp/lines.txt
  mw-loadgen logs filter --url http://127.0.0.1:4566 --pattern ZQXJVTRACE --runs 2
  # sidecar benchmark: a model server, then 5000 requests/s for 10 s against it
  mw-loadgen upstream --listen 127.0.0.1:8080
  mw-loadgen rate --url http://127.0.0.1:8080 --path /invocations --rate 5000 --duration 10

Every run prints one JSON line on stdout. Any non-2xx response aborts the run
with the status and body on stderr and exit code 1. Use the same --base-ts and
--seed for every target so they all receive identical datapoints."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// AWS JSON 1.0 (X-Amz-Target), what boto3 sends by default.
    Json,
    /// Smithy RPC v2 CBOR, what newer Go/Java/Rust SDKs send.
    Cbor,
    /// VictoriaMetrics /api/v1/import JSON lines (baseline; put only).
    Vm,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::Cbor => "cbor",
            Protocol::Vm => "vm",
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Base URL of the target, e.g. http://127.0.0.1:4566
    #[arg(long)]
    url: String,
    /// Label for the "target" field of the result (default: the URL's host:port).
    #[arg(long)]
    target: Option<String>,
    /// Number of distinct series (metric Latency, dims Service=svc-i, Host=host-j).
    #[arg(long, default_value_t = 1000)]
    series: usize,
    /// CloudWatch namespace.
    #[arg(long, default_value = "ModelWatch/Bench")]
    namespace: String,
    /// Epoch seconds of the first timestamp of each series (default: now - 3570).
    /// Points of a series are spread one second apart over the following 59 minutes.
    #[arg(long)]
    base_ts: Option<i64>,
    /// PRNG seed for values (and for the series picked by `query`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of parallel keep-alive connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Untimed warm-up requests before the run (put: 1 datapoint of metric
    /// "Warmup" each; query: the first query repeated).
    #[arg(long, default_value_t = 4)]
    warmup_requests: usize,
    /// Do not send the placeholder SigV4 Authorization header.
    #[arg(long)]
    no_auth_header: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Send PutMetricData (or VictoriaMetrics import) batches and report datapoints/s.
    Put {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value = "json")]
        protocol: Protocol,
        /// Number of requests.
        #[arg(long, default_value_t = 100)]
        batches: usize,
        /// Datapoints per request (CloudWatch allows at most 1000).
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        /// Print the first request body (hex for CBOR) and exit without sending.
        #[arg(long)]
        dry_run: bool,
    },
    /// Send GetMetricData requests (one series, Average, Period 60, last hour) and report latency.
    Query {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value = "json")]
        protocol: Protocol,
        /// Number of requests.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// StartTime, epoch seconds (default: base-ts - 60).
        #[arg(long)]
        start: Option<i64>,
        /// EndTime, epoch seconds (default: now + 60).
        #[arg(long)]
        end: Option<i64>,
    },
    /// CloudWatch Logs workload: PutLogEvents ingest, FilterLogEvents scans, plain-file lines.
    Logs {
        #[command(subcommand)]
        cmd: logs::LogsCmd,
    },
    /// Open-loop HTTP load at a fixed rate; latency percentiles (the sidecar benchmark).
    Rate(rate::RateArgs),
    /// A minimal model server: POST -> a fixed CSV prediction, GET /ping -> 200.
    Upstream(rate::UpstreamArgs),
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn workload(c: &Common, batch_size: usize) -> Workload {
    Workload {
        namespace: c.namespace.clone(),
        series: c.series.max(1),
        batch_size,
        base_ts: c.base_ts.unwrap_or_else(|| now_s() - 3570),
        seed: c.seed,
    }
}

fn aws_headers<'a>(
    c: &Common,
    protocol: Protocol,
    json_target: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut h: Vec<(&str, &str)> = match protocol {
        Protocol::Json => vec![
            ("X-Amz-Target", json_target),
            ("Content-Type", "application/x-amz-json-1.0"),
        ],
        Protocol::Cbor => vec![
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Type", "application/cbor"),
            ("Accept", "application/cbor"),
        ],
        Protocol::Vm => vec![("Content-Type", "application/json")],
    };
    if protocol != Protocol::Vm && !c.no_auth_header {
        h.push(("Authorization", DUMMY_AUTH));
    }
    h
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

/// CPU seconds (user + system) this process has used so far, from
/// /proc/self/stat (Linux; USER_HZ = 100). None elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after ")".
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn check(resp: &http::Response, what: &str) -> Result<()> {
    if !(200..300).contains(&resp.status) {
        bail!(
            "{what}: HTTP {} body: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    Ok(())
}

struct RunStats {
    seconds: f64,
    /// Per-request latencies in milliseconds, sorted.
    latencies_ms: Vec<f64>,
    /// Response bodies, only when asked for.
    bodies: Vec<Vec<u8>>,
}

/// Sends every pre-encoded request once over `concurrency` keep-alive
/// connections, in index order (work stealing through one atomic counter).
async fn drive(
    addr: std::net::SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    keep_bodies: bool,
) -> Result<RunStats> {
    let concurrency = concurrency.clamp(1, requests.len().max(1));
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut c = Conn::new(addr);
        c.connect().await?;
        conns.push(c);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for mut conn in conns {
        let next = next.clone();
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bodies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = requests.get(i) else { break };
                let t0 = Instant::now();
                let resp = conn
                    .roundtrip(req)
                    .await
                    .with_context(|| format!("request #{i}"))?;
                lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                check(&resp, &format!("request #{i}"))?;
                if keep_bodies {
                    bodies.push(resp.body);
                }
            }
            Ok::<_, anyhow::Error>((lat, bodies))
        }));
    }
    let mut latencies_ms = Vec::with_capacity(requests.len());
    let mut bodies = Vec::new();
    for t in tasks {
        let (l, b) = t.await.context("worker task panicked")??;
        latencies_ms.extend(l);
        bodies.extend(b);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(RunStats {
        seconds,
        latencies_ms,
        bodies,
    })
}

async fn run_put(
    common: Common,
    protocol: Protocol,
    batches: usize,
    batch_size: usize,
    dry_run: bool,
) -> Result<()> {
    let wl = workload(&common, batch_size);
    let encode_pts = |metric: &str, pts: &[workload::Point]| -> Result<Vec<u8>> {
        Ok(match protocol {
            Protocol::Json => put_json(&wl.namespace, metric, pts),
            Protocol::Cbor => put_cbor(&wl.namespace, metric, pts)?,
            Protocol::Vm => put_vm(metric, pts),
        })
    };
    let encode = |b: usize| encode_pts(METRIC_NAME, &wl.batch_points(b));
    if dry_run {
        let body = encode(0)?;
        if protocol == Protocol::Cbor {
            println!("{}", hex(&body));
        } else {
            println!("{}", String::from_utf8_lossy(&body));
        }
        return Ok(());
    }
    let (addr, host) = parse_url(&common.url).await?;
    let path = match protocol {
        Protocol::Json => "/",
        Protocol::Cbor => CBOR_PUT_PATH,
        Protocol::Vm => "/api/v1/import",
    };
    let headers = aws_headers(&common, protocol, JSON_PUT_TARGET);
    let enc_started = Instant::now();
    let mut body_bytes = 0usize;
    let mut requests = Vec::with_capacity(batches);
    for b in 0..batches {
        let body = encode(b)?;
        body_bytes += body.len();
        requests.push(encode_post(&host, path, &headers, &body));
    }
    let wire_bytes: usize = requests.iter().map(Vec::len).sum();
    let encode_s = enc_started.elapsed().as_secs_f64();
    // Warm-up (not timed, not counted): one datapoint of another metric per
    // request, so lazy initialisation in the server is not billed to the run.
    let warm_pts = [workload::Point {
        series: 0,
        ts: wl.base_ts,
        value: 1.0,
    }];
    let warm_req = encode_post(
        &host,
        path,
        &headers,
        &encode_pts(WARMUP_METRIC, &warm_pts)?,
    );
    let warm = vec![warm_req; common.warmup_requests];
    if !warm.is_empty() {
        drive(addr, Arc::new(warm), common.concurrency, false)
            .await
            .context("warm-up")?;
    }
    let cpu0 = cpu_seconds();
    let stats = drive(addr, Arc::new(requests), common.concurrency, false).await?;
    let client_cpu = cpu_seconds().zip(cpu0).map(|(b, a)| round3(b - a));
    let datapoints = batches * batch_size;
    let out = serde_json::json!({
        "mode": "put",
        "target": common.target.clone().unwrap_or(host),
        "protocol": protocol.name(),
        "datapoints": datapoints,
        "seconds": round3(stats.seconds),
        "datapoints_per_s": (datapoints as f64 / stats.seconds).round(),
        "bytes": body_bytes,
        "wire_bytes": wire_bytes,
        "requests": batches,
        "batch_size": batch_size,
        "series": wl.series,
        "concurrency": common.concurrency,
        "base_ts": wl.base_ts,
        "seed": wl.seed,
        "request_p50_ms": round3(percentile(&stats.latencies_ms, 0.50)),
        "request_p99_ms": round3(percentile(&stats.latencies_ms, 0.99)),
        "encode_seconds": round3(encode_s),
        "warmup_requests": common.warmup_requests,
        "client_cpu_seconds": client_cpu,
    });
    println!("{out}");
    Ok(())
}

/// Number of values in a GetMetricData response (JSON or CBOR).
fn count_values(protocol: Protocol, body: &[u8]) -> Result<usize> {
    let results: Vec<usize> = match protocol {
        Protocol::Cbor => {
            let v: ciborium::Value =
                ciborium::from_reader(body).context("GetMetricData CBOR response")?;
            let lookup = |v: &ciborium::Value, key: &str| -> Option<ciborium::Value> {
                v.as_map()?
                    .iter()
                    .find(|(k, _)| k.as_text() == Some(key))
                    .map(|(_, v)| v.clone())
            };
            let results = lookup(&v, "MetricDataResults")
                .and_then(|r| r.into_array().ok())
                .unwrap_or_default();
            results
                .iter()
                .map(|r| {
                    lookup(r, "Values")
                        .and_then(|v| v.into_array().ok())
                        .map_or(0, |a| a.len())
                })
                .collect()
        }
        _ => {
            let v: serde_json::Value =
                serde_json::from_slice(body).context("GetMetricData JSON response")?;
            v["MetricDataResults"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| r["Values"].as_array().map_or(0, Vec::len))
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    Ok(results.iter().sum())
}

async fn run_query(
    common: Common,
    protocol: Protocol,
    requests: usize,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<()> {
    if protocol == Protocol::Vm {
        bail!("query supports --protocol json or cbor only");
    }
    let wl = workload(&common, 1);
    let start = start.unwrap_or(wl.base_ts - 60);
    let end = end.unwrap_or_else(|| now_s() + 60);
    let (addr, host) = parse_url(&common.url).await?;
    let headers = aws_headers(&common, protocol, JSON_GET_TARGET);
    let path = if protocol == Protocol::Cbor {
        CBOR_GET_PATH
    } else {
        "/"
    };
    let mut rng = XorShift64::new(common.seed ^ 0x5151);
    let mut reqs = Vec::with_capacity(requests);
    for _ in 0..requests {
        let s = (rng.next_u64() % wl.series as u64) as usize;
        let body = match protocol {
            Protocol::Cbor => get_cbor(&wl.namespace, s, start, end)?,
            _ => get_json(&wl.namespace, s, start, end),
        };
        reqs.push(encode_post(&host, path, &headers, &body));
    }
    if let Some(first) = reqs.first() {
        let warm = vec![first.clone(); common.warmup_requests];
        drive(addr, Arc::new(warm), common.concurrency, false)
            .await
            .context("warm-up")?;
    }
    let stats = drive(addr, Arc::new(reqs), common.concurrency, true).await?;
    let mut values = 0usize;
    let mut empty = 0usize;
    for b in &stats.bodies {
        let n = count_values(protocol, b)?;
        values += n;
        if n == 0 {
            empty += 1;
        }
    }
    let n = stats.latencies_ms.len().max(1) as f64;
    let mean = stats.latencies_ms.iter().sum::<f64>() / n;
    let out = serde_json::json!({
        "mode": "query",
        "target": common.target.clone().unwrap_or(host),
        "protocol": protocol.name(),
        "requests": requests,
        "concurrency": common.concurrency,
        "seconds": round3(stats.seconds),
        "requests_per_s": (requests as f64 / stats.seconds).round(),
        "p50_ms": round3(percentile(&stats.latencies_ms, 0.50)),
        "p99_ms": round3(percentile(&stats.latencies_ms, 0.99)),
        "mean_ms": round3(mean),
        "max_ms": round3(stats.latencies_ms.last().copied().unwrap_or(0.0)),
        "values_per_response": round3(values as f64 / n),
        "empty_responses": empty,
        "warmup_requests": common.warmup_requests,
        "start_time": start,
        "end_time": end,
    });
    println!("{out}");
    if empty == requests && requests > 0 {
        eprintln!("warning: every GetMetricData response had no values");
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mw-loadgen: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let res = rt.block_on(async {
        match cli.cmd {
            Cmd::Put {
                common,
                protocol,
                batches,
                batch_size,
                dry_run,
            } => run_put(common, protocol, batches, batch_size, dry_run).await,
            Cmd::Query {
                common,
                protocol,
                requests,
                start,
                end,
            } => run_query(common, protocol, requests, start, end).await,
            Cmd::Logs { cmd } => logs::run(cmd).await,
            Cmd::Rate(a) => rate::run_rate(a).await,
            Cmd::Upstream(a) => rate::run_upstream(a).await,
        }
    });
    // Do not wait for anything still in flight after an error.
    rt.shutdown_timeout(Duration::from_millis(100));
    res
}
