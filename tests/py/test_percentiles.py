"""Extended statistics on real data, checked against numpy.

The reference numbers come from fixtures/stats_reference.json, made by
fixtures/make_stat_fixtures.py from columns of testdata/california_housing.csv.
All values of a data set go into one 60 s period (as Values/Counts datums);
the server must give:
  - Sum, Minimum, Maximum, SampleCount, Average exactly (rel 1e-9),
  - every extended statistic (pNN, TM/tm, WM/wm, TC/tc, TS/ts, IQM, PR, TC with
    absolute bounds) within 1% of numpy's value,
  - no percentile-family value at all when a value in the period is negative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from support import aligned, close, datapoints_by_time, dt, epoch, results_by_id, series, unique_namespace

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "stats_reference.json").read_text())
DATASETS = {d["name"]: d for d in REFERENCE["datasets"]}
NEGATIVE = REFERENCE["negative_dataset"]
BASIC = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]
REL_TOL = 0.01
PERCENTILE_FAMILY = ["p50", "p90", "tm90", "TM(10%:90%)", "wm90", "tc90", "ts90", "IQM", "PR(:5)", "TC(2:6)"]


def put_dataset(cw, ns: str, metric: str, t0: int, datums: list[dict], extra=()):
    data = [
        {"MetricName": metric, "Values": d["Values"], "Counts": d["Counts"], "Timestamp": dt(t0 + (i % 50)), "Unit": "None"}
        for i, d in enumerate(datums)
    ]
    data += list(extra)
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 1000])


@pytest.fixture(scope="module")
def _pushed():
    return {}


@pytest.fixture
def pushed(cw, protocol, _pushed):
    """Pushes every reference data set once per protocol; returns {name: (ns, metric, t0)}."""
    key = protocol
    if key not in _pushed:
        t0 = aligned(1800)
        out = {}
        for name, ds in DATASETS.items():
            ns = unique_namespace(f"pct-{protocol}")
            put_dataset(cw, ns, name, t0, ds["datums"])
            out[name] = (ns, name, t0)
        ns = unique_namespace(f"neg-{protocol}")
        put_dataset(cw, ns, NEGATIVE["name"], t0, NEGATIVE["datums"])
        out[NEGATIVE["name"]] = (ns, NEGATIVE["name"], t0)
        _pushed[key] = out
    return _pushed[key]


def gms(cw, ns, metric, t0, statistics=None, extended=None):
    kw = dict(Namespace=ns, MetricName=metric, StartTime=dt(t0), EndTime=dt(t0 + 60), Period=60)
    if statistics:
        kw["Statistics"] = statistics
    if extended:
        kw["ExtendedStatistics"] = extended
    dps = datapoints_by_time(cw.get_metric_statistics(**kw))
    assert list(dps) == [t0], f"expected one datapoint at {t0}, got {sorted(dps)}"
    return dps[t0]


def gmd(cw, ns, metric, t0, stats: list[str]) -> dict:
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {"Metric": {"Namespace": ns, "MetricName": metric}, "Period": 60, "Stat": s},
        }
        for i, s in enumerate(stats)
    ]
    resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=dt(t0), EndTime=dt(t0 + 60))
    by_id = results_by_id(resp)
    out = {}
    for i, s in enumerate(stats):
        out[s] = series(by_id[f"q{i}"])
    return out


def within(actual: float, expected: float, rel: float = REL_TOL) -> bool:
    return math.isclose(actual, expected, rel_tol=rel)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_basic_statistics_are_exact(cw, pushed, dataset):
    ns, metric, t0 = pushed[dataset]
    ref = DATASETS[dataset]["basic"]
    dp = gms(cw, ns, metric, t0, statistics=BASIC)
    for stat in BASIC:
        assert close(dp[stat], ref[stat]), f"{stat}: got {dp[stat]!r}, numpy {ref[stat]!r}"
    got = gmd(cw, ns, metric, t0, BASIC)
    for stat in BASIC:
        assert len(got[stat]) == 1 and got[stat][0][0] == t0, (stat, got[stat])
        assert close(got[stat][0][1], ref[stat]), f"GetMetricData {stat}: got {got[stat][0][1]!r}, numpy {ref[stat]!r}"


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_extended_statistics_match_numpy_in_get_metric_statistics(cw, pushed, dataset):
    ns, metric, t0 = pushed[dataset]
    ref = DATASETS[dataset]["extended"]
    names = list(ref)
    got = {}
    for i in range(0, len(names), 10):  # at most 10 ExtendedStatistics per call
        chunk = names[i : i + 10]
        dp = gms(cw, ns, metric, t0, extended=chunk)
        ext = dp.get("ExtendedStatistics", {})
        assert sorted(ext) == sorted(chunk), f"asked {chunk}, got {sorted(ext)}"
        got.update(ext)
    wrong = {n: (got[n], ref[n]) for n in names if not within(got[n], ref[n])}
    assert not wrong, f"more than 1% away from numpy (got, numpy): {wrong}"


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_extended_statistics_match_numpy_in_get_metric_data(cw, pushed, dataset):
    ns, metric, t0 = pushed[dataset]
    ref = DATASETS[dataset]["extended"]
    got = gmd(cw, ns, metric, t0, list(ref))
    wrong = {}
    for name, expected in ref.items():
        pts = got[name]
        assert len(pts) == 1 and pts[0][0] == t0, (name, pts)
        if not within(pts[0][1], expected):
            wrong[name] = (pts[0][1], expected)
    assert not wrong, f"more than 1% away from numpy (got, numpy): {wrong}"


def test_percentiles_are_ordered_and_bounded(cw, pushed):
    """p50 <= p90 <= p99 <= p99.9 <= Maximum, and Minimum <= p50, on real data."""
    for name in DATASETS:
        ns, metric, t0 = pushed[name]
        dp = gms(cw, ns, metric, t0, extended=["p50", "p90", "p99", "p99.9", "p0", "p100"])
        e = dp["ExtendedStatistics"]
        basic = DATASETS[name]["basic"]
        assert e["p50"] <= e["p90"] <= e["p99"] <= e["p99.9"] <= e["p100"] * (1 + REL_TOL)
        assert within(e["p100"], basic["Maximum"])
        assert within(e["p0"], basic["Minimum"])


def test_negative_values_make_percentile_family_absent(cw, pushed):
    ns, metric, t0 = pushed[NEGATIVE["name"]]
    assert NEGATIVE["negative_values"] == NEGATIVE["values_total"]
    dp = gms(cw, ns, metric, t0, statistics=["SampleCount", "Sum", "Minimum", "Maximum"])
    for stat in ("SampleCount", "Sum", "Minimum", "Maximum"):
        assert close(dp[stat], NEGATIVE["basic"][stat]), stat
    resp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName=metric,
        StartTime=dt(t0),
        EndTime=dt(t0 + 60),
        Period=60,
        ExtendedStatistics=PERCENTILE_FAMILY,
    )
    for d in resp["Datapoints"]:
        present = {k for k in d.get("ExtendedStatistics", {}) if k in PERCENTILE_FAMILY}
        assert not present, f"percentile-family stats given for negative data: {d['ExtendedStatistics']}"
    got = gmd(cw, ns, metric, t0, PERCENTILE_FAMILY + ["Sum"])
    for name in PERCENTILE_FAMILY:
        assert got[name] == [], f"{name} has values {got[name]} for negative data"
    assert close(got["Sum"][0][1], NEGATIVE["basic"]["Sum"])


def test_one_negative_value_hides_percentiles_of_its_period_only(cw, protocol):
    ds = DATASETS["median_income"]
    ns = unique_namespace(f"oneneg-{protocol}")
    t0 = aligned(1800)
    # period t0: the real values plus one -1.0; period t0+60: the real values only
    put_dataset(cw, ns, "Income", t0, ds["datums"], extra=[{"MetricName": "Income", "Value": -1.0, "Timestamp": dt(t0 + 59)}])
    put_dataset(cw, ns, "Income", t0 + 60, ds["datums"])
    resp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Income",
        StartTime=dt(t0),
        EndTime=dt(t0 + 120),
        Period=60,
        Statistics=["SampleCount"],
    )
    dps = datapoints_by_time(resp)
    assert dps[t0]["SampleCount"] == ds["basic"]["SampleCount"] + 1
    resp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Income",
        StartTime=dt(t0),
        EndTime=dt(t0 + 120),
        Period=60,
        ExtendedStatistics=["p50", "tm90"],
    )
    ext = {int(round(epoch(d["Timestamp"]))): d.get("ExtendedStatistics", {}) for d in resp["Datapoints"]}
    assert "p50" not in ext.get(t0, {}) and "tm90" not in ext.get(t0, {}), ext.get(t0)
    assert within(ext[t0 + 60]["p50"], ds["extended"]["p50"])
    assert within(ext[t0 + 60]["tm90"], ds["extended"]["tm90"])


def test_percentiles_of_single_values_and_equal_statistic_values(cw, protocol):
    """Percentiles work on Value datums and on StatisticValues with Min == Max."""
    ns = unique_namespace(f"pctsv-{protocol}")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "V", "Value": float(v), "Timestamp": dt(t0 + v % 60)} for v in range(1, 101)]
        + [
            {
                "MetricName": "SV",
                "StatisticValues": {"SampleCount": 10, "Sum": 50.0, "Minimum": 5.0, "Maximum": 5.0},
                "Timestamp": dt(t0),
            }
        ],
    )
    e = gms(cw, ns, "V", t0, extended=["p50", "p90", "tc90", "PR(:25)"])["ExtendedStatistics"]
    values = list(range(1, 101))
    assert within(e["p50"], float(np.percentile(values, 50)))
    assert within(e["p90"], float(np.percentile(values, 90)))
    assert within(e["tc90"], float(sum(1 for v in values if v <= np.percentile(values, 90))))
    assert within(e["PR(:25)"], 25.0)
    e = gms(cw, ns, "SV", t0, extended=["p50", "p99"])["ExtendedStatistics"]
    assert within(e["p50"], 5.0) and within(e["p99"], 5.0)
