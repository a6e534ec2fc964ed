"""CloudWatch Logs API with an unchanged boto3 `logs` client (AWS JSON 1.1).

Groups and streams (fields, duplicates, names, retention, pagination, delete
cascades), PutLogEvents (limits, order, rejectedLogEventsInfo), GetLogEvents
(tokens, end of stream, exclusive endTime), FilterLogEvents (interleaving,
inclusive endTime, paginator, stream selection), metric filter CRUD and
TestMetricFilter. Reference: cloudwatch_api.md §1.6 and §4.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from logs_support import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    RETENTION_DAYS,
    code,
    filter_all,
    get_all,
    logs_client,
    logs_raw,
    make_group,
    now_ms,
    put,
    put_many,
    unique_group,
    walk_backward,
    walk_forward,
)

MAX_BATCH_BYTES = 1_048_576
OVERHEAD = 26


@pytest.fixture(scope="module")
def logs(shared_server):
    return logs_client(shared_server)


@pytest.fixture(scope="module")
def loose(shared_server):
    """A client without botocore's parameter validation, for values it would refuse itself."""
    return logs_client(shared_server, validate=False)


def describe_group(logs, name):
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    assert len(groups) <= 1
    return groups[0] if groups else None


def describe_stream(logs, group, stream):
    got = [s for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
           if s["logStreamName"] == stream]
    assert len(got) <= 1
    return got[0] if got else None


def assert_logs_error(excinfo, name):
    err = excinfo.value.response
    assert err["Error"]["Code"] == name, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err


def messages(events):
    return [e["message"] for e in events]


# --------------------------------------------------------------------------------------
# log groups
# --------------------------------------------------------------------------------------


def test_create_log_group_and_describe_fields(logs):
    name = unique_group("fields")
    before = now_ms()
    resp = logs.create_log_group(logGroupName=name)
    after = now_ms()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    g = describe_group(logs, name)
    assert g is not None, "created group not described"
    assert g["logGroupName"] == name
    assert before - 1000 <= g["creationTime"] <= after + 1000
    assert "retentionInDays" not in g, "new groups never expire: no retentionInDays"
    assert re.fullmatch(r"arn:aws:logs:us-east-1:\d{12}:log-group:" + re.escape(name) + r":\*", g["arn"]), g["arn"]
    if "logGroupArn" in g:
        assert g["logGroupArn"] == g["arn"][: -len(":*")]
    assert isinstance(g["storedBytes"], int) and g["storedBytes"] >= 0
    assert g.get("metricFilterCount", 0) == 0


def test_create_log_group_with_tags_and_class(logs):
    name = unique_group("tags")
    logs.create_log_group(logGroupName=name, tags={"k": "v"}, logGroupClass="STANDARD")
    assert describe_group(logs, name) is not None


def test_duplicate_log_group(logs):
    name = unique_group("dup")
    logs.create_log_group(logGroupName=name)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as e:
        logs.create_log_group(logGroupName=name)
    assert_logs_error(e, "ResourceAlreadyExistsException")


@pytest.mark.parametrize(
    "bad",
    ["has space", "a:b", "a*b", "aws/lambda/x", "x" * 513, "semi;colon", "é"],
    ids=["space", "colon", "star", "aws-prefix", "too-long", "semicolon", "unicode"],
)
def test_bad_log_group_names(loose, bad):
    with pytest.raises(loose.exceptions.InvalidParameterException) as e:
        loose.create_log_group(logGroupName=bad)
    assert_logs_error(e, "InvalidParameterException")


def test_empty_log_group_name(loose):
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.create_log_group(logGroupName="")


def test_allowed_log_group_name_characters(logs):
    name = unique_group("chars") + "/a.b-c_d#e/" + "X" * 10
    logs.create_log_group(logGroupName=name)
    assert describe_group(logs, name)["logGroupName"] == name
    longest = "/" + "L" * 499 + unique_group("")[-12:]
    assert len(longest) == 512
    logs.create_log_group(logGroupName=longest)
    assert describe_group(logs, longest) is not None


def test_delete_missing_log_group(logs):
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.delete_log_group(logGroupName=unique_group("nope"))
    assert_logs_error(e, "ResourceNotFoundException")


def test_describe_log_groups_sorted_and_paginated(logs):
    base = unique_group("page")
    suffixes = ["b", "A", "a", "_x", "B9", "0", "b0", "Z"]
    for s in suffixes:
        logs.create_log_group(logGroupName=f"{base}/{s}")
    expected = sorted(f"{base}/{s}" for s in suffixes)  # ASCII order
    # one page with everything
    got = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]]
    assert got == expected
    # pages of 3
    names, token, pages = [], None, 0
    while True:
        kw = dict(logGroupNamePrefix=base, limit=3)
        if token:
            kw["nextToken"] = token
        resp = logs.describe_log_groups(**kw)
        pages += 1
        assert len(resp["logGroups"]) <= 3
        names += [g["logGroupName"] for g in resp["logGroups"]]
        token = resp.get("nextToken")
        if not token:
            break
        assert pages < 10
    assert names == expected
    assert pages == 3
    # the botocore paginator agrees
    pag = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=base, PaginationConfig={"PageSize": 2})
    assert [g["logGroupName"] for p in pag for g in p["logGroups"]] == expected


