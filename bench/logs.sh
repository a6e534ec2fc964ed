#!/usr/bin/env bash
# CloudWatch Logs benchmark: PutLogEvents ingest throughput and FilterLogEvents
# scan speed of modelwatch, with ripgrep / GNU grep over the very same lines in
# a plain file as the yardstick. 127.0.0.1 only; every step is bounded by
# `timeout`; appends/replaces the "## CloudWatch Logs" section of
# bench/RESULTS.md.
#
#   bench/logs.sh                                  # full run (~1.1 GB per ingest run)
#   INGEST_MB=100 REPEATS=1 bench/logs.sh          # quick smoke run
#   SCAN=0 bench/logs.sh                           # ingest only
#
# Every server is started under `timeout` and stopped (SIGTERM, SIGKILL after
# 10 s) when its step ends or on exit; only our own, still running children
# are ever signalled.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out/logs"
cd "$ROOT"

# ---- parameters (environment overrides) ------------------------------------
INGEST_MB="${INGEST_MB:-1100}"        # message MB (10^6 bytes) per ingest run; the scan data set is the
                                      # shape-b / --wal-sync always run of repeat 1, so >= 1000 for a 1 GB scan
REPEATS="${REPEATS:-3}"               # fresh server + data dir per ingest run; median reported
SHAPES="${SHAPES:-a b}"               # a: 10,000 events of ~LINE_BYTES_A; b: ~1 MB batches of ~LINE_BYTES_B
LINE_BYTES_A="${LINE_BYTES_A:-78}"    # 10,000 x (78+26) = 1,040,000 <= 1,048,576
LINE_BYTES_B="${LINE_BYTES_B:-200}"
WALSYNCS="${WALSYNCS:-always none}"
STREAMS="${STREAMS:-8}"
CONCURRENCY="${CONCURRENCY:-4}"
SEED="${SEED:-1}"
RARE_EVERY="${RARE_EVERY:-10000}"     # ~1 line in N carries the term; ~1 JSON line in N has latency > 990
JSON_EVERY="${JSON_EVERY:-3}"         # 1 line in N is JSON
SCAN="${SCAN:-1}"                     # 0: skip the FilterLogEvents / rg / grep part
SCAN_RUNS="${SCAN_RUNS:-2}"           # each scan is run this many times (run 2 = warm)
TERM_TOKEN="ZQXJVTRACE"               # must match mw-loadgen's logs::MARKER
TERM_PATTERN="$TERM_TOKEN"
JSON_PATTERN='{ $.latency > 990 }'
JSON_REGEX='"latency":99[1-9]'
MAX_BODY_BYTES="${MAX_BODY_BYTES:-auto}" # auto: AWS batch limits only, unless the server answers 413;
                                      # a number: also cap each JSON request body at that many bytes
STEP_TIMEOUT="${STEP_TIMEOUT:-300}"   # seconds, one loadgen / rg / grep invocation
SERVER_TIMEOUT="${SERVER_TIMEOUT:-900}" # seconds, hard cap on a server's life
INGEST_BUDGET="${INGEST_BUDGET:-600}" # no new ingest run starts after this many seconds of the script
KEEP_DATA="${KEEP_DATA:-0}"           # 1: keep data dirs and the lines file under bench/out/logs/
# MODELWATCH_BIN=path: use that modelwatch binary instead of building one.

CMDLINE="INGEST_MB=$INGEST_MB REPEATS=$REPEATS SHAPES=\"$SHAPES\" WALSYNCS=\"$WALSYNCS\" STREAMS=$STREAMS CONCURRENCY=$CONCURRENCY SCAN=$SCAN SCAN_RUNS=$SCAN_RUNS MAX_BODY_BYTES=$MAX_BODY_BYTES bench/logs.sh"

