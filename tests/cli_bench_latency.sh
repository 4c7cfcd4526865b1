#!/bin/sh
# bench-latency, history and compare on a tiny dataset (5 LFW images, 10 all-pairs trials).
# No timing is asserted: only counts, rules, verdicts, files and exit codes.
# - bench-latency: a run stopped by --max-queries is INVALID (exit 1) naming each failed rule
#   (min_query_count, early_stopping p99); every query is in the queries file with warm-up
#   rows marked; --per-layer writes one row per graph node; offline takes at least
#   --min-samples; history rows carry the verdict; bad options exit 2, a bad dataset 3.
# - history: lists and filters, refuses a malformed file naming its line (3), no match = 2.
# - compare: a run and a copy of it "from another host" agree (exit 0); the copy with one
#   trial's score moved across the threshold is flagged with exactly 1 flip (exit 1);
#   without score files the counts give the bound; a folder without results exits 3.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
H="$CLI_TMP/history"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Dean_Barker:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n"
    done
} > "$D/manifest.csv"
SET="--model $M --dataset csv:$D/manifest.csv --crop 70,70,180,180 --quiet"

# ---- help and usage errors
expect_exit 0 "bench-latency --help" -- $VB bench-latency --help
expect_grep "early.stopping" "$CLI_TMP/out" "help names the early-stopping rule"
expect_grep "min-queries" "$CLI_TMP/out" "help lists --min-queries"
expect_exit 0 "compare --help" -- $VB compare --help
expect_exit 0 "history --help" -- $VB history --help
expect_exit 2 "two levels" -- $VB bench-latency $SET --quant fp32,int8 --no-history
expect_exit 2 "--min-queries 0" -- $VB bench-latency $SET --min-queries 0 --no-history
expect_exit 2 "--history with --no-history" -- $VB bench-latency $SET --history "$H" --no-history
expect_exit 3 "missing dataset" -- $VB bench-latency --model "$M" --dataset "csv:$D/nope.csv" --no-history

# ---- a short single-stream run: INVALID, the failed rules named
OUT="$CLI_TMP/bl"
expect_exit 1 "single-stream stopped early is INVALID" -- $VB bench-latency $SET --scenario single-stream \
    --min-queries 20 --min-duration 0 --max-queries 12 --warmup 2 --per-layer --out "$OUT" --history "$H"
expect_grep '^cpu,[^,]*,fp32,csv:[^,]*,single-stream,valid,0$' "$CLI_TMP/out" "valid row is 0"
expect_grep '^cpu,[^,]*,fp32,csv:[^,]*,single-stream,queries,12$' "$CLI_TMP/out" "12 timed queries"
expect_grep 'single_stream_verdict,.*min_query_count \(12 queries < 20\)' "$OUT/bench-latency-provenance.csv" \
    "verdict names min_query_count"
expect_grep 'early_stopping p99 \(12 queries < 662' "$OUT/bench-latency-provenance.csv" "verdict names early stopping p99"
expect_grep 'early_stopping p90 \(12 queries < 64' "$OUT/bench-latency-provenance.csv" "verdict names early stopping p90"
cmp -s "$CLI_TMP/out" "$OUT/bench-latency.csv" && ok || not_ok "stdout and bench-latency.csv differ"
n_warm=$(awk -F, 'NR > 1 && $2 == 1' "$OUT/bench-latency-queries.csv" | wc -l)
n_timed=$(awk -F, 'NR > 1 && $2 == 0' "$OUT/bench-latency-queries.csv" | wc -l)
[ "$n_warm" -eq 2 ] && [ "$n_timed" -eq 12 ] && ok || not_ok "queries file: $n_warm warm-up, $n_timed timed rows"
expect_grep 'single-stream,warmup_queries,2$' "$OUT/bench-latency.csv" "warm-up recorded"
# every query's total covers its stages
awk -F, 'NR > 1 && $11 + 1e-3 < $7 + $8 + $9 + $10 { bad = 1 } END { exit bad }' "$OUT/bench-latency-queries.csv" \
    && ok || not_ok "a query's total is below the sum of its stages"
