#!/bin/sh
# veribench devices and check from the command line: formats, verdicts, errors, exit codes.
# Runs on whatever Vulkan device exists (llvmpipe in CI); the Vulkan-specific expectations
# are skipped, with a note, on a machine without any.
. tests/cli_lib.sh
# Under AddressSanitizer (make SAN=1 test): the Vulkan loader dlcloses the driver when the
# instance is destroyed, and a block Mesa still referenced from its own globals (128 bytes)
# then reads as a leak in "<unknown module>". The binary cannot tell LSan about modules it
# never loaded itself, so leak detection is off for this script only; the C tests
# (test_vulkan_*) keep it on with narrow suppressions (tests/test_vulkan.h).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
LFW="$VERIBENCH_DATA/lfw/images_deepfunneled"
A="$LFW/Abel_Pacheco/Abel_Pacheco_0001.jpg"
B="$LFW/Abel_Pacheco/Abel_Pacheco_0004.jpg"
C="$LFW/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg"
M="$VB_MODELS/face_recognition.gguf"
CROP="--crop 70,70,180,180"

# ---- devices -----------------------------------------------------------------------
expect_exit 0 "devices help" -- "$VB" devices --help
expect_grep "--format" "$CLI_TMP/out" "devices help mentions --format"
expect_exit 2 "devices bad format" -- "$VB" devices --format xml
expect_exit 2 "devices stray argument" -- "$VB" devices extra

# No Vulkan loader at all: the CPU backend is still listed, the reason says what to
# install, exit 4.
expect_exit 4 "devices without a loader" -- env VERIBENCH_VULKAN_LOADER=/nonexistent/libvulkan.so.1 "$VB" devices --format csv
expect_grep "^cpu,cpu,0,yes," "$CLI_TMP/out" "cpu row without Vulkan"
expect_grep "libvulkan1" "$CLI_TMP/err" "missing loader names the package"

"$VB" devices --format csv >"$CLI_TMP/devices.csv" 2>"$CLI_TMP/devices.err"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "note: no Vulkan device here ($(cat "$CLI_TMP/devices.err")); Vulkan CLI tests skipped"
    [ "$rc" -eq 4 ] && ok || not_ok "devices without a device: exit $rc, expected 4"
    cli_finish
    exit $?
fi
ok
head -n 1 "$CLI_TMP/devices.csv" | grep -q '^spec,backend,index,default,name,vendor,type,driver,api_version,subgroup_size,fp16_storage,fp16_arith,int8_arith,int_dot,coopmat$' \
    && ok || not_ok "devices CSV header"
grep -q '^vulkan:0,vulkan,0,' "$CLI_TMP/devices.csv" && ok || not_ok "devices CSV has vulkan:0"
n_default=$(grep -c '^vulkan:[0-9]*,vulkan,[0-9]*,yes,' "$CLI_TMP/devices.csv")
[ "$n_default" -eq 1 ] && ok || not_ok "exactly one default Vulkan device, got $n_default"
expect_exit 0 "devices table" -- "$VB" devices
expect_grep "^vulkan:0" "$CLI_TMP/out" "table lists vulkan:0"
expect_grep "subgroup [0-9]+" "$CLI_TMP/out" "table shows the subgroup size"

# ---- check ---------------------------------------------------------------------------
expect_exit 0 "check help" -- "$VB" check --help
expect_grep "--min-cosine" "$CLI_TMP/out" "check help documents the tolerance"
expect_exit 2 "check without images" -- "$VB" check --model "$M"
expect_exit 2 "check bad reference" -- "$VB" check --model "$M" --reference vulkan "$A"
expect_exit 2 "check bad format" -- "$VB" check --model "$M" --format xml "$A"
expect_exit 2 "check bad batch" -- "$VB" check --model "$M" --batch 0 "$A"
expect_exit 3 "check missing model" -- "$VB" check --model "$CLI_TMP/none.gguf" "$A"
expect_exit 3 "check missing image" -- "$VB" check --model "$M" $CROP "$A" "$CLI_TMP/none.jpg"
expect_grep "none.jpg" "$CLI_TMP/err" "missing image is named"
expect_exit 4 "check on a device that does not exist" -- "$VB" check --model "$M" --backend vulkan:99 "$A"
expect_exit 4 "check without a loader" -- env VERIBENCH_VULKAN_LOADER=/nonexistent "$VB" check --model "$M" "$A"
expect_grep "Vulkan loader" "$CLI_TMP/err" "check names the missing loader"

