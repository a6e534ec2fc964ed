"""Logs Insights: StartQuery / GetQueryResults / StopQuery / DescribeQueries
(reference §4.6) on a small set of known events with exact expected rows.

startTime / endTime are epoch SECONDS, both inclusive. Every result value is a
string; timestamps render as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
"""

from __future__ import annotations

import json
import time

import pytest

from logs_support import (
    MINUTE_MS,
    fmt_ts,
    logs_client,
    now_ms,
    put,
    rows,
    run_query,
    unique_group,
    wait_query,
)


@pytest.fixture(scope="module")
def logs(shared_server):
    return logs_client(shared_server)


class Data:
    group: str
    other: str
    t0: int  # ms, start of a minute
    events: list  # (stream, ts, message)

    @property
    def start_s(self):
        return self.t0 // 1000 - 60

    @property
    def end_s(self):
        return self.t0 // 1000 + 600


@pytest.fixture(scope="module")
def data(logs):
    d = Data()
    t = now_ms() - 30 * MINUTE_MS
    d.t0 = t - t % MINUTE_MS
    d.group = unique_group("insights")
    d.other = unique_group("insights-other")
    t0 = d.t0
    d.events = [
        ("web", t0 + 1_000, "INFO GET /a 200 12ms"),
        ("web", t0 + 2_000, "ERROR GET /b 500 340ms"),
        ("db", t0 + 3_000, json.dumps({"level": "error", "latency": 250, "op": "query"})),
        ("web", t0 + 61_000, "INFO GET /c 200 8ms"),
        ("db", t0 + 62_000, json.dumps({"level": "info", "latency": 40, "op": "insert"})),
        ("web", t0 + 63_000, "ERROR POST /d 503 1200ms"),
        ("web", t0 + 125_000, "INFO GET /e 404 3ms"),
    ]
    logs.create_log_group(logGroupName=d.group)
    for s in ("web", "db"):
        logs.create_log_stream(logGroupName=d.group, logStreamName=s)
        put(logs, d.group, s, [(ts, m) for st, ts, m in d.events if st == s])
    logs.create_log_group(logGroupName=d.other)
    logs.create_log_stream(logGroupName=d.other, logStreamName="x")
    put(logs, d.other, "x", [(t0 + 1_500, "ERROR other group"), (t0 + 70_000, "INFO other group")])
    return d


def q(logs, data, query, group=None, start=None, end=None, **kw):
    return run_query(
        logs, group or data.group, query, data.start_s if start is None else start, data.end_s if end is None else end, **kw
    )


def test_fields_sort_limit(logs, data):
    got = q(logs, data, "fields @timestamp, @message, @logStream | sort @timestamp asc | limit 3")
    assert got == [
        {"@timestamp": fmt_ts(ts), "@message": m, "@logStream": s} for s, ts, m in sorted(data.events, key=lambda e: e[1])[:3]
    ]


def test_sort_desc(logs, data):
    got = q(logs, data, "fields @timestamp, @message | sort @timestamp desc | limit 2")
    newest = sorted(data.events, key=lambda e: e[1], reverse=True)[:2]
    assert got == [{"@timestamp": fmt_ts(ts), "@message": m} for _, ts, m in newest]


def test_fields_rows_carry_ptr(logs, data):
    qid = logs.start_query(
        logGroupName=data.group, startTime=data.start_s, endTime=data.end_s, queryString="fields @message | limit 1"
    )["queryId"]
    resp = wait_query(logs, qid)
    assert resp["status"] == "Complete"
    (row,) = resp["results"]
    assert {c["field"] for c in row} >= {"@message"}
    assert all(isinstance(c["value"], str) for c in row)


def test_default_columns_and_limit(logs, data):
    got = q(logs, data, "limit 2")
    assert len(got) == 2
    for r in got:
        assert set(r) == {"@timestamp", "@message"}
        assert (r["@message"]) in {m for _, _, m in data.events}


def test_filter_like_regex(logs, data):
    got = q(logs, data, "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp asc")
    assert got == [
        {"@timestamp": fmt_ts(data.t0 + 2_000), "@message": "ERROR GET /b 500 340ms"},
        {"@timestamp": fmt_ts(data.t0 + 63_000), "@message": "ERROR POST /d 503 1200ms"},
    ]


def test_filter_like_string_and_not(logs, data):
    got = q(logs, data, 'filter @message like "GET" and not (@message like "ERROR") | fields @message | sort @timestamp asc')
    assert got == [{"@message": m} for m in ("INFO GET /a 200 12ms", "INFO GET /c 200 8ms", "INFO GET /e 404 3ms")]


def test_stats_count_by_bin_1m(logs, data):
    got = q(logs, data, "stats count(*) by bin(1m)")
    t0 = data.t0
    want = [
        {"bin(1m)": fmt_ts(t0), "count(*)": "3"},
        {"bin(1m)": fmt_ts(t0 + 60_000), "count(*)": "3"},
        {"bin(1m)": fmt_ts(t0 + 120_000), "count(*)": "1"},
    ]
    key = lambda r: r["bin(1m)"]
    assert sorted(got, key=key) == want


def test_stats_count_by_stream_sorted(logs, data):
    got = q(logs, data, "stats count(*) as n by @logStream | sort n desc")
    assert got == [{"@logStream": "web", "n": "5"}, {"@logStream": "db", "n": "2"}]


def test_stats_over_json_fields(logs, data):
    (row,) = q(logs, data, "filter ispresent(latency) | stats sum(latency) as total, avg(latency) as mean, max(latency) as hi, min(latency) as lo, count(*) as n")
    assert set(row) == {"total", "mean", "hi", "lo", "n"}
    assert float(row["total"]) == 290.0
    assert float(row["mean"]) == 145.0
    assert float(row["hi"]) == 250.0
    assert float(row["lo"]) == 40.0
    assert row["n"] == "2"


