//! Metric alarm definitions: the validated [`AlarmDef`] an evaluator runs, and
//! [`AlarmParams`], the `PutMetricAlarm` fields as they come off the wire.
//!
//! Validation follows AWS (reference §3.1): Period 10/20/30 or a multiple of 60;
//! Period × EvaluationPeriods ≤ 86,400 (≤ 604,800 when Period ≥ 3600);
//! 1 ≤ DatapointsToAlarm ≤ EvaluationPeriods; exactly one of Statistic and
//! ExtendedStatistic for a single-metric alarm. The anomaly-band operators parse
//! but are rejected as unsupported.

use mw_model::{Bound, Statistic};

use crate::{Error, Result};

/// Most actions per action list.
pub const MAX_ACTIONS: usize = 5;

/// The three `ComparisonOperator`s of anomaly-detection alarms, which this
/// server does not evaluate.
pub const ANOMALY_BAND_OPERATORS: [&str; 3] = [
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

/// How the statistic value (left operand) is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    pub const ALL: [ComparisonOperator; 4] = [
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        ComparisonOperator::GreaterThanThreshold,
        ComparisonOperator::LessThanThreshold,
        ComparisonOperator::LessThanOrEqualToThreshold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            ComparisonOperator::GreaterThanThreshold => "GreaterThanThreshold",
            ComparisonOperator::LessThanThreshold => "LessThanThreshold",
            ComparisonOperator::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// Parses a static operator; the anomaly-band operators give
    /// [`Error::Unsupported`], anything else [`Error::InvalidParameter`].
    pub fn parse(s: &str) -> Result<ComparisonOperator> {
        if let Some(op) = Self::ALL.into_iter().find(|op| op.as_str() == s) {
            return Ok(op);
        }
        if ANOMALY_BAND_OPERATORS.contains(&s) {
            return Err(Error::Unsupported(format!(
                "ComparisonOperator {s} (anomaly detection band alarms)"
            )));
        }
        Err(Error::InvalidParameter(format!(
            "value {s} for parameter ComparisonOperator is invalid"
        )))
    }

    /// True when `value` breaches `threshold` under this operator.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The words StateReason uses: `greater than or equal to` and so on.
    pub fn phrase(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "greater than or equal to",
            ComparisonOperator::GreaterThanThreshold => "greater than",
            ComparisonOperator::LessThanThreshold => "less than",
            ComparisonOperator::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

/// `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreatMissingData {
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl TreatMissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Missing => "missing",
            TreatMissingData::NotBreaching => "notBreaching",
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Result<TreatMissingData> {
        match s {
            "missing" => Ok(TreatMissingData::Missing),
            "notBreaching" => Ok(TreatMissingData::NotBreaching),
            "breaching" => Ok(TreatMissingData::Breaching),
            "ignore" => Ok(TreatMissingData::Ignore),
            _ => Err(Error::InvalidParameter(format!(
                "value {s} for parameter TreatMissingData is invalid: expected missing, notBreaching, breaching or ignore"
            ))),
        }
    }
}

/// `EvaluateLowSampleCountPercentile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LowSampleCount {
    #[default]
    Evaluate,
    Ignore,
}

impl LowSampleCount {
    pub fn as_str(self) -> &'static str {
        match self {
            LowSampleCount::Evaluate => "evaluate",
            LowSampleCount::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Result<LowSampleCount> {
        match s {
            "evaluate" => Ok(LowSampleCount::Evaluate),
            "ignore" => Ok(LowSampleCount::Ignore),
            _ => Err(Error::InvalidParameter(format!(
                "option {s} is not supported: supported options for parameter EvaluateLowSampleCountPercentile are evaluate and ignore"
            ))),
        }
    }
}

/// The statistic an alarm watches, with the name it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmStatistic {
    /// As given: `Average`, `p99`, `TM(10%:90%)`.
    pub name: String,
    pub statistic: Statistic,
    /// True when it came from `ExtendedStatistic`.
    pub extended: bool,
}

