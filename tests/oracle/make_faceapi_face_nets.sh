#!/bin/sh
# Regenerates tests/data/faceapi_detections.csv, faceapi_detections_256.csv,
# faceapi_landmarks.csv and faceapi_ssd_detections.csv: the tiny face detector's boxes (at
# its default inputSize 416, and at 256 for --detector tiny:256), the 68-point landmark net's
# points and SSD MobileNet v1's boxes that face-api.js itself
# (npm @vladmandic/face-api@1.7.15 with @tensorflow/tfjs@4.22.0 on its CPU backend, under
# node) computes from LFW pixels decoded by veribench (libjpeg-turbo, default settings), on
# the whole 250x250 deep-funneled images (the 13 images of faceapi_env.sh) and on
# three non-square regions of one of them. Run from the repository root after `make models`.
# Only the numbers are committed; node_modules and pixels stay in build/oracle.
#
#   sh tests/oracle/make_faceapi_face_nets.sh            write the three CSVs (~2 min)
#   sh tests/oracle/make_faceapi_face_nets.sh --fold1    also print face-api.js's no-face
#                                                        count on LFW View 2 fold 1 (807
#                                                        images; on tfjs's wasm backend,
#                                                        ~0.25 s an image, where the CPU
#                                                        backend takes ~2 s; set
#                                                        FACEAPI_BACKEND=cpu for that),
#                                                        the tiny detector's and the SSD's
set -eu
# shellcheck source=tests/oracle/faceapi_env.sh
. tests/oracle/faceapi_env.sh
mkdir -p "$work/pixels_full"
models="$work/node_modules/@vladmandic/face-api/model"
oracle() { NODE_PATH="$work/node_modules" node tests/oracle/faceapi_face_nets.cjs "$models" "$@"; }
# --save-pixels writes each whole decoded image, whatever --crop says.
# shellcheck disable=SC2086
"$BUILD/veribench" embed --save-pixels "$work/pixels_full" $files >/dev/null
whole="" n=0
for i in $images; do whole="$whole $(basename "$i")=$work/pixels_full/$n.ppm"; n=$((n + 1)); done
# Non-square regions of Abel_Pacheco_0001 (face box about 71,83 - 190,197): wide, tall, and
# tall with the face cut by the left border (the landmark crop is clipped).
abel="Abel_Pacheco_0001=$work/pixels_full/0.ppm"
regions="$abel@0,40,250,200 $abel@60,0,200,250 $abel@100,0,250,250"
# Low-threshold runs keep many overlapping boxes: non-maximum suppression decides.
# shellcheck disable=SC2086
{
    oracle detections 0.5 $whole $regions
    oracle detections 0.05 $abel "Amber_Tamblyn_0002=$work/pixels_full/6.ppm" $regions | tail -n +2
} > tests/data/faceapi_detections.csv
# The tiny detector at inputSize 256 (veribench's --detector tiny:256), same images.
# shellcheck disable=SC2086
{
    FACEAPI_TINY_SIZE=256 oracle detections 0.5 $whole $regions
    FACEAPI_TINY_SIZE=256 oracle detections 0.05 $abel "Amber_Tamblyn_0002=$work/pixels_full/6.ppm" $regions | tail -n +2
} > tests/data/faceapi_detections_256.csv
# The regions at 0.05 too: the left-cut face is found only there (its crop is clipped).
# shellcheck disable=SC2086
{
    oracle landmarks 0.5 $whole $regions
    oracle landmarks 0.05 $regions | tail -n +2
} > tests/data/faceapi_landmarks.csv
# SSD MobileNet v1 on the same images; 0.05 keeps many overlapping boxes for its NMS.
# shellcheck disable=SC2086
{
    oracle ssd_detections 0.5 $whole $regions
    oracle ssd_detections 0.05 $abel "Amber_Tamblyn_0002=$work/pixels_full/6.ppm" $regions | tail -n +2
} > tests/data/faceapi_ssd_detections.csv
echo "wrote tests/data/faceapi_detections.csv tests/data/faceapi_detections_256.csv tests/data/faceapi_landmarks.csv tests/data/faceapi_ssd_detections.csv"

if [ "${1:-}" = "--fold1" ]; then
    # The distinct images of LFW View 2 fold 1 (pairs.txt lines 2-601).
    list="$work/fold1.txt"
    sed -n 2,601p "$DATA/lfw/pairs.txt" | awk -F'\t' -v d="$DATA/lfw/images_deepfunneled" '
        NF == 3 { printf "%s/%s/%s_%04d.jpg\n%s/%s/%s_%04d.jpg\n", d, $1, $1, $2, d, $1, $1, $3 }
        NF == 4 { printf "%s/%s/%s_%04d.jpg\n%s/%s/%s_%04d.jpg\n", d, $1, $1, $2, d, $3, $3, $4 }' |
        sort -u > "$list"
    rm -rf "$work/pixels_fold1"
    mkdir -p "$work/pixels_fold1"
    # shellcheck disable=SC2046
    "$BUILD/veribench" embed --save-pixels "$work/pixels_fold1" $(cat "$list") >/dev/null
    # shellcheck disable=SC2046
    FACEAPI_BACKEND=${FACEAPI_BACKEND:-wasm} oracle count $(ls "$work"/pixels_fold1/*.ppm)
    # shellcheck disable=SC2046
    FACEAPI_BACKEND=${FACEAPI_BACKEND:-wasm} oracle ssd_count $(ls "$work"/pixels_fold1/*.ppm)
    rm -rf "$work/pixels_fold1"
fi
