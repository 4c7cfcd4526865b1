#!/bin/sh
# veribench metrics: bob.measure known answers through every input format, the dev/test
# threshold protocol, malformed inputs (exit 3 naming file and line), usage errors (2),
# plots, and the synthetic benchmark path.
. tests/cli_lib.sh
D=tests/data/metrics
T=$CLI_TMP

# ---- usage ----
expect_exit 0 "help" -- "$VB" metrics --help
expect_grep "^usage: veribench metrics" "$T/out" "help text"
expect_exit 2 "no arguments" -- "$VB" metrics
expect_exit 2 "unknown option" -- "$VB" metrics --scores "$D/dev-4col.txt" --bogus
expect_exit 2 "unknown format" -- "$VB" metrics --scores "$D/dev-4col.txt" --format xml
expect_exit 2 "pyeer without impostor file" -- "$VB" metrics --format pyeer --genuine "$D/dev-4col.txt"
expect_exit 2 "scores and pyeer files together" -- "$VB" metrics --scores a --genuine b --impostor c
expect_exit 2 "threshold not a number" -- "$VB" metrics --scores "$D/dev-4col.txt" --format bob4 --threshold abc
# issue 10 item 9: an infinite threshold would count +inf (failed-to-acquire) impostor
# distances as false matches; it is refused like nan, naming the option and the value
for t in inf -inf +inf nan; do
    expect_exit 2 "threshold $t refused" -- "$VB" metrics --scores "$D/dev-4col.txt" --format bob4 --threshold "$t"
    re=$(printf '%s' "$t" | sed 's/+/[+]/')
    expect_grep "^veribench metrics: --threshold '$re': expected a finite number" "$T/err" "threshold $t: message"
done
expect_exit 2 "stray argument" -- "$VB" metrics --scores "$D/dev-4col.txt" extra

# ---- bob.measure facts (docs/metrics.md): thresholds chosen on dev, applied to test ----
expect_exit 0 "bob4 dev" -- "$VB" metrics --format bob4 --scores "$D/dev-4col.txt"
cp "$T/out" "$T/dev.csv"
expect_grep "^metric,value$" "$T/dev.csv" "CSV header"
expect_grep "^genuine,390$" "$T/dev.csv" "390 genuine"
expect_grep "^impostor,520$" "$T/dev.csv" "520 impostor"
expect_grep "^eer_threshold,-0\.0048305$" "$T/dev.csv" "EER threshold -4.8305e-03"
expect_grep "^min_hter_threshold,0\.00343050*[0-9]?$" "$T/dev.csv" "min HTER threshold 3.4305e-03"
expect_grep "^fnmr@fmr=1e-3_rule_of_3,1$" "$T/dev.csv" "1e-3 is below 3/520"
expect_grep "^fnmr@fmr=1e-2_rule_of_3,0$" "$T/dev.csv" "1e-2 is measurable with 520"
eer_t=$(sed -n 's/^eer_threshold,//p' "$T/dev.csv")
hter_t=$(sed -n 's/^min_hter_threshold,//p' "$T/dev.csv")

check_counts() { # FILE THRESHOLD FM FNM DESC
    expect_exit 0 "$5" -- "$VB" metrics --format bob4 --scores "$1" --threshold "$2"
    expect_grep "^threshold_false_matches,$3$" "$T/out" "$5: $3 false matches"
    expect_grep "^threshold_false_nonmatches,$4$" "$T/out" "$5: $4 false non-matches"
}
check_counts "$D/dev-4col.txt" "$eer_t" 35 26 "dev at the EER threshold"
expect_grep "^threshold_fmr,0\.0673076923076923$" "$T/out" "FMR 35/520"
expect_grep "^threshold_fnmr,0\.0666666666666666[0-9]*$" "$T/out" "FNMR 26/390"
check_counts "$D/dev-4col.txt" "$hter_t" 22 31 "dev at the min-HTER threshold"
check_counts "$D/test-4col.txt" "$eer_t" 13 24 "test at dev's EER threshold"
check_counts "$D/test-4col.txt" "$hter_t" 9 30 "test at dev's min-HTER threshold"