impl AlarmStatistic {
    /// Parses the `Statistic` field: one of the five basic statistics.
    pub fn basic(name: &str) -> Result<AlarmStatistic> {
        let statistic = Statistic::parse(name)
            .ok()
            .filter(Statistic::is_basic)
            .ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "value {name} for parameter Statistic is invalid: expected SampleCount, Average, Sum, Minimum or Maximum"
                ))
            })?;
        Ok(AlarmStatistic {
            name: name.to_owned(),
            statistic,
            extended: false,
        })
    }

    /// Parses the `ExtendedStatistic` field: `p90`, `tm90`, `tc90`, `ts90`,
    /// `wm90`, `IQM`, `PR(n:m)`, or `TC|TM|TS|WM(X%:X%)` with X in 10..=90.
    pub fn extended(name: &str) -> Result<AlarmStatistic> {
        let bad = || {
            Error::InvalidParameter(format!(
                "value {name} for parameter ExtendedStatistic is invalid"
            ))
        };
        let statistic = Statistic::parse(name).map_err(|_| bad())?;
        if statistic.is_basic() {
            return Err(bad());
        }
        if let Statistic::Trim { lower, upper, .. } = statistic {
            if name.contains('(') && name != "IQM" {
                for bound in [lower, upper].into_iter().flatten() {
                    if let Bound::Percent(p) = bound {
                        if !(10.0..=90.0).contains(&p) {
                            return Err(Error::InvalidParameter(format!(
                                "value {name} for parameter ExtendedStatistic is invalid: percentage bounds must be between 10 and 90"
                            )));
                        }
                    }
                }
            }
        }
        Ok(AlarmStatistic {
            name: name.to_owned(),
            statistic,
            extended: true,
        })
    }

    /// The percentile (0-100) when this is a `pNN` statistic.
    pub fn percentile(&self) -> Option<f64> {
        match self.statistic {
            Statistic::Percentile(p) => Some(p),
            _ => None,
        }
    }
}

/// A validated metric alarm: what the evaluator needs, plus the action lists
/// the caller runs on transitions (the evaluator never runs actions).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDef {
    /// Seconds per period.
    pub period: u32,
    /// N.
    pub evaluation_periods: u32,
    /// M as given; [`AlarmDef::datapoints_to_alarm`] resolves the default N.
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    pub treat_missing_data: TreatMissingData,
    /// As given; [`AlarmDef::low_sample_count`] resolves the default.
    pub evaluate_low_sample_count_percentile: Option<LowSampleCount>,
    /// `None` for a metric-math alarm, whose values the caller computes.
    pub statistic: Option<AlarmStatistic>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

impl AlarmDef {
    /// A `Statistic=Average`, N=M=1, `missing` alarm; tests and callers
    /// adjust the fields they care about.
    pub fn new(period: u32, op: ComparisonOperator, threshold: f64) -> AlarmDef {
        AlarmDef {
            period,
            evaluation_periods: 1,
            datapoints_to_alarm: None,
            threshold,
            comparison_operator: op,
            treat_missing_data: TreatMissingData::Missing,
            evaluate_low_sample_count_percentile: None,
            statistic: Some(AlarmStatistic {
                name: "Average".to_owned(),
                statistic: Statistic::Average,
                extended: false,
            }),
            actions_enabled: true,
            ok_actions: Vec::new(),
            alarm_actions: Vec::new(),
            insufficient_data_actions: Vec::new(),
        }
    }

