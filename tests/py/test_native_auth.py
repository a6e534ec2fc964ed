"""SigV4 on the native /api/v1 routes: with access keys configured, unsigned
or badly signed requests are refused (403, nothing stored), signed ones pass
(body hashed, or UNSIGNED-PAYLOAD); without keys everything is accepted."""

from __future__ import annotations

import json
import time

import pytest

from conftest import _start
from support import Server, ServerError, raw_request

KEY_ID, SECRET = "AKIDNATIVE", "native-secret"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    base = tmp_path_factory.mktemp("native-auth")
    s = Server(base / "data", base / "logs", auth_keys=[f"{KEY_ID}:{SECRET}"])
    _start(s)
    yield s
    if s.running:
        try:
            s.terminate()
        except ServerError:
            pass


def call(server, method, path, body=b"", signed=True, secret=SECRET, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    return raw_request(server.port, method, path, h, body, signed=signed, key=KEY_ID, secret=secret)


def topics(server) -> list:
    r = call(server, "GET", "/api/v1/topics")
    assert r.status == 200, r.body
    return [t["name"] for t in json.loads(r.body)["topics"]]


def test_unsigned_requests_are_refused_and_change_nothing(keyed):
    r = call(keyed, "POST", "/api/v1/topics", json.dumps({"name": "sneaky"}).encode(), signed=False)
    assert r.status == 403, r.body
    err = json.loads(r.body)["error"]
    assert err["code"] == "MissingAuthenticationToken", err
    assert "sneaky" not in topics(keyed)


def test_a_wrong_secret_is_refused(keyed):
    r = call(keyed, "POST", "/api/v1/topics", json.dumps({"name": "wrong"}).encode(), secret="nope")
    assert r.status == 403, r.body
    assert json.loads(r.body)["error"]["code"] == "SignatureDoesNotMatch"
    assert "wrong" not in topics(keyed)


def test_a_tampered_body_is_refused(keyed):
    from support import sign

    url = f"http://127.0.0.1:{keyed.port}/api/v1/topics"
    body = json.dumps({"name": "original"}).encode()
    headers = sign("POST", url, {"Content-Type": "application/json"}, body, KEY_ID, SECRET)
    tampered = json.dumps({"name": "tampered"}).encode()
    r = raw_request(keyed.port, "POST", "/api/v1/topics", headers, tampered, signed=False)
    assert r.status == 403, r.body
    assert "tampered" not in topics(keyed)


def test_signed_requests_pass(keyed):
    r = call(keyed, "POST", "/api/v1/topics", json.dumps({"name": "oncall"}).encode())
    assert r.status == 200, r.body
    assert json.loads(r.body)["arn"].endswith(":oncall")
    assert "oncall" in topics(keyed)
    # Native metric ingest is guarded the same way.
    batch = json.dumps(
        {"Namespace": "AWS/SageMaker", "MetricData": [{"MetricName": "Invocations", "Value": 1}]}
    ).encode()
    assert call(keyed, "POST", "/api/v1/metrics", batch, signed=False).status == 403
    assert call(keyed, "POST", "/api/v1/metrics", batch).status == 200


def test_unsigned_payload_declared_in_the_signature_passes(keyed):
    body = json.dumps({"name": "streamed"}).encode()
    r = call(keyed, "POST", "/api/v1/topics", body, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert r.status == 200, r.body
    assert "streamed" in topics(keyed)


def test_without_keys_native_routes_are_open(server):
    s = server()
    r = raw_request(s.port, "GET", "/api/v1/topics", {}, b"", signed=False)
    assert r.status == 200, r.body


def test_the_sidecar_signs_with_its_access_key(keyed, tmp_path):
    import proxy_support as ps
    from upstream_model import UpstreamModel

    model = UpstreamModel().start()
    signed = unsigned = None
    try:
        signed = ps.Process(
            ["proxy", "--listen", "127.0.0.1:0", "--upstream", model.url, "--endpoint", "keyed", "--server",
             f"http://127.0.0.1:{keyed.port}", "--access-key", f"{KEY_ID}:{SECRET}", "--capture-percent", "100",
             "--capture-flush-ms", "100", "--metrics-flush-ms", "200", "--capture-buffer-dir", tmp_path / "b1"],
            tmp_path / "signed.log",
        ).start()
        unsigned = ps.Process(
            ["proxy", "--listen", "127.0.0.1:0", "--upstream", model.url, "--endpoint", "keyless", "--server",
             f"http://127.0.0.1:{keyed.port}", "--capture-percent", "100", "--capture-flush-ms", "100",
             "--capture-buffer-dir", tmp_path / "b2"],
            tmp_path / "unsigned.log",
        ).start()
        for proxy, endpoint in ((signed, "keyed"), (unsigned, "keyless")):
            rt = ps.runtime_client(proxy)
            for i in range(5):
                r = rt.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=f"{i},1".encode())
                assert r["ResponseMetadata"]["HTTPStatusCode"] == 200

        def records(endpoint):
            r = call(keyed, "GET", f"/api/v1/captures/records?endpoint={endpoint}&limit=100")
            assert r.status == 200, r.body
            return json.loads(r.body)["records"]

        ps.wait_for(lambda: len(records("keyed")) == 5, timeout=10, what="the signed sidecar's captures")
        time.sleep(0.5)
        assert records("keyless") == [], "an unsigned sidecar must not get captures in"
    finally:
        for p in (signed, unsigned):
            if p is not None:
                p.stop()
        model.stop()


def test_the_monitor_cli_signs_with_its_access_key(keyed):
    import subprocess

    import support

    base = [str(support.binary_path()), "monitor", "schedule", "list", "--server", f"http://127.0.0.1:{keyed.port}"]
    r = subprocess.run(base + ["--access-key", f"{KEY_ID}:{SECRET}"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "MonitoringScheduleSummaries" in r.stdout
    r = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "MissingAuthenticationToken" in r.stderr, r.stderr
    r = subprocess.run(base + ["--access-key", f"{KEY_ID}:wrong"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "SignatureDoesNotMatch" in r.stderr, r.stderr
