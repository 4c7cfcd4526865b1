/* Inside reports/: the metrics engine's pieces for an engine that does not hold the sorted
 * scores in memory (reports/metrics_bounded.h). The operating-point walk of metrics.c, fed
 * one tie group at a time, so that both engines compute every CORE row with the same code:
 * only how the sorted scores arrive differs.
 *
 * A walk: vb_walk_begin with the trial counts (genuine, impostor, and their FTA trials, the
 * -inf similarities), then vb_walk_group for each distinct similarity in ascending order
 * with how many genuine and impostor scores equal it, then vb_walk_end with d' (computed
 * elsewhere), which sets the CORE rows and the curve of out (already vb_metrics_init'ed) and
 * frees the walk. The walk holds the DET curve (decimated: a few thousand points) and the
 * ROC hull's pooled blocks (one per hull segment: vb_walk_hull_blocks). */
#ifndef VB_METRICS_ENGINE_H
#define VB_METRICS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

struct vb_metrics; /* reports/metrics.h, which includes this header's implementation */

typedef struct vb_walk vb_walk;
vb_walk *vb_walk_begin(uint64_t n_gen, uint64_t n_imp, uint64_t fta_gen, uint64_t fta_imp, int is_distance,
                       struct vb_metrics *out, vb_err *e);
void vb_walk_group(vb_walk *w, double v, uint64_t g, uint64_t i);
size_t vb_walk_hull_blocks(const vb_walk *w);
int vb_walk_end(vb_walk *w, double dprime, struct vb_metrics *out, vb_err *e);

/* The engine's input checks and conversions, with its messages: a score as a similarity
 * (distances negated, -0 -> +0; NaN and the always-accepting infinity refused naming the
 * trial), a label 0/1, and bob's midpoint threshold between adjacent distinct scores. */
int vb_metrics_similarity(double x, int is_distance, size_t trial, double *s, vb_err *e);
int vb_metrics_check_label(uint8_t label, size_t trial, vb_err *e);
double vb_metrics_midpoint(double a, double b);

#endif
