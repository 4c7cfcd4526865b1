#!/bin/sh
# Regenerates tests/data/faceapi_descriptors.csv: descriptors that face-api.js itself
# (npm @vladmandic/face-api@1.7.15 with @tensorflow/tfjs@4.22.0 on its CPU backend, under
# node) computes from LFW pixels decoded by veribench (libjpeg-turbo, default settings),
# cropped to 70,70,180,180. Run from the repository root after `make models`.
# Only the numbers are committed; node_modules stay in build/oracle.
set -eu
CROP=70,70,180,180
# shellcheck source=tests/oracle/faceapi_env.sh
. tests/oracle/faceapi_env.sh
mkdir -p "$work/pixels"
# shellcheck disable=SC2086
"$BUILD/veribench" embed --save-pixels "$work/pixels" --crop $CROP $files >/dev/null
args="" n=0
for i in $images; do args="$args $(basename "$i")=$work/pixels/$n.ppm"; n=$((n + 1)); done
# shellcheck disable=SC2086
NODE_PATH="$work/node_modules" node tests/oracle/faceapi_descriptors.cjs \
    "$work/node_modules/@vladmandic/face-api/model" $CROP $args > tests/data/faceapi_descriptors.csv
echo "wrote tests/data/faceapi_descriptors.csv"
