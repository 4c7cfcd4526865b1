#!/bin/sh
# veribench gate on results folders written here and on a real tiny run: verdicts and exit
# codes (pass, fail, NaN, errors that must never pass), the table and CSV output, JUnit XML
# checked with an XML parser, the shipped example gates.
. tests/cli_lib.sh
R="$CLI_TMP/results" B="$CLI_TMP/baseline" S="$CLI_TMP/spec.csv"
mkdir -p "$R" "$B"
prov() { printf 'scope,key,value\nrun,dataset,lfw\n' > "$1/provenance.csv"; }
cat > "$R/metrics.csv" <<'EOF'
backend,device,quant,dataset,metric,value
cpu,amd,fp32,lfw,eer,0.0533
cpu,amd,fp32,lfw,fnmr@fmr=1e-3,0.306
cpu,amd,fp32,lfw,accuracy_10fold_mean,0.9452
cpu,amd,int8,lfw,eer,0.0541
cpu,amd,int8,lfw,fnmr@fmr=1e-3,nan
cpu,amd,int8,lfw,accuracy_10fold_mean,0.9440
EOF
cat > "$B/metrics.csv" <<'EOF'
backend,device,quant,dataset,metric,value
cpu,amd,fp32,lfw,eer,0.0530
cpu,amd,fp32,lfw,accuracy_10fold_mean,0.9460
cpu,amd,int8,lfw,eer,0.0530
EOF
prov "$R"
prov "$B"
spec() { { echo "metric,scope,op,limit,bound"; printf '%s\n' "$@"; } > "$S"; }
GATE="$VB gate --results $R --spec $S"

expect_exit 0 "help" -- $VB gate --help
expect_grep "max_increase" "$CLI_TMP/out" "help explains the regression ops"
expect_exit 2 "no --spec" -- $VB gate --results "$R"
expect_exit 2 "bad --format" -- $GATE --format xml

# pass, with the table and its verdict line
spec "# release" "eer,*/*/fp32/*,<=,0.06" "accuracy_10fold_mean,*,>=,0.94,value"
expect_exit 0 "passing gate" -- $GATE
expect_grep '^3 +eer +cpu/amd/fp32/lfw +0\.0533 +- +<= +0\.06 +PASS' "$CLI_TMP/out" "table row: line, metric, combination, value, op, limit"
expect_grep "^gate .*: PASS \(3 checks, 0 failed\)$" "$CLI_TMP/out" "verdict line"

# fail: exit 1, the failing row says FAIL, a NaN fails and says so
spec "eer,*,<=,0.054" "fnmr@fmr=1e-3,*,<=,0.35"
expect_exit 1 "failing gate" -- $GATE --junit "$CLI_TMP/j.xml"
expect_grep 'cpu/amd/int8/lfw +0\.0541 .*FAIL' "$CLI_TMP/out" "the int8 eer fails"
expect_grep 'cpu/amd/int8/lfw +nan .*FAIL +value is NaN' "$CLI_TMP/out" "NaN fails with a note"
expect_grep "FAIL \(4 checks, 2 failed\)$" "$CLI_TMP/out" "verdict counts"

# JUnit XML: parsed by an XML parser, one testcase per check, failures counted
junit() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
cases = suite.findall("testcase")
failed = [c for c in cases if c.find("failure") is not None]
assert suite.tag == "testsuite", suite.tag
assert int(suite.get("tests")) == len(cases), (suite.get("tests"), len(cases))
assert int(suite.get("failures")) == len(failed), (suite.get("failures"), len(failed))
print(len(cases), len(failed), failed[0].find("failure").get("message") if failed else "")
EOF
}
junit "$CLI_TMP/j.xml" > "$CLI_TMP/junit" 2>&1 && ok || not_ok "JUnit XML does not parse or its counts disagree: $(cat "$CLI_TMP/junit")"
expect_grep '^4 2 eer = 0.0541, required <= 0.054' "$CLI_TMP/junit" "4 testcases, 2 failures, message"

