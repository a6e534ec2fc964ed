//! Validation table for [`AlarmParams`]: one row per rule of reference §3.1.

use super::*;
use crate::ErrorKind;

fn base() -> AlarmParams {
    AlarmParams {
        period: Some(60),
        evaluation_periods: Some(3),
        datapoints_to_alarm: None,
        threshold: Some(4.0),
        comparison_operator: Some("GreaterThanThreshold".to_owned()),
        statistic: Some("Average".to_owned()),
        ..AlarmParams::default()
    }
}

type Edit = fn(&mut AlarmParams);

#[test]
fn validation_table() {
    // (what, edit, expected error kind or None for valid, message fragment)
    let rows: &[(&str, Edit, Option<ErrorKind>, &str)] = &[
        ("base", |_| {}, None, ""),
        ("period 10", |p| p.period = Some(10), None, ""),
        ("period 20", |p| p.period = Some(20), None, ""),
        ("period 30", |p| p.period = Some(30), None, ""),
        ("period 120", |p| p.period = Some(120), None, ""),
        (
            "period 15",
            |p| p.period = Some(15),
            Some(ErrorKind::InvalidParameter),
            "Period",
        ),
        (
            "period 90",
            |p| p.period = Some(90),
            Some(ErrorKind::InvalidParameter),
            "Period",
        ),
        (
            "period 0",
            |p| p.period = Some(0),
            Some(ErrorKind::InvalidParameter),
            "Period",
        ),
        (
            "period -60",
            |p| p.period = Some(-60),
            Some(ErrorKind::InvalidParameter),
            "Period",
        ),
        (
            "no period",
            |p| p.period = None,
            Some(ErrorKind::MissingParameter),
            "Period",
        ),
        (
            "n 0",
            |p| p.evaluation_periods = Some(0),
            Some(ErrorKind::InvalidParameter),
            "EvaluationPeriods",
        ),
        (
            "no n",
            |p| p.evaluation_periods = None,
            Some(ErrorKind::MissingParameter),
            "EvaluationPeriods",
        ),
        (
            "m 0",
            |p| p.datapoints_to_alarm = Some(0),
            Some(ErrorKind::InvalidParameter),
            "DatapointsToAlarm",
        ),
        ("m = n", |p| p.datapoints_to_alarm = Some(3), None, ""),
        (
            "m > n",
            |p| p.datapoints_to_alarm = Some(4),
            Some(ErrorKind::InvalidCombination),
            "DatapointsToAlarm",
        ),
        (
            "one day of minutes",
            |p| {
                p.period = Some(60);
                p.evaluation_periods = Some(1440)
            },
            None,
            "",
        ),
        (
            "one day and a minute",
            |p| {
                p.period = Some(60);
                p.evaluation_periods = Some(1441)
            },
            Some(ErrorKind::InvalidCombination),
            "86400",
        ),
        (
            "one day of 10 s",
            |p| {
                p.period = Some(10);
                p.evaluation_periods = Some(8640)
            },
            None,
            "",
        ),
        (
            "too many 10 s",
            |p| {
                p.period = Some(10);
                p.evaluation_periods = Some(8641)
            },
            Some(ErrorKind::InvalidCombination),
            "86400",
        ),
        (
            "a week of hours",
            |p| {
                p.period = Some(3600);
                p.evaluation_periods = Some(168)
            },
            None,
            "",
        ),
        (
            "a week and an hour",
            |p| {
                p.period = Some(3600);
                p.evaluation_periods = Some(169)
            },
            Some(ErrorKind::InvalidCombination),
            "604800",
        ),
        (
            "period 3540 x 25",
            |p| {
                p.period = Some(3540);
                p.evaluation_periods = Some(25)
            },
            Some(ErrorKind::InvalidCombination),
            "86400",
        ),
        (
            "one day period x 7",
            |p| {
                p.period = Some(86_400);
                p.evaluation_periods = Some(7)
            },
            None,
            "",
        ),
        (
            "no operator",
            |p| p.comparison_operator = None,
            Some(ErrorKind::MissingParameter),
            "ComparisonOperator",
        ),
        (
            "bad operator",
            |p| p.comparison_operator = Some("GreaterThan".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "ComparisonOperator",
        ),
        (
            "band operator",
            |p| p.comparison_operator = Some("GreaterThanUpperThreshold".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "not supported",
        ),
        (
            "no threshold",
            |p| p.threshold = None,
            Some(ErrorKind::MissingParameter),
            "Threshold",
        ),
        (
            "nan threshold",
            |p| p.threshold = Some(f64::NAN),
            Some(ErrorKind::InvalidParameter),
            "Threshold",
        ),
        (
            "treat breaching",
            |p| p.treat_missing_data = Some("breaching".to_owned()),
            None,
            "",
        ),
        (
            "treat bad",
            |p| p.treat_missing_data = Some("Breaching".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "TreatMissingData",
        ),
        (
            "low ignore",
            |p| p.evaluate_low_sample_count_percentile = Some("ignore".to_owned()),
            None,
            "",
        ),
        (
            "low bad",
            |p| p.evaluate_low_sample_count_percentile = Some("skip".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "evaluate and ignore",
        ),
        (
            "both stats",
            |p| p.extended_statistic = Some("p99".to_owned()),
            Some(ErrorKind::InvalidCombination),
            "mutually exclusive",
        ),
        (
            "no stat",
            |p| p.statistic = None,
            Some(ErrorKind::MissingParameter),
            "Statistic",
        ),
        (
            "extended in Statistic",
            |p| p.statistic = Some("p99".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "Statistic",
        ),
        (
            "lowercase stat",
            |p| p.statistic = Some("average".to_owned()),
            Some(ErrorKind::InvalidParameter),
            "Statistic",
        ),
        (
            "p99",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("p99".to_owned())
            },
            None,
            "",
        ),
        (
            "p99.9",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("p99.9".to_owned())
            },
            None,
            "",
        ),
        (
            "tm90",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("tm90".to_owned())
            },
            None,
            "",
        ),
        (
            "IQM",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("IQM".to_owned())
            },
            None,
            "",
        ),
        (
            "PR(10:300)",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("PR(10:300)".to_owned())
            },
            None,
            "",
        ),
        (
            "TM(10%:90%)",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("TM(10%:90%)".to_owned())
            },
            None,
            "",
        ),
        (
            "TM(5%:90%)",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("TM(5%:90%)".to_owned())
            },
            Some(ErrorKind::InvalidParameter),
            "between 10 and 90",
        ),
        (
            "Average as extended",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("Average".to_owned())
            },
            Some(ErrorKind::InvalidParameter),
            "ExtendedStatistic",
        ),
        (
            "p101",
            |p| {
                p.statistic = None;
                p.extended_statistic = Some("p101".to_owned())
            },
            Some(ErrorKind::InvalidParameter),
            "ExtendedStatistic",
        ),
        (
            "math without stat",
            |p| {
                p.statistic = None;
                p.metric_math = true
            },
            None,
            "",
        ),
        (
            "math with stat",
            |p| p.metric_math = true,
            Some(ErrorKind::InvalidCombination),
            "Metrics",
        ),
        (
            "five actions",
            |p| p.alarm_actions = vec!["arn:aws:sns:us-east-1:1:t".to_owned(); 5],
            None,
            "",
        ),
        (
            "six actions",
            |p| p.ok_actions = vec!["arn:aws:sns:us-east-1:1:t".to_owned(); 6],
            Some(ErrorKind::InvalidParameter),
            "OKActions",
        ),
        (
            "not an arn",
            |p| p.insufficient_data_actions = vec!["sns-topic".to_owned()],
            Some(ErrorKind::InvalidParameter),
            "InsufficientDataActions",
        ),
    ];
    for (what, edit, want, fragment) in rows {
        let mut p = base();
        edit(&mut p);
        match (p.validate(), want) {
            (Ok(def), None) => {
                assert!(def.validate().is_ok(), "{what}: validated def re-validates");
            }
            (Err(e), Some(kind)) => {
                assert_eq!(e.kind(), *kind, "{what}: {e}");
                assert!(e.to_string().contains(fragment), "{what}: {e}");
            }
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn defaults_resolve() {
    let def = base().validate().expect("valid");
    assert_eq!(def.datapoints_to_alarm(), 3);
    assert_eq!(def.treat_missing_data, TreatMissingData::Missing);
    assert_eq!(def.low_sample_count(), LowSampleCount::Evaluate);
    assert!(def.actions_enabled);
    let mut p = base();
    p.datapoints_to_alarm = Some(2);
    p.actions_enabled = Some(false);
    p.alarm_actions = vec!["arn:aws:sns:us-east-1:1:t".to_owned()];
    let def = p.validate().expect("valid");
    assert_eq!(def.datapoints_to_alarm(), 2);
    assert!(def.actions_for(crate::StateValue::Alarm).is_empty());
}

#[test]
fn operators_compare_the_value_on_the_left() {
    use ComparisonOperator::*;
    // (op, value, threshold, breaches)
    let rows = [
        (GreaterThanThreshold, 5.0, 4.0, true),
        (GreaterThanThreshold, 4.0, 4.0, false),
        (GreaterThanThreshold, 3.0, 4.0, false),
        (GreaterThanOrEqualToThreshold, 4.0, 4.0, true),
        (GreaterThanOrEqualToThreshold, 3.9, 4.0, false),
        (LessThanThreshold, 3.0, 4.0, true),
        (LessThanThreshold, 4.0, 4.0, false),
        (LessThanOrEqualToThreshold, 4.0, 4.0, true),
        (LessThanOrEqualToThreshold, 4.1, 4.0, false),
    ];
    for (op, v, t, want) in rows {
        assert_eq!(op.breaches(v, t), want, "{} {v} {t}", op.as_str());
        assert_eq!(ComparisonOperator::parse(op.as_str()), Ok(op));
    }
    for band in ANOMALY_BAND_OPERATORS {
        assert!(matches!(
            ComparisonOperator::parse(band),
            Err(Error::Unsupported(_))
        ));
    }
}
