#!/usr/bin/env bash
# The driver of `make bench` (and of `make compare`'s micro-benchmark part).
#
#   scripts/bench.sh                 run the suite: release build, counter-service on free ports, every scenario
#                                    3 times with loadgen (hot-key, spread, read, rate; hot-key-nats, spread-nats
#                                    over --transport nats --nats-server auto with batching on, the default, and
#                                    hot-key-nats-unbatched, spread-nats-unbatched with --nats-batching off;
#                                    hot-key-nats-multi: nats-server, three `node` processes and a `gateway`;
#                                    soak with SOAK=1), million-keys once
#                                    (increments over 1,000,000 ids, verified by their sum), the hot-key
#                                    anchors (wrk and hey against counter-service; loadgen, wrk and hey against a
#                                    fixed-response nginx), accounting's acct-deposit/-spread/-transfer on SQLite,
#                                    memory (and deposit/transfer on JetStream over NATS), the micro benchmarks (package-benchmark, exported to
#                                    results/micro/<commit>/); append the rows to results/bench.csv, print the summary
#   scripts/bench.sh compare [BASE] [HEAD]
#                                    `loadgen compare results/bench.csv`: the medians of two commits (default: the
#                                    latest commit with results and the latest earlier one with runs of the same
#                                    size; req/s, latency, heap, CPU µs per request), then results/instructions.csv
#                                    (instructions per request, 2 % band), then the micro benchmarks through package-benchmark baselines when both
#                                    commits have an export
#
# Every run records the CPU time (user + system) its serving processes spent, sampled from /proc/<pid>/stat of the
# target's process tree before and after the run (the manifest's server_cpu_s); the rows carry it as cpu_us_per_req
# and cpu_ratio_vs_nginx, which move far less with the machine's load than req/s.
#
# Environment: QUICK=1 (small runs, no micro benchmarks: under 3 minutes once built), SOAK=1 (add the 1,000,000
# request soak), REPEATS (default 3), MICRO=0/1 (default 1, 0 with QUICK), RESULTS (default results/bench.csv),
# ONLY=accounting (only the accounting scenarios: no counter, no anchors, no micro benchmarks), KEEP_RUN=1 (keep the run folder with every tool's output), SWIFT (default swift), EMBEDDED_ARGS (counter-service
# options for the embedded scenarios; default "--threads 1": one serving thread, like the one-worker nginx it is
# compared with, the other core left to the load generator), NATS_ARGS (default none: one loop per core).
#
# Everything the script starts is stopped by PID at the end, also on failure or Ctrl-C. A run that fails (its
# verification, errors > 0, a non-2xx response, a dead server, a tool's non-zero exit) is marked FAILED in the
# summary and in the CSV, and the script exits non-zero after finishing the rest.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SWIFT=${SWIFT:-swift}
RESULTS=${RESULTS:-results/bench.csv}
QUICK=${QUICK:-0}
SOAK=${SOAK:-0}
REPEATS=${REPEATS:-3}
ONLY=${ONLY:-}
if [ "$QUICK" = 1 ]; then MICRO=${MICRO:-0}; else MICRO=${MICRO:-1}; fi
BIN=$ROOT/.build/release
LOADGEN=$BIN/loadgen
SERVICE=$BIN/counter-service
read -r -a EMBEDDED_OPTIONS <<<"${EMBEDDED_ARGS---threads 1}"
read -r -a NATS_OPTIONS <<<"${NATS_ARGS-}"
MICRO_DIR=$ROOT/results/micro
MICRO_TARGET=RuntimeBenchmarks

log() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------------------------------
# make compare
# ---------------------------------------------------------------------------------------------------------------------
if [ "${1:-}" = compare ]; then
    BASE=${2:-}
    HEAD_COMMIT=${3:-}
    "$SWIFT" build -c release --product loadgen >&2 || exit 1
    args=(compare "$RESULTS")
    [ -n "$BASE" ] && args+=(--base "$BASE")
    [ -n "$HEAD_COMMIT" ] && args+=(--head "$HEAD_COMMIT")
    out=$(mktemp)
    "$LOADGEN" "${args[@]}" | tee "$out"
    status=${PIPESTATUS[0]}
    # The commits the macro comparison chose (its first line: "base X → head Y").
    read -r _ base_used _ _ head_used <"$out"
    rm -f "$out"
    # Instructions per request (make bench-instructions): its own file, the same comparer; a 2 % band.
    INSTRUCTIONS=${INSTRUCTIONS:-results/instructions.csv}
    if [ -f "$INSTRUCTIONS" ]; then
        log "instructions per request: loadgen compare $INSTRUCTIONS"
        "$LOADGEN" compare "$INSTRUCTIONS"
        case $? in
        0 | 2) ;; # 2: fewer than two commits with callgrind rows
        *) status=1 ;;
        esac
    fi
    if [ -n "${base_used:-}" ] && [ -f "$MICRO_DIR/${base_used%-dirty}/$MICRO_TARGET.results.json.gz" ] \
        && [ -f "$MICRO_DIR/${head_used%-dirty}/$MICRO_TARGET.results.json.gz" ]; then
        log "micro benchmarks: package-benchmark baseline check ${base_used%-dirty} → ${head_used%-dirty}"
        for commit in "${base_used%-dirty}" "${head_used%-dirty}"; do
            mkdir -p "Benchmarks/.benchmarkBaselines/$MICRO_TARGET/$commit"
            gunzip -c "$MICRO_DIR/$commit/$MICRO_TARGET.results.json.gz" \
                >"Benchmarks/.benchmarkBaselines/$MICRO_TARGET/$commit/results.json"
        done
        (cd Benchmarks && "$SWIFT" package --allow-writing-to-package-directory benchmark baseline compare \
            "${base_used%-dirty}" "${head_used%-dirty}" --no-progress) || true
        (cd Benchmarks && "$SWIFT" package --allow-writing-to-package-directory benchmark baseline check \
            "${base_used%-dirty}" "${head_used%-dirty}" --no-progress) || status=1
    else
        log "micro benchmarks: no package-benchmark export for both commits under results/micro/ — skipped"
    fi
    exit $status
