//! `modelwatch monitor schedule ...` and `modelwatch monitor baseline ...`:
//! the server's monitoring schedules and stored baselines, over its native
//! JSON API (`/api/v1/monitoring-schedules`, `/api/v1/baselines`). Answers
//! are printed as JSON on stdout; a refused request prints the server's
//! error and exits 1.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub const SCHEDULE_EXAMPLES: &str = "Examples:
  modelwatch monitor schedule create --name churn-hourly --endpoint churn --baseline churn-v1 \\
      --cron 'cron(0 * ? * * *)'
  modelwatch monitor schedule create --name churn-5min --endpoint churn --baseline churn-v1 \\
      --cron 'cron(*/5 * ? * * *)' --window-start -PT5M --window-end PT0H
  modelwatch monitor schedule list
  modelwatch monitor schedule describe churn-hourly
  modelwatch monitor schedule run churn-hourly --start 2024-05-01T12:00:00Z --end 2024-05-01T13:00:00Z
  modelwatch monitor schedule executions churn-hourly --status Failed
  modelwatch monitor schedule stop churn-hourly
  modelwatch monitor schedule delete churn-hourly

Expressions: AWS's cron(minutes hours day-of-month month day-of-week year) in
UTC with ? in one of the day fields (cron(0 * ? * * *) hourly, cron(0 0 ? * * *)
daily, cron(0 */6 ? * * *) every 6 hours, cron(*/5 * ? * * *) every 5 minutes),
or rate(N minutes|hours|days). The window defaults to one schedule period
ending at the scheduled time. The server is --server or $MODELWATCH_SERVER.";

pub const BASELINE_EXAMPLES: &str = "Examples:
  modelwatch monitor baseline upload --name churn-v1 --dataset train.csv --header
  modelwatch monitor baseline upload --name churn-v1 --dataset train.jsonl --format jsonl
  modelwatch monitor baseline upload --name churn-v0 --dir baseline/   # statistics.json + constraints.json
  modelwatch monitor baseline list
  modelwatch monitor baseline get churn-v1 --file constraints.json

A data set is uploaded and profiled by the server (put the label / prediction
columns first, as captured records have them). --dir uploads files made by
`modelwatch baseline` or by SageMaker. Baselines are not replaced: upload a
new version under a new name.";

#[derive(Args, Debug)]
pub struct Remote {
    /// The modelwatch server.
    #[arg(
        long,
        env = "MODELWATCH_SERVER",
        default_value = "http://127.0.0.1:9600"
    )]
    server: String,
    /// Access key the server requires, as ACCESS_KEY_ID:SECRET (requests are
    /// SigV4-signed)
    #[arg(long, env = "MODELWATCH_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
}

/// A request URL and how to sign it.
struct Target {
    url: String,
    key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Create a monitoring schedule.
    Create(CreateArgs),
    /// List the monitoring schedules.
    List(Remote),
    /// Describe one schedule with its last execution.
    Describe(NameArgs),
    /// Stop a schedule (it keeps its executions).
    Stop(NameArgs),
    /// Start a stopped schedule; it runs next at its next time.
    Start(NameArgs),
    /// Delete a schedule with its executions and reports.
    Delete(NameArgs),
    /// Run one execution now and print it when it has ended.
    Run(RunArgs),
    /// List a schedule's executions, newest first.
    Executions(ExecutionsArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Schedule name (letters, digits, hyphens).
    #[arg(long)]
    name: String,
    /// The endpoint whose captured records are analysed.
    #[arg(long)]
    endpoint: String,
    /// The name of a baseline stored on the server.
    #[arg(long)]
    baseline: String,
    /// cron(...) or rate(...) expression.
    #[arg(long)]
    cron: String,
    /// Window start as an ISO-8601 offset from the scheduled time (e.g. -PT1H).
    #[arg(long, allow_hyphen_values = true)]
    window_start: Option<String>,
    /// Window end as an ISO-8601 offset from the scheduled time (e.g. PT0H).
    #[arg(long, allow_hyphen_values = true)]
    window_end: Option<String>,
    /// Names of the captured columns, output columns first (default: the baseline's, by position).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    /// Schedule name.
    name: String,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Schedule name.
    name: String,
    /// Window start (ISO-8601 UTC or epoch seconds); with --end.
    #[arg(long)]
    start: Option<String>,
    /// Window end (exclusive); the execution is scheduled at this time.
    #[arg(long)]
    end: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Args, Debug)]
