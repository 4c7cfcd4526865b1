#!/bin/sh
# Issue 10 item 13, faults injected into real runs: a full disk at every write of a run, a
# Vulkan device lost mid-run, device memory running out at each allocation, SIGINT and
# SIGTERM. Each must end with a clear error and a non-zero exit, keep every result already
# written, never leave a truncated file that a re-run takes as complete, and the re-run
# must finish with the same scores and metrics as a run that was never disturbed.
. tests/cli_lib.sh
M="$VB_MODELS/face_recognition.gguf"
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
T="$CLI_TMP"

manifest() { # manifest FILE NAME:N...
    out=$1
    shift
    echo "sample,subject,path" > "$out"
    for p in "$@"; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n" >> "$out"
    done
}
manifest "$T/small.csv" Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Dean_Barker:1
manifest "$T/ten.csv" Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Akhmed_Zakayev:3 \
    Amber_Tamblyn:1 Amber_Tamblyn:2 Dean_Barker:1 Mikhail_Gorbachev:1 Portia_de_Rossi:1
# The numbers of a results folder that must not depend on how the run got there: the score
# rows, and metrics.csv without the timing rows.
digest() {
    { cat "$1"/scores/*.vbs; grep -v -E ',(faces_per_s|ms_per_face),' "$1/metrics.csv"; } | sha256sum
}
leftover_tmp() { find "$1" -name '*.tmp' | grep -q .; }

# ---- full disk at every write (RLIMIT_FSIZE: a write past the limit fails with EFBIG) ----
RUN="$VB run --model $M --dataset csv:$T/small.csv --crop 70,70,180,180 --quiet"
expect_exit 0 "reference run" -- $RUN --out "$T/ref"
ref=$(digest "$T/ref")
failures=0
for blocks in 1 2 4 8 16 32 64 128 256 512 1024 2048; do
    out="$T/full$blocks"
    # sh's ulimit -f counts 512-byte blocks; SIGXFSZ ignored so writes fail instead of killing.
    sh -c "trap '' XFSZ; ulimit -f $blocks; exec $RUN --out $out" >"$T/o" 2>"$T/e"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        failures=$((failures + 1))
        [ "$rc" -eq 5 ] && ok || { not_ok "disk full at $blocks blocks: exit $rc, expected 5"; sed 's/^/    | /' "$T/e" >&2; }
        grep -q -E 'write failed|cannot (write|create)|File too large' "$T/e" && ok ||
            not_ok "disk full at $blocks blocks: no clear message ($(head -c 200 "$T/e"))"
        leftover_tmp "$out" && not_ok "disk full at $blocks blocks: a .tmp file was left" || ok
    fi
    expect_exit 0 "re-run after a full disk at $blocks blocks" -- $RUN --out "$out"
    [ "$(digest "$out")" = "$ref" ] && ok || not_ok "disk full at $blocks blocks: results differ after the re-run"
done
[ "$failures" -ge 3 ] && ok || not_ok "only $failures of the disk limits hit a write"
echo "cli_faults: $failures of 12 disk limits failed a write" >&2

# ---- SIGINT and SIGTERM while templates are computed (cpu:ref: slow enough to catch) ----
RUNREF="$VB run --model $M --dataset csv:$T/ten.csv --crop 70,70,180,180 --backend cpu:ref --threads 1 --no-plots --quiet"
expect_exit 0 "cpu:ref reference run" -- $RUNREF --out "$T/refslow"
refslow=$(digest "$T/refslow")
for sig in INT TERM; do
    out="$T/sig$sig"
    $RUNREF --out "$out" >"$T/o" 2>"$T/e" &
    pid=$!
    # Wait for the first template to be saved (an 88-byte header + 524-byte records), then signal.
    i=0
    while [ "$(cat "$out"/templates/*.bin 2>/dev/null | wc -c)" -le 600 ] && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    [ "$rc" -eq "$want" ] && ok || not_ok "SIG$sig: exit $rc, expected $want"
    grep -q "interrupted by SIG$sig: .* saved; run the same command again to resume" "$T/e" && ok ||
        not_ok "SIG$sig: message ($(head -c 300 "$T/e"))"
    expect_exit 0 "resume after SIG$sig" -- $RUNREF --out "$out"
    [ "$(digest "$out")" = "$refslow" ] && ok || not_ok "SIG$sig: results differ after resuming"
done

# ---- Vulkan: device lost mid-run, device memory exhausted at each allocation ----
if "$VB" devices --format csv 2>/dev/null | grep -q '^vulkan:'; then
    # Leak detection off for the Vulkan runs only, as in cli_vulkan.sh: Mesa's block that
    # outlives the dlclose'd driver reads as a leak in "<unknown module>" under LSan.
    VK="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 $VB run --model $M --dataset csv:$T/small.csv --crop 70,70,180,180 --backend vulkan --validation --no-plots --quiet"
    expect_exit 0 "vulkan reference run" -- $VK --batch 1 --out "$T/vkref"
    vkref=$(digest "$T/vkref")
    # One fence wait loads the weights; then one per batch: lost@3 loses the second batch.
    expect_exit 4 "device lost mid-run" -- env VERIBENCH_VULKAN_FAULT=lost@3 $VK --batch 1 --out "$T/vklost"
    expect_grep "DEVICE_LOST" "$CLI_TMP/err" "device lost: named"
    # The template computed before the loss is kept: an 88-byte header and one 524-byte record.
    [ "$(cat "$T"/vklost/templates/*.bin | wc -c)" -eq 612 ] && ok || not_ok "device lost: the saved template was not kept"
    expect_exit 0 "resume after device lost" -- $VK --batch 1 --out "$T/vklost"
    [ "$(digest "$T/vklost")" = "$vkref" ] && ok || not_ok "device lost: results differ after resuming"
    # Every device allocation in turn runs out: at load a clear exit 4; the batch's
    # activations fall back to a smaller batch with a warning and the same results.
    fallback=0
    for n in 1 2 3 4 5; do
        env VERIBENCH_VULKAN_FAULT=oom@$n $VK --batch 4 --out "$T/oom$n" >"$T/o" 2>"$T/e"
        rc=$?
        if [ "$rc" -eq 4 ]; then
            grep -q "OUT_OF_DEVICE_MEMORY (device memory exhausted)" "$T/e" && ok || not_ok "oom@$n: message ($(head -c 200 "$T/e"))"
            expect_exit 0 "re-run after oom@$n" -- $VK --batch 4 --out "$T/oom$n"
        else
            [ "$rc" -eq 0 ] && ok || not_ok "oom@$n: exit $rc"
            grep -q "warning: batch 4 does not fit" "$T/e" && fallback=$((fallback + 1))
        fi
        [ "$(digest "$T/oom$n")" = "$vkref" ] && ok || not_ok "oom@$n: results differ"
    done
    [ "$fallback" -eq 1 ] && ok || not_ok "the batch fallback ran $fallback times, expected once"
else
    echo "cli_faults: no Vulkan device; the device faults are not exercised" >&2
fi
cli_finish
