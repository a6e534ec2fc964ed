//! One pass over a data set: per column, Deequ's type counts, completeness,
//! the numeric summary (sum, mean, population standard deviation by Welford's
//! recurrence, min, max), the KLL sketch, the category counts and the distinct
//! count. [`Profiler`] is the [`RowSink`] that does it; [`Profile`] is what
//! it leaves, and turns into statistics.json, suggested constraints and the
//! data every later drift test reuses.
//!
//! Memory is bounded per column except for the numeric values kept for the
//! exact drift tests (8 bytes per numeric value, off with
//! [`ProfileOptions::keep_values`]). Category counts are kept while a column
//! has at most [`CATEGORY_LIMIT`] distinct values; past that the map is
//! dropped and a HyperLogLog takes over the distinct count.

use crate::error::{Error, Result};
use crate::files::{
    CategoricalBucket, CategoricalBuckets, CategoricalDistribution, Common, Constraints,
    DatasetStatistics, FeatureConstraints, FeatureStatistics, KllBucket, KllDistribution,
    KllParameters, KllSketchJson, MonitoringConfig, NumConstraints, NumericalDistribution,
    NumericalStatistics, Statistics, StringConstraints, StringStatistics,
};
use crate::hll::HyperLogLog;
use crate::infer::{classify, InferredType, TypeCounts, ValueClass};
use crate::kll::{self, KllSketch};
use crate::table::RowSink;
use std::collections::{HashMap, HashSet};

/// Columns with more distinct values than this keep no category counts.
pub const CATEGORY_LIMIT: usize = 1000;
/// Deequ's histogram cardinality limit: domains are suggested only below it.
pub const DOMAIN_CARDINALITY_LIMIT: usize = 120;
/// Deequ's `CategoricalRangeRule`: at most this share of distinct values may be unique.
pub const DOMAIN_MAX_UNIQUE_SHARE: f64 = 0.1;

/// A progress callback: called with the rows processed so far.
pub type ProgressFn<'a> = Box<dyn FnMut(u64) + 'a>;

/// How a profile is taken.
pub struct ProfileOptions<'a> {
    /// Keep every numeric value (sorted at the end) for the exact drift tests.
    pub keep_values: bool,
    /// Per column name, a domain to count in-domain values against
    /// (categorical_values_check).
    pub domains: HashMap<String, HashSet<String>>,
    /// Called every `progress_every` rows and once at the end.
    pub progress: Option<ProgressFn<'a>>,
    pub progress_every: u64,
}

impl Default for ProfileOptions<'_> {
    fn default() -> Self {
        ProfileOptions {
            keep_values: true,
            domains: HashMap::new(),
            progress: None,
            progress_every: 100_000,
        }
    }
}

struct Column {
    name: String,
    types: TypeCounts,
    n: u64,
    sum: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    kll: KllSketch,
    values: Option<Vec<f64>>,
    categories: Option<HashMap<String, u64>>,
    hll: Option<HyperLogLog>,
    domain: Option<HashSet<String>>,
    in_domain: u64,
}

impl Column {
    fn new(name: String, nulls: u64, keep_values: bool, domain: Option<HashSet<String>>) -> Column {
        Column {
            name,
            types: TypeCounts {
                null: nulls,
                ..TypeCounts::default()
            },
            n: 0,
            sum: 0.0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            kll: KllSketch::new(),
            values: keep_values.then(Vec::new),
            categories: Some(HashMap::new()),
            hll: None,
            domain,
            in_domain: 0,
        }
    }

    #[inline]
    fn push(&mut self, v: Option<&str>) {
        let Some(s) = v else {
            self.types.null += 1;
            return;
        };
        let (class, number) = classify(s);
        self.types.add(class);
        if let (ValueClass::Integral | ValueClass::Fractional, Some(x)) = (class, number) {
            // A value past the double range ("1e400") keeps its type but
            // stays out of the numbers: an infinite sum, mean or sketch item
            // cannot be written to statistics.json and read back.
            if !x.is_finite() {
                return self.push_text(s);
            }
            self.n += 1;
            self.sum += x;
            // Spark's CentralMomentAgg update, operation for operation.
            let delta = x - self.mean;
            let delta_n = delta / self.n as f64;
            self.mean += delta_n;
            self.m2 += delta * (delta - delta_n);
            self.min = self.min.min(x);
            self.max = self.max.max(x);
            self.kll.update(x);
            if let Some(values) = &mut self.values {
                values.push(x);
            }
        }
        self.push_text(s);
    }

