//! The drift statistics beyond SageMaker's, each exactly as docs/monitor.md
//! defines it. Numeric samples come as ascending (value, count) runs, so a
//! baseline of a million rows with a few hundred distinct values costs a few
//! hundred steps; categorical samples come as count maps.

use super::special::{chi2_sf, ln_gamma};

/// Ascending (value, count) runs of a numeric sample.
pub type Runs = [(f64, u64)];

/// Collapses an ascending sample into runs.
pub fn runs(sorted: &[f64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for &x in sorted {
        match out.last_mut() {
            Some((v, c)) if *v == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

pub fn total(r: &Runs) -> u64 {
    r.iter().map(|x| x.1).sum()
}

/// Wasserstein-1 distance ∫|F_a − F_b| dx between two empirical distributions
/// (scipy.stats.wasserstein_distance on the raw samples).
pub fn wasserstein(a: &Runs, b: &Runs) -> f64 {
    let (na, nb) = (total(a) as f64, total(b) as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ca, mut cb) = (0u64, 0u64);
    let mut sum = 0.0;
    let mut prev: Option<f64> = None;
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(p), Some(q)) => p.0.min(q.0),
            (Some(p), None) => p.0,
            (None, Some(q)) => q.0,
            (None, None) => break,
        };
        if let Some(p) = prev {
            sum += (ca as f64 / na - cb as f64 / nb).abs() * (x - p);
        }
        if i < a.len() && a[i].0 == x {
            ca += a[i].1;
            i += 1;
        }
        if j < b.len() && b[j].0 == x {
            cb += b[j].1;
            j += 1;
        }
        prev = Some(x);
    }
    sum
}

/// Result of a chi-square test of homogeneity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    pub statistic: f64,
    pub p_value: f64,
    pub dof: u64,
}

/// Pearson's chi-square test of homogeneity on the 2×K table of counts
/// (scipy.stats.chi2_contingency(correction=False)); categories empty in both
/// samples are dropped first. Fewer than two categories: statistic 0, p 1.
pub fn chi_square(a: &[u64], b: &[u64]) -> ChiSquare {
    let cells: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(x, y)| (*x as f64, *y as f64))
        .collect();
    let (na, nb): (f64, f64) = cells.iter().fold((0.0, 0.0), |s, c| (s.0 + c.0, s.1 + c.1));
    let n = na + nb;
    if cells.len() < 2 || na == 0.0 || nb == 0.0 {
        return ChiSquare {
            statistic: 0.0,
            p_value: 1.0,
            dof: 0,
        };
    }
    let mut stat = 0.0;
    for (x, y) in &cells {
        let col = x + y;
        let ea = na * col / n;
        let eb = nb * col / n;
        stat += (x - ea) * (x - ea) / ea + (y - eb) * (y - eb) / eb;
    }
    let dof = cells.len() as u64 - 1;
    ChiSquare {
        statistic: stat,
        p_value: chi2_sf(stat, dof as f64),
        dof,
    }
}

/// The floor for empty bins in the Population Stability Index.
pub const PSI_EPSILON: f64 = 1e-4;

/// Population Stability Index Σ (q_i − p_i)·ln(q_i/p_i) with p the baseline
/// and q the window shares, each share floored at [`PSI_EPSILON`] (natural log).
pub fn psi(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let p = (*x as f64 / na).max(PSI_EPSILON);
            let q = (*y as f64 / nb).max(PSI_EPSILON);
            (q - p) * (q / p).ln()
        })
        .sum()
}

/// Jensen–Shannon distance with log base 2 (in [0, 1]): the square root of
/// ½·KL(p‖m) + ½·KL(q‖m), m = (p+q)/2, 0·log 0 = 0
/// (scipy.spatial.distance.jensenshannon(p, q, base=2)).
pub fn jensen_shannon(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    let mut js = 0.0;
    for (x, y) in a.iter().zip(b) {
        let p = *x as f64 / na;
        let q = *y as f64 / nb;
        let m = (p + q) / 2.0;
        if p > 0.0 {
            js += p * (p / m).ln();
        }
        if q > 0.0 {
            js += q * (q / m).ln();
        }
    }
    (js / 2.0 / std::f64::consts::LN_2).max(0.0).sqrt()
}

