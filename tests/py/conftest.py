"""Fixtures for the modelwatch integration tests.

- `server`: a factory that starts modelwatch on 127.0.0.1:0 in a fresh data
  directory (or a given one) and stops it with SIGTERM at teardown.
- `shared_server`: one server per test module (tests use unique namespaces).
- `protocol`: "json" | "query" | "cbor", the three CloudWatch wire protocols.
- `cw`: a boto3 CloudWatch client for `shared_server` speaking `protocol`;
  at teardown it checks that every request it sent really used that protocol.

The server binary is $MODELWATCH_BIN (default target/debug/modelwatch, relative
to the repo root). When a test fails, the stderr of the servers it used is
added to the report.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

import support
from support import PROTOCOLS, Server, ServerError, assert_client_used_protocol, make_client

# --------------------------------------------------------------------------------------
# no network but loopback
# --------------------------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(address):
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {host!r}")


def _guarded_connect(self, address):
    _check_loopback(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_loopback(address)
    return _real_connect_ex(self, address)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex


# --------------------------------------------------------------------------------------
# server stderr in failure reports
# --------------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    servers = list(getattr(item, "mw_servers", []))
    for s in support.LIVE_SERVERS:
        if s not in servers:
            servers.append(s)
    for i, s in enumerate(servers):
        report.sections.append((f"modelwatch server {i} (port {s.port}, data {s.data_dir}) stderr", s.stderr_tail()))


def _start(server: Server) -> Server:
    try:
        return server.start()
    except ServerError as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def server(request, tmp_path):
    """Factory: server(auth_keys=None, data_dir=None, extra_args=(), env=None) -> running Server."""
    started: list[Server] = []
    request.node.mw_servers = started

    def start(auth_keys=None, data_dir=None, extra_args=(), env=None):
        n = len(started)
        s = Server(data_dir or (tmp_path / f"data{n}"), tmp_path / f"logs{n}", auth_keys, extra_args, env)
        started.append(s)
        return _start(s)

    yield start
    for s in started:
        if s.running:
            try:
                s.terminate()
            except ServerError:
                pass


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("shared")
    s = Server(base / "data", base / "logs")
    _start(s)
    yield s
    if s.running:
        try:
            s.terminate()
        except ServerError:
            pass


@pytest.fixture(params=list(PROTOCOLS), ids=list(PROTOCOLS))
def protocol(request):
    return request.param


@pytest.fixture(scope="module")
def _client_cache():
    return {}


@pytest.fixture
def cw(shared_server, protocol, _client_cache, request):
    key = (shared_server.port, protocol)
    client = _client_cache.get(key)
    if client is None:
        client = _client_cache[key] = make_client(protocol, shared_server.endpoint)
    client.mw_recorder.clear()
    request.node.mw_servers = [shared_server]
    yield client
    assert_client_used_protocol(client)
