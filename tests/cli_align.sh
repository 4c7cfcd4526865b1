#!/bin/sh
# The whole face model from the command line (issue 11): --preprocess align (the default)
# detects, finds landmarks, aligns and describes; --save-chips shows what the net saw; an
# image without a face is a failure to acquire, never dropped: named on stderr, listed in
# failures.csv and detections.csv, counted in provenance.csv; --on-no-face fallback-crop
# looks for the landmarks in a given box instead; bad settings are usage errors.
. tests/cli_lib.sh
# absolute: the paths go into a manifest in another folder (relative paths are the manifest's)
LFW="$(cd "$VERIBENCH_DATA" 2>/dev/null && pwd)/lfw/images_deepfunneled"
A="$LFW/Abel_Pacheco/Abel_Pacheco_0001.jpg"
B="$LFW/Abel_Pacheco/Abel_Pacheco_0004.jpg"
C="$LFW/Dean_Barker/Dean_Barker_0001.jpg"
M="$VB_MODELS/face_recognition.gguf"
if [ ! -f "$VB_MODELS/tiny_face_detector.gguf" ] || [ ! -f "$VB_MODELS/face_landmark_68.gguf" ] || [ ! -f "$A" ]; then
    echo "note: detector/landmark models or LFW missing: cli_align skipped"
    cli_finish
    exit $?
fi

# A uniform gray image: nothing to detect.
GRAY="$CLI_TMP/gray.pgm"
printf 'P5\n200 200\n255\n' > "$GRAY"
head -c 40000 /dev/zero | tr '\0' '\200' >> "$GRAY"

expect_exit 0 "help" -- "$VB" embed --help
expect_grep "--preprocess" "$CLI_TMP/out" "help mentions --preprocess"
expect_grep "--on-no-face" "$CLI_TMP/out" "help mentions --on-no-face"
expect_exit 2 "bad --preprocess" -- "$VB" embed --model "$M" --preprocess warp "$A"
expect_grep "expected align, crop:x0,y0,x1,y1 or crop" "$CLI_TMP/err" "--preprocess error says what is expected"
expect_exit 2 "bad --on-no-face" -- "$VB" embed --model "$M" --on-no-face drop "$A"
expect_exit 2 "empty fallback box" -- "$VB" embed --model "$M" --on-no-face fallback-crop:5,5,5,9 "$A"
# --detector tiny:SIZE: the tiny detector at another input side (a multiple of 32); the
# three faces are found at 256 too; a bad size or a size for SSD is a usage error.
expect_exit 0 "tiny:256 detector" -- "$VB" embed --model "$M" --detector tiny:256 "$A" "$B" "$C"
rows=$(wc -l < "$CLI_TMP/out")
[ "$rows" -eq 4 ] && ok || not_ok "tiny:256: expected header + 3 rows, got $rows lines"
expect_exit 2 "tiny:100 (not a multiple of 32)" -- "$VB" embed --model "$M" --detector tiny:100 "$A"
expect_grep "multiple of 32" "$CLI_TMP/err" "detector size error says what is expected"
expect_exit 2 "ssd:256" -- "$VB" embed --model "$M" --detector ssd:256 "$A"
# --detector ssd: SSD MobileNet v1 (make models converts it) finds the three faces too.
if [ -f "$VB_MODELS/ssd_mobilenetv1.gguf" ]; then
    expect_exit 0 "ssd detector" -- "$VB" embed --model "$M" --detector ssd "$A" "$B" "$C"
    rows=$(wc -l < "$CLI_TMP/out")
    [ "$rows" -eq 4 ] && ok || not_ok "ssd: expected header + 3 rows, got $rows lines"
    expect_exit 3 "ssd, no face" -- "$VB" embed --model "$M" --detector ssd "$GRAY"
    expect_grep "gray.pgm: no face found \\(SSD MobileNet v1," "$CLI_TMP/err" "ssd: no-face error names the file and detector"
else
    echo "note: ssd_mobilenetv1.gguf missing: --detector ssd not tested"
fi

# Aligned descriptors: the default is align; three faces, chips written as 150x150 PNGs.
expect_exit 0 "align, three faces" -- "$VB" embed --model "$M" --save-chips "$CLI_TMP/chips" "$A" "$B" "$C"
rows=$(wc -l < "$CLI_TMP/out")
[ "$rows" -eq 4 ] && ok || not_ok "expected header + 3 rows, got $rows lines"
cp "$CLI_TMP/out" "$CLI_TMP/aligned.csv"
for i in 0 1 2; do
    f="$CLI_TMP/chips/$i.png"
    if [ -f "$f" ] && [ "$(od -An -tx1 -N8 "$f" | tr -d ' ')" = "89504e470d0a1a0a" ]; then ok; else not_ok "chip $f missing or not a PNG"; fi
    # IHDR width and height, big-endian at bytes 16..23
    [ "$(od -An -tu1 -j16 -N8 "$f" | tr -s ' ' | sed 's/^ //')" = "0 0 0 150 0 0 0 150" ] && ok || not_ok "chip $f is not 150x150"
