"""Data capture through the sidecar, as SageMaker writes it: record schema
field by field, folder layout, sampling, capture modes, the server's capture
store and its native API (files, records, ground truth), and what happens to
captures while the server is down."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import uuid
from pathlib import Path

import pytest

from proxy_support import (
    ENDPOINT,
    VARIANT,
    cloudwatch,
    free_port,
    metric_sum,
    native_get,
    native_post,
    proxy_stats,
    runtime_client,
    start_proxy,
    start_server,
    wait_for,
)
from upstream_model import UpstreamModel

FILE_RE = re.compile(
    rf"^{ENDPOINT}/{VARIANT}/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{2}})/\d{{2}}-\d{{2}}-\d{{3}}-[0-9a-f-]{{36}}\.jsonl$"
)
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def model():
    m = UpstreamModel().start()
    yield m
    m.stop()


def read_local(root: Path) -> list[tuple[str, dict]]:
    out = []
    for f in sorted(root.rglob("*.jsonl")):
        rel = f.relative_to(root).as_posix()
        for line in f.read_text().splitlines():
            out.append((rel, json.loads(line)))
    return out


def check_record(rec: dict):
    assert set(rec) == {"captureData", "eventMetadata", "eventVersion"}, rec
    assert rec["eventVersion"] == "0"
    meta = rec["eventMetadata"]
    uuid.UUID(meta["eventId"])
    assert TIME_RE.match(meta["inferenceTime"]), meta
    for slot, mode in (("endpointInput", "INPUT"), ("endpointOutput", "OUTPUT")):
        if slot in rec["captureData"]:
            p = rec["captureData"][slot]
            assert set(p) == {"observedContentType", "mode", "data", "encoding"}, p
            assert p["mode"] == mode


def test_local_capture_matches_sagemaker_layout_and_schema(tmp_path, model):
    root = tmp_path / "capture"
    proxy = start_proxy(tmp_path, model.url, None, "--capture-percent", "100", "--capture-dir", root, "--capture-flush-ms", "50")
    try:
        rt = runtime_client(proxy)
        before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"132,10,182.9", InferenceId="42")
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/json", Body=b'{"features":[1,2]}',
                           CustomAttributes="c=1")
        raw = bytes(range(256))
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/x-npy", Body=raw)
        after = dt.datetime.now(dt.timezone.utc)
        recs = wait_for(lambda: len(read_local(root)) == 3 and read_local(root), what="3 captured records")
    finally:
        proxy.stop()
    by_type = {r["captureData"]["endpointInput"]["observedContentType"]: (f, r) for f, r in recs}
    for f, rec in recs:
        check_record(rec)
        m = FILE_RE.match(f)
        assert m, f
        t = dt.datetime.strptime(rec["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        assert before <= t <= after
        assert m.groups() == (f"{t:%Y}", f"{t:%m}", f"{t:%d}", f"{t:%H}")  # the UTC hour of the invocation

    _, csv = by_type["text/csv"]
    assert csv["captureData"] == {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "132,10,182.9", "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": "324.9", "encoding": "CSV"},
    }
    assert csv["eventMetadata"]["inferenceId"] == "42"

    _, js = by_type["application/json"]
    assert js["captureData"]["endpointInput"]["data"] == '{"features":[1,2]}'
    assert js["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert json.loads(js["captureData"]["endpointOutput"]["data"]) == {"prediction": 3}
    assert "inferenceId" not in js["eventMetadata"]
    assert js["eventMetadata"]["customAttributes"] == "c=1"

    _, npy = by_type["application/x-npy"]
    assert npy["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(npy["captureData"]["endpointInput"]["data"]) == raw
    assert len({r["eventMetadata"]["eventId"] for _, r in recs}) == 3


def test_capture_mode_input_only_and_errors_not_captured(tmp_path, model):
    root = tmp_path / "capture"
    proxy = start_proxy(tmp_path, model.url, None, "--capture-percent", "100", "--capture-dir", root,
                        "--capture-mode", "input", "--capture-flush-ms", "50")
    try:
        rt = runtime_client(proxy)
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1,2")
        with pytest.raises(rt.exceptions.ModelError):
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1", CustomAttributes="status=500")
        wait_for(lambda: proxy_stats(proxy)["capture"]["written"] == 1, what="one record written")
    finally:
        proxy.stop()
    recs = read_local(root)
    assert len(recs) == 1
    assert list(recs[0][1]["captureData"]) == ["endpointInput"]


def test_sampling_30_percent(tmp_path, model):
    root = tmp_path / "capture"
    proxy = start_proxy(tmp_path, model.url, None, "--capture-percent", "30", "--capture-dir", root, "--capture-flush-ms", "50")
    n = 600
    try:
        rt = runtime_client(proxy)
        for i in range(n):
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=f"{i},1".encode())
        # everything sampled reaches the files; nothing is dropped
        wait_for(lambda: proxy_stats(proxy)["capture"]["queuedBytes"] == 0, what="an empty capture queue")
        stats = proxy_stats(proxy)["capture"]
    finally:
        proxy.stop()
    got = len(read_local(root))
    assert stats["dropped"] == 0 and stats["written"] == got
    sd = math.sqrt(n * 0.3 * 0.7)
    assert abs(got - 0.3 * n) <= 4 * sd, f"{got} of {n} captured at 30%"
    inputs = {r["captureData"]["endpointInput"]["data"] for _, r in read_local(root)}
    assert len(inputs) == got  # each sampled request once


def test_capture_to_server_and_native_api(tmp_path, model):
    server = start_server(tmp_path)
    proxy = start_proxy(tmp_path, model.url, server.url, "--capture-percent", "100", "--capture-flush-ms", "50")
    try:
        rt = runtime_client(proxy)
        for i in range(20):
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=f"{i},{i}".encode(), InferenceId=f"id-{i}")
        wait_for(lambda: proxy_stats(proxy)["capture"]["written"] == 20, what="20 records at the server")
        status, files = native_get(server, "/api/v1/captures", endpoint=ENDPOINT)
        assert status == 200 and files["files"], files
        for f in files["files"]:
            assert f["path"].startswith(f"data-capture/{ENDPOINT}/{VARIANT}/"), f
            assert FILE_RE.match(f["path"].removeprefix("data-capture/")), f
            assert (server_data(tmp_path) / "captures" / f["path"]).is_file()
        status, page = native_get(server, "/api/v1/captures/records", endpoint=ENDPOINT, variant=VARIANT, limit=100)
        assert status == 200 and not page["truncated"]
        recs = [r["record"] for r in page["records"]]
        assert len(recs) == 20
        for r in recs:
            check_record(r)
        ids = sorted(r["eventMetadata"]["inferenceId"] for r in recs)
        assert ids == sorted(f"id-{i}" for i in range(20))
        # time range: nothing an hour ago
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
        status, page = native_get(server, "/api/v1/captures/records", endpoint=ENDPOINT,
                                  start=past.strftime("%Y-%m-%dT%H:%M:%SZ"), end=(past + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert status == 200 and page["records"] == []
        status, page = native_get(server, "/api/v1/captures/records", endpoint=ENDPOINT, limit=5)
        assert len(page["records"]) == 5 and page["truncated"]

        # ground truth for the captured inference ids
        gt = "".join(json.dumps({"groundTruthData": {"data": str(i % 2), "encoding": "CSV"},
                                 "eventMetadata": {"eventId": f"id-{i}"}, "eventVersion": "0"}) + "\n" for i in range(20))
        status, body = native_post(server, f"/api/v1/ground-truth/{ENDPOINT}", gt.encode())
        assert (status, body) == (200, {"accepted": 20})
        status, page = native_get(server, "/api/v1/ground-truth/records", endpoint=ENDPOINT)
        assert status == 200
        assert {r["eventMetadata"]["eventId"]: r["groundTruthData"]["data"] for r in page["records"]} == {
            f"id-{i}": str(i % 2) for i in range(20)}
        status, files = native_get(server, "/api/v1/ground-truth", endpoint=ENDPOINT)
        hour = dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d/%H")
        assert [f["path"].startswith(f"ground-truth/{ENDPOINT}/") for f in files["files"]] == [True]
        assert files["files"][0]["path"].split("/")[2:6] == hour.split("/")
    finally:
        proxy.stop()
        server.stop()


def server_data(tmp: Path) -> Path:
    return tmp / "server-data"


def test_native_api_rejects_bad_input(tmp_path):
    server = start_server(tmp_path)
    try:
        good = json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1", "encoding": "CSV"}},
                           "eventMetadata": {"eventId": "e1", "inferenceTime": "2024-01-02T03:04:05Z"}, "eventVersion": "0"})
        bad = good.replace('"INPUT"', '"OUTPUT"')
        status, body = native_post(server, "/api/v1/captures/ep/v", f"{good}\n{bad}\n".encode())
        assert status == 400
        assert body["error"]["code"] == "InvalidParameter"
        assert body["error"]["message"].startswith("line 2: captureData.endpointInput.mode"), body
        status, body = native_post(server, "/api/v1/captures/ep/v", b"not json\n")
        assert status == 400 and "line 1" in body["error"]["message"]
        status, body = native_post(server, "/api/v1/captures/bad_name/v", f"{good}\n".encode())
        assert status == 400 and "endpoint name" in body["error"]["message"]
        # nothing of the rejected batches was stored
        status, page = native_get(server, "/api/v1/captures/records", endpoint="ep", start="2024-01-01T00:00:00Z", end="2024-01-03T00:00:00Z")
        assert page["records"] == []
        status, body = native_post(server, "/api/v1/captures/ep/v", f"{good}\n".encode())
        assert (status, body) == (200, {"accepted": 1})
        status, page = native_get(server, "/api/v1/captures/records", endpoint="ep", start="2024-01-02T03:00:00Z", end="2024-01-02T04:00:00Z")
        assert [r["record"]["eventMetadata"]["eventId"] for r in page["records"]] == ["e1"]
        status, page = native_get(server, "/api/v1/captures", endpoint="ep", start="1704164645", end="1704164646")
        assert status == 200 and len(page["files"]) == 1 and page["files"][0]["hour"] == "2024-01-02T03:00:00Z"
        for params, want in (({}, "endpoint is required"), ({"endpoint": "ep", "start": "yesterday"}, "is not a time"),
                             ({"endpoint": "ep", "limit": "0"}, "limit"),
                             ({"endpoint": "ep", "start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "after its start")):
            status, body = native_get(server, "/api/v1/captures/records", **params)
            assert status == 400 and want in body["error"]["message"], (params, body)
        status, body = native_post(server, "/api/v1/ground-truth/ep", b'{"groundTruthData":{"data":"1","encoding":"JSON"},"eventMetadata":{"eventId":"1"},"eventVersion":"0"}\n')
        assert status == 400 and "line 1" in body["error"]["message"] and "CSV" in body["error"]["message"]
    finally:
        server.stop()


def test_stopped_server_never_fails_inference_and_drops_are_counted(tmp_path, model):
    port = free_port()
    data = tmp_path / "server-data"
    server = start_server(tmp_path, port=port, data_dir=data)
    # a disk buffer of ~12 KB: a few small batches fit, the rest is dropped
    proxy = start_proxy(tmp_path, model.url, server.url, "--capture-percent", "100", "--capture-flush-ms", "20",
                        "--capture-buffer-bytes", "12000")
    try:
        rt = runtime_client(proxy)
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"0,0")
        wait_for(lambda: proxy_stats(proxy)["capture"]["written"] == 1, what="the first record")
        server.stop()
        n = 150
        for i in range(n):
            r = rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=f"{i},{i}".encode())
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        stats = wait_for(lambda: (s := proxy_stats(proxy)["capture"])["queuedBytes"] == 0 and s, what="an empty queue")
        assert stats["dropped"] > 0 and stats["bufferedBytes"] > 0, stats
        assert stats["bufferedBytes"] <= 12000
        dropped = stats["dropped"]

        server = start_server(tmp_path, port=port, data_dir=data)
        stats = wait_for(lambda: (s := proxy_stats(proxy)["capture"])["bufferedBatches"] == 0 and s, timeout=15,
                         what="the buffer resent")
        assert stats["dropped"] == dropped
        assert stats["written"] + stats["dropped"] == n + 1, stats
        status, page = native_get(server, "/api/v1/captures/records", endpoint=ENDPOINT, limit=1000)
        assert len(page["records"]) == stats["written"]
        cw = cloudwatch(server)
        wait_for(lambda: metric_sum(cw, "CaptureRecordsDropped", namespace="ModelWatch/Proxy") == dropped,
                 timeout=15, what="the drop metric")
        wait_for(lambda: metric_sum(cw, "Invocations") == n + 1, timeout=15, what="all invocations counted")
    finally:
        proxy.stop()
        server.stop()


def test_own_routes_are_metered_and_captured(tmp_path, model):
    root = tmp_path / "capture"
    server = start_server(tmp_path)
    proxy = start_proxy(tmp_path, model.url, server.url, "--capture-percent", "100", "--capture-dir", root,
                        "--capture-flush-ms", "50", "--invocation-path", "/predict")
    try:
        from proxy_support import request

        status, _, body = request(proxy.url, "POST", "/predict", b'{"features":[2,3]}', {"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (200, {"prediction": 5})
        assert model.seen[-1][0] == "/predict"
        status, _, _ = request(proxy.url, "POST", "/other", b"1", {"Content-Type": "text/csv"})
        assert status == 404  # passed through, not metered
        recs = wait_for(lambda: read_local(root), what="the /predict record")
        assert len(recs) == 1
        assert recs[0][1]["captureData"]["endpointOutput"]["data"] == '{"prediction": 5}'
        cw = cloudwatch(server)
        wait_for(lambda: metric_sum(cw, "Invocations") == 1, what="one invocation")
    finally:
        proxy.stop()
        server.stop()


def thread_policies(pid: int) -> dict[str, set[int]]:
    """Scheduling policy (field 41 of /proc/PID/task/TID/stat: 0 normal, 5
    SCHED_IDLE) of each of the process's threads, by role."""
    out: dict[str, set[int]] = {"main": set(), "serving": set(), "background": set()}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        policy = int(stat[stat.rindex(")") + 2 :].split()[38])
        role = "main" if int(task.name) == pid else "serving" if name.startswith("proxy-") else "background"
        out[role].add(policy)
    return out


@pytest.mark.parametrize("priority,background", [(None, {5}), ("normal", {0})])
def test_background_threads_yield_to_serving_threads(tmp_path, model, priority, background):
    root = tmp_path / "capture"
    extra = ["--capture-percent", "100", "--capture-dir", root, "--capture-flush-ms", "50", "--threads", "2"]
    if priority:
        extra += ["--background-priority", priority]
    proxy = start_proxy(tmp_path, model.url, None, *extra)
    try:
        rt = runtime_client(proxy)
        for i in range(20):
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=f"{i},1".encode())
        # the background threads encode and write every record
        wait_for(lambda: proxy_stats(proxy)["capture"]["written"] == 20, what="20 records written")
        pol = thread_policies(proxy.proc.pid)
    finally:
        proxy.stop()
    assert pol["serving"] == {0} and pol["main"] == {0}, pol
    assert pol["background"] == background, pol
    assert len(read_local(root)) == 20
