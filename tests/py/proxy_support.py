"""Helpers for the inference-sidecar tests (test_proxy_*.py).

- `Process`: a modelwatch process (`server` on a chosen port, or `proxy`)
  that prints `listening on ADDR`; SIGTERM at stop.
- `runtime_client`: boto3's `sagemaker-runtime` pointed at a proxy.
- `metric_sum`: a statistic of an `AWS/SageMaker` (or other) metric through
  the CloudWatch API.
- `native_get` / `native_post`: the server's native JSON API.
- `wait_for`: poll until a condition holds.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import boto3
from botocore.config import Config

import support

ENDPOINT = "churn"
VARIANT = "AllTraffic"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A modelwatch subcommand that prints `listening on 127.0.0.1:PORT` first."""

    def __init__(self, args: list[str], log_path: Path):
        self.args = [str(support.binary_path())] + [str(a) for a in args]
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self) -> "Process":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, NO_COLOR="1", RUST_BACKTRACE="1")
        with open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)
        lines: queue.Queue = queue.Queue()
        out = self.proc.stdout

        def reader():
            lines.put(out.readline().decode("utf-8", "replace"))
            for _ in iter(out.readline, b""):
                pass

        threading.Thread(target=reader, daemon=True).start()
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            line = ""
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"{self.args[1]} did not start: {line!r}\n{self.stderr()}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{self.args[1]} ignored SIGTERM for {timeout}s")
        return self.proc.returncode

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stderr(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


def start_server(tmp: Path, port: int = 0, data_dir: Path | None = None) -> Process:
    data = data_dir or (tmp / "server-data")
    return Process(["server", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--wal-sync", "none"], tmp / "server.log").start()


def start_proxy(tmp: Path, upstream: str, server: str | None = None, *extra, name: str = "proxy") -> Process:
    args = ["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream, "--endpoint", ENDPOINT, "--variant", VARIANT,
            "--metrics-flush-ms", "200", "--capture-buffer-dir", tmp / f"{name}-buffer"]
    if server:
        args += ["--server", server]
    return Process(args + list(extra), tmp / f"{name}.log").start()


def runtime_client(proxy: Process, retries: int = 0):
    return boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id=support.DUMMY_KEY,
        aws_secret_access_key=support.DUMMY_SECRET,
        config=Config(retries={"max_attempts": retries + 1, "mode": "standard"}, read_timeout=30, connect_timeout=5),
    )


def cloudwatch(server: Process):
    return support.make_client("json", server.url)


def metric_stat(cw, name: str, stat: str = "Sum", namespace: str = "AWS/SageMaker", period: int = 60, endpoint: str = ENDPOINT):
    now = dt.datetime.now(dt.timezone.utc)
    r = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}],
        StartTime=now - dt.timedelta(minutes=30 if period >= 60 else 10),
        EndTime=now + dt.timedelta(minutes=2 if period >= 60 else 1),
        Period=period,
        Statistics=[stat],
    )
    return r["Datapoints"]


def metric_sum(cw, name: str, **kw) -> float:
    return sum(p["Sum"] for p in metric_stat(cw, name, "Sum", **kw))


def metric_avg(cw, name: str, **kw) -> float:
    pts = metric_stat(cw, name, "SampleCount", **kw)
    n = sum(p["SampleCount"] for p in pts)
    s = sum(p["Sum"] for p in metric_stat(cw, name, "Sum", **kw))
    return s / n if n else float("nan")


def wait_for(fn, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def native_get(server: Process, path: str, **params):
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    status, _, body = request(server.url, "GET", f"{path}?{q}")
    return status, json.loads(body)


def native_post(server: Process, path: str, body: bytes):
    status, _, data = request(server.url, "POST", path, body, {"Content-Type": "application/x-ndjson"})
    return status, json.loads(data)


def proxy_stats(proxy: Process) -> dict:
    status, _, body = request(proxy.url, "GET", "/_modelwatch/stats")
    assert status == 200, body
    return json.loads(body)
