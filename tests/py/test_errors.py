"""Errors: typed exceptions in all three protocols, and malformed raw requests.

A rejected PutMetricData must store nothing, not even the valid datums of the
same request; a malformed request must get a 4XX in its protocol's error shape
and leave the server running with its data unchanged.
"""

from __future__ import annotations

import gzip
import math

import pytest
from botocore.exceptions import ClientError

from support import (
    aligned,
    assert_client_used_protocol,
    cbor_encode,
    datapoints_by_time,
    dt,
    list_all_metrics,
    make_client,
    metric_key,
    now_s,
    parse_error,
    put_body,
    send,
    unique_namespace,
)

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


@pytest.fixture
def cw_unvalidated(shared_server, protocol):
    """A client that sends what it is given (botocore's own parameter checks off)."""
    client = make_client(protocol, shared_server.endpoint, validate=False)
    yield client
    assert_client_used_protocol(client)


class Baseline:
    """A namespace holding one known datum, and a snapshot of what is stored."""

    def __init__(self, cw, protocol):
        self.cw = cw
        self.ns = unique_namespace(f"err-{protocol}")
        self.t0 = aligned(1800)
        cw.put_metric_data(Namespace=self.ns, MetricData=[{"MetricName": "Base", "Value": 5.0, "Timestamp": dt(self.t0)}])
        self.snapshot = self.state()

    def state(self):
        metrics = sorted(map(metric_key, list_all_metrics(self.cw, Namespace=self.ns)), key=repr)
        resp = self.cw.get_metric_statistics(
            Namespace=self.ns,
            MetricName="Base",
            StartTime=dt(self.t0 - 3600),
            EndTime=dt(self.t0 + 3600),
            Period=60,
            Statistics=["SampleCount", "Sum"],
        )
        points = sorted((int(round(d["Timestamp"].timestamp())), d["SampleCount"], d["Sum"]) for d in resp["Datapoints"])
        good = self.cw.get_metric_statistics(
            Namespace=self.ns,
            MetricName="Good",
            StartTime=dt(self.t0 - 3600),
            EndTime=dt(self.t0 + 3600),
            Period=60,
            Statistics=["SampleCount"],
        )["Datapoints"]
        return metrics, points, good

    def good_datum(self):
        return {"MetricName": "Good", "Value": 1.0, "Timestamp": dt(self.t0)}

    def assert_unchanged(self):
        assert self.state() == self.snapshot, "a rejected request changed what is stored"


@pytest.fixture
def base(cw, protocol):
    return Baseline(cw, protocol)


def expect_error(call, exc_type, code: str, status: int = 400):
    with pytest.raises(exc_type) as ei:
        call()
    resp = ei.value.response
    assert resp["Error"]["Code"] == code, resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status
    return ei.value


def put_rejected(cw, base: Baseline, bad_datum: dict, exc_name: str, code: str, client=None):
    client = client or cw
    exc_type = getattr(client.exceptions, exc_name)
    expect_error(
        lambda: client.put_metric_data(Namespace=base.ns, MetricData=[base.good_datum(), bad_datum]),
        exc_type,
        code,
    )
    base.assert_unchanged()


# ---------------------------------------------------------------------------------------
# PutMetricData validation (typed exceptions, nothing stored)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_value_is_invalid_parameter_value(cw, base, value):
    put_rejected(cw, base, {"MetricName": "Bad", "Value": value, "Timestamp": dt(base.t0)}, "InvalidParameterValueException", "InvalidParameterValue")


def test_non_finite_value_in_values_list_is_invalid_parameter_value(cw, base):
    put_rejected(
        cw, base, {"MetricName": "Bad", "Values": [1.0, math.nan], "Counts": [1.0, 1.0], "Timestamp": dt(base.t0)},
        "InvalidParameterValueException", "InvalidParameterValue",
    )


def test_thirty_one_dimensions_are_rejected(cw, base):
    dims = [{"Name": f"D{i}", "Value": "v"} for i in range(31)]
    put_rejected(cw, base, {"MetricName": "Bad", "Dimensions": dims, "Value": 1.0, "Timestamp": dt(base.t0)}, "InvalidParameterValueException", "InvalidParameterValue")


