//! The one error type of the log store.

/// What kind of failure an [`Error`] is; the API maps kinds to Logs exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameter,
    NotFound,
    AlreadyExists,
    LimitExceeded,
    Internal,
}

/// Failures of the log store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("log storage i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("log catalog database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Wal(#[from] mw_wal::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Io(_) | Error::Sqlite(_) | Error::Wal(_) | Error::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Error::InvalidParameter(m.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