# ---- the same scores through the other formats give the same numbers ----
awk 'BEGIN { print "a,b,label,score,fold" } { print $1 "," $2 "," ($1 == $2) "," $4 "," }' \
    "$D/dev-4col.txt" > "$T/dev.csv.in"
expect_exit 0 "csv" -- "$VB" metrics --scores "$T/dev.csv.in"
if cmp -s "$T/out" "$T/dev.csv"; then ok; else not_ok "csv and bob4 metrics differ"; fi
gzip -c "$T/dev.csv.in" > "$T/dev.csv.gz"
expect_exit 0 "csv.gz" -- "$VB" metrics --scores "$T/dev.csv.gz" --format csv
if cmp -s "$T/out" "$T/dev.csv"; then ok; else not_ok "csv.gz and bob4 metrics differ"; fi
awk '$1 == $2 { print $4 }' "$D/dev-4col.txt" > "$T/gen.txt"
awk '$1 != $2 { print $4 }' "$D/dev-4col.txt" > "$T/imp.txt"
expect_exit 0 "pyeer" -- "$VB" metrics --format pyeer --genuine "$T/gen.txt" --impostor "$T/imp.txt"
if cmp -s "$T/out" "$T/dev.csv"; then ok; else not_ok "pyeer and bob4 metrics differ"; fi
# distances: d = -s gives the same rates and thresholds printed as distances
awk 'BEGIN { print "label,score" } { print ($1 == $2) "," (-$4) }' "$D/dev-4col.txt" > "$T/dist.csv"
expect_exit 0 "distance" -- "$VB" metrics --scores "$T/dist.csv" --distance --threshold 0.0048305
expect_grep "^eer_threshold,0\.0048305$" "$T/out" "distance EER threshold"
expect_grep "^eer,0\.06698717948717949$" "$T/out" "distance EER = similarity EER"
expect_grep "^threshold_false_matches,35$" "$T/out" "distance threshold: 35 false matches"
# a fold column enables the 10-fold accuracy (10 folds of 91 trials)
awk 'BEGIN { print "label,score,fold" } { print ($1 == $2) "," $4 "," (NR % 10 + 1) }' \
    "$D/dev-4col.txt" > "$T/folds.csv"
expect_exit 0 "folds" -- "$VB" metrics --scores "$T/folds.csv"
expect_grep "^accuracy_10fold_mean,0\.9[0-9]*$" "$T/out" "10-fold accuracy"
expect_grep "^accuracy_10fold_folds,10$" "$T/out" "10 folds"
if [ -s "$T/err" ]; then not_ok "folds 1..10: unexpected note on stderr"; else ok; fi
# fold 0 means "in no fold" (datasets/dataset.h): folds 0..9 give 9 folds, and a note
awk 'BEGIN { print "label,score,fold" } { print ($1 == $2) "," $4 "," (NR % 10) }' \
    "$D/dev-4col.txt" > "$T/folds0.csv"
expect_exit 0 "folds from 0" -- "$VB" metrics --scores "$T/folds0.csv"
expect_grep "^accuracy_10fold_folds,9$" "$T/out" "fold 0 is no fold"
expect_grep "91 trials have fold 0 or none" "$T/err" "fold-0 trials are reported"
# quoted CSV fields and CRLF line ends are CSV, not errors
printf 'label,"score"\r\n1,"0.9"\r\n0,0.1\r\n1,0.7\r\n0,0.3\r\n' > "$T/quoted.csv"
expect_exit 0 "quoted CSV with CRLF" -- "$VB" metrics --scores "$T/quoted.csv"
expect_grep "^eer,0$" "$T/out" "separable quoted set"
# failures to acquire: -inf similarity is legal and counted
printf 'label,score\n1,0.9\n1,-inf\n0,0.1\n0,-inf\n0,0.2\n' > "$T/fta.csv"
expect_exit 0 "FTA scores" -- "$VB" metrics --scores "$T/fta.csv"
expect_grep "^fta_genuine,1$" "$T/out" "one genuine FTA"
expect_grep "^fta_impostor,1$" "$T/out" "one impostor FTA"