def test_thirty_dimensions_are_accepted(cw, base):
    dims = [{"Name": f"D{i}", "Value": "v"} for i in range(30)]
    cw.put_metric_data(Namespace=base.ns, MetricData=[{"MetricName": "Wide", "Dimensions": dims, "Value": 1.0, "Timestamp": dt(base.t0)}])
    resp = cw.get_metric_statistics(
        Namespace=base.ns, MetricName="Wide", Dimensions=dims, StartTime=dt(base.t0), EndTime=dt(base.t0 + 60), Period=60, Statistics=["Sum"]
    )
    assert [d["Sum"] for d in resp["Datapoints"]] == [1.0]


def test_aws_namespace_is_rejected(cw, protocol):
    ns = "AWS/" + unique_namespace(f"aws-{protocol}").replace("/", "")
    expect_error(
        lambda: cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Value": 1.0}]),
        cw.exceptions.InvalidParameterValueException,
        "InvalidParameterValue",
    )
    assert list_all_metrics(cw, Namespace=ns) == []


@pytest.mark.parametrize("offset_s", [-15 * 86400, 3 * 3600], ids=["15-days-old", "3h-future"])
def test_timestamp_outside_window_is_rejected(cw, base, offset_s):
    put_rejected(cw, base, {"MetricName": "Bad", "Value": 1.0, "Timestamp": dt(now_s() + offset_s)}, "InvalidParameterValueException", "InvalidParameterValue")


@pytest.mark.parametrize("offset_s", [-13 * 86400, 3600], ids=["13-days-old", "1h-future"])
def test_timestamp_inside_window_is_accepted(cw, base, offset_s):
    t = aligned(-offset_s)
    cw.put_metric_data(Namespace=base.ns, MetricData=[{"MetricName": "Edge", "Value": 4.0, "Timestamp": dt(t)}])
    resp = cw.get_metric_statistics(
        Namespace=base.ns, MetricName="Edge", StartTime=dt(t), EndTime=dt(t + 60), Period=60, Statistics=["Sum"]
    )
    assert [d["Sum"] for d in resp["Datapoints"]] == [4.0]


def test_value_with_statistic_values_is_invalid_combination(cw, base):
    put_rejected(
        cw, base,
        {"MetricName": "Bad", "Value": 1.0, "StatisticValues": {"SampleCount": 1, "Sum": 1.0, "Minimum": 1.0, "Maximum": 1.0}, "Timestamp": dt(base.t0)},
        "InvalidParameterCombinationException", "InvalidParameterCombination",
    )


def test_value_with_values_is_invalid_parameter_value(cw, base):
    put_rejected(
        cw, base, {"MetricName": "Bad", "Value": 1.0, "Values": [1.0, 2.0], "Timestamp": dt(base.t0)},
        "InvalidParameterValueException", "InvalidParameterValue",
    )


def test_values_and_counts_of_different_sizes_are_rejected(cw, base):
    put_rejected(
        cw, base, {"MetricName": "Bad", "Values": [1.0, 2.0, 3.0], "Counts": [1.0, 2.0], "Timestamp": dt(base.t0)},
        "InvalidParameterValueException", "InvalidParameterValue",
    )


def test_more_than_150_distinct_values_are_rejected(cw, base):
    put_rejected(
        cw, base, {"MetricName": "Bad", "Values": [float(i) for i in range(151)], "Timestamp": dt(base.t0)},
        "InvalidParameterValueException", "InvalidParameterValue",
    )


def test_storage_resolution_other_than_1_or_60_is_rejected(cw, base):
    put_rejected(
        cw, base, {"MetricName": "Bad", "Value": 1.0, "StorageResolution": 30, "Timestamp": dt(base.t0)},
        "InvalidParameterValueException", "InvalidParameterValue",
    )


def test_statistic_values_missing_a_member_is_missing_parameter(cw, cw_unvalidated, base):
    put_rejected(
        cw, base,
        {"MetricName": "Bad", "StatisticValues": {"SampleCount": 2, "Minimum": 1.0, "Maximum": 2.0}, "Timestamp": dt(base.t0)},
        "MissingRequiredParameterException", "MissingParameter", client=cw_unvalidated,
    )


