//! The metric alarm evaluator: per-period values in, the new state with its
//! `StateReason` and `StateReasonData` out.
//!
//! [`evaluate`] is pure: the caller fetches the alarm's statistic for every
//! period of [`evaluation_range`] (a store query, a metric-math result) and
//! passes them as [`Datapoint`]s; periods it leaves out count as missing. It
//! never runs actions or writes history: a changed [`Evaluation`] tells the
//! caller to do so.
//!
//! The decision follows reference §3.2, reconstructed from AWS's missing-data
//! tables (`alarm_eval_reference.py` reproduces every documented row):
//!
//! ```text
//! range  = the N + 2 most recent complete periods; real = its present points
//! |real| >= N           -> M-of-N over the last N real points
//! treat breaching       -> real + missing-as-X, M-of-N
//! treat notBreaching    -> real + missing-as-0, M-of-N
//! no real points        -> missing: INSUFFICIENT_DATA; ignore: keep
//! breaching(real) >= M  -> ALARM
//! any real 0            -> OK
//! ignore                -> keep
//! missing               -> ALARM when the oldest X among the last N periods
//!                          is at least M periods old (newest = 1), else keep
//! ```
//!
//! With `EvaluateLowSampleCountPercentile=ignore`, a `pNN` alarm keeps its
//! state while any of the (up to N) points it would evaluate has fewer samples
//! than `10/(1-p)` (p ≥ 0.5) or `10/p` (p < 0.5).

use serde_json::{json, Map, Value};

use crate::def::{AlarmDef, LowSampleCount, TreatMissingData};
use crate::format::{java_double, json_date, plural, reason_date, was};
use crate::StateValue;

/// Periods looked at beyond the N evaluated ones. AWS's docs show a range of 5
/// for N=3; the exact rule is unconfirmed (reference §3.2).
pub const EXTRA_LOOKBACK_PERIODS: u32 = 2;

/// The alarm's statistic over one period, and how many samples made it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodValue {
    pub value: f64,
    pub sample_count: f64,
}

impl PeriodValue {
    pub fn new(value: f64, sample_count: f64) -> PeriodValue {
        PeriodValue {
            value,
            sample_count,
        }
    }
}

/// `(period start in epoch seconds, value)`; `None` or a NaN value is missing.
pub type Datapoint = (i64, Option<PeriodValue>);

/// The periods one evaluation looks at: `[start, end)` in epoch seconds,
/// aligned to the period. The period containing `now` is still filling up
/// and is not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationRange {
    pub start: i64,
    pub end: i64,
    pub period: i64,
}

impl EvaluationRange {
    /// Number of periods in the range (N + [`EXTRA_LOOKBACK_PERIODS`]).
    pub fn len(&self) -> usize {
        usize::try_from((self.end - self.start) / self.period).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start of every period, oldest first.
    pub fn period_starts(&self) -> impl Iterator<Item = i64> + '_ {
        (self.start..self.end).step_by(usize::try_from(self.period).unwrap_or(1))
    }
}

/// The range [`evaluate`] reads for an evaluation at `now_ms`.
pub fn evaluation_range(def: &AlarmDef, now_ms: i64) -> EvaluationRange {
    let period = i64::from(def.period.max(1));
    let end = now_ms.div_euclid(1000).div_euclid(period) * period;
    let periods = i64::from(def.evaluation_periods.max(1) + EXTRA_LOOKBACK_PERIODS);
    EvaluationRange {
        start: end - periods * period,
        end,
        period,
    }
}

/// The outcome of one evaluation. When `changed` is false the caller keeps
/// the stored reason; `reason` then only explains the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub new_state: StateValue,
    pub reason: String,
    pub reason_data: Value,
    pub changed: bool,
}

