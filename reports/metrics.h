/* Verification metrics of a set of trial scores (reports/scores.h: vb_scores), exactly as
 * docs/metrics.md defines them, as a typed struct (vb_metrics) named by one table (VB_METRICS).
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
 * The engine's metrics (group CORE, then KFOLD), in metrics.csv order; the CSV names are
 * stable; the vb_metrics field of each is in VB_METRICS (fnmr@fmr=X... -> fnmr_at_fmr[j]):
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
 * Beyond these engine rows, the same typed struct carries the rows other steps add (each
 * group below is written only when that step filled it): `veribench metrics --threshold T`
 * (threshold, threshold_fmr, ...), and `veribench run`'s model-threshold operating point,
 * sample counts, throughput, change against fp32 and the synthetic-bench timings. The full
 * list with units and descriptions is VB_METRICS below, in metrics.csv order.
 *
 * Confidence intervals (reports/intervals.h computes them) come last, as one block after
 * every row above, so earlier rows keep their order: `confidence` (the level), then for each
 * rate R that is k errors out of n trials, R_ci_low/_ci_high (Clopper-Pearson, what a gate
 * compares), R_wilson_low/_wilson_high (Wilson) and, in a run, R_boot_low/_boot_high (subject
 * bootstrap); the rates: fnmr@fmr=X and fnmr@fmr=X_fmr (every X), threshold_fmr/_fnmr,
 * fmr@threshold/fnmr@threshold; then bootstrap_replicates/_seed/_subjects and the calibrated
 * operating point of `run --target-fmr X --calibration-folds L` (calibrated_threshold,
 * calibrated_fmr, calibrated_fnmr, counts, intervals, bootstrap). Groups VB_MG_CI*,
 * VB_MG_BOOT*, VB_MG_CALIBRATION.
 *
 * Speed: the engine sorts genuine and impostor scores with a radix sort
 * (reports/radix_sort.h) into its private index; every metric above then comes from ONE
 * merge walk over the two sorted arrays. LFW all-vs-all (87M impostor + 240k genuine) takes
 * a few seconds; `veribench metrics --synthetic-bench` measures it. Memory: one copy of the
 * scores plus a same-sized scratch buffer while sorting; reports/metrics_bounded.h computes
 * the same in memory that does not grow with the trial count (what `veribench run` uses). */
#ifndef VB_METRICS_H
#define VB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "reports/scores.h"

/* ---- Normal distribution (used by DET plots and the DET decimation) ---- */

/* Phi^-1(p), the standard normal quantile (probit): Acklam's rational approximation
 * refined by Halley steps on erfc, accurate to a few ulp in the lower tail and near 0.5.
 * p = 0 -> -inf, p = 1 -> +inf, p outside [0, 1] or NaN -> NaN. */
double vb_probit(double p);
/* Phi(x), the standard normal CDF. */
double vb_normal_cdf(double x);

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

/* ---- The metrics: a typed struct, and the table that names its fields ---- */

/* The FNMR@FMR targets, in metrics.csv order: FMR <= 1e-1 .. 1e-6, then 0 (ZeroFMR). */
enum vb_fmr_target { VB_FMR_1E1, VB_FMR_1E2, VB_FMR_1E3, VB_FMR_1E4, VB_FMR_1E5, VB_FMR_1E6, VB_FMR_ZERO,
                     VB_FMR_TARGETS };
/* "1e-1", ..., "1e-6", "0": the X in the metric names fnmr@fmr=X... */
extern const char *const vb_fmr_target_text[VB_FMR_TARGETS];

/* Interval fields (rows VB_CI_ROWS / VB_BOOT_ROWS). */
typedef struct vb_rate_ci {
    double ci_low, ci_high, wilson_low, wilson_high;
} vb_rate_ci;
typedef struct vb_boot_ci {
    double low, high;
} vb_boot_ci;

typedef struct vb_fnmr_at_fmr {
    double fnmr, threshold, fmr, false_matches, false_nonmatches, rule_of_3, rule_of_30;
} vb_fnmr_at_fmr;

/* Row groups: a row is written when its group's bit is set in vb_metrics.have. The engine
 * sets CORE (and KFOLD when folds are given); the callers that fill the other fields set
 * their bits. Groups, not NaN, say what is present: a computed value may be NaN (d'). */
