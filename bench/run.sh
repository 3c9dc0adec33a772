#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Throughput, latency and memory of tracebridge against a direct connection
# and an nginx reverse proxy, all on 127.0.0.1. See docs/BENCHMARKS.md.
#
# usage: bench/run.sh BINARY
#
# Layout (2 cores): the proxy under test runs on core 0; the backend nginx and
# wrk share core 1. Every process the script starts is stopped by PID at exit.
#
# Environment (defaults in brackets):
#   BENCH_DURATION  seconds per wrk run [10]       BENCH_CONNS    wrk -c [50]
#   BENCH_THREADS   wrk -t [1]                     BENCH_ROUNDS   interleaved rounds [3]
#   BENCH_WARMUP    warm-up seconds per config [2]
#   BENCH_IDLE_CONNS  idle keep-alive connections for the memory test [10000]
#   BENCH_OUT       where results.txt and logs go [build/bench]
#   BENCH_NGINX     nginx binary [/usr/sbin/nginx]
#   BENCH_POOL      idle upstream connections kept by each proxy: nginx
#                   `keepalive`, tracebridge --max-idle-upstream [32]
#   BENCH_QUIET_WAIT  before each run, wait up to this many seconds for both
#                   cores to be idle (shared machines) [30]
#   BENCH_PROXY_CPU / BENCH_LOAD_CPU  cores [0 / 1]
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 BINARY   (an executable tracebridge)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "$1")
DURATION=${BENCH_DURATION:-10}
WRK_CONNS=${BENCH_CONNS:-50}
WRK_THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
OUT=${BENCH_OUT:-$ROOT/build/bench}
NGINX=${BENCH_NGINX:-/usr/sbin/nginx}
POOL=${BENCH_POOL:-32}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
BODY="tracebridge benchmark backend"
# Every request carries a Java-agent sw8 (protocols.md §16, vector 47).
TRACE_HEADER="sw8: 1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-c3ZjLWE=-aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA=="

for tool in wrk taskset python3 ps "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench: '$tool' not found (scripts/install-deps.sh bench)" >&2
        exit 1
    }
done
if [ "$(nproc --all)" -lt 2 ]; then
    echo "bench: fewer than 2 CPUs, everything shares core 0" >&2
    PROXY_CPU=0 LOAD_CPU=0
fi

# One fd per idle connection in the client and in the proxy, plus slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 1024)) ]; then
    echo "bench: ulimit -n is $NOFILE (hard limit $(ulimit -Hn)):" \
        "idle test reduced to $((NOFILE - 1024)) connections" >&2
    IDLE_CONNS=$((NOFILE - 1024))
fi
[ "$NOFILE" = unlimited ] && NOFILE=1048576

mkdir -p "$OUT"
RAW=$OUT/results.txt
TMP=$(mktemp -d /tmp/tracebridge-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers run as nobody
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }
raw() { printf '%s\n' "$*" >>"$RAW"; }
die() {
    log "error: $*"
    raw "error: $*"
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT PID
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
forget_pid() { # drop a stopped PID from the cleanup list
    local i
    for i in "${!PIDS[@]}"; do
        [ "${PIDS[$i]}" = "$1" ] && unset 'PIDS[i]'
    done
    return 0
}

# stop PID [SIGNAL]: signals, waits up to 10 s, returns the exit status.
stop() {
    local pid=$1 sig=${2:-TERM} status=0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        status=137
    fi
    wait "$pid" 2>/dev/null || status=$?
    forget_pid "$pid"
    return "$status"
}

# --- nginx -------------------------------------------------------------------

# write_nginx_conf DIR PORT WORKER_CONNECTIONS HTTP_BODY
write_nginx_conf() {
    local dir=$1
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $3; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/client;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
$4
}
EOF
}

