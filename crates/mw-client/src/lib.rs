//! A typed async client of the modelwatch server, for the sidecar and the agent.
//!
//! [`Client`] keeps a pool of keep-alive HTTP/1.1 connections to one server
//! and speaks:
//!
//! - [`Client::put_metrics`]: the native metric ingest (`POST /api/v1/metrics`,
//!   PutMetricData's JSON shape), which also takes AWS's own namespaces such
//!   as `AWS/SageMaker`;
//! - [`Client::put_metric_data`]: CloudWatch's PutMetricData over AWS JSON 1.0,
//!   for user namespaces, exactly as boto3 sends it;
//! - [`Client::put_captures`] / [`Client::put_ground_truth`]: JSONL batches
//!   of capture and ground-truth records.
//!
//! Errors say whether trying again can help ([`Error::is_retryable`]): the
//! server being down, slow or failing is; a request it rejected is not.

pub mod sigv4;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use std::time::Duration;

/// Largest response body read from the server.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Most datums per request, as PutMetricData allows.
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was invalid (bad URL or data the client refuses to send).
    InvalidParameter,
    /// The server answered 4XX: sending the same request again cannot help.
    Rejected,
    /// The server could not be reached, timed out or answered 5XX.
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("the server rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the server is unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::Rejected { .. } => ErrorKind::Rejected,
            Error::Unavailable(_) => ErrorKind::Unavailable,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The measured part of a datum.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Single(f64),
    /// (value, count) pairs, at most 150.
    Values(Vec<(f64, f64)>),
    Stats {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

/// One metric data point.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    /// CloudWatch unit name (`Count`, `Microseconds`, ...).
    pub unit: &'static str,
    pub timestamp_ms: i64,
    pub value: MetricValue,
    /// 1 (high resolution) or 60.
    pub storage_resolution: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutOut<'a> {
    namespace: &'a str,
    metric_data: Vec<DatumOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DatumOut<'a> {
    metric_name: &'a str,
    dimensions: Vec<DimOut<'a>>,
    timestamp: f64,
    unit: &'a str,
    storage_resolution: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic_values: Option<StatsOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DimOut<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatsOut {
    sample_count: f64,
    sum: f64,
    minimum: f64,
    maximum: f64,
}

fn encode_put(namespace: &str, data: &[MetricDatum]) -> Vec<u8> {
    let out = PutOut {
        namespace,
        metric_data: data
            .iter()
            .map(|d| {
                let mut o = DatumOut {
                    metric_name: &d.name,
                    dimensions: d
                        .dimensions
                        .iter()
                        .map(|(n, v)| DimOut { name: n, value: v })
                        .collect(),
                    timestamp: d.timestamp_ms as f64 / 1000.0,
                    unit: d.unit,
                    storage_resolution: d.storage_resolution,
                    value: None,
                    values: None,
                    counts: None,
                    statistic_values: None,
                };
                match &d.value {
                    MetricValue::Single(v) => o.value = Some(*v),
                    MetricValue::Values(vs) => {
                        o.values = Some(vs.iter().map(|p| p.0).collect());
                        o.counts = Some(vs.iter().map(|p| p.1).collect());
                    }
                    MetricValue::Stats {
                        count,
                        sum,
                        min,
                        max,
                    } => {
                        o.statistic_values = Some(StatsOut {
                            sample_count: *count,
                            sum: *sum,
                            minimum: *min,
                            maximum: *max,
                        })
                    }
                }
                o
            })
            .collect(),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

/// A client of one modelwatch server.
#[derive(Clone)]
pub struct Client {
    base: String,
    /// `host[:port]` of the server, as the Host header carries it.
    host: String,
    http: hyper_util::client::legacy::Client<HttpConnector, Pieces>,
    timeout: Duration,
    signer: Option<sigv4::Signer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// `base_url` is `http://host:port` (no path); `timeout` bounds each call.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Client> {
        let base = base_url.trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .map_err(|e| Error::InvalidParameter(format!("server URL {base_url:?}: {e}")))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(Error::InvalidParameter(format!(
                "server URL {base_url:?} must be http://host:port"
            )));
        }
        if !matches!(uri.path(), "" | "/") {
            return Err(Error::InvalidParameter(format!(
                "server URL {base_url:?} must not have a path"
            )));
        }
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(timeout.min(Duration::from_secs(5))));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .build(conn);
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        Ok(Client {
            base,
            host,
            http,
            timeout,
            signer: None,
        })
    }

    /// Signs every request with `signer` (SigV4), for servers with access
    /// keys configured.
    pub fn with_signer(mut self, signer: sigv4::Signer) -> Client {
        self.signer = Some(signer);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Bytes> {
        let uri = format!("{}{}", self.base, path_and_query);
        let mut b = Request::builder().method(Method::POST).uri(&uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(signer) = &self.signer {
            let (path, query) = path_and_query
                .split_once('?')
                .unwrap_or((path_and_query, ""));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            for (k, v) in signer.headers("POST", &self.host, path, query, now)? {
                b = b.header(k, v);
            }
        }
        let req = b
            .body(Pieces::new(body))
            .map_err(|e| Error::InvalidParameter(format!("building request to {uri}: {e}")))?;
        let fut = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| Error::Unavailable(format!("{uri}: {}", error_chain(&e))))?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| Error::Unavailable(format!("{uri}: reading the response: {e}")))?
                .to_bytes();
            Ok::<_, Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| {
                Error::Unavailable(format!("{uri}: no answer within {:?}", self.timeout))
            })??;
        if status.is_success() {
            return Ok(body);
        }
        let message = error_message(&body);
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            Err(Error::Rejected {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(Error::Unavailable(format!("{uri}: {status}: {message}")))
        }
    }

    /// Publishes datums through the native ingest (any namespace, `AWS/` included),
    /// in requests of at most 1000 datums.
    pub async fn put_metrics(&self, namespace: &str, data: &[MetricDatum]) -> Result<()> {
        for chunk in data.chunks(MAX_DATUMS_PER_REQUEST) {
            let body = encode_put(namespace, chunk);
            self.call(
                "/api/v1/metrics",
                &[("content-type", "application/json")],
                body.into(),
            )
            .await?;
        }
        Ok(())
    }

    /// CloudWatch PutMetricData over AWS JSON 1.0 (user namespaces only).
    pub async fn put_metric_data(&self, namespace: &str, data: &[MetricDatum]) -> Result<()> {
        for chunk in data.chunks(MAX_DATUMS_PER_REQUEST) {
            let body = encode_put(namespace, chunk);
            self.call(
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    (
                        "x-amz-target",
                        "GraniteServiceVersion20100801.PutMetricData",
                    ),
                ],
                body.into(),
            )
            .await?;
        }
        Ok(())
    }

    /// Sends a JSONL batch of capture records; returns how many were stored.
    pub async fn put_captures(&self, endpoint: &str, variant: &str, jsonl: Bytes) -> Result<u64> {
        check_name(endpoint)?;
        check_name(variant)?;
        let body = self
            .call(
                &format!("/api/v1/captures/{endpoint}/{variant}"),
                &[("content-type", "application/x-ndjson")],
                jsonl,
            )
            .await?;
        Ok(accepted(&body))
    }

    /// Sends a JSONL batch of ground-truth records; returns how many were stored.
    pub async fn put_ground_truth(&self, endpoint: &str, jsonl: Bytes) -> Result<u64> {
        check_name(endpoint)?;
        let body = self
            .call(
                &format!("/api/v1/ground-truth/{endpoint}"),
                &[("content-type", "application/x-ndjson")],
                jsonl,
            )
            .await?;
        Ok(accepted(&body))
    }
}

