#!/bin/sh
# Confidence intervals, subject bootstrap and calibration through the command line: the
# interval rows in metrics.csv and provenance.csv, `veribench metrics` reproducing every row
# it prints, the bootstrap's determinism and switch, --confidence, and --target-fmr with
# --calibration-folds on a trials file with two folds.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
set -- Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Akhmed_Zakayev:3 \
       Amber_Tamblyn:1 Amber_Tamblyn:2 Dean_Barker:1 Mikhail_Gorbachev:1 Portia_de_Rossi:1
{
    echo "sample,subject,path"
    for p in "$@"; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s\n' "$name" "$n" "$name" "$(printf '%s/%s/%s_%04d.jpg' "$LFW" "$name" "$name" "$n")"
    done
} > "$D/manifest.csv"
# Every pair, alternating folds 1 and 2 (45 trials).
{
    echo "a,b,label,fold"
    i=0
    for p in "$@"; do
        seen=0
        for q in "$@"; do
            [ "$q" = "$p" ] && { seen=1; continue; }
            [ $seen -eq 1 ] || continue
            label=0; [ "${p%:*}" = "${q%:*}" ] && label=1
            printf '%s_%d,%s_%d,%d,%d\n' "${p%:*}" "${p#*:}" "${q%:*}" "${q#*:}" $label $((i % 2 + 1))
            i=$((i + 1))
        done
    done
} > "$D/trials.csv"
RUN="$VB run --model $M --dataset csv:$D/manifest.csv --crop 70,70,180,180 --quiet --no-plots"
OUT="$CLI_TMP/out1"

expect_exit 0 "run with intervals" -- $RUN --out "$OUT"
for row in confidence,0.95 fmr@threshold_ci_high fnmr@threshold_ci_low fnmr@threshold_wilson_high \
           fnmr@threshold_boot_low fnmr@threshold_boot_high fnmr@fmr=1e-1_ci_high fnmr@fmr=1e-1_fmr_ci_high \
           fnmr@fmr=1e-1_boot_high bootstrap_replicates,1000 bootstrap_seed,1 bootstrap_subjects,6; do
    expect_grep ",$row" "$OUT/metrics.csv" "run writes $row"
done
expect_grep '^run,bootstrap_seed,1$' "$OUT/provenance.csv" "provenance: seed"
expect_grep '^run,bootstrap_replicates,1000$' "$OUT/provenance.csv" "provenance: replicates"
expect_grep '^run,bootstrap_method,aggregated$' "$OUT/provenance.csv" "provenance: the method behind the intervals"
expect_grep '^run,random_seed,1$' "$OUT/provenance.csv" "provenance: the run draws from seed 1"
expect_grep 'FNMR@FMR=1e-3 \|' "$OUT/report.md" "report summary"
expect_grep '% \[[0-9.e-]+, [0-9.e-]+\] /' "$OUT/report.md" "report shows the FMR interval next to the rate"
expect_grep 'Clopper-Pearson' "$OUT/report.md" "report names the interval"
expect_grep 'Subject bootstrap: 1000 replicates over 6 subjects, seed 1, method: aggregated' "$OUT/report.md" \
    "report says how the bootstrap intervals were made"
# The interval block comes after every earlier row.
first_new=$(grep -n ',confidence,' "$OUT/metrics.csv" | head -n 1 | cut -d: -f1)
last_old=$(grep -n -v -e '_ci_' -e '_wilson_' -e '_boot_' -e ',bootstrap_' -e ',confidence,' "$OUT/metrics.csv" | tail -n 1 | cut -d: -f1)
[ -n "$first_new" ] && [ "$first_new" -gt "$last_old" ] && ok || not_ok "interval rows are not after the old rows"

# Every row `veribench metrics` prints from the score file (the engine's and the intervals)
# is in metrics.csv with the same value.
S=$(ls "$OUT"/scores/cpu-*-fp32.vbs)
expect_exit 0 "metrics from the score file" -- $VB metrics --scores "$S" --distance
tail -n +2 "$CLI_TMP/out" > "$CLI_TMP/metrics_rows"
n=0 bad=0
while IFS= read -r line; do
    n=$((n + 1))
    grep -q -F ",$line" "$OUT/metrics.csv" || { bad=$((bad + 1)); echo "    missing: $line" >&2; }