# start_nginx NAME CPU: starts nginx on $TMP/NAME/nginx.conf; sets NGINX_PID
# (master) and NGINX_WORKER.
start_nginx() {
    local dir=$TMP/$1 port
    port=$(sed -n 's/.*listen 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/nginx.conf")
    taskset -c "$2" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
        >"$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$port" "$NGINX_PID" || {
        cat "$dir/error.log" >&2 || true
        die "nginx '$1' did not start"
    }
    NGINX_WORKER=
    for _ in $(seq 50); do
        NGINX_WORKER=$(ps -o pid= --ppid "$NGINX_PID" | head -n 1 | tr -d ' ')
        [ -n "$NGINX_WORKER" ] && break
        sleep 0.05
    done
    [ -n "$NGINX_WORKER" ] || die "nginx '$1': no worker process"
}

start_backend() {
    BACKEND_PORT=$(free_port)
    write_nginx_conf "$TMP/backend" "$BACKEND_PORT" 4096 "    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / { default_type text/plain; return 200 \"$BODY\n\"; }
        location = /backend-status { stub_status; }
        # An OTLP sink for the tracing runs: reads the body, answers 200.
        location = /v1/traces { client_max_body_size 64m; return 200; }
    }"
    start_nginx backend "$LOAD_CPU"
    BACKEND_PID=$NGINX_PID BACKEND_WORKER=$NGINX_WORKER
}

# start_nginx_proxy NAME: sets NGX_PORT, NGX_PID (master), NGX_WORKER.
start_nginx_proxy() {
    NGX_PORT=$(free_port)
    write_nginx_conf "$TMP/$1" "$NGX_PORT" $((IDLE_CONNS + 1024)) "    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive $POOL;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    start_nginx "$1" "$PROXY_CPU"
    NGX_PID=$NGINX_PID NGX_WORKER=$NGINX_WORKER
}

# --- tracebridge ---------------------------------------------------------------

# start_tb NAME [ARGS...]: sets TB_PORT, TB_PID, TB_LOG, and TBPORT[NAME],
# TBPID[NAME], TBLOG[NAME]. Environment for the process: the TB_ENV array
# (VAR=value words), empty by default.
declare -A TBPORT TBPID TBLOG
TB_ENV=()
start_tb() {
    local name=$1
    shift
    TB_PORT=$(free_port)
    TB_LOG=$TMP/$name.log
    # The admin listener stays on, as deployed, on a port of its own: the
    # default one would collide between variants and with other proxies.
    env "${TB_ENV[@]}" taskset -c "$PROXY_CPU" "$BIN" --listen "127.0.0.1:$TB_PORT" \
        --admin "127.0.0.1:$(free_port)" \
        --upstream "127.0.0.1:$BACKEND_PORT" --workers 1 --max-idle-upstream "$POOL" "$@" 2>"$TB_LOG" &
    TB_PID=$!
    PIDS+=("$TB_PID")
    TBPORT[$name]=$TB_PORT TBPID[$name]=$TB_PID TBLOG[$name]=$TB_LOG
    # Wait for the log line rather than connecting: a probe connection would
    # be counted in the startup RSS.
    for _ in $(seq 100); do
        grep -q 'event=listening' "$TB_LOG" && return 0
        kill -0 "$TB_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$TB_LOG" >&2
    die "tracebridge '$name' did not start"
}

# tb_log_problems LOG: warn/error lines and conn_abort lines in a log.
tb_log_problems() { grep -cE 'level=(warn|error)|event=conn_abort' "$1" || true; }

# backend_accepts: connections the backend has accepted so far (stub_status),
# to count the upstream connections a proxy opened during a run.
backend_accepts() {
    python3 - "$BACKEND_PORT" <<'EOF'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/backend-status" % sys.argv[1], timeout=5).read()
print(body.decode().splitlines()[2].split()[0])
EOF
}

