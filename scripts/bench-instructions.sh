#!/usr/bin/env bash
# make bench-instructions: user-space instructions per request, counted by valgrind's callgrind.
#
# Unlike req/s, this number does not move with the machine's load: the same binary serving the same requests executes
# the same instructions (give or take a fraction of a percent for timing-dependent paths such as idle wake-ups). Each
# target is started under `valgrind --tool=callgrind --instr-atstart=no`, warmed up with WARMUP requests from loadgen
# (outside valgrind, on keep-alive connections), then instrumentation is switched on for exactly N requests and off
# again, and the dump's total is divided by N.
#
# Targets (TARGETS, default all):
#   counter    counter-service embedded (`--threads 1`), POST /counter/bench/increment
#   nats-node  the node side of the counter over NATS: `counter-service node` owning every shard, under valgrind;
#              a gateway outside valgrind, nats-server started here
#   nats-gateway
#              the requesting side of the same: `counter-service gateway` (HTTP front, request and reply
#              batches) under valgrind, a `node` serving it normally
#   nginx      nginx with a fixed answer (master_process off, one process): the machine-independent anchor
#   acct-deposit-memory
#              accounting on the memory store (`serve --store memory --threads 1`), POST /accounts/bench/deposit
#              {"amount": 1}: the event-sourced path without the disk
# Rows go to results/instructions.csv in the results schema (BenchRow; scenario `instructions`, tool `callgrind`,
# instructions_per_req and instructions_ratio_vs_nginx); the top-20 functions of each target's profile go to
# results/instructions-top.txt, so that a regression points at its function.
#
#   N=20000 WARMUP=2000 CONNECTIONS=8 scripts/bench-instructions.sh
#   TARGETS=nats-node NATS_ARGS="--nats-batching off" scripts/bench-instructions.sh
#
# Needs valgrind (installed by `make deps`). valgrind 3.19 cannot read the DWARF 5 debug info of Swift 6 binaries:
# the binaries are copied with `objcopy --strip-debug` (symbols stay, so the profile still names functions). It
# also crashed in any process whose main thread leaves through `dispatchMain()` (an async `@main`): the services
# start through `ProcessKit.blockingMain` for that reason.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SWIFT=${SWIFT:-swift}
N=${N:-20000}
WARMUP=${WARMUP:-2000}
CONNECTIONS=${CONNECTIONS:-8}
TARGETS=${TARGETS:-counter nats-node nats-gateway acct-deposit-memory nginx}
# Extra options for the nats-node and nats-gateway targets' node and gateway (e.g. NATS_ARGS="--nats-batching off").
read -r -a NATS_ARGS_LIST <<<"${NATS_ARGS-}"
RESULTS=${RESULTS:-results/instructions.csv}
TOP=${TOP:-results/instructions-top.txt}
BIN=$ROOT/.build/release
WORK=$(mktemp -d /tmp/bench-instructions.XXXXXX)
source scripts/lib.sh

log() { printf '\033[1mbench-instructions:\033[0m %s\n' "$*" >&2; }

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    [ "${KEEP:-0}" = 1 ] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

command -v valgrind >/dev/null || { log "valgrind is missing: run 'make deps'"; exit 1; }
log "release build of counter-service and loadgen"
"$SWIFT" build -c release --product counter-service >&2 || exit 1
"$SWIFT" build -c release --product loadgen >&2 || exit 1
objcopy --strip-debug "$BIN/counter-service" "$WORK/counter-service"

# The commit name by the rule every results row uses (hash, -dirty when the tree differs outside results/).
COMMIT=$("$BIN/loadgen" report commit)
[ -n "$COMMIT" ] || COMMIT=unknown
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Starts `valgrind … <command>` in the background; sets VG_PID and VG_OUT.
start_under_callgrind() { # name command…
    local name=$1
    shift
    VG_OUT=$WORK/$name.callgrind
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$VG_OUT" "$@" >"$WORK/$name.log" 2>&1 &
    VG_PID=$!
    PIDS+=("$VG_PID")
}