nodes=$(awk -F, 'NR > 1 && $1 == "single-stream"' "$OUT/bench-latency-layers.csv" | wc -l)
[ "$nodes" -gt 20 ] && ok || not_ok "per-layer rows: $nodes"
expect_grep '^single-stream,[0-9]+,[^,]+,12,' "$OUT/bench-latency-layers.csv" "per-layer calls = timed queries"
expect_grep '## Single-stream: INVALID' "$OUT/bench-latency.md" "markdown verdict"

# ---- offline (and --template): sizes, probes, history
OUT2="$CLI_TMP/bl2"
expect_exit 1 "both scenarios, short" -- $VB bench-latency $SET --template --min-queries 3 --min-duration 0 \
    --max-queries 3 --min-samples 6 --batch 1,2 --warmup 1 --out "$OUT2" --history "$H"
samples=$(awk -F, '$5 == "offline" && $6 == "samples" {print $7}' "$OUT2/bench-latency.csv")
[ -n "$samples" ] && [ "$samples" -ge 6 ] && ok || not_ok "offline samples '$samples' < --min-samples 6"
expect_grep ',offline,valid,1$' "$OUT2/bench-latency.csv" "offline meets 6 samples and 0 s"
expect_grep ',offline,probe_batch_2_samples_per_s,' "$OUT2/bench-latency.csv" "probe per batch size"
expect_grep ',single-stream,images_per_query,1$' "$OUT2/bench-latency.csv" "template: one image per query"
rows=$(awk -F, 'NR > 1' "$H/history.csv" | wc -l)
[ "$rows" -gt 40 ] && ok || not_ok "history rows: $rows"
expect_grep '^[0-9T:-]+Z,bench-latency,.*,single-stream,2,p99_ms,[0-9.e+-]+,INVALID: min_query_count' "$H/history.csv" \
    "history row with its verdict"

# every metric of a run is in the history under its own name, once
for m in p50_ms stage_decode_p50_ms stage_describe_mean_ms probe_batch_2_samples_per_s; do
    c=$(grep -c ",$m," "$H/history.csv")
    [ "$c" -ge 1 ] && ok || not_ok "history: metric $m in $c rows"
done
[ "$(grep -c ',stage_compare_mean_ms,' "$H/history.csv")" -eq 2 ] && ok || not_ok "history: stage rows repeated or lost"

# ---- bench appends too
expect_exit 0 "bench" -- $VB bench --model "$M" --seconds 0 --history "$H"
expect_grep ',bench,.*,cpu,.*,fp32,,bench,1,faces_per_s,' "$H/history.csv" "bench rows in the history"

# ---- history
expect_exit 0 "history" -- $VB history "$H" --metric p99_ms --scenario single-stream
[ "$(wc -l < "$CLI_TMP/out")" -eq 3 ] && ok || not_ok "history filter: $(wc -l < "$CLI_TMP/out") lines, expected header + 2"
expect_exit 0 "history md" -- $VB history "$H" --command bench --format md
expect_grep '^\| time_utc \|' "$CLI_TMP/out" "markdown header"
expect_exit 2 "history: nothing matches" -- $VB history "$H" --metric nosuch
expect_exit 2 "history: two folders" -- $VB history "$H" "$H"
mkdir -p "$CLI_TMP/badh"
{ head -n 2 "$H/history.csv"; echo "2026-13-45T00:00:00Z,bench,x,x,cpu,d,d,d,fp32,,bench,1,p99_ms,1,,c,s,m,l"; } > "$CLI_TMP/badh/history.csv"
expect_exit 3 "history: bad time" -- $VB history "$CLI_TMP/badh"
expect_grep 'history.csv:3: time_utc' "$CLI_TMP/err" "names the line"
if [ -n "$(command -v gnuplot)" ] && [ "${VB_GNUPLOT-x}" != "" ]; then
    expect_exit 0 "history plot" -- $VB history "$H" --metric p99_ms --plot "$CLI_TMP/hist"
    [ -s "$CLI_TMP/hist.png" ] && [ -s "$CLI_TMP/hist.svg" ] && ok || not_ok "history plot files"