done
expect_exit 0 "explicit --preprocess align" -- "$VB" embed --model "$M" --preprocess align "$A" "$B" "$C"
cmp -s "$CLI_TMP/out" "$CLI_TMP/aligned.csv" && ok || not_ok "--preprocess align differs from the default"
expect_exit 0 "align, batch 1" -- "$VB" embed --model "$M" --batch 1 "$A" "$B" "$C"
cmp -s "$CLI_TMP/out" "$CLI_TMP/aligned.csv" && ok || not_ok "batch 1 changes aligned descriptors"
expect_exit 0 "crop" -- "$VB" embed --model "$M" --preprocess crop:70,70,180,180 "$A" "$B" "$C"
cmp -s "$CLI_TMP/out" "$CLI_TMP/aligned.csv" && not_ok "aligned descriptors equal the cropped ones" || ok
expect_exit 0 "--crop is --preprocess crop:" -- "$VB" embed --model "$M" --crop 70,70,180,180 "$A" "$B" "$C"
cp "$CLI_TMP/out" "$CLI_TMP/crop1.csv"
expect_exit 0 "crop again" -- "$VB" embed --model "$M" --preprocess crop:70,70,180,180 "$A" "$B" "$C"
cmp -s "$CLI_TMP/out" "$CLI_TMP/crop1.csv" && ok || not_ok "--crop and --preprocess crop: differ"

# No face: a failure to acquire that names the file; the fallback box goes on.
expect_exit 3 "no face" -- "$VB" embed --model "$M" "$GRAY"
expect_grep "gray.pgm: no face found" "$CLI_TMP/err" "no-face error names the file"
expect_exit 1 "no face, keep going" -- "$VB" embed --model "$M" --keep-going "$A" "$GRAY"
rows=$(wc -l < "$CLI_TMP/out")
[ "$rows" -eq 2 ] && ok || not_ok "keep-going: expected header + 1 row, got $rows lines"
expect_exit 0 "no face, fallback" -- "$VB" embed --model "$M" --on-no-face fallback-crop:50,50,150,150 "$GRAY"
expect_exit 3 "fallback box outside" -- "$VB" embed --model "$M" --on-no-face fallback-crop:50,50,250,250 "$GRAY"
expect_grep "fallback box 50,50,250,250 lies outside" "$CLI_TMP/err" "fallback outside is named"

# check: the CPU fast path against the reference, whole pipeline included.
expect_exit 0 "check, aligned" -- "$VB" check --model "$M" --backend cpu "$A" "$B" "$C"
expect_grep "^whole pipeline" "$CLI_TMP/out" "aligned check compares the whole pipelines"
expect_grep "decisions: 3 pairs, 0 flipped" "$CLI_TMP/out" "no flip end to end"
expect_exit 3 "check, no face" -- "$VB" check --model "$M" --backend cpu "$A" "$GRAY"
expect_grep "gray.pgm: no face found" "$CLI_TMP/err" "check names the faceless image"

# A run with one faceless sample: listed, counted, its trials non-matches.
D="$CLI_TMP/set"
mkdir -p "$D"
cp "$GRAY" "$D/gray.pgm"
cat > "$D/manifest.csv" <<EOF
sample,subject,path
a1,abel,$A
a2,abel,$B
d1,dean,$C
g1,gray,$D/gray.pgm
EOF
cat > "$D/trials.csv" <<EOF
a,b,label
a1,a2,1
a1,d1,0
a2,g1,0
g1,d1,0
EOF
R="$CLI_TMP/run"
expect_exit 0 "run, align" -- "$VB" run --model "$M" --dataset "csv:$D/manifest.csv" --trials "$D/trials.csv" \
    --bootstrap 0 --no-plots --quiet --out "$R"
expect_grep '^g1,.*no face found' "$R/failures.csv" "failures.csv lists the faceless sample"
expect_grep '^g1,.*,0,none,' "$R/detections.csv" "detections.csv: no face in g1"
expect_grep '^a1,.*,[1-9][0-9]*,detected,0\.[0-9]+,' "$R/detections.csv" "detections.csv: a face in a1"
expect_grep '^run,preprocess,align:tiny:fta$' "$R/provenance.csv" "provenance names the preprocessing"
expect_grep '^run,faces_not_found,1$' "$R/provenance.csv" "provenance counts the faceless sample"
expect_grep ',stage:detect,4,' "$R/latency.csv" "latency.csv times the detect stage over every sample"
expect_grep ',fta_impostor,2$' "$R/metrics.csv" "the faceless sample's trials are FTA non-matches"

R2="$CLI_TMP/run2"
expect_exit 0 "run, fallback" -- "$VB" run --model "$M" --dataset "csv:$D/manifest.csv" --trials "$D/trials.csv" \
    --on-no-face fallback-crop:50,50,150,150 --bootstrap 0 --no-plots --quiet --out "$R2"
expect_grep '^g1,.*,0,fallback,' "$R2/detections.csv" "detections.csv: the fallback box used"
expect_grep '^run,faces_fallback,1$' "$R2/provenance.csv" "provenance counts the fallback"

cli_finish
