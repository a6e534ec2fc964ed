//! Baselining and monitoring jobs: [`Baseline::compute`] turns a data set
//! into statistics.json, constraints.json and the kept drift data;
//! [`run_job`] profiles one window, evaluates every check of constraints.json
//! and runs the drift tests; [`metrics`] gives the CloudWatch metrics an
//! execution emits.

use crate::capture::civil_from_days;
use crate::distance;
use crate::drift::{self, DriftBaseline, DriftOptions, DriftReport};
use crate::error::{Error, Result};
use crate::files::{
    self, py_float, CategoricalDriftMethod, Constraints, FeatureStatistics, Statistics, Violation,
    Violations,
};
use crate::infer::{InferredType, TypeCounts};
use crate::kll::KllSketch;
use crate::profile::{Profile, ProfileOptions, Profiler, ProgressFn};
use crate::table::{DataSource, RowSink};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub const STATISTICS_FILE: &str = "statistics.json";
pub const CONSTRAINTS_FILE: &str = "constraints.json";
pub const VIOLATIONS_FILE: &str = "constraint_violations.json";

/// CloudWatch namespace of data-quality metrics for real-time endpoints.
pub const METRICS_NAMESPACE: &str = "aws/sagemaker/Endpoints/data-metrics";
/// CloudWatch namespace of data-quality metrics for batch transform.
pub const BATCH_METRICS_NAMESPACE: &str = "aws/sagemaker/ModelMonitoring/data-metrics";
/// The dimensions every data-quality metric carries.
pub const METRIC_DIMENSIONS: [&str; 2] = ["Endpoint", "MonitoringSchedule"];

/// A baseline: SageMaker's two files plus the data the drift tests reuse.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub statistics: Statistics,
    pub constraints: Constraints,
    /// Absent for baselines made elsewhere (then only SageMaker's checks run).
    pub drift: Option<DriftBaseline>,
}

/// How a baseline is computed.
#[derive(Default)]
pub struct BaselineOptions<'a> {
    /// Called with the rows processed so far.
    pub progress: Option<ProgressFn<'a>>,
}

impl Baseline {
    /// One pass over `source`.
    pub fn compute(source: &mut dyn DataSource, opts: BaselineOptions<'_>) -> Result<Baseline> {
        let mut profiler = Profiler::new(ProfileOptions {
            keep_values: true,
            progress: opts.progress,
            ..ProfileOptions::default()
        });
        source.feed(&mut profiler)?;
        let profile = profiler.finish();
        if profile.columns.is_empty() {
            return Err(Error::Dataset("the data set has no columns".into()));
        }
        if profile.item_count == 0 {
            return Err(Error::Dataset("the data set has no rows".into()));
        }
        Ok(Baseline {
            statistics: profile.statistics(),
            constraints: profile.suggested_constraints(),
            drift: Some(DriftBaseline::from_profile(&profile)),
        })
    }

    /// Writes statistics.json, constraints.json and drift_baseline.json into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        files::write(&dir.join(STATISTICS_FILE), &self.statistics)?;
        files::write(&dir.join(CONSTRAINTS_FILE), &self.constraints)?;
        if let Some(d) = &self.drift {
            files::write(&dir.join(drift::BASELINE_FILE), d)?;
        }
        Ok(())
    }

    /// Reads a baseline directory; drift_baseline.json is optional.
    pub fn read(dir: &Path) -> Result<Baseline> {
        let statistics: Statistics = files::read(&dir.join(STATISTICS_FILE))?;
        let constraints: Constraints = files::read(&dir.join(CONSTRAINTS_FILE))?;
        let drift_path = dir.join(drift::BASELINE_FILE);
        let drift = if drift_path.exists() {
            Some(files::read(&drift_path)?)
        } else {
            None
        };
        let b = Baseline {
            statistics,
            constraints,
            drift,
        };
        b.validate()?;
        Ok(b)
    }

    /// Checks what the files parse into but a job cannot use.
    pub fn validate(&self) -> Result<()> {
        let bad = |file: &str, message: String| Error::Baseline {
            file: file.into(),
            message,
        };
        self.constraints.global_config()?;
        for f in &self.constraints.features {
            InferredType::parse(&f.inferred_type).ok_or_else(|| {
                bad(
                    CONSTRAINTS_FILE,
                    format!(
                        "feature {:?}: unknown inferred_type {:?}",
                        f.name, f.inferred_type
                    ),
                )
            })?;
            self.constraints.feature_config(f)?;
            if let Some(c) = f.completeness {
                if !(0.0..=1.0).contains(&c) {
                    return Err(bad(
                        CONSTRAINTS_FILE,
                        format!("feature {:?}: completeness {c} is outside [0, 1]", f.name),
                    ));
                }
            }
        }
        if let Some(d) = &self.drift {
            d.validate().map_err(|m| bad(drift::BASELINE_FILE, m))?;
        }
        for f in &self.statistics.features {
            if InferredType::parse(&f.inferred_type).is_none() {
                return Err(bad(
                    STATISTICS_FILE,
                    format!(
                        "feature {:?}: unknown inferred_type {:?}",
                        f.name, f.inferred_type
                    ),
                ));
            }
            if let Some(n) = &f.numerical_statistics {
                sketch_of(n)
                    .map_err(|m| bad(STATISTICS_FILE, format!("feature {:?}: {m}", f.name)))?;
            }
        }
        Ok(())
    }
}

