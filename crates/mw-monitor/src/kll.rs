//! Deequ's KLL quantile sketch (`QuantileNonSample` with `NonSampleCompactor`),
//! as Model Monitor serialises it in statistics.json.
//!
//! Levels h = 0, 1, … hold items of weight 2^h; new values enter level 0.
//! capacity(h) = 2·(⌈k·c^h / 2⌉ + 1); when the total size exceeds the sum of
//! the capacities of the existing levels, the lowest level at or above its own
//! capacity is compacted into the next one (sorted, every other item kept,
//! alternating offsets 0, 1, 1, 0, 0, 1, …; an odd last item stays behind).
//! The sketch is deterministic and exact (raw values) below 2,051 values.

/// Deequ's shrinking factor.
pub const C: f64 = 0.64;
/// Deequ's sketch size.
pub const K: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
struct Compactor {
    buffer: Vec<f64>,
    num_compactions: u64,
    offset: usize,
}

impl Compactor {
    fn new() -> Compactor {
        Compactor {
            buffer: Vec::new(),
            num_compactions: 0,
            offset: 0,
        }
    }

    /// Halves the buffer; returns the items promoted to the next level.
    fn compact(&mut self, out: &mut Vec<f64>) {
        let len = self.buffer.len() - self.buffer.len() % 2;
        if self.num_compactions % 2 == 1 {
            self.offset = 1 - self.offset;
        }
        let tail = if self.buffer.len() % 2 == 1 {
            self.buffer.last().copied()
        } else {
            None
        };
        let head = &mut self.buffer[..len];
        head.sort_unstable_by(f64::total_cmp);
        out.extend(head.iter().skip(self.offset).step_by(2));
        self.buffer.clear();
        self.buffer.extend(tail);
        self.num_compactions += 1;
    }
}

/// A KLL sketch with Deequ's parameters (k = 2048, c = 0.64).
#[derive(Debug, Clone, PartialEq)]
pub struct KllSketch {
    k: usize,
    c: f64,
    levels: Vec<Compactor>,
    size: usize,
    max_size: usize,
}

impl Default for KllSketch {
    fn default() -> Self {
        KllSketch::new()
    }
}

impl KllSketch {
    pub fn new() -> KllSketch {
        KllSketch::with_parameters(K, C)
    }

    pub fn with_parameters(k: usize, c: f64) -> KllSketch {
        let mut s = KllSketch {
            k,
            c,
            levels: vec![Compactor::new()],
            size: 0,
            max_size: 0,
        };
        s.max_size = s.total_capacity();
        s
    }

    fn capacity(&self, h: usize) -> usize {
        let raw = (self.k as f64 * self.c.powi(h as i32) / 2.0).ceil() as usize;
        2 * (raw + 1)
    }

    fn total_capacity(&self) -> usize {
        (0..self.levels.len()).map(|h| self.capacity(h)).sum()
    }

    pub fn update(&mut self, x: f64) {
        self.levels[0].buffer.push(x);
        self.size += 1;
        if self.size > self.max_size {
            self.condense();
        }
    }

    fn condense(&mut self) {
        for h in 0..self.levels.len() {
            if self.levels[h].buffer.len() >= self.capacity(h) {
                if h + 1 == self.levels.len() {
                    self.levels.push(Compactor::new());
                    self.max_size = self.total_capacity();
                }
                let mut promoted = Vec::with_capacity(self.levels[h].buffer.len() / 2 + 1);
                self.levels[h].compact(&mut promoted);
                self.levels[h + 1].buffer.extend_from_slice(&promoted);
                self.size = self.levels.iter().map(|l| l.buffer.len()).sum();
                return;
            }
        }
    }

    /// Rebuilds a sketch from its serialised levels (level 0 first).
    pub fn from_levels(k: usize, c: f64, data: Vec<Vec<f64>>) -> KllSketch {
        let mut s = KllSketch::with_parameters(k, c);
        s.levels = data
            .into_iter()
            .map(|buffer| Compactor {
                buffer,
                num_compactions: 0,
                offset: 0,
            })
            .collect();
        if s.levels.is_empty() {
            s.levels.push(Compactor::new());
        }
        s.size = s.levels.iter().map(|l| l.buffer.len()).sum();
        s.max_size = s.total_capacity();
        s
    }

    /// The per-level buffers, as statistics.json's `sketch.data`.
    pub fn levels(&self) -> Vec<Vec<f64>> {
        self.levels.iter().map(|l| l.buffer.clone()).collect()
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn c(&self) -> f64 {
        self.c
    }

    /// Total weight (number of values the sketch stands for).
    pub fn weight(&self) -> f64 {
        self.levels
            .iter()
            .enumerate()
            .map(|(h, l)| l.buffer.len() as f64 * 2f64.powi(h as i32))
            .sum()
    }

    /// The (item, weight) pairs sorted by item, with cumulative weights merged
    /// per distinct item: the rank map of Deequ's `Distance`.
    pub fn cdf_points(&self) -> RankMap {
        let mut items: Vec<(f64, f64)> = Vec::with_capacity(self.size);
        for (h, l) in self.levels.iter().enumerate() {
            let w = 2f64.powi(h as i32);
            items.extend(l.buffer.iter().map(|&x| (x, w)));
        }
        items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut keys = Vec::with_capacity(items.len());
        let mut ranks = Vec::with_capacity(items.len());
        let mut cum = 0.0;
        for (x, w) in items {
            cum += w;
            if keys.last() == Some(&x) {
                if let Some(r) = ranks.last_mut() {
                    *r = cum;
                }
            } else {
                keys.push(x);
                ranks.push(cum);
            }
        }
        RankMap {
            keys,
            ranks,
            total: cum,
        }
    }
}

/// Sorted distinct items with their inclusive cumulative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct RankMap {
    pub keys: Vec<f64>,
    pub ranks: Vec<f64>,
    pub total: f64,
}