impl Evaluation {
    /// `StateReasonData` as the JSON string the API returns.
    pub fn reason_data_json(&self) -> String {
        self.reason_data.to_string()
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    value: f64,
    samples: f64,
    breaching: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: i64,
    point: Option<Point>,
}

#[derive(Debug)]
enum Decision {
    /// M-of-N over `window` (indices of present slots) plus `filled` missing
    /// periods counted as breaching (`Some(true)`) or not (`Some(false)`).
    Threshold {
        state: StateValue,
        window: Vec<usize>,
        filled: usize,
        fill_breaching: Option<bool>,
    },
    Insufficient,
    Keep(Keep),
}

#[derive(Debug)]
enum Keep {
    NoDataIgnored,
    TooFewBreaching { breaching: usize },
    LowSampleCount { samples: f64, needed: f64 },
}

/// Evaluates a metric alarm at `now_ms` against the per-period values of
/// [`evaluation_range`]; entries outside the range are ignored, and a later
/// entry for the same period replaces an earlier one.
pub fn evaluate(
    def: &AlarmDef,
    current: StateValue,
    datapoints: &[Datapoint],
    now_ms: i64,
) -> Evaluation {
    let range = evaluation_range(def, now_ms);
    let n = usize::try_from(def.evaluation_periods.max(1)).unwrap_or(1);
    let m = usize::try_from(
        def.datapoints_to_alarm()
            .clamp(1, def.evaluation_periods.max(1)),
    )
    .unwrap_or(1);
    let slots = fill_slots(def, &range, datapoints);
    let decision = low_sample_keep(def, &slots, n)
        .map(Decision::Keep)
        .unwrap_or_else(|| decide(&slots, n, m, def.treat_missing_data));
    let new_state = match &decision {
        Decision::Threshold { state, .. } => *state,
        Decision::Insufficient => StateValue::InsufficientData,
        Decision::Keep(_) => current,
    };
    let reason = reason(def, &slots, n, m, &decision);
    let reason_data = reason_data(def, &range, &slots, n, &decision, now_ms);
    Evaluation {
        new_state,
        reason,
        reason_data,
        changed: new_state != current,
    }
}

/// The state [`evaluate`] would return, without building the reason: the
/// cheap check a scheduler runs first, since most evaluations change nothing.
pub fn evaluate_state(
    def: &AlarmDef,
    current: StateValue,
    datapoints: &[Datapoint],
    now_ms: i64,
) -> StateValue {
    let range = evaluation_range(def, now_ms);
    let n = usize::try_from(def.evaluation_periods.max(1)).unwrap_or(1);
    let m = usize::try_from(
        def.datapoints_to_alarm()
            .clamp(1, def.evaluation_periods.max(1)),
    )
    .unwrap_or(1);
    let slots = fill_slots(def, &range, datapoints);
    let decision = low_sample_keep(def, &slots, n)
        .map(Decision::Keep)
        .unwrap_or_else(|| decide(&slots, n, m, def.treat_missing_data));
    match decision {
        Decision::Threshold { state, .. } => state,
        Decision::Insufficient => StateValue::InsufficientData,
        Decision::Keep(_) => current,
    }
}

fn fill_slots(def: &AlarmDef, range: &EvaluationRange, datapoints: &[Datapoint]) -> Vec<Slot> {
    let mut slots: Vec<Slot> = range
        .period_starts()
        .map(|start| Slot { start, point: None })
        .collect();
    for (ts, value) in datapoints {
        if *ts < range.start || *ts >= range.end {
            continue;
        }
        let Ok(i) = usize::try_from((ts - range.start) / range.period) else {
            continue;
        };
        let Some(slot) = slots.get_mut(i) else {
            continue;
        };
        slot.point = value.filter(|v| !v.value.is_nan()).map(|v| Point {
            value: v.value,
            samples: v.sample_count,
            breaching: def.comparison_operator.breaches(v.value, def.threshold),
        });
    }
    slots
}

/// The fewest samples a `pNN` period needs before `ignore` lets it count.
fn needed_samples(percentile: f64) -> Option<f64> {
    if (50.0..100.0).contains(&percentile) {
        Some(1000.0 / (100.0 - percentile))
    } else if percentile > 0.0 && percentile < 50.0 {
        Some(1000.0 / percentile)
    } else {
        None
    }
}

fn low_sample_keep(def: &AlarmDef, slots: &[Slot], n: usize) -> Option<Keep> {
    if def.low_sample_count() != LowSampleCount::Ignore {
        return None;
    }
    let needed = needed_samples(def.statistic.as_ref()?.percentile()?)?;
    // The relative slack absorbs 1000/(100-99.9) = 10000.000000000568.
    slots
        .iter()
        .rev()
        .filter_map(|s| s.point)
        .take(n)
        .find(|p| p.samples < needed * (1.0 - 1e-9))
        .map(|p| Keep::LowSampleCount {
            samples: p.samples,
            needed,
        })
}

fn threshold_state(breaching: usize, m: usize) -> StateValue {
    if breaching >= m {
        StateValue::Alarm
    } else {
        StateValue::Ok
    }
}

fn decide(slots: &[Slot], n: usize, m: usize, treat: TreatMissingData) -> Decision {
    let real: Vec<usize> = (0..slots.len())
        .filter(|&i| slots[i].point.is_some())
        .collect();
    let is_x = |i: &usize| slots[*i].point.is_some_and(|p| p.breaching);
    if real.len() >= n {
        let window = real[real.len() - n..].to_vec();
        let x = window.iter().filter(|i| is_x(i)).count();
        return Decision::Threshold {
            state: threshold_state(x, m),
            window,
            filled: 0,
            fill_breaching: None,
        };
    }
    let fill = n - real.len();
    let x = real.iter().filter(|i| is_x(i)).count();
    match treat {
        TreatMissingData::Breaching | TreatMissingData::NotBreaching => {
            let as_x = treat == TreatMissingData::Breaching;
            let count = if as_x { x + fill } else { x };
            return Decision::Threshold {
                state: threshold_state(count, m),
                window: real,
                filled: fill,
                fill_breaching: Some(as_x),
            };
        }
        TreatMissingData::Missing | TreatMissingData::Ignore => {}
    }
    if real.is_empty() {
        return match treat {
            TreatMissingData::Ignore => Decision::Keep(Keep::NoDataIgnored),
            _ => Decision::Insufficient,
        };
    }
    if x >= m {
        return Decision::Threshold {
            state: StateValue::Alarm,
            window: real,
            filled: 0,
            fill_breaching: None,
        };
    }
    if real.len() > x {
        return Decision::Threshold {
            state: StateValue::Ok,
            window: real,
            filled: 0,
            fill_breaching: None,
        };
    }
    if treat == TreatMissingData::Missing {
        // The premature-alarm rule: the oldest breaching point among the last
        // N periods has been breaching for long enough.
        let last_n = &slots[slots.len().saturating_sub(n)..];
        let oldest_age = last_n
            .iter()
            .position(|s| s.point.is_some_and(|p| p.breaching))
            .map(|i| last_n.len() - i);
        if oldest_age.is_some_and(|age| age >= m) {
            return Decision::Threshold {
                state: StateValue::Alarm,
                window: real,
                filled: 0,
                fill_breaching: None,
            };
        }
    }
    Decision::Keep(Keep::TooFewBreaching { breaching: x })
}

fn reason(def: &AlarmDef, slots: &[Slot], n: usize, m: usize, decision: &Decision) -> String {
    match decision {
        Decision::Threshold {
            state,
            window,
            filled,
            fill_breaching,
        } => {
            let alarm = *state == StateValue::Alarm;
            let matching: Vec<&Slot> = window
                .iter()
                .rev()
                .map(|&i| &slots[i])
                .filter(|s| s.point.is_some_and(|p| p.breaching == alarm))
                .collect();
            let filled_matching = if *fill_breaching == Some(alarm) {
                *filled
            } else {
                0
            };
            let fill_word = if *fill_breaching == Some(true) {
                "Breaching"
            } else {
                "NonBreaching"
            };
            if matching.is_empty() && filled_matching > 0 {
                return format!(
                    "Threshold Crossed: no datapoints were received for {} and {} {} treated as [{fill_word}].",
                    plural(*filled, "period"),
                    plural(*filled, "missing datapoint"),
                    was(*filled),
                );
            }
            let count = matching.len() + filled_matching;
            let list: Vec<String> = matching
                .iter()
                .filter_map(|s| {
                    s.point
                        .map(|p| format!("{} ({})", java_double(p.value), reason_date(s.start)))
                })
                .collect();
            let filled_note = if filled_matching > 0 {
                format!(
                    " and {} {} treated as [{fill_word}]",
                    plural(filled_matching, "missing datapoint"),
                    was(filled_matching)
                )
            } else {
                String::new()
            };
            let (minimum, transition) = if alarm {
                (m, "OK -> ALARM")
            } else {
                (n + 1 - m, "ALARM -> OK")
            };
            format!(
                "Threshold Crossed: {count} out of the last {} datapoints [{}] {} {}{} the threshold ({}){filled_note} (minimum {} for {transition} transition).",
                window.len() + filled,
                list.join(", "),
                was(count),
                if alarm { "" } else { "not " },
                def.comparison_operator.phrase(),
                java_double(def.threshold),
                plural(minimum, "datapoint"),
            )
        }
        Decision::Insufficient => format!(
            "Insufficient Data: {} {} unknown.",
            plural(n, "datapoint"),
            was(n)
        ),
        Decision::Keep(Keep::NoDataIgnored) => format!(
            "Unchanged: no datapoints were received for {} and missing data is ignored.",
            plural(slots.len(), "period")
        ),
        Decision::Keep(Keep::TooFewBreaching { breaching }) => format!(
            "Unchanged: {} {} {} the threshold ({}) but {} {} needed for OK -> ALARM transition and the other periods are missing.",
            plural(*breaching, "datapoint"),
            was(*breaching),
            def.comparison_operator.phrase(),
            java_double(def.threshold),
            plural(m, "datapoint"),
            if m == 1 { "is" } else { "are" },
        ),
        Decision::Keep(Keep::LowSampleCount { samples, needed }) => format!(
            "Unchanged: a datapoint has {} samples, fewer than the {} needed for {} and EvaluateLowSampleCountPercentile is ignore.",
            java_double(*samples),
            java_double(needed.ceil()),
            def.statistic.as_ref().map_or("the percentile", |s| s.name.as_str()),
        ),
    }
}

fn reason_data(
    def: &AlarmDef,
    range: &EvaluationRange,
    slots: &[Slot],
    n: usize,
    decision: &Decision,
    now_ms: i64,
) -> Value {
    // The evaluated span: the last N periods, stretched back to the oldest
    // point the decision used.
    let last_n_from = slots.len().saturating_sub(n);
    let from = match decision {
        Decision::Threshold { window, .. } => {
            window.first().map_or(last_n_from, |&i| i.min(last_n_from))
        }
        _ => last_n_from,
    };
    let span = &slots[from..];
    let start = span.first().map_or(range.end, |s| s.start);
    let recent: Vec<Value> = span
        .iter()
        .filter_map(|s| s.point.map(|p| json!(p.value)))
        .collect();
    let evaluated: Vec<Value> = span
        .iter()
        .rev()
        .map(|s| match s.point {
            Some(p) => json!({
                "timestamp": json_date(s.start * 1000),
                "sampleCount": p.samples,
                "value": p.value,
            }),
            None => json!({ "timestamp": json_date(s.start * 1000) }),
        })
        .collect();
    let mut obj = Map::new();
    obj.insert("version".into(), json!("1.0"));
    obj.insert("queryDate".into(), json!(json_date(now_ms)));
    obj.insert("startDate".into(), json!(json_date(start * 1000)));
    if let Some(stat) = &def.statistic {
        obj.insert("statistic".into(), json!(stat.name));
    }
    obj.insert("period".into(), json!(def.period));
    obj.insert("recentDatapoints".into(), Value::Array(recent));
    obj.insert("threshold".into(), json!(def.threshold));
    obj.insert("evaluatedDatapoints".into(), Value::Array(evaluated));
    Value::Object(obj)
}

#[cfg(test)]
mod tests;
