//! Endpoint metrics, aggregated in memory and published in batches.
//!
//! Every invocation is folded into the bucket of its period (1 s or 60 s):
//! counters for `Invocations`, `InvocationsPerInstance`,
//! `Invocation4XXErrors`, `Invocation5XXErrors`, `InvocationModelErrors`,
//! and latency histograms for `ModelLatency` and `OverheadLatency` in
//! microseconds (values kept to three significant digits, so a period of any
//! traffic is at most a few hundred distinct values, sent as CloudWatch
//! `Values`/`Counts` and so still good for percentiles). [`run_publisher`]
//! drains the buckets every flush interval into `AWS/SageMaker` with the
//! dimensions `EndpointName` and `VariantName`, plus the sidecar's own
//! capture counters in `ModelWatch/Proxy`. A publish that fails is retried
//! at the next flush, up to a bound.
//!
//! Each serving thread records into its own [`MetricsShard`] (a lock only
//! that thread and the publisher ever take), so recording costs no
//! cross-thread traffic; [`Metrics::drain`] merges the shards.

use mw_client::{Client, MetricDatum, MetricValue};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const NAMESPACE: &str = "AWS/SageMaker";
pub const PROXY_NAMESPACE: &str = "ModelWatch/Proxy";
/// Datums kept for retry while the server is unreachable.
const MAX_PENDING: usize = 50_000;
/// CloudWatch's limit of distinct values per datum.
const MAX_VALUES: usize = 150;

/// How a finished invocation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ok,
    ClientError,
    ServerError,
}

/// One finished invocation.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub class: Class,
    /// The model answered non-2XX, or could not be reached or read.
    pub model_error: bool,
    /// Time spent waiting for the upstream, when it was called.
    pub model_us: Option<u64>,
    pub overhead_us: u64,
}

/// Hashes the binned latencies (small integers): one multiplication.
#[derive(Default)]
struct BinHasher(u64);

impl Hasher for BinHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Histogram = HashMap<u64, u64, BuildHasherDefault<BinHasher>>;

#[derive(Default)]
struct Bucket {
    invocations: u64,
    e4xx: u64,
    e5xx: u64,
    model_errors: u64,
    model: Histogram,
    overhead: Histogram,
}

impl Bucket {
    fn merge(&mut self, o: Bucket) {
        self.invocations += o.invocations;
        self.e4xx += o.e4xx;
        self.e5xx += o.e5xx;
        self.model_errors += o.model_errors;
        for (v, c) in o.model {
            *self.model.entry(v).or_default() += c;
        }
        for (v, c) in o.overhead {
            *self.overhead.entry(v).or_default() += c;
        }
    }
}

type Buckets = Arc<Mutex<BTreeMap<i64, Bucket>>>;

/// One serving thread's part of a [`Metrics`].
pub struct MetricsShard {
    resolution: u32,
    buckets: Buckets,
}

impl MetricsShard {
    pub fn record(&self, now_ms: i64, o: &Outcome) {
        record_into(&self.buckets, self.resolution, now_ms, o);
    }
}

fn record_into(buckets: &Buckets, resolution: u32, now_ms: i64, o: &Outcome) {
    let period = i64::from(resolution) * 1000;
    let ts = now_ms.div_euclid(period) * period;
    let mut buckets = buckets.lock();
    let b = buckets.entry(ts).or_default();
    b.invocations += 1;
    match o.class {
        Class::Ok => {}
        Class::ClientError => b.e4xx += 1,
        Class::ServerError => b.e5xx += 1,
    }
    if o.model_error {
        b.model_errors += 1;
    }
    if let Some(m) = o.model_us {
        *b.model.entry(bin(m)).or_default() += 1;
    }
    *b.overhead.entry(bin(o.overhead_us)).or_default() += 1;
}

/// Rounds to three significant digits (at most 0.5% off).
pub fn bin(us: u64) -> u64 {
    if us < 1000 {
        return us;
    }
    let mut mag = 1u64;
    while us / mag >= 1000 {
        mag *= 10;
    }
    (us + mag / 2) / mag * mag
}

/// The aggregator of one endpoint variant.
pub struct Metrics {
    dims: Vec<(String, String)>,
    resolution: u32,
    /// The first shard serves [`Metrics::record`]; serving threads add theirs.
    shards: Mutex<Vec<Buckets>>,
}

impl Metrics {
    pub fn new(endpoint: &str, variant: &str, resolution: u32) -> Metrics {
        Metrics {
            dims: vec![
                ("EndpointName".to_string(), endpoint.to_string()),
                ("VariantName".to_string(), variant.to_string()),
            ],
            resolution: if resolution == 1 { 1 } else { 60 },
            shards: Mutex::new(vec![Buckets::default()]),
        }
    }

