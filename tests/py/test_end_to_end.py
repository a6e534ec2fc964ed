"""The whole loop with real parts: boto3 `sagemaker-runtime` calls a model
through `modelwatch proxy`, which captures every request into the server; a
monitoring schedule checks the captured traffic against a baseline made from
the training data, writes SageMaker's report files and emits the data-quality
metrics; an ordinary CloudWatch alarm on `feature_baseline_drift_age` goes
from OK to ALARM when the traffic drifts (older people only), by real
evaluation, and its webhook receives the notification."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import proxy_support as ps
import support

TESTDATA = support.REPO_ROOT / "testdata"
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
ENDPOINT = "adult-income"
SCHEDULE = "adult-income-dq"
ROWS = 400  # per window


def model(features: list[str]) -> str:
    """The 'model': a fixed rule on the Adult features (no label)."""
    education_num, capital_gain, hours = float(features[4]), float(features[10]), float(features[12])
    return ">50K" if capital_gain > 5000 or (education_num >= 13 and hours >= 45) else "<=50K"


class _Model(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, ctype: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802  /ping
        self._send(200, "text/plain", b"ok")

    def do_POST(self):  # noqa: N802  /invocations
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        rows = list(csv.reader(io.StringIO(body)))
        self._send(200, "text/csv", "\n".join(model(r) for r in rows).encode())


class Webhook(BaseHTTPRequestHandler):
    received: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve(handler) -> ThreadingHTTPServer:
    s = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def rows(name: str) -> tuple[list[str], list[list[str]]]:
    with open(TESTDATA / name, newline="") as f:
        r = list(csv.reader(f))
    return r[0], r[1:]


def csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def iso(secs: float) -> str:
    return dt.datetime.fromtimestamp(secs, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sleep_until(t: float):
    if t > time.time():
        time.sleep(t - time.time())


def native(server, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
    status, _, data = ps.request(server.url, method, path, body, {"Content-Type": ctype}, timeout=120)
    parsed = json.loads(data) if data else {}
    assert status == 200, (method, path, status, parsed)
    return parsed


@pytest.fixture
def loop(tmp_path):
    server = ps.Process(
        ["server", "--listen", "127.0.0.1:0", "--data-dir", tmp_path / "data", "--wal-sync", "none", "--alarm-delay-ms", "100"],
        tmp_path / "server.log",
    ).start()
    upstream = serve(_Model)
    hook = serve(Webhook)
    Webhook.received = []
    proxy = ps.Process(
        [
            "proxy", "--listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{upstream.server_address[1]}",
            "--endpoint", ENDPOINT, "--server", server.url, "--capture-percent", "100",
            "--capture-flush-ms", "200", "--capture-buffer-dir", tmp_path / "buffer",
        ],
        tmp_path / "proxy.log",
    ).start()
    yield server, proxy, f"http://127.0.0.1:{hook.server_address[1]}/alarm"
    proxy.stop()
    server.stop()
    upstream.shutdown()
    hook.shutdown()


def test_sidecar_capture_to_schedule_to_drift_alarm(loop):
    server, proxy, hook_url = loop
    header, train = rows("adult_train.csv")
    _, test = rows("adult_test.csv")

    # Baseline: the training features with the model's answer in front, the
    # layout captured traffic is rebuilt in (outputs first, then inputs).
    base = io.StringIO()
    w = csv.writer(base, lineterminator="\n")
    w.writerow(["prediction"] + header[:-1])
    for r in train:
        w.writerow([model(r[:-1])] + r[:-1])
    native(server, "POST", "/api/v1/baselines/adult-income", base.getvalue().encode(), "text/csv")
    native(server, "POST", "/api/v1/monitoring-schedules",
           json.dumps({"name": SCHEDULE, "endpoint": ENDPOINT, "baseline": "adult-income", "cron": "cron(0 * ? * * *)"}).encode())
    topic = native(server, "POST", "/api/v1/topics", json.dumps({"name": "ml-oncall"}).encode())["arn"]
    native(server, "POST", "/api/v1/topics/ml-oncall/subscriptions",
           json.dumps({"protocol": "http", "endpoint": hook_url}).encode())

    runtime = ps.runtime_client(proxy)
    clean = test[:ROWS]
    older = [r for r in test if int(r[0]) > 50][:ROWS]

    def invoke(batch):
        for r in batch:
            resp = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=csv_line(r[:-1]).encode())
            assert resp["Body"].read().decode() == model(r[:-1])

    # Both windows inside one minute, so the drift metric (stamped with its
    # window's start) lands in a minute that has closed when the job runs.
    if time.time() % 60 > 25:
        sleep_until((time.time() // 60 + 1) * 60)
    minute = time.time() // 60 * 60
    clean_start = int(time.time())
    invoke(clean)
    shifted_start = int(time.time()) + 1
    sleep_until(shifted_start)
    invoke(older)
    window_end = int(time.time()) + 1
    assert window_end <= minute + 60, "the test machine is too slow for one-minute windows"

    # Every invocation reaches the capture store, through the sidecar's queue.
    def captured():
        status, data = ps.native_get(server, "/api/v1/captures/records", endpoint=ENDPOINT,
                                     start=iso(clean_start), end=iso(window_end + 1), limit=10000)
        return status == 200 and len(data["records"]) == len(clean) + len(older) and data
    records = ps.wait_for(captured, timeout=20, what="every invocation captured")["records"]
    rec = records[0]["record"] if "record" in records[0] else records[0]
    assert rec["captureData"]["endpointInput"]["observedContentType"] == "text/csv"
    assert rec["captureData"]["endpointOutput"]["data"] in ("<=50K", ">50K")
    assert rec["eventMetadata"]["eventId"] and rec["eventMetadata"]["inferenceTime"]

    cw = support.make_client("json", server.url)
    dims = [{"Name": "Endpoint", "Value": ENDPOINT}, {"Name": "MonitoringSchedule", "Value": SCHEDULE}]
    sleep_until(minute + 60.2)
    ok_run = native(server, "POST", f"/api/v1/monitoring-schedules/{SCHEDULE}/run?start={iso(clean_start)}&end={iso(shifted_start)}")
    assert ok_run["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), ok_run
    files = f"/api/v1/monitoring-schedules/{SCHEDULE}/executions/{ok_run['MonitoringExecutionId']}/files"
    assert native(server, "GET", f"{files}/statistics.json")["dataset"]["item_count"] == len(clean)
    drifted = {v["feature_name"] for v in native(server, "GET", f"{files}/constraint_violations.json")["violations"]
               if v["constraint_check_type"] == "baseline_drift_check"}
    assert "age" not in drifted, drifted

    cw.put_metric_alarm(
        AlarmName="adult-age-drift", Namespace=NAMESPACE, MetricName="feature_baseline_drift_age", Dimensions=dims,
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=0.1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], OKActions=[topic],
    )
    a = ps.wait_for(lambda: (x := cw.describe_alarms(AlarmNames=["adult-age-drift"])["MetricAlarms"][0])["StateValue"] == "OK" and x,
                    timeout=10, what="the alarm to see the clean window")
    assert "Threshold Crossed" in a["StateReason"]

    bad_run = native(server, "POST", f"/api/v1/monitoring-schedules/{SCHEDULE}/run?start={iso(shifted_start)}&end={iso(window_end)}")
    assert bad_run["MonitoringExecutionStatus"] == "CompletedWithViolations", bad_run
    files = f"/api/v1/monitoring-schedules/{SCHEDULE}/executions/{bad_run['MonitoringExecutionId']}/files"
    violations = native(server, "GET", f"{files}/constraint_violations.json")["violations"]
    assert ("age", "baseline_drift_check") in {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    # SageMaker's layout under the server's data directory.
    report = bad_run["ReportPath"]
    assert f"/monitoring/reports/{ENDPOINT}/{SCHEDULE}/" in report, report

    a = ps.wait_for(lambda: (x := cw.describe_alarms(AlarmNames=["adult-age-drift"])["MetricAlarms"][0])["StateValue"] == "ALARM" and x,
                    timeout=10, what="the drift alarm to fire")
    data = json.loads(a["StateReasonData"])
    assert max(data["recentDatapoints"]) > 0.1
    history = cw.describe_alarm_history(AlarmName="adult-age-drift", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history][:2] == ["Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK"]

    def notified():
        states = [json.loads(m["Message"])["NewStateValue"] for m in Webhook.received]
        return "ALARM" in states and states
    states = ps.wait_for(notified, timeout=10, what="the ALARM notification")
    assert states[-1] == "ALARM"
    msg = json.loads(Webhook.received[-1]["Message"])
    assert msg["AlarmName"] == "adult-age-drift"
    assert msg["Trigger"]["MetricName"] == "feature_baseline_drift_age"
