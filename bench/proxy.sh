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
#   PIN=none bench/proxy.sh                 # every process on every core
#   TIMER=coarse bench/proxy.sh             # the generator's requests paced by tokio's 1 ms timer
#   ARRIVALS=poisson bench/proxy.sh         # requests due as a Poisson process of the rate
#   RATES=5000 REPEATS=21 MAX_RATE=0 SECTION=sidecar-5k bench/proxy.sh
#                                           # many repeats at one rate, in a section of its own
#
# Targets:
#   direct           the model server itself (mw-loadgen upstream)
#   nginx            nginx (Debian package) reverse proxy, upstream keep-alive
#   proxy            modelwatch proxy, metrics to the server, 100% capture to the server
#   proxy-dir        modelwatch proxy, metrics to the server, 100% capture to a local folder
#   proxy-nopoll     as proxy, with busy-polling for upstream answers off (--busy-poll-us 0)
#   proxy-nocapture  modelwatch proxy, metrics only
# nginx runs when the `nginx` binary is installed; otherwise its rows are
# marked "not measured".
#
# PIN=sut (the default on 2 or more cores) gives the proxy under test (nginx
# or modelwatch proxy) the last core to itself and runs the load generator,
# the model server and the modelwatch server on the others, as a sidecar is
# deployed (its own CPU; clients and the monitoring server elsewhere). nginx
# then runs one worker per core it has, and modelwatch proxy one serving
# thread per core (its default). PIN=none shares every core among all
# processes. Each layout writes its own section of bench/RESULTS.md.
#
# TIMER=exact (the default) writes each request when it is due, to the
# microsecond (a timerfd per connection). TIMER=coarse waits on tokio's
# millisecond timer, as the generator did before: the requests due within one
# millisecond are written together, a burst of five every millisecond at
# 5k req/s. ARRIVALS=uniform (the default) spaces requests evenly, 1/rate
# apart; ARRIVALS=poisson makes them a Poisson process of the same rate
# (independent exponential gaps, as from many independent clients), seeded
# with the repeat's number so that every target of a repeat gets the same
# arrival times.
#
# SERVER_SCHED=idle (the default) runs the modelwatch server under
# SCHED_IDLE (`chrt --idle 0`): it stores what the proxies send with the CPU
# time the load generator and the model server leave, as a server on another
# host would. It still has to keep up: the report checks that every captured
# record was stored and none dropped. SERVER_SCHED=normal runs it as any
# other process; its ingest bursts then delay the generator and the model
# server sharing its core, which shows up in the capture-to-server target's
# percentiles (see the note in bench/RESULTS.md).
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
TARGETS="${TARGETS:-direct nginx proxy proxy-dir proxy-nocapture}"
STEP_TIMEOUT="${STEP_TIMEOUT:-120}"
WAL_SYNC="${WAL_SYNC:-always}"      # the server's durability while it stores captures
SERVER_SCHED="${SERVER_SCHED:-idle}" # the modelwatch server's scheduling: idle or normal
MAX_RATE="${MAX_RATE:-100000}"      # an offered rate no target reaches: its achieved rate is the target's most (0: skip)
MAX_DURATION="${MAX_DURATION:-5}"
TIMER="${TIMER:-exact}"             # how the generator waits for due times: exact (timerfd) or coarse (tokio's 1 ms timer)
ARRIVALS="${ARRIVALS:-uniform}"     # when requests are due: uniform (every 1/rate) or poisson (exponential gaps, mean 1/rate)
NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ]; then PIN="${PIN:-sut}"; else PIN="${PIN:-none}"; fi
case "$PIN" in
    sut) SUT_CPUS="$((NCPU - 1))"; REST_CPUS="0-$((NCPU - 2))"; NGINX_WORKERS=1
         [ "$NCPU" -eq 2 ] && REST_CPUS=0 ;;
    none) SUT_CPUS="0-$((NCPU - 1))"; REST_CPUS="$SUT_CPUS"; NGINX_WORKERS=auto ;;
    *) echo "PIN must be sut or none" >&2; exit 2 ;;
esac
case "$SERVER_SCHED" in
    idle) command -v chrt >/dev/null || { echo "SERVER_SCHED=idle needs chrt (util-linux)" >&2; exit 2; }
          SERVER_PREFIX=(chrt --idle 0) ;;
    normal) SERVER_PREFIX=() ;;
    *) echo "SERVER_SCHED must be idle or normal" >&2; exit 2 ;;
