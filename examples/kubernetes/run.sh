#!/bin/sh
# The whole sharded run on a cluster: volumes, the embed Indexed Job, the score Indexed Job,
# then the merge.
#   docker build -f examples/kubernetes/Dockerfile -t veribench:latest .   (and push it
#   where the cluster pulls from, changing image: in the three Jobs)
#   examples/kubernetes/run.sh
set -eu
here=$(dirname "$0")
kubectl apply -f "$here/volumes.yaml"
kubectl delete job veribench-shards veribench-scores veribench-merge --ignore-not-found
kubectl apply -f "$here/shards-job.yaml"
kubectl wait --for=condition=complete --timeout=6h job/veribench-shards
kubectl apply -f "$here/score-job.yaml"
kubectl wait --for=condition=complete --timeout=1h job/veribench-scores
kubectl apply -f "$here/merge-job.yaml"
kubectl wait --for=condition=complete --timeout=1h job/veribench-merge
kubectl logs job/veribench-merge | tail -n 5