pub struct ExecutionsArgs {
    /// Schedule name.
    name: String,
    /// Only executions of this status (Completed, CompletedWithViolations, Failed, ...).
    #[arg(long)]
    status: Option<String>,
    /// Most executions to list (1-1000).
    #[arg(long)]
    limit: Option<u32>,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Upload a data set (profiled by the server) or existing baseline files.
    Upload(UploadArgs),
    /// List the stored baselines.
    List(Remote),
    /// Print one file of a stored baseline.
    Get(GetArgs),
    /// Delete a baseline no schedule uses.
    Delete(BaselineNameArgs),
}

#[derive(Args, Debug)]
pub struct UploadArgs {
    /// Baseline name (letters, digits, hyphens).
    #[arg(long)]
    name: String,
    /// A data set to profile (CSV or JSON Lines).
    #[arg(long, conflicts_with = "dir")]
    dataset: Option<PathBuf>,
    /// A folder holding statistics.json and constraints.json (and drift_baseline.json).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The data set's format.
    #[arg(long, value_enum, default_value = "csv")]
    format: crate::monitor_cli::FormatArg,
    /// The CSV file's first line names the columns.
    #[arg(long)]
    header: bool,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Baseline name.
    name: String,
    /// statistics.json, constraints.json or drift_baseline.json.
    #[arg(long, default_value = "statistics.json")]
    file: String,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Args, Debug)]
pub struct BaselineNameArgs {
    /// Baseline name.
    name: String,
    #[command(flatten)]
    remote: Remote,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        // Profiling a large data set or running a long window takes a while.
        .timeout(Duration::from_secs(3600))
        .build()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (path
/// segments and query values alike).
fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn url(remote: &Remote, path: &str, query: &[(&str, Option<String>)]) -> Target {
    let mut u = format!("{}{path}", remote.server.trim_end_matches('/'));
    let q: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", seg(v))))
        .collect();
    if !q.is_empty() {
        u.push('?');
        u.push_str(&q.join("&"));
    }
    Target {
        url: u,
        key: remote.access_key.clone(),
    }
}

/// Sends a request; the body of a 2XX answer, or the server's error.
fn send(method: &str, target: &Target, body: Option<(&str, &[u8])>) -> anyhow::Result<Vec<u8>> {
    let url = target.url.as_str();
    let mut req = agent().request(method, url);
    if let Some(key) = &target.key {
        let signer = mw_client::sigv4::Signer::parse(key)
            .map_err(|e| anyhow::anyhow!("--access-key: {e}"))?;
        let parsed = req
            .request_url()
            .map_err(|e| anyhow::anyhow!("bad URL {url}: {e}"))?;
        let host = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host()),
            None => parsed.host().to_owned(),
        };
        let (path, query) = match url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        {
            Some(pq) => pq.split_once('?').unwrap_or((pq, "")),
            None => ("/", ""),
        };
        let now = mw_model::time::now_ms() / 1000;
        for (k, v) in signer.headers(method, &host, path, query, now)? {
            req = req.set(k, &v);
        }
    }
    let res = match body {
        Some((content_type, bytes)) => req.set("Content-Type", content_type).send_bytes(bytes),
        None => req.call(),
    };
    match res {
        Ok(r) => read(r),
        Err(ureq::Error::Status(code, r)) => {
            let text = String::from_utf8_lossy(&read(r)?).into_owned();
            let err: Option<Value> = serde_json::from_str(&text).ok();
            match err.as_ref().and_then(|v| v.get("error")) {
                Some(e) => bail!(
                    "{} ({code}): {}",
                    e["code"].as_str().unwrap_or("Error"),
                    e["message"].as_str().unwrap_or("")
                ),
                None => bail!("the server answered {code}: {text}"),
            }
        }
        Err(ureq::Error::Transport(t)) => {
            bail!("cannot reach the modelwatch server: {t}")
        }
    }
}

fn read(r: ureq::Response) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut out).context("reading the answer")?;
    Ok(out)
}

/// Prints an answer (pretty JSON); a closed stdout (`| head`) is not an error.
fn print(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let text = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => serde_json::to_string_pretty(&v)?,
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn post_json(remote: &Remote, path: &str, body: &Value) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(body)?;
    print(&send(
        "POST",
        &url(remote, path, &[]),
        Some(("application/json", &bytes)),
    )?)
}

const SCHEDULES: &str = "/api/v1/monitoring-schedules";

