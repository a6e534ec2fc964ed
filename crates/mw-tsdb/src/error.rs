//! The one error type of the metric store.

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameter,
    LimitExceeded,
    Internal,
}

/// Failures of the metric store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("storage i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("catalog database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Wal(#[from] mw_wal::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Io(_) | Error::Sqlite(_) | Error::Internal(_) | Error::Wal(_) => {
                ErrorKind::Internal
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
