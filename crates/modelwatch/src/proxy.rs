//! `modelwatch proxy`: flags and wiring of the inference sidecar (`mw_proxy`).
//! `ProxyArgs` is what the flags and environment variables say; `proxy_config`
//! merges the TOML file under them.

use crate::proxy_config::ProxySettings;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use mw_proxy::capture::{CaptureConfig, Destination};
use mw_proxy::proxy::Limits;
use mw_proxy::ProxyConfig;
use serde::Deserialize;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const EXAMPLES: &str = "Examples:
  # Meter a SageMaker-style container on :8080; metrics go to the server
  modelwatch proxy --upstream http://127.0.0.1:8080 --endpoint churn --server http://127.0.0.1:9600

  # Capture 20% of requests and responses into the server's capture store
  modelwatch proxy --upstream http://127.0.0.1:8080 --endpoint churn --variant AllTraffic \\
      --server http://127.0.0.1:9600 --capture-percent 20

  # Capture everything into a local folder, 1-second metrics, reject bad payloads
  modelwatch proxy --listen 127.0.0.1:8081 --upstream http://127.0.0.1:8080 --endpoint churn \\
      --server http://127.0.0.1:9600 --high-resolution --capture-percent 100 \\
      --capture-dir /var/lib/modelwatch/capture --schema churn-schema.json

  # A model server with its own route: meter and capture POST /predict too
  modelwatch proxy --upstream http://127.0.0.1:5000 --endpoint iris --invocation-path /predict \\
      --server http://127.0.0.1:9600

  # Settings from a file (a [proxy] table: keys are the flags' names with _ for -,
  # e.g. upstream = \"http://127.0.0.1:8080\", capture_percent = 20; two differ:
  # invocation_paths = [\"/predict\"] is the repeatable --invocation-path, and
  # --access-key is a [proxy.access_key] table with access_key_id and
  # secret_access_key); flags and MODELWATCH_* variables still win over it
  modelwatch proxy --config /etc/modelwatch/proxy.toml --capture-percent 100

Then call it as SageMaker Runtime:
  aws sagemaker-runtime invoke-endpoint --endpoint-url http://127.0.0.1:9610 \\
      --endpoint-name churn --content-type text/csv --body '1,2,3' out.json
and read the metrics from the server:
  aws cloudwatch get-metric-statistics --endpoint-url http://127.0.0.1:9600 \\
      --namespace AWS/SageMaker --metric-name Invocations \\
      --dimensions Name=EndpointName,Value=churn Name=VariantName,Value=AllTraffic \\
      --statistics Sum --period 60 --start-time 2025-01-01T00:00:00Z --end-time 2025-01-01T01:00:00Z";

/// What is captured (SageMaker's CaptureMode).
#[derive(ValueEnum, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureMode {
    Input,
    Output,
    InputAndOutput,
}

/// How the background threads (capture encoding and delivery, local capture
/// files, metrics publishing) are scheduled.
#[derive(ValueEnum, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackgroundPriority {
    /// SCHED_IDLE: only CPU time the serving threads leave
    Idle,
    /// As the serving threads
    Normal,
}

impl From<BackgroundPriority> for mw_proxy::background::Priority {
    fn from(p: BackgroundPriority) -> Self {
        match p {
            BackgroundPriority::Idle => mw_proxy::background::Priority::Idle,
            BackgroundPriority::Normal => mw_proxy::background::Priority::Normal,
        }
    }
}