def test_filter_json_field(logs, data):
    got = q(logs, data, 'filter level = "error" | fields op, latency')
    assert got == [{"op": "query", "latency": "250"}]


def test_parse_glob(logs, data):
    got = q(
        logs,
        data,
        'parse @message "* * * * *ms" as level, method, path, status, dur '
        "| filter status >= 500 | sort @timestamp asc | display path, dur, method",
    )
    assert got == [
        {"path": "/b", "dur": "340", "method": "GET"},
        {"path": "/d", "dur": "1200", "method": "POST"},
    ]


def test_display_last_wins(logs, data):
    got = q(logs, data, "fields @timestamp, @message, @logStream | display @message | sort @timestamp asc | display @logStream | limit 2")
    assert got == [{"@logStream": "web"}, {"@logStream": "web"}]


def test_parse_then_stats_by_field(logs, data):
    got = q(logs, data, 'parse @message "* * * * *ms" as level, method, path, status, dur | filter ispresent(level) | stats count(*) as n by level | sort level asc')
    assert got == [{"level": "ERROR", "n": "2"}, {"level": "INFO", "n": "3"}]


def test_time_range_in_seconds_inclusive(logs, data):
    s = (data.t0 + 61_000) // 1000
    e = (data.t0 + 63_000) // 1000
    got = q(logs, data, "stats count(*) as n", start=s, end=e)
    assert got == [{"n": "3"}]
    got = q(logs, data, "fields @message | sort @timestamp asc", start=s + 1, end=e - 1)
    assert got == [{"@message": json.dumps({"level": "info", "latency": 40, "op": "insert"})}]


def test_several_groups(logs, data):
    got = q(logs, data, "filter @message like /ERROR/ | stats count(*) as n", group=[data.group, data.other])
    assert got == [{"n": "3"}]
    got = q(logs, data, "fields @message | filter @message like /other/ | sort @timestamp asc", group=[data.group, data.other])
    assert got == [{"@message": "ERROR other group"}, {"@message": "INFO other group"}]


def test_query_limit_parameter(logs, data):
    got = q(logs, data, "fields @message | sort @timestamp asc", limit=4)
    assert len(got) == 4


def test_statistics(logs, data):
    qid = logs.start_query(
        logGroupName=data.group,
        startTime=data.start_s,
        endTime=data.end_s,
        queryString="filter @message like /ERROR/ | fields @message",
    )["queryId"]
    resp = wait_query(logs, qid)
    assert resp["status"] == "Complete"
    st = resp["statistics"]
    assert st["recordsScanned"] == 7.0
    assert st["recordsMatched"] == 2.0
    assert st["bytesScanned"] > 0


@pytest.mark.parametrize(
    "bad",
    [
        "fields @message | stats count(*) by",
        "filter",
        "bogus @message",
        "fields @message | sort @timestamp sideways",
        "stats nosuchfunction(@message)",
        'parse @message "unterminated',
        "fields @message | limit abc",
        "fields @message |",
        "filter @message like /unclosed",
    ],
)
def test_malformed_query(logs, data, bad):
    with pytest.raises(logs.exceptions.MalformedQueryException) as e:
        logs.start_query(logGroupName=data.group, startTime=data.start_s, endTime=data.end_s, queryString=bad)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Code"] == "MalformedQueryException"


def test_start_query_errors(logs, data):
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(logGroupName=unique_group("nope"), startTime=data.start_s, endTime=data.end_s, queryString="limit 1")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.start_query(logGroupName=data.group, startTime=data.end_s, endTime=data.start_s, queryString="limit 1")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.stop_query(queryId="00000000-0000-0000-0000-000000000000")


def test_stop_query(logs, data):
    # A stop races the query thread: whichever way it goes, the answer to
    # StopQuery and the query's final status agree. Several tries, since
    # the stop lands at a different point of the query each time.
    for _ in range(12):
        qid = logs.start_query(
            logGroupName=data.group, startTime=data.start_s, endTime=data.end_s, queryString="fields @message"
        )["queryId"]
        stopped = logs.stop_query(queryId=qid)["success"]
        assert isinstance(stopped, bool)
        resp = wait_query(logs, qid)
        assert resp["status"] == ("Cancelled" if stopped else "Complete"), (stopped, resp["status"])
        if stopped:
            assert resp["results"] == []
        # stopping a finished query does nothing
        assert logs.stop_query(queryId=qid)["success"] is False
        assert wait_query(logs, qid)["status"] == resp["status"]


def test_describe_queries(logs, data):
    text = "fields @message | limit 1 # describe-me"
    qid = logs.start_query(logGroupName=data.group, startTime=data.start_s, endTime=data.end_s, queryString=text)["queryId"]
    wait_query(logs, qid)
    found = [x for x in logs.describe_queries(logGroupName=data.group)["queries"] if x["queryId"] == qid]
    assert len(found) == 1
    x = found[0]
    assert x["queryString"] == text
    assert x["status"] == "Complete"
    assert x["logGroupName"] == data.group
    assert abs(x["createTime"] - now_ms()) < 120_000
    complete = {y["queryId"] for y in logs.describe_queries(logGroupName=data.group, status="Complete")["queries"]}
    assert qid in complete
    running = {y["queryId"] for y in logs.describe_queries(logGroupName=data.group, status="Running")["queries"]}
    assert qid not in running
    elsewhere = {y["queryId"] for y in logs.describe_queries(logGroupName=data.other)["queries"]}
    assert qid not in elsewhere