def test_describe_log_groups_bad_token(logs):
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(logGroupNamePrefix="/mwtest", nextToken="garbage-token")


def test_describe_log_groups_bad_limit(loose):
    for bad in (0, 51):
        with pytest.raises(loose.exceptions.InvalidParameterException):
            loose.describe_log_groups(limit=bad)


def test_describe_log_groups_name_pattern(logs):
    base = unique_group("pat")
    logs.create_log_group(logGroupName=base + "/alpha")
    logs.create_log_group(logGroupName=base + "/beta")
    token = base.rsplit("-", 1)[-1]
    got = logs.describe_log_groups(logGroupNamePattern=token + "/alp")["logGroups"]
    assert [g["logGroupName"] for g in got] == [base + "/alpha"]
    assert {"logGroupName", "creationTime", "arn"} <= set(got[0])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern=token)


# --------------------------------------------------------------------------------------
# retention
# --------------------------------------------------------------------------------------


def test_retention_accepted_values_and_delete(logs):
    name = unique_group("ret")
    logs.create_log_group(logGroupName=name)
    for days in RETENTION_DAYS:
        logs.put_retention_policy(logGroupName=name, retentionInDays=days)
        assert describe_group(logs, name)["retentionInDays"] == days
    logs.delete_retention_policy(logGroupName=name)
    assert "retentionInDays" not in describe_group(logs, name)


@pytest.mark.parametrize("bad", [0, 2, 4, 31, 366, 10_000, -1])
def test_retention_rejected_values(logs, bad):
    name = unique_group("retbad")
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.put_retention_policy(logGroupName=name, retentionInDays=bad)
    assert_logs_error(e, "InvalidParameterException")
    assert describe_group(logs, name)["retentionInDays"] == 7, "a rejected retention changed the group"


def test_retention_on_missing_group(logs):
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName=unique_group("nope"), retentionInDays=1)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_retention_policy(logGroupName=unique_group("nope"))


# --------------------------------------------------------------------------------------
# log streams
# --------------------------------------------------------------------------------------


def test_create_stream_errors(logs, loose):
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.create_log_stream(logGroupName=unique_group("nope"), logStreamName="s")
    assert_logs_error(e, "ResourceNotFoundException")
    group = make_group(logs, "streamdup")
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as e:
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
    assert_logs_error(e, "ResourceAlreadyExistsException")
    for bad in ["a:b", "a*", "x" * 513]:
        with pytest.raises(loose.exceptions.InvalidParameterException):
            loose.create_log_stream(logGroupName=group, logStreamName=bad)
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.create_log_stream(logGroupName=group, logStreamName="")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["s1"]


def test_stream_fields_before_and_after_events(logs):
    group = unique_group("sfields")
    logs.create_log_group(logGroupName=group)
    before = now_ms()
    logs.create_log_stream(logGroupName=group, logStreamName="i-123/var/log messages")
    s = describe_stream(logs, group, "i-123/var/log messages")
    assert s["logStreamName"] == "i-123/var/log messages"
    assert before - 1000 <= s["creationTime"] <= now_ms() + 1000
    assert re.fullmatch(
        r"arn:aws:logs:us-east-1:\d{12}:log-group:" + re.escape(group) + r":log-stream:i-123/var/log messages", s["arn"]
    ), s["arn"]
    assert s.get("storedBytes", 0) == 0
    for k in ("firstEventTimestamp", "lastEventTimestamp", "lastIngestionTime"):
        assert k not in s, f"{k} before any event"

    t0 = now_ms() - 10 * MINUTE_MS
    ing0 = now_ms()
    put(logs, group, "i-123/var/log messages", [(t0 + 5, "b"), (t0 + 100, "c")])
    put(logs, group, "i-123/var/log messages", [(t0, "a")])
    ing1 = now_ms()
    s = describe_stream(logs, group, "i-123/var/log messages")
    assert s["firstEventTimestamp"] == t0
    assert s["lastEventTimestamp"] == t0 + 100
    assert ing0 - 1000 <= s["lastIngestionTime"] <= ing1 + 1000
    assert s.get("storedBytes", 0) == 0, "stream storedBytes is always 0"


