#!/bin/sh
# A run over faces and prints together: a manifest whose modality column mixes LFW images
# and generated prints is evaluated as one run per modality (OUT/face, OUT/fingerprint, each
# with its own model and trials), and OUT/report.md / report.html put both metric sets and
# both DET curves side by side. No trial compares a face with a print.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
D="$CLI_TMP/data"
expect_exit 0 "synth-fingerprints" -- "$VB" synth-fingerprints --subjects 3 --impressions 2 --seed 5 --out "$D"
{
    echo "sample,subject,path,modality"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Dean_Barker:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s,face\n' "$name" "$n" "$name" "$(printf '%s/%s/%s_%04d.jpg' "$LFW" "$name" "$name" "$n")"
    done
    tail -n +2 "$D/manifest.csv" # 1_1 .. 3_2, paths relative to $D
} > "$D/mixed.csv"
OUT="$CLI_TMP/res"
expect_exit 0 "run on faces and prints" -- "$VB" run --dataset "csv:$D/mixed.csv" --out "$OUT" --bootstrap 0 --scores-csv --quiet
expect_grep "^$OUT/report.md$" "$CLI_TMP/out" "prints the combined report's path"
# 5 faces: C(5,2) = 10 trials, 2 genuine; 6 prints: 15 trials, 3 genuine; the 30 cross pairs are not trials
for want in face:2:8 fingerprint:3:12; do
    m=${want%%:*} g=${want#*:} g=${g%:*} i=${want##*:}
    expect_grep ",genuine,$g\$" "$OUT/$m/metrics.csv" "$m: $g genuine trials"
    expect_grep ",impostor,$i\$" "$OUT/$m/metrics.csv" "$m: $i impostor trials"
    expect_grep "^cpu,.*,csv:.*mixed.csv#$m,eer," "$OUT/$m/metrics.csv" "$m: an EER row"
    expect_grep "^run,model_path,.*$( [ $m = face ] && echo face_recognition || echo fingerprint_mcc).gguf\$" \
        "$OUT/$m/provenance.csv" "$m: evaluated with its own model"
done
F=$(ls "$OUT"/face/scores/*.csv.gz) P=$(ls "$OUT"/fingerprint/scores/*.csv.gz)
[ "$(zcat "$F" | wc -l)" -eq 11 ] && [ "$(zcat "$P" | wc -l)" -eq 16 ] && ok || not_ok "10 face and 15 print trials scored"
# every face trial names two LFW samples, every print trial two prints (ids N_K)
zcat "$F" | awk -F, 'NR > 1 && ($1 ~ /^[0-9]_[0-9]$/ || $2 ~ /^[0-9]_[0-9]$/) { bad = 1 } END { exit bad }' &&
    ok || not_ok "a print in the face scores"
zcat "$P" | awk -F, 'NR > 1 && ($1 !~ /^[0-9]_[0-9]$/ || $2 !~ /^[0-9]_[0-9]$/) { bad = 1 } END { exit bad }' &&
    ok || not_ok "a face in the print scores"
# the combined report: both metric sets, both DET curves side by side
expect_grep '^\| face \| `.*face_recognition.gguf` \| 5 \| 10 \| 2 \| 8 \|' "$OUT/report.md" "face row"
expect_grep '^\| fingerprint \| `.*fingerprint_mcc.gguf` \| 6 \| 15 \| 3 \| 12 \|' "$OUT/report.md" "fingerprint row"
if command -v gnuplot >/dev/null 2>&1; then
    expect_grep '^\| !\[DET face\]\(face/plots/det.png\) \| !\[DET fingerprint\]\(fingerprint/plots/det.png\) \|$' \
        "$OUT/report.md" "the two DET curves side by side"
    [ -s "$OUT/face/plots/det.png" ] && [ -s "$OUT/fingerprint/plots/det.png" ] && ok || not_ok "DET PNGs"
    [ "$(grep -o 'data:image/png' "$OUT/report.html" | wc -l)" -eq 2 ] && ok || not_ok "report.html inlines 2 DETs"
fi
expect_grep '<h2>Metrics: face</h2>' "$OUT/report.html" "face metrics in report.html"
expect_grep '<h2>Metrics: fingerprint</h2>' "$OUT/report.html" "print metrics in report.html"
for m in face fingerprint; do
    [ -s "$OUT/$m/report.html" ] && ok || not_ok "$m/report.html"
done

# veribench report on the combined folder: each modality's reports again, then the combined ones
cp "$OUT/report.md" "$CLI_TMP/combined.md"
rm "$OUT/report.md" "$OUT/report.html" "$OUT/face/report.md" "$OUT/fingerprint/report.html"
expect_exit 0 "report on the combined folder" -- "$VB" report --results "$OUT"
cmp -s "$OUT/report.md" "$CLI_TMP/combined.md" && ok || not_ok "report.md as the run wrote it"
for f in report.html face/report.md fingerprint/report.html; do
    [ -s "$OUT/$f" ] && ok || not_ok "report rewrote $f"
done
expect_exit 2 "report --gate on the combined folder" -- "$VB" report --results "$OUT" --gate /dev/null
expect_grep "one results folder per modality" "$CLI_TMP/err" "says to gate each"

# explicit trials: each modality's go to its run; trials of one modality make a plain run
printf 'a,b,label\n1_1,1_2,1\nAbel_Pacheco_1,Abel_Pacheco_4,1\n1_1,2_1,0\nAbel_Pacheco_1,Dean_Barker_1,0\n' > "$D/both.csv"
expect_exit 0 "trials of both" -- "$VB" run --dataset "csv:$D/mixed.csv" --trials "$D/both.csv" --out "$CLI_TMP/o1" --bootstrap 0 --no-plots --quiet
expect_grep '^\| face \| .* \| 3 \| 2 \| 1 \| 1 \|' "$CLI_TMP/o1/report.md" "2 face trials"
expect_grep '^\| fingerprint \| .* \| 3 \| 2 \| 1 \| 1 \|' "$CLI_TMP/o1/report.md" "2 print trials"
expect_grep 'plots skipped' "$CLI_TMP/o1/report.md" "--no-plots said"
printf 'a,b,label\n1_1,1_2,1\n1_1,2_1,0\n' > "$D/prints.csv"
expect_exit 0 "trials of prints only" -- "$VB" run --dataset "csv:$D/mixed.csv" --trials "$D/prints.csv" --out "$CLI_TMP/o2" --bootstrap 0 --no-plots --quiet
[ -f "$CLI_TMP/o2/metrics.csv" ] && [ ! -e "$CLI_TMP/o2/face" ] && ok || not_ok "prints only: one plain run"
expect_grep ',impostor,1$' "$CLI_TMP/o2/metrics.csv" "1 print impostor trial"
printf 'a,b,label\n1_1,1_2,1\n1_1,Dean_Barker_1,0\n' > "$D/cross.csv"
expect_exit 3 "a face against a print" -- "$VB" run --dataset "csv:$D/mixed.csv" --trials "$D/cross.csv" --out "$CLI_TMP/o3"
expect_grep "cross.csv:3:.*fingerprint sample '1_1' with face sample 'Dean_Barker_1'" "$CLI_TMP/err" "names the line and both samples"
expect_exit 2 "--shard on a mixed set" -- "$VB" run --dataset "csv:$D/mixed.csv" --shard 1/2 --out "$CLI_TMP/o4"
expect_grep "mixes faces and fingerprints" "$CLI_TMP/err" "says why"
cli_finish
