#!/bin/sh
# make bench, fingerprints: milliseconds per print of each extraction stage (segment,
# orientation, frequency, Gabor, binarize+thin, minutiae; "inference" is their sum), the wall
# time of extracting every print ("embed_wall", per print), and CPU milliseconds per MCC
# comparison, from `veribench run` over FVC2002 DB1_B, all pairs (or a generated set where
# VERIBENCH_DATA has no FVC2002), on the CPU backend and, where a Vulkan device exists, on
# Vulkan (the orientation and Gabor kernels on the device), written to
# bench/results/fingerprint-<arch>-<cores>core.csv. Extraction runs one print per core at
# once. The clock column says what a row measures: on the CPU backend a stage is the
# extracting thread's CPU time (the print's own work, whatever else runs); on Vulkan a stage
# is wall time (the device's work is not the thread's; it includes waiting for the other
# threads' device calls), so compare backends on embed_wall.
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
data=${VERIBENCH_DATA:-../shared/datasets}
out=bench/results/fingerprint-$(uname -m)-$(nproc)core.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/results
if [ -d "$data/fvc2002/DB1_B" ]; then
    ds=fvc2002-all:DB1_B
else
    "$VB" synth-fingerprints --subjects 10 --impressions 8 --out "$tmp/synth" >/dev/null
    ds="csv:$tmp/synth/manifest.csv"
fi
backends=cpu
if "$VB" devices --format csv 2>/dev/null | grep -q '^vulkan:0,'; then
    backends="cpu vulkan"
fi
echo "dataset,backend,device,stage,clock,count,total_ms,ms_each" > "$out.tmp"
for b in $backends; do
    "$VB" run --backend "$b" --dataset "$ds" --out "$tmp/run-$b" --bootstrap 0 --no-plots --quiet >/dev/null
    awk -F, -v ds="${ds#csv:$tmp/}" 'NR > 1 && ($4 ~ /^layer:fp\// || $4 == "inference" || $4 == "match" ||
        $4 == "embed_wall") {
        sub(/^layer:/, "", $4)
        clock = ($4 == "embed_wall" || ($1 != "cpu" && $4 != "match")) ? "wall" : "thread-cpu"
        print ds "," $1 "," $2 "," $4 "," clock "," $5 "," $6 "," $7 }' "$tmp/run-$b/latency.csv" >> "$out.tmp"
done
mv "$out.tmp" "$out"
echo "bench: wrote $out"
cat "$out"
