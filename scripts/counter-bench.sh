#!/usr/bin/env bash
# Side-by-side throughput of counter-service (embedded, and over NATS) and a fixed-response nginx, driven by
# wrk in one run, with each server's CPU time per request (user + system of its process tree — in NATS mode the
# nats-server child too — from /proc/<pid>/stat), plus jemalloc heap after N requests. Everything binds to free loopback ports; every process
# started here is stopped by its PID.
#
#   scripts/counter-bench.sh [duration=10s] [connections=200]
#   NGINX_WORKERS (default 1) and EMBEDDED_ARGS (default "--threads 1"): one serving thread each, the other core
#   left to wrk; ENGINES="epoll nio" (default epoll) compares the HTTP engines.
#   EXECUTORS="eventloop workers" MODES="embedded nats nginx heap" scripts/counter-bench.sh
# nginx is scripts/nginx-fixed.sh answering the counter's JSON shape. heap: the embedded service driven by wrk
# until the counter passes 500,000 and then 1,000,000 requests; prints jemalloc's allocated/resident bytes and
# the process RSS at both points (GET /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION=${1:-10s}
CONNECTIONS=${2:-200}
MODES=${MODES:-"nginx embedded nats"}
EXECUTORS=${EXECUTORS:-eventloop}
ENGINES=${ENGINES:-epoll}
read -r -a EMBEDDED_OPTIONS <<<"${EMBEDDED_ARGS---threads 1}"
BIN=${BIN:-.build/release/counter-service}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wrk_post() { # wrk arguments…: POST through make bench's wrk script
  WRK_METHOD=POST wrk -t1 -c"$CONNECTIONS" -s scripts/bench-wrk.lua "$@"
}

run_wrk() { # name url server-pid: req/s, p99, and the server's CPU µs per request (its process tree, user + system)
  local out before after
  before=$(tree_ticks "$3")
  out=$(wrk_post -d"$DURATION" --latency "$2")
  after=$(tree_ticks "$3")
  local rps p99 requests cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v a="$before" -v b="$after" -v hz="$CLK_TCK" -v n="${requests:-0}" \
    'BEGIN { if (n > 0) printf "%.2f", (b - a) / hz * 1e6 / n; else print "-" }')
  printf '%-28s req/s=%-12s p99=%-10s cpu_us/req=%s\n' "$1" "$rps" "$p99" "$cpu"
  echo "$out" > "$WORK/$1.txt"
}

heap_line() { # metrics-port
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^clstr_heap_allocated_bytes/ {a=$2} /^clstr_heap_resident_bytes/ {r=$2} /^process_resident_memory_bytes/ {p=$2} END {printf "heap_allocated=%.2fMB heap_resident=%.2fMB rss=%.1fMB", a/1e6, r/1e6, p/1e6}'
}

start_service() { # http metrics extra-arguments…: starts counter-service in the background, waits until it answers
  local http=$1 metrics=$2
  shift 2
  "$BIN" --http-port "$http" --metrics-port "$metrics" "$@" > "$WORK/service.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$http/" "${PIDS[-1]}" 60 || { tail -20 "$WORK/service.log" >&2; exit 1; }
}

stop_last() { kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; }

for mode in $MODES; do
  case $mode in
    heap)
      free_port http; free_port metrics
      start_service "$http" "$metrics"
      echo "heap at start: $(heap_line "$metrics")"
      for target in 500000 1000000; do
        while :; do
          value=$(curl -s "http://127.0.0.1:$http/counter/bench" | sed 's/.*"value":\([0-9]*\).*/\1/')
          [ "$value" -ge "$target" ] && break
          wrk_post -d1s "http://127.0.0.1:$http/counter/bench/increment" > /dev/null
        done
        echo "heap after $value requests: $(heap_line "$metrics")"
      done
      stop_last
      ;;
    nginx)
      free_port port
      pid=$(BODY='{"counter_id":"bench","value":1}' CONTENT_TYPE=application/json \
        scripts/nginx-fixed.sh start "$port" "${NGINX_WORKERS:-1}")
      run_wrk nginx "http://127.0.0.1:$port/counter/bench/increment" "$pid"
      scripts/nginx-fixed.sh stop "$pid" > /dev/null
      ;;
    embedded|nats)
      for engine in $ENGINES; do
      for executor in $EXECUTORS; do
        free_port http; free_port metrics
        extra=("${EMBEDDED_OPTIONS[@]}")
        [ "$mode" = nats ] && extra=(--transport nats --nats-server auto)
        start_service "$http" "$metrics" --executor "$executor" --http-engine "$engine" "${extra[@]}"
        run_wrk "$mode-$engine-$executor" "http://127.0.0.1:$http/counter/bench/increment" "${PIDS[-1]}"
        echo "    $(curl -s "http://127.0.0.1:$http/counter/bench") $(heap_line "$metrics")"
        stop_last
      done
      done
      ;;
  esac
done
