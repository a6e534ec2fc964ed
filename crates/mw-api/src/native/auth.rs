//! SigV4 on the native routes: with access keys configured, every native
//! request must be signed like a CloudWatch request (any region and service
//! name in the scope), so the keys that guard PutMetricData also guard
//! `/api/v1/metrics`, captures, topics and schedules. A client may sign the
//! body (`x-amz-content-sha256` = its SHA-256, or no header) or declare
//! `UNSIGNED-PAYLOAD`, which spares hashing large capture batches; the
//! headers, path and query are always signed.

use super::NativeError;
use crate::sigv4::{self, Credentials};
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use axum::Router;
use std::sync::Arc;

/// The largest body the check buffers to hash it (the largest native body).
pub const MAX_SIGNED_BODY: usize = 256 * 1024 * 1024;

/// `router` with every request checked against `creds`; unchanged when no
/// keys are configured.
pub fn require_signature(router: Router, creds: Credentials) -> Router {
    if creds.is_empty() {
        return router;
    }
    let creds = Arc::new(creds);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let creds = creds.clone();
            async move { check(&creds, req, next).await }
        },
    ))
}

fn denied(e: crate::error::ApiError) -> Response<Body> {
    NativeError {
        status: StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::FORBIDDEN),
        code: e.code.query_code(),
        message: e.message,
    }
    .into_response()
}

async fn check(creds: &Credentials, req: Request, next: Next) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let unsigned = parts
        .headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD");
    let (body, bytes) = if unsigned {
        (body, bytes::Bytes::new())
    } else {
        match to_bytes(body, MAX_SIGNED_BODY).await {
            Ok(b) => (Body::from(b.clone()), b),
            Err(_) => {
                return NativeError::too_large(format!(
                    "the request body is larger than {MAX_SIGNED_BODY} bytes"
                ))
                .into_response()
            }
        }
    };
    let now = mw_model::time::now_ms() / 1000;
    if let Err(e) = sigv4::verify(
        creds,
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &parts.headers,
        &bytes,
        now,
    ) {
        return denied(e);
    }
    next.run(Request::from_parts(parts, body)).await
}
