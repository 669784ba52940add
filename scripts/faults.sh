#!/usr/bin/env bash
# The driver of `make faults`: what counter-service promises under faults and hostile input, one verdict per
# scenario. Release build; every process on free loopback ports; every process started here is stopped by its PID
# at the end (also on failure or Ctrl-C); each scenario is bounded in time.
#
#   scripts/faults.sh                      every scenario the landed code allows (1 2 3 6 7 8)
#   SCENARIOS="1 6" scripts/faults.sh      a selection
#   QUICK=1 scripts/faults.sh              shorter loads (the soak: 1 minute instead of 10)
#
# Scenarios (loads are loadgen's; rates and latencies come from its --json output):
#   1 nats-server SIGKILLed mid-load and restarted (3 `node` processes + `gateway`): no request outlives the 5 s cluster deadline
#     (+0.5 s), every counter lies in [2xx, 2xx + unknown], serving resumes within 2 s of nats-server's return.
#   2 a node SIGKILLed mid-load, then restarted: its keys get 503 fast (p99 <= 50 ms), the other nodes' keys keep
#     >= 0.8x their earlier rate; after the restart its keys serve within 2 s; the other counters exact.
#   3 the gateway SIGKILLed mid-load and restarted: clients see connection errors only (no 5xx), the nodes keep
#     running, every counter lies in [2xx, 2xx + errors]; serving resumes within 2 s of the restart.
#   4 `accounting serve --store sqlite` SIGKILLed mid-load of keyed deposits (faultclient deposits: one
#     Idempotency-Key per deposit), restarted on the same data: every 2xx deposit is in the balance, and retrying
#     the unanswered (503/504/lost) keys with their keys makes the balance exact.
#   5 `accounting serve --store jetstream` over nats-server -js, nats-server SIGKILLed mid-load and back after 2 s
#     on its store directory: as 4.
#   6 hostile clients during a load (embedded service): 5,000 idle keep-alive connections, 500 slow-header clients,
#     garbage and oversized requests on other connections; the load keeps >= 0.8x its clean rate, the slow
#     clients are cut by the head deadline (HEADER_DEADLINE, default 60 s, + 5 s), garbage gets 4xx only, file
#     descriptors return to the baseline, the counter is exact.
#   7 connection churn: 20,000 connections with keep-alive off; heap (clstr_heap_allocated_bytes) within +1 MiB and
#     file descriptors back to the baseline; the counter exact.
#   8 soak at half the measured capacity (loadgen --rate) in 1-minute segments (QUICK: 4 of 15 s): heap flat after
#     the first segment (<= +1 MiB), corrected p99 of every later segment <= 1.5x the first's (or <= +1 ms, for
#     sub-millisecond tails), counter exact.
#
# Results: a verdict table, and one row per scenario appended to results/faults.csv (RESULTS=…):
#   commit,date,scenario,requests,2xx,503,504_unknown,other,recovery_s,value_check,verdict,detail
# `commit` is the 12-character HEAD, with -dirty when tracked files outside results/ differ. `504_unknown` counts
# 504 answers (deadline passed or outcome unknown); `other` every other status and transport error. Exit 1 when a
# scenario FAILs. Environment: QUICK, SCENARIOS, RESULTS, HEADER_DEADLINE, KEEP_RUN=1 (keep the run folder), SWIFT,
# SKIP_BUILD=1 (use the release binaries as they are).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SWIFT=${SWIFT:-swift}
RESULTS=${RESULTS:-results/faults.csv}
QUICK=${QUICK:-0}
SCENARIOS=${SCENARIOS:-"1 2 3 4 5 6 7 8"}
HEADER_DEADLINE=${HEADER_DEADLINE:-60}
BIN=$ROOT/.build/release
SERVICE=$BIN/counter-service
LOADGEN=$BIN/loadgen
FAULTCLIENT=$BIN/faultclient
ACCOUNTING=$BIN/accounting
NODE_IDS=node-0,node-1,node-2
DEADLINE_S=5 # the cluster request deadline of counter-service

if [ "$QUICK" = 1 ]; then
    LOAD_S=12; PHASE_S=5; SOAK_SEGMENTS=4; SOAK_SEGMENT_S=15; CLEAN_S=5
else
    LOAD_S=20; PHASE_S=10; SOAK_SEGMENTS=10; SOAK_SEGMENT_S=60; CLEAN_S=10
fi
CHURN=${CHURN:-20000}

log() { printf '\033[1mfaults:\033[0m %s\n' "$*" >&2; }

. "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped by PID on exit.
# ---------------------------------------------------------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/clstr-faults.XXXXXX")
STARTED=()

forget_pid() { # pid
    local kept=() p
    for p in "${STARTED[@]+"${STARTED[@]}"}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    STARTED=("${kept[@]+"${kept[@]}"}")
}

