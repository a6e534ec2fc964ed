//! [`Notifier`]: topics, subscriptions, action targets, and the delivery
//! workers that drain the queue in `notify.db`.
//!
//! The workers are [`WORKERS`] std threads. Each loops: claim the oldest due
//! `pending` row nobody else is working on (an in-memory in-flight set, so a
//! row stays `pending` on disk while it is tried and a crash means a retry,
//! never a loss), deliver it without holding any lock, record the outcome.
//! With nothing due a worker sleeps until the next retry is due or
//! [`Notifier::enqueue`] wakes it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde_json::Value;

use crate::command::{self, CommandFailure, Invocation};
use crate::error::{Error, Result};
use crate::http::{HttpClient, Post};
use crate::message::{self, now_ms, MAX_MESSAGE_BYTES};
use crate::smtp::{self, Mail};
use crate::store::{Job, Kind, NewDelivery, Store};
use crate::{AlarmMessage, Delivery, HookDef, NotifyConfig, Subscription};

/// Delivery threads; also the most deliveries in flight at once.
const WORKERS: usize = 4;
/// Most topics.
const MAX_TOPICS: usize = 1000;
/// Most subscriptions of one topic.
const MAX_SUBSCRIPTIONS_PER_TOPIC: usize = 100;
/// Delivery rows kept; older ones are pruned.
const MAX_DELIVERY_ROWS: usize = 100_000;
/// Prune the delivery table every this many enqueued rows.
const PRUNE_EVERY: u64 = 1000;
/// Longest retry delay.
const MAX_BACKOFF_MS: u64 = 60_000;
/// How long a command hook may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest sleep of an idle worker (a safety net; enqueue wakes it).
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// Longest URL or email address accepted as an endpoint.
const MAX_ENDPOINT_LEN: usize = 2048;
const HOOK_ARN_PREFIX: &str = "arn:modelwatch:hook:";

/// Knobs fixed in production that tests turn down.
struct Limits {
    max_delivery_rows: usize,
    command_timeout: Duration,
}

/// What the workers and the handle share.
struct Shared {
    cfg: NotifyConfig,
    store: Mutex<Store>,
    http: HttpClient,
    /// Ids of deliveries a worker is trying right now.
    inflight: Mutex<HashSet<i64>>,
    /// Bumped on every wake-up so a sleeping worker cannot miss one.
    wake: Mutex<u64>,
    wake_cv: Condvar,
    stop: AtomicBool,
    enqueued: AtomicU64,
    limits: Limits,
}

/// How long [`Notifier::stop`] waits for a delivery in progress.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// The delivery service: owns `notify.db` and the worker threads.
pub struct Notifier {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// A resolved action target.
enum Target<'a> {
    Topic(&'a str),
    Hook(&'a HookDef),
}

/// Why one delivery attempt did not deliver.
enum Failure {
    /// Worth another try.
    Retry(String),
    /// No retry can succeed (hook gone from the config, no smtp).
    Permanent(String),
    /// The notifier is stopping; not an attempt.
    Stopped,
}

enum Claim {
    Job(Job),
    WaitUntil(i64),
    Idle,
}

impl Notifier {
    /// Validates `cfg`, opens (or creates) `notify.db` in `cfg.dir` and
    /// prunes old deliveries. Pending deliveries in the file are delivered
    /// once [`Notifier::start`] runs.
    pub fn open(cfg: NotifyConfig) -> Result<Notifier> {
        validate_config(&cfg)?;
        std::fs::create_dir_all(&cfg.dir)?;
        let store = Store::open(&cfg.dir.join("notify.db"))?;
        store.prune(MAX_DELIVERY_ROWS)?;
        Ok(Notifier {
            shared: Arc::new(Shared {
                cfg,
                store: Mutex::new(store),
                http: HttpClient::new(),
                inflight: Mutex::new(HashSet::new()),
                wake: Mutex::new(0),
                wake_cv: Condvar::new(),
                stop: AtomicBool::new(false),
                enqueued: AtomicU64::new(0),
                limits: Limits {
                    max_delivery_rows: MAX_DELIVERY_ROWS,
                    command_timeout: COMMAND_TIMEOUT,
                },
            }),
            workers: Mutex::new(Vec::new()),
        })
    }

    /// Starts the delivery threads; does nothing when they already run.
    pub fn start(self: &Arc<Self>) {
        let mut workers = self.workers.lock();
        if !workers.is_empty() {
            return;
        }
        self.shared.stop.store(false, Ordering::SeqCst);
        for i in 0..WORKERS {
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("mw-notify-{i}"))
                .spawn(move || shared.worker_loop());
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => tracing::error!("cannot start notification worker: {e}"),
            }
        }
    }

