//! The one error type of the Logs Insights crate: [`InsightsError`] and its [`ErrorKind`].
//!
//! Compile errors carry a 1-based character `position` (what messages show) and the
//! length in characters of the offending text, so the API layer can fill AWS's
//! `MalformedQueryException.queryCompileError.location` (0-based start and end offsets)
//! through [`InsightsError::compile_error`].

/// What kind of failure an error is; the API maps kinds to protocol error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The query text is malformed (AWS: `MalformedQueryException`).
    InvalidParameter,
    /// The query text is longer than AWS allows (AWS: `InvalidParameterException`).
    LimitExceeded,
}

/// A Logs Insights query that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsightsError {
    /// Malformed query text: `message` is e.g. `unexpected token 'foo'`.
    #[error("{message} at position {position}")]
    Syntax {
        /// 1-based character position of the offending text.
        position: usize,
        /// Length in characters of the offending text (at least 1).
        length: usize,
        message: String,
    },
    /// The first word of a command is not a command this server knows.
    #[error("unknown command '{name}' at position {position}")]
    UnknownCommand { name: String, position: usize },
    /// A call to a function this server does not know.
    #[error("unknown function '{name}' at position {position}")]
    UnknownFunction { name: String, position: usize },
    /// The query text is longer than `max` characters.
    #[error("query must be at most {max} characters long")]
    TooLong { max: usize },
}

/// Where a compile error lies, the way AWS reports it in `queryCompileError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// 0-based character offset of the first offending character.
    pub start_char_offset: usize,
    /// 0-based character offset just past the offending text.
    pub end_char_offset: usize,
    /// The message, with the position.
    pub message: String,
}

impl InsightsError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            InsightsError::TooLong { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::InvalidParameter,
        }
    }

    /// The 1-based character position of the error, where it has one.
    pub fn position(&self) -> Option<usize> {
        match self {
            InsightsError::Syntax { position, .. }
            | InsightsError::UnknownCommand { position, .. }
            | InsightsError::UnknownFunction { position, .. } => Some(*position),
            InsightsError::TooLong { .. } => None,
        }
    }

    /// The error as AWS's `queryCompileError`, where it has a position.
    pub fn compile_error(&self) -> Option<CompileError> {
        let position = self.position()?;
        let length = match self {
            InsightsError::Syntax { length, .. } => *length,
            InsightsError::UnknownCommand { name, .. }
            | InsightsError::UnknownFunction { name, .. } => name.chars().count(),
            InsightsError::TooLong { .. } => 1,
        };
        let start = position.saturating_sub(1);
        Some(CompileError {
            start_char_offset: start,
            end_char_offset: start + length.max(1),
            message: self.to_string(),
        })
    }

    pub(crate) fn syntax(position0: usize, length: usize, message: impl Into<String>) -> Self {
        InsightsError::Syntax {
            position: position0 + 1,
            length: length.max(1),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_formats_position_and_offsets() {
        let e = InsightsError::syntax(16, 3, "unexpected token 'foo'");
        assert_eq!(e.to_string(), "unexpected token 'foo' at position 17");
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        let c = e.compile_error().expect("has a position");
        assert_eq!((c.start_char_offset, c.end_char_offset), (16, 19));
    }

    #[test]
    fn too_long_has_no_position() {
        let e = InsightsError::TooLong { max: 10_000 };
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert_eq!(e.position(), None);
        assert!(e.compile_error().is_none());
    }
}
