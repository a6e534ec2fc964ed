//! `cargo bench -p mw-api --bench alarms`: the cost of one alarm evaluation
//! tick with 10,000 alarms over a real metric store, without HTTP.
//!
//! Three shapes: 1,000 series (`Bench/Latency{Host}`) watched by ten alarms
//! each (different thresholds and statistics: alarms on one metric share a
//! store read), with one datum per second for 10-second alarms or per minute
//! for 1-minute alarms; and 10,000 series with one 1-minute alarm each (no
//! sharing: one store read per alarm). A tick evaluates
//! every alarm: it reads the evaluation range from the store (the same path
//! the server uses, [`MetricSource`]), runs the evaluator and applies the
//! transitions. The first tick moves every alarm out of INSUFFICIENT_DATA
//! (10,000 state rows and history items in one transaction); later ticks
//! find nothing to change, which is the steady state of a real server.
//! Prints the median and the spread over `ROUNDS` ticks (default 20).

use mw_alarms::config::{MetricAlarmConfig, MetricSpec};
use mw_alarms::engine::{ActionSink, Engine, EngineOptions, Notice};
use mw_api::alarm_wiring::MetricSource;
use mw_model::{Datum, DatumValue, Dimension, MetricKey, Unit};
use mw_tsdb::{MetricBackend, MetricStore, StoreConfig, SyncMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

struct CountingSink(AtomicUsize);

impl ActionSink for CountingSink {
    fn check(&self, _arn: &str) -> Result<(), String> {
        Ok(())
    }
    fn send(&self, _arn: &str, _notice: &Notice) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20)
}

fn key(i: usize) -> MetricKey {
    MetricKey::from_parts(
        "Bench".into(),
        "Latency".into(),
        vec![Dimension {
            name: "Host".into(),
            value: format!("host-{i}"),
        }],
    )
}

fn run(period: i64, series: usize, per_series: usize) {
    let dir = std::env::temp_dir().join(format!(
        "mw-alarm-bench-{}-{period}-{series}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(
        MetricStore::open(StoreConfig {
            dir: dir.join("metrics"),
            sync: SyncMode::None,
            max_series: 100_000,
        })
        .expect("open store"),
    );
    let now = mw_model::time::now_ms();
    let step = if period < 60 { 1_000 } else { 60_000 };
    let resolution = if period < 60 { 1 } else { 60 };
    let mut batch = Vec::new();
    // Enough history for the evaluation range (5 periods) and some more.
    let span = if period < 60 { 120_000 } else { 600_000 };
    for i in 0..series {
        for k in 0..(span / step) {
            batch.push(Datum {
                key: key(i),
                unit: Unit::Milliseconds,
                timestamp_ms: now - span + k * step,
                resolution,
                value: DatumValue::Single(((i * 7 + k as usize) % 100) as f64),
            });
            if batch.len() == 1000 {
                store.put(&batch).expect("put");
                batch.clear();
            }
        }
    }
    store.put(&batch).expect("put");
    store.checkpoint().expect("checkpoint");

    let sink = Arc::new(CountingSink(AtomicUsize::new(0)));
    let engine = Engine::open(
        EngineOptions {
            dir: dir.join("alarms"),
            delay_ms: 0,
            ..EngineOptions::default()
        },
        Arc::new(MetricSource {
            store: store.clone() as Arc<dyn MetricBackend>,
        }),
        sink.clone(),
    )
    .expect("open engine");
    for i in 0..series {
        for j in 0..per_series {
            let cfg = MetricAlarmConfig {
                name: format!("alarm-{i:04}-{j}"),
                actions_enabled: true,
                alarm_actions: vec!["arn:bench:sink".into()],
                metric: Some(MetricSpec {
                    namespace: "Bench".into(),
                    name: "Latency".into(),
                    dimensions: vec![("Host".into(), format!("host-{i}"))],
                }),
                statistic: Some(if j % 2 == 0 { "Average" } else { "Maximum" }.into()),
                period: Some(period),
                evaluation_periods: 3,
                datapoints_to_alarm: Some(2),
                threshold: (j * 10) as f64,
                comparison_operator: "GreaterThanThreshold".into(),
                ..MetricAlarmConfig::default()
            };
            engine.put_metric_alarm(cfg, now).expect("put alarm");
        }
    }
    let t = Instant::now();
    let first = engine.tick(mw_model::time::now_ms()).expect("tick");
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::new();
    let mut evaluated = 0;
    for _ in 0..rounds() {
        engine.mark_all_dirty();
        let t = Instant::now();
        let r = engine.tick(mw_model::time::now_ms()).expect("tick");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        evaluated = r.evaluated;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "period {period:>2} s, {series} series x {per_series} alarms: {} alarms; first tick {first_ms:.1} ms ({} transitions, {} actions queued); \
steady tick median {:.1} ms (min {:.1}, max {:.1}) over {} ticks of {evaluated} evaluations",
        engine.len(),
        first.changed,
        sink.0.load(Ordering::Relaxed),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len(),
    );
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // SHAPES=3 runs only the third shape (for profiling).
    let only: Option<usize> = std::env::var("SHAPES").ok().and_then(|s| s.parse().ok());
    let shapes = [(10, 1000, 10), (60, 1000, 10), (60, 10_000, 1)];
    for (i, (period, series, per)) in shapes.into_iter().enumerate() {
        if only.is_none_or(|o| o == i + 1) {
            run(period, series, per);
        }
    }
}
