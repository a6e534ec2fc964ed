//! The scheduler driven by an injected clock and `tick(now)`: runs at cron
//! times, windows, statuses, reports, metrics, restarts and bounds.

use super::*;
use crate::table::CsvSource;
use crate::BaselineOptions;
use std::sync::atomic::AtomicI64;

struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "mw-monitor-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TestDir(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Captured records by endpoint: (inference time ms, line).
#[derive(Default)]
struct MemSource(Mutex<Vec<(String, i64, String)>>);

impl CaptureSource for MemSource {
    fn read_window(
        &self,
        endpoint: &str,
        _start_ms: i64,
        _end_ms: i64,
        max_bytes: usize,
    ) -> std::result::Result<String, String> {
        // Everything of the endpoint: the job itself keeps the window.
        let mut out = String::new();
        for (e, _, line) in self.0.lock().iter() {
            if e == endpoint {
                out.push_str(line);
                out.push('\n');
            }
        }
        if out.len() > max_bytes {
            return Err(format!("the window holds more than {max_bytes} bytes"));
        }
        Ok(out)
    }
}

/// (namespace, endpoint, schedule, timestamp ms, metrics) of each batch.
type Emitted = (String, String, String, i64, Vec<Metric>);

#[derive(Default)]
struct MemSink(Mutex<Vec<Emitted>>);

impl MetricSink for MemSink {
    fn emit(&self, b: &MetricBatch<'_>) -> std::result::Result<(), String> {
        self.0.lock().push((
            b.namespace.to_string(),
            b.endpoint.to_string(),
            b.schedule.to_string(),
            b.timestamp_ms,
            b.metrics.to_vec(),
        ));
        Ok(())
    }
}

fn ms(s: &str) -> i64 {
    crate::capture::parse_time(s).expect("a test time") * 1000
}

struct Fixture {
    dir: TestDir,
    clock: Arc<AtomicI64>,
    source: Arc<MemSource>,
    sink: Arc<MemSink>,
    sched: Arc<Scheduler>,
}

impl Fixture {
    fn new(tag: &str, now: &str) -> Fixture {
        let dir = TestDir::new(tag);
        let clock = Arc::new(AtomicI64::new(ms(now)));
        let source = Arc::new(MemSource::default());
        let sink = Arc::new(MemSink::default());
        let sched = Self::open(&dir.0, &clock, &source, &sink, |_| {});
        Fixture {
            dir,
            clock,
            source,
            sink,
            sched,
        }
    }

    fn open(
        dir: &Path,
        clock: &Arc<AtomicI64>,
        source: &Arc<MemSource>,
        sink: &Arc<MemSink>,
        tune: impl FnOnce(&mut SchedulerOptions),
    ) -> Arc<Scheduler> {
        let c = clock.clone();
        let mut opts = SchedulerOptions::new(dir.join("monitoring"));
        opts.clock = Arc::new(move || c.load(Ordering::SeqCst));
        tune(&mut opts);
        Arc::new(Scheduler::open(opts, source.clone(), sink.clone()).unwrap())
    }

    fn reopen(&mut self, tune: impl FnOnce(&mut SchedulerOptions)) {
        self.sched = Self::open(&self.dir.0, &self.clock, &self.source, &self.sink, tune);
    }

    fn set_now(&self, now: &str) -> i64 {
        self.clock.store(ms(now), Ordering::SeqCst);
        ms(now)
    }

    /// 300 records at `at`: label, then x and cat; `shift` keeps x ≥ 40.
    fn capture(&self, endpoint: &str, at: &str, shift: bool) {
        let mut src = self.source.0.lock();
        for i in 0..300 {
            let x = if shift { 40 + i % 10 } else { i % 50 };
            let cat = ["a", "b", "c"][i % 3];
            let line = format!(
                r#"{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{x},{cat}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv","mode":"OUTPUT","data":"{}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"e{i}","inferenceTime":"{at}"}},"eventVersion":"0"}}"#,
                i % 2
            );
            src.push((endpoint.to_string(), ms(at), line));
        }
    }

    fn store_baseline(&self, name: &str) -> BaselineInfo {
        let mut text = String::from("label,x,cat\n");
        for i in 0..300 {
            text.push_str(&format!(
                "{},{},{}\n",
                i % 2,
                i % 50,
                ["a", "b", "c"][i % 3]
            ));
        }
        let b = Baseline::compute(
            &mut CsvSource::new(text.as_bytes(), "train.csv", true),
            BaselineOptions::default(),
        )
        .unwrap();
        self.sched.put_baseline(name, &b, "csv").unwrap()
    }

