//! The request path: routing, limits, validation, the upstream call, the
//! SageMaker Runtime response and error shapes, metrics and capture.
//!
//! Three kinds of request:
//!
//! - `POST /endpoints/{name}/invocations`: SageMaker Runtime's InvokeEndpoint,
//!   forwarded to the upstream's `/invocations` (the container contract).
//!   Answers use the runtime's headers (`x-Amzn-Invoked-Production-Variant`,
//!   `X-Amzn-SageMaker-Custom-Attributes`) and error shapes (`ValidationError`
//!   400, `ModelError` 424 with `OriginalStatusCode` / `OriginalMessage`,
//!   `ServiceUnavailable` 503, each named in `X-Amzn-ErrorType`), so boto3's
//!   `invoke_endpoint` works unchanged and raises its typed exceptions.
//! - `POST /invocations` and any configured invocation path: the same
//!   metering, validation and capture, forwarded as is; the model's own
//!   status is passed back, and the proxy's errors are plain statuses
//!   (413, 408, 400, 502, 504, 503) with a JSON `{"error": ...}` body.
//! - anything else: passed through unmetered.
//!
//! Time: ModelLatency is from sending the request upstream to having read
//! the whole response; OverheadLatency is the rest of the time from the
//! request's arrival to the response being handed to the connection.

use crate::capture::{Capture, Item};
use crate::fields::{Fields, Name};
use crate::metrics::{Class, MetricsShard, Outcome};
use crate::upstream::{CallError, Upstream as Pool};
use crate::validate::{PayloadKind, Schema};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request's body, read by the handler (which applies the limits).
pub enum ReqBody<'a> {
    /// An HTTP/2 stream (hyper).
    H2(Incoming),
    /// The current request of an HTTP/1.1 connection the proxy reads itself.
    H1(&'a mut crate::h1::ServerConn),
}

/// A request on its way through the proxy.
pub struct Req<'a> {
    pub method: Method,
    pub uri: Uri,
    pub headers: Fields,
    pub body: ReqBody<'a>,
}

impl<'a> Req<'a> {
    /// An HTTP/2 request (hyper's).
    pub fn from_h2(req: http::Request<Incoming>) -> Req<'a> {
        let (parts, body) = req.into_parts();
        Req {
            method: parts.method,
            uri: parts.uri,
            headers: Fields::from(parts.headers),
            body: ReqBody::H2(body),
        }
    }
}

/// An answer, whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Fields,
    pub body: Bytes,
}

impl Reply {
    fn new(status: StatusCode, headers: Fields, body: Bytes) -> Reply {
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The same answer as an `http::Response` (for hyper).
    pub fn into_response(self) -> Response<Bytes> {
        let mut r = Response::new(self.body);
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers.into_header_map();
        r
    }
}

const H_INVOKED_VARIANT: HeaderName = HeaderName::from_static("x-amzn-invoked-production-variant");
const H_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
const H_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const ACCOUNT: &str = "000000000000";
/// The container contract's invocation path (parsed once: `Uri::from_static`
/// checks its bytes on every call).
static INVOCATIONS: std::sync::LazyLock<Uri> =
    std::sync::LazyLock::new(|| Uri::from_static("/invocations"));
/// The content type of a payload that came without one.
const OCTET_STREAM_TYPE: &str = "application/octet-stream";
const OCTET_STREAM: HeaderValue = HeaderValue::from_static(OCTET_STREAM_TYPE);
/// Most bytes of a too-large body read (and discarded) before answering 413.
const MAX_DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Settings of the request path.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    pub upstream_timeout: Duration,
    pub client_timeout: Duration,
    pub max_in_flight: usize,
    /// Client connections open at once (all serving threads together).
    pub max_connections: usize,
}

pub struct Proxy {
    pub endpoint: String,
    pub variant: String,
    pub limits: Limits,
    pub invocation_paths: Vec<String>,
    /// This serving thread's connections to the model server.
    pub upstream: Pool,
    /// This serving thread's share of the endpoint metrics.
    pub metrics: MetricsShard,
    /// `x-Amzn-Invoked-Production-Variant` of answers.
    pub invoked_variant: Option<HeaderValue>,
    pub capture: Option<Capture>,
    pub schema: Option<Schema>,
    pub csv_types: Vec<String>,
    pub json_types: Vec<String>,
    pub in_flight: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Runtime,
    Container,
}

/// A proxy-made error answer.
struct Reject {
    status: StatusCode,
    code: &'static str,
    message: String,
    class: Class,
}

