"""Writes the "Sidecar" section of bench/RESULTS.md from bench/proxy.sh's results.

The section lies between `<!-- sidecar:begin -->` and `<!-- sidecar:end -->`;
it is replaced when present and appended otherwise, so the other sections of
the file stay as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
from pathlib import Path

NAMES = {
    "direct": "model server, called directly",
    "nginx": "nginx reverse proxy (no capture)",
    "proxy": "modelwatch proxy, 100% capture to the server",
    "proxy-dir": "modelwatch proxy, 100% capture to local files",
    "proxy-nocapture": "modelwatch proxy, metrics only",
    "proxy-nopoll": "modelwatch proxy, 100% capture to the server, no busy-polling",
}
# Each CPU layout has its own section.
MARKERS = {"sut": "sidecar", "none": "sidecar-shared"}
TITLES = {"sut": "Sidecar", "none": "Sidecar, all cores shared"}


def us(v) -> str:
    return f"{v:,.0f}" if isinstance(v, (int, float)) else "–"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def merge(runs: list[dict]) -> dict:
    """The median of each figure over the repeats; errors summed."""
    if any("not_measured" in r for r in runs):
        return runs[0]
    out = dict(runs[0])
    for k in ("achieved_rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "lag_p99_us"):
        out[k] = median([r[k] for r in runs])
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs"] = len(runs)
    out["p99_range"] = (min(r["p99_us"] for r in runs), max(r["p99_us"] for r in runs))
    return out


def cpu_table(path: str, rates: list[int], targets: list[str]) -> list[str]:
    """Rows of CPU µs per request (user, system, total; the serving threads'
    total; median over repeats) by rate and target."""
    if not path or not Path(path).exists():
        return []
    per: dict = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        requests = c["rate"] * c["seconds"]
        tick_us = 1e6 / c["ticks_per_s"]
        d = [(a - b) * tick_us / requests for a, b in zip(c["after"], c["before"])]
        # Older records hold no serving-thread ticks.
        serving = d[2] + d[3] if len(d) >= 4 else None
        per.setdefault((c["label"], int(c["rate"])), []).append((d[0], d[1], serving))
    rows = []
    for rate in rates:
        ng = per.get(("nginx", rate))
        ng_total = median([u + s for u, s, _ in ng]) if ng else None
        for t in targets:
            runs = per.get((t, rate))
            if not runs:
                continue
            total = median([u + s for u, s, _ in runs])
            ratio = f"{total / ng_total:.2f}" if ng_total else "–"
            servings = [v for _, _, v in runs if v is not None]
            serving = median(servings) if servings else None
            serving_text = f"{serving:.1f}" if serving is not None else "–"
            serving_ratio = f"{serving / ng_total:.2f}" if serving is not None and ng_total else "–"
            rows.append(
                f"| {rate:,} | {NAMES[t]} | {median([u for u, _, _ in runs]):.1f} | "
                f"{median([s for _, s, _ in runs]):.1f} | {total:.1f} | {ratio} | {serving_text} | {serving_ratio} |"
            )
    return rows


def capture_drops(path: str, max_rate: int, totals: dict[str, int]) -> dict[str, str]:
    """By capturing target, the text that splits its drops between the fixed-rate runs, the
    most-throughput runs (from the per-run counts in cpu.jsonl) and the time between runs (the
    rest of `totals`, the final counts: records the worker dropped as it caught up), or nothing
    when none were recorded."""
    if not path or not Path(path).exists():
        return {}
    fixed: dict[str, int] = {}
    most: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        if "capture_dropped" not in c:
            continue
        into = most if max_rate > 0 and int(c["rate"]) == max_rate else fixed
        into[c["label"]] = into.get(c["label"], 0) + int(c["capture_dropped"])
    out = {}
    for t in set(fixed) | set(most):
        text = f" ({fixed.get(t, 0):,} during the fixed-rate runs"
        if max_rate > 0:
            text += f", {most.get(t, 0):,} during the most-throughput runs"
        rest = totals.get(t, 0) - fixed.get(t, 0) - most.get(t, 0)
        if rest > 0:
            text += f", {rest:,} between runs"
        out[t] = text + ")"
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def server_sched_text(sched: str, cpus: str) -> str:
    if sched == "idle":
        return (
            f"The modelwatch server ran under `SCHED_IDLE` (`SERVER_SCHED=idle`, the default) on CPU {cpus}: it "
            "stored the metrics and captured records with the CPU time the other processes left, as a server on "
            "another host would, instead of delaying the load generator and the model server (whose latency is "
            "what is measured) with its ingest. The capture lines below show whether it kept up."
        )
    return (
        f"The modelwatch server ran as an ordinary process (`SERVER_SCHED=normal`) on CPU {cpus}: each batch it "
        "stores delays the load generator and the model server sharing its core, which counts in the latency "
        "of the target whose records it stores."
    )


def sign_test(diffs: list) -> float:
    """Two-sided exact sign test of "below" against "not below" (a tie counts as not below)."""
    n = len(diffs)
    below = sum(1 for x in diffs if x < 0)
    k = min(below, n - below)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def signed_rank_test(diffs: list) -> float:
    """Two-sided Wilcoxon signed-rank test of a zero median difference: the normal
    approximation with average ranks for ties, the tie correction of the variance and
    a continuity correction (zero differences dropped, as scipy's default `wilcox`)."""
    d = [x for x in diffs if x != 0]
    n = len(d)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks = [0.0] * n
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    w_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24 - ties / 48
    if var <= 0:
        return 1.0
    z = max(0.0, abs(w_plus - mean) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def fmt_p(p: float) -> str:
    """Two decimals from 0.1 up, two significant digits below (0.052 must not read as 0.05)."""
    if p >= 0.1:
        return f"{p:.2f}"
    return "< 0.0001" if p < 0.0001 else f"{p:.2g}"


def paired_p99(runs: list, base: list) -> tuple:
    """Pairs the i-th run of a target with the i-th run of `base` at one rate:
    (median p99 difference, sign-test p, the table cells "median | below of n |
    sign p | signed-rank p |")."""
    diffs = [r["p99_us"] - b["p99_us"] for r, b in zip(runs, base)]
    below = sum(1 for x in diffs if x < 0)
    p = sign_test(diffs)
    cells = f"{median(diffs):+,.0f} | {below} of {len(diffs)} | {fmt_p(p)} | {fmt_p(signed_rank_test(diffs))} |"
    return median(diffs), p, cells


TIMER_TEXT = {
    "exact": "Pacing (`--timer exact`): each request is written when it is due, to the microsecond (a timerfd "
    "per connection), so at 5k req/s one request every 200 µs.",
    "coarse": "Pacing (`--timer coarse`): requests wait on tokio's millisecond timer, so those due within one "
    "millisecond are written together (a burst of five every millisecond at 5k req/s).",
}

ARRIVALS_TEXT = {
    "uniform": "",
    "poisson": " Arrivals (`--arrivals poisson`): due times are a Poisson process of the rate (independent "
    "exponential gaps with mean 1/rate, as from many independent clients), seeded with the repeat's number, so "
    "every target of a repeat gets the same arrival times.",
}


def main():
    ap = argparse.ArgumentParser()
    for a in ("results", "rates", "duration", "warmup", "connections", "repeats", "nginx", "capture", "commit",
              "load-before", "load-after", "wal-sync", "command", "out", "capture-dir", "pin", "sut-cpus", "max-rate",
              "rest-cpus", "server-sched"):
        ap.add_argument(f"--{a}", required=True)
    ap.add_argument("--capture-nopoll", default="{}", help="capture stats of the proxy-nopoll target")
    ap.add_argument("--section", default="", help="marker name of the section (default: by CPU layout)")
    ap.add_argument("--timer", default="coarse", help="how the generator paced requests (exact or coarse)")
    ap.add_argument("--arrivals", default="uniform", help="when requests were due (uniform or poisson)")
    ap.add_argument("--cpu", default="", help="CPU time of each run (cpu.jsonl of bench/proxy.sh)")
    a = ap.parse_args()
    rows = [json.loads(l) for l in Path(a.results).read_text().splitlines() if l.strip()]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["label"], int(r["rate"])), []).append(r)
    by = {k: merge(v) for k, v in groups.items()}
    rates = [int(x) for x in a.rates.split()]
    targets = [t for t in NAMES if any(k[0] == t for k in by)]
    capture = json.loads(a.capture or "{}")
    capture_dir = json.loads(a.capture_dir or "{}")
    capture_nopoll = json.loads(a.capture_nopoll or "{}")
    marker = a.section or MARKERS[a.pin]
    title = TITLES[a.pin]
    if a.server_sched != "idle" and not a.section:
        # Not the standard layout: a section of its own, never over the standard one.
        marker += f"-server-{a.server_sched}"
        title += f", server scheduled {a.server_sched}"
    if a.section:
        title += f", {' and '.join(f'{int(r):,}' for r in a.rates.split())} req/s, {a.repeats} repeats"
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"

    out = [begin, f"## {title}", ""]
    out.append(
        "Generated by `bench/proxy.sh`: the latency `modelwatch proxy` adds in front of a model server, at fixed "
        "request rates, side by side in one run with calling the model server directly and with nginx as a plain "
        "reverse proxy in front of the same model server. Everything ran on this machine over 127.0.0.1: the load "
        "generator, the model server, nginx, the proxies and the modelwatch server that receives the metrics and "
        "stores the captured records."
    )
    out.append("")
    if a.pin == "sut":
        out.append(
            f"CPU layout (`PIN=sut`): the proxy under test (nginx, or each modelwatch proxy) ran alone on CPU "
            f"{a.sut_cpus}, as a sidecar with a core of its own; the load generator, the model server and the "
            f"modelwatch server ran on CPU {a.rest_cpus}. nginx ran one worker process and modelwatch proxy one "
            "serving thread (each its default for one core)."
        )
        out.append("")
        out.append(server_sched_text(a.server_sched, a.rest_cpus))
    else:
        out.append(
            f"CPU layout (`PIN=none`): every process shared CPUs {a.sut_cpus}; nginx ran `worker_processes auto` "
            "and modelwatch proxy one serving thread per core."
        )
        out.append("")
        out.append(server_sched_text(a.server_sched, a.sut_cpus))
    out.append("")
    out.append(f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
    out.append(f"- Machine: {os.cpu_count()} CPU cores (`nproc`), {cpu_model()}")
    out.append(f"- Load average (1/5/15 min) before: {a.load_before}; after: {a.load_after}")
    out.append(f"- Versions: modelwatch {a.commit}; nginx {a.nginx}")
    out.append(f"- Parameters: rates={a.rates} duration={a.duration}s (+{a.warmup}s unmeasured warm-up) "
               f"connections={a.connections} repeats={a.repeats} (interleaved, each repeat starting one target further along the list; medians reported) server --wal-sync {a.wal_sync}")
    out.append(f"- Command: `{a.command}`")
    out.append("")
    out.append(
        "Load: `mw-loadgen rate`, open loop (request *i* is due at start + i/rate, whatever happened before), "
        "over keep-alive HTTP/1.1 connections; the same 39-byte CSV body each time. "
        + TIMER_TEXT[a.timer]
        + ARRIVALS_TEXT[a.arrivals]
        + " Model server: "
        "`mw-loadgen upstream`, a minimal keep-alive HTTP/1.1 server that answers every POST with a fixed "
        "6-byte prediction, so the numbers are about the proxies. Latency = from writing a request to having "
        "read its whole response. `lag` = how late requests were written after they were due (no idle "
        "connection, or the generator's own wake-up); a target that cannot keep up shows it there and "
        "in the achieved rate. Added latency = the target's percentile minus the direct percentile at the same rate."
    )
    out.append("")
    out.append("| rate (req/s) | target | achieved req/s | errors | p50 µs | p99 µs (min – max) | p99.9 µs | added p50 / p99 / p99.9 µs | lag p99 µs |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for rate in rates:
        d = by.get(("direct", rate))
        for t in targets:
            r = by.get((t, rate))
            if r is None:
                continue
            if "not_measured" in r:
                out.append(f"| {rate:,} | {NAMES[t]} | not measured: {r['not_measured']} | | | | | | |")
                continue
            if t == "direct" or d is None:
                added = "–"
            else:
                added = " / ".join(f"{r[k] - d[k]:+,.0f}" for k in ("p50_us", "p99_us", "p999_us"))
            lo, hi = r.get("p99_range", (r["p99_us"], r["p99_us"]))
            p99 = f"{us(r['p99_us'])} ({us(lo)} – {us(hi)})"
            if t.startswith("proxy"):
                p99 = f"**{p99}**"
            out.append(
                f"| {rate:,} | {NAMES[t]} | {r['achieved_rps']:,.0f} | {r['errors']} | {us(r['p50_us'])} | {p99} | "
                f"{us(r['p999_us'])} | {added} | {us(r['lag_p99_us'])} |"
            )
    out.append("")
    # Repeats ran interleaved (each repeat: every rate, every target in turn),
    # so the i-th run of a target and the i-th run of nginx at a rate were
    # minutes apart at most: their difference is a paired sample, steadier
    # than the difference of medians when the machine's speed drifts.
    paired = []
    tests = {}  # (target, rate) -> (median paired difference, sign-test p)
    for rate in rates:
        ng = groups.get(("nginx", rate), [])
        if not ng or any("not_measured" in r for r in ng):
            continue
        for t in targets:
            if not t.startswith("proxy") or (t, rate) not in groups:
                continue
            diff, p, cells = paired_p99(groups[(t, rate)], ng)
            tests[(t, rate)] = (diff, p)
            paired.append(f"| {rate:,} | {NAMES[t]} | {cells}")
    if paired:
        out.append(
            "Paired against nginx: in each repeat, the target's p99 minus nginx's p99 at the same rate (runs "
            "minutes apart at most); the median of those differences, in how many repeats the target was below "
            "nginx, and two-sided p-values (a small p: the order is not chance): the sign test of that count "
            "(the goal's test below), and the Wilcoxon signed-rank test, which also weighs how far apart they were."
        )
        out.append("")
        out.append(
            "| rate (req/s) | target | median p99 − nginx p99 µs | repeats below nginx | sign test p "
            "| signed-rank p |"
        )
        out.append("|---:|---|---:|---:|---:|---:|")
        out.extend(paired)
        out.append("")
    # The same proxy with busy-polling and without, paired the same way.
    polling = []
    for rate in rates:
        on, off = groups.get(("proxy", rate), []), groups.get(("proxy-nopoll", rate), [])
        if not on or not off:
            continue
        polling.append(f"| {rate:,} | {paired_p99(on, off)[2]}")
    if polling:
        out.append(
            "Busy-polling: in each repeat, the p99 of the proxy capturing to the server minus the p99 of the same "
            "proxy with `--busy-poll-us 0`, paired and tested as above."
        )
        out.append("")
        out.append("| rate (req/s) | median p99 difference µs | repeats lower with polling | sign test p | signed-rank p |")
        out.append("|---:|---:|---:|---:|---:|")
        out.extend(polling)
        out.append("")
    cpu_rows = cpu_table(a.cpu, rates, targets)
    if cpu_rows:
        out.append(
            "CPU per request: the CPU time the proxy under test used during a run (warm-up included: every "
            "thread of a modelwatch proxy, its capture and metrics work among them; nginx's worker), from "
            "`/proc/<pid>/stat`, divided by the requests offered in that time; the median of the repeats. This "
            "is the work each request costs the sidecar's core, steadier from run to run than a percentile. "
            "The serving columns count only the threads that forward requests (a modelwatch proxy's `proxy-N` "
            "threads; all of nginx's worker): a modelwatch proxy's other threads (capture encoding and delivery, "
            "metrics publishing) run under `SCHED_IDLE`, on the CPU time the serving threads leave, so the "
            "serving columns are the work that stands between a request and its answer."
        )
        out.append("")
        out.append(
            "| rate (req/s) | target | user µs | system µs | total µs | total ÷ nginx's | serving µs | serving ÷ nginx's |"
        )
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        out.extend(cpu_rows)
        out.append("")
    max_rate = int(a.max_rate)
    if max_rate > 0 and any(k[1] == max_rate for k in by):
        out.append(
            f"Most throughput: each target offered {max_rate:,} req/s (more than any reaches) over the same "
            f"{a.connections} connections; the achieved rate is the most it served (median of the repeats). The "
            "direct row is the ceiling of the load generator and the model server themselves."
        )
        out.append("")
        out.append("| target | achieved req/s (min – max) | errors |")
        out.append("|---|---:|---:|")
        for t in targets:
            r = by.get((t, max_rate))
            if r is None:
                continue
            if "not_measured" in r:
                out.append(f"| {NAMES[t]} | not measured: {r['not_measured']} | |")
                continue
            runs = groups[(t, max_rate)]
            lo = min(x["achieved_rps"] for x in runs)
            hi = max(x["achieved_rps"] for x in runs)
            out.append(f"| {NAMES[t]} | {r['achieved_rps']:,.0f} ({lo:,.0f} – {hi:,.0f}) | {r['errors']} |")
        out.append("")
    drops = capture_drops(
        a.cpu,
        max_rate,
        {
            "proxy": capture.get("dropped", 0),
            "proxy-dir": capture_dir.get("dropped", 0),
            "proxy-nopoll": capture_nopoll.get("dropped", 0),
        },
    )
    if capture:
        out.append(
            f"Capture to the server (100%, through its native API in batches every 100 ms, the server fsyncing "
            f"each batch): {capture.get('written', 0):,} records written, "
            f"{capture.get('dropped', 0):,} dropped{drops.get('proxy', '')}, "
            f"{capture.get('bufferedBatches', 0)} batches left in the disk buffer."
        )
        out.append("")
    if capture_dir:
        out.append(
            f"Capture to local files (100%, SageMaker's layout, appended every 100 ms): "
            f"{capture_dir.get('written', 0):,} records written, {capture_dir.get('dropped', 0):,} dropped"
            f"{drops.get('proxy-dir', '')}."
        )
        out.append("")
    if capture_nopoll:
        out.append(
            f"Capture to the server without busy-polling: {capture_nopoll.get('written', 0):,} records written, "
            f"{capture_nopoll.get('dropped', 0):,} dropped{drops.get('proxy-nopoll', '')}."
        )
        out.append("")
    if max_rate > 0 and (capture.get("dropped", 0) or capture_dir.get("dropped", 0)):
        out.append(
            "Records are dropped when the capture queue is full. The proxy's background threads (which encode "
            "and deliver captured records) run under `SCHED_IDLE`: when the serving thread needs the whole core, "
            "as in the most-throughput runs, capture gets almost none of it, and records are dropped and counted "
            "rather than slowing inference. `--background-priority normal` makes capture compete for the core "
            "instead."
        )
        out.append("")
    # the goals of the issue, checked on these numbers
    goal = []
    d5, n5 = by.get(("direct", 5000)), by.get(("nginx", 5000))
    nadded = None
    if d5 and n5 and "not_measured" not in n5:
        nadded = n5["p99_us"] - d5["p99_us"]
        goal.append(f"nginx's p99 overhead at 5k req/s: {nadded:+,.0f} µs")
    for t in ("proxy", "proxy-dir", "proxy-nopoll"):
        r5 = by.get((t, 5000))
        if not (r5 and d5 and "not_measured" not in r5):
            continue
        added = r5["p99_us"] - d5["p99_us"]
        line = (f"{NAMES[t]}: p99 overhead at 5k req/s {added:+,.0f} µs (under 200 µs: "
                f"{'met' if added < 200 else 'not met'}")
        if nadded is not None:
            test = tests.get((t, 5000))
            if added >= nadded:
                line += "; below nginx: not met"
            elif test is None or len(groups.get((t, 5000), [])) < 2:
                line += "; below nginx: lower in this run (one repeat: no test)"
            elif test[0] < 0 and test[1] < 0.05:
                line += f"; below nginx: met, paired sign test p = {fmt_p(test[1])}"
            elif test[1] < 0.05:
                # Lower medians, but above nginx in most paired repeats.
                line += f"; below nginx: not met, above it in the paired sign test (p = {fmt_p(test[1])})"
            else:
                line += (f"; below nginx: lower median, but not shown (paired sign test p = {fmt_p(test[1])}, "
                         "not under 0.05)")
        goal.append(line + ")")
    if goal:
        out.append("Goals: " + "; ".join(goal) + ".")
        out.append("")
    if a.pin == "sut":
        out.append(
            "Caveats: the load generator, the model server and the modelwatch server share their core(s), so the "
            "direct numbers include their contention, and the capture-to-server target also makes the modelwatch "
            "server store every record there, next to the model server and the generator"
            + (" (at idle priority: see above)" if a.server_sched == "idle" else "")
            + ". Percentile differences are differences of percentiles, not percentiles of per-request differences."
        )
    else:
        out.append(
            "Caveats: the cores are shared by every process above, so each number includes contention with the "
            "generator and the model server (the same for every target); the proxies with capture also share them "
            "with the modelwatch server storing every record. Percentile differences are differences of "
            "percentiles, not percentiles of per-request differences."
        )
    out.append(end)
    section = "\n".join(out) + "\n"

    path = Path(a.out)
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
