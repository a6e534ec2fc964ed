//! The reference's worked vectors, reproduced exactly.

use mw_monitor::distance::{categorical_linf, numeric_distance, robust};
use mw_monitor::files::ComparisonMethod;
use mw_monitor::kll::{buckets, KllSketch};
use mw_monitor::table::CsvSource;
use mw_monitor::{metrics, run_job, Baseline, BaselineOptions, JobOptions, MetricValue};

fn sketch(values: &[f64]) -> KllSketch {
    let mut s = KllSketch::new();
    values.iter().for_each(|&v| s.update(v));
    s
}

#[test]
fn histogram_bounds_use_sagemakers_arithmetic() {
    // min + (max − min)·i/10 in IEEE double: the bounds AWS output shows.
    let s = sketch(&[0.0, 301.9]);
    let b = buckets(&s.cdf_points(), 0.0, 301.9);
    assert_eq!(b[2].lower_bound, 60.379999999999995);
    assert_eq!(b[1].upper_bound, 60.379999999999995);
    let s = sketch(&[0.0, 9.2]);
    let b = buckets(&s.cdf_points(), 0.0, 9.2);
    assert_eq!(b[2].lower_bound, 1.8399999999999999);
    assert_eq!(b[9].count, 1.0, "the max lands in the last bucket");
    assert_eq!(b[0].count, 1.0);
}

#[test]
fn linf_simple_and_robust_examples() {
    let a = sketch(&[1.0, 2.0, 3.0, 4.0]);
    let b = sketch(&[3.0, 4.0, 5.0, 6.0]);
    assert_eq!(numeric_distance(&a, &b, ComparisonMethod::Simple), 0.5);
    assert_eq!(numeric_distance(&a, &b, ComparisonMethod::Robust), 0.0);
    assert_eq!(format!("{:.6}", robust(0.2, 1000.0, 1000.0)), "0.119502");
    let base = vec![("a".to_string(), 50), ("b".to_string(), 50)];
    let cur = vec![("a".to_string(), 80), ("b".to_string(), 20)];
    assert!((categorical_linf(&base, &cur, ComparisonMethod::Simple) - 0.3).abs() < 1e-15);
    assert_eq!(
        format!(
            "{:.6}",
            categorical_linf(&base, &cur, ComparisonMethod::Robust)
        ),
        "0.045442"
    );
}

#[test]
fn population_std_dev_of_a_churn_column() {
    // AWS: Churn mean 0.139306 → std 0.346265 = √(p(1−p)).
    let mut text = String::from("Churn\n");
    for i in 0..2333 {
        text.push_str(if i < 325 { "1\n" } else { "0\n" });
    }
    let b = Baseline::compute(
        &mut CsvSource::new(text.as_bytes(), "churn.csv", true),
        BaselineOptions::default(),
    )
    .unwrap();
    let n = b.statistics.features[0]
        .numerical_statistics
        .as_ref()
        .unwrap();
    assert_eq!(format!("{:.6}", n.mean), "0.139306");
    assert_eq!(format!("{:.6}", n.std_dev), "0.346265");
}

