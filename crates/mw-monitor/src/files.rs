//! SageMaker's files, field for field: statistics.json, constraints.json and
//! constraint_violations.json (`reference/model_monitor.md` §2.2, §2.3, §3.3).
//!
//! Reading is lenient where SageMaker's own files vary (both spellings of the
//! per-feature override block, absent monitoring_config fields take the
//! container's defaults) and strict where a value would change a decision
//! (unknown method names, thresholds that are not numbers).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// statistics.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    pub version: u32,
    pub dataset: DatasetStatistics,
    pub features: Vec<FeatureStatistics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatistics {
    pub item_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    pub name: String,
    pub inferred_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_statistics: Option<NumericalStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_statistics: Option<StringStatistics>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Common {
    pub num_present: u64,
    pub num_missing: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalStatistics {
    pub common: Common,
    pub mean: f64,
    pub sum: f64,
    pub std_dev: f64,
    pub min: f64,
    pub max: f64,
    pub distribution: NumericalDistribution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalDistribution {
    pub kll: KllDistribution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllDistribution {
    pub buckets: Vec<KllBucket>,
    pub sketch: KllSketchJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KllBucket {
    pub lower_bound: f64,
    pub upper_bound: f64,
    pub count: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllSketchJson {
    pub parameters: KllParameters,
    pub data: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KllParameters {
    pub c: f64,
    pub k: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringStatistics {
    pub common: Common,
    pub distinct_count: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<CategoricalDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDistribution {
    pub categorical: CategoricalBuckets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalBuckets {
    pub buckets: Vec<CategoricalBucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalBucket {
    pub value: String,
    pub count: u64,
}

impl FeatureStatistics {
    pub fn common(&self) -> Option<Common> {
        self.numerical_statistics
            .as_ref()
            .map(|n| n.common)
            .or(self.string_statistics.as_ref().map(|s| s.common))
    }

    /// The categorical buckets, when the file has them.
    pub fn categorical(&self) -> Option<&[CategoricalBucket]> {
        self.string_statistics
            .as_ref()?
            .distribution
            .as_ref()
            .map(|d| d.categorical.buckets.as_slice())
    }
}

/// constraints.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    pub version: u32,
    pub features: Vec<FeatureConstraints>,
    #[serde(default)]
    pub monitoring_config: MonitoringConfigFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConstraints {
    pub name: String,
    pub inferred_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_constraints: Option<NumConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_constraints: Option<StringConstraints>,
    /// Per-feature overrides; the SDK writes `monitoring_config_overrides`,
    /// the documentation `monitoringConfigOverrides`: both are read.
    #[serde(
        default,
        rename = "monitoringConfigOverrides",
        alias = "monitoring_config_overrides",
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring_config_overrides: Option<MonitoringConfigFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumConstraints {
    pub is_non_negative: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringConstraints {
    pub domains: Vec<String>,
}

/// The monitoring_config block as written in the file: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitoringConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_constraints: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_metrics: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_check_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_content_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_constraints: Option<DistributionConstraintsFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionConstraintsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perform_comparison: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_comparison_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_drift_method: Option<String>,
}

/// How numeric sketches are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonMethod {
    Simple,
    Robust,
}

/// How categorical distributions are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoricalDriftMethod {
    LInfinity,
    ChiSquared,
}

/// A resolved monitoring configuration: the container's defaults, then the
/// file's global block, then a feature's overrides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitoringConfig {
    pub evaluate_constraints: bool,
    pub emit_metrics: bool,
    pub datatype_check_threshold: f64,
    pub domain_content_threshold: f64,
    pub perform_comparison: bool,
    pub comparison_threshold: f64,
    pub comparison_method: ComparisonMethod,
    pub categorical_comparison_threshold: f64,
    pub categorical_drift_method: CategoricalDriftMethod,
}

impl Default for MonitoringConfig {
    /// The analyzer container's defaults (`analytics_input.py`).
    fn default() -> Self {
        MonitoringConfig {
            evaluate_constraints: true,
            emit_metrics: true,
            datatype_check_threshold: 1.0,
            domain_content_threshold: 1.0,
            perform_comparison: true,
            comparison_threshold: 0.1,
            comparison_method: ComparisonMethod::Robust,
            categorical_comparison_threshold: 0.1,
            categorical_drift_method: CategoricalDriftMethod::LInfinity,
        }
    }
}

fn enabled(v: &str, field: &str) -> Result<bool> {
    match v {
        "Enabled" => Ok(true),
        "Disabled" => Ok(false),
        _ => Err(bad(format!(
            "{field} must be Enabled or Disabled, not {v:?}"
        ))),
    }
}

fn bad(message: String) -> Error {
    Error::Baseline {
        file: "constraints.json".into(),
        message,
    }
}

fn threshold(v: f64, field: &str) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(bad(format!(
            "{field} must be a non-negative number, not {v}"
        )))
    }
}

impl MonitoringConfig {
    /// Applies a file block on top of `self`.
    pub fn apply(mut self, f: &MonitoringConfigFile, at: &str) -> Result<MonitoringConfig> {
        let name = |field: &str| format!("{at}.{field}");
        if let Some(v) = &f.evaluate_constraints {
            self.evaluate_constraints = enabled(v, &name("evaluate_constraints"))?;
        }
        if let Some(v) = &f.emit_metrics {
            self.emit_metrics = enabled(v, &name("emit_metrics"))?;
        }
        if let Some(v) = f.datatype_check_threshold {
            self.datatype_check_threshold = threshold(v, &name("datatype_check_threshold"))?;
        }
        if let Some(v) = f.domain_content_threshold {
            self.domain_content_threshold = threshold(v, &name("domain_content_threshold"))?;
        }
        if let Some(d) = &f.distribution_constraints {
            let name = |field: &str| format!("{at}.distribution_constraints.{field}");
            if let Some(v) = &d.perform_comparison {
                self.perform_comparison = enabled(v, &name("perform_comparison"))?;
            }
            if let Some(v) = d.comparison_threshold {
                self.comparison_threshold = threshold(v, &name("comparison_threshold"))?;
            }
            if let Some(v) = &d.comparison_method {
                self.comparison_method = match v.as_str() {
                    "Robust" => ComparisonMethod::Robust,
                    "Simple" => ComparisonMethod::Simple,
                    _ => {
                        return Err(bad(format!(
                            "{} must be Robust or Simple, not {v:?}",
                            name("comparison_method")
                        )))
                    }
                };
            }
            if let Some(v) = d.categorical_comparison_threshold {
                self.categorical_comparison_threshold =
                    threshold(v, &name("categorical_comparison_threshold"))?;
            }
            if let Some(v) = &d.categorical_drift_method {
                self.categorical_drift_method = match v.as_str() {
                    "LInfinity" => CategoricalDriftMethod::LInfinity,
                    "ChiSquared" => CategoricalDriftMethod::ChiSquared,
                    _ => {
                        return Err(bad(format!(
                            "{} must be LInfinity or ChiSquared, not {v:?}",
                            name("categorical_drift_method")
                        )))
                    }
                };
            }
        }
        Ok(self)
    }

    /// The file block the container writes when suggesting a baseline.
    pub fn suggested() -> MonitoringConfigFile {
        MonitoringConfigFile {
            evaluate_constraints: Some("Enabled".into()),
            emit_metrics: Some("Enabled".into()),
            datatype_check_threshold: Some(1.0),
            domain_content_threshold: Some(1.0),
            distribution_constraints: Some(DistributionConstraintsFile {
                perform_comparison: Some("Enabled".into()),
                comparison_threshold: Some(0.1),
                comparison_method: Some("Robust".into()),
                categorical_comparison_threshold: Some(0.1),
                categorical_drift_method: Some("LInfinity".into()),
            }),
        }
    }
}

impl Constraints {
    /// The resolved configuration of the whole file.
    pub fn global_config(&self) -> Result<MonitoringConfig> {
        MonitoringConfig::default().apply(&self.monitoring_config, "monitoring_config")
    }

    /// The resolved configuration of one feature.
    pub fn feature_config(&self, f: &FeatureConstraints) -> Result<MonitoringConfig> {
        let global = self.global_config()?;
        match &f.monitoring_config_overrides {
            Some(o) => global.apply(
                o,
                &format!("features[{}].monitoringConfigOverrides", f.name),
            ),
            None => Ok(global),
        }
    }
}

/// constraint_violations.json.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Violations {
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub feature_name: String,
    pub constraint_check_type: String,
    pub description: String,
}

/// Parses a JSON file's text; `file` names it in errors.
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Baseline {
        file: file.into(),
        message: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

/// Reads and parses a JSON file.
pub fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    parse(&text, &path.display().to_string())
}

/// Writes `value` as pretty JSON to `path`.
pub fn write<T: Serialize>(path: &std::path::Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io(path.display(), std::io::Error::other(e)))?;
    std::fs::write(path, text).map_err(|e| Error::io(path.display(), e))
}

/// Formats a float as Python's `repr` does (`100.0`, `99.64592817400101`,
/// `1e-05`, `1e+16`, `nan`, `inf`), as the container's violation descriptions
/// show them: the shortest digits that read back to the same double, in
/// positional notation when the decimal exponent is in [−4, 16), else in
/// scientific notation with a signed exponent of at least two digits.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-5", "1e16".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let text = if exp < 0 {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else if exp + 1 >= n {
            format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{text}")
    } else {
        let e_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{e_sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_accept_both_spellings_and_merge() {
        let text = r#"{"version":0,"features":[
            {"name":"a","inferred_type":"Integral","monitoring_config_overrides":{"evaluate_constraints":"Disabled"}},
            {"name":"b","inferred_type":"String","monitoringConfigOverrides":{"distribution_constraints":{"categorical_drift_method":"ChiSquared"}}}],
            "monitoring_config":{"distribution_constraints":{"comparison_threshold":0.2}}}"#;
        let c: Constraints = parse(text, "constraints.json").unwrap();
        let a = c.feature_config(&c.features[0]).unwrap();
        assert!(!a.evaluate_constraints);
        assert_eq!(a.comparison_threshold, 0.2);
        let b = c.feature_config(&c.features[1]).unwrap();
        assert_eq!(
            b.categorical_drift_method,
            CategoricalDriftMethod::ChiSquared
        );
        assert_eq!(b.comparison_method, ComparisonMethod::Robust);
        assert_eq!(b.datatype_check_threshold, 1.0);
    }

    #[test]
    fn bad_values_are_named() {
        let text = r#"{"version":0,"features":[],"monitoring_config":{"distribution_constraints":{"comparison_method":"Fast"}}}"#;
        let c: Constraints = parse(text, "constraints.json").unwrap();
        assert_eq!(
            c.global_config().unwrap_err().to_string(),
            "constraints.json: monitoring_config.distribution_constraints.comparison_method must be Robust or Simple, not \"Fast\""
        );
        let e = parse::<Constraints>("{\"version\":0,", "constraints.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("constraints.json: line 1, column"),
            "{e}"
        );
    }

    #[test]
    fn python_float_repr() {
        // (value, Python's repr(value))
        let cases = [
            (100.0, "100.0"),
            (99.64592817400101, "99.64592817400101"),
            (0.1, "0.1"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-5, "1e-05"),
            (-1.5e-7, "-1.5e-07"),
            (5e-324, "5e-324"),
            (123456789012345.6, "123456789012345.6"),
            (1234567890123456.0, "1234567890123456.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float(v), want, "{v:e}");
        }
    }
}
