//! Deequ's per-value type classification (`StatefulDataType`) and the column
//! decision (`DataTypeHistogram.determineType`).
//!
//! A non-null value is, in this order of checks:
//! Fractional `^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$`,
//! Integral `^(-|\+)? ?\d+$`, Boolean `^(true|false)$`, otherwise String.
//! The matchers below are hand-written equivalents of those expressions
//! (no regex engine on the hot path).

/// The type Deequ assigns to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    Integral,
    Fractional,
    Boolean,
    String,
}

/// The type of a column, as statistics.json spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InferredType {
    Integral,
    Fractional,
    String,
    Unknown,
}

impl InferredType {
    pub fn as_str(self) -> &'static str {
        match self {
            InferredType::Integral => "Integral",
            InferredType::Fractional => "Fractional",
            InferredType::String => "String",
            InferredType::Unknown => "Unknown",
        }
    }

    pub fn parse(s: &str) -> Option<InferredType> {
        Some(match s {
            "Integral" => InferredType::Integral,
            "Fractional" => InferredType::Fractional,
            "String" => InferredType::String,
            "Unknown" => InferredType::Unknown,
            _ => return None,
        })
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, InferredType::Integral | InferredType::Fractional)
    }
}

/// Per-class counts of a column's non-null values, plus its nulls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCounts {
    pub null: u64,
    pub integral: u64,
    pub fractional: u64,
    pub boolean: u64,
    pub string: u64,
}

impl TypeCounts {
    pub fn add(&mut self, class: ValueClass) {
        match class {
            ValueClass::Integral => self.integral += 1,
            ValueClass::Fractional => self.fractional += 1,
            ValueClass::Boolean => self.boolean += 1,
            ValueClass::String => self.string += 1,
        }
    }

    pub fn non_null(&self) -> u64 {
        self.integral + self.fractional + self.boolean + self.string
    }

    /// Deequ's column decision. Model Monitor's schema has no Boolean type:
    /// a Boolean-only column is reported as String.
    pub fn decide(&self) -> InferredType {
        if self.non_null() == 0 {
            InferredType::Unknown
        } else if self.string > 0 || self.boolean > 0 {
            InferredType::String
        } else if self.fractional > 0 {
            InferredType::Fractional
        } else {
            InferredType::Integral
        }
    }

    /// How many non-null values match `expected` for the data type check:
    /// Integral values also match a Fractional column; every value matches a
    /// String column.
    pub fn matching(&self, expected: InferredType) -> u64 {
        match expected {
            InferredType::Integral => self.integral,
            InferredType::Fractional => self.integral + self.fractional,
            InferredType::String | InferredType::Unknown => self.non_null(),
        }
    }
}

/// Classifies one non-null value; for numeric classes also returns its value.
pub fn classify(s: &str) -> (ValueClass, Option<f64>) {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let sign_end = i;
    if i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start {
        return (bool_or_string(s), None);
    }
    if i == b.len() {
        return (ValueClass::Integral, parse_number(s, sign_end, int_start));
    }
    // Fractional: \.\d+ optionally followed by an exponent, or an exponent alone.
    if b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return (ValueClass::String, None);
        }
        if i == b.len() {
            return (ValueClass::Fractional, parse_number(s, sign_end, int_start));
        }
    }
    if b[i] == b'e' || b[i] == b'E' {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > exp_start && i == b.len() {
            return (ValueClass::Fractional, parse_number(s, sign_end, int_start));
        }
    }
    (ValueClass::String, None)
}

fn bool_or_string(s: &str) -> ValueClass {
    if s == "true" || s == "false" {
        ValueClass::Boolean
    } else {
        ValueClass::String
    }
}

/// Parses a value the classifier accepted; the optional space between sign
/// and digits is skipped.
fn parse_number(s: &str, sign_end: usize, digits_start: usize) -> Option<f64> {
    if sign_end == digits_start {
        return s.parse().ok();
    }
    let digits = &s[digits_start..];
    let v: f64 = digits.parse().ok()?;
    Some(if s.starts_with('-') { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deequ_patterns() {
        let cases = [
            ("0", ValueClass::Integral),
            ("-12", ValueClass::Integral),
            ("+ 7", ValueClass::Integral),
            (" 7", ValueClass::Integral),
            ("1.5", ValueClass::Fractional),
            ("-1.5e-3", ValueClass::Fractional),
            ("2E10", ValueClass::Fractional),
            (".5", ValueClass::String),
            ("5.", ValueClass::String),
            ("1e", ValueClass::String),
            ("NaN", ValueClass::String),
            ("inf", ValueClass::String),
            ("true", ValueClass::Boolean),
            ("True", ValueClass::String),
            ("1,5", ValueClass::String),
            ("7 ", ValueClass::String),
            ("", ValueClass::String),
        ];
        for (s, want) in cases {
            assert_eq!(classify(s).0, want, "{s:?}");
        }
        assert_eq!(classify("- 2.5").1, Some(-2.5));
        assert_eq!(classify("+3").1, Some(3.0));
        assert_eq!(classify("-1.5e-3").1, Some(-0.0015));
    }

    #[test]
    fn column_decision() {
        let mut c = TypeCounts::default();
        assert_eq!(c.decide(), InferredType::Unknown);
        c.integral = 3;
        assert_eq!(c.decide(), InferredType::Integral);
        c.fractional = 1;
        assert_eq!(c.decide(), InferredType::Fractional);
        c.boolean = 1;
        assert_eq!(c.decide(), InferredType::String);
        assert_eq!(c.matching(InferredType::Fractional), 4);
        assert_eq!(c.matching(InferredType::Integral), 3);
    }
}