impl Reject {
    fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Reject {
        Reject {
            status,
            code,
            message: message.into(),
            class: Class::ClientError,
        }
    }
}

/// `h` without the headers that belong to one connection.
fn without_hop_by_hop(mut h: Fields) -> Fields {
    h.retain(|n| !n.hop_by_hop());
    h
}

/// `v` as text, when it is visible ASCII (as `HeaderValue::to_str`).
fn text(v: &[u8]) -> Option<&str> {
    crate::fields::is_text(v)
        .then(|| std::str::from_utf8(v).ok())
        .flatten()
}

fn json_body(status: StatusCode, v: &serde_json::Value) -> Reply {
    let mut h = Fields::with_capacity(2);
    h.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Reply::new(
        status,
        h,
        Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
    )
}

/// A SageMaker Runtime error: the code in `X-Amzn-ErrorType`, the body
/// `{"message": ...}` plus any modeled fields.
fn runtime_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    extra: Option<serde_json::Value>,
) -> Reply {
    let mut body = serde_json::json!({"message": message});
    if let (Some(serde_json::Value::Object(m)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(m);
    }
    let mut r = json_body(status, &body);
    r.headers
        .append(H_ERROR_TYPE, HeaderValue::from_static(code));
    r
}

fn plain_error(status: StatusCode, code: &'static str, message: &str) -> Reply {
    json_body(
        status,
        &serde_json::json!({"error": {"code": code, "message": message}}),
    )
}

/// InferenceId: 1–64 printable characters, the first not a space.
fn valid_inference_id(id: &str) -> bool {
    let n = id.chars().count();
    (1..=64).contains(&n)
        && !id.starts_with(char::is_whitespace)
        && id.chars().all(|c| !c.is_control())
}

/// What is left to do once an answer is on its way: its metrics and its
/// captured record. [`Proxy::handle`] fills it; the caller hands it to
/// [`Proxy::finish`] after writing the answer, so that neither delays it.
#[derive(Default)]
pub struct After {
    outcome: Option<Deferred>,
    capture: Option<Item>,
}

/// An invocation's outcome, recorded once its answer is written.
struct Deferred {
    t0: Instant,
    /// The wall-clock time at `t0`, in ms since the epoch.
    t0_ms: i64,
    model: Duration,
    class: Class,
    model_error: bool,
}

/// What a captured record takes from its request.
struct Sampled {
    content_type: HeaderValue,
    inference_id: Option<HeaderValue>,
    custom_attributes: Option<HeaderValue>,
}

/// How the upstream call went.
enum Upstream {
    Answered {
        status: StatusCode,
        headers: Fields,
        body: Bytes,
        /// When the whole answer had been read.
        done: Instant,
    },
    Failed {
        timed_out: bool,
        message: String,
    },
}

impl Proxy {
    /// Answers `req`. An invocation the model answered leaves its outcome
    /// (and a sampled one its record) in `after`, for the caller to hand to
    /// [`Proxy::finish`] once the answer is written: recording metrics and
    /// copying the record never delay the answer.
    pub async fn handle(&self, req: Req<'_>, after: &mut After) -> Reply {
        let t0 = Instant::now();
        let path = req.uri.path();
        if path == "/_modelwatch/stats" {
            return self.stats();
        }
        let kind = if req.method == Method::POST {
            match path
                .strip_prefix("/endpoints/")
                .and_then(|r| r.strip_suffix("/invocations"))
            {
                Some(name) if !name.contains('/') => {
                    if name != self.endpoint {
                        let msg = format!("Endpoint {name} of account {ACCOUNT} not found.");
                        return runtime_error(
                            StatusCode::BAD_REQUEST,
                            "ValidationError",
                            &msg,
                            None,
                        );
                    }
                    Some(Kind::Runtime)
                }
                _ if path == "/invocations" || self.invocation_paths.iter().any(|p| p == path) => {
                    Some(Kind::Container)
                }
                _ => None,
            }
        } else {
            None
        };
        let Ok(_permit) = self.in_flight.try_acquire() else {
            let msg = "too many requests in flight; try again";
            return match kind {
                Some(Kind::Runtime) => {
                    self.record(t0, None, Class::ServerError, false);
                    runtime_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        msg,
                        None,
                    )
                }
                Some(Kind::Container) => {
                    self.record(t0, None, Class::ServerError, false);
                    plain_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", msg)
                }
                None => plain_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", msg),
            };
        };
        match kind {
            Some(k) => self.invoke(req, k, t0, after).await,
            None => self.pass_through(req).await,
        }
    }

    /// Records what [`Proxy::handle`] left in `after`: the invocation's
    /// metrics (its OverheadLatency includes handing the answer to the
    /// connection) and its captured record. Returns the time it took as the
    /// invocation's end, if it recorded one.
    pub fn finish(&self, after: After) -> Option<Instant> {
        let end = after.outcome.map(|d| {
            let end = Instant::now();
            let end_ms = d.t0_ms + end.saturating_duration_since(d.t0).as_millis() as i64;
            self.record_at(d.t0, end, end_ms, Some(d.model), d.class, d.model_error);
            end
        });
        if let (Some(item), Some(c)) = (after.capture, &self.capture) {
            c.submit(item);
        }
        end
    }

    fn stats(&self) -> Reply {
        let mut v = serde_json::json!({
            "endpoint": self.endpoint,
            "variant": self.variant,
            "inFlight": self.limits.max_in_flight - self.in_flight.available_permits(),
        });
        if let Some(c) = &self.capture {
            let s = &c.stats;
            // Read first (Acquire): an empty queue comes with the counts of what left it.
            let queued = s.queued_bytes.load(Ordering::Acquire);
            v["capture"] = serde_json::json!({
                "written": s.written.load(Ordering::Relaxed),
                "dropped": s.dropped.load(Ordering::Relaxed),
                "queuedBytes": queued,
                "bufferedBytes": s.buffered_bytes.load(Ordering::Relaxed),
                "bufferedBatches": s.buffered_batches.load(Ordering::Relaxed),
            });
        }
        json_body(StatusCode::OK, &v)
    }

    fn record(&self, t0: Instant, model: Option<Duration>, class: Class, model_error: bool) {
        let end = Instant::now();
        self.record_at(t0, end, mw_model::time::now_ms(), model, class, model_error);
    }

    /// Records an invocation that arrived at `t0` and ended at `end`
    /// (`end_ms` on the wall clock), in the period of its end.
    fn record_at(
        &self,
        t0: Instant,
        end: Instant,
        end_ms: i64,
        model: Option<Duration>,
        class: Class,
        model_error: bool,
    ) {
        let total = end.saturating_duration_since(t0);
        let model_us = model.map(|m| m.as_micros() as u64);
        let overhead = total.saturating_sub(model.unwrap_or_default());
        self.metrics.record(
            end_ms,
            &Outcome {
                class,
                model_error,
                model_us,
                overhead_us: overhead.as_micros() as u64,
            },
        );
    }

    async fn read_body(&self, headers: &Fields, body: &mut ReqBody<'_>) -> Result<Bytes, Reject> {
        let max = self.limits.max_body_bytes;
        let too_large = |len: Option<u64>| {
            Reject::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationError",
                match len {
                    Some(len) => format!(
                        "Request payload of {len} bytes is larger than the limit of {max} bytes."
                    ),
                    None => format!("Request payload is larger than the limit of {max} bytes."),
                },
            )
        };
        if let Some(len) = headers
            .get(Name::ContentLength)
            .and_then(crate::fields::decimal)
        {
            if len > max as u64 {
                if len <= (max + MAX_DRAIN_BYTES) as u64 {
                    self.drain(body).await;
                }
                return Err(too_large(Some(len)));
            }
        }
        let res = match body {
            ReqBody::H1(conn) => {
                let read = {
                    let read = std::pin::pin!(conn.read_body(max));
                    crate::within(self.limits.client_timeout, read).await
                };
                match read {
                    Err(_) => Err(None),
                    Ok(Ok(b)) => Ok(b),
                    Ok(Err(crate::h1::ReadError::TooLarge)) => Err(Some(None)),
                    Ok(Err(e)) => Err(Some(Some(e.to_string()))),
                }
            }
            ReqBody::H2(incoming) => {
                let read = async {
                    // A body that arrives in one piece is kept as it is, without a copy.
                    let mut first: Option<Bytes> = None;
                    let mut rest: Option<bytes::BytesMut> = None;
                    let mut total = 0usize;
                    while let Some(frame) = incoming.frame().await {
                        if let Ok(data) = frame?.into_data() {
                            total += data.len();
                            if total > max {
                                return Ok(None);
                            }
                            if let Some(r) = rest.as_mut() {
                                r.extend_from_slice(&data);
                            } else if let Some(f) = first.take() {
                                let mut r = bytes::BytesMut::with_capacity(total);
                                r.extend_from_slice(&f);
                                r.extend_from_slice(&data);
                                rest = Some(r);
                            } else {
                                first = Some(data);
                            }
                        }
                    }
                    Ok::<_, hyper::Error>(Some(match rest {
                        Some(r) => r.freeze(),
                        None => first.unwrap_or_default(),
                    }))
                };
                match tokio::time::timeout(self.limits.client_timeout, read).await {
                    Err(_) => Err(None),
                    Ok(Ok(Some(b))) => Ok(b),
                    Ok(Ok(None)) => Err(Some(None)),
                    Ok(Err(e)) => Err(Some(Some(e.to_string()))),
                }
            }
        };
        match res {
            Ok(b) => Ok(b),
            Err(None) => Err(Reject::client(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "the request body did not arrive within {} s",
                    self.limits.client_timeout.as_secs_f64()
                ),
            )),
            Err(Some(None)) => {
                self.drain(body).await;
                Err(too_large(None))
            }
            Err(Some(Some(e))) => Err(Reject::client(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                format!("reading the request body failed: {e}"),
            )),
        }
    }

    /// Reads and discards what is left of a rejected body (bounded in bytes
    /// and time), so that the client, still sending, receives the answer
    /// instead of a reset connection.
    async fn drain(&self, body: &mut ReqBody<'_>) {
        let limit = self.limits.client_timeout;
        match body {
            ReqBody::H1(conn) => {
                let _ = tokio::time::timeout(limit, conn.discard_body(MAX_DRAIN_BYTES)).await;
            }
            ReqBody::H2(incoming) => {
                let mut left = MAX_DRAIN_BYTES;
                let _ = tokio::time::timeout(limit, async {
                    while let Some(Ok(frame)) = incoming.frame().await {
                        let n = frame.data_ref().map_or(0, |d| d.len());
                        if n >= left {
                            break;
                        }
                        left -= n;
                    }
                })
                .await;
            }
        }
    }

    fn payload_kind(&self, content_type: &str) -> PayloadKind {
        let m = mw_capture::record::media_type(content_type);
        if self.csv_types.contains(&m) {
            PayloadKind::Csv
        } else if self.json_types.contains(&m) {
            PayloadKind::Json
        } else {
            PayloadKind::Other
        }
    }

    fn check_runtime_headers(&self, h: &Fields) -> Result<(), Reject> {
        let bad = |m: String| Reject::client(StatusCode::BAD_REQUEST, "ValidationError", m);
        if let Some(v) = h.get(Name::TargetVariant) {
            let v = text(v).unwrap_or("");
            if v != self.variant {
                return Err(bad(format!(
                    "Variant {v} does not exist in endpoint {} of account {ACCOUNT}.",
                    self.endpoint
                )));
            }
        }
        if let Some(v) = h.get(Name::InferenceId) {
            match text(v) {
                Some(id) if valid_inference_id(id) => {}
                _ => {
                    return Err(bad(
                        "1 validation error detected: Value at 'inferenceId' failed to satisfy constraint: Member must have length between 1 and 64 and consist of printable characters, the first not a space".to_string(),
                    ))
                }
            }
        }
        if let Some(v) = h.get(Name::CustomAttributes) {
            if v.len() > 1024 || text(v).is_none() {
                return Err(bad(
                    "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: Member must have length less than or equal to 1024".to_string(),
                ));
            }
        }
        Ok(())
    }

    /// Calls the model server, starting at `start` (the deadline is
    /// counted from it).
    async fn call_upstream(
        &self,
        method: Method,
        uri: &Uri,
        headers: Fields,
        body: Bytes,
        start: Instant,
    ) -> Upstream {
        let max = self.limits.max_response_bytes;
        // Pinned where it is built: the timeout holds a pointer to it, not a
        // copy of a future of some kilobytes (copies that cost the request path).
        let fut = std::pin::pin!(async {
            let a = self
                .upstream
                .call(method, uri, headers, body, max, start)
                .await
                .map_err(|e| match e {
                    CallError::Connect(m) => format!("could not connect to the model server: {m}"),
                    CallError::Failed(m) => format!("the model server failed to answer: {m}"),
                    CallError::TooLarge => {
                        format!("the model's response is larger than {max} bytes")
                    }
                    CallError::Body(m) => format!("reading the model's response failed: {m}"),
                })?;
            Ok::<_, String>(a)
        });
        let deadline = tokio::time::Instant::from_std(start + self.limits.upstream_timeout);
        match tokio::time::timeout_at(deadline, fut).await {
            Err(_) => Upstream::Failed {
                timed_out: true,
                message: format!(
                    "the model server did not answer within {} s",
                    self.limits.upstream_timeout.as_secs_f64()
                ),
            },
            Ok(Err(message)) => Upstream::Failed {
                timed_out: false,
                message,
            },
            Ok(Ok(a)) => Upstream::Answered {
                status: a.status,
                headers: a.headers,
                body: a.body,
                done: a.done,
            },
        }
    }

    fn reject(&self, kind: Kind, t0: Instant, r: Reject) -> Reply {
        self.record(t0, None, r.class, false);
        match kind {
            Kind::Runtime => runtime_error(r.status, r.code, &r.message, None),
            Kind::Container => plain_error(r.status, r.code, &r.message),
        }
    }

    async fn invoke(&self, req: Req<'_>, kind: Kind, t0: Instant, after: &mut After) -> Reply {
        // The wall clock, read once: the captured record's inferenceTime,
        // and (with the time the invocation took) its metrics' period.
        let t0_ms = mw_model::time::now_ms();
        let Req {
            uri,
            headers,
            mut body,
            ..
        } = req;
        if kind == Kind::Runtime {
            if let Err(r) = self.check_runtime_headers(&headers) {
                return self.reject(kind, t0, r);
            }
        }
        let body = match self.read_body(&headers, &mut body).await {
            Ok(b) => b,
            Err(r) => return self.reject(kind, t0, r),
        };
        if let Some(schema) = &self.schema {
            let content_type = headers
                .get_str(Name::ContentType)
                .unwrap_or(OCTET_STREAM_TYPE);
            if let Err(msg) = schema.check(self.payload_kind(content_type), &body) {
                let r = Reject::client(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    format!("The payload does not match the endpoint's schema: {msg}"),
                );
                return self.reject(kind, t0, r);
            }
        }
        // What a captured record needs from the request, taken only when sampled.
        let sampled = match &self.capture {
            Some(c) if c.sample() => Some(Sampled {
                content_type: headers.get_text(Name::ContentType).unwrap_or(OCTET_STREAM),
                inference_id: headers.get_text(Name::InferenceId),
                custom_attributes: headers.get_text(Name::CustomAttributes),
            }),
            _ => None,
        };

        // The upstream request.
        let headers = match kind {
            Kind::Runtime => {
                let mut h = headers;
                h.keep_first(&[
                    Name::ContentType,
                    Name::Accept,
                    Name::CustomAttributes,
                    Name::TargetModel,
                    Name::InferenceId,
                ]);
                h
            }
            Kind::Container => without_hop_by_hop(headers),
        };
        let uri = match kind {
            Kind::Runtime => INVOCATIONS.clone(),
            Kind::Container => uri,
        };
        let uri = match uri.path_and_query() {
            Some(_) => uri,
            None => Uri::from_static("/"),
        };
        let t_up = Instant::now();
        let result = self
            .call_upstream(Method::POST, &uri, headers, body.clone(), t_up)
            .await;

        match result {
            Upstream::Failed { timed_out, message } => {
                let resp = match kind {
                    Kind::Runtime => {
                        let msg = if timed_out {
                            format!("Received server error (0) from primary with message \"Your invocation timed out while waiting for a response from container primary: {message}\".")
                        } else {
                            format!("Received server error (0) from primary with message \"{message}\".")
                        };
                        runtime_error(
                            StatusCode::FAILED_DEPENDENCY,
                            "ModelError",
                            &msg,
                            Some(serde_json::json!({
                                "ErrorCode": "SERVER_ERROR_FROM_MODEL",
                                "OriginalStatusCode": 0,
                                "OriginalMessage": message,
                            })),
                        )
                    }
                    Kind::Container => {
                        let status = if timed_out {
                            StatusCode::GATEWAY_TIMEOUT
                        } else {
                            StatusCode::BAD_GATEWAY
                        };
                        plain_error(
                            status,
                            if timed_out {
                                "UpstreamTimeout"
                            } else {
                                "BadGateway"
                            },
                            &message,
                        )
                    }
                };
                tracing::debug!(%message, "upstream failed");
                self.record(t0, Some(t_up.elapsed()), Class::ServerError, true);
                resp
            }
            Upstream::Answered {
                status,
                headers,
                body: out,
                done,
            } => {
                let model = done.saturating_duration_since(t_up);
                let ok = status.is_success();
                let class = if ok {
                    Class::Ok
                } else if status.is_client_error() {
                    Class::ClientError
                } else {
                    Class::ServerError
                };
                let out_type = match &sampled {
                    Some(_) if ok => headers.get_text(Name::ContentType),
                    _ => None,
                };
                let resp = match kind {
                    Kind::Runtime if ok => {
                        let mut h = headers;
                        h.keep_first(&[Name::ContentType, Name::CustomAttributes]);
                        if let Some(v) = &self.invoked_variant {
                            h.append(H_INVOKED_VARIANT, v.clone());
                        }
                        h.append_text(H_REQUEST_ID, &mw_capture::ids::uuid_v4_bytes());
                        Reply::new(StatusCode::OK, h, out.clone())
                    }
                    Kind::Runtime => {
                        let original =
                            String::from_utf8_lossy(&out[..out.len().min(4096)]).into_owned();
                        let side = if status.is_client_error() {
                            "client"
                        } else {
                            "server"
                        };
                        let msg = format!(
                            "Received {side} error ({}) from primary with message \"{original}\". See the model server's logs for more information.",
                            status.as_u16()
                        );
                        runtime_error(
                            StatusCode::FAILED_DEPENDENCY,
                            "ModelError",
                            &msg,
                            Some(serde_json::json!({
                                "ErrorCode": if status.is_client_error() { "CLIENT_ERROR_FROM_MODEL" } else { "SERVER_ERROR_FROM_MODEL" },
                                "OriginalStatusCode": status.as_u16(),
                                "OriginalMessage": original,
                            })),
                        )
                    }
                    Kind::Container => Reply::new(status, without_hop_by_hop(headers), out.clone()),
                };
                after.outcome = Some(Deferred {
                    t0,
                    t0_ms,
                    model,
                    class,
                    model_error: !ok,
                });
                if let (true, Some(s), Some(c)) = (ok, sampled, &self.capture) {
                    after.capture = Some(Item {
                        input: c.input.then_some((s.content_type, body)),
                        output: c.output.then(|| (out_type.unwrap_or(OCTET_STREAM), out)),
                        inference_id: s.inference_id,
                        custom_attributes: s.custom_attributes,
                        time_ms: t0_ms,
                    });
                }
                resp
            }
        }
    }

    async fn pass_through(&self, req: Req<'_>) -> Reply {
        let Req {
            method,
            uri,
            headers,
            mut body,
        } = req;
        let body = match self.read_body(&headers, &mut body).await {
            Ok(b) => b,
            Err(r) => return plain_error(r.status, r.code, &r.message),
        };
        let head = method == Method::HEAD;
        match self
            .call_upstream(
                method,
                &uri,
                without_hop_by_hop(headers),
                body,
                Instant::now(),
            )
            .await
        {
            Upstream::Failed {
                timed_out: true,
                message,
            } => plain_error(StatusCode::GATEWAY_TIMEOUT, "UpstreamTimeout", &message),
            Upstream::Failed { message, .. } => {
                plain_error(StatusCode::BAD_GATEWAY, "BadGateway", &message)
            }
            Upstream::Answered {
                status,
                headers,
                body,
                ..
            } => {
                // HEAD and 304 answers keep the length the model server gave.
                let length = match (head, status) {
                    (true, _) | (_, StatusCode::NOT_MODIFIED) => {
                        headers.get_value(Name::ContentLength)
                    }
                    _ => None,
                };
                let mut h = without_hop_by_hop(headers);
                if let Some(v) = length {
                    h.append(CONTENT_LENGTH, v);
                }
                Reply::new(status, h, body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_ids_follow_the_runtime_rule() {
        assert!(valid_inference_id("42"));
        assert!(valid_inference_id("a b"));
        assert!(valid_inference_id(&"x".repeat(64)));
        assert!(!valid_inference_id(""));
        assert!(!valid_inference_id(" a"));
        assert!(!valid_inference_id(&"x".repeat(65)));
        assert!(!valid_inference_id("a\tb"));
    }

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let mut h = Fields::new();
        for (n, v) in [
            ("connection", "keep-alive"),
            ("content-type", "text/csv"),
            ("transfer-encoding", "chunked"),
            ("host", "a"),
            ("content-length", "3"),
            ("x-custom", "1"),
        ] {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        let kept: Vec<_> = without_hop_by_hop(h)
            .iter()
            .map(|(n, _)| n.to_vec())
            .collect();
        assert_eq!(kept, [b"content-type".to_vec(), b"x-custom".to_vec()]);
    }
}
