#!/bin/sh
# The merge step after the shards of examples/veribench-shard.sh have finished: the score
# shards ($RESULTS/scores-<i>, when the score phase ran) or else the embed shards
# ($RESULTS/shard-<i>, then the merge scores every trial itself) combined into
# $RESULTS/merged, a complete results folder (metrics, scores, report). Exits non-zero,
# naming the shard, when one is missing or unfinished: re-run that shard and this step again.
set -eu
: "${RESULTS:?set RESULTS to the folder holding the shard-<i> (and scores-<i>) folders}"
if [ -e "$RESULTS/scores-0/shard.csv" ]; then
    exec "${VERIBENCH:-veribench}" merge "$RESULTS/merged" "$RESULTS"/scores-*
fi
exec "${VERIBENCH:-veribench}" merge "$RESULTS/merged" "$RESULTS"/shard-*
