#!/bin/sh
# make bench: inference speed of every backend present, written to bench/results/<host>.csv.
# Numbers are machine-specific; the file names the CPU/GPU in its device column.
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
host=$(hostname 2>/dev/null || echo host)
# One file per machine kind: architecture, cores and the CPU kernel family (AVX-512 and
# AVX2 machines of the same core count keep separate tables).
kernels=$("$VB" devices --format csv 2>/dev/null | grep -o "(avx512f kernels)\|(avx2+fma kernels)\|(portable kernels)" | head -1 | tr -d "()" | cut -d" " -f1)
out=bench/results/host-$(uname -m)-$(nproc)core${kernels:+-$kernels}.csv
mkdir -p bench/results
{
    "$VB" bench --backend cpu:ref --batch 1,8 --seconds 5
    "$VB" bench --backend cpu --batch 1,8,32 --seconds 5 --no-header --quant fp32,fp16,int8,int4
    # Every Vulkan device present: fp32 variants and, where the device has them, fp16.
    # (llvmpipe is a correctness device; its numbers say nothing about GPUs.)
    for spec in $("$VB" devices --format csv 2>/dev/null | awk -F, 'NR > 1 && $1 ~ /^vulkan:/ {print $1}'); do
        "$VB" bench --backend "$spec" --batch "${VB_BENCH_VULKAN_BATCHES:-1,8}" --seconds 5 --no-header --quant fp32,int8,int4
        "$VB" bench --backend "$spec" --batch "${VB_BENCH_VULKAN_BATCHES:-1,8}" --seconds 5 --no-header --fp16
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out (host $host)"
cat "$out"
# The fingerprint matcher: time per print (each stage) and per comparison.
BUILD="$BUILD" sh bench/fingerprint.sh
# The face pipeline: time per image of each stage, aligned and fixed-crop (bench/pipeline.sh).
BUILD="$BUILD" sh bench/pipeline.sh
