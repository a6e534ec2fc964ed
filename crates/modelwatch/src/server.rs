//! `modelwatch server`: opens the metric and log stores, serves the API, runs
//! the checkpoint and retention loops, and flushes everything on SIGTERM/SIGINT.

use crate::config::ServerConfig;
use anyhow::Context;
use mw_api::sigv4::Credentials;
use mw_api::{Api, ApiConfig};
use mw_tsdb::{MetricStore, StoreConfig};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub const EXAMPLES: &str = "Examples:
  modelwatch server
  modelwatch server --listen 127.0.0.1:9600 --data-dir /var/lib/modelwatch
  modelwatch server --auth-key AKIDEXAMPLE:secret --wal-sync always
  MODELWATCH_DATA_DIR=/data modelwatch server --config modelwatch.toml

Then point any CloudWatch or CloudWatch Logs client at it:
  aws cloudwatch put-metric-data --endpoint-url http://127.0.0.1:9600 \\
      --namespace MyApp --metric-name Latency --value 12.5 --unit Milliseconds
  aws logs create-log-group --endpoint-url http://127.0.0.1:9600 --log-group-name /my/app";

/// Seconds between retention / roll-up passes.
const MAINTAIN_SECS: u64 = 600;

pub fn run(cfg: ServerConfig) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cfg.log)
                .with_context(|| format!("bad log filter {:?}", cfg.log))?,
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(cfg))
}

async fn serve(cfg: ServerConfig) -> anyhow::Result<()> {
    let metrics_dir = cfg.data_dir.join("metrics");
    let store_cfg = StoreConfig {
        dir: metrics_dir.clone(),
        sync: cfg.wal_sync,
        max_series: cfg.max_series,
    };
    let store = tokio::task::spawn_blocking(move || MetricStore::open(store_cfg))
        .await?
        .with_context(|| format!("opening the metric store in {}", metrics_dir.display()))?;
    let store = Arc::new(store);
    let logs_dir = cfg.data_dir.join("logs");
    let mut logs_cfg = mw_logstore::LogStoreConfig::new(logs_dir.clone());
    logs_cfg.sync = cfg.wal_sync;
    let logs = tokio::task::spawn_blocking(move || mw_logstore::LogStore::open(logs_cfg))
        .await?
        .with_context(|| format!("opening the log store in {}", logs_dir.display()))?;
    let logs = Arc::new(logs);
    if cfg.keys.is_empty() {
        tracing::warn!(
            "no access keys configured: every request is accepted without a signature check"
        );
    } else {
        tracing::info!(keys = cfg.keys.len(), "SigV4 verification enabled");
    }
    let api = Arc::new(Api::new(
        store.clone(),
        logs.clone(),
        ApiConfig {
            credentials: Credentials::new(cfg.keys.clone()),
            ..ApiConfig::default()
        },
    ));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %cfg.data_dir.display(), "modelwatch server ready");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }

    let background = tokio::spawn(background(store.clone(), logs.clone(), cfg.checkpoint_secs));
    axum::serve(listener, mw_api::router(api))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    background.abort();
    tracing::info!("shutting down: flushing the metric and log stores");
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.close())
        .await?
        .context("flushing the metric store")?;
    let l = logs.clone();
    tokio::task::spawn_blocking(move || l.close())
        .await?
        .context("flushing the log store")?;
    tracing::info!("stopped");
    Ok(())
}

/// Runs one blocking store task and logs its failure as `what`; the data it
/// was working on stays in the write-ahead logs, so nothing is lost.
async fn run_logged<E: std::fmt::Display + Send + 'static>(
    what: &'static str,
    task: impl FnOnce() -> Result<(), E> + Send + 'static,
) {
    match tokio::task::spawn_blocking(task).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "{what} failed"),
        Err(e) => tracing::error!(error = %e, "{what} task failed"),
    }
}

async fn background(
    store: Arc<MetricStore>,
    logs: Arc<mw_logstore::LogStore>,
    checkpoint_secs: u64,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(checkpoint_secs));
    tick.tick().await;
    let mut since_maintain = 0u64;
    loop {
        tick.tick().await;
        let s = store.clone();
        run_logged("metric checkpoint", move || s.checkpoint()).await;
        let l = logs.clone();
        run_logged("log checkpoint", move || l.checkpoint()).await;
        since_maintain += checkpoint_secs;
        if since_maintain >= MAINTAIN_SECS {
            since_maintain = 0;
            let now = mw_model::time::now_ms();
            let s = store.clone();
            run_logged("metric retention", move || s.maintain(now)).await;
            let l = logs.clone();
            run_logged("log retention", move || l.maintain(now)).await;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
