//! SageMaker's baseline_drift_check distances (Deequ's `Distance`):
//! L∞ between two KLL sketches, L∞ between two categorical distributions,
//! each Simple or Robust, and the categorical ChiSquared p-value.

use crate::drift::special::chi2_sf;
use crate::files::ComparisonMethod;
use crate::kll::KllSketch;

/// Deequ 2.0.2's Kolmogorov–Smirnov critical constant (α ≈ 0.003).
pub const ROBUST_CONSTANT: f64 = 1.8;

/// Simple L∞ → Robust: max(0, d − 1.8·√((n+m)/(n·m))).
pub fn robust(simple: f64, n: f64, m: f64) -> f64 {
    (simple - ROBUST_CONSTANT * ((n + m) / (n * m)).sqrt()).max(0.0)
}

fn select(simple: f64, n: f64, m: f64, method: ComparisonMethod) -> f64 {
    match method {
        ComparisonMethod::Simple => simple,
        ComparisonMethod::Robust => robust(simple, n, m),
    }
}

/// max over the union of items of |cdf₁ − cdf₂| between two sketches, where
/// cdf_j(x) = (weight of sketch j's items ≤ x) / total weight of sketch j.
pub fn linf_simple_sketches(a: &KllSketch, b: &KllSketch) -> (f64, f64, f64) {
    let ra = a.cdf_points();
    let rb = b.cdf_points();
    let (n, m) = (ra.total, rb.total);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < ra.keys.len() || j < rb.keys.len() {
        let x = match (ra.keys.get(i), rb.keys.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        while i < ra.keys.len() && ra.keys[i] <= x {
            i += 1;
        }
        while j < rb.keys.len() && rb.keys[j] <= x {
            j += 1;
        }
        let ca = if i == 0 { 0.0 } else { ra.ranks[i - 1] / n };
        let cb = if j == 0 { 0.0 } else { rb.ranks[j - 1] / m };
        d = d.max((ca - cb).abs());
    }
    (d, n, m)
}

/// The numeric baseline_drift_check distance.
pub fn numeric_distance(a: &KllSketch, b: &KllSketch, method: ComparisonMethod) -> f64 {
    let (d, n, m) = linf_simple_sketches(a, b);
    select(d, n, m, method)
}

/// The categorical L∞ distance over the union of categories (missing → 0).
pub fn categorical_linf(a: &[(String, u64)], b: &[(String, u64)], method: ComparisonMethod) -> f64 {
    // Summed as doubles: a baseline file's counts can be anything up to u64::MAX.
    let n: f64 = a.iter().map(|x| x.1 as f64).sum();
    let m: f64 = b.iter().map(|x| x.1 as f64).sum();
    if n == 0.0 || m == 0.0 {
        return 0.0;
    }
    let bm: std::collections::HashMap<&str, u64> =
        b.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let am: std::collections::HashMap<&str, u64> =
        a.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let mut d: f64 = 0.0;
    for (k, c) in a {
        let q = bm.get(k.as_str()).copied().unwrap_or(0);
        d = d.max((*c as f64 / n - q as f64 / m).abs());
    }
    for (k, c) in b {
        if !am.contains_key(k.as_str()) {
            d = d.max(*c as f64 / m);
        }
    }
    select(d, n, m, method)
}

/// Deequ's categorical ChiSquared: Pearson goodness of fit of the window's
/// counts on the baseline's categories against the baseline shares rescaled
/// to the window total, after merging small categories (two categories: every
/// expected count ≥ 10; more: at most 20 % of expected counts < 5; the
/// smallest is merged into the second smallest). Returns the p-value, NaN when
/// fewer than two categories remain.
pub fn categorical_chi_squared(base: &[(String, u64)], window: &[(String, u64)]) -> f64 {
    let wm: std::collections::HashMap<&str, u64> =
        window.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    let mut cells: Vec<(f64, f64)> = base
        .iter()
        .map(|(k, c)| (wm.get(k.as_str()).copied().unwrap_or(0) as f64, *c as f64))
        .collect();
    let (obs, bt): (f64, f64) = cells.iter().fold((0.0, 0.0), |s, c| (s.0 + c.0, s.1 + c.1));
    if bt == 0.0 || obs == 0.0 {
        return f64::NAN;
    }
    for c in cells.iter_mut() {
        c.1 *= obs / bt;
    }
    loop {
        let k = cells.len();
        if k < 2 {
            return f64::NAN;
        }
        let ok = if k == 2 {
            cells.iter().all(|c| c.1 >= 10.0)
        } else {
            cells.iter().filter(|c| c.1 < 5.0).count() as f64 <= 0.2 * k as f64
        };
        if ok {
            break;
        }
        cells.sort_by(|a, b| a.1.total_cmp(&b.1));
        let smallest = cells.remove(0);
        cells[0].0 += smallest.0;
        cells[0].1 += smallest.1;
    }
    let stat: f64 = cells.iter().map(|(o, e)| (o - e) * (o - e) / e).sum();
    chi2_sf(stat, (cells.len() - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: &[f64]) -> KllSketch {
        let mut s = KllSketch::new();
        for &v in values {
            s.update(v);
        }
        s
    }

    fn cats(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(k, c)| (k.to_string(), *c)).collect()
    }

    #[test]
    fn reference_worked_vectors() {
        // baseline {1,2,3,4}, current {3,4,5,6}: simple 0.5, robust 0.0.
        let a = sketch(&[1.0, 2.0, 3.0, 4.0]);
        let b = sketch(&[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(numeric_distance(&a, &b, ComparisonMethod::Simple), 0.5);
        assert_eq!(numeric_distance(&a, &b, ComparisonMethod::Robust), 0.0);
        // n = m = 1000, simple 0.2 → robust 0.2 − 1.8·√0.002 = 0.119502…
        let r = robust(0.2, 1000.0, 1000.0);
        assert_eq!(format!("{r:.6}"), "0.119502");
        assert!(r > 0.1);
        // Categorical a:50,b:50 vs a:80,b:20 → simple 0.3, robust 0.045442.
        let base = cats(&[("a", 50), ("b", 50)]);
        let cur = cats(&[("a", 80), ("b", 20)]);
        let s = categorical_linf(&base, &cur, ComparisonMethod::Simple);
        assert!((s - 0.3).abs() < 1e-15);
        let r = categorical_linf(&base, &cur, ComparisonMethod::Robust);
        assert_eq!(format!("{r:.6}"), "0.045442");
    }

    #[test]
    fn new_categories_count_in_linf() {
        let base = cats(&[("a", 10)]);
        let cur = cats(&[("a", 5), ("z", 5)]);
        assert_eq!(categorical_linf(&base, &cur, ComparisonMethod::Simple), 0.5);
    }

    #[test]
    fn chi_squared_merges_small_categories() {
        // Two categories with a small expected count merge into one: NaN.
        let base = cats(&[("a", 95), ("b", 5)]);
        let cur = cats(&[("a", 90), ("b", 10)]);
        assert!(categorical_chi_squared(&base, &cur).is_nan());
        // Large counts: scipy.stats.chisquare([400, 600], [500, 500]) p = 2.5396285894708634e-10
        let base = cats(&[("a", 500), ("b", 500)]);
        let cur = cats(&[("a", 400), ("b", 600)]);
        let p = categorical_chi_squared(&base, &cur);
        assert!((p - 2.5396285894708634e-10).abs() < 1e-20, "{p}");
    }
}