def test_describe_log_streams_order_prefix_and_pages(logs):
    names = ["web-2", "web-1", "db-1", "web-10", "api"]
    group = make_group(logs, "sorder", streams=names)
    t0 = now_ms() - 30 * MINUTE_MS
    # last event times: api newest, web-2 oldest
    for i, n in enumerate(["web-2", "db-1", "web-10", "web-1", "api"]):
        put(logs, group, n, [(t0 + i * 1000, n)])
    by_name = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert by_name == sorted(names)
    desc = logs.describe_log_streams(logGroupName=group, descending=True)["logStreams"]
    assert [s["logStreamName"] for s in desc] == sorted(names, reverse=True)
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["api", "web-1", "web-10", "db-1", "web-2"]
    pref = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web-")["logStreams"]
    assert [s["logStreamName"] for s in pref] == ["web-1", "web-10", "web-2"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web", orderBy="LastEventTime")
    pages = list(logs.get_paginator("describe_log_streams").paginate(logGroupName=group, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == sorted(names)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=unique_group("nope"))


def test_delete_log_stream(logs):
    group = make_group(logs, "sdel", streams=("keep", "drop"))
    t0 = now_ms() - 5 * MINUTE_MS
    put(logs, group, "keep", [(t0, "keep me")])
    put(logs, group, "drop", [(t0 + 1, "drop me")])
    logs.delete_log_stream(logGroupName=group, logStreamName="drop")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["keep"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="drop")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_events(logGroupName=group, logStreamName="drop", logEvents=[{"timestamp": t0, "message": "x"}])
    assert messages(filter_all(logs, group)) == ["keep me"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.delete_log_stream(logGroupName=group, logStreamName="drop")
    assert_logs_error(e, "ResourceNotFoundException")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_stream(logGroupName=unique_group("nope"), logStreamName="keep")
    # recreated: empty
    logs.create_log_stream(logGroupName=group, logStreamName="drop")
    assert get_all(logs, group, "drop") == []
    assert messages(filter_all(logs, group)) == ["keep me"]


def test_delete_log_group_cascades(logs):
    group = make_group(logs, "gdel", streams=("a", "b"))
    t0 = now_ms() - 5 * MINUTE_MS
    put(logs, group, "a", [(t0, "one"), (t0 + 1, "two")])
    put(logs, group, "b", [(t0 + 2, "three")])
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="f",
        filterPattern="one",
        metricTransformations=[{"metricName": "M", "metricNamespace": "MWTest/gdel", "metricValue": "1"}],
    )
    logs.delete_log_group(logGroupName=group)
    assert describe_group(logs, group) is None
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="a")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_metric_filters(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=group)
    # the same name again starts empty
    logs.create_log_group(logGroupName=group)
    g = describe_group(logs, group)
    assert "retentionInDays" not in g
    assert g.get("metricFilterCount", 0) == 0
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    assert filter_all(logs, group) == []
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    assert get_all(logs, group, "a") == []


# --------------------------------------------------------------------------------------
# PutLogEvents
# --------------------------------------------------------------------------------------


def test_put_log_events_happy_path(logs):
    group = make_group(logs, "put")
    t0 = now_ms() - MINUTE_MS
    before = now_ms()
    resp = put(logs, group, "s1", [(t0, "hello world"), (t0 + 1, '{"a":1}'), (t0 + 1, "same time"), (t0 + 2, "ünïcødé ✓")])
    after = now_ms()
    assert "rejectedLogEventsInfo" not in resp
    assert isinstance(resp.get("nextSequenceToken", ""), str)
    evs = get_all(logs, group, "s1")
    assert [(e["timestamp"], e["message"]) for e in evs] == [
        (t0, "hello world"),
        (t0 + 1, '{"a":1}'),
        (t0 + 1, "same time"),
        (t0 + 2, "ünïcødé ✓"),
    ]
    for e in evs:
        assert before - 1000 <= e["ingestionTime"] <= after + 1000


def test_put_log_events_sequence_token_ignored(logs):
    group = make_group(logs, "seqtok")
    t0 = now_ms() - MINUTE_MS
    logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": t0, "message": "a"}],
                        sequenceToken="49590000000000000000000000000000000000000000000000000000")
    logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": t0, "message": "b"}],
                        sequenceToken="bogus")
    assert messages(get_all(logs, group, "s1")) == ["a", "b"]


def test_put_log_events_missing_group_or_stream(logs):
    t = now_ms()
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.put_log_events(logGroupName=unique_group("nope"), logStreamName="s1", logEvents=[{"timestamp": t, "message": "x"}])
    assert_logs_error(e, "ResourceNotFoundException")
    group = make_group(logs, "nostream")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": t, "message": "x"}])
    assert_logs_error(e, "ResourceNotFoundException")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"] == "s1", "no auto-create"
    assert len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 1