enum vb_metric_group {
    VB_MG_CORE = 1 << 0,            /* the engine, always */
    VB_MG_KFOLD = 1 << 1,           /* LFW 10-fold accuracy (>= 2 folds given) */
    VB_MG_AT_THRESHOLD = 1 << 2,    /* veribench metrics --threshold T */
    VB_MG_MODEL_THRESHOLD = 1 << 3, /* veribench run: at the model's own decision threshold */
    VB_MG_RUN = 1 << 4,             /* veribench run: sample counts, model size */
    VB_MG_THROUGHPUT = 1 << 5,      /* veribench run: when the backend time was measured */
    VB_MG_VS_FP32 = 1 << 6,         /* veribench run: a level against fp32, same backend+device */
    VB_MG_BENCH = 1 << 7,           /* veribench metrics --synthetic-bench */
    /* confidence intervals (reports/intervals.h), each written only when computed: */
    VB_MG_CI = 1 << 8,                    /* Wilson + Clopper-Pearson of the CORE rates */
    VB_MG_CI_AT_THRESHOLD = 1 << 9,       /* ... of the --threshold rates */
    VB_MG_CI_MODEL_THRESHOLD = 1 << 10,   /* ... of the model-threshold rates (run) */
    VB_MG_BOOT = 1 << 11,                 /* subject bootstrap of the CORE rates (run) */
    VB_MG_BOOT_MODEL_THRESHOLD = 1 << 12, /* ... of the model-threshold rates (run) */
    VB_MG_CALIBRATION = 1 << 13,          /* run --target-fmr: calibrated operating point */
    VB_MG_BOOT_CALIBRATION = 1 << 14,     /* subject bootstrap of the calibrated rates (run) */
};

/* X(field, "csv name", groups, "unit", "description"), in metrics.csv order. The CSV names
 * are stable (metrics.csv, veribench metrics, gates, the README). `field` is a member
 * designator of vb_metrics, so a misspelled metric is a compile error wherever it is used.
 * Units: count, rate (a fraction in [0, 1]), score (a threshold in the caller's units: a
 * distance with --distance / in a run), flag (0/1), and physical units. */
#define VB_FMR_TARGET_ROWS(X, j, x)                                                                                   \
    X(fnmr_at_fmr[j].fnmr, "fnmr@fmr=" x, VB_MG_CORE, "rate", "lowest FNMR over operating points with FMR <= " x)    \
    X(fnmr_at_fmr[j].threshold, "fnmr@fmr=" x "_threshold", VB_MG_CORE, "score", "that operating point's threshold") \
    X(fnmr_at_fmr[j].fmr, "fnmr@fmr=" x "_fmr", VB_MG_CORE, "rate", "the FMR achieved there (<= " x ")")             \
    X(fnmr_at_fmr[j].false_matches, "fnmr@fmr=" x "_false_matches", VB_MG_CORE, "count", "false matches there")      \
    X(fnmr_at_fmr[j].false_nonmatches, "fnmr@fmr=" x "_false_nonmatches", VB_MG_CORE, "count",                       \
      "false non-matches there")                                                                                      \
    X(fnmr_at_fmr[j].rule_of_3, "fnmr@fmr=" x "_rule_of_3", VB_MG_CORE, "flag",                                      \
      "1: FMR <= " x " is not measurable with this many impostor trials (rule of 3)")                                 \
    X(fnmr_at_fmr[j].rule_of_30, "fnmr@fmr=" x "_rule_of_30", VB_MG_CORE, "flag",                                    \
      "1: the FNMR or FMR there rests on fewer than 30 errors (rule of 30)")

/* The interval rows of one rate `name` (a rate that is k errors out of n trials):
 * _ci_low/_ci_high Clopper-Pearson (the conservative bound a gate compares against),
 * _wilson_low/_wilson_high Wilson, _boot_low/_boot_high the subject bootstrap's percentile
 * interval; all at the level of the `confidence` row (reports/intervals.h). */
#define VB_CI_ROWS(X, f, name, group)                                                                                 \
    X(f.ci_low, name "_ci_low", group, "rate", "Clopper-Pearson lower bound of " name)                               \
    X(f.ci_high, name "_ci_high", group, "rate", "Clopper-Pearson upper bound of " name)                             \
    X(f.wilson_low, name "_wilson_low", group, "rate", "Wilson lower bound of " name)                                \
    X(f.wilson_high, name "_wilson_high", group, "rate", "Wilson upper bound of " name)
