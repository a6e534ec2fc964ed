"""The sidecar configured by a TOML file alone (`modelwatch proxy --config
FILE`): it serves, meters and captures as the file says; a bad file stops it
at start with an error that names the file and the line."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

import support
from proxy_support import Process, cloudwatch, runtime_client, start_server, wait_for
from upstream_model import UpstreamModel

ENDPOINT = "from-file"
VARIANT = "Blue"


def invocations(cw) -> float:
    now = dt.datetime.now(dt.timezone.utc)
    r = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": VARIANT}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=2),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(p["Sum"] for p in r["Datapoints"])


def captured(root: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(root.rglob("*.jsonl")) for line in f.read_text().splitlines()]


def test_proxy_runs_from_a_config_file_alone(tmp_path):
    model = UpstreamModel().start()
    server = start_server(tmp_path)
    capture = tmp_path / "capture"
    config = tmp_path / "proxy.toml"
    config.write_text(
        f"""\
[proxy]
listen = "127.0.0.1:0"
upstream = "{model.url}"
endpoint = "{ENDPOINT}"
variant = "{VARIANT}"
server = "{server.url}"
metrics_flush_ms = 200
capture_percent = 100
capture_mode = "input"
capture_dir = "{capture}"
capture_flush_ms = 50
capture_buffer_dir = "{tmp_path / 'buffer'}"
log = "info"
"""
    )
    proxy = Process(["proxy", "--config", config], tmp_path / "proxy.log").start()
    try:
        r = runtime_client(proxy).invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1,2,3.5")
        assert r["Body"].read() == b"6.5"
        assert r["InvokedProductionVariant"] == VARIANT
        # metered under the file's endpoint and variant, published to the file's server
        cw = cloudwatch(server)
        assert wait_for(lambda: invocations(cw), what="Invocations from the proxy") == 1
        # captured into the file's folder, input only
        recs = wait_for(lambda: captured(capture), what="a captured record")
        assert len(recs) == 1
        assert set(recs[0]["captureData"]) == {"endpointInput"}
        assert recs[0]["captureData"]["endpointInput"]["data"] == "1,2,3.5"
    finally:
        proxy.stop()
        server.stop()
        model.stop()


REQUIRED = '[proxy]\nupstream = "http://127.0.0.1:9"\nendpoint = "churn"\n'


@pytest.mark.parametrize(
    "text, wants",
    [
        pytest.param('[proxy]\nupstream = "http://127.0.0.1:9\nendpoint = "churn"\n', ["line 2, column"], id="malformed"),
        pytest.param(REQUIRED + "capture_percnt = 5\n", ["line 4, column 1", "capture_percnt"], id="unknown-key"),
        pytest.param(REQUIRED + "capture_percent = 150\n", ["line 4, column 19", "capture_percent"], id="bad-value"),
        pytest.param(REQUIRED + 'listen = "nowhere"\n', ["line 4, column 10"], id="bad-address"),
        pytest.param('[proxy]\nupstream = "http://127.0.0.1:9"\n', ["--endpoint", "MODELWATCH_PROXY_ENDPOINT", "`endpoint`"],
                     id="missing-endpoint"),
    ],
)
def test_bad_config_file_stops_the_proxy_with_its_name_and_line(tmp_path, text, wants):
    config = tmp_path / "bad-proxy.toml"
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWATCH_")}
    p = subprocess.run(
        [str(support.binary_path()), "proxy", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        env=dict(env, NO_COLOR="1", RUST_BACKTRACE="0"),
    )
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, err
    assert p.stdout == b"", "it must not start listening"
    assert str(config) in err, err
    for want in wants:
        assert want in err, err
    assert "panicked" not in err, err
