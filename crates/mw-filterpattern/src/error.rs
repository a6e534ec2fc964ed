//! The one error type of the filter pattern parser: [`PatternError`].
//!
//! Every error names a 1-based character position in the pattern, so the
//! message reads `invalid filter pattern at position 12: expected ']'`.

/// What kind of failure a [`PatternError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The pattern is not valid filter pattern syntax.
    InvalidParameter,
    /// The pattern is valid syntax but exceeds a quota (regexes or wildcards per pattern).
    LimitExceeded,
}

/// Why a filter pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Malformed syntax at `position` (1-based, in characters).
    #[error("invalid filter pattern at position {position}: {message}")]
    Syntax { position: usize, message: String },
    /// A documented quota is exceeded at `position` (1-based, in characters).
    #[error("invalid filter pattern at position {position}: {message}")]
    Limit { position: usize, message: String },
}

impl PatternError {
    pub(crate) fn syntax(position: usize, message: impl Into<String>) -> PatternError {
        PatternError::Syntax {
            position,
            message: message.into(),
        }
    }

    pub(crate) fn limit(position: usize, message: impl Into<String>) -> PatternError {
        PatternError::Limit {
            position,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            PatternError::Syntax { .. } => ErrorKind::InvalidParameter,
            PatternError::Limit { .. } => ErrorKind::LimitExceeded,
        }
    }

    /// The 1-based character position the error refers to.
    pub fn position(&self) -> usize {
        match self {
            PatternError::Syntax { position, .. } | PatternError::Limit { position, .. } => {
                *position
            }
        }
    }

    /// The message without the position prefix.
    pub fn message(&self) -> &str {
        match self {
            PatternError::Syntax { message, .. } | PatternError::Limit { message, .. } => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_position() {
        let e = PatternError::syntax(12, "expected ']'");
        assert_eq!(
            e.to_string(),
            "invalid filter pattern at position 12: expected ']'"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        assert_eq!(e.position(), 12);
        assert_eq!(PatternError::limit(1, "x").kind(), ErrorKind::LimitExceeded);
    }
}
