//! Metric identity, units and ingested data points.

use crate::ModelError;

/// At most this many dimensions per metric (CloudWatch's limit).
pub const MAX_DIMENSIONS: usize = 30;
/// At most this many distinct values in one `Values`/`Counts` datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// A CloudWatch unit. Data in different units is stored and aggregated apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    Seconds,
    Microseconds,
    Milliseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Gigabytes,
    Terabytes,
    Bits,
    Kilobits,
    Megabits,
    Gigabits,
    Terabits,
    Percent,
    Count,
    BytesSecond,
    KilobytesSecond,
    MegabytesSecond,
    GigabytesSecond,
    TerabytesSecond,
    BitsSecond,
    KilobitsSecond,
    MegabitsSecond,
    GigabitsSecond,
    TerabitsSecond,
    CountSecond,
    None,
}

const UNITS: [(Unit, &str); 27] = [
    (Unit::Seconds, "Seconds"),
    (Unit::Microseconds, "Microseconds"),
    (Unit::Milliseconds, "Milliseconds"),
    (Unit::Bytes, "Bytes"),
    (Unit::Kilobytes, "Kilobytes"),
    (Unit::Megabytes, "Megabytes"),
    (Unit::Gigabytes, "Gigabytes"),
    (Unit::Terabytes, "Terabytes"),
    (Unit::Bits, "Bits"),
    (Unit::Kilobits, "Kilobits"),
    (Unit::Megabits, "Megabits"),
    (Unit::Gigabits, "Gigabits"),
    (Unit::Terabits, "Terabits"),
    (Unit::Percent, "Percent"),
    (Unit::Count, "Count"),
    (Unit::BytesSecond, "Bytes/Second"),
    (Unit::KilobytesSecond, "Kilobytes/Second"),
    (Unit::MegabytesSecond, "Megabytes/Second"),
    (Unit::GigabytesSecond, "Gigabytes/Second"),
    (Unit::TerabytesSecond, "Terabytes/Second"),
    (Unit::BitsSecond, "Bits/Second"),
    (Unit::KilobitsSecond, "Kilobits/Second"),
    (Unit::MegabitsSecond, "Megabits/Second"),
    (Unit::GigabitsSecond, "Gigabits/Second"),
    (Unit::TerabitsSecond, "Terabits/Second"),
    (Unit::CountSecond, "Count/Second"),
    (Unit::None, "None"),
];

impl Unit {
    /// The unit's wire spelling, e.g. `Bytes/Second`.
    pub fn as_str(self) -> &'static str {
        UNITS[self.code() as usize].1
    }
    /// A stable small number for storage.
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(code: u8) -> Option<Unit> {
        UNITS.get(code as usize).map(|(u, _)| *u)
    }
    /// Parses the wire spelling; `field` names the parameter in the error.
    pub fn parse(s: &str, field: &str) -> Result<Unit, ModelError> {
        Unit::from_name(s).ok_or_else(|| {
            ModelError::invalid(format!("The value {s} for parameter {field} is invalid."))
        })
    }

    /// The unit with this wire spelling.
    pub fn from_name(s: &str) -> Option<Unit> {
        UNITS.iter().find(|(_, name)| *name == s).map(|(u, _)| *u)
    }
}

/// One name/value pair that, with the namespace and name, identifies a metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// A metric's identity: namespace, name and the *set* of its dimensions.
///
/// Dimensions are kept sorted by name, so two keys built from the same set in any
/// order compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    pub namespace: String,
    pub name: String,
    dimensions: Vec<Dimension>,
}

fn check_text(s: &str, max: usize, field: &dyn Fn() -> String) -> Result<(), ModelError> {
    // Fast path: short printable ASCII, the overwhelmingly common case.
    if !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && s.bytes().any(|b| b != b' ')
    {
        return Ok(());
    }
    let field = field();
    if s.is_empty() || s.chars().count() > max {
        return Err(ModelError::invalid(format!(
            "The parameter {field} must be between 1 and {max} characters long."
        )));
    }
    if s.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(ModelError::invalid(format!(
            "The parameter {field} must contain only printable ASCII characters."
        )));
    }
    if s.trim().is_empty() {
        return Err(ModelError::invalid(format!(
            "The parameter {field} must contain at least one non-whitespace character."
        )));
    }
    Ok(())
}

impl MetricKey {
    /// Builds and validates a key; `field` prefixes parameter names in errors
    /// (e.g. `MetricData.member.3`).
    pub fn new(
        namespace: &str,
        name: &str,
        dimensions: Vec<Dimension>,
        field: &str,
    ) -> Result<MetricKey, ModelError> {
        Self::new_lazy(namespace, name, dimensions, &|| field.to_string())
    }

    /// Like [`MetricKey::new`], but the parameter prefix is only built when an
    /// error needs it (the ingest path validates thousands of keys a request).
    pub fn new_lazy(
        namespace: &str,
        name: &str,
        dimensions: Vec<Dimension>,
        field: &dyn Fn() -> String,
    ) -> Result<MetricKey, ModelError> {
        validate_namespace(namespace)?;
        let mut view: Vec<(&str, &str)> = dimensions
            .iter()
            .map(|d| (d.name.as_str(), d.value.as_str()))
            .collect();
        check_identity(name, &mut view, field)?;
        Ok(MetricKey::from_parts(
            namespace.to_string(),
            name.to_string(),
            dimensions,
        ))
    }

