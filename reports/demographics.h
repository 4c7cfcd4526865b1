/* Demographic differentials (ISO/IEC 19795-10, NIST FRVT demographic effects): error rates
 * per group of a sample attribute (datasets/attributes.h) at fixed GLOBAL thresholds (one
 * threshold for everyone, the deployment's situation), and their ratios.
 *
 * Which trials count where, per attribute:
 *   - a genuine trial belongs to group g when both samples are labelled g; it counts in g's
 *     FNMR. A genuine trial with an unlabelled sample, or with two different labels, is
 *     excluded from every group and counted (`<attr>:genuine_excluded`).
 *   - an impostor trial of samples labelled g and h belongs to the unordered pair {g, h}:
 *     same-group pairs (F+F) and cross-group pairs (F+M) are reported separately; F+M and
 *     M+F are one pair (written with the groups in byte order). An impostor trial with an
 *     unlabelled sample is excluded and counted (`<attr>:impostor_excluded`).
 *   - samples without a label: `<attr>:samples_unlabelled`.
 *
 * Operating points (thresholds in the scores' units, accepted when s >= t, d <= t for
 * distances, as everywhere): the model's threshold (`threshold`), the global threshold of
 * each measurable fnmr@fmr=X target (`fmr=1e-3`: the threshold of metrics.csv's
 * fnmr@fmr=1e-3_threshold, chosen over ALL trials), and the calibrated threshold of
 * `run --target-fmr` (`calibrated`; only with --calibration-trials, whose evaluation set is
 * all of the run's trials: with --calibration-folds the evaluation is a subset, so it is
 * left out).
 *
 * metrics.csv rows (all after the engine's rows of the combination), named
 * `<scope>:<metric>` with scope `<attr>` (the attribute), `<attr>=<g>` (a group) or
 * `<attr>=<g>+<h>` (a pair of groups, g <= h in byte order), and P a point name above:
 *   <attr>:samples_unlabelled, <attr>:genuine_excluded, <attr>:impostor_excluded   counts
 *   <attr>=<g>:samples, <attr>=<g>:genuine          counts
 *   <attr>=<g>+<h>:impostor                         count
 *   <attr>=<g>:fnmr@P + VB_DEMOG_RATE_ROWS suffixes  FNMR of g's genuine trials at P
 *   <attr>=<g>+<h>:fmr@P + the same suffixes         FMR of the pair's impostor trials at P
 *   <attr>:fnmr_ratio@P, <attr>:fmr_ratio@P + VB_DEMOG_RATIO_ROWS suffixes
 *       max over min of the groups' FNMR, of the SAME-group pairs' FMR (F+F against M+M;
 *       cross-group pairs are not in the ratio), over groups with at least one trial.
 * e.g. `sex=F+F:fmr@fmr=1e-3`, `sex=F:fnmr@threshold_ci_high`, `sex:fmr_ratio@fmr=1e-3_ci_high`.
 * Gates name these rows like any other (reports/gate.h), bound `upper` reading `_ci_high`.
 *
 * Intervals: each group's rate has Clopper-Pearson and Wilson intervals (reports/intervals.h)
 * at the run's confidence level. The ratio's interval is a documented CONSERVATIVE bound built
 * from the groups' intervals: with k groups, each group's Clopper-Pearson interval
 * [lo_g, hi_g] at level 1 - (1 - level) / k (Bonferroni, so all k hold together with
 * probability >= level); the true max/min ratio then lies in
 *   [max(1, max_g lo_g / min_g hi_g),  max_g hi_g / min_g lo_g]
 * (inf when some lo_g is 0). The ratio is NaN with fewer than two groups or when every rate
 * is 0, inf when the smallest is 0 and another is not.
 * Flags, per rate: rule_of_3 = 1 when 3 / trials is above the overall rate at that threshold
 * (even zero errors could not show this group doing as well as everyone: the group is too
 * small to support the figure); rule_of_30 = 1 when the rate rests on fewer than 30 errors;
 * a ratio's rule_of_30 = 1 when any of its groups' does.
 *
 * Streaming: the counts at fixed thresholds are sums over trials (vb_demog_add, O(groups^2)
 * memory, no per-trial array); accumulators of disjoint trial ranges add up
 * (vb_demog_acc_merge). The per-group DET curves are counted at the global DET curve's
 * thresholds (reports/metrics.h vb_curve), so they too need only a histogram per group. */
#ifndef VB_DEMOGRAPHICS_H
#define VB_DEMOGRAPHICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "datasets/attributes.h"
#include "datasets/dataset.h"
#include "reports/metrics.h"
#include "reports/scores.h"