#[test]
fn statistics_json_shape() {
    let text = "x,s\n1,a\n2.5,b\n,a\n";
    let b = Baseline::compute(
        &mut CsvSource::new(text.as_bytes(), "t.csv", true),
        BaselineOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_value(&b.statistics).unwrap();
    assert_eq!(json["version"], 0);
    assert_eq!(json["dataset"]["item_count"], 3);
    let x = &json["features"][0];
    assert_eq!(x["inferred_type"], "Fractional");
    assert_eq!(x["numerical_statistics"]["common"]["num_missing"], 1);
    assert_eq!(
        x["numerical_statistics"]["distribution"]["kll"]["sketch"]["parameters"]["k"],
        2048.0
    );
    assert_eq!(
        x["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"],
        serde_json::json!([[1.0, 2.5]])
    );
    let s = &json["features"][1];
    assert_eq!(
        s["string_statistics"]["distribution"]["categorical"]["buckets"],
        serde_json::json!([{"value": "a", "count": 2}, {"value": "b", "count": 1}])
    );
    let c = serde_json::to_value(&b.constraints).unwrap();
    assert_eq!(
        c["monitoring_config"]["distribution_constraints"]["comparison_method"],
        "Robust"
    );
    assert_eq!(c["features"][0]["num_constraints"]["is_non_negative"], true);
}

fn baseline_of(text: &str) -> Baseline {
    Baseline::compute(
        &mut CsvSource::new(text.as_bytes(), "t.csv", true),
        BaselineOptions::default(),
    )
    .unwrap()
}

/// statistics.json and constraints.json byte for byte: key order and
/// nesting of §2.2 / §2.3, integers for counts of values (`item_count`,
/// `num_present`, categorical `count`), doubles for everything Deequ
/// computes as a double (`sum` and `min` of an Integral column, `k`,
/// `distinct_count`, sketch items), features in column order.
#[test]
fn statistics_and_constraints_json_text() {
    let b = baseline_of("y,x,s\n1,0.5,a\n0,1.5,b\n1,2.5,a\n0,,b\n");
    let buckets = |lo: f64, hi: f64, counts: [u8; 10]| {
        (0..10)
            .map(|i| {
                format!(
                    r#"{{"lower_bound":{:?},"upper_bound":{:?},"count":{:?}}}"#,
                    lo + (hi - lo) * i as f64 / 10.0,
                    lo + (hi - lo) * (i + 1) as f64 / 10.0,
                    f64::from(counts[i])
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let want = format!(
        concat!(
            r#"{{"version":0,"dataset":{{"item_count":4}},"features":["#,
            r#"{{"name":"y","inferred_type":"Integral","numerical_statistics":{{"common":{{"num_present":4,"num_missing":0}},"#,
            r#""mean":0.5,"sum":2.0,"std_dev":0.5,"min":0.0,"max":1.0,"distribution":{{"kll":{{"buckets":[{}],"#,
            r#""sketch":{{"parameters":{{"c":0.64,"k":2048.0}},"data":[[1.0,0.0,1.0,0.0]]}}}}}}}}}},"#,
            r#"{{"name":"x","inferred_type":"Fractional","numerical_statistics":{{"common":{{"num_present":3,"num_missing":1}},"#,
            r#""mean":1.5,"sum":4.5,"std_dev":0.816496580927726,"min":0.5,"max":2.5,"distribution":{{"kll":{{"buckets":[{}],"#,
            r#""sketch":{{"parameters":{{"c":0.64,"k":2048.0}},"data":[[0.5,1.5,2.5]]}}}}}}}}}},"#,
            r#"{{"name":"s","inferred_type":"String","string_statistics":{{"common":{{"num_present":4,"num_missing":0}},"#,
            r#""distinct_count":2.0,"distribution":{{"categorical":{{"buckets":[{{"value":"a","count":2}},{{"value":"b","count":2}}]}}}}}}}}]}}"#
        ),
        buckets(0.0, 1.0, [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        buckets(0.5, 2.5, [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
    );
    assert_eq!(serde_json::to_string(&b.statistics).unwrap(), want);
    assert!(want.contains(r#""upper_bound":0.7,"#), "{want}");

    assert_eq!(
        serde_json::to_string(&b.constraints).unwrap(),
        concat!(
            r#"{"version":0,"features":["#,
            r#"{"name":"y","inferred_type":"Integral","completeness":1.0,"num_constraints":{"is_non_negative":true}},"#,
            r#"{"name":"x","inferred_type":"Fractional","completeness":0.32,"num_constraints":{"is_non_negative":true}},"#,
            r#"{"name":"s","inferred_type":"String","completeness":1.0,"string_constraints":{"domains":["a","b"]}}],"#,
            r#""monitoring_config":{"evaluate_constraints":"Enabled","emit_metrics":"Enabled","#,
            r#""datatype_check_threshold":1.0,"domain_content_threshold":1.0,"#,
            r#""distribution_constraints":{"perform_comparison":"Enabled","comparison_threshold":0.1,"#,
            r#""comparison_method":"Robust","categorical_comparison_threshold":0.1,"#,
            r#""categorical_drift_method":"LInfinity"}}}"#
        )
    );
}

/// §3.3's observed description: 1970 of 1977 values Integral.
#[test]
fn data_type_check_description_of_the_reference() {
    let mut base = String::from("Area Code_408\n");
    let mut window = base.clone();
    for i in 0..2000 {
        base.push_str(if i % 4 == 0 { "1\n" } else { "0\n" });
    }
    for i in 0..1977 {
        window.push_str(match i {
            _ if i % 300 == 7 => "0.5\n",
            _ if i % 4 == 0 => "1\n",
            _ => "0\n",
        });
    }
    assert_eq!(window.matches("0.5").count(), 7);
    let b = baseline_of(&base);
    let r = run_job(
        &b.statistics,
        &b.constraints,
        None,
        &mut CsvSource::new(window.as_bytes(), "w.csv", true),
        JobOptions::default(),
    )
    .unwrap();
    let v: Vec<_> = r
        .violations
        .violations
        .iter()
        .filter(|v| v.constraint_check_type == "data_type_check")
        .collect();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].feature_name, "Area Code_408");
    assert_eq!(
        v[0].description,
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. Observed: Only 99.64592817400101% of data is Integral."
    );
}

/// §8.1: the KLL aggregation's own minimum and maximum start at
/// 2147483647.0 and −2147483648.0, and the buckets span them; statistics'
/// `min` / `max` are the true ones.
#[test]
fn buckets_span_the_kll_aggregation_range() {
    let b = baseline_of("ms\n3000000000\n4000000000\n5000000000\n");
    let n = b.statistics.features[0]
        .numerical_statistics
        .as_ref()
        .unwrap();
    assert_eq!((n.min, n.max), (3e9, 5e9));
    let buckets = &n.distribution.kll.buckets;
    assert_eq!(buckets[0].lower_bound, 2147483647.0);
    assert_eq!(
        buckets[1].lower_bound,
        2147483647.0 + (5e9 - 2147483647.0) * 1.0 / 10.0
    );
    assert_eq!(buckets[9].upper_bound, 5e9);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<f64>(), 3.0);
    assert_eq!(buckets[9].count, 1.0);

    let b = baseline_of("v\n-3000000000\n-4000000000\n");
    let n = b.statistics.features[0]
        .numerical_statistics
        .as_ref()
        .unwrap();
    assert_eq!((n.min, n.max), (-4e9, -3e9));
    let buckets = &n.distribution.kll.buckets;
    assert_eq!(buckets[0].lower_bound, -4e9);
    assert_eq!(buckets[9].upper_bound, -2147483648.0);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<f64>(), 2.0);

    // Inside the Int range nothing changes.
    let b = baseline_of("x\n0\n301.9\n");
    let n = b.statistics.features[0]
        .numerical_statistics
        .as_ref()
        .unwrap();
    assert_eq!(
        n.distribution.kll.buckets[2].lower_bound,
        60.379999999999995
    );
}

/// §8.3: std_dev is √(M2/n) with M2 from Spark's CentralMomentAgg update
/// (delta = x − avg; deltaN = delta/n; avg += deltaN; m2 += delta·(delta − deltaN)),
/// bit for bit: for 0.1, 0.7, 0.3 that is 0.24944382578492943, where the
/// textbook Welford form m2 += delta·(x − avg) gives 0.2494438257849294.
#[test]
fn std_dev_follows_sparks_recurrence() {
    let b = baseline_of("x\n0.1\n0.7\n0.3\n");
    let n = b.statistics.features[0]
        .numerical_statistics
        .as_ref()
        .unwrap();
    assert_eq!(n.std_dev, 0.24944382578492943);
}

/// §8.3 / Deequ RetainCompletenessRule: the bound is suggested for
/// 0.2 < p < 1 only.
#[test]
fn completeness_suggested_only_above_one_fifth() {
    let mut text = String::from("sparse,dense\n");
    for i in 0..100 {
        text.push_str(if i % 10 == 0 { "1," } else { "," });
        text.push_str(if i % 2 == 0 { "1\n" } else { "\n" });
    }
    let b = baseline_of(&text);
    let c = &b.constraints.features;
    assert_eq!(c[0].completeness, None, "p = 0.1");
    // p = 0.5, n = 100: 0.5 − 1.96·0.05 = 0.402 → 0.4.
    assert_eq!(c[1].completeness, Some(0.4));
}

/// A number past the double range keeps its Fractional type but stays out
/// of the numeric statistics, so statistics.json stays readable.
#[test]
fn overflowing_numbers_keep_the_files_readable() {
    let b = baseline_of("x\n1\n1e400\n2\n");
    let f = &b.statistics.features[0];
    assert_eq!(f.inferred_type, "Fractional");
    let n = f.numerical_statistics.as_ref().unwrap();
    assert_eq!((n.common.num_present, n.sum, n.max), (3, 3.0, 2.0));
    let dir = std::env::temp_dir().join(format!("mw-monitor-overflow-{}", std::process::id()));
    b.write(&dir).unwrap();
    assert_eq!(Baseline::read(&dir).unwrap(), b);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// §3.6: every feature gets feature_non_null, feature_null,
/// feature_completeness and the five feature_*_counts; numeric ones
/// feature_data; String ones feature_estimated_unique_values; compared ones
/// feature_baseline_drift.
#[test]
fn metric_names_per_feature() {
    let b = baseline_of("y,x,s\n1,0.5,a\n0,1.5,b\n1,2.5,a\n0,,b\n");
    let window = "y,x,s\n1,0.5,a\n0,x,true\n1,,a\n";
    let r = run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut CsvSource::new(window.as_bytes(), "w.csv", true),
        JobOptions::default(),
    )
    .unwrap();
    let m = metrics(&r);
    let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
    let value = |name: &str| match m.iter().find(|m| m.name == name).map(|m| m.value) {
        Some(MetricValue::Value(v)) => v,
        other => panic!("{name}: {other:?}"),
    };
    for f in ["y", "x", "s"] {
        for prefix in [
            "feature_non_null_",
            "feature_null_",
            "feature_completeness_",
            "feature_fractional_counts_",
            "feature_integral_counts_",
            "feature_string_counts_",
            "feature_boolean_counts_",
            "feature_unknown_counts_",
        ] {
            let name = format!("{prefix}{f}");
            assert!(names.contains(&name.as_str()), "{name} missing: {names:?}");
        }
    }
    assert!(names.contains(&"feature_data_y"));
    assert!(names.contains(&"feature_baseline_drift_y"));
    // x is a String column in this window ("x" is not a number).
    assert!(!names.contains(&"feature_data_x"));
    assert!(names.contains(&"feature_estimated_unique_values_x"));
    assert!(names.contains(&"feature_estimated_unique_values_s"));
    assert_eq!(value("feature_fractional_counts_x"), 1.0);
    assert_eq!(value("feature_string_counts_x"), 1.0);
    assert_eq!(value("feature_unknown_counts_x"), 1.0);
    assert_eq!(value("feature_integral_counts_y"), 3.0);
    assert_eq!(value("feature_boolean_counts_s"), 1.0);
    assert_eq!(value("feature_string_counts_s"), 2.0);
    assert_eq!(value("feature_non_null_x"), 2.0 / 3.0);
    assert_eq!(value("feature_null_x"), 1.0);
}

/// §8.1: statistics.json's `sketch.data` after the first two compactions
/// of level 0 (k = 2048, c = 0.64): at 2,051 values the first 2,050 are
/// sorted and the even positions (offset 0) go to level 1, the 2,051st stays;
/// at 4,390 the next 2,340 are sorted and the odd positions (the offset
/// flips on the second compaction) follow them; 610 more stay raw at level 0,
/// in arrival order — levels of 610 and 2,195 items at 5,000 values.
#[test]
fn kll_levels_as_serialised() {
    let values: Vec<f64> = (0..5000u64)
        .map(|i| ((i * 2_654_435_761) % 10_007) as f64 / 8.0)
        .collect();
    let data = |n: usize| {
        let mut text = String::from("v\n");
        for v in &values[..n] {
            text.push_str(&format!("{v}\n"));
        }
        let b = baseline_of(&text);
        let n = b.statistics.features[0]
            .numerical_statistics
            .clone()
            .unwrap();
        assert_eq!(
            (
                n.distribution.kll.sketch.parameters.c,
                n.distribution.kll.sketch.parameters.k
            ),
            (0.64, 2048.0)
        );
        n.distribution.kll.sketch.data
    };
    let sorted = |s: &[f64]| {
        let mut s = s.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let every_other = |s: Vec<f64>, offset: usize| -> Vec<f64> {
        s.into_iter().skip(offset).step_by(2).collect()
    };

    assert_eq!(data(2050), vec![values[..2050].to_vec()]);

    let first = every_other(sorted(&values[..2050]), 0);
    assert_eq!(first.len(), 1025);
    assert_eq!(data(2051), vec![vec![values[2050]], first.clone()]);

    let second = every_other(sorted(&values[2050..4390]), 1);
    let level1: Vec<f64> = first.iter().chain(&second).copied().collect();
    assert_eq!(data(4390), vec![vec![], level1.clone()]);

    let d = data(5000);
    assert_eq!(d, vec![values[4390..].to_vec(), level1]);
    assert_eq!((d[0].len(), d[1].len()), (610, 2195));
}

/// §8.2: Deequ's per-value patterns and the column decision, on whole
/// columns as statistics.json reports them.
#[test]
fn type_inference_edge_cases() {
    let cases: &[(&[&str], &str)] = &[
        (&["1", "2", "3"], "Integral"),
        (&["1", "2", "3.0"], "Fractional"),
        (&["1", "1e5"], "Fractional"),
        (&["-1.5E-3", "+ 2", " 7", "- 0.5"], "Fractional"),
        (&["+ 7", " 8", "-0", "007"], "Integral"),
        (&["1", "7 "], "String"),
        (&["1", ".5"], "String"),
        (&["1", "5."], "String"),
        (&["1", "e5"], "String"),
        (&["1", "NaN"], "String"),
        (&["1", "inf"], "String"),
        (&["1", "0x1F"], "String"),
        (&["1", "\"1,000\""], "String"),
        (&["1", "١٢"], "String"),
        (&["1", "true"], "String"),
        (&["true", "false"], "String"),
        (&["True", "1"], "String"),
        (&["", ""], "Unknown"),
    ];
    for (values, want) in cases {
        let mut text = String::from("c\n");
        for v in *values {
            text.push_str(v);
            text.push('\n');
        }
        // A single empty field would be a blank line: pad with a second column.
        let text = text.replace('\n', ",x\n").replacen("c,x", "c,pad", 1);
        let b = baseline_of(&text);
        let f = &b.statistics.features[0];
        assert_eq!(&f.inferred_type, want, "{values:?}");
        let common = f.common().unwrap();
        let nulls = values.iter().filter(|v| v.is_empty()).count() as u64;
        assert_eq!(common.num_missing, nulls, "{values:?}");
        assert_eq!(common.num_present + nulls, values.len() as u64);
        assert_eq!(
            f.numerical_statistics.is_some(),
            matches!(*want, "Integral" | "Fractional"),
            "{values:?}"
        );
    }
}

/// §2.3: `is_non_negative` is min ≥ 0 (−0 counts as non-negative, as in
/// Deequ's `NonNegativeNumbersRule`), for numeric features only.
#[test]
fn is_non_negative_suggestions() {
    let b = baseline_of("a,b,c,s\n-0,0.5,-1,x\n3,2,4,y\n");
    let c = &b.constraints.features;
    let nn = |i: usize| c[i].num_constraints.map(|n| n.is_non_negative);
    assert_eq!(
        (nn(0), nn(1), nn(2), nn(3)),
        (Some(true), Some(true), Some(false), None)
    );
}
