#!/bin/sh
# Issue 14 item 3: run --shard i/N as separate processes at once, then veribench merge (or
# the score phase, merge --shard j/M, also as separate processes, then the merge of the score
# shards), gives the unsharded run's results: metrics.csv byte-identical once the measured timing rows
# (faces_per_s, ms_per_face: they differ between any two runs) are left out, the same
# failures.csv and the same score payload. Incomplete, repeated or foreign shards are refused.
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
mkdir -p "$D"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Akhmed_Zakayev:3 \
             Amber_Tamblyn:1 Amber_Tamblyn:2 Dean_Barker:1 Mikhail_Gorbachev:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s\n' "$name" "$n" "$name" "$(printf '%s/%s/%s_%04d.jpg' "$LFW" "$name" "$name" "$n")"
    done
    echo "Ghost_1,Ghost,$D/missing.jpg"
} > "$D/manifest.csv"
OPTS="--model $M --dataset csv:$D/manifest.csv --crop 70,70,180,180 --quant fp32,int8 --quiet --no-plots --bootstrap 50"
numbers() { grep -v -E ',(faces_per_s|ms_per_face),' "$1/metrics.csv"; }

expect_exit 0 "unsharded run" -- $VB run $OPTS --out "$CLI_TMP/single"
expect_exit 2 "--shard 3/3 is out of range" -- $VB run $OPTS --shard 3/3 --out "$CLI_TMP/x"
expect_exit 2 "--shard 1 without /N" -- $VB run $OPTS --shard 1 --out "$CLI_TMP/x"

# Three shards as separate processes at the same time.
for i in 0 1 2; do
    $VB run $OPTS --shard $i/3 --out "$CLI_TMP/shard$i" >"$CLI_TMP/o$i" 2>"$CLI_TMP/e$i" &
done
wait
for i in 0 1 2; do
    expect_grep "shard,$i" "$CLI_TMP/shard$i/shard.csv" "shard $i wrote shard.csv"
    [ ! -e "$CLI_TMP/shard$i/metrics.csv" ] && ok || not_ok "shard $i wrote metrics.csv"
done
# shard 1 of 3 of 10 samples embeds samples 4..6 only (3 OK templates, 3 records)
expect_grep '^run,shard_samples,4-7$' "$CLI_TMP/shard1/provenance.csv" "shard 1 owns samples 4..6"

expect_exit 0 "merge" -- $VB merge "$CLI_TMP/merged" "$CLI_TMP/shard2" "$CLI_TMP/shard0" "$CLI_TMP/shard1"
expect_grep 'report.md' "$CLI_TMP/out" "merge prints the report path"
[ "$(numbers "$CLI_TMP/merged" | sha256sum)" = "$(numbers "$CLI_TMP/single" | sha256sum)" ] && ok ||
    { not_ok "merged metrics.csv differs from the unsharded run's"; diff "$CLI_TMP/single/metrics.csv" "$CLI_TMP/merged/metrics.csv" | head -n 10 >&2; }
