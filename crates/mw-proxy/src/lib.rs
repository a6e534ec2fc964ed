//! The inference sidecar: a reverse proxy in front of any HTTP model server.
//!
//! [`serve`] accepts HTTP/1.1 and h2c (prior knowledge) connections and hands
//! each request to [`proxy::Proxy::handle`]:
//!
//! ```text
//! client ──▶ limits (size, time, in-flight) ──▶ validation (optional schema)
//!        ──▶ upstream (pooled keep-alive) ──▶ response in SageMaker's shape
//!                      │ Outcome                    │ sampled bodies (Bytes, no copy)
//!                      ▼                            ▼
//!              metrics::Metrics (per period)   capture::Capture queue (bounded)
//!                      │ every flush                │ batches, off the request path
//!                      ▼                            ▼
//!         mw_client ─▶ server /api/v1/metrics   server /api/v1/captures or a local dir
//!                                               (disk buffer while the server is down)
//! ```
//!
//! Main types: [`ProxyConfig`], [`proxy::Proxy`], [`upstream::Upstream`],
//! [`metrics::Metrics`], [`capture::Capture`], [`validate::Schema`].
//!
//! Architecture invariant: the sidecar reaches the server only through
//! `mw_client`, and capture can never fail or block an inference: the
//! request path only samples and queues, and a full queue drops (and counts).

mod error;

pub mod capture;
pub mod metrics;
pub mod proxy;
pub mod upstream;
pub mod validate;

pub use error::{Error, ErrorKind, Result};

use http::Uri;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Everything the sidecar needs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http://host:port` of the model server.
    pub upstream: String,
    /// Speak h2c (HTTP/2 without TLS) to the upstream instead of HTTP/1.1.
    pub upstream_h2c: bool,
    pub endpoint: String,
    pub variant: String,
    /// `http://host:port` of the modelwatch server (metrics, captures).
    pub server: Option<String>,
    /// Signs requests to the server (when it has access keys configured).
    pub server_key: Option<mw_client::sigv4::Signer>,
    pub limits: proxy::Limits,
    /// Paths besides `/invocations` that are invocations (metered, captured).
    pub invocation_paths: Vec<String>,
    /// 1 (high resolution) or 60 seconds.
    pub metrics_resolution: u32,
    pub metrics_flush: Duration,
    pub capture: Option<capture::CaptureConfig>,
    pub schema: Option<validate::Schema>,
    /// Serving threads (each with its own runtime and upstream pool).
    pub threads: usize,
}

fn parse_base(what: &str, url: &str) -> Result<Uri> {
    let uri: Uri = url
        .trim_end_matches('/')
        .parse()
        .map_err(|e| Error::invalid(format!("{what} URL {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(Error::invalid(format!(
            "{what} URL {url:?} must be http://host:port"
        )));
    }
    if !matches!(uri.path(), "" | "/") {
        return Err(Error::invalid(format!(
            "{what} URL {url:?} must not have a path"
        )));
    }
    Ok(uri)
}

/// Serves on `listener` until `shutdown` resolves, then lets requests in
/// progress finish (up to 10 s) and publishes the last metrics and captures.
///
/// Requests are served by `cfg.threads` threads, each with its own
/// single-threaded runtime, accept loop, upstream connection pool and metrics
/// shard (as nginx's workers), so a request and its upstream call never hop
/// between threads. The capture queue and the in-flight bound are shared.
/// The capture worker and the metrics publisher run on the caller's runtime.
pub async fn serve(
    cfg: ProxyConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    mw_capture::layout::validate_name("endpoint name", &cfg.endpoint)?;
    mw_capture::layout::validate_name("variant name", &cfg.variant)?;
    let upstream = parse_base("upstream", &cfg.upstream)?;
    let server = match &cfg.server {
        Some(s) => {
            let client = mw_client::Client::new(s, Duration::from_secs(10))?;
            Some(match &cfg.server_key {
                Some(k) => client.with_signer(k.clone()),
                None => client,
            })
        }
        None => None,
    };
    let metrics = Arc::new(metrics::Metrics::new(
        &cfg.endpoint,
        &cfg.variant,
        cfg.metrics_resolution,
    ));
    let (capture, worker) = match &cfg.capture {
        Some(c) => {
            let (handle, worker) = capture::start(c, &cfg.endpoint, &cfg.variant, server.clone())?;
            (Some(handle), Some(worker))
        }
        None => (None, None),
    };
    let capture_stats = capture.as_ref().map(|c| c.stats.clone());
    let (csv_types, json_types) = match &cfg.capture {
        Some(c) => (
            c.content_types.csv().to_vec(),
            c.content_types.json().to_vec(),
        ),
        None => {
            let d = mw_capture::ContentTypes::default();
            (d.csv().to_vec(), d.json().to_vec())
        }
    };
    let in_flight = Arc::new(tokio::sync::Semaphore::new(cfg.limits.max_in_flight));
    let worker = worker.map(tokio::spawn);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if server.is_none() {
        tracing::warn!("no --server given: endpoint metrics are aggregated but not published");
    }
    let publisher = tokio::spawn(metrics::run_publisher(
        metrics.clone(),
        capture_stats,
        server,
        cfg.metrics_flush,
        stop_rx.clone(),
    ));

    let std_listener = listener
        .into_std()
        .map_err(|e| Error::io("preparing the listener", e))?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut threads = Vec::new();
    for i in 0..cfg.threads.max(1) {
        let l = std_listener
            .try_clone()
            .map_err(|e| Error::io("sharing the listener", e))?;
        let state = proxy::Proxy {
            endpoint: cfg.endpoint.clone(),
            variant: cfg.variant.clone(),
            limits: cfg.limits.clone(),
            invocation_paths: cfg.invocation_paths.clone(),
            upstream: upstream::Upstream::new(
                &upstream,
                cfg.upstream_h2c,
                cfg.limits.upstream_timeout,
                cfg.limits.max_in_flight,
            ),
            metrics: metrics.shard(),
            invoked_variant: http::HeaderValue::from_str(&cfg.variant).ok(),
            capture: capture.clone(),
            schema: cfg.schema.clone(),
            csv_types: csv_types.clone(),
            json_types: json_types.clone(),
            in_flight: in_flight.clone(),
        };
        let stop = stop_rx.clone();
        let client_timeout = cfg.limits.client_timeout;
        let done = done_tx.clone();
        let t = std::thread::Builder::new()
            .name(format!("proxy-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "starting a serving thread failed");
                        return;
                    }
                };
                rt.block_on(accept_loop(l, Arc::new(state), client_timeout, stop));
                drop(done);
            })
            .map_err(|e| Error::io("starting a serving thread", e))?;
        threads.push(t);
    }
    drop(done_tx);
    drop(capture);
    drop(std_listener);
    shutdown.await;
    tracing::info!("shutting down: finishing requests in progress");
    let _ = stop_tx.send(true);
    // Every serving thread drops its sender when it is done.
    let _ = done_rx.recv().await;
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
    // The serving threads held the last queue handles: the capture worker now drains and stops.
    if let Some(w) = worker {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), publisher).await;
    Ok(())
}

async fn accept_loop(
    listener: std::net::TcpListener,
    state: Arc<proxy::Proxy>,
    client_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "registering the listener failed");
            return;
        }
    };
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .keep_alive(true);
    http.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256u32);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        let svc = service_fn(move |req| {
            let st = st.clone();
            async move { Ok::<_, Infallible>(st.handle(req).await) }
        });
        let conn = http
            .serve_connection(TokioIo::new(stream), svc)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(state);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after 10 s; closing");
    }
}