/// Most bytes of a request body written in one system call.
const PIECE_BYTES: usize = 16 * 1024;

/// A request body sent in pieces of at most [`PIECE_BYTES`], each written
/// on its own: between two pieces the body is not ready for one turn of
/// the task, so the connection writes what it holds first.
///
/// A sidecar sends a capture batch of a few hundred kilobytes ten times a
/// second from a background thread on the serving threads' cores. Written
/// in one system call, a batch is tens to hundreds of microseconds of
/// kernel work (over loopback, the receiving side's too) that a kernel
/// without kernel preemption finishes before a serving thread woken by a
/// request can run. In pieces, a woken serving thread waits at most for one.
pub struct Pieces {
    rest: Bytes,
    /// Return `Pending` once before the next piece.
    pause: bool,
}

impl Pieces {
    pub fn new(body: Bytes) -> Pieces {
        Pieces {
            rest: body,
            pause: false,
        }
    }
}

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        if self.pause {
            self.pause = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = self.rest.len().min(PIECE_BYTES);
        let piece = self.rest.split_to(n);
        self.pause = !self.rest.is_empty();
        Poll::Ready(Some(Ok(hyper::body::Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.rest.len() as u64)
    }
}

/// Endpoint and variant names become URL path segments: letters, digits, hyphens.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 63
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::InvalidParameter(format!(
            "{name:?} is not a valid endpoint or variant name"
        )));
    }
    Ok(())
}

