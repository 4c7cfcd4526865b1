# shellcheck shell=sh
# Sourced (from the repository root) by make_faceapi_oracle.sh and make_faceapi_face_nets.sh:
# the setup both face-api.js oracles share, so that they pin the same npm packages and run on
# the same LFW images. Sets BUILD, DATA, work (build/oracle, where node_modules and pixels
# stay), images (LFW names without .jpg) and files (their JPEG paths).
BUILD=${BUILD:-build}
DATA=${VERIBENCH_DATA:-../shared/datasets}
work="$BUILD/oracle"
mkdir -p "$work"
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
