#!/bin/sh
# make bench, the face pipeline: milliseconds per image of each stage of --preprocess align
# (decode, detect, landmarks, align, describe: wall time of the stage over a batch, divided
# by its images; `align` with the tiny detector at its default input 416, `align-tiny256` at
# 256 as the LFW main job runs it) and the end-to-end milliseconds per image of the embedding (embed_wall;
# 1000 / it = images/s), next to the same numbers for
# the fixed-crop protocol (--preprocess crop:70,70,180,180), from `veribench run` over LFW
# View 2 fold 1 (807 images) on the CPU backend; written to
# bench/results/pipeline-<arch>-<cores>core[-<kernels>].csv with the CPU's model and flags.
# Skipped with a note where VERIBENCH_DATA holds no LFW.
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
data=${VERIBENCH_DATA:-../shared/datasets}
if [ ! -f "$data/lfw/pairs.txt" ]; then
    echo "bench: no LFW under $data: face pipeline stages not timed"
    exit 0
fi
kernels=$("$VB" devices --format csv 2>/dev/null | grep -o "(avx512f kernels)\|(avx2+fma kernels)\|(portable kernels)" | head -1 | tr -d "()" | cut -d" " -f1)
out=bench/results/pipeline-$(uname -m)-$(nproc)core${kernels:+-$kernels}.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/results
"$VB" run --dataset lfw --folds 1 --on-no-face fallback-crop:70,70,180,180 --out "$tmp/align" \
    --bootstrap 0 --no-plots --quiet >/dev/null
"$VB" run --dataset lfw --folds 1 --detector tiny:256 --on-no-face fallback-crop:70,70,180,180 \
    --out "$tmp/align-tiny256" --bootstrap 0 --no-plots --quiet >/dev/null
"$VB" run --dataset lfw --folds 1 --preprocess crop:70,70,180,180 --out "$tmp/crop" \
    --bootstrap 0 --no-plots --quiet >/dev/null
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //; s/,/ /g')
flags=$(grep -m1 "^flags" /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|avx512_bf16)$' | tr '\n' ' ' | sed 's/ $//')
{
    echo "preprocess,device,stage,images,total_ms,ms_per_image,cpu,cpu_flags,load_1min"
    load=$(cut -d' ' -f1 /proc/loadavg)
    for p in align align-tiny256 crop; do
        awk -F, -v p="$p" -v cpu="$cpu" -v flags="$flags" -v load="$load" \
            'NR > 1 && ($4 ~ /^stage:/ || $4 == "embed_wall" || $4 == "inference") {
                sub(/^stage:/, "", $4); print p "," $2 "," $4 "," $5 "," $6 "," $7 "," cpu "," flags "," load }' \
            "$tmp/$p/latency.csv"
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out"
cat "$out"