# The default variants (fp32), validation layer on: PASS.
expect_exit 0 "check vulkan vs cpu:ref" -- "$VB" check --model "$M" --validation $CROP "$A" "$B" "$C"
expect_grep "^verdict: PASS" "$CLI_TMP/out" "check verdict"
expect_grep "^conv32_down/relu +relu +72x72x32" "$CLI_TMP/out" "per-layer row"
expect_grep "3 pairs, 0 flipped" "$CLI_TMP/out" "pairs and flips"
expect_grep "fp32 variants" "$CLI_TMP/out" "fp32 variants are the default"

# --fp16: fp16 variants where the device has them, validation layer on: PASS at fp16's tolerance.
expect_exit 0 "check --fp16" -- "$VB" check --model "$M" --fp16 --validation $CROP "$A" "$B" "$C"
expect_grep "^verdict: PASS" "$CLI_TMP/out" "check --fp16 verdict"
cp "$CLI_TMP/out" "$CLI_TMP/fp16.txt"

# fp32 variants, CSV, batch 1 (two calls per backend)
expect_exit 0 "check csv" -- "$VB" check --model "$M" --batch 1 --format csv $CROP "$A" "$B"
head -n 1 "$CLI_TMP/out" | grep -q '^metric,item,value$' && ok || not_ok "check CSV header"
expect_grep '^cosine_tolerance,,1e-05$|^cosine_tolerance,,0.99999$' "$CLI_TMP/out" "fp32 tolerance is 0.99999"
expect_grep '^decision_flips,,0$' "$CLI_TMP/out" "no flips in CSV"
expect_grep '^pass,,1$' "$CLI_TMP/out" "CSV verdict"
expect_grep '^layer_nmse,fc,' "$CLI_TMP/out" "CSV per-layer rows"
worst=$(sed -n 's/^cosine_worst,,//p' "$CLI_TMP/out")
awk -v c="$worst" 'BEGIN { exit !(c >= 0.99999) }' && ok || not_ok "fp32 worst cosine $worst"

# A tolerance no fp16 computation can meet: FAIL, exit 1.
if grep -q "fp16 variants" "$CLI_TMP/fp16.txt"; then
    expect_exit 1 "check above tolerance" -- "$VB" check --model "$M" --fp16 --min-cosine 0.999999999 $CROP "$A" "$B"
    expect_grep "^verdict: FAIL" "$CLI_TMP/out" "FAIL verdict"
else
    echo "note: the device has no fp16 variants; the FAIL-verdict case is skipped"
fi

# A dataset instead of image files: the protocol's trials are the pairs. A csv: manifest of
# three faces (two of one person) and a trials file naming two of the three pairs.
ABS_LFW=$(cd "$LFW" && pwd)
printf 'sample,subject,path\na1,Abel,%s\na4,Abel,%s\nz1,Akhmed,%s\n' \
    "$ABS_LFW/Abel_Pacheco/Abel_Pacheco_0001.jpg" "$ABS_LFW/Abel_Pacheco/Abel_Pacheco_0004.jpg" \
    "$ABS_LFW/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg" >"$CLI_TMP/faces.csv"
printf 'a,b,label\na1,a4,1\na1,z1,0\n' >"$CLI_TMP/trials.csv"
expect_exit 0 "check on a dataset" -- "$VB" check --model "$M" $CROP --dataset "csv:$CLI_TMP/faces.csv" --trials "$CLI_TMP/trials.csv"
expect_grep "^dataset: +csv:.*, 3 images" "$CLI_TMP/out" "dataset line"
expect_grep "2 pairs, 0 flipped" "$CLI_TMP/out" "the trials are the pairs"
expect_exit 2 "dataset and images" -- "$VB" check --model "$M" --dataset lfw "$A"
expect_exit 2 "folds without a dataset" -- "$VB" check --model "$M" --folds 1 "$A"
expect_exit 2 "fold out of range" -- "$VB" check --model "$M" --dataset lfw --folds 11
expect_exit 2 "unknown dataset" -- "$VB" check --model "$M" --dataset nosuchset

# The whole face model on Vulkan against the reference (issue 11): the descriptor net on the
# reference's chips, then both pipelines end to end (detector, landmarks, warp on Vulkan).
if [ -f "$VB_MODELS/tiny_face_detector.gguf" ]; then
    expect_exit 0 "check, aligned" -- "$VB" check --model "$M" --validation --preprocess align "$A" "$B"
    expect_grep "^whole pipeline" "$CLI_TMP/out" "aligned check compares the whole pipelines"
    expect_grep "images whose face count or source differs: 0 of 2" "$CLI_TMP/out" "same faces found on Vulkan"
    expect_grep "decisions: 1 pairs, 0 flipped" "$CLI_TMP/out" "no flip end to end"
    # Under --fp16 the detector and landmark nets still run fp32 (models/graph.h geometry):
    # fp16 moved LFW landmarks by up to 1.45 px, fp32 by ~2e-5.
    expect_exit 0 "check --fp16, aligned" -- "$VB" check --model "$M" --fp16 --validation --preprocess align "$A" "$B"
    disp=$(sed -n 's/.*worst landmark displacement: \([0-9.e+-]*\) px.*/\1/p' "$CLI_TMP/out")
    awk -v d="$disp" 'BEGIN { exit !(d != "" && d + 0 < 0.01) }' && ok ||
        not_ok "landmarks under --fp16 within 0.01 px of the reference (got '$disp')"
