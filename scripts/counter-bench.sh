#!/usr/bin/env bash
# Side-by-side throughput of counter-service (embedded, and over NATS) and a fixed-response nginx, driven by
# wrk in one run, plus jemalloc heap after N requests. Everything binds to free loopback ports; every process
# started here is stopped by its PID.
#
#   scripts/counter-bench.sh [duration=10s] [connections=200]
#   NGINX_WORKERS (default 1) and EMBEDDED_ARGS (default "--threads 1"): one serving thread each, the other core
#   left to wrk; ENGINES="epoll nio" (default epoll) compares the HTTP engines.
#   EXECUTORS="eventloop workers" MODES="embedded nats nginx heap" scripts/counter-bench.sh
# heap: embedded service driven by wrk until the counter passes 500,000 and then 1,000,000 requests; prints
# jemalloc's allocated/resident bytes and the process RSS at both points (GET /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
LUA

run_wrk() { # name url
  local out
  out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" "$2")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-28s req/s=%-12s p99=%s\n' "$1" "$rps" "$p99"
  echo "$out" > "$WORK/$1.txt"
}

heap_line() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^clstr_heap_allocated_bytes/ {a=$2} /^clstr_heap_resident_bytes/ {r=$2} /^process_resident_memory_bytes/ {p=$2} END {printf "heap_allocated=%.2fMB heap_resident=%.2fMB rss=%.1fMB", a/1e6, r/1e6, p/1e6}'; }

for mode in $MODES; do
  case $mode in
    heap)
      http=$(free_port); metrics=$(free_port)
      "$BIN" --http-port "$http" --metrics-port "$metrics" > "$WORK/heap.log" 2>&1 &
      PIDS+=($!)
      wait_port "$http"
      echo "heap at start: $(heap_line "$metrics")"
      for target in 500000 1000000; do
        while :; do
          value=$(curl -s "http://127.0.0.1:$http/counter/bench" | sed 's/.*"value":\([0-9]*\).*/\1/')
          [ "$value" -ge "$target" ] && break
          wrk -t1 -c"$CONNECTIONS" -d1s -s "$WORK/post.lua" "http://127.0.0.1:$http/counter/bench/increment" > /dev/null
        done
        echo "heap after $value requests: $(heap_line "$metrics")"
      done
      kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
      ;;
    nginx)
      port=$(free_port)
      mkdir -p "$WORK/nginx"
      cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes ${NGINX_WORKERS:-1};
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"counter_id":"bench","value":1}'; }
  }
}
NGINX
      nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >/dev/null 2>&1 &
      PIDS+=($!)
      wait_port "$port"
      run_wrk nginx "http://127.0.0.1:$port/counter/bench/increment"
      kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
      ;;
    embedded|nats)
      for engine in $ENGINES; do
      for executor in $EXECUTORS; do
        http=$(free_port); metrics=$(free_port)
        extra=("${EMBEDDED_OPTIONS[@]}")
        [ "$mode" = nats ] && extra=(--transport nats --nats-server auto)
        "$BIN" --http-port "$http" --metrics-port "$metrics" --executor "$executor" --http-engine "$engine" \
          "${extra[@]}" > "$WORK/$mode.log" 2>&1 &
        PIDS+=($!)
        wait_port "$http"
        run_wrk "$mode-$engine-$executor" "http://127.0.0.1:$http/counter/bench/increment"
        value=$(curl -s "http://127.0.0.1:$http/counter/bench")
        heap=$(curl -s "http://127.0.0.1:$metrics/metrics" | awk '/^clstr_heap_allocated_bytes/ {a=$2} /^clstr_heap_resident_bytes/ {r=$2} /^process_resident_memory_bytes/ {p=$2} END {printf "heap_allocated=%.1fMB heap_resident=%.1fMB rss=%.1fMB", a/1e6, r/1e6, p/1e6}')
        echo "    $value $heap"
        kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
      done
      done
      ;;
  esac
done
