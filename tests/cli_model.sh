#!/bin/sh
# Damaged model files on the command line (issue 10 items 3 and 10): every command that
# loads a model refuses them with exit 3, naming the file and what is wrong.
. tests/cli_lib.sh
A="$VERIBENCH_DATA/lfw/images_deepfunneled/Abel_Pacheco/Abel_Pacheco_0001.jpg"
M="$VB_MODELS/face_recognition.gguf"

# patch FILE OFFSET BYTES: overwrite bytes in place (printf escapes).
patch_at() {
    printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# issue 10 item 3: 16 bytes flipped in the tensor data (100 kB before the end: inside the
# weights) are caught by the recorded SHA-256, by embed, check and bench alike.
size=$(wc -c < "$M")
cp "$M" "$CLI_TMP/flipped.gguf"
patch_at "$CLI_TMP/flipped.gguf" $((size - 100000)) '\125\125\125\125\125\125\125\125\125\125\125\125\125\125\125\125'
cmp -s "$M" "$CLI_TMP/flipped.gguf" && not_ok "patch did not change the model" || ok
expect_exit 3 "embed, flipped weights" -- "$VB" embed --model "$CLI_TMP/flipped.gguf" "$A"
expect_grep "flipped.gguf: corrupt model: tensor data SHA-256" "$CLI_TMP/err" "embed names the damage"
expect_exit 3 "check, flipped weights" -- "$VB" check --model "$CLI_TMP/flipped.gguf" "$A"
expect_grep "flipped.gguf: corrupt model" "$CLI_TMP/err" "check names the damage"
expect_exit 3 "bench, flipped weights" -- "$VB" bench --model "$CLI_TMP/flipped.gguf" --seconds 0
expect_grep "flipped.gguf: corrupt model" "$CLI_TMP/err" "bench names the damage"
# The intact model loads without a warning about a missing checksum.
expect_exit 0 "embed, intact model" -- "$VB" embed --model "$M" "$A"
grep -q "checksum" "$CLI_TMP/err" && not_ok "intact model warned: $(cat "$CLI_TMP/err")" || ok

# issue 10 item 10: a renamed tensor is named in the error, with the model file.
name="conv32_1/conv1/scale/weights"
at=$(grep -obUa "$name" "$M" | head -n 1 | cut -d: -f1)
cp "$M" "$CLI_TMP/renamed.gguf"
[ -n "$at" ] && ok || { not_ok "$name not found in $M"; at=0; }
patch_at "$CLI_TMP/renamed.gguf" $((at + ${#name} - 1)) 'X'
expect_exit 3 "embed, renamed tensor" -- "$VB" embed --model "$CLI_TMP/renamed.gguf" "$A"
expect_grep "renamed.gguf: tensor '$name' not found" "$CLI_TMP/err" "error names the tensor and the file"

# The face pipeline's nets: check compares their whole output (no decisions), bench times
# them at every weight level (depthwise filters stay F32), run refuses them (no descriptor),
# and a renamed tensor is named as for the face net.
D="$VB_MODELS/tiny_face_detector.gguf"
L="$VB_MODELS/face_landmark_68.gguf"
if [ -f "$D" ] && [ -f "$L" ]; then
    expect_exit 0 "check, detector" -- "$VB" check --model "$D" --backend cpu "$A"
    expect_grep "decisions: none \(the tiny_face_detector net" "$CLI_TMP/out" "check takes no decisions"
    expect_grep "^verdict: PASS" "$CLI_TMP/out" "check passes the detector"
    expect_exit 0 "check, landmarks" -- "$VB" check --model "$L" --backend cpu --crop 70,70,180,180 "$A"
    expect_exit 0 "bench, detector, int8" -- "$VB" bench --model "$D" --quant fp32,int8 --seconds 0
    expect_grep "^cpu,.*,int8," "$CLI_TMP/out" "bench row at int8"
    expect_exit 0 "bench, landmarks, int4" -- "$VB" bench --model "$L" --quant int4 --seconds 0
    expect_exit 2 "run, detector" -- "$VB" run --dataset lfw --folds 1 --model "$D" --out "$CLI_TMP/run"
    expect_grep "gives no descriptor to compare" "$CLI_TMP/err" "run says why"
    name="dense2/conv3/pointwise_filter"
    at=$(grep -obUa "$name" "$L" | head -n 1 | cut -d: -f1)
    cp "$L" "$CLI_TMP/renamed_lm.gguf"
    [ -n "$at" ] && ok || { not_ok "$name not found in $L"; at=0; }
    patch_at "$CLI_TMP/renamed_lm.gguf" $((at + ${#name} - 1)) 'X'
    expect_exit 3 "check, renamed landmark tensor" -- "$VB" check --model "$CLI_TMP/renamed_lm.gguf" --backend cpu "$A"
    expect_grep "renamed_lm.gguf: tensor '$name' not found .*face_landmark_68" "$CLI_TMP/err" "error names the tensor"
else
    echo "skipped: face pipeline nets: $D or $L not found (make models)"
fi

cli_finish