    fn create(&self, name: &str, expr: &str) -> Schedule {
        self.sched
            .create_schedule(ScheduleConfig {
                name: name.into(),
                endpoint: "churn".into(),
                baseline: "base".into(),
                expression: expr.into(),
                window_start_offset: None,
                window_end_offset: None,
                columns: None,
            })
            .unwrap()
    }
}

#[test]
fn an_hourly_schedule_runs_at_the_hour_over_the_previous_hour() {
    let f = Fixture::new("hourly", "2024-05-01T12:30:00Z");
    f.store_baseline("base");
    f.create("hourly", "cron(0 * ? * * *)");
    assert_eq!(f.sched.next_due(), Some(ms("2024-05-01T13:00:00Z")));
    f.capture("churn", "2024-05-01T12:10:00Z", false);
    // Outside the window: the next hour, another endpoint.
    f.capture("churn", "2024-05-01T13:00:00Z", true);
    f.capture("other", "2024-05-01T12:10:00Z", true);

    let r = f.sched.tick(ms("2024-05-01T12:59:59Z")).unwrap();
    assert_eq!(r, TickReport::default(), "nothing is due before 13:00");
    let now = f.set_now("2024-05-01T13:00:02Z");
    let r = f.sched.tick(now).unwrap();
    assert_eq!(r, TickReport { ran: 1, failed: 0 });
    assert_eq!(f.sched.next_due(), Some(ms("2024-05-01T14:00:00Z")));

    let ex = f.sched.executions("hourly", None, 10).unwrap();
    assert_eq!(ex.len(), 1);
    let e = &ex[0];
    assert_eq!(e.status, ExecutionStatus::Completed, "{e:?}");
    assert_eq!(e.trigger, Trigger::Schedule);
    assert_eq!(e.scheduled_ms, ms("2024-05-01T13:00:00Z"));
    assert_eq!(
        (e.window_start_ms, e.window_end_ms),
        (ms("2024-05-01T12:00:00Z"), ms("2024-05-01T13:00:00Z"))
    );
    assert_eq!(e.violations, Some(0));
    assert_eq!(
        e.report_dir.as_deref(),
        Some("reports/churn/hourly/2024/05/01/13")
    );
    assert_eq!(f.sched.report_files(e), REPORT_FILES.to_vec());
    let stats: serde_json::Value = serde_json::from_slice(
        &f.sched
            .report_file("hourly", e.id, STATISTICS_FILE)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stats["dataset"]["item_count"], 300,
        "only the window's records"
    );

    let sunk = f.sink.0.lock();
    assert_eq!(sunk.len(), 1);
    let (ns, endpoint, schedule, ts, metrics) = &sunk[0];
    assert_eq!(
        (ns.as_str(), endpoint.as_str(), schedule.as_str()),
        (METRICS_NAMESPACE, "churn", "hourly")
    );
    assert_eq!(
        *ts,
        ms("2024-05-01T12:00:00Z"),
        "stamped with the window start"
    );
    let drift = metrics
        .iter()
        .find(|m| m.name == "feature_baseline_drift_x")
        .expect("a drift metric for x");
    assert_eq!(drift.value, crate::MetricValue::Value(0.0));

    let v = f.sched.describe("hourly").unwrap();
    assert_eq!(v.last_execution.as_ref().map(|e| e.id), Some(e.id));
    assert_eq!(v.next_run_ms, Some(ms("2024-05-01T14:00:00Z")));
}

