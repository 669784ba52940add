#!/usr/bin/env bash
# Side-by-side load-generator comparison against a fixed-response nginx (the machine's ceiling):
# loadgen vs `wrk -t1` vs `hey`, all with -c 200, in one run, alternating, so that ratios are comparable.
#
#   scripts/loadgen-vs.sh [ROUNDS] [SECONDS]      (defaults: 3 rounds, 5 s per loadgen/wrk run)
#
# Needs a release build of loadgen (.build/release/loadgen, or LOADGEN=path). Prints one line per run with
# req/s and CPU time per request (user+sys from /usr/bin/time), then the medians and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-5}
LOADGEN=${LOADGEN:-.build/release/loadgen}
CPUS=${CPUS:-}
HEY_N=${HEY_N:-200000}
[ -x "$LOADGEN" ] || { echo "build first: swift build -c release --product loadgen" >&2; exit 1; }

. scripts/lib.sh
free_port PORT
PID=$(scripts/nginx-fixed.sh start "$PORT")
trap 'scripts/nginx-fixed.sh stop "$PID"' EXIT
URL="http://127.0.0.1:$PORT/"
OUT=$(mktemp -d /tmp/loadgen-vs.XXXXXX)

# run NAME COMMAND... → "NAME rps cpu_us_per_request"
run() {
    local name=$1
    shift
    /usr/bin/time -f "%U %S" -o "$OUT/time" "$@" > "$OUT/out" 2>&1 || true
    local rps requests cpu
    case $name in
        wrk)
            rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/out")
            requests=$(awk '/requests in/ {print $1}' "$OUT/out")
            ;;
        *)
            rps=$(awk -F'\t' '/Requests\/sec:/ {print $2}' "$OUT/out")
            requests=$(awk -F'\t' '/responses$/ {split($2, a, " "); s += a[1]} END {print s}' "$OUT/out")
            ;;
    esac
    cpu=$(awk '{print $1 + $2}' "$OUT/time")
    awk -v n="$name" -v r="$rps" -v q="$requests" -v c="$cpu" \
        'BEGIN {printf "%-8s %10.0f req/s  %8d requests  %6.2f s CPU  %6.2f us CPU/request\n", n, r, q, c, c * 1e6 / q}' \
        | tee -a "$OUT/results"
}

echo "nginx fixed response on $URL (pid $PID); $ROUNDS rounds"
echo "  loadgen -z ${SECONDS_PER_RUN}s -c 200 ${CPUS:+-cpus $CPUS} $URL"
echo "  wrk -t1 -c200 -d${SECONDS_PER_RUN}s $URL"
echo "  hey -n $HEY_N -c 200 $URL"
for round in $(seq 1 "$ROUNDS"); do
    run loadgen "$LOADGEN" -z "${SECONDS_PER_RUN}s" -c 200 ${CPUS:+-cpus "$CPUS"} "$URL"
    run wrk wrk -t1 -c200 -d"${SECONDS_PER_RUN}s" "$URL"
    run hey hey -n "$HEY_N" -c 200 "$URL"
done

awk '
    { rps[$1] = rps[$1] " " $2; cpu[$1] = cpu[$1] " " $(NF - 2) }
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        for (k in rps) { r[k] = median(rps[k]); c[k] = median(cpu[k]) }
        printf "medians: loadgen %.0f req/s %.2f us/req | wrk %.0f req/s %.2f us/req | hey %.0f req/s %.2f us/req\n", \
            r["loadgen"], c["loadgen"], r["wrk"], c["wrk"], r["hey"], c["hey"]
        printf "ratios:  loadgen/wrk req/s %.2fx, loadgen/hey req/s %.2fx, CPU per request loadgen/wrk %.2fx\n", \
            r["loadgen"] / r["wrk"], r["loadgen"] / r["hey"], c["loadgen"] / c["wrk"]
    }' "$OUT/results"
rm -rf "$OUT"