def test_put_log_events_out_of_order_rejected_whole(logs):
    group = make_group(logs, "order")
    t0 = now_ms() - MINUTE_MS
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        put(logs, group, "s1", [(t0, "a"), (t0 + 5, "b"), (t0 + 4, "c")])
    assert_logs_error(e, "InvalidParameterException")
    assert "chronological" in e.value.response["Error"]["Message"]
    assert get_all(logs, group, "s1") == []
    assert filter_all(logs, group) == []


def test_put_log_events_too_many_events(logs):
    group = make_group(logs, "many")
    t0 = now_ms() - MINUTE_MS
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        put(logs, group, "s1", [(t0, "x")] * 10_001)
    assert_logs_error(e, "InvalidParameterException")
    assert get_all(logs, group, "s1") == []
    resp = put(logs, group, "s1", [(t0 + i // 100, f"m{i}") for i in range(10_000)])
    assert "rejectedLogEventsInfo" not in resp
    assert len(filter_all(logs, group)) == 10_000


def test_put_log_events_empty_batch_and_bad_events(loose):
    group = make_group(loose, "emptyb")
    t0 = now_ms()
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[])
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": t0, "message": ""}])
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": -1, "message": "x"}])
    assert get_all(loose, group, "s1") == []


def test_put_log_events_batch_size_exactly_at_limit_accepted(logs):
    group = make_group(logs, "size")
    t0 = now_ms() - MINUTE_MS
    n = 4
    size = MAX_BATCH_BYTES // n - OVERHEAD  # 4 × (262118 + 26) = 1,048,576
    events = [(t0 + i, chr(ord("a") + i) * size) for i in range(n)]
    assert sum(len(m.encode()) + OVERHEAD for _, m in events) == MAX_BATCH_BYTES
    resp = put(logs, group, "s1", events)
    assert "rejectedLogEventsInfo" not in resp
    got = get_all(logs, group, "s1")
    assert [len(e["message"]) for e in got] == [size] * n


def test_put_log_events_batch_one_byte_over_limit(logs):
    group = make_group(logs, "oversize")
    t0 = now_ms() - MINUTE_MS
    n = 4
    size = MAX_BATCH_BYTES // n - OVERHEAD
    events = [(t0 + i, "z" * (size + (1 if i == n - 1 else 0))) for i in range(n)]
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        put(logs, group, "s1", events)
    assert_logs_error(e, "InvalidParameterException")
    assert get_all(logs, group, "s1") == []


def test_put_log_events_size_counts_utf8_bytes(shared_server, logs):
    """2-byte characters: the character count fits, the UTF-8 byte count does not."""
    group = make_group(logs, "utf8size")
    t0 = now_ms() - MINUTE_MS
    k = (MAX_BATCH_BYTES - OVERHEAD) // 2 + 1  # 2k + 26 = 1,048,578 bytes, k + 26 characters
    body = json.dumps(
        {"logGroupName": group, "logStreamName": "s1", "logEvents": [{"timestamp": t0, "message": "é" * k}]},
        ensure_ascii=False,
    ).encode()
    r = logs_raw(shared_server.port, "PutLogEvents", body)
    assert r.status == 400, (r.status, r.body[:300])
    assert json.loads(r.body)["__type"].split("#")[-1] == "InvalidParameterException"
    assert get_all(logs, group, "s1") == []


def test_put_log_events_span_over_24h_rejected(logs):
    group = make_group(logs, "span")
    now = now_ms()
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        put(logs, group, "s1", [(now - 25 * HOUR_MS, "old"), (now, "new")])
    assert_logs_error(e, "InvalidParameterException")
    assert get_all(logs, group, "s1") == []
    # exactly 24 h is fine
    resp = put(logs, group, "s1", [(now - 24 * HOUR_MS + 60_000, "a"), (now + 60_000, "b")])
    assert "rejectedLogEventsInfo" not in resp
    assert messages(get_all(logs, group, "s1")) == ["a", "b"]


def test_rejected_too_old_and_too_new(logs):
    group = make_group(logs, "rej")
    now = now_ms()
    events = [
        (now - 15 * DAY_MS, "old0"),
        (now - 15 * DAY_MS + 1, "old1"),
        (now - HOUR_MS, "ok0"),
        (now, "ok1"),
        (now + HOUR_MS, "ok2"),
        (now + 3 * HOUR_MS, "new0"),
        (now + 4 * HOUR_MS, "new1"),
    ]
    resp = put(logs, group, "s1", events)
    info = resp["rejectedLogEventsInfo"]
    assert info.get("tooOldLogEventEndIndex") == 2, info
    assert info.get("tooNewLogEventStartIndex") == 5, info
    assert "expiredLogEventEndIndex" not in info, info
    assert messages(get_all(logs, group, "s1")) == ["ok0", "ok1", "ok2"]
    assert messages(filter_all(logs, group)) == ["ok0", "ok1", "ok2"]


def test_rejected_expired_by_retention(logs):
    group = make_group(logs, "expired")
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    now = now_ms()
    events = [
        (now - 15 * DAY_MS, "too old"),
        (now - 3 * DAY_MS, "expired a"),
        (now - 2 * DAY_MS, "expired b"),
        (now - 10 * MINUTE_MS, "kept"),
    ]
    resp = put(logs, group, "s1", events)
    info = resp["rejectedLogEventsInfo"]
    assert info.get("tooOldLogEventEndIndex") == 1, info
    assert info.get("expiredLogEventEndIndex") == 3, info
    assert "tooNewLogEventStartIndex" not in info, info
    assert messages(get_all(logs, group, "s1")) == ["kept"]


def test_all_events_rejected_is_still_200(logs):
    group = make_group(logs, "allrej")
    now = now_ms()
    resp = put(logs, group, "s1", [(now + 3 * HOUR_MS, "a"), (now + 3 * HOUR_MS + 1, "b")])
    assert resp["rejectedLogEventsInfo"].get("tooNewLogEventStartIndex") == 0
    assert get_all(logs, group, "s1") == []
    s = describe_stream(logs, group, "s1")
    assert "lastEventTimestamp" not in s


def test_no_rejection_info_for_in_window_events(logs):
    group = make_group(logs, "window")
    now = now_ms()
    resp = put(logs, group, "s1", [(now - 13 * DAY_MS, "almost old")])
    assert "rejectedLogEventsInfo" not in resp
    resp = put(logs, group, "s1", [(now + HOUR_MS + 50 * MINUTE_MS, "almost new")])
    assert "rejectedLogEventsInfo" not in resp
    assert messages(get_all(logs, group, "s1")) == ["almost old", "almost new"]


# --------------------------------------------------------------------------------------
# GetLogEvents
# --------------------------------------------------------------------------------------


def test_get_log_events_forward_walk_ends_when_token_repeats(logs):
    group = make_group(logs, "fwd")
    t0 = now_ms() - 30 * MINUTE_MS
    expected = [f"e{i:02d}" for i in range(25)]
    put(logs, group, "s1", [(t0 + i * 1000, m) for i, m in enumerate(expected)])
    pages, last = walk_forward(logs, group, "s1", limit=4)
    assert all(len(p) <= 4 for p in pages)
    got = [e["message"] for p in pages for e in p]
    assert got == expected
    assert last.startswith("f/"), last
    # asking again with the final token stays at the end
    again = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=last, startFromHead=True, limit=4)
    assert again["events"] == [] and again["nextForwardToken"] == last
    # new events after the end show up with the same token
    put(logs, group, "s1", [(t0 + 100_000, "late")])
    more = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=last, startFromHead=True, limit=4)
    assert messages(more["events"]) == ["late"]


