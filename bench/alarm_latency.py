"""Breach-to-webhook latency of a 10-second alarm, end to end on loopback.

Starts `modelwatch server` (the binary in $MODELWATCH_BIN), subscribes a
loopback HTTP listener to a notification topic, creates a 10-second alarm
(Maximum > 50, one period) whose ALARM and OK actions notify the topic, and
measures two paths with boto3 unchanged:

- late data: right after a 10-second period closes, one PutMetricData puts a
  value into that closed period (breaching, then recovering, alternately).
  The server re-evaluates on arrival. Latency = webhook POST received minus
  the moment the PutMetricData call started.
- scheduled: a value is put into the period still open, 2 s before it
  closes; the server evaluates at period close + its delay (default 1000 ms).
  Reported: POST minus the put, and POST minus the period close.

Prints one JSON object with the samples and percentiles (milliseconds).
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import boto3

BIN = os.environ.get("MODELWATCH_BIN", "target/release/modelwatch")
TRANSITIONS = int(os.environ.get("TRANSITIONS", "12"))
SCHEDULED = int(os.environ.get("SCHEDULED", "6"))
DATA_DIR = os.environ.get("DATA_DIR", "bench/out/alarms-data")

posts: "queue.Queue[tuple[float, dict]]" = queue.Queue()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.end_headers()
        try:
            envelope = json.loads(body)
            message = json.loads(envelope.get("Message", "{}"))
        except ValueError:
            message = {}
        posts.put((t, message))

    def log_message(self, *args):
        pass


def wait_post(state: str, timeout: float = 30.0) -> float:
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            raise SystemExit(f"no webhook POST for {state} within {timeout} s")
        t, msg = posts.get(timeout=left)
        if msg.get("NewStateValue") == state:
            return t


def sleep_until(t: float) -> None:
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(xs: list[float]) -> dict:
    return {
        "n": len(xs),
        "p50_ms": round(pct(xs, 50), 1),
        "p90_ms": round(pct(xs, 90), 1),
        "max_ms": round(max(xs), 1),
        "mean_ms": round(statistics.fmean(xs), 1),
        "samples_ms": [round(x, 1) for x in xs],
    }


def main() -> None:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{listener.server_address[1]}/hook"

    proc = subprocess.Popen(
        [BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", DATA_DIR, "--log", "warn"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"server did not start: {line!r}")
        endpoint = "http://" + line.split()[-1]

        def native(path: str, body: dict) -> dict:
            req = urllib.request.Request(
                endpoint + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())

        topic = native("/api/v1/topics", {"name": "bench"})["arn"]
        native("/api/v1/topics/bench/subscriptions", {"protocol": "http", "endpoint": hook_url})
        cw = boto3.client(
            "cloudwatch",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        dims = [{"Name": "Endpoint", "Value": "bench"}]
        cw.put_metric_alarm(
            AlarmName="bench-latency",
            Namespace="Bench",
            MetricName="ModelLatency",
            Dimensions=dims,
            Statistic="Maximum",
            Period=10,
            EvaluationPeriods=1,
            Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[topic],
            OKActions=[topic],
        )

        def put(value: float, ts: float) -> None:
            cw.put_metric_data(
                Namespace="Bench",
                MetricData=[
                    {
                        "MetricName": "ModelLatency",
                        "Dimensions": dims,
                        "Value": value,
                        "Timestamp": ts,
                        "StorageResolution": 1,
                    }
                ],
            )

        late: list[float] = []
        state = "OK"
        for _ in range(TRANSITIONS):
            boundary = (time.time() // 10 + 1) * 10
            sleep_until(boundary + 0.3)
            want = "ALARM" if state == "OK" else "OK"
            t0 = time.time()
            put(100.0 if want == "ALARM" else 1.0, boundary - 5)
            t1 = wait_post(want)
            late.append((t1 - t0) * 1000)
            state = want

        sched_put: list[float] = []
        sched_close: list[float] = []
        for _ in range(SCHEDULED):
            boundary = (time.time() // 10 + 1) * 10
            if boundary - time.time() < 3:
                boundary += 10
            sleep_until(boundary - 2)
            want = "ALARM" if state == "OK" else "OK"
            t0 = time.time()
            put(100.0 if want == "ALARM" else 1.0, t0)
            t1 = wait_post(want)
            sched_put.append((t1 - t0) * 1000)
            sched_close.append((t1 - boundary) * 1000)
            state = want

        print(
            json.dumps(
                {
                    "late_data_put_to_post": summary(late),
                    "scheduled_put_to_post": summary(sched_put),
                    "scheduled_close_to_post": summary(sched_close),
                    "delay_ms": 1000,
                }
            )
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        listener.shutdown()


if __name__ == "__main__":
    sys.exit(main())
