"""The Python anchor of bench/monitor.sh, and its data generator and report.

    monitor_anchor.py gen ROWS SEED OUT_DIR        adult_train / adult_test x N with noise
    monitor_anchor.py baseline TRAIN.csv OUT_DIR   describe + histograms + category counts,
                                                   keeps the sorted values for later windows
    monitor_anchor.py job OUT_DIR WINDOW.csv       the same statistics of the window, then KS
                                                   (numeric) / chi-square (categorical) per column
    monitor_anchor.py report TIMINGS.jsonl RESULTS.md COMMAND
                                                   writes the "Model Monitor" section

The anchor does with pandas / numpy / scipy what `modelwatch baseline` and
`modelwatch monitor run` do (less: no sketches, no type inference, no
constraint checks, two drift tests instead of seven), on the same files.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- monitor:begin -->"
END = "<!-- monitor:end -->"


def gen(rows: int, seed: int, out: Path) -> None:
    """train.csv from adult_train, window.csv from adult_test, each repeated to
    `rows` rows with small noise on the numeric columns (so values are not
    31 exact copies) and the label first, as Model Monitor expects."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in (("adult_train.csv", "train.csv"), ("adult_test.csv", "window.csv")):
        df = pd.read_csv(ROOT / "testdata" / src)
        df = df[[df.columns[-1]] + list(df.columns[:-1])]
        reps = -(-rows // len(df))
        big = pd.concat([df] * reps, ignore_index=True).iloc[:rows].copy()
        n = len(big)
        big["age"] = (big["age"] + rng.integers(-1, 2, n)).clip(17, 90)
        big["fnlwgt"] = (big["fnlwgt"] * rng.normal(1.0, 0.02, n)).round().astype("int64")
        big["hours_per_week"] = (big["hours_per_week"] + rng.integers(-1, 2, n)).clip(1, 99)
        big.to_csv(out / dst, index=False)


def profile(df: pd.DataFrame) -> dict:
    """describe + ten-bucket histograms + completeness + category counts."""
    num = df.select_dtypes("number").columns
    cat = [c for c in df.columns if c not in num]
    out = {"rows": len(df), "describe": json.loads(df[num].describe().to_json()), "numeric": {}, "categorical": {}}
    for c in num:
        v = df[c].dropna().to_numpy()
        counts, edges = np.histogram(v, bins=10)
        out["numeric"][c] = {"completeness": float(len(v) / len(df)), "hist": counts.tolist(), "edges": edges.tolist()}
    for c in cat:
        vc = df[c].value_counts(dropna=True)
        out["categorical"][c] = {
            "completeness": float(vc.sum() / len(df)),
            "distinct": int(len(vc)),
            "counts": {str(k): int(v) for k, v in vc.items()},
        }
    return out


def baseline(train: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(train)
    p = profile(df)
    (out / "anchor_statistics.json").write_text(json.dumps(p))
    # What later windows reuse: every numeric value, sorted (drift_baseline.json keeps value runs).
    np.savez(out / "anchor_values.npz", **{c: np.sort(df[c].dropna().to_numpy()) for c in p["numeric"]})


def job(base_dir: Path, window: Path) -> None:
    from scipy import stats

    base = json.loads((base_dir / "anchor_statistics.json").read_text())
    values = np.load(base_dir / "anchor_values.npz")
    df = pd.read_csv(window)
    p = profile(df)
    tests = {}
    for c in base["numeric"]:
        if c in p["numeric"]:
            r = stats.ks_2samp(values[c], df[c].dropna().to_numpy())
            tests[c] = {"ks": float(r.statistic), "p": float(r.pvalue)}
    for c, b in base["categorical"].items():
        if c in p["categorical"]:
            w = p["categorical"][c]["counts"]
            keys = sorted(set(b["counts"]) | set(w))
            table = np.array([[b["counts"].get(k, 0) for k in keys], [w.get(k, 0) for k in keys]])
            table = table[:, table.sum(axis=0) > 0]
            chi2, pv, _, _ = stats.chi2_contingency(table, correction=False)
            tests[c] = {"chi2": float(chi2), "p": float(pv)}
    (base_dir / "anchor_report.json").write_text(json.dumps({"statistics": p, "tests": tests}))


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def report(timings: Path, results: Path, command: str) -> None:
    runs = [json.loads(l) for l in timings.read_text().splitlines() if l.strip()]
    by = {}
    for r in runs:
        by.setdefault((r["step"], r["tool"]), []).append(r)
    rows = runs[0]["rows"] if runs else 0
    window_rows = runs[0].get("window_rows", rows) if runs else 0

    def cell(step, tool):
        rs = by.get((step, tool), [])
        secs = [r["secs"] for r in rs]
        rss = [r["max_rss_kb"] for r in rs]
        return median(secs), min(secs or [float("nan")]), max(secs or [float("nan")]), median(rss)

    import scipy

    load = os.getloadavg()
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    lines = [
        BEGIN,
        "## Model Monitor",
        "",
        "Generated by `bench/monitor.sh`: `modelwatch baseline` and `modelwatch monitor run` (release build) "
        "against a Python anchor (`bench/monitor_anchor.py`, pandas + numpy + scipy) doing the same statistics on the "
        "same CSV files, side by side in one run. Wall-clock time of each whole command (process start, reading the "
        "CSV, computing, writing the results); peak memory from `/usr/bin/time`.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"- Machine: {os.cpu_count()} CPU cores, {cpu}; load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- Versions: modelwatch {rev} + working tree; Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, scipy {scipy.__version__}",
        f"- Data: baseline = `testdata/adult_train.csv` repeated to {rows:,} rows, window = `testdata/adult_test.csv` "
        f"repeated to {window_rows:,} rows; 15 columns (6 numeric, 9 text), numeric columns jittered (age ±1, fnlwgt ×N(1, 0.02), "
        "hours ±1), label first",
        f"- Command: `{command}`",
        "",
        "| step | modelwatch s (min – max) | anchor s (min – max) | anchor ÷ modelwatch | modelwatch rows/s | peak RSS modelwatch / anchor MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step, label, n in (("baseline", "baseline (profile the training set)", rows), ("job", "monitoring job (profile the window + drift tests)", window_rows)):
        m, mlo, mhi, mrss = cell(step, "modelwatch")
        a, alo, ahi, arss = cell(step, "anchor")
        lines.append(
            f"| {label} | {m:.2f} ({mlo:.2f} – {mhi:.2f}) | {a:.2f} ({alo:.2f} – {ahi:.2f}) | **{a / m:.2f}** | "
            f"{n / m:,.0f} | {mrss / 1024:.0f} / {arss / 1024:.0f} |"
        )
    lines += [
        "",
        "What each side computes:",
        "",
        "- modelwatch baseline: one streaming pass over the rows: per column Deequ type inference, Welford moments, the KLL sketch "
        "(k = 2048, c = 0.64) and its ten buckets, exact category counts (HyperLogLog past 1,000), suggested constraints; "
        "writes statistics.json, constraints.json and drift_baseline.json (every numeric value as sorted runs).",
        "- modelwatch monitoring job: the same profile of the window, every SageMaker check (data type, completeness, "
        "baseline drift on the sketches, domains, missing / extra columns), and seven drift tests per feature "
        "(exact / Simard–L'Ecuyer KS, Anderson–Darling, Wasserstein, PSI, Jensen–Shannon, chi-square, L∞) with "
        "Benjamini–Hochberg; writes statistics.json, constraints.json, constraint_violations.json, drift_report.json.",
        "- anchor baseline: `pd.read_csv`, `describe()`, `np.histogram(bins=10)` per numeric column, completeness, "
        "`value_counts()` per text column; keeps the sorted numeric values (`np.savez`).",
        "- anchor job: the same profile of the window, then `scipy.stats.ks_2samp` per numeric column and "
        "`scipy.stats.chi2_contingency` per text column.",
        "",
        "Caveats: both sides share the machine's cores with whatever else ran (see the load average); the anchor "
        "computes less than modelwatch (no sketches, no type inference, no checks, two tests instead of seven), so a "
        "ratio above 1 understates the difference in work. pandas' CSV parser is C; numpy / scipy are vectorised C.",
        END,
    ]
    section = "\n".join(lines) + "\n"
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "gen":
        gen(int(argv[2]), int(argv[3]), Path(argv[4]))
    elif cmd == "baseline":
        baseline(Path(argv[2]), Path(argv[3]))
    elif cmd == "job":
        job(Path(argv[2]), Path(argv[3]))
    elif cmd == "report":
        report(Path(argv[2]), Path(argv[3]), argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