stop_pid() { # pid: SIGTERM, wait up to 10 s, then SIGKILL
    local pid=$1
    forget_pid "$pid"
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    log "pid $pid did not stop in 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

kill_pid() { # pid: SIGKILL (the fault itself)
    forget_pid "$1"
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

stop_all() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
}

cleanup() {
    stop_all
    if [ "${KEEP_RUN:-0}" = 1 ]; then log "run folder kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

SPAWNED=""
spawn() { # log-name command…: starts it in the background, records its PID in SPAWNED and STARTED
    local name=$1
    shift
    "$@" >>"$RUN/$name.log" 2>&1 &
    SPAWNED=$!
    STARTED+=("$SPAWNED")
}


now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------------------------------------------------------------
# The counter cluster: nats-server, three `node` processes, a `gateway`.
# ---------------------------------------------------------------------------------------------------------------------
NATS_PORT=""; NATS_PID=""; GW_PORT=""; GW_METRICS=""; GW_PID=""; GW=""
declare -A NODE_PID=() NODE_METRICS=()

NATS_ARGS=()
start_nats() { # on NATS_PORT (chosen once per cluster), with NATS_ARGS
    spawn nats-server nats-server -a 127.0.0.1 -p "$NATS_PORT" "${NATS_ARGS[@]+"${NATS_ARGS[@]}"}"
    NATS_PID=$SPAWNED
    wait_tcp "$NATS_PORT" "$NATS_PID" 20 || { log "nats-server did not come up"; tail -5 "$RUN/nats-server.log" >&2; return 1; }
}

start_node() { # node-id
    local id=$1
    [ -n "${NODE_METRICS[$id]:-}" ] || { free_port port; NODE_METRICS[$id]=$port; }
    spawn "$id" "$SERVICE" node --node-id "$id" --node-ids "$NODE_IDS" --nats-url "nats://127.0.0.1:$NATS_PORT" \
        --metrics-port "${NODE_METRICS[$id]}" --threads 1
    NODE_PID[$id]=$SPAWNED
    wait_http "http://127.0.0.1:${NODE_METRICS[$id]}/metrics" "$SPAWNED" 30 \
        || { log "$id did not come up"; tail -5 "$RUN/$id.log" >&2; return 1; }
}

start_gateway() {
    spawn gateway "$SERVICE" gateway --node-ids "$NODE_IDS" --nats-url "nats://127.0.0.1:$NATS_PORT" \
        --http-port "$GW_PORT" --metrics-port "$GW_METRICS"
    GW_PID=$SPAWNED
    wait_http "$GW/" "$GW_PID" 30 || { log "gateway did not come up"; tail -5 "$RUN/gateway.log" >&2; return 1; }
}

start_cluster() {
    free_port NATS_PORT && free_port GW_PORT && free_port GW_METRICS || return 1
    GW=http://127.0.0.1:$GW_PORT
    NODE_METRICS=()
    start_nats || return 1
    local id
    for id in ${NODE_IDS//,/ }; do start_node "$id" || return 1; done
    start_gateway || return 1
    # Every node answers (its subscriptions are in place).
    local key
    for id in ${NODE_IDS//,/ }; do
        key_on "$id" ready || return 1
        probe_ok "$GW/counter/$KEY" 20000 >/dev/null || { log "$id does not answer through the gateway"; return 1; }
    done
    log "cluster up: nats-server :$NATS_PORT, nodes ${NODE_PID[*]}, gateway $GW (pid $GW_PID)"
}

stop_cluster() {
    [ -n "$GW_PID" ] && stop_pid "$GW_PID"
    local id
    for id in "${!NODE_PID[@]}"; do stop_pid "${NODE_PID[$id]}"; done
    [ -n "$NATS_PID" ] && stop_pid "$NATS_PID"
    GW_PID=""; NATS_PID=""; NODE_PID=()
}

KEY=""
key_on() { # node-id prefix: KEY = the first "<prefix>-<TAG>-<i>" that the gateway routes to that node
    local i node
    for i in $(seq 0 500); do
        node=$(curl -s --max-time 2 "$GW/cluster/route/$2-$TAG-$i" | jq -r .node 2>/dev/null)
        if [ "$node" = "$1" ]; then KEY=$2-$TAG-$i; return 0; fi
    done
    log "no key of $1 among 500"
    return 1
}

probe_ok() { # url timeout-ms: prints the milliseconds until GET url answers 200 (or fails after the timeout)
    local start deadline code
    start=$(now_ms)
    deadline=$((start + $2))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")
        if [ "$code" = 200 ]; then echo $(($(now_ms) - start)); return 0; fi
        sleep 0.02
    done
    return 1
}

value_of() { # url: the counter's value (0 when it cannot be read)
    curl -s --max-time 5 "$1" | jq -r '.value // 0' 2>/dev/null || echo 0
}

sum_values() { # base-url prefix count: the sum of <prefix>0 … <prefix><count-1>
    local sum=0 i
    for i in $(seq 0 $(($3 - 1))); do sum=$((sum + $(value_of "$1/counter/$2$i"))); done
    echo "$sum"
}

# ---------------------------------------------------------------------------------------------------------------------
# loadgen and its JSON
# ---------------------------------------------------------------------------------------------------------------------
load() { # output-name loadgen-arguments…: runs loadgen --json into $RUN/<name>.json
    local name=$1
    shift
    "$LOADGEN" --json --no-progress "$@" >"$RUN/$name.json" 2>"$RUN/$name.err"
}

j() { jq -r "$2" "$RUN/$1.json" 2>/dev/null; } # name jq-filter
errs() { # name: the run's error distribution without the repeated method and URL
    jq -c '.error_distribution | with_entries(.key |= sub("^[A-Za-z]+ \"[^\"]*\": "; ""))' "$RUN/$1.json" 2>/dev/null
}

# Counts of one loadgen run: requests, 2xx, 503, 504, other (other statuses and transport errors).
counts() { # name → "requests s2xx s503 s504 other"
    jq -r '[.requests,
            ([.status_codes | to_entries[] | select(.key | startswith("2")) | .value] | add // 0),
            (.status_codes["503"] // 0), (.status_codes["504"] // 0)]
           | "\(.[0]) \(.[1]) \(.[2]) \(.[3]) \(.[0] - .[1] - .[2] - .[3])"' "$RUN/$1.json" 2>/dev/null \
        || echo "0 0 0 0 0"
}

TOTALS=(0 0 0 0 0)
add_counts() { # name…: adds each run's counts to TOTALS
    local name c
    for name in "$@"; do
        read -r -a c <<<"$(counts "$name")"
        for i in 0 1 2 3 4; do TOTALS[i]=$((TOTALS[i] + ${c[i]:-0})); done
    done
}

ms() { awk -v s="$1" 'BEGIN { if (s == "" || s == "null") print "?"; else printf "%.1f", s * 1000 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "null" && a + 0 <= b + 0) }'; } # a <= b
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "null" && a + 0 >= b + 0) }'; } # a >= b
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "0" }'; }

fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
heap_of() { # metrics-url
    curl -s --max-time 5 "$1" | awk '/^clstr_heap_allocated_bytes/ { v = $2 } END { printf "%d", v }'
}

# ---------------------------------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------------------------------
TABLE=()
FAILED=0
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . ':!results' 2>/dev/null)" ]; then COMMIT="$COMMIT-dirty"; fi
CSV_HEADER="commit,date,scenario,requests,2xx,503,504_unknown,other,recovery_s,value_check,verdict,detail"

csv_field() { # quotes a field with commas or quotes (RFC 4180)
    if [[ $1 == *[,\"]* ]]; then printf '"%s"' "${1//\"/\"\"}"; else printf '%s' "$1"; fi
}

record() { # scenario recovery value-check verdict detail (counts from TOTALS)
    local scenario=$1 recovery=$2 value=$3 verdict=$4 detail=$5
    TABLE+=("$(printf '%-22s %9s %9s %7s %7s %7s %9s %-8s %-5s' "$scenario" "${TOTALS[0]}" "${TOTALS[1]}" \
        "${TOTALS[2]}" "${TOTALS[3]}" "${TOTALS[4]}" "$recovery" "$value" "$verdict")  $detail")
    [ "$verdict" = FAIL ] && FAILED=1
    [ "$verdict" = SKIP ] && return 0
    mkdir -p "$(dirname "$RESULTS")"
    [ -s "$RESULTS" ] || echo "$CSV_HEADER" >"$RESULTS"
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$COMMIT" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$scenario" \
        "${TOTALS[0]}" "${TOTALS[1]}" "${TOTALS[2]}" "${TOTALS[3]}" "${TOTALS[4]}" "$recovery" "$value" "$verdict" \
        "$(csv_field "$detail")" >>"$RESULTS"
}

PROBLEMS=()
check() { # condition-exit-status description: collects the failed promises of a scenario
    [ "$1" = 0 ] || PROBLEMS+=("$2")
}
verdict() { if [ ${#PROBLEMS[@]} -eq 0 ]; then echo PASS; else echo FAIL; fi; }
problems() { local IFS=';'; [ ${#PROBLEMS[@]} -eq 0 ] || echo " — FAILED: ${PROBLEMS[*]}"; }

# ---------------------------------------------------------------------------------------------------------------------
# 1. nats-server restarted mid-load
# ---------------------------------------------------------------------------------------------------------------------
scenario_1() {
    local name=1-nats-restart keys=30
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    start_cluster || { record "$name" - - FAIL "cluster did not start"; stop_cluster; return; }
    local probes=() id
    for id in ${NODE_IDS//,/ }; do key_on "$id" probe1; probes+=("$GW/counter/$KEY"); done
    load s1 -z "${LOAD_S}s" -c 50 -t 15 -m POST "$GW/counter/f1-$TAG-{rand:$keys}/increment" &
    local lg=$!
    sleep 3
    log "1: stopping nats-server (pid $NATS_PID) mid-load for 2 s"
    kill_pid "$NATS_PID"
    sleep 2
    start_nats
    # Recovery: from nats-server accepting again until a key of every node answers 200.
    local back recovery url
    back=$(now_ms)
    for url in "${probes[@]}"; do probe_ok "$url" 15000 >/dev/null || break; done
    recovery=$(($(now_ms) - back))
    wait "$lg"
    add_counts s1
    local sum low high maxlat timeouts
    sum=$(sum_values "$GW" "f1-$TAG-" "$keys")
    low=${TOTALS[1]}
    high=$((TOTALS[1] + TOTALS[3] + TOTALS[4]))
    maxlat=$(j s1 .latency.max)
    timeouts=$(j s1 '[.error_distribution | to_entries[] | select(.key | test("time"; "i")) | .value] | add // 0')
    local alive=1
    for id in ${NODE_IDS//,/ }; do kill -0 "${NODE_PID[$id]}" 2>/dev/null || alive=0; done
    check "$([ "$sum" -ge "$low" ] && [ "$sum" -le "$high" ]; echo $?)" "value $sum outside [$low, $high]"
    check "$(le "$maxlat" $((DEADLINE_S)).5; echo $?)" "slowest request $(ms "$maxlat") ms > deadline"
    check "$([ "$timeouts" = 0 ]; echo $?)" "$timeouts client timeouts"
    check "$([ "$recovery" -le 2000 ]; echo $?)" "recovery ${recovery} ms > 2 s"
    check "$([ $alive = 1 ]; echo $?)" "a node died"
    record "$name" "$(awk -v m="$recovery" 'BEGIN { printf "%.2f", m / 1000 }')" \
        "$([ "$sum" -ge "$low" ] && [ "$sum" -le "$high" ] && echo ok || echo bad)" "$(verdict)" \
        "value $sum in [$low, $high]; slowest $(ms "$maxlat") ms; errors $(errs s1)$(problems)"
    stop_cluster
}

# ---------------------------------------------------------------------------------------------------------------------
# 2. a node SIGKILLed mid-load, then restarted
# ---------------------------------------------------------------------------------------------------------------------
scenario_2() {
    local name=2-node-kill
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    start_cluster || { record "$name" - - FAIL "cluster did not start"; stop_cluster; return; }
    local victim=node-0 kv k1 k2
    key_on node-0 f2v && kv=$KEY
    key_on node-1 f2a && k1=$KEY
    key_on node-2 f2b && k2=$KEY
    # The victim's key is loaded all along (the kill lands mid-load); the other nodes' keys in two phases.
    load s2-victim -z "$((3 * PHASE_S + 2))s" -c 10 -t 15 -m POST "$GW/counter/$kv/increment" &
    local lv=$!
    load s2-a-clean -z "${PHASE_S}s" -c 20 -m POST "$GW/counter/$k1/increment" &
    local la=$!
    load s2-b-clean -z "${PHASE_S}s" -c 20 -m POST "$GW/counter/$k2/increment"
    wait "$la"
    log "2: SIGKILL $victim (pid ${NODE_PID[$victim]}) mid-load"
    kill_pid "${NODE_PID[$victim]}"
    load s2-a-down -z "${PHASE_S}s" -c 20 -m POST "$GW/counter/$k1/increment" &
    la=$!
    load s2-b-down -z "${PHASE_S}s" -c 20 -m POST "$GW/counter/$k2/increment" &
    local lb=$!
    sleep 0.5
    load s2-victim-down -z "$((PHASE_S - 1))s" -c 5 -t 15 -m POST "$GW/counter/$kv/increment"
    wait "$la" "$lb"
    log "2: restarting $victim"
    local started recovery
    started=$(now_ms)
    start_node "$victim"
    probe_ok "$GW/counter/$kv" 15000 >/dev/null
    recovery=$(($(now_ms) - started))
    wait "$lv"
    add_counts s2-victim s2-a-clean s2-b-clean s2-a-down s2-b-down s2-victim-down
    local clean down rate_ratio p99 v1 v2 want1 want2 victim503 victim_n
    clean=$(awk -v a="$(j s2-a-clean .rps)" -v b="$(j s2-b-clean .rps)" 'BEGIN { print a + b }')
    down=$(awk -v a="$(j s2-a-down .rps)" -v b="$(j s2-b-down .rps)" 'BEGIN { print a + b }')
    rate_ratio=$(ratio "$down" "$clean")
    p99=$(j s2-victim-down .latency.p99)
    victim503=$(j s2-victim-down '.status_codes["503"] // 0')
    victim_n=$(j s2-victim-down .requests)
    v1=$(value_of "$GW/counter/$k1"); v2=$(value_of "$GW/counter/$k2")
    read -r _ a1 _ <<<"$(counts s2-a-clean)"; read -r _ a2 _ <<<"$(counts s2-a-down)"
    read -r _ b1 _ <<<"$(counts s2-b-clean)"; read -r _ b2 _ <<<"$(counts s2-b-down)"
    want1=$((a1 + a2)); want2=$((b1 + b2))
    check "$(ge "$rate_ratio" 0.8; echo $?)" "other nodes' rate ${rate_ratio}x of clean"
    check "$(le "$p99" 0.050; echo $?)" "victim's p99 during the outage $(ms "$p99") ms > 50 ms"
    check "$([ "$victim503" = "$victim_n" ] && [ "$victim_n" -gt 0 ]; echo $?)" \
        "victim's keys: $victim503 of $victim_n answered 503"
    check "$([ "$recovery" -le 2000 ]; echo $?)" "victim serving ${recovery} ms after its restart > 2 s"
    check "$([ "$v1" = "$want1" ] && [ "$v2" = "$want2" ]; echo $?)" "others' values $v1/$v2 != 2xx $want1/$want2"
    record "$name" "$(awk -v m="$recovery" 'BEGIN { printf "%.2f", m / 1000 }')" \
        "$([ "$v1" = "$want1" ] && [ "$v2" = "$want2" ] && echo exact || echo bad)" "$(verdict)" \
        "others ${clean%.*} -> ${down%.*} req/s (${rate_ratio}x); victim p99 $(ms "$p99") ms, $victim503/$victim_n 503; victim across the kill: $(j s2-victim '.status_codes | tostring') errors $(j s2-victim .errors)$(problems)"
    stop_cluster
}

# ---------------------------------------------------------------------------------------------------------------------
# 3. the gateway restarted mid-load
# ---------------------------------------------------------------------------------------------------------------------
scenario_3() {
    local name=3-gateway-restart keys=30
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    start_cluster || { record "$name" - - FAIL "cluster did not start"; stop_cluster; return; }
    local before id
    before="${NODE_PID[*]}"
    load s3 -z "${LOAD_S}s" -c 50 -t 15 -m POST "$GW/counter/f3-$TAG-{rand:$keys}/increment" &
    local lg=$!
    sleep 3
    log "3: SIGKILL the gateway (pid $GW_PID) mid-load, restart it after 1 s"
    kill_pid "$GW_PID"
    sleep 1
    local started recovery
    started=$(now_ms)
    start_gateway
    probe_ok "$GW/counter/f3-$TAG-0" 15000 >/dev/null
    recovery=$(($(now_ms) - started))
    wait "$lg"
    add_counts s3
    local sum low high statuses_bad alive=1
    sum=$(sum_values "$GW" "f3-$TAG-" "$keys")
    low=${TOTALS[1]}
    high=$((TOTALS[1] + $(j s3 .errors)))
    statuses_bad=$(j s3 '[.status_codes | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0')
    for id in ${NODE_IDS//,/ }; do kill -0 "${NODE_PID[$id]}" 2>/dev/null || alive=0; done
    check "$([ "$statuses_bad" = 0 ]; echo $?)" "$statuses_bad non-2xx answers"
    check "$([ "$sum" -ge "$low" ] && [ "$sum" -le "$high" ]; echo $?)" "value $sum outside [$low, $high]"
    check "$([ $alive = 1 ] && [ "$before" = "${NODE_PID[*]}" ]; echo $?)" "a node died"
    check "$([ "$recovery" -le 2000 ]; echo $?)" "serving ${recovery} ms after the restart > 2 s"
    record "$name" "$(awk -v m="$recovery" 'BEGIN { printf "%.2f", m / 1000 }')" \
        "$([ "$sum" -ge "$low" ] && [ "$sum" -le "$high" ] && echo ok || echo bad)" "$(verdict)" \
        "value $sum in [$low, $high]; statuses $(j s3 '.status_codes | tostring'); errors $(errs s3)$(problems)"
    stop_cluster
}

# ---------------------------------------------------------------------------------------------------------------------
# 4, 5. accounting (SQLite; NATS + JetStream): keyed deposits across a crash, then the unanswered keys retried
# ---------------------------------------------------------------------------------------------------------------------
ACCT_PID=""; ACCT=""; ACCT_ARGS=()
start_accounting() { # accounting arguments… (ACCT_ARGS keeps them for a restart on the same ports)
    ACCT_ARGS=("$@")
    spawn accounting "$ACCOUNTING" "$@"
    ACCT_PID=$SPAWNED
    wait_http "$ACCT/stats" "$ACCT_PID" 60 || { log "accounting did not come up"; tail -5 "$RUN/accounting.log" >&2; return 1; }
}

# The deposits' verdict: every 2xx deposit present after the crash, nothing beyond the unanswered ones, and the
# retries of the refused and unknown keys (same Idempotency-Key) make the balance exact.
judge_deposits() { # scenario-name summary-json recovery-ms
    local name=$1 summary=$2 recovery=$3
    if [ -z "$summary" ]; then TOTALS=(0 0 0 0 0); record "$name" - - FAIL "faultclient deposits printed nothing"; return; fi
    TOTALS=($(jq -r '"\(.requests) \(.s2xx) \(.s503) \(.s504) \(.other)"' <<<"$summary"))
    local acked to_retry before final left want
    acked=$(jq -r .acknowledged <<<"$summary"); to_retry=$(jq -r .to_retry <<<"$summary")
    before=$(jq -r .balance_before_retry <<<"$summary"); final=$(jq -r .balance_final <<<"$summary")
    left=$(jq -r .retry_left <<<"$summary")
    want=$((acked + to_retry))
    check "$([ "$before" -ge "$acked" ]; echo $?)" "balance $before after the crash < $acked acknowledged deposits"
    check "$([ "$before" -le "$want" ]; echo $?)" "balance $before > acknowledged + unanswered $want"
    check "$([ "$left" = 0 ]; echo $?)" "$left keys still unanswered after the retries"
    check "$([ "$final" = "$want" ]; echo $?)" "balance $final after the retries != $want"
    check "$([ "$acked" -gt 0 ]; echo $?)" "no deposit acknowledged"
    record "$name" "$(awk -v m="$recovery" 'BEGIN { printf "%.2f", m / 1000 }')" \
        "$([ "$final" = "$want" ] && echo exact || echo bad)" "$(verdict)" \
        "acknowledged $acked, balance after the crash $before, retried $to_retry keys -> balance $final (want $want); statuses $(jq -c .statuses <<<"$summary") errors $(jq -c .errors <<<"$summary")$(problems)"
}

scenario_4() {
    local name=4-accounting-sqlite-kill http metrics
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    free_port http && free_port metrics || return
    ACCT=http://127.0.0.1:$http
    start_accounting serve --store sqlite --data-dir "$RUN/acct4" --http-port "$http" --metrics-port "$metrics" \
        || { record "$name" - - FAIL "accounting did not start"; return; }
    spawn deposits4 "$FAULTCLIENT" deposits --port "$http" --account "f4-$TAG" --connections 8 --seconds "$LOAD_S" \
        --retry-seconds 60
    local fc=$SPAWNED
    sleep 3
    log "4: SIGKILL accounting (pid $ACCT_PID) mid-deposits, restart after 1 s"
    kill_pid "$ACCT_PID"
    sleep 1
    local started recovery
    started=$(now_ms)
    start_accounting "${ACCT_ARGS[@]}"
    probe_ok "$ACCT/accounts/f4-$TAG" 15000 >/dev/null
    recovery=$(($(now_ms) - started))
    local deadline=$((SECONDS + LOAD_S + 90))
    while kill -0 "$fc" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    stop_pid "$fc"
    judge_deposits "$name" "$(grep '^{' "$RUN/deposits4.log" | tail -1)" "$recovery"
    stop_pid "$ACCT_PID"
}

scenario_5() {
    local name=5-accounting-nats-restart http metrics
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    free_port NATS_PORT && free_port http && free_port metrics || return
    ACCT=http://127.0.0.1:$http
    NATS_ARGS=(-js -sd "$RUN/js5")
    start_nats || { record "$name" - - FAIL "nats-server did not start"; return; }
    start_accounting serve --store jetstream --nats-url "nats://127.0.0.1:$NATS_PORT" --http-port "$http" \
        --metrics-port "$metrics" || { record "$name" - - FAIL "accounting did not start"; stop_all; return; }
    spawn deposits5 "$FAULTCLIENT" deposits --port "$http" --account "f5-$TAG" --connections 8 --seconds "$LOAD_S" \
        --retry-seconds 60
    local fc=$SPAWNED
    sleep 3
    log "5: SIGKILL nats-server (pid $NATS_PID) mid-deposits, back after 2 s with its JetStream store"
    kill_pid "$NATS_PID"
    sleep 2
    start_nats
    local back recovery
    back=$(now_ms)
    probe_ok "$ACCT/accounts/f5-$TAG" 15000 >/dev/null
    recovery=$(($(now_ms) - back))
    local deadline=$((SECONDS + LOAD_S + 90))
    while kill -0 "$fc" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    stop_pid "$fc"
    judge_deposits "$name" "$(grep '^{' "$RUN/deposits5.log" | tail -1)" "$recovery"
    stop_pid "$ACCT_PID"
    stop_pid "$NATS_PID"
    NATS_ARGS=()
}

# ---------------------------------------------------------------------------------------------------------------------
# The embedded service (scenarios 6–8)
# ---------------------------------------------------------------------------------------------------------------------
SVC_PID=""; SVC=""; SVC_METRICS=""
start_embedded() { # extra arguments…
    local http metrics
    free_port http && free_port metrics || return 1
    SVC=http://127.0.0.1:$http
    SVC_METRICS=http://127.0.0.1:$metrics/metrics
    spawn embedded "$SERVICE" --http-port "$http" --metrics-port "$metrics" "$@"
    SVC_PID=$SPAWNED
    wait_http "$SVC/counter/ready" "$SVC_PID" 30 && wait_http "$SVC_METRICS" "$SVC_PID" 10 \
        || { log "counter-service did not come up"; tail -5 "$RUN/embedded.log" >&2; return 1; }
}

wait_fds() { # pid baseline seconds: until the descriptor count is <= baseline (prints the last count)
    local deadline=$((SECONDS + $3)) n
    while :; do
        n=$(fds_of "$1")
        if [ "$n" -le "$2" ] || [ $SECONDS -ge $deadline ]; then echo "$n"; return; fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------------------------------
# 6. hostile clients during a load
# ---------------------------------------------------------------------------------------------------------------------
scenario_6() {
    local name=6-hostile-clients key
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    start_embedded || { record "$name" - - FAIL "service did not start"; return; }
    key=f6-$TAG
    local base_fds
    base_fds=$(fds_of "$SVC_PID")
    load s6-clean -z "${CLEAN_S}s" -c 50 -m POST "$SVC/counter/$key/increment"
    local hold=$((HEADER_DEADLINE + 10))
    local port=${SVC#http://127.0.0.1:}
    spawn faultclient "$FAULTCLIENT" hostile --port "$port" --idle 5000 --slow 500 --slow-interval 5 \
        --garbage-rate 200 --hold "$hold"
    local fc=$SPAWNED
    local deadline=$((SECONDS + 120))
    until grep -q '^ready$' "$RUN/faultclient.log" 2>/dev/null; do
        if ! kill -0 "$fc" 2>/dev/null || [ $SECONDS -ge $deadline ]; then break; fi
        sleep 0.2
    done
    local during_fds
    during_fds=$(fds_of "$SVC_PID")
    log "6: hostile clients ready (service fds $base_fds -> $during_fds); load for ${CLEAN_S}s; holding ${hold}s"
    load s6-hostile -z "${CLEAN_S}s" -c 50 -m POST "$SVC/counter/$key/increment"
    deadline=$((SECONDS + hold + 60))
    while kill -0 "$fc" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    stop_pid "$fc"
    local after_fds
    after_fds=$(wait_fds "$SVC_PID" "$base_fds" 15)
    # A second clean run after the hostile clients are gone: the clean rate is the mean of both (this machine
    # drifts between runs).
    load s6-clean-after -z "${CLEAN_S}s" -c 50 -m POST "$SVC/counter/$key/increment"
    add_counts s6-clean s6-hostile s6-clean-after
    local summary rate value want slow_opened slow_cut slow_max idle_opened garbage_bad
    summary=$(grep '^{' "$RUN/faultclient.log" | tail -1)
    [ -n "$summary" ] || summary='{}'
    local clean_rate
    clean_rate=$(awk -v a="$(j s6-clean .rps)" -v b="$(j s6-clean-after .rps)" 'BEGIN { printf "%.0f", (a + b) / 2 }')
    rate=$(ratio "$(j s6-hostile .rps)" "$clean_rate")
    value=$(value_of "$SVC/counter/$key")
    want=${TOTALS[1]}
    idle_opened=$(jq -r '.idle_opened // 0' <<<"$summary")
    slow_opened=$(jq -r '.slow_opened // 0' <<<"$summary")
    slow_cut=$(jq -r '.slow_closed_by_server // 0' <<<"$summary")
    slow_max=$(jq -r '.slow_close_s_max // -1' <<<"$summary")
    garbage_bad=$(jq -r '([.garbage_statuses // {} | to_entries[] | select(.key | startswith("4") | not) | .value] | add // 0)
        + ([.garbage_errors // {} | to_entries[] | .value] | add // 0)' <<<"$summary")
    check "$(ge "$rate" 0.8; echo $?)" "load at ${rate}x of its clean rate"
    check "$([ "$idle_opened" = 5000 ] && [ "$slow_opened" = 500 ]; echo $?)" \
        "only $idle_opened idle / $slow_opened slow connections opened"
    check "$([ "$slow_cut" = "$slow_opened" ] && le "$slow_max" $((HEADER_DEADLINE + 5)); echo $?)" \
        "$slow_cut of $slow_opened slow-header clients cut within ${HEADER_DEADLINE}+5 s"
    check "$([ "$garbage_bad" = 0 ]; echo $?)" "$garbage_bad garbage requests without a 4xx answer"
    check "$([ "$after_fds" -le "$base_fds" ]; echo $?)" "descriptors $after_fds > baseline $base_fds"
    check "$([ "$value" = "$want" ]; echo $?)" "value $value != 2xx $want"
    record "$name" - "$([ "$value" = "$want" ] && echo exact || echo bad)" "$(verdict)" \
        "clean $(j s6-clean .rps | cut -d. -f1)/$(j s6-clean-after .rps | cut -d. -f1) (before/after) -> $(j s6-hostile .rps | cut -d. -f1) req/s with the hostile clients (${rate}x); fds $base_fds/$during_fds/$after_fds; hostile $(jq -c 'del(.hold_s)' <<<"$summary")$(problems)"
    stop_pid "$SVC_PID"
}

# ---------------------------------------------------------------------------------------------------------------------
# 7. connection churn
# ---------------------------------------------------------------------------------------------------------------------
scenario_7() {
    local name=7-connection-churn key
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    local low high
    read -r low high </proc/sys/net/ipv4/ip_local_port_range
    local ports=$((high - low + 1)) tw
    tw=$(ss -Htan state time-wait 2>/dev/null | wc -l)
    if [ $((ports - tw)) -lt "$CHURN" ]; then
        log "7: ephemeral ports $low-$high with $tw in TIME_WAIT leave fewer than $CHURN free: connects may fail"
    fi
    start_embedded || { record "$name" - - FAIL "service did not start"; return; }
    key=f7-$TAG
    # Warm-up: the first connections allocate the loops' buffers; the baseline is taken after them.
    load s7-warm -n 2000 -c 8 -disable-keepalive -m POST "$SVC/counter/$key/increment"
    sleep 1
    local base_fds base_heap
    base_fds=$(fds_of "$SVC_PID")
    base_heap=$(heap_of "$SVC_METRICS")
    load s7 -n "$CHURN" -c 8 -disable-keepalive -t 10 -m POST "$SVC/counter/$key/increment"
    local after_fds after_heap
    after_fds=$(wait_fds "$SVC_PID" "$base_fds" 15)
    sleep 1
    after_heap=$(heap_of "$SVC_METRICS")
    add_counts s7-warm s7
    local value want growth
    value=$(value_of "$SVC/counter/$key")
    want=${TOTALS[1]}
    growth=$((after_heap - base_heap))
    check "$([ "$(j s7 .requests)" = "$CHURN" ] && [ "$(j s7 .errors)" = 0 ]; echo $?)" \
        "$(j s7 .errors) errors in $(j s7 .requests) connections"
    check "$([ "$growth" -le 1048576 ]; echo $?)" "heap grew $growth bytes"
    check "$([ "$after_fds" -le "$base_fds" ]; echo $?)" "descriptors $after_fds > baseline $base_fds"
    check "$([ "$value" = "$want" ]; echo $?)" "value $value != 2xx $want"
    record "$name" - "$([ "$value" = "$want" ] && echo exact || echo bad)" "$(verdict)" \
        "$CHURN connections at $(j s7 .rps | cut -d. -f1)/s; heap $base_heap -> $after_heap (+$growth B); fds $base_fds -> $after_fds; TIME_WAIT before $tw$(problems)"
    stop_pid "$SVC_PID"
}

# ---------------------------------------------------------------------------------------------------------------------
# 8. soak at half capacity
# ---------------------------------------------------------------------------------------------------------------------
scenario_8() {
    local name=8-soak key
    TOTALS=(0 0 0 0 0); PROBLEMS=()
    start_embedded || { record "$name" - - FAIL "service did not start"; return; }
    key=f8-$TAG
    load s8-capacity -z 5s -c 50 -m POST "$SVC/counter/$key/increment"
    local rate
    rate=$(awk -v r="$(j s8-capacity .rps)" 'BEGIN { printf "%d", r / 2 }')
    log "8: capacity $(j s8-capacity .rps | cut -d. -f1) req/s; soak at $rate req/s, $SOAK_SEGMENTS x ${SOAK_SEGMENT_S}s"
    local s heaps=() p99s=() names=(s8-capacity)
    for s in $(seq 1 "$SOAK_SEGMENTS"); do
        load "s8-$s" -z "${SOAK_SEGMENT_S}s" -c 50 --rate "$rate" -t 10 -m POST "$SVC/counter/$key/increment"
        names+=("s8-$s")
        heaps+=("$(heap_of "$SVC_METRICS")")
        p99s+=("$(j "s8-$s" .latency.corrected.p99)")
    done
    add_counts "${names[@]}"
    local value want first_heap max_heap first_p99 worst_p99 worst_ratio
    value=$(value_of "$SVC/counter/$key")
    want=${TOTALS[1]}
    first_heap=${heaps[0]}
    max_heap=$(printf '%s\n' "${heaps[@]:1}" | sort -n | tail -1)
    [ -n "$max_heap" ] || max_heap=$first_heap
    first_p99=${p99s[0]}
    worst_p99=$(printf '%s\n' "${p99s[@]:1}" | sort -g | tail -1)
    [ -n "$worst_p99" ] || worst_p99=$first_p99
    worst_ratio=$(ratio "$worst_p99" "$first_p99")
    check "$([ $((max_heap - first_heap)) -le 1048576 ]; echo $?)" "heap grew $((max_heap - first_heap)) bytes"
    # Within 1.5x the first segment's, or within 1 ms of it: at sub-millisecond tails one scheduling quantum of
    # the shared machine is more than half the value (0.5 -> 1.2 ms was seen with a flat heap and 0 errors).
    local worst_gap
    worst_gap=$(awk -v w="$worst_p99" -v f="$first_p99" 'BEGIN { printf "%.3f", w - f }')
    check "$( (le "$worst_ratio" 1.5 || le "$worst_gap" 1.0); echo $?)" \
        "p99 ${worst_ratio}x the first segment's (+${worst_gap} ms)"
    check "$([ "$value" = "$want" ]; echo $?)" "value $value != 2xx $want"
    check "$([ "$((TOTALS[0] - TOTALS[1]))" = 0 ]; echo $?)" "$((TOTALS[0] - TOTALS[1])) requests not 2xx"
    local p99_list="" h
    for h in "${p99s[@]}"; do p99_list+="$(ms "$h") "; done
    record "$name" - "$([ "$value" = "$want" ] && echo exact || echo bad)" "$(verdict)" \
        "rate $rate req/s; corrected p99 per segment (ms): ${p99_list% }; heap ${heaps[*]}$(problems)"
    stop_pid "$SVC_PID"
}

# ---------------------------------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------------------------------
for tool in jq curl nats-server ss; do
    command -v "$tool" >/dev/null || { log "$tool is missing (make deps installs it)"; exit 1; }
done
# 5,000 idle and 500 slow connections need descriptors in the service and in faultclient.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TAG=$(date +%s)-$$
log "commit $COMMIT · QUICK=$QUICK · scenarios: $SCENARIOS · run folder $RUN"
[ "${SKIP_BUILD:-0}" = 1 ] || log "release build of counter-service, accounting, loadgen and faultclient"
[ "${SKIP_BUILD:-0}" = 1 ] || for product in counter-service accounting loadgen faultclient; do
    "$SWIFT" build -c release --product "$product" >"$RUN/build-$product.log" 2>&1 \
        || { tail -30 "$RUN/build-$product.log" >&2; log "build failed"; exit 1; }
done

for scenario in $SCENARIOS; do
    case $scenario in
        1 | 2 | 3 | 4 | 5 | 6 | 7 | 8)
            log "scenario $scenario"
            started=$SECONDS
            "scenario_$scenario"
            stop_all
            log "scenario $scenario took $((SECONDS - started)) s"
            ;;
        *) log "unknown scenario $scenario (1–8)"; FAILED=1 ;;
    esac
done

echo
printf '%-22s %9s %9s %7s %7s %7s %9s %-8s %-5s  %s\n' scenario requests 2xx 503 504 other recovery value verdict detail
for line in "${TABLE[@]}"; do echo "$line"; done
echo
[ "$FAILED" = 0 ] || log "a scenario FAILED"
log "rows appended to $RESULTS (commit $COMMIT)"
exit "$FAILED"
