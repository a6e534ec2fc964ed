"""SigV4: a server started with --auth-key verifies signatures; one without accepts any."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import _start
from support import (
    Server,
    ServerError,
    aligned,
    assert_client_used_protocol,
    datapoints_by_time,
    dt,
    make_client,
    parse_error,
    put_body,
    send,
    sign,
    raw_request,
    unique_namespace,
    CBOR_PATH,
    TARGET_PREFIX,
)

KEY_ID, SECRET = "AKIDTEST", "secret123"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("auth")
    s = Server(base / "data", base / "logs", auth_keys=[f"{KEY_ID}:{SECRET}"])
    _start(s)
    yield s
    if s.running:
        try:
            s.terminate()
        except ServerError:
            pass


@pytest.fixture
def clients(auth_server, protocol, request):
    made = []
    request.node.mw_servers = [auth_server]

    def make(key=KEY_ID, secret=SECRET):
        c = make_client(protocol, auth_server.endpoint, key=key, secret=secret)
        made.append(c)
        return c

    yield make
    for c in made:
        assert_client_used_protocol(c)


def put_and_read(client, ns, value=2.0):
    t0 = aligned(1800)
    client.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": value, "Timestamp": dt(t0)}])
    return read(client, ns, t0), t0


def read(client, ns, t0):
    resp = client.get_metric_statistics(
        Namespace=ns, MetricName="M", StartTime=dt(t0), EndTime=dt(t0 + 60), Period=60, Statistics=["SampleCount", "Sum"]
    )
    return datapoints_by_time(resp)


def test_right_keys_work(clients, protocol):
    c = clients()
    ns = unique_namespace(f"auth-ok-{protocol}")
    dps, t0 = put_and_read(c, ns, 2.0)
    assert dps[t0]["Sum"] == 2.0
    assert [m["MetricName"] for m in c.list_metrics(Namespace=ns)["Metrics"]] == ["M"]


def test_right_keys_work_with_gzip_body(clients, protocol):
    """The signature covers the compressed bytes as sent."""
    c = clients()
    ns = unique_namespace(f"auth-gz-{protocol}")
    t0 = aligned(1800)
    c.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "M", "Dimensions": [{"Name": "Padding", "Value": "p" * 200}], "Value": 1.0, "Timestamp": dt(t0 + i % 60)} for i in range(100)],
    )
    assert c.mw_recorder.sent[-1].headers.get("content-encoding") == "gzip"
    resp = c.get_metric_statistics(
        Namespace=ns,
        MetricName="M",
        Dimensions=[{"Name": "Padding", "Value": "p" * 200}],
        StartTime=dt(t0),
        EndTime=dt(t0 + 60),
        Period=60,
        Statistics=["SampleCount"],
    )
    assert datapoints_by_time(resp)[t0]["SampleCount"] == 100


def expect_auth_error(call, codes, statuses=(403,)):
    with pytest.raises(ClientError) as ei:
        call()
    err = ei.value.response
    assert err["Error"]["Code"] in codes, err["Error"]
    assert err["ResponseMetadata"]["HTTPStatusCode"] in statuses, err["ResponseMetadata"]


def test_wrong_secret_is_signature_does_not_match(clients, protocol):
    good, bad = clients(), clients(secret="not-the-secret")
    ns = unique_namespace(f"auth-badsig-{protocol}")
    t0 = aligned(1800)
    expect_auth_error(
        lambda: bad.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1.0, "Timestamp": dt(t0)}]),
        {"SignatureDoesNotMatch"},
    )
    expect_auth_error(lambda: bad.list_metrics(Namespace=ns), {"SignatureDoesNotMatch"})
    # nothing was stored by the rejected write
    assert read(good, ns, t0) == {}
    assert good.list_metrics(Namespace=ns)["Metrics"] == []


def test_unknown_access_key_is_invalid_client_token_id(clients, protocol):
    good, bad = clients(), clients(key="AKIDUNKNOWN", secret=SECRET)
    ns = unique_namespace(f"auth-badkey-{protocol}")
    t0 = aligned(1800)
    expect_auth_error(
        lambda: bad.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1.0, "Timestamp": dt(t0)}]),
        {"InvalidClientTokenId"},
    )
    assert read(good, ns, t0) == {}


def test_unsigned_request_is_rejected(auth_server, clients, protocol):
    good = clients()
    ns = unique_namespace(f"auth-unsigned-{protocol}")
    t0 = aligned(1800)
    resp = send(protocol, auth_server.port, "PutMetricData", put_body(protocol, ns, "M", 1.0, t0), signed=False)
    assert resp.status in (400, 403), resp.body[:300]
    err = parse_error(protocol, resp)
    assert err.code in ("MissingAuthenticationToken", "IncompleteSignature"), err
    if err.code == "MissingAuthenticationToken":
        assert resp.status == 403
    assert read(good, ns, t0) == {}


def test_tampered_body_is_signature_does_not_match(auth_server, clients, protocol):
    """A signature computed over one body does not authorize another."""
    good = clients()
    ns = unique_namespace(f"auth-tamper-{protocol}")
    t0 = aligned(1800)
    signed_body = put_body(protocol, ns, "M", 1.0, t0)
    sent_body = put_body(protocol, ns, "M", 999.0, t0)
    if protocol == "json":
        path, headers = "/", {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"{TARGET_PREFIX}.PutMetricData"}
    elif protocol == "cbor":
        path, headers = CBOR_PATH + "PutMetricData", {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    else:
        path, headers = "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    url = f"http://127.0.0.1:{auth_server.port}{path}"
    headers = sign("POST", url, headers, signed_body, KEY_ID, SECRET)
    resp = raw_request(auth_server.port, "POST", path, headers, sent_body, signed=False)
    assert resp.status == 403, resp.body[:300]
    assert parse_error(protocol, resp).code == "SignatureDoesNotMatch"
    assert read(good, ns, t0) == {}


def test_hand_signed_request_with_right_keys_is_accepted(auth_server, clients, protocol):
    """Control for the raw auth tests: the same request, correctly signed, is accepted."""
    good = clients()
    ns = unique_namespace(f"auth-raw-{protocol}")
    t0 = aligned(1800)
    resp = send(protocol, auth_server.port, "PutMetricData", put_body(protocol, ns, "M", 3.0, t0), key=KEY_ID, secret=SECRET)
    assert resp.status == 200, resp.body[:300]
    assert read(good, ns, t0)[t0]["Sum"] == 3.0


def test_healthz_needs_no_signature(auth_server):
    assert auth_server.healthz() == 200


@pytest.mark.parametrize("key,secret", [("AKIDANY", "whatever"), ("someone-else", "x")])
def test_server_without_keys_accepts_any_credentials(shared_server, protocol, key, secret):
    c = make_client(protocol, shared_server.endpoint, key=key, secret=secret)
    ns = unique_namespace(f"noauth-{protocol}")
    dps, t0 = put_and_read(c, ns, 4.0)
    assert dps[t0]["Sum"] == 4.0
    assert_client_used_protocol(c)
