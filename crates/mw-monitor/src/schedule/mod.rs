//! Monitoring schedules inside the server: stored baselines, schedules,
//! executions and their reports, and the thread that runs them.
//!
//! [`Scheduler`] owns `<data-dir>/monitoring/`:
//!
//! ```text
//! monitoring.db                                   the catalog (catalog.rs)
//! baselines/<name>/{statistics,constraints,drift_baseline}.json
//! reports/<endpoint>/<schedule>/yyyy/mm/dd/HH/    one execution's files
//! ```
//!
//! A schedule names an endpoint, a stored baseline, a [`ScheduleExpression`]
//! and the analysis window as offsets from the scheduled time (SageMaker's
//! `DataAnalysisStartTime` / `DataAnalysisEndTime`; by default one schedule
//! period ending at the scheduled time). At each run the scheduler reads the
//! window's captured records through the injected [`CaptureSource`], runs
//! [`crate::run_job`], writes statistics.json, constraints.json,
//! constraint_violations.json and drift_report.json, and hands the
//! data-quality metrics to the injected [`MetricSink`] stamped with the
//! window start (SageMaker's `metric_time`). It does no HTTP and keeps no
//! metric store: the server wires both traits.
//!
//! Executions are `InProgress` while they run and end `Completed`,
//! `CompletedWithViolations` or `Failed` with a reason. An execution found
//! `Pending` or `InProgress` when the scheduler opens was cut short by a
//! restart: it becomes `Failed` ("interrupted by a restart") and is not
//! re-run. Runs missed while the server was down are not caught up one by
//! one: the latest missed time runs once, then the schedule continues.
//!
//! [`Scheduler::tick`] takes `now`, and the clock is injected
//! ([`SchedulerOptions::clock`]), so tests drive schedules without waiting.

pub mod catalog;
pub mod expr;
#[cfg(test)]
mod tests;

pub use expr::{Offset, ScheduleExpression};

use crate::capture::{self, civil_from_days, CaptureOptions};
use crate::drift;
use crate::error::{Error, Result};
use crate::job::{
    execution_dir, metrics, run_job, Baseline, JobOptions, Metric, CONSTRAINTS_FILE,
    METRICS_NAMESPACE, STATISTICS_FILE, VIOLATIONS_FILE,
};
use catalog::{Catalog, Outcome};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The catalog's file name inside the monitoring folder.
pub const CATALOG_FILE: &str = "monitoring.db";
pub const BASELINES_DIR: &str = "baselines";
pub const REPORTS_DIR: &str = "reports";
/// The failure reason of an execution cut short by a restart.
pub const INTERRUPTED: &str = "interrupted by a restart";
/// The files of a stored baseline.
pub const BASELINE_FILES: [&str; 3] = [STATISTICS_FILE, CONSTRAINTS_FILE, drift::BASELINE_FILE];
/// The files of an execution's report folder.
pub const REPORT_FILES: [&str; 4] = [
    STATISTICS_FILE,
    CONSTRAINTS_FILE,
    VIOLATIONS_FILE,
    drift::REPORT_FILE,
];
/// SageMaker's bound on FailureReason.
const MAX_FAILURE_REASON: usize = 1024;
/// Window offsets reach back at most this far.
const MAX_LOOKBACK_SECS: i64 = 31 * 86_400;
const MAX_COLUMNS: usize = 10_000;

/// Epoch milliseconds now; the scheduler's only clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where the scheduler keeps its files, and its bounds.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// `<data-dir>/monitoring`.
    pub dir: PathBuf,
    pub max_schedules: usize,
    pub max_baselines: usize,
    /// Older executions (and their reports) are deleted beyond this.
    pub max_executions_per_schedule: usize,
    /// Most bytes of captured records one window may hold.
    pub max_window_bytes: usize,
    /// Most manual runs at once.
    pub max_manual_runs: usize,
    pub clock: Clock,
}

impl SchedulerOptions {
    pub fn new(dir: impl Into<PathBuf>) -> SchedulerOptions {
        SchedulerOptions {
            dir: dir.into(),
            max_schedules: 1000,
            max_baselines: 1000,
            max_executions_per_schedule: 1000,
            max_window_bytes: 256 * 1024 * 1024,
            max_manual_runs: 2,
            clock: Arc::new(system_clock),
        }
    }
}