    /// Stops the delivery threads, waiting at most [`STOP_GRACE`] for them.
    /// Deliveries not yet made stay `pending` in `notify.db`; a running
    /// command hook is killed and its delivery stays `pending` too; a worker
    /// still waiting on an HTTP endpoint after the grace period is left
    /// behind, and its delivery, not yet recorded, stays `pending` and is
    /// tried again after a restart.
    pub fn stop(&self) {
        let mut workers = self.workers.lock();
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake_all();
        let deadline = std::time::Instant::now() + STOP_GRACE;
        for handle in workers.drain(..) {
            while !handle.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !handle.is_finished() {
                tracing::warn!("a notification worker is still delivering; leaving it behind");
                continue;
            }
            if handle.join().is_err() {
                tracing::error!("a notification worker panicked");
            }
        }
    }

    /// Creates a topic and returns its ARN; an existing topic's ARN if it
    /// is already there (as SNS `CreateTopic`).
    pub fn create_topic(&self, name: &str) -> Result<String> {
        validate_name("topic", name)?;
        let store = self.shared.store.lock();
        if !store.topic_exists(name)? {
            if store.topic_count()? >= MAX_TOPICS {
                return Err(Error::LimitExceeded(format!(
                    "cannot create topic {name}: the limit of {MAX_TOPICS} topics is reached"
                )));
            }
            store.insert_topic(name, now_ms())?;
        }
        Ok(self.shared.topic_arn(name))
    }

