"""Helpers for the CloudWatch Logs integration tests (tests/py/test_logs_*.py).

- `logs_client`: a plain boto3 `logs` client (AWS JSON 1.1), as users create it.
- `cw_client`: a boto3 CloudWatch client (JSON) for reading metrics that metric
  filters and EMF documents produced.
- `unique_group`: a fresh log group name per test.
- `put` / `get_all` / `walk_forward` / `walk_backward` / `filter_all`: event
  helpers; the token walks stop when the returned token repeats, as the SDK
  paginators of other languages do (and fail after a bounded number of pages).
- `logs_raw`: a hand-made Logs request (X-Amz-Target Logs_20140328.<Op>).
- `run_query`: StartQuery + GetQueryResults polled to a final status.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
from botocore.config import Config

import support
from support import RawResponse, make_client, raw_request

LOGS_TARGET_PREFIX = "Logs_20140328"
ACCOUNT = "123456789012"  # the account id modelwatch puts in ARNs
REGION = "us-east-1"

RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def logs_client(server_or_endpoint, validate: bool = True):
    endpoint = server_or_endpoint if isinstance(server_or_endpoint, str) else server_or_endpoint.endpoint
    return support._session().client(
        "logs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def cw_client(server):
    return make_client("json", server.endpoint)


def unique_group(tag: str = "") -> str:
    return f"/mwtest/{tag}{'-' if tag else ''}{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def minute_floor_ms(t_ms: int) -> int:
    return t_ms - t_ms % MINUTE_MS


def make_group(logs, tag: str = "", streams=("s1",)) -> str:
    group = unique_group(tag)
    logs.create_log_group(logGroupName=group)
    for s in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    return group


def put(logs, group: str, stream: str, events) -> dict:
    """PutLogEvents; `events` is [(timestamp_ms, message)] or [{timestamp, message}]."""
    evs = [e if isinstance(e, dict) else {"timestamp": int(e[0]), "message": e[1]} for e in events]
    resp = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=evs)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    return resp


def put_many(logs, group: str, stream: str, events, batch: int = 5000) -> None:
    for i in range(0, len(events), batch):
        r = put(logs, group, stream, events[i : i + batch])
        assert "rejectedLogEventsInfo" not in r, r["rejectedLogEventsInfo"]


MAX_PAGES = 10_000


def walk_forward(logs, group: str, stream: str, limit: int | None = None, **kw) -> tuple[list[list[dict]], str]:
    """GetLogEvents from the head, following nextForwardToken until it repeats.

    Returns the pages (lists of events) and the final token."""
    args = dict(logGroupName=group, logStreamName=stream, startFromHead=True, **kw)
    if limit:
        args["limit"] = limit
    pages = []
    token = None
    for _ in range(MAX_PAGES):
        call = dict(args)
        if token is not None:
            call["nextToken"] = token
        resp = logs.get_log_events(**call)
        assert resp["nextForwardToken"] and resp["nextBackwardToken"], "tokens must never be null"
        pages.append(resp["events"])
        nxt = resp["nextForwardToken"]
        if nxt == token:
            assert resp["events"] == [], "the token repeated but events came back"
            return pages, token
        token = nxt
    raise AssertionError(f"GetLogEvents forward walk did not end within {MAX_PAGES} pages")


def walk_backward(logs, group: str, stream: str, limit: int | None = None, **kw) -> tuple[list[list[dict]], str]:
    """GetLogEvents from the tail (startFromHead=false), following nextBackwardToken until it repeats."""
    args = dict(logGroupName=group, logStreamName=stream, startFromHead=False, **kw)
    if limit:
        args["limit"] = limit
    pages = []
    token = None
    for _ in range(MAX_PAGES):
        call = dict(args)
        if token is not None:
            call["nextToken"] = token
        resp = logs.get_log_events(**call)
        assert resp["nextForwardToken"] and resp["nextBackwardToken"], "tokens must never be null"
        pages.append(resp["events"])
        nxt = resp["nextBackwardToken"]
        if nxt == token:
            assert resp["events"] == [], "the token repeated but events came back"
            return pages, token
        token = nxt
    raise AssertionError(f"GetLogEvents backward walk did not end within {MAX_PAGES} pages")


def get_all(logs, group: str, stream: str, **kw) -> list[dict]:
    pages, _ = walk_forward(logs, group, stream, **kw)
    return [e for p in pages for e in p]


def filter_all(logs, group: str, **kw) -> list[dict]:
    """Every FilterLogEvents event, through boto3's paginator."""
    out = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kw):
        out.extend(page["events"])
    return out


def logs_raw(port: int, operation: str, body: bytes, extra_headers=None, **kw) -> RawResponse:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{LOGS_TARGET_PREFIX}.{operation}",
    }
    headers.update(extra_headers or {})
    return raw_request(port, "POST", "/", headers, body, **kw)


def logs_raw_json(port: int, operation: str, doc) -> tuple[int, dict]:
    r = logs_raw(port, operation, json.dumps(doc).encode())
    return r.status, (json.loads(r.body) if r.body else {})


def error_type(resp: RawResponse) -> str:
    """The `__type` of a Logs error response (namespace stripped)."""
    doc = json.loads(resp.body)
    assert isinstance(doc, dict) and isinstance(doc.get("__type"), str) and doc["__type"], doc
    return doc["__type"].split("#")[-1]


def code(exc) -> str:
    return exc.response["Error"]["Code"]


FINAL_QUERY_STATES = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}


def wait_query(logs, query_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        resp = logs.get_query_results(queryId=query_id)
        if resp["status"] in FINAL_QUERY_STATES:
            return resp
        if time.monotonic() > deadline:
            raise AssertionError(f"query {query_id} still {resp['status']} after {timeout}s")
        time.sleep(0.05)


def rows(resp, drop_ptr: bool = True) -> list[dict]:
    """GetQueryResults rows as dicts field → value (every value must be a string)."""
    out = []
    for row in resp["results"]:
        d = {}
        for cell in row:
            assert isinstance(cell["value"], str), f"value of {cell['field']} is not a string: {cell!r}"
            d[cell["field"]] = cell["value"]
        if drop_ptr:
            d.pop("@ptr", None)
        out.append(d)
    return out


def run_query(logs, group, query: str, start_s: int, end_s: int, **kw) -> list[dict]:
    groups = [group] if isinstance(group, str) else list(group)
    qid = logs.start_query(logGroupNames=groups, startTime=start_s, endTime=end_s, queryString=query, **kw)["queryId"]
    resp = wait_query(logs, qid)
    assert resp["status"] == "Complete", f"query {query!r} ended {resp['status']}"
    return rows(resp)


def fmt_ts(t_ms: int) -> str:
    """An Insights timestamp: `YYYY-MM-DD HH:MM:SS.mmm` UTC."""
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(t_ms / 1000, tz=_dt.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{t_ms % 1000:03d}"