    /// True when this key is `namespace`/`name` with exactly `dims` (sorted by name).
    pub fn matches(&self, namespace: &str, name: &str, dims: &[(&str, &str)]) -> bool {
        self.namespace == namespace
            && self.name == name
            && self.dimensions.len() == dims.len()
            && self
                .dimensions
                .iter()
                .zip(dims)
                .all(|(d, (n, v))| d.name == *n && d.value == *v)
    }

    /// Builds a key from trusted (already validated, e.g. stored) parts.
    pub fn from_parts(namespace: String, name: String, mut dimensions: Vec<Dimension>) -> Self {
        dimensions.sort();
        MetricKey {
            namespace,
            name,
            dimensions,
        }
    }

    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }
}

/// Validates a metric name and dimension list (the key minus its namespace) and
/// sorts the dimensions by name; `field` prefixes parameter names in errors and is
/// only called when there is one.
pub fn check_identity(
    name: &str,
    dims: &mut [(&str, &str)],
    field: &dyn Fn() -> String,
) -> Result<(), ModelError> {
    check_text(name, 255, &|| format!("{}.MetricName", field()))?;
    if dims.len() > MAX_DIMENSIONS {
        return Err(ModelError::invalid(format!(
            "The collection {}.Dimensions must not have a size greater than {MAX_DIMENSIONS}.",
            field()
        )));
    }
    for (i, (n, v)) in dims.iter().enumerate() {
        let f = || format!("{}.Dimensions.member.{}", field(), i + 1);
        check_text(n, 255, &|| format!("{}.Name", f()))?;
        if n.starts_with(':') {
            return Err(ModelError::invalid(format!(
                "The value {n} for parameter {}.Name is invalid.",
                f()
            )));
        }
        check_text(v, 1024, &|| format!("{}.Value", f()))?;
    }
    dims.sort_unstable();
    if dims.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(ModelError::invalid(format!(
            "The collection {}.Dimensions must not contain duplicate dimension names.",
            field()
        )));
    }
    Ok(())
}

/// A validated datum whose metric identity borrows from the request it came in:
/// the ingest path resolves it to a stored series without copying strings.
#[derive(Debug, Clone, PartialEq)]
pub struct DatumRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// Sorted by name, names unique.
    pub dims: Vec<(&'a str, &'a str)>,
    pub unit: Unit,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// 1 (high resolution) or 60.
    pub resolution: u32,
    pub value: DatumValue,
}