#[test]
fn a_shifted_window_completes_with_violations_and_an_empty_one_fails() {
    let f = Fixture::new("shift", "2024-05-01T12:00:30Z");
    f.store_baseline("base");
    f.create("every-5", "cron(*/5 * ? * * *)");
    f.capture("churn", "2024-05-01T12:02:00Z", true);
    let now = f.set_now("2024-05-01T12:05:00Z");
    f.sched.tick(now).unwrap();
    let now = f.set_now("2024-05-01T12:10:00Z");
    assert_eq!(f.sched.tick(now).unwrap(), TickReport { ran: 1, failed: 1 });
    let ex = f.sched.executions("every-5", None, 10).unwrap();
    assert_eq!(ex.len(), 2);
    let (empty, shifted) = (&ex[0], &ex[1]);
    assert_eq!(shifted.status, ExecutionStatus::CompletedWithViolations);
    assert_eq!(
        (shifted.window_start_ms, shifted.window_end_ms),
        (ms("2024-05-01T12:00:00Z"), ms("2024-05-01T12:05:00Z")),
        "the default window is one period"
    );
    assert_eq!(
        shifted.report_dir.as_deref(),
        Some("reports/churn/every-5/2024/05/01/12/05")
    );
    let v: serde_json::Value = serde_json::from_slice(
        &f.sched
            .report_file("every-5", shifted.id, VIOLATIONS_FILE)
            .unwrap(),
    )
    .unwrap();
    assert!(
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["feature_name"] == "x"
                && x["constraint_check_type"] == "baseline_drift_check"),
        "{v}"
    );
    assert!(shifted
        .message
        .as_deref()
        .unwrap()
        .starts_with("CompletedWithViolations: Job completed successfully with"));

    assert_eq!(empty.status, ExecutionStatus::Failed);
    assert_eq!(
        empty.failure_reason.as_deref(),
        Some("No data was found in the window [2024-05-01T12:05:00Z, 2024-05-01T12:10:00Z) of endpoint \"churn\"")
    );
    assert_eq!(empty.report_dir, None);
    let e = f
        .sched
        .report_file("every-5", empty.id, STATISTICS_FILE)
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    assert!(e.to_string().contains("status Failed: No data"), "{e}");
    assert_eq!(
        f.sched
            .executions("every-5", Some(ExecutionStatus::Failed), 10)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn offsets_manual_runs_and_missed_runs() {
    let f = Fixture::new("offsets", "2024-05-01T09:30:00Z");
    f.store_baseline("base");
    f.sched
        .create_schedule(ScheduleConfig {
            name: "late".into(),
            endpoint: "churn".into(),
            baseline: "base".into(),
            expression: "cron(0 * ? * * *)".into(),
            window_start_offset: Some("-PT2H".into()),
            window_end_offset: Some("-PT1H".into()),
            columns: Some(vec!["label".into(), "x".into(), "cat".into()]),
        })
        .unwrap();
    f.capture("churn", "2024-05-01T11:30:00Z", false);
    // Down from 09:30 to 14:20: the 14:00 run happens once, not five runs.
    let now = f.set_now("2024-05-01T14:20:00Z");
    assert_eq!(f.sched.tick(now).unwrap(), TickReport { ran: 1, failed: 1 });
    let e = &f.sched.executions("late", None, 10).unwrap()[0];
    assert_eq!(e.scheduled_ms, ms("2024-05-01T14:00:00Z"));
    assert_eq!(
        (e.window_start_ms, e.window_end_ms),
        (ms("2024-05-01T12:00:00Z"), ms("2024-05-01T13:00:00Z"))
    );
    assert_eq!(
        e.status,
        ExecutionStatus::Failed,
        "11:30 is outside [12:00, 13:00)"
    );

    let e = f
        .sched
        .run_now(
            "late",
            Some((ms("2024-05-01T11:00:00Z"), ms("2024-05-01T11:45:30Z"))),
        )
        .unwrap();
    assert_eq!(e.trigger, Trigger::Manual);
    assert_eq!(e.status, ExecutionStatus::Completed, "{e:?}");
    assert_eq!(e.scheduled_ms, ms("2024-05-01T11:45:30Z"));
    assert_eq!(
        e.report_dir.as_deref(),
        Some("reports/churn/late/2024/05/01/11/45-30")
    );
    let bad = f
        .sched
        .run_now(
            "late",
            Some((ms("2024-05-01T12:00:00Z"), ms("2024-05-01T11:00:00Z"))),
        )
        .unwrap_err();
    assert_eq!(bad.kind(), crate::ErrorKind::InvalidParameter);
    let missing = f.sched.run_now("nope", None).unwrap_err();
    assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
}

#[test]
fn stop_start_and_delete() {
    let f = Fixture::new("stop", "2024-05-01T12:30:00Z");
    f.store_baseline("base");
    f.create("s", "rate(10 minutes)");
    assert_eq!(f.sched.next_due(), Some(ms("2024-05-01T12:40:00Z")));
    let v = f.sched.set_status("s", ScheduleStatus::Stopped).unwrap();
    assert_eq!(v.schedule.status, ScheduleStatus::Stopped);
    assert_eq!(v.next_run_ms, None);
    let now = f.set_now("2024-05-01T13:05:00Z");
    assert_eq!(f.sched.tick(now).unwrap(), TickReport::default());
    let v = f.sched.set_status("s", ScheduleStatus::Scheduled).unwrap();
    assert_eq!(
        v.next_run_ms,
        Some(ms("2024-05-01T13:10:00Z")),
        "no catching up"
    );

    f.capture("churn", "2024-05-01T13:02:00Z", false);
    let e = f
        .sched
        .run_now(
            "s",
            Some((ms("2024-05-01T13:00:00Z"), ms("2024-05-01T13:05:00Z"))),
        )
        .unwrap();
    let dir = f.sched.report_path(&e).unwrap();
    assert!(dir.join(STATISTICS_FILE).is_file());
    let used = f.sched.delete_baseline("base").unwrap_err();
    assert_eq!(used.kind(), crate::ErrorKind::Conflict);
    f.sched.delete_schedule("s").unwrap();
    assert!(!dir.exists(), "reports go with the schedule");
    assert_eq!(
        f.sched.describe("s").unwrap_err().kind(),
        crate::ErrorKind::NotFound
    );
    assert_eq!(f.sched.next_due(), None);
    f.sched.delete_baseline("base").unwrap();
    assert!(f.sched.baselines().unwrap().is_empty());
}

#[test]
fn everything_survives_a_restart_and_interrupted_runs_fail() {
    let mut f = Fixture::new("restart", "2024-05-01T12:30:00Z");
    f.store_baseline("base");
    f.create("a", "cron(0 * ? * * *)");
    f.create("b", "cron(0 * ? * * *)");
    f.sched.set_status("b", ScheduleStatus::Stopped).unwrap();
    f.capture("churn", "2024-05-01T12:10:00Z", false);
    let now = f.set_now("2024-05-01T13:00:00Z");
    f.sched.tick(now).unwrap();
    // A run that was in progress when the server died.
    let interrupted = f
        .sched
        .catalog
        .insert_execution(&Execution {
            id: 0,
            schedule: "a".into(),
            endpoint: "churn".into(),
            trigger: Trigger::Schedule,
            scheduled_ms: ms("2024-05-01T14:00:00Z"),
            window_start_ms: ms("2024-05-01T13:00:00Z"),
            window_end_ms: ms("2024-05-01T14:00:00Z"),
            status: ExecutionStatus::InProgress,
            failure_reason: None,
            message: None,
            violations: None,
            report_dir: None,
            created_ms: ms("2024-05-01T14:00:00Z"),
            started_ms: Some(ms("2024-05-01T14:00:00Z")),
            ended_ms: None,
        })
        .unwrap();
    f.sched
        .catalog
        .set_last_scheduled("a", ms("2024-05-01T14:00:00Z"))
        .unwrap();
    f.set_now("2024-05-01T14:10:00Z");
    f.reopen(|_| {});

    let e = f.sched.execution("a", interrupted).unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.failure_reason.as_deref(), Some(INTERRUPTED));
    assert_eq!(e.ended_ms, Some(ms("2024-05-01T14:10:00Z")));
    let all = f.sched.schedules().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].schedule.status, ScheduleStatus::Scheduled);
    assert_eq!(all[1].schedule.status, ScheduleStatus::Stopped);
    assert_eq!(
        all[0].next_run_ms,
        Some(ms("2024-05-01T15:00:00Z")),
        "the interrupted 14:00 run is not run again"
    );
    assert_eq!(all[1].next_run_ms, None);
    assert_eq!(f.sched.baselines().unwrap()[0].item_count, 300);
    assert_eq!(
        f.sched
            .executions("a", Some(ExecutionStatus::Completed), 10)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bounds_are_kept() {
    let mut f = Fixture::new("bounds", "2024-05-01T12:00:30Z");
    f.reopen(|o| {
        o.max_schedules = 2;
        o.max_executions_per_schedule = 3;
        o.max_baselines = 1;
        o.max_window_bytes = 1000;
    });
    f.store_baseline("base");
    f.create("a", "cron(* * ? * * *)");
    f.create("b", "cron(* * ? * * *)");
    let more = f.sched.create_schedule(ScheduleConfig {
        name: "c".into(),
        endpoint: "churn".into(),
        baseline: "base".into(),
        expression: "cron(* * ? * * *)".into(),
        window_start_offset: None,
        window_end_offset: None,
        columns: None,
    });
    assert_eq!(more.unwrap_err().kind(), crate::ErrorKind::LimitExceeded);
    let b = f.sched.baseline_file("base", STATISTICS_FILE).unwrap();
    let b: Baseline = Baseline {
        statistics: serde_json::from_slice(&b).unwrap(),
        constraints: serde_json::from_slice(
            &f.sched.baseline_file("base", CONSTRAINTS_FILE).unwrap(),
        )
        .unwrap(),
        drift: None,
    };
    let e = f.sched.put_baseline("second", &b, "files").unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::LimitExceeded);
    let e = f.sched.put_baseline("base", &b, "files").unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Conflict);

    f.sched.delete_schedule("b").unwrap();
    // Five minutes of runs with data in every minute: three kept.
    let mut dirs = Vec::new();
    for m in 1..=5 {
        f.capture("churn", &format!("2024-05-01T12:0{}:10Z", m - 1), false);
        let now = f.set_now(&format!("2024-05-01T12:0{m}:00Z"));
        f.sched.tick(now).unwrap();
        let e = f.sched.executions("a", None, 1).unwrap().remove(0);
        dirs.push(e.clone());
    }
    let kept = f.sched.executions("a", None, 100).unwrap();
    assert_eq!(
        kept.iter().map(|e| e.id).collect::<Vec<_>>(),
        dirs[2..].iter().rev().map(|e| e.id).collect::<Vec<_>>()
    );
    // The window is larger than 1000 bytes: a clear failure.
    assert_eq!(kept[0].status, ExecutionStatus::Failed);
    assert_eq!(
        kept[0].failure_reason.as_deref(),
        Some("the window holds more than 1000 bytes")
    );
}

