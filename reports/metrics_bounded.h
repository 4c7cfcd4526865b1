/* The metrics of any number of trials in bounded memory: the same rows as vb_metrics_compute
 * (reports/metrics.h: CORE, and KFOLD when folds are given), the same curve and histograms,
 * bit for bit, from trials streamed in blocks, with memory that does not grow with the trial
 * count.
 *
 * Method (exact): an external merge sort. Trials arrive in blocks (vb_bounded_add); each is
 * checked and turned into similarity keys (reports/radix_sort.h order) in a buffer of
 * chunk_trials entries, genuine filling it from the front and impostor from the back. A full
 * buffer is radix-sorted (two threads) into one sorted run per side and spilled to a temporary
 * file as LEB128 varints of the differences between consecutive keys (sorted keys of
 * distances rounded to 1e-9 differ little: 2-5 bytes a trial instead of 8), with the fold id
 * after each key when the trials carry folds. At the end, a heap merges the runs of each side
 * into one ascending stream (the last, unspilled buffer is a run in memory); one pass feeds
 * the operating-point walk of metrics.c (reports/metrics_engine.h, the same code as the
 * in-memory engine), the histograms, the means of the finite scores (d') and the LFW k-fold
 * threshold search; a second pass, both sides on their own thread, gives the variances (the
 * same 4096-term blocked sums in the same order, so d' is identical) and the k-fold test
 * accuracies.
 *
 * Memory: 16 bytes a trial of the buffer (24 with folds: fold ids ride along the radix
 * sort), i.e. chunk_trials * 16 bytes, plus a 256 KiB read buffer per run, plus what the walk
 * keeps: the decimated DET curve (a few thousand points) and the ROC convex hull's pooled
 * blocks (one per hull segment: bounded by the number of distinct scores, in practice
 * thousands; vb_bounded_stats.hull_blocks reports it). Disk: about 2-5 bytes a trial,
 * removed when done (the files are unlinked at once after opening: nothing is left behind
 * even by a killed process). Trials with fold 0 are in no fold, as in vb_kfold_accuracy;
 * fold ids are counted in a 65536-entry table (1 MiB).
 *
 * Errors are the in-memory engine's (naming the trial by its index in the stream), plus
 * VB_EXIT_IO when the temporary folder cannot be written. */
#ifndef VB_METRICS_BOUNDED_H
#define VB_METRICS_BOUNDED_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "reports/metrics.h"
#include "reports/scores.h"

#define VB_BOUNDED_CHUNK_DEFAULT ((size_t)1 << 23) /* 8M trials: 128 MiB of buffer */

typedef struct vb_bounded_opts {
    size_t chunk_trials; /* 0: VB_BOUNDED_CHUNK_DEFAULT; at least 2 */
    const char *tmp_dir; /* NULL: $TMPDIR, else /tmp */
} vb_bounded_opts;

typedef struct vb_bounded_stats {
    uint64_t trials;
    size_t runs[2];          /* sorted runs per side (genuine, impostor), the in-memory one included */
    uint64_t spilled_bytes;  /* written to the temporary files */
    size_t hull_blocks;      /* ROC hull segments the walk kept */
    double sort_s, merge_s;  /* wall time of the spilling phase (add + sorts) and of the merge passes */
} vb_bounded_stats;

typedef struct vb_bounded vb_bounded;

/* An empty computation over trials with (with_folds) or without fold ids. NULL on error. */
vb_bounded *vb_bounded_begin(int is_distance, int with_folds, const vb_bounded_opts *o, vb_err *e);
/* The trials of block (its is_distance must be the computation's; its folds are used when the
 * computation has folds and block->fold is set, else every trial is in no fold). */
int vb_bounded_add(vb_bounded *b, const vb_scores *block, vb_err *e);
/* The metrics into out (initialised here; vb_metrics_free it); frees b in every case. */
int vb_bounded_finish(vb_bounded *b, vb_metrics *out, vb_bounded_stats *stats, vb_err *e);
void vb_bounded_abort(vb_bounded *b);

/* All of s through the bounded engine, in blocks of at most 1M trials (for tests and callers
 * that have the scores in memory but want the bounded peak). */
int vb_metrics_compute_bounded(const vb_scores *s, const vb_bounded_opts *o, vb_metrics *out,
                               vb_bounded_stats *stats, vb_err *e);

#endif