/// The k-sample Anderson–Darling test for k = 2 (Scholz & Stephens, midrank
/// version; scipy.stats.anderson_ksamp). The p-value is interpolated from the
/// published critical values and therefore clamped to [0.001, 0.25].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AndersonDarling {
    pub statistic: f64,
    pub p_value: f64,
}

pub fn anderson_darling(a: &Runs, b: &Runs) -> AndersonDarling {
    let samples = [a, b];
    let n = [total(a) as f64, total(b) as f64];
    let nn = n[0] + n[1];
    // Pooled distinct values with their multiplicities.
    let mut pooled: Vec<(f64, f64, f64)> = Vec::with_capacity(a.len() + b.len()); // (value, ca, cb)
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(p), Some(q)) => p.0.min(q.0),
            (Some(p), None) => p.0,
            (None, Some(q)) => q.0,
            (None, None) => break,
        };
        let mut ca = 0.0;
        let mut cb = 0.0;
        if i < a.len() && a[i].0 == x {
            ca = a[i].1 as f64;
            i += 1;
        }
        if j < b.len() && b[j].0 == x {
            cb = b[j].1 as f64;
            j += 1;
        }
        pooled.push((x, ca, cb));
    }
    let _ = samples;
    let mut a2 = 0.0;
    for (s, ns) in n.iter().enumerate() {
        let mut left = 0.0; // pooled count below z_j
        let mut m_left = 0.0; // sample count below z_j
        let mut sum = 0.0;
        for &(_, ca, cb) in &pooled {
            let lj = ca + cb;
            let bj = left + lj / 2.0;
            let fij = if s == 0 { ca } else { cb };
            let mij = m_left + fij - fij / 2.0;
            let denom = bj * (nn - bj) - nn * lj / 4.0;
            sum += lj / nn * (nn * mij - bj * ns).powi(2) / denom;
            left += lj;
            m_left += fij;
        }
        a2 += sum / ns;
    }
    a2 *= (nn - 1.0) / nn;
    // Normalisation (k = 2).
    let k = 2.0;
    let hh = 1.0 / n[0] + 1.0 / n[1];
    let total_n = nn as u64;
    let mut cum = 0.0;
    let mut g = 0.0;
    // hs_cs[i] = Σ_{t=N−1}^{N−1−i} 1/t, divided by (i + 2).
    for (idx, t) in (2..total_n).rev().enumerate() {
        cum += 1.0 / t as f64;
        g += cum / (idx as f64 + 2.0);
    }
    let h = cum + 1.0;
    let aa = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * hh;
    let bb = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * hh - 8.0 * h
        + 4.0 * g
        - 6.0;
    let cc = (6.0 * h + 2.0 * g - 2.0) * k * k
        + (4.0 * h - 4.0 * g + 6.0) * k
        + (2.0 * h - 6.0) * hh
        + 4.0 * h;
    let dd = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigmasq =
        (aa * nn.powi(3) + bb * nn * nn + cc * nn + dd) / ((nn - 1.0) * (nn - 2.0) * (nn - 3.0));
    let m = k - 1.0;
    let stat = (a2 - m) / sigmasq.sqrt();
    const B0: [f64; 7] = [0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085];
    const B1: [f64; 7] = [-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615];
    const B2: [f64; 7] = [-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154];
    const SIG: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
    let crit: Vec<f64> = (0..7)
        .map(|i| B0[i] + B1[i] / m.sqrt() + B2[i] / m)
        .collect();
    let cmin = crit.iter().cloned().fold(f64::INFINITY, f64::min);
    let cmax = crit.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let p = if stat < cmin {
        0.25
    } else if stat > cmax {
        0.001
    } else {
        let ys: Vec<f64> = SIG.iter().map(|s| s.ln()).collect();
        let [c0, c1, c2] = quadratic_fit(&crit, &ys);
        (c0 + c1 * stat + c2 * stat * stat).exp()
    };
    AndersonDarling {
        statistic: stat,
        p_value: p,
    }
}

