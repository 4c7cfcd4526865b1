#!/bin/sh
# veribench in one command on a fresh Debian 12 machine.
#   ./bootstrap.sh main   install what is missing, build, fetch and convert the model,
#                         run the default evaluation (LFW View 2), print where the report is
#   ./bootstrap.sh test   the same set-up, then the whole test suite, normal and
#                         sanitizer (ASan+UBSan) builds, and a short fuzz pass
# Data: VERIBENCH_DATA (default ../shared/datasets) names the folder holding lfw/ and fvc2002/.
set -eu
cd "$(dirname "$0")"
VERIBENCH_DATA=${VERIBENCH_DATA:-../shared/datasets}
export VERIBENCH_DATA
JOBS=$(nproc 2>/dev/null || echo 2)

# python3: tests/cli_gate.sh checks the JUnit XML of `veribench gate` with its XML parser.
PACKAGES="build-essential pkg-config ca-certificates zlib1g-dev libjpeg62-turbo-dev libpng-dev
libtiff-dev libcsv-dev libcjson-dev libssl-dev gnuplot-nox glslc libvulkan-dev
mesa-vulkan-drivers vulkan-validationlayers clang libclang-rt-14-dev python3 chromium"

install_missing() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    # npm only fetches the model; any npm will do (a NodeSource node ships its own, and
    # Debian's npm package would conflict with it), so ask for Debian's only when none is there.
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
    [ -z "$missing" ] && return 0
    echo "bootstrap: installing Debian packages:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "bootstrap: missing packages:$missing; run as root or install them with apt-get" >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

check_data() {
    if [ ! -f "$VERIBENCH_DATA/lfw/pairs.txt" ]; then
        echo "bootstrap: no LFW data at VERIBENCH_DATA=$VERIBENCH_DATA (expected lfw/pairs.txt);" >&2
        echo "bootstrap: set VERIBENCH_DATA to the folder holding lfw/ and fvc2002/" >&2
        exit 3
    fi
}

main_job() {
    # The default evaluation: LFW View 2 (6,000 pairs, 10 folds) on the CPU backend, the whole
    # face model (detect, landmarks, dlib alignment, describe); where the detector finds no face
    # (or only background faces) the landmarks are looked for in LFW's centre box. The tiny
    # detector runs at input 256 (the images are 250x250; README, The face pipeline).
    # Resumable: run it again after an interruption.
    echo "bootstrap: evaluating on LFW View 2 (this takes a few minutes on 2 cores)"
    report=$(build/veribench run --dataset lfw --detector tiny:256 --on-no-face fallback-crop:70,70,180,180 --out results/lfw)
    echo "bootstrap: report written to $report"
}

synthetic_job() {
    # No LFW on this machine: a fresh machine still shows real work, the fingerprint matcher
    # on a generated set (SFinGe-style prints, all pairs), and says so.
    echo "bootstrap: no LFW at VERIBENCH_DATA=$VERIBENCH_DATA (expected lfw/pairs.txt): evaluating the"
    echo "bootstrap: fingerprint matcher on a synthetic set instead (veribench synth-fingerprints, 20 fingers x 8 impressions)"
    build/veribench synth-fingerprints --subjects 20 --impressions 8 --seed 1 --out results/synthetic-prints-data >/dev/null
    report=$(build/veribench run --dataset csv:results/synthetic-prints-data/manifest.csv --out results/synthetic-prints)
    echo "bootstrap: report written to $report (synthetic fingerprints, not LFW)"
}

case "${1:-}" in
main)
    install_missing
    make -j"$JOBS"
    if [ -f "$VERIBENCH_DATA/lfw/pairs.txt" ]; then
        make models
        main_job
    else
        make "${VB_MODELS:-build/models}/fingerprint_mcc.gguf"
        synthetic_job
    fi
    ;;
test)
    install_missing
    check_data
    make -j"$JOBS"
    make models
    make test
    make -j"$JOBS" SAN=1
    make SAN=1 test
    # A short fuzz pass over every parser of outside input (make fuzz FUZZ_SECONDS=N for longer).
    make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
    ;;
*)
    echo "usage: ./bootstrap.sh main | test" >&2
    exit 2
    ;;
esac