#define VB_BOOT_ROWS(X, f, name, group)                                                                               \
    X(f.low, name "_boot_low", group, "rate", "subject-bootstrap lower bound of " name)                              \
    X(f.high, name "_boot_high", group, "rate", "subject-bootstrap upper bound of " name)
#define VB_FMR_TARGET_CI_ROWS(X, j, x)                                                                                \
    VB_CI_ROWS(X, fnmr_at_fmr_ci[j], "fnmr@fmr=" x, VB_MG_CI)                                                         \
    VB_BOOT_ROWS(X, fnmr_at_fmr_boot[j], "fnmr@fmr=" x, VB_MG_BOOT)                                                   \
    VB_CI_ROWS(X, fmr_at_fmr_ci[j], "fnmr@fmr=" x "_fmr", VB_MG_CI)                                                   \
    VB_BOOT_ROWS(X, fmr_at_fmr_boot[j], "fnmr@fmr=" x "_fmr", VB_MG_BOOT)

#define VB_METRICS(X)                                                                                                 \
    X(genuine, "genuine", VB_MG_CORE, "count", "genuine trials, FTA included")                                        \
    X(impostor, "impostor", VB_MG_CORE, "count", "impostor trials, FTA included")                                     \
    X(eer, "eer", VB_MG_CORE, "rate", "equal error rate, bob.measure")                                                \
    X(eer_threshold, "eer_threshold", VB_MG_CORE, "score", "bob.measure's EER threshold")                             \
    X(eer_fvc_low, "eer_fvc_low", VB_MG_CORE, "rate", "FVC2000 EER interval, low end")                                \
    X(eer_fvc_high, "eer_fvc_high", VB_MG_CORE, "rate", "FVC2000 EER interval, high end")                             \
    X(eer_fvc, "eer_fvc", VB_MG_CORE, "rate", "FVC2000 EER (interval midpoint)")                                      \
    X(eer_rocch, "eer_rocch", VB_MG_CORE, "rate", "EER of the ROC convex hull")                                       \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E1, "1e-1")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E2, "1e-2")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E3, "1e-3")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E4, "1e-4")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E5, "1e-5")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_1E6, "1e-6")                                                                         \
    VB_FMR_TARGET_ROWS(X, VB_FMR_ZERO, "0")                                                                           \
    X(auc, "auc", VB_MG_CORE, "rate", "area under the ROC")                                                           \
    X(dprime, "dprime", VB_MG_CORE, "sd", "d' over finite scores (NaN when one side has none)")                       \
    X(fta_genuine, "fta_genuine", VB_MG_CORE, "count", "genuine trials scored as failure to acquire")                 \
    X(fta_impostor, "fta_impostor", VB_MG_CORE, "count", "impostor trials scored as failure to acquire")              \
    X(min_hter, "min_hter", VB_MG_CORE, "rate", "minimum half total error rate, bob.measure")                         \
    X(min_hter_threshold, "min_hter_threshold", VB_MG_CORE, "score", "its threshold")                                 \
    X(accuracy_10fold_mean, "accuracy_10fold_mean", VB_MG_KFOLD, "rate", "LFW View 2 accuracy, mean of folds")        \
    X(accuracy_10fold_std, "accuracy_10fold_std", VB_MG_KFOLD, "rate", "population std of the fold accuracies")       \
    X(accuracy_10fold_se, "accuracy_10fold_se", VB_MG_KFOLD, "rate", "standard error (sample std / sqrt(K))")         \
    X(accuracy_10fold_folds, "accuracy_10fold_folds", VB_MG_KFOLD, "count", "folds K")                                \
    X(threshold, "threshold", VB_MG_AT_THRESHOLD | VB_MG_MODEL_THRESHOLD, "score",                                    \
      "the threshold of the rows below: --threshold T, or the model's own in a run")                                  \
    X(threshold_fmr, "threshold_fmr", VB_MG_AT_THRESHOLD, "rate", "FMR at --threshold")                               \
    X(threshold_fnmr, "threshold_fnmr", VB_MG_AT_THRESHOLD, "rate", "FNMR at --threshold")                            \
    X(threshold_false_matches, "threshold_false_matches", VB_MG_AT_THRESHOLD, "count", "false matches there")         \
    X(threshold_false_nonmatches, "threshold_false_nonmatches", VB_MG_AT_THRESHOLD, "count",                          \
      "false non-matches there")                                                                                      \
    X(threshold_hter, "threshold_hter", VB_MG_AT_THRESHOLD, "rate", "(FMR + FNMR) / 2 there")                         \
    X(fmr_at_threshold, "fmr@threshold", VB_MG_MODEL_THRESHOLD, "rate", "FMR at the model's threshold")               \
    X(fnmr_at_threshold, "fnmr@threshold", VB_MG_MODEL_THRESHOLD, "rate", "FNMR at the model's threshold")            \
    X(false_matches_at_threshold, "false_matches@threshold", VB_MG_MODEL_THRESHOLD, "count", "false matches there")   \
    X(false_nonmatches_at_threshold, "false_nonmatches@threshold", VB_MG_MODEL_THRESHOLD, "count",                    \
      "false non-matches there")                                                                                      \
    X(samples, "samples", VB_MG_RUN, "count", "samples embedded")                                                     \
    X(fta_samples, "fta_samples", VB_MG_RUN, "count", "samples that failed to acquire")                               \
    X(model_bytes, "model_bytes", VB_MG_RUN, "bytes", "tensor bytes of the model at this level")                      \
    X(faces_per_s, "faces_per_s", VB_MG_THROUGHPUT, "1/s", "backend throughput")                                      \
    X(ms_per_face, "ms_per_face", VB_MG_THROUGHPUT, "ms", "backend time per face")                                    \
    X(eer_delta_vs_fp32, "eer_delta_vs_fp32", VB_MG_VS_FP32, "rate", "eer minus fp32's")                              \
    X(fnmr_at_fmr_1e3_delta_vs_fp32, "fnmr@fmr=1e-3_delta_vs_fp32", VB_MG_VS_FP32, "rate",                          \
      "fnmr@fmr=1e-3 minus fp32's")                                                                                   \
    X(fnmr_at_threshold_delta_vs_fp32, "fnmr@threshold_delta_vs_fp32", VB_MG_VS_FP32, "rate",                        \
      "fnmr@threshold minus fp32's")                                                                                  \
    X(cosine_vs_fp32_mean, "cosine_vs_fp32_mean", VB_MG_VS_FP32, "cosine", "descriptor cosine against fp32, mean")    \
    X(cosine_vs_fp32_min, "cosine_vs_fp32_min", VB_MG_VS_FP32, "cosine", "descriptor cosine against fp32, worst")     \
    X(model_bytes_ratio_vs_fp32, "model_bytes_ratio_vs_fp32", VB_MG_VS_FP32, "ratio", "model bytes over fp32's")      \
    X(bench_trials, "bench_trials", VB_MG_BENCH, "count", "synthetic trials")                                         \
    X(bench_generate_s, "bench_generate_s", VB_MG_BENCH, "s", "generating them")                                      \
    X(bench_build_sort_s, "bench_build_sort_s", VB_MG_BENCH, "s", "validate, split, radix sort")                      \
    X(bench_walk_s, "bench_walk_s", VB_MG_BENCH, "s", "the merge walk and its observers")                             \
    X(bench_metrics_s, "bench_metrics_s", VB_MG_BENCH, "s", "the whole metrics step (wall)")                          \
    X(bench_metrics_cpu_s, "bench_metrics_cpu_s", VB_MG_BENCH, "s", "the same in CPU time, both threads")          \
    X(confidence, "confidence",                                                                                       \
      VB_MG_CI | VB_MG_CI_AT_THRESHOLD | VB_MG_CI_MODEL_THRESHOLD | VB_MG_BOOT | VB_MG_CALIBRATION, "rate",           \
      "confidence level of every interval row below (--confidence)")                                                 \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E1, "1e-1")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E2, "1e-2")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E3, "1e-3")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E4, "1e-4")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E5, "1e-5")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_1E6, "1e-6")                                                                      \
    VB_FMR_TARGET_CI_ROWS(X, VB_FMR_ZERO, "0")                                                                        \
    VB_CI_ROWS(X, threshold_fmr_ci, "threshold_fmr", VB_MG_CI_AT_THRESHOLD)                                           \
    VB_CI_ROWS(X, threshold_fnmr_ci, "threshold_fnmr", VB_MG_CI_AT_THRESHOLD)                                         \
    VB_CI_ROWS(X, fmr_at_threshold_ci, "fmr@threshold", VB_MG_CI_MODEL_THRESHOLD)                                     \
    VB_BOOT_ROWS(X, fmr_at_threshold_boot, "fmr@threshold", VB_MG_BOOT_MODEL_THRESHOLD)                               \
    VB_CI_ROWS(X, fnmr_at_threshold_ci, "fnmr@threshold", VB_MG_CI_MODEL_THRESHOLD)                                   \
    VB_BOOT_ROWS(X, fnmr_at_threshold_boot, "fnmr@threshold", VB_MG_BOOT_MODEL_THRESHOLD)                             \
    X(bootstrap_replicates, "bootstrap_replicates", VB_MG_BOOT, "count", "bootstrap replicates (--bootstrap)")       \
    X(bootstrap_seed, "bootstrap_seed", VB_MG_BOOT, "count", "the bootstrap's seed (--seed)")                         \
    X(bootstrap_subjects, "bootstrap_subjects", VB_MG_BOOT, "count", "subjects resampled (those in the trials)")     \
    X(calibrated_target_fmr, "calibrated_target_fmr", VB_MG_CALIBRATION, "rate", "--target-fmr")                     \
    X(calibrated_threshold, "calibrated_threshold", VB_MG_CALIBRATION, "score",                                      \
      "threshold chosen on the calibration split: lowest FNMR with FMR <= the target there")                          \
    X(calibrated_calibration_fmr, "calibrated_calibration_fmr", VB_MG_CALIBRATION, "rate",                            \
      "the FMR it achieves on the calibration split")                                                                 \
    X(calibrated_genuine, "calibrated_genuine", VB_MG_CALIBRATION, "count", "genuine trials of the evaluation split") \
    X(calibrated_impostor, "calibrated_impostor", VB_MG_CALIBRATION, "count",                                        \
      "impostor trials of the evaluation split")                                                                      \
    X(calibrated_fmr, "calibrated_fmr", VB_MG_CALIBRATION, "rate", "FMR at that threshold on the evaluation split")   \
    X(calibrated_fnmr, "calibrated_fnmr", VB_MG_CALIBRATION, "rate", "FNMR at that threshold on the evaluation split")\
    X(calibrated_false_matches, "calibrated_false_matches", VB_MG_CALIBRATION, "count", "false matches there")       \
    X(calibrated_false_nonmatches, "calibrated_false_nonmatches", VB_MG_CALIBRATION, "count",                        \
      "false non-matches there")                                                                                      \
    VB_CI_ROWS(X, calibrated_fmr_ci, "calibrated_fmr", VB_MG_CALIBRATION)                                             \
    VB_BOOT_ROWS(X, calibrated_fmr_boot, "calibrated_fmr", VB_MG_BOOT_CALIBRATION)                                    \
    VB_CI_ROWS(X, calibrated_fnmr_ci, "calibrated_fnmr", VB_MG_CALIBRATION)                                           \
    VB_BOOT_ROWS(X, calibrated_fnmr_boot, "calibrated_fnmr", VB_MG_BOOT_CALIBRATION)