# cpu_busy SECONDS: how busy each core is over SECONDS while none of the
# benchmark's processes is working, e.g. "cpu0=0% cpu1=3%". Anything well
# above zero is another tenant and makes the next run noisy.
cpu_busy() {
    local a b
    a=$(grep '^cpu[0-9]' /proc/stat)
    sleep "$1"
    b=$(grep '^cpu[0-9]' /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{
        t = 0; for (i = 2; i <= NF; i++) t += $i; idle = $5 + $6
        if ($1 in t0) { printf "%s%s=%.0f%%", sep, $1, 100 * (1 - (idle - i0[$1]) / (t - t0[$1])); sep = " " }
        else { t0[$1] = t; i0[$1] = idle } } END { print "" }'
}

# wait_quiet SECONDS: waits (1 s samples, at most SECONDS) until no core is
# over 10% busy, then prints the last sample. Other work on a shared machine
# is the main source of noise; this only avoids starting a run in the middle
# of it.
wait_quiet() {
    local end=$((SECONDS + $1)) b max
    while :; do
        b=$(cpu_busy 1)
        max=$(grep -o '[0-9]*%' <<<"$b" | tr -d % | sort -n | tail -n 1)
        if [ "${max:-0}" -le 10 ] || [ "$SECONDS" -ge "$end" ]; then
            echo "$b"
            return
        fi
    done
}

# CPU time in clock ticks: busy_ticks for the whole machine (all cores, idle
# and iowait excluded), pid_ticks for one process (user + system).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
pid_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

time_wait_count() {
    if command -v ss >/dev/null 2>&1; then ss -Htan state time-wait | wc -l; else echo n/a; fi
}

# --- wrk -------------------------------------------------------------------------

# to_us VALUE_WITH_UNIT: wrk latency (e.g. 1.23ms) in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : (u == "m") ? 60000000 : -1
        if (f < 0) { print "nan"; exit } printf "%.0f\n", n * f }'
}

# run_wrk CONFIG PORT SECONDS OUTFILE: prints "rps p50_us p99_us errors non2xx".
run_wrk() {
    local out=$4 rps p50 p99 errs non2xx
    local TIMEFORMAT='%3U %3S' # wrk's CPU seconds go to OUTFILE.cpu
    { time timeout $(($3 + 30)) taskset -c "$LOAD_CPU" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" \
        -d"$3"s --latency -H "$TRACE_HEADER" "http://127.0.0.1:$2/" >"$out" 2>&1; } 2>"$out.cpu" || true
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$out")
    [ -n "$rps" ] || {
        cat "$out" >&2
        die "wrk against $1 produced no result"
    }
    echo "$rps $(to_us "$p50") $(to_us "$p99") ${errs:-0} ${non2xx:-0}"
}

median() { sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
fmt_us() { awk -v u="$1" 'BEGIN { if (u >= 1000) printf "%.2fms", u / 1000; else printf "%dus", u }'; }

# proxy_rss CONFIG: RSS of the process serving CONFIG (nginx: its worker).
proxy_pid() {
    case $1 in
    direct) echo "$BACKEND_WORKER" ;;
    nginx) echo "$NGX_WORKER" ;;
    *) echo "${TBPID[$1]}" ;;
    esac
}
proxy_port() {
    case $1 in
    direct) echo "$BACKEND_PORT" ;;
    nginx) echo "$NGX_PORT" ;;
    *) echo "${TBPORT[$1]}" ;;
    esac
}

# --- idle keep-alive connections -------------------------------------------------

