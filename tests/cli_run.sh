#!/bin/sh
# veribench run end to end on a small CSV manifest of real LFW images: the results folder,
# resume after a kill, refusal of a folder made by another configuration, failures to
# acquire, malformed input, and agreement between metrics.csv and `veribench metrics`
# recomputed from the score file.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Akhmed_Zakayev:3 \
             Amber_Tamblyn:1 Amber_Tamblyn:2 Dean_Barker:1 Mikhail_Gorbachev:1 Portia_de_Rossi:1; do
        name=${p%:*} n=${p#*:}
        file=$(printf '%s/%s/%s_%04d.jpg' "$LFW" "$name" "$name" "$n")
        printf '%s_%d,%s,%s\n' "$name" "$n" "$name" "$file"
    done
    echo "Ghost_1,Ghost,$D/missing.jpg"
} > "$D/manifest.csv"
OUT="$CLI_TMP/out1"
RUN="$VB run --model $M --dataset csv:$D/manifest.csv --crop 70,70,180,180 --quiet --scores-csv"

expect_exit 0 "help" -- $VB run --help
expect_grep "--dataset" "$CLI_TMP/out" "help lists --dataset"
expect_exit 2 "missing --out" -- $RUN
expect_exit 2 "bad quant" -- $RUN --out "$OUT" --quant int3
expect_exit 2 "fingerprints refused by the face model" -- $VB run --model "$M" --dataset fvc2002:DB1_B --out "$OUT"

expect_exit 0 "first run" -- $RUN --out "$OUT"
expect_grep "report.md" "$CLI_TMP/out" "prints the report path"
for f in metrics.csv latency.csv provenance.csv failures.csv report.md; do
    [ -s "$OUT/$f" ] && ok || not_ok "$f missing or empty"
done
S=$(ls "$OUT"/scores/cpu-*-fp32.csv.gz)
[ -f "$S" ] && ok || not_ok "score file missing"
head -n 1 "$OUT/metrics.csv" | grep -q '^backend,device,quant,dataset,metric,value$' && ok || not_ok "metrics.csv header"
# 11 samples, all pairs: 55 trials; genuine: C(2,2) + C(3,2) + C(2,2) = 5.
expect_grep ',genuine,5$' "$OUT/metrics.csv" "5 genuine trials"
expect_grep ',impostor,50$' "$OUT/metrics.csv" "50 impostor trials"
expect_grep ',fta_samples,1$' "$OUT/metrics.csv" "the missing image is a failure to acquire"
expect_grep '^Ghost_1,' "$OUT/failures.csv" "failures.csv names the sample"
expect_grep ',fta_impostor,10$' "$OUT/metrics.csv" "its 10 trials are counted"
[ "$(zcat "$S" | wc -l)" -eq 56 ] && ok || not_ok "score file: header + 55 rows"
zcat "$S" | grep -q '^Ghost_1,.*,inf,0$\|,Ghost_1,0,inf,0$' && ok || not_ok "FTA trials scored +inf"
expect_grep '^run,dataset_fingerprint,[0-9a-f]{64}$' "$OUT/provenance.csv" "provenance has the dataset fingerprint"

# The score file alone gives the same metrics (the scores read back exactly).
expect_exit 0 "metrics from the score file" -- $VB metrics --scores "$S" --distance
for m in eer eer_threshold fnmr@fmr=1e-1 auc dprime; do
    a=$(grep ",$m," "$OUT/metrics.csv" | head -n 1 | cut -d, -f6)
    b=$(grep "^$m," "$CLI_TMP/out" | cut -d, -f2)
    [ -n "$a" ] && [ "$a" = "$b" ] && ok || not_ok "$m: run says '$a', metrics says '$b'"
