#!/bin/sh
# The CPU backend's 3x3-conv variants side by side (VERIBENCH_CPU_CONV: direct, the implicit
# GEMM; winograd, Winograd F(4,3) on every 3x3 stride-1 conv; auto, Winograd on the large
# ones: backends/cpu/README.md). For each (threads, batch), ROUNDS rounds in which every
# variant runs `veribench bench` for SECONDS in turn (interleaved, so a slow spell of a
# shared machine falls on all of them); the median and best ms/face of each and the ratio of
# medians variant / direct (below 1: faster than direct) go to
# bench/results/conv-<arch>-<cores>core-<kernels>.csv and stdout, with the load average.
# Knobs: CONV_THREADS (default "1 2"), CONV_BATCHES ("1 32"), CONV_ROUNDS (5),
# CONV_SECONDS (2), CONV_VARIANTS ("direct winograd auto").
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
THREADS=${CONV_THREADS:-1 2}
BATCHES=${CONV_BATCHES:-1 32}
ROUNDS=${CONV_ROUNDS:-5}
SECONDS_EACH=${CONV_SECONDS:-2}
VARIANTS=${CONV_VARIANTS:-direct winograd auto}
kernels=$("$VB" devices 2>/dev/null | sed -n 's/.*driver .*(\(.*\) kernels).*/\1/p' | head -1)
out=bench/results/conv-$(uname -m)-$(nproc)core${kernels:+-$kernels}.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/results

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
best() { sort -n | head -1; }
time_vb() { VERIBENCH_CPU_CONV=$1 "$VB" bench --batch "$2" --threads "$3" --seconds "$SECONDS_EACH" --no-header --no-history | awk -F, '{print $7}'; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "conv,threads,batch,rounds,ms_per_face_median,ms_per_face_best,ratio_median_over_direct,kernels,loadavg_start"
    for t in $THREADS; do
        for b in $BATCHES; do
            for v in $VARIANTS; do : > "$tmp/$v"; done
            r=0
            while [ $r -lt "$ROUNDS" ]; do
                for v in $VARIANTS; do time_vb "$v" "$b" "$t" >> "$tmp/$v"; done
                r=$((r + 1))
            done
            direct=$(median < "$tmp/direct")
            for v in $VARIANTS; do
                m=$(median < "$tmp/$v")
                echo "$v,$t,$b,$ROUNDS,$m,$(best < "$tmp/$v"),$(awk -v a="$m" -v d="$direct" 'BEGIN {printf "%.3f", a / d}'),$kernels,$load"
            done
        done
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench/conv.sh: wrote $out (load average at start: $load; at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
column -s, -t < "$out" 2>/dev/null || cat "$out"
