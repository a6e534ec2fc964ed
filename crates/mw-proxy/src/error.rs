//! The one error type of the sidecar's setup (requests never fail with it:
//! they are answered with an HTTP status).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameter,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Capture(#[from] mw_capture::Error),
    #[error(transparent)]
    Client(#[from] mw_client::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::Capture(e) if e.kind() == mw_capture::ErrorKind::InvalidParameter => {
                ErrorKind::InvalidParameter
            }
            Error::Client(e) if e.kind() == mw_client::ErrorKind::InvalidParameter => {
                ErrorKind::InvalidParameter
            }
            _ => ErrorKind::Internal,
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
