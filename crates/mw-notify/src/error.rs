//! The one error type of the notify crate.
//!
//! Errors come from the management calls (topics, subscriptions, action
//! targets) and from the SQLite delivery queue. Delivery failures themselves
//! are not errors of this type: they are recorded on the [`crate::Delivery`]
//! row as `last_error`. [`Error::kind`] tells the API layer how to answer.

/// What kind of failure an [`Error`] is; the API maps kinds to AWS codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter has a bad value (bad name, bad endpoint, unknown target).
    InvalidParameter,
    /// The named topic or subscription does not exist.
    NotFound,
    /// A bound on topics, subscriptions or message size was reached.
    LimitExceeded,
    /// The request conflicts with the current state.
    Conflict,
    /// Storage or another internal failure.
    Internal,
}

/// Failures of the notifier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Conflict(String),
    #[error("notification i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("notification database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Io(_) | Error::Sqlite(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
