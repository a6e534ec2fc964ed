"""The sidecar in front of a real model server: boto3 `sagemaker-runtime`
calls through it, SageMaker's response headers and error shapes, pass-through
routes, and the endpoint metrics it publishes (read back through the
CloudWatch API of a real server)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from proxy_support import (
    ENDPOINT,
    VARIANT,
    cloudwatch,
    metric_avg,
    metric_stat,
    metric_sum,
    request,
    runtime_client,
    start_proxy,
    start_server,
    wait_for,
)
from upstream_model import UpstreamModel


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("invoke")
    model = UpstreamModel().start()
    server = start_server(tmp)
    proxy = start_proxy(tmp, model.url, server.url)
    yield model, server, proxy, tmp
    for p in (proxy, server):
        p.stop()
    model.stop()


def test_invoke_endpoint_csv_and_json(stack):
    model, _, proxy, _ = stack
    rt = runtime_client(proxy)
    r = rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=b"1,2,3.5")
    assert r["Body"].read() == b"6.5"
    assert r["ContentType"] == "text/csv; charset=utf-8"
    assert r["InvokedProductionVariant"] == VARIANT
    assert r["CustomAttributes"] == "served-by=upstream-model"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200

    r = rt.invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="application/json",
        Body=json.dumps({"features": [1, 2, 3]}),
        CustomAttributes="tenant=a",
        InferenceId="req-42",
        TargetVariant=VARIANT,
    )
    assert json.loads(r["Body"].read()) == {"prediction": 6}
    path, headers, _ = model.seen[-1]
    assert path == "/invocations"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "tenant=a"
    assert headers["content-type"] == "application/json"


def test_runtime_errors_have_sagemaker_shapes(stack):
    model, _, proxy, _ = stack
    rt = runtime_client(proxy)
    with pytest.raises(rt.exceptions.ValidationError) as e:
        rt.invoke_endpoint(EndpointName="no-such-endpoint", ContentType="text/csv", Body=b"1")
    assert "Endpoint no-such-endpoint of account" in str(e.value)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(rt.exceptions.ValidationError) as e:
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1", TargetVariant="Shadow")
    assert "Variant Shadow" in str(e.value)

    with pytest.raises(rt.exceptions.ModelError) as e:
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1", CustomAttributes="status=503")
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["OriginalStatusCode"] == 503
    assert err["OriginalMessage"] == "model failed with 503"
    assert "Received server error (503) from primary" in err["Error"]["Message"]

    # an InferenceId botocore would not stop: 65 characters
    status, headers, body = request(
        proxy.url, "POST", f"/endpoints/{ENDPOINT}/invocations", b"1",
        {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "x" * 65},
    )
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationError", body
    assert b"inferenceId" in body


def test_other_paths_pass_through(stack):
    model, _, proxy, _ = stack
    status, _, body = request(proxy.url, "GET", "/ping")
    assert (status, body) == (200, b"ok")
    model.ping_status = 503
    try:
        assert request(proxy.url, "GET", "/ping")[0] == 503
    finally:
        model.ping_status = 200
    status, _, _ = request(proxy.url, "GET", "/nope?x=1")
    assert status == 404
    # the container path itself, unchanged
    status, headers, body = request(proxy.url, "POST", "/invocations", b"2,2", {"Content-Type": "text/csv"})
    assert (status, body) == (200, b"4.0")
    status, _, body = request(proxy.url, "POST", "/invocations", b"2,2",
                              {"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "status=400"})
    assert (status, body) == (400, b"model failed with 400")


def test_h2c_clients_are_served(stack):
    _, _, proxy, _ = stack
    import socket

    # HTTP/2 prior-knowledge preface: a server that only spoke HTTP/1.1 would answer 400 or close.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        head = s.recv(9)
    assert len(head) == 9 and head[3] == 0x04, head  # the server's SETTINGS frame


def test_metrics_count_and_split_latency(tmp_path):
    model = UpstreamModel().start()
    server = start_server(tmp_path)
    proxy = start_proxy(tmp_path, model.url, server.url, "--high-resolution")
    try:
        rt = runtime_client(proxy)
        cw = cloudwatch(server)
        client_ms = []
        for _ in range(8):
            t = time.perf_counter()
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1,2", CustomAttributes="delay_ms=40")
            client_ms.append((time.perf_counter() - t) * 1000)
        for status, n in ((400, 3), (500, 2)):
            for _ in range(n):
                t = time.perf_counter()
                with pytest.raises(rt.exceptions.ModelError):
                    rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1", CustomAttributes=f"status={status}")
                client_ms.append((time.perf_counter() - t) * 1000)
        wait_for(lambda: metric_sum(cw, "Invocations") == 13, what="13 invocations")
        assert metric_sum(cw, "InvocationsPerInstance") == 13
        assert metric_sum(cw, "Invocation4XXErrors") == 3
        assert metric_sum(cw, "Invocation5XXErrors") == 2
        assert metric_sum(cw, "InvocationModelErrors") == 5
        # 1-second datapoints exist (StorageResolution 1)
        assert metric_stat(cw, "Invocations", period=1)
        lat = metric_stat(cw, "ModelLatency", "SampleCount")
        assert sum(p["SampleCount"] for p in lat) == 13
        assert all(p["Unit"] == "Microseconds" for p in lat)
        # the split adds up: for the delayed calls, model + overhead is what the client saw
        model_avg = metric_avg(cw, "ModelLatency")
        overhead_avg = metric_avg(cw, "OverheadLatency")
        assert overhead_avg < 5_000, overhead_avg
        delayed = metric_stat(cw, "ModelLatency", "Maximum")
        assert max(p["Maximum"] for p in delayed) >= 40_000
        # percentiles work on the latency histograms: the median of 13 calls, 8 of them delayed 40 ms
        now = dt.datetime.now(dt.timezone.utc)
        r = cw.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="ModelLatency",
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": VARIANT}],
            StartTime=now - dt.timedelta(minutes=30), EndTime=now + dt.timedelta(minutes=2), Period=3600,
            ExtendedStatistics=["p50"],
        )
        assert [p["ExtendedStatistics"]["p50"] >= 40_000 for p in r["Datapoints"]] == [True], r["Datapoints"]
        total_client_us = sum(client_ms) * 1000
        # 8 delayed calls: their model time is at least 8 x 40 ms, and never more than the client saw
        model_sum = metric_sum(cw, "ModelLatency")
        total = model_sum + metric_sum(cw, "OverheadLatency")
        assert 8 * 40_000 <= model_sum <= total_client_us, (model_sum, total_client_us)
        # what the proxy measured is the client's time less the client's and the network's share
        assert 0.6 * total_client_us <= total <= total_client_us, (total, total_client_us)
        assert model_avg > overhead_avg
    finally:
        proxy.stop()
        server.stop()
        model.stop()
