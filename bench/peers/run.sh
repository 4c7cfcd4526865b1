#!/bin/sh
# make bench-peers: veribench's CPU backend against PyTorch and ONNX Runtime on the same net
# and weights (built from build/models/face_recognition.gguf by facenet.py).
#  1. Descriptor check: veribench embeds a few LFW images (--save-pixels); each peer
#     describes the same preprocessed inputs; every cosine must be >= 0.9999 or the peer is
#     not timed.
#  2. Timing, interleaved: for each (threads, batch), ROUNDS rounds of veribench bench, then
#     each peer, SECONDS each, on the same synthetic inputs; the median ms/face of each and
#     the ratio veribench / peer (below 1: veribench is faster) go to
#     bench/results/peers-<arch>-<cores>core.csv and stdout.
# Needs Debian's python3-torch (/usr/bin/python3) and npm; onnxruntime-node is installed
# into build/peers with --ignore-scripts (its postinstall downloads more; the CPU library is
# in the package). A peer that is missing is skipped with a note.
# Knobs: PEER_THREADS (default "1 2"), PEER_BATCHES ("1 32"), PEER_ROUNDS (3),
# PEER_SECONDS (3), VERIBENCH_DATA.
set -eu
BUILD=${BUILD:-build}
VB="$BUILD/veribench"
MODEL=${VB_MODEL:-$BUILD/models/face_recognition.gguf}
PY=${PEER_PYTHON:-/usr/bin/python3}
DIR="$BUILD/peers"
HERE=$(dirname "$0")
DATA=${VERIBENCH_DATA:-../shared/datasets}
THREADS=${PEER_THREADS:-1 2}
BATCHES=${PEER_BATCHES:-1 32}
ROUNDS=${PEER_ROUNDS:-3}
SECONDS_EACH=${PEER_SECONDS:-3}
CROP=70,70,180,180
out=bench/results/peers-$(uname -m)-$(nproc)core.csv
mkdir -p "$DIR/pixels" bench/results

have_torch=0
"$PY" -c 'import torch' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "bench-peers: no PyTorch ($PY -c 'import torch' fails; apt-get install python3-torch): pytorch and onnxruntime skipped" >&2
have_ort=0
if [ $have_torch = 1 ]; then
    if [ ! -d "$DIR/node_modules/onnxruntime-node" ]; then
        (cd "$DIR" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null 2>&1) ||
            echo "bench-peers: npm install onnxruntime-node failed: onnxruntime skipped" >&2
    fi
    [ -d "$DIR/node_modules/onnxruntime-node" ] && have_ort=1
fi

# 1. descriptors
imgs=$(find "$DATA/lfw/images_deepfunneled" -name '*.jpg' | sort | head -8)
[ -n "$imgs" ] || { echo "bench-peers: no LFW images under $DATA/lfw" >&2; exit 1; }
# shellcheck disable=SC2086
"$VB" embed --crop $CROP --save-pixels "$DIR/pixels" --model "$MODEL" $imgs > "$DIR/veribench.csv"
torch_ok=0
ort_ok=0
if [ $have_torch = 1 ] && "$PY" "$HERE/torch_peer.py" check "$MODEL" $CROP "$DIR/pixels" "$DIR/veribench.csv" "$DIR"; then
    torch_ok=1
fi
if [ $have_ort = 1 ] && "$PY" "$HERE/torch_peer.py" export "$MODEL" "$DIR/facenet.onnx" 2>/dev/null &&
    NODE_PATH="$DIR/node_modules" node "$HERE/ort_peer.js" check "$DIR/facenet.onnx" "$DIR/inputs.f32" "$DIR/ort.f32" &&
    "$PY" "$HERE/torch_peer.py" compare "$DIR" "$DIR/ort.f32" onnxruntime; then
    ort_ok=1
fi

# 2. timing
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
time_vb() { "$VB" bench --backend cpu --model "$MODEL" --batch "$1" --threads "$2" --seconds "$SECONDS_EACH" --no-header | awk -F, '{print $7}'; }
time_torch() { "$PY" "$HERE/torch_peer.py" time "$MODEL" "$1" "$2" "$SECONDS_EACH" | cut -d, -f1; }
time_ort() { NODE_PATH="$DIR/node_modules" node "$HERE/ort_peer.js" time "$DIR/facenet.onnx" "$1" "$2" "$SECONDS_EACH" | cut -d, -f1; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
kernels=$("$VB" devices 2>/dev/null | sed -n 's/.*driver .*(\(.*\) kernels).*/\1/p' | head -1)
{
    echo "peer,threads,batch,rounds,veribench_ms_per_face,peer_ms_per_face,ratio_veribench_over_peer,veribench_kernels,loadavg_start"
    for t in $THREADS; do
        for b in $BATCHES; do
            : > "$DIR/t.vb"
            : > "$DIR/t.torch"
            : > "$DIR/t.ort"
            r=0
            while [ $r -lt "$ROUNDS" ]; do
                time_vb "$b" "$t" >> "$DIR/t.vb"
                [ $torch_ok = 1 ] && time_torch "$b" "$t" >> "$DIR/t.torch"
                [ $ort_ok = 1 ] && time_ort "$b" "$t" >> "$DIR/t.ort"
                r=$((r + 1))
            done
            vb=$(median < "$DIR/t.vb")
            for peer in torch ort; do
                [ -s "$DIR/t.$peer" ] || continue
                pm=$(median < "$DIR/t.$peer")
                name=$([ $peer = torch ] && echo pytorch || echo onnxruntime)
                echo "$name,$t,$b,$ROUNDS,$vb,$pm,$(awk -v a="$vb" -v b="$pm" 'BEGIN {printf "%.3f", a / b}'),$kernels,$load"
            done
        done
    done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench-peers: wrote $out (load average at start: $load; during: $(cut -d' ' -f1-3 /proc/loadavg))"
column -s, -t < "$out" 2>/dev/null || cat "$out"
