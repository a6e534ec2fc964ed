//! The one error type of the alarms crate.
//!
//! Every failure is a definition-time failure (a bad `PutMetricAlarm`,
//! `PutCompositeAlarm` or `SetAlarmState` input): evaluation itself never fails.
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
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