pub fn schedule(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::Create(a) => {
            let mut body = json!({
                "name": a.name,
                "endpoint": a.endpoint,
                "baseline": a.baseline,
                "cron": a.cron,
            });
            if let Some(s) = a.window_start {
                body["windowStartOffset"] = json!(s);
            }
            if let Some(e) = a.window_end {
                body["windowEndOffset"] = json!(e);
            }
            if let Some(c) = a.columns {
                body["columns"] = json!(c);
            }
            post_json(&a.remote, SCHEDULES, &body)
        }
        ScheduleCommand::List(r) => print(&send("GET", &url(&r, SCHEDULES, &[]), None)?),
        ScheduleCommand::Describe(a) => {
            let path = format!("{SCHEDULES}/{}", seg(&a.name));
            print(&send("GET", &url(&a.remote, &path, &[]), None)?)
        }
        ScheduleCommand::Stop(a) => {
            let path = format!("{SCHEDULES}/{}/stop", seg(&a.name));
            print(&send(
                "POST",
                &url(&a.remote, &path, &[]),
                Some(("application/json", b"")),
            )?)
        }
        ScheduleCommand::Start(a) => {
            let path = format!("{SCHEDULES}/{}/start", seg(&a.name));
            print(&send(
                "POST",
                &url(&a.remote, &path, &[]),
                Some(("application/json", b"")),
            )?)
        }
        ScheduleCommand::Delete(a) => {
            let path = format!("{SCHEDULES}/{}", seg(&a.name));
            send("DELETE", &url(&a.remote, &path, &[]), None)?;
            eprintln!("deleted monitoring schedule {}", a.name);
            Ok(())
        }
        ScheduleCommand::Run(a) => {
            let path = format!("{SCHEDULES}/{}/run", seg(&a.name));
            let u = url(&a.remote, &path, &[("start", a.start), ("end", a.end)]);
            print(&send("POST", &u, Some(("application/json", b"")))?)
        }
        ScheduleCommand::Executions(a) => {
            let path = format!("{SCHEDULES}/{}/executions", seg(&a.name));
            let u = url(
                &a.remote,
                &path,
                &[
                    ("status", a.status),
                    ("limit", a.limit.map(|l| l.to_string())),
                ],
            );
            print(&send("GET", &u, None)?)
        }
    }
}

const BASELINES: &str = "/api/v1/baselines";

pub fn baseline(cmd: BaselineCommand) -> anyhow::Result<()> {
    match cmd {
        BaselineCommand::Upload(a) => upload(a),
        BaselineCommand::List(r) => print(&send("GET", &url(&r, BASELINES, &[]), None)?),
        BaselineCommand::Get(a) => {
            let path = format!("{BASELINES}/{}/{}", seg(&a.name), seg(&a.file));
            print(&send("GET", &url(&a.remote, &path, &[]), None)?)
        }
        BaselineCommand::Delete(a) => {
            let path = format!("{BASELINES}/{}", seg(&a.name));
            send("DELETE", &url(&a.remote, &path, &[]), None)?;
            eprintln!("deleted baseline {}", a.name);
            Ok(())
        }
    }
}

fn upload(a: UploadArgs) -> anyhow::Result<()> {
    let path = format!("{BASELINES}/{}", seg(&a.name));
    match (&a.dataset, &a.dir) {
        (Some(file), None) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let (format, content_type) = match a.format {
                crate::monitor_cli::FormatArg::Csv => ("csv", "text/csv"),
                crate::monitor_cli::FormatArg::Jsonl => ("jsonl", "application/x-ndjson"),
                crate::monitor_cli::FormatArg::Parquet => {
                    ("parquet", "application/vnd.apache.parquet")
                }
            };
            let u = url(
                &a.remote,
                &path,
                &[
                    ("format", Some(format.into())),
                    ("header", Some(a.header.to_string())),
                ],
            );
            print(&send("POST", &u, Some((content_type, &bytes)))?)
        }
        (None, Some(dir)) => {
            let read = |name: &str, required: bool| -> anyhow::Result<Option<Value>> {
                let p = dir.join(name);
                match std::fs::read(&p) {
                    Ok(b) => Ok(Some(
                        serde_json::from_slice(&b)
                            .with_context(|| format!("{} is not JSON", p.display()))?,
                    )),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
                }
            };
            let mut body = json!({
                "statistics": read("statistics.json", true)?,
                "constraints": read("constraints.json", true)?,
            });
            if let Some(d) = read("drift_baseline.json", false)? {
                body["drift_baseline"] = d;
            }
            let u = url(&a.remote, &path, &[("format", Some("files".into()))]);
            let bytes = serde_json::to_vec(&body)?;
            print(&send("POST", &u, Some(("application/json", &bytes)))?)
        }
        _ => bail!("give exactly one of --dataset and --dir"),
    }
}