fi

# ---------------------------------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------------------------------
CONNECTIONS=200
if [ "$QUICK" = 1 ]; then
    N=10000; NATS_N=5000; WRK_SECONDS=2; RATE_SECONDS=3; SOAK_N=200000
else
    N=100000; NATS_N=100000; WRK_SECONDS=5; RATE_SECONDS=8; SOAK_N=1000000
fi
SPREAD_IDS=10000
MILLION_IDS=1000000
if [ "$QUICK" = 1 ]; then MILLION_N=100000; else MILLION_N=1000000; fi
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

# ---------------------------------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped by PID on exit.
# ---------------------------------------------------------------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/clstr-bench.XXXXXX")
STARTED=()
NGINX_HANDLE=""

forget_pid() { # pid: drop it from STARTED once stopped, so cleanup never signals a recycled PID
    local kept=() p
    for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    STARTED=("${kept[@]}")
}

stop_pid() { # pid: SIGTERM, wait up to 10 s, then SIGKILL
    local pid=$1
    forget_pid "$pid"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    log "pid $pid did not stop in 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
    if [ -n "$NGINX_HANDLE" ]; then stop_nginx; fi
    if [ "${KEEP_RUN:-0}" = 1 ]; then log "run folder kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# free_port and wait_http.
. "$ROOT/scripts/lib.sh"

# Waits until an HTTP server answers (any status) at a URL, while the process lives; bounded.
SVC_PID=""
SVC_URL=""
METRICS_URL=""
SVC_ARGS=()
SERVICE_SUBCOMMAND=() # words before the options (accounting's `serve`)
start_service() { # extra counter-service arguments…
    SVC_ARGS=("$@")
    local http metrics
    free_port http && free_port metrics || { log "no free port"; return 1; }
    "$SERVICE" "${SERVICE_SUBCOMMAND[@]}" --http-port "$http" --metrics-port "$metrics" "$@" \
        >>"$RUN/counter-service.log" 2>&1 &
    SVC_PID=$!
    STARTED+=("$SVC_PID")
    SVC_URL="http://127.0.0.1:$http"
    METRICS_URL="http://127.0.0.1:$metrics/metrics"
    if ! wait_http "$SVC_URL/counter/bench-ready" "$SVC_PID" 60 || ! wait_http "$METRICS_URL" "$SVC_PID" 10; then
        log "counter-service $* did not come up (log: $RUN/counter-service.log)"
        tail -20 "$RUN/counter-service.log" >&2
        return 1
    fi
    log "counter-service${*:+ $*} up: pid $SVC_PID, $SVC_URL, metrics $METRICS_URL"
}

stop_service() {
    [ -n "$SVC_PID" ] && stop_pid "$SVC_PID"
    SVC_PID=""
}

# After a run: is the service alive (ALIVE=1)? If not (ALIVE=0), restart it with the same arguments so that the
# rest can run. Sets a variable rather than printing: a command substitution would run it in a subshell, and the
# restarted PID would be lost to the cleanup.
ALIVE=1
check_service() {
    if [ -n "$SVC_PID" ] && kill -0 "$SVC_PID" 2>/dev/null; then ALIVE=1; return; fi
    ALIVE=0
    log "counter-service died (log: $RUN/counter-service.log); restarting for the remaining runs"
    tail -20 "$RUN/counter-service.log" >&2
    start_service "${SVC_ARGS[@]}" || true
}

NGINX_URL=""
NGINX_PID=""
start_nginx() {
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { log "nginx not installed: no nginx anchor"; return 1; }
    local port
    free_port port || return 1
    # Fixed-response nginx in a temp dir (one worker), answering a counter-shaped JSON body; prints its PID.
    NGINX_PID=$(BODY='{"counter_id":"bench","value":1}' CONTENT_TYPE=application/json \
        scripts/nginx-fixed.sh start "$port" 2>>"$RUN/nginx.log" | tail -1)
    NGINX_HANDLE=helper
    NGINX_URL="http://127.0.0.1:$port"
    if [ -z "$NGINX_PID" ] || ! wait_http "$NGINX_URL/" "$NGINX_PID" 10; then
        log "nginx did not come up (log: $RUN/nginx.log)"
        return 1
    fi
    log "nginx (fixed response) up: pid $NGINX_PID, $NGINX_URL"
}

stop_nginx() {
    scripts/nginx-fixed.sh stop "$NGINX_PID" >/dev/null 2>&1 || stop_pid "$NGINX_PID"
    forget_pid "$NGINX_PID"
    NGINX_HANDLE=""
}

# ---------------------------------------------------------------------------------------------------------------------
# Runs: each one appends a line to the manifest that `loadgen report ingest` turns into a judged row.
# ---------------------------------------------------------------------------------------------------------------------
MANIFEST=$RUN/manifest.tsv
SUM_BEFORE=0
printf 'kind\tscenario\ttool\ttarget\texit_code\tserver_alive\tfile\tn\tc\trate\tmethod\turl_path\tbody_bytes\tverify\theap_before\theap_after\trss_before\trss_after\tserver_cpu_s\n' >"$MANIFEST"
RUNNO=0

# The serving processes' CPU time over a run (user + system), written by each run into the manifest's
# server_cpu_s: sampled right before the tool starts and right after it exits.
CPU_S=""
manifest() { # kind scenario tool target exit alive file n rate method path verify (and CPU_S)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\t%s\t\t\t\t\t%s\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$CONNECTIONS" "$9" "${10}" "${11}" "${12}" "$CPU_S" >>"$MANIFEST"
    CPU_S=""
}

# The process trees measured (tree_ticks, scripts/lib.sh): counter-service and, in NATS modes, the nats-server it
# started (`--nats-server auto`); nginx's master and its worker.
# The PID whose process tree serves a target.
target_pid() { # target
    if [ "$1" = nginx ]; then echo "$NGINX_PID"; else echo "$SVC_PID"; fi
}

# The other serving processes of a multi-process target (nats-server and the node processes beside the gateway):
# their CPU counts with the target's.
EXTRA_CPU_PIDS=()
target_ticks() { # target
    local total pid
    total=$(tree_ticks "$(target_pid "$1")")
    if [ "$1" != nginx ]; then
        for pid in "${EXTRA_CPU_PIDS[@]+"${EXTRA_CPU_PIDS[@]}"}"; do total=$((total + $(tree_ticks "$pid"))); done
    fi
    echo "$total"
}

# CPU_TICKS_BEFORE=… before a run; cpu_after sets CPU_S to the seconds spent since (empty when the server died).
CPU_TICKS_BEFORE=0
cpu_before() { # target
    CPU_TICKS_BEFORE=$(target_ticks "$1")
}
cpu_after() { # target
    local pid
    pid=$(target_pid "$1")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        CPU_S=$(awk -v a="$CPU_TICKS_BEFORE" -v b="$(target_ticks "$1")" -v hz="$CLK_TCK" \
            'BEGIN { printf "%.3f", (b - a) / hz }')
    else
        CPU_S=""
    fi
}

counter_value() { # id → the counter's value, or nothing
    curl -s --max-time 5 "$SVC_URL/counter/$1" | grep -oE '"(value|count)"[[:space:]]*:[[:space:]]*[0-9]+' \
        | grep -oE '[0-9]+$' | head -1
}

# A column of the last row of a loadgen results file, read by name.
result_column() { # file column
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i } NR > 1 && col { v = $col }
        END { print v }' "$1"
}

