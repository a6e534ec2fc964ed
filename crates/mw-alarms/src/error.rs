//! The one error type of the alarms crate.
//!
//! Almost every failure is a definition-time failure (a bad `PutMetricAlarm`,
//! `PutCompositeAlarm` or `SetAlarmState` input, an unknown alarm); the rest
//! are catalog I/O failures. Evaluation itself never fails.
//! [`Error::kind`] tells the API layer which AWS error code to answer with.

/// What kind of failure an [`Error`] is; the API maps kinds to AWS codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `InvalidParameterValue`: one parameter has a bad value.
    InvalidParameter,
    /// `MissingParameter`: a required parameter is absent.
    MissingParameter,
    /// `InvalidParameterCombination`: parameters that are fine alone conflict.
    InvalidCombination,
    /// `InvalidFormat`: `StateReasonData` is not JSON.
    InvalidFormat,
    /// `ResourceNotFound`: the named alarm does not exist.
    NotFound,
    /// `ResourceConflict`: the change would break another alarm.
    Conflict,
    /// `LimitExceeded`: too many alarms.
    LimitExceeded,
    /// The alarm catalog could not be read or written.
    Internal,
}

/// Failures when validating alarm definitions, rules and manual states.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidCombination(String),
    #[error("{0}")]
    InvalidFormat(String),
    /// A value AWS accepts but this server does not implement (anomaly bands).
    #[error("{0} is not supported by this server")]
    Unsupported(String),
    /// A composite `AlarmRule` that does not parse; `position` is a 0-based
    /// character offset into the rule.
    #[error("invalid alarm rule at position {position}: {message}")]
    Rule { position: usize, message: String },
    /// A composite rule names an alarm that does not exist.
    #[error("alarm rule references alarm {0} which does not exist")]
    UnknownChild(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Storage(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_)
            | Error::Unsupported(_)
            | Error::Rule { .. }
            | Error::UnknownChild(_) => ErrorKind::InvalidParameter,
            Error::MissingParameter(_) => ErrorKind::MissingParameter,
            Error::InvalidCombination(_) => ErrorKind::InvalidCombination,
            Error::InvalidFormat(_) => ErrorKind::InvalidFormat,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Storage(_) => ErrorKind::Internal,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
