#!/bin/sh
# One shard of a sharded `veribench run`, for any scheduler, in one of two phases
# (cli/shard.h):
#   veribench-shard.sh embed   (the default) embeds shard i's slice of the samples into
#                              $RESULTS/shard-<i>
#   veribench-shard.sh score   after every embed shard is done: scores shard i's range of the
#                              trials, from all embed shards' templates, into $RESULTS/scores-<i>
# Then examples/merge.sh measures and reports into $RESULTS/merged. The shard index and count
# come from Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job
# (JOB_COMPLETION_INDEX; the count from SHARDS, which the Job sets to its completions), or
# SHARD and SHARDS. The two phases may use different counts; the score phase finds the embed
# shards by their folder names.
#
# Settings (environment): VERIBENCH (the binary, default: veribench on PATH), RESULTS (a
# folder every shard and the merge step can reach, e.g. a shared filesystem or volume),
# DATASET (default lfw-all), VERIBENCH_OPTS (more `run` options, identical for every shard,
# e.g. "--crop 70,70,180,180 --quant fp32,int8 --model /data/models/face_recognition.gguf"),
# VERIBENCH_DATA (the datasets, as for any veribench run).
set -eu
phase=${1:-embed}
i=${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-${SHARD:-}}}
n=${SLURM_ARRAY_TASK_COUNT:-${SHARDS:-}}
if [ -z "$i" ] || [ -z "$n" ]; then
    echo "veribench-shard.sh: no shard index/count: run as a Slurm array task, a Kubernetes Indexed Job pod with SHARDS set, or with SHARD and SHARDS" >&2
    exit 2
fi
: "${RESULTS:?set RESULTS to a folder every shard and the merge step can reach}"
case "$phase" in
embed)
    # $VERIBENCH_OPTS is split into words on purpose (several options).
    # shellcheck disable=SC2086
    exec "${VERIBENCH:-veribench}" run --dataset "${DATASET:-lfw-all}" ${VERIBENCH_OPTS:-} --quiet \
        --shard "$i/$n" --out "$RESULTS/shard-$i" ;;
score)
    # the options are the embed shards' own (their shard.csv), so none are given here
    exec "${VERIBENCH:-veribench}" merge --quiet --shard "$i/$n" "$RESULTS/scores-$i" "$RESULTS"/shard-* ;;
*)
    echo "veribench-shard.sh: phase '$phase': expected embed or score" >&2
    exit 2 ;;
esac
