"""Alarms evaluated in real time, and their actions delivered.

One server per module, started with a config file that declares three hooks
(`dump`: a command that saves the alarm JSON it reads on stdin; `retrain`: a
webhook; `broken`: a command that always fails), a 100 ms evaluation delay
and 3 delivery attempts. A loopback HTTP listener stands in for the endpoints
that topics and hooks deliver to; each test subscribes its own path.

The alarms have 10-second periods on 1-second data. Data for a period that
has already closed is evaluated at once, so a test puts its datapoint a few
seconds in the past and sees the transition within a second instead of
waiting for the next period. An alarm with `Statistic=Minimum` and
`GreaterThanThreshold 50` breaches on a 100 and recovers on a 0 (the 0 lowers
the minimum of the same period, or is the newest point of a later one).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shlex
import time
import uuid

import pytest

from support import (
    Server,
    ServerError,
    WebhookListener,
    create_topic,
    deliveries,
    dt,
    free_port,
    native_request,
    now_s,
    subscribe_http,
    unique_namespace,
    wait_for,
    write_alarm_config,
)

ACCOUNT = "123456789012"
ALARM_ARN_PREFIX = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:"
REGION_NAME = "US East (N. Virginia)"
PERIOD = 10
MAX_ATTEMPTS = 3
STATE_CHANGE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
ENVELOPE_KEYS = [
    "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
    "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
]
ALARM_JSON_KEYS = [
    "AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue", "NewStateReason",
    "StateChangeTime", "Region", "AlarmArn", "OldStateValue", "Trigger",
]
DIMS = [{"Name": "Model", "Value": "churn"}]

# ---------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listener():
    server = WebhookListener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hook-out")


@pytest.fixture(scope="module")
def live(tmp_path_factory, listener, hook_dir):
    base = tmp_path_factory.mktemp("live")
    out = shlex.quote(str(hook_dir))
    # write to a temporary file, then rename: the test never reads half a file
    script = f'cat > {out}/.part.$$ && mv {out}/.part.$$ {out}/"$MODELWATCH_ALARM_NAME.$MODELWATCH_ALARM_STATE.json"'
    cfg = write_alarm_config(
        base / "modelwatch.toml",
        delay_ms=100,
        max_attempts=MAX_ATTEMPTS,
        hooks=[
            ("dump", "command", ["/bin/sh", "-c", script]),
            ("retrain", "url", listener.url("/hook/retrain")),
            ("broken", "command", ["/bin/sh", "-c", "cat > /dev/null; echo 'model registry unreachable' >&2; exit 3"]),
        ],
    )
    s = Server(base / "data", base / "logs", extra_args=["--config", str(cfg), "--alarm-delay-ms", "100"])
    try:
        s.start()
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    yield s
    if s.running:
        try:
            s.terminate()
        except ServerError:
            pass


@pytest.fixture
def cw(live, request):
    request.node.mw_servers = [live]
    return live.client("json")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def unique_name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def put_alarm(cw, name: str, ns: str, metric: str = "Errors", **over) -> dict:
    kw = dict(
        AlarmName=name,
        Namespace=ns,
        MetricName=metric,
        Dimensions=DIMS,
        Statistic="Minimum",
        Period=PERIOD,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    kw.update(over)
    kw = {k: v for k, v in kw.items() if v is not None}
    cw.put_metric_alarm(**kw)
    return kw


def closed_ts() -> float:
    """A time inside the most recent 10-second period that has already closed."""
    return (now_s() // PERIOD) * PERIOD - PERIOD / 2


def put_value(cw, ns: str, value: float, metric: str = "Errors"):
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": metric, "Dimensions": DIMS, "Value": value, "Timestamp": dt(closed_ts()), "StorageResolution": 1}],
    )


def describe(cw, name: str) -> dict | None:
    resp = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    found = resp["MetricAlarms"] + resp["CompositeAlarms"]
    return found[0] if found else None


def wait_state(cw, name: str, state: str, timeout: float = 5.0) -> dict:
    def check():
        a = describe(cw, name)
        return a if a and a["StateValue"] == state else None

    return wait_for(check, timeout, f"{name} in {state}")


def history(cw, name: str, item_type: str | None = None) -> list[dict]:
    kw = {"HistoryItemType": item_type} if item_type else {}
    items = []
    for page in cw.get_paginator("describe_alarm_history").paginate(
        AlarmName=name, AlarmTypes=["MetricAlarm", "CompositeAlarm"], **kw
    ):
        items.extend(page["AlarmHistoryItems"])
    return items


def state_updates(cw, name: str) -> list[str]:
    return [h["HistorySummary"] for h in history(cw, name, "StateUpdate")]


def quiet_moment(lo: float = 0.5, hi: float = 6.5):
    """Waits until the next scheduled evaluation of 10-second alarms is more than 3 s away."""
    t = now_s() % PERIOD
    if not lo <= t <= hi:
        time.sleep((PERIOD + lo - t) % PERIOD + 0.05)


def topic_with_listener(live, listener, tag: str) -> tuple[str, str]:
    """A new topic with one http subscription to a fresh listener path: (topic ARN, path)."""
    topic = unique_name(tag)
    arn = create_topic(live.port, topic)
    path = f"/sns/{topic}"
    subscribe_http(live.port, topic, listener.url(path))
    return arn, path


def parse_time(s: str) -> float:
    return _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def check_notification(req, topic_arn: str, alarm: dict, new: str, old: str) -> dict:
    """Checks one SNS-style POST about `alarm` moving old -> new; returns the alarm JSON."""
    assert req.method == "POST"
    assert req.headers.get("content-type", "").startswith("text/plain"), req.headers
    envelope = req.json()
    assert list(envelope) == ENVELOPE_KEYS
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == f'{new}: "{alarm["AlarmName"]}" in {REGION_NAME}'
    assert envelope["SignatureVersion"] == "1"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", envelope["Timestamp"]), envelope["Timestamp"]
    assert req.headers.get("x-amz-sns-message-type") == "Notification"
    assert req.headers.get("x-amz-sns-message-id") == envelope["MessageId"] and envelope["MessageId"]
    assert req.headers.get("x-amz-sns-topic-arn") == topic_arn
    message = json.loads(envelope["Message"])
    check_alarm_json(message, alarm, new, old)
    return message


def check_alarm_json(message: dict, alarm: dict, new: str, old: str):
    assert list(message) == ALARM_JSON_KEYS
    assert message["AlarmName"] == alarm["AlarmName"]
    assert message["AlarmArn"] == ALARM_ARN_PREFIX + alarm["AlarmName"]
    assert message["AlarmDescription"] == alarm.get("AlarmDescription")
    assert message["AWSAccountId"] == ACCOUNT
    assert message["Region"] == REGION_NAME
    assert (message["NewStateValue"], message["OldStateValue"]) == (new, old)
    assert STATE_CHANGE_TIME.match(message["StateChangeTime"]), message["StateChangeTime"]
    if "MetricName" in alarm:
        trigger = message["Trigger"]
        assert trigger["MetricName"] == alarm["MetricName"]
        assert trigger["Namespace"] == alarm["Namespace"]
        assert trigger["StatisticType"] == "Statistic"
        assert trigger["Statistic"] == alarm["Statistic"].upper()
        assert trigger["Dimensions"] == [{"value": d["Value"], "name": d["Name"]} for d in alarm["Dimensions"]]
        assert trigger["Period"] == alarm["Period"]
        assert trigger["EvaluationPeriods"] == alarm["EvaluationPeriods"]
        assert trigger["ComparisonOperator"] == alarm["ComparisonOperator"]
        assert trigger["Threshold"] == alarm["Threshold"]
        assert trigger["TreatMissingData"] == alarm.get("TreatMissingData", "missing")


def delivered_rows(port: int, alarm: str, count: int, timeout: float = 10.0) -> list[dict]:
    def check():
        rows = deliveries(port, alarm)
        return rows if len(rows) >= count and all(r["status"] == "delivered" for r in rows) else None

    return wait_for(check, timeout, f"{count} delivered notifications of {alarm}", interval=0.1)


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------


def test_breach_and_recovery_notify_an_http_subscriber(cw, live, listener):
    topic_arn, path = topic_with_listener(live, listener, "oncall")
    ns = unique_namespace("live-breach")
    name = unique_name("breach")
    put_alarm(cw, name, ns, AlarmDescription="errors above 50", AlarmActions=[topic_arn], OKActions=[topic_arn])
    time.sleep(0.3)
    a = describe(cw, name)
    assert a["StateValue"] == "INSUFFICIENT_DATA" and a["StateReason"] == "Unchecked: Initial alarm creation"
    assert listener.requests(path) == []

    # breach: late data is evaluated at once, not at the next period
    quiet_moment()
    started = time.monotonic()
    put_value(cw, ns, 100.0)
    alarm = wait_state(cw, name, "ALARM", timeout=5)
    took = time.monotonic() - started
    assert took < 2.0, f"ALARM {took:.2f}s after the breaching datapoint"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [100.0 ("), alarm["StateReason"]
    assert "greater than the threshold (50.0)" in alarm["StateReason"]
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["recentDatapoints"] == [100.0] and reason_data["threshold"] == 50.0

    [update] = history(cw, name, "StateUpdate")
    assert update["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    data = json.loads(update["HistoryData"])
    assert data["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert data["newState"]["stateValue"] == "ALARM"
    assert data["newState"]["stateReason"] == alarm["StateReason"]

    [req] = listener.wait(path, 1, timeout=10)
    message = check_notification(req, topic_arn, alarm, "ALARM", "INSUFFICIENT_DATA")
    assert message["NewStateReason"] == alarm["StateReason"]
    assert abs(parse_time(message["StateChangeTime"]) - alarm["StateTransitionedTimestamp"].timestamp()) < 0.002
    assert message["Trigger"]["Unit"] is None

    [row] = delivered_rows(live.port, name, 1)
    assert set(row) == {"id", "alarm", "target", "endpoint", "status", "attempts", "lastError", "created", "updated"}
    assert (row["alarm"], row["target"], row["endpoint"]) == (name, topic_arn, listener.url(path))
    assert (row["status"], row["attempts"], row["lastError"]) == ("delivered", 1, None)
    actions = history(cw, name, "Action")
    assert [h["HistorySummary"] for h in actions] == [f"Successfully executed action {topic_arn}"]

    # recovery
    put_value(cw, ns, 0.0)
    ok = wait_state(cw, name, "OK", timeout=5)
    reqs = listener.wait(path, 2, timeout=10)
    message = check_notification(reqs[1], topic_arn, ok, "OK", "ALARM")
    assert message["NewStateReason"] == ok["StateReason"]
    assert "was not greater than the threshold (50.0)" in ok["StateReason"]
    rows = delivered_rows(live.port, name, 2)
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 1)] * 2
    assert rows[0]["id"] != rows[1]["id"]
    assert state_updates(cw, name) == ["Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]
    time.sleep(0.3)
    assert len(listener.requests(path)) == 2, "one notification per transition"


def test_period_close_evaluates_open_period_data_and_undoes_set_alarm_state(cw, live, listener):
    """Both wait for the same scheduled evaluation: the one at the close of the current period.

    A datum for the period still open is not evaluated before that period
    closes; a state forced by SetAlarmState runs its actions at once and lasts
    until that evaluation puts the computed state back.
    """
    topic_arn, path = topic_with_listener(live, listener, "drill")
    ns = unique_namespace("live-sched")
    drill, fresh = unique_name("drill"), unique_name("fresh")
    put_alarm(cw, drill, ns, TreatMissingData="notBreaching", AlarmActions=[topic_arn], OKActions=[topic_arn])
    put_alarm(cw, fresh, ns, metric="Fresh")
    computed = wait_state(cw, drill, "OK")
    [first] = listener.wait(path, 1)
    check_notification(first, topic_arn, computed, "OK", "INSUFFICIENT_DATA")

    # after the last scheduled evaluation, and with time to look before the next
    phase = now_s() % PERIOD
    if not 0.5 <= phase <= PERIOD - 2:
        time.sleep((PERIOD + 0.5 - phase) % PERIOD)
    now = now_s()
    close = (now // PERIOD + 1) * PERIOD
    cw.set_alarm_state(AlarmName=drill, StateValue="ALARM", StateReason="fire drill", StateReasonData='{"by": "test"}')
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "Fresh", "Dimensions": DIMS, "Value": 100.0, "Timestamp": dt(now), "StorageResolution": 1}],
    )
    forced = listener.wait(path, 2)[1]
    message = check_notification(forced, topic_arn, {**computed, "StateValue": "ALARM"}, "ALARM", "OK")
    assert message["NewStateReason"] == "fire drill"
    time.sleep(0.3)
    assert now_s() < close, "the test was too slow to look before the period closed"
    assert describe(cw, fresh)["StateValue"] == "INSUFFICIENT_DATA", "evaluated before its period closed"
    assert describe(cw, drill)["StateValue"] == "ALARM"

    back = wait_state(cw, drill, "OK", timeout=close - now_s() + 3)
    alarmed = wait_state(cw, fresh, "ALARM", timeout=2)
    for a in (back, alarmed):
        changed = a["StateTransitionedTimestamp"].timestamp()
        assert close <= changed <= close + 1.5, (a["AlarmName"], changed - close)
    evaluated = json.loads(alarmed["StateReasonData"])["evaluatedDatapoints"]
    assert [parse_time(e["timestamp"]) for e in evaluated] == [close - PERIOD]
    assert back["StateReason"] != "fire drill"
    restored = listener.wait(path, 3, timeout=5)[2]
    check_notification(restored, topic_arn, back, "OK", "ALARM")
    assert state_updates(cw, drill) == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    # forcing the state it is already in runs no action
    cw.set_alarm_state(AlarmName=drill, StateValue="OK", StateReason="still fine")
    time.sleep(0.5)
    assert len(listener.requests(path)) == 3
    [forced_item] = [h for h in history(cw, drill, "StateUpdate") if h["HistorySummary"] == "Alarm updated from OK to ALARM"]
    assert json.loads(forced_item["HistoryData"])["newState"]["stateReason"] == "fire drill"
    assert len(delivered_rows(live.port, drill, 3)) == 3


def test_disabled_actions_post_nothing_but_the_transition_is_recorded(cw, live, listener):
    topic_arn, path = topic_with_listener(live, listener, "muted")
    ns = unique_namespace("live-muted")
    name = unique_name("muted")
    put_alarm(cw, name, ns, AlarmActions=[topic_arn], OKActions=[topic_arn])
    cw.disable_alarm_actions(AlarmNames=[name])

    put_value(cw, ns, 100.0)
    wait_state(cw, name, "ALARM")
    assert state_updates(cw, name) == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
    time.sleep(1.0)
    assert listener.requests(path) == []
    assert deliveries(live.port, name) == []
    assert history(cw, name, "Action") == []

    # enabled again, the next transition notifies
    cw.enable_alarm_actions(AlarmNames=[name])
    put_value(cw, ns, 0.0)
    ok = wait_state(cw, name, "OK")
    [req] = listener.wait(path, 1)
    check_notification(req, topic_arn, ok, "OK", "ALARM")


def test_composite_alarm_fires_when_both_children_are_in_alarm(cw, live, listener):
    topic_arn, path = topic_with_listener(live, listener, "composite")
    ns = unique_namespace("live-comp")
    p = unique_name("svc")
    a, b, comp = f"{p}-errors", f"{p}-latency", f"{p}-down"
    put_alarm(cw, a, ns, metric="Errors")
    put_alarm(cw, b, ns, metric="Latency")
    rule = f"ALARM({a}) AND ALARM({b})"
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=rule, AlarmActions=[topic_arn], AlarmDescription="service down")
    wait_state(cw, comp, "OK")

    put_value(cw, ns, 100.0, metric="Errors")
    wait_state(cw, a, "ALARM")
    assert describe(cw, comp)["StateValue"] == "OK", "one child in ALARM is not enough"

    put_value(cw, ns, 100.0, metric="Latency")
    wait_state(cw, b, "ALARM")
    composite = wait_state(cw, comp, "ALARM", timeout=2)
    reason_data = json.loads(composite["StateReasonData"])
    assert sorted(t["arn"] for t in reason_data["triggeringAlarms"]) == sorted([ALARM_ARN_PREFIX + a, ALARM_ARN_PREFIX + b])
    assert all(t["state"]["value"] == "ALARM" for t in reason_data["triggeringAlarms"])

    [req] = listener.wait(path, 1)
    message = check_notification(req, topic_arn, composite, "ALARM", "OK")
    assert message["NewStateReason"] == composite["StateReason"]
    assert message["Trigger"] == {"AlarmRule": rule}
    assert state_updates(cw, comp) == ["Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK"]

    # one child recovers: the composite goes back to OK (no OK action, so nothing posted)
    put_value(cw, ns, 0.0, metric="Errors")
    wait_state(cw, comp, "OK")
    time.sleep(0.3)
    assert len(listener.requests(path)) == 1


def test_hooks_from_the_config_file(cw, live, listener, hook_dir):
    status, doc = native_request(live.port, "GET", "/api/v1/hooks")
    assert status == 200
    assert sorted(doc["hooks"], key=lambda h: h["name"]) == [
        {"name": "broken", "arn": "arn:modelwatch:hook:broken", "kind": "command"},
        {"name": "dump", "arn": "arn:modelwatch:hook:dump", "kind": "command"},
        {"name": "retrain", "arn": "arn:modelwatch:hook:retrain", "kind": "webhook"},
    ]
    status, _ = native_request(live.port, "POST", "/api/v1/hooks", {"name": "x", "command": ["/bin/true"]})
    assert status == 405
    assert native_request(live.port, "GET", "/api/v1/hooks") == (200, doc)

    ns = unique_namespace("live-hook")
    name = unique_name("hooked")
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        put_alarm(cw, name, ns, AlarmActions=["arn:modelwatch:hook:dum"])
    assert describe(cw, name) is None
    put_alarm(cw, name, ns, AlarmActions=["arn:modelwatch:hook:dump"], OKActions=["arn:modelwatch:hook:retrain"])

    # the command hook gets the alarm JSON on stdin
    put_value(cw, ns, 100.0)
    alarm = wait_state(cw, name, "ALARM")
    out = hook_dir / f"{name}.ALARM.json"
    wait_for(out.exists, 10, f"{out} written by the command hook")
    message = json.loads(out.read_text())
    check_alarm_json(message, alarm, "ALARM", "INSUFFICIENT_DATA")
    assert message["NewStateReason"] == alarm["StateReason"]
    [row] = delivered_rows(live.port, name, 1)
    assert (row["target"], row["endpoint"], row["attempts"]) == ("arn:modelwatch:hook:dump", "/bin/sh", 1)

    # the webhook hook gets the alarm JSON itself, not an SNS envelope
    put_value(cw, ns, 0.0)
    ok = wait_state(cw, name, "OK")
    reqs = [r for r in listener.wait("/hook/retrain", 1) if json.loads(r.body).get("AlarmName") == name]
    assert len(reqs) == 1
    assert reqs[0].headers.get("content-type", "").startswith("application/json")
    check_alarm_json(reqs[0].json(), ok, "OK", "ALARM")
    rows = delivered_rows(live.port, name, 2)
    assert rows[0]["target"] == "arn:modelwatch:hook:retrain" and rows[0]["attempts"] == 1
    assert [h["HistorySummary"] for h in history(cw, name, "Action")] == [
        "Successfully executed action arn:modelwatch:hook:retrain",
        "Successfully executed action arn:modelwatch:hook:dump",
    ]


def test_failing_endpoints_are_retried_then_marked_failed(cw, live, listener):
    refusing = f"http://127.0.0.1:{free_port()}/down"
    failing = WebhookListener(status=500)
    try:
        topic = unique_name("flaky")
        topic_arn = create_topic(live.port, topic)
        subscribe_http(live.port, topic, refusing)
        subscribe_http(live.port, topic, failing.url("/fail"))
        ns = unique_namespace("live-retry")
        name = unique_name("retry")
        put_alarm(cw, name, ns, AlarmActions=[topic_arn, "arn:modelwatch:hook:broken"])
        put_value(cw, ns, 100.0)
        wait_state(cw, name, "ALARM")

        def retried():
            rows = deliveries(live.port, name)
            return rows if len(rows) == 3 and all(r["attempts"] >= 2 for r in rows) else None

        rows = wait_for(retried, 10, "three deliveries tried at least twice", interval=0.1)
        by_endpoint = {r["endpoint"]: r for r in rows}
        assert set(by_endpoint) == {refusing, failing.url("/fail"), "/bin/sh"}
        for r in rows:
            assert r["status"] in ("pending", "failed") and r["lastError"], r
        assert "500" in by_endpoint[failing.url("/fail")]["lastError"]
        assert "model registry unreachable" in by_endpoint["/bin/sh"]["lastError"], "the hook's stderr explains the failure"
        assert by_endpoint["/bin/sh"]["target"] == "arn:modelwatch:hook:broken"

        def given_up():
            rows = deliveries(live.port, name)
            return rows if all(r["status"] == "failed" for r in rows) else None

        rows = wait_for(given_up, 15, "both deliveries failed", interval=0.1)
        assert [r["attempts"] for r in rows] == [MAX_ATTEMPTS] * 3
        assert all(r["lastError"] for r in rows)
        tries = failing.requests("/fail")
        assert len(tries) == MAX_ATTEMPTS
        gaps = [b.at - a.at for a, b in zip(tries, tries[1:])]
        assert 0.9 <= gaps[0] <= 2.0 and 1.9 <= gaps[1] <= 3.5, f"backoff of 1 s then 2 s, got {gaps}"
        # the retries carry the same message
        bodies = {r.body for r in failing.requests("/fail")}
        assert len(bodies) == 1
        # the alarm handed its action over; delivery failures do not change its state
        assert describe(cw, name)["StateValue"] == "ALARM"
        assert sorted(h["HistorySummary"] for h in history(cw, name, "Action")) == sorted([
            "Successfully executed action arn:modelwatch:hook:broken",
            f"Successfully executed action {topic_arn}",
        ])
    finally:
        failing.close()


def test_action_on_a_deleted_topic_is_recorded_as_failed(cw, live, listener):
    topic_arn, path = topic_with_listener(live, listener, "retired")
    ns = unique_namespace("live-gone")
    name = unique_name("orphan")
    put_alarm(cw, name, ns, AlarmActions=[topic_arn, "arn:modelwatch:hook:dump"])
    topic = topic_arn.rsplit(":", 1)[1]
    assert native_request(live.port, "DELETE", f"/api/v1/topics/{topic}")[0] == 200

    put_value(cw, ns, 100.0)
    wait_state(cw, name, "ALARM")
    actions = wait_for(lambda: len(history(cw, name, "Action")) == 2 and history(cw, name, "Action"), 5, "two Action items")
    by_summary = {h["HistorySummary"]: json.loads(h["HistoryData"]) for h in actions}
    assert set(by_summary) == {f"Failed to execute action {topic_arn}", "Successfully executed action arn:modelwatch:hook:dump"}
    failed = by_summary[f"Failed to execute action {topic_arn}"]
    assert failed["actionState"] == "Failed" and failed["error"]
    assert by_summary["Successfully executed action arn:modelwatch:hook:dump"]["actionState"] == "Succeeded"
    # the other action still ran; nothing went to the deleted topic's subscriber
    [row] = delivered_rows(live.port, name, 1)
    assert row["target"] == "arn:modelwatch:hook:dump"
    assert listener.requests(path) == []


def test_math_percentile_and_m_of_n_alarms_evaluate_real_data(cw, live, listener):
    topic_arn, path = topic_with_listener(live, listener, "math")
    ns = unique_namespace("live-math")
    p = unique_name("eval")
    math, pct, two_of_three, three_of_three = f"{p}-math", f"{p}-p90", f"{p}-2of3", f"{p}-3of3"
    metrics = [
        {
            "Id": "errors",
            "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Errors", "Dimensions": DIMS}, "Period": PERIOD, "Stat": "Minimum"},
            "ReturnData": False,
        },
        {"Id": "doubled", "Expression": "errors * 2", "Label": "Doubled", "ReturnData": True},
    ]
    cw.put_metric_alarm(AlarmName=math, Metrics=metrics, EvaluationPeriods=1, Threshold=100.0,
                        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic_arn])
    put_alarm(cw, pct, ns, metric="Latency", Statistic=None, ExtendedStatistic="p90", Threshold=80.0)
    put_alarm(cw, two_of_three, ns, metric="Queue", Statistic="Maximum", EvaluationPeriods=3, DatapointsToAlarm=2)
    put_alarm(cw, three_of_three, ns, metric="Queue", Statistic="Maximum", EvaluationPeriods=3)
    time.sleep(0.3)

    base = closed_ts()
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Errors", "Dimensions": DIMS, "Value": 60.0, "Timestamp": dt(base), "StorageResolution": 1},
        {"MetricName": "Latency", "Dimensions": DIMS, "Values": [float(v) for v in range(1, 101)], "Timestamp": dt(base), "StorageResolution": 1},
    ] + [
        # newest first: breaching, not breaching, breaching
        {"MetricName": "Queue", "Dimensions": DIMS, "Value": v, "Timestamp": dt(base - i * PERIOD), "StorageResolution": 1}
        for i, v in enumerate([100.0, 0.0, 100.0])
    ])
    a = wait_state(cw, math, "ALARM")  # min 60, doubled 120 > 100
    assert "[120.0 (" in a["StateReason"]
    b = wait_state(cw, pct, "ALARM")  # p90 of 1..100 is about 90 > 80
    assert json.loads(b["StateReasonData"])["statistic"] == "p90"
    c = wait_state(cw, two_of_three, "ALARM")
    assert c["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints")
    wait_state(cw, three_of_three, "OK")

    [req] = listener.wait(path, 1)
    envelope = req.json()
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == (math, "ALARM")
    assert [m["Id"] for m in message["Trigger"]["Metrics"]] == ["errors", "doubled"]
    assert message["Trigger"]["Period"] == PERIOD
