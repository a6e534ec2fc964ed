"""Model Monitor inside the server: baselines uploaded over the native API,
capture records written into the capture store, monitoring schedules run
now and by their cron expression, SageMaker's report files in their layout,
execution statuses, the data-quality metrics through boto3, and an alarm on
`feature_baseline_drift_age` that goes to ALARM by real evaluation."""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import json
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

import support

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
TESTDATA = support.REPO_ROOT / "testdata"
VARIANT = "AllTraffic"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def call(server, method: str, path: str, body=None, headers=None, **params):
    """A native API request; returns (status, parsed JSON)."""
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request(method, f"{path}?{q}" if q else path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = {"raw": data.decode("utf-8", "replace")}
    return r.status, parsed


def ok(server, method, path, body=None, headers=None, **params):
    status, data = call(server, method, path, body, headers, **params)
    assert status == 200, (method, path, status, data)
    return data


def read_rows(name: str) -> tuple[list[str], list[list[str]]]:
    with open(TESTDATA / name, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def label_first(header: list[str], rows: list[list[str]]) -> bytes:
    """The CSV with the label (`income`, last) moved to the front, as Model
    Monitor expects: captured output columns come before the input columns."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([header[-1]] + header[:-1])
    for r in rows:
        w.writerow([r[-1]] + r[:-1])
    return out.getvalue().encode()


def iso(secs: float) -> str:
    return dt.datetime.fromtimestamp(secs, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_records(rows: list[list[str]], start: int, seconds: int) -> list[str]:
    """SageMaker capture records: the features as a CSV input, the label as
    the output, inference times spread over [start, start + seconds)."""
    out = []
    for i, r in enumerate(rows):
        t = start + (i * seconds) // max(len(rows), 1)
        rec = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": ",".join(r[:-1]),
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": r[-1],
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": iso(t)},
            "eventVersion": "0",
        }
        out.append(json.dumps(rec))
    return out


def put_captures(server, endpoint: str, records: list[str]):
    for i in range(0, len(records), 10_000):
        body = ("\n".join(records[i : i + 10_000]) + "\n").encode()
        data = ok(server, "POST", f"/api/v1/captures/{endpoint}/{VARIANT}", body, {"Content-Type": "application/x-ndjson"})
        assert data["accepted"] == len(records[i : i + 10_000])


def create_schedule(server, name, endpoint, baseline="adult", cron="cron(0 0 ? * * *)", **extra):
    body = {"name": name, "endpoint": endpoint, "baseline": baseline, "cron": cron, **extra}
    return ok(server, "POST", "/api/v1/monitoring-schedules", body)


def wait_for(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adult():
    header, train = read_rows("adult_train.csv")
    _, test = read_rows("adult_test.csv")
    return header, train, test


@pytest.fixture(scope="module")
def mon(shared_server, adult):
    """The module's server with the `adult` baseline uploaded."""
    header, train, _ = adult
    data = ok(shared_server, "POST", "/api/v1/baselines/adult", label_first(header, train), {"Content-Type": "text/csv"})
    assert data["ItemCount"] == 32561 and data["FeatureCount"] == 15, data
    return shared_server


# --------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------


def test_baselines_are_computed_stored_and_served(mon):
    listed = ok(mon, "GET", "/api/v1/baselines")["Baselines"]
    assert [b["BaselineName"] for b in listed] == ["adult"]
    assert listed[0]["Source"] == "csv"
    stats = ok(mon, "GET", "/api/v1/baselines/adult/statistics.json")
    assert stats["dataset"]["item_count"] == 32561
    names = [f["name"] for f in stats["features"]]
    assert names[:2] == ["income", "age"]
    age = next(f for f in stats["features"] if f["name"] == "age")
    assert age["inferred_type"] == "Integral"
    assert age["numerical_statistics"]["min"] == 17 and age["numerical_statistics"]["max"] == 90
    kll = age["numerical_statistics"]["distribution"]["kll"]
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert len(kll["buckets"]) == 10
    constraints = ok(mon, "GET", "/api/v1/baselines/adult/constraints.json")
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"
    drift = ok(mon, "GET", "/api/v1/baselines/adult/drift_baseline.json")
    assert drift

    # A baseline made elsewhere (SageMaker's two files) is accepted as is.
    ok(mon, "POST", "/api/v1/baselines/adult-files", {"statistics": stats, "constraints": constraints})
    got = ok(mon, "GET", "/api/v1/baselines/adult-files")
    assert got["Source"] == "files" and got["ItemCount"] == 32561
    status, err = call(mon, "GET", "/api/v1/baselines/adult-files/drift_baseline.json")
    assert status == 404 and "has no drift_baseline.json" in err["error"]["message"]
    ok(mon, "DELETE", "/api/v1/baselines/adult-files")
    status, _ = call(mon, "GET", "/api/v1/baselines/adult-files")
    assert status == 404


@pytest.mark.parametrize(
    "path,body,headers,status,code,message",
    [
        # a CSV whose third line is short
        ("/api/v1/baselines/ragged", b"a,b\n1,2\n3\n", {"Content-Type": "text/csv"}, 400, "InvalidParameter", "line 3: expected 2 fields, found 1"),
        ("/api/v1/baselines/empty", b"", {"Content-Type": "text/csv"}, 400, "InvalidParameter", "no columns"),
        ("/api/v1/baselines/bad-json", b"{not json", {"Content-Type": "application/json"}, 400, "InvalidParameter", "the body is not a baseline"),
        (
            "/api/v1/baselines/corrupt",
            json.dumps({"statistics": {"version": 0, "dataset": {"item_count": 3}, "features": [{"name": "x", "inferred_type": "Banana"}]}, "constraints": {"version": 0, "features": []}}).encode(),
            {"Content-Type": "application/json"},
            400,
            "InvalidParameter",
            "unknown inferred_type \"Banana\"",
        ),
        ("/api/v1/baselines/missing-part", json.dumps({"statistics": {}}).encode(), {"Content-Type": "application/json"}, 400, "InvalidParameter", "missing field `constraints`"),
        ("/api/v1/baselines/bad_name!", b"a\n1\n", {"Content-Type": "text/csv"}, 400, "InvalidParameter", "baseline name \"bad_name!\" is not valid"),
        ("/api/v1/baselines/adult", b"a\n1\n", {"Content-Type": "text/csv"}, 409, "Conflict", "baseline \"adult\" already exists"),
        ("/api/v1/baselines/x?format=xlsx", b"a\n1\n", {}, 400, "InvalidParameter", "format \"xlsx\" must be csv, jsonl, parquet or files"),
        ("/api/v1/baselines/y?format=parquet", b"a\n1\n", {}, 400, "InvalidParameter", "not a readable Parquet file"),
    ],
    ids=["ragged", "empty", "bad-json", "corrupt", "missing-part", "bad-name", "duplicate", "format", "not-parquet"],
)
def test_a_bad_baseline_is_a_clear_4xx(mon, path, body, headers, status, code, message):
    got, err = call(mon, "POST", path, body, headers)
    assert got == status, err
    assert err["error"]["code"] == code
    assert message in err["error"]["message"], err
    names = [b["BaselineName"] for b in ok(mon, "GET", "/api/v1/baselines")["Baselines"]]
    assert "ragged" not in names and "corrupt" not in names


def test_run_now_clean_and_shifted_windows_with_metrics_and_an_alarm(mon, adult, tmp_path):
    header, _, test = adult
    endpoint, schedule = "adult-ep", "adult-dq"
    # Leave time in this minute for the runs and the alarm's evaluation.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    minute = int(time.time()) // 60 * 60
    clean_start, clean_end = minute - 180, minute - 120
    drift_start, drift_end = minute - 60, minute
    older = [r for r in test if int(r[0]) > 50]
    put_captures(mon, endpoint, capture_records(test, clean_start, 60) + capture_records(older, drift_start, 60))

    created = create_schedule(mon, schedule, endpoint, windowStartOffset="-PT1H", windowEndOffset="PT0H")
    assert created["MonitoringScheduleStatus"] == "Scheduled"
    assert created["MonitoringScheduleConfig"]["ScheduleConfig"] == {
        "ScheduleExpression": "cron(0 0 ? * * *)",
        "DataAnalysisStartTime": "-PT1H",
        "DataAnalysisEndTime": "PT0H",
    }
    cw = support.make_client("json", mon.endpoint)
    dims = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]

    clean = ok(mon, "POST", f"/api/v1/monitoring-schedules/{schedule}/run", start=iso(clean_start), end=iso(clean_end))
    assert clean["MonitoringExecutionStatus"] == "Completed", clean
    assert clean["Trigger"] == "Manual"
    assert clean["ViolationCount"] == 0
    assert (clean["DataAnalysisStartTime"], clean["DataAnalysisEndTime"]) == (iso(clean_start), iso(clean_end))
    assert clean["ScheduledTime"] == iso(clean_end)

    # SageMaker's layout: <data>/monitoring/reports/<endpoint>/<schedule>/yyyy/mm/dd/HH (+ /MM below the hour).
    t = dt.datetime.fromtimestamp(clean_end, dt.timezone.utc)
    want = mon.data_dir / "monitoring" / "reports" / endpoint / schedule / t.strftime("%Y/%m/%d/%H")
    if t.minute:
        want = want / t.strftime("%M")
    assert Path(clean["ReportPath"]) == want
    assert sorted(p.name for p in want.iterdir()) == [
        "constraint_violations.json",
        "constraints.json",
        "drift_report.json",
        "statistics.json",
    ]
    assert sorted(clean["ReportFiles"]) == sorted(p.name for p in want.iterdir())
    base = f"/api/v1/monitoring-schedules/{schedule}/executions/{clean['MonitoringExecutionId']}/files"
    stats = ok(mon, "GET", f"{base}/statistics.json")
    assert stats["dataset"]["item_count"] == len(test)
    assert ok(mon, "GET", f"{base}/constraint_violations.json") == {"violations": []}
    assert json.loads((want / "statistics.json").read_text()) == stats

    # An alarm on the drift of age, evaluated for real.
    cw.put_metric_alarm(
        AlarmName="adult-age-drift",
        Namespace=NAMESPACE,
        MetricName="feature_baseline_drift_age",
        Dimensions=dims,
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
    )

    shifted = ok(mon, "POST", f"/api/v1/monitoring-schedules/{schedule}/run", {"start": iso(drift_start), "end": iso(drift_end)})
    assert shifted["MonitoringExecutionStatus"] == "CompletedWithViolations", shifted
    assert shifted["ExitMessage"].startswith("CompletedWithViolations: Job completed successfully with")
    base = f"/api/v1/monitoring-schedules/{schedule}/executions/{shifted['MonitoringExecutionId']}/files"
    violations = ok(mon, "GET", f"{base}/constraint_violations.json")["violations"]
    assert ("age", "baseline_drift_check") in {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert shifted["ViolationCount"] == len(violations)
    report = ok(mon, "GET", f"{base}/drift_report.json")
    age = next(f for f in report["features"] if f["name"] == "age")
    assert age["drift"] is True

    # The metrics, stamped with each window's start.
    r = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="feature_baseline_drift_age",
        Dimensions=dims,
        StartTime=dt.datetime.fromtimestamp(minute - 600, dt.timezone.utc),
        EndTime=dt.datetime.fromtimestamp(minute + 60, dt.timezone.utc),
        Period=60,
        Statistics=["Maximum"],
    )
    points = {int(p["Timestamp"].timestamp()): p["Maximum"] for p in r["Datapoints"]}
    assert set(points) == {clean_start, drift_start}, points
    assert points[clean_start] < 0.1 < points[drift_start], points
    r = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="feature_data_age",
        Dimensions=dims,
        StartTime=dt.datetime.fromtimestamp(clean_start, dt.timezone.utc),
        EndTime=dt.datetime.fromtimestamp(clean_start + 60, dt.timezone.utc),
        Period=60,
        Statistics=["SampleCount", "Minimum", "Maximum"],
    )
    (p,) = r["Datapoints"]
    assert p["SampleCount"] == len(test) and p["Minimum"] == 17 and p["Maximum"] == 90
    listed = cw.list_metrics(Namespace=NAMESPACE, Dimensions=dims)["Metrics"]
    assert {"feature_non_null_age", "feature_completeness_workclass", "feature_estimated_unique_values_workclass"} <= {
        m["MetricName"] for m in listed
    }

    def state():
        a = cw.describe_alarms(AlarmNames=["adult-age-drift"])["MetricAlarms"][0]
        return a if a["StateValue"] == "ALARM" else None

    alarm = wait_for(state, 20, "the drift alarm to fire")
    assert "Threshold Crossed" in alarm["StateReason"], alarm["StateReason"]

    executions = ok(mon, "GET", f"/api/v1/monitoring-schedules/{schedule}/executions")["MonitoringExecutionSummaries"]
    assert [e["MonitoringExecutionStatus"] for e in executions] == ["CompletedWithViolations", "Completed"]
    failed = ok(mon, "GET", f"/api/v1/monitoring-schedules/{schedule}/executions", status="Failed")
    assert failed["MonitoringExecutionSummaries"] == []
    described = ok(mon, "GET", f"/api/v1/monitoring-schedules/{schedule}")
    last = described["LastMonitoringExecutionSummary"]
    assert last["MonitoringExecutionId"] == shifted["MonitoringExecutionId"]
    assert described["NextScheduledTime"].endswith("T00:00:00Z")


