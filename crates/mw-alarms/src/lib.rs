//! Alarm evaluation for modelwatch: CloudWatch metric and composite alarms,
//! without the API, storage or delivery around them.
//!
//! - [`AlarmParams`] → [`AlarmDef`]: `PutMetricAlarm` validation with AWS's
//!   rules; errors carry an [`ErrorKind`] the API maps to
//!   `InvalidParameterValue`, `InvalidParameterCombination`, `MissingParameter`
//!   or `InvalidFormat`.
//! - [`evaluate`]: one evaluation of a metric alarm. It reads per-period
//!   values the caller fetched for [`evaluation_range`] and returns the
//!   [`Evaluation`]: new state, `StateReason`, `StateReasonData`, and whether
//!   the state changed. It reproduces AWS's M-out-of-N rule, the four
//!   `TreatMissingData` modes (every row of the documented tables) and
//!   `EvaluateLowSampleCountPercentile`.
//! - [`AlarmRule`]: the composite rule language; [`evaluate_composite`],
//!   [`check_children`] and [`find_cycle`] around it.
//! - [`ManualState`]: `SetAlarmState` input checks.
//!
//! - [`engine::Engine`]: the alarms of one server around those pure parts:
//!   the catalog (`alarms.db`, SQLite), the evaluation schedule, transitions,
//!   history, composite propagation, and actions handed to an injected
//!   [`engine::ActionSink`]; values come from an injected
//!   [`engine::DataSource`].
//!
//! Architecture invariant: the evaluator modules are pure. They know nothing
//! of the store, the clock, HTTP or actions; the caller passes `now` and the
//! data. That keeps every evaluation deterministic and lets the scenario
//! files in `tests/scenarios/` pin the behaviour down. Only [`engine`]
//! touches a file and a clock, and it knows neither the metric store nor
//! delivery.
//!
//! ```ignore
//! let def = AlarmParams { period: Some(60), evaluation_periods: Some(3),
//!     threshold: Some(4.0), comparison_operator: Some("GreaterThanThreshold".into()),
//!     statistic: Some("Average".into()), ..Default::default() }.validate()?;
//! let range = evaluation_range(&def, now_ms);
//! let points: Vec<Datapoint> = fetch(range);         // the caller's store
//! let e = evaluate(&def, StateValue::Ok, &points, now_ms);
//! if e.changed { /* store state, write history, run def.actions_for(e.new_state) */ }
//! ```

mod composite;
pub mod config;
mod def;
pub mod engine;
mod error;
mod eval;
mod format;
mod rule;
mod state;

pub use composite::{check_children, evaluate_composite, find_cycle, ChildState};
pub use def::{
    AlarmDef, AlarmParams, AlarmStatistic, ComparisonOperator, LowSampleCount, TreatMissingData,
    ANOMALY_BAND_OPERATORS, MAX_ACTIONS,
};
pub use error::{Error, ErrorKind, Result};
pub use eval::{
    evaluate, evaluate_state, evaluation_range, Datapoint, Evaluation, EvaluationRange,
    PeriodValue, EXTRA_LOOKBACK_PERIODS,
};
pub use format::{java_double, json_date, reason_date};
pub use rule::{AlarmRef, AlarmRule, Expr, MAX_CHILDREN, MAX_DEPTH, MAX_ELEMENTS, MAX_RULE_LEN};
pub use state::{
    ManualState, StateValue, INITIAL_REASON, MAX_STATE_REASON_DATA_LEN, MAX_STATE_REASON_LEN,
};
