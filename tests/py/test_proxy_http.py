"""HTTP/1.1 as the sidecar speaks it, on raw sockets: keep-alive and
pipelining, chunked request bodies, `Expect: 100-continue`, HTTP/1.0,
bodies the proxy answers without reading, malformed and oversized heads, and
chunked or close-delimited answers from the model server."""

from __future__ import annotations

import socket

import pytest

from proxy_support import ENDPOINT, request, start_proxy, wait_for
from upstream_model import UpstreamModel

INVOKE = f"/endpoints/{ENDPOINT}/invocations"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    model = UpstreamModel().start()
    proxy = start_proxy(tmp, model.url, None, "--client-timeout-ms", "2000")
    yield model, proxy
    proxy.stop()
    model.stop()


def connect(proxy) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads whole HTTP/1.1 responses (Content-Length framed) off a socket."""

    def __init__(self, s: socket.socket):
        self.s, self.buf = s, b""

    def _more(self) -> bool:
        data = self.s.recv(65536)
        self.buf += data
        return bool(data)

    def response(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._more(), f"connection closed before a response: {self.buf!r}"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", 0))
        while len(self.buf) < n:
            assert self._more(), "connection closed inside a body"
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self) -> bool:
        """Whether the peer closes the connection (nothing more arrives)."""
        return self.buf == b"" and not self._more()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


def test_keep_alive_and_pipelined_requests(stack):
    _, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        for i in range(50):
            s.sendall(post(INVOKE, f"{i},1".encode()))
            assert r.response()[::2] == (200, f"{i + 1}.0".encode())
        # three requests in one write: three answers, in order
        s.sendall(post(INVOKE, b"1,1") + post("/invocations", b"2,2") + post(INVOKE, b"3,3"))
        assert [r.response()[::2] for _ in range(3)] == [(200, b"2.0"), (200, b"4.0"), (200, b"6.0")]


def test_chunked_request_bodies_reach_the_model_whole(stack):
    model, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                  .encode() + b"2\r\n10\r\n3;ext=1\r\n,20\r\n0\r\nX-T: 1\r\n\r\n")
        assert r.response()[::2] == (200, b"30.0")
        path, headers, body = model.seen[-1]
        assert (path, body, headers["content-length"]) == ("/invocations", b"10,20", "5")
        assert "transfer-encoding" not in headers
        # the connection goes on after the trailers
        s.sendall(post(INVOKE, b"1,2"))
        assert r.response()[::2] == (200, b"3.0")


def test_expect_100_continue(stack):
    _, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 3\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        assert r.response()[0] == 100
        s.sendall(b"4,5")
        assert r.response()[::2] == (200, b"9.0")


def test_http_1_0_closes_unless_kept_alive(stack):
    _, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
        assert r.response()[0] == 200
        assert r.closed()
    with connect(proxy) as s:
        r = Reader(s)
        for _ in range(2):
            s.sendall(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _ = r.response()
            assert status == 200 and headers["connection"] == "keep-alive"


def test_connection_close_is_honoured(stack):
    _, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        s.sendall(post(INVOKE, b"1,2", "Connection: close\r\n"))
        status, headers, _ = r.response()
        assert status == 200 and headers["connection"] == "close"
        assert r.closed()


def test_a_body_answered_unread_is_skipped(stack):
    model, proxy = stack
    before = model.invocations
    with connect(proxy) as s:
        r = Reader(s)
        # a wrong endpoint is refused before the body is read
        s.sendall(post("/endpoints/nope/invocations", b"9" * 5000))
        status, headers, _ = r.response()
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationError"
        s.sendall(post(INVOKE, b"1,2"))
        assert r.response()[::2] == (200, b"3.0")
    assert model.invocations == before + 1


@pytest.mark.parametrize("raw, status", [
    (b"THIS IS NOT HTTP\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n1,2", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
])
def test_malformed_heads_are_refused_and_closed(stack, raw, status):
    model, proxy = stack
    before = model.invocations
    with connect(proxy) as s:
        r = Reader(s)
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got, headers, body = r.response()
        assert got == status and headers["connection"] == "close", body
        assert r.closed()
    assert model.invocations == before
    status, _, _ = request(proxy.url, "GET", "/ping")
    assert status == 200


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_chunked_and_close_delimited_answers(stack, framing):
    _, proxy = stack
    with connect(proxy) as s:
        r = Reader(s)
        for _ in range(3):  # the proxy opens a new upstream connection after a close-delimited one
            s.sendall(post(INVOKE, b"12,30", f"X-Amzn-SageMaker-Custom-Attributes: framing={framing}\r\n"))
            status, headers, body = r.response()
            assert (status, body) == (200, b"42.0"), body
            assert headers["content-length"] == "4" and "transfer-encoding" not in headers


def test_connections_are_bounded(tmp_path):
    model = UpstreamModel().start()
    proxy = start_proxy(tmp_path, model.url, None, "--max-connections", "2", "--threads", "1", name="bounded")
    try:
        held = [connect(proxy) for _ in range(2)]
        for s in held:  # both served, and kept open
            s.sendall(post(INVOKE, b"1,2"))
            assert Reader(s).response()[::2] == (200, b"3.0")
        with connect(proxy) as extra:
            try:
                extra.sendall(post(INVOKE, b"1,2"))
                assert extra.recv(100) == b""
            except ConnectionResetError:
                pass
        held.pop().close()

        def third_served():
            with connect(proxy) as s:
                try:
                    s.sendall(post(INVOKE, b"1,2"))
                    return Reader(s).response()[::2] == (200, b"3.0")
                except (AssertionError, ConnectionResetError, BrokenPipeError):
                    return False

        wait_for(third_served, timeout=5, what="a slot freed by a closed connection")
        held[0].close()
    finally:
        proxy.stop()
        model.stop()


def test_a_huge_chunk_is_refused_before_its_data(stack):
    model, proxy = stack
    before = model.invocations
    rss0 = proxy.rss_kib()
    with connect(proxy) as s:
        r = Reader(s)
        # one chunk announced far beyond the 6 MB limit, then data that keeps coming
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                  .encode() + b"fffffffffffffff\r\n")
        try:
            for _ in range(64):
                s.sendall(b"1" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, _ = r.response()
        assert status == 413 and headers["x-amzn-errortype"] == "ValidationError"
    assert model.invocations == before
    assert proxy.rss_kib() - rss0 < 16 * 1024


def test_head_answers_keep_the_model_servers_length(stack):
    _, proxy = stack
    with connect(proxy) as s:
        s.sendall(b"HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"content-length: 2\r\n" in head.lower(), head
        # no body follows: the next answer on the connection starts right after the head
        s.sendall(post(INVOKE, b"1,2"))
        r = Reader(s)
        r.buf = head.split(b"\r\n\r\n", 1)[1]
        assert r.response()[::2] == (200, b"3.0")
