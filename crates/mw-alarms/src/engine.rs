//! The alarm engine: the alarms of one server, their evaluation schedule,
//! state transitions, history and actions.
//!
//! [`Engine`] keeps every alarm in memory and in the [`Catalog`]
//! (`alarms.db`). Its data and its actions come through two injected traits,
//! so this crate stays free of the metric store and of delivery:
//!
//! - [`DataSource`] gives a metric alarm's per-period values for an
//!   [`EvaluationRange`] (the API layer answers it from the metric store,
//!   metric math included);
//! - [`ActionSink`] checks action targets when an alarm is defined and takes
//!   a [`Notice`] for each action on a transition. It must return quickly
//!   (queue, do not deliver): evaluation never waits on delivery.
//!
//! Schedule: an alarm with a period under a minute is evaluated when each
//! period closes; others every minute (hourly when the period is over a
//! day), as CloudWatch does; each evaluation runs `delay_ms` after the
//! boundary to let late data in. An alarm is also evaluated at once when it
//! is created or updated, and when data arrives for a period that has
//! already closed ([`Engine::data_arrived`]), so a breach reported a moment
//! after its period ends does not wait for the next boundary. Composite
//! alarms are evaluated when a child changes state or their rule changes.
//!
//! Every state change is written (state row plus `StateUpdate` history item,
//! one transaction) before its actions are handed to the sink, so a restart
//! never repeats or loses a transition.

pub mod catalog;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use serde_json::{json, Map, Value};

pub use catalog::{
    AlarmKind, AlarmState, Catalog, Change, HistoryItem, HistoryQuery, HistoryType, StoredAlarm,
};

use crate::config::{check_description, check_name, CompositeAlarmConfig, MetricAlarmConfig};
use crate::{
    evaluate, evaluate_composite, evaluate_state, evaluation_range, find_cycle, AlarmDef,
    AlarmRule, ChildState, Datapoint, Error, EvaluationRange, ManualState, Result, StateValue,
    INITIAL_REASON,
};

/// Where a metric alarm's values come from.
pub trait DataSource: Send + Sync {
    /// The alarm's statistic for every period of `range` that has data
    /// (periods left out count as missing). An error leaves the state as it
    /// is and is reported as the alarm's evaluation error.
    fn datapoints(
        &self,
        alarm: &MetricAlarmConfig,
        def: &AlarmDef,
        range: &EvaluationRange,
    ) -> std::result::Result<Vec<Datapoint>, String>;

    /// Many evaluations' values at once, in order. Sources that can share
    /// reads between alarms on the same metric override this.
    fn datapoints_many(
        &self,
        jobs: &[Fetch<'_>],
    ) -> Vec<std::result::Result<Vec<Datapoint>, String>> {
        jobs.iter()
            .map(|j| self.datapoints(j.alarm, j.def, &j.range))
            .collect()
    }
}

/// One alarm's data request within [`DataSource::datapoints_many`].
#[derive(Debug, Clone, Copy)]
pub struct Fetch<'a> {
    pub alarm: &'a MetricAlarmConfig,
    pub def: &'a AlarmDef,
    pub range: EvaluationRange,
}

/// Where actions go.
pub trait ActionSink: Send + Sync {
    /// Whether `arn` names a target this server can act on.
    fn check(&self, arn: &str) -> std::result::Result<(), String>;
    /// Queues one action. Must not block on delivery.
    fn send(&self, arn: &str, notice: &Notice) -> std::result::Result<(), String>;
}

/// One state transition, as handed to an action target.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub alarm_name: String,
    pub alarm_arn: String,
    pub description: Option<String>,
    pub kind: AlarmKind,
    pub old_state: StateValue,
    pub new_state: StateValue,
    pub reason: String,
    pub timestamp_ms: i64,
    /// The metric alarm's `Trigger` object as CloudWatch's SNS notification
    /// carries it, or `{"AlarmRule": ...}` for a composite alarm.
    pub trigger: Value,
}

impl Notice {
    fn to_json(&self) -> String {
        json!({
            "alarmName": self.alarm_name,
            "alarmArn": self.alarm_arn,
            "description": self.description,
            "kind": self.kind.as_str(),
            "oldState": self.old_state.as_str(),
            "newState": self.new_state.as_str(),
            "reason": self.reason,
            "timestamp": self.timestamp_ms,
            "trigger": self.trigger,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Option<Notice> {
        let v: Value = serde_json::from_str(text).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        Some(Notice {
            alarm_name: s("alarmName")?.to_owned(),
            alarm_arn: s("alarmArn")?.to_owned(),
            description: s("description").map(str::to_owned),
            kind: AlarmKind::parse(s("kind")?)?,
            old_state: StateValue::parse(s("oldState")?).ok()?,
            new_state: StateValue::parse(s("newState")?).ok()?,
            reason: s("reason")?.to_owned(),
            timestamp_ms: v.get("timestamp")?.as_i64()?,
            trigger: v.get("trigger").cloned().unwrap_or(Value::Null),
        })
    }
}

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Directory of `alarms.db`; created if missing.
    pub dir: PathBuf,
    pub region: String,
    pub account: String,
    /// Wait after a period boundary before evaluating, for late data.
    pub delay_ms: i64,
    /// Most alarms (metric and composite together).
    pub max_alarms: usize,
    /// History older than this is deleted by [`Engine::maintain`].
    pub history_retention_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            dir: PathBuf::from("."),
            region: "us-east-1".to_owned(),
            account: "123456789012".to_owned(),
            delay_ms: 1000,
            max_alarms: 100_000,
            history_retention_ms: 30 * 86_400_000,
        }
    }
}

/// A read-only view of one alarm.
#[derive(Debug, Clone)]
pub struct AlarmView {
    pub name: String,
    pub arn: String,
    pub body: ViewBody,
    pub state: AlarmState,
    pub config_updated_ms: i64,
    /// Why the last evaluation could not run, if it could not.
    pub evaluation_error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ViewBody {
    Metric(Arc<MetricAlarmConfig>),
    Composite(Arc<CompositeAlarmConfig>),
}

impl AlarmView {
    pub fn kind(&self) -> AlarmKind {
        match self.body {
            ViewBody::Metric(_) => AlarmKind::Metric,
            ViewBody::Composite(_) => AlarmKind::Composite,
        }
    }
}

/// A `DescribeAlarms` selection.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exactly these names (empty: any).
    pub names: Vec<String>,
    pub prefix: Option<String>,
    /// Kinds to return (empty: metric alarms only, as AWS).
    pub kinds: Vec<AlarmKind>,
    pub state: Option<StateValue>,
    /// Prefix of any action ARN.
    pub action_prefix: Option<String>,
    /// The alarms a composite's rule names.
    pub children_of: Option<String>,
    /// The composites whose rules name this alarm.
    pub parents_of: Option<String>,
}

