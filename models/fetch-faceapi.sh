#!/bin/sh
# Fetches @vladmandic/face-api@1.7.15 from the npm registry (npm pack: no JavaScript runs),
# checks the SHA-256 of every file it uses against models/faceapi-1.7.15.sha256 and converts
# the nets to GGUF in $VB_MODELS (default build/models).
# Environment: BUILD (where the veribench binary is, default build), VB_MODELS.
set -eu
BUILD=${BUILD:-build}
VB_MODELS=${VB_MODELS:-build/models}
PKG=@vladmandic/face-api@1.7.15
here=$(cd "$(dirname "$0")" && pwd)
sums="$here/faceapi-1.7.15.sha256"
cache=build/faceapi
mkdir -p "$cache" "$VB_MODELS"
# Up to date when every converted net is newer than the sums and the converter.
up_to_date=1
for net in face_recognition tiny_face_detector face_landmark_68 ssd_mobilenetv1; do
    f="$VB_MODELS/$net.gguf"
    if ! [ -f "$f" ] || ! [ "$f" -nt "$sums" ] || ! [ "$f" -nt "$BUILD/veribench" ]; then
        up_to_date=0
    fi
done
if [ "$up_to_date" = 1 ]; then
    echo "models: $VB_MODELS/{face_recognition,tiny_face_detector,face_landmark_68,ssd_mobilenetv1}.gguf are up to date"
    exit 0
fi
tarball="$cache/vladmandic-face-api-1.7.15.tgz"
if [ ! -f "$tarball" ]; then
    command -v npm >/dev/null 2>&1 || { echo "models: npm is missing (apt-get install npm)" >&2; exit 1; }
    echo "models: fetching $PKG from the npm registry"
    (cd "$cache" && npm pack --silent "$PKG" >/dev/null) || {
        echo "models: 'npm pack $PKG' failed (no network access to the npm registry?)" >&2; exit 1; }
fi
rm -rf "$cache/package"
tar -xzf "$tarball" -C "$cache"
if ! (cd "$cache/package" && sha256sum --quiet -c "$sums"); then
    echo "models: SHA-256 mismatch against $sums: refusing to convert" >&2
    rm -f "$tarball"
    exit 1
fi
"$BUILD/veribench" convert --from faceapi --in "$cache/package/model" --out "$VB_MODELS"