    /// Deletes a topic and its subscriptions; deleting a topic that does not
    /// exist is not an error (as SNS `DeleteTopic`). Deliveries already
    /// queued for it are still made.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        validate_name("topic", name)?;
        self.shared.store.lock().delete_topic(name)?;
        Ok(())
    }

    /// The hooks of the config as (name, ARN, `command` or `webhook`).
    pub fn hooks(&self) -> Vec<(String, String, &'static str)> {
        self.shared
            .cfg
            .hooks
            .iter()
            .map(|h| {
                let kind = match h {
                    HookDef::Command { .. } => "command",
                    HookDef::Webhook { .. } => "webhook",
                };
                (
                    h.name().to_owned(),
                    format!("arn:modelwatch:hook:{}", h.name()),
                    kind,
                )
            })
            .collect()
    }

    /// All topics as (name, ARN), by name.
    pub fn topics(&self) -> Vec<(String, String)> {
        match self.shared.store.lock().topic_names() {
            Ok(names) => names
                .into_iter()
                .map(|n| {
                    let arn = self.shared.topic_arn(&n);
                    (n, arn)
                })
                .collect(),
            Err(e) => {
                tracing::error!("cannot list topics: {e}");
                Vec::new()
            }
        }
    }

    /// Subscribes `endpoint` to `topic` and returns the subscription ARN;
    /// the existing one for an identical subscription.
    pub fn subscribe(&self, topic: &str, protocol: &str, endpoint: &str) -> Result<String> {
        validate_name("topic", topic)?;
        match protocol {
            "http" | "https" => validate_url(endpoint, Some(protocol))?,
            "email" => {
                validate_email(endpoint)?;
                if self.shared.cfg.smtp.is_none() {
                    return Err(Error::InvalidParameter(
                        "email subscriptions need an smtp server in the notify config".to_string(),
                    ));
                }
            }
            other => {
                return Err(Error::InvalidParameter(format!(
                    "unsupported protocol {other:?}: use http, https or email"
                )))
            }
        }
        let store = self.shared.store.lock();
        if !store.topic_exists(topic)? {
            return Err(Error::NotFound(format!("topic {topic} does not exist")));
        }
        if let Some(id) = store.find_subscription(topic, protocol, endpoint)? {
            return Ok(id);
        }
        if store.subscription_count(topic)? >= MAX_SUBSCRIPTIONS_PER_TOPIC {
            return Err(Error::LimitExceeded(format!(
                "topic {topic} already has {MAX_SUBSCRIPTIONS_PER_TOPIC} subscriptions"
            )));
        }
        let sub = Subscription {
            id: format!("{}:{}", self.shared.topic_arn(topic), message::new_uuid()),
            topic: topic.to_string(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            created_ms: now_ms(),
        };
        store.insert_subscription(&sub)?;
        Ok(sub.id)
    }

    /// Removes a subscription by its ARN.
    pub fn unsubscribe(&self, id: &str) -> Result<()> {
        if self.shared.store.lock().delete_subscription(id)? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("subscription {id} does not exist")))
        }
    }

    /// The subscriptions of `topic`, oldest first.
    pub fn subscriptions(&self, topic: &str) -> Result<Vec<Subscription>> {
        validate_name("topic", topic)?;
        let store = self.shared.store.lock();
        if !store.topic_exists(topic)? {
            return Err(Error::NotFound(format!("topic {topic} does not exist")));
        }
        store.subscriptions(topic)
    }

    /// Is `arn` a target actions may name? `arn:aws:sns:<region>:<account>:<topic>`
    /// of an existing topic of this server, or `arn:modelwatch:hook:<name>`
    /// of a hook declared in the config. Anything else is `InvalidParameter`.
    pub fn check_target(&self, arn: &str) -> Result<()> {
        self.shared.resolve(arn).map(|_| ())
    }

    /// Records one `pending` delivery per endpoint behind `target` (each
    /// subscription of the topic, or the hook) durably, then wakes the
    /// workers. Never waits for a delivery. A topic without subscriptions
    /// records nothing.
    pub fn enqueue(&self, target: &str, msg: &AlarmMessage) -> Result<()> {
        let shared = &self.shared;
        let resolved = shared.resolve(target)?;
        let body = message::alarm_json(msg, &shared.cfg.region, &shared.cfg.account);
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(Error::LimitExceeded(format!(
                "alarm message for {} is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
                msg.alarm_name,
                body.len()
            )));
        }
        let subject = message::subject(msg, &shared.cfg.region);
        let message_id = message::new_uuid();
        let now = now_ms();
        let mut store = shared.store.lock();
        let subs = match resolved {
            Target::Topic(name) => store.subscriptions(name)?,
            Target::Hook(_) => Vec::new(),
        };
        let row = |kind, endpoint| NewDelivery {
            alarm_name: &msg.alarm_name,
            target,
            kind,
            endpoint,
            message_id: &message_id,
            subject: &subject,
            message: &body,
        };
        let rows: Vec<NewDelivery<'_>> = match resolved {
            Target::Topic(_) => subs
                .iter()
                .map(|s| {
                    let kind = if s.protocol == "email" {
                        Kind::Email
                    } else {
                        Kind::Http
                    };
                    row(kind, s.endpoint.as_str())
                })
                .collect(),
            Target::Hook(HookDef::Webhook { url, .. }) => vec![row(Kind::Hook, url.as_str())],
            Target::Hook(HookDef::Command { program, .. }) => {
                vec![row(Kind::Hook, program.as_str())]
            }
        };
        if rows.is_empty() {
            tracing::debug!("topic {target} has no subscriptions; nothing to deliver");
            return Ok(());
        }
        store.insert_deliveries(&rows, now)?;
        let before = shared
            .enqueued
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        if before / PRUNE_EVERY != (before + rows.len() as u64) / PRUNE_EVERY {
            store.prune(shared.limits.max_delivery_rows)?;
        }
        drop(store);
        shared.wake_all();
        Ok(())
    }

    /// Recorded deliveries, newest first, optionally of one alarm.
    pub fn deliveries(&self, alarm: Option<&str>, limit: usize) -> Vec<Delivery> {
        let limit = limit.min(self.shared.limits.max_delivery_rows);
        match self.shared.store.lock().deliveries(alarm, limit) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot list deliveries: {e}");
                Vec::new()
            }
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn topic_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sns:{}:{}:{name}",
            self.cfg.region, self.cfg.account
        )
    }

    fn resolve<'a>(&'a self, arn: &'a str) -> Result<Target<'a>> {
        let bad = |why: &str| {
            Error::InvalidParameter(format!(
                "invalid action target {arn}: {why}; use arn:aws:sns:{}:{}:<topic> of an \
                 existing topic or arn:modelwatch:hook:<name> of a hook in the notify config",
                self.cfg.region, self.cfg.account
            ))
        };
        if let Some(name) = arn.strip_prefix(HOOK_ARN_PREFIX) {
            return self
                .cfg
                .hooks
                .iter()
                .find(|h| h.name() == name)
                .map(Target::Hook)
                .ok_or_else(|| bad(&format!("no hook named {name:?} is declared")));
        }
        let topic_prefix = format!("arn:aws:sns:{}:{}:", self.cfg.region, self.cfg.account);
        if let Some(name) = arn.strip_prefix(&topic_prefix) {
            if validate_name("topic", name).is_err() {
                return Err(bad("the topic name is not valid"));
            }
            return if self.store.lock().topic_exists(name)? {
                Ok(Target::Topic(name))
            } else {
                Err(bad(&format!("topic {name} does not exist")))
            };
        }
        if arn.starts_with("arn:aws:sns:") {
            return Err(bad("the topic belongs to another region or account"));
        }
        Err(bad("this server does not deliver to it"))
    }

    fn wake_all(&self) {
        let mut seq = self.wake.lock();
        *seq = seq.wrapping_add(1);
        self.wake_cv.notify_all();
    }

    fn worker_loop(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            let seen = *self.wake.lock();
            let wait = match self.claim() {
                Ok(Claim::Job(job)) => {
                    self.run_job(job);
                    continue;
                }
                Ok(Claim::WaitUntil(at)) => {
                    let ms = (at - now_ms()).clamp(1, IDLE_WAIT.as_millis() as i64);
                    Duration::from_millis(ms as u64)
                }
                Ok(Claim::Idle) => IDLE_WAIT,
                Err(e) => {
                    tracing::error!("cannot read the notification queue: {e}");
                    Duration::from_secs(1)
                }
            };
            let mut seq = self.wake.lock();
            if *seq == seen && !self.stop.load(Ordering::SeqCst) {
                self.wake_cv.wait_for(&mut seq, wait);
            }
        }
    }

    /// Takes the oldest due delivery nobody is trying, or says when to look again.
    fn claim(&self) -> Result<Claim> {
        let mut inflight = self.inflight.lock();
        let store = self.store.lock();
        let now = now_ms();
        // One more row than are in flight: at least one of them is free if any is.
        let due = store.due(now, inflight.len() + 1)?;
        if let Some(job) = due.into_iter().find(|j| !inflight.contains(&j.id)) {
            inflight.insert(job.id);
            return Ok(Claim::Job(job));
        }
        Ok(match store.next_due_after(now)? {
            Some(at) => Claim::WaitUntil(at),
            None => Claim::Idle,
        })
    }

    fn run_job(&self, job: Job) {
        let attempt = job.attempts.saturating_add(1);
        let outcome = self.deliver(&job);
        let now = now_ms();
        let max_attempts = self.cfg.max_attempts.max(1);
        let recorded = {
            let store = self.store.lock();
            match &outcome {
                Ok(()) => {
                    tracing::debug!(id = job.id, endpoint = %job.endpoint, "notification delivered");
                    store.mark_delivered(job.id, attempt, now)
                }
                Err(Failure::Retry(e)) if attempt < max_attempts => {
                    let at = now + self.backoff_ms(attempt) as i64;
                    tracing::debug!(id = job.id, attempt, "notification failed, will retry: {e}");
                    store.mark_attempt_failed(job.id, attempt, e, Some(at), now)
                }
                Err(Failure::Retry(e) | Failure::Permanent(e)) => {
                    tracing::warn!(
                        id = job.id,
                        target = %job.target,
                        endpoint = %job.endpoint,
                        attempts = attempt,
                        "notification failed: {e}"
                    );
                    store.mark_attempt_failed(job.id, attempt, e, None, now)
                }
                Err(Failure::Stopped) => Ok(()),
            }
        };
        if let Err(e) = recorded {
            tracing::error!(id = job.id, "cannot record notification outcome: {e}");
        }
        self.inflight.lock().remove(&job.id);
    }

    /// Delay before the try after failed attempt number `attempt` (1-based).
    fn backoff_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u64::MAX);
        self.cfg
            .backoff_base_ms
            .saturating_mul(factor)
            .min(MAX_BACKOFF_MS)
    }

    fn deliver(&self, job: &Job) -> Result<(), Failure> {
        match job.kind {
            Some(Kind::Http) => {
                let body = message::sns_envelope(
                    &job.message_id,
                    &job.target,
                    &job.subject,
                    &job.message,
                    job.created_ms,
                );
                self.http
                    .post(&Post {
                        url: &job.endpoint,
                        content_type: "text/plain; charset=UTF-8",
                        headers: &[
                            ("x-amz-sns-message-type", "Notification"),
                            ("x-amz-sns-message-id", &job.message_id),
                            ("x-amz-sns-topic-arn", &job.target),
                        ],
                        body: &body,
                    })
                    .map_err(Failure::Retry)
            }
            Some(Kind::Email) => {
                let Some(smtp_cfg) = &self.cfg.smtp else {
                    return Err(Failure::Permanent(
                        "no smtp server is configured for email".to_string(),
                    ));
                };
                smtp::send(
                    smtp_cfg,
                    &Mail {
                        to: &job.endpoint,
                        subject: &job.subject,
                        body: &message::pretty_json(&job.message),
                        date_ms: now_ms(),
                    },
                )
                .map_err(Failure::Retry)
            }
            Some(Kind::Hook) => self.deliver_hook(job),
            None => Err(Failure::Permanent("unknown delivery kind".to_string())),
        }
    }

    fn deliver_hook(&self, job: &Job) -> Result<(), Failure> {
        let name = job.target.strip_prefix(HOOK_ARN_PREFIX).unwrap_or_default();
        let Some(hook) = self.cfg.hooks.iter().find(|h| h.name() == name) else {
            return Err(Failure::Permanent(format!(
                "hook {name:?} is no longer declared in the notify config"
            )));
        };
        match hook {
            HookDef::Webhook { url, .. } => self
                .http
                .post(&Post {
                    url,
                    content_type: "application/json",
                    headers: &[],
                    body: &job.message,
                })
                .map_err(Failure::Retry),
            HookDef::Command { program, args, .. } => {
                let alarm: Value = serde_json::from_str(&job.message).unwrap_or(Value::Null);
                let field = |key: &str| alarm[key].as_str().unwrap_or_default().to_string();
                let invocation = Invocation {
                    program,
                    args,
                    alarm_name: &field("AlarmName"),
                    new_state: &field("NewStateValue"),
                    old_state: &field("OldStateValue"),
                    alarm_arn: &field("AlarmArn"),
                    stdin: &job.message,
                };
                command::run(&invocation, self.limits.command_timeout, &self.stop).map_err(|f| {
                    match f {
                        CommandFailure::Failed(e) => Failure::Retry(e),
                        CommandFailure::Stopped => Failure::Stopped,
                    }
                })
            }
        }
    }
}

