//! Unit tests of the evaluator's plumbing: range alignment, slot filling and
//! the exact reason / reason-data shapes. The decision table itself is
//! covered by the scenario files and the exhaustive oracle table.

use super::*;
use crate::def::ComparisonOperator;

// 2026-11-28T21:00:00Z
const T0: i64 = 1_795_899_600;

fn def(n: u32, m: u32) -> AlarmDef {
    let mut d = AlarmDef::new(60, ComparisonOperator::GreaterThanThreshold, 4.0);
    d.evaluation_periods = n;
    d.datapoints_to_alarm = Some(m);
    d
}

fn pts(values: &[Option<f64>]) -> Vec<Datapoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (T0 + 60 * i as i64, v.map(|v| PeriodValue::new(v, 1.0))))
        .collect()
}

#[test]
fn range_covers_n_plus_two_complete_periods() {
    let d = def(3, 3);
    let r = evaluation_range(&d, (T0 + 5 * 60 + 59) * 1000 + 999);
    assert_eq!(
        r,
        EvaluationRange {
            start: T0,
            end: T0 + 300,
            period: 60
        }
    );
    assert_eq!(r.len(), 5);
    assert_eq!(
        r.period_starts().collect::<Vec<_>>(),
        vec![T0, T0 + 60, T0 + 120, T0 + 180, T0 + 240]
    );
    // Exactly at a boundary the period that just closed is included.
    let r = evaluation_range(&d, (T0 + 300) * 1000);
    assert_eq!(r.end, T0 + 300);
}

#[test]
fn points_outside_the_range_and_nan_are_missing() {
    let d = def(1, 1);
    let now = (T0 + 60) * 1000 + 1;
    // The only breaching point is in the still-open period: not evaluated.
    let e = evaluate(
        &d,
        StateValue::Ok,
        &[(T0 + 60, Some(PeriodValue::new(9.0, 1.0)))],
        now,
    );
    assert_eq!(e.new_state, StateValue::InsufficientData);
    let e = evaluate(
        &d,
        StateValue::Ok,
        &[(T0, Some(PeriodValue::new(f64::NAN, 1.0)))],
        now,
    );
    assert_eq!(e.new_state, StateValue::InsufficientData);
    // Unaligned timestamps fall into the period that contains them; the later
    // entry wins.
    let e = evaluate(
        &d,
        StateValue::Ok,
        &[
            (T0 + 7, Some(PeriodValue::new(1.0, 1.0))),
            (T0 + 30, Some(PeriodValue::new(9.0, 1.0))),
        ],
        now,
    );
    assert_eq!(e.new_state, StateValue::Alarm);
    assert!(e.changed);
}

#[test]
fn threshold_crossed_reason_is_shaped_like_aws() {
    let d = def(3, 3);
    let now = (T0 + 300) * 1000 + 528;
    let e = evaluate(
        &d,
        StateValue::Ok,
        &pts(&[Some(1.0), Some(2.0), Some(5.0), Some(6.5), Some(7.0)]),
        now,
    );
    assert_eq!(e.new_state, StateValue::Alarm);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 3 out of the last 3 datapoints [7.0 (28/11/26 21:04:00), 6.5 (28/11/26 21:03:00), 5.0 (28/11/26 21:02:00)] were greater than the threshold (4.0) (minimum 3 datapoints for OK -> ALARM transition)."
    );
    assert_eq!(
        e.reason_data_json(),
        concat!(
            r#"{"version":"1.0","queryDate":"2026-11-28T21:05:00.528+0000","#,
            r#""startDate":"2026-11-28T21:02:00.000+0000","statistic":"Average","period":60,"#,
            r#""recentDatapoints":[5.0,6.5,7.0],"threshold":4.0,"evaluatedDatapoints":["#,
            r#"{"timestamp":"2026-11-28T21:04:00.000+0000","sampleCount":1.0,"value":7.0},"#,
            r#"{"timestamp":"2026-11-28T21:03:00.000+0000","sampleCount":1.0,"value":6.5},"#,
            r#"{"timestamp":"2026-11-28T21:02:00.000+0000","sampleCount":1.0,"value":5.0}]}"#
        )
    );
    let e = evaluate(
        &d,
        StateValue::Alarm,
        &pts(&[None, None, None, Some(0.0), None]),
        now,
    );
    assert_eq!(e.new_state, StateValue::Ok);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (28/11/26 21:03:00)] was not greater than the threshold (4.0) (minimum 1 datapoint for ALARM -> OK transition)."
    );
    // The missing newest period is listed with its timestamp only.
    assert_eq!(
        e.reason_data["evaluatedDatapoints"][0],
        serde_json::json!({"timestamp": "2026-11-28T21:04:00.000+0000"})
    );
}

#[test]
fn missing_data_reasons() {
    let mut d = def(1, 1);
    let now = (T0 + 300) * 1000;
    d.treat_missing_data = TreatMissingData::Breaching;
    let e = evaluate(&d, StateValue::Ok, &[], now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching]."
    );
    d.treat_missing_data = TreatMissingData::NotBreaching;
    let e = evaluate(&d, StateValue::Alarm, &[], now);
    assert_eq!(e.new_state, StateValue::Ok);
    assert_eq!(
        e.reason,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
    );
    d.treat_missing_data = TreatMissingData::Missing;
    d.evaluation_periods = 2;
    d.datapoints_to_alarm = None;
    let e = evaluate(&d, StateValue::Ok, &[], now);
    assert_eq!(e.new_state, StateValue::InsufficientData);
    assert_eq!(e.reason, "Insufficient Data: 2 datapoints were unknown.");
    assert_eq!(e.reason_data["recentDatapoints"], serde_json::json!([]));
    assert_eq!(e.reason_data["startDate"], "2026-11-28T21:03:00.000+0000");
}

#[test]
fn low_sample_thresholds() {
    let rows = [
        (99.0, Some(1000.0)),
        (90.0, Some(100.0)),
        (50.0, Some(20.0)),
        (10.0, Some(100.0)),
        (100.0, None),
        (0.0, None),
    ];
    for (p, want) in rows {
        let got = needed_samples(p);
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "p{p}: {g}"),
            (None, None) => {}
            _ => panic!("p{p}: {got:?}"),
        }
    }
}

#[test]
fn a_hand_built_invalid_def_is_clamped_not_a_panic() {
    let mut d = def(0, 5);
    d.period = 0;
    let e = evaluate(
        &d,
        StateValue::Ok,
        &[(0, Some(PeriodValue::new(9.0, 1.0)))],
        1000,
    );
    assert_eq!(e.new_state, StateValue::Alarm);
}
