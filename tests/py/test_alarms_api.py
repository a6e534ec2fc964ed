"""The alarm API over all three protocols.

PutMetricAlarm, PutCompositeAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DescribeAlarmHistory, DeleteAlarms, SetAlarmState, EnableAlarmActions and
DisableAlarmActions through an unchanged boto3 client, plus the native
action-target API the alarm actions point at.

The alarms here have 60-second periods and get no data, so every evaluation
leaves them in the state their TreatMissingData gives (missing:
INSUFFICIENT_DATA, breaching: ALARM, notBreaching: OK); only SetAlarmState
moves one away from it, until the next minute. A rejected request must leave
the alarms and their history exactly as they were.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import uuid

import pytest

from support import (
    assert_client_used_protocol,
    create_topic,
    make_client,
    native_request,
    now_s,
    unique_namespace,
    wait_for,
)

ALL_TYPES = ["MetricAlarm", "CompositeAlarm"]
INITIAL_REASON = "Unchecked: Initial alarm creation"
ALARM_ARN_PREFIX = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
TOPIC_ARN_PREFIX = "arn:aws:sns:us-east-1:123456789012:"
EVAL_DELAY_S = 1.0  # the shared server's default alarm delay

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def unique_name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def alarm_kwargs(name: str, ns: str, **over) -> dict:
    """A valid single-metric PutMetricAlarm request; an override of None drops the key."""
    kw = dict(
        AlarmName=name,
        Namespace=ns,
        MetricName="Latency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    kw.update(over)
    return {k: v for k, v in kw.items() if v is not None}


def put_alarm(cw, name: str, ns: str, **over) -> dict:
    kw = alarm_kwargs(name, ns, **over)
    cw.put_metric_alarm(**kw)
    return kw


def math_metrics(ns: str, metric: str = "Latency", second_return: bool = False) -> list[dict]:
    return [
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": metric, "Dimensions": [{"Name": "Host", "Value": "a"}]},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": second_return,
        },
        {"Id": "e1", "Expression": "m1 * 2", "Label": "Doubled", "ReturnData": True},
    ]


def strip(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def describe(cw, names, types=ALL_TYPES) -> dict:
    """name -> alarm (metric and composite) for `names`."""
    resp = cw.describe_alarms(AlarmNames=list(names), AlarmTypes=types)
    out = {}
    for a in resp["MetricAlarms"] + resp["CompositeAlarms"]:
        assert a["AlarmName"] not in out
        out[a["AlarmName"]] = a
    return out


def one(cw, name, types=ALL_TYPES) -> dict:
    found = describe(cw, [name], types)
    assert name in found, f"alarm {name} not described"
    return found[name]


def wait_state(cw, name: str, state: str, timeout: float = 10.0) -> dict:
    def check():
        a = describe(cw, [name]).get(name)
        return a if a and a["StateValue"] == state else None

    return wait_for(check, timeout, f"{name} in {state}")


def history(cw, name: str, types=ALL_TYPES, **kw) -> list[dict]:
    items = []
    for page in cw.get_paginator("describe_alarm_history").paginate(AlarmName=name, AlarmTypes=types, **kw):
        items.extend(page["AlarmHistoryItems"])
    return items


def summaries(items) -> list[tuple[str, str]]:
    return [(h["HistoryItemType"], h["HistorySummary"]) for h in items]


def names_of(resp, key="MetricAlarms") -> list[str]:
    return [a["AlarmName"] for a in resp[key]]


def snapshot(cw, names):
    """Everything DescribeAlarms and DescribeAlarmHistory say about `names`."""
    return strip(cw.describe_alarms(AlarmNames=list(names), AlarmTypes=ALL_TYPES)), {n: history(cw, n) for n in names}


def expect_error(call, exc_type, code: str, status: int = 400):
    with pytest.raises(exc_type) as ei:
        call()
    resp = ei.value.response
    assert resp["Error"]["Code"] == code, resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status
    return ei.value


def settle():
    """Leaves time for the evaluation that a change triggers (it runs at once)."""
    time.sleep(0.3)


def clear_of_evaluation(margin: float = 3.0):
    """Waits, if needed, until the next scheduled evaluation of 60-second alarms is at least `margin` seconds away."""
    t = now_s() % 60
    nxt = EVAL_DELAY_S if t < EVAL_DELAY_S else 60 + EVAL_DELAY_S
    if nxt - t < margin:
        time.sleep(nxt - t + 0.5)


@pytest.fixture
def cw_unvalidated(shared_server, protocol):
    """A client that sends what it is given (botocore's own parameter checks off)."""
    client = make_client(protocol, shared_server.endpoint, validate=False)
    yield client
    assert_client_used_protocol(client)


@pytest.fixture
def topic_arn(shared_server):
    return create_topic(shared_server.port, unique_name("topic"))


# ---------------------------------------------------------------------------------------
# PutMetricAlarm / DescribeAlarms / DeleteAlarms
# ---------------------------------------------------------------------------------------


def test_new_alarm_is_insufficient_data_and_described_in_full(cw, protocol):
    ns = unique_namespace(f"al-{protocol}")
    name = unique_name(f"new-{protocol}")
    dims = [{"Name": "Model", "Value": "churn"}, {"Name": "Host", "Value": "a"}]
    before = now_s()
    put_alarm(
        cw, name, ns,
        AlarmDescription="p90 latency too high",
        Statistic="Maximum",
        Dimensions=dims,
        Unit="Milliseconds",
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=250.5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="missing",
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    settle()
    a = one(cw, name)
    assert a["AlarmArn"] == ALARM_ARN_PREFIX + name
    assert a["AlarmDescription"] == "p90 latency too high"
    assert a["StateValue"] == "INSUFFICIENT_DATA"
    assert a["StateReason"] == INITIAL_REASON
    assert a["ActionsEnabled"] is True
    assert a["OKActions"] == a["AlarmActions"] == a["InsufficientDataActions"] == []
    assert (a["Namespace"], a["MetricName"], a["Statistic"]) == (ns, "Latency", "Maximum")
    assert "ExtendedStatistic" not in a
    assert sorted(a["Dimensions"], key=lambda d: d["Name"]) == sorted(dims, key=lambda d: d["Name"])
    assert (a["Period"], a["Unit"], a["EvaluationPeriods"], a["DatapointsToAlarm"]) == (60, "Milliseconds", 3, 2)
    assert a["Threshold"] == 250.5
    assert a["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert a["TreatMissingData"] == "missing"
    assert not a.get("Metrics")
    for field in ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp"):
        assert before - 5 <= a[field].timestamp() <= now_s() + 5, (field, a[field])

    # metric alarms are what DescribeAlarms returns by default
    resp = cw.describe_alarms(AlarmNames=[name])
    assert names_of(resp) == [name] and resp["CompositeAlarms"] == []

    items = history(cw, name)
    assert summaries(items) == [("ConfigurationUpdate", f'Alarm "{name}" created')]
    assert items[0]["AlarmName"] == name and items[0]["AlarmType"] == "MetricAlarm"
    data = json.loads(items[0]["HistoryData"])
    assert data["type"] == "Create"

    # an ExtendedStatistic alarm is described with it and without Statistic
    p99 = unique_name(f"p99-{protocol}")
    put_alarm(cw, p99, ns, Statistic=None, ExtendedStatistic="p99", EvaluateLowSampleCountPercentile="ignore")
    b = one(cw, p99)
    assert b["ExtendedStatistic"] == "p99" and "Statistic" not in b
    assert b["EvaluateLowSampleCountPercentile"] == "ignore"


def test_update_replaces_configuration_and_keeps_state(cw, protocol):
    ns = unique_namespace(f"upd-{protocol}")
    name = unique_name(f"upd-{protocol}")
    put_alarm(cw, name, ns, TreatMissingData="breaching", Unit="Seconds", AlarmDescription="v1")
    first = wait_state(cw, name, "ALARM")
    assert first["StateReason"] != INITIAL_REASON
    time.sleep(0.05)

    put_alarm(cw, name, ns, TreatMissingData="breaching", AlarmDescription="v2", Threshold=5.0, EvaluationPeriods=2)
    settle()
    a = one(cw, name)
    assert a["StateValue"] == "ALARM"
    assert a["StateReason"] == first["StateReason"]
    assert a["StateTransitionedTimestamp"] == first["StateTransitionedTimestamp"]
    assert a["AlarmDescription"] == "v2"
    assert (a["Threshold"], a["EvaluationPeriods"]) == (5.0, 2)
    assert "Unit" not in a, "the whole configuration is replaced on update"
    assert a["AlarmConfigurationUpdatedTimestamp"] > first["AlarmConfigurationUpdatedTimestamp"]

    assert summaries(history(cw, name)) == [
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
    ]


def test_metric_math_alarm_is_described_with_its_metrics(cw, protocol):
    ns = unique_namespace(f"math-{protocol}")
    name = unique_name(f"math-{protocol}")
    metrics = math_metrics(ns)
    cw.put_metric_alarm(
        AlarmName=name, Metrics=metrics, EvaluationPeriods=2, DatapointsToAlarm=1,
        Threshold=10.0, ComparisonOperator="LessThanThreshold",
    )
    a = one(cw, name)
    assert a["Metrics"] == metrics
    for absent in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit"):
        assert absent not in a, absent
    assert (a["EvaluationPeriods"], a["DatapointsToAlarm"], a["Threshold"]) == (2, 1, 10.0)
    assert a["StateValue"] == "INSUFFICIENT_DATA"
    # a math alarm is not an alarm "for" one of its metrics
    assert cw.describe_alarms_for_metric(Namespace=ns, MetricName="Latency")["MetricAlarms"] == []


def test_delete_alarms_keeps_history_and_reports_unknown_names(cw, protocol):
    ns = unique_namespace(f"del-{protocol}")
    a, b = unique_name(f"del-a-{protocol}"), unique_name(f"del-b-{protocol}")
    put_alarm(cw, a, ns)
    put_alarm(cw, b, ns)

    # unknown names beside a known one do not stop the deletion
    cw.delete_alarms(AlarmNames=[a, unique_name("never-existed")])
    assert list(describe(cw, [a, b])) == [b]
    assert summaries(history(cw, a)) == [
        ("ConfigurationUpdate", f'Alarm "{a}" deleted'),
        ("ConfigurationUpdate", f'Alarm "{a}" created'),
    ]

    before = snapshot(cw, [a, b])
    expect_error(lambda: cw.delete_alarms(AlarmNames=[a]), cw.exceptions.ResourceNotFound, "ResourceNotFound", 404)
    expect_error(
        lambda: cw.delete_alarms(AlarmNames=[unique_name("x"), unique_name("y")]),
        cw.exceptions.ResourceNotFound, "ResourceNotFound", 404,
    )
    assert snapshot(cw, [a, b]) == before

    # the name can be used again; the new alarm starts from scratch
    put_alarm(cw, a, ns, TreatMissingData="notBreaching")
    assert wait_state(cw, a, "OK")["AlarmConfigurationUpdatedTimestamp"]
    assert summaries(history(cw, a))[-3:] == [
        ("ConfigurationUpdate", f'Alarm "{a}" created'),
        ("ConfigurationUpdate", f'Alarm "{a}" deleted'),
        ("ConfigurationUpdate", f'Alarm "{a}" created'),
    ]


def test_names_and_text_with_special_characters_round_trip(cw, protocol):
    ns = unique_namespace(f"chars-{protocol}")
    name = f"p99 <latency> & (errors) ü {protocol} \u2603 {uuid.uuid4().hex[:6]}"
    description = 'x < y & "z" \'q\' ü\n\tsecond line ]]> end'
    dims = [{"Name": "Key<&>", "Value": "v\"'> ü"}]
    put_alarm(cw, name, ns, MetricName="Metric&<>", Dimensions=dims, AlarmDescription=description, TreatMissingData="breaching")
    a = wait_state(cw, name, "ALARM")
    assert (a["AlarmName"], a["AlarmDescription"], a["MetricName"], a["Dimensions"]) == (name, description, "Metric&<>", dims)
    assert a["AlarmArn"] == ALARM_ARN_PREFIX + name
    assert summaries(history(cw, name)) == [
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
    ]
    comp = f"composite of {name}"
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f'ALARM("{name}")')
    wait_state(cw, comp, "ALARM")
    clear_of_evaluation()
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason='reason <&> "quoted"', StateReasonData='{"k": "<&>"}')
    b = one(cw, name)
    assert (b["StateValue"], b["StateReason"], json.loads(b["StateReasonData"])) == ("OK", 'reason <&> "quoted"', {"k": "<&>"})
    assert wait_state(cw, comp, "OK")["AlarmRule"] == f'ALARM("{name}")'
    found = cw.describe_alarms_for_metric(Namespace=ns, MetricName="Metric&<>", Dimensions=dims)["MetricAlarms"]
    assert [x["AlarmName"] for x in found] == [name]
    cw.delete_alarms(AlarmNames=[comp, name])
    assert describe(cw, [comp, name]) == {}


# ---------------------------------------------------------------------------------------
# DescribeAlarms filters and pages
# ---------------------------------------------------------------------------------------


def test_describe_alarms_filters(cw, protocol, topic_arn):
    ns = unique_namespace(f"flt-{protocol}")
    p = unique_name(f"flt-{protocol}")
    ok, alarm, insuff, comp = f"{p}-ok", f"{p}-alarm", f"{p}-insuff", f"{p}-comp"
    other = unique_name(f"other-{protocol}")
    put_alarm(cw, ok, ns, TreatMissingData="notBreaching")
    put_alarm(cw, alarm, ns, TreatMissingData="breaching", AlarmActions=[topic_arn])
    put_alarm(cw, insuff, ns, OKActions=[topic_arn])
    put_alarm(cw, other, ns)
    wait_state(cw, ok, "OK")
    wait_state(cw, alarm, "ALARM")
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({alarm})")
    wait_state(cw, comp, "ALARM")

    resp = cw.describe_alarms(AlarmNamePrefix=p)
    assert names_of(resp) == sorted([ok, alarm, insuff]) and resp["CompositeAlarms"] == []
    resp = cw.describe_alarms(AlarmNamePrefix=p, AlarmTypes=ALL_TYPES)
    assert names_of(resp) == sorted([ok, alarm, insuff]) and names_of(resp, "CompositeAlarms") == [comp]
    resp = cw.describe_alarms(AlarmNamePrefix=p, AlarmTypes=["CompositeAlarm"])
    assert resp["MetricAlarms"] == [] and names_of(resp, "CompositeAlarms") == [comp]

    for state, metric_names in [("OK", [ok]), ("ALARM", [alarm]), ("INSUFFICIENT_DATA", [insuff])]:
        resp = cw.describe_alarms(AlarmNamePrefix=p, StateValue=state, AlarmTypes=ALL_TYPES)
        assert names_of(resp) == metric_names, state
        assert names_of(resp, "CompositeAlarms") == ([comp] if state == "ALARM" else []), state

    resp = cw.describe_alarms(AlarmNamePrefix=p, ActionPrefix=topic_arn)
    assert names_of(resp) == sorted([alarm, insuff])
    resp = cw.describe_alarms(AlarmNamePrefix=p, ActionPrefix=TOPIC_ARN_PREFIX)
    assert names_of(resp) == sorted([alarm, insuff])
    resp = cw.describe_alarms(AlarmNamePrefix=p, ActionPrefix="arn:aws:sns:eu-west-1:")
    assert resp["MetricAlarms"] == []

    resp = cw.describe_alarms(AlarmNames=[other, ok, unique_name("missing")])
    assert names_of(resp) == sorted([other, ok])
    resp = cw.describe_alarms(AlarmNames=[comp])
    assert resp["MetricAlarms"] == [] and resp["CompositeAlarms"] == [], "composites only when AlarmTypes asks"

    resp = cw.describe_alarms(AlarmNamePrefix=p, AlarmTypes=["LogAlarm"])
    assert resp["MetricAlarms"] == [] and resp["CompositeAlarms"] == []


def test_describe_alarms_bad_filters(cw_unvalidated, protocol):
    cw = cw_unvalidated
    expect_error(
        lambda: cw.describe_alarms(AlarmNames=["a"], AlarmNamePrefix="a"),
        cw.exceptions.InvalidParameterCombinationException, "InvalidParameterCombination",
    )
    for bad in (0, 101):
        expect_error(
            lambda: cw.describe_alarms(MaxRecords=bad),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )
    expect_error(
        lambda: cw.describe_alarms(StateValue="BROKEN"),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    expect_error(
        lambda: cw.describe_alarms(NextToken="not a token"),
        cw.exceptions.InvalidNextToken, "InvalidNextToken",
    )


def test_describe_alarms_pages_with_next_token(cw, protocol):
    ns = unique_namespace(f"pg-{protocol}")
    p = unique_name(f"pg-{protocol}")
    metric_names = [f"{p}-{i:02d}" for i in range(7)]
    for n in metric_names:
        put_alarm(cw, n, ns)
    comp = f"{p}-03c"  # sorts among the metric alarms
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({metric_names[0]}) OR ALARM({metric_names[1]})")

    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        resp = cw.describe_alarms(AlarmNamePrefix=p, MaxRecords=3, **kw)
        pages.append(names_of(resp))
        token = resp.get("NextToken")
        if not token:
            break
        assert len(pages) < 10, "pagination does not end"
    assert pages == [metric_names[0:3], metric_names[3:6], metric_names[6:7]]

    # metric and composite alarms share the pages, in name order
    everything = sorted(metric_names + [comp])
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        resp = cw.describe_alarms(AlarmNamePrefix=p, AlarmTypes=ALL_TYPES, MaxRecords=2, **kw)
        page = names_of(resp) + names_of(resp, "CompositeAlarms")
        assert 1 <= len(page) <= 2
        seen.extend(page)
        token = resp.get("NextToken")
        if not token:
            break
        assert len(seen) <= len(everything)
    assert sorted(seen) == everything and len(seen) == len(everything)

    # the botocore paginator gets the same alarms
    got = []
    for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=p, PaginationConfig={"PageSize": 4}):
        got.extend(names_of(page))
    assert got == metric_names

    # the default page size is 50
    resp = cw.describe_alarms(AlarmNamePrefix=p)
    assert names_of(resp) == metric_names and "NextToken" not in resp


def test_describe_alarms_default_page_is_50(cw, protocol):
    ns = unique_namespace(f"pg50-{protocol}")
    p = unique_name(f"pg50-{protocol}")
    names = [f"{p}-{i:03d}" for i in range(51)]
    for n in names:
        put_alarm(cw, n, ns)
    first = cw.describe_alarms(AlarmNamePrefix=p)
    assert names_of(first) == names[:50] and first.get("NextToken")
    rest = cw.describe_alarms(AlarmNamePrefix=p, NextToken=first["NextToken"])
    assert names_of(rest) == names[50:] and "NextToken" not in rest
    full = cw.describe_alarms(AlarmNamePrefix=p, MaxRecords=100)
    assert names_of(full) == names and "NextToken" not in full


# ---------------------------------------------------------------------------------------
# DescribeAlarmsForMetric
# ---------------------------------------------------------------------------------------


def test_describe_alarms_for_metric(cw, protocol):
    ns = unique_namespace(f"afm-{protocol}")
    p = unique_name(f"afm-{protocol}")
    d1 = [{"Name": "Host", "Value": "a"}]
    d2 = [{"Name": "Host", "Value": "a"}, {"Name": "Az", "Value": "x"}]
    avg, mx, p99, two_dims, other, nodims = (f"{p}-{s}" for s in ("avg", "max", "p99", "d2", "other", "nodims"))
    put_alarm(cw, avg, ns, MetricName="Lat", Statistic="Average", Dimensions=d1)
    put_alarm(cw, mx, ns, MetricName="Lat", Statistic="Maximum", Dimensions=d1, Period=300, Unit="Milliseconds")
    put_alarm(cw, p99, ns, MetricName="Lat", Statistic=None, ExtendedStatistic="p99", Dimensions=d1)
    put_alarm(cw, two_dims, ns, MetricName="Lat", Statistic="Average", Dimensions=d2)
    put_alarm(cw, other, ns, MetricName="Other", Statistic="Average", Dimensions=d1)
    put_alarm(cw, nodims, ns, MetricName="Lat", Statistic="Sum")
    cw.put_metric_alarm(
        AlarmName=f"{p}-math", Metrics=math_metrics(ns, "Lat"), EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.put_composite_alarm(AlarmName=f"{p}-comp", AlarmRule=f"ALARM({avg})")

    def names(**kw):
        resp = cw.describe_alarms_for_metric(Namespace=ns, **kw)
        assert set(resp) - {"ResponseMetadata"} <= {"MetricAlarms"}
        return sorted(a["AlarmName"] for a in resp["MetricAlarms"])

    assert names(MetricName="Lat") == sorted([avg, mx, p99, two_dims, nodims])
    assert names(MetricName="Lat", Statistic="Average") == sorted([avg, two_dims])
    assert names(MetricName="Lat", ExtendedStatistic="p99") == [p99]
    assert names(MetricName="Lat", Dimensions=d1) == sorted([avg, mx, p99])
    assert names(MetricName="Lat", Dimensions=list(reversed(d2))) == [two_dims], "dimension order does not matter"
    assert names(MetricName="Lat", Dimensions=[{"Name": "Az", "Value": "x"}]) == [], "dimensions match as an exact set"
    assert names(MetricName="Lat", Period=300) == [mx]
    assert names(MetricName="Lat", Unit="Milliseconds") == [mx]
    assert names(MetricName="Lat", Statistic="Average", Dimensions=d1, Period=60) == [avg]
    assert names(MetricName="Other") == [other]
    assert names(MetricName="Nothing") == []
    assert cw.describe_alarms_for_metric(Namespace=ns + "x", MetricName="Lat")["MetricAlarms"] == []

    full = cw.describe_alarms_for_metric(Namespace=ns, MetricName="Lat", Period=300)["MetricAlarms"][0]
    assert full == one(cw, mx), "DescribeAlarmsForMetric returns the whole alarm"


def test_describe_alarms_for_metric_needs_namespace_and_name(cw_unvalidated, protocol):
    cw = cw_unvalidated
    expect_error(
        lambda: cw.describe_alarms_for_metric(Namespace=unique_namespace("x")),
        cw.exceptions.MissingRequiredParameterException, "MissingParameter",
    )
    expect_error(
        lambda: cw.describe_alarms_for_metric(MetricName="Lat"),
        cw.exceptions.MissingRequiredParameterException, "MissingParameter",
    )


# ---------------------------------------------------------------------------------------
# DescribeAlarmHistory
# ---------------------------------------------------------------------------------------


def test_alarm_history_types_dates_pages_and_order(cw, protocol):
    ns = unique_namespace(f"hist-{protocol}")
    name = unique_name(f"hist-{protocol}")
    put_alarm(cw, name, ns, TreatMissingData="breaching")
    wait_state(cw, name, "ALARM")
    time.sleep(0.3)
    put_alarm(cw, name, ns, TreatMissingData="breaching", AlarmDescription="second")
    time.sleep(0.3)
    cw.disable_alarm_actions(AlarmNames=[name])
    time.sleep(0.3)
    cw.enable_alarm_actions(AlarmNames=[name])

    items = history(cw, name)
    assert summaries(items) == [
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
    ]
    stamps = [h["Timestamp"] for h in items]
    assert stamps == sorted(stamps, reverse=True), "newest first"
    for h in items:
        assert h["AlarmName"] == name and h["AlarmType"] == "MetricAlarm"
        json.loads(h["HistoryData"])

    state = history(cw, name, HistoryItemType="StateUpdate")
    assert len(state) == 1
    data = json.loads(state[0]["HistoryData"])
    assert data["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert data["oldState"]["stateReason"] == INITIAL_REASON
    assert data["newState"]["stateValue"] == "ALARM"
    assert data["newState"]["stateReason"] == one(cw, name)["StateReason"]
    assert len(history(cw, name, HistoryItemType="ConfigurationUpdate")) == 4
    assert history(cw, name, HistoryItemType="Action") == []

    # ScanBy
    assert history(cw, name, ScanBy="TimestampAscending") == list(reversed(items))
    assert history(cw, name, ScanBy="TimestampDescending") == items

    # pages of 2 by hand, both directions
    for scan, want in (("TimestampDescending", items), ("TimestampAscending", list(reversed(items)))):
        got, token, sizes = [], None, []
        while True:
            kw = {"NextToken": token} if token else {}
            resp = cw.describe_alarm_history(AlarmName=name, MaxRecords=2, ScanBy=scan, **kw)
            sizes.append(len(resp["AlarmHistoryItems"]))
            got.extend(resp["AlarmHistoryItems"])
            token = resp.get("NextToken")
            if not token:
                break
            assert len(sizes) < 10
        assert got == want, scan
        assert sizes[:2] == [2, 2]

    # StartDate / EndDate (inclusive window around single items)
    put_update = items[2]  # the second PutMetricAlarm
    t = put_update["Timestamp"]
    tick = _dt.timedelta(milliseconds=100)
    assert history(cw, name, StartDate=t - tick, EndDate=t + tick) == [put_update]
    assert history(cw, name, StartDate=t - tick) == items[:3]
    assert history(cw, name, EndDate=t - tick) == items[3:]
    assert history(cw, name, StartDate=items[0]["Timestamp"] + _dt.timedelta(seconds=5)) == []

    # metric alarm history is not composite alarm history
    assert history(cw, name, types=["CompositeAlarm"]) == []
    resp = cw.describe_alarm_history(AlarmName=name)
    assert resp["AlarmHistoryItems"] == items, "AlarmTypes defaults to metric alarms"


def camel_keys(value, path="HistoryData"):
    """Every object key below `value` as (path, key) where the key is not camelCase."""
    bad = []
    if isinstance(value, dict):
        for k, v in value.items():
            if "_" in k or not k[:1].islower():
                bad.append(f"{path}.{k}")
            bad += camel_keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad += camel_keys(v, f"{path}[{i}]")
    return bad


def test_configuration_history_data_describes_the_alarm_in_one_layout(cw, protocol):
    """ConfigurationUpdate HistoryData names the alarm the same way for every change.

    StateUpdate data and the Delete / Enable / Disable items use AWS's camelCase
    keys (`alarmName`, `actionsEnabled`); a create or update by PutMetricAlarm
    must too, not the server's internal field names.
    """
    ns = unique_namespace(f"cfgh-{protocol}")
    name = unique_name(f"cfgh-{protocol}")
    put_alarm(cw, name, ns, Dimensions=[{"Name": "Host", "Value": "a"}])
    put_alarm(cw, name, ns, AlarmDescription="second")
    cw.disable_alarm_actions(AlarmNames=[name])
    cw.delete_alarms(AlarmNames=[name])
    items = history(cw, name, HistoryItemType="ConfigurationUpdate")
    assert len(items) == 4
    problems = []
    for h in items:
        data = json.loads(h["HistoryData"])
        key = {"Create": "createdAlarm", "Update": "updatedAlarm", "Delete": "deletedAlarm"}[data["type"]]
        if data[key].get("alarmName") != name:
            problems.append(f"{h['HistorySummary']}: {key} has no alarmName (keys {sorted(data[key])})")
        problems += [f"{h['HistorySummary']}: key {k}" for k in camel_keys(data)]
    assert not problems, "\n".join(problems)


def test_alarm_history_bad_input(cw_unvalidated, protocol):
    cw = cw_unvalidated
    expect_error(
        lambda: cw.describe_alarm_history(NextToken="zz-not-a-token"),
        cw.exceptions.InvalidNextToken, "InvalidNextToken",
    )
    expect_error(
        lambda: cw.describe_alarm_history(HistoryItemType="Everything"),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    expect_error(
        lambda: cw.describe_alarm_history(ScanBy="Sideways"),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    for bad in (0, 101):
        expect_error(
            lambda: cw.describe_alarm_history(MaxRecords=bad),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )


# ---------------------------------------------------------------------------------------
# SetAlarmState, Enable/DisableAlarmActions
# ---------------------------------------------------------------------------------------


def test_set_alarm_state_changes_state_and_writes_history(cw, protocol):
    ns = unique_namespace(f"set-{protocol}")
    name = unique_name(f"set-{protocol}")
    put_alarm(cw, name, ns, TreatMissingData="notBreaching")
    computed = wait_state(cw, name, "OK")

    clear_of_evaluation()
    reason_data = '{"source": "drill", "n": 1}'
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="fire drill", StateReasonData=reason_data)
    a = one(cw, name)
    assert a["StateValue"] == "ALARM"
    assert a["StateReason"] == "fire drill"
    assert json.loads(a["StateReasonData"]) == json.loads(reason_data)
    assert a["StateTransitionedTimestamp"] > computed["StateTransitionedTimestamp"]

    items = history(cw, name, HistoryItemType="StateUpdate")
    assert items[0]["HistorySummary"] == "Alarm updated from OK to ALARM"
    data = json.loads(items[0]["HistoryData"])
    assert data["oldState"]["stateValue"] == "OK"
    assert data["newState"]["stateValue"] == "ALARM"
    assert data["newState"]["stateReason"] == "fire drill"


def test_set_alarm_state_errors_change_nothing(cw_unvalidated, protocol):
    cw = cw_unvalidated
    ns = unique_namespace(f"seterr-{protocol}")
    name = unique_name(f"seterr-{protocol}")
    put_alarm(cw, name, ns, TreatMissingData="notBreaching")
    wait_state(cw, name, "OK")
    before = snapshot(cw, [name])

    missing = unique_name("missing")
    expect_error(
        lambda: cw.set_alarm_state(AlarmName=missing, StateValue="ALARM", StateReason="x"),
        cw.exceptions.ResourceNotFound, "ResourceNotFound", 404,
    )
    expect_error(
        lambda: cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="x", StateReasonData="{not json"),
        cw.exceptions.InvalidFormatFault, "InvalidFormat",
    )
    expect_error(
        lambda: cw.set_alarm_state(AlarmName=name, StateValue="ON_FIRE", StateReason="x"),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    assert snapshot(cw, [name]) == before
    assert describe(cw, [missing]) == {} and history(cw, missing) == []


def test_enable_and_disable_alarm_actions(cw, protocol, topic_arn):
    ns = unique_namespace(f"act-{protocol}")
    name = unique_name(f"act-{protocol}")
    put_alarm(cw, name, ns, AlarmActions=[topic_arn], OKActions=[topic_arn])
    comp = unique_name(f"actc-{protocol}")
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({name})", AlarmActions=[topic_arn])
    before = one(cw, name)
    assert before["ActionsEnabled"] is True and one(cw, comp)["ActionsEnabled"] is True

    cw.disable_alarm_actions(AlarmNames=[name, comp, unique_name("unknown")])
    a = one(cw, name)
    assert a["ActionsEnabled"] is False
    assert one(cw, comp)["ActionsEnabled"] is False
    assert a["AlarmActions"] == [topic_arn] and a["OKActions"] == [topic_arn], "disabling keeps the action lists"
    assert a["StateValue"] == before["StateValue"]
    assert history(cw, name)[0]["HistorySummary"] == f'Alarm "{name}" updated'

    cw.enable_alarm_actions(AlarmNames=[name])
    assert one(cw, name)["ActionsEnabled"] is True
    assert one(cw, comp)["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[comp])
    assert one(cw, comp)["ActionsEnabled"] is True

    # ActionsEnabled=False at creation
    off = unique_name(f"off-{protocol}")
    put_alarm(cw, off, ns, AlarmActions=[topic_arn], ActionsEnabled=False)
    assert one(cw, off)["ActionsEnabled"] is False


# ---------------------------------------------------------------------------------------
# PutCompositeAlarm
# ---------------------------------------------------------------------------------------


def test_composite_alarm_create_describe_children_parents_delete(cw, protocol, topic_arn):
    ns = unique_namespace(f"comp-{protocol}")
    p = unique_name(f"comp-{protocol}")
    c1, c2, comp = f"{p}-cpu", f"{p}-deploy", f"{p}-service"
    put_alarm(cw, c1, ns, TreatMissingData="breaching")
    put_alarm(cw, c2, ns)
    wait_state(cw, c1, "ALARM")
    rule = f'ALARM({c1}) AND NOT OK("{c2}")'
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=rule, AlarmDescription="service down", AlarmActions=[topic_arn])
    a = wait_state(cw, comp, "ALARM")
    assert a["AlarmArn"] == ALARM_ARN_PREFIX + comp
    assert a["AlarmRule"] == rule
    assert a["AlarmDescription"] == "service down"
    assert a["AlarmActions"] == [topic_arn] and a["ActionsEnabled"] is True
    assert "Threshold" not in a and "MetricName" not in a

    resp = cw.describe_alarms(AlarmNames=[comp], AlarmTypes=["CompositeAlarm"])
    assert names_of(resp, "CompositeAlarms") == [comp] and resp["MetricAlarms"] == []

    # history of a composite is asked for with AlarmTypes
    assert summaries(history(cw, comp, types=["CompositeAlarm"])) == [
        ("Action", f"Successfully executed action {topic_arn}"),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{comp}" created'),
    ]
    assert all(h["AlarmType"] == "CompositeAlarm" for h in history(cw, comp, types=["CompositeAlarm"]))
    assert cw.describe_alarm_history(AlarmName=comp)["AlarmHistoryItems"] == []

    # children: name, ARN and state only
    resp = cw.describe_alarms(ChildrenOfAlarmName=comp)
    assert names_of(resp) == sorted([c1, c2]) and resp["CompositeAlarms"] == []
    for child in resp["MetricAlarms"]:
        assert child["AlarmArn"] == ALARM_ARN_PREFIX + child["AlarmName"]
        assert child["StateValue"] == {c1: "ALARM", c2: "INSUFFICIENT_DATA"}[child["AlarmName"]]
        assert "StateReason" in child and "StateUpdatedTimestamp" in child
        for absent in ("MetricName", "Threshold", "ComparisonOperator", "AlarmActions", "EvaluationPeriods"):
            assert absent not in child, absent

    # parents: name and ARN only
    resp = cw.describe_alarms(ParentsOfAlarmName=c1)
    assert resp["MetricAlarms"] == []
    assert resp["CompositeAlarms"] == [{"AlarmName": comp, "AlarmArn": ALARM_ARN_PREFIX + comp}]
    assert cw.describe_alarms(ParentsOfAlarmName=comp)["CompositeAlarms"] == []
    resp = cw.describe_alarms(ChildrenOfAlarmName=c1)
    assert resp["MetricAlarms"] == [] and resp["CompositeAlarms"] == [], "a metric alarm has no children"

    # ... and nothing but AlarmTypes / MaxRecords / NextToken may come with them
    for extra in ({"StateValue": "ALARM"}, {"AlarmNamePrefix": p}, {"AlarmNames": [c1]}, {"ActionPrefix": "arn:"}):
        expect_error(
            lambda: cw.describe_alarms(ParentsOfAlarmName=c1, **extra),
            cw.exceptions.InvalidParameterCombinationException, "InvalidParameterCombination",
        )
        expect_error(
            lambda: cw.describe_alarms(ChildrenOfAlarmName=comp, **extra),
            cw.exceptions.InvalidParameterCombinationException, "InvalidParameterCombination",
        )
    resp = cw.describe_alarms(ChildrenOfAlarmName=comp, AlarmTypes=ALL_TYPES, MaxRecords=1)
    assert names_of(resp) == [sorted([c1, c2])[0]] and resp.get("NextToken")
    resp = cw.describe_alarms(ChildrenOfAlarmName=comp, AlarmTypes=ALL_TYPES, MaxRecords=1, NextToken=resp["NextToken"])
    assert names_of(resp) == [sorted([c1, c2])[1]] and not resp.get("NextToken")

    # an update replaces the configuration and keeps the state
    time.sleep(0.05)
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({c1}) OR ALARM({c2})", AlarmDescription="v2")
    settle()
    b = one(cw, comp)
    assert b["StateValue"] == "ALARM" and b["StateTransitionedTimestamp"] == a["StateTransitionedTimestamp"]
    assert b["AlarmRule"] == f"ALARM({c1}) OR ALARM({c2})" and b["AlarmActions"] == []
    assert history(cw, comp, types=["CompositeAlarm"])[0]["HistorySummary"] == f'Alarm "{comp}" updated'

    # a child in use cannot be deleted; nothing is deleted
    before = snapshot(cw, [c1, c2, comp])
    for doomed in ([c1], [c2, c1], [c2]):
        expect_error(lambda: cw.delete_alarms(AlarmNames=doomed), cw.exceptions.ResourceConflict, "ResourceConflict", 409)
    assert snapshot(cw, [c1, c2, comp]) == before

    # a child the rule no longer names is free to go
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({c1})")
    assert cw.describe_alarms(ParentsOfAlarmName=c2)["CompositeAlarms"] == []
    cw.delete_alarms(AlarmNames=[c2])
    expect_error(lambda: cw.delete_alarms(AlarmNames=[c1]), cw.exceptions.ResourceConflict, "ResourceConflict", 409)

    # together with its parent a child can be deleted
    cw.delete_alarms(AlarmNames=[comp, c1])
    assert describe(cw, [c1, c2, comp]) == {}
    assert history(cw, comp, types=["CompositeAlarm"])[0]["HistorySummary"] == f'Alarm "{comp}" deleted'
    assert cw.describe_alarms(ParentsOfAlarmName=c1)["CompositeAlarms"] == []


def test_composite_rule_language(cw, protocol):
    ns = unique_namespace(f"rule-{protocol}")
    p = unique_name(f"rule-{protocol}")
    hot, cold = f"{p}-hot", f"{p}-cold"
    put_alarm(cw, hot, ns, TreatMissingData="breaching")  # ALARM
    put_alarm(cw, cold, ns, TreatMissingData="notBreaching")  # OK
    wait_state(cw, hot, "ALARM")
    wait_state(cw, cold, "OK")
    cases = {
        "true": ("TRUE", "ALARM"),
        "false": ("FALSE", "OK"),
        "and": (f"ALARM({hot}) AND ALARM({cold})", "OK"),
        "or": (f"ALARM({hot}) OR ALARM({cold})", "ALARM"),
        "not": (f"NOT ALARM({cold})", "ALARM"),
        "ok": (f"OK({cold})", "ALARM"),
        "insufficient": (f"INSUFFICIENT_DATA({hot})", "OK"),
        "parens": (f"(ALARM({cold}) OR OK({cold})) AND NOT (ALARM({cold}) AND TRUE)", "ALARM"),
        "precedence": (f"ALARM({hot}) OR ALARM({cold}) AND FALSE", "ALARM"),
        "arn": (f'ALARM("{ALARM_ARN_PREFIX}{hot}")', "ALARM"),
    }
    for tag, (rule, _) in cases.items():
        cw.put_composite_alarm(AlarmName=f"{p}-c-{tag}", AlarmRule=rule)
    for tag, (rule, want) in cases.items():
        wait_state(cw, f"{p}-c-{tag}", want, timeout=5)
    # a composite of composites
    cw.put_composite_alarm(AlarmName=f"{p}-top", AlarmRule=f"ALARM({p}-c-or) AND OK({p}-c-and)")
    wait_state(cw, f"{p}-top", "ALARM", timeout=5)
    resp = cw.describe_alarms(ChildrenOfAlarmName=f"{p}-top", AlarmTypes=ALL_TYPES)
    assert names_of(resp, "CompositeAlarms") == sorted([f"{p}-c-or", f"{p}-c-and"])
    resp = cw.describe_alarms(ParentsOfAlarmName=hot)
    assert [a["AlarmName"] for a in resp["CompositeAlarms"]] == sorted(
        f"{p}-c-{t}" for t, (rule, _) in cases.items() if hot in rule
    )


def test_forced_composite_state_lasts_until_a_child_or_the_rule_changes(cw, protocol):
    ns = unique_namespace(f"force-{protocol}")
    p = unique_name(f"force-{protocol}")
    base, middle, top = f"{p}-base", f"{p}-middle", f"{p}-top"
    put_alarm(cw, base, ns, TreatMissingData="notBreaching")
    wait_state(cw, base, "OK")
    cw.put_composite_alarm(AlarmName=middle, AlarmRule=f"OK({base})")
    cw.put_composite_alarm(AlarmName=top, AlarmRule=f"NOT INSUFFICIENT_DATA({middle})")
    wait_state(cw, middle, "ALARM")
    wait_state(cw, top, "ALARM")

    cw.set_alarm_state(AlarmName=top, StateValue="OK", StateReason="maintenance")
    settle()
    a = one(cw, top)
    assert (a["StateValue"], a["StateReason"]) == ("OK", "maintenance")

    # an update of its configuration evaluates it again
    cw.put_composite_alarm(AlarmName=top, AlarmRule=f"NOT INSUFFICIENT_DATA({middle})", AlarmDescription="v2")
    wait_state(cw, top, "ALARM")

    # so does a change of a child (the rule stays true)
    cw.set_alarm_state(AlarmName=top, StateValue="OK", StateReason="maintenance")
    assert one(cw, top)["StateValue"] == "OK"
    cw.set_alarm_state(AlarmName=middle, StateValue="OK", StateReason="forced child")
    wait_state(cw, top, "ALARM")
    assert one(cw, middle)["StateReason"] == "forced child"
    assert summaries(history(cw, top, HistoryItemType="StateUpdate")) == [
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
    ]


@pytest.mark.parametrize(
    "rule",
    [
        "ALARM({missing})",
        "ALARM({c1}) AND OK({missing})",
        "ALARM({c1}",
        "ALARM({c1}) AND",
        "MAYBE({c1})",
        "ALARM({c1}) XOR ALARM({c1})",
        "alarm({c1})",
        "()",
        "ALARM({self})",
    ],
    ids=["missing", "missing-second", "unclosed", "dangling-and", "bad-function", "bad-operator", "lowercase", "empty-parens", "self"],
)
def test_bad_composite_rules_change_nothing(cw, protocol, rule):
    ns = unique_namespace(f"badr-{protocol}")
    p = unique_name(f"badr-{protocol}")
    c1, comp, new = f"{p}-c1", f"{p}-comp", f"{p}-new"
    put_alarm(cw, c1, ns)
    cw.put_composite_alarm(AlarmName=comp, AlarmRule=f"ALARM({c1})")
    wait_state(cw, comp, "OK")
    before = snapshot(cw, [c1, comp, new])
    for target in (new, comp):
        text = rule.format(missing=unique_name("missing"), c1=c1, self=target)
        expect_error(
            lambda: cw.put_composite_alarm(AlarmName=target, AlarmRule=text),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )
    assert snapshot(cw, [c1, comp, new]) == before


def test_composite_cycles_and_bad_actions_are_refused(cw, protocol):
    ns = unique_namespace(f"cyc-{protocol}")
    p = unique_name(f"cyc-{protocol}")
    c1, a, b, c = f"{p}-c1", f"{p}-a", f"{p}-b", f"{p}-c"
    put_alarm(cw, c1, ns)
    cw.put_composite_alarm(AlarmName=a, AlarmRule=f"ALARM({c1})")
    cw.put_composite_alarm(AlarmName=b, AlarmRule=f"ALARM({a})")
    cw.put_composite_alarm(AlarmName=c, AlarmRule=f"OK({b}) OR ALARM({c1})")
    for n in (a, b, c):
        wait_state(cw, n, "OK" if n != c else "ALARM")
    before = snapshot(cw, [c1, a, b, c])
    for name, rule in ((a, f"ALARM({b})"), (a, f"ALARM({c1}) OR ALARM({c})"), (b, f"ALARM({c})")):
        expect_error(
            lambda: cw.put_composite_alarm(AlarmName=name, AlarmRule=rule),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )
    for bad_action in (TOPIC_ARN_PREFIX + unique_name("no-topic"), "arn:modelwatch:hook:undeclared", "not-an-arn"):
        expect_error(
            lambda: cw.put_composite_alarm(AlarmName=a, AlarmRule=f"ALARM({c1})", AlarmActions=[bad_action]),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )
        expect_error(
            lambda: cw.put_composite_alarm(AlarmName=f"{p}-new", AlarmRule=f"ALARM({c1})", OKActions=[bad_action]),
            cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
        )
    assert snapshot(cw, [c1, a, b, c]) == before
    assert describe(cw, [f"{p}-new"]) == {} and history(cw, f"{p}-new") == []


# ---------------------------------------------------------------------------------------
# rejected PutMetricAlarm requests
# ---------------------------------------------------------------------------------------

VALUE = ("InvalidParameterValueException", "InvalidParameterValue")
COMBINATION = ("InvalidParameterCombinationException", "InvalidParameterCombination")
MISSING = ("MissingRequiredParameterException", "MissingParameter")
SINGLE_METRIC = {"MetricName": None, "Namespace": None, "Statistic": None, "Period": None}

BAD_DEFINITIONS = {
    # id: (changes to a valid single-metric request, (exception shape, code)); "MATH" is replaced
    # by a valid Metrics list, "MATH2" by one with two ReturnData=true entries
    "period-15": ({"Period": 15}, VALUE),
    "period-45": ({"Period": 45}, VALUE),
    "period-90": ({"Period": 90}, VALUE),
    "unknown-operator": ({"ComparisonOperator": "GreaterThan"}, VALUE),
    "unknown-statistic": ({"Statistic": "Median"}, VALUE),
    "unknown-treat-missing": ({"TreatMissingData": "sometimes"}, VALUE),
    "m-greater-than-n": ({"EvaluationPeriods": 2, "DatapointsToAlarm": 3}, COMBINATION),
    "statistic-and-extended": ({"ExtendedStatistic": "p99"}, COMBINATION),
    "metrics-and-metric-name": ({**SINGLE_METRIC, "Metrics": "MATH", "MetricName": "Latency"}, COMBINATION),
    "metrics-and-statistic": ({**SINGLE_METRIC, "Metrics": "MATH", "Statistic": "Average"}, COMBINATION),
    "metrics-and-period": ({**SINGLE_METRIC, "Metrics": "MATH", "Period": 60}, COMBINATION),
    "two-return-data": ({**SINGLE_METRIC, "Metrics": "MATH2"}, VALUE),
    "missing-evaluation-periods": ({"EvaluationPeriods": None}, MISSING),
    "missing-threshold": ({"Threshold": None}, MISSING),
    "missing-operator": ({"ComparisonOperator": None}, MISSING),
    "unknown-topic": ({"AlarmActions": [TOPIC_ARN_PREFIX + "no-such-topic"]}, VALUE),
    "topic-elsewhere": ({"OKActions": ["arn:aws:sns:eu-west-1:123456789012:oncall"]}, VALUE),
    "undeclared-hook": ({"InsufficientDataActions": ["arn:modelwatch:hook:undeclared"]}, VALUE),
    "lambda-action": ({"AlarmActions": ["arn:aws:lambda:us-east-1:123456789012:function:f"]}, VALUE),
}


@pytest.mark.parametrize("case", list(BAD_DEFINITIONS), ids=list(BAD_DEFINITIONS))
def test_bad_metric_alarm_definitions_change_nothing(cw_unvalidated, protocol, case):
    cw = cw_unvalidated
    changes, (exc_name, code) = BAD_DEFINITIONS[case]
    ns = unique_namespace(f"bad-{protocol}")
    existing, new = unique_name(f"bad-old-{protocol}"), unique_name(f"bad-new-{protocol}")
    put_alarm(cw, existing, ns, TreatMissingData="notBreaching")
    wait_state(cw, existing, "OK")
    before = snapshot(cw, [existing, new])

    changes = dict(changes)
    if changes.get("Metrics") in ("MATH", "MATH2"):
        changes["Metrics"] = math_metrics(ns, second_return=changes["Metrics"] == "MATH2")
    for name in (new, existing):
        kw = alarm_kwargs(name, ns, **{"TreatMissingData": "notBreaching", **changes})
        expect_error(lambda: cw.put_metric_alarm(**kw), getattr(cw.exceptions, exc_name), code)
    assert snapshot(cw, [existing, new]) == before


def test_topic_action_of_this_server_is_accepted(cw, protocol, topic_arn):
    ns = unique_namespace(f"okact-{protocol}")
    name = unique_name(f"okact-{protocol}")
    put_alarm(cw, name, ns, AlarmActions=[topic_arn], OKActions=[topic_arn], InsufficientDataActions=[topic_arn])
    a = one(cw, name)
    assert a["AlarmActions"] == a["OKActions"] == a["InsufficientDataActions"] == [topic_arn]


# ---------------------------------------------------------------------------------------
# the native action-target API
# ---------------------------------------------------------------------------------------


def test_topics_and_subscriptions_api(shared_server):
    port = shared_server.port
    name = unique_name("oncall")
    status, doc = native_request(port, "POST", "/api/v1/topics", {"name": name})
    assert status == 200 and doc == {"name": name, "arn": TOPIC_ARN_PREFIX + name}
    assert native_request(port, "POST", "/api/v1/topics", {"name": name}) == (200, doc), "creating a topic is idempotent"
    status, doc = native_request(port, "GET", "/api/v1/topics")
    assert status == 200 and {"name": name, "arn": TOPIC_ARN_PREFIX + name} in doc["topics"]

    url = "http://127.0.0.1:9/alarm"
    status, sub = native_request(port, "POST", f"/api/v1/topics/{name}/subscriptions", {"protocol": "http", "endpoint": url})
    assert status == 200 and sub["arn"].startswith(TOPIC_ARN_PREFIX + name + ":")
    status, doc = native_request(port, "GET", f"/api/v1/topics/{name}/subscriptions")
    assert status == 200 and [(s["arn"], s["protocol"], s["endpoint"]) for s in doc["subscriptions"]] == [(sub["arn"], "http", url)]

    def error(status_want, method, path, body=None):
        status, doc = native_request(port, method, path, body)
        assert status == status_want, (method, path, status, doc)
        assert set(doc["error"]) == {"code", "message"} and doc["error"]["message"], doc
        return doc["error"]["code"]

    error(400, "POST", "/api/v1/topics", {"name": "bad name!"})
    error(400, "POST", "/api/v1/topics", b"{not json")
    error(400, "POST", f"/api/v1/topics/{name}/subscriptions", {"protocol": "sqs", "endpoint": url})
    error(400, "POST", f"/api/v1/topics/{name}/subscriptions", {"protocol": "http", "endpoint": "ftp://x/y"})
    error(404, "POST", f"/api/v1/topics/{unique_name('none')}/subscriptions", {"protocol": "http", "endpoint": url})
    error(404, "GET", f"/api/v1/topics/{unique_name('none')}/subscriptions")
    error(400, "GET", "/api/v1/deliveries?limit=0")

    from urllib.parse import quote

    status, _ = native_request(port, "DELETE", f"/api/v1/subscriptions/{quote(sub['arn'], safe='')}")
    assert status == 200
    assert native_request(port, "GET", f"/api/v1/topics/{name}/subscriptions")[1]["subscriptions"] == []
    error(404, "DELETE", f"/api/v1/subscriptions/{quote(sub['arn'], safe='')}")
    assert native_request(port, "DELETE", f"/api/v1/topics/{name}")[0] == 200
    assert {"name": name, "arn": TOPIC_ARN_PREFIX + name} not in native_request(port, "GET", "/api/v1/topics")[1]["topics"]


def test_hooks_come_only_from_the_config_file(shared_server, cw, protocol):
    port = shared_server.port
    assert native_request(port, "GET", "/api/v1/hooks") == (200, {"hooks": []})
    for body in ({"name": "evil", "command": ["/bin/sh", "-c", "true"]}, {"name": "evil", "url": "http://127.0.0.1:9/"}):
        status, _ = native_request(port, "POST", "/api/v1/hooks", body)
        assert status == 405, status
    assert native_request(port, "GET", "/api/v1/hooks") == (200, {"hooks": []})
    name = unique_name(f"hook-{protocol}")
    expect_error(
        lambda: put_alarm(cw, name, unique_namespace("hook"), AlarmActions=["arn:modelwatch:hook:evil"]),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    assert describe(cw, [name]) == {}


def test_deleted_topic_is_no_longer_a_valid_action(cw, protocol, shared_server):
    topic = unique_name("gone")
    arn = create_topic(shared_server.port, topic)
    assert native_request(shared_server.port, "DELETE", f"/api/v1/topics/{topic}")[0] == 200
    name = unique_name(f"gone-{protocol}")
    expect_error(
        lambda: put_alarm(cw, name, unique_namespace("gone"), AlarmActions=[arn]),
        cw.exceptions.InvalidParameterValueException, "InvalidParameterValue",
    )
    assert describe(cw, [name]) == {}