#[test]
fn pruning_removes_old_reports() {
    let mut f = Fixture::new("prune", "2024-05-01T12:00:30Z");
    f.reopen(|o| o.max_executions_per_schedule = 2);
    f.store_baseline("base");
    f.create("a", "cron(* * ? * * *)");
    let mut reports = Vec::new();
    for m in 1..=4 {
        f.capture("churn", &format!("2024-05-01T12:0{}:10Z", m - 1), false);
        let now = f.set_now(&format!("2024-05-01T12:0{m}:00Z"));
        f.sched.tick(now).unwrap();
        let e = f.sched.executions("a", None, 1).unwrap().remove(0);
        assert_eq!(e.status, ExecutionStatus::Completed, "{e:?}");
        reports.push(f.sched.report_path(&e).unwrap());
    }
    // Executions 1 and 2 were pruned when 3 and 4 started.
    assert!(!reports[0].exists() && !reports[1].exists());
    assert!(reports[2].exists() && reports[3].exists());
}

#[test]
fn a_corrupt_baseline_fails_the_execution_with_its_reason() {
    let f = Fixture::new("corrupt", "2024-05-01T12:00:30Z");
    f.store_baseline("base");
    f.create("a", "cron(* * ? * * *)");
    f.capture("churn", "2024-05-01T12:00:10Z", false);
    std::fs::write(
        f.dir.0.join("monitoring/baselines/base/statistics.json"),
        "{\"version\": 0.0, \"dataset\": ",
    )
    .unwrap();
    let now = f.set_now("2024-05-01T12:01:00Z");
    f.sched.tick(now).unwrap();
    let e = f.sched.executions("a", None, 1).unwrap().remove(0);
    assert_eq!(e.status, ExecutionStatus::Failed);
    let reason = e.failure_reason.unwrap();
    assert!(
        reason.starts_with("the baseline \"base\" cannot be used:")
            && reason.contains("statistics.json"),
        "{reason}"
    );
}