fi

# The on-disk pipeline cache (backends/vulkan/vk_cache.c): written after the first run,
# taken without a note by the next; a damaged, foreign or unrelated file is set aside with a
# note (the work still passes) and replaced; "off" writes nothing; an unwritable place is a
# note, never a failure.
PC="$CLI_TMP/pc/pipelines.bin"
pc_check() { # $1: what; the rest: expectations on stderr handled by the caller
    expect_exit 0 "$1" -- env VERIBENCH_PIPELINE_CACHE="$PC" "$VB" check --model "$M" --validation $CROP "$A"
}
pc_check "pipeline cache, first run"
head -c 10 "$PC" 2>/dev/null | grep -q '^VBPCACHE1$' && ok || not_ok "pipeline cache file written with its magic"
pc_check "pipeline cache, second run"
grep -q "pipeline cache" "$CLI_TMP/err" && not_ok "a sound cache is taken without a note" || ok
printf '\252' | dd of="$PC" bs=1 seek=100 conv=notrunc 2>/dev/null # in the driver's data
pc_check "pipeline cache, damaged"
expect_grep "pipeline cache .*pipelines.bin not used: checksum mismatch" "$CLI_TMP/err" "a damaged cache is named and set aside"
pc_check "pipeline cache, rewritten"
grep -q "pipeline cache" "$CLI_TMP/err" && not_ok "the damaged cache was replaced by a sound one" || ok
# Another device's data, checksummed correctly: the driver header's vendor ID changed.
tail -c +76 "$PC" > "$CLI_TMP/pc/data"
printf '\377' | dd of="$CLI_TMP/pc/data" bs=1 seek=8 conv=notrunc 2>/dev/null
{ printf 'VBPCACHE1\n%s\n' "$(sha256sum "$CLI_TMP/pc/data" | cut -c1-64)"; cat "$CLI_TMP/pc/data"; } > "$PC"
pc_check "pipeline cache, another device's"
expect_grep "not used: made by another device or driver" "$CLI_TMP/err" "a foreign cache is not handed to the driver"
echo "hello" > "$PC"
pc_check "pipeline cache, not ours"
expect_grep "not used: not a veribench pipeline cache" "$CLI_TMP/err" "an unrelated file is not read as a cache"
rm -rf "$CLI_TMP/pc"
expect_exit 0 "pipeline cache off" -- env VERIBENCH_PIPELINE_CACHE=off "$VB" check --model "$M" $CROP "$A"
[ ! -e "$CLI_TMP/pc" ] && ok || not_ok "VERIBENCH_PIPELINE_CACHE=off writes nothing"
expect_exit 0 "pipeline cache unwritable" -- env VERIBENCH_PIPELINE_CACHE=/proc/veribench/pc.bin "$VB" check --model "$M" $CROP "$A"
expect_grep "pipeline cache not saved" "$CLI_TMP/err" "an unwritable cache is a note"

# Device failures are exit 4 with a message, never a crash or a hang.
expect_exit 4 "device lost" -- env VERIBENCH_VULKAN_FAULT=lost "$VB" check --model "$M" $CROP "$A"
expect_grep "DEVICE_LOST" "$CLI_TMP/err" "device lost is reported"
expect_exit 4 "out of device memory" -- env VERIBENCH_VULKAN_FAULT=oom "$VB" check --model "$M" $CROP "$A"
expect_grep "OUT_OF_DEVICE_MEMORY" "$CLI_TMP/err" "OOM is reported"

expect_exit 4 "device too slow or hung" -- env VERIBENCH_VULKAN_TIMEOUT=0.000001 "$VB" check --model "$M" $CROP "$A"
expect_grep "did not finish" "$CLI_TMP/err" "timeout is reported"

# The CPU backend against the reference needs no Vulkan at all.
expect_exit 0 "check cpu without Vulkan" -- env VERIBENCH_VULKAN_LOADER=/nonexistent "$VB" check --model "$M" --backend cpu $CROP "$A" "$B"
expect_grep "^verdict: PASS" "$CLI_TMP/out" "cpu check verdict"

cli_finish
