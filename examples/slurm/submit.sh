#!/bin/sh
# Queue N embed tasks, then M score tasks after them (default M = N), then the merge:
#   RESULTS=/shared/vb/lfw-all VERIBENCH=/shared/vb/veribench VERIBENCH_DATA=/shared/datasets \
#   VERIBENCH_OPTS="--crop 70,70,180,180" examples/slurm/submit.sh 4 [M]
# sbatch copies a job script to the node, so the scripts are told where examples/ is
# (VERIBENCH_EXAMPLES, this checkout on the shared filesystem); the environment is exported
# to the jobs (sbatch's default --export=ALL).
set -eu
n=${1:?usage: submit.sh N (embed shards) [M (score shards, default N)]}
m=${2:-$n}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${RESULTS:?set RESULTS to a folder on a filesystem every node mounts}"
export RESULTS VERIBENCH_EXAMPLES="$here"
mkdir -p "$RESULTS"
embed=$(sbatch --parsable --array=0-$((n - 1)) "$here/slurm/shards.sbatch" embed)
score=$(sbatch --parsable --dependency=afterok:"${embed%%;*}" --array=0-$((m - 1)) "$here/slurm/shards.sbatch" score)
sbatch --dependency=afterok:"${score%%;*}" "$here/slurm/merge.sbatch"
echo "queued embed shards $embed (0-$((n - 1))), score shards $score (0-$((m - 1))) and the merge after them; results: $RESULTS/merged"
