"""Log events that become metrics: metric filters and EMF (reference §4.5, §6).

Metric filter values ("1", `$.field`, `$name`), dimensions, defaultValue, and
EMF documents (every dimension set, arrays as Values/Counts, percentiles) are
read back with the CloudWatch client's get_metric_statistics, 1-minute periods,
with exact Sum / SampleCount. Invalid EMF documents are stored as log lines and
counted as ModelWatch/Logs EMFValidationErrors{LogGroup=<group>}.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from logs_support import MINUTE_MS, cw_client, filter_all, logs_client, make_group, now_ms, put, unique_group
from support import datapoints_by_time, dt, list_all_metrics, unique_namespace

STATS = ["SampleCount", "Sum", "Minimum", "Maximum"]


@pytest.fixture(scope="module")
def logs(shared_server):
    return logs_client(shared_server)


@pytest.fixture(scope="module")
def cw(shared_server):
    return cw_client(shared_server)


def base_minute_s(minutes_ago: int = 20) -> int:
    t = now_ms() - minutes_ago * MINUTE_MS
    return (t - t % MINUTE_MS) // 1000


def dims_list(d: dict | None) -> list[dict]:
    return [{"Name": k, "Value": v} for k, v in (d or {}).items()]


def stats(cw, ns, metric, start_s, end_s, dims=None, extended=None, expect_points=None, wait=5.0) -> dict:
    """{bucket_start_s: datapoint}; polls briefly until `expect_points` buckets are there."""
    kw = dict(
        Namespace=ns,
        MetricName=metric,
        StartTime=dt(start_s),
        EndTime=dt(end_s),
        Period=60,
        Statistics=STATS,
    )
    if dims:
        kw["Dimensions"] = dims_list(dims)
    if extended:
        kw["ExtendedStatistics"] = extended
    deadline = time.monotonic() + wait
    while True:
        got = datapoints_by_time(cw.get_metric_statistics(**kw))
        if expect_points is None or len(got) >= expect_points or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def summary(dps: dict) -> dict:
    return {t: (dp["SampleCount"], dp["Sum"]) for t, dp in sorted(dps.items())}


def put_filter(logs, group, name, pattern, ns, metric, value, **extra):
    t = {"metricName": metric, "metricNamespace": ns, "metricValue": value, **extra}
    logs.put_metric_filter(logGroupName=group, filterName=name, filterPattern=pattern, metricTransformations=[t])


# --------------------------------------------------------------------------------------
# metric filters
# --------------------------------------------------------------------------------------


def test_count_filter_value_1(logs, cw):
    group = make_group(logs, "mcount")
    ns = unique_namespace("logs-count")
    put_filter(logs, group, "errors", "ERROR", ns, "Errors", "1")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        (ms + 1_000, "ERROR one"), (ms + 2_000, "INFO fine"), (ms + 3_000, "ERROR two"),
        (ms + 4_000, "xERRORx three"), (ms + 5_000, "error lowercase"), (ms + 59_999, "ERROR four"),
        (ms + 60_000, "ERROR next minute"), (ms + 61_000, "DEBUG"), (ms + 119_000, "ERROR again"),
    ])
    dps = stats(cw, ns, "Errors", b, b + 180, expect_points=2)
    assert summary(dps) == {b: (4.0, 4.0), b + 60: (2.0, 2.0)}
    assert dps[b]["Minimum"] == 1.0 and dps[b]["Maximum"] == 1.0
    assert [m["MetricName"] for m in list_all_metrics(cw, Namespace=ns)] == ["Errors"]


def test_filter_counts_across_streams_and_batches(logs, cw):
    group = make_group(logs, "mstreams", streams=("a", "b"))
    ns = unique_namespace("logs-streams")
    put_filter(logs, group, "f", "FAIL", ns, "Fails", "1")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "a", [(ms + 1_000, "FAIL a1"), (ms + 2_000, "FAIL a2")])
    put(logs, group, "b", [(ms + 1_500, "FAIL b1"), (ms + 30_000, "ok")])
    put(logs, group, "a", [(ms + 40_000, "FAIL a3")])
    dps = stats(cw, ns, "Fails", b, b + 60, expect_points=1)
    assert summary(dps) == {b: (4.0, 4.0)}


def test_filter_only_applies_to_events_after_it_exists(logs, cw):
    group = make_group(logs, "mafter")
    ns = unique_namespace("logs-after")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [(ms + 1_000, "ERROR before the filter")])
    put_filter(logs, group, "f", "ERROR", ns, "Errors", "1")
    put(logs, group, "s1", [(ms + 2_000, "ERROR after the filter")])
    assert summary(stats(cw, ns, "Errors", b, b + 60, expect_points=1)) == {b: (1.0, 1.0)}
    logs.delete_metric_filter(logGroupName=group, filterName="f")
    put(logs, group, "s1", [(ms + 3_000, "ERROR after the delete")])
    time.sleep(0.3)
    assert summary(stats(cw, ns, "Errors", b, b + 60)) == {b: (1.0, 1.0)}


def test_value_from_json_field(logs, cw):
    group = make_group(logs, "mjson")
    ns = unique_namespace("logs-json")
    put_filter(logs, group, "lat", "{ $.latency = * }", ns, "Latency", "$.latency", unit="Milliseconds")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        (ms + 1_000, json.dumps({"latency": 10, "op": "Get"})),
        (ms + 2_000, json.dumps({"latency": 20.25, "op": "Put"})),
        (ms + 3_000, json.dumps({"op": "NoLatency"})),
        (ms + 4_000, "latency=99 not json"),
        (ms + 5_000, json.dumps({"latency": 30.5, "op": "Get"})),
        (ms + 70_000, json.dumps({"latency": 1e3})),
    ])
    dps = stats(cw, ns, "Latency", b, b + 120, expect_points=2)
    assert summary(dps) == {b: (3.0, 60.75), b + 60: (1.0, 1000.0)}
    assert dps[b]["Minimum"] == 10.0 and dps[b]["Maximum"] == 30.5
    assert dps[b].get("Unit") == "Milliseconds"


def test_value_from_space_delimited_field(logs, cw):
    group = make_group(logs, "mdelim")
    ns = unique_namespace("logs-delim")
    put_filter(logs, group, "bytes", "[ip, user, ..., status, bytes]", ns, "Bytes", "$bytes", unit="Bytes")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        (ms + 1_000, '10.0.0.1 alice "GET /a HTTP/1.1" 200 1534'),
        (ms + 2_000, '10.0.0.2 bob "GET /b HTTP/1.1" 404 100'),
        (ms + 3_000, '10.0.0.3 carol "GET /c HTTP/1.1" 304 -'),  # not a number: no value
        (ms + 4_000, "short"),  # too few fields: no match
        (ms + 5_000, '10.0.0.4 dave "POST /d HTTP/1.1" 200 0.5'),
    ])
    dps = stats(cw, ns, "Bytes", b, b + 60, expect_points=1)
    assert summary(dps) == {b: (3.0, 1634.5)}
    assert dps[b]["Minimum"] == 0.5 and dps[b]["Maximum"] == 1534.0


def test_dimensions_from_delimited_fields(logs, cw):
    group = make_group(logs, "mdimd")
    ns = unique_namespace("logs-dimd")
    put_filter(logs, group, "by-status", "[ip, user, ..., status, bytes]", ns, "Bytes", "$bytes",
               dimensions={"Status": "$status"})
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        (ms + 1_000, "1.1.1.1 a GET /x 200 100"),
        (ms + 2_000, "1.1.1.2 b GET /y 404 7"),
        (ms + 3_000, "1.1.1.3 c GET /z 200 250"),
    ])
    ok = stats(cw, ns, "Bytes", b, b + 60, dims={"Status": "200"}, expect_points=1)
    nf = stats(cw, ns, "Bytes", b, b + 60, dims={"Status": "404"}, expect_points=1)
    assert summary(ok) == {b: (2.0, 350.0)}
    assert summary(nf) == {b: (1.0, 7.0)}
    got = sorted(tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in list_all_metrics(cw, Namespace=ns))
    assert got == [(("Status", "200"),), (("Status", "404"),)]


def test_dimensions_from_json_fields(logs, cw):
    group = make_group(logs, "mdimj")
    ns = unique_namespace("logs-dimj")
    put_filter(logs, group, "by-op", "{ $.latency > 0 }", ns, "Latency", "$.latency",
               dimensions={"Operation": "$.op", "Service": "$.svc"})
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        (ms + 1_000, json.dumps({"latency": 5, "op": "Get", "svc": "api"})),
        (ms + 2_000, json.dumps({"latency": 7, "op": "Get", "svc": "api"})),
        (ms + 3_000, json.dumps({"latency": 11, "op": "Put", "svc": "api"})),
        (ms + 4_000, json.dumps({"latency": 13, "op": "Get", "svc": "web"})),
        (ms + 5_000, json.dumps({"latency": 0, "op": "Get", "svc": "api"})),  # no match
    ])
    get_api = stats(cw, ns, "Latency", b, b + 60, dims={"Operation": "Get", "Service": "api"}, expect_points=1)
    put_api = stats(cw, ns, "Latency", b, b + 60, dims={"Operation": "Put", "Service": "api"}, expect_points=1)
    get_web = stats(cw, ns, "Latency", b, b + 60, dims={"Service": "web", "Operation": "Get"}, expect_points=1)
    assert summary(get_api) == {b: (2.0, 12.0)}
    assert summary(put_api) == {b: (1.0, 11.0)}
    assert summary(get_web) == {b: (1.0, 13.0)}
    assert len(list_all_metrics(cw, Namespace=ns)) == 3


def test_default_value(logs, cw):
    group = make_group(logs, "mdefault")
    ns = unique_namespace("logs-default")
    put_filter(logs, group, "errs", "ERROR", ns, "Errors", "1", defaultValue=0.0)
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [
        # minute b: events, none match -> the default value once
        (ms + 1_000, "INFO a"), (ms + 2_000, "INFO b"), (ms + 3_000, "DEBUG c"),
        # minute b+60: two matches -> no default
        (ms + 61_000, "ERROR x"), (ms + 62_000, "INFO y"), (ms + 63_000, "ERROR z"),
        # minute b+120: no events -> nothing; minute b+180: one non-matching event
        (ms + 181_000, "INFO w"),
    ])
    dps = stats(cw, ns, "Errors", b, b + 240, expect_points=3)
    assert summary(dps) == {b: (1.0, 0.0), b + 60: (2.0, 2.0), b + 180: (1.0, 0.0)}


def test_literal_values_other_than_one(logs, cw):
    group = make_group(logs, "mlit")
    ns = unique_namespace("logs-lit")
    put_filter(logs, group, "half", "tick", ns, "Half", "0.5")
    put_filter(logs, group, "neg", "tick", ns, "Neg", "-1")
    b = base_minute_s()
    ms = b * 1000
    put(logs, group, "s1", [(ms + i * 1000, f"tick {i}") for i in range(5)])
    assert summary(stats(cw, ns, "Half", b, b + 60, expect_points=1)) == {b: (5.0, 2.5)}
    assert summary(stats(cw, ns, "Neg", b, b + 60, expect_points=1)) == {b: (5.0, -5.0)}


# --------------------------------------------------------------------------------------
# EMF
# --------------------------------------------------------------------------------------


def emf_doc(ts_ms: int, ns: str = "MyApp", **fields) -> str:
    """The wire_examples §F document (with a current timestamp and namespace)."""
    doc = {
        "_aws": {
            "Timestamp": ts_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": ns,
                    "Dimensions": [["Service"], ["Service", "Operation"]],
                    "Metrics": [
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60},
                        {"Name": "Sizes", "Unit": "Bytes"},
                    ],
                }
            ],
        },
        "Service": "api",
        "Operation": "Get",
        "Latency": 12.5,
        "Sizes": [100, 200, 200],
        "requestId": "abc",
    }
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":"))


def _add_emf_header(request, **kwargs):
    request.headers["x-amzn-logs-format"] = "json/emf"


@pytest.mark.parametrize("with_header", [False, True], ids=["no-header", "header"])
def test_emf_wire_example(logs, cw, shared_server, with_header):
    client = logs_client(shared_server)
    if with_header:
        client.meta.events.register_first("before-sign.cloudwatch-logs.PutLogEvents", _add_emf_header)
    group = make_group(client, "emf")
    ns = unique_namespace("emf")
    b = base_minute_s(10)
    ts = b * 1000 + 5_000
    message = emf_doc(ts, ns)
    resp = put(client, group, "s1", [(ts, message)])
    assert "rejectedLogEventsInfo" not in resp
    # the event itself is stored unchanged
    assert [e["message"] for e in filter_all(logs, group)] == [message]

    for dims in ({"Service": "api"}, {"Service": "api", "Operation": "Get"}):
        lat = stats(cw, ns, "Latency", b, b + 60, dims=dims, expect_points=1)
        assert summary(lat) == {b: (1.0, 12.5)}, dims
        assert lat[b].get("Unit") == "Milliseconds"
        sizes = stats(cw, ns, "Sizes", b, b + 60, dims=dims, extended=["p99", "p0.1"], expect_points=1)
        assert summary(sizes) == {b: (3.0, 500.0)}, dims
        dp = sizes[b]
        assert dp["Minimum"] == 100.0 and dp["Maximum"] == 200.0
        assert dp.get("Unit") == "Bytes"
        assert math.isclose(dp["ExtendedStatistics"]["p99"], 200.0, rel_tol=0.01)
        assert math.isclose(dp["ExtendedStatistics"]["p0.1"], 100.0, rel_tol=0.01)
    # exactly 4 metrics: 2 metrics x 2 dimension sets, nothing without dimensions
    got = sorted(
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in list_all_metrics(cw, Namespace=ns)
    )
    assert got == [
        ("Latency", (("Operation", "Get"), ("Service", "api"))),
        ("Latency", (("Service", "api"),)),
        ("Sizes", (("Operation", "Get"), ("Service", "api"))),
        ("Sizes", (("Service", "api"),)),
    ]


def test_emf_arrays_give_percentiles(logs, cw):
    group = make_group(logs, "emfpct")
    ns = unique_namespace("emf-pct")
    b = base_minute_s(10)
    rng = np.random.default_rng(7)
    all_values = []
    events = []
    for i in range(10):
        vals = [float(round(v, 3)) for v in rng.lognormal(mean=5.0, sigma=0.6, size=100)]
        all_values += vals
        doc = {
            "_aws": {"Timestamp": b * 1000 + i * 1000,
                     "CloudWatchMetrics": [{"Namespace": ns, "Dimensions": [[]], "Metrics": [{"Name": "RT"}]}]},
            "RT": vals,
        }
        events.append((b * 1000 + i * 1000, json.dumps(doc)))
    put(logs, group, "s1", events)
    dps = stats(cw, ns, "RT", b, b + 60, extended=["p50", "p90", "p99"], expect_points=1)
    dp = dps[b]
    assert dp["SampleCount"] == 1000.0
    assert math.isclose(dp["Sum"], math.fsum(all_values), rel_tol=1e-9)
    assert dp["Minimum"] == min(all_values) and dp["Maximum"] == max(all_values)
    for p in (50, 90, 99):
        want = float(np.percentile(all_values, p))
        got = dp["ExtendedStatistics"][f"p{p}"]
        assert math.isclose(got, want, rel_tol=0.01), (p, got, want)


def test_emf_several_events_sum_and_timestamp_from_document(logs, cw):
    group = make_group(logs, "emfsum")
    ns = unique_namespace("emf-sum")
    b = base_minute_s(10)
    # the document's _aws.Timestamp (minute b+60) wins over the event timestamp (minute b)
    events = [
        (b * 1000 + 1_000, emf_doc(b * 1000 + 61_000, ns, Latency=7.5, Sizes=[1])),
        (b * 1000 + 2_000, emf_doc(b * 1000 + 62_000, ns, Latency=2.5, Sizes=[2, 2])),
    ]
    put(logs, group, "s1", events)
    lat = stats(cw, ns, "Latency", b, b + 120, dims={"Service": "api"}, expect_points=1)
    assert summary(lat) == {b + 60: (2.0, 10.0)}
    sizes = stats(cw, ns, "Sizes", b, b + 120, dims={"Service": "api", "Operation": "Get"}, expect_points=1)
    assert summary(sizes) == {b + 60: (3.0, 5.0)}


def test_emf_without_timestamp_uses_event_time(logs, cw):
    group = make_group(logs, "emfnots")
    ns = unique_namespace("emf-nots")
    b = base_minute_s(10)
    doc = {"_aws": {"CloudWatchMetrics": [{"Namespace": ns, "Dimensions": [["Host"]], "Metrics": [{"Name": "Hits"}]}]},
           "Host": "h1", "Hits": 3}
    put(logs, group, "s1", [(b * 1000 + 30_000, json.dumps(doc))])
    assert summary(stats(cw, ns, "Hits", b, b + 60, dims={"Host": "h1"}, expect_points=1)) == {b: (1.0, 3.0)}


INVALID_EMF = [
    # dimension key names a missing member
    {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "{ns}", "Dimensions": [["Missing"]], "Metrics": [{"Name": "x"}]}]}, "x": 1},
    # metric value is text
    {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "{ns}", "Dimensions": [[]], "Metrics": [{"Name": "x"}]}]}, "x": "text"},
    # bad unit
    {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "{ns}", "Dimensions": [[]], "Metrics": [{"Name": "x", "Unit": "Parsecs"}]}]}, "x": 1},
    # CloudWatchMetrics not an array
    {"_aws": {"Timestamp": 0, "CloudWatchMetrics": {}}, "x": 1},
    # dimension value is a number, not a string
    {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "{ns}", "Dimensions": [["D"]], "Metrics": [{"Name": "x"}]}]}, "x": 1, "D": 5},
]


def test_invalid_emf_counted_and_stored(logs, cw):
    group = make_group(logs, "emfbad")
    ns = unique_namespace("emf-bad")
    b = base_minute_s(10)
    ts = b * 1000 + 1_000
    bad = []
    for d in INVALID_EMF:
        d = json.loads(json.dumps(d).replace("{ns}", ns))
        d["_aws"]["Timestamp"] = ts
        bad.append(json.dumps(d))
    good = emf_doc(ts, ns)
    plain_json = json.dumps({"level": "info", "msg": "not EMF at all"})
    text = "plain text line"
    t_put0 = int(time.time())
    put(logs, group, "s1", [(ts, m) for m in bad[:3]] + [(ts, good), (ts, plain_json), (ts, text)])
    put(logs, group, "s1", [(ts + 1, m) for m in bad[3:]])
    t_put1 = int(time.time())
    # every line is stored, valid or not
    assert sorted(e["message"] for e in filter_all(logs, group)) == sorted(bad + [good, plain_json, text])
    # the valid document still made its metrics; the invalid ones made none
    assert summary(stats(cw, ns, "Latency", b, b + 60, dims={"Service": "api"}, expect_points=1)) == {b: (1.0, 12.5)}
    assert {m["MetricName"] for m in list_all_metrics(cw, Namespace=ns)} == {"Latency", "Sizes"}
    # the invalid documents are counted, by log group
    start = (t_put0 // 60) * 60 - 120
    end = (t_put1 // 60) * 60 + 180
    deadline = time.monotonic() + 5
    while True:
        dps = stats(cw, "ModelWatch/Logs", "EMFValidationErrors", start, end, dims={"LogGroup": group})
        total = sum(dp["Sum"] for dp in dps.values())
        if total >= len(bad) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert total == float(len(bad)), summary(dps)
    # and only for this group
    other = make_group(logs, "emfok")
    put(logs, other, "s1", [(ts, good), (ts, plain_json)])
    dps = stats(cw, "ModelWatch/Logs", "EMFValidationErrors", start, end + 60, dims={"LogGroup": other})
    assert dps == {}
