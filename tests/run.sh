#!/bin/sh
# Runs every test binary ($BUILD/tests/test_*) and every CLI test script (tests/cli_*.sh),
# adds up their "N passed, N failed" lines and prints the total as the last line.
# Environment: BUILD (default build), VERIBENCH_DATA, VB_MODELS (default build/models),
# VB_TEST_FILTER (substring: run only matching tests).
BUILD=${BUILD:-build}
VB_MODELS=${VB_MODELS:-build/models}
VB="$BUILD/veribench"
export BUILD VB VB_MODELS
passed=0 failed=0 broken=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "$BUILD"/tests/test_* tests/cli_*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.d|*.o|*/cli_lib.sh) continue ;; esac
    if [ -n "$VB_TEST_FILTER" ]; then
        case "$t" in *"$VB_TEST_FILTER"*) ;; *) continue ;; esac
    fi
    name=$(basename "$t")
    start=$(date +%s)
    case "$t" in
        *.sh) sh "$t" >"$tmp/out" 2>"$tmp/err" ;;
        *) "$t" >"$tmp/out" 2>"$tmp/err" ;;
    esac
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    p=${p:-0} f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # crashed or exited non-zero without counting the failure
    fi
    passed=$((passed + p)) failed=$((failed + f))
    printf '%-32s %5s passed %3s failed  %4ss\n' "$name" "$p" "$f" "$(( $(date +%s) - start ))"
    if [ "$f" -ne 0 ]; then
        broken="$broken $name"
        sed 's/^/    | /' "$tmp/err" | tail -n 40
    fi
done
[ -n "$broken" ] && echo "failing:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
