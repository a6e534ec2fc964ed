//! Delivery of alarm actions: notify the team, call automation.
//!
//! An alarm action names a target ARN. This crate owns the targets and gets
//! notifications to them:
//!
//! - **SNS-style topics** (`arn:aws:sns:<region>:<account>:<name>`) created
//!   through the API, each with `http`, `https` or `email` subscriptions.
//!   HTTP(S) endpoints get the JSON envelope SNS posts; email goes out over
//!   plain SMTP to a relay named in the config.
//! - **Hooks** (`arn:modelwatch:hook:<name>`) declared in the config file
//!   only: a webhook (the alarm JSON POSTed as `application/json`) or a
//!   command (run without a shell, the alarm JSON on stdin).
//!
//! [`Notifier`] is the one entry point. [`Notifier::enqueue`] fans a
//! [`AlarmMessage`] out to one [`Delivery`] per endpoint, written as
//! `pending` to the SQLite file `notify.db` before it returns; a small pool
//! of std threads started by [`Notifier::start`] delivers them, retrying with
//! exponential backoff (1 s, 2 s, 4 s … at most 60 s) until `delivered` or,
//! after `max_attempts`, `failed`. Pending rows survive a restart.
//!
//! Architecture invariants: this crate knows nothing about alarm evaluation
//! or the AWS wire protocols; the alarm engine hands it messages, the API
//! layer calls its management methods. An API caller can never make the
//! server run a command: commands come only from [`NotifyConfig::hooks`].
//!
//! ```ignore
//! let notifier = Arc::new(Notifier::open(cfg)?);
//! notifier.start();
//! let arn = notifier.create_topic("oncall")?;
//! notifier.subscribe("oncall", "https", "https://hooks.example.com/alarm")?;
//! notifier.check_target(&arn)?;     // when an alarm is defined
//! notifier.enqueue(&arn, &message)?; // when its state changes
//! ```

mod command;
mod error;
mod http;
mod message;
mod notifier;
mod smtp;
mod store;

use std::path::PathBuf;

pub use error::{Error, ErrorKind, Result};
pub use notifier::Notifier;

/// How the notifier is set up; read from the server's config file.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Directory for `notify.db`; created if missing.
    pub dir: PathBuf,
    /// Hooks alarm actions may name as `arn:modelwatch:hook:<name>`.
    pub hooks: Vec<HookDef>,
    /// SMTP relay for `email` subscriptions; without it they are refused.
    pub smtp: Option<SmtpConfig>,
    /// Tries per delivery before it is `failed` (default 5).
    pub max_attempts: u32,
    /// Region of topic ARNs, e.g. `us-east-1`.
    pub region: String,
    /// Account id of topic ARNs, e.g. `123456789012`.
    pub account: String,
    /// First retry delay in milliseconds, doubled per failure and capped at
    /// 60 s (default 1000).
    pub backoff_base_ms: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            dir: PathBuf::from("."),
            hooks: Vec::new(),
            smtp: None,
            max_attempts: 5,
            region: "us-east-1".to_string(),
            account: "123456789012".to_string(),
            backoff_base_ms: 1000,
        }
    }
}

/// A target declared in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookDef {
    /// Runs `program args...` directly (no shell) with the alarm JSON on stdin.
    Command {
        name: String,
        program: String,
        args: Vec<String>,
    },
    /// POSTs the alarm JSON to `url` (http or https).
    Webhook { name: String, url: String },
}

impl HookDef {
    /// The name the hook's ARN ends with.
    pub fn name(&self) -> &str {
        match self {
            HookDef::Command { name, .. } | HookDef::Webhook { name, .. } => name,
        }
    }
}

/// The SMTP relay email subscriptions are sent through (no TLS, no auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// Envelope and header sender address.
    pub from: String,
}

/// One alarm state change to notify about.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmMessage {
    pub alarm_name: String,
    pub alarm_description: Option<String>,
    pub alarm_arn: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub new_state: String,
    pub old_state: String,
    pub new_state_reason: String,
    /// When the state changed, Unix milliseconds.
    pub state_change_time_ms: i64,
    /// The alarm's `Trigger` object (metric, statistic, threshold …).
    pub trigger: serde_json::Value,
}

/// A subscription of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscription ARN: `<topic arn>:<uuid>`.
    pub id: String,
    /// The topic name.
    pub topic: String,
    /// `http`, `https` or `email`.
    pub protocol: String,
    /// URL or email address.
    pub endpoint: String,
    pub created_ms: i64,
}

/// One notification to one endpoint, as recorded in `notify.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub alarm_name: String,
    /// The action ARN the alarm named (topic or hook).
    pub target: String,
    /// URL, email address, or the hook's URL / program.
    pub endpoint: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}
