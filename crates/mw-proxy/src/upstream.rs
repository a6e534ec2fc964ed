//! The model server's connections, one pool per serving thread.
//!
//! [`Upstream`] keeps idle keep-alive HTTP/1.1 connections ([`h1::ClientConn`])
//! in a stack, or one multiplexed h2c connection (hyper's
//! `client::conn::http2`) driven by its own task.
//!
//! An HTTP/1.1 call ([`Upstream::call`]) takes the most recently used idle
//! connection (or opens one), writes the request in one system call and
//! reads the whole response inside the request's own task; then the
//! connection goes back to the stack. No task per connection, no pool key,
//! no lock shared across threads: a sidecar has one upstream.
//!
//! A pooled connection is only reused while nothing arrived on it (a close
//! by the model server shows as readable, which costs no system call to
//! check) and for at most [`MAX_IDLE`] of idleness, well inside the
//! keep-alive timeouts of common model servers (gunicorn: 2 s), so that a
//! request is not sent on a connection the server is closing.

use crate::busy_poll;
use crate::fields::Fields;
use crate::h1::{self, ReadError};
use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// Longest a connection sits idle in the pool and is still reused.
pub const MAX_IDLE: Duration = Duration::from_secs(1);

/// Why an upstream call got no (whole) response.
#[derive(Debug)]
pub enum CallError {
    /// No connection could be opened.
    Connect(String),
    /// The connection failed while sending or waiting for the response.
    Failed(String),
    /// The response body is larger than the limit.
    TooLarge,
    /// Reading the response body failed.
    Body(String),
}

/// A whole response of the model server.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: Fields,
    pub body: Bytes,
    /// When the whole response had been read.
    pub done: Instant,
}

type H2Body = Full<Bytes>;

/// The connections of one serving thread to the model server.
pub struct Upstream {
    /// `host:port` to connect to.
    addr: String,
    /// The Host header of HTTP/1.1 requests.
    host: HeaderValue,
    /// `http://host:port`: h2c requests carry an absolute URI (`:authority`).
    base: Uri,
    h2c: bool,
    connect_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<h1::ClientConn>>,
    h2: Mutex<Option<http2::SendRequest<H2Body>>>,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl Upstream {
    /// `base` is the validated `http://host:port` of the model server.
    pub fn new(base: &Uri, h2c: bool, connect_timeout: Duration, max_idle: usize) -> Upstream {
        let authority = base
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let host = HeaderValue::from_maybe_shared(Bytes::from(authority.clone()))
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        let addr = if authority.contains(':') {
            authority
        } else {
            format!("{authority}:80")
        };
        Upstream {
            addr,
            host,
            base: base.clone(),
            h2c,
            connect_timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
            h2: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<tokio::net::TcpStream, CallError> {
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect(&self.addr),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(CallError::Connect(format!(
                    "tcp connect error to {}: {e}",
                    self.addr
                )))
            }
            Err(_) => {
                return Err(CallError::Connect(format!(
                    "tcp connect to {} timed out",
                    self.addr
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// An idle connection that is still open and was used at most
    /// [`MAX_IDLE`] before `now`.
    fn checkout(&self, now: Instant) -> Option<h1::ClientConn> {
        let mut idle = self.idle.lock();
        while let Some(mut c) = idle.pop() {
            if now.saturating_duration_since(c.idle_since) <= MAX_IDLE && c.still_open() {
                return Some(c);
            }
        }
        None
    }

    async fn h2_sender(&self) -> Result<http2::SendRequest<H2Body>, CallError> {
        if let Some(s) = self.h2.lock().as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let io = TokioIo::new(self.connect().await?);
        let (send, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| CallError::Connect(error_chain(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        *self.h2.lock() = Some(send.clone());
        Ok(send)
    }

    /// Sends a request (`uri` holds the path and query) and reads the whole
    /// response, at most `max` body bytes. Hop-by-hop headers must already
    /// be gone from `headers`; Host and Content-Length are set here. `now`:
    /// the time the call starts (one clock read less).
    pub async fn call(
        &self,
        method: Method,
        uri: &Uri,
        headers: Fields,
        body: Bytes,
        max: usize,
        now: Instant,
    ) -> Result<Answer, CallError> {
        let call = busy_poll::Call::start(now);
        if self.h2c {
            let a = self.call_h2(method, uri, headers, body, max).await?;
            call.answered(a.done);
            return Ok(a);
        }
        let pq = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut c = match self.checkout(now) {
            Some(c) => c,
            None => h1::ClientConn::new(self.connect().await?),
        };
        c.send(&method, pq, &self.host, &headers, &body)
            .await
            .map_err(|e| CallError::Failed(format!("sending the request failed: {e}")))?;
        let r = c
            .read_response(method == Method::HEAD, max)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => CallError::TooLarge,
                ReadError::Closed => {
                    CallError::Failed("connection closed before message completed".to_string())
                }
                e => CallError::Failed(e.to_string()),
            })?;
        let done = Instant::now();
        call.answered(done);
        if r.reusable {
            c.idle_since = done;
            let mut idle = self.idle.lock();
            if idle.len() < self.max_idle {
                idle.push(c);
            }
        }
        Ok(Answer {
            status: r.status,
            headers: r.headers,
            body: r.body,
            done,
        })
    }

    async fn call_h2(
        &self,
        method: Method,
        uri: &Uri,
        headers: Fields,
        body: Bytes,
        max: usize,
    ) -> Result<Answer, CallError> {
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = uri.path_and_query().cloned();
        let uri = Uri::from_parts(parts).map_err(|e| CallError::Failed(e.to_string()))?;
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers.into_header_map();
        let mut send = self.h2_sender().await?;
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| CallError::Failed(error_chain(&e)))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, max).collect().await.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                CallError::TooLarge
            } else {
                CallError::Body(e.to_string())
            }
        })?;
        Ok(Answer {
            status: parts.status,
            headers: Fields::from(parts.headers),
            body: body.to_bytes(),
            done: Instant::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_in_flight_for_the_poller_until_it_ends() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // A model server that takes the request and never answers.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (_conn, _) = listener.accept().await.unwrap();
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
            let base: Uri = format!("http://{addr}").parse().unwrap();
            let up = Upstream::new(&base, false, Duration::from_secs(5), 4);
            let call = tokio::spawn(async move {
                let uri = Uri::from_static("/invocations");
                let _ = up
                    .call(
                        Method::POST,
                        &uri,
                        Fields::default(),
                        Bytes::from_static(b"1,2"),
                        1024,
                        Instant::now(),
                    )
                    .await;
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(busy_poll::in_flight(), 1);
            // Cancelled (as a timeout or a client gone cancels it): ended.
            call.abort();
            let _ = call.await;
            assert_eq!(busy_poll::in_flight(), 0);
            server.abort();
        });
    }
}