/// What one [`Engine::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub evaluated: usize,
    pub changed: usize,
    pub errors: usize,
}

enum Body {
    Metric {
        cfg: Arc<MetricAlarmConfig>,
        def: Arc<AlarmDef>,
    },
    Composite {
        cfg: Arc<CompositeAlarmConfig>,
        rule: Arc<AlarmRule>,
    },
}

struct Entry {
    body: Body,
    state: AlarmState,
    config_updated_ms: i64,
    version: u64,
    next_due_ms: i64,
    eval_error: Option<String>,
}

impl Entry {
    fn kind(&self) -> AlarmKind {
        match self.body {
            Body::Metric { .. } => AlarmKind::Metric,
            Body::Composite { .. } => AlarmKind::Composite,
        }
    }

    fn actions(&self) -> [&[String]; 3] {
        match &self.body {
            Body::Metric { cfg, .. } => [
                &cfg.ok_actions,
                &cfg.alarm_actions,
                &cfg.insufficient_data_actions,
            ],
            Body::Composite { cfg, .. } => [
                &cfg.ok_actions,
                &cfg.alarm_actions,
                &cfg.insufficient_data_actions,
            ],
        }
    }

    fn actions_for(&self, state: StateValue) -> Vec<String> {
        let (enabled, [ok, alarm, insufficient]) = match &self.body {
            Body::Metric { cfg, .. } => (cfg.actions_enabled, self.actions()),
            Body::Composite { cfg, .. } => (cfg.actions_enabled, self.actions()),
        };
        if !enabled {
            return Vec::new();
        }
        match state {
            StateValue::Ok => ok.to_vec(),
            StateValue::Alarm => alarm.to_vec(),
            StateValue::InsufficientData => insufficient.to_vec(),
        }
    }

    fn description(&self) -> Option<String> {
        match &self.body {
            Body::Metric { cfg, .. } => cfg.description.clone(),
            Body::Composite { cfg, .. } => cfg.description.clone(),
        }
    }
}

#[derive(Default)]
struct Inner {
    alarms: BTreeMap<String, Entry>,
    /// Child name → composites whose rules name it.
    parents: HashMap<String, BTreeSet<String>>,
    next_version: u64,
}

/// `namespace → metric name → [(alarm, period seconds)]`.
type InputIndex = HashMap<String, HashMap<String, Vec<(String, i64)>>>;

/// Side effects of one change, applied after the in-memory update.
#[derive(Default)]
struct Effects {
    put: Vec<StoredAlarm>,
    states: Vec<(String, AlarmState)>,
    delete: Vec<String>,
    history: Vec<HistoryItem>,
    notices: Vec<(String, Notice)>,
    changed: Vec<String>,
}

/// The alarms of one server.
pub struct Engine {
    opts: EngineOptions,
    catalog: Catalog,
    source: Arc<dyn DataSource>,
    sink: Arc<dyn ActionSink>,
    inner: Mutex<Inner>,
    inputs: RwLock<InputIndex>,
    dirty: Mutex<HashSet<String>>,
    wake: Condvar,
    next_due: AtomicI64,
    /// Every alarm is due at the next tick.
    all_dirty: AtomicBool,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// One drain of the outbox at a time, so no action is handed over twice.
    drain: Mutex<()>,
}