#[test]
fn bad_input_is_refused_with_its_reason() {
    let f = Fixture::new("bad", "2024-05-01T12:00:30Z");
    f.store_baseline("base");
    let cfg = |name: &str,
               endpoint: &str,
               baseline: &str,
               expr: &str,
               start: Option<&str>,
               end: Option<&str>| ScheduleConfig {
        name: name.into(),
        endpoint: endpoint.into(),
        baseline: baseline.into(),
        expression: expr.into(),
        window_start_offset: start.map(String::from),
        window_end_offset: end.map(String::from),
        columns: None,
    };
    let cases = [
        (
            cfg("-bad", "churn", "base", "cron(0 * ? * * *)", None, None),
            "monitoring schedule name \"-bad\" is not valid",
        ),
        (
            cfg("a", "ch urn", "base", "cron(0 * ? * * *)", None, None),
            "endpoint name \"ch urn\" is not valid",
        ),
        (
            cfg("a", "churn", "nope", "cron(0 * ? * * *)", None, None),
            "baseline \"nope\" does not exist; upload it first",
        ),
        (
            cfg("a", "churn", "base", "cron(0 * ? * *)", None, None),
            "expected 6 fields",
        ),
        (
            cfg("a", "churn", "base", "cron(0 0 1 1 ? 2020)", None, None),
            "never runs after now",
        ),
        (
            cfg(
                "a",
                "churn",
                "base",
                "cron(0 * ? * * *)",
                Some("-PT1H"),
                None,
            ),
            "give both window offsets",
        ),
        (
            cfg(
                "a",
                "churn",
                "base",
                "cron(0 * ? * * *)",
                Some("-PT1H"),
                Some("PT1H"),
            ),
            "is after the scheduled time",
        ),
        (
            cfg(
                "a",
                "churn",
                "base",
                "cron(0 * ? * * *)",
                Some("-PT1H"),
                Some("-PT2H"),
            ),
            "must be before the end offset",
        ),
        (
            cfg(
                "a",
                "churn",
                "base",
                "cron(0 * ? * * *)",
                Some("-P40D"),
                Some("PT0H"),
            ),
            "more than 31 days",
        ),
        (
            cfg(
                "a",
                "churn",
                "base",
                "cron(0 * ? * * *)",
                Some("-1H"),
                Some("PT0H"),
            ),
            "window offset \"-1H\" is not an ISO-8601 duration",
        ),
    ];
    for (c, want) in cases {
        let e = f.sched.create_schedule(c).unwrap_err();
        assert!(e.to_string().contains(want), "{e} does not say {want:?}");
    }
    assert!(
        f.sched.schedules().unwrap().is_empty(),
        "nothing was stored"
    );
    let mut dup = cfg("a", "churn", "base", "cron(0 * ? * * *)", None, None);
    dup.columns = Some(vec!["x".into(), "x".into()]);
    assert!(f
        .sched
        .create_schedule(dup)
        .unwrap_err()
        .to_string()
        .contains("appears twice"));
    f.create("a", "cron(0 * ? * * *)");
    let again = f
        .sched
        .create_schedule(cfg("a", "churn", "base", "cron(0 * ? * * *)", None, None));
    assert_eq!(again.unwrap_err().kind(), crate::ErrorKind::Conflict);
    let e = f.sched.baseline_file("base", "../secret").unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    let e = f.sched.report_file("a", 1, "/etc/passwd").unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
}

