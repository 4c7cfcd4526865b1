/* Verification metrics from scores and labels, exactly as docs/metrics.md defines them.
 *
 * Conventions
 * - Scores are similarities internally: higher = more alike, a trial is accepted when
 *   s >= t. With is_distance set, each input d becomes s = -d, and every threshold this
 *   module reports is converted back to the caller's units (a distance; accepted when
 *   d <= threshold).
 * - FMR(t) = #{impostor s >= t} / N_imp, FNMR(t) = #{genuine s < t} / N_gen, over ALL
 *   trials, failures to acquire included.
 * - Failure to acquire (FTA): a trial involving a sample that failed to acquire is scored
 *   -inf similarity (+inf distance), as NIST FRTE does: it never matches, so it adds to the
 *   FNMR of genuine trials and never to the FMR. fta_genuine/fta_impostor count such
 *   trials. The opposite infinity (+inf similarity, -inf distance) would match everything
 *   and is rejected as bad input, as is NaN.
 * - Operating points: the distinct score values v_0 < ... < v_{m-1} plus "accept nothing";
 *   point k accepts s >= v_k, so tied scores always move together. All error counts are
 *   integers and every comparison between rates is done on exact integer cross-products,
 *   so floating-point noise never picks a threshold.
 *
 * Metrics, in the order vb_metrics lists them (names are stable: metrics.csv uses them):
 *   genuine, impostor          trial counts (FTA trials included)
 *   eer, eer_threshold         bob.measure: candidate thresholds are the extremes (the
 *                              lowest score; "accept nothing") and the midpoints between
 *                              adjacent distinct scores; t* minimises |FMR - FNMR| (ties: the
 *                              highest such t, as bob's `<=` does); eer = (FMR+FNMR)/2 at t*.
 *   eer_fvc_low, eer_fvc_high, eer_fvc
 *                              FVC2000: t2 = first operating point with FMR <= FNMR, t1 the
 *                              one before (t1 = t2 on an exact tie); take t1 if
 *                              FMR+FNMR(t1) <= FMR+FNMR(t2) else t2; [low, high] = [min, max]
 *                              of its FMR and FNMR; eer_fvc = (low + high) / 2.
 *   eer_rocch                  EER of the ROC convex hull (pool-adjacent-violators over the
 *                              groups of tied scores; per hull segment solve
 *                              [[pfa_i, pmiss_i], [pfa_j, pmiss_j]] s = 1, EER_seg =
 *                              1/(s1+s2), degenerate segments 0; EER = max), as bob/Bosaris.
 *   for X in 1e-1, 1e-2, ..., 1e-6, 0 (written exactly so: "fnmr@fmr=1e-3", "fnmr@fmr=0"):
 *   fnmr@fmr=X                 lowest FNMR over operating points with FMR <= X (FVC's FMR100/
 *                              FMR1000 rule, not the nearest FMR); X = 0 is ZeroFMR.
 *   fnmr@fmr=X_threshold       that operating point's threshold v_k (any t in (v_{k-1}, v_k]
 *                              gives the same rates on these scores); when only "accept
 *                              nothing" qualifies, the double just beyond the most similar
 *                              score (nextafter), which rejects every trial.
 *   fnmr@fmr=X_fmr             the FMR achieved there (<= X)
 *   fnmr@fmr=X_false_matches, fnmr@fmr=X_false_nonmatches   the error counts behind them
 *   fnmr@fmr=X_rule_of_3       1 when X < 3/N_imp: even zero false matches cannot show
 *                              FMR <= X at 95% confidence, so the target is not measurable
 *                              with this many impostor trials (always 1 for X = 0); else 0.
 *   fnmr@fmr=X_rule_of_30      1 when the FNMR or the achieved FMR rests on fewer than 30
 *                              errors (Doddington's rule of 30: the rate is then not known to
 *                              +-30% at 90% confidence); else 0.
 *   auc                        area under the ROC (TPR = 1 - FNMR against FMR) by the
 *                              trapezoid rule over all operating points; computed exactly in
 *                              integers, it equals the Mann-Whitney statistic with ties = 1/2.
 *   dprime                     |mu_g - mu_i| / sqrt((sd_g^2 + sd_i^2) / 2), population standard
 *                              deviations, over the finite scores (FTA trials excluded: -inf
 *                              has no mean). +inf when both deviations are 0 and the means
 *                              differ; NaN when no finite score is left on one side.
 *   fta_genuine, fta_impostor  trials scored -inf similarity (+inf distance)
 *   min_hter, min_hter_threshold
 *                              bob.measure's minimum half total error rate: same candidate
 *                              thresholds and tie rule as eer, minimising (FMR + FNMR) / 2.
 *   accuracy_10fold_mean, accuracy_10fold_std, accuracy_10fold_se, accuracy_10fold_folds
 *                              only when folds are given (see vb_kfold_accuracy): LFW View 2
 *                              protocol accuracy (the number papers quote).
 *
 * Speed: building the score set sorts with a radix sort (reports/radix_sort.h); every metric
 * above then comes from ONE merge walk over the sorted genuine and impostor scores. LFW
 * all-vs-all (87M impostor + 240k genuine) takes a few seconds; `veribench metrics
 * --synthetic-bench` measures it. Memory: one copy of the scores plus a same-sized scratch
 * buffer while sorting. */