# names needing escapes survive the XML
mkdir -p "$CLI_TMP/odd"
printf 'backend,device,quant,dataset,metric,value\ncpu,"<a&b ""x"">",fp32,lfw,eer,0.1\n' > "$CLI_TMP/odd/metrics.csv"
prov "$CLI_TMP/odd"
spec "eer,*,<=,0.05"
expect_exit 1 "odd names" -- $VB gate --results "$CLI_TMP/odd" --spec "$S" --junit "$CLI_TMP/odd.xml"
junit "$CLI_TMP/odd.xml" > "$CLI_TMP/junit" 2>&1 && ok || not_ok "escaped JUnit XML does not parse: $(cat "$CLI_TMP/junit")"
python3 -c 'import sys, xml.etree.ElementTree as ET; n = ET.parse(sys.argv[1]).getroot().find("testcase").get("name"); sys.exit(0 if "<a&b \"x\">" in n else 1)' "$CLI_TMP/odd.xml" && ok || not_ok "escaped name does not read back"

# CSV output: a header and one row per check, verdict on stderr
spec "eer,*,<=,0.054"
expect_exit 1 "csv format" -- $GATE --format csv
expect_grep '^line,metric,bound,row,backend,device,quant,dataset,value,baseline,op,limit,result,note$' "$CLI_TMP/out" "csv header"
expect_grep '^2,eer,value,eer,cpu,amd,int8,lfw,0.0541,,<=,0.054,FAIL,$' "$CLI_TMP/out" "csv row"
[ "$(wc -l < "$CLI_TMP/out")" -eq 3 ] && ok || not_ok "csv: header + 2 rows"
expect_grep 'FAIL \(2 checks, 1 failed\)' "$CLI_TMP/err" "csv verdict on stderr"

# errors: exit 2 naming the spec line, never a pass
spec "eer,*,<=,1" "dprime,*,>=,0"
expect_exit 2 "metric the results lack" -- $GATE
expect_grep "spec.csv:3: cpu/amd/fp32/lfw has no row dprime" "$CLI_TMP/err" "names line and row"
spec "eerr,*,<=,1"
expect_exit 2 "unknown metric" -- $GATE
expect_grep "spec.csv:2: unknown metric 'eerr'" "$CLI_TMP/err" "names the unknown metric"
spec "eer,vulkan/*/*/*,<=,1"
expect_exit 2 "scope selecting nothing" -- $GATE
expect_grep "spec.csv:2: scope vulkan/\*/\*/\* selects none" "$CLI_TMP/err" "names the scope"
spec "eer,*,<=,1,upper"
expect_exit 2 "interval row absent" -- $GATE
expect_grep "no row eer_ci_high" "$CLI_TMP/err" "names the interval row"
spec "eer,*,max_increase,0.001"
expect_exit 2 "regression without --baseline" -- $GATE
expect_grep "needs --baseline" "$CLI_TMP/err" "says --baseline is needed"
spec "fnmr@fmr=1e-3,*,max_increase,0.001"
expect_exit 2 "combination row missing from the baseline" -- $GATE --baseline "$B"
expect_grep "spec.csv:2: the baseline .* has no row fnmr@fmr=1e-3" "$CLI_TMP/err" "names the baseline row"
expect_exit 3 "unreadable results folder" -- $VB gate --results "$CLI_TMP/none" --spec "$S"
expect_exit 3 "unreadable baseline folder" -- $GATE --baseline "$CLI_TMP/none"
expect_exit 2 "missing spec" -- $VB gate --results "$R" --spec "$CLI_TMP/none.csv"

# regressions: absolute and relative, both directions
spec "eer,*,max_increase,0.0012" "accuracy_10fold_mean,*/*/fp32/*,max_decrease,0.001"
expect_exit 0 "regressions within limits" -- $GATE --baseline "$B"
expect_grep 'cpu/amd/int8/lfw +0\.0541 +0\.053 +max_increase +0\.0012 +PASS' "$CLI_TMP/out" "baseline column"
spec "eer,*,max_increase,2%"
expect_exit 1 "relative limit" -- $GATE --baseline "$B" --junit "$CLI_TMP/reg.xml"
junit "$CLI_TMP/reg.xml" > "$CLI_TMP/junit" 2>&1 && ok || not_ok "regression JUnit XML: $(cat "$CLI_TMP/junit")"
expect_grep '^2 1 eer = 0\.0541 \(baseline 0\.053\), max_increase 2%: increase 0\.0011[0-9]*, allowed 0\.00106' \
    "$CLI_TMP/junit" "the failure message gives value, baseline, change and allowance"
expect_grep 'cpu/amd/fp32/lfw .* PASS' "$CLI_TMP/out" "+0.0003 on 0.053 is within 2%"
expect_grep 'cpu/amd/int8/lfw .* FAIL' "$CLI_TMP/out" "+0.0011 on 0.053 is beyond 2%"
spec "accuracy_10fold_mean,*/*/fp32/*,max_decrease,0.0005"
expect_exit 1 "accuracy drop" -- $GATE --baseline "$B"

