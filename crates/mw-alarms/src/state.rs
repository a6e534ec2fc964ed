//! Alarm states ([`StateValue`]) and manually forced states ([`ManualState`],
//! the input of `SetAlarmState`).

use crate::{Error, Result};

/// Reason stored when an alarm is created, before its first evaluation.
pub const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// Longest `StateReason` `SetAlarmState` accepts.
pub const MAX_STATE_REASON_LEN: usize = 1023;

/// Longest `StateReasonData` `SetAlarmState` accepts.
pub const MAX_STATE_REASON_DATA_LEN: usize = 4000;

/// The state of a metric or composite alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateValue {
    Ok,
    Alarm,
    InsufficientData,
}

impl StateValue {
    /// The wire spelling: `OK`, `ALARM`, `INSUFFICIENT_DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateValue::Ok => "OK",
            StateValue::Alarm => "ALARM",
            StateValue::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// Parses the wire spelling (case-sensitive, as AWS).
    pub fn parse(s: &str) -> Result<StateValue> {
        match s {
            "OK" => Ok(StateValue::Ok),
            "ALARM" => Ok(StateValue::Alarm),
            "INSUFFICIENT_DATA" => Ok(StateValue::InsufficientData),
            _ => Err(Error::InvalidParameter(format!(
                "value {s} for parameter StateValue is invalid: expected OK, ALARM or INSUFFICIENT_DATA"
            ))),
        }
    }
}

impl std::fmt::Display for StateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated `SetAlarmState` request.
///
/// A metric alarm keeps a forced state only until its next evaluation (the
/// evaluator compares against whatever the current state is); a composite
/// alarm keeps it until a child changes or its rule is updated.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualState {
    pub value: StateValue,
    pub reason: String,
    pub reason_data: Option<serde_json::Value>,
}

impl ManualState {
    /// Validates in moto's order: `StateReasonData` JSON first
    /// ([`ErrorKind::InvalidFormat`](crate::ErrorKind::InvalidFormat)), then the
    /// state value and the lengths. The caller checks that the alarm exists
    /// (`ResourceNotFound`) between [`ManualState::parse_reason_data`] and this
    /// if it wants moto's exact precedence.
    pub fn parse(value: &str, reason: &str, reason_data: Option<&str>) -> Result<ManualState> {
        let reason_data = reason_data.map(Self::parse_reason_data).transpose()?;
        let value = StateValue::parse(value)?;
        if reason.chars().count() > MAX_STATE_REASON_LEN {
            return Err(Error::InvalidParameter(format!(
                "StateReason must be at most {MAX_STATE_REASON_LEN} characters"
            )));
        }
        Ok(ManualState {
            value,
            reason: reason.to_owned(),
            reason_data,
        })
    }

    /// Checks that `StateReasonData` is JSON of at most 4000 characters.
    pub fn parse_reason_data(data: &str) -> Result<serde_json::Value> {
        if data.chars().count() > MAX_STATE_REASON_DATA_LEN {
            return Err(Error::InvalidParameter(format!(
                "StateReasonData must be at most {MAX_STATE_REASON_DATA_LEN} characters"
            )));
        }
        serde_json::from_str(data)
            .map_err(|e| Error::InvalidFormat(format!("StateReasonData is not valid JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn state_values_round_trip_and_reject_other_spellings() {
        for s in [
            StateValue::Ok,
            StateValue::Alarm,
            StateValue::InsufficientData,
        ] {
            assert_eq!(StateValue::parse(s.as_str()), Ok(s));
        }
        for bad in ["ok", "Alarm", "INSUFFICIENT", ""] {
            assert_eq!(
                StateValue::parse(bad).map_err(|e| e.kind()),
                Err(ErrorKind::InvalidParameter),
                "{bad}"
            );
        }
    }

    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Result<(), ErrorKind>);

    #[test]
    fn manual_state_checks_json_before_the_state_value() {
        let cases: &[Case] = &[
            ("ALARM", "testing", None, Ok(())),
            ("OK", "testing", Some(r#"{"a":1}"#), Ok(())),
            (
                "OK",
                "testing",
                Some("{not json"),
                Err(ErrorKind::InvalidFormat),
            ),
            (
                "BOGUS",
                "testing",
                Some("{not json"),
                Err(ErrorKind::InvalidFormat),
            ),
            (
                "BOGUS",
                "testing",
                Some("{}"),
                Err(ErrorKind::InvalidParameter),
            ),
        ];
        for (value, reason, data, want) in cases {
            let got = ManualState::parse(value, reason, *data)
                .map(|_| ())
                .map_err(|e| e.kind());
            assert_eq!(&got, want, "{value} {data:?}");
        }
        let long = "x".repeat(MAX_STATE_REASON_LEN + 1);
        assert!(ManualState::parse("OK", &long, None).is_err());
        let exact = "x".repeat(MAX_STATE_REASON_LEN);
        assert!(ManualState::parse("OK", &exact, None).is_ok());
        let data = format!("\"{}\"", "y".repeat(MAX_STATE_REASON_DATA_LEN));
        assert!(ManualState::parse_reason_data(&data).is_err());
        let m = ManualState::parse("ALARM", "r", Some("[1,2]")).expect("valid");
        assert_eq!(m.reason_data, Some(serde_json::json!([1, 2])));
    }
}