fn sketch_of(n: &files::NumericalStatistics) -> std::result::Result<KllSketch, String> {
    let s = &n.distribution.kll.sketch;
    let (c, k) = (s.parameters.c, s.parameters.k);
    if !(c > 0.0 && c <= 1.0 && (2.0..=1e7).contains(&k)) || k.fract() != 0.0 {
        return Err(format!("sketch parameters c = {c}, k = {k} are not valid"));
    }
    if s.data.iter().flatten().any(|x| !x.is_finite()) {
        return Err("sketch data holds a value that is not a finite number".into());
    }
    Ok(KllSketch::from_levels(k as usize, c, s.data.clone()))
}

/// How a monitoring job runs.
pub struct JobOptions<'a> {
    /// Options of the drift tests; `None` skips them.
    pub drift: Option<DriftOptions>,
    pub progress: Option<ProgressFn<'a>>,
}

impl Default for JobOptions<'_> {
    fn default() -> Self {
        JobOptions {
            drift: Some(DriftOptions::default()),
            progress: None,
        }
    }
}

/// Per-feature numbers of a job that metrics need.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureOutcome {
    pub name: String,
    /// The baseline_drift_check distance (or ChiSquared p-value), when computed.
    pub baseline_drift: Option<f64>,
}

/// What a monitoring job produced.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    /// The window's statistics.
    pub statistics: Statistics,
    /// The constraints the window was checked against.
    pub constraints: Constraints,
    pub violations: Violations,
    pub drift_report: Option<DriftReport>,
    pub features: Vec<FeatureOutcome>,
    /// Per window column (in its order), Deequ's per-type value counts.
    pub type_counts: Vec<(String, TypeCounts)>,
    /// monitoring_config.emit_metrics.
    pub emit_metrics: bool,
}

impl JobReport {
    /// SageMaker's execution status.
    pub fn status(&self) -> &'static str {
        if self.violations.violations.is_empty() {
            "Completed"
        } else {
            "CompletedWithViolations"
        }
    }

    /// The container's exit message.
    pub fn message(&self) -> String {
        let n = self.violations.violations.len();
        if n == 0 {
            "Completed: Job completed successfully with no violations.".into()
        } else {
            format!("CompletedWithViolations: Job completed successfully with {n} violations.")
        }
    }

    /// Writes the files of one execution into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        files::write(&dir.join(STATISTICS_FILE), &self.statistics)?;
        files::write(&dir.join(CONSTRAINTS_FILE), &self.constraints)?;
        files::write(&dir.join(VIOLATIONS_FILE), &self.violations)?;
        if let Some(d) = &self.drift_report {
            files::write(&dir.join(drift::REPORT_FILE), d)?;
        }
        Ok(())
    }
}

/// `<root>/<endpoint>/<schedule>/yyyy/mm/dd/HH/` for a scheduled time (Unix seconds, UTC).
pub fn execution_dir(root: &Path, endpoint: &str, schedule: &str, scheduled: i64) -> PathBuf {
    let (y, m, d) = civil_from_days(scheduled.div_euclid(86_400));
    let h = scheduled.rem_euclid(86_400) / 3600;
    root.join(endpoint)
        .join(schedule)
        .join(format!("{y:04}"))
        .join(format!("{m:02}"))
        .join(format!("{d:02}"))
        .join(format!("{h:02}"))
}

