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

cli_finish