/// What clap read from flags and environment variables. Every setting is
/// optional here: `ProxySettings::resolve` (in `proxy_config`) puts the
/// configuration file under it and applies the defaults shown in `--help`.
#[derive(Args, Debug, Default)]
pub struct ProxyArgs {
    /// TOML configuration file: a [proxy] table whose keys are the flags'
    /// names with `_` for `-` (but `invocation_paths`, a list, and
    /// `[proxy.access_key]`, a table); flags and environment variables win
    /// over it
    #[arg(long, env = "MODELWATCH_PROXY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9610]
    #[arg(long, env = "MODELWATCH_PROXY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The model server, http://host:port (it serves POST /invocations and
    /// GET /ping); required, here or in the configuration file
    #[arg(long, env = "MODELWATCH_PROXY_UPSTREAM")]
    pub upstream: Option<String>,
    /// Speak h2c (HTTP/2 without TLS) to the model server
    #[arg(
        long,
        env = "MODELWATCH_PROXY_UPSTREAM_H2C",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub upstream_h2c: Option<bool>,
    /// Endpoint name (the EndpointName dimension; /endpoints/NAME/invocations);
    /// required, here or in the configuration file
    #[arg(long, env = "MODELWATCH_PROXY_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Production variant name (the VariantName dimension) [default: AllTraffic]
    #[arg(long, env = "MODELWATCH_PROXY_VARIANT")]
    pub variant: Option<String>,
    /// The modelwatch server, http://host:port: metrics and captures go there
    #[arg(long, env = "MODELWATCH_SERVER")]
    pub server: Option<String>,
    /// Access key the server requires, as ACCESS_KEY_ID:SECRET (requests to
    /// it are SigV4-signed)
    #[arg(long, env = "MODELWATCH_ACCESS_KEY", hide_env_values = true)]
    pub access_key: Option<String>,
    /// Largest request body (SageMaker's limit: 6 MB) [default: 6291456]
    #[arg(long, env = "MODELWATCH_PROXY_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest model response read [default: 6291456]
    #[arg(long, env = "MODELWATCH_PROXY_MAX_RESPONSE_BYTES")]
    pub max_response_bytes: Option<usize>,
    /// Milliseconds the model server has to answer (SageMaker: 60 s) [default: 60000]
    #[arg(long, env = "MODELWATCH_PROXY_UPSTREAM_TIMEOUT_MS")]
    pub upstream_timeout_ms: Option<u64>,
    /// Milliseconds a client has to send its request head and body [default: 60000]
    #[arg(long, env = "MODELWATCH_PROXY_CLIENT_TIMEOUT_MS")]
    pub client_timeout_ms: Option<u64>,
    /// Requests handled at once; more are answered 503 [default: 1024]
    #[arg(long, env = "MODELWATCH_PROXY_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Client connections open at once; more are closed as they arrive [default: 10000]
    #[arg(long, env = "MODELWATCH_PROXY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// A POST path of the model server that is an invocation besides
    /// /invocations (metered, validated, captured); repeatable
    #[arg(long = "invocation-path")]
    pub invocation_paths: Vec<String>,
    /// Publish 1-second metrics (StorageResolution 1) instead of 1-minute
    #[arg(
        long,
        env = "MODELWATCH_PROXY_HIGH_RESOLUTION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub high_resolution: Option<bool>,
    /// Milliseconds between metric publishes [default: 10000, 1000 with --high-resolution]
    #[arg(long, env = "MODELWATCH_PROXY_METRICS_FLUSH_MS")]
    pub metrics_flush_ms: Option<u64>,
    /// Schema file: CSV features with types and/or a JSON Schema; payloads
    /// that do not match are answered 400 and never reach the model
    #[arg(long, env = "MODELWATCH_PROXY_SCHEMA")]
    pub schema: Option<PathBuf>,
    /// Capture this percentage of invocations (0-100); capture is off without it
    #[arg(long, env = "MODELWATCH_PROXY_CAPTURE_PERCENT")]
    pub capture_percent: Option<f64>,
    /// What to capture [default: input-and-output]
    #[arg(long, value_enum)]
    pub capture_mode: Option<CaptureMode>,
    /// Capture into this local folder instead of the server
    #[arg(long, env = "MODELWATCH_PROXY_CAPTURE_DIR")]
    pub capture_dir: Option<PathBuf>,
    /// Content types captured as CSV text (comma-separated) [default: text/csv]
    #[arg(long, value_delimiter = ',')]
    pub capture_csv_types: Vec<String>,
    /// Content types captured as JSON text (comma-separated); others are
    /// base64 [default: application/json]
    #[arg(long, value_delimiter = ',')]
    pub capture_json_types: Vec<String>,
    /// Payload bytes waiting in memory for capture before records are
    /// dropped [default: 67108864]
    #[arg(long)]
    pub capture_queue_bytes: Option<usize>,
    /// Disk buffer for captures while the server is unreachable
    /// [default: <temp dir>/modelwatch-capture-buffer/<endpoint>/<variant>]
    #[arg(long, env = "MODELWATCH_PROXY_CAPTURE_BUFFER_DIR")]
    pub capture_buffer_dir: Option<PathBuf>,
    /// Bytes the disk buffer may hold before records are dropped [default: 268435456]
    #[arg(long)]
    pub capture_buffer_bytes: Option<u64>,
    /// Local capture files rotate at this size (and every hour) [default: 67108864]
    #[arg(long)]
    pub capture_file_bytes: Option<u64>,
    /// Milliseconds between emptyings of the capture buffers (records are
    /// sent in batches) [default: 100]
    #[arg(long)]
    pub capture_flush_ms: Option<u64>,
    /// Do not fsync local capture files after each batch
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub capture_no_sync: Option<bool>,
    /// Serving threads [default: the number of CPUs]
    #[arg(long, env = "MODELWATCH_PROXY_THREADS")]
    pub threads: Option<usize>,
    /// Microseconds a serving thread keeps polling, without sleeping, for
    /// the model server's answer: it then reads the answer at once instead
    /// of waiting to be woken. Spent only while a call is in flight, and
    /// not at all while recent calls took over half of it; 0 never polls
    /// [default: 200, at most 10000]
    #[arg(long, env = "MODELWATCH_PROXY_BUSY_POLL_US", value_name = "US")]
    pub busy_poll_us: Option<u64>,
    /// Scheduling of the background threads (capture encoding and delivery,
    /// metrics publishing): idle runs them under SCHED_IDLE, on CPU time the
    /// serving threads leave, so monitoring never delays a request
    /// [default: idle]
    #[arg(long, value_enum, env = "MODELWATCH_PROXY_BACKGROUND_PRIORITY")]
    pub background_priority: Option<BackgroundPriority>,
    /// Log filter, e.g. `info` or `mw_proxy=debug` [default: info]
    #[arg(long, env = "MODELWATCH_LOG")]
    pub log: Option<String>,
}

