#!/usr/bin/env bash
# Model Monitor benchmark: `modelwatch baseline` and `modelwatch monitor run`
# (release build) against a Python anchor (pandas + numpy + scipy,
# bench/monitor_anchor.py) doing the same statistics on the same CSV files,
# interleaved in one run. Writes the "Model Monitor" section of
# bench/RESULTS.md (other sections are left as they are).
#
#   bench/monitor.sh                        # 1,000,000 rows, 3 repeats
#   ROWS=100000 REPEATS=1 bench/monitor.sh  # quick smoke run
#
# Data (under bench/out/monitor/, gitignored): adult_train / adult_test
# repeated to ROWS rows with noise on the numeric columns; regenerated when
# ROWS or SEED change. Every command runs under `timeout`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out/monitor"
cd "$ROOT"

ROWS="${ROWS:-1000000}"
REPEATS="${REPEATS:-3}"
SEED="${SEED:-7}"
STEP_TIMEOUT="${STEP_TIMEOUT:-900}"   # seconds, one command
# MODELWATCH_BIN=path: use that modelwatch binary instead of building one.
CMDLINE="ROWS=$ROWS REPEATS=$REPEATS SEED=$SEED bench/monitor.sh"

log() { printf '[monitor %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- tools ------------------------------------------------------------------
PY="$BENCH/.venv/bin/python"
if [[ ! -x "$PY" ]]; then
    log "creating bench/.venv"
    python3 -m venv "$BENCH/.venv"
fi
if ! "$PY" -c 'import pandas, scipy, numpy' 2>/dev/null; then
    log "installing pandas and scipy into bench/.venv"
    timeout 900 "$BENCH/.venv/bin/pip" install -q pandas scipy || die "pip install failed"
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed for peak memory (apt-get install time)"

if [[ -n "${MODELWATCH_BIN:-}" ]]; then
    MW="$MODELWATCH_BIN"
else
    log "building modelwatch (release)"
    timeout 3600 cargo build --release --bin modelwatch >&2 || die "cargo build failed"
    MW="$ROOT/target/release/modelwatch"
fi

# ---- data -------------------------------------------------------------------
mkdir -p "$OUT"
STAMP="$OUT/data.stamp"
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$ROWS $SEED" || ! -s "$OUT/train.csv" || ! -s "$OUT/window.csv" ]]; then
    log "generating $ROWS rows of train.csv and window.csv"
    timeout "$STEP_TIMEOUT" "$PY" "$BENCH/monitor_anchor.py" gen "$ROWS" "$SEED" "$OUT"
    echo "$ROWS $SEED" > "$STAMP"
fi

# ---- runs -------------------------------------------------------------------
TIMINGS="$OUT/timings.jsonl"
: > "$TIMINGS"

# timed STEP TOOL CMD...: wall seconds and peak RSS of one command, appended to $TIMINGS.
timed() {
    local step="$1" tool="$2"; shift 2
    local t0 t1 rss
    t0="$(date +%s.%N)"
    /usr/bin/time -f '%M' -o "$OUT/rss.txt" timeout "$STEP_TIMEOUT" "$@" > "$OUT/$step-$tool.log" 2>&1 \
        || die "$step/$tool failed: $(tail -5 "$OUT/$step-$tool.log")"
    t1="$(date +%s.%N)"
    rss="$(tail -1 "$OUT/rss.txt")"
    local secs
    secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
    log "$step $tool: ${secs}s, peak RSS ${rss} kB"
    printf '{"step":"%s","tool":"%s","secs":%s,"max_rss_kb":%s,"rows":%s,"window_rows":%s}\n' \
        "$step" "$tool" "$secs" "$rss" "$ROWS" "$ROWS" >> "$TIMINGS"
}

for r in $(seq 1 "$REPEATS"); do
    log "repeat $r of $REPEATS"
    rm -rf "$OUT/mw-baseline" "$OUT/mw-report" "$OUT/anchor"
    timed baseline modelwatch "$MW" baseline --dataset "$OUT/train.csv" --header --output "$OUT/mw-baseline"
    timed baseline anchor "$PY" "$BENCH/monitor_anchor.py" baseline "$OUT/train.csv" "$OUT/anchor"
    timed job modelwatch "$MW" monitor run --baseline "$OUT/mw-baseline" --dataset "$OUT/window.csv" --header --output "$OUT/mw-report"
    timed job anchor "$PY" "$BENCH/monitor_anchor.py" job "$OUT/anchor" "$OUT/window.csv"
done

# Both sides saw every row.
"$PY" - "$OUT" "$ROWS" <<'EOF'
import json, sys
out, rows = sys.argv[1], int(sys.argv[2])
mw = json.load(open(f"{out}/mw-report/statistics.json"))["dataset"]["item_count"]
anchor = json.load(open(f"{out}/anchor/anchor_report.json"))["statistics"]["rows"]
assert mw == anchor == rows, (mw, anchor, rows)
EOF

"$PY" "$BENCH/monitor_anchor.py" report "$TIMINGS" "$BENCH/RESULTS.md" "$CMDLINE"
log "wrote the Model Monitor section of bench/RESULTS.md"
