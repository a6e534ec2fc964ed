//! A mergeable quantile sketch with bounded relative error (DDSketch-style).
//!
//! Positive values fall into logarithmic bins `(gamma^(i-1), gamma^i]` with
//! `gamma = (1 + ALPHA) / (1 - ALPHA)`; each bin is represented by the value whose
//! relative distance to both edges is `ALPHA`, so every rank query answers within
//! `ALPHA` relative error of the true order statistic. Zero (and values too small to
//! matter) is counted apart. Negative values are not binned: CloudWatch offers no
//! percentile statistics for periods that contain them, and [`crate::Aggregate`]
//! tracks that.
//!
//! Small buckets stay exact: up to [`EXACT_MAX`] distinct values are kept as they
//! are, so percentiles and trimmed statistics of a few hundred points are exact;
//! past that the sketch switches to bins.
//!
//! Two sketches merge by adding bin weights, so per-second buckets roll up into
//! minutes and hours without losing accuracy.

/// Relative accuracy of every quantile answer.
pub const ALPHA: f64 = 0.005;
/// Values below this count as zero.
pub const MIN_POSITIVE: f64 = 1e-9;
/// Distinct values kept exactly before switching to bins.
pub const EXACT_MAX: usize = 128;
/// Dense bins kept at most; past this the lowest bins are collapsed together.
pub const MAX_BINS: usize = 8192;

fn gamma() -> f64 {
    (1.0 + ALPHA) / (1.0 - ALPHA)
}

fn ln_gamma() -> f64 {
    gamma().ln()
}

/// The bin holding `v` (v > MIN_POSITIVE).
#[inline]
pub fn bin_index(v: f64) -> i32 {
    (v.ln() / ln_gamma()).ceil() as i32
}

/// The representative value of bin `i`.
#[inline]
pub fn bin_value(i: i32) -> f64 {
    2.0 * gamma().powi(i) / (gamma() + 1.0)
}

/// Weighted log-binned sketch over non-negative values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    /// Sorted distinct (value, weight) pairs while `binned` is false.
    exact: Vec<(f64, f64)>,
    binned: bool,
    zero: f64,
    offset: i32,
    bins: Vec<f64>,
    total: f64,
}

