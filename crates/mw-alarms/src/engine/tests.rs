use super::*;
use crate::config::MetricSpec;
use crate::PeriodValue;
use std::path::Path;

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("mw-alarms-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Values per metric name: `(period start s, value)`.
#[derive(Default)]
struct Points(Mutex<HashMap<String, Vec<(i64, f64)>>>);

impl Points {
    fn set(&self, metric: &str, pts: &[(i64, f64)]) {
        self.0.lock().insert(metric.to_owned(), pts.to_vec());
    }
}

impl DataSource for Points {
    fn datapoints(
        &self,
        alarm: &MetricAlarmConfig,
        _def: &AlarmDef,
        range: &EvaluationRange,
    ) -> std::result::Result<Vec<Datapoint>, String> {
        let name = alarm
            .metric
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        if name == "broken" {
            return Err("the store is unavailable".into());
        }
        let map = self.0.lock();
        Ok(map
            .get(&name)
            .into_iter()
            .flatten()
            .filter(|(t, _)| *t >= range.start && *t < range.end)
            .map(|(t, v)| (*t, Some(PeriodValue::new(*v, 1.0))))
            .collect())
    }
}

#[derive(Default)]
struct Sink {
    sent: Mutex<Vec<(String, Notice)>>,
}

impl ActionSink for Sink {
    fn check(&self, arn: &str) -> std::result::Result<(), String> {
        if arn.starts_with("arn:test:") {
            Ok(())
        } else {
            Err(format!("unknown target {arn}"))
        }
    }
    fn send(&self, arn: &str, notice: &Notice) -> std::result::Result<(), String> {
        if arn.ends_with(":fails") {
            return Err("delivery refused".into());
        }
        self.sent.lock().push((arn.to_owned(), notice.clone()));
        Ok(())
    }
}

fn alarm(name: &str, metric: &str, threshold: f64) -> MetricAlarmConfig {
    MetricAlarmConfig {
        name: name.to_owned(),
        actions_enabled: true,
        alarm_actions: vec!["arn:test:page".into()],
        ok_actions: vec!["arn:test:ok".into()],
        metric: Some(MetricSpec {
            namespace: "App".into(),
            name: metric.into(),
            dimensions: vec![("Host".into(), "a".into())],
        }),
        statistic: Some("Average".into()),
        period: Some(10),
        evaluation_periods: 1,
        threshold,
        comparison_operator: "GreaterThanThreshold".into(),
        ..MetricAlarmConfig::default()
    }
}

fn composite(name: &str, rule: &str) -> CompositeAlarmConfig {
    CompositeAlarmConfig {
        name: name.to_owned(),
        actions_enabled: true,
        alarm_actions: vec!["arn:test:composite".into()],
        rule: rule.to_owned(),
        ..CompositeAlarmConfig::default()
    }
}

struct Fixture {
    dir: TempDir,
    points: Arc<Points>,
    sink: Arc<Sink>,
    engine: Arc<Engine>,
}

fn open(dir: TempDir, points: Arc<Points>, sink: Arc<Sink>) -> Fixture {
    let engine = Engine::open(
        EngineOptions {
            dir: dir.path().to_path_buf(),
            delay_ms: 0,
            ..EngineOptions::default()
        },
        points.clone(),
        sink.clone(),
    )
    .expect("open engine");
    Fixture {
        dir,
        points,
        sink,
        engine,
    }
}

fn fixture(tag: &str) -> Fixture {
    open(
        TempDir::new(tag),
        Arc::new(Points::default()),
        Arc::new(Sink::default()),
    )
}

fn state(e: &Engine, name: &str) -> StateValue {
    let v = e.describe(&Filter {
        names: vec![name.into()],
        kinds: vec![AlarmKind::Metric, AlarmKind::Composite],
        ..Filter::default()
    });
    v.first().map(|a| a.state.value).expect("alarm exists")
}

/// 10-second periods; `T` is a period boundary.
const T: i64 = 1_800_000_000;

#[test]
fn new_alarm_starts_insufficient_then_breaches_and_fires_once() {
    let f = fixture("breach");
    f.engine
        .put_metric_alarm(alarm("lat", "Latency", 5.0), T * 1000)
        .expect("put");
    assert_eq!(state(&f.engine, "lat"), StateValue::InsufficientData);
    f.points.set("Latency", &[(T, 9.0)]);
    let r = f.engine.tick((T + 10) * 1000).expect("tick");
    assert_eq!(r.changed, 1);
    assert_eq!(state(&f.engine, "lat"), StateValue::Alarm);
    // Still breaching at the next boundary: no second action.
    f.points.set("Latency", &[(T, 9.0), (T + 10, 8.0)]);
    f.engine.tick((T + 20) * 1000).expect("tick");
    let sent = f.sink.sent.lock().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "arn:test:page");
    assert_eq!(sent[0].1.old_state, StateValue::InsufficientData);
    assert_eq!(sent[0].1.new_state, StateValue::Alarm);
    assert_eq!(sent[0].1.trigger["MetricName"], "Latency");
    assert_eq!(sent[0].1.trigger["Statistic"], "AVERAGE");
    // Recovery runs the OK action.
    f.points.set("Latency", &[(T + 20, 1.0)]);
    f.engine.tick((T + 30) * 1000).expect("tick");
    assert_eq!(state(&f.engine, "lat"), StateValue::Ok);
    let sent = f.sink.sent.lock().clone();
    assert_eq!(sent.last().map(|s| s.0.as_str()), Some("arn:test:ok"));
}

