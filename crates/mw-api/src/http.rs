//! The HTTP entry point: protocol detection, limits, auth, gzip, dispatch.

use crate::error::{ApiError, Code};
use crate::wire::{self, Protocol, JSON_TARGET_PREFIX, LOGS_TARGET_PREFIX};
use crate::{cloudwatch, logs, sigv4, Api};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use std::io::Read;
use std::sync::Arc;

/// The CloudWatch API plus `GET /healthz`.
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(handle)
        .with_state(api)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// What a request looks like before its body is read.
enum Shape {
    Known(Protocol, String),
    Query,
    Unknown(Protocol, String),
}

fn detect(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Shape {
    if let Some(rest) = path.strip_prefix("/service/") {
        if let Some((svc, op)) = rest.split_once("/operation/") {
            if svc == JSON_TARGET_PREFIX && !op.contains('/') {
                return Shape::Known(Protocol::Cbor, op.to_string());
            }
            return Shape::Unknown(Protocol::Cbor, format!("unknown service {svc}"));
        }
    }
    if let Some(target) = header(headers, "x-amz-target") {
        return match target.split_once('.') {
            Some((JSON_TARGET_PREFIX, op)) => Shape::Known(Protocol::Json, op.to_string()),
            Some((LOGS_TARGET_PREFIX, op)) => Shape::Known(Protocol::Logs, op.to_string()),
            _ => Shape::Unknown(Protocol::Json, format!("unknown operation target {target}")),
        };
    }
    let form = header(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form || (method == Method::GET && query.contains("Action=")) {
        return Shape::Query;
    }
    let proto = if header(headers, "content-type").is_some_and(|c| c.contains("cbor")) {
        Protocol::Cbor
    } else {
        Protocol::Json
    };
    Shape::Unknown(proto, format!("no operation found for {method} {path}"))
}

fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(body.len() * 4);
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::serialization(format!("the gzip request body is invalid: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::new(
            Code::PayloadTooLarge,
            format!("the decompressed request body is larger than {limit} bytes"),
        ));
    }
    Ok(out)
}

async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response<Body> {
    let rid = api.request_id();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let shape = detect(&parts.method, &path, &query, &parts.headers);
    let proto = match &shape {
        Shape::Known(p, _) | Shape::Unknown(p, _) => *p,
        Shape::Query => Protocol::Query,
    };
    // A PutLogEvents batch may count 1 MiB of messages; its JSON text is larger.
    let limit = if proto == Protocol::Logs {
        api.config.max_logs_body_bytes
    } else {
        api.config.max_body_bytes
    };
    let raw = match to_bytes(body, limit + 1).await {
        Ok(b) if b.len() <= limit => b,
        Ok(_) | Err(_) => {
            let e = ApiError::new(
                Code::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            );
            return wire::error(proto, &e, &rid);
        }
    };
    if let Shape::Unknown(_, msg) = &shape {
        return wire::error(
            proto,
            &ApiError::new(Code::UnknownOperation, msg.clone()),
            &rid,
        );
    }
    if !api.config.credentials.is_empty() {
        let now = mw_model::time::now_ms() / 1000;
        if let Err(e) = sigv4::verify(
            &api.config.credentials,
            parts.method.as_str(),
            &path,
            &query,
            &parts.headers,
            &raw,
            now,
        ) {
            return wire::error(proto, &e, &rid);
        }
    }
    let gz = header(&parts.headers, "content-encoding").is_some_and(|c| c.contains("gzip"));
    // The body moves to the blocking task as it is: no copy of the bytes.
    let body: bytes::Bytes = if gz {
        match gunzip(&raw, api.config.max_decoded_bytes) {
            Ok(b) => b.into(),
            Err(e) => return wire::error(proto, &e, &rid),
        }
    } else {
        raw
    };
    let api2 = api.clone();
    let rid2 = rid.clone();
    let result = tokio::task::spawn_blocking(move || -> Response<Body> {
        let query_input;
        let (op, payload) = match shape {
            Shape::Known(Protocol::Json, op) => (op, Ok(wire::Payload::Json(&body))),
            Shape::Known(Protocol::Cbor, op) => (op, Ok(wire::Payload::Cbor(&body))),
            Shape::Known(Protocol::Logs, op) => {
                let outcome = logs::call(&api2, &op, &body, &parts.headers).map_err(ApiError::into_logs);
                return match outcome {
                    Ok(out) => wire::ok(proto, &op, Some(&out), &rid2),
                    Err(e) => {
                        tracing::debug!(op = %op, code = ?e.code, message = %e.message, "request rejected");
                        wire::error(proto, &e, &rid2)
                    }
                };
            }
            _ => {
                let src = if parts.method == Method::GET {
                    query.as_bytes()
                } else {
                    &body[..]
                };
                match wire::query::decode(src) {
                    Ok(q) => {
                        query_input = q.input;
                        (q.action, Ok(wire::Payload::Query(&query_input)))
                    }
                    Err(e) => (String::new(), Err(e)),
                }
            }
        };
        let outcome = payload.and_then(|p| cloudwatch::call(&api2, &op, &p));
        match outcome {
            Ok(out) => wire::ok(proto, &op, out.as_ref(), &rid2),
            Err(e) => {
                tracing::debug!(op = %op, code = ?e.code, message = %e.message, "request rejected");
                wire::error(proto, &e, &rid2)
            }
        }
    })
    .await;
    match result {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            let mut resp = wire::error(
                proto,
                &ApiError::new(Code::Internal, "internal error"),
                &rid,
            );
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            resp
        }
    }
}
