"""Filter-pattern conformance through the server (reference §5).

Every case of crates/mw-filterpattern/tests/conformance.tsv (pattern, message,
expected match) goes through TestMetricFilter, and every pattern's group of
messages goes through FilterLogEvents (all messages of the group in one stream;
the set of matched messages must be exactly the expected one). The patterns of
invalid.tsv must be refused with InvalidParameterException by TestMetricFilter,
FilterLogEvents and PutMetricFilter.

Cases with an empty message are checked only where the API can carry them: a
Logs event message and a TestMetricFilter message have a minimum length of 1.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

from logs_support import filter_all, logs_client, now_ms, put, unique_group
from support import REPO_ROOT

TSV_DIR = REPO_ROOT / "crates" / "mw-filterpattern" / "tests"


def _read_tsv(path: Path, width: int) -> list[tuple[int, list[str]]]:
    rows = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for n, raw in enumerate(f, start=1):
            line = raw[:-1] if raw.endswith("\n") else raw
            if line.startswith("#") or line.strip() == "":
                continue
            fields = line.split("\t")
            assert len(fields) == width, f"{path.name} line {n}: {len(fields)} fields, expected {width}: {line!r}"
            rows.append((n, fields))
    return rows


def _cases():
    rows = _read_tsv(TSV_DIR / "conformance.tsv", 4)
    out = []
    for n, (pattern, message, expected, note) in rows:
        assert expected in ("true", "false"), f"conformance.tsv line {n}: {expected!r}"
        out.append((n, pattern, message, expected == "true", note))
    return out


CASES = _cases()
# an event message and a TestMetricFilter message have minimum length 1
SERVER_CASES = [c for c in CASES if c[2] != ""]
INVALID = [(n, f[0], int(f[1]), f[2]) for n, f in _read_tsv(TSV_DIR / "invalid.tsv", 3)]

# pattern -> [(line, message, expected, note)], in file order
GROUPS: "OrderedDict[str, list]" = OrderedDict()
for _n, _p, _m, _e, _note in SERVER_CASES:
    GROUPS.setdefault(_p, []).append((_n, _m, _e, _note))
PATTERNS = list(GROUPS)


def test_conformance_table_is_big_enough():
    assert len(CASES) >= 150, f"only {len(CASES)} conformance cases"
    assert len(INVALID) >= 20, f"only {len(INVALID)} invalid patterns"
    # every family has positive and negative cases that reach the server
    for opener in ("{", "[", "%"):
        for want in (True, False):
            n = sum(1 for c in SERVER_CASES if c[1].strip().startswith(opener) and c[3] == want)
            assert n >= 2, f"patterns starting {opener!r}: only {n} cases expecting {want}"


@pytest.fixture(scope="module")
def logs(shared_server):
    return logs_client(shared_server)


# --------------------------------------------------------------------------------------
# TestMetricFilter, one case at a time
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,pattern,message,expected,note", SERVER_CASES, ids=[f"L{c[0]}" for c in SERVER_CASES]
)
def test_test_metric_filter_case(logs, line, pattern, message, expected, note):
    resp = logs.test_metric_filter(filterPattern=pattern, logEventMessages=[message])
    matches = resp["matches"]
    got = bool(matches)
    assert got == expected, f"line {line}: {pattern!r} on {message!r}: got {got}, want {expected} ({note})"
    if got:
        (m,) = matches
        assert m["eventMessage"] == message
        assert m["eventNumber"] == 1


# --------------------------------------------------------------------------------------
# TestMetricFilter, each pattern with all its messages at once
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS, ids=[f"P{i}" for i in range(len(PATTERNS))])
def test_test_metric_filter_group(logs, pattern):
    cases = GROUPS[pattern]
    msgs = [m for _, m, _, _ in cases]
    for i in range(0, len(msgs), 50):
        chunk = cases[i : i + 50]
        resp = logs.test_metric_filter(filterPattern=pattern, logEventMessages=[m for _, m, _, _ in chunk])
        matched = {m["eventNumber"] for m in resp["matches"]}
        for m in resp["matches"]:
            assert m["eventMessage"] == chunk[m["eventNumber"] - 1][1], "eventNumber must point at the message"
        wrong = [
            f"line {n}: {message!r} got {k + 1 in matched}, want {exp} ({note})"
            for k, (n, message, exp, note) in enumerate(chunk)
            if (k + 1 in matched) != exp
        ]
        assert not wrong, f"pattern {pattern!r}:\n" + "\n".join(wrong)


# --------------------------------------------------------------------------------------
# FilterLogEvents: every pattern's messages in their own stream
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pattern_group(logs):
    group = unique_group("patterns")
    logs.create_log_group(logGroupName=group)
    t0 = now_ms() - 30 * 60_000
    for i, pattern in enumerate(PATTERNS):
        stream = f"p{i:04d}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        msgs = [m for _, m, _, _ in GROUPS[pattern]]
        resp = put(logs, group, stream, [(t0 + k, m) for k, m in enumerate(msgs)])
        assert "rejectedLogEventsInfo" not in resp
    return group


@pytest.mark.parametrize("index", range(len(PATTERNS)), ids=[f"P{i}" for i in range(len(PATTERNS))])
def test_filter_log_events_pattern(logs, pattern_group, index):
    pattern = PATTERNS[index]
    cases = GROUPS[pattern]
    events = filter_all(logs, pattern_group, logStreamNames=[f"p{index:04d}"], filterPattern=pattern)
    got = sorted(e["message"] for e in events)
    expected = sorted(m for _, m, exp, _ in cases if exp)
    detail = "\n".join(
        f"line {n}: {m!r} want {exp} ({note})" for n, m, exp, note in cases if (m in got) != exp
    )
    assert got == expected, f"pattern {pattern!r}:\n{detail}"


def test_filter_log_events_all_patterns_over_the_group(logs, pattern_group):
    """The same patterns across every stream at once: each pattern's own messages must all be judged right."""
    for index in range(0, len(PATTERNS), 7):
        pattern = PATTERNS[index]
        events = filter_all(logs, pattern_group, filterPattern=pattern)
        mine = sorted(e["message"] for e in events if e["logStreamName"] == f"p{index:04d}")
        expected = sorted(m for _, m, exp, _ in GROUPS[pattern] if exp)
        assert mine == expected, f"pattern {pattern!r} over the whole group"


