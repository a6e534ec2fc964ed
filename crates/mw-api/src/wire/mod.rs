//! The three CloudWatch wire protocols: decoding requests into [`Node`]s and
//! encoding results and errors in the protocol the request used.

pub mod cbor;
pub mod json;
pub mod query;

#[cfg(test)]
mod tests;

use crate::error::ApiError;
use crate::node::{Node, NodeDe};
use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde::Deserialize;
use std::borrow::Cow;

pub const JSON_TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// A request body as its protocol delivered it: raw bytes for JSON and CBOR
/// (operations may read them into typed inputs directly), a decoded tree for Query.
pub enum Payload<'a> {
    /// AWS JSON (1.0 for CloudWatch, 1.1 for Logs).
    Json(&'a [u8]),
    Cbor(&'a [u8]),
    Query(&'a Node),
}

impl<'a> Payload<'a> {
    /// The body as a [`Node`].
    pub fn node(&self) -> Result<Cow<'a, Node>, ApiError> {
        match self {
            Payload::Json(b) => json::decode(b).map(Cow::Owned),
            Payload::Cbor(b) => cbor::decode(b).map(Cow::Owned),
            Payload::Query(n) => Ok(Cow::Borrowed(*n)),
        }
    }

    /// The body as a typed input.
    pub fn typed<T: Deserialize<'a>>(&self) -> Result<T, ApiError> {
        match self {
            Payload::Json(b) => {
                let b: &'a [u8] = if b.iter().all(u8::is_ascii_whitespace) {
                    b"{}"
                } else {
                    b
                };
                // Validating UTF-8 once for the whole body lets serde_json skip
                // the check for every string (a fifth of the decode cost).
                let text = std::str::from_utf8(b).map_err(|e| {
                    ApiError::serialization(format!("the request body is not UTF-8: {e}"))
                })?;
                serde_json::from_str(text).map_err(|e| {
                    ApiError::serialization(format!("the request body is not a valid request: {e}"))
                })
            }
            Payload::Cbor(b) => {
                let b: &'a [u8] = if b.is_empty() { &[0xa0] } else { b };
                cbor::from_slice(b)
            }
            Payload::Query(n) => T::deserialize(NodeDe(n))
                .map_err(|e| ApiError::serialization(format!("the request is not valid: {e}"))),
        }
    }
}

/// Which protocol a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 (`X-Amz-Target`).
    Json,
    /// Smithy RPC v2 CBOR (`/service/.../operation/...`).
    Cbor,
    /// AWS Query (form in, XML out).
    Query,
    /// AWS JSON 1.1 of CloudWatch Logs (`X-Amz-Target: Logs_20140328.*`).
    Logs,
}

pub const LOGS_TARGET_PREFIX: &str = "Logs_20140328";

fn with_common(mut resp: Response<Body>, request_id: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// The success response for `op`.
pub fn ok(proto: Protocol, op: &str, output: Option<&Node>, request_id: &str) -> Response<Body> {
    let empty = Node::object();
    let (body, ctype) = match proto {
        Protocol::Json => (
            json::encode(output.unwrap_or(&empty)),
            "application/x-amz-json-1.0",
        ),
        Protocol::Cbor => (cbor::encode(output.unwrap_or(&empty)), "application/cbor"),
        Protocol::Query => (query::encode(op, output, request_id), "text/xml"),
        Protocol::Logs => (
            json::encode(output.unwrap_or(&empty)),
            "application/x-amz-json-1.1",
        ),
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if proto == Protocol::Cbor {
        resp.headers_mut()
            .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    with_common(resp, request_id)
}

/// The error response in `proto`'s shape.
pub fn error(proto: Protocol, err: &ApiError, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let shape = format!("{JSON_TARGET_PREFIX}#{}", err.code.shape());
    let body_node = Node::object()
        .with("__type", Node::str(&shape))
        .with("message", Node::str(&err.message))
        .with("Message", Node::str(&err.message));
    let logs_body = Node::object()
        .with("__type", Node::str(err.code.shape()))
        .with("message", Node::str(&err.message));
    let (body, ctype) = match proto {
        Protocol::Json => (json::encode(&body_node), "application/x-amz-json-1.0"),
        Protocol::Cbor => (cbor::encode(&body_node), "application/cbor"),
        Protocol::Query => (query::encode_error(err, request_id), "text/xml"),
        Protocol::Logs => (json::encode(&logs_body), "application/x-amz-json-1.1"),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if matches!(proto, Protocol::Json | Protocol::Cbor) {
        if let Ok(v) =
            HeaderValue::from_str(&format!("{};{}", err.code.query_code(), err.code.fault()))
        {
            h.insert("x-amzn-query-error", v);
        }
    }
    if proto != Protocol::Query {
        if let Ok(v) = HeaderValue::from_str(err.code.shape()) {
            h.insert("x-amzn-errortype", v);
        }
    }
    if proto == Protocol::Cbor {
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    with_common(resp, request_id)
}
