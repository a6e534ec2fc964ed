"""gzip request bodies: botocore's automatic compression and hand-made gzip requests."""

from __future__ import annotations

import gzip
import math

from support import aligned, datapoints_by_time, dt, put_body, send, unique_namespace


def sum_stats(cw, ns, metric, t0):
    return datapoints_by_time(
        cw.get_metric_statistics(
            Namespace=ns,
            MetricName=metric,
            StartTime=dt(t0),
            EndTime=dt(t0 + 60),
            Period=60,
            Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
        )
    )


def test_botocore_compresses_large_put_and_data_arrives(cw, protocol):
    ns = unique_namespace(f"gz-{protocol}")
    t0 = aligned(1800)
    values = [i * 0.5 + 0.125 for i in range(600)]
    data = [
        {"MetricName": "Big", "Dimensions": [{"Name": "Model", "Value": "fraud-detector-v2"}], "Value": v, "Timestamp": dt(t0 + i % 60)}
        for i, v in enumerate(values)
    ]
    cw.put_metric_data(Namespace=ns, MetricData=data)

    sent = cw.mw_recorder.sent[-1]
    assert sent.headers.get("content-encoding") == "gzip", sent.headers
    assert sent.body[:2] == b"\x1f\x8b", "body is gzip"
    assert len(gzip.decompress(sent.body)) >= 10240, "botocore compresses bodies of 10 KB and more"

    resp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Big",
        Dimensions=[{"Name": "Model", "Value": "fraud-detector-v2"}],
        StartTime=dt(t0),
        EndTime=dt(t0 + 60),
        Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )
    dp = datapoints_by_time(resp)[t0]
    assert dp["SampleCount"] == 600
    assert math.isclose(dp["Sum"], math.fsum(values), rel_tol=1e-9)
    assert dp["Minimum"] == min(values) and dp["Maximum"] == max(values)


def test_small_put_is_not_compressed(cw, protocol):
    ns = unique_namespace(f"nogz-{protocol}")
    t0 = aligned(1800)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Small", "Value": 3.0, "Timestamp": dt(t0)}])
    sent = cw.mw_recorder.sent[-1]
    assert "content-encoding" not in sent.headers
    assert sum_stats(cw, ns, "Small", t0)[t0]["Sum"] == 3.0


def test_hand_made_gzip_request_is_accepted(cw, protocol, shared_server):
    ns = unique_namespace(f"rawgz-{protocol}")
    t0 = aligned(1800)
    body = put_body(protocol, ns, "Raw", 6.25, t0)
    resp = send(protocol, shared_server.port, "PutMetricData", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert resp.status == 200, resp.body[:300]
    dp = sum_stats(cw, ns, "Raw", t0)[t0]
    assert dp["SampleCount"] == 1 and dp["Sum"] == 6.25


def test_hand_made_gzip_request_of_5_mb_uncompressed_is_accepted(cw, protocol, shared_server):
    """5 MB of datums that gzip shrinks far under 1 MB: within both limits, so accepted."""
    ns = unique_namespace(f"rawgz2-{protocol}")
    t0 = aligned(1800)
    body = put_body(protocol, ns, "Raw", 1.5, t0, datums=1000, pad_per_datum=5000)
    assert 4 * 1024 * 1024 < len(body) < 10 * 1024 * 1024
    z = gzip.compress(body)
    assert len(z) < 1024 * 1024
    resp = send(protocol, shared_server.port, "PutMetricData", z, {"Content-Encoding": "gzip"})
    assert resp.status == 200, resp.body[:300]
    metrics = cw.list_metrics(Namespace=ns)["Metrics"]
    assert len(metrics) == 1
    dims = metrics[0]["Dimensions"]
    assert len(dims) == 5
    resp = cw.get_metric_statistics(
        Namespace=ns, MetricName="Raw", Dimensions=dims, StartTime=dt(t0), EndTime=dt(t0 + 60), Period=60, Statistics=["SampleCount", "Sum"]
    )
    dp = datapoints_by_time(resp)[t0]
    assert dp["SampleCount"] == 1000 and dp["Sum"] == 1500.0
