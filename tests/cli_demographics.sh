#!/bin/sh
# Demographic differentials end to end on a tiny run (6 LFW images, a side file of sample
# attributes with one sample unlabelled): the metrics.csv rows with the counts worked out
# below, the report sections (also when re-rendered from the folder), gate rules on them
# passing and failing, and bad attribute files refused with their name.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Ai_Sugiyama:1 Ai_Sugiyama:2 Alex_Sink:1 Abel_Pacheco:1 Abel_Pacheco:4 Abel_Pacheco:2; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n"
    done
} > "$D/manifest.csv"
# Abel_Pacheco_2 unlabelled (empty field)
printf 'sample,sex\nAi_Sugiyama_1,F\nAi_Sugiyama_2,F\nAlex_Sink_1,F\nAbel_Pacheco_1,M\nAbel_Pacheco_4,M\nAbel_Pacheco_2,\n' > "$D/sex.csv"
OUT="$CLI_TMP/results"
expect_exit 0 "tiny run with attributes" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 \
    --attributes "$D/sex.csv" --quiet --out "$OUT"
K='cpu,[^,]*,fp32,csv:[^,]*'
# Bounded against in memory: a default run streams the bootstrap and the demographic counts
# from its score file; with --scores-csv the scores are all read back and the same rows come
# from memory. metrics.csv is the same but the measured timing rows.
expect_exit 0 "the same run, scores in memory" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" \
    --crop 70,70,180,180 --attributes "$D/sex.csv" --quiet --scores-csv --out "$CLI_TMP/inmem"
untimed() { grep -v -E ',(faces_per_s|ms_per_face),' "$1/metrics.csv"; }
[ "$(untimed "$OUT" | sha256sum)" = "$(untimed "$CLI_TMP/inmem" | sha256sum)" ] && ok ||
    { not_ok "streamed and in-memory metrics.csv differ"; diff "$OUT/metrics.csv" "$CLI_TMP/inmem/metrics.csv" | head >&2; }
[ "$(grep -c -e '_boot_' -e 'sex' "$OUT/metrics.csv")" -gt 50 ] && ok || not_ok "too few bootstrap and demographic rows compared"
# 15 trials: genuine Ai (F), Abel 1-4 (M), Abel x-2 twice (unlabelled: excluded);
# impostor F+F 2 (Ai x Alex), F+M 6, M+M none, with the unlabelled sample 3 (excluded)
expect_grep "^$K,sex:samples_unlabelled,1$" "$OUT/metrics.csv" "unlabelled samples counted"
expect_grep "^$K,sex:genuine_excluded,2$" "$OUT/metrics.csv" "genuine trials excluded"
expect_grep "^$K,sex:impostor_excluded,3$" "$OUT/metrics.csv" "impostor trials excluded"
expect_grep "^$K,sex=F:samples,3$" "$OUT/metrics.csv" "F samples"
expect_grep "^$K,sex=F:genuine,1$" "$OUT/metrics.csv" "F genuine trials"
expect_grep "^$K,sex=M:genuine,1$" "$OUT/metrics.csv" "M genuine trials"
expect_grep "^$K,sex=F\+F:impostor,2$" "$OUT/metrics.csv" "F+F impostor trials"
expect_grep "^$K,sex=F\+M:impostor,6$" "$OUT/metrics.csv" "F+M impostor trials"
grep -q 'sex=M+M:impostor\|sex=M+F' "$OUT/metrics.csv" && not_ok "a pair without trials, or M+F, written" || ok
expect_grep "^$K,sex=F\+M:fmr@threshold_ci_high,[0-9.e-]+$" "$OUT/metrics.csv" "interval of a pair's FMR"
expect_grep "^$K,sex:fnmr_ratio@threshold_ci_high," "$OUT/metrics.csv" "ratio bound"
expect_grep '^## Demographic differentials' "$OUT/report.md" "report.md section"
expect_grep '^\| threshold \| 0.6 \| FMR \| F–M \| 6 \|' "$OUT/report.md" "report.md table row"
expect_grep 'id="demographics"' "$OUT/report.html" "report.html section"
expect_grep 'attributes,.*sex.csv' "$OUT/provenance.csv" "attributes file in provenance"

# the section comes back the same from the folder alone
sed -n '/^## Demographic/,/^## Per combination/p' "$OUT/report.md" > "$CLI_TMP/a.md"
expect_exit 0 "report from the folder" -- $VB report --results "$OUT"
sed -n '/^## Demographic/,/^## Per combination/p' "$OUT/report.md" > "$CLI_TMP/b.md"
if [ -s "$CLI_TMP/a.md" ] && cmp -s "$CLI_TMP/a.md" "$CLI_TMP/b.md"; then ok; else not_ok "demographic section differs from the folder"; fi

# gates on the rows
printf 'metric,scope,op,limit,bound\nsex=F+M:impostor,*,>=,6,value\nsex=F+M:fmr@threshold,*,<=,1,upper\n' > "$CLI_TMP/pass.csv"
expect_exit 0 "passing gate on demographic rows" -- $VB gate --results "$OUT" --spec "$CLI_TMP/pass.csv"
printf 'metric,scope,op,limit,bound\nsex:fnmr_ratio@threshold,*,<=,0,upper\n' > "$CLI_TMP/fail.csv"
expect_exit 1 "failing gate on a ratio's upper bound" -- $VB gate --results "$OUT" --spec "$CLI_TMP/fail.csv"
printf 'metric,scope,op,limit,bound\nsex=M+F:fmr@threshold,*,<=,1,upper\n' > "$CLI_TMP/bad.csv"
expect_exit 2 "a pair named out of order is no metric" -- $VB gate --results "$OUT" --spec "$CLI_TMP/bad.csv"

# bad attribute files: exit 3 naming the file
printf 'sample,sex\nAi_Sugiyama_1,F:M\n' > "$D/bad.csv"
expect_exit 3 "bad attribute value" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --attributes "$D/bad.csv" --quiet --out "$CLI_TMP/r2"
expect_grep 'bad.csv:2' "$CLI_TMP/err" "message names file and line"
expect_exit 3 "missing attribute file" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --attributes "$D/none.csv" --quiet --out "$CLI_TMP/r3"
expect_grep 'none.csv' "$CLI_TMP/err" "message names the file"
cli_finish
