//! Alarm action targets and their deliveries.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/topics` | topics: name and ARN |
//! | `POST /api/v1/topics` `{"name"}` | creates a topic (idempotent), returns its ARN |
//! | `DELETE /api/v1/topics/{name}` | deletes a topic and its subscriptions |
//! | `GET /api/v1/topics/{name}/subscriptions` | its subscriptions |
//! | `POST /api/v1/topics/{name}/subscriptions` `{"protocol","endpoint"}` | subscribes an `http`/`https` URL or an `email` address |
//! | `DELETE /api/v1/subscriptions/{arn}` | unsubscribes |
//! | `GET /api/v1/hooks` | the hooks of the server's config file (name, ARN, kind) |
//! | `GET /api/v1/deliveries?alarm=&limit=` | recent deliveries, newest first: status, attempts, last error |
//!
//! Hooks are read-only here: only the config file can declare one, so no
//! API caller can make the server run a command.

use super::{blocking, query_pairs, read_body, result, NativeError};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Response, StatusCode};
use axum::routing::{delete, get};
use axum::Router;
use mw_notify::Notifier;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

const MAX_BODY: usize = 64 * 1024;
const MAX_DELIVERIES: usize = 1000;

/// The action-target routes, with the notifier inside.
pub fn actions_router(notifier: Arc<Notifier>) -> Router {
    Router::new()
        .route("/api/v1/topics", get(list_topics).post(create_topic))
        .route("/api/v1/topics/{name}", delete(delete_topic))
        .route(
            "/api/v1/topics/{name}/subscriptions",
            get(list_subscriptions).post(subscribe),
        )
        .route("/api/v1/subscriptions/{arn}", delete(unsubscribe))
        .route("/api/v1/hooks", get(list_hooks))
        .route("/api/v1/deliveries", get(list_deliveries))
        .with_state(notifier)
}

impl From<mw_notify::Error> for NativeError {
    fn from(e: mw_notify::Error) -> NativeError {
        use mw_notify::ErrorKind as K;
        let (status, code) = match e.kind() {
            K::InvalidParameter => (StatusCode::BAD_REQUEST, "InvalidParameter"),
            K::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            K::LimitExceeded => (StatusCode::BAD_REQUEST, "LimitExceeded"),
            K::Conflict => (StatusCode::CONFLICT, "Conflict"),
            K::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
        };
        NativeError::mapped(status, code, &e)
    }
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, NativeError> {
    serde_json::from_slice(body).map_err(|e| {
        NativeError::invalid(format!(
            "the request body is not valid JSON for this call (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

async fn list_topics(State(n): State<Arc<Notifier>>) -> Response<Body> {
    result(
        blocking(move || {
            let topics: Vec<Value> = n
                .topics()
                .into_iter()
                .map(|(name, arn)| json!({"name": name, "arn": arn}))
                .collect();
            Ok(json!({ "topics": topics }))
        })
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTopic {
    name: String,
}

async fn create_topic(State(n): State<Arc<Notifier>>, body: Body) -> Response<Body> {
    let r = async {
        let bytes = read_body(body, MAX_BODY).await?;
        let t: NewTopic = parse_json(&bytes)?;
        blocking(move || {
            let arn = n.create_topic(&t.name)?;
            Ok(json!({"name": t.name, "arn": arn}))
        })
        .await
    };
    result(r.await)
}

async fn delete_topic(State(n): State<Arc<Notifier>>, Path(name): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            n.delete_topic(&name)?;
            Ok(json!({"deleted": name}))
        })
        .await,
    )
}

fn subscription_json(s: &mw_notify::Subscription) -> Value {
    json!({
        "arn": s.id,
        "topic": s.topic,
        "protocol": s.protocol,
        "endpoint": s.endpoint,
        "created": mw_model::time::format_iso8601_ms(s.created_ms),
    })
}

async fn list_subscriptions(
    State(n): State<Arc<Notifier>>,
    Path(name): Path<String>,
) -> Response<Body> {
    result(
        blocking(move || {
            let subs: Vec<Value> = n
                .subscriptions(&name)?
                .iter()
                .map(subscription_json)
                .collect();
            Ok(json!({ "subscriptions": subs }))
        })
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    protocol: String,
    endpoint: String,
}

async fn subscribe(
    State(n): State<Arc<Notifier>>,
    Path(name): Path<String>,
    body: Body,
) -> Response<Body> {
    let r = async {
        let bytes = read_body(body, MAX_BODY).await?;
        let s: NewSubscription = parse_json(&bytes)?;
        blocking(move || {
            let arn = n.subscribe(&name, &s.protocol, &s.endpoint)?;
            Ok(json!({"arn": arn}))
        })
        .await
    };
    result(r.await)
}

async fn unsubscribe(State(n): State<Arc<Notifier>>, Path(arn): Path<String>) -> Response<Body> {
    result(
        blocking(move || {
            n.unsubscribe(&arn)?;
            Ok(json!({"deleted": arn}))
        })
        .await,
    )
}

async fn list_hooks(State(n): State<Arc<Notifier>>) -> Response<Body> {
    let hooks: Vec<Value> = n
        .hooks()
        .into_iter()
        .map(|(name, arn, kind)| json!({"name": name, "arn": arn, "kind": kind}))
        .collect();
    result(Ok(json!({ "hooks": hooks })))
}

async fn list_deliveries(
    State(n): State<Arc<Notifier>>,
    RawQuery(query): RawQuery,
) -> Response<Body> {
    let r = async {
        let q = query_pairs(query.as_deref());
        let limit = match q.get("limit") {
            None => 100,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_DELIVERIES).contains(l))
                .ok_or_else(|| {
                    NativeError::invalid(format!(
                        "limit must be a number from 1 to {MAX_DELIVERIES}, not {v:?}"
                    ))
                })?,
        };
        let alarm = q.get("alarm").cloned();
        blocking(move || {
            let rows: Vec<Value> = n
                .deliveries(alarm.as_deref(), limit)
                .into_iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "alarm": d.alarm_name,
                        "target": d.target,
                        "endpoint": d.endpoint,
                        "status": d.status,
                        "attempts": d.attempts,
                        "lastError": d.last_error,
                        "created": mw_model::time::format_iso8601_ms(d.created_ms),
                        "updated": mw_model::time::format_iso8601_ms(d.updated_ms),
                    })
                })
                .collect();
            Ok(json!({ "deliveries": rows }))
        })
        .await
    };
    result(r.await)
}