/* Every field the table names is a double in one contiguous block (first .. last row), so a
 * field left out of the table fails a static assertion in metrics.c. Fields not computed
 * hold NaN (vb_metrics_init). */
typedef struct vb_metrics {
    unsigned have; /* vb_metric_group bits */
    double genuine, impostor, eer, eer_threshold, eer_fvc_low, eer_fvc_high, eer_fvc, eer_rocch;
    vb_fnmr_at_fmr fnmr_at_fmr[VB_FMR_TARGETS];
    double auc, dprime, fta_genuine, fta_impostor, min_hter, min_hter_threshold;
    double accuracy_10fold_mean, accuracy_10fold_std, accuracy_10fold_se, accuracy_10fold_folds;
    double threshold, threshold_fmr, threshold_fnmr, threshold_false_matches, threshold_false_nonmatches,
        threshold_hter;
    double fmr_at_threshold, fnmr_at_threshold, false_matches_at_threshold, false_nonmatches_at_threshold;
    double samples, fta_samples, model_bytes;
    double faces_per_s, ms_per_face;
    double eer_delta_vs_fp32, fnmr_at_fmr_1e3_delta_vs_fp32, fnmr_at_threshold_delta_vs_fp32, cosine_vs_fp32_mean,
        cosine_vs_fp32_min, model_bytes_ratio_vs_fp32;
    double bench_trials, bench_generate_s, bench_build_sort_s, bench_walk_s, bench_metrics_s, bench_metrics_cpu_s;
    double confidence;
    vb_rate_ci fnmr_at_fmr_ci[VB_FMR_TARGETS], fmr_at_fmr_ci[VB_FMR_TARGETS];
    vb_boot_ci fnmr_at_fmr_boot[VB_FMR_TARGETS], fmr_at_fmr_boot[VB_FMR_TARGETS];
    vb_rate_ci threshold_fmr_ci, threshold_fnmr_ci, fmr_at_threshold_ci, fnmr_at_threshold_ci;
    vb_boot_ci fmr_at_threshold_boot, fnmr_at_threshold_boot;
    double bootstrap_replicates, bootstrap_seed, bootstrap_subjects;
    double calibrated_target_fmr, calibrated_threshold, calibrated_calibration_fmr, calibrated_genuine,
        calibrated_impostor, calibrated_fmr, calibrated_fnmr, calibrated_false_matches, calibrated_false_nonmatches;
    vb_rate_ci calibrated_fmr_ci;
    vb_boot_ci calibrated_fmr_boot;
    vb_rate_ci calibrated_fnmr_ci;
    vb_boot_ci calibrated_fnmr_boot;
    /* not rows: */
    double build_s, walk_s; /* wall time of the engine's sort and of its walk (for the bench) */
    vb_curve curve;
    vb_hist hist;
} vb_metrics;