def test_get_log_events_backward_walk(logs):
    group = make_group(logs, "bwd")
    t0 = now_ms() - 30 * MINUTE_MS
    expected = [f"e{i:02d}" for i in range(23)]
    put(logs, group, "s1", [(t0 + i * 1000, m) for i, m in enumerate(expected)])
    first = logs.get_log_events(logGroupName=group, logStreamName="s1", limit=5)
    assert messages(first["events"]) == expected[-5:], "newest events, ascending within the page"
    pages, last = walk_backward(logs, group, "s1", limit=5)
    assert last.startswith("b/"), last
    for p in pages:
        assert [e["timestamp"] for e in p] == sorted(e["timestamp"] for e in p), "ascending within a page"
    got = [e["message"] for p in reversed(pages) for e in p]
    assert got == expected


def test_get_log_events_default_newest_first_page(logs):
    group = make_group(logs, "deflt")
    t0 = now_ms() - 30 * MINUTE_MS
    put(logs, group, "s1", [(t0 + i, f"m{i}") for i in range(30)])
    resp = logs.get_log_events(logGroupName=group, logStreamName="s1")
    assert messages(resp["events"]) == [f"m{i}" for i in range(30)]
    head = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True, limit=3)
    assert messages(head["events"]) == ["m0", "m1", "m2"]
    # forward from the head token, then back with the backward token of that page
    nxt = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=head["nextForwardToken"], startFromHead=True, limit=3)
    assert messages(nxt["events"]) == ["m3", "m4", "m5"]
    back = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=nxt["nextBackwardToken"], limit=3)
    assert messages(back["events"]) == ["m0", "m1", "m2"]


def test_get_log_events_empty_stream_tokens_stable(logs):
    group = make_group(logs, "empty")
    resp = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)
    assert resp["events"] == []
    tok = resp["nextForwardToken"]
    again = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True, nextToken=tok)
    assert again["events"] == [] and again["nextForwardToken"] == tok
    pages, _ = walk_forward(logs, group, "s1")
    assert [e for p in pages for e in p] == []


