//! `modelwatch baseline` and `modelwatch monitor run`: flags, progress on
//! stderr, and the calls into mw-monitor. No statistics live here. The
//! server-side subcommands (`monitor schedule`, `monitor baseline`) are in
//! `monitor_remote`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use mw_monitor::drift::{Correction, DriftOptions};
use mw_monitor::table::{self, Format};
use mw_monitor::{run_job, Baseline, BaselineOptions, JobOptions};
use std::path::PathBuf;
use std::time::Instant;

pub const BASELINE_EXAMPLES: &str = "Examples:
  modelwatch baseline --dataset train.csv --header --output baseline/
  modelwatch baseline --dataset train.jsonl --format jsonl --output baseline/
  modelwatch baseline --dataset train.parquet --format parquet --output baseline/

Writes statistics.json and constraints.json in SageMaker Model Monitor's schema,
and drift_baseline.json (what the drift tests of later jobs reuse). For data
captured from an endpoint, put the output (label / prediction) columns first.
Parquet files must have flat columns (Snappy, gzip, LZ4 or no compression).";

pub const MONITOR_EXAMPLES: &str = "Examples:
  modelwatch monitor run --baseline baseline/ --dataset today.csv --header --output reports/
  modelwatch monitor run --baseline baseline/ --capture capture/churn/AllTraffic/2024/05/01/13 \\
      --start 2024-05-01T13:00:00Z --end 2024-05-01T14:00:00Z \\
      --endpoint churn --schedule hourly --output reports/

Writes statistics.json, constraints.json, constraint_violations.json and
drift_report.json into <output>/<endpoint>/<schedule>/yyyy/mm/dd/HH/ (HH = the
hour of --end) when --endpoint is given, else into <output>/. Exits 0 for
Completed and CompletedWithViolations, 1 with the reason when the job fails.";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// The data set file.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// The data set's format.
    #[arg(long, value_enum, default_value = "csv")]
    format: FormatArg,
    /// The CSV file's first line names the columns (else `_c0`, `_c1`, ...).
    #[arg(long)]
    header: bool,
}

