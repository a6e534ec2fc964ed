//! Alarm configurations as the API received them: what `DescribeAlarms`
//! returns and what the catalog stores. [`MetricAlarmConfig::def`] turns one
//! into the [`AlarmDef`] the evaluator runs.

use serde::{Deserialize, Serialize};

use crate::{AlarmDef, AlarmParams, AlarmRule, Result};

/// Longest alarm name.
pub const MAX_NAME_LEN: usize = 255;
/// Longest `AlarmDescription`.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// A metric alarm: one metric and a statistic, or metric math.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricAlarmConfig {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    /// Single-metric form; `None` with metric math.
    pub metric: Option<MetricSpec>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    /// `Period` as given (single-metric form).
    pub period: Option<i64>,
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: String,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// Metric math: the `Metrics` list, kept as the API encoded it (JSON);
    /// this crate never looks inside.
    pub metrics: Option<MathSpec>,
    pub tags: Vec<(String, String)>,
}

/// The metric of a single-metric alarm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MetricSpec {
    pub namespace: String,
    pub name: String,
    /// As given (order kept for describing).
    pub dimensions: Vec<(String, String)>,
}

/// A metric-math alarm's queries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MathSpec {
    /// The `Metrics` list as JSON text.
    pub queries: String,
    /// The period of the query that returns data.
    pub period: i64,
    /// `(namespace, metric name)` of every `MetricStat` among the queries:
    /// new data for one of them triggers an evaluation.
    pub inputs: Vec<(String, String)>,
}

impl MetricAlarmConfig {
    /// Validates the evaluation fields and builds the evaluator's definition.
    pub fn def(&self) -> Result<AlarmDef> {
        AlarmParams {
            period: self.metrics.as_ref().map(|m| m.period).or(self.period),
            evaluation_periods: Some(self.evaluation_periods),
            datapoints_to_alarm: self.datapoints_to_alarm,
            threshold: Some(self.threshold),
            comparison_operator: Some(self.comparison_operator.clone()),
            treat_missing_data: self.treat_missing_data.clone(),
            evaluate_low_sample_count_percentile: self.evaluate_low_sample_count_percentile.clone(),
            statistic: self.statistic.clone(),
            extended_statistic: self.extended_statistic.clone(),
            metric_math: self.metrics.is_some(),
            actions_enabled: Some(self.actions_enabled),
            ok_actions: self.ok_actions.clone(),
            alarm_actions: self.alarm_actions.clone(),
            insufficient_data_actions: self.insufficient_data_actions.clone(),
        }
        .validate()
    }

    /// The `(namespace, metric name)` pairs whose new data may change this
    /// alarm's state.
    pub fn inputs(&self) -> Vec<(String, String)> {
        match (&self.metric, &self.metrics) {
            (Some(m), _) => vec![(m.namespace.clone(), m.name.clone())],
            (None, Some(math)) => math.inputs.clone(),
            (None, None) => Vec::new(),
        }
    }
}

/// A composite alarm.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompositeAlarmConfig {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub rule: String,
    pub actions_suppressor: Option<String>,
    pub actions_suppressor_wait_period: Option<i64>,
    pub actions_suppressor_extension_period: Option<i64>,
    pub tags: Vec<(String, String)>,
}

impl CompositeAlarmConfig {
    pub fn parse_rule(&self) -> Result<AlarmRule> {
        AlarmRule::parse(&self.rule)
    }
}

/// Checks an alarm name: 1–255 characters, no control characters.
pub fn check_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_LEN {
        return Err(crate::Error::InvalidParameter(format!(
            "the value for parameter AlarmName must be between 1 and {MAX_NAME_LEN} characters long"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(crate::Error::InvalidParameter(
            "the value for parameter AlarmName must not contain control characters".to_owned(),
        ));
    }
    Ok(())
}

/// Checks `AlarmDescription`.
pub fn check_description(d: Option<&str>) -> Result<()> {
    if d.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN) {
        return Err(crate::Error::InvalidParameter(format!(
            "the value for parameter AlarmDescription must be at most {MAX_DESCRIPTION_LEN} characters long"
        )));
    }
    Ok(())
}