def test_get_log_events_time_range_end_exclusive(logs):
    group = make_group(logs, "getrange")
    t0 = now_ms() - 30 * MINUTE_MS
    put(logs, group, "s1", [(t0, "a"), (t0 + 1000, "b"), (t0 + 2000, "c"), (t0 + 3000, "d")])
    got = get_all(logs, group, "s1", startTime=t0 + 1000, endTime=t0 + 3000)
    assert messages(got) == ["b", "c"], "startTime inclusive, endTime exclusive"
    got = logs.get_log_events(logGroupName=group, logStreamName="s1", startTime=t0 + 1000, endTime=t0 + 3000)
    assert messages(got["events"]) == ["b", "c"]
    got = logs.get_log_events(logGroupName=group, logStreamName="s1", startTime=t0 + 1, endTime=t0 + 1000, startFromHead=True)
    assert got["events"] == []


def test_get_log_events_errors(logs):
    group = make_group(logs, "geterr")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert_logs_error(e, "ResourceNotFoundException")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=unique_group("nope"), logStreamName="s1")
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken="f/garbage")
    assert_logs_error(e, "InvalidParameterException")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName=group, logStreamName="s1", limit=10_001)


def test_get_log_events_by_group_identifier(logs):
    group = make_group(logs, "ident")
    t0 = now_ms() - MINUTE_MS
    put(logs, group, "s1", [(t0, "x")])
    arn = describe_group(logs, group)["arn"][: -len(":*")]
    got = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s1", startFromHead=True)
    assert messages(got["events"]) == ["x"]
    got = logs.get_log_events(logGroupIdentifier=group, logStreamName="s1", startFromHead=True)
    assert messages(got["events"]) == ["x"]


# --------------------------------------------------------------------------------------
# FilterLogEvents
# --------------------------------------------------------------------------------------


def test_filter_log_events_interleaves_streams_by_timestamp(logs):
    group = make_group(logs, "inter", streams=("a", "b", "c"))
    t0 = now_ms() - 20 * MINUTE_MS
    put(logs, group, "a", [(t0, "a0"), (t0 + 20, "a2"), (t0 + 40, "a4")])
    put(logs, group, "b", [(t0 + 10, "b1"), (t0 + 30, "b3")])
    put(logs, group, "c", [(t0 + 50, "c5")])
    resp = logs.filter_log_events(logGroupName=group)
    evs = resp["events"]
    assert messages(evs) == ["a0", "b1", "a2", "b3", "a4", "c5"]
    assert [e["logStreamName"] for e in evs] == ["a", "b", "a", "b", "a", "c"]
    assert len({e["eventId"] for e in evs}) == len(evs), "eventIds must be unique"
    for e in evs:
        assert {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"} <= set(e)
    assert "nextToken" not in resp, "nextToken is absent when finished"
    assert resp.get("searchedLogStreams", []) == []
    assert messages(logs.filter_log_events(logGroupName=group, logStreamNames=["b", "c"])["events"]) == ["b1", "b3", "c5"]
    assert messages(logs.filter_log_events(logGroupName=group, logStreamNamePrefix="a")["events"]) == ["a0", "a2", "a4"]
    assert logs.filter_log_events(logGroupName=group, logStreamNames=["nope"])["events"] == []
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.filter_log_events(logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="a")
    assert_logs_error(e, "InvalidParameterException")


def test_filter_log_events_same_timestamp_keeps_ingestion_order(logs):
    group = make_group(logs, "ties", streams=("a", "b"))
    t = now_ms() - 5 * MINUTE_MS
    put(logs, group, "b", [(t, "first")])
    put(logs, group, "a", [(t, "second"), (t, "third")])
    put(logs, group, "b", [(t, "fourth")])
    assert messages(filter_all(logs, group)) == ["first", "second", "third", "fourth"]


def test_filter_log_events_time_range_end_inclusive(logs):
    group = make_group(logs, "frange")
    t0 = now_ms() - 30 * MINUTE_MS
    put(logs, group, "s1", [(t0, "a"), (t0 + 1000, "b"), (t0 + 2000, "c"), (t0 + 3000, "d")])
    got = filter_all(logs, group, startTime=t0 + 1000, endTime=t0 + 2000)
    assert messages(got) == ["b", "c"], "startTime and endTime both inclusive"
    assert messages(filter_all(logs, group, startTime=t0 + 3000)) == ["d"]
    assert messages(filter_all(logs, group, endTime=t0)) == ["a"]
    assert filter_all(logs, group, startTime=t0 + 1, endTime=t0 + 999) == []


def test_filter_log_events_pattern(logs):
    group = make_group(logs, "fpat")
    t0 = now_ms() - 10 * MINUTE_MS
    lines = ["ERROR boom", "DEBUG ERROR detail", "INFO ok", "ERROR again", '{"level":"info","n":5}', '{"level":"error","n":2}']
    put(logs, group, "s1", [(t0 + i, m) for i, m in enumerate(lines)])
    assert messages(filter_all(logs, group, filterPattern='"ERROR" -DEBUG')) == ["ERROR boom", "ERROR again"]
    assert messages(filter_all(logs, group, filterPattern="{ $.n > 3 }")) == ['{"level":"info","n":5}']
    assert messages(filter_all(logs, group, filterPattern="")) == lines
    assert filter_all(logs, group, filterPattern="NOTHERE") == []


def test_filter_log_events_bad_pattern(logs):
    group = make_group(logs, "fbad")
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.a = ")
    assert_logs_error(e, "InvalidParameterException")


def test_filter_log_events_paginator_over_10000_events(logs):
    group = make_group(logs, "fbig", streams=("a", "b"))
    t0 = now_ms() - 60 * MINUTE_MS
    n = 6_500
    put_many(logs, group, "a", [(t0 + 2 * i, f"a{i:05d}") for i in range(n)])
    put_many(logs, group, "b", [(t0 + 2 * i + 1, f"b{i:05d}") for i in range(n)])
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group))
    assert len(pages) >= 2, "more than 10,000 events need more than one page"
    for p in pages:
        assert len(p["events"]) <= 10_000
    assert "nextToken" not in pages[-1]
    got = [e["message"] for p in pages for e in p["events"]]
    expected = [f"{s}{i:05d}" for i in range(n) for s in "ab"]
    assert len(got) == 2 * n
    assert got == expected