log() { printf '[logs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- process bookkeeping ----------------------------------------------------
PIDS=()
# "STATE PPID" of a process, from /proc (the fields after the command name).
proc_state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1-2; }
# True when $1 exists and is a direct child of this shell (not a reused PID).
my_child() {
    local st
    st="$(proc_state "$1")" || return 1
    [[ -n "$st" && "${st#* }" == "$$" ]]
}
# True when $1 is our child and has not exited yet (not a zombie).
my_live_child() { my_child "$1" && [[ "$(proc_state "$1")" != Z* ]]; }
stop_pid() {
    local pid="$1" i
    if ! my_live_child "$pid"; then wait "$pid" 2>/dev/null || true; return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        my_live_child "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    if my_live_child "$pid"; then
        log "pid $pid ignored SIGTERM for 10s, killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dependencies -----------------------------------------------------------
ensure_tools() {
    local missing=()
    command -v rg >/dev/null || missing+=(ripgrep)
    command -v grep >/dev/null || missing+=(grep)
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    if ! timeout 600 apt-get install -y "${missing[@]}" >&2; then
        timeout 600 apt-get update >&2
        timeout 600 apt-get install -y "${missing[@]}" >&2
    fi
    command -v rg >/dev/null || die "ripgrep not installed"
}
((SCAN)) && ensure_tools

# ---- build --------------------------------------------------------------------
log "building release binaries"
timeout 1200 cargo build --release -p mw-loadgen >&2
LOADGEN="$ROOT/target/release/mw-loadgen"
MODELWATCH="${MODELWATCH_BIN:-$ROOT/target/release/modelwatch}"
MW_BUILD_ERR=""
if [[ -n "${MODELWATCH_BIN:-}" ]]; then
    [[ -x "$MODELWATCH_BIN" ]] || die "MODELWATCH_BIN=$MODELWATCH_BIN is not an executable"
    log "using prebuilt modelwatch $MODELWATCH_BIN (not rebuilt)"
elif ! timeout 1200 cargo build --release -p modelwatch --bin modelwatch >&2; then
    MW_BUILD_ERR="cargo build --release --bin modelwatch failed"
    log "$MW_BUILD_ERR; modelwatch rows will be skipped"
fi

# The revision is taken now, right after the build (others may commit while
# this runs), and the servers run from a private copy of the binary so that a
# concurrent `cargo build` cannot swap it between runs.
MW_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo no-commit)"
[[ -n "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]] && MW_REV="$MW_REV+uncommitted-changes"
[[ -n "${MODELWATCH_BIN:-}" ]] && MW_REV="${MODELWATCH_REV:-unknown revision} (prebuilt $MODELWATCH_BIN; this tree: $MW_REV)"

# ---- run ------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
if [[ -z "$MW_BUILD_ERR" ]]; then
    cp "$MODELWATCH" "$OUT/modelwatch"
    MODELWATCH="$OUT/modelwatch"
    MW_REV="$MW_REV, binary sha256 $(sha256sum "$MODELWATCH" | cut -c1-12)"
fi
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
# One base timestamp for every run: identical lines everywhere (the lines file
# for rg/grep is regenerated from the same parameters). 10 h ago; at one event
# per ms the newest event of ~14 M is still ~6 h in the past.
BASE_MS=$(( ($(date +%s) - 36000) * 1000 ))

note() { # what reason -> a "skip" record for the report
    python3 -c 'import json,sys; print(json.dumps({"mode":"skip","what":sys.argv[1],"reason":sys.argv[2]}))' "$1" "$2" >>"$RESULTS"
    log "$1: $2"
}
record() { # json-line extra-json
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' "$1" "$2" >>"$RESULTS"
}

SERVER_PID=""; SERVER_PORT=""
start_modelwatch() { # walsync datadir logprefix
    timeout "$SERVER_TIMEOUT" "$MODELWATCH" server --listen 127.0.0.1:0 --data-dir "$2" --wal-sync "$1" \
        >"$3.stdout" 2>"$3.stderr" &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + 30))
    SERVER_PORT=""
    while ((SECONDS < deadline)); do
        SERVER_PORT="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$3.stdout" 2>/dev/null | head -n1)"
        [[ -n "$SERVER_PORT" ]] && return 0
        my_live_child "$SERVER_PID" || break
        sleep 0.1
    done
    return 1
}
STOP_S=0
stop_server() { # sets STOP_S: seconds the graceful stop took
    local t0 t1
    t0=$(date +%s%N)
    stop_pid "$SERVER_PID"
    t1=$(date +%s%N)
    STOP_S="$(python3 -c "print(round(($t1-$t0)/1e9,3))")"
}
server_state() { # logprefix
    if my_live_child "$SERVER_PID"; then
        printf ' [server still running]'
    else
        printf ' [server had exited; last stderr line: %s]' \
            "$(tail -n1 "$1.stderr" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-200)"
    fi
}

