//! The one error type of the capture store.

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidParameter,
    LimitExceeded,
    Internal,
}

/// Failures of capture encoding, writing and reading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("capture catalog database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    CatalogVersion(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Io { .. } | Error::Sqlite(_) | Error::CatalogVersion(_) => ErrorKind::Internal,
        }
    }

    /// The catalog file cannot be read as a catalog: damaged, not a
    /// database, or written by a newer version.
    pub(crate) fn unreadable_catalog(&self) -> bool {
        match self {
            Error::CatalogVersion(_) => true,
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ),
            _ => false,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidParameter(msg.into())
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