#define VB_DEMOG_MAX_POINTS 10

/* X(field, "suffix", "unit", "description") */
#define VB_DEMOG_RATE_ROWS(X)                                                                                        \
    X(rate, "", "rate", "the group's rate at the point's global threshold")                                         \
    X(errors, "_errors", "count", "errors behind it (false non-matches, false matches)")                            \
    X(ci_low, "_ci_low", "rate", "Clopper-Pearson lower bound")                                                    \
    X(ci_high, "_ci_high", "rate", "Clopper-Pearson upper bound")                                                  \
    X(wilson_low, "_wilson_low", "rate", "Wilson lower bound")                                                      \
    X(wilson_high, "_wilson_high", "rate", "Wilson upper bound")                                                    \
    X(vs_overall, "_vs_overall", "ratio", "the rate over the overall rate at that threshold")                      \
    X(rule_of_3, "_rule_of_3", "flag", "1: 3/trials is above the overall rate (rule of 3: group too small)")       \
    X(rule_of_30, "_rule_of_30", "flag", "1: fewer than 30 errors (rule of 30)")
#define VB_DEMOG_RATIO_ROWS(X)                                                                                       \
    X(ratio, "", "ratio", "max over min of the groups' rates")                                                     \
    X(ci_low, "_ci_low", "ratio", "conservative lower bound (Bonferroni group intervals)")                         \
    X(ci_high, "_ci_high", "ratio", "conservative upper bound (Bonferroni group intervals)")                       \
    X(rule_of_30, "_rule_of_30", "flag", "1: a group's rate rests on fewer than 30 errors")

typedef struct vb_demog_rate {
#define VB_DEMOG_FIELD(f, s, u, d) double f;
    VB_DEMOG_RATE_ROWS(VB_DEMOG_FIELD)
} vb_demog_rate;
typedef struct vb_demog_ratio {
    VB_DEMOG_RATIO_ROWS(VB_DEMOG_FIELD)
#undef VB_DEMOG_FIELD
} vb_demog_ratio;

/* A group (genuine trials, FNMR) or a pair of groups (impostor trials, FMR). */
typedef struct vb_demog_cell {
    double samples;  /* groups: labelled samples; pairs: unused (NaN) */
    double trials;   /* groups: genuine trials; pairs: impostor trials */
    vb_demog_rate at[VB_DEMOG_MAX_POINTS];
} vb_demog_cell;

typedef struct vb_demog_attr {
    char name[VB_ATTR_NAME_MAX];
    size_t n_groups;
    char groups[VB_ATTR_MAX_VALUES][VB_ATTR_NAME_MAX];
    double samples_unlabelled, genuine_excluded, impostor_excluded;
    vb_demog_cell group[VB_ATTR_MAX_VALUES];
    vb_demog_cell *pair[VB_ATTR_MAX_VALUES][VB_ATTR_MAX_VALUES]; /* [g][h], g <= h; NULL: none */
    vb_demog_ratio fnmr_ratio[VB_DEMOG_MAX_POINTS], fmr_ratio[VB_DEMOG_MAX_POINTS];
    /* not rows: the per-group DET (FNMR of g against FMR of g+g at the global curve's
     * thresholds), empty when not computed; and its plot stem ("" if none) */
    vb_curve det[VB_ATTR_MAX_VALUES];
    char det_plot[192];
} vb_demog_attr;

typedef struct vb_demog_point {
    char name[32];    /* "threshold", "fmr=1e-3", "calibrated" */
    double threshold; /* the scores' units */
} vb_demog_point;

/* The differentials of one combination (heap: vb_demog_new / vb_demog_free). */
typedef struct vb_demog {
    size_t n_points;
    vb_demog_point point[VB_DEMOG_MAX_POINTS];
    size_t n_attrs;
    vb_demog_attr attr[VB_ATTR_MAX];
    double level;     /* confidence of the intervals */
} vb_demog;

vb_demog *vb_demog_new(vb_err *e);
void vb_demog_free(vb_demog *d);

/* The operating points of m (engine rows present): the model threshold when m has it, each
 * fnmr@fmr=X (X = 1e-1..1e-6) whose rule_of_3 is 0, and with_calibrated the calibrated
 * threshold. Thresholds in m's units. Returns the count (<= VB_DEMOG_MAX_POINTS). */
size_t vb_demog_points(const vb_metrics *m, int with_calibrated, vb_demog_point *out);

/* ---- counting (streamable) ---- */

typedef struct vb_demog_acc vb_demog_acc;

