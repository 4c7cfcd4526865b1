#!/bin/sh
# Fingerprints through the command line: synth-fingerprints writes a set and its manifest
# (the same seed, the same bytes), run evaluates it with the fingerprint matcher (all pairs,
# scores 1 - MCC similarity, genuine below impostor), a failure to enrol is counted, and
# options that do not apply to prints are refused.
. tests/cli_lib.sh
FP="$VB_MODELS/fingerprint_mcc.gguf"
S="$CLI_TMP/synth"
expect_exit 0 "synth-fingerprints" -- "$VB" synth-fingerprints --subjects 3 --impressions 2 --seed 5 --out "$S"
expect_grep '^sample,subject,path,modality$' "$S/manifest.csv" "manifest header"
[ "$(wc -l < "$S/manifest.csv")" -eq 7 ] && ok || not_ok "manifest has 6 prints"
expect_exit 0 "synth-fingerprints again" -- "$VB" synth-fingerprints --subjects 1 --impressions 2 --seed 5 --out "$CLI_TMP/again"
cmp -s "$S/1_2.png" "$CLI_TMP/again/1_2.png" && ok || not_ok "same seed, same print"
expect_exit 2 "synth-fingerprints without --out" -- "$VB" synth-fingerprints --subjects 3
expect_exit 2 "synth-fingerprints --subjects 0" -- "$VB" synth-fingerprints --subjects 0 --out "$CLI_TMP/x"

# one blank print: a failure to enrol, scored as non-matches
printf 'P5 64 64 255\n' > "$S/blank.pgm"
head -c 4096 /dev/zero >> "$S/blank.pgm"
echo "blank,9,blank.pgm,fingerprint" >> "$S/manifest.csv"
R="$CLI_TMP/run"
expect_exit 0 "run on prints" -- "$VB" run --dataset "csv:$S/manifest.csv" --model "$FP" --out "$R" --no-plots --bootstrap 0 --scores-csv
expect_grep ',fta_samples,1$' "$R/metrics.csv" "the blank print failed to enrol"
expect_grep 'blank,.*minutiae found' "$R/failures.csv" "failure reason names the minutiae"
expect_grep '1 - MCC similarity' "$R/provenance.csv" "score units"
# 7 prints, 21 trials, 3 genuine; every genuine distance below every impostor one (FTA trials are inf)
zcat "$R"/scores/*.csv.gz | awk -F, 'NR > 1 && $4 != "inf" { if ($3 == 1 && $4 > g) g = $4; if ($3 == 0 && (i == "" || $4 < i)) i = $4 }
    END { exit !(g < i) }' && ok || not_ok "genuine distances below impostor distances"
[ "$(zcat "$R"/scores/*.csv.gz | wc -l)" -eq 22 ] && ok || not_ok "21 trials scored"

expect_exit 2 "--crop refused for prints" -- "$VB" run --dataset "csv:$S/manifest.csv" --model "$FP" --crop 0,0,10,10 --out "$CLI_TMP/r2"
expect_exit 2 "--quant int8 refused for prints" -- "$VB" run --dataset "csv:$S/manifest.csv" --model "$FP" --quant int8 --out "$CLI_TMP/r3"
if [ -f "$VB_MODELS/face_recognition.gguf" ]; then
    expect_exit 2 "face model on prints" -- "$VB" run --dataset "csv:$S/manifest.csv" --model "$VB_MODELS/face_recognition.gguf" --out "$CLI_TMP/r5"
fi
# --modality: a manifest without the column
cut -d, -f1-3 "$S/manifest.csv" | grep -v '^blank' > "$S/plain.csv"
expect_exit 0 "--modality fingerprint" -- "$VB" run --dataset "csv:$S/plain.csv" --modality fingerprint --model "$FP" --out "$CLI_TMP/r6" --no-plots --bootstrap 0
expect_grep ',fta_samples,0$' "$CLI_TMP/r6/metrics.csv" "every generated print enrolled"
expect_exit 2 "--modality with a modality column" -- "$VB" run --dataset "csv:$S/manifest.csv" --modality fingerprint --model "$FP" --out "$CLI_TMP/r7"
expect_exit 2 "--modality on fvc2002" -- "$VB" run --dataset fvc2002:DB1_B --modality face --out "$CLI_TMP/r8"
expect_exit 2 "--modality bad value" -- "$VB" run --dataset "csv:$S/plain.csv" --modality iris --out "$CLI_TMP/r9"
expect_exit 0 "convert --from fingerprint" -- "$VB" convert --from fingerprint --out "$CLI_TMP/models"
cmp -s "$CLI_TMP/models/fingerprint_mcc.gguf" "$FP" && ok || not_ok "the parameter file is reproducible"
expect_exit 2 "convert --from fingerprint --in" -- "$VB" convert --from fingerprint --in x --out "$CLI_TMP/models"
cli_finish