line_bytes_of() { case "$1" in a) echo "$LINE_BYTES_A" ;; b) echo "$LINE_BYTES_B" ;; *) die "unknown shape $1" ;; esac; }
gen_args() { # shape total_mb
    printf '%s\n' --line-bytes "$(line_bytes_of "$1")" --total-mb "$2" --base-ms "$BASE_MS" \
        --seed "$SEED" --rare-every "$RARE_EVERY" --json-every "$JSON_EVERY"
}
body_args() { [[ "$MAX_BODY_BYTES" == auto ]] || printf '%s\n' --max-body-bytes "$MAX_BODY_BYTES"; }

mw_broken="$MW_BUILD_ERR"

# ---- probe: does the server take AWS-maximal batches? ------------------------
# One full batch of each shape against a throwaway server. A 413 means the
# server caps request bodies below what AWS-legal batches need; the runs then
# cap bodies at MAX_BODY_BYTES=1048576 and the report says so.
probe() {
    local dir="$OUT/probe" s err
    mkdir -p "$dir"
    if ! start_modelwatch none "$dir/data" "$dir/server"; then
        mw_broken="server did not print 'listening on 127.0.0.1:PORT' within 30s (stderr: $(tail -c 300 "$dir/server.stderr" | tr '\n' ' '))"
        stop_pid "$SERVER_PID"; return
    fi
    for s in $SHAPES; do
        mapfile -t ga < <(gen_args "$s" 2.5)
        mapfile -t ba < <(body_args)
        if ! timeout "$STEP_TIMEOUT" "$LOADGEN" logs put --url "http://127.0.0.1:$SERVER_PORT" --group "/probe/$s" \
            --streams 1 --concurrency 1 --warmup-requests 0 "${ga[@]}" "${ba[@]}" >"$dir/probe-$s.json" 2>"$dir/probe-$s.err"; then
            err="$(tail -c 400 "$dir/probe-$s.err" | tr '\n' ' ')"
            if [[ "$MAX_BODY_BYTES" == auto && "$err" == *"HTTP 413"* ]]; then
                log "probe: server rejects an AWS-maximal batch of shape $s with 413: $err"
                note "body-cap" "modelwatch answered HTTP 413 to an AWS-legal PutLogEvents batch of shape $s ($(python3 -c 'import sys;print(sys.argv[1][:300])' "$err")); every run below caps JSON request bodies at 1,048,576 bytes, so batches hold fewer events than AWS allows"
                MAX_BODY_BYTES=1048576
                mapfile -t ba < <(body_args)
                if timeout "$STEP_TIMEOUT" "$LOADGEN" logs put --url "http://127.0.0.1:$SERVER_PORT" --group "/probe/$s-capped" \
                    --streams 1 --concurrency 1 --warmup-requests 0 "${ga[@]}" "${ba[@]}" >"$dir/probe-$s.json" 2>"$dir/probe-$s.err"; then
                    continue
                fi
                err="$(tail -c 400 "$dir/probe-$s.err" | tr '\n' ' ')"
            fi
            mw_broken="probe PutLogEvents (shape $s) failed: $err$(server_state "$dir/server")"
            break
        fi
    done
    stop_pid "$SERVER_PID"
    rm -rf "$dir/data"
}
[[ -z "$mw_broken" ]] && probe
[[ -n "$mw_broken" ]] && note "modelwatch" "$mw_broken"
log "request body cap: $MAX_BODY_BYTES"