esac
CMDLINE="RATES=\"$RATES\" DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS REPEATS=$REPEATS TARGETS=\"$TARGETS\" WAL_SYNC=$WAL_SYNC PIN=$PIN SERVER_SCHED=$SERVER_SCHED MAX_RATE=$MAX_RATE TIMER=$TIMER ARRIVALS=$ARRIVALS${SECTION:+ SECTION=$SECTION} bench/proxy.sh"

log() { printf '[proxy-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PIDS=()
declare -A TARGET_PID=()  # the process whose CPU time a target's run is charged
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
CPU_RESULTS="$OUT/cpu.jsonl"
: > "$RESULTS"
: > "$CPU_RESULTS"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the model server and the modelwatch server ------------------------------
UP_PORT=$(free_port)
taskset -c "$REST_CPUS" "$LG" upstream --listen "127.0.0.1:$UP_PORT" > "$OUT/upstream.out" 2> "$OUT/upstream.err" &
PIDS+=($!)
wait_port "$UP_PORT"

SRV_PORT=$(free_port)
taskset -c "$REST_CPUS" "${SERVER_PREFIX[@]}" "$MW" server --listen "127.0.0.1:$SRV_PORT" --data-dir "$OUT/server-data" --wal-sync "$WAL_SYNC" \
    > "$OUT/server.out" 2> "$OUT/server.err" &
PIDS+=($!)
wait_port "$SRV_PORT"

start_proxy() { # name port extra-args...
    local name="$1" port="$2"; shift 2
    taskset -c "$SUT_CPUS" "$MW" proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UP_PORT" --endpoint bench \
        --server "http://127.0.0.1:$SRV_PORT" --capture-buffer-dir "$OUT/$name-buffer" --log warn "$@" \
        > "$OUT/$name.out" 2> "$OUT/$name.err" &
    PIDS+=($!)
    TARGET_PID[$name]=$!
    wait_port "$port"
}

PX_PORT=$(free_port); PXN_PORT=$(free_port); PXD_PORT=$(free_port); PXP_PORT=$(free_port); NG_PORT=$(free_port)
case " $TARGETS " in *" proxy "*) start_proxy proxy "$PX_PORT" --capture-percent 100 ;; esac
case " $TARGETS " in *" proxy-dir "*) start_proxy proxy-dir "$PXD_PORT" --capture-percent 100 --capture-dir "$OUT/proxy-dir-captures" ;; esac
case " $TARGETS " in *" proxy-nocapture "*) start_proxy proxy-nocapture "$PXN_PORT" ;; esac
case " $TARGETS " in *" proxy-nopoll "*) start_proxy proxy-nopoll "$PXP_PORT" --capture-percent 100 --busy-poll-us 0 ;; esac

NGINX_VERSION="not installed"
if [ -n "$NGINX" ] && [[ " $TARGETS " == *" nginx "* ]]; then
    NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    mkdir -p "$OUT/nginx"
    cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
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
    taskset -c "$SUT_CPUS" "$NGINX" -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" > "$OUT/nginx.out" 2> "$OUT/nginx.err" &
    PIDS+=($!)
    TARGET_PID[nginx]=$!
    wait_port "$NG_PORT"
fi

# ---- runs ------------------------------------------------------------------
run() { # target rate [duration]
    local target="$1" rate="$2" duration="${3:-$DURATION}" url path
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
        proxy-dir) url="http://127.0.0.1:$PXD_PORT"; path=/endpoints/bench/invocations ;;
        proxy-nopoll) url="http://127.0.0.1:$PXP_PORT"; path=/endpoints/bench/invocations ;;
        *) die "unknown target $target" ;;
    esac
    log "$target at $rate req/s for ${duration}s (run $rep of $REPEATS)"
    local before after dropped_before dropped_after dropped=""
    dropped_before="$(capture_dropped "$target")"
    before="$(cpu_ticks "$target")"
    timeout "$STEP_TIMEOUT" taskset -c "$REST_CPUS" "$LG" rate --url "$url" --path "$path" --rate "$rate" --duration "$duration" \
        --warmup "$WARMUP" --connections "$CONNECTIONS" --timer "$TIMER" --arrivals "$ARRIVALS" --seed "$rep" --label "$target" >> "$RESULTS" \
        || die "load generator failed for $target at $rate"
    after="$(cpu_ticks "$target")"
    dropped_after="$(capture_dropped "$target")"
    if [ -n "$dropped_before" ] && [ -n "$dropped_after" ]; then
        dropped=",\"capture_dropped\":$((dropped_after - dropped_before))"
    fi
    if [ -n "$before" ] && [ -n "$after" ]; then
        printf '{"label":"%s","rate":%s,"rep":%s,"seconds":%s,"ticks_per_s":%s,"before":[%s],"after":[%s]%s}\n' \
            "$target" "$rate" "$rep" "$(python3 -c "print($duration + $WARMUP)")" "$(getconf CLK_TCK)" \
            "${before// /,}" "${after// /,}" "$dropped" >> "$CPU_RESULTS"
    fi
}
# Records a capturing proxy has dropped so far (nothing for other targets).
# Drops are counted when they happen, so the difference around a run is that
# run's (records written lag by a flush interval, and are not split so).
capture_dropped() { # target
    local port
    case "$1" in proxy) port="$PX_PORT" ;; proxy-dir) port="$PXD_PORT" ;; proxy-nopoll) port="$PXP_PORT" ;; *) return 0 ;; esac
    python3 -c "