# idle_test NAME PID PORT: opens IDLE_CONNS served keep-alive connections to
# PORT, measures PID's RSS before and after; sets IDLE_BEFORE, IDLE_AFTER,
# IDLE_PER_CONN (bytes), IDLE_HELD, IDLE_FDS, IDLE_UPCONNS (connections the
# backend accepted meanwhile), IDLE_STATUS (client status).
idle_test() {
    local name=$1 pid=$2 port=$3 status=$TMP/$1.idle.status client phase=
    IDLE_BEFORE=$(rss_kib "$pid")
    local acc0
    acc0=$(backend_accepts)
    python3 "$ROOT/bench/idle_conns.py" --port "$port" --conns "$IDLE_CONNS" \
        --open-timeout 120 --hold 180 --status "$status" >"$TMP/$name.idle.out" 2>&1 &
    client=$!
    PIDS+=("$client")
    for _ in $(seq 1500); do # up to 150 s
        phase=$(sed -n 's/^phase=//p' "$status" 2>/dev/null || true)
        { [ "$phase" = holding ] || [ "$phase" = "done" ]; } && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    [ "$phase" = holding ] || log "$name idle test: client phase '$phase' ($(tr '\n' ' ' <"$status" 2>/dev/null))"
    sleep 2 # let the proxy settle (timers, pool)
    kill -0 "$pid" 2>/dev/null || die "$name died during the idle test"
    IDLE_AFTER=$(rss_kib "$pid")
    IDLE_FDS=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    IDLE_HELD=$(sed -n 's/^served=//p' "$status")
    IDLE_UPCONNS=$(($(backend_accepts) - acc0 - 1))
    stop "$client" TERM || true
    IDLE_STATUS=$(grep -v '^phase=' "$status" | tr '\n' ' ')
    IDLE_PER_CONN=$(awk -v a="$IDLE_AFTER" -v b="$IDLE_BEFORE" -v n="$IDLE_HELD" \
        'BEGIN { if (n > 0) printf "%.0f", (a - b) * 1024 / n; else print "nan" }')
}

# --- run -----------------------------------------------------------------------

: >"$RAW"
raw "# tracebridge benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
raw "binary=$BIN"
raw "version=$("$BIN" --version 2>&1)"
raw "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1) cpus=$(nproc --all) kernel=$(uname -r)"
raw "nginx=$("$NGINX" -v 2>&1 | sed 's/.*: //') wrk=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
raw "wrk=-t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency rounds=$ROUNDS warmup=${WARMUP}s upstream_pool=$POOL"
raw "cpus: proxy=$PROXY_CPU backend+wrk=$LOAD_CPU  ulimit_n=$NOFILE idle_conns=$IDLE_CONNS"
raw "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg) busy_before_start=\"$(cpu_busy 2)\""

start_backend
log "backend nginx on 127.0.0.1:$BACKEND_PORT (pid $BACKEND_PID, worker $BACKEND_WORKER, core $LOAD_CPU)"

# 1. Idle RSS just after startup, then the idle keep-alive test, on a fresh
#    tracebridge whose idle timeout outlasts the test.
start_tb tb-idle --idle-timeout 120 --exporter none
sleep 0.5
TB_STARTUP_RSS=$(rss_kib "$TB_PID")
raw "tracebridge startup: rss_kib=$TB_STARTUP_RSS threads=$(awk '/^Threads:/ { print $2 }' "/proc/$TB_PID/status")"
log "tracebridge startup RSS ${TB_STARTUP_RSS} KiB; opening $IDLE_CONNS idle keep-alive connections"
idle_test tracebridge "$TB_PID" "$TB_PORT"
TB_IDLE=("$IDLE_BEFORE" "$IDLE_AFTER" "$IDLE_PER_CONN" "$IDLE_HELD")
raw "idle tracebridge: before_kib=$IDLE_BEFORE after_kib=$IDLE_AFTER per_conn_bytes=$IDLE_PER_CONN held=$IDLE_HELD proxy_fds=$IDLE_FDS backend_conns_opened=$IDLE_UPCONNS client: $IDLE_STATUS"
TB_IDLE_AFTER_CLOSE=$(sleep 1 && rss_kib "$TB_PID")
raw "idle tracebridge: rss_kib_after_clients_closed=$TB_IDLE_AFTER_CLOSE"
# A second pass on the same process: its RSS should come back to about the
# first pass's peak (freed memory reused), not grow by another delta.
log "tracebridge: second pass of $IDLE_CONNS idle connections (growth check)"
idle_test tracebridge2 "$TB_PID" "$TB_PORT"
TB_IDLE2=("$IDLE_BEFORE" "$IDLE_AFTER" "$IDLE_HELD")
raw "idle tracebridge pass 2: before_kib=$IDLE_BEFORE after_kib=$IDLE_AFTER held=$IDLE_HELD proxy_fds=$IDLE_FDS backend_conns_opened=$IDLE_UPCONNS client: $IDLE_STATUS"
t0=$(date +%s.%N)
tb_exit=0
stop "$TB_PID" TERM || tb_exit=$?
raw "idle tracebridge: exit_status=$tb_exit stop_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') log_problems=$(tb_log_problems "$TB_LOG")"
cp "$TB_LOG" "$OUT/tracebridge-idle.log"
[ "$tb_exit" = 0 ] || log "tracebridge (idle test) exited with status $tb_exit"