/// Topic and hook names: 1-256 of `[A-Za-z0-9_-]`.
fn validate_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "invalid {what} name {name:?}: use 1 to 256 letters, digits, '-' or '_'"
        )))
    }
}

/// An `http://` or `https://` URL with a host; `scheme` demands one of them.
fn validate_url(url: &str, scheme: Option<&str>) -> Result<()> {
    let bad = |why: &str| Error::InvalidParameter(format!("invalid endpoint {url:?}: {why}"));
    if url.len() > MAX_ENDPOINT_LEN {
        return Err(bad("it is too long"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace"));
    }
    let (found, rest) = if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err(bad("it must be an http:// or https:// url"));
    };
    if let Some(want) = scheme {
        if want != found {
            return Err(bad(&format!("protocol {want} needs a {want}:// url")));
        }
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("it has no host"));
    }
    Ok(())
}

/// Something that looks like `local@domain`, safe to put in SMTP commands.
fn validate_email(addr: &str) -> Result<()> {
    let bad = || Error::InvalidParameter(format!("invalid email address {addr:?}"));
    if addr.len() > 254
        || addr
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return Err(bad());
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(bad());
    };
    if local.is_empty()
        || local.contains('@')
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(())
}

fn validate_config(cfg: &NotifyConfig) -> Result<()> {
    for (what, value) in [("region", &cfg.region), ("account", &cfg.account)] {
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::InvalidParameter(format!(
                "invalid notify {what} {value:?}"
            )));
        }
    }
    let mut names = HashSet::new();
    for hook in &cfg.hooks {
        validate_name("hook", hook.name())?;
        if !names.insert(hook.name()) {
            return Err(Error::InvalidParameter(format!(
                "hook {} is declared twice",
                hook.name()
            )));
        }
        match hook {
            HookDef::Webhook { url, .. } => validate_url(url, None)?,
            HookDef::Command { name, program, .. } => {
                if program.is_empty() {
                    return Err(Error::InvalidParameter(format!(
                        "hook {name} has an empty program"
                    )));
                }
            }
        }
    }
    if let Some(smtp) = &cfg.smtp {
        if smtp.host.is_empty() {
            return Err(Error::InvalidParameter("smtp host is empty".to_string()));
        }
        validate_email(&smtp.from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
