#!/usr/bin/env bash
# Ingest / query benchmark: modelwatch vs VictoriaMetrics vs moto, same data,
# same run, same machine, 127.0.0.1 only. Writes bench/RESULTS.md.
#
#   bench/ingest.sh                  # full run (defaults below)
#   BATCHES=500 REPEATS=1 bench/ingest.sh   # quick run
#   TARGETS="vm moto" bench/ingest.sh       # baselines only
#
# Every step runs under `timeout`; every server is started under `timeout`
# too and stopped (SIGTERM, then SIGKILL) when its step ends or on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out"
cd "$ROOT"

# ---- parameters (environment overrides) ------------------------------------
BATCHES="${BATCHES:-3000}"            # PutMetricData calls per modelwatch / VM run
BATCH_SIZE="${BATCH_SIZE:-1000}"      # datapoints per call (CloudWatch max: 1000)
SERIES="${SERIES:-1000}"              # distinct series
CONCURRENCY="${CONCURRENCY:-4}"       # keep-alive connections of the generator
MOTO_BATCHES="${MOTO_BATCHES:-20}"    # moto is slow: first N batches of the same data
REPEATS="${REPEATS:-3}"               # fresh server + data dir per repeat; median reported
QUERY_REQUESTS="${QUERY_REQUESTS:-500}"
MOTO_QUERY_REQUESTS="${MOTO_QUERY_REQUESTS:-100}"
STEP_TIMEOUT="${STEP_TIMEOUT:-300}"   # seconds, one loadgen invocation
SERVER_TIMEOUT="${SERVER_TIMEOUT:-900}" # seconds, hard cap on a server's life
# MODELWATCH_BIN=path: use that modelwatch binary instead of building one.
TARGETS="${TARGETS:-mw-always-json mw-always-cbor mw-none-json mw-none-cbor vm moto}"
KEEP_DATA="${KEEP_DATA:-0}"           # 1: keep data dirs under bench/out/
SEED="${SEED:-1}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}" # the version the wire examples were captured with

CMDLINE="BATCHES=$BATCHES BATCH_SIZE=$BATCH_SIZE SERIES=$SERIES CONCURRENCY=$CONCURRENCY MOTO_BATCHES=$MOTO_BATCHES REPEATS=$REPEATS QUERY_REQUESTS=$QUERY_REQUESTS MOTO_QUERY_REQUESTS=$MOTO_QUERY_REQUESTS TARGETS=\"$TARGETS\" bench/ingest.sh${*:+ $*}"

log() { printf '[ingest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- process bookkeeping ----------------------------------------------------
PIDS=()
stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    log "pid $pid ignored SIGTERM for 10s, killing"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_tcp() { # port seconds
    local port="$1" deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}

# ---- dependencies -----------------------------------------------------------
ensure_vm() {
    command -v victoria-metrics >/dev/null && return 0
    log "installing victoria-metrics (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    if ! timeout 600 apt-get install -y victoria-metrics >&2; then
        timeout 600 apt-get update >&2
        timeout 600 apt-get install -y victoria-metrics >&2
    fi
    # The package ships a systemd unit; this bench starts its own instance.
    command -v victoria-metrics >/dev/null || die "victoria-metrics binary not found (dpkg -L victoria-metrics)"
}

MOTO_SERVER=""
ensure_moto() {
    local venv="$BENCH/.venv"
    if [[ ! -x "$venv/bin/moto_server" ]]; then
        log "creating $venv with moto[server]==$MOTO_VERSION"
        python3 -m venv "$venv"
        timeout 600 "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION" >&2 ||
            timeout 600 "$venv/bin/pip" install -q 'moto[server]' >&2
    fi
    MOTO_SERVER="$venv/bin/moto_server"
    [[ -x "$MOTO_SERVER" ]] || die "moto_server not installed in $venv"
}

# ---- build --------------------------------------------------------------------
need_mw=0; need_vm=0; need_moto=0
for t in $TARGETS; do
    case "$t" in
        mw-*) need_mw=1 ;;
        vm) need_vm=1 ;;
        moto) need_moto=1 ;;
        *) die "unknown target $t" ;;
    esac
done
((need_vm)) && ensure_vm
((need_moto)) && ensure_moto