# Drives `url` with loadgen: warm-up outside the measurement, then exactly N instrumented requests.
# Prints the instruction total of the measured requests.
measure() { # name url method [body]
    local name=$1 url=$2 method=$3
    local body=()
    [ -n "${4:-}" ] && body=(-d "$4")
    "$BIN/loadgen" -n "$WARMUP" -c "$CONNECTIONS" -m "$method" "${body[@]}" "$url" >"$WORK/$name.warmup.txt" 2>&1 \
        || { log "$name: warm-up failed: $(tail -3 "$WORK/$name.warmup.txt")"; return 1; }
    callgrind_control -i on "$VG_PID" >/dev/null
    "$BIN/loadgen" -n "$N" -c "$CONNECTIONS" -m "$method" "${body[@]}" "$url" >"$WORK/$name.load.txt" 2>&1 \
        || { log "$name: load failed: $(tail -3 "$WORK/$name.load.txt")"; return 1; }
    callgrind_control -i off "$VG_PID" >/dev/null
    callgrind_control -d "$VG_PID" >/dev/null
    grep -q 'Status code distribution' "$WORK/$name.load.txt" || { log "$name: no summary from loadgen"; return 1; }
    local ok
    ok=$(awk '/\[2[0-9][0-9]\]/ { sum += $2 } END { print sum + 0 }' "$WORK/$name.load.txt")
    [ "$ok" = "$N" ] || { log "$name: $ok of $N requests answered 2xx"; return 1; }
    # The dump just requested (`<out>.1`, the first numbered one) holds the instrumented part; its `totals:` line
    # is the instruction count (`summary:` stays 0 when instrumentation starts switched off).
    local dump=$VG_OUT.1
    for _ in $(seq 1 100); do grep -q '^totals:' "$dump" 2>/dev/null && break; sleep 0.1; done
    awk '/^totals:/ { print $2; exit }' "$dump"
    callgrind_annotate --threshold=100 "$dump" 2>/dev/null | grep -E '^ *[0-9,]+ ' | sed -n '2,21p' \
        | sed 's/ \[[^]]*\]$//' | cut -c1-200 >"$WORK/$name.top.txt"
}

stop_pid() { # pid
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
}

declare -A TOTALS=()

