#!/usr/bin/env bash
# Start a throw-away nginx that answers every request with a fixed 200 response, for load-generator baselines.
#
#   scripts/nginx-fixed.sh start PORT [WORKERS]   start on 127.0.0.1:PORT in a temp dir; prints the master PID
#   scripts/nginx-fixed.sh PORT [WORKERS]         same as start
#   scripts/nginx-fixed.sh stop PID               stop that nginx (by PID only) and remove its temp dir
#   scripts/nginx-fixed.sh config PORT            write a one-process, foreground config (master_process off,
#                                                 daemon off: for running under valgrind); prints its folder
#
# The body is BODY (default "hello, world\n", 13 bytes) as CONTENT_TYPE (default text/plain); keep-alive is
# unlimited, logging is off. WORKERS defaults to 1.
set -euo pipefail

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

# Writes nginx.conf into a new temp folder; prints the folder. Arguments: port workers process-lines
write_config() {
    local port=$1 workers=$2 process_lines=$3
    local body="${BODY:-hello, world\\n}" content_type="${CONTENT_TYPE:-text/plain}"
    local dir
    dir=$(mktemp -d /tmp/nginx-fixed.XXXXXX)
    mkdir -p "$dir/logs" "$dir/tmp"
    cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
$process_lines
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        location / {
            default_type $content_type;
            return 200 '$body';
        }
    }
}
CONF
    echo "$dir"
}

start() {
    local port=$1 workers=${2:-1}
    local dir
    dir=$(write_config "$port" "$workers" "daemon on;")
    "$NGINX" -c "$dir/nginx.conf" -p "$dir" 2>"$dir/logs/start.log" || { cat "$dir/logs/start.log" >&2; exit 1; }
    for _ in $(seq 1 50); do
        [ -s "$dir/nginx.pid" ] && break
        sleep 0.1
    done
    local pid
    pid=$(cat "$dir/nginx.pid")
    echo "$dir" > "/tmp/nginx-fixed.$pid.dir"
    echo "$pid"
}

stop() {
    local pid=$1
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    if [ -f "/tmp/nginx-fixed.$pid.dir" ]; then
        rm -rf "$(cat "/tmp/nginx-fixed.$pid.dir")" "/tmp/nginx-fixed.$pid.dir"
    fi
}

case "${1:-}" in
    start) shift; start "$@" ;;
    config) shift; write_config "$1" 1 $'master_process off;\ndaemon off;' ;;
    stop) shift; stop "$@" ;;
    ''|-h|--help) sed -n '2,11p' "$0"; exit 1 ;;
    *) start "$@" ;;
esac