#[test]
fn the_thread_runs_due_schedules() {
    let f = Fixture::new("thread", "2024-05-01T12:00:30Z");
    f.store_baseline("base");
    f.create("a", "cron(* * ? * * *)");
    f.capture("churn", "2024-05-01T12:00:40Z", false);
    f.sched.start();
    f.set_now("2024-05-01T12:01:00Z");
    f.sched.wake_up();
    let mut done = None;
    for _ in 0..200 {
        if let Some(e) = f.sched.executions("a", None, 1).unwrap().pop() {
            if e.status != ExecutionStatus::InProgress {
                done = Some(e);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f.sched.stop();
    let e = done.expect("the thread ran the 12:01 execution");
    assert_eq!(e.status, ExecutionStatus::Completed, "{e:?}");
    assert_eq!(e.scheduled_ms, ms("2024-05-01T12:01:00Z"));
}

#[test]
fn report_folders_follow_sagemakers_layout() {
    assert_eq!(
        report_dir("churn", "hourly", ms("2024-05-01T13:00:00Z")),
        "reports/churn/hourly/2024/05/01/13"
    );
    assert_eq!(
        report_dir("churn", "fine", ms("2024-05-01T13:05:00Z")),
        "reports/churn/fine/2024/05/01/13/05"
    );
    assert_eq!(
        report_dir("churn", "now", ms("2024-05-01T13:05:07Z")),
        "reports/churn/now/2024/05/01/13/05-07"
    );
}
