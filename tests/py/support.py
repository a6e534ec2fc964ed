"""Helpers shared by the modelwatch integration tests.

- `Server`: one modelwatch server process (start, SIGTERM, SIGKILL, restart).
- `make_client`: a boto3 CloudWatch client forced onto one wire protocol, with
  every outgoing request recorded so tests can check what was really sent.
- `raw_request`: a hand-made HTTP request (optionally SigV4-signed), for the
  malformed-input and auth tests.
- `cbor_encode` / `cbor_decode`: a small CBOR codec for raw CBOR requests.
- time helpers (`aligned`, `dt`) and small query helpers.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import http.client
import json
import math
import os
import queue
import signal
import struct
import subprocess
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.model
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE_PREFIX = "MWTest"
TARGET_PREFIX = "GraniteServiceVersion20100801"
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"
DUMMY_KEY = "AKIDEXAMPLE"
DUMMY_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

# id used in test ids -> botocore protocol name
PROTOCOLS = {"json": "json", "query": "query", "cbor": "smithy-rpc-v2-cbor"}

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0

# every server started by the session that is still running: the failure
# report hook prints their stderr
LIVE_SERVERS: list["Server"] = []


def binary_path() -> Path:
    raw = os.environ.get("MODELWATCH_BIN", "target/debug/modelwatch")
    p = Path(raw)
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


# --------------------------------------------------------------------------------------
# server process
# --------------------------------------------------------------------------------------


class ServerError(RuntimeError):
    pass


class Server:
    """A modelwatch server process on 127.0.0.1 with its own data directory."""

    def __init__(self, data_dir: Path, log_dir: Path, auth_keys: list[str] | None = None, extra_args=(), env=None):
        self.env = dict(env or {})
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.auth_keys = list(auth_keys or [])
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0
        self.stderr_paths: list[Path] = []

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> "Server":
        binary = binary_path()
        if not binary.exists():
            raise ServerError(
                f"modelwatch binary not found at {binary}; build it with "
                f"`cargo build --bin modelwatch` or set MODELWATCH_BIN"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        stderr_path = self.log_dir / f"server-{self.starts}.stderr.log"
        self.stderr_paths.append(stderr_path)
        args = [str(binary), "server", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)]
        for key in self.auth_keys:
            args += ["--auth-key", key]
        args += self.extra_args
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")
        env.update(self.env)
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env, cwd=str(REPO_ROOT)
            )
        self.port = self._read_port()
        LIVE_SERVERS.append(self)
        return self

    def _read_port(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        lines: queue.Queue = queue.Queue()
        stdout = self.proc.stdout

        def reader():
            lines.put(stdout.readline().decode("utf-8", "replace"))
            # keep draining stdout so the server never blocks on a full pipe
            for _ in iter(stdout.readline, b""):
                pass

        threading.Thread(target=reader, daemon=True).start()
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            line = ""
        prefix = "listening on 127.0.0.1:"
        if not line.startswith(prefix) or not line[len(prefix) :].strip().isdigit():
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            raise ServerError(
                f"server did not print '{prefix}<PORT>' within {STARTUP_TIMEOUT_S}s "
                f"(exit code {self.proc.returncode}, first stdout line {line!r})\n--- stderr ---\n{self.stderr_tail()}"
            )
        return int(line[len(prefix) :].strip())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> int:
        """SIGTERM, wait for exit; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._forget()
                raise ServerError(f"server did not exit within {timeout}s of SIGTERM")
        self._forget()
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._forget()

    def restart(self, graceful: bool = False) -> "Server":
        if graceful:
            self.terminate()
        else:
            self.kill9()
        return self.start()

    def _forget(self):
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)

    # -- access ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr_tail(self, limit: int = 8000) -> str:
        parts = []
        for p in self.stderr_paths:
            try:
                data = p.read_text(errors="replace")
            except OSError:
                continue
            parts.append(f"[{p.name}]\n{data[-limit:]}")
        return "\n".join(parts)

    def healthz(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status
        finally:
            conn.close()

    def client(self, protocol: str = "json", **kw):
        return make_client(protocol, self.endpoint, **kw)


# --------------------------------------------------------------------------------------
# boto3 clients forced onto one protocol
# --------------------------------------------------------------------------------------

_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _session() -> boto3.session.Session:
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict
    body: bytes


@dataclass
class ReceivedResponse:
    operation: str
    status: int
    headers: dict


@dataclass
class Recorder:
    sent: list = field(default_factory=list)
    received: list = field(default_factory=list)

    def clear(self):
        self.sent.clear()
        self.received.clear()


def make_client(
    protocol: str,
    endpoint: str,
    key: str = DUMMY_KEY,
    secret: str = DUMMY_SECRET,
    validate: bool = True,
):
    """A CloudWatch client that really speaks `protocol` (json | query | cbor).

    botocore picks the first protocol of PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    that the service model lists; patching that tuple while the client is
    created fixes its serializer and parser. The client gets `.mw_protocol` and
    `.mw_recorder` (every request sent and every response received).
    """
    wanted = PROTOCOLS[protocol]
    with mock.patch.object(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", (wanted,)):
        client = _session().client(
            "cloudwatch",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                parameter_validation=validate,
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        resolved = client.meta.service_model.resolved_protocol  # cached on the model from here on
    if resolved != wanted:
        raise AssertionError(f"client resolved protocol {resolved!r}, wanted {wanted!r}")

    recorder = Recorder()

    def on_send(request, **kwargs):
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = bytes(body.read()) if hasattr(body, "read") else bytes(body)
        recorder.sent.append(
            SentRequest(
                request.method,
                request.url,
                {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()},
                bytes(body),
            )
        )
        return None

    def on_after_call(http_response, parsed, model, **kwargs):
        recorder.received.append(
            ReceivedResponse(model.name, http_response.status_code, {k.lower(): v for k, v in http_response.headers.items()})
        )

    client.meta.events.register("before-send.cloudwatch", on_send)
    client.meta.events.register("after-call.cloudwatch", on_after_call)
    client.mw_protocol = protocol
    client.mw_recorder = recorder
    return client


def request_protocol(req: SentRequest) -> str:
    """Which protocol a recorded request used, judged from the wire."""
    ctype = req.headers.get("content-type", "")
    path = req.url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    if path.startswith(CBOR_PATH) and ctype == "application/cbor" and req.headers.get("smithy-protocol") == "rpc-v2-cbor":
        return "cbor"
    if ctype.startswith("application/x-amz-json-1.0") and req.headers.get("x-amz-target", "").startswith(TARGET_PREFIX + "."):
        return "json"
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = req.body
        if req.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if b"Action=" in body:
            return "query"
    return "unknown"


def assert_client_used_protocol(client) -> None:
    rec = client.mw_recorder
    seen = {request_protocol(r) for r in rec.sent}
    assert seen <= {client.mw_protocol}, f"client for {client.mw_protocol} sent requests as {seen}"


# --------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------


def now_s() -> float:
    return _dt.datetime.now(_dt.timezone.utc).timestamp()


def aligned(seconds_ago: float, period: int = 60) -> int:
    """Epoch seconds, a multiple of `period`, at least `seconds_ago` in the past."""
    t = now_s() - seconds_ago
    return int(math.floor(t / period) * period)


def dt(epoch: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(epoch, tz=_dt.timezone.utc)


def epoch(value) -> float:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    return float(value)


def unique_namespace(tag: str = "") -> str:
    return f"{NAMESPACE_PREFIX}/{tag}{'-' if tag else ''}{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------
# query helpers
# --------------------------------------------------------------------------------------


def datapoints_by_time(resp) -> dict:
    """GetMetricStatistics datapoints keyed by bucket start (epoch seconds)."""
    out = {}
    for dp in resp["Datapoints"]:
        t = int(round(epoch(dp["Timestamp"])))
        assert t not in out, f"two datapoints for {t} (units {out[t].get('Unit')} and {dp.get('Unit')})"
        out[t] = dp
    return out


def series(result) -> list[tuple[int, float]]:
    """A GetMetricData result as [(epoch, value)] in response order."""
    ts = [int(round(epoch(t))) for t in result["Timestamps"]]
    vals = [float(v) for v in result["Values"]]
    assert len(ts) == len(vals), f"{len(ts)} timestamps but {len(vals)} values"
    return list(zip(ts, vals))


def results_by_id(resp) -> dict:
    out = {}
    for r in resp["MetricDataResults"]:
        assert r["Id"] not in out, f"result id {r['Id']} twice"
        out[r["Id"]] = r
    return out


def list_all_metrics(client, **kw) -> list[dict]:
    metrics = []
    for page in client.get_paginator("list_metrics").paginate(**kw):
        metrics.extend(page.get("Metrics", []))
    return metrics


def metric_key(m: dict):
    return (m["Namespace"], m["MetricName"], frozenset((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# --------------------------------------------------------------------------------------
# raw HTTP
# --------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict  # lower-case names
    body: bytes

    def header(self, name: str, default=None):
        return self.headers.get(name.lower(), default)


def sign(method: str, url: str, headers: dict, body: bytes, key: str = DUMMY_KEY, secret: str = DUMMY_SECRET) -> dict:
    """SigV4-sign a request the way botocore does (service `monitoring`)."""
    req = botocore.awsrequest.AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    creds = botocore.credentials.Credentials(key, secret)
    botocore.auth.SigV4Auth(creds, "monitoring", "us-east-1").add_auth(req)
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}


def raw_request(
    port: int,
    method: str,
    path: str,
    headers: dict,
    body: bytes = b"",
    signed: bool = True,
    key: str = DUMMY_KEY,
    secret: str = DUMMY_SECRET,
    timeout: float = 30,
) -> RawResponse:
    url = f"http://127.0.0.1:{port}{path}"
    headers = dict(headers)
    if signed:
        headers = sign(method, url, headers, body, key, secret)
    headers["Content-Length"] = str(len(body))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # the server may answer (413) and close before reading a huge body;
            # its answer can still be waiting in our receive buffer
            pass
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def json_request(port: int, operation: str, body: bytes, extra_headers=None, **kw) -> RawResponse:
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
        "x-amzn-query-mode": "true",
    }
    headers.update(extra_headers or {})
    return raw_request(port, "POST", "/", headers, body, **kw)


def cbor_request(port: int, operation: str, body: bytes, extra_headers=None, **kw) -> RawResponse:
    headers = {
        "Content-Type": "application/cbor",
        "Accept": "application/cbor",
        "smithy-protocol": "rpc-v2-cbor",
        "x-amzn-query-mode": "true",
    }
    headers.update(extra_headers or {})
    return raw_request(port, "POST", CBOR_PATH + operation, headers, body, **kw)


def query_request(port: int, body: bytes, extra_headers=None, **kw) -> RawResponse:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers.update(extra_headers or {})
    return raw_request(port, "POST", "/", headers, body, **kw)


@dataclass
class ParsedError:
    protocol: str
    code: str  # query code (x-amzn-query-error / XML Code) when present, else the shape name
    shape: str | None  # JSON/CBOR __type without namespace
    message: str | None


def parse_error(protocol: str, resp: RawResponse) -> ParsedError:
    """Parses an error response in the protocol's own error shape; fails if it is not one."""
    ctype = resp.header("content-type", "")
    if protocol == "query":
        assert "xml" in ctype, f"query error must be XML, got content-type {ctype!r}: {resp.body[:300]!r}"
        root = ET.fromstring(resp.body)
        assert _local(root.tag) == "ErrorResponse", f"root element {root.tag}"
        err = next((c for c in root if _local(c.tag) == "Error"), None)
        assert err is not None, f"no <Error> in {resp.body[:300]!r}"
        fields = {_local(c.tag): (c.text or "") for c in err}
        assert fields.get("Code"), f"no <Code> in {resp.body[:300]!r}"
        return ParsedError("query", fields["Code"], None, fields.get("Message"))
    if protocol == "json":
        assert ctype.startswith("application/x-amz-json-1."), f"json error content-type {ctype!r}: {resp.body[:300]!r}"
        doc = json.loads(resp.body)
    elif protocol == "cbor":
        assert ctype.startswith("application/cbor"), f"cbor error content-type {ctype!r}: {resp.body[:300]!r}"
        assert resp.header("smithy-protocol") == "rpc-v2-cbor", "cbor error lacks smithy-protocol: rpc-v2-cbor"
        doc = cbor_decode(resp.body)
    else:
        raise ValueError(protocol)
    assert isinstance(doc, dict), f"error body is not a map: {doc!r}"
    assert isinstance(doc.get("__type"), str) and doc["__type"], f"error body has no __type: {doc!r}"
    shape = doc["__type"].split("#")[-1]
    query_error = resp.header("x-amzn-query-error")
    assert query_error, f"no x-amzn-query-error header (body {doc!r})"
    code, _, fault = query_error.partition(";")
    assert code and fault in ("Sender", "Receiver"), f"bad x-amzn-query-error {query_error!r}"
    return ParsedError(protocol, code, shape, doc.get("message") or doc.get("Message"))


def _local(tag: str) -> str:
    return tag.split("}", 1)[-1]


# --------------------------------------------------------------------------------------
# minimal CBOR (RFC 8949) codec: enough for Smithy RPC v2 bodies
# --------------------------------------------------------------------------------------


class CborTag:
    def __init__(self, tag: int, value):
        self.tag, self.value = tag, value


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 0x100:
        return bytes([(major << 5) | 24, n])
    if n < 0x10000:
        return bytes([(major << 5) | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([(major << 5) | 26]) + struct.pack(">I", n)
    return bytes([(major << 5) | 27]) + struct.pack(">Q", n)


def cbor_encode(obj) -> bytes:
    if obj is None:
        return b"\xf6"
    if obj is True:
        return b"\xf5"
    if obj is False:
        return b"\xf4"
    if isinstance(obj, int):
        return _head(0, obj) if obj >= 0 else _head(1, -1 - obj)
    if isinstance(obj, float):
        return b"\xfb" + struct.pack(">d", obj)
    if isinstance(obj, (bytes, bytearray)):
        return _head(2, len(obj)) + bytes(obj)
    if isinstance(obj, str):
        b = obj.encode()
        return _head(3, len(b)) + b
    if isinstance(obj, (list, tuple)):
        return _head(4, len(obj)) + b"".join(cbor_encode(x) for x in obj)
    if isinstance(obj, dict):
        return _head(5, len(obj)) + b"".join(cbor_encode(k) + cbor_encode(v) for k, v in obj.items())
    if isinstance(obj, CborTag):
        return _head(6, obj.tag) + cbor_encode(obj.value)
    if isinstance(obj, _dt.datetime):
        return cbor_encode(CborTag(1, obj.timestamp()))
    raise TypeError(type(obj))


def cbor_decode(data: bytes):
    value, pos = _decode(data, 0)
    if pos != len(data):
        raise ValueError(f"trailing bytes after CBOR item ({len(data) - pos})")
    return value


def _decode(data: bytes, pos: int):
    ib = data[pos]
    pos += 1
    major, info = ib >> 5, ib & 0x1F
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 25:
            return _half(data[pos : pos + 2]), pos + 2
        if info == 26:
            return struct.unpack(">f", data[pos : pos + 4])[0], pos + 4
        if info == 27:
            return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
        raise ValueError(f"unsupported simple value {info}")
    indefinite = info == 31
    if info < 24:
        n = info
    elif info == 24:
        n, pos = data[pos], pos + 1
    elif info == 25:
        n, pos = struct.unpack(">H", data[pos : pos + 2])[0], pos + 2
    elif info == 26:
        n, pos = struct.unpack(">I", data[pos : pos + 4])[0], pos + 4
    elif info == 27:
        n, pos = struct.unpack(">Q", data[pos : pos + 8])[0], pos + 8
    elif indefinite:
        n = None
    else:
        raise ValueError(f"bad additional info {info}")
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        if indefinite:
            chunks = []
            while data[pos] != 0xFF:
                chunk, pos = _decode(data, pos)
                chunks.append(chunk)
            pos += 1
            joined = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        else:
            joined, pos = data[pos : pos + n], pos + n
            if len(joined) != n:
                raise ValueError("truncated string")
        return (joined if major == 2 else joined.decode()), pos
    if major == 4:
        items = []
        while (data[pos] != 0xFF) if indefinite else (len(items) < n):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, (pos + 1 if indefinite else pos)
    if major == 5:
        out = {}
        while (data[pos] != 0xFF) if indefinite else (len(out) < n):
            k, pos = _decode(data, pos)
            v, pos = _decode(data, pos)
            out[k] = v
        return out, (pos + 1 if indefinite else pos)
    if major == 6:
        v, pos = _decode(data, pos)
        return CborTag(n, v), pos
    raise ValueError(f"major type {major}")


def _half(b: bytes) -> float:
    h = struct.unpack(">H", b)[0]
    exp, frac, sign_ = (h >> 10) & 0x1F, h & 0x3FF, -1.0 if h & 0x8000 else 1.0
    if exp == 0:
        return sign_ * frac * 2.0**-24
    if exp == 31:
        return sign_ * math.inf if frac == 0 else math.nan
    return sign_ * (1 + frac / 1024.0) * 2.0 ** (exp - 15)


# --------------------------------------------------------------------------------------
# hand-made request bodies, one builder per protocol
# --------------------------------------------------------------------------------------


def iso(epoch_s: float) -> str:
    return dt(epoch_s).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pad_dimensions(pad: int, compressible: bool) -> list[dict]:
    """Dimensions whose values add up to about `pad` characters (at most 30 of at most 1000)."""
    dims = []
    left = pad
    while left > 0:
        n = min(1000, left)
        value = ("x" * n) if compressible else os.urandom(n // 2 + 1).hex()[:n]
        dims.append({"Name": f"Pad{len(dims)}", "Value": value})
        left -= n
    assert len(dims) <= 30, "padding needs more than 30 dimensions"
    return dims


def put_body(
    protocol: str,
    ns: str,
    metric: str,
    value,
    ts,
    datums: int = 1,
    pad_per_datum: int = 0,
    compressible: bool = True,
) -> bytes:
    """A PutMetricData body of `datums` datums, each `value` at `ts`, in `protocol`.

    `pad_per_datum` gives each datum dimensions of about that many characters,
    so a body can be made large from valid content only. With compressible=True
    every datum has the same dimensions (one metric; gzip shrinks it to almost
    nothing); otherwise they are random (many metrics; gzip can't shrink them).
    """
    shared = _pad_dimensions(pad_per_datum, True) if pad_per_datum and compressible else None
    data = []
    for _ in range(datums):
        dims = shared if shared is not None else (_pad_dimensions(pad_per_datum, False) if pad_per_datum else [])
        data.append({"MetricName": metric, "Dimensions": dims, "Value": value, "Timestamp": ts})
    if protocol == "json":
        return json.dumps({"Namespace": ns, "MetricData": data}).encode()
    if protocol == "cbor":
        for d in data:
            if isinstance(ts, (int, float)):
                d["Timestamp"] = CborTag(1, ts)
        return cbor_encode({"Namespace": ns, "MetricData": data})
    if protocol == "query":
        from urllib.parse import urlencode

        fields = [("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", ns)]
        for i, d in enumerate(data, start=1):
            p = f"MetricData.member.{i}."
            fields.append((p + "MetricName", metric))
            for j, dim in enumerate(d["Dimensions"], start=1):
                fields.append((p + f"Dimensions.member.{j}.Name", dim["Name"]))
                fields.append((p + f"Dimensions.member.{j}.Value", dim["Value"]))
            fields.append((p + "Value", value if isinstance(value, str) else repr(float(value))))
            fields.append((p + "Timestamp", ts if isinstance(ts, str) else iso(ts)))
        return urlencode(fields).encode()
    raise ValueError(protocol)


def send(protocol: str, port: int, operation: str, body: bytes, extra_headers=None, **kw) -> RawResponse:
    """POSTs `body` as `operation` in `protocol` (for query the Action is in the body)."""
    if protocol == "json":
        return json_request(port, operation, body, extra_headers, **kw)
    if protocol == "cbor":
        return cbor_request(port, operation, body, extra_headers, **kw)
    if protocol == "query":
        return query_request(port, body, extra_headers, **kw)
    raise ValueError(protocol)


# --------------------------------------------------------------------------------------
# alarms: the native action-target API, a loopback webhook listener, polling
# --------------------------------------------------------------------------------------


def native_request(port: int, method: str, path: str, body=None, timeout: float = 10) -> tuple[int, object]:
    """A request to the native JSON API (`/api/v1/...`): (status, decoded JSON body or None)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"} if data else {}
    resp = raw_request(port, method, path, headers, data, signed=False, timeout=timeout)
    try:
        doc = json.loads(resp.body) if resp.body else None
    except ValueError:
        doc = None
    return resp.status, doc


def create_topic(port: int, name: str) -> str:
    """Creates a topic through the native API and returns its ARN."""
    status, doc = native_request(port, "POST", "/api/v1/topics", {"name": name})
    assert status == 200, (status, doc)
    return doc["arn"]


def subscribe_http(port: int, topic: str, url: str) -> str:
    """Subscribes an http URL to `topic`; returns the subscription ARN."""
    status, doc = native_request(port, "POST", f"/api/v1/topics/{topic}/subscriptions", {"protocol": "http", "endpoint": url})
    assert status == 200, (status, doc)
    return doc["arn"]


def deliveries(port: int, alarm: str, limit: int = 100) -> list[dict]:
    """The server's delivery rows of `alarm`, newest first."""
    from urllib.parse import quote

    status, doc = native_request(port, "GET", f"/api/v1/deliveries?alarm={quote(alarm, safe='')}&limit={limit}")
    assert status == 200, (status, doc)
    return doc["deliveries"]


def wait_for(fn, timeout: float, what: str = "condition", interval: float = 0.05):
    """Calls `fn` until it returns something truthy (returned) or `timeout` seconds pass (AssertionError)."""
    import time

    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {last!r})")
        time.sleep(interval)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self):
        return json.loads(self.body)


class WebhookListener:
    """An HTTP server on 127.0.0.1 in a thread that records every request.

    Answers `status` (200 by default) to everything. `port=0` picks a free port.
    """

    def __init__(self, port: int = 0, status: int = 200):
        import http.server

        self.status = status
        self.received: list[Received] = []
        self._cv = threading.Condition()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                import time

                item = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                with listener._cv:
                    listener.received.append(item)
                    listener._cv.notify_all()
                self.send_response(listener.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[Received]:
        with self._cv:
            return [r for r in self.received if path is None or r.path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """The first `count` requests to `path`, waiting up to `timeout` seconds for them."""
        import time

        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                got = [r for r in self.received if r.path == path]
                if len(got) >= count:
                    return got[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} requests to {path} within {timeout}s, wanted {count}")
                self._cv.wait(left)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def write_alarm_config(path: Path, delay_ms: int = 100, max_attempts: int | None = None, hooks=()) -> Path:
    """A server config file with an `[alarms]` table and `[[hooks]]` entries.

    `hooks` holds (name, kind, value): kind "command" with a list of strings,
    or "url" with a URL.
    """
    lines = ["[alarms]", f"delay_ms = {int(delay_ms)}"]
    if max_attempts is not None:
        lines.append(f"max_attempts = {int(max_attempts)}")
    for name, kind, value in hooks:
        lines += ["", "[[hooks]]", f"name = {json.dumps(name)}"]
        if kind == "command":
            lines.append(f"command = [{', '.join(json.dumps(v) for v in value)}]")
        elif kind == "url":
            lines.append(f"url = {json.dumps(value)}")
        else:
            raise ValueError(kind)
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)
