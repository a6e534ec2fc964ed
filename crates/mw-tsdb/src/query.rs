//! CloudWatch's query rules: which stored resolution serves a period, how the
//! start time is rounded, and how buckets fold into periods.

use crate::agg::Aggregate;
use crate::error::{Error, Result};
use crate::store::MetricBackend;
use std::collections::BTreeMap;

const HOUR: i64 = 3600;
const DAY: i64 = 86400;

/// A resolved period query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Read 1-second buckets (periods under a minute) or 60 s and coarser.
    pub fine: bool,
    /// First period start (epoch seconds), inclusive.
    pub start: i64,
    /// End (epoch seconds), exclusive.
    pub end: i64,
    pub period: i64,
}

impl Plan {
    /// How many periods the plan spans.
    pub fn periods(&self) -> i64 {
        if self.end <= self.start {
            0
        } else {
            (self.end - self.start + self.period - 1) / self.period
        }
    }
}

/// Checks a Period value: 1, 5, 10, 20, 30 or a multiple of 60.
pub fn validate_period(period: i64) -> Result<()> {
    let ok = matches!(period, 1 | 5 | 10 | 20 | 30) || (period >= 60 && period % 60 == 0);
    if !ok || period > 86400 * 455 {
        return Err(Error::InvalidParameter(format!(
            "The parameter Period must be 1, 5, 10, 20, 30, or a multiple of 60; got {period}."
        )));
    }
    Ok(())
}

/// Plans a query over `[start_ms, end_ms)` at `period` seconds as of `now_ms`.
/// `None` means CloudWatch would answer with no data (e.g. 10 s periods more than
/// three hours back).
pub fn plan(start_ms: i64, end_ms: i64, period: i64, now_ms: i64) -> Result<Option<Plan>> {
    validate_period(period)?;
    if start_ms >= end_ms {
        return Err(Error::InvalidParameter(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    let start = start_ms.div_euclid(1000);
    let end = (end_ms + 999).div_euclid(1000);
    let age = now_ms.div_euclid(1000) - start;
    if period < 60 {
        if age > 3 * HOUR {
            return Ok(None);
        }
        return Ok(Some(Plan {
            fine: true,
            start: start - start.rem_euclid(period),
            end,
            period,
        }));
    }
    let unit = if age > 63 * DAY {
        HOUR
    } else if age > 15 * DAY {
        300
    } else {
        60
    };
    if period % unit != 0 {
        return Ok(None);
    }
    Ok(Some(Plan {
        fine: false,
        start: start - start.rem_euclid(unit),
        end,
        period,
    }))
}

/// Reads `ids` and merges their buckets per period: period start → aggregate.
pub fn fetch(
    store: &dyn MetricBackend,
    ids: &[u32],
    plan: &Plan,
) -> Result<BTreeMap<i64, Aggregate>> {
    let rows = store.read(ids, plan.fine, plan.start, plan.end)?;
    Ok(by_period(rows, plan))
}

/// [`fetch`] for many `(ids, plan)` pairs in one store pass.
pub fn fetch_many(
    store: &dyn MetricBackend,
    reads: &[(&[u32], Plan)],
) -> Result<Vec<BTreeMap<i64, Aggregate>>> {
    let requests: Vec<crate::ReadRequest<'_>> = reads
        .iter()
        .map(|(ids, plan)| crate::ReadRequest {
            ids,
            fine: plan.fine,
            start: plan.start,
            end: plan.end,
        })
        .collect();
    let rows = store.read_many(&requests)?;
    Ok(rows
        .into_iter()
        .zip(reads)
        .map(|(r, (_, plan))| by_period(r, plan))
        .collect())
}

fn by_period(rows: Vec<(i64, u32, Aggregate)>, plan: &Plan) -> BTreeMap<i64, Aggregate> {
    let mut out: BTreeMap<i64, Aggregate> = BTreeMap::new();
    for (ts, _res, agg) in rows {
        let slot = plan.start + (ts - plan.start).div_euclid(plan.period) * plan.period;
        out.entry(slot).or_default().merge(&agg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn periods_are_validated() {
        for p in [1, 5, 10, 20, 30, 60, 120, 3600] {
            assert!(validate_period(p).is_ok(), "{p}");
        }
        for p in [0, -60, 2, 45, 61, 90] {
            assert!(validate_period(p).is_err(), "{p}");
        }
    }

    #[test]
    fn start_rounding_follows_data_age() {
        // Recent: rounded to the minute.
        let p = plan(NOW - 3_600_000 + 23_000, NOW, 60, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(p.start % 60, 0);
        assert!(!p.fine);
        // 10 s periods round to 10 s within the minute.
        let s = NOW - 60_000 + 23_000;
        let p = plan(s, NOW, 10, NOW).unwrap().unwrap();
        assert_eq!(p.start, (s / 1000) - (s / 1000) % 10);
        assert!(p.fine);
        // High-resolution periods are gone after three hours.
        assert_eq!(plan(NOW - 4 * 3_600_000, NOW, 10, NOW).unwrap(), None);
        // 20 days back needs multiples of 5 minutes.
        assert_eq!(plan(NOW - 20 * 86_400_000, NOW, 60, NOW).unwrap(), None);
        assert!(plan(NOW - 20 * 86_400_000, NOW, 300, NOW)
            .unwrap()
            .is_some());
        // 100 days back needs multiples of an hour.
        assert_eq!(plan(NOW - 100 * 86_400_000, NOW, 300, NOW).unwrap(), None);
        let p = plan(NOW - 100 * 86_400_000, NOW, 3600, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(p.start % 3600, 0);
    }

    #[test]
    fn start_must_precede_end() {
        assert!(plan(NOW, NOW, 60, NOW).is_err());
        assert!(plan(NOW, NOW - 1, 60, NOW).is_err());
    }
}