log "building release binaries"
timeout 1200 cargo build --release -p mw-loadgen >&2
LOADGEN="$ROOT/target/release/mw-loadgen"
MODELWATCH="${MODELWATCH_BIN:-$ROOT/target/release/modelwatch}"
MW_BUILD_ERR=""
if [[ -n "${MODELWATCH_BIN:-}" ]]; then
    [[ -x "$MODELWATCH_BIN" ]] || die "MODELWATCH_BIN=$MODELWATCH_BIN is not an executable"
    log "using prebuilt modelwatch $MODELWATCH_BIN (not rebuilt)"
elif ((need_mw)); then
    if ! timeout 1200 cargo build --release --bin modelwatch >&2; then
        MW_BUILD_ERR="cargo build --release --bin modelwatch failed"
        log "$MW_BUILD_ERR; modelwatch rows will be skipped"
    fi
fi

# ---- run ------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
# One base timestamp for every target: identical datapoints everywhere.
BASE_TS=$(( $(date +%s) - 3570 ))

note() { # target protocol message -> a "skipped" record for the report
    python3 -c 'import json,sys; print(json.dumps({"mode":"skip","target":sys.argv[1],"protocol":sys.argv[2],"reason":sys.argv[3]}))' "$1" "$2" "$3" >>"$RESULTS"
    log "$1/$2: $3"
}

SERVER_PID=""; SERVER_PORT=""
start_modelwatch() { # walsync datadir log
    local fifo_out="$3.stdout"
    timeout "$SERVER_TIMEOUT" "$MODELWATCH" server --listen 127.0.0.1:0 --data-dir "$2" --wal-sync "$1" \
        >"$fifo_out" 2>"$3" &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + 30))
    SERVER_PORT=""
    while ((SECONDS < deadline)); do
        SERVER_PORT="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$fifo_out" | head -n1)"
        [[ -n "$SERVER_PORT" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}
start_vm() { # datadir log
    SERVER_PORT="$(free_port)"
    timeout "$SERVER_TIMEOUT" victoria-metrics -storageDataPath "$1" -httpListenAddr "127.0.0.1:$SERVER_PORT" \
        >"$2" 2>&1 &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    wait_tcp "$SERVER_PORT" 30
}
start_moto() { # log
    SERVER_PORT="$(free_port)"
    timeout "$SERVER_TIMEOUT" "$MOTO_SERVER" -H 127.0.0.1 -p "$SERVER_PORT" >"$1" 2>&1 &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    wait_tcp "$SERVER_PORT" 60
}

loadgen() { # label args... ; appends its JSON line to RESULTS, adds "repeat"/"disk" later
    local out
    out="$(timeout "$STEP_TIMEOUT" "$LOADGEN" "$@")" || return 1
    printf '%s\n' "$out"
}

record() { # json-line extra-json
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' "$1" "$2" >>"$RESULTS"
}

# Why a server went away, for the report: did it exit, and its last log line.
server_state() { # dir
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        printf ' [server still running]'
    else
        printf ' [server process had exited; last log line: %s]' \
            "$(tail -n1 "$1/server.log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-200)"
    fi
}