#ifndef VB_METRICS_H
#define VB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

/* ---- Normal distribution (used by DET plots and the DET decimation) ---- */

/* Phi^-1(p), the standard normal quantile (probit): Acklam's rational approximation
 * refined by Halley steps on erfc, accurate to a few ulp in the lower tail and near 0.5.
 * p = 0 -> -inf, p = 1 -> +inf, p outside [0, 1] or NaN -> NaN. */
double vb_probit(double p);
/* Phi(x), the standard normal CDF. */
double vb_normal_cdf(double x);

/* ---- Sorted score sets ---- */

/* Genuine and impostor similarities, each sorted ascending (-inf first). */
typedef struct vb_scoreset {
    double *gen, *imp;
    size_t n_gen, n_imp;
    size_t fta_gen, fta_imp; /* number of -inf similarities in each */
    int is_distance;         /* inputs were distances: report thresholds as -t */
} vb_scoreset;

/* Builds the set from n trials: labels[i] is 1 (genuine, mated) or 0 (impostor);
 * scores[i] a similarity, or a distance when is_distance. Fails (VB_EXIT_INPUT, naming
 * the 0-based trial index) on NaN, on the infinity that would always match, on a label
 * other than 0/1, and when there is no genuine or no impostor trial; VB_EXIT_IO on
 * allocation failure. Callers reading a file add its name with vb_err_prefix. */
int vb_scoreset_build(vb_scoreset *ss, const double *scores, const uint8_t *labels, size_t n, int is_distance,
                      vb_err *e);
void vb_scoreset_free(vb_scoreset *ss);

/* Conversions between the caller's units and internal similarities. */
double vb_threshold_to_user(const vb_scoreset *ss, double t_similarity);
double vb_threshold_from_user(const vb_scoreset *ss, double t_user);

/* Error counts at a threshold given in the caller's units (accept s >= t, i.e. d <= t);
 * O(log n). The threshold must not be NaN. */
typedef struct vb_rates {
    double threshold; /* as given (caller's units) */
    size_t false_matches, false_nonmatches;
    double fmr, fnmr;
} vb_rates;
void vb_scoreset_rates(const vb_scoreset *ss, double threshold_user, vb_rates *out);

/* ---- Curves and histograms for plots ---- */

typedef struct vb_curve_point {
    double fmr, fnmr;
    double threshold; /* caller's units; the point accepts s >= t (d <= t) */
} vb_curve_point;

/* ROC/DET operating points in order of increasing similarity threshold (FMR falls, FNMR
 * rises), from (1, 0) to the "accept nothing" point (0, 1). Large sets are decimated so
 * that consecutive kept points are at least VB_DET_STEP apart on a probit axis (a few
 * thousand points at most); small sets keep every point. */
#define VB_DET_STEP 0.01
typedef struct vb_curve {
    vb_curve_point *pts;
    size_t n, cap;
} vb_curve;

/* Genuine and impostor score histograms over the same bins, in the caller's units,
 * finite scores only (FTA trials are counted in the metrics instead). Bin b covers
 * [lo + b*width, lo + (b+1)*width); the last bin also holds hi. */