import json, urllib.request
print(json.load(urllib.request.urlopen('http://127.0.0.1:$port/_modelwatch/stats'))['capture']['dropped'])" 2>/dev/null || true
}
# User and system CPU ticks of a proxy under test, then those of its serving
# threads ("user sys serving-user serving-sys"): every thread of a modelwatch
# proxy (serving, capture, metrics) and its `proxy-N` threads; nginx's
# workers, which do all of its serving.
cpu_ticks() { # target
    local pid="${TARGET_PID[$1]:-}" pids p t u=0 s=0 su=0 ss=0
    [ -n "$pid" ] || return 0
    if [ "$1" = nginx ]; then
        pids="$(pgrep -P "$pid" || true)"
        for p in $pids; do
            read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
            u=$((u + f[11])); s=$((s + f[12]))
        done
        su=$u; ss=$s
    else
        read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 0
        u=${f[11]}; s=${f[12]}
        for t in /proc/"$pid"/task/*; do
            case "$(cat "$t/comm" 2>/dev/null)" in proxy-*) ;; *) continue ;; esac
            read -r -a f < <(sed 's/^.*) //' "$t/stat" 2>/dev/null) || continue
            su=$((su + f[11])); ss=$((ss + f[12]))
        done
    fi
    echo "$u $s $su $ss"
}
# Each repeat starts one target further along the list, so no target always
# runs right after the same other one (a target's p99 can depend on what the
# previous run left behind: dirty pages, a busy core, a cold cache).
rotate() { # "list" k
    local -a t=($1)
    local k=$(($2 % ${#t[@]}))
    echo "${t[@]:k}" "${t[@]:0:k}"
}
for rep in $(seq 1 "$REPEATS"); do
    for rate in $RATES; do
        for target in $(rotate "$TARGETS" $((rep - 1))); do
            run "$target" "$rate"
        done
    done
    if [ "$MAX_RATE" -gt 0 ]; then
        for target in $(rotate "$TARGETS" $((rep - 1))); do
            run "$target" "$MAX_RATE" "$MAX_DURATION"
        done
    fi
done

# what the capturing proxy did with its records
capture_stats() { # port
    python3 -c "
import json, urllib.request
print(json.dumps(json.load(urllib.request.urlopen('http://127.0.0.1:$1/_modelwatch/stats'))['capture']))"
}
CAPTURE_STATS="{}"
CAPTURE_DIR_STATS="{}"
CAPTURE_NOPOLL_STATS="{}"
sleep 2
[[ " $TARGETS " == *" proxy "* ]] && CAPTURE_STATS="$(capture_stats "$PX_PORT")"
[[ " $TARGETS " == *" proxy-dir "* ]] && CAPTURE_DIR_STATS="$(capture_stats "$PXD_PORT")"
[[ " $TARGETS " == *" proxy-nopoll "* ]] && CAPTURE_NOPOLL_STATS="$(capture_stats "$PXP_PORT")"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$BENCH/proxy_report.py" --results "$RESULTS" --cpu "$CPU_RESULTS" --rates "$RATES" --max-rate "$MAX_RATE" --duration "$DURATION" \
    --warmup "$WARMUP" --connections "$CONNECTIONS" --repeats "$REPEATS" --nginx "$NGINX_VERSION" --capture "$CAPTURE_STATS" \
    --capture-dir "$CAPTURE_DIR_STATS" --capture-nopoll "$CAPTURE_NOPOLL_STATS" --pin "$PIN" --sut-cpus "$SUT_CPUS" --rest-cpus "$REST_CPUS" \
    --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --load-before "$LOAD_BEFORE" \
    --load-after "$LOAD_AFTER" --wal-sync "$WAL_SYNC" --server-sched "$SERVER_SCHED" --timer "$TIMER" --arrivals "$ARRIVALS" --command "$CMDLINE" --section "${SECTION:-}" \
    --out "$BENCH/RESULTS.md"
log "wrote the Sidecar ($PIN) section of bench/RESULTS.md"
