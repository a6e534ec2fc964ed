//! `modelwatch server`: opens the metric and log stores, the alarm engine,
//! the action queue and the monitoring schedules, serves the API, runs the
//! checkpoint and retention loops, and flushes everything on SIGTERM/SIGINT.

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
  aws logs create-log-group --endpoint-url http://127.0.0.1:9600 --log-group-name /my/app
  aws cloudwatch put-metric-alarm --endpoint-url http://127.0.0.1:9600 --alarm-name slow \\
      --namespace MyApp --metric-name Latency --statistic Average --period 10 \\
      --evaluation-periods 3 --threshold 100 --comparison-operator GreaterThanThreshold

Alarm actions name a topic made with POST /api/v1/topics (webhook and e-mail
subscriptions) or a hook declared in the config file ([[hooks]] name + command
or url), as arn:modelwatch:hook:NAME.";

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
    let notifier = open_notifier(&cfg).await?;
    let alarms = open_alarms(&cfg, store.clone(), notifier.clone()).await?;
    let api = Arc::new(
        Api::new(
            store.clone(),
            logs.clone(),
            ApiConfig {
                credentials: Credentials::new(cfg.keys.clone()),
                ..ApiConfig::default()
            },
        )
        .with_alarms(alarms.clone()),
    );
    // Opened (its catalog checked against the folder tree) before the server
    // says it is ready, so a failure here is a failed start.
    let captures_dir = cfg.data_dir.join("captures");
    let mut captures_cfg = mw_capture::StoreConfig::new(captures_dir.clone());
    captures_cfg.writer.sync = cfg.wal_sync != mw_tsdb::SyncMode::None;
    let captures =
        tokio::task::spawn_blocking(move || mw_capture::CaptureStore::open(captures_cfg))
            .await
            .context("opening the capture store")?
            .with_context(|| format!("opening the capture store in {}", captures_dir.display()))?;
    let r = captures.reconciled();
    if let Some(why) = &r.rebuilt {
        tracing::warn!(reason = %why, "the capture catalog could not be read; rebuilt it from the folder tree");
    }
    if r.added > 0 || r.removed > 0 {
        tracing::info!(
            added = r.added,
            removed = r.removed,
            "capture catalog brought in line with the folder tree"
        );
    }
    let captures = Arc::new(captures);
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

    notifier.start();
    alarms.start();
    let background = tokio::spawn(background(
        store.clone(),
        logs.clone(),
        alarms.clone(),
        cfg.checkpoint_secs,
    ));
    let monitor = open_monitor(&cfg, captures.clone(), store.clone(), alarms.clone()).await?;
    monitor.start();
    // The native routes answer to the same access keys as the AWS APIs.
    let native = mw_api::native::require_signature(
        mw_api::native::actions_router(notifier.clone())
            .merge(mw_api::native::captures_router(captures.clone()))
            .merge(mw_api::native::monitoring_router(monitor.clone()))
            .merge(mw_api::native::metrics_router(
                store.clone(),
                Some(alarms.clone()),
            )),
        Credentials::new(cfg.keys.clone()),
    );
    let app = mw_api::router(api).merge(native);
    axum::serve(crate::bounded_io::BoundedListener(listener), app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    background.abort();
    tracing::info!("shutting down: stopping alarms and deliveries, flushing the stores");
    let (a, n, m) = (alarms.clone(), notifier.clone(), monitor.clone());
    tokio::task::spawn_blocking(move || {
        m.stop();
        a.stop();
        n.stop();
    })
    .await?;
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.close())
        .await?
        .context("flushing the metric store")?;
    let l = logs.clone();
    tokio::task::spawn_blocking(move || l.close())
        .await?
        .context("flushing the log store")?;
    tokio::task::spawn_blocking(move || captures.close())
        .await?
        .context("flushing the capture store")?;
    tracing::info!("stopped");
    Ok(())
}

async fn open_notifier(cfg: &ServerConfig) -> anyhow::Result<Arc<mw_notify::Notifier>> {
    let dir = cfg.data_dir.join("notify");
    let ncfg = mw_notify::NotifyConfig {
        dir: dir.clone(),
        hooks: cfg.alarms.hooks.clone(),
        smtp: cfg.alarms.smtp.clone(),
        max_attempts: cfg.alarms.max_attempts,
        region: cfg.alarms.region.clone(),
        account: cfg.alarms.account.clone(),
        ..mw_notify::NotifyConfig::default()
    };
    let notifier = tokio::task::spawn_blocking(move || mw_notify::Notifier::open(ncfg))
        .await?
        .with_context(|| format!("opening the action queue in {}", dir.display()))?;
    Ok(Arc::new(notifier))
}

async fn open_alarms(
    cfg: &ServerConfig,
    store: Arc<MetricStore>,
    notifier: Arc<mw_notify::Notifier>,
) -> anyhow::Result<Arc<mw_alarms::engine::Engine>> {
    let dir = cfg.data_dir.join("alarms");
    let opts = mw_alarms::engine::EngineOptions {
        dir: dir.clone(),
        region: cfg.alarms.region.clone(),
        account: cfg.alarms.account.clone(),
        delay_ms: i64::try_from(cfg.alarms.delay_ms).unwrap_or(1000),
        max_alarms: cfg.alarms.max_alarms,
        ..mw_alarms::engine::EngineOptions::default()
    };
    let source = Arc::new(mw_api::alarm_wiring::MetricSource { store });
    let sink = Arc::new(mw_api::alarm_wiring::NotifySink { notifier });
    let engine =
        tokio::task::spawn_blocking(move || mw_alarms::engine::Engine::open(opts, source, sink))
            .await?
            .with_context(|| format!("opening the alarms in {}", dir.display()))?;
    tracing::info!(alarms = engine.len(), "alarms loaded");
    Ok(engine)
}

/// The monitoring schedules in `<data-dir>/monitoring`, reading the capture
/// store and writing execution metrics into the metric store.
async fn open_monitor(
    cfg: &ServerConfig,
    captures: Arc<mw_capture::CaptureStore>,
    store: Arc<MetricStore>,
    alarms: Arc<mw_alarms::engine::Engine>,
) -> anyhow::Result<Arc<mw_monitor::schedule::Scheduler>> {
    let dir = cfg.data_dir.join("monitoring");
    let opts = mw_monitor::schedule::SchedulerOptions::new(dir.clone());
    let source = Arc::new(mw_api::native::monitoring::CaptureWindow { store: captures });
    let sink = Arc::new(mw_api::native::monitoring::StoreSink {
        store,
        alarms: Some(alarms),
    });
    let scheduler = tokio::task::spawn_blocking(move || {
        mw_monitor::schedule::Scheduler::open(opts, source, sink)
    })
    .await?
    .with_context(|| format!("opening the monitoring schedules in {}", dir.display()))?;
    Ok(Arc::new(scheduler))
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
    alarms: Arc<mw_alarms::engine::Engine>,
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
            let a = alarms.clone();
            run_logged("alarm history retention", move || {
                a.maintain(now).map(|_| ())
            })
            .await;
        }
    }
}

pub(crate) async fn shutdown_signal() {
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