impl RankMap {
    /// Σ weights of items ≤ x.
    pub fn rank_inclusive(&self, x: f64) -> f64 {
        let i = self.keys.partition_point(|&k| k <= x);
        if i == 0 {
            0.0
        } else {
            self.ranks[i - 1]
        }
    }

    /// Σ weights of items < x.
    pub fn rank_exclusive(&self, x: f64) -> f64 {
        let i = self.keys.partition_point(|&k| k < x);
        if i == 0 {
            0.0
        } else {
            self.ranks[i - 1]
        }
    }
}

/// One of the ten equal-width histogram buckets of statistics.json.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub lower_bound: f64,
    pub upper_bound: f64,
    pub count: f64,
}

/// The initial minimum of Deequ's KLL aggregation (`Int.MaxValue.toDouble`).
pub const AGGREGATION_MIN_START: f64 = 2_147_483_647.0;
/// The initial maximum of Deequ's KLL aggregation (`Int.MinValue.toDouble`).
pub const AGGREGATION_MAX_START: f64 = -2_147_483_648.0;

/// The range the ten buckets span, from a column's true min and max.
///
/// Deequ's KLL aggregation tracks its own minimum and maximum, starting from
/// 2147483647.0 and −2147483648.0, and the buckets span those: a column whose
/// values all lie above 2³¹ − 1 (epoch milliseconds, large ids) gets buckets
/// from 2147483647.0, one whose values all lie below −2³¹ buckets up to
/// −2147483648.0. statistics.json's `min` and `max` stay the true ones (they
/// come from Deequ's Minimum and Maximum analyzers).
pub fn bucket_range(min: f64, max: f64) -> (f64, f64) {
    (
        min.min(AGGREGATION_MIN_START),
        max.max(AGGREGATION_MAX_START),
    )
}

/// SageMaker's ten buckets over [min, max]: bound i is `min + (max − min)·i/10`
/// in IEEE double, in that order; bucket i < 9 counts rankExclusive(hi) −
/// rankExclusive(lo), the last counts rankInclusive(max) − rankExclusive(lo).
pub fn buckets(ranks: &RankMap, min: f64, max: f64) -> Vec<Bucket> {
    let bound = |i: usize| min + (max - min) * i as f64 / 10.0;
    (0..10)
        .map(|i| {
            let lo = bound(i);
            let hi = bound(i + 1);
            let count = if i < 9 {
                ranks.rank_exclusive(hi) - ranks.rank_exclusive(lo)
            } else {
                ranks.rank_inclusive(max) - ranks.rank_exclusive(lo)
            };
            Bucket {
                lower_bound: lo,
                upper_bound: hi,
                count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities() {
        let s = KllSketch::new();
        assert_eq!(
            (0..3).map(|h| s.capacity(h)).collect::<Vec<_>>(),
            [2050, 1314, 842]
        );
    }

    #[test]
    fn exact_below_2051_values() {
        let mut s = KllSketch::new();
        for i in 0..2050 {
            s.update((i * 7 % 2050) as f64);
        }
        assert_eq!(s.levels().len(), 1);
        assert_eq!(s.levels()[0].len(), 2050);
        assert_eq!(s.levels()[0][1], 7.0, "level 0 keeps arrival order");
        s.update(5000.0);
        assert_eq!(s.levels().len(), 2);
        assert_eq!(s.levels()[0], vec![5000.0]);
        assert_eq!(s.levels()[1].len(), 1025);
        assert_eq!(s.weight(), 2051.0);
    }

    #[test]
    fn reference_level_sizes_for_5000_values() {
        // The reference port: 5000 values end with levels of 610 and 2195 items
        // and the total weight preserved.
        let mut s = KllSketch::new();
        for i in 0..5000u64 {
            s.update(((i * 2_654_435_761) % 10_007) as f64 / 10_007.0);
        }
        let sizes: Vec<usize> = s.levels().iter().map(Vec::len).collect();
        assert_eq!(sizes, [610, 2195]);
        assert_eq!(s.weight(), 5000.0);
    }

    #[test]
    fn offsets_alternate_0_1_1_0() {
        let mut c = Compactor::new();
        let mut offsets = Vec::new();
        for _ in 0..8 {
            c.buffer = vec![1.0, 2.0];
            let mut out = Vec::new();
            c.compact(&mut out);
            offsets.push(if out == [1.0] { 0 } else { 1 });
        }
        assert_eq!(offsets, [0, 1, 1, 0, 0, 1, 1, 0]);
    }

    #[test]
    fn ranks_and_buckets() {
        let mut s = KllSketch::new();
        for x in [1.0, 2.0, 2.0, 3.0, 10.0] {
            s.update(x);
        }
        let r = s.cdf_points();
        assert_eq!(r.rank_inclusive(2.0), 3.0);
        assert_eq!(r.rank_exclusive(2.0), 1.0);
        let b = buckets(&r, 1.0, 10.0);
        assert_eq!(b.len(), 10);
        assert_eq!(b[0].lower_bound, 1.0);
        assert_eq!(b[9].upper_bound, 10.0);
        assert_eq!(b.iter().map(|b| b.count).sum::<f64>(), 5.0);
        assert_eq!(b[9].count, 1.0, "the max lands in the last bucket");
        assert_eq!(b[1].count, 2.0, "both 2s lie in [1.9, 2.8)");
        assert_eq!(b[2].count, 1.0, "3 lies in [2.8, 3.7)");
    }
}
