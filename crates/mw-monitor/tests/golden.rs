//! The reference's worked vectors, reproduced exactly.

use mw_monitor::distance::{categorical_linf, numeric_distance, robust};
use mw_monitor::files::ComparisonMethod;
use mw_monitor::kll::{buckets, KllSketch};
use mw_monitor::table::CsvSource;
use mw_monitor::{Baseline, BaselineOptions};

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