/// Renames positional window columns to the baseline's feature names.
struct Renamer<'p, 'a> {
    inner: &'p mut Profiler<'a>,
    names: Vec<String>,
}

impl RowSink for Renamer<'_, '_> {
    fn columns(&mut self, names: &[String]) -> Result<()> {
        let renamed: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| self.names.get(i).cloned().unwrap_or_else(|| n.clone()))
            .collect();
        self.inner.columns(&renamed)
    }

    fn row(&mut self, fields: &[Option<&str>]) -> Result<()> {
        self.inner.row(fields)
    }
}

/// Profiles one window and evaluates it against a baseline.
///
/// A window whose columns are positional (a header-less CSV, a capture rebuilt
/// without a mapping) takes the baseline's feature names by position.
pub fn run_job(
    statistics: &Statistics,
    constraints: &Constraints,
    drift_baseline: Option<&DriftBaseline>,
    source: &mut dyn DataSource,
    opts: JobOptions<'_>,
) -> Result<JobReport> {
    let global = constraints.global_config()?;
    let domains: HashMap<String, HashSet<String>> = constraints
        .features
        .iter()
        .filter_map(|f| {
            f.string_constraints
                .as_ref()
                .map(|s| (f.name.clone(), s.domains.iter().cloned().collect()))
        })
        .collect();
    let want_drift = drift_baseline.is_some() && opts.drift.is_some();
    let mut profiler = Profiler::new(ProfileOptions {
        keep_values: want_drift,
        domains,
        progress: opts.progress,
        ..ProfileOptions::default()
    });
    let baseline_positional = statistics
        .features
        .iter()
        .enumerate()
        .all(|(i, f)| f.name == crate::table::positional_name(i));
    if source.positional_names() && !baseline_positional {
        let names = statistics.features.iter().map(|f| f.name.clone()).collect();
        source.feed(&mut Renamer {
            inner: &mut profiler,
            names,
        })?;
    } else {
        source.feed(&mut profiler)?;
    }
    let window = profiler.finish();
    if window.item_count == 0 {
        return Err(Error::Empty("no records in the analysis window".into()));
    }
    let (violations, features) = evaluate(statistics, constraints, &window)?;
    let drift_report = match (drift_baseline, opts.drift) {
        (Some(b), Some(o)) => Some(drift::compare(b, &window, &o)),
        _ => None,
    };
    Ok(JobReport {
        statistics: window.statistics(),
        constraints: constraints.clone(),
        violations,
        drift_report,
        features,
        type_counts: window
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.types))
            .collect(),
        emit_metrics: global.emit_metrics,
    })
}

fn violation(feature: &str, check: &str, description: String) -> Violation {
    Violation {
        feature_name: feature.to_string(),
        constraint_check_type: check.to_string(),
        description,
    }
}