# ---- ingest -----------------------------------------------------------------------
SCAN_DIR=""
SCAN_PUT=""
run_ingest() { # shape walsync repeat
    local s="$1" w="$2" r="$3" dir="$OUT/ingest-$1-$2-r$3" line stop_s disk wal seg
    mkdir -p "$dir"
    if ! start_modelwatch "$w" "$dir/data" "$dir/server"; then
        note "ingest $s/$w r$r" "server did not start (stderr: $(tail -c 300 "$dir/server.stderr" | tr '\n' ' '))"
        stop_pid "$SERVER_PID"; return 1
    fi
    mapfile -t ga < <(gen_args "$s" "$INGEST_MB")
    mapfile -t ba < <(body_args)
    log "ingest shape $s (~$(line_bytes_of "$s") B lines), --wal-sync $w, repeat $r: $INGEST_MB MB -> 127.0.0.1:$SERVER_PORT"
    if ! line="$(timeout "$STEP_TIMEOUT" "$LOADGEN" logs put --url "http://127.0.0.1:$SERVER_PORT" \
        --target "mw-$w" --shape "$s" --streams "$STREAMS" --concurrency "$CONCURRENCY" \
        "${ga[@]}" "${ba[@]}" 2>"$dir/loadgen.err")"; then
        note "ingest $s/$w r$r" "put failed: $(tail -c 400 "$dir/loadgen.err" | tr '\n' ' ')$(server_state "$dir/server")"
        stop_pid "$SERVER_PID"; ((KEEP_DATA)) || rm -rf "$dir/data"; return 1
    fi
    log "$line"
    stop_server; stop_s="$STOP_S"
    disk=0; wal=0; seg=0
    [[ -d "$dir/data/logs" ]] && disk="$(du -sb "$dir/data/logs" | cut -f1)"
    [[ -d "$dir/data/logs/wal" ]] && wal="$(du -sb "$dir/data/logs/wal" | cut -f1)"
    [[ -d "$dir/data/logs/segments" ]] && seg="$(du -sb "$dir/data/logs/segments" | cut -f1)"
    record "$line" "{\"repeat\": $r, \"walsync\": \"$w\", \"stop_seconds\": $stop_s, \"disk_bytes\": $disk, \"wal_bytes_after_stop\": $wal, \"segment_bytes\": $seg}"
    if [[ -z "$SCAN_DIR" && "$s" == b && "$w" == always ]] && ((SCAN)); then
        SCAN_DIR="$dir"; SCAN_PUT="$line"
    elif ! ((KEEP_DATA)); then
        rm -rf "$dir/data"
    fi
}

if [[ -z "$mw_broken" ]]; then
    for r in $(seq 1 "$REPEATS"); do
        for s in $SHAPES; do
            for w in $WALSYNCS; do
                if ((SECONDS > INGEST_BUDGET)) && ! { ((SCAN)) && [[ -z "$SCAN_DIR" && "$s" == b && "$w" == always ]]; }; then
                    note "ingest $s/$w r$r" "skipped: the ingest phase passed INGEST_BUDGET=${INGEST_BUDGET}s"
                    continue
                fi
                run_ingest "$s" "$w" "$r" || true
            done
        done
    done
fi

# ---- scan --------------------------------------------------------------------------
timed() { # tool label run cmd... : runs cmd (stdout -> file), records seconds and matched lines
    local tool="$1" label="$2" run="$3" t0 t1 rc=0 n
    shift 3
    t0=$(date +%s%N)
    timeout "$STEP_TIMEOUT" "$@" >"$OUT/match.txt" || rc=$?
    t1=$(date +%s%N)
    # grep/rg exit 1 when nothing matched.
    if ((rc > 1)); then
        note "$tool $label run $run" "exit status $rc: $*"; return 0
    fi
    n="$(wc -l <"$OUT/match.txt")"
    python3 -c 'import json,sys; print(json.dumps({"mode":"baseline","tool":sys.argv[1],"label":sys.argv[2],"run":int(sys.argv[3]),"seconds":round((int(sys.argv[5])-int(sys.argv[4]))/1e9,3),"events":int(sys.argv[6]),"command":sys.argv[7]}))' \
        "$tool" "$label" "$run" "$t0" "$t1" "$n" "$*" >>"$RESULTS"
    log "$tool $label run $run: $(( (t1 - t0) / 1000000 )) ms, $n lines"
}