def test_datum_without_metric_name_is_missing_parameter(cw, cw_unvalidated, base):
    put_rejected(
        cw, base, {"Value": 1.0, "Timestamp": dt(base.t0)},
        "MissingRequiredParameterException", "MissingParameter", client=cw_unvalidated,
    )


def test_put_without_namespace_is_missing_parameter(cw_unvalidated):
    c = cw_unvalidated
    expect_error(
        lambda: c.put_metric_data(MetricData=[{"MetricName": "M", "Value": 1.0}]),
        c.exceptions.MissingRequiredParameterException,
        "MissingParameter",
    )


# ---------------------------------------------------------------------------------------
# query validation
# ---------------------------------------------------------------------------------------


def gms(client, base, **over):
    kw = dict(
        Namespace=base.ns, MetricName="Base", StartTime=dt(base.t0), EndTime=dt(base.t0 + 60), Period=60, Statistics=["Sum"]
    )
    kw.update(over)
    kw = {k: v for k, v in kw.items() if v is not None}
    return client.get_metric_statistics(**kw)


def test_statistics_control_query_succeeds(cw, base):
    assert [d["Sum"] for d in gms(cw, base)["Datapoints"]] == [5.0]


@pytest.mark.parametrize(
    "over",
    [
        {"Statistics": ["Median"]},
        {"Statistics": None, "ExtendedStatistics": ["p101"]},
        {"Statistics": None, "ExtendedStatistics": ["pfoo"]},
        {"Statistics": None, "ExtendedStatistics": ["TM(90%:10%)"]},
    ],
    ids=["Median", "p101", "pfoo", "TM-reversed"],
)
def test_bad_statistic_name_is_invalid_parameter_value(cw, base, over):
    expect_error(lambda: gms(cw, base, **over), cw.exceptions.InvalidParameterValueException, "InvalidParameterValue")


@pytest.mark.parametrize("end_offset", [0, -60], ids=["equal", "before"])
def test_start_not_before_end_is_invalid_parameter_value(cw, base, end_offset):
    expect_error(
        lambda: gms(cw, base, EndTime=dt(base.t0 + end_offset)), cw.exceptions.InvalidParameterValueException, "InvalidParameterValue"
    )


@pytest.mark.parametrize("period", [7, 90, 45], ids=str)
def test_bad_period_is_invalid_parameter_value(cw, base, period):
    expect_error(
        lambda: gms(cw, base, Period=period, EndTime=dt(base.t0 + 180)),
        cw.exceptions.InvalidParameterValueException,
        "InvalidParameterValue",
    )


def test_statistics_without_metric_name_is_missing_parameter(cw_unvalidated, base):
    c = cw_unvalidated
    expect_error(lambda: gms(c, base, MetricName=None), c.exceptions.MissingRequiredParameterException, "MissingParameter")


def test_get_metric_data_with_start_not_before_end_is_rejected(cw, base):
    with pytest.raises(ClientError) as ei:
        cw.get_metric_data(
            MetricDataQueries=[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": base.ns, "MetricName": "Base"}, "Period": 60, "Stat": "Sum"}}],
            StartTime=dt(base.t0 + 60),
            EndTime=dt(base.t0),
        )
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ei.value.response["Error"]["Code"] in ("ValidationError", "InvalidParameterValue")


@pytest.mark.parametrize(
    "query",
    [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Median"}},
        {"Id": "M1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}},
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 7, "Stat": "Sum"}},
    ],
    ids=["bad-stat", "bad-id", "bad-period"],
)
def test_get_metric_data_bad_query_is_rejected(cw, base, query):
    with pytest.raises(ClientError) as ei:
        cw.get_metric_data(MetricDataQueries=[query], StartTime=dt(base.t0), EndTime=dt(base.t0 + 600))
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ei.value.response["Error"]["Code"] in ("ValidationError", "InvalidParameterValue")