mw_broken=""
run_target() { # target repeat attempt ; returns 1 when a modelwatch run failed
    local t="$1" r="$2" attempt="$3" dir="$OUT/$1-r$2" proto kind walsync line qline disk verified
    rm -rf "$dir"; mkdir -p "$dir"
    case "$t" in
        mw-*)
            walsync="${t#mw-}"; walsync="${walsync%-*}"; proto="${t##*-}"; kind="modelwatch"
            if [[ -n "$MW_BUILD_ERR" ]]; then note "$t" "$proto" "$MW_BUILD_ERR"; return 0; fi
            if [[ -n "$mw_broken" ]]; then note "$t" "$proto" "$mw_broken"; return 0; fi
            if ! start_modelwatch "$walsync" "$dir/data" "$dir/server.log"; then
                mw_broken="server did not print 'listening on 127.0.0.1:PORT' within 30s (stdout: $(tail -c 200 "$dir/server.log.stdout" | tr '\n' ' ') stderr: $(tail -c 300 "$dir/server.log" | tr '\n' ' '))"
                note "$t" "$proto" "$mw_broken"; stop_pid "$SERVER_PID"; return 0
            fi
            ;;
        vm) proto="vm"; kind="victoria-metrics"
            start_vm "$dir/data" "$dir/server.log" || die "VictoriaMetrics did not start (see $dir/server.log)" ;;
        moto) proto="json"; kind="moto"
            start_moto "$dir/server.log" || die "moto_server did not start (see $dir/server.log)" ;;
    esac
    local url="http://127.0.0.1:$SERVER_PORT" batches="$BATCHES" qreq="$QUERY_REQUESTS"
    [[ "$t" == moto ]] && { batches="$MOTO_BATCHES"; qreq="$MOTO_QUERY_REQUESTS"; }
    local common=(--url "$url" --target "$t" --series "$SERIES" --base-ts "$BASE_TS" --seed "$SEED")
    log "$t repeat $r: put $batches x $BATCH_SIZE datapoints ($proto) -> $url"
    if ! line="$(loadgen put "${common[@]}" --protocol "$proto" --batches "$batches" \
        --batch-size "$BATCH_SIZE" --concurrency "$CONCURRENCY" 2>"$dir/loadgen.err")"; then
        local why
        why="put failed: $(tail -c 400 "$dir/loadgen.err" | tr '\n' ' ')$(server_state "$dir")"
        stop_pid "$SERVER_PID"
        ((KEEP_DATA)) || rm -rf "$dir/data"
        if [[ "$kind" == modelwatch ]]; then
            note "$t" "$proto" "repeat $r attempt $attempt: $why"; return 1
        fi
        die "$t: $why"
    fi
    log "$line"
    verified=""
    if [[ "$kind" == victoria-metrics ]]; then
        # Make sure VM really stored every datapoint (it acks before flushing).
        curl -fsS "$url/internal/force_flush" >/dev/null || true
        sleep 1
        verified="$(curl -fsS "$url/api/v1/query" --data-urlencode "query=sum(count_over_time(Latency[3h]))" \
            --data-urlencode "time=$((BASE_TS + 3600))" |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' || echo "?")"
    fi
    if [[ "$kind" != victoria-metrics ]] && ((qreq > 0)); then
        log "$t repeat $r: query $qreq GetMetricData ($proto)"
        if qline="$(loadgen query "${common[@]}" --protocol "$proto" --requests "$qreq" \
            --concurrency 1 2>>"$dir/loadgen.err")"; then
            log "$qline"
            record "$qline" "{\"repeat\": $r, \"kind\": \"$kind\"}"
        else
            note "$t" "$proto" "repeat $r: query failed: $(tail -c 400 "$dir/loadgen.err" | tr '\n' ' ')$(server_state "$dir")"
        fi
    fi
    stop_pid "$SERVER_PID"
    disk=0
    [[ -d "$dir/data" ]] && disk="$(du -sb "$dir/data" | cut -f1)"
    record "$line" "{\"repeat\": $r, \"kind\": \"$kind\", \"disk_bytes\": $disk, \"verified_datapoints\": \"${verified}\"}"
    ((KEEP_DATA)) || rm -rf "$dir/data"
}

for r in $(seq 1 "$REPEATS"); do
    for t in $TARGETS; do
        # A failed modelwatch run (non-2xx, server gone) is retried once on a
        # fresh server; both failures stay listed in the report.
        run_target "$t" "$r" 1 || run_target "$t" "$r" 2 || true
    done
done

# ---- report ---------------------------------------------------------------------
MW_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo no-commit)"
[[ -n "$(git -C "$ROOT" status --porcelain -- crates 2>/dev/null)" ]] && MW_REV="$MW_REV+uncommitted-changes"
# MODELWATCH_REV labels a prebuilt binary (e.g. the commit it was built from).
[[ -n "${MODELWATCH_BIN:-}" ]] && MW_REV="${MODELWATCH_REV:-unknown revision} (prebuilt $MODELWATCH_BIN, sha256 $(sha256sum "$MODELWATCH_BIN" | cut -c1-12); this tree: $MW_REV)"
VM_VERSION="$(dpkg-query -W -f '${Version}' victoria-metrics 2>/dev/null || echo '?')"
MOTO_V="$("$BENCH/.venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
python3 "$BENCH/report.py" \
    --results "$RESULTS" --out "$BENCH/RESULTS.md" \
    --command "$CMDLINE" --nproc "$(nproc)" \
    --cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    --date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    --versions "modelwatch $MW_REV; victoria-metrics $VM_VERSION (Debian); moto $MOTO_V" \
    --load "before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)" \
    --params "batches=$BATCHES moto_batches=$MOTO_BATCHES batch_size=$BATCH_SIZE series=$SERIES concurrency=$CONCURRENCY repeats=$REPEATS"
log "wrote $BENCH/RESULTS.md"
