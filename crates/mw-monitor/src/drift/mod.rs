//! Drift tests beyond SageMaker's, per feature and for the whole data set,
//! written to `drift_report.json` beside SageMaker's files.
//!
//! [`DriftBaseline`] is what the baseline keeps so that every later window
//! costs only its own data: per numeric feature the sorted values as
//! (value, count) runs, their population standard deviation and decile bin
//! edges; per categorical feature the category counts. [`compare`] runs the
//! tests; docs/monitor.md defines each statistic and the decision rule.

pub mod ks;
pub mod special;
pub mod stats;

use crate::profile::Profile;
use serde::{Deserialize, Serialize};
use stats::Runs;
use std::collections::BTreeMap;

/// File name of the kept baseline data.
pub const BASELINE_FILE: &str = "drift_baseline.json";
/// File name of the report.
pub const REPORT_FILE: &str = "drift_report.json";

/// The baseline data the drift tests reuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBaseline {
    pub version: u32,
    pub features: Vec<BaselineFeature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaselineFeature {
    Numeric {
        name: String,
        count: u64,
        std_dev: f64,
        /// Ascending [value, count] runs of every baseline value.
        runs: Vec<(f64, u64)>,
        decile_edges: Vec<f64>,
    },
    Categorical {
        name: String,
        count: u64,
        /// Category counts, most frequent first.
        counts: Vec<(String, u64)>,
    },
}

impl BaselineFeature {
    pub fn name(&self) -> &str {
        match self {
            BaselineFeature::Numeric { name, .. } | BaselineFeature::Categorical { name, .. } => {
                name
            }
        }
    }
}

impl DriftBaseline {
    /// Extracts the kept data from a baseline profile (taken with `keep_values`).
    pub fn from_profile(p: &Profile) -> DriftBaseline {
        let mut features = Vec::new();
        for c in &p.columns {
            let t = c.inferred_type();
            if t.is_numeric() {
                if let Some(v) = c.sorted_values.as_ref().filter(|v| !v.is_empty()) {
                    let runs = stats::runs(v);
                    let decile_edges = stats::decile_edges(&runs);
                    features.push(BaselineFeature::Numeric {
                        name: c.name.clone(),
                        count: c.count,
                        std_dev: c.std_dev(),
                        runs,
                        decile_edges,
                    });
                }
            } else if let Some(cats) = &c.categories {
                features.push(BaselineFeature::Categorical {
                    name: c.name.clone(),
                    count: cats.iter().map(|x| x.1).sum(),
                    counts: cats.clone(),
                });
            }
        }
        DriftBaseline {
            version: 0,
            features,
        }
    }
}

/// The most values a baseline feature may hold: counts stay exact as doubles.
pub const MAX_COUNT: u64 = 1 << 53;