def test_get_metric_data_bad_next_token_is_invalid_next_token(cw, base):
    expect_error(
        lambda: cw.get_metric_data(
            MetricDataQueries=[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": base.ns, "MetricName": "Base"}, "Period": 60, "Stat": "Sum"}}],
            StartTime=dt(base.t0),
            EndTime=dt(base.t0 + 60),
            NextToken="garbage-token",
        ),
        cw.exceptions.InvalidNextToken,
        "InvalidNextToken",
    )


# ---------------------------------------------------------------------------------------
# raw malformed requests
# ---------------------------------------------------------------------------------------


class RawCheck:
    """Checks a raw response is a 4XX in the protocol's error shape and the server is fine."""

    def __init__(self, server, cw, protocol):
        self.server, self.cw, self.protocol = server, cw, protocol
        self.base = Baseline(cw, protocol)

    def body(self, value=1.0, ts=None, datums=1, pad_per_datum=0, compressible=True):
        ts = self.base.t0 if ts is None else ts
        return put_body(self.protocol, self.base.ns, "Good", value, ts, datums, pad_per_datum, compressible)

    def expect_error(self, resp, statuses=(400,), code=None):
        assert resp.status in statuses, f"HTTP {resp.status} (wanted {statuses}): {resp.body[:300]!r}"
        err = parse_error(self.protocol, resp)
        assert err.code not in ("InternalServiceError", "InternalFailure", "InternalServiceFault"), err
        if err.shape is not None:
            assert "Internal" not in err.shape, err
        if code is not None:
            assert err.code == code or err.shape == code, err
        assert self.server.healthz() == 200, "server no longer healthy"
        self.base.assert_unchanged()
        return err


@pytest.fixture
def raw(shared_server, cw, protocol):
    return RawCheck(shared_server, cw, protocol)


def test_hand_made_valid_request_is_accepted(raw, protocol, shared_server, cw):
    """Control for the raw tests below: the same builders, well-formed, store data."""
    resp = send(protocol, shared_server.port, "PutMetricData", raw.body(value=2.5))
    assert resp.status == 200, resp.body[:300]
    pts = datapoints_by_time(
        cw.get_metric_statistics(
            Namespace=raw.base.ns, MetricName="Good", StartTime=dt(raw.base.t0), EndTime=dt(raw.base.t0 + 60), Period=60, Statistics=["Sum"]
        )
    )
    assert pts[raw.base.t0]["Sum"] == 2.5


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_validation_error_wire_shape(raw, protocol, shared_server, value):
    """The exact error shape of section 1.6: shape name in __type, query code in the header / XML."""
    if protocol == "json":
        body = put_body("json", raw.base.ns, "Good", value, raw.base.t0)  # botocore sends NaN as a string
    elif protocol == "cbor":
        body = put_body("cbor", raw.base.ns, "Good", float(value.lower()), raw.base.t0)
    else:
        body = put_body("query", raw.base.ns, "Good", value, raw.base.t0)
    resp = send(protocol, shared_server.port, "PutMetricData", body)
    err = raw.expect_error(resp)
    assert err.code == "InvalidParameterValue", err
    if protocol == "query":
        assert b"<Type>Sender</Type>" in resp.body
    else:
        assert err.shape == "InvalidParameterValueException", err
        assert resp.header("x-amzn-query-error") == "InvalidParameterValue;Sender"
    assert err.message, "errors carry a message"


def test_body_just_under_1_mb_is_accepted(raw, protocol, shared_server, cw):
    """Control for the size limit: a valid body a little under 1 MB is stored."""
    pad = 1000
    body = raw.body(datums=1000, pad_per_datum=pad)
    while len(body) > 990_000:
        pad -= 25
        body = raw.body(datums=1000, pad_per_datum=pad)
    assert len(body) > 900_000
    resp = send(protocol, shared_server.port, "PutMetricData", body)
    assert resp.status == 200, resp.body[:300]
    metrics = [m for m in list_all_metrics(cw, Namespace=raw.base.ns) if m["MetricName"] == "Good"]
    assert len(metrics) == 1
    dp = datapoints_by_time(
        cw.get_metric_statistics(
            Namespace=raw.base.ns,
            MetricName="Good",
            Dimensions=metrics[0]["Dimensions"],
            StartTime=dt(raw.base.t0),
            EndTime=dt(raw.base.t0 + 60),
            Period=60,
            Statistics=["SampleCount"],
        )
    )[raw.base.t0]
    assert dp["SampleCount"] == 1000


def malformed(raw) -> bytes:
    """A body the protocol's decoder must refuse; were it read leniently it would store a datum."""
    good = raw.body()
    if raw.protocol == "json":
        return good[:-3]  # unterminated JSON
    if raw.protocol == "cbor":
        return b"\xff\xfe\xfd" + good  # break codes where an item must start
    return good.replace(b"Action=PutMetricData&", b"")  # form body without Action


def test_malformed_body_is_rejected_in_protocol_shape(raw, protocol, shared_server):
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", malformed(raw)))


@pytest.mark.parametrize("protocol", ["cbor"])
def test_truncated_cbor_is_rejected(raw, shared_server):
    body = raw.body()
    for cut in (1, len(body) // 2, len(body) - 1):
        raw.expect_error(send("cbor", shared_server.port, "PutMetricData", body[:cut]))


@pytest.mark.parametrize("protocol", ["cbor"])
def test_cbor_wrong_top_level_type_is_rejected(raw, shared_server):
    raw.expect_error(send("cbor", shared_server.port, "PutMetricData", cbor_encode(["Namespace", raw.base.ns])))


@pytest.mark.parametrize("what", ["value", "timestamp", "metric-data"])
def test_wrong_member_types_are_rejected(raw, protocol, shared_server, what):
    ns = raw.base.ns
    if what == "value":
        body = raw.body(value="abc")
    elif what == "timestamp":
        body = raw.body(ts="yesterday")
    else:
        if protocol == "json":
            body = b'{"Namespace": "%s", "MetricData": {"MetricName": "Good", "Value": 1}}' % ns.encode()
        elif protocol == "cbor":
            body = cbor_encode({"Namespace": ns, "MetricData": 42})
        else:
            body = f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}&MetricData.member.1.MetricName=Good&MetricData.member.1.Value=1&MetricData.member.1.StorageResolution=high".encode()
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", body))


def test_unknown_operation_is_rejected(raw, protocol, shared_server):
    if protocol == "query":
        body = b"Action=FrobnicateMetrics&Version=2010-08-01"
        err = raw.expect_error(send("query", shared_server.port, "FrobnicateMetrics", body), code="InvalidAction")
        assert err.code == "InvalidAction"
    else:
        body = b"{}" if protocol == "json" else b"\xa0"
        err = raw.expect_error(send(protocol, shared_server.port, "FrobnicateMetrics", body))
        assert err.shape == "UnknownOperationException", err


def test_garbage_gzip_is_rejected(raw, protocol, shared_server):
    raw.expect_error(
        send(protocol, shared_server.port, "PutMetricData", b"this is not gzip at all" * 10, {"Content-Encoding": "gzip"})
    )


def test_truncated_gzip_is_rejected(raw, protocol, shared_server):
    z = gzip.compress(raw.body())
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", z[: len(z) // 2], {"Content-Encoding": "gzip"}))


def test_oversize_body_is_rejected(raw, protocol, shared_server):
    # 1000 valid datums with long dimension values: only the size is wrong
    body = raw.body(datums=1000, pad_per_datum=2100)
    assert len(body) > 2 * 1024 * 1024
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", body), statuses=(400, 413))


def test_oversize_compressed_body_is_rejected(raw, protocol, shared_server):
    body = raw.body(datums=1000, pad_per_datum=2100, compressible=False)
    z = gzip.compress(body, compresslevel=1)
    assert len(z) > 1024 * 1024, "random dimension values do not shrink enough under gzip"
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", z, {"Content-Encoding": "gzip"}), statuses=(400, 413))


def test_gzip_body_expanding_past_10_mb_is_rejected(raw, protocol, shared_server):
    body = raw.body(datums=1000, pad_per_datum=11000)
    assert len(body) > 10 * 1024 * 1024
    z = gzip.compress(body)
    assert len(z) < 1024 * 1024, "the compressed body itself is under the 1 MB limit"
    raw.expect_error(send(protocol, shared_server.port, "PutMetricData", z, {"Content-Encoding": "gzip"}), statuses=(400, 413))


def test_empty_body_is_rejected(raw, protocol, shared_server):
    """An empty PutMetricData body lacks the required Namespace."""
    resp = send(protocol, shared_server.port, "PutMetricData", b"" if protocol != "query" else b"Action=PutMetricData&Version=2010-08-01")
    raw.expect_error(resp)