def test_an_empty_window_fails_with_its_reason(mon):
    create_schedule(mon, "nothing-here", "no-traffic")
    now = int(time.time()) // 60 * 60
    e = ok(mon, "POST", "/api/v1/monitoring-schedules/nothing-here/run", start=iso(now - 3600), end=iso(now))
    assert e["MonitoringExecutionStatus"] == "Failed"
    assert e["FailureReason"] == f'No data was found in the window [{iso(now - 3600)}, {iso(now)}) of endpoint "no-traffic"'
    assert e["ReportFiles"] == [] and "ReportPath" not in e
    status, err = call(mon, "GET", f"/api/v1/monitoring-schedules/nothing-here/executions/{e['MonitoringExecutionId']}/files/statistics.json")
    assert status == 404 and "status Failed: No data was found" in err["error"]["message"]


def test_a_fine_cron_runs_by_itself(mon, adult):
    """`cron(* * ? * * *)` over the last minute: one schedule with captured
    traffic completes, one on an endpoint without traffic fails."""
    header, _, test = adult
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)
    now = int(time.time())
    put_captures(mon, "cron-ep", capture_records(test[:2000], now, 1))
    created_at = time.time()
    for name, endpoint in [("every-minute", "cron-ep"), ("every-minute-idle", "cron-idle")]:
        s = create_schedule(mon, name, endpoint, cron="cron(* * ? * * *)", windowStartOffset="-PT1M", windowEndOffset="PT0H")
        assert s["NextScheduledTime"] == iso((int(created_at) // 60 + 1) * 60), s

    def first(name):
        def get():
            items = ok(mon, "GET", f"/api/v1/monitoring-schedules/{name}/executions")["MonitoringExecutionSummaries"]
            done = [e for e in items if e["MonitoringExecutionStatus"] not in ("Pending", "InProgress")]
            return done[-1] if done else None

        return get

    e = wait_for(first("every-minute"), 90, "the first scheduled run")
    for name in ("every-minute", "every-minute-idle"):
        ok(mon, "POST", f"/api/v1/monitoring-schedules/{name}/stop")
    assert e["Trigger"] == "Schedule"
    assert e["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), e
    scheduled = int(dt.datetime.strptime(e["ScheduledTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())
    assert scheduled % 60 == 0 and scheduled > created_at
    assert (e["DataAnalysisStartTime"], e["DataAnalysisEndTime"]) == (iso(scheduled - 60), iso(scheduled))
    stats = ok(mon, "GET", f"/api/v1/monitoring-schedules/every-minute/executions/{e['MonitoringExecutionId']}/files/statistics.json")
    assert stats["dataset"]["item_count"] == 2000

    idle = wait_for(first("every-minute-idle"), 30, "the idle schedule's run")
    assert idle["MonitoringExecutionStatus"] == "Failed"
    assert idle["FailureReason"].startswith("No data was found in the window"), idle
    stopped = ok(mon, "GET", "/api/v1/monitoring-schedules/every-minute")
    assert stopped["MonitoringScheduleStatus"] == "Stopped" and "NextScheduledTime" not in stopped
    summaries = ok(mon, "GET", "/api/v1/monitoring-schedules")["MonitoringScheduleSummaries"]
    assert {s["MonitoringScheduleName"]: s["MonitoringScheduleStatus"] for s in summaries}["every-minute-idle"] == "Stopped"


@pytest.mark.parametrize(
    "method,path,body,status,code,message",
    [
        ("POST", "/api/v1/monitoring-schedules", b"{", 400, "InvalidParameter", "the body is not a monitoring schedule"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult"}, 400, "InvalidParameter", "missing field `cron`"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult", "cron": "cron(0 * ? * * *)", "extra": 1}, 400, "InvalidParameter", "unknown field `extra`"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult", "cron": "cron(0 25 ? * * *)"}, 400, "InvalidParameter", "at character 8: hours 25 is out of range 0-23"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult", "cron": "hourly"}, 400, "InvalidParameter", "expected cron("),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult", "cron": "rate(5 minutes)", "windowStartOffset": "-1h", "windowEndOffset": "PT0H"}, 400, "InvalidParameter", "is not an ISO-8601 duration"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "adult", "cron": "rate(5 minutes)", "windowStartOffset": "-PT1H"}, 400, "InvalidParameter", "give both window offsets"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a b", "endpoint": "e", "baseline": "adult", "cron": "rate(5 minutes)"}, 400, "InvalidParameter", "monitoring schedule name \"a b\" is not valid"),
        ("POST", "/api/v1/monitoring-schedules", {"name": "a", "endpoint": "e", "baseline": "nope", "cron": "rate(5 minutes)"}, 404, "NotFound", "baseline \"nope\" does not exist; upload it first"),
        ("GET", "/api/v1/monitoring-schedules/ghost", None, 404, "NotFound", "monitoring schedule \"ghost\" does not exist"),
        ("POST", "/api/v1/monitoring-schedules/ghost/stop", None, 404, "NotFound", "does not exist"),
        ("DELETE", "/api/v1/monitoring-schedules/ghost", None, 404, "NotFound", "does not exist"),
        ("POST", "/api/v1/monitoring-schedules/probe/run?start=2024-05-01T10:00:00Z", None, 400, "InvalidParameter", "give both start and end"),
        ("POST", "/api/v1/monitoring-schedules/probe/run?start=2024-05-01T10:00:00Z&end=2024-05-01T09:00:00Z", None, 400, "InvalidParameter", "must be before its end"),
        ("POST", "/api/v1/monitoring-schedules/probe/run?start=yesterday&end=2024-05-01T09:00:00Z", None, 400, "InvalidParameter", "start \"yesterday\" is not a time"),
        ("POST", "/api/v1/monitoring-schedules/probe/run", {"start": [1], "end": 2}, 400, "InvalidParameter", "is not a time"),
        ("GET", "/api/v1/monitoring-schedules/probe/executions?status=Done", None, 400, "InvalidParameter", "status \"Done\" must be one of"),
        ("GET", "/api/v1/monitoring-schedules/probe/executions?limit=0", None, 400, "InvalidParameter", "limit \"0\" must be a whole number"),
        ("GET", "/api/v1/monitoring-schedules/probe/executions/abc", None, 400, "InvalidParameter", "execution id \"abc\""),
        ("GET", "/api/v1/monitoring-schedules/probe/executions/999999", None, 404, "NotFound", "has no execution 999999"),
        ("GET", "/api/v1/monitoring-schedules/probe/executions/1/files/passwd", None, 400, "InvalidParameter", "\"passwd\" is not a report file"),
        ("GET", "/api/v1/baselines/adult/..%2F..%2Fmonitoring.db", None, 400, "InvalidParameter", "is not a baseline file"),
        ("DELETE", "/api/v1/baselines/adult", None, 409, "Conflict", "is used by the monitoring schedules"),
    ],
)
def test_malformed_requests_are_4xx_with_a_message(mon, method, path, body, status, code, message):
    if call(mon, "GET", "/api/v1/monitoring-schedules/probe")[0] == 404:
        create_schedule(mon, "probe", "probe-ep")
    if isinstance(body, bytes):
        got, err = call(mon, method, path, body, {"Content-Type": "application/json"})
    else:
        got, err = call(mon, method, path, body)
    assert got == status, err
    assert err["error"]["code"] == code, err
    assert message in err["error"]["message"], err


def test_schedules_and_executions_survive_kill_9(server, adult):
    header, train, _ = adult
    s = server()
    ok(s, "POST", "/api/v1/baselines/small", label_first(header, train[:2000]), {"Content-Type": "text/csv"})
    create_schedule(s, "kept", "kept-ep", baseline="small", cron="cron(0 */6 ? * * *)")
    ok(s, "POST", "/api/v1/monitoring-schedules/kept/stop")
    e = ok(s, "POST", "/api/v1/monitoring-schedules/kept/run")
    assert e["MonitoringExecutionStatus"] == "Failed"
    s.restart()
    d = ok(s, "GET", "/api/v1/monitoring-schedules/kept")
    assert d["MonitoringScheduleStatus"] == "Stopped"
    assert d["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 */6 ? * * *)"
    assert d["LastMonitoringExecutionSummary"]["MonitoringExecutionId"] == e["MonitoringExecutionId"]
    assert d["LastMonitoringExecutionSummary"]["FailureReason"] == e["FailureReason"]
    assert ok(s, "GET", "/api/v1/baselines/small")["ItemCount"] == 2000
    started = ok(s, "POST", "/api/v1/monitoring-schedules/kept/start")
    assert started["MonitoringScheduleStatus"] == "Scheduled"
    hour = int(started["NextScheduledTime"][11:13])
    assert hour % 6 == 0 and started["NextScheduledTime"].endswith(":00:00Z")
    ok(s, "DELETE", "/api/v1/monitoring-schedules/kept")
    assert ok(s, "GET", "/api/v1/monitoring-schedules")["MonitoringScheduleSummaries"] == []
    ok(s, "DELETE", "/api/v1/baselines/small")
