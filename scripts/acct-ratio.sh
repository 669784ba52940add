#!/usr/bin/env bash
# Accounting's deposits against the embedded counter, interleaved on one machine (ratios, not absolute figures):
# counter-service, `accounting serve --store memory` and `--store sqlite` (synchronous=FULL) all with --threads 1,
# ROUNDS rounds of N requests at c=200 each (counter, memory, sqlite in turn), then with NATS=1 the counter over
# NATS against deposits on JetStream (both `--transport nats --nats-server auto`). One line per run: req/s, p99,
# 2xx and the server's CPU µs per request (user + system of its process tree from /proc, nats-server included).
#
#   N=100000 ROUNDS=5 NATS=1 scripts/acct-ratio.sh      (after swift build -c release)
#
# Everything started here is stopped by PID at the end.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${B:-$PWD/.build/release}
L=$B/loadgen
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
NATS=${NATS:-0}
W=$(mktemp -d /tmp/acct-ratio.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
. scripts/lib.sh # free_port, wait_http, tree_ticks, CLK_TCK

start() { # name command… → sets PORT and LAST_PID
    local name=$1 http metrics
    shift
    free_port http && free_port metrics || exit 1
    "$@" --http-port "$http" --metrics-port "$metrics" >"$W/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
    PORT=$http
    wait_http "http://127.0.0.1:$http/" "$LAST_PID" 60 || { echo "$* did not start" >&2; exit 1; }
}

run() { # label pid url [body]
    local t0 t1 out
    t0=$(tree_ticks "$2")
    if [ -n "${4:-}" ]; then out=$("$L" -n "$N" -c 200 -m POST -d "$4" "$3" 2>&1); else
        out=$("$L" -n "$N" -c 200 -m POST "$3" 2>&1)
    fi
    t1=$(tree_ticks "$2")
    printf '%-13s round %s  req/s %8.0f  p99 %6.1f ms  2xx %6s  CPU %5.1f us/req\n' "$1" "$R" \
        "$(echo "$out" | awk '/Requests\/sec/ { print $2 }')" "$(echo "$out" | awk '/ 99%/ { print $3 * 1000 }')" \
        "$(echo "$out" | awk '/\[2[0-9][0-9]\]/ { s += $2 } END { print s + 0 }')" \
        "$(awk -v a="$t0" -v b="$t1" -v n="$N" -v hz="$CLK_TCK" 'BEGIN { print (b - a) / hz * 1e6 / n }')"
}

start counter "$B/counter-service" --threads 1; CP=$LAST_PID; CPORT=$PORT
start memory "$B/accounting" serve --store memory --threads 1; MP=$LAST_PID; MPORT=$PORT
start sqlite "$B/accounting" serve --store sqlite --data-dir "$W/data" --threads 1; SP=$LAST_PID; SPORT=$PORT
for R in $(seq 1 "$ROUNDS"); do
    curl -s -o /dev/null -X POST "127.0.0.1:$MPORT/accounts/hot$R"
    curl -s -o /dev/null -X POST "127.0.0.1:$SPORT/accounts/hot$R"
    run counter "$CP" "http://127.0.0.1:$CPORT/counter/hot$R/increment"
    run memory "$MP" "http://127.0.0.1:$MPORT/accounts/hot$R/deposit" '{"amount": 1}'
    run sqlite "$SP" "http://127.0.0.1:$SPORT/accounts/hot$R/deposit" '{"amount": 1}'
done
if [ "$NATS" = 1 ]; then
    start counter-nats "$B/counter-service" --transport nats --nats-server auto; CNP=$LAST_PID; CNPORT=$PORT
    start jetstream "$B/accounting" serve --store jetstream --transport nats --nats-server auto; JP=$LAST_PID
    JPORT=$PORT
    for R in $(seq 1 "$ROUNDS"); do
        curl -s -o /dev/null -X POST "127.0.0.1:$JPORT/accounts/hot$R"
        run counter-nats "$CNP" "http://127.0.0.1:$CNPORT/counter/hot$R/increment"
        run jetstream "$JP" "http://127.0.0.1:$JPORT/accounts/hot$R/deposit" '{"amount": 1}'
    done
fi
