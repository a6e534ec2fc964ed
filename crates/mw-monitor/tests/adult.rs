//! Acceptance on the real Adult census data: a baseline from the training
//! split; the test split raises nothing; shifted windows raise exactly the
//! violations their shift implies.

use crate::common::*;
use mw_monitor::table::Table;

#[test]
fn baseline_statistics_of_the_training_split() {
    let b = baseline();
    assert_eq!(b.statistics.dataset.item_count, 32_561);
    let age = b
        .statistics
        .features
        .iter()
        .find(|f| f.name == "age")
        .unwrap();
    assert_eq!(age.inferred_type, "Integral");
    let n = age.numerical_statistics.as_ref().unwrap();
    assert_eq!((n.min, n.max, n.sum), (17.0, 90.0, 1_256_257.0));
    assert!((n.mean - 38.58164675532078).abs() < 1e-12);
    // numpy.std(age) (population).
    assert!(
        (n.std_dev - 13.640223092304275).abs() < 1e-9,
        "{}",
        n.std_dev
    );
    let buckets = &n.distribution.kll.buckets;
    assert_eq!(buckets.len(), 10);
    assert_eq!(buckets[0].lower_bound, 17.0);
    assert_eq!(buckets[1].lower_bound, 17.0 + (90.0 - 17.0) * 1.0 / 10.0);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<f64>(), 32_561.0);
    let sketch = &n.distribution.kll.sketch;
    assert_eq!((sketch.parameters.c, sketch.parameters.k), (0.64, 2048.0));
    let weight: f64 = sketch
        .data
        .iter()
        .enumerate()
        .map(|(h, l)| l.len() as f64 * 2f64.powi(h as i32))
        .sum();
    assert_eq!(
        weight, 32_561.0,
        "the sketch keeps the total weight exactly"
    );

    let wc = b
        .statistics
        .features
        .iter()
        .find(|f| f.name == "workclass")
        .unwrap();
    let s = wc.string_statistics.as_ref().unwrap();
    assert_eq!(
        (s.common.num_present, s.common.num_missing),
        (30_725, 1_836)
    );
    assert_eq!(s.distinct_count, 8.0);
    assert_eq!(wc.categorical().unwrap()[0].value, "Private");

    let c = &b.constraints;
    let completeness = |name: &str| {
        c.features
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .completeness
    };
    assert_eq!(completeness("age"), Some(1.0));
    assert_eq!(completeness("workclass"), Some(0.94));
    let country = c
        .features
        .iter()
        .find(|f| f.name == "native_country")
        .unwrap();
    assert_eq!(
        country.string_constraints.as_ref().unwrap().domains.len(),
        41
    );
    assert_eq!(
        country.string_constraints.as_ref().unwrap().domains[0],
        "United-States"
    );
    let age_c = c.features.iter().find(|f| f.name == "age").unwrap();
    assert!(age_c.num_constraints.unwrap().is_non_negative);
}

#[test]
fn the_test_split_raises_nothing() {
    let report = job(test());
    assert_eq!(violations(&report), vec![]);
    assert_eq!(report.status(), "Completed");
    let d = report.drift_report.as_ref().unwrap();
    assert_eq!(d.tested_features, 15);
    assert_eq!(d.drifted_features, 0);
    assert!(!d.dataset_drift);
}

#[test]
fn only_rows_with_age_over_50() {
    let t = test();
    let age = col(t, "age");
    let report = job(&filter(t, |r| {
        r[age].as_deref().unwrap().parse::<u32>().unwrap() > 50
    }));
    // Age itself, and what age drives: marital status and relationship
    // (widowed, husbands) beyond the Robust threshold; workclass and
    // occupation go missing for the retired, below the 0.94 completeness bound.
    assert_eq!(
        violations(&report),
        pairs(&[
            ("age", "baseline_drift_check"),
            ("marital_status", "baseline_drift_check"),
            ("relationship", "baseline_drift_check"),
            ("occupation", "completeness_check"),
            ("workclass", "completeness_check"),
        ])
    );
    assert_eq!(report.status(), "CompletedWithViolations");
    let d = report.drift_report.as_ref().unwrap();
    let drifted: Vec<&str> = d
        .features
        .iter()
        .filter(|f| f.drift)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        drifted,
        [
            "age",
            "workclass",
            "fnlwgt",
            "education",
            "education_num",
            "marital_status",
            "relationship",
            "hours_per_week"
        ]
    );
    assert!(d.dataset_drift, "8 of 15 features drift");
    // Significant but immaterial: the effect size keeps these out.
    let sex = d.features.iter().find(|f| f.name == "sex").unwrap();
    assert!(sex.p_value_adjusted < 0.05 && !sex.drift);
    assert_eq!(sex.rule, "significance_and_effect");
}

#[test]
fn a_category_removed() {
    let t = test();
    let edu = col(t, "education");
    let report = job(&filter(t, |r| r[edu].as_deref() != Some("HS-grad")));
    // HS-grad is a third of the rows: education drifts, and education_num
    // (education's code) with it; HS-grad rows are more complete than the
    // rest, so workclass and occupation fall just under 94 %.
    assert_eq!(
        violations(&report),
        pairs(&[
            ("education", "baseline_drift_check"),
            ("education_num", "baseline_drift_check"),
            ("occupation", "completeness_check"),
            ("workclass", "completeness_check"),
        ])
    );
}