    /// Domain and category counts of a non-null value.
    #[inline]
    fn push_text(&mut self, s: &str) {
        if let Some(domain) = &self.domain {
            if domain.contains(s) {
                self.in_domain += 1;
            }
        }
        match &mut self.categories {
            Some(map) => {
                if let Some(c) = map.get_mut(s) {
                    *c += 1;
                } else if map.len() < CATEGORY_LIMIT {
                    map.insert(s.to_owned(), 1);
                } else {
                    let mut hll = HyperLogLog::new();
                    for k in map.keys() {
                        hll.insert(k);
                    }
                    hll.insert(s);
                    self.hll = Some(hll);
                    self.categories = None;
                }
            }
            None => {
                if let Some(h) = &mut self.hll {
                    h.insert(s);
                }
            }
        }
    }
}

/// Streams rows into per-column accumulators.
pub struct Profiler<'a> {
    columns: Vec<Column>,
    rows: u64,
    opts: ProfileOptions<'a>,
    next_progress: u64,
}

impl<'a> Profiler<'a> {
    pub fn new(opts: ProfileOptions<'a>) -> Profiler<'a> {
        let next_progress = opts.progress_every.max(1);
        Profiler {
            columns: Vec::new(),
            rows: 0,
            opts,
            next_progress,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the pass.
    pub fn finish(mut self) -> Profile {
        if let Some(p) = &mut self.opts.progress {
            p(self.rows);
        }
        let item_count = self.rows;
        let columns = self
            .columns
            .into_iter()
            .map(|c| {
                let mut categories: Option<Vec<(String, u64)>> =
                    c.categories.map(|m| m.into_iter().collect());
                if let Some(cats) = &mut categories {
                    cats.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                }
                let distinct = match (&categories, &c.hll) {
                    (Some(cats), _) => cats.len() as f64,
                    (None, Some(h)) => h.estimate().round(),
                    (None, None) => 0.0,
                };
                let values = c.values.map(|mut v| {
                    v.sort_unstable_by(f64::total_cmp);
                    v
                });
                ColumnProfile {
                    name: c.name,
                    types: c.types,
                    count: c.n,
                    sum: c.sum,
                    mean: c.mean,
                    m2: c.m2,
                    min: c.min,
                    max: c.max,
                    kll: c.kll,
                    sorted_values: values,
                    categories,
                    distinct,
                    in_domain: c.domain.is_some().then_some(c.in_domain),
                }
            })
            .collect();
        Profile {
            item_count,
            columns,
        }
    }
}

impl RowSink for Profiler<'_> {
    fn columns(&mut self, names: &[String]) -> Result<()> {
        for name in &names[self.columns.len().min(names.len())..] {
            let domain = self.opts.domains.get(name).cloned();
            self.columns.push(Column::new(
                name.clone(),
                self.rows,
                self.opts.keep_values,
                domain,
            ));
        }
        Ok(())
    }

    fn row(&mut self, fields: &[Option<&str>]) -> Result<()> {
        if fields.len() > self.columns.len() {
            return Err(Error::Dataset(format!(
                "row {} has {} fields but the data set has {} columns",
                self.rows + 1,
                fields.len(),
                self.columns.len()
            )));
        }
        for (i, col) in self.columns.iter_mut().enumerate() {
            col.push(fields.get(i).copied().flatten());
        }
        self.rows += 1;
        if self.rows >= self.next_progress {
            self.next_progress += self.opts.progress_every.max(1);
            if let Some(p) = &mut self.opts.progress {
                p(self.rows);
            }
        }
        Ok(())
    }
}

/// What one pass over a data set leaves.
#[derive(Debug, Clone)]
pub struct Profile {
    pub item_count: u64,
    pub columns: Vec<ColumnProfile>,
}

/// One column's accumulated statistics.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    pub name: String,
    pub types: TypeCounts,
    /// Number of numeric values.
    pub count: u64,
    pub sum: f64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
    pub kll: KllSketch,
    /// Every numeric value, sorted (when kept).
    pub sorted_values: Option<Vec<f64>>,
    /// Category counts, most frequent first (ties by value), while at most
    /// [`CATEGORY_LIMIT`] distinct values were seen.
    pub categories: Option<Vec<(String, u64)>>,
    /// Exact distinct count when categories are held, else the HyperLogLog estimate.
    pub distinct: f64,
    /// Non-null values inside the domain handed to the profiler.
    pub in_domain: Option<u64>,
}

impl ColumnProfile {
    pub fn inferred_type(&self) -> InferredType {
        self.types.decide()
    }

    pub fn num_present(&self) -> u64 {
        self.types.non_null()
    }