/// Where the captured records of a window come from (the server's capture store).
pub trait CaptureSource: Send + Sync {
    /// The capture records (JSON Lines) of `endpoint`, every variant, stored
    /// for times in `[start_ms, end_ms)`. Records outside the window may be
    /// included (the job filters by `inferenceTime`). More than `max_bytes`
    /// is an error, as is a failure to read; the message becomes the
    /// execution's failure reason.
    fn read_window(
        &self,
        endpoint: &str,
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> std::result::Result<String, String>;
}

/// The metrics of one execution.
#[derive(Debug, Clone, Copy)]
pub struct MetricBatch<'a> {
    /// [`METRICS_NAMESPACE`].
    pub namespace: &'a str,
    /// Values of the `Endpoint` and `MonitoringSchedule` dimensions.
    pub endpoint: &'a str,
    pub schedule: &'a str,
    /// The start of the analysis window (SageMaker's `metric_time`).
    pub timestamp_ms: i64,
    pub metrics: &'a [Metric],
}

/// Where execution metrics go (the server's metric store).
pub trait MetricSink: Send + Sync {
    fn emit(&self, batch: &MetricBatch<'_>) -> std::result::Result<(), String>;
}

/// SageMaker's `ScheduleStatus` (the two a stored schedule can have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleStatus {
    Scheduled,
    Stopped,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Scheduled => "Scheduled",
            ScheduleStatus::Stopped => "Stopped",
        }
    }

    pub fn parse(s: &str) -> Option<ScheduleStatus> {
        match s {
            "Scheduled" => Some(ScheduleStatus::Scheduled),
            "Stopped" => Some(ScheduleStatus::Stopped),
            _ => None,
        }
    }
}

/// SageMaker's `ExecutionStatus` (those an execution here can have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Pending,
    InProgress,
    Completed,
    CompletedWithViolations,
    Failed,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 5] = [
        ExecutionStatus::Pending,
        ExecutionStatus::InProgress,
        ExecutionStatus::Completed,
        ExecutionStatus::CompletedWithViolations,
        ExecutionStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Pending => "Pending",
            ExecutionStatus::InProgress => "InProgress",
            ExecutionStatus::Completed => "Completed",
            ExecutionStatus::CompletedWithViolations => "CompletedWithViolations",
            ExecutionStatus::Failed => "Failed",
        }
    }

    pub fn parse(s: &str) -> Option<ExecutionStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What started an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "Schedule",
            Trigger::Manual => "Manual",
        }
    }
}

/// What creating a schedule takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    pub name: String,
    pub endpoint: String,
    /// The name of a stored baseline.
    pub baseline: String,
    pub expression: String,
    /// ISO-8601 offsets from the scheduled time; both or neither.
    pub window_start_offset: Option<String>,
    pub window_end_offset: Option<String>,
    /// Names of the rebuilt capture columns (output columns first); else the
    /// baseline's feature names by position.
    pub columns: Option<Vec<String>>,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    pub endpoint: String,
    pub baseline: String,
    pub expression: String,
    pub window_start_offset: Option<String>,
    pub window_end_offset: Option<String>,
    pub columns: Option<Vec<String>>,
    pub status: ScheduleStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The scheduled time of the last run the schedule started.
    pub last_scheduled_ms: Option<i64>,
}

/// A schedule with what describing it adds.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleView {
    pub schedule: Schedule,
    /// When it runs next (absent when stopped).
    pub next_run_ms: Option<i64>,
    pub last_execution: Option<Execution>,
}

/// A stored baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineInfo {
    pub name: String,
    pub created_ms: i64,
    /// How it was made: `csv`, `jsonl` (computed here) or `files` (uploaded).
    pub source: String,
    pub item_count: u64,
    pub feature_count: u64,
}

/// One monitoring execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: i64,
    pub schedule: String,
    pub endpoint: String,
    pub trigger: Trigger,
    pub scheduled_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub status: ExecutionStatus,
    pub failure_reason: Option<String>,
    /// The container's exit message, for completed executions.
    pub message: Option<String>,
    pub violations: Option<u64>,
    /// The report folder relative to the monitoring folder, `/`-separated.
    pub report_dir: Option<String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
}

/// What one [`Scheduler::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Executions run.
    pub ran: usize,
    /// Of those, how many failed.
    pub failed: usize,
}

struct Entry {
    schedule: Schedule,
    expr: ScheduleExpression,
    /// Epoch ms of the next run; `None` when stopped or never again.
    next_due_ms: Option<i64>,
}