# an FTA impostor (+inf distance) is never a false match at any finite threshold
printf 'label,score\n1,0.2\n0,inf\n0,0.9\n' > "$T/dist_fta.csv"
expect_exit 0 "FTA impostor at a huge threshold" -- "$VB" metrics --scores "$T/dist_fta.csv" --distance --threshold 1e308
expect_grep "^threshold_false_matches,1$" "$T/out" "huge threshold: only the finite impostor matches"
expect_grep "^fta_impostor,1$" "$T/out" "huge threshold: one impostor FTA"

# ---- malformed input: exit 3, the message names file and line ----
bad() { # DESC FILE PATTERN [extra args]
    desc=$1 file=$2 pattern=$3
    shift 3
    expect_exit 3 "$desc" -- "$VB" metrics --scores "$file" "$@"
    expect_grep "$pattern" "$T/err" "$desc: message"
}
printf 'label,score\n1,0.5\n0,0.x\n' > "$T/badnum.csv"
bad "bad number" "$T/badnum.csv" "badnum.csv: line 3: .*not a number"
printf 'a,b,label\n1,2,1\n' > "$T/nocol.csv"
bad "missing score column" "$T/nocol.csv" "nocol.csv: line 1: header lacks a 'score' column"
printf 'score\n0.5\n' > "$T/nolabel.csv"
bad "missing label column" "$T/nolabel.csv" "lacks a 'label' column"
: > "$T/empty.csv"
bad "empty file" "$T/empty.csv" "empty.csv: empty file"
printf 'label,score\n' > "$T/header.csv"
bad "header only" "$T/header.csv" "no trials"
printf 'label,score\n1,0.5\n0,nan\n' > "$T/nan.csv"
bad "NaN score" "$T/nan.csv" "nan.csv: line 3: score is NaN"
printf 'label,score\n1,inf\n0,0.1\n' > "$T/inf.csv"
bad "+inf similarity" "$T/inf.csv" "inf.csv: line 2: .*accept at every threshold"
printf 'label,score\n1,0.2\n0,-inf\n' > "$T/ninf.csv"
bad "-inf distance" "$T/ninf.csv" "ninf.csv: line 3" --distance
awk 'BEGIN { printf "label,score\n1,1"; for (i = 0; i < 400; i++) printf "9"; printf "\n0,0\n" }' > "$T/huge.csv"
bad "score beyond double range" "$T/huge.csv" "huge.csv: line 2: .*out of the range of a double"
# issue 10 item 9: a header naming a column twice is an error, not "the last one wins"
printf 'label,label,score\n1,0,0.5\n0,1,0.1\n' > "$T/duplabel.csv"
bad "duplicate label column" "$T/duplabel.csv" "duplabel.csv: line 1: column 'label' appears twice in the header"
printf 'a,score,fold,score,label\n1,0.5,1,0.6,1\n' > "$T/dupscore.csv"
bad "duplicate score column" "$T/dupscore.csv" "dupscore.csv: line 1: column 'score' appears twice"
printf 'x,label,x,score\n1,1,2,0.5\n0,0,3,0.1\n' > "$T/dupother.csv"
bad "duplicate ignored column" "$T/dupother.csv" "dupother.csv: line 1: column 'x' appears twice"
printf 'label,score\n1,0.5\n0,0.1,7\n' > "$T/fields.csv"
bad "extra field" "$T/fields.csv" "fields.csv: line 3: 3 fields, the header has 2"
printf 'label,score\n1,0.5\nyes,0.1\n' > "$T/label.csv"
bad "bad label" "$T/label.csv" "label.csv: line 3: label 'yes'"
printf 'label,score,fold\n1,0.5,1\n0,0.1,x\n' > "$T/fold.csv"
bad "bad fold" "$T/fold.csv" "fold.csv: line 3: fold 'x'"
printf 'label,score\n1,0.5\n0,"0.1\n' > "$T/quote.csv"
bad "unterminated quote" "$T/quote.csv" "quote.csv: line 3"
printf 'label,score\n1,0.5\n1,0.6\n' > "$T/nogen.csv"
bad "no impostor trial" "$T/nogen.csv" "no impostor trial"
bad "missing file" "$T/does-not-exist.csv" "does-not-exist.csv: cannot open"
head -c 200 "$T/dev.csv.gz" > "$T/trunc.csv.gz"
bad "truncated gzip" "$T/trunc.csv.gz" "trunc.csv.gz: .*"
printf 'a a x 0.5\nb c x\n' > "$T/bob3.txt"
bad "bob4 with 3 fields" "$T/bob3.txt" "bob3.txt: line 2: 3 fields, expected 4" --format bob4
printf 'a a x 0.5\nb c x zero\n' > "$T/bobnum.txt"
bad "bob4 bad score" "$T/bobnum.txt" "bobnum.txt: line 2: score 'zero'" --format bob4
printf '0.5\n0.7 0.8\n' > "$T/py.txt"
expect_exit 3 "pyeer two fields" -- "$VB" metrics --format pyeer --genuine "$T/py.txt" --impostor "$T/imp.txt"
expect_grep "py.txt: line 2: more than one field" "$T/err" "pyeer two fields: message"