/// The sidecar's configuration from settings already merged and checked.
fn config(a: &ProxySettings) -> anyhow::Result<ProxyConfig> {
    let schema = match &a.schema {
        Some(p) => Some(mw_proxy::validate::Schema::load(p)?),
        None => None,
    };
    let capture = match a.capture_percent {
        None => None,
        Some(p) => {
            let content_types = mw_capture::ContentTypes::new(
                a.capture_csv_types.clone(),
                a.capture_json_types.clone(),
            )?;
            let destination = match &a.capture_dir {
                Some(d) => Destination::Dir(d.clone()),
                None => {
                    if a.server.is_none() {
                        bail!("capture needs a destination: --server URL or --capture-dir DIR");
                    }
                    Destination::Server
                }
            };
            let buffer_dir = a.capture_buffer_dir.clone().unwrap_or_else(|| {
                std::env::temp_dir()
                    .join("modelwatch-capture-buffer")
                    .join(&a.endpoint)
                    .join(&a.variant)
            });
            Some(CaptureConfig {
                percent: p,
                input: a.capture_mode != CaptureMode::Output,
                output: a.capture_mode != CaptureMode::Input,
                content_types,
                destination,
                queue_bytes: a.capture_queue_bytes,
                buffer_dir,
                buffer_bytes: a.capture_buffer_bytes,
                max_file_bytes: a.capture_file_bytes,
                batch_records: 5000,
                batch_bytes: 8 * 1024 * 1024,
                linger: Duration::from_millis(a.capture_flush_ms),
                sync: !a.capture_no_sync,
            })
        }
    };
    Ok(ProxyConfig {
        upstream: a.upstream.clone(),
        upstream_h2c: a.upstream_h2c,
        endpoint: a.endpoint.clone(),
        variant: a.variant.clone(),
        server: a.server.clone(),
        server_key: a.access_key.clone(),
        limits: Limits {
            max_body_bytes: a.max_body_bytes,
            max_response_bytes: a.max_response_bytes,
            upstream_timeout: Duration::from_millis(a.upstream_timeout_ms),
            client_timeout: Duration::from_millis(a.client_timeout_ms),
            max_in_flight: a.max_in_flight,
            max_connections: a.max_connections,
        },
        invocation_paths: a.invocation_paths.clone(),
        metrics_resolution: if a.high_resolution { 1 } else { 60 },
        metrics_flush: Duration::from_millis(a.metrics_flush_ms),
        capture,
        schema,
        threads: a.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        busy_poll: Duration::from_micros(a.busy_poll_us),
    })
}

pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let settings = ProxySettings::resolve(args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log)
                .with_context(|| format!("bad log filter {:?}", settings.log))?,
        )
        .with_writer(std::io::stderr)
        .init();
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let cfg = config(&settings)?;
    let listen = settings.listen;
    // Requests are served on the proxy's own threads; this runtime runs the
    // capture worker and the metrics publisher, at the background priority
    // (its worker and blocking threads alike).
    let priority = mw_proxy::background::Priority::from(settings.background_priority);
    let warned = std::sync::Once::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(move || {
            if let Err(e) = mw_proxy::background::apply(priority) {
                warned.call_once(|| {
                    tracing::warn!(error = %e, "background threads keep the serving threads' priority");
                });
            }
        })
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, upstream = %cfg.upstream, endpoint = %cfg.endpoint,
            variant = %cfg.variant, "modelwatch proxy ready");
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {addr}")?;
            out.flush()?;
        }
        mw_proxy::serve(cfg, listener, crate::server::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}