    /// Population standard deviation √(M2/n).
    pub fn std_dev(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2 / self.count as f64).sqrt()
        }
    }

    /// statistics.json's entry for this column.
    pub fn feature_statistics(&self) -> FeatureStatistics {
        let t = self.inferred_type();
        let common = Common {
            num_present: self.num_present(),
            num_missing: self.types.null,
        };
        let mut f = FeatureStatistics {
            name: self.name.clone(),
            inferred_type: t.as_str().into(),
            numerical_statistics: None,
            string_statistics: None,
        };
        if t.is_numeric() && self.count > 0 {
            let ranks = self.kll.cdf_points();
            let (lo, hi) = kll::bucket_range(self.min, self.max);
            let buckets = kll::buckets(&ranks, lo, hi)
                .into_iter()
                .map(|b| KllBucket {
                    lower_bound: b.lower_bound,
                    upper_bound: b.upper_bound,
                    count: b.count,
                })
                .collect();
            f.numerical_statistics = Some(NumericalStatistics {
                common,
                mean: self.sum / self.count as f64,
                sum: self.sum,
                std_dev: self.std_dev(),
                min: self.min,
                max: self.max,
                distribution: NumericalDistribution {
                    kll: KllDistribution {
                        buckets,
                        sketch: KllSketchJson {
                            parameters: KllParameters {
                                c: self.kll.c(),
                                k: self.kll.k() as f64,
                            },
                            data: self.kll.levels(),
                        },
                    },
                },
            });
        } else {
            f.string_statistics = Some(StringStatistics {
                common,
                distinct_count: self.distinct,
                distribution: self
                    .categories
                    .as_ref()
                    .filter(|_| t == InferredType::String)
                    .map(|cats| CategoricalDistribution {
                        categorical: CategoricalBuckets {
                            buckets: cats
                                .iter()
                                .map(|(value, count)| CategoricalBucket {
                                    value: value.clone(),
                                    count: *count,
                                })
                                .collect(),
                        },
                    }),
            });
        }
        f
    }

    /// The suggested constraints for this column (see docs/monitor.md).
    pub fn suggested_constraints(&self, item_count: u64) -> FeatureConstraints {
        let t = self.inferred_type();
        let completeness = if item_count == 0 {
            Some(1.0)
        } else {
            suggested_completeness(self.num_present() as f64 / item_count as f64, item_count)
        };
        let num_constraints = (t.is_numeric() && self.count > 0).then_some(NumConstraints {
            is_non_negative: self.min >= 0.0,
        });
        let string_constraints = match (&self.categories, t) {
            (Some(cats), InferredType::String)
                if !cats.is_empty() && cats.len() <= DOMAIN_CARDINALITY_LIMIT =>
            {
                let unique = cats.iter().filter(|(_, c)| *c == 1).count();
                (unique as f64 / cats.len() as f64 <= DOMAIN_MAX_UNIQUE_SHARE).then(|| {
                    StringConstraints {
                        domains: cats.iter().map(|(v, _)| v.clone()).collect(),
                    }
                })
            }
            _ => None,
        };
        FeatureConstraints {
            name: self.name.clone(),
            inferred_type: t.as_str().into(),
            completeness,
            num_constraints,
            string_constraints,
            monitoring_config_overrides: None,
        }
    }
}

/// Deequ's `RetainCompletenessRule` applies above this completeness.
pub const RETAIN_COMPLETENESS_MIN: f64 = 0.2;

/// Observed completeness p over n rows → the suggested lower limit, as
/// Deequ's rules give it: 1.0 when complete (`CompleteIfCompleteRule`);
/// for 0.2 < p < 1 `RetainCompletenessRule`'s bound p − 1.96·√(p(1−p)/n)
/// cut to two decimals towards zero, never below 0; none at all for
/// p ≤ 0.2 (no rule applies, so the feature has no completeness constraint).
pub fn suggested_completeness(p: f64, n: u64) -> Option<f64> {
    if p >= 1.0 {
        return Some(1.0);
    }
    if p.is_nan() || p <= RETAIN_COMPLETENESS_MIN || n == 0 {
        return None;
    }
    let bound = p - 1.96 * (p * (1.0 - p) / n as f64).sqrt();
    Some(truncate_2_decimals(bound).max(0.0))
}

/// `BigDecimal(x).setScale(2, RoundingMode.DOWN).toDouble` in Scala: the
/// shortest decimal text of `x` cut after two decimals, towards zero. Not
/// ⌊100·x⌋/100, which turns 0.29 into 0.28 (0.29·100 = 28.999999999999996).
pub fn truncate_2_decimals(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // Rust prints the shortest round-trip digits without an exponent.
    let text = format!("{x}");
    let cut = match text.find('.') {
        Some(dot) => &text[..(dot + 3).min(text.len())],
        None => &text,
    };
    cut.parse().unwrap_or(x)
}

impl Profile {
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn statistics(&self) -> Statistics {
        Statistics {
            version: 0,
            dataset: DatasetStatistics {
                item_count: self.item_count,
            },
            features: self
                .columns
                .iter()
                .map(|c| c.feature_statistics())
                .collect(),
        }
    }