#[test]
fn only_due_alarms_are_evaluated() {
    let f = fixture("due");
    f.engine
        .put_metric_alarm(alarm("fast", "A", 5.0), T * 1000)
        .expect("put");
    let mut slow = alarm("slow", "B", 5.0);
    slow.period = Some(60);
    f.engine.put_metric_alarm(slow, T * 1000).expect("put");
    // Both new alarms are marked for an immediate evaluation.
    assert_eq!(f.engine.tick(T * 1000 + 1).expect("tick").evaluated, 2);
    // Nothing is due a moment later.
    assert_eq!(f.engine.tick(T * 1000 + 2).expect("tick").evaluated, 0);
    // At the next 10-second boundary only the 10-second alarm is due.
    assert_eq!(f.engine.tick((T + 10) * 1000).expect("tick").evaluated, 1);
    assert!(f.engine.next_due() <= (T + 20) * 1000);
}

#[test]
fn late_data_for_a_closed_period_triggers_evaluation() {
    let f = fixture("late");
    f.engine
        .put_metric_alarm(alarm("lat", "Latency", 5.0), T * 1000)
        .expect("put");
    f.engine.tick(T * 1000 + 1).expect("first evaluation");
    let now = (T + 12) * 1000;
    // Data inside the current (open) period does not trigger anything.
    f.engine
        .data_arrived("App", [("Latency", (T + 11) * 1000)], now);
    assert!(f.engine.dirty.lock().is_empty());
    // Other namespaces and names do not either.
    f.engine.data_arrived("Other", [("Latency", T * 1000)], now);
    f.engine.data_arrived("App", [("Errors", T * 1000)], now);
    assert!(f.engine.dirty.lock().is_empty());
    // A point of the closed period [T, T+10) does.
    f.points.set("Latency", &[(T, 50.0)]);
    f.engine
        .data_arrived("App", [("Latency", (T + 5) * 1000)], now);
    assert!(f.engine.dirty.lock().contains("lat"));
    let r = f.engine.tick(now).expect("tick");
    assert_eq!(r.evaluated, 1);
    assert_eq!(state(&f.engine, "lat"), StateValue::Alarm);
}

