#!/bin/sh
# veribench embed from the command line: output format, errors and exit codes.
. tests/cli_lib.sh
LFW="$VERIBENCH_DATA/lfw/images_deepfunneled"
A="$LFW/Abel_Pacheco/Abel_Pacheco_0001.jpg"
B="$LFW/Abel_Pacheco/Abel_Pacheco_0004.jpg"
M="$VB_MODELS/face_recognition.gguf"

expect_exit 0 "help" -- "$VB" embed --help
expect_grep "--crop" "$CLI_TMP/out" "help mentions --crop"
expect_exit 2 "no images" -- "$VB" embed --model "$M"
expect_exit 2 "bad crop" -- "$VB" embed --model "$M" --crop 1,2,3 "$A"
expect_exit 2 "unknown option" -- "$VB" embed --frobnicate "$A"
expect_exit 2 "unknown backend" -- "$VB" embed --model "$M" --backend tpu "$A"
expect_exit 2 "unknown command" -- "$VB" frobnicate

expect_exit 0 "two images" -- "$VB" embed --model "$M" --crop 70,70,180,180 "$A" "$B"
rows=$(wc -l < "$CLI_TMP/out")
[ "$rows" -eq 3 ] && ok || not_ok "expected header + 2 rows, got $rows lines"
head -n 1 "$CLI_TMP/out" | grep -q '^image,d0,d1,.*,d127$' && ok || not_ok "header"
cols=$(sed -n 2p "$CLI_TMP/out" | awk -F, '{print NF}')
[ "$cols" -eq 129 ] && ok || not_ok "expected 129 columns, got $cols"
cp "$CLI_TMP/out" "$CLI_TMP/two.csv"

# Batch size must not change the numbers (batch 1 vs batch 2).
expect_exit 0 "batch 1" -- "$VB" embed --model "$M" --crop 70,70,180,180 --batch 1 "$A" "$B"
cmp -s "$CLI_TMP/out" "$CLI_TMP/two.csv" && ok || not_ok "batch 1 and batch 2 outputs differ"

# A missing image: named in the error, exit 3; with --keep-going the others are still
# embedded and the exit status is 1.
expect_exit 3 "missing image" -- "$VB" embed --model "$M" "$A" /nonexistent/face.jpg
expect_grep "/nonexistent/face.jpg" "$CLI_TMP/err" "error names the missing image"
printf 'not a jpeg' > "$CLI_TMP/bad.jpg"
head -c 3000 "$A" > "$CLI_TMP/cut.jpg"
expect_exit 1 "keep going" -- "$VB" embed --model "$M" --keep-going "$CLI_TMP/bad.jpg" "$A" "$CLI_TMP/cut.jpg"
expect_grep "bad.jpg" "$CLI_TMP/err" "bad image reported"
expect_grep "cut.jpg: corrupt or truncated JPEG" "$CLI_TMP/err" "truncated JPEG reported"
rows=$(wc -l < "$CLI_TMP/out")
[ "$rows" -eq 2 ] && ok || not_ok "keep-going: expected header + 1 row, got $rows lines"

# Crop box outside the image.
expect_exit 3 "crop outside" -- "$VB" embed --model "$M" --crop 0,0,300,300 "$A"
expect_grep "outside" "$CLI_TMP/err" "crop error says outside"

# A corrupt model: truncated and garbage files are refused with the file named.
head -c 100000 "$M" > "$CLI_TMP/cut.gguf"
expect_exit 3 "truncated model" -- "$VB" embed --model "$CLI_TMP/cut.gguf" "$A"
expect_grep "cut.gguf" "$CLI_TMP/err" "model error names the file"
expect_exit 3 "missing model" -- "$VB" embed --model "$CLI_TMP/none.gguf" "$A"
expect_grep "make models" "$CLI_TMP/err" "missing model says how to get it"

cli_finish