def test_filter_log_events_small_limit_pages(logs):
    group = make_group(logs, "flimit", streams=("a", "b"))
    t0 = now_ms() - 10 * MINUTE_MS
    put(logs, group, "a", [(t0 + 2 * i, f"a{i}") for i in range(25)])
    put(logs, group, "b", [(t0 + 2 * i + 1, f"b{i}") for i in range(25)])
    got, token, calls = [], None, 0
    while True:
        kw = dict(logGroupName=group, limit=7, filterPattern="-a13")
        if token:
            kw["nextToken"] = token
        resp = logs.filter_log_events(**kw)
        calls += 1
        assert len(resp["events"]) <= 7
        got += messages(resp["events"])
        token = resp.get("nextToken")
        if not token:
            break
        assert calls < 100
    expected = [f"{s}{i}" for i in range(25) for s in "ab" if f"{s}{i}" != "a13"]
    assert got == expected
    assert calls >= 7
    via_paginator = filter_all(logs, group, filterPattern="-a13", PaginationConfig={"PageSize": 4})
    assert messages(via_paginator) == expected


def test_filter_log_events_bad_token_and_limit(logs, loose):
    group = make_group(logs, "ftok")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, nextToken="not-a-token")
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.filter_log_events(logGroupName=group, limit=0)
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.filter_log_events(logGroupName=group, limit=10_001)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=unique_group("nope"))


# --------------------------------------------------------------------------------------
# metric filters (CRUD; the metrics themselves are in test_logs_metrics.py)
# --------------------------------------------------------------------------------------


def _mf(logs, group, name, pattern="ERROR", metric="Errors", ns="MWTest/mf", value="1", **extra):
    t = {"metricName": metric, "metricNamespace": ns, "metricValue": value, **extra}
    return logs.put_metric_filter(logGroupName=group, filterName=name, filterPattern=pattern, metricTransformations=[t])