[ "$(numbers "$CLI_TMP/merged" | wc -l)" -gt 100 ] && ok || not_ok "too few metric rows compared"
expect_grep ',faces_per_s,' "$CLI_TMP/merged/metrics.csv" "merged run reports the shards' throughput"
cmp -s "$CLI_TMP/merged/failures.csv" "$CLI_TMP/single/failures.csv" && ok || not_ok "failures.csv differs"
for q in fp32 int8; do
    a=$(tail -c +129 "$CLI_TMP"/single/scores/*-$q.vbs | sha256sum) b=$(tail -c +129 "$CLI_TMP"/merged/scores/*-$q.vbs | sha256sum)
    [ "$a" = "$b" ] && ok || not_ok "$q scores differ"
done
[ -s "$CLI_TMP/merged/shards/1-provenance.csv" ] && ok || not_ok "shard provenance not kept"

# Phase 2, scoring split by trial: two score shards at the same time (merge --shard j/2, each
# from all three embed shards), then the final merge of the score shards reads their score
# files: the same metrics, failures and score payload as the unsharded run.
for j in 0 1; do
    $VB merge --quiet --shard $j/2 "$CLI_TMP/scores$j" "$CLI_TMP/shard0" "$CLI_TMP/shard1" "$CLI_TMP/shard2" \
        >"$CLI_TMP/so$j" 2>"$CLI_TMP/se$j" &
done
wait
for j in 0 1; do
    expect_grep '^format,veribench-score-shard-v1$' "$CLI_TMP/scores$j/shard.csv" "score shard $j wrote shard.csv"
    [ ! -e "$CLI_TMP/scores$j/metrics.csv" ] && ok || not_ok "score shard $j wrote metrics.csv"
done
# 10 samples, 45 trials (all pairs): score shard 1 of 2 scores trials 23..44
expect_grep '^trials_begin,23$' "$CLI_TMP/scores1/shard.csv" "score shard 1 owns trials 23..44"
expect_grep '^run,score_shard_trials,23-45$' "$CLI_TMP/scores1/provenance.csv" "score shard 1's provenance"
expect_exit 0 "merge of the score shards" -- $VB merge "$CLI_TMP/smerged" "$CLI_TMP/scores1" "$CLI_TMP/scores0"
[ "$(numbers "$CLI_TMP/smerged" | sha256sum)" = "$(numbers "$CLI_TMP/single" | sha256sum)" ] && ok ||
    { not_ok "score-sharded metrics.csv differs from the unsharded run's"; diff "$CLI_TMP/single/metrics.csv" "$CLI_TMP/smerged/metrics.csv" | head -n 10 >&2; }
cmp -s "$CLI_TMP/smerged/failures.csv" "$CLI_TMP/single/failures.csv" && ok || not_ok "score-sharded failures.csv differs"
for q in fp32 int8; do
    a=$(tail -c +129 "$CLI_TMP"/single/scores/*-$q.vbs | sha256sum) b=$(tail -c +129 "$CLI_TMP"/smerged/scores/*-$q.vbs | sha256sum)
    [ "$a" = "$b" ] && ok || not_ok "$q score-sharded scores differ"
done
[ -s "$CLI_TMP/smerged/shards/2-latency.csv" ] && ok || not_ok "the embed shards' latency not kept through the score shards"
[ -s "$CLI_TMP/smerged/shards/scores-1-provenance.csv" ] && ok || not_ok "score shard provenance not kept"
expect_grep '^run,merged_score_shards,2$' "$CLI_TMP/smerged/provenance.csv" "provenance says the scores were merged"
# Refusals of phase 2 and 3: a missing score shard, embed and score shards mixed, scoring from
# score shards, a score file of another range.
expect_exit 3 "missing score shard" -- $VB merge "$CLI_TMP/m4" "$CLI_TMP/scores1"
expect_grep 'score shard 0/2 is missing' "$CLI_TMP/err" "names the missing score shard"
expect_exit 3 "embed and score shards mixed" -- $VB merge "$CLI_TMP/m4" "$CLI_TMP/scores0" "$CLI_TMP/shard1"
expect_grep 'give either the embed shards' "$CLI_TMP/err" "says not to mix the phases"
expect_exit 2 "merge --shard of score shards" -- $VB merge --shard 0/2 "$CLI_TMP/m4" "$CLI_TMP/scores0" "$CLI_TMP/scores1"
cp "$CLI_TMP"/scores0/scores/*-int8.vbs "$CLI_TMP/int8.vbs"
cp "$CLI_TMP"/scores1/scores/*-int8.vbs "$CLI_TMP"/scores0/scores/
expect_exit 3 "a score file of another range" -- $VB merge "$CLI_TMP/m5" "$CLI_TMP/scores0" "$CLI_TMP/scores1"
expect_grep 'not score shard 0/2 of this run' "$CLI_TMP/err" "names the score shard to redo"
cp "$CLI_TMP/int8.vbs" "$CLI_TMP"/scores0/scores/

# Refusals: a missing shard, a shard given twice, a shard of another run, an unfinished shard.
expect_exit 3 "missing shard" -- $VB merge "$CLI_TMP/m2" "$CLI_TMP/shard0" "$CLI_TMP/shard2"
expect_grep 'shard 1/3 is missing' "$CLI_TMP/err" "names the missing shard"
expect_exit 3 "shard twice" -- $VB merge "$CLI_TMP/m2" "$CLI_TMP/shard0" "$CLI_TMP/shard0" "$CLI_TMP/shard1"
expect_grep 'given twice' "$CLI_TMP/err" "names the repeated shard"
expect_exit 0 "a shard of a 2-way split" -- $VB run $OPTS --shard 0/2 --out "$CLI_TMP/other0"
expect_exit 3 "shards of different runs" -- $VB merge "$CLI_TMP/m2" "$CLI_TMP/shard0" "$CLI_TMP/other0"
expect_grep 'shards of different runs' "$CLI_TMP/err" "says the shards do not belong together"
expect_exit 3 "not a shard" -- $VB merge "$CLI_TMP/m2" "$CLI_TMP/single"
expect_grep 'no readable shard.csv' "$CLI_TMP/err" "names the folder that is no shard"
T=$(ls "$CLI_TMP"/shard1/templates/*-fp32.bin)
head -c $(( $(wc -c < "$T") - 600 )) "$T" > "$T.cut" && mv "$T.cut" "$T"
expect_exit 3 "unfinished shard" -- $VB merge "$CLI_TMP/m3" "$CLI_TMP/shard0" "$CLI_TMP/shard1" "$CLI_TMP/shard2"
expect_grep 'shard 1/3 has not embedded sample [4-6] ' "$CLI_TMP/err" "names the shard and sample to redo"

# The scheduler examples, run here without a scheduler: examples/veribench-shard.sh takes its
# index from Slurm's array variables or a Kubernetes Indexed Job's, examples/merge.sh merges.
EX=examples
R="$CLI_TMP/sched"
for i in 0 1; do
    expect_exit 0 "slurm array task $i/2" -- env SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 RESULTS="$R" VERIBENCH="$VB" \
        DATASET="csv:$D/manifest.csv" VERIBENCH_OPTS="--model $M --crop 70,70,180,180 --quant fp32,int8 --no-plots --bootstrap 50" \
        sh "$EX/veribench-shard.sh"
done
expect_exit 0 "kubernetes indexed pod 2/3" -- env JOB_COMPLETION_INDEX=2 SHARDS=3 RESULTS="$CLI_TMP/k8s" VERIBENCH="$VB" \
    DATASET="csv:$D/manifest.csv" VERIBENCH_OPTS="--model $M --crop 70,70,180,180 --quant fp32,int8 --no-plots --bootstrap 50" \
    sh "$EX/veribench-shard.sh"
expect_grep '^shard,2$' "$CLI_TMP/k8s/shard-2/shard.csv" "the pod's index is the shard"
expect_exit 2 "no scheduler variables" -- env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u SHARD RESULTS="$R" sh "$EX/veribench-shard.sh"
expect_exit 2 "an unknown phase" -- env SHARD=0 SHARDS=1 RESULTS="$R" sh "$EX/veribench-shard.sh" rescore
expect_exit 0 "example merge step of the embed shards" -- env RESULTS="$R" VERIBENCH="$VB" sh "$EX/merge.sh"
[ "$(numbers "$R/merged" | sha256sum)" = "$(numbers "$CLI_TMP/single" | sha256sum)" ] && ok ||
    not_ok "the examples' merged metrics.csv differs from the unsharded run's"
# The score phase, three ways after two embed shards: Slurm tasks 0 and 1 of 3, a Kubernetes
# pod 2 of 3; then the merge step merges the score shards.
for j in 0 1; do
    expect_exit 0 "slurm score task $j/3" -- env SLURM_ARRAY_TASK_ID=$j SLURM_ARRAY_TASK_COUNT=3 RESULTS="$R" VERIBENCH="$VB" \
        sh "$EX/veribench-shard.sh" score
done
expect_exit 0 "kubernetes score pod 2/3" -- env -u SLURM_ARRAY_TASK_ID JOB_COMPLETION_INDEX=2 SHARDS=3 RESULTS="$R" VERIBENCH="$VB" \
    sh "$EX/veribench-shard.sh" score
expect_grep '^shard,2$' "$R/scores-2/shard.csv" "the score pod's index is the shard"
rm -rf "$R/merged"
expect_exit 0 "example merge step of the score shards" -- env RESULTS="$R" VERIBENCH="$VB" sh "$EX/merge.sh"
expect_grep '^run,merged_score_shards,3$' "$R/merged/provenance.csv" "the merge step took the score shards"
[ "$(numbers "$R/merged" | sha256sum)" = "$(numbers "$CLI_TMP/single" | sha256sum)" ] && ok ||
    not_ok "the examples' score-sharded metrics.csv differs from the unsharded run's"
cli_finish
