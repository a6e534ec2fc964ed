//! The one error type of the monitor crate.
//!
//! Every failure names what was wrong and where: a data set's line and column,
//! a baseline file's field, a capture record's line. [`Error::kind`] tells a
//! caller (the API layer, the scheduler) how to classify it.

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input (a data set, a capture record, a baseline file, an option) is invalid.
    InvalidParameter,
    /// A file or an analysis window holds nothing to analyse.
    NotFound,
    /// A schedule, baseline or execution of that name already exists (or is in use).
    Conflict,
    /// A bound (schedules, baselines, window size, concurrent runs) would be exceeded.
    LimitExceeded,
    /// Too many jobs are running now; trying again later can succeed.
    Throttled,
    /// Reading or writing a file or the catalog failed.
    Internal,
}

/// Failures of baselining and monitoring jobs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data set line that cannot be parsed. `line` is 1-based; `column` is the
    /// 1-based field number where known.
    #[error("{source_name}: line {line}{}: {message}", column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Parse {
        source_name: String,
        line: u64,
        column: Option<usize>,
        message: String,
    },
    /// A data set that parses but cannot be analysed (no rows, no columns,
    /// duplicate column names).
    #[error("{0}")]
    Dataset(String),
    /// An analysis window with no records.
    #[error("{0}")]
    Empty(String),
    /// A baseline file (statistics.json / constraints.json / drift_baseline.json)
    /// that is not valid.
    #[error("{file}: {message}")]
    Baseline { file: String, message: String },
    /// An option that is out of range or inconsistent.
    #[error("{0}")]
    InvalidOption(String),
    /// A schedule, baseline, execution or report file that does not exist.
    #[error("{0}")]
    Missing(String),
    /// A name that is taken, or a baseline still used by a schedule.
    #[error("{0}")]
    Conflict(String),
    /// A bound of the schedule catalog or of one window.
    #[error("{0}")]
    LimitExceeded(String),
    /// Too many manual runs at once.
    #[error("{0}")]
    Throttled(String),
    /// The schedule catalog (SQLite) failed.
    #[error("monitoring catalog: {0}")]
    Catalog(String),
    /// An I/O failure on `path`.
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse { .. }
            | Error::Dataset(_)
            | Error::Baseline { .. }
            | Error::InvalidOption(_) => ErrorKind::InvalidParameter,
            Error::Empty(_) | Error::Missing(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Throttled(_) => ErrorKind::Throttled,
            Error::Io { .. } | Error::Catalog(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            err: source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