    pub fn suggested_constraints(&self) -> Constraints {
        Constraints {
            version: 0,
            features: self
                .columns
                .iter()
                .map(|c| c.suggested_constraints(self.item_count))
                .collect(),
            monitoring_config: MonitoringConfig::suggested(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{CsvSource, DataSource};

    fn profile(csv: &str) -> Profile {
        let mut p = Profiler::new(ProfileOptions::default());
        CsvSource::new(csv.as_bytes(), "t.csv", true)
            .feed(&mut p)
            .unwrap();
        p.finish()
    }

    #[test]
    fn population_std_dev_and_summary() {
        // Churn-like 0/1 column: std = √(p(1−p)).
        let mut text = String::from("churn\n");
        for i in 0..1000 {
            text.push_str(if i % 10 < 3 { "1\n" } else { "0\n" });
        }
        let p = profile(&text);
        let f = p.statistics().features.remove(0);
        let n = f.numerical_statistics.unwrap();
        assert_eq!(f.inferred_type, "Integral");
        assert_eq!(n.sum, 300.0);
        assert_eq!(n.mean, 0.3);
        assert!((n.std_dev - (0.3f64 * 0.7).sqrt()).abs() < 1e-15);
        assert_eq!(n.common.num_present, 1000);
    }

    #[test]
    fn strings_and_nulls() {
        let p = profile("s,x\nCA,1\nNY,\nCA,2.5\n,3\n");
        let st = p.statistics();
        let s = st.features[0].string_statistics.as_ref().unwrap();
        assert_eq!(
            s.common,
            Common {
                num_present: 3,
                num_missing: 1
            }
        );
        assert_eq!(s.distinct_count, 2.0);
        let b = st.features[0].categorical().unwrap();
        assert_eq!((b[0].value.as_str(), b[0].count), ("CA", 2));
        assert_eq!(st.features[1].inferred_type, "Fractional");
        let c = p.suggested_constraints();
        assert_eq!(
            c.features[0].completeness,
            Some(0.32),
            "p = 0.75 over 4 rows"
        );
        assert_eq!(
            c.features[0].string_constraints, None,
            "half the values are unique"
        );
    }

    #[test]
    fn completeness_suggestion() {
        assert_eq!(suggested_completeness(1.0, 10), Some(1.0));
        // Adult workclass: 30725 of 32561 present.
        let p = 30725.0 / 32561.0;
        assert_eq!(suggested_completeness(p, 32561), Some(0.94));
        // RetainCompletenessRule applies only above 0.2.
        assert_eq!(suggested_completeness(0.2, 1000), None);
        assert_eq!(suggested_completeness(0.1, 1000), None);
        assert_eq!(suggested_completeness(0.0, 1000), None);
        assert_eq!(suggested_completeness(0.21, 1000), Some(0.18));
        // A bound below zero is cut to 0.
        assert_eq!(suggested_completeness(0.25, 2), Some(0.0));
    }

    #[test]
    fn completeness_bound_is_cut_as_a_decimal() {
        // BigDecimal(0.29).setScale(2, DOWN) is 0.29; ⌊0.29·100⌋/100 is 0.28.
        assert_eq!(truncate_2_decimals(0.29), 0.29);
        assert_eq!(truncate_2_decimals(0.57), 0.57);
        assert_eq!(truncate_2_decimals(0.5699999999999998), 0.56);
        assert_eq!(truncate_2_decimals(0.9436), 0.94);
        assert_eq!(truncate_2_decimals(0.1), 0.1);
        assert_eq!(truncate_2_decimals(1.0), 1.0);
        assert_eq!(truncate_2_decimals(-0.034), -0.03);
    }

    #[test]
    fn sparse_columns_get_no_completeness_constraint() {
        // 1 value in 10 rows (p = 0.1): no Deequ rule suggests a completeness.
        let mut text = String::from("x,y\n5,a\n");
        for _ in 0..9 {
            text.push_str(",b\n");
        }
        let c = profile(&text).suggested_constraints();
        assert_eq!(c.features[0].completeness, None);
        assert_eq!(c.features[1].completeness, Some(1.0));
        let json = serde_json::to_value(&c).unwrap();
        assert!(json["features"][0].get("completeness").is_none());
    }

    #[test]
    fn category_map_overflows_into_hyperloglog() {
        let mut text = String::from("id\n");
        for i in 0..5000 {
            text.push_str(&format!("id-{i}\n"));
        }
        let p = profile(&text);
        let c = &p.columns[0];
        assert!(c.categories.is_none());
        assert!((c.distinct - 5000.0).abs() < 250.0, "{}", c.distinct);
    }
}
