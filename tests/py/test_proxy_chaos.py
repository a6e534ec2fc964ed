"""Chaos for the sidecar: the upstream refuses connections, hangs, answers
garbage or resets mid-body; clients send oversize or slow bodies. Every case
gets the right status, the proxy stays up, and its memory stays bounded."""

from __future__ import annotations

import socket
import time

import pytest

from proxy_support import ENDPOINT, free_port, request, runtime_client, start_proxy
from upstream_model import UpstreamModel

INVOKE = f"/endpoints/{ENDPOINT}/invocations"


@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chaos")
    model = UpstreamModel().start()
    proxy = start_proxy(tmp, model.url, None, "--upstream-timeout-ms", "300", "--client-timeout-ms", "500",
                        "--max-body-bytes", "1000000")
    yield model, proxy, tmp
    proxy.stop()
    model.stop()


def healthy(proxy) -> bool:
    status, _, body = request(proxy.url, "POST", INVOKE, b"1,2", {"Content-Type": "text/csv"})
    return status == 200 and body == b"3.0"


@pytest.mark.parametrize("mode", ["hang", "garbage", "reset"])
def test_upstream_failures(chaos, mode):
    model, proxy, _ = chaos
    model.mode = mode
    try:
        t = time.monotonic()
        status, headers, body = request(proxy.url, "POST", INVOKE, b"1,2", {"Content-Type": "text/csv"})
        took = time.monotonic() - t
        assert status == 424 and headers["x-amzn-errortype"] == "ModelError", body
        assert b'"OriginalStatusCode":0' in body
        if mode == "hang":
            assert b"timed out" in body and 0.25 < took < 3, took
        # the container path answers like a gateway
        status, _, body = request(proxy.url, "POST", "/invocations", b"1,2", {"Content-Type": "text/csv"})
        assert status == (504 if mode == "hang" else 502), body
        status, _, _ = request(proxy.url, "GET", "/ping")
        assert status == 200  # only invocations misbehave
    finally:
        model.mode = "normal"
    assert healthy(proxy)


def test_upstream_refuses_connections(chaos):
    _, _, tmp = chaos
    closed = f"http://127.0.0.1:{free_port()}"
    proxy = start_proxy(tmp, closed, None, name="refused")
    try:
        rt = runtime_client(proxy)
        with pytest.raises(rt.exceptions.ModelError) as e:
            rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1")
        assert "could not connect" in e.value.response["OriginalMessage"]
        status, _, body = request(proxy.url, "GET", "/ping")
        assert status == 502 and b"could not connect" in body
        assert proxy.running
    finally:
        proxy.stop()


def test_oversize_bodies_are_413(chaos):
    model, proxy, _ = chaos
    before = model.invocations
    status, headers, body = request(proxy.url, "POST", INVOKE, b"1" * 1_000_001, {"Content-Type": "text/csv"})
    assert status == 413 and headers["x-amzn-errortype"] == "ValidationError", body
    # chunked: no Content-Length to check up front, the limit still holds
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"1" * 65536
        try:
            for _ in range(20):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = s.recv(200)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert model.invocations == before
    assert healthy(proxy)


def test_slow_bodies_time_out(chaos):
    model, proxy, _ = chaos
    before = model.invocations
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n1,2".encode())
        t = time.monotonic()
        reply = s.recv(200)
        took = time.monotonic() - t
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert 0.4 < took < 0.95, took  # the client timeout (0.5 s), not twice it
    # a client that never finishes its head is cut off too
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
        t = time.monotonic()
        data = s.recv(200)
        assert time.monotonic() - t < 3
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
    assert model.invocations == before
    assert healthy(proxy)


def test_memory_stays_bounded_under_abuse(chaos):
    model, proxy, _ = chaos
    healthy(proxy)
    rss0 = proxy.rss_kib()
    big = b"1" * 900_000
    for i in range(40):
        model.mode = ("reset", "garbage", "normal")[i % 3]
        request(proxy.url, "POST", INVOKE, big, {"Content-Type": "application/octet-stream"})
        request(proxy.url, "POST", INVOKE, b"1" * 1_000_001, {"Content-Type": "text/csv"})
        # connections dropped mid-request
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n".encode() + b"x" * 1000)
    model.mode = "normal"
    assert healthy(proxy)
    grown = proxy.rss_kib() - rss0
    assert grown < 64 * 1024, f"RSS grew by {grown} KiB"
