#!/bin/sh
# The merge step after every shard of examples/veribench-shard.sh has finished: the shard
# folders under $RESULTS combined into $RESULTS/merged, a complete results folder (metrics,
# scores, report). Exits non-zero, naming the shard, when one is missing or unfinished:
# re-run that shard and this step again.
set -eu
: "${RESULTS:?set RESULTS to the folder holding the shard-<i> folders}"
exec "${VERIBENCH:-veribench}" merge "$RESULTS/merged" "$RESULTS"/shard-*