    /// A shard for one serving thread; what it records is drained with the rest.
    pub fn shard(&self) -> MetricsShard {
        let buckets = Buckets::default();
        self.shards.lock().push(buckets.clone());
        MetricsShard {
            resolution: self.resolution,
            buckets,
        }
    }

    pub fn resolution(&self) -> u32 {
        self.resolution
    }

    pub fn record(&self, now_ms: i64, o: &Outcome) {
        let first = self.shards.lock()[0].clone();
        record_into(&first, self.resolution, now_ms, o);
    }

    fn datum(&self, name: &str, unit: &'static str, ts: i64, value: MetricValue) -> MetricDatum {
        MetricDatum {
            name: name.to_string(),
            dimensions: self.dims.clone(),
            unit,
            timestamp_ms: ts,
            value,
            storage_resolution: self.resolution,
        }
    }

    fn histogram(&self, out: &mut Vec<MetricDatum>, name: &str, ts: i64, h: Histogram) {
        let mut pairs: Vec<(f64, f64)> = h.into_iter().map(|(v, c)| (v as f64, c as f64)).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for chunk in pairs.chunks(MAX_VALUES) {
            out.push(self.datum(
                name,
                "Microseconds",
                ts,
                MetricValue::Values(chunk.to_vec()),
            ));
        }
    }

    /// Everything aggregated so far, as datums; the buckets are emptied.
    pub fn drain(&self) -> Vec<MetricDatum> {
        let shards = self.shards.lock().clone();
        let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
        for shard in shards {
            let taken = std::mem::take(&mut *shard.lock());
            for (ts, b) in taken {
                buckets.entry(ts).or_default().merge(b);
            }
        }
        let mut out = Vec::new();
        for (ts, b) in buckets {
            let count = |n: u64| MetricValue::Single(n as f64);
            out.push(self.datum("Invocations", "Count", ts, count(b.invocations)));
            out.push(self.datum("InvocationsPerInstance", "Count", ts, count(b.invocations)));
            out.push(self.datum("Invocation4XXErrors", "Count", ts, count(b.e4xx)));
            out.push(self.datum("Invocation5XXErrors", "Count", ts, count(b.e5xx)));
            out.push(self.datum("InvocationModelErrors", "Count", ts, count(b.model_errors)));
            self.histogram(&mut out, "ModelLatency", ts, b.model);
            self.histogram(&mut out, "OverheadLatency", ts, b.overhead);
        }
        out
    }

    /// The sidecar's own counters (`ModelWatch/Proxy`) for the increments since
    /// the last call.
    fn capture_datums(
        &self,
        stats: &crate::capture::CaptureStats,
        last: &mut (u64, u64),
    ) -> Vec<MetricDatum> {
        let now = mw_model::time::now_ms();
        let dropped = stats.dropped.load(Ordering::Relaxed);
        let written = stats.written.load(Ordering::Relaxed);
        let mut out = Vec::new();
        if dropped > last.0 {
            out.push(self.datum(
                "CaptureRecordsDropped",
                "Count",
                now,
                MetricValue::Single((dropped - last.0) as f64),
            ));
        }
        if written > last.1 {
            out.push(self.datum(
                "CaptureRecordsWritten",
                "Count",
                now,
                MetricValue::Single((written - last.1) as f64),
            ));
        }
        *last = (dropped, written);
        out
    }
}

struct Pending {
    namespace: &'static str,
    data: Vec<MetricDatum>,
}