done < "$CLI_TMP/metrics_rows"
[ "$n" -gt 100 ] && [ "$bad" -eq 0 ] && ok || not_ok "metrics --scores: $bad of $n rows differ from the run"
expect_grep '^fnmr@fmr=1e-3_ci_high,' "$CLI_TMP/out" "metrics prints the intervals"
grep -q '_boot_' "$CLI_TMP/out" && not_ok "metrics has no subjects, yet printed bootstrap rows" || ok

# The bootstrap does not depend on the thread count; --bootstrap 0 turns it off.
cp "$OUT/metrics.csv" "$CLI_TMP/m1"
expect_exit 0 "run on one thread" -- $RUN --out "$CLI_TMP/out3" --threads 1
grep '_boot_' "$CLI_TMP/m1" > "$CLI_TMP/b1"
grep '_boot_' "$CLI_TMP/out3/metrics.csv" > "$CLI_TMP/b2"
[ -s "$CLI_TMP/b1" ] && cmp -s "$CLI_TMP/b1" "$CLI_TMP/b2" && ok || not_ok "bootstrap changed with the thread count"
expect_exit 0 "no bootstrap" -- $RUN --out "$OUT" --bootstrap 0
grep -q -e '_boot_' -e ',bootstrap_' "$OUT/metrics.csv" && not_ok "--bootstrap 0 still wrote bootstrap rows" || ok
expect_grep '^run,random_seed,none' "$OUT/provenance.csv" "no bootstrap: nothing random"
grep -v -e '_boot_' -e ',bootstrap_' "$CLI_TMP/m1" | grep -v -e ',faces_per_s,' -e ',ms_per_face,' > "$CLI_TMP/m1b"
grep -v -e ',faces_per_s,' -e ',ms_per_face,' "$OUT/metrics.csv" > "$CLI_TMP/m0"
cmp -s "$CLI_TMP/m1b" "$CLI_TMP/m0" && ok || not_ok "--bootstrap 0 changed other rows"

# --confidence: a lower level gives a narrower interval; out of range is a usage error.
B="tests/data/metrics/dev-4col.txt"
hi95=$($VB metrics --format bob4 --scores "$B" | grep '^fnmr@fmr=1e-1_ci_high,' | cut -d, -f2)
hi80=$($VB metrics --format bob4 --scores "$B" --confidence 0.8 | grep '^fnmr@fmr=1e-1_ci_high,' | cut -d, -f2)
awk -v a="$hi80" -v b="$hi95" 'BEGIN { exit !(a > 0 && a < b) }' && ok || not_ok "80% upper $hi80 not below 95% $hi95"
expect_exit 2 "confidence 1.5" -- $VB metrics --format bob4 --scores "$B" --confidence 1.5
expect_exit 2 "run --confidence 0" -- $RUN --out "$OUT" --confidence 0
expect_exit 0 "metrics --help" -- $VB metrics --help
expect_grep 'no subjects' "$CLI_TMP/out" "metrics help says why there is no bootstrap"

# Calibration: threshold on fold 1, rates on fold 2.
expect_exit 2 "--target-fmr alone" -- $RUN --out "$CLI_TMP/out2" --target-fmr 0.1
expect_exit 2 "no folds to calibrate on" -- $RUN --out "$OUT" --target-fmr 0.1 --calibration-folds 1
expect_grep 'has no folds' "$CLI_TMP/err" "says the dataset has no folds"
expect_exit 2 "bad fold list" -- $RUN --trials "$D/trials.csv" --out "$CLI_TMP/out2" --target-fmr 0.1 --calibration-folds 2-1
[ ! -e "$CLI_TMP/out2" ] && ok || not_ok "bad fold list found only after the results folder was made"
OUT2="$CLI_TMP/out2"
expect_exit 0 "calibrated run" -- $RUN --trials "$D/trials.csv" --out "$OUT2" --target-fmr 0.1 --calibration-folds 1
for row in calibrated_target_fmr,0.1 calibrated_threshold, calibrated_fmr, calibrated_fnmr, calibrated_fmr_ci_high, \
           calibrated_fnmr_ci_high, calibrated_fnmr_wilson_low, calibrated_calibration_fmr,; do
    expect_grep ",$row" "$OUT2/metrics.csv" "calibrated run writes $row"
