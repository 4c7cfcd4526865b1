#!/bin/sh
# Runs each libFuzzer binary given for FUZZ_SECONDS (default 10) from its committed seeds
# (tests/fuzz/corpus/<target>/) and the corpus earlier runs grew (build/fuzz/corpus/<target>/,
# not committed). Every committed seed, the regression inputs of fixed crashes included, is
# run first. A crash, leak, sanitizer report or timeout saves the input under
# build/fuzz/crashes/ and fails the run. Prints one line per target (inputs run, seconds) and
# "N passed, N failed".
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
passed=0 failed=0
mkdir -p build/fuzz/crashes
for bin in "$@"; do
    name=$(basename "$bin")
    seeds=tests/fuzz/corpus/$name
    grown=build/fuzz/corpus/$name
    mkdir -p "$grown"
    log=build/fuzz/$name.log
    # -rss_limit_mb: a parser must not allocate more than the input justifies.
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=build/fuzz/crashes/"$name"- "$grown" "$seeds" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf '%-24s ok      %8s inputs in %ss\n' "$name" "${runs:-?}" "$FUZZ_SECONDS"
    else
        failed=$((failed + 1))
        printf '%-24s FAILED  %8s inputs (exit %s); see %s\n' "$name" "${runs:-?}" "$rc" "$log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5 | sed 's/^/    | /'
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