#define VB_HIST_BINS 100
typedef struct vb_hist {
    size_t bins;
    double lo, hi, width;
    uint64_t *gen, *imp;
    uint64_t n_gen, n_imp; /* finite scores counted */
    int is_distance;
} vb_hist;

/* ---- The metric list ---- */

typedef struct vb_metric {
    char name[48];
    double value;
} vb_metric;

typedef struct vb_metrics {
    vb_metric *items; /* in the documented order */
    size_t count, cap;
    vb_curve curve;
    vb_hist hist;
} vb_metrics;

/* Everything at once: builds the score set, computes every metric (plus the 10-fold
 * accuracy when folds is non-NULL and holds at least 2 distinct folds >= 1; fold 0 (or
 * below) means "in no fold", as in datasets/dataset.h), the curve and the histograms, and
 * frees the score set.
 * `out` must be zeroed ({0}) or previously freed. On failure `out` holds nothing. */
int vb_metrics_compute(const double *scores, const uint8_t *labels, const int16_t *folds, size_t n,
                       int is_distance, vb_metrics *out, vb_err *e);

/* The same from an existing score set (no folds), e.g. to also call vb_scoreset_rates. */
int vb_metrics_from_scoreset(const vb_scoreset *ss, vb_metrics *out, vb_err *e);

/* Iteration in the fixed order: for (i = 0; i < vb_metrics_count(m); i++)
 * use vb_metrics_name(m, i), vb_metrics_value(m, i). */
size_t vb_metrics_count(const vb_metrics *m);
const char *vb_metrics_name(const vb_metrics *m, size_t i);
double vb_metrics_value(const vb_metrics *m, size_t i);
/* Looks a metric up by name; returns 0 and sets *value, or -1 when absent. */
int vb_metrics_get(const vb_metrics *m, const char *name, double *value);
/* Appends a (name, value) pair (used internally; callers may add their own rows). */
int vb_metrics_add(vb_metrics *m, const char *name, double value, vb_err *e);
void vb_metrics_free(vb_metrics *m);

/* Writes one CSV row per metric: the prefix fields (e.g. backend, device, quant for the
 * long-format metrics.csv; may be NULL/0), then name, value. No header. Values use the
 * shortest text that reads back to the same double, so thresholds can be reused exactly. */
int vb_metrics_write_csv(const vb_metrics *m, FILE *f, const char *const *prefix, size_t n_prefix, vb_err *e);

/* Shortest "%.{15,16,17}g" text that strtod reads back to exactly x ("inf", "-inf", "nan"
 * for the special values; -0 prints as 0). buf must hold 32 bytes. */
void vb_format_double(double x, char buf[32]);

/* ---- LFW 10-fold accuracy ---- */

/* LFW View 2 protocol: for each fold f, the threshold maximising accuracy on the other
 * folds is applied to fold f. Candidate thresholds: bob's (extremes and midpoints between
 * adjacent distinct training scores); ties: the lowest similarity threshold. Accuracy of a
 * fold = (true matches + true non-matches) / trials in the fold.
 *   mean = unweighted mean of the fold accuracies;
 *   std  = POPULATION standard deviation (divide by K), as the LFW evaluation code that
 *          face-recognition papers use computes it (facenet's and insightface's np.std);
 *   se   = standard error of the mean as the LFW benchmark's README asks for:
 *          SAMPLE standard deviation (divide by K-1) / sqrt(K).
 * Folds are the distinct ids >= 1 present (LFW: 1..10); trials with fold 0 (or below) are
 * in no fold and ignored, the convention of datasets/dataset.h and of the score files
 * `veribench run` writes. */
typedef struct vb_kfold {
    size_t folds;
    double mean, std, se;
} vb_kfold;
/* Returns 1 and fills *out when there are >= 2 folds, 0 when fewer (nothing to compute),
 * -1 on bad input (as vb_scoreset_build) or allocation failure. */
int vb_kfold_accuracy(const double *scores, const uint8_t *labels, const int16_t *folds, size_t n,
                      int is_distance, vb_kfold *out, vb_err *e);

#endif
