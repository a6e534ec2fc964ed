//! The inference sidecar: a reverse proxy in front of any HTTP model server.
//!
//! [`serve`] accepts HTTP/1.1 (the proxy's own [`h1`]) and h2c (hyper)
//! connections and hands each request to [`proxy::Proxy::handle`]:
//!
//! ```text
//! client ──▶ limits (size, time, in-flight) ──▶ validation (optional schema)
//!        ──▶ upstream (pooled keep-alive) ──▶ response in SageMaker's shape
//!                      │ Outcome                    │ sampled record, copied after
//!                      ▼                            ▼ the answer is written
//!              metrics::Metrics (per period)   capture::Capture (per-thread buffer, bounded)
//!                      │ every flush                │ swapped and encoded every flush, off the
//!                      │                            │ request path (background threads: SCHED_IDLE)
//!                      ▼                            ▼
//!         mw_client ─▶ server /api/v1/metrics   server /api/v1/captures or a local dir
//!                                               (disk buffer while the server is down)
//! ```
//!
//! Main types: [`ProxyConfig`], [`proxy::Proxy`], [`upstream::Upstream`],
//! [`h1::ServerConn`], [`metrics::Metrics`], [`capture::Capture`],
//! [`validate::Schema`].
//!
//! Architecture invariant: the sidecar reaches the server only through
//! `mw_client`, and capture can never fail or block an inference: the
//! request path only samples and copies into memory, and full buffers drop
//! (and count).

mod error;

pub mod background;
mod busy_poll;
pub mod capture;
pub mod fields;
pub mod h1;
pub mod metrics;
pub mod proxy;
pub mod upstream;
pub mod validate;

pub use error::{Error, ErrorKind, Result};

use http::{Method, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

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
    /// Longest a serving thread polls, without sleeping, for an upstream
    /// answer (zero: it always sleeps). See `busy_poll`.
    pub busy_poll: Duration,
}

/// Checks a model-server or server base URL (`http://host:port`); `what`
/// names it in the error.
pub fn parse_base(what: &str, url: &str) -> Result<Uri> {
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
    let connections = Arc::new(tokio::sync::Semaphore::new(cfg.limits.max_connections));
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
            capture: capture.as_ref().map(capture::Capture::for_thread),
            schema: cfg.schema.clone(),
            csv_types: csv_types.clone(),
            json_types: json_types.clone(),
            in_flight: in_flight.clone(),
        };
        let stop = stop_rx.clone();
        let connections = connections.clone();
        let client_timeout = cfg.limits.client_timeout;
        let busy_poll = cfg.busy_poll;
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
                rt.block_on(accept_loop(
                    l,
                    Arc::new(state),
                    connections,
                    client_timeout,
                    busy_poll,
                    stop,
                ));
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

/// A time limit that ran out.
#[derive(Debug)]
pub(crate) struct TimedOut;

/// Runs `fut` within `limit`. The timer is set only when `fut` does not
/// finish at its first poll: most reads and writes of a request find their
/// bytes already there, or room in the socket, and so cost no timer.
/// `fut` is pinned by the caller, so that it is not copied here.
pub(crate) async fn within<F: Future + Unpin>(
    limit: Duration,
    mut fut: F,
) -> std::result::Result<F::Output, TimedOut> {
    let first =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut fut).poll(cx)))
            .await;
    match first {
        std::task::Poll::Ready(v) => Ok(v),
        std::task::Poll::Pending => tokio::time::timeout(limit, fut).await.map_err(|_| TimedOut),
    }
}

/// Period of each serving thread's heartbeat timer (see `accept_loop`).
const HEARTBEAT: Duration = Duration::from_millis(50);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Longest an HTTP/1.1 connection waits idle for its next request.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(75);
/// Most bytes of an unread request body skipped to keep the connection.
const MAX_SKIP_BYTES: usize = 1024 * 1024;
/// HTTP/2's connection preface: an h2c (prior knowledge) client.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

async fn accept_loop(
    listener: std::net::TcpListener,
    state: Arc<proxy::Proxy>,
    connections: Arc<tokio::sync::Semaphore>,
    client_timeout: Duration,
    busy_poll: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "registering the listener failed");
            return;
        }
    };
    // A timer that always fires within HEARTBEAT. Tokio wakes its own
    // driver (an eventfd write, and one more turn of the event loop)
    // whenever a new timer is due before every pending one; without this,
    // each request's timeouts would be such a timer. With it, they never are.
    let heartbeat = tokio::spawn(async {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
        }
    });
    let _poller =
        (!busy_poll.is_zero()).then(|| AbortOnDrop(tokio::spawn(busy_poll::poller(busy_poll))));
    let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new()).max_concurrent_streams(256u32);
    // Every connection holds a sender: all are gone when they are done.
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
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
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            // At the bound: closed at once (memory stays bounded, the
            // connections already open keep being served).
            tracing::warn!("too many client connections; closing a new one");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        let alive = alive_tx.clone();
        let stop = stop.clone();
        let h2 = h2.clone();
        tokio::spawn(async move {
            if is_h2c(&stream, client_timeout).await {
                serve_h2(stream, h2, st, stop).await;
            } else {
                serve_h1(h1::ServerConn::new(stream), &st, client_timeout, stop).await;
            }
            drop(alive);
            drop(slot);
        });
    }
    drop(listener);
    drop(state);
    drop(alive_tx);
    let _abort_on_exit = AbortOnDrop(heartbeat);
    if tokio::time::timeout(Duration::from_secs(10), alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after 10 s; closing");
    }
}