/// When an alarm with `period` seconds is next evaluated after `now_ms`.
fn next_due(period: i64, now_ms: i64, delay_ms: i64) -> i64 {
    let every_s = if period < 60 {
        period.max(1)
    } else if period > 86_400 {
        3600
    } else {
        60
    };
    let every = every_s * 1000;
    let boundary = (now_ms - delay_ms).div_euclid(every) * every + every;
    boundary + delay_ms
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

fn history_item(
    name: &str,
    kind: AlarmKind,
    now: i64,
    item_type: HistoryType,
    summary: String,
    data: Value,
) -> HistoryItem {
    let mut text = data.to_string();
    if text.chars().count() > 4095 {
        // Keep the history valid JSON: drop the bulky part.
        text = json!({"version": "1.0", "truncated": true}).to_string();
    }
    HistoryItem {
        id: 0,
        alarm_name: name.to_owned(),
        kind,
        timestamp_ms: now,
        item_type,
        summary: truncate(&summary, 255),
        data: text,
    }
}

/// The `Trigger` object of CloudWatch's alarm notification.
fn trigger(cfg: &MetricAlarmConfig) -> Value {
    let mut t = Map::new();
    if let Some(m) = &cfg.metric {
        t.insert("MetricName".into(), json!(m.name));
        t.insert("Namespace".into(), json!(m.namespace));
        match (&cfg.statistic, &cfg.extended_statistic) {
            (Some(s), _) => {
                t.insert("StatisticType".into(), json!("Statistic"));
                t.insert(
                    "Statistic".into(),
                    json!(s
                        .to_ascii_uppercase()
                        .replace("SAMPLECOUNT", "SAMPLE_COUNT")),
                );
            }
            (None, Some(e)) => {
                t.insert("StatisticType".into(), json!("ExtendedStatistic"));
                t.insert("ExtendedStatistic".into(), json!(e));
            }
            (None, None) => {}
        }
        t.insert(
            "Unit".into(),
            cfg.unit.clone().map_or(Value::Null, Value::String),
        );
        t.insert(
            "Dimensions".into(),
            Value::Array(
                m.dimensions
                    .iter()
                    .map(|(n, v)| json!({"value": v, "name": n}))
                    .collect(),
            ),
        );
        t.insert("Period".into(), json!(cfg.period));
    } else if let Some(math) = &cfg.metrics {
        let queries: Value = serde_json::from_str(&math.queries).unwrap_or(Value::Null);
        t.insert("Metrics".into(), queries);
        t.insert("Period".into(), json!(math.period));
    }
    t.insert("EvaluationPeriods".into(), json!(cfg.evaluation_periods));
    if let Some(m) = cfg.datapoints_to_alarm {
        t.insert("DatapointsToAlarm".into(), json!(m));
    }
    t.insert("ComparisonOperator".into(), json!(cfg.comparison_operator));
    t.insert("Threshold".into(), json!(cfg.threshold));
    t.insert(
        "TreatMissingData".into(),
        json!(cfg.treat_missing_data.as_deref().unwrap_or("missing")),
    );
    t.insert(
        "EvaluateLowSampleCountPercentile".into(),
        json!(cfg
            .evaluate_low_sample_count_percentile
            .as_deref()
            .unwrap_or("")),
    );
    Value::Object(t)
}

fn state_json(s: &AlarmState) -> Value {
    let mut v = json!({"stateValue": s.value.as_str(), "stateReason": s.reason});
    if let Some(data) = &s.reason_data {
        if let Ok(parsed) = serde_json::from_str::<Value>(data) {
            v["stateReasonData"] = parsed;
        }
    }
    v
}

fn config_json<T: serde::Serialize>(cfg: &T) -> Result<String> {
    serde_json::to_string(cfg).map_err(|e| Error::Storage(format!("encoding an alarm: {e}")))
}

impl Engine {
    /// Opens `alarms.db` in `opts.dir` and loads every alarm. Call
    /// [`Engine::start`] to run the schedule, or drive [`Engine::tick`] by hand.
    pub fn open(
        opts: EngineOptions,
        source: Arc<dyn DataSource>,
        sink: Arc<dyn ActionSink>,
    ) -> Result<Arc<Engine>> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| Error::Storage(format!("creating {}: {e}", opts.dir.display())))?;
        let catalog = Catalog::open(&opts.dir.join("alarms.db"))?;
        let engine = Engine {
            catalog,
            source,
            sink,
            inner: Mutex::new(Inner::default()),
            inputs: RwLock::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
            wake: Condvar::new(),
            next_due: AtomicI64::new(i64::MAX),
            all_dirty: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            drain: Mutex::new(()),
            opts,
        };
        engine.load()?;
        // Actions of transitions stored just before a crash.
        engine.drain_outbox(mw_model::time::now_ms());
        Ok(Arc::new(engine))
    }

    fn load(&self) -> Result<()> {
        let rows = self.catalog.load()?;
        let now = mw_model::time::now_ms();
        let mut inner = self.inner.lock();
        let mut inputs = self.inputs.write();
        let mut stale: Vec<String> = Vec::new();
        for row in rows {
            let body = match body_of(&row) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(alarm = %row.name, error = %e, "stored alarm is unreadable or invalid; skipped");
                    continue;
                }
            };
            // A composite not evaluated since its rule was written (a crash
            // came first) is evaluated now. A later state, forced or
            // computed, stays until a child changes.
            if matches!(body, Body::Composite { .. })
                && row.state.updated_ms <= row.config_updated_ms
            {
                stale.push(row.name.clone());
            }
            inner.next_version += 1;
            let version = inner.next_version;
            let entry = Entry {
                body,
                state: row.state,
                config_updated_ms: row.config_updated_ms,
                version,
                next_due_ms: now,
                eval_error: None,
            };
            index_add(&mut inner, &mut inputs, &row.name, &entry);
            inner.alarms.insert(row.name, entry);
        }
        self.next_due.store(now, Ordering::Relaxed);
        drop(inputs);
        drop(inner);
        if !stale.is_empty() {
            self.mark_dirty(stale);
        }
        Ok(())
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// `arn:aws:cloudwatch:<region>:<account>:alarm:<name>`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{}",
            self.opts.region, self.opts.account, name
        )
    }

    /// Number of alarms.
    pub fn len(&self) -> usize {
        self.inner.lock().alarms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_targets(&self, lists: [&[String]; 3]) -> Result<()> {
        for (field, list) in ["OKActions", "AlarmActions", "InsufficientDataActions"]
            .into_iter()
            .zip(lists)
        {
            if list.len() > crate::MAX_ACTIONS {
                return Err(Error::InvalidParameter(format!(
                    "the parameter {field} has {} members; at most {} are allowed",
                    list.len(),
                    crate::MAX_ACTIONS
                )));
            }
            for arn in list {
                self.sink.check(arn).map_err(|e| {
                    Error::InvalidParameter(format!("invalid action {arn} in {field}: {e}"))
                })?;
            }
        }
        Ok(())
    }

    /// `PutMetricAlarm`: creates the alarm in INSUFFICIENT_DATA, or replaces
    /// the configuration of an existing one and keeps its state.
    pub fn put_metric_alarm(&self, cfg: MetricAlarmConfig, now: i64) -> Result<()> {
        check_name(&cfg.name)?;
        check_description(cfg.description.as_deref())?;
        let def = cfg.def()?;
        self.check_targets([
            &cfg.ok_actions,
            &cfg.alarm_actions,
            &cfg.insufficient_data_actions,
        ])?;
        let config = config_json(&cfg)?;
        let name = cfg.name.clone();
        let mut inner = self.inner.lock();
        let existing = inner.alarms.get(&name);
        if existing.is_some_and(|e| e.kind() == AlarmKind::Composite) {
            return Err(Error::InvalidParameter(format!(
                "the alarm {name} already exists as a composite alarm"
            )));
        }
        if existing.is_none() && inner.alarms.len() >= self.opts.max_alarms {
            return Err(Error::LimitExceeded(format!(
                "the maximum number of alarms ({}) has been reached",
                self.opts.max_alarms
            )));
        }
        let created = existing.is_none();
        let state = existing.map(|e| e.state.clone()).unwrap_or(AlarmState {
            value: StateValue::InsufficientData,
            reason: INITIAL_REASON.to_owned(),
            reason_data: None,
            updated_ms: now,
            transitioned_ms: now,
        });
        let body = Body::Metric {
            cfg: Arc::new(cfg),
            def: Arc::new(def),
        };
        let summary_json =
            self.config_history(if created { "Create" } else { "Update" }, &name, &body);
        let stored = StoredAlarm {
            name: name.clone(),
            kind: AlarmKind::Metric,
            config,
            config_updated_ms: now,
            state: state.clone(),
        };
        let fx = Effects {
            put: vec![stored],
            history: vec![history_item(
                &name,
                AlarmKind::Metric,
                now,
                HistoryType::ConfigurationUpdate,
                format!(
                    "Alarm \"{name}\" {}",
                    if created { "created" } else { "updated" }
                ),
                summary_json,
            )],
            ..Effects::default()
        };
        self.persist(&fx)?;
        inner.next_version += 1;
        let version = inner.next_version;
        let entry = Entry {
            body,
            state,
            config_updated_ms: now,
            version,
            next_due_ms: now,
            eval_error: None,
        };
        let mut inputs = self.inputs.write();
        if let Some(old) = inner.alarms.remove(&name) {
            index_remove(&mut inner, &mut inputs, &name, &old);
        }
        index_add(&mut inner, &mut inputs, &name, &entry);
        drop(inputs);
        inner.alarms.insert(name.clone(), entry);
        drop(inner);
        self.mark_dirty([name]);
        Ok(())
    }

    /// HistoryData of a configuration change: `{"version","type","createdAlarm"|
    /// "updatedAlarm"|"deletedAlarm": <the alarm as DescribeAlarms shows it,
    /// with camelCase keys>}`, one layout for every kind of change.
    fn config_history(&self, kind: &str, name: &str, body: &Body) -> Value {
        let key = match kind {
            "Create" => "createdAlarm",
            "Delete" => "deletedAlarm",
            _ => "updatedAlarm",
        };
        let mut v = json!({"version": "1.0", "type": kind});
        v[key] = self.alarm_json(name, body);
        v
    }

    fn alarm_json(&self, name: &str, body: &Body) -> Value {
        let mut m = Map::new();
        m.insert("alarmName".into(), json!(name));
        m.insert("alarmArn".into(), json!(self.arn(name)));
        let strings = |l: &[String]| json!(l);
        match body {
            Body::Metric { cfg, .. } => {
                if let Some(d) = &cfg.description {
                    m.insert("alarmDescription".into(), json!(d));
                }
                m.insert("actionsEnabled".into(), json!(cfg.actions_enabled));
                m.insert("okActions".into(), strings(&cfg.ok_actions));
                m.insert("alarmActions".into(), strings(&cfg.alarm_actions));
                m.insert(
                    "insufficientDataActions".into(),
                    strings(&cfg.insufficient_data_actions),
                );
                if let Some(metric) = &cfg.metric {
                    m.insert("metricName".into(), json!(metric.name));
                    m.insert("namespace".into(), json!(metric.namespace));
                    m.insert(
                        "dimensions".into(),
                        Value::Array(
                            metric
                                .dimensions
                                .iter()
                                .map(|(n, v)| json!({"name": n, "value": v}))
                                .collect(),
                        ),
                    );
                }
                if let Some(st) = &cfg.statistic {
                    m.insert("statistic".into(), json!(st));
                }
                if let Some(st) = &cfg.extended_statistic {
                    m.insert("extendedStatistic".into(), json!(st));
                }
                if let Some(p) = cfg.period {
                    m.insert("period".into(), json!(p));
                }
                if let Some(u) = &cfg.unit {
                    m.insert("unit".into(), json!(u));
                }
                m.insert("evaluationPeriods".into(), json!(cfg.evaluation_periods));
                if let Some(d) = cfg.datapoints_to_alarm {
                    m.insert("datapointsToAlarm".into(), json!(d));
                }
                m.insert("threshold".into(), json!(cfg.threshold));
                m.insert("comparisonOperator".into(), json!(cfg.comparison_operator));
                m.insert(
                    "treatMissingData".into(),
                    json!(cfg.treat_missing_data.as_deref().unwrap_or("missing")),
                );
                if let Some(e) = &cfg.evaluate_low_sample_count_percentile {
                    m.insert("evaluateLowSampleCountPercentile".into(), json!(e));
                }
                if let Some(math) = &cfg.metrics {
                    let q: Value = serde_json::from_str(&math.queries).unwrap_or(Value::Null);
                    m.insert("metrics".into(), q);
                }
            }
            Body::Composite { cfg, .. } => {
                if let Some(d) = &cfg.description {
                    m.insert("alarmDescription".into(), json!(d));
                }
                m.insert("actionsEnabled".into(), json!(cfg.actions_enabled));
                m.insert("okActions".into(), strings(&cfg.ok_actions));
                m.insert("alarmActions".into(), strings(&cfg.alarm_actions));
                m.insert(
                    "insufficientDataActions".into(),
                    strings(&cfg.insufficient_data_actions),
                );
                m.insert("alarmRule".into(), json!(cfg.rule));
            }
        }
        Value::Object(m)
    }

    /// `PutCompositeAlarm`: the rule must parse, name only existing alarms and
    /// not close a cycle.
    pub fn put_composite_alarm(&self, cfg: CompositeAlarmConfig, now: i64) -> Result<()> {
        check_name(&cfg.name)?;
        check_description(cfg.description.as_deref())?;
        let rule = cfg.parse_rule()?;
        self.check_targets([
            &cfg.ok_actions,
            &cfg.alarm_actions,
            &cfg.insufficient_data_actions,
        ])?;
        let name = cfg.name.clone();
        let mut inner = self.inner.lock();
        let existing = inner.alarms.get(&name);
        if existing.is_some_and(|e| e.kind() == AlarmKind::Metric) {
            return Err(Error::InvalidParameter(format!(
                "the alarm {name} already exists as a metric alarm"
            )));
        }
        if existing.is_none() && inner.alarms.len() >= self.opts.max_alarms {
            return Err(Error::LimitExceeded(format!(
                "the maximum number of alarms ({}) has been reached",
                self.opts.max_alarms
            )));
        }
        for child in rule.alarm_names() {
            if child == name {
                return Err(Error::InvalidParameter(format!(
                    "the alarm rule of {name} references the alarm itself"
                )));
            }
            if !inner.alarms.contains_key(child) {
                return Err(Error::UnknownChild(child.to_owned()));
            }
        }
        {
            let mut rules: Vec<(&str, &AlarmRule)> = inner
                .alarms
                .iter()
                .filter(|(n, _)| n.as_str() != name)
                .filter_map(|(n, e)| match &e.body {
                    Body::Composite { rule, .. } => Some((n.as_str(), rule.as_ref())),
                    Body::Metric { .. } => None,
                })
                .collect();
            rules.push((&name, &rule));
            if let Some(cycle) = find_cycle(rules) {
                return Err(Error::InvalidParameter(format!(
                    "the alarm rule of {name} would create a cycle: {}",
                    cycle.join(" -> ")
                )));
            }
        }
        let created = existing.is_none();
        let state = existing.map(|e| e.state.clone()).unwrap_or(AlarmState {
            value: StateValue::InsufficientData,
            reason: INITIAL_REASON.to_owned(),
            reason_data: None,
            updated_ms: now,
            transitioned_ms: now,
        });
        let config = config_json(&cfg)?;
        let body = Body::Composite {
            cfg: Arc::new(cfg),
            rule: Arc::new(rule),
        };
        let fx = Effects {
            put: vec![StoredAlarm {
                name: name.clone(),
                kind: AlarmKind::Composite,
                config,
                config_updated_ms: now,
                state: state.clone(),
            }],
            history: vec![history_item(
                &name,
                AlarmKind::Composite,
                now,
                HistoryType::ConfigurationUpdate,
                format!(
                    "Alarm \"{name}\" {}",
                    if created { "created" } else { "updated" }
                ),
                self.config_history(if created { "Create" } else { "Update" }, &name, &body),
            )],
            ..Effects::default()
        };
        self.persist(&fx)?;
        inner.next_version += 1;
        let version = inner.next_version;
        let entry = Entry {
            body,
            state,
            config_updated_ms: now,
            version,
            next_due_ms: i64::MAX,
            eval_error: None,
        };
        let mut inputs = self.inputs.write();
        if let Some(old) = inner.alarms.remove(&name) {
            index_remove(&mut inner, &mut inputs, &name, &old);
        }
        index_add(&mut inner, &mut inputs, &name, &entry);
        drop(inputs);
        inner.alarms.insert(name.clone(), entry);
        drop(inner);
        self.mark_dirty([name]);
        Ok(())
    }

    /// `DeleteAlarms`: deletes the named alarms that exist. Refused, with
    /// nothing deleted, when a composite alarm that stays references one of
    /// them; `NotFound` when none of the names exists.
    pub fn delete_alarms(&self, names: &[String], now: i64) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut inner = self.inner.lock();
        let doomed: BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| inner.alarms.contains_key(*n))
            .collect();
        if doomed.is_empty() {
            return Err(Error::NotFound(format!(
                "Alarm {} does not exist",
                names.join(", ")
            )));
        }
        for name in &doomed {
            if let Some(parent) = inner
                .parents
                .get(*name)
                .and_then(|ps| ps.iter().find(|p| !doomed.contains(p.as_str())))
            {
                return Err(Error::Conflict(format!(
                    "the alarm {name} is referenced by the composite alarm {parent}; change or delete {parent} first"
                )));
            }
        }
        let mut fx = Effects::default();
        for name in &doomed {
            let Some(e) = inner.alarms.get(*name) else {
                continue;
            };
            fx.delete.push((*name).to_owned());
            fx.history.push(history_item(
                name,
                e.kind(),
                now,
                HistoryType::ConfigurationUpdate,
                format!("Alarm \"{name}\" deleted"),
                self.config_history("Delete", name, &e.body),
            ));
        }
        self.persist(&fx)?;
        let mut inputs = self.inputs.write();
        for name in &fx.delete {
            if let Some(old) = inner.alarms.remove(name) {
                index_remove(&mut inner, &mut inputs, name, &old);
            }
        }
        Ok(())
    }

    /// `SetAlarmState`: forces a state. Actions run when the value changes;
    /// a metric alarm returns to its computed state at its next evaluation.
    pub fn set_alarm_state(
        &self,
        name: &str,
        value: &str,
        reason: &str,
        reason_data: Option<&str>,
        now: i64,
    ) -> Result<()> {
        if let Some(d) = reason_data {
            ManualState::parse_reason_data(d)?;
        }
        let mut inner = self.inner.lock();
        if !inner.alarms.contains_key(name) {
            return Err(Error::NotFound(format!("Alarm {name} does not exist")));
        }
        let manual = ManualState::parse(value, reason, reason_data)?;
        let mut fx = Effects::default();
        self.transition(
            &mut inner,
            name,
            manual.value,
            manual.reason,
            reason_data.map(str::to_owned),
            now,
            &mut fx,
        );
        self.propagate(&mut inner, now, &mut fx);
        self.persist(&fx)?;
        drop(inner);
        self.drain_outbox_if(!fx.notices.is_empty(), now);
        Ok(())
    }

    /// `EnableAlarmActions` / `DisableAlarmActions`; unknown names are skipped.
    pub fn set_actions_enabled(&self, names: &[String], enabled: bool, now: i64) -> Result<()> {
        let mut inner = self.inner.lock();
        let mut fx = Effects::default();
        let mut updated: Vec<(String, Body)> = Vec::new();
        for name in names {
            let Some(e) = inner.alarms.get(name) else {
                continue;
            };
            let (body, config) = match &e.body {
                Body::Metric { cfg, def } => {
                    let mut c = cfg.as_ref().clone();
                    c.actions_enabled = enabled;
                    let mut d = def.as_ref().clone();
                    d.actions_enabled = enabled;
                    let config = config_json(&c)?;
                    (
                        Body::Metric {
                            cfg: Arc::new(c),
                            def: Arc::new(d),
                        },
                        config,
                    )
                }
                Body::Composite { cfg, rule } => {
                    let mut c = cfg.as_ref().clone();
                    c.actions_enabled = enabled;
                    let config = config_json(&c)?;
                    (
                        Body::Composite {
                            cfg: Arc::new(c),
                            rule: rule.clone(),
                        },
                        config,
                    )
                }
            };
            fx.put.push(StoredAlarm {
                name: name.clone(),
                kind: e.kind(),
                config,
                config_updated_ms: now,
                state: e.state.clone(),
            });
            fx.history.push(history_item(
                name,
                e.kind(),
                now,
                HistoryType::ConfigurationUpdate,
                format!("Alarm \"{name}\" updated"),
                self.config_history("Update", name, &body),
            ));
            updated.push((name.clone(), body));
        }
        self.persist(&fx)?;
        for (name, body) in updated {
            inner.next_version += 1;
            let version = inner.next_version;
            if let Some(e) = inner.alarms.get_mut(&name) {
                e.body = body;
                e.config_updated_ms = now;
                e.version = version;
            }
        }
        Ok(())
    }

    /// The alarms `f` selects, sorted by name.
    pub fn describe(&self, f: &Filter) -> Vec<AlarmView> {
        let inner = self.inner.lock();
        let view = |name: &String, e: &Entry| AlarmView {
            name: name.clone(),
            arn: self.arn(name),
            body: match &e.body {
                Body::Metric { cfg, .. } => ViewBody::Metric(cfg.clone()),
                Body::Composite { cfg, .. } => ViewBody::Composite(cfg.clone()),
            },
            state: e.state.clone(),
            config_updated_ms: e.config_updated_ms,
            evaluation_error: e.eval_error.clone(),
        };
        if let Some(parent) = &f.children_of {
            let Some(Entry {
                body: Body::Composite { rule, .. },
                ..
            }) = inner.alarms.get(parent)
            else {
                return Vec::new();
            };
            let children: BTreeSet<&str> = rule.alarm_names().into_iter().collect();
            return children
                .into_iter()
                .filter_map(|c| inner.alarms.get_key_value(c))
                .map(|(n, e)| view(n, e))
                .collect();
        }
        if let Some(child) = &f.parents_of {
            return inner
                .parents
                .get(child)
                .into_iter()
                .flatten()
                .filter_map(|p| inner.alarms.get_key_value(p))
                .map(|(n, e)| view(n, e))
                .collect();
        }
        let kinds: &[AlarmKind] = if f.kinds.is_empty() {
            &[AlarmKind::Metric]
        } else {
            &f.kinds
        };
        let matches = |name: &String, e: &Entry| {
            kinds.contains(&e.kind())
                && (f.names.is_empty() || f.names.contains(name))
                && f.prefix
                    .as_ref()
                    .is_none_or(|p| name.starts_with(p.as_str()))
                && f.state.is_none_or(|s| e.state.value == s)
                && f.action_prefix.as_ref().is_none_or(|p| {
                    e.actions()
                        .iter()
                        .any(|l| l.iter().any(|a| a.starts_with(p.as_str())))
                })
        };
        if !f.names.is_empty() {
            let wanted: BTreeSet<&String> = f.names.iter().collect();
            return wanted
                .into_iter()
                .filter_map(|n| inner.alarms.get_key_value(n))
                .filter(|(n, e)| matches(n, e))
                .map(|(n, e)| view(n, e))
                .collect();
        }
        let range = match &f.prefix {
            Some(p) => inner.alarms.range::<String, _>(p.clone()..),
            None => inner.alarms.range::<String, _>(..),
        };
        range
            .take_while(|(n, _)| f.prefix.as_ref().is_none_or(|p| n.starts_with(p.as_str())))
            .filter(|(n, e)| matches(n, e))
            .map(|(n, e)| view(n, e))
            .collect()
    }

    /// One page of history.
    pub fn history(&self, q: &HistoryQuery) -> Result<Vec<HistoryItem>> {
        self.catalog.history(q)
    }

    /// Deletes expired history.
    pub fn maintain(&self, now: i64) -> Result<usize> {
        self.catalog
            .prune_history(now - self.opts.history_retention_ms)
    }

    /// Tells the engine that data for `namespace` arrived: `points` are
    /// `(metric name, timestamp ms)`. Alarms on those metrics whose data
    /// lands in an already closed period are evaluated at once.
    pub fn data_arrived<'a>(
        &self,
        namespace: &str,
        points: impl IntoIterator<Item = (&'a str, i64)>,
        now: i64,
    ) {
        let inputs = self.inputs.read();
        let Some(by_name) = inputs.get(namespace) else {
            return;
        };
        let mut late: Vec<String> = Vec::new();
        let mut last: Option<&str> = None;
        let mut min_ts = i64::MAX;
        let flush = |name: &str, ts: i64, late: &mut Vec<String>| {
            if let Some(alarms) = by_name.get(name) {
                for (alarm, period) in alarms {
                    let p = period.max(&1) * 1000;
                    if ts < now.div_euclid(p) * p {
                        late.push(alarm.clone());
                    }
                }
            }
        };
        for (name, ts) in points {
            match last {
                Some(l) if l == name => min_ts = min_ts.min(ts),
                _ => {
                    if let Some(l) = last {
                        flush(l, min_ts, &mut late);
                    }
                    last = Some(name);
                    min_ts = ts;
                }
            }
        }
        if let Some(l) = last {
            flush(l, min_ts, &mut late);
        }
        drop(inputs);
        if !late.is_empty() {
            self.mark_dirty(late);
        }
    }

    fn mark_dirty(&self, names: impl IntoIterator<Item = String>) {
        let mut d = self.dirty.lock();
        d.extend(names);
        self.wake.notify_one();
    }

    /// Marks every alarm for evaluation at the next tick (tools and
    /// benchmarks; the schedule does this by itself).
    pub fn mark_all_dirty(&self) {
        self.all_dirty.store(true, Ordering::Relaxed);
        let _d = self.dirty.lock();
        self.wake.notify_one();
    }

    /// When the next scheduled evaluation is due (epoch ms).
    pub fn next_due(&self) -> i64 {
        self.next_due.load(Ordering::Relaxed)
    }

    /// Evaluates every metric alarm that is due at `now` or marked by a
    /// change, and the composites marked; applies the transitions.
    pub fn tick(&self, now: i64) -> Result<TickReport> {
        let dirty: HashSet<String> = std::mem::take(&mut *self.dirty.lock());
        let all = self.all_dirty.swap(false, Ordering::Relaxed);
        struct Job {
            name: String,
            version: u64,
            cfg: Arc<MetricAlarmConfig>,
            def: Arc<AlarmDef>,
            current: StateValue,
        }
        let mut jobs: Vec<Job> = Vec::new();
        let mut composites: Vec<String> = Vec::new();
        {
            let mut inner = self.inner.lock();
            let mut take = |name: &String, e: &mut Entry, jobs: &mut Vec<Job>| match &e.body {
                Body::Metric { cfg, def } => {
                    e.next_due_ms = next_due(i64::from(def.period), now, self.opts.delay_ms);
                    jobs.push(Job {
                        name: name.clone(),
                        version: e.version,
                        cfg: cfg.clone(),
                        def: def.clone(),
                        current: e.state.value,
                    });
                }
                Body::Composite { .. } => composites.push(name.clone()),
            };
            if all || now >= self.next_due() {
                // A boundary passed: look at every alarm.
                let mut min_due = i64::MAX;
                for (name, e) in inner.alarms.iter_mut() {
                    let metric = matches!(e.body, Body::Metric { .. });
                    if all || dirty.contains(name) || (metric && e.next_due_ms <= now) {
                        take(name, e, &mut jobs);
                    }
                    if metric {
                        min_due = min_due.min(e.next_due_ms);
                    }
                }
                self.next_due.store(min_due, Ordering::Relaxed);
            } else {
                // Only alarms marked by a change or by late data.
                for name in &dirty {
                    if let Some(e) = inner.alarms.get_mut(name) {
                        take(name, e, &mut jobs);
                        if matches!(e.body, Body::Metric { .. }) {
                            self.next_due.fetch_min(e.next_due_ms, Ordering::Relaxed);
                        }
                    }
                }
            }
        }

        // Cheap state check first; the reason is only built for a change.
        let run = |chunk: &[Job]| -> Vec<std::result::Result<Option<crate::Evaluation>, String>> {
            let fetches: Vec<Fetch<'_>> = chunk
                .iter()
                .map(|j| Fetch {
                    alarm: &j.cfg,
                    def: &j.def,
                    range: evaluation_range(&j.def, now),
                })
                .collect();
            let data = self.source.datapoints_many(&fetches);
            chunk
                .iter()
                .zip(data)
                .map(|(job, points)| {
                    points.map(|points| {
                        let state = evaluate_state(&job.def, job.current, &points, now);
                        (state != job.current)
                            .then(|| evaluate(&job.def, job.current, &points, now))
                    })
                })
                .collect()
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let results: Vec<_> = if jobs.len() >= 512 && threads > 1 {
            // Chunks keep alarms on one metric together (names sort them so
            // only by chance; the source shares reads within a chunk).
            let chunk = jobs.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = jobs
                    .chunks(chunk)
                    .map(|c| (c.len(), s.spawn(move || run(c))))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|(len, h)| {
                        h.join().unwrap_or_else(|_| {
                            vec![Err("the evaluation thread failed".to_owned()); len]
                        })
                    })
                    .collect()
            })
        } else {
            run(&jobs)
        };

        let mut report = TickReport {
            evaluated: jobs.len() + composites.len(),
            ..TickReport::default()
        };
        let mut fx = Effects::default();
        let mut inner = self.inner.lock();
        for (job, result) in jobs.iter().zip(results) {
            let Some(e) = inner.alarms.get_mut(&job.name) else {
                continue;
            };
            if e.version != job.version || e.state.value != job.current {
                // Changed while we evaluated: the next round sees the new version.
                continue;
            }
            match result {
                Err(msg) => {
                    report.errors += 1;
                    e.eval_error = Some(msg);
                }
                Ok(None) => e.eval_error = None,
                Ok(Some(ev)) => {
                    e.eval_error = None;
                    if ev.new_state != e.state.value {
                        let data = ev.reason_data_json();
                        self.transition(
                            &mut inner,
                            &job.name,
                            ev.new_state,
                            ev.reason,
                            Some(data),
                            now,
                            &mut fx,
                        );
                    }
                }
            }
        }
        for name in composites {
            self.evaluate_composite_now(&mut inner, &name, now, &mut fx);
        }
        self.propagate(&mut inner, now, &mut fx);
        report.changed = fx.changed.len();
        if !fx.states.is_empty() || !fx.history.is_empty() {
            if let Err(e) = self.persist(&fx) {
                // Keep memory and disk in agreement: undo nothing, but say so;
                // the catalog error is also returned.
                tracing::error!(error = %e, "alarm states could not be stored");
                return Err(e);
            }
        }
        drop(inner);
        self.drain_outbox_if(!fx.notices.is_empty(), now);
        Ok(report)
    }

    /// Evaluates composite `name` and moves it when its state changes.
    fn evaluate_composite_now(&self, inner: &mut Inner, name: &str, now: i64, fx: &mut Effects) {
        let Some(Entry {
            body: Body::Composite { rule, .. },
            state,
            ..
        }) = inner.alarms.get(name)
        else {
            return;
        };
        let rule = rule.clone();
        let current = state.value;
        let lookup = |child: &str| {
            inner.alarms.get(child).map(|c| ChildState {
                value: c.state.value,
                arn: Some(self.arn(child)),
                updated_ms: Some(c.state.transitioned_ms),
            })
        };
        let ev = evaluate_composite(&rule, current, &lookup);
        if ev.new_state != current {
            let data = ev.reason_data_json();
            self.transition(inner, name, ev.new_state, ev.reason, Some(data), now, fx);
        }
    }

    /// Re-evaluates the parents of every alarm that changed, until nothing
    /// changes (each composite at most a bounded number of times).
    fn propagate(&self, inner: &mut Inner, now: i64, fx: &mut Effects) {
        let mut queue: VecDeque<String> = fx.changed.iter().cloned().collect();
        let mut visits: HashMap<String, usize> = HashMap::new();
        while let Some(child) = queue.pop_front() {
            let parents: Vec<String> = inner
                .parents
                .get(&child)
                .map(|p| p.iter().cloned().collect())
                .unwrap_or_default();
            for parent in parents {
                let n = visits.entry(parent.clone()).or_insert(0);
                *n += 1;
                if *n > 8 {
                    continue;
                }
                let before = fx.changed.len();
                self.evaluate_composite_now(inner, &parent, now, fx);
                if fx.changed.len() > before {
                    queue.push_back(parent);
                }
            }
        }
    }

    /// Moves `name` to `value` with the reason, recording the history item
    /// and the actions (when the value changes).
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        inner: &mut Inner,
        name: &str,
        value: StateValue,
        reason: String,
        reason_data: Option<String>,
        now: i64,
        fx: &mut Effects,
    ) {
        let arn = self.arn(name);
        let Some(e) = inner.alarms.get_mut(name) else {
            return;
        };
        let old = e.state.clone();
        let changed = old.value != value;
        e.state = AlarmState {
            value,
            reason,
            reason_data,
            updated_ms: now,
            transitioned_ms: if changed { now } else { old.transitioned_ms },
        };
        let kind = e.kind();
        fx.states.push((name.to_owned(), e.state.clone()));
        fx.history.push(history_item(
            name,
            kind,
            now,
            HistoryType::StateUpdate,
            format!("Alarm updated from {} to {}", old.value, value),
            json!({
                "version": "1.0",
                "oldState": state_json(&old),
                "newState": state_json(&e.state),
            }),
        ));
        if !changed {
            return;
        }
        fx.changed.push(name.to_owned());
        let targets = e.actions_for(value);
        if targets.is_empty() {
            return;
        }
        let trigger = match &e.body {
            Body::Metric { cfg, .. } => trigger(cfg),
            Body::Composite { cfg, .. } => json!({"AlarmRule": cfg.rule}),
        };
        let notice = Notice {
            alarm_name: name.to_owned(),
            alarm_arn: arn,
            description: e.description(),
            kind,
            old_state: old.value,
            new_state: value,
            reason: e.state.reason.clone(),
            timestamp_ms: now,
            trigger,
        };
        for t in targets {
            fx.notices.push((t, notice.clone()));
        }
    }

    /// Writes one change, with its actions in the outbox (same transaction).
    fn persist(&self, fx: &Effects) -> Result<()> {
        let outbox: Vec<(String, String)> = fx
            .notices
            .iter()
            .map(|(target, n)| (target.clone(), n.to_json()))
            .collect();
        self.catalog.apply(&Change {
            put: &fx.put,
            states: &fx.states,
            delete: &fx.delete,
            history: &fx.history,
            outbox: &outbox,
            outbox_done: &[],
        })
    }

    /// Hands the outbox's actions to the sink, each with an `Action` history
    /// item, and removes them from the outbox in the same transaction as the
    /// history. Actions stored before a crash go out at the next start.
    fn drain_outbox(&self, now: i64) {
        let _one = self.drain.lock();
        loop {
            let rows = match self.catalog.outbox(500) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "alarm actions could not be read");
                    return;
                }
            };
            if rows.is_empty() {
                return;
            }
            let mut done = Vec::with_capacity(rows.len());
            let mut history = Vec::with_capacity(rows.len());
            for (id, target, text) in rows {
                done.push(id);
                let Some(notice) = Notice::from_json(&text) else {
                    tracing::error!(id, %target, "unreadable alarm action dropped");
                    continue;
                };
                history.push(self.send_one(&target, &notice, now));
            }
            if let Err(e) = self.catalog.apply(&Change {
                history: &history,
                outbox_done: &done,
                ..Change::default()
            }) {
                tracing::error!(error = %e, "alarm action history could not be stored");
                return;
            }
        }
    }

    fn drain_outbox_if(&self, any: bool, now: i64) {
        if any {
            self.drain_outbox(now);
        }
    }

    fn send_one(&self, target: &str, notice: &Notice, now: i64) -> HistoryItem {
        let (summary, state, error) = match self.sink.send(target, notice) {
            Ok(()) => (
                format!("Successfully executed action {target}"),
                "Succeeded",
                None,
            ),
            Err(e) => {
                tracing::warn!(alarm = %notice.alarm_name, %target, error = %e, "alarm action failed");
                (
                    format!("Failed to execute action {target}"),
                    "Failed",
                    Some(e),
                )
            }
        };
        let mut data = json!({
            "actionState": state,
            "stateUpdateTimestamp": notice.timestamp_ms,
            "notificationResource": target,
        });
        if let Some(e) = error {
            data["error"] = json!(e);
        }
        history_item(
            &notice.alarm_name,
            notice.kind,
            now,
            HistoryType::Action,
            summary,
            data,
        )
    }

    /// Runs the schedule on a background thread until [`Engine::stop`].
    pub fn start(self: &Arc<Self>) {
        let engine = self.clone();
        let spawned = std::thread::Builder::new()
            .name("mw-alarms".into())
            .spawn(move || engine.run_loop());
        match spawned {
            Ok(h) => *self.thread.lock() = Some(h),
            Err(e) => tracing::error!(error = %e, "the alarm evaluation thread did not start"),
        }
    }

    fn run_loop(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            {
                let mut d = self.dirty.lock();
                let now = mw_model::time::now_ms();
                let due = self.next_due();
                if d.is_empty() && due > now && !self.all_dirty.load(Ordering::Relaxed) {
                    let wait = (due - now).clamp(1, 1000);
                    self.wake
                        .wait_for(&mut d, Duration::from_millis(wait as u64));
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let now = mw_model::time::now_ms();
            if self.next_due() > now
                && self.dirty.lock().is_empty()
                && !self.all_dirty.load(Ordering::Relaxed)
            {
                continue;
            }
            let started = Instant::now();
            match self.tick(now) {
                Ok(r) if r.changed > 0 || r.errors > 0 => tracing::debug!(
                    evaluated = r.evaluated,
                    changed = r.changed,
                    errors = r.errors,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "alarm tick"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "alarm evaluation failed");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Stops the background thread (pending work is kept on disk).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        {
            let _d = self.dirty.lock();
            self.wake.notify_all();
        }
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }
}

/// Rebuilds a stored alarm's configuration and what the evaluator needs.
fn body_of(row: &StoredAlarm) -> std::result::Result<Body, String> {
    Ok(match row.kind {
        AlarmKind::Metric => {
            let cfg: MetricAlarmConfig =
                serde_json::from_str(&row.config).map_err(|e| e.to_string())?;
            let def = cfg.def().map_err(|e| e.to_string())?;
            Body::Metric {
                cfg: Arc::new(cfg),
                def: Arc::new(def),
            }
        }
        AlarmKind::Composite => {
            let cfg: CompositeAlarmConfig =
                serde_json::from_str(&row.config).map_err(|e| e.to_string())?;
            let rule = cfg.parse_rule().map_err(|e| e.to_string())?;
            Body::Composite {
                cfg: Arc::new(cfg),
                rule: Arc::new(rule),
            }
        }
    })
}

fn index_add(inner: &mut Inner, inputs: &mut InputIndex, name: &str, e: &Entry) {
    match &e.body {
        Body::Metric { cfg, def } => {
            for (ns, metric) in cfg.inputs() {
                inputs
                    .entry(ns)
                    .or_default()
                    .entry(metric)
                    .or_default()
                    .push((name.to_owned(), i64::from(def.period)));
            }
        }
        Body::Composite { rule, .. } => {
            for child in rule.alarm_names() {
                inner
                    .parents
                    .entry(child.to_owned())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
    }
}

fn index_remove(inner: &mut Inner, inputs: &mut InputIndex, name: &str, e: &Entry) {
    match &e.body {
        Body::Metric { cfg, .. } => {
            for (ns, metric) in cfg.inputs() {
                if let Some(by_name) = inputs.get_mut(&ns) {
                    if let Some(list) = by_name.get_mut(&metric) {
                        list.retain(|(a, _)| a != name);
                        if list.is_empty() {
                            by_name.remove(&metric);
                        }
                    }
                    if by_name.is_empty() {
                        inputs.remove(&ns);
                    }
                }
            }
        }
        Body::Composite { rule, .. } => {
            for child in rule.alarm_names() {
                if let Some(ps) = inner.parents.get_mut(child) {
                    ps.remove(name);
                    if ps.is_empty() {
                        inner.parents.remove(child);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
