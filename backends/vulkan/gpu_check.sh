#!/bin/sh
# The Vulkan backend's device check for a GPU machine without a Vulkan loader, compiler or
# most shared libraries (../shared/docs/gpu.md). Two steps:
#
#   sh backends/vulkan/gpu_check.sh prepare   # here: static build, loader debs, libcjson,
#                                             # the model and a few LFW faces into .gl/
#   sh backends/vulkan/gpu_check.sh run       # there (repository root; .gl/ carried along):
#                                             # devices, check fp32/fp16, bench batch 1,8,64;
#                                             # the same check and bench 1,8 for the face
#                                             # detector and landmark nets and SSD MobileNet
#                                             # v1 (22 MB more in .gl/; depthwise conv, ReLU6, concat,
#                                             # leaky ReLU) when make models made them;
#                                             # the fingerprint matcher on FVC2002 DB1_B
#                                             # (11.6 MB in .gl/data): check against cpu:ref
#                                             # (templates, flips) and run on both backends
#
# `run` writes everything to $OUT (default .gl/out) and also works on a machine with a
# Vulkan driver already installed (then the debs are not needed). .gl/ is git-ignored.
set -u
G=.gl
BIN=$G/veribench
case "${1:-}" in
prepare)
    set -e
    make -j2 STATIC=1 BUILD=build/static build/static/veribench
    mkdir -p "$G/lib" "$G/faces" /tmp/amd64/partial
    cp build/static/veribench "$BIN"
    cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$G/lib/"   # no static cJSON in Debian
    cp -L "${VB_MODELS:-build/models}/face_recognition.gguf" "$G/"
    for m in tiny_face_detector face_landmark_68 ssd_mobilenetv1; do
        [ -e "${VB_MODELS:-build/models}/$m.gguf" ] && cp -L "${VB_MODELS:-build/models}/$m.gguf" "$G/"
    done
    cp -L "${VB_MODELS:-build/models}/fingerprint_mcc.gguf" "$G/"
    fvc="${VERIBENCH_DATA:-../shared/datasets}/fvc2002/DB1_B"
    if [ -d "$fvc" ]; then
        mkdir -p "$G/data/fvc2002/DB1_B"
        cp "$fvc"/*.tif "$G/data/fvc2002/DB1_B/"
    fi
    lfw="${VERIBENCH_DATA:-../shared/datasets}/lfw/images_deepfunneled"
    for f in Abel_Pacheco/Abel_Pacheco_0001 Abel_Pacheco/Abel_Pacheco_0004 Akhmed_Zakayev/Akhmed_Zakayev_0001 \
             Akhmed_Zakayev/Akhmed_Zakayev_0002 Akhmed_Zakayev/Akhmed_Zakayev_0003 Amber_Tamblyn/Amber_Tamblyn_0001 \
             Amber_Tamblyn/Amber_Tamblyn_0002 Dean_Barker/Dean_Barker_0001; do
        cp "$lfw/$f.jpg" "$G/faces/"
    done
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update
    (cd "$G" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    du -sh "$G"
    ;;
run)
    OUT=${OUT:-$G/out}
    mkdir -p "$OUT"
    for f in "$G"/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
    command -v ldconfig >/dev/null && ldconfig
    export LD_LIBRARY_PATH="$PWD/$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if ! "$BIN" devices >/dev/null 2>&1 && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    M="$G/face_recognition.gguf"
    CROP="--crop 70,70,180,180"
    { ldd "$BIN"; echo; "$BIN" devices; echo "exit $?"; } >"$OUT/devices.txt" 2>&1
    "$BIN" devices --format csv >"$OUT/devices.csv" 2>>"$OUT/devices.txt"
    "$BIN" check --model "$M" $CROP "$G"/faces/*.jpg >"$OUT/check_fp32.txt" 2>&1
    echo "exit $?" >>"$OUT/check_fp32.txt"
    "$BIN" check --model "$M" --fp16 $CROP "$G"/faces/*.jpg >"$OUT/check_fp16.txt" 2>&1
    echo "exit $?" >>"$OUT/check_fp16.txt"
    # fp16 variants where the device has them (--fp16), then fp32 variants (the default), then the CPU
    "$BIN" bench --model "$M" --backend vulkan --fp16 --batch 1,8,64 --seconds 3 >"$OUT/bench_vulkan_fp16.csv" 2>>"$OUT/bench.err"
    "$BIN" bench --model "$M" --backend vulkan --batch 1,8,64 --seconds 3 >"$OUT/bench_vulkan_fp32.csv" 2>>"$OUT/bench.err"
    "$BIN" bench --model "$M" --backend cpu --batch 1,8 --seconds 3 >"$OUT/bench_cpu.csv" 2>>"$OUT/bench.err"
    # the face pipeline's nets: whole-output cosine against cpu:ref on the same faces (resized
    # to the net's input), then their speed
    for m in tiny_face_detector face_landmark_68 ssd_mobilenetv1; do
        [ -e "$G/$m.gguf" ] || continue
        "$BIN" check --model "$G/$m.gguf" "$G"/faces/*.jpg >"$OUT/check_${m}_fp32.txt" 2>&1
        echo "exit $?" >>"$OUT/check_${m}_fp32.txt"
        "$BIN" bench --model "$G/$m.gguf" --backend vulkan --batch 1,8 --seconds 3 >"$OUT/bench_${m}_vulkan.csv" \
            2>>"$OUT/bench.err"
    done
    # the fingerprint matcher: its image kernels on the GPU against the reference (every
    # pair of DB1_B), then a run on each backend (embed_wall: wall time per print)
    if [ -d "$G/data/fvc2002/DB1_B" ]; then
        "$BIN" check --model "$G/fingerprint_mcc.gguf" "$G"/data/fvc2002/DB1_B/*.tif >"$OUT/check_fingerprint.txt" 2>&1
        echo "exit $?" >>"$OUT/check_fingerprint.txt"
        for b in vulkan cpu; do
            VERIBENCH_DATA="$G/data" "$BIN" run --backend $b --model "$G/fingerprint_mcc.gguf" \
                --dataset fvc2002-all:DB1_B --out "$OUT/run_fingerprint_$b" --bootstrap 0 --no-plots --quiet \
                >/dev/null 2>>"$OUT/bench.err"
            grep -E "embed_wall|fp/|match" "$OUT/run_fingerprint_$b/latency.csv" >"$OUT/bench_fingerprint_$b.csv"
        done
    fi
    grep -H -E "checked|cosine|decisions|templates|verdict|^exit" "$OUT"/check_*.txt
    grep -H . "$OUT"/bench_*.csv "$OUT/bench.err"
    ;;
*)
    echo "usage: sh backends/vulkan/gpu_check.sh prepare|run" >&2
    exit 2
    ;;
esac