impl<'a> DatumRef<'a> {
    /// Borrows an owned datum.
    pub fn of(d: &'a Datum) -> DatumRef<'a> {
        DatumRef {
            namespace: &d.key.namespace,
            name: &d.key.name,
            dims: d
                .key
                .dimensions()
                .iter()
                .map(|x| (x.name.as_str(), x.value.as_str()))
                .collect(),
            unit: d.unit,
            timestamp_ms: d.timestamp_ms,
            resolution: d.resolution,
            value: d.value.clone(),
        }
    }

    /// The owned metric identity.
    pub fn key(&self) -> MetricKey {
        MetricKey::from_parts(
            self.namespace.to_string(),
            self.name.to_string(),
            self.dims
                .iter()
                .map(|(n, v)| Dimension {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        )
    }
}

/// Namespaces: 1-255 printable ASCII characters, not starting with `:`, and not
/// in the reserved `AWS/` space.
pub fn validate_namespace(namespace: &str) -> Result<(), ModelError> {
    check_text(namespace, 255, &|| "Namespace".to_string())?;
    if namespace.starts_with(':') || namespace.starts_with("AWS/") {
        return Err(ModelError::invalid(format!(
            "The value {namespace} for parameter Namespace is invalid."
        )));
    }
    Ok(())
}

/// The measured part of a datum: one of CloudWatch's three input forms.
#[derive(Debug, Clone, PartialEq)]
pub enum DatumValue {
    /// `Value`: one observation.
    Single(f64),
    /// `Values` + `Counts`: each value observed `count` times.
    Values(Vec<(f64, f64)>),
    /// `StatisticValues`: a pre-aggregated set.
    Stats {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

/// One validated data point ready for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub key: MetricKey,
    pub unit: Unit,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// 1 (high resolution) or 60.
    pub resolution: u32,
    pub value: DatumValue,
}

/// Largest magnitude CloudWatch accepts for a value (2^360).
pub const MAX_ABS_VALUE: f64 = 2.348_542_582_773_833_3e108;

/// Checks one number of a datum; `field` names it in the error.
pub fn check_value(v: f64, field: &str) -> Result<(), ModelError> {
    if !v.is_finite() {
        let shown = if v.is_nan() {
            "NaN".to_string()
        } else if v > 0.0 {
            "Infinity".to_string()
        } else {
            "-Infinity".to_string()
        };
        return Err(ModelError::invalid(format!(
            "The value {shown} for parameter {field} is invalid."
        )));
    }
    if v.abs() > MAX_ABS_VALUE {
        return Err(ModelError::invalid(format!(
            "The value {v} for parameter {field} is invalid."
        )));
    }
    Ok(())
}

fn value_ok(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS_VALUE
}

impl DatumValue {
    /// The same checks as [`DatumValue::validate`] without building messages;
    /// call `validate` for the error when this is false.
    pub fn is_valid(&self) -> bool {
        let ok = match self {
            DatumValue::Single(v) => value_ok(*v),
            DatumValue::Values(vs) => {
                vs.len() <= MAX_VALUES_PER_DATUM
                    && vs
                        .iter()
                        .all(|(v, c)| value_ok(*v) && value_ok(*c) && *c >= 0.0)
            }
            DatumValue::Stats {
                count,
                sum,
                min,
                max,
            } => {
                value_ok(*count)
                    && value_ok(*sum)
                    && value_ok(*min)
                    && value_ok(*max)
                    && *count > 0.0
                    && min <= max
            }
        };
        ok
    }

    /// Validates the numbers; `field` is the datum's parameter prefix.
    pub fn validate(&self, field: &str) -> Result<(), ModelError> {
        match self {
            DatumValue::Single(v) => check_value(*v, &format!("{field}.Value")),
            DatumValue::Values(vs) => {
                if vs.len() > MAX_VALUES_PER_DATUM {
                    return Err(ModelError::invalid(format!(
                        "The collection {field}.Values must not have a size greater than {MAX_VALUES_PER_DATUM}."
                    )));
                }
                for (i, (v, c)) in vs.iter().enumerate() {
                    check_value(*v, &format!("{field}.Values.member.{}", i + 1))?;
                    check_value(*c, &format!("{field}.Counts.member.{}", i + 1))?;
                    if *c < 0.0 {
                        return Err(ModelError::invalid(format!(
                            "The value {c} for parameter {field}.Counts.member.{} is invalid.",
                            i + 1
                        )));
                    }
                }
                Ok(())
            }
            DatumValue::Stats {
                count,
                sum,
                min,
                max,
            } => {
                let f = format!("{field}.StatisticValues");
                check_value(*count, &format!("{f}.SampleCount"))?;
                check_value(*sum, &format!("{f}.Sum"))?;
                check_value(*min, &format!("{f}.Minimum"))?;
                check_value(*max, &format!("{f}.Maximum"))?;
                if *count <= 0.0 {
                    return Err(ModelError::invalid(format!(
                        "The value {count} for parameter {f}.SampleCount is invalid."
                    )));
                }
                if min > max {
                    return Err(ModelError::invalid(format!(
                        "The parameter {f}.Minimum must be less than or equal to {f}.Maximum."
                    )));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(n: &str, v: &str) -> Dimension {
        Dimension {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn dimension_order_does_not_change_identity() {
        let a = MetricKey::new("ns", "m", vec![dim("a", "1"), dim("b", "2")], "x").unwrap();
        let b = MetricKey::new("ns", "m", vec![dim("b", "2"), dim("a", "1")], "x").unwrap();
        assert_eq!(a, b);
        let c = MetricKey::new("ns", "m", vec![dim("b", "3"), dim("a", "1")], "x").unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn thirty_one_dimensions_are_rejected() {
        let dims: Vec<_> = (0..31).map(|i| dim(&format!("d{i}"), "v")).collect();
        let err = MetricKey::new("ns", "m", dims.clone(), "MetricData.member.1").unwrap_err();
        assert!(err.message().contains("30"), "{err}");
        assert!(MetricKey::new("ns", "m", dims[..30].to_vec(), "x").is_ok());
    }

    #[test]
    fn reserved_and_bad_namespaces_are_rejected() {
        assert!(validate_namespace("AWS/EC2").is_err());
        assert!(validate_namespace(":x").is_err());
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("a\u{1}b").is_err());
        assert!(validate_namespace("MyApp/Test").is_ok());
    }

    #[test]
    fn units_round_trip() {
        for (u, s) in UNITS {
            assert_eq!(Unit::parse(s, "Unit").unwrap(), u);
            assert_eq!(Unit::from_code(u.code()), Some(u));
            assert_eq!(u.as_str(), s);
        }
        assert!(Unit::parse("Parsecs", "Unit").is_err());
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let e = DatumValue::Single(f64::NAN)
            .validate("MetricData.member.1")
            .unwrap_err();
        assert_eq!(
            e.message(),
            "The value NaN for parameter MetricData.member.1.Value is invalid."
        );
        assert!(DatumValue::Single(f64::INFINITY).validate("m").is_err());
        assert!(DatumValue::Values(vec![(1.0, -1.0)]).validate("m").is_err());
        assert!(DatumValue::Stats {
            count: 1.0,
            sum: 1.0,
            min: 2.0,
            max: 1.0
        }
        .validate("m")
        .is_err());
    }
}