/// Whether a new connection opens with HTTP/2's preface (read without
/// taking it from the socket). A connection that sends nothing within
/// `timeout` is treated as HTTP/1.1, which then times it out.
async fn is_h2c(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    let mut probe = [0u8; H2_PREFACE.len()];
    let peek = async {
        loop {
            let n = stream.peek(&mut probe).await.unwrap_or(0);
            if n == 0 || probe[..n] != H2_PREFACE[..n] {
                return false;
            }
            if n == H2_PREFACE.len() {
                return true;
            }
            // A prefix of the preface so far: wait for more.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(timeout, peek).await.unwrap_or(false)
}

/// Serves an h2c connection with hyper until it ends. It is closed
/// gracefully (streams in progress finish) when the proxy stops, or when no
/// stream has been open for [`KEEPALIVE_IDLE`], as an idle HTTP/1.1
/// connection is; pings find peers that are gone.
async fn serve_h2(
    stream: tokio::net::TcpStream,
    mut h2: hyper::server::conn::http2::Builder<TokioExecutor>,
    state: Arc<proxy::Proxy>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let started = std::time::Instant::now();
    // Streams open now, and when the last one ended (ms since `started`).
    let activity = Arc::new((AtomicUsize::new(0), AtomicU64::new(0)));
    let act = activity.clone();
    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
        let st = state.clone();
        let act = act.clone();
        async move {
            act.0.fetch_add(1, Ordering::Relaxed);
            let mut after = proxy::After::default();
            let resp = st.handle(proxy::Req::from_h2(req), &mut after).await;
            st.finish(after);
            act.1
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            act.0.fetch_sub(1, Ordering::Relaxed);
            Ok::<_, Infallible>(resp.into_response().map(Full::new))
        }
    });
    h2.keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = h2.serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    let mut check = tokio::time::interval(KEEPALIVE_IDLE / 4);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    let res = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = check.tick(), if !closing => {
                let idle_ms = (started.elapsed().as_millis() as u64)
                    .saturating_sub(activity.1.load(Ordering::Relaxed));
                if activity.0.load(Ordering::Relaxed) == 0
                    && idle_ms >= KEEPALIVE_IDLE.as_millis() as u64
                {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    };
    if let Err(e) = res {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Serves the requests of one HTTP/1.1 connection, one after the other,
/// until the client closes it, asks to, errs, or the proxy stops.
///
/// The idle timer and the wait for the stop signal are set up once per
/// connection, not once per request: the timer is armed for
/// [`KEEPALIVE_IDLE`] after the connection's last request and, when it
/// fires, either closes the connection or is moved to that request's end.
async fn serve_h1(
    mut conn: h1::ServerConn,
    state: &proxy::Proxy,
    client_timeout: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut stop_signal = stop.clone();
    let mut stopped = std::pin::pin!(stop_signal.changed());
    let mut idle_timer = std::pin::pin!(tokio::time::sleep(KEEPALIVE_IDLE));
    let mut last_request = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        // Idle: wait for the first byte of the next request.
        while !conn.has_buffered() {
            tokio::select! {
                biased;
                r = conn.wait_request() => match r {
                    Ok(true) => break,
                    _ => return,
                },
                _ = idle_timer.as_mut() => {
                    let due = last_request + KEEPALIVE_IDLE;
                    if tokio::time::Instant::now() >= due {
                        return;
                    }
                    idle_timer.as_mut().reset(due);
                }
                _ = stopped.as_mut() => return,
            }
        }
        let read = {
            let read = std::pin::pin!(conn.read_head());
            within(client_timeout, read).await
        };
        let head = match read {
            Ok(Ok(h)) => h,
            Ok(Err(h1::ReadError::Closed | h1::ReadError::Io(_))) => return,
            Ok(Err(e)) => {
                let status = match e {
                    h1::ReadError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                let _ =
                    tokio::time::timeout(client_timeout, conn.write_error(status, &e.to_string()))
                        .await;
                return;
            }
            Err(_) => {
                let msg = format!(
                    "the request head did not arrive within {} s",
                    client_timeout.as_secs_f64()
                );
                let _ = tokio::time::timeout(
                    client_timeout,
                    conn.write_error(StatusCode::REQUEST_TIMEOUT, &msg),
                )
                .await;
                return;
            }
        };
        let head_request = head.method == Method::HEAD;
        let http10 = head.version == http::Version::HTTP_10;
        let mut close = !head.keep_alive;
        let req = proxy::Req {
            method: head.method,
            uri: head.uri,
            headers: head.headers,
            body: proxy::ReqBody::H1(&mut conn),
        };
        let mut after = proxy::After::default();
        let reply = state.handle(req, &mut after).await;
        if !conn.body_done() {
            // Answered without reading the body: skip it, or close. A client
            // that already ran out of time gets its 408 at once.
            close |= reply.status == StatusCode::REQUEST_TIMEOUT
                || !matches!(
                    tokio::time::timeout(client_timeout, conn.discard_body(MAX_SKIP_BYTES)).await,
                    Ok(true)
                );
        }
        close |= *stop.borrow();
        let connection = match (close, http10) {
            (true, _) => h1::Connection::Close,
            (false, true) => h1::Connection::KeepAlive10,
            (false, false) => h1::Connection::KeepAlive,
        };
        let written = {
            let write = std::pin::pin!(conn.write_response(
                reply.status,
                &reply.headers,
                &reply.body,
                head_request,
                connection,
            ));
            within(client_timeout, write).await
        };
        last_request = match state.finish(after) {
            Some(end) => tokio::time::Instant::from_std(end),
            None => tokio::time::Instant::now(),
        };
        if !matches!(written, Ok(Ok(()))) {
            return;
        }
        if close {
            let _ = conn.io.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn proxy_without_upstream() -> proxy::Proxy {
        let metrics = metrics::Metrics::new("m", "AllTraffic", 60);
        let limits = proxy::Limits {
            max_body_bytes: 1024,
            max_response_bytes: 1024,
            upstream_timeout: Duration::from_secs(1),
            client_timeout: Duration::from_secs(30),
            max_in_flight: 4,
            max_connections: 4,
        };
        proxy::Proxy {
            endpoint: "m".to_string(),
            variant: "AllTraffic".to_string(),
            upstream: upstream::Upstream::new(
                &Uri::from_static("http://127.0.0.1:9"),
                false,
                Duration::from_secs(1),
                1,
            ),
            in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
            limits,
            invocation_paths: Vec::new(),
            metrics: metrics.shard(),
            invoked_variant: None,
            capture: None,
            schema: None,
            csv_types: Vec::new(),
            json_types: Vec::new(),
        }
    }

    /// A task serving one HTTP/1.1 connection, and that connection's client side.
    async fn serve_one_connection(
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> (tokio::task::JoinHandle<()>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let st = proxy_without_upstream();
            serve_h1(h1::ServerConn::new(s), &st, Duration::from_secs(30), stop).await;
        });
        let c = tokio::net::TcpStream::connect(addr).await.unwrap();
        (server, c)
    }

    /// Reads what arrives within 2 s (of paused time): the bytes, and whether the peer closed.
    async fn read_some(c: &mut tokio::net::TcpStream) -> (Vec<u8>, bool) {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => (Vec::new(), true),
            Ok(Ok(n)) => (buf[..n].to_vec(), false),
            Err(_) => (Vec::new(), false),
        }
    }

    /// The idle timer counts from a connection's last request, not from
    /// when it was opened: a request moves it, and silence then closes it.
    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_keepalive_idle_after_their_last_request() {
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (server, mut c) = serve_one_connection(stop_rx).await;
        tokio::time::sleep(KEEPALIVE_IDLE / 2).await;
        c.write_all(b"GET /_modelwatch/stats HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let (answer, closed) = read_some(&mut c).await;
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"), "{answer:?}");
        assert!(!closed);
        // Past KEEPALIVE_IDLE since the connection opened, not since the request.
        tokio::time::sleep(KEEPALIVE_IDLE * 3 / 4).await;
        assert!(!server.is_finished(), "closed too early");
        let (_, closed) = read_some(&mut c).await;
        assert!(!closed, "closed too early");
        // Past KEEPALIVE_IDLE since the request.
        tokio::time::sleep(KEEPALIVE_IDLE / 2).await;
        let (_, closed) = read_some(&mut c).await;
        assert!(closed, "an idle connection stayed open");
        server.await.unwrap();
    }

    /// Stopping the proxy closes an idle connection at once.
    #[tokio::test]
    async fn stopping_closes_idle_connections() {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (server, mut c) = serve_one_connection(stop_rx).await;
        c.write_all(b"GET /_modelwatch/stats HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let (answer, _) = read_some(&mut c).await;
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"), "{answer:?}");
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the connection was not closed on stop")
            .unwrap();
        let (_, closed) = read_some(&mut c).await;
        assert!(closed);
    }
}