impl DatasetArgs {
    fn format(&self) -> Format {
        match self.format {
            FormatArg::Csv => Format::Csv {
                header: self.header,
            },
            FormatArg::Jsonl => Format::JsonLines,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

#[derive(Args, Debug)]
pub struct BaselineArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// Directory to write the baseline files into (created if needed).
    #[arg(long)]
    output: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum MonitorCommand {
    /// Run one data-quality and drift job now.
    #[command(after_help = MONITOR_EXAMPLES)]
    Run(RunArgs),
    /// Monitoring schedules of a running server: create, list, describe, stop, start, delete, run.
    #[command(subcommand, after_help = crate::monitor_remote::SCHEDULE_EXAMPLES)]
    Schedule(crate::monitor_remote::ScheduleCommand),
    /// Baselines stored on a running server: upload, list, get, delete.
    #[command(subcommand, after_help = crate::monitor_remote::BASELINE_EXAMPLES)]
    Baseline(crate::monitor_remote::BaselineCommand),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Directory holding statistics.json and constraints.json (and drift_baseline.json).
    #[arg(long)]
    baseline: PathBuf,
    #[command(flatten)]
    data: DatasetArgs,
    /// Capture files (*.jsonl) or directories searched recursively, instead of --dataset.
    #[arg(long, num_args = 1..)]
    capture: Vec<PathBuf>,
    /// Start of the analysis window (ISO-8601 UTC, inclusive), for captures.
    #[arg(long)]
    start: Option<String>,
    /// End of the analysis window (ISO-8601 UTC, exclusive), for captures.
    #[arg(long)]
    end: Option<String>,
    /// Column names for the rebuilt capture table, comma-separated (else the baseline's, by position).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Endpoint name: output goes under <output>/<endpoint>/<schedule>/yyyy/mm/dd/HH/.
    #[arg(long)]
    endpoint: Option<String>,
    /// Monitoring schedule name.
    #[arg(long, default_value = "manual")]
    schedule: String,
    /// Output root directory.
    #[arg(long)]
    output: PathBuf,
    /// Multiple-testing correction of the drift tests.
    #[arg(long, value_enum, default_value = "benjamini-hochberg")]
    correction: CorrectionArg,
    /// Significance level of the drift tests (after correction).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Skip the drift tests beyond SageMaker's checks.
    #[arg(long)]
    no_drift_report: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CorrectionArg {
    None,
    Bonferroni,
    BenjaminiHochberg,
}

/// A progress printer: rows and rate on stderr.
fn progress(what: &'static str) -> Box<dyn FnMut(u64)> {
    let start = Instant::now();
    Box::new(move |rows| {
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "{what}: {rows} rows processed ({:.0} rows/s)",
            rows as f64 / secs
        );
    })
}

pub fn baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let Some(path) = &args.data.dataset else {
        bail!("--dataset is required");
    };
    let mut source = table::open(path, args.data.format())?;
    let b = Baseline::compute(
        &mut *source,
        BaselineOptions {
            progress: Some(progress("baseline")),
        },
    )?;
    b.write(&args.output)?;
    eprintln!(
        "baseline: {} rows, {} features -> {}",
        b.statistics.dataset.item_count,
        b.statistics.features.len(),
        args.output.display()
    );
    Ok(())
}

fn capture_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).with_context(|| format!("{}", p.display()))? {
                stack.push(e?.path());
            }
        } else if p.extension().is_some_and(|e| e == "jsonl") || paths.contains(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn parse_time(s: &Option<String>, flag: &str) -> anyhow::Result<Option<i64>> {
    s.as_deref()
        .map(|t| {
            mw_monitor::capture::parse_time(t).with_context(|| {
                format!("{flag} {t:?} is not an ISO-8601 UTC time like 2024-05-01T13:00:00Z")
            })
        })
        .transpose()
}

pub fn run(cmd: MonitorCommand) -> anyhow::Result<()> {
    let args = match cmd {
        MonitorCommand::Run(args) => args,
        MonitorCommand::Schedule(c) => return crate::monitor_remote::schedule(c),
        MonitorCommand::Baseline(c) => return crate::monitor_remote::baseline(c),
    };
    let baseline = Baseline::read(&args.baseline)?;
    let start = parse_time(&args.start, "--start")?;
    let end = parse_time(&args.end, "--end")?;
    let drift = (!args.no_drift_report).then_some(DriftOptions {
        alpha: args.alpha,
        correction: match args.correction {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Bonferroni => Correction::Bonferroni,
            CorrectionArg::BenjaminiHochberg => Correction::BenjaminiHochberg,
        },
        ..DriftOptions::default()
    });
    let opts = JobOptions {
        drift,
        progress: Some(progress("monitor")),
    };
    let report = match (&args.data.dataset, args.capture.is_empty()) {
        (Some(path), true) => {
            let mut source = table::open(path, args.data.format())?;
            run_job(
                &baseline.statistics,
                &baseline.constraints,
                baseline.drift.as_ref(),
                &mut *source,
                opts,
            )?
        }
        (None, false) => {
            let mut text = String::new();
            for f in capture_files(&args.capture)? {
                text.push_str(
                    &std::fs::read_to_string(&f).with_context(|| format!("{}", f.display()))?,
                );
                text.push('\n');
            }
            let window = mw_monitor::capture::rebuild(
                text.lines(),
                &mw_monitor::capture::CaptureOptions {
                    start,
                    end,
                    columns: args.columns.clone(),
                },
            )?;
            run_job(
                &baseline.statistics,
                &baseline.constraints,
                baseline.drift.as_ref(),
                &mut &window,
                opts,
            )?
        }
        _ => bail!("give exactly one of --dataset and --capture"),
    };
    let dir = match &args.endpoint {
        Some(endpoint) => {
            let scheduled = end.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
            });
            mw_monitor::execution_dir(&args.output, endpoint, &args.schedule, scheduled)
        }
        None => args.output.clone(),
    };
    report.write(&dir)?;
    for v in &report.violations.violations {
        eprintln!(
            "violation: {} {}: {}",
            v.feature_name, v.constraint_check_type, v.description
        );
    }
    if let Some(d) = &report.drift_report {
        eprintln!(
            "drift: {} of {} features drifted (share {:.2}); data set drift: {}",
            d.drifted_features, d.tested_features, d.drift_share, d.dataset_drift
        );
    }
    println!("{}", report.message());
    eprintln!("reports in {}", dir.display());
    Ok(())
}