start_nginx_proxy nginx-idle
sleep 0.5
NGX_STARTUP_RSS=$(rss_kib "$NGX_WORKER")
raw "nginx startup: worker_rss_kib=$NGX_STARTUP_RSS master_rss_kib=$(rss_kib "$NGX_PID")"
log "nginx proxy worker startup RSS ${NGX_STARTUP_RSS} KiB; opening $IDLE_CONNS idle keep-alive connections"
idle_test nginx "$NGX_WORKER" "$NGX_PORT"
NGX_IDLE=("$IDLE_BEFORE" "$IDLE_AFTER" "$IDLE_PER_CONN" "$IDLE_HELD")
raw "idle nginx: before_kib=$IDLE_BEFORE after_kib=$IDLE_AFTER per_conn_bytes=$IDLE_PER_CONN held=$IDLE_HELD proxy_fds=$IDLE_FDS backend_conns_opened=$IDLE_UPCONNS client: $IDLE_STATUS"
stop "$NGX_PID" QUIT || true
cp "$TMP/nginx-idle/error.log" "$OUT/nginx-idle-error.log" 2>/dev/null || true

# 2. Throughput and latency, interleaved rounds, one long-lived proxy each.
# The proxy core alone (the nginx comparison), then with propagation, then
# with spans exported over OTLP at 100 % sampling to a collector that is up
# (the backend nginx's /v1/traces), down (a closed port) or hanging (a
# listener that never accepts). Every request carries an sw8 header.
start_tb tracebridge --extract none --propagators none --exporter none
start_tb tb-prop --propagators tracecontext,b3 --exporter none
OTLP_ENV=(OTEL_TRACES_SAMPLER=always_on OTEL_BSP_SCHEDULE_DELAY=1000 OTEL_EXPORTER_OTLP_TIMEOUT=2000)
TB_ENV=("${OTLP_ENV[@]}" "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$BACKEND_PORT/v1/traces")
start_tb tb-otlp --propagators tracecontext,b3 --exporter otlp
DOWN_PORT=$(free_port)
TB_ENV=("${OTLP_ENV[@]}" "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$DOWN_PORT/v1/traces")
start_tb tb-otlp-down --propagators tracecontext,b3 --exporter otlp
HANG_PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(3600)' "$HANG_PORT" &
PIDS+=("$!")
TB_ENV=("${OTLP_ENV[@]}" "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$HANG_PORT/v1/traces")
start_tb tb-otlp-hang --propagators tracecontext,b3 --exporter otlp
TB_ENV=()
start_nginx_proxy nginx-load
log "tracebridge variants on :${TBPORT[*]}, nginx proxy on :$NGX_PORT (worker $NGX_WORKER), core $PROXY_CPU"
raw "load processes: tracebridge_rss_start_kib=$(rss_kib "${TBPID[tracebridge]}") nginx_worker_rss_start_kib=$(rss_kib "$NGX_WORKER")"

