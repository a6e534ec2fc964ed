"""Durability: acknowledged writes survive kill -9 and graceful restarts.

Each test starts its own server on its own data directory, writes, stops the
process (SIGKILL or SIGTERM), starts a new one on the same directory, and
checks that every acknowledged write is there, exactly.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from support import aligned, datapoints_by_time, dt, list_all_metrics, unique_namespace

N_CALLS = 200


def window(t0, period):
    return dict(StartTime=dt(t0), EndTime=dt(t0 + period), Period=period)


def totals(client, ns, metric, t0, period, dims=None, extended=None):
    kw = dict(Namespace=ns, MetricName=metric, Statistics=["SampleCount", "Sum", "Minimum", "Maximum"], **window(t0, period))
    if dims:
        kw["Dimensions"] = dims
    if extended:
        kw["ExtendedStatistics"] = extended
    dps = datapoints_by_time(client.get_metric_statistics(**kw))
    return dps.get(t0)


def write_calls(client, ns, t0, n, offset=0):
    """n acknowledged PutMetricData calls with distinct values, spread over 10 minutes from t0."""
    values = []
    for i in range(offset, offset + n):
        v = 1000.0 + i * 1.25
        resp = client.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": "Acked", "Value": v, "Timestamp": dt(t0 + (i * 7) % 600)}]
        )
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        values.append(v)
    return values


def assert_all_there(client, ns, t0, values):
    dp = totals(client, ns, "Acked", t0, 600)
    assert dp is not None, "no data at all after restart"
    assert dp["SampleCount"] == len(values), f"{len(values)} acknowledged writes, {dp['SampleCount']} after restart"
    assert math.isclose(dp["Sum"], math.fsum(values), rel_tol=1e-12)
    assert dp["Minimum"] == min(values) and dp["Maximum"] == max(values)


def test_acknowledged_writes_survive_kill_9(server, tmp_path):
    s = server(data_dir=tmp_path / "data")
    c = s.client("json")
    ns = unique_namespace("dur-kill")
    t0 = aligned(1800, 600)
    values = write_calls(c, ns, t0, N_CALLS)
    assert_all_there(c, ns, t0, values)

    s.kill9()
    s.start()
    c = s.client("json")
    assert_all_there(c, ns, t0, values)
    assert [m["MetricName"] for m in list_all_metrics(c, Namespace=ns)] == ["Acked"]


def test_writes_after_a_crash_recovery_survive_another_kill_9(server, tmp_path):
    s = server(data_dir=tmp_path / "data")
    ns = unique_namespace("dur-twice")
    t0 = aligned(1800, 600)
    values = write_calls(s.client("json"), ns, t0, 100)
    s.kill9()
    s.start()
    values += write_calls(s.client("cbor"), ns, t0, 100, offset=100)
    s.kill9()
    s.start()
    values += write_calls(s.client("query"), ns, t0, 50, offset=200)
    s.kill9()
    s.start()
    assert_all_there(s.client("json"), ns, t0, values)


def test_graceful_shutdown_exits_cleanly_and_keeps_everything(server, tmp_path):
    s = server(data_dir=tmp_path / "data")
    c = s.client("json")
    ns = unique_namespace("dur-term")
    t0 = aligned(1800, 600)
    values = write_calls(c, ns, t0, N_CALLS)
    rc = s.terminate()
    assert rc == 0, f"exit code {rc} after SIGTERM"
    s.start()
    assert_all_there(s.client("json"), ns, t0, values)


def test_distributions_survive_kill_9(server, tmp_path):
    """Values/Counts data keeps its percentiles across a crash."""
    s = server(data_dir=tmp_path / "data")
    c = s.client("json")
    ns = unique_namespace("dur-dist")
    t0 = aligned(1800)
    values = [float(v) for v in range(1, 301)]
    for i in range(0, 300, 100):
        c.put_metric_data(
            Namespace=ns,
            MetricData=[{"MetricName": "Lat", "Values": values[i : i + 100], "Counts": [2.0] * 100, "Timestamp": dt(t0)}],
        )
    before = totals(c, ns, "Lat", t0, 60, extended=["p50", "p90"])
    s.kill9()
    s.start()
    after = totals(s.client("json"), ns, "Lat", t0, 60, extended=["p50", "p90"])
    assert after["SampleCount"] == 600 and after["Sum"] == 2 * math.fsum(values)
    for p in ("p50", "p90"):
        expected = float(np.percentile(np.repeat(values, 2), float(p[1:])))
        assert math.isclose(after["ExtendedStatistics"][p], expected, rel_tol=0.01), (p, after, expected)
        assert math.isclose(after["ExtendedStatistics"][p], before["ExtendedStatistics"][p], rel_tol=0.01)


@pytest.mark.parametrize("graceful", [False, True], ids=["kill9", "sigterm"])
def test_old_and_high_resolution_data_survive_restart(server, tmp_path, graceful):
    """Data hours and days old (already past any in-memory head) and 1-second data."""
    s = server(data_dir=tmp_path / "data")
    c = s.client("json")
    ns = unique_namespace("dur-old")
    ages = {"2h": 2 * 3600, "1d": 86400, "10d": 10 * 86400, "13d": 13 * 86400, "5min": 300}
    stamps = {name: aligned(age) for name, age in ages.items()}
    c.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": f"Age{name}", "Value": float(age), "Timestamp": dt(stamps[name])} for name, age in ages.items()],
    )
    hi_t0 = aligned(900)
    c.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Hi", "Value": float(i + 1), "Timestamp": dt(hi_t0 + i), "StorageResolution": 1} for i in range(20)
        ],
    )
    s.restart(graceful=graceful)
    c = s.client("json")
    for name, age in ages.items():
        dp = totals(c, ns, f"Age{name}", stamps[name], 60)
        assert dp is not None, f"data {name} old lost in the restart"
        assert dp["SampleCount"] == 1 and dp["Sum"] == float(age)
    resp = c.get_metric_statistics(Namespace=ns, MetricName="Hi", Statistics=["Sum"], **window(hi_t0, 60) | {"Period": 1})
    got = {int(round(d["Timestamp"].timestamp())) - hi_t0: d["Sum"] for d in resp["Datapoints"]}
    assert got == {i: float(i + 1) for i in range(20)}, "1-second data after restart"
    assert len(list_all_metrics(c, Namespace=ns)) == len(ages) + 1


def test_writes_on_both_sides_of_a_checkpoint_survive_kill_9(server, tmp_path):
    """Writes, lets background checkpoints run, writes more, crashes.

    MODELWATCH_CHECKPOINT_SECS=1 makes the server checkpoint every second (a
    server without that setting ignores it and the test still checks recovery).
    """
    s = server(data_dir=tmp_path / "data", env={"MODELWATCH_CHECKPOINT_SECS": "1"})
    c = s.client("json")
    ns = unique_namespace("dur-ckpt")
    t0 = aligned(1800, 600)
    values = write_calls(c, ns, t0, 50)
    time.sleep(2.5)
    values += write_calls(c, ns, t0, 50, offset=50)
    time.sleep(1.5)
    values += write_calls(c, ns, t0, 10, offset=100)
    s.kill9()
    s.start()
    c = s.client("json")
    assert_all_there(c, ns, t0, values)
    # and the recovered store keeps accepting and persisting writes
    values += write_calls(c, ns, t0, 10, offset=110)
    s.kill9()
    s.start()
    assert_all_there(s.client("json"), ns, t0, values)
