//! One bucket's summary ([`Aggregate`]) and the statistics computed from it.

use crate::sketch::{take_f64, Sketch};
use mw_model::{Bound, DatumValue, Statistic, TrimKind};

/// SampleCount, Sum, Minimum, Maximum and a quantile sketch for one bucket.
///
/// Basic statistics are exact. Percentile-family statistics come from the sketch
/// and are only offered while every value of the bucket was known individually
/// and none was negative, as CloudWatch does.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    sketch: Sketch,
    /// False once a negative value or an un-splittable StatisticValues arrived.
    percentiles: bool,
}

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sketch: Sketch::new(),
            percentiles: true,
        }
    }
}

impl Aggregate {
    pub fn is_empty(&self) -> bool {
        self.count <= 0.0
    }

    /// Whether percentile-family statistics are available.
    pub fn has_percentiles(&self) -> bool {
        self.percentiles && !self.sketch.is_empty()
    }

    /// Adds `v` observed `w` times.
    pub fn add(&mut self, v: f64, w: f64) {
        if w <= 0.0 {
            return;
        }
        self.count += w;
        self.sum += v * w;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v < 0.0 {
            self.percentiles = false;
        } else {
            self.sketch.add(v, w);
        }
    }

    /// Adds one ingested datum's value.
    pub fn add_datum(&mut self, value: &DatumValue) {
        match value {
            DatumValue::Single(v) => self.add(*v, 1.0),
            DatumValue::Values(vs) => {
                for (v, c) in vs {
                    self.add(*v, *c);
                }
            }
            DatumValue::Stats {
                count,
                sum,
                min,
                max,
            } => {
                // A set whose values are all equal can still feed percentiles.
                if min == max && (sum - min * count).abs() <= 1e-9 * sum.abs().max(1.0) {
                    self.add(*min, *count);
                    // Keep the sum exactly as sent.
                    self.sum += sum - min * count;
                    return;
                }
                self.count += count;
                self.sum += sum;
                self.min = self.min.min(*min);
                self.max = self.max.max(*max);
                self.percentiles = false;
            }
        }
    }

    /// Adds everything of `other`.
    pub fn merge(&mut self, other: &Aggregate) {
        if other.is_empty() {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.percentiles &= other.percentiles;
        self.sketch.merge(&other.sketch);
    }

    /// The value of `stat`, or `None` where CloudWatch would give none.
    pub fn statistic(&self, stat: &Statistic) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        match stat {
            Statistic::SampleCount => Some(self.count),
            Statistic::Sum => Some(self.sum),
            Statistic::Average => Some(self.sum / self.count),
            Statistic::Minimum => Some(self.min),
            Statistic::Maximum => Some(self.max),
            Statistic::Percentile(p) => {
                if !self.has_percentiles() {
                    return None;
                }
                if *p <= 0.0 {
                    return Some(self.min);
                }
                if *p >= 100.0 {
                    return Some(self.max);
                }
                self.sketch
                    .quantile(p / 100.0)
                    .map(|v| v.clamp(self.min, self.max))
            }
            Statistic::Trim { kind, lower, upper } => self.trimmed(*kind, *lower, *upper),
        }
    }

    fn trimmed(&self, kind: TrimKind, lower: Option<Bound>, upper: Option<Bound>) -> Option<f64> {
        if !self.has_percentiles() {
            return None;
        }
        let n = self.sketch.count();
        let bins: Vec<(f64, f64)> = self
            .sketch
            .iter()
            .map(|(v, w)| (v.clamp(self.min, self.max), w))
            .collect();
        // Weight of each bin inside the range, and the values the range clamps to.
        let mut inside = Vec::with_capacity(bins.len());
        let (lo_clamp, hi_clamp);
        let percent =
            matches!(lower, Some(Bound::Percent(_))) || matches!(upper, Some(Bound::Percent(_)));
        if percent {
            let lo_rank = match lower {
                Some(Bound::Percent(p)) => p / 100.0 * n,
                _ => 0.0,
            };
            let hi_rank = match upper {
                Some(Bound::Percent(p)) => p / 100.0 * n,
                _ => n,
            };
            let mut cum = 0.0;
            for (v, w) in &bins {
                let (a, b) = (cum, cum + w);
                let overlap = (b.min(hi_rank) - a.max(lo_rank)).max(0.0);
                inside.push((*v, overlap));
                cum = b;
            }
            lo_clamp = match lower {
                Some(Bound::Percent(p)) => self.statistic(&Statistic::Percentile(p))?,
                _ => self.min,
            };
            hi_clamp = match upper {
                Some(Bound::Percent(p)) => self.statistic(&Statistic::Percentile(p))?,
                _ => self.max,
            };
        } else {
            let lo = match lower {
                Some(Bound::Absolute(v)) => v,
                _ => f64::NEG_INFINITY,
            };
            let hi = match upper {
                Some(Bound::Absolute(v)) => v,
                _ => f64::INFINITY,
            };
            for (v, w) in &bins {
                let keep = *v > lo && *v <= hi;
                inside.push((*v, if keep { *w } else { 0.0 }));
            }
            lo_clamp = lo.max(self.min);
            hi_clamp = hi.min(self.max);
        }
        let count: f64 = inside.iter().map(|(_, w)| w).sum();
        let sum: f64 = inside.iter().map(|(v, w)| v * w).sum();
        match kind {
            TrimKind::Count => Some(count),
            TrimKind::Sum => Some(sum),
            TrimKind::Rank => Some(100.0 * count / n),
            TrimKind::Mean => (count > 0.0).then(|| sum / count),
            TrimKind::Winsorized => {
                let mut total = 0.0;
                for ((v, w), (_, w_in)) in bins.iter().zip(&inside) {
                    let out = w - w_in;
                    total += v * w_in;
                    if out > 0.0 {
                        total += out * if *v <= lo_clamp { lo_clamp } else { hi_clamp };
                    }
                }
                Some(total / n)
            }
        }
    }