fn accepted(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("accepted").and_then(|a| a.as_u64()))
        .unwrap_or(0)
}

/// The message of a native (`error.message`) or AWS JSON (`message`) error body.
fn error_message(body: &[u8]) -> String {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    };
    for ptr in ["/error/message", "/message", "/Message"] {
        if let Some(m) = v.pointer(ptr).and_then(|m| m.as_str()) {
            return m.to_string();
        }
    }
    v.to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_go_in_pieces_with_a_pause_between() {
        use hyper::body::Body;
        use std::task::{Context, Poll, Waker};
        let data: Vec<u8> = (0..(2 * PIECE_BYTES + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut b = Pieces::new(Bytes::from(data.clone()));
        assert_eq!(b.size_hint().exact(), Some(data.len() as u64));
        let mut cx = Context::from_waker(Waker::noop());
        let mut got = Vec::new();
        let mut polls = Vec::new();
        loop {
            match std::pin::Pin::new(&mut b).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(f))) => {
                    let d = f.into_data().unwrap();
                    polls.push(Some(d.len()));
                    got.extend_from_slice(&d);
                }
                Poll::Ready(None) => break,
                Poll::Pending => polls.push(None),
                Poll::Ready(Some(Err(e))) => match e {},
            }
        }
        assert_eq!(got, data);
        assert!(b.is_end_stream());
        assert_eq!(
            polls,
            [Some(PIECE_BYTES), None, Some(PIECE_BYTES), None, Some(100)]
        );
        let mut empty = Pieces::new(Bytes::new());
        assert!(empty.is_end_stream());
        assert!(matches!(
            std::pin::Pin::new(&mut empty).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }

    #[test]
    fn encodes_putmetricdata_json() {
        let d = vec![
            MetricDatum {
                name: "Invocations".into(),
                dimensions: vec![("EndpointName".into(), "e".into())],
                unit: "Count",
                timestamp_ms: 1_700_000_000_500,
                value: MetricValue::Single(3.0),
                storage_resolution: 60,
            },
            MetricDatum {
                name: "ModelLatency".into(),
                dimensions: vec![],
                unit: "Microseconds",
                timestamp_ms: 1_700_000_000_000,
                value: MetricValue::Values(vec![(10.0, 2.0), (20.0, 1.0)]),
                storage_resolution: 1,
            },
        ];
        let v: serde_json::Value =
            serde_json::from_slice(&encode_put("AWS/SageMaker", &d)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Namespace": "AWS/SageMaker", "MetricData": [
                {"MetricName": "Invocations", "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
                 "Timestamp": 1_700_000_000.5, "Unit": "Count", "StorageResolution": 60, "Value": 3.0},
                {"MetricName": "ModelLatency", "Dimensions": [], "Timestamp": 1_700_000_000.0,
                 "Unit": "Microseconds", "StorageResolution": 1, "Values": [10.0, 20.0], "Counts": [2.0, 1.0]}
            ]})
        );
    }

    #[test]
    fn urls_and_names_are_checked() {
        assert!(Client::new("http://127.0.0.1:9600", Duration::from_secs(1)).is_ok());
        assert!(Client::new("http://127.0.0.1:9600/", Duration::from_secs(1)).is_ok());
        for bad in [
            "127.0.0.1:9600",
            "https://x:1",
            "http://x:1/api",
            "nonsense",
        ] {
            let e = Client::new(bad, Duration::from_secs(1)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{bad}");
        }
        assert!(check_name("a/b").is_err());
        assert!(check_name("my-endpoint").is_ok());
        assert_eq!(
            error_message(br#"{"error":{"code":"X","message":"bad line"}}"#),
            "bad line"
        );
        assert_eq!(error_message(b"plain"), "plain");
    }

    #[tokio::test]
    async fn unreachable_server_is_retryable() {
        // Port 1 on loopback refuses connections.
        let c = Client::new("http://127.0.0.1:1", Duration::from_secs(2)).unwrap();
        let e = c
            .put_captures("e", "v", Bytes::from_static(b"{}\n"))
            .await
            .unwrap_err();
        assert!(e.is_retryable(), "{e}");
    }
}