done
# The binary score file (the default; the CSV above is the --scores-csv export) reads back
# to the same metrics, every row, without being told it holds distances.
cp "$CLI_TMP/out" "$CLI_TMP/metrics_from_csv"
B=$(ls "$OUT"/scores/cpu-*-fp32.vbs)
expect_exit 0 "metrics from the binary score file" -- $VB metrics --scores "$B"
cmp -s "$CLI_TMP/out" "$CLI_TMP/metrics_from_csv" && ok || not_ok "metrics from .vbs and .csv.gz differ"
# A damaged binary file is refused, naming the file and the block.
cp "$B" "$CLI_TMP/bad.vbs"
printf 'X' | dd of="$CLI_TMP/bad.vbs" bs=1 seek=200 conv=notrunc status=none
expect_exit 3 "damaged .vbs" -- $VB metrics --scores "$CLI_TMP/bad.vbs"
expect_grep 'bad.vbs: block 1: CRC mismatch' "$CLI_TMP/err" "names the file and the block"
head -c 150 "$B" > "$CLI_TMP/cut.vbs"
expect_exit 3 "truncated .vbs" -- $VB metrics --scores "$CLI_TMP/cut.vbs"
expect_grep 'cut.vbs: truncated or damaged' "$CLI_TMP/err" "names the truncation"

# Resume: a second run embeds nothing and reproduces metrics.csv; a torn template file
# (killed mid-record) loses only the torn record.
cp "$OUT/metrics.csv" "$CLI_TMP/metrics1.csv"
$VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 --out "$OUT" >/dev/null 2>"$CLI_TMP/err2"
expect_grep '11 already embedded' "$CLI_TMP/err2" "second run resumes everything"
cmp -s "$OUT/metrics.csv" "$CLI_TMP/metrics1.csv" && ok || not_ok "a run that resumed everything changed metrics.csv"
T=$(ls "$OUT"/templates/*.bin 2>/dev/null | head -n 1)
if [ -f "$T" ]; then
    size=$(wc -c < "$T")
    head -c $((size - 100)) "$T" > "$T.cut" && mv "$T.cut" "$T"
    ok
else
    not_ok "no template file in $OUT/templates"
fi
rm -f "$S.progress"
$VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 --out "$OUT" >/dev/null 2>"$CLI_TMP/err3"
expect_grep '10 already embedded' "$CLI_TMP/err3" "torn record dropped, the rest kept"
# Accuracy rows are identical; timing rows legitimately include the re-embedded sample.
grep -v -e ',faces_per_s,' -e ',ms_per_face,' "$OUT/metrics.csv" > "$CLI_TMP/m2"
grep -v -e ',faces_per_s,' -e ',ms_per_face,' "$CLI_TMP/metrics1.csv" > "$CLI_TMP/m1"
cmp -s "$CLI_TMP/m1" "$CLI_TMP/m2" && ok || not_ok "resumed run changed the accuracy metrics"

# Another crop in the same folder: refused, not mixed.
expect_exit 3 "different configuration" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 60,60,190,190 --out "$OUT"
expect_grep "different run" "$CLI_TMP/err" "says the folder belongs to another run"
expect_exit 0 "restart" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 60,60,190,190 --out "$OUT" --restart --quiet

# Malformed trials CSV: file and line named.
printf 'a,b,label\nAbel_Pacheco_1,Abel_Pacheco_4,1\nAbel_Pacheco_1,Nobody_1,0\n' > "$D/trials.csv"
expect_exit 3 "unknown sample in trials" -- $RUN --trials "$D/trials.csv" --out "$CLI_TMP/out2"
expect_grep "trials.csv:3" "$CLI_TMP/err" "error names file and line"

# Two quantization levels in one run: one block per level, drift against fp32.
expect_exit 0 "quant sweep" -- $RUN --out "$CLI_TMP/out3" --quant fp32,int8 --no-plots
expect_grep ',int8,csv:.*,cosine_vs_fp32_mean,0\.99' "$CLI_TMP/out3/metrics.csv" "int8 drift recorded"
expect_grep ',int8,csv:.*,eer_delta_vs_fp32,' "$CLI_TMP/out3/metrics.csv" "int8 EER delta recorded"
expect_grep 'Quantization' "$CLI_TMP/out3/report.md" "report has the quantization table"

cli_finish
