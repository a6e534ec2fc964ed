"""Durability of CloudWatch Logs data, and malformed Logs requests.

Each durability test runs its own server on its own data directory, makes N
acknowledged PutLogEvents calls, stops the process (SIGKILL or SIGTERM), starts
a new one on the same directory, and checks that every acknowledged event is
there exactly once (GetLogEvents and FilterLogEvents), along with groups,
streams, retention and metric filters. With MODELWATCH_CHECKPOINT_SECS=1 part
of the data is read from checkpointed storage and part from the in-memory head.

Malformed requests (bad JSON, wrong types, unknown operation, oversize body) get
a 4XX with `__type` and change nothing stored.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from logs_support import (
    MINUTE_MS,
    error_type,
    filter_all,
    get_all,
    logs_client,
    logs_raw,
    now_ms,
    put,
    unique_group,
    walk_backward,
    walk_forward,
)

N_CALLS = 120
PER_CALL = 3


def write_batches(logs, group, streams, t0, n, offset=0) -> list[tuple[str, int, str]]:
    """n acknowledged PutLogEvents calls (PER_CALL events each) round-robin over `streams`."""
    written = []
    for i in range(offset, offset + n):
        stream = streams[i % len(streams)]
        events = [(t0 + i * 10 + k, f"batch {i:05d} event {k} in {stream}") for k in range(PER_CALL)]
        resp = put(logs, group, stream, events)
        assert "rejectedLogEventsInfo" not in resp
        written += [(stream, ts, m) for ts, m in events]
    return written


def assert_exactly(logs, group, streams, written):
    """Every written event once, in order, via FilterLogEvents and via GetLogEvents per stream."""
    got = filter_all(logs, group)
    got_keys = [(e["logStreamName"], e["timestamp"], e["message"]) for e in got]
    dups = [k for k, c in Counter(got_keys).items() if c > 1]
    assert not dups, f"{len(dups)} events twice, e.g. {dups[:3]}"
    missing = set(written) - set(got_keys)
    assert not missing, f"{len(missing)} acknowledged events missing, e.g. {sorted(missing)[:3]}"
    extra = set(got_keys) - set(written)
    assert not extra, f"{len(extra)} events never written, e.g. {sorted(extra)[:3]}"
    assert got_keys == sorted(written, key=lambda e: e[1]), "FilterLogEvents order"
    for s in streams:
        mine = [(ts, m) for st, ts, m in written if st == s]
        evs = get_all(logs, group, s)
        assert [(e["timestamp"], e["message"]) for e in evs] == mine, f"GetLogEvents of {s}"


def setup_group(logs, tag, streams):
    group = unique_group(tag)
    logs.create_log_group(logGroupName=group)
    for s in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    return group


def test_acknowledged_events_survive_kill_9(server, tmp_path):
    s = server(data_dir=tmp_path / "data")
    logs = logs_client(s)
    streams = ["a", "b", "c"]
    group = setup_group(logs, "dur-kill", streams)
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errs",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "MWTest/durlogs", "metricValue": "1"}],
    )
    t0 = now_ms() - 60 * MINUTE_MS
    written = write_batches(logs, group, streams, t0, N_CALLS)
    assert_exactly(logs, group, streams, written)

    s.kill9()
    s.start()
    logs = logs_client(s)
    assert_exactly(logs, group, streams, written)
    (g,) = [x for x in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if x["logGroupName"] == group]
    assert g["retentionInDays"] == 30
    assert [x["logStreamName"] for x in logs.describe_log_streams(logGroupName=group)["logStreams"]] == streams
    st = {x["logStreamName"]: x for x in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    for name in streams:
        mine = [ts for sn, ts, _ in written if sn == name]
        assert st[name]["firstEventTimestamp"] == min(mine)
        assert st[name]["lastEventTimestamp"] == max(mine)
    (f,) = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert f["filterName"] == "errs" and f["filterPattern"] == "ERROR"
    # the store keeps working after recovery, and a second crash loses nothing either
    written += write_batches(logs, group, streams, t0, 30, offset=N_CALLS)
    s.kill9()
    s.start()
    logs = logs_client(s)
    assert_exactly(logs, group, streams, written)


def test_events_survive_across_checkpoints_and_kill_9(server, tmp_path):
    s = server(data_dir=tmp_path / "data", env={"MODELWATCH_CHECKPOINT_SECS": "1"})
    logs = logs_client(s)
    streams = ["x", "y"]
    group = setup_group(logs, "dur-ckpt", streams)
    t0 = now_ms() - 60 * MINUTE_MS
    written = write_batches(logs, group, streams, t0, 60)
    time.sleep(2.5)  # at least one checkpoint: these events are now on disk
    written += write_batches(logs, group, streams, t0, 60, offset=60)  # these are (also) in memory
    assert_exactly(logs, group, streams, written)
    # pages that straddle checkpointed and in-memory data
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 7}))
    assert [e["message"] for p in pages for e in p["events"]] == [m for _, _, m in sorted(written, key=lambda e: e[1])]
    for st in streams:
        mine = [m for sn, _, m in written if sn == st]
        fwd, _ = walk_forward(logs, group, st, limit=7)
        assert [e["message"] for p in fwd for e in p] == mine, f"forward walk of {st}"
        bwd, _ = walk_backward(logs, group, st, limit=13)
        assert [e["message"] for p in reversed(bwd) for e in p] == mine, f"backward walk of {st}"

    s.kill9()
    s.start()
    logs = logs_client(s)
    assert_exactly(logs, group, streams, written)
    time.sleep(2.5)  # checkpoint after recovery must not duplicate replayed events
    assert_exactly(logs, group, streams, written)
    written += write_batches(logs, group, streams, t0, 20, offset=120)
    time.sleep(1.5)
    s.kill9()
    s.start()
    assert_exactly(logs_client(s), group, streams, written)


def test_events_survive_graceful_restart(server, tmp_path):
    s = server(data_dir=tmp_path / "data")
    logs = logs_client(s)
    streams = ["only"]
    group = setup_group(logs, "dur-term", streams)
    t0 = now_ms() - 60 * MINUTE_MS
    written = write_batches(logs, group, streams, t0, 80)
    assert s.terminate() == 0
    s.start()
    logs = logs_client(s)
    assert_exactly(logs, group, streams, written)
    written += write_batches(logs, group, streams, t0, 20, offset=80)
    assert s.terminate() == 0
    s.start()
    assert_exactly(logs_client(s), group, streams, written)


def test_deletes_survive_kill_9(server, tmp_path):
    s = server(data_dir=tmp_path / "data", env={"MODELWATCH_CHECKPOINT_SECS": "1"})
    logs = logs_client(s)
    group = setup_group(logs, "dur-del", ["keep", "drop"])
    gone = setup_group(logs, "dur-gone", ["s"])
    t0 = now_ms() - 30 * MINUTE_MS
    keep = write_batches(logs, group, ["keep"], t0, 5)
    write_batches(logs, group, ["drop"], t0, 5, offset=5)
    write_batches(logs, gone, ["s"], t0, 5)
    time.sleep(1.5)
    logs.delete_log_stream(logGroupName=group, logStreamName="drop")
    logs.delete_log_group(logGroupName=gone)
    logs.delete_retention_policy(logGroupName=group)
    s.kill9()
    s.start()
    logs = logs_client(s)
    assert [x["logStreamName"] for x in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["keep"]
    assert_exactly(logs, group, ["keep"], keep)
    assert logs.describe_log_groups(logGroupNamePrefix=gone)["logGroups"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=gone)
    # recreating the deleted names starts empty
    logs.create_log_group(logGroupName=gone)
    logs.create_log_stream(logGroupName=gone, logStreamName="s")
    assert filter_all(logs, gone) == []
    logs.create_log_stream(logGroupName=group, logStreamName="drop")
    assert get_all(logs, group, "drop") == []


# --------------------------------------------------------------------------------------
# malformed requests
# --------------------------------------------------------------------------------------


def assert_4xx_typed(r):
    assert 400 <= r.status < 500, (r.status, r.body[:300])
    assert error_type(r), r.body[:300]
    ctype = r.header("content-type", "")
    assert ctype.startswith("application/x-amz-json-1.1") or ctype.startswith("application/json"), ctype


def test_malformed_requests_change_nothing(shared_server):
    port = shared_server.port
    logs = logs_client(shared_server)
    base = unique_group("malformed")
    group = setup_group(logs, "malformed-existing", ["s1"])
    t0 = now_ms() - 5 * MINUTE_MS
    put(logs, group, "s1", [(t0, "before")])

    cases = [
        ("CreateLogGroup", b'{"logGroupName": "' + base.encode() + b'/badjson"'),  # truncated JSON
        ("CreateLogGroup", b"not json at all"),
        ("CreateLogGroup", b"[1, 2, 3]"),
        ("CreateLogGroup", json.dumps({"logGroupName": 5}).encode()),
        ("CreateLogGroup", json.dumps({"logGroupName": [base + "/list"]}).encode()),
        ("CreateLogStream", json.dumps({"logGroupName": group, "logStreamName": {"a": 1}}).encode()),
        ("PutRetentionPolicy", json.dumps({"logGroupName": group, "retentionInDays": "seven"}).encode()),
        ("PutLogEvents", b'{"logGroupName": "' + group.encode() + b'", "logStreamName": "s1", "logEvents": [{"timestamp": 1,'),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logStreamName": "s1", "logEvents": "x"}).encode()),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logStreamName": "s1",
                                     "logEvents": [{"timestamp": str(t0), "message": "string timestamp"}]}).encode()),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logStreamName": "s1",
                                     "logEvents": [{"timestamp": t0, "message": 42}]}).encode()),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logStreamName": "s1",
                                     "logEvents": [{"message": "no timestamp"}]}).encode()),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logStreamName": "s1"}).encode()),
        ("PutLogEvents", json.dumps({"logGroupName": group, "logEvents": [{"timestamp": t0, "message": "no stream"}]}).encode()),
        ("DeleteLogGroup", json.dumps({"logGroupName": None}).encode()),
        ("DeleteLogGroup", json.dumps({}).encode()),
        ("DeleteLogStream", json.dumps({"logGroupName": group, "logStreamName": 1}).encode()),
        ("PutMetricFilter", json.dumps({"logGroupName": group, "filterName": "f", "filterPattern": "x",
                                        "metricTransformations": {"metricName": "M"}}).encode()),
        ("NoSuchOperation", json.dumps({"logGroupName": base + "/unknown-op"}).encode()),
        ("", json.dumps({"logGroupName": base + "/empty-op"}).encode()),
    ]
    for op, body in cases:
        r = logs_raw(port, op, body)
        assert_4xx_typed(r)

    # oversize body: far over any request limit
    big = json.dumps({
        "logGroupName": group,
        "logStreamName": "s1",
        "logEvents": [{"timestamp": t0 + 1 + i, "message": "o" * 1_000_000} for i in range(12)],
    }).encode()
    r = logs_raw(port, "PutLogEvents", big)
    assert r.status in (400, 413), (r.status, r.body[:300])
    assert error_type(r)

    # unknown Logs operation: a typed error naming it
    r = logs_raw(port, "DescribeNothing", b"{}")
    assert_4xx_typed(r)

    # nothing stored
    assert logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"] == []
    assert [x["logStreamName"] for x in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["s1"]
    (g,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in g
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    assert [e["message"] for e in get_all(logs, group, "s1")] == ["before"]
    # and the server still serves well-formed requests
    put(logs, group, "s1", [(t0 + 5, "after")])
    assert [e["message"] for e in filter_all(logs, group)] == ["before", "after"]


def test_bad_json_error_type(shared_server):
    r = logs_raw(shared_server.port, "CreateLogGroup", b"{oops")
    assert r.status == 400
    assert error_type(r) in ("SerializationException", "InvalidParameterException"), r.body


def test_unknown_operation_error_type(shared_server):
    r = logs_raw(shared_server.port, "FrobnicateLogs", b"{}")
    assert r.status == 400, (r.status, r.body)
    assert error_type(r) in ("UnknownOperationException", "InvalidAction"), r.body
