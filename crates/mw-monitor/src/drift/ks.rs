//! The two-sample Kolmogorov–Smirnov test, two-sided, as
//! `scipy.stats.ks_2samp(method='auto')` computes it: D = max |F₁ − F₂| over
//! the pooled sample (ties handled by right-continuous ECDFs); the p-value is
//! exact (Hodges' lattice-path counting, the inside method with Viehmann's
//! 1 − p recursion, or the square method when n₁ = n₂) when max(n₁, n₂) ≤
//! 10,000, and otherwise `kstwo.sf(D, round(n₁n₂/(n₁+n₂)))`.

use super::special::kstwo_sf;

/// Samples at or below this size get the exact p-value (scipy's MAX_AUTO_N).
pub const MAX_EXACT_N: usize = 10_000;

/// The KS statistic and p-value; `exact` says which p-value method ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    pub exact: bool,
}

/// D over two ascending samples (NaN-free).
pub fn statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n1 - j as f64 / n2).abs());
    }
    d
}

/// D for two samples given as sorted (value, count) runs.
pub fn statistic_runs(a: &[(f64, u64)], b: &[(f64, u64)]) -> f64 {
    let n1: u64 = a.iter().map(|r| r.1).sum();
    let n2: u64 = b.iter().map(|r| r.1).sum();
    let (mut i, mut j) = (0usize, 0usize);
    let (mut c1, mut c2) = (0u64, 0u64);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        let x = a[i].0.min(b[j].0);
        if a[i].0 <= x {
            c1 += a[i].1;
            i += 1;
        }
        if b[j].0 <= x {
            c2 += b[j].1;
            j += 1;
        }
        d = d.max((c1 as f64 / n1 as f64 - c2 as f64 / n2 as f64).abs());
    }
    d
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The two-sided p-value for statistic `d` with sample sizes n1, n2.
pub fn p_value(d: f64, n1: usize, n2: usize) -> KsResult {
    if n1 == 0 || n2 == 0 {
        return KsResult {
            statistic: d,
            p_value: f64::NAN,
            exact: false,
        };
    }
    if n1.max(n2) <= MAX_EXACT_N {
        let g = gcd(n1 as u64, n2 as u64);
        let lcm = (n1 as u64 / g) * n2 as u64;
        let h = (d * lcm as f64).round_ties_even() as u64;
        let d_exact = h as f64 / lcm as f64;
        if h == 0 {
            return KsResult {
                statistic: d_exact,
                p_value: 1.0,
                exact: true,
            };
        }
        let p = if n1 == n2 {
            prob_outside_square(n1 as u64, h)
        } else {
            outer_prob_inside(n1 as u64, n2 as u64, g, h)
        };
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            return KsResult {
                statistic: d_exact,
                p_value: p,
                exact: true,
            };
        }
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    KsResult {
        statistic: d,
        p_value: kstwo_sf(en.round_ties_even() as u64, d).clamp(0.0, 1.0),
        exact: false,
    }
}

/// The full test over two ascending samples.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> KsResult {
    p_value(statistic(a, b), a.len(), b.len())
}

fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    let (nf, hf) = (n as f64, h as f64);
    while k >= 0 {
        let kf = k as f64;
        let mut p1 = 1.0;
        for j in 0..h {
            let jf = j as f64;
            p1 = (nf - kf * hf - jf) * p1 / (nf + kf * hf + jf + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = (m / g, n / g);
    let (m, n, mg, ng, h) = (m as i64, n as i64, mg as i64, ng as i64, h as i64);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for x in &mut a[minj as usize..maxj as usize] {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (((ng * i - h) as f64 / mg as f64).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let (fi, w) = (i as f64, (maxj - minj) as usize);
        for jj in 0..w {
            let j = jj as i64 + minj;
            val =
                (a[(jj as i64 + minj - lastminj) as usize] * fi + val * j as f64) / (fi + j as f64);
            a[jj] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            for x in &mut a[from..to] {
                *x = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistic_with_ties() {
        let a = [1.0, 2.0, 2.0, 3.0];
        let b = [2.0, 3.0, 4.0, 5.0];
        // ECDFs at 1: .25 vs 0; at 2: .75 vs .25; at 3: 1 vs .5.
        assert_eq!(statistic(&a, &b), 0.5);
        let ra = [(1.0, 1), (2.0, 2), (3.0, 1)];
        let rb = [(2.0, 1), (3.0, 1), (4.0, 1), (5.0, 1)];
        assert_eq!(statistic_runs(&ra, &rb), 0.5);
    }

    #[test]
    fn exact_small_samples_match_scipy() {
        // scipy.stats.ks_2samp([1,2,3,4],[3,4,5,6]) -> D=0.5, p=0.7714285714285716
        let r = ks_2samp(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(r.statistic, 0.5);
        assert!(
            (r.p_value - 0.7714285714285716).abs() < 1e-12,
            "{}",
            r.p_value
        );
        // Unequal sizes: ks_2samp([0,1,2,3,4,5],[2.5,3.5,4.5,5.5,6.5,7.5,8.5])
        // -> D=0.5714285714285714, p=0.14685314685314685
        let r = ks_2samp(
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            &[2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5],
        );
        assert!((r.statistic - 4.0 / 7.0).abs() < 1e-15);
        assert!(
            (r.p_value - 0.14685314685314685).abs() < 1e-12,
            "{}",
            r.p_value
        );
    }
}
