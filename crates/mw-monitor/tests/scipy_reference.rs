//! Agreement with scipy on the same columns within 1e-9
//! (fixtures/scipy_reference.json, made by fixtures/make_scipy_reference.py).

use crate::common::*;
use mw_monitor::drift::{DriftReport, FeatureDrift};
use serde_json::Value;

fn close(name: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{name}: got {got:e}, scipy {want:e}"
    );
}

fn feature<'a>(r: &'a DriftReport, name: &str) -> &'a FeatureDrift {
    r.features.iter().find(|f| f.name == name).unwrap()
}

fn check(case: &str, report: &DriftReport, reference: &Value) {
    let cols = reference["cases"][case].as_object().unwrap();
    for (name, want) in cols {
        let f = feature(report, name);
        let t = |k: &str| {
            f.tests
                .get(k)
                .unwrap_or_else(|| panic!("{case}/{name}: no {k}"))
        };
        let at = |k: &str| format!("{case}/{name}/{k}");
        assert_eq!(
            f.window_count,
            want["n_window"].as_u64().unwrap(),
            "{}",
            at("n_window")
        );
        let chi = t("chi_square");
        close(
            &at("chi2"),
            chi.statistic,
            want["chi_square"]["statistic"].as_f64().unwrap(),
        );
        close(
            &at("chi2 p"),
            chi.p_value.unwrap(),
            want["chi_square"]["p_value"].as_f64().unwrap(),
        );
        assert_eq!(chi.dof, want["chi_square"]["dof"].as_u64(), "{}", at("dof"));
        close(
            &at("js"),
            t("jensen_shannon").statistic,
            want["jensen_shannon"].as_f64().unwrap(),
        );
        close(
            &at("psi"),
            t("population_stability_index").statistic,
            want["psi"].as_f64().unwrap(),
        );
        if f.kind == "numeric" {
            let ks = t("kolmogorov_smirnov");
            close(
                &at("ks"),
                ks.statistic,
                want["ks_statistic"].as_f64().unwrap(),
            );
            close(
                &at("ks p"),
                ks.p_value.unwrap(),
                want["ks_p_value"].as_f64().unwrap(),
            );
            close(
                &at("wasserstein"),
                t("wasserstein").statistic,
                want["wasserstein"].as_f64().unwrap(),
            );
            if let Some(w) = want["wasserstein_normed"].as_f64() {
                close(
                    &at("wasserstein normed"),
                    t("wasserstein_normed").statistic,
                    w,
                );
            }
            let ad = t("anderson_darling");
            close(
                &at("ad"),
                ad.statistic,
                want["anderson_darling_statistic"].as_f64().unwrap(),
            );
            close(
                &at("ad p"),
                ad.p_value.unwrap(),
                want["anderson_darling_p_value"].as_f64().unwrap(),
            );
        }
    }
}

fn reference() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scipy_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn report(base: &mw_monitor::Table, window: &mw_monitor::Table) -> DriftReport {
    let b = mw_monitor::Baseline::compute(&mut &*base, Default::default()).unwrap();
    mw_monitor::run_job(
        &b.statistics,
        &b.constraints,
        b.drift.as_ref(),
        &mut &*window,
        Default::default(),
    )
    .unwrap()
    .drift_report
    .unwrap()
}

#[test]
fn full_test_split_asymptotic_ks() {
    check(
        "full_test",
        job(test()).drift_report.as_ref().unwrap(),
        &reference(),
    );
}

#[test]
fn age_over_50_tiny_p_values() {
    let t = test();
    let age = col(t, "age");
    let w = filter(t, |r| {
        r[age].as_deref().unwrap().parse::<u32>().unwrap() > 50
    });
    check(
        "age_over_50",
        job(&w).drift_report.as_ref().unwrap(),
        &reference(),
    );
}

#[test]
fn small_samples_exact_ks() {
    let r = reference();
    check(
        "small_unequal",
        &report(&head(train(), 1000), &head(test(), 700)),
        &r,
    );
    check(
        "small_equal",
        &report(&head(train(), 1000), &head(test(), 1000)),
        &r,
    );
}