#[test]
fn set_alarm_state_runs_actions_and_evaluation_restores_the_state() {
    let f = fixture("set");
    f.engine
        .put_metric_alarm(alarm("lat", "Latency", 5.0), T * 1000)
        .expect("put");
    f.points.set("Latency", &[(T, 1.0)]);
    f.engine.tick((T + 10) * 1000).expect("tick");
    assert_eq!(state(&f.engine, "lat"), StateValue::Ok);
    let before = f.sink.sent.lock().len();
    f.engine
        .set_alarm_state(
            "lat",
            "ALARM",
            "testing",
            Some(r#"{"a":1}"#),
            (T + 11) * 1000,
        )
        .expect("set");
    assert_eq!(state(&f.engine, "lat"), StateValue::Alarm);
    assert_eq!(f.sink.sent.lock().len(), before + 1);
    let v = f.engine.describe(&Filter {
        names: vec!["lat".into()],
        ..Filter::default()
    });
    assert_eq!(v[0].state.reason, "testing");
    assert_eq!(v[0].state.reason_data.as_deref(), Some(r#"{"a":1}"#));
    // The next scheduled evaluation puts it back.
    f.points.set("Latency", &[(T + 10, 1.0)]);
    f.engine.tick((T + 20) * 1000).expect("tick");
    assert_eq!(state(&f.engine, "lat"), StateValue::Ok);

    let err = f
        .engine
        .set_alarm_state("nope", "ALARM", "x", None, T * 1000)
        .expect_err("unknown");
    assert_eq!(err.kind(), crate::ErrorKind::NotFound);
    let err = f
        .engine
        .set_alarm_state("lat", "ALARM", "x", Some("{bad"), T * 1000)
        .expect_err("bad json");
    assert_eq!(err.kind(), crate::ErrorKind::InvalidFormat);
    let err = f
        .engine
        .set_alarm_state("lat", "BROKEN", "x", None, T * 1000)
        .expect_err("bad state");
    assert_eq!(err.kind(), crate::ErrorKind::InvalidParameter);
}

#[test]
fn disabled_actions_change_state_without_actions() {
    let f = fixture("disabled");
    f.engine
        .put_metric_alarm(alarm("lat", "Latency", 5.0), T * 1000)
        .expect("put");
    f.engine
        .set_actions_enabled(&["lat".into()], false, T * 1000)
        .expect("disable");
    f.points.set("Latency", &[(T, 9.0)]);
    f.engine.tick((T + 10) * 1000).expect("tick");
    assert_eq!(state(&f.engine, "lat"), StateValue::Alarm);
    assert!(f.sink.sent.lock().is_empty());
    f.engine
        .set_actions_enabled(&["lat".into()], true, (T + 11) * 1000)
        .expect("enable");
    f.points.set("Latency", &[(T + 10, 1.0)]);
    f.engine.tick((T + 20) * 1000).expect("tick");
    assert_eq!(f.sink.sent.lock().len(), 1);
}

#[test]
fn composite_follows_children_and_rejects_bad_rules() {
    let f = fixture("composite");
    f.engine
        .put_metric_alarm(alarm("a", "A", 5.0), T * 1000)
        .expect("put a");
    f.engine
        .put_metric_alarm(alarm("b", "B", 5.0), T * 1000)
        .expect("put b");
    f.engine
        .put_composite_alarm(composite("both", "ALARM(a) AND ALARM(b)"), T * 1000)
        .expect("put composite");
    f.engine.tick(T * 1000 + 1).expect("tick");
    assert_eq!(state(&f.engine, "both"), StateValue::Ok);
    f.points.set("A", &[(T, 9.0)]);
    f.points.set("B", &[(T, 9.0)]);
    f.engine.tick((T + 10) * 1000).expect("tick");
    assert_eq!(state(&f.engine, "both"), StateValue::Alarm);
    let sent = f.sink.sent.lock().clone();
    assert!(sent
        .iter()
        .any(|(t, n)| t == "arn:test:composite" && n.alarm_name == "both"));
    // A child going back to OK takes the composite with it.
    f.engine
        .set_alarm_state("a", "OK", "manual", None, (T + 11) * 1000)
        .expect("set");
    assert_eq!(state(&f.engine, "both"), StateValue::Ok);

    let bad = [
        ("missing", "ALARM(nope)"),
        ("syntax", "ALARM(a) AND"),
        ("self", "ALARM(self)"),
    ];
    for (name, rule) in bad {
        let mut c = composite(name, rule);
        if name == "self" {
            c.name = "self".into();
        }
        assert_eq!(
            f.engine
                .put_composite_alarm(c, T * 1000)
                .map_err(|e| e.kind()),
            Err(crate::ErrorKind::InvalidParameter),
            "{rule}"
        );
    }
    // A cycle through two composites is refused and changes nothing.
    f.engine
        .put_composite_alarm(composite("outer", "ALARM(both)"), T * 1000)
        .expect("outer");
    let err = f
        .engine
        .put_composite_alarm(composite("both", "ALARM(outer)"), T * 1000)
        .expect_err("cycle");
    assert!(err.to_string().contains("cycle"), "{err}");
    let v = f.engine.describe(&Filter {
        names: vec!["both".into()],
        kinds: vec![AlarmKind::Composite],
        ..Filter::default()
    });
    match &v[0].body {
        ViewBody::Composite(c) => assert_eq!(c.rule, "ALARM(a) AND ALARM(b)"),
        ViewBody::Metric(_) => panic!("kind changed"),
    }
    // Deleting a child that a composite still uses is a conflict.
    let err = f
        .engine
        .delete_alarms(&["a".into()], T * 1000)
        .expect_err("conflict");
    assert_eq!(err.kind(), crate::ErrorKind::Conflict);
    assert_eq!(f.engine.len(), 4);
    // Deleting the whole chain at once works.
    f.engine
        .delete_alarms(&["outer".into(), "both".into(), "a".into()], T * 1000)
        .expect("delete");
    assert_eq!(f.engine.len(), 1);
}

#[test]
fn describe_filters() {
    let f = fixture("describe");
    for n in ["app-1", "app-2", "db-1"] {
        f.engine
            .put_metric_alarm(alarm(n, "M", 5.0), T * 1000)
            .expect("put");
    }
    f.engine
        .put_composite_alarm(
            composite("app-all", "ALARM(app-1) OR ALARM(app-2)"),
            T * 1000,
        )
        .expect("composite");
    let get = |flt: Filter| -> Vec<String> {
        f.engine
            .describe(&flt)
            .into_iter()
            .map(|a| a.name)
            .collect()
    };
    assert_eq!(get(Filter::default()), ["app-1", "app-2", "db-1"]);
    assert_eq!(
        get(Filter {
            prefix: Some("app".into()),
            kinds: vec![AlarmKind::Metric, AlarmKind::Composite],
            ..Filter::default()
        }),
        ["app-1", "app-2", "app-all"]
    );
    assert_eq!(
        get(Filter {
            children_of: Some("app-all".into()),
            ..Filter::default()
        }),
        ["app-1", "app-2"]
    );
    assert_eq!(
        get(Filter {
            parents_of: Some("app-2".into()),
            ..Filter::default()
        }),
        ["app-all"]
    );
    assert_eq!(
        get(Filter {
            action_prefix: Some("arn:test:pa".into()),
            ..Filter::default()
        }),
        ["app-1", "app-2", "db-1"]
    );
    assert!(get(Filter {
        state: Some(StateValue::Alarm),
        ..Filter::default()
    })
    .is_empty());
}

#[test]
fn bad_definitions_change_nothing() {
    let f = fixture("bad");
    f.engine
        .put_metric_alarm(alarm("lat", "Latency", 5.0), T * 1000)
        .expect("put");
    let cases: Vec<(MetricAlarmConfig, crate::ErrorKind)> = vec![
        (
            MetricAlarmConfig {
                comparison_operator: "Bigger".into(),
                ..alarm("lat", "Latency", 1.0)
            },
            crate::ErrorKind::InvalidParameter,
        ),
        (
            MetricAlarmConfig {
                period: Some(45),
                ..alarm("lat", "Latency", 1.0)
            },
            crate::ErrorKind::InvalidParameter,
        ),
        (
            MetricAlarmConfig {
                alarm_actions: vec!["arn:aws:sns:us-east-1:1:nope".into()],
                ..alarm("lat", "Latency", 1.0)
            },
            crate::ErrorKind::InvalidParameter,
        ),
        (
            MetricAlarmConfig {
                name: String::new(),
                ..alarm("lat", "Latency", 1.0)
            },
            crate::ErrorKind::InvalidParameter,
        ),
    ];
    for (cfg, kind) in cases {
        assert_eq!(
            f.engine
                .put_metric_alarm(cfg.clone(), T * 1000)
                .map_err(|e| e.kind()),
            Err(kind),
            "{cfg:?}"
        );
    }
    let v = f.engine.describe(&Filter::default());
    assert_eq!(v.len(), 1);
    match &v[0].body {
        ViewBody::Metric(c) => assert_eq!(c.threshold, 5.0),
        ViewBody::Composite(_) => panic!("kind changed"),
    }
    let history = f
        .engine
        .history(&HistoryQuery {
            limit: 100,
            ..HistoryQuery::default()
        })
        .expect("history");
    assert_eq!(history.len(), 1, "only the creation is recorded");
}

#[test]
fn evaluation_errors_keep_the_state_and_are_reported() {
    let f = fixture("errors");
    f.engine
        .put_metric_alarm(alarm("x", "broken", 5.0), T * 1000)
        .expect("put");
    let r = f.engine.tick(T * 1000 + 1).expect("tick");
    assert_eq!(r.errors, 1);
    let v = f.engine.describe(&Filter::default());
    assert_eq!(v[0].state.value, StateValue::InsufficientData);
    assert_eq!(
        v[0].evaluation_error.as_deref(),
        Some("the store is unavailable")
    );
}

#[test]
fn failed_actions_are_recorded_in_history() {
    let f = fixture("failed-action");
    let mut cfg = alarm("lat", "Latency", 5.0);
    cfg.alarm_actions = vec!["arn:test:fails".into()];
    f.engine.put_metric_alarm(cfg, T * 1000).expect("put");
    f.points.set("Latency", &[(T, 9.0)]);
    f.engine.tick((T + 10) * 1000).expect("tick");
    let items = f
        .engine
        .history(&HistoryQuery {
            item_type: Some(HistoryType::Action),
            limit: 10,
            ..HistoryQuery::default()
        })
        .expect("history");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].summary, "Failed to execute action arn:test:fails");
}

#[test]
fn everything_survives_a_restart() {
    let f = fixture("restart");
    f.engine
        .put_metric_alarm(alarm("a", "A", 5.0), T * 1000)
        .expect("put a");
    f.engine
        .put_metric_alarm(alarm("b", "B", 5.0), T * 1000)
        .expect("put b");
    f.engine
        .put_composite_alarm(composite("c", "ALARM(a) OR ALARM(b)"), T * 1000)
        .expect("put c");
    f.points.set("A", &[(T, 9.0)]);
    f.engine.tick((T + 10) * 1000).expect("tick");
    f.engine
        .set_actions_enabled(&["b".into()], false, (T + 10) * 1000)
        .expect("disable");
    let before: Vec<(String, AlarmState)> = f
        .engine
        .describe(&Filter {
            kinds: vec![AlarmKind::Metric, AlarmKind::Composite],
            ..Filter::default()
        })
        .into_iter()
        .map(|a| (a.name, a.state))
        .collect();
    let history = f
        .engine
        .history(&HistoryQuery {
            limit: 100,
            ..HistoryQuery::default()
        })
        .expect("history");
    let Fixture {
        dir,
        points,
        sink,
        engine,
    } = f;
    drop(engine);
    let g = open(dir, points, sink);
    let after: Vec<(String, AlarmState)> = g
        .engine
        .describe(&Filter {
            kinds: vec![AlarmKind::Metric, AlarmKind::Composite],
            ..Filter::default()
        })
        .into_iter()
        .map(|a| (a.name, a.state))
        .collect();
    assert_eq!(before, after);
    assert_eq!(after[0].1.value, StateValue::Alarm);
    assert_eq!(after[2].1.value, StateValue::Alarm);
    let v = g.engine.describe(&Filter {
        names: vec!["b".into()],
        ..Filter::default()
    });
    match &v[0].body {
        ViewBody::Metric(c) => assert!(!c.actions_enabled),
        ViewBody::Composite(_) => panic!("kind changed"),
    }
    let again = g
        .engine
        .history(&HistoryQuery {
            limit: 100,
            ..HistoryQuery::default()
        })
        .expect("history");
    assert_eq!(history, again);
    // The reloaded composite still follows its children.
    g.engine
        .set_alarm_state("a", "OK", "manual", None, (T + 12) * 1000)
        .expect("set");
    assert_eq!(state(&g.engine, "c"), StateValue::Ok);
}

#[test]
fn history_pages_and_filters() {
    let f = fixture("history");
    f.engine
        .put_metric_alarm(alarm("a", "A", 5.0), T * 1000)
        .expect("put");
    for (i, s) in ["ALARM", "OK", "ALARM", "OK"].iter().enumerate() {
        f.engine
            .set_alarm_state("a", s, "manual", None, (T + i as i64) * 1000)
            .expect("set");
    }
    let q = |after: Option<i64>, ascending: bool| HistoryQuery {
        alarm_name: Some("a".into()),
        item_type: Some(HistoryType::StateUpdate),
        ascending,
        after_id: after,
        limit: 3,
        ..HistoryQuery::default()
    };
    let page1 = f.engine.history(&q(None, false)).expect("page 1");
    assert_eq!(page1.len(), 3);
    assert_eq!(page1[0].summary, "Alarm updated from ALARM to OK");
    let page2 = f
        .engine
        .history(&q(page1.last().map(|h| h.id), false))
        .expect("page 2");
    assert_eq!(page2.len(), 1);
    assert_eq!(
        page2[0].summary,
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    );
    let asc = f.engine.history(&q(None, true)).expect("ascending");
    assert_eq!(
        asc[0].summary,
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    );
    let data: Value = serde_json::from_str(&page1[0].data).expect("history data is JSON");
    assert_eq!(data["oldState"]["stateValue"], "ALARM");
    assert_eq!(data["newState"]["stateValue"], "OK");
    let windowed = f
        .engine
        .history(&HistoryQuery {
            start_ms: Some((T + 2) * 1000),
            end_ms: Some((T + 3) * 1000),
            item_type: Some(HistoryType::StateUpdate),
            limit: 10,
            ..HistoryQuery::default()
        })
        .expect("window");
    assert_eq!(windowed.len(), 2);
}

#[test]
fn schedule_follows_cloudwatch_cadence() {
    // 10 s alarms every period, 1-minute-and-longer alarms every minute,
    // longer than a day hourly, each after the delay.
    assert_eq!(next_due(10, 1_000, 0), 10_000);
    assert_eq!(next_due(10, 10_000, 0), 20_000);
    assert_eq!(next_due(10, 10_500, 1000), 11_000);
    assert_eq!(next_due(300, 61_000, 0), 120_000);
    assert_eq!(next_due(172_800, 10, 0), 3_600_000);
    assert_eq!(next_due(30, 29_999, 500), 30_500);
}

#[test]
fn limit_on_alarm_count() {
    let dir = TempDir::new("limit");
    let engine = Engine::open(
        EngineOptions {
            dir: dir.path().to_path_buf(),
            max_alarms: 2,
            ..EngineOptions::default()
        },
        Arc::new(Points::default()),
        Arc::new(Sink::default()),
    )
    .expect("open");
    engine
        .put_metric_alarm(alarm("a", "A", 1.0), T * 1000)
        .expect("a");
    engine
        .put_metric_alarm(alarm("b", "A", 1.0), T * 1000)
        .expect("b");
    assert_eq!(
        engine
            .put_metric_alarm(alarm("c", "A", 1.0), T * 1000)
            .map_err(|e| e.kind()),
        Err(crate::ErrorKind::LimitExceeded)
    );
    // Updating an existing alarm is still fine.
    engine
        .put_metric_alarm(alarm("a", "A", 2.0), T * 1000)
        .expect("update a");
}

#[test]
fn actions_stored_before_a_crash_are_sent_at_the_next_start() {
    let dir = TempDir::new("outbox");
    let notice = Notice {
        alarm_name: "lat".into(),
        alarm_arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:lat".into(),
        description: Some("slow".into()),
        kind: AlarmKind::Metric,
        old_state: StateValue::Ok,
        new_state: StateValue::Alarm,
        reason: "Threshold Crossed".into(),
        timestamp_ms: T * 1000,
        trigger: json!({"MetricName": "Latency"}),
    };
    {
        // The state change and its action were stored, then the process died.
        let catalog = Catalog::open(&dir.path().join("alarms.db")).expect("catalog");
        catalog
            .apply(&Change {
                outbox: &[("arn:test:page".into(), notice.to_json())],
                ..Change::default()
            })
            .expect("outbox row");
    }
    let f = open(dir, Arc::new(Points::default()), Arc::new(Sink::default()));
    let sent = f.sink.sent.lock().clone();
    assert_eq!(sent, vec![("arn:test:page".to_owned(), notice)]);
    let items = f
        .engine
        .history(&HistoryQuery {
            item_type: Some(HistoryType::Action),
            limit: 10,
            ..HistoryQuery::default()
        })
        .expect("history");
    assert_eq!(items.len(), 1);
    assert!(f.engine.catalog.outbox(10).expect("outbox").is_empty());
    // Sent once: reopening sends nothing more.
    let Fixture {
        dir, points, sink, ..
    } = f;
    let g = open(dir, points, sink);
    assert_eq!(g.sink.sent.lock().len(), 1);
}

#[test]
fn a_composite_written_just_before_a_crash_is_evaluated_at_start() {
    let f = fixture("stale-composite");
    let mut a = alarm("a", "A", 5.0);
    a.treat_missing_data = Some("notBreaching".into());
    f.engine.put_metric_alarm(a, T * 1000).expect("put a");
    f.engine.tick(T * 1000 + 1).expect("tick");
    assert_eq!(state(&f.engine, "a"), StateValue::Ok);
    f.engine
        .put_composite_alarm(composite("c", "OK(a)"), T * 1000 + 2)
        .expect("put c");
    f.engine
        .put_composite_alarm(composite("forced", "OK(a)"), T * 1000 + 2)
        .expect("put forced");
    f.engine.tick(T * 1000 + 3).expect("tick");
    f.engine
        .set_alarm_state("forced", "OK", "by hand", None, T * 1000 + 4)
        .expect("force");
    // `c` is updated, and the process dies before the next tick.
    f.engine
        .put_composite_alarm(composite("c", "ALARM(a)"), T * 1000 + 5)
        .expect("update c");
    let Fixture {
        dir,
        points,
        sink,
        engine,
    } = f;
    drop(engine);
    let g = open(dir, points, sink);
    g.engine.tick(T * 1000 + 6).expect("tick after start");
    assert_eq!(
        state(&g.engine, "c"),
        StateValue::Ok,
        "the new rule was evaluated"
    );
    assert_eq!(
        state(&g.engine, "forced"),
        StateValue::Ok,
        "a forced state stays until a child changes"
    );
    let v = g.engine.describe(&Filter {
        names: vec!["forced".into()],
        kinds: vec![AlarmKind::Composite],
        ..Filter::default()
    });
    assert_eq!(v[0].state.reason, "by hand");
}

#[test]
fn configuration_history_has_one_layout() {
    let f = fixture("config-history");
    f.engine
        .put_metric_alarm(alarm("a", "A", 5.0), T * 1000)
        .expect("put");
    f.engine
        .set_actions_enabled(&["a".into()], false, T * 1000 + 1)
        .expect("disable");
    f.engine
        .delete_alarms(&["a".into()], T * 1000 + 2)
        .expect("delete");
    let items = f
        .engine
        .history(&HistoryQuery {
            item_type: Some(HistoryType::ConfigurationUpdate),
            ascending: true,
            limit: 10,
            ..HistoryQuery::default()
        })
        .expect("history");
    let kinds: Vec<(String, String)> = items
        .iter()
        .map(|h| {
            let v: Value = serde_json::from_str(&h.data).expect("json");
            let key = match v["type"].as_str() {
                Some("Create") => "createdAlarm",
                Some("Delete") => "deletedAlarm",
                _ => "updatedAlarm",
            };
            assert_eq!(v[key]["alarmName"], "a", "{}", h.data);
            assert_eq!(v[key]["metricName"], "A", "{}", h.data);
            assert_eq!(v[key]["dimensions"][0]["name"], "Host", "{}", h.data);
            (h.summary.clone(), v[key]["actionsEnabled"].to_string())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Alarm \"a\" created".to_owned(), "true".to_owned()),
            ("Alarm \"a\" updated".to_owned(), "false".to_owned()),
            ("Alarm \"a\" deleted".to_owned(), "false".to_owned()),
        ]
    );
    // An empty delete is a no-op; unknown names alone are NotFound.
    f.engine.delete_alarms(&[], T * 1000).expect("empty delete");
    assert_eq!(
        f.engine
            .delete_alarms(&["nope".into()], T * 1000)
            .map_err(|e| e.kind()),
        Err(crate::ErrorKind::NotFound)
    );
}

