//! Model Monitor's data quality and data drift: baselines, monitoring jobs,
//! SageMaker's files and more drift tests than SageMaker has.
//!
//! - [`Baseline::compute`] makes statistics.json and constraints.json
//!   (SageMaker's schema: Deequ's type inference, KLL sketches with
//!   c = 0.64, k = 2048, ten-bucket histograms, categorical buckets,
//!   suggested constraints) plus `drift_baseline.json`, what every later
//!   window reuses.
//! - [`run_job`] profiles one window (a data set, or a capture rebuilt with
//!   [`capture::rebuild`]) in one pass, evaluates every SageMaker check and
//!   runs the drift tests of [`drift`]; [`JobReport::write`] writes
//!   statistics.json, constraints.json, constraint_violations.json and
//!   drift_report.json; [`metrics`] gives the data-quality metrics.
//! - [`schedule`] keeps stored baselines, monitoring schedules (AWS cron and
//!   rate expressions) and their executions in a SQLite catalog, and runs
//!   them on a thread: captured records come in and metrics go out through
//!   injected traits, so this crate still does no HTTP and owns no metric
//!   store.
//!
//! The design keeps one pass per data set and memory bounded per column
//! (see [`profile`]); numbers that SageMaker fixes (bucket bounds, sketch
//! contents, L∞ distances) are computed exactly as its analyzer does.
//!
//! ```ignore
//! let mut src = table::open(Path::new("train.csv"), Format::Csv { header: true })?;
//! let baseline = Baseline::compute(&mut *src, BaselineOptions::default())?;
//! baseline.write(Path::new("baseline/"))?;
//! let mut window = table::open(Path::new("today.csv"), Format::Csv { header: true })?;
//! let report = run_job(&baseline.statistics, &baseline.constraints, baseline.drift.as_ref(),
//!                      &mut *window, JobOptions::default())?;
//! report.write(&execution_dir(root, "churn", "hourly", scheduled))?;
//! ```

pub mod capture;
pub mod distance;
pub mod drift;
pub mod error;
pub mod files;
pub mod hll;
pub mod infer;
pub mod job;
pub mod kll;
pub mod parquet;
pub mod profile;
pub mod schedule;
pub mod table;

pub use error::{Error, ErrorKind, Result};
pub use files::{Constraints, Statistics, Violation, Violations};
pub use job::{
    execution_dir, metrics, run_job, Baseline, BaselineOptions, JobOptions, JobReport, Metric,
    MetricValue,
};
pub use table::{DataSource, Format, Table};
