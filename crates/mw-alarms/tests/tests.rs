//! Integration tests of mw-alarms: the alarm scenario language and its
//! files under `tests/scenarios/`, and the exhaustive missing-data table
//! generated from the reference oracle.

mod oracle;
mod scenario;
