//! The one error type of the query crate: [`QueryError`] and its [`ErrorKind`].
//!
//! Parse errors name a 1-based character position in the text that was parsed
//! (the whole expression, or the search string for SEARCH queries).

/// What kind of failure an error is; the API maps kinds to protocol error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The expression or search query is malformed or ill-typed.
    InvalidParameter,
    /// A size limit was passed (text length, nesting, generated points).
    LimitExceeded,
    /// Something failed that the caller could not have prevented.
    Internal,
}

/// A metric math or SEARCH expression that cannot be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// Malformed metric math text; `position` is 1-based, in characters.
    #[error("syntax error at position {position}: {message}")]
    Syntax { position: usize, message: String },
    /// Malformed SEARCH query text; `position` is 1-based, in characters.
    #[error("search syntax error at position {position}: {message}")]
    SearchSyntax { position: usize, message: String },
    /// A function name that metric math does not have (names are uppercase).
    #[error("unknown function {0}")]
    UnknownFunction(String),
    /// A function metric math has but this server does not implement.
    #[error("function {0} is not supported")]
    UnsupportedFunction(String),
    /// A function called with the wrong number of arguments.
    #[error("function {function} expects {expected} argument(s), got {got}")]
    Arity {
        function: String,
        expected: String,
        got: usize,
    },
    /// An argument or operand of the wrong type (scalar, series, array, string).
    #[error("{0}")]
    Type(String),
    /// An expression refers to an id the request does not define.
    #[error("unknown id {0}")]
    UnknownId(String),
    /// The expression's result is a scalar; a series or array is required.
    #[error("the expression must produce a time series or an array of time series, not a scalar (wrap it in TIME_SERIES)")]
    ScalarResult,
    /// Text longer than the limit.
    #[error("{what} must be at most {max} characters long")]
    TooLong { what: &'static str, max: usize },
    /// Any other failure, e.g. one reported by an [`crate::EvalContext`].
    #[error("{message}")]
    Other { kind: ErrorKind, message: String },
}

impl QueryError {
    /// An error of the given kind with a free message (for [`crate::EvalContext`] implementations).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        QueryError::Other {
            kind,
            message: message.into(),
        }
    }

    /// An invalid-parameter error with a free message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub(crate) fn syntax(position: usize, message: impl Into<String>) -> Self {
        QueryError::Syntax {
            position,
            message: message.into(),
        }
    }

    pub(crate) fn search_syntax(position: usize, message: impl Into<String>) -> Self {
        QueryError::SearchSyntax {
            position,
            message: message.into(),
        }
    }

    pub(crate) fn type_error(message: impl Into<String>) -> Self {
        QueryError::Type(message.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            QueryError::TooLong { .. } => ErrorKind::LimitExceeded,
            QueryError::Other { kind, .. } => *kind,
            QueryError::Syntax { .. }
            | QueryError::SearchSyntax { .. }
            | QueryError::UnknownFunction(_)
            | QueryError::UnsupportedFunction(_)
            | QueryError::Arity { .. }
            | QueryError::Type(_)
            | QueryError::UnknownId(_)
            | QueryError::ScalarResult => ErrorKind::InvalidParameter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_kinds() {
        let e = QueryError::syntax(7, "expected ')'");
        assert_eq!(e.to_string(), "syntax error at position 7: expected ')'");
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        let e = QueryError::UnknownFunction("FOO".into());
        assert_eq!(e.to_string(), "unknown function FOO");
        let e = QueryError::TooLong {
            what: "a search query",
            max: 1024,
        };
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            e.to_string(),
            "a search query must be at most 1024 characters long"
        );
        let e = QueryError::new(ErrorKind::Internal, "store unavailable");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.to_string(), "store unavailable");
    }
}