done
ev=$(awk -F, 'NR > 1 && $4 == 2' "$D/trials.csv" | wc -l)
g=$(grep ',calibrated_genuine,' "$OUT2/metrics.csv" | cut -d, -f6)
i=$(grep ',calibrated_impostor,' "$OUT2/metrics.csv" | cut -d, -f6)
[ $((g + i)) -eq "$ev" ] && ok || not_ok "evaluation split: $g + $i trials, fold 2 has $ev"
expect_grep 'Calibrated operating point' "$OUT2/report.md" "report shows the calibrated point"
# The calibrated rates' subject bootstrap, over the evaluation split, in the report and read
# back by `veribench report --results`.
for row in calibrated_fmr_boot_low calibrated_fmr_boot_high calibrated_fnmr_boot_low calibrated_fnmr_boot_high; do
    expect_grep ",$row," "$OUT2/metrics.csv" "calibrated run writes $row"
done
expect_grep 'FMR bootstrap \| FNMR \(evaluation\) \| FNMR bootstrap' "$OUT2/report.md" "report.md has the calibrated bootstrap"
grep '^| `[^`]*` | 0.1 | .*\]% |$' "$OUT2/report.md" > "$CLI_TMP/cal_row1"
expect_exit 0 "report from the calibrated results" -- $VB report --results "$OUT2"
grep '^| `[^`]*` | 0.1 | .*\]% |$' "$OUT2/report.md" > "$CLI_TMP/cal_row2"
[ -s "$CLI_TMP/cal_row1" ] && cmp -s "$CLI_TMP/cal_row1" "$CLI_TMP/cal_row2" && ok ||
    not_ok "report --results: calibrated row '$(cat "$CLI_TMP/cal_row2")' (run wrote '$(cat "$CLI_TMP/cal_row1")')"
expect_grep 'calibrated FNMR \(evaluation\)</th>' "$OUT2/report.html" "report.html has the calibrated bootstrap"
# Ten folds, the first five calibrate: the rows are there and each interval is ordered.
awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { $4 = (NR - 2) % 10 + 1; print }' "$D/trials.csv" > "$D/trials10.csv"
expect_exit 0 "calibrated on folds 1-5" -- $RUN --trials "$D/trials10.csv" --out "$CLI_TMP/out4" --target-fmr 1e-2 \
    --calibration-folds 1-5
for r in calibrated_fmr calibrated_fnmr; do
    lo=$(grep ",${r}_boot_low," "$CLI_TMP/out4/metrics.csv" | cut -d, -f6)
    hi=$(grep ",${r}_boot_high," "$CLI_TMP/out4/metrics.csv" | cut -d, -f6)
    awk -v a="$lo" -v b="$hi" 'BEGIN { exit !(a != "" && b != "" && a + 0 <= b + 0 && b + 0 <= 1) }' && ok ||
        not_ok "folds 1-5: $r bootstrap [$lo, $hi]"
done
expect_grep '^run,calibration_folds,1$' "$OUT2/provenance.csv" "provenance: calibration folds"
# The same threshold from a trials file holding fold 1's trials: the same calibrated point,
# evaluated on every trial of the dataset instead.
awk -F, 'NR == 1 || $4 == 1' "$D/trials.csv" > "$D/cal.csv"
expect_exit 2 "both calibration sources" -- $RUN --out "$OUT" --target-fmr 0.1 --calibration-folds 1 --calibration-trials "$D/cal.csv"
expect_exit 0 "calibration trials file" -- $RUN --out "$OUT" --target-fmr 0.1 --calibration-trials "$D/cal.csv"
t1=$(grep ',calibrated_threshold,' "$OUT2/metrics.csv" | cut -d, -f6)
t2=$(grep ',calibrated_threshold,' "$OUT/metrics.csv" | cut -d, -f6)
[ -n "$t1" ] && [ "$t1" = "$t2" ] && ok || not_ok "threshold from folds '$t1', from the trials file '$t2'"
g=$(grep ',calibrated_genuine,' "$OUT/metrics.csv" | cut -d, -f6)
i=$(grep ',calibrated_impostor,' "$OUT/metrics.csv" | cut -d, -f6)
[ $((g + i)) -eq 45 ] && ok || not_ok "evaluated on $g + $i trials, the dataset has 45"
expect_grep '^run,calibration_trials,' "$OUT/provenance.csv" "provenance: calibration trials"
printf 'a,b,label\nAbel_Pacheco_1,Nobody_1,0\n' > "$D/badcal.csv"
expect_exit 3 "calibration trials name an unknown sample" -- $RUN --out "$OUT" --target-fmr 0.1 --calibration-trials "$D/badcal.csv"

cli_finish
