"""ListMetrics: filters by Namespace, MetricName and Dimensions; RecentlyActive; pagination."""

from __future__ import annotations

import pytest

from support import aligned, dt, list_all_metrics, metric_key, unique_namespace


def key(ns, name, **dims):
    return (ns, name, frozenset(dims.items()))


@pytest.fixture(scope="module")
def _catalog():
    return {}


@pytest.fixture
def catalog(cw, protocol, _catalog):
    """Two namespaces of metrics, pushed once per protocol."""
    if protocol not in _catalog:
        ns1 = unique_namespace(f"lm1-{protocol}")
        ns2 = unique_namespace(f"lm2-{protocol}")
        t = dt(aligned(600))
        cw.put_metric_data(
            Namespace=ns1,
            MetricData=[
                {"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": 1.0, "Timestamp": t},
                {"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "b"}, {"Name": "Env", "Value": "prod"}], "Value": 1.0, "Timestamp": t},
                {"MetricName": "Mem", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": 1.0, "Timestamp": t},
                {"MetricName": "Disk", "Value": 1.0, "Timestamp": t},
                # a second datum for an existing metric adds no metric
                {"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": 2.0, "Timestamp": t},
            ],
        )
        cw.put_metric_data(
            Namespace=ns2,
            MetricData=[{"MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "a"}], "Value": 1.0, "Timestamp": t}],
        )
        _catalog[protocol] = (ns1, ns2)
    return _catalog[protocol]


def listed(cw, restrict_to=None, **kw):
    metrics = list_all_metrics(cw, **kw)
    keys = [metric_key(m) for m in metrics]
    assert len(keys) == len(set(keys)), f"a metric listed twice: {keys}"
    if restrict_to is not None:
        keys = [k for k in keys if k[0] in restrict_to]
    return set(keys)


def test_namespace_filter_lists_exactly_its_metrics(cw, catalog):
    ns1, ns2 = catalog
    assert listed(cw, Namespace=ns1) == {
        key(ns1, "CPU", Host="a"),
        key(ns1, "CPU", Host="b", Env="prod"),
        key(ns1, "Mem", Host="a"),
        key(ns1, "Disk"),
    }
    assert listed(cw, Namespace=ns2) == {key(ns2, "CPU", Host="a")}


def test_metric_name_filter(cw, catalog):
    ns1, ns2 = catalog
    assert listed(cw, Namespace=ns1, MetricName="CPU") == {key(ns1, "CPU", Host="a"), key(ns1, "CPU", Host="b", Env="prod")}
    # without a namespace: every namespace's CPU
    assert listed(cw, restrict_to={ns1, ns2}, MetricName="CPU") == {
        key(ns1, "CPU", Host="a"),
        key(ns1, "CPU", Host="b", Env="prod"),
        key(ns2, "CPU", Host="a"),
    }
    assert listed(cw, Namespace=ns1, MetricName="Nope") == set()


def test_dimension_filter_by_name_only(cw, catalog):
    ns1, _ = catalog
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Host"}]) == {
        key(ns1, "CPU", Host="a"),
        key(ns1, "CPU", Host="b", Env="prod"),
        key(ns1, "Mem", Host="a"),
    }


def test_dimension_filter_by_name_and_value(cw, catalog):
    ns1, ns2 = catalog
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Host", "Value": "a"}]) == {
        key(ns1, "CPU", Host="a"),
        key(ns1, "Mem", Host="a"),
    }
    assert listed(cw, restrict_to={ns1, ns2}, MetricName="CPU", Dimensions=[{"Name": "Host", "Value": "a"}]) == {
        key(ns1, "CPU", Host="a"),
        key(ns2, "CPU", Host="a"),
    }


def test_dimension_filter_allows_extra_dimensions(cw, catalog):
    ns1, _ = catalog
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Env", "Value": "prod"}]) == {key(ns1, "CPU", Host="b", Env="prod")}
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Env"}, {"Name": "Host", "Value": "b"}]) == {
        key(ns1, "CPU", Host="b", Env="prod")
    }


def test_dimension_filter_needs_every_listed_dimension(cw, catalog):
    ns1, _ = catalog
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Host", "Value": "a"}, {"Name": "Env"}]) == set()
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Host", "Value": "zzz"}]) == set()
    assert listed(cw, Namespace=ns1, Dimensions=[{"Name": "Region"}]) == set()


def test_recently_active_lists_only_metrics_with_data_in_the_last_three_hours(cw, protocol):
    """'Active' is judged by the data points' timestamps.

    (Whether a point published now with an old timestamp counts as recent
    activity cannot be told apart without waiting 3 hours; the server keys
    on the point's time.)
    """
    ns = unique_namespace(f"recent-{protocol}")
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "New", "Value": 1.0, "Timestamp": dt(aligned(300))},
            {"MetricName": "Old", "Value": 1.0, "Timestamp": dt(aligned(5 * 3600))},
        ],
    )
    assert {k[1] for k in listed(cw, Namespace=ns)} == {"New", "Old"}
    assert {k[1] for k in listed(cw, Namespace=ns, RecentlyActive="PT3H")} == {"New"}


def test_pagination_returns_every_metric_once_in_pages_of_500(cw, protocol):
    ns = unique_namespace(f"page-{protocol}")
    total = 1100
    t = dt(aligned(600))
    names = [f"M{i:05d}" for i in range(total)]
    for i in range(0, total, 1000):
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[
                {"MetricName": n, "Dimensions": [{"Name": "Shard", "Value": str(j % 7)}], "Value": 1.0, "Timestamp": t}
                for j, n in enumerate(names[i : i + 1000], start=i)
            ],
        )
    pages = list(cw.get_paginator("list_metrics").paginate(Namespace=ns))
    sizes = [len(p.get("Metrics", [])) for p in pages]
    assert sizes == [500, 500, 100], sizes
    assert "NextToken" not in pages[-1]
    seen = [m["MetricName"] for p in pages for m in p["Metrics"]]
    assert sorted(seen) == names, "every metric exactly once"


def test_bad_list_metrics_token_is_rejected(cw, catalog):
    ns1, _ = catalog
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        cw.list_metrics(Namespace=ns1, NextToken="not-a-real-token")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ei.value.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidNextToken")