fn map_column(t: &Table, name: &str, f: impl Fn(usize, Option<String>) -> Option<String>) -> Table {
    let c = col(t, name);
    let mut out = t.clone();
    for (i, r) in out.rows.iter_mut().enumerate() {
        r[c] = f(i, r[c].take());
    }
    out
}

#[test]
fn ten_percent_of_a_column_blanked() {
    let w = map_column(
        test(),
        "hours_per_week",
        |i, v| if i % 10 == 0 { None } else { v },
    );
    let report = job(&w);
    assert_eq!(
        violations(&report),
        pairs(&[("hours_per_week", "completeness_check")])
    );
    let v = &report.violations.violations[0];
    assert_eq!(
        v.description,
        "Data completeness requirement is not met. Expected completeness: 100.0%. Observed: Only 89.99447208402432% of data is complete."
    );
}

#[test]
fn a_numeric_column_given_as_text() {
    let w = map_column(test(), "age", |_, v| v.map(|s| format!("{s} years")));
    let report = job(&w);
    assert_eq!(violations(&report), pairs(&[("age", "data_type_check")]));
    assert_eq!(
        report.violations.violations[0].description,
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. Observed: Only 0.0% of data is Integral."
    );
    let d = report.drift_report.as_ref().unwrap();
    assert!(d.skipped.iter().any(|(n, _)| n == "age"));
}

#[test]
fn a_new_category_and_columns_missing_or_extra() {
    let t = test();
    let mut w = map_column(t, "race", |i, v| {
        if i % 50 == 0 {
            Some("Martian".into())
        } else {
            v
        }
    });
    let drop = col(&w, "fnlwgt");
    w.columns.remove(drop);
    w.columns.push("score".into());
    for r in &mut w.rows {
        r.remove(drop);
        r.push(Some("0.5".into()));
    }
    let report = job(&w);
    assert_eq!(
        violations(&report),
        pairs(&[
            ("fnlwgt", "missing_column_check"),
            ("race", "categorical_values_check"),
            ("score", "extra_column_check"),
        ])
    );
}

#[test]
fn metrics_carry_sagemaker_names() {
    let t = test();
    let age = col(t, "age");
    let report = job(&filter(t, |r| {
        r[age].as_deref().unwrap().parse::<u32>().unwrap() > 50
    }));
    let m = mw_monitor::metrics(&report);
    let get = |name: &str| m.iter().find(|x| x.name == name).unwrap().value;
    match get("feature_baseline_drift_age") {
        mw_monitor::MetricValue::Value(v) => assert!(v > 0.7),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get("feature_non_null_age"),
        mw_monitor::MetricValue::Value(1.0)
    );
    match get("feature_data_age") {
        mw_monitor::MetricValue::StatisticSet { minimum, .. } => assert_eq!(minimum, 51.0),
        other => panic!("{other:?}"),
    }
    assert!(m
        .iter()
        .any(|x| x.name == "feature_estimated_unique_values_race"));
}

#[test]
fn a_capture_window_maps_positions_onto_baseline_names() {
    // The first 200 test rows as captured traffic: income (the output) then the features.
    let t = test();
    let income = col(t, "income");
    let mut lines = Vec::new();
    for r in t.rows.iter().take(200) {
        let input: Vec<&str> = r
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != income)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
            .collect();
        lines.push(format!(
            r#"{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv","mode":"OUTPUT","data":"{}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"x","inferenceTime":"2024-01-01T00:00:00Z"}},"eventVersion":"0"}}"#,
            input.join(","),
            r[income].as_deref().unwrap()
        ));
    }
    let window =
        mw_monitor::capture::rebuild(lines.iter().map(String::as_str), &Default::default())
            .unwrap();
    assert_eq!(window.columns.len(), 15);
    // A baseline whose column order is output first, as SageMaker requires.
    let tr = train();
    let order: Vec<usize> = std::iter::once(col(tr, "income"))
        .chain((0..tr.columns.len()).filter(|&i| i != col(tr, "income")))
        .collect();
    let reordered = Table {
        columns: order.iter().map(|&i| tr.columns[i].clone()).collect(),
        rows: tr
            .rows
            .iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect(),
        positional: false,
    };
    let b = mw_monitor::Baseline::compute(&mut &reordered, Default::default()).unwrap();
    let report = mw_monitor::run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &window,
        Default::default(),
    )
    .unwrap();
    assert_eq!(report.statistics.features[0].name, "income");
    let age = report
        .statistics
        .features
        .iter()
        .find(|f| f.name == "age")
        .unwrap();
    assert_eq!(age.inferred_type, "Integral");
    assert_eq!(
        age.numerical_statistics
            .as_ref()
            .unwrap()
            .common
            .num_present,
        200
    );
    // 200 rows: no type, drift or domain violation; the only ones are the
    // two sparse columns' completeness (6.5 % missing in these rows; the bound is 94 %).
    assert_eq!(
        violations(&report),
        pairs(&[
            ("occupation", "completeness_check"),
            ("workclass", "completeness_check")
        ])
    );
}
