//! Fixed-rate HTTP load (`rate`) and a minimal model server (`upstream`) for
//! the sidecar benchmark (`bench/proxy.sh`).
//!
//! `rate` is open loop: request *i* is due at `start + i / rate` whatever
//! happened to the earlier ones (or, with `--arrivals poisson`, at the *i*-th
//! arrival of a Poisson process of that rate), spread over keep-alive
//! connections that each take the next due request. The latency of a request
//! is from the moment it is written to the moment its whole response is read;
//! how late it was written after it was due (no idle connection, or the
//! generator's own wake-up) is reported separately as `lag`, so a target that
//! falls behind shows up there and in the achieved rate. Each connection waits
//! for its next request's due time on a [`Pacer`]: to the microsecond by
//! default, or with `--timer coarse` on tokio's millisecond timer, which
//! writes the requests due within one millisecond together.
//!
//! `upstream` answers `POST /invocations` (and any other POST) with a fixed
//! small CSV prediction and `GET /ping` with 200, over keep-alive HTTP/1.1,
//! so the benchmark measures the proxies rather than a model.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{encode_post, parse_url, Conn};
use crate::pace::{Pacer, Timer};
use crate::workload::XorShift64;

#[derive(Args, Debug)]
pub struct RateArgs {
    /// Target, http://host:port
    #[arg(long)]
    pub url: String,
    /// Request path
    #[arg(long, default_value = "/invocations")]
    pub path: String,
    /// Requests per second
    #[arg(long)]
    pub rate: u64,
    /// Measured seconds
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds before
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Keep-alive connections
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Request body
    #[arg(long, default_value = "0.5,1.25,3,42,0.001,17.5,2,8,1,0")]
    pub body: String,
    #[arg(long, default_value = "text/csv")]
    pub content_type: String,
    /// A label copied into the output line
    #[arg(long, default_value = "")]
    pub label: String,
    /// How each request waits for its due time
    #[arg(long, value_enum, default_value_t = Timer::Exact)]
    pub timer: Timer,
    /// When requests are due
    #[arg(long, value_enum, default_value_t = Arrivals::Uniform)]
    pub arrivals: Arrivals,
    /// Seed of the Poisson arrivals (the same seed, the same schedule)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arrivals {
    /// Evenly spaced: request i is due at i / rate
    Uniform,
    /// A Poisson process of the same mean rate: independent exponential gaps
    /// with mean 1 / rate, as from many independent clients
    Poisson,
}

impl Arrivals {
    fn name(self) -> &'static str {
        match self {
            Arrivals::Uniform => "uniform",
            Arrivals::Poisson => "poisson",
        }
    }
}

/// Hands out requests in order with their due times (ns from the start).
struct Schedule {
    next: u64,
    total: u64,
    /// Requests before this one are warm-up.
    warm: u64,
    /// When the first measured request is due, once it is handed out.
    measured_at: Option<u64>,
    interval_ns: f64,
    /// Poisson arrivals: the generator and the next arrival's time.
    poisson: Option<(XorShift64, f64)>,
}

impl Schedule {
    fn new(arrivals: Arrivals, rate: u64, warm: u64, total: u64, seed: u64) -> Self {
        Self {
            next: 0,
            total,
            warm,
            measured_at: None,
            interval_ns: 1e9 / rate as f64,
            poisson: (arrivals == Arrivals::Poisson).then(|| (XorShift64::new(seed), 0.0)),
        }
    }

    fn take(&mut self) -> Option<(u64, u64)> {
        if self.next >= self.total {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let at = match &mut self.poisson {
            None => i as f64 * self.interval_ns,
            Some((rng, t)) => {
                let at = *t;
                // Uniform in (0, 1), never 0: 53 random bits and a half.
                let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                *t += -u.ln() * self.interval_ns;
                at
            }
        };
        if i == self.warm {
            self.measured_at = Some(at as u64);
        }
        Some((i, at as u64))
    }
}

#[derive(Args, Debug)]
pub struct UpstreamArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.saturating_sub(1).min(sorted.len() - 1)]
}