#[test]
fn an_alarm_made_after_an_idle_tick_is_still_scheduled() {
    let f = fixture("idle");
    // Nothing to do: the schedule has no boundary to wait for.
    assert_eq!(f.engine.tick(T * 1000).expect("tick").evaluated, 0);
    f.engine
        .put_metric_alarm(alarm("late", "A", 5.0), T * 1000 + 10)
        .expect("put");
    // Evaluated at once (it is new) ...
    assert_eq!(f.engine.tick(T * 1000 + 20).expect("tick").evaluated, 1);
    assert!(f.engine.next_due() <= (T + 10) * 1000);
    // ... and again when its period closes.
    f.points.set("A", &[(T, 9.0)]);
    assert_eq!(f.engine.tick((T + 10) * 1000).expect("tick").evaluated, 1);
    assert_eq!(state(&f.engine, "late"), StateValue::Alarm);
}

#[test]
fn late_data_evaluates_only_the_alarms_it_concerns() {
    let f = fixture("targeted");
    for i in 0..50 {
        f.engine
            .put_metric_alarm(alarm(&format!("a{i}"), &format!("M{i}"), 5.0), T * 1000)
            .expect("put");
    }
    assert_eq!(f.engine.tick(T * 1000 + 1).expect("tick").evaluated, 50);
    f.points.set("M7", &[(T, 9.0)]);
    f.engine
        .data_arrived("App", [("M7", T * 1000 + 500)], (T + 10) * 1000 - 100);
    // Between boundaries: only the one alarm on M7 is evaluated.
    let r = f.engine.tick((T + 10) * 1000 - 50).expect("tick");
    assert_eq!(
        (r.evaluated, r.changed),
        (0, 0),
        "its period has not closed yet"
    );
    f.engine
        .data_arrived("App", [("M7", T * 1000 + 500)], (T + 10) * 1000 + 100);
    let r = f.engine.tick((T + 10) * 1000 + 100).expect("tick");
    assert_eq!(r.evaluated, 50, "a boundary passed: every alarm is due");
    f.points.set("M8", &[(T + 10, 9.0)]);
    f.engine.data_arrived(
        "App",
        [("M8", (T + 10) * 1000 + 500)],
        (T + 20) * 1000 + 200,
    );
    let r = f.engine.tick((T + 20) * 1000 - 1).expect("tick");
    assert_eq!(
        (r.evaluated, r.changed),
        (1, 0),
        "only a8, its period still open at tick time"
    );
}
