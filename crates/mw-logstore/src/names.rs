//! Name and value rules of CloudWatch Logs: group and stream names, retention
//! periods, batch limits.

use crate::error::{Error, Result};

/// Retention periods PutRetentionPolicy accepts, in days.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// Most events in one PutLogEvents call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Most bytes in one PutLogEvents call: Σ(message bytes + 26).
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Per-event overhead counted against [`MAX_BATCH_BYTES`].
pub const EVENT_OVERHEAD: usize = 26;
/// Largest single event message.
pub const MAX_EVENT_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD;
/// A batch may span at most this many milliseconds.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3_600_000;
/// Most metric filters per log group.
pub const MAX_METRIC_FILTERS: usize = 100;
/// Most metric filters with a regex pattern per log group.
pub const MAX_REGEX_FILTERS: usize = 5;

pub fn check_group_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'));
    if name.is_empty() || name.len() > 512 || !ok_chars {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length 1-512"
        )));
    }
    if name.starts_with("aws/") {
        return Err(Error::invalid(format!(
            "Log group name {name} is reserved: names starting with aws/ belong to AWS services"
        )));
    }
    Ok(())
}

pub fn check_stream_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 512 || name.contains(':') || name.contains('*') {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* and have length 1-512"
        )));
    }
    Ok(())
}

pub fn check_retention(days: i64) -> Result<u32> {
    RETENTION_DAYS
        .iter()
        .copied()
        .find(|d| i64::from(*d) == days)
        .ok_or_else(|| {
            Error::invalid(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_aws_patterns() {
        assert!(check_group_name("/aws-sagemaker/Endpoints/churn").is_ok());
        assert!(check_group_name("app#1.x_y").is_ok());
        for bad in ["", "has space", "a:b", "aws/lambda/x"] {
            assert!(check_group_name(bad).is_err(), "{bad}");
        }
        assert!(check_group_name(&"a".repeat(513)).is_err());
        assert!(check_stream_name("i-123/var/log").is_ok());
        assert!(check_stream_name("a:b").is_err());
        assert!(check_stream_name("a*").is_err());
    }

    #[test]
    fn only_documented_retention_periods_are_accepted() {
        assert_eq!(check_retention(30).unwrap(), 30);
        assert_eq!(check_retention(3653).unwrap(), 3653);
        for bad in [0, 2, 31, 10_000, -1] {
            assert!(check_retention(bad).is_err());
        }
    }
}