/* An accumulator over attrs at the given points; curve (may be NULL) is the global DET curve
 * whose thresholds the per-group DETs use. is_distance: the scores' units. */
vb_demog_acc *vb_demog_acc_new(const vb_attributes *attrs, const vb_demog_point *points, size_t n_points,
                               const vb_curve *curve, int is_distance, vb_err *e);
/* One trial: samples a and b (dataset indices), label 1 genuine / 0 impostor, its score. */
void vb_demog_add(vb_demog_acc *acc, uint32_t a, uint32_t b, uint8_t label, double score);
/* Adds src's counts to dst (same attributes, points and curve). */
void vb_demog_acc_merge(vb_demog_acc *dst, const vb_demog_acc *src);
/* The rows from the counts: rates, intervals at level, ratios, flags, per-group DETs. */
int vb_demog_finish(const vb_demog_acc *acc, double level, vb_demog *out, vb_err *e);
void vb_demog_acc_free(vb_demog_acc *acc);

/* Everything for one combination of a run: the trials of ds (in the dataset's trial order,
 * s->n of them, scored in s), counted over `threads` threads, at the points of m
 * (vb_demog_points), with the per-group DETs on m's curve. *out is NULL when attrs has no
 * attribute. */
int vb_demog_from_scores(const vb_dataset *ds, const vb_attributes *attrs, const vb_scores *s, const vb_metrics *m,
                         int with_calibrated, double level, int threads, vb_demog **out, vb_err *e);

/* The same a chunk at a time (bounded memory: `veribench run` reads its score file back
 * chunk by chunk): a counter at the points of m, chunks of trials in any order (sample
 * indices a[i], b[i], label and score of s), each split over `threads` accumulators. */
typedef struct vb_demog_counter vb_demog_counter;
vb_demog_counter *vb_demog_counter_new(const vb_attributes *attrs, const vb_metrics *m, int with_calibrated,
                                       int is_distance, int threads, vb_err *e);
void vb_demog_counter_add(vb_demog_counter *c, const uint32_t *a, const uint32_t *b, const vb_scores *s);
/* The rows into *out; frees c in every case. */
int vb_demog_counter_finish(vb_demog_counter *c, double level, vb_demog **out, vb_err *e);
void vb_demog_counter_free(vb_demog_counter *c);

/* ---- rows ---- */

/* Every row of d as CSV `prefix...,name,value` lines (the metrics.csv layout). */
int vb_demog_write_csv(const vb_demog *d, FILE *f, const char *const *prefix, size_t n_prefix, vb_err *e);

/* A parsed row name. */
typedef struct vb_demog_name {
    char attr[VB_ATTR_NAME_MAX], g[VB_ATTR_NAME_MAX], h[VB_ATTR_NAME_MAX];
    int scope;        /* 0 attribute, 1 group, 2 pair */
    char point[32];   /* "" for point-free rows */
    const char *unit;
    int has_interval; /* the row has _ci_low/_ci_high rows (a rate or ratio without suffix) */
    /* where the value goes: */
    int kind;         /* internal */
    size_t field;     /* internal */
} vb_demog_name;

/* 1 and *out filled when name is a demographic row name (above), else 0. */
int vb_demog_parse_name(const char *name, vb_demog_name *out);

/* Puts the value of row `name` into d (attribute, groups and points created as met). Returns
 * 1 when the name is a demographic row, 0 when not (ignored), -1 when d is full. */
int vb_demog_set_row(vb_demog *d, const char *name, double value);

/* After reading rows back: the level (m->confidence) and each point's threshold from the
 * engine's rows of the same combination. */
void vb_demog_set_context(vb_demog *d, const vb_metrics *m);

/* ---- report sections ---- */

/* The section of one combination in report.md: per attribute, a summary line, the table and,
 * when drawn, the per-group DET plot. */
void vb_demog_write_md(FILE *f, const char *combo, const vb_demog *d);

/* The same pieces for other renderers (report.html escapes them itself): the table's header
 * cells, one line per rate and ratio through `line` (cells as plain text), the summary
 * line of an attribute (groups, unlabelled samples, excluded trials) and the explanation
 * that goes with every table. */
#define VB_DEMOG_COLUMNS 8
extern const char *const vb_demog_columns[VB_DEMOG_COLUMNS];
typedef void (*vb_demog_line_fn)(void *arg, const char *const *cells, size_t n);
void vb_demog_table(const vb_demog *d, const vb_demog_attr *a, vb_demog_line_fn line, void *arg);
void vb_demog_attr_summary(const vb_demog_attr *a, char *buf, size_t n);
extern const char *const vb_demog_explanation;

#endif