if ((SCAN)); then
    LINES_FILE="$OUT/lines.txt"
    if [[ -n "$SCAN_DIR" ]]; then
        sd="$SCAN_DIR"
        # The ingest server was stopped gracefully (SIGTERM): its head is
        # checkpointed into compressed blocks. A fresh process serves the scans.
        if start_modelwatch always "$sd/data" "$sd/scan-server"; then
            gtotal="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["message_bytes"])' "$SCAN_PUT")"
            wal="$(du -sb "$sd/data/logs/wal" 2>/dev/null | cut -f1 || echo 0)"
            seg="$(du -sb "$sd/data/logs/segments" 2>/dev/null | cut -f1 || echo 0)"
            for spec in "term|$TERM_PATTERN" "json|$JSON_PATTERN"; do
                label="${spec%%|*}"; pat="${spec#*|}"
                log "FilterLogEvents $label '$pat' over $gtotal message bytes ($SCAN_RUNS runs)"
                if out="$(timeout "$STEP_TIMEOUT" "$LOADGEN" logs filter --url "http://127.0.0.1:$SERVER_PORT" \
                    --target mw --pattern "$pat" --label "$label" --runs "$SCAN_RUNS" 2>"$sd/filter-$label.err")"; then
                    while IFS= read -r l; do
                        [[ -n "$l" ]] || continue
                        log "$l"
                        record "$l" "{\"stored_message_bytes\": $gtotal, \"wal_bytes_at_scan\": $wal, \"segment_bytes\": $seg}"
                    done <<<"$out"
                else
                    note "FilterLogEvents $label" "failed: $(tail -c 400 "$sd/filter-$label.err" | tr '\n' ' ')$(server_state "$sd/scan-server")"
                fi
            done
            stop_server
        else
            note "FilterLogEvents" "server did not restart on the scan data set (stderr: $(tail -c 300 "$sd/scan-server.stderr" | tr '\n' ' '))"
            stop_pid "$SERVER_PID"
        fi
        ((KEEP_DATA)) || rm -rf "$sd/data"
    else
        note "FilterLogEvents" "no shape-b --wal-sync always ingest run succeeded, so there is no data set to scan"
    fi
    # The very same messages (shape b, same seed and timestamps), one per line.
    mapfile -t ga < <(gen_args b "$INGEST_MB")
    log "writing the same lines to $LINES_FILE"
    lines_out="$(timeout "$STEP_TIMEOUT" "$LOADGEN" logs lines "${ga[@]}" --out "$LINES_FILE")" || die "mw-loadgen logs lines failed"
    record "$lines_out" '{}'
    for run in $(seq 1 "$SCAN_RUNS"); do
        timed rg term "$run" rg --no-config -F "$TERM_TOKEN" "$LINES_FILE"
        timed grep term "$run" grep -F "$TERM_TOKEN" "$LINES_FILE"
        timed rg json "$run" rg --no-config "$JSON_REGEX" "$LINES_FILE"
        timed grep json "$run" grep -E "$JSON_REGEX" "$LINES_FILE"
    done
    ((KEEP_DATA)) || rm -f "$LINES_FILE"
    rm -f "$OUT/match.txt"
fi
((KEEP_DATA)) || rm -f "$OUT/modelwatch"

# ---- report ---------------------------------------------------------------------
RG_V="$(rg --version 2>/dev/null | head -n1 || echo '?')"
GREP_V="$(grep --version 2>/dev/null | head -n1 || echo '?')"
python3 "$BENCH/logs_report.py" \
    --results "$RESULTS" --out "$BENCH/RESULTS.md" \
    --command "$CMDLINE" --nproc "$(nproc)" \
    --cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    --mem "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
    --date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    --versions "modelwatch $MW_REV; $RG_V (Debian); $GREP_V; locale ${LC_ALL:-${LANG:-unset}}" \
    --load "before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)" \
    --elapsed "$SECONDS" \
    --params "ingest_mb=$INGEST_MB repeats=$REPEATS shapes=$SHAPES line_bytes_a=$LINE_BYTES_A line_bytes_b=$LINE_BYTES_B walsyncs=$WALSYNCS streams=$STREAMS concurrency=$CONCURRENCY seed=$SEED rare_every=$RARE_EVERY json_every=$JSON_EVERY scan_runs=$SCAN_RUNS max_body_bytes=$MAX_BODY_BYTES" \
    --term "$TERM_PATTERN" --json-pattern "$JSON_PATTERN" --json-regex "$JSON_REGEX"
log "wrote the CloudWatch Logs section of $BENCH/RESULTS.md (raw: $RESULTS); ${SECONDS}s"
