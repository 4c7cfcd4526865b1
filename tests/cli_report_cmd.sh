#!/bin/sh
# veribench report --results DIR: report.md and report.html re-rendered from the folder
# alone. On a tiny run (fp32 and int8, one sample failing to acquire): report.md is
# identical to the one `run` wrote except for the lines a folder cannot reproduce (the
# "Generated" time, and the "embedded now N, resumed N" counts of each combination's Device
# line, which the folder does not keep); report.html likewise except "Generated" and the
# per-layer milliseconds (latency.csv keeps 6 significant digits, the run rounded its exact
# sums). --gate puts PASS/FAIL first and exits 0/1; a bad spec exits 2; a folder without
# metrics.csv exits 3; a moved folder still finds its chips and plots.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Dean_Barker:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n"
    done
    printf 'Missing_1,Dean_Barker,%s/does-not-exist.jpg\n' "$D"
} > "$D/manifest.csv"
OUT="$CLI_TMP/results"
expect_exit 0 "tiny run" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 --quant fp32,int8 --quiet --out "$OUT"
cp "$OUT/report.md" "$CLI_TMP/run.md"
cp "$OUT/report.html" "$CLI_TMP/run.html"

# Same report from the folder; only the documented lines may differ.
expect_exit 0 "report from the folder" -- $VB report --results "$OUT"
strip_md() { sed -e 's/^Generated [^)]*)/Generated <time>)/' -e 's/embedded now [0-9]*, resumed [0-9]*, //' "$1"; }
strip_html() {
    sed -e 's/Generated [0-9-]* [0-9:]* UTC/Generated <time>/' \
        -e 's|^\(<tr><td><code>[^<]*</code></td><td class=n>\)[0-9.]*</td></tr>$|\1<ms></td></tr>|' "$1"
}
strip_md "$CLI_TMP/run.md" > "$CLI_TMP/a.md"
strip_md "$OUT/report.md" > "$CLI_TMP/b.md"
if diff "$CLI_TMP/a.md" "$CLI_TMP/b.md" >"$CLI_TMP/diff"; then ok; else not_ok "report.md differs:"; head -20 "$CLI_TMP/diff" >&2; fi
strip_html "$CLI_TMP/run.html" > "$CLI_TMP/a.html"
strip_html "$OUT/report.html" > "$CLI_TMP/b.html"
if diff "$CLI_TMP/a.html" "$CLI_TMP/b.html" >"$CLI_TMP/diff"; then ok; else not_ok "report.html differs:"; head -20 "$CLI_TMP/diff" >&2; fi
# the diff must not be vacuous: the headline numbers and sections are there
expect_grep '^## Summary' "$OUT/report.md" "summary section"
expect_grep '^## Failures to acquire' "$OUT/report.md" "failures section"
expect_grep '^## Quantization' "$OUT/report.md" "quantization section (int8 against fp32)"
expect_grep '^\| `cpu-[^`]*-int8` \| [0-9]+ \| [0-9.]+ \| [0-9.]+% \| [-+][0-9.]+ pp' "$OUT/report.md" "int8 row with its change against fp32"
expect_grep '`Missing_1`' "$OUT/report.md" "the failed sample listed"
expect_grep '^\| `cpu-[^`]*-fp32` \| [0-9.]+%' "$OUT/report.md" "summary row with the EER"
expect_grep '`eer` \| [0-9.e-]+ \|' "$OUT/report.md" "all-metrics table lists eer"
expect_grep '<code>layer|per layer' "$OUT/report.html" "per-layer latency from latency.csv"