struct ConnResult {
    lat_us: Vec<u32>,
    lag_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

pub async fn run_rate(a: RateArgs) -> Result<()> {
    if a.rate == 0 || a.connections == 0 {
        bail!("--rate and --connections must be positive");
    }
    let (addr, host) = parse_url(&a.url).await?;
    let req = Arc::new(encode_post(
        &host,
        &a.path,
        &[("Content-Type", a.content_type.as_str())],
        a.body.as_bytes(),
    ));
    let warm = (a.rate as f64 * a.warmup) as u64;
    let measured = (a.rate as f64 * a.duration) as u64;
    let total = warm + measured;
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let schedule = Arc::new(Mutex::new(Schedule::new(
        a.arrivals, a.rate, warm, total, a.seed,
    )));
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let schedule = schedule.clone();
        let req = req.clone();
        let pacer = Pacer::new(a.timer).context("creating a timer")?;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut r = ConnResult {
                lat_us: Vec::new(),
                lag_us: Vec::new(),
                errors: 0,
                first_error: None,
                last_done: None,
            };
            let _ = conn.connect().await;
            loop {
                let taken = schedule.lock().map(|mut s| s.take()).unwrap_or(None);
                let Some((i, at_ns)) = taken else {
                    break;
                };
                let due = start + Duration::from_nanos(at_ns);
                if let Err(e) = pacer.sleep_until(due).await {
                    r.errors += 1;
                    r.first_error.get_or_insert_with(|| format!("timer: {e}"));
                    break;
                }
                let sent = tokio::time::Instant::now();
                let res = conn.roundtrip(&req).await;
                let done = tokio::time::Instant::now();
                if i < warm {
                    continue;
                }
                r.last_done = Some(done.into_std());
                match res {
                    Ok(resp) if (200..300).contains(&resp.status) => {
                        r.lat_us
                            .push((done - sent).as_micros().min(u32::MAX as u128) as u32);
                        r.lag_us
                            .push((sent - due).as_micros().min(u32::MAX as u128) as u32);
                    }
                    Ok(resp) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| {
                            format!(
                                "status {}: {}",
                                resp.status,
                                String::from_utf8_lossy(&resp.body)
                            )
                        });
                    }
                    Err(e) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            r
        }));
    }
    let mut lat = Vec::with_capacity(measured as usize);
    let mut lag = Vec::with_capacity(measured as usize);
    let mut errors = 0;
    let mut first_error = None;
    let mut last_done: Option<Instant> = None;
    for t in tasks {
        let r = t.await.context("a connection task failed")?;
        lat.extend(r.lat_us);
        lag.extend(r.lag_us);
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        last_done = match (last_done, r.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    lat.sort_unstable();
    lag.sort_unstable();
    let measured_ns = schedule
        .lock()
        .ok()
        .and_then(|s| s.measured_at)
        .unwrap_or(0);
    let measured_start = start.into_std() + Duration::from_nanos(measured_ns);
    let wall = last_done
        .map(|d| d.saturating_duration_since(measured_start).as_secs_f64())
        .unwrap_or(0.0);
    let ok = lat.len() as f64;
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|v| *v as f64).sum::<f64>() / ok
    };
    let out = serde_json::json!({
        "label": a.label,
        "url": a.url,
        "path": a.path,
        "rate": a.rate,
        "connections": a.connections,
        "timer": a.timer.name(),
        "arrivals": a.arrivals.name(),
        "requests": measured,
        "ok": lat.len(),
        "errors": errors,
        "first_error": first_error,
        "achieved_rps": if wall > 0.0 { ok / wall } else { 0.0 },
        "p50_us": pct(&lat, 50.0),
        "p90_us": pct(&lat, 90.0),
        "p99_us": pct(&lat, 99.0),
        "p999_us": pct(&lat, 99.9),
        "max_us": lat.last().copied().unwrap_or(0),
        "mean_us": mean,
        "lag_p50_us": pct(&lag, 50.0),
        "lag_p99_us": pct(&lag, 99.0),
        "lag_max_us": lag.last().copied().unwrap_or(0),
    });
    println!("{out}");
    Ok(())
}

const PREDICTION: &[u8] = b"0.8734";

async fn serve_conn(mut s: tokio::net::TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut tmp = [0u8; 8192];
    let ok = {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            PREDICTION.len()
        )
        .into_bytes();
        r.extend_from_slice(PREDICTION);
        r
    };
    let ping = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let is_get = head.starts_with("get ");
        buf.drain(..head_end + len);
        if is_get {
            s.write_all(ping).await?;
        } else {
            s.write_all(&ok).await?;
        }
    }
}

pub async fn run_upstream(a: UpstreamArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (s, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve_conn(s).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due_times(arrivals: Arrivals, rate: u64, n: u64, seed: u64) -> Vec<u64> {
        let mut s = Schedule::new(arrivals, rate, 0, n, seed);
        let mut out = Vec::new();
        while let Some((i, at)) = s.take() {
            assert_eq!(i, out.len() as u64, "requests are handed out in order");
            out.push(at);
        }
        out
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced() {
        let d = due_times(Arrivals::Uniform, 5000, 1000, 1);
        assert_eq!(d.len(), 1000);
        assert_eq!(d[0], 0);
        assert_eq!(d[1], 200_000);
        assert_eq!(d[999], 999 * 200_000);
    }

    /// Exponential gaps with mean 1 / rate: the mean gap is the interval,
    /// P(gap > interval) = e^-1, and the gaps' coefficient of variation is 1
    /// (evenly spaced arrivals would give 0 and 0).
    #[test]
    fn poisson_arrivals_have_exponential_gaps_of_the_rate() {
        let n = 200_000;
        let d = due_times(Arrivals::Poisson, 5000, n, 7);
        assert_eq!(d[0], 0);
        let gaps: Vec<f64> = d.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        // Standard error of the mean: 200 µs / sqrt(200k) = 0.45 µs.
        assert!((mean - 200_000.0).abs() < 2_000.0, "mean gap {mean} ns");
        let over = gaps.iter().filter(|g| **g > 200_000.0).count() as f64 / gaps.len() as f64;
        assert!(
            (over - (-1f64).exp()).abs() < 0.005,
            "P(gap > 1/rate) = {over}"
        );
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.02, "coefficient of variation {cv}");
    }

    #[test]
    fn poisson_arrivals_repeat_with_the_seed() {
        let a = due_times(Arrivals::Poisson, 1000, 500, 3);
        assert_eq!(a, due_times(Arrivals::Poisson, 1000, 500, 3));
        assert_ne!(a, due_times(Arrivals::Poisson, 1000, 500, 4));
    }
}
