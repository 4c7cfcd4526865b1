#!/bin/sh
# make bench, fingerprints: milliseconds per print of each extraction stage (segment,
# orientation, frequency, Gabor, binarize+thin, minutiae; "inference" is their sum) and CPU
# milliseconds per MCC comparison, from `veribench run` over FVC2002 DB1_B, all pairs (or a
# generated set where VERIBENCH_DATA has no FVC2002), written to
# bench/results/fingerprint-<arch>-<cores>core.csv. Extraction runs one print per core at
# once; each stage time is that print's own.
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
"$VB" run --dataset "$ds" --out "$tmp/run" --bootstrap 0 --no-plots --quiet >/dev/null
{
    echo "dataset,device,stage,count,total_ms,ms_each"
    awk -F, -v ds="${ds#csv:$tmp/}" 'NR > 1 && ($4 ~ /^layer:fp\// || $4 == "inference" || $4 == "match") {
        sub(/^layer:/, "", $4); print ds "," $2 "," $4 "," $5 "," $6 "," $7 }' "$tmp/run/latency.csv"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out"
cat "$out"
