"""A small model server for the sidecar tests: the SageMaker container contract.

- `GET /ping` answers 200 (or `ping_status`).
- `POST /invocations`: CSV rows `a,b,c` -> one sum per row (text/csv);
  JSON `{"features": [...]}` -> `{"prediction": sum}` (application/json);
  anything else is echoed back as `application/octet-stream`.
- `POST /predict`: a model server's own route, same as /invocations.

Behaviour per request comes from the `X-Amzn-SageMaker-Custom-Attributes`
header (`delay_ms=50,status=500`), so boto3's `CustomAttributes` drives it;
`framing=chunked` answers with a chunked body (one chunk per byte) and
`framing=close` with no length, ending the body by closing the connection;
`UpstreamModel.mode` switches the whole server into a failure mode:
"hang" (never answers), "garbage" (a non-HTTP reply), "reset" (headers and
part of the body, then a TCP reset). Every invocation that reached the model
is counted in `invocations`.

Run alone: `python tests/py/upstream_model.py [PORT]` (prints `listening on ...`).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _attrs(header: str | None) -> dict:
    out = {}
    for part in (header or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _num(field: str) -> float:
    """A numeric feature, or 0 for an empty or text one (the model ignores those)."""
    try:
        return float(field)
    except ValueError:
        return 0.0


def predict(content_type: str, body: bytes) -> tuple[str, bytes]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/csv":
        rows = [r for r in body.decode().splitlines() if r.strip()]
        sums = [str(sum(_num(x) for x in r.split(","))) for r in rows]
        return "text/csv; charset=utf-8", "\n".join(sums).encode()
    if media == "application/json":
        doc = json.loads(body)
        return "application/json", json.dumps({"prediction": sum(doc["features"])}).encode()
    return "application/octet-stream", body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, ctype: str, body: bytes, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        model = self.server.model
        if self.path == "/ping":
            self._send(model.ping_status, "text/plain", b"ok" if model.ping_status == 200 else b"not ready")
        elif self.path.startswith("/status"):
            self._send(200, "application/json", json.dumps({"invocations": model.invocations}).encode())
        else:
            self._send(404, "text/plain", b"no such route")

    def do_HEAD(self):
        # What GET /ping would answer, without its body.
        model = self.server.model
        body = b"ok" if model.ping_status == 200 else b"not ready"
        self.send_response(model.ping_status if self.path == "/ping" else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_POST(self):
        model = self.server.model
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path not in ("/invocations", "/predict"):
            self._send(404, "text/plain", b"no such route")
            return
        with model.lock:
            model.invocations += 1
            model.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            del model.seen[:-50]
        attrs = _attrs(self.headers.get("X-Amzn-SageMaker-Custom-Attributes"))
        mode = model.mode
        if mode == "hang":
            model.release.wait(30)
            self.close_connection = True
            return
        if mode == "garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "reset":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\n0123456789")
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        delay = float(attrs.get("delay_ms", model.delay_ms))
        if delay:
            time.sleep(delay / 1000.0)
        status = int(attrs.get("status", 200))
        if status != 200:
            self._send(status, "text/plain", f"model failed with {status}".encode())
            return
        try:
            ctype, out = predict(self.headers.get("Content-Type", ""), body)
        except Exception as e:  # a bad payload reached the model
            self._send(400, "text/plain", f"cannot parse payload: {e}".encode())
            return
        framing = attrs.get("framing")
        if framing in ("chunked", "close"):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if framing == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for b in out:
                    self.wfile.write(b"1\r\n" + bytes([b]) + b"\r\n")
                self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            else:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)
                self.close_connection = True
            return
        self._send(200, ctype, out, {"X-Amzn-SageMaker-Custom-Attributes": "served-by=upstream-model"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    model: "UpstreamModel"


class UpstreamModel:
    def __init__(self, port: int = 0):
        self.lock = threading.Lock()
        self.invocations = 0
        self.seen: list = []
        self.mode = "normal"
        self.delay_ms = 0.0
        self.ping_status = 200
        self.release = threading.Event()
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.model = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "UpstreamModel":
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    m = UpstreamModel(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"listening on 127.0.0.1:{m.port}", flush=True)
    m.httpd.serve_forever()
