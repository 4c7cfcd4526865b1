/* Scale-out: `veribench run --shard i/N` and `veribench merge OUT DIR...`.
 *
 * How work is split: by sample. Shard i of N (0-based, as Slurm's SLURM_ARRAY_TASK_ID and a
 * Kubernetes Indexed Job's JOB_COMPLETION_INDEX count) embeds the i-th of N contiguous
 * ranges of the dataset's sample order (sizes differ by at most one) and saves them in its own results folder
 * (templates/<combo>.bin with every sample count of the full run, records only for its
 * slice; templates/<combo>.timing; latency.csv, failures.csv, provenance.csv) plus shard.csv.
 * Embedding is what costs (minutes); scoring and metrics are seconds on one machine, and
 * every trial needs the templates of two samples that may sit in different shards, so trials
 * are not split: the merge scores them all.
 *
 * shard.csv (key,value): format=veribench-shard-v1, shard=i, shards=N, samples=S,
 * samples_begin, samples_end, then one `arg` row per option the run was given other than
 * --out, --shard and --restart, in order (the merge runs exactly these again).
 *
 * Merge: every shard folder's shard.csv must name the same N, S and options, and the indexes
 * 0..N-1 each once (a missing or repeated one is an error naming it). Per combination
 * (templates/<combo>.bin of shard 0; every shard must have it, with the same fingerprint and
 * dimension), each shard's slice is copied into OUT/templates/<combo>.bin (a sample of a
 * slice that its shard has not embedded is an error naming the shard: re-run it), and the
 * shards' saved timings are added up into OUT/templates/<combo>.timing (throughput over all
 * shards' images). Each shard's provenance.csv and latency.csv are kept as
 * OUT/shards/<i>-provenance.csv and OUT/shards/<i>-latency.csv. Then `veribench run` with the
 * saved options and --out OUT resumes every template and writes scores, metrics and reports
 * exactly as an unsharded run does: metrics.csv is byte-identical to the unsharded run's
 * except the measured timing rows (faces_per_s, ms_per_face), which differ between any two
 * runs and here describe the shards' embedding together. */
#ifndef VB_SHARD_H
#define VB_SHARD_H

#include <stdint.h>

#include "core/common.h"

/* The samples [*lo, *hi) of shard index of count (count 0: all of them): the dataset's
 * vb_shard_range (datasets/dataset.h) over the sample order. */
void vb_shard_samples(unsigned index, unsigned count, uint32_t n_samples, uint32_t *lo, uint32_t *hi);

/* "i/N" with 0 <= i < N <= 100000 (VB_EXIT_USAGE otherwise). */
int vb_shard_parse(const char *text, unsigned *index, unsigned *count, vb_err *e);

/* DIR/shard.csv, atomically. */
int vb_shard_write(const char *dir, unsigned index, unsigned count, uint32_t n_samples, int argc,
                   const char *const *argv, vb_err *e);

/* Combine the shard folders into OUT (see above) and return in argc and argv (malloc'd; free
 * with vb_shard_args_free) the run's options, for `veribench run ... --out OUT`. */
int vb_shard_merge(const char *out, const char *const *dirs, int n_dirs, int *argc, char ***argv, vb_err *e);
void vb_shard_args_free(int argc, char **argv);

#endif
