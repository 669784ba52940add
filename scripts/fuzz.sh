#!/usr/bin/env bash
# The driver of `make fuzz`: builds the libFuzzer targets (swiftc -sanitize=fuzzer,address, debug, in their own
# scratch path .build-fuzz, with CLSTR_FUZZ=1 so that Package.swift declares them) and runs each for a bounded time
# from its committed seed corpus, Fuzz/corpus/<target>/ (read only; what libFuzzer adds goes to
# .build-fuzz/corpus/<target>/, kept between runs).
#
#   scripts/fuzz.sh                         every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=10 TARGETS=fuzz-json-amount scripts/fuzz.sh
#
# Targets: fuzz-http-parser (HTTPRequestParser: a head fed in two pieces parses as when fed at once),
# fuzz-json-amount (JSONAmountParser agrees with Foundation's JSONSerialization), fuzz-nats-envelope (the NATS
# request envelope and reply frame decoders; decode → encode → decode keeps every field), fuzz-event-decoders (the
# account's event payloads and snapshot: the first byte picks the decoder; decode → encode → decode is equal).
#
# A crash, a sanitizer report or a broken property stops that target and leaves the input in
# .build-fuzz/artifacts/<target>/; the script prints it as a Swift byte array for a regression test in the normal
# suite (Tests/*/FuzzRegressionTests.swift) and exits 1.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=${TARGETS:-"fuzz-http-parser fuzz-json-amount fuzz-nats-envelope fuzz-event-decoders"}
SCRATCH=.build-fuzz
FLAGS=(-c debug --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

log() { printf '\033[1mfuzz:\033[0m %s\n' "$*" >&2; }
mkdir -p "$SCRATCH"

for target in $TARGETS; do
    log "building $target"
    CLSTR_FUZZ=1 "$SWIFT" build "${FLAGS[@]}" --product "$target" >"$SCRATCH/$target.build.log" 2>&1 || {
        grep -v "Cannot export local symbol" "$SCRATCH/$target.build.log" | tail -30 >&2
        log "build of $target failed"
        exit 1
    }
    rm -f "$SCRATCH/$target.build.log"
done

FOUND=0
SUMMARY=()
for target in $TARGETS; do
    corpus=$SCRATCH/corpus/$target
    artifacts=$SCRATCH/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    output=$SCRATCH/$target.log
    log "running $target for ${FUZZ_SECONDS}s (seeds: Fuzz/corpus/$target, $(ls "Fuzz/corpus/$target" | wc -l) files)"
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's backtracer reads the stack in a way AddressSanitizer reports
    # as an underflow, burying the real failure (a precondition) under a second report.
    SWIFT_BACKTRACE=enable=no "$SCRATCH/debug/$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/" "$corpus" "Fuzz/corpus/$target" >"$output" 2>&1
    status=$?
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$output")
    rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$output")
    added=$(awk '/stat::new_units_added/ { print $2 }' "$output")
    if [ "$status" = 0 ]; then
        SUMMARY+=("$(printf '%-20s %12s %10s %10s  %s' "$target" "${runs:-?}" "${rate:-?}" "${added:-?}" "no crash")")
    else
        FOUND=1
        artifact=$(grep -o "Test unit written to [^ ]*" "$output" | tail -1 | sed 's/Test unit written to //')
        SUMMARY+=("$(printf '%-20s %12s %10s %10s  %s' "$target" "${runs:-?}" "${rate:-?}" "${added:-?}" "FOUND: ${artifact:-see $output}")")
        grep -E "ERROR|Fatal error|precondition|SUMMARY" "$output" | head -5 >&2
        if [ -n "$artifact" ] && [ -f "$artifact" ]; then
            log "the input as a Swift array, for a regression test:"
            od -An -tu1 -v "$artifact" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/ /, /g; s/^/[/; s/$/]/' >&2
            echo >&2
        fi
    fi
done

echo
printf '%-20s %12s %10s %10s  %s\n' target executions "exec/s" "new units" result
for line in "${SUMMARY[@]}"; do echo "$line"; done
exit "$FOUND"