for target in $TARGETS; do
    case $target in
    counter)
        free_port http; free_port metrics
        start_under_callgrind counter "$WORK/counter-service" --threads 1 --http-port "$http" --metrics-port "$metrics"
        wait_http "http://127.0.0.1:$http/" "$VG_PID" 120 || { log "counter: did not start"; cat "$WORK/counter.log" >&2; exit 1; }
        TOTALS[$target]=$(measure counter "http://127.0.0.1:$http/counter/bench/increment" POST) || exit 1
        stop_pid "$VG_PID"
        ;;
    nats-node)
        free_port nats; free_port http; free_port metrics; free_port node_metrics
        nats-server -a 127.0.0.1 -p "$nats" >"$WORK/nats.log" 2>&1 &
        nats_pid=$!
        PIDS+=("$nats_pid")
        wait_tcp "$nats" "$nats_pid" 10 || { log "$target: nats-server did not start"; exit 1; }
        start_under_callgrind nats-node "$WORK/counter-service" node --node-id node-0 --node-ids node-0 \
            --nats-url "nats://127.0.0.1:$nats" --metrics-port "$node_metrics" --threads 1 "${NATS_ARGS_LIST[@]}"
        for _ in $(seq 1 1200); do grep -q 'node ready' "$WORK/nats-node.log" && break; sleep 0.1; done
        grep -q 'node ready' "$WORK/nats-node.log" || { log "nats-node: did not start"; cat "$WORK/nats-node.log" >&2; exit 1; }
        "$BIN/counter-service" gateway --node-ids node-0 --nats-url "nats://127.0.0.1:$nats" --threads 1 \
            --http-port "$http" --metrics-port "$metrics" "${NATS_ARGS_LIST[@]}" >"$WORK/gateway.log" 2>&1 &
        gateway_pid=$!
        PIDS+=("$gateway_pid")
        wait_http "http://127.0.0.1:$http/" "$gateway_pid" 60 || { log "gateway did not start"; exit 1; }
        TOTALS[$target]=$(measure nats-node "http://127.0.0.1:$http/counter/bench/increment" POST) || exit 1
        stop_pid "$gateway_pid"; stop_pid "$VG_PID"; stop_pid "$nats_pid"
        ;;
    nats-gateway)
        # The requesting side over NATS: the gateway (HTTP front, request batches, reply batches) under callgrind,
        # the node that serves it running normally.
        free_port nats; free_port http; free_port metrics; free_port node_metrics
        nats-server -a 127.0.0.1 -p "$nats" >"$WORK/nats.log" 2>&1 &
        nats_pid=$!
        PIDS+=("$nats_pid")
        wait_tcp "$nats" "$nats_pid" 10 || { log "$target: nats-server did not start"; exit 1; }
        "$BIN/counter-service" node --node-id node-0 --node-ids node-0 --nats-url "nats://127.0.0.1:$nats" \
            --metrics-port "$node_metrics" --threads 1 "${NATS_ARGS_LIST[@]}" >"$WORK/node.log" 2>&1 &
        node_pid=$!
        PIDS+=("$node_pid")
        for _ in $(seq 1 600); do grep -q 'node ready' "$WORK/node.log" && break; sleep 0.1; done
        grep -q 'node ready' "$WORK/node.log" || { log "nats-gateway: its node did not start"; cat "$WORK/node.log" >&2; exit 1; }
        start_under_callgrind nats-gateway "$WORK/counter-service" gateway --node-ids node-0 \
            --nats-url "nats://127.0.0.1:$nats" --threads 1 --http-port "$http" --metrics-port "$metrics" \
            "${NATS_ARGS_LIST[@]}"
        wait_http "http://127.0.0.1:$http/" "$VG_PID" 120 \
            || { log "nats-gateway: did not start"; cat "$WORK/nats-gateway.log" >&2; exit 1; }
        TOTALS[$target]=$(measure nats-gateway "http://127.0.0.1:$http/counter/bench/increment" POST) || exit 1
        stop_pid "$VG_PID"; stop_pid "$node_pid"; stop_pid "$nats_pid"
        ;;
    nginx)
        free_port http
        dir=$(BODY='{"counter_id":"bench","value":1}' CONTENT_TYPE=application/json scripts/nginx-fixed.sh config "$http")
        start_under_callgrind nginx "$(command -v nginx || echo /usr/sbin/nginx)" -c "$dir/nginx.conf" -p "$dir"
        wait_http "http://127.0.0.1:$http/" "$VG_PID" 120 || { log "nginx: did not start"; exit 1; }
        TOTALS[$target]=$(measure nginx "http://127.0.0.1:$http/counter/bench/increment" POST) || exit 1
        stop_pid "$VG_PID"
        rm -rf "$dir"
        ;;
    acct-deposit-memory)
        "$SWIFT" build -c release --product accounting >&2 || exit 1
        objcopy --strip-debug "$BIN/accounting" "$WORK/accounting"
        free_port http; free_port metrics
        start_under_callgrind "$target" "$WORK/accounting" serve --store memory --threads 1 --http-port "$http" \
            --metrics-port "$metrics"
        wait_http "http://127.0.0.1:$metrics/metrics" "$VG_PID" 120 \
            || { log "$target: did not start"; cat "$WORK/$target.log" >&2; exit 1; }
        "$BIN/loadgen" -n 1 -c 1 -m POST "http://127.0.0.1:$http/accounts/bench" >"$WORK/$target.open.txt" 2>&1 \
            || { log "$target: could not open the account"; exit 1; }
        TOTALS[$target]=$(measure "$target" "http://127.0.0.1:$http/accounts/bench/deposit" POST '{"amount": 1}') \
            || exit 1
        stop_pid "$VG_PID"
        ;;
    *) log "unknown target $target"; exit 1 ;;
    esac
    log "$target: ${TOTALS[$target]} instructions for $N requests"