CONFIGS=(direct tracebridge nginx tb-prop tb-otlp tb-otlp-down tb-otlp-hang)
NCONF=${#CONFIGS[@]}
for cfg in "${CONFIGS[@]}"; do
    [ "$WARMUP" -gt 0 ] || break
    r=$(run_wrk "$cfg" "$(proxy_port "$cfg")" "$WARMUP" "$TMP/warmup-$cfg.txt")
    raw "warmup $cfg: $r"
done

: >"$TMP/runs"
for round in $(seq "$ROUNDS"); do
    # Rotate the order so no configuration always runs first or last.
    for i in $(seq 0 $((NCONF - 1))); do
        cfg=${CONFIGS[$(((i + round - 1) % NCONF))]}
        out=$TMP/wrk-$cfg-$round.txt
        busy=$(wait_quiet "$QUIET_WAIT")
        acc0=$(backend_accepts)
        pid=$(proxy_pid "$cfg")
        # Foreign CPU: what the machine spent during the run beyond wrk, the
        # backend and the proxy (another tenant; loopback softirq work
        # charged to no task also lands here).
        t0=$(date +%s.%N) m0=$(busy_ticks) b0=$(pid_ticks "$BACKEND_WORKER") p0=$(pid_ticks "$pid")
        r=$(run_wrk "$cfg" "$(proxy_port "$cfg")" "$DURATION" "$out")
        t1=$(date +%s.%N) m1=$(busy_ticks) b1=$(pid_ticks "$BACKEND_WORKER") p1=$(pid_ticks "$pid")
        [ "$cfg" = direct ] && p1=$p0
        read -r wu ws <"$out.cpu"
        cpu=$(awk -v t0="$t0" -v t1="$t1" -v m="$((m1 - m0))" -v b="$((b1 - b0))" \
            -v p="$((p1 - p0))" -v hz="$CLK_TCK" -v wu="$wu" -v ws="$ws" 'BEGIN {
            w = t1 - t0; printf "proxy=%.0f%% backend=%.0f%% wrk=%.0f%% foreign=%.0f%%",
                100 * p / hz / w, 100 * b / hz / w, 100 * (wu + ws) / w, 100 * (m / hz - b / hz - p / hz - wu - ws) / w }')
        kill -0 "$pid" 2>/dev/null || die "$cfg process $pid died during round $round"
        rss=$(rss_kib "$pid")
        upconns=$(($(backend_accepts) - acc0 - 1))
        busymax=$(grep -o '[0-9]*%' <<<"$busy" | tr -d % | sort -n | tail -n 1)
        foreign=${cpu##*foreign=}
        foreign=${foreign%\%}
        echo "$cfg $round $r $rss $(hwm_kib "$pid") $upconns ${busymax:-0} $foreign" >>"$TMP/runs"
        read -r rps p50 p99 errs non2xx <<<"$r"
        log "round $round $cfg: $rps req/s p50 $(fmt_us "$p50") p99 $(fmt_us "$p99") errors $errs non-2xx $non2xx RSS ${rss} KiB backend connections $upconns, CPU $cpu"
        raw "run round=$round config=$cfg rps=$rps p50_us=$p50 p99_us=$p99 socket_errors=$errs non2xx=$non2xx rss_kib=$rss backend_conns_opened=$upconns time_wait_now=$(time_wait_count) busy_before=\"$busy\" cpu_during=\"$cpu\""
        { echo "## wrk round=$round config=$cfg"; cat "$out"; } >>"$OUT/wrk-output.txt.tmp"
    done
done
mv "$OUT/wrk-output.txt.tmp" "$OUT/wrk-output.txt"

TB_LOAD_PROBLEMS=0
tb_exit=0
for name in tracebridge tb-prop tb-otlp tb-otlp-down tb-otlp-hang; do
    TB_LOAD_PROBLEMS=$((TB_LOAD_PROBLEMS + $(tb_log_problems "${TBLOG[$name]}")))
    st=0
    stop "${TBPID[$name]}" TERM || st=$?
    [ "$st" = 0 ] || tb_exit=$st
    raw "load $name: exit_status=$st $(grep -h 'event=export_stats\|event=span_stats' "${TBLOG[$name]}" | sed 's/^ts=[^ ]* level=info //' | tr '\n' ' ')"
    cp "${TBLOG[$name]}" "$OUT/$name-load.log"
done
stop "$NGX_PID" QUIT || true
cp "$TMP/nginx-load/error.log" "$OUT/nginx-load-error.log" 2>/dev/null || true
cp "$TMP/backend/error.log" "$OUT/backend-error.log" 2>/dev/null || true
stop "$BACKEND_PID" QUIT || true
raw "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ----------------------------------------------------------------------

col() { awk -v c="$1" -v k="$2" '$1 == c { print $k }' "$TMP/runs"; }
declare -A MED
{
    echo
    printf '%-13s %10s %16s %9s %9s %7s %11s %12s\n' config "req/s" "req/s range" p50 p99 errors "RSS end" "backend conns"
    for cfg in "${CONFIGS[@]}"; do
        rps=$(col "$cfg" 3 | median)
        MED[$cfg]=$rps
        errs=$(awk -v c="$cfg" '$1 == c { n += $6 + $7 } END { print n + 0 }' "$TMP/runs")
        rss=$(col "$cfg" 8 | tail -n 1)
        label=$cfg
        [ "$cfg" = direct ] && label="direct*"
        printf '%-13s %10.0f %16s %9s %9s %7s %7s KiB %12s\n' "$label" "$rps" "$(col "$cfg" 3 | awk '{ printf "%.0f\n", $1 }' | minmax)" \
            "$(fmt_us "$(col "$cfg" 4 | median)")" "$(fmt_us "$(col "$cfg" 5 | median)")" "$errs" "$rss" "$(col "$cfg" 10 | median)"
    done
    echo "  (median of $ROUNDS interleaved runs of wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s; errors = socket errors + non-2xx;"
    echo "   RSS after the last run; backend conns = connections the backend accepted per run, median;"
    echo "   *direct: RSS is the backend nginx worker's)"
    awk -v t="${MED[tracebridge]}" -v n="${MED[nginx]}" -v d="${MED[direct]}" 'BEGIN {
        printf "throughput: tracebridge/nginx = %.2f, tracebridge/direct = %.2f, nginx/direct = %.2f\n", t / n, t / d, n / d }'
    awk -v t="${MED[tracebridge]}" -v p="${MED[tb-prop]}" -v o="${MED[tb-otlp]}" -v dn="${MED[tb-otlp-down]}" \
        -v h="${MED[tb-otlp-hang]}" 'BEGIN {
        printf "propagation on/off: tb-prop/tracebridge = %.3f (target >= 0.97)\n", p / t
        printf "tracing + OTLP at 100%% sampling vs tracing off: tb-otlp/tb-prop = %.3f (target >= 0.95)\n", o / p
        printf "collector down / up: %.3f, collector hanging / up: %.3f (target >= 0.95)\n", dn / o, h / o }'
    printf 'idle RSS after startup: tracebridge %s KiB (target <= 4096), nginx worker %s KiB\n' \
        "$TB_STARTUP_RSS" "$NGX_STARTUP_RSS"
    printf '%s idle keep-alive connections: tracebridge %s -> %s KiB, %s B/conn (target <= 2048), held %s\n' \
        "$IDLE_CONNS" "${TB_IDLE[0]}" "${TB_IDLE[1]}" "${TB_IDLE[2]}" "${TB_IDLE[3]}"
    printf '%s idle keep-alive connections, second pass on the same tracebridge: %s -> %s KiB, held %s\n' \
        "$IDLE_CONNS" "${TB_IDLE2[0]}" "${TB_IDLE2[1]}" "${TB_IDLE2[2]}"
    printf '%s idle keep-alive connections: nginx    %s -> %s KiB, %s B/conn, held %s\n' \
        "$IDLE_CONNS" "${NGX_IDLE[0]}" "${NGX_IDLE[1]}" "${NGX_IDLE[2]}" "${NGX_IDLE[3]}"
    awk '$11 > 10 || $12 > 15 { n++ } END { if (n) printf "WARNING: %d of %d runs had other work on the machine (a core over 10%% busy just before, or foreign CPU over 15%% during; see results.txt): noisy\n", n, NR }' "$TMP/runs"
    printf 'tracebridge: exit status after load %s, warn/error/abort log lines %s\n' "$tb_exit" "$TB_LOAD_PROBLEMS"
} | tee "$TMP/table"
{
    echo
    echo "## summary"
    cat "$TMP/table"
} >>"$RAW"
log "raw results: $RAW"