impl Sketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Total weight of the values added.
    pub fn count(&self) -> f64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0.0
    }

    /// Adds `v` (must be >= 0) with weight `w`.
    pub fn add(&mut self, v: f64, w: f64) {
        if w <= 0.0 {
            return;
        }
        self.total += w;
        if !self.binned {
            match self.exact.binary_search_by(|(x, _)| x.total_cmp(&v)) {
                Ok(k) => self.exact[k].1 += w,
                Err(k) => self.exact.insert(k, (v, w)),
            }
            if self.exact.len() > EXACT_MAX {
                self.switch_to_bins();
            }
            return;
        }
        self.add_binned(v, w);
    }

    fn add_binned(&mut self, v: f64, w: f64) {
        if v < MIN_POSITIVE {
            self.zero += w;
            return;
        }
        let i = bin_index(v);
        self.add_bin(i, w);
    }

    fn add_bin(&mut self, i: i32, w: f64) {
        if self.bins.is_empty() {
            self.offset = i;
            self.bins.push(w);
            return;
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            if grow + self.bins.len() > MAX_BINS {
                // Too wide: fold into the lowest kept bin.
                self.bins[0] += w;
                return;
            }
            let mut nb = vec![0.0; grow];
            nb.extend_from_slice(&self.bins);
            self.bins = nb;
            self.offset = i;
        }
        let mut pos = (i - self.offset) as usize;
        if pos >= MAX_BINS {
            // Too wide: fold the lowest bins so that `i` becomes the top bin.
            let new_offset = i - MAX_BINS as i32 + 1;
            let shift = (new_offset - self.offset) as usize;
            let cut = shift.min(self.bins.len());
            let folded: f64 = self.bins[..cut].iter().sum();
            self.bins.drain(..cut);
            if self.bins.is_empty() {
                self.bins.push(0.0);
            }
            self.bins[0] += folded;
            self.offset = new_offset;
            pos = (i - self.offset) as usize;
        }
        if pos >= self.bins.len() {
            self.bins.resize(pos + 1, 0.0);
        }
        self.bins[pos] += w;
    }

    /// Switches from exact values to bins.
    fn switch_to_bins(&mut self) {
        self.binned = true;
        for (v, w) in std::mem::take(&mut self.exact) {
            self.add_binned(v, w);
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        if !other.binned {
            for (v, w) in &other.exact {
                self.add(*v, *w);
            }
            return;
        }
        if !self.binned {
            self.switch_to_bins();
        }
        self.zero += other.zero;
        self.total += other.zero;
        for (k, w) in other.bins.iter().enumerate() {
            if *w > 0.0 {
                self.total += w;
                self.add_bin(other.offset + k as i32, *w);
            }
        }
    }

    /// Bins in ascending value order as (representative value, weight).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (f64, f64)> + '_> {
        if !self.binned {
            return Box::new(self.exact.iter().copied());
        }
        let zero = (self.zero > 0.0).then_some((0.0, self.zero));
        Box::new(
            zero.into_iter().chain(
                self.bins
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| **w > 0.0)
                    .map(|(k, w)| (bin_value(self.offset + k as i32), *w)),
            ),
        )
    }

    /// The value of the item at 0-based rank `r` (fractional ranks pick the bin
    /// holding rank `floor(r)`).
    fn value_at_rank(&self, r: f64) -> f64 {
        let mut cum = 0.0;
        let mut last = 0.0;
        for (v, w) in self.iter() {
            cum += w;
            last = v;
            if cum > r {
                return v;
            }
        }
        last
    }

    /// The `q`-quantile (0..=1), interpolated between neighbouring ranks the way
    /// numpy's default `linear` method does.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * (self.total - 1.0).max(0.0);
        let lo = rank.floor();
        let frac = rank - lo;
        let a = self.value_at_rank(lo);
        if frac == 0.0 {
            return Some(a);
        }
        let b = self.value_at_rank(lo + 1.0);
        Some(a + frac * (b - a))
    }

    /// Appends a compact binary form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if !self.binned {
            // Tag 2: every weight is 1, so only values are written.
            let unit = self.exact.iter().all(|(_, w)| *w == 1.0);
            out.push(if unit { 2 } else { 0 });
            out.extend_from_slice(&(self.exact.len() as u32).to_le_bytes());
            for (v, w) in &self.exact {
                out.extend_from_slice(&v.to_le_bytes());
                if !unit {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
            return;
        }
        out.push(1);
        out.extend_from_slice(&self.zero.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        let nonzero = self.bins.iter().filter(|w| **w > 0.0).count() as u32;
        out.extend_from_slice(&nonzero.to_le_bytes());
        for (k, w) in self.bins.iter().enumerate() {
            if *w > 0.0 {
                out.extend_from_slice(&(k as u32).to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
    }

    /// Reads what [`Sketch::encode`] wrote; `None` on malformed bytes.
    pub fn decode(buf: &mut &[u8]) -> Option<Sketch> {
        let (&tag, rest) = buf.split_first()?;
        *buf = rest;
        if tag == 0 || tag == 2 {
            let unit = tag == 2;
            let n = take_u32(buf)? as usize;
            if n > EXACT_MAX || buf.len() < n * if unit { 8 } else { 16 } {
                return None;
            }
            let mut s = Sketch::new();
            for _ in 0..n {
                let v = take_f64(buf)?;
                let w = if unit { 1.0 } else { take_f64(buf)? };
                if !v.is_finite() || !w.is_finite() || v < 0.0 {
                    return None;
                }
                s.add(v, w);
            }
            return Some(s);
        }
        if tag != 1 {
            return None;
        }
        let zero = take_f64(buf)?;
        let offset = take_u32(buf)? as i32;
        let n = take_u32(buf)? as usize;
        if n > MAX_BINS || buf.len() < n * 12 {
            return None;
        }
        let mut s = Sketch {
            exact: Vec::new(),
            binned: true,
            zero,
            offset,
            bins: Vec::new(),
            total: zero,
        };
        for _ in 0..n {
            let k = take_u32(buf)? as usize;
            let w = take_f64(buf)?;
            if k >= MAX_BINS || !w.is_finite() {
                return None;
            }
            if s.bins.len() <= k {
                s.bins.resize(k + 1, 0.0);
            }
            s.bins[k] += w;
            s.total += w;
        }
        Some(s)
    }
}

pub(crate) fn take_u32(buf: &mut &[u8]) -> Option<u32> {
    let (head, rest) = buf.split_first_chunk::<4>()?;
    *buf = rest;
    Some(u32::from_le_bytes(*head))
}

pub(crate) fn take_f64(buf: &mut &[u8]) -> Option<f64> {
    let (head, rest) = buf.split_first_chunk::<8>()?;
    *buf = rest;
    Some(f64::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        let h = q * (sorted.len() - 1) as f64;
        let lo = h.floor() as usize;
        let hi = h.ceil() as usize;
        sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
    }

    #[test]
    fn quantiles_stay_within_relative_error() {
        // Deterministic spread over six orders of magnitude.
        let mut x: u64 = 88172645463325252;
        let mut vals = Vec::new();
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            vals.push(10f64.powf(u * 6.0 - 2.0));
        }
        let mut s = Sketch::new();
        for v in &vals {
            s.add(*v, 1.0);
        }
        vals.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let want = exact_quantile(&vals, q);
            let got = s.quantile(q).unwrap();
            assert!(
                ((got - want) / want).abs() <= ALPHA * 1.0001,
                "q={q} got={got} want={want}"
            );
        }
    }

    #[test]
    fn merge_equals_adding_everything_to_one_sketch() {
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        let mut all = Sketch::new();
        for i in 1..500 {
            let v = i as f64 * 0.37;
            if i % 2 == 0 {
                a.add(v, 1.0)
            } else {
                b.add(v, 2.0)
            }
            all.add(v, if i % 2 == 0 { 1.0 } else { 2.0 });
        }
        a.add(0.0, 3.0);
        all.add(0.0, 3.0);
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        for q in [0.1, 0.5, 0.77, 0.99] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut s = Sketch::new();
        for v in [0.0, 1.0, 2.5, 1000.0, 1000.0] {
            s.add(v, 1.0);
        }
        let mut buf = Vec::new();
        s.encode(&mut buf);
        let back = Sketch::decode(&mut buf.as_slice()).unwrap();
        assert_eq!(back.count(), 5.0);
        assert_eq!(back.quantile(0.5), s.quantile(0.5));
        assert_eq!(buf[0], 0, "a repeated value has weight 2");
        let mut unit = Sketch::new();
        for v in [1.0, 2.0, 3.0] {
            unit.add(v, 1.0);
        }
        let mut ubuf = Vec::new();
        unit.encode(&mut ubuf);
        assert_eq!((ubuf[0], ubuf.len()), (2, 1 + 4 + 3 * 8));
        assert_eq!(Sketch::decode(&mut ubuf.as_slice()), Some(unit));
        assert!(Sketch::decode(&mut &buf[..buf.len() - 3]).is_none());
    }

    #[test]
    fn very_wide_ranges_stay_bounded() {
        let mut s = Sketch::new();
        for i in 0..EXACT_MAX {
            s.add(1.0 + i as f64, 1.0);
        }
        s.add(1e-8, 1.0);
        s.add(1e100, 1.0);
        assert!(s.binned);
        assert!(s.bins.len() <= MAX_BINS);
        assert_eq!(s.count(), EXACT_MAX as f64 + 2.0);
        let top = s.quantile(1.0).unwrap();
        assert!((top / 1e100 - 1.0).abs() <= ALPHA * 1.0001);
    }
}