# --------------------------------------------------------------------------------------
# invalid patterns
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("line,pattern,position,note", INVALID, ids=[f"L{c[0]}" for c in INVALID])
def test_invalid_pattern_rejected(logs, pattern_group, line, pattern, position, note):
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.test_metric_filter(filterPattern=pattern, logEventMessages=["anything at all"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=pattern_group, filterPattern=pattern)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(
            logGroupName=pattern_group,
            filterName=f"bad-{line}",
            filterPattern=pattern,
            metricTransformations=[{"metricName": "M", "metricNamespace": "MWTest/bad", "metricValue": "1"}],
        )


def test_invalid_patterns_left_no_metric_filters(logs, pattern_group):
    assert logs.describe_metric_filters(logGroupName=pattern_group)["metricFilters"] == []


def test_pattern_too_long_rejected(logs, pattern_group):
    long_pattern = "a" * 1025
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=pattern_group, filterPattern=long_pattern)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(
            logGroupName=pattern_group,
            filterName="too-long",
            filterPattern=long_pattern,
            metricTransformations=[{"metricName": "M", "metricNamespace": "MWTest/bad", "metricValue": "1"}],
        )
    # 1024 characters is fine
    assert logs.filter_log_events(logGroupName=pattern_group, filterPattern="a" * 1024)["events"] == []


def test_extracted_values_for_delimited_patterns(logs):
    resp = logs.test_metric_filter(
        filterPattern="[w1=ERROR || w1=WARNING, w2]",
        logEventMessages=["WARNING disk full", "INFO fine", "ERROR boom now"],
    )
    got = [(m["eventNumber"], m["extractedValues"]) for m in resp["matches"]]
    assert got == [(1, {"$w1": "WARNING", "$w2": "disk full"}), (3, {"$w1": "ERROR", "$w2": "boom now"})]