/// Evaluates every check of `constraints` on a window profile.
pub fn evaluate(
    statistics: &Statistics,
    constraints: &Constraints,
    window: &Profile,
) -> Result<(Violations, Vec<FeatureOutcome>)> {
    let global = constraints.global_config()?;
    let stats_by_name: HashMap<&str, &FeatureStatistics> = statistics
        .features
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let mut out = Vec::new();
    let mut outcomes = Vec::new();
    for f in &constraints.features {
        let cfg = constraints.feature_config(f)?;
        let mut outcome = FeatureOutcome {
            name: f.name.clone(),
            baseline_drift: None,
        };
        let Some(col) = window.column(&f.name) else {
            if cfg.evaluate_constraints {
                out.push(violation(
                    &f.name,
                    "missing_column_check",
                    format!(
                        "Missing column: {} is in the baseline constraints but not in the data.",
                        f.name
                    ),
                ));
            }
            outcomes.push(outcome);
            continue;
        };
        let expected = InferredType::parse(&f.inferred_type).ok_or_else(|| Error::Baseline {
            file: CONSTRAINTS_FILE.into(),
            message: format!(
                "feature {:?}: unknown inferred_type {:?}",
                f.name, f.inferred_type
            ),
        })?;
        let present = col.num_present();
        // baseline_drift_check distance (computed even when constraints are not evaluated, for metrics).
        let base = stats_by_name.get(f.name.as_str());
        let mut drift_violation = None;
        if cfg.perform_comparison {
            if let (true, Some(bn)) = (
                expected.is_numeric(),
                base.and_then(|b| b.numerical_statistics.as_ref()),
            ) {
                if col.count > 0 {
                    let bs = sketch_of(bn).map_err(|m| Error::Baseline {
                        file: STATISTICS_FILE.into(),
                        message: format!("feature {:?}: {m}", f.name),
                    })?;
                    let d = distance::numeric_distance(&bs, &col.kll, cfg.comparison_method);
                    outcome.baseline_drift = Some(d);
                    if d > cfg.comparison_threshold {
                        drift_violation = Some(format!(
                            "Baseline drift distance: {} exceeds threshold: {}",
                            py_float(d),
                            py_float(cfg.comparison_threshold)
                        ));
                    }
                }
            } else if let (InferredType::String, Some(buckets), Some(cats)) = (
                expected,
                base.and_then(|b| b.categorical()),
                col.categories.as_ref(),
            ) {
                let bc: Vec<(String, u64)> =
                    buckets.iter().map(|b| (b.value.clone(), b.count)).collect();
                if !cats.is_empty() {
                    match cfg.categorical_drift_method {
                        CategoricalDriftMethod::LInfinity => {
                            let d = distance::categorical_linf(&bc, cats, cfg.comparison_method);
                            outcome.baseline_drift = Some(d);
                            if d > cfg.categorical_comparison_threshold {
                                drift_violation = Some(format!(
                                    "Baseline drift distance: {} exceeds threshold: {}",
                                    py_float(d),
                                    py_float(cfg.categorical_comparison_threshold)
                                ));
                            }
                        }
                        CategoricalDriftMethod::ChiSquared => {
                            let p = distance::categorical_chi_squared(&bc, cats);
                            if p.is_finite() {
                                outcome.baseline_drift = Some(p);
                                if p < cfg.categorical_comparison_threshold {
                                    drift_violation = Some(format!(
                                        "Baseline drift chi-squared p-value: {} is below threshold: {}",
                                        py_float(p),
                                        py_float(cfg.categorical_comparison_threshold)
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        outcomes.push(outcome);
        if !cfg.evaluate_constraints {
            continue;
        }
        if expected != InferredType::Unknown && present > 0 {
            let ratio = col.types.matching(expected) as f64 / present as f64;
            if ratio < cfg.datatype_check_threshold {
                out.push(violation(
                    &f.name,
                    "data_type_check",
                    format!(
                        "Data type match requirement is not met. Expected data type: {t}, Expected match: {}%. Observed: Only {}% of data is {t}.",
                        py_float(cfg.datatype_check_threshold * 100.0),
                        py_float(ratio * 100.0),
                        t = expected.as_str()
                    ),
                ));
            }
        }
        if let Some(c) = f.completeness {
            let observed = present as f64 / window.item_count as f64;
            if observed < c {
                out.push(violation(
                    &f.name,
                    "completeness_check",
                    format!(
                        "Data completeness requirement is not met. Expected completeness: {}%. Observed: Only {}% of data is complete.",
                        py_float(c * 100.0),
                        py_float(observed * 100.0)
                    ),
                ));
            }
        }
        if let Some(d) = drift_violation {
            out.push(violation(&f.name, "baseline_drift_check", d));
        }
        if let (Some(_), Some(inside)) = (&f.string_constraints, col.in_domain) {
            if present > 0 {
                let ratio = inside as f64 / present as f64;
                if ratio < cfg.domain_content_threshold {
                    out.push(violation(
                        &f.name,
                        "categorical_values_check",
                        format!(
                            "Categorical values requirement is not met. Expected: {}% of values in the baseline domain. Observed: Only {}% of values are in the domain.",
                            py_float(cfg.domain_content_threshold * 100.0),
                            py_float(ratio * 100.0)
                        ),
                    ));
                }
            }
        }
    }
    if global.evaluate_constraints {
        let known: HashSet<&str> = constraints
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        for c in &window.columns {
            if !known.contains(c.name.as_str()) {
                out.push(violation(
                    &c.name,
                    "extra_column_check",
                    format!(
                        "Extra column: {} is in the data but not in the baseline constraints.",
                        c.name
                    ),
                ));
            }
        }
    }
    Ok((Violations { violations: out }, outcomes))
}

/// A metric value: one number or a statistic set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    Value(f64),
    StatisticSet {
        sample_count: f64,
        sum: f64,
        minimum: f64,
        maximum: f64,
    },
}

/// One data-quality metric of an execution; it goes to [`METRICS_NAMESPACE`]
/// with the [`METRIC_DIMENSIONS`] (and optionally a `Feature` dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub feature: String,
    pub value: MetricValue,
}

/// SageMaker's data-quality metrics of one execution (empty when
/// monitoring_config.emit_metrics is Disabled): per window column
/// `feature_non_null_`, `feature_null_`, `feature_completeness_` and the five
/// `feature_*_counts_`; `feature_data_` for numeric columns,
/// `feature_estimated_unique_values_` for String ones, and
/// `feature_baseline_drift_` where the drift check compared. See docs/monitor.md.
pub fn metrics(report: &JobReport) -> Vec<Metric> {
    let mut out = Vec::new();
    if !report.emit_metrics {
        return out;
    }
    let rows = report.statistics.dataset.item_count as f64;
    let mut push = |name: String, feature: &str, value: MetricValue| {
        out.push(Metric {
            name,
            feature: feature.to_string(),
            value,
        })
    };
    let drift: HashMap<&str, f64> = report
        .features
        .iter()
        .filter_map(|f| f.baseline_drift.map(|d| (f.name.as_str(), d)))
        .collect();
    let types: HashMap<&str, &TypeCounts> = report
        .type_counts
        .iter()
        .map(|(n, t)| (n.as_str(), t))
        .collect();
    for f in &report.statistics.features {
        let n = &f.name;
        let Some(common) = f.common() else { continue };
        let completeness = if rows > 0.0 {
            common.num_present as f64 / rows
        } else {
            0.0
        };
        push(
            format!("feature_non_null_{n}"),
            n,
            MetricValue::Value(completeness),
        );
        push(
            format!("feature_null_{n}"),
            n,
            MetricValue::Value(common.num_missing as f64),
        );
        push(
            format!("feature_completeness_{n}"),
            n,
            MetricValue::Value(completeness),
        );
        if let Some(d) = drift.get(n.as_str()) {
            push(
                format!("feature_baseline_drift_{n}"),
                n,
                MetricValue::Value(*d),
            );
        }
        if let Some(num) = &f.numerical_statistics {
            push(
                format!("feature_data_{n}"),
                n,
                MetricValue::StatisticSet {
                    sample_count: common.num_present as f64,
                    sum: num.sum,
                    minimum: num.min,
                    maximum: num.max,
                },
            );
        }
        if let Some(s) = &f.string_statistics {
            push(
                format!("feature_estimated_unique_values_{n}"),
                n,
                MetricValue::Value(s.distinct_count),
            );
        }
        if let Some(t) = types.get(n.as_str()) {
            for m in type_counts(n, t) {
                push(m.name, n, m.value);
            }
        }
    }
    out
}

/// `feature_{fractional,integral,string,boolean,unknown}_counts_<f>`: how
/// many of a column's values Deequ classifies as each type (unknown = null).
fn type_counts(name: &str, t: &TypeCounts) -> Vec<Metric> {
    [
        ("fractional", t.fractional),
        ("integral", t.integral),
        ("string", t.string),
        ("boolean", t.boolean),
        ("unknown", t.null),
    ]
    .into_iter()
    .map(|(kind, v)| Metric {
        name: format!("feature_{kind}_counts_{name}"),
        feature: name.to_string(),
        value: MetricValue::Value(v as f64),
    })
    .collect()
}

/// Per-type value counts of a window column (the feature_*_counts metrics
/// [`metrics`] also gives).
pub fn type_count_metrics(window: &Profile) -> Vec<Metric> {
    window
        .columns
        .iter()
        .flat_map(|c| type_counts(&c.name, &c.types))
        .collect()
}
