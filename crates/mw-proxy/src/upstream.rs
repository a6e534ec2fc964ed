//! The model server's connections, one pool per serving thread.
//!
//! [`Upstream`] keeps idle keep-alive HTTP/1.1 connections (hyper's
//! `client::conn::http1`) in a stack, or one multiplexed h2c connection
//! driven by its own task.
//!
//! An HTTP/1.1 call ([`Upstream::call`]) takes the most recently used idle
//! connection (or opens one) and drives the connection itself, inside the
//! request's own task, until the whole response is read; then the
//! connection goes back to the stack. So the request is written to the model
//! server in the same poll that read it from the client, and the model's
//! answer wakes the request's task directly: no hop through a connection
//! task and back per request, which on a busy thread queues each step behind
//! every other ready connection. Nothing else a pooled client does per
//! request is needed by a sidecar with one upstream either: no pool key, no
//! lock shared across threads, no task spawned to wait for the connection to
//! become idle.
//!
//! An idle connection is polled once when it is taken, which is when a close
//! by the model server is noticed; a request that a reused connection could
//! not even send is sent again on another connection.

use crate::proxy::Body;
use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body as _;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

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

type Conn = http1::Connection<TokioIo<tokio::net::TcpStream>, Body>;

/// An HTTP/1.1 connection: the request handle and the connection itself.
struct H1 {
    send: http1::SendRequest<Body>,
    conn: Conn,
}

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
    idle: Mutex<Vec<H1>>,
    h2: Mutex<Option<http2::SendRequest<Body>>>,
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

    async fn connect(&self) -> Result<TokioIo<tokio::net::TcpStream>, CallError> {
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
        Ok(TokioIo::new(stream))
    }

    async fn open_h1(&self) -> Result<H1, CallError> {
        let io = self.connect().await?;
        let (send, conn) = http1::handshake(io)
            .await
            .map_err(|e| CallError::Connect(error_chain(&e)))?;
        Ok(H1 { send, conn })
    }

    /// An idle connection that is still open, polled once to find out.
    async fn checkout(&self) -> Option<H1> {
        loop {
            let mut c = self.idle.lock().pop()?;
            let open = std::future::poll_fn(|cx| {
                Poll::Ready(match Pin::new(&mut c.conn).poll(cx) {
                    Poll::Pending => c.send.is_ready(),
                    Poll::Ready(_) => false,
                })
            })
            .await;
            if open {
                return Some(c);
            }
        }
    }

    async fn h2_sender(&self) -> Result<http2::SendRequest<Body>, CallError> {
        if let Some(s) = self.h2.lock().as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let io = self.connect().await?;
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

    /// Sends `req` (its URI holds the path and query only) and reads the
    /// whole response, at most `max` body bytes.
    pub async fn call(
        &self,
        mut req: Request<Body>,
        max: usize,
    ) -> Result<(http::response::Parts, Bytes), CallError> {
        if self.h2c {
            let mut parts = self.base.clone().into_parts();
            parts.path_and_query = req.uri().path_and_query().cloned();
            *req.uri_mut() =
                Uri::from_parts(parts).map_err(|e| CallError::Failed(e.to_string()))?;
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
            return Ok((parts, body.to_bytes()));
        }
        req.headers_mut()
            .insert(http::header::HOST, self.host.clone());
        loop {
            let (mut c, reused) = match self.checkout().await {
                Some(c) => (c, true),
                None => (self.open_h1().await?, false),
            };
            let mut sent = std::pin::pin!(c.send.try_send_request(req));
            // Once the connection future has ended it is not polled again.
            let mut ended = false;
            let head = std::future::poll_fn(|cx| {
                // The connection writes the request and reads the answer.
                if !ended {
                    ended = Pin::new(&mut c.conn).poll(cx).is_ready();
                }
                sent.as_mut().poll(cx)
            })
            .await;
            let resp = match head {
                Ok(r) => r,
                Err(mut e) => match e.take_message() {
                    // Never sent on a connection the model server had closed: again.
                    Some(r) if reused => {
                        req = r;
                        continue;
                    }
                    _ => return Err(CallError::Failed(error_chain(e.error()))),
                },
            };
            let (parts, mut body) = resp.into_parts();
            let mut first: Option<Bytes> = None;
            let mut rest: Option<bytes::BytesMut> = None;
            let mut total = 0usize;
            let read = std::future::poll_fn(|cx| {
                // Body frames come from the connection: poll both until the
                // body ends or neither can go on (a body that asked for more
                // lets the connection read on at once, not a wake-up later).
                let mut waiting = 0;
                while waiting < 2 {
                    if !ended {
                        ended = Pin::new(&mut c.conn).poll(cx).is_ready();
                    }
                    match Pin::new(&mut body).poll_frame(cx) {
                        Poll::Ready(None) => return Poll::Ready(Ok(())),
                        Poll::Ready(Some(Err(e))) => {
                            return Poll::Ready(Err(CallError::Body(e.to_string())))
                        }
                        Poll::Ready(Some(Ok(frame))) => {
                            let Ok(data) = frame.into_data() else {
                                continue;
                            };
                            total += data.len();
                            if total > max {
                                return Poll::Ready(Err(CallError::TooLarge));
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
                        Poll::Pending => waiting += 1,
                    }
                }
                Poll::Pending
            })
            .await;
            read?;
            // Once it has seen the end of the response the connection can
            // take the next request; one that cannot (closing) is dropped.
            let ready = !ended
                && std::future::poll_fn(|cx| {
                    Poll::Ready(match Pin::new(&mut c.conn).poll(cx) {
                        Poll::Pending => c.send.is_ready(),
                        Poll::Ready(_) => false,
                    })
                })
                .await;
            if ready {
                let mut idle = self.idle.lock();
                if idle.len() < self.max_idle {
                    idle.push(c);
                }
            }
            let body = match rest {
                Some(r) => r.freeze(),
                None => first.unwrap_or_default(),
            };
            return Ok((parts, body));
        }
    }
}
