#!/bin/sh
# veribench run re-run on a damaged results folder (issue 10 items 4, 5 and 11): lost
# timing, a score file changed behind its .progress record, and a folder another
# veribench holds. A 4-image CSV manifest keeps each run to a second or two.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n"
    done
} > "$D/manifest.csv"
OUT="$CLI_TMP/results"
RUN="$VB run --model $M --dataset csv:$D/manifest.csv --crop 70,70,180,180 --no-plots --scores-csv --out $OUT"

expect_exit 0 "first run" -- $RUN
S=$(ls "$OUT"/scores/*.csv.gz 2>/dev/null)
T=$(ls "$OUT"/templates/*.bin 2>/dev/null)
if [ ! -f "$S" ] || [ ! -f "$T" ]; then
    not_ok "first run left no score or template file: nothing to damage"
    cli_finish
    exit 1
fi
expect_grep ',faces_per_s,' "$OUT/metrics.csv" "first run measures throughput"

# issue 10 item 4: the saved timing deleted (and a stale .timing.tmp from a full disk):
# the re-run measures throughput again instead of dropping it, and leaves no .tmp file.
rm -f "$OUT"/templates/*.timing
echo "torn" > "${T%.bin}.timing.tmp"
expect_exit 0 "re-run without timing" -- $RUN
expect_grep 'saved timing .* missing or unreadable; re-embedding 4 samples' "$CLI_TMP/err" "says timing is re-measured"
expect_grep ',faces_per_s,' "$OUT/metrics.csv" "throughput back in metrics.csv"
[ "$(wc -l < "$OUT/latency.csv")" -gt 2 ] && ok || not_ok "latency.csv has no rows"
grep -q 'n/a' "$OUT/report.md" && not_ok "report still says n/a: $(grep n/a "$OUT/report.md" | head -n 2)" || ok
[ -z "$(find "$OUT" -name '*.tmp')" ] && ok || not_ok ".tmp left: $(find "$OUT" -name '*.tmp')"
# A torn timing file counts as lost too.
for t in "$OUT"/templates/*.timing; do head -c 20 "$t" > "$t.cut" && mv "$t.cut" "$t"; done
expect_exit 0 "re-run with torn timing" -- $RUN
expect_grep 'missing or unreadable' "$CLI_TMP/err" "torn timing re-measured"
expect_grep ',faces_per_s,' "$OUT/metrics.csv" "throughput after torn timing"

# issue 10 item 5: a score file cut short, or changed at the same size, no longer matches
# the size and SHA-256 its .progress records: written again (with a message), not kept.
cp "$OUT/metrics.csv" "$CLI_TMP/metrics.csv"
size=$(wc -c < "$S")
head -c $((size / 2)) "$S" > "$S.cut" && mv "$S.cut" "$S"
expect_exit 0 "re-run with truncated scores" -- $RUN
expect_grep 'not resumed, it holds' "$CLI_TMP/err" "says the score file is rewritten"
[ "$(wc -c < "$S")" -eq "$size" ] && ok || not_ok "score file not rewritten to $size bytes"
expect_exit 0 "metrics on the rewritten scores" -- $VB metrics --scores "$S" --distance
a=$(grep ',eer,' "$OUT/metrics.csv" | cut -d, -f6) b=$(grep '^eer,' "$CLI_TMP/out" | cut -d, -f2)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || not_ok "eer: run '$a', metrics '$b'"
printf 'X' | dd of="$S" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_exit 0 "re-run with altered scores" -- $RUN
expect_grep 'not resumed, the SHA-256' "$CLI_TMP/err" "altered score file detected"
expect_exit 0 "metrics on the rewritten scores" -- $VB metrics --scores "$S" --distance

# issue 10 item 11: a folder whose lock another process holds is refused, exit 5, naming
# the folder; nothing in it changes.
cp "$OUT/metrics.csv" "$CLI_TMP/metrics.csv"
expect_exit 5 "folder locked by another process" -- flock -n "$OUT/.lock" $RUN
expect_grep "$OUT: results folder in use: another veribench holds its lock" "$CLI_TMP/err" "names folder and holder"
cmp -s "$OUT/metrics.csv" "$CLI_TMP/metrics.csv" && ok || not_ok "locked folder was written"
expect_exit 0 "lock released after the other process ends" -- $RUN

cli_finish
