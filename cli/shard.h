/* Scale-out: `veribench run --shard i/N` and `veribench merge [--shard i/N] OUT DIR...`.
 *
 * Work is split in two phases, each N-way (N may differ between them), then one merge:
 *
 *   1. embed, by sample: `run --shard i/N --out E_i`. Shard i of N (0-based, as Slurm's
 *      SLURM_ARRAY_TASK_ID and a Kubernetes Indexed Job's JOB_COMPLETION_INDEX count) embeds
 *      the i-th of N contiguous ranges of the dataset's sample order (sizes differ by at most
 *      one) and saves them in its own results folder (templates/<combo>.bin with every sample
 *      count of the full run, records only for its slice; templates/<combo>.timing;
 *      latency.csv, failures.csv, provenance.csv) plus shard.csv (format veribench-shard-v1).
 *   2. score, by trial: `merge --shard j/M S_j E_0 ... E_N-1` (needs every embed shard: a
 *      trial needs two samples' templates, which may come from any embed shard). It combines
 *      the embed shards' templates into S_j as the merge below does (a few MB even for
 *      lfw-all: the templates, not the images) and scores the j-th of M contiguous ranges of
 *      the dataset's trial order into S_j/scores/<combo>.vbs (those trials only, in order,
 *      with the templates' fingerprint), plus shard.csv (format veribench-score-shard-v1).
 *      No metrics.
 *   3. merge: `merge OUT S_0 ... S_M-1` checks the score shards, copies the templates and
 *      timings (identical in every score shard) into OUT, then runs `veribench run` into OUT
 *      reading the score shards' files in trial order instead of scoring: the same chunked
 *      pass (score file, bounded metrics, gallery, counts) as an unsharded run, so OUT is
 *      the same results folder. Scoring is what phase 2 takes off the merge machine; the
 *      metrics (a sort of every trial) stay on it.
 *   Or, skipping phase 2: `merge OUT E_0 ... E_N-1` scores every trial itself.
 *
 * Either way OUT/metrics.csv is byte-identical to the unsharded run's except the measured
 * timing rows (faces_per_s, ms_per_face), which differ between any two runs and here
 * describe the embed shards' embedding together.
 *
 * shard.csv (key,value): format, shard=i, shards=N, samples=S, samples_begin, samples_end
 * (embed) or trials=T, trials_begin, trials_end, embed_shards (score), then one `arg` row per
 * option the run was given other than --out, --shard and --restart, in order (the merge runs
 * exactly these again).
 *
 * Merge checks: every folder's shard.csv must have the same format, N, S (T) and options,
 * and the indexes 0..N-1 each once (a missing or repeated one is an error naming it).
 * Embed shards: per combination (templates/<combo>.bin of shard 0; every shard must have it,
 * with the same fingerprint and dimension), each shard's slice is copied into
 * OUT/templates/<combo>.bin (a sample of a slice that its shard has not embedded is an error
 * naming the shard: re-run it), and the shards' saved timings are added up into
 * OUT/templates/<combo>.timing (throughput over all shards' images); each shard's
 * provenance.csv and latency.csv are kept as OUT/shards/<i>-provenance.csv and
 * OUT/shards/<i>-latency.csv. Score shards: score shard 0's templates, timing and shards/
 * files are taken (each score shard holds the same copies), and each score shard's
 * provenance.csv is kept as OUT/shards/scores-<j>-provenance.csv; the run then refuses a
 * score file that is missing, made from other templates (its fingerprint) or holds another
 * number of trials than its range. */
#ifndef VB_SHARD_H
#define VB_SHARD_H

#include <stdint.h>

#include "core/common.h"

/* The samples [*lo, *hi) of shard index of count (count 0: all of them): the dataset's
 * vb_shard_range (datasets/dataset.h) over the sample order. */
void vb_shard_samples(unsigned index, unsigned count, uint32_t n_samples, uint32_t *lo, uint32_t *hi);

/* "i/N" with 0 <= i < N <= 100000 (VB_EXIT_USAGE otherwise). */
int vb_shard_parse(const char *text, unsigned *index, unsigned *count, vb_err *e);

/* The trials [*lo, *hi) of score shard index of count (count 0: all of them). */
void vb_shard_trials(unsigned index, unsigned count, uint64_t n_trials, uint64_t *lo, uint64_t *hi);

/* DIR/shard.csv of an embed shard, atomically. */
int vb_shard_write(const char *dir, unsigned index, unsigned count, uint32_t n_samples, int argc,
                   const char *const *argv, vb_err *e);
/* DIR/shard.csv of a score shard (phase 2), atomically. */
int vb_shard_write_scores(const char *dir, unsigned index, unsigned count, uint32_t n_samples, uint64_t n_trials,
                          unsigned embed_shards, int argc, const char *const *argv, vb_err *e);

/* What the merge hands the run it starts (cmd_run_with, cli/commands.h). */
typedef struct vb_merge_plan {
    unsigned trial_index, trial_count; /* phase 2: score these trials only (count 0: not phase 2) */
    unsigned embed_shards;             /* phase 2: how many embed shards were combined */
    char **score_dirs;                 /* phase 3: the score shards' folders, in trial order */
    int n_score_dirs;                  /* (0: score every trial here) */
    int argc;                          /* the shards' options (also what phase 2 saves) */
    char **argv;
} vb_merge_plan;

/* Combine the shard folders into OUT (see above) and fill plan: the run's options (malloc'd,
 * like the score shards' folder names; free with vb_merge_plan_free) for `veribench run ...
 * --out OUT`, and with score shards their folders. Phase 2 (trial_count > 0) takes embed
 * shards only. */
int vb_shard_merge(const char *out, const char *const *dirs, int n_dirs, vb_merge_plan *plan, vb_err *e);
void vb_merge_plan_free(vb_merge_plan *plan);
void vb_shard_args_free(int argc, char **argv);

#endif
