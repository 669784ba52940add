#!/usr/bin/env bash
# Actor request→reply, before vs after, on a shared machine: alternating rounds (ABBA), medians and their ratio.
#
#   scripts/actor-latency-ab.sh <before-tree> <after-tree> [rounds]
#
# Each tree must hold Benchmarks/ActorLatencyProbe (copy it into an older tree); both are built in release here.
# A round runs each binary once per mode (inline: 1,000,000 request→reply; threads: 20,000 across a worker
# thread), in the order A B in even rounds and B A in odd ones, so that a drift in the machine's load hits both
# alike. Then the same loops under callgrind (inline only: the instructions of `requestReply`, noise-free),
# per request→reply, from the difference of two runs (20,000 and 120,000 iterations).
set -euo pipefail
BEFORE=$1
AFTER=$2
ROUNDS=${3:-9}
for tree in "$BEFORE" "$AFTER"; do
    (cd "$tree/Benchmarks/ActorLatencyProbe" && swift build -c release >&2)
done
bin() { echo "$1/Benchmarks/ActorLatencyProbe/.build/release/ActorLatencyProbe"; }
A=$(bin "$BEFORE")
B=$(bin "$AFTER")
OUT=$(mktemp -d /tmp/actor-ab.XXXXXX)
for ((round = 0; round < ROUNDS; round++)); do
    if ((round % 2 == 0)); then order="before after"; else order="after before"; fi
    for side in $order; do
        [ "$side" = before ] && exe=$A || exe=$B
        "$exe" inline 1000000 1 | awk '{print $2}' >>"$OUT/$side.inline"
        "$exe" threads 20000 1 | awk '{print $2}' >>"$OUT/$side.threads"
    done
done
median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for mode in inline threads; do
    b=$(median "$OUT/before.$mode")
    a=$(median "$OUT/after.$mode")
    printf '%-8s before %8.1f ns  after %8.1f ns  after/before %.3f  (medians of %d; sorted ns, before: %s; after: %s)\n' \
        "$mode" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')" "$ROUNDS" \
        "$(sort -g "$OUT/before.$mode" | awk '{printf "%d ", $1}')" "$(sort -g "$OUT/after.$mode" | awk '{printf "%d ", $1}')"
done
if command -v valgrind >/dev/null; then
    for side in before after; do
        [ "$side" = before ] && exe=$A || exe=$B
        for n in 20000 120000; do
            valgrind --tool=callgrind --callgrind-out-file="$OUT/$side.$n.cg" --toggle-collect='*requestReply*' \
                "$exe" inline "$n" 1 >/dev/null 2>&1
        done
        long=$(awk '/^totals:/ {print $2}' "$OUT/$side.120000.cg")
        short=$(awk '/^totals:/ {print $2}' "$OUT/$side.20000.cg")
        per=$(awk -v l="$long" -v s="$short" 'BEGIN {printf "%.1f", (l - s) / 100000}')
        echo "instructions per request→reply (inline, callgrind) $side: $per"
    done
fi
rm -rf "$OUT"
