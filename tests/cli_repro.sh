#!/bin/sh
# Issue 10 item 14: the CPU backends give bitwise-identical descriptors and scores across
# runs and thread counts (the kernels split work across threads by output, never the
# reduction, so no sum is reordered). %.9g prints every float32 exactly, so equal text is
# equal bits.
. tests/cli_lib.sh
M="$VB_MODELS/face_recognition.gguf"
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
set -- "$LFW/Abel_Pacheco/Abel_Pacheco_0001.jpg" "$LFW/Abel_Pacheco/Abel_Pacheco_0004.jpg" \
       "$LFW/Dean_Barker/Dean_Barker_0001.jpg"
for backend in cpu cpu:ref; do
    for t in 1 2 3; do
        for b in 1 3; do
            expect_exit 0 "embed $backend threads $t batch $b" -- $VB embed --model "$M" --backend $backend --crop 70,70,180,180 --threads $t --batch $b "$@"
            cp "$CLI_TMP/out" "$CLI_TMP/embed-$backend-$t-$b.csv"
        done
    done
    ref="$CLI_TMP/embed-$backend-1-1.csv"
    for f in "$CLI_TMP"/embed-$backend-*.csv; do
        cmp -s "$f" "$ref" && ok || not_ok "$(basename "$f") differs from threads 1 batch 1"
    done
done

# Whole runs: the binary score file past its 128-byte header (whose fingerprint names the
# thread count) is identical across thread counts and reruns.
{
    echo "sample,subject,path"
    i=0
    for f in "$@"; do i=$((i + 1)); echo "s$i,$(basename "$(dirname "$f")"),$f"; done
} > "$CLI_TMP/m.csv"
for t in 1 2; do
    expect_exit 0 "run threads $t" -- $VB run --model "$M" --dataset "csv:$CLI_TMP/m.csv" --crop 70,70,180,180 --threads $t --quiet --no-plots --out "$CLI_TMP/run$t"
done
expect_exit 0 "run again" -- $VB run --model "$M" --dataset "csv:$CLI_TMP/m.csv" --crop 70,70,180,180 --threads 2 --quiet --no-plots --restart --out "$CLI_TMP/run2b"
s1=$(tail -c +129 "$CLI_TMP"/run1/scores/*.vbs | sha256sum)
s2=$(tail -c +129 "$CLI_TMP"/run2/scores/*.vbs | sha256sum)
s3=$(tail -c +129 "$CLI_TMP"/run2b/scores/*.vbs | sha256sum)
[ "$s1" = "$s2" ] && ok || not_ok "scores differ between 1 and 2 threads"
[ "$s2" = "$s3" ] && ok || not_ok "scores differ between two runs"
cli_finish
