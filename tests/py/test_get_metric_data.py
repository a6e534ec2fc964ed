"""GetMetricData: MetricStat queries, labels, ordering, pagination, metric math, SEARCH.

The data (Sum per minute, ten one-minute buckets from t0):
  A: 3 5 2 8 13 1 4 6 9 10          (every minute)
  B: 10 - 20 30 - - 60 - - 90       (gaps: missing points)
  C: -1 2 -3 4 -5 6 -7 8 -9 10      (negatives, for ABS)
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support import aligned, dt, results_by_id, series, unique_namespace

A = [3.0, 5.0, 2.0, 8.0, 13.0, 1.0, 4.0, 6.0, 9.0, 10.0]
B = {0: 10.0, 2: 20.0, 3: 30.0, 6: 60.0, 9: 90.0}
C = [-1.0, 2.0, -3.0, 4.0, -5.0, 6.0, -7.0, 8.0, -9.0, 10.0]
N = len(A)


@pytest.fixture(scope="module")
def _data():
    return {}


@pytest.fixture
def data(cw, protocol, _data):
    """Pushes A, B, C once per protocol; returns (namespace, t0)."""
    if protocol not in _data:
        ns = unique_namespace(f"gmd-{protocol}")
        t0 = aligned(3600, 600)
        md = []
        for i, v in enumerate(A):
            md.append({"MetricName": "A", "Value": v, "Timestamp": dt(t0 + 60 * i + 7)})
        for i, v in B.items():
            md.append({"MetricName": "B", "Value": v, "Timestamp": dt(t0 + 60 * i + 11)})
        for i, v in enumerate(C):
            md.append({"MetricName": "C", "Value": v, "Timestamp": dt(t0 + 60 * i + 13)})
        cw.put_metric_data(Namespace=ns, MetricData=md)
        _data[protocol] = (ns, t0)
    return _data[protocol]


def stat_query(qid, ns, name, stat="Sum", period=60, **extra):
    q = {"Id": qid, "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name}, "Period": period, "Stat": stat}}
    q.update(extra)
    return q


def expr(qid, expression, **extra):
    q = {"Id": qid, "Expression": expression}
    q.update(extra)
    return q


def run(cw, ns, t0, queries, with_base=True, **kw):
    """Runs the queries (plus m1=A, m2=B, m3=C unless with_base=False) over the ten minutes.

    Returns {id: {minute index: value}} for the returned results.
    """
    base = [
        stat_query("m1", ns, "A", ReturnData=False),
        stat_query("m2", ns, "B", ReturnData=False),
        stat_query("m3", ns, "C", ReturnData=False),
    ]
    resp = cw.get_metric_data(
        MetricDataQueries=(base if with_base else []) + queries, StartTime=dt(t0), EndTime=dt(t0 + 60 * N), **kw
    )
    out = {}
    for rid, r in results_by_id(resp).items():
        pts = series(r)
        idx = {}
        for t, v in pts:
            assert (t - t0) % 60 == 0, f"{rid}: timestamp {t} not on a period boundary"
            i = (t - t0) // 60
            assert i not in idx, f"{rid}: timestamp {t} twice"
            idx[i] = v
        out[rid] = idx
    return out


def approx_dict(d, rel=1e-9):
    return {k: pytest.approx(v, rel=rel, abs=1e-12) for k, v in d.items()}


def test_metric_stat_queries_return_each_series(cw, data):
    ns, t0 = data
    got = run(
        cw,
        ns,
        t0,
        [stat_query("a", ns, "A"), stat_query("b", ns, "B"), stat_query("c", ns, "C"), stat_query("cnt", ns, "B", "SampleCount")],
    )
    assert set(got) == {"a", "b", "c", "cnt"}
    assert got["a"] == dict(enumerate(A))
    assert got["b"] == B
    assert got["c"] == dict(enumerate(C))
    assert got["cnt"] == {i: 1.0 for i in B}


def test_results_are_complete_and_labelled(cw, data):
    ns, t0 = data
    resp = cw.get_metric_data(
        MetricDataQueries=[stat_query("a", ns, "A", Label="my label"), stat_query("b", ns, "B")],
        StartTime=dt(t0),
        EndTime=dt(t0 + 60 * N),
    )
    by_id = results_by_id(resp)
    assert by_id["a"]["Label"] == "my label"
    assert by_id["a"]["StatusCode"] == "Complete"
    # default label: the metric's name (AWS; moto appends the stat)
    assert by_id["b"].get("Label", "").startswith("B"), by_id["b"].get("Label")
    assert "NextToken" not in resp


def test_expression_label_is_returned(cw, data):
    ns, t0 = data
    resp = cw.get_metric_data(
        MetricDataQueries=[stat_query("m1", ns, "A", ReturnData=False), expr("e1", "m1*2", Label="Doubled")],
        StartTime=dt(t0),
        EndTime=dt(t0 + 60 * N),
    )
    by_id = results_by_id(resp)
    assert list(by_id) == ["e1"]
    assert by_id["e1"]["Label"] == "Doubled"


def test_return_data_false_hides_the_query_but_feeds_expressions(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("e1", "m1 + 0")])
    assert set(got) == {"e1"}, "queries with ReturnData=false must not be returned"
    assert got["e1"] == dict(enumerate(A))


def test_scan_by_orders_timestamps(cw, data):
    ns, t0 = data
    kw = dict(MetricDataQueries=[stat_query("a", ns, "A")], StartTime=dt(t0), EndTime=dt(t0 + 60 * N))
    default = series(cw.get_metric_data(**kw)["MetricDataResults"][0])
    desc = series(cw.get_metric_data(ScanBy="TimestampDescending", **kw)["MetricDataResults"][0])
    asc = series(cw.get_metric_data(ScanBy="TimestampAscending", **kw)["MetricDataResults"][0])
    expected_asc = [(t0 + 60 * i, v) for i, v in enumerate(A)]
    assert asc == expected_asc
    assert desc == list(reversed(expected_asc))
    assert default == desc, "TimestampDescending is the default"


def test_max_datapoints_paginates_and_every_point_is_seen_once(cw, data):
    ns, t0 = data
    paginator = cw.get_paginator("get_metric_data")
    pages = list(
        paginator.paginate(
            MetricDataQueries=[stat_query("a", ns, "A"), stat_query("b", ns, "B")],
            StartTime=dt(t0),
            EndTime=dt(t0 + 60 * N),
            ScanBy="TimestampAscending",
            PaginationConfig={"PageSize": 3},
        )
    )
    seen = []
    for page in pages:
        page_points = 0
        for r in page["MetricDataResults"]:
            pts = series(r)
            page_points += len(pts)
            seen += [(r["Id"], t, v) for t, v in pts]
        assert page_points <= 3, f"MaxDatapoints=3 but a page had {page_points} points"
        if page.get("NextToken"):
            assert any(r["StatusCode"] == "PartialData" for r in page["MetricDataResults"]), page
    assert len(pages) >= 5, f"15 points with MaxDatapoints=3 came in {len(pages)} pages"
    assert all(r["StatusCode"] == "Complete" for r in pages[-1]["MetricDataResults"])
    expected = [("a", t0 + 60 * i, v) for i, v in enumerate(A)] + [("b", t0 + 60 * i, v) for i, v in B.items()]
    assert sorted(seen) == sorted(expected), "each point exactly once"


def test_math_multiplies_a_series_by_a_scalar(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("e1", "m1*2"), expr("e2", "-m1 / 4")])
    assert got["e1"] == {i: 2 * v for i, v in enumerate(A)}
    assert got["e2"] == approx_dict({i: -v / 4 for i, v in enumerate(A)})


def test_math_addition_counts_missing_points_as_zero(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("e1", "m1 + m2"), expr("e2", "m2 - m1")])
    assert got["e1"] == {i: A[i] + B.get(i, 0.0) for i in range(N)}
    assert got["e2"] == {i: B.get(i, 0.0) - A[i] for i in range(N)}


def test_math_sum_of_metrics_adds_point_by_point(cw, data):
    ns, t0 = data
    got = run(
        cw,
        ns,
        t0,
        [stat_query("m1", ns, "A", ReturnData=False), stat_query("m2", ns, "B", ReturnData=False), expr("e1", "SUM(METRICS())")],
        with_base=False,
    )
    assert got["e1"] == {i: A[i] + B.get(i, 0.0) for i in range(N)}


def test_math_metrics_filter_by_id_substring(cw, data):
    ns, t0 = data
    got = run(
        cw,
        ns,
        t0,
        [
            stat_query("aa1", ns, "A", ReturnData=False),
            stat_query("bb1", ns, "B", ReturnData=False),
            expr("e1", "SUM(METRICS('aa'))"),
        ],
        with_base=False,
    )
    assert got["e1"] == dict(enumerate(A))


def test_math_rate_and_diff(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("r", "RATE(m1)"), expr("d", "DIFF(m1)")])
    assert got["d"] == {i: A[i] - A[i - 1] for i in range(1, N)}
    assert got["r"] == approx_dict({i: (A[i] - A[i - 1]) / 60.0 for i in range(1, N)})


def test_math_fill_with_value_and_repeat(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("z", "FILL(m2, 0)"), expr("k", "FILL(m2, 7.5)"), expr("rep", "FILL(m2, REPEAT)")])
    assert got["z"] == {i: B.get(i, 0.0) for i in range(N)}
    assert got["k"] == {i: B.get(i, 7.5) for i in range(N)}
    last, repeated = None, {}
    for i in range(N):
        last = B.get(i, last)
        repeated[i] = last
    assert got["rep"] == repeated


def test_math_if_with_and_without_else(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("both", "IF(m1 > 4, m1 * 10, m1)"), expr("only", "IF(m1 > 4, m1)"), expr("cmp", "m1 > 4")])
    assert got["both"] == {i: (v * 10 if v > 4 else v) for i, v in enumerate(A)}
    assert got["only"] == {i: v for i, v in enumerate(A) if v > 4}, "no else branch drops the point"
    assert got["cmp"] == {i: (1.0 if v > 4 else 0.0) for i, v in enumerate(A)}


def test_math_abs(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("e1", "ABS(m3)")])
    assert got["e1"] == {i: abs(v) for i, v in enumerate(C)}


def test_math_min_max_of_a_series_are_scalars(cw, data):
    ns, t0 = data
    got = run(cw, ns, t0, [expr("lo", "m1 - MIN(m1)"), expr("hi", "m1 / MAX(m1)")])
    assert got["lo"] == {i: v - min(A) for i, v in enumerate(A)}
    assert got["hi"] == approx_dict({i: v / max(A) for i, v in enumerate(A)})


def test_math_min_max_of_metrics_work_point_by_point(cw, data):
    ns, t0 = data
    got = run(
        cw,
        ns,
        t0,
        [
            stat_query("m1", ns, "A", ReturnData=False),
            stat_query("m2", ns, "B", ReturnData=False),
            expr("hi", "MAX(METRICS())"),
            expr("lo", "MIN(METRICS())"),
        ],
        with_base=False,
    )
    for i in B:  # where both series have a point
        assert got["hi"][i] == max(A[i], B[i]), i
        assert got["lo"][i] == min(A[i], B[i]), i
    assert set(got["hi"]) == set(range(N))


def test_search_returns_one_series_per_matching_metric(cw, protocol):
    ns = unique_namespace(f"search-{protocol}")
    t0 = aligned(3600, 600)
    md = []
    for host, value in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        for i in range(3):
            md.append({"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": host}], "Value": value, "Timestamp": dt(t0 + 60 * i)})
    # same metric name, other dimension set: not in the {ns,Host} schema
    md.append({"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "a"}, {"Name": "Env", "Value": "prod"}], "Value": 100.0, "Timestamp": dt(t0)})
    # same schema, other metric name
    md.append({"MetricName": "Mem", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": 50.0, "Timestamp": dt(t0)})
    cw.put_metric_data(Namespace=ns, MetricData=md)

    resp = cw.get_metric_data(
        MetricDataQueries=[expr("s", f"SEARCH('{{\"{ns}\",Host}} MetricName=\"CPU\"', 'Sum', 60)")],
        StartTime=dt(t0),
        EndTime=dt(t0 + 180),
    )
    results = [r for r in resp["MetricDataResults"] if r["Id"].startswith("s")]
    assert len(results) == 3, [r.get("Label") for r in results]
    value_sets = sorted(tuple(sorted(set(v for _, v in series(r)))) for r in results)
    assert value_sets == [(1.0,), (2.0,), (3.0,)]
    for r in results:
        assert sorted(t for t, _ in series(r)) == [t0, t0 + 60, t0 + 120]
    labels = [r.get("Label") for r in results]
    assert len(set(labels)) == 3, f"each series needs its own label: {labels}"


def test_search_with_a_partial_term_matches_dimension_values(cw, protocol):
    ns = unique_namespace(f"search2-{protocol}")
    t0 = aligned(3600, 600)
    md = [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Model", "Value": m}], "Value": v, "Timestamp": dt(t0)}
        for m, v in (("fraud-detector", 1.0), ("churn-model", 2.0), ("fraud-scorer", 3.0))
    ]
    cw.put_metric_data(Namespace=ns, MetricData=md)
    resp = cw.get_metric_data(
        MetricDataQueries=[expr("s", f"SEARCH('{{\"{ns}\",Model}} fraud', 'Sum', 60)")],
        StartTime=dt(t0),
        EndTime=dt(t0 + 60),
    )
    values = sorted(v for r in resp["MetricDataResults"] for _, v in series(r))
    assert values == [1.0, 3.0]


@pytest.mark.parametrize("bad", ["m1 +* 2", "NOSUCHFUNCTION(m1)", "m9 * 2", "SUM(m1", "sum(METRICS())"])
def test_bad_expression_is_rejected(cw, data, bad):
    ns, t0 = data
    with pytest.raises(ClientError) as ei:
        cw.get_metric_data(
            MetricDataQueries=[stat_query("m1", ns, "A", ReturnData=False), expr("e1", bad)],
            StartTime=dt(t0),
            EndTime=dt(t0 + 600),
        )
    err = ei.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] in ("ValidationError", "InvalidParameterValue"), err["Error"]


def test_bad_next_token_is_invalid_next_token(cw, data):
    ns, t0 = data
    with pytest.raises(cw.exceptions.InvalidNextToken) as ei:
        cw.get_metric_data(
            MetricDataQueries=[stat_query("a", ns, "A")],
            StartTime=dt(t0),
            EndTime=dt(t0 + 600),
            NextToken="this-is-not-a-token",
        )
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ei.value.response["Error"]["Code"] == "InvalidNextToken"


def test_duplicate_query_ids_are_rejected(cw, data):
    ns, t0 = data
    with pytest.raises(ClientError) as ei:
        cw.get_metric_data(
            MetricDataQueries=[stat_query("a", ns, "A"), stat_query("a", ns, "B")],
            StartTime=dt(t0),
            EndTime=dt(t0 + 600),
        )
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
