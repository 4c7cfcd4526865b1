#!/bin/sh
# make bench: inference speed of every backend present, written to bench/results/<host>.csv.
# Numbers are machine-specific; the file names the CPU/GPU in its device column.
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
host=$(hostname 2>/dev/null || echo host)
out=bench/results/cpu-$(uname -m)-$(nproc)core.csv
mkdir -p bench/results
{
    "$VB" bench --backend cpu:ref --batch 1,8 --seconds 5
    "$VB" bench --backend cpu --batch 1,8,32 --seconds 5 --no-header --quant fp32,fp16,int8,int4
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out (host $host)"
cat "$out"
