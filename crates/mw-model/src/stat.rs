//! Statistics a query can ask for: the five basic ones and the extended family
//! (`p99`, `tm90`, `TM(10%:90%)`, `WM(...)`, `TC(...)`, `TS(...)`, `PR(...)`, `pr300`
//! (= `PR(:300)`), `IQM`).

use crate::ModelError;

/// Which trimmed statistic a [`Statistic::Trim`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimKind {
    /// TM: mean of the values inside the bounds.
    Mean,
    /// WM: mean after clamping values outside the bounds to the bounds.
    Winsorized,
    /// TC: how many values are inside the bounds.
    Count,
    /// TS: sum of the values inside the bounds.
    Sum,
    /// PR: percentage of values inside the bounds.
    Rank,
}

/// One side of a trimmed statistic's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// A percentile, 0-100.
    Percent(f64),
    /// An absolute value.
    Absolute(f64),
}

/// A statistic as named in `Statistics`, `ExtendedStatistics` or a `Stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// `pNN`: the NNth percentile.
    Percentile(f64),
    /// The trimmed family; a missing bound is open on that side.
    Trim {
        kind: TrimKind,
        lower: Option<Bound>,
        upper: Option<Bound>,
    },
}

fn bad(s: &str) -> ModelError {
    ModelError::invalid(format!("The value {s} for parameter Statistic is invalid."))
}

/// Parses `\d{1,2}(\.\d{0,10})?|100`-style numbers (up to 10 decimals).
fn parse_number(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int = int.strip_prefix('-').unwrap_or(int);
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac {
        if f.len() > 10 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_percent(s: &str) -> Option<f64> {
    parse_number(s).filter(|p| (0.0..=100.0).contains(p))
}

impl Statistic {
    /// Parses any basic or extended statistic name.
    pub fn parse(s: &str) -> Result<Statistic, ModelError> {
        match s {
            "SampleCount" => return Ok(Statistic::SampleCount),
            "Average" => return Ok(Statistic::Average),
            "Sum" => return Ok(Statistic::Sum),
            "Minimum" => return Ok(Statistic::Minimum),
            "Maximum" => return Ok(Statistic::Maximum),
            "IQM" => {
                return Ok(Statistic::Trim {
                    kind: TrimKind::Mean,
                    lower: Some(Bound::Percent(25.0)),
                    upper: Some(Bound::Percent(75.0)),
                })
            }
            _ => {}
        }
        if s.len() > 64 {
            return Err(bad(s));
        }
        // `prNN`: the share of values at or below NN (PR(:NN)).
        if let Some(rest) = s.strip_prefix("pr") {
            let v = parse_number(rest).ok_or_else(|| bad(s))?;
            return Ok(Statistic::Trim {
                kind: TrimKind::Rank,
                lower: None,
                upper: Some(Bound::Absolute(v)),
            });
        }
        // Lowercase single-number forms: p99, tm90, wm99.5, tc90, ts90.
        for (prefix, kind) in [
            ("tm", Some(TrimKind::Mean)),
            ("wm", Some(TrimKind::Winsorized)),
            ("tc", Some(TrimKind::Count)),
            ("ts", Some(TrimKind::Sum)),
            ("p", None),
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                if rest.starts_with('-') {
                    return Err(bad(s));
                }
                let p = parse_percent(rest).ok_or_else(|| bad(s))?;
                return Ok(match kind {
                    None => Statistic::Percentile(p),
                    Some(kind) => Statistic::Trim {
                        kind,
                        lower: None,
                        upper: Some(Bound::Percent(p)),
                    },
                });
            }
        }
        // Uppercase range forms: TM(10%:90%), TC(80:500), PR(:300).
        let open = s.find('(').ok_or_else(|| bad(s))?;
        let kind = match &s[..open] {
            "TM" => TrimKind::Mean,
            "WM" => TrimKind::Winsorized,
            "TC" => TrimKind::Count,
            "TS" => TrimKind::Sum,
            "PR" => TrimKind::Rank,
            _ => return Err(bad(s)),
        };
        let inner = s[open + 1..].strip_suffix(')').ok_or_else(|| bad(s))?;
        let (lo, hi) = inner.split_once(':').ok_or_else(|| bad(s))?;
        if lo.is_empty() && hi.is_empty() {
            return Err(bad(s));
        }
        let percent = lo.ends_with('%') || hi.ends_with('%');
        let parse_side = |side: &str| -> Result<Option<Bound>, ModelError> {
            if side.is_empty() {
                return Ok(None);
            }
            if percent {
                let v = side.strip_suffix('%').ok_or_else(|| bad(s))?;
                Ok(Some(Bound::Percent(
                    parse_percent(v).ok_or_else(|| bad(s))?,
                )))
            } else {
                Ok(Some(Bound::Absolute(
                    parse_number(side).ok_or_else(|| bad(s))?,
                )))
            }
        };
        let (lower, upper) = (parse_side(lo)?, parse_side(hi)?);
        if percent && kind == TrimKind::Rank {
            return Err(bad(s));
        }
        let value = |b: Option<Bound>| match b {
            Some(Bound::Percent(v) | Bound::Absolute(v)) => Some(v),
            None => None,
        };
        if let (Some(l), Some(u)) = (value(lower), value(upper)) {
            if l > u {
                return Err(bad(s));
            }
        }
        Ok(Statistic::Trim { kind, lower, upper })
    }

    /// True for SampleCount, Average, Sum, Minimum and Maximum.
    pub fn is_basic(&self) -> bool {
        !matches!(self, Statistic::Percentile(_) | Statistic::Trim { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(
            Statistic::parse("p99").unwrap(),
            Statistic::Percentile(99.0)
        );
        assert_eq!(
            Statistic::parse("p99.9").unwrap(),
            Statistic::Percentile(99.9)
        );
        assert_eq!(
            Statistic::parse("p100").unwrap(),
            Statistic::Percentile(100.0)
        );
        assert_eq!(
            Statistic::parse("tm99").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Mean,
                lower: None,
                upper: Some(Bound::Percent(99.0))
            }
        );
        assert_eq!(
            Statistic::parse("TM(10%:90%)").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Mean,
                lower: Some(Bound::Percent(10.0)),
                upper: Some(Bound::Percent(90.0))
            }
        );
        assert_eq!(
            Statistic::parse("TC(80:500)").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Count,
                lower: Some(Bound::Absolute(80.0)),
                upper: Some(Bound::Absolute(500.0))
            }
        );
        assert_eq!(
            Statistic::parse("PR(:300)").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Rank,
                lower: None,
                upper: Some(Bound::Absolute(300.0))
            }
        );
        assert!(matches!(
            Statistic::parse("IQM").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Mean,
                ..
            }
        ));
        assert!(Statistic::parse("WM(5%:)").is_ok());
        assert_eq!(
            Statistic::parse("pr300").unwrap(),
            Statistic::Trim {
                kind: TrimKind::Rank,
                lower: None,
                upper: Some(Bound::Absolute(300.0))
            }
        );
        assert!(Statistic::parse("ts50").is_ok());
        assert!(Statistic::parse("wm90").is_ok());
        assert!(Statistic::parse("Sum").unwrap().is_basic());
    }

    #[test]
    fn rejects_malformed_statistics() {
        for s in [
            "p101",
            "p-1",
            "P99",
            "Median",
            "TM(90%:10%)",
            "TM(:)",
            "PR(10%:90%)",
            "TM(10%:90",
            "XX(1:2)",
            "p99.12345678901",
            "tm",
            "",
            "sum",
        ] {
            assert!(Statistic::parse(s).is_err(), "{s} should be rejected");
        }
    }
}