def test_metric_filter_crud(logs):
    group = make_group(logs, "mfcrud")
    before = now_ms()
    _mf(logs, group, "zeta", pattern="ERROR")
    _mf(logs, group, "alpha", pattern="{ $.latency = * }", metric="Latency", value="$.latency", unit="Milliseconds")
    _mf(logs, group, "beta", pattern="[ip, user, ..., status, bytes]", metric="Bytes", value="$bytes",
        dimensions={"Status": "$status"})
    _mf(logs, group, "gamma", pattern="WARN", metric="Warns", defaultValue=0.0)
    got = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in got] == ["alpha", "beta", "gamma", "zeta"]
    by = {f["filterName"]: f for f in got}
    a = by["alpha"]
    assert a["filterPattern"] == "{ $.latency = * }"
    assert a["logGroupName"] == group
    assert before - 1000 <= a["creationTime"] <= now_ms() + 1000
    (ta,) = a["metricTransformations"]
    assert (ta["metricName"], ta["metricNamespace"], ta["metricValue"]) == ("Latency", "MWTest/mf", "$.latency")
    assert ta.get("unit") == "Milliseconds"
    assert by["beta"]["metricTransformations"][0]["dimensions"] == {"Status": "$status"}
    assert by["gamma"]["metricTransformations"][0]["defaultValue"] == 0.0
    assert describe_group(logs, group).get("metricFilterCount") == 4
    # prefix, metric name + namespace
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName=group, filterNamePrefix="g")["metricFilters"]] == ["gamma"]
    sel = logs.describe_metric_filters(metricName="Latency", metricNamespace="MWTest/mf")["metricFilters"]
    assert group in {f["logGroupName"] for f in sel}
    assert all(f["metricTransformations"][0]["metricName"] == "Latency" for f in sel)
    # pagination
    pages = list(logs.get_paginator("describe_metric_filters").paginate(logGroupName=group, PaginationConfig={"PageSize": 3}))
    assert [f["filterName"] for p in pages for f in p["metricFilters"]] == ["alpha", "beta", "gamma", "zeta"]
    # upsert
    _mf(logs, group, "zeta", pattern="FATAL", metric="Fatals")
    z = [f for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"] if f["filterName"] == "zeta"]
    assert len(z) == 1 and z[0]["filterPattern"] == "FATAL" and z[0]["metricTransformations"][0]["metricName"] == "Fatals"
    # delete
    logs.delete_metric_filter(logGroupName=group, filterName="zeta")
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"]] == ["alpha", "beta", "gamma"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.delete_metric_filter(logGroupName=group, filterName="zeta")
    assert_logs_error(e, "ResourceNotFoundException")


def test_metric_filter_errors(logs, loose):
    group = make_group(logs, "mferr")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        _mf(logs, unique_group("nope"), "f")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        _mf(logs, group, "f", pattern="{ $.a = ")
    with pytest.raises(loose.exceptions.InvalidParameterException):
        t = {"metricName": "M", "metricNamespace": "MWTest/x", "metricValue": "1"}
        loose.put_metric_filter(logGroupName=group, filterName="two", filterPattern="", metricTransformations=[t, t])
    with pytest.raises(loose.exceptions.InvalidParameterException):
        loose.put_metric_filter(logGroupName=group, filterName="none", filterPattern="", metricTransformations=[])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        _mf(logs, group, "f", metric="Bad:Name")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        _mf(logs, group, "f", pattern="[a, b]", dimensions={"A": "$a", "B": "$b"}, defaultValue=0.0)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        _mf(logs, group, "f", pattern="{ $.a = * }", dimensions={"A": "$.a", "B": "$.b", "C": "$.c", "D": "$.d"})
    with pytest.raises(logs.exceptions.InvalidParameterException):
        _mf(logs, group, "bad:name")
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []


def test_metric_filter_limit_per_group(logs):
    group = make_group(logs, "mflimit")
    for i in range(100):
        _mf(logs, group, f"f{i:03d}", pattern=f"T{i}")
    with pytest.raises(logs.exceptions.LimitExceededException) as e:
        _mf(logs, group, "one-too-many")
    assert_logs_error(e, "LimitExceededException")
    _mf(logs, group, "f000", pattern="updated")  # an update is not a new filter
    assert len(filter_all_filters(logs, group)) == 100


def filter_all_filters(logs, group):
    pages = logs.get_paginator("describe_metric_filters").paginate(logGroupName=group)
    return [f for p in pages for f in p["metricFilters"]]


def test_regex_metric_filters_limited_to_5_per_group(logs):
    group = make_group(logs, "mfregex")
    for i in range(5):
        _mf(logs, group, f"re{i}", pattern=f"%err{i}%")
    with pytest.raises((logs.exceptions.LimitExceededException, logs.exceptions.InvalidParameterException)):
        _mf(logs, group, "re5", pattern="%err5%")
    _mf(logs, group, "plain", pattern="ERROR")  # filters without regex are still fine
    assert len(filter_all_filters(logs, group)) == 6


def test_test_metric_filter(logs):
    line = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    other = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 200 99'
    resp = logs.test_metric_filter(
        filterPattern="[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
        logEventMessages=[other, line],
    )
    (m,) = resp["matches"]
    assert m["eventNumber"] == 2
    assert m["eventMessage"] == line
    assert m["extractedValues"] == {
        "$ip": "127.0.0.1",
        "$user": "Prod",
        "$username": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$bytes": "1534",
    }
    resp = logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["ERROR a", "INFO b", "x ERROR"])
    assert [(m["eventNumber"], m["eventMessage"]) for m in resp["matches"]] == [(1, "ERROR a"), (3, "x ERROR")]
    assert all(not m.get("extractedValues") for m in resp["matches"])
    assert logs.test_metric_filter(filterPattern="NOPE", logEventMessages=["a"])["matches"] == []
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern="{ $.a = ", logEventMessages=["a"])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern="a", logEventMessages=["x"] * 51)
