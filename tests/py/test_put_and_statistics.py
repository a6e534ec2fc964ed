"""PutMetricData in its three value forms, and GetMetricStatistics over them.

Every test runs once per wire protocol (json, query, cbor).
"""

from __future__ import annotations

import math

from support import (
    CBOR_PATH,
    close,
    datapoints_by_time,
    dt,
    aligned,
    list_all_metrics,
    request_protocol,
    unique_namespace,
)

BASIC = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]


def stats(cw, ns, name, start, end, period=60, dims=None, unit=None, statistics=BASIC, extended=None):
    kw = dict(
        Namespace=ns,
        MetricName=name,
        StartTime=dt(start),
        EndTime=dt(end),
        Period=period,
    )
    if statistics:
        kw["Statistics"] = statistics
    if extended:
        kw["ExtendedStatistics"] = extended
    if dims is not None:
        kw["Dimensions"] = dims
    if unit is not None:
        kw["Unit"] = unit
    return cw.get_metric_statistics(**kw)


def assert_basic(dp, count, total, minimum, maximum):
    assert dp["SampleCount"] == count
    assert close(dp["Sum"], total), (dp["Sum"], total)
    assert close(dp["Minimum"], minimum), (dp["Minimum"], minimum)
    assert close(dp["Maximum"], maximum), (dp["Maximum"], maximum)
    assert close(dp["Average"], total / count), (dp["Average"], total / count)


def test_client_really_speaks_the_forced_protocol(cw, protocol):
    ns = unique_namespace("proto")
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1.0}])
    cw.list_metrics(Namespace=ns)
    sent = cw.mw_recorder.sent
    assert len(sent) == 2
    for req in sent:
        assert request_protocol(req) == protocol
    if protocol == "cbor":
        assert sent[0].url.endswith(CBOR_PATH + "PutMetricData")
        assert sent[1].url.endswith(CBOR_PATH + "ListMetrics")
    elif protocol == "json":
        assert sent[0].headers["x-amz-target"] == "GraniteServiceVersion20100801.PutMetricData"
    else:
        assert b"Action=PutMetricData" in sent[0].body


def test_responses_use_the_request_protocol(cw, protocol):
    ns = unique_namespace("resp")
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1.0}])
    cw.list_metrics(Namespace=ns)
    received = cw.mw_recorder.received
    assert [r.operation for r in received] == ["PutMetricData", "ListMetrics"]
    for r in received:
        assert r.status == 200
        ctype = r.headers.get("content-type", "")
        if protocol == "json":
            assert ctype.startswith("application/x-amz-json-1.0"), ctype
        elif protocol == "query":
            assert ctype.startswith("text/xml") or ctype.startswith("application/xml"), ctype
        else:
            assert ctype.startswith("application/cbor"), ctype
            assert r.headers.get("smithy-protocol") == "rpc-v2-cbor"
        assert r.headers.get("x-amzn-requestid"), "responses carry x-amzn-RequestId"


def test_single_values_give_exact_basic_statistics(cw):
    ns = unique_namespace("value")
    t0 = aligned(1800)
    values = [12.5, -3.25, 1e6, 0.0, 7.125, 42.0]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "Latency", "Value": v, "Timestamp": dt(t0 + 5 * i)} for i, v in enumerate(values)],
    )
    resp = stats(cw, ns, "Latency", t0, t0 + 60)
    assert resp["Label"] == "Latency"
    dps = datapoints_by_time(resp)
    assert list(dps) == [t0]
    assert_basic(dps[t0], len(values), math.fsum(values), min(values), max(values))
    assert dps[t0]["Unit"] == "None"


def test_values_and_counts_are_weighted(cw):
    ns = unique_namespace("valcnt")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Size", "Values": [1.0, 2.0, 10.0], "Counts": [3.0, 1.0, 2.0], "Timestamp": dt(t0 + 1), "Unit": "Bytes"},
            # Counts omitted: each value counts once
            {"MetricName": "Size", "Values": [4.0, 5.0], "Timestamp": dt(t0 + 2), "Unit": "Bytes"},
        ],
    )
    dps = datapoints_by_time(stats(cw, ns, "Size", t0, t0 + 60))
    # 1,1,1,2,10,10,4,5
    assert_basic(dps[t0], 8, 34.0, 1.0, 10.0)
    assert dps[t0]["Unit"] == "Bytes"