# ---- typed metrics: a misspelled metric is a compile error, not "n/a" at run time ----
if command -v cc >/dev/null 2>&1; then
    printf '#include "reports/metrics.h"\ndouble f(const vb_metrics *m) { return m->%s; }\n' \
        'eer + m->fnmr_at_fmr[VB_FMR_1E3].fnmr' > "$T/typed_ok.c"
    printf '#include "reports/metrics.h"\ndouble f(const vb_metrics *m) { return m->%s; }\n' 'eer_treshold' \
        > "$T/typed_typo.c"
    expect_exit 0 "typed metric compiles" -- cc -std=c11 -D_GNU_SOURCE -fsyntax-only -I. "$T/typed_ok.c"
    expect_exit 1 "misspelled metric does not compile" -- cc -std=c11 -D_GNU_SOURCE -fsyntax-only -I. "$T/typed_typo.c"
fi

# ---- plots ----
if [ -x "$(command -v gnuplot)" ]; then
    expect_exit 0 "plots" -- "$VB" metrics --format bob4 --scores "$D/dev-4col.txt" --plot "$T/p"
    for f in p-det.png p-det.svg p-hist.png p-hist.svg; do
        if [ -s "$T/$f" ]; then ok; else not_ok "plot $f not written"; fi
    done
    if cmp -s "$T/out" "$T/dev.csv"; then ok; else not_ok "plotting changed stdout"; fi
fi
VB_GNUPLOT= expect_exit 0 "plots without gnuplot" -- "$VB" metrics --format bob4 --scores "$D/dev-4col.txt" --plot "$T/q"
expect_grep "plots skipped" "$T/err" "skipped plots are reported"

# ---- the benchmark path (tiny here: timings are reported, never asserted) ----
expect_exit 0 "synthetic bench" -- "$VB" metrics --synthetic-bench --bench-impostors 20000 --bench-genuine 300
expect_grep "^impostor,20000$" "$T/out" "bench impostor count"
expect_grep "^genuine,300$" "$T/out" "bench genuine count"
expect_grep "^bench_metrics_s," "$T/out" "bench timing row"

cli_finish
