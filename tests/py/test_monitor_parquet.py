"""Parquet data sets: `modelwatch baseline --format parquet` and the native
baseline upload give what the CSV of the same data gives (the fixture was
written by pyarrow from testdata/adult_test.csv)."""

from __future__ import annotations

import json
import subprocess

import support

PARQUET = support.REPO_ROOT / "crates/mw-monitor/tests/fixtures/adult_test.parquet"
CSV = support.REPO_ROOT / "testdata/adult_test.csv"


def baseline(tmp_path, name, *args):
    out = tmp_path / name
    r = subprocess.run(
        [str(support.binary_path()), "baseline", "--output", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads((out / "statistics.json").read_text()), json.loads((out / "constraints.json").read_text())


def test_cli_baseline_from_parquet_equals_csv(tmp_path):
    from_csv = baseline(tmp_path, "csv", "--dataset", str(CSV), "--header")
    from_parquet = baseline(tmp_path, "parquet", "--dataset", str(PARQUET), "--format", "parquet")
    assert from_parquet[0]["dataset"]["item_count"] == 16281
    assert from_parquet == from_csv


def test_cli_rejects_a_file_that_is_not_parquet(tmp_path):
    r = subprocess.run(
        [str(support.binary_path()), "baseline", "--dataset", str(CSV), "--format", "parquet", "--output", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "not a readable Parquet file" in r.stderr, r.stderr


def test_native_upload_of_parquet(shared_server):
    body = PARQUET.read_bytes()
    r = support.raw_request(
        shared_server.port,
        "POST",
        "/api/v1/baselines/adult-parquet",
        {"Content-Type": "application/vnd.apache.parquet"},
        body,
        signed=False,
    )
    assert r.status == 200, r.body
    info = json.loads(r.body)
    assert info["ItemCount"] == 16281 and info["FeatureCount"] == 15, info
    bad = support.raw_request(
        shared_server.port, "POST", "/api/v1/baselines/bad-parquet?format=parquet", {}, body[: len(body) // 3], signed=False
    )
    assert bad.status == 400, bad.body
    assert json.loads(bad.body)["error"]["code"] == "InvalidParameter"