# Sums the counters <prefix>0 … <prefix>(ids-1) with one curl (URL globbing: one process, one kept-alive
# connection); a counter that was never incremented counts 0.
sum_counters() { # prefix ids
    curl -s --max-time $((300 + $2 / 2000)) "$SVC_URL/counter/$1[0-$(($2 - 1))]" \
        | grep -oE '"value"[[:space:]]*:[[:space:]]*[0-9]+' | grep -oE '[0-9]+$' | awk '{ s += $1 } END { print s + 0 }'
}

# The sum of the balances of accounts <prefix>0 … <prefix>(ids-1), like sum_counters.
sum_balances() { # prefix ids
    curl -s --max-time 300 "$SVC_URL/accounts/$1[0-$(($2 - 1))]" \
        | grep -oE '"balance"[[:space:]]*:[[:space:]]*[0-9]+' | grep -oE '[0-9]+$' | awk '{ s += $1 } END { print s + 0 }'
}

# loadgen against a target. Arguments: scenario target(counter-service|accounting|nginx) method path n [loadgen args…]
# The path may hold loadgen's placeholders; a POST path of the form /counter/<id>/increment is verified by loadgen
# (--verify-counter), one of the form /counter/<prefix>{rand:N}/increment by summing the N counters afterwards;
# accounting's deposits likewise (/accounts/<id>/deposit: --verify … --field balance; {rand:N}: the balances' sum).
run_loadgen() {
    local scenario=$1 target=$2 method=$3 path=$4 n=$5
    shift 5
    RUNNO=$((RUNNO + 1))
    local file="r$RUNNO-$scenario-loadgen-$target.csv" base rate="" args=() verify="" spread_prefix="" spread_ids=""
    local spread_sum=sum_counters
    if [ "$target" = nginx ]; then base=$NGINX_URL; else
        base=$SVC_URL
        args+=(--metrics-url "$METRICS_URL")
        if [ "$method" = POST ]; then
            if [[ $path =~ ^/counter/([^/{}]*)\{rand:([0-9]+)\}/increment$ ]]; then
                spread_prefix=${BASH_REMATCH[1]}
                spread_ids=${BASH_REMATCH[2]}
            elif [[ $path =~ ^/counter/([^/{}]+)/increment$ ]]; then
                args+=(--verify-counter "$SVC_URL/counter/${BASH_REMATCH[1]}")
            elif [[ $path =~ ^/accounts/([^/{}]*)\{rand:([0-9]+)\}/deposit$ ]]; then
                spread_prefix=${BASH_REMATCH[1]}
                spread_ids=${BASH_REMATCH[2]}
                spread_sum=sum_balances
            elif [[ $path =~ ^/accounts/([^/{}]+)/deposit$ ]]; then
                args+=(--verify "$SVC_URL/accounts/${BASH_REMATCH[1]}" --field balance)
            fi
        fi
    fi
    for ((k = 1; k <= $#; k++)); do [ "${!k}" = --rate ] && { local next=$((k + 1)); rate=${!next}; }; done
    log "run $RUNNO: $scenario · loadgen → $target · $method $path · n=$n c=$CONNECTIONS ${rate:+rate=$rate}"
    cpu_before "$target"
    timeout --foreground --kill-after=10 "$RUN_TIMEOUT" "$LOADGEN" -n "$n" -c "$CONNECTIONS" -m "$method" "${args[@]}" "$@" \
        --no-progress --fail-on-errors --results "$RUN/$file" --scenario "$scenario" "$base$path" \
        >"$RUN/r$RUNNO.log" 2>&1
    local rc=$? alive=1
    cpu_after "$target"
    if [ "$target" != nginx ]; then check_service; alive=$ALIVE; fi
    [ $rc -ne 0 ] && { log "  exit $rc:"; tail -5 "$RUN/r$RUNNO.log" >&2; }
    if [ -n "$spread_prefix" ] && [ "$alive" = 1 ] && [ -s "$RUN/$file" ]; then
        local requests errors non2xx expected total
        requests=$(result_column "$RUN/$file" requests)
        errors=$(result_column "$RUN/$file" errors)
        non2xx=$(result_column "$RUN/$file" non_2xx)
        expected=$((${requests:-0} - ${errors:-0} - ${non2xx:-0}))
        total=$(($($spread_sum "$spread_prefix" "$spread_ids") - SUM_BEFORE))
        if [ "$total" = "$expected" ]; then verify="PASS"; else verify="FAIL sum $total expected $expected"; fi
        log "  sum of $spread_ids counters grew by $total (2xx: $expected) → $verify"
        # loadgen left verify empty (no single counter to check): the manifest's value fills it.
    fi
    manifest loadgen "$scenario" loadgen "$target" "$rc" "$alive" "$file" "$n" "$rate" "$method" "$path" "$verify"
}

# wrk against a target for WRK_SECONDS. Arguments: scenario target id
run_wrk() {
    local scenario=$1 target=$2 id=$3 base path="/counter/$3/increment" verify=""
    RUNNO=$((RUNNO + 1))
    local file="r$RUNNO-$scenario-wrk-$target.txt"
    if [ "$target" = nginx ]; then base=$NGINX_URL; else base=$SVC_URL; fi
    log "run $RUNNO: $scenario · wrk → $target · POST $path · ${WRK_SECONDS}s c=$CONNECTIONS"
    cpu_before "$target"
    WRK_METHOD=POST timeout --foreground --kill-after=10 "$RUN_TIMEOUT" wrk -t1 -c"$CONNECTIONS" -d"${WRK_SECONDS}s" \
        -s "$ROOT/scripts/bench-wrk.lua" "$base$path" >"$RUN/$file" 2>&1
    local rc=$? alive=1
    cpu_after "$target"
    if [ "$target" = counter-service ]; then
        check_service
        alive=$ALIVE
        # wrk does not count the requests still in flight at its cut-off, so the counter may exceed its count by
        # at most one per connection.
        local counted value
        counted=$(grep -oE 'WRK_RESULT requests=[0-9]+' "$RUN/$file" | grep -oE '[0-9]+$')
        value=$(counter_value "$id")
        if [ -n "$counted" ] && [ -n "$value" ]; then
            if [ "$value" -ge "$counted" ] && [ "$value" -le $((counted + CONNECTIONS)) ]; then
                verify="PASS counter $value for $counted counted"
            else
                verify="FAIL counter $value for $counted counted"
            fi
        fi
    fi
    manifest wrk "$scenario" wrk "$target" "$rc" "$alive" "$file" "" "" POST "$path" "$verify"
}

# hey against a target: n requests. Arguments: scenario target(counter-service|nginx) id n
run_hey() {
    local scenario=$1 target=$2 id=$3 n=$4 path="/counter/$3/increment" verify="" base
    RUNNO=$((RUNNO + 1))
    local file="r$RUNNO-$scenario-hey-$target.csv"
    if [ "$target" = nginx ]; then base=$NGINX_URL; else base=$SVC_URL; fi
    log "run $RUNNO: $scenario · hey → $target · POST $path · n=$n c=$CONNECTIONS"
    cpu_before "$target"
    timeout --foreground --kill-after=10 "$RUN_TIMEOUT" hey -n "$n" -c "$CONNECTIONS" -m POST -o csv "$base$path" \
        >"$RUN/$file" 2>"$RUN/r$RUNNO.log"
    local rc=$? alive=1 value
    cpu_after "$target"
    if [ "$target" = counter-service ]; then
        check_service
        alive=$ALIVE
        value=$(counter_value "$id")
        if [ -n "$value" ]; then
            if [ "$value" = "$n" ]; then verify="PASS"; else verify="FAIL counter $value expected $n"; fi
        fi
    fi
    manifest hey "$scenario" hey "$target" "$rc" "$alive" "$file" "$n" "" POST "$path" "$verify"
}

# acct-transfer: random transfers among TRANSFER_IDS accounts, then the sum invariant. The accounts are two halves
# (tl-… and tr-…, TRANSFER_IDS/2 each) and every transfer goes from a random account of one half to a random one of
# the other (`-d '{"from":"tl-…{rand:500}","to":"tr-…{rand:500}",…}'`), the direction swapped on every repeat; so
# by construction no transfer names one account twice (the API answers that 422) and none can be refused for
# funds (409): each account opens with TRANSFER_BALANCE ≥ n × amount, more than a run can take out of it. A refused
# transfer would be a non-2xx and fail the row. Verified after each run: the balances' sum is still TRANSFER_IDS ×
# TRANSFER_BALANCE (money neither created nor destroyed), and the receiving half gained exactly one unit per 2xx
# (every answered transfer moved its amount once, none twice).
TRANSFER_IDS=1000
TRANSFER_BALANCE=1000000
run_transfers() { # scenario n
    local scenario=$1 n=$2 half=$((TRANSFER_IDS / 2)) i
    "$LOADGEN" -n "$half" -c "$CONNECTIONS" -m POST -d "{\"initial\": $TRANSFER_BALANCE}" --no-progress \
        --fail-on-errors "$SVC_URL/accounts/tl-$TAG-{n}" >"$RUN/$scenario-open-l.log" 2>&1 || log "opening tl- failed"
    "$LOADGEN" -n "$half" -c "$CONNECTIONS" -m POST -d "{\"initial\": $TRANSFER_BALANCE}" --no-progress \
        --fail-on-errors "$SVC_URL/accounts/tr-$TAG-{n}" >"$RUN/$scenario-open-r.log" 2>&1 || log "opening tr- failed"
    for i in $(seq 1 "$REPEATS"); do
        local src=tl dst=tr
        [ $((i % 2)) = 0 ] && { src=tr; dst=tl; }
        local before_dst
        before_dst=$(sum_balances "$dst-$TAG-" "$half")
        RUNNO=$((RUNNO + 1))
        local file="r$RUNNO-$scenario-loadgen-accounting.csv" verify=""
        log "run $RUNNO: $scenario · loadgen → accounting · POST /transfers $src → $dst · n=$n c=$CONNECTIONS"
        cpu_before accounting
        timeout --foreground --kill-after=10 "$RUN_TIMEOUT" "$LOADGEN" -n "$n" -c "$CONNECTIONS" -m POST \
            --metrics-url "$METRICS_URL" -T application/json \
            -d "{\"from\":\"$src-$TAG-{rand:$half}\",\"to\":\"$dst-$TAG-{rand:$half}\",\"amount\":1}" \
            --no-progress --fail-on-errors --results "$RUN/$file" --scenario "$scenario" "$SVC_URL/transfers" \
            >"$RUN/r$RUNNO.log" 2>&1
        local rc=$? alive
        cpu_after accounting
        check_service
        alive=$ALIVE
        [ $rc -ne 0 ] && { log "  exit $rc:"; tail -5 "$RUN/r$RUNNO.log" >&2; }
        if [ "$alive" = 1 ] && [ -s "$RUN/$file" ]; then
            local requests errors non2xx expected total gained
            requests=$(result_column "$RUN/$file" requests)
            errors=$(result_column "$RUN/$file" errors)
            non2xx=$(result_column "$RUN/$file" non_2xx)
            expected=$((${requests:-0} - ${errors:-0} - ${non2xx:-0}))
            total=$(($(sum_balances "tl-$TAG-" "$half") + $(sum_balances "tr-$TAG-" "$half")))
            gained=$(($(sum_balances "$dst-$TAG-" "$half") - before_dst))
            if [ "$total" = $((TRANSFER_IDS * TRANSFER_BALANCE)) ] && [ "$gained" = "$expected" ]; then
                verify="PASS"
            else
                verify="FAIL sum $total expected $((TRANSFER_IDS * TRANSFER_BALANCE)), moved $gained for $expected 2xx"
            fi
            log "  sum of $TRANSFER_IDS balances $total; $gained moved for $expected 2xx → $verify"
        fi
        manifest loadgen "$scenario" loadgen accounting "$rc" "$alive" "$file" "$n" "" POST /transfers "$verify"
    done
}

# The median req/s of a scenario's loadgen rows so far (read by column name from loadgen's results files).
median_rps() { # scenario
    local files=("$RUN"/r*-"$1"-loadgen-counter-service.csv)
    [ -e "${files[0]}" ] || return 1
    for f in "${files[@]}"; do
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "rps") col = i } NR > 1 && col { v = $col } END { if (v != "") print v }' "$f"
    done | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# ---------------------------------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------------------------------
START_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
CORES=$(nproc 2>/dev/null || echo 0)
TAG=$(date +%s)-$$

log "release build of counter-service and loadgen"
"$SWIFT" build -c release --product counter-service >&2 || exit 1
"$SWIFT" build -c release --product loadgen >&2 || exit 1
"$SWIFT" build -c release --product accounting >&2 || exit 1
# The commit the rows are stamped with, by the one rule loadgen's own rows use (hash, -dirty when the tree differs
# outside results/).
COMMIT=$("$LOADGEN" report commit)
[ -n "$COMMIT" ] || COMMIT=unknown
log "commit $COMMIT · $CORES cores · $CPU_MODEL · QUICK=$QUICK SOAK=$SOAK REPEATS=$REPEATS MICRO=$MICRO"

SCRIPT_STATUS=0
HAVE_WRK=0; command -v wrk >/dev/null && HAVE_WRK=1
HAVE_HEY=0; command -v hey >/dev/null && HAVE_HEY=1
HAVE_NGINX=0; [ "$ONLY" != accounting ] && start_nginx && HAVE_NGINX=1

if [ "$ONLY" = accounting ]; then
    log "ONLY=accounting: the counter's scenarios and anchors skipped"
elif start_service "${EMBEDDED_OPTIONS[@]}"; then
    # hot-key and its anchors, interleaved per repeat so that drift of the machine hits all alike.
    for i in $(seq 1 "$REPEATS"); do
        run_loadgen hot-key counter-service POST "/counter/hot-$TAG-$i/increment" "$N"
        [ $HAVE_WRK = 1 ] && run_wrk hot-key counter-service "wrk-$TAG-$i"
        [ $HAVE_HEY = 1 ] && run_hey hot-key counter-service "hey-$TAG-$i" "$N"
        if [ $HAVE_NGINX = 1 ]; then
            run_loadgen hot-key nginx POST "/counter/hot-$TAG-$i/increment" "$N"
            [ $HAVE_WRK = 1 ] && run_wrk hot-key nginx "nginx-$TAG-$i"
            [ $HAVE_HEY = 1 ] && run_hey hot-key nginx "nginx-$TAG-$i" "$N"
        fi
    done
    for i in $(seq 1 "$REPEATS"); do
        run_loadgen spread counter-service POST "/counter/spread-$TAG-$i-{rand:$SPREAD_IDS}/increment" "$N"
    done
    # million-keys: each new id spawns a counter actor, so the heap and RSS recorded around the run show what
    # live actors cost (1,000,000 increments reach ~632,000 distinct ids); verified by summing the million counters.
    run_loadgen million-keys counter-service POST "/counter/million-$TAG-{rand:$MILLION_IDS}/increment" "$MILLION_N"
    for i in $(seq 1 "$REPEATS"); do
        run_loadgen read counter-service GET "/counter/hot-$TAG-1" "$N"
    done
    CAPACITY=$(median_rps hot-key)
    RATE=$(awk -v c="${CAPACITY:-0}" 'BEGIN { r = int(c / 2); print (r < 100 ? 100 : r) }')
    RATE_N=$((RATE * RATE_SECONDS))
    log "capacity (median hot-key req/s) ${CAPACITY:-unknown} → constant rate $RATE req/s for ${RATE_SECONDS}s"
    for i in $(seq 1 "$REPEATS"); do
        run_loadgen rate counter-service POST "/counter/rate-$TAG-$i/increment" "$RATE_N" --rate "$RATE"
    done
    if [ "$SOAK" = 1 ]; then
        # The soak runs over counters that already exist, so that its heap and RSS must stay flat (each new
        # counter actor allocates its mailbox ring): a warm-up creates the 10,000 counters (not recorded), and a
        # sweep reads their sum, from which the soak's verification starts.
        log "soak warm-up: creating $SPREAD_IDS counters"
        "$LOADGEN" -n "$SPREAD_IDS" -c "$CONNECTIONS" -m POST --no-progress \
            "$SVC_URL/counter/soak-$TAG-{n}/increment" >"$RUN/soak-warmup.log" 2>&1 || log "soak warm-up failed"
        SUM_BEFORE=$(sum_counters "soak-$TAG-" "$SPREAD_IDS")
        run_loadgen soak counter-service POST "/counter/soak-$TAG-{rand:$SPREAD_IDS}/increment" "$SOAK_N"
        SUM_BEFORE=0
    fi
    stop_service
else
    SCRIPT_STATUS=1
    for s in hot-key spread read rate; do
        manifest loadgen "$s" loadgen counter-service 1 0 missing.csv "$N" "" POST "" ""
    done
fi

# Over NATS with batching on (the default) and off (-unbatched rows): one service each, alternating per repeat so
# that drift of the machine hits both alike.
NATS_BATCHED_ARGS=(--transport nats --nats-server auto "${NATS_OPTIONS[@]}")
NATS_UNBATCHED_ARGS=(--transport nats --nats-server auto --nats-batching off "${NATS_OPTIONS[@]}")
COUNTER_NATS_REPEATS=$REPEATS
[ "$ONLY" = accounting ] && COUNTER_NATS_REPEATS=0  # ONLY=accounting: no counter rows
for i in $(seq 1 "$COUNTER_NATS_REPEATS"); do
    for variant in "" -unbatched; do
        if [ -z "$variant" ]; then args=("${NATS_BATCHED_ARGS[@]}"); else args=("${NATS_UNBATCHED_ARGS[@]}"); fi
        if start_service "${args[@]}"; then
            run_loadgen "hot-key-nats$variant" counter-service POST "/counter/nats-hot$variant-$TAG-$i/increment" "$NATS_N"
            run_loadgen "spread-nats$variant" counter-service POST \
                "/counter/nats-spread$variant-$TAG-$i-{rand:$SPREAD_IDS}/increment" "$NATS_N"
            stop_service
        else
            SCRIPT_STATUS=1
            for s in "hot-key-nats$variant" "spread-nats$variant"; do
                manifest loadgen "$s" loadgen counter-service 1 0 missing.csv "$NATS_N" "" POST "" ""
            done
        fi
    done
done

# Multi-process: a nats-server, three `node` processes and a `gateway` (the service measured; the CPU of the
# nats-server and the nodes counts with it).
MULTI_NATS_PID=""
MULTI_NODE_PIDS=()
start_multi() {
    local nats_port metrics i
    free_port nats_port || return 1
    nats-server -a 127.0.0.1 -p "$nats_port" >>"$RUN/nats-multi.log" 2>&1 &
    MULTI_NATS_PID=$!
    STARTED+=("$MULTI_NATS_PID")
    wait_tcp "$nats_port" "$MULTI_NATS_PID" 10 || { log "nats-server (multi) did not come up"; return 1; }
    for i in 0 1 2; do
        free_port metrics || return 1
        "$SERVICE" node --node-id "node-$i" --node-ids node-0,node-1,node-2 --nats-url "nats://127.0.0.1:$nats_port" \
            --metrics-port "$metrics" \
            "${NATS_OPTIONS[@]}" >>"$RUN/counter-node-$i.log" 2>&1 &
        MULTI_NODE_PIDS+=($!)
        STARTED+=($!)
        wait_http "http://127.0.0.1:$metrics/metrics" "$!" 60 || { log "node-$i did not come up"; return 1; }
    done
    EXTRA_CPU_PIDS=("$MULTI_NATS_PID" "${MULTI_NODE_PIDS[@]}")
    # Kept until stop_multi, so that check_service restarts a dead gateway as a gateway.
    SERVICE_SUBCOMMAND=(gateway)
    start_service --node-ids node-0,node-1,node-2 --nats-url "nats://127.0.0.1:$nats_port" "${NATS_OPTIONS[@]}"
}
stop_multi() {
    local pid
    stop_service
    for pid in "${MULTI_NODE_PIDS[@]+"${MULTI_NODE_PIDS[@]}"}"; do stop_pid "$pid"; done
    [ -n "$MULTI_NATS_PID" ] && stop_pid "$MULTI_NATS_PID"
    MULTI_NODE_PIDS=()
    MULTI_NATS_PID=""
    EXTRA_CPU_PIDS=()
    SERVICE_SUBCOMMAND=()
}
if [ "$ONLY" = accounting ]; then
    :
elif start_multi; then
    for i in $(seq 1 "$REPEATS"); do
        run_loadgen hot-key-nats-multi counter-service POST "/counter/nats-multi-$TAG-$i/increment" "$NATS_N"
    done
else
    SCRIPT_STATUS=1
    manifest loadgen hot-key-nats-multi loadgen counter-service 1 0 missing.csv "$NATS_N" "" POST "" ""
fi
[ "$ONLY" = accounting ] || stop_multi
[ -n "$NGINX_HANDLE" ] && stop_nginx

# accounting: deposits into one hot account (acct-deposit) and into SPREAD_IDS accounts (acct-spread), every
# deposit appended to the event store before its answer; on SQLite (synchronous=FULL, the default) and in memory,
# with the embedded counter's options so that the req/s compare with hot-key's in the same run. Then transfers
# (acct-transfer, see run_transfers) on both, and the JetStream variants over a nats-server of the service's own
# (`--store jetstream --transport nats --nats-server auto`, with the NATS counter's options so that they compare
# with hot-key-nats).
SERVICE=$BIN/accounting
for store in sqlite memory jetstream; do
    suffix="-$store"; [ "$store" = sqlite ] && suffix=""
    if [ "$store" = jetstream ]; then
        SERVICE_SUBCOMMAND=(serve --store jetstream --transport nats --nats-server auto)
        options=("${NATS_OPTIONS[@]}")
        n=$NATS_N
    else
        SERVICE_SUBCOMMAND=(serve --store "$store" --data-dir "$RUN/accounting-$store")
        options=("${EMBEDDED_OPTIONS[@]}")
        n=$N
    fi
    if start_service "${options[@]}"; then
        for i in $(seq 1 "$REPEATS"); do
            curl -s -o /dev/null -X POST "$SVC_URL/accounts/hot-$TAG-$i"
            run_loadgen "acct-deposit$suffix" accounting POST "/accounts/hot-$TAG-$i/deposit" "$n" -d '{"amount": 1}'
        done
        if [ "$store" != jetstream ]; then
            "$LOADGEN" -n "$SPREAD_IDS" -c "$CONNECTIONS" -m POST --no-progress \
                "$SVC_URL/accounts/spread-$TAG-{n}" >"$RUN/accounting-$store-open.log" 2>&1 \
                || log "opening accounts failed"
            for i in $(seq 1 "$REPEATS"); do
                SUM_BEFORE=$(sum_balances "spread-$TAG-" "$SPREAD_IDS")
                run_loadgen "acct-spread$suffix" accounting POST "/accounts/spread-$TAG-{rand:$SPREAD_IDS}/deposit" \
                    "$n" -d '{"amount": 1}'
            done
            SUM_BEFORE=0
        fi
        # A transfer costs two appends and the process manager's bookkeeping (~8k/s on SQLite, ~4k/s over JetStream
        # here, where it is also three requests over NATS): a quarter (an eighth) of the requests keep the whole
        # suite under its 15-minute budget.
        if [ "$store" = jetstream ]; then run_transfers "acct-transfer$suffix" $((n / 8)); else
            run_transfers "acct-transfer$suffix" $((n / 4))
        fi
        stop_service
    else
        SCRIPT_STATUS=1
        for s in "acct-deposit$suffix" "acct-spread$suffix" "acct-transfer$suffix"; do
            [ "$store" = jetstream ] && [ "$s" = "acct-spread$suffix" ] && continue
            manifest loadgen "$s" loadgen accounting 1 0 missing.csv "$n" "" POST "" ""
        done
    fi
done
SERVICE=$BIN/counter-service
SERVICE_SUBCOMMAND=()

# Micro benchmarks: a package-benchmark baseline named after the commit, exported to results/micro/<commit>/ (the
# baseline's results.json, which `make compare` restores to compare through package-benchmark, and an influx CSV).
if [ "$MICRO" = 1 ] && [ "$ONLY" != accounting ]; then
    MICRO_COMMIT=${COMMIT%-dirty}
    log "micro benchmarks (package-benchmark) → results/micro/$MICRO_COMMIT/"
    # ActorMemoryBenchmarks starts ActorHeapProbe (built beside it) for the heap per actor.
    if (cd Benchmarks && "$SWIFT" build -c release --product ActorHeapProbe >"$RUN/micro.log" 2>&1 \
        && "$SWIFT" package --allow-writing-to-package-directory benchmark baseline update \
        "$MICRO_COMMIT" --no-progress >>"$RUN/micro.log" 2>&1); then
        baseline="Benchmarks/.benchmarkBaselines/$MICRO_TARGET/$MICRO_COMMIT/results.json"
        if [ -f "$baseline" ]; then
            out="$MICRO_DIR/$MICRO_COMMIT"
            mkdir -p "$out"
            # The baseline (gzip: 2 MB of histograms → ~35 kB) is what `make compare` restores.
            gzip -9 -c "$baseline" >"$out/$MICRO_TARGET.results.json.gz"
            (cd Benchmarks && "$SWIFT" package --allow-writing-to-package-directory benchmark baseline read \
                "$MICRO_COMMIT" --format influx --path "$RUN" --no-progress >>"$RUN/micro.log" 2>&1) \
                && mv "$RUN/$MICRO_COMMIT.influx.csv" "$out/$MICRO_TARGET.influx.csv" \
                || log "micro benchmarks: influx export failed (see $RUN/micro.log)"
            chmod 644 "$out"/* 2>/dev/null
            # One line per benchmark: its wall-clock p50 and p99.
            (cd Benchmarks && "$SWIFT" package benchmark baseline read "$MICRO_COMMIT" --no-progress 2>/dev/null) \
                | awk -F'│' 'index($0, "╒") == 1 { name = prev } { prev = $0 }
                    /Time \(wall clock\)/ { gsub(/ +/, " "); printf "  %-72s p50 %s  p99 %s  %s\n", name, $5, $8, $2 }' >&2
        else
            log "micro benchmarks: none registered in $MICRO_TARGET (no baseline written)"
        fi
    else
        log "micro benchmarks FAILED (log below)"
        tail -30 "$RUN/micro.log" >&2
        SCRIPT_STATUS=1
    fi
fi

log "summary (medians of $REPEATS repeats) → $RESULTS"
"$LOADGEN" report ingest --manifest "$MANIFEST" --results "$RESULTS" --commit "$COMMIT" --time "$START_TIME" \
    --cores "$CORES" --cpu "$CPU_MODEL" || SCRIPT_STATUS=1
if [ $SCRIPT_STATUS -ne 0 ]; then log "FAILED: see above"; else log "all runs PASS"; fi
exit $SCRIPT_STATUS