/// Baselines, schedules and executions, and the thread that runs them.
pub struct Scheduler {
    opts: SchedulerOptions,
    catalog: Catalog,
    source: Arc<dyn CaptureSource>,
    sink: Arc<dyn MetricSink>,
    state: Mutex<HashMap<String, Entry>>,
    /// Serialises baseline changes (files and catalog rows together).
    baselines: Mutex<()>,
    woken: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    manual_runs: AtomicUsize,
}

/// Names of schedules, endpoints and baselines: SageMaker's rule.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidOption(format!(
            "{what} {name:?} is not valid: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"
        )))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of epoch milliseconds.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        err: e,
    }
}

/// Makes the files of `dir` and the folder itself durable.
fn sync_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let p = entry.map_err(|e| io(dir, e))?.path();
        if p.is_file() {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(&p, e))?;
        }
    }
    sync_parent(dir)
}

fn sync_parent(p: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(parent) = p.parent() {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(parent, e))?;
    }
    let _ = p;
    Ok(())
}

fn remove_dir(p: &Path) {
    match std::fs::remove_dir_all(p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %p.display(), error = %e, "a report folder could not be removed")
        }
    }
}

/// Both offsets or neither; start < end ≤ 0, at most 31 days back.
fn check_offsets(start: Option<&str>, end: Option<&str>) -> Result<Option<(Offset, Offset)>> {
    let (s, e) = match (start, end) {
        (None, None) => return Ok(None),
        (Some(s), Some(e)) => (Offset::parse(s)?, Offset::parse(e)?),
        _ => {
            return Err(Error::InvalidOption(
                "give both window offsets (start and end) or neither".into(),
            ))
        }
    };
    if e.0 > 0 {
        return Err(Error::InvalidOption(format!(
            "the window end offset {:?} is after the scheduled time; use a negative offset or PT0H",
            end.unwrap_or_default()
        )));
    }
    if s.0 >= e.0 {
        return Err(Error::InvalidOption(format!(
            "the window start offset {:?} must be before the end offset {:?}",
            start.unwrap_or_default(),
            end.unwrap_or_default()
        )));
    }
    if s.0 < -MAX_LOOKBACK_SECS {
        return Err(Error::InvalidOption(format!(
            "the window start offset {:?} reaches back more than 31 days",
            start.unwrap_or_default()
        )));
    }
    Ok(Some((s, e)))
}

