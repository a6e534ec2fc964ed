//! Time helpers: AWS's timestamp display format and the periods of `bin()`,
//! `datefloor()` and `dateceil()` ([`Period`]).
//!
//! Fixed periods (ms, s, m, h, d) floor to multiples since the Unix epoch; weeks start on
//! Monday 00:00 UTC; months, quarters and years floor on the UTC calendar.

use std::fmt::Write as _;

const MS_PER_DAY: i64 = 86_400_000;
/// 1970-01-05, the first Monday after the epoch, in milliseconds.
const MONDAY_OFFSET_MS: i64 = 4 * MS_PER_DAY;

/// A `bin()` / `datefloor()` period such as `5m` or `1mo`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Period {
    /// A fixed length in milliseconds (always positive), aligned at `offset` ms.
    Fixed { ms: i64, offset: i64 },
    /// A whole number of calendar months (always positive).
    Months(i64),
}

impl Period {
    /// Builds a period from a count and a unit as written in a query (`5`, `m`);
    /// `None` for an unknown unit, a count that is not positive, or fractional months.
    pub(crate) fn new(count: f64, unit: &str) -> Option<Period> {
        if !(count.is_finite() && count > 0.0) {
            return None;
        }
        let unit_ms: f64 = match unit {
            "ms" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
            "d" | "day" | "days" => MS_PER_DAY as f64,
            "w" | "week" | "weeks" => {
                let ms = count * 7.0 * MS_PER_DAY as f64;
                return fixed(ms, MONDAY_OFFSET_MS);
            }
            "mo" | "month" | "months" | "q" | "quarter" | "quarters" | "y" | "year" | "years" => {
                if count.fract() != 0.0 || count > 1e6 {
                    return None;
                }
                let per = match unit.as_bytes().first() {
                    Some(b'q') => 3,
                    Some(b'y') => 12,
                    _ => 1,
                };
                return Some(Period::Months(count as i64 * per));
            }
            _ => return None,
        };
        fixed(count * unit_ms, 0)
    }

    /// The start of the period holding `ts` (epoch ms).
    pub(crate) fn floor(&self, ts: i64) -> i64 {
        match *self {
            Period::Fixed { ms, offset } => {
                let shifted = ts.saturating_sub(offset);
                shifted
                    .div_euclid(ms)
                    .saturating_mul(ms)
                    .saturating_add(offset)
            }
            Period::Months(n) => {
                let (y, m, _) = civil_from_days(ts.div_euclid(MS_PER_DAY));
                let index = y * 12 + i64::from(m) - 1;
                let floored = index.div_euclid(n) * n;
                let days = days_from_civil(floored.div_euclid(12), floored.rem_euclid(12) + 1, 1);
                days.saturating_mul(MS_PER_DAY)
            }
        }
    }

    /// The end of the period holding `ts`, or `ts` itself when it starts a period.
    pub(crate) fn ceil(&self, ts: i64) -> i64 {
        let floor = self.floor(ts);
        if floor == ts {
            return ts;
        }
        match *self {
            Period::Fixed { ms, .. } => floor.saturating_add(ms),
            Period::Months(n) => {
                let (y, m, _) = civil_from_days(floor.div_euclid(MS_PER_DAY));
                let index = y * 12 + i64::from(m) - 1 + n;
                days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1)
                    .saturating_mul(MS_PER_DAY)
            }
        }
    }
}

fn fixed(ms: f64, offset: i64) -> Option<Period> {
    // At least one millisecond, and small enough to stay an exact i64.
    if !(1.0..=1e17).contains(&ms) {
        return None;
    }
    Some(Period::Fixed {
        ms: ms as i64,
        offset,
    })
}

/// `2024-01-02 03:04:05.678`: how Logs Insights shows `@timestamp` (UTC).
pub fn format_timestamp(ms: i64) -> String {
    let mut out = String::with_capacity(23);
    write_timestamp(&mut out, ms);
    out
}

/// Appends [`format_timestamp`]'s text to `out`.
pub(crate) fn write_timestamp(out: &mut String, ms: i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}"
    );
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// Days since 1970-01-01 of a (year, month 1-12, day) date.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000");
        // 2024-01-02T03:04:05.678Z
        assert_eq!(
            format_timestamp(1_704_164_645_678),
            "2024-01-02 03:04:05.678"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999");
        assert_eq!(format_timestamp(951_782_400_000), "2000-02-29 00:00:00.000");
    }

    #[test]
    fn civil_round_trips() {
        for days in [-800_000, -1, 0, 59, 365, 11_016, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }

    #[test]
    fn fixed_periods_floor_and_ceil() {
        let p = Period::new(5.0, "m").expect("valid");
        let ts = 1_704_164_645_678; // 03:04:05.678
        assert_eq!(format_timestamp(p.floor(ts)), "2024-01-02 03:00:00.000");
        assert_eq!(format_timestamp(p.ceil(ts)), "2024-01-02 03:05:00.000");
        assert_eq!(p.ceil(p.floor(ts)), p.floor(ts));
        let h = Period::new(1.0, "h").expect("valid");
        assert_eq!(format_timestamp(h.floor(ts)), "2024-01-02 03:00:00.000");
    }

    #[test]
    fn calendar_periods() {
        let ts = 1_704_164_645_678; // 2024-01-02 (a Tuesday)
        let w = Period::new(1.0, "w").expect("valid");
        assert_eq!(format_timestamp(w.floor(ts)), "2024-01-01 00:00:00.000");
        let mo = Period::new(1.0, "mo").expect("valid");
        assert_eq!(format_timestamp(mo.floor(ts)), "2024-01-01 00:00:00.000");
        assert_eq!(format_timestamp(mo.ceil(ts)), "2024-02-01 00:00:00.000");
        let q = Period::new(1.0, "q").expect("valid");
        let may = 1_715_000_000_000; // 2024-05-06
        assert_eq!(format_timestamp(q.floor(may)), "2024-04-01 00:00:00.000");
        let y = Period::new(1.0, "y").expect("valid");
        assert_eq!(format_timestamp(y.floor(may)), "2024-01-01 00:00:00.000");
    }

    #[test]
    fn rejects_bad_periods() {
        assert!(Period::new(0.0, "m").is_none());
        assert!(Period::new(1.0, "fortnight").is_none());
        assert!(Period::new(1.5, "mo").is_none());
        assert!(Period::new(0.1, "ms").is_none());
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        for ts in [i64::MIN, i64::MAX, i64::MIN / 2] {
            let _ = format_timestamp(ts);
            for (c, u) in [(1.0, "mo"), (7.0, "d"), (1.0, "w"), (3.0, "y")] {
                let p = Period::new(c, u).expect("valid");
                let _ = p.floor(ts);
                let _ = p.ceil(ts);
            }
        }
    }
}