def test_statistic_values_merge_with_raw_values(cw):
    ns = unique_namespace("statval")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Req",
                "StatisticValues": {"SampleCount": 4, "Sum": 100.0, "Minimum": 10.0, "Maximum": 40.0},
                "Timestamp": dt(t0 + 10),
            },
            {"MetricName": "Req", "Value": 55.5, "Timestamp": dt(t0 + 20)},
            {
                "MetricName": "Req",
                "StatisticValues": {"SampleCount": 2, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0},
                "Timestamp": dt(t0 + 70),
            },
        ],
    )
    dps = datapoints_by_time(stats(cw, ns, "Req", t0, t0 + 120))
    assert sorted(dps) == [t0, t0 + 60]
    assert_basic(dps[t0], 5, 155.5, 10.0, 55.5)
    assert_basic(dps[t0 + 60], 2, 3.0, 1.0, 2.0)


def test_only_requested_statistics_are_returned(cw):
    ns = unique_namespace("only")
    t0 = aligned(1800)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 3.0, "Timestamp": dt(t0)}])
    dp = datapoints_by_time(stats(cw, ns, "M", t0, t0 + 60, statistics=["Maximum", "SampleCount"]))[t0]
    assert dp["Maximum"] == 3.0 and dp["SampleCount"] == 1.0
    for absent in ("Sum", "Minimum", "Average", "ExtendedStatistics"):
        assert absent not in dp, f"{absent} returned without being asked for"


def test_units_are_aggregated_separately(cw):
    ns = unique_namespace("units")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Lat", "Value": 10.0, "Unit": "Seconds", "Timestamp": dt(t0 + 1)},
            {"MetricName": "Lat", "Value": 30.0, "Unit": "Seconds", "Timestamp": dt(t0 + 2)},
            {"MetricName": "Lat", "Value": 500.0, "Unit": "Milliseconds", "Timestamp": dt(t0 + 3)},
        ],
    )
    # No Unit in the query: one datapoint per unit, never mixed.
    resp = stats(cw, ns, "Lat", t0, t0 + 60)
    by_unit = {dp["Unit"]: dp for dp in resp["Datapoints"]}
    assert sorted(by_unit) == ["Milliseconds", "Seconds"]
    assert len(resp["Datapoints"]) == 2
    assert_basic(by_unit["Seconds"], 2, 40.0, 10.0, 30.0)
    assert_basic(by_unit["Milliseconds"], 1, 500.0, 500.0, 500.0)

    # With a Unit: only that unit's data.
    only_s = stats(cw, ns, "Lat", t0, t0 + 60, unit="Seconds")["Datapoints"]
    assert len(only_s) == 1
    assert only_s[0]["Unit"] == "Seconds"
    assert_basic(only_s[0], 2, 40.0, 10.0, 30.0)
    only_ms = stats(cw, ns, "Lat", t0, t0 + 60, unit="Milliseconds")["Datapoints"]
    assert len(only_ms) == 1 and only_ms[0]["Sum"] == 500.0

    # A unit that was never published: nothing.
    assert stats(cw, ns, "Lat", t0, t0 + 60, unit="Bytes")["Datapoints"] == []


def test_dimension_order_does_not_matter(cw):
    ns = unique_namespace("dimorder")
    t0 = aligned(1800)
    ab = [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}]
    ba = list(reversed(ab))
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "M", "Dimensions": ab, "Value": 1.0, "Timestamp": dt(t0)},
            {"MetricName": "M", "Dimensions": ba, "Value": 2.0, "Timestamp": dt(t0 + 1)},
        ],
    )
    for query_dims in (ab, ba):
        dp = datapoints_by_time(stats(cw, ns, "M", t0, t0 + 60, dims=query_dims))[t0]
        assert_basic(dp, 2, 3.0, 1.0, 2.0)
    metrics = list_all_metrics(cw, Namespace=ns)
    assert len(metrics) == 1, metrics


def test_dimensions_must_match_exactly(cw):
    ns = unique_namespace("dimexact")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "M", "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}], "Value": 5.0, "Timestamp": dt(t0)},
            {"MetricName": "M", "Dimensions": [{"Name": "A", "Value": "1"}], "Value": 7.0, "Timestamp": dt(t0)},
            {"MetricName": "M", "Value": 11.0, "Timestamp": dt(t0)},
        ],
    )
    cases = [
        ([{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}], 5.0),
        ([{"Name": "A", "Value": "1"}], 7.0),
        (None, 11.0),
    ]
    for dims, expected in cases:
        dps = datapoints_by_time(stats(cw, ns, "M", t0, t0 + 60, dims=dims))
        assert list(dps) == [t0], dims
        assert dps[t0]["Sum"] == expected and dps[t0]["SampleCount"] == 1.0, dims
    assert stats(cw, ns, "M", t0, t0 + 60, dims=[{"Name": "A", "Value": "2"}])["Datapoints"] == []