/// The report folder of an execution, relative to the monitoring folder:
/// `reports/<endpoint>/<schedule>/yyyy/mm/dd/HH`, plus `/MM` (or `/MM-SS`)
/// when the scheduled time is not on the hour.
pub fn report_dir(endpoint: &str, schedule: &str, scheduled_ms: i64) -> String {
    let secs = scheduled_ms.div_euclid(1000);
    let p = execution_dir(Path::new(REPORTS_DIR), endpoint, schedule, secs);
    let mut s = p
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let (min, sec) = (secs.rem_euclid(3600) / 60, secs.rem_euclid(60));
    if sec != 0 {
        s.push_str(&format!("/{min:02}-{sec:02}"));
    } else if min != 0 {
        s.push_str(&format!("/{min:02}"));
    }
    s
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max - 3;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

struct Done {
    status: ExecutionStatus,
    message: String,
    violations: u64,
    report_dir: String,
}

impl Scheduler {
    /// Opens (or creates) the monitoring folder; executions a previous run
    /// left unfinished become Failed.
    pub fn open(
        opts: SchedulerOptions,
        source: Arc<dyn CaptureSource>,
        sink: Arc<dyn MetricSink>,
    ) -> Result<Scheduler> {
        for sub in [BASELINES_DIR, REPORTS_DIR] {
            let d = opts.dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
        }
        let catalog = Catalog::open(&opts.dir.join(CATALOG_FILE))?;
        let now = (opts.clock)();
        let interrupted = catalog.fail_interrupted(now, INTERRUPTED)?;
        if interrupted > 0 {
            tracing::warn!(
                executions = interrupted,
                "monitoring executions interrupted by a restart were marked Failed"
            );
        }
        let mut state = HashMap::new();
        for s in catalog.schedules()? {
            let expr = match ScheduleExpression::parse(&s.expression) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(schedule = %s.name, error = %e, "a stored schedule cannot be parsed; it does not run");
                    continue;
                }
            };
            let next_due_ms = match s.status {
                ScheduleStatus::Scheduled => {
                    let from = s.last_scheduled_ms.unwrap_or(i64::MIN).max(s.updated_ms);
                    expr.next_after(from.div_euclid(1000)).map(|t| t * 1000)
                }
                ScheduleStatus::Stopped => None,
            };
            state.insert(
                s.name.clone(),
                Entry {
                    schedule: s,
                    expr,
                    next_due_ms,
                },
            );
        }
        // Half-written baseline uploads of a previous run.
        if let Ok(rd) = std::fs::read_dir(opts.dir.join(BASELINES_DIR)) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    remove_dir(&e.path());
                }
            }
        }
        Ok(Scheduler {
            opts,
            catalog,
            source,
            sink,
            state: Mutex::new(state),
            baselines: Mutex::new(()),
            woken: Mutex::new(false),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            manual_runs: AtomicUsize::new(0),
        })
    }

    pub fn options(&self) -> &SchedulerOptions {
        &self.opts
    }

    fn now(&self) -> i64 {
        (self.opts.clock)()
    }

    fn wake_up(&self) {
        let mut w = self.woken.lock();
        *w = true;
        self.wake.notify_all();
    }

    // ---- baselines ----------------------------------------------------------------

    fn baseline_dir(&self, name: &str) -> PathBuf {
        self.opts.dir.join(BASELINES_DIR).join(name)
    }

    /// Stores a baseline under `name`; `source` says how it was made.
    /// Baselines cannot be replaced (schedules rely on them): a taken name
    /// is a conflict.
    pub fn put_baseline(&self, name: &str, b: &Baseline, source: &str) -> Result<BaselineInfo> {
        validate_name("baseline name", name)?;
        b.validate()?;
        let _g = self.baselines.lock();
        let existing = self.catalog.baselines()?;
        if existing.iter().any(|x| x.name == name) {
            return Err(Error::Conflict(format!(
                "baseline {name:?} already exists; baselines are not replaced, upload under a new name"
            )));
        }
        if existing.len() >= self.opts.max_baselines {
            return Err(Error::LimitExceeded(format!(
                "at most {} baselines can be stored; delete one first",
                self.opts.max_baselines
            )));
        }
        let root = self.opts.dir.join(BASELINES_DIR);
        let tmp = root.join(format!(".tmp-{name}"));
        let dir = self.baseline_dir(name);
        remove_dir(&tmp);
        let written = b
            .write(&tmp)
            .and_then(|()| sync_dir(&tmp))
            .and_then(|()| {
                remove_dir(&dir);
                std::fs::rename(&tmp, &dir).map_err(|e| io(&dir, e))
            })
            .and_then(|()| sync_parent(&dir));
        if let Err(e) = written {
            remove_dir(&tmp);
            return Err(e);
        }
        let info = BaselineInfo {
            name: name.to_string(),
            created_ms: self.now(),
            source: source.to_string(),
            item_count: b.statistics.dataset.item_count,
            feature_count: b.statistics.features.len() as u64,
        };
        if let Err(e) = self.catalog.insert_baseline(&info) {
            remove_dir(&dir);
            return Err(e);
        }
        Ok(info)
    }

    pub fn baselines(&self) -> Result<Vec<BaselineInfo>> {
        self.catalog.baselines()
    }

    pub fn baseline(&self, name: &str) -> Result<BaselineInfo> {
        validate_name("baseline name", name)?;
        self.catalog
            .baselines()?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::Missing(format!("baseline {name:?} does not exist")))
    }

    /// The bytes of one baseline file ([`BASELINE_FILES`]).
    pub fn baseline_file(&self, name: &str, file: &str) -> Result<Vec<u8>> {
        if !BASELINE_FILES.contains(&file) {
            return Err(Error::InvalidOption(format!(
                "{file:?} is not a baseline file: use one of {}",
                BASELINE_FILES.join(", ")
            )));
        }
        self.baseline(name)?;
        let p = self.baseline_dir(name).join(file);
        std::fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Missing(format!("baseline {name:?} has no {file}"))
            }
            _ => io(&p, e),
        })
    }

    /// Deletes a baseline no schedule uses.
    pub fn delete_baseline(&self, name: &str) -> Result<()> {
        validate_name("baseline name", name)?;
        let _g = self.baselines.lock();
        let users: Vec<String> = self
            .state
            .lock()
            .values()
            .filter(|e| e.schedule.baseline == name)
            .map(|e| e.schedule.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "baseline {name:?} is used by the monitoring schedules {}; delete them first",
                users.join(", ")
            )));
        }
        if !self.catalog.delete_baseline(name)? {
            return Err(Error::Missing(format!("baseline {name:?} does not exist")));
        }
        remove_dir(&self.baseline_dir(name));
        Ok(())
    }

    // ---- schedules ----------------------------------------------------------------

    /// Creates a schedule; it first runs at the next time its expression names.
    pub fn create_schedule(&self, cfg: ScheduleConfig) -> Result<Schedule> {
        validate_name("monitoring schedule name", &cfg.name)?;
        validate_name("endpoint name", &cfg.endpoint)?;
        validate_name("baseline name", &cfg.baseline)?;
        let expr = ScheduleExpression::parse(&cfg.expression)?;
        check_offsets(
            cfg.window_start_offset.as_deref(),
            cfg.window_end_offset.as_deref(),
        )?;
        if let Some(cols) = &cfg.columns {
            if cols.is_empty() || cols.len() > MAX_COLUMNS {
                return Err(Error::InvalidOption(format!(
                    "columns must name 1 to {MAX_COLUMNS} columns, got {}",
                    cols.len()
                )));
            }
            let mut seen = std::collections::HashSet::new();
            for c in cols {
                if c.is_empty() || c.len() > 256 {
                    return Err(Error::InvalidOption(format!(
                        "column name {c:?} must hold 1 to 256 characters"
                    )));
                }
                if !seen.insert(c) {
                    return Err(Error::InvalidOption(format!(
                        "column name {c:?} appears twice"
                    )));
                }
            }
        }
        let now = self.now();
        let Some(first) = expr.next_after(now.div_euclid(1000)) else {
            return Err(Error::InvalidOption(format!(
                "schedule expression {:?} never runs after now",
                cfg.expression
            )));
        };
        let _g = self.baselines.lock();
        self.baseline(&cfg.baseline).map_err(|e| match e {
            Error::Missing(_) => Error::Missing(format!(
                "baseline {:?} does not exist; upload it first",
                cfg.baseline
            )),
            e => e,
        })?;
        let mut state = self.state.lock();
        if state.contains_key(&cfg.name) {
            return Err(Error::Conflict(format!(
                "monitoring schedule {:?} already exists",
                cfg.name
            )));
        }
        if state.len() >= self.opts.max_schedules {
            return Err(Error::LimitExceeded(format!(
                "at most {} monitoring schedules can exist; delete one first",
                self.opts.max_schedules
            )));
        }
        let schedule = Schedule {
            name: cfg.name,
            endpoint: cfg.endpoint,
            baseline: cfg.baseline,
            expression: cfg.expression,
            window_start_offset: cfg.window_start_offset,
            window_end_offset: cfg.window_end_offset,
            columns: cfg.columns,
            status: ScheduleStatus::Scheduled,
            created_ms: now,
            updated_ms: now,
            last_scheduled_ms: None,
        };
        self.catalog.insert_schedule(&schedule)?;
        state.insert(
            schedule.name.clone(),
            Entry {
                schedule: schedule.clone(),
                expr,
                next_due_ms: Some(first * 1000),
            },
        );
        drop(state);
        self.wake_up();
        Ok(schedule)
    }

    fn view(e: &Entry) -> ScheduleView {
        ScheduleView {
            schedule: e.schedule.clone(),
            next_run_ms: e.next_due_ms,
            last_execution: None,
        }
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> Result<Vec<ScheduleView>> {
        let mut out: Vec<ScheduleView> = self.state.lock().values().map(Self::view).collect();
        out.sort_by(|a, b| a.schedule.name.cmp(&b.schedule.name));
        Ok(out)
    }

    /// One schedule with its next run and last execution.
    pub fn describe(&self, name: &str) -> Result<ScheduleView> {
        let mut v = {
            let state = self.state.lock();
            Self::view(entry(&state, name)?)
        };
        v.last_execution = self.catalog.executions(name, None, 1)?.into_iter().next();
        Ok(v)
    }

    /// Stops or starts a schedule. A started schedule runs next at the first
    /// time after now (runs missed while stopped are not made up).
    pub fn set_status(&self, name: &str, status: ScheduleStatus) -> Result<ScheduleView> {
        let now = self.now();
        {
            let mut state = self.state.lock();
            let e = entry_mut(&mut state, name)?;
            if e.schedule.status != status {
                self.catalog.set_status(name, status, now)?;
                e.schedule.status = status;
                e.schedule.updated_ms = now;
                e.next_due_ms = match status {
                    ScheduleStatus::Scheduled => {
                        e.expr.next_after(now.div_euclid(1000)).map(|t| t * 1000)
                    }
                    ScheduleStatus::Stopped => None,
                };
            }
        }
        self.wake_up();
        self.describe(name)
    }

    /// Deletes a schedule, its executions and its reports.
    pub fn delete_schedule(&self, name: &str) -> Result<()> {
        let removed = {
            let mut state = self.state.lock();
            entry(&state, name)?;
            self.catalog.delete_schedule(name)?;
            state.remove(name)
        };
        if let Some(e) = removed {
            remove_dir(
                &self
                    .opts
                    .dir
                    .join(REPORTS_DIR)
                    .join(&e.schedule.endpoint)
                    .join(name),
            );
        }
        self.wake_up();
        Ok(())
    }

    // ---- executions ---------------------------------------------------------------

    /// A schedule's executions, newest first.
    pub fn executions(
        &self,
        name: &str,
        status: Option<ExecutionStatus>,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        entry(&self.state.lock(), name)?;
        self.catalog.executions(name, status, limit)
    }

    pub fn execution(&self, name: &str, id: i64) -> Result<Execution> {
        entry(&self.state.lock(), name)?;
        self.catalog.execution(name, id)?.ok_or_else(|| {
            Error::Missing(format!(
                "monitoring schedule {name:?} has no execution {id}"
            ))
        })
    }

    /// The files present in an execution's report folder.
    pub fn report_files(&self, e: &Execution) -> Vec<&'static str> {
        let Some(dir) = &e.report_dir else {
            return Vec::new();
        };
        let dir = self.opts.dir.join(dir);
        REPORT_FILES
            .into_iter()
            .filter(|f| dir.join(f).is_file())
            .collect()
    }

    /// The absolute report folder of an execution.
    pub fn report_path(&self, e: &Execution) -> Option<PathBuf> {
        e.report_dir.as_ref().map(|d| self.opts.dir.join(d))
    }

    /// The bytes of one report file ([`REPORT_FILES`]) of an execution.
    pub fn report_file(&self, name: &str, id: i64, file: &str) -> Result<Vec<u8>> {
        if !REPORT_FILES.contains(&file) {
            return Err(Error::InvalidOption(format!(
                "{file:?} is not a report file: use one of {}",
                REPORT_FILES.join(", ")
            )));
        }
        let e = self.execution(name, id)?;
        let Some(dir) = &e.report_dir else {
            return Err(Error::Missing(format!(
                "execution {id} has no reports (status {}{})",
                e.status.as_str(),
                e.failure_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )));
        };
        let p = self.opts.dir.join(dir).join(file);
        std::fs::read(&p).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => Error::Missing(format!("execution {id} has no {file}")),
            _ => io(&p, err),
        })
    }

    /// The analysis window of a run at `t_ms`.
    fn window(s: &Schedule, expr: &ScheduleExpression, t_ms: i64) -> (i64, i64) {
        let offsets = check_offsets(
            s.window_start_offset.as_deref(),
            s.window_end_offset.as_deref(),
        )
        .ok()
        .flatten();
        match offsets {
            Some((a, b)) => (t_ms + a.0 * 1000, t_ms + b.0 * 1000),
            None => {
                let t = t_ms.div_euclid(1000);
                let prev = expr.prev_before(t).unwrap_or(t - 3600);
                (prev.max(t - MAX_LOOKBACK_SECS) * 1000, t_ms)
            }
        }
    }

    /// Runs one execution of a schedule now (stopped schedules too), over
    /// `window` (`[start_ms, end_ms)`, scheduled at its end) or else over the
    /// schedule's window for the current minute. Returns when it has ended.
    pub fn run_now(&self, name: &str, window: Option<(i64, i64)>) -> Result<Execution> {
        let now = self.now();
        let (schedule, scheduled, window) = {
            let state = self.state.lock();
            let e = entry(&state, name)?;
            match window {
                Some((a, b)) => {
                    if a >= b {
                        return Err(Error::InvalidOption(format!(
                            "the window start {} must be before its end {}",
                            iso8601(a),
                            iso8601(b)
                        )));
                    }
                    if b - a > MAX_LOOKBACK_SECS * 1000 {
                        return Err(Error::InvalidOption(
                            "an analysis window spans at most 31 days".into(),
                        ));
                    }
                    (e.schedule.clone(), b, (a, b))
                }
                None => {
                    let t = now.div_euclid(60_000) * 60_000;
                    (e.schedule.clone(), t, Self::window(&e.schedule, &e.expr, t))
                }
            }
        };
        let running = self.manual_runs.fetch_add(1, Ordering::SeqCst);
        if running >= self.opts.max_manual_runs {
            self.manual_runs.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Throttled(format!(
                "{running} manual monitoring runs are in progress; try again when one has ended"
            )));
        }
        let r = self.execute(&schedule, Trigger::Manual, scheduled, window);
        self.manual_runs.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// When the next scheduled run is due (epoch ms).
    pub fn next_due(&self) -> Option<i64> {
        self.state
            .lock()
            .values()
            .filter_map(|e| e.next_due_ms)
            .min()
    }

    /// Runs every schedule due at `now` (for each, its latest due time only).
    pub fn tick(&self, now: i64) -> Result<TickReport> {
        let mut due: Vec<(Schedule, i64, (i64, i64))> = Vec::new();
        {
            let mut state = self.state.lock();
            for e in state.values_mut() {
                let Some(d) = e.next_due_ms else { continue };
                if d > now || e.schedule.status != ScheduleStatus::Scheduled {
                    continue;
                }
                let mut t = d.div_euclid(1000);
                for _ in 0..1_000_000 {
                    match e.expr.next_after(t) {
                        Some(n) if n * 1000 <= now => t = n,
                        _ => break,
                    }
                }
                e.next_due_ms = e.expr.next_after(t).map(|n| n * 1000);
                e.schedule.last_scheduled_ms = Some(t * 1000);
                let window = Self::window(&e.schedule, &e.expr, t * 1000);
                due.push((e.schedule.clone(), t * 1000, window));
            }
        }
        due.sort_by(|a, b| (a.1, &a.0.name).cmp(&(b.1, &b.0.name)));
        let mut report = TickReport::default();
        for (s, t, window) in due {
            // Recorded first: a crash during the run does not run it again.
            let ran = self
                .catalog
                .set_last_scheduled(&s.name, t)
                .and_then(|()| self.execute(&s, Trigger::Schedule, t, window));
            report.ran += 1;
            match ran {
                Ok(e) if e.status != ExecutionStatus::Failed => {}
                Ok(_) => report.failed += 1,
                Err(err) => {
                    tracing::error!(schedule = %s.name, error = %err, "a monitoring execution could not be recorded");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    fn execute(
        &self,
        s: &Schedule,
        trigger: Trigger,
        scheduled_ms: i64,
        window: (i64, i64),
    ) -> Result<Execution> {
        let started = self.now();
        let mut e = Execution {
            id: 0,
            schedule: s.name.clone(),
            endpoint: s.endpoint.clone(),
            trigger,
            scheduled_ms,
            window_start_ms: window.0,
            window_end_ms: window.1,
            status: ExecutionStatus::InProgress,
            failure_reason: None,
            message: None,
            violations: None,
            report_dir: None,
            created_ms: started,
            started_ms: Some(started),
            ended_ms: None,
        };
        e.id = self.catalog.insert_execution(&e)?;
        for dir in self
            .catalog
            .prune(&s.name, self.opts.max_executions_per_schedule)?
        {
            remove_dir(&self.opts.dir.join(dir));
        }
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.analyse(s, &e)))
                .unwrap_or_else(|_| Err("internal error: the monitoring job panicked".into()));
        match outcome {
            Ok(done) => {
                e.status = done.status;
                e.message = Some(done.message);
                e.violations = Some(done.violations);
                e.report_dir = Some(done.report_dir);
            }
            Err(reason) => {
                e.status = ExecutionStatus::Failed;
                e.failure_reason = Some(truncate(reason, MAX_FAILURE_REASON));
            }
        }
        e.ended_ms = Some(self.now());
        self.catalog.finish_execution(
            e.id,
            &Outcome {
                status: e.status,
                failure_reason: e.failure_reason.as_deref(),
                message: e.message.as_deref(),
                violations: e.violations,
                report_dir: e.report_dir.as_deref(),
                ended_ms: e.ended_ms.unwrap_or(started),
            },
        )?;
        if !self.state.lock().contains_key(&s.name) {
            // Deleted while it ran: its reports go with it.
            if let Some(d) = &e.report_dir {
                remove_dir(&self.opts.dir.join(d));
            }
        }
        match e.status {
            ExecutionStatus::Failed => tracing::info!(
                schedule = %s.name, id = e.id, reason = e.failure_reason.as_deref().unwrap_or(""),
                "monitoring execution failed"
            ),
            st => {
                tracing::info!(schedule = %s.name, id = e.id, status = st.as_str(), "monitoring execution ended")
            }
        }
        Ok(e)
    }

    /// The job of one execution; `Err` is the failure reason.
    fn analyse(&self, s: &Schedule, e: &Execution) -> std::result::Result<Done, String> {
        let baseline = Baseline::read(&self.baseline_dir(&s.baseline))
            .map_err(|err| format!("the baseline {:?} cannot be used: {err}", s.baseline))?;
        let (start, end) = (e.window_start_ms, e.window_end_ms);
        let text = self
            .source
            .read_window(&s.endpoint, start, end, self.opts.max_window_bytes)?;
        let table = capture::rebuild(
            text.lines(),
            &CaptureOptions {
                start: Some(start.div_euclid(1000)),
                end: Some(end.div_euclid(1000)),
                columns: s.columns.clone(),
            },
        )
        .map_err(|err| format!("the captured records cannot be read: {err}"))?;
        drop(text);
        if table.rows.is_empty() {
            return Err(format!(
                "No data was found in the window [{}, {}) of endpoint {:?}",
                iso8601(start),
                iso8601(end),
                s.endpoint
            ));
        }
        let report = run_job(
            &baseline.statistics,
            &baseline.constraints,
            baseline.drift.as_ref(),
            &mut &table,
            JobOptions::default(),
        )
        .map_err(|err| err.to_string())?;
        drop(table);
        let rel = report_dir(&s.endpoint, &s.name, e.scheduled_ms);
        let dir = self.opts.dir.join(&rel);
        report
            .write(&dir)
            .and_then(|()| sync_dir(&dir))
            .map_err(|err| format!("writing the reports failed: {err}"))?;
        let metrics = metrics(&report);
        if !metrics.is_empty() {
            self.sink
                .emit(&MetricBatch {
                    namespace: METRICS_NAMESPACE,
                    endpoint: &s.endpoint,
                    schedule: &s.name,
                    timestamp_ms: start,
                    metrics: &metrics,
                })
                .map_err(|err| format!("publishing the metrics failed: {err}"))?;
        }
        let status = if report.violations.violations.is_empty() {
            ExecutionStatus::Completed
        } else {
            ExecutionStatus::CompletedWithViolations
        };
        Ok(Done {
            status,
            message: report.message(),
            violations: report.violations.violations.len() as u64,
            report_dir: rel,
        })
    }

    // ---- the thread ---------------------------------------------------------------

    /// Runs the schedules on a background thread until [`Scheduler::stop`].
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("mw-monitor".into())
            .spawn(move || me.run_loop());
        match spawned {
            Ok(h) => *self.thread.lock() = Some(h),
            Err(e) => tracing::error!(error = %e, "the monitoring scheduler thread did not start"),
        }
    }

    fn run_loop(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let now = self.now();
            match self.next_due() {
                Some(d) if d <= now => {}
                due => {
                    let wait = due.map_or(60_000, |d| (d - now).clamp(1, 60_000));
                    let mut w = self.woken.lock();
                    if !*w {
                        self.wake
                            .wait_for(&mut w, Duration::from_millis(wait as u64));
                    }
                    *w = false;
                    continue;
                }
            }
            if let Err(e) = self.tick(now) {
                tracing::error!(error = %e, "monitoring schedule tick failed");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Stops the thread after the execution in progress (if any) has ended.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake_up();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }
}

fn entry<'a>(state: &'a HashMap<String, Entry>, name: &str) -> Result<&'a Entry> {
    state
        .get(name)
        .ok_or_else(|| Error::Missing(format!("monitoring schedule {name:?} does not exist")))
}

fn entry_mut<'a>(state: &'a mut HashMap<String, Entry>, name: &str) -> Result<&'a mut Entry> {
    state
        .get_mut(name)
        .ok_or_else(|| Error::Missing(format!("monitoring schedule {name:?} does not exist")))
}
