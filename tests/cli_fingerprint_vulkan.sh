#!/bin/sh
# Fingerprints on Vulkan (issue 12): the image kernels on the device, the rest of the
# pipeline on the host, the same decisions as the CPU. On generated prints: check against
# cpu:ref (validation layer on) passes with bit-identical templates; run on Vulkan and on the
# CPU writes the same scores, and compare finds no flip; a wrong kernel (fault injection)
# fails the check; bad input and device failures are errors.
# Skipped, with a note, on a machine without a Vulkan device.
. tests/cli_lib.sh
# See cli_vulkan.sh: Mesa's globals read as leaks once the loader dlcloses the driver.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
FP="$VB_MODELS/fingerprint_mcc.gguf"
if ! "$VB" devices --format csv 2>"$CLI_TMP/devices.err" | grep -q '^vulkan:0,'; then
    echo "note: no Vulkan device here ($(cat "$CLI_TMP/devices.err")); fingerprint Vulkan tests skipped"
    ok
    cli_finish
    exit $?
fi
S="$CLI_TMP/synth"
expect_exit 0 "synth-fingerprints" -- "$VB" synth-fingerprints --subjects 3 --impressions 2 --seed 12 --out "$S"
P1="$S/1_1.png" P2="$S/1_2.png" P3="$S/2_1.png" P4="$S/3_2.png"

expect_exit 0 "check prints, vulkan vs cpu:ref" -- "$VB" check --model "$FP" --validation "$P1" "$P2" "$P3" "$P4"
expect_grep "^checked: +vulkan.*fingerprint kernels on the device" "$CLI_TMP/out" "the kernels ran on the device"
expect_grep "^templates differing: 0 of 4 enrolled on both; minutiae without an equal on the other side: 0$" \
    "$CLI_TMP/out" "bit-identical templates"
expect_grep "6 pairs, 0 flipped" "$CLI_TMP/out" "no decision flips"
expect_grep "^verdict: PASS" "$CLI_TMP/out" "check verdict"
expect_exit 0 "check prints csv" -- "$VB" check --model "$FP" --validation --format csv "$P1" "$P3"
expect_grep '^decision_flips,,0$' "$CLI_TMP/out" "csv flips"
expect_grep '^templates_differ,,0$' "$CLI_TMP/out" "csv templates"
expect_grep '^pass,,1$' "$CLI_TMP/out" "csv verdict"
expect_exit 0 "check prints, dataset trials" -- "$VB" check --model "$FP" --validation --dataset "csv:$S/manifest.csv"
expect_grep "15 pairs, 0 flipped" "$CLI_TMP/out" "all pairs of the manifest"
expect_exit 3 "check a missing print" -- "$VB" check --model "$FP" "$P1" "$CLI_TMP/none.png"
expect_grep "none.png" "$CLI_TMP/err" "the missing print is named"

# run on both backends: the same scores trial by trial, and compare agrees
for b in cpu vulkan; do
    expect_exit 0 "run prints on $b" -- "$VB" run --backend "$b" --validation --dataset "csv:$S/manifest.csv" \
        --model "$FP" --out "$CLI_TMP/run-$b" --no-plots --bootstrap 0 --scores-csv
done
expect_grep '^vulkan,.*,fta_samples,0$' "$CLI_TMP/run-vulkan/metrics.csv" "vulkan run enrolled every print"
zcat "$CLI_TMP"/run-cpu/scores/*.csv.gz >"$CLI_TMP/cpu.csv"
zcat "$CLI_TMP"/run-vulkan/scores/*.csv.gz >"$CLI_TMP/vk.csv"
[ "$(wc -l <"$CLI_TMP/vk.csv")" -eq 16 ] && cmp -s "$CLI_TMP/cpu.csv" "$CLI_TMP/vk.csv" && ok ||
    not_ok "vulkan and cpu runs wrote different scores"
expect_exit 0 "compare the runs" -- "$VB" compare "$CLI_TMP/run-cpu" "$CLI_TMP/run-vulkan"
expect_grep 'vulkan,.*,1,$' "$CLI_TMP/out" "compared, no flag"

# check catches a wrong kernel: with the Gabor response negated (ridges become valleys) the
# templates differ and decisions flip: FAIL, exit 1
expect_exit 1 "check a skewed kernel" -- env VERIBENCH_VULKAN_FAULT=fp_skew "$VB" check --model "$FP" --format csv \
    --dataset "csv:$S/manifest.csv"
expect_grep '^pass,,0$' "$CLI_TMP/out" "skewed kernel fails"
awk -F, '$1 == "templates_differ" && $3 == 6 { f = 1 } END { exit !f }' "$CLI_TMP/out" && ok ||
    not_ok "every template differs with a skewed kernel"
awk -F, '$1 == "decision_flips" && $3 > 0 { f = 1 } END { exit !f }' "$CLI_TMP/out" && ok ||
    not_ok "a skewed kernel flips decisions"

# device failures are exit 4 with a message
expect_exit 4 "out of device memory for a print" -- env VERIBENCH_VULKAN_FAULT=oom "$VB" check --model "$FP" "$P1"
expect_grep "OUT_OF_DEVICE_MEMORY" "$CLI_TMP/err" "OOM is reported"
expect_exit 4 "device lost during extraction" -- env VERIBENCH_VULKAN_FAULT=lost "$VB" check --model "$FP" "$P1"
expect_grep "DEVICE_LOST" "$CLI_TMP/err" "device lost is reported"
# in a run too: a lost device stops it, it is not every print failing to enrol
expect_exit 4 "device lost during a run" -- env VERIBENCH_VULKAN_FAULT=lost "$VB" run --backend vulkan \
    --dataset "csv:$S/manifest.csv" --model "$FP" --out "$CLI_TMP/run-lost" --no-plots --bootstrap 0
expect_grep "DEVICE_LOST|device was lost" "$CLI_TMP/err" "the run names the device failure"
cli_finish