# The shipped gates parse and name only known metrics; release-signoff passes on the
# README's LFW View 2 numbers (with their Clopper-Pearson upper bounds over 3,000 genuine
# and 3,000 impostor trials), fails on a worse model.
cat > "$R/metrics.csv" <<'EOF'
backend,device,quant,dataset,metric,value
cpu,amd,fp32,lfw,eer,0.0533
cpu,amd,fp32,lfw,fnmr@fmr=1e-3,0.306
cpu,amd,fp32,lfw,fnmr@fmr=1e-2,0.12
cpu,amd,fp32,lfw,accuracy_10fold_mean,0.9452
cpu,amd,fp32,lfw,auc,0.985
cpu,amd,fp32,lfw,fta_samples,0
cpu,amd,fp32,lfw,min_hter,0.05
cpu,amd,fp32,lfw,fmr@threshold,0.0433
cpu,amd,fp32,lfw,fnmr@threshold,0.063
cpu,amd,fp32,lfw,fnmr@fmr=1e-3_ci_high,0.3229
cpu,amd,fp32,lfw,fmr@threshold_ci_high,0.0511
cpu,amd,fp32,lfw,fnmr@threshold_ci_high,0.0724
EOF
expect_exit 0 "release-signoff on the reference numbers" -- $VB gate --results "$R" --spec cli/gates/release-signoff.csv
expect_exit 0 "nightly-regression against itself" -- $VB gate --results "$R" --baseline "$R" --spec cli/gates/nightly-regression.csv
sed 's/,eer,0.0533$/,eer,0.0650/' "$R/metrics.csv" > "$B/metrics.csv"
expect_exit 1 "release-signoff on a worse EER" -- $VB gate --results "$B" --spec cli/gates/release-signoff.csv
expect_exit 1 "nightly-regression on a worse EER" -- $VB gate --results "$B" --baseline "$R" --spec cli/gates/nightly-regression.csv

# A real tiny run (a few LFW images through the CPU backend) gated.
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Amber_Tamblyn:1 Amber_Tamblyn:2 \
             Dean_Barker:1 Mikhail_Gorbachev:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s\n' "$name" "$n" "$name" "$(printf '%s/%s/%s_%04d.jpg' "$LFW" "$name" "$name" "$n")"
    done
} > "$D/manifest.csv"
RUN="$CLI_TMP/run"
expect_exit 0 "tiny run" -- $VB run --model "$VB_MODELS/face_recognition.gguf" --dataset "csv:$D/manifest.csv" \
    --crop 70,70,180,180 --quiet --out "$RUN"
ds="csv:$D/manifest.csv"
spec "genuine,*/*/fp32/$ds,>=,3" "impostor,cpu/*/*/*,<=,25" "eer,*,<=,0.5" "fta_samples,*,<=,0" "auc,*,>=,0.5"
expect_exit 0 "tiny run passes a loose gate" -- $VB gate --results "$RUN" --spec "$S" --junit "$CLI_TMP/run.xml"
expect_grep 'PASS \(5 checks, 0 failed\)' "$CLI_TMP/out" "5 checks on the one combination"
junit "$CLI_TMP/run.xml" > "$CLI_TMP/junit" 2>&1 && ok || not_ok "run JUnit XML: $(cat "$CLI_TMP/junit")"
expect_grep '^5 0 ' "$CLI_TMP/junit" "5 testcases, none failed"
# 8 samples: C(8,2) = 28 trials, genuine C(2,2) * 3 = 3, so 25 impostors: the exact bounds.
spec "genuine,*,<,3" "impostor,*,>,25"
expect_exit 1 "tiny run fails strict bounds" -- $VB gate --results "$RUN" --spec "$S"
expect_grep 'FAIL \(2 checks, 2 failed\)' "$CLI_TMP/out" "both fail"
# The nightly gate's LFW-only accuracy rule selects nothing in a csv: run: an error, not a pass.
expect_exit 2 "nightly gate on a run without LFW" -- $VB gate --results "$RUN" --baseline "$RUN" --spec cli/gates/nightly-regression.csv
expect_grep "nightly-regression.csv:16: scope \\*/\\*/\\*/lfw selects none" "$CLI_TMP/err" "names the accuracy rule"
cli_finish
