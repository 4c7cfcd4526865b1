#!/bin/sh
# Regenerates tests/data/faceapi_descriptors.csv: descriptors that face-api.js itself
# (npm @vladmandic/face-api@1.7.15 with @tensorflow/tfjs@4.22.0 on its CPU backend, under
# node) computes from LFW pixels decoded by veribench (libjpeg-turbo, default settings),
# cropped to 70,70,180,180. Run from the repository root after `make models`.
# Only the numbers are committed; node_modules stay in build/oracle.
set -eu
BUILD=${BUILD:-build}
DATA=${VERIBENCH_DATA:-../shared/datasets}
CROP=70,70,180,180
work="$BUILD/oracle"
mkdir -p "$work/pixels"
if [ ! -d "$work/node_modules/@vladmandic/face-api" ]; then
    (cd "$work" && npm install --no-audit --no-fund --silent \
        @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0)
fi
# Images: those of the first four matched and the first four mismatched pairs of LFW
# View 2 fold 1 (pairs.txt lines 2-5 and 302-305).
images="Abel_Pacheco/Abel_Pacheco_0001 Abel_Pacheco/Abel_Pacheco_0004
Akhmed_Zakayev/Akhmed_Zakayev_0001 Akhmed_Zakayev/Akhmed_Zakayev_0002 Akhmed_Zakayev/Akhmed_Zakayev_0003
Amber_Tamblyn/Amber_Tamblyn_0001 Amber_Tamblyn/Amber_Tamblyn_0002
Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001 Dean_Barker/Dean_Barker_0001
Giancarlo_Fisichella/Giancarlo_Fisichella_0001 Mikhail_Gorbachev/Mikhail_Gorbachev_0001
Abdul_Rahman/Abdul_Rahman_0001 Portia_de_Rossi/Portia_de_Rossi_0001"
files=""
for i in $images; do files="$files $DATA/lfw/images_deepfunneled/$i.jpg"; done
# shellcheck disable=SC2086
"$BUILD/veribench" embed --save-pixels "$work/pixels" --crop $CROP $files >/dev/null
args="" n=0
for i in $images; do args="$args $(basename "$i")=$work/pixels/$n.ppm"; n=$((n + 1)); done
# shellcheck disable=SC2086
NODE_PATH="$work/node_modules" node tests/oracle/faceapi_descriptors.cjs \
    "$work/node_modules/@vladmandic/face-api/model" $CROP $args > tests/data/faceapi_descriptors.csv
echo "wrote tests/data/faceapi_descriptors.csv"