def test_high_resolution_periods(cw):
    ns = unique_namespace("hires")
    t0 = aligned(600, 60)
    # one value per second for 30 s: value = second offset + 1
    data = [
        {"MetricName": "Hi", "Value": float(i + 1), "Timestamp": dt(t0 + i), "StorageResolution": 1}
        for i in range(30)
    ]
    cw.put_metric_data(Namespace=ns, MetricData=data)

    for period in (1, 5, 10, 20, 30):
        dps = datapoints_by_time(stats(cw, ns, "Hi", t0, t0 + 60, period=period))
        expected_starts = list(range(t0, t0 + 30, period))
        assert sorted(dps) == expected_starts, period
        for start in expected_starts:
            vals = [float(s - t0 + 1) for s in range(start, min(start + period, t0 + 30))]
            assert_basic(dps[start], len(vals), math.fsum(vals), min(vals), max(vals))

    dps = datapoints_by_time(stats(cw, ns, "Hi", t0, t0 + 60, period=60))
    assert_basic(dps[t0], 30, math.fsum(range(1, 31)), 1.0, 30.0)


def test_standard_resolution_periods_are_minutes(cw):
    ns = unique_namespace("stdres")
    t0 = aligned(3600, 300)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "S", "Value": float(i), "Timestamp": dt(t0 + 60 * i + 30)} for i in range(10)],
    )
    dps = datapoints_by_time(stats(cw, ns, "S", t0, t0 + 600, period=60))
    assert sorted(dps) == [t0 + 60 * i for i in range(10)]
    assert [dps[t0 + 60 * i]["Sum"] for i in range(10)] == [float(i) for i in range(10)]
    dps = datapoints_by_time(stats(cw, ns, "S", t0, t0 + 600, period=300))
    assert sorted(dps) == [t0, t0 + 300]
    assert_basic(dps[t0], 5, 10.0, 0.0, 4.0)
    assert_basic(dps[t0 + 300], 5, 35.0, 5.0, 9.0)


def test_start_inclusive_end_exclusive_bucket_boundaries(cw):
    ns = unique_namespace("bounds")
    t0 = aligned(1800, 60)
    points = {t0 - 1: 1.0, t0: 2.0, t0 + 59: 4.0, t0 + 60: 8.0, t0 + 119: 16.0, t0 + 120: 32.0}
    cw.put_metric_data(
        Namespace=ns, MetricData=[{"MetricName": "B", "Value": v, "Timestamp": dt(t)} for t, v in points.items()]
    )
    dps = datapoints_by_time(stats(cw, ns, "B", t0, t0 + 120))
    assert sorted(dps) == [t0, t0 + 60]
    assert_basic(dps[t0], 2, 6.0, 2.0, 4.0)
    assert_basic(dps[t0 + 60], 2, 24.0, 8.0, 16.0)

    # the bucket that ends at StartTime and the one that starts at EndTime are out
    only_first = datapoints_by_time(stats(cw, ns, "B", t0, t0 + 60))
    assert list(only_first) == [t0]
    assert only_first[t0]["Sum"] == 6.0
    before = datapoints_by_time(stats(cw, ns, "B", t0 - 60, t0))
    assert list(before) == [t0 - 60]
    assert before[t0 - 60]["Sum"] == 1.0
    after = datapoints_by_time(stats(cw, ns, "B", t0 + 120, t0 + 180))
    assert list(after) == [t0 + 120]
    assert after[t0 + 120]["Sum"] == 32.0


def test_empty_buckets_are_left_out(cw):
    ns = unique_namespace("gaps")
    t0 = aligned(1800)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "G", "Value": 1.0, "Timestamp": dt(t0)},
            {"MetricName": "G", "Value": 2.0, "Timestamp": dt(t0 + 240)},
        ],
    )
    dps = datapoints_by_time(stats(cw, ns, "G", t0, t0 + 300))
    assert sorted(dps) == [t0, t0 + 240]


def test_unknown_metric_has_no_datapoints(cw):
    ns = unique_namespace("none")
    t0 = aligned(1800)
    resp = stats(cw, ns, "Nothing", t0, t0 + 600)
    assert resp["Datapoints"] == []


def test_default_timestamp_is_time_of_receipt(cw):
    ns = unique_namespace("nots")
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Now", "Value": 9.0}])
    t_end = aligned(-120)  # a couple of minutes ahead
    dps = stats(cw, ns, "Now", t_end - 900, t_end, period=60)["Datapoints"]
    assert len(dps) == 1
    assert dps[0]["Sum"] == 9.0