# Gate: a passing and a failing spec; the verdict comes before the summary.
printf 'metric,scope,op,limit\neer,*,<=,1\n' > "$CLI_TMP/pass.csv"
printf 'metric,scope,op,limit\neer,*,<,0\n' > "$CLI_TMP/fail.csv"
expect_exit 0 "passing gate" -- $VB report --results "$OUT" --gate "$CLI_TMP/pass.csv"
expect_grep 'gate PASS' "$CLI_TMP/out" "stdout says PASS"
first=$(grep -n -m1 '^## ' "$OUT/report.md")
case "$first" in *"## Verdict: PASS"*) ok ;; *) not_ok "first section of report.md is '$first', not the PASS verdict" ;; esac
expect_grep '<b>Verdict: PASS</b>' "$OUT/report.html" "PASS verdict in report.html"
grep -q 'Verdict:</b> not evaluated' "$OUT/report.html" && not_ok "placeholder verdict left in report.html" || ok
expect_exit 1 "failing gate" -- $VB report --results "$OUT" --gate "$CLI_TMP/fail.csv"
first=$(grep -n -m1 '^## ' "$OUT/report.md")
case "$first" in *"## Verdict: FAIL"*) ok ;; *) not_ok "first section of report.md is '$first', not the FAIL verdict" ;; esac
expect_grep '<b>Verdict: FAIL</b>' "$OUT/report.html" "FAIL verdict in report.html"
vpos=$(grep -n -m1 'id="verdict"' "$OUT/report.html" | cut -d: -f1)
spos=$(grep -n -m1 '<table><tr><th>combination</th><th>EER' "$OUT/report.html" | cut -d: -f1)
[ -n "$vpos" ] && [ -n "$spos" ] && [ "$vpos" -lt "$spos" ] && ok || not_ok "verdict ($vpos) not before the summary table ($spos)"
# a regression rule against a baseline folder (the run itself: no increase)
printf 'metric,scope,op,limit\neer,*,max_increase,0\n' > "$CLI_TMP/regress.csv"
cp -r "$OUT" "$CLI_TMP/baseline"
expect_exit 0 "regression gate against a baseline" -- $VB report --results "$OUT" --gate "$CLI_TMP/regress.csv" --baseline "$CLI_TMP/baseline"
expect_grep '<td>max_increase</td>' "$OUT/report.html" "the regression check in the verdict table"
expect_exit 2 "regression rule without --baseline" -- $VB report --results "$OUT" --gate "$CLI_TMP/regress.csv"
printf 'metric,scope,op,limit\nno_such_metric,*,<=,1\n' > "$CLI_TMP/bad.csv"
expect_exit 2 "unknown metric in the spec" -- $VB report --results "$OUT" --gate "$CLI_TMP/bad.csv"
expect_exit 2 "missing --results" -- $VB report
expect_exit 2 "--baseline without --gate" -- $VB report --results "$OUT" --baseline "$OUT"

# A moved folder renders, chips and plots found relative to it.
MOVED="$CLI_TMP/elsewhere/moved results"
mkdir -p "$CLI_TMP/elsewhere"
mv "$OUT" "$MOVED"
expect_exit 0 "report on a moved folder" -- $VB report --results "$MOVED"
chips=$(grep -o 'class="chip" alt="[^"]*" src="data:image/png;base64,' "$MOVED/report.html" | wc -l)
[ "$chips" -ge 2 ] && ok || not_ok "expected inlined face chips after the move, found $chips"
grep -q 'image not available' "$MOVED/report.html" && not_ok "a chip or plot not found after the move" || ok
if command -v gnuplot >/dev/null 2>&1; then
    expect_grep 'class="plot" alt="DET curves' "$MOVED/report.html" "DET plot inlined after the move"
    expect_grep '^!\[DET curves\]\(plots/det.png\)' "$MOVED/report.md" "report.md links the DET plot"
fi

# Unreadable folders: exit 3, the file named.
rm "$MOVED/metrics.csv"
expect_exit 3 "folder without metrics.csv" -- $VB report --results "$MOVED"
expect_grep 'metrics.csv' "$CLI_TMP/err" "the error names metrics.csv"
expect_exit 3 "no such folder" -- $VB report --results "$CLI_TMP/nowhere"
cli_finish