/* One row of the table, for code that must go by name or iterate (the CSV writer, the
 * report's full list, gates given a name on a command line). */
typedef struct vb_metric_row {
    const char *name, *unit, *description;
    unsigned groups;
    size_t offset; /* of the double in vb_metrics */
} vb_metric_row;
extern const vb_metric_row vb_metric_rows[];
extern const size_t vb_metric_row_count;
/* The row called `name` (CSV name), or NULL. */
const vb_metric_row *vb_metric_find(const char *name);
/* Whether m holds the row (its group is computed), and its value. */
int vb_metric_present(const vb_metrics *m, const vb_metric_row *r);
double vb_metric_value(const vb_metrics *m, const vb_metric_row *r);

/* Every field NaN, no group, empty curve and histograms. */
void vb_metrics_init(vb_metrics *m);

/* Everything at once from the trials: validates and sorts them (fails with VB_EXIT_INPUT,
 * naming the 0-based trial index, on NaN, on the infinity that would always match, on a
 * label other than 0/1, and when there is no genuine or no impostor trial; VB_EXIT_IO on
 * allocation failure; callers reading a file add its name with vb_err_prefix), computes
 * every CORE metric, the curve and the histograms, and, when s->fold is non-NULL and holds
 * at least 2 distinct folds >= 1, the KFOLD rows. Thresholds are in s's units
 * (s->is_distance). `out` is initialised here (any previous content is NOT freed); on
 * failure it holds nothing (as vb_metrics_init). */