impl DriftBaseline {
    /// Checks what the file parses into but the tests cannot use: runs that
    /// are not ascending finite values with positive counts summing to the
    /// feature's count, bin edges that are not ascending finite values, a
    /// standard deviation that is not a finite non-negative number, category
    /// counts that are zero, repeat a category or do not sum to the count,
    /// and features of more than [`MAX_COUNT`] values.
    pub fn validate(&self) -> Result<(), String> {
        for f in &self.features {
            let name = f.name();
            let bad = |what: String| Err(format!("feature {name:?}: {what}"));
            match f {
                BaselineFeature::Numeric {
                    count,
                    std_dev,
                    runs,
                    decile_edges,
                    ..
                } => {
                    if runs.is_empty() {
                        return bad("runs is empty".into());
                    }
                    let mut sum = 0u64;
                    for (i, &(v, c)) in runs.iter().enumerate() {
                        if !v.is_finite() || c == 0 {
                            return bad(format!(
                                "run {i} [{v}, {c}] is not a finite value with a positive count"
                            ));
                        }
                        if i > 0 && runs[i - 1].0 >= v {
                            return bad(format!(
                                "run {i} does not follow run {} in ascending order",
                                i - 1
                            ));
                        }
                        sum = match sum.checked_add(c).filter(|s| *s <= MAX_COUNT) {
                            Some(s) => s,
                            None => {
                                return bad(format!("the runs hold more than {MAX_COUNT} values"))
                            }
                        };
                    }
                    if sum != *count {
                        return bad(format!("the runs hold {sum} values but count is {count}"));
                    }
                    if !(std_dev.is_finite() && *std_dev >= 0.0) {
                        return bad(format!(
                            "std_dev {std_dev} is not a finite non-negative number"
                        ));
                    }
                    if decile_edges.iter().any(|e| !e.is_finite())
                        || decile_edges.windows(2).any(|w| w[0] >= w[1])
                    {
                        return bad("decile_edges are not ascending finite values".into());
                    }
                }
                BaselineFeature::Categorical { count, counts, .. } => {
                    let mut seen = std::collections::HashSet::new();
                    let mut sum = 0u64;
                    for (k, c) in counts {
                        if *c == 0 {
                            return bad(format!("category {k:?} has count 0"));
                        }
                        if !seen.insert(k.as_str()) {
                            return bad(format!("category {k:?} appears twice"));
                        }
                        sum = match sum.checked_add(*c).filter(|s| *s <= MAX_COUNT) {
                            Some(s) => s,
                            None => {
                                return bad(format!(
                                    "the categories hold more than {MAX_COUNT} values"
                                ))
                            }
                        };
                    }
                    if sum != *count {
                        return bad(format!(
                            "the categories hold {sum} values but count is {count}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Multiple-testing correction across features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Correction {
    None,
    Bonferroni,
    BenjaminiHochberg,
}

/// Decision parameters; the defaults are documented in docs/monitor.md.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Significance level after correction.
    pub alpha: f64,
    pub correction: Correction,
    /// Minimum normalised Wasserstein distance for a numeric feature to drift.
    pub numeric_effect_threshold: f64,
    /// Minimum Jensen–Shannon distance for a categorical feature to drift.
    pub categorical_effect_threshold: f64,
    /// Below this many window values a feature is decided on significance alone.
    pub min_rows_for_effect: u64,
    /// The data set drifts when at least this share of tested features drifts.
    pub dataset_drift_share: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            alpha: 0.05,
            correction: Correction::BenjaminiHochberg,
            numeric_effect_threshold: 0.1,
            categorical_effect_threshold: 0.1,
            min_rows_for_effect: 1000,
            dataset_drift_share: 0.5,
        }
    }
}

/// A statistic with an optional p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    pub statistic: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dof: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

fn stat(statistic: f64) -> TestResult {
    TestResult {
        statistic,
        p_value: None,
        dof: None,
        method: None,
    }
}

/// One feature's tests and decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    pub name: String,
    pub kind: &'static str,
    pub baseline_count: u64,
    pub window_count: u64,
    /// Every statistic computed, by name.
    pub tests: BTreeMap<&'static str, TestResult>,
    /// The test whose p-value the decision uses.
    pub decision_test: &'static str,
    pub p_value: f64,
    pub p_value_adjusted: f64,
    /// The effect size the decision uses and its name.
    pub effect_size_name: &'static str,
    pub effect_size: f64,
    pub drift: bool,
    /// Which rule decided: `significance` or `significance_and_effect`.
    pub rule: &'static str,
    pub reason: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub version: u32,
    pub options: DriftOptions,
    pub features: Vec<FeatureDrift>,
    pub tested_features: usize,
    pub drifted_features: usize,
    pub drift_share: f64,
    pub dataset_drift: bool,
    /// Baseline features the window could not be compared on, with why.
    pub skipped: Vec<(String, String)>,
}

/// Runs every test of every feature present in both the baseline and the window.
pub fn compare(base: &DriftBaseline, window: &Profile, opts: &DriftOptions) -> DriftReport {
    let mut features = Vec::new();
    let mut skipped = Vec::new();
    for bf in &base.features {
        let Some(col) = window.column(bf.name()) else {
            skipped.push((bf.name().to_string(), "not in the window".to_string()));
            continue;
        };
        match bf {
            BaselineFeature::Numeric {
                name,
                count,
                std_dev,
                runs,
                decile_edges,
            } => {
                let Some(values) = col.sorted_values.as_ref().filter(|v| !v.is_empty()) else {
                    skipped.push((name.clone(), "no numeric values in the window".into()));
                    continue;
                };
                let w = stats::runs(values);
                features.push(numeric(
                    name,
                    *count,
                    *std_dev,
                    runs,
                    decile_edges,
                    &w,
                    opts,
                ));
            }
            BaselineFeature::Categorical {
                name,
                count,
                counts,
            } => {
                let Some(wc) = col.categories.as_ref().filter(|c| !c.is_empty()) else {
                    skipped.push((
                        name.clone(),
                        "no category counts in the window (empty, or too many distinct values)"
                            .into(),
                    ));
                    continue;
                };
                features.push(categorical(name, *count, counts, wc, opts));
            }
        }
    }
    adjust(&mut features, opts);
    let drifted = features.iter().filter(|f| f.drift).count();
    let share = if features.is_empty() {
        0.0
    } else {
        drifted as f64 / features.len() as f64
    };
    DriftReport {
        version: 0,
        options: *opts,
        tested_features: features.len(),
        drifted_features: drifted,
        drift_share: share,
        dataset_drift: !features.is_empty() && share >= opts.dataset_drift_share,
        features,
        skipped,
    }
}

fn numeric(
    name: &str,
    count: u64,
    std_dev: f64,
    base: &Runs,
    edges: &[f64],
    w: &Runs,
    _opts: &DriftOptions,
) -> FeatureDrift {
    let n1 = stats::total(base);
    let n2 = stats::total(w);
    let d = ks::statistic_runs(base, w);
    let ks = ks::p_value(d, n1 as usize, n2 as usize);
    let wd = stats::wasserstein(base, w);
    let normed = if std_dev > 0.0 { wd / std_dev } else { wd };
    let bb = stats::bin_counts(base, edges);
    let wb = stats::bin_counts(w, edges);
    let chi = stats::chi_square(&bb, &wb);
    let ad = stats::anderson_darling(base, w);
    let mut tests = BTreeMap::new();
    tests.insert(
        "kolmogorov_smirnov",
        TestResult {
            statistic: ks.statistic,
            p_value: Some(ks.p_value),
            dof: None,
            method: Some(if ks.exact { "exact" } else { "asymptotic" }),
        },
    );
    tests.insert("wasserstein", stat(wd));
    tests.insert("wasserstein_normed", stat(normed));
    tests.insert("population_stability_index", stat(stats::psi(&bb, &wb)));
    tests.insert("jensen_shannon", stat(stats::jensen_shannon(&bb, &wb)));
    tests.insert(
        "chi_square",
        TestResult {
            statistic: chi.statistic,
            p_value: Some(chi.p_value),
            dof: Some(chi.dof),
            method: Some("decile_bins"),
        },
    );
    tests.insert(
        "anderson_darling",
        TestResult {
            statistic: ad.statistic,
            p_value: Some(ad.p_value),
            dof: None,
            method: Some("interpolated_capped"),
        },
    );
    FeatureDrift {
        name: name.to_string(),
        kind: "numeric",
        baseline_count: count,
        window_count: n2,
        tests,
        decision_test: "kolmogorov_smirnov",
        p_value: ks.p_value,
        p_value_adjusted: ks.p_value,
        effect_size_name: "wasserstein_normed",
        effect_size: normed,
        drift: false,
        rule: "",
        reason: String::new(),
    }
}

fn categorical(
    name: &str,
    count: u64,
    base: &[(String, u64)],
    window: &[(String, u64)],
    _opts: &DriftOptions,
) -> FeatureDrift {
    // Union of categories: baseline order, then window-only ones.
    let mut keys: Vec<&str> = base.iter().map(|x| x.0.as_str()).collect();
    let known: std::collections::HashSet<&str> = keys.iter().copied().collect();
    let mut extra: Vec<&str> = window
        .iter()
        .map(|x| x.0.as_str())
        .filter(|k| !known.contains(k))
        .collect();
    extra.sort_unstable();
    keys.extend(extra);
    let wmap: std::collections::HashMap<&str, u64> =
        window.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let bmap: std::collections::HashMap<&str, u64> =
        base.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let a: Vec<u64> = keys
        .iter()
        .map(|k| bmap.get(k).copied().unwrap_or(0))
        .collect();
    let b: Vec<u64> = keys
        .iter()
        .map(|k| wmap.get(k).copied().unwrap_or(0))
        .collect();
    let chi = stats::chi_square(&a, &b);
    let js = stats::jensen_shannon(&a, &b);
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    let linf = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (*x as f64 / na - *y as f64 / nb).abs())
        .fold(0.0, f64::max);
    let mut tests = BTreeMap::new();
    tests.insert(
        "chi_square",
        TestResult {
            statistic: chi.statistic,
            p_value: Some(chi.p_value),
            dof: Some(chi.dof),
            method: Some("contingency"),
        },
    );
    tests.insert("population_stability_index", stat(stats::psi(&a, &b)));
    tests.insert("jensen_shannon", stat(js));
    tests.insert("l_infinity", stat(linf));
    FeatureDrift {
        name: name.to_string(),
        kind: "categorical",
        baseline_count: count,
        window_count: nb as u64,
        tests,
        decision_test: "chi_square",
        p_value: chi.p_value,
        p_value_adjusted: chi.p_value,
        effect_size_name: "jensen_shannon",
        effect_size: js,
        drift: false,
        rule: "",
        reason: String::new(),
    }
}

/// Corrects the p-values across features and decides each feature.
fn adjust(features: &mut [FeatureDrift], opts: &DriftOptions) {
    let m = features.len();
    match opts.correction {
        Correction::None => {}
        Correction::Bonferroni => {
            for f in features.iter_mut() {
                f.p_value_adjusted = (f.p_value * m as f64).min(1.0);
            }
        }
        Correction::BenjaminiHochberg => {
            let mut order: Vec<usize> = (0..m).collect();
            order.sort_by(|&i, &j| features[i].p_value.total_cmp(&features[j].p_value));
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                let q = features[i].p_value * m as f64 / (rank + 1) as f64;
                running = running.min(q).min(1.0);
                features[i].p_value_adjusted = running;
            }
        }
    }
    for f in features.iter_mut() {
        let threshold = if f.kind == "numeric" {
            opts.numeric_effect_threshold
        } else {
            opts.categorical_effect_threshold
        };
        let significant = f.p_value_adjusted < opts.alpha;
        if f.window_count < opts.min_rows_for_effect {
            f.rule = "significance";
            f.drift = significant;
            f.reason = format!(
                "{} window values (< {}): {} adjusted p-value {:.3e} {} alpha {}",
                f.window_count,
                opts.min_rows_for_effect,
                f.decision_test,
                f.p_value_adjusted,
                if significant { "<" } else { ">=" },
                opts.alpha
            );
        } else {
            f.rule = "significance_and_effect";
            let material = f.effect_size >= threshold;
            f.drift = significant && material;
            f.reason = format!(
                "{} adjusted p-value {:.3e} {} alpha {}; {} {:.4} {} {}",
                f.decision_test,
                f.p_value_adjusted,
                if significant { "<" } else { ">=" },
                opts.alpha,
                f.effect_size_name,
                f.effect_size,
                if material { ">=" } else { "<" },
                threshold
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(p: f64) -> FeatureDrift {
        FeatureDrift {
            name: String::new(),
            kind: "numeric",
            baseline_count: 0,
            window_count: 10,
            tests: BTreeMap::new(),
            decision_test: "kolmogorov_smirnov",
            p_value: p,
            p_value_adjusted: p,
            effect_size_name: "wasserstein_normed",
            effect_size: 0.0,
            drift: false,
            rule: "",
            reason: String::new(),
        }
    }

    #[test]
    fn benjamini_hochberg_matches_statsmodels() {
        // statsmodels multipletests([.01,.04,.03,.005], method='fdr_bh'):
        // [0.02, 0.04, 0.04, 0.02]
        let mut f: Vec<FeatureDrift> = [0.01, 0.04, 0.03, 0.005].into_iter().map(fd).collect();
        adjust(&mut f, &DriftOptions::default());
        let adj: Vec<f64> = f.iter().map(|x| x.p_value_adjusted).collect();
        for (a, b) in adj.iter().zip([0.02, 0.04, 0.04, 0.02]) {
            assert!((a - b).abs() < 1e-15, "{adj:?}");
        }
        assert!(f.iter().all(|x| x.drift && x.rule == "significance"));
        let mut f: Vec<FeatureDrift> = [0.01, 0.04].into_iter().map(fd).collect();
        adjust(
            &mut f,
            &DriftOptions {
                correction: Correction::Bonferroni,
                ..DriftOptions::default()
            },
        );
        assert_eq!(f[0].p_value_adjusted, 0.02);
        assert_eq!(f[1].p_value_adjusted, 0.08);
        assert!(!f[1].drift);
    }

    #[test]
    fn large_windows_need_an_effect() {
        let mut f = vec![fd(1e-12)];
        f[0].window_count = 1_000_000;
        f[0].effect_size = 0.05;
        adjust(&mut f, &DriftOptions::default());
        assert!(!f[0].drift, "significant but immaterial");
        assert_eq!(f[0].rule, "significance_and_effect");
        f[0].effect_size = 0.2;
        adjust(&mut f, &DriftOptions::default());
        assert!(f[0].drift);
    }
}