    /// M, defaulting to N.
    pub fn datapoints_to_alarm(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// `EvaluateLowSampleCountPercentile`, defaulting to `evaluate`.
    pub fn low_sample_count(&self) -> LowSampleCount {
        self.evaluate_low_sample_count_percentile
            .unwrap_or_default()
    }

    /// The actions to run on a transition into `state` (empty when actions
    /// are disabled).
    pub fn actions_for(&self, state: crate::StateValue) -> &[String] {
        if !self.actions_enabled {
            return &[];
        }
        match state {
            crate::StateValue::Ok => &self.ok_actions,
            crate::StateValue::Alarm => &self.alarm_actions,
            crate::StateValue::InsufficientData => &self.insufficient_data_actions,
        }
    }

    /// Re-checks the numeric rules for a definition built by hand.
    pub fn validate(&self) -> Result<()> {
        check_period(i64::from(self.period))?;
        check_windows(
            i64::from(self.period),
            i64::from(self.evaluation_periods),
            self.datapoints_to_alarm.map(i64::from),
        )?;
        if !self.threshold.is_finite() {
            return Err(Error::InvalidParameter(
                "value for parameter Threshold must be a finite number".to_owned(),
            ));
        }
        for (field, list) in [
            ("OKActions", &self.ok_actions),
            ("AlarmActions", &self.alarm_actions),
            ("InsufficientDataActions", &self.insufficient_data_actions),
        ] {
            check_actions(field, list)?;
        }
        Ok(())
    }
}

/// `PutMetricAlarm` fields as they arrive, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmParams {
    pub period: Option<i64>,
    pub evaluation_periods: Option<i64>,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    /// True when the request uses `Metrics` (metric math): then Statistic and
    /// ExtendedStatistic must be absent and `period` is the period of the
    /// query that returns data.
    pub metric_math: bool,
    pub actions_enabled: Option<bool>,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

impl AlarmParams {
    /// Validates every field and builds the [`AlarmDef`].
    pub fn validate(&self) -> Result<AlarmDef> {
        let statistic = match (
            self.metric_math,
            self.statistic.as_deref(),
            self.extended_statistic.as_deref(),
        ) {
            (true, None, None) => None,
            (true, _, _) => {
                return Err(Error::InvalidCombination(
                    "Statistic and ExtendedStatistic must not be given together with Metrics"
                        .to_owned(),
                ))
            }
            (false, Some(_), Some(_)) => {
                return Err(Error::InvalidCombination(
                    "Statistic and ExtendedStatistic are mutually exclusive".to_owned(),
                ))
            }
            (false, None, None) => {
                return Err(Error::MissingParameter(
                    "one of the parameters Statistic or ExtendedStatistic is required".to_owned(),
                ))
            }
            (false, Some(s), None) => Some(AlarmStatistic::basic(s)?),
            (false, None, Some(s)) => Some(AlarmStatistic::extended(s)?),
        };
        let period = self.period.ok_or_else(|| {
            Error::MissingParameter("the parameter Period is required".to_owned())
        })?;
        check_period(period)?;
        let n = self.evaluation_periods.ok_or_else(|| {
            Error::MissingParameter("the parameter EvaluationPeriods is required".to_owned())
        })?;
        check_windows(period, n, self.datapoints_to_alarm)?;
        let op = self.comparison_operator.as_deref().ok_or_else(|| {
            Error::MissingParameter("the parameter ComparisonOperator is required".to_owned())
        })?;
        let comparison_operator = ComparisonOperator::parse(op)?;
        let threshold = self.threshold.ok_or_else(|| {
            Error::MissingParameter("the parameter Threshold is required".to_owned())
        })?;
        if !threshold.is_finite() {
            return Err(Error::InvalidParameter(
                "value for parameter Threshold must be a finite number".to_owned(),
            ));
        }
        let treat_missing_data = self
            .treat_missing_data
            .as_deref()
            .map(TreatMissingData::parse)
            .transpose()?
            .unwrap_or_default();
        let evaluate_low_sample_count_percentile = self
            .evaluate_low_sample_count_percentile
            .as_deref()
            .map(LowSampleCount::parse)
            .transpose()?;
        for (field, list) in [
            ("OKActions", &self.ok_actions),
            ("AlarmActions", &self.alarm_actions),
            ("InsufficientDataActions", &self.insufficient_data_actions),
        ] {
            check_actions(field, list)?;
        }
        // check_period/check_windows bound these far below u32::MAX.
        let to_u32 = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(AlarmDef {
            period: to_u32(period),
            evaluation_periods: to_u32(n),
            datapoints_to_alarm: self.datapoints_to_alarm.map(to_u32),
            threshold,
            comparison_operator,
            treat_missing_data,
            evaluate_low_sample_count_percentile,
            statistic,
            actions_enabled: self.actions_enabled.unwrap_or(true),
            ok_actions: self.ok_actions.clone(),
            alarm_actions: self.alarm_actions.clone(),
            insufficient_data_actions: self.insufficient_data_actions.clone(),
        })
    }
}

fn check_period(period: i64) -> Result<()> {
    if period <= 0 || !(matches!(period, 10 | 20 | 30) || period % 60 == 0) {
        return Err(Error::InvalidParameter(format!(
            "value {period} for parameter Period is invalid: valid values are 10, 20, 30 and any multiple of 60"
        )));
    }
    Ok(())
}

fn check_windows(period: i64, n: i64, m: Option<i64>) -> Result<()> {
    if n < 1 {
        return Err(Error::InvalidParameter(format!(
            "value {n} for parameter EvaluationPeriods is invalid: it must be at least 1"
        )));
    }
    if let Some(m) = m {
        if m < 1 {
            return Err(Error::InvalidParameter(format!(
                "value {m} for parameter DatapointsToAlarm is invalid: it must be at least 1"
            )));
        }
        if m > n {
            return Err(Error::InvalidCombination(format!(
                "DatapointsToAlarm ({m}) must be less than or equal to EvaluationPeriods ({n})"
            )));
        }
    }
    let span = period.saturating_mul(n);
    if period < 3600 && span > 86_400 {
        return Err(Error::InvalidCombination(
            "metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)"
                .to_owned(),
        ));
    }
    if span > 604_800 {
        return Err(Error::InvalidCombination(
            "metrics cannot be checked across more than a week (EvaluationPeriods * Period must be <= 604800)"
                .to_owned(),
        ));
    }
    Ok(())
}

fn check_actions(field: &str, list: &[String]) -> Result<()> {
    if list.len() > MAX_ACTIONS {
        return Err(Error::InvalidParameter(format!(
            "the parameter {field} has {} members; at most {MAX_ACTIONS} are allowed",
            list.len()
        )));
    }
    if let Some(bad) = list.iter().find(|a| !a.starts_with("arn:")) {
        return Err(Error::InvalidParameter(format!(
            "invalid arn syntax in {field}: {bad}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