done

# Rows in the one results schema (BenchRow: read by column name, so this file carries only the columns it fills):
# scenario `instructions`, tool `callgrind`, one row per target. `loadgen compare results/instructions.csv` and
# `make compare` judge instructions_per_req with a 2 % band.
COLUMNS=(time_utc commit host_cores cpu_model scenario n c method url_path requests tool target instructions_per_req
    instructions_ratio_vs_nginx status)
csv_field() { # value → the value, quoted when it holds a comma, a quote or a line break
    case $1 in
    *[,\"$'\n']*) printf '"%s"' "${1//\"/\"\"}" ;;
    *) printf '%s' "$1" ;;
    esac
}
if [ -f "$RESULTS" ] && ! head -1 "$RESULTS" | grep -q instructions_per_req; then
    log "$RESULTS has an older layout: moved to $RESULTS.old"
    mv "$RESULTS" "$RESULTS.old"
fi
if [ ! -f "$RESULTS" ]; then
    mkdir -p "$(dirname "$RESULTS")"
    (IFS=,; echo "${COLUMNS[*]}") >"$RESULTS"
fi
read -r FILE_HEADER <"$RESULTS"
IFS=, read -r -a FILE_COLUMNS <<<"$FILE_HEADER"
CORES=$(nproc 2>/dev/null || echo 0)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
declare -A URL_PATH=([counter]=/counter/bench/increment [nats-node]=/counter/bench/increment
    [nats-gateway]=/counter/bench/increment [nginx]=/counter/bench/increment
    [acct-deposit-memory]=/accounts/bench/deposit)
nginx_per=""
[ -n "${TOTALS[nginx]:-}" ] && nginx_per=$(awk -v t="${TOTALS[nginx]}" -v n="$N" 'BEGIN { printf "%.1f", t / n }')
{
    echo "# $COMMIT $DATE: callgrind top-20 per target (instructions in the $N measured requests, c=$CONNECTIONS)"
    for target in $TARGETS; do
        per=$(awk -v t="${TOTALS[$target]}" -v n="$N" 'BEGIN { printf "%.1f", t / n }')
        ratio=""
        [ -n "$nginx_per" ] && [ "$target" != nginx ] \
            && ratio=$(awk -v a="$per" -v b="$nginx_per" 'BEGIN { printf "%.3f", a / b }')
        declare -A value=(
            [time_utc]=$DATE [commit]=$COMMIT [host_cores]=$CORES [cpu_model]=$CPU_MODEL [scenario]=instructions
            [n]=$N [c]=$CONNECTIONS [method]=POST [url_path]=${URL_PATH[$target]} [requests]=$N [tool]=callgrind
            [target]=$target [instructions_per_req]=$per [instructions_ratio_vs_nginx]=$ratio [status]=PASS
        )
        line=""
        for ((k = 0; k < ${#FILE_COLUMNS[@]}; k++)); do
            [ $k -gt 0 ] && line+=,
            line+=$(csv_field "${value[${FILE_COLUMNS[$k]}]:-}")
        done
        echo "$line" >>"$RESULTS"
        unset value
        printf '%-10s %12s instructions/request%s\n' "$target" "$per" "${ratio:+  (${ratio}× nginx)}" >&2
        echo
        echo "## $target: $per instructions/request${ratio:+ (${ratio}× nginx)}"
        cat "$WORK/$target.top.txt"
    done
} >"$TOP"
log "rows appended to $RESULTS; profiles' top-20 in $TOP"