int vb_metrics_compute(const vb_scores *s, vb_metrics *out, vb_err *e);
void vb_metrics_free(vb_metrics *m);

/* Writes one CSV row per present metric in table order: the prefix fields (e.g. backend,
 * device, quant for the long-format metrics.csv; may be NULL/0), then name, value. No
 * header. Values use the shortest text that reads back to the same double, so thresholds
 * can be reused exactly. */
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
 * Folds are the distinct ids >= 1 present in s->fold (LFW: 1..10); trials with fold 0 are
 * in no fold and ignored, the convention of datasets/dataset.h and of the score files
 * `veribench run` writes. */
typedef struct vb_kfold {
    size_t folds;
    double mean, std, se;
} vb_kfold;
/* Returns 1 and fills *out when there are >= 2 folds, 0 when fewer or s->fold is NULL
 * (nothing to compute), -1 on bad input (as vb_metrics_compute) or allocation failure. */
int vb_kfold_accuracy(const vb_scores *s, vb_kfold *out, vb_err *e);

/* Counts in an ascending array a[0..n) by binary search, shared by the metric engine and
 * the demographic counters: how many elements are < t, and how many are <= t. */
size_t vb_sorted_count_below(const double *a, size_t n, double t);
size_t vb_sorted_count_at_most(const double *a, size_t n, double t);

#endif
