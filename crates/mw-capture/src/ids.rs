//! Random numbers for sampling and event ids, without a random-number crate.
//!
//! One process-wide SplitMix64 sequence: each call advances an atomic counter
//! by the golden-ratio increment and mixes it, which is lock-free and passes
//! the usual statistical tests. The seed comes from the standard library's
//! per-process random hash keys, the clock and the process id. None of this is
//! cryptographic: event ids only need to be unique, samples only uniform.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn state() -> &'static AtomicU64 {
    static STATE: OnceLock<AtomicU64> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        AtomicU64::new(h.finish())
    })
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly distributed 64-bit number.
pub fn next_u64() -> u64 {
    mix(state()
        .fetch_add(GOLDEN, Ordering::Relaxed)
        .wrapping_add(GOLDEN))
}

/// A random (version 4) UUID in its 36-character text form.
pub fn uuid_v4() -> String {
    let b = uuid_v4_bytes();
    // Hex digits and dashes only.
    b.iter().map(|&c| c as char).collect()
}

/// [`uuid_v4`] without an allocation: the 36 ASCII bytes.
pub fn uuid_v4_bytes() -> [u8; 36] {
    let hi = next_u64();
    let lo = next_u64();
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    uuid_text(hi, lo)
}

/// The text form of the 128 bits `hi`, `lo`: 8-4-4-4-12 lowercase hex digits.
fn uuid_text(hi: u64, lo: u64) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut i = 0;
    for (n, v) in [(16, hi), (16, lo)] {
        for k in (0..n).rev() {
            if matches!(i, 8 | 13 | 18 | 23) {
                i += 1;
            }
            out[i] = HEX[((v >> (k * 4)) & 0xF) as usize];
            i += 1;
        }
    }
    out
}

/// Bernoulli sampling at a fixed percentage (SageMaker's
/// `InitialSamplingPercentage`, here any value in 0–100).
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    /// A draw below this is sampled; `None` means always.
    threshold: Option<u64>,
    never: bool,
}

impl Sampler {
    /// `percent` is clamped to 0–100.
    pub fn new(percent: f64) -> Sampler {
        let p = if percent.is_nan() {
            0.0
        } else {
            percent.clamp(0.0, 100.0)
        };
        if p >= 100.0 {
            return Sampler {
                threshold: None,
                never: false,
            };
        }
        Sampler {
            threshold: Some((p / 100.0 * u64::MAX as f64) as u64),
            never: p <= 0.0,
        }
    }

    /// Whether this request is captured.
    pub fn sample(&self) -> bool {
        if self.never {
            return false;
        }
        match self.threshold {
            None => true,
            Some(t) => next_u64() < t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let u = uuid_v4();
            assert_eq!(u.len(), 36);
            assert_eq!(&u[14..15], "4", "{u}");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
            assert!(seen.insert(u));
        }
    }

    #[test]
    fn uuid_text_is_8_4_4_4_12_hex() {
        for (hi, lo) in [
            (0u64, 0u64),
            (u64::MAX, u64::MAX),
            (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
            (next_u64(), next_u64()),
        ] {
            let want = format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                hi >> 32,
                (hi >> 16) & 0xFFFF,
                hi & 0xFFFF,
                lo >> 48,
                lo & 0xFFFF_FFFF_FFFF
            );
            assert_eq!(std::str::from_utf8(&uuid_text(hi, lo)).unwrap(), want);
        }
    }

    #[test]
    fn sampling_rate_is_within_tolerance() {
        for pct in [0.0, 1.0, 30.0, 50.0, 99.0, 100.0] {
            let s = Sampler::new(pct);
            let n = 200_000;
            let hits = (0..n).filter(|_| s.sample()).count() as f64;
            let p = pct / 100.0;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (hits - n as f64 * p).abs() <= 5.0 * sd + 0.5,
                "{pct}%: {hits} of {n}"
            );
        }
    }

    #[test]
    fn out_of_range_percentages_clamp() {
        assert!(!Sampler::new(-5.0).sample());
        assert!(!Sampler::new(f64::NAN).sample());
        assert!(Sampler::new(250.0).sample());
    }
}