/// Publishes every `every` until `stop` resolves, then once more.
pub async fn run_publisher(
    metrics: Arc<Metrics>,
    capture: Option<Arc<crate::capture::CaptureStats>>,
    client: Option<Client>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut pending: Vec<Pending> = Vec::new();
    let mut last = (0u64, 0u64);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        pending.push(Pending {
            namespace: NAMESPACE,
            data: metrics.drain(),
        });
        if let Some(stats) = &capture {
            pending.push(Pending {
                namespace: PROXY_NAMESPACE,
                data: metrics.capture_datums(stats, &mut last),
            });
        }
        pending.retain(|p| !p.data.is_empty());
        if let Some(client) = &client {
            let mut kept = Vec::new();
            let mut failed = false;
            for p in pending.drain(..) {
                if failed {
                    kept.push(p);
                    continue;
                }
                match client.put_metrics(p.namespace, &p.data).await {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = %e, datums = p.data.len(), "publishing metrics failed; retrying at the next flush");
                        failed = true;
                        kept.push(p);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, datums = p.data.len(), "the server rejected metrics; they are dropped");
                    }
                }
            }
            pending = kept;
            // Bound what waits for the server: drop the oldest.
            let mut total: usize = pending.iter().map(|p| p.data.len()).sum();
            while total > MAX_PENDING && !pending.is_empty() {
                total -= pending.remove(0).data.len();
            }
        } else {
            pending.clear();
        }
        if stopping {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_keep_three_significant_digits() {
        assert_eq!(bin(0), 0);
        assert_eq!(bin(999), 999);
        assert_eq!(bin(1234), 1230);
        assert_eq!(bin(1235), 1240);
        assert_eq!(bin(98_765), 98_800);
        assert_eq!(bin(1_000_000), 1_000_000);
        for v in [1500u64, 12_345, 777_777, 5_000_001] {
            let e = (bin(v) as f64 - v as f64).abs() / v as f64;
            assert!(e <= 0.005, "{v}");
        }
    }

    fn value_of(d: &[MetricDatum], name: &str) -> f64 {
        d.iter()
            .filter(|x| x.name == name)
            .map(|x| match &x.value {
                MetricValue::Single(v) => *v,
                MetricValue::Values(vs) => vs.iter().map(|p| p.1).sum(),
                MetricValue::Stats { count, .. } => *count,
            })
            .sum()
    }

    #[test]
    fn aggregates_by_period_with_aws_names() {
        let m = Metrics::new("ep", "AllTraffic", 60);
        let t = 1_700_000_080_000; // 40 s into a minute
        let ok = Outcome {
            class: Class::Ok,
            model_error: false,
            model_us: Some(1000),
            overhead_us: 50,
        };
        for i in 0..10 {
            m.record(t + i, &ok);
        }
        m.record(
            t,
            &Outcome {
                class: Class::ClientError,
                model_error: false,
                model_us: None,
                overhead_us: 20,
            },
        );
        m.record(
            t + 30_000, // next minute
            &Outcome {
                class: Class::ServerError,
                model_error: true,
                model_us: Some(5000),
                overhead_us: 70,
            },
        );
        let d = m.drain();
        assert!(m.drain().is_empty());
        let minutes: std::collections::BTreeSet<_> = d.iter().map(|x| x.timestamp_ms).collect();
        assert_eq!(
            minutes.into_iter().collect::<Vec<_>>(),
            vec![1_700_000_040_000, 1_700_000_100_000]
        );
        assert_eq!(value_of(&d, "Invocations"), 12.0);
        assert_eq!(value_of(&d, "InvocationsPerInstance"), 12.0);
        assert_eq!(value_of(&d, "Invocation4XXErrors"), 1.0);
        assert_eq!(value_of(&d, "Invocation5XXErrors"), 1.0);
        assert_eq!(value_of(&d, "InvocationModelErrors"), 1.0);
        assert_eq!(value_of(&d, "ModelLatency"), 11.0);
        assert_eq!(value_of(&d, "OverheadLatency"), 12.0);
        assert!(d.iter().all(|x| x.dimensions
            == vec![
                ("EndpointName".to_string(), "ep".to_string()),
                ("VariantName".to_string(), "AllTraffic".to_string())
            ]));
        let lat = d.iter().find(|x| x.name == "ModelLatency").unwrap();
        assert_eq!(lat.unit, "Microseconds");
    }

    #[test]
    fn shards_of_serving_threads_are_drained_together() {
        let m = Metrics::new("ep", "v", 60);
        let (a, b) = (m.shard(), m.shard());
        let t = 1_700_000_040_000;
        let ok = |us| Outcome {
            class: Class::Ok,
            model_error: false,
            model_us: Some(us),
            overhead_us: 10,
        };
        a.record(t, &ok(100));
        b.record(t + 1, &ok(100));
        b.record(t + 2, &ok(200));
        m.record(t + 3, &ok(300));
        let d = m.drain();
        assert_eq!(value_of(&d, "Invocations"), 4.0);
        // One datum per metric and period, the shards' histograms merged.
        assert_eq!(d.iter().filter(|x| x.name == "Invocations").count(), 1);
        let lat: Vec<_> = d.iter().filter(|x| x.name == "ModelLatency").collect();
        assert_eq!(lat.len(), 1);
        assert_eq!(
            lat[0].value,
            MetricValue::Values(vec![(100.0, 2.0), (200.0, 1.0), (300.0, 1.0)])
        );
        assert!(m.drain().is_empty());
    }

    #[test]
    fn many_distinct_latencies_split_into_datums_of_150() {
        let m = Metrics::new("ep", "v", 1);
        for us in 0..400u64 {
            m.record(
                1_700_000_000_000,
                &Outcome {
                    class: Class::Ok,
                    model_error: false,
                    model_us: Some(us),
                    overhead_us: 1,
                },
            );
        }
        let d = m.drain();
        let lat: Vec<_> = d.iter().filter(|x| x.name == "ModelLatency").collect();
        assert_eq!(lat.len(), 3);
        assert!(lat
            .iter()
            .all(|x| matches!(&x.value, MetricValue::Values(v) if v.len() <= 150)));
        assert!(lat.iter().all(|x| x.storage_resolution == 1));
        assert_eq!(value_of(&d, "ModelLatency"), 400.0);
    }
}
