#!/bin/sh
# Queue N shard tasks and the merge after them:
#   RESULTS=/shared/vb/lfw-all VERIBENCH=/shared/vb/veribench VERIBENCH_DATA=/shared/datasets \
#   VERIBENCH_OPTS="--crop 70,70,180,180" examples/slurm/submit.sh 4
# sbatch copies a job script to the node, so the scripts are told where examples/ is
# (VERIBENCH_EXAMPLES, this checkout on the shared filesystem); the environment is exported
# to the jobs (sbatch's default --export=ALL).
set -eu
n=${1:?usage: submit.sh N (shards)}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${RESULTS:?set RESULTS to a folder on a filesystem every node mounts}"
export RESULTS VERIBENCH_EXAMPLES="$here"
mkdir -p "$RESULTS"
array=$(sbatch --parsable --array=0-$((n - 1)) "$here/slurm/shards.sbatch")
sbatch --dependency=afterok:"${array%%;*}" "$here/slurm/merge.sbatch"
echo "queued shards $array (0-$((n - 1))) and the merge after them; results: $RESULTS/merged"
