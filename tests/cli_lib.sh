# Sourced by tests/cli_*.sh: expectations on veribench's command line, counted the same
# way as the C tests ("N passed, N failed" at the end).
VB=${VB:-build/veribench}
VB_MODELS=${VB_MODELS:-build/models}
VERIBENCH_DATA=${VERIBENCH_DATA:-../shared/datasets}
export VERIBENCH_DATA
cli_passed=0
cli_failed=0
CLI_TMP=$(mktemp -d)
trap '[ -n "$CLI_KEEP" ] || rm -rf "$CLI_TMP"' EXIT
# bench and bench-latency append to a benchmark history: a test's go to its own folder
VERIBENCH_HISTORY=$CLI_TMP/history
export VERIBENCH_HISTORY

ok() { cli_passed=$((cli_passed + 1)); }
not_ok() { cli_failed=$((cli_failed + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE DESCRIPTION -- command...   (stdout/stderr saved in $CLI_TMP/out, err)
expect_exit() {
    code=$1 desc=$2
    shift 3
    "$@" >"$CLI_TMP/out" 2>"$CLI_TMP/err"
    rc=$?
    if [ "$rc" -eq "$code" ]; then ok; else not_ok "$desc: exit $rc, expected $code"; sed 's/^/    | /' "$CLI_TMP/err" | tail -n 5 >&2; fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
    if grep -q -E -- "$1" "$2"; then ok; else not_ok "$3: '$1' not found in $2"; fi
}

cli_finish() {
    echo "$cli_passed passed, $cli_failed failed"
    [ "$cli_failed" -eq 0 ]
}