/// Least-squares y ≈ c0 + c1·x + c2·x² (normal equations on centred x).
fn quadratic_fit(x: &[f64], y: &[f64]) -> [f64; 3] {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for (xi, yi) in x.iter().zip(y) {
        let u = xi - mx;
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                t[k] += p * yi;
            }
            p *= u;
        }
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det3(m);
    let mut c = [0.0f64; 3];
    for (k, ck) in c.iter_mut().enumerate() {
        let mut mk = m;
        for r in 0..3 {
            mk[r][k] = t[r];
        }
        *ck = det3(mk) / d;
    }
    // Back from u = x − mx to x.
    [
        c[0] - c[1] * mx + c[2] * mx * mx,
        c[1] - 2.0 * c[2] * mx,
        c[2],
    ]
}

/// ln C(n, k) (used by tests of the exact KS path counts).
pub fn ln_binomial(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

/// Decile bin edges of a numeric baseline: the order statistics at ranks
/// ⌊i·n/10⌋ (0-based) for i = 1..9, duplicates removed. Bin 0 is
/// (−∞, e₁), bin j is [e_j, e_{j+1}), the last [e_last, ∞).
pub fn decile_edges(baseline: &Runs) -> Vec<f64> {
    let n = total(baseline);
    let mut edges: Vec<f64> = Vec::with_capacity(9);
    for i in 1..10u64 {
        let rank = i * n / 10;
        // The value at 0-based rank `rank`.
        let mut seen = 0u64;
        for &(v, c) in baseline {
            seen += c;
            if seen > rank {
                if edges.last() != Some(&v) {
                    edges.push(v);
                }
                break;
            }
        }
    }
    edges
}

/// Counts of `sample` per bin of `edges`.
pub fn bin_counts(sample: &Runs, edges: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &(v, c) in sample {
        let bin = edges.partition_point(|&e| e <= v);
        counts[bin] += c;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_matches_scipy_example() {
        // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0
        let a = runs(&[0.0, 1.0, 3.0]);
        let b = runs(&[5.0, 6.0, 8.0]);
        assert!((wasserstein(&a, &b) - 5.0).abs() < 1e-15);
        // wasserstein_distance([0, 1], [0, 1, 1, 2]) == 0.5 (?) : F differs by .25 on [1,2) .. and [0,1)
        let a = runs(&[0.0, 1.0]);
        let b = runs(&[0.0, 1.0, 1.0, 2.0]);
        assert!((wasserstein(&a, &b) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn chi_square_two_by_two() {
        // chi2_contingency([[10, 20], [20, 10]], correction=False): 6.666..., p 0.009823
        let r = chi_square(&[10, 20], &[20, 10]);
        assert!((r.statistic - 20.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.dof, 1);
        assert!(
            (r.p_value - 0.009823274507519235).abs() < 1e-12,
            "{}",
            r.p_value
        );
    }

    #[test]
    fn js_and_psi() {
        assert_eq!(jensen_shannon(&[5, 5], &[5, 5]), 0.0);
        assert!((jensen_shannon(&[1, 0], &[0, 1]) - 1.0).abs() < 1e-15);
        assert_eq!(psi(&[5, 5], &[5, 5]), 0.0);
        // One empty window bin: (1e-4 − .5)·ln(1e-4/.5) + (.9999 − .5)·ln(.9999/.5)
        let want = (1e-4 - 0.5) * (1e-4f64 / 0.5).ln() + (1.0 - 0.5) * (1.0f64 / 0.5).ln();
        assert!((psi(&[5, 5], &[0, 10]) - want).abs() < 1e-12);
    }

    #[test]
    fn deciles() {
        let base: Vec<f64> = (0..100).map(f64::from).collect();
        let r = runs(&base);
        assert_eq!(
            decile_edges(&r),
            [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        let c = bin_counts(&r, &decile_edges(&r));
        assert_eq!(c, vec![10; 10]);
        let spiky = runs(
            &[0.0; 95]
                .iter()
                .chain(&[1.0, 2.0, 3.0, 4.0, 5.0])
                .cloned()
                .collect::<Vec<_>>(),
        );
        assert_eq!(decile_edges(&spiky), [0.0]);
    }
}