    /// Appends the stored form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(1); // format version
        out.push(u8::from(self.percentiles));
        for v in [self.count, self.sum, self.min, self.max] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        self.sketch.encode(out);
    }

    /// Reads the stored form; `None` on malformed bytes.
    pub fn decode(mut buf: &[u8]) -> Option<Aggregate> {
        let (&[version, pct], rest) = buf.split_first_chunk::<2>()?;
        if version != 1 {
            return None;
        }
        buf = rest;
        let count = take_f64(&mut buf)?;
        let sum = take_f64(&mut buf)?;
        let min = take_f64(&mut buf)?;
        let max = take_f64(&mut buf)?;
        let sketch = Sketch::decode(&mut buf)?;
        Some(Aggregate {
            count,
            sum,
            min,
            max,
            sketch,
            percentiles: pct != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(values: &[f64]) -> Aggregate {
        let mut a = Aggregate::default();
        for v in values {
            a.add(*v, 1.0);
        }
        a
    }

    fn close(a: f64, b: f64) -> bool {
        ((a - b) / b).abs() <= 0.01
    }

    #[test]
    fn basic_statistics_are_exact() {
        let a = agg(&[1.0, 2.0, 3.5, 10.0]);
        assert_eq!(a.statistic(&Statistic::SampleCount), Some(4.0));
        assert_eq!(a.statistic(&Statistic::Sum), Some(16.5));
        assert_eq!(a.statistic(&Statistic::Average), Some(4.125));
        assert_eq!(a.statistic(&Statistic::Minimum), Some(1.0));
        assert_eq!(a.statistic(&Statistic::Maximum), Some(10.0));
    }

    #[test]
    fn trimmed_family_matches_definitions() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let a = agg(&values);
        let st = |s: &str| a.statistic(&Statistic::parse(s).unwrap()).unwrap();
        // tm90: mean of the lowest 90 values = 45.5
        assert!(close(st("tm90"), 45.5), "{}", st("tm90"));
        // TM(10%:90%): values 11..=90, mean 50.5
        assert!(close(st("TM(10%:90%)"), 50.5), "{}", st("TM(10%:90%)"));
        assert!(close(st("tc90"), 90.0));
        assert!(close(st("ts90"), 4095.0));
        // TC(80:500): 80 < v <= 500 -> 81..=100
        assert!(close(st("TC(80:500)"), 20.0), "{}", st("TC(80:500)"));
        assert!(close(st("PR(:25)"), 25.0), "{}", st("PR(:25)"));
        // IQM = TM(25%:75%): 26..=75, mean 50.5
        assert!(close(st("IQM"), 50.5));
        assert!(close(st("p50"), 50.5));
    }

    #[test]
    fn negative_values_disable_percentiles() {
        let a = agg(&[1.0, -2.0, 3.0]);
        assert_eq!(a.statistic(&Statistic::Percentile(50.0)), None);
        assert_eq!(a.statistic(&Statistic::parse("tm90").unwrap()), None);
        assert_eq!(a.statistic(&Statistic::Sum), Some(2.0));
    }

    #[test]
    fn statistic_sets_feed_percentiles_only_when_uniform() {
        let mut a = Aggregate::default();
        a.add_datum(&DatumValue::Stats {
            count: 4.0,
            sum: 20.0,
            min: 5.0,
            max: 5.0,
        });
        assert_eq!(a.statistic(&Statistic::Percentile(90.0)), Some(5.0));
        a.add_datum(&DatumValue::Stats {
            count: 2.0,
            sum: 30.0,
            min: 10.0,
            max: 20.0,
        });
        assert_eq!(a.statistic(&Statistic::Percentile(90.0)), None);
        assert_eq!(a.statistic(&Statistic::SampleCount), Some(6.0));
        assert_eq!(a.statistic(&Statistic::Sum), Some(50.0));
    }

    #[test]
    fn encoding_round_trips() {
        let a = agg(&[0.5, 7.0, 7.0, 1e6]);
        let mut buf = Vec::new();
        a.encode(&mut buf);
        assert_eq!(Aggregate::decode(&buf), Some(a));
        assert_eq!(Aggregate::decode(&buf[..10]), None);
        assert_eq!(Aggregate::decode(&[9, 9]), None);
    }
}
