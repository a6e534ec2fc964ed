#!/usr/bin/env bash
# Sidecar benchmark: latency the inference proxy adds in front of a model
# server, at fixed request rates, with 100% data capture on, side by side in
# one run with calling the model directly and with nginx as a plain reverse
# proxy in front of the same model. 127.0.0.1 only. Writes the "Sidecar"
# section of bench/RESULTS.md (other sections are left as they are).
#
#   bench/proxy.sh                          # full run (defaults below)
#   RATES="1000" DURATION=3 bench/proxy.sh  # quick run
#   TARGETS="direct proxy" bench/proxy.sh   # a subset
#
# Targets:
#   direct           the model server itself (mw-loadgen upstream)
#   nginx            nginx (Debian package) reverse proxy, upstream keep-alive
#   proxy            modelwatch proxy, metrics to the server, 100% capture to the server
#   proxy-nocapture  modelwatch proxy, metrics only
# nginx runs when the `nginx` binary is installed; otherwise its rows are
# marked "not measured".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out/proxy"
cd "$ROOT"

RATES="${RATES:-1000 5000 10000}"
DURATION="${DURATION:-10}"          # measured seconds per run
WARMUP="${WARMUP:-2}"               # unmeasured seconds before each run
CONNECTIONS="${CONNECTIONS:-64}"    # keep-alive connections of the generator
REPEATS="${REPEATS:-3}"             # runs per target and rate, interleaved; medians reported
TARGETS="${TARGETS:-direct nginx proxy proxy-nocapture}"
STEP_TIMEOUT="${STEP_TIMEOUT:-120}"
WAL_SYNC="${WAL_SYNC:-always}"      # the server's durability while it stores captures
CMDLINE="RATES=\"$RATES\" DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS REPEATS=$REPEATS TARGETS=\"$TARGETS\" WAL_SYNC=$WAL_SYNC bench/proxy.sh"

log() { printf '[proxy-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PIDS=()
stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop_pid "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    local port="$1" i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$port"
}

# ---- binaries ---------------------------------------------------------------
if [ -z "${MODELWATCH_BIN:-}" ] || [ -z "${LOADGEN_BIN:-}" ]; then
    log "building release binaries"
    cargo build --release -p modelwatch -p mw-loadgen >&2
fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
MW="${MODELWATCH_BIN:-$target_dir/release/modelwatch}"
LG="${LOADGEN_BIN:-$target_dir/release/mw-loadgen}"
NGINX="$(command -v nginx || true)"
[ -x "$MW" ] && [ -x "$LG" ] || die "binaries missing"

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the model server and the modelwatch server ------------------------------
UP_PORT=$(free_port)
"$LG" upstream --listen "127.0.0.1:$UP_PORT" > "$OUT/upstream.out" 2> "$OUT/upstream.err" &
PIDS+=($!)
wait_port "$UP_PORT"

SRV_PORT=$(free_port)
"$MW" server --listen "127.0.0.1:$SRV_PORT" --data-dir "$OUT/server-data" --wal-sync "$WAL_SYNC" \
    > "$OUT/server.out" 2> "$OUT/server.err" &
PIDS+=($!)
wait_port "$SRV_PORT"

start_proxy() { # name port extra-args...
    local name="$1" port="$2"; shift 2
    "$MW" proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UP_PORT" --endpoint bench \
        --server "http://127.0.0.1:$SRV_PORT" --capture-buffer-dir "$OUT/$name-buffer" --log warn "$@" \
        > "$OUT/$name.out" 2> "$OUT/$name.err" &
    PIDS+=($!)
    wait_port "$port"
}

PX_PORT=$(free_port); PXN_PORT=$(free_port); NG_PORT=$(free_port)
case " $TARGETS " in *" proxy "*) start_proxy proxy "$PX_PORT" --capture-percent 100 ;; esac
case " $TARGETS " in *" proxy-nocapture "*) start_proxy proxy-nocapture "$PXN_PORT" ;; esac

NGINX_VERSION="not installed"
if [ -n "$NGINX" ] && [[ " $TARGETS " == *" nginx "* ]]; then
    NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    mkdir -p "$OUT/nginx"
    cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/body;
    proxy_temp_path $OUT/nginx/proxy;
    fastcgi_temp_path $OUT/nginx/fastcgi;
    uwsgi_temp_path $OUT/nginx/uwsgi;
    scgi_temp_path $OUT/nginx/scgi;
    upstream model { server 127.0.0.1:$UP_PORT; keepalive 128; }
    server {
        listen 127.0.0.1:$NG_PORT;
        client_max_body_size 6m;
        location / {
            proxy_pass http://model;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
    "$NGINX" -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" > "$OUT/nginx.out" 2> "$OUT/nginx.err" &
    PIDS+=($!)
    wait_port "$NG_PORT"
fi

# ---- runs ------------------------------------------------------------------
run() { # target rate
    local target="$1" rate="$2" url path
    case "$target" in
        direct) url="http://127.0.0.1:$UP_PORT"; path=/invocations ;;
        nginx)
            if [ "$NGINX_VERSION" = "not installed" ]; then
                printf '{"label":"nginx","rate":%s,"not_measured":"nginx is not installed"}\n' "$rate" >> "$RESULTS"
                return
            fi
            url="http://127.0.0.1:$NG_PORT"; path=/invocations ;;
        proxy) url="http://127.0.0.1:$PX_PORT"; path=/endpoints/bench/invocations ;;
        proxy-nocapture) url="http://127.0.0.1:$PXN_PORT"; path=/endpoints/bench/invocations ;;
        *) die "unknown target $target" ;;
    esac
    log "$target at $rate req/s for ${DURATION}s (run $rep of $REPEATS)"
    timeout "$STEP_TIMEOUT" "$LG" rate --url "$url" --path "$path" --rate "$rate" --duration "$DURATION" \
        --warmup "$WARMUP" --connections "$CONNECTIONS" --label "$target" >> "$RESULTS" \
        || die "load generator failed for $target at $rate"
}
for rep in $(seq 1 "$REPEATS"); do
    for rate in $RATES; do
        for target in $TARGETS; do
            run "$target" "$rate"
        done
    done
done

# what the capturing proxy did with its records
CAPTURE_STATS="{}"
if [[ " $TARGETS " == *" proxy "* ]]; then
    sleep 2
    CAPTURE_STATS="$(python3 -c "
import json, urllib.request
print(json.dumps(json.load(urllib.request.urlopen('http://127.0.0.1:$PX_PORT/_modelwatch/stats'))['capture']))")"
fi
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$BENCH/proxy_report.py" --results "$RESULTS" --rates "$RATES" --duration "$DURATION" \
    --warmup "$WARMUP" --connections "$CONNECTIONS" --repeats "$REPEATS" --nginx "$NGINX_VERSION" --capture "$CAPTURE_STATS" \
    --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --load-before "$LOAD_BEFORE" \
    --load-after "$LOAD_AFTER" --wal-sync "$WAL_SYNC" --command "$CMDLINE" --out "$BENCH/RESULTS.md"
log "wrote the Sidecar section of bench/RESULTS.md"