fi

# ---- compare
R="$CLI_TMP/run"
expect_exit 0 "tiny run" -- $VB run $SET --out "$R" --bootstrap 0 --scores-csv
cp "$OUT/bench-latency"* "$R/" # a folder with both: the rows join
cp -r "$R" "$CLI_TMP/other"
sed -i 's/^run,host,.*/run,host,other-machine/' "$CLI_TMP/other/provenance.csv"
expect_exit 0 "same scores on another host" -- $VB compare "$R" "$CLI_TMP/other" --out "$CLI_TMP/cmp"
[ "$(awk 'END {print NR}' "$CLI_TMP/out")" -eq 3 ] && ok || not_ok "compare: header + 2 rows"
expect_grep ',single_stream_p50_ms,single_stream_p99_ms,' "$CLI_TMP/out" "latency columns"
[ "$(grep -c ',1,$' "$CLI_TMP/out")" -eq 2 ] && ok || not_ok "both rows compared once, no flag"
expect_grep 'INVALID: min_query_count' "$CLI_TMP/out" "the run's row carries the bench-latency verdict"
# a query's score is the run's score of the same trial (same model, same distance)
gzip -dc "$R/scores/"*.csv.gz | awk -F, 'NR > 1 { print $1 "," $2 "," $4 }' | sort > "$CLI_TMP/run-scores"
awk -F, 'NR > 1 { print $3 "," $4 "," $6 }' "$OUT/bench-latency-queries.csv" | sort -u > "$CLI_TMP/bl-scores"
[ -s "$CLI_TMP/bl-scores" ] && [ -z "$(comm -13 "$CLI_TMP/run-scores" "$CLI_TMP/bl-scores")" ] && ok \
    || not_ok "bench-latency scores differ from run's: $(comm -13 "$CLI_TMP/run-scores" "$CLI_TMP/bl-scores" | head -3)"
[ -s "$CLI_TMP/cmp/compare.csv" ] && [ -s "$CLI_TMP/cmp/compare.md" ] && ok || not_ok "compare --out files"
# move one trial across the model's threshold (0.6) in the other folder's score file
f=$(ls "$CLI_TMP/other/scores/"*.csv.gz)
gzip -dc "$f" | awk -F, -v OFS=, 'NR == 2 { $4 = ($4 < 0.6) ? "0.900000000" : "0.100000000" } { print }' | gzip > "$f.new"
mv "$f.new" "$f"
rm -f "$f.progress" "$CLI_TMP/other/scores/"*.vbs # compare reads the .vbs first; here the edited CSV
expect_exit 1 "one flipped decision is flagged" -- $VB compare "$R" "$CLI_TMP/other"
expect_grep '1 decisions flip against cpu/[^ ]* on other-machine \(exact, trial by trial' "$CLI_TMP/out" "exact flip count"
expect_exit 0 "--max-flips 1 tolerates it" -- $VB compare "$R" "$CLI_TMP/other" --max-flips 1
# without score files: the bound from the counts at the threshold
rm -r "$CLI_TMP/other/scores"
awk -F, -v OFS=, '$5 == "false_matches@threshold" { $6 = $6 + 2 } { print }' "$R/metrics.csv" > "$CLI_TMP/other/metrics.csv"
expect_exit 1 "count difference flagged" -- $VB compare "$R" "$CLI_TMP/other" --format md
expect_grep '2 decisions flip .*at least, from the counts' "$CLI_TMP/out" "bound from the counts"
mkdir -p "$CLI_TMP/empty"
expect_exit 3 "compare: folder without results" -- $VB compare "$R" "$CLI_TMP/empty"
expect_grep 'empty: neither metrics.csv' "$CLI_TMP/err" "names the folder"
expect_exit 2 "compare: no folder" -- $VB compare
cli_finish
